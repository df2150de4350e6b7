/* Links and addresses through rtnetlink: libnl-3 sockets and messages, with
 * libnl-route-3 building the address requests. NICs are configured, bridges
 * and VLANs created, changed in place and deleted. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
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
#include <sys/random.h>
#include <unistd.h>

#include "backends.h"

#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

struct link_state {
        struct nl_sock *sk;
        char netns[256];
        int ssh_oif; /* ifindex carrying the route to the SSH client, 0 if none */
        char err[256]; /* the kernel's extended ack message of the last failure */
};

/* ---- talking to the kernel ---- */

struct talk {
        int error;
        bool done;
        char *msg;
        size_t msg_size;
};

static int talk_on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg) {
        struct talk *t = arg;
        struct nlmsghdr *nlh = (struct nlmsghdr *) ((char *) e - NLMSG_HDRLEN);
        (void) who;
        t->error = e->error;
        t->done = true;
        if (t->msg)
                t->msg[0] = '\0';
        if (t->msg && (nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
                size_t off = sizeof(*e);
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                        off += e->msg.nlmsg_len - NLMSG_HDRLEN;
                struct nlattr *a = (struct nlattr *) ((char *) e + NLMSG_ALIGN(off));
                int rem = (int) nlh->nlmsg_len - (int) NLMSG_HDRLEN - (int) NLMSG_ALIGN(off);
                for (; nla_ok(a, rem); a = nla_next(a, &rem))
                        if (nla_type(a) == NLMSGERR_ATTR_MSG)
                                snprintf(t->msg, t->msg_size, "%s", nla_get_string(a));
        }
        return NL_STOP;
}

static int talk_on_ack(struct nl_msg *m, void *arg) {
        struct talk *t = arg;
        (void) m;
        t->error = 0;
        t->done = true;
        return NL_STOP;
}

/* Send one request and wait for its acknowledgement: 0 or the kernel's negative
 * errno. on_reply, if given, sees every answer before the ack (a GET's reply). */
static int nl_talk_cb(struct link_state *s, struct nl_msg *msg, nl_recvmsg_msg_cb_t on_reply, void *arg) {
        struct talk t = { .msg = s->err, .msg_size = sizeof(s->err) };
        s->err[0] = '\0';
        int r = nl_send_auto(s->sk, msg);
        nlmsg_free(msg);
        if (r < 0)
                return -EIO;
        struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb)
                return -ENOMEM;
        if (on_reply)
                nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_reply, arg);
        nl_cb_err(cb, NL_CB_CUSTOM, talk_on_error, &t);
        nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, talk_on_ack, &t);
        while (!t.done) {
                r = nl_recvmsgs(s->sk, cb);
                if (r < 0 && !t.done) {
                        t.error = -EIO;
                        break;
                }
        }
        nl_cb_put(cb);
        return t.error;
}

static int nl_talk(struct link_state *s, struct nl_msg *msg) {
        return nl_talk_cb(s, msg, NULL, NULL);
}

static const char *kernel_says(struct link_state *s, int r) {
        static char buf[320];
        if (s->err[0])
                snprintf(buf, sizeof(buf), "%s (%s)", s->err, strerror(-r));
        else
                snprintf(buf, sizeof(buf), "%s", strerror(-r));
        return buf;
}

typedef int (*dump_fn)(struct nl_msg *m, void *arg);

static int rtnl_dump(struct link_state *s, int type, const void *hdr, size_t hdr_len, dump_fn fn, void *arg) {
        int r = nl_send_simple(s->sk, type, NLM_F_DUMP, (void *) hdr, hdr_len);
        if (r < 0)
                return -EIO;
        struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb)
                return -ENOMEM;
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
        r = nl_recvmsgs(s->sk, cb);
        nl_cb_put(cb);
        return r < 0 ? -EIO : 0;
}

/* ---- observe ---- */

