/* Scoped runs: on random edits of a host in sync with the last applied
 * manifests, a pass over the edit's scope plans, applies, logs and records
 * exactly what a full pass does (fake link backend, tests/unit/fake-backends.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../cmd/output.h"
#include "../../backends/kind.h"
#include "../../parsers/parsers.h"
#include "fake-backends.h"

#define N_ETH 5
#define N_BR 5
#define N_VLAN 4

/* A host's manifests as numbers, to edit at random and write as YAML. */
struct host {
        bool eth_declared[N_ETH];
        unsigned eth_mtu[N_ETH];
        bool br_declared[N_BR], br_absent[N_BR], br_ghost[N_BR];
        unsigned br_mtu[N_BR];
        unsigned br_ports[N_BR]; /* bit i: eth i (each NIC in one bridge at most) */
        bool vl_declared[N_VLAN];
        unsigned vl_id[N_VLAN], vl_mtu[N_VLAN];
        unsigned vl_parent[N_VLAN]; /* eth i, or br (i - N_ETH) */
};

static void parent_name(unsigned p, char *buf, size_t size) {
        if (p < N_ETH)
                snprintf(buf, size, "eth%u", p);
        else
                snprintf(buf, size, "br%u", p - N_ETH);
}

static unsigned rnd(unsigned n) {
        return (unsigned) rand() % n;
}

static unsigned rnd_mtu(void) {
        static const unsigned mtus[] = { 1400, 1500, 9000 };
        return mtus[rnd(3)];
}

static void host_random(struct host *h) {
        memset(h, 0, sizeof(*h));
        for (unsigned i = 0; i < N_ETH; i++) {
                h->eth_declared[i] = rnd(2);
                h->eth_mtu[i] = rnd_mtu();
        }
        for (unsigned i = 0; i < N_BR; i++) {
                h->br_declared[i] = rnd(4) != 0;
                h->br_mtu[i] = rnd_mtu();
        }
        for (unsigned i = 0; i < N_ETH; i++)
                if (rnd(2))
                        h->br_ports[rnd(N_BR)] |= 1u << i;
        for (unsigned i = 0; i < N_VLAN; i++) {
                h->vl_declared[i] = rnd(3) != 0;
                h->vl_id[i] = 10 + rnd(3);
                h->vl_parent[i] = rnd(N_ETH + N_BR);
                h->vl_mtu[i] = rnd_mtu();
                /* In sync means the last run planned everything: a VLAN's bridge is declared. */
                if (h->vl_parent[i] >= N_ETH)
                        h->br_declared[h->vl_parent[i] - N_ETH] = true;
        }
}

/* One edit an operator might make; some make what cannot be planned (a ghost port). */
static void host_edit(struct host *h) {
        unsigned b = rnd(N_BR), v = rnd(N_VLAN), e = rnd(N_ETH);
        switch (rnd(12)) {
        case 0: h->br_declared[b] = !h->br_declared[b]; break;
        case 1: h->br_mtu[b] = rnd_mtu(); break;
        case 2:
                for (unsigned i = 0; i < N_BR; i++)
                        h->br_ports[i] &= ~(1u << e);
                if (rnd(2))
                        h->br_ports[b] |= 1u << e;
                break;
        case 3: h->br_absent[b] = !h->br_absent[b]; break;
        case 4: h->vl_declared[v] = !h->vl_declared[v]; break;
        case 5: h->vl_id[v] = 10 + rnd(3); break;
        case 6: h->vl_parent[v] = rnd(2) ? e : N_ETH + b; break;
        case 7: h->vl_mtu[v] = rnd_mtu(); break;
        case 8: h->eth_mtu[e] = rnd_mtu(); break;
        case 9: h->eth_declared[e] = !h->eth_declared[e]; break;
        case 10: h->br_ghost[b] = !h->br_ghost[b]; break;
        case 11: /* a bad checkout: most bridges gone at once */
                for (unsigned i = 0; i < N_BR; i++)
                        h->br_declared[i] = h->br_declared[i] && rnd(4) == 0;
                break;
        }
}

static char *host_yaml(const struct host *h) {
        char *y = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&y, &len);
        fprintf(f, "version: 1\nethernets:\n");
        for (unsigned i = 0; i < N_ETH; i++)
                if (h->eth_declared[i])
                        fprintf(f, "  eth%u: { mtu: %u }\n", i, h->eth_mtu[i]);
        fprintf(f, "bridges:\n");
        for (unsigned i = 0; i < N_BR; i++) {
                if (!h->br_declared[i])
                        continue;
                if (h->br_absent[i]) {
                        fprintf(f, "  br%u: { state: absent }\n", i);
                        continue;
                }
                fprintf(f, "  br%u: { mtu: %u, interfaces: [", i, h->br_mtu[i]);
                const char *sep = "";
                for (unsigned e = 0; e < N_ETH; e++)
                        if (h->br_ports[i] & (1u << e)) {
                                fprintf(f, "%seth%u", sep, e);
                                sep = ", ";
                        }
                if (h->br_ghost[i])
                        fprintf(f, "%sghost%u", sep, i);
                fprintf(f, "] }\n");
        }
        fprintf(f, "vlans:\n");
        for (unsigned i = 0; i < N_VLAN; i++) {
                char parent[16];
                parent_name(h->vl_parent[i], parent, sizeof(parent));
                if (h->vl_declared[i])
                        fprintf(f, "  vl%u: { link: %s, id: %u, mtu: %u }\n", i, parent, h->vl_id[i], h->vl_mtu[i]);
        }
        fclose(f);
        return y;
}

static void parse(struct manifest_set *set, const struct host *h) {
        char *y = host_yaml(h);
        memset(set, 0, sizeof(*set));
        assert_int_equal(manifest_parse_buffer(set, "m.yaml", y, strlen(y), "kvm1"), 0);
        free(y);
}

