/* sd_notify and sd_notifyf through a libsystemd loaded with dlopen at the
 * daemon's first notification under systemd: a CLI run never maps it (libsystemd
 * brings libgcrypt, liblzma, libzstd and liblz4: 1 MB of RSS and an eighth of
 * a small no-op run). The daemon calls these two only; another sd_ call needs
 * its line here, or the link fails. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static int (*libsystemd_notify)(int unset_environment, const char *state);
static pthread_once_t libsystemd_once = PTHREAD_ONCE_INIT;

static void libsystemd_load(void) {
        void *h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        void *p = h ? dlsym(h, "sd_notify") : NULL;
        memcpy(&libsystemd_notify, &p, sizeof(p)); /* POSIX: converts to its function pointer type */
}

int sd_notify(int unset_environment, const char *state) {
        if (!getenv("NOTIFY_SOCKET"))
                return 0; /* not started by systemd: what sd_notify says then */
        pthread_once(&libsystemd_once, libsystemd_load);
        return libsystemd_notify ? libsystemd_notify(unset_environment, state) : -EOPNOTSUPP;
}

int sd_notifyf(int unset_environment, const char *format, ...) {
        char *state = NULL;
        va_list ap;
        if (!getenv("NOTIFY_SOCKET"))
                return 0;
        va_start(ap, format);
        int r = vasprintf(&state, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = sd_notify(unset_environment, state);
        free(state);
        return r;
}
