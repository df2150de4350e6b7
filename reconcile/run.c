/* One run: observe every backend, plan the difference in dependency order,
 * apply it action by action, verify by observing again. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "reconcile.h"

static size_t backend_index(const struct backend *b) {
        for (size_t i = 0; i < n_backends; i++)
                if (backends[i] == b)
                        return i;
        return 0;
}

const char *scope_of(const struct run_opts *o, enum kind k, char *buf, size_t size) {
        const struct backend *b = backend_for_kind(k);
        if (b && b->scope == SCOPE_LIBVIRT)
                snprintf(buf, size, "libvirt:%s", o->ctx.libvirt_uri ? o->ctx.libvirt_uri : "qemu:///system");
        else
                snprintf(buf, size, "netns:%s", o->ctx.netns ? o->ctx.netns : "host");
        return buf;
}

static bool kind_selected(const struct run_opts *o, enum kind k) {
        return !o->only_kinds || (o->only_kinds & (1u << k));
}

static struct value value_copy(struct value v) {
        if (v.type == VAL_TEXT)
                v.text = xstrdup(v.text);
        return v;
}

struct value value_mac(const unsigned char mac[6]) {
        struct value v = { .type = VAL_MAC };
        memcpy(v.mac, mac, sizeof(v.mac));
        return v;
}

struct change *action_add_change(struct action *a, uint64_t field, const char *name, struct value was, struct value now) {
        struct change *c = array_push(&a->changes, &a->n_changes, sizeof(*c));
        c->field = field;
        c->name = xstrdup(name);
        c->was = value_copy(was);
        c->now = value_copy(now);
        return c;
}

void action_add_set(struct action *a, uint64_t field, const char *name, struct value v) {
        struct change *c = array_push(&a->sets, &a->n_sets, sizeof(*c));
        c->field = field;
        c->name = xstrdup(name);
        c->now = value_copy(v);
}

void action_add_risk(struct action *a, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        char *joined = a->risk ? xasprintf("%s; %s", a->risk, msg) : xstrdup(msg);
        free(a->risk);
        a->risk = joined;
}

static void changes_free(struct change *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                if (v[i].was.type == VAL_TEXT)
                        free(v[i].was.text);
                if (v[i].now.type == VAL_TEXT)
                        free(v[i].now.text);
        }
        free(v);
}

static void action_done(struct action *a) {
        changes_free(a->changes, a->n_changes);
        changes_free(a->sets, a->n_sets);
        free(a->name);
        free(a->key);
        free(a->reason);
        free(a->risk);
}

void plan_done(struct plan *p) {
        for (size_t i = 0; i < p->n_actions; i++)
                action_done(&p->actions[i]);
        free(p->actions);
        for (size_t i = 0; i < p->n_pending; i++) {
                free(p->pending[i].name);
                free(p->pending[i].reason);
                free(p->pending[i].until);
        }
        free(p->pending);
        memset(p, 0, sizeof(*p));
}

void plan_add_pending(struct plan *p, enum kind k, const char *name, const char *reason, const char *until) {
        struct pending *q = array_push(&p->pending, &p->n_pending, sizeof(*q));
        q->kind = k;
        q->name = xstrdup(name);
        q->reason = xstrdup(reason);
        q->until = until ? xstrdup(until) : NULL;
}

void plan_count(const struct plan *p, unsigned counts[_OP_MAX]) {
        memset(counts, 0, sizeof(unsigned) * _OP_MAX);
        for (size_t i = 0; i < p->n_actions; i++)
                counts[p->actions[i].op]++;
}

struct dep_probe {
        const struct backend *b;
        bool hit;
};

static void dep_probe(void *u, enum kind k, const char *name) {
        struct dep_probe *d = u;
        (void) name;
        d->hit = d->hit || backend_serves(d->b, k);
}

/* Which backends this run needs: those of selected kinds that the manifests
 * or the ledger mention, so that an idle libvirt does not fail a link run,
 * and those whose objects a wanted resource depends on (a route's device).
 * With --only (and in show), every selected kind's backend is read; named
 * says whether anything declared or owned asks for it. */
static bool backend_needed(const struct run *r, const struct backend *b, bool *named) {
        *named = true;
        char scope[512];
        struct dep_probe probe = { b, false };
        for (size_t i = 0; r->want && i < r->want->n && !probe.hit; i++) {
                const struct kind_ops *wk = kind_ops(r->want->v[i]->kind);
                if (wk->backend != b && wk->deps && kind_selected(r->opts, r->want->v[i]->kind))
                        wk->deps(r->want->v[i], dep_probe, &probe);
        }
        if (probe.hit)
                return true;
        for (int k = 0; k < _KIND_MAX; k++) {
                if (!backend_serves(b, k) || !kind_selected(r->opts, k))
                        continue;
                for (size_t i = 0; r->want && i < r->want->n; i++)
                        if (r->want->v[i]->kind == (enum kind) k)
                                return true;
                scope_of(r->opts, k, scope, sizeof(scope));
                for (size_t i = 0; r->ledger && i < r->ledger->n; i++)
                        if (!r->ledger->v[i].gone && r->ledger->v[i].kind == (enum kind) k &&
                            strcmp(r->ledger->v[i].scope, scope) == 0)
                                return true;
        }
        *named = false;
        for (int k = 0; k < _KIND_MAX; k++)
                if (backend_serves(b, k) && r->opts->only_kinds && kind_selected(r->opts, k))
                        return true;
        return false;
}

/* Open backend i: 0 open, negative errno when it failed (and said why).
 * One that nothing declared or owned needs (show, --only) and that cannot
 * be reached (no IPVS in this kernel) is a note and 1: left out, no error. */
