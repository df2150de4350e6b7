/* Every enum string table round-trips: word -> value -> word. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../reconcile/reconcile.h"
#include "../../backends/kind.h"

static void test_enum_tables_round_trip(void **state) {
        (void) state;
        assert_true(n_enum_tables >= 10);
        for (size_t t = 0; t < n_enum_tables; t++) {
                const struct enum_table *tab = enum_tables[t];
                assert_true(tab->n > 0);
                for (int i = 0; i < tab->n; i++) {
                        const char *w = enum_to_string(tab, i);
                        assert_non_null(w);
                        assert_int_equal(enum_from_string(tab, w), i);
                }
                assert_null(enum_to_string(tab, tab->n));
                assert_null(enum_to_string(tab, -1));
                assert_int_equal(enum_from_string(tab, "no-such-word"), -1);
        }
}

/* The set type table agrees with the names: a part per comma, bitmap: types need a range. */
static void test_set_types(void **state) {
        (void) state;
        assert_int_equal(ipset_type_table.n, _SETT_MAX);
        for (int i = 0; i < _SETT_MAX; i++) {
                const char *w = enum_to_string(&ipset_type_table, i);
                const struct set_type_info *t = &set_types[i];
                size_t dims = 0, commas = 0;
                while (dims < 3 && t->dims[dims] != DIM_NONE)
                        dims++;
                for (const char *p = w; *p; p++)
                        commas += *p == ',';
                assert_int_equal(dims, commas + 1);
                assert_int_equal(t->bitmap, strncmp(w, "bitmap:", 7) == 0);
                assert_true(!t->inet_only || (t->has_family && t->bitmap));
                assert_int_equal(t->has_family, strstr(w, "ip") != NULL || strstr(w, "net") != NULL);
        }
        assert_int_equal(ipvs_sched_table.n, _IPVS_SCHED_MAX);
        assert_string_equal(enum_to_string(&ipvs_sched_table, IPVS_SCHED_WLC), "wlc");
        assert_int_equal(pool_type_table.n, _POOL_TYPE_MAX);
}

static void test_kinds_and_sections(void **state) {
        (void) state;
        for (int k = 0; k < _KIND_MAX; k++) {
                assert_int_equal(kind_from_string(kind_to_string(k)), k);
                assert_int_equal(kind_from_section(kind_to_section(k)), k);
        }
        assert_string_equal(kind_to_section(KIND_BRIDGE), "bridges");
        assert_true(kind_is_link(KIND_VLAN));
        assert_false(kind_is_link(KIND_DOMAIN));
        for (int o = 0; o < _OP_MAX; o++)
                assert_non_null(op_to_string(o));
        assert_string_equal(op_symbol(OP_REPLACE), "-/+");
        assert_int_equal(enum_from_string(&state_table, "running"), -1); /* only domains run */
        assert_int_equal(enum_from_string(&domain_state_table, "running"), STATE_RUNNING);
}

static void test_values(void **state) {
        struct ipaddr a, b;
        char buf[64], mac[18];
        unsigned char m[6];
        (void) state;
        assert_int_equal(ipaddr_parse("192.0.2.1/24", true, &a), 0);
        assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), "192.0.2.1/24");
        assert_int_equal(ipaddr_parse("2001:db8::1/64", true, &b), 0);
        assert_string_equal(ipaddr_format(&b, true, buf, sizeof(buf)), "2001:db8::1/64");
        assert_false(ipaddr_equal(&a, &b));
        assert_int_equal(ipaddr_parse("192.0.2.1/33", true, &a), -ERANGE);
        assert_int_equal(ipaddr_parse("192.0.2.1", true, &a), -EDOM);
        assert_int_equal(ipaddr_parse("192.0.2.1/24", false, &a), -EINVAL);
        assert_int_equal(ipaddr_parse("300.0.2.1/24", true, &a), -EINVAL);
        assert_int_equal(mac_parse("52:54:00:AA:bb:cc", m), 0);
        assert_string_equal(mac_format(m, mac), "52:54:00:aa:bb:cc");
        assert_int_equal(mac_parse("01:00:5e:00:00:01", m), -EDOM);
        assert_true(mac_parse("52:54:00:aa:bb", m) < 0);
        assert_true(mac_parse("52:54:00:aa:bb:cg", m) < 0);
        assert_true(ifname_valid("br0"));
        assert_true(ifname_valid("abcdefghijklmno"));
        assert_false(ifname_valid("abcdefghijklmnop"));
        assert_false(ifname_valid(""));
        assert_false(ifname_valid("a/b"));
        assert_false(ifname_valid("a:b"));
        assert_false(ifname_valid("a b"));
        assert_false(ifname_valid(".."));
}

