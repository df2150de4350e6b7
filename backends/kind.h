/* What a kind's file needs to fill its struct kind_ops: field table helpers
 * and what the link kinds share (backends/link-kind.c). */
#pragma once

#include <stddef.h>

#include "backends.h"

#define R(member) offsetof(struct resource, member)
#define STATE_FIELD(tbl) { "state", FT_ENUM, R(state), 0, 0, RES_F_STATE, &tbl, NULL, NULL }

/* ---- links: one name space, the keys every created link takes ---- */

struct nl_msg;
struct nlattr;
/* What a link kind writes into a create or change request. */
struct link_put {
        const struct resource *r; /* the desired link */
        uint64_t fields;          /* the field bits to write */
        int (*ifindex)(void *u, const char *name); /* a device's index in the link's namespace, <= 0: none */
        void *u;
        bool peer_elsewhere; /* veth: the peer goes into the namespace of peer_netns_fd */
        int peer_netns_fd;
};

/* An RTM_NEWLINK for an existing link (ifindex > 0) or a new one (ifindex 0). */
struct link_req {
        int ifindex;
        const char *name;
        enum kind kind;     /* of the link; its IFLA_INFO_KIND goes along with data */
        uint32_t mtu;       /* 0 = unchanged */
        const unsigned char *mac;
        int up;             /* UP_KEEP, UP_SET, UP_CLEAR */
        bool set_master;
        int master;         /* with set_master: 0 releases */
        int parent;         /* IFLA_LINK: VLAN, macvlan and macvtap parent */
        const struct resource *data; /* IFLA_INFO_DATA from this resource's fields in data_fields */
        uint64_t data_fields;
        bool peer_elsewhere; /* veth: the peer goes into the namespace of peer_netns_fd */
        int peer_netns_fd;
};
enum { UP_KEEP, UP_SET, UP_CLEAR };
#define LINK_REQ(...) ((struct link_req){ __VA_ARGS__ })

/* What a link kind's own apply code asks of the link backend (backends/link.c):
 * a request, a device's index in the link's namespace (<= 0: none), up or
 * down, a port joining (master > 0) or leaving (0), an error said about the
 * action's link (returns r), and the namespace (NULL: the caller's). */
struct link_state;
int link_send(struct link_state *s, const struct link_req *q);
int link_ifindex(struct link_state *s, const char *name);
int link_set_up(struct link_state *s, const struct action *a, int ifindex, bool up);
int link_set_master(struct link_state *s, const struct action *a, const char *port, int master);
int link_fail(struct link_state *s, const struct action *a, int r, const char *what);
const char *link_netns(const struct link_state *s);
/* The flags of a device (IFF_UP...), or a negative errno. */
int link_flags(struct link_state *s, const char *name);

/* What the link backend needs of each link kind (kind_ops.impl): what every
 * link has is the backend's; what only one kind does is here, as hooks. */
