#pragma once
#include "../../reconcile/reconcile.h"

extern struct model fake_live; /* what observe reports */
extern char fake_log[4096];    /* "create br0;delete old" */
extern int fake_fail_at;       /* the apply call index that fails, -1 for none */
/* Set: the failing call, a create, keeps its object marked incomplete with this. */
extern const char *fake_incomplete;