struct observe_ctx {
        struct model *live;
        struct resource **by_index; /* ifindex -> resource, for masters and addresses */
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
        enum kind k = strcmp(type, "bridge") == 0 ? KIND_BRIDGE : strcmp(type, "vlan") == 0 ? KIND_VLAN : KIND_ETHERNET;
        struct resource *r = resource_new(k, nla_get_string(tb[IFLA_IFNAME]));
        struct link_spec *l = &r->link;
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
        if (tb[IFLA_LINK] && k == KIND_VLAN)
                l->vlan_id = 0; /* parent name is resolved after the dump */
        struct nlattr *data[IFLA_BR_MAX + 1] = { 0 };
        if (k == KIND_BRIDGE && info[IFLA_INFO_DATA] &&
            nla_parse_nested(data, IFLA_BR_MAX, info[IFLA_INFO_DATA], NULL) == 0) {
                if (data[IFLA_BR_STP_STATE]) {
                        l->stp = nla_get_u32(data[IFLA_BR_STP_STATE]) != 0;
                        r->set |= LINK_F_STP;
                }
                if (data[IFLA_BR_FORWARD_DELAY]) {
                        /* The kernel reports centiseconds (USER_HZ); the manifest counts seconds. */
                        l->forward_delay = (nla_get_u32(data[IFLA_BR_FORWARD_DELAY]) + 50) / 100;
                        r->set |= LINK_F_FORWARD_DELAY;
                }
        }
        struct nlattr *vdata[IFLA_VLAN_MAX + 1] = { 0 };
        if (k == KIND_VLAN && info[IFLA_INFO_DATA] &&
            nla_parse_nested(vdata, IFLA_VLAN_MAX, info[IFLA_INFO_DATA], NULL) == 0 && vdata[IFLA_VLAN_ID]) {
                l->vlan_id = nla_get_u16(vdata[IFLA_VLAN_ID]);
                r->set |= LINK_F_ID;
        }
        int master = tb[IFLA_MASTER] ? (int) nla_get_u32(tb[IFLA_MASTER]) : 0;
        if (k == KIND_VLAN && tb[IFLA_LINK])
                snprintf(l->link, sizeof(l->link), "#%u", nla_get_u32(tb[IFLA_LINK]));
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

static int link_observe(void *state, struct model *live) {
        struct link_state *s = state;
        struct observe_ctx o = { .live = live };
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
        size_t first = live->n;
        int r = rtnl_dump(s, RTM_GETLINK, &ifi, sizeof(ifi), on_link, &o);
        if (r >= 0)
                r = rtnl_dump(s, RTM_GETADDR, &ifa, sizeof(ifa), on_addr, &o);
        if (r < 0) {
                free(o.by_index);
                free(o.master_of);
                return diag_plain(r, "link backend: cannot read links%s%s: %s", s->netns[0] ? " in netns " : "",
                                  s->netns, strerror(-r));
        }
        /* Resolve masters and VLAN parents by ifindex now that every link is known. */
        for (size_t i = first; i < live->n; i++) {
                struct resource *res = live->v[i];
                struct link_spec *l = &res->link;
                int master = o.master_of[l->ifindex];
                struct resource *m = index_get(&o, master);
                if (m) {
                        snprintf(l->master, sizeof(l->master), "%s", m->name);
                        if (m->kind == KIND_BRIDGE) {
                                *(char **) array_push(&m->link.interfaces.v, &m->link.interfaces.n, sizeof(char *)) =
                                        xstrdup(res->name);
                                m->set |= LINK_F_INTERFACES;
                        }
                }
                if (res->kind == KIND_VLAN && l->link[0] == '#') {
                        struct resource *p = index_get(&o, atoi(l->link + 1));
                        /* A parent in another namespace shows as an index we cannot name. */
                        snprintf(l->link, sizeof(l->link), "%s", p ? p->name : "");
                        res->set |= p ? LINK_F_LINK : 0;
                }
        }
        free(o.by_index);
        free(o.master_of);
        return 0;
}

/* ---- open / close ---- */

static int ssh_route_oif(struct link_state *s);

static int link_open(const struct backend_ctx *ctx, void **state) {
        struct link_state *s = xcalloc(1, sizeof(*s));
        int saved, r;
        if (ctx->netns)
                snprintf(s->netns, sizeof(s->netns), "%s", ctx->netns);
        r = netns_enter(ctx->netns, &saved);
        if (r < 0) {
                free(s);
                return r;
        }
        s->sk = nl_socket_alloc();
        if (!s->sk || nl_connect(s->sk, NETLINK_ROUTE) < 0) {
                netns_leave(&saved);
                if (s->sk)
                        nl_socket_free(s->sk);
                free(s);
                return diag_plain(-EIO, "link backend: cannot open a netlink socket");
        }
        r = netns_leave(&saved);
        if (r < 0) {
                nl_socket_free(s->sk);
                free(s);
                return r;
        }
        int one = 1;
        setsockopt(nl_socket_get_fd(s->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        nl_socket_set_buffer_size(s->sk, 4 << 20, 4 << 20);
        nl_socket_set_msg_buf_size(s->sk, 64 << 10);
        if (!ctx->netns)
                s->ssh_oif = ssh_route_oif(s);
        *state = s;
        return 0;
}

static void link_close(void *state) {
        struct link_state *s = state;
        if (!s)
                return;
        nl_socket_free(s->sk);
        free(s);
}

/* ---- dependencies, diff, risk ---- */

static void link_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->kind == KIND_VLAN && r->link.link[0])
                add(u, KIND_ETHERNET, r->link.link);
        if (r->kind == KIND_BRIDGE)
                for (size_t i = 0; i < r->link.interfaces.n; i++)
                        add(u, KIND_ETHERNET, r->link.interfaces.v[i]);
}

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
        const char *ports = ledger_get(owned, "ports");
        if (!ports)
                return false;
        size_t n = strlen(port);
        for (const char *p = ports; (p = strstr(p, port)); p += n)
                if ((p == ports || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
                        return true;
        return false;
}

/* A bridge reconcile creates gets a MAC derived from the machine id and its name,
 * locally administered, so it does not follow its ports (see design.md). */
static void bridge_stable_mac(const char *name, unsigned char mac[6]) {
        char id[64] = "";
        int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, id, sizeof(id) - 1) : -1;
        if (fd >= 0)
                close(fd);
        if (n < 32) {
                /* No machine id: a random MAC, kept stable by the ledger from now on. */
                if (getrandom(mac, 6, 0) != 6)
                        memset(mac, 0x42, 6);
        } else {
                uint64_t h = 1469598103934665603ull;
                for (ssize_t i = 0; i < 32; i++)
                        h = (h ^ (unsigned char) id[i]) * 1099511628211ull;
                for (const char *p = "reconcile-bridge:"; *p; p++)
                        h = (h ^ (unsigned char) *p) * 1099511628211ull;
                for (const char *p = name; *p; p++)
                        h = (h ^ (unsigned char) *p) * 1099511628211ull;
                for (int i = 0; i < 6; i++)
                        mac[i] = (unsigned char) (h >> (8 * i));
        }
        mac[0] = (unsigned char) ((mac[0] & 0xfe) | 0x02);
}

static const char *yesno(bool b) {
        return b ? "true" : "false";
}

static int link_diff(void *state, const struct resource *w, const struct resource *live,
                     const struct ledger_entry *owned, struct action *a, struct plan *p) {
        const struct link_spec *want = &w->link, *have = &live->link;
        char from[64], to[64];
        (void) state;
        (void) p;

        if (w->kind == KIND_VLAN) {
                bool parent = strcmp(want->link, have->link) != 0, id = want->vlan_id != have->vlan_id;
                if (parent || id) {
                        a->op = OP_REPLACE;
                        a->reason = xstrdup("cannot change in place");
                        if (id) {
                                snprintf(from, sizeof(from), "%u", have->vlan_id);
                                snprintf(to, sizeof(to), "%u", want->vlan_id);
                                action_add_change(a, LINK_F_ID, "id", from, to);
                        }
                        if (parent)
                                action_add_change(a, LINK_F_LINK, "link", have->link[0] ? have->link : NULL, want->link);
                        return 0;
                }
        }
        if ((w->set & LINK_F_MTU) && want->mtu != have->mtu) {
                snprintf(from, sizeof(from), "%u", have->mtu);
                snprintf(to, sizeof(to), "%u", want->mtu);
                action_add_change(a, LINK_F_MTU, "mtu", from, to);
        }
        const unsigned char *mac = NULL;
        unsigned char ledger_mac[6];
        if (w->set & LINK_F_MAC)
                mac = want->mac;
        else if (w->kind == KIND_BRIDGE && owned && ledger_get(owned, "mac") &&
                 mac_parse(ledger_get(owned, "mac"), ledger_mac) == 0)
                mac = ledger_mac;
        if (mac && memcmp(mac, have->mac, 6) != 0) {
                char f[18], t[18];
                action_add_change(a, LINK_F_MAC, "mac", mac_format(have->mac, f), mac_format(mac, t));
        }
        if (w->kind == KIND_BRIDGE) {
                if (want->stp != have->stp)
                        action_add_change(a, LINK_F_STP, "stp", yesno(have->stp), yesno(want->stp));
                if (want->forward_delay != have->forward_delay) {
                        snprintf(from, sizeof(from), "%u", have->forward_delay);
                        snprintf(to, sizeof(to), "%u", want->forward_delay);
                        action_add_change(a, LINK_F_FORWARD_DELAY, "forward-delay", from, to);
                }
        }
        if (w->set & LINK_F_ADDRESSES) {
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
                        action_add_change(a, LINK_F_ADDRESSES, "address", ipaddr_format(ip, true, buf, sizeof(buf)), NULL);
                }
                for (size_t i = 0; i < want->addresses.n; i++) {
                        const struct ipaddr *ip = &want->addresses.v[i];
                        /* Any live copy counts, tentative included; a dynamic one is made static below. */
                        bool found = false;
                        for (size_t j = 0; j < have->addresses.n && !found; j++)
                                found = ipaddr_equal(&have->addresses.v[j], ip) && addr_static(&have->addresses.v[j]);
                        if (!found)
                                action_add_change(a, LINK_F_ADDRESSES, "address", NULL,
                                                  ipaddr_format(ip, true, buf, sizeof(buf)));
                }
        }
        if (w->kind == KIND_BRIDGE && (w->set & LINK_F_INTERFACES)) {
                for (size_t i = 0; i < want->interfaces.n; i++)
                        if (!str_list_contains(&have->interfaces, want->interfaces.v[i]))
                                action_add_change(a, LINK_F_INTERFACES, "port", NULL, want->interfaces.v[i]);
                for (size_t i = 0; i < have->interfaces.n; i++)
                        if (!str_list_contains(&want->interfaces, have->interfaces.v[i]) &&
                            port_in_ledger(owned, have->interfaces.v[i]))
                                action_add_change(a, LINK_F_INTERFACES, "port", have->interfaces.v[i], NULL);
        }
        if (want->up != have->up)
                action_add_change(a, LINK_F_UP, "up", yesno(have->up), yesno(want->up));
        a->op = OP_UPDATE;
        return 0;
}

