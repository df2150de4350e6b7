/* Routes through rtnetlink, the requests built by libnl-route-3. A route is
 * known by (table, destination, metric); what differs under the same key is
 * changed with one NLM_F_REPLACE, so the destination never loses its route.
 * Routes reconcile did not make, the kernel's connected ones included, are
 * never removed: only ledger entries are. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

struct route_state {
        struct rtnl nl;
        struct ipaddr ssh_client; /* family 0 when not under SSH or in another namespace */
};

/* enum route_type <-> RTN_*, enum route_scope <-> RT_SCOPE_*. */
static const unsigned char rtn_of[_ROUTE_TYPE_MAX] = { RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT };
static const unsigned char scope_of_enum[_RSCOPE_MAX] = { RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST };

static const char *table_name(uint32_t t, char *buf, size_t size) {
        if (t == RT_TABLE_MAIN)
                return "main";
        if (t == RT_TABLE_DEFAULT)
                return "default";
        snprintf(buf, size, "%u", t);
        return buf;
}

/* "0.0.0.0/0 table main metric 100": the kernel's key of a route, as the ledger keeps it. */
static const char *route_key(const struct ipaddr *to, uint32_t table, uint32_t metric, char *buf, size_t size) {
        char dst[64], tb[16];
        snprintf(buf, size, "%s table %s metric %u", ipaddr_format(to, true, dst, sizeof(dst)),
                 table_name(table, tb, sizeof(tb)), metric);
        return buf;
}

static const char *route_identity(const struct resource *w, char *buf, size_t size) {
        return route_key(&w->route.to, w->route.table, w->route.metric, buf, size);
}

/* The scope the kernel would record: `ip route` gives a gateway-less unicast
 * route scope link; IPv6 routes always read back as global. */
static int effective_scope(const struct resource *w) {
        if (w->route.to.family == AF_INET6)
                return RSCOPE_GLOBAL;
        if (w->set & ROUTE_F_SCOPE)
                return w->route.scope;
        return w->route.type == ROUTE_UNICAST && !(w->set & ROUTE_F_VIA) ? RSCOPE_LINK : RSCOPE_GLOBAL;
}

/* ---- observe ---- */

struct names {
        char (*v)[IFNAME_MAX];
        size_t n;
};

