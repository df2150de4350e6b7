/* The shared scaffolding of the unit tests that drive test:///default; see
 * libvirt-harness.h. */
#include <libvirt/libvirt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "libvirt-harness.h"

virConnectPtr keeper;
struct manifest_set set;
struct ledger ledger;
struct run_opts opts;
char dir[64];
char *errs;
size_t errs_len;
FILE *errs_f;

int lvh_setup(void **state) {
        keeper = virConnectOpen("test:///default");
        assert_non_null(keeper);
        memset(&set, 0, sizeof(set));
        memset(&opts, 0, sizeof(opts));
        snprintf(dir, sizeof(dir), "/tmp/rct-%s-XXXXXX", (const char *) *state);
        assert_non_null(mkdtemp(dir));
        assert_int_equal(ledger_load(&ledger, dir), 0);
        opts.state_dir = dir;
        opts.ctx.libvirt_uri = "test:///default";
        opts.only_kinds = 1u << KIND_NETWORK | 1u << KIND_POOL | 1u << KIND_VOLUME | 1u << KIND_DOMAIN;
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        return 0;
}

int lvh_teardown(void **state) {
        (void) state;
        ledger_done(&ledger);
        manifests_done(&set);
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        virConnectClose(keeper);
        return 0;
}

void lvh_want(const char *yaml) {
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        int r = manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        if (r >= 0)
                r = manifests_validate(&set);
        /* Flushed either way: errs and errs_len then hold all that was reported. */
        fflush(errs_f);
        if (r < 0)
                fail_msg("manifest: %s", errs);
}

size_t lvh_pass(int expect) {
        struct run run = { .opts = &opts, .ledger = &ledger, .want = &set.model };
        struct plan residual = { 0 };
        assert_int_equal(run_observe(&run), 0);
        assert_int_equal(run_plan(&run), 0);
        size_t n = run.plan.n_actions;
        int r = run_apply(&run);
        if (r >= 0)
                r = run_verify(&run, &residual);
        if (r != expect) {
                fflush(errs_f);
                fail_msg("pass returned %d, expected %d: %s", r, expect, errs ? errs : "");
        }
        plan_done(&residual);
        run_done(&run);
        return n;
}

void lvh_plan_only(struct run *run) {
        memset(run, 0, sizeof(*run));
        run->opts = &opts;
        run->ledger = &ledger;
        run->want = &set.model;
        assert_int_equal(run_observe(run), 0);
        assert_int_equal(run_plan(run), 0);
}

void lvh_plan_fails(const char *msg) {
        lvh_errs_reset();
        struct run run = { .opts = &opts, .ledger = &ledger, .want = &set.model };
        assert_int_equal(run_observe(&run), 0);
        run_plan(&run);
        fflush(errs_f);
        if (!run.plan.n_errors || !errs || !strstr(errs, msg))
                fail_msg("expected a plan error \"%s\", got: %s", msg, errs ? errs : "");
        run_done(&run);
}

void lvh_errs_reset(void) {
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
}

const struct change *lvh_find_change(const struct run *run, uint64_t field) {
        for (size_t i = 0; i < run->plan.n_actions; i++)
                for (size_t j = 0; j < run->plan.actions[i].n_changes; j++)
                        if (run->plan.actions[i].changes[j].field == field)
                                return &run->plan.actions[i].changes[j];
        return NULL;
}
