/* libvirt domains: guests with disks from pools, NICs on bridges and
 * networks, direct kernel boot, and a graceful shutdown with a timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cloudinit.h"
#include "domain-tuning.h"
#include "kind.h"

static const char *const graphics_words[] = { "vnc", "spice" };
static const char *const video_words[] = { "vga", "virtio", "qxl", "cirrus", "bochs", "none" };
static const char *const firmware_words[] = { "bios", "uefi" };
static const char *const boot_words[] = { "hd", "cdrom", "network", "fd" };
const struct enum_table graphics_type_table = { "graphics type", graphics_words, (int) ELEMENTSOF(graphics_words) };
const struct enum_table video_model_table = { "video model", video_words, (int) ELEMENTSOF(video_words) };
const struct enum_table firmware_table = { "firmware", firmware_words, (int) ELEMENTSOF(firmware_words) };
const struct enum_table boot_dev_table = { "boot device", boot_words, (int) ELEMENTSOF(boot_words) };

/* "auto" (0: libvirt picks a free one from 5900) or a TCP port libvirt accepts for a display. */
static int parse_graphics_port(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        uint32_t *port = (uint32_t *) ((char *) base + f->offset);
        if (s && strcmp(s, "auto") == 0) {
                *port = 0;
                return 0;
        }
        char *end;
        unsigned long v = s && *s ? strtoul(s, &end, 10) : 0;
        if (!s || !*s || *end || v < 5900 || v > 65535) {
                snprintf(err, err_size, "graphics port: \"%s\" is neither auto nor a port in 5900..65535",
                         s ? printable(s) : "");
                return -EINVAL;
        }
        *port = (uint32_t) v;
        return 0;
}

/* cloud: what reconcile may do to apply what needs a restart. */
static const char *const restart_words[] = { "never", "on-change" };
const struct enum_table restart_policy_table = { "restart", restart_words, (int) ELEMENTSOF(restart_words) };

/* A seed file's text as written (any bytes: YAML, a shell script) or a path. */
static int parse_seed_text(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        char **dst = (char **) ((char *) base + f->offset);
        if (!s || !*s) {
                snprintf(err, err_size, "cloud-init %s: empty value", f->key);
                return -EINVAL;
        }
        free(*dst);
        *dst = xstrdup(s);
        return 0;
}

#define CI(member) offsetof(struct cloud_init_spec, member)
static const struct field cloud_init_fields[] = {
        { "user-data", FT_CUSTOM, CI(declared[SEED_USER_DATA]), 0, 0, 0, NULL, NULL, parse_seed_text },
        { "meta-data", FT_CUSTOM, CI(declared[SEED_META_DATA]), 0, 0, 0, NULL, NULL, parse_seed_text },
        { "network-config", FT_CUSTOM, CI(declared[SEED_NETWORK_CONFIG]), 0, 0, 0, NULL, NULL, parse_seed_text },
        { "pool", FT_STR, CI(pool), STR_WORD, 0, 0, NULL, "cloud-init pool", NULL },
};
static const struct sub_table cloud_init_sub = { cloud_init_fields, ELEMENTSOF(cloud_init_fields), 0, 0, 0, 0, "cloud-init" };

#define GR(member) offsetof(struct graphics_spec, member)
static const struct field graphics_fields[] = {
        { "type", FT_ENUM, GR(type), 0, 0, 0, &graphics_type_table, "graphics type", NULL },
        { "listen", FT_STR, GR(listen), STR_WORD, 0, 0, NULL, "graphics listen", NULL },
        { "port", FT_CUSTOM, GR(port), 0, 0, 0, NULL, "graphics port", parse_graphics_port },
        { "password-file", FT_STR, GR(password_file), STR_PATH, 0, 0, NULL, "graphics password-file", NULL },
};
static const struct sub_table graphics_sub = { graphics_fields, ELEMENTSOF(graphics_fields), 0, 0, 0, 0, "graphics" };