static int on_link_name(struct nl_msg *m, void *arg) {
        struct names *o = arg;
        struct ifinfomsg *ifi = nlmsg_data(nlmsg_hdr(m));
        struct nlattr *tb[IFLA_MAX + 1];
        if (nlmsg_hdr(m)->nlmsg_type != RTM_NEWLINK || nlmsg_parse(nlmsg_hdr(m), sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 ||
            !tb[IFLA_IFNAME] || ifi->ifi_index <= 0)
                return NL_OK;
        if ((size_t) ifi->ifi_index >= o->n) {
                size_t n = o->n ? o->n : 64;
                while (n <= (size_t) ifi->ifi_index)
                        n *= 2;
                o->v = realloc(o->v, n * sizeof(*o->v));
                if (!o->v)
                        abort();
                memset(o->v + o->n, 0, (n - o->n) * sizeof(*o->v));
                o->n = n;
        }
        snprintf(o->v[ifi->ifi_index], IFNAME_MAX, "%s", nla_get_string(tb[IFLA_IFNAME]));
        return NL_OK;
}

struct route_observe {
        struct model *live;
        struct names *names;
};

static int on_route(struct nl_msg *m, void *arg) {
        struct route_observe *o = arg;
        struct nlmsghdr *nlh = nlmsg_hdr(m);
        struct rtmsg *rtm = nlmsg_data(nlh);
        struct nlattr *tb[RTA_MAX + 1];
        if (nlh->nlmsg_type != RTM_NEWROUTE || nlmsg_parse(nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
                return NL_OK;
        if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) || (rtm->rtm_flags & RTM_F_CLONED))
                return NL_OK;
        uint32_t table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
        int type = -1;
        for (int t = 0; t < _ROUTE_TYPE_MAX; t++)
                if (rtn_of[t] == rtm->rtm_type)
                        type = t;
        if (table == RT_TABLE_LOCAL || type < 0)
                return NL_OK; /* local, broadcast, multicast: the kernel's own */
        struct route_spec rt = { .table = table, .type = type };
        unsigned len = rtm->rtm_family == AF_INET ? 4 : 16;
        rt.to.family = rtm->rtm_family;
        rt.to.prefix = rtm->rtm_dst_len;
        if (tb[RTA_DST] && nla_len(tb[RTA_DST]) == (int) len)
                memcpy(rt.to.a, nla_data(tb[RTA_DST]), len);
        rt.metric = tb[RTA_PRIORITY] ? nla_get_u32(tb[RTA_PRIORITY]) : 0;
        uint64_t set = ROUTE_F_TO | ROUTE_F_METRIC | ROUTE_F_TABLE | ROUTE_F_TYPE | ROUTE_F_SCOPE;
        if (tb[RTA_GATEWAY] && nla_len(tb[RTA_GATEWAY]) == (int) len) {
                rt.via.family = rtm->rtm_family;
                rt.via.prefix = len * 8;
                memcpy(rt.via.a, nla_data(tb[RTA_GATEWAY]), len);
                set |= ROUTE_F_VIA;
        }
        if (tb[RTA_OIF]) {
                uint32_t oif = nla_get_u32(tb[RTA_OIF]);
                if (oif < o->names->n && o->names->v[oif][0]) {
                        snprintf(rt.dev, sizeof(rt.dev), "%s", o->names->v[oif]);
                        set |= ROUTE_F_DEV;
                }
        }
        rt.scope = rtm->rtm_scope == RT_SCOPE_LINK ? RSCOPE_LINK : rtm->rtm_scope == RT_SCOPE_HOST ? RSCOPE_HOST
                                                                                                  : RSCOPE_GLOBAL;
        char key[128];
        struct resource *r = resource_new(KIND_ROUTE, route_key(&rt.to, table, rt.metric, key, sizeof(key)));
        r->route = rt;
        r->set = set;
        r->route.protocol = rtm->rtm_protocol;
        if (model_add(o->live, r) < 0)
                resource_free(r); /* multipath duplicates of one key: the first one speaks */
        return NL_OK;
}

static int route_observe_once(void *state, struct model *live) {
        struct route_state *s = state;
        struct names names = { 0 };
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
        struct route_observe o = { live, &names };
        int r = rtnl_dump(&s->nl, RTM_GETLINK, &ifi, sizeof(ifi), on_link_name, &names);
        if (r >= 0)
                r = rtnl_dump(&s->nl, RTM_GETROUTE, &rtm, sizeof(rtm), on_route, &o);
        free(names.v);
        return r;
}

static int route_observe(void *state, const struct str_list *wanted, struct model *live) {
        struct route_state *s = state;
        (void) wanted;
        int r = rtnl_observe(live, route_observe_once, s);
        if (r < 0)
                return diag_plain(r, "route backend: cannot read routes%s%s: %s", s->nl.netns[0] ? " in netns " : "",
                                  s->nl.netns, strerror(-r));
        return 0;
}

/* ---- open, deps, diff ---- */

static int route_open(const struct backend_ctx *ctx, void **state) {
        struct route_state *s = xcalloc(1, sizeof(*s));
        int r = rtnl_open(&s->nl, ctx->netns, "route");
        if (r < 0) {
                free(s);
                return r;
        }
        if (!ctx->netns)
                (void) ssh_client_address(&s->ssh_client); /* none: nothing to protect */
        *state = s;
        return 0;
}

static void route_close(void *state) {
        struct route_state *s = state;
        if (!s)
                return;
        rtnl_close(&s->nl);
        free(s);
}

static void route_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->route.dev[0])
                add(u, KIND_ETHERNET, r->route.dev);
        else if (r->route.via_dev[0])
                add(u, KIND_ETHERNET, r->route.via_dev);
}

static int route_diff(void *state, const struct resource *w, const struct resource *live,
                      const struct ledger_entry *owned, struct action *a, struct plan *p) {
        const struct route_spec *want = &w->route, *have = &live->route;
        (void) state;
        (void) owned;
        (void) p;
        a->op = OP_UPDATE;
        if (want->type != have->type)
                action_add_change(a, ROUTE_F_TYPE, "type", value_word(&route_type_table, have->type),
                                  value_word(&route_type_table, want->type));
        bool via_w = w->set & ROUTE_F_VIA, via_h = live->set & ROUTE_F_VIA;
        if (via_w != via_h || (via_w && !ipaddr_equal(&want->via, &have->via)))
                action_add_change(a, ROUTE_F_VIA, "via", via_h ? value_addr(&have->via) : VALUE_NONE,
                                  via_w ? value_addr(&want->via) : VALUE_NONE);
        /* Without dev the kernel picks the device of the gateway: whatever it picked is right. */
        if ((w->set & ROUTE_F_DEV) && strcmp(want->dev, have->dev) != 0)
                action_add_change(a, ROUTE_F_DEV, "dev", value_text(have->dev), value_text(want->dev));
        if (effective_scope(w) != have->scope)
                action_add_change(a, ROUTE_F_SCOPE, "scope", value_word(&route_scope_table, have->scope),
                                  value_word(&route_scope_table, effective_scope(w)));
        /* A new device may be one this plan makes after deleting the old one (a
         * renamed bridge): then the route is gone in between, and the plan's
         * delete of that link says so. */
        if (a->n_changes)
                a->reason = xstrdup((w->set & ROUTE_F_DEV) && strcmp(want->dev, have->dev) != 0
                                            ? "in one NLM_F_REPLACE once the new device is there"
                                            : "in one NLM_F_REPLACE: the destination keeps a route throughout");
        return 0;
}

