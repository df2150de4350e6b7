/* The tuning of a libvirt domain, as the KVM tuning guides set it: vCPU and
 * emulator pinning, CPU topology, iothreads, guest NUMA cells and memory
 * binding, huge page sizes, disk I/O modes and limits, macvtap NICs, PCI and
 * USB passthrough, a memory balloon, a virtio RNG, a watchdog, lifecycle
 * actions and the order guests start in. Pinning and I/O limits go to a
 * running guest live; the rest waits for its next start ("restart needed"). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "domain-tuning.h"
#include "kind.h"
#include "libvirt-dl.h"

static const char *const disk_io_words[] = { "native", "threads", "io_uring" };
static const char *const detect_zeroes_words[] = { "off", "on", "unmap" };
static const char *const numa_mode_words[] = { "strict", "preferred", "interleave" };
static const char *const lifecycle_words[] = { "destroy", "restart", "preserve", "rename-restart", "coredump-destroy",
                                               "coredump-restart" };
static const char *const watchdog_model_words[] = { "i6300esb", "ib700", "diag288", "itco" };
static const char *const watchdog_action_words[] = { "reset", "shutdown", "poweroff", "pause", "none", "dump", "inject-nmi" };
static const char *const balloon_words[] = { "virtio", "none" };
static const char *const rng_words[] = { "virtio", "none" };
const struct enum_table disk_io_table = { "disk io", disk_io_words, _DISK_IO_MAX };
const struct enum_table detect_zeroes_table = { "detect-zeroes", detect_zeroes_words, _DZ_MAX };
const struct enum_table numa_mode_table = { "numa-tune mode", numa_mode_words, _NUMA_MAX };
const struct enum_table lifecycle_table = { "lifecycle action", lifecycle_words, _LC_MAX };
const struct enum_table watchdog_model_table = { "watchdog model", watchdog_model_words, _WD_MAX };
const struct enum_table watchdog_action_table = { "watchdog action", watchdog_action_words, _WDA_MAX };
const struct enum_table balloon_model_table = { "memballoon", balloon_words, _BALLOON_MAX };
const struct enum_table rng_model_table = { "rng", rng_words, _RNG_MAX };

/* ---- CPU sets ---- */

static void cpuset_add(struct cpuset *c, unsigned cpu) {
        c->bits[cpu / 64] |= 1ull << (cpu % 64);
}

static bool cpuset_has(const struct cpuset *c, unsigned cpu) {
        return cpu < CPUSET_MAX && (c->bits[cpu / 64] >> (cpu % 64) & 1);
}

bool cpuset_empty(const struct cpuset *c) {
        for (size_t i = 0; i < ELEMENTSOF(c->bits); i++)
                if (c->bits[i])
                        return false;
        return true;
}

static bool parse_cpu_number(const char **p, unsigned *out) {
        if (**p < '0' || **p > '9')
                return false;
        unsigned long v = 0;
        while (**p >= '0' && **p <= '9' && v < CPUSET_MAX)
                v = v * 10 + (unsigned long) (*(*p)++ - '0');
        *out = (unsigned) v;
        return v < CPUSET_MAX;
}

int cpuset_parse(const char *s, struct cpuset *out, char *err, size_t err_size) {
        memset(out, 0, sizeof(*out));
        const char *p = s ? s : "";
        while (*p) {
                unsigned lo, hi;
                if (!parse_cpu_number(&p, &lo))
                        goto bad;
                hi = lo;
                if (*p == '-') {
                        p++;
                        if (!parse_cpu_number(&p, &hi) || hi < lo)
                                goto bad;
                }
                for (unsigned i = lo; i <= hi; i++)
                        cpuset_add(out, i);
                if (*p == ',' && p[1])
                        p++;
                else if (*p)
                        goto bad;
        }
        if (!cpuset_empty(out))
                return 0;
bad:
        snprintf(err, err_size, "bad CPU set \"%s\": numbers below %d and ranges, as in \"2-3,6\"",
                 printable(s ? s : ""), CPUSET_MAX);
        return -EINVAL;
}

const char *cpuset_format(const struct cpuset *c, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
        for (unsigned i = 0; i < CPUSET_MAX; i++) {
                if (!cpuset_has(c, i))
                        continue;
                unsigned j = i;
                while (j + 1 < CPUSET_MAX && cpuset_has(c, j + 1))
                        j++;
                int n = j == i ? snprintf(buf + len, len < size ? size - len : 0, "%s%u", len ? "," : "", i)
                               : snprintf(buf + len, len < size ? size - len : 0, "%s%u-%u", len ? "," : "", i, j);
                len += (size_t) n;
                i = j;
        }
        return buf;
}

int tuning_parse_cpuset(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        char msg[200];
        if (cpuset_parse(s, (struct cpuset *) ((char *) base + f->offset), msg, sizeof(msg)) < 0) {
                snprintf(err, err_size, "%s: %s", f->label ? f->label : f->key, msg);
                return -EINVAL;
        }
        return 0;
}

/* "0000:01:00.0": a PCI address as sysfs names the device. */
static int parse_pci(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        unsigned dom, bus, slot, fn;
        int end = 0;
        if (!s || strlen(s) != 12 || sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &slot, &fn, &end) != 4 || end != 12 ||
            slot > 0x1f || fn > 7) {
                snprintf(err, err_size, "hostdev pci: \"%s\" is no PCI address as 0000:01:00.0", s ? printable(s) : "");
                return -EINVAL;
        }
        char *out = (char *) base + f->offset;
        snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, slot, fn);
        return 0;
}

/* "0x1234": a USB vendor or product id. */
static int parse_usb_id(const char *s, void *base, const struct field *f, char *err, size_t err_size) {
        unsigned v;
        int end = 0;
        if (!s || strncmp(s, "0x", 2) != 0 || strlen(s) != 6 || sscanf(s + 2, "%4x%n", &v, &end) != 1 || end != 4) {
                snprintf(err, err_size, "hostdev usb %s: \"%s\" is no id as 0x1234", f->key, s ? printable(s) : "");
                return -EINVAL;
        }
        snprintf((char *) base + f->offset, 8, "0x%04x", v);
        return 0;
}

/* ---- the field tables ---- */

#define TOPO(m) offsetof(struct cpu_topology, m)
static const struct field topology_fields[] = {
        { "sockets", FT_U32, TOPO(sockets), 1, 4096, 0, NULL, "cpu-topology sockets", NULL },
        { "cores", FT_U32, TOPO(cores), 1, 4096, 0, NULL, "cpu-topology cores", NULL },
        { "threads", FT_U32, TOPO(threads), 1, 4096, 0, NULL, "cpu-topology threads", NULL },
};
const struct sub_table tuning_topology_sub = { topology_fields, ELEMENTSOF(topology_fields), 0, 0, 0, 0, "cpu-topology" };

enum { NUMA_F_CPUS = 1u << 0, NUMA_F_MEMORY = 1u << 1 };
#define CELL(m) offsetof(struct numa_cell, m)
static const struct field numa_fields[] = {
        { "cpus", FT_CUSTOM, CELL(cpus), 0, 0, NUMA_F_CPUS, NULL, "numa cpus", tuning_parse_cpuset },
        { "memory", FT_SIZE, CELL(memory), 1 << 20, 0, NUMA_F_MEMORY, NULL, "numa memory", NULL },
};
const struct sub_table tuning_numa_sub = { numa_fields, ELEMENTSOF(numa_fields), sizeof(struct numa_cell), CELL(pos),
                                           CELL(set),
                                           offsetof(struct domain_tuning, n_cells) - offsetof(struct domain_tuning, cells),
                                           "numa cell" };

#define NT(m) offsetof(struct numa_tune, m)
static const struct field numa_tune_fields[] = {
        { "mode", FT_ENUM, NT(mode), 0, 0, 0, &numa_mode_table, NULL, NULL },
        { "nodeset", FT_CUSTOM, NT(nodeset), 0, 0, 0, NULL, "numa-tune nodeset", tuning_parse_cpuset },
};
const struct sub_table tuning_numa_tune_sub = { numa_tune_fields, ELEMENTSOF(numa_tune_fields), 0, 0, 0, 0, "numa-tune" };

#define USB(m) offsetof(struct usb_id, m)
static const struct field usb_fields[] = {
        { "vendor", FT_CUSTOM, USB(vendor), 0, 0, 0, NULL, NULL, parse_usb_id },
        { "product", FT_CUSTOM, USB(product), 0, 0, 0, NULL, NULL, parse_usb_id },
};
static const struct sub_table usb_sub = { usb_fields, ELEMENTSOF(usb_fields), 0, 0, 0, 0, "hostdev usb" };

enum { HOSTDEV_F_PCI = 1u << 0, HOSTDEV_F_USB = 1u << 1, HOSTDEV_F_MANAGED = 1u << 2 };
#define HD(m) offsetof(struct hostdev_spec, m)
static const struct field hostdev_fields[] = {
        { "pci", FT_CUSTOM, HD(pci), 0, 0, HOSTDEV_F_PCI, NULL, NULL, parse_pci },
        { "usb", FT_OBJ, HD(usb), 0, 0, HOSTDEV_F_USB, &usb_sub, NULL, NULL },
        { "managed", FT_BOOL, HD(managed), 0, 0, HOSTDEV_F_MANAGED, NULL, NULL, NULL },
};
const struct sub_table tuning_hostdev_sub = { hostdev_fields, ELEMENTSOF(hostdev_fields), sizeof(struct hostdev_spec),
                                              HD(pos), HD(set),
                                              offsetof(struct domain_tuning, n_hostdevs) -
                                                      offsetof(struct domain_tuning, hostdevs),
                                              "hostdev" };

#define WD(m) offsetof(struct watchdog_spec, m)
static const struct field watchdog_fields[] = {
        { "model", FT_ENUM, WD(model), 0, 0, 0, &watchdog_model_table, NULL, NULL },
        { "action", FT_ENUM, WD(action), 0, 0, 0, &watchdog_action_table, NULL, NULL },
};
const struct sub_table tuning_watchdog_sub = { watchdog_fields, ELEMENTSOF(watchdog_fields), 0, 0, 0, 0, "watchdog" };