static int open_backend(struct run *r, size_t i, bool named) {
        const struct backend *b = backends[i];
        if (named)
                return b->open(&r->opts->ctx, &r->bstate[i]);
        char *why = NULL;
        size_t len = 0;
        FILE *saved = diag_stream(), *capture = open_memstream(&why, &len);
        unsigned errors = diag_error_count();
        struct str_list *kept = diag_capture(NULL);
        if (capture)
                diag_set_stream(capture);
        int x = b->open(&r->opts->ctx, &r->bstate[i]);
        diag_set_stream(saved == stderr ? NULL : saved);
        diag_capture(kept);
        if (capture)
                fclose(capture);
        diag_restore_count(errors);
        if (x < 0) {
                const char *text = why ? why : "";
                if (strncmp(text, "error: ", 7) == 0)
                        text += 7;
                diag_info("note: %.*s; nothing declares or owns its kinds, so they are left out",
                          (int) strcspn(text, "\n"), text);
                x = 1;
        }
        free(why);
        return x;
}

void run_names_for(const struct run *r, const struct backend *b, struct str_list *out) {
        char scope[512], idbuf[256];
        struct strset seen = { 0 };
        for (size_t i = 0; r->want && i < r->want->n; i++) {
                const struct resource *w = r->want->v[i];
                if (!backend_serves(b, w->kind))
                        continue;
                const struct kind_ops *k = kind_ops(w->kind);
                const char *id = k->identity ? k->identity(w, idbuf, sizeof(idbuf)) : w->name;
                *(char **) array_push(&out->v, &out->n, sizeof(char *)) = xstrdup(id);
        }
        for (size_t i = 0; i < out->n; i++)
                strset_add(&seen, out->v[i]);
        for (size_t i = 0; r->ledger && i < r->ledger->n; i++) {
                const struct ledger_entry *e = &r->ledger->v[i];
                if (e->gone || !backend_serves(b, e->kind) ||
                    strcmp(e->scope, scope_of(r->opts, e->kind, scope, sizeof(scope))) != 0 || !strset_add(&seen, e->name))
                        continue;
                *(char **) array_push(&out->v, &out->n, sizeof(char *)) = xstrdup(e->name);
        }
        strset_done(&seen);
}

/* Observe backend i (open) whole; a failure closes it. */
static int observe_backend(struct run *r, size_t i) {
        const struct backend *b = backends[i];
        struct str_list names = { 0 };
        if (b->reads_by_name)
                run_names_for(r, b, &names);
        int x;
        if (r->opts->edit && b->observe_some)
                x = edit_scope_observe(r->opts->edit, b, r->bstate[i], &r->live);
        else
                x = b->observe(r->bstate[i], &names, &r->live);
        str_list_done(&names);
        if (x < 0) {
                b->close(r->bstate[i]);
                r->bstate[i] = NULL;
                r->bopen[i] = false;
        }
        return x;
}

