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

struct field;
typedef int (*field_parser)(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

struct field {
        const char *key;
        field_parser parse;
        size_t offset;
        int64_t min, max;
        uint64_t bit;
        const void *extra;
        const char *label; /* in range errors, e.g. "vlan id"; defaults to key */
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
static const char *printable(const char *s) {
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
static bool xml_safe(const char *s) {
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

enum { STR_WORD = 0, STR_PATH = 1 };

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

static int addr_value(struct pctx *c, yaml_node_t *n, const struct field *f, bool prefix, struct ipaddr *out) {
        const char *s = scalar(n);
        int r = s ? ipaddr_parse(s, prefix, out) : -EINVAL;
        if (r == -ERANGE)
                return perr(c, n, "%s: prefix length in \"%.64s\" out of range 0..%u", flabel(f), s,
                            strchr(s, ':') ? 128 : 32);
        if (r == -EDOM)
                return perr(c, n, "%s: \"%.64s\" needs a prefix length (ADDRESS/PREFIX)", flabel(f), s);
        if (r < 0)
                return perr(c, n, "%s: bad address \"%.64s\"", flabel(f), s ? s : "");
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
                int r = f->parse(c, v, f, base);
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

/* Lists of mappings (disks, interfaces, reals) and nested mappings (dhcp). */
struct sub_table {
        const struct field *fields;
        size_t n_fields;
        size_t elem_size;
        size_t pos_offset, set_offset; /* of srcpos and the set bits in each element */
        size_t count_offset;           /* of the size_t count, relative to the array pointer */
        const char *what;
};

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

/* "default", a network (host bits clear) or a bare address (a host route). */
static int p_route_to(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        struct route_spec *rt = &((struct resource *) base)->route;
        const char *s = scalar(n);
        if (s && strcmp(s, "default") == 0) {
                memset(&rt->to, 0, sizeof(rt->to));
                rt->to.family = AF_INET;
                rt->to_default = true;
                return 0;
        }
        int r = addr_value(c, n, f, s && strchr(s, '/'), &rt->to);
        if (r < 0)
                return r;
        unsigned bytes = rt->to.family == AF_INET ? 4 : 16;
        for (unsigned i = 0; i < bytes * 8; i++)
                if (i >= rt->to.prefix && (rt->to.a[i / 8] & (0x80 >> (i % 8))))
                        return perr(c, n, "%s: \"%.64s\" has host bits set beyond /%u", flabel(f), s, rt->to.prefix);
        rt->to_default = false;
        return 0;
}

static int p_route_table(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        static const struct { const char *name; uint32_t id; } names[] = { { "main", 254 }, { "default", 253 } };
        const char *s = scalar(n);
        for (size_t i = 0; s && i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i].name) == 0) {
                        *(uint32_t *) ((char *) base + f->offset) = names[i].id;
                        return 0;
                }
        if (s && strcmp(s, "local") == 0)
                return perr(c, n, "%s: the local table belongs to the kernel", flabel(f));
        return p_u32(c, n, f, base);
}

#define R(member) offsetof(struct resource, member)
#define STATE_FIELD(tbl) { "state", p_enum, R(state), 0, 0, RES_F_STATE, &tbl, NULL }
/* What every created link kind takes besides its own keys. */
#define LINK_COMMON_FIELDS                                                                       \
        { "addresses", p_addr_list, R(link.addresses), 0, 0, LINK_F_ADDRESSES, NULL, NULL },     \
                { "mtu", p_u32, R(link.mtu), 68, 65535, LINK_F_MTU, NULL, NULL },                 \
                { "mac", p_mac, R(link.mac), 0, 0, LINK_F_MAC, NULL, NULL },                      \
                { "up", p_bool, R(link.up), 0, 0, LINK_F_UP, NULL, NULL }, STATE_FIELD(state_table)

static const struct field ethernet_fields[] = {
        { "mtu", p_u32, R(link.mtu), 68, 65535, LINK_F_MTU, NULL, NULL },
        { "up", p_bool, R(link.up), 0, 0, LINK_F_UP, NULL, NULL },
        { "addresses", p_addr_list, R(link.addresses), 0, 0, LINK_F_ADDRESSES, NULL, NULL },
        { "mac", p_mac, R(link.mac), 0, 0, LINK_F_MAC, NULL, NULL },
        STATE_FIELD(state_table), /* present only: absent is refused with its reason */
};

static const struct field bridge_fields[] = {
        { "interfaces", p_str_list, R(link.interfaces), 1, 0, LINK_F_INTERFACES, NULL, NULL },
        { "addresses", p_addr_list, R(link.addresses), 0, 0, LINK_F_ADDRESSES, NULL, NULL },
        { "mtu", p_u32, R(link.mtu), 68, 65535, LINK_F_MTU, NULL, NULL },
        { "mac", p_mac, R(link.mac), 0, 0, LINK_F_MAC, NULL, NULL },
        { "stp", p_bool, R(link.stp), 0, 0, LINK_F_STP, NULL, NULL },
        /* The kernel takes 2..30 s of forward delay while STP runs; 0 is fine without it. */
        { "forward-delay", p_u32, R(link.forward_delay), 0, 30, LINK_F_FORWARD_DELAY, NULL, NULL },
        { "up", p_bool, R(link.up), 0, 0, LINK_F_UP, NULL, NULL },
        STATE_FIELD(state_table),
};

static const struct field vlan_fields[] = {
        { "link", p_ifname, R(link.link), 0, 0, LINK_F_LINK, NULL, NULL },
        { "id", p_u32, R(link.vlan_id), 1, 4094, LINK_F_ID, NULL, "vlan id" },
        LINK_COMMON_FIELDS,
};

static const struct field bond_fields[] = {
        { "interfaces", p_str_list, R(link.interfaces), 1, 0, LINK_F_INTERFACES, NULL, NULL },
        { "mode", p_enum, R(link.mode), 0, 0, LINK_F_MODE, &bond_mode_table, NULL },
        { "miimon", p_u32, R(link.miimon), 0, INT32_MAX, LINK_F_MIIMON, NULL, NULL },
        { "lacp-rate", p_enum, R(link.lacp_rate), 0, 0, LINK_F_LACP_RATE, &lacp_rate_table, NULL },
        { "xmit-hash-policy", p_enum, R(link.xmit_hash), 0, 0, LINK_F_XMIT_HASH, &xmit_hash_table, NULL },
        LINK_COMMON_FIELDS,
};

static const struct field vxlan_fields[] = {
        { "vni", p_u32, R(link.vni), 0, 16777215, LINK_F_VNI, NULL, NULL },
        { "local", p_ipaddr, R(link.local), 0, 0, LINK_F_LOCAL, NULL, NULL },
        { "remote", p_ipaddr, R(link.remote), 0, 0, LINK_F_REMOTE, NULL, NULL },
        { "group", p_ipaddr, R(link.group), 0, 0, LINK_F_GROUP, NULL, NULL },
        { "dev", p_ifname, R(link.link), 0, 0, LINK_F_LINK, NULL, NULL },
        { "port", p_u32, R(link.port), 1, 65535, LINK_F_PORT, NULL, NULL },
        { "learning", p_bool, R(link.learning), 0, 0, LINK_F_LEARNING, NULL, NULL },
        LINK_COMMON_FIELDS,
};

/* macvlans and macvtaps take the same keys. */
static const struct field macvlan_fields[] = {
        { "link", p_ifname, R(link.link), 0, 0, LINK_F_LINK, NULL, NULL },
        { "mode", p_enum, R(link.mode), 0, 0, LINK_F_MODE, &macvlan_mode_table, NULL },
        LINK_COMMON_FIELDS,
};

static int p_netns_name(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

static const struct field veth_fields[] = {
        { "peer", p_ifname, R(link.peer), 0, 0, LINK_F_PEER, NULL, NULL },
        { "peer-netns", p_netns_name, R(link.peer_netns), 0, 0, LINK_F_PEER_NETNS, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static int p_user(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

static const struct field tap_fields[] = {
        { "owner", p_user, R(link.owner), 0, 0, LINK_F_OWNER, NULL, NULL },
        { "group", p_user, R(link.group_id), 1, 0, LINK_F_GROUP_ID, NULL, NULL },
        { "multi-queue", p_bool, R(link.multi_queue), 0, 0, LINK_F_MULTI_QUEUE, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static int p_route_to(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);
static int p_route_table(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

static const struct field route_fields[] = {
        { "to", p_route_to, 0, 0, 0, ROUTE_F_TO, NULL, NULL },
        { "via", p_ipaddr, R(route.via), 0, 0, ROUTE_F_VIA, NULL, NULL },
        { "dev", p_ifname, R(route.dev), 0, 0, ROUTE_F_DEV, NULL, NULL },
        { "metric", p_u32, R(route.metric), 0, UINT32_MAX, ROUTE_F_METRIC, NULL, NULL },
        { "table", p_route_table, R(route.table), 1, UINT32_MAX, ROUTE_F_TABLE, NULL, NULL },
        { "scope", p_enum, R(route.scope), 0, 0, ROUTE_F_SCOPE, &route_scope_table, NULL },
        { "type", p_enum, R(route.type), 0, 0, ROUTE_F_TYPE, &route_type_table, NULL },
        STATE_FIELD(state_table),
};

#define D(member) offsetof(struct dhcp_range, member)
static const struct field dhcp_fields[] = {
        { "start", p_ipaddr, D(start), 0, 0, 0, NULL, "dhcp start" },
        { "end", p_ipaddr, D(end), 0, 0, 0, NULL, "dhcp end" },
};
static const struct sub_table dhcp_sub = { dhcp_fields, ELEMENTSOF(dhcp_fields), 0, 0, 0, 0, "dhcp" };

static const struct field network_fields[] = {
        { "mode", p_enum, R(network.mode), 0, 0, NET_F_MODE, &net_mode_table, NULL },
        { "bridge", p_ifname, R(network.bridge), 0, 0, NET_F_BRIDGE, NULL, NULL },
        { "dev", p_ifname, R(network.dev), 0, 0, NET_F_DEV, NULL, NULL },
        { "macvtap-mode", p_enum, R(network.macvtap_mode), 0, 0, NET_F_MACVTAP_MODE, &macvtap_mode_table, NULL },
        { "address", p_ipaddr, R(network.address), 1, 0, NET_F_ADDRESS, NULL, NULL },
        { "dhcp", p_obj, R(network.dhcp), 0, 0, NET_F_DHCP, &dhcp_sub, NULL },
        { "autostart", p_bool, R(network.autostart), 0, 0, NET_F_AUTOSTART, NULL, NULL },
        { "active", p_bool, R(network.active), 0, 0, NET_F_ACTIVE, NULL, NULL },
        STATE_FIELD(state_table),
};

static int p_volumes(struct pctx *c, yaml_node_t *n, const struct field *f, void *base);

static const struct field pool_fields[] = {
        { "type", p_enum_str, R(pool.type), 0, 0, POOL_F_TYPE, &pool_type_table, NULL },
        { "path", p_str, R(pool.path), STR_PATH, 0, POOL_F_PATH, NULL, NULL },
        { "source", p_str, R(pool.source), STR_WORD, 0, POOL_F_SOURCE, NULL, NULL },
        { "host", p_str, R(pool.host), STR_WORD, 0, POOL_F_HOST, NULL, NULL },
        { "autostart", p_bool, R(pool.autostart), 0, 0, POOL_F_AUTOSTART, NULL, NULL },
        { "active", p_bool, R(pool.active), 0, 0, POOL_F_ACTIVE, NULL, NULL },
        { "volumes", p_volumes, 0, 0, 0, 0, NULL, NULL },
        STATE_FIELD(state_table),
};

static const struct field volume_fields[] = {
        { "capacity", p_size, R(volume.capacity), 1, 0, VOL_F_CAPACITY, NULL, NULL },
        { "format", p_enum, R(volume.format), 0, 0, VOL_F_FORMAT, &vol_format_table, NULL },
        { "preallocation", p_enum, R(volume.prealloc), 0, 0, VOL_F_PREALLOC, &prealloc_table, NULL },
        STATE_FIELD(state_table),
};

#define DK(member) offsetof(struct disk_spec, member)
static const struct field disk_fields[] = {
        { "volume", p_str, DK(volume), STR_WORD, 0, DISK_F_VOLUME, NULL, NULL },
        { "cdrom", p_str, DK(cdrom), STR_PATH, 0, DISK_F_CDROM, NULL, NULL },
        { "bus", p_enum, DK(bus), 0, 0, DISK_F_BUS, &disk_bus_table, NULL },
        { "cache", p_enum, DK(cache), 0, 0, DISK_F_CACHE, &disk_cache_table, NULL },
        { "discard", p_enum, DK(discard), 0, 0, DISK_F_DISCARD, &disk_discard_table, NULL },
        { "shareable", p_bool, DK(shareable), 0, 0, DISK_F_SHAREABLE, NULL, NULL },
};
static const struct sub_table disk_sub = { disk_fields, ELEMENTSOF(disk_fields), sizeof(struct disk_spec),
                                           DK(pos), DK(set),
                                           offsetof(struct domain_spec, n_disks) - offsetof(struct domain_spec, disks),
                                           "disk" };
#define NI(member) offsetof(struct nic_spec, member)
static const struct field nic_fields[] = {
        { "bridge", p_ifname, NI(bridge), 0, 0, NIC_F_BRIDGE, NULL, NULL },
        { "network", p_str, NI(network), STR_WORD, 0, NIC_F_NETWORK, NULL, NULL },
        { "model", p_enum, NI(model), 0, 0, NIC_F_MODEL, &nic_model_table, NULL },
        { "mac", p_mac, NI(mac), 0, 0, NIC_F_MAC, NULL, NULL },
};
static const struct sub_table nic_sub = { nic_fields, ELEMENTSOF(nic_fields), sizeof(struct nic_spec), NI(pos),
                                          NI(set), offsetof(struct domain_spec, n_nics) - offsetof(struct domain_spec, nics),
                                          "interface" };

static const struct field domain_fields[] = {
        { "vcpus", p_u32, R(domain.vcpus), 1, 4096, DOM_F_VCPUS, NULL, NULL },
        { "max-vcpus", p_u32, R(domain.max_vcpus), 1, 4096, DOM_F_MAX_VCPUS, NULL, NULL },
        { "memory", p_size, R(domain.memory), 1 << 20, 0, DOM_F_MEMORY, NULL, NULL },
        { "max-memory", p_size, R(domain.max_memory), 1 << 20, 0, DOM_F_MAX_MEMORY, NULL, NULL },
        { "cpu", p_str, R(domain.cpu), STR_WORD, 0, DOM_F_CPU, NULL, NULL },
        { "memory-backing", p_enum, R(domain.memory_backing), 0, 0, DOM_F_MEMBACK, &mem_backing_table, NULL },
        { "state", p_enum, R(state), 0, 0, RES_F_STATE, &domain_state_table, NULL },
        { "autostart", p_bool, R(domain.autostart), 0, 0, DOM_F_AUTOSTART, NULL, NULL },
        { "disks", p_obj_list, R(domain.disks), 0, 0, DOM_F_DISKS, &disk_sub, NULL },
        { "interfaces", p_obj_list, R(domain.nics), 0, 0, DOM_F_INTERFACES, &nic_sub, NULL },
        { "machine", p_str, R(domain.machine), STR_WORD, 0, DOM_F_MACHINE, NULL, NULL },
        { "kernel", p_str, R(domain.kernel), STR_PATH, 0, DOM_F_KERNEL, NULL, NULL },
        { "initrd", p_str, R(domain.initrd), STR_PATH, 0, DOM_F_INITRD, NULL, NULL },
        { "cmdline", p_str, R(domain.cmdline), STR_WORD, 0, DOM_F_CMDLINE, NULL, NULL },
        { "shutdown-timeout", p_u32, R(domain.shutdown_timeout), 1, 86400, DOM_F_SHUTDOWN_TIMEOUT, NULL, NULL },
        { "force-off", p_bool, R(domain.force_off), 0, 0, DOM_F_FORCE_OFF, NULL, NULL },
};

#define RS(member) offsetof(struct real_spec, member)
static const struct field real_fields[] = {
        { "address", p_ipaddr, RS(address), 0, 0, REAL_F_ADDRESS, NULL, NULL },
        { "port", p_u32, RS(port), 0, 65535, REAL_F_PORT, NULL, NULL },
        { "weight", p_u32, RS(weight), 0, INT32_MAX, REAL_F_WEIGHT, NULL, NULL },
        { "forwarding", p_enum, RS(forwarding), 0, 0, REAL_F_FORWARDING, &ipvs_fwd_table, NULL },
        { "upper", p_u32, RS(upper), 0, UINT32_MAX, REAL_F_UPPER, NULL, NULL },
        { "lower", p_u32, RS(lower), 0, UINT32_MAX, REAL_F_LOWER, NULL, NULL },
};
static const struct sub_table real_sub = { real_fields, ELEMENTSOF(real_fields), sizeof(struct real_spec), RS(pos),
                                           RS(set),
                                           offsetof(struct service_spec, n_reals) - offsetof(struct service_spec, reals),
                                           "real" };

static const struct field service_fields[] = {
        { "protocol", p_enum, R(service.protocol), 0, 0, SVC_F_PROTOCOL, &ipvs_proto_table, NULL },
        { "address", p_ipaddr, R(service.address), 0, 0, SVC_F_ADDRESS, NULL, NULL },
        { "port", p_u32, R(service.port), 0, 65535, SVC_F_PORT, NULL, NULL },
        { "fwmark", p_u32, R(service.fwmark), 1, UINT32_MAX, SVC_F_FWMARK, NULL, NULL },
        { "family", p_enum, R(service.family), 0, 0, SVC_F_FAMILY, &inet_family_table, NULL },
        { "scheduler", p_enum_word, R(service.scheduler), 0, 16, SVC_F_SCHEDULER, &ipvs_sched_table, NULL },
        { "persistence", p_u32, R(service.persistence), 1, UINT32_MAX, SVC_F_PERSISTENCE, NULL, NULL },
        { "netmask", p_ipaddr, R(service.netmask), 0, 0, SVC_F_NETMASK, NULL, NULL },
        { "forwarding", p_enum, R(service.forwarding), 0, 0, SVC_F_FORWARDING, &ipvs_fwd_table, NULL },
        { "drain-seconds", p_u32, R(service.drain_seconds), 0, 86400 * 7, SVC_F_DRAIN, NULL, NULL },
        { "reals", p_obj_list, R(service.reals), 0, 0, SVC_F_REALS, &real_sub, NULL },
        STATE_FIELD(state_table),
};

static const struct field ipset_fields[] = {
        { "type", p_enum_word, R(ipset.type), 0, 32, SET_F_TYPE, &ipset_type_table, NULL },
        { "family", p_enum, R(ipset.family), 0, 0, SET_F_FAMILY, &inet_family_table, NULL },
        { "maxelem", p_u32, R(ipset.maxelem), 1, UINT32_MAX, SET_F_MAXELEM, NULL, NULL },
        { "hashsize", p_u32, R(ipset.hashsize), 64, UINT32_MAX, SET_F_HASHSIZE, NULL, NULL },
        { "timeout", p_u32, R(ipset.timeout), 0, 2147483, SET_F_TIMEOUT, NULL, NULL },
        { "comment", p_bool, R(ipset.comment), 0, 0, SET_F_COMMENT, NULL, NULL },
        { "entries", p_str_list, R(ipset.entries), 0, 0, SET_F_ENTRIES, NULL, NULL },
        { "range", p_word, R(ipset.range), 0, 64, SET_F_RANGE, NULL, NULL },
        STATE_FIELD(state_table),
};

struct kind_parser {
        enum kind kind;
        const struct field *fields;
        size_t n_fields;
        void (*defaults)(struct resource *r);
};

static void link_defaults(struct resource *r) {
        r->link.up = true;
        r->link.forward_delay = 15;
        r->link.learning = true;
        r->link.port = 4789; /* IANA's VXLAN port; the kernel's own default is Linux's old 8472 */
        r->link.mode = r->kind == KIND_BOND ? BOND_BALANCE_RR : MVLAN_BRIDGE;
}
static void route_defaults(struct resource *r) {
        r->route.table = 254; /* main */
}
static void network_defaults(struct resource *r) {
        r->network.mode = NET_NAT;
        r->network.autostart = r->network.active = true;
}
static void pool_defaults(struct resource *r) {
        r->pool.autostart = r->pool.active = true;
}
static void domain_defaults(struct resource *r) {
        r->state = STATE_RUNNING;
        r->domain.vcpus = 1;
        r->domain.shutdown_timeout = 120; /* what libvirt-guests waits for a guest to shut down */
}
static void service_defaults(struct resource *r) {
        r->service.protocol = PROTO_TCP;
        r->service.forwarding = FWD_MASQ;
        strcpy(r->service.scheduler, "wlc");
}

/* One entry per top-level section; adding a kind adds a line here. */
static const struct kind_parser kind_parsers[] = {
        { KIND_ETHERNET, ethernet_fields, ELEMENTSOF(ethernet_fields), link_defaults },
        { KIND_BRIDGE, bridge_fields, ELEMENTSOF(bridge_fields), link_defaults },
        { KIND_VLAN, vlan_fields, ELEMENTSOF(vlan_fields), link_defaults },
        { KIND_BOND, bond_fields, ELEMENTSOF(bond_fields), link_defaults },
        { KIND_VXLAN, vxlan_fields, ELEMENTSOF(vxlan_fields), link_defaults },
        { KIND_MACVLAN, macvlan_fields, ELEMENTSOF(macvlan_fields), link_defaults },
        { KIND_MACVTAP, macvlan_fields, ELEMENTSOF(macvlan_fields), link_defaults },
        { KIND_VETH, veth_fields, ELEMENTSOF(veth_fields), link_defaults },
        { KIND_TAP, tap_fields, ELEMENTSOF(tap_fields), link_defaults },
        { KIND_ROUTE, route_fields, ELEMENTSOF(route_fields), route_defaults },
        { KIND_SYSCTL, NULL, 0, NULL }, /* a flat mapping of keys to values: parse_sysctls */
        { KIND_NETWORK, network_fields, ELEMENTSOF(network_fields), network_defaults },
        { KIND_POOL, pool_fields, ELEMENTSOF(pool_fields), pool_defaults },
        { KIND_DOMAIN, domain_fields, ELEMENTSOF(domain_fields), domain_defaults },
        { KIND_SERVICE, service_fields, ELEMENTSOF(service_fields), service_defaults },
        { KIND_IPSET, ipset_fields, ELEMENTSOF(ipset_fields), NULL },
};

/* Walks the same tables parse_document, parse_fields, p_obj, p_obj_list and
 * p_volumes use, so the documentation test sees what the parser accepts. */
static void walk_fields(const struct field *t, size_t n, const char *section, const char *prefix,
                        void (*fn)(void *u, const char *section, const char *key_path), void *u) {
        for (size_t i = 0; i < n; i++) {
                char path[128];
                snprintf(path, sizeof(path), "%s%s", prefix, t[i].key);
                fn(u, section, path);
                char sub[sizeof(path) + 4]; /* path and ".", "[]." or ".*." */
                if (t[i].parse == p_obj || t[i].parse == p_obj_list) {
                        const struct sub_table *st = t[i].extra;
                        snprintf(sub, sizeof(sub), "%s%s", path, t[i].parse == p_obj ? "." : "[].");
                        walk_fields(st->fields, st->n_fields, section, sub, fn, u);
                } else if (t[i].parse == p_volumes) {
                        snprintf(sub, sizeof(sub), "%s.*.", path);
                        walk_fields(volume_fields, ELEMENTSOF(volume_fields), section, sub, fn, u);
                }
        }
}

void manifest_schema_walk(void (*fn)(void *u, const char *section, const char *key_path), void *u) {
        fn(u, NULL, "version");
        fn(u, NULL, "host");
        for (size_t i = 0; i < ELEMENTSOF(kind_parsers); i++) {
                const char *section = kind_to_section(kind_parsers[i].kind);
                if (kind_parsers[i].kind == KIND_SYSCTL) /* parse_sysctls: any valid net. key */
                        fn(u, section, "*");
                else
                        walk_fields(kind_parsers[i].fields, kind_parsers[i].n_fields, section, "", fn, u);
        }
}

/* The length (31 bytes) has its own message, after this. */
static bool ipset_name_valid(const char *s) {
        if (!*s)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= ' ' || *p == '"' || *p == 0x7f)
                        return false;
        return true;
}

/* libvirt keeps a domain's definition as NAME.xml (and its log as NAME.log):
 * a file name holds NAME_MAX (255) bytes, so a longer name is refused when
 * the domain is defined. */
#define DOMAIN_NAME_MAX (255 - 4)

static size_t name_max(enum kind k) {
        return k == KIND_DOMAIN ? DOMAIN_NAME_MAX : 199;
}

static bool name_valid(enum kind k, const char *s) {
        if (kind_is_link(k))
                return ifname_valid(s);
        if (k == KIND_IPSET) /* libipset's text commands split at blanks and '"' */
                return ipset_name_valid(s);
        if (k == KIND_ROUTE) /* show names routes by their key: "10.0.0.0/8 table main metric 0" */
                return *s && strlen(s) < 200 && xml_safe(s);
        return *s && strlen(s) <= name_max(k) && !strchr(s, '/') && xml_safe(s) && strcmp(s, ".") && strcmp(s, "..");
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

static int check_ipset(struct pctx *c, struct resource *r, yaml_node_t *key);
static uint32_t ipv4_host(const struct ipaddr *a);
/* The value node of a key the resource has (its bit is in r->set). */
#define AT(bit) c->at[__builtin_ctzll(bit)]

static bool subnets_overlap(const struct ipaddr *a, const struct ipaddr *b) {
        struct ipaddr wider = a->prefix <= b->prefix ? *a : *b;
        return a->family == b->family && ipaddr_in_subnet(&wider, a->prefix <= b->prefix ? b : a);
}

/* A network that makes its own bridge (nat, route, isolated). */
static bool network_makes_bridge(const struct resource *r) {
        return r->network.mode != NET_BRIDGE && r->network.mode != NET_MACVTAP;
}

/* libvirt refuses a second network on a bridge another one makes, and one
 * whose subnet overlaps another's when it starts it; the networks declared
 * before this one are in the model already, so the later one is reported, at
 * its key, with the place of the first. */
static int check_network_clash(struct pctx *c, const struct resource *r) {
        const struct model *m = &c->set->model;
        for (size_t i = 0; i < m->n; i++) {
                const struct resource *o = m->v[i];
                if (o->kind != KIND_NETWORK || o->state == STATE_ABSENT)
                        continue;
                if ((r->set & NET_F_BRIDGE) && (o->set & NET_F_BRIDGE) && strcmp(r->network.bridge, o->network.bridge) == 0 &&
                    (network_makes_bridge(r) || network_makes_bridge(o)))
                        return perr(c, AT(NET_F_BRIDGE), "network %s: bridge %s is also the bridge of network %s at %s:%u:%u",
                                    r->name, r->network.bridge, o->name, o->pos.file, o->pos.line, o->pos.col);
                if ((r->set & NET_F_ADDRESS) && (o->set & NET_F_ADDRESS) && subnets_overlap(&r->network.address, &o->network.address)) {
                        char a[64], b[64];
                        struct ipaddr rn = r->network.address, on = o->network.address;
                        return perr(c, AT(NET_F_ADDRESS), "network %s: address %s overlaps %s of network %s at %s:%u:%u",
                                    r->name, ipaddr_format(&rn, true, a, sizeof(a)), ipaddr_format(&on, true, b, sizeof(b)),
                                    o->name, o->pos.file, o->pos.line, o->pos.col);
                }
        }
        return 0;
}

/* Semantic checks of one resource that a field table cannot express. */
static int check_resource(struct pctx *c, struct resource *r, yaml_node_t *key) {
        if (r->state == STATE_ABSENT)
                return 0;
        switch (r->kind) {
        case KIND_BRIDGE:
                /* br_set_forward_delay() answers ERANGE below 2 s while STP runs. */
                if (r->link.stp && r->link.forward_delay < 2)
                        return perr(c, AT(LINK_F_FORWARD_DELAY), "bridge %s: forward-delay %u: with stp the kernel takes 2..30",
                                    r->name, r->link.forward_delay);
                break;
        case KIND_VLAN:
                if (!(r->set & LINK_F_LINK) || !(r->set & LINK_F_ID))
                        return perr(c, key, "vlan %s needs link and id", r->name);
                if (strcmp(r->link.link, r->name) == 0)
                        return perr(c, key, "vlan %s cannot sit on itself", r->name);
                break;
        case KIND_MACVLAN:
        case KIND_MACVTAP:
                if (!(r->set & LINK_F_LINK))
                        return perr(c, key, "%s %s needs link (its parent)", kind_to_string(r->kind), r->name);
                if (strcmp(r->link.link, r->name) == 0)
                        return perr(c, key, "%s %s cannot sit on itself", kind_to_string(r->kind), r->name);
                break;
        case KIND_VXLAN: {
                const struct link_spec *l = &r->link;
                if (!(r->set & LINK_F_VNI))
                        return perr(c, key, "vxlan %s needs a vni", r->name);
                if ((r->set & LINK_F_REMOTE) && (r->set & LINK_F_GROUP))
                        return perr(c, key, "vxlan %s: remote and group exclude each other", r->name);
                bool mcast = l->group.family == AF_INET ? (l->group.a[0] & 0xf0) == 0xe0 : l->group.a[0] == 0xff;
                if ((r->set & LINK_F_GROUP) && !mcast)
                        return perr(c, key, "vxlan %s: group must be a multicast address", r->name);
                if ((r->set & LINK_F_GROUP) && !(r->set & LINK_F_LINK))
                        return perr(c, key, "vxlan %s: a multicast group needs dev", r->name);
                int fam = r->set & LINK_F_REMOTE ? l->remote.family : r->set & LINK_F_GROUP ? l->group.family : 0;
                if (fam && (r->set & LINK_F_LOCAL) && l->local.family != fam)
                        return perr(c, key, "vxlan %s: local and %s are of different address families", r->name,
                                    r->set & LINK_F_REMOTE ? "remote" : "group");
                if (strcmp(l->link, r->name) == 0)
                        return perr(c, key, "vxlan %s cannot sit on itself", r->name);
                break;
        }
        case KIND_VETH:
                if (!(r->set & LINK_F_PEER))
                        return perr(c, key, "veth %s needs a peer", r->name);
                if (!r->link.peer_netns[0] && strcmp(r->link.peer, r->name) == 0)
                        return perr(c, key, "veth %s cannot be its own peer", r->name);
                break;
        case KIND_BOND:
                if ((r->set & LINK_F_LACP_RATE) && r->link.mode != BOND_8023AD)
                        return perr(c, key, "bond %s: lacp-rate needs mode 802.3ad", r->name);
                break;
        case KIND_ROUTE: {
                struct route_spec *rt = &r->route;
                if (!(r->set & ROUTE_F_TO))
                        return perr(c, key, "route %s needs to (a network or default)", r->name);
                if (rt->to_default && (r->set & ROUTE_F_VIA) && rt->via.family == AF_INET6)
                        rt->to.family = AF_INET6;
                if ((r->set & ROUTE_F_VIA) && rt->via.family != rt->to.family)
                        return perr(c, key, "route %s: via and to are of different address families", r->name);
                if (rt->type == ROUTE_UNICAST && !(r->set & (ROUTE_F_VIA | ROUTE_F_DEV)))
                        return perr(c, key, "route %s needs via or dev", r->name);
                if (rt->type != ROUTE_UNICAST && (r->set & (ROUTE_F_VIA | ROUTE_F_DEV)))
                        return perr(c, key, "route %s: a %s route takes neither via nor dev", r->name,
                                    enum_to_string(&route_type_table, rt->type));
                if (!(r->set & ROUTE_F_METRIC) && rt->to.family == AF_INET6)
                        rt->metric = 1024; /* what the kernel gives an IPv6 route without one */
                break;
        }
        case KIND_NETWORK: {
                int m = r->network.mode;
                if (m == NET_BRIDGE && !(r->set & NET_F_BRIDGE))
                        return perr(c, key, "network %s: mode bridge needs bridge", r->name);
                if (m == NET_MACVTAP && !(r->set & NET_F_DEV))
                        return perr(c, key, "network %s: mode macvtap needs dev", r->name);
                if ((m == NET_BRIDGE || m == NET_MACVTAP) && (r->set & (NET_F_ADDRESS | NET_F_DHCP)))
                        return perr(c, key, "network %s: address and dhcp belong to nat, route and isolated modes",
                                    r->name);
                if (m != NET_MACVTAP && (r->set & (NET_F_DEV | NET_F_MACVTAP_MODE)))
                        return perr(c, key, "network %s: dev and macvtap-mode belong to mode macvtap", r->name);
                if (r->set & NET_F_DHCP) {
                        /* libvirt refuses these only when it defines the network. */
                        const struct network_spec *nw = &r->network;
                        yaml_node_t *at = AT(NET_F_DHCP);
                        if (!(r->set & NET_F_ADDRESS))
                                return perr(c, at, "network %s: dhcp needs address (the network it serves)", r->name);
                        if (nw->dhcp.start.family == 0 || nw->dhcp.end.family == 0)
                                return perr(c, at, "network %s: dhcp needs start and end", r->name);
                        if (!ipaddr_in_subnet(&nw->address, &nw->dhcp.start) ||
                            !ipaddr_in_subnet(&nw->address, &nw->dhcp.end))
                                return perr(c, at, "network %s: dhcp start and end must lie in %s", r->name,
                                            scalar(AT(NET_F_ADDRESS)));
                        if (memcmp(nw->dhcp.start.a, nw->dhcp.end.a, 16) > 0)
                                return perr(c, at, "network %s: dhcp start is after end", r->name);
                }
                return check_network_clash(c, r);
        }
        case KIND_POOL:
                if (!(r->set & POOL_F_TYPE))
                        return perr(c, key, "pool %s needs a type", r->name);
                break;
        case KIND_DOMAIN:
                if (!(r->set & DOM_F_MEMORY))
                        return perr(c, key, "domain %s needs memory", r->name);
                /* libvirt keeps memory in KiB, rounded up: so is it here, or 1GB (10^9
                 * bytes) would never compare equal to what libvirt reads back. */
                r->domain.memory = (r->domain.memory + 1023) & ~1023ull;
                r->domain.max_memory = (r->domain.max_memory + 1023) & ~1023ull;
                if ((r->set & DOM_F_MAX_VCPUS) && r->domain.max_vcpus < r->domain.vcpus)
                        return perr(c, key, "domain %s: max-vcpus %u is below vcpus %u", r->name,
                                    r->domain.max_vcpus, r->domain.vcpus);
                if ((r->set & DOM_F_MAX_MEMORY) && r->domain.max_memory < r->domain.memory)
                        return perr(c, AT(DOM_F_MAX_MEMORY), "domain %s: max-memory %s is below memory %s", r->name,
                                    scalar(AT(DOM_F_MAX_MEMORY)), scalar(AT(DOM_F_MEMORY)));
                if ((r->set & (DOM_F_INITRD | DOM_F_CMDLINE)) && !(r->set & DOM_F_KERNEL))
                        return perr(c, key, "domain %s: initrd and cmdline go with kernel", r->name);
                for (size_t i = 0; i < r->domain.n_disks; i++) {
                        struct disk_spec *d = &r->domain.disks[i];
                        if (!!(d->set & DISK_F_VOLUME) == !!(d->set & DISK_F_CDROM))
                                return diag_pos(&d->pos, "disk needs exactly one of volume and cdrom");
                }
                for (size_t i = 0; i < r->domain.n_nics; i++) {
                        struct nic_spec *nic = &r->domain.nics[i];
                        if (!!(nic->set & NIC_F_BRIDGE) == !!(nic->set & NIC_F_NETWORK))
                                return diag_pos(&nic->pos, "interface needs exactly one of bridge and network");
                }
                break;
        case KIND_SERVICE:
                if (r->set & SVC_F_FWMARK) {
                        if (r->set & (SVC_F_ADDRESS | SVC_F_PORT | SVC_F_PROTOCOL))
                                return perr(c, key, "service %s: fwmark excludes protocol, address and port", r->name);
                } else if (!(r->set & SVC_F_ADDRESS) || !(r->set & SVC_F_PORT))
                        return perr(c, key, "service %s needs address and port, or fwmark", r->name);
                /* ipvsadm's rule: port 0 matches every port, which only persistence makes sense of. */
                else if (r->service.port == 0 && !r->service.persistence)
                        return perr(c, AT(SVC_F_PORT), "service %s: port 0 (every port) needs persistence", r->name);
                for (size_t i = 0; i < r->service.n_reals; i++) {
                        struct real_spec *rs = &r->service.reals[i];
                        int fam = r->set & SVC_F_FWMARK ? (r->service.family == FAMILY_INET6 ? AF_INET6 : AF_INET)
                                                        : r->service.address.family;
                        /* A real without its own forwarding takes its service's, whichever key came first. */
                        if (!(rs->set & REAL_F_FORWARDING))
                                rs->forwarding = r->service.forwarding;
                        int fwd = rs->forwarding;
                        if (!(rs->set & REAL_F_ADDRESS))
                                return diag_pos(&rs->pos, "real server needs an address");
                        /* The kernel refuses this with ERANGE, even with upper 0 (no limit). */
                        if (rs->lower > rs->upper)
                                return diag_pos(&rs->pos, "real server: lower %u is above upper %u", rs->lower, rs->upper);
                        /* The kernel mixes families only through a tunnel. */
                        if (rs->address.family != fam && fwd != FWD_TUNNEL)
                                return diag_pos(&rs->pos, "real server: an %s address behind an %s service needs forwarding tunnel",
                                                rs->address.family == AF_INET ? "IPv4" : "IPv6",
                                                fam == AF_INET ? "IPv4" : "IPv6");
                }
                if (r->set & SVC_F_NETMASK) {
                        const struct ipaddr *nm = &r->service.netmask;
                        int fam = r->set & SVC_F_FWMARK ? (r->service.family == FAMILY_INET6 ? AF_INET6 : AF_INET)
                                                        : r->service.address.family;
                        uint32_t v = ipv4_host(nm);
                        if (nm->family != fam)
                                return perr(c, AT(SVC_F_NETMASK), "service %s: netmask and address are of different families",
                                            r->name);
                        if (fam == AF_INET && (v & (~v >> 1)) != 0 && v != 0)
                                return perr(c, AT(SVC_F_NETMASK), "service %s: netmask %s is not contiguous", r->name,
                                            scalar(AT(SVC_F_NETMASK)));
                }
                break;
        case KIND_IPSET:
                return check_ipset(c, r, key);
        default:
                break;
        }
        return 0;
}

/* ---- ipsets: every entry is checked against its set's type and family ----
 *
 * libipset resolves a word that is not an address through DNS, and the
 * kernel stores entries in its own spelling, which `ipset save` prints and the
 * diff compares as text. So an entry must be literal and written as save
 * prints it: addresses as inet_ntop writes them, networks with the host bits
 * clear and without /32 or /128, ports as tcp:80 (udp, sctp and udplite too;
 * bare numbers in bitmap:port), MACs in upper case, marks as 0x%08x. Anything
 * else is refused with the spelling to write. Port names, port and address
 * ranges, and icmp types are refused: they expand or are renamed by libipset. */

struct set_check {
        int family; /* AF_INET or AF_INET6 */
        const struct set_type_info *t;
        bool has_range;
        uint32_t lo, hi; /* bitmap range: host-order IPv4 addresses or ports */
};

static uint32_t ipv4_host(const struct ipaddr *a) {
        return (uint32_t) a->a[0] << 24 | (uint32_t) a->a[1] << 16 | (uint32_t) a->a[2] << 8 | a->a[3];
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* One part of an entry into its canonical spelling in out, or an error text in why. */
static bool set_part(const struct set_check *k, enum set_dim dim, const char *p, char *out, size_t size,
                     const char **why) {
        struct ipaddr a;
        switch (dim) {
        case DIM_IP:
        case DIM_NET: {
                bool net = dim == DIM_NET;
                if (strchr(p, '-')) {
                        *why = "a single address (a range would become many entries)";
                        return false;
                }
                if (!net && ipaddr_parse(p, true, &a) == 0) {
                        *why = "a single address (networks need a set type with net)";
                        return false;
                }
                if (ipaddr_parse(p, net, &a) < 0 && (!net || ipaddr_parse(p, false, &a) < 0)) {
                        *why = net ? "an address or network (names are never resolved)"
                                   : "a single address (names are never resolved)";
                        return false;
                }
                if (a.family != k->family) {
                        *why = k->family == AF_INET ? "an IPv4 address (family inet)" : "an IPv6 address (family inet6)";
                        return false;
                }
                unsigned max = a.family == AF_INET ? 32 : 128;
                if (net && a.prefix == 0) {
                        *why = "a prefix length of at least 1";
                        return false;
                }
                for (unsigned i = a.prefix; i < max; i++)
                        a.a[i / 8] &= (unsigned char) ~(0x80 >> (i % 8));
                ipaddr_format(&a, a.prefix != max, out, size);
                if (k->has_range && (ipv4_host(&a) < k->lo || ipv4_host(&a) > k->hi)) {
                        *why = "an address inside the set's range";
                        return false;
                }
                return true;
        }
        case DIM_PORT: {
                static const char *const protos[] = { "tcp", "udp", "sctp", "udplite" };
                const char *colon = strchr(p, ':'), *num = colon ? colon + 1 : p;
                size_t plen = colon ? (size_t) (colon - p) : 0;
                bool proto_ok = !colon;
                for (size_t i = 0; colon && i < ELEMENTSOF(protos); i++)
                        proto_ok = proto_ok || (strlen(protos[i]) == plen && strncmp(p, protos[i], plen) == 0);
                unsigned long v = all_digits(num) && strlen(num) <= 5 ? strtoul(num, NULL, 10) : 70000;
                if (!proto_ok || v > 65535) {
                        *why = k->t->bitmap ? "a port number 0-65535" : "tcp:PORT, udp:PORT, sctp:PORT or udplite:PORT";
                        return false;
                }
                if (k->has_range && (v < k->lo || v > k->hi)) {
                        *why = "a port inside the set's range";
                        return false;
                }
                if (k->t->bitmap)
                        snprintf(out, size, "%lu", v);
                else
                        snprintf(out, size, "%.*s:%lu", colon ? (int) plen : 3, colon ? p : "tcp", v);
                return true;
        }
        case DIM_MAC: {
                unsigned char m[6];
                unsigned v[6];
                char tail;
                bool ok = strlen(p) == 17 &&
                          sscanf(p, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) == 6;
                for (int i = 0; ok && i < 6; i++) {
                        ok = isxdigit((unsigned char) p[i * 3]) && isxdigit((unsigned char) p[i * 3 + 1]);
                        m[i] = (unsigned char) v[i];
                }
                if (!ok) {
                        *why = "a MAC address XX:XX:XX:XX:XX:XX";
                        return false;
                }
                snprintf(out, size, "%02X:%02X:%02X:%02X:%02X:%02X", m[0], m[1], m[2], m[3], m[4], m[5]);
                return true;
        }
        case DIM_MARK: {
                char *end;
                errno = 0;
                unsigned long long v = *p >= '0' && *p <= '9' ? strtoull(p, &end, 0) : 0;
                if (!(*p >= '0' && *p <= '9') || *end || errno || v > UINT32_MAX) {
                        *why = "a mark 0x00000000-0xffffffff";
                        return false;
                }
                snprintf(out, size, "0x%08llx", v);
                return true;
        }
        case DIM_IFACE: {
                const char *name = strncmp(p, "physdev:", 8) == 0 ? p + 8 : p;
                if (!ifname_valid(name)) {
                        *why = "an interface name, or physdev:NAME";
                        return false;
                }
                snprintf(out, size, "%s", p);
                return true;
        }
        case DIM_SETNAME:
                if (!*p || strlen(p) > 31 || !xml_safe(p) || strchr(p, ' ')) {
                        *why = "the name of a set (1-31 bytes)";
                        return false;
                }
                snprintf(out, size, "%s", p);
                return true;
        case DIM_NONE:
                break;
        }
        *why = "nothing more";
        return false;
}

static int check_set_entry(struct pctx *c, yaml_node_t *n, const struct resource *r, const struct set_check *k) {
        const char *s = scalar(n);
        char canon[256] = "", part[128], one[80];
        size_t dims = 0;
        while (dims < ELEMENTSOF(k->t->dims) && k->t->dims[dims] != DIM_NONE)
                dims++;
        size_t n_parts = 1;
        for (const char *q = s; *q; q++)
                n_parts += *q == ',';
        const char *type = r->ipset.type;
        if (strpbrk(s, " \t"))
                return perr(c, n, "ipset %s: entry \"%.64s\": an entry is one word, without options such as timeout",
                            r->name, printable(s));
        if (n_parts > dims || (n_parts < dims && !(k->t->optional_last && n_parts == dims - 1)))
                return perr(c, n, "ipset %s: entry \"%.64s\": a %s entry has %zu part%s separated by commas", r->name,
                            printable(s), type, dims, dims == 1 ? "" : "s");
        const char *q = s;
        for (size_t i = 0; i < n_parts; i++) {
                size_t len = strcspn(q, ",");
                const char *why = NULL;
                snprintf(part, sizeof(part), "%.*s", (int) (len < sizeof(part) - 1 ? len : sizeof(part) - 1), q);
                if (len >= sizeof(part) || !set_part(k, k->t->dims[i], part, one, sizeof(one), &why)) {
                        if (n_parts == 1)
                                return perr(c, n, "ipset %s: entry \"%.64s\" is not %s", r->name, printable(s),
                                            why ? why : "valid");
                        char whole[80]; /* printable() has one buffer */
                        snprintf(whole, sizeof(whole), "%s", printable(s));
                        return perr(c, n, "ipset %s: entry \"%.64s\": \"%.64s\" is not %s", r->name, whole,
                                    printable(part), why ? why : "valid");
                }
                snprintf(canon + strlen(canon), sizeof(canon) - strlen(canon), "%s%s", i ? "," : "", one);
                q += len + (q[len] == ',');
        }
        if (strcmp(canon, s) != 0)
                return perr(c, n, "ipset %s: entry \"%.64s\" is not in the kernel's form: write %s", r->name,
                            printable(s), canon);
        return 0;
}

/* bitmap:ip takes FROM-TO (save's form; a network is refused with it) of at
 * most 65536 addresses; bitmap:port takes FROM-TO ports. */
static int check_set_range(struct pctx *c, yaml_node_t *n, const struct resource *r, struct set_check *k) {
        const char *s = r->ipset.range, *dash = strchr(s, '-');
        if (k->t->dims[0] == DIM_PORT) {
                char lo[8] = "", hi[8] = "";
                if (dash && dash - s < 6 && strlen(dash + 1) < 6) {
                        snprintf(lo, sizeof(lo), "%.*s", (int) (dash - s), s);
                        snprintf(hi, sizeof(hi), "%s", dash + 1);
                }
                unsigned long a = all_digits(lo) ? strtoul(lo, NULL, 10) : 70000, b = all_digits(hi) ? strtoul(hi, NULL, 10) : 0;
                if (a > b || b > 65535)
                        return perr(c, n, "ipset %s: range \"%.64s\": expected FROM-TO, ports 0-65535", r->name,
                                    printable(s));
                k->lo = (uint32_t) a;
                k->hi = (uint32_t) b;
                k->has_range = true;
                return 0;
        }
        struct ipaddr a, b;
        char want[40], fa[INET6_ADDRSTRLEN], fb[INET6_ADDRSTRLEN];
        if (!dash && ipaddr_parse(s, true, &a) == 0 && a.family == AF_INET && a.prefix >= 16) {
                uint32_t lo = ipv4_host(&a) & (a.prefix ? ~0u << (32 - a.prefix) : 0);
                uint32_t hi = lo | (a.prefix == 32 ? 0 : ~0u >> a.prefix);
                struct in_addr x = { htonl(lo) }, y = { htonl(hi) };
                inet_ntop(AF_INET, &x, fa, sizeof(fa));
                inet_ntop(AF_INET, &y, fb, sizeof(fb));
                return perr(c, n, "ipset %s: range \"%.64s\" is not in the kernel's form: write %s-%s", r->name, s, fa, fb);
        }
        char left[40] = "";
        if (dash && dash - s < 40)
                snprintf(left, sizeof(left), "%.*s", (int) (dash - s), s);
        if (!dash || ipaddr_parse(left, false, &a) < 0 || ipaddr_parse(dash + 1, false, &b) < 0 ||
            a.family != AF_INET || b.family != AF_INET || ipv4_host(&a) > ipv4_host(&b))
                return perr(c, n, "ipset %s: range \"%.64s\": expected FROM-TO, IPv4 addresses", r->name, printable(s));
        if (ipv4_host(&b) - ipv4_host(&a) > 65535)
                return perr(c, n, "ipset %s: range \"%.64s\" holds more than 65536 addresses, the most a bitmap takes",
                            r->name, s);
        snprintf(want, sizeof(want), "%s-%s", ipaddr_format(&a, false, fa, sizeof(fa)),
                 ipaddr_format(&b, false, fb, sizeof(fb)));
        if (strcmp(want, s) != 0)
                return perr(c, n, "ipset %s: range \"%.64s\" is not in the kernel's form: write %s", r->name, s, want);
        k->lo = ipv4_host(&a);
        k->hi = ipv4_host(&b);
        k->has_range = true;
        return 0;
}

static int check_ipset(struct pctx *c, struct resource *r, yaml_node_t *key) {
        if (!(r->set & SET_F_TYPE))
                return perr(c, key, "ipset %s needs a type", r->name);
        int type = enum_from_string(&ipset_type_table, r->ipset.type);
        struct set_check k = { .t = &set_types[type] };
        const char *t = r->ipset.type;
        if (strlen(r->name) > 31)
                return perr(c, key, "ipset %s: a set name is at most 31 bytes", r->name);
        if ((r->set & SET_F_FAMILY) && !k.t->has_family)
                return perr(c, AT(SET_F_FAMILY), "ipset %s: type %s has no family", r->name, t);
        if ((r->set & SET_F_FAMILY) && k.t->inet_only && r->ipset.family != FAMILY_INET)
                return perr(c, AT(SET_F_FAMILY), "ipset %s: type %s is IPv4 only", r->name, t);
        k.family = (r->set & SET_F_FAMILY) && r->ipset.family == FAMILY_INET6 ? AF_INET6 : AF_INET;
        bool hash = !k.t->bitmap && type != SETT_LIST_SET;
        if ((r->set & SET_F_HASHSIZE) && !hash)
                return perr(c, AT(SET_F_HASHSIZE), "ipset %s: hashsize belongs to hash types, not %s", r->name, t);
        uint32_t hs = r->ipset.hashsize;
        if ((r->set & SET_F_HASHSIZE) && (hs & (hs - 1))) {
                uint64_t up = 64;
                while (up < hs)
                        up <<= 1;
                if (up > (1u << 31))
                        return perr(c, AT(SET_F_HASHSIZE), "ipset %s: hashsize %u out of range 64..2147483648", r->name, hs);
                return perr(c, AT(SET_F_HASHSIZE), "ipset %s: the kernel rounds hashsize up to a power of two: write %llu",
                            r->name, (unsigned long long) up);
        }
        if ((r->set & SET_F_MAXELEM) && !hash)
                return perr(c, AT(SET_F_MAXELEM), "ipset %s: maxelem belongs to hash types, not %s", r->name, t);
        if ((r->set & SET_F_RANGE) && !k.t->bitmap)
                return perr(c, AT(SET_F_RANGE), "ipset %s: range belongs to bitmap types, not %s", r->name, t);
        if (k.t->bitmap && !(r->set & SET_F_RANGE))
                return perr(c, key, "ipset %s: type %s needs a range", r->name, t);
        int ret = 0;
        if (r->set & SET_F_RANGE)
                ret = check_set_range(c, AT(SET_F_RANGE), r, &k);
        if (ret < 0 || !(r->set & SET_F_ENTRIES))
                return ret;
        yaml_node_t *list = AT(SET_F_ENTRIES);
        SEQ_FOREACH(c, list, item) {
                int x = check_set_entry(c, item, r, &k);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

/* net.ipv4.ip_forward, net.ipv6.conf.eth0/20.forwarding: the network stack only. */
static bool sysctl_key_valid(const char *k) {
        if (strncmp(k, "net.", 4) != 0 || strlen(k) > 200)
                return false;
        for (const char *p = k; *p; p++)
                if (!(*p == '.' || *p == '/' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
                      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                        return false;
        return !strstr(k, "..") && k[strlen(k) - 1] != '.' && !strstr(k, "./") && !strstr(k, "/.");
}

static int parse_sysctls(struct pctx *c, yaml_node_t *map) {
        if (map->type == YAML_SCALAR_NODE && map->data.scalar.length == 0)
                return 0;
        if (map->type != YAML_MAPPING_NODE)
                return perr(c, map, "sysctls: expected a mapping of keys to values");
        int ret = 0;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                if (!budget_ok(c, k))
                        return -E2BIG;
                const char *key = scalar(k), *val = scalar(v);
                if (!key || strlen(key) != k->data.scalar.length || !sysctl_key_valid(key)) {
                        ret = perr(c, k,
                                   "sysctls: bad key \"%.64s\": only net. keys (the network stack) of letters, "
                                   "digits, _ - / and single dots",
                                   key ? printable(key) : "");
                        continue;
                }
                if (!val || !*val || strlen(val) != v->data.scalar.length || strlen(val) > 256) {
                        ret = perr(c, v, "sysctl %s: expected a value", key);
                        continue;
                }
                char norm[260];
                bool bad = false;
                for (const char *q = val; *q; q++)
                        bad = bad || (((unsigned char) *q < 0x20 && *q != '\t') || *q == 0x7f);
                snprintf(norm, sizeof(norm), "%s", val);
                sysctl_value_fold(norm);
                if (bad || !norm[0]) {
                        ret = perr(c, v, "sysctl %s: bad value \"%.64s\"", key, printable(val));
                        continue;
                }
                struct resource *r = resource_new(KIND_SYSCTL, key);
                r->pos = pos_of(c, k);
                r->sysctl.value = xstrdup(norm);
                r->set = SYSCTL_F_VALUE;
                int x = add_resource(c, r, k);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

/* A pool's volumes may be declared in several files: the pool is declared
 * whole (with its type) in one of them, and an entry that holds nothing but
 * volumes adds to it wherever it is. manifests_validate finds the pool. */
static bool pool_extension(struct pctx *c, yaml_node_t *v) {
        if (v->type != YAML_MAPPING_NODE || v->data.mapping.pairs.top - v->data.mapping.pairs.start != 1)
                return false;
        yaml_node_t *k = yaml_document_get_node(c->doc, v->data.mapping.pairs.start->key);
        return scalar(k) && strcmp(scalar(k), "volumes") == 0;
}

static int parse_section(struct pctx *c, const struct kind_parser *kp, yaml_node_t *map) {
        const char *section = kind_to_section(kp->kind);
        if (kp->kind == KIND_SYSCTL)
                return parse_sysctls(c, map);
        if (map->type == YAML_SCALAR_NODE && map->data.scalar.length == 0)
                return 0; /* "bridges:" with nothing under it */
        if (map->type != YAML_MAPPING_NODE)
                return perr(c, map, "%s: expected a mapping of names", section);
        int ret = 0;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                if (!budget_ok(c, k))
                        return -E2BIG;
                const char *name = scalar(k);
                if (!name) {
                        ret = perr(c, k, "%s: names must be strings", section);
                        continue;
                }
                if (!kind_is_link(kp->kind) && kp->kind != KIND_IPSET && kp->kind != KIND_ROUTE &&
                    strlen(name) > name_max(kp->kind)) {
                        ret = perr(c, k, "%s name is %zu bytes: at most %zu%s", kind_to_string(kp->kind), strlen(name),
                                   name_max(kp->kind),
                                   kp->kind == KIND_DOMAIN ? " (libvirt stores the domain as NAME.xml, and a file name "
                                                             "holds 255 bytes)"
                                                           : "");
                        continue;
                }
                if (strlen(name) != k->data.scalar.length || !name_valid(kp->kind, name)) {
                        name = printable(name);
                        if (kind_is_link(kp->kind))
                                ret = perr(c, k, "bad interface name \"%.64s\": 1-15 bytes, no '/', ':' or white space",
                                           name ? name : "");
                        else if (kp->kind == KIND_IPSET)
                                ret = perr(c, k, "bad ipset name \"%.64s\": no white space, '\"' or control characters", name ? name : "");
                        else
                                ret = perr(c, k, "bad %s name \"%.64s\": no '/', <>&'\" or control characters",
                                           kind_to_string(kp->kind), name ? name : "");
                        continue;
                }
                struct resource *r = resource_new(kp->kind, name);
                r->pos = pos_of(c, k);
                if (kp->defaults)
                        kp->defaults(r);
                char what[300];
                snprintf(what, sizeof(what), "%s %s", kind_to_string(kp->kind), name);
                c->res = r;
                memset(c->at, 0, sizeof(c->at));
                int x = 0;
                if (!(v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 && is_plain(v)))
                        x = parse_fields(c, v, kp->fields, kp->n_fields, r, &r->set, what, 1);
                c->res = NULL;
                if (x >= 0 && kp->kind == KIND_POOL && pool_extension(c, v)) {
                        /* Its volumes are resources of their own, added by p_volumes. */
                        resource_free(r);
                        continue;
                }
                if (x >= 0)
                        x = check_resource(c, r, k);
                if (x >= 0 && kp->kind == KIND_ETHERNET && r->state == STATE_ABSENT)
                        x = perr(c, k, "ethernet %s: existing NICs are never deleted", name);
                if (x < 0) {
                        ret = x;
                        resource_free(r);
                        continue;
                }
                x = add_resource(c, r, k);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

/* Volumes live under their pool; each becomes a resource named POOL/VOLUME. */
static int p_volumes(struct pctx *c, yaml_node_t *n, const struct field *f, void *base) {
        struct resource *pool = base;
        (void) f;
        if (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0)
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return perr(c, n, "volumes: expected a mapping of names");
        int ret = 0;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
                if (!budget_ok(c, k))
                        return -E2BIG;
                const char *name = scalar(k);
                if (!name || strlen(name) != k->data.scalar.length || !name_valid(KIND_VOLUME, name)) {
                        ret = perr(c, k, "bad volume name \"%.64s\": no '/', <>&'\" or control characters",
                                   name ? printable(name) : "");
                        continue;
                }
                char *full = xasprintf("%s/%s", pool->name, name);
                struct resource *r = resource_new(KIND_VOLUME, full);
                free(full);
                r->pos = pos_of(c, k);
                snprintf(r->volume.pool, sizeof(r->volume.pool), "%s", pool->name);
                char what[300];
                snprintf(what, sizeof(what), "volume %s", r->name);
                int x = parse_fields(c, v, volume_fields, ELEMENTSOF(volume_fields), r, &r->set, what, 2);
                if (x >= 0 && r->state != STATE_ABSENT && !(r->set & VOL_F_CAPACITY))
                        x = perr(c, k, "volume %s needs a capacity", r->name);
                if (x >= 0 && r->volume.prealloc == PREALLOC_FULL && r->volume.format != VOL_RAW)
                        x = perr(c, k, "volume %s: preallocation full needs format raw", r->name);
                if (x < 0) {
                        ret = x;
                        resource_free(r);
                        continue;
                }
                x = add_resource(c, r, k);
                if (x < 0)
                        ret = x;
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
                const struct kind_parser *kp = NULL;
                for (size_t i = 0; i < ELEMENTSOF(kind_parsers) && !kp; i++)
                        if (strcmp(kind_to_section(kind_parsers[i].kind), key) == 0)
                                kp = &kind_parsers[i];
                if (!kp) {
                        ret = perr(c, k, "unknown key \"%.64s\" at top level", key);
                        continue;
                }
                int r = parse_section(c, kp, v);
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

static bool same_host(const struct ipaddr *a, const struct ipaddr *b) {
        return a->family == b->family && memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

/* The declared link that carries an address equal to a (exact) or a subnet
 * holding a: an order the kernel needs (a VXLAN binds its local address, a
 * gateway must be reachable) that no name in the manifest states. */
static const char *address_owner(const struct model *m, const struct ipaddr *a, bool exact) {
        for (size_t i = 0; i < m->n; i++) {
                const struct resource *r = m->v[i];
                if (!kind_is_link(r->kind) || r->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->link.addresses.n; j++)
                        if (exact ? same_host(&r->link.addresses.v[j], a)
                                  : ipaddr_in_subnet(&r->link.addresses.v[j], a))
                                return r->name;
        }
        return NULL;
}

/* A bond gives its MTU to every member (when it takes one and when its own
 * changes), so a member's declared MTU holds only if the bond has it too: a
 * bond without one takes its members' MTU; one that differs is an error at the
 * member, as the kernel would undo it. */
static int bond_member_mtus(struct manifest_set *set, struct resource *bond) {
        const struct resource *from = NULL;
        int ret = 0;
        for (size_t i = 0; i < bond->link.interfaces.n; i++) {
                const struct resource *m = model_find(&set->model, KIND_ETHERNET, bond->link.interfaces.v[i]);
                if (!m || m->state == STATE_ABSENT || !(m->set & LINK_F_MTU))
                        continue;
                if (!(bond->set & LINK_F_MTU)) {
                        bond->link.mtu = m->link.mtu;
                        bond->set |= LINK_F_MTU;
                        from = m;
                } else if (m->link.mtu != bond->link.mtu)
                        ret = diag_pos(&m->pos,
                                       "%s %s: mtu %u cannot hold: bond %s gives its members its own MTU, %u%s%s",
                                       kind_to_string(m->kind), m->name, m->link.mtu, bond->name, bond->link.mtu,
                                       from ? ", taken from " : "", from ? from->name : "");
        }
        return ret;
}

/* A VLAN, macvlan or macvtap may not be larger than its parent. */
static int child_mtu(struct manifest_set *set, const struct resource *r) {
        const struct resource *p = model_find(&set->model, KIND_ETHERNET, r->link.link);
        if (!p || p->state == STATE_ABSENT || !(p->set & LINK_F_MTU) || r->link.mtu <= p->link.mtu)
                return 0;
        return diag_pos(&r->pos, "%s %s: mtu %u is above the mtu of its parent %s, %u (the kernel refuses it)",
                        kind_to_string(r->kind), r->name, r->link.mtu, p->name, p->link.mtu);
}

/* What libvirt's pool XML parser demands of each type, found before the pool
 * is defined. Checked after the volumes and domains that use the pool, whose
 * own errors say more. */
static int check_pool_needs(const struct resource *r) {
        static const uint64_t needs[_POOL_TYPE_MAX] = {
                [POOL_DIR] = POOL_F_PATH,
                [POOL_FS] = POOL_F_SOURCE | POOL_F_PATH,
                [POOL_NETFS] = POOL_F_HOST | POOL_F_SOURCE | POOL_F_PATH,
                [POOL_DISK] = POOL_F_SOURCE | POOL_F_PATH,
                [POOL_ISCSI] = POOL_F_HOST | POOL_F_PATH,
                [POOL_MPATH] = POOL_F_PATH,
                [POOL_RBD] = POOL_F_HOST | POOL_F_SOURCE,
                [POOL_SHEEPDOG] = POOL_F_HOST | POOL_F_SOURCE,
                [POOL_GLUSTER] = POOL_F_HOST,
                [POOL_VSTORAGE] = POOL_F_PATH,
        };
        if (r->kind != KIND_POOL || r->state == STATE_ABSENT)
                return 0;
        int type = enum_from_string(&pool_type_table, r->pool.type);
        if (type < 0)
                return 0;
        static const struct { uint64_t bit; const char *key; } keys[] = {
                { POOL_F_HOST, "host" }, { POOL_F_SOURCE, "source" }, { POOL_F_PATH, "path" } };
        uint64_t missing = needs[type] & ~r->set;
        char words[40] = "";
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (missing & keys[i].bit)
                        snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s", words[0] ? ", " : "",
                                 keys[i].key);
        if (missing)
                return diag_pos(&r->pos, "pool %s: type %s needs %s", r->name, r->pool.type, words);
        return 0;
}

/* Two guests writing one volume corrupt it unless both know (a cluster file
 * system): QEMU locks the image, and the second start fails. Each disk of r
 * is checked against the disks of the domains before it. */
static int check_shared_volumes(struct manifest_set *set, const struct resource *r) {
        if (r->kind != KIND_DOMAIN || r->state == STATE_ABSENT)
                return 0;
        for (size_t j = 0; j < r->domain.n_disks; j++) {
                const struct disk_spec *d = &r->domain.disks[j];
                for (size_t i = 0; d->volume && i < set->model.n && set->model.v[i] != r; i++) {
                        const struct resource *o = set->model.v[i];
                        if (o->kind != KIND_DOMAIN || o->state == STATE_ABSENT)
                                continue;
                        for (size_t k = 0; k < o->domain.n_disks; k++) {
                                const struct disk_spec *e = &o->domain.disks[k];
                                if (!e->volume || strcmp(e->volume, d->volume) != 0 || (d->shareable && e->shareable))
                                        continue;
                                return diag_pos(&d->pos,
                                                "domain %s: volume %s is also a disk of domain %s at %s:%u:%u; a volume "
                                                "two domains write needs shareable: true on both disks",
                                                r->name, d->volume, o->name, e->pos.file, e->pos.line, e->pos.col);
                        }
                }
        }
        return 0;
}

int manifests_validate(struct manifest_set *set) {
        int ret = 0;
        for (size_t i = 0; i < set->model.n; i++) {
                struct resource *r = set->model.v[i];
                if (r->kind == KIND_BOND && r->state != STATE_ABSENT && bond_member_mtus(set, r) < 0)
                        ret = -EINVAL;
        }
        for (size_t i = 0; i < set->model.n; i++) {
                const struct resource *r = set->model.v[i];
                if ((r->kind == KIND_VLAN || r->kind == KIND_MACVLAN || r->kind == KIND_MACVTAP) &&
                    r->state != STATE_ABSENT && (r->set & LINK_F_MTU) && child_mtu(set, r) < 0)
                        ret = -EINVAL;
        }
        for (size_t i = 0; i < set->model.n; i++) {
                struct resource *r = set->model.v[i];
                const char *owner = NULL;
                if (r->kind == KIND_VXLAN && (r->set & LINK_F_LOCAL))
                        owner = address_owner(&set->model, &r->link.local, true);
                /* A VXLAN that is itself a port of the owner cannot wait for it: no implied order then. */
                const struct resource *o = owner ? model_find(&set->model, KIND_ETHERNET, owner) : NULL;
                if (o && strcmp(owner, r->name) != 0 && !str_list_contains(&o->link.interfaces, r->name))
                        snprintf(r->link.local_dev, sizeof(r->link.local_dev), "%s", owner);
                if (r->kind == KIND_ROUTE && (r->set & ROUTE_F_VIA) && !(r->set & ROUTE_F_DEV) &&
                    (owner = address_owner(&set->model, &r->route.via, false)))
                        snprintf(r->route.via_dev, sizeof(r->route.via_dev), "%s", owner);
        }
        for (size_t i = 0; i < set->model.n; i++) {
                struct resource *r = set->model.v[i];
                if (r->kind != KIND_DOMAIN || r->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->domain.n_disks; j++) {
                        struct disk_spec *d = &r->domain.disks[j];
                        if (!d->volume)
                                continue;
                        struct resource *v = model_find(&set->model, KIND_VOLUME, d->volume);
                        if (!v || v->kind != KIND_VOLUME)
                                ret = diag_pos(&d->pos, "domain %s: volume %s is not declared (declare it under pools)",
                                               r->name, d->volume);
                        else if (v->state == STATE_ABSENT)
                                ret = diag_pos(&d->pos, "domain %s: volume %s is declared absent", r->name, d->volume);
                        else
                                d->format = v->set & VOL_F_FORMAT ? v->volume.format : VOL_RAW;
                }
        }
        for (size_t i = 0; i < set->model.n; i++) {
                struct resource *r = set->model.v[i];
                if (r->kind == KIND_VOLUME) {
                        struct resource *p = model_find(&set->model, KIND_POOL, r->volume.pool);
                        if (!p || p->kind != KIND_POOL)
                                ret = diag_pos(&r->pos,
                                               "volume %s: pool %s is declared nowhere (an entry with only volumes adds "
                                               "to a pool declared with its type in another file)",
                                               r->name, r->volume.pool);
                        else if (r->state != STATE_ABSENT && p->state == STATE_ABSENT)
                                ret = diag_pos(&r->pos, "volume %s lives in pool %s, which is declared absent", r->name,
                                               p->name);
                }
        }
        for (size_t i = 0; i < set->model.n; i++) {
                /* The peer is created with its veth: a declared link of that name would
                 * collide, unless it is an ethernet, the end configured as a NIC. A pair
                 * declared from both ends would be made twice ("File exists"). */
                const struct resource *r = set->model.v[i];
                if (r->kind != KIND_VETH || r->state == STATE_ABSENT || r->link.peer_netns[0])
                        continue;
                struct resource *o = model_find(&set->model, KIND_ETHERNET, r->link.peer);
                if (o && o->kind == KIND_ETHERNET)
                        snprintf(o->link.made_by, sizeof(o->link.made_by), "%s", r->name); /* made with the veth */
                else if (o && o->kind == KIND_VETH && !o->link.peer_netns[0] && strcmp(o->link.peer, r->name) == 0)
                        ret = diag_pos(resource_ref_pos(r, r->link.peer),
                                       "veth %s: its peer %s is declared as a veth too, at %s:%u:%u: declare the pair "
                                       "once, and the other end under ethernets to configure it",
                                       r->name, r->link.peer, o->pos.file, o->pos.line, o->pos.col);
                else if (o)
                        ret = diag_pos(resource_ref_pos(r, r->link.peer), "veth %s: peer %s is declared as %s %s at %s:%u:%u",
                                       r->name, r->link.peer, kind_to_string(o->kind), o->name, o->pos.file, o->pos.line,
                                       o->pos.col);
                for (size_t j = 0; j < i; j++) {
                        const struct resource *q = set->model.v[j];
                        if (q->kind == KIND_VETH && q->state != STATE_ABSENT && !q->link.peer_netns[0] &&
                            strcmp(q->link.peer, r->link.peer) == 0)
                                ret = diag_pos(resource_ref_pos(r, r->link.peer), "veth %s: peer %s is also the peer of veth %s",
                                               r->name, r->link.peer, q->name);
                }
        }
        for (size_t i = 0; i < set->model.n; i++) {
                int x = check_shared_volumes(set, set->model.v[i]);
                if (x < 0)
                        ret = x;
        }
        for (size_t i = 0; i < set->model.n; i++) {
                int x = check_pool_needs(set->model.v[i]);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

void manifests_done(struct manifest_set *set) {
        model_done(&set->model);
        for (size_t i = 0; i < set->n_files; i++)
                free(set->files[i]);
        free(set->files);
        memset(set, 0, sizeof(*set));
}
