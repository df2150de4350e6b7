/* libvirt networks, storage pools, volumes and domains through libvirt's C API.
 * Changes go live where libvirt can take them and always to the persistent
 * definition; what needs a restart is a pending item, never a restart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cloudinit.h"
#include "domain-tuning.h"
#include "kind.h"
#include "libvirt-dl.h"
#include "image.h"

struct lv_state {
        virConnectPtr conn;
        char uri[512];
        char domain_type[16];
        /* Where libvirtd's bridges and the guests' taps are: the host's namespace,
         * or the one --netns names with a daemon's socket. Opened when first needed. */
        char netns[256];
        struct rtnl nl;
        int nl_state; /* 0 not tried, 1 open, -1 failed (said once) */
};

static void lv_quiet(void *u, virErrorPtr e) {
        (void) u;
        (void) e; /* errors are reported once, with the resource, by the caller */
}

static const char *lv_msg(void) {
        const char *m = virGetLastErrorMessage();
        return m ? m : "unknown libvirt error";
}

int lv_fail(const char *kind, const char *name, const char *what) {
        return diag_res(-EIO, kind, name, "%s: %s", what, lv_msg());
}

/* kvm when libvirt offers it, else qemu (TCG), else what the driver has (test). */
static void pick_domain_type(struct lv_state *s) {
        char *caps = virConnectGetDomainCapabilities(s->conn, NULL, "x86_64", NULL, "kvm", 0);
        if (caps) {
                free(caps);
                snprintf(s->domain_type, sizeof(s->domain_type), "kvm");
                return;
        }
        caps = virConnectGetCapabilities(s->conn);
        struct xr *x = caps ? xr_parse(caps) : NULL;
        free(caps);
        if (x && xr_count(x, "/capabilities/guest/arch/domain[@type='qemu']"))
                snprintf(s->domain_type, sizeof(s->domain_type), "qemu");
        else if (x) {
                _cleanup_free_ char *t = xr_str(x, "/capabilities/guest[1]/arch/domain[1]/@type");
                snprintf(s->domain_type, sizeof(s->domain_type), "%s", *t ? t : "qemu");
        } else
                snprintf(s->domain_type, sizeof(s->domain_type), "qemu");
        xr_free(x);
}

static int lv_open(const struct backend_ctx *ctx, void **state) {
        const char *uri = ctx->libvirt_uri ? ctx->libvirt_uri : "qemu:///system";
        /* libvirtd lives in the host's namespace and cannot see another one's bridges.
         * A URI naming a daemon's socket is the operator pointing at a daemon they
         * know to live in that namespace (tests run one inside a private namespace). */
        if (ctx->netns && strncmp(uri, "test:", 5) != 0 && !strstr(uri, "socket="))
                return diag_plain(-EINVAL,
                                  "libvirt backend: --netns %s with %s: libvirtd cannot see another network namespace; "
                                  "use a test:// URI or leave the libvirt kinds out (--only)",
                                  ctx->netns, uri);
        int r = libvirt_dl_load(); /* here, not at start: a host without libvirt kinds never maps it */
        if (r < 0)
                return r;
        virSetErrorFunc(NULL, lv_quiet);
        struct lv_state *s = xcalloc(1, sizeof(*s));
        snprintf(s->uri, sizeof(s->uri), "%s", uri);
        if (ctx->netns)
                snprintf(s->netns, sizeof(s->netns), "%s", ctx->netns);
        s->conn = virConnectOpen(uri);
        if (!s->conn) {
                r = diag_plain(-ECONNREFUSED, "libvirt backend: cannot connect to %s: %s", uri, lv_msg());
                free(s);
                return r;
        }
        pick_domain_type(s);
        *state = s;
        return 0;
}

static void lv_close(void *state) {
        struct lv_state *s = state;
        if (!s)
                return;
        virConnectClose(s->conn);
        if (s->nl_state == 1)
                rtnl_close(&s->nl);
        free(s);
}

/* The rtnetlink socket in libvirtd's namespace, or NULL: the test driver has
 * no kernel devices, and a socket that cannot be opened was reported once. */
static struct rtnl *lv_rtnl(struct lv_state *s) {
        if (strncmp(s->uri, "test:", 5) == 0)
                return NULL;
        if (s->nl_state == 0)
                s->nl_state = rtnl_open(&s->nl, s->netns[0] ? s->netns : NULL, "libvirt") < 0 ? -1 : 1;
        return s->nl_state == 1 ? &s->nl : NULL;
}

/* ---- the taps of running guests on a network's bridge ---- */

/* Calls fn(u, network, tap) for every interface of a running domain that is on
 * a libvirt network and has a tap: libvirt re-adds a tap to its bridge when the
 * guest starts, not when the network is restarted under it. */
static void each_network_tap(struct lv_state *s, void (*fn)(void *u, const char *network, const char *tap), void *u) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(s->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        for (int i = 0; i < n; i++) {
                char *xml = virDomainGetXMLDesc(doms[i], 0);
                struct xr *x = xml ? xr_parse(xml) : NULL;
                int nics = x ? xr_count(x, "/domain/devices/interface") : 0;
                for (int j = 1; j <= nics; j++) {
                        _cleanup_free_ char *type = xr_str(x, "/domain/devices/interface[%d]/@type", j);
                        _cleanup_free_ char *net = xr_str(x, "/domain/devices/interface[%d]/source/@network", j);
                        _cleanup_free_ char *tap = xr_str(x, "/domain/devices/interface[%d]/target/@dev", j);
                        if (strcmp(type, "network") == 0 && *net && *tap)
                                fn(u, net, tap);
                }
                xr_free(x);
                free(xml);
                virDomainFree(doms[i]);
        }
        free(doms);
}

/* The bridge's ifindex and the tap's master: both > 0 and different is a tap
 * off its bridge. A bridge or tap not in our namespace is neither. */
static bool tap_is_off(struct rtnl *t, const char *bridge, const char *tap, int *br_index, int *tap_index) {
        *br_index = rtnl_ifindex(t, bridge);
        *tap_index = rtnl_ifindex(t, tap);
        if (*br_index <= 0 || *tap_index <= 0)
                return false;
        int m = rtnl_link_master(t, tap);
        return m >= 0 && m != *br_index;
}

static int tap_set_master(struct rtnl *t, int tap_index, int br_index) {
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = tap_index };
        if (!msg)
                return -ENOMEM;
        if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_u32(msg, IFLA_MASTER, (uint32_t) br_index) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        return rtnl_talk(t, msg, NULL, NULL);
}

struct reattach {
        struct lv_state *s;
        const char *network, *bridge;
        bool bridge_here;
        unsigned unseen; /* taps of it while its bridge is not in our namespace */
        int r;
};

static void reattach_one(void *u, const char *network, const char *tap) {
        struct reattach *ra = u;
        int br, ti;
        if (strcmp(network, ra->network) != 0)
                return;
        if (!ra->bridge_here) {
                ra->unseen++;
                return;
        }
        if (!tap_is_off(&ra->s->nl, ra->bridge, tap, &br, &ti))
                return;
        int r = tap_set_master(&ra->s->nl, ti, br);
        if (r < 0)
                ra->r = diag_res(r, "network", ra->network, "re-attaching tap %s to %s: %s", tap, ra->bridge,
                                 rtnl_says(&ra->s->nl, r));
        else
                diag_debug("network %s: tap %s re-attached to %s", ra->network, tap, ra->bridge);
}

/* Put the taps of running guests on the network back on its bridge, through
 * rtnetlink in libvirtd's namespace (the host's on a real host): libvirt has no
 * call for it, and re-applying an unchanged interface with
 * virDomainUpdateDeviceFlags is a no-op for the bridge. */
static int network_reattach(struct lv_state *s, virNetworkPtr net, const char *name) {
        struct rtnl *t = lv_rtnl(s);
        char *bridge = t ? virNetworkGetBridgeName(net) : NULL;
        if (!bridge)
                return 0; /* no kernel devices (test://), or no bridge of its own (macvtap) */
        struct reattach ra = { s, name, bridge, rtnl_ifindex(t, bridge) > 0, 0, 0 };
        each_network_tap(s, reattach_one, &ra);
        if (ra.unseen)
                diag_info("warning: network %s: bridge %s is not in this network namespace; the %u taps of its running "
                          "guests cannot be re-attached from here (name libvirtd's namespace with --netns)",
                          name, bridge, ra.unseen);
        free(bridge);
        return ra.r;
}

static void stray_one(void *u, const char *network, const char *tap) {
        void **a = u;
        struct lv_state *s = a[0];
        struct model *live = a[1];
        struct resource *r = model_find(live, KIND_NETWORK, network);
        int br, ti;
        if (!r || r->kind != KIND_NETWORK || !r->network.active || !r->network.bridge[0] ||
            !tap_is_off(&s->nl, r->network.bridge, tap, &br, &ti))
                return;
        size_t len = strlen(r->network.stray_taps);
        snprintf(r->network.stray_taps + len, sizeof(r->network.stray_taps) - len, "%s%s", len ? " " : "", tap);
}

/* A tap that fell off its network's bridge is drift: noted on the network. */
static void observe_stray_taps(struct lv_state *s, struct model *live) {
        if (!lv_rtnl(s))
                return;
        void *a[2] = { s, live };
        each_network_tap(s, stray_one, a);
}

/* ---- observe ---- */

static int observe_networks(struct lv_state *s, struct model *live) {
        virNetworkPtr *nets = NULL;
        int n = virConnectListAllNetworks(s->conn, &nets, 0);
        if (n < 0)
                return diag_plain(-EIO, "libvirt backend: listing networks on %s: %s", s->uri, lv_msg());
        for (int i = 0; i < n; i++) {
                /* The persistent definition; drivers without that flag (test://) give the one there is. */
                char *xml = virNetworkGetXMLDesc(nets[i], VIR_NETWORK_XML_INACTIVE);
                if (!xml)
                        xml = virNetworkGetXMLDesc(nets[i], 0);
                struct resource *r = resource_new(KIND_NETWORK, virNetworkGetName(nets[i]));
                int autostart = 0;
                if (xml)
                        network_parse_xml(xml, r);
                free(xml);
                r->network.active = virNetworkIsActive(nets[i]) == 1;
                r->network.autostart = virNetworkGetAutostart(nets[i], &autostart) == 0 && autostart;
                r->set |= NET_F_ACTIVE | NET_F_AUTOSTART;
                if (model_add(live, r) < 0)
                        resource_free(r);
                virNetworkFree(nets[i]);
        }
        free(nets);
        return 0;
}

/* A qcow2 overlay's backing file, as libvirt reads it from the image. */
static void volume_parse_backing(struct xr *x, struct resource *r) {
        char *path = xr_str(x, "/volume/backingStore/path");
        if (*path)
                r->volume.backing_path = path;
        else
                free(path);
}

/* Each overlay learns its base's name (POOL/VOLUME) and each base which
 * overlays it holds: a base is never deleted under them. */
static void link_overlays(struct model *live) {
        for (size_t i = 0; i < live->n; i++) {
                struct resource *o = live->v[i];
                if (o->kind != KIND_VOLUME || !o->volume.backing_path)
                        continue;
                for (size_t j = 0; j < live->n; j++) {
                        struct resource *b = live->v[j];
                        if (b->kind != KIND_VOLUME || !b->volume.path || strcmp(b->volume.path, o->volume.backing_path) != 0)
                                continue;
                        free(o->volume.backing);
                        o->volume.backing = xstrdup(b->name);
                        char *held = b->volume.held_by ? xasprintf("%s, %s", b->volume.held_by, o->name)
                                                       : xasprintf("it is the backing volume of the qcow2 overlay(s) %s",
                                                                   o->name);
                        free(b->volume.held_by);
                        b->volume.held_by = held;
                        break;
                }
        }
}

static void observe_volumes(virStoragePoolPtr pool, const char *pool_name, struct model *live) {
        virStorageVolPtr *vols = NULL;
        int n = virStoragePoolListAllVolumes(pool, &vols, 0);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *name = xasprintf("%s/%s", pool_name, virStorageVolGetName(vols[i]));
                struct resource *r = resource_new(KIND_VOLUME, name);
                virStorageVolInfo info;
                snprintf(r->volume.pool, sizeof(r->volume.pool), "%s", pool_name);
                if (virStorageVolGetInfo(vols[i], &info) == 0) {
                        r->volume.capacity = info.capacity;
                        r->set |= VOL_F_CAPACITY;
                }
                char *xml = virStorageVolGetXMLDesc(vols[i], 0);
                struct xr *x = xml ? xr_parse(xml) : NULL;
                if (x) {
                        _cleanup_free_ char *fmt = xr_str(x, "/volume/target/format/@type");
                        r->volume.format = enum_from_string(&vol_format_table, fmt);
                        if (r->volume.format >= 0)
                                r->set |= VOL_F_FORMAT;
                        else
                                r->volume.format = VOL_RAW;
                        volume_parse_backing(x, r);
                }
                xr_free(x);
                free(xml);
                char *path = virStorageVolGetPath(vols[i]);
                r->volume.path = path ? xstrdup(path) : NULL;
                free(path);
                if (model_add(live, r) < 0)
                        resource_free(r);
                virStorageVolFree(vols[i]);
        }
        free(vols);
}

static int observe_pools(struct lv_state *s, struct model *live) {
        virStoragePoolPtr *pools = NULL;
        int n = virConnectListAllStoragePools(s->conn, &pools, 0);
        if (n < 0)
                return diag_plain(-EIO, "libvirt backend: listing storage pools on %s: %s", s->uri, lv_msg());
        for (int i = 0; i < n; i++) {
                const char *name = virStoragePoolGetName(pools[i]);
                char *xml = virStoragePoolGetXMLDesc(pools[i], VIR_STORAGE_XML_INACTIVE);
                if (!xml)
                        xml = virStoragePoolGetXMLDesc(pools[i], 0);
                struct resource *r = resource_new(KIND_POOL, name);
                int autostart = 0;
                if (xml)
                        pool_parse_xml(xml, r);
                free(xml);
                r->pool.active = virStoragePoolIsActive(pools[i]) == 1;
                r->pool.autostart = virStoragePoolGetAutostart(pools[i], &autostart) == 0 && autostart;
                r->set |= POOL_F_ACTIVE | POOL_F_AUTOSTART;
                if (r->pool.active)
                        observe_volumes(pools[i], name, live);
                if (model_add(live, r) < 0)
                        resource_free(r);
                virStoragePoolFree(pools[i]);
        }
        free(pools);
        link_overlays(live);
        return 0;
}

static virStorageVolPtr volume_lookup(struct lv_state *s, const char *full, virStoragePoolPtr *pool_out);

/* A seed's volume deleted by hand is drift: the ledger's digest alone would say it is built. */
static void observe_seed(struct lv_state *s, struct resource *r) {
        for (size_t i = 0; i < r->domain.n_disks; i++) {
                const struct disk_spec *k = &r->domain.disks[i];
                if (!k->seed || !k->volume)
                        continue;
                virStorageVolPtr vol = volume_lookup(s, k->volume, NULL);
                if (vol)
                        virStorageVolFree(vol);
                else
                        r->domain.seed_missing = true;
        }
}

static int observe_domains(struct lv_state *s, struct model *live) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(s->conn, &doms, 0);
        if (n < 0)
                return diag_plain(-EIO, "libvirt backend: listing domains on %s: %s", s->uri, lv_msg());
        for (int i = 0; i < n; i++) {
                struct resource *r = resource_new(KIND_DOMAIN, virDomainGetName(doms[i]));
                /* Secure: a graphics password is seen to be there (parse keeps only
                 * that); a read-only connection refuses it, and then it is not. */
                char *xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
                if (!xml)
                        xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
                if (!xml)
                        xml = virDomainGetXMLDesc(doms[i], 0);
                if (xml && domain_parse_xml(xml, r) >= 0)
                        observe_seed(s, r);
                if (xml)
                        explicit_bzero(xml, strlen(xml));
                free(xml);
                int state = VIR_DOMAIN_NOSTATE, reason, autostart = 0;
                virDomainGetState(doms[i], &state, &reason, 0);
                bool running = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_BLOCKED ||
                               state == VIR_DOMAIN_PMSUSPENDED;
                r->state = running ? STATE_RUNNING : STATE_SHUTOFF;
                r->domain.id = running ? (int) virDomainGetID(doms[i]) : -1;
                r->domain.autostart = virDomainGetAutostart(doms[i], &autostart) == 0 && autostart;
                r->set |= DOM_F_AUTOSTART | RES_F_STATE;
                if (running) {
                        char *axml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_SECURE);
                        if (!axml)
                                axml = virDomainGetXMLDesc(doms[i], 0);
                        if (axml) {
                                r->domain.active = resource_new(KIND_DOMAIN, r->name);
                                domain_parse_xml(axml, r->domain.active);
                                explicit_bzero(axml, strlen(axml));
                        }
                        free(axml);
                }
                if (model_add(live, r) < 0)
                        resource_free(r);
                virDomainFree(doms[i]);
        }
        free(doms);
        return 0;
}

static int lv_observe(void *state, const struct str_list *names, struct model *live) {
        (void) names;
        struct lv_state *s = state;
        int r = observe_networks(s, live);
        if (r >= 0)
                r = observe_pools(s, live);
        if (r >= 0)
                r = observe_domains(s, live);
        if (r >= 0)
                observe_stray_taps(s, live);
        return r;
}

/* ---- dependencies and checks ---- */

void lv_volume_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        add(u, KIND_POOL, r->volume.pool);
        if (r->set & VOL_F_BACKING)
                add(u, KIND_VOLUME, r->volume.backing);
        if (r->set & VOL_F_CLONE_OF)
                add(u, KIND_VOLUME, r->volume.clone_of);
}

void lv_network_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->network.mode == NET_BRIDGE)
                add(u, r->set & NET_F_OVS_BRIDGE ? KIND_OVS_BRIDGE : KIND_ETHERNET, r->network.bridge);
        if (r->network.mode == NET_MACVTAP)
                add(u, KIND_ETHERNET, r->network.dev);
        if (r->network.mode == NET_HOSTDEV)
                add(u, KIND_ETHERNET, r->network.pf);
}

void lv_domain_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        for (size_t i = 0; i < r->domain.n_disks; i++)
                if (r->domain.disks[i].volume && r->domain.disks[i].volume[0] != '/' && !r->domain.disks[i].seed)
                        add(u, KIND_VOLUME, r->domain.disks[i].volume);
        if (r->domain.cloud_init.pool)
                add(u, KIND_POOL, r->domain.cloud_init.pool); /* the seed's volume is made there */
        for (size_t i = 0; i < r->domain.n_nics; i++) {
                if (r->domain.nics[i].set & NIC_F_BRIDGE)
                        add(u, KIND_ETHERNET, r->domain.nics[i].bridge);
                else if (r->domain.nics[i].set & NIC_F_OVS_BRIDGE)
                        add(u, KIND_OVS_BRIDGE, r->domain.nics[i].ovs_bridge);
                else if (r->domain.nics[i].network)
                        add(u, KIND_NETWORK, r->domain.nics[i].network);
        }
        tuning_deps(r, add, u);
}