int run_observe(struct run *r) {
        int ret = 0;
        model_done(&r->live);
        for (size_t i = 0; i < n_backends; i++) {
                const struct backend *b = backends[i];
                if (r->opts->edit && !edit_scope_observes(r->opts->edit, b))
                        continue;
                if (!r->bopen[i]) {
                        bool named;
                        if (!backend_needed(r, b, &named))
                                continue;
                        int x = open_backend(r, i, named);
                        if (x < 0)
                                ret = x; /* the backend reported why; its kinds are skipped */
                        if (x != 0)
                                continue;
                        r->bopen[i] = true;
                }
                int x = observe_backend(r, i);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

struct kind_keys {
        const struct backend *b;
        struct strset keys; /* of the resources read again */
        bool all;           /* every resource of b's kinds */
};

static bool of_keys(const struct resource *res, void *u) {
        struct kind_keys *k = u;
        if (!backend_serves(k->b, res->kind))
                return false;
        return k->all || strset_has(&k->keys, res->name);
}

/* Verification: backends that can observe objects one by one (IPVS, ipsets)
 * are read again only for what the plan touched, and not at all when it
 * touched none of theirs; the others (links, routes, sysctls, libvirt, which
 * affect each other) are read again whole. */
static int run_reobserve(struct run *r, const struct plan *applied) {
        int ret = 0;
        for (size_t i = 0; i < n_backends; i++) {
                const struct backend *b = backends[i];
                if (!r->bopen[i])
                        continue;
                struct kind_keys k = { .b = b, .all = !b->observe_some };
                const struct resource **objs = NULL;
                size_t n = 0;
                for (size_t j = 0; j < applied->n_actions; j++) {
                        const struct action *a = &applied->actions[j];
                        if (a->backend != b)
                                continue;
                        strset_add(&k.keys, a->key);
                        *(const struct resource **) array_push(&objs, &n, sizeof(*objs)) = a->want ? a->want : a->live;
                }
                if (k.all) {
                        model_take_if(&r->live, of_keys, &k, &r->retired, &r->n_retired);
                        int x = observe_backend(r, i);
                        if (x < 0)
                                ret = x;
                } else if (n) {
                        /* Read into a model of its own first: objs may point into the old live state. */
                        struct model fresh = { 0 };
                        int x = r->opts->edit ? edit_scope_verify(r->opts->edit, b, r->bstate[i], objs, n, &fresh)
                                              : b->observe_some(r->bstate[i], objs, n, &fresh);
                        model_take_if(&r->live, of_keys, &k, &r->retired, &r->n_retired);
                        for (size_t j = 0; j < fresh.n; j++)
                                if (model_add(&r->live, fresh.v[j]) < 0)
                                        resource_free(fresh.v[j]);
                        fresh.n = 0; /* the resources now belong to live */
                        model_done(&fresh);
                        if (x < 0)
                                ret = x;
                }
                strset_done(&k.keys);
                free(objs);
        }
        return ret;
}

void run_done(struct run *r) {
        for (size_t i = 0; i < n_backends; i++)
                if (r->bopen[i])
                        backends[i]->close(r->bstate[i]);
        memset(r->bopen, 0, sizeof(r->bopen));
        model_done(&r->live);
        plan_done(&r->plan);
        for (size_t i = 0; i < r->n_retired; i++)
                resource_free(r->retired[i]);
        free(r->retired);
        r->retired = NULL;
        r->n_retired = 0;
}

/* ---- dependency order ---- */

struct topo {
        const struct model *m;
        unsigned char *mark; /* 0 new, 1 on stack, 2 done */
        struct resource **out;
        size_t n_out;
        const struct resource *cycle;
};

struct dep_visit {
        struct topo *t;
        size_t depth;
        long max_dep_level;
};

static void topo_visit(struct topo *t, struct resource *r, size_t depth);

static void topo_dep(void *u, enum kind k, const char *name) {
        struct dep_visit *dv = u;
        struct resource *d = model_find(dv->t->m, k, name);
        if (d) {
                topo_visit(dv->t, d, dv->depth + 1);
                if (d->topo_level > dv->max_dep_level)
                        dv->max_dep_level = d->topo_level;
        }
}

static void topo_visit(struct topo *t, struct resource *r, size_t depth) {
        size_t i = (size_t) r->topo_index;
        if (t->mark[i] == 2)
                return;
        if (t->mark[i] == 1 || depth > t->m->n) {
                t->cycle = r;
                return;
        }
        t->mark[i] = 1;
        struct dep_visit dv = { t, depth, -1 };
        if (kind_ops(r->kind)->deps && r->state != STATE_ABSENT)
                kind_ops(r->kind)->deps(r, topo_dep, &dv);
        r->topo_level = dv.max_dep_level + 1;
        t->mark[i] = 2;
        t->out[t->n_out++] = r;
}

/* Resources of m in dependency order (dependencies first). */
static int topo_sort(const struct model *m, struct resource ***out) {
        struct topo t = { .m = m };
        t.mark = xcalloc(m->n + 1, 1);
        t.out = xcalloc(m->n + 1, sizeof(*t.out));
        for (size_t i = 0; i < m->n; i++)
                m->v[i]->topo_index = (long) i;
        for (size_t i = 0; i < m->n; i++)
                topo_visit(&t, m->v[i], 0);
        free(t.mark);
        *out = t.out;
        if (t.cycle)
                return diag_pos(&t.cycle->pos, "%s %s is part of a dependency cycle", kind_to_string(t.cycle->kind),
                                t.cycle->name);
        return 0;
}

/* ---- planning ---- */

struct dep_check {
        struct run *run;
        struct resource *r;
        unsigned char *skipped; /* by topo_index of the desired model */
        bool bad;
};

static void dep_check(void *u, enum kind k, const char *name) {
        struct dep_check *dc = u;
        struct resource *d = model_find(dc->run->want, k, name);
        const char *role = kind_ops(dc->r->kind)->dep_role ? kind_ops(dc->r->kind)->dep_role : "parent";
        /* At the list element or value that names it: the resource may name many. */
        const struct srcpos *at = resource_ref_pos(dc->r, name);
        if (d && d->state != STATE_ABSENT && !kind_selected(dc->run->opts, d->kind))
                return; /* declared, and left out of this run by --only: its own run makes it */
        if (d && d->state != STATE_ABSENT) {
                if (dc->skipped[d->topo_index]) {
                        diag_pos(at, "%s %s: %s %s was skipped; skipping %s too", kind_to_string(dc->r->kind),
                                 dc->r->name, role, name, dc->r->name);
                        dc->bad = true;
                }
                return;
        }
        if (d && d->state == STATE_ABSENT) {
                diag_pos(at, "%s %s: %s %s is declared absent", kind_to_string(dc->r->kind), dc->r->name,
                         role, name);
                dc->bad = true;
                return;
        }
        if (model_find(&dc->run->live, k, name))
                return;
        diag_pos(at, "%s %s: %s %s is neither declared nor present; skipping %s",
                 kind_to_string(dc->r->kind), dc->r->name, role, name, dc->r->name);
        dc->bad = true;
}

static struct action *plan_push(struct plan *p, enum op op, const struct resource *want, const struct resource *live) {
        struct action *a = array_push(&p->actions, &p->n_actions, sizeof(*a));
        const struct resource *any = want ? want : live;
        a->op = op;
        a->kind = want ? want->kind : live->kind;
        a->name = xstrdup(any->name);
        a->key = xstrdup(live ? live->name : any->name);
        if (want)
                a->pos = want->pos;
        a->want = want;
        a->live = live;
        a->backend = backend_for_kind(a->kind);
        a->result = 1;
        return a;
}

static void plan_drop_last(struct plan *p) {
        action_done(&p->actions[--p->n_actions]);
}

/* Per-scope counts for the mass-delete guard. */
struct scope_count {
        char scope[512];
        size_t managed, prunes;
};

static struct scope_count *scope_slot(struct scope_count **v, size_t *n, const char *scope) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*v)[i].scope, scope) == 0)
                        return &(*v)[i];
        struct scope_count *s = array_push(v, n, sizeof(**v));
        snprintf(s->scope, sizeof(s->scope), "%s", scope);
        return s;
}

/* The desired resources of kinds known by a key (IPVS), indexed by that key. */
static void wanted_ids(const struct run *r, struct model *ids) {
        char buf[256];
        for (size_t i = 0; r->want && i < r->want->n; i++) {
                const struct kind_ops *k = kind_ops(r->want->v[i]->kind);
                if (!k->identity)
                        continue;
                struct resource *stub = resource_new(r->want->v[i]->kind, k->identity(r->want->v[i], buf, sizeof(buf)));
                if (model_add(ids, stub) < 0)
                        resource_free(stub);
        }
}