#define DK(member) offsetof(struct disk_spec, member)
static const struct field disk_fields[] = {
        { "volume", FT_STR, DK(volume), STR_WORD, 0, DISK_F_VOLUME, NULL, NULL, NULL },
        { "cdrom", FT_STR, DK(cdrom), STR_PATH, 0, DISK_F_CDROM, NULL, NULL, NULL },
        { "bus", FT_ENUM, DK(bus), 0, 0, DISK_F_BUS, &disk_bus_table, NULL, NULL },
        { "cache", FT_ENUM, DK(cache), 0, 0, DISK_F_CACHE, &disk_cache_table, NULL, NULL },
        { "discard", FT_ENUM, DK(discard), 0, 0, DISK_F_DISCARD, &disk_discard_table, NULL, NULL },
        { "shareable", FT_BOOL, DK(shareable), 0, 0, DISK_F_SHAREABLE, NULL, NULL, NULL },
        { "boot", FT_U32, DK(boot_order), 1, 65535, DISK_F_BOOT, NULL, "disk boot order", NULL },
        { "io", FT_ENUM, DK(tuning.io), 0, 0, DISK_F_IO, &disk_io_table, NULL, NULL },
        { "detect-zeroes", FT_ENUM, DK(tuning.detect_zeroes), 0, 0, DISK_F_DETECT_ZEROES, &detect_zeroes_table, NULL, NULL },
        { "iothread", FT_U32, DK(tuning.iothread), 1, 4096, DISK_F_IOTHREAD, NULL, "disk iothread", NULL },
        { "serial", FT_WORD, DK(tuning.serial), 0, 21, DISK_F_SERIAL, NULL, "disk serial", NULL },
        { "readonly", FT_BOOL, DK(tuning.readonly), 0, 0, DISK_F_READONLY, NULL, NULL, NULL },
        { "iotune", FT_OBJ, DK(tuning.iotune), 0, 0, DISK_F_IOTUNE, &tuning_iotune_sub, NULL, NULL },
        { "path", FT_STR, DK(path), STR_PATH, 0, DISK_F_PATH, NULL, NULL, NULL },
        { "format", FT_ENUM, DK(format), 0, 0, DISK_F_FORMAT, &vol_format_table, NULL, NULL },
};
static const struct sub_table disk_sub = { disk_fields, ELEMENTSOF(disk_fields), sizeof(struct disk_spec),
                                           DK(pos), DK(set),
                                           offsetof(struct domain_spec, n_disks) - offsetof(struct domain_spec, disks),
                                           "disk" };
#define NI(member) offsetof(struct nic_spec, member)
static const struct field nic_fields[] = {
        { "bridge", FT_IFNAME, NI(bridge), 0, 0, NIC_F_BRIDGE, NULL, NULL, NULL },
        { "network", FT_STR, NI(network), STR_WORD, 0, NIC_F_NETWORK, NULL, NULL, NULL },
        { "model", FT_ENUM, NI(model), 0, 0, NIC_F_MODEL, &nic_model_table, NULL, NULL },
        { "mac", FT_MAC, NI(mac), 0, 0, NIC_F_MAC, NULL, NULL, NULL },
        { "boot", FT_U32, NI(boot_order), 1, 65535, NIC_F_BOOT, NULL, "interface boot order", NULL },
        { "direct", FT_IFNAME, NI(direct), 0, 0, NIC_F_DIRECT, NULL, NULL, NULL },
        { "mode", FT_ENUM, NI(direct_mode), 0, 0, NIC_F_DIRECT_MODE, &macvtap_mode_table, NULL, NULL },
        { "ovs-bridge", FT_IFNAME, NI(ovs_bridge), 0, 0, NIC_F_OVS_BRIDGE, NULL, NULL, NULL },
        { "tag", FT_U32, NI(vlan_tag), 1, 4094, NIC_F_VLAN_TAG, NULL, "VLAN tag", NULL },
        { "portgroup", FT_STR, NI(portgroup), STR_WORD, 0, NIC_F_PORTGROUP, NULL, NULL, NULL },
};
static const struct sub_table nic_sub = { nic_fields, ELEMENTSOF(nic_fields), sizeof(struct nic_spec), NI(pos),
                                          NI(set), offsetof(struct domain_spec, n_nics) - offsetof(struct domain_spec, nics),
                                          "interface" };

