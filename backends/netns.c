/* Sockets opened inside a namespace stay bound to it, so backends enter the
 * namespace only to open them and leave at once: nothing else in the process
 * sees the switch. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "backends.h"

static char *netns_path(const char *netns) {
        return strchr(netns, '/') ? xstrdup(netns) : xasprintf("/run/netns/%s", netns);
}

int netns_check(const char *netns) {
        if (!netns)
                return 0;
        _cleanup_free_ char *path = netns_path(netns);
        if (access(path, F_OK) < 0)
                return diag_plain(-errno, "--netns %s: %s: %s", netns, path, strerror(errno));
        return 0;
}

int netns_enter(const char *netns, int *saved) {
        *saved = -1;
        if (!netns)
                return 0;
        _cleanup_free_ char *path = netns_path(netns);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return diag_plain(-errno, "--netns %s: %s: %s", netns, path, strerror(errno));
        int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0) {
                int r = -errno;
                close(fd);
                return diag_plain(r, "/proc/self/ns/net: %s", strerror(-r));
        }
        if (setns(fd, CLONE_NEWNET) < 0) {
                int r = -errno;
                close(fd);
                close(self);
                return diag_plain(r, "--netns %s: cannot enter it: %s", netns, strerror(-r));
        }
        close(fd);
        *saved = self;
        return 0;
}

int netns_leave(int *saved) {
        if (*saved < 0)
                return 0;
        int r = setns(*saved, CLONE_NEWNET) < 0 ? -errno : 0;
        close(*saved);
        *saved = -1;
        if (r < 0)
                return diag_plain(r, "cannot return to the original network namespace: %s", strerror(-r));
        return 0;
}
