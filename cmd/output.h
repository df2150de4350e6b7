/* Output of the command line: plans, apply results and `show`. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "../reconcile/reconcile.h"

/* The words of one side of a change (now: the new value), or NULL when that
 * side has none: the value's own, or its kind's (change_words). buf may be
 * unused: use what it returns. */
const char *change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size);
void plan_print_text(FILE *f, const struct plan *p);
/* One line per action, as in the plan (the residual of a verification). */
void plan_print_actions(FILE *f, const struct plan *p);
void apply_print_text(FILE *f, const struct plan *p);
/* status: NULL for a plan, else "applied" / "failed" after an apply. */
/* errors: every error reported in the run, or NULL. */
void plan_print_json(FILE *f, const struct plan *p, bool with_results, const char *status,
                     const struct str_list *errors);
