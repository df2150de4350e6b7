/* Persistent TAP devices with an owner and group. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <netlink/attr.h>

#include "kind.h"

static const struct field tap_fields[] = {
        { "owner", FT_USER, R(link.owner), 0, 0, LINK_F_OWNER, NULL, NULL, NULL },
        { "group", FT_USER, R(link.group_id), 1, 0, LINK_F_GROUP_ID, NULL, NULL, NULL },
        { "multi-queue", FT_BOOL, R(link.multi_queue), 0, 0, LINK_F_MULTI_QUEUE, NULL, NULL, NULL },
        LINK_COMMON_FIELDS,
};

/* A TAP's owner or group as an operator writes it: the name this host has for
 * the id, else the number. */
static const char *user_name(uint32_t id, bool group, char *buf, size_t size) {
        char pwbuf[1024];
        const char *name = NULL;
        if (group) {
                struct group g, *gp = NULL;
                if (getgrgid_r((gid_t) id, &g, pwbuf, sizeof(pwbuf), &gp) == 0 && gp)
                        name = gp->gr_name;
        } else {
                struct passwd pw, *pp = NULL;
                if (getpwuid_r((uid_t) id, &pw, pwbuf, sizeof(pwbuf), &pp) == 0 && pp)
                        name = pp->pw_name;
        }
        if (name)
                snprintf(buf, size, "%s", name);
        else
                snprintf(buf, size, "%u", id);
        return buf;
}

static void tap_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct link_spec *l = &r->link;
        char buf[64];
        (void) s;
        link_show_begin(w, r);
        /* Quoted: the manifest takes a user or group name or number as a string. */
        if (r->set & LINK_F_OWNER)
                yw_kv_str(w, "owner", user_name(l->owner, false, buf, sizeof(buf)));
        if (r->set & LINK_F_GROUP_ID)
                yw_kv_str(w, "group", user_name(l->group_id, true, buf, sizeof(buf)));
        yw_kv_bool(w, "multi-queue", l->multi_queue);
        link_show_end(w, r, true);
}

static void tap_diff_identity(const struct resource *w, const struct resource *live, struct action *a) {
        if ((w->set & LINK_F_MULTI_QUEUE) && w->link.multi_queue != live->link.multi_queue)
                link_change_bool(a, LINK_F_MULTI_QUEUE, "multi-queue", live->link.multi_queue, w->link.multi_queue);
}

static void tap_diff_in_place(const struct resource *w, const struct resource *live, struct action *a) {
        link_change_id(a, w, live, LINK_F_OWNER, "owner", w->link.owner, live->link.owner);
        link_change_id(a, w, live, LINK_F_GROUP_ID, "group", w->link.group_id, live->link.group_id);
}

/* A tun-driver device: a TAP is ours to model, a layer-3 TUN is left as a plain device. */
static enum kind tap_observe_info(struct resource *r, struct nlattr *data) {
        struct nlattr *tb[IFLA_TUN_MAX + 1] = { 0 };
        struct link_spec *l = &r->link;
        if (!data || nla_parse_nested(tb, IFLA_TUN_MAX, data, NULL) < 0 || !tb[IFLA_TUN_TYPE] ||
            nla_get_u8(tb[IFLA_TUN_TYPE]) != IFF_TAP)
                return KIND_ETHERNET;
        if (tb[IFLA_TUN_OWNER]) {
                l->owner = nla_get_u32(tb[IFLA_TUN_OWNER]);
                r->set |= LINK_F_OWNER;
        }
        if (tb[IFLA_TUN_GROUP]) {
                l->group_id = nla_get_u32(tb[IFLA_TUN_GROUP]);
                r->set |= LINK_F_GROUP_ID;
        }
        if (tb[IFLA_TUN_MULTI_QUEUE]) {
                l->multi_queue = nla_get_u8(tb[IFLA_TUN_MULTI_QUEUE]) != 0;
                r->set |= LINK_F_MULTI_QUEUE;
        }
        return KIND_TAP;
}

/* ---- apply: the tun driver's ioctls ---- */

/* A persistent TAP as `ip tuntap add` makes it: the tun driver takes this only
 * through its ioctls on /dev/net/tun, opened inside the namespace. An existing
 * one is attached to (same flags) to change its owner or group. */
static int tap_configure(struct link_state *s, const struct resource *w, bool create) {
        int saved, r = netns_enter(link_netns(s), &saved);
        if (r < 0)
                return r;
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        r = fd < 0 ? -errno : 0;
        netns_leave(&saved);
        if (r < 0)
                return r;
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", w->name);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (w->link.multi_queue ? IFF_MULTI_QUEUE : 0);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                r = -errno;
        if (r >= 0 && (w->set & LINK_F_OWNER) && ioctl(fd, TUNSETOWNER, (unsigned long) w->link.owner) < 0)
                r = -errno;
        if (r >= 0 && (w->set & LINK_F_GROUP_ID) && ioctl(fd, TUNSETGROUP, (unsigned long) w->link.group_id) < 0)
                r = -errno;
        if (r >= 0 && create && ioctl(fd, TUNSETPERSIST, 1UL) < 0)
                r = -errno;
        close(fd);
        return r;
}

/* Made through the ioctls, not RTM_NEWLINK; then its MTU and MAC. */
static int tap_create(struct link_state *s, const struct action *a, struct link_req *q) {
        int r = tap_configure(s, a->want, true);
        if (r >= 0 && (q->mtu || q->mac))
                r = link_send(s, &LINK_REQ(.ifindex = link_ifindex(s, a->want->name), .mtu = q->mtu, .mac = q->mac));
        return r;
}

static int tap_update(struct link_state *s, const struct action *a, int ifindex, uint64_t fields, struct ledger *l,
                      struct ledger_entry *e) {
        (void) ifindex;
        (void) fields;
        (void) l;
        (void) e;
        int r = tap_configure(s, a->want, false);
        return r < 0 ? link_fail(s, a, r, "changing owner or group") : 0;
}

static const struct link_kind tap_link = { .info_kind = "tun", .own_fields = LINK_F_OWNER | LINK_F_GROUP_ID,
                                           .diff_identity = tap_diff_identity, .diff_in_place = tap_diff_in_place,
                                           .observe_info = tap_observe_info, .create = tap_create,
                                           .update = tap_update };

const struct kind_ops tap_kind = {
        .word = "tap",
        .section = "taps",
        LINK_KIND_COMMON,
        .impl = &tap_link,
        .defaults = link_defaults,
        .show_as = link_show_as,
        .flags = KF_REVERTIBLE,
        .show_rank = 7,
        .fields = tap_fields,
        .n_fields = ELEMENTSOF(tap_fields),
        .show = tap_show,
};
