/* The state directory's checks and the one-run-at-a-time lock. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "reconcile.h"

int stat_check_private(const char *path, const struct stat *st, bool state_dir) {
        const char *what = state_dir ? "the state directory is " : "";
        if (st->st_uid != geteuid())
                return diag_plain(-EPERM, "%s: %sowned by uid %u, not by the runner (uid %u): refusing it", path, what,
                                  (unsigned) st->st_uid, (unsigned) geteuid());
        if (state_dir && (st->st_mode & 07777) != 0700)
                return diag_plain(-EPERM, "%s: the state directory has mode %04o; it must be 0700 (it decides what may "
                                          "be deleted)",
                                  path, (unsigned) (st->st_mode & 07777));
        if (st->st_mode & (S_IWGRP | S_IWOTH))
                return diag_plain(-EPERM, "%s: writable by group or others (mode %04o): refusing it", path,
                                  (unsigned) (st->st_mode & 07777));
        return 0;
}

int path_check_private(const char *path, bool is_dir) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return diag_plain(-errno, "%s: %s", path, strerror(errno));
        if (is_dir && !S_ISDIR(st.st_mode))
                return diag_plain(-ENOTDIR, "%s: not a directory", path);
        return stat_check_private(path, &st, false);
}

int state_dir_check(const char *dir) {
        struct stat st;
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return diag_plain(-errno, "%s: cannot create the state directory: %s", dir, strerror(errno));
        if (lstat(dir, &st) < 0)
                return diag_plain(-errno, "%s: %s", dir, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return diag_plain(-ENOTDIR, "%s: the state directory is not a directory", dir);
        return stat_check_private(dir, &st, true);
}

int lock_take(const char *dir, int timeout_s, int *fd) {
        _cleanup_free_ char *path = xasprintf("%s/lock", dir);
        int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lfd < 0)
                return diag_plain(-errno, "%s: %s", path, strerror(errno));
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                if (flock(lfd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno != EWOULDBLOCK) {
                        int r = -errno;
                        close(lfd);
                        return diag_plain(r, "%s: %s", path, strerror(-r));
                }
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                double waited = (double) (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
                if (waited >= timeout_s) {
                        close(lfd);
                        return diag_plain(-EBUSY, "%s: another reconcile run holds the lock%s", path,
                                          timeout_s ? " (waited --lock-timeout seconds)" : "; use --lock-timeout to wait");
                }
                struct timespec tick = { 0, 50 * 1000 * 1000 };
                nanosleep(&tick, NULL);
        }
        /* The holder's pid helps whoever waits for it; the lock itself is the flock. */
        char pid[32];
        int n = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
        if (ftruncate(lfd, 0) == 0 && pwrite(lfd, pid, (size_t) n, 0) < 0)
                diag_info("warning: %s: cannot record the pid", path);
        *fd = lfd;
        return 0;
}

void lock_release(int *fd) {
        if (*fd >= 0) {
                flock(*fd, LOCK_UN);
                close(*fd);
        }
        *fd = -1;
}
