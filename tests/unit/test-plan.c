/* Plan, order, ownership, mass-delete guard, apply and the output formats,
 * against a fake link backend (tests/unit/fake-backends.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "../../cmd/output.h"
#include "../../parsers/parsers.h"
#include "fake-backends.h"

static struct manifest_set set;
static struct ledger ledger;
static struct run_opts opts;
static struct run run;
static char dir[64];
static char *errs;
static size_t errs_len;
static FILE *errs_f;

static int setup(void **state) {
        (void) state;
        memset(&set, 0, sizeof(set));
        memset(&run, 0, sizeof(run));
        memset(&opts, 0, sizeof(opts));
        snprintf(dir, sizeof(dir), "/tmp/rct-plan-XXXXXX");
        assert_non_null(mkdtemp(dir));
        assert_int_equal(ledger_load(&ledger, dir), 0);
        opts.state_dir = dir;
        run.opts = &opts;
        run.ledger = &ledger;
        fake_log[0] = '\0';
        fake_fail_at = -1;
        fake_incomplete = NULL;
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        return 0;
}

static int teardown(void **state) {
        (void) state;
        run_done(&run);
        ledger_done(&ledger);
        manifests_done(&set);
        model_done(&fake_live);
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void want(const char *yaml) {
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        assert_int_equal(manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1"), 0);
        run.want = &set.model;
}

static struct resource *live_link(enum kind k, const char *name, uint32_t mtu) {
        struct resource *r = resource_new(k, name);
        r->link.mtu = mtu;
        r->set = LINK_F_MTU;
        assert_int_equal(model_add(&fake_live, r), 0);
        return r;
}

static void own(enum kind k, const char *name) {
        ledger_add(&ledger, "netns:host", k, name);
}

static int plan(void) {
        int r = run_observe(&run);
        assert_int_equal(r, 0);
        return run_plan(&run);
}

/* "op name" of every action, in order. */
static const char *order(void) {
        static char buf[1024];
        buf[0] = '\0';
        for (size_t i = 0; i < run.plan.n_actions; i++) {
                size_t n = strlen(buf);
                snprintf(buf + n, sizeof(buf) - n, "%s%s %s", i ? ";" : "", op_to_string(run.plan.actions[i].op),
                         run.plan.actions[i].name);
        }
        return buf;
}