/* The host as the last run left it: every NIC, and what h declares, as declared;
 * one bridge no one declared that is not ours. */
static void live_in_sync(const struct host *h) {
        model_done(&fake_live);
        for (unsigned i = 0; i < N_ETH; i++) {
                char name[16];
                snprintf(name, sizeof(name), "eth%u", i);
                struct resource *r = resource_new(KIND_ETHERNET, name);
                r->link.mtu = h->eth_declared[i] ? h->eth_mtu[i] : 1500;
                r->set = LINK_F_MTU;
                model_add(&fake_live, r);
        }
        for (unsigned i = 0; i < N_BR; i++) {
                char name[16];
                snprintf(name, sizeof(name), "br%u", i);
                if (!h->br_declared[i] || h->br_absent[i])
                        continue;
                struct resource *r = resource_new(KIND_BRIDGE, name);
                r->link.mtu = h->br_mtu[i];
                r->set = LINK_F_MTU;
                for (unsigned e = 0; e < N_ETH; e++)
                        if (h->br_ports[i] & (1u << e))
                                *(char **) array_push(&r->link.interfaces.v, &r->link.interfaces.n, sizeof(char *)) =
                                        xasprintf("eth%u", e);
                model_add(&fake_live, r);
        }
        for (unsigned i = 0; i < N_VLAN; i++) {
                char name[16];
                snprintf(name, sizeof(name), "vl%u", i);
                if (!h->vl_declared[i])
                        continue;
                struct resource *r = resource_new(KIND_VLAN, name);
                r->link.mtu = h->vl_mtu[i];
                r->link.vlan_id = h->vl_id[i];
                parent_name(h->vl_parent[i], r->link.link, sizeof(r->link.link));
                r->set = LINK_F_MTU | LINK_F_ID | LINK_F_LINK;
                model_add(&fake_live, r);
        }
        struct resource *r = resource_new(KIND_BRIDGE, "docker0");
        r->link.mtu = 1500;
        model_add(&fake_live, r);
}

/* A fresh state dir whose ledger owns what h declares (present); on tmpfs
 * where there is one, where the ledger's fsyncs cost nothing. */
static void state_in_sync(char *dir, size_t size, const struct host *h) {
        snprintf(dir, size, "%s/rct-scope-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        assert_non_null(mkdtemp(dir));
        struct ledger l;
        assert_int_equal(ledger_load(&l, dir), 0);
        char name[16];
        for (unsigned i = 0; i < N_BR; i++)
                if (h->br_declared[i] && !h->br_absent[i]) {
                        snprintf(name, sizeof(name), "br%u", i);
                        ledger_add(&l, "netns:host", KIND_BRIDGE, name);
                }
        for (unsigned i = 0; i < N_VLAN; i++)
                if (h->vl_declared[i]) {
                        snprintf(name, sizeof(name), "vl%u", i);
                        ledger_add(&l, "netns:host", KIND_VLAN, name);
                }
        l.dirty = true;
        assert_int_equal(ledger_save(&l), 0);
        ledger_done(&l);
}

/* What a pass showed: each reported plan, with every field a person or apply sees. */
struct transcript {
        char *text;
        size_t len;
        FILE *f;
};

static void plan_write(FILE *f, const struct plan *p) {
        fprintf(f, "actions %zu errors %u guard %zu/%zu %d\n", p->n_actions, p->n_errors, p->n_deletes,
                p->n_managed_in_scope, p->mass_delete_refused);
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                fprintf(f, "%s %s %s key=%s pos=%s:%u:%u result=%d reason=%s risk=%s\n", op_to_string(a->op),
                        kind_to_string(a->kind), a->name, a->key, a->pos.file ? a->pos.file : "-", a->pos.line,
                        a->pos.col, a->result, a->reason ? a->reason : "-", a->risk ? a->risk : "-");
                for (size_t j = 0; j < a->n_changes; j++) {
                        char was[256], now[256];
                        const char *from = change_words(a, &a->changes[j], false, was, sizeof(was));
                        const char *to = change_words(a, &a->changes[j], true, now, sizeof(now));
                        fprintf(f, "  %s %s -> %s\n", a->changes[j].name, from ? from : "-", to ? to : "-");
                }
        }
        for (size_t i = 0; i < p->n_pending; i++)
                fprintf(f, "pending %s %s %s\n", kind_to_string(p->pending[i].kind), p->pending[i].name,
                        p->pending[i].reason);
}

static void on_report(void *u, const struct pass_report *rep) {
        struct transcript *t = u;
        fprintf(t->f, "event %d failed %d\n", (int) rep->event, rep->failed);
        if (rep->plan)
                plan_write(t->f, rep->plan);
}

struct outcome {
        char *transcript; /* the reports, then the errors, the apply log and the ledger */
        size_t n_actions;
};

static void pass_in(const char *dir, struct model *want, struct edit_scope *sc, struct outcome *out) {
        struct transcript t = { 0 };
        t.f = open_memstream(&t.text, &t.len);
        char *errs = NULL;
        size_t errs_len = 0;
        FILE *ef = open_memstream(&errs, &errs_len);
        diag_set_stream(ef);
        diag_reset();
        fake_log[0] = '\0';
        struct pass_opts po = { .run = { .state_dir = dir, .edit = sc }, .report = on_report, .u = &t };
        struct pass_result res;
        pass_run(&po, want, &res);
        diag_set_stream(NULL);
        fclose(ef);
        char path[128];
        snprintf(path, sizeof(path), "%s/ledger", dir);
        char *ledger = file_read(path);
        fprintf(t.f, "status %d actions %zu done %zu pending %zu\nerrors:\n%s\nlog: %s\nledger:\n%s\n", res.status,
                res.n_actions, res.n_done, res.n_pending, errs ? errs : "", fake_log, ledger ? ledger : "(none)");
        fclose(t.f);
        free(errs);
        free(ledger);
        out->transcript = t.text;
        out->n_actions = res.n_actions;
}