/* A URI without a host ("qemu:///system", "test:///default", a socket=) names a
 * daemon on this machine, whose files this process sees as it does. */
static bool lv_local(const struct lv_state *s) {
        const char *p = strstr(s->uri, "://");
        return p && p[3] == '/';
}

static bool nets_overlap(const struct ipaddr *a, const struct ipaddr *b) {
        unsigned n = a->prefix < b->prefix ? a->prefix : b->prefix;
        if (a->family != b->family)
                return false;
        for (unsigned i = 0; i < n; i++)
                if ((a->a[i / 8] ^ b->a[i / 8]) & (0x80 >> (i % 8)))
                        return false;
        return true;
}

/* libvirt starts a network only when no route of the host covers its subnet
 * (networkCheckRouteCollision reads /proc/net/route); the IPv4 routing table
 * is read the same way. The default route covers everything and is left out,
 * and so is a route through the network's own bridge (it runs already). */
static int check_network_routes(const struct resource *w, const char *own_bridge) {
        if (w->network.address.family != AF_INET)
                return 0;
        FILE *f = fopen("/proc/net/route", "re");
        if (!f)
                return 0;
        char line[256], dev[32];
        unsigned dest, gw, flags, refcnt, use, metric, mask;
        int ret = 0;
        while (ret == 0 && fgets(line, sizeof(line), f)) {
                if (sscanf(line, "%31s %x %x %x %u %u %u %x", dev, &dest, &gw, &flags, &refcnt, &use, &metric, &mask) != 8 ||
                    mask == 0 || (own_bridge && strcmp(dev, own_bridge) == 0))
                        continue;
                struct ipaddr r = { .family = AF_INET, .prefix = (uint8_t) __builtin_popcount(mask) };
                memcpy(r.a, &dest, 4); /* the kernel writes it in network order as a host-order hex word */
                if (!nets_overlap(&r, &w->network.address))
                        continue;
                char a[64], b[64];
                struct ipaddr mine = w->network.address;
                ret = diag_pos(resource_key_pos(w, NET_F_ADDRESS), "network %s: address %s overlaps the host's route to %s on %s (libvirt would refuse to start it)",
                               w->name, ipaddr_format(&mine, true, a, sizeof(a)), ipaddr_format(&r, true, b, sizeof(b)), dev);
        }
        fclose(f);
        return ret;
}

/* Another network libvirt has defined, running or not, on an overlapping subnet. */
static int check_network_existing(struct lv_state *s, const struct resource *w, char *own_bridge, size_t size) {
        virNetworkPtr *nets = NULL;
        int n = virConnectListAllNetworks(s->conn, &nets, 0);
        int ret = 0;
        for (int i = 0; i < n; i++) {
                const char *name = virNetworkGetName(nets[i]);
                char *xml = virNetworkGetXMLDesc(nets[i], 0);
                struct resource *o = xml ? resource_new(KIND_NETWORK, name) : NULL;
                if (o && network_parse_xml(xml, o) == 0) {
                        if (strcmp(name, w->name) == 0)
                                snprintf(own_bridge, size, "%s", o->network.bridge);
                        else if (ret == 0 && (o->set & NET_F_ADDRESS) && nets_overlap(&o->network.address, &w->network.address)) {
                                char a[64], b[64];
                                struct ipaddr mine = w->network.address, theirs = o->network.address;
                                ret = diag_pos(resource_key_pos(w, NET_F_ADDRESS), "network %s: address %s overlaps %s of the network %s libvirt has",
                                               w->name, ipaddr_format(&mine, true, a, sizeof(a)),
                                               ipaddr_format(&theirs, true, b, sizeof(b)), name);
                        }
                }
                resource_free(o);
                free(xml);
                virNetworkFree(nets[i]);
        }
        free(nets);
        return ret;
}

int lv_domain_admit(void *state, const struct resource *w) {
        struct lv_state *s = state;
        if (w->domain.cpu && strcmp(w->domain.cpu, "host-passthrough") == 0 &&
            strcmp(s->domain_type, "kvm") != 0)
                return diag_pos(&w->pos, "domain %s: cpu host-passthrough needs KVM, and %s offers only %s domains",
                                w->name, s->uri, s->domain_type);
        /* libvirt starts swtpm for an emulated TPM: without it the guest never starts. */
        if (w->domain.tpm && lv_local(s) && strncmp(s->uri, "test:", 5) != 0 && access("/usr/bin/swtpm", X_OK) < 0)
                return diag_pos(resource_key_pos(w, DOM_F_TPM),
                                "domain %s: tpm: true needs swtpm, which is not installed (apt-get install swtpm)",
                                w->name);
        const char *pw = w->domain.graphics.password_file;
        if (pw && access(pw, R_OK) < 0)
                return diag_pos(resource_key_pos(w, DOM_F_GRAPHICS), "domain %s: graphics password-file %s: %s", w->name,
                                pw, strerror(errno));
        /* QEMU opens a CD-ROM image when the guest starts or the disk is
         * attached: a missing one would fail then, after the definition. */
        for (size_t i = 0; lv_local(s) && i < w->domain.n_disks; i++) {
                const struct disk_spec *d = &w->domain.disks[i];
                struct stat st;
                if (d->cdrom && stat(d->cdrom, &st) < 0 && errno == ENOENT)
                        return diag_pos(&d->pos, "domain %s: cdrom image %s does not exist", w->name, d->cdrom);
                if (d->path && stat(d->path, &st) < 0 && errno == ENOENT)
                        return diag_pos(&d->pos, "domain %s: disk path %s does not exist", w->name, d->path);
        }
        return tuning_admit(w, s->conn);
}

