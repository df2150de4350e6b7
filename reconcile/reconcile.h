/* reconcile core: the model every parser fills and every backend observes,
 * the backend vtable, plan, apply, verify, the ledger and the lock.
 * This is the one header parsers/, backends/ and cmd/ include from here. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IFNAME_MAX 16

/* ---- small helpers ---- */

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

void freep(void *p);
#define _cleanup_free_ _cleanup_(freep)

void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grow *v (of *n elements of size) by one zeroed element and return it. */
void *array_push(void *vp, size_t *n, size_t size);
/* The capacity array_push assumes for n elements: an array made by other means
 * and grown later with array_push must be allocated with at least this many. */
size_t array_capacity(size_t n);

/* FNV-1a over n bytes, continuing from h (chain calls to hash several fields).
 * The seed is FNV's offset basis short of its last digit: derived MACs and the
 * manifest digest were made with it, so it stays. */
#define HASH_FNV1A_SEED 1469598103934665603ull
uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n);
uint64_t hash_fnv1a_str(uint64_t h, const char *s);

/* An open-addressing index over an array its owner keeps and hashes: a slot
 * holds an element's position + 1 (0 is empty), probed linearly. */
struct hindex {
        size_t *slots;
        size_t n_slots; /* a power of two, or 0 while empty */
};
#define HINDEX_NONE SIZE_MAX
/* The position of the element of hash h for which eq(pos, u) holds, or HINDEX_NONE. */
size_t hindex_find(const struct hindex *x, uint64_t h, bool (*eq)(size_t pos, const void *u), const void *u);
/* Index the element just appended at n - 1; past half full, all n are indexed
 * anew in a larger table, through hash(pos, u). */
void hindex_add(struct hindex *x, size_t n, uint64_t (*hash)(size_t pos, const void *u), const void *u);
/* Index elements 0..n-1 anew, after some moved or went. */
void hindex_rebuild(struct hindex *x, size_t n, uint64_t (*hash)(size_t pos, const void *u), const void *u);
void hindex_done(struct hindex *x);

struct srcpos {
        const char *file; /* owned by the manifest set, lives as long as it */
        unsigned line, col;
};

/* ---- the error sink: every user-visible error passes through here ---- */

