/* Open vSwitch over OVSDB without a server: the JSON-RPC messages
 * (requests, a stream cut anywhere, a reply's errors), the live model read
 * from an observe reply, the manifest's keys and checks, the diffs, and the
 * transactions each action sends (their wait preconditions above all). */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../backends/kind.h"
#include "../../cmd/output.h"
#include "../../parsers/parsers.h"

static struct manifest_set set;
static struct plan plan;
static struct model live;
static char *errs;
static size_t errs_len;
static FILE *errs_f;

static int setup(void **state) {
        (void) state;
        memset(&set, 0, sizeof(set));
        memset(&plan, 0, sizeof(plan));
        memset(&live, 0, sizeof(live));
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        return 0;
}

static int teardown(void **state) {
        (void) state;
        plan_done(&plan);
        model_done(&live);
        manifests_done(&set);
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        return 0;
}

static const char *errors(void) {
        fflush(errs_f);
        return errs ? errs : "";
}

static int parse(const char *yaml) {
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        int r = manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        if (r >= 0)
                r = manifests_validate(&set);
        return r;
}

static void want(const char *yaml) {
        if (parse(yaml) < 0)
                fail_msg("manifest: %s", errors());
}

static const struct resource *W(enum kind k, const char *name) {
        const struct resource *r = model_find(&set.model, k, name);
        if (!r)
                fail_msg("%s %s not declared", kind_to_string(k), name);
        return r;
}

static const struct resource *L(enum kind k, const char *name) {
        const struct resource *r = model_find(&live, k, name);
        if (!r)
                fail_msg("%s %s not observed", kind_to_string(k), name);
        return r;
}

static struct json_object *json(const char *text) {
        struct json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        return o;
}

/* An observe reply: bridge br-ovs (reconcile's) with its local port, eth1 (tag
 * 10), a bond of eth2 and eth3 with LACP, an internal trunk port and libvirt's
 * vnet0 (not reconcile's); bridge other (not reconcile's, datapath ""). */
static const char observe_reply[] =
        "[{\"rows\":["
        " {\"_uuid\":[\"uuid\",\"b1\"],\"name\":\"br-ovs\",\"ports\":[\"set\",[[\"uuid\",\"p0\"],[\"uuid\",\"p1\"],"
        "  [\"uuid\",\"p2\"],[\"uuid\",\"p3\"],[\"uuid\",\"p4\"]]],\"fail_mode\":\"secure\",\"stp_enable\":false,"
        "  \"datapath_type\":\"netdev\",\"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]]},"
        " {\"_uuid\":[\"uuid\",\"b2\"],\"name\":\"other\",\"ports\":[\"uuid\",\"p5\"],\"fail_mode\":[\"set\",[]],"
        "  \"stp_enable\":true,\"datapath_type\":\"\",\"external_ids\":[\"map\",[]]}]},"
        "{\"rows\":["
        " {\"_uuid\":[\"uuid\",\"p0\"],\"name\":\"br-ovs\",\"interfaces\":[\"uuid\",\"i0\"],\"tag\":[\"set\",[]],"
        "  \"trunks\":[\"set\",[]],\"vlan_mode\":[\"set\",[]],\"bond_mode\":[\"set\",[]],\"lacp\":[\"set\",[]],"
        "  \"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]]},"
        " {\"_uuid\":[\"uuid\",\"p1\"],\"name\":\"eth1\",\"interfaces\":[\"uuid\",\"i1\"],\"tag\":10,"
        "  \"trunks\":[\"set\",[]],\"vlan_mode\":[\"set\",[]],\"bond_mode\":[\"set\",[]],\"lacp\":[\"set\",[]],"
        "  \"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]]},"
        " {\"_uuid\":[\"uuid\",\"p2\"],\"name\":\"uplink\",\"interfaces\":[\"set\",[[\"uuid\",\"i2\"],[\"uuid\",\"i3\"]]],"
        "  \"tag\":[\"set\",[]],\"trunks\":[\"set\",[]],\"vlan_mode\":[\"set\",[]],\"bond_mode\":\"balance-tcp\","
        "  \"lacp\":\"active\",\"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]]},"
        " {\"_uuid\":[\"uuid\",\"p3\"],\"name\":\"trunk0\",\"interfaces\":[\"uuid\",\"i4\"],\"tag\":[\"set\",[]],"
        "  \"trunks\":[\"set\",[20,30]],\"vlan_mode\":\"trunk\",\"bond_mode\":[\"set\",[]],\"lacp\":[\"set\",[]],"
        "  \"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]]},"
        " {\"_uuid\":[\"uuid\",\"p4\"],\"name\":\"vnet0\",\"interfaces\":[\"uuid\",\"i5\"],\"tag\":[\"set\",[]],"
        "  \"trunks\":[\"set\",[]],\"vlan_mode\":[\"set\",[]],\"bond_mode\":[\"set\",[]],\"lacp\":[\"set\",[]],"
        "  \"external_ids\":[\"map\",[[\"iface-id\",\"x\"]]]},"
        " {\"_uuid\":[\"uuid\",\"p5\"],\"name\":\"other\",\"interfaces\":[\"uuid\",\"i6\"],\"tag\":[\"set\",[]],"
        "  \"trunks\":[\"set\",[]],\"vlan_mode\":[\"set\",[]],\"bond_mode\":[\"set\",[]],\"lacp\":[\"set\",[]],"
        "  \"external_ids\":[\"map\",[]]}]},"
        "{\"rows\":["
        " {\"_uuid\":[\"uuid\",\"i0\"],\"name\":\"br-ovs\",\"type\":\"internal\"},"
        " {\"_uuid\":[\"uuid\",\"i1\"],\"name\":\"eth1\",\"type\":\"\"},"
        " {\"_uuid\":[\"uuid\",\"i2\"],\"name\":\"eth2\",\"type\":\"\"},"
        " {\"_uuid\":[\"uuid\",\"i3\"],\"name\":\"eth3\",\"type\":\"\"},"
        " {\"_uuid\":[\"uuid\",\"i4\"],\"name\":\"trunk0\",\"type\":\"internal\"},"
        " {\"_uuid\":[\"uuid\",\"i5\"],\"name\":\"vnet0\",\"type\":\"\"},"
        " {\"_uuid\":[\"uuid\",\"i6\"],\"name\":\"other\",\"type\":\"internal\"}]}]";

