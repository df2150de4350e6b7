/* How an ipset's entries are stored (reconcile.h's ipset_spec): the check
 * keeps a one-part IPv4 set's entries as numbers beside the text, a dump
 * keeps its entries' text in one block, and the diff finds the same changes
 * whichever way each side holds them: numbers or text, in one block or one
 * allocation each, in the same order or another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../backends/backends.h"
#include "../../parsers/parsers.h"

static struct manifest_set set;
static struct plan plan;
static struct resource *lives[8];
static size_t n_lives;

static int setup(void **state) {
        (void) state;
        memset(&set, 0, sizeof(set));
        memset(&plan, 0, sizeof(plan));
        return 0;
}

static int teardown(void **state) {
        (void) state;
        plan_done(&plan);
        for (size_t i = 0; i < n_lives; i++)
                resource_free(lives[i]);
        n_lives = 0;
        manifests_done(&set);
        return 0;
}

static const struct resource *want(const char *yaml, const char *name) {
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        assert_int_equal(manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1"), 0);
        assert_int_equal(manifests_validate(&set), 0);
        const struct resource *r = model_find(&set.model, KIND_IPSET, name);
        assert_non_null(r);
        return r;
}

enum storage { STRINGS, BLOCK, BLOCK_KEYS, STALE_KEYS };

static uint64_t key_of(const char *s) {
        unsigned a, b, c, d, p = 32;
        int n = sscanf(s, "%u.%u.%u.%u/%u", &a, &b, &c, &d, &p);
        assert_true(n >= 4);
        return ((uint64_t) (a << 24 | b << 16 | c << 8 | d)) << 8 | p;
}

/* A live hash:ip set holding entries as one of the storages. */
static struct resource *live_set(const char *name, const char *type, char *const *entries, size_t n, enum storage how) {
        assert_true(n_lives < sizeof(lives) / sizeof(lives[0]));
        struct resource *l = lives[n_lives++] = resource_new(KIND_IPSET, name);
        struct ipset_spec *v = &l->ipset;
        snprintf(v->type, sizeof(v->type), "%s", type);
        v->family = FAMILY_INET;
        v->hashsize = 1024;
        v->maxelem = 1u << 20;
        l->set = SET_F_TYPE | SET_F_FAMILY | SET_F_MAXELEM | SET_F_HASHSIZE | SET_F_TIMEOUT | SET_F_COMMENT |
                 SET_F_ENTRIES;
        v->entries.v = xcalloc(n + 1, sizeof(char *));
        v->entries.n = n;
        if (how == STRINGS) {
                for (size_t i = 0; i < n; i++)
                        v->entries.v[i] = xstrdup(entries[i]);
                return l;
        }
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
                len += strlen(entries[i]) + 1;
        v->entry_block = xcalloc(len + 1, 1);
        for (size_t i = 0, at = 0; i < n; i++) {
                v->entries.v[i] = strcpy(v->entry_block + at, entries[i]);
                at += strlen(entries[i]) + 1;
        }
        if (how == BLOCK_KEYS || how == STALE_KEYS) {
                v->entry_keys = xcalloc(n + 1, sizeof(uint64_t));
                for (size_t i = 0; i < n; i++)
                        v->entry_keys[i] = key_of(entries[i]);
                /* Keys that no longer count what the list holds are not to be trusted. */
                v->n_entry_keys = how == STALE_KEYS ? n + 1 : n;
                if (how == STALE_KEYS)
                        v->entry_keys[0] = key_of("10.255.255.255");
        }
        return l;
}

static struct action *diff(const struct resource *w, const struct resource *have) {
        struct action *a = array_push(&plan.actions, &plan.n_actions, sizeof(*a));
        a->op = OP_UPDATE;
        a->kind = w->kind;
        a->name = xstrdup(w->name);
        a->key = xstrdup(have->name);
        a->want = w;
        a->live = have;
        a->backend = backend_for_kind(w->kind);
        assert_int_equal(kind_ops(w->kind)->diff(NULL, w, have, NULL, a, &plan), 0);
        return a;
}

/* The entry changes of a as "+E" and "-E" words in order, one string. */
static const char *entry_changes(const struct action *a) {
        static char buf[1 << 16];
        size_t len = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < a->n_changes && len < sizeof(buf); i++) {
                const struct change *c = &a->changes[i];
                assert_int_equal(c->field, SET_C_ENTRY);
                bool add = c->now.type == VAL_TEXT;
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%c%s", i ? " " : "", add ? '+' : '-',
                                         add ? c->now.text : c->was.text);
        }
        return buf;
}

