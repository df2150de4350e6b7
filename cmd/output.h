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