static void rm_dir(const char *dir) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

struct tally {
        unsigned runs, with_actions, with_deletes, refused, narrower;
};

/* One edit: the full pass and the scoped pass, each on a copy of the same host. */
static void compare_sets(const struct host *before, const struct host *after, struct manifest_set *s0,
                         struct manifest_set *s1, struct tally *t);

static void compare_once(const struct host *before, const struct host *after, struct tally *t) {
        struct manifest_set s0, s1;
        parse(&s0, before);
        parse(&s1, after);
        compare_sets(before, after, &s0, &s1, t);
        manifests_done(&s0);
        manifests_done(&s1);
}

/* The scoped pass from s0 to s1 against the full pass over s1. */
static void compare_sets(const struct host *before, const struct host *after, struct manifest_set *s0,
                         struct manifest_set *s1, struct tally *t) {
        struct edit_scope sc;
        char dir_full[80], dir_scoped[80];
        struct outcome full, scoped;
        assert_int_equal(edit_scope_compute(&s0->model, &s1->model, &sc), 0);

        live_in_sync(before);
        state_in_sync(dir_full, sizeof(dir_full), before);
        pass_in(dir_full, &s1->model, NULL, &full);
        state_in_sync(dir_scoped, sizeof(dir_scoped), before);
        pass_in(dir_scoped, &s1->model, &sc, &scoped);

        if (strcmp(full.transcript, scoped.transcript) != 0) {
                char *y0 = host_yaml(before), *y1 = host_yaml(after);
                fprintf(stderr, "before:\n%s\nafter:\n%s\nFULL:\n%s\nSCOPED:\n%s\n", y0, y1, full.transcript,
                        scoped.transcript);
                free(y0);
                free(y1);
        }
        assert_string_equal(full.transcript, scoped.transcript);
        t->runs++;
        t->with_actions += full.n_actions > 0;
        t->with_deletes += strstr(full.transcript, "\ndelete ") != NULL;
        t->refused += strstr(full.transcript, "refusing to delete") != NULL;
        t->narrower += sc.want.n < s1->model.n;

        free(full.transcript);
        free(scoped.transcript);
        edit_scope_done(&sc);
        rm_dir(dir_full);
        rm_dir(dir_scoped);
        model_done(&fake_live);
}

static void test_random_edits_plan_and_apply_as_a_full_run(void **state) {
        (void) state;
        struct tally t = { 0 };
        srand(16);
        for (int i = 0; i < 400; i++) {
                struct host before, after;
                host_random(&before);
                after = before;
                for (unsigned n = 1 + rnd(3); n; n--)
                        host_edit(&after);
                compare_once(&before, &after, &t);
        }
        if (getenv("SCOPE_TALLY"))
                fprintf(stderr, "runs %u actions %u deletes %u refused %u narrower %u\n", t.runs, t.with_actions, t.with_deletes, t.refused, t.narrower);
        /* The comparison covered what matters: plans with actions, deletes, the
         * guard refusing, and scopes narrower than the whole manifests. */
        assert_int_equal(t.runs, 400);
        assert_true(t.with_actions > 100);
        assert_true(t.with_deletes > 20);
        assert_true(t.refused > 5);
        assert_true(t.narrower > 100);
}

static void test_equal_through_the_tables(void **state) {
        (void) state;
        struct host h;
        srand(3);
        host_random(&h);
        h.br_declared[0] = true;
        h.br_absent[0] = false;
        struct manifest_set a, b;
        parse(&a, &h);
        parse(&b, &h);
        for (size_t i = 0; i < a.model.n; i++)
                assert_true(resource_equal(a.model.v[i], b.model.v[i]));
        manifests_done(&b);
        h.br_mtu[0] = h.br_mtu[0] == 1500 ? 9000 : 1500;
        parse(&b, &h);
        assert_false(resource_equal(model_find(&a.model, KIND_BRIDGE, "br0"), model_find(&b.model, KIND_BRIDGE, "br0")));
        manifests_done(&a);
        manifests_done(&b);
}

/* An MTU edit of one VLAN: its parent comes into scope (it needs it), the
 * bridges do not; no edit, no scope. */
static void test_scope_holds_the_edit_and_what_it_needs(void **state) {
        (void) state;
        struct host h = { 0 };
        for (unsigned i = 0; i < N_ETH; i++)
                h.eth_declared[i] = true, h.eth_mtu[i] = 1500;
        for (unsigned i = 0; i < N_BR; i++)
                h.br_declared[i] = true, h.br_mtu[i] = 1500;
        h.br_ports[0] = 1u << 0;
        h.vl_declared[0] = true, h.vl_id[0] = 10, h.vl_parent[0] = 1, h.vl_mtu[0] = 1500;
        struct host e = h;
        e.vl_mtu[0] = 9000;
        struct manifest_set s0, s1, s2;
        struct edit_scope sc;
        parse(&s0, &h);
        parse(&s1, &e);
        parse(&s2, &h);
        assert_int_equal(edit_scope_compute(&s0.model, &s2.model, &sc), 0);
        assert_int_equal(sc.n_changed, 0);
        assert_int_equal(sc.keys.n, 0);
        edit_scope_done(&sc);
        assert_int_equal(edit_scope_compute(&s0.model, &s1.model, &sc), 0);
        assert_int_equal(sc.n_changed, 1);
        assert_true(edit_scope_has(&sc, KIND_VLAN, "vl0"));
        assert_true(edit_scope_has(&sc, KIND_ETHERNET, "eth1"));
        assert_false(edit_scope_has(&sc, KIND_BRIDGE, "br0"));
        assert_false(edit_scope_has(&sc, KIND_ETHERNET, "eth0"));
        assert_int_equal(sc.want.n, 2);
        edit_scope_done(&sc);
        /* A port's edit brings in the bridge that holds it. */
        e = h;
        e.eth_mtu[0] = 9000;
        manifests_done(&s1);
        parse(&s1, &e);
        assert_int_equal(edit_scope_compute(&s0.model, &s1.model, &sc), 0);
        assert_true(edit_scope_has(&sc, KIND_BRIDGE, "br0"));
        assert_false(edit_scope_has(&sc, KIND_BRIDGE, "br1"));
        edit_scope_done(&sc);
        manifests_done(&s0);
        manifests_done(&s1);
        manifests_done(&s2);
}

