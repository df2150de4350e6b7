/* YAML manifests into the typed model through one field table per kind. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <yaml.h>
#include <sys/socket.h>

#include "parsers.h"

/* Alias expansion multiplies the nodes a walk visits; these bound it. */
#define MAX_DEPTH 32
/* No manifest nests collections deeper than a handful of levels (a domain's
 * disk is at 4); 64 leaves room for anchors and tooling, and bounds the work
 * libyaml does per token (see check_nesting). */
#define MAX_NESTING 64u
#define MAX_NODES_PER_FILE 2000000u

struct pctx {
        struct manifest_set *set;
        yaml_document_t *doc;
        const char *file;
        unsigned nodes;
        bool budget_reported;
        struct resource *res; /* the resource being parsed */
        /* The value node of each of its keys, by field bit: a check that needs
         * several keys (an ipset's entries against its type) reports at the key. */
        yaml_node_t *at[64];
        int errors;
};


static struct srcpos pos_of(struct pctx *c, yaml_node_t *n) {
        return (struct srcpos){ c->file, (unsigned) n->start_mark.line + 1, (unsigned) n->start_mark.column + 1 };
}

static int perr(struct pctx *c, yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(struct pctx *c, yaml_node_t *n, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        struct srcpos p = pos_of(c, n);
        c->errors++;
        return diag_pos(&p, "%s", msg);
}

static bool budget_ok(struct pctx *c, yaml_node_t *n) {
        if (++c->nodes <= MAX_NODES_PER_FILE)
                return true;
        if (!c->budget_reported) {
                c->budget_reported = true;
                perr(c, n, "document expands to more than %u nodes (alias bomb?)", MAX_NODES_PER_FILE);
        }
        return false;
}

static const char *scalar(yaml_node_t *n) {
        return n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static bool is_plain(yaml_node_t *n) {
        return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A user's string fit for a one-line message: control characters become '?'. */
const char *printable(const char *s) {
        static char buf[80];
        size_t i = 0;
        for (; s[i] && i < sizeof(buf) - 1; i++)
                buf[i] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
        buf[i] = '\0';
        return buf;
}

static const char *flabel(const struct field *f) {
        return f->label ? f->label : f->key;
}

/* A scalar that holds the whole value: libyaml keeps NUL bytes, C strings stop at them. */
static int want_string(struct pctx *c, yaml_node_t *n, const struct field *f, const char **out) {
        const char *s = scalar(n);
        if (!s)
                return perr(c, n, "%s: expected a string", flabel(f));
        if (strlen(s) != n->data.scalar.length)
                return perr(c, n, "%s: NUL byte in value", flabel(f));
        *out = s;
        return 0;
}

static int want_u64(struct pctx *c, yaml_node_t *n, const struct field *f, uint64_t *out) {
        const char *s = scalar(n);
        if (!s || !is_plain(n) || !*s || !(*s >= '0' && *s <= '9'))
                return perr(c, n, "%s: expected an integer", flabel(f));
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end)
                return perr(c, n, "%s: expected an integer, got \"%.64s\"", flabel(f), s);
        if (errno || (f->max && v > (unsigned long long) f->max) || (int64_t) v < f->min)
                return perr(c, n, "%s %.32s out of range %lld..%lld", flabel(f), s, (long long) f->min,
                            (long long) f->max);
        *out = v;
        return 0;
}

static int p_u32(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        uint64_t v = 0;
        int r = want_u64(c, n, f, &v);
        if (r < 0)
                return r;
        *(uint32_t *) ((char *) base + f->offset) = (uint32_t) v;
        return 0;
}

static int p_bool(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s = scalar(n);
        bool v;
        if (s && is_plain(n) && strcmp(s, "true") == 0)
                v = true;
        else if (s && is_plain(n) && strcmp(s, "false") == 0)
                v = false;
        else
                return perr(c, n, "%s: expected true or false", flabel(f));
        *(bool *) ((char *) base + f->offset) = v;
        return 0;
}

/* The suffixes libvirt's own XML takes (virScaleInteger), case as written
 * there: K, M, G, T and KiB .. TiB are powers of 1024; KB .. TB are powers of
 * 1000, as libvirt reads them, so a size copied from a libvirt XML or its
 * documentation means here what it means there. B is plain bytes. */
static const struct {
        const char *suffix;
        uint64_t scale;
} size_units[] = {
        { "B", 1 },
        { "K", 1ull << 10 }, { "KiB", 1ull << 10 }, { "KB", 1000ull },
        { "M", 1ull << 20 }, { "MiB", 1ull << 20 }, { "MB", 1000000ull },
        { "G", 1ull << 30 }, { "GiB", 1ull << 30 }, { "GB", 1000000000ull },
        { "T", 1ull << 40 }, { "TiB", 1ull << 40 }, { "TB", 1000000000000ull },
};

int size_parse(const char *s, uint64_t *out) {
        if (!s || !(*s >= '0' && *s <= '9'))
                return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno)
                return -ERANGE;
        /* A bare number was bytes once, and "memory: 256" meant 256 bytes to
         * nobody who wrote it: a size says its unit. */
        if (!*end)
                return -EDOM;
        for (size_t i = 0; i < ELEMENTSOF(size_units); i++) {
                if (strcmp(end, size_units[i].suffix) != 0)
                        continue;
                if (v > UINT64_MAX / size_units[i].scale)
                        return -ERANGE;
                *out = (uint64_t) v * size_units[i].scale;
                return 0;
        }
        return -EINVAL;
}

static int p_size(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s = scalar(n);
        uint64_t v = 0;
        int r = s ? size_parse(s, &v) : -EINVAL;
        if (r == -EDOM)
                return perr(c, n, "%s: %.32s has no unit: write %.32sM for MiB (or K, G, T; B for bytes)", flabel(f), s,
                            s);
        if (r < 0)
                return perr(c, n,
                            "%s: bad size \"%.64s\": expected a whole number with K, M, G, T (or KiB .. TiB), "
                            "KB .. TB (powers of 1000) or B",
                            flabel(f), s ? printable(s) : "");
        if (v < (uint64_t) f->min)
                return perr(c, n, "%s %s is below the minimum of %lld bytes", flabel(f), s, (long long) f->min);
        *(uint64_t *) ((char *) base + f->offset) = v;
        return 0;
}

static int p_enum(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const struct enum_table *t = f->extra;
        const char *s = scalar(n);
        int v = s ? enum_from_string(t, s) : -1;
        if (v < 0) {
                char words[256] = "";
                for (int i = 0; i < t->n; i++) {
                        strncat(words, i ? ", " : "", sizeof(words) - strlen(words) - 1);
                        strncat(words, t->words[i], sizeof(words) - strlen(words) - 1);
                }
                return perr(c, n, "%s: expected one of %s", flabel(f), words);
        }
        *(int *) ((char *) base + f->offset) = v;
        return 0;
}

/* The table's own spelling of an enum word, or NULL after reporting it. */
static const char *enum_word(struct pctx *c, yaml_node_t *n, const struct field *f) {
        struct field g = *f;
        int v = 0;
        g.offset = 0;
        return p_enum(c, n, &g, &v) < 0 ? NULL : enum_to_string(f->extra, v);
}

/* A word of an enum table kept as the word itself, in a char array of f->max
 * bytes: the live side holds what the kernel reports, which may be a word a
 * newer kernel knows and this table does not (schedulers, set types). */
static int p_enum_word(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *w = enum_word(c, n, f);
        if (!w)
                return -EINVAL;
        snprintf((char *) base + f->offset, (size_t) f->max, "%s", w);
        return 0;
}

/* The same for a word kept as an allocated string (pool types). */
static int p_enum_str(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *w = enum_word(c, n, f);
        if (!w)
                return -EINVAL;
        char **dst = (char **) ((char *) base + f->offset);
        free(*dst);
        *dst = xstrdup(w);
        return 0;
}

/* Names this resource refers to, with where: a missing port or parent is
 * reported at the list element or value that names it. */
static void note_ref(struct pctx *c, yaml_node_t *n, const char *name) {
        if (!c->res)
                return;
        struct name_ref *ref = array_push(&c->res->refs, &c->res->n_refs, sizeof(*ref));
        ref->name = xstrdup(name);
        ref->pos = pos_of(c, n);
}

static int check_ifname(struct pctx *c, yaml_node_t *n, const char *what, const char *s) {
        if (!ifname_valid(s))
                return perr(c, n, "bad interface name \"%.64s\" for %s: 1-15 bytes, no '/', ':' or white space", s,
                            what);
        return 0;
}

static int p_ifname(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        r = check_ifname(c, n, flabel(f), s);
        if (r < 0)
                return r;
        strcpy((char *) base + f->offset, s);
        note_ref(c, n, s);
        return 0;
}

/* Strings that reach libvirt XML: escaped there too, but refused here first. */
bool xml_safe(const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (strchr("<>&'\"", *p) || *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static bool path_safe(const char *s) {
        if (s[0] != '/')
                return false;
        for (const char *p = s; (p = strstr(p, "..")); p += 2)
                if ((p == s || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
                        return false;
        return xml_safe(s);
}

static int p_str(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        if (!*s)
                return perr(c, n, "%s: empty value", flabel(f));
        if (f->min == STR_PATH && !path_safe(s))
                return perr(c, n, "%s: \"%.64s\" is not an absolute path without \"..\" and <>&'\"", flabel(f), s);
        if (f->min == STR_WORD && !xml_safe(s))
                return perr(c, n, "%s: \"%.64s\" contains one of <>&'\" or a control character", flabel(f), s);
        char **dst = (char **) ((char *) base + f->offset);
        free(*dst);
        *dst = xstrdup(s);
        note_ref(c, n, s);
        return 0;
}

/* Fixed-size char array field (scheduler, set type, volume reference parts). */
static int p_word(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        if (!*s || strlen(s) >= (size_t) f->max || !xml_safe(s))
                return perr(c, n, "%s: bad value \"%.64s\"", flabel(f), s);
        strcpy((char *) base + f->offset, s);
        return 0;
}

static int p_mac(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s = scalar(n);
        int r = s ? mac_parse(s, (unsigned char *) base + f->offset) : -EINVAL;
        if (r == -EDOM)
                return perr(c, n, "%s: \"%s\" is a multicast address", flabel(f), s);
        static const unsigned char zero[6];
        if (r == 0 && memcmp((unsigned char *) base + f->offset, zero, 6) == 0)
                return perr(c, n, "%s: 00:00:00:00:00:00 is no interface's address", flabel(f));
        if (r < 0)
                return perr(c, n, "%s: bad MAC address \"%.64s\": expected xx:xx:xx:xx:xx:xx", flabel(f), s ? s : "");
        return 0;
}

int field_ipaddr(const char *label, const char *s, bool prefix, struct ipaddr *out, char *err, size_t err_size) {
        int r = s ? ipaddr_parse(s, prefix, out) : -EINVAL;
        if (r == -ERANGE)
                snprintf(err, err_size, "%s: prefix length in \"%.64s\" out of range 0..%u", label, s, strchr(s, ':') ? 128 : 32);
        else if (r == -EDOM)
                snprintf(err, err_size, "%s: \"%.64s\" needs a prefix length (ADDRESS/PREFIX)", label, s);
        else if (r < 0)
                snprintf(err, err_size, "%s: bad address \"%.64s\"", label, s ? s : "");
        return r < 0 ? -EINVAL : 0;
}

static int addr_value(struct pctx *c, yaml_node_t *n, const struct field *f, bool prefix, struct ipaddr *out) {
        char err[256];
        if (field_ipaddr(flabel(f), scalar(n), prefix, out, err, sizeof(err)) < 0)
                return perr(c, n, "%s", err);
        return 0;
}

static int p_ipaddr(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        return addr_value(c, n, f, f->min, (struct ipaddr *) ((char *) base + f->offset));
}

static int want_seq(struct pctx *c, yaml_node_t *n, const struct field *f) {
        if (n->type != YAML_SEQUENCE_NODE)
                return perr(c, n, "%s: expected a list", flabel(f));
        return 0;
}

#define SEQ_FOREACH(c, n, item)                                                                          \
        for (yaml_node_item_t *_i = (n)->data.sequence.items.start; _i < (n)->data.sequence.items.top; _i++) \
                for (yaml_node_t *item = yaml_document_get_node((c)->doc, *_i); item; item = NULL)

static int p_addr_list(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        struct addr_list *l = (struct addr_list *) ((char *) base + f->offset);
        int r = want_seq(c, n, f), ret = 0;
        if (r < 0)
                return r;
        SEQ_FOREACH(c, n, item) {
                struct ipaddr a;
                if (!budget_ok(c, item))
                        return -E2BIG;
                r = addr_value(c, item, f, true, &a);
                if (r < 0) {
                        ret = r;
                        continue;
                }
                bool dup = false;
                for (size_t i = 0; i < l->n; i++)
                        dup = dup || ipaddr_equal(&l->v[i], &a);
                if (dup) {
                        ret = perr(c, item, "%s: address %s listed twice", flabel(f), scalar(item));
                        continue;
                }
                *(struct ipaddr *) array_push(&l->v, &l->n, sizeof(a)) = a;
        }
        return ret;
}

/* min = 1: interface names; min = 0: any non-empty string (ipset entries). */
static int p_str_list(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        struct str_list *l = (struct str_list *) ((char *) base + f->offset);
        struct strset seen = { 0 };
        int r = want_seq(c, n, f), ret = 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++)
                strset_add(&seen, l->v[i]);
        SEQ_FOREACH(c, n, item) {
                const char *s;
                if (!budget_ok(c, item))
                        return -E2BIG;
                r = want_string(c, item, f, &s);
                if (r >= 0 && f->min == 1)
                        r = check_ifname(c, item, flabel(f), s);
                if (r >= 0 && f->min == 0 && (!*s || !xml_safe(s)))
                        r = perr(c, item, "%s: bad entry \"%.64s\"", flabel(f), s);
                if (r >= 0 && f->min == 1 && c->res && strcmp(s, c->res->name) == 0)
                        r = perr(c, item, "%s: %s cannot contain itself", flabel(f), s);
                if (r >= 0 && !strset_add(&seen, s))
                        r = perr(c, item, "%s: %s listed twice", flabel(f), s);
                if (r < 0) {
                        ret = r;
                        continue;
                }
                *(char **) array_push(&l->v, &l->n, sizeof(char *)) = xstrdup(s);
                if (f->min == 1)
                        note_ref(c, item, s);
        }
        strset_done(&seen);
        return ret;
}

/* A key met earlier in the same mapping is reported with both places. The scan
 * is quadratic in the keys of one mapping, which a field table keeps small. */
static bool duplicate_key(struct pctx *c, yaml_node_t *map, yaml_node_pair_t *at, const char *key, const char *what) {
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < at; q++) {
                yaml_node_t *qk = yaml_document_get_node(c->doc, q->key);
                if (scalar(qk) && strcmp(scalar(qk), key) == 0) {
                        yaml_node_t *k = yaml_document_get_node(c->doc, at->key);
                        perr(c, k, "duplicate key \"%.64s\"%s%s (first at %zu:%zu)", key, what ? " in " : "", what ? what : "",
                             qk->start_mark.line + 1, qk->start_mark.column + 1);
                        return true;
                }
        }
        return false;
}

/* Walk a mapping against a field table: unknown and duplicate keys are errors,
 * every field is parsed even after an error so that all errors are reported. */
static int parse_value(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

static int parse_fields(struct pctx *c, yaml_node_t *map, const struct field *table, size_t n_table, void *base,
                        uint64_t *set, const char *what, unsigned depth) {
        if (map->type != YAML_MAPPING_NODE)
                return perr(c, map, "%s: expected a mapping", what);
        if (depth > MAX_DEPTH)
                return perr(c, map, "%s: nested too deeply", what);
        int ret = 0;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                if (!budget_ok(c, k))
                        return -E2BIG;
                const char *key = scalar(k);
                if (!key) {
                        ret = perr(c, k, "%s: keys must be strings", what);
                        continue;
                }
                if (duplicate_key(c, map, p, key, what)) {
                        ret = -EINVAL;
                        continue;
                }
                const struct field *f = NULL;
                for (size_t i = 0; i < n_table && !f; i++)
                        if (strcmp(table[i].key, key) == 0)
                                f = &table[i];
                if (!f) {
                        ret = perr(c, k, "unknown key \"%.64s\" in %s", key, what);
                        continue;
                }
                int r = parse_value(c, v, f, base);
                if (r < 0)
                        ret = r;
                else if (set)
                        *set |= f->bit;
                if (base == c->res && f->bit) {
                        c->at[__builtin_ctzll(f->bit)] = v;
                        struct key_pos *kp = array_push(&c->res->keys, &c->res->n_keys, sizeof(*kp));
                        kp->bit = f->bit;
                        kp->pos = pos_of(c, v);
                }
        }
        return ret;
}


static int p_obj_list(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const struct sub_table *t = f->extra;
        void **arr = (void **) ((char *) base + f->offset);
        size_t *count = (size_t *) ((char *) arr + t->count_offset);
        int r = want_seq(c, n, f), ret = 0;
        if (r < 0)
                return r;
        SEQ_FOREACH(c, n, item) {
                if (!budget_ok(c, item))
                        return -E2BIG;
                char *e = array_push(arr, count, t->elem_size);
                *(struct srcpos *) (e + t->pos_offset) = pos_of(c, item);
                r = parse_fields(c, item, t->fields, t->n_fields, e, (uint64_t *) (e + t->set_offset), t->what, 2);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

static int p_obj(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const struct sub_table *t = f->extra;
        return parse_fields(c, n, t->fields, t->n_fields, (char *) base + f->offset, NULL, t->what, 2);
}

/* A named network namespace, as /run/netns/NAME holds it. */
static int p_netns_name(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        if (!*s || strlen(s) >= 64 || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || !xml_safe(s))
                return perr(c, n, "%s: bad namespace name \"%.64s\": 1-63 bytes, no '/'", flabel(f), printable(s));
        strcpy((char *) base + f->offset, s);
        return 0;
}

/* A user (min 0) or group (min 1) by number or by name, resolved on this host. */
static int p_user(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        uint32_t *out = (uint32_t *) ((char *) base + f->offset);
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (*s >= '0' && *s <= '9' && !*end && !errno && v < UINT32_MAX) {
                *out = (uint32_t) v;
                return 0;
        }
        if (f->min == 0) {
                struct passwd *pw = getpwnam(s);
                if (pw) {
                        *out = pw->pw_uid;
                        return 0;
                }
        } else {
                struct group *gr = getgrnam(s);
                if (gr) {
                        *out = gr->gr_gid;
                        return 0;
                }
        }
        return perr(c, n, "%s: no %s \"%.64s\" on this host", flabel(f), f->min ? "group" : "user", printable(s));
}

/* A scalar the kind parses itself (a route's to and table). */
static int p_custom(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        /* NULL for what is not one string: the kind says what it expected. */
        const char *s = scalar(n);
        char err[256];
        if (s && strlen(s) != n->data.scalar.length)
                s = NULL;
        if (f->parse(s, base, f, err, sizeof(err)) < 0)
                return perr(c, n, "%s", err);
        return 0;
}

static int p_children(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

static int parse_value(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        static int (*const parsers[])(struct pctx *, yaml_node_t *, const struct field *, void *) = {
                [FT_U32] = p_u32,         [FT_BOOL] = p_bool,         [FT_SIZE] = p_size,
                [FT_ENUM] = p_enum,       [FT_ENUM_WORD] = p_enum_word, [FT_ENUM_STR] = p_enum_str,
                [FT_IFNAME] = p_ifname,   [FT_STR] = p_str,           [FT_WORD] = p_word,
                [FT_MAC] = p_mac,         [FT_IPADDR] = p_ipaddr,     [FT_ADDR_LIST] = p_addr_list,
                [FT_STR_LIST] = p_str_list, [FT_OBJ] = p_obj,         [FT_OBJ_LIST] = p_obj_list,
                [FT_NETNS] = p_netns_name, [FT_USER] = p_user,        [FT_CHILDREN] = p_children,
                [FT_CUSTOM] = p_custom,
        };
        return parsers[f->type](c, n, f, base);
}

/* Walks the same tables parse_fields and p_children use, so the
 * documentation test sees what the parser accepts. */
static void walk_fields(const struct field *t, size_t n, const char *section, const char *prefix,
                        void (*fn)(void *u, const char *section, const char *key_path), void *u) {
        for (size_t i = 0; i < n; i++) {
                char path[128];
                snprintf(path, sizeof(path), "%s%s", prefix, t[i].key);
                fn(u, section, path);
                char sub[sizeof(path) + 4]; /* path and ".", "[]." or ".*." */
                if (t[i].type == FT_OBJ || t[i].type == FT_OBJ_LIST) {
                        const struct sub_table *st = t[i].extra;
                        snprintf(sub, sizeof(sub), "%s%s", path, t[i].type == FT_OBJ ? "." : "[].");
                        walk_fields(st->fields, st->n_fields, section, sub, fn, u);
                } else if (t[i].type == FT_CHILDREN) {
                        const struct kind_ops *child = t[i].extra;
                        snprintf(sub, sizeof(sub), "%s.*.", path);
                        walk_fields(child->fields, child->n_fields, section, sub, fn, u);
                }
        }
}

/* A kind that is only ever declared inside another's entry (volumes) has no section. */
static bool has_section(const struct kind_ops *k) {
        return !(k->flags & KF_CHILD);
}

void manifest_schema_walk(void (*fn)(void *u, const char *section, const char *key_path), void *u) {
        fn(u, NULL, "version");
        fn(u, NULL, "host");
        for (size_t k = 0; k < _KIND_MAX; k++) {
                const struct kind_ops *ops = kind_ops((enum kind) k);
                if (!has_section(ops))
                        continue;
                if (ops->flags & KF_NAME_VALUE) /* any valid name, one value each */
                        fn(u, ops->section, "*");
                else
                        walk_fields(ops->fields, ops->n_fields, ops->section, "", fn, u);
        }
}

/* ---- what a kind's check sees ---- */

struct check_ctx {
        struct pctx *p;
        yaml_node_t *name; /* the resource's key */
};

static yaml_node_t *check_node(struct check_ctx *c, uint64_t bit) {
        yaml_node_t *n = bit ? c->p->at[__builtin_ctzll(bit)] : NULL;
        return n ? n : c->name;
}

int check_error(struct check_ctx *c, uint64_t bit, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return perr(c->p, check_node(c, bit), "%s", msg);
}

const char *check_text(struct check_ctx *c, uint64_t bit) {
        const char *s = scalar(check_node(c, bit));
        return s ? s : "";
}

static yaml_node_t *check_item(struct check_ctx *c, uint64_t bit, size_t i) {
        yaml_node_t *n = bit ? c->p->at[__builtin_ctzll(bit)] : NULL;
        if (!n || n->type != YAML_SEQUENCE_NODE || i >= (size_t) (n->data.sequence.items.top - n->data.sequence.items.start))
                return NULL;
        return yaml_document_get_node(c->p->doc, n->data.sequence.items.start[i]);
}

size_t check_items(struct check_ctx *c, uint64_t bit) {
        yaml_node_t *n = bit ? c->p->at[__builtin_ctzll(bit)] : NULL;
        if (!n || n->type != YAML_SEQUENCE_NODE)
                return 0;
        return (size_t) (n->data.sequence.items.top - n->data.sequence.items.start);
}

const char *check_item_text(struct check_ctx *c, uint64_t bit, size_t i) {
        yaml_node_t *n = check_item(c, bit, i);
        const char *s = n ? scalar(n) : NULL;
        return s ? s : "";
}

int check_item_error(struct check_ctx *c, uint64_t bit, size_t i, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        yaml_node_t *n = check_item(c, bit, i);
        return perr(c->p, n ? n : check_node(c, bit), "%s", msg);
}

const struct model *check_declared(struct check_ctx *c) {
        return &c->p->set->model;
}

/* ---- sections: a mapping of names to entries of one kind ---- */

static bool name_valid(const struct kind_ops *k, const char *s) {
        if (k->name_valid)
                return k->name_valid(s);
        return *s && (!k->name_max || strlen(s) <= k->name_max) && !strchr(s, '/') && xml_safe(s) && strcmp(s, ".") &&
               strcmp(s, "..");
}

/* The name of an entry: reported and NULL when the kind refuses it. */
static const char *entry_name(struct pctx *c, const struct kind_ops *k, yaml_node_t *key) {
        const char *name = scalar(key);
        if (!name)
                return perr(c, key, "%s: names must be strings", k->section), NULL;
        if (k->name_max && strlen(name) > k->name_max && !k->name_valid)
                return perr(c, key, "%s name is %zu bytes: at most %zu%s", k->word, strlen(name), k->name_max,
                            k->name_long ? k->name_long : ""),
                       NULL;
        if (strlen(name) != key->data.scalar.length || !name_valid(k, name)) {
                /* The kind's message has one %s, for the name. */
                char msg[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                snprintf(msg, sizeof(msg), k->name_error, printable(name));
#pragma GCC diagnostic pop
                return perr(c, key, "%s", msg), NULL;
        }
        return name;
}

static int add_resource(struct pctx *c, struct resource *r, yaml_node_t *key) {
        int x = model_add(&c->set->model, r);
        if (x == -EEXIST) {
                struct resource *o = model_find(&c->set->model, r->kind, r->name);
                perr(c, key, "%s %s is already defined as %s at %s:%u:%u", kind_to_string(r->kind), r->name,
                     kind_to_string(o->kind), o->pos.file, o->pos.line, o->pos.col);
                resource_free(r);
                return -EEXIST;
        }
        return 0;
}

/* An entry that holds nothing but children (a pool's volumes) adds them to a
 * parent declared whole in another file; validate finds that parent. */
static bool children_only(struct pctx *c, const struct kind_ops *k, yaml_node_t *v) {
        if (v->type != YAML_MAPPING_NODE || v->data.mapping.pairs.top - v->data.mapping.pairs.start != 1)
                return false;
        yaml_node_t *key = yaml_document_get_node(c->doc, v->data.mapping.pairs.start->key);
        for (size_t i = 0; scalar(key) && i < k->n_fields; i++)
                if (k->fields[i].type == FT_CHILDREN && strcmp(k->fields[i].key, scalar(key)) == 0)
                        return true;
        return false;
}

/* One entry: its keys, then the kind's check; kept in the model when both pass. */
static int parse_entry(struct pctx *c, const struct kind_ops *k, enum kind kind, yaml_node_t *key, yaml_node_t *v,
                       const char *name, const struct resource *parent, unsigned depth) {
        struct resource *r = resource_new(kind, name);
        r->pos = pos_of(c, key);
        if (k->defaults)
                k->defaults(r);
        if (parent && k->adopt_parent)
                k->adopt_parent(r, parent);
        char what[300];
        snprintf(what, sizeof(what), "%s %s", k->word, r->name);
        struct resource *outer = c->res;
        yaml_node_t *outer_at[64];
        memcpy(outer_at, c->at, sizeof(outer_at));
        c->res = r;
        memset(c->at, 0, sizeof(c->at));
        int x = 0;
        if (k->flags & KF_NAME_VALUE) {
                x = parse_value(c, v, &k->fields[0], r);
                if (x >= 0)
                        r->set |= k->fields[0].bit;
        } else if (!(v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 && is_plain(v)))
                x = parse_fields(c, v, k->fields, k->n_fields, r, &r->set, what, depth);
        bool extension = x >= 0 && children_only(c, k, v);
        if (x >= 0 && !extension && k->check && r->state != STATE_ABSENT) {
                struct check_ctx cc = { c, key };
                x = k->check(&cc, r);
        }
        if (x >= 0 && !extension && (k->flags & KF_NOT_ABSENT) && r->state == STATE_ABSENT)
                x = perr(c, key, "%s %s: %s", k->word, name, k->never_absent);
        c->res = outer;
        memcpy(c->at, outer_at, sizeof(outer_at));
        if (x < 0 || extension) {
                /* An extension's children are resources of their own, added already. */
                resource_free(r);
                return x;
        }
        return add_resource(c, r, key);
}

static int parse_entries(struct pctx *c, const struct kind_ops *k, yaml_node_t *map, const struct resource *parent,
                         const char *what, unsigned depth) {
        if (map->type == YAML_SCALAR_NODE && map->data.scalar.length == 0)
                return 0; /* "bridges:" with nothing under it */
        if (map->type != YAML_MAPPING_NODE) {
                if (k->flags & KF_NAME_VALUE)
                        return perr(c, map, "%s: expected a mapping of keys to values", what);
                return perr(c, map, "%s: expected a mapping of names", what);
        }
        enum kind kind = kind_of_ops(k);
        int ret = 0;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *key = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                if (!budget_ok(c, key))
                        return -E2BIG;
                const char *name = entry_name(c, k, key);
                if (!name) {
                        ret = -EINVAL;
                        continue;
                }
                char *full = parent ? xasprintf("%s/%s", parent->name, name) : xstrdup(name);
                int x = parse_entry(c, k, kind, key, v, full, parent, depth);
                free(full);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

/* Resources declared inside another's entry (a pool's volumes), named PARENT/NAME. */
static int p_children(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        return parse_entries(c, f->extra, n, base, f->key, 2);
}

/* ---- after every file: checks across resources, phase by phase ---- */

int manifests_validate(struct manifest_set *set) {
        int ret = 0;
        uint32_t phases = 0;
        for (size_t k = 0; k < _KIND_MAX; k++)
                phases |= kind_ops((enum kind) k)->validate ? kind_ops((enum kind) k)->validate_phases : 0;
        for (unsigned phase = 0; phase < 32; phase++)
                for (size_t i = 0; (phases & (1u << phase)) && i < set->model.n; i++) {
                        struct resource *r = set->model.v[i];
                        const struct kind_ops *k = kind_ops(r->kind);
                        if (k->validate && (k->validate_phases & (1u << phase)) && k->validate(r, &set->model, phase) < 0)
                                ret = -EINVAL;
                }
        return ret;
}

static yaml_node_t *map_get(struct pctx *c, yaml_node_t *map, const char *key, yaml_node_t **key_node) {
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                if (scalar(k) && strcmp(scalar(k), key) == 0) {
                        if (key_node)
                                *key_node = k;
                        return yaml_document_get_node(c->doc, p->value);
                }
        }
        return NULL;
}

static const char *intern_file(struct manifest_set *set, const char *name) {
        char **slot = array_push(&set->files, &set->n_files, sizeof(char *));
        *slot = xstrdup(name);
        return *slot;
}

/* Fold every byte read into one digest (FNV-1a 64), so a run can name its revision. */
static void digest_update(struct manifest_set *set, const char *buf, size_t len) {
        uint64_t h = hash_fnv1a(set->digest[0] ? strtoull(set->digest, NULL, 16) : HASH_FNV1A_SEED, buf, len);
        snprintf(set->digest, sizeof(set->digest), "%016llx", (unsigned long long) h);
}

static int parse_document(struct pctx *c, const char *hostname) {
        yaml_node_t *root = yaml_document_get_root_node(c->doc);
        struct srcpos top = { c->file, 1, 1 };
        if (!root)
                return diag_pos(&top, "empty manifest: missing \"version: 1\"");
        if (root->type != YAML_MAPPING_NODE)
                return perr(c, root, "a manifest is a mapping with version: 1 and sections");
        yaml_node_t *vk = NULL, *version = map_get(c, root, "version", &vk);
        if (!version)
                return perr(c, root, "missing \"version: 1\"");
        if (!scalar(version))
                return perr(c, version, "version: expected 1");
        if (strcmp(scalar(version), "1") != 0)
                return perr(c, version, "unsupported version \"%.16s\": this reconcile reads version 1",
                            printable(scalar(version)));
        yaml_node_t *host = map_get(c, root, "host", NULL);
        if (host) {
                if (!scalar(host) || !*scalar(host))
                        return perr(c, host, "host: expected a glob string");
                if (fnmatch(scalar(host), hostname, 0) != 0) {
                        c->set->n_skipped_host++;
                        diag_debug("%s: skipped: host \"%s\" does not match %s", c->file, scalar(host), hostname);
                        return 0;
                }
        }
        int ret = 0;
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                const char *key = scalar(k);
                if (!key) {
                        ret = perr(c, k, "keys must be strings");
                        continue;
                }
                if (duplicate_key(c, root, p, key, NULL)) {
                        ret = -EINVAL;
                        continue;
                }
                if (strcmp(key, "version") == 0 || strcmp(key, "host") == 0)
                        continue;
                const struct kind_ops *kp = NULL;
                for (size_t i = 0; i < _KIND_MAX && !kp; i++)
                        if (has_section(kind_ops((enum kind) i)) && strcmp(kind_ops((enum kind) i)->section, key) == 0)
                                kp = kind_ops((enum kind) i);
                if (!kp) {
                        ret = perr(c, k, "unknown key \"%.64s\" at top level", key);
                        continue;
                }
                int r = parse_entries(c, kp, v, NULL, kp->section, 1);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

/* libyaml's loader is quadratic in nesting depth (its scanner rechecks every
 * open flow level for each token), so a small file of 100,000 nested brackets
 * costs a minute of CPU before any field table sees it. A pass over the
 * events, which stops at the first collection deeper than MAX_NESTING, refuses
 * such a file in time linear in its size, and one of millions of empty
 * collections before the loader spends a gigabyte on their nodes. It also
 * reports a syntax error with the same words the loader would use. */
static int check_nesting(const char *file, const char *buf, size_t len) {
        yaml_parser_t parser;
        yaml_event_t ev;
        unsigned depth = 0, nodes = 0;
        int ret = 0;
        if (!yaml_parser_initialize(&parser))
                return diag_plain(-ENOMEM, "%s: cannot initialize the YAML parser", file);
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
        for (;;) {
                if (!yaml_parser_parse(&parser, &ev)) {
                        struct srcpos p = { file, (unsigned) parser.problem_mark.line + 1,
                                            (unsigned) parser.problem_mark.column + 1 };
                        ret = diag_pos(&p, "YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                                       parser.context ? " " : "", parser.context ? parser.context : "");
                        break;
                }
                yaml_event_type_t t = ev.type;
                /* Nodes as written; the walk's budget also counts what aliases expand to. */
                bool node = t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT || t == YAML_SEQUENCE_START_EVENT ||
                            t == YAML_MAPPING_START_EVENT;
                if (node && ++nodes > MAX_NODES_PER_FILE) {
                        struct srcpos p = { file, (unsigned) ev.start_mark.line + 1, (unsigned) ev.start_mark.column + 1 };
                        ret = diag_pos(&p, "YAML: more than %u nodes", MAX_NODES_PER_FILE);
                } else if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
                        if (++depth > MAX_NESTING) {
                                struct srcpos p = { file, (unsigned) ev.start_mark.line + 1,
                                                    (unsigned) ev.start_mark.column + 1 };
                                ret = diag_pos(&p, "YAML: nested deeper than %u levels", MAX_NESTING);
                        }
                } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT)
                        depth--;
                yaml_event_delete(&ev);
                if (ret < 0 || t == YAML_STREAM_END_EVENT)
                        break;
        }
        yaml_parser_delete(&parser);
        return ret;
}

int manifest_parse_buffer(struct manifest_set *set, const char *name, const char *buf, size_t len,
                          const char *hostname) {
        yaml_parser_t parser;
        yaml_document_t doc;
        const char *file = intern_file(set, name);
        int ret = 0;

        digest_update(set, buf, len);
        ret = check_nesting(file, buf, len);
        if (ret < 0)
                return ret;
        if (!yaml_parser_initialize(&parser))
                return diag_plain(-ENOMEM, "%s: cannot initialize the YAML parser", file);
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
        if (!yaml_parser_load(&parser, &doc)) {
                struct srcpos p = { file, (unsigned) parser.problem_mark.line + 1,
                                    (unsigned) parser.problem_mark.column + 1 };
                ret = diag_pos(&p, "YAML: %s%s%s", parser.problem ? parser.problem : "syntax error",
                               parser.context ? " " : "", parser.context ? parser.context : "");
                yaml_parser_delete(&parser);
                return ret;
        }
        struct pctx c = { .set = set, .doc = &doc, .file = file };
        ret = parse_document(&c, hostname);
        yaml_document_delete(&doc);

        /* One document per file: a second one would be silently ignored otherwise. */
        if (ret >= 0) {
                yaml_document_t next;
                if (!yaml_parser_load(&parser, &next)) {
                        struct srcpos p = { file, (unsigned) parser.problem_mark.line + 1,
                                            (unsigned) parser.problem_mark.column + 1 };
                        ret = diag_pos(&p, "YAML: %s", parser.problem ? parser.problem : "syntax error");
                } else {
                        yaml_node_t *root2 = yaml_document_get_root_node(&next);
                        if (root2) {
                                struct srcpos p = { file, (unsigned) root2->start_mark.line + 1,
                                                    (unsigned) root2->start_mark.column + 1 };
                                ret = diag_pos(&p, "a manifest holds one YAML document; found a second");
                        }
                        yaml_document_delete(&next);
                }
        }
        yaml_parser_delete(&parser);
        return ret;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool manifest_name(const char *n) {
        size_t len = strlen(n);
        if (n[0] == '.')
                return false;
        return (len > 5 && strcmp(n + len - 5, ".yaml") == 0) || (len > 4 && strcmp(n + len - 4, ".yml") == 0);
}

#define MAX_MANIFEST_BYTES (64u << 20)

static int read_manifest(const char *dir, int dfd, const char *name, bool check_perms, char **buf, size_t *len) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        /* O_NOFOLLOW: a symlink could point anywhere outside the reviewed directory. */
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0) {
                if (errno == ELOOP)
                        return diag_plain(-ELOOP, "%s: manifests must be regular files, not symlinks", path);
                return diag_plain(-errno, "%s: %s", path, strerror(errno));
        }
        struct stat st;
        int r = 0;
        if (fstat(fd, &st) < 0)
                r = diag_plain(-errno, "%s: %s", path, strerror(errno));
        else if (!S_ISREG(st.st_mode))
                r = diag_plain(-EINVAL, "%s: not a regular file", path);
        else if (check_perms)
                r = stat_check_private(path, &st, false);
        if (r == 0 && (uint64_t) st.st_size > MAX_MANIFEST_BYTES)
                r = diag_plain(-EFBIG, "%s: larger than %u MiB", path, MAX_MANIFEST_BYTES >> 20);
        if (r < 0) {
                close(fd);
                return r;
        }
        *buf = xcalloc(1, (size_t) st.st_size + 1);
        size_t off = 0;
        while (off < (size_t) st.st_size) {
                ssize_t n = read(fd, *buf + off, (size_t) st.st_size - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                off += (size_t) n;
        }
        close(fd);
        *len = off;
        return 0;
}

int manifests_load(const char *dir, const char *hostname, bool check_perms, struct manifest_set *set) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return diag_plain(-errno, "%s: cannot open manifest directory: %s", dir, strerror(errno));
        int ret = 0;
        if (check_perms) {
                struct stat st;
                if (fstat(dfd, &st) < 0)
                        ret = diag_plain(-errno, "%s: %s", dir, strerror(errno));
                else
                        ret = stat_check_private(dir, &st, false);
                if (ret < 0) {
                        close(dfd);
                        return ret;
                }
        }
        DIR *d = fdopendir(dup(dfd));
        if (!d) {
                close(dfd);
                return diag_plain(-errno, "%s: %s", dir, strerror(errno));
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (manifest_name(de->d_name))
                        *(char **) array_push(&names, &n, sizeof(char *)) = xstrdup(de->d_name);
        closedir(d);
        if (n)
                qsort(names, n, sizeof(char *), name_cmp);
        for (size_t i = 0; i < n; i++) {
                char *buf = NULL;
                size_t len = 0;
                int r = read_manifest(dir, dfd, names[i], check_perms, &buf, &len);
                if (r >= 0) {
                        _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
                        r = manifest_parse_buffer(set, path, buf, len, hostname);
                }
                if (r < 0)
                        ret = r;
                free(buf);
                free(names[i]);
        }
        free(names);
        close(dfd);
        if (ret >= 0)
                ret = manifests_validate(set);
        return ret;
}

void manifests_done(struct manifest_set *set) {
        model_done(&set->model);
        for (size_t i = 0; i < set->n_files; i++)
                free(set->files[i]);
        free(set->files);
        memset(set, 0, sizeof(*set));
}
