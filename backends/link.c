/* Links and addresses through rtnetlink: libnl-3 sockets and messages, with
 * libnl-route-3 building the address requests. NICs are configured; bridges,
 * bonds, VLANs, VXLANs, macvlans, macvtaps, veths and TAPs are created,
 * changed in place where the kernel allows it, replaced where not, deleted. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/socket.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

/* Interface indexes by name from the last observation and from this run's
 * creates: an apply that enslaves two ports per bridge asks the kernel for
 * none of them. Any delete empties it (a parent takes its VLANs along). */
struct ifcache {
        struct ifcache_entry {
                char name[IFNAME_MAX];
                int ifindex;
        } *v;
        size_t n;
        struct hindex index;
};

struct link_state {
        struct rtnl nl;
        int ssh_oif; /* ifindex carrying the route to the SSH client, 0 if none */
        struct ifcache cache;
};

static bool removes_ipv4_address(const struct action *a);

static uint64_t ifcache_hash(size_t pos, const void *u) {
        const struct ifcache *c = u;
        return hash_fnv1a_str(HASH_FNV1A_SEED, c->v[pos].name);
}

struct ifcache_key {
        const struct ifcache *c;
        const char *name;
};

static bool ifcache_eq(size_t pos, const void *u) {
        const struct ifcache_key *k = u;
        return strcmp(k->c->v[pos].name, k->name) == 0;
}

static size_t ifcache_find(const struct ifcache *c, const char *name) {
        struct ifcache_key k = { c, name };
        return hindex_find(&c->index, hash_fnv1a_str(HASH_FNV1A_SEED, name), ifcache_eq, &k);
}

static void ifcache_clear(struct ifcache *c) {
        free(c->v);
        hindex_done(&c->index);
        memset(c, 0, sizeof(*c));
}

static void ifcache_put(struct ifcache *c, const char *name, int ifindex) {
        size_t pos = ifcache_find(c, name);
        if (pos != HINDEX_NONE) {
                c->v[pos].ifindex = ifindex;
                return;
        }
        struct ifcache_entry *e = array_push(&c->v, &c->n, sizeof(*c->v));
        snprintf(e->name, sizeof(e->name), "%s", name);
        e->ifindex = ifindex;
        hindex_add(&c->index, c->n, ifcache_hash, c);
}

static int ifcache_get(const struct ifcache *c, const char *name) {
        size_t pos = ifcache_find(c, name);
        return pos == HINDEX_NONE ? 0 : c->v[pos].ifindex;
}

static bool is_link(enum kind k) {
        return kind_ops(k)->backend == &link_backend;
}

/* The kind the kernel's IFLA_INFO_KIND names; a NIC for any other. */
static enum kind kind_of_info(const char *type) {
        for (int k = 0; k < _KIND_MAX; k++)
                if (is_link((enum kind) k) && link_kind_of((enum kind) k)->info_kind &&
                    strcmp(link_kind_of((enum kind) k)->info_kind, type) == 0)
                        return (enum kind) k;
        return KIND_ETHERNET;
}

static const char *info_kind(enum kind k) {
        return link_kind_of(k)->info_kind;
}

static bool has_ports(enum kind k) {
        return link_kind_of(k)->has_ports;
}

static bool has_parent(enum kind k) {
        return link_kind_of(k)->has_parent;
}

/* ---- observe ---- */

struct observe_ctx {
        struct model *live;
        struct resource **by_index; /* ifindex -> resource, for masters, parents and addresses */
        size_t n_index;
        int *master_of; /* ifindex -> master ifindex */
};

static void index_put(struct observe_ctx *o, int ifindex, struct resource *r, int master) {
        if ((size_t) ifindex >= o->n_index) {
                size_t n = o->n_index ? o->n_index : 64;
                while (n <= (size_t) ifindex)
                        n *= 2;
                o->by_index = realloc(o->by_index, n * sizeof(*o->by_index));
                o->master_of = realloc(o->master_of, n * sizeof(*o->master_of));
                if (!o->by_index || !o->master_of)
                        abort();
                memset(o->by_index + o->n_index, 0, (n - o->n_index) * sizeof(*o->by_index));
                memset(o->master_of + o->n_index, 0, (n - o->n_index) * sizeof(*o->master_of));
                o->n_index = n;
        }
        o->by_index[ifindex] = r;
        o->master_of[ifindex] = master;
}

static struct resource *index_get(struct observe_ctx *o, int ifindex) {
        return ifindex > 0 && (size_t) ifindex < o->n_index ? o->by_index[ifindex] : NULL;
}