int lv_network_admit(void *state, const struct resource *w) {
        struct lv_state *s = state;
        if (w->set & NET_F_ADDRESS) {
                char own[IFNAME_MAX] = "";
                if (w->set & NET_F_BRIDGE)
                        snprintf(own, sizeof(own), "%s", w->network.bridge);
                int r = check_network_existing(s, w, own, sizeof(own));
                if (r == 0 && lv_local(s) && strncmp(s->uri, "test:", 5) != 0)
                        r = check_network_routes(w, own[0] ? own : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- diff ---- */

/* On an OVS bridge or not, and the portgroups' VLANs: a new definition. */
static bool diff_network_ovs(const struct resource *w, const struct resource *l, struct action *a) {
        const struct network_spec *want = &w->network, *have = &l->network;
        bool redefine = false;
        bool wo = w->set & NET_F_OVS_BRIDGE, lo = l->set & NET_F_OVS_BRIDGE;
        if (wo != lo || (wo && strcmp(want->bridge, have->bridge) != 0)) {
                action_add_change(a, NET_F_OVS_BRIDGE, "ovs-bridge", value_text(lo ? have->bridge : NULL),
                                  value_text(wo ? want->bridge : NULL));
                redefine = true;
        }
        for (size_t i = 0; i < want->n_portgroups; i++) {
                const struct portgroup_spec *g = &want->portgroups[i], *h = NULL;
                for (size_t j = 0; j < have->n_portgroups && !h; j++)
                        if (strcmp(have->portgroups[j].name, g->name) == 0)
                                h = &have->portgroups[j];
                bool wt = g->set & PG_F_TAG, ht = h && (h->set & PG_F_TAG);
                if (h && wt == ht && (!wt || g->vlan_tag == h->vlan_tag))
                        continue;
                char *name = xasprintf("portgroup %s tag", g->name);
                action_add_change(a, NET_F_PORTGROUPS, name, ht ? value_number(h->vlan_tag) : VALUE_NONE,
                                  wt ? value_number(g->vlan_tag) : value_text("untagged"));
                free(name);
                redefine = true;
        }
        for (size_t j = 0; (w->set & NET_F_PORTGROUPS) && j < have->n_portgroups; j++) {
                bool kept = false;
                for (size_t i = 0; i < want->n_portgroups && !kept; i++)
                        kept = strcmp(want->portgroups[i].name, have->portgroups[j].name) == 0;
                if (kept)
                        continue;
                action_add_change(a, NET_F_PORTGROUPS, "portgroup", value_text(have->portgroups[j].name), VALUE_NONE);
                redefine = true;
        }
        return redefine;
}

static int diff_network(const struct resource *w, const struct resource *l, struct action *a) {
        const struct network_spec *want = &w->network, *have = &l->network;
        int mode = want->mode;
        bool redefine = false;
        if (mode != have->mode) {
                action_add_change(a, NET_F_MODE, "mode", value_word(&net_mode_table, have->mode),
                                  value_word(&net_mode_table, mode));
                redefine = true;
        }
        if ((w->set & NET_F_BRIDGE) && strcmp(want->bridge, have->bridge) != 0) {
                action_add_change(a, NET_F_BRIDGE, "bridge", value_text(have->bridge), value_text(want->bridge));
                redefine = true;
        }
        redefine |= diff_network_ovs(w, l, a);
        if (mode == NET_MACVTAP) {
                int mv = w->set & NET_F_MACVTAP_MODE ? want->macvtap_mode : MACVTAP_BRIDGE;
                if (strcmp(want->dev, have->dev) != 0)
                        action_add_change(a, NET_F_DEV, "dev", value_text(have->dev), value_text(want->dev)), redefine = true;
                if (mv != have->macvtap_mode)
                        action_add_change(a, NET_F_MACVTAP_MODE, "macvtap-mode",
                                          value_word(&macvtap_mode_table, have->macvtap_mode),
                                          value_word(&macvtap_mode_table, mv)),
                                redefine = true;
        }
        if (mode == NET_HOSTDEV && strcmp(want->pf, have->pf) != 0)
                action_add_change(a, NET_F_PF, "pf", value_text(have->pf), value_text(want->pf)), redefine = true;
        if (!!(w->set & NET_F_ADDRESS) != !!(l->set & NET_F_ADDRESS) ||
            ((w->set & NET_F_ADDRESS) && !ipaddr_equal(&want->address, &have->address))) {
                action_add_change(a, NET_F_ADDRESS, "address", l->set & NET_F_ADDRESS ? value_prefix(&have->address) : VALUE_NONE,
                                  w->set & NET_F_ADDRESS ? value_prefix(&want->address) : VALUE_NONE);
                redefine = true;
        }
        if (!!(w->set & NET_F_DHCP) != !!(l->set & NET_F_DHCP) ||
            ((w->set & NET_F_DHCP) &&
             (!ipaddr_equal(&want->dhcp.start, &have->dhcp.start) || !ipaddr_equal(&want->dhcp.end, &have->dhcp.end))))
                action_add_change(a, NET_F_DHCP, "dhcp", l->set & NET_F_DHCP ? value_spec() : VALUE_NONE,
                                  w->set & NET_F_DHCP ? value_spec() : VALUE_NONE);
        if (want->autostart != have->autostart)
                action_add_change(a, NET_F_AUTOSTART, "autostart", value_bool(have->autostart), value_bool(want->autostart));
        if (want->active != have->active)
                action_add_change(a, NET_F_ACTIVE, "active", value_bool(have->active), value_bool(want->active));
        if (have->stray_taps[0] && have->active && want->active)
                action_add_change(a, NET_C_TAPS, "taps", value_text(have->stray_taps), value_text(have->bridge));
        if (redefine && have->active && want->active)
                a->reason = xstrdup("redefined and restarted: guests on it lose their link for a moment");
        a->op = OP_UPDATE;
        return 0;
}

static bool str_differs(const char *a, const char *b) {
        return strcmp(a ? a : "", b ? b : "") != 0;
}

static int diff_pool(const struct resource *w, const struct resource *l, struct action *a) {
        const struct pool_spec *want = &w->pool, *have = &l->pool;
        bool replace = false;
        if (str_differs(want->type, have->type))
                action_add_change(a, POOL_F_TYPE, "type", value_text(have->type), value_text(want->type)), replace = true;
        if ((w->set & POOL_F_PATH) && str_differs(want->path, have->path))
                action_add_change(a, POOL_F_PATH, "path", value_text(have->path), value_text(want->path)), replace = true;
        if ((w->set & POOL_F_SOURCE) && str_differs(want->source, have->source))
                action_add_change(a, POOL_F_SOURCE, "source", value_text(have->source), value_text(want->source)), replace = true;
        if ((w->set & POOL_F_HOST) && str_differs(want->host, have->host))
                action_add_change(a, POOL_F_HOST, "host", value_text(have->host), value_text(want->host)), replace = true;
        if (replace) {
                /* Destroy + undefine + define: the storage underneath and its volumes stay. */
                a->op = OP_REPLACE;
                a->reason = xstrdup("cannot change in place (the storage underneath stays)");
                return 0;
        }
        if (want->autostart != have->autostart)
                action_add_change(a, POOL_F_AUTOSTART, "autostart", value_bool(have->autostart), value_bool(want->autostart));
        if (want->active != have->active)
                action_add_change(a, POOL_F_ACTIVE, "active", value_bool(have->active), value_bool(want->active));
        a->op = OP_UPDATE;
        return 0;
}

static int diff_volume(const struct resource *w, const struct resource *l, struct action *a) {
        const struct volume_spec *want = &w->volume, *have = &l->volume;
        int fmt = w->set & VOL_F_FORMAT ? want->format : VOL_RAW;
        /* A clone or an uploaded image has its origin's format unless one is declared. */
        bool fmt_declared = (w->set & VOL_F_FORMAT) || !(w->set & (VOL_F_CLONE_OF | VOL_F_SOURCE));
        if ((l->set & VOL_F_FORMAT) && fmt_declared && fmt != have->format)
                return diag_pos(&w->pos,
                                "volume %s: format %s -> %s would destroy its data: refused (declare it state: absent "
                                "first to re-create it)",
                                w->name, enum_to_string(&vol_format_table, have->format),
                                enum_to_string(&vol_format_table, fmt));
        if ((w->set & VOL_F_CAPACITY) && want->capacity < have->capacity) {
                char f[32], t[32];
                return diag_pos(&w->pos, "volume %s: shrinking %s -> %s would destroy data: refused", w->name,
                                size_text(have->capacity, f, sizeof(f)), size_text(want->capacity, t, sizeof(t)));
        }
        if ((w->set & VOL_F_CAPACITY) && want->capacity > have->capacity)
                action_add_change(a, VOL_F_CAPACITY, "capacity", value_size(have->capacity), value_size(want->capacity));
        a->op = OP_UPDATE;
        return 0;
}

/* How a volume was made (its base, its clone source, its image) is its data:
 * a different one declared later is refused, never a silent re-create. The
 * base of an overlay is read from the image; a clone's or an upload's origin
 * from the ledger, which keeps what reconcile made it from. */
static int volume_diff_origin(const struct resource *w, const struct resource *l, const struct ledger_entry *owned) {
        const struct volume_spec *want = &w->volume, *have = &l->volume;
        const char *refuse = "would replace its data: refused (declare it state: absent first to re-create it)";
        if ((w->set & VOL_F_BACKING) && str_differs(want->backing, have->backing))
                return diag_pos(resource_key_pos(w, VOL_F_BACKING), "volume %s: backing %s -> %s %s", w->name,
                                have->backing ? have->backing : have->backing_path ? have->backing_path : "(none)",
                                want->backing, refuse);
        static const struct { uint64_t bit; const char *key; size_t offset; } made[] = {
                { VOL_F_CLONE_OF, "clone-of", offsetof(struct volume_spec, clone_of) },
                { VOL_F_SOURCE, "source", offsetof(struct volume_spec, source) },
                { VOL_F_SHA256, "sha256", offsetof(struct volume_spec, sha256) },
        };
        for (size_t i = 0; i < ELEMENTSOF(made); i++) {
                const char *now = *(char *const *) ((const char *) want + made[i].offset);
                const char *was = ledger_get(owned, made[i].key);
                if ((w->set & made[i].bit) && was && strcmp(was, now) != 0)
                        return diag_pos(resource_key_pos(w, made[i].bit), "volume %s: %s %s -> %s %s", w->name,
                                        made[i].key, was, now, refuse);
        }
        return 0;
}

/* What a create from an origin leaves in the ledger for volume_diff_origin. */
static void volume_note_origin(struct ledger *l, struct ledger_entry *e, const struct resource *w) {
        if (!e)
                return;
        ledger_set(l, e, "clone-of", w->set & VOL_F_CLONE_OF ? w->volume.clone_of : NULL);
        ledger_set(l, e, "source", w->set & VOL_F_SOURCE ? w->volume.source : NULL);
        ledger_set(l, e, "sha256", w->set & VOL_F_SHA256 ? w->volume.sha256 : NULL);
}

/* The key a disk is matched by: its volume, its host path or its image path. */
static const char *disk_key(const struct disk_spec *d) {
        return d->volume ? d->volume : d->path ? d->path : d->cdrom ? d->cdrom : "";
}

static const struct disk_spec *find_disk(const struct domain_spec *d, const char *key) {
        for (size_t i = 0; i < d->n_disks; i++)
                if (strcmp(disk_key(&d->disks[i]), key) == 0)
                        return &d->disks[i];
        return NULL;
}

static int disk_bus_of(const struct disk_spec *d) {
        return d->set & DISK_F_BUS ? d->bus : (d->cdrom ? BUS_SATA : BUS_VIRTIO);
}

static char *disk_attrs(const struct disk_spec *d) {
        int bus = disk_bus_of(d);
        /* A path's format is the disk's own (a volume's is the volume's): unknown until probed. */
        bool fmt = d->path && d->format >= 0;
        return tuning_disk_attrs(d, xasprintf("bus=%s cache=%s discard=%s%s%s", enum_to_string(&disk_bus_table, bus),
                         enum_to_string(&disk_cache_table, d->set & DISK_F_CACHE ? d->cache : CACHE_DEFAULT),
                         enum_to_string(&disk_discard_table, d->set & DISK_F_DISCARD ? d->discard : DISCARD_IGNORE),
                         fmt ? " format=" : "", fmt ? enum_to_string(&vol_format_table, d->format) : ""));
}

static virStorageVolPtr volume_lookup(struct lv_state *s, const char *full, virStoragePoolPtr *pool_out);

/* A volume's format as libvirt has it (enum vol_format), or -1; vol may be NULL. */
static int volume_format_of(virStorageVolPtr vol) {
        char *xml = vol ? virStorageVolGetXMLDesc(vol, 0) : NULL;
        struct xr *x = xml ? xr_parse(xml) : NULL;
        _cleanup_free_ char *fmt = x ? xr_str(x, "/volume/target/format/@type") : NULL;
        xr_free(x);
        free(xml);
        return fmt ? enum_from_string(&vol_format_table, fmt) : -1;
}

/* A disk on a clone or an uploaded image whose format is not declared: the
 * volume's, as libvirt has it (made before the domain, which depends on it).
 * Not made yet (a plan), it stays unknown until apply looks again. */
static int disk_volume_format(struct lv_state *s, const struct disk_spec *d, struct disk_spec *out) {
        virStorageVolPtr vol = volume_lookup(s, d->volume, NULL);
        out->format = volume_format_of(vol);
        if (vol)
                virStorageVolFree(vol);
        return 0;
}

/* A path disk as it is rendered: whether it is a block device, and its
 * format when none is declared. A disk the domain already has (had: the live
 * disk of the same volume or path, or NULL) keeps the format it was defined
 * with: the image's header is the guest's to write, and reading it again would
 * let a guest that writes a qcow2 header naming a host file as its backing
 * turn its raw disk into that file on the next apply. Only a disk not yet
 * defined is probed: libvirt's format, when a pool holds the path (it probed
 * it), else read from the image's header, since libvirt offers no probe of a
 * file outside its pools (its domains take an unnamed format as raw). out is
 * d with both filled. state NULL (a plan against a snapshot): left unknown. */
static int disk_probe(struct lv_state *s, const struct disk_spec *d, const struct disk_spec *had,
                      struct disk_spec *out) {
        *out = *d;
        if (d->volume && d->format < 0 && s) {
                if (had) {
                        out->format = had->format;
                        return 0;
                }
                return disk_volume_format(s, d, out);
        }
        if (!d->path || !s)
                return 0;
        struct stat st;
        bool local = lv_local(s);
        out->block = local && stat(d->path, &st) == 0 ? S_ISBLK(st.st_mode) : strncmp(d->path, "/dev/", 5) == 0;
        if (d->format >= 0)
                return 0;
        if (had) {
                out->format = had->format;
                return 0;
        }
        virStorageVolPtr vol = virStorageVolLookupByPath(s->conn, d->path);
        out->format = volume_format_of(vol);
        if (vol)
                virStorageVolFree(vol);
        if (out->format >= 0)
                return 0;
        if (!local)
                return diag_pos(&d->pos, "disk path %s: libvirt at %s knows no format for it and its file is not on this "
                                "host: declare format", d->path, s->uri);
        int e = image_probe_format(d->path, &out->format);
        if (e < 0)
                return diag_pos(&d->pos, "disk path %s: cannot read it to probe its format (%s): declare format",
                                d->path, strerror(-e));
        return 0;
}

static void disks_probed_done(struct resource *copy) {
        free(copy->domain.disks);
}

/* d, or buf with d probed (disk_probe; had as there); *r set to an error. */
static const struct disk_spec *disk_probed(struct lv_state *s, const struct disk_spec *d, const struct disk_spec *had,
                                           struct disk_spec *buf, int *r) {
        if (!d || (!d->path && !(d->volume && d->format < 0)))
                return d;
        if (disk_probe(s, d, had, buf) < 0)
                *r = -EINVAL;
        return buf;
}

/* w with its path disks probed (disk_probe, against live's disk of the same
 * key) in copy; the caller frees copy->domain.disks. Without a connection (a plan against a snapshot) an
 * undeclared format is taken as the live disk's of that path: nothing to ask. */
static int disks_probe(struct lv_state *s, const struct resource *w, const struct resource *live,
                       struct resource *copy) {
        *copy = *w;
        copy->domain.disks = xcalloc(w->domain.n_disks + 1, sizeof(struct disk_spec));
        int r = 0;
        for (size_t i = 0; i < w->domain.n_disks; i++) {
                struct disk_spec *d = &copy->domain.disks[i];
                const struct disk_spec *had = live ? find_disk(&live->domain, disk_key(&w->domain.disks[i])) : NULL;
                if (disk_probe(s, &w->domain.disks[i], had, d) < 0)
                        r = -EINVAL;
                for (size_t j = 0; !s && live && d->path && d->format < 0 && j < live->domain.n_disks; j++)
                        if (!str_differs(live->domain.disks[j].path, d->path))
                                d->format = live->domain.disks[j].format, d->block = live->domain.disks[j].block;
        }
        return r;
}

/* Pair each desired disk with a defined one: by volume or image path first;
 * then a cdrom left over with a cdrom left over, in order, which is the same
 * drive with its ISO swapped (a media change, not a detach and an attach).
 * pair[i] is the index in have, or -1; used (have->n_disks) marks the paired. */
static void pair_disks(const struct domain_spec *want, const struct domain_spec *have, int *pair, bool *used) {
        for (size_t i = 0; i < want->n_disks; i++) {
                pair[i] = -1;
                for (size_t j = 0; j < have->n_disks && pair[i] < 0; j++)
                        if (!used[j] && strcmp(disk_key(&want->disks[i]), disk_key(&have->disks[j])) == 0)
                                pair[i] = (int) j, used[j] = true;
        }
        for (size_t i = 0; i < want->n_disks; i++) {
                if (pair[i] >= 0 || !want->disks[i].cdrom)
                        continue;
                for (size_t j = 0; j < have->n_disks && pair[i] < 0; j++)
                        if (!used[j] && have->disks[j].cdrom)
                                pair[i] = (int) j, used[j] = true;
        }
}

/* A NIC's source as one comparable word: "network:NAME", "bridge:NAME". An OVS
 * bridge or a direct device gets its own prefix here when the schema has it. */
static char *nic_source_ovs(const struct nic_spec *n) {
        if (n->set & NIC_F_OVS_BRIDGE) {
                if (!(n->set & NIC_F_VLAN_TAG))
                        return xasprintf("ovs-bridge:%s", n->ovs_bridge);
                return xasprintf("ovs-bridge:%s tag %u", n->ovs_bridge, n->vlan_tag);
        }
        return xasprintf("network:%s portgroup %s", n->network ? n->network : "", n->portgroup);
}

static char *nic_source(const struct nic_spec *n) {
        if (n->set & NIC_F_DIRECT)
                return tuning_nic_source(n);
        if (n->set & (NIC_F_OVS_BRIDGE | NIC_F_PORTGROUP))
                return nic_source_ovs(n);
        if (n->set & NIC_F_BRIDGE)
                return xasprintf("bridge:%s", n->bridge);
        return xasprintf("network:%s", n->network ? n->network : "");
}

static bool nic_source_differs(const struct nic_spec *a, const struct nic_spec *b) {
        _cleanup_free_ char *x = nic_source(a), *y = nic_source(b);
        return strcmp(x, y) != 0;
}

static int nic_model_of(const struct nic_spec *n) {
        return n->set & NIC_F_MODEL ? n->model : NIC_VIRTIO;
}

static char *nic_text(const struct nic_spec *n, const char *mac) {
        char buf[18];
        const char *m = n->set & NIC_F_MAC ? mac_format(n->mac, buf) : mac;
        _cleanup_free_ char *source = nic_source(n);
        return xasprintf("%s%s%s", source, m ? " mac " : "", m ? m : "");
}

/* Match desired NIC i to a live one: by MAC when it has one (given or kept in
 * the ledger), else by source, each live NIC once. Returns the live index or -1. */
static int match_nic(const struct nic_spec *want, const char *ledger_mac, const struct domain_spec *have, bool *used) {
        unsigned char mac[6];
        bool by_mac = want->set & NIC_F_MAC;
        if (by_mac)
                memcpy(mac, want->mac, 6);
        else if (ledger_mac && mac_parse(ledger_mac, mac) == 0)
                by_mac = true;
        for (size_t j = 0; j < have->n_nics; j++) {
                const struct nic_spec *h = &have->nics[j];
                if (used[j])
                        continue;
                bool same_source = (want->set & NIC_F_BRIDGE) ? (h->set & NIC_F_BRIDGE) && strcmp(h->bridge, want->bridge) == 0
                                                                : (h->set & NIC_F_NETWORK) && !str_differs(h->network, want->network);
                if (want->set & NIC_F_DIRECT)
                        same_source = !nic_source_differs(want, h);
                if (want->set & NIC_F_OVS_BRIDGE)
                        same_source = (h->set & NIC_F_OVS_BRIDGE) && strcmp(h->ovs_bridge, want->ovs_bridge) == 0;
                if (by_mac ? memcmp(h->mac, mac, 6) == 0 : same_source) {
                        used[j] = true;
                        return (int) j;
                }
        }
        return -1;
}

/* DOM_C_FORCE_OFF powers a guest off that did not shut down in time: the
 * only virDomainDestroy reconcile does on a domain it keeps. DOM_C_SHUTDOWN_FORGET
 * drops the record of a power button press the manifests no longer ask for. */

static const char *features_text(const struct domain_spec *d) {
        return d->acpi && d->apic ? "acpi apic" : d->acpi ? "acpi" : d->apic ? "apic" : "(none)";
}

/* Seconds since boot: a shutdown's start is compared across runs within one
 * boot of the host, and wall clock steps must not shorten or stretch it. */
static long long now_boottime(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        return (long long) ts.tv_sec;
}

/* The ledger keeps "ID@SECONDS@BOOT" under "shutdown" when reconcile pressed the
 * power button of the domain with that libvirt id: the id tells this boot of
 * the guest from a later one, for which the record no longer counts. */
/* The host's boot: domain ids and CLOCK_BOOTTIME start again after a reboot. */
static void host_boot_id(char buf[40]) {
        buf[0] = '\0';
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (f) {
                if (!fgets(buf, 40, f))
                        buf[0] = '\0';
                fclose(f);
        }
        buf[strcspn(buf, "\n")] = '\0';
}

static long long shutdown_started(const struct ledger_entry *owned, int id) {
        const char *v = ledger_get(owned, "shutdown");
        int rid;
        long long t;
        char boot[40], rboot[40] = "";
        host_boot_id(boot);
        if (!v || id < 0 || sscanf(v, "%d@%lld@%39s", &rid, &t, rboot) < 2 || rid != id || t > now_boottime() ||
            strcmp(rboot, boot) != 0)
                return -1;
        return t;
}

static void diff_domain_state(const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                              struct action *a, struct plan *p) {
        bool running = l->state == STATE_RUNNING;
        long long since = running ? shutdown_started(owned, l->domain.id) : -1;
        if (w->state == STATE_RUNNING && !running)
                action_add_change(a, DOM_C_STATE, "state", value_word(&domain_state_table, STATE_SHUTOFF),
                                  value_word(&domain_state_table, STATE_RUNNING));
        if (w->state != STATE_SHUTOFF && since >= 0) {
                /* Asked to stay up while a press is on record: forget it, or a later
                 * state: shutoff would count its timeout from the old press. */
                action_add_change(a, DOM_C_SHUTDOWN_FORGET, "shutdown", value_number((uint64_t) (now_boottime() - since)),
                                  VALUE_NONE);
        }
        if (w->state != STATE_SHUTOFF || !running)
                return;
        if (since < 0) {
                action_add_change(a, DOM_C_STATE, "state", value_word(&domain_state_table, STATE_RUNNING),
                                  value_word(&domain_state_table, STATE_SHUTOFF));
                return;
        }
        long long waited = now_boottime() - since;
        uint32_t timeout = w->domain.shutdown_timeout;
        if (waited < timeout) {
                /* The guest got the power button and is on its way down: not an error, not a new request. */
                char why[96];
                snprintf(why, sizeof(why), "shutting down, %lld s of %u", waited, timeout);
                plan_add_pending(p, KIND_DOMAIN, w->name, why, NULL);
        } else if (w->domain.force_off) {
                action_add_change(a, DOM_C_FORCE_OFF, "state", value_number((uint64_t) waited),
                                  value_word(&domain_state_table, STATE_SHUTOFF));
        } else {
                diag_res(-ETIMEDOUT, "domain", w->name,
                         "still running %lld s after the ACPI power button (shutdown-timeout %u); declare force-off: true "
                         "to let reconcile power it off",
                         waited, timeout);
                p->n_errors++;
        }
}

/* "vnc 127.0.0.1:auto password": what a graphics change names (never the password). */
static char *graphics_text(const struct graphics_spec *g) {
        if (g->type < 0)
                return xstrdup("(none)");
        char port[16];
        snprintf(port, sizeof(port), g->port ? "%u" : "auto", g->port);
        return xasprintf("%s %s:%s%s", enum_to_string(&graphics_type_table, g->type), g->listen ? g->listen : "",
                         port, g->password_file || g->has_password ? " password" : "");
}

static char *boot_text(const struct str_list *b) {
        char *t = xstrdup(b->n ? "" : "(default)");
        for (size_t i = 0; i < b->n; i++) {
                char *more = xasprintf("%s%s%s", t, i ? " " : "", b->v[i]);
                free(t);
                t = more;
        }
        return t;
}

/* ---- cloud: the seed, per-device boot order ---- */

/* The seed is built when the ledger has no digest for it or another one. */
static void diff_cloudinit(const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                           struct action *a) {
        if (!(w->set & DOM_F_CLOUD_INIT))
                return;
        const char *built = ledger_get(owned, "cloud-init");
        if (!built || strcmp(built, w->domain.cloud_init.digest) != 0 || l->domain.seed_missing)
                action_add_change(a, DOM_C_SEED, "cloud-init", value_text(built), value_text(w->domain.cloud_init.digest));
}

/* A volume of the seed's name while the ledger has no seed digest for the
 * domain is not reconcile's (a hand-made NAME-cidata.iso): refused at plan
 * time, never overwritten or deleted at apply. Without a connection (a plan
 * against a snapshot) there is no pool to ask. */
static int diff_seed_owned(struct lv_state *s, const struct resource *w, const struct ledger_entry *owned) {
        if (!s || !(w->set & DOM_F_CLOUD_INIT) || ledger_get(owned, "cloud-init"))
                return 0;
        return cloudinit_seed_exists(s->conn, w) ? cloudinit_refuse_foreign(w) : 0;
}

/* "ID@BOOT": the running guest (libvirt id, host boot) that had its seed
 * rebuilt under it, and reads the new one only when it starts again. */
static bool seed_stale(const struct resource *w, const struct resource *l, const struct ledger_entry *owned) {
        if (!(w->set & DOM_F_CLOUD_INIT) || l->state != STATE_RUNNING)
                return false;
        const char *built = ledger_get(owned, "cloud-init");
        if (built && strcmp(built, w->domain.cloud_init.digest) != 0)
                return true; /* this plan rebuilds it */
        const char *rec = ledger_get(owned, "cloud-init.stale");
        char boot[40], rboot[40] = "";
        int id = -1;
        host_boot_id(boot);
        return rec && sscanf(rec, "%d@%39s", &id, rboot) == 2 && id == l->domain.id && strcmp(rboot, boot) == 0;
}

struct boot_entry {
        uint32_t order;
        char *what;
};

static int boot_entry_cmp(const void *a, const void *b) {
        const struct boot_entry *x = a, *y = b;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* The devices' boot orders as one comparable text, by order: "1 disk
 * default/web.qcow2, 2 interface 52:54:00:..". Disks and NICs count only when
 * their list is declared; a desired NIC is named by its MAC (given or kept). */
static char *device_boot_text(const struct resource *r, const struct ledger_entry *owned, bool desired, uint64_t set) {
        const struct domain_spec *d = &r->domain;
        struct boot_entry *v = xcalloc(d->n_disks + d->n_nics + 1, sizeof(*v));
        size_t n = 0;
        for (size_t i = 0; (set & DOM_F_DISKS) && i < d->n_disks; i++)
                if (d->disks[i].boot_order)
                        v[n].order = d->disks[i].boot_order, v[n++].what = xasprintf("disk %s", disk_key(&d->disks[i]));
        for (size_t i = 0; (set & DOM_F_INTERFACES) && i < d->n_nics; i++) {
                const struct nic_spec *nic = &d->nics[i];
                if (!nic->boot_order)
                        continue;
                char key[32], mac[18];
                snprintf(key, sizeof(key), "mac.%zu", i);
                const char *m = !desired || (nic->set & NIC_F_MAC) ? mac_format(nic->mac, mac) : ledger_get(owned, key);
                v[n].order = nic->boot_order;
                v[n++].what = m ? xasprintf("interface %s", m) : nic_source(nic);
        }
        qsort(v, n, sizeof(*v), boot_entry_cmp);
        char *t = xstrdup(n ? "" : "(none)");
        for (size_t i = 0; i < n; i++) {
                char *more = xasprintf("%s%s%u %s", t, i ? ", " : "", v[i].order, v[i].what);
                free(t);
                free(v[i].what);
                t = more;
        }
        free(v);
        return t;
}

static void diff_device_boot(const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                             struct action *a) {
        _cleanup_free_ char *x = device_boot_text(w, owned, true, w->set);
        _cleanup_free_ char *y = device_boot_text(l, owned, false, w->set);
        if (strcmp(x, y) != 0)
                action_add_change(a, DOM_C_DEVICE_BOOT, "boot order", value_text(y), value_text(x));
}

static void domain_restart_pending(const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                                   struct action *a, struct plan *p) {
        const struct resource *act = l->domain.active;
        if (!act)
                return;
        const struct domain_spec *want = &w->domain, *run = &act->domain;
        char why[512] = "";
        size_t len = 0;
#define WHY(...) len += (size_t) snprintf(why + len, len < sizeof(why) ? sizeof(why) - len : 0, __VA_ARGS__)
        uint32_t maxv = w->set & DOM_F_MAX_VCPUS ? want->max_vcpus : want->vcpus;
        uint64_t maxm = w->set & DOM_F_MAX_MEMORY ? want->max_memory : want->memory;
        if (maxv != run->max_vcpus)
                WHY("%smax-vcpus %u -> %u", len ? ", " : "", run->max_vcpus, maxv);
        if (want->vcpus > run->max_vcpus)
                WHY("%svcpus %u above the running maximum %u", len ? ", " : "", want->vcpus, run->max_vcpus);
        char f[32], t[32];
        if (maxm != run->max_memory)
                WHY("%smax-memory %s -> %s", len ? ", " : "", size_text(run->max_memory, f, sizeof(f)),
                    size_text(maxm, t, sizeof(t)));
        /* The definition has the value but the guest runs with another: a live
         * change it refused (a vCPU it cannot unplug) or one made by hand. When
         * the definition differs too, the action tries it live first. */
        if (want->vcpus <= run->max_vcpus && run->vcpus != want->vcpus && l->domain.vcpus == want->vcpus)
                WHY("%svcpus %u -> %u (the running guest has %u)", len ? ", " : "", run->vcpus, want->vcpus, run->vcpus);
        /* The running memory is the balloon's, which a guest without its driver
         * never gives back: only a refusal on record (by guest id) is pending. */
        const char *refused = ledger_get(owned, "memory.live");
        unsigned long long kept = 0;
        int id = -1;
        if (refused && sscanf(refused, "%d@%llu", &id, &kept) == 2 && id == l->domain.id && kept != want->memory &&
            l->domain.memory == want->memory)
                WHY("%smemory %s -> %s (the running guest refused it)", len ? ", " : "", size_text(kept, f, sizeof(f)),
                    size_text(want->memory, t, sizeof(t)));
        if ((w->set & DOM_F_CPU) && str_differs(want->cpu, run->cpu))
                WHY("%scpu %s -> %s", len ? ", " : "", run->cpu ? run->cpu : "default", want->cpu);
        int mb = w->set & DOM_F_MEMBACK ? want->memory_backing : MEMBACK_DEFAULT;
        if (mb != run->memory_backing)
                WHY("%smemory-backing %s -> %s", len ? ", " : "", enum_to_string(&mem_backing_table, run->memory_backing),
                    enum_to_string(&mem_backing_table, mb));
        if (w->set & DOM_F_KERNEL) {
                const char *const wv[] = { want->kernel, want->initrd, want->cmdline };
                const char *const rv[] = { run->kernel, run->initrd, run->cmdline };
                static const char *const names[] = { "kernel", "initrd", "cmdline" };
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (str_differs(wv[i], rv[i]))
                                WHY("%s%s %s -> %s", len ? ", " : "", names[i], rv[i] ? rv[i] : "(none)",
                                    wv[i] ? wv[i] : "(none)");
        }
        if (!run->acpi || !run->apic)
                WHY("%sfeatures %s -> acpi apic", len ? ", " : "", features_text(run));
        if (want->console != run->console)
                WHY("%sconsole %s -> %s", len ? ", " : "", run->console ? "true" : "false", want->console ? "true" : "false");
        if (want->guest_agent != run->guest_agent)
                WHY("%sguest-agent %s -> %s", len ? ", " : "", run->guest_agent ? "true" : "false",
                    want->guest_agent ? "true" : "false");
        if ((w->set & DOM_F_TPM) && want->tpm != run->tpm)
                WHY("%stpm %s -> %s", len ? ", " : "", run->tpm ? "true" : "false", want->tpm ? "true" : "false");
        if ((w->set & DOM_F_VIDEO) && want->video != run->video)
                WHY("%svideo %s -> %s", len ? ", " : "", run->video >= 0 ? enum_to_string(&video_model_table, run->video) : "(none)",
                    enum_to_string(&video_model_table, want->video));
        if (w->set & DOM_F_GRAPHICS) {
                _cleanup_free_ char *x = graphics_text(&want->graphics), *y = graphics_text(&run->graphics);
                if (strcmp(x, y) != 0)
                        WHY("%sgraphics %s -> %s", len ? ", " : "", y, x);
        }
        if (w->set & DOM_F_BOOT) {
                _cleanup_free_ char *x = boot_text(&want->boot), *y = boot_text(&run->boot);
                if (strcmp(x, y) != 0)
                        WHY("%sboot %s -> %s", len ? ", " : "", y, x);
        }
        int *pair = xcalloc(want->n_disks + 1, sizeof(int));
        bool *used = xcalloc(run->n_disks + run->n_nics + 1, sizeof(bool));
        pair_disks(want, run, pair, used);
        for (size_t i = 0; i < want->n_disks; i++) {
                const struct disk_spec *r = pair[i] >= 0 ? &run->disks[pair[i]] : NULL;
                if (r) {
                        _cleanup_free_ char *x = disk_attrs(&want->disks[i]), *y = disk_attrs(r);
                        if (strcmp(x, y) != 0)
                                WHY("%sdisk %s %s -> %s", len ? ", " : "", disk_key(&want->disks[i]), y, x);
                }
        }
        if ((w->set & DOM_F_DISKS))
                for (size_t i = 0; i < run->n_disks; i++)
                        if (!used[i])
                                WHY("%sdisk %s still attached in the guest (a live detach waits for the guest OS)",
                                    len ? ", " : "", disk_key(&run->disks[i]));
        /* A NIC's model never changes live; a source does unless libvirt refused it. */
        memset(used, 0, (run->n_nics + 1) * sizeof(bool));
        for (size_t i = 0; i < want->n_nics && (w->set & DOM_F_INTERFACES); i++) {
                char key[32], mac[18];
                snprintf(key, sizeof(key), "mac.%zu", i);
                int j = match_nic(&want->nics[i], ledger_get(owned, key), run, used);
                if (j < 0)
                        continue;
                const struct nic_spec *wn = &want->nics[i], *rn = &run->nics[j];
                if (nic_source_differs(wn, rn)) {
                        _cleanup_free_ char *x = nic_source(rn), *y = nic_source(wn);
                        WHY("%sinterface %s source %s -> %s", len ? ", " : "", mac_format(rn->mac, mac), x, y);
                }
                if ((wn->set & NIC_F_MODEL) && nic_model_of(wn) != rn->model)
                        WHY("%sinterface %s model %s -> %s", len ? ", " : "", mac_format(rn->mac, mac),
                            rn->model >= 0 ? enum_to_string(&nic_model_table, rn->model) : "(another)",
                            enum_to_string(&nic_model_table, nic_model_of(wn)));
        }
        free(pair);
        free(used);
        _cleanup_free_ char *bw = device_boot_text(w, owned, true, w->set), *br = device_boot_text(act, owned, false, w->set);
        if (strcmp(bw, br) != 0)
                WHY("%sboot order %s -> %s", len ? ", " : "", br, bw);
        if (seed_stale(w, l, owned))
                WHY("%scloud-init seed %s (the guest reads it when it starts)", len ? ", " : "",
                    w->domain.cloud_init.digest);
#undef WHY
        if (len && w->domain.restart == RESTART_ON_CHANGE) {
                /* Opted in: shut down gracefully and started again by the apply. */
                action_add_change(a, DOM_C_RESTART, "restart", VALUE_NONE, value_text(why));
        } else if (len) {
                char reason[600];
                snprintf(reason, sizeof(reason), "restart needed: %s", why);
                plan_add_pending(p, KIND_DOMAIN, w->name, reason, NULL);
        }
}

static int diff_domain(const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                       struct action *a, struct plan *p) {
        const struct domain_spec *want = &w->domain, *have = &l->domain;
        if (!domain_machine_matches(want->machine, have->machine))
                return diag_pos(&w->pos,
                                "domain %s: machine %s -> %s: a defined domain keeps its machine type (its devices are "
                                "placed for it); declare it absent and then re-create it",
                                w->name, have->machine ? have->machine : "(default)", want->machine);
        /* The firmware picks the NVRAM and the boot path: libvirt does not convert one to the other. */
        if ((w->set & DOM_F_FIRMWARE) && want->firmware != have->firmware)
                return diag_pos(resource_key_pos(w, DOM_F_FIRMWARE),
                                "domain %s: firmware %s -> %s: a defined domain keeps its firmware; declare it absent "
                                "and then re-create it",
                                w->name, enum_to_string(&firmware_table, have->firmware),
                                enum_to_string(&firmware_table, want->firmware));
        if ((w->set & DOM_F_SECURE_BOOT) && want->secure_boot != have->secure_boot)
                return diag_pos(resource_key_pos(w, DOM_F_SECURE_BOOT),
                                "domain %s: secure-boot %s -> %s: its NVRAM holds the keys it was made with; declare "
                                "it absent and then re-create it",
                                w->name, have->secure_boot ? "true" : "false", want->secure_boot ? "true" : "false");
        if (want->console != have->console)
                action_add_change(a, DOM_F_CONSOLE, "console", value_bool(have->console), value_bool(want->console));
        if (want->guest_agent != have->guest_agent)
                action_add_change(a, DOM_F_GUEST_AGENT, "guest-agent", value_bool(have->guest_agent),
                                  value_bool(want->guest_agent));
        if ((w->set & DOM_F_TPM) && want->tpm != have->tpm)
                action_add_change(a, DOM_F_TPM, "tpm", value_bool(have->tpm), value_bool(want->tpm));
        if ((w->set & DOM_F_VIDEO) && want->video != have->video)
                action_add_change(a, DOM_F_VIDEO, "video",
                                  have->video >= 0 ? value_word(&video_model_table, have->video) : VALUE_NONE,
                                  value_word(&video_model_table, want->video));
        if (w->set & DOM_F_GRAPHICS) {
                _cleanup_free_ char *x = graphics_text(&want->graphics), *y = graphics_text(&have->graphics);
                if (strcmp(x, y) != 0)
                        action_add_change(a, DOM_F_GRAPHICS, "graphics", value_text(y), value_text(x));
        }
        if (w->set & DOM_F_BOOT) {
                _cleanup_free_ char *x = boot_text(&want->boot), *y = boot_text(&have->boot);
                if (strcmp(x, y) != 0)
                        action_add_change(a, DOM_F_BOOT, "boot", value_text(y), value_text(x));
        }
        uint32_t maxv = w->set & DOM_F_MAX_VCPUS ? want->max_vcpus : want->vcpus;
        uint64_t maxm = w->set & DOM_F_MAX_MEMORY ? want->max_memory : want->memory;
        if (maxv != have->max_vcpus)
                action_add_change(a, DOM_F_MAX_VCPUS, "max-vcpus", value_number(have->max_vcpus), value_number(maxv));
        if (want->vcpus != have->vcpus)
                action_add_change(a, DOM_F_VCPUS, "vcpus", value_number(have->vcpus), value_number(want->vcpus));
        if (maxm != have->max_memory)
                action_add_change(a, DOM_F_MAX_MEMORY, "max-memory", value_size(have->max_memory), value_size(maxm));
        if (want->memory != have->memory)
                action_add_change(a, DOM_F_MEMORY, "memory", value_size(have->memory), value_size(want->memory));
        if ((w->set & DOM_F_CPU) && str_differs(want->cpu, have->cpu))
                action_add_change(a, DOM_F_CPU, "cpu", value_text(have->cpu), value_text(want->cpu));
        int mb = w->set & DOM_F_MEMBACK ? want->memory_backing : MEMBACK_DEFAULT;
        if (mb != have->memory_backing)
                action_add_change(a, DOM_F_MEMBACK, "memory-backing", value_word(&mem_backing_table, have->memory_backing),
                                  value_word(&mem_backing_table, mb));
        if ((w->set & DOM_F_AUTOSTART) && want->autostart != have->autostart)
                action_add_change(a, DOM_F_AUTOSTART, "autostart", value_bool(have->autostart), value_bool(want->autostart));
        /* A declared kernel declares the direct boot whole: an initrd or cmdline
         * left out is removed. Without kernel the domain's boot stays as it is. */
        if (w->set & DOM_F_KERNEL) {
                if (str_differs(want->kernel, have->kernel))
                        action_add_change(a, DOM_F_KERNEL, "kernel", value_text(have->kernel), value_text(want->kernel));
                if (str_differs(want->initrd, have->initrd))
                        action_add_change(a, DOM_F_INITRD, "initrd", value_text(have->initrd), value_text(want->initrd));
                if (str_differs(want->cmdline, have->cmdline))
                        action_add_change(a, DOM_F_CMDLINE, "cmdline", value_text(have->cmdline), value_text(want->cmdline));
        }
        /* A definition made before reconcile rendered them (or by hand) gets them
         * in its config; a running guest has them from its next start (pending). */
        if (!have->acpi || !have->apic)
                action_add_change(a, DOM_F_FEATURES, "features", value_spec(), value_spec());
        if (w->set & DOM_F_DISKS) {
                int *pair = xcalloc(want->n_disks + 1, sizeof(int));
                bool *used = xcalloc(have->n_disks + 1, sizeof(bool));
                pair_disks(want, have, pair, used);
                for (size_t i = 0; i < want->n_disks; i++) {
                        const struct disk_spec *h = pair[i] >= 0 ? &have->disks[pair[i]] : NULL;
                        if (!h) {
                                action_add_change(a, DOM_C_DISK, "disk", VALUE_NONE, value_index(i));
                                continue;
                        }
                        if (str_differs(want->disks[i].cdrom, h->cdrom)) {
                                _cleanup_free_ char *name = xasprintf("cdrom %s", h->target);
                                action_add_change(a, DOM_C_MEDIA, name, value_text(h->cdrom), value_text(want->disks[i].cdrom));
                        }
                        _cleanup_free_ char *x = disk_attrs(&want->disks[i]), *y = disk_attrs(h);
                        if (strcmp(x, y) != 0) {
                                _cleanup_free_ char *name = xasprintf("disk %s", disk_key(&want->disks[i]));
                                action_add_change(a, DOM_C_DISK_EDIT, name, value_index((size_t) pair[i]), value_index(i));
                        }
                }
                for (size_t i = 0; i < have->n_disks; i++)
                        if (!used[i])
                                action_add_change(a, DOM_C_DISK, "disk", value_index(i), VALUE_NONE);
                free(pair);
                free(used);
        }
        if (w->set & DOM_F_INTERFACES) {
                bool *used = xcalloc(have->n_nics + 1, sizeof(bool));
                for (size_t i = 0; i < want->n_nics; i++) {
                        char key[32];
                        snprintf(key, sizeof(key), "mac.%zu", i);
                        int j = match_nic(&want->nics[i], ledger_get(owned, key), have, used);
                        const struct nic_spec *h = j >= 0 ? &have->nics[j] : NULL;
                        if (!h) {
                                action_add_change(a, DOM_C_NIC, "interface", VALUE_NONE, value_index(i));
                                continue;
                        }
                        char mac[18];
                        _cleanup_free_ char *name = xasprintf("interface %s", mac_format(h->mac, mac));
                        if (nic_source_differs(&want->nics[i], h))
                                action_add_change(a, DOM_C_NIC_EDIT, name, value_index((size_t) j), value_index(i));
                        int model = nic_model_of(&want->nics[i]);
                        if ((want->nics[i].set & NIC_F_MODEL) && model != h->model)
                                action_add_change(a, DOM_C_NIC_EDIT, name, value_word(&nic_model_table, h->model),
                                                  value_word(&nic_model_table, model));
                }
                for (size_t j = 0; j < have->n_nics; j++)
                        if (!used[j])
                                action_add_change(a, DOM_C_NIC, "interface", value_index(j), VALUE_NONE);
                free(used);
        }
        diff_device_boot(w, l, owned, a);
        diff_cloudinit(w, l, owned, a);
        tuning_diff(w, l, a, p);
        bool running = l->state == STATE_RUNNING;
        diff_domain_state(w, l, owned, a, p);
        /* Whatever only a restart can bring to the running guest is pending (or, with restart: on-change, a restart). */
        if (running && w->state != STATE_SHUTOFF)
                domain_restart_pending(w, l, owned, a, p);
        a->op = OP_UPDATE;
        return 0;
}

/* ---- the words of changes only a network or a domain can name ---- */

int lv_network_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size) {
        const struct value *v = now ? &c->now : &c->was;
        if (c->field == NET_F_DHCP && v->type == VAL_SPEC) {
                const struct network_spec *n = &(now ? a->want : a->live)->network;
                char start[64], end[64];
                snprintf(buf, size, "%s-%s", ipaddr_format(&n->dhcp.start, false, start, sizeof(start)),
                         ipaddr_format(&n->dhcp.end, false, end, sizeof(end)));
                return 1;
        }
        if (c->field == NET_C_TAPS && !now) {
                snprintf(buf, size, "%s off the bridge", v->text);
                return 1;
        }
        return -1;
}

int lv_domain_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size) {
        const struct value *v = now ? &c->now : &c->was;
        const struct domain_spec *d = v->type == VAL_INDEX || v->type == VAL_SPEC ? &(now ? a->want : a->live)->domain : NULL;
        switch (c->field) {
        case DOM_F_FEATURES:
                snprintf(buf, size, "%s", now ? "acpi apic" : features_text(d));
                return 1;
        case DOM_C_DISK:
                if (!d)
                        return 0;
                snprintf(buf, size, "%s", disk_key(&d->disks[v->index]));
                return 1;
        case DOM_C_DISK_EDIT: {
                _cleanup_free_ char *attrs = disk_attrs(&d->disks[v->index]);
                snprintf(buf, size, "%s", attrs);
                return 1;
        }
        case DOM_C_NIC: {
                if (!d)
                        return 0;
                /* A new NIC shows the MAC the ledger keeps for it; a live one its own. */
                char key[32], mac[18];
                snprintf(key, sizeof(key), "mac.%zu", v->index);
                const char *m = now ? ledger_get(a->owned, key) : mac_format(d->nics[v->index].mac, mac);
                _cleanup_free_ char *text = nic_text(&d->nics[v->index], m);
                snprintf(buf, size, "%s", text);
                return 1;
        }
        case DOM_C_NIC_EDIT: {
                if (v->type != VAL_INDEX)
                        return -1;
                _cleanup_free_ char *source = nic_source(&d->nics[v->index]);
                snprintf(buf, size, "%s", source);
                return 1;
        }
        case DOM_C_SHUTDOWN_FORGET:
                snprintf(buf, size, now ? "forgotten" : "requested %llu s ago", (unsigned long long) v->number);
                return 1;
        case DOM_C_FORCE_OFF:
                snprintf(buf, size, now ? "shutoff (forced off)" : "running (no shutdown after %llu s)",
                         (unsigned long long) v->number);
                return 1;
        case DOM_C_RESTART:
                if (now)
                        snprintf(buf, size, "shut down gracefully and started, for %s", v->text);
                return now;
        case DOM_C_SEED:
                if (v->type == VAL_TEXT)
                        snprintf(buf, size, now ? "seed %s (built)" : "seed %s", v->text);
                return v->type == VAL_TEXT;
        default:
                return -1;
        }
}

/* Pure: the connection is not asked (state may be NULL). */
int lv_network_diff(void *state, const struct resource *want, const struct resource *live,
                    const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state, (void) owned, (void) p;
        return diff_network(want, live, a);
}

int lv_pool_diff(void *state, const struct resource *want, const struct resource *live,
                 const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state, (void) owned, (void) p;
        return diff_pool(want, live, a);
}

/* A volume whose upload a run did not finish (killed half-way: the ledger
 * still marks it incomplete) holds part of its image: it is reconcile's own,
 * and it is made again, never called in sync by its size and format. */
static bool volume_diff_incomplete(const struct resource *w, const struct ledger_entry *owned, struct action *a) {
        const char *incomplete = ledger_get(owned, "incomplete");
        if (!incomplete || !(w->set & VOL_F_SOURCE))
                return false;
        action_add_change(a, VOL_F_SOURCE, "source", value_text("(upload not finished)"), value_text(w->volume.source));
        a->op = OP_REPLACE;
        a->reason = xstrdup("its upload did not finish: deleted and uploaded again");
        return true;
}

int lv_volume_diff(void *state, const struct resource *want, const struct resource *live,
                   const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state, (void) p;
        if (volume_diff_incomplete(want, owned, a))
                return 0;
        /* Adopting is taking what is there as the declared volume; a clone's or
         * an upload's origin cannot be read from it (volume_adopt). */
        if (!owned && (want->set & (VOL_F_CLONE_OF | VOL_F_SOURCE)))
                return diag_pos(&want->pos,
                                "volume %s: its pool already holds a volume of that name, and whether it is %s %s "
                                "cannot be read from it: not adopted (move it aside, or delete it to have it made)",
                                want->name, want->set & VOL_F_SOURCE ? "the upload of" : "a clone of",
                                want->set & VOL_F_SOURCE ? want->volume.source : want->volume.clone_of);
        int r = volume_diff_origin(want, live, owned);
        return r < 0 ? r : diff_volume(want, live, a);
}

int lv_domain_diff(void *state, const struct resource *want, const struct resource *live,
                   const struct ledger_entry *owned, struct action *a, struct plan *p) {
        int r = diff_seed_owned(state, want, owned);
        if (r < 0)
                return r;
        struct resource probed;
        r = disks_probe(state, want, live, &probed);
        if (r >= 0)
                r = diff_domain(&probed, live, owned, a, p);
        free(probed.domain.disks);
        return r;
}

/* ---- apply ---- */

/* The UUID and bridge MAC libvirt gave an existing network. A definition
 * without its UUID is another network of the same name to libvirt ("already
 * exists with uuid"), and one without the MAC gets a new one on its bridge. */
static void network_identity(struct lv_state *s, const char *name, char uuid[VIR_UUID_STRING_BUFLEN], char mac[18]) {
        uuid[0] = mac[0] = '\0';
        virNetworkPtr old = virNetworkLookupByName(s->conn, name);
        if (!old)
                return;
        if (virNetworkGetUUIDString(old, uuid) < 0)
                uuid[0] = '\0';
        char *xml = virNetworkGetXMLDesc(old, VIR_NETWORK_XML_INACTIVE);
        if (!xml)
                xml = virNetworkGetXMLDesc(old, 0);
        struct xr *x = xml ? xr_parse(xml) : NULL;
        _cleanup_free_ char *m = x ? xr_str(x, "/network/mac/@address") : NULL;
        unsigned char bytes[6];
        if (m && mac_parse(m, bytes) == 0)
                mac_format(bytes, mac);
        xr_free(x);
        free(xml);
        virNetworkFree(old);
}

/* Define (or redefine, keeping its identity), then stop it when a restart is
 * needed, and start it when it is to run. A start that fails leaves the
 * definition: the next run's update starts it, or redefines it as the manifest
 * says by then, so the operator never needs to undefine it by hand. */
static int network_define_start(struct lv_state *s, const struct resource *w, bool restart, struct ledger *l,
                                struct ledger_entry *e) {
        char uuid[VIR_UUID_STRING_BUFLEN], mac[18];
        network_identity(s, w->name, uuid, mac);
        _cleanup_free_ char *xml = network_render_xml_as(w, uuid[0] ? uuid : NULL, mac[0] ? mac : NULL);
        if (!xml)
                return diag_res(-EINVAL, "network", w->name, "cannot render its XML");
        virNetworkPtr net = virNetworkDefineXML(s->conn, xml);
        if (!net)
                return lv_fail("network", w->name, uuid[0] ? "redefining" : "defining");
        int r = 0;
        if (virNetworkSetAutostart(net, w->network.autostart) < 0)
                r = lv_fail("network", w->name, "setting autostart");
        if (r >= 0 && restart && virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0)
                r = lv_fail("network", w->name, "stopping it to restart");
        if (r >= 0 && w->network.active && virNetworkIsActive(net) != 1) {
                if (virNetworkCreate(net) < 0) {
                        r = lv_fail("network", w->name, "starting");
                        ledger_mark_incomplete(l, e, "defined, not started");
                } else
                        r = network_reattach(s, net, w->name);
        }
        virNetworkFree(net);
        return r;
}

static int network_delete(struct lv_state *s, const char *name) {
        virNetworkPtr net = virNetworkLookupByName(s->conn, name);
        if (!net)
                return 0;
        int r = 0;
        if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0)
                r = lv_fail("network", name, "stopping");
        if (r >= 0 && virNetworkIsPersistent(net) == 1 && virNetworkUndefine(net) < 0)
                r = lv_fail("network", name, "undefining");
        virNetworkFree(net);
        return r;
}

static int network_update(struct lv_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        const struct resource *w = a->want;
        bool redefine = false, dhcp = false, taps = false;
        for (size_t i = 0; i < a->n_changes; i++) {
                uint64_t f = a->changes[i].field;
                redefine = redefine || (f & (NET_F_MODE | NET_F_BRIDGE | NET_F_DEV | NET_F_MACVTAP_MODE | NET_F_ADDRESS));
                redefine = redefine || (f & (NET_F_OVS_BRIDGE | NET_F_PORTGROUPS));
                dhcp = dhcp || f == NET_F_DHCP;
                taps = taps || f == NET_C_TAPS;
        }
        if (redefine)
                return network_define_start(s, w, a->live->network.active && w->network.active, l, e);
        virNetworkPtr net = virNetworkLookupByName(s->conn, w->name);
        if (!net)
                return lv_fail("network", w->name, "looking it up");
        int r = 0;
        bool active = virNetworkIsActive(net) == 1;
        unsigned flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG | (active ? VIR_NETWORK_UPDATE_AFFECT_LIVE : 0);
        if (dhcp) {
                /* A DHCP range goes live without a restart: delete the old one, add the new one. */
                char s1[64], s2[64];
                const struct network_spec *have = &a->live->network;
                if (a->live->set & NET_F_DHCP) {
                        _cleanup_free_ char *old = xasprintf("<range start='%s' end='%s'/>",
                                                             ipaddr_format(&have->dhcp.start, false, s1, sizeof(s1)),
                                                             ipaddr_format(&have->dhcp.end, false, s2, sizeof(s2)));
                        if (virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                                             -1, old, flags) < 0)
                                r = lv_fail("network", w->name, "removing the old DHCP range");
                }
                if (r >= 0 && (w->set & NET_F_DHCP)) {
                        _cleanup_free_ char *fresh = xasprintf("<range start='%s' end='%s'/>",
                                                               ipaddr_format(&w->network.dhcp.start, false, s1, sizeof(s1)),
                                                               ipaddr_format(&w->network.dhcp.end, false, s2, sizeof(s2)));
                        if (virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                                             -1, fresh, flags) < 0)
                                r = lv_fail("network", w->name, "adding the DHCP range");
                }
        }
        if (r >= 0 && virNetworkSetAutostart(net, w->network.autostart) < 0)
                r = lv_fail("network", w->name, "setting autostart");
        if (r >= 0 && w->network.active && !active && virNetworkCreate(net) < 0)
                r = lv_fail("network", w->name, "starting");
        else if (r >= 0 && w->network.active && (!active || taps))
                r = network_reattach(s, net, w->name);
        if (r >= 0 && !w->network.active && active && virNetworkDestroy(net) < 0)
                r = lv_fail("network", w->name, "stopping");
        virNetworkFree(net);
        return r;
}