/* The route this SSH session's replies take: the longest live prefix of the
 * main table holding the client. Deleting or rerouting it is flagged. */
static void route_assess(void *state, struct action *a, const struct model *live) {
        struct route_state *s = state;
        const struct resource *here = a->live;
        bool touches = a->op == OP_DELETE || a->n_changes > 0;
        if (!s || !s->ssh_client.family || !here || !touches || here->route.table != RT_TABLE_MAIN ||
            !ipaddr_in_subnet(&here->route.to, &s->ssh_client))
                return;
        for (size_t i = 0; i < live->n; i++) {
                const struct resource *o = live->v[i];
                if (o->kind == KIND_ROUTE && o != here && o->route.table == RT_TABLE_MAIN &&
                    o->route.to.prefix > here->route.to.prefix && ipaddr_in_subnet(&o->route.to, &s->ssh_client))
                        return; /* a more specific route carries it */
        }
        char buf[64];
        free(a->risk);
        a->risk = xasprintf("route %s carries the replies to this SSH session (client %s)", a->key,
                            ipaddr_format(&s->ssh_client, false, buf, sizeof(buf)));
}

/* ---- apply ---- */

static struct nl_addr *addr_of(const struct ipaddr *ip) {
        struct nl_addr *a = nl_addr_build(ip->family, ip->a, ip->family == AF_INET ? 4 : 16);
        if (a)
                nl_addr_set_prefixlen(a, (int) ip->prefix);
        return a;
}

/* The request for the route r describes; libnl-route-3 lays out the message. */
static int route_build(struct route_state *s, const struct resource *r, bool add, struct nl_msg **msg) {
        const struct route_spec *rt = &r->route;
        struct rtnl_route *route = rtnl_route_alloc();
        struct nl_addr *dst = addr_of(&rt->to), *gw = NULL;
        int ret = route && dst ? 0 : -ENOMEM;
        if (ret == 0) {
                rtnl_route_set_family(route, (uint8_t) rt->to.family);
                rtnl_route_set_table(route, rt->table);
                rtnl_route_set_dst(route, dst);
                rtnl_route_set_priority(route, rt->metric);
                /* A delete matches any protocol (libnl's default is static): the route may be an operator's. */
                rtnl_route_set_protocol(route, add ? RTPROT_STATIC : RTPROT_UNSPEC);
                rtnl_route_set_type(route, rtn_of[rt->type]);
                rtnl_route_set_scope(route, add ? scope_of_enum[effective_scope(r)] : RT_SCOPE_NOWHERE);
        }
        if (ret == 0 && add && rt->type == ROUTE_UNICAST) {
                struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
                if (!nh)
                        ret = -ENOMEM;
                if (ret == 0 && (r->set & ROUTE_F_VIA)) {
                        gw = addr_of(&rt->via);
                        if (gw)
                                rtnl_route_nh_set_gateway(nh, gw);
                        else
                                ret = -ENOMEM;
                }
                if (ret == 0 && (r->set & ROUTE_F_DEV)) {
                        int ifindex = rtnl_ifindex(&s->nl, rt->dev);
                        if (ifindex <= 0)
                                ret = -ENODEV;
                        else
                                rtnl_route_nh_set_ifindex(nh, ifindex);
                }
                if (ret == 0)
                        rtnl_route_add_nexthop(route, nh);
                else if (nh)
                        rtnl_route_nh_free(nh);
        }
        if (ret == 0) {
                int x = add ? rtnl_route_build_add_request(route, NLM_F_CREATE | NLM_F_REPLACE, msg)
                            : rtnl_route_build_del_request(route, 0, msg);
                ret = x < 0 ? -EINVAL : 0;
        }
        if (gw)
                nl_addr_put(gw);
        if (dst)
                nl_addr_put(dst);
        if (route)
                rtnl_route_put(route);
        return ret;
}

