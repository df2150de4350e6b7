/* The status model: what a pass's plan and result make of it, its JSON, the
 * Prometheus text, the revision of a Git checkout and the carried counters. */
#include <errno.h>
#include <json-c/json.h>
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

static int setup(void **state) {
        (void) state;
        snprintf(dir, sizeof(dir), "/tmp/rct-status-XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state) {
        (void) state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void put(const char *rel, const char *content) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
        assert_int_equal(system(cmd), 0);
        *slash = '/';
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void want_of(struct model *m, const char *const *names, size_t n) {
        for (size_t i = 0; i < n; i++)
                assert_int_equal(model_add(m, resource_new(KIND_BRIDGE, names[i])), 0);
}

/* One applied pass: planned (pending items), then acted (the actions' results). */
static void pass(struct status *s, struct plan *p, const struct str_list *errors) {
        struct pass_report planned = { .event = PASS_PLANNED, .plan = p };
        struct pass_report applied = { .event = PASS_APPLIED, .plan = p };
        status_observe(s, &planned, errors);
        status_observe(s, &applied, errors);
}

static void record(struct status *s, const char *revision, const struct model *want, int status, bool held,
                   size_t n_done, int64_t when) {
        struct pass_result res = { .status = status, .held = held, .n_done = n_done };
        struct status_run run = { .revision = revision, .revision_source = "digest", .digest = revision,
                                  .trigger = "test", .want = want, .res = &res, .started = when, .seconds = 0.25 };
        status_record(s, &run);
}

static json_object *parsed(const struct status *s) {
        char *text = status_json(s);
        json_object *o = json_tokener_parse(text);
        free(text);
        assert_non_null(o);
        return o;
}

static const char *jpath(json_object *o, const char *a, const char *b) {
        json_object *v;
        assert_true(json_object_object_get_ex(o, a, &v));
        if (b)
                assert_true(json_object_object_get_ex(v, b, &v));
        return json_object_get_string(v);
}

static json_object *resource_json(json_object *root, const char *name) {
        json_object *list, *name_v;
        assert_true(json_object_object_get_ex(root, "resources", &list));
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i);
                if (json_object_object_get_ex(e, "name", &name_v) && strcmp(json_object_get_string(name_v), name) == 0)
                        return e;
        }
        fail_msg("no resource %s", name);
        return NULL;
}

static const char *condition(json_object *root, const char *type, const char *field) {
        json_object *list, *v;
        assert_true(json_object_object_get_ex(root, "conditions", &list));
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *c = json_object_array_get_idx(list, i);
                if (json_object_object_get_ex(c, "type", &v) && strcmp(json_object_get_string(v), type) == 0) {
                        assert_true(json_object_object_get_ex(c, field, &v));
                        return json_object_get_string(v);
                }
        }
        fail_msg("no condition %s", type);
        return NULL;
}

static void has_line(const char *text, const char *line) {
        const char *p = text;
        size_t n = strlen(line);
        for (; (p = strstr(p, line)); p += n)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return;
        fail_msg("no line \"%s\" in:\n%s", line, text);
}

static void test_tables(void **state) {
        (void) state;
        for (int c = 0; c < _COND_MAX; c++)
                assert_non_null(condition_to_string(c));
        for (int s = 0; s < _RES_STATUS_MAX; s++)
                assert_non_null(res_status_to_string(s));
        assert_string_equal(condition_to_string(COND_DRIFTED), "Drifted");
        assert_string_equal(res_status_to_string(RES_PENDING), "pending");
}