static int on_link(struct nl_msg *m, void *arg) {
        struct observe_ctx *o = arg;
        struct nlmsghdr *nlh = nlmsg_hdr(m);
        struct ifinfomsg *ifi = nlmsg_data(nlh);
        struct nlattr *tb[IFLA_MAX + 1];
        if (nlh->nlmsg_type != RTM_NEWLINK || nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 ||
            !tb[IFLA_IFNAME])
                return NL_OK;
        char type[32] = "";
        struct nlattr *info[IFLA_INFO_MAX + 1] = { 0 };
        if (tb[IFLA_LINKINFO] && nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0 &&
            info[IFLA_INFO_KIND])
                snprintf(type, sizeof(type), "%s", nla_get_string(info[IFLA_INFO_KIND]));
        enum kind k = kind_of_info(type);
        struct resource *r = resource_new(k, nla_get_string(tb[IFLA_IFNAME]));
        struct link_spec *l = &r->link;
        struct nlattr *data = info[IFLA_INFO_DATA];
        snprintf(l->type, sizeof(l->type), "%s", type);
        l->ifindex = ifi->ifi_index;
        l->up = ifi->ifi_flags & IFF_UP;
        r->set = LINK_F_UP;
        if (tb[IFLA_MTU]) {
                l->mtu = nla_get_u32(tb[IFLA_MTU]);
                r->set |= LINK_F_MTU;
        }
        if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
                memcpy(l->mac, nla_data(tb[IFLA_ADDRESS]), 6);
                r->set |= LINK_F_MAC;
        }
        /* IFLA_INFO_DATA is the kind's to read; a tun device may turn out no TAP. */
        if (link_kind_of(k)->observe_info)
                r->kind = link_kind_of(k)->observe_info(r, data);
        /* Parents and peers are named once every link of the dump is known. */
        if ((has_parent(k) || link_kind_of(k)->has_peer) && tb[IFLA_LINK])
                snprintf(l->link, sizeof(l->link), "#%u", nla_get_u32(tb[IFLA_LINK]));
        if (link_kind_of(k)->has_peer && tb[IFLA_LINK_NETNSID])
                snprintf(l->peer_netns, sizeof(l->peer_netns), "*"); /* another namespace: not named here */
        int master = tb[IFLA_MASTER] ? (int) nla_get_u32(tb[IFLA_MASTER]) : 0;
        if (model_add(o->live, r) < 0) {
                resource_free(r);
                return NL_OK;
        }
        index_put(o, ifi->ifi_index, r, master);
        return NL_OK;
}

static int on_addr(struct nl_msg *m, void *arg) {
        struct observe_ctx *o = arg;
        struct nlmsghdr *nlh = nlmsg_hdr(m);
        struct ifaddrmsg *ifa = nlmsg_data(nlh);
        struct nlattr *tb[IFA_MAX + 1];
        if (nlh->nlmsg_type != RTM_NEWADDR || nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
                return NL_OK;
        if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
                return NL_OK;
        struct resource *r = index_get(o, (int) ifa->ifa_index);
        struct nlattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        if (!r || !a)
                return NL_OK;
        uint32_t flags = tb[IFA_FLAGS] ? nla_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
        struct ipaddr *ip = array_push(&r->link.addresses.v, &r->link.addresses.n, sizeof(*ip));
        ip->family = ifa->ifa_family;
        memcpy(ip->a, nla_data(a), ifa->ifa_family == AF_INET ? 4 : 16);
        ip->prefix = ifa->ifa_prefixlen;
        ip->flags = flags;
        r->set |= LINK_F_ADDRESSES;
        return NL_OK;
}

/* "#IFINDEX" left by on_link into a name; a link in another namespace has none. */
static bool resolve_index(struct observe_ctx *o, char name[IFNAME_MAX]) {
        if (name[0] != '#')
                return name[0] != '\0';
        struct resource *p = index_get(o, atoi(name + 1));
        snprintf(name, IFNAME_MAX, "%s", p ? p->name : "");
        return p != NULL;
}

static int link_observe_once(void *state, struct model *live) {
        struct link_state *s = state;
        struct observe_ctx o = { .live = live };
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
        size_t first = live->n;
        int r = rtnl_dump(&s->nl, RTM_GETLINK, &ifi, sizeof(ifi), on_link, &o);
        if (r >= 0)
                r = rtnl_dump(&s->nl, RTM_GETADDR, &ifa, sizeof(ifa), on_addr, &o);
        if (r < 0) {
                free(o.by_index);
                free(o.master_of);
                return r;
        }
        ifcache_clear(&s->cache);
        for (size_t i = first; i < live->n; i++) {
                struct resource *res = live->v[i];
                struct link_spec *l = &res->link;
                ifcache_put(&s->cache, res->name, l->ifindex);
                struct resource *m = index_get(&o, o.master_of[l->ifindex]);
                if (m) {
                        snprintf(l->master, sizeof(l->master), "%s", m->name);
                        if (has_ports(m->kind)) {
                                *(char **) array_push(&m->link.interfaces.v, &m->link.interfaces.n, sizeof(char *)) =
                                        xstrdup(res->name);
                                m->set |= LINK_F_INTERFACES;
                        }
                }
                if (link_kind_of(res->kind)->has_peer) {
                        if (!l->peer_netns[0] && resolve_index(&o, l->link)) {
                                snprintf(l->peer, sizeof(l->peer), "%s", l->link);
                                res->set |= LINK_F_PEER;
                        }
                        l->link[0] = '\0';
                } else if (resolve_index(&o, l->link))
                        res->set |= LINK_F_LINK;
        }
        free(o.by_index);
        free(o.master_of);
        return 0;
}

static int link_observe(void *state, const struct str_list *names, struct model *live) {
        struct link_state *s = state;
        (void) names;
        int r = rtnl_observe(live, link_observe_once, s);
        if (r < 0)
                return diag_plain(r, "link backend: cannot read links%s%s: %s", s->nl.netns[0] ? " in netns " : "",
                                  s->nl.netns, strerror(-r));
        return 0;
}

/* ---- open / close ---- */

static int ssh_route_oif(struct link_state *s);

static int link_open(const struct backend_ctx *ctx, void **state) {
        struct link_state *s = xcalloc(1, sizeof(*s));
        int r = rtnl_open(&s->nl, ctx->netns, "link");
        if (r < 0) {
                free(s);
                return r;
        }
        if (!ctx->netns)
                s->ssh_oif = ssh_route_oif(s);
        *state = s;
        return 0;
}

static void link_close(void *state) {
        struct link_state *s = state;
        if (!s)
                return;
        rtnl_close(&s->nl);
        ifcache_clear(&s->cache);
        free(s);
}

/* ---- dependencies ---- */

void link_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        const struct link_spec *l = &r->link;
        if (has_parent(r->kind) && l->link[0])
                add(u, KIND_ETHERNET, l->link);
        if (has_ports(r->kind))
                for (size_t i = 0; i < l->interfaces.n; i++)
                        add(u, KIND_ETHERNET, l->interfaces.v[i]);
        if (link_kind_of(r->kind)->deps)
                link_kind_of(r->kind)->deps(r, add, u);
}