struct link_kind {
        const char *info_kind; /* IFLA_INFO_KIND it is made and observed with; NULL: a NIC the kernel has */
        bool has_ports;        /* members enslaved through IFLA_MASTER and recorded as "ports" */
        bool has_parent;       /* sits on a parent given by IFLA_LINK */
        bool has_peer;         /* made with a peer (IFLA_LINK names it, maybe in another namespace) */
        /* Changes of these fields are the kind's to apply, in update. */
        uint64_t own_fields;
        /* What differs that only a new link can have (the plan says replace), and
         * what changes in place; the link backend diffs what every link has.
         * diff_after runs last, with the ledger entry and the plan so far. */
        void (*diff_identity)(const struct resource *w, const struct resource *live, struct action *a);
        void (*diff_in_place)(const struct resource *w, const struct resource *live, struct action *a);
        void (*diff_after)(const struct resource *w, const struct resource *live, const struct ledger_entry *owned,
                           struct action *a, const struct plan *p);
        /* A MAC of its own for a link created without one, kept by the ledger:
         * it does not follow its ports (a bridge). */
        void (*stable_mac)(const char *name, unsigned char mac[6]);
        /* What it needs first beyond a parent and ports (a VXLAN's devices). */
        void (*deps)(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
        /* Read the kind's IFLA_INFO_DATA (NULL when the kernel sent none) into r;
         * returns the kind r is (a tun device that is no TAP is a plain NIC). */
        enum kind (*observe_info)(struct resource *r, struct nlattr *data);
        /* Write the kind's IFLA_INFO_DATA for the fields asked: 0, -ENOMEM, or
         * -ENODEV for a device it names that does not exist. */
        int (*put_info)(struct nl_msg *msg, const struct link_put *p);
        /* Risks only this kind has, beyond what every link has. */
        void (*assess)(struct action *a, const struct model *live);
        /* Make the link from q (NULL: one RTM_NEWLINK of q); then, made, before
         * its addresses and ports: what else it needs. */
        int (*create)(struct link_state *s, const struct action *a, struct link_req *q);
        int (*created)(struct link_state *s, const struct action *a, int ifindex, struct ledger *l,
                       struct ledger_entry *e);
        /* Apply the changes of own_fields (fields): <0 failed, 1 the link went
         * down for it and comes back up at the end, 0 otherwise. */
        int (*update)(struct link_state *s, const struct action *a, int ifindex, uint64_t fields, struct ledger *l,
                      struct ledger_entry *e);
        /* A port joins (master > 0) or leaves (0) it; NULL: IFLA_MASTER alone. */
        int (*enslave)(struct link_state *s, const struct action *a, const char *port, int pidx, int master);
        /* After it is deleted. */
        int (*deleted)(struct link_state *s, const struct action *a);
};
/* Changes as the link kinds record them: words for people, typed values for apply. */
void link_change_u32(struct action *a, uint64_t field, const char *name, uint32_t from, uint32_t to);
void link_change_bool(struct action *a, uint64_t field, const char *name, bool from, bool to);
void link_change_enum(struct action *a, uint64_t field, const char *name, const struct enum_table *t, int from, int to);
void link_change_ip(struct action *a, const struct resource *w, const struct resource *live, uint64_t bit, const char *name,
                    const struct ipaddr *want, const struct ipaddr *have);
void link_change_id(struct action *a, const struct resource *w, const struct resource *live, uint64_t bit,
                    const char *name, uint32_t want, uint32_t have);
static inline const struct link_kind *link_kind_of(enum kind k) {
        return kind_ops(k)->impl;
}

#define LINK_COMMON_FIELDS                                                                          \
        { "addresses", FT_ADDR_LIST, R(link.addresses), 0, 0, LINK_F_ADDRESSES, NULL, NULL, NULL }, \
                { "mtu", FT_U32, R(link.mtu), 68, 65535, LINK_F_MTU, NULL, NULL, NULL },             \
                { "mac", FT_MAC, R(link.mac), 0, 0, LINK_F_MAC, NULL, NULL, NULL },                  \
                { "up", FT_BOOL, R(link.up), 0, 0, LINK_F_UP, NULL, NULL, NULL }, STATE_FIELD(state_table)

/* The link backend's plan and apply (backends/link.c; the unit tests' fake stands in). */
void link_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
int link_diff(void *state, const struct resource *w, const struct resource *live, const struct ledger_entry *owned,
              struct action *a, struct plan *p);
void link_assess(void *state, struct action *a, const struct model *live);
int link_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e);
void link_describe(const struct resource *w, struct action *a);
void link_from_snapshot(struct resource *r);
/* A veth's peer in this namespace, declared under ethernets (backends/veth.c). */
struct resource *veth_peer_made_with(const struct resource *w, const struct model *wanted);