static void observe(void) {
        struct json_object *r = json(observe_reply);
        assert_int_equal(ovs_rows_to_model(r, &live), 0);
        json_object_put(r);
}

static void test_tables_round_trip(void **state) {
        (void) state;
        const struct enum_table *const tables[] = { &ovs_fail_mode_table, &ovs_datapath_table, &ovs_port_type_table,
                                                    &ovs_vlan_mode_table, &ovs_bond_mode_table, &ovs_lacp_table };
        const int sizes[] = { _OVS_FAIL_MAX, _OVS_DP_MAX, _OVS_PORT_MAX, _OVS_VLAN_MAX, _OVS_BOND_MAX, _OVS_LACP_MAX };
        for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
                assert_int_equal(tables[t]->n, sizes[t]);
                for (int i = 0; i < tables[t]->n; i++)
                        assert_int_equal(enum_from_string(tables[t], enum_to_string(tables[t], i)), i);
                assert_int_equal(enum_from_string(tables[t], "nonsense"), -1);
        }
        /* OVSDB's own spellings. */
        assert_string_equal(enum_to_string(&ovs_bond_mode_table, OVS_BOND_BALANCE_TCP), "balance-tcp");
        assert_string_equal(enum_to_string(&ovs_vlan_mode_table, OVS_VLAN_NATIVE_UNTAGGED), "native-untagged");
        assert_int_equal(kind_from_section("ovs-bridges"), KIND_OVS_BRIDGE);
        assert_int_equal(kind_from_string("ovs-port"), KIND_OVS_PORT);
}

static void test_request_and_stream(void **state) {
        (void) state;
        struct json_object *m = ovs_request("transact", ovs_txn_begin(), 7);
        assert_string_equal(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
                            "{\"method\":\"transact\",\"params\":[\"Open_vSwitch\"],\"id\":7}");
        json_object_put(m);
        /* Two messages and the start of a third, in pieces cut anywhere: one
         * byte at a time and all at once take the same messages. */
        const char text[] = "{\"id\":1,\"result\":[{\"rows\":[{\"name\":\"a}{\"}]}],\"error\":null}\n "
                            "{\"method\":\"echo\",\"params\":[],\"id\":\"echo\"}{\"id\":2,\"res";
        for (size_t piece = 1; piece <= sizeof(text); piece += sizeof(text) - 2) {
                struct ovs_stream st = { 0 };
                struct json_object *got[3] = { NULL, NULL, NULL }, *msg, *v;
                size_t n_got = 0;
                for (size_t off = 0; off < strlen(text); off += piece) {
                        size_t n = strlen(text) - off < piece ? strlen(text) - off : piece;
                        assert_int_equal(ovs_stream_put(&st, text + off, n), 0);
                        int r;
                        while ((r = ovs_stream_take(&st, &msg)) == 1)
                                got[n_got++] = msg;
                        assert_int_equal(r, 0);
                }
                assert_int_equal(n_got, 2);
                assert_true(json_object_object_get_ex(got[0], "id", &v));
                assert_int_equal(json_object_get_int(v), 1);
                assert_true(json_object_object_get_ex(got[1], "method", &v));
                assert_string_equal(json_object_get_string(v), "echo");
                /* The third completes when the rest comes. */
                assert_int_equal(ovs_stream_put(&st, "ult\":[],\"error\":null}", 22), 0);
                assert_int_equal(ovs_stream_take(&st, &msg), 1);
                assert_true(json_object_object_get_ex(msg, "id", &v));
                assert_int_equal(json_object_get_int(v), 2);
                assert_int_equal(st.len, 0);
                json_object_put(msg);
                json_object_put(got[0]);
                json_object_put(got[1]);
                ovs_stream_done(&st);
        }
        struct ovs_stream bad = { 0 };
        struct json_object *msg;
        assert_int_equal(ovs_stream_put(&bad, "]garbage", 8), 0);
        assert_int_equal(ovs_stream_take(&bad, &msg), -EBADMSG);
        ovs_stream_done(&bad);
        assert_int_equal(ovs_stream_put(&bad, "[1,2]", 5), 0);
        assert_int_equal(ovs_stream_take(&bad, &msg), -EBADMSG);
        ovs_stream_done(&bad);
}