#define IOT(m) offsetof(struct iotune_spec, m)
static const struct field iotune_fields[] = {
        { "total-bytes-sec", FT_SIZE, IOT(total_bytes), 0, 0, 0, NULL, NULL, NULL },
        { "read-bytes-sec", FT_SIZE, IOT(read_bytes), 0, 0, 0, NULL, NULL, NULL },
        { "write-bytes-sec", FT_SIZE, IOT(write_bytes), 0, 0, 0, NULL, NULL, NULL },
        { "total-iops-sec", FT_U32, IOT(total_iops), 0, 0, 0, NULL, NULL, NULL },
        { "read-iops-sec", FT_U32, IOT(read_iops), 0, 0, 0, NULL, NULL, NULL },
        { "write-iops-sec", FT_U32, IOT(write_iops), 0, 0, 0, NULL, NULL, NULL },
};
const struct sub_table tuning_iotune_sub = { iotune_fields, ELEMENTSOF(iotune_fields), 0, 0, 0, 0, "iotune" };

/* ---- parse-time checks ---- */

void tuning_defaults(struct resource *r) {
        struct domain_tuning *t = &r->domain.tuning;
        t->memballoon = t->rng = -1;
        t->watchdog.model = t->watchdog.action = -1;
        t->on_poweroff = t->on_reboot = t->on_crash = -1;
        t->numa_tune.mode = -1;
}

static int pin_cmp(const void *a, const void *b) {
        const struct vcpu_pin *x = a, *y = b;
        return x->vcpu < y->vcpu ? -1 : x->vcpu > y->vcpu;
}

static int check_pins(struct check_ctx *c, struct resource *r, uint32_t max_vcpus) {
        struct domain_tuning *t = &r->domain.tuning;
        for (size_t i = 0; i < t->pin_words.n; i++) {
                const char *key = t->pin_words.v[i].key;
                char *end, msg[200];
                errno = 0;
                unsigned long v = strtoul(key, &end, 10);
                if (errno || *end || !(*key >= '0' && *key <= '9') || v >= max_vcpus)
                        return check_item_error(c, DOM_F_VCPU_PINS, i,
                                                "domain %s: vcpu-pins: \"%s\" is no vCPU of 0..%u (max-vcpus %u)", r->name,
                                                printable(key), max_vcpus - 1, max_vcpus);
                struct vcpu_pin *p = array_push(&t->pins, &t->n_pins, sizeof(*p));
                p->pos = check_item_pos(c, DOM_F_VCPU_PINS, i);
                p->vcpu = (uint32_t) v;
                if (cpuset_parse(t->pin_words.v[i].value, &p->cpus, msg, sizeof(msg)) < 0)
                        return check_item_error(c, DOM_F_VCPU_PINS, i, "domain %s: vcpu-pins %s: %s", r->name, key, msg);
        }
        if (t->n_pins)
                qsort(t->pins, t->n_pins, sizeof(*t->pins), pin_cmp);
        for (size_t i = 1; i < t->n_pins; i++)
                if (t->pins[i].vcpu == t->pins[i - 1].vcpu)
                        return check_error(c, DOM_F_VCPU_PINS, "domain %s: vcpu-pins: vCPU %u pinned twice", r->name,
                                           t->pins[i].vcpu);
        return 0;
}

static int check_disks(struct resource *r) {
        const struct domain_tuning *t = &r->domain.tuning;
        for (size_t i = 0; i < r->domain.n_disks; i++) {
                struct disk_spec *d = &r->domain.disks[i];
                const struct iotune_spec *io = &d->tuning.iotune;
                if ((d->set & DISK_F_IOTHREAD) && d->tuning.iothread > t->iothreads)
                        return diag_pos(&d->pos, "domain %s: disk iothread %u, but the domain has iothreads: %u", r->name,
                                        d->tuning.iothread, t->iothreads);
                /* QEMU opens with O_DIRECT for native AIO: another cache mode fails the start. */
                if ((d->set & DISK_F_IO) && d->tuning.io == DISK_IO_NATIVE &&
                    !((d->set & DISK_F_CACHE) && (d->cache == CACHE_NONE || d->cache == CACHE_DIRECTSYNC)))
                        return diag_pos(&d->pos, "domain %s: disk io: native needs cache: none or directsync", r->name);
                if ((d->set & DISK_F_DETECT_ZEROES) && d->tuning.detect_zeroes == DZ_UNMAP &&
                    !((d->set & DISK_F_DISCARD) && d->discard == DISCARD_UNMAP))
                        return diag_pos(&d->pos, "domain %s: disk detect-zeroes: unmap needs discard: unmap", r->name);
                if ((io->total_bytes && (io->read_bytes || io->write_bytes)) ||
                    (io->total_iops && (io->read_iops || io->write_iops)))
                        return diag_pos(&d->pos, "domain %s: disk iotune: a total limit goes alone, or read and write "
                                        "limits without it", r->name);
                if ((d->set & DISK_F_SERIAL) && (!d->tuning.serial[0] || !xml_safe(d->tuning.serial)))
                        return diag_pos(&d->pos, "domain %s: disk serial: a word of 1..20 characters", r->name);
        }
        return 0;
}

int tuning_check(struct check_ctx *c, struct resource *r) {
        struct domain_tuning *t = &r->domain.tuning;
        uint32_t max_vcpus = r->set & DOM_F_MAX_VCPUS ? r->domain.max_vcpus : r->domain.vcpus;
        int ret = check_pins(c, r, max_vcpus);
        if (ret < 0)
                return ret;
        if (r->set & DOM_F_CPU_TOPOLOGY) {
                const struct cpu_topology *tp = &t->topology;
                if (!tp->sockets || !tp->cores || !tp->threads)
                        return check_error(c, DOM_F_CPU_TOPOLOGY, "domain %s: cpu-topology needs sockets, cores and threads",
                                           r->name);
                if ((uint64_t) tp->sockets * tp->cores * tp->threads != max_vcpus)
                        return check_error(c, DOM_F_CPU_TOPOLOGY,
                                           "domain %s: cpu-topology %u sockets x %u cores x %u threads is %llu vCPUs, but "
                                           "%s is %u",
                                           r->name, tp->sockets, tp->cores, tp->threads,
                                           (unsigned long long) tp->sockets * tp->cores * tp->threads,
                                           r->set & DOM_F_MAX_VCPUS ? "max-vcpus" : "vcpus", max_vcpus);
        }
        if (r->set & DOM_F_NUMA) {
                uint64_t sum = 0;
                struct cpuset seen = { 0 };
                for (size_t i = 0; i < t->n_cells; i++) {
                        struct numa_cell *cell = &t->cells[i];
                        if ((cell->set & (NUMA_F_CPUS | NUMA_F_MEMORY)) != (NUMA_F_CPUS | NUMA_F_MEMORY))
                                return diag_pos(&cell->pos, "domain %s: a numa cell needs cpus and memory", r->name);
                        cell->memory = (cell->memory + 1023) & ~1023ull;
                        sum += cell->memory;
                        for (unsigned k = 0; k < CPUSET_MAX; k++) {
                                if (!cpuset_has(&cell->cpus, k))
                                        continue;
                                if (k >= max_vcpus || cpuset_has(&seen, k))
                                        return diag_pos(&cell->pos, "domain %s: numa cell cpus: vCPU %u is %s", r->name, k,
                                                        k >= max_vcpus ? "above the domain's vCPUs" : "in two cells");
                                cpuset_add(&seen, k);
                        }
                }
                /* libvirt makes the domain's memory the sum of its cells. */
                uint64_t mem = r->set & DOM_F_MAX_MEMORY ? r->domain.max_memory : r->domain.memory;
                mem = (mem + 1023) & ~1023ull;
                char a[32], b[32];
                if (t->n_cells && sum != mem)
                        return check_error(c, DOM_F_NUMA, "domain %s: the numa cells hold %s, but the domain's %s is %s",
                                           r->name, size_text(sum, a, sizeof(a)),
                                           r->set & DOM_F_MAX_MEMORY ? "max-memory" : "memory", size_text(mem, b, sizeof(b)));
        }
        if ((r->set & DOM_F_NUMA_TUNE) && cpuset_empty(&t->numa_tune.nodeset))
                return check_error(c, DOM_F_NUMA_TUNE, "domain %s: numa-tune needs a nodeset", r->name);
        for (size_t i = 0; i < t->n_hostdevs; i++) {
                const struct hostdev_spec *h = &t->hostdevs[i];
                if (!!(h->set & HOSTDEV_F_PCI) == !!(h->set & HOSTDEV_F_USB))
                        return diag_pos(&h->pos, "domain %s: a hostdev needs exactly one of pci and usb", r->name);
                if ((h->set & HOSTDEV_F_USB) && (!h->usb.vendor[0] || !h->usb.product[0]))
                        return diag_pos(&h->pos, "domain %s: hostdev usb needs vendor and product", r->name);
        }
        if ((r->set & DOM_F_WATCHDOG) && t->watchdog.model < 0)
                return check_error(c, DOM_F_WATCHDOG, "domain %s: watchdog needs a model", r->name);
        if (r->set & DOM_F_PAGE_SIZE) {
                uint64_t ps = t->page_size;
                if (!(r->set & DOM_F_MEMBACK) || r->domain.memory_backing != MEMBACK_HUGEPAGES)
                        return check_error(c, DOM_F_PAGE_SIZE, "domain %s: page-size goes with memory-backing: hugepages",
                                           r->name);
                if (ps < (2u << 20) || (ps & (ps - 1)))
                        return check_error(c, DOM_F_PAGE_SIZE, "domain %s: page-size %s is no huge page size (2M, 1G)",
                                           r->name, check_text(c, DOM_F_PAGE_SIZE));
        }
        for (size_t i = 0; i < t->depends_on.n; i++)
                if (strcmp(t->depends_on.v[i], r->name) == 0)
                        return check_item_error(c, DOM_F_DEPENDS_ON, i, "domain %s cannot depend on itself", r->name);
        for (size_t i = 0; i < r->domain.n_nics; i++) {
                const struct nic_spec *n = &r->domain.nics[i];
                if ((n->set & NIC_F_DIRECT_MODE) && !(n->set & NIC_F_DIRECT))
                        return diag_pos(&n->pos, "domain %s: interface mode goes with direct", r->name);
                if ((n->set & NIC_F_DIRECT) && (n->set & (NIC_F_BRIDGE | NIC_F_NETWORK)))
                        return diag_pos(&n->pos, "interface needs exactly one of bridge, network and direct");
        }
        return check_disks(r);
}