/* The table members every link kind has the same. */
#define LINK_KIND_COMMON                                                                  \
        .deps = link_deps, .diff = link_diff, .assess = link_assess, .apply = link_apply, \
        .describe = link_describe,                                                        \
        .backend = &link_backend, .name_space = "interface",                              \
        .name_valid = ifname_valid, .free = link_free, .master_of = link_master_of,        \
        .device_type = link_device_type, .from_snapshot = link_from_snapshot,             \
        .name_error = "bad interface name \"%.64s\": 1-15 bytes, no '/', ':' or white space"

/* Whether a kind is a link: of the interfaces' name space. */
bool kind_is_link(enum kind k);
void link_defaults(struct resource *r);
void link_free(struct resource *r);
const char *link_master_of(const struct resource *live);
/* The kernel's IFLA_INFO_KIND of a live link, NULL for a plain device. */
const char *link_device_type(const struct resource *live);
/* lo is the kernel's: never written. */
enum kind link_show_as(const struct resource *r, const struct show_ctx *s);
/* An entry is the name, the kind's own keys, then what every link has. */
void link_show_begin(struct yw *w, const struct resource *r);
void link_show_end(struct yw *w, const struct resource *r, bool with_mac);
/* interfaces: [the ports], as a bridge or bond declares them. */
void link_show_ports(struct yw *w, const struct resource *r);
/* A parent (VLAN, macvlan, macvtap) that is itself declared: a child above its MTU is refused. */
int link_validate_child_mtu(struct resource *r, struct model *declared, unsigned phase);
/* The declared link that carries an address equal to a (exact) or a subnet
 * holding a: an order the kernel needs (a VXLAN binds its local address, a
 * gateway must be reachable) that no name in the manifest states. */
const char *link_address_owner(const struct model *m, const struct ipaddr *a, bool exact);

/* The libvirt backend's plan and apply per kind (backends/libvirt.c). */
#define LV_PLAN(kind)                                                                                              \
        int lv_##kind##_diff(void *state, const struct resource *w, const struct resource *live,                   \
                             const struct ledger_entry *owned, struct action *a, struct plan *p);                 \
        int lv_##kind##_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e)
LV_PLAN(network);
LV_PLAN(pool);
LV_PLAN(volume);
LV_PLAN(domain);
void lv_network_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
void lv_volume_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
void lv_domain_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
int lv_network_admit(void *state, const struct resource *w);
int lv_network_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size);
int lv_domain_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size);
int lv_domain_admit(void *state, const struct resource *w);
int lv_volume_admit(void *state, const struct resource *w);
/* A libvirt call that failed, reported about kind name as "what: libvirt's
 * message"; -EIO. */
int lv_fail(const char *kind, const char *name, const char *what);
/* Stream len bytes into vol, a volume of conn: next fills buf with up to size
 * bytes and returns how many (0 at the end) or a negative errno it reported.
 * 0, with *filled false when the driver keeps no volume content
 * (VIR_ERR_NO_SUPPORT: the test driver), the volume then made, not filled;
 * else a negative errno reported about kind name, what naming the bytes
 * ("its source"). */
/* Free a string that held a secret (a domain definition read with its
 * graphics password, the password itself), zeroing it first; NULL is fine.
 * Only reconcile's own strings are wiped: the copies libxml2 makes when
 * xr_parse reads such a definition (its document tree and dictionary) are
 * freed by libxml2 as they are, not zeroed. */
void lv_forget_secret(char *s);
struct _virConnect;
struct _virStorageVol;
int lv_volume_send(struct _virConnect *conn, struct _virStorageVol *vol, uint64_t len,
                   long (*next)(void *u, char *buf, size_t size), void *u, const char *kind, const char *name,
                   const char *what, bool *filled);

/* Whether this kernel has module NAME (backends/module.c): 0 when loaded,
 * built in or in the module index, or when there is no index to tell;
 * -ENOENT when the index has none. module_needed reports that at want's
 * position, by the module's name, for a kind that needs it. */
