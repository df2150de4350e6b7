/* The tuning part of a domain (backends/domain-tuning.c): CPU and memory
 * placement, disk I/O, direct and passthrough devices, balloon, RNG, watchdog,
 * lifecycle actions and start order. domain.c, libvirt-xml.c and libvirt.c
 * reach it through these calls only. */
#pragma once

#include "backends.h"

/* The field tables domain.c's rows point at. */
extern const struct sub_table tuning_topology_sub, tuning_numa_sub, tuning_numa_tune_sub, tuning_hostdev_sub,
        tuning_watchdog_sub, tuning_iotune_sub;
int tuning_parse_cpuset(const char *s, void *base, const struct field *f, char *err, size_t err_size);

/* "2-3,6" into a set; -EINVAL with the message in err. */
int cpuset_parse(const char *s, struct cpuset *out, char *err, size_t err_size);
/* The set as libvirt writes it ("2-3,6"); "" when empty. */
const char *cpuset_format(const struct cpuset *c, char *buf, size_t size);
bool cpuset_empty(const struct cpuset *c);

/* Parsing: defaults, the checks a field table cannot express, the checks
 * across resources (depends-on, the declared huge pages), free. */
void tuning_defaults(struct resource *r);
int tuning_check(struct check_ctx *c, struct resource *r);
int tuning_validate(struct resource *r, struct model *declared);
void tuning_free(struct resource *r);

/* Plan time, against this host (sysfs, or $RECONCILE_SYSFS): pinned CPUs and
 * NUMA nodes exist, passthrough devices exist, a hugepage-backed guest that is
 * to start finds its pages. conn (may be NULL) tells a running guest, whose
 * pages are taken already. */
typedef struct _virConnect *virConnectPtr;
int tuning_admit(const struct resource *w, virConnectPtr conn);
/* depends-on: the domains to start first; a direct NIC's host device. */
void tuning_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u);

/* Render: what goes at the top of <domain>, the whole <cpu> element (NULL
 * when the domain needs none), <hugepages>, a disk's driver attributes and
 * children, a direct NIC (false: not one), the devices. */
void tuning_write_top(struct xw *x, const struct resource *r);
bool tuning_has_cpu(const struct domain_spec *d);
char *tuning_cpu_xml(const struct domain_spec *d);
void tuning_write_hugepages(struct xw *x, const struct resource *r);
void tuning_write_disk_driver(struct xw *x, const struct disk_spec *k);
void tuning_write_disk_children(struct xw *x, const struct disk_spec *k);
bool tuning_write_nic(struct xw *x, const struct nic_spec *n, const char *mac);
void tuning_write_devices(struct xw *x, const struct resource *r);

/* Parse libvirt's XML back: the domain's own elements, disk i, NIC i (1-based). */
void tuning_parse_xml(struct xr *x, struct resource *r);
void tuning_parse_disk(struct xr *x, int i, struct disk_spec *k);
void tuning_parse_nic(struct xr *x, int i, struct nic_spec *n);

/* Diff: a disk's attributes that need its redefinition (appended to base,
 * which is taken), a direct NIC's source ("direct:eth1:bridge", NULL: not
 * one), and the domain's own changes and pending restart. */
char *tuning_disk_attrs(const struct disk_spec *d, char *base);
char *tuning_nic_source(const struct nic_spec *n);
void tuning_diff(const struct resource *w, const struct resource *l, struct action *a, struct plan *p);

/* Apply the tuning changes of a: one redefinition, then what goes live. */
typedef struct _virDomain *virDomainPtr;
int tuning_apply(virDomainPtr dom, const struct action *a, bool running);

/* Show: the domain's keys, a disk's, a direct NIC's. */
void tuning_show(struct yw *w, const struct resource *r);
void tuning_show_disk(struct yw *w, const struct disk_spec *k);
void tuning_show_nic(struct yw *w, const struct nic_spec *n);