static void test_reply_errors(void **state) {
        (void) state;
        char buf[256];
        struct json_object *ok = json("[{\"count\":1},{\"uuid\":[\"uuid\",\"x\"]}]");
        assert_int_equal(ovs_reply_error(ok, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
        json_object_put(ok);
        struct json_object *waited = json("[{\"error\":\"timed out\",\"details\":\"wait\"},null]");
        assert_int_equal(ovs_reply_error(waited, buf, sizeof(buf)), -EAGAIN);
        assert_string_equal(buf, "timed out: wait");
        json_object_put(waited);
        struct json_object *dup = json("[{},{\"error\":\"constraint violation\",\"details\":\"name eth1 twice\"}]");
        assert_int_equal(ovs_reply_error(dup, buf, sizeof(buf)), -EEXIST);
        json_object_put(dup);
}

static void test_observe_rows(void **state) {
        (void) state;
        observe();
        const struct resource *b = L(KIND_OVS_BRIDGE, "br-ovs");
        assert_true(b->ovs.managed);
        assert_int_equal(b->ovs.fail_mode, OVS_FAIL_SECURE);
        assert_int_equal(b->ovs.datapath, OVS_DP_NETDEV);
        assert_string_equal(b->ovs.uuid, "b1");
        const struct resource *o = L(KIND_OVS_BRIDGE, "other");
        assert_false(o->ovs.managed);
        assert_int_equal(o->ovs.fail_mode, -1);
        assert_false(o->set & OVS_F_FAIL_MODE);
        assert_int_equal(o->ovs.datapath, OVS_DP_SYSTEM); /* "" is system */
        assert_true(o->ovs.stp);
        /* The local ports go with their bridges. */
        assert_null(model_find(&live, KIND_OVS_PORT, "br-ovs/br-ovs"));
        assert_null(model_find(&live, KIND_OVS_PORT, "other/other"));
        const struct resource *e = L(KIND_OVS_PORT, "br-ovs/eth1");
        assert_true((e->set & OVS_F_TAG) && e->ovs.tag == 10);
        assert_int_equal(e->ovs.type, OVS_PORT_SYSTEM);
        assert_string_equal(e->ovs.bridge, "br-ovs");
        const struct resource *u = L(KIND_OVS_PORT, "br-ovs/uplink");
        assert_int_equal(u->ovs.bond.n, 2);
        assert_string_equal(u->ovs.bond.v[0], "eth2");
        assert_string_equal(u->ovs.member_uuids.v[1], "i3");
        assert_int_equal(u->ovs.lacp, OVS_LACP_ACTIVE);
        assert_int_equal(u->ovs.bond_mode, OVS_BOND_BALANCE_TCP);
        const struct resource *t = L(KIND_OVS_PORT, "br-ovs/trunk0");
        assert_int_equal(t->ovs.type, OVS_PORT_INTERNAL);
        assert_int_equal(t->ovs.vlan_mode, OVS_VLAN_TRUNK);
        assert_true(t->ovs.trunks[0] & (1ull << 20));
        assert_true(t->ovs.trunks[0] & (1ull << 30));
        assert_false(t->ovs.trunks[0] & (1ull << 10));
        assert_false(L(KIND_OVS_PORT, "br-ovs/vnet0")->ovs.managed);
}

static const char manifest[] = "version: 1\n"
                               "ovs-bridges:\n"
                               "  br-ovs:\n"
                               "    datapath: netdev\n"
                               "    fail-mode: standalone\n"
                               "    ports:\n"
                               "      eth1: { tag: 20 }\n"
                               "      uplink: { bond: [eth2, eth3, eth4], lacp: active, bond-mode: balance-tcp }\n"
                               "      trunk0: { type: internal, trunks: [30, 40], vlan-mode: trunk }\n";

static void test_parse_and_check(void **state) {
        (void) state;
        want(manifest);
        const struct resource *b = W(KIND_OVS_BRIDGE, "br-ovs");
        assert_int_equal(b->ovs.datapath, OVS_DP_NETDEV);
        assert_int_equal(b->ovs.fail_mode, OVS_FAIL_STANDALONE);
        assert_false(b->ovs.stp);
        const struct resource *e = W(KIND_OVS_PORT, "br-ovs/eth1");
        assert_string_equal(e->ovs.bridge, "br-ovs");
        assert_string_equal(e->ovs.port, "eth1");
        assert_int_equal(e->ovs.bond.n, 1); /* one member: the interface of the port's name */
        assert_string_equal(e->ovs.bond.v[0], "eth1");
        const struct resource *t = W(KIND_OVS_PORT, "br-ovs/trunk0");
        assert_true(t->ovs.trunks[0] & (1ull << 30));
        assert_true(t->ovs.trunks[0] & (1ull << 40));

        static const struct {
                const char *yaml, *error;
        } bad[] = {
                { "version: 1\novs-bridges:\n  b:\n    ports:\n      p: { bond: [eth2] }\n", "a bond needs at least two members" },
                { "version: 1\novs-bridges:\n  b:\n    ports:\n      p: { lacp: active }\n", "lacp and bond-mode need a bond" },
                { "version: 1\novs-bridges:\n  b:\n    ports:\n      p: { trunks: [10, 5000] }\n", "expected a VLAN 0..4095" },
                { "version: 1\novs-bridges:\n  b:\n    ports:\n      p: { tag: 4096 }\n", "4096" },
                { "version: 1\novs-bridges:\n  b:\n    fail-mode: open\n", "fail-mode: expected one of standalone, secure" },
                { "version: 1\novs-bridges:\n  b:\n    ports:\n      p: { type: internal, bond: [a, c] }\n",
                  "an internal port cannot be a bond" },
                { "version: 1\nbridges:\n  mgmt: {}\novs-bridges:\n  b:\n    stp: false\n    ports:\n      mgmt: { type: internal }\n",
                  "internal port mgmt and the bridge mgmt at m.yaml:3:3 are the same interface" },
                { "version: 1\nbridges:\n  b: {}\novs-bridges:\n  b: {}\n", "the bridge b at m.yaml:3:3 is the same interface" },
                { "version: 1\nbridges:\n  br0: { interfaces: [eth1] }\novs-bridges:\n  b:\n    stp: false\n    ports:\n"
                  "      eth1: {}\n", "ovs-port b/eth1: eth1 is a port of the bridge br0 at m.yaml:3:3 too" },
                /* Only ports: they add to a bridge declared whole elsewhere. */
                { "version: 1\novs-bridges:\n  b:\n    ports:\n      p: {}\n", "ovs-bridge b is declared nowhere (an entry" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                fflush(errs_f);
                size_t before = errs_len;
                assert_true(parse(bad[i].yaml) < 0);
                fflush(errs_f);
                if (!strstr(errs + before, bad[i].error))
                        fail_msg("case %zu: no \"%s\" in: %s", i, bad[i].error, errs + before);
        }
}

static struct action *diff_expect(const struct resource *w, const struct resource *have, int expect) {
        struct action *a = array_push(&plan.actions, &plan.n_actions, sizeof(*a));
        a->op = OP_UPDATE;
        a->kind = w->kind;
        a->name = xstrdup(w->name);
        a->key = xstrdup(have->name);
        a->want = w;
        a->live = have;
        a->backend = &ovs_backend;
        int r = kind_ops(w->kind)->diff(NULL, w, have, NULL, a, &plan);
        if (r != expect)
                fail_msg("diff of %s returned %d, expected %d: %s", w->name, r, expect, errors());
        return a;
}

/* The change (field, name, from, to) is among a's, in the plan's words; NULL: none. */
static void has_change(const struct action *a, uint64_t field, const char *name, const char *from, const char *to) {
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                char was[256], now[256];
                const char *f = change_words(a, c, false, was, sizeof(was)), *t = change_words(a, c, true, now, sizeof(now));
                if (c->field == field && strcmp(c->name, name) == 0 && ((!f && !from) || (f && from && !strcmp(f, from))) &&
                    ((!t && !to) || (t && to && !strcmp(t, to))))
                        return;
        }
        fail_msg("no change %s %s -> %s among %zu", name, from ? from : "(none)", to ? to : "(none)", a->n_changes);
}

static void test_diff(void **state) {
        (void) state;
        observe();
        want(manifest);
        struct action *b = diff_expect(W(KIND_OVS_BRIDGE, "br-ovs"), L(KIND_OVS_BRIDGE, "br-ovs"), 0);
        assert_int_equal(b->n_changes, 1);
        has_change(b, OVS_F_FAIL_MODE, "fail-mode", "secure", "standalone");
        assert_int_equal(b->changes[0].now.type, VAL_WORD);

        struct action *e = diff_expect(W(KIND_OVS_PORT, "br-ovs/eth1"), L(KIND_OVS_PORT, "br-ovs/eth1"), 0);
        assert_int_equal(e->op, OP_UPDATE);
        assert_int_equal(e->n_changes, 1);
        has_change(e, OVS_F_TAG, "tag", "10", "20");
        assert_int_equal(e->changes[0].now.type, VAL_NUMBER);

        struct action *u = diff_expect(W(KIND_OVS_PORT, "br-ovs/uplink"), L(KIND_OVS_PORT, "br-ovs/uplink"), 0);
        assert_int_equal(u->n_changes, 1);
        has_change(u, OVS_F_BOND, "member", NULL, "eth4");

        struct action *t = diff_expect(W(KIND_OVS_PORT, "br-ovs/trunk0"), L(KIND_OVS_PORT, "br-ovs/trunk0"), 0);
        assert_int_equal(t->n_changes, 2);
        has_change(t, OVS_C_TRUNK, "trunk", "20", NULL);
        has_change(t, OVS_C_TRUNK, "trunk", NULL, "40");

        /* VLANs in every word of the bitmap, the last one included, in ascending order. */
        want("version: 1\novs-bridges:\n  br-ovs:\n    datapath: netdev\n    ports:\n"
             "      trunk0: { type: internal, trunks: [30, 63, 64, 4095], vlan-mode: trunk }\n");
        struct action *w = diff_expect(W(KIND_OVS_PORT, "br-ovs/trunk0"), L(KIND_OVS_PORT, "br-ovs/trunk0"), 0);
        assert_int_equal(w->n_changes, 4);
        has_change(w, OVS_C_TRUNK, "trunk", "20", NULL);
        has_change(w, OVS_C_TRUNK, "trunk", NULL, "63");
        has_change(w, OVS_C_TRUNK, "trunk", NULL, "64");
        has_change(w, OVS_C_TRUNK, "trunk", NULL, "4095");
        assert_int_equal(w->changes[3].now.number, 4095);

        /* In sync: no changes. */
        want("version: 1\novs-bridges:\n  br-ovs:\n    datapath: netdev\n    fail-mode: secure\n"
             "    ports:\n      eth1: { tag: 10 }\n");
        assert_int_equal(diff_expect(W(KIND_OVS_BRIDGE, "br-ovs"), L(KIND_OVS_BRIDGE, "br-ovs"), 0)->n_changes, 0);
        assert_int_equal(diff_expect(W(KIND_OVS_PORT, "br-ovs/eth1"), L(KIND_OVS_PORT, "br-ovs/eth1"), 0)->n_changes, 0);

        /* A type change is a new port. */
        want("version: 1\novs-bridges:\n  br-ovs:\n    datapath: netdev\n    ports:\n      eth1: { type: internal }\n");
        assert_int_equal(diff_expect(W(KIND_OVS_PORT, "br-ovs/eth1"), L(KIND_OVS_PORT, "br-ovs/eth1"), 0)->op, OP_REPLACE);

        /* What reconcile did not make is never changed: declaring it is an error. */
        want("version: 1\novs-bridges:\n  other: { fail-mode: secure }\n");
        diff_expect(W(KIND_OVS_BRIDGE, "other"), L(KIND_OVS_BRIDGE, "other"), -EINVAL);
        assert_non_null(strstr(errors(), "ovs-bridge other exists and reconcile did not make it"));
}

/* op i of a transaction (0 is the database name). */
static struct json_object *op_at(struct json_object *t, size_t i, const char *op, const char *table) {
        struct json_object *o = json_object_array_get_idx(t, i);
        if (!o || strcmp(json_object_get_string(ovs_col(o, "op")), op) != 0 ||
            strcmp(json_object_get_string(ovs_col(o, "table")), table) != 0)
                fail_msg("op %zu is not %s %s: %s", i, op, table, json_object_to_json_string(t));
        return o;
}

static const char *text(struct json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static void test_update_waits_for_what_the_plan_read(void **state) {
        (void) state;
        observe();
        want(manifest);
        struct action *e = diff_expect(W(KIND_OVS_PORT, "br-ovs/eth1"), L(KIND_OVS_PORT, "br-ovs/eth1"), 0);
        struct json_object *t = ovs_port_txn(e);
        assert_int_equal(json_object_array_length(t), 3);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(t, 0)), "Open_vSwitch");
        struct json_object *w = op_at(t, 1, "wait", "Port");
        assert_string_equal(text(ovs_col(w, "where")), "[[\"_uuid\",\"==\",[\"uuid\",\"p1\"]]]");
        assert_int_equal(json_object_get_int(ovs_col(w, "timeout")), 0);
        assert_string_equal(json_object_get_string(ovs_col(w, "until")), "==");
        assert_string_equal(text(ovs_col(w, "rows")), "[{\"tag\":10,\"name\":\"eth1\"}]");
        struct json_object *u = op_at(t, 2, "update", "Port");
        assert_string_equal(text(ovs_col(u, "row")), "{\"tag\":20}");
        json_object_put(t);

        /* A member joins: the kept members keep their rows, the new one is inserted. */
        struct action *b = diff_expect(W(KIND_OVS_PORT, "br-ovs/uplink"), L(KIND_OVS_PORT, "br-ovs/uplink"), 0);
        t = ovs_port_txn(b);
        w = op_at(t, 1, "wait", "Port");
        assert_string_equal(text(ovs_col(w, "rows")),
                            "[{\"name\":\"uplink\",\"interfaces\":[\"set\",[[\"uuid\",\"i2\"],[\"uuid\",\"i3\"]]]}]");
        struct json_object *ins = op_at(t, 2, "insert", "Interface");
        assert_string_equal(json_object_get_string(ovs_col(ovs_col(ins, "row"), "name")), "eth4");
        u = op_at(t, 3, "update", "Port");
        assert_string_equal(text(ovs_col(ovs_col(u, "row"), "interfaces")),
                            "[\"set\",[[\"uuid\",\"i2\"],[\"uuid\",\"i3\"],[\"named-uuid\",\"iface2\"]]]");
        json_object_put(t);
}

static void test_create_and_delete(void **state) {
        (void) state;
        want(manifest);
        struct action a = { .op = OP_CREATE, .kind = KIND_OVS_BRIDGE, .want = W(KIND_OVS_BRIDGE, "br-ovs") };
        struct json_object *t = ovs_bridge_txn(&a);
        assert_int_equal(json_object_array_length(t), 6);
        struct json_object *w = op_at(t, 1, "wait", "Bridge");
        assert_string_equal(text(ovs_col(w, "rows")), "[]"); /* nobody made one of this name meanwhile */
        assert_string_equal(text(ovs_col(op_at(t, 2, "insert", "Interface"), "row")),
                            "{\"name\":\"br-ovs\",\"type\":\"internal\",\"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]]}");
        op_at(t, 3, "insert", "Port");
        struct json_object *br = ovs_col(op_at(t, 4, "insert", "Bridge"), "row");
        assert_string_equal(json_object_get_string(ovs_col(br, "fail_mode")), "standalone");
        assert_string_equal(json_object_get_string(ovs_col(br, "datapath_type")), "netdev");
        assert_string_equal(ovs_map_get(ovs_col(br, "external_ids"), "reconcile"), "managed");
        struct json_object *m = op_at(t, 5, "mutate", "Open_vSwitch");
        assert_string_equal(text(ovs_col(m, "mutations")), "[[\"bridges\",\"insert\",[\"set\",[[\"named-uuid\",\"bridge\"]]]]]");
        json_object_put(t);

        /* A port joins by a mutate of the bridge's ports: ports others added are never rewritten. */
        struct action p = { .op = OP_CREATE, .kind = KIND_OVS_PORT, .want = W(KIND_OVS_PORT, "br-ovs/trunk0") };
        t = ovs_port_txn(&p);
        op_at(t, 1, "wait", "Port");
        op_at(t, 2, "wait", "Bridge");
        struct json_object *i = ovs_col(op_at(t, 3, "insert", "Interface"), "row");
        assert_string_equal(json_object_get_string(ovs_col(i, "type")), "internal");
        struct json_object *prow = ovs_col(op_at(t, 4, "insert", "Port"), "row");
        assert_string_equal(text(ovs_col(prow, "trunks")), "[\"set\",[30,40]]");
        assert_string_equal(json_object_get_string(ovs_col(prow, "vlan_mode")), "trunk");
        assert_string_equal(text(ovs_col(prow, "tag")), "[\"set\",[]]");
        m = op_at(t, 5, "mutate", "Bridge");
        assert_string_equal(text(ovs_col(m, "where")), "[[\"name\",\"==\",\"br-ovs\"]]");
        assert_string_equal(text(ovs_col(m, "mutations")), "[[\"ports\",\"insert\",[\"set\",[[\"named-uuid\",\"port\"]]]]]");
        json_object_put(t);

        observe();
        struct action d = { .op = OP_DELETE, .kind = KIND_OVS_PORT, .live = L(KIND_OVS_PORT, "br-ovs/eth1") };
        t = ovs_port_txn(&d);
        assert_int_equal(json_object_array_length(t), 3);
        op_at(t, 1, "wait", "Port");
        m = op_at(t, 2, "mutate", "Bridge");
        assert_string_equal(text(ovs_col(m, "mutations")), "[[\"ports\",\"delete\",[\"set\",[[\"uuid\",\"p1\"]]]]]");
        json_object_put(t);
}

/* The plan's OVS actions go in one transaction: each action's named rows get
 * its number, so two port creates do not both insert a row named "port". */
static void test_batch_merges_with_distinct_names(void **state) {
        (void) state;
        want(manifest);
        struct action a = { .op = OP_CREATE, .kind = KIND_OVS_BRIDGE, .want = W(KIND_OVS_BRIDGE, "br-ovs") };
        struct action b = { .op = OP_CREATE, .kind = KIND_OVS_PORT, .want = W(KIND_OVS_PORT, "br-ovs/trunk0") };
        struct action c = { .op = OP_CREATE, .kind = KIND_OVS_PORT, .want = W(KIND_OVS_PORT, "br-ovs/eth1") };
        struct json_object *batch = ovs_txn_begin();
        assert_int_equal(ovs_txn_merge(batch, ovs_bridge_txn(&a), 0), 5);
        assert_int_equal(ovs_txn_merge(batch, ovs_port_txn(&b), 1), 5);
        assert_int_equal(ovs_txn_merge(batch, ovs_port_txn(&c), 2), 5);
        assert_int_equal(json_object_array_length(batch), 16);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(batch, 0)), "Open_vSwitch");
        assert_string_equal(json_object_get_string(ovs_col(op_at(batch, 4, "insert", "Bridge"), "uuid-name")), "bridge_0");
        assert_non_null(strstr(text(ovs_col(op_at(batch, 4, "insert", "Bridge"), "row")),
                               "\"ports\":[\"named-uuid\",\"local_port_0\"]"));
        assert_string_equal(text(ovs_col(op_at(batch, 5, "mutate", "Open_vSwitch"), "mutations")),
                            "[[\"bridges\",\"insert\",[\"set\",[[\"named-uuid\",\"bridge_0\"]]]]]");
        assert_string_equal(json_object_get_string(ovs_col(op_at(batch, 9, "insert", "Port"), "uuid-name")), "port_1");
        assert_string_equal(json_object_get_string(ovs_col(op_at(batch, 14, "insert", "Port"), "uuid-name")), "port_2");
        assert_string_equal(text(ovs_col(ovs_col(op_at(batch, 14, "insert", "Port"), "row"), "interfaces")),
                            "[\"set\",[[\"named-uuid\",\"iface0_2\"]]]");
        assert_string_equal(text(ovs_col(op_at(batch, 15, "mutate", "Bridge"), "mutations")),
                            "[[\"ports\",\"insert\",[\"set\",[[\"named-uuid\",\"port_2\"]]]]]");
        /* The waits of the port that follows the bridge are unchanged: they hold in the transaction's own view. */
        op_at(batch, 6, "wait", "Port");
        op_at(batch, 7, "wait", "Bridge");
        json_object_put(batch);
}