/* ---- diff ---- */

/* IPv6 link-local addresses belong to the kernel unless the manifest names one. */
static bool addr_is_link_local(const struct ipaddr *a) {
        return a->family == AF_INET6 && a->a[0] == 0xfe && (a->a[1] & 0xc0) == 0x80;
}

static bool addr_in(const struct addr_list *l, const struct ipaddr *a) {
        for (size_t i = 0; i < l->n; i++)
                if (ipaddr_equal(&l->v[i], a))
                        return true;
        return false;
}

static bool addr_static(const struct ipaddr *a) {
        return a->flags & IFA_F_PERMANENT;
}

static bool port_in_ledger(const struct ledger_entry *owned, const char *port) {
        return ledger_list_contains(owned, "ports", port);
}

/* What only a new link can have: the plan says replace. Returns true if any. */
static bool diff_identity(const struct resource *w, const struct resource *live, struct action *a) {
        const struct link_spec *want = &w->link, *have = &live->link;
        size_t before = a->n_changes;
        if (has_parent(w->kind) && strcmp(want->link, have->link) != 0)
                action_add_change(a, LINK_F_LINK, "link", value_text(have->link), value_text(want->link));
        if (link_kind_of(w->kind)->diff_identity)
                link_kind_of(w->kind)->diff_identity(w, live, a);
        if (a->n_changes == before)
                return false;
        a->op = OP_REPLACE;
        a->reason = xstrdup("cannot change in place");
        return true;
}

static int diff_addresses(const struct resource *w, const struct resource *live, struct action *a) {
        const struct link_spec *want = &w->link, *have = &live->link;
        char buf[64];
        int ret = 0;
        for (size_t i = 0; i < have->addresses.n; i++) {
                const struct ipaddr *ip = &have->addresses.v[i];
                if (ip->flags & IFA_F_DADFAILED && addr_in(&want->addresses, ip))
                        ret = diag_res(-EADDRINUSE, kind_to_string(w->kind), w->name,
                                       "address %s failed duplicate address detection (dadfailed): another "
                                       "host on the link uses it",
                                       ipaddr_format(ip, true, buf, sizeof(buf)));
        }
        if (ret < 0)
                return ret;
        for (size_t i = 0; i < have->addresses.n; i++) {
                const struct ipaddr *ip = &have->addresses.v[i];
                if (!addr_static(ip) || addr_in(&want->addresses, ip) || addr_is_link_local(ip))
                        continue;
                action_add_change(a, LINK_F_ADDRESSES, "address", value_prefix(ip), VALUE_NONE);
        }
        for (size_t i = 0; i < want->addresses.n; i++) {
                const struct ipaddr *ip = &want->addresses.v[i];
                /* Any live copy counts, tentative included; a dynamic one is made static below. */
                bool found = false;
                for (size_t j = 0; j < have->addresses.n && !found; j++)
                        found = ipaddr_equal(&have->addresses.v[j], ip) && addr_static(&have->addresses.v[j]);
                if (!found)
                        action_add_change(a, LINK_F_ADDRESSES, "address", VALUE_NONE, value_prefix(ip));
        }
        return 0;
}