static void risk_add(struct action *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void risk_add(struct action *a, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        char *joined = a->risk ? xasprintf("%s; %s", a->risk, msg) : xstrdup(msg);
        free(a->risk);
        a->risk = joined;
}

static void link_assess(void *state, struct action *a, const struct model *live) {
        struct link_state *s = state;
        char buf[64];
        const struct resource *here = a->live;
        if (a->want && a->want->kind == KIND_BRIDGE)
                for (size_t i = 0; i < a->want->link.interfaces.n; i++) {
                        const char *port = a->want->link.interfaces.v[i];
                        const struct resource *pr = model_find(live, KIND_ETHERNET, port);
                        if (!pr || (here && str_list_contains(&here->link.interfaces, port)))
                                continue;
                        for (size_t j = 0; j < pr->link.addresses.n; j++) {
                                const struct ipaddr *ip = &pr->link.addresses.v[j];
                                if (addr_static(ip) && !addr_is_link_local(ip)) {
                                        risk_add(a, "enslaving %s, which carries %s: traffic to that address stops", port,
                                                 ipaddr_format(ip, true, buf, sizeof(buf)));
                                        break;
                                }
                        }
                        if (s->ssh_oif && pr->link.ifindex == s->ssh_oif)
                                risk_add(a, "%s carries this SSH session", port);
                }
        if (!s->ssh_oif || !here || here->link.ifindex != s->ssh_oif)
                return;
        if (a->op == OP_DELETE || a->op == OP_REPLACE)
                risk_add(a, "%s carries the route to this SSH session", a->name);
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if ((c->field == LINK_F_UP && c->to && strcmp(c->to, "false") == 0) ||
                    (c->field == LINK_F_ADDRESSES && !c->to))
                        risk_add(a, "%s carries the route to this SSH session (%s %s)", a->name, c->name,
                                 c->to ? c->to : "removed");
        }
}

