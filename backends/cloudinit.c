/* cloud-init NoCloud seeds (backends/cloudinit.h): read at parse time, built
 * with libisofs (loaded on first use) and stored through libvirt's volume upload. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cloudinit.h"
#include "isofs-dl.h"
#include "kind.h"
#include "libvirt-dl.h"

const char *const cloudinit_file_names[_SEED_MAX] = { "user-data", "meta-data", "network-config" };

#define SEED_FILE_MAX (1 << 20)

/* One line that starts like a path names a file; anything else is the content. */
static bool names_file(const char *s) {
        return !strchr(s, '\n') && (s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0);
}

/* Whether text has a line that starts with key (a top-level YAML key). */
static bool has_key_line(const char *text, const char *key) {
        size_t n = strlen(key);
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                if (strncmp(p, key, n) == 0)
                        return true;
        return false;
}

static uint64_t hash_part(uint64_t h, size_t i, const char *text) {
        size_t n = text ? strlen(text) : 0;
        h = hash_fnv1a(h, &i, sizeof(i));
        h = hash_fnv1a(h, &n, sizeof(n));
        return text ? hash_fnv1a(h, text, n) : h;
}

void cloudinit_instance_id(const struct cloud_init_spec *ci, char out[21]) {
        /* What cloud-init is given, instance-id aside: a change to any of it
         * is a new instance, and cloud-init runs its once-per-instance modules again. */
        uint64_t h = HASH_FNV1A_SEED;
        for (size_t i = 0; i < _SEED_MAX; i++)
                h = hash_part(h, i, ci->content[i]);
        snprintf(out, 21, "iid-%016llx", (unsigned long long) h);
}

char *cloudinit_volume_name(const char *domain) {
        return xasprintf("%s-cidata.iso", domain);
}

static char *read_declared(struct check_ctx *c, const struct resource *r, size_t i) {
        const char *d = r->domain.cloud_init.declared[i];
        if (!names_file(d))
                return xstrdup(d);
        _cleanup_free_ char *path = NULL;
        if (d[0] == '/' || !r->pos.file)
                path = xstrdup(d);
        else {
                _cleanup_free_ char *copy = xstrdup(r->pos.file);
                path = xasprintf("%s/%s", dirname(copy), d);
        }
        /* A device or a FIFO (/dev/zero, /dev/stdin) would never end: a seed's
         * files are small regular files. */
        struct stat st;
        if (stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > SEED_FILE_MAX)) {
                check_error(c, DOM_F_CLOUD_INIT, "domain %s: cloud-init %s: %s: %s", r->name, cloudinit_file_names[i], path,
                            S_ISREG(st.st_mode) ? "larger than 1 MiB" : "not a regular file");
                return NULL;
        }
        char *text = file_read(path);
        if (!text)
                check_error(c, DOM_F_CLOUD_INIT, "domain %s: cloud-init %s: %s: %s", r->name, cloudinit_file_names[i], path,
                            strerror(errno));
        return text;
}

int cloudinit_check(struct check_ctx *c, struct resource *r) {
        struct cloud_init_spec *ci = &r->domain.cloud_init;
        if (!(r->set & DOM_F_CLOUD_INIT))
                return 0;
        for (size_t i = 0; i < _SEED_MAX; i++) {
                free(ci->content[i]);
                ci->content[i] = NULL;
                if (ci->declared[i] && !(ci->content[i] = read_declared(c, r, i)))
                        return -EINVAL;
        }
        /* NoCloud needs user-data and meta-data; network-config only when declared. */
        if (!ci->content[SEED_USER_DATA])
                ci->content[SEED_USER_DATA] = xstrdup("");
        const char *meta = ci->content[SEED_META_DATA] ? ci->content[SEED_META_DATA] : "";
        char iid[21] = "";
        if (!has_key_line(meta, "instance-id:"))
                cloudinit_instance_id(ci, iid);
        bool hostname = has_key_line(meta, "local-hostname:");
        size_t n = strlen(meta);
        char *full = xasprintf("%s%s%s%s%s%s%s", iid[0] ? "instance-id: " : "", iid, iid[0] ? "\n" : "",
                               hostname ? "" : "local-hostname: ", hostname ? "" : r->name, hostname ? "" : "\n", meta);
        if (n && meta[n - 1] != '\n') {
                char *more = xasprintf("%s\n", full);
                free(full);
                full = more;
        }
        free(ci->content[SEED_META_DATA]);
        ci->content[SEED_META_DATA] = full;
        uint64_t h = HASH_FNV1A_SEED;
        for (size_t i = 0; i < _SEED_MAX; i++)
                h = hash_part(h, i, ci->content[i]);
        snprintf(ci->digest, sizeof(ci->digest), "%016llx", (unsigned long long) h);
        return 0;
}

