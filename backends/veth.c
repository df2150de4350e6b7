/* veth pairs: one entry makes both ends; the other end may be declared as a
 * NIC (under ethernets) to configure it, or live in another namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include "kind.h"

static const struct field veth_fields[] = {
        { "peer", FT_IFNAME, R(link.peer), 0, 0, LINK_F_PEER, NULL, NULL, NULL },
        { "peer-netns", FT_NETNS, R(link.peer_netns), 0, 0, LINK_F_PEER_NETNS, NULL, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static int veth_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & LINK_F_PEER))
                return check_error(c, 0, "veth %s needs a peer", r->name);
        if (!r->link.peer_netns[0] && strcmp(r->link.peer, r->name) == 0)
                return check_error(c, 0, "veth %s cannot be its own peer", r->name);
        return 0;
}

/* The peer is created with its veth: a declared link of that name would
 * collide, unless it is an ethernet, the end configured as a NIC. A pair
 * declared from both ends would be made twice ("File exists"). */
static int veth_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        int ret = 0;
        if (r->state == STATE_ABSENT || r->link.peer_netns[0])
                return 0;
        struct resource *o = model_find(declared, KIND_ETHERNET, r->link.peer);
        if (o && o->kind == KIND_ETHERNET)
                snprintf(o->link.made_by, sizeof(o->link.made_by), "%s", r->name); /* made with the veth */
        else if (o && o->kind == KIND_VETH && !o->link.peer_netns[0] && strcmp(o->link.peer, r->name) == 0)
                ret = diag_pos(resource_ref_pos(r, r->link.peer),
                               "veth %s: its peer %s is declared as a veth too, at %s:%u:%u: declare the pair "
                               "once, and the other end under ethernets to configure it",
                               r->name, r->link.peer, o->pos.file, o->pos.line, o->pos.col);
        else if (o)
                ret = diag_pos(resource_ref_pos(r, r->link.peer), "veth %s: peer %s is declared as %s %s at %s:%u:%u",
                               r->name, r->link.peer, kind_to_string(o->kind), o->name, o->pos.file, o->pos.line,
                               o->pos.col);
        for (size_t j = 0; j < declared->n && declared->v[j] != r; j++) {
                const struct resource *q = declared->v[j];
                if (q->kind == KIND_VETH && q->state != STATE_ABSENT && !q->link.peer_netns[0] &&
                    strcmp(q->link.peer, r->link.peer) == 0)
                        ret = diag_pos(resource_ref_pos(r, r->link.peer), "veth %s: peer %s is also the peer of veth %s",
                                       r->name, r->link.peer, q->name);
        }
        return ret;
}

static bool owned_veth(const struct show_owner *o, const struct resource *r) {
        char scope[512];
        return o && o->ledger &&
               ledger_find((struct ledger *) o->ledger, scope_of(o->opts, KIND_VETH, scope, sizeof(scope)), KIND_VETH, r->name);
}

/* A veth pair in this namespace is written once: applied, that one entry
 * makes both ends. It goes under the end reconcile owns (so that a NIC at the
 * other end stays a NIC), else under the end whose name sorts first; the
 * other end is written as a NIC, which sets its MTU and addresses. */
static enum kind veth_show_as(const struct resource *r, const struct show_ctx *s) {
        if (link_show_as(r, s) < 0)
                return _KIND_INVALID;
        /* Its peer in another namespace: one reconcile did not make is, from
         * here, a NIC to configure (an uplink into a test's or a container's
         * namespace), as its manifest declares it; a checkpoint then holds it. */
        if (!r->link.peer[0] || r->link.peer_netns[0])
                return s->owner && s->owner->ledger && !owned_veth(s->owner, r) ? KIND_ETHERNET : r->kind;
        const struct resource *p = model_find(s->live, KIND_VETH, r->link.peer);
        if (!p || p->kind != KIND_VETH || strcmp(p->link.peer, r->name) != 0 || (s->pick && !s->pick(p, s->u)))
                return r->kind;
        bool mine = owned_veth(s->owner, r), theirs = owned_veth(s->owner, p);
        bool second = mine != theirs ? theirs : strcmp(p->name, r->name) < 0;
        return second ? KIND_ETHERNET : r->kind;
}

static void veth_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        /* A veth whose peer is in another namespace cannot be written as a manifest here. */
        if (!r->link.peer[0]) {
                yw_comment(w, 2, "%s: a veth whose peer lives in another namespace", r->name);
                return;
        }
        link_show_begin(w, r);
        yw_kv_name(w, "peer", r->link.peer);
        link_show_end(w, r, true);
}