/* The interface the kernel would use to answer the SSH client of this session. */
static int ssh_route_oif(struct link_state *s) {
        const char *conn = getenv("SSH_CONNECTION");
        char client[64];
        struct ipaddr dst;
        if (!conn || sscanf(conn, "%63s", client) != 1 || ipaddr_parse(client, false, &dst) < 0)
                return 0;
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETROUTE, 0);
        struct rtmsg rtm = { .rtm_family = (unsigned char) dst.family, .rtm_dst_len = (unsigned char) dst.prefix };
        if (!msg || nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
            nla_put(msg, RTA_DST, dst.family == AF_INET ? 4 : 16, dst.a) < 0) {
                nlmsg_free(msg);
                return 0;
        }
        int oif = 0;
        if (nl_send_auto(s->sk, msg) >= 0) {
                unsigned char *buf = NULL;
                struct sockaddr_nl peer;
                int n = nl_recv(s->sk, &peer, &buf, NULL);
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

/* RTM_NEWLINK for an existing link (ifindex > 0) or a new one (ifindex 0, kind set). */
struct link_req {
        int ifindex;
        const char *name;
        const char *kind; /* "bridge", "vlan", or NULL for a change */
        uint32_t mtu;     /* 0 = unchanged */
        const unsigned char *mac;
        int up;           /* -1 unchanged */
        int master;       /* -1 unchanged, 0 release */
        int parent;       /* VLAN parent ifindex */
        int vlan_id;
        int stp;          /* -1 unchanged */
        int64_t forward_delay_cs; /* -1 unchanged */
};

static int link_send(struct link_state *s, const struct link_req *q) {
        int flags = q->ifindex ? 0 : NLM_F_CREATE | NLM_F_EXCL;
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, flags);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = q->ifindex };
        if (!msg)
                return -ENOMEM;
        if (q->up >= 0) {
                ifi.ifi_change = IFF_UP;
                ifi.ifi_flags = q->up ? IFF_UP : 0;
        }
        int r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
        if (r >= 0 && !q->ifindex)
                r = nla_put_string(msg, IFLA_IFNAME, q->name);
        if (r >= 0 && q->mtu)
                r = nla_put_u32(msg, IFLA_MTU, q->mtu);
        if (r >= 0 && q->mac)
                r = nla_put(msg, IFLA_ADDRESS, 6, q->mac);
        if (r >= 0 && q->master >= 0)
                r = nla_put_u32(msg, IFLA_MASTER, (uint32_t) q->master);
        if (r >= 0 && q->parent)
                r = nla_put_u32(msg, IFLA_LINK, (uint32_t) q->parent);
        bool bridge_data = q->stp >= 0 || q->forward_delay_cs >= 0;
        if (r >= 0 && (q->kind || bridge_data)) {
                struct nlattr *info = nla_nest_start(msg, IFLA_LINKINFO);
                r = info ? nla_put_string(msg, IFLA_INFO_KIND, q->kind ? q->kind : "bridge") : -ENOMEM;
                if (r >= 0 && (bridge_data || q->vlan_id)) {
                        struct nlattr *data = nla_nest_start(msg, IFLA_INFO_DATA);
                        if (!data)
                                r = -ENOMEM;
                        if (r >= 0 && q->vlan_id)
                                r = nla_put_u16(msg, IFLA_VLAN_ID, (uint16_t) q->vlan_id);
                        if (r >= 0 && q->forward_delay_cs >= 0)
                                r = nla_put_u32(msg, IFLA_BR_FORWARD_DELAY, (uint32_t) q->forward_delay_cs);
                        if (r >= 0 && q->stp >= 0)
                                r = nla_put_u32(msg, IFLA_BR_STP_STATE, (uint32_t) q->stp);
                        if (r >= 0)
                                nla_nest_end(msg, data);
                }
                if (r >= 0)
                        nla_nest_end(msg, info);
        }
        if (r < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        return nl_talk(s, msg);
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
        r = nl_talk(s, msg);
        /* keepalived's rule: a present address on add, an absent one on delete, are done. */
        if ((add && r == -EEXIST) || (!add && r == -EADDRNOTAVAIL))
                r = 0;
        return r;
}

