/* GnuTLS loaded on first use (backends/gnutls-dl.h). */
#define GNUTLS_DL_NO_MACROS
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gnutls-dl.h"

#define GNUTLS_DL_DEFINE(sym) __typeof__(sym) *dl_##sym;
GNUTLS_DL_SYMBOLS(GNUTLS_DL_DEFINE)

struct gnutls_dl_symbol {
        const char *name;
        void *slot;
};
#define GNUTLS_DL_ENTRY(sym) { #sym, &dl_##sym },
static const struct gnutls_dl_symbol gnutls_symbols[] = { GNUTLS_DL_SYMBOLS(GNUTLS_DL_ENTRY) };

static int loaded; /* 0 not tried, 1 loaded, <0 failed */
static char failed_why[512];

static int gnutls_dl_try(void) {
        /* The checker runs in the daemon's one thread: no lock needed. */
        void *h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(failed_why, sizeof(failed_why), "GnuTLS is not installed (%s)", dlerror());
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < sizeof(gnutls_symbols) / sizeof(gnutls_symbols[0]); i++) {
                dlerror();
                void *p = dlsym(h, gnutls_symbols[i].name);
                if (!p) {
                        const char *e = dlerror();
                        snprintf(failed_why, sizeof(failed_why), "GnuTLS is too old: %s", e ? e : gnutls_symbols[i].name);
                        dlclose(h);
                        return -EOPNOTSUPP;
                }
                /* POSIX: a function's address from dlsym converts to its pointer type. */
                memcpy(gnutls_symbols[i].slot, &p, sizeof(p));
        }
        return 1;
}

int gnutls_dl_load(const char **why) {
        if (loaded == 0)
                loaded = gnutls_dl_try();
        *why = failed_why;
        return loaded < 0 ? loaded : 0;
}