int cloudinit_validate(struct resource *r, struct model *declared) {
        struct cloud_init_spec *ci = &r->domain.cloud_init;
        if (r->state == STATE_ABSENT || !(r->set & DOM_F_CLOUD_INIT))
                return 0;
        const struct srcpos *pos = resource_key_pos(r, DOM_F_CLOUD_INIT);
        /* The seed is one of the disks: without the list, which disks are the
         * domain's is not declared, and an attach could not be told from a stray. */
        if (!(r->set & DOM_F_DISKS))
                return diag_pos(pos, "domain %s: cloud-init needs the domain's disks declared (disks: [] for none): its "
                                "seed is attached as one", r->name);
        for (size_t i = 0; !ci->pool && i < r->domain.n_disks; i++) {
                const char *v = r->domain.disks[i].volume, *slash = v ? strchr(v, '/') : NULL;
                if (slash && v[0] != '/')
                        ci->pool = xasprintf("%.*s", (int) (slash - v), v);
        }
        if (!ci->pool)
                return diag_pos(pos, "domain %s: cloud-init needs a pool for its seed: declare cloud-init: { pool: NAME } "
                                "or a disk on a pool volume", r->name);
        const struct resource *pool = model_find(declared, KIND_POOL, ci->pool);
        if (!pool || pool->kind != KIND_POOL)
                return diag_pos(pos, "domain %s: cloud-init pool %s is not declared", r->name, ci->pool);
        if (pool->state == STATE_ABSENT)
                return diag_pos(pos, "domain %s: cloud-init pool %s is declared absent", r->name, ci->pool);
        _cleanup_free_ char *vol = cloudinit_volume_name(r->name);
        _cleanup_free_ char *full = xasprintf("%s/%s", ci->pool, vol);
        const struct resource *taken = model_find(declared, KIND_VOLUME, full);
        if (taken && taken->kind == KIND_VOLUME)
                return diag_pos(pos, "domain %s: volume %s is declared at %s:%u:%u, and is where the cloud-init seed goes",
                                r->name, full, taken->pos.file ? taken->pos.file : "?", taken->pos.line, taken->pos.col);
        struct disk_spec *k = array_push(&r->domain.disks, &r->domain.n_disks, sizeof(*k));
        k->pos = *pos;
        k->volume = xasprintf("%s/%s", ci->pool, vol);
        k->set = DISK_F_VOLUME | DISK_F_BUS;
        k->bus = BUS_SATA; /* what a cdrom drive gets by default, on pc and q35 */
        k->cache = CACHE_DEFAULT;
        k->format = VOL_RAW;
        k->seed = true;
        return 0;
}

void cloudinit_free(struct cloud_init_spec *ci) {
        for (size_t i = 0; i < _SEED_MAX; i++) {
                free(ci->declared[i]);
                free(ci->content[i]);
        }
        free(ci->pool);
}

/* ---- the image ---- */

static int iso_fail(const struct resource *w, int r, const char *what) {
        return diag_res(-EIO, "domain", w->name, "cloud-init seed: %s failed (libisofs error %d)", what, r);
}