static const struct field domain_fields[] = {
        { "vcpus", FT_U32, R(domain.vcpus), 1, 4096, DOM_F_VCPUS, NULL, NULL, NULL },
        { "max-vcpus", FT_U32, R(domain.max_vcpus), 1, 4096, DOM_F_MAX_VCPUS, NULL, NULL, NULL },
        { "memory", FT_SIZE, R(domain.memory), 1 << 20, 0, DOM_F_MEMORY, NULL, NULL, NULL },
        { "max-memory", FT_SIZE, R(domain.max_memory), 1 << 20, 0, DOM_F_MAX_MEMORY, NULL, NULL, NULL },
        { "cpu", FT_STR, R(domain.cpu), STR_WORD, 0, DOM_F_CPU, NULL, NULL, NULL },
        { "memory-backing", FT_ENUM, R(domain.memory_backing), 0, 0, DOM_F_MEMBACK, &mem_backing_table, NULL, NULL },
        { "state", FT_ENUM, R(state), 0, 0, RES_F_STATE, &domain_state_table, NULL, NULL },
        { "autostart", FT_BOOL, R(domain.autostart), 0, 0, DOM_F_AUTOSTART, NULL, NULL, NULL },
        { "disks", FT_OBJ_LIST, R(domain.disks), 0, 0, DOM_F_DISKS, &disk_sub, NULL, NULL },
        { "interfaces", FT_OBJ_LIST, R(domain.nics), 0, 0, DOM_F_INTERFACES, &nic_sub, NULL, NULL },
        { "machine", FT_STR, R(domain.machine), STR_WORD, 0, DOM_F_MACHINE, NULL, NULL, NULL },
        { "kernel", FT_STR, R(domain.kernel), STR_PATH, 0, DOM_F_KERNEL, NULL, NULL, NULL },
        { "initrd", FT_STR, R(domain.initrd), STR_PATH, 0, DOM_F_INITRD, NULL, NULL, NULL },
        { "cmdline", FT_STR, R(domain.cmdline), STR_WORD, 0, DOM_F_CMDLINE, NULL, NULL, NULL },
        { "shutdown-timeout", FT_U32, R(domain.shutdown_timeout), 1, 86400, DOM_F_SHUTDOWN_TIMEOUT, NULL, NULL, NULL },
        { "force-off", FT_BOOL, R(domain.force_off), 0, 0, DOM_F_FORCE_OFF, NULL, NULL, NULL },
        { "console", FT_BOOL, R(domain.console), 0, 0, DOM_F_CONSOLE, NULL, NULL, NULL },
        { "guest-agent", FT_BOOL, R(domain.guest_agent), 0, 0, DOM_F_GUEST_AGENT, NULL, NULL, NULL },
        { "graphics", FT_OBJ, R(domain.graphics), 0, 0, DOM_F_GRAPHICS, &graphics_sub, NULL, NULL },
        { "video", FT_ENUM, R(domain.video), 0, 0, DOM_F_VIDEO, &video_model_table, NULL, NULL },
        { "boot", FT_STR_LIST, R(domain.boot), 0, 0, DOM_F_BOOT, NULL, NULL, NULL },
        { "firmware", FT_ENUM, R(domain.firmware), 0, 0, DOM_F_FIRMWARE, &firmware_table, NULL, NULL },
        { "secure-boot", FT_BOOL, R(domain.secure_boot), 0, 0, DOM_F_SECURE_BOOT, NULL, NULL, NULL },
        { "tpm", FT_BOOL, R(domain.tpm), 0, 0, DOM_F_TPM, NULL, NULL, NULL },
        { "cloud-init", FT_OBJ, R(domain.cloud_init), 0, 0, DOM_F_CLOUD_INIT, &cloud_init_sub, NULL, NULL },
        { "restart", FT_ENUM, R(domain.restart), 0, 0, DOM_F_RESTART, &restart_policy_table, NULL, NULL },
        { "cpu-topology", FT_OBJ, R(domain.tuning.topology), 0, 0, DOM_F_CPU_TOPOLOGY, &tuning_topology_sub, NULL, NULL },
        { "vcpu-pins", FT_MAP, R(domain.tuning.pin_words), 0, 0, DOM_F_VCPU_PINS, NULL, NULL, NULL },
        { "emulator-pin", FT_CUSTOM, R(domain.tuning.emulator_pin), 0, 0, DOM_F_EMULATOR_PIN, NULL, "emulator-pin", tuning_parse_cpuset },
        { "iothreads", FT_U32, R(domain.tuning.iothreads), 1, 4096, DOM_F_IOTHREADS, NULL, NULL, NULL },
        { "numa", FT_OBJ_LIST, R(domain.tuning.cells), 0, 0, DOM_F_NUMA, &tuning_numa_sub, NULL, NULL },
        { "numa-tune", FT_OBJ, R(domain.tuning.numa_tune), 0, 0, DOM_F_NUMA_TUNE, &tuning_numa_tune_sub, NULL, NULL },
        { "hostdevs", FT_OBJ_LIST, R(domain.tuning.hostdevs), 0, 0, DOM_F_HOSTDEVS, &tuning_hostdev_sub, NULL, NULL },
        { "memballoon", FT_ENUM, R(domain.tuning.memballoon), 0, 0, DOM_F_MEMBALLOON, &balloon_model_table, NULL, NULL },
        { "rng", FT_ENUM, R(domain.tuning.rng), 0, 0, DOM_F_RNG, &rng_model_table, NULL, NULL },
        { "watchdog", FT_OBJ, R(domain.tuning.watchdog), 0, 0, DOM_F_WATCHDOG, &tuning_watchdog_sub, NULL, NULL },
        { "on-poweroff", FT_ENUM, R(domain.tuning.on_poweroff), 0, 0, DOM_F_ON_POWEROFF, &lifecycle_table, NULL, NULL },
        { "on-reboot", FT_ENUM, R(domain.tuning.on_reboot), 0, 0, DOM_F_ON_REBOOT, &lifecycle_table, NULL, NULL },
        { "on-crash", FT_ENUM, R(domain.tuning.on_crash), 0, 0, DOM_F_ON_CRASH, &lifecycle_table, NULL, NULL },
        { "depends-on", FT_STR_LIST, R(domain.tuning.depends_on), 0, 0, DOM_F_DEPENDS_ON, NULL, NULL, NULL },
        { "page-size", FT_SIZE, R(domain.tuning.page_size), 0, 0, DOM_F_PAGE_SIZE, NULL, NULL, NULL },
};

