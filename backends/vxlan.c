/* VXLAN tunnels: a VNI, unicast remote or multicast group, and the local
 * address they bind (which orders them after the link that carries it). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kind.h"

static const struct field vxlan_fields[] = {
        { "vni", FT_U32, R(link.vni), 0, 16777215, LINK_F_VNI, NULL, NULL, NULL },
        { "local", FT_IPADDR, R(link.local), 0, 0, LINK_F_LOCAL, NULL, NULL, NULL },
        { "remote", FT_IPADDR, R(link.remote), 0, 0, LINK_F_REMOTE, NULL, NULL, NULL },
        { "group", FT_IPADDR, R(link.group), 0, 0, LINK_F_GROUP, NULL, NULL, NULL },
        { "dev", FT_IFNAME, R(link.link), 0, 0, LINK_F_LINK, NULL, NULL, NULL },
        { "port", FT_U32, R(link.port), 1, 65535, LINK_F_PORT, NULL, NULL, NULL },
        { "learning", FT_BOOL, R(link.learning), 0, 0, LINK_F_LEARNING, NULL, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static int vxlan_check(struct check_ctx *c, struct resource *r) {
        const struct link_spec *l = &r->link;
        if (!(r->set & LINK_F_VNI))
                return check_error(c, 0, "vxlan %s needs a vni", r->name);
        if ((r->set & LINK_F_REMOTE) && (r->set & LINK_F_GROUP))
                return check_error(c, 0, "vxlan %s: remote and group exclude each other", r->name);
        bool mcast = l->group.family == AF_INET ? (l->group.a[0] & 0xf0) == 0xe0 : l->group.a[0] == 0xff;
        if ((r->set & LINK_F_GROUP) && !mcast)
                return check_error(c, 0, "vxlan %s: group must be a multicast address", r->name);
        if ((r->set & LINK_F_GROUP) && !(r->set & LINK_F_LINK))
                return check_error(c, 0, "vxlan %s: a multicast group needs dev", r->name);
        int fam = r->set & LINK_F_REMOTE ? l->remote.family : r->set & LINK_F_GROUP ? l->group.family : 0;
        if (fam && (r->set & LINK_F_LOCAL) && l->local.family != fam)
                return check_error(c, 0, "vxlan %s: local and %s are of different address families", r->name,
                                   r->set & LINK_F_REMOTE ? "remote" : "group");
        if (strcmp(l->link, r->name) == 0)
                return check_error(c, 0, "vxlan %s cannot sit on itself", r->name);
        return 0;
}

/* The declared link that carries the local address comes first; a VXLAN that
 * is itself a port of that link cannot wait for it: no implied order then. */
static int vxlan_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        if (!(r->set & LINK_F_LOCAL))
                return 0;
        const char *owner = link_address_owner(declared, &r->link.local, true);
        const struct resource *o = owner ? model_find(declared, KIND_ETHERNET, owner) : NULL;
        if (o && strcmp(owner, r->name) != 0 && !str_list_contains(&o->link.interfaces, r->name))
                snprintf(r->link.local_dev, sizeof(r->link.local_dev), "%s", owner);
        return 0;
}

static void vxlan_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct link_spec *l = &r->link;
        char buf[64];
        (void) s;
        link_show_begin(w, r);
        yw_kv_uint(w, "vni", l->vni);
        if (r->set & LINK_F_LOCAL)
                yw_kv_str(w, "local", ipaddr_format(&l->local, false, buf, sizeof(buf)));
        if (r->set & LINK_F_REMOTE)
                yw_kv_str(w, "remote", ipaddr_format(&l->remote, false, buf, sizeof(buf)));
        if (r->set & LINK_F_GROUP)
                yw_kv_str(w, "group", ipaddr_format(&l->group, false, buf, sizeof(buf)));
        if (l->link[0])
                yw_kv_name(w, "dev", l->link);
        yw_kv_uint(w, "port", l->port);
        yw_kv_bool(w, "learning", l->learning);
        link_show_end(w, r, true);
}

static void vxlan_diff_identity(const struct resource *w, const struct resource *live, struct action *a) {
        const struct link_spec *want = &w->link, *have = &live->link;
        if ((w->set & LINK_F_LINK) && strcmp(want->link, have->link) != 0)
                action_add_change(a, LINK_F_LINK, "dev", value_text(have->link), value_text(want->link));
        if (want->vni != have->vni)
                link_change_u32(a, LINK_F_VNI, "vni", have->vni, want->vni);
        if (want->port != have->port)
                link_change_u32(a, LINK_F_PORT, "port", have->port, want->port);
        link_change_ip(a, w, live, LINK_F_LOCAL, "local", &want->local, &have->local);
        link_change_ip(a, w, live, LINK_F_GROUP, "group", &want->group, &have->group);
}

static void vxlan_diff_in_place(const struct resource *w, const struct resource *live, struct action *a) {
        link_change_ip(a, w, live, LINK_F_REMOTE, "remote", &w->link.remote, &live->link.remote);
        if (w->link.learning != live->link.learning)
                link_change_bool(a, LINK_F_LEARNING, "learning", live->link.learning, w->link.learning);
}

static void ip_from_attr(struct ipaddr *ip, const struct nlattr *a, int family) {
        memset(ip, 0, sizeof(*ip));
        ip->family = family;
        memcpy(ip->a, nla_data(a), family == AF_INET ? 4 : 16);
        ip->prefix = family == AF_INET ? 32 : 128;
}

static bool ip_is_zero(const struct nlattr *a) {
        const unsigned char *p = nla_data(a);
        for (int i = 0; i < nla_len(a); i++)
                if (p[i])
                        return false;
        return true;
}

