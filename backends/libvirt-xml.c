/* The desired model as libvirt XML, and libvirt's XML back into the model. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "domain-tuning.h"
#include "libvirt-dl.h"

static const char *const forward_words[] = { "nat", "route", NULL, "bridge", NULL, NULL };
static const char *const macvtap_forward[] = { "bridge", "vepa", "private", "passthrough" };

/* Over an OVS bridge: the openvswitch virtualport, and a portgroup per VLAN. */
static void write_network_ovs(struct xw *x, const struct resource *r) {
        if (!(r->set & NET_F_OVS_BRIDGE))
                return;
        xw_open(x, "virtualport");
        xw_attr(x, "type", "%s", "openvswitch");
        xw_close(x);
        for (size_t i = 0; i < r->network.n_portgroups; i++) {
                const struct portgroup_spec *g = &r->network.portgroups[i];
                xw_open(x, "portgroup");
                xw_attr(x, "name", "%s", g->name);
                if (g->set & PG_F_TAG) {
                        xw_open(x, "vlan");
                        xw_open(x, "tag");
                        xw_attr(x, "id", "%u", g->vlan_tag);
                        xw_close(x);
                        xw_close(x);
                }
                xw_close(x);
        }
}

static void parse_network_ovs(struct xr *x, struct resource *r) {
        _cleanup_free_ char *vport = xr_str(x, "/network/virtualport/@type");
        if (strcmp(vport, "openvswitch") != 0 || !(r->set & NET_F_BRIDGE))
                return;
        r->set = (r->set & ~(uint64_t) NET_F_BRIDGE) | NET_F_OVS_BRIDGE;
        int n = xr_count(x, "/network/portgroup");
        for (int i = 1; i <= n; i++) {
                struct portgroup_spec *g = array_push(&r->network.portgroups, &r->network.n_portgroups, sizeof(*g));
                _cleanup_free_ char *name = xr_str(x, "/network/portgroup[%d]/@name", i);
                snprintf(g->name, sizeof(g->name), "%s", name);
                g->set = PG_F_NAME;
                if (xr_count(x, "/network/portgroup[%d]/vlan/tag", i) == 1) {
                        g->vlan_tag = (uint32_t) xr_ull(x, "/network/portgroup[%d]/vlan/tag/@id", i);
                        g->set |= PG_F_TAG;
                }
        }
        if (n > 0)
                r->set |= NET_F_PORTGROUPS;
}

char *network_render_xml(const struct resource *r) {
        return network_render_xml_as(r, NULL, NULL);
}

char *network_render_xml_as(const struct resource *r, const char *uuid, const char *mac) {
        const struct network_spec *n = &r->network;
        int mode = n->mode;
        char buf[64];
        struct xw *x = xw_new();
        xw_open(x, "network");
        xw_leaf(x, "name", "%s", r->name);
        if (uuid)
                xw_leaf(x, "uuid", "%s", uuid);
        if (mode == NET_MACVTAP) {
                xw_open(x, "forward");
                xw_attr(x, "mode", "%s", macvtap_forward[r->set & NET_F_MACVTAP_MODE ? n->macvtap_mode : MACVTAP_BRIDGE]);
                xw_open(x, "interface");
                xw_attr(x, "dev", "%s", n->dev);
                xw_close(x);
                xw_close(x);
        } else if (mode == NET_HOSTDEV) {
                /* An SR-IOV VF pool: libvirt gives each interface on it a VF of the PF. */
                xw_open(x, "forward");
                xw_attr(x, "mode", "hostdev");
                xw_attr(x, "managed", "yes");
                xw_open(x, "pf");
                xw_attr(x, "dev", "%s", n->pf);
                xw_close(x);
                xw_close(x);
        } else if (forward_words[mode]) {
                xw_open(x, "forward");
                xw_attr(x, "mode", "%s", forward_words[mode]);
                xw_close(x);
        }
        if (mode != NET_MACVTAP && mode != NET_HOSTDEV && (r->set & (NET_F_BRIDGE | NET_F_OVS_BRIDGE))) {
                xw_open(x, "bridge");
                xw_attr(x, "name", "%s", n->bridge);
                xw_close(x);
        }
        write_network_ovs(x, r);
        /* libvirt refuses a MAC on a bridge it does not make (bridge and macvtap modes). */
        if (mac && mode != NET_MACVTAP && mode != NET_BRIDGE && mode != NET_HOSTDEV) {
                xw_open(x, "mac");
                xw_attr(x, "address", "%s", mac);
                xw_close(x);
        }
        if (r->set & NET_F_ADDRESS) {
                xw_open(x, "ip");
                if (n->address.family == AF_INET6)
                        xw_attr(x, "family", "ipv6");
                xw_attr(x, "address", "%s", ipaddr_format(&n->address, false, buf, sizeof(buf)));
                xw_attr(x, "prefix", "%u", n->address.prefix);
                if (r->set & NET_F_DHCP) {
                        xw_open(x, "dhcp");
                        xw_open(x, "range");
                        xw_attr(x, "start", "%s", ipaddr_format(&n->dhcp.start, false, buf, sizeof(buf)));
                        xw_attr(x, "end", "%s", ipaddr_format(&n->dhcp.end, false, buf, sizeof(buf)));
                        xw_close(x);
                        xw_close(x);
                }
                xw_close(x);
        }
        xw_close(x);
        return xw_finish(x);
}

