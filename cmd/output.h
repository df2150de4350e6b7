/* Output of the command line: plans, apply results and `show`. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "../reconcile/reconcile.h"

void plan_print_text(FILE *f, const struct plan *p);
void apply_print_text(FILE *f, const struct plan *p);
/* status: NULL for a plan, else "applied" / "failed" after an apply. */
/* errors: every error reported in the run, or NULL. */
void plan_print_json(FILE *f, const struct plan *p, bool with_results, const char *status,
                     const struct str_list *errors);
/* 0; -EILSEQ when an entry held a string that is not UTF-8 (a comment says
 * so in its place, the rest is written); another negative errno when the
 * emitter failed. */
int show_print_yaml(FILE *f, const struct model *live);
/* What reconcile owns, from the ledger: a veth pair is written under the end it
 * owns (the other end as a NIC under ethernets). NULL: under the end that sorts first. */
struct show_owner {
        const struct ledger *ledger;
        const char *scope;
};
/* Only what pick accepts (all with NULL), plus `state: absent` entries for the absent ones. */
int show_print_yaml_subset(FILE *f, const struct model *live, bool (*pick)(const struct resource *, void *), void *u,
                           const struct resource *const *absent, size_t n_absent, const struct show_owner *owner);