static int pool_create(struct lv_state *s, const struct resource *w, struct ledger *l, struct ledger_entry *e) {
        _cleanup_free_ char *xml = pool_render_xml(w);
        if (!xml)
                return diag_res(-EINVAL, "pool", w->name, "cannot render its XML");
        virStoragePoolPtr pool = virStoragePoolDefineXML(s->conn, xml, 0);
        if (!pool)
                return lv_fail("pool", w->name, "defining");
        int r = 0;
        /* Build makes the directory or formats nothing it does not own: NO_OVERWRITE. */
        if (virStoragePoolBuild(pool, VIR_STORAGE_POOL_BUILD_NO_OVERWRITE) < 0 && virStoragePoolBuild(pool, 0) < 0) {
                /* A pool that was never built is only a definition, and no update
                 * builds one: undefine it, so the next run defines and builds anew. */
                r = lv_fail("pool", w->name, "building");
                if (virStoragePoolUndefine(pool) < 0)
                        r = lv_fail("pool", w->name, "undefining it after the failed build");
                virStoragePoolFree(pool);
                return r;
        }
        if (virStoragePoolSetAutostart(pool, w->pool.autostart) < 0)
                r = lv_fail("pool", w->name, "setting autostart");
        if (r >= 0 && w->pool.active && virStoragePoolCreate(pool, 0) < 0)
                r = lv_fail("pool", w->name, "starting");
        /* Built but not started: an update does the rest, as for any pool of ours. */
        if (r < 0)
                ledger_mark_incomplete(l, e, "defined and built, not started");
        virStoragePoolFree(pool);
        return r;
}

