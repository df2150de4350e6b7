/* Scoped runs: what a manifest edit touches, so that the daemon observes,
 * plans and applies only that. The rest of the host is presumed to be as the
 * last applied model left it (the last run ended in sync), which is what a full
 * run would find; drift, a resync and SIGHUP run in full. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"

/* ---- equality through the kind tables ---- */

static bool str_equal(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static bool fields_equal(const struct field *f, size_t n, const char *a, const char *b, bool has_identity);

static bool elems_equal(const struct sub_table *t, const char *a, const char *b) {
        if (*(const uint64_t *) (a + t->set_offset) != *(const uint64_t *) (b + t->set_offset))
                return false;
        return fields_equal(t->fields, t->n_fields, a, b, false);
}

/* One field of two resources (or list elements) at base a and b. */
static bool field_equal(const struct field *f, const char *a, const char *b, bool has_identity) {
        const char *pa = a + f->offset, *pb = b + f->offset;
        switch (f->type) {
        case FT_U32:
        case FT_USER:
                return *(const uint32_t *) pa == *(const uint32_t *) pb;
        case FT_BOOL:
                return *(const bool *) pa == *(const bool *) pb;
        case FT_SIZE:
                return *(const uint64_t *) pa == *(const uint64_t *) pb;
        case FT_ENUM:
                return *(const int *) pa == *(const int *) pb;
        case FT_ENUM_WORD:
        case FT_WORD:
                return strncmp(pa, pb, (size_t) f->max) == 0;
        case FT_IFNAME:
                return strncmp(pa, pb, IFNAME_MAX) == 0;
        case FT_NETNS:
                return strncmp(pa, pb, sizeof(((struct link_spec *) NULL)->peer_netns)) == 0;
        case FT_ENUM_STR:
        case FT_STR:
                return str_equal(*(char *const *) pa, *(char *const *) pb);
        case FT_MAC:
                return memcmp(pa, pb, 6) == 0;
        case FT_IPADDR:
                return ipaddr_equal((const struct ipaddr *) pa, (const struct ipaddr *) pb);
        case FT_ADDR_LIST: {
                const struct addr_list *x = (const void *) pa, *y = (const void *) pb;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (!ipaddr_equal(&x->v[i], &y->v[i]))
                                return false;
                return true;
        }
        case FT_STR_LIST: {
                const struct str_list *x = (const void *) pa, *y = (const void *) pb;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (strcmp(x->v[i], y->v[i]) != 0)
                                return false;
                return true;
        }
        case FT_OBJ: {
                const struct sub_table *t = f->extra;
                return fields_equal(t->fields, t->n_fields, pa, pb, false);
        }
        case FT_MAP: {
                const struct str_map *x = (const void *) pa, *y = (const void *) pb;
                if (x->n != y->n)
                        return false;
                for (size_t i = 0; i < x->n; i++)
                        if (strcmp(x->v[i].key, y->v[i].key) != 0 || strcmp(x->v[i].value, y->v[i].value) != 0)
                                return false;
                return true;
        }
        case FT_OBJ_LIST: {
                const struct sub_table *t = f->extra;
                const char *va = *(char *const *) pa, *vb = *(char *const *) pb;
                size_t na = *(const size_t *) (pa + t->count_offset), nb = *(const size_t *) (pb + t->count_offset);
                if (na != nb)
                        return false;
                for (size_t i = 0; i < na; i++)
                        if (!elems_equal(t, va + i * t->elem_size, vb + i * t->elem_size))
                                return false;
                return true;
        }
        case FT_CHILDREN:
                return true; /* the children are resources of their own, compared as such */
        case FT_CUSTOM:
                /* What a kind's own parser wrote is known to the kind alone: a kind
                 * known by a key holds it there (compared through identity); any
                 * other counts as changed, which only widens the scope. */
                return has_identity;
        }
        return false;
}

static bool fields_equal(const struct field *f, size_t n, const char *a, const char *b, bool has_identity) {
        for (size_t i = 0; i < n; i++)
                if (!field_equal(&f[i], a, b, has_identity))
                        return false;
        return true;
}

bool resource_equal(const struct resource *a, const struct resource *b) {
        if (a == b)
                return true; /* a file the daemon did not read again: its parse is shared */
        if (a->kind != b->kind || a->state != b->state || a->set != b->set || strcmp(a->name, b->name) != 0)
                return false;
        const struct kind_ops *k = kind_ops(a->kind);
        if (k->identity) {
                char ia[256], ib[256];
                if (strcmp(k->identity(a, ia, sizeof(ia)), k->identity(b, ib, sizeof(ib))) != 0)
                        return false;
        }
        /* A custom key given in neither is equal: both hold the kind's default. */
        for (size_t i = 0; i < k->n_fields; i++) {
                const struct field *f = &k->fields[i];
                if (f->type == FT_CUSTOM && !k->identity && !(a->set & f->bit))
                        continue;
                if (!field_equal(f, (const char *) a, (const char *) b, k->identity != NULL))
                        return false;
        }
        return true;
}

/* ---- the scope ---- */

/* The key a resource has in the live model and the ledger. */
static const char *live_key(const struct resource *r, char *buf, size_t size) {
        const struct kind_ops *k = kind_ops(r->kind);
        return k->identity ? k->identity(r, buf, size) : r->name;
}

/* Put (k, name) in scope; obj (or a stub of that name when NULL) is what the
 * backend reads for it. false when it was in scope already. */
static bool edit_scope_add_key(struct edit_scope *s, enum kind k, const char *name, const struct resource *obj, bool observe) {
        if (model_find(&s->keys, k, name))
                return false;
        struct resource *stub = resource_new(k, name);
        model_add(&s->keys, stub);
        if (observe)
                *(const struct resource **) array_push(&s->objs, &s->n_objs, sizeof(*s->objs)) = obj ? obj : stub;
        return true;
}

/* A declared (or formerly declared) resource in scope: its name, its live key. */
static bool edit_scope_mark(struct edit_scope *s, const struct resource *r) {
        char buf[256];
        const char *key = live_key(r, buf, sizeof(buf));
        bool added = edit_scope_add_key(s, r->kind, r->name, r, true);
        if (strcmp(key, r->name) != 0)
                added = edit_scope_add_key(s, r->kind, key, r, !added) || added;
        return added;
}

struct dep_hit {
        const struct edit_scope *s;
        bool hit;
};

static void dep_hit(void *u, enum kind k, const char *name) {
        struct dep_hit *d = u;
        d->hit = d->hit || model_find(&d->s->keys, k, name) != NULL;
}

/* Add what depends on anything in scope, in m, until nothing more does. */
static bool edit_scope_add_dependents(struct edit_scope *s, const struct model *m) {
        bool grew = false;
        for (size_t i = 0; i < m->n; i++) {
                const struct resource *r = m->v[i];
                const struct kind_ops *k = kind_ops(r->kind);
                if (!k->deps || model_find(&s->keys, r->kind, r->name))
                        continue;
                struct dep_hit d = { s, false };
                k->deps(r, dep_hit, &d);
                if (d.hit)
                        grew = edit_scope_mark(s, r) || grew;
        }
        return grew;
}

struct dep_add {
        struct edit_scope *s;
        const struct model *after, *before;
};

static void dep_add(void *u, enum kind k, const char *name) {
        struct dep_add *d = u;
        const struct resource *r = model_find(d->after, k, name);
        if (!r)
                r = model_find(d->before, k, name);
        if (r)
                edit_scope_mark(d->s, r);
        else
                edit_scope_add_key(d->s, k, name, NULL, true); /* present, not declared: a stub names it */
}

void edit_scope_done(struct edit_scope *s) {
        model_done(&s->keys);
        s->want.n = 0; /* borrowed from the manifests */
        model_done(&s->want);
        free(s->objs);
        free(s->presumed);
        memset(s, 0, sizeof(*s));
}

int edit_scope_compute(const struct model *before, const struct model *after, struct edit_scope *s) {
        memset(s, 0, sizeof(*s));
        s->all = after;
        for (size_t i = 0; i < after->n; i++) {
                const struct resource *r = after->v[i], *b = model_find(before, r->kind, r->name);
                if (!b || !resource_equal(b, r)) {
                        edit_scope_mark(s, r);
                        if (b)
                                edit_scope_mark(s, b); /* a changed key: the old one goes */
                        s->n_changed++;
                }
        }
        for (size_t i = 0; i < before->n; i++) {
                const struct resource *b = before->v[i], *r = model_find(after, b->kind, b->name);
                if (!r || r->kind != b->kind) {
                        edit_scope_mark(s, b);
                        s->n_changed += !r; /* a kind change was counted above */
                        s->n_removed++;
                }
        }
        /* What depends on a change may be planned otherwise (a bridge whose port
         * went); what the changed need must be seen for their plan to be made. */
        for (bool grew = true; grew;) {
                grew = edit_scope_add_dependents(s, after);
                grew = edit_scope_add_dependents(s, before) || grew;
        }
        struct dep_add d = { s, after, before };
        for (size_t i = 0; i < s->keys.n; i++) {
                const char *name = s->keys.v[i]->name;
                enum kind k = s->keys.v[i]->kind;
                const struct resource *rs[] = { model_find(after, k, name), model_find(before, k, name) };
                for (size_t j = 0; j < ELEMENTSOF(rs); j++)
                        if (rs[j] && kind_ops(rs[j]->kind)->deps && rs[j]->state != STATE_ABSENT)
                                kind_ops(rs[j]->kind)->deps(rs[j], dep_add, &d);
        }
        for (size_t i = 0; i < s->keys.n; i++) {
                struct resource *r = model_find(after, s->keys.v[i]->kind, s->keys.v[i]->name);
                if (r && !model_find(&s->want, r->kind, r->name))
                        model_add(&s->want, r);
        }
        s->presumed = xcalloc(s->n_objs + 1, sizeof(*s->presumed));
        for (size_t i = 0; i < s->n_objs; i++) {
                const struct resource *b = model_find(before, s->objs[i]->kind, s->objs[i]->name);
                s->presumed[i] = b && b->kind == s->objs[i]->kind && b->state != STATE_ABSENT ? b : NULL;
        }
        return 0;
}

bool edit_scope_has(const struct edit_scope *s, enum kind k, const char *name) {
        return model_find(&s->keys, k, name) != NULL;
}

/* Backends that cannot read objects one by one affect each other (a link's
 * delete names the routes on it): one object of any of them reads them all. */
bool edit_scope_observes(const struct edit_scope *s, const struct backend *b) {
        for (size_t i = 0; i < s->n_objs; i++) {
                const struct backend *ob = backend_for_kind(s->objs[i]->kind);
                if (ob == b || (!b->observe_some && ob && !ob->observe_some))
                        return true;
        }
        return false;
}

int edit_scope_observe(const struct edit_scope *s, const struct backend *b, void *state, struct model *live) {
        const struct resource **objs = NULL;
        size_t n = 0;
        int r = 0;
        for (size_t i = 0; i < s->n_objs && r >= 0; i++) {
                if (!backend_serves(b, s->objs[i]->kind))
                        continue;
                if (b->observe_presumed && s->presumed[i])
                        r = b->observe_presumed(state, s->presumed[i], live);
                else
                        *(const struct resource **) array_push(&objs, &n, sizeof(*objs)) = s->objs[i];
        }
        if (r >= 0 && n)
                r = b->observe_some(state, objs, n, live);
        free(objs);
        return r;
}

int edit_scope_verify(const struct edit_scope *s, const struct backend *b, void *state,
                      const struct resource *const *objs, size_t n, struct model *live) {
        const struct resource **rest = NULL;
        size_t n_rest = 0;
        int r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                bool desired = model_find(&s->want, objs[i]->kind, objs[i]->name) == objs[i];
                if (b->observe_presumed && desired && objs[i]->state != STATE_ABSENT)
                        r = b->observe_presumed(state, objs[i], live);
                else
                        *(const struct resource **) array_push(&rest, &n_rest, sizeof(*rest)) = objs[i];
        }
        if (r >= 0 && n_rest)
                r = b->observe_some(state, rest, n_rest, live);
        free(rest);
        return r;
}