struct collateral {
        struct run *run;
        struct plan *plan;
        struct action *a;
        bool refused;
};

static void collateral_check(void *u, enum kind k, const char *name) {
        struct collateral *c = u;
        /* A scoped run plans part of the manifests; what they declare is all of them. */
        const struct model *declared = c->run->opts->edit ? c->run->opts->edit->all : c->run->want;
        const struct resource *w = declared ? model_find(declared, k, name) : NULL;
        const struct resource *l = model_find(&c->run->live, k, name);
        for (size_t i = 0; i < c->plan->n_actions; i++)
                if (c->plan->actions[i].op == OP_DELETE && c->plan->actions[i].live == l && l)
                        return; /* it goes in this plan anyway, and says so itself */
        if (!l)
                return;
        if (w && w->state != STATE_ABSENT) {
                if (c->a->pos.file)
                        diag_pos(&c->a->pos, "%s %s: deleting it deletes %s too, which is declared at %s:%u:%u; refusing",
                                 kind_to_string(c->a->kind), c->a->name, name, w->pos.file, w->pos.line, w->pos.col);
                else
                        diag_res(-EPERM, kind_to_string(c->a->kind), c->a->name,
                                 "deleting it deletes %s too, which is declared at %s:%u:%u; refusing", name,
                                 w->pos.file, w->pos.line, w->pos.col);
                c->refused = true;
                return;
        }
        const char *master = kind_ops(l->kind)->master_of ? kind_ops(l->kind)->master_of(l) : NULL;
        char *more = xasprintf("%s%salso deletes %s%s%s", c->a->reason ? c->a->reason : "", c->a->reason ? "; " : "",
                               name, master ? ", a port of " : "", master ? master : "");
        free(c->a->reason);
        c->a->reason = more;
}

/* What the steps of run_plan share. */
struct planning {
        struct run *r;
        struct model *want;
        unsigned char *skipped; /* by topo_index of the desired model */
        struct scope_count *scopes;
        size_t n_scopes;
        int ret;
};

/* A desired resource that is not planned: its dependents are skipped with it. */
static void plan_skip(struct planning *pl, const struct resource *w) {
        pl->skipped[w->topo_index] = 1;
        pl->r->plan.n_errors++;
}

static void plan_absent(struct planning *pl, const struct resource *w, const struct resource *live) {
        if (!live)
                return;
        if (live->kind != w->kind) {
                diag_pos(&w->pos, "%s %s: exists as a %s, not a %s; not deleting it", kind_to_string(w->kind), w->name,
                         kind_to_string(live->kind), kind_to_string(w->kind));
                pl->r->plan.n_errors++;
                return;
        }
        const char *why = kind_ops(live->kind)->refuses_delete ? kind_ops(live->kind)->refuses_delete(live) : NULL;
        if (why) {
                diag_pos(&w->pos, "%s %s: %s; not deleting it", kind_to_string(w->kind), w->name, why);
                pl->r->plan.n_errors++;
                return;
        }
        struct action *a = plan_push(&pl->r->plan, OP_DELETE, NULL, live);
        a->pos = w->pos;
        a->reason = xstrdup("state: absent");
}

/* Whether w cannot be planned: another kind holds its name, a dependency is
 * missing, or the backend refuses it. Each says why. */
static bool plan_refused(struct planning *pl, struct resource *w, size_t bi,
                         const struct resource *live) {
        struct run *r = pl->r;
        if (live && live->kind != w->kind && !(kind_ops(w->kind)->flags & KF_EXISTING)) {
                const struct kind_ops *lk = kind_ops(live->kind);
                const char *type = lk->device_type ? lk->device_type(live) : NULL;
                diag_pos(&w->pos, "%s %s: an interface of that name exists as a %s device; not touching it",
                         kind_to_string(w->kind), w->name, type ? type : kind_to_string(live->kind));
                return true;
        }
        struct dep_check dc = { r, w, pl->skipped, false };
        if (kind_ops(w->kind)->deps)
                kind_ops(w->kind)->deps(w, dep_check, &dc);
        if (dc.bad)
                return true;
        /* Without a connection (a plan against a snapshot) there is no host to ask. */
        return kind_ops(w->kind)->admit && !r->opts->offline && kind_ops(w->kind)->admit(r->bstate[bi], w) < 0;
}

static void plan_create(struct planning *pl, struct resource *w, size_t bi, const char *id) {
        struct run *r = pl->r;
        if (kind_ops(w->kind)->flags & KF_EXISTING) {
                diag_pos(&w->pos, "%s %s does not exist (%s)", kind_to_string(w->kind), w->name,
                         kind_ops(w->kind)->never_created);
                plan_skip(pl, w);
                return;
        }
        struct action *a = plan_push(&r->plan, OP_CREATE, w, NULL);
        free(a->key);
        a->key = xstrdup(id);
        if (kind_ops(w->kind)->describe)
                kind_ops(w->kind)->describe(w, a);
        if (kind_ops(w->kind)->assess)
                kind_ops(w->kind)->assess(r->bstate[bi], a, &r->live);
}

