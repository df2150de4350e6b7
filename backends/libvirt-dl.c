/* libvirt and libxml2 loaded on first use (backends/libvirt-dl.h): one dlopen
 * each, then dlsym of every function the backend calls. */
#define LIBVIRT_DL_NO_MACROS
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "libvirt-dl.h"
#include "backends.h"

#define DL_DEFINE(sym) __typeof__(sym) *dl_##sym;
LIBVIRT_DL_SYMBOLS(DL_DEFINE)
LIBXML_DL_SYMBOLS(DL_DEFINE)

struct dl_symbol {
        const char *name;
        void *slot; /* the dl_ pointer it fills */
};

#define DL_ENTRY(sym) { #sym, &dl_##sym },
static const struct dl_symbol libvirt_symbols[] = { LIBVIRT_DL_SYMBOLS(DL_ENTRY) };
static const struct dl_symbol libxml_symbols[] = { LIBXML_DL_SYMBOLS(DL_ENTRY) };

struct dl_library {
        const char *what, *soname;
        const struct dl_symbol *symbols;
        size_t n_symbols;
        int state;      /* 0 not tried, 1 loaded, negative errno: failed, for why */
        char why[512];
};

static struct dl_library libxml = { "libxml2", "libxml2.so.2", libxml_symbols, ELEMENTSOF(libxml_symbols), 0, "" };
static struct dl_library libvirt = { "libvirt", "libvirt.so.0", libvirt_symbols, ELEMENTSOF(libvirt_symbols), 0, "" };
static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

/* The handle is kept for the process's life: libvirt's event loop thread and
 * its atexit handlers may still run after the last connection is closed. */
static int dl_try(struct dl_library *lib) {
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(lib->why, sizeof(lib->why), "%s is not installed (%s)", lib->what, dlerror());
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < lib->n_symbols; i++) {
                dlerror();
                void *p = dlsym(h, lib->symbols[i].name);
                if (!p) {
                        const char *e = dlerror();
                        snprintf(lib->why, sizeof(lib->why), "%s is too old: %s", lib->what,
                                 e ? e : lib->symbols[i].name);
                        dlclose(h);
                        return -EOPNOTSUPP;
                }
                /* POSIX: a function's address from dlsym converts to its pointer type. */
                memcpy(lib->symbols[i].slot, &p, sizeof(p));
        }
        return 1;
}

static int dl_load(struct dl_library *lib) {
        pthread_mutex_lock(&dl_lock);
        if (lib->state == 0)
                lib->state = dl_try(lib);
        int state = lib->state;
        pthread_mutex_unlock(&dl_lock);
        if (state < 0)
                return diag_plain(state, "libvirt backend: %s", lib->why);
        return 0;
}

int libxml_dl_load(void) {
        return dl_load(&libxml);
}

int libvirt_dl_load(void) {
        int r = dl_load(&libxml);
        return r < 0 ? r : dl_load(&libvirt);
}

bool libvirt_dl_loaded(void) {
        pthread_mutex_lock(&dl_lock);
        bool loaded = libvirt.state == 1 && libxml.state == 1;
        pthread_mutex_unlock(&dl_lock);
        return loaded;
}