static int fail(struct link_state *s, const struct action *a, int r, const char *what) {
        return diag_res(r, kind_to_string(a->kind), a->name, "%s: %s", what, kernel_says(s, r));
}

static int apply_addresses(struct link_state *s, const struct action *a, int ifindex, bool all_new) {
        char buf[64];
        /* Removals first, so that a changed prefix on the same address does not collide. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < a->n_changes; i++) {
                        const struct change *c = &a->changes[i];
                        if (c->field != LINK_F_ADDRESSES || (pass == 0) != (c->to == NULL))
                                continue;
                        struct ipaddr ip;
                        if (ipaddr_parse(c->to ? c->to : c->from, true, &ip) < 0)
                                continue;
                        int r = addr_send(s, ifindex, &ip, c->to != NULL);
                        if (r < 0)
                                return fail(s, a, r, c->to ? "adding address" : "removing address");
                }
        if (all_new && a->want && (a->want->set & LINK_F_ADDRESSES))
                for (size_t i = 0; i < a->want->link.addresses.n; i++) {
                        int r = addr_send(s, ifindex, &a->want->link.addresses.v[i], true);
                        if (r < 0) {
                                char what[96];
                                snprintf(what, sizeof(what), "adding address %s",
                                         ipaddr_format(&a->want->link.addresses.v[i], true, buf, sizeof(buf)));
                                return fail(s, a, r, what);
                        }
                }
        return 0;
}

static int set_master(struct link_state *s, const struct action *a, const char *port, int master) {
        int pidx = ifindex_of(s, port);
        if (pidx <= 0)
                return diag_res(-ENODEV, kind_to_string(a->kind), a->name, "port %s does not exist", port);
        struct link_req q = { .ifindex = pidx, .mtu = 0, .up = -1, .master = master, .stp = -1, .forward_delay_cs = -1 };
        int r = link_send(s, &q);
        if (r < 0)
                return fail(s, a, r, master ? "enslaving a port" : "releasing a port");
        return 0;
}

static void record_ports(struct ledger *l, struct ledger_entry *e, const struct resource *w) {
        if (!e || !w || w->kind != KIND_BRIDGE || !(w->set & LINK_F_INTERFACES))
                return;
        size_t len = 1;
        for (size_t i = 0; i < w->link.interfaces.n; i++)
                len += strlen(w->link.interfaces.v[i]) + 1;
        _cleanup_free_ char *ports = xcalloc(1, len);
        for (size_t i = 0; i < w->link.interfaces.n; i++) {
                if (i)
                        strcat(ports, ",");
                strcat(ports, w->link.interfaces.v[i]);
        }
        ledger_set(l, e, "ports", w->link.interfaces.n ? ports : NULL);
}

static int link_create(struct link_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        const struct resource *w = a->want;
        const struct link_spec *want = &w->link;
        unsigned char mac[6];
        char macbuf[18];
        struct link_req q = { .name = w->name, .up = 0, .master = -1, .stp = -1, .forward_delay_cs = -1 };
        q.kind = w->kind == KIND_BRIDGE ? "bridge" : "vlan";
        if (w->set & LINK_F_MTU)
                q.mtu = want->mtu;
        if (w->set & LINK_F_MAC)
                q.mac = want->mac;
        if (w->kind == KIND_BRIDGE) {
                if (!(w->set & LINK_F_MAC)) {
                        const char *old = ledger_get(e, "mac");
                        if (!old || mac_parse(old, mac) < 0)
                                bridge_stable_mac(w->name, mac);
                        q.mac = mac;
                        ledger_set(l, e, "mac", mac_format(mac, macbuf));
                }
                q.stp = want->stp;
                q.forward_delay_cs = (int64_t) want->forward_delay * 100;
        } else {
                q.parent = ifindex_of(s, want->link);
                q.vlan_id = (int) want->vlan_id;
                if (q.parent <= 0)
                        return diag_res(-ENODEV, "vlan", w->name, "parent %s does not exist", want->link);
        }
        int r = link_send(s, &q);
        if (r < 0)
                return fail(s, a, r, "creating");
        int ifindex = ifindex_of(s, w->name);
        if (ifindex <= 0)
                return diag_res(-ENODEV, kind_to_string(w->kind), w->name, "created, but not found afterwards");
        r = apply_addresses(s, a, ifindex, true);
        if (r < 0)
                return r;
        for (size_t i = 0; w->kind == KIND_BRIDGE && i < want->interfaces.n; i++) {
                r = set_master(s, a, want->interfaces.v[i], ifindex);
                if (r < 0)
                        return r;
        }
        record_ports(l, e, w);
        if (want->up) {
                struct link_req up = { .ifindex = ifindex, .up = 1, .master = -1, .stp = -1, .forward_delay_cs = -1 };
                r = link_send(s, &up);
                if (r == -ENETDOWN && w->kind == KIND_VLAN)
                        return diag_res(r, "vlan", w->name,
                                        "setting up: %s; its parent %s is down: declare it under ethernets "
                                        "(up: true is the default) or bring it up",
                                        kernel_says(s, r), want->link);
                if (r < 0)
                        return fail(s, a, r, "setting up");
        }
        return 0;
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
        int r = nl_talk(s, msg);
        if (r == -ENODEV)
                r = 0;
        return r < 0 ? fail(s, a, r, "deleting") : 0;
}

static int link_update(struct link_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        const struct resource *w = a->want;
        int ifindex = a->live->link.ifindex;
        struct link_req q = { .ifindex = ifindex, .up = -1, .master = -1, .stp = -1, .forward_delay_cs = -1 };
        unsigned char mac[6];
        bool attrs = false, bring_up = false, take_down = false;
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                switch (c->field) {
                case LINK_F_MTU:
                        q.mtu = w->link.mtu;
                        attrs = true;
                        break;
                case LINK_F_MAC:
                        if (mac_parse(c->to, mac) == 0) {
                                q.mac = mac;
                                attrs = true;
                        }
                        break;
                case LINK_F_STP:
                        q.stp = w->link.stp;
                        attrs = true;
                        break;
                case LINK_F_FORWARD_DELAY:
                        q.forward_delay_cs = (int64_t) w->link.forward_delay * 100;
                        attrs = true;
                        break;
                case LINK_F_UP:
                        if (w->link.up)
                                bring_up = true;
                        else
                                take_down = true;
                        break;
                default:
                        break;
                }
        }
        if (take_down) {
                struct link_req d = { .ifindex = ifindex, .up = 0, .master = -1, .stp = -1, .forward_delay_cs = -1 };
                int r = link_send(s, &d);
                if (r < 0)
                        return fail(s, a, r, "setting down");
        }
        if (attrs) {
                int r = link_send(s, &q);
                if (r < 0)
                        return fail(s, a, r, "changing");
        }
        int r = apply_addresses(s, a, ifindex, false);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if (c->field != LINK_F_INTERFACES)
                        continue;
                if (c->to)
                        r = set_master(s, a, c->to, ifindex);
                else if (ifindex_of(s, c->from) > 0)
                        r = set_master(s, a, c->from, 0);
                if (r < 0)
                        return r;
        }
        record_ports(l, e, w);
        if (bring_up) {
                struct link_req u = { .ifindex = ifindex, .up = 1, .master = -1, .stp = -1, .forward_delay_cs = -1 };
                r = link_send(s, &u);
                if (r < 0)
                        return fail(s, a, r, "setting up");
        }
        return 0;
}

static int link_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct link_state *s = state;
        int r;
        switch (a->op) {
        case OP_CREATE:
                return link_create(s, a, l, e);
        case OP_DELETE:
                return link_delete(s, a);
        case OP_REPLACE:
                /* The new link takes the old one's place in its bridge. */
                r = link_delete(s, a);
                if (r >= 0)
                        r = link_create(s, a, l, e);
                if (r >= 0 && a->live->link.master[0]) {
                        int master = ifindex_of(s, a->live->link.master);
                        if (master > 0)
                                r = set_master(s, a, a->name, master);
                }
                return r;
        case OP_UPDATE:
        case OP_ADOPT:
                return link_update(s, a, l, e);
        default:
                return -EINVAL;
        }
}