/* A unicast destination is the remote, a multicast one the group. */
static enum kind vxlan_observe_info(struct resource *r, struct nlattr *data) {
        struct nlattr *tb[IFLA_VXLAN_MAX + 1] = { 0 };
        struct link_spec *l = &r->link;
        if (!data || nla_parse_nested(tb, IFLA_VXLAN_MAX, data, NULL) < 0)
                return r->kind;
        if (tb[IFLA_VXLAN_ID]) {
                l->vni = nla_get_u32(tb[IFLA_VXLAN_ID]);
                r->set |= LINK_F_VNI;
        }
        struct ipaddr dst = { 0 };
        if (tb[IFLA_VXLAN_GROUP] && !ip_is_zero(tb[IFLA_VXLAN_GROUP]))
                ip_from_attr(&dst, tb[IFLA_VXLAN_GROUP], AF_INET);
        else if (tb[IFLA_VXLAN_GROUP6] && !ip_is_zero(tb[IFLA_VXLAN_GROUP6]))
                ip_from_attr(&dst, tb[IFLA_VXLAN_GROUP6], AF_INET6);
        if (dst.family) {
                bool mcast = dst.family == AF_INET ? (dst.a[0] & 0xf0) == 0xe0 : dst.a[0] == 0xff;
                if (mcast) {
                        l->group = dst;
                        r->set |= LINK_F_GROUP;
                } else {
                        l->remote = dst;
                        r->set |= LINK_F_REMOTE;
                }
        }
        if (tb[IFLA_VXLAN_LOCAL] && !ip_is_zero(tb[IFLA_VXLAN_LOCAL])) {
                ip_from_attr(&l->local, tb[IFLA_VXLAN_LOCAL], AF_INET);
                r->set |= LINK_F_LOCAL;
        } else if (tb[IFLA_VXLAN_LOCAL6] && !ip_is_zero(tb[IFLA_VXLAN_LOCAL6])) {
                ip_from_attr(&l->local, tb[IFLA_VXLAN_LOCAL6], AF_INET6);
                r->set |= LINK_F_LOCAL;
        }
        if (tb[IFLA_VXLAN_LINK] && nla_get_u32(tb[IFLA_VXLAN_LINK]))
                snprintf(l->link, sizeof(l->link), "#%u", nla_get_u32(tb[IFLA_VXLAN_LINK]));
        if (tb[IFLA_VXLAN_PORT]) {
                l->port = ntohs(nla_get_u16(tb[IFLA_VXLAN_PORT]));
                r->set |= LINK_F_PORT;
        }
        if (tb[IFLA_VXLAN_LEARNING]) {
                l->learning = nla_get_u8(tb[IFLA_VXLAN_LEARNING]) != 0;
                r->set |= LINK_F_LEARNING;
        }
        return r->kind;
}

static int put_ip(struct nl_msg *msg, int attr4, int attr6, const struct ipaddr *ip) {
        return ip->family == AF_INET6 ? nla_put(msg, attr6, 16, ip->a) : nla_put(msg, attr4, 4, ip->a);
}

static int vxlan_put_info(struct nl_msg *msg, const struct link_put *p) {
        const struct resource *r = p->r;
        const struct link_spec *l = &r->link;
        uint64_t f = p->fields;
        int e = 0;
        if (f & LINK_F_VNI)
                e = e ?: nla_put_u32(msg, IFLA_VXLAN_ID, l->vni);
        if (f & LINK_F_PORT)
                e = e ?: nla_put_u16(msg, IFLA_VXLAN_PORT, htons((uint16_t) l->port));
        if (f & LINK_F_LEARNING)
                e = e ?: nla_put_u8(msg, IFLA_VXLAN_LEARNING, l->learning);
        if ((f & LINK_F_LOCAL) && (r->set & LINK_F_LOCAL))
                e = e ?: put_ip(msg, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LOCAL6, &l->local);
        if ((f & LINK_F_REMOTE) && (r->set & LINK_F_REMOTE))
                e = e ?: put_ip(msg, IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6, &l->remote);
        if ((f & LINK_F_GROUP) && (r->set & LINK_F_GROUP))
                e = e ?: put_ip(msg, IFLA_VXLAN_GROUP, IFLA_VXLAN_GROUP6, &l->group);
        if ((f & LINK_F_LINK) && l->link[0]) {
                int dev = p->ifindex(p->u, l->link);
                if (dev <= 0)
                        return -ENODEV;
                e = e ?: nla_put_u32(msg, IFLA_VXLAN_LINK, (uint32_t) dev);
        }
        return e < 0 ? -ENOMEM : 0;
}

/* Its dev, and the declared link that carries its local address. */
static void vxlan_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        const struct link_spec *l = &r->link;
        if (l->link[0])
                add(u, KIND_ETHERNET, l->link);
        if (l->local_dev[0] && strcmp(l->local_dev, l->link) != 0)
                add(u, KIND_ETHERNET, l->local_dev);
}

static const struct link_kind vxlan_link = { .info_kind = "vxlan", .diff_identity = vxlan_diff_identity,
                                             .diff_in_place = vxlan_diff_in_place,
                                             .observe_info = vxlan_observe_info, .put_info = vxlan_put_info,
                                             .deps = vxlan_deps };

const struct kind_ops vxlan_kind = {
        .word = "vxlan",
        .section = "vxlans",
        LINK_KIND_COMMON,
        .dep_role = "device",
        .impl = &vxlan_link,
        .defaults = link_defaults,
        .show_as = link_show_as,
        .flags = KF_REVERTIBLE,
        .show_rank = 3,
        .fields = vxlan_fields,
        .n_fields = ELEMENTSOF(vxlan_fields),
        .check = vxlan_check,
        .validate = vxlan_validate,
        .validate_phases = 1u << 2,
        .show = vxlan_show,
};
