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

static const struct link_kind bridge_link = { .info_kind = "bridge", .has_ports = true, .holds_mtu = true, .stable_mac = true,
                                              .diff_in_place = bridge_diff_in_place,
                                              .observe_info = bridge_observe_info, .put_info = bridge_put_info };

/* An MTU change to the same value is the hold (see bridge_hold_mtu in link.c):
 * a bridge that follows its ports keeps the declared one while they move. */
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
