/* macvlans and macvtaps: the same keys on a parent link; a macvtap also has
 * a character device for a guest. */
#include <string.h>

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
        .validate = link_validate_child_mtu, .validate_phase = 1, .show = macvlan_show

static void macvlan_diff_in_place(const struct resource *w, const struct resource *live, struct action *a) {
        if (w->link.mode != live->link.mode)
                link_change_enum(a, LINK_F_MODE, "mode", &macvlan_mode_table, live->link.mode, w->link.mode);
}

static const struct link_kind macvlan_link = { .info_kind = "macvlan", .has_parent = true,
                                               .diff_in_place = macvlan_diff_in_place };
static const struct link_kind macvtap_link = { .info_kind = "macvtap", .has_parent = true,
                                               .diff_in_place = macvlan_diff_in_place };

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