static void plan_update(struct planning *pl, struct resource *w, size_t bi,
                        const struct resource *live, const struct ledger_entry *owned) {
        struct run *r = pl->r;
        struct plan *p = &r->plan;
        struct action *a = plan_push(p, owned ? OP_UPDATE : OP_ADOPT, w, live);
        a->owned = owned;
        int x = kind_ops(w->kind)->diff(r->bstate[bi], w, live, owned, a, p);
        if (x < 0) {
                plan_drop_last(p);
                plan_skip(pl, w);
                pl->ret = x;
                return;
        }
        /* Not ours yet: adopted, or, when it cannot become what is declared in
         * place, replaced as the plan says (then ours). */
        if (!owned && a->op != OP_REPLACE)
                a->op = OP_ADOPT;
        /* NICs are configured, never created or deleted: owning one changes nothing.
         * A revert restores what it names as it was, unowned included. */
        if (a->op == OP_ADOPT && ((kind_ops(w->kind)->flags & KF_NEVER_ADOPTED) || r->opts->no_adopt))
                a->op = OP_UPDATE;
        if (a->op != OP_ADOPT && a->n_changes == 0) {
                plan_drop_last(p);
                return;
        }
        const char *incomplete = ledger_get(owned, "incomplete");
        if (incomplete && a->op == OP_UPDATE && !a->reason)
                a->reason = xasprintf("finishes a create that failed: %s", incomplete);
        if (kind_ops(w->kind)->assess)
                kind_ops(w->kind)->assess(r->bstate[bi], a, &r->live);
}

/* The action, if any, that brings one desired resource about. */
static void plan_desired(struct planning *pl, struct resource *w) {
        struct run *r = pl->r;
        char scope[512], idbuf[256];
        if (!kind_selected(r->opts, w->kind))
                return;
        const struct backend *b = backend_for_kind(w->kind);
        size_t bi = b ? backend_index(b) : 0;
        if (!b || !r->bopen[bi]) {
                if (!b)
                        diag_pos(&w->pos, "%s %s: no backend for kind %s in this build; skipping it",
                                 kind_to_string(w->kind), w->name, kind_to_string(w->kind));
                else
                        diag_pos(&w->pos, "%s %s: the %s backend is not available; skipping it",
                                 kind_to_string(w->kind), w->name, b->name);
                plan_skip(pl, w);
                return;
        }
        const char *id = kind_ops(w->kind)->identity ? kind_ops(w->kind)->identity(w, idbuf, sizeof(idbuf)) : w->name;
        struct resource *live = model_find(&r->live, w->kind, id);
        struct ledger_entry *owned = ledger_find(r->ledger, scope_of(r->opts, w->kind, scope, sizeof(scope)), w->kind, id);
        if (w->state == STATE_ABSENT) {
                plan_absent(pl, w, live);
                return;
        }
        if (plan_refused(pl, w, bi, live)) {
                plan_skip(pl, w);
                return;
        }
        struct resource *made = !live && kind_ops(w->kind)->made_with ? kind_ops(w->kind)->made_with(w, pl->want) : NULL;
        if (made) {
                /* The run holds it as long as the plan that points at it. */
                *(struct resource **) array_push(&r->retired, &r->n_retired, sizeof(*r->retired)) = made;
                live = made;
        }
        if (!live)
                plan_create(pl, w, bi, id);
        else
                plan_update(pl, w, bi, live, owned);
}

/* Why an owned resource goes: left the manifests, or its key changed. */
static char *prune_reason(const struct run *r, const struct resource *l, const struct ledger_entry *e) {
        const struct backend *lb = backend_for_kind(l->kind);
        /* A kind known by a key (a route's destination, table and metric): the
         * declaration that made it may still be there, under a new key. */
        const char *declared_as = ledger_get(e, "declared-as");
        const struct resource *renamed = declared_as && r->want && kind_ops(l->kind)->identity
                                                 ? model_find(r->want, l->kind, declared_as) : NULL;
        char idbuf[256];
        if (renamed)
                return xasprintf("%s %s changed its key: %s -> %s (%s)", kind_to_string(l->kind), declared_as, l->name,
                                 kind_ops(l->kind)->identity(renamed, idbuf, sizeof(idbuf)),
                                 lb->delete_last ? "the new one is made first, this one removed after"
                                                 : "this one is removed first, then the new one made");
        /* A create whose run died after making it, marked pending: it exists,
         * so it is ours, and it goes in this run if the manifests dropped it. */
        if (ledger_get(e, "incomplete"))
                return xasprintf("no longer in the manifests (its create failed: %s)", ledger_get(e, "incomplete"));
        return ledger_get(e, "pending") ? xstrdup("no longer in the manifests (made by a run that was interrupted)")
                                        : xstrdup("no longer in the manifests");
}

/* Count one live resource for the mass-delete guard, and delete it if it is
 * owned and the manifests no longer name it. */
static void plan_prune_one(struct planning *pl, const struct model *ids, struct resource *l) {
        struct run *r = pl->r;
        char scope[512];
        if (!kind_selected(r->opts, l->kind) || (r->opts->edit && !edit_scope_has(r->opts->edit, l->kind, l->name)))
                return;
        const char *sc = scope_of(r->opts, l->kind, scope, sizeof(scope));
        struct ledger_entry *e = ledger_find(r->ledger, sc, l->kind, l->name);
        if (!e || ledger_get(e, "keep"))
                return; /* never managed, or adopted to keep: never touched */
        /* NICs are configured, never deleted; volumes hold data and go only on state: absent. */
        if (kind_ops(l->kind)->flags & KF_NEVER_PRUNED)
                return;
        scope_slot(&pl->scopes, &pl->n_scopes, sc)->managed++;
        if (r->want && model_find(kind_ops(l->kind)->identity ? ids : r->want, l->kind, l->name))
                return;
        struct action *a = plan_push(&r->plan, OP_DELETE, NULL, l);
        a->owned = e;
        a->reason = prune_reason(r, l, e);
        scope_slot(&pl->scopes, &pl->n_scopes, sc)->prunes++;
        size_t bi = backend_index(a->backend);
        if (kind_ops(a->kind)->assess && r->bopen[bi])
                kind_ops(a->kind)->assess(r->bstate[bi], a, &r->live);
}

/* Prune: owned resources that left the manifests, dependents first. The
 * mass-delete guard counts, per scope, only what a run could prune: owned,
 * present, and of a kind that is ever pruned (NICs and volumes never are). */