/* depends-on names declared domains; the huge pages the manifests reserve for page-size. */
int tuning_validate(struct resource *r, struct model *declared) {
        struct domain_tuning *t = &r->domain.tuning;
        int ret = 0;
        for (size_t i = 0; i < t->depends_on.n; i++) {
                const struct resource *o = model_find(declared, KIND_DOMAIN, t->depends_on.v[i]);
                if (!o || o->kind != KIND_DOMAIN)
                        ret = diag_pos(resource_key_pos(r, DOM_F_DEPENDS_ON), "domain %s: depends-on %s, which is no declared domain",
                                       r->name, t->depends_on.v[i]);
        }
        /* Stopped in reverse: a guest to shut off waits for the shut-off guests that depend on it. */
        for (size_t i = 0; r->state == STATE_SHUTOFF && i < declared->n; i++) {
                const struct resource *o = declared->v[i];
                if (o != r && o->kind == KIND_DOMAIN && o->state == STATE_SHUTOFF &&
                    str_list_contains(&o->domain.tuning.depends_on, r->name) &&
                    !str_list_contains(&t->stop_after, o->name))
                        *(char **) array_push(&t->stop_after.v, &t->stop_after.n, sizeof(char *)) = xstrdup(o->name);
        }
        if (r->set & DOM_F_PAGE_SIZE) {
                char name[32];
                const struct resource *h = model_find(declared, KIND_HUGEPAGE, size_text(t->page_size, name, sizeof(name)));
                t->declared_pages = h && h->kind == KIND_HUGEPAGE && h->state != STATE_ABSENT ? h->hugepage.count : 0;
        }
        return ret;
}

void tuning_free(struct resource *r) {
        struct domain_tuning *t = &r->domain.tuning;
        str_map_done(&t->pin_words);
        free(t->pins);
        free(t->cells);
        free(t->hostdevs);
        str_list_done(&t->depends_on);
        str_list_done(&t->stop_after);
        t->pins = NULL, t->cells = NULL, t->hostdevs = NULL;
        t->n_pins = t->n_cells = t->n_hostdevs = 0;
}

/* ---- plan-time checks against the host ---- */

static const char *sysfs(void) {
        const char *s = getenv("RECONCILE_SYSFS");
        return s && *s ? s : "/sys";
}

/* The host's CPUs (or NUMA nodes) from the first of files that reads. */
static int host_set(const char *const *files, size_t n, struct cpuset *out) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", sysfs(), files[i]);
                _cleanup_free_ char *text = file_read(path);
                char err[200];
                if (text) {
                        text[strcspn(text, "\n")] = '\0';
                        if (cpuset_parse(text, out, err, sizeof(err)) == 0)
                                return 0;
                }
        }
        return -ENOENT;
}

static int first_missing(const struct cpuset *want, const struct cpuset *host) {
        for (unsigned i = 0; i < CPUSET_MAX; i++)
                if (cpuset_has(want, i) && !cpuset_has(host, i))
                        return (int) i;
        return -1;
}

static bool usb_present(const struct usb_id *u) {
        _cleanup_free_ char *dir = xasprintf("%s/bus/usb/devices", sysfs());
        DIR *d = opendir(dir);
        bool found = false;
        for (struct dirent *e; d && !found && (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *vp = xasprintf("%s/%s/idVendor", dir, e->d_name);
                _cleanup_free_ char *pp = xasprintf("%s/%s/idProduct", dir, e->d_name);
                _cleanup_free_ char *v = file_read(vp), *p = file_read(pp);
                found = v && p && strtoul(v, NULL, 16) == strtoul(u->vendor, NULL, 16) &&
                        strtoul(p, NULL, 16) == strtoul(u->product, NULL, 16);
        }
        if (d)
                closedir(d);
        return found;
}

static bool domain_is_running(virConnectPtr conn, const char *name) {
        if (!conn)
                return false;
        virDomainPtr dom = virDomainLookupByName(conn, name);
        bool running = dom && virDomainIsActive(dom) == 1;
        if (dom)
                virDomainFree(dom);
        return running;
}

static int admit_pages(const struct resource *w, virConnectPtr conn) {
        const struct domain_tuning *t = &w->domain.tuning;
        if (!(w->set & DOM_F_PAGE_SIZE) || w->state != STATE_RUNNING || domain_is_running(conn, w->name))
                return 0;
        uint64_t mem = w->set & DOM_F_MAX_MEMORY ? w->domain.max_memory : w->domain.memory;
        uint64_t need = (mem + t->page_size - 1) / t->page_size;
        char size[32];
        size_text(t->page_size, size, sizeof(size));
        _cleanup_free_ char *path =
                xasprintf("%s/kernel/mm/hugepages/hugepages-%" PRIu64 "kB/free_hugepages", sysfs(), t->page_size / 1024);
        _cleanup_free_ char *text = file_read(path);
        if (!text && !t->declared_pages)
                return diag_pos(resource_key_pos(w, DOM_F_PAGE_SIZE), "domain %s: page-size %s: this host has no %s huge pages",
                                w->name, size, size);
        /* A declared reservation is made before the guest starts: it counts instead of what is free now. */
        uint64_t have = t->declared_pages ? t->declared_pages : strtoull(text, NULL, 10);
        if (have < need)
                return diag_pos(resource_key_pos(w, DOM_F_PAGE_SIZE),
                                "domain %s: page-size %s: it needs %" PRIu64 " pages for its memory, and %s %" PRIu64
                                " (declare hugepages: { %s: %" PRIu64 " } or more)",
                                w->name, size, need, t->declared_pages ? "the manifests reserve" : "the host has free",
                                have, size, need);
        /* Bound strictly to some nodes, the guest takes its pages from them alone. */
        if (t->declared_pages || !(w->set & DOM_F_NUMA_TUNE) || (t->numa_tune.mode >= 0 && t->numa_tune.mode != NUMA_STRICT))
                return 0;
        uint64_t on_nodes = 0;
        for (unsigned n = 0; n < CPUSET_MAX; n++) {
                if (!cpuset_has(&t->numa_tune.nodeset, n))
                        continue;
                _cleanup_free_ char *np = xasprintf("%s/devices/system/node/node%u/hugepages/hugepages-%" PRIu64 "kB/free_hugepages",
                                                    sysfs(), n, t->page_size / 1024);
                _cleanup_free_ char *nt = file_read(np);
                if (!nt)
                        return 0; /* no per-node figures (a kernel without NUMA): the host's count stands */
                on_nodes += strtoull(nt, NULL, 10);
        }
        char nodes[256];
        if (on_nodes < need)
                return diag_pos(resource_key_pos(w, DOM_F_PAGE_SIZE),
                                "domain %s: page-size %s: it needs %" PRIu64 " pages for its memory, and its numa-tune "
                                "nodes %s have %" PRIu64 " free (declare hugepages: { nodeN/%s: ... })",
                                w->name, size, need, cpuset_format(&t->numa_tune.nodeset, nodes, sizeof(nodes)), on_nodes,
                                size);
        return 0;
}

int tuning_admit(const struct resource *w, virConnectPtr conn) {
        const struct domain_tuning *t = &w->domain.tuning;
        static const char *const cpu_files[] = { "devices/system/cpu/online", "devices/system/cpu/present" };
        static const char *const node_files[] = { "devices/system/node/online", "devices/system/node/possible" };
        struct cpuset cpus, nodes;
        bool have_cpus = host_set(cpu_files, ELEMENTSOF(cpu_files), &cpus) == 0;
        if (host_set(node_files, ELEMENTSOF(node_files), &nodes) < 0) {
                memset(&nodes, 0, sizeof(nodes));
                cpuset_add(&nodes, 0); /* a kernel without NUMA: one node */
        }
        char host[256];
        for (size_t i = 0; have_cpus && i < t->n_pins; i++) {
                int m = first_missing(&t->pins[i].cpus, &cpus);
                if (m >= 0)
                        return diag_pos(t->pins[i].pos.file ? &t->pins[i].pos : resource_key_pos(w, DOM_F_VCPU_PINS),
                                        "domain %s: vcpu-pins %u: host CPU %d does not exist (this host has %s)", w->name,
                                        t->pins[i].vcpu, m, cpuset_format(&cpus, host, sizeof(host)));
        }
        int m = have_cpus && (w->set & DOM_F_EMULATOR_PIN) ? first_missing(&t->emulator_pin, &cpus) : -1;
        if (m >= 0)
                return diag_pos(resource_key_pos(w, DOM_F_EMULATOR_PIN),
                                "domain %s: emulator-pin: host CPU %d does not exist (this host has %s)", w->name, m,
                                cpuset_format(&cpus, host, sizeof(host)));
        m = w->set & DOM_F_NUMA_TUNE ? first_missing(&t->numa_tune.nodeset, &nodes) : -1;
        if (m >= 0)
                return diag_pos(resource_key_pos(w, DOM_F_NUMA_TUNE),
                                "domain %s: numa-tune nodeset: host NUMA node %d does not exist (this host has %s)", w->name,
                                m, cpuset_format(&nodes, host, sizeof(host)));
        for (size_t i = 0; i < t->n_hostdevs; i++) {
                const struct hostdev_spec *h = &t->hostdevs[i];
                struct stat st;
                _cleanup_free_ char *path = xasprintf("%s/bus/pci/devices/%s", sysfs(), h->pci);
                if ((h->set & HOSTDEV_F_PCI) && stat(path, &st) < 0)
                        return diag_pos(&h->pos, "domain %s: hostdev pci %s: no such PCI device on this host", w->name,
                                        h->pci);
                if ((h->set & HOSTDEV_F_USB) && !usb_present(&h->usb))
                        return diag_pos(&h->pos, "domain %s: hostdev usb %s:%s: no such USB device on this host", w->name,
                                        h->usb.vendor, h->usb.product);
        }
        return admit_pages(w, conn);
}

void tuning_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        /* Started after what it depends on; shut off before it (stop_after). */
        const struct str_list *first = r->state == STATE_SHUTOFF ? &r->domain.tuning.stop_after : &r->domain.tuning.depends_on;
        for (size_t i = 0; i < first->n; i++)
                add(u, KIND_DOMAIN, first->v[i]);
        for (size_t i = 0; i < r->domain.n_nics; i++)
                if (r->domain.nics[i].set & NIC_F_DIRECT)
                        add(u, KIND_ETHERNET, r->domain.nics[i].direct);
}

/* ---- render ---- */

static void write_text_leaf(struct xw *x, const char *el, int v, const struct enum_table *t) {
        if (v >= 0)
                xw_leaf(x, el, "%s", enum_to_string(t, v));
}