static void test_runs_fold_in(void **state) {
        (void) state;
        struct model want = { 0 };
        const char *names[] = { "br0", "br1", "br2", "br3" };
        want_of(&want, names, 4);
        struct status s = { 0 };

        /* First run of revision A: br0 created, br1 failed, br2 pending, br3 not run. */
        struct action acts[] = {
                { .op = OP_CREATE, .kind = KIND_BRIDGE, .name = "br0", .result = 0 },
                { .op = OP_CREATE, .kind = KIND_BRIDGE, .name = "br1", .result = -EPERM },
                { .op = OP_UPDATE, .kind = KIND_BRIDGE, .name = "br3", .result = 1 },
        };
        struct pending pend = { .kind = KIND_BRIDGE, .name = "br2", .reason = "its port is not there", .until = "eth9 appears" };
        struct plan p = { .actions = acts, .n_actions = 3, .pending = &pend, .n_pending = 1 };
        char *err = xstrdup("error: bridge br1: creating: Operation not permitted");
        struct str_list errors = { &err, 1 };
        pass(&s, &p, &errors);
        record(&s, "aaaa", &want, PASS_ERROR, false, 1, 1000);
        json_object *j = parsed(&s);
        assert_string_equal(jpath(j, "revision", NULL), "aaaa");
        assert_string_equal(jpath(j, "last_run", "result"), "errors");
        assert_string_equal(jpath(j, "last_run", "timestamp"), "1000");
        assert_string_equal(jpath(j, "last_run", "seconds"), "0.250000");
        assert_string_equal(jpath(j, "last_success_timestamp", NULL), "0");
        assert_string_equal(jpath(j, "counts", "in-sync"), "1");
        assert_string_equal(jpath(j, "counts", "pending"), "2");
        assert_string_equal(jpath(j, "counts", "failed"), "1");
        assert_string_equal(jpath(resource_json(j, "br1"), "status", NULL), "failed");
        assert_string_equal(jpath(resource_json(j, "br1"), "error", NULL), "create failed: creating: Operation not permitted");
        assert_string_equal(jpath(resource_json(j, "br2"), "reason", NULL), "its port is not there");
        assert_string_equal(jpath(resource_json(j, "br2"), "until", NULL), "eth9 appears");
        assert_string_equal(jpath(resource_json(j, "br2"), "since", NULL), "1970-01-01T00:16:40Z");
        assert_string_equal(jpath(resource_json(j, "br3"), "status", NULL), "pending");
        assert_string_equal(jpath(resource_json(j, "br0"), "repairs", NULL), "0"); /* a new revision's create */
        assert_string_equal(condition(j, "Ready", "status"), "False");
        assert_string_equal(condition(j, "Ready", "reason"), "ApplyFailed");
        assert_string_equal(condition(j, "Degraded", "status"), "True");
        assert_string_equal(condition(j, "Progressing", "status"), "True");
        assert_string_equal(condition(j, "Progressing", "message"), "2 resources pending");
        assert_string_equal(condition(j, "Drifted", "status"), "False");
        json_object_put(j);

        /* Second run, same revision: br0 repaired, all else in sync; since-times of the old states go. */
        struct action repair = { .op = OP_UPDATE, .kind = KIND_BRIDGE, .name = "br0", .result = 0 };
        struct plan p2 = { .actions = &repair, .n_actions = 1 };
        pass(&s, &p2, NULL);
        record(&s, "aaaa", &want, PASS_OK, false, 1, 2000);
        j = parsed(&s);
        assert_string_equal(jpath(j, "last_run", "result"), "applied");
        assert_string_equal(jpath(j, "last_success_timestamp", NULL), "2000");
        assert_string_equal(jpath(j, "counts", "in-sync"), "4");
        assert_string_equal(jpath(resource_json(j, "br0"), "repairs", NULL), "1");
        assert_string_equal(jpath(j, "repairs_total", "bridge"), "1");
        assert_string_equal(condition(j, "Ready", "status"), "True");
        assert_string_equal(condition(j, "Ready", "since_timestamp"), "2000");
        assert_string_equal(condition(j, "Drifted", "status"), "True");
        assert_string_equal(condition(j, "Drifted", "message"), "1 drift repair under this revision");
        json_object_put(j);

        /* Metrics, line by line. */
        char *m = status_metrics(&s);
        has_line(m, "# TYPE reconcile_drift_repairs_total counter");
        has_line(m, "reconcile_drift_repairs_total{kind=\"bridge\"} 1");
        has_line(m, "reconcile_resources{kind=\"bridge\"} 4");
        has_line(m, "reconcile_resources_pending{kind=\"bridge\"} 0");
        has_line(m, "reconcile_resources_failed{kind=\"bridge\"} 0");
        has_line(m, "reconcile_run_duration_seconds 0.250000");
        has_line(m, "reconcile_last_success_timestamp_seconds 2000");
        has_line(m, "reconcile_held 0");
        has_line(m, "reconcile_condition{condition=\"Drifted\"} 1");
        has_line(m, "reconcile_revision_info{revision=\"aaaa\",source=\"digest\"} 1");
        assert_null(strstr(m, "kind=\"vlan\"")); /* no kind that has nothing */
        free(m);
        char *line = status_summary(&s);
        assert_string_equal(line, "applied: revision aaaa, 4 in sync, 0 pending, 0 failed, drift repaired");
        free(line);

        /* The file carries the counters over to a new status (a daemon restart). */
        char path[128];
        snprintf(path, sizeof(path), "%s/status.json", dir);
        assert_int_equal(status_write(&s, path, dir), 0);
        struct status again = { 0 };
        assert_int_equal(status_load(&again, path), 0);
        assert_int_equal(again.repairs_total[KIND_BRIDGE], 1);
        assert_int_equal(again.runs, 2);
        assert_true(again.cond[COND_DRIFTED].on);
        assert_int_equal(again.cond[COND_READY].since, 2000);
        assert_int_equal(again.n_res, 4);
        record(&again, "bbbb", &want, PASS_OK, true, 0, 3000);
        j = parsed(&again);
        /* A held revision is not in force: the revision, Drifted and the repairs stay; held is not Ready. */
        assert_string_equal(jpath(j, "revision", NULL), "aaaa");
        assert_string_equal(condition(j, "Drifted", "status"), "True");
        assert_string_equal(jpath(resource_json(j, "br0"), "repairs", NULL), "1");
        assert_string_equal(condition(j, "Held", "status"), "True");
        assert_string_equal(condition(j, "Held", "message"),
                            "revision bbbb was reverted and is held: run `reconcile release` or change the manifests");
        assert_string_equal(condition(j, "Ready", "reason"), "Held");
        assert_string_equal(jpath(j, "last_run", "result"), "held");
        assert_string_equal(jpath(j, "runs", NULL), "3");
        json_object_put(j);

        /* A new revision applied: Drifted clears, per-resource repairs restart, the counter stays. */
        record(&again, "cccc", &want, PASS_OK, false, 0, 3500);
        j = parsed(&again);
        assert_string_equal(jpath(j, "revision", NULL), "cccc");
        assert_string_equal(condition(j, "Drifted", "status"), "False");
        assert_string_equal(condition(j, "Held", "status"), "False");
        assert_string_equal(jpath(j, "repairs_total", "bridge"), "1");
        assert_string_equal(jpath(resource_json(j, "br0"), "repairs", NULL), "0");
        json_object_put(j);

        /* A run that put its change back: held with the reason, what it did is pending again. */
        struct action back = { .op = OP_UPDATE, .kind = KIND_BRIDGE, .name = "br1", .result = 0 };
        struct plan p3 = { .actions = &back, .n_actions = 1 };
        pass(&again, &p3, NULL);
        struct pass_result failed = { .status = PASS_ERROR, .n_done = 1 };
        struct status_run reverted = { .revision = "dddd", .revision_source = "digest", .digest = "dddd", .trigger = "test",
                                       .want = &want, .res = &failed, .started = 3600,
                                       .reverted = "probe gateway failed: gateway 192.0.2.1: no reply" };
        status_record(&again, &reverted);
        j = parsed(&again);
        assert_string_equal(jpath(j, "revision", NULL), "cccc");
        assert_string_equal(condition(j, "Held", "message"),
                            "revision dddd was reverted (probe gateway failed: gateway 192.0.2.1: no reply) and is held: "
                            "run `reconcile release` or change the manifests");
        assert_string_equal(condition(j, "Degraded", "status"), "False");
        assert_string_equal(jpath(resource_json(j, "br1"), "status", NULL), "pending");
        assert_string_equal(jpath(resource_json(j, "br1"), "reason", NULL), "reverted with its revision, which is held");
        json_object_put(j);

        /* A checker's pending item, with its reason and since-time. */
        status_add_pending(&again, KIND_BRIDGE, "br3", "down since 2026 (3 failures: connection refused)", 2500);
        j = parsed(&again);
        assert_string_equal(jpath(resource_json(j, "br3"), "status", NULL), "pending");
        assert_string_equal(jpath(resource_json(j, "br3"), "since", NULL), "1970-01-01T00:41:40Z");
        assert_string_equal(condition(j, "Progressing", "status"), "True");
        json_object_put(j);

        status_done(&again);
        status_done(&s);
        status_done(&s); /* twice is safe */
        free(err);
        model_done(&want);
}