/* A bridge that left the manifests (its file removed) is deleted by the scoped
 * pass; the guard counts every owned bridge, not only the scope's. */
static void test_scoped_prune_and_guard(void **state) {
        (void) state;
        struct host h = { 0 };
        for (unsigned i = 0; i < N_BR; i++)
                h.br_declared[i] = true, h.br_mtu[i] = 1500;
        struct host e = h;
        e.br_declared[2] = false;
        struct manifest_set s0, s1;
        struct edit_scope sc;
        struct outcome out;
        char dir[80];
        parse(&s0, &h);
        parse(&s1, &e);
        assert_int_equal(edit_scope_compute(&s0.model, &s1.model, &sc), 0);
        assert_int_equal(sc.want.n, 0);
        live_in_sync(&h);
        state_in_sync(dir, sizeof(dir), &h);
        pass_in(dir, &s1.model, &sc, &out);
        assert_string_equal(fake_log, "delete br2");
        assert_non_null(strstr(out.transcript, "guard 0/0 0"));
        free(out.transcript);
        rm_dir(dir);
        edit_scope_done(&sc);
        manifests_done(&s1);
        /* Three of five gone: refused, as a full run refuses it. */
        e.br_declared[0] = e.br_declared[1] = false;
        parse(&s1, &e);
        assert_int_equal(edit_scope_compute(&s0.model, &s1.model, &sc), 0);
        state_in_sync(dir, sizeof(dir), &h);
        pass_in(dir, &s1.model, &sc, &out);
        assert_string_equal(fake_log, "");
        assert_non_null(strstr(out.transcript, "guard 3/5 1"));
        assert_non_null(strstr(out.transcript, "refusing to delete 3 of 5"));
        free(out.transcript);
        rm_dir(dir);
        edit_scope_done(&sc);
        manifests_done(&s0);
        manifests_done(&s1);
        model_done(&fake_live);
}

/* ---- the daemon's loads: each file's parse kept while its text stays ---- */

