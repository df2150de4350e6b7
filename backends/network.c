/* libvirt networks: nat, route and isolated networks that make their own
 * bridge, and networks over a host bridge or a macvtap device. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kind.h"

#define D(member) offsetof(struct dhcp_range, member)
static const struct field dhcp_fields[] = {
        { "start", FT_IPADDR, D(start), 0, 0, 0, NULL, "dhcp start", NULL },
        { "end", FT_IPADDR, D(end), 0, 0, 0, NULL, "dhcp end", NULL },
};
static const struct sub_table dhcp_sub = { dhcp_fields, ELEMENTSOF(dhcp_fields), 0, 0, 0, 0, "dhcp" };

#define PG(member) offsetof(struct portgroup_spec, member)
static const struct field portgroup_fields[] = {
        { "name", FT_WORD, PG(name), 0, 64, PG_F_NAME, NULL, "portgroup name", NULL },
        { "tag", FT_U32, PG(vlan_tag), 1, 4094, PG_F_TAG, NULL, "VLAN tag", NULL },
};
static const struct sub_table portgroup_sub = {
        portgroup_fields, ELEMENTSOF(portgroup_fields), sizeof(struct portgroup_spec), PG(pos), PG(set),
        offsetof(struct network_spec, n_portgroups) - offsetof(struct network_spec, portgroups), "portgroup"
};

static const struct field network_fields[] = {
        { "mode", FT_ENUM, R(network.mode), 0, 0, NET_F_MODE, &net_mode_table, NULL, NULL },
        { "bridge", FT_IFNAME, R(network.bridge), 0, 0, NET_F_BRIDGE, NULL, NULL, NULL },
        { "dev", FT_IFNAME, R(network.dev), 0, 0, NET_F_DEV, NULL, NULL, NULL },
        { "macvtap-mode", FT_ENUM, R(network.macvtap_mode), 0, 0, NET_F_MACVTAP_MODE, &macvtap_mode_table, NULL, NULL },
        { "address", FT_IPADDR, R(network.address), 1, 0, NET_F_ADDRESS, NULL, NULL, NULL },
        { "dhcp", FT_OBJ, R(network.dhcp), 0, 0, NET_F_DHCP, &dhcp_sub, NULL, NULL },
        { "autostart", FT_BOOL, R(network.autostart), 0, 0, NET_F_AUTOSTART, NULL, NULL, NULL },
        { "active", FT_BOOL, R(network.active), 0, 0, NET_F_ACTIVE, NULL, NULL, NULL },
        STATE_FIELD(state_table),
        { "pf", FT_IFNAME, R(network.pf), 0, 0, NET_F_PF, NULL, NULL, NULL },
        { "ovs-bridge", FT_IFNAME, R(network.bridge), 0, 0, NET_F_OVS_BRIDGE, NULL, NULL, NULL },
        { "portgroups", FT_OBJ_LIST, R(network.portgroups), 0, 0, NET_F_PORTGROUPS, &portgroup_sub, NULL, NULL },
};

static void network_defaults(struct resource *r) {
        r->network.mode = NET_NAT;
        r->network.autostart = r->network.active = true;
}

static bool subnets_overlap(const struct ipaddr *a, const struct ipaddr *b) {
        struct ipaddr wider = a->prefix <= b->prefix ? *a : *b;
        return a->family == b->family && ipaddr_in_subnet(&wider, a->prefix <= b->prefix ? b : a);
}

/* A network that makes its own bridge (nat, route, isolated). */
static bool network_makes_bridge(const struct resource *r) {
        return r->network.mode != NET_BRIDGE && r->network.mode != NET_MACVTAP && r->network.mode != NET_HOSTDEV;
}

/* libvirt refuses a second network on a bridge another one makes, and one
 * whose subnet overlaps another's when it starts it; the networks declared
 * before this one are in the model already, so the later one is reported, at
 * its key, with the place of the first. */