/* Destroy and undefine; never virStoragePoolDelete, which would wipe a logical pool's VG. */
static int pool_delete(struct lv_state *s, const char *name) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(s->conn, name);
        if (!pool)
                return 0;
        int r = 0;
        if (virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0)
                r = lv_fail("pool", name, "stopping");
        if (r >= 0 && virStoragePoolIsPersistent(pool) == 1 && virStoragePoolUndefine(pool) < 0)
                r = lv_fail("pool", name, "undefining");
        virStoragePoolFree(pool);
        return r;
}

static int pool_update(struct lv_state *s, const struct resource *w) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(s->conn, w->name);
        if (!pool)
                return lv_fail("pool", w->name, "looking it up");
        int r = 0;
        bool active = virStoragePoolIsActive(pool) == 1;
        if (virStoragePoolSetAutostart(pool, w->pool.autostart) < 0)
                r = lv_fail("pool", w->name, "setting autostart");
        if (r >= 0 && w->pool.active && !active && virStoragePoolCreate(pool, 0) < 0)
                r = lv_fail("pool", w->name, "starting");
        if (r >= 0 && !w->pool.active && active && virStoragePoolDestroy(pool) < 0)
                r = lv_fail("pool", w->name, "stopping");
        virStoragePoolFree(pool);
        return r;
}

static virStorageVolPtr volume_lookup(struct lv_state *s, const char *full, virStoragePoolPtr *pool_out) {
        _cleanup_free_ char *pool_name = xstrdup(full);
        char *slash = strchr(pool_name, '/');
        if (!slash)
                return NULL;
        *slash = '\0';
        virStoragePoolPtr pool = virStoragePoolLookupByName(s->conn, pool_name);
        if (!pool)
                return NULL;
        virStorageVolPtr vol = virStorageVolLookupByName(pool, slash + 1);
        if (pool_out)
                *pool_out = pool;
        else
                virStoragePoolFree(pool);
        return vol;
}

/* An overlay or a clone to make: its origin, when it exists already, has a
 * format reconcile knows and no more capacity than the one declared. */
static int volume_admit_derived(struct lv_state *s, const struct resource *w) {
        bool overlay = w->set & VOL_F_BACKING;
        const char *ref = overlay ? w->volume.backing : w->volume.clone_of;
        virStorageVolPtr base = volume_lookup(s, ref, NULL);
        if (!base)
                return 0; /* made in this run, before it */
        virStorageVolInfo info;
        int format = volume_format_of(base), r = 0;
        if (virStorageVolGetInfo(base, &info) < 0)
                r = lv_fail("volume", w->name, "reading the volume it is made from");
        else if (format < 0)
                r = diag_pos(resource_key_pos(w, overlay ? VOL_F_BACKING : VOL_F_CLONE_OF),
                             "volume %s: %s has a format reconcile does not know (raw or qcow2)", w->name, ref);
        else if ((w->set & VOL_F_CAPACITY) && w->volume.capacity < info.capacity) {
                char f[32], t[32];
                r = diag_pos(resource_key_pos(w, VOL_F_CAPACITY), "volume %s: capacity %s is below the %s of %s, which it is made from",
                             w->name, size_text(w->volume.capacity, t, sizeof(t)), size_text(info.capacity, f, sizeof(f)), ref);
        }
        virStorageVolFree(base);
        return r;
}

/* A volume still to be uploaded needs its image here, readable (reconcile
 * reads and sends it): found by the plan, not half-way through an apply. Its
 * digest is checked when it is read, at apply. */
int lv_volume_admit(void *state, const struct resource *w) {
        struct lv_state *s = state;
        if (!(w->set & (VOL_F_SOURCE | VOL_F_BACKING | VOL_F_CLONE_OF)) || w->state == STATE_ABSENT)
                return 0;
        virStorageVolPtr vol = volume_lookup(s, w->name, NULL);
        if (vol) {
                virStorageVolFree(vol);
                return 0;
        }
        if (!(w->set & VOL_F_SOURCE))
                return volume_admit_derived(s, w);
        if (access(w->volume.source, R_OK) < 0)
                return diag_pos(resource_key_pos(w, VOL_F_SOURCE), "volume %s: source %s: %s", w->name, w->volume.source,
                                strerror(errno));
        return 0;
}

/* Whether the ledger says reconcile made this volume, whole, from the origin
 * w declares (a pool re-created over the directory that kept it). */
static bool volume_made_so(const struct resource *w, const struct ledger_entry *e) {
        if (!e || ledger_get(e, "incomplete"))
                return false;
        if (w->set & VOL_F_CLONE_OF)
                return !str_differs(ledger_get(e, "clone-of"), w->volume.clone_of);
        return !str_differs(ledger_get(e, "source"), w->volume.source) &&
               !str_differs(ledger_get(e, "sha256"), w->set & VOL_F_SHA256 ? w->volume.sha256 : NULL);
}

/* A volume already in the pool under its declared name, such as a file a
 * re-created pool found in its directory: taken as the declared one when its
 * format is the declared one and it is no larger than a declared capacity (a
 * smaller one is grown, as an update would); anything else is an error that
 * says what is there. A volume declared from an origin is taken only when
 * the origin can be read back from the image and is the declared one (an
 * overlay's backing file), or when the ledger says reconcile made it so. A
 * clone's or an upload's origin leaves no trace in the volume, and taking
 * whatever bears the name would call someone else's data (or a half-made
 * upload) the declared image. */
static int volume_adopt(struct lv_state *s, virStorageVolPtr vol, const struct resource *w,
                        const struct ledger_entry *e) {
        const char *keep = "move it aside, or delete it to have it made";
        if ((w->set & (VOL_F_CLONE_OF | VOL_F_SOURCE)) && !volume_made_so(w, e))
                return diag_res(-EEXIST, "volume", w->name,
                                "its pool already holds a volume of that name, and whether it is %s %s cannot be read "
                                "from it: not adopted (%s)",
                                w->set & VOL_F_SOURCE ? "the upload of" : "a clone of",
                                w->set & VOL_F_SOURCE ? w->volume.source : w->volume.clone_of, keep);
        int want_fmt = w->set & VOL_F_FORMAT ? w->volume.format : w->set & VOL_F_BACKING ? VOL_QCOW2 : VOL_RAW;
        char *xml = virStorageVolGetXMLDesc(vol, 0);
        struct xr *x = xml ? xr_parse(xml) : NULL;
        _cleanup_free_ char *fmt = x ? xr_str(x, "/volume/target/format/@type") : xstrdup("");
        _cleanup_free_ char *backing_path = x ? xr_str(x, "/volume/backingStore/path") : NULL;
        xr_free(x);
        free(xml);
        if (w->set & VOL_F_BACKING) {
                virStorageVolPtr base = volume_lookup(s, w->volume.backing, NULL);
                _cleanup_free_ char *base_path = base ? virStorageVolGetPath(base) : NULL;
                if (base)
                        virStorageVolFree(base);
                if (!base_path)
                        return lv_fail("volume", w->name, "looking up its backing volume");
                if (str_differs(backing_path, base_path))
                        return diag_res(-EEXIST, "volume", w->name,
                                        "its pool already holds a volume of that name on %s, not on %s (%s): not adopted "
                                        "(%s)",
                                        backing_path ? backing_path : "no backing file", w->volume.backing, base_path,
                                        keep);
        }
        virStorageVolInfo info;
        if (virStorageVolGetInfo(vol, &info) < 0)
                return lv_fail("volume", w->name, "reading the volume already in its pool");
        int have_fmt = enum_from_string(&vol_format_table, fmt);
        /* An overlay may leave its capacity to its base: none declared, none to compare. */
        bool sized = w->set & VOL_F_CAPACITY;
        char have_size[32], want_size[32];
        size_text(info.capacity, have_size, sizeof(have_size));
        size_text(w->volume.capacity, want_size, sizeof(want_size));
        if (have_fmt != want_fmt)
                return diag_res(-EEXIST, "volume", w->name,
                                "its pool already holds a %s volume of that name (%s); declared %s: not adopted "
                                "(declare format: %s, or move the file aside)",
                                *fmt ? fmt : "unknown", have_size, enum_to_string(&vol_format_table, want_fmt),
                                *fmt ? fmt : "raw");
        if (sized && info.capacity > w->volume.capacity)
                return diag_res(-EEXIST, "volume", w->name,
                                "its pool already holds it with capacity %s, more than the declared %s: not adopted "
                                "(declare capacity: %s, or move the file aside)",
                                have_size, want_size, have_size);
        bool grow = sized && info.capacity < w->volume.capacity;
        if (grow && virStorageVolResize(vol, w->volume.capacity, 0) < 0)
                return lv_fail("volume", w->name, "growing the volume already in its pool");
        diag_info("volume %s: adopted the %s volume already in its pool (%s%s%s)", w->name, fmt, have_size,
                  grow ? ", grown to " : "", grow ? want_size : "");
        return 0;
}

/* An origin volume's capacity, format and path, for an overlay or a clone of it. */
static int volume_origin_info(virStorageVolPtr vol, uint64_t *capacity, int *format, char **path) {
        virStorageVolInfo info;
        if (virStorageVolGetInfo(vol, &info) < 0)
                return -EIO;
        *capacity = info.capacity;
        *format = volume_format_of(vol);
        *path = virStorageVolGetPath(vol);
        return *path ? 0 : -EIO;
}

/* Grow a volume just made from an origin to the declared capacity. */
static int volume_grow_made(virStorageVolPtr vol, const struct resource *w, uint64_t capacity) {
        if (!(w->set & VOL_F_CAPACITY) || w->volume.capacity <= capacity)
                return 0;
        return virStorageVolResize(vol, w->volume.capacity, 0) < 0 ? lv_fail("volume", w->name, "growing it to its capacity")
                                                                   : 0;
}

/* A qcow2 overlay on its backing volume (qemu only reads the base), or a full
 * copy of a volume through libvirt. */
static int volume_create_derived(struct lv_state *s, virStoragePoolPtr pool, const struct resource *w) {
        bool overlay = w->set & VOL_F_BACKING;
        const char *ref = overlay ? w->volume.backing : w->volume.clone_of;
        virStorageVolPtr base = volume_lookup(s, ref, NULL);
        if (!base)
                return lv_fail("volume", w->name, overlay ? "looking up its backing volume" : "looking up the volume it clones");
        uint64_t capacity = 0;
        int format = -1, r = 0;
        char *path = NULL;
        if (volume_origin_info(base, &capacity, &format, &path) < 0)
                r = lv_fail("volume", w->name, "reading the volume it is made from");
        else if (format < 0)
                r = diag_res(-EINVAL, "volume", w->name, "%s has a format reconcile does not know (raw or qcow2)", ref);
        else if ((w->set & VOL_F_CAPACITY) && w->volume.capacity < capacity) {
                char f[32], t[32];
                r = diag_res(-EINVAL, "volume", w->name, "capacity %s is below the %s of %s, which it is made from",
                             size_text(w->volume.capacity, t, sizeof(t)), size_text(capacity, f, sizeof(f)), ref);
        }
        virStorageVolPtr vol = NULL;
        if (r >= 0) {
                uint64_t size = overlay && (w->set & VOL_F_CAPACITY) ? w->volume.capacity : capacity;
                int fmt = w->set & VOL_F_FORMAT ? w->volume.format : format;
                _cleanup_free_ char *xml =
                        volume_render_origin_xml(w, size, overlay ? VOL_QCOW2 : fmt, overlay ? path : NULL, format);
                vol = !xml ? NULL : overlay ? virStorageVolCreateXML(pool, xml, 0) : virStorageVolCreateXMLFrom(pool, xml, base, 0);
                if (!vol)
                        r = lv_fail("volume", w->name, overlay ? "creating it as an overlay" : "cloning");
        }
        if (vol && !overlay)
                r = volume_grow_made(vol, w, capacity);
        if (vol)
                virStorageVolFree(vol);
        free(path);
        virStorageVolFree(base);
        return r;
}