int network_parse_xml(const char *xml, struct resource *r) {
        struct xr *x = xr_parse(xml);
        if (!x)
                return -EINVAL;
        struct network_spec *n = &r->network;
        _cleanup_free_ char *mode = xr_str(x, "/network/forward/@mode");
        _cleanup_free_ char *dev = xr_str(x, "/network/forward/interface/@dev");
        _cleanup_free_ char *bridge = xr_str(x, "/network/bridge/@name");
        if (!*mode)
                n->mode = NET_ISOLATED;
        else if (strcmp(mode, "nat") == 0)
                n->mode = NET_NAT;
        else if (strcmp(mode, "route") == 0)
                n->mode = NET_ROUTE;
        else if (strcmp(mode, "bridge") == 0 && !*dev)
                n->mode = NET_BRIDGE;
        else if (strcmp(mode, "hostdev") == 0) {
                _cleanup_free_ char *pf = xr_str(x, "/network/forward/pf/@dev");
                n->mode = NET_HOSTDEV;
                snprintf(n->pf, sizeof(n->pf), "%s", pf);
                r->set |= NET_F_PF;
        } else {
                n->mode = NET_MACVTAP;
                for (int i = 0; i < (int) ELEMENTSOF(macvtap_forward); i++)
                        if (strcmp(mode, macvtap_forward[i]) == 0)
                                n->macvtap_mode = i;
                snprintf(n->dev, sizeof(n->dev), "%s", dev);
                r->set |= NET_F_DEV | NET_F_MACVTAP_MODE;
        }
        r->set |= NET_F_MODE;
        if (*bridge) {
                snprintf(n->bridge, sizeof(n->bridge), "%s", bridge);
                r->set |= NET_F_BRIDGE;
        }
        parse_network_ovs(x, r);
        _cleanup_free_ char *addr = xr_str(x, "/network/ip[1]/@address");
        _cleanup_free_ char *prefix = xr_str(x, "/network/ip[1]/@prefix");
        _cleanup_free_ char *netmask = xr_str(x, "/network/ip[1]/@netmask");
        if (*addr && ipaddr_parse(addr, false, &n->address) == 0) {
                if (*prefix)
                        n->address.prefix = (unsigned) atoi(prefix);
                else if (*netmask) {
                        struct in_addr m;
                        if (inet_pton(AF_INET, netmask, &m) == 1)
                                n->address.prefix = (unsigned) __builtin_popcount(m.s_addr);
                }
                r->set |= NET_F_ADDRESS;
        }
        _cleanup_free_ char *start = xr_str(x, "/network/ip[1]/dhcp/range[1]/@start");
        _cleanup_free_ char *end = xr_str(x, "/network/ip[1]/dhcp/range[1]/@end");
        if (*start && *end && ipaddr_parse(start, false, &n->dhcp.start) == 0 &&
            ipaddr_parse(end, false, &n->dhcp.end) == 0)
                r->set |= NET_F_DHCP;
        xr_free(x);
        return 0;
}

char *pool_render_xml(const struct resource *r) {
        const struct pool_spec *p = &r->pool;
        struct xw *x = xw_new();
        xw_open(x, "pool");
        xw_attr(x, "type", "%s", p->type);
        xw_leaf(x, "name", "%s", r->name);
        if (p->source || p->host) {
                xw_open(x, "source");
                if (p->host) {
                        xw_open(x, "host");
                        xw_attr(x, "name", "%s", p->host);
                        xw_close(x);
                }
                if (p->source) {
                        /* Each pool type names its source differently. */
                        if (strcmp(p->type, "logical") == 0 || strcmp(p->type, "rbd") == 0)
                                xw_leaf(x, "name", "%s", p->source);
                        else if (strcmp(p->type, "netfs") == 0) {
                                xw_open(x, "dir");
                                xw_attr(x, "path", "%s", p->source);
                                xw_close(x);
                        } else {
                                xw_open(x, "device");
                                xw_attr(x, "path", "%s", p->source);
                                xw_close(x);
                        }
                }
                xw_close(x);
        }
        if (p->path) {
                xw_open(x, "target");
                xw_leaf(x, "path", "%s", p->path);
                xw_close(x);
        }
        xw_close(x);
        return xw_finish(x);
}

int pool_parse_xml(const char *xml, struct resource *r) {
        struct xr *x = xr_parse(xml);
        if (!x)
                return -EINVAL;
        struct pool_spec *p = &r->pool;
        p->type = xr_str(x, "/pool/@type");
        r->set |= POOL_F_TYPE;
        char *path = xr_str(x, "/pool/target/path");
        if (*path) {
                p->path = path;
                r->set |= POOL_F_PATH;
        } else
                free(path);
        char *src = xr_str(x, "/pool/source/device/@path | /pool/source/dir/@path | /pool/source/name");
        if (*src) {
                p->source = src;
                r->set |= POOL_F_SOURCE;
        } else
                free(src);
        char *host = xr_str(x, "/pool/source/host/@name");
        if (*host) {
                p->host = host;
                r->set |= POOL_F_HOST;
        } else
                free(host);
        xr_free(x);
        return 0;
}