static int route_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct route_state *s = state;
        struct nl_msg *msg = NULL;
        bool add = a->op != OP_DELETE;
        int r = route_build(s, add ? a->want : a->live, add, &msg);
        if (r == -ENODEV)
                return diag_res(r, "route", a->name, "device %s does not exist", a->want->route.dev);
        if (r < 0)
                return diag_res(r, "route", a->name, "cannot build the request: %s", strerror(-r));
        r = rtnl_talk(&s->nl, msg, NULL, NULL);
        if (!add && r == -ESRCH)
                r = 0; /* gone already, with its device */
        if (r < 0)
                return diag_res(r, "route", a->name, "%s: %s", add ? "adding" : "deleting", rtnl_says(&s->nl, r));
        /* A route that existed before (the kernel's connected route, an operator's) is
         * never removed by leaving the manifests; state: absent still removes it. */
        if (a->op == OP_ADOPT)
                ledger_set(l, e, "keep", "1");
        return 0;
}

/* A route deleted or changed behind our back is drift the daemon repairs. */
static int route_watch_open(const struct backend_ctx *ctx, void **watch) {
        *watch = NULL;
        return rtnl_watch_open(ctx->netns, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE, "route");
}

const struct backend route_backend = {
        .name = "route",
        .scope = SCOPE_NETNS,
        .open = route_open,
        .close = route_close,
        .observe = route_observe,
        .delete_last = true,
        .watch_open = route_watch_open,
        .watch_drain = rtnl_watch_drain,
};

/* ---- the route kind: keys, checks, show ---- */

/* "default", a network (host bits clear) or a bare address (a host route). */
static int parse_route_to(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        struct route_spec *rt = &((struct resource *) base)->route;
        if (s && strcmp(s, "default") == 0) {
                memset(&rt->to, 0, sizeof(rt->to));
                rt->to.family = AF_INET;
                rt->to_default = true;
                return 0;
        }
        if (field_ipaddr(f->key, s, s && strchr(s, '/'), &rt->to, err, err_size) < 0)
                return -EINVAL;
        unsigned bytes = rt->to.family == AF_INET ? 4 : 16;
        for (unsigned i = 0; i < bytes * 8; i++)
                if (i >= rt->to.prefix && (rt->to.a[i / 8] & (0x80 >> (i % 8)))) {
                        snprintf(err, err_size, "%s: \"%.64s\" has host bits set beyond /%u", f->key, s, rt->to.prefix);
                        return -EINVAL;
                }
        rt->to_default = false;
        return 0;
}

/* A table by number or as iproute2 names the two a manifest may use. */
static int parse_route_table(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        static const struct { const char *name; uint32_t id; } names[] = { { "main", 254 }, { "default", 253 } };
        uint32_t *out = (uint32_t *) ((char *) base + f->offset);
        for (size_t i = 0; s && i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i].name) == 0) {
                        *out = names[i].id;
                        return 0;
                }
        if (s && strcmp(s, "local") == 0) {
                snprintf(err, err_size, "%s: the local table belongs to the kernel", f->key);
                return -EINVAL;
        }
        char *end;
        errno = 0;
        unsigned long long v = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
        if (!s || !(*s >= '0' && *s <= '9') || *end) {
                snprintf(err, err_size, "%s: expected an integer%s%.64s%s", f->key, s ? ", got \"" : "", s ? s : "",
                         s ? "\"" : "");
                return -EINVAL;
        }
        if (errno || v > (unsigned long long) f->max || (int64_t) v < f->min) {
                snprintf(err, err_size, "%s %.32s out of range %lld..%lld", f->key, s, (long long) f->min,
                         (long long) f->max);
                return -EINVAL;
        }
        *out = (uint32_t) v;
        return 0;
}

static const struct field route_fields[] = {
        { "to", FT_CUSTOM, 0, 0, 0, ROUTE_F_TO, NULL, NULL, parse_route_to },
        { "via", FT_IPADDR, R(route.via), 0, 0, ROUTE_F_VIA, NULL, NULL, NULL },
        { "dev", FT_IFNAME, R(route.dev), 0, 0, ROUTE_F_DEV, NULL, NULL, NULL },
        { "metric", FT_U32, R(route.metric), 0, UINT32_MAX, ROUTE_F_METRIC, NULL, NULL, NULL },
        { "table", FT_CUSTOM, R(route.table), 1, UINT32_MAX, ROUTE_F_TABLE, NULL, NULL, parse_route_table },
        { "scope", FT_ENUM, R(route.scope), 0, 0, ROUTE_F_SCOPE, &route_scope_table, NULL, NULL },
        { "type", FT_ENUM, R(route.type), 0, 0, ROUTE_F_TYPE, &route_type_table, NULL, NULL },
        STATE_FIELD(state_table),
};