int module_available(const char *name);
int module_needed(const struct resource *want, const char *module);

extern const struct backend link_backend;
extern const struct backend libvirt_backend;
extern const struct backend ipvs_backend;
extern const struct backend ipset_backend;
extern const struct backend route_backend;
extern const struct backend sysctl_backend;
extern const struct backend module_backend;
extern const struct backend hugepage_backend;

/* Open vSwitch (backends/ovs.c): the OVSDB connection and the JSON the kinds
 * (ovs-bridge.c, ovs-port.c) build their transactions from. */
enum ovs_fail_mode { OVS_FAIL_STANDALONE, OVS_FAIL_SECURE, _OVS_FAIL_MAX, _OVS_FAIL_INVALID = -1 };
enum ovs_datapath { OVS_DP_SYSTEM, OVS_DP_NETDEV, _OVS_DP_MAX, _OVS_DP_INVALID = -1 };
enum ovs_port_type { OVS_PORT_SYSTEM, OVS_PORT_INTERNAL, _OVS_PORT_MAX, _OVS_PORT_INVALID = -1 };
enum ovs_vlan_mode { OVS_VLAN_TRUNK, OVS_VLAN_ACCESS, OVS_VLAN_NATIVE_TAGGED, OVS_VLAN_NATIVE_UNTAGGED,
                     OVS_VLAN_DOT1Q_TUNNEL, _OVS_VLAN_MAX, _OVS_VLAN_INVALID = -1 };
enum ovs_bond_mode { OVS_BOND_ACTIVE_BACKUP, OVS_BOND_BALANCE_SLB, OVS_BOND_BALANCE_TCP, _OVS_BOND_MAX,
                     _OVS_BOND_INVALID = -1 };
enum ovs_lacp { OVS_LACP_ACTIVE, OVS_LACP_PASSIVE, OVS_LACP_OFF, _OVS_LACP_MAX, _OVS_LACP_INVALID = -1 };
extern const struct enum_table ovs_fail_mode_table, ovs_datapath_table, ovs_port_type_table, ovs_vlan_mode_table,
        ovs_bond_mode_table, ovs_lacp_table;
extern const struct backend ovs_backend;

struct json_object;
/* {"method": method, "params": params (taken), "id": id} */
struct json_object *ovs_request(const char *method, struct json_object *params, unsigned id);
/* What a connection has read and not yet taken as messages. */
struct json_tokener;
struct ovs_stream {
        char *buf;
        size_t len, cap;
        size_t fed; /* bytes already given to tok, part of the message it is reading */
        struct json_tokener *tok;
};
int ovs_stream_put(struct ovs_stream *s, const char *data, size_t n);
int ovs_stream_reserve(struct ovs_stream *s, size_t min);
/* The next whole message: 1 with *msg, 0 when more must be read, -EBADMSG
 * for what is no JSON-RPC message (the connection is then unusable). */
int ovs_stream_take(struct ovs_stream *s, struct json_object **msg);
void ovs_stream_done(struct ovs_stream *s);
/* A transact reply's first failed operation into buf: 0 none, -EAGAIN a wait
 * that did not hold (changed since the plan), -EEXIST a constraint, -EIO else. */
int ovs_reply_error(struct json_object *result, char *buf, size_t size);
/* The observe transaction and the monitor request's params; the live model from the observe reply. */
struct json_object *ovs_observe_params(void);
struct json_object *ovs_monitor_params(void);
int ovs_rows_to_model(struct json_object *result, struct model *live);
/* Send one transaction (params taken) and report a failure against kind k's
 * name; wait_applied: and wait until ovs-vswitchd has made it (the devices the
 * link kinds configure next). */
int ovs_transact(void *state, struct json_object *params, enum kind k, const char *name, bool wait_applied);
/* Apply one action of an OVS kind: refused on a row reconcile did not make,
 * nothing sent when txn has no operation, else its operations queued in the
 * batch (or, outside one, one transaction). */