/* ---- the mass-delete guard over the whole scope ---- */

struct guard_count {
        char scope[512];
        size_t managed, prunes;
};

static struct guard_count *guard_slot(struct guard_count **v, size_t *n, const char *scope) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*v)[i].scope, scope) == 0)
                        return &(*v)[i];
        struct guard_count *g = array_push(v, n, sizeof(**v));
        snprintf(g->scope, sizeof(g->scope), "%s", scope);
        return g;
}

static bool prunable(const struct run *r, const struct ledger_entry *e, enum kind k) {
        return (!r->opts->only_kinds || (r->opts->only_kinds & (1u << k))) && !ledger_get(e, "keep") &&
               !(kind_ops(k)->flags & KF_NEVER_PRUNED);
}

/* The plan counted only what the scope observed; a full run counts every owned
 * object. Outside the scope the last run left each owned object present (it
 * forgets what vanished), so the ledger counts it; the prunes are all in scope. */
void edit_scope_mass_delete(const struct edit_scope *s, struct run *r) {
        struct plan *p = &r->plan;
        struct guard_count *v = NULL;
        size_t n = 0;
        char sc[512];
        const struct backend *whole = NULL;
        for (size_t i = 0; i < n_backends && !whole; i++)
                if (!backends[i]->observe_some && edit_scope_observes(s, backends[i]))
                        whole = backends[i];
        for (size_t i = 0; i < r->ledger->n; i++) {
                const struct ledger_entry *e = &r->ledger->v[i];
                const struct backend *b = backend_for_kind(e->kind);
                if (e->gone || !b || strcmp(e->scope, scope_of(r->opts, e->kind, sc, sizeof(sc))) != 0 ||
                    !prunable(r, e, e->kind))
                        continue;
                bool observed = edit_scope_has(s, e->kind, e->name) || (!b->observe_some && whole);
                const struct resource *l = observed ? model_find(&r->live, e->kind, e->name) : NULL;
                if (observed && (!l || l->kind != e->kind))
                        continue; /* counted as the plan counts: present and of its kind */
                guard_slot(&v, &n, e->scope)->managed++;
        }
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                if (a->op != OP_DELETE || a->want || !a->owned || a->pos.file)
                        continue; /* a prune has no declaration; state: absent has one */
                guard_slot(&v, &n, scope_of(r->opts, a->kind, sc, sizeof(sc)))->prunes++;
        }
        p->n_managed_in_scope = 0;
        p->n_deletes = 0;
        for (size_t i = 0; i < n; i++)
                if (v[i].prunes * 2 > v[i].managed && v[i].prunes > p->n_deletes) {
                        p->n_deletes = v[i].prunes;
                        p->n_managed_in_scope = v[i].managed;
                }
        p->mass_delete_refused = p->n_deletes && !r->opts->allow_mass_delete;
        free(v);
}
