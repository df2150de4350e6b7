/* Helpers shared by the backends. The backends themselves are reached only
 * through their struct backend (reconcile/reconcile.h). */
#pragma once

#include "../reconcile/reconcile.h"

/* Switch this thread into the network namespace NAME (/run/netns/NAME) or
 * PATH for the time it takes to open sockets there; *saved restores it. */
int netns_enter(const char *netns, int *saved);
int netns_leave(int *saved);

/* A sysctl (net.ipv4.ip_forward; a '/' stands for a '.' in an interface name)
 * through /proc/sys, in the namespace of the calling thread: enter it first. */
int proc_sysctl_read(const char *key, char *buf, size_t size);
int proc_sysctl_write(const char *key, const char *value);

/* An rtnetlink socket opened inside a namespace (links, routes). */
struct nl_sock;
struct nl_msg;
struct rtnl {
        struct nl_sock *sk;
        char netns[256];
        char err[256]; /* the kernel's extended ack message of the last failure */
};
typedef int (*rtnl_reply_fn)(struct nl_msg *m, void *arg);
int rtnl_open(struct rtnl *t, const char *netns, const char *who);
void rtnl_close(struct rtnl *t);
/* Send one request (consumed) and wait for its ack: 0 or the kernel's negative
 * errno; on_reply, if given, sees every answer before the ack. */
int rtnl_talk(struct rtnl *t, struct nl_msg *msg, rtnl_reply_fn on_reply, void *arg);
/* A dump; -EAGAIN when a concurrent change interrupted it (NLM_F_DUMP_INTR). */
int rtnl_dump(struct rtnl *t, int type, const void *hdr, size_t hdr_len, rtnl_reply_fn fn, void *arg);
/* Run once(u, m) into a fresh model until no dump of it was interrupted (up to
 * 10 times), then move what it read into live. */
int rtnl_observe(struct model *live, int (*once)(void *u, struct model *m), void *u);
/* The index of the link NAME in t's namespace, 0 if there is none, or -errno. */
int rtnl_ifindex(struct rtnl *t, const char *name);
/* IFF_* flags of the link of that name (the low 16 bits), or a negative errno. */
int rtnl_link_flags(struct rtnl *t, const char *name);
/* The ifindex of the link's master as the kernel has it now, 0 for none. */
int rtnl_link_master(struct rtnl *t, const char *name);
/* The daemon's drift signal: a socket on the rtnetlink groups of a namespace,
 * and a drain that returns how many notifications were queued. */
int rtnl_watch_open(const char *netns, unsigned groups, const char *who);
int rtnl_watch_drain(void *watch, int fd);
/* "the kernel's message (strerror)" for an error r of the last request. */
const char *rtnl_says(struct rtnl *t, int r);

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
/* The same, keeping the old element's children named in keep (NULL-terminated)
 * that new_xml does not have. */
char *xr_replace_keeping(struct xr *x, const char *path, const char *parent_path, const char *new_xml,
                         const char *const *keep);

/* The namespace of the metadata element that marks a domain as reconcile's. */
#define RECONCILE_XMLNS "https://reconcile.invalid/xmlns/managed/1"

/* libvirt XML of the desired model; domain_type is "kvm", "qemu" or "test". */
char *network_render_xml(const struct resource *r);
/* The same, naming the UUID and bridge MAC libvirt gave the network (NULL: none
 * yet): a redefine keeps both; the MAC only where libvirt makes the bridge. */
char *network_render_xml_as(const struct resource *r, const char *uuid, const char *mac);
char *pool_render_xml(const struct resource *r);
char *volume_render_xml(const struct resource *r);
/* A volume made from an origin (issue 17): its capacity and format, and for a
 * qcow2 overlay the backing file and its format (NULL and -1 for none). */
char *volume_render_origin_xml(const struct resource *r, uint64_t capacity, int format, const char *backing_path,
                               int backing_format);
char *domain_render_xml(const struct resource *r, const char *domain_type, const char *const *macs);
/* The same with the graphics password (read at apply time, never kept). */
char *domain_render_xml_secret(const struct resource *r, const char *domain_type, const char *const *macs,
                               const char *password);
/* One way-in device for a field bit (DOM_F_CONSOLE, _GUEST_AGENT, _GRAPHICS, _VIDEO, _TPM). */
char *domain_device_render_xml(const struct resource *r, uint64_t field, const char *password);
char *disk_render_xml(const struct disk_spec *k, const char *target);
char *nic_render_xml(const struct nic_spec *n, const char *mac);
char *cpu_render_xml(const char *cpu);
void disk_target_name(int bus, unsigned index, char buf[16]);
/* Machine types: "q35" and pc-q35-* are q35; "pc" matches pc-i440fx-*; NULL (not declared) matches any. */
bool domain_machine_is_q35(const char *machine);
bool domain_machine_matches(const char *want, const char *have);
/* The pcie-root-port controllers a definition gets: spares for live attach on q35, none elsewhere. */
unsigned domain_root_ports(const struct domain_spec *d);
/* And back: fill r (of the right kind) from libvirt's XML. */
int network_parse_xml(const char *xml, struct resource *r);
int pool_parse_xml(const char *xml, struct resource *r);
int domain_parse_xml(const char *xml, struct resource *r);