static void test_metrics_escape_labels(void **state) {
        (void) state;
        struct status s = { .revision = xstrdup("a\"b\\c\nd"), .revision_source = xstrdup("digest") };
        char *m = status_metrics(&s);
        has_line(m, "reconcile_revision_info{revision=\"a\\\"b\\\\c\\nd\",source=\"digest\"} 1");
        free(m);
        status_done(&s);
}

static void test_git_revision(void **state) {
        (void) state;
        const char *src = NULL;
        char *rev = status_revision(dir, "0123456789abcdef", &src);
        assert_string_equal(src, "digest");
        assert_string_equal(rev, "0123456789abcdef");
        free(rev);
        const char *c1 = "1111111111111111111111111111111111111111", *c2 = "2222222222222222222222222222222222222222";
        /* A branch in packed-refs; the manifests in a subdirectory of the checkout. */
        put("repo/.git/HEAD", "ref: refs/heads/main\n");
        put("repo/.git/packed-refs", "# pack-refs with: peeled\n1111111111111111111111111111111111111111 refs/heads/main\n");
        put("repo/hosts/web1/a.yaml", "version: 1\n");
        char sub[128];
        snprintf(sub, sizeof(sub), "%s/repo/hosts/web1", dir);
        rev = status_revision(sub, "d", &src);
        assert_string_equal(src, "git");
        assert_string_equal(rev, c1);
        free(rev);
        /* A loose ref wins over packed-refs. */
        put("repo/.git/refs/heads/main", "2222222222222222222222222222222222222222\n");
        rev = status_revision(sub, "d", &src);
        assert_string_equal(rev, c2);
        free(rev);
        /* A worktree: .git is a file naming its gitdir, whose branches are in the common dir. */
        put("wt/.git", "gitdir: ../repo/.git/worktrees/wt\n");
        put("repo/.git/worktrees/wt/HEAD", "ref: refs/heads/main\n");
        put("repo/.git/worktrees/wt/commondir", "../..\n");
        char wt[128];
        snprintf(wt, sizeof(wt), "%s/wt", dir);
        rev = status_revision(wt, "d", &src);
        assert_string_equal(src, "git");
        assert_string_equal(rev, c2);
        free(rev);
        /* Detached. */
        put("repo/.git/HEAD", "1111111111111111111111111111111111111111\n");
        rev = status_revision(sub, "d", &src);
        assert_string_equal(rev, c1);
        free(rev);
        /* A HEAD that is garbage is no revision: the digest. */
        put("repo/.git/HEAD", "nonsense\n");
        rev = status_revision(sub, "d", &src);
        assert_string_equal(src, "digest");
        assert_string_equal(rev, "d");
        free(rev);
}