static void veth_diff_identity(const struct resource *w, const struct resource *live, struct action *a) {
        const char *want_ns = w->link.peer_netns, *have_ns = live->link.peer_netns;
        /* A peer in another namespace is known to exist, not by name: the namespace is what we compare. */
        if (!want_ns[0] != !have_ns[0])
                /* The live side is a namespace known by its id, not its name: words of veth_change_words. */
                action_add_change(a, LINK_F_PEER_NETNS, "peer-netns", have_ns[0] ? value_spec() : VALUE_NONE,
                                  value_text(want_ns));
        else if (!want_ns[0] && strcmp(w->link.peer, live->link.peer) != 0)
                action_add_change(a, LINK_F_PEER, "peer", value_text(live->link.peer), value_text(w->link.peer));
}

/* The peer is made in the same request, with the MTU, in its namespace. */
static int veth_put_info(struct nl_msg *msg, const struct link_put *p) {
        const struct resource *r = p->r;
        int e = 0;
        if (!(p->fields & LINK_F_PEER))
                return 0;
        struct nlattr *peer = nla_nest_start(msg, VETH_INFO_PEER);
        struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
        if (!peer || nlmsg_append(msg, &pi, sizeof(pi), NLMSG_ALIGNTO) < 0)
                return -ENOMEM;
        e = nla_put_string(msg, IFLA_IFNAME, r->link.peer);
        if (!e && (r->set & LINK_F_MTU))
                e = nla_put_u32(msg, IFLA_MTU, r->link.mtu);
        if (!e && p->peer_elsewhere)
                e = nla_put_u32(msg, IFLA_NET_NS_FD, (uint32_t) p->peer_netns_fd);
        nla_nest_end(msg, peer);
        return e < 0 ? -ENOMEM : 0;
}

/* ---- what only a veth does: a peer, here or in another namespace ---- */

/* The peer goes into another namespace with the create, by an fd to it. */
static int veth_create(struct link_state *s, const struct action *a, struct link_req *q) {
        const char *ns = a->want->link.peer_netns;
        if (!ns[0])
                return link_send(s, q);
        char path[128];
        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return diag_res(-errno, "veth", a->name, "peer namespace %s: %s", ns, strerror(errno));
        q->peer_elsewhere = true;
        q->peer_netns_fd = fd;
        int r = link_send(s, q);
        close(fd);
        return r;
}

/* The peer in this namespace follows its veth up; it has no manifest entry of its own yet. */
static int veth_created(struct link_state *s, const struct action *a, int ifindex, struct ledger *l,
                        struct ledger_entry *e) {
        const struct link_spec *want = &a->want->link;
        (void) ifindex;
        (void) l;
        (void) e;
        if (want->peer_netns[0] || !want->up)
                return 0;
        int r = link_send(s, &LINK_REQ(.ifindex = link_ifindex(s, want->peer), .up = UP_SET));
        return r < 0 ? link_fail(s, a, r, "setting the peer up") : 0;
}

/* A veth's peer in this namespace, declared under ethernets to configure it:
 * it exists once the veth is made, with the veth's MTU and up state, no
 * address and a MAC of the kernel's choosing. */
struct resource *veth_peer_made_with(const struct resource *w, const struct model *wanted) {
        for (size_t i = 0; i < wanted->n; i++) {
                const struct resource *v = wanted->v[i];
                if (v->kind != KIND_VETH || v->state == STATE_ABSENT || v->link.peer_netns[0] ||
                    strcmp(v->link.peer, w->name) != 0)
                        continue;
                struct resource *made = resource_new(KIND_VETH, w->name);
                made->link.mtu = v->set & LINK_F_MTU ? v->link.mtu : 1500;
                made->link.up = v->link.up;
                snprintf(made->link.peer, sizeof(made->link.peer), "%s", v->name);
                snprintf(made->link.type, sizeof(made->link.type), "veth");
                made->set = LINK_F_MTU | LINK_F_UP | LINK_F_PEER;
                return made;
        }
        return NULL;
}

/* Deleting one end of a veth pair deletes the other. */
static void veth_takes_with(const struct resource *live, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (live->link.peer[0] && !live->link.peer_netns[0])
                add(u, KIND_VETH, live->link.peer);
}

static const struct link_kind veth_link = { .info_kind = "veth", .has_peer = true, .diff_identity = veth_diff_identity,
                                            .put_info = veth_put_info, .create = veth_create, .created = veth_created };

/* A peer in another namespace: the kernel tells its namespace's id, not a name. */
static int veth_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size) {
        (void) a;
        if (c->field != LINK_F_PEER_NETNS || (now ? &c->now : &c->was)->type != VAL_SPEC)
                return -1;
        snprintf(buf, size, "(another)");
        return 1;
}

const struct kind_ops veth_kind = {
        .word = "veth",
        .section = "veths",
        LINK_KIND_COMMON,
        .impl = &veth_link,
        .takes_with = veth_takes_with, /* the peer goes with it */
        .change_words = veth_change_words,
        .defaults = link_defaults,
        .show_as = veth_show_as,
        .flags = KF_REVERTIBLE,
        .show_rank = 6,
        .fields = veth_fields,
        .n_fields = ELEMENTSOF(veth_fields),
        .check = veth_check,
        .validate = veth_validate,
        .validate_phases = 1u << 5,
        .show = veth_show,
};