void tuning_write_top(struct xw *x, const struct resource *r) {
        const struct domain_tuning *t = &r->domain.tuning;
        char buf[256];
        if (t->iothreads)
                xw_leaf(x, "iothreads", "%u", t->iothreads);
        if (t->n_pins || (r->set & DOM_F_EMULATOR_PIN)) {
                xw_open(x, "cputune");
                for (size_t i = 0; i < t->n_pins; i++) {
                        xw_open(x, "vcpupin");
                        xw_attr(x, "vcpu", "%u", t->pins[i].vcpu);
                        xw_attr(x, "cpuset", "%s", cpuset_format(&t->pins[i].cpus, buf, sizeof(buf)));
                        xw_close(x);
                }
                if (r->set & DOM_F_EMULATOR_PIN) {
                        xw_open(x, "emulatorpin");
                        xw_attr(x, "cpuset", "%s", cpuset_format(&t->emulator_pin, buf, sizeof(buf)));
                        xw_close(x);
                }
                xw_close(x);
        }
        if (r->set & DOM_F_NUMA_TUNE) {
                xw_open(x, "numatune");
                xw_open(x, "memory");
                xw_attr(x, "mode", "%s", enum_to_string(&numa_mode_table, t->numa_tune.mode >= 0 ? t->numa_tune.mode : NUMA_STRICT));
                xw_attr(x, "nodeset", "%s", cpuset_format(&t->numa_tune.nodeset, buf, sizeof(buf)));
                xw_close(x);
                xw_close(x);
        }
        write_text_leaf(x, "on_poweroff", t->on_poweroff, &lifecycle_table);
        write_text_leaf(x, "on_reboot", t->on_reboot, &lifecycle_table);
        write_text_leaf(x, "on_crash", t->on_crash, &lifecycle_table);
}

bool tuning_has_cpu(const struct domain_spec *d) {
        return d->cpu || d->tuning.topology.sockets || d->tuning.n_cells;
}

char *tuning_cpu_xml(const struct domain_spec *d) {
        const struct domain_tuning *t = &d->tuning;
        char buf[256];
        struct xw *x = xw_new();
        xw_open(x, "cpu");
        if (d->cpu && (strcmp(d->cpu, "host-passthrough") == 0 || strcmp(d->cpu, "host-model") == 0))
                xw_attr(x, "mode", "%s", d->cpu);
        else if (d->cpu) {
                xw_attr(x, "mode", "custom");
                xw_attr(x, "match", "exact");
                xw_open(x, "model");
                xw_attr(x, "fallback", "allow");
                xw_text(x, "%s", d->cpu);
                xw_close(x);
        }
        if (t->topology.sockets) {
                xw_open(x, "topology");
                xw_attr(x, "sockets", "%u", t->topology.sockets);
                xw_attr(x, "cores", "%u", t->topology.cores);
                xw_attr(x, "threads", "%u", t->topology.threads);
                xw_close(x);
        }
        if (t->n_cells) {
                xw_open(x, "numa");
                for (size_t i = 0; i < t->n_cells; i++) {
                        xw_open(x, "cell");
                        xw_attr(x, "id", "%zu", i);
                        xw_attr(x, "cpus", "%s", cpuset_format(&t->cells[i].cpus, buf, sizeof(buf)));
                        xw_attr(x, "memory", "%llu", (unsigned long long) (t->cells[i].memory >> 10));
                        xw_attr(x, "unit", "KiB");
                        xw_close(x);
                }
                xw_close(x);
        }
        xw_close(x);
        return xw_finish(x);
}

void tuning_write_hugepages(struct xw *x, const struct resource *r) {
        xw_open(x, "hugepages");
        if (r->set & DOM_F_PAGE_SIZE) {
                xw_open(x, "page");
                xw_attr(x, "size", "%llu", (unsigned long long) (r->domain.tuning.page_size >> 10));
                xw_attr(x, "unit", "KiB");
                xw_close(x);
        }
        xw_close(x);
}

void tuning_write_disk_driver(struct xw *x, const struct disk_spec *k) {
        if (k->set & DISK_F_IO)
                xw_attr(x, "io", "%s", enum_to_string(&disk_io_table, k->tuning.io));
        if (k->set & DISK_F_DETECT_ZEROES)
                xw_attr(x, "detect_zeroes", "%s", enum_to_string(&detect_zeroes_table, k->tuning.detect_zeroes));
        if (k->set & DISK_F_IOTHREAD)
                xw_attr(x, "iothread", "%u", k->tuning.iothread);
}

static const char *const iotune_elements[] = { "total_bytes_sec", "read_bytes_sec", "write_bytes_sec",
                                               "total_iops_sec",  "read_iops_sec",  "write_iops_sec" };

static void iotune_values(const struct iotune_spec *io, unsigned long long v[6]) {
        v[0] = io->total_bytes, v[1] = io->read_bytes, v[2] = io->write_bytes;
        v[3] = io->total_iops, v[4] = io->read_iops, v[5] = io->write_iops;
}

void tuning_write_disk_children(struct xw *x, const struct disk_spec *k) {
        if (k->volume && !k->seed && k->tuning.readonly)
                xw_leaf(x, "readonly", "%s", "");
        if (k->set & DISK_F_SERIAL)
                xw_leaf(x, "serial", "%s", k->tuning.serial);
        if (k->set & DISK_F_IOTUNE) {
                unsigned long long v[6];
                iotune_values(&k->tuning.iotune, v);
                xw_open(x, "iotune");
                for (size_t i = 0; i < ELEMENTSOF(v); i++)
                        if (v[i])
                                xw_leaf(x, iotune_elements[i], "%llu", v[i]);
                xw_close(x);
        }
}

bool tuning_write_nic(struct xw *x, const struct nic_spec *n, const char *mac) {
        if (!(n->set & NIC_F_DIRECT))
                return false;
        char buf[18];
        xw_open(x, "interface");
        xw_attr(x, "type", "direct");
        const char *m = n->set & NIC_F_MAC ? mac_format(n->mac, buf) : mac;
        if (m) {
                xw_open(x, "mac");
                xw_attr(x, "address", "%s", m);
                xw_close(x);
        }
        xw_open(x, "source");
        xw_attr(x, "dev", "%s", n->direct);
        xw_attr(x, "mode", "%s", enum_to_string(&macvtap_mode_table, n->set & NIC_F_DIRECT_MODE ? n->direct_mode : MACVTAP_BRIDGE));
        xw_close(x);
        xw_open(x, "model");
        xw_attr(x, "type", "%s", enum_to_string(&nic_model_table, n->set & NIC_F_MODEL ? n->model : NIC_VIRTIO));
        xw_close(x);
        xw_close(x);
        return true;
}

static void write_hostdev(struct xw *x, const struct hostdev_spec *h) {
        xw_open(x, "hostdev");
        xw_attr(x, "mode", "subsystem");
        xw_attr(x, "type", "%s", h->set & HOSTDEV_F_PCI ? "pci" : "usb");
        /* libvirt's default: it detaches the device from its host driver and gives it back. */
        xw_attr(x, "managed", "%s", !(h->set & HOSTDEV_F_MANAGED) || h->managed ? "yes" : "no");
        xw_open(x, "source");
        if (h->set & HOSTDEV_F_PCI) {
                unsigned dom = 0, bus = 0, slot = 0, fn = 0;
                sscanf(h->pci, "%x:%x:%x.%x", &dom, &bus, &slot, &fn);
                xw_open(x, "address");
                xw_attr(x, "domain", "0x%04x", dom);
                xw_attr(x, "bus", "0x%02x", bus);
                xw_attr(x, "slot", "0x%02x", slot);
                xw_attr(x, "function", "0x%x", fn);
                xw_close(x);
        } else {
                xw_open(x, "vendor");
                xw_attr(x, "id", "%s", h->usb.vendor);
                xw_close(x);
                xw_open(x, "product");
                xw_attr(x, "id", "%s", h->usb.product);
                xw_close(x);
        }
        xw_close(x);
        xw_close(x);
}

static void write_memballoon(struct xw *x, int model) {
        xw_open(x, "memballoon");
        xw_attr(x, "model", "%s", enum_to_string(&balloon_model_table, model));
        xw_close(x);
}

static void write_rng(struct xw *x) {
        xw_open(x, "rng");
        xw_attr(x, "model", "virtio");
        xw_open(x, "backend");
        xw_attr(x, "model", "random");
        xw_text(x, "/dev/urandom");
        xw_close(x);
        xw_close(x);
}

static void write_watchdog(struct xw *x, const struct watchdog_spec *wd) {
        xw_open(x, "watchdog");
        xw_attr(x, "model", "%s", enum_to_string(&watchdog_model_table, wd->model));
        xw_attr(x, "action", "%s", enum_to_string(&watchdog_action_table, wd->action >= 0 ? wd->action : WDA_RESET));
        xw_close(x);
}

void tuning_write_devices(struct xw *x, const struct resource *r) {
        const struct domain_tuning *t = &r->domain.tuning;
        for (size_t i = 0; i < t->n_hostdevs; i++)
                write_hostdev(x, &t->hostdevs[i]);
        if (t->rng == RNG_VIRTIO)
                write_rng(x);
        if (t->watchdog.model >= 0)
                write_watchdog(x, &t->watchdog);
        if (t->memballoon >= 0)
                write_memballoon(x, t->memballoon);
}

/* ---- parse libvirt's XML ---- */

static void parse_set(struct xr *x, struct cpuset *out, const char *path, int i) {
        _cleanup_free_ char *s = i ? xr_str(x, path, i) : xr_str(x, "%s", path);
        char err[200];
        if (*s && cpuset_parse(s, out, err, sizeof(err)) < 0)
                memset(out, 0, sizeof(*out));
}

static int parse_word(struct xr *x, const char *path, const struct enum_table *t) {
        _cleanup_free_ char *s = xr_str(x, "%s", path);
        return *s ? enum_from_string(t, s) : -1;
}

/* A KiB count with libvirt's unit attribute (KiB unless it says otherwise), in bytes. */
static uint64_t kib_attr(struct xr *x, const char *value_path, const char *unit_path) {
        unsigned long long v = xr_ull(x, "%s", value_path);
        _cleanup_free_ char *unit = xr_str(x, "%s", unit_path);
        uint64_t mult = 1024;
        if (strcmp(unit, "M") == 0 || strcmp(unit, "MiB") == 0)
                mult = 1 << 20;
        else if (strcmp(unit, "G") == 0 || strcmp(unit, "GiB") == 0)
                mult = 1 << 30;
        else if (strcmp(unit, "b") == 0 || strcmp(unit, "bytes") == 0)
                mult = 1;
        return (uint64_t) v * mult;
}