static void test_model_lookup_by_class(void **state) {
        struct model m = { 0 };
        (void) state;
        for (int i = 0; i < 1000; i++) {
                char name[16];
                snprintf(name, sizeof(name), "br%d", i);
                assert_int_equal(model_add(&m, resource_new(KIND_BRIDGE, name)), 0);
        }
        /* Links share one name space: an ethernet lookup finds the bridge. */
        assert_non_null(model_find(&m, KIND_ETHERNET, "br999"));
        assert_null(model_find(&m, KIND_NETWORK, "br999"));
        struct resource *dup = resource_new(KIND_VLAN, "br5");
        assert_int_equal(model_add(&m, dup), -EEXIST);
        resource_free(dup);
        assert_int_equal(model_add(&m, resource_new(KIND_NETWORK, "br5")), 0);
        assert_int_equal(m.n, 1001);
        model_done(&m);
}

static bool odd_bridge(const struct resource *r, void *u) {
        (void) u;
        return r->kind == KIND_BRIDGE && atoi(r->name + 2) % 2;
}

static void test_model_remove_if_and_strset(void **state) {
        struct model m = { 0 };
        struct strset set = { 0 };
        (void) state;
        for (int i = 0; i < 200; i++) {
                char name[16];
                snprintf(name, sizeof(name), "br%d", i);
                assert_int_equal(model_add(&m, resource_new(KIND_BRIDGE, name)), 0);
        }
        assert_int_equal(model_add(&m, resource_new(KIND_SYSCTL, "net.ipv4.ip_forward")), 0);
        model_remove_if(&m, odd_bridge, NULL);
        assert_int_equal(m.n, 101);
        assert_null(model_find(&m, KIND_BRIDGE, "br7"));
        assert_non_null(model_find(&m, KIND_BRIDGE, "br8"));
        assert_non_null(model_find(&m, KIND_SYSCTL, "net.ipv4.ip_forward"));
        /* The index was rebuilt: a name freed by the removal can be added again. */
        assert_int_equal(model_add(&m, resource_new(KIND_BRIDGE, "br7")), 0);
        model_done(&m);
        assert_false(strset_has(&set, "a"));
        assert_true(strset_add(&set, "a"));
        assert_true(strset_has(&set, "a"));
        assert_false(strset_has(&set, "b"));
        assert_false(strset_add(&set, "a"));
        strset_done(&set);
}

static bool in(const char *net, const char *addr) {
        struct ipaddr n, a;
        assert_int_equal(ipaddr_parse(net, true, &n), 0);
        assert_int_equal(ipaddr_parse(addr, false, &a), 0);
        return ipaddr_in_subnet(&n, &a);
}

/* The one subnet test: a DHCP range in its network, the route to the SSH client. */
static void test_in_subnet(void **state) {
        (void) state;
        assert_true(in("192.0.2.0/24", "192.0.2.255"));
        assert_true(in("192.0.2.77/24", "192.0.2.1")); /* host bits of the network do not count */
        assert_false(in("192.0.2.0/24", "192.0.3.0"));
        assert_true(in("10.0.0.0/9", "10.127.255.255"));
        assert_false(in("10.0.0.0/9", "10.128.0.0"));
        assert_true(in("0.0.0.0/0", "203.0.113.9")); /* the default route holds everything */
        assert_true(in("192.0.2.1/32", "192.0.2.1"));
        assert_false(in("192.0.2.1/32", "192.0.2.2"));
        assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
        assert_false(in("2001:db8::/32", "2001:db9::1"));
        assert_true(in("2001:db8::/63", "2001:db8:0:1::1"));
        assert_false(in("2001:db8::/64", "2001:db8:0:1::1"));
        assert_true(in("::/0", "2001:db8::1"));
        assert_true(in("2001:db8::1/128", "2001:db8::1"));
        assert_false(in("2001:db8::1/128", "2001:db8::2"));
        /* Never across families, not even under a prefix of 0. */
        assert_false(in("0.0.0.0/0", "2001:db8::1"));
        assert_false(in("::/0", "192.0.2.1"));
        assert_false(in("::ffff:192.0.2.0/120", "192.0.2.1"));
}

