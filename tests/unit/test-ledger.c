/* The ledger on disk, the state directory rules and the lock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../reconcile/reconcile.h"

static char dir[64];
static FILE *null_f;

static int setup(void **state) {
        (void) state;
        snprintf(dir, sizeof(dir), "/tmp/rct-ledger-XXXXXX");
        assert_non_null(mkdtemp(dir));
        null_f = fopen("/dev/null", "w");
        diag_set_stream(null_f);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        diag_set_stream(NULL);
        fclose(null_f);
        return 0;
}

static void write_file(const char *name, const char *content) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void test_round_trip(void **state) {
        struct ledger l;
        (void) state;
        assert_int_equal(ledger_load(&l, dir), 0); /* no file yet: a first run */
        assert_int_equal(l.n, 0);
        struct ledger_entry *e = ledger_add(&l, "netns:host", KIND_BRIDGE, "br0");
        ledger_set(&l, e, "mac", "02:00:00:00:00:01");
        ledger_set(&l, e, "odd", "tab\there=100%\nnew");
        ledger_add(&l, "libvirt:test:///default", KIND_DOMAIN, "web 1");
        ledger_add(&l, "netns:host", KIND_BRIDGE, "br1");
        ledger_remove(&l, ledger_find(&l, "netns:host", KIND_BRIDGE, "br1"));
        for (int i = 0; i < 500; i++) {
                char n[16];
                snprintf(n, sizeof(n), "b%d", i);
                ledger_add(&l, "netns:x", KIND_BRIDGE, n);
        }
        assert_int_equal(ledger_save(&l), 0);
        ledger_done(&l);

        assert_int_equal(ledger_load(&l, dir), 0);
        e = ledger_find(&l, "netns:host", KIND_BRIDGE, "br0");
        assert_non_null(e);
        assert_string_equal(ledger_get(e, "mac"), "02:00:00:00:00:01");
        assert_string_equal(ledger_get(e, "odd"), "tab\there=100%\nnew");
        assert_non_null(ledger_find(&l, "libvirt:test:///default", KIND_DOMAIN, "web 1"));
        assert_null(ledger_find(&l, "netns:host", KIND_BRIDGE, "br1"));
        assert_null(ledger_find(&l, "netns:other", KIND_BRIDGE, "br0")); /* scopes are separate */
        assert_null(ledger_find(&l, "netns:host", KIND_VLAN, "br0"));    /* and kinds */
        assert_non_null(ledger_find(&l, "netns:x", KIND_BRIDGE, "b499"));
        ledger_set(&l, e, "mac", NULL);
        assert_null(ledger_get(e, "mac"));
        ledger_done(&l);
}

static void test_damaged_ledgers_refused(void **state) {
        struct ledger l;
        (void) state;
        static const char *const bad[] = {
                "",                                                   /* empty: power loss before the first write */
                "reconcile-ledger 1\n",                               /* no end line */
                "reconcile-ledger 1\nE\tnetns:host\tbridge\tbr0\n",  /* torn before the end */
                "reconcile-ledger 1\nE\tnetns:host\tbridge\tbr0\nend 2\n", /* count mismatch */
                "reconcile-ledger 1\nE\tnetns:host\tbridge\tbr0\nend 1",   /* last line cut */
                "reconcile-ledger 1\nE\tnetns:host\tplanet\tbr0\nend 1\n", /* unknown kind */
                "something else\nend 0\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                write_file("ledger", bad[i]);
                int r = ledger_load(&l, dir);
                if (r != -EBADMSG)
                        fail_msg("case %zu: expected -EBADMSG, got %d", i, r);
                ledger_done(&l);
        }
        write_file("ledger", "reconcile-ledger 1\nE\tnetns:host\tbridge\tbr0\nend 1\n");
        assert_int_equal(ledger_load(&l, dir), 0);
        assert_int_equal(l.n, 1);
        ledger_done(&l);
}

static void test_state_dir_rules(void **state) {
        char sub[128];
        (void) state;
        snprintf(sub, sizeof(sub), "%s/state", dir);
        assert_int_equal(state_dir_check(sub), 0); /* created 0700 */
        struct stat st;
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        chmod(sub, 0750);
        assert_int_equal(state_dir_check(sub), -EPERM);
        chmod(sub, 0700);
        assert_int_equal(path_check_private(sub, true), 0);
        chmod(sub, 0720);
        assert_int_equal(path_check_private(sub, true), -EPERM);
}

/* One rule for the manifests and the state directory, with the messages the
 * kernel suites look for. */
static void test_private_rule_messages(void **state) {
        char sub[128], *out = NULL;
        size_t len = 0;
        struct stat st;
        (void) state;
        snprintf(sub, sizeof(sub), "%s/m.yaml", dir);
        write_file("m.yaml", "version: 1\n");
        FILE *f = open_memstream(&out, &len);
        diag_set_stream(f);
        chmod(sub, 0620);
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(stat_check_private(sub, &st, false), -EPERM);
        chmod(sub, 0644);
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(stat_check_private(sub, &st, false), 0);
        assert_int_equal(stat_check_private(sub, &st, true), -EPERM); /* the state directory's own rule */
        st.st_uid = geteuid() + 1;
        assert_int_equal(stat_check_private(sub, &st, false), -EPERM);
        fclose(f);
        diag_set_stream(null_f);
        assert_non_null(strstr(out, "m.yaml: writable by group or others (mode 0620): refusing it"));
        assert_non_null(strstr(out, "m.yaml: the state directory has mode 0644; it must be 0700"));
        assert_non_null(strstr(out, "not by the runner"));
        free(out);
}