static void parse_hostdevs(struct xr *x, struct resource *r) {
        struct domain_spec *d = &r->domain;
        struct domain_tuning *t = &d->tuning;
        int n = xr_count(x, "/domain/devices/hostdev");
        for (int i = 1; i <= n; i++) {
                _cleanup_free_ char *mode = xr_str(x, "/domain/devices/hostdev[%d]/@mode", i);
                _cleanup_free_ char *type = xr_str(x, "/domain/devices/hostdev[%d]/@type", i);
                _cleanup_free_ char *managed = xr_str(x, "/domain/devices/hostdev[%d]/@managed", i);
                bool pci = strcmp(type, "pci") == 0, usb = strcmp(type, "usb") == 0;
                if (strcmp(mode, "subsystem") != 0 || (!pci && !usb)) {
                        /* A device the schema has no key for (mdev, SCSI): named, left as it is. */
                        char *more = xasprintf("%s%shostdev %s", d->unmodeled ? d->unmodeled : "", d->unmodeled ? ", " : "",
                                               type);
                        free(d->unmodeled);
                        d->unmodeled = more;
                        continue;
                }
                struct hostdev_spec *h = array_push(&t->hostdevs, &t->n_hostdevs, sizeof(*h));
                h->managed = strcmp(managed, "yes") == 0;
                h->set = HOSTDEV_F_MANAGED | (pci ? HOSTDEV_F_PCI : HOSTDEV_F_USB);
                if (pci) {
                        const char *const parts[] = { "domain", "bus", "slot", "function" };
                        unsigned long v[4];
                        for (size_t k = 0; k < 4; k++) {
                                _cleanup_free_ char *s = xr_str(x, "/domain/devices/hostdev[%d]/source/address/@%s", i, parts[k]);
                                v[k] = strtoul(s, NULL, 16);
                        }
                        snprintf(h->pci, sizeof(h->pci), "%04lx:%02lx:%02lx.%lx", v[0] & 0xffff, v[1] & 0xff, v[2] & 0x1f,
                                 v[3] & 7);
                } else {
                        _cleanup_free_ char *ven = xr_str(x, "/domain/devices/hostdev[%d]/source/vendor/@id", i);
                        _cleanup_free_ char *prod = xr_str(x, "/domain/devices/hostdev[%d]/source/product/@id", i);
                        snprintf(h->usb.vendor, sizeof(h->usb.vendor), "0x%04lx", strtoul(ven, NULL, 16) & 0xffff);
                        snprintf(h->usb.product, sizeof(h->usb.product), "0x%04lx", strtoul(prod, NULL, 16) & 0xffff);
                }
        }
        r->set |= DOM_F_HOSTDEVS;
}

void tuning_parse_xml(struct xr *x, struct resource *r) {
        struct domain_tuning *t = &r->domain.tuning;
        tuning_defaults(r);
        t->iothreads = (uint32_t) xr_ull(x, "/domain/iothreads");
        r->set |= DOM_F_IOTHREADS;
        t->topology.sockets = (uint32_t) xr_ull(x, "/domain/cpu/topology/@sockets");
        t->topology.cores = (uint32_t) xr_ull(x, "/domain/cpu/topology/@cores");
        t->topology.threads = (uint32_t) xr_ull(x, "/domain/cpu/topology/@threads");
        /* libvirt's dies multiply the cores a socket has. */
        unsigned long long dies = xr_ull(x, "/domain/cpu/topology/@dies");
        if (dies > 1)
                t->topology.cores *= (uint32_t) dies;
        r->set |= DOM_F_CPU_TOPOLOGY;
        int n = xr_count(x, "/domain/cputune/vcpupin");
        for (int i = 1; i <= n; i++) {
                struct vcpu_pin *p = array_push(&t->pins, &t->n_pins, sizeof(*p));
                p->vcpu = (uint32_t) xr_ull(x, "/domain/cputune/vcpupin[%d]/@vcpu", i);
                parse_set(x, &p->cpus, "/domain/cputune/vcpupin[%d]/@cpuset", i);
        }
        if (t->n_pins)
                qsort(t->pins, t->n_pins, sizeof(*t->pins), pin_cmp);
        r->set |= DOM_F_VCPU_PINS;
        parse_set(x, &t->emulator_pin, "/domain/cputune/emulatorpin/@cpuset", 0);
        r->set |= DOM_F_EMULATOR_PIN;
        n = xr_count(x, "/domain/cpu/numa/cell");
        for (int i = 1; i <= n; i++) {
                struct numa_cell *c = array_push(&t->cells, &t->n_cells, sizeof(*c));
                parse_set(x, &c->cpus, "/domain/cpu/numa/cell[%d]/@cpus", i);
                char vp[64], up[64];
                snprintf(vp, sizeof(vp), "/domain/cpu/numa/cell[%d]/@memory", i);
                snprintf(up, sizeof(up), "/domain/cpu/numa/cell[%d]/@unit", i);
                c->memory = kib_attr(x, vp, up);
                c->set = NUMA_F_CPUS | NUMA_F_MEMORY;
        }
        r->set |= DOM_F_NUMA;
        if (xr_count(x, "/domain/numatune/memory")) {
                t->numa_tune.mode = parse_word(x, "/domain/numatune/memory/@mode", &numa_mode_table);
                if (t->numa_tune.mode < 0)
                        t->numa_tune.mode = NUMA_STRICT;
                parse_set(x, &t->numa_tune.nodeset, "/domain/numatune/memory/@nodeset", 0);
        }
        r->set |= DOM_F_NUMA_TUNE;
        t->on_poweroff = parse_word(x, "/domain/on_poweroff", &lifecycle_table);
        t->on_reboot = parse_word(x, "/domain/on_reboot", &lifecycle_table);
        t->on_crash = parse_word(x, "/domain/on_crash", &lifecycle_table);
        r->set |= DOM_F_ON_POWEROFF | DOM_F_ON_REBOOT | DOM_F_ON_CRASH;
        if (xr_count(x, "/domain/memoryBacking/hugepages/page")) {
                t->page_size = kib_attr(x, "/domain/memoryBacking/hugepages/page[1]/@size",
                                        "/domain/memoryBacking/hugepages/page[1]/@unit");
                r->set |= DOM_F_PAGE_SIZE;
        }
        t->memballoon = parse_word(x, "/domain/devices/memballoon[1]/@model", &balloon_model_table);
        t->rng = xr_count(x, "/domain/devices/rng[@model='virtio']") ? RNG_VIRTIO : -1;
        t->watchdog.model = parse_word(x, "/domain/devices/watchdog[1]/@model", &watchdog_model_table);
        t->watchdog.action = t->watchdog.model >= 0 ? parse_word(x, "/domain/devices/watchdog[1]/@action", &watchdog_action_table)
                                                    : -1;
        r->set |= DOM_F_MEMBALLOON | DOM_F_RNG | DOM_F_WATCHDOG;
        parse_hostdevs(x, r);
}

void tuning_parse_disk(struct xr *x, int i, struct disk_spec *k) {
        struct disk_tuning *t = &k->tuning;
        _cleanup_free_ char *io = xr_str(x, "/domain/devices/disk[%d]/driver/@io", i);
        _cleanup_free_ char *dz = xr_str(x, "/domain/devices/disk[%d]/driver/@detect_zeroes", i);
        _cleanup_free_ char *serial = xr_str(x, "/domain/devices/disk[%d]/serial", i);
        t->io = *io ? enum_from_string(&disk_io_table, io) : -1;
        k->set |= t->io >= 0 ? DISK_F_IO : 0;
        t->detect_zeroes = *dz ? enum_from_string(&detect_zeroes_table, dz) : -1;
        k->set |= t->detect_zeroes >= 0 ? DISK_F_DETECT_ZEROES : 0;
        t->iothread = (uint32_t) xr_ull(x, "/domain/devices/disk[%d]/driver/@iothread", i);
        k->set |= t->iothread ? DISK_F_IOTHREAD : 0;
        snprintf(t->serial, sizeof(t->serial), "%s", serial);
        k->set |= *serial ? DISK_F_SERIAL : 0;
        t->readonly = k->volume && !k->seed && xr_count(x, "/domain/devices/disk[%d]/readonly", i) > 0;
        k->set |= t->readonly ? DISK_F_READONLY : 0;
        unsigned long long v[6];
        for (size_t j = 0; j < ELEMENTSOF(iotune_elements); j++)
                v[j] = xr_ull(x, "/domain/devices/disk[%d]/iotune/%s", i, iotune_elements[j]);
        t->iotune = (struct iotune_spec) { v[0], v[1], v[2], (uint32_t) v[3], (uint32_t) v[4], (uint32_t) v[5] };
        k->set |= DISK_F_IOTUNE;
}

void tuning_parse_nic(struct xr *x, int i, struct nic_spec *n) {
        _cleanup_free_ char *type = xr_str(x, "/domain/devices/interface[%d]/@type", i);
        if (strcmp(type, "direct") != 0)
                return;
        _cleanup_free_ char *dev = xr_str(x, "/domain/devices/interface[%d]/source/@dev", i);
        _cleanup_free_ char *mode = xr_str(x, "/domain/devices/interface[%d]/source/@mode", i);
        free(n->network);
        n->network = NULL;
        n->set &= ~(uint64_t) NIC_F_NETWORK;
        snprintf(n->direct, sizeof(n->direct), "%s", dev);
        n->direct_mode = *mode ? enum_from_string(&macvtap_mode_table, mode) : MACVTAP_VEPA; /* libvirt's default */
        n->set |= NIC_F_DIRECT | (n->direct_mode >= 0 ? NIC_F_DIRECT_MODE : 0);
}

/* ---- diff ---- */

char *tuning_disk_attrs(const struct disk_spec *d, char *base) {
        const struct disk_tuning *t = &d->tuning;
        char iothread[16] = "";
        if (d->set & DISK_F_IOTHREAD)
                snprintf(iothread, sizeof(iothread), "%u", t->iothread);
        char *s = xasprintf("%s%s%s%s%s%s%s%s%s%s", base, d->set & DISK_F_IO ? " io=" : "",
                            d->set & DISK_F_IO ? enum_to_string(&disk_io_table, t->io) : "",
                            d->set & DISK_F_DETECT_ZEROES ? " detect-zeroes=" : "",
                            d->set & DISK_F_DETECT_ZEROES ? enum_to_string(&detect_zeroes_table, t->detect_zeroes) : "",
                            *iothread ? " iothread=" : "", iothread, d->set & DISK_F_SERIAL ? " serial=" : "",
                            d->set & DISK_F_SERIAL ? t->serial : "", d->volume && !d->seed && t->readonly ? " readonly" : "");
        free(base);
        return s;
}