/* One RTM_GETLINK by name: the index of a link made earlier in this run. */
struct one_link { int ifindex; };
static int on_one_link(struct nl_msg *m, void *arg) {
        struct one_link *o = arg;
        struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(m));
        if (nlmsg_hdr(m)->nlmsg_type == RTM_NEWLINK)
                o->ifindex = ifi->ifi_index;
        return NL_OK;
}

static int ifindex_of(struct link_state *s, const char *name) {
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        struct one_link o = { 0 };
        if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_string(msg, IFLA_IFNAME, name) < 0 || nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        int r = nl_talk_cb(s, msg, on_one_link, &o);
        if (r < 0 && r != -ENODEV)
                return r;
        return o.ifindex;
}

/* Link and address notifications of the namespace: the daemon's drift signal. */
static int link_watch_open(const struct backend_ctx *ctx) {
        int saved, r = netns_enter(ctx->netns, &saved);
        if (r < 0)
                return r;
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
        r = fd < 0 ? -errno : 0;
        netns_leave(&saved);
        if (r < 0)
                return diag_plain(r, "link backend: cannot open a netlink monitor: %s", strerror(-r));
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
                                  .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR };
        int size = 1 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return diag_plain(r, "link backend: cannot join the link groups: %s", strerror(-r));
        }
        return fd;
}

