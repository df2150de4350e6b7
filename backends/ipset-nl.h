/* The kernel's ip_set netlink protocol (NFNL_SUBSYS_IPSET) with libmnl: a
 * socket in a namespace, one dump for sets with their headers and members,
 * and batches of commands whose ADD/DEL carry many entries per message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends.h"

struct ipset_nl;

/* A socket in netns (NULL: this one) that has agreed a protocol version with
 * the kernel: 0 or a negative errno (-EPROTONOSUPPORT: no ip_set here). */
int ipset_nl_open(const char *netns, struct ipset_nl **out);
void ipset_nl_close(struct ipset_nl *nl);
/* Words for people about the last failure: the entry or command, the kernel's
 * reason. Empty when nothing failed. */
const char *ipset_nl_error(const struct ipset_nl *nl);

/* Read the set NAME (NULL: every set) into live with its parameters,
 * references and, unless headers_only, its entries in `ipset save`'s
 * spelling. -ENOENT: no set of that name. */
int ipset_nl_list(struct ipset_nl *nl, const char *name, bool headers_only, struct model *live);
/* The header of set NAME into live, without its entries, and the number of
 * entries the kernel holds (UINT32_MAX when it did not say). -ENOENT: none. */
int ipset_nl_header(struct ipset_nl *nl, const char *name, struct model *live, uint32_t *n_entries);
/* One header dump of every set: hash(u, name, digest of its header as the
 * kernel sent it: parameters, number of entries, memory, references). */
int ipset_nl_header_digests(struct ipset_nl *nl, void (*each)(void *u, const char *name, uint64_t digest), void *u);

/* Commands collected and then sent in as few datagrams as fit. */
struct ipset_batch;
struct ipset_batch *ipset_batch_new(struct ipset_nl *nl);
void ipset_batch_free(struct ipset_batch *b);
/* Create set NAME as w describes it, maxelem given (0: none, for bitmaps and
 * lists); the type's revision is asked of the kernel once per type. Here and
 * in ipset_batch_entries a failure empties the batch: nothing of it is sent. */
int ipset_batch_create(struct ipset_batch *b, const char *name, const struct resource *w, uint32_t maxelem);
void ipset_batch_destroy(struct ipset_batch *b, const char *name);
void ipset_batch_rename(struct ipset_batch *b, const char *from, const char *to);
void ipset_batch_swap(struct ipset_batch *b, const char *a, const char *c);
/* Add (add true) or delete entries of w's type and family to set NAME, as
 * many as fit in each message; an entry there already (add) or not there
 * (delete) is no error. -EINVAL for an entry not in the canonical form. */
int ipset_batch_entries(struct ipset_batch *b, bool add, const char *name, const struct resource *w,
                        char *const *entries, size_t n);
/* Send everything, stopping after the first datagram with a refused command:
 * 0 or the first refusal's negative errno (ipset_nl_error says what). The
 * batch is empty afterwards. */
int ipset_batch_send(struct ipset_batch *b);

/* The codec's pure parts, for tests. One entry (`ipset save`'s spelling) of a
 * set of type (enum set_type) into a DATA nest of nlh, numbered lineno: false
 * when it is not in that form. */
struct nlmsghdr;
struct nlattr;
bool ipset_nl_put_entry(struct nlmsghdr *nlh, int type, int af, const char *entry, uint32_t lineno);
/* A DATA nest as the kernel lists an entry, into that spelling. */
bool ipset_nl_entry_text(const struct nlattr *data, int type, bool inet6, char *out, size_t size);
/* The kernel's code of a refusal (a positive errno or IPSET_ERR_*, which mean
 * different things for hash, bitmap and list types) as an errno and words. */
int ipset_nl_errno(int code, int type, const char **text);