char *tuning_nic_source(const struct nic_spec *n) {
        if (!(n->set & NIC_F_DIRECT))
                return NULL;
        return xasprintf("direct:%s:%s", n->direct,
                         enum_to_string(&macvtap_mode_table, n->set & NIC_F_DIRECT_MODE ? n->direct_mode : MACVTAP_BRIDGE));
}

/* The pins as text; a pin to every host CPU (all) is no pin: libvirt keeps
 * one in a running guest that was unpinned. */
static char *pins_text(const struct domain_tuning *t, const struct cpuset *all) {
        char *s = xstrdup("");
        char buf[256];
        for (size_t i = 0; i < t->n_pins; i++) {
                if (all && first_missing(all, &t->pins[i].cpus) < 0)
                        continue;
                char *more = xasprintf("%s%s%u:%s", s, *s ? " " : "", t->pins[i].vcpu, cpuset_format(&t->pins[i].cpus, buf, sizeof(buf)));
                free(s);
                s = more;
        }
        if (!*s) {
                free(s);
                s = xstrdup("(none)");
        }
        return s;
}

static char *cells_text(const struct domain_tuning *t) {
        char *s = xstrdup(t->n_cells ? "" : "(none)");
        char buf[256], size[32];
        for (size_t i = 0; i < t->n_cells; i++) {
                char *more = xasprintf("%s%scpus %s memory %s", s, i ? ", " : "", cpuset_format(&t->cells[i].cpus, buf, sizeof(buf)),
                                       size_text(t->cells[i].memory, size, sizeof(size)));
                free(s);
                s = more;
        }
        return s;
}

static char *hostdevs_text(const struct domain_tuning *t) {
        char *s = xstrdup(t->n_hostdevs ? "" : "(none)");
        for (size_t i = 0; i < t->n_hostdevs; i++) {
                const struct hostdev_spec *h = &t->hostdevs[i];
                bool managed = !(h->set & HOSTDEV_F_MANAGED) || h->managed;
                char *more = h->set & HOSTDEV_F_PCI
                                     ? xasprintf("%s%spci %s%s", s, i ? ", " : "", h->pci, managed ? "" : " unmanaged")
                                     : xasprintf("%s%susb %s:%s%s", s, i ? ", " : "", h->usb.vendor, h->usb.product,
                                                 managed ? "" : " unmanaged");
                free(s);
                s = more;
        }
        return s;
}

static const char *word_or(const struct enum_table *t, int v, const char *none) {
        return v >= 0 ? enum_to_string(t, v) : none;
}

/* One tuning field of a domain as comparable text (what the plan shows), NULL for none. */
static char *field_text(const struct resource *r, uint64_t bit, const struct cpuset *all) {
        const struct domain_tuning *t = &r->domain.tuning;
        char buf[256], size[32];
        switch (bit) {
        case DOM_F_CPU_TOPOLOGY:
                return t->topology.sockets ? xasprintf("sockets %u cores %u threads %u", t->topology.sockets, t->topology.cores,
                                                       t->topology.threads)
                                           : xstrdup("(none)");
        case DOM_F_VCPU_PINS:
                return pins_text(t, all);
        case DOM_F_EMULATOR_PIN:
                return xstrdup(cpuset_empty(&t->emulator_pin) ? "(none)" : cpuset_format(&t->emulator_pin, buf, sizeof(buf)));
        case DOM_F_IOTHREADS:
                return xasprintf("%u", t->iothreads);
        case DOM_F_NUMA:
                return cells_text(t);
        case DOM_F_NUMA_TUNE:
                return cpuset_empty(&t->numa_tune.nodeset)
                               ? xstrdup("(none)")
                               : xasprintf("%s %s", word_or(&numa_mode_table, t->numa_tune.mode, "strict"),
                                           cpuset_format(&t->numa_tune.nodeset, buf, sizeof(buf)));
        case DOM_F_HOSTDEVS:
                return hostdevs_text(t);
        case DOM_F_MEMBALLOON:
                return xstrdup(word_or(&balloon_model_table, t->memballoon, "(none)"));
        case DOM_F_RNG:
                return xstrdup(t->rng == RNG_VIRTIO ? "virtio" : "none");
        case DOM_F_WATCHDOG:
                return t->watchdog.model < 0 ? xstrdup("(none)")
                                             : xasprintf("%s %s", enum_to_string(&watchdog_model_table, t->watchdog.model),
                                                         word_or(&watchdog_action_table, t->watchdog.action, "reset"));
        case DOM_F_ON_POWEROFF:
                return xstrdup(word_or(&lifecycle_table, t->on_poweroff, "destroy"));
        case DOM_F_ON_REBOOT:
                return xstrdup(word_or(&lifecycle_table, t->on_reboot, "restart"));
        case DOM_F_ON_CRASH:
                return xstrdup(word_or(&lifecycle_table, t->on_crash, "destroy"));
        case DOM_F_PAGE_SIZE:
                return xstrdup(r->set & DOM_F_PAGE_SIZE ? size_text(t->page_size, size, sizeof(size)) : "(default)");
        default:
                return NULL;
        }
}

static const struct {
        uint64_t bit;
        const char *key;
        bool live; /* a running guest takes it without a restart */
} tuned[] = {
        { DOM_F_CPU_TOPOLOGY, "cpu-topology", false }, { DOM_F_VCPU_PINS, "vcpu-pins", true },
        { DOM_F_EMULATOR_PIN, "emulator-pin", true },  { DOM_F_IOTHREADS, "iothreads", false },
        { DOM_F_NUMA, "numa", false },                 { DOM_F_NUMA_TUNE, "numa-tune", false },
        { DOM_F_HOSTDEVS, "hostdevs", false },         { DOM_F_MEMBALLOON, "memballoon", false },
        { DOM_F_RNG, "rng", false },                   { DOM_F_WATCHDOG, "watchdog", false },
        { DOM_F_ON_POWEROFF, "on-poweroff", false },   { DOM_F_ON_REBOOT, "on-reboot", false },
        { DOM_F_ON_CRASH, "on-crash", false },         { DOM_F_PAGE_SIZE, "page-size", false },
};

static const struct disk_spec *disk_by_key(const struct domain_spec *d, const struct disk_spec *want) {
        const char *key = want->volume ? want->volume : want->cdrom;
        for (size_t i = 0; key && i < d->n_disks; i++) {
                const char *k = d->disks[i].volume ? d->disks[i].volume : d->disks[i].cdrom;
                if (k && strcmp(k, key) == 0)
                        return &d->disks[i];
        }
        return NULL;
}

/* "total-bytes-sec 10M, total-iops-sec 500", as the manifest writes them. */
static bool iotune_empty(const struct iotune_spec *io) {
        unsigned long long v[6];
        iotune_values(io, v);
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (v[i])
                        return false;
        return true;
}

static char *iotune_text(const struct iotune_spec *io) {
        unsigned long long v[6];
        iotune_values(io, v);
        char *s = xstrdup("");
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (!v[i])
                        continue;
                char key[32], size[32];
                snprintf(key, sizeof(key), "%s", iotune_elements[i]);
                for (char *p = key; *p; p++)
                        *p = *p == '_' ? '-' : *p;
                if (i < 3)
                        size_text(v[i], size, sizeof(size));
                else
                        snprintf(size, sizeof(size), "%llu", v[i]);
                char *more = xasprintf("%s%s%s %s", s, *s ? ", " : "", key, size);
                free(s);
                s = more;
        }
        if (!*s) {
                free(s);
                s = xstrdup("(none)");
        }
        return s;
}

void tuning_diff(const struct resource *w, const struct resource *l, struct action *a, struct plan *p) {
        const struct resource *act = l->state == STATE_RUNNING && w->state != STATE_SHUTOFF ? l->domain.active : NULL;
        char why[512] = "";
        size_t len = 0;
        static const char *const cpu_files[] = { "devices/system/cpu/online", "devices/system/cpu/present" };
        struct cpuset host;
        const struct cpuset *all = host_set(cpu_files, ELEMENTSOF(cpu_files), &host) == 0 ? &host : NULL;
        for (size_t i = 0; i < ELEMENTSOF(tuned); i++) {
                if (!(w->set & tuned[i].bit))
                        continue;
                _cleanup_free_ char *x = field_text(w, tuned[i].bit, all), *y = field_text(l, tuned[i].bit, all);
                _cleanup_free_ char *z = act ? field_text(act, tuned[i].bit, all) : NULL;
                bool config = strcmp(x, y) != 0, running = z && strcmp(x, z) != 0;
                /* A live field differing only in the running guest is still a change: apply pins it. */
                if (config || (running && tuned[i].live))
                        action_add_change(a, tuned[i].bit, tuned[i].key, value_text(running && !config ? z : y), value_text(x));
                if (running && !tuned[i].live)
                        len += (size_t) snprintf(why + len, len < sizeof(why) ? sizeof(why) - len : 0, "%s%s %s -> %s",
                                                 len ? ", " : "", tuned[i].key, z, x);
        }
        for (size_t i = 0; i < w->domain.n_disks; i++) {
                const struct disk_spec *wd = &w->domain.disks[i];
                const struct disk_spec *ld = disk_by_key(&l->domain, wd);
                const struct disk_spec *rd = act ? disk_by_key(&act->domain, wd) : NULL;
                if (!(wd->set & DISK_F_IOTUNE) || !ld)
                        continue;
                _cleanup_free_ char *x = iotune_text(&wd->tuning.iotune), *y = iotune_text(&ld->tuning.iotune);
                _cleanup_free_ char *z = rd ? iotune_text(&rd->tuning.iotune) : NULL;
                if (strcmp(x, y) != 0 || (z && strcmp(x, z) != 0)) {
                        _cleanup_free_ char *name = xasprintf("disk %s iotune", wd->volume ? wd->volume : wd->cdrom);
                        action_add_change(a, DOM_C_IOTUNE, name, value_text(strcmp(x, y) != 0 ? y : z), value_text(x));
                }
        }
        if (len) {
                char reason[600];
                snprintf(reason, sizeof(reason), "restart needed: %s", why);
                plan_add_pending(p, KIND_DOMAIN, w->name, reason, NULL);
        }
}