static void test_lock_is_exclusive(void **state) {
        int a = -1, b = -1;
        (void) state;
        assert_int_equal(lock_take(dir, 0, &a), 0);
        assert_int_equal(lock_take(dir, 0, &b), -EBUSY);
        assert_int_equal(lock_take(dir, 1, &b), -EBUSY); /* waited a second, still held */
        lock_release(&a);
        assert_int_equal(lock_take(dir, 0, &b), 0);
        lock_release(&b);
        assert_int_equal(b, -1);
}

/* A removed domain's MACs stay in the file, found by nothing until the same
 * domain is added again; everything else about it is gone. */
static void test_removed_keeps_macs(void **state) {
        struct ledger l;
        (void) state;
        assert_int_equal(ledger_load(&l, dir), 0);
        struct ledger_entry *e = ledger_add(&l, "libvirt:x", KIND_DOMAIN, "g");
        ledger_set(&l, e, "mac.0", "52:54:00:00:00:01");
        ledger_set(&l, e, "mac.1", "52:54:00:00:00:02");
        ledger_set(&l, e, "adopted", "1");
        ledger_set(&l, e, "shutdown", "3@10");
        ledger_remove(&l, e);
        e = ledger_add(&l, "netns:host", KIND_BRIDGE, "br0");
        ledger_set(&l, e, "mac", "02:00:00:00:00:01");
        ledger_remove(&l, e); /* a bridge's "mac" is not a NIC's: it goes */
        assert_int_equal(ledger_save(&l), 0);
        ledger_done(&l);

        assert_int_equal(ledger_load(&l, dir), 0);
        assert_null(ledger_find(&l, "libvirt:x", KIND_DOMAIN, "g"));
        assert_int_equal(l.n, 1);
        assert_true(l.v[0].gone);
        assert_int_equal(ledger_save(&l), 0); /* kept across runs that do not name it */
        ledger_done(&l);

        assert_int_equal(ledger_load(&l, dir), 0);
        e = ledger_add(&l, "libvirt:x", KIND_DOMAIN, "g");
        assert_string_equal(ledger_get(e, "mac.0"), "52:54:00:00:00:01");
        assert_string_equal(ledger_get(e, "mac.1"), "52:54:00:00:00:02");
        assert_null(ledger_get(e, "adopted"));
        assert_null(ledger_get(e, "shutdown"));
        assert_null(ledger_get(e, "retired"));
        assert_non_null(ledger_find(&l, "libvirt:x", KIND_DOMAIN, "g"));
        ledger_done(&l);
}

/* Interface and ipset names may hold commas: a list attribute (a bridge's
 * ports) keeps every name apart through a save and a load. */
static void test_lists_hold_any_name(void **state) {
        struct ledger l;
        (void) state;
        static char *names[] = { "eth0", "a,b", ",", "100%", "x=y", "back\\slash", "two words", "end\\",
                                 "\\,", "%2C", "tab\there" };
        struct str_list want = { names, ELEMENTSOF(names) }, got = { 0 };
        assert_int_equal(ledger_load(&l, dir), 0);
        struct ledger_entry *e = ledger_add(&l, "netns:host", KIND_BRIDGE, "br,0 %=\\");
        ledger_set_list(&l, e, "ports", &want);
        assert_int_equal(ledger_save(&l), 0);
        ledger_done(&l);

        assert_int_equal(ledger_load(&l, dir), 0);
        e = ledger_find(&l, "netns:host", KIND_BRIDGE, "br,0 %=\\");
        assert_non_null(e);
        ledger_get_list(e, "ports", &got);
        assert_int_equal(got.n, want.n);
        for (size_t i = 0; i < want.n; i++) {
                assert_string_equal(got.v[i], want.v[i]);
                assert_true(ledger_list_contains(e, "ports", want.v[i]));
        }
        str_list_done(&got);
        assert_false(ledger_list_contains(e, "ports", "a"));
        assert_false(ledger_list_contains(e, "ports", "b"));
        assert_false(ledger_list_contains(e, "ports", "back"));
        assert_false(ledger_list_contains(e, "other", "eth0"));
        assert_false(ledger_list_contains(NULL, "ports", "eth0"));
        /* An empty list unsets the attribute. */
        struct str_list none = { 0 };
        ledger_set_list(&l, e, "ports", &none);
        assert_null(ledger_get(e, "ports"));
        ledger_get_list(e, "ports", &got);
        assert_int_equal(got.n, 0);
        ledger_done(&l);

        /* A ledger written before the escape reads as it did: plain names, and a
         * backslash that escapes nothing is a backslash. */
        write_file("ledger", "reconcile-ledger 1\nE\tnetns:host\tbridge\tbr0\tports=eth0,eth1,we\\ird\nend 1\n");
        assert_int_equal(ledger_load(&l, dir), 0);
        e = ledger_find(&l, "netns:host", KIND_BRIDGE, "br0");
        ledger_get_list(e, "ports", &got);
        assert_int_equal(got.n, 3);
        assert_string_equal(got.v[0], "eth0");
        assert_string_equal(got.v[1], "eth1");
        assert_string_equal(got.v[2], "we\\ird");
        assert_true(ledger_list_contains(e, "ports", "eth1"));
        assert_false(ledger_list_contains(e, "ports", "eth"));
        str_list_done(&got);
        ledger_done(&l);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_round_trip),
                T(test_damaged_ledgers_refused),
                T(test_state_dir_rules),
                T(test_private_rule_messages),
                T(test_lock_is_exclusive),
                T(test_removed_keeps_macs),
                T(test_lists_hold_any_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