static void plan_prune(struct planning *pl) {
        struct run *r = pl->r;
        struct plan *p = &r->plan;
        struct resource **live_order = NULL;
        struct model ids = { 0 };
        wanted_ids(r, &ids);
        /* Levels: 0 for a resource that needs nothing, 1 + the highest of its needs otherwise. */
        if (topo_sort(&r->live, &live_order) < 0)
                pl->ret = -ELOOP;
        free(live_order);
        size_t first_delete = p->n_actions;
        for (size_t oi = 0; oi < r->live.n && !r->opts->no_prune; oi++)
                plan_prune_one(pl, &ids, r->live.v[oi]);
        model_done(&ids);
        /* Dependents first: a bridge goes before the VLAN it holds, the VLAN before its parent. */
        for (size_t i = first_delete + 1; i < p->n_actions; i++)
                for (size_t j = i; j > first_delete && p->actions[j].live->topo_level > p->actions[j - 1].live->topo_level;
                     j--) {
                        struct action tmp = p->actions[j];
                        p->actions[j] = p->actions[j - 1];
                        p->actions[j - 1] = tmp;
                }
}

/* What a delete takes with it: named in the plan; declared, it is refused. */
static void plan_refuse_collateral(struct run *r) {
        struct plan *p = &r->plan;
        size_t kept = 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                struct action *a = &p->actions[i];
                struct collateral c = { r, p, a, false };
                if (a->live && (a->op == OP_DELETE || a->op == OP_REPLACE) && kind_ops(a->live->kind)->takes_with)
                        kind_ops(a->live->kind)->takes_with(a->live, collateral_check, &c);
                if (c.refused) {
                        action_done(a);
                        p->n_errors++;
                } else
                        p->actions[kept++] = *a;
        }
        p->n_actions = kept;
}

/* Deletes first (they free names and ports), then creates and updates in
 * dependency order, then the deletes of kinds that go last (routes). */
static void plan_order(struct plan *p) {
        size_t nd = 0;
        struct action *sorted = xcalloc(array_capacity(p->n_actions), sizeof(*sorted));
        for (int pass = 0; pass < 3; pass++)
                for (size_t i = 0; i < p->n_actions; i++) {
                        const struct action *a = &p->actions[i];
                        bool del = a->op == OP_DELETE && !a->want, last = del && a->backend->delete_last;
                        if ((pass == 0 && del && !last) || (pass == 1 && !del) || (pass == 2 && last))
                                sorted[nd++] = p->actions[i];
                }
        free(p->actions);
        p->actions = sorted;
}

/* The scope where prunes are more than half of what could be pruned, the
 * largest such; the guard refuses the plan unless --allow-mass-delete. */
static void plan_mass_delete(struct planning *pl) {
        struct plan *p = &pl->r->plan;
        p->n_managed_in_scope = 0;
        p->n_deletes = 0;
        for (size_t i = 0; i < pl->n_scopes; i++) {
                if (pl->scopes[i].prunes * 2 > pl->scopes[i].managed && pl->scopes[i].prunes > p->n_deletes) {
                        p->n_deletes = pl->scopes[i].prunes;
                        p->n_managed_in_scope = pl->scopes[i].managed;
                }
        }
        p->mass_delete_refused = p->n_deletes && !pl->r->opts->allow_mass_delete;
}

int run_plan(struct run *r) {
        struct model empty = { 0 };
        struct planning pl = { .r = r, .want = r->want ? r->want : &empty };
        struct resource **order = NULL;

        plan_done(&r->plan);
        if (topo_sort(pl.want, &order) < 0) {
                free(order);
                return -ELOOP;
        }
        pl.skipped = xcalloc(pl.want->n + 1, 1);
        for (size_t oi = 0; oi < pl.want->n; oi++) {
                diag_set_resource(order[oi]->kind, order[oi]->name);
                plan_desired(&pl, order[oi]);
                diag_set_resource(_KIND_INVALID, NULL);
        }
        free(pl.skipped);
        free(order);
        plan_prune(&pl);
        plan_refuse_collateral(r);
        plan_order(&r->plan);
        plan_mass_delete(&pl);
        free(pl.scopes);
        return pl.ret;
}

int run_check_mass_delete(const struct run *r) {
        const struct plan *p = &r->plan;
        if (p->n_deletes == 0 || r->opts->allow_mass_delete)
                return 0;
        return diag_plain(-EPERM,
                          "refusing to delete %zu of %zu deletable resources in one run (more than half: an emptied "
                          "directory or a bad checkout?); pass --allow-mass-delete if that is intended",
                          p->n_deletes, p->n_managed_in_scope);
}

/* ---- apply and verify ---- */

/* Test hook for crash safety: SIGKILL ourselves after that many actions. */
static long kill_after(void) {
        const char *v = getenv("RECONCILE_DEBUG_KILL_AFTER");
        return v && *v ? atol(v) : -1;
}

/* Whether an action needs something that failed (or was not run for that)
 * earlier in this apply: a port of a bridge, the parent of a VLAN. */
struct failed_dep {
        const struct model *failed;
        bool hit;
};

static void failed_dep_probe(void *u, enum kind k, const char *name) {
        struct failed_dep *f = u;
        f->hit = f->hit || model_find(f->failed, k, name) != NULL;
}

static bool needs_failed(const struct action *a, const struct model *failed) {
        struct failed_dep f = { failed, false };
        const struct resource *any = a->want ? a->want : a->live;
        if (failed->n && any && kind_ops(any->kind)->deps)
                kind_ops(any->kind)->deps(any, failed_dep_probe, &f);
        return f.hit;
}

static void mark_failed(struct model *failed, const struct action *a) {
        struct resource *mark = resource_new(a->kind, a->key);
        if (model_add(failed, mark) < 0)
                resource_free(mark);
}