/* ---- apply ---- */

static bool has_change(const struct action *a, uint64_t bits) {
        for (size_t i = 0; i < a->n_changes; i++)
                if (a->changes[i].field & bits)
                        return true;
        return false;
}

/* Replace every element at path (under parent) with fresh (NULL: remove them).
 * The definition is read with its secrets (a graphics password, which a
 * redefinition without it would drop): each string of it made here is wiped
 * before it is freed (lv_forget_secret); libxml2's own copies, made when
 * xr_parse reads it, are freed unwiped. */
static char *replace_all(char *xml, const char *path, const char *parent, const char *fresh) {
        struct xr *x = xml ? xr_parse(xml) : NULL;
        lv_forget_secret(xml);
        xml = NULL;
        while (x && xr_count(x, "%s", path) > 1) {
                lv_forget_secret(xml);
                xml = xr_replace(x, path, parent, NULL);
                xr_free(x);
                x = xml ? xr_parse(xml) : NULL;
        }
        if (!x)
                return NULL;
        lv_forget_secret(xml);
        xml = xr_replace(x, path, parent, fresh);
        xr_free(x);
        return xml;
}

/* The tuning elements of w, each replacing its kind in the definition xml (taken). */
static char *edit_definition(char *xml, const struct action *a, const struct resource *w, const char *live_cpu) {
        const struct domain_tuning *t = &w->domain.tuning;
        char buf[256];
        if (has_change(a, DOM_F_IOTHREADS)) {
                _cleanup_free_ char *el = t->iothreads ? xasprintf("<iothreads>%u</iothreads>", t->iothreads) : NULL;
                xml = replace_all(xml, "/domain/iothreads", "/domain", el);
        }
        if (has_change(a, DOM_F_VCPU_PINS | DOM_F_EMULATOR_PIN)) {
                /* Both pins live in one <cputune>, which may hold more (shares, quotas): only they are replaced. */
                if (has_change(a, DOM_F_VCPU_PINS))
                        xml = replace_all(xml, "/domain/cputune/vcpupin", "/domain/cputune", NULL);
                if (has_change(a, DOM_F_EMULATOR_PIN))
                        xml = replace_all(xml, "/domain/cputune/emulatorpin", "/domain/cputune", NULL);
                struct xr *x = xml ? xr_parse(xml) : NULL;
                bool have_cputune = x && xr_count(x, "/domain/cputune") > 0;
                xr_free(x);
                if (!have_cputune)
                        xml = replace_all(xml, "/domain/cputune", "/domain", "<cputune/>");
                for (size_t i = 0; has_change(a, DOM_F_VCPU_PINS) && i < t->n_pins; i++) {
                        _cleanup_free_ char *el = xasprintf("<vcpupin vcpu='%u' cpuset='%s'/>", t->pins[i].vcpu,
                                                            cpuset_format(&t->pins[i].cpus, buf, sizeof(buf)));
                        /* A path that never matches: each one is appended. */
                        xml = replace_all(xml, "/domain/cputune/vcpupin[@vcpu='none']", "/domain/cputune", el);
                }
                if (has_change(a, DOM_F_EMULATOR_PIN) && (w->set & DOM_F_EMULATOR_PIN)) {
                        _cleanup_free_ char *el =
                                xasprintf("<emulatorpin cpuset='%s'/>", cpuset_format(&t->emulator_pin, buf, sizeof(buf)));
                        xml = replace_all(xml, "/domain/cputune/emulatorpin", "/domain/cputune", el);
                }
        }
        if (has_change(a, DOM_F_NUMA_TUNE)) {
                _cleanup_free_ char *el =
                        xasprintf("<numatune><memory mode='%s' nodeset='%s'/></numatune>",
                                  enum_to_string(&numa_mode_table, t->numa_tune.mode >= 0 ? t->numa_tune.mode : NUMA_STRICT),
                                  cpuset_format(&t->numa_tune.nodeset, buf, sizeof(buf)));
                xml = replace_all(xml, "/domain/numatune", "/domain", el);
        }
        static const struct {
                uint64_t bit;
                const char *el;
        } lifecycle[] = { { DOM_F_ON_POWEROFF, "on_poweroff" }, { DOM_F_ON_REBOOT, "on_reboot" }, { DOM_F_ON_CRASH, "on_crash" } };
        const int values[] = { t->on_poweroff, t->on_reboot, t->on_crash };
        for (size_t i = 0; i < ELEMENTSOF(lifecycle); i++) {
                if (!has_change(a, lifecycle[i].bit) || values[i] < 0)
                        continue;
                _cleanup_free_ char *el = xasprintf("<%s>%s</%s>", lifecycle[i].el, enum_to_string(&lifecycle_table, values[i]),
                                                    lifecycle[i].el);
                _cleanup_free_ char *path = xasprintf("/domain/%s", lifecycle[i].el);
                xml = replace_all(xml, path, "/domain", el);
        }
        /* The CPU element carries the model, the topology and the cells: rendered whole. */
        if (has_change(a, DOM_F_CPU | DOM_F_CPU_TOPOLOGY | DOM_F_NUMA) && (tuning_has_cpu(&w->domain) || live_cpu)) {
                struct domain_spec d = w->domain;
                d.cpu = w->set & DOM_F_CPU ? w->domain.cpu : (char *) live_cpu;
                _cleanup_free_ char *el = tuning_cpu_xml(&d);
                xml = replace_all(xml, "/domain/cpu", "/domain", el);
        }
        if (has_change(a, DOM_F_MEMBACK | DOM_F_PAGE_SIZE) && w->domain.memory_backing == MEMBACK_HUGEPAGES) {
                struct xw *x = xw_new();
                xw_open(x, "memoryBacking");
                tuning_write_hugepages(x, w);
                xw_close(x);
                _cleanup_free_ char *el = xw_finish(x);
                xml = replace_all(xml, "/domain/memoryBacking", "/domain", el);
        }
        static const struct {
                uint64_t bit;
                const char *path;
        } devices[] = { { DOM_F_HOSTDEVS, "/domain/devices/hostdev[@mode='subsystem' and (@type='pci' or @type='usb')]" },
                        { DOM_F_MEMBALLOON, "/domain/devices/memballoon" },
                        { DOM_F_RNG, "/domain/devices/rng[@model='virtio']" },
                        { DOM_F_WATCHDOG, "/domain/devices/watchdog" } };
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                if (!has_change(a, devices[i].bit))
                        continue;
                xml = replace_all(xml, devices[i].path, "/domain/devices", NULL);
                struct resource only = *w;
                only.domain.tuning.n_hostdevs = devices[i].bit == DOM_F_HOSTDEVS ? t->n_hostdevs : 0;
                only.domain.tuning.memballoon = devices[i].bit == DOM_F_MEMBALLOON ? t->memballoon : -1;
                only.domain.tuning.rng = devices[i].bit == DOM_F_RNG ? t->rng : -1;
                only.domain.tuning.watchdog.model = devices[i].bit == DOM_F_WATCHDOG ? t->watchdog.model : -1;
                for (size_t k = 0; k < (devices[i].bit == DOM_F_HOSTDEVS ? t->n_hostdevs : 1); k++) {
                        struct xw *x = xw_new();
                        if (devices[i].bit == DOM_F_HOSTDEVS)
                                write_hostdev(x, &t->hostdevs[k]);
                        else
                                tuning_write_devices(x, &only);
                        _cleanup_free_ char *el = xw_finish(x);
                        if (el && *el)
                                xml = replace_all(xml, "/domain/devices/*[@reconcile-never]", "/domain/devices", el);
                }
        }
        for (size_t i = 0; has_change(a, DOM_C_IOTUNE) && i < w->domain.n_disks; i++) {
                const struct disk_spec *wd = &w->domain.disks[i];
                const struct disk_spec *ld = a->live ? disk_by_key(&a->live->domain, wd) : NULL;
                if (!(wd->set & DISK_F_IOTUNE) || !ld || !ld->target[0])
                        continue;
                _cleanup_free_ char *disk = xasprintf("/domain/devices/disk[target/@dev='%s']", ld->target);
                _cleanup_free_ char *path = xasprintf("%s/iotune", disk);
                struct disk_spec only = { .set = DISK_F_IOTUNE, .tuning.iotune = wd->tuning.iotune };
                struct xw *x = xw_new();
                tuning_write_disk_children(x, &only);
                _cleanup_free_ char *el = xw_finish(x);
                xml = replace_all(xml, path, disk, iotune_empty(&wd->tuning.iotune) ? NULL : el);
        }
        return xml;
}

static unsigned char *cpumap_of(const struct cpuset *c, int *len) {
        int max = 0;
        for (int i = 0; i < CPUSET_MAX; i++)
                if (cpuset_has(c, (unsigned) i))
                        max = i;
        *len = max / 8 + 1;
        unsigned char *map = xcalloc((size_t) *len, 1);
        for (int i = 0; i <= max; i++)
                if (cpuset_has(c, (unsigned) i))
                        map[i / 8] |= (unsigned char) (1u << (i % 8));
        return map;
}

/* The disks' I/O limits in the running guest (the definition has them already). */
static int set_iotune_live(virDomainPtr dom, const struct resource *w, const struct action *a) {
        for (size_t i = 0; i < w->domain.n_disks; i++) {
                const struct disk_spec *wd = &w->domain.disks[i];
                const struct disk_spec *ld = a->live ? disk_by_key(&a->live->domain, wd) : NULL;
                if (!(wd->set & DISK_F_IOTUNE) || !ld || !ld->target[0])
                        continue;
                unsigned long long v[6];
                iotune_values(&wd->tuning.iotune, v);
                virTypedParameterPtr params = NULL;
                int n = 0, max = 0;
                for (size_t k = 0; k < ELEMENTSOF(v); k++)
                        if (virTypedParamsAddULLong(&params, &n, &max, iotune_elements[k], v[k]) < 0) {
                                virTypedParamsFree(params, n);
                                return diag_res(-ENOMEM, "domain", w->name, "disk %s iotune: %s", ld->target,
                                                virGetLastErrorMessage());
                        }
                int r = virDomainSetBlockIoTune(dom, ld->target, params, n, VIR_DOMAIN_AFFECT_LIVE);
                virTypedParamsFree(params, n);
                if (r < 0)
                        return diag_res(-EIO, "domain", w->name,
                                        "disk %s iotune is in the definition, but the running guest refused it: %s",
                                        ld->target, virGetLastErrorMessage());
        }
        return 0;
}