int link_diff(void *state, const struct resource *w, const struct resource *live,
                     const struct ledger_entry *owned, struct action *a, struct plan *p) {
        const struct link_spec *want = &w->link, *have = &live->link;
        (void) state;
        if (diff_identity(w, live, a))
                return 0;
        if ((w->set & LINK_F_MTU) && want->mtu != have->mtu)
                link_change_u32(a, LINK_F_MTU, "mtu", have->mtu, want->mtu);
        const unsigned char *mac = NULL;
        unsigned char ledger_mac[6];
        if (w->set & LINK_F_MAC)
                mac = want->mac;
        else if (link_kind_of(w->kind)->stable_mac && owned && ledger_get(owned, "mac") &&
                 mac_parse(ledger_get(owned, "mac"), ledger_mac) == 0)
                mac = ledger_mac;
        if (mac && memcmp(mac, have->mac, 6) != 0)
                action_add_change(a, LINK_F_MAC, "mac", value_mac(have->mac), value_mac(mac));
        if (link_kind_of(w->kind)->diff_in_place)
                link_kind_of(w->kind)->diff_in_place(w, live, a);
        if (w->set & LINK_F_ADDRESSES) {
                int r = diff_addresses(w, live, a);
                if (r < 0)
                        return r;
                /* What apply_addresses does about the kernel's side effects, said once. */
                bool keeps_ipv4 = false;
                for (size_t i = 0; i < want->addresses.n; i++)
                        keeps_ipv4 = keeps_ipv4 || want->addresses.v[i].family == AF_INET;
                if (removes_ipv4_address(a) && keeps_ipv4 && !a->reason)
                        a->reason = xstrdup("new addresses first, then the old go with promote_secondaries on: the "
                                            "other addresses and the routes over them stay");
        }
        if (has_ports(w->kind) && (w->set & LINK_F_INTERFACES)) {
                for (size_t i = 0; i < want->interfaces.n; i++)
                        if (!str_list_contains(&have->interfaces, want->interfaces.v[i]))
                                action_add_change(a, LINK_F_INTERFACES, "port", VALUE_NONE, value_text(want->interfaces.v[i]));
                for (size_t i = 0; i < have->interfaces.n; i++)
                        if (!str_list_contains(&want->interfaces, have->interfaces.v[i]) &&
                            port_in_ledger(owned, have->interfaces.v[i]))
                                action_add_change(a, LINK_F_INTERFACES, "port", value_text(have->interfaces.v[i]), VALUE_NONE);
        }
        if (link_kind_of(w->kind)->diff_after)
                link_kind_of(w->kind)->diff_after(w, live, owned, a, p);
        if (want->up != have->up)
                link_change_bool(a, LINK_F_UP, "up", have->up, want->up);
        a->op = OP_UPDATE;
        return 0;
}

/* ---- risk ---- */

void link_assess(void *state, struct action *a, const struct model *live) {
        struct link_state *s = state;
        char buf[64];
        const struct resource *here = a->live;
        if (a->want && has_ports(a->want->kind))
                for (size_t i = 0; i < a->want->link.interfaces.n; i++) {
                        const char *port = a->want->link.interfaces.v[i];
                        const struct resource *pr = model_find(live, KIND_ETHERNET, port);
                        if (!pr || (here && str_list_contains(&here->link.interfaces, port)))
                                continue;
                        for (size_t j = 0; j < pr->link.addresses.n; j++) {
                                const struct ipaddr *ip = &pr->link.addresses.v[j];
                                if (addr_static(ip) && !addr_is_link_local(ip)) {
                                        action_add_risk(a, "enslaving %s, which carries %s: traffic to that address stops", port,
                                                 ipaddr_format(ip, true, buf, sizeof(buf)));
                                        break;
                                }
                        }
                        if (s && s->ssh_oif && pr->link.ifindex == s->ssh_oif)
                                action_add_risk(a, "%s carries this SSH session", port);
                }
        if (link_kind_of(a->kind)->assess)
                link_kind_of(a->kind)->assess(a, live);
        /* Routes go with their device: a link dropped (or made again) takes them. */
        if (here && (a->op == OP_DELETE || a->op == OP_REPLACE)) {
                size_t n_routes = 0;
                const struct resource *dflt = NULL;
                for (size_t i = 0; i < live->n; i++) {
                        const struct resource *rt = live->v[i];
                        if (rt->kind != KIND_ROUTE || strcmp(rt->route.dev, a->key) != 0)
                                continue;
                        n_routes++;
                        if (rt->route.to.prefix == 0 && !dflt)
                                dflt = rt;
                }
                if (dflt)
                        action_add_risk(a, "%s carries the default route%s%s: the host has none until a route is made again",
                                 a->name, dflt->set & ROUTE_F_VIA ? " via " : "",
                                 dflt->set & ROUTE_F_VIA ? ipaddr_format(&dflt->route.via, false, buf, sizeof(buf)) : "");
                else if (n_routes)
                        action_add_risk(a, "%zu route%s over %s go with it", n_routes, n_routes == 1 ? "" : "s", a->name);
        }
        if (!s || !s->ssh_oif || !here) /* no state: a snapshot's plan, no SSH session to cut */
                return;
        bool carries = here->link.ifindex == s->ssh_oif;
        for (size_t i = 0; !carries && i < here->link.interfaces.n; i++) {
                const struct resource *pr = model_find(live, KIND_ETHERNET, here->link.interfaces.v[i]);
                carries = pr && pr->link.ifindex == s->ssh_oif;
        }
        if (!carries)
                return;
        if (a->op == OP_DELETE || a->op == OP_REPLACE)
                action_add_risk(a, "%s carries the route to this SSH session", a->name);
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if ((c->field == LINK_F_UP && c->now.type == VAL_BOOL && !c->now.boolean) ||
                    (c->field == LINK_F_ADDRESSES && c->now.type == VAL_NONE))
                        action_add_risk(a, "%s carries the route to this SSH session (%s %s)", a->name, c->name,
                                 c->field == LINK_F_UP ? "false" : "removed");
        }
}