/* Intent first: a create killed half-way must still be found as ours next time.
 * The mark makes the entry count only while the manifests still name it. */
static int apply_intents(struct run *r) {
        const struct plan *p = &r->plan;
        char scope[512];
        bool intents = false;
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                if (a->op != OP_CREATE)
                        continue;
                const char *sc = scope_of(r->opts, a->kind, scope, sizeof(scope));
                if (!ledger_find(r->ledger, sc, a->kind, a->key)) {
                        ledger_set(r->ledger, ledger_add(r->ledger, sc, a->kind, a->key), "pending", "1");
                        intents = true;
                }
        }
        return intents ? ledger_save(r->ledger) : 0;
}

/* Forget owned resources that vanished behind our back. */
static void ledger_forget_vanished(struct run *r) {
        const struct plan *p = &r->plan;
        char scope[512];
        for (size_t i = 0; i < r->ledger->n; i++) {
                struct ledger_entry *e = &r->ledger->v[i];
                if (e->gone || !kind_selected(r->opts, e->kind) || (r->opts->edit && !edit_scope_has(r->opts->edit, e->kind, e->name)))
                        continue;
                const struct backend *b = backend_for_kind(e->kind);
                if (!b || !r->bopen[backend_index(b)] ||
                    strcmp(e->scope, scope_of(r->opts, e->kind, scope, sizeof(scope))) != 0)
                        continue;
                bool planned = false;
                for (size_t j = 0; j < p->n_actions && !planned; j++)
                        planned = p->actions[j].kind == e->kind && strcmp(p->actions[j].key, e->name) == 0;
                if (!planned && !model_find(&r->live, e->kind, e->name))
                        ledger_remove(r->ledger, e);
                else if (!planned && ledger_get(e, "pending"))
                        ledger_set(r->ledger, e, "pending", NULL); /* made before a crash: ours after all */
                else if (!planned && ledger_get(e, "incomplete"))
                        ledger_set(r->ledger, e, "incomplete", NULL); /* in sync: finished by other means */
        }
}

/* What follows an action's apply: the ledger and the record of failures.
 * incomplete: the action failed after it was written (a batch's commit); it
 * fails what depends on it, but a create keeps what it made, as a failed
 * create that made its object does (kind_ops.apply), and a delete is done. */
static int apply_finish(struct run *r, struct action *a, struct model *failed, const char *incomplete) {
        char scope[512];
        const char *sc = scope_of(r->opts, a->kind, scope, sizeof(scope));
        struct ledger_entry *e = ledger_find(r->ledger, sc, a->kind, a->key);
        if (a->result < 0 && incomplete && e) {
                if (a->op == OP_DELETE)
                        ledger_remove(r->ledger, e);
                else if (a->op == OP_CREATE || a->op == OP_REPLACE)
                        ledger_mark_incomplete(r->ledger, e, incomplete);
        }
        if (a->result < 0) {
                /* Only what depends on it stops; the rest of the run goes on. */
                mark_failed(failed, a);
                /* A create that failed and kept nothing (the backend says so by not
                 * marking it incomplete) owns nothing: whatever has the name later
                 * is someone else's. */
                if (a->op == OP_CREATE && e && ledger_get(e, "pending") && !ledger_get(e, "incomplete"))
                        ledger_remove(r->ledger, e);
                return a->result;
        }
        if (a->op == OP_DELETE && e)
                ledger_remove(r->ledger, e);
        if (e && a->op != OP_DELETE) {
                ledger_set(r->ledger, e, "pending", NULL);
                ledger_set(r->ledger, e, "incomplete", NULL); /* the update finished it */
        }
        /* Which declaration a keyed object came from, for when its key changes. */
        if (e && a->op == OP_CREATE && strcmp(a->name, a->key) != 0)
                ledger_set(r->ledger, e, "declared-as", a->name);
        diag_debug("%s %s %s: done", op_to_string(a->op), kind_to_string(a->kind), a->name);
        return 0;
}

/* A backend with batch hooks takes a run of consecutive actions as one
 * batch: their applies queue, the commit sends them at once, and its result
 * is every queued action's. -EAGAIN (what the plan read changed) asks for a
 * re-plan; a failure after the write (incomplete) keeps what was made. */
struct batch {
        const struct backend *b;
        size_t *queued;  /* actions whose apply queued, to finish at commit */
        size_t n_queued;
};

static int batch_commit(struct run *r, struct batch *bt, bool others_follow, struct model *failed, long *done,
                        long die_after) {
        if (!bt->b)
                return 0;
        const char *incomplete = NULL;
        int c = bt->b->batch_commit(r->bstate[backend_index(bt->b)], others_follow, &incomplete);
        int ret = 0;
        if (c == -EAGAIN)
                r->replan = true;
        for (size_t i = 0; i < bt->n_queued; i++) {
                struct action *a = &r->plan.actions[bt->queued[i]];
                if (c < 0)
                        a->result = c;
                int x = apply_finish(r, a, failed, c < 0 ? incomplete : NULL);
                if (x < 0 && ret >= 0)
                        ret = x;
                if (x >= 0 && die_after >= 0 && ++*done >= die_after)
                        kill(getpid(), SIGKILL);
        }
        bt->b = NULL;
        bt->n_queued = 0;
        return ret;
}