static int add_file(IsoDir *root, const char *name, const char *text) {
        size_t n = strlen(text);
        unsigned char *buf = malloc(n ? n : 1); /* the stream frees it */
        if (!buf)
                return -ENOMEM;
        memcpy(buf, text, n);
        IsoStream *stream = NULL;
        int r = iso_memory_stream_new(buf, n, &stream);
        if (r < 0) {
                free(buf);
                return r;
        }
        r = iso_tree_add_new_file(root, name, stream, NULL);
        if (r < 0)
                iso_stream_unref(stream); /* taken by the file only when it was added */
        return r;
}

/* Drain the writer: libisofs formats the image in a thread of its own and
 * hands it out 2048-byte block by block. */
static int read_image(struct burn_source *src, unsigned char **out, size_t *len) {
        size_t cap = 64 * 2048, n = 0;
        unsigned char *buf = malloc(cap);
        int r = buf ? 0 : -ENOMEM;
        while (r >= 0) {
                if (n + 2048 > cap) {
                        unsigned char *more = realloc(buf, cap * 2);
                        if (!more) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = more, cap *= 2;
                }
                int got = src->read_xt ? src->read_xt(src, buf + n, 2048) : src->read(src, buf + n, 2048);
                if (got < 0)
                        r = -EIO;
                else if (got == 0)
                        break;
                else
                        n += (size_t) got;
        }
        if (r < 0) {
                if (src->cancel)
                        src->cancel(src);
                free(buf);
                return r;
        }
        *out = buf;
        *len = n;
        return 0;
}

int cloudinit_build_iso(const struct resource *w, unsigned char **out, size_t *len) {
        const struct cloud_init_spec *ci = &w->domain.cloud_init;
        const char *why;
        int r = isofs_dl_load(&why);
        if (r < 0)
                return diag_res(r, "domain", w->name, "cloud-init seed: %s", why);
        IsoImage *image = NULL;
        /* The volume label cloud-init's NoCloud looks for. */
        if ((r = iso_image_new("cidata", &image)) < 0)
                return iso_fail(w, r, "a new image");
        IsoDir *root = iso_image_get_root(image);
        for (size_t i = 0; i < _SEED_MAX && r >= 0; i++)
                if (ci->content[i] && (r = add_file(root, cloudinit_file_names[i], ci->content[i])) < 0)
                        r = iso_fail(w, r, cloudinit_file_names[i]);
        IsoWriteOpts *opts = NULL;
        if (r >= 0 && (r = iso_write_opts_new(&opts, 0)) < 0)
                r = iso_fail(w, r, "the write options");
        /* Rock Ridge and Joliet: the names as written (plain ISO 9660 level 1
         * would make "USER_DAT"), which is how cloud-init looks them up. */
        if (r >= 0 && ((r = iso_write_opts_set_rockridge(opts, 1)) < 0 || (r = iso_write_opts_set_joliet(opts, 1)) < 0))
                r = iso_fail(w, r, "Rock Ridge and Joliet");
        /* The label as cloud-init and genisoimage -V write it, lowercase: plain
         * ISO 9660 allows only capitals in the primary descriptor's label. */
        if (r >= 0 && (r = iso_write_opts_set_relaxed_vol_atts(opts, 1)) < 0)
                r = iso_fail(w, r, "the volume label");
        struct burn_source *src = NULL;
        if (r >= 0 && (r = iso_image_create_burn_source(image, opts, &src)) < 0)
                r = iso_fail(w, r, "writing the image");
        if (opts)
                iso_write_opts_free(opts);
        if (r >= 0 && read_image(src, out, len) < 0)
                r = iso_fail(w, -1, "reading the image");
        if (src) {
                src->free_data(src);
                free(src);
        }
        iso_image_unref(image);
        return r < 0 ? r : 0;
}

/* ---- the volume ---- */

/* The seed image in memory, handed to lv_volume_send piece by piece. */
struct seed_reader {
        const unsigned char *data;
        size_t len, off;
};

static long seed_next(void *u, char *buf, size_t size) {
        struct seed_reader *sr = u;
        size_t n = sr->len - sr->off < size ? sr->len - sr->off : size;
        memcpy(buf, sr->data + sr->off, n);
        sr->off += n;
        return (long) n;
}