/* A volume of capacity bytes; with backing_path, a qcow2 overlay on that file
 * (of backing_format), which qemu only ever reads. */
static char *write_volume(const struct resource *r, uint64_t capacity, int format, const char *backing_path,
                          int backing_format) {
        const struct volume_spec *v = &r->volume;
        const char *slash = strchr(r->name, '/');
        struct xw *x = xw_new();
        xw_open(x, "volume");
        xw_leaf(x, "name", "%s", slash ? slash + 1 : r->name);
        xw_open(x, "capacity");
        xw_attr(x, "unit", "bytes");
        xw_text(x, "%llu", (unsigned long long) capacity);
        xw_close(x);
        xw_open(x, "allocation");
        xw_attr(x, "unit", "bytes");
        xw_text(x, "%llu", v->prealloc == PREALLOC_FULL ? (unsigned long long) capacity : 0ull);
        xw_close(x);
        xw_open(x, "target");
        xw_open(x, "format");
        xw_attr(x, "type", "%s", enum_to_string(&vol_format_table, format));
        xw_close(x);
        xw_close(x);
        if (backing_path) {
                xw_open(x, "backingStore");
                xw_leaf(x, "path", "%s", backing_path);
                xw_open(x, "format");
                xw_attr(x, "type", "%s", enum_to_string(&vol_format_table, backing_format));
                xw_close(x);
                xw_close(x);
        }
        xw_close(x);
        return xw_finish(x);
}

char *volume_render_xml(const struct resource *r) {
        return write_volume(r, r->volume.capacity, r->set & VOL_F_FORMAT ? r->volume.format : VOL_RAW, NULL, -1);
}

char *volume_render_origin_xml(const struct resource *r, uint64_t capacity, int format, const char *backing_path,
                               int backing_format) {
        return write_volume(r, capacity, format, backing_path, backing_format);
}

static int disk_bus_of(const struct disk_spec *k) {
        return k->set & DISK_F_BUS ? k->bus : (k->cdrom ? BUS_SATA : BUS_VIRTIO);
}

/* The target name for the index-th disk on a bus: vda, sdb, hdc... As libvirt
 * names them (virIndexToDiskName), the letters count in bijective base 26:
 * after vdz comes vdaa, after vdzz vdaaa, so no two indexes share a name. */
void disk_target_name(int bus, unsigned index, char buf[16]) {
        char letters[8]; /* 26^7 > UINT_MAX: seven letters hold any index */
        size_t n = 0;
        unsigned long v = index;
        do {
                letters[n++] = (char) ('a' + v % 26);
                v = v / 26;
        } while (v-- > 0);
        int len = snprintf(buf, 16, "%s", bus == BUS_VIRTIO ? "vd" : bus == BUS_IDE ? "hd" : "sd");
        while (n)
                buf[len++] = letters[--n];
        buf[len] = '\0';
}

/* cloud: a device's place in the boot order (0: none), <boot order='N'/>. */
static void write_boot_order(struct xw *x, uint32_t order) {
        if (!order)
                return;
        xw_open(x, "boot");
        xw_attr(x, "order", "%u", order);
        xw_close(x);
}

static void write_disk(struct xw *x, const struct disk_spec *k, const char *target) {
        int bus = disk_bus_of(k);
        xw_open(x, "disk");
        xw_attr(x, "type", "%s", k->volume ? "volume" : k->path && k->block ? "block" : "file");
        xw_attr(x, "device", "%s", k->cdrom || k->seed ? "cdrom" : "disk");
        xw_open(x, "driver");
        xw_attr(x, "name", "qemu");
        /* Without the format, qemu would open a qcow2 volume as raw. */
        /* A path's format is probed before it is rendered; unknown, it is left to libvirt rather than said raw. */
        if (k->cdrom || k->format >= 0 || !k->path)
                xw_attr(x, "type", "%s",
                        k->cdrom ? "raw" : enum_to_string(&vol_format_table, k->format >= 0 ? k->format : VOL_RAW));
        if ((k->set & DISK_F_CACHE) && k->cache != CACHE_DEFAULT)
                xw_attr(x, "cache", "%s", enum_to_string(&disk_cache_table, k->cache));
        if (k->set & DISK_F_DISCARD)
                xw_attr(x, "discard", "%s", enum_to_string(&disk_discard_table, k->discard));
        tuning_write_disk_driver(x, k);
        xw_close(x);
        xw_open(x, "source");
        if (k->volume) {
                const char *slash = strchr(k->volume, '/');
                xw_attr(x, "pool", "%.*s", slash ? (int) (slash - k->volume) : 0, k->volume);
                xw_attr(x, "volume", "%s", slash ? slash + 1 : k->volume);
        } else if (k->path)
                xw_attr(x, k->block ? "dev" : "file", "%s", k->path);
        else
                xw_attr(x, "file", "%s", k->cdrom);
        xw_close(x);
        xw_open(x, "target");
        xw_attr(x, "dev", "%s", target);
        xw_attr(x, "bus", "%s", enum_to_string(&disk_bus_table, bus));
        xw_close(x);
        if (k->cdrom || k->seed)
                xw_leaf(x, "readonly", "%s", "");
        write_boot_order(x, k->boot_order);
        /* Without it, QEMU's image lock lets only the first guest start. */
        if (!k->cdrom && k->shareable)
                xw_leaf(x, "shareable", "%s", "");
        tuning_write_disk_children(x, k);
        xw_close(x);
}

