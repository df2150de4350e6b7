/* Helpers shared by the backends. The backends themselves are reached only
 * through their struct backend (reconcile/reconcile.h). */
#pragma once

#include "../reconcile/reconcile.h"

/* Switch this thread into the network namespace NAME (/run/netns/NAME) or
 * PATH for the time it takes to open sockets there; *saved restores it. */
int netns_enter(const char *netns, int *saved);
int netns_leave(int *saved);

/* XML writer (escapes every value) and XPath reader, for libvirt. */
struct xw;
struct xw *xw_new(void);
void xw_open(struct xw *x, const char *element);
void xw_attr(struct xw *x, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void xw_text(struct xw *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xw_leaf(struct xw *x, const char *element, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void xw_close(struct xw *x);
char *xw_finish(struct xw *x); /* the document, or NULL after any error; frees x */
void xw_fail(struct xw *x);
struct _xmlTextWriter;
struct _xmlTextWriter *xw_writer(struct xw *x);

struct xr;
struct xr *xr_parse(const char *xml);
void xr_free(struct xr *x);
char *xr_str(struct xr *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
unsigned long long xr_ull(struct xr *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xr_count(struct xr *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *xr_replace(struct xr *x, const char *path, const char *parent_path, const char *new_xml);

/* The namespace of the metadata element that marks a domain as reconcile's. */
#define RECONCILE_XMLNS "https://reconcile.invalid/xmlns/managed/1"

/* libvirt XML of the desired model; domain_type is "kvm", "qemu" or "test". */
char *network_render_xml(const struct resource *r);
char *pool_render_xml(const struct resource *r);
char *volume_render_xml(const struct resource *r);
char *domain_render_xml(const struct resource *r, const char *domain_type, const char *const *macs);
char *disk_render_xml(const struct disk_spec *k, const char *target);
char *nic_render_xml(const struct nic_spec *n, const char *mac);
char *cpu_render_xml(const char *cpu);
void disk_target_name(int bus, unsigned index, char buf[16]);
/* And back: fill r (of the right kind) from libvirt's XML. */
int network_parse_xml(const char *xml, struct resource *r);
int pool_parse_xml(const char *xml, struct resource *r);
int domain_parse_xml(const char *xml, struct resource *r);