int lv_volume_send(virConnectPtr conn, virStorageVolPtr vol, uint64_t len, long (*next)(void *u, char *buf, size_t size),
                   void *u, const char *kind, const char *name, const char *what, bool *filled) {
        char buf[65536], step[128];
        *filled = true;
        virStreamPtr st = virStreamNew(conn, 0);
        if (!st) {
                snprintf(step, sizeof(step), "opening a stream for %s", what);
                return lv_fail(kind, name, step);
        }
        int r = 0;
        if (virStorageVolUpload(vol, st, 0, len, 0) < 0) {
                /* The test driver keeps no content: the volume is what it can have. */
                if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT)
                        *filled = false;
                else {
                        snprintf(step, sizeof(step), "starting the upload of %s", what);
                        r = lv_fail(kind, name, step);
                }
                virStreamFree(st);
                return r;
        }
        for (long n; r >= 0 && (n = next(u, buf, sizeof(buf))) != 0;) {
                if (n < 0) {
                        r = (int) n;
                        break;
                }
                for (long off = 0; off < n && r >= 0;) {
                        int sent = virStreamSend(st, buf + off, (size_t) (n - off));
                        if (sent < 0) {
                                snprintf(step, sizeof(step), "uploading %s", what);
                                r = lv_fail(kind, name, step);
                        } else
                                off += sent;
                }
        }
        if (r >= 0 && virStreamFinish(st) < 0) {
                snprintf(step, sizeof(step), "finishing the upload of %s", what);
                r = lv_fail(kind, name, step);
        } else if (r < 0)
                virStreamAbort(st);
        virStreamFree(st);
        return r;
}

/* An image file read for its upload, hashed as it goes: the bytes checked are
 * the bytes sent, whatever happens to the file meanwhile. */
struct source_reader {
        int fd;
        const struct resource *w;
        struct sha256 hash;
};

static long source_next(void *u, char *buf, size_t size) {
        struct source_reader *sr = u;
        const struct resource *w = sr->w;
        ssize_t n;
        while ((n = read(sr->fd, buf, size)) < 0 && errno == EINTR)
                ;
        if (n < 0)
                return diag_res(-errno, "volume", w->name, "reading source %s: %s", w->volume.source, strerror(errno));
        sha256_update(&sr->hash, buf, (size_t) n);
        if (n > 0 || !(w->set & VOL_F_SHA256))
                return n;
        char got[65];
        sha256_hex(&sr->hash, got);
        if (strcmp(got, w->volume.sha256) != 0)
                return diag_res(-EBADMSG, "volume", w->name,
                                "source %s changed while it was uploaded: sha256 %s, not the declared %s: not kept",
                                w->volume.source, got, w->volume.sha256);
        return 0;
}

/* An image file uploaded once into a new volume, its sha256 checked first and
 * again over the bytes sent, all from one open of the file (another open could
 * find another file). The volume is made as a plain file of the image's size
 * and takes the image's bytes; the pool then reads the image's format from
 * them. All or nothing: a failed upload deletes the volume, and while it runs
 * the ledger marks the volume incomplete (saved first), so that a run killed
 * half-way leaves a volume the next plan re-makes, not one it calls in sync. */
static int volume_upload(struct lv_state *s, virStoragePoolPtr pool, const struct resource *w, struct ledger *l,
                         struct ledger_entry *e) {
        const char *src = w->volume.source;
        struct source_reader sr = { .fd = open(src, O_RDONLY | O_CLOEXEC), .w = w };
        struct stat st;
        if (sr.fd < 0 || fstat(sr.fd, &st) < 0) {
                int err = diag_res(-errno, "volume", w->name, "source %s: %s", src, strerror(errno));
                if (sr.fd >= 0)
                        close(sr.fd);
                return err;
        }
        int format, r = image_probe_format_fd(sr.fd, &format);
        char got[65];
        if (r < 0)
                r = diag_res(r, "volume", w->name, "source %s: %s", src, strerror(-r));
        else if ((w->set & VOL_F_FORMAT) && w->volume.format != format)
                r = diag_res(-EINVAL, "volume", w->name, "source %s is a %s image, declared format %s: not uploaded", src,
                             enum_to_string(&vol_format_table, format), enum_to_string(&vol_format_table, w->volume.format));
        else if ((w->set & VOL_F_SHA256) && (r = image_sha256_fd(sr.fd, got)) < 0)
                r = diag_res(r, "volume", w->name, "source %s: %s", src, strerror(-r));
        else if ((w->set & VOL_F_SHA256) && strcmp(got, w->volume.sha256) != 0)
                r = diag_res(-EBADMSG, "volume", w->name, "source %s has sha256 %s, not the declared %s: not uploaded", src,
                             got, w->volume.sha256);
        if (r < 0) {
                close(sr.fd);
                return r;
        }
        sha256_init(&sr.hash);
        _cleanup_free_ char *xml = volume_render_origin_xml(w, (uint64_t) st.st_size, VOL_RAW, NULL, -1);
        virStorageVolPtr vol = xml ? virStorageVolCreateXML(pool, xml, 0) : NULL;
        if (!vol)
                r = lv_fail("volume", w->name, "creating it for its source");
        if (vol && e) {
                ledger_mark_incomplete(l, e, "made, its source not fully uploaded");
                if ((r = ledger_save(l)) < 0)
                        r = diag_res(r, "volume", w->name, "saving the ledger before its upload: %s", strerror(-r));
        }
        if (r >= 0 && lseek(sr.fd, 0, SEEK_SET) < 0)
                r = diag_res(-errno, "volume", w->name, "source %s: %s", src, strerror(errno));
        bool filled = true;
        if (r >= 0)
                r = lv_volume_send(s->conn, vol, (uint64_t) st.st_size, source_next, &sr, "volume", w->name, "its source",
                                   &filled);
        close(sr.fd);
        /* Nothing is left once deleted: the failed create owns nothing (run.c
         * drops a pending entry). Left, it stays marked, for the next run. */
        if (vol && r < 0 && virStorageVolDelete(vol, 0) == 0) {
                if (e) {
                        ledger_set(l, e, "incomplete", NULL);
                        ledger_set(l, e, "pending", "1");
                }
        }
        if (vol)
                virStorageVolFree(vol);
        if (r < 0)
                return r;
        if (!filled) {
                /* The test driver forgets its volumes when its pool looks again: no refresh. */
                diag_info("note: volume %s: %s keeps no volume content: the volume is made, not filled", w->name, s->uri);
                return 0;
        }
        /* The pool reads the new bytes (the image's format and size) when it looks again. */
        virStoragePoolRefresh(pool, 0);
        const char *slash = strchr(w->name, '/');
        vol = virStorageVolLookupByName(pool, slash ? slash + 1 : w->name);
        virStorageVolInfo info;
        if (!vol || virStorageVolGetInfo(vol, &info) < 0)
                r = lv_fail("volume", w->name, "reading it after its upload");
        else
                r = volume_grow_made(vol, w, info.capacity);
        if (vol)
                virStorageVolFree(vol);
        return r;
}

static int volume_create(struct lv_state *s, const struct resource *w, struct ledger *l, struct ledger_entry *e) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(s->conn, w->volume.pool);
        if (!pool)
                return lv_fail("volume", w->name, "looking up its pool");
        /* A pool (re-)created over storage that kept its volumes lists them only
         * once it looks again; the plan, made before the pool was, could not.
         * The test driver has no storage to look at: its refresh forgets the
         * volumes it holds. */
        if (virStoragePoolIsActive(pool) == 1 && strncmp(s->uri, "test:", 5) != 0)
                virStoragePoolRefresh(pool, 0);
        const char *slash = strchr(w->name, '/');
        virStorageVolPtr found = virStorageVolLookupByName(pool, slash ? slash + 1 : w->name);
        if (found) {
                int r = volume_adopt(s, found, w, e);
                virStorageVolFree(found);
                virStoragePoolFree(pool);
                return r;
        }
        if (w->set & (VOL_F_BACKING | VOL_F_CLONE_OF | VOL_F_SOURCE)) {
                int r = w->set & VOL_F_SOURCE ? volume_upload(s, pool, w, l, e) : volume_create_derived(s, pool, w);
                virStoragePoolFree(pool);
                return r;
        }
        _cleanup_free_ char *xml = volume_render_xml(w);
        unsigned flags = w->volume.prealloc == PREALLOC_METADATA && w->volume.format == VOL_QCOW2
                                 ? VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
                                 : 0;
        virStorageVolPtr vol = xml ? virStorageVolCreateXML(pool, xml, flags) : NULL;
        if (!vol && xml && flags && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
                /* A driver that cannot preallocate (test://) still gets the volume. */
                diag_info("warning: volume %s: %s cannot preallocate metadata; created without", w->name, s->uri);
                vol = virStorageVolCreateXML(pool, xml, 0);
        }
        int r = vol ? 0 : lv_fail("volume", w->name, "creating");
        if (vol)
                virStorageVolFree(vol);
        virStoragePoolFree(pool);
        return r;
}

static int volume_delete(struct lv_state *s, const char *name) {
        virStorageVolPtr vol = volume_lookup(s, name, NULL);
        if (!vol)
                return 0;
        int r = virStorageVolDelete(vol, 0) < 0 ? lv_fail("volume", name, "deleting") : 0;
        virStorageVolFree(vol);
        return r;
}

/* Grow: through the running domain that has it attached (so the guest sees it), else on disk. */
static int volume_grow(struct lv_state *s, const struct action *a) {
        const struct resource *w = a->want;
        virStorageVolPtr vol = volume_lookup(s, w->name, NULL);
        if (!vol)
                return lv_fail("volume", w->name, "looking it up");
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(s->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE), r = 1;
        for (int i = 0; i < n; i++) {
                char *xml = r == 1 ? virDomainGetXMLDesc(doms[i], 0) : NULL;
                struct resource *d = xml ? resource_new(KIND_DOMAIN, "") : NULL;
                if (d && domain_parse_xml(xml, d) == 0 && find_disk(&d->domain, w->name)) {
                        const struct disk_spec *k = find_disk(&d->domain, w->name);
                        r = virDomainBlockResize(doms[i], k->target, w->volume.capacity, VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0
                                    ? lv_fail("volume", w->name, "growing it through its running domain")
                                    : 0;
                        /* The pool caches volume sizes: make it look again. */
                        virStoragePoolPtr pool = virStoragePoolLookupByName(s->conn, w->volume.pool);
                        if (pool) {
                                virStoragePoolRefresh(pool, 0);
                                virStoragePoolFree(pool);
                        }
                }
                resource_free(d);
                free(xml);
                virDomainFree(doms[i]);
        }
        free(doms);
        if (r == 1)
                r = virStorageVolResize(vol, w->volume.capacity, 0) < 0 ? lv_fail("volume", w->name, "growing") : 0;
        virStorageVolFree(vol);
        return r;
}

/* Under QEMU's 52:54:00, as libvirt makes them. */
static void random_mac(const char *domain, size_t nic, char buf[18]) {
        char name[300];
        unsigned char m[6];
        snprintf(name, sizeof(name), "%s/%zu", domain, nic);
        mac_random("domain-nic", name, m);
        m[0] = 0x52;
        m[1] = 0x54;
        m[2] = 0x00;
        mac_format(m, buf);
}

/* MACs for NICs without one: generated once, kept in the ledger, never regenerated. */
static void domain_macs(struct ledger *l, struct ledger_entry *e, const struct resource *w, char (*macs)[18]) {
        for (size_t i = 0; i < w->domain.n_nics; i++) {
                char key[32];
                snprintf(key, sizeof(key), "mac.%zu", i);
                if (w->domain.nics[i].set & NIC_F_MAC) {
                        mac_format(w->domain.nics[i].mac, macs[i]);
                        continue;
                }
                const char *kept = ledger_get(e, key);
                unsigned char m[6];
                if (kept && mac_parse(kept, m) == 0)
                        mac_format(m, macs[i]);
                else {
                        random_mac(w->name, i, macs[i]);
                        if (e)
                                ledger_set(l, e, key, macs[i]);
                }
        }
}

void lv_forget_secret(char *s) {
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
}

/* The graphics password: the first line of its file, read only now, at apply
 * time, so that no manifest, plan or ledger ever holds it. */
static int read_password(const struct resource *w, char **out) {
        const char *path = w->domain.graphics.password_file;
        FILE *f = fopen(path, "re");
        if (!f)
                return diag_res(-errno, "domain", w->name, "graphics password-file %s: %s", path, strerror(errno));
        char buf[256] = "";
        bool got = fgets(buf, sizeof(buf), f) != NULL;
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        /* VNC uses at most 8 characters of a password; libvirt refuses nothing, so say it here. */
        int r = 0;
        if (!got || !buf[0])
                r = diag_res(-EINVAL, "domain", w->name, "graphics password-file %s: empty", path);
        else if (!xml_safe(buf))
                r = diag_res(-EINVAL, "domain", w->name, "graphics password-file %s: control characters or <>&'\"", path);
        else
                *out = xstrdup(buf);
        explicit_bzero(buf, sizeof(buf));
        return r;
}

/* Record the seed built for w: its digest, and the running guest it was
 * rebuilt under (which reads it at its next start). */
static int domain_store_seed(struct lv_state *s, const struct resource *w, struct ledger *l, struct ledger_entry *e,
                             int running_id) {
        bool uploaded = true;
        int r = cloudinit_store(s->conn, w, e && ledger_get(e, "cloud-init"), &uploaded);
        if (r < 0)
                return r;
        if (!uploaded)
                diag_info("note: domain %s: %s keeps no volume content: the cloud-init seed's volume is made, not filled",
                          w->name, s->uri);
        if (!e)
                return 0;
        /* The same content made again (its volume was deleted): the guest has nothing new to read. */
        const char *prev = ledger_get(e, "cloud-init");
        if (prev && strcmp(prev, w->domain.cloud_init.digest) == 0)
                return 0;
        ledger_set(l, e, "cloud-init", w->domain.cloud_init.digest);
        char rec[64], boot[40];
        host_boot_id(boot);
        snprintf(rec, sizeof(rec), "%d@%s", running_id, boot);
        ledger_set(l, e, "cloud-init.stale", running_id >= 0 ? rec : NULL);
        return 0;
}

/* A create that failed after its seed was stored: the seed's volume stays,
 * and stays reconcile's (the entry, with its digest, is kept incomplete),
 * so the next run reuses it instead of refusing it as someone else's. */
static int seed_kept(struct ledger *l, struct ledger_entry *e, const struct resource *w, int r) {
        if (w->set & DOM_F_CLOUD_INIT)
                ledger_mark_incomplete(l, e, "its cloud-init seed made, the domain not defined");
        return r;
}

static int domain_create(struct lv_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        const struct resource *w = a->want;
        int seeded = w->set & DOM_F_CLOUD_INIT ? domain_store_seed(s, w, l, e, -1) : 0; /* its cdrom's volume */
        if (seeded < 0)
                return seeded;
        __attribute__((cleanup(disks_probed_done))) struct resource probed = { 0 };
        if (disks_probe(s, w, NULL, &probed) < 0)
                return seed_kept(l, e, w, -EINVAL);
        w = &probed;
        size_t n = w->domain.n_nics;
        char (*macs)[18] = xcalloc(n + 1, sizeof(*macs));
        const char **mac_ptrs = xcalloc(n + 1, sizeof(char *));
        domain_macs(l, e, w, macs);
        for (size_t i = 0; i < n; i++)
                mac_ptrs[i] = macs[i];
        char *password = NULL;
        if (w->domain.graphics.password_file && read_password(w, &password) < 0) {
                free(mac_ptrs);
                free(macs);
                return seed_kept(l, e, w, -EIO);
        }
        char *xml = domain_render_xml_secret(w, s->domain_type, mac_ptrs, password);
        free(mac_ptrs);
        free(macs);
        lv_forget_secret(password);
        if (!xml)
                return seed_kept(l, e, w, diag_res(-EINVAL, "domain", w->name, "cannot render its XML"));
        virDomainPtr dom = virDomainDefineXML(s->conn, xml);
        lv_forget_secret(xml);
        if (!dom)
                return seed_kept(l, e, w, lv_fail("domain", w->name, "defining"));
        int r = 0;
        if ((w->set & DOM_F_AUTOSTART) && virDomainSetAutostart(dom, w->domain.autostart) < 0)
                r = lv_fail("domain", w->name, "setting autostart");
        if (r >= 0 && w->state == STATE_RUNNING && virDomainCreate(dom) < 0)
                r = lv_fail("domain", w->name, "starting");
        /* The definition stays ours (it carries our metadata and the MACs the
         * ledger keeps): undefining it would lose nothing the next run cannot
         * redo, but a start that failed for a passing cause (memory, a disk not
         * there yet) is then retried by the ordinary update. */
        if (r < 0)
                ledger_mark_incomplete(l, e, "defined, not started");
        virDomainFree(dom);
        return r;
}

static int domain_delete(struct lv_state *s, const char *name) {
        virDomainPtr dom = virDomainLookupByName(s->conn, name);
        if (!dom)
                return 0;
        int r = 0;
        if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0)
                r = lv_fail("domain", name, "stopping");
        /* Undefine keeps every disk: volumes go only on their own state: absent.
         * A UEFI guest's NVRAM file is kept too (libvirt refuses the undefine
         * without saying which): it may hold enrolled keys, and no plan names it. */
        if (r >= 0 && virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_KEEP_NVRAM |
                                                          VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                                          VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0 &&
            virDomainUndefine(dom) < 0)
                r = lv_fail("domain", name, "undefining");
        virDomainFree(dom);
        return r;
}

/* The persistent definition, parsed; NULL after saying why. */
static struct xr *config_read(virDomainPtr dom, const char *name) {
        char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
        struct xr *x = xml ? xr_parse(xml) : NULL;
        lv_forget_secret(xml); /* read with its secrets: a graphics password */
        if (!x)
                lv_fail("domain", name, "reading its definition");
        return x;
}

/* Define edited (taken) as the persistent definition. */
static int config_define(struct lv_state *s, const char *name, char *edited) {
        virDomainPtr d = virDomainDefineXML(s->conn, edited);
        lv_forget_secret(edited);
        if (!d)
                return lv_fail("domain", name, "redefining");
        virDomainFree(d);
        return 0;
}

/* Redefine the persistent config with one element replaced: the rest of the
 * definition (devices others added, emulator, machine) stays as it is. */
static int domain_edit_config(struct lv_state *s, virDomainPtr dom, const char *name, const char *path,
                              const char *parent, const char *fresh) {
        struct xr *x = config_read(dom, name);
        if (!x)
                return -EIO;
        char *edited = xr_replace(x, path, parent, fresh);
        xr_free(x);
        if (!edited)
                return diag_res(-EINVAL, "domain", name, "cannot edit its definition at %s", path);
        return config_define(s, name, edited);
}

