#pragma once
/* The scaffolding the unit tests share that run the libvirt kinds against
 * libvirt's in-process test:///default driver: one connection that keeps the
 * driver's state alive for a test, a manifest, a ledger in a scratch
 * directory, and the diagnostics captured in memory. */
#include <libvirt/libvirt.h>
#include <stdint.h>
#include <stdio.h>

#include "../../parsers/parsers.h"
#include "../../reconcile/reconcile.h"

extern virConnectPtr keeper;
extern struct manifest_set set;
extern struct ledger ledger;
extern struct run_opts opts;
extern char dir[64];
extern char *errs;
extern size_t errs_len;
extern FILE *errs_f;

/* cmocka setup and teardown. The initial state names the scratch directory,
 * /tmp/rct-<tag>-XXXXXX, so that one left behind says which test made it:
 * pass it with cmocka_unit_test_prestate_setup_teardown. */
int lvh_setup(void **state);
int lvh_teardown(void **state);

/* Parses and validates a manifest into set; fails the test if it is invalid. */
void lvh_want(const char *yaml);
/* One full pass: observe, plan, apply, verify; returns the number of actions planned. */
size_t lvh_pass(int expect);
/* A plan only; the caller frees it with run_done. */
void lvh_plan_only(struct run *run);
/* Forgets the errors so far, then plans: the plan must fail with msg among its errors. */
void lvh_plan_fails(const char *msg);
/* Only the next errors are looked at. */
void lvh_errs_reset(void);
/* The first change to field in the plan, or NULL. */
const struct change *lvh_find_change(const struct run *run, uint64_t field);