/* other-config and external-ids: only the declared keys are reconcile's. A
 * key set to another value is deleted and inserted by one mutate (an insert
 * alone keeps the old value); the keys others set are in no operation; the
 * wait holds the whole map as the plan read it. */
static void test_maps_only_declared_keys(void **state) {
        (void) state;
        static const char observe_maps[] =
                "[{\"rows\":[{\"_uuid\":[\"uuid\",\"b1\"],\"name\":\"br-ovs\",\"ports\":[\"uuid\",\"p1\"],"
                "\"fail_mode\":[\"set\",[]],\"stp_enable\":false,\"datapath_type\":\"netdev\","
                "\"external_ids\":[\"map\",[[\"reconcile\",\"managed\"],[\"theirs\",\"x\"]]],"
                "\"other_config\":[\"map\",[[\"hwaddr\",\"52:54:00:00:00:01\"],[\"mac-aging-time\",\"300\"]]]}]},"
                "{\"rows\":[{\"_uuid\":[\"uuid\",\"p1\"],\"name\":\"eth1\",\"interfaces\":[\"uuid\",\"i1\"],"
                "\"tag\":20,\"trunks\":[\"set\",[]],\"vlan_mode\":[\"set\",[]],\"bond_mode\":[\"set\",[]],"
                "\"lacp\":[\"set\",[]],\"external_ids\":[\"map\",[[\"reconcile\",\"managed\"]]],"
                "\"other_config\":[\"map\",[]]}]},"
                "{\"rows\":[{\"_uuid\":[\"uuid\",\"i1\"],\"name\":\"eth1\",\"type\":\"\"}]}]";
        struct json_object *r = json(observe_maps);
        assert_int_equal(ovs_rows_to_model(r, &live), 0);
        json_object_put(r);
        const struct resource *lb = L(KIND_OVS_BRIDGE, "br-ovs");
        assert_string_equal(str_map_get(&lb->ovs.other_config, "mac-aging-time"), "300");
        assert_string_equal(str_map_get(&lb->ovs.external_ids, "theirs"), "x");

        want("version: 1\novs-bridges:\n  br-ovs:\n    datapath: netdev\n"
             "    other-config: { mac-aging-time: 600, mcast-snooping-aging-time: '300' }\n"
             "    external-ids: { site: rack1 }\n"
             "    ports:\n      eth1: { tag: 20, other-config: { priority-tags: 'true' } }\n");
        struct action *b = diff_expect(W(KIND_OVS_BRIDGE, "br-ovs"), lb, 0);
        assert_int_equal(b->n_changes, 3);
        has_change(b, OVS_F_OTHER_CONFIG, "other-config:mac-aging-time", "300", "600");
        has_change(b, OVS_F_OTHER_CONFIG, "other-config:mcast-snooping-aging-time", NULL, "300");
        has_change(b, OVS_F_EXTERNAL_IDS, "external-ids:site", NULL, "rack1");
        struct json_object *t = ovs_bridge_txn(b);
        assert_int_equal(json_object_array_length(t), 4); /* no update of the row: only its maps change */
        struct json_object *w = op_at(t, 1, "wait", "Bridge");
        assert_non_null(strstr(text(ovs_col(w, "rows")),
                               "\"other_config\":[\"map\",[[\"hwaddr\",\"52:54:00:00:00:01\"],[\"mac-aging-time\",\"300\"]]]"));
        assert_non_null(strstr(text(ovs_col(w, "rows")), "[\"theirs\",\"x\"]"));
        struct json_object *m = op_at(t, 2, "mutate", "Bridge");
        assert_string_equal(text(ovs_col(m, "where")), "[[\"_uuid\",\"==\",[\"uuid\",\"b1\"]]]");
        assert_string_equal(text(ovs_col(m, "mutations")),
                            "[[\"other_config\",\"delete\",[\"set\",[\"mac-aging-time\",\"mcast-snooping-aging-time\"]]],"
                            "[\"other_config\",\"insert\",[\"map\",[[\"mac-aging-time\",\"600\"],"
                            "[\"mcast-snooping-aging-time\",\"300\"]]]]]");
        m = op_at(t, 3, "mutate", "Bridge");
        assert_string_equal(text(ovs_col(m, "mutations")),
                            "[[\"external_ids\",\"delete\",[\"set\",[\"site\"]]],"
                            "[\"external_ids\",\"insert\",[\"map\",[[\"site\",\"rack1\"]]]]]");
        json_object_put(t);

        struct action *p = diff_expect(W(KIND_OVS_PORT, "br-ovs/eth1"), L(KIND_OVS_PORT, "br-ovs/eth1"), 0);
        assert_int_equal(p->n_changes, 1);
        t = ovs_port_txn(p);
        assert_int_equal(json_object_array_length(t), 3);
        op_at(t, 1, "wait", "Port");
        op_at(t, 2, "mutate", "Port");
        json_object_put(t);

        /* A create marks the row and writes the declared maps. */
        struct action c = { .op = OP_CREATE, .kind = KIND_OVS_BRIDGE, .want = W(KIND_OVS_BRIDGE, "br-ovs") };
        t = ovs_bridge_txn(&c);
        struct json_object *row = ovs_col(op_at(t, 4, "insert", "Bridge"), "row");
        assert_string_equal(text(ovs_col(row, "external_ids")), "[\"map\",[[\"site\",\"rack1\"],[\"reconcile\",\"managed\"]]]");
        assert_string_equal(str_map_get(&c.want->ovs.other_config, "mac-aging-time"), "600");
        assert_non_null(strstr(text(ovs_col(row, "other_config")), "[\"mac-aging-time\",\"600\"]"));
        json_object_put(t);

        /* reconcile=managed is reconcile's own; a map is a mapping of strings. */
        assert_true(parse("version: 1\novs-bridges:\n  br-ovs:\n    external-ids: { reconcile: mine }\n") < 0);
        assert_non_null(strstr(errors(), "external-ids: the key reconcile is reconcile's own"));
        assert_true(parse("version: 1\novs-bridges:\n  br-ovs:\n    other-config: [a, b]\n") < 0);
        assert_non_null(strstr(errors(), "other-config: expected a mapping of strings"));
        assert_true(parse("version: 1\novs-bridges:\n  br-ovs:\n    other-config: { a: { b: c } }\n") < 0);
        assert_non_null(strstr(errors(), "other-config: a: expected a string"));
        assert_true(parse("version: 1\novs-bridges:\n  br-ovs:\n    other-config: { a: x, a: y }\n") < 0);
}