static int link_watch_drain(int fd) {
        char buf[16384];
        int n = 0;
        for (;;) {
                ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (len < 0 && errno == EINTR)
                        continue;
                if (len < 0 && errno == ENOBUFS) {
                        n++; /* events were lost: that alone calls for a run */
                        continue;
                }
                if (len <= 0)
                        break;
                /* Count messages, not bytes: each one may be a change to react to. */
                for (char *p = buf; p + NLMSG_HDRLEN <= buf + len;) {
                        const struct nlmsghdr *h = (const struct nlmsghdr *) p;
                        if (h->nlmsg_len < NLMSG_HDRLEN || p + h->nlmsg_len > buf + len)
                                break;
                        n++;
                        p += NLMSG_ALIGN(h->nlmsg_len);
                }
        }
        return n;
}

const struct backend link_backend = {
        .name = "link",
        .scope = SCOPE_NETNS,
        .kinds = 1u << KIND_ETHERNET | 1u << KIND_BRIDGE | 1u << KIND_VLAN,
        .open = link_open,
        .close = link_close,
        .observe = link_observe,
        .deps = link_deps,
        .diff = link_diff,
        .assess = link_assess,
        .apply = link_apply,
        .watch_open = link_watch_open,
        .watch_drain = link_watch_drain,
};
