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

static size_t key_hash(enum kind k, const char *name) {
        size_t h = 1469598103934665603ull ^ (unsigned) kind_class(k);
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        return h;
}

static void model_rehash(struct model *m, size_t n_slots) {
        free(m->slots);
        m->slots = xcalloc(n_slots, sizeof(size_t));
        m->n_slots = n_slots;
        for (size_t i = 0; i < m->n; i++) {
                size_t s = key_hash(m->v[i]->kind, m->v[i]->name) & (n_slots - 1);
                while (m->slots[s])
                        s = (s + 1) & (n_slots - 1);
                m->slots[s] = i + 1;
        }
}

struct resource *model_find(const struct model *m, enum kind k, const char *name) {
        if (!m->n_slots)
                return NULL;
        size_t s = key_hash(k, name) & (m->n_slots - 1);
        while (m->slots[s]) {
                struct resource *r = m->v[m->slots[s] - 1];
                if (kind_class(r->kind) == kind_class(k) && strcmp(r->name, name) == 0)
                        return r;
                s = (s + 1) & (m->n_slots - 1);
        }
        return NULL;
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
        if (m->n * 2 > m->n_slots)
                model_rehash(m, m->n_slots ? m->n_slots * 4 : 64);
        else {
                size_t s = key_hash(r->kind, r->name) & (m->n_slots - 1);
                while (m->slots[s])
                        s = (s + 1) & (m->n_slots - 1);
                m->slots[s] = m->n;
        }
        return 0;
}

void model_done(struct model *m) {
        for (size_t i = 0; i < m->n; i++)
                resource_free(m->v[i]);
        free(m->v);
        free(m->slots);
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
        if (m->n_slots)
                model_rehash(m, m->n_slots);
}

void model_remove_if(struct model *m, bool (*drop)(const struct resource *r, void *u), void *u) {
        model_take_if(m, drop, u, NULL, NULL);
}
