/* cloud-init NoCloud seeds (issue 17 point 6): a domain's user-data,
 * meta-data and network-config as an ISO 9660 image labelled "cidata", kept
 * as a volume in a declared pool and attached as a cdrom. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "backends.h"

/* The seed's file names, in the order of enum SEED_*. */
extern const char *const cloudinit_file_names[_SEED_MAX];

/* At parse time: read the files a manifest names, give meta-data its
 * instance-id (a digest of the content unless declared) and hostname, digest
 * the whole. 0 or an error at the key. */
struct check_ctx;
int cloudinit_check(struct check_ctx *c, struct resource *r);
/* Across manifests: the seed's pool is declared; the seed joins the disks. */
int cloudinit_validate(struct resource *r, struct model *declared);
void cloudinit_free(struct cloud_init_spec *ci);

/* "iid-" and 16 hex digits: the digest of the content as read (before the
 * check adds instance-id and local-hostname to meta-data). */
void cloudinit_instance_id(const struct cloud_init_spec *ci, char out[21]);
/* The seed's volume within its pool: NAME-cidata.iso. */
char *cloudinit_volume_name(const char *domain);

/* The ISO image, in memory (malloc'ed, *len bytes): 0, or a negative errno
 * reported about the domain. Loads libisofs on first use. */
int cloudinit_build_iso(const struct resource *w, unsigned char **out, size_t *len);

/* The largest seed volume written again in place: a larger one (grown by
 * hand) is deleted and made anew at the seed's size, not uploaded in full. */
#define CLOUDINIT_REUSE_MAX (4ull << 20)

/* Build the seed and write it into its volume (created when missing, made
 * again when too small or larger than CLOUDINIT_REUSE_MAX) through libvirt.
 * owned: the ledger holds a seed digest for the domain, so a volume of the
 * seed's name is reconcile's; otherwise an existing one is refused
 * (cloudinit_refuse_foreign), never overwritten or deleted. *uploaded is
 * false when the driver keeps no content (the test driver): the volume is
 * defined, not filled. */
struct _virConnect;
int cloudinit_store(struct _virConnect *conn, const struct resource *w, bool owned, bool *uploaded);
/* Whether w's seed volume exists (a pool or volume not found: no). */
bool cloudinit_seed_exists(struct _virConnect *conn, const struct resource *w);
/* The error for a seed volume reconcile did not make, at the cloud-init key; -EINVAL. */
int cloudinit_refuse_foreign(const struct resource *w);