enum ovs_wait {
        OVS_WAIT_NEVER,
        OVS_WAIT_ALWAYS,  /* a device the link kinds configure next (an internal port) */
        OVS_WAIT_IF_USED, /* a device other kinds may use, waited for when their actions follow (a bridge) */
};
int ovs_apply(void *state, const struct action *a, struct json_object *(*txn)(const struct action *a),
              enum ovs_wait wait);
/* Append t's operations (t taken) to the transaction into, its uuid-names
 * suffixed with _tag so that the actions of one batch do not clash; returns
 * how many. */
size_t ovs_txn_merge(struct json_object *into, struct json_object *t, unsigned tag);
/* other_config and external_ids (ovs2): read a column, write one (mark: with
 * reconcile=managed), diff and mutate only the declared keys, refuse the key
 * reconcile, show them. */
void ovs_map_read(struct json_object *map, struct str_map *m);
struct json_object *ovs_map_json(const struct str_map *m, bool mark);
void ovs_diff_map(struct action *a, uint64_t bit, const char *word, const struct str_map *want,
                  const struct str_map *have);
struct json_object *ovs_op_mutate_map(const char *table, const char *uuid, const char *column,
                                      const struct str_map *want, const struct str_map *have);
int ovs_check_maps(struct check_ctx *c, struct resource *r);
void ovs_show_maps(struct yw *w, const struct resource *r, bool flow);
/* An OVS internal port declared under ethernets (its addresses, MTU, up) is
 * made by its port: the NIC as it is right after, and the port it needs. */
struct resource *ovs_internal_made_with(const struct resource *w, const struct model *wanted);
void ovs_internal_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
/* At plan time: the interface an OVS bridge or internal port would make is
 * not a device of another kind already (a Linux bridge of that name). */
int ovs_admit_interface(void *state, const struct resource *want, const char *ifname);
/* RFC 7047 values: sets, ["uuid", U], maps, columns of a row. */
size_t ovs_set_len(struct json_object *v);
struct json_object *ovs_set_item(struct json_object *v, size_t i);
const char *ovs_uuid_text(struct json_object *atom);
const char *ovs_map_get(struct json_object *map, const char *key);
struct json_object *ovs_col(struct json_object *row, const char *col);
struct json_object *ovs_pair(const char *tag, const char *value); /* ["uuid", U], ["named-uuid", N] */
struct json_object *ovs_set(struct json_object *items);           /* ["set", items] */
struct json_object *ovs_managed_ids(void);                        /* external_ids reconcile=managed */
struct json_object *ovs_where(const char *column, struct json_object *value);
/* Operations; the where and row arguments are taken. */
struct json_object *ovs_txn_begin(void); /* ["Open_vSwitch"]: append the operations */
struct json_object *ovs_op(const char *op, const char *table, struct json_object *where);
/* A wait, timeout 0, that the rows matching where are exactly rows in these columns. */
struct json_object *ovs_op_wait(const char *table, struct json_object *where, struct json_object *columns,
                                struct json_object *rows);
struct json_object *ovs_op_wait_no_name(const char *table, const char *name);
struct json_object *ovs_op_wait_row(const char *table, const char *uuid, struct json_object *row);
struct json_object *ovs_op_mutate_set(const char *table, struct json_object *where, const char *column,
                                      const char *mutator, struct json_object *atom);
/* The transaction of one action of each kind (pure: the unit tests read them). */
struct json_object *ovs_bridge_txn(const struct action *a);
struct json_object *ovs_port_txn(const struct action *a);
/* An optional column's value: the word, or the empty set. */
struct json_object *ovs_optional_word(const struct enum_table *t, int v);
/* What an OVS spec owns (both kinds). */
void ovs_free(struct resource *r);
/* Why a live OVS row is not reconcile's to delete, or NULL. */
const char *ovs_refuses_delete(const struct resource *live);
