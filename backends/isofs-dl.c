/* libisofs loaded on first use (backends/isofs-dl.h). */
#define ISOFS_DL_NO_MACROS
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "isofs-dl.h"

#define ISOFS_DL_DEFINE(sym) __typeof__(sym) *dl_##sym;
ISOFS_DL_SYMBOLS(ISOFS_DL_DEFINE)

struct isofs_dl_symbol {
        const char *name;
        void *slot;
};
#define ISOFS_DL_ENTRY(sym) { #sym, &dl_##sym },
static const struct isofs_dl_symbol isofs_symbols[] = { ISOFS_DL_SYMBOLS(ISOFS_DL_ENTRY) };

static int loaded; /* 0 not tried, 1 loaded, <0 failed */
static char failed_why[512];
static pthread_mutex_t isofs_lock = PTHREAD_MUTEX_INITIALIZER;

/* The handle is kept for the process's life: libisofs has no finalizer that
 * undoes everything its writer threads touched. */
static int isofs_dl_try(void) {
        void *h = dlopen("libisofs.so.6", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(failed_why, sizeof(failed_why), "libisofs is not installed (%s; apt-get install libisofs6)",
                         dlerror());
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < sizeof(isofs_symbols) / sizeof(isofs_symbols[0]); i++) {
                dlerror();
                void *p = dlsym(h, isofs_symbols[i].name);
                if (!p) {
                        const char *e = dlerror();
                        snprintf(failed_why, sizeof(failed_why), "libisofs is too old: %s", e ? e : isofs_symbols[i].name);
                        dlclose(h);
                        return -EOPNOTSUPP;
                }
                /* POSIX: a function's address from dlsym converts to its pointer type. */
                memcpy(isofs_symbols[i].slot, &p, sizeof(p));
        }
        /* bit0: leave the process's locale alone (names here are ASCII). */
        if ((*dl_iso_init_with_flag)(1) < 0) {
                snprintf(failed_why, sizeof(failed_why), "libisofs did not initialize");
                return -EIO;
        }
        return 1;
}

int isofs_dl_load(const char **why) {
        pthread_mutex_lock(&isofs_lock);
        if (loaded == 0)
                loaded = isofs_dl_try();
        int state = loaded;
        pthread_mutex_unlock(&isofs_lock);
        *why = failed_why;
        return state < 0 ? state : 0;
}

int isofs_dl_loaded(void) {
        pthread_mutex_lock(&isofs_lock);
        int state = loaded;
        pthread_mutex_unlock(&isofs_lock);
        return state == 1;
}