static bool pinned(const struct domain_tuning *t, uint32_t vcpu) {
        for (size_t i = 0; i < t->n_pins; i++)
                if (t->pins[i].vcpu == vcpu)
                        return true;
        return false;
}

static int pin_live(virDomainPtr dom, const struct resource *w, const struct resource *live) {
        const struct domain_tuning *t = &w->domain.tuning;
        const struct resource *act = live ? live->domain.active : NULL;
        /* A pin the manifest dropped: the vCPU may run on every host CPU again. */
        static const char *const cpu_files[] = { "devices/system/cpu/online", "devices/system/cpu/present" };
        struct cpuset all;
        for (size_t i = 0; act && i < act->domain.tuning.n_pins; i++) {
                uint32_t vcpu = act->domain.tuning.pins[i].vcpu;
                if (pinned(t, vcpu) || host_set(cpu_files, ELEMENTSOF(cpu_files), &all) < 0)
                        continue;
                int len;
                _cleanup_free_ unsigned char *map = cpumap_of(&all, &len);
                if (virDomainPinVcpuFlags(dom, vcpu, map, len, VIR_DOMAIN_AFFECT_LIVE) < 0)
                        return diag_res(-EIO, "domain", w->name, "unpinning vCPU %u in the running guest: %s", vcpu,
                                        virGetLastErrorMessage());
        }
        for (size_t i = 0; i < t->n_pins; i++) {
                int len;
                _cleanup_free_ unsigned char *map = cpumap_of(&t->pins[i].cpus, &len);
                if (virDomainPinVcpuFlags(dom, t->pins[i].vcpu, map, len, VIR_DOMAIN_AFFECT_LIVE) < 0)
                        return diag_res(-EIO, "domain", w->name, "pinning vCPU %u in the running guest: %s", t->pins[i].vcpu,
                                        virGetLastErrorMessage());
        }
        if (w->set & DOM_F_EMULATOR_PIN) {
                int len;
                _cleanup_free_ unsigned char *map = cpumap_of(&t->emulator_pin, &len);
                if (virDomainPinEmulator(dom, map, len, VIR_DOMAIN_AFFECT_LIVE) < 0)
                        return diag_res(-EIO, "domain", w->name, "pinning the emulator in the running guest: %s",
                                        virGetLastErrorMessage());
        }
        return 0;
}

static const uint64_t config_bits = DOM_F_CPU_TOPOLOGY | DOM_F_VCPU_PINS | DOM_F_EMULATOR_PIN | DOM_F_IOTHREADS | DOM_F_NUMA |
                                    DOM_F_NUMA_TUNE | DOM_F_HOSTDEVS | DOM_F_MEMBALLOON | DOM_F_RNG | DOM_F_WATCHDOG |
                                    DOM_F_ON_POWEROFF | DOM_F_ON_REBOOT | DOM_F_ON_CRASH | DOM_F_PAGE_SIZE | DOM_C_IOTUNE;

int tuning_apply(virDomainPtr dom, const struct action *a, bool running) {
        const struct resource *w = a->want;
        int r = 0;
        /* The edits of the CPU model and memory backing the domain's own update
         * made render those elements without the tuning: they are redone here. */
        bool cpu_again = has_change(a, DOM_F_CPU) && tuning_has_cpu(&w->domain);
        bool pages_again = has_change(a, DOM_F_MEMBACK) && (w->set & DOM_F_PAGE_SIZE);
        if (has_change(a, config_bits) || cpu_again || pages_again) {
                char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
                const char *live_cpu = a->live ? a->live->domain.cpu : NULL;
                char *edited = edit_definition(xml, a, w, live_cpu);
                virDomainPtr d = edited ? virDomainDefineXML(virDomainGetConnect(dom), edited) : NULL;
                const char *why = !edited ? "cannot edit its definition" : !d ? virGetLastErrorMessage() : NULL;
                lv_forget_secret(edited);
                if (!d)
                        return diag_res(-EIO, "domain", w->name, "redefining it with its tuning: %s", why);
                virDomainFree(d);
        }
        if (running && has_change(a, DOM_F_VCPU_PINS | DOM_F_EMULATOR_PIN))
                r = pin_live(dom, w, a->live);
        if (r >= 0 && running && has_change(a, DOM_C_IOTUNE))
                r = set_iotune_live(dom, w, a);
        return r;
}

/* ---- show ---- */

void tuning_show(struct yw *w, const struct resource *r) {
        const struct domain_tuning *t = &r->domain.tuning;
        char buf[256], size[32];
        if (t->topology.sockets) {
                yw_word(w, "cpu-topology");
                yw_map(w, true);
                yw_kv_uint(w, "sockets", t->topology.sockets);
                yw_kv_uint(w, "cores", t->topology.cores);
                yw_kv_uint(w, "threads", t->topology.threads);
                yw_end_map(w);
        }
        if (t->n_pins) {
                yw_word(w, "vcpu-pins");
                yw_map(w, true);
                for (size_t i = 0; i < t->n_pins; i++) {
                        char key[16];
                        snprintf(key, sizeof(key), "%u", t->pins[i].vcpu);
                        yw_kv_str(w, key, cpuset_format(&t->pins[i].cpus, buf, sizeof(buf)));
                }
                yw_end_map(w);
        }
        if (!cpuset_empty(&t->emulator_pin))
                yw_kv_str(w, "emulator-pin", cpuset_format(&t->emulator_pin, buf, sizeof(buf)));
        if (t->iothreads)
                yw_kv_uint(w, "iothreads", t->iothreads);
        if (t->n_cells) {
                yw_word(w, "numa");
                yw_seq(w, false);
                for (size_t i = 0; i < t->n_cells; i++) {
                        yw_map(w, true);
                        yw_kv_str(w, "cpus", cpuset_format(&t->cells[i].cpus, buf, sizeof(buf)));
                        yw_kv_word(w, "memory", size_text(t->cells[i].memory, size, sizeof(size)));
                        yw_end_map(w);
                }
                yw_end_seq(w);
        }
        if (!cpuset_empty(&t->numa_tune.nodeset)) {
                yw_word(w, "numa-tune");
                yw_map(w, true);
                yw_kv_word(w, "mode", word_or(&numa_mode_table, t->numa_tune.mode, "strict"));
                yw_kv_str(w, "nodeset", cpuset_format(&t->numa_tune.nodeset, buf, sizeof(buf)));
                yw_end_map(w);
        }
        if (r->set & DOM_F_PAGE_SIZE)
                yw_kv_word(w, "page-size", size_text(t->page_size, size, sizeof(size)));
        if (t->n_hostdevs) {
                yw_word(w, "hostdevs");
                yw_seq(w, false);
                for (size_t i = 0; i < t->n_hostdevs; i++) {
                        const struct hostdev_spec *h = &t->hostdevs[i];
                        yw_map(w, true);
                        if (h->set & HOSTDEV_F_PCI)
                                yw_kv_str(w, "pci", h->pci);
                        else {
                                yw_word(w, "usb");
                                yw_map(w, true);
                                yw_kv_str(w, "vendor", h->usb.vendor);
                                yw_kv_str(w, "product", h->usb.product);
                                yw_end_map(w);
                        }
                        yw_kv_bool(w, "managed", h->managed);
                        yw_end_map(w);
                }
                yw_end_seq(w);
        }
        if (t->memballoon >= 0)
                yw_kv_word(w, "memballoon", enum_to_string(&balloon_model_table, t->memballoon));
        if (t->rng == RNG_VIRTIO)
                yw_kv_word(w, "rng", "virtio");
        if (t->watchdog.model >= 0) {
                yw_word(w, "watchdog");
                yw_map(w, true);
                yw_kv_word(w, "model", enum_to_string(&watchdog_model_table, t->watchdog.model));
                yw_kv_word(w, "action", word_or(&watchdog_action_table, t->watchdog.action, "reset"));
                yw_end_map(w);
        }
        /* Only what differs from libvirt's defaults, which every definition carries. */
        if (t->on_poweroff >= 0 && t->on_poweroff != LC_DESTROY)
                yw_kv_word(w, "on-poweroff", enum_to_string(&lifecycle_table, t->on_poweroff));
        if (t->on_reboot >= 0 && t->on_reboot != LC_RESTART)
                yw_kv_word(w, "on-reboot", enum_to_string(&lifecycle_table, t->on_reboot));
        if (t->on_crash >= 0 && t->on_crash != LC_DESTROY)
                yw_kv_word(w, "on-crash", enum_to_string(&lifecycle_table, t->on_crash));
}

void tuning_show_disk(struct yw *w, const struct disk_spec *k) {
        const struct disk_tuning *t = &k->tuning;
        if (k->set & DISK_F_IO)
                yw_kv_word(w, "io", enum_to_string(&disk_io_table, t->io));
        if (k->set & DISK_F_DETECT_ZEROES)
                yw_kv_word(w, "detect-zeroes", enum_to_string(&detect_zeroes_table, t->detect_zeroes));
        if (k->set & DISK_F_IOTHREAD)
                yw_kv_uint(w, "iothread", t->iothread);
        if (k->set & DISK_F_SERIAL)
                yw_kv_str(w, "serial", t->serial);
        if (k->volume && !k->seed && t->readonly)
                yw_kv_bool(w, "readonly", true);
        unsigned long long v[6];
        iotune_values(&t->iotune, v);
        bool any = false;
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                any = any || v[i];
        if (!any)
                return;
        yw_word(w, "iotune");
        yw_map(w, true);
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (!v[i])
                        continue;
                char key[32];
                snprintf(key, sizeof(key), "%s", iotune_elements[i]);
                for (char *p = key; *p; p++)
                        *p = *p == '_' ? '-' : *p;
                char size[32];
                if (i < 3)
                        yw_kv_word(w, key, size_text(v[i], size, sizeof(size)));
                else
                        yw_kv_uint(w, key, v[i]);
        }
        yw_end_map(w);
}

void tuning_show_nic(struct yw *w, const struct nic_spec *n) {
        yw_kv_name(w, "direct", n->direct);
        yw_kv_word(w, "mode", enum_to_string(&macvtap_mode_table, n->set & NIC_F_DIRECT_MODE ? n->direct_mode : MACVTAP_BRIDGE));
}
