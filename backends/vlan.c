/* 802.1Q VLANs on a parent link. */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kind.h"

static const struct field vlan_fields[] = {
        { "link", FT_IFNAME, R(link.link), 0, 0, LINK_F_LINK, NULL, NULL, NULL },
        { "id", FT_U32, R(link.vlan_id), 1, 4094, LINK_F_ID, NULL, "vlan id", NULL },
        LINK_COMMON_FIELDS,
};

static int vlan_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & LINK_F_LINK) || !(r->set & LINK_F_ID))
                return check_error(c, 0, "vlan %s needs link and id", r->name);
        if (strcmp(r->link.link, r->name) == 0)
                return check_error(c, 0, "vlan %s cannot sit on itself", r->name);
        return 0;
}

static void vlan_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        link_show_begin(w, r);
        if (r->link.link[0])
                yw_kv_name(w, "link", r->link.link);
        yw_kv_uint(w, "id", r->link.vlan_id);
        link_show_end(w, r, true);
}

static void vlan_diff_identity(const struct resource *w, const struct resource *live, struct action *a) {
        if (w->link.vlan_id != live->link.vlan_id)
                link_change_u32(a, LINK_F_ID, "id", live->link.vlan_id, w->link.vlan_id);
}

static enum kind vlan_observe_info(struct resource *r, struct nlattr *data) {
        struct nlattr *tb[IFLA_VLAN_MAX + 1] = { 0 };
        if (data && nla_parse_nested(tb, IFLA_VLAN_MAX, data, NULL) == 0 && tb[IFLA_VLAN_ID]) {
                r->link.vlan_id = nla_get_u16(tb[IFLA_VLAN_ID]);
                r->set |= LINK_F_ID;
        }
        return r->kind;
}

static int vlan_put_info(struct nl_msg *msg, const struct link_put *p) {
        if ((p->fields & LINK_F_ID) && nla_put_u16(msg, IFLA_VLAN_ID, (uint16_t) p->r->link.vlan_id) < 0)
                return -ENOMEM;
        return 0;
}

static int vlan_admit(void *state, const struct resource *want) {
        (void) state;
        return module_needed(want, "8021q");
}

static const struct link_kind vlan_link = { .info_kind = "vlan", .has_parent = true, .diff_identity = vlan_diff_identity,
                                            .observe_info = vlan_observe_info, .put_info = vlan_put_info };

const struct kind_ops vlan_kind = {
        .word = "vlan",
        .section = "vlans",
        LINK_KIND_COMMON,
        .impl = &vlan_link,
        .defaults = link_defaults,
        .show_as = link_show_as,
        .flags = KF_REVERTIBLE,
        .show_rank = 2,
        .fields = vlan_fields,
        .n_fields = ELEMENTSOF(vlan_fields),
        .check = vlan_check,
        .admit = vlan_admit,
        .validate = link_validate_child_mtu,
        .validate_phases = 1u << 1, /* after bonds take their members' MTU */
        .show = vlan_show,
};