/* Inside <source>: the OVS bridge or the network's portgroup; then, after it,
 * the virtualport and the access VLAN. Closes <source>. */
static void write_nic_ovs(struct xw *x, const struct nic_spec *n) {
        if (n->set & NIC_F_OVS_BRIDGE)
                xw_attr(x, "bridge", "%s", n->ovs_bridge);
        if (n->set & NIC_F_PORTGROUP)
                xw_attr(x, "portgroup", "%s", n->portgroup);
        xw_close(x);
        if (!(n->set & NIC_F_OVS_BRIDGE))
                return;
        xw_open(x, "virtualport");
        xw_attr(x, "type", "%s", "openvswitch");
        /* A running guest's port keeps its id: libvirt refuses another virtualport live. */
        if (n->ovs_port_id[0]) {
                xw_open(x, "parameters");
                xw_attr(x, "interfaceid", "%s", n->ovs_port_id);
                xw_close(x);
        }
        xw_close(x);
        if (n->set & NIC_F_VLAN_TAG) {
                xw_open(x, "vlan");
                xw_open(x, "tag");
                xw_attr(x, "id", "%u", n->vlan_tag);
                xw_close(x);
                xw_close(x);
        }
}

static void write_nic(struct xw *x, const struct nic_spec *n, const char *mac) {
        char buf[18];
        if (tuning_write_nic(x, n, mac))
                return;
        xw_open(x, "interface");
        xw_attr(x, "type", "%s", n->set & (NIC_F_BRIDGE | NIC_F_OVS_BRIDGE) ? "bridge" : "network");
        const char *m = n->set & NIC_F_MAC ? mac_format(n->mac, buf) : mac;
        if (m) {
                xw_open(x, "mac");
                xw_attr(x, "address", "%s", m);
                xw_close(x);
        }
        xw_open(x, "source");
        if (n->set & NIC_F_BRIDGE)
                xw_attr(x, "bridge", "%s", n->bridge);
        else if (!(n->set & NIC_F_OVS_BRIDGE))
                xw_attr(x, "network", "%s", n->network);
        write_nic_ovs(x, n);
        xw_open(x, "model");
        xw_attr(x, "type", "%s", enum_to_string(&nic_model_table, n->set & NIC_F_MODEL ? n->model : NIC_VIRTIO));
        xw_close(x);
        write_boot_order(x, n->boot_order);
        xw_close(x);
}

char *disk_render_xml(const struct disk_spec *k, const char *target) {
        struct xw *x = xw_new();
        write_disk(x, k, target);
        return xw_finish(x);
}

char *nic_render_xml(const struct nic_spec *n, const char *mac) {
        struct xw *x = xw_new();
        write_nic(x, n, mac);
        return xw_finish(x);
}

char *cpu_render_xml(const char *cpu) {
        struct xw *x = xw_new();
        xw_open(x, "cpu");
        if (strcmp(cpu, "host-passthrough") == 0 || strcmp(cpu, "host-model") == 0)
                xw_attr(x, "mode", "%s", cpu);
        else {
                xw_attr(x, "mode", "custom");
                xw_attr(x, "match", "exact");
                xw_open(x, "model");
                xw_attr(x, "fallback", "allow");
                xw_text(x, "%s", cpu);
                xw_close(x);
        }
        xw_close(x);
        return xw_finish(x);
}

/* The way-in devices: a serial port on a pty (libvirt adds its <console>), the
 * guest agent's virtio channel, graphics, a video model, an emulated TPM 2.0. */
/* No target port: next to a serial port the domain has already, libvirt gives the next one. */
static void write_serial(struct xw *x) {
        xw_open(x, "serial");
        xw_attr(x, "type", "pty");
        xw_close(x);
}

static void write_agent(struct xw *x) {
        xw_open(x, "channel");
        xw_attr(x, "type", "unix");
        xw_open(x, "target");
        xw_attr(x, "type", "virtio");
        xw_attr(x, "name", "org.qemu.guest_agent.0");
        xw_close(x);
        xw_close(x);
}

static void write_graphics(struct xw *x, const struct graphics_spec *g, const char *password) {
        xw_open(x, "graphics");
        xw_attr(x, "type", "%s", enum_to_string(&graphics_type_table, g->type));
        if (g->port) {
                xw_attr(x, "port", "%u", g->port);
                xw_attr(x, "autoport", "no");
        } else {
                xw_attr(x, "port", "-1");
                xw_attr(x, "autoport", "yes");
        }
        if (password)
                xw_attr(x, "passwd", "%s", password);
        xw_open(x, "listen");
        xw_attr(x, "type", "address");
        xw_attr(x, "address", "%s", g->listen ? g->listen : "127.0.0.1");
        xw_close(x);
        xw_close(x);
}

static void write_video(struct xw *x, int video) {
        xw_open(x, "video");
        xw_open(x, "model");
        xw_attr(x, "type", "%s", enum_to_string(&video_model_table, video));
        xw_close(x);
        xw_close(x);
}

