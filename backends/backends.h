/* Helpers shared by the backends. The backends themselves are reached only
 * through their struct backend (reconcile/reconcile.h). */
#pragma once

#include "../reconcile/reconcile.h"

/* Switch this thread into the network namespace NAME (/run/netns/NAME) or
 * PATH for the time it takes to open sockets there; *saved restores it. */
int netns_enter(const char *netns, int *saved);
int netns_leave(int *saved);