static void domain_defaults(struct resource *r) {
        r->state = STATE_RUNNING;
        r->domain.vcpus = 1;
        r->domain.console = r->domain.guest_agent = true;
        r->domain.video = -1;
        r->domain.graphics.type = -1;
        r->domain.shutdown_timeout = 120; /* what libvirt-guests waits for a guest to shut down */
        r->domain.restart = RESTART_NEVER; /* a restart is the operator's unless they opt in */
        tuning_defaults(r);
}

/* cloud: per-device boot orders are distinct, and libvirt takes them or the
 * domain's boot list, never both. */
static int domain_check_device_boot(struct check_ctx *c, struct resource *r) {
        const struct domain_spec *d = &r->domain;
        size_t n = d->n_disks + d->n_nics;
        for (size_t i = 0; i < n; i++) {
                const struct srcpos *pos = i < d->n_disks ? &d->disks[i].pos : &d->nics[i - d->n_disks].pos;
                uint32_t order = i < d->n_disks ? d->disks[i].boot_order : d->nics[i - d->n_disks].boot_order;
                if (!order)
                        continue;
                if (r->set & DOM_F_BOOT)
                        return check_error(c, DOM_F_BOOT, "domain %s: boot: [...] and a device's boot: %u exclude each "
                                           "other (libvirt takes one or the other); declare one", r->name, order);
                for (size_t j = 0; j < i; j++)
                        if ((j < d->n_disks ? d->disks[j].boot_order : d->nics[j - d->n_disks].boot_order) == order)
                                return diag_pos(pos, "domain %s: boot order %u is given to two devices", r->name, order);
        }
        return 0;
}

/* A disk is a pool volume, a cdrom's image or a host path; only a path's
 * format is declared on the disk (a volume's is the volume's, an ISO is raw).
 * Undeclared, it is probed at plan time (-1 until then), never taken as raw. */
static int disk_check_source(struct disk_spec *d) {
        int sources = !!(d->set & DISK_F_VOLUME) + !!(d->set & DISK_F_CDROM) + !!(d->set & DISK_F_PATH);
        if (sources != 1)
                return diag_pos(&d->pos, "disk needs exactly one of volume, cdrom and path");
        if ((d->set & DISK_F_FORMAT) && !(d->set & DISK_F_PATH))
                return diag_pos(&d->pos, "disk: format goes with path (a volume's format is declared on the volume, "
                                         "a cdrom's image is raw)");
        if ((d->set & DISK_F_PATH) && !(d->set & DISK_F_FORMAT))
                d->format = -1;
        return 0;
}

/* One place a NIC plugs into; an access VLAN is OVS's to set (a Linux bridge
 * port has none here), a portgroup the network's. */
static int nic_check_ovs(const struct nic_spec *nic) {
        int places = !!(nic->set & NIC_F_BRIDGE) + !!(nic->set & NIC_F_NETWORK) + !!(nic->set & NIC_F_OVS_BRIDGE) +
                     !!(nic->set & NIC_F_DIRECT);
        if (places != 1)
                return diag_pos(&nic->pos, "interface needs exactly one of bridge, network, ovs-bridge and direct");
        if ((nic->set & NIC_F_VLAN_TAG) && !(nic->set & NIC_F_OVS_BRIDGE))
                return diag_pos(&nic->pos, "interface: tag needs ovs-bridge (on a network, name a portgroup)");
        if ((nic->set & NIC_F_PORTGROUP) && !(nic->set & NIC_F_NETWORK))
                return diag_pos(&nic->pos, "interface: portgroup needs network");
        return 0;
}