/* The interface the kernel would use to answer the SSH client of this session. */
static int ssh_route_oif(struct link_state *s) {
        struct ipaddr dst;
        if (ssh_client_address(&dst) < 0)
                return 0;
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETROUTE, 0);
        struct rtmsg rtm = { .rtm_family = (unsigned char) dst.family, .rtm_dst_len = (unsigned char) dst.prefix };
        if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
            nla_put(msg, RTA_DST, dst.family == AF_INET ? 4 : 16, dst.a) < 0) {
                nlmsg_free(msg);
                return 0;
        }
        int oif = 0;
        if (nl_send_auto(s->nl.sk, msg) >= 0) {
                unsigned char *buf = NULL;
                struct sockaddr_nl peer;
                int n = nl_recv(s->nl.sk, &peer, &buf, NULL);
                struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
                if (n > 0 && nlmsg_ok(nlh, n) && nlh->nlmsg_type == RTM_NEWROUTE) {
                        struct nlattr *tb[RTA_MAX + 1];
                        if (nlmsg_parse(nlh, sizeof(struct rtmsg), tb, RTA_MAX, NULL) == 0 && tb[RTA_OIF])
                                oif = (int) nla_get_u32(tb[RTA_OIF]);
                }
                free(buf);
        }
        nlmsg_free(msg);
        return oif;
}

/* ---- apply ---- */

static int ifindex_of(struct link_state *s, const char *name);

/* IFLA_INFO_DATA of the link's kind, for the fields asked; 0, -ENOMEM or -ENODEV. */
static int link_ifindex_cb(void *u, const char *name) {
        return ifindex_of(u, name);
}

static int put_info_data(struct link_state *s, struct nl_msg *msg, const struct link_req *q) {
        const struct link_kind *lk = link_kind_of(q->kind);
        struct link_put lp = { q->data, q->data_fields, link_ifindex_cb, s, q->peer_elsewhere, q->peer_netns_fd };
        return lk->put_info ? lk->put_info(msg, &lp) : 0;
}

int link_send(struct link_state *s, const struct link_req *q) {
        int flags = q->ifindex ? 0 : NLM_F_CREATE | NLM_F_EXCL;
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, flags);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = q->ifindex };
        if (!msg)
                return -ENOMEM;
        if (q->up != UP_KEEP) {
                ifi.ifi_change = IFF_UP;
                ifi.ifi_flags = q->up == UP_SET ? IFF_UP : 0;
        }
        int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        if (r >= 0 && !q->ifindex)
                r = nla_put_string(msg, IFLA_IFNAME, q->name);
        if (r >= 0 && q->mtu)
                r = nla_put_u32(msg, IFLA_MTU, q->mtu);
        if (r >= 0 && q->mac)
                r = nla_put(msg, IFLA_ADDRESS, 6, q->mac);
        if (r >= 0 && q->set_master)
                r = nla_put_u32(msg, IFLA_MASTER, (uint32_t) q->master);
        if (r >= 0 && q->parent)
                r = nla_put_u32(msg, IFLA_LINK, (uint32_t) q->parent);
        if (r >= 0 && (!q->ifindex || q->data_fields)) {
                struct nlattr *info = nla_nest_start(msg, IFLA_LINKINFO);
                r = info ? nla_put_string(msg, IFLA_INFO_KIND, info_kind(q->kind)) : -ENOMEM;
                if (r >= 0 && q->data_fields) {
                        struct nlattr *data = nla_nest_start(msg, IFLA_INFO_DATA);
                        r = data ? put_info_data(s, msg, q) : -ENOMEM;
                        if (r >= 0)
                                nla_nest_end(msg, data);
                }
                if (r >= 0)
                        nla_nest_end(msg, info);
        }
        if (r < 0) {
                nlmsg_free(msg);
                return r == -ENODEV ? r : -ENOMEM;
        }
        return rtnl_talk(&s->nl, msg, NULL, NULL);
}

static int addr_send(struct link_state *s, int ifindex, const struct ipaddr *ip, bool add) {
        struct rtnl_addr *ra = rtnl_addr_alloc();
        struct nl_addr *local = nl_addr_build(ip->family, ip->a, ip->family == AF_INET ? 4 : 16);
        struct nl_msg *msg = NULL;
        int r = -ENOMEM;
        if (ra && local) {
                nl_addr_set_prefixlen(local, (int) ip->prefix);
                rtnl_addr_set_ifindex(ra, ifindex);
                rtnl_addr_set_family(ra, ip->family);
                rtnl_addr_set_prefixlen(ra, (int) ip->prefix);
                if (rtnl_addr_set_local(ra, local) == 0) {
                        int nr = add ? rtnl_addr_build_add_request(ra, NLM_F_CREATE | NLM_F_REPLACE, &msg)
                                     : rtnl_addr_build_delete_request(ra, 0, &msg);
                        r = nr < 0 ? -EINVAL : 0;
                }
        }
        if (local)
                nl_addr_put(local);
        if (ra)
                rtnl_addr_put(ra);
        if (r < 0)
                return r;
        r = rtnl_talk(&s->nl, msg, NULL, NULL);
        /* keepalived's rule: a present address on add, an absent one on delete, are done. */
        if ((add && r == -EEXIST) || (!add && r == -EADDRNOTAVAIL))
                r = 0;
        return r;
}

int link_fail(struct link_state *s, const struct action *a, int r, const char *what) {
        return diag_res(r, kind_to_string(a->kind), a->name, "%s: %s", what, rtnl_says(&s->nl, r));
}

/* net.ipv4.conf.IFNAME.promote_secondaries in the link's namespace: read
 * into *old (if given), then set to value (if >= 0). */
