/* macvlans and macvtaps: the same keys on a parent link; a macvtap also has
 * a character device for a guest. */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kind.h"

static const struct field macvlan_fields[] = {
        { "link", FT_IFNAME, R(link.link), 0, 0, LINK_F_LINK, NULL, NULL, NULL },
        { "mode", FT_ENUM, R(link.mode), 0, 0, LINK_F_MODE, &macvlan_mode_table, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static int macvlan_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & LINK_F_LINK))
                return check_error(c, 0, "%s %s needs link (its parent)", kind_to_string(r->kind), r->name);
        if (strcmp(r->link.link, r->name) == 0)
                return check_error(c, 0, "%s %s cannot sit on itself", kind_to_string(r->kind), r->name);
        return 0;
}

static void macvlan_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        link_show_begin(w, r);
        if (r->link.link[0])
                yw_kv_name(w, "link", r->link.link);
        yw_kv_word(w, "mode", enum_to_string(&macvlan_mode_table, r->link.mode));
        link_show_end(w, r, true);
}

#define MACVLAN_KIND_COMMON                                             \
        LINK_KIND_COMMON, .defaults = link_defaults, .show_as = link_show_as, .flags = KF_REVERTIBLE, .fields = macvlan_fields, \
        .n_fields = ELEMENTSOF(macvlan_fields), .check = macvlan_check,    \
        .validate = link_validate_child_mtu, .validate_phases = 1u << 1, .show = macvlan_show

static void macvlan_diff_in_place(const struct resource *w, const struct resource *live, struct action *a) {
        if (w->link.mode != live->link.mode)
                link_change_enum(a, LINK_F_MODE, "mode", &macvlan_mode_table, live->link.mode, w->link.mode);
}

static enum kind macvlan_observe_info(struct resource *r, struct nlattr *data) {
        struct nlattr *tb[IFLA_MACVLAN_MAX + 1] = { 0 };
        if (!data || nla_parse_nested(tb, IFLA_MACVLAN_MAX, data, NULL) < 0 || !tb[IFLA_MACVLAN_MODE])
                return r->kind;
        uint32_t bit = nla_get_u32(tb[IFLA_MACVLAN_MODE]);
        for (int m = 0; m < _MVLAN_MAX; m++)
                if (bit == 1u << m) {
                        r->link.mode = m;
                        r->set |= LINK_F_MODE;
                }
        return r->kind;
}

static int macvlan_put_info(struct nl_msg *msg, const struct link_put *p) {
        if ((p->fields & LINK_F_MODE) && nla_put_u32(msg, IFLA_MACVLAN_MODE, 1u << p->r->link.mode) < 0)
                return -ENOMEM;
        return 0;
}

static const struct link_kind macvlan_link = { .info_kind = "macvlan", .has_parent = true,
                                               .diff_in_place = macvlan_diff_in_place,
                                               .observe_info = macvlan_observe_info, .put_info = macvlan_put_info };
static const struct link_kind macvtap_link = { .info_kind = "macvtap", .has_parent = true,
                                               .diff_in_place = macvlan_diff_in_place,
                                               .observe_info = macvlan_observe_info, .put_info = macvlan_put_info };

const struct kind_ops macvlan_kind = {
        .word = "macvlan",
        .impl = &macvlan_link,
        .section = "macvlans",
        .show_rank = 4,
        MACVLAN_KIND_COMMON,
};

const struct kind_ops macvtap_kind = {
        .word = "macvtap",
        .impl = &macvtap_link,
        .section = "macvtaps",
        .show_rank = 5,
        MACVLAN_KIND_COMMON,
};