static int domain_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & DOM_F_MEMORY))
                return check_error(c, 0, "domain %s needs memory", r->name);
        /* libvirt keeps memory in KiB, rounded up: so is it here, or 1GB (10^9
         * bytes) would never compare equal to what libvirt reads back. */
        r->domain.memory = (r->domain.memory + 1023) & ~1023ull;
        r->domain.max_memory = (r->domain.max_memory + 1023) & ~1023ull;
        if ((r->set & DOM_F_MAX_VCPUS) && r->domain.max_vcpus < r->domain.vcpus)
                return check_error(c, 0, "domain %s: max-vcpus %u is below vcpus %u", r->name, r->domain.max_vcpus,
                                   r->domain.vcpus);
        if ((r->set & DOM_F_MAX_MEMORY) && r->domain.max_memory < r->domain.memory) {
                char max[64];
                snprintf(max, sizeof(max), "%s", check_text(c, DOM_F_MAX_MEMORY));
                return check_error(c, DOM_F_MAX_MEMORY, "domain %s: max-memory %s is below memory %s", r->name, max,
                                   check_text(c, DOM_F_MEMORY));
        }
        if ((r->set & (DOM_F_INITRD | DOM_F_CMDLINE)) && !(r->set & DOM_F_KERNEL))
                return check_error(c, 0, "domain %s: initrd and cmdline go with kernel", r->name);
        struct graphics_spec *g = &r->domain.graphics;
        if ((r->set & DOM_F_GRAPHICS) && g->type < 0)
                return check_error(c, DOM_F_GRAPHICS, "domain %s: graphics needs a type (vnc or spice)", r->name);
        if ((r->set & DOM_F_GRAPHICS) && !g->listen)
                g->listen = xstrdup("127.0.0.1"); /* never on every address unless declared */
        if (r->set & DOM_F_GRAPHICS) {
                struct ipaddr listen;
                char err[256];
                if (field_ipaddr("graphics listen", g->listen, false, &listen, err, sizeof(err)) < 0)
                        return check_error(c, DOM_F_GRAPHICS, "domain %s: %s", r->name, err);
        }
        for (size_t i = 0; i < r->domain.boot.n; i++) {
                if (enum_from_string(&boot_dev_table, r->domain.boot.v[i]) < 0)
                        return check_item_error(c, DOM_F_BOOT, i, "domain %s: boot device \"%s\" is none of hd, cdrom, "
                                                "network, fd", r->name, printable(r->domain.boot.v[i]));
        }
        if (r->domain.secure_boot && !(r->set & DOM_F_FIRMWARE && r->domain.firmware == FIRMWARE_UEFI))
                return check_error(c, DOM_F_SECURE_BOOT, "domain %s: secure-boot needs firmware: uefi", r->name);
        /* QEMU's secure boot needs SMM, which only q35 has. */
        if (r->domain.secure_boot && !domain_machine_is_q35(r->domain.machine))
                return check_error(c, DOM_F_SECURE_BOOT, "domain %s: secure-boot needs machine: q35", r->name);
        for (size_t i = 0; i < r->domain.n_disks; i++) {
                int e = disk_check_source(&r->domain.disks[i]);
                if (e < 0)
                        return e;
        }
        for (size_t i = 0; i < r->domain.n_nics; i++) {
                struct nic_spec *nic = &r->domain.nics[i];
                if (nic_check_ovs(nic) < 0)
                        return -EINVAL;
        }
        int e = domain_check_device_boot(c, r);
        if (e >= 0)
                e = cloudinit_check(c, r);
        return e < 0 ? e : tuning_check(c, r);
}

/* A disk's volume must be declared (with the format the disk then takes). */
static int domain_validate_volumes(struct resource *r, struct model *declared) {
        int ret = 0;
        if (r->state == STATE_ABSENT)
                return 0;
        for (size_t j = 0; j < r->domain.n_disks; j++) {
                struct disk_spec *d = &r->domain.disks[j];
                if (!d->volume)
                        continue;
                struct resource *v = model_find(declared, KIND_VOLUME, d->volume);
                if (!v || v->kind != KIND_VOLUME)
                        ret = diag_pos(&d->pos, "domain %s: volume %s is not declared (declare it under pools)", r->name,
                                       d->volume);
                else if (v->state == STATE_ABSENT)
                        ret = diag_pos(&d->pos, "domain %s: volume %s is declared absent", r->name, d->volume);
                else
                        /* A clone or an upload has its origin's format: read from libvirt at plan time. */
                        d->format = v->set & VOL_F_FORMAT ? v->volume.format
                                    : v->set & (VOL_F_CLONE_OF | VOL_F_SOURCE) ? -1 : VOL_RAW;
        }
        return ret;
}

