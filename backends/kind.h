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

/* What the link backend needs of each link kind (kind_ops.impl). */
struct link_kind {
        const char *info_kind; /* IFLA_INFO_KIND it is made and observed with; NULL: a NIC the kernel has */
        bool has_ports;        /* members enslaved through IFLA_MASTER and recorded as "ports" */
        bool has_parent;       /* sits on a parent given by IFLA_LINK */
        bool has_peer;         /* made with a peer (IFLA_LINK names it, maybe in another namespace) */
        bool tun_device;       /* made and configured through the tun ioctls, not RTM_NEWLINK */
        /* Its MTU follows its smallest port unless set by hand, and its MAC its
         * ports unless it has one of its own: both are held (a bridge). */
        bool holds_mtu, stable_mac;
        /* Ports join and leave only while down, and the fields in down_fields
         * change only with the link down and its ports released (a bond). */
        bool ports_down;
        uint64_t down_fields;
        /* What differs that only a new link can have (the plan says replace), and
         * what changes in place; the link backend diffs what every link has. */
        void (*diff_identity)(const struct resource *w, const struct resource *live, struct action *a);
        void (*diff_in_place)(const struct resource *w, const struct resource *live, struct action *a);
        /* What it needs first beyond a parent and ports (a VXLAN's devices). */
        void (*deps)(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
        /* Read the kind's IFLA_INFO_DATA (NULL when the kernel sent none) into r;
         * returns the kind r is (a tun device that is no TAP is a plain NIC). */
        enum kind (*observe_info)(struct resource *r, struct nlattr *data);
        /* Write the kind's IFLA_INFO_DATA for the fields asked: 0, -ENOMEM, or
         * -ENODEV for a device it names that does not exist. */
        int (*put_info)(struct nl_msg *msg, const struct link_put *p);
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
struct resource *link_made_with(const struct resource *w, const struct model *wanted);
void link_describe(const struct resource *w, struct action *a);
void link_takes_with(const struct resource *live, void (*add)(void *u, enum kind k, const char *name), void *u);

/* The table members every link kind has the same. */
#define LINK_KIND_COMMON                                                                  \
        .deps = link_deps, .diff = link_diff, .assess = link_assess, .apply = link_apply, \
        .describe = link_describe,                                                        \
        .backend = &link_backend, .name_space = "interface",                              \
        .name_valid = ifname_valid, .free = link_free, .master_of = link_master_of,        \
        .device_type = link_device_type,                                                  \
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

extern const struct backend link_backend;
extern const struct backend libvirt_backend;
extern const struct backend ipvs_backend;
extern const struct backend ipset_backend;
extern const struct backend route_backend;
extern const struct backend sysctl_backend;