bool cloudinit_seed_exists(struct _virConnect *conn, const struct resource *w) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(conn, w->domain.cloud_init.pool);
        _cleanup_free_ char *name = cloudinit_volume_name(w->name);
        virStorageVolPtr vol = pool ? virStorageVolLookupByName(pool, name) : NULL;
        if (vol)
                virStorageVolFree(vol);
        if (pool)
                virStoragePoolFree(pool);
        return vol != NULL;
}

int cloudinit_refuse_foreign(const struct resource *w) {
        _cleanup_free_ char *name = cloudinit_volume_name(w->name);
        return diag_pos(resource_key_pos(w, DOM_F_CLOUD_INIT),
                        "domain %s: pool %s already holds a volume %s that reconcile did not make for its cloud-init "
                        "seed: not overwriting it (move it aside or delete it)",
                        w->name, w->domain.cloud_init.pool, name);
}

int cloudinit_store(struct _virConnect *conn, const struct resource *w, bool owned, bool *uploaded) {
        const struct cloud_init_spec *ci = &w->domain.cloud_init;
        *uploaded = true;
        unsigned char *image = NULL;
        size_t len = 0;
        int r = cloudinit_build_iso(w, &image, &len);
        if (r < 0)
                return r;
        /* A MiB at least, and whole MiBs: a seed that grows a little fits again. */
        size_t capacity = (len + (1u << 20) - 1) & ~(size_t) ((1u << 20) - 1);
        virStoragePoolPtr pool = virStoragePoolLookupByName(conn, ci->pool);
        _cleanup_free_ char *name = cloudinit_volume_name(w->name);
        virStorageVolPtr vol = pool ? virStorageVolLookupByName(pool, name) : NULL;
        virStorageVolInfo info;
        if (!pool)
                r = lv_fail("domain", w->name, "cloud-init seed: looking up its pool");
        else if (vol && !owned)
                r = cloudinit_refuse_foreign(w);
        else if (vol && virStorageVolGetInfo(vol, &info) < 0)
                r = lv_fail("domain", w->name, "cloud-init seed: reading its volume");
        /* Reused when the seed fits and the volume is a seed's size: the whole
         * volume is written (zeroed past the image), and a volume grown large
         * is not worth writing in full. */
        else if (vol && info.capacity >= len && info.capacity <= CLOUDINIT_REUSE_MAX)
                capacity = (size_t) info.capacity;
        else if (vol) {
                /* Too small or too large: a seed is the domain's own and holds nothing else. */
                if (virStorageVolDelete(vol, 0) < 0)
                        r = lv_fail("domain", w->name, "cloud-init seed: replacing its volume");
                virStorageVolFree(vol);
                vol = NULL;
        }
        if (r >= 0 && !vol) {
                _cleanup_free_ char *xml = xasprintf("<volume><name>%s</name><capacity unit='bytes'>%zu</capacity>"
                                                     "<target><format type='raw'/></target></volume>",
                                                     name, capacity);
                vol = virStorageVolCreateXML(pool, xml, 0);
                if (!vol)
                        r = lv_fail("domain", w->name, "cloud-init seed: creating its volume");
        }
        /* The rest of the volume zeroed: no byte of an older seed stays behind. */
        unsigned char *padded = r >= 0 ? realloc(image, capacity) : NULL;
        if (r >= 0 && !padded)
                r = diag_res(-ENOMEM, "domain", w->name, "cloud-init seed: out of memory");
        if (padded) {
                image = padded;
                memset(image + len, 0, capacity - len);
                struct seed_reader sr = { image, capacity, 0 };
                r = lv_volume_send(conn, vol, capacity, seed_next, &sr, "domain", w->name, "its cloud-init seed",
                                   uploaded);
        }
        free(image);
        if (vol)
                virStorageVolFree(vol);
        if (pool)
                virStoragePoolFree(pool);
        return r;
}
