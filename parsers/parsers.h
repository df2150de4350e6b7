/* Manifest parsers: YAML files into the desired model. No backend is touched. */
#pragma once

#include "../reconcile/reconcile.h"

struct manifest_set {
        struct model model;
        char **files; /* every file name a srcpos points to */
        size_t n_files;
        unsigned n_skipped_host; /* files for another host */
        char digest[17];         /* of every file read, for holds and logs */
        bool declared_read;      /* a kind's check read what the files before declared */
        bool looked_up;          /* a user or group name was looked up on the host */
        /* Loaded through a cache: each file's parse, which owns its resources. */
        struct manifest_part **parts;
        size_t n_parts;
};

/* The daemon's: each file's last parse, reused while the file's text and
 * what the parse read of the files before it stay the same. */
struct manifest_cache {
        struct manifest_part **v;
        size_t n;
        char *hostname;
};

/* Read every *.yaml / *.yml directly in dir, in lexical order. hostname is
 * matched against each file's host: glob. Returns 0, or -EINVAL after
 * reporting every error through the diag sink. check_perms refuses files
 * and a directory that are not the runner's or are group/other-writable. */
int manifests_load(const char *dir, const char *hostname, bool check_perms, struct manifest_set *set);
/* manifests_load with the parse of each file whose text is as the cache saw
 * it last taken from there: the same model, errors and digest as a load
 * without it. The cache then holds this load's files. */
int manifests_load_cached(const char *dir, const char *hostname, bool check_perms, struct manifest_cache *cache,
                          struct manifest_set *set);
void manifest_cache_done(struct manifest_cache *cache);
/* Parse one buffer as if it were the file name; used by load, tests and the fuzzer. */
int manifest_parse_buffer(struct manifest_set *set, const char *name, const char *buf, size_t len,
                          const char *hostname);
/* Cross-file checks: references to kinds that must be declared. */
int manifests_validate(struct manifest_set *set);
void manifests_done(struct manifest_set *set);

/* Sizes with a unit: K, M, G, T, KiB .. TiB (powers of 1024), KB .. TB (powers
 * of 1000, as libvirt reads them) or B. -EDOM for a bare number, -EINVAL for
 * any other unit, -ERANGE past 64 bits. */
int size_parse(const char *s, uint64_t *out);

/* Every key the parser accepts, for the documentation and its test: fn gets
 * (NULL, "version") and (NULL, "host") for the top level, then each section
 * and key path: "mtu", "dhcp.start" (a mapping), "disks[].bus" (a list of
 * mappings), "volumes.*.capacity" (a mapping of names), "*" (sysctls). */
void manifest_schema_walk(void (*fn)(void *u, const char *section, const char *key_path), void *u);
