/* 802.1Q VLANs on a parent link. */
#include <string.h>

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

static const struct link_kind vlan_link = { .info_kind = "vlan", .has_parent = true, .diff_identity = vlan_diff_identity };

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
        .validate = link_validate_child_mtu,
        .validate_phase = 1, /* after bonds take their members' MTU */
        .show = vlan_show,
};