void diag_set_stream(FILE *f);
FILE *diag_stream(void);
unsigned diag_error_count(void);
void diag_reset(void);
void diag_restore_count(unsigned n);
/* "FILE:LINE:COL: error: MSG"; returns -EINVAL so callers can return it. */
int diag_pos(const struct srcpos *pos, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error: KIND NAME: MSG" for backend failures; returns r (negative errno). */
int diag_res(int r, const char *kind, const char *name, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int diag_plain(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Also keep every error line (without its newline) in *into, for JSON output;
 * NULL stops. Returns the list kept before. */
struct str_list;
struct str_list *diag_capture(struct str_list *into);
void diag_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* unless -q */
void diag_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* with -v */
extern int diag_verbose; /* -v: >0, -q: <0 */

/* ---- enums with string tables (round-tripped by tests) ---- */

#include "../backends/kinds.h"

#define RECONCILE_KIND_ENUM(NAME, name) KIND_##NAME,
enum kind {
        RECONCILE_KINDS(RECONCILE_KIND_ENUM)
        _KIND_MAX,
        _KIND_INVALID = -1,
};
const char *kind_to_string(enum kind k);      /* "bridge" */
enum kind kind_from_string(const char *s);     /* "bridge" */
const char *kind_to_section(enum kind k);      /* "bridges" */
enum kind kind_from_section(const char *s);
/* Kinds of one class share one name space (all links are interfaces of one
 * namespace): the class is the first kind of it in the registry. */
enum kind kind_class(enum kind k);

/* The resource the pass is working on, per thread (planning or applying it;
 * name NULL: none): an error said meanwhile is about it. The daemon's hook
 * gets each error line with it, for the journal's fields. */
void diag_set_resource(enum kind k, const char *name);
/* What a line said through the sink is: an error, or an event of a resource
 * that is no error (a health check's transition). */
enum diag_event { DIAG_ERROR, DIAG_CHECK_DOWN, DIAG_CHECK_UP, _DIAG_EVENT_MAX, _DIAG_EVENT_INVALID = -1 };
/* Called with every line of the sink written to stderr (not to a stream set
 * with diag_set_stream) and the resource it is about (_KIND_INVALID, NULL:
 * none); true: the hook wrote the line where it belongs, so it is not written
 * again. NULL removes it. */
typedef bool diag_hook_fn(void *u, enum diag_event ev, enum kind k, const char *name, const char *line);
void diag_set_hook(diag_hook_fn *fn, void *u);
/* A line about resource k name that is no error (not counted): on the stream, and to the hook. */
void diag_event(enum diag_event ev, enum kind k, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

enum res_state {
        STATE_PRESENT,
        STATE_ABSENT,
        STATE_RUNNING,
        STATE_SHUTOFF,
        _STATE_MAX,
        _STATE_INVALID = -1,
};
const char *res_state_to_string(enum res_state s);
enum res_state res_state_from_string(const char *s);

enum net_mode { NET_NAT, NET_ROUTE, NET_ISOLATED, NET_BRIDGE, NET_MACVTAP, NET_HOSTDEV, _NET_MODE_MAX, _NET_MODE_INVALID = -1 };
enum macvtap_mode { MACVTAP_BRIDGE, MACVTAP_VEPA, MACVTAP_PRIVATE, MACVTAP_PASSTHROUGH, _MACVTAP_MAX, _MACVTAP_INVALID = -1 };
enum vol_format { VOL_RAW, VOL_QCOW2, _VOL_FORMAT_MAX, _VOL_FORMAT_INVALID = -1 };
enum prealloc { PREALLOC_NONE, PREALLOC_METADATA, PREALLOC_FULL, _PREALLOC_MAX, _PREALLOC_INVALID = -1 };
enum disk_bus { BUS_VIRTIO, BUS_SATA, BUS_SCSI, BUS_IDE, _BUS_MAX, _BUS_INVALID = -1 };
enum disk_cache { CACHE_DEFAULT, CACHE_NONE, CACHE_WRITETHROUGH, CACHE_WRITEBACK, CACHE_DIRECTSYNC, CACHE_UNSAFE, _CACHE_MAX, _CACHE_INVALID = -1 };
enum disk_discard { DISCARD_IGNORE, DISCARD_UNMAP, _DISCARD_MAX, _DISCARD_INVALID = -1 };
enum nic_model { NIC_VIRTIO, NIC_E1000, NIC_E1000E, NIC_RTL8139, _NIC_MAX, _NIC_INVALID = -1 };
enum mem_backing { MEMBACK_DEFAULT, MEMBACK_HUGEPAGES, _MEMBACK_MAX, _MEMBACK_INVALID = -1 };
enum ipvs_proto { PROTO_TCP, PROTO_UDP, PROTO_SCTP, _PROTO_MAX, _PROTO_INVALID = -1 };
enum ipvs_fwd { FWD_MASQ, FWD_ROUTE, FWD_TUNNEL, _FWD_MAX, _FWD_INVALID = -1 };
enum inet_family { FAMILY_INET, FAMILY_INET6, _FAMILY_MAX, _FAMILY_INVALID = -1 };
/* Values are the kernel's (IFLA_BOND_MODE, MACVLAN_MODE_* is 1 << value, ...). */
enum mvlan_mode { MVLAN_PRIVATE, MVLAN_VEPA, MVLAN_BRIDGE, MVLAN_PASSTHRU, _MVLAN_MAX, _MVLAN_INVALID = -1 };
enum bond_mode { BOND_BALANCE_RR, BOND_ACTIVE_BACKUP, BOND_BALANCE_XOR, BOND_BROADCAST, BOND_8023AD, BOND_BALANCE_TLB,
                 BOND_BALANCE_ALB, _BOND_MODE_MAX, _BOND_MODE_INVALID = -1 };
enum lacp_rate { LACP_SLOW, LACP_FAST, _LACP_MAX, _LACP_INVALID = -1 };
enum xmit_hash { XMIT_LAYER2, XMIT_LAYER34, XMIT_LAYER23, XMIT_ENCAP23, XMIT_ENCAP34, XMIT_VLAN_SRCMAC, _XMIT_MAX,
                 _XMIT_INVALID = -1 };
/* Values are the kernel's RTN_* minus one would not hold: mapped in the route backend. */
enum route_type { ROUTE_UNICAST, ROUTE_BLACKHOLE, ROUTE_UNREACHABLE, ROUTE_PROHIBIT, _ROUTE_TYPE_MAX, _ROUTE_TYPE_INVALID = -1 };
enum route_scope { RSCOPE_GLOBAL, RSCOPE_LINK, RSCOPE_HOST, _RSCOPE_MAX, _RSCOPE_INVALID = -1 };
/* The kernel's IPVS schedulers (net/netfilter/ipvs/Kconfig: one module each). */
enum ipvs_sched { IPVS_SCHED_RR, IPVS_SCHED_WRR, IPVS_SCHED_LC, IPVS_SCHED_WLC, IPVS_SCHED_LBLC, IPVS_SCHED_LBLCR,
                  IPVS_SCHED_DH, IPVS_SCHED_SH, IPVS_SCHED_SED, IPVS_SCHED_NQ, IPVS_SCHED_FO, IPVS_SCHED_OVF,
                  IPVS_SCHED_MH, IPVS_SCHED_TWOS, _IPVS_SCHED_MAX, _IPVS_SCHED_INVALID = -1 };
/* The kernel's ipset types (net/netfilter/ipset/ip_set_*.c), as libipset names them. */
enum set_type { SETT_BITMAP_IP, SETT_BITMAP_IP_MAC, SETT_BITMAP_PORT, SETT_HASH_IP, SETT_HASH_MAC, SETT_HASH_IP_MAC,
                  SETT_HASH_IP_MARK, SETT_HASH_NET, SETT_HASH_NET_NET, SETT_HASH_IP_PORT, SETT_HASH_NET_PORT,
                  SETT_HASH_IP_PORT_IP, SETT_HASH_IP_PORT_NET, SETT_HASH_NET_PORT_NET, SETT_HASH_NET_IFACE,
                  SETT_LIST_SET, _SETT_MAX, _SETT_INVALID = -1 };
/* libvirt's storage pool types (virStoragePoolType) that a pool of path,
 * source and host can describe: scsi needs an adapter and iscsi-direct an
 * initiator, which the manifest has no keys for. */
enum pool_type { POOL_DIR, POOL_FS, POOL_NETFS, POOL_LOGICAL, POOL_DISK, POOL_ISCSI, POOL_MPATH, POOL_RBD,
                 POOL_SHEEPDOG, POOL_GLUSTER, POOL_ZFS, POOL_VSTORAGE, _POOL_TYPE_MAX, _POOL_TYPE_INVALID = -1 };
/* What one part of an ipset entry is: the parts are separated by commas. */
enum set_dim { DIM_NONE, DIM_IP, DIM_NET, DIM_PORT, DIM_MAC, DIM_MARK, DIM_IFACE, DIM_SETNAME };
struct set_type_info {
        bool has_family;    /* takes family inet or inet6; else no family (bitmap:port, hash:mac, list:set) */
        bool inet_only;     /* bitmap:ip and bitmap:ip,mac: IPv4 only */
        bool bitmap;        /* needs a range, has no hashsize or maxelem */
        bool optional_last; /* bitmap:ip,mac: the MAC may be left out */
        enum set_dim dims[3];
};
extern const struct set_type_info set_types[_SETT_MAX];

/* One string table per enum; parsers look words up through these. */
struct enum_table {
        const char *name;  /* what the enum is, for error messages */
        const char *const *words;
        int n;
};
extern const struct enum_table *const enum_tables[];
extern const size_t n_enum_tables;
extern const struct enum_table net_mode_table, macvtap_mode_table, vol_format_table, prealloc_table,
        disk_bus_table, disk_cache_table, disk_discard_table, nic_model_table, mem_backing_table,
        ipvs_proto_table, ipvs_fwd_table, inet_family_table, state_table, domain_state_table, macvlan_mode_table,
        bond_mode_table, lacp_rate_table, xmit_hash_table, route_type_table, route_scope_table, ipvs_sched_table,
        ipset_type_table, pool_type_table;
int enum_from_string(const struct enum_table *t, const char *s);
const char *enum_to_string(const struct enum_table *t, int v);

/* ---- typed values ---- */

struct ipaddr {
        int family; /* AF_INET or AF_INET6 */
        unsigned char a[16];
        unsigned prefix; /* 0..32 or 0..128; a bare address carries the full length */
        uint32_t flags;  /* observed IFA_F_* flags; zero in the desired model */
};
int ipaddr_parse(const char *s, bool want_prefix, struct ipaddr *out); /* 0 or -EINVAL */
/* "192.0.2.1/24" (with_prefix) or "192.0.2.1" into buf of at least 64 bytes. */
char *ipaddr_format(const struct ipaddr *a, bool with_prefix, char *buf, size_t size);
bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b); /* address and prefix, not flags */
/* An IPv4 address as a host-order number (ranges, masks). */
static inline uint32_t ipaddr_v4_host(const struct ipaddr *a) {
        return (uint32_t) a->a[0] << 24 | (uint32_t) a->a[1] << 16 | (uint32_t) a->a[2] << 8 | a->a[3];
}
/* Whether a lies in net's prefix (its first net->prefix bits); never across families. */
bool ipaddr_in_subnet(const struct ipaddr *net, const struct ipaddr *a);
/* The client address of the SSH session this runs in (SSH_CONNECTION), so that
 * a change that cuts it off is flagged; -ENOENT outside one, -EINVAL if garbled.
 * *out is zeroed on failure. */
int ssh_client_address(struct ipaddr *out);

struct addr_list { struct ipaddr *v; size_t n; };
struct str_list { char **v; size_t n; };
void str_list_done(struct str_list *l);
bool str_list_contains(const struct str_list *l, const char *s);
/* String keys to string values, in the order written, each key once (OVS's
 * other_config and external_ids). Its owner frees it with str_map_done. */
struct str_map {
        struct str_pair {
                char *key, *value;
        } *v;
        size_t n;
};
void str_map_add(struct str_map *m, const char *key, const char *value);
const char *str_map_get(const struct str_map *m, const char *key);
void str_map_done(struct str_map *m);
/* A set of borrowed strings for duplicate checks in linear time. */
struct strset {
        const char **v;
        size_t n;
        struct hindex index;
};
bool strset_add(struct strset *s, const char *str); /* false if it was there already */
bool strset_has(const struct strset *s, const char *str);
void strset_done(struct strset *s);
int mac_parse(const char *s, unsigned char mac[6]);
char *mac_format(const unsigned char mac[6], char buf[18]);
/* A locally administered unicast MAC for the object name of a purpose
 * ("bridge", "domain-nic"), derived from /etc/machine-id: the same on every
 * run of this host, another on every other host. -ENOENT without a machine id. */
int mac_derive(const char *purpose, const char *name, unsigned char mac[6]);
/* A random locally administered unicast MAC, for the caller to keep (in the
 * ledger); purpose and name are what it is for. Where getrandom fails, a
 * derived one: as mac_derive's, or from the host name and boot id. */
void mac_random(const char *purpose, const char *name, unsigned char mac[6]);
/* Kernel interface name rules: 1..15 bytes, no '/', ':' or white space, not "." or "..". */
bool ifname_valid(const char *s);

/* ---- per-kind specs ---- */

/* Field bits: a bit is set in resource.set when the manifest gave the key. */
enum {
        LINK_F_MTU = 1u << 0,
        LINK_F_UP = 1u << 1,
        LINK_F_MAC = 1u << 2,
        LINK_F_ADDRESSES = 1u << 3,
        LINK_F_INTERFACES = 1u << 4,
        LINK_F_STP = 1u << 5,
        LINK_F_FORWARD_DELAY = 1u << 6,
        LINK_F_LINK = 1u << 7,
        LINK_F_ID = 1u << 8,
        LINK_F_VNI = 1u << 9,
        LINK_F_LOCAL = 1u << 10,
        LINK_F_REMOTE = 1u << 11,
        LINK_F_GROUP = 1u << 12,
        LINK_F_PORT = 1u << 13,
        LINK_F_LEARNING = 1u << 14,
        LINK_F_MODE = 1u << 15,
        LINK_F_PEER = 1u << 16,
        LINK_F_PEER_NETNS = 1u << 17,
        LINK_F_OWNER = 1u << 18,
        LINK_F_GROUP_ID = 1u << 19,
        LINK_F_MULTI_QUEUE = 1u << 20,
        LINK_F_MIIMON = 1u << 21,
        LINK_F_LACP_RATE = 1u << 22,
        LINK_F_XMIT_HASH = 1u << 23,
};

struct link_spec {
        uint32_t mtu;
        bool up;
        unsigned char mac[6];
        struct addr_list addresses;
        struct str_list interfaces; /* bridge ports */
        bool stp;
        uint32_t forward_delay; /* seconds */
        char link[IFNAME_MAX];  /* parent: VLAN, macvlan, macvtap; VXLAN's dev */
        uint32_t vlan_id;
        /* VXLAN */
        uint32_t vni, port;
        struct ipaddr local, remote, group;
        bool learning;
        /* macvlan, macvtap (enum mvlan_mode); bond (enum bond_mode) */
        int mode;
        /* veth: the other end, and the named namespace it lives in ("" = this one) */
        char peer[IFNAME_MAX];
        char peer_netns[64];
        /* TAP */
        uint32_t owner, group_id;
        bool multi_queue;
        /* bond */
        uint32_t miimon;
        int lacp_rate, xmit_hash;
        /* Implied dependency: the declared link that carries VXLAN's local address. */
        char local_dev[IFNAME_MAX];
        /* Implied dependency: the declared veth whose peer this NIC is (it makes it). */
        char made_by[IFNAME_MAX];
        /* Observed only. */
        int ifindex;
        char master[IFNAME_MAX];
        char type[32]; /* IFLA_INFO_KIND, "" for a plain device */
};

enum { ROUTE_F_TO = 1u << 0, ROUTE_F_VIA = 1u << 1, ROUTE_F_DEV = 1u << 2, ROUTE_F_METRIC = 1u << 3,
       ROUTE_F_TABLE = 1u << 4, ROUTE_F_SCOPE = 1u << 5, ROUTE_F_TYPE = 1u << 6 };
struct route_spec {
        struct ipaddr to; /* "default" is 0.0.0.0/0 or ::/0 */
        bool to_default;  /* written as "default": the family follows via */
        struct ipaddr via;
        char dev[IFNAME_MAX];
        uint32_t metric, table;
        int scope; /* enum route_scope */
        int type;  /* enum route_type */
        /* Implied dependency: the declared link whose address subnet holds via. */
        char via_dev[IFNAME_MAX];
        unsigned char protocol; /* observed RTPROT_*: the kernel's own routes are not shown */
};

/* A sysctl under net.: the resource name is the key, e.g. net.ipv4.ip_forward. */
/* One form for a value as written and as /proc prints it: white space runs
 * (tabs between ip_local_port_range's numbers) become one blank, none at the ends. */
void sysctl_value_fold(char *v);
enum { SYSCTL_F_VALUE = 1u << 0 };
struct sysctl_spec {
        char *value; /* white space runs collapsed to one blank, as written and as read back */
};

/* A kernel module (modules:), loaded through libkmod and listed for boot in
 * files reconcile owns (backends/module.c); the resource is known by the
 * kernel's spelling (vfio_pci for vfio-pci). */
enum { MODULE_F_OPTIONS = 1u << 0, MODULE_F_LOADED = 1u << 1, MODULE_F_AT_BOOT = 1u << 2 };
struct module_spec {
        char *options;   /* "nested=1", NULL: none; observed: its line in reconcile's modprobe.d file */
        bool loaded;     /* observed: live, or built into the kernel */
        bool builtin;    /* observed */
        bool at_boot;    /* observed: listed in reconcile's modules-load.d file */
        char *params;    /* observed, loaded: "key=value\n" per parameter sysfs shows; NULL: none readable */
};

/* Huge pages of one size (hugepages:), for the host or one NUMA node; the
 * name says which ("2M", "node1/1G") and defaults() reads it (backends/hugepage.c). */
enum { HUGEPAGE_F_COUNT = 1u << 0 };
struct hugepage_spec {
        uint32_t count;     /* pages reserved (nr_hugepages) */
        uint64_t page_size; /* bytes */
        int node;           /* -1: the host's pool */
};

struct dhcp_range { struct ipaddr start, end; };

enum { NET_F_MODE = 1u << 0, NET_F_BRIDGE = 1u << 1, NET_F_DEV = 1u << 2, NET_F_MACVTAP_MODE = 1u << 3,
       NET_F_ADDRESS = 1u << 4, NET_F_DHCP = 1u << 5, NET_F_AUTOSTART = 1u << 6, NET_F_ACTIVE = 1u << 7 };
/* tune: an SR-IOV VF pool (mode hostdev) names its physical function. */
#define NET_F_PF (1u << 8)
/* Change items: what a plan changes of a network that is no key of it. */
enum { NET_C_TAPS = 1u << 20 /* running guests' taps put back on its bridge */ };
struct network_spec {
        int mode;         /* enum net_mode */
        char bridge[IFNAME_MAX];
        char dev[IFNAME_MAX];
        int macvtap_mode; /* enum macvtap_mode */
        struct ipaddr address;
        struct dhcp_range dhcp;
        bool autostart, active;
        /* Observed only: running guests' taps on it that are off its bridge
         * (for the plan; apply looks again), space-separated. */
        char stray_taps[128];
        /* tune: mode hostdev, the PF whose VFs the guests' interfaces get */
        char pf[IFNAME_MAX];
        /* ovs2: over an Open vSwitch bridge (bridge holds its name), with
         * portgroups that give guests' ports their VLAN. */
        struct portgroup_spec *portgroups;
        size_t n_portgroups;
};
/* ovs2: network bits 12..13. */
#define NET_F_OVS_BRIDGE (1ull << 12)
#define NET_F_PORTGROUPS (1ull << 13)
#define PG_F_NAME (1ull << 0)
#define PG_F_TAG (1ull << 1)
struct portgroup_spec {
        struct srcpos pos;
        uint64_t set;
        char name[64];
        uint32_t vlan_tag;
};

enum { POOL_F_TYPE = 1u << 0, POOL_F_PATH = 1u << 1, POOL_F_AUTOSTART = 1u << 2, POOL_F_ACTIVE = 1u << 3,
       POOL_F_SOURCE = 1u << 4, POOL_F_HOST = 1u << 5 };
struct pool_spec {
        char *type;
        char *path;
        char *source; /* device, VG or export path, as the type needs */
        char *host;   /* netfs, iscsi, rbd */
        bool autostart, active;
};

enum { VOL_F_CAPACITY = 1u << 0, VOL_F_FORMAT = 1u << 1, VOL_F_PREALLOC = 1u << 2 };
struct volume_spec {
        char *path; /* observed: where the volume lives, for block resize */
        char pool[256];
        uint64_t capacity;
        int format;   /* enum vol_format */
        int prealloc; /* enum prealloc */
        /* disks (issue 17 point 5): a cloud image's volume is a qcow2 overlay on
         * a base volume ("pool/volume"), a full copy of one, or a file uploaded
         * once, its SHA-256 (64 hex digits) checked before. */
        char *backing, *clone_of, *source;
        char *sha256;
        char *backing_path; /* observed: the backing file of a qcow2 overlay */
        char *held_by;      /* observed: "overlays a/b, c/d", the volumes whose backing it is */
};
/* disks (issue 17 point 5) */
#define VOL_F_BACKING (1ull << 3)
#define VOL_F_CLONE_OF (1ull << 4)
#define VOL_F_SOURCE (1ull << 5)
#define VOL_F_SHA256 (1ull << 6)

/* tune: guest placement and I/O. A CPU set is a bitmap of host CPUs (or NUMA
 * nodes) 0..1023, as libvirt's "2-3,6" strings name them. */
#define CPUSET_MAX 1024
struct cpuset {
        uint64_t bits[CPUSET_MAX / 64];
};
/* Block I/O limits per second (<iotune>); 0: no limit. */
struct iotune_spec {
        uint64_t total_bytes, read_bytes, write_bytes;
        uint32_t total_iops, read_iops, write_iops;
};
struct disk_tuning {
        int io;            /* enum disk_io; -1: libvirt's default */
        int detect_zeroes; /* enum detect_zeroes; -1: libvirt's default */
        uint32_t iothread; /* 0: none */
        char serial[32];
        bool readonly;
        struct iotune_spec iotune;
};
enum disk_io { DISK_IO_NATIVE, DISK_IO_THREADS, DISK_IO_URING, _DISK_IO_MAX, _DISK_IO_INVALID = -1 };
enum detect_zeroes { DZ_OFF, DZ_ON, DZ_UNMAP, _DZ_MAX, _DZ_INVALID = -1 };
enum numa_mode { NUMA_STRICT, NUMA_PREFERRED, NUMA_INTERLEAVE, _NUMA_MAX, _NUMA_INVALID = -1 };
enum lifecycle_action { LC_DESTROY, LC_RESTART, LC_PRESERVE, LC_RENAME_RESTART, LC_COREDUMP_DESTROY, LC_COREDUMP_RESTART,
                        _LC_MAX, _LC_INVALID = -1 };
enum watchdog_model { WD_I6300ESB, WD_IB700, WD_DIAG288, WD_ITCO, _WD_MAX, _WD_INVALID = -1 };
enum watchdog_action { WDA_RESET, WDA_SHUTDOWN, WDA_POWEROFF, WDA_PAUSE, WDA_NONE, WDA_DUMP, WDA_INJECT_NMI, _WDA_MAX,
                       _WDA_INVALID = -1 };
enum balloon_model { BALLOON_VIRTIO, BALLOON_NONE, _BALLOON_MAX, _BALLOON_INVALID = -1 };
enum rng_model { RNG_VIRTIO, RNG_NONE, _RNG_MAX, _RNG_INVALID = -1 };
extern const struct enum_table disk_io_table, detect_zeroes_table, numa_mode_table, lifecycle_table, watchdog_model_table,
        watchdog_action_table, balloon_model_table, rng_model_table;
struct cpu_topology {
        uint32_t sockets, cores, threads;
};
struct vcpu_pin {
        struct srcpos pos; /* desired: where the manifest pins it */
        uint32_t vcpu;
        struct cpuset cpus;
};
struct numa_cell {
        struct srcpos pos;
        uint64_t set;
        struct cpuset cpus;
        uint64_t memory;
};
struct numa_tune {
        int mode; /* enum numa_mode; -1: libvirt's default (strict) */
        struct cpuset nodeset;
};
struct usb_id {
        char vendor[8], product[8]; /* "0x1234" */
};
struct hostdev_spec {
        struct srcpos pos;
        uint64_t set;
        char pci[16]; /* "0000:01:00.0" */
        struct usb_id usb;
        bool managed;
};
struct watchdog_spec {
        int model, action; /* enum watchdog_model, watchdog_action; -1: none */
};
struct domain_tuning {
        struct cpu_topology topology; /* all 0: none */
        struct str_map pin_words;     /* vcpu-pins as written: vCPU -> CPU set */
        struct vcpu_pin *pins;        /* sorted by vCPU */
        size_t n_pins;
        struct cpuset emulator_pin;   /* empty: none */
        uint32_t iothreads;
        struct numa_cell *cells;
        size_t n_cells;
        struct numa_tune numa_tune;
        struct hostdev_spec *hostdevs;
        size_t n_hostdevs;
        int memballoon, rng; /* enum balloon_model, rng_model; -1: none declared or observed */
        struct watchdog_spec watchdog;
        int on_poweroff, on_reboot, on_crash; /* enum lifecycle_action; -1: libvirt's default */
        struct str_list depends_on;           /* domains started before this one, stopped after it */
        uint64_t page_size;                   /* with memory-backing: hugepages; 0: the host's default */
        uint32_t declared_pages;              /* validate: hugepages of page_size the manifests reserve (0: none) */
        struct str_list stop_after;           /* validate, when shut off: the shut-off domains that depend on it */
};

enum { DISK_F_VOLUME = 1u << 0, DISK_F_CDROM = 1u << 1, DISK_F_BUS = 1u << 2, DISK_F_CACHE = 1u << 3, DISK_F_DISCARD = 1u << 4,
       DISK_F_SHAREABLE = 1u << 5 };
struct disk_spec {
        struct srcpos pos;
        uint64_t set;
        char *volume; /* "pool/volume" */
        char *cdrom;  /* absolute path */
        int bus, cache, discard;
        bool shareable;  /* may be attached to other domains at once (<shareable/>) */
        int format;      /* the volume's format (enum vol_format), resolved from its declaration */
        char target[16]; /* observed: vda, sdb */
        /* cloud: the disk's place in the boot order (<boot order='N'/>, 0: none);
         * seed: the domain's cloud-init seed, a pool volume on a cdrom drive. */
        uint32_t boot_order;
        bool seed;
        /* tune: disk I/O (backends/domain-tuning.c) */
        struct disk_tuning tuning;
        /* disks (issue 17 point 4): a host file or block device (an LVM volume);
         * its format is declared (DISK_F_FORMAT) or probed at plan time. */
        char *path;
        bool block; /* observed or probed: <disk type='block'> */
};
/* disks (issue 17 point 4) */
#define DISK_F_PATH (1ull << 6)
#define DISK_F_FORMAT (1ull << 7)
enum { NIC_F_BRIDGE = 1u << 0, NIC_F_NETWORK = 1u << 1, NIC_F_MODEL = 1u << 2, NIC_F_MAC = 1u << 3 };
/* ovs2: NIC bits 10..13. */
#define NIC_F_OVS_BRIDGE (1ull << 10)
#define NIC_F_VLAN_TAG (1ull << 11)
#define NIC_F_PORTGROUP (1ull << 12)
struct nic_spec {
        struct srcpos pos;
        uint64_t set;
        char bridge[IFNAME_MAX];
        char *network;
        int model;
        unsigned char mac[6];
        /* cloud: the NIC's place in the boot order (<boot order='N'/>, 0: none). */
        uint32_t boot_order;
        /* tune: a macvtap on a host device (<interface type='direct'>) */
        char direct[IFNAME_MAX];
        int direct_mode; /* enum macvtap_mode */
        /* ovs2: a port on an Open vSwitch bridge (<virtualport type='openvswitch'/>)
         * with its access VLAN, or a portgroup of the network. */
        char ovs_bridge[IFNAME_MAX];
        uint32_t vlan_tag;
        char *portgroup;
        char ovs_port_id[40]; /* observed: libvirt's interfaceid of its OVS port */
};
enum { DOM_F_VCPUS = 1u << 0, DOM_F_MAX_VCPUS = 1u << 1, DOM_F_MEMORY = 1u << 2, DOM_F_MAX_MEMORY = 1u << 3,
       DOM_F_CPU = 1u << 4, DOM_F_MEMBACK = 1u << 5, DOM_F_AUTOSTART = 1u << 6, DOM_F_DISKS = 1u << 7,
       DOM_F_INTERFACES = 1u << 8, DOM_F_OWNED_MARK = 1u << 9 /* observed: carries our metadata */,
       DOM_F_MACHINE = 1u << 10, DOM_F_KERNEL = 1u << 11, DOM_F_INITRD = 1u << 12, DOM_F_CMDLINE = 1u << 13,
       DOM_F_SHUTDOWN_TIMEOUT = 1u << 14, DOM_F_FORCE_OFF = 1u << 15,
       DOM_F_FEATURES = 1u << 16 /* the ACPI and APIC features, always rendered */,
       DOM_F_CONSOLE = 1u << 17, DOM_F_GUEST_AGENT = 1u << 18, DOM_F_GRAPHICS = 1u << 19, DOM_F_VIDEO = 1u << 25,
       DOM_F_BOOT = 1u << 26, DOM_F_FIRMWARE = 1u << 27 };
#define DOM_F_SECURE_BOOT (1ull << 32)
#define DOM_F_TPM (1ull << 33)
/* cloud (issue 17: cloud-init, lifecycle, per-device boot order). DOM_C_* are
 * change items: the seed (re)built, a graceful restart, the devices' boot order. */
#define DOM_F_CLOUD_INIT (1ull << 34)
#define DOM_F_RESTART (1ull << 35)
#define DOM_C_SEED (1ull << 36)
#define DOM_C_RESTART (1ull << 37)
#define DOM_C_DEVICE_BOOT (1ull << 38)
#define DISK_F_BOOT (1u << 16)
#define NIC_F_BOOT (1u << 8)
enum restart_policy { RESTART_NEVER, RESTART_ON_CHANGE, _RESTART_MAX, _RESTART_INVALID = -1 };
extern const struct enum_table restart_policy_table;
/* A NoCloud seed: each file inline, or a file's path (one line starting with
 * '/', "./" or "../", relative to the manifest's directory). */
enum { SEED_USER_DATA, SEED_META_DATA, SEED_NETWORK_CONFIG, _SEED_MAX };
struct cloud_init_spec {
        char *declared[_SEED_MAX]; /* as written in the manifest */
        char *pool;                /* declared, else the pool of the first volume disk */
        /* Filled by the check: the files as the seed holds them (meta-data with
         * its instance-id) and the digest of the three, which the ledger keeps. */
        char *content[_SEED_MAX];
        char digest[17];
};
/* tune: CPU and memory placement, devices, lifecycle (backends/domain-tuning.c) */
#define DOM_F_CPU_TOPOLOGY (1ull << 40)
#define DOM_F_VCPU_PINS (1ull << 41)
#define DOM_F_EMULATOR_PIN (1ull << 42)
#define DOM_F_IOTHREADS (1ull << 43)
#define DOM_F_NUMA (1ull << 44)
#define DOM_F_NUMA_TUNE (1ull << 45)
#define DOM_F_HOSTDEVS (1ull << 46)
#define DOM_F_MEMBALLOON (1ull << 47)
#define DOM_F_RNG (1ull << 48)
#define DOM_F_WATCHDOG (1ull << 49)
#define DOM_F_ON_POWEROFF (1ull << 50)
#define DOM_F_ON_REBOOT (1ull << 51)
#define DOM_F_ON_CRASH (1ull << 52)
#define DOM_F_DEPENDS_ON (1ull << 53)
#define DOM_F_PAGE_SIZE (1ull << 54)
#define DOM_C_IOTUNE (1ull << 55) /* change item: a disk's I/O limits, set live and in the definition */
/* tune: disk I/O and direct NICs */
#define DISK_F_IO (1u << 20)
#define DISK_F_DETECT_ZEROES (1u << 21)
#define DISK_F_IOTHREAD (1u << 22)
#define DISK_F_SERIAL (1u << 23)
#define DISK_F_READONLY (1u << 24)
#define DISK_F_IOTUNE (1u << 25)
#define NIC_F_DIRECT (1u << 4)
#define NIC_F_DIRECT_MODE (1u << 5)
/* Graphics a person connects to; the password is read from password_file at
 * apply time, so neither a manifest nor the plan nor show ever holds it. */
enum graphics_type { GRAPHICS_VNC, GRAPHICS_SPICE, _GRAPHICS_MAX, _GRAPHICS_INVALID = -1 };
enum video_model { VIDEO_VGA, VIDEO_VIRTIO, VIDEO_QXL, VIDEO_CIRRUS, VIDEO_BOCHS, VIDEO_NONE, _VIDEO_MAX,
                   _VIDEO_INVALID = -1 };
enum firmware { FIRMWARE_BIOS, FIRMWARE_UEFI, _FIRMWARE_MAX, _FIRMWARE_INVALID = -1 };
extern const struct enum_table graphics_type_table, video_model_table, firmware_table, boot_dev_table;
struct graphics_spec {
        int type;            /* enum graphics_type */
        char *listen;        /* an address; 127.0.0.1 unless declared */
        uint32_t port;       /* 0: auto (libvirt picks one from 5900) */
        char *password_file; /* declared only */
        bool has_password;   /* observed: the definition has one */
};
/* Change items of a domain that are no key: its state, a disk or NIC attached
 * or detached, a power-off after the shutdown timeout, a shutdown record
 * forgotten; edits of a device it keeps (a disk's attributes, a cdrom's ISO, a
 * NIC's source or model), which apply pairs again from the two models. */
enum { DOM_C_STATE = 1u << 20, DOM_C_DISK = 1u << 21, DOM_C_NIC = 1u << 22, DOM_C_FORCE_OFF = 1u << 23,
       DOM_C_SHUTDOWN_FORGET = 1u << 24, DOM_C_DISK_EDIT = 1u << 28, DOM_C_MEDIA = 1u << 29, DOM_C_NIC_EDIT = 1u << 30 };
struct domain_spec {
        uint32_t vcpus, max_vcpus;
        uint64_t memory, max_memory;
        char *cpu;
        /* "pc", "q35" or an exact machine type ("pc-q35-7.2"); NULL: libvirt's default. */
        char *machine;
        /* Direct kernel boot, as libvirt's <os> has it: host paths and the command line. */
        char *kernel, *initrd, *cmdline;
        /* How long a graceful (ACPI) shutdown may take before it is an error, and
         * whether reconcile may then power the guest off (the only destroy it does). */
        uint32_t shutdown_timeout;
        bool force_off;
        /* Observed: the ACPI and APIC features (rendered always), and the libvirt
         * domain id of a running domain (-1 when shut off), which tells one boot
         * of it from the next. */
        bool acpi, apic;
        /* Observed only: devices the schema does not model (graphics vnc, serial),
         * which reconcile leaves as they are; show names them in a comment. */
        char *unmodeled;
        int id;
        int memory_backing;
        bool autostart;
        /* A way in: a serial console on a pty and the QEMU guest agent channel
         * (both on unless declared false), graphics (DOM_F_GRAPHICS), a video model. */
        bool console, guest_agent;
        struct graphics_spec graphics;
        int video; /* enum video_model; -1: none declared or observed */
        /* Boot: the devices in order (hd, cdrom, network, fd); firmware, secure
         * boot and an emulated TPM 2.0 (swtpm). */
        struct str_list boot;
        int firmware; /* enum firmware */
        bool secure_boot, tpm;
        struct disk_spec *disks;
        size_t n_disks;
        struct nic_spec *nics;
        size_t n_nics;
        /* Observed only: the running definition, when it runs (its config is the rest). */
        struct resource *active;
        /* cloud: the cloud-init seed, and whether reconcile may restart the guest
         * to apply what needs a restart (enum restart_policy). */
        struct cloud_init_spec cloud_init;
        bool seed_missing; /* observed: its seed disk names a volume that is gone (rebuilt as drift) */
        int restart;
        /* tune: CPU and memory placement, devices, lifecycle (backends/domain-tuning.c) */
        struct domain_tuning tuning;
};

/* A health check of a real server (backends/ipvs-check.h runs them). A nested
 * mapping has no set bits: 0 in a number and NULL in a string are unset, and
 * the check hook fills the defaults. The strings are owned by the spec (the
 * service kind's free hook frees them): held inline they made every resource
 * a kilobyte larger, checks or not. Compare, hash and copy a spec through
 * ipvs-check.h's functions, never its bytes. */
struct check_spec {
        int type;       /* enum check_type */
        int on_failure; /* enum check_failure */
        uint32_t port;  /* 0: the real's */
        uint32_t interval, timeout, rise, fall, warmup;
        bool alpha;
        char *path, *host, *expect, *regex;
        char *command; /* exec: a program and its arguments, split at blanks */
};
enum { REAL_F_ADDRESS = 1u << 0, REAL_F_PORT = 1u << 1, REAL_F_WEIGHT = 1u << 2, REAL_F_FORWARDING = 1u << 3,
       REAL_F_UPPER = 1u << 4, REAL_F_LOWER = 1u << 5, REAL_F_CHECK = 1u << 6 };
struct real_spec {
        struct srcpos pos;
        uint64_t set;
        struct ipaddr address;
        uint32_t port, weight, upper, lower;
        int forwarding;
        struct check_spec check; /* with REAL_F_CHECK, or the service's */
};
enum { SVC_F_PROTOCOL = 1u << 0, SVC_F_ADDRESS = 1u << 1, SVC_F_PORT = 1u << 2, SVC_F_FWMARK = 1u << 3,
       SVC_F_SCHEDULER = 1u << 4, SVC_F_PERSISTENCE = 1u << 5, SVC_F_NETMASK = 1u << 6,
       SVC_F_FORWARDING = 1u << 7, SVC_F_DRAIN = 1u << 8, SVC_F_REALS = 1u << 9, SVC_F_FAMILY = 1u << 10,
       SVC_F_CHECK = 1u << 11, SVC_F_SORRY = 1u << 12, SVC_F_SH_FALLBACK = 1u << 13, SVC_F_SH_PORT = 1u << 14,
       SVC_F_ONE_PACKET = 1u << 15 };
/* Change items: one real server added, changed, drained or removed; a real
 * its health check found down, at weight 0 (was: live index or none, now:
 * desired index); the sorry server added while no real is up (now: none). */
enum { SVC_C_REAL = 1u << 20, SVC_C_REAL_DOWN = 1u << 21, SVC_C_SORRY = 1u << 22 };
struct service_spec {
        int protocol;
        struct ipaddr address;
        uint32_t port, fwmark;
        char scheduler[16];
        uint32_t persistence;
        struct ipaddr netmask;
        int family; /* fwmark services: enum inet_family */
        int forwarding;
        uint32_t drain_seconds;
        struct real_spec *reals;
        size_t n_reals;
        struct check_spec check; /* every real's without one of its own (SVC_F_CHECK) */
        struct real_spec sorry;  /* with SVC_F_SORRY: takes the traffic while no real is up */
        /* The service's flags: sh and mh fall back from a real at weight 0, and hash the port too; one-packet
         * scheduling (each UDP datagram its own connection). */
        bool sh_fallback, sh_port, one_packet;
};

/* The IPVS connection sync daemon: the resource's name is its role (master or backup). */
enum { SYNC_F_INTERFACE = 1u << 0, SYNC_F_SYNCID = 1u << 1 };
struct ipvs_sync_spec {
        char interface[IFNAME_MAX]; /* the multicast interface */
        uint32_t syncid;
};

/* One IPVS connection timeout of the namespace, named tcp, tcpfin or udp. */
enum { TMO_F_SECONDS = 1u << 0 };
struct ipvs_timeout_spec {
        uint32_t seconds;
};

enum { SET_F_TYPE = 1u << 0, SET_F_FAMILY = 1u << 1, SET_F_MAXELEM = 1u << 2, SET_F_HASHSIZE = 1u << 3,
       SET_F_TIMEOUT = 1u << 4, SET_F_COMMENT = 1u << 5, SET_F_ENTRIES = 1u << 6, SET_F_RANGE = 1u << 7 };
/* Change items: one entry added or removed; the set rebuilt and swapped in. */
enum { SET_C_ENTRY = 1u << 20, SET_C_SWAP = 1u << 21 };
struct ipset_spec {
        char type[32];
        char range[64]; /* bitmap types: "1-1024", "192.168.0.0/16" */
        int family;
        uint32_t maxelem, hashsize, timeout;
        bool comment;
        struct str_list entries;
        /* Not NULL: entries.v[i] point into this one block, which owns their text
         * (a dump's, the parser's): freed whole, not entry by entry. */
        char *entry_block;
        /* Not NULL: the entries of a one-part IPv4 set as numbers (address << 8 |
         * prefix), index for index with entries.v (n_entry_keys of them), put
         * there by whoever read them (the check, the dump): the diff parses no
         * text then. */
        uint64_t *entry_keys;
        size_t n_entry_keys;
        /* entries, entry_block and entry_keys are another resource's (a scoped
         * run's presumed set borrows the manifests', which outlive the run): not freed. */
        bool entries_borrowed;
        /* Observed only: the rules and list:sets that use it (a re-create is refused). */
        uint32_t references;
};

/* A name a resource refers to (a port, a parent, a bridge) and where the manifest wrote it. */
struct name_ref {
        char *name;
        struct srcpos pos;
};

/* Where the manifest wrote a key of a resource (its field bit). */
struct key_pos {
        uint64_t bit;
        struct srcpos pos;
};

/* Open vSwitch bridges and their ports (backends/ovs-bridge.c, ovs-port.c), in
 * OVSDB: a port is named BRIDGE/PORT; bits of what the manifest gave. */
enum { OVS_F_FAIL_MODE = 1u << 0, OVS_F_STP = 1u << 1, OVS_F_DATAPATH = 1u << 2, OVS_F_TYPE = 1u << 3,
       OVS_F_TAG = 1u << 4, OVS_F_TRUNKS = 1u << 5, OVS_F_VLAN_MODE = 1u << 6, OVS_F_BOND = 1u << 7,
       OVS_F_LACP = 1u << 8, OVS_F_BOND_MODE = 1u << 9 };
/* Change item: one VLAN added to or removed from a port's trunks. */
enum { OVS_C_TRUNK = 1u << 20 };
struct ovs_spec {
        char bridge[IFNAME_MAX]; /* a port's bridge */
        char port[IFNAME_MAX];   /* a port's own name (OVSDB's: unique on the host) */
        int fail_mode, datapath; /* bridge: enum ovs_fail_mode, enum ovs_datapath */
        bool stp;
        int type, vlan_mode, bond_mode, lacp; /* port: enum ovs_port_type, ... (-1: none) */
        uint32_t tag;
        struct str_list trunk_words; /* as written; check turns them into trunks */
        uint64_t trunks[64];         /* VLANs 0..4095, one bit each */
        struct str_list bond;        /* a bond's members (interfaces) */
        /* Observed only: the row's and the members' OVSDB UUIDs, and whether
         * external_ids:reconcile=managed marks the row as reconcile's. */
        char uuid[40];
        struct str_list member_uuids;
        bool managed;
        /* ovs2: other_config and external_ids: declared, the keys reconcile owns;
         * observed, the whole column. */
        struct str_map other_config, external_ids;
};
#define OVS_F_OTHER_CONFIG (1ull << 10)
#define OVS_F_EXTERNAL_IDS (1ull << 11)

struct resource {
        enum kind kind;
        char *name;
        struct srcpos pos;
        struct name_ref *refs; /* desired model only */
        size_t n_refs;
        struct key_pos *keys; /* desired model only: for errors found after parsing, at the key */
        size_t n_keys;
        int state;    /* enum res_state */
        uint64_t set; /* field bits of the kind, plus RES_F_STATE */
        long topo_index, topo_level; /* scratch for ordering, owned by the core */
        union {
                struct link_spec link;
                struct route_spec route;
                struct sysctl_spec sysctl;
                struct module_spec module;
                struct hugepage_spec hugepage;
                struct network_spec network;
                struct pool_spec pool;
                struct volume_spec volume;
                struct domain_spec domain;
                struct service_spec service;
                struct ipvs_sync_spec ipvs_sync;
                struct ipvs_timeout_spec ipvs_timeout;
                struct ipset_spec ipset;
                struct ovs_spec ovs;
        };
};
#define RES_F_STATE (1ull << 63)

struct resource *resource_new(enum kind k, const char *name);
void resource_free(struct resource *r);
/* Where r's manifest names name (a port, a parent), or r's own position. */
const struct srcpos *resource_ref_pos(const struct resource *r, const char *name);
/* Where the key of that field bit was written, else the resource's own position. */
const struct srcpos *resource_key_pos(const struct resource *r, uint64_t bit);

/* A set of resources with lookup by (kind class, name) in constant time. */
struct model {
        struct resource **v;
        size_t n, cap;
        struct hindex index; /* by (kind class, name) */
};
void model_done(struct model *m);
int model_add(struct model *m, struct resource *r); /* takes ownership; -EEXIST on a name clash */
struct resource *model_find(const struct model *m, enum kind k, const char *name);
/* Free and drop the resources for which drop() is true; the index is rebuilt. */
void model_remove_if(struct model *m, bool (*drop)(const struct resource *r, void *u), void *u);
/* The same, but the dropped resources are appended to *taken (n_taken) instead of freed. */
void model_take_if(struct model *m, bool (*drop)(const struct resource *r, void *u), void *u,
                   struct resource ***taken, size_t *n_taken);

/* ---- the schema: one field table per kind, which the parser walks ---- */

/* What a field's value is; the parser turns YAML into it and reports errors. */
enum field_type {
        FT_U32,       /* uint32_t in min..max (max 0: no upper bound) */
        FT_BOOL,      /* true or false */
        FT_SIZE,      /* uint64_t bytes with a unit (size_parse), at least min */
        FT_ENUM,      /* int, a word of the enum_table in extra */
        FT_ENUM_WORD, /* char[max], a word of the enum_table in extra */
        FT_ENUM_STR,  /* char *, a word of the enum_table in extra */
        FT_IFNAME,    /* char[IFNAME_MAX], an interface name another resource may be */
        FT_STR,       /* char *, min: STR_WORD or STR_PATH; max: its longest length in bytes, 0: any */
        FT_WORD,      /* char[max], one word */
        FT_MAC,       /* unsigned char[6], unicast and not zero */
        FT_IPADDR,    /* struct ipaddr; min 1: with a prefix */
        FT_ADDR_LIST, /* struct addr_list of ADDRESS/PREFIX */
        FT_STR_LIST,  /* struct str_list; min 1: interface names, 0: any words; extra: NULL or a struct str_list_block */
        FT_OBJ,       /* a mapping into the struct at offset, by the sub_table in extra */
        FT_OBJ_LIST,  /* a list of mappings, by the sub_table in extra */
        FT_NETNS,     /* char[64], a named network namespace */
        FT_USER,      /* uint32_t, a user (min 0) or group (min 1) by number or name */
        FT_CHILDREN,  /* a mapping of names: resources of the kind in extra (a struct kind_ops), named PARENT/NAME */
        FT_CUSTOM,    /* a scalar parsed by the kind's parse hook */
        FT_MAP,       /* struct str_map: a mapping of string keys to string values */
};
enum { STR_WORD = 0, STR_PATH = 1 };

struct field {
        const char *key;
        enum field_type type;
        size_t offset; /* into the resource, or into the element of a sub_table */
        int64_t min, max;
        uint64_t bit; /* set in resource.set (or the element's set) when given */
        const void *extra;
        const char *label; /* in range errors, e.g. "vlan id"; defaults to key */
        /* FT_CUSTOM: parse the scalar s into base; on error write the whole
         * message (it is reported at the value) into err and return <0. */
        int (*parse)(const char *s, void *base, const struct field *f, char *err, size_t err_size);
};

/* FT_STR_LIST's extra for a long list (ipset entries): the parser writes the
 * items' text into one block owned by the char * at block_offset, and the
 * kind frees that block and the array, not each item (100,000 strdups and
 * frees were a fifth of a large set's no-change plan). */
struct str_list_block {
        size_t block_offset;
        /* The kind's check finds the list's duplicates itself (a set's entries as
         * numbers) and says so with check_items_unique(); where it does not (an
         * error before it, an entry not a number), the parser finds them after it. */
        bool check_finds_duplicates;
};

/* Lists of mappings (disks, interfaces, reals) and nested mappings (dhcp). */
struct sub_table {
        const struct field *fields;
        size_t n_fields;
        size_t elem_size;
        size_t pos_offset, set_offset; /* of srcpos and the set bits in each element */
        size_t count_offset;           /* of the size_t count, relative to the array pointer */
        const char *what;
};

/* What a kind's check sees of the manifest while it is parsed: the values as
 * written and their places, so that an error points at its key. */
struct check_ctx;
/* "FILE:LINE:COL: error: MSG" at the value of the key with that field bit (0:
 * the resource's name); returns -EINVAL. */
int check_error(struct check_ctx *c, uint64_t bit, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The scalar as written for that key ("" when it is not a scalar). */
const char *check_text(struct check_ctx *c, uint64_t bit);
/* The items of the list under that key: how many, each as written, an error at one. */
size_t check_items(struct check_ctx *c, uint64_t bit);
const char *check_item_text(struct check_ctx *c, uint64_t bit, size_t i);
int check_item_error(struct check_ctx *c, uint64_t bit, size_t i, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* The check looked for duplicates among that list's items and reported them
 * (a list whose struct str_list_block says check_finds_duplicates). */
void check_items_unique(struct check_ctx *c, uint64_t bit);
/* Where item i of that list was written, for errors found after parsing (the resource's place if unknown). */
struct srcpos check_item_pos(struct check_ctx *c, uint64_t bit, size_t i);
/* The resources declared before this one (in this file and the ones read before). */
const struct model *check_declared(struct check_ctx *c);
/* "ADDRESS[/PREFIX]" for a field of that label, with the parser's own
 * messages (for FT_CUSTOM parsers); -EINVAL with the message in err. */
int field_ipaddr(const char *label, const char *s, bool prefix, struct ipaddr *out, char *err, size_t err_size);
/* A user's string fit for a one-line message: control characters become '?'
 * (one static buffer: copy it before a second call). */
const char *printable(const char *s);
/* Strings that reach libvirt XML: escaped there too, but refused at parse time. */
bool xml_safe(const char *s);
/* Sizes with a unit: K, M, G, T, KiB .. TiB (powers of 1024), KB .. TB (powers
 * of 1000, as libvirt reads them) or B. -EDOM for a bare number, -EINVAL for
 * any other unit, -ERANGE past 64 bits. */
int size_parse(const char *s, uint64_t *out);

/* ---- show: live state as manifest YAML, written entry by entry ---- */

struct yw; /* the writer; one string of it is a key or a value */
void yw_word(struct yw *w, const char *s); /* plain: a key, an enum word */
void yw_name(struct yw *w, const char *s); /* quoted when YAML would read it otherwise */
void yw_str(struct yw *w, const char *s);  /* always quoted */
void yw_uint(struct yw *w, unsigned long long v);
void yw_bool(struct yw *w, bool v);
void yw_map(struct yw *w, bool flow);
void yw_seq(struct yw *w, bool flow);
void yw_end_map(struct yw *w);
void yw_end_seq(struct yw *w);
void yw_comment(struct yw *w, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* key: word, key: number, key: boolean, key: quoted string, key: name. */
void yw_kv_word(struct yw *w, const char *k, const char *v);
void yw_kv_uint(struct yw *w, const char *k, unsigned long long v);
void yw_kv_bool(struct yw *w, const char *k, bool v);
void yw_kv_str(struct yw *w, const char *k, const char *v);
void yw_kv_name(struct yw *w, const char *k, const char *v);
/* One resource's entry: held until its end, then written, or, when one of its
 * strings cannot be YAML, a comment in its place. */
void yw_entry_begin(struct yw *w);
void yw_entry_end(struct yw *w, const struct resource *r);
/* A size as an operator writes it: the largest unit that holds it exactly. */
const char *size_text(uint64_t bytes, char *buf, size_t size);

/* What reconcile owns, from the ledger: a veth pair is written under the end it
 * owns (the other end as a NIC under ethernets). NULL: under the end that sorts first. */
struct ledger;
struct run_opts;
struct show_owner {
        const struct ledger *ledger;
        const struct run_opts *opts; /* for the scope of an entry */
};
/* What show is writing: the live model, which of it (pick, NULL: all), whose. */
struct show_ctx {
        const struct model *live;
        bool (*pick)(const struct resource *r, void *u);
        void *u;
        const struct show_owner *owner;
};
/* 0; -EILSEQ when an entry held a string that is not UTF-8 (a comment says
 * so in its place, the rest is written); another negative errno when the
 * emitter failed. */
int show_print_yaml(FILE *f, const struct model *live);
/* Only what pick accepts (all with NULL), plus `state: absent` entries for the absent ones. */
int show_print_yaml_subset(FILE *f, const struct model *live, bool (*pick)(const struct resource *, void *), void *u,
                           const struct resource *const *absent, size_t n_absent, const struct show_owner *owner);

/* ---- kinds: what each kind of resource offers the core, parser and show ---- */

enum {
        KF_REVERTIBLE = 1u << 0,    /* apply --confirm can put it back as it was */
        KF_NEVER_PRUNED = 1u << 1,  /* never deleted for being undeclared (NICs; volumes go with their pool) */
        KF_NEVER_ADOPTED = 1u << 2, /* configured, not owned: a NIC existed before and stays */
        KF_NAME_VALUE = 1u << 3,    /* the section maps names to one scalar each (sysctls) */
        KF_NOT_ABSENT = 1u << 4,    /* state: absent is refused (existing NICs are never deleted) */
        KF_CHILD = 1u << 5,         /* declared only inside its parent's entry (volumes): no section of its own */
        KF_NO_ABSENT_ENTRY = 1u << 6, /* show writes no `state: absent` entry for it (a sysctl goes with its interface) */
        KF_EXISTING = 1u << 7,      /* configures a device that exists, whatever made it; never creates one (NICs) */
        /* Its check reads files besides the manifest (cloud-init seeds): the
         * daemon parses a file declaring one again at every load. */
        KF_CHECK_READS_FILES = 1u << 8,
};

struct backend;
struct action;
struct plan;
struct ledger_entry;
struct change;
struct kind_ops {
        const char *word, *section; /* "bridge", "bridges" */
        const struct backend *backend; /* the library connection that observes and applies it */
        /* What that backend keeps per kind (the link backend: struct link_kind). */
        const void *impl;
        /* Kinds of one name space share names ("interface": links, OVS ports); NULL: its own. */
        const char *name_space;
        uint32_t flags;              /* KF_* */
        unsigned show_rank;          /* sections are written in this order */
        /* Parsing: the keys, defaults (applied before the keys), names. */
        const struct field *fields;
        size_t n_fields;
        void (*defaults)(struct resource *r);
        /* A name a resource of this kind may have; NULL: any 1..name_max bytes
         * without '/' and <>&'" (no length check when name_max is 0). */
        bool (*name_valid)(const char *name);
        size_t name_max;
        const char *name_error; /* the message for a bad name, with one %s for it */
        const char *name_long;  /* after "at most N": why (domains: a file name) */
        /* Semantic checks of one resource a field table cannot express, after its
         * keys are parsed; report through check_error. */
        int (*check)(struct check_ctx *c, struct resource *r);
        /* Optional (the daemon's cached load, an edit inside a long list): into
         * *out a copy of kept, a resource parsed and checked without an error,
         * with the items index[0..n) of its list field bit replaced by
         * text[0..n), each checked exactly as parse and check would. 0, or
         * -EAGAIN for any doubt (an error included, never reported): the file
         * is then parsed whole. */
        int (*patch_list)(const struct resource *kept, uint64_t bit, const size_t *index, const char *const *text,
                          size_t n, struct resource **out);
        /* After every file: checks and implied values across resources, once
         * in each phase of validate_phases (bit N: phase N; 0 first: values
         * later phases read). */
        int (*validate)(struct resource *r, struct model *declared, unsigned phase);
        uint32_t validate_phases;
        /* A child (FT_CHILDREN) learns its parent: a volume its pool. */
        void (*adopt_parent)(struct resource *child, const struct resource *parent);
        /* What a name this kind depends on is to it, in messages ("port", "device");
         * NULL: "parent". */
        const char *dep_role;
        /* KF_EXISTING: why a missing one is not created ("NICs are configured, never created"). */
        const char *never_created;
        /* KF_NOT_ABSENT: why state: absent is refused ("existing NICs are never deleted"). */
        const char *never_absent;
        /* What a live resource of this name space is, when it is not of the
         * declared kind ("a vlan device"): the kernel's word for it. NULL: its kind. */
        const char *(*device_type)(const struct resource *live);
        /* The live resource's master (a bridge or bond port's), named when a
         * change would take it: NULL for none. */
        const char *(*master_of)(const struct resource *live);
        /* Plan and apply, with the state of the kind's backend. */
        /* Names of the resources r needs to exist first (ports, parents); the
         * core checks them and orders actions by them. */
        void (*deps)(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);
        /* Fill a->changes with what differs between want and live (both set)
         * and a->op (UPDATE or REPLACE); leave no changes when in sync.
         * owned is the ledger entry, or NULL for a not yet managed object. */
        int (*diff)(void *state, const struct resource *want, const struct resource *live,
                    const struct ledger_entry *owned, struct action *a, struct plan *p);
        /* Optional: the name a desired resource has in the live model and the
         * ledger, for kinds the kernel knows by a key, not a name (IPVS). */
        const char *(*identity)(const struct resource *want, char *buf, size_t size);
        /* Optional: refuse a desired resource this host cannot have, with the
         * backend's state (parse-time checks are `check`) (report it
         * with its position and return <0); it is then skipped. */
        int (*admit)(void *state, const struct resource *want);
        /* Optional: a declared object that does not exist but that another
         * declared object makes with itself (a veth's peer, declared under
         * ethernets): a new resource as it will be right after that create, or
         * NULL. Its dependencies order it (a NIC needs the veth that makes it). */
        struct resource *(*made_with)(const struct resource *want, const struct model *wanted);
        /* Optional: what a create of want will set, through action_add_set. */
        void (*describe)(const struct resource *want, struct action *a);
        /* Optional: the words of one side of a change whose value is VAL_INDEX
         * or VAL_SPEC, or whose words need the resource (a drain's seconds):
         * >0 written to buf, 0 no value on that side, <0 the value's own words. */
        int (*change_words)(const struct action *a, const struct change *c, bool now, char *buf, size_t size);
        /* Optional: what the kernel removes with live when live is deleted or
         * replaced (a veth's peer). The core names it in the plan, and refuses
         * the action when the manifests declare it. */
        void (*takes_with)(const struct resource *live, void (*add)(void *u, enum kind k, const char *name), void *u);
        /* Optional: why a live object is not reconcile's to delete even when
         * declared absent (an OVS bridge it did not make), or NULL. */
        const char *(*refuses_delete)(const struct resource *live);
        /* Flag a connectivity risk in a->risk, given the live model. Optional.
         * state is NULL in a plan against a snapshot (plan --live): no host to ask. */
        void (*assess)(void *state, struct action *a, const struct model *live);
        /* Execute one action; record what is needed to undo it in e. A create
         * that takes several requests is all or nothing: when one fails, it
         * removes what it made, or it keeps it and calls ledger_mark_incomplete()
         * so that the next run finishes or removes it; never a half-made object
         * that nobody owns. */
        int (*apply)(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e);
        /* Free what the spec owns (not the resource itself). */
        void (*free)(struct resource *r);
        /* Show: write one live resource's entry; NULL for kinds with none. */
        void (*show)(struct yw *w, const struct resource *r, const struct show_ctx *s);
        /* The name of an entry and the keys that name it (routes, services),
         * leaving its mapping open; NULL: the name, then a flow mapping. */
        void (*show_key)(struct yw *w, const struct resource *r);
        /* Which section a live resource is written under: its own kind, another
         * (a veth's second end, as a NIC) or _KIND_INVALID (not written). NULL: its own. */
        enum kind (*show_as)(const struct resource *r, const struct show_ctx *s);
        /* A snapshot's entry (show's YAML read back by the parser) made as observe
         * would have made it: what show leaves implied (a link's addresses are the
         * static ones). NULL: the parsed resource is as observed. */
        void (*from_snapshot)(struct resource *r);
        /* What a snapshot carries of a live entry that its YAML cannot say (a
         * module loaded, its parameters): put(u, key, value) for each; and
         * snapshot_fact takes one back, 0 or -EBADMSG. NULL: none. */
        void (*snapshot_facts)(const struct resource *r, void (*put)(void *u, const char *key, const char *value),
                               void *u);
        int (*snapshot_fact)(struct resource *r, const char *key, const char *value);
};
/* The registry (backends/registry.c): one entry per kind, indexed by kind. */
extern const struct kind_ops *const kind_registry[_KIND_MAX];
static inline const struct kind_ops *kind_ops(enum kind k) {
        return kind_registry[k];
}
/* The kind of a table (a child's, named by its parent's FT_CHILDREN field). */
enum kind kind_of_ops(const struct kind_ops *ops);

/* ---- the ledger: what reconcile created or adopted, per scope ---- */

struct kv { char *key, *value; };
struct ledger_entry {
        char *scope;
        enum kind kind;
        char *name;
        struct kv *attrs;
        size_t n_attrs;
        bool gone; /* removed in this run; dropped on write */
};
struct ledger {
        char *path;
        struct ledger_entry *v;
        size_t n;
        struct hindex index; /* by key, private to ledger.c */
        bool dirty;
};
int ledger_load(struct ledger *l, const char *state_dir); /* a missing file is empty; a torn one is an error */
int ledger_save(struct ledger *l);                        /* atomic: temp, fsync, rename, fsync dir */
void ledger_done(struct ledger *l);
struct ledger_entry *ledger_find(struct ledger *l, const char *scope, enum kind k, const char *name);
struct ledger_entry *ledger_add(struct ledger *l, const char *scope, enum kind k, const char *name);
/* The entry is no longer found, but a NIC's MACs ("mac.N") stay in the file
 * with it: ledger_add of the same object brings them back (a re-created guest
 * keeps its DHCP leases). */
void ledger_remove(struct ledger *l, struct ledger_entry *e);
const char *ledger_get(const struct ledger_entry *e, const char *key);
void ledger_set(struct ledger *l, struct ledger_entry *e, const char *key, const char *value); /* NULL value unsets */
/* Attributes that hold names (a bridge's ports): any name, commas included,
 * reads back as it was set. An empty list unsets the attribute. */
void ledger_set_list(struct ledger *l, struct ledger_entry *e, const char *key, const struct str_list *names);
void ledger_get_list(const struct ledger_entry *e, const char *key, struct str_list *out); /* appends */
bool ledger_list_contains(const struct ledger_entry *e, const char *key, const char *name);
/* A create that failed after it made its object keeps the object as reconcile's
 * (the intent mark goes, so a prune may delete it) and says what is left to
 * do: the next plan shows that with the update that finishes the object. */
void ledger_mark_incomplete(struct ledger *l, struct ledger_entry *e, const char *what);

/* ---- state dir, lock and manifest permission checks ---- */

int state_dir_check(const char *dir);          /* owned by the runner, mode 0700; created if missing */
int lock_take(const char *dir, int timeout_s, int *fd); /* exclusive, waits up to timeout_s */
void lock_release(int *fd);
int path_check_private(const char *path, bool is_dir); /* owned by the runner, no group/other write */
/* The one rule for what decides what reconcile changes (manifests, their
 * directory, the state directory): st, read from path, is the runner's and no
 * one else may write it; the state directory, which decides what may be
 * deleted, must have mode 0700. Reports and returns -EPERM. */
struct stat;
int stat_check_private(const char *path, const struct stat *st, bool state_dir);

/* ---- plan ---- */

enum op { OP_CREATE, OP_UPDATE, OP_REPLACE, OP_DELETE, OP_ADOPT, _OP_MAX, _OP_INVALID = -1 };
const char *op_to_string(enum op o);
const char *op_symbol(enum op o);

/* A change's old and new value, typed: apply reads them, and cmd/output.c
 * makes the words a person reads from them (never the other way round).
 * VAL_INDEX is into the live (was) or desired (now) resource's list the
 * change names (a disk, a NIC, a real server); VAL_SPEC says the value is
 * the resource's own (live for was, desired for now) and VAL_INDEX and
 * VAL_SPEC are put into words by the kind's change_words. */
enum value_type { VAL_NONE, VAL_NUMBER, VAL_SIZE, VAL_BOOL, VAL_ADDR, VAL_PREFIX, VAL_MAC, VAL_TEXT, VAL_WORD,
                  VAL_INDEX, VAL_SPEC };
struct value {
        enum value_type type;
        union {
                uint64_t number;  /* VAL_NUMBER; VAL_SIZE: bytes */
                bool boolean;
                struct ipaddr addr; /* VAL_ADDR: the address; VAL_PREFIX: with its prefix */
                unsigned char mac[6];
                char *text; /* VAL_TEXT: a name, path or value that is text; the change owns it */
                struct {
                        const struct enum_table *table;
                        int value;
                } word; /* VAL_WORD: one of an enum's values */
                size_t index;
        };
};
static inline struct value value_number(uint64_t n) { return (struct value) { .type = VAL_NUMBER, .number = n }; }
static inline struct value value_size(uint64_t n) { return (struct value) { .type = VAL_SIZE, .number = n }; }
static inline struct value value_bool(bool b) { return (struct value) { .type = VAL_BOOL, .boolean = b }; }
static inline struct value value_addr(const struct ipaddr *a) { return (struct value) { .type = VAL_ADDR, .addr = *a }; }
static inline struct value value_prefix(const struct ipaddr *a) { return (struct value) { .type = VAL_PREFIX, .addr = *a }; }
static inline struct value value_word(const struct enum_table *t, int v) {
        return (struct value) { .type = VAL_WORD, .word = { t, v } };
}
static inline struct value value_index(size_t i) { return (struct value) { .type = VAL_INDEX, .index = i }; }
static inline struct value value_spec(void) { return (struct value) { .type = VAL_SPEC }; }
#define VALUE_NONE ((struct value) { .type = VAL_NONE })
/* Text: copied by action_add_change; NULL or "" is no value. */
static inline struct value value_text(const char *s) {
        return s && *s ? (struct value) { .type = VAL_TEXT, .text = (char *) s } : VALUE_NONE;
}
struct value value_mac(const unsigned char mac[6]);

struct change {
        uint64_t field; /* the kind's field bit, for the backend's apply */
        char *name;     /* the manifest key, or the key of an item of a list ("real 10.0.0.1:80") */
        struct value was, now; /* VAL_NONE: none (added, or removed) */
};

struct backend;
struct action {
        enum op op;
        enum kind kind;
        char *name; /* as the manifests name it */
        char *key;  /* as the live model and the ledger know it (= name for most kinds) */
        struct srcpos pos;
        const struct resource *want; /* NULL for delete */
        const struct resource *live; /* NULL for create */
        /* The ledger entry at plan time, NULL if not managed yet; a ledger_add
         * moves entries, so apply sees it refreshed and it is NULL after. */
        const struct ledger_entry *owned;
        struct change *changes;
        size_t n_changes;
        char *reason;
        char *risk; /* connectivity risk, flagged in the plan */
        /* A create: what it will set (ports, addresses, MTU), for people (-v, JSON);
         * apply reads the desired resource, not these. */
        struct change *sets;
        size_t n_sets;
        const struct backend *backend;
        int result; /* after apply: 0 done, <0 failed, 1 not run */
};
struct change *action_add_change(struct action *a, uint64_t field, const char *name, struct value was, struct value now);
void action_add_set(struct action *a, uint64_t field, const char *name, struct value v);
/* Flag a connectivity risk in the plan (a->risk), joined to those before with "; ". */
void action_add_risk(struct action *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct pending {
        enum kind kind;
        char *name;
        char *reason;
        char *until;
};

struct plan {
        struct action *actions;
        size_t n_actions;
        struct pending *pending;
        size_t n_pending;
        unsigned n_errors; /* resources skipped for plan-time errors */
        /* The mass-delete guard: in the scope where prunes are more than half of
         * what could be pruned, both counts; n_deletes is 0 when no scope is. */
        size_t n_managed_in_scope, n_deletes;
        bool mass_delete_refused; /* and --allow-mass-delete was not given: apply refuses */
};
void plan_done(struct plan *p);
void plan_add_pending(struct plan *p, enum kind k, const char *name, const char *reason, const char *until);
void plan_count(const struct plan *p, unsigned counts[_OP_MAX]);

/* ---- backends ---- */

enum scope_type { SCOPE_NETNS, SCOPE_LIBVIRT };

struct backend_ctx {
        const char *netns;      /* NULL: the caller's namespace */
        const char *libvirt_uri;
        const char *state_dir;
        const char *ovsdb; /* the ovsdb-server socket; NULL: /run/openvswitch/db.sock */
};
/* Whether --netns names a namespace that exists: one error, before any backend tries it. */
int netns_check(const char *netns);

/* What each backend offers the core. The core calls nothing else. */
struct status; /* reconcile/status.c, below */

struct backend {
        const char *name;
        enum scope_type scope;
        /* Connect; *state is handed to every other call. */
        int (*open)(const struct backend_ctx *ctx, void **state);
        /* Free everything open() made. Accepts NULL. */
        void (*close)(void *state);
        /* Add the live objects of the backend's kinds to live. With reads_by_name,
         * names lists what the manifests and the ledger name of those kinds: the
         * backend reads those one by one (sysctls) instead of listing them all. */
        int (*observe)(void *state, const struct str_list *names, struct model *live);
        bool reads_by_name;
        /* Optional, for verification: observe again only these objects (the
         * desired or live resource of each action just applied), adding what
         * exists of them to live. Without it the backend is observed whole. */
        int (*observe_some)(void *state, const struct resource *const *objs, size_t n, struct model *live);
        /* Optional, for scoped runs: add the object of presumed (the desired
         * resource the last run made it) as it is, reading only what is cheap
         * (an ipset's header: type, parameters, references, number of entries)
         * and taking the rest from presumed; what was read disagreeing with
         * presumed (another number of entries), the object is read whole. */
        int (*observe_presumed)(void *state, const struct resource *presumed, struct model *live);
        /* Removals of this backend's kinds run after the creates and updates
         * (a route moves to its new metric before the old one goes). */
        bool delete_last;
        /* Optional, for the daemon: a watch of its own (*watch) and an fd that
         * becomes readable when live state may have drifted (returned), a drain
         * that consumes what is queued on it, and a close that frees it all
         * (NULL: closing the fd is all). */
        int (*watch_open)(const struct backend_ctx *ctx, void **watch);
        int (*watch_drain)(void *watch, int fd);
        void (*watch_close)(void *watch, int fd);
        /* Optional, for the daemon, for kinds the kernel announces no change of
         * (ipsets): a cheap digest of the declared objects as they are now. The
         * daemon calls it every poll interval on a state of its own; a changed
         * digest is drift. */
        int (*poll_digest)(void *state, const struct model *want, uint64_t *digest);
        /* Optional, for the daemon: work of the backend's own between runs that
         * may move what is wanted (IPVS health checks): open it (the fd to poll,
         * *work for the rest), follow the wanted model after each run, run it
         * when its fd is readable; > 0 from follow or run: a run is due. */
        int (*work_open)(const struct backend_ctx *ctx, const char *state_dir, void **work);
        int (*work_follow)(void *work, const struct model *want);
        int (*work_run)(void *work);
        /* Optional: what the work knows of want's resources, into the status (health check rows). */
        void (*work_status)(void *work, const struct model *want, struct status *s);
        /* Optional: true when what work_status shows changed without a run
         * (a result, a count toward rise or fall), at most about once a second. */
        bool (*work_status_due)(void *work);
        void (*work_close)(void *work);
        /* Optional: a run of consecutive actions of this backend is one batch
         * (OVSDB: one transaction). After batch_begin, an apply that returns 0
         * has only queued its action; batch_commit sends them all and returns
         * 0 or a negative errno that fails every one of them; -EAGAIN says
         * what the plan read has changed, nothing was written, and the pass
         * plans again (once). others_follow: actions of other backends come
         * after the batch, and may use what it made (a guest on a new OVS
         * bridge), so what it made must be there when the commit returns.
         * *incomplete, set with a negative return: the batch was written and
         * what follows the write did not finish (ovs-vswitchd did not apply
         * the transaction); it says so in words that outlive the call. Every
         * action still fails (what depends on it is not run), but what each
         * create made is reconcile's, marked incomplete for the next run. */
        void (*batch_begin)(void *state);
        int (*batch_commit)(void *state, bool others_follow, const char **incomplete);
};

extern const struct backend *const backends[];
extern const size_t n_backends;
const struct backend *backend_for_kind(enum kind k);
/* Whether b observes and applies kind k (its kind_ops say so). */
bool backend_serves(const struct backend *b, enum kind k);

/* ---- the run: observe, plan, apply, verify ---- */

struct run_opts {
        const char *state_dir;
        struct backend_ctx ctx;
        uint32_t only_kinds; /* 0 = all */
        bool allow_mass_delete;
        bool dry_run;
        bool no_prune; /* a revert: restore what it names, delete nothing else */
        bool no_adopt; /* a revert: what it puts back was not ours, and does not become ours */
        /* A scoped run (the daemon, after a manifest edit): a pass plans its
         * want (the scope's resources), observes and prunes only the scope. */
        struct edit_scope *edit;
        /* Asked before each action; true stops the apply there (SIGTERM in the daemon). */
        bool (*should_stop)(void);
        /* plan --live: the live model is a snapshot and no backend is open, so
         * the checks that ask the host (admit, assess) are not made. */
        bool offline;
};

struct run {
        const struct run_opts *opts;
        struct model *want;
        struct model live;
        struct ledger *ledger;
        struct plan plan;
        /* Live resources a verification replaced: the applied plan's actions
         * still point at them, so they are freed with the run, not before. */
        struct resource **retired;
        size_t n_retired;
        void *bstate[16];
        bool bopen[16];
        /* A batch failed on what changed since the plan: worth one re-plan. */
        bool replan;
};

int run_observe(struct run *r);
/* What the manifests and the ledger name of b's kinds in r's scopes: what a
 * backend that reads by name is asked for. */
void run_names_for(const struct run *r, const struct backend *b, struct str_list *out);
int run_plan(struct run *r);
int run_check_mass_delete(const struct run *r);
/* A failed action stops only the actions that depend on it (they stay "not
 * run"); the rest of the plan goes on. Returns the first failure. */
int run_apply(struct run *r);
int run_verify(struct run *r, struct plan *residual);
void run_done(struct run *r);
const char *scope_of(const struct run_opts *o, enum kind k, char *buf, size_t size);

/* The daemon's view of the backends: one watch fd per backend that has one. */
struct watch {
        const struct backend *backend;
        void *state; /* the backend's, for drain and close */
        int fd;
};
/* What is queued on w's fd: >0 when something may have drifted. */
int run_watch_drain(struct watch *w);
/* Open the watches of the backends that want names a kind of and that are not
 * in w[0..*n) yet; returns how many were added. */
size_t run_watch_open(const struct run_opts *o, const struct model *want, struct watch *w, size_t *n, size_t max);
void run_watch_close(struct watch *w, size_t n);

/* Scoped runs (reconcile/scope.c): what a manifest edit touches. The resources
 * that differ between the last applied model and the new one (added, removed,
 * a field changed), what depends on them, and what they depend on. A run over
 * the scope plans what a full run would, as long as the host outside the scope
 * is as the last run left it (in sync): drift and resyncs run in full. */
struct edit_scope {
        struct model keys; /* stubs: the (kind, name) and live key of each resource in scope */
        struct model want; /* the new model's resources in scope, borrowed */
        const struct model *all; /* the whole new model: what a delete may take with it is looked up there */
        /* What the backends read: desired or formerly desired resources, or
         * keys' stubs for what is named but not declared. */
        const struct resource **objs;
        /* For each of objs, the last applied model's resource of that name: what
         * the host holds of it, the last run having ended in sync (NULL: new). */
        const struct resource **presumed;
        size_t n_objs;
        size_t n_changed; /* resources added, removed or edited */
        size_t n_removed; /* of those, removed (or now of another kind) */
};
/* Field by field through the kind's table, as parsed (defaults applied). */
bool resource_equal(const struct resource *a, const struct resource *b);
int edit_scope_compute(const struct model *before, const struct model *after, struct edit_scope *s);
void edit_scope_done(struct edit_scope *s);
bool edit_scope_has(const struct edit_scope *s, enum kind k, const char *name);
/* Whether a scoped run reads backend b: it serves something in scope, or it
 * cannot read objects one by one and another such backend does. */
bool edit_scope_observes(const struct edit_scope *s, const struct backend *b);
/* Read the scope's objects of b's kinds: observe_presumed for those the last
 * applied model has, observe_some for the others. */
int edit_scope_observe(const struct edit_scope *s, const struct backend *b, void *state, struct model *live);
/* Verification: the objects of b an apply touched; a desired one is presumed
 * to be as desired (observe_presumed checks what it can read cheaply). */
int edit_scope_verify(const struct edit_scope *s, const struct backend *b, void *state,
                      const struct resource *const *objs, size_t n, struct model *live);
/* The mass-delete guard as a full run would count it: every owned object. */
void edit_scope_mass_delete(const struct edit_scope *s, struct run *r);

/* Small files in the state dir (reconcile/fileio.c). The one writer of the
 * ledger, the checkpoint and the hold: PATH.tmp, write, fsync, rename, fsync
 * of the directory. what names the file in errors ("the ledger"); NULL names
 * only the path. Reports and returns a negative errno. */
int file_write_atomic(const char *path, const char *data, size_t len, const char *what);
/* The whole file, NUL-terminated; NULL (errno set) when it cannot be read. */
char *file_read(const char *path);
/* "key=value" lines whose values hold any string: '%' and control bytes are
 * %XX-escaped, so that a value is one line whatever name it carries. */
char *record_escape(const char *s);
int record_unescape(char *s); /* in place; -EINVAL for a bad escape or a NUL */
/* A copy of the raw (still escaped) value of the first "key=" line at or
 * after text, or NULL; *next (if given) is set past that line, NULL if none. */
char *record_value(const char *text, const char *key, const char **next);

/* One pass of apply, plan or the daemon (reconcile/pass.c): lock, put back an
 * unconfirmed change a dead run left, refuse a held revision, load the
 * ledger, observe, plan, guard against mass deletes, write the checkpoint
 * (apply --confirm), apply, verify; then wait for the confirmation and keep
 * or revert. Nothing here prints a plan: the caller's report hook does. */
enum { PASS_OK = 0, PASS_ERROR = 1, PASS_PENDING = 2 }; /* the command's exit status */

enum pass_event {
        PASS_PLANNED,      /* the plan, before anything is applied */
        PASS_ACTED,        /* the actions ran (each has its result); verification follows */
        PASS_APPLIED,      /* verified; failed says whether an action or the verification failed */
        PASS_STOPPED,      /* stopped before applying (refused, held, locked, a cycle), unless a dry run planned */
        PASS_NOT_REVERTED, /* apply --confirm: an action of a kind a checkpoint cannot put back */
};

struct pass_report {
        enum pass_event event;
        const struct plan *plan;
        const struct action *action; /* PASS_NOT_REVERTED */
        bool dry_run;
        bool revert; /* the pass that puts a checkpoint back */
        bool failed; /* PASS_APPLIED */
        const struct plan *residual; /* PASS_APPLIED: what the verification still found to do (did not converge) */
};

struct pass_opts {
        struct run_opts run;  /* run.dry_run: plan only, take no lock, write nothing */
        const char *digest;   /* of the manifests: the hold and the checkpoint name it; NULL: no hold check */
        int lock_timeout;     /* seconds to wait for another run's lock */
        bool exit_code;       /* a dry run: PASS_PENDING when changes are pending */
        int confirm_seconds;  /* apply --confirm: 0 = off */
        bool confirm_partial; /* apply --confirm: revert what can be, keep the rest */
        void (*report)(void *u, const struct pass_report *rep);
        /* apply --confirm, once applied: 0 keeps the change, 1 puts it back. */
        int (*wait)(void *u, int seconds);
        void *u;
};

struct pass_result {
        int status;          /* PASS_* */
        size_t n_actions;    /* planned */
        size_t n_done;       /* applied */
        size_t n_pending;
        bool observe_failed; /* a backend could not be reached */
        bool held;           /* this manifest revision was reverted and is held */
};

void pass_run(const struct pass_opts *o, struct model *want, struct pass_result *res);
/* `reconcile confirm`: tell the waiting apply --confirm to keep its change. */
int checkpoint_confirm(const char *state_dir);
/* Whether `reconcile confirm` came for the change that waits. */
bool checkpoint_confirmed(const char *state_dir);
/* `reconcile release`: 1 released, 0 nothing was held, or a negative errno (reported). */
int hold_release(const char *state_dir, int lock_timeout);
/* What a change adopted, which its revert gives back: one "adopted=KIND/NAME"
 * line each in the checkpoint, NAME escaped (checkpoint format 2). */
char *checkpoint_adopted_line(enum kind k, const char *name);
/* fn for each adopted resource in a checkpoint's metadata; format 1 (no
 * "format=" line) joined them with commas in one line. -EBADMSG for a bad
 * escape or a format this reconcile does not know. */
int checkpoint_adopted_each(const char *meta, void (*fn)(void *u, enum kind k, const char *name), void *u);

/* The status of the host (reconcile/status.c): what `reconcile status`
 * prints, the daemon's status file and the Prometheus textfile. Built from
 * each pass's plan and result; counters carry over from the last file. */
enum res_status { RES_IN_SYNC, RES_PENDING, RES_FAILED, _RES_STATUS_MAX, _RES_STATUS_INVALID = -1 };
const char *res_status_to_string(enum res_status s);
enum condition { COND_READY, COND_PROGRESSING, COND_DEGRADED, COND_DRIFTED, COND_HELD, _COND_MAX,
                 _COND_INVALID = -1 };
const char *condition_to_string(enum condition c);

/* A health check of one part of a resource (a service's real), as the daemon's checker last saw it. */
struct status_check {
        char *item;   /* "real 10.0.0.1:80" */
        char *check;  /* the check's key: "tcp 10.0.0.1:80" */
        char *result; /* the last result: "connected", "Connection refused", "HTTP 503" */
        bool up;
        int64_t since; /* of up or down (Unix seconds) */
        unsigned restarts; /* found stuck and started over */
        unsigned toward;   /* results in a row toward the other state: passes when down, failures when up */
};

struct status_resource {
        enum kind kind;
        char *name;
        enum res_status state;
        char *reason;   /* pending: why; failed: the error; NULL in sync */
        char *until;    /* pending: what it waits for, if said */
        int64_t since;  /* pending or failed: since when (Unix seconds) */
        uint64_t repairs; /* drift repairs under the current revision */
        struct status_check *checks; /* the daemon adds them after each run */
        size_t n_checks;
};

struct status_condition {
        bool on;
        char *reason;  /* CamelCase, as Kubernetes conditions */
        char *message;
        int64_t since; /* when it last changed */
};

struct status {
        char *revision;        /* the Git commit of the manifest checkout, else the digest */
        char *revision_source; /* "git" or "digest" */
        char *digest;
        char *trigger;         /* what started the last run: "start", "drift", "apply" */
        char *result;          /* "in-sync", "applied", "errors", "held", "invalid" */
        int64_t last_run, last_success; /* Unix seconds; 0 never */
        double run_seconds;
        uint64_t runs;
        struct status_condition cond[_COND_MAX];
        struct status_resource *res;
        size_t n_res;
        uint64_t repairs_total[_KIND_MAX]; /* a counter: never goes down while the file lives */
        /* What the current pass reported, before status_record folds it in. */
        struct status_resource *seen;
        size_t n_seen;
};

/* What one pass was, for status_record. want NULL: the manifests were invalid. */
struct status_run {
        const char *revision, *revision_source, *digest, *trigger;
        const struct model *want;
        const struct pass_result *res;
        int64_t started;
        double seconds;
        const char *reverted; /* the run put its change back: why ("probe gateway failed: ..."); NULL not */
};

/* The revision of the manifests in dir: the commit HEAD names when dir is a
 * Git checkout (read from .git, no git binary), else the digest. */
char *status_revision(const char *dir, const char *digest, const char **source);
/* The pass's report hook calls this: actions and pending items of the plan. */
void status_observe(struct status *s, const struct pass_report *rep, const struct str_list *errors);
void status_record(struct status *s, const struct status_run *run);
/* A pending item from elsewhere (a health checker's real that is down): shown
 * as pending with its reason and since-time; replaces the entry of that name. */
void status_add_pending(struct status *s, enum kind k, const char *name, const char *reason, int64_t since);
/* A health check row of resource k name (its strings copied); the daemon's
 * backend work adds them after status_record, before the file is written. */
void status_add_check(struct status *s, enum kind k, const char *name, const struct status_check *row);
/* Every resource's check rows dropped: the work's rows replace them between runs. */
void status_clear_checks(struct status *s);
/* Manifests that do not parse: not Ready, Degraded, result "invalid"; the rest stays. */
void status_mark_invalid(struct status *s, const char *message, int64_t now);
/* Counters, the revision and the conditions' since-times of a status file, to carry on. */
int status_load(struct status *s, const char *path);
char *status_json(const struct status *s);
char *status_metrics(const struct status *s);
char *status_summary(const struct status *s); /* one line, for sd_notify STATUS= */
/* The status file and, when metrics_dir is set, metrics_dir/reconcile.prom; atomically. */
int status_write(const struct status *s, const char *path, const char *metrics_dir);
void status_done(struct status *s);

/* Snapshots (reconcile/snapshot.c): `show --snapshot` writes the live state as
 * manifest YAML and, in comment lines, the scope it was read in, the kinds it
 * covers (those of the backends it read that list their objects) and the
 * ledger; `plan --live FILE` plans against it with no backend open. */
struct snapshot {
        struct model live;
        struct ledger ledger;
        char *netns, *libvirt_uri; /* the scope show ran in; NULL: the defaults */
        char *hostname;            /* of the host show ran on, for the manifests' host: globs */
        uint32_t kinds;            /* covered */
        char **files;              /* what the live model's positions point to */
        size_t n_files;
        char *path;
        /* Of the backends that read by name: "BACKEND/NAME" of each name show
         * asked, there or not; a declared name it did not ask is not planned. */
        struct str_list read_names;
        struct strset read; /* over read_names */
        /* What the host refused of them when show ran ("BACKEND/NAME", and its
         * words): plan --live says the same error instead of planning it. */
        struct str_list refused, refused_why;
        struct resource **unread; /* those, taken out of the manifests' model */
        size_t n_unread;
};
/* After show has written the YAML of run's live model. */
int snapshot_write_trailer(FILE *f, const struct run *run);
int snapshot_load(const char *path, struct snapshot *s);
/* Make run a dry, offline run over the snapshot: its live model moves into
 * run (run_done frees it; s keeps the file names, so snapshot_done after it). */
void snapshot_run(struct snapshot *s, const struct run_opts *base, struct run_opts *opts, struct model *want,
                  struct run *run);
void snapshot_done(struct snapshot *s);

/* Probes for confirmed applies (reconcile/probe.c): apply --confirm and the
 * daemon with --probe keep a change only when the probes that passed before
 * it pass after it. Each runs in a child inside the run's namespace. */
enum probe_type { PROBE_GATEWAY, PROBE_DNS, PROBE_TCP, PROBE_EXEC, _PROBE_TYPE_MAX, _PROBE_TYPE_INVALID = -1 };
extern const struct enum_table probe_type_table;
struct probe {
        enum probe_type type;
        char *spec;       /* as given: "tcp:10.0.0.1:22" */
        char *arg;        /* after the first colon */
        char *host, *port; /* tcp */
        bool passed_before, passed_after;
        char *error;      /* of the last run that failed */
};
/* "gateway", "dns:NAME", "tcp:HOST:PORT", "exec:COMMAND"; reports a bad one. */
int probe_parse(const char *spec, struct probe *p);
/* 0 passed; else a negative errno and p->error says why. */
int probe_run(struct probe *p, const char *netns, int timeout_ms);
/* Before the change: which pass (each failing one is tried three times). */
void probes_before(struct probe *v, size_t n, const char *netns, int timeout_ms);
/* After the change: the probes that passed before are run until each has
 * passed (NULL) or seconds are over (the first that still fails). */
struct probe *probes_confirm(struct probe *v, size_t n, const char *netns, int seconds, bool (*stop)(void));
void probe_done(struct probe *p);