static void write_tpm(struct xw *x) {
        xw_open(x, "tpm");
        xw_attr(x, "model", "tpm-crb");
        xw_open(x, "backend");
        xw_attr(x, "type", "emulator");
        xw_attr(x, "version", "2.0");
        xw_close(x);
        xw_close(x);
}

char *domain_device_render_xml(const struct resource *r, uint64_t field, const char *password) {
        const struct domain_spec *d = &r->domain;
        struct xw *x = xw_new();
        if (field == DOM_F_CONSOLE)
                write_serial(x);
        else if (field == DOM_F_GUEST_AGENT)
                write_agent(x);
        else if (field == DOM_F_GRAPHICS)
                write_graphics(x, &d->graphics, password);
        else if (field == DOM_F_VIDEO)
                write_video(x, d->video);
        else if (field == DOM_F_TPM)
                write_tpm(x);
        else
                xw_fail(x);
        return xw_finish(x);
}

char *domain_render_xml(const struct resource *r, const char *domain_type, const char *const *macs) {
        return domain_render_xml_secret(r, domain_type, macs, NULL);
}

char *domain_render_xml_secret(const struct resource *r, const char *domain_type, const char *const *macs,
                               const char *password) {
        const struct domain_spec *d = &r->domain;
        uint64_t max_mem = r->set & DOM_F_MAX_MEMORY ? d->max_memory : d->memory;
        uint32_t max_vcpus = r->set & DOM_F_MAX_VCPUS ? d->max_vcpus : d->vcpus;
        struct xw *x = xw_new();
        xw_open(x, "domain");
        xw_attr(x, "type", "%s", domain_type);
        xw_leaf(x, "name", "%s", r->name);
        xw_open(x, "metadata");
        xw_open(x, "reconcile:managed");
        xw_attr(x, "xmlns:reconcile", RECONCILE_XMLNS);
        xw_close(x);
        xw_close(x);
        xw_open(x, "memory");
        xw_attr(x, "unit", "KiB");
        xw_text(x, "%llu", (unsigned long long) (max_mem >> 10));
        xw_close(x);
        xw_open(x, "currentMemory");
        xw_attr(x, "unit", "KiB");
        xw_text(x, "%llu", (unsigned long long) (d->memory >> 10));
        xw_close(x);
        if ((r->set & DOM_F_MEMBACK) && d->memory_backing == MEMBACK_HUGEPAGES) {
                xw_open(x, "memoryBacking");
                tuning_write_hugepages(x, r);
                xw_close(x);
        }
        xw_open(x, "vcpu");
        xw_attr(x, "placement", "static");
        xw_attr(x, "current", "%u", d->vcpus);
        xw_text(x, "%u", max_vcpus);
        xw_close(x);
        tuning_write_top(x, r);
        xw_open(x, "os");
        /* libvirt picks the firmware image and makes the NVRAM from its template. */
        if (d->firmware == FIRMWARE_UEFI)
                xw_attr(x, "firmware", "efi");
        xw_open(x, "type");
        xw_attr(x, "arch", "x86_64");
        if (d->machine)
                xw_attr(x, "machine", "%s", d->machine);
        xw_text(x, "hvm");
        xw_close(x);
        if (d->firmware == FIRMWARE_UEFI) {
                xw_open(x, "firmware");
                static const char *const feats[] = { "enrolled-keys", "secure-boot" };
                for (size_t i = 0; i < ELEMENTSOF(feats); i++) {
                        xw_open(x, "feature");
                        xw_attr(x, "enabled", "%s", d->secure_boot ? "yes" : "no");
                        xw_attr(x, "name", "%s", feats[i]);
                        xw_close(x);
                }
                xw_close(x);
        }
        for (size_t i = 0; i < d->boot.n; i++) {
                xw_open(x, "boot");
                xw_attr(x, "dev", "%s", d->boot.v[i]);
                xw_close(x);
        }
        if (d->kernel)
                xw_leaf(x, "kernel", "%s", d->kernel);
        if (d->initrd)
                xw_leaf(x, "initrd", "%s", d->initrd);
        if (d->cmdline)
                xw_leaf(x, "cmdline", "%s", d->cmdline);
        xw_close(x);
        /* Without ACPI a guest never sees the power button (a graceful shutdown
         * cannot work) nor a PCI hotplug (a live attach fails); virt-install
         * renders both for every x86 guest. */
        xw_open(x, "features");
        xw_leaf(x, "acpi", "%s", "");
        xw_leaf(x, "apic", "%s", "");
        /* Secure boot firmware keeps its variables in SMM. */
        if (d->secure_boot) {
                xw_open(x, "smm");
                xw_attr(x, "state", "on");
                xw_close(x);
        }
        xw_close(x);
        if (tuning_has_cpu(d)) {
                _cleanup_free_ char *cpu = tuning_cpu_xml(d);
                if (!cpu || xmlTextWriterWriteRaw(xw_writer(x), BAD_CAST cpu) < 0)
                        xw_fail(x);
        }
        xw_open(x, "devices");
        unsigned counts[_BUS_MAX] = { 0 };
        for (size_t i = 0; i < d->n_disks; i++) {
                char target[16];
                int bus = disk_bus_of(&d->disks[i]);
                disk_target_name(bus, counts[bus]++, target);
                write_disk(x, &d->disks[i], target);
        }
        for (size_t i = 0; i < d->n_nics; i++)
                write_nic(x, &d->nics[i], macs ? macs[i] : NULL);
        if (d->console)
                write_serial(x);
        if (d->guest_agent)
                write_agent(x);
        if (r->set & DOM_F_GRAPHICS)
                write_graphics(x, &d->graphics, password);
        if (d->video >= 0)
                write_video(x, d->video);
        if (d->tpm)
                write_tpm(x);
        tuning_write_devices(x, r);
        /* A PCIe device hotplugs only into an empty root port, and libvirt adds
         * ports only for the devices a definition has: the spares are where a
         * live attach goes. */
        for (unsigned i = 0; i < domain_root_ports(d); i++) {
                /* Index 0 is the root complex (pcie-root), which libvirt adds itself. */
                xw_open(x, "controller");
                xw_attr(x, "type", "pci");
                xw_attr(x, "index", "%u", i + 1);
                xw_attr(x, "model", "pcie-root-port");
                xw_close(x);
        }
        xw_close(x);
        xw_close(x);
        return xw_finish(x);
}