static const char guest_on_ovs[] = "version: 1\n"
                                   "domains:\n"
                                   "  g1:\n"
                                   "    memory: 128M\n"
                                   "    interfaces:\n"
                                   "      - { ovs-bridge: br-ovs, tag: 20, mac: '52:54:00:00:00:07' }\n"
                                   "      - { ovs-bridge: br-ovs }\n"
                                   "      - { network: ovsnet, portgroup: vlan30 }\n";

/* A guest NIC on OVS renders a bridge interface with the openvswitch
 * virtualport and its access VLAN, and reads back as the same NIC. */
static void test_guest_nic_on_ovs(void **state) {
        (void) state;
        want(guest_on_ovs);
        const struct resource *d = W(KIND_DOMAIN, "g1");
        char *xml = domain_render_xml(d, "qemu", NULL);
        assert_non_null(xml);
        assert_non_null(strstr(xml, "<interface type=\"bridge\">"));
        assert_non_null(strstr(xml, "<source bridge=\"br-ovs\"/>"));
        assert_non_null(strstr(xml, "<virtualport type=\"openvswitch\"/>"));
        assert_non_null(strstr(xml, "<vlan>"));
        assert_non_null(strstr(xml, "<tag id=\"20\"/>"));
        assert_non_null(strstr(xml, "<source network=\"ovsnet\" portgroup=\"vlan30\"/>"));
        struct resource *back = resource_new(KIND_DOMAIN, "g1");
        assert_int_equal(domain_parse_xml(xml, back), 0);
        assert_int_equal(back->domain.n_nics, 3);
        const struct nic_spec *n = back->domain.nics;
        assert_true(n[0].set & NIC_F_OVS_BRIDGE);
        assert_false(n[0].set & NIC_F_BRIDGE);
        assert_string_equal(n[0].ovs_bridge, "br-ovs");
        assert_true(n[0].set & NIC_F_VLAN_TAG);
        assert_int_equal(n[0].vlan_tag, 20);
        assert_true(n[1].set & NIC_F_OVS_BRIDGE);
        assert_false(n[1].set & NIC_F_VLAN_TAG);
        assert_true(n[2].set & NIC_F_PORTGROUP);
        assert_string_equal(n[2].portgroup, "vlan30");
        resource_free(back);
        free(xml);

        /* What libvirt adds to a defined OVS interface (its port's id) reads as the same NIC. */
        const char *defined = "<domain type='qemu'><name>g1</name><memory unit='KiB'>131072</memory><devices>"
                              "<interface type='bridge'><mac address='52:54:00:00:00:07'/><source bridge='br-ovs'/>"
                              "<vlan><tag id='42'/></vlan><virtualport type='openvswitch'><parameters "
                              "interfaceid='0c0b0a09-0807-0605-0403-020100000000'/></virtualport>"
                              "<model type='virtio'/></interface>"
                              "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>"
                              "</devices></domain>";
        back = resource_new(KIND_DOMAIN, "g1");
        assert_int_equal(domain_parse_xml(defined, back), 0);
        assert_int_equal(back->domain.n_nics, 2);
        assert_int_equal(back->domain.nics[0].vlan_tag, 42);
        assert_string_equal(back->domain.nics[0].ovs_bridge, "br-ovs");
        assert_string_equal(back->domain.nics[0].ovs_port_id, "0c0b0a09-0807-0605-0403-020100000000");
        assert_true(back->domain.nics[1].set & NIC_F_BRIDGE);
        assert_false(back->domain.nics[1].set & (NIC_F_OVS_BRIDGE | NIC_F_VLAN_TAG));
        resource_free(back);

        /* A tag is OVS's, a portgroup the network's; a NIC plugs in one place. */
        assert_true(parse("version: 1\ndomains:\n  g1:\n    memory: 128M\n    interfaces:\n"
                          "      - { bridge: br0, tag: 20 }\n") < 0);
        assert_non_null(strstr(errors(), "tag needs ovs-bridge"));
        assert_true(parse("version: 1\ndomains:\n  g1:\n    memory: 128M\n    interfaces:\n"
                          "      - { ovs-bridge: br-ovs, portgroup: x }\n") < 0);
        assert_non_null(strstr(errors(), "portgroup needs network"));
        assert_true(parse("version: 1\ndomains:\n  g1:\n    memory: 128M\n    interfaces:\n"
                          "      - { ovs-bridge: br-ovs, bridge: br0 }\n") < 0);
        assert_non_null(strstr(errors(), "exactly one of bridge, network, ovs-bridge and direct"));
        assert_true(parse("version: 1\ndomains:\n  g1:\n    memory: 128M\n    interfaces:\n"
                          "      - { ovs-bridge: br-ovs, tag: 4095 }\n") < 0);
}