static int promote_secondaries(struct link_state *s, const char *ifname, int value, int *old) {
        /* The key names the interface with its dots written as '/'. */
        _cleanup_free_ char *key = xasprintf("net.ipv4.conf.%s.promote_secondaries", ifname);
        for (char *p = key + strlen("net.ipv4.conf."), *end = p + strlen(ifname); p < end; p++)
                if (*p == '.')
                        *p = '/';
        int saved, r = netns_enter(s->nl.netns[0] ? s->nl.netns : NULL, &saved);
        if (r < 0)
                return r;
        char buf[16];
        if (old && (r = proc_sysctl_read(key, buf, sizeof(buf))) >= 0)
                *old = atoi(buf);
        if (r >= 0 && value >= 0) {
                snprintf(buf, sizeof(buf), "%d", value);
                r = proc_sysctl_write(key, buf);
        }
        netns_leave(&saved);
        return r;
}

static bool removes_ipv4_address(const struct action *a) {
        for (size_t i = 0; i < a->n_changes; i++)
                if (a->changes[i].field == LINK_F_ADDRESSES && a->changes[i].now.type == VAL_NONE &&
                    a->changes[i].was.type == VAL_PREFIX && a->changes[i].was.addr.family == AF_INET)
                        return true;
        return false;
}

/* An IPv6 address that goes and comes back with another prefix: the kernel
 * knows IPv6 addresses by address alone, so the old one goes first. */
static bool ipv6_prefix_change(const struct action *a, const struct change *gone) {
        if (gone->was.type != VAL_PREFIX || gone->now.type != VAL_NONE || gone->was.addr.family != AF_INET6)
                return false;
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if (c->field == LINK_F_ADDRESSES && c->now.type == VAL_PREFIX && c->now.addr.family == AF_INET6 &&
                    memcmp(c->now.addr.a, gone->was.addr.a, 16) == 0)
                        return true;
        }
        return false;
}

/* Make before break: new addresses first, then the old ones go. The kernel
 * deletes an IPv4 primary's secondaries with it, and flushes every route of
 * a link left without an IPv4 address, so promote_secondaries is on while
 * addresses go: the others stay, and so do the routes over them. */
static int apply_addresses(struct link_state *s, const struct action *a, int ifindex, bool all_new) {
        char buf[64];
        int promote_was = 1, r = 0;
        /* Passes: IPv6 addresses whose prefix changes go, all new ones come, the rest go. */
        for (int pass = 0; pass < 3 && r >= 0; pass++) {
                if (pass == 2 && removes_ipv4_address(a) &&
                    promote_secondaries(s, a->key, -1, &promote_was) >= 0 && !promote_was)
                        (void) promote_secondaries(s, a->key, 1, NULL);
                for (size_t i = 0; i < a->n_changes && r >= 0; i++) {
                        const struct change *c = &a->changes[i];
                        if (c->field != LINK_F_ADDRESSES)
                                continue;
                        bool early = ipv6_prefix_change(a, c);
                        bool adds = c->now.type == VAL_PREFIX;
                        if ((pass == 0 && !early) || (pass == 1 && !adds) || (pass == 2 && (adds || early)))
                                continue;
                        r = addr_send(s, ifindex, adds ? &c->now.addr : &c->was.addr, adds);
                        if (r < 0)
                                r = link_fail(s, a, r, adds ? "adding address" : "removing address");
                }
        }
        if (!promote_was)
                (void) promote_secondaries(s, a->key, 0, NULL);
        if (r < 0)
                return r;
        if (all_new && a->want && (a->want->set & LINK_F_ADDRESSES))
                for (size_t i = 0; i < a->want->link.addresses.n; i++) {
                        r = addr_send(s, ifindex, &a->want->link.addresses.v[i], true);
                        if (r < 0) {
                                char what[96];
                                snprintf(what, sizeof(what), "adding address %s",
                                         ipaddr_format(&a->want->link.addresses.v[i], true, buf, sizeof(buf)));
                                return link_fail(s, a, r, what);
                        }
                }
        return 0;
}

int link_set_up(struct link_state *s, const struct action *a, int ifindex, bool up) {
        int r = link_send(s, &LINK_REQ(.ifindex = ifindex, .up = up ? UP_SET : UP_CLEAR));
        if (r == -ENETDOWN && a->want && has_parent(a->kind))
                return diag_res(r, kind_to_string(a->kind), a->name,
                                "setting up: %s; its parent %s is down: declare it under ethernets "
                                "(up: true is the default) or bring it up",
                                rtnl_says(&s->nl, r), a->want->link.link);
        return r < 0 ? link_fail(s, a, r, up ? "setting up" : "setting down") : 0;
}

/* A port joins (master > 0) or leaves (0): as the kind says, or IFLA_MASTER alone. */
int link_set_master(struct link_state *s, const struct action *a, const char *port, int master) {
        int pidx = ifindex_of(s, port);
        if (pidx <= 0)
                return diag_res(-ENODEV, kind_to_string(a->kind), a->name, "port %s does not exist", port);
        const struct link_kind *lk = link_kind_of(a->kind);
        int r = lk->enslave ? lk->enslave(s, a, port, pidx, master)
                            : link_send(s, &LINK_REQ(.ifindex = pidx, .set_master = true, .master = master));
        return r < 0 ? link_fail(s, a, r, master ? "enslaving a port" : "releasing a port") : 0;
}