int run_apply(struct run *r) {
        struct plan *p = &r->plan;
        struct model failed = { 0 }; /* what failed or was not run for it, by kind and key */
        struct batch bt = { 0 };
        char scope[512];
        int ret, x;
        long die_after = kill_after(), done = 0;
        if ((ret = apply_intents(r)) < 0)
                return ret;
        bt.queued = xcalloc(p->n_actions + 1, sizeof(*bt.queued));
        for (size_t i = 0; i < p->n_actions; i++) {
                struct action *a = &p->actions[i];
                size_t bi = backend_index(a->backend);
                const char *sc = scope_of(r->opts, a->kind, scope, sizeof(scope));
                if (bt.b && bt.b != a->backend && (x = batch_commit(r, &bt, true, &failed, &done, die_after)) < 0 &&
                    ret >= 0)
                        ret = x;
                if (r->opts->should_stop && r->opts->should_stop()) {
                        ret = diag_plain(-EINTR, "stopped before %s %s %s: asked to exit", op_to_string(a->op),
                                         kind_to_string(a->kind), a->name);
                        break;
                }
                struct ledger_entry *e = ledger_find(r->ledger, sc, a->kind, a->key);
                /* A replace of what was not ours makes it anew: then it is. */
                if (a->op == OP_CREATE || a->op == OP_ADOPT || (a->op == OP_REPLACE && !e && !r->opts->no_adopt))
                        e = ledger_add(r->ledger, sc, a->kind, a->key);
                if (a->op == OP_ADOPT)
                        ledger_set(r->ledger, e, "adopted", "1");
                /* The plan's pointer may predate a ledger_add that moved the entries. */
                a->owned = e;
                if (needs_failed(a, &failed)) {
                        /* Not run: what it needs failed. Its own dependents skip too. */
                        mark_failed(&failed, a);
                        continue;
                }
                if (!bt.b && a->backend->batch_begin) {
                        bt.b = a->backend;
                        bt.b->batch_begin(r->bstate[bi]);
                }
                diag_set_resource(a->kind, a->name);
                a->result = kind_ops(a->kind)->apply(r->bstate[bi], a, r->ledger, e);
                diag_set_resource(_KIND_INVALID, NULL);
                a->owned = NULL; /* the next ledger_add may move e */
                if (bt.b && a->result >= 0) {
                        bt.queued[bt.n_queued++] = i; /* finished by the commit */
                        continue;
                }
                if ((x = apply_finish(r, a, &failed, NULL)) < 0) {
                        ret = x;
                        continue;
                }
                if (die_after >= 0 && ++done >= die_after)
                        kill(getpid(), SIGKILL);
        }
        if ((x = batch_commit(r, &bt, false, &failed, &done, die_after)) < 0 && ret >= 0)
                ret = x;
        free(bt.queued);
        ledger_forget_vanished(r);
        if (r->ledger->dirty && (x = ledger_save(r->ledger)) < 0 && ret >= 0)
                ret = x;
        model_done(&failed);
        return ret;
}

int run_verify(struct run *r, struct plan *residual) {
        struct plan applied = r->plan;
        memset(&r->plan, 0, sizeof(r->plan));
        /* Plan-time errors (a missing port) were reported once already; the re-plan
         * keeps its own, and says them only if the apply made new ones (a NIC
         * that went with its veth). */
        FILE *saved = diag_stream();
        char *said = NULL;
        size_t said_len = 0;
        FILE *quiet = open_memstream(&said, &said_len);
        unsigned errors = diag_error_count();
        struct str_list *kept = diag_capture(NULL);
        if (quiet)
                diag_set_stream(quiet);
        int x = run_reobserve(r, &applied);
        if (x >= 0)
                x = run_plan(r);
        diag_set_stream(saved == stderr ? NULL : saved);
        diag_capture(kept);
        if (quiet)
                fclose(quiet);
        diag_restore_count(errors);
        *residual = r->plan;
        r->plan = applied;
        if (x >= 0 && residual->n_errors > applied.n_errors) {
                fputs(said ? said : "", diag_stream());
                x = diag_plain(-EIO, "verification: %u more resource%s cannot be planned than before the apply",
                               residual->n_errors - applied.n_errors, residual->n_errors - applied.n_errors == 1 ? "" : "s");
        }
        free(said);
        if (x < 0)
                return x;
        for (size_t i = 0; i < residual->n_actions; i++) {
                struct action *a = &residual->actions[i];
                /* The keys here; the values are the residual plan's, which the caller prints. */
                char what[512] = "";
                for (size_t j = 0; j < a->n_changes; j++) {
                        size_t len = strlen(what);
                        snprintf(what + len, sizeof(what) - len, "%s%s", j ? ", " : "", a->changes[j].name);
                }
                x = diag_res(-EIO, kind_to_string(a->kind), a->name, "did not converge: still needs %s%s%s",
                             op_to_string(a->op), *what ? ": " : "", what);
        }
        return x;
}

size_t run_watch_open(const struct run_opts *o, const struct model *want, struct watch *w, size_t *n, size_t max) {
        size_t added = 0;
        for (size_t i = 0; i < n_backends && *n < max; i++) {
                const struct backend *b = backends[i];
                bool open = false, wanted = false;
                for (size_t j = 0; j < *n; j++)
                        open = open || w[j].backend == b;
                for (size_t j = 0; want && j < want->n && !wanted; j++)
                        wanted = backend_serves(b, want->v[j]->kind) && kind_selected(o, want->v[j]->kind);
                if (open || !wanted || !b->watch_open)
                        continue;
                void *state = NULL;
                int fd = b->watch_open(&o->ctx, &state);
                if (fd < 0)
                        continue; /* not reachable yet: the next successful run tries again */
                w[*n].backend = b;
                w[*n].state = state;
                w[*n].fd = fd;
                (*n)++;
                added++;
        }
        return added;
}

int run_watch_drain(struct watch *w) {
        return w->backend->watch_drain(w->state, w->fd);
}

void run_watch_close(struct watch *w, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (w[i].backend->watch_close)
                        w[i].backend->watch_close(w[i].state, w[i].fd);
                else if (w[i].fd >= 0)
                        close(w[i].fd);
        }
}