static void route_defaults(struct resource *r) {
        r->route.table = 254; /* main */
}

/* show names routes by their key: "10.0.0.0/8 table main metric 0". */
static bool route_name_valid(const char *s) {
        return *s && strlen(s) < 200 && xml_safe(s);
}

static int route_check(struct check_ctx *c, struct resource *r) {
        struct route_spec *rt = &r->route;
        if (!(r->set & ROUTE_F_TO))
                return check_error(c, 0, "route %s needs to (a network or default)", r->name);
        if (rt->to_default && (r->set & ROUTE_F_VIA) && rt->via.family == AF_INET6)
                rt->to.family = AF_INET6;
        if ((r->set & ROUTE_F_VIA) && rt->via.family != rt->to.family)
                return check_error(c, 0, "route %s: via and to are of different address families", r->name);
        if (rt->type == ROUTE_UNICAST && !(r->set & (ROUTE_F_VIA | ROUTE_F_DEV)))
                return check_error(c, 0, "route %s needs via or dev", r->name);
        if (rt->type != ROUTE_UNICAST && (r->set & (ROUTE_F_VIA | ROUTE_F_DEV)))
                return check_error(c, 0, "route %s: a %s route takes neither via nor dev", r->name,
                                   enum_to_string(&route_type_table, rt->type));
        if (!(r->set & ROUTE_F_METRIC) && rt->to.family == AF_INET6)
                rt->metric = 1024; /* what the kernel gives an IPv6 route without one */
        return 0;
}

/* A gateway without dev is reached over the declared link whose subnet holds it. */
static int route_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        const char *owner;
        if ((r->set & ROUTE_F_VIA) && !(r->set & ROUTE_F_DEV) && (owner = link_address_owner(declared, &r->route.via, false)))
                snprintf(r->route.via_dev, sizeof(r->route.via_dev), "%s", owner);
        return 0;
}

/* The kernel's connected and router-advertised routes are its own: not shown. */
static enum kind route_show_as(const struct resource *r, const struct show_ctx *s) {
        (void) s;
        return r->route.protocol != RTPROT_KERNEL && r->route.protocol != RTPROT_RA ? r->kind : _KIND_INVALID;
}

static void route_show_key(struct yw *w, const struct resource *r) {
        const struct route_spec *rt = &r->route;
        char buf[64];
        yw_str(w, r->name);
        yw_map(w, false);
        if (rt->to.prefix == 0 && rt->to.family == AF_INET)
                yw_kv_word(w, "to", "default");
        else
                yw_kv_str(w, "to", ipaddr_format(&rt->to, true, buf, sizeof(buf)));
        yw_kv_uint(w, "metric", rt->metric);
        yw_kv_uint(w, "table", rt->table);
}

static void route_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct route_spec *rt = &r->route;
        char buf[64];
        (void) s;
        yw_entry_begin(w);
        route_show_key(w, r);
        if (r->set & ROUTE_F_VIA)
                yw_kv_str(w, "via", ipaddr_format(&rt->via, false, buf, sizeof(buf)));
        if (r->set & ROUTE_F_DEV)
                yw_kv_name(w, "dev", rt->dev);
        if (rt->to.family == AF_INET)
                yw_kv_word(w, "scope", enum_to_string(&route_scope_table, rt->scope));
        yw_kv_word(w, "type", enum_to_string(&route_type_table, rt->type));
        yw_end_map(w);
        yw_entry_end(w, r);
}

const struct kind_ops route_kind = {
        .word = "route",
        .section = "routes",
        .backend = &route_backend,
        .deps = route_deps,
        .diff = route_diff,
        .identity = route_identity,
        .assess = route_assess,
        .apply = route_apply,
        .dep_role = "device",
        .flags = KF_REVERTIBLE,
        .show_rank = 9,
        .fields = route_fields,
        .n_fields = ELEMENTSOF(route_fields),
        .defaults = route_defaults,
        .name_valid = route_name_valid,
        .name_error = "bad route name \"%.64s\": no '/', <>&'\" or control characters",
        .check = route_check,
        .validate = route_validate,
        .validate_phases = 1u << 2,
        .show = route_show,
        .show_key = route_show_key,
        .show_as = route_show_as,
};