int link_ifindex(struct link_state *s, const char *name) {
        return ifindex_of(s, name);
}

int link_flags(struct link_state *s, const char *name) {
        return rtnl_link_flags(&s->nl, name);
}

const char *link_netns(const struct link_state *s) {
        return s->nl.netns[0] ? s->nl.netns : NULL;
}

static void record_ports(struct ledger *l, struct ledger_entry *e, const struct resource *w) {
        if (!e || !w || !has_ports(w->kind) || !(w->set & LINK_F_INTERFACES))
                return;
        ledger_set_list(l, e, "ports", &w->link.interfaces);
}

static int link_create(struct link_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        const struct resource *w = a->want;
        const struct link_spec *want = &w->link;
        const struct link_kind *lk = link_kind_of(w->kind);
        unsigned char mac[6];
        char macbuf[18];
        struct link_req q = LINK_REQ(.name = w->name, .kind = w->kind, .up = UP_CLEAR, .data = w, .data_fields = ~0ull);
        if (w->set & LINK_F_MTU)
                q.mtu = want->mtu;
        if (w->set & LINK_F_MAC)
                q.mac = want->mac;
        if (lk->stable_mac && !(w->set & LINK_F_MAC)) {
                const char *old = ledger_get(e, "mac");
                if (!old || mac_parse(old, mac) < 0)
                        lk->stable_mac(w->name, mac);
                q.mac = mac;
                ledger_set(l, e, "mac", mac_format(mac, macbuf));
        }
        if (has_parent(w->kind)) {
                q.parent = ifindex_of(s, want->link);
                if (q.parent <= 0)
                        return diag_res(-ENODEV, kind_to_string(w->kind), w->name, "parent %s does not exist", want->link);
        }
        int r = lk->create ? lk->create(s, a, &q) : link_send(s, &q);
        if (r < 0)
                return link_fail(s, a, r, "creating");
        int ifindex = ifindex_of(s, w->name);
        if (ifindex <= 0)
                return diag_res(-ENODEV, kind_to_string(w->kind), w->name, "created, but not found afterwards");
        if (lk->created && (r = lk->created(s, a, ifindex, l, e)) < 0)
                return r;
        r = apply_addresses(s, a, ifindex, true);
        for (size_t i = 0; r >= 0 && has_ports(w->kind) && i < want->interfaces.n; i++)
                r = link_set_master(s, a, want->interfaces.v[i], ifindex);
        /* The ports it was meant to hold are its own to release, enslaved yet or not. */
        record_ports(l, e, w);
        if (r >= 0 && want->up)
                r = link_set_up(s, a, ifindex, true);
        /* The link exists and is ours; what it lacks (an address, a port, up) is
         * what the next plan's diff shows and its update adds. Deleting it instead
         * would flap the ports it holds already. */
        if (r < 0)
                ledger_mark_incomplete(l, e, "created, not all of its addresses, ports and state set");
        return r;
}

static int link_delete(struct link_state *s, const struct action *a) {
        int ifindex = ifindex_of(s, a->name);
        if (ifindex <= 0)
                return 0; /* gone already (a parent's deletion takes its VLANs along) */
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_DELLINK, 0);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
        if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        int r = rtnl_talk(&s->nl, msg, NULL, NULL);
        ifcache_clear(&s->cache); /* its peer, VLANs and macvlans may have gone with it */
        if (r == -ENODEV)
                r = 0;
        if (r < 0)
                return link_fail(s, a, r, "deleting");
        return link_kind_of(a->kind)->deleted ? link_kind_of(a->kind)->deleted(s, a) : 0;
}

static int link_update(struct link_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        const struct resource *w = a->want;
        /* A link made with another in this run (a veth's peer) has no index in the observation. */
        int ifindex = a->live->link.ifindex > 0 ? a->live->link.ifindex : ifindex_of(s, a->key);
        if (ifindex <= 0)
                return diag_res(-ENODEV, kind_to_string(a->kind), a->name, "does not exist");
        const struct link_kind *lk = link_kind_of(w->kind);
        struct link_req q = LINK_REQ(.ifindex = ifindex, .kind = w->kind, .data = w);
        uint64_t own_fields = 0;
        unsigned char mac[6];
        bool attrs = false, bring_up = false, take_down = false;
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if (c->field & lk->own_fields) {
                        own_fields |= c->field;
                        continue;
                }
                switch (c->field) {
                case LINK_F_MTU:
                        q.mtu = w->link.mtu;
                        attrs = true;
                        break;
                case LINK_F_MAC:
                        if (c->now.type == VAL_MAC) {
                                memcpy(mac, c->now.mac, 6);
                                q.mac = mac;
                                attrs = true;
                        }
                        break;
                case LINK_F_UP:
                        if (w->link.up)
                                bring_up = true;
                        else
                                take_down = true;
                        break;
                case LINK_F_MODE:
                case LINK_F_LACP_RATE:
                case LINK_F_STP:
                case LINK_F_FORWARD_DELAY:
                case LINK_F_REMOTE:
                case LINK_F_LEARNING:
                case LINK_F_MIIMON:
                case LINK_F_XMIT_HASH:
                        q.data_fields |= c->field;
                        break;
                default:
                        break;
                }
        }
        int r = 0;
        if (take_down)
                r = link_set_up(s, a, ifindex, false);
        /* The kind's own first: a bond goes down for its mode; a bridge holds its
         * MTU before the port changes below, after any port's own change earlier in the plan. */
        if (r >= 0 && own_fields) {
                r = lk->update(s, a, ifindex, own_fields, l, e);
                bring_up = bring_up || (r > 0 && w->link.up && a->live->link.up);
        }
        /* Kind data goes in a message of its own: VXLAN refuses IFLA_MTU next to a changelink. */
        if (r >= 0 && attrs && (r = link_send(s, &LINK_REQ(.ifindex = ifindex, .mtu = q.mtu, .mac = q.mac))) < 0)
                r = link_fail(s, a, r, "changing");
        q.mtu = 0;
        q.mac = NULL;
        if (r >= 0 && q.data_fields && (r = link_send(s, &q)) < 0)
                r = link_fail(s, a, r, "changing");
        if (r >= 0)
                r = apply_addresses(s, a, ifindex, false);
        for (size_t i = 0; r >= 0 && i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if (c->field != LINK_F_INTERFACES)
                        continue;
                /* A port another bridge of this plan took already is not ours to
                 * release: the kernel says where it is now, not the observation. */
                if (c->now.type == VAL_TEXT)
                        r = link_set_master(s, a, c->now.text, ifindex);
                else if (ifindex_of(s, c->was.text) > 0 && rtnl_link_master(&s->nl, c->was.text) == ifindex)
                        r = link_set_master(s, a, c->was.text, 0);
        }
        if (r < 0)
                return r;
        record_ports(l, e, w);
        return bring_up ? link_set_up(s, a, ifindex, true) : 0;
}