bool domain_machine_is_q35(const char *machine) {
        return machine && (strcmp(machine, "q35") == 0 || strstr(machine, "-q35") != NULL);
}

/* The machine as declared ("pc", "q35") matches the exact type libvirt expands
 * it to (pc-i440fx-7.2, pc-q35-7.2); an exact type matches only itself. */
bool domain_machine_matches(const char *want, const char *have) {
        if (!want)
                return true;
        if (!have)
                return false;
        if (strcmp(want, "q35") == 0)
                return domain_machine_is_q35(have);
        if (strcmp(want, "pc") == 0)
                return strcmp(have, "pc") == 0 || strncmp(have, "pc-i440fx-", 10) == 0;
        return strcmp(want, have) == 0;
}

/* virt-install's 14 root ports on q35, and never fewer than 4 left free once
 * the disks, the interfaces, the balloon and the USB controller have theirs. */
unsigned domain_root_ports(const struct domain_spec *d) {
        if (!domain_machine_is_q35(d->machine))
                return 0;
        size_t used = d->n_disks + d->n_nics + 2;
        return used + 4 > 14 ? (unsigned) (used + 4) : 14;
}

/* A disk on a host file or block device; another source (a network disk)
 * keeps an empty path, which show leaves unmanaged. */
static void disk_parse_path(struct xr *x, int i, const char *type, struct disk_spec *k) {
        k->block = strcmp(type, "block") == 0;
        k->path = k->block ? xr_str(x, "/domain/devices/disk[%d]/source/@dev", i)
                           : xr_str(x, "/domain/devices/disk[%d]/source/@file", i);
        k->set |= DISK_F_PATH;
}

/* A bridge NIC with an openvswitch virtualport is on an OVS bridge: its one
 * VLAN tag is its access VLAN. A network NIC may name a portgroup. */
static void parse_nic_ovs(struct xr *x, int i, struct nic_spec *n) {
        _cleanup_free_ char *vport = xr_str(x, "/domain/devices/interface[%d]/virtualport/@type", i);
        _cleanup_free_ char *group = xr_str(x, "/domain/devices/interface[%d]/source/@portgroup", i);
        if ((n->set & NIC_F_NETWORK) && *group) {
                n->portgroup = xstrdup(group);
                n->set |= NIC_F_PORTGROUP;
        }
        if (!(n->set & NIC_F_BRIDGE) || strcmp(vport, "openvswitch") != 0)
                return;
        _cleanup_free_ char *id = xr_str(x, "/domain/devices/interface[%d]/virtualport/parameters/@interfaceid", i);
        snprintf(n->ovs_port_id, sizeof(n->ovs_port_id), "%s", id);
        memcpy(n->ovs_bridge, n->bridge, sizeof(n->ovs_bridge));
        n->bridge[0] = '\0';
        n->set = (n->set & ~(uint64_t) NIC_F_BRIDGE) | NIC_F_OVS_BRIDGE;
        if (xr_count(x, "/domain/devices/interface[%d]/vlan/tag", i) == 1 &&
            xr_count(x, "/domain/devices/interface[%d]/vlan[@trunk='yes']", i) == 0) {
                n->vlan_tag = (uint32_t) xr_ull(x, "/domain/devices/interface[%d]/vlan/tag/@id", i);
                n->set |= NIC_F_VLAN_TAG;
        }
}