static int check_network_clash(struct check_ctx *c, const struct resource *r) {
        const struct model *m = check_declared(c);
        for (size_t i = 0; i < m->n; i++) {
                const struct resource *o = m->v[i];
                if (o->kind != KIND_NETWORK || o->state == STATE_ABSENT)
                        continue;
                if ((r->set & NET_F_BRIDGE) && (o->set & NET_F_BRIDGE) && strcmp(r->network.bridge, o->network.bridge) == 0 &&
                    (network_makes_bridge(r) || network_makes_bridge(o)))
                        return check_error(c, NET_F_BRIDGE, "network %s: bridge %s is also the bridge of network %s at %s:%u:%u",
                                           r->name, r->network.bridge, o->name, o->pos.file, o->pos.line, o->pos.col);
                if ((r->set & NET_F_ADDRESS) && (o->set & NET_F_ADDRESS) && subnets_overlap(&r->network.address, &o->network.address)) {
                        char a[64], b[64];
                        struct ipaddr rn = r->network.address, on = o->network.address;
                        return check_error(c, NET_F_ADDRESS, "network %s: address %s overlaps %s of network %s at %s:%u:%u",
                                           r->name, ipaddr_format(&rn, true, a, sizeof(a)), ipaddr_format(&on, true, b, sizeof(b)),
                                           o->name, o->pos.file, o->pos.line, o->pos.col);
                }
        }
        return 0;
}

/* A network over an OVS bridge: mode bridge, and portgroups each with a name
 * and a VLAN, for the guests' OVS ports. */
static int network_check_ovs(struct check_ctx *c, const struct resource *r) {
        const struct network_spec *n = &r->network;
        if ((r->set & NET_F_OVS_BRIDGE) && (r->set & NET_F_BRIDGE))
                return check_error(c, NET_F_OVS_BRIDGE, "network %s: one of bridge and ovs-bridge", r->name);
        if ((r->set & NET_F_OVS_BRIDGE) && n->mode != NET_BRIDGE)
                return check_error(c, NET_F_OVS_BRIDGE, "network %s: ovs-bridge needs mode: bridge", r->name);
        if ((r->set & NET_F_PORTGROUPS) && !(r->set & NET_F_OVS_BRIDGE))
                return check_error(c, NET_F_PORTGROUPS, "network %s: portgroups (their VLANs) need ovs-bridge", r->name);
        for (size_t i = 0; i < n->n_portgroups; i++) {
                const struct portgroup_spec *g = &n->portgroups[i];
                if (!(g->set & PG_F_NAME))
                        return diag_pos(&g->pos, "network %s: a portgroup needs a name", r->name);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(n->portgroups[j].name, g->name) == 0)
                                return diag_pos(&g->pos, "network %s: portgroup %s twice", r->name, g->name);
        }
        return 0;
}

static int network_check(struct check_ctx *c, struct resource *r) {
        int m = r->network.mode;
        if (network_check_ovs(c, r) < 0)
                return -EINVAL;
        if (m == NET_BRIDGE && !(r->set & (NET_F_BRIDGE | NET_F_OVS_BRIDGE)))
                return check_error(c, 0, "network %s: mode bridge needs bridge (or ovs-bridge)", r->name);
        if (m == NET_MACVTAP && !(r->set & NET_F_DEV))
                return check_error(c, 0, "network %s: mode macvtap needs dev", r->name);
        if ((m == NET_HOSTDEV) != !!(r->set & NET_F_PF))
                return check_error(c, 0, "network %s: mode hostdev goes with pf (the SR-IOV physical function)", r->name);
        if ((m == NET_BRIDGE || m == NET_MACVTAP || m == NET_HOSTDEV) && (r->set & (NET_F_ADDRESS | NET_F_DHCP)))
                return check_error(c, 0, "network %s: address and dhcp belong to nat, route and isolated modes", r->name);
        if (m != NET_MACVTAP && (r->set & (NET_F_DEV | NET_F_MACVTAP_MODE)))
                return check_error(c, 0, "network %s: dev and macvtap-mode belong to mode macvtap", r->name);
        if (r->set & NET_F_DHCP) {
                /* libvirt refuses these only when it defines the network. */
                const struct network_spec *nw = &r->network;
                if (!(r->set & NET_F_ADDRESS))
                        return check_error(c, NET_F_DHCP, "network %s: dhcp needs address (the network it serves)", r->name);
                if (nw->dhcp.start.family == 0 || nw->dhcp.end.family == 0)
                        return check_error(c, NET_F_DHCP, "network %s: dhcp needs start and end", r->name);
                if (!ipaddr_in_subnet(&nw->address, &nw->dhcp.start) || !ipaddr_in_subnet(&nw->address, &nw->dhcp.end))
                        return check_error(c, NET_F_DHCP, "network %s: dhcp start and end must lie in %s", r->name,
                                           check_text(c, NET_F_ADDRESS));
                if (memcmp(nw->dhcp.start.a, nw->dhcp.end.a, 16) > 0)
                        return check_error(c, NET_F_DHCP, "network %s: dhcp start is after end", r->name);
        }
        return check_network_clash(c, r);
}

