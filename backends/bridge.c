/* Bridges: ports, STP and forward delay. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kind.h"

static const struct field bridge_fields[] = {
        { "interfaces", FT_STR_LIST, R(link.interfaces), 1, 0, LINK_F_INTERFACES, NULL, NULL, NULL },
        { "stp", FT_BOOL, R(link.stp), 0, 0, LINK_F_STP, NULL, NULL, NULL },
        /* The kernel takes 2..30 s of forward delay while STP runs; 0 is fine without it. */
        { "forward-delay", FT_U32, R(link.forward_delay), 0, 30, LINK_F_FORWARD_DELAY, NULL, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static int bridge_check(struct check_ctx *c, struct resource *r) {
        /* br_set_forward_delay() answers ERANGE below 2 s while STP runs. */
        if (r->link.stp && r->link.forward_delay < 2)
                return check_error(c, LINK_F_FORWARD_DELAY, "bridge %s: forward-delay %u: with stp the kernel takes 2..30",
                                   r->name, r->link.forward_delay);
        return 0;
}

static void bridge_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct link_spec *l = &r->link;
        (void) s;
        link_show_begin(w, r);
        link_show_ports(w, r);
        yw_kv_bool(w, "stp", l->stp);
        yw_kv_uint(w, "forward-delay", l->forward_delay);
        link_show_end(w, r, true);
}

static void bridge_diff_in_place(const struct resource *w, const struct resource *live, struct action *a) {
        if (w->link.stp != live->link.stp)
                link_change_bool(a, LINK_F_STP, "stp", live->link.stp, w->link.stp);
        if (w->link.forward_delay != live->link.forward_delay)
                link_change_u32(a, LINK_F_FORWARD_DELAY, "forward-delay", live->link.forward_delay, w->link.forward_delay);
}

static enum kind bridge_observe_info(struct resource *r, struct nlattr *data) {
        struct nlattr *tb[IFLA_BR_MAX + 1] = { 0 };
        if (!data || nla_parse_nested(tb, IFLA_BR_MAX, data, NULL) < 0)
                return r->kind;
        if (tb[IFLA_BR_STP_STATE]) {
                r->link.stp = nla_get_u32(tb[IFLA_BR_STP_STATE]) != 0;
                r->set |= LINK_F_STP;
        }
        if (tb[IFLA_BR_FORWARD_DELAY]) {
                /* The kernel reports centiseconds (USER_HZ); the manifest counts seconds. */
                r->link.forward_delay = (nla_get_u32(tb[IFLA_BR_FORWARD_DELAY]) + 50) / 100;
                r->set |= LINK_F_FORWARD_DELAY;
        }
        return r->kind;
}

static int bridge_put_info(struct nl_msg *msg, const struct link_put *p) {
        int e = 0;
        if (p->fields & LINK_F_FORWARD_DELAY)
                e = e ?: nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, p->r->link.forward_delay * 100);
        if (p->fields & LINK_F_STP)
                e = e ?: nla_put_u32(msg, IFLA_BR_STP_STATE, p->r->link.stp);
        return e < 0 ? -ENOMEM : 0;
}

/* ---- what only a bridge does: a MAC and an MTU of its own ---- */

/* A bridge reconcile creates gets a MAC derived from the machine id and its
 * name, so it does not follow its ports (doc/manifests.md, bridges: mac);
 * without a machine id a random one, kept stable by the ledger from then on. */
static void bridge_stable_mac(const char *name, unsigned char mac[6]) {
        if (mac_derive("bridge", name, mac) < 0)
                mac_random("bridge", name, mac);
}

static bool action_changes(const struct action *a, uint64_t field) {
        for (size_t i = 0; i < a->n_changes; i++)
                if (a->changes[i].field == field)
                        return true;
        return false;
}

/* Whether this plan may move the MTU of a bridge that follows its ports: a
 * port joins or leaves it (a's own changes, found by now), or one of its ports
 * changes its MTU or is made anew, in an action planned before it. */
static bool bridge_mtu_may_move(const struct resource *live, const struct action *a, const struct plan *p) {
        if (action_changes(a, LINK_F_INTERFACES))
                return true;
        for (size_t i = 0; p && i < p->n_actions; i++) {
                const struct action *x = &p->actions[i];
                if (x == a || !kind_is_link(x->kind) ||
                    !(str_list_contains(&a->want->link.interfaces, x->name) ||
                      str_list_contains(&live->link.interfaces, x->name)))
                        continue;
                if (x->op == OP_REPLACE || action_changes(x, LINK_F_MTU))
                        return true;
        }
        return false;
}

/* The MTU it has right now, but free to follow its ports, which this plan
 * moves: a change to the same value, the hold (bridge_hold_mtu). */