/* What a disk writes: its volume or its host path (a cdrom is read-only). */
static const char *disk_written(const struct disk_spec *d) {
        return d->volume ? d->volume : d->path;
}

/* Two guests writing one volume corrupt it unless both know (a cluster file
 * system): QEMU locks the image, and the second start fails. Each disk of r
 * is checked against the disks of the domains before it. */
static int domain_validate_shared(struct resource *r, struct model *declared) {
        if (r->state == STATE_ABSENT)
                return 0;
        for (size_t j = 0; j < r->domain.n_disks; j++) {
                const struct disk_spec *d = &r->domain.disks[j];
                const char *written = disk_written(d);
                for (size_t i = 0; written && i < declared->n && declared->v[i] != r; i++) {
                        const struct resource *o = declared->v[i];
                        if (o->kind != KIND_DOMAIN || o->state == STATE_ABSENT)
                                continue;
                        for (size_t k = 0; k < o->domain.n_disks; k++) {
                                const struct disk_spec *e = &o->domain.disks[k];
                                if (!disk_written(e) || strcmp(disk_written(e), written) != 0 || (d->shareable && e->shareable))
                                        continue;
                                return diag_pos(&d->pos,
                                                "domain %s: %s %s is also a disk of domain %s at %s:%u:%u; a %s "
                                                "two domains write needs shareable: true on both disks",
                                                r->name, d->volume ? "volume" : "path", written, o->name, e->pos.file,
                                                e->pos.line, e->pos.col, d->volume ? "volume" : "path");
                        }
                }
        }
        return 0;
}

/* Its volumes first (their formats), two domains on one volume after the veths. */
/* A NIC's portgroup is one its network declares (libvirt would refuse it
 * only when the guest starts). */
static int domain_validate_portgroups(const struct resource *r, struct model *declared) {
        for (size_t i = 0; r->state != STATE_ABSENT && i < r->domain.n_nics; i++) {
                const struct nic_spec *nic = &r->domain.nics[i];
                const struct resource *n = nic->portgroup ? model_find(declared, KIND_NETWORK, nic->network) : NULL;
                bool found = false;
                for (size_t j = 0; n && j < n->network.n_portgroups && !found; j++)
                        found = strcmp(n->network.portgroups[j].name, nic->portgroup) == 0;
                if (n && !found)
                        return diag_pos(&nic->pos, "domain %s: network %s has no portgroup %s", r->name, n->name,
                                        nic->portgroup);
        }
        return 0;
}

static int domain_validate(struct resource *r, struct model *declared, unsigned phase) {
        if (phase == 6 && tuning_validate(r, declared) < 0)
                return -EINVAL;
        if (phase == 7)
                return cloudinit_validate(r, declared); /* the seed joins the disks once they are checked */
        if (phase != 3 && domain_validate_portgroups(r, declared) < 0)
                return -EINVAL;
        return phase == 3 ? domain_validate_volumes(r, declared) : domain_validate_shared(r, declared);
}

static void domain_free(struct resource *r) {
        free(r->domain.cpu);
        free(r->domain.machine);
        free(r->domain.kernel);
        free(r->domain.initrd);
        free(r->domain.cmdline);
        free(r->domain.unmodeled);
        free(r->domain.graphics.listen);
        free(r->domain.graphics.password_file);
        str_list_done(&r->domain.boot);
        for (size_t i = 0; i < r->domain.n_disks; i++) {
                free(r->domain.disks[i].volume);
                free(r->domain.disks[i].cdrom);
                free(r->domain.disks[i].path);
        }
        free(r->domain.disks);
        for (size_t i = 0; i < r->domain.n_nics; i++) {
                free(r->domain.nics[i].network);
                free(r->domain.nics[i].portgroup);
        }
        free(r->domain.nics);
        resource_free(r->domain.active);
        cloudinit_free(&r->domain.cloud_init);
        tuning_free(r);
}

static void nic_show_ovs(struct yw *w, const struct nic_spec *n) {
        if (n->set & NIC_F_OVS_BRIDGE)
                yw_kv_name(w, "ovs-bridge", n->ovs_bridge);
        if (n->set & NIC_F_VLAN_TAG)
                yw_kv_uint(w, "tag", n->vlan_tag);
        if (n->set & NIC_F_PORTGROUP)
                yw_kv_name(w, "portgroup", n->portgroup);
}