static void network_show_ovs(struct yw *w, const struct resource *r) {
        const struct network_spec *n = &r->network;
        if (r->set & NET_F_OVS_BRIDGE)
                yw_kv_name(w, "ovs-bridge", n->bridge);
        if (!n->n_portgroups)
                return;
        yw_word(w, "portgroups");
        yw_seq(w, false);
        for (size_t i = 0; i < n->n_portgroups; i++) {
                yw_map(w, true);
                yw_kv_name(w, "name", n->portgroups[i].name);
                if (n->portgroups[i].set & PG_F_TAG)
                        yw_kv_uint(w, "tag", n->portgroups[i].vlan_tag);
                yw_end_map(w);
        }
        yw_end_seq(w);
}

static void network_free(struct resource *r) {
        free(r->network.portgroups);
}

static void network_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct network_spec *n = &r->network;
        char buf[64];
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        yw_kv_word(w, "mode", enum_to_string(&net_mode_table, n->mode));
        if (n->mode == NET_MACVTAP) {
                yw_kv_name(w, "dev", n->dev);
                yw_kv_word(w, "macvtap-mode", enum_to_string(&macvtap_mode_table, n->macvtap_mode));
        } else if (n->mode == NET_HOSTDEV)
                yw_kv_name(w, "pf", n->pf);
        else if (r->set & NET_F_BRIDGE)
                yw_kv_name(w, "bridge", n->bridge);
        network_show_ovs(w, r);
        if (r->set & NET_F_ADDRESS)
                yw_kv_str(w, "address", ipaddr_format(&n->address, true, buf, sizeof(buf)));
        if (r->set & NET_F_DHCP) {
                yw_word(w, "dhcp");
                yw_map(w, true);
                yw_kv_str(w, "start", ipaddr_format(&n->dhcp.start, false, buf, sizeof(buf)));
                yw_kv_str(w, "end", ipaddr_format(&n->dhcp.end, false, buf, sizeof(buf)));
                yw_end_map(w);
        }
        yw_kv_bool(w, "autostart", n->autostart);
        yw_kv_bool(w, "active", n->active);
        yw_end_map(w);
        yw_entry_end(w, r);
}

const struct kind_ops network_kind = {
        .word = "network",
        .section = "networks",
        .backend = &libvirt_backend, .diff = lv_network_diff, .change_words = lv_network_change_words, .apply = lv_network_apply,
        .deps = lv_network_deps,
        .admit = lv_network_admit,
        .flags = KF_REVERTIBLE,
        .show_rank = 11,
        .fields = network_fields,
        .n_fields = ELEMENTSOF(network_fields),
        .defaults = network_defaults,
        .name_max = 199,
        .name_error = "bad network name \"%.64s\": no '/', <>&'\" or control characters",
        .check = network_check,
        .show = network_show,
        .free = network_free,
};