/* The one reader of SSH_CONNECTION, for the link and route backends' risk flags. */
static void test_ssh_client_address(void **state) {
        struct ipaddr a, want;
        char buf[64];
        (void) state;
        const char *saved = getenv("SSH_CONNECTION");
        char *keep = saved ? strdup(saved) : NULL;
        unsetenv("SSH_CONNECTION");
        assert_int_equal(ssh_client_address(&a), -ENOENT);
        assert_int_equal(a.family, 0);
        setenv("SSH_CONNECTION", "", 1);
        assert_int_equal(ssh_client_address(&a), -ENOENT);
        setenv("SSH_CONNECTION", "198.51.100.7 52100 192.0.2.1 22", 1);
        assert_int_equal(ssh_client_address(&a), 0);
        assert_int_equal(ipaddr_parse("198.51.100.7", false, &want), 0);
        assert_true(ipaddr_equal(&a, &want));
        assert_int_equal(a.prefix, 32);
        setenv("SSH_CONNECTION", "2001:db8::7 52100 2001:db8::1 22", 1);
        assert_int_equal(ssh_client_address(&a), 0);
        assert_string_equal(ipaddr_format(&a, true, buf, sizeof(buf)), "2001:db8::7/128");
        setenv("SSH_CONNECTION", "not-an-address 52100 192.0.2.1 22", 1);
        assert_int_equal(ssh_client_address(&a), -EINVAL);
        assert_int_equal(a.family, 0);
        if (keep)
                setenv("SSH_CONNECTION", keep, 1);
        else
                unsetenv("SSH_CONNECTION");
        free(keep);
}

static uint64_t num_hash(size_t pos, const void *u) {
        const int *v = u;
        return hash_fnv1a(HASH_FNV1A_SEED, &v[pos], sizeof(v[pos]));
}

struct num_key {
        const int *v;
        int want;
};

static bool num_eq(size_t pos, const void *u) {
        const struct num_key *k = u;
        return k->v[pos] == k->want;
}

static size_t num_find(const struct hindex *x, const int *v, int want) {
        struct num_key k = { v, want };
        return hindex_find(x, hash_fnv1a(HASH_FNV1A_SEED, &want, sizeof(want)), num_eq, &k);
}

/* The one index under the model, the ledger, strset and the link cache. */
static void test_hindex(void **state) {
        struct hindex x = { 0 };
        static int v[5000];
        size_t n = 0;
        (void) state;
        assert_int_equal(num_find(&x, v, 1), HINDEX_NONE); /* empty: no slots yet */
        for (int i = 0; i < 5000; i++) {
                v[n++] = i * 7;
                hindex_add(&x, n, num_hash, v);
        }
        assert_true(x.n_slots >= 2 * n);
        for (int i = 0; i < 5000; i++)
                assert_int_equal(num_find(&x, v, i * 7), (size_t) i);
        assert_int_equal(num_find(&x, v, 3), HINDEX_NONE);
        /* Keep the even ones, moved to the front: the rebuilt index finds them at their new places. */
        n = 0;
        for (int i = 0; i < 5000; i += 2)
                v[n++] = i * 7;
        hindex_rebuild(&x, n, num_hash, v);
        assert_int_equal(num_find(&x, v, 14), 1);
        assert_int_equal(num_find(&x, v, 7), HINDEX_NONE);
        hindex_done(&x);
        hindex_done(&x); /* safe twice */
        assert_int_equal(hash_fnv1a(HASH_FNV1A_SEED, "", 0), HASH_FNV1A_SEED);
        assert_int_equal(hash_fnv1a_str(HASH_FNV1A_SEED, "a"), 0x44bd8ad473cd9906ull);
        /* strset grows through it, and borrows its strings. */
        static char names[1000][8];
        struct strset set = { 0 };
        for (int i = 0; i < 1000; i++) {
                snprintf(names[i], sizeof(names[i]), "n%d", i);
                assert_true(strset_add(&set, names[i]));
        }
        for (int i = 0; i < 1000; i++)
                assert_false(strset_add(&set, names[i]));
        assert_true(strset_has(&set, "n999"));
        assert_false(strset_has(&set, "n1000"));
        strset_done(&set);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_enum_tables_round_trip),
                cmocka_unit_test(test_set_types),
                cmocka_unit_test(test_kinds_and_sections),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_model_lookup_by_class),
                cmocka_unit_test(test_model_remove_if_and_strset),
                cmocka_unit_test(test_hindex),
                cmocka_unit_test(test_in_subnet),
                cmocka_unit_test(test_ssh_client_address),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