static void test_probes(void **state) {
        (void) state;
        FILE *null_f = fopen("/dev/null", "w");
        diag_set_stream(null_f);
        for (int t = 0; t < _PROBE_TYPE_MAX; t++)
                assert_int_equal(enum_from_string(&probe_type_table, enum_to_string(&probe_type_table, t)), t);
        struct probe p;
        assert_int_equal(probe_parse("gateway", &p), 0);
        assert_int_equal(p.type, PROBE_GATEWAY);
        probe_done(&p);
        assert_int_equal(probe_parse("tcp:[2001:db8::1]:443", &p), 0);
        assert_string_equal(p.host, "2001:db8::1");
        assert_string_equal(p.port, "443");
        probe_done(&p);
        assert_int_equal(probe_parse("tcp:example.net:22", &p), 0);
        assert_string_equal(p.host, "example.net");
        probe_done(&p);
        assert_int_equal(probe_parse("dns:example.net", &p), 0);
        assert_string_equal(p.arg, "example.net");
        probe_done(&p);
        const char *bad[] = { "gateway:1.2.3.4", "dns:", "tcp:host", "tcp:host:http", "tcp::22", "exec:", "ping:x", "" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(probe_parse(bad[i], &p), -EINVAL);
        /* exec in this process's namespace: the output is the error. */
        assert_int_equal(probe_parse("exec:echo broken; exit 3", &p), 0);
        assert_int_equal(probe_run(&p, NULL, 2000), -EIO);
        assert_string_equal(p.error, "broken; exit status 3");
        probe_done(&p);
        assert_int_equal(probe_parse("exec:exit 3", &p), 0);
        assert_int_equal(probe_run(&p, NULL, 2000), -EIO);
        assert_string_equal(p.error, "exit status 3");
        probe_done(&p);
        assert_int_equal(probe_parse("exec:sleep 5", &p), 0);
        assert_int_equal(probe_run(&p, NULL, 300), -ETIMEDOUT);
        assert_string_equal(p.error, "no answer within 300 ms");
        probe_done(&p);
        /* Only what passed before must pass after; one that never passes is named. */
        struct probe v[3];
        assert_int_equal(probe_parse("exec:true", &v[0]), 0);
        assert_int_equal(probe_parse("exec:false", &v[1]), 0);
        char flag[128], cmd[200];
        snprintf(flag, sizeof(flag), "%s/ok", dir);
        snprintf(cmd, sizeof(cmd), "exec:test ! -e %s", flag);
        assert_int_equal(probe_parse(cmd, &v[2]), 0);
        probes_before(v, 3, NULL, 2000);
        assert_true(v[0].passed_before);
        assert_false(v[1].passed_before);
        assert_true(v[2].passed_before);
        assert_null(probes_confirm(v, 2, NULL, 2, NULL)); /* exec:false was not required */
        FILE *f = fopen(flag, "w");
        fclose(f);
        v[2].passed_after = false;
        assert_ptr_equal(probes_confirm(v, 3, NULL, 1, NULL), &v[2]);
        assert_string_equal(v[2].error, "exit status 1");
        for (size_t i = 0; i < 3; i++)
                probe_done(&v[i]);
        diag_set_stream(NULL);
        fclose(null_f);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_tables),
                T(test_runs_fold_in),
                T(test_metrics_escape_labels),
                T(test_git_revision),
                T(test_probes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
