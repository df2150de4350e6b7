/* Bridges: ports, STP and forward delay. */
#include "kind.h"

static const struct field bridge_fields[] = {
        { "interfaces", FT_STR_LIST, R(link.interfaces), 1, 0, LINK_F_INTERFACES, NULL, NULL, NULL },
        { "addresses", FT_ADDR_LIST, R(link.addresses), 0, 0, LINK_F_ADDRESSES, NULL, NULL, NULL },
        { "mtu", FT_U32, R(link.mtu), 68, 65535, LINK_F_MTU, NULL, NULL, NULL },
        { "mac", FT_MAC, R(link.mac), 0, 0, LINK_F_MAC, NULL, NULL, NULL },
        { "stp", FT_BOOL, R(link.stp), 0, 0, LINK_F_STP, NULL, NULL, NULL },
        /* The kernel takes 2..30 s of forward delay while STP runs; 0 is fine without it. */
        { "forward-delay", FT_U32, R(link.forward_delay), 0, 30, LINK_F_FORWARD_DELAY, NULL, NULL, NULL },
        { "up", FT_BOOL, R(link.up), 0, 0, LINK_F_UP, NULL, NULL, NULL },
        STATE_FIELD(state_table),
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

static const struct link_kind bridge_link = { .info_kind = "bridge", .has_ports = true, .diff_in_place = bridge_diff_in_place };

const struct kind_ops bridge_kind = {
        .word = "bridge",
        .section = "bridges",
        LINK_KIND_COMMON,
        .dep_role = "port",
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
