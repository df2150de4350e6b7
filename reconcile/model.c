/* Resources and the model: a set of resources indexed by (kind class, name). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"

struct resource *resource_new(enum kind k, const char *name) {
        struct resource *r = xcalloc(1, sizeof(*r));
        r->kind = k;
        r->name = xstrdup(name);
        r->state = STATE_PRESENT;
        return r;
}

const struct srcpos *resource_ref_pos(const struct resource *r, const char *name) {
        for (size_t i = 0; i < r->n_refs; i++)
                if (strcmp(r->refs[i].name, name) == 0)
                        return &r->refs[i].pos;
        return &r->pos;
}

const struct srcpos *resource_key_pos(const struct resource *r, uint64_t bit) {
        for (size_t i = 0; i < r->n_keys; i++)
                if (r->keys[i].bit == bit)
                        return &r->keys[i].pos;
        return &r->pos;
}

void resource_free(struct resource *r) {
        if (!r)
                return;
        free(r->keys);
        for (size_t i = 0; i < r->n_refs; i++)
                free(r->refs[i].name);
        free(r->refs);
        if (kind_ops(r->kind)->free)
                kind_ops(r->kind)->free(r);
        free(r->name);
        free(r);
}

static uint64_t key_hash(enum kind k, const char *name) {
        return hash_fnv1a_str(HASH_FNV1A_SEED ^ (unsigned) kind_class(k), name);
}

static uint64_t model_hash(size_t pos, const void *u) {
        const struct model *m = u;
        return key_hash(m->v[pos]->kind, m->v[pos]->name);
}

struct model_key {
        const struct model *m;
        enum kind k;
        const char *name;
};

static bool model_eq(size_t pos, const void *u) {
        const struct model_key *q = u;
        const struct resource *r = q->m->v[pos];
        return kind_class(r->kind) == kind_class(q->k) && strcmp(r->name, q->name) == 0;
}

struct resource *model_find(const struct model *m, enum kind k, const char *name) {
        struct model_key q = { m, k, name };
        size_t pos = hindex_find(&m->index, key_hash(k, name), model_eq, &q);
        return pos == HINDEX_NONE ? NULL : m->v[pos];
}

int model_add(struct model *m, struct resource *r) {
        if (model_find(m, r->kind, r->name))
                return -EEXIST;
        if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 16;
                m->v = realloc(m->v, m->cap * sizeof(*m->v));
                if (!m->v)
                        abort();
        }
        m->v[m->n++] = r;
        hindex_add(&m->index, m->n, model_hash, m);
        return 0;
}

void model_done(struct model *m) {
        for (size_t i = 0; i < m->n; i++)
                resource_free(m->v[i]);
        free(m->v);
        hindex_done(&m->index);
        memset(m, 0, sizeof(*m));
}

void model_take_if(struct model *m, bool (*drop)(const struct resource *r, void *u), void *u,
                   struct resource ***taken, size_t *n_taken) {
        size_t kept = 0;
        for (size_t i = 0; i < m->n; i++) {
                if (drop(m->v[i], u)) {
                        if (taken)
                                *(struct resource **) array_push(taken, n_taken, sizeof(**taken)) = m->v[i];
                        else
                                resource_free(m->v[i]);
                } else
                        m->v[kept++] = m->v[i];
        }
        m->n = kept;
        if (m->index.n_slots)
                hindex_rebuild(&m->index, m->n, model_hash, m);
}

void model_remove_if(struct model *m, bool (*drop)(const struct resource *r, void *u), void *u) {
        model_take_if(m, drop, u, NULL, NULL);
}