/* Attach or detach one device: live and config on a running domain; on a shut-off
 * one an edit of the definition, which every driver takes. */
static int domain_device(struct lv_state *s, virDomainPtr dom, const char *name, bool running, bool attach,
                         const char *xml, const char *path, const char *what) {
        if (running) {
                unsigned f = VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_AFFECT_LIVE;
                int x = attach ? virDomainAttachDeviceFlags(dom, xml, f) : virDomainDetachDeviceFlags(dom, xml, f);
                return x < 0 ? lv_fail("domain", name, what) : 0;
        }
        return domain_edit_config(s, dom, name, path, "/domain/devices", attach ? xml : NULL);
}

static char *os_leaf_xml(const char *element, const char *value) {
        struct xw *x = xw_new();
        xw_leaf(x, element, "%s", value);
        return xw_finish(x);
}

/* Add ACPI and APIC to the persistent definition, keeping any other feature it has. */
static int domain_add_features(struct lv_state *s, virDomainPtr dom, const char *name) {
        struct xr *x = config_read(dom, name);
        if (!x)
                return -EIO;
        char *edited = NULL;
        if (!xr_count(x, "/domain/features"))
                edited = xr_replace(x, "/domain/features", "/domain", "<features><acpi/><apic/></features>");
        else {
                /* One element at a time, each edit on the result of the one before. */
                static const char *const feats[] = { "acpi", "apic" };
                for (size_t i = 0; i < ELEMENTSOF(feats) && x; i++) {
                        _cleanup_free_ char *path = xasprintf("/domain/features/%s", feats[i]);
                        _cleanup_free_ char *leaf = xasprintf("<%s/>", feats[i]);
                        if (xr_count(x, "%s", path))
                                continue;
                        free(edited);
                        edited = xr_replace(x, path, "/domain/features", leaf);
                        xr_free(x);
                        x = edited ? xr_parse(edited) : NULL;
                }
        }
        xr_free(x);
        if (!edited)
                return diag_res(-EINVAL, "domain", name, "cannot add acpi and apic to its definition");
        return config_define(s, name, edited);
}

/* Replace every /domain/os/boot with the declared order, in one redefinition. */
static int domain_set_boot(struct lv_state *s, virDomainPtr dom, const struct resource *w) {
        struct xr *x = config_read(dom, w->name);
        char *edited = NULL;
        /* libvirt takes the list or per-device orders, never both: the list wins. */
        static const char *const device_boot = "/domain/devices/*[self::disk or self::interface]/boot";
        while (w->domain.boot.n && x && xr_count(x, "%s", device_boot) &&
               (free(edited), edited = xr_replace(x, device_boot, "/domain/devices", NULL)))
                ;
        while (x && xr_count(x, "/domain/os/boot")) {
                free(edited);
                edited = xr_replace(x, "/domain/os/boot", "/domain/os", NULL);
                xr_free(x);
                x = edited ? xr_parse(edited) : NULL;
        }
        for (size_t i = 0; x && i < w->domain.boot.n; i++) {
                _cleanup_free_ char *leaf = xasprintf("<boot dev='%s'/>", w->domain.boot.v[i]);
                free(edited);
                /* A path that never matches: each one is appended, in order. */
                edited = xr_replace(x, "/domain/os/boot[@dev='']", "/domain/os", leaf);
                xr_free(x);
                x = edited ? xr_parse(edited) : NULL;
        }
        if (!x) {
                free(edited);
                return diag_res(-EINVAL, "domain", w->name, "cannot edit its boot order");
        }
        xr_free(x);
        return edited ? config_define(s, w->name, edited) : 0;
}

/* A way-in device added, replaced or removed in the definition; the running
 * guest has it from its next start (pending, "restart needed"). */
static int domain_edit_way_in(struct lv_state *s, virDomainPtr dom, const struct resource *w, uint64_t field) {
        const struct domain_spec *d = &w->domain;
        const char *path = field == DOM_F_CONSOLE       ? "/domain/devices/serial[@type='pty']"
                           : field == DOM_F_GUEST_AGENT ? "/domain/devices/channel[target/@name='org.qemu.guest_agent.0']"
                           : field == DOM_F_GRAPHICS    ? "/domain/devices/graphics[1]"
                           : field == DOM_F_VIDEO       ? "/domain/devices/video[1]"
                                                        : "/domain/devices/tpm";
        bool wanted = field == DOM_F_CONSOLE ? d->console : field == DOM_F_GUEST_AGENT ? d->guest_agent
                      : field == DOM_F_TPM   ? d->tpm : true;
        char *password = NULL;
        if (field == DOM_F_GRAPHICS && d->graphics.password_file && read_password(w, &password) < 0)
                return -EIO;
        char *xml = wanted ? domain_device_render_xml(w, field, password) : NULL;
        lv_forget_secret(password);
        if (field != DOM_F_CONSOLE || wanted) {
                int r = domain_edit_config(s, dom, w->name, path, "/domain/devices", xml);
                lv_forget_secret(xml);
                return r;
        }
        /* The serial port and its console go in one definition: libvirt makes
         * either one again from the other. */
        struct xr *x = config_read(dom, w->name);
        char *edited = NULL;
        static const char *const gone[] = { "/domain/devices/console[@type='pty']", "/domain/devices/serial[@type='pty']" };
        for (size_t i = 0; x && i < ELEMENTSOF(gone); i++)
                while (x && xr_count(x, "%s", gone[i])) {
                        free(edited);
                        edited = xr_replace(x, gone[i], "/domain/devices", NULL);
                        xr_free(x);
                        x = edited ? xr_parse(edited) : NULL;
                }
        if (!x) {
                free(edited);
                return diag_res(-EINVAL, "domain", w->name, "cannot remove its serial console");
        }
        xr_free(x);
        return edited ? config_define(s, w->name, edited) : 0;
}

/* A free target on bus: not one the domain has, nor one this apply gave already. */
static int next_target(const struct resource *live, int bus, const struct str_list *given, char buf[16]) {
        /* n disks take at most n names: one of the first n + 1 is free. */
        for (unsigned i = 0; i <= live->domain.n_disks + given->n; i++) {
                disk_target_name(bus, i, buf);
                bool taken = str_list_contains(given, buf);
                for (size_t j = 0; j < live->domain.n_disks && !taken; j++)
                        taken = strcmp(live->domain.disks[j].target, buf) == 0;
                if (!taken)
                        return 0;
        }
        return -ENOSPC;
}

/* Replace one device in the persistent definition with fresh, keeping the
 * children named in keep (its address, boot order) that fresh does not set. */
static int domain_edit_device(struct lv_state *s, virDomainPtr dom, const char *name, const char *path, const char *fresh,
                              const char *const *keep) {
        struct xr *x = config_read(dom, name);
        if (!x)
                return -EIO;
        char *edited = xr_replace_keeping(x, path, "/domain/devices", fresh, keep);
        xr_free(x);
        if (!edited)
                return diag_res(-EINVAL, "domain", name, "cannot edit its definition at %s", path);
        return config_define(s, name, edited);
}

/* What an edit keeps of a device: its place (PCI or drive address) unless it
 * moves to another bus, and what the schema does not describe yet. */
static const char *const disk_keep[] = { "address", "boot", "serial", "wwn", "iotune", NULL };
static const char *const disk_keep_moved[] = { "boot", "serial", "wwn", "iotune", NULL };
static const char *const nic_keep[] = { "address", "boot", NULL };

static const struct disk_spec *disk_by_target(const struct resource *r, const char *target) {
        for (size_t i = 0; r && i < r->domain.n_disks; i++)
                if (strcmp(r->domain.disks[i].target, target) == 0)
                        return &r->domain.disks[i];
        return NULL;
}

/* Disks the domain keeps, edited: a cdrom's new ISO goes in as a media change
 * (live and defined; a detach and attach fails on SATA and IDE), every other
 * attribute into the definition, for the guest's next start. */
static int domain_edit_disks(struct lv_state *s, virDomainPtr dom, const struct resource *w, const struct resource *live,
                             bool running) {
        const struct domain_spec *want = &w->domain, *have = &live->domain;
        int *pair = xcalloc(want->n_disks + 1, sizeof(int));
        bool *used = xcalloc(have->n_disks + 1, sizeof(bool));
        struct str_list given = { 0 }; /* targets given to disks moved to another bus */
        int r = 0;
        pair_disks(want, have, pair, used);
        for (size_t i = 0; i < want->n_disks && r >= 0; i++) {
                if (pair[i] < 0)
                        continue;
                const struct disk_spec *wd = &want->disks[i], *h = &have->disks[pair[i]];
                struct disk_spec probed_disk;
                if ((wd = disk_probed(s, wd, h, &probed_disk, &r)) && r < 0)
                        break;
                _cleanup_free_ char *path = xasprintf("/domain/devices/disk[target/@dev='%s']", h->target);
                if (str_differs(wd->cdrom, h->cdrom)) {
                        /* The drive as it is, with the other image: qemu refuses a medium
                         * change that touches anything else. */
                        const struct disk_spec *act = disk_by_target(live->domain.active, h->target);
                        struct disk_spec m = act && act->cdrom ? *act : *h;
                        m.cdrom = wd->cdrom;
                        _cleanup_free_ char *xml = disk_render_xml(&m, h->target);
                        if (running && virDomainUpdateDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                                r = lv_fail("domain", w->name, "changing the cdrom's medium");
                        m = *h;
                        m.cdrom = wd->cdrom;
                        _cleanup_free_ char *cxml = disk_render_xml(&m, h->target);
                        if (r >= 0)
                                r = domain_edit_device(s, dom, w->name, path, cxml, disk_keep);
                }
                _cleanup_free_ char *x = disk_attrs(wd), *y = disk_attrs(h);
                if (r < 0 || strcmp(x, y) == 0)
                        continue;
                /* Another bus is another target (vda -> sda) and another address. */
                char target[16];
                bool same_bus = disk_bus_of(wd) == disk_bus_of(h);
                if (same_bus)
                        snprintf(target, sizeof(target), "%s", h->target);
                else if (next_target(live, disk_bus_of(wd), &given, target) < 0) {
                        r = diag_res(-ENOSPC, "domain", w->name, "no free disk target");
                        break;
                }
                if (!same_bus)
                        *(char **) array_push(&given.v, &given.n, sizeof(char *)) = xstrdup(target);
                _cleanup_free_ char *xml = disk_render_xml(wd, target);
                r = domain_edit_device(s, dom, w->name, path, xml, same_bus ? disk_keep : disk_keep_moved);
        }
        free(pair);
        free(used);
        str_list_done(&given);
        return r;
}

/* A running guest's NIC that stays on its OVS bridge keeps its port's id:
 * libvirt takes a new tag live only on the same virtualport. */
static void nic_keep_ovs_port(struct nic_spec *m, const struct resource *act, const struct nic_spec *h) {
        for (size_t k = 0; act && k < act->domain.n_nics; k++) {
                const struct nic_spec *r = &act->domain.nics[k];
                if (memcmp(r->mac, h->mac, 6) == 0 && (m->set & NIC_F_OVS_BRIDGE) && (r->set & NIC_F_OVS_BRIDGE) &&
                    strcmp(r->ovs_bridge, m->ovs_bridge) == 0)
                        memcpy(m->ovs_port_id, r->ovs_port_id, sizeof(m->ovs_port_id));
        }
}

/* NICs the domain keeps, edited: source and model into the definition (the
 * NIC keeps its PCI address, so the guest keeps its interface name); a new
 * source also into the running guest, which libvirt does by moving its tap.
 * What libvirt does not take live is pending until the guest's next start. */
static int domain_edit_nics(struct lv_state *s, virDomainPtr dom, const struct resource *w, const struct resource *live,
                            const struct ledger_entry *e, bool running) {
        const struct domain_spec *want = &w->domain, *have = &live->domain;
        bool *used = xcalloc(have->n_nics + 1, sizeof(bool));
        int r = 0;
        for (size_t i = 0; i < want->n_nics && r >= 0; i++) {
                char key[32], mac[18];
                snprintf(key, sizeof(key), "mac.%zu", i);
                int j = match_nic(&want->nics[i], ledger_get(e, key), have, used);
                if (j < 0)
                        continue;
                const struct nic_spec *wn = &want->nics[i], *h = &have->nics[j];
                bool source = nic_source_differs(wn, h);
                bool model = (wn->set & NIC_F_MODEL) && nic_model_of(wn) != h->model;
                if (!source && !model)
                        continue;
                mac_format(h->mac, mac);
                _cleanup_free_ char *path = xasprintf("/domain/devices/interface[mac/@address='%s']", mac);
                _cleanup_free_ char *xml = nic_render_xml(wn, mac);
                r = domain_edit_device(s, dom, w->name, path, xml, nic_keep);
                if (r < 0 || !running || !source)
                        continue;
                /* The running guest keeps the model it was started with: only the source changes. */
                struct nic_spec m = *wn;
                const struct resource *act = live->domain.active;
                m.model = h->model;
                for (size_t k = 0; act && k < act->domain.n_nics; k++)
                        if (memcmp(act->domain.nics[k].mac, h->mac, 6) == 0)
                                m.model = act->domain.nics[k].model;
                nic_keep_ovs_port(&m, act, h);
                m.set = (m.set & ~(uint64_t) NIC_F_MODEL) | (m.model >= 0 ? NIC_F_MODEL : 0);
                _cleanup_free_ char *lxml = nic_render_xml(&m, mac);
                if (virDomainUpdateDeviceFlags(dom, lxml, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                        _cleanup_free_ char *src = nic_source(wn);
                        diag_info("warning: domain %s: interface %s: the running guest takes %s at its next start: %s",
                                  w->name, mac, src, lv_msg());
                }
        }
        free(used);
        return r;
}

/* Every device's <boot order> as declared, in one redefinition; the domain's
 * <os><boot dev> list goes when a device has an order (libvirt takes one or
 * the other). */
static int domain_set_device_boot(struct lv_state *s, virDomainPtr dom, const struct resource *w,
                                  const struct resource *live, const struct ledger_entry *e) {
        const struct domain_spec *want = &w->domain, *have = &live->domain;
        struct xr *x = config_read(dom, w->name);
        if (!x)
                return -EIO;
        char *edited = NULL;
        bool any = false;
        for (size_t i = 0; i < want->n_disks; i++)
                any = any || want->disks[i].boot_order;
        for (size_t i = 0; i < want->n_nics; i++)
                any = any || want->nics[i].boot_order;
        while (any && xr_count(x, "/domain/os/boot") && (free(edited), edited = xr_replace(x, "/domain/os/boot", "/domain/os", NULL)))
                ;
        int *pair = xcalloc(want->n_disks + 1, sizeof(int));
        bool *used = xcalloc(have->n_disks + have->n_nics + 1, sizeof(bool));
        pair_disks(want, have, pair, used);
        for (size_t i = 0; (w->set & DOM_F_DISKS) && i < want->n_disks; i++) {
                if (pair[i] < 0)
                        continue;
                _cleanup_free_ char *dev = xasprintf("/domain/devices/disk[target/@dev='%s']", have->disks[pair[i]].target);
                _cleanup_free_ char *path = xasprintf("%s/boot", dev);
                _cleanup_free_ char *leaf = want->disks[i].boot_order ? xasprintf("<boot order='%u'/>", want->disks[i].boot_order) : NULL;
                free(edited);
                edited = xr_replace(x, path, dev, leaf);
        }
        memset(used, 0, (have->n_nics + 1) * sizeof(bool));
        for (size_t i = 0; (w->set & DOM_F_INTERFACES) && i < want->n_nics; i++) {
                char key[32], mac[18];
                snprintf(key, sizeof(key), "mac.%zu", i);
                int j = match_nic(&want->nics[i], ledger_get(e, key), have, used);
                if (j < 0)
                        continue;
                _cleanup_free_ char *dev = xasprintf("/domain/devices/interface[mac/@address='%s']",
                                                     mac_format(have->nics[j].mac, mac));
                _cleanup_free_ char *path = xasprintf("%s/boot", dev);
                _cleanup_free_ char *leaf = want->nics[i].boot_order ? xasprintf("<boot order='%u'/>", want->nics[i].boot_order) : NULL;
                free(edited);
                edited = xr_replace(x, path, dev, leaf);
        }
        free(pair);
        free(used);
        xr_free(x);
        return edited ? config_define(s, w->name, edited) : 0;
}

/* A graceful shutdown: the guest agent when its channel answers (it also
 * works for a guest that ignores ACPI), else the ACPI power button. */
static int domain_shutdown_graceful(virDomainPtr dom, const struct resource *w) {
        if (w->domain.guest_agent && virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_GUEST_AGENT) == 0) {
                diag_debug("domain %s: shut down through the guest agent", w->name);
                return 0;
        }
        if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) == 0)
                return 0;
        /* A driver without the method flags (the test driver) picks its own. */
        return virDomainShutdown(dom) < 0 ? lv_fail("domain", w->name, "shutting down") : 0;
}

/* restart: on-change: down gracefully, waited for up to shutdown-timeout
 * (then powered off only with force-off: true), and started again. */
