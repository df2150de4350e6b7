/* A stand-in for the link backend in unit tests: observe copies fake_live,
 * apply records each call in fake_log, diff compares MTU and VLAN ids. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake-backends.h"
#include "../../backends/kind.h"

struct model fake_live;
char fake_log[4096];
int fake_fail_at = -1;
const char *fake_incomplete;
static int fake_calls;

static int fake_open(const struct backend_ctx *ctx, void **state) {
        (void) ctx;
        *state = NULL;
        fake_calls = 0;
        return 0;
}

static void fake_close(void *state) {
        (void) state;
}

static struct resource *clone(const struct resource *r) {
        struct resource *c = resource_new(r->kind, r->name);
        c->link.mtu = r->link.mtu;
        c->link.vlan_id = r->link.vlan_id;
        c->link.up = r->link.up;
        snprintf(c->link.link, sizeof(c->link.link), "%s", r->link.link);
        for (size_t i = 0; i < r->link.interfaces.n; i++)
                *(char **) array_push(&c->link.interfaces.v, &c->link.interfaces.n, sizeof(char *)) =
                        xstrdup(r->link.interfaces.v[i]);
        c->set = r->set;
        return c;
}

static int fake_observe(void *state, const struct str_list *names, struct model *live) {
        (void) names;
        (void) state;
        for (size_t i = 0; i < fake_live.n; i++)
                model_add(live, clone(fake_live.v[i]));
        return 0;
}

static void fake_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->kind == KIND_VLAN && r->link.link[0])
                add(u, KIND_ETHERNET, r->link.link);
        for (size_t i = 0; r->kind == KIND_BRIDGE && i < r->link.interfaces.n; i++)
                add(u, KIND_ETHERNET, r->link.interfaces.v[i]);
}

static int fake_diff(void *state, const struct resource *w, const struct resource *live,
                     const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state;
        (void) owned;
        (void) p;
        a->op = OP_UPDATE;
        if (w->kind == KIND_VLAN && w->link.vlan_id != live->link.vlan_id) {
                action_add_change(a, LINK_F_ID, "id", value_number(live->link.vlan_id), value_number(w->link.vlan_id));
                a->op = OP_REPLACE;
                a->reason = xstrdup("cannot change in place");
                return 0;
        }
        if ((w->set & LINK_F_MTU) && w->link.mtu != live->link.mtu)
                action_add_change(a, LINK_F_MTU, "mtu", value_number(live->link.mtu), value_number(w->link.mtu));
        return 0;
}

static int fake_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        (void) state;
        /* The entry the plan saw must still be the ledger's (ASan sees a stale one). */
        if (a->owned && (a->owned != e || strcmp(a->owned->name, a->key) != 0))
                return diag_res(-EINVAL, kind_to_string(a->kind), a->name, "stale ledger entry");
        if (fake_calls++ == fake_fail_at) {
                if (a->op == OP_CREATE && fake_incomplete)
                        ledger_mark_incomplete(l, e, fake_incomplete);
                return diag_res(-EIO, kind_to_string(a->kind), a->name, "fake failure");
        }
        size_t len = strlen(fake_log);
        snprintf(fake_log + len, sizeof(fake_log) - len, "%s%s %s", len ? ";" : "", op_to_string(a->op), a->name);
        return 0;
}

const struct backend link_backend = {
        .name = "fake-link",
        .scope = SCOPE_NETNS,
        .open = fake_open,
        .close = fake_close,
        .observe = fake_observe,
};

/* The link kinds' tables name the link backend's plan and apply: here the fakes. */
void link_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        fake_deps(r, add, u);
}

int link_diff(void *state, const struct resource *w, const struct resource *live, const struct ledger_entry *owned,
              struct action *a, struct plan *p) {
        return fake_diff(state, w, live, owned, a, p);
}

int link_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        return fake_apply(state, a, l, e);
}

void link_assess(void *state, struct action *a, const struct model *live) {
        (void) state;
        (void) a;
        (void) live;
}

void link_describe(const struct resource *w, struct action *a) {
        (void) w;
        (void) a;
}

/* The requests the link kinds' own apply code makes: the fake link_apply
 * never calls them. */
int link_send(struct link_state *s, const struct link_req *q) {
        (void) s;
        (void) q;
        return -EOPNOTSUPP;
}

int link_ifindex(struct link_state *s, const char *name) {
        (void) s;
        (void) name;
        return -EOPNOTSUPP;
}

int link_flags(struct link_state *s, const char *name) {
        (void) s;
        (void) name;
        return -EOPNOTSUPP;
}

int link_set_up(struct link_state *s, const struct action *a, int ifindex, bool up) {
        (void) s;
        (void) a;
        (void) ifindex;
        (void) up;
        return -EOPNOTSUPP;
}

int link_set_master(struct link_state *s, const struct action *a, const char *port, int master) {
        (void) s;
        (void) a;
        (void) port;
        (void) master;
        return -EOPNOTSUPP;
}

int link_fail(struct link_state *s, const struct action *a, int r, const char *what) {
        (void) s;
        (void) a;
        (void) what;
        return r;
}

const char *link_netns(const struct link_state *s) {
        (void) s;
        return NULL;
}
