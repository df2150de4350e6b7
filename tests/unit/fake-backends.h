#pragma once
#include "../../reconcile/reconcile.h"

extern struct model fake_live; /* what observe reports */
extern char fake_log[4096];    /* "create br0;delete old" */
extern int fake_fail_at;       /* the apply call index that fails, -1 for none */