static int domain_restart(struct lv_state *s, virDomainPtr dom, const struct resource *w, struct ledger *l,
                          struct ledger_entry *e) {
        (void) s;
        int r = domain_shutdown_graceful(dom, w);
        long long deadline = now_boottime() + w->domain.shutdown_timeout;
        while (r >= 0 && virDomainIsActive(dom) == 1 && now_boottime() < deadline) {
                struct timespec ts = { 0, 200 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        if (r >= 0 && virDomainIsActive(dom) == 1) {
                if (!w->domain.force_off)
                        return diag_res(-ETIMEDOUT, "domain", w->name,
                                        "still running %u s after a graceful shutdown for its restart; declare "
                                        "force-off: true to let reconcile power it off",
                                        w->domain.shutdown_timeout);
                if (virDomainDestroy(dom) < 0)
                        r = lv_fail("domain", w->name, "powering it off");
        }
        if (r >= 0 && virDomainCreate(dom) < 0)
                r = lv_fail("domain", w->name, "starting it again");
        if (r >= 0 && e) {
                ledger_set(l, e, "cloud-init.stale", NULL);
                ledger_set(l, e, "shutdown", NULL);
        }
        return r;
}

static int domain_update(struct lv_state *s, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct str_list given = { 0 }; /* targets given to disks attached in this update */
        const struct resource *w = a->want, *live = a->live;
        virDomainPtr dom = virDomainLookupByName(s->conn, w->name);
        if (!dom)
                return lv_fail("domain", w->name, "looking it up");
        /* A requested shutdown goes first: a guest that is already off takes device changes as config edits. */
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                int x = 0;
                if (c->field == DOM_C_SEED) {
                        /* Before any disk change: the seed's drive may be attached in this update. */
                        x = domain_store_seed(s, w, l, e, virDomainIsActive(dom) == 1 ? (int) virDomainGetID(dom) : -1);
                } else if (c->field == DOM_C_STATE && c->now.word.value == STATE_SHUTOFF) {
                        if (domain_shutdown_graceful(dom, w) < 0)
                                x = -EIO;
                        else if (e) {
                                /* When it was asked, for the runs that find it still going down. */
                                char rec[128], boot[40];
                                host_boot_id(boot);
                                snprintf(rec, sizeof(rec), "%d@%lld@%s", (int) virDomainGetID(dom), now_boottime(), boot);
                                ledger_set(l, e, "shutdown", rec);
                        }
                } else if (c->field == DOM_C_SHUTDOWN_FORGET && e) {
                        ledger_set(l, e, "shutdown", NULL);
                } else if (c->field == DOM_C_FORCE_OFF) {
                        /* Declared with force-off: true, and only after shutdown-timeout. */
                        if (virDomainDestroy(dom) < 0)
                                x = lv_fail("domain", a->name, "powering it off");
                        else if (e)
                                ledger_set(l, e, "shutdown", NULL);
                }
                if (x < 0) {
                        virDomainFree(dom);
                        return x;
                }
        }
        /* A guest on its way down (asked above, or by an earlier run) takes every
         * change into its definition: a live attach to it fails or is lost. */
        bool running = virDomainIsActive(dom) == 1 && w->state != STATE_SHUTOFF;
        bool disks_edited = false, nics_edited = false;
        uint32_t run_maxv = live->domain.active ? live->domain.active->domain.max_vcpus : 0;
        uint64_t run_maxm = live->domain.active ? live->domain.active->domain.max_memory : 0;
        uint32_t run_v = live->domain.active ? live->domain.active->domain.vcpus : 0;
        uint64_t run_m = live->domain.active ? live->domain.active->domain.memory : 0;
        int live_err = 0; /* a live change refused after its config change went in */
        const struct domain_spec *want = &w->domain;
        uint32_t maxv = w->set & DOM_F_MAX_VCPUS ? want->max_vcpus : want->vcpus;
        uint64_t maxm = w->set & DOM_F_MAX_MEMORY ? want->max_memory : want->memory;
        int r = 0;
        if (a->op == OP_ADOPT &&
            virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, "<managed/>", "reconcile", RECONCILE_XMLNS,
                                 VIR_DOMAIN_AFFECT_CONFIG) < 0)
                r = lv_fail("domain", w->name, "marking it managed");
        /* Maximums first when they grow, last when they shrink, so each step is valid. */
        for (int pass = 0; pass < 2 && r >= 0; pass++)
                for (size_t i = 0; i < a->n_changes && r >= 0; i++) {
                        const struct change *c = &a->changes[i];
                        bool grow_max = (c->field == DOM_F_MAX_VCPUS && maxv >= live->domain.max_vcpus) ||
                                        (c->field == DOM_F_MAX_MEMORY && maxm >= live->domain.max_memory);
                        bool is_max = c->field == DOM_F_MAX_VCPUS || c->field == DOM_F_MAX_MEMORY;
                        if (is_max && (pass == 0) != grow_max)
                                continue;
                        if (!is_max && pass == 0)
                                continue;
                        switch (c->field) {
                        case DOM_F_MAX_VCPUS:
                                if (virDomainSetVcpusFlags(dom, maxv, VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_VCPU_MAXIMUM) < 0)
                                        r = lv_fail("domain", w->name, "setting max-vcpus");
                                break;
                        case DOM_F_MAX_MEMORY:
                                if (virDomainSetMemoryFlags(dom, maxm >> 10, VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_MEM_MAXIMUM) < 0)
                                        r = lv_fail("domain", w->name, "setting max-memory");
                                break;
                        /* Config and live in two calls: some drivers refuse both flags at once.
                         * A live refusal leaves the definition changed: the other changes still
                         * go, the action fails, and the next plan shows the guest's own value
                         * as pending (domain_restart_pending). */
                        case DOM_F_VCPUS:
                                if (virDomainSetVcpusFlags(dom, want->vcpus, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                                        r = lv_fail("domain", w->name, "setting vcpus");
                                else if (running && want->vcpus <= run_maxv &&
                                         virDomainSetVcpusFlags(dom, want->vcpus, VIR_DOMAIN_AFFECT_LIVE) < 0)
                                        live_err = diag_res(-EIO, "domain", w->name,
                                                            "vcpus %u is in the definition, but the running guest refused it "
                                                            "(%s): it keeps %u until it restarts",
                                                            want->vcpus, lv_msg(), run_v);
                                break;
                        case DOM_F_MEMORY:
                                if (virDomainSetMemoryFlags(dom, want->memory >> 10, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                                        r = lv_fail("domain", w->name, "setting memory");
                                else if (running && want->memory <= run_maxm &&
                                         virDomainSetMemoryFlags(dom, want->memory >> 10, VIR_DOMAIN_AFFECT_LIVE) < 0) {
                                        char t[32], f[32];
                                        size_text(want->memory, t, sizeof(t));
                                        size_text(run_m, f, sizeof(f));
                                        live_err = diag_res(-EIO, "domain", w->name,
                                                            "memory %s is in the definition, but the running guest refused "
                                                            "it (%s): it keeps %s until it restarts",
                                                            t, lv_msg(), f);
                                        char rec[64];
                                        snprintf(rec, sizeof(rec), "%d@%llu", (int) virDomainGetID(dom),
                                                 (unsigned long long) run_m);
                                        if (e)
                                                ledger_set(l, e, "memory.live", rec);
                                } else if (e)
                                        ledger_set(l, e, "memory.live", NULL);
                                break;
                        case DOM_F_CPU: {
                                _cleanup_free_ char *cpu = cpu_render_xml(want->cpu);
                                r = domain_edit_config(s, dom, w->name, "/domain/cpu", "/domain", cpu);
                                break;
                        }
                        case DOM_F_MEMBACK:
                                r = domain_edit_config(s, dom, w->name, "/domain/memoryBacking", "/domain",
                                                       want->memory_backing == MEMBACK_HUGEPAGES
                                                               ? "<memoryBacking><hugepages/></memoryBacking>"
                                                               : NULL);
                                break;
                        case DOM_F_AUTOSTART:
                                if (virDomainSetAutostart(dom, want->autostart) < 0)
                                        r = lv_fail("domain", w->name, "setting autostart");
                                break;
                        case DOM_F_KERNEL:
                        case DOM_F_INITRD:
                        case DOM_F_CMDLINE: {
                                const char *el = c->field == DOM_F_KERNEL ? "kernel" : c->field == DOM_F_INITRD ? "initrd" : "cmdline";
                                const char *v = c->field == DOM_F_KERNEL   ? want->kernel
                                                : c->field == DOM_F_INITRD ? want->initrd
                                                                           : want->cmdline;
                                _cleanup_free_ char *path = xasprintf("/domain/os/%s", el);
                                _cleanup_free_ char *xml = v ? os_leaf_xml(el, v) : NULL;
                                r = domain_edit_config(s, dom, w->name, path, "/domain/os", xml);
                                break;
                        }
                        case DOM_F_FEATURES:
                                r = domain_add_features(s, dom, w->name);
                                break;
                        case DOM_F_BOOT:
                                r = domain_set_boot(s, dom, w);
                                break;
                        case DOM_C_DEVICE_BOOT:
                                r = domain_set_device_boot(s, dom, w, live, e);
                                break;
                        case DOM_F_CONSOLE:
                        case DOM_F_GUEST_AGENT:
                        case DOM_F_GRAPHICS:
                        case DOM_F_VIDEO:
                        case DOM_F_TPM:
                                r = domain_edit_way_in(s, dom, w, c->field);
                                break;
                        case DOM_C_DISK: {
                                const struct disk_spec *wd = c->now.type == VAL_INDEX ? &want->disks[c->now.index] : NULL;
                                const struct disk_spec *ld =
                                        c->was.type == VAL_INDEX ? &live->domain.disks[c->was.index] : NULL;
                                char target[16];
                                struct disk_spec probed_disk;
                                wd = disk_probed(s, wd, ld, &probed_disk, &r);
                                if (ld && !wd) {
                                        _cleanup_free_ char *xml = disk_render_xml(ld, ld->target);
                                        _cleanup_free_ char *path = xasprintf("/domain/devices/disk[target/@dev='%s']", ld->target);
                                        r = domain_device(s, dom, w->name, running, false, xml, path, "detaching a disk");
                                } else if (wd && !ld) {
                                        int bus = wd->set & DISK_F_BUS ? wd->bus : (wd->cdrom ? BUS_SATA : BUS_VIRTIO);
                                        if (next_target(live, bus, &given, target) < 0)
                                                r = diag_res(-ENOSPC, "domain", w->name, "no free disk target");
                                        _cleanup_free_ char *xml = r >= 0 ? disk_render_xml(wd, target) : NULL;
                                        _cleanup_free_ char *path = xasprintf("/domain/devices/disk[target/@dev='%s']", target);
                                        if (r >= 0)
                                                /* A seed's SATA drive cannot be hotplugged: the guest has it at its next start (pending). */
                                                r = domain_device(s, dom, w->name, running && !wd->seed, true, xml, path, "attaching a disk");
                                        /* live is as observed: two new disks must not get one name. */
                                        if (r >= 0)
                                                *(char **) array_push(&given.v, &given.n, sizeof(char *)) = xstrdup(target);
                                }
                                break;
                        }
                        /* One pass edits every device that changed, paired as the diff paired them. */
                        case DOM_C_DISK_EDIT:
                        case DOM_C_MEDIA:
                                if (!disks_edited)
                                        r = domain_edit_disks(s, dom, w, live, running);
                                disks_edited = true;
                                break;
                        case DOM_C_NIC_EDIT:
                                if (!nics_edited)
                                        r = domain_edit_nics(s, dom, w, live, e, running);
                                nics_edited = true;
                                break;
                        case DOM_C_NIC: {
                                if (c->was.type == VAL_INDEX && c->now.type == VAL_NONE) {
                                        const struct nic_spec *gone = &live->domain.nics[c->was.index];
                                        char buf[18];
                                        _cleanup_free_ char *xml = nic_render_xml(gone, mac_format(gone->mac, buf));
                                        _cleanup_free_ char *path = xasprintf("/domain/devices/interface[mac/@address='%s']", buf);
                                        r = domain_device(s, dom, w->name, running, false, xml, path, "detaching an interface");
                                } else if (c->now.type == VAL_INDEX && c->was.type == VAL_NONE) {
                                        size_t j = c->now.index;
                                        char key[32], buf[18];
                                        snprintf(key, sizeof(key), "mac.%zu", j);
                                        const char *kept = want->nics[j].set & NIC_F_MAC ? NULL : ledger_get(e, key);
                                        if (!(want->nics[j].set & NIC_F_MAC) && !kept) {
                                                random_mac(w->name, j, buf);
                                                if (e)
                                                        ledger_set(l, e, key, buf);
                                                kept = buf;
                                        }
                                        _cleanup_free_ char *xml = nic_render_xml(&want->nics[j], kept);
                                        _cleanup_free_ char *path =
                                                xasprintf("/domain/devices/interface[mac/@address='%s']", kept ? kept : "");
                                        r = domain_device(s, dom, w->name, running, true, xml, path,
                                                          "attaching an interface");
                                }
                                break;
                        }
                        default:
                                break;
                        }
                }
        if (r >= 0)
                r = tuning_apply(dom, a, running);
        for (size_t i = 0; i < a->n_changes && r >= 0; i++) {
                const struct change *c = &a->changes[i];
                if (c->field != DOM_C_STATE && c->field != DOM_C_RESTART)
                        continue;
                if (c->field == DOM_C_RESTART)
                        r = domain_restart(s, dom, w, l, e);
                else if (c->now.word.value == STATE_RUNNING && virDomainCreate(dom) < 0)
                        r = lv_fail("domain", w->name, "starting");
                else if (c->now.word.value == STATE_RUNNING && e)
                        ledger_set(l, e, "shutdown", NULL);
        }
        /* Keep the MACs of the interfaces it has, so they are matched the same way next time. */
        if (r >= 0 && e) {
                char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
                struct resource *now = xml ? resource_new(KIND_DOMAIN, w->name) : NULL;
                if (now && domain_parse_xml(xml, now) == 0) {
                        bool *used = xcalloc(now->domain.n_nics + 1, sizeof(bool));
                        for (size_t i = 0; i < want->n_nics; i++) {
                                char key[32], buf[18];
                                snprintf(key, sizeof(key), "mac.%zu", i);
                                int j = match_nic(&want->nics[i], ledger_get(e, key), &now->domain, used);
                                if (j >= 0 && !(want->nics[i].set & NIC_F_MAC))
                                        ledger_set(l, e, key, mac_format(now->domain.nics[j].mac, buf));
                        }
                        free(used);
                }
                resource_free(now);
                free(xml);
        }
        virDomainFree(dom);
        str_list_done(&given);
        return r < 0 ? r : live_err;
}

int lv_network_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct lv_state *s = state;
        if (a->op == OP_DELETE)
                return network_delete(s, a->name);
        if (a->op == OP_CREATE)
                return network_define_start(s, a->want, false, l, e);
        return network_update(s, a, l, e);
}

int lv_pool_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct lv_state *s = state;
        if (a->op == OP_DELETE)
                return pool_delete(s, a->name);
        if (a->op == OP_REPLACE) {
                int r = pool_delete(s, a->name);
                return r < 0 ? r : pool_create(s, a->want, l, e);
        }
        if (a->op == OP_CREATE)
                return pool_create(s, a->want, l, e);
        return pool_update(s, a->want);
}

int lv_volume_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct lv_state *s = state;
        if (a->op == OP_DELETE)
                return volume_delete(s, a->name);
        if (a->op == OP_CREATE || a->op == OP_REPLACE) {
                /* A replace is of reconcile's own half-made upload (volume_diff_incomplete). */
                int r = a->op == OP_REPLACE ? volume_delete(s, a->name) : 0;
                if (r >= 0)
                        r = volume_create(s, a->want, l, e);
                if (r >= 0)
                        volume_note_origin(l, e, a->want);
                return r;
        }
        return a->n_changes ? volume_grow(s, a) : 0;
}

int lv_domain_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct lv_state *s = state;
        if (a->op == OP_DELETE)
                return domain_delete(s, a->name);
        if (a->op == OP_CREATE)
                return domain_create(s, a, l, e);
        return domain_update(s, a, l, e);
}

/* ---- events for the daemon ---- */

/* libvirt delivers events from its own event loop: a thread runs it on a
 * connection of its own and pokes a pipe that the daemon's epoll watches. */
/* The daemon's libvirt watch: a connection whose event callbacks poke a pipe.
 * The event loop thread may still hold a callback when the daemon closes the
 * watch, so each registration holds a reference; the last one frees it. */
struct lv_watch {
        virConnectPtr conn;
        int pipe_r, pipe_w; /* both closed with the last reference: a late poke writes to a pipe with a reader */
        int callbacks[3];
        int refs;
        pthread_mutex_t lock;
};

static void lv_watch_unref(void *opaque) {
        struct lv_watch *w = opaque;
        pthread_mutex_lock(&w->lock);
        bool last = --w->refs == 0;
        pthread_mutex_unlock(&w->lock);
        if (!last)
                return;
        close(w->pipe_r);
        close(w->pipe_w);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

static void lv_poke(struct lv_watch *w) {
        char c = 1;
        if (write(w->pipe_w, &c, 1) < 0) {
                /* A full pipe already says "look again". */
        }
}

static int on_domain_event(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque) {
        (void) c, (void) d, (void) event, (void) detail;
        lv_poke(opaque);
        return 0;
}

static void on_network_event(virConnectPtr c, virNetworkPtr n, int event, int detail, void *opaque) {
        (void) c, (void) n, (void) event, (void) detail;
        lv_poke(opaque);
}

static void on_pool_event(virConnectPtr c, virStoragePoolPtr p, int event, int detail, void *opaque) {
        (void) c, (void) p, (void) event, (void) detail;
        lv_poke(opaque);
}

static void *lv_event_loop(void *arg) {
        (void) arg;
        for (;;)
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

static void lv_start_loop(void) {
        pthread_t t;
        if (virEventRegisterDefaultImpl() == 0 && pthread_create(&t, NULL, lv_event_loop, NULL) == 0)
                pthread_detach(t);
}

static int lv_watch_open(const struct backend_ctx *ctx, void **watch) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        const char *uri = ctx->libvirt_uri ? ctx->libvirt_uri : "qemu:///system";
        int fds[2];
        if (strncmp(uri, "test:", 5) == 0)
                return -ENOTSUP; /* the in-process driver has no other writer to watch */
        if (!libvirt_dl_loaded())
                return -ENOTSUP; /* the run that opened the backend loads it, or said why it could not */
        pthread_once(&once, lv_start_loop);
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        struct lv_watch *w = xcalloc(1, sizeof(*w));
        w->pipe_r = fds[0];
        w->pipe_w = fds[1];
        w->refs = 1;
        pthread_mutex_init(&w->lock, NULL);
        w->conn = virConnectOpen(uri);
        if (!w->conn) {
                lv_watch_unref(w);
                return -ECONNREFUSED; /* retried by the daemon once libvirtd answers */
        }
        w->refs += 3;
        w->callbacks[0] = virConnectDomainEventRegisterAny(w->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(on_domain_event), w, lv_watch_unref);
        w->callbacks[1] = virConnectNetworkEventRegisterAny(w->conn, NULL, VIR_NETWORK_EVENT_ID_LIFECYCLE,
                                                            VIR_NETWORK_EVENT_CALLBACK(on_network_event), w, lv_watch_unref);
        w->callbacks[2] = virConnectStoragePoolEventRegisterAny(w->conn, NULL, VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE,
                                                                VIR_STORAGE_POOL_EVENT_CALLBACK(on_pool_event), w,
                                                                lv_watch_unref);
        /* A registration that failed holds no reference. */
        for (int i = 0; i < 3; i++)
                if (w->callbacks[i] < 0)
                        lv_watch_unref(w);
        *watch = w;
        return fds[0];
}

static void lv_watch_close(void *watch, int fd) {
        struct lv_watch *w = watch;
        (void) fd; /* w's: closed with its last reference */
        if (!w)
                return;
        int (*const deregister[3])(virConnectPtr, int) = { virConnectDomainEventDeregisterAny,
                                                           virConnectNetworkEventDeregisterAny,
                                                           virConnectStoragePoolEventDeregisterAny };
        /* Each deregistration drops its reference (libvirt calls the free
         * function once no callback runs); the connection goes with ours. */
        for (int i = 0; i < 3; i++)
                if (w->callbacks[i] >= 0)
                        deregister[i](w->conn, w->callbacks[i]);
        virConnectClose(w->conn);
        lv_watch_unref(w);
}

static int lv_watch_drain(void *watch, int fd) {
        (void) watch;
        char buf[256];
        int n = 0;
        ssize_t len;
        while ((len = read(fd, buf, sizeof(buf))) > 0)
                n += (int) len;
        return n;
}

const struct backend libvirt_backend = {
        .name = "libvirt",
        .scope = SCOPE_LIBVIRT,
        .open = lv_open,
        .close = lv_close,
        .observe = lv_observe,
        .watch_open = lv_watch_open,
        .watch_drain = lv_watch_drain,
        .watch_close = lv_watch_close,
};