static void test_check_keeps_numbers(void **state) {
        (void) state;
        const struct resource *r =
                want("version: 1\nipsets:\n  a: { type: hash:ip, entries: [10.0.0.1, 192.168.7.255] }\n", "a");
        assert_non_null(r->ipset.entry_keys);
        assert_int_equal(r->ipset.n_entry_keys, 2);
        assert_true(r->ipset.entry_keys[0] == key_of("10.0.0.1"));
        assert_true(r->ipset.entry_keys[1] == key_of("192.168.7.255"));
        r = want("version: 1\nipsets:\n  n: { type: hash:net, entries: [10.0.0.0/8, 10.1.2.3] }\n", "n");
        assert_non_null(r->ipset.entry_keys);
        assert_true(r->ipset.entry_keys[0] == key_of("10.0.0.0/8"));
        assert_true(r->ipset.entry_keys[1] == key_of("10.1.2.3/32"));
        /* Other types and families keep text only. */
        r = want("version: 1\nipsets:\n  s: { type: hash:ip, family: inet6, entries: [\"2001:db8::1\"] }\n", "s");
        assert_null(r->ipset.entry_keys);
        r = want("version: 1\nipsets:\n  p: { type: \"hash:ip,port\", entries: [\"10.0.0.1,tcp:80\"] }\n", "p");
        assert_null(r->ipset.entry_keys);
}

/* Every storage of the live side, against the manifest's (numbers from the check). */
static void test_diff_whatever_the_storage(void **state) {
        (void) state;
        const struct resource *w =
                want("version: 1\nipsets:\n  a: { type: hash:ip, entries: [10.0.0.1, 10.0.0.2, 10.0.0.4] }\n", "a");
        char *have[] = { "10.0.0.3", "10.0.0.2", "10.0.0.5" }, *same[] = { "10.0.0.4", "10.0.0.1", "10.0.0.2" };
        for (enum storage how = STRINGS; how <= STALE_KEYS; how++) {
                assert_string_equal(entry_changes(diff(w, live_set("a", "hash:ip", have, 3, how))),
                                    "+10.0.0.1 -10.0.0.3 +10.0.0.4 -10.0.0.5");
                assert_string_equal(entry_changes(diff(w, live_set("a", "hash:ip", same, 3, how))), "");
        }
}

/* A larger set in another order, a few entries apart, against the same
 * changes found by sorting text: the numbers' table probes past collisions. */
static void test_diff_of_a_large_set(void **state) {
        (void) state;
        enum { N = 20000 };
        FILE *f;
        char *yaml = NULL;
        size_t len = 0;
        f = open_memstream(&yaml, &len);
        fprintf(f, "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n");
        /* Addresses that share low bytes and high bytes alike. */
        for (unsigned i = 0; i < N; i++)
                fprintf(f, "      - 10.%u.%u.%u\n", i % 7, i / 7 % 256, i / 1792 + 1);
        fclose(f);
        const struct resource *w = want(yaml, "big");
        free(yaml);
        assert_int_equal(w->ipset.n_entry_keys, N);
        /* Live: reversed, entries 5 and 9,000 gone, two others there. */
        char **have = xcalloc(N + 2, sizeof(char *));
        size_t n = 0;
        for (size_t i = N; i-- > 0;)
                if (i != 5 && i != 9000)
                        have[n++] = w->ipset.entries.v[i];
        have[n++] = "10.6.255.250";
        have[n++] = "11.0.0.1";
        assert_string_equal(w->ipset.entries.v[5], "10.5.0.1");
        assert_string_equal(w->ipset.entries.v[9000], "10.5.5.6");
        const char *expect = "+10.5.0.1 +10.5.5.6 -10.6.255.250 -11.0.0.1";
        assert_string_equal(entry_changes(diff(w, live_set("big", "hash:ip", have, n, BLOCK_KEYS))), expect);
        assert_string_equal(entry_changes(diff(w, live_set("big", "hash:ip", have, n, STRINGS))), expect);
        /* The same order but one edit: the common head and tail drop out. */
        for (size_t i = 0; i < N; i++)
                have[i] = w->ipset.entries.v[i];
        have[N / 2] = "11.0.0.2";
        assert_string_equal(w->ipset.entries.v[N / 2], "10.4.148.6");
        assert_string_equal(entry_changes(diff(w, live_set("big", "hash:ip", have, N, BLOCK_KEYS))),
                            "+10.4.148.6 -11.0.0.2");
        free(have);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_check_keeps_numbers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_diff_whatever_the_storage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_diff_of_a_large_set, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