int domain_parse_xml(const char *xml, struct resource *r) {
        struct xr *x = xr_parse(xml);
        if (!x)
                return -EINVAL;
        struct domain_spec *d = &r->domain;
        d->max_vcpus = (uint32_t) xr_ull(x, "/domain/vcpu");
        d->vcpus = xr_count(x, "/domain/vcpu/@current") ? (uint32_t) xr_ull(x, "/domain/vcpu/@current") : d->max_vcpus;
        d->max_memory = xr_ull(x, "/domain/memory") << 10; /* libvirt reports KiB */
        d->memory = xr_count(x, "/domain/currentMemory") ? xr_ull(x, "/domain/currentMemory") << 10 : d->max_memory;
        r->set |= DOM_F_VCPUS | DOM_F_MAX_VCPUS | DOM_F_MEMORY | DOM_F_MAX_MEMORY | DOM_F_DISKS | DOM_F_INTERFACES;
        _cleanup_free_ char *cpu_mode = xr_str(x, "/domain/cpu/@mode");
        _cleanup_free_ char *cpu_model = xr_str(x, "/domain/cpu/model");
        if (strcmp(cpu_mode, "host-passthrough") == 0 || strcmp(cpu_mode, "host-model") == 0)
                d->cpu = xstrdup(cpu_mode);
        else if (*cpu_model)
                d->cpu = xstrdup(cpu_model);
        if (d->cpu)
                r->set |= DOM_F_CPU;
        d->memory_backing = xr_count(x, "/domain/memoryBacking/hugepages") ? MEMBACK_HUGEPAGES : MEMBACK_DEFAULT;
        r->set |= DOM_F_MEMBACK;
        char **os_strs[] = { &d->machine, &d->kernel, &d->initrd, &d->cmdline };
        static const char *const os_paths[] = { "/domain/os/type/@machine", "/domain/os/kernel", "/domain/os/initrd",
                                                "/domain/os/cmdline" };
        static const uint64_t os_bits[] = { DOM_F_MACHINE, DOM_F_KERNEL, DOM_F_INITRD, DOM_F_CMDLINE };
        for (size_t i = 0; i < ELEMENTSOF(os_paths); i++) {
                char *v = xr_str(x, "%s", os_paths[i]);
                if (*v) {
                        *os_strs[i] = v;
                        r->set |= os_bits[i];
                } else
                        free(v);
        }
        _cleanup_free_ char *firmware = xr_str(x, "/domain/os/@firmware");
        _cleanup_free_ char *loader = xr_str(x, "/domain/os/loader/@type");
        d->firmware = strcmp(firmware, "efi") == 0 || strcmp(loader, "pflash") == 0 ? FIRMWARE_UEFI : FIRMWARE_BIOS;
        d->secure_boot = xr_count(x, "/domain/os/firmware/feature[@name='secure-boot' and @enabled='yes'] | "
                                     "/domain/os/loader[@secure='yes']") > 0;
        r->set |= DOM_F_FIRMWARE | DOM_F_SECURE_BOOT;
        int nboot = xr_count(x, "/domain/os/boot");
        for (int i = 1; i <= nboot; i++)
                *(char **) array_push(&d->boot.v, &d->boot.n, sizeof(char *)) = xr_str(x, "/domain/os/boot[%d]/@dev", i);
        r->set |= nboot ? DOM_F_BOOT : 0;
        d->console = xr_count(x, "/domain/devices/serial[@type='pty']") > 0;
        d->guest_agent = xr_count(x, "/domain/devices/channel/target[@name='org.qemu.guest_agent.0']") > 0;
        d->tpm = xr_count(x, "/domain/devices/tpm") > 0;
        r->set |= DOM_F_CONSOLE | DOM_F_GUEST_AGENT | DOM_F_TPM | DOM_F_VIDEO;
        _cleanup_free_ char *video = xr_str(x, "/domain/devices/video[1]/model/@type");
        d->video = *video ? enum_from_string(&video_model_table, video) : -1;
        _cleanup_free_ char *gtype = xr_str(x, "/domain/devices/graphics[1]/@type");
        d->graphics.type = enum_from_string(&graphics_type_table, gtype);
        if (d->graphics.type >= 0) {
                _cleanup_free_ char *autoport = xr_str(x, "/domain/devices/graphics[1]/@autoport");
                char *listen = xr_str(x, "/domain/devices/graphics[1]/listen[@type='address'][1]/@address");
                if (!*listen) {
                        free(listen);
                        listen = xr_str(x, "/domain/devices/graphics[1]/@listen");
                }
                if (*listen)
                        d->graphics.listen = listen;
                else
                        free(listen);
                d->graphics.port = strcmp(autoport, "yes") == 0 ? 0 : (uint32_t) xr_ull(x, "/domain/devices/graphics[1]/@port");
                d->graphics.has_password = xr_count(x, "/domain/devices/graphics[1]/@passwd") > 0;
                r->set |= DOM_F_GRAPHICS;
        }
        /* Devices a person adds that the schema has no key for yet: named, not
         * dropped. The modeled ones (the first graphics, a pty serial and its
         * console, the agent channel, the first video, the TPM) are left out. */
        static const char *const unmodeled[] = { "graphics", "video", "serial", "console", "channel", "sound",
                                                 "filesystem", "redirdev" };
        for (size_t i = 0; i < ELEMENTSOF(unmodeled); i++) {
                int n = xr_count(x, "/domain/devices/%s", unmodeled[i]);
                for (int j = 1; j <= n; j++) {
                        bool first_modeled = j == 1 && ((i == 0 && d->graphics.type >= 0) || (i == 1 && d->video >= 0));
                        bool pty = (i == 2 || i == 3) &&
                                   xr_count(x, "/domain/devices/%s[%d][@type='pty']", unmodeled[i], j) > 0;
                        bool agent = i == 4 && xr_count(x, "/domain/devices/channel[%d]/target[@name='org.qemu.guest_agent.0']",
                                                         j) > 0;
                        if (first_modeled || pty || agent)
                                continue;
                        _cleanup_free_ char *type = xr_str(x, "/domain/devices/%s[%d]/@type", unmodeled[i], j);
                        char *more = xasprintf("%s%s%s%s%s", d->unmodeled ? d->unmodeled : "", d->unmodeled ? ", " : "",
                                               unmodeled[i], type && *type ? " " : "", type ? type : "");
                        free(d->unmodeled);
                        d->unmodeled = more;
                }
        }
        d->acpi = xr_count(x, "/domain/features/acpi") > 0;
        d->apic = xr_count(x, "/domain/features/apic") > 0;
        r->set |= DOM_F_FEATURES;
        r->set |= xr_count(x, "/domain/metadata/*[local-name()='managed']") ? DOM_F_OWNED_MARK : 0;
        int nd = xr_count(x, "/domain/devices/disk");
        for (int i = 1; i <= nd; i++) {
                struct disk_spec *k = array_push(&d->disks, &d->n_disks, sizeof(*k));
                _cleanup_free_ char *type = xr_str(x, "/domain/devices/disk[%d]/@type", i);
                _cleanup_free_ char *device = xr_str(x, "/domain/devices/disk[%d]/@device", i);
                if (strcmp(type, "volume") == 0) {
                        _cleanup_free_ char *pool = xr_str(x, "/domain/devices/disk[%d]/source/@pool", i);
                        _cleanup_free_ char *vol = xr_str(x, "/domain/devices/disk[%d]/source/@volume", i);
                        k->volume = xasprintf("%s/%s", pool, vol);
                        k->set |= DISK_F_VOLUME;
                        k->seed = strcmp(device, "cdrom") == 0; /* a pool volume on a cdrom drive: a cloud-init seed */
                } else if (strcmp(device, "cdrom") == 0) {
                        k->cdrom = xr_str(x, "/domain/devices/disk[%d]/source/@file", i);
                        k->set |= DISK_F_CDROM;
                } else
                        disk_parse_path(x, i, type, k);
                _cleanup_free_ char *bus = xr_str(x, "/domain/devices/disk[%d]/target/@bus", i);
                _cleanup_free_ char *cache = xr_str(x, "/domain/devices/disk[%d]/driver/@cache", i);
                _cleanup_free_ char *discard = xr_str(x, "/domain/devices/disk[%d]/driver/@discard", i);
                _cleanup_free_ char *target = xr_str(x, "/domain/devices/disk[%d]/target/@dev", i);
                _cleanup_free_ char *format = xr_str(x, "/domain/devices/disk[%d]/driver/@type", i);
                k->format = enum_from_string(&vol_format_table, format);
                /* A path disk of no named format is raw to libvirt, which probes no image. */
                if (k->path && !*format)
                        k->format = VOL_RAW;
                k->set |= k->path && k->format >= 0 ? DISK_F_FORMAT : 0;
                snprintf(k->target, sizeof(k->target), "%s", target);
                k->bus = enum_from_string(&disk_bus_table, bus);
                k->set |= k->bus >= 0 ? DISK_F_BUS : 0;
                k->cache = *cache ? enum_from_string(&disk_cache_table, cache) : CACHE_DEFAULT;
                k->set |= DISK_F_CACHE;
                k->discard = *discard ? enum_from_string(&disk_discard_table, discard) : DISCARD_IGNORE;
                k->set |= *discard ? DISK_F_DISCARD : 0;
                k->shareable = xr_count(x, "/domain/devices/disk[%d]/shareable", i) > 0;
                k->set |= k->shareable ? DISK_F_SHAREABLE : 0;
                k->boot_order = (uint32_t) xr_ull(x, "/domain/devices/disk[%d]/boot/@order", i);
                k->set |= k->boot_order ? DISK_F_BOOT : 0;
                tuning_parse_disk(x, i, k);
        }
        int nn = xr_count(x, "/domain/devices/interface");
        for (int i = 1; i <= nn; i++) {
                struct nic_spec *n = array_push(&d->nics, &d->n_nics, sizeof(*n));
                _cleanup_free_ char *type = xr_str(x, "/domain/devices/interface[%d]/@type", i);
                _cleanup_free_ char *mac = xr_str(x, "/domain/devices/interface[%d]/mac/@address", i);
                _cleanup_free_ char *model = xr_str(x, "/domain/devices/interface[%d]/model/@type", i);
                if (strcmp(type, "bridge") == 0) {
                        _cleanup_free_ char *br = xr_str(x, "/domain/devices/interface[%d]/source/@bridge", i);
                        snprintf(n->bridge, sizeof(n->bridge), "%s", br);
                        n->set |= NIC_F_BRIDGE;
                } else {
                        n->network = xr_str(x, "/domain/devices/interface[%d]/source/@network", i);
                        n->set |= NIC_F_NETWORK;
                }
                if (mac_parse(mac, n->mac) == 0)
                        n->set |= NIC_F_MAC;
                n->model = enum_from_string(&nic_model_table, model);
                n->set |= n->model >= 0 ? NIC_F_MODEL : 0;
                n->boot_order = (uint32_t) xr_ull(x, "/domain/devices/interface[%d]/boot/@order", i);
                n->set |= n->boot_order ? NIC_F_BOOT : 0;
                tuning_parse_nic(x, i, n);
                parse_nic_ovs(x, i, n);
        }
        tuning_parse_xml(x, r);
        xr_free(x);
        return 0;
}