static void domain_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        const struct domain_spec *d = &r->domain;
        char buf[32];
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        yw_kv_uint(w, "vcpus", d->vcpus);
        yw_kv_uint(w, "max-vcpus", d->max_vcpus);
        yw_kv_word(w, "memory", size_text(d->memory, buf, sizeof(buf)));
        yw_kv_word(w, "max-memory", size_text(d->max_memory, buf, sizeof(buf)));
        if (d->cpu)
                yw_kv_name(w, "cpu", d->cpu);
        if (d->memory_backing == MEMBACK_HUGEPAGES)
                yw_kv_word(w, "memory-backing", "hugepages");
        const char *const os_keys[] = { "machine", "kernel", "initrd", "cmdline" };
        const char *const os_vals[] = { d->machine, d->kernel, d->initrd, d->cmdline };
        for (size_t i = 0; i < ELEMENTSOF(os_keys); i++)
                if (os_vals[i])
                        yw_kv_str(w, os_keys[i], os_vals[i]);
        if (d->firmware == FIRMWARE_UEFI) {
                yw_kv_word(w, "firmware", "uefi");
                yw_kv_bool(w, "secure-boot", d->secure_boot);
        }
        if (d->tpm)
                yw_kv_bool(w, "tpm", true);
        if (d->boot.n) {
                yw_word(w, "boot");
                yw_seq(w, true);
                for (size_t i = 0; i < d->boot.n; i++)
                        yw_word(w, d->boot.v[i]);
                yw_end_seq(w);
        }
        yw_kv_bool(w, "console", d->console);
        yw_kv_bool(w, "guest-agent", d->guest_agent);
        /* Graphics show can write only as they are: with an address, a port a
         * manifest takes, and no password (its file is not known here). */
        const struct graphics_spec *g = &d->graphics;
        bool graphics_shown = (r->set & DOM_F_GRAPHICS) && g->listen && xml_safe(g->listen) &&
                              (!g->port || g->port >= 5900) && !g->has_password;
        if ((r->set & DOM_F_GRAPHICS) && !graphics_shown)
                yw_comment(w, 4, "graphics: %s%s%s, left as they are", enum_to_string(&graphics_type_table, g->type),
                           g->listen ? "" : " without a listen address (qemu.conf's applies)",
                           g->has_password ? " with a password (name its password-file to manage it)" : "");
        if (graphics_shown) {
                yw_word(w, "graphics");
                yw_map(w, false);
                yw_kv_word(w, "type", enum_to_string(&graphics_type_table, d->graphics.type));
                if (d->graphics.listen)
                        yw_kv_str(w, "listen", d->graphics.listen);
                if (d->graphics.port)
                        yw_kv_uint(w, "port", d->graphics.port);
                else
                        yw_kv_word(w, "port", "auto");
                yw_end_map(w);
        }
        if (d->video >= 0)
                yw_kv_word(w, "video", enum_to_string(&video_model_table, d->video));
        tuning_show(w, r);
        if (d->unmodeled)
                yw_comment(w, 4, "not in the schema yet, left as they are: %s", d->unmodeled);
        if (!d->acpi || !d->apic)
                yw_comment(w, 4, "features: acpi and apic missing; an apply adds them (no graceful shutdown or hotplug without)");
        yw_kv_word(w, "state", res_state_to_string(r->state));
        yw_kv_bool(w, "autostart", d->autostart);
        /* A disk that is neither a pool volume nor a cdrom cannot be declared: then
         * the list is left out, which leaves the disks unmanaged rather than detached. */
        bool representable = true;
        for (size_t i = 0; i < d->n_disks; i++)
                representable = representable && (d->disks[i].cdrom || d->disks[i].volume ||
                                                  (d->disks[i].path && d->disks[i].path[0] == '/'));
        for (size_t i = 0; i < d->n_disks; i++)
                if (d->disks[i].seed)
                        yw_comment(w, 4, "cloud-init: seed %s on a cdrom, left as it is (its content is not read back)",
                                   d->disks[i].volume);
        if (!representable)
                yw_comment(w, 4, "disks: left unmanaged, this domain has disks that are neither a volume, a path nor a cdrom");
        else {
                yw_word(w, "disks");
                yw_seq(w, false);
        }
        for (size_t i = 0; i < d->n_disks && representable; i++) {
                const struct disk_spec *k = &d->disks[i];
                if (k->seed)
                        continue;
                yw_map(w, true);
                if (k->cdrom)
                        yw_kv_str(w, "cdrom", k->cdrom);
                else if (k->path)
                        yw_kv_str(w, "path", k->path);
                else
                        yw_kv_str(w, "volume", k->volume);
                if (k->path && k->format >= 0)
                        yw_kv_word(w, "format", enum_to_string(&vol_format_table, k->format));
                if (k->bus >= 0)
                        yw_kv_word(w, "bus", enum_to_string(&disk_bus_table, k->bus));
                if (k->cache > 0)
                        yw_kv_word(w, "cache", enum_to_string(&disk_cache_table, k->cache));
                if (k->set & DISK_F_DISCARD)
                        yw_kv_word(w, "discard", enum_to_string(&disk_discard_table, k->discard));
                if (k->shareable)
                        yw_kv_bool(w, "shareable", true);
                if (k->boot_order)
                        yw_kv_uint(w, "boot", k->boot_order);
                tuning_show_disk(w, k);
                yw_end_map(w);
        }
        if (representable)
                yw_end_seq(w);
        yw_word(w, "interfaces");
        yw_seq(w, false);
        for (size_t i = 0; i < d->n_nics; i++) {
                const struct nic_spec *n = &d->nics[i];
                char mac[18];
                yw_map(w, true);
                if (n->set & NIC_F_DIRECT)
                        tuning_show_nic(w, n);
                else if (n->set & NIC_F_BRIDGE)
                        yw_kv_name(w, "bridge", n->bridge);
                else if (!(n->set & NIC_F_OVS_BRIDGE))
                        yw_kv_name(w, "network", n->network ? n->network : "");
                nic_show_ovs(w, n);
                if (n->model >= 0)
                        yw_kv_word(w, "model", enum_to_string(&nic_model_table, n->model));
                static const unsigned char no_mac[6];
                if (memcmp(n->mac, no_mac, sizeof(no_mac)) != 0)
                        yw_kv_str(w, "mac", mac_format(n->mac, mac));
                if (n->boot_order)
                        yw_kv_uint(w, "boot", n->boot_order);
                yw_end_map(w);
        }
        yw_end_seq(w);
        if (d->active && (d->active->domain.max_vcpus != d->max_vcpus || d->active->domain.max_memory != d->max_memory ||
                          d->active->domain.memory_backing != d->memory_backing || d->active->domain.acpi != d->acpi ||
                          d->active->domain.apic != d->apic))
                yw_comment(w, 4, "pending: restart needed (the running guest differs from its definition)");
        yw_end_map(w);
        yw_entry_end(w, r);
}