int link_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct link_state *s = state;
        int r;
        switch (a->op) {
        case OP_CREATE:
                return link_create(s, a, l, e);
        case OP_DELETE:
                return link_delete(s, a);
        case OP_REPLACE:
                /* The new link takes the old one's place in its bridge or bond. */
                r = link_delete(s, a);
                if (r >= 0)
                        r = link_create(s, a, l, e);
                if (r >= 0 && a->live->link.master[0]) {
                        int master = ifindex_of(s, a->live->link.master);
                        if (master > 0)
                                r = link_set_master(s, a, a->name, master);
                }
                return r;
        case OP_UPDATE:
        case OP_ADOPT:
                return link_update(s, a, l, e);
        default:
                return -EINVAL;
        }
}

static int ifindex_of(struct link_state *s, const char *name) {
        int ifindex = ifcache_get(&s->cache, name);
        if (ifindex > 0)
                return ifindex;
        ifindex = rtnl_ifindex(&s->nl, name);
        if (ifindex > 0)
                ifcache_put(&s->cache, name, ifindex);
        return ifindex;
}

/* Link and address notifications of the namespace: the daemon's drift signal. */
static int link_watch_open(const struct backend_ctx *ctx, void **watch) {
        *watch = NULL;
        return rtnl_watch_open(ctx->netns, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, "link");
}

/* What a create sets, in the order the plan reads best: what the kernel takes
 * at creation, then MTU and MAC, ports, addresses, up. */
/* The key a kind declares a field under ("dev" or "link"), and its table. */
static const struct field *field_of(enum kind k, uint64_t bit) {
        for (size_t i = 0; i < kind_ops(k)->n_fields; i++)
                if (kind_ops(k)->fields[i].bit == bit)
                        return &kind_ops(k)->fields[i];
        return NULL;
}

void link_describe(const struct resource *w, struct action *a) {
        const struct link_spec *l = &w->link;
        const struct field *f;
        if ((w->set & LINK_F_LINK) && (f = field_of(w->kind, LINK_F_LINK)))
                action_add_set(a, LINK_F_LINK, f->key, value_text(l->link));
        if (w->set & LINK_F_ID)
                action_add_set(a, LINK_F_ID, "id", value_number(l->vlan_id));
        if (w->set & LINK_F_VNI)
                action_add_set(a, LINK_F_VNI, "vni", value_number(l->vni));
        if (w->set & LINK_F_PEER)
                action_add_set(a, LINK_F_PEER, "peer", value_text(l->peer));
        if ((w->set & LINK_F_MODE) && (f = field_of(w->kind, LINK_F_MODE)))
                action_add_set(a, LINK_F_MODE, f->key, value_word(f->extra, l->mode));
        if (w->set & LINK_F_MTU)
                action_add_set(a, LINK_F_MTU, "mtu", value_number(l->mtu));
        if (w->set & LINK_F_MAC)
                action_add_set(a, LINK_F_MAC, "mac", value_mac(l->mac));
        for (size_t i = 0; (w->set & LINK_F_INTERFACES) && i < l->interfaces.n; i++)
                action_add_set(a, LINK_F_INTERFACES, "port", value_text(l->interfaces.v[i]));
        for (size_t i = 0; (w->set & LINK_F_ADDRESSES) && i < l->addresses.n; i++)
                action_add_set(a, LINK_F_ADDRESSES, "address", value_prefix(&l->addresses.v[i]));
        action_add_set(a, LINK_F_UP, "up", value_bool(l->up));
}

const struct backend link_backend = {
        .name = "link",
        .scope = SCOPE_NETNS,
        .open = link_open,
        .close = link_close,
        .observe = link_observe,
        .watch_open = link_watch_open,
        .watch_drain = rtnl_watch_drain,
};
