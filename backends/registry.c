/* The registry: every kind's table, indexed by kind. Adding a kind is a line
 * in backends/kinds.h and its own file; nothing else names it. */
#include <stdbool.h>
#include <string.h>

#include "kind.h"

#define KIND_DECLARE(NAME, name) extern const struct kind_ops name##_kind;
RECONCILE_KINDS(KIND_DECLARE)

#define KIND_ENTRY(NAME, name) [KIND_##NAME] = &name##_kind,
const struct kind_ops *const kind_registry[_KIND_MAX] = { RECONCILE_KINDS(KIND_ENTRY) };

const char *kind_to_string(enum kind k) {
        return k >= 0 && k < _KIND_MAX ? kind_registry[k]->word : NULL;
}

const char *kind_to_section(enum kind k) {
        return k >= 0 && k < _KIND_MAX ? kind_registry[k]->section : NULL;
}

enum kind kind_from_string(const char *s) {
        for (int k = 0; s && k < _KIND_MAX; k++)
                if (strcmp(kind_registry[k]->word, s) == 0)
                        return (enum kind) k;
        return _KIND_INVALID;
}

enum kind kind_from_section(const char *s) {
        for (int k = 0; s && k < _KIND_MAX; k++)
                if (strcmp(kind_registry[k]->section, s) == 0)
                        return (enum kind) k;
        return _KIND_INVALID;
}

enum kind kind_of_ops(const struct kind_ops *ops) {
        for (int k = 0; k < _KIND_MAX; k++)
                if (kind_registry[k] == ops)
                        return (enum kind) k;
        return _KIND_INVALID;
}

/* The first kind of k's name space: computed once, asked on every model lookup. */
enum kind kind_class(enum kind k) {
        static enum kind class_of[_KIND_MAX];
        static bool ready;
        if (!ready) {
                for (int i = 0; i < _KIND_MAX; i++) {
                        const char *ns = kind_registry[i]->name_space;
                        class_of[i] = (enum kind) i;
                        for (int j = 0; ns && j < i && class_of[i] == i; j++)
                                if (kind_registry[j]->name_space && strcmp(kind_registry[j]->name_space, ns) == 0)
                                        class_of[i] = (enum kind) j;
                }
                ready = true;
        }
        return class_of[k];
}

/* The library connections, in the order a run opens them. */
const struct backend *const backends[] = {
        &link_backend, &libvirt_backend, &ipvs_backend, &ipset_backend, &route_backend, &sysctl_backend,
        &module_backend, &hugepage_backend, &ovs_backend,
};
const size_t n_backends = ELEMENTSOF(backends);

const struct backend *backend_for_kind(enum kind k) {
        return k >= 0 && k < _KIND_MAX ? kind_registry[k]->backend : NULL;
}

bool backend_serves(const struct backend *b, enum kind k) {
        return kind_registry[k]->backend == b;
}