static void test_create_order_follows_dependencies(void **state) {
        (void) state;
        live_link(KIND_ETHERNET, "eth1", 1500);
        /* Declared in reverse: the bridge needs the VLAN, the VLAN needs eth1... */
        want("version: 1\nbridges:\n  br0: { interfaces: [vlan20, vlan30] }\n"
             "vlans:\n  vlan30: { link: vlan20, id: 30 }\n  vlan20: { link: eth1, id: 20 }\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "create vlan20;create vlan30;create br0");
}

static void test_deletes_first_dependents_first(void **state) {
        (void) state;
        live_link(KIND_ETHERNET, "eth1", 1500);
        struct resource *v = live_link(KIND_VLAN, "vlan20", 1500);
        snprintf(v->link.link, sizeof(v->link.link), "eth1");
        struct resource *b = live_link(KIND_BRIDGE, "br0", 1500);
        *(char **) array_push(&b->link.interfaces.v, &b->link.interfaces.n, sizeof(char *)) = xstrdup("vlan20");
        live_link(KIND_BRIDGE, "keep1", 1500);
        live_link(KIND_BRIDGE, "keep2", 1500);
        live_link(KIND_BRIDGE, "keep3", 1500);
        own(KIND_VLAN, "vlan20");
        own(KIND_BRIDGE, "br0");
        own(KIND_BRIDGE, "keep1");
        own(KIND_BRIDGE, "keep2");
        own(KIND_BRIDGE, "keep3");
        want("version: 1\nbridges:\n  keep1: { mtu: 9000 }\n  keep2: {}\n  keep3: {}\n  new: {}\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "delete br0;delete vlan20;update keep1;create new");
        assert_int_equal(run_check_mass_delete(&run), 0); /* 2 of 5 */
}

static void test_unowned_never_pruned_and_adopted_when_named(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "theirs", 1500);
        live_link(KIND_BRIDGE, "named", 1500);
        want("version: 1\nbridges:\n  named: {}\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "adopt named");
}

static void test_mass_delete_guard(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "a", 1500);
        live_link(KIND_BRIDGE, "b", 1500);
        live_link(KIND_BRIDGE, "c", 1500);
        own(KIND_BRIDGE, "a");
        own(KIND_BRIDGE, "b");
        own(KIND_BRIDGE, "c");
        want("version: 1\nbridges:\n  a: {}\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "delete b;delete c");
        assert_int_equal(run_check_mass_delete(&run), -EPERM);
        fflush(errs_f);
        assert_non_null(strstr(errs, "refusing to delete 2 of 3 deletable resources"));
        opts.allow_mass_delete = true;
        assert_int_equal(run_check_mass_delete(&run), 0);
}

/* NICs are never pruned: however many are owned, they do not dilute the guard. */
static void test_mass_delete_guard_counts_only_deletable(void **state) {
        (void) state;
        for (int i = 0; i < 8; i++) {
                char n[8];
                snprintf(n, sizeof(n), "eth%d", i);
                live_link(KIND_ETHERNET, n, 1500);
                own(KIND_ETHERNET, n);
        }
        live_link(KIND_BRIDGE, "a", 1500);
        live_link(KIND_BRIDGE, "b", 1500);
        own(KIND_BRIDGE, "a");
        own(KIND_BRIDGE, "b");
        own(KIND_BRIDGE, "vanished"); /* owned, gone from the host: nothing to delete */
        want("version: 1\nbridges:\n  unrelated: {}\n");
        assert_int_equal(plan(), 0);
        assert_true(run.plan.mass_delete_refused);
        assert_int_equal(run.plan.n_deletes, 2);
        assert_int_equal(run.plan.n_managed_in_scope, 2);
        assert_int_equal(run_check_mass_delete(&run), -EPERM);
        fflush(errs_f);
        assert_non_null(strstr(errs, "refusing to delete 2 of 2 deletable resources"));
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        plan_print_text(f, &run.plan);
        fclose(f);
        assert_non_null(strstr(text, "\napply will refuse: 2 of 2 deletable resources; --allow-mass-delete\n"));
        free(text);
}

static void test_missing_dependency_skips_dependents_only(void **state) {
        (void) state;
        want("version: 1\nvlans:\n  v1: { link: eth9, id: 1 }\nbridges:\n  b1: { interfaces: [v1] }\n  b2: {}\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "create b2");
        assert_int_equal(run.plan.n_errors, 2);
        fflush(errs_f);
        assert_non_null(strstr(errs, "m.yaml:3:15: error: vlan v1: parent eth9 is neither declared nor present"));
        assert_non_null(strstr(errs, "m.yaml:5:22: error: bridge b1: port v1 was skipped; skipping b1 too"));
}

static void test_dependency_cycle(void **state) {
        (void) state;
        want("version: 1\nbridges:\n  a: { interfaces: [b] }\n  b: { interfaces: [a] }\n");
        assert_int_equal(plan(), -ELOOP);
        fflush(errs_f);
        assert_non_null(strstr(errs, "part of a dependency cycle"));
}

static void test_replace_and_update(void **state) {
        (void) state;
        live_link(KIND_ETHERNET, "eth0", 1500);
        struct resource *v = live_link(KIND_VLAN, "v", 1500);
        v->link.vlan_id = 20;
        snprintf(v->link.link, sizeof(v->link.link), "eth0");
        own(KIND_VLAN, "v");
        want("version: 1\nethernets:\n  eth0: { mtu: 9000 }\nvlans:\n  v: { link: eth0, id: 30 }\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "update eth0;replace v");

        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        plan_print_text(f, &run.plan);
        fclose(f);
        assert_string_equal(text, "plan: 0 to create, 1 to update, 1 to replace, 0 to delete\n"
                                  "~ ethernet eth0                     mtu 1500 -> 9000\n"
                                  "-/+ vlan v                          id 20 -> 30 cannot change in place\n");
        free(text);
}

static void test_json_output(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "old", 1500);
        live_link(KIND_BRIDGE, "k1", 1500);
        live_link(KIND_BRIDGE, "k2", 1500);
        own(KIND_BRIDGE, "old");
        own(KIND_BRIDGE, "k1");
        own(KIND_BRIDGE, "k2");
        want("version: 1\nbridges:\n  k1: { mtu: 1400 }\n  k2: {}\n  br0: {}\n");
        assert_int_equal(plan(), 0);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        plan_print_json(f, &run.plan, false, NULL, NULL);
        fclose(f);
        json_object *root = json_tokener_parse(text);
        assert_non_null(root);
        json_object *sum, *actions, *pending, *v;
        assert_true(json_object_object_get_ex(root, "version", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(root, "summary", &sum));
        assert_true(json_object_object_get_ex(sum, "create", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(sum, "delete", &v));
        assert_int_equal(json_object_get_int(v), 1);
        assert_true(json_object_object_get_ex(root, "pending", &pending));
        assert_int_equal(json_object_array_length(pending), 0);
        assert_true(json_object_object_get_ex(root, "actions", &actions));
        assert_int_equal(json_object_array_length(actions), 3);
        json_object *upd = json_object_array_get_idx(actions, 1), *changes, *c;
        assert_true(json_object_object_get_ex(upd, "op", &v));
        assert_string_equal(json_object_get_string(v), "update");
        assert_true(json_object_object_get_ex(upd, "source", &v));
        assert_string_equal(json_object_get_string(v), "m.yaml:3:3");
        assert_true(json_object_object_get_ex(upd, "changes", &changes));
        c = json_object_array_get_idx(changes, 0);
        assert_true(json_object_object_get_ex(c, "field", &v));
        assert_string_equal(json_object_get_string(v), "mtu");
        assert_true(json_object_object_get_ex(c, "from", &v));
        assert_string_equal(json_object_get_string(v), "1500");
        assert_true(json_object_object_get_ex(c, "to", &v));
        assert_string_equal(json_object_get_string(v), "1400");
        json_object *del = json_object_array_get_idx(actions, 0);
        assert_true(json_object_object_get_ex(del, "reason", &v));
        assert_string_equal(json_object_get_string(v), "no longer in the manifests");
        json_object_put(root);
        free(text);
}

/* A failed action stops only what depends on it; the rest goes on. */
static void test_apply_records_and_stops_at_failure(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "gone", 1500);
        own(KIND_BRIDGE, "gone");
        for (int i = 0; i < 3; i++) {
                char n[8];
                snprintf(n, sizeof(n), "k%d", i);
                live_link(KIND_BRIDGE, n, 1500);
                own(KIND_BRIDGE, n);
        }
        want("version: 1\nbridges:\n  k0: {}\n  k1: {}\n  k2: {}\n  a: {}\n  b: {}\n  c: {}\n");
        assert_int_equal(plan(), 0);
        fake_fail_at = 2;
        assert_int_equal(run_apply(&run), -EIO);
        assert_string_equal(fake_log, "delete gone;create a;create c");
        assert_int_equal(run.plan.actions[0].result, 0);
        assert_int_equal(run.plan.actions[1].result, 0);
        assert_true(run.plan.actions[2].result < 0);
        assert_int_equal(run.plan.actions[3].result, 0); /* independent of b: it ran */
        /* The ledger on disk: the deleted one is gone, the created one is owned. */
        struct ledger reread;
        assert_int_equal(ledger_load(&reread, dir), 0);
        assert_null(ledger_find(&reread, "netns:host", KIND_BRIDGE, "gone"));
        assert_non_null(ledger_find(&reread, "netns:host", KIND_BRIDGE, "a"));
        assert_non_null(ledger_find(&reread, "netns:host", KIND_BRIDGE, "k0"));
        ledger_done(&reread);
}

/* Issue 14.5: a create that fails after it made its object keeps it owned and
 * incomplete; the next plan finishes it, or deletes it once it left the manifests. */
static void test_failed_create_owned_incomplete(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "keep", 1500);
        own(KIND_BRIDGE, "keep");
        want("version: 1\nbridges:\n  keep: {}\n  half: { mtu: 9000 }\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "create half");
        fake_fail_at = 0;
        fake_incomplete = "made, mtu not set";
        assert_int_equal(run_apply(&run), -EIO);
        struct ledger reread;
        assert_int_equal(ledger_load(&reread, dir), 0);
        struct ledger_entry *e = ledger_find(&reread, "netns:host", KIND_BRIDGE, "half");
        assert_non_null(e);
        assert_null(ledger_get(e, "pending"));
        assert_string_equal(ledger_get(e, "incomplete"), "made, mtu not set");
        ledger_done(&reread);

        /* The next run sees what the failed create left and finishes it. */
        live_link(KIND_BRIDGE, "half", 1500);
        fake_fail_at = -1;
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "update half");
        assert_string_equal(run.plan.actions[0].reason, "finishes a create that failed: made, mtu not set");
        assert_int_equal(run_apply(&run), 0);
        assert_null(ledger_get(ledger_find(&ledger, "netns:host", KIND_BRIDGE, "half"), "incomplete"));

        /* Or, once it left the manifests, removes it and says why it is there. */
        ledger_mark_incomplete(&ledger, ledger_find(&ledger, "netns:host", KIND_BRIDGE, "half"), "made, mtu not set");
        want("version: 1\nbridges:\n  keep: {}\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "delete half");
        assert_string_equal(run.plan.actions[0].reason, "no longer in the manifests (its create failed: made, mtu not set)");

        /* A failed create that left nothing (fake_incomplete unset) owns nothing: its
         * intent mark goes, so whatever takes the name later is not ours. */
        ledger_remove(&ledger, ledger_find(&ledger, "netns:host", KIND_BRIDGE, "half"));
        model_done(&fake_live);
        live_link(KIND_BRIDGE, "keep", 1500);
        want("version: 1\nbridges:\n  keep: {}\n  other: {}\n");
        assert_int_equal(plan(), 0);
        fake_fail_at = 2;
        fake_incomplete = NULL;
        assert_int_equal(run_apply(&run), -EIO);
        assert_null(ledger_find(&ledger, "netns:host", KIND_BRIDGE, "other"));
}

static void test_only_restricts_pruning(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "b", 1500);
        live_link(KIND_ETHERNET, "e", 1500);
        own(KIND_BRIDGE, "b");
        want("version: 1\nethernets:\n  e: { mtu: 1400 }\n");
        opts.only_kinds = 1u << KIND_ETHERNET;
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "update e");
}

static void test_absent(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "b", 1500);
        want("version: 1\nbridges:\n  b: { state: absent }\n  c: { state: absent }\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "delete b");
        assert_string_equal(run.plan.actions[0].reason, "state: absent");
}

static bool named_eth1(const struct resource *r, void *u) {
        (void) u;
        return strcmp(r->name, "eth1") == 0;
}

/* A declared NIC that the apply took with it (a veth's peer) is caught by the
 * verification, though the re-plan only finds it missing, with no action. */
static void test_verify_catches_a_lost_nic(void **state) {
        (void) state;
        live_link(KIND_ETHERNET, "eth1", 1500);
        want("version: 1\nethernets:\n  eth1: { mtu: 1500 }\nbridges:\n  b1: {}\n");
        assert_int_equal(plan(), 0);
        assert_int_equal(run_apply(&run), 0);
        model_remove_if(&fake_live, named_eth1, NULL);
        struct plan residual = { 0 };
        assert_int_equal(run_verify(&run, &residual), -EIO);
        plan_done(&residual);
        fflush(errs_f);
        assert_non_null(strstr(errs, "ethernet eth1 does not exist"));
        assert_non_null(strstr(errs, "verification: 1 more resource cannot be planned than before the apply"));
}

/* A VLAN that fails skips the bridge over it and that bridge's dependents, not the others. */
static void test_failure_skips_only_dependents(void **state) {
        (void) state;
        live_link(KIND_ETHERNET, "eth1", 1500);
        want("version: 1\nvlans:\n  v1: { link: eth1, id: 1 }\n"
             "bridges:\n  b1: { interfaces: [v1] }\n  b2: {}\n");
        assert_int_equal(plan(), 0);
        assert_string_equal(order(), "create v1;create b1;create b2");
        fake_fail_at = 0;
        assert_int_equal(run_apply(&run), -EIO);
        assert_string_equal(fake_log, "create b2");
        assert_true(run.plan.actions[0].result < 0);
        assert_int_equal(run.plan.actions[1].result, 1); /* not run: its port failed */
        assert_int_equal(run.plan.actions[2].result, 0);
}

/* Creates add ledger entries before the first action runs; the entries an
 * update planned against must not be left behind where the ledger was. */
static void test_apply_sees_owned_entry_after_ledger_grows(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "k0", 1500);
        own(KIND_BRIDGE, "k0");
        want("version: 1\nbridges:\n  k0: { mtu: 9000 }\n  a: {}\n  b: {}\n  c: {}\n  d: {}\n  e: {}\n  f: {}\n");
        assert_int_equal(plan(), 0);
        assert_int_equal(run_apply(&run), 0);
        assert_non_null(strstr(fake_log, "update k0"));
}

/* Verification observes again; the applied plan it hands back still points at
 * the live resources its actions were planned against (read under ASan). */
static void test_applied_plan_valid_after_verify(void **state) {
        (void) state;
        live_link(KIND_BRIDGE, "k0", 1500);
        live_link(KIND_BRIDGE, "k1", 1500);
        own(KIND_BRIDGE, "k0");
        own(KIND_BRIDGE, "k1");
        want("version: 1\nbridges:\n  k0: { mtu: 9000 }\n  k1: { mtu: 9000 }\n");
        assert_int_equal(plan(), 0);
        assert_int_equal(run_apply(&run), 0);
        struct plan residual = { 0 };
        run_verify(&run, &residual); /* the fake never changes: both still need an update */
        assert_int_equal(residual.n_actions, 2);
        plan_done(&residual);
        assert_int_equal(run.plan.n_actions, 2);
        for (size_t i = 0; i < run.plan.n_actions; i++) {
                assert_non_null(run.plan.actions[i].live);
                assert_string_equal(run.plan.actions[i].live->name, run.plan.actions[i].name);
                assert_int_equal(run.plan.actions[i].live->link.mtu, 1500);
        }
}

/* The ordered action array is one array_push may grow (ASan sees an overflow). */
static void test_plan_actions_grow_after_ordering(void **state) {
        (void) state;
        want("version: 1\nbridges:\n  a: {}\n  b: {}\n  c: {}\n  d: {}\n  e: {}\n");
        assert_int_equal(plan(), 0);
        assert_int_equal(run.plan.n_actions, 5);
        for (int i = 0; i < 4; i++) {
                struct action *a = array_push(&run.plan.actions, &run.plan.n_actions, sizeof(*a));
                a->name = xstrdup("extra");
        }
        assert_int_equal(run.plan.n_actions, 9);
        assert_string_equal(run.plan.actions[8].name, "extra");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_create_order_follows_dependencies),
                T(test_deletes_first_dependents_first),
                T(test_unowned_never_pruned_and_adopted_when_named),
                T(test_mass_delete_guard),
                T(test_mass_delete_guard_counts_only_deletable),
                T(test_missing_dependency_skips_dependents_only),
                T(test_dependency_cycle),
                T(test_replace_and_update),
                T(test_json_output),
                T(test_apply_records_and_stops_at_failure),
                T(test_failed_create_owned_incomplete),
                T(test_only_restricts_pruning),
                T(test_absent),
                T(test_apply_sees_owned_entry_after_ledger_grows),
                T(test_failure_skips_only_dependents),
                T(test_verify_catches_a_lost_nic),
                T(test_applied_plan_valid_after_verify),
                T(test_plan_actions_grow_after_ordering),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