/* A libvirt network over an OVS bridge with portgroups carrying VLANs. */
static void test_network_over_ovs(void **state) {
        (void) state;
        want("version: 1\nnetworks:\n  ovsnet:\n    mode: bridge\n    ovs-bridge: br-ovs\n"
             "    portgroups:\n      - { name: vlan20, tag: 20 }\n      - { name: plain }\n"
             "ovs-bridges:\n  br-ovs: { datapath: netdev }\n");
        const struct resource *n = W(KIND_NETWORK, "ovsnet");
        char *xml = network_render_xml(n);
        assert_non_null(xml);
        assert_non_null(strstr(xml, "<forward mode=\"bridge\"/>"));
        assert_non_null(strstr(xml, "<bridge name=\"br-ovs\"/>"));
        assert_non_null(strstr(xml, "<virtualport type=\"openvswitch\"/>"));
        assert_non_null(strstr(xml, "<portgroup name=\"vlan20\">\n  <vlan>\n   <tag id=\"20\"/>\n  </vlan>\n </portgroup>"));
        assert_non_null(strstr(xml, "<portgroup name=\"plain\"/>"));
        struct resource *back = resource_new(KIND_NETWORK, "ovsnet");
        assert_int_equal(network_parse_xml(xml, back), 0);
        assert_true(back->set & NET_F_OVS_BRIDGE);
        assert_false(back->set & NET_F_BRIDGE);
        assert_string_equal(back->network.bridge, "br-ovs");
        assert_int_equal(back->network.n_portgroups, 2);
        assert_string_equal(back->network.portgroups[0].name, "vlan20");
        assert_int_equal(back->network.portgroups[0].vlan_tag, 20);
        assert_false(back->network.portgroups[1].set & PG_F_TAG);
        /* Read back (running and autostarted, which libvirt says apart), nothing differs; another tag is a change. */
        back->network.autostart = back->network.active = true;
        struct action *a = diff_expect(n, back, 0);
        assert_int_equal(a->n_changes, 0);
        back->network.portgroups[0].vlan_tag = 30;
        a = diff_expect(n, back, 0);
        assert_int_equal(a->n_changes, 1);
        has_change(a, NET_F_PORTGROUPS, "portgroup vlan20 tag", "30", "20");
        resource_free(back);
        free(xml);

        assert_true(parse("version: 1\nnetworks:\n  n1:\n    mode: nat\n    ovs-bridge: br-ovs\n") < 0);
        assert_non_null(strstr(errors(), "ovs-bridge needs mode: bridge"));
        assert_true(parse("version: 1\nnetworks:\n  n1:\n    mode: bridge\n    bridge: br0\n"
                          "    portgroups: [{ name: a, tag: 2 }]\n") < 0);
        assert_non_null(strstr(errors(), "portgroups (their VLANs) need ovs-bridge"));
        assert_true(parse("version: 1\nnetworks:\n  n1:\n    mode: bridge\n    ovs-bridge: br-ovs\n"
                          "    portgroups: [{ name: a, tag: 2 }, { name: a, tag: 3 }]\n") < 0);
        assert_non_null(strstr(errors(), "portgroup a twice"));
        /* A guest names a portgroup its network does not have. */
        assert_true(parse("version: 1\nnetworks:\n  n1:\n    mode: bridge\n    ovs-bridge: br-ovs\n"
                          "    portgroups: [{ name: a, tag: 2 }]\ndomains:\n  g1:\n    memory: 128M\n"
                          "    interfaces: [{ network: n1, portgroup: b }]\n") < 0);
        assert_non_null(strstr(errors(), "domain g1: network n1 has no portgroup b"));
        want("version: 1\nnetworks:\n  n1:\n    mode: bridge\n    ovs-bridge: br-ovs\n"
             "    portgroups: [{ name: a, tag: 2 }]\ndomains:\n  g1:\n    memory: 128M\n"
             "    interfaces: [{ network: n1, portgroup: a }]\novs-bridges:\n  br-ovs: { datapath: netdev }\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_tables_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_and_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_observe_rows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_and_check, setup, teardown),
                cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_update_waits_for_what_the_plan_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_and_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_guest_nic_on_ovs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_merges_with_distinct_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_maps_only_declared_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_network_over_ovs, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