/* Write name in dir as an editor does: beside it, then renamed into place. */
static void put(const char *dir, const char *name, const char *text) {
        char tmp[160], path[160];
        snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(tmp, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(rename(tmp, path), 0);
}

/* The host in three files, one per section. */
static void put_host(const char *dir, const struct host *h) {
        char *y = host_yaml(h), *br = strstr(y, "\nbridges:"), *vl = strstr(y, "\nvlans:");
        char *c = xasprintf("version: 1%s", vl);
        *vl = '\0';
        char *b = xasprintf("version: 1%s\n", br);
        br[1] = '\0';
        put(dir, "a.yaml", y);
        put(dir, "b.yaml", b);
        put(dir, "c.yaml", c);
        free(y);
        free(b);
        free(c);
}

struct load {
        int r;
        char *said;
        unsigned errors;
        struct manifest_set set;
};

static void load(const char *dir, struct manifest_cache *cache, struct load *l) {
        size_t len = 0;
        memset(l, 0, sizeof(*l));
        FILE *f = open_memstream(&l->said, &len);
        diag_set_stream(f);
        diag_reset();
        l->r = cache ? manifests_load_cached(dir, "kvm1", true, cache, &l->set) : manifests_load(dir, "kvm1", true, &l->set);
        l->errors = diag_error_count();
        diag_set_stream(NULL);
        fclose(f);
}

static void load_done(struct load *l) {
        manifests_done(&l->set);
        free(l->said);
        memset(l, 0, sizeof(*l));
}

static void assert_same_pos(const struct srcpos *a, const struct srcpos *b) {
        assert_string_equal(a->file ? a->file : "-", b->file ? b->file : "-");
        assert_int_equal(a->line, b->line);
        assert_int_equal(a->col, b->col);
}

/* A key only the kind's parser reads (a domain's cloud-init) is unequal
 * through the tables in any two parses (scope.c: it widens a scope). */
static bool custom_given(const struct resource *r) {
        const struct kind_ops *k = kind_ops(r->kind);
        for (size_t i = 0; i < k->n_fields; i++) {
                const struct field *f = &k->fields[i];
                if (k->identity || !(r->set & f->bit))
                        continue;
                if (f->type == FT_CUSTOM)
                        return true;
                const struct sub_table *t = f->type == FT_OBJ ? f->extra : NULL;
                for (size_t j = 0; t && j < t->n_fields; j++)
                        if (t->fields[j].type == FT_CUSTOM)
                                return true;
        }
        return false;
}

/* The cached load said, returned and built what the full one did. */
static void assert_same_load(const struct load *full, const struct load *cached) {
        assert_int_equal(full->r, cached->r);
        assert_string_equal(full->said, cached->said);
        assert_int_equal(full->errors, cached->errors);
        assert_string_equal(full->set.digest, cached->set.digest);
        assert_int_equal(full->set.n_files, cached->set.n_files);
        assert_int_equal(full->set.n_skipped_host, cached->set.n_skipped_host);
        assert_int_equal(full->set.model.n, cached->set.model.n);
        for (size_t i = 0; i < full->set.model.n; i++) {
                const struct resource *a = full->set.model.v[i], *b = cached->set.model.v[i];
                assert_int_equal(a->kind, b->kind);
                assert_string_equal(a->name, b->name);
                assert_true(resource_equal(a, b) || custom_given(a));
                assert_same_pos(&a->pos, &b->pos);
                if (kind_is_link(a->kind)) { /* what validate fills in, which no table field holds */
                        assert_string_equal(a->link.link, b->link.link);
                        assert_string_equal(a->link.made_by, b->link.made_by);
                }
                assert_int_equal(a->n_refs, b->n_refs);
                for (size_t j = 0; j < a->n_refs; j++) {
                        assert_string_equal(a->refs[j].name, b->refs[j].name);
                        assert_same_pos(&a->refs[j].pos, &b->refs[j].pos);
                }
                assert_int_equal(a->n_keys, b->n_keys);
                for (size_t j = 0; j < a->n_keys; j++)
                        assert_same_pos(&a->keys[j].pos, &b->keys[j].pos);
                if (a->kind != KIND_IPSET)
                        continue;
                /* The entries in their order, and the numbers the check keeps beside them. */
                assert_int_equal(a->ipset.entries.n, b->ipset.entries.n);
                for (size_t j = 0; j < a->ipset.entries.n; j++)
                        assert_string_equal(a->ipset.entries.v[j], b->ipset.entries.v[j]);
                assert_int_equal(a->ipset.n_entry_keys, b->ipset.n_entry_keys);
                assert_int_equal(a->ipset.entry_keys == NULL, b->ipset.entry_keys == NULL);
                for (size_t j = 0; j < a->ipset.n_entry_keys; j++)
                        assert_true(a->ipset.entry_keys[j] == b->ipset.entry_keys[j]);
        }
}

/* The scope of an edit from the cached sets (which share what did not
 * change) is the scope from the full ones. */
static void assert_same_scope(const struct load *full0, const struct load *full1, const struct load *cached0,
                              const struct load *cached1) {
        struct edit_scope a, b;
        assert_int_equal(edit_scope_compute(&full0->set.model, &full1->set.model, &a), 0);
        assert_int_equal(edit_scope_compute(&cached0->set.model, &cached1->set.model, &b), 0);
        assert_int_equal(a.n_changed, b.n_changed);
        assert_int_equal(a.n_removed, b.n_removed);
        assert_int_equal(a.keys.n, b.keys.n);
        for (size_t i = 0; i < a.keys.n; i++)
                assert_non_null(model_find(&b.keys, a.keys.v[i]->kind, a.keys.v[i]->name));
        assert_int_equal(a.want.n, b.want.n);
        edit_scope_done(&a);
        edit_scope_done(&b);
}

/* The directory as it is, loaded in full and through the cache: the same.
 * The last loads (*full, *cached) are replaced by these. */
static void step(const char *dir, struct manifest_cache *cache, struct load *full, struct load *cached) {
        struct load f, c;
        load(dir, NULL, &f);
        load(dir, cache, &c);
        assert_same_load(&f, &c);
        if (full->r >= 0 && f.r >= 0 && full->set.model.n)
                assert_same_scope(full, &f, cached, &c);
        load_done(full);
        load_done(cached);
        *full = f;
        *cached = c;
}

static char *temp_dir(void) {
        char *dir = xasprintf("%s/rct-cache-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        assert_non_null(mkdtemp(dir));
        return dir;
}

/* Random edits of a host in three files: each load through the cache is the
 * full load, and the scoped pass over the cached sets is the full pass. */
static void test_cache_random_edits_load_as_a_full_parse(void **state) {
        (void) state;
        struct tally t = { 0 };
        struct manifest_cache cache = { 0 };
        struct load full = { 0 }, cached = { 0 };
        char *dir = temp_dir();
        unsigned shared = 0, invalid = 0;
        srand(17);
        for (int i = 0; i < 150; i++) {
                /* A host in sync with what it declares (the daemon's premise for a scoped run), then an edit. */
                struct host h;
                host_random(&h);
                put_host(dir, &h);
                step(dir, &cache, &full, &cached);
                struct host e = h;
                for (unsigned n = 1 + rnd(2); n; n--)
                        host_edit(&e);
                struct load was = { 0 };
                load(dir, &cache, &was);
                put_host(dir, &e);
                step(dir, &cache, &full, &cached);
                /* An edit may make what does not validate (a VLAN above its parent's MTU). */
                if (was.r == 0 && cached.r == 0)
                        compare_sets(&h, &e, &was.set, &cached.set, &t);
                invalid += cached.r < 0;
                /* A file the edit left as it was is not read again: its resources are the last load's. */
                for (size_t j = 0; j < was.set.model.n; j++)
                        shared += model_find(&cached.set.model, was.set.model.v[j]->kind, was.set.model.v[j]->name) ==
                                  was.set.model.v[j];
                load_done(&was);
        }
        if (getenv("SCOPE_TALLY"))
                fprintf(stderr, "runs %u actions %u invalid %u shared %u\n", t.runs, t.with_actions, invalid, shared);
        assert_true(t.runs > 50);
        assert_true(invalid > 5);
        assert_true(t.with_actions > 30);
        assert_true(shared > 150);
        load_done(&full);
        load_done(&cached);
        manifest_cache_done(&cache);
        rm_dir(dir);
        free(dir);
}

/* Renames, deletes, duplicates across files, an error then its fix, a
 * kind's check that reads the files before it and a validate that writes. */
static void test_cache_follows_renames_deletes_duplicates_errors(void **state) {
        (void) state;
        struct manifest_cache cache = { 0 };
        struct load full = { 0 }, cached = { 0 };
        char *dir = temp_dir(), path[160];
        put(dir, "a.yaml", "version: 1\nethernets:\n  eth0: { mtu: 9000 }\n");
        put(dir, "b.yaml", "version: 1\nbridges:\n  br0: { interfaces: [eth0] }\n");
        put(dir, "c.yaml", "version: 1\nbridges:\n  br1: { mtu: 1400 }\n");
        put(dir, "d.yaml", "version: 1\nhost: other*\nbridges:\n  br9: {}\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        assert_int_equal(cached.set.model.n, 3);
        assert_int_equal(cached.set.n_skipped_host, 1);
        const struct resource *eth0 = model_find(&cached.set.model, KIND_ETHERNET, "eth0");

        /* An edit in one file: the others' resources are the last load's. */
        put(dir, "c.yaml", "version: 1\nbridges:\n  br1: { mtu: 1500 }\n");
        step(dir, &cache, &full, &cached);
        assert_ptr_equal(model_find(&cached.set.model, KIND_ETHERNET, "eth0"), eth0);
        assert_int_equal(model_find(&cached.set.model, KIND_BRIDGE, "br1")->link.mtu, 1500);
        assert_int_equal(cached.set.n_skipped_host, 1);

        /* A file renamed over another, of the same size and time as the one it replaces. */
        put(dir, "x.yaml", "version: 1\nbridges:\n  br2: { mtu: 1500 }\n");
        struct stat st;
        snprintf(path, sizeof(path), "%s/c.yaml", dir);
        assert_int_equal(stat(path, &st), 0);
        char from[160];
        snprintf(from, sizeof(from), "%s/x.yaml", dir);
        struct timespec times[2] = { st.st_atim, st.st_mtim };
        assert_int_equal(utimensat(AT_FDCWD, from, times, 0), 0);
        assert_int_equal(rename(from, path), 0);
        step(dir, &cache, &full, &cached);
        assert_non_null(model_find(&cached.set.model, KIND_BRIDGE, "br2"));
        assert_null(model_find(&cached.set.model, KIND_BRIDGE, "br1"));

        /* A file deleted: its bridge goes, the rest stays. */
        assert_int_equal(unlink(path), 0);
        step(dir, &cache, &full, &cached);
        assert_null(model_find(&cached.set.model, KIND_BRIDGE, "br2"));
        assert_ptr_equal(model_find(&cached.set.model, KIND_ETHERNET, "eth0"), eth0);

        /* A duplicate in a later file, then in an earlier one (the file kept
         * from the last load reports it, at its own key), then neither. */
        put(dir, "c.yaml", "version: 1\nbridges:\n  br0: { mtu: 1500 }\n");
        step(dir, &cache, &full, &cached);
        assert_true(cached.r < 0);
        assert_non_null(strstr(cached.said, "c.yaml:3:3: error: bridge br0 is already defined"));
        assert_int_equal(unlink(path), 0);
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        put(dir, "a.yaml", "version: 1\nethernets:\n  eth0: { mtu: 9000 }\nbridges:\n  br0: {}\n");
        step(dir, &cache, &full, &cached);
        assert_true(cached.r < 0);
        assert_non_null(strstr(cached.said, "b.yaml:3:3: error: bridge br0 is already defined"));
        put(dir, "a.yaml", "version: 1\nethernets:\n  eth0: { mtu: 9000 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);

        /* An error in one file, then fixed: the other files are still the cache's. */
        eth0 = model_find(&cached.set.model, KIND_ETHERNET, "eth0");
        put(dir, "b.yaml", "version: 1\nbridges:\n  br0: { interfaces: [eth0], mtu: many }\n");
        step(dir, &cache, &full, &cached);
        assert_true(cached.r < 0);
        assert_non_null(strstr(cached.said, "b.yaml:3:"));
        put(dir, "b.yaml", "version: 1\nbridges:\n  br0: { interfaces: [eth0], mtu: 9000 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        assert_ptr_equal(model_find(&cached.set.model, KIND_ETHERNET, "eth0"), eth0);

        /* A bond takes its MTU from a member in another file (validate writes
         * it): a member's edit changes the bond kept from the last load, which
         * stays as it was for the set that still holds it. */
        put(dir, "a.yaml", "version: 1\nethernets:\n  eth0: {}\n  eth1: {}\n");
        put(dir, "b.yaml", "version: 1\nbonds:\n  bond0: { interfaces: [eth1] }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        struct load was = { 0 };
        load(dir, &cache, &was);
        const struct resource *bond = model_find(&was.set.model, KIND_BOND, "bond0");
        assert_false(bond->set & LINK_F_MTU);
        put(dir, "a.yaml", "version: 1\nethernets:\n  eth0: {}\n  eth1: { mtu: 9000 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(model_find(&cached.set.model, KIND_BOND, "bond0")->link.mtu, 9000);
        assert_false(bond->set & LINK_F_MTU);
        load_done(&was);
        put(dir, "a.yaml", "version: 1\nethernets:\n  eth0: {}\n  eth1: { mtu: 1500 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(model_find(&cached.set.model, KIND_BOND, "bond0")->link.mtu, 1500);

        /* A network's check reads the networks of the files before it: an
         * earlier file's edit makes a clash that the later, unchanged file reports. */
        put(dir, "a.yaml", "version: 1\nnetworks:\n  n1: { mode: nat, bridge: virbr9 }\n");
        put(dir, "b.yaml", "version: 1\nnetworks:\n  n2: { mode: nat, bridge: virbr8 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        put(dir, "a.yaml", "version: 1\nnetworks:\n  n1: { mode: nat, bridge: virbr8 }\n");
        step(dir, &cache, &full, &cached);
        assert_true(cached.r < 0);
        assert_non_null(strstr(cached.said, "b.yaml:3:"));

        /* A validate that writes into another file's resource: an OVS internal
         * port names its NIC entry's parent, a veth its peer's maker. Moved
         * and then removed, the unchanged NIC file is the full parse's. */
        put(dir, "a.yaml", "version: 1\nethernets:\n  vm-mgmt: { mtu: 1400 }\n  v1: {}\n");
        put(dir, "b.yaml", "version: 1\novs-bridges:\n  br-ovs:\n    stp: false\n    ports:\n      vm-mgmt: { type: internal }\n"
                           "  br2: { stp: false }\nveths:\n  v0: { peer: v1 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        assert_string_equal(model_find(&cached.set.model, KIND_ETHERNET, "vm-mgmt")->link.link, "br-ovs");
        put(dir, "b.yaml", "version: 1\novs-bridges:\n  br-ovs: { stp: false }\n  br2:\n    stp: false\n    ports:\n      vm-mgmt: { type: internal }\n"
                           "veths:\n  v0: { peer: v1 }\n");
        step(dir, &cache, &full, &cached);
        assert_string_equal(model_find(&cached.set.model, KIND_ETHERNET, "vm-mgmt")->link.link, "br2");
        put(dir, "b.yaml", "version: 1\novs-bridges:\n  br-ovs: { stp: false }\n");
        step(dir, &cache, &full, &cached);
        assert_string_equal(model_find(&cached.set.model, KIND_ETHERNET, "vm-mgmt")->link.link, "");
        assert_string_equal(model_find(&cached.set.model, KIND_ETHERNET, "v1")->link.made_by, "");

        /* What a parse takes from the host or from other files is not kept:
         * a tap's owner by name (the user database), a domain's cloud-init
         * seed read from a file beside the manifest. */
        put(dir, "a.yaml", "version: 1\ntaps:\n  tap0: { owner: root }\n");
        put(dir, "b.yaml", "version: 1\nbridges:\n  br0: {}\n");
        put(dir, "ud.cfg", "#cloud-config\nhostname: one\n");
        put(dir, "c.yaml", "version: 1\npools:\n  p:\n    type: dir\n    path: /p\n    volumes:\n"
                           "      c1-root: { capacity: 1G }\n"
                           "domains:\n  c1:\n    memory: 128M\n    disks:\n      - { volume: p/c1-root }\n"
                           "    cloud-init: { user-data: ./ud.cfg }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        const struct resource *tap = model_find(&cached.set.model, KIND_TAP, "tap0");
        const struct resource *pool = model_find(&cached.set.model, KIND_POOL, "p");
        put(dir, "ud.cfg", "#cloud-config\nhostname: two\n");
        put(dir, "b.yaml", "version: 1\nbridges:\n  br0: { mtu: 1400 }\n");
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        assert_ptr_not_equal(model_find(&cached.set.model, KIND_TAP, "tap0"), tap);
        assert_ptr_not_equal(model_find(&cached.set.model, KIND_POOL, "p"), pool);
        assert_string_equal(model_find(&cached.set.model, KIND_DOMAIN, "c1")->domain.cloud_init.content[SEED_USER_DATA],
                            "#cloud-config\nhostname: two\n");

        load_done(&full);
        load_done(&cached);
        manifest_cache_done(&cache);
        rm_dir(dir);
        free(dir);
}

/* A set of 40 entries, entry i written as words[i] (NULL: 10.0.0.i), and a
 * line after the list when tail. */
static char *set_yaml(const char *const *words, bool tail) {
        char *y = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&y, &len);
        fprintf(f, "version: 1\nipsets:\n  allow:\n    type: hash:ip\n    entries:\n");
        for (unsigned i = 0; i < 40; i++)
                if (words[i])
                        fprintf(f, "      - %s\n", words[i]);
                else
                        fprintf(f, "      - 10.0.0.%u\n", i);
        if (tail)
                fprintf(f, "  deny: { type: hash:ip }\n");
        fclose(f);
        return y;
}

/* An edit inside a long list: the file's last runs are moved onto the new
 * text (as many lines, each still an item) or looked for again; either way
 * the load is a full one's, positions and errors included. */
static void test_cache_edits_inside_a_list(void **state) {
        (void) state;
        struct manifest_cache cache = { 0 };
        struct load full = { 0 }, cached = { 0 };
        char *dir = temp_dir();
        put(dir, "a.yaml", "version: 1\nbridges:\n  br0: {}\n");
        static const struct {
                unsigned at;
                const char *word; /* entry at, or an extra line when at is 99 */
                bool tail;
                bool valid;
        } edits[] = {
                { 0, NULL, true, true },           /* as first written */
                { 10, "192.0.2.1", true, true },   /* one entry, longer */
                { 10, "1.2.3.4", true, true },     /* shorter */
                { 0, "192.0.2.2", true, true },    /* the first line of the run */
                { 38, "192.0.2.3", true, true },   /* the run's last line */
                { 39, "192.0.2.4", true, true },   /* the list's last line, not in the run */
                { 12, "10.0.0.20", true, false },  /* listed twice */
                { 12, "10.0.0.300", true, false }, /* not an address */
                { 12, "{ a: b }", true, false },   /* no longer a word */
                { 12, "10.0.0.12", false, true },  /* and the line after the list gone */
                { 12, "10.0.0.12\n      - 10.0.1.1", false, true }, /* a line more */
        };
        const char *words[40] = { 0 };
        for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
                if (i)
                        words[edits[i].at] = edits[i].word;
                char *y = set_yaml(words, edits[i].tail);
                put(dir, "s.yaml", y);
                free(y);
                step(dir, &cache, &full, &cached);
                assert_int_equal(cached.r == 0, edits[i].valid);
                if (edits[i].valid) {
                        const struct resource *r = model_find(&cached.set.model, KIND_IPSET, "allow");
                        assert_non_null(r);
                        assert_int_equal(r->ipset.entries.n, 40 + (i == ELEMENTSOF(edits) - 1));
                }
                words[edits[i].at] = edits[i].valid ? edits[i].word : NULL;
        }
        load_done(&full);
        load_done(&cached);
        manifest_cache_done(&cache);
        rm_dir(dir);
        free(dir);
}

/* A file of three sets: allow (hash:ip) and six (inet6) with long lists
 * written from v4[] and v6[], and deny between them. */
#define LONG_N 600
static char *long_sets_yaml(char v4[][24], char v6[][40]) {
        char *y = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&y, &len);
        fprintf(f, "version: 1\nipsets:\n  allow:\n    type: hash:ip\n    entries:\n");
        for (unsigned i = 0; i < LONG_N; i++)
                fprintf(f, "      - %s\n", v4[i]);
        fprintf(f, "  deny: { type: hash:ip, entries: [10.9.9.9] }\n");
        fprintf(f, "  six:\n    type: hash:ip\n    family: inet6\n    entries:\n");
        for (unsigned i = 0; i < LONG_N; i++)
                fprintf(f, "      - %s\n", v6[i]);
        fclose(f);
        return y;
}

/* Random edits of a few lines inside a long list: the patched load (the
 * other sets shared with the last load) is a full parse's, entries, their
 * order, numbers, errors and positions included; the unusual (many lines, a
 * duplicate, a bad or non-canonical address, an IPv6 set) parsed again. */
static void test_cache_patches_a_long_list(void **state) {
        (void) state;
        struct manifest_cache cache = { 0 };
        struct load full = { 0 }, cached = { 0 };
        char *dir = temp_dir();
        static char v4[LONG_N][24], v6[LONG_N][40];
        for (unsigned i = 0; i < LONG_N; i++) {
                snprintf(v4[i], sizeof(v4[i]), "10.1.%u.%u", i / 200, i % 200 + 1);
                snprintf(v6[i], sizeof(v6[i]), "2001:db8::%x", i + 1);
        }
        put(dir, "a.yaml", "version: 1\nbridges:\n  br0: {}\n");
        char *y = long_sets_yaml(v4, v6);
        put(dir, "s.yaml", y);
        free(y);
        step(dir, &cache, &full, &cached);
        assert_int_equal(cached.r, 0);
        srand(29);
        unsigned patched = 0, invalid = 0, serial = 0;
        for (int round = 0; round < 120; round++) {
                const struct resource *deny = model_find(&cached.set.model, KIND_IPSET, "deny");
                bool was_valid = cached.r == 0;
                unsigned lines = rnd(4) == 0 ? 1 + rnd(12) : 1 + rnd(3), bad = rnd(10);
                for (unsigned k = 0; k < lines; k++) {
                        /* The first and last line of the run (the list's last is libyaml's) often. */
                        unsigned at = rnd(5) == 0 ? 0 : rnd(5) == 0 ? LONG_N - 2 : rnd(5) == 0 ? LONG_N - 1 : rnd(LONG_N);
                        if (rnd(8) == 0) {
                                snprintf(v6[at], sizeof(v6[at]), "2001:db8:1::%x", ++serial);
                                continue;
                        }
                        if (bad == 0 && k == 0)
                                memcpy(v4[at], v4[(at + 1 + rnd(LONG_N - 1)) % LONG_N], sizeof(v4[at])); /* twice */
                        else if (bad == 1 && k == 0)
                                snprintf(v4[at], sizeof(v4[at]), "10.2.0.%u", 256 + rnd(100)); /* not an address */
                        else if (bad == 2 && k == 0)
                                snprintf(v4[at], sizeof(v4[at]), "10.2.0.0%u", 1 + rnd(9)); /* not canonical */
                        else
                                snprintf(v4[at], sizeof(v4[at]), "172.16.%u.%u", serial / 250, serial % 250 + 1), serial++;
                }
                y = long_sets_yaml(v4, v6);
                put(dir, "s.yaml", y);
                free(y);
                step(dir, &cache, &full, &cached);
                invalid += cached.r < 0;
                const struct resource *now = model_find(&cached.set.model, KIND_IPSET, "deny");
                patched += was_valid && cached.r == 0 && now == deny;
                if (cached.r < 0) {
                        /* A fix: every entry new, the file parsed whole. */
                        load_done(&full);
                        load_done(&cached);
                        for (unsigned i = 0; i < LONG_N; i++)
                                snprintf(v4[i], sizeof(v4[i]), "10.3.%u.%u", (i + round * LONG_N) / 200 % 250, i % 200 + 1);
                        y = long_sets_yaml(v4, v6);
                        put(dir, "s.yaml", y);
                        free(y);
                        step(dir, &cache, &full, &cached);
                        assert_int_equal(cached.r, 0);
                }
        }
        if (getenv("SCOPE_TALLY"))
                fprintf(stderr, "patched %u invalid %u\n", patched, invalid);
        assert_true(patched > 40);
        assert_true(invalid > 10);
        load_done(&full);
        load_done(&cached);
        manifest_cache_done(&cache);
        rm_dir(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_equal_through_the_tables),
                cmocka_unit_test(test_scope_holds_the_edit_and_what_it_needs),
                cmocka_unit_test(test_scoped_prune_and_guard),
                cmocka_unit_test(test_random_edits_plan_and_apply_as_a_full_run),
                cmocka_unit_test(test_cache_random_edits_load_as_a_full_parse),
                cmocka_unit_test(test_cache_follows_renames_deletes_duplicates_errors),
                cmocka_unit_test(test_cache_edits_inside_a_list),
                cmocka_unit_test(test_cache_patches_a_long_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