/* cloud: what a create sets that the plan names with -v: the way in and the seed. */
static void domain_describe(const struct resource *w, struct action *a) {
        const struct domain_spec *d = &w->domain;
        if (d->console)
                action_add_set(a, DOM_F_CONSOLE, "console", value_text("serial on a pty"));
        if (!(w->set & DOM_F_CLOUD_INIT))
                return;
        const char *meta = d->cloud_init.content[SEED_META_DATA];
        size_t id_len = meta && strncmp(meta, "instance-id: ", 13) == 0 ? strcspn(meta + 13, "\n") : 0;
        _cleanup_free_ char *vol = cloudinit_volume_name(w->name);
        _cleanup_free_ char *text = xasprintf("seed %s/%s (%s%s%.*s)", d->cloud_init.pool ? d->cloud_init.pool : "?", vol,
                                              d->cloud_init.content[SEED_NETWORK_CONFIG] ? "user-data, meta-data, network-config"
                                                                                          : "user-data, meta-data",
                                              id_len ? "; instance-id " : "", (int) id_len, id_len ? meta + 13 : "");
        action_add_set(a, DOM_F_CLOUD_INIT, "cloud-init", value_text(text));
}

const struct kind_ops domain_kind = {
        .flags = KF_CHECK_READS_FILES,
        .word = "domain",
        .section = "domains",
        .backend = &libvirt_backend, .diff = lv_domain_diff, .change_words = lv_domain_change_words, .apply = lv_domain_apply,
        .deps = lv_domain_deps,
        .admit = lv_domain_admit,
        .describe = domain_describe,
        .show_rank = 13,
        .fields = domain_fields,
        .n_fields = ELEMENTSOF(domain_fields),
        .defaults = domain_defaults,
        /* libvirt keeps a domain's definition as NAME.xml (and its log as
         * NAME.log): a file name holds NAME_MAX (255) bytes. */
        .name_max = 255 - 4,
        .name_long = " (libvirt stores the domain as NAME.xml, and a file name holds 255 bytes)",
        .name_error = "bad domain name \"%.64s\": no '/', <>&'\" or control characters",
        .check = domain_check,
        .validate = domain_validate,
        .validate_phases = 1u << 3 | 1u << 6 | 1u << 7,
        .free = domain_free,
        .show = domain_show,
};