static void bridge_diff_after(const struct resource *w, const struct resource *live, const struct ledger_entry *owned,
                              struct action *a, const struct plan *p) {
        if ((w->set & LINK_F_MTU) && w->link.mtu == live->link.mtu && !ledger_get(owned, "mtu-held") &&
            bridge_mtu_may_move(live, a, p))
                link_change_u32(a, LINK_F_MTU, "mtu", live->link.mtu, w->link.mtu);
}

/* A bridge follows the smallest MTU of its ports (the kernel's
 * br_mtu_auto_adjust) whenever a port joins, leaves or changes its MTU, until
 * its own MTU is set by a change after creation. An MTU given at creation does
 * not count, and a change to the MTU it already has is no change. So the
 * declared MTU goes through a neighbour value and back: then it is the
 * bridge's own, whatever the bridge had, and enslaving a port, or a port's
 * later change, no longer moves it. The neighbour is above, so that VLANs and
 * macvlans on the bridge, which may not be larger than it, are not shrunk on
 * the way. The kernel never says whether a bridge holds its MTU: the ledger
 * records that it does ("mtu-held"). */
static int bridge_hold_mtu(struct link_state *s, const struct action *a, int ifindex, struct ledger *l,
                           struct ledger_entry *e) {
        uint32_t mtu = a->want->link.mtu;
        int r = link_send(s, &LINK_REQ(.ifindex = ifindex, .mtu = mtu < 65535 ? mtu + 1 : mtu - 1));
        if (r >= 0)
                r = link_send(s, &LINK_REQ(.ifindex = ifindex, .mtu = mtu));
        if (r < 0)
                return link_fail(s, a, r, "setting the MTU");
        if (e)
                ledger_set(l, e, "mtu-held", "1");
        return 0;
}

/* Made: its MTU held before the ports join, each of which would pull it. */
static int bridge_created(struct link_state *s, const struct action *a, int ifindex, struct ledger *l,
                          struct ledger_entry *e) {
        return a->want->set & LINK_F_MTU ? bridge_hold_mtu(s, a, ifindex, l, e) : 0;
}

static int bridge_update(struct link_state *s, const struct action *a, int ifindex, uint64_t fields, struct ledger *l,
                         struct ledger_entry *e) {
        return fields & LINK_F_MTU ? bridge_hold_mtu(s, a, ifindex, l, e) : 0;
}

/* A bridge with no MTU of its own follows its smallest port. */
static void bridge_assess(struct action *a, const struct model *live) {
        const struct resource *here = a->live;
        uint32_t bridge_mtu = here ? here->link.mtu : 1500;
        if (!a->want || (a->want->set & LINK_F_MTU))
                return;
        for (size_t i = 0; i < a->want->link.interfaces.n; i++) {
                const char *port = a->want->link.interfaces.v[i];
                const struct resource *pr = model_find(live, KIND_ETHERNET, port);
                if (pr && !(here && str_list_contains(&here->link.interfaces, port)) && pr->link.mtu &&
                    pr->link.mtu < bridge_mtu)
                        action_add_risk(a, "%s has mtu %u: the kernel lowers %s from %u to %u", port, pr->link.mtu, a->name,
                                      bridge_mtu, pr->link.mtu);
        }
}

static const struct link_kind bridge_link = { .info_kind = "bridge", .has_ports = true, .own_fields = LINK_F_MTU,
                                              .stable_mac = bridge_stable_mac, .diff_in_place = bridge_diff_in_place,
                                              .diff_after = bridge_diff_after, .observe_info = bridge_observe_info,
                                              .put_info = bridge_put_info, .created = bridge_created,
                                              .update = bridge_update, .assess = bridge_assess };

/* An MTU change to the same value is the hold (bridge_hold_mtu): a bridge that
 * follows its ports keeps the declared one while they move. */
static int bridge_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size) {
        (void) a;
        if (c->field != LINK_F_MTU || !now || c->was.number != c->now.number)
                return -1;
        snprintf(buf, size, "%llu (held)", (unsigned long long) c->now.number);
        return 1;
}

const struct kind_ops bridge_kind = {
        .word = "bridge",
        .section = "bridges",
        LINK_KIND_COMMON,
        .dep_role = "port",
        .change_words = bridge_change_words,
        .impl = &bridge_link,
        .defaults = link_defaults,
        .show_as = link_show_as,
        .flags = KF_REVERTIBLE,
        .show_rank = 8, /* after every kind a port can be */
        .fields = bridge_fields,
        .n_fields = ELEMENTSOF(bridge_fields),
        .check = bridge_check,
        .show = bridge_show,
};
