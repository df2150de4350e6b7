/* YAML manifests into the typed model through one field table per kind.
 * The walk reads libyaml's events as they come: no document tree is built, and
 * a long list goes straight into its array. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <yaml.h>
#include <sys/socket.h>

#include "parsers.h"

/* A field table nests mappings a few levels deep at most. */
#define MAX_DEPTH 32
/* No manifest nests collections deeper than a handful of levels (a domain's
 * disk is at 4); 64 leaves room for anchors and tooling, and bounds the work
 * libyaml does per token: its scanner rechecks every open flow level for each
 * token, so 100,000 nested brackets would cost a minute of CPU. */
#define MAX_NESTING 64u
/* Nodes as written, and nodes the walk visits (aliases expand). */
#define MAX_NODES_PER_FILE 2000000u

/* What the walk reads: libyaml's events, and aliases replayed from the log.
 * EV_ALIAS: an alias not read into (skipping), or one inside the value it names. */
enum ev_type { EV_SCALAR = 1, EV_SEQ, EV_MAP, EV_END, EV_ALIAS, EV_OTHER };

/* A value as the walk meets it: its first event. A collection is open until
 * its end event is read; node_done skips what the walk left of it. */
struct node {
        enum ev_type type;
        unsigned line, col; /* 1-based; an alias's are those of the value it names */
        const char *value;  /* EV_SCALAR: NUL-terminated, length counts NUL bytes within */
        size_t length;
        bool plain;
        bool open;
        size_t frame;    /* a collection an alias names: 1 + its replay frame */
        bool owned;      /* ev holds value */
        yaml_event_t ev;
};

/* Events of anchored values, kept while they are read, for their aliases. */
struct logged {
        enum ev_type type;
        bool plain;
        unsigned line, col;
        size_t length;
        char *value;   /* EV_SCALAR */
        size_t anchor; /* EV_ALIAS: the anchor it names */
        bool borrowed; /* value is in the run arena */
};

struct anchor {
        char *name;
        size_t start, end; /* its events in the log */
        unsigned depth;    /* the nesting inside it, for a collection */
        bool closed;
};

/* An alias being read: events at..end of the log. */
struct frame {
        size_t start, at, end;
};

/* The first error of one kind, reported when the whole stream has been read. */
struct yaml_pending {
        bool set;
        unsigned line, col;
        char msg[320];
};

/* What a kind's check may ask about the value of one of its keys. */
struct at_value {
        bool given;
        unsigned line, col;
        char *text;                /* a scalar's text */
        struct item_pos { unsigned line, col; } *items; /* a list's items */
        size_t n_items;
        const struct str_list *strs; /* a string list: item i is strs->v[strs_base + i] */
        size_t strs_base;
        char **texts; /* other lists: each item's text, NULL for a collection */
        size_t n_texts;
        /* Not NULL: the list's duplicates are still to be found (the kind's
         * check would, and has not yet); the label for their errors. */
        const char *dups_unchecked;
};

/* version: and host: (the first of each) */
struct top_value {
        bool given;
        bool is_scalar;
        unsigned line, col;
        char *text;
};


/* Long block lists of one-word plain scalars (a 100,000-entry ipset) cost
 * libyaml thousands of instructions per item. Before libyaml reads a text,
 * each run of at least RUN_MIN lines "INDENT- WORD" of one indent is
 * replaced by one line "INDENT- <run_magic>N", and the list that meets that
 * item takes the run's words straight from the text. Its last line stays
 * (a deeper line after it would continue its scalar). Whatever else the
 * placeholder turns out to be (inside a block or quoted scalar, a flow
 * collection, an anchored value, any other field), or any YAML error, and
 * the file is read again as written: the result is always libyaml's.
 * Lines "INDENT{ KEY: WORD, ... }," (an IPVS service's reals) are runs too,
 * of any length, replaced by "INDENT<run_magic>N,": where a flow list reads
 * that item, the mappings' events are replayed from the text, as an alias's
 * are. */
#define RUN_MIN 8u
#define RUN_LINE_MAX 160u
#define RUN_INDENT_MAX 64u
static const char run_magic[] = "rct-collapsed-list-";

struct list_run {
        size_t start, end;  /* the bytes of the lines replaced */
        unsigned line;      /* the first one's, 0-based, as written */
        unsigned count;     /* lines replaced */
        unsigned indent;
        unsigned cline;     /* the placeholder's line, 0-based, in what libyaml reads */
        unsigned shift;     /* lines removed by this run and those before it */
        unsigned nodes;     /* the values the lines hold */
        bool maps;          /* lines of flow mappings, not list items */
        /* Set by the parse that read it: the resource whose list field bit
         * took its items from item0 on (NULL: a nested list, or not read). */
        struct resource *res;
        uint64_t bit;
        size_t item0;
};

struct runs {
        const char *text;
        size_t len;
        struct list_run *v;
        size_t n;
        /* serving the text with the runs replaced */
        size_t pos, next;
        char ph[RUN_INDENT_MAX + sizeof(run_magic) + 24];
        size_t ph_len, ph_at, served;
        /* the walk */
        size_t taken;   /* runs read as items so far */
        size_t pending; /* 1 + the run whose placeholder was just read */
        bool mismatch;
        size_t near; /* runs_line's last answer */
};

/* 1: a character of a run's word; 2: one that may begin it too. */
static const unsigned char run_chars[256] = {
        ['.'] = 1, [':'] = 1, ['/'] = 1, [','] = 1, ['_'] = 1, ['-'] = 1,
        ['0'] = 2, ['1'] = 2, ['2'] = 2, ['3'] = 2, ['4'] = 2, ['5'] = 2, ['6'] = 2, ['7'] = 2, ['8'] = 2, ['9'] = 2,
        ['a'] = 2, ['b'] = 2, ['c'] = 2, ['d'] = 2, ['e'] = 2, ['f'] = 2, ['g'] = 2, ['h'] = 2, ['i'] = 2, ['j'] = 2,
        ['k'] = 2, ['l'] = 2, ['m'] = 2, ['n'] = 2, ['o'] = 2, ['p'] = 2, ['q'] = 2, ['r'] = 2, ['s'] = 2, ['t'] = 2,
        ['u'] = 2, ['v'] = 2, ['w'] = 2, ['x'] = 2, ['y'] = 2, ['z'] = 2,
        ['A'] = 2, ['B'] = 2, ['C'] = 2, ['D'] = 2, ['E'] = 2, ['F'] = 2, ['G'] = 2, ['H'] = 2, ['I'] = 2, ['J'] = 2,
        ['K'] = 2, ['L'] = 2, ['M'] = 2, ['N'] = 2, ['O'] = 2, ['P'] = 2, ['Q'] = 2, ['R'] = 2, ['S'] = 2, ['T'] = 2,
        ['U'] = 2, ['V'] = 2, ['W'] = 2, ['X'] = 2, ['Y'] = 2, ['Z'] = 2,
};

/* The indent of a line "INDENT- WORD\n" at p, or -1. */
static int run_line(const char *p, const char *end, const char **eol) {
        const char *q = p;
        while (q < end && *q == ' ' && q - p <= (ptrdiff_t) RUN_INDENT_MAX)
                q++;
        int indent = (int) (q - p);
        if (indent > (int) RUN_INDENT_MAX || end - q < 4 || q[0] != '-' || q[1] != ' ' ||
            run_chars[(unsigned char) q[2]] != 2)
                return -1;
        q += 2;
        const char *w = q, *stop = end - w > (ptrdiff_t) RUN_LINE_MAX ? w + RUN_LINE_MAX : end;
        while (q < stop && run_chars[(unsigned char) *q])
                q++;
        /* A ':' at the end makes the item a mapping. */
        if (q >= end || *q != '\n' || q[-1] == ':')
                return -1;
        *eol = q;
        return indent;
}

/* A key of a mapping line, a value of one (no ':' or ',', which end a plain
 * scalar in a flow collection). */
static bool map_key_char(unsigned char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

static bool map_value_char(unsigned char ch) {
        return run_chars[ch] && ch != ',' && ch != ':';
}

/* A line "INDENT{ KEY: WORD, ... }," at p: its indent (and *eol, and the
 * values it holds in *nodes), or -1. each, when given, gets every value:
 * the mapping (len 0), then each key and word. */
static int map_line(const char *p, const char *end, const char **eol, unsigned *nodes,
                    void (*each)(void *u, const char *s, size_t len, size_t col), void *u) {
        const char *q = p;
        while (q < end && *q == ' ' && q - p <= (ptrdiff_t) RUN_INDENT_MAX)
                q++;
        int indent = (int) (q - p);
        if (indent > (int) RUN_INDENT_MAX || q >= end || *q != '{')
                return -1;
        if (each)
                each(u, NULL, 0, (size_t) (q - p));
        q++;
        unsigned n = 1;
        for (;;) {
                while (q < end && *q == ' ')
                        q++;
                const char *k = q;
                if (q >= end || !(*q >= 'a' && *q <= 'z'))
                        return -1;
                while (q < end && map_key_char((unsigned char) *q) && q - k < (ptrdiff_t) RUN_LINE_MAX)
                        q++;
                if (end - q < 2 || q[0] != ':' || q[1] != ' ')
                        return -1;
                if (each)
                        each(u, k, (size_t) (q - k), (size_t) (k - p));
                q += 2;
                while (q < end && *q == ' ')
                        q++;
                const char *v = q;
                if (q >= end || run_chars[(unsigned char) *q] != 2)
                        return -1;
                while (q < end && map_value_char((unsigned char) *q) && q - v < (ptrdiff_t) RUN_LINE_MAX)
                        q++;
                if (each)
                        each(u, v, (size_t) (q - v), (size_t) (v - p));
                n += 2;
                while (q < end && *q == ' ')
                        q++;
                if (q < end && *q == ',') {
                        q++;
                        continue;
                }
                break;
        }
        if (end - q < 3 || q[0] != '}' || q[1] != ',' || q[2] != '\n')
                return -1;
        *eol = q + 2;
        *nodes = n;
        return indent;
}

static void runs_close(struct runs *rs, struct list_run *cur, size_t prev_end, unsigned *removed) {
        if (!cur->maps && cur->count < RUN_MIN + 1)
                return;
        if (!cur->count)
                return;
        unsigned before = *removed;
        if (!cur->maps) {
                cur->count--; /* the last line stays */
                cur->end = prev_end;
                cur->nodes = cur->count;
        }
        *removed += cur->count - 1;
        cur->cline = cur->line - before;
        cur->shift = *removed;
        *(struct list_run *) array_push(&rs->v, &rs->n, sizeof(*cur)) = *cur;
}

/* Whether text holds needle: memchr for its first byte, rare in a manifest,
 * runs at memory speed where memmem costs several instructions a byte. */
static bool holds(const char *text, size_t len, const char *needle, size_t n) {
        const char *p = text, *end = text + len;
        while ((size_t) (end - p) >= n && (p = memchr(p, needle[0], (size_t) (end - p) - (n - 1))))
                if (memcmp(++p, needle + 1, n - 1) == 0)
                        return true;
        return false;
}

/* A line break libyaml counts besides LF (CR, NEL, LS, PS), anywhere, even in
 * a comment: the runs count lines by LF alone. */
static bool other_line_breaks(const char *text, size_t len) {
        return memchr(text, '\r', len) || holds(text, len, "\xc2\x85", 2) || holds(text, len, "\xe2\x80\xa8", 3) ||
               holds(text, len, "\xe2\x80\xa9", 3);
}

/* Find the runs of text (none when it holds run_magic or other line breaks). */
static void runs_find(struct runs *rs, const char *text, size_t len) {
        memset(rs, 0, sizeof(*rs));
        rs->text = text;
        rs->len = len;
        rs->next = len;
        if (len < RUN_MIN * 4 || holds(text, len, run_magic, sizeof(run_magic) - 1) || other_line_breaks(text, len))
                return;
        const char *p = text, *end = text + len;
        struct list_run cur = { 0 };
        unsigned line = 0, removed = 0;
        size_t prev_end = 0; /* of the line before the current run's last */
        while (p < end) {
                const char *eol = NULL;
                unsigned nodes = 0;
                int indent = run_line(p, end, &eol);
                bool maps = indent < 0 && (indent = map_line(p, end, &eol, &nodes, NULL, NULL)) >= 0;
                if (indent >= 0 && cur.count && (unsigned) indent == cur.indent && maps == cur.maps) {
                        cur.count++;
                        cur.nodes += nodes;
                        prev_end = cur.end;
                        cur.end = (size_t) (eol + 1 - text);
                } else {
                        runs_close(rs, &cur, prev_end, &removed);
                        memset(&cur, 0, sizeof(cur));
                        if (indent >= 0)
                                cur = (struct list_run){ .start = (size_t) (p - text), .end = (size_t) (eol + 1 - text),
                                                         .line = line, .count = 1, .indent = (unsigned) indent,
                                                         .nodes = nodes, .maps = maps };
                }
                if (!eol)
                        eol = memchr(p, '\n', (size_t) (end - p));
                if (!eol)
                        break;
                p = eol + 1;
                line++;
        }
        runs_close(rs, &cur, prev_end, &removed);
        rs->next = rs->n ? rs->v[0].start : len;
}

static int runs_read(void *data, unsigned char *buf, size_t size, size_t *size_read) {
        struct runs *rs = data;
        size_t done = 0;
        while (done < size) {
                if (rs->ph_at < rs->ph_len) {
                        size_t k = rs->ph_len - rs->ph_at < size - done ? rs->ph_len - rs->ph_at : size - done;
                        memcpy(buf + done, rs->ph + rs->ph_at, k);
                        rs->ph_at += k;
                        done += k;
                        continue;
                }
                if (rs->pos == rs->next && rs->served < rs->n) {
                        const struct list_run *r = &rs->v[rs->served++];
                        memset(rs->ph, ' ', r->indent);
                        rs->ph_len = r->indent + (size_t) snprintf(rs->ph + r->indent, sizeof(rs->ph) - r->indent,
                                                                   r->maps ? "%s%zu,\n" : "- %s%zu\n", run_magic,
                                                                   (size_t) (r - rs->v));
                        rs->ph_at = 0;
                        rs->pos = r->end;
                        rs->next = rs->served < rs->n ? rs->v[rs->served].start : rs->len;
                        continue;
                }
                if (rs->pos >= rs->len)
                        break;
                size_t k = rs->next - rs->pos < size - done ? rs->next - rs->pos : size - done;
                memcpy(buf + done, rs->text + rs->pos, k);
                rs->pos += k;
                done += k;
        }
        *size_read = done;
        return 1;
}

/* A line of what libyaml reads (0-based) as written (1-based). Events come
 * in order: the answer is near the last one's. */
static unsigned runs_line(struct runs *rs, size_t mline) {
        if (!rs || !rs->n)
                return (unsigned) mline + 1;
        size_t lo = rs->near; /* the first run whose placeholder is at or after mline */
        if (lo <= rs->n && (lo == 0 || rs->v[lo - 1].cline < mline)) {
                while (lo < rs->n && rs->v[lo].cline < mline)
                        lo++;
                rs->near = lo;
                return (unsigned) mline + 1 + (lo ? rs->v[lo - 1].shift : 0);
        }
        lo = 0;
        size_t hi = rs->n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (rs->v[mid].cline < mline)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return (unsigned) mline + 1 + (lo ? rs->v[lo - 1].shift : 0);
}

struct pctx {
        struct manifest_set *set;
        const char *file;
        yaml_parser_t parser;
        /* the stream as written */
        unsigned doc; /* documents begun */
        unsigned depth, written;
        bool root_pending;       /* the next node is a document's root */
        unsigned root2_line, root2_col; /* of a second document */
        struct yaml_pending yaml_err; /* syntax or limits: ends the read */
        struct yaml_pending comp_err[2]; /* aliases and anchors, per document */
        struct anchor *anchors;
        size_t n_anchors;
        struct hindex anchor_index;
        size_t alias_target; /* of the alias just read */
        size_t *open; /* anchored collections being read */
        size_t n_open;
        struct logged *log;
        size_t n_log;
        struct frame *frames;
        size_t n_frames;
        /* the walk */
        unsigned nodes;
        bool budget_reported;
        bool moot; /* version or host already says the sections will not count */
        unsigned root_line, root_col;
        bool root_not_map;
        struct top_value version, host;
        struct resource *res; /* the resource being parsed */
        /* Its keys' values, by field bit: a check that needs several keys (an
         * ipset's entries against its type) reports at the key. */
        struct at_value *at;
        struct at_value *items; /* where the list being parsed records its items */
        int errors;
        struct runs *runs; /* the text's runs, replaced in what libyaml reads; NULL: none */
        char *run_arena;   /* the values of the mapping run being replayed */
};

static unsigned line_of(const struct pctx *c, const yaml_mark_t *m) {
        return runs_line(c->runs, m->line);
}

static struct srcpos pos_of(struct pctx *c, struct node *n) {
        return (struct srcpos){ c->file, n->line, n->col };
}

static int perr_at(struct pctx *c, unsigned line, unsigned col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr_at(struct pctx *c, unsigned line, unsigned col, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        struct srcpos p = { c->file, line, col };
        c->errors++;
        return diag_pos(&p, "%s", msg);
}

#define perr(c, n, ...) perr_at((c), (n)->line, (n)->col, __VA_ARGS__)

static bool budget_ok(struct pctx *c, struct node *n) {
        if (++c->nodes <= MAX_NODES_PER_FILE)
                return true;
        if (!c->budget_reported) {
                c->budget_reported = true;
                perr(c, n, "document expands to more than %u nodes (alias bomb?)", MAX_NODES_PER_FILE);
        }
        return false;
}

static const char *scalar(struct node *n) {
        return n->type == EV_SCALAR ? n->value : NULL;
}

static bool is_plain(struct node *n) {
        return n->type == EV_SCALAR && n->plain;
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
static int want_string(struct pctx *c, struct node *n, const struct field *f, const char **out) {
        const char *s = scalar(n);
        if (!s)
                return perr(c, n, "%s: expected a string", flabel(f));
        if (strlen(s) != n->length)
                return perr(c, n, "%s: NUL byte in value", flabel(f));
        *out = s;
        return 0;
}

static int want_u64(struct pctx *c, struct node *n, const struct field *f, uint64_t *out) {
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

static int p_u32(struct pctx *c, struct node *n, const struct field *f, void *base) {
        uint64_t v = 0;
        int r = want_u64(c, n, f, &v);
        if (r < 0)
                return r;
        *(uint32_t *) ((char *) base + f->offset) = (uint32_t) v;
        return 0;
}

static int p_bool(struct pctx *c, struct node *n, const struct field *f, void *base) {
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

static int p_size(struct pctx *c, struct node *n, const struct field *f, void *base) {
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

static int p_enum(struct pctx *c, struct node *n, const struct field *f, void *base) {
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
static const char *enum_word(struct pctx *c, struct node *n, const struct field *f) {
        struct field g = *f;
        int v = 0;
        g.offset = 0;
        return p_enum(c, n, &g, &v) < 0 ? NULL : enum_to_string(f->extra, v);
}

/* A word of an enum table kept as the word itself, in a char array of f->max
 * bytes: the live side holds what the kernel reports, which may be a word a
 * newer kernel knows and this table does not (schedulers, set types). */
static int p_enum_word(struct pctx *c, struct node *n, const struct field *f, void *base) {
        const char *w = enum_word(c, n, f);
        if (!w)
                return -EINVAL;
        snprintf((char *) base + f->offset, (size_t) f->max, "%s", w);
        return 0;
}

/* The same for a word kept as an allocated string (pool types). */
static int p_enum_str(struct pctx *c, struct node *n, const struct field *f, void *base) {
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
static void note_ref(struct pctx *c, struct node *n, const char *name) {
        if (!c->res)
                return;
        struct name_ref *ref = array_push(&c->res->refs, &c->res->n_refs, sizeof(*ref));
        ref->name = xstrdup(name);
        ref->pos = pos_of(c, n);
}

static int check_ifname(struct pctx *c, struct node *n, const char *what, const char *s) {
        if (!ifname_valid(s))
                return perr(c, n, "bad interface name \"%.64s\" for %s: 1-15 bytes, no '/', ':' or white space", s,
                            what);
        return 0;
}

static int p_ifname(struct pctx *c, struct node *n, const struct field *f, void *base) {
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
                if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '&' || *p == '\'' || *p == '"')
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

static int p_str(struct pctx *c, struct node *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        if (!*s)
                return perr(c, n, "%s: empty value", flabel(f));
        if (f->max && strlen(s) > (size_t) f->max)
                return perr(c, n, "%s: \"%.64s...\" is longer than %lld bytes", flabel(f), s, (long long) f->max);
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
static int p_word(struct pctx *c, struct node *n, const struct field *f, void *base) {
        const char *s;
        int r = want_string(c, n, f, &s);
        if (r < 0)
                return r;
        if (!*s || strlen(s) >= (size_t) f->max || !xml_safe(s))
                return perr(c, n, "%s: bad value \"%.64s\"", flabel(f), s);
        strcpy((char *) base + f->offset, s);
        return 0;
}

static int p_mac(struct pctx *c, struct node *n, const struct field *f, void *base) {
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

static int addr_value(struct pctx *c, struct node *n, const struct field *f, bool prefix, struct ipaddr *out) {
        char err[256];
        if (field_ipaddr(flabel(f), scalar(n), prefix, out, err, sizeof(err)) < 0)
                return perr(c, n, "%s", err);
        return 0;
}

static int p_ipaddr(struct pctx *c, struct node *n, const struct field *f, void *base) {
        return addr_value(c, n, f, f->min, (struct ipaddr *) ((char *) base + f->offset));
}

/* ---- the event stream ---- */

static void pending_set(struct yaml_pending *p, unsigned line, unsigned col, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void pending_set(struct yaml_pending *p, unsigned line, unsigned col, const char *fmt, ...) {
        if (p->set)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
        va_end(ap);
        p->set = true;
        p->line = line;
        p->col = col;
}

static int pending_report(struct pctx *c, const struct yaml_pending *p) {
        return perr_at(c, p->line, p->col, "%s", p->msg);
}

static uint64_t anchor_hash(size_t pos, const void *u) {
        const struct pctx *c = u;
        return hash_fnv1a_str(HASH_FNV1A_SEED, c->anchors[pos].name);
}

struct anchor_probe {
        const struct pctx *c;
        const char *name;
};

static bool anchor_eq(size_t pos, const void *u) {
        const struct anchor_probe *p = u;
        return strcmp(p->c->anchors[pos].name, p->name) == 0;
}

static size_t anchor_find(struct pctx *c, const char *name) {
        struct anchor_probe p = { c, name };
        return hindex_find(&c->anchor_index, hash_fnv1a_str(HASH_FNV1A_SEED, name), anchor_eq, &p);
}

/* Anchors are the document's own, as libyaml's loader keeps them. */
static void anchors_reset(struct pctx *c) {
        for (size_t i = 0; i < c->n_anchors; i++)
                free(c->anchors[i].name);
        free(c->anchors);
        c->anchors = NULL;
        c->n_anchors = 0;
        hindex_done(&c->anchor_index);
        c->n_open = 0;
}

static bool recording(const struct pctx *c) {
        return c->doc == 1 && !c->comp_err[0].set;
}

static void log_event(struct pctx *c, const yaml_event_t *ev, size_t alias) {
        struct logged *e = array_push(&c->log, &c->n_log, sizeof(*e));
        e->line = line_of(c, &ev->start_mark);
        e->col = (unsigned) ev->start_mark.column + 1;
        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                e->type = EV_SCALAR;
                e->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                e->length = ev->data.scalar.length;
                e->value = xcalloc(1, e->length + 1);
                memcpy(e->value, ev->data.scalar.value, e->length);
                break;
        case YAML_SEQUENCE_START_EVENT:
                e->type = EV_SEQ;
                break;
        case YAML_MAPPING_START_EVENT:
                e->type = EV_MAP;
                break;
        case YAML_ALIAS_EVENT:
                e->type = EV_ALIAS;
                e->anchor = alias;
                break;
        default:
                e->type = EV_END;
                break;
        }
}

/* What libyaml's loader checks: every alias names an anchor met before it,
 * and no anchor is given twice. The events of anchored values are logged
 * for their aliases (the first document only: the walk reads no other). */
static void compose(struct pctx *c, const yaml_event_t *ev) {
        if (c->doc == 0 || c->doc > 2)
                return;
        struct yaml_pending *err = &c->comp_err[c->doc - 1];
        unsigned line = line_of(c, &ev->start_mark), col = (unsigned) ev->start_mark.column + 1;
        const char *anchor = NULL;
        if (ev->type == YAML_SCALAR_EVENT)
                anchor = (const char *) ev->data.scalar.anchor;
        else if (ev->type == YAML_SEQUENCE_START_EVENT)
                anchor = (const char *) ev->data.sequence_start.anchor;
        else if (ev->type == YAML_MAPPING_START_EVENT)
                anchor = (const char *) ev->data.mapping_start.anchor;
        if (ev->type == YAML_ALIAS_EVENT) {
                size_t a = anchor_find(c, (const char *) ev->data.alias.anchor);
                if (a == HINDEX_NONE) {
                        pending_set(err, line, col, "YAML: found undefined alias");
                        return;
                }
                c->alias_target = a;
                if (recording(c) && c->n_open)
                        log_event(c, ev, a);
                return;
        }
        if (anchor) {
                if (anchor_find(c, anchor) != HINDEX_NONE) {
                        /* The loader's words, problem then context, as its error printed. */
                        if (c->doc == 1)
                                pending_set(err, line, col, "YAML: second occurrence found duplicate anchor; first occurrence");
                        else
                                pending_set(err, line, col, "YAML: second occurrence");
                        return;
                }
                struct anchor *a = array_push(&c->anchors, &c->n_anchors, sizeof(*a));
                a->name = xstrdup(anchor);
                a->start = c->n_log;
                a->depth = c->depth;
                hindex_add(&c->anchor_index, c->n_anchors, anchor_hash, c);
                if (recording(c))
                        *(size_t *) array_push(&c->open, &c->n_open, sizeof(size_t)) = c->n_anchors - 1;
        }
        if (recording(c) && c->n_open)
                log_event(c, ev, 0);
        /* A scalar ends where it starts; a collection at its end event. */
        bool ends = ev->type == YAML_SEQUENCE_END_EVENT || ev->type == YAML_MAPPING_END_EVENT;
        if (recording(c) && anchor && ev->type == YAML_SCALAR_EVENT) {
                c->anchors[c->n_anchors - 1].end = c->n_log;
                c->anchors[c->n_anchors - 1].closed = true;
                c->n_open--;
        }
        while (ends && c->n_open && c->anchors[c->open[c->n_open - 1]].depth > c->depth) {
                struct anchor *a = &c->anchors[c->open[--c->n_open]];
                a->end = c->n_log;
                a->closed = true;
        }
}

/* A placeholder must be a plain item of its own, read by the walk before the
 * next event, in order; no anchor or alias may come near (an alias would
 * replay it). Anything else: the text is read again as written. */
static void run_check(struct pctx *c, const yaml_event_t *ev) {
        struct runs *rs = c->runs;
        const unsigned char *anchor = NULL;
        if (rs->pending)
                rs->mismatch = true; /* read by something other than a string list or a skip */
        if (ev->type == YAML_ALIAS_EVENT)
                rs->mismatch = true;
        else if (ev->type == YAML_SEQUENCE_START_EVENT)
                anchor = ev->data.sequence_start.anchor;
        else if (ev->type == YAML_MAPPING_START_EVENT)
                anchor = ev->data.mapping_start.anchor;
        else if (ev->type == YAML_SCALAR_EVENT) {
                anchor = ev->data.scalar.anchor;
                const char *v = (const char *) ev->data.scalar.value;
                size_t len = ev->data.scalar.length, m = sizeof(run_magic) - 1;
                if (len >= m && memmem(v, len, run_magic, m)) {
                        char want[sizeof(run_magic) + 24];
                        snprintf(want, sizeof(want), "%s%zu", run_magic, rs->taken);
                        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || strcmp(v, want) != 0 || rs->taken >= rs->n)
                                rs->mismatch = true;
                        else {
                                rs->pending = ++rs->taken;
                                c->written += rs->v[rs->pending - 1].nodes - 1;
                        }
                }
        }
        if (anchor)
                rs->mismatch = true;
        if (rs->mismatch)
                pending_set(&c->yaml_err, 1, 1, "YAML: read again as written");
}

/* The next event as written. Syntax errors and the limits end the read. */
static int raw_next(struct pctx *c, yaml_event_t *ev) {
        if (c->yaml_err.set)
                return -EINVAL;
        if (!yaml_parser_parse(&c->parser, ev)) {
                pending_set(&c->yaml_err, line_of(c, &c->parser.problem_mark),
                            (unsigned) c->parser.problem_mark.column + 1, "YAML: %s%s%s",
                            c->parser.problem ? c->parser.problem : "syntax error", c->parser.context ? " " : "",
                            c->parser.context ? c->parser.context : "");
                return -EINVAL;
        }
        yaml_event_type_t t = ev->type;
        unsigned line = line_of(c, &ev->start_mark), col = (unsigned) ev->start_mark.column + 1;
        if (c->runs && c->runs->n)
                run_check(c, ev);
        bool node = t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT || t == YAML_SEQUENCE_START_EVENT ||
                    t == YAML_MAPPING_START_EVENT;
        if (node && ++c->written > MAX_NODES_PER_FILE)
                pending_set(&c->yaml_err, line, col, "YAML: more than %u nodes", MAX_NODES_PER_FILE);
        else if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
                if (++c->depth > MAX_NESTING)
                        pending_set(&c->yaml_err, line, col, "YAML: nested deeper than %u levels", MAX_NESTING);
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT)
                c->depth--;
        if (c->yaml_err.set) {
                yaml_event_delete(ev);
                return -EINVAL;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
                c->doc++;
                anchors_reset(c);
                c->root_pending = true;
        }
        if (node && c->root_pending) {
                c->root_pending = false;
                if (c->doc == 2) {
                        c->root2_line = line;
                        c->root2_col = col;
                }
        }
        compose(c, ev);
        return 0;
}

static bool stopped(const struct pctx *c) {
        return c->yaml_err.set || c->comp_err[0].set;
}

static int read_event(struct pctx *c, struct node *n, bool expand);

/* An alias reads as the value it names, from the log. A value that holds
 * an alias to itself has no end: the alias is reported where the walk meets
 * it, and reads as an EV_ALIAS leaf at that value's place, of which nothing
 * more is said (see reported). */
static int enter_alias(struct pctx *c, size_t anchor, unsigned line, unsigned col, struct node *n) {
        const struct anchor *a = &c->anchors[anchor];
        if (!a->closed) {
                perr_at(c, line, col, "alias *%.64s names a value that contains it", printable(a->name));
                memset(n, 0, sizeof(*n));
                n->type = EV_ALIAS;
                n->line = c->log[a->start].line;
                n->col = c->log[a->start].col;
                return 0;
        }
        struct frame *fr = array_push(&c->frames, &c->n_frames, sizeof(*fr));
        fr->start = fr->at = a->start;
        fr->end = a->end;
        return read_event(c, n, true);
}

/* The next event of the walk into *n (released with node_done). expand: an
 * alias reads as the value it names; else as an EV_ALIAS leaf (skipping). */
static int read_event(struct pctx *c, struct node *n, bool expand) {
        memset(n, 0, sizeof(*n));
        if (stopped(c))
                return -EINVAL;
        if (c->n_frames) {
                struct frame *fr = &c->frames[c->n_frames - 1];
                bool first = fr->at == fr->start;
                size_t level = c->n_frames;
                const struct logged *e = &c->log[fr->at++];
                if (fr->at == fr->end)
                        c->n_frames--;
                n->line = e->line;
                n->col = e->col;
                if (e->type == EV_ALIAS) {
                        if (!expand) {
                                n->type = EV_ALIAS;
                                return 0;
                        }
                        return enter_alias(c, e->anchor, e->line, e->col, n);
                }
                n->type = e->type;
                n->value = e->value;
                n->length = e->length;
                n->plain = e->plain;
                n->open = e->type == EV_SEQ || e->type == EV_MAP;
                if (first && n->open)
                        n->frame = level;
                return 0;
        }
        yaml_event_t ev;
        int r = raw_next(c, &ev);
        if (r < 0)
                return r;
        if (stopped(c)) {
                yaml_event_delete(&ev);
                return -EINVAL;
        }
        n->line = line_of(c, &ev.start_mark);
        n->col = (unsigned) ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_ALIAS_EVENT:
                yaml_event_delete(&ev);
                if (!expand) {
                        n->type = EV_ALIAS;
                        return 0;
                }
                return enter_alias(c, c->alias_target, n->line, n->col, n);
        case YAML_SCALAR_EVENT:
                n->type = EV_SCALAR;
                n->value = (const char *) ev.data.scalar.value;
                n->length = ev.data.scalar.length;
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                break;
        case YAML_SEQUENCE_START_EVENT:
                n->type = EV_SEQ;
                n->open = true;
                break;
        case YAML_MAPPING_START_EVENT:
                n->type = EV_MAP;
                n->open = true;
                break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                n->type = EV_END;
                break;
        default:
                n->type = EV_OTHER;
                break;
        }
        n->ev = ev;
        n->owned = true;
        return 0;
}

/* An alias to a value that contains it, reported already. */
static bool reported(const struct node *n) {
        return n->type == EV_ALIAS;
}

static void node_free(struct node *n) {
        if (n->owned)
                yaml_event_delete(&n->ev);
        n->owned = false;
}

/* Reads past what is left of an open collection; an alias's is dropped whole. */
static void skip(struct pctx *c, struct node *n) {
        if (!n->open)
                return;
        n->open = false;
        if (n->frame && n->frame == c->n_frames) {
                c->n_frames--;
                return;
        }
        for (unsigned depth = 1; depth;) {
                if (!c->n_frames) {
                        /* libyaml's events straight, without a node: most of a skip. */
                        yaml_event_t ev;
                        if (raw_next(c, &ev) < 0)
                                return;
                        if (c->runs)
                                c->runs->pending = 0; /* a run skipped is items skipped */
                        yaml_event_type_t t = ev.type;
                        yaml_event_delete(&ev);
                        if (stopped(c))
                                return;
                        depth += t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT;
                        depth -= t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT;
                        continue;
                }
                struct node e;
                if (read_event(c, &e, false) < 0)
                        return;
                if (e.type == EV_SEQ || e.type == EV_MAP)
                        depth++;
                else if (e.type == EV_END)
                        depth--;
                node_free(&e);
        }
}

static void node_done(struct pctx *c, struct node *n) {
        skip(c, n);
        node_free(n);
}

struct map_emit {
        struct pctx *c;
        char *arena;
        unsigned line;
};

static void map_emit(void *u, const char *s, size_t len, size_t col) {
        struct map_emit *m = u;
        struct logged *e = &m->c->log[m->c->n_log++];
        memset(e, 0, sizeof(*e));
        e->line = m->line;
        e->col = (unsigned) col + 1;
        if (!s) {
                e->type = EV_MAP;
                return;
        }
        e->type = EV_SCALAR;
        e->plain = true;
        e->length = len;
        e->value = m->arena;
        e->borrowed = true;
        memcpy(m->arena, s, len);
        m->arena[len] = '\0';
        m->arena += len + 1;
}

/* The mappings of the run whose placeholder a flow list just read, each
 * replayed as an alias's value is (one frame each, the first on top). */
static int map_run(struct pctx *c, struct node *coll) {
        struct runs *rs = c->runs;
        const struct list_run *run = &rs->v[rs->pending - 1];
        rs->pending = 0;
        if (!run->maps || !coll->owned || coll->ev.type != YAML_SEQUENCE_START_EVENT ||
            coll->ev.data.sequence_start.style != YAML_FLOW_SEQUENCE_STYLE || c->n_anchors || c->n_frames ||
            c->depth + 1 > MAX_NESTING) {
                rs->mismatch = true;
                pending_set(&c->yaml_err, 1, 1, "YAML: read again as written");
                return -EINVAL;
        }
        /* Nothing else is in the log: no anchor was met (run_check). Its room
         * is what array_push would have made for this many. */
        size_t events = run->nodes + run->count;
        struct logged *log = realloc(c->log, array_capacity(events) * sizeof(*log));
        char *arena = realloc(c->run_arena, run->end - run->start + 1);
        if (!log || !arena)
                abort();
        c->log = log;
        c->run_arena = arena;
        c->n_log = 0;
        struct map_emit m = { c, c->run_arena, 0 };
        size_t *starts = xcalloc(run->count + 1, sizeof(size_t));
        const char *p = rs->text + run->start, *end = rs->text + run->end;
        for (unsigned i = 0; i < run->count; i++) {
                const char *eol = NULL;
                unsigned nodes;
                starts[i] = c->n_log;
                m.line = run->line + i + 1;
                map_line(p, end, &eol, &nodes, map_emit, &m);
                struct logged *e = &c->log[c->n_log++];
                memset(e, 0, sizeof(*e));
                e->type = EV_END;
                e->line = m.line;
                e->col = (unsigned) (eol - 2 - p) + 1; /* its '}' */
                p = eol + 1;
        }
        starts[run->count] = c->n_log;
        for (unsigned i = run->count; i-- > 0;) {
                struct frame *fr = array_push(&c->frames, &c->n_frames, sizeof(*fr));
                fr->start = fr->at = starts[i];
                fr->end = starts[i + 1];
        }
        free(starts);
        return 0;
}

/* The next item of an open collection: 1, 0 at its end, <0 when the read failed. */
static int next_in(struct pctx *c, struct node *coll, struct node *item) {
        if (!coll->open)
                return 0;
        int r = read_event(c, item, true);
        if (r < 0)
                return r;
        if (c->runs && c->runs->pending && c->runs->v[c->runs->pending - 1].maps) {
                node_free(item);
                r = map_run(c, coll);
                if (r >= 0)
                        r = read_event(c, item, true);
                if (r < 0)
                        return r;
        }
        if (item->type == EV_END) {
                coll->open = false;
                node_free(item);
                return 0;
        }
        return 1;
}

/* The next key and value of an open mapping. A key that is a collection is
 * read past first: its value comes after it. */
static int next_pair(struct pctx *c, struct node *map, struct node *k, struct node *v) {
        int r = next_in(c, map, k);
        if (r <= 0)
                return r;
        skip(c, k);
        r = read_event(c, v, true);
        if (r < 0) {
                node_free(k);
                return r;
        }
        return 1;
}

/* ---- lists ---- */

static int want_seq(struct pctx *c, struct node *n, const struct field *f) {
        if (n->type != EV_SEQ)
                return perr(c, n, "%s: expected a list", flabel(f));
        return 0;
}

/* The record a list's items go to, when its key is one of the resource's. */
static struct at_value *take_items(struct pctx *c) {
        struct at_value *a = c->items;
        c->items = NULL;
        return a;
}

/* array_push's capacity is implied by n: it grows only when n is 0 or a
 * power of two from 4 on. Elsewhere the slot is there already, and a long
 * list's items are written straight into it (the call and its memset per
 * item were a tenth of a 100,000-entry list's parse). */
static bool array_has_room(size_t n) {
        return n >= 4 && (n & (n - 1)) != 0;
}

static void item_note(struct at_value *a, struct node *item, bool with_text) {
        if (!a)
                return;
        struct item_pos *p = array_has_room(a->n_items) ? &a->items[a->n_items++] : array_push(&a->items, &a->n_items, sizeof(*p));
        p->line = item->line;
        p->col = item->col;
        if (with_text)
                *(char **) array_push(&a->texts, &a->n_texts, sizeof(char *)) = scalar(item) ? xstrdup(scalar(item)) : NULL;
}

static void at_clear(struct at_value *a) {
        free(a->text);
        free(a->items);
        for (size_t i = 0; i < a->n_texts; i++)
                free(a->texts[i]);
        free(a->texts);
        memset(a, 0, sizeof(*a));
}

static uint64_t addr_hash(const struct ipaddr *a) {
        uint64_t h = hash_fnv1a(HASH_FNV1A_SEED, &a->family, sizeof(a->family));
        h = hash_fnv1a(h, a->a, a->family == AF_INET ? 4 : 16);
        return hash_fnv1a(h, &a->prefix, sizeof(a->prefix));
}

static uint64_t addr_hash_at(size_t pos, const void *u) {
        const struct addr_list *l = u;
        return addr_hash(&l->v[pos]);
}

struct addr_probe {
        const struct addr_list *l;
        const struct ipaddr *a;
};

static bool addr_eq(size_t pos, const void *u) {
        const struct addr_probe *p = u;
        return ipaddr_equal(&p->l->v[pos], p->a);
}

static int p_addr_list(struct pctx *c, struct node *n, const struct field *f, void *base) {
        struct addr_list *l = (struct addr_list *) ((char *) base + f->offset);
        struct at_value *rec = take_items(c);
        int r = want_seq(c, n, f), ret = 0;
        if (r < 0)
                return r;
        /* Duplicates found through a hash: an address list may be long. */
        struct hindex seen = { 0 };
        hindex_rebuild(&seen, l->n, addr_hash_at, l);
        for (;;) {
                struct node item;
                r = next_in(c, n, &item);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                if (!budget_ok(c, &item)) {
                        node_done(c, &item);
                        ret = -E2BIG;
                        break;
                }
                item_note(rec, &item, true);
                struct ipaddr a;
                r = reported(&item) ? -EINVAL : addr_value(c, &item, f, true, &a);
                if (r >= 0) {
                        struct addr_probe p = { l, &a };
                        if (hindex_find(&seen, addr_hash(&a), addr_eq, &p) != HINDEX_NONE)
                                r = perr(c, &item, "%s: address %s listed twice", flabel(f), scalar(&item));
                }
                if (r < 0)
                        ret = r;
                else {
                        *(struct ipaddr *) array_push(&l->v, &l->n, sizeof(a)) = a;
                        hindex_add(&seen, l->n, addr_hash_at, l);
                }
                node_done(c, &item);
        }
        hindex_done(&seen);
        return ret;
}

/* The duplicate index's hash of a list item, 8 bytes a step (FNV-1a's byte
 * steps were 13M instructions of a 100,000-entry set's parse); never stored. */
static uint64_t item_hash(const char *s) {
        size_t n = strlen(s);
        uint64_t h = HASH_FNV1A_SEED ^ n, w;
        for (; n >= 8; s += 8, n -= 8) {
                memcpy(&w, s, 8);
                h = (h ^ w) * 0x9e3779b97f4a7c15ull;
                h ^= h >> 29;
        }
        w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        return h ^ (h >> 32);
}

static uint64_t str_hash_at(size_t pos, const void *u) {
        const struct str_list *l = u;
        return item_hash(l->v[pos]);
}

/* The list, and the hash of the item just added: not computed twice. */
struct str_added {
        const struct str_list *l;
        uint64_t h;
};

static uint64_t str_added_hash_at(size_t pos, const void *u) {
        const struct str_added *a = u;
        return pos == a->l->n - 1 ? a->h : str_hash_at(pos, a->l);
}

struct str_probe {
        const struct str_list *l;
        const char *s;
};

static bool str_eq(size_t pos, const void *u) {
        const struct str_probe *p = u;
        return strcmp(p->l->v[pos], p->s) == 0;
}

/* A list's one block of text while the list is parsed (FT_STR_LIST with a
 * struct str_list_block): every item of l points into it. */
struct text_block {
        char **owner;
        size_t len, cap;
};

static void block_begin(struct text_block *b, char **owner, const struct str_list *l) {
        b->owner = owner;
        b->len = b->cap = 0;
        if (*owner && l->n) {
                const char *last = l->v[l->n - 1];
                b->len = b->cap = (size_t) (last - *owner) + strlen(last) + 1;
        }
}

/* Room for more bytes: a larger block, the items moved into it. */
static void block_reserve(struct text_block *b, struct str_list *l, size_t more) {
        if (b->len + more <= b->cap)
                return;
        size_t cap = b->cap * 2 > b->len + more ? b->cap * 2 : b->len + more;
        char *old = *b->owner, *to = xcalloc(cap, 1);
        if (b->len)
                memcpy(to, old, b->len);
        for (size_t i = 0; i < l->n; i++)
                l->v[i] = to + (l->v[i] - old);
        free(old);
        *b->owner = to;
        b->cap = cap;
}

static char *block_add(struct text_block *b, struct str_list *l, const char *s) {
        size_t n = strlen(s) + 1;
        block_reserve(b, l, n);
        char *p = memcpy(*b->owner + b->len, s, n);
        b->len += n;
        return p;
}

/* One item of a string list: checked, then added unless it is there already.
 * word: a run's, a non-empty string of safe characters. */
static int str_item(struct pctx *c, struct node *item, const struct field *f, struct str_list *l, struct text_block *b,
                    struct hindex *seen, bool word) {
        const char *s = word ? item->value : NULL;
        int r = word ? 0 : reported(item) ? -EINVAL : want_string(c, item, f, &s);
        if (r >= 0 && f->min == 1)
                r = check_ifname(c, item, flabel(f), s);
        if (r >= 0 && f->min == 0 && !word && (!*s || !xml_safe(s)))
                r = perr(c, item, "%s: bad entry \"%.64s\"", flabel(f), s);
        if (r >= 0 && f->min == 1 && c->res && strcmp(s, c->res->name) == 0)
                r = perr(c, item, "%s: %s cannot contain itself", flabel(f), s);
        uint64_t h = r >= 0 && seen ? item_hash(s) : 0;
        struct str_probe p = { l, s };
        if (r >= 0 && seen && hindex_find(seen, h, str_eq, &p) != HINDEX_NONE)
                r = perr(c, item, "%s: %s listed twice", flabel(f), s);
        if (r < 0)
                return r;
        char *copy = b ? block_add(b, l, s) : xstrdup(s);
        if (array_has_room(l->n))
                l->v[l->n++] = copy;
        else
                *(char **) array_push(&l->v, &l->n, sizeof(char *)) = copy;
        struct str_added added = { l, h };
        if (seen)
                hindex_add(seen, l->n, str_added_hash_at, &added);
        if (f->min == 1)
                note_ref(c, item, s);
        return 0;
}

/* The items of the run whose placeholder the list just read, from the text
 * as written, each as libyaml would have given it. */
static int str_run(struct pctx *c, struct node *list, struct at_value *rec, const struct field *f, struct str_list *l,
                   struct text_block *b, struct hindex *seen, bool top) {
        struct runs *rs = c->runs;
        struct list_run *run = &rs->v[rs->pending - 1];
        rs->pending = 0;
        run->res = top ? c->res : NULL;
        run->bit = top ? f->bit : 0;
        run->item0 = l->n;
        if (run->maps || !list->owned || list->ev.data.sequence_start.style != YAML_BLOCK_SEQUENCE_STYLE) {
                rs->mismatch = true;
                pending_set(&c->yaml_err, 1, 1, "YAML: read again as written");
                return -EINVAL;
        }
        int ret = 0;
        /* Each line is INDENT "- " WORD "\n": the words and their ends, exactly. */
        size_t fixed = (size_t) run->count * (run->indent + 2), span = run->end - run->start;
        if (b && span > fixed)
                block_reserve(b, l, span - fixed);
        const char *p = rs->text + run->start;
        for (unsigned i = 0; i < run->count; i++) {
                const char *w = p + run->indent + 2, *eol = memchr(w, '\n', (size_t) (rs->text + rs->len - w));
                char word[RUN_LINE_MAX + 1];
                size_t n = (size_t) (eol - w);
                memcpy(word, w, n);
                word[n] = '\0';
                struct node item = { .type = EV_SCALAR, .line = run->line + i + 1, .col = run->indent + 3,
                                     .value = word, .length = n, .plain = true };
                p = eol + 1;
                if (!budget_ok(c, &item))
                        return -E2BIG;
                item_note(rec, &item, false);
                int r = str_item(c, &item, f, l, b, seen, true);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

/* min = 1: interface names; min = 0: any non-empty string (ipset entries). */
static int p_str_list(struct pctx *c, struct node *n, const struct field *f, void *base) {
        struct str_list *l = (struct str_list *) ((char *) base + f->offset);
        struct at_value *rec = take_items(c);
        int r = want_seq(c, n, f), ret = 0;
        if (r < 0)
                return r;
        if (rec) {
                rec->strs = l;
                rec->strs_base = l->n;
        }
        const struct str_list_block *sb = f->extra;
        struct text_block block, *b = sb ? &block : NULL;
        if (b)
                block_begin(b, (char **) ((char *) base + sb->block_offset), l);
        /* Duplicates through a hash over the list itself (no second array), or
         * by the kind's check, after the parse (dups_unchecked). */
        struct hindex seen = { 0 }, *index = &seen;
        if (rec && sb && sb->check_finds_duplicates && rec->strs_base == 0) {
                rec->dups_unchecked = flabel(f);
                index = NULL;
        } else
                hindex_rebuild(&seen, l->n, str_hash_at, l);
        for (;;) {
                struct node item;
                r = next_in(c, n, &item);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                if (c->runs && c->runs->pending) {
                        node_free(&item);
                        r = str_run(c, n, rec, f, l, b, index, c->res && base == c->res && f->bit);
                        if (r == -E2BIG) {
                                ret = r;
                                break;
                        }
                        if (r < 0)
                                ret = r;
                        continue;
                }
                if (!budget_ok(c, &item)) {
                        node_done(c, &item);
                        ret = -E2BIG;
                        break;
                }
                item_note(rec, &item, false);
                r = str_item(c, &item, f, l, b, index, false);
                if (r < 0)
                        ret = r;
                node_done(c, &item);
        }
        hindex_done(&seen);
        return ret;
}

/* ---- mappings ---- */

/* The scalar keys of one mapping so far, for duplicates. */
/* A mapping has a handful of keys: they are compared in a row, and hashed
 * only past this many (a map of names may hold thousands). */
#define SEEN_LINEAR 16

struct seen_keys {
        struct key_seen {
                char *heap; /* a long key; a short one is in short_key */
                char short_key[24];
                unsigned line, col;
        } *v;
        size_t n;
        struct hindex index;
};

static const char *seen_key(const struct key_seen *e) {
        return e->heap ? e->heap : e->short_key;
}

static uint64_t seen_hash(size_t pos, const void *u) {
        const struct seen_keys *s = u;
        return hash_fnv1a_str(HASH_FNV1A_SEED, seen_key(&s->v[pos]));
}

struct seen_probe {
        const struct seen_keys *s;
        const char *key;
};

static bool seen_eq(size_t pos, const void *u) {
        const struct seen_probe *p = u;
        return strcmp(seen_key(&p->s->v[pos]), p->key) == 0;
}

static void seen_done(struct seen_keys *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i].heap);
        free(s->v);
        hindex_done(&s->index);
}

/* A key met earlier in the same mapping is reported with both places. */
static bool duplicate_key(struct pctx *c, struct seen_keys *s, struct node *k, const char *what) {
        const char *key = scalar(k);
        struct seen_probe p = { s, key };
        size_t i = HINDEX_NONE;
        if (s->n <= SEEN_LINEAR) {
                for (size_t j = 0; j < s->n && i == HINDEX_NONE; j++)
                        if (strcmp(seen_key(&s->v[j]), key) == 0)
                                i = j;
        } else
                i = hindex_find(&s->index, hash_fnv1a_str(HASH_FNV1A_SEED, key), seen_eq, &p);
        if (i != HINDEX_NONE) {
                perr(c, k, "duplicate key \"%.64s\"%s%s (first at %u:%u)", key, what ? " in " : "", what ? what : "",
                     s->v[i].line, s->v[i].col);
                return true;
        }
        struct key_seen *e = array_push(&s->v, &s->n, sizeof(*e));
        size_t len = strlen(key);
        if (len < sizeof(e->short_key))
                memcpy(e->short_key, key, len + 1);
        else
                e->heap = xstrdup(key);
        e->line = k->line;
        e->col = k->col;
        if (s->n > SEEN_LINEAR)
                hindex_add(&s->index, s->n, seen_hash, s);
        return false;
}

/* Walk a mapping against a field table: unknown and duplicate keys are errors,
 * every field is parsed even after an error so that all errors are reported.
 * *only_children: the mapping held one key, a children field (a pool's volumes). */
static int parse_value(struct pctx *c, struct node *n, const struct field *f, void *base);

static int parse_fields(struct pctx *c, struct node *map, const struct field *table, size_t n_table, void *base,
                        uint64_t *set, const char *what, unsigned depth, bool *only_children) {
        if (map->type != EV_MAP)
                return reported(map) ? -EINVAL : perr(c, map, "%s: expected a mapping", what);
        if (depth > MAX_DEPTH)
                return perr(c, map, "%s: nested too deeply", what);
        int ret = 0;
        size_t pairs = 0;
        bool first_children = false;
        struct seen_keys seen = { 0 };
        for (;;) {
                struct node k, v;
                int r = next_pair(c, map, &k, &v);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                const char *key = scalar(&k);
                const struct field *f = NULL;
                for (size_t i = 0; key && i < n_table && !f; i++)
                        if (strcmp(table[i].key, key) == 0)
                                f = &table[i];
                if (++pairs == 1)
                        first_children = f && f->type == FT_CHILDREN;
                if (!budget_ok(c, &k))
                        r = ret = -E2BIG;
                else if (!key)
                        ret = reported(&k) ? -EINVAL : perr(c, &k, "%s: keys must be strings", what);
                else if (duplicate_key(c, &seen, &k, what))
                        ret = -EINVAL;
                else if (!f)
                        ret = perr(c, &k, "unknown key \"%.64s\" in %s", key, what);
                else {
                        struct at_value *at = base == c->res && f->bit ? &c->at[__builtin_ctzll(f->bit)] : NULL;
                        if (at) {
                                at_clear(at);
                                at->given = true;
                                at->line = v.line;
                                at->col = v.col;
                                at->text = scalar(&v) ? xstrdup(scalar(&v)) : NULL;
                        }
                        c->items = at;
                        int x = parse_value(c, &v, f, base);
                        c->items = NULL;
                        if (x < 0)
                                ret = x;
                        else if (set)
                                *set |= f->bit;
                        if (at) {
                                struct key_pos *kp = array_push(&c->res->keys, &c->res->n_keys, sizeof(*kp));
                                kp->bit = f->bit;
                                kp->pos = pos_of(c, &v);
                        }
                }
                node_done(c, &k);
                node_done(c, &v);
                if (r == -E2BIG)
                        break;
        }
        seen_done(&seen);
        if (only_children)
                *only_children = pairs == 1 && first_children;
        return ret;
}

static int p_obj_list(struct pctx *c, struct node *n, const struct field *f, void *base) {
        const struct sub_table *t = f->extra;
        void **arr = (void **) ((char *) base + f->offset);
        size_t *count = (size_t *) ((char *) arr + t->count_offset);
        struct at_value *rec = take_items(c);
        int r = want_seq(c, n, f), ret = 0;
        if (r < 0)
                return r;
        for (;;) {
                struct node item;
                r = next_in(c, n, &item);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                if (!budget_ok(c, &item)) {
                        node_done(c, &item);
                        ret = -E2BIG;
                        break;
                }
                item_note(rec, &item, true);
                char *e = array_push(arr, count, t->elem_size);
                *(struct srcpos *) (e + t->pos_offset) = pos_of(c, &item);
                r = parse_fields(c, &item, t->fields, t->n_fields, e, (uint64_t *) (e + t->set_offset), t->what, 2, NULL);
                if (r < 0)
                        ret = r;
                node_done(c, &item);
        }
        return ret;
}

static int p_obj(struct pctx *c, struct node *n, const struct field *f, void *base) {
        const struct sub_table *t = f->extra;
        return parse_fields(c, n, t->fields, t->n_fields, (char *) base + f->offset, NULL, t->what, 2, NULL);
}


/* A named network namespace, as /run/netns/NAME holds it. */
static int p_netns_name(struct pctx *c, struct node *n, const struct field *f, void *base) {
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
static int p_user(struct pctx *c, struct node *n, const struct field *f, void *base) {
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
        c->set->looked_up = true; /* the answer is the host's, not the text's */
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
static int p_custom(struct pctx *c, struct node *n, const struct field *f, void *base) {
        /* NULL for what is not one string: the kind says what it expected. */
        const char *s = scalar(n);
        char err[256];
        if (s && strlen(s) != n->length)
                s = NULL;
        if (f->parse(s, base, f, err, sizeof(err)) < 0)
                return perr(c, n, "%s", err);
        return 0;
}

void str_map_add(struct str_map *m, const char *key, const char *value) {
        struct str_pair *p = array_push(&m->v, &m->n, sizeof(*p));
        p->key = xstrdup(key);
        p->value = xstrdup(value);
}

const char *str_map_get(const struct str_map *m, const char *key) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->v[i].key, key) == 0)
                        return m->v[i].value;
        return NULL;
}

void str_map_done(struct str_map *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].key);
                free(m->v[i].value);
        }
        free(m->v);
        m->v = NULL;
        m->n = 0;
}

static bool text_plain(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* A mapping of strings: each key once and not empty; values are strings
 * (a number is its text), no control characters in either. Item i of the
 * field's record is the value of pair i, for a kind's check to point at. */
static int p_map(struct pctx *c, struct node *n, const struct field *f, void *base) {
        struct str_map *m = (struct str_map *) ((char *) base + f->offset);
        struct at_value *rec = take_items(c);
        if (n->type != EV_MAP)
                return perr(c, n, "%s: expected a mapping of strings", flabel(f));
        struct seen_keys seen = { 0 };
        int ret = 0;
        for (;;) {
                struct node k, v;
                int r = next_pair(c, n, &k, &v);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                const char *key = scalar(&k), *value = scalar(&v);
                item_note(rec, &v, true);
                if (!budget_ok(c, &k))
                        r = ret = -E2BIG;
                else if (!key || !*key || !text_plain(key))
                        ret = reported(&k) ? -EINVAL : perr(c, &k, "%s: keys must be non-empty strings", flabel(f));
                else if (duplicate_key(c, &seen, &k, flabel(f)))
                        ret = -EINVAL;
                else if (!value || !text_plain(value))
                        ret = reported(&v) ? -EINVAL : perr(c, &v, "%s: %.64s: expected a string", flabel(f), key);
                else
                        str_map_add(m, key, value);
                node_done(c, &k);
                node_done(c, &v);
                if (r == -E2BIG)
                        break;
        }
        seen_done(&seen);
        return ret;
}

static int p_children(struct pctx *c, struct node *n, const struct field *f, void *base);

static int parse_value(struct pctx *c, struct node *n, const struct field *f, void *base) {
        static int (*const parsers[])(struct pctx *, struct node *, const struct field *, void *) = {
                [FT_U32] = p_u32,         [FT_BOOL] = p_bool,         [FT_SIZE] = p_size,
                [FT_ENUM] = p_enum,       [FT_ENUM_WORD] = p_enum_word, [FT_ENUM_STR] = p_enum_str,
                [FT_IFNAME] = p_ifname,   [FT_STR] = p_str,           [FT_WORD] = p_word,
                [FT_MAC] = p_mac,         [FT_IPADDR] = p_ipaddr,     [FT_ADDR_LIST] = p_addr_list,
                [FT_STR_LIST] = p_str_list, [FT_OBJ] = p_obj,         [FT_OBJ_LIST] = p_obj_list,
                [FT_NETNS] = p_netns_name, [FT_USER] = p_user,        [FT_CHILDREN] = p_children,
                [FT_CUSTOM] = p_custom,
                [FT_MAP] = p_map,
        };
        if (reported(n))
                return -EINVAL;
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
        struct node *name; /* the resource's key */
};

void check_items_unique(struct check_ctx *c, uint64_t bit) {
        if (bit)
                c->p->at[__builtin_ctzll(bit)].dups_unchecked = NULL;
}

/* A list whose duplicates the kind's check did not look for: found here,
 * each reported at its second place, as the parser reports them itself. */
static int list_duplicates(struct pctx *c, struct at_value *a) {
        const struct str_list *l = a->strs;
        size_t n = l->n - a->strs_base;
        int ret = 0;
        struct hindex seen = { 0 };
        for (size_t i = 0; i < n; i++) {
                const char *s = l->v[a->strs_base + i];
                struct str_probe p = { l, s };
                if (hindex_find(&seen, item_hash(s), str_eq, &p) != HINDEX_NONE) {
                        /* The places are the items', one for one, unless the parse dropped one. */
                        unsigned line = a->n_items == n ? a->items[i].line : a->line, col = a->n_items == n ? a->items[i].col : a->col;
                        ret = perr_at(c, line, col, "%s: %s listed twice", a->dups_unchecked, s);
                } else
                        hindex_add(&seen, a->strs_base + i + 1, str_hash_at, l);
        }
        hindex_done(&seen);
        a->dups_unchecked = NULL;
        return ret;
}

static const struct at_value *check_at(struct check_ctx *c, uint64_t bit) {
        const struct at_value *a = bit ? &c->p->at[__builtin_ctzll(bit)] : NULL;
        return a && a->given ? a : NULL;
}

int check_error(struct check_ctx *c, uint64_t bit, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const struct at_value *a = check_at(c, bit);
        return a ? perr_at(c->p, a->line, a->col, "%s", msg) : perr(c->p, c->name, "%s", msg);
}

const char *check_text(struct check_ctx *c, uint64_t bit) {
        const struct at_value *a = check_at(c, bit);
        const char *s = a ? a->text : scalar(c->name);
        return s ? s : "";
}

size_t check_items(struct check_ctx *c, uint64_t bit) {
        const struct at_value *a = check_at(c, bit);
        return a ? a->n_items : 0;
}

const char *check_item_text(struct check_ctx *c, uint64_t bit, size_t i) {
        const struct at_value *a = check_at(c, bit);
        const char *s = NULL;
        if (a && i < a->n_items && a->strs)
                s = a->strs_base + i < a->strs->n ? a->strs->v[a->strs_base + i] : NULL;
        else if (a && i < a->n_texts)
                s = a->texts[i];
        return s ? s : "";
}

int check_item_error(struct check_ctx *c, uint64_t bit, size_t i, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const struct at_value *a = check_at(c, bit);
        if (a && i < a->n_items)
                return perr_at(c->p, a->items[i].line, a->items[i].col, "%s", msg);
        return check_error(c, bit, "%s", msg);
}

struct srcpos check_item_pos(struct check_ctx *c, uint64_t bit, size_t i) {
        const struct at_value *a = check_at(c, bit);
        if (a && i < a->n_items)
                return (struct srcpos){ c->p->file, a->items[i].line, a->items[i].col };
        return c->p->res ? c->p->res->pos : (struct srcpos){ c->p->file, 0, 0 };
}

const struct model *check_declared(struct check_ctx *c) {
        c->p->set->declared_read = true;
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
static const char *entry_name(struct pctx *c, const struct kind_ops *k, struct node *key) {
        const char *name = scalar(key);
        if (!name)
                return perr(c, key, "%s: names must be strings", k->section), NULL;
        if (k->name_max && strlen(name) > k->name_max && !k->name_valid)
                return perr(c, key, "%s name is %zu bytes: at most %zu%s", k->word, strlen(name), k->name_max,
                            k->name_long ? k->name_long : ""),
                       NULL;
        if (strlen(name) != key->length || !name_valid(k, name)) {
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

static int add_resource(struct pctx *c, struct resource *r, struct node *key) {
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


/* One entry: its keys, then the kind's check; kept in the model when both pass. */
static int parse_entry(struct pctx *c, const struct kind_ops *k, enum kind kind, struct node *key, struct node *v,
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
        struct at_value *outer_at = c->at, *outer_items = c->items, at[64];
        memset(at, 0, sizeof(at));
        c->res = r;
        c->at = at;
        c->items = NULL;
        int x = 0;
        bool only_children = false;
        if (k->flags & KF_NAME_VALUE) {
                x = parse_value(c, v, &k->fields[0], r);
                if (x >= 0)
                        r->set |= k->fields[0].bit;
        } else if (!(v->type == EV_SCALAR && v->length == 0 && is_plain(v)))
                x = parse_fields(c, v, k->fields, k->n_fields, r, &r->set, what, depth, &only_children);
        /* An entry that holds nothing but children (a pool's volumes) adds them
         * to a parent declared whole in another file; validate finds that parent. */
        bool extension = x >= 0 && only_children;
        if (x >= 0 && !extension && k->check && r->state != STATE_ABSENT) {
                struct check_ctx cc = { c, key };
                x = k->check(&cc, r);
        }
        for (size_t i = 0; i < ELEMENTSOF(at); i++)
                if (at[i].dups_unchecked && list_duplicates(c, &at[i]) < 0)
                        x = -EINVAL;
        if (x >= 0 && !extension && (k->flags & KF_NOT_ABSENT) && r->state == STATE_ABSENT)
                x = perr(c, key, "%s %s: %s", k->word, name, k->never_absent);
        c->res = outer;
        c->at = outer_at;
        c->items = outer_items;
        for (size_t i = 0; i < ELEMENTSOF(at); i++)
                at_clear(&at[i]);
        if (x < 0 || extension) {
                /* An extension's children are resources of their own, added already. */
                resource_free(r);
                return x;
        }
        return add_resource(c, r, key);
}

static int parse_entries(struct pctx *c, const struct kind_ops *k, struct node *map, const struct resource *parent,
                         const char *what, unsigned depth) {
        if (map->type == EV_SCALAR && map->length == 0)
                return 0; /* "bridges:" with nothing under it */
        if (reported(map))
                return -EINVAL;
        if (map->type != EV_MAP) {
                if (k->flags & KF_NAME_VALUE)
                        return perr(c, map, "%s: expected a mapping of keys to values", what);
                return perr(c, map, "%s: expected a mapping of names", what);
        }
        enum kind kind = kind_of_ops(k);
        int ret = 0;
        for (;;) {
                struct node key, v;
                int r = next_pair(c, map, &key, &v);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                const char *name = NULL;
                if (!budget_ok(c, &key))
                        r = ret = -E2BIG;
                else if (reported(&key) || !(name = entry_name(c, k, &key)))
                        ret = -EINVAL;
                else {
                        char *full = parent ? xasprintf("%s/%s", parent->name, name) : xstrdup(name);
                        int x = parse_entry(c, k, kind, &key, &v, full, parent, depth);
                        free(full);
                        if (x < 0)
                                ret = x;
                }
                node_done(c, &key);
                node_done(c, &v);
                if (r == -E2BIG)
                        break;
        }
        return ret;
}

/* Resources declared inside another's entry (a pool's volumes), named PARENT/NAME. */
static int p_children(struct pctx *c, struct node *n, const struct field *f, void *base) {
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

/* ---- the document ---- */

static void top_note(struct top_value *t, struct node *v) {
        if (t->given)
                return; /* the first one counts; a second is a duplicate key */
        t->given = true;
        t->is_scalar = v->type == EV_SCALAR;
        t->line = v->line;
        t->col = v->col;
        t->text = t->is_scalar ? xstrdup(v->value) : NULL;
}

/* Whether version: and host: let the sections count: 0, 1 when the file is
 * for another host, or <0 with the error in *err. A key that is not there
 * yet may come later (at_end false). */
static int top_verdict(struct pctx *c, const char *hostname, bool at_end, struct yaml_pending *err) {
        const struct top_value *v = &c->version, *h = &c->host;
        if (c->root_not_map) {
                pending_set(err, c->root_line, c->root_col, "a manifest is a mapping with version: 1 and sections");
                return -EINVAL;
        }
        if (!v->given) {
                if (at_end)
                        pending_set(err, c->root_line, c->root_col, "missing \"version: 1\"");
                return at_end ? -EINVAL : 0;
        }
        if (!v->is_scalar) {
                pending_set(err, v->line, v->col, "version: expected 1");
                return -EINVAL;
        }
        if (strcmp(v->text, "1") != 0) {
                pending_set(err, v->line, v->col, "unsupported version \"%.16s\": this reconcile reads version 1",
                            printable(v->text));
                return -EINVAL;
        }
        if (h->given && (!h->is_scalar || !*h->text)) {
                pending_set(err, h->line, h->col, "host: expected a glob string");
                return -EINVAL;
        }
        return h->given && fnmatch(h->text, hostname, 0) != 0 ? 1 : 0;
}

/* The root mapping, key by key. version: and host: decide whether the
 * sections count, wherever they are written: the sections are walked as they
 * come, and their errors held until the end (parse_input). */
static int parse_document(struct pctx *c, const char *hostname) {
        struct node root;
        int r = read_event(c, &root, true);
        if (r < 0)
                return r;
        c->root_line = root.line;
        c->root_col = root.col;
        if (root.type != EV_MAP) {
                c->root_not_map = true;
                node_done(c, &root);
                return -EINVAL;
        }
        int ret = 0;
        struct seen_keys seen = { 0 };
        for (;;) {
                struct node k, v;
                r = next_pair(c, &root, &k, &v);
                if (r <= 0) {
                        ret = r < 0 ? r : ret;
                        break;
                }
                const char *key = scalar(&k);
                if (!key)
                        ret = reported(&k) ? -EINVAL : perr(c, &k, "keys must be strings");
                else if (strcmp(key, "version") == 0 || strcmp(key, "host") == 0) {
                        top_note(strcmp(key, "version") == 0 ? &c->version : &c->host, &v);
                        struct yaml_pending unused = { 0 };
                        c->moot = c->moot || top_verdict(c, hostname, false, &unused) != 0;
                        if (duplicate_key(c, &seen, &k, NULL))
                                ret = -EINVAL;
                } else if (duplicate_key(c, &seen, &k, NULL))
                        ret = -EINVAL;
                else if (!c->moot) {
                        const struct kind_ops *kp = NULL;
                        for (size_t i = 0; i < _KIND_MAX && !kp; i++)
                                if (has_section(kind_ops((enum kind) i)) && strcmp(kind_ops((enum kind) i)->section, key) == 0)
                                        kp = kind_ops((enum kind) i);
                        if (!kp)
                                ret = perr(c, &k, "unknown key \"%.64s\" at top level", key);
                        else {
                                int x = parse_entries(c, kp, &v, NULL, kp->section, 1);
                                if (x < 0)
                                        ret = x;
                        }
                }
                node_done(c, &k);
                node_done(c, &v);
        }
        seen_done(&seen);
        node_done(c, &root);
        return ret;
}

/* A file's errors are held until its end: an error of the YAML anywhere in it,
 * a bad version: or another host's glob replaces them, as it did when the
 * file was loaded whole before any of it was walked. */
struct diag_hold {
        FILE *was, *mem;
        char *buf;
        size_t len;
        unsigned count;
        struct str_list *kept;
        size_t n_kept;
};

static void hold_begin(struct diag_hold *h) {
        memset(h, 0, sizeof(*h));
        h->was = diag_stream();
        h->count = diag_error_count();
        h->kept = diag_capture(NULL);
        diag_capture(h->kept);
        h->n_kept = h->kept ? h->kept->n : 0;
        h->mem = open_memstream(&h->buf, &h->len);
        if (!h->mem)
                abort();
        diag_set_stream(h->mem);
}

static void hold_end(struct diag_hold *h, bool keep) {
        fclose(h->mem);
        diag_set_stream(h->was == stderr ? NULL : h->was);
        if (keep && h->len)
                fwrite(h->buf, 1, h->len, h->was);
        if (!keep) {
                diag_restore_count(h->count);
                for (size_t i = h->n_kept; h->kept && i < h->kept->n; i++)
                        free(h->kept->v[i]);
                if (h->kept)
                        h->kept->n = h->n_kept;
        }
        free(h->buf);
}

static bool from_file(const struct resource *r, void *u) {
        return r->pos.file == u;
}

static void pctx_done(struct pctx *c) {
        anchors_reset(c);
        free(c->open);
        for (size_t i = 0; i < c->n_log; i++)
                if (!c->log[i].borrowed)
                        free(c->log[i].value);
        free(c->run_arena);
        free(c->log);
        free(c->frames);
        free(c->version.text);
        free(c->host.text);
        yaml_parser_delete(&c->parser);
}

/* One read of text; runs NULL: as written. *again: the runs did not hold
 * (see run_check), nothing of this read is kept. */
static int parse_text(struct manifest_set *set, const char *file, const char *text, size_t len, struct runs *runs,
                      const char *hostname, bool *again) {
        struct pctx c = { .set = set, .file = file, .runs = runs };
        struct diag_hold hold;
        yaml_event_t ev;
        int ret = 0;
        bool empty = false;

        if (!yaml_parser_initialize(&c.parser))
                return diag_plain(-ENOMEM, "%s: cannot initialize the YAML parser", file);
        if (runs)
                yaml_parser_set_input(&c.parser, runs_read, runs);
        else
                yaml_parser_set_input_string(&c.parser, (const unsigned char *) text, len);
        hold_begin(&hold);
        if (raw_next(&c, &ev) >= 0) { /* the stream's start */
                yaml_event_delete(&ev);
                if (raw_next(&c, &ev) >= 0) {
                        empty = ev.type == YAML_STREAM_END_EVENT;
                        yaml_event_delete(&ev);
                        if (!empty)
                                ret = parse_document(&c, hostname);
                }
        }
        /* The rest of the stream, for its syntax and limits, and a second
         * document's start. */
        while (!empty && !c.yaml_err.set && raw_next(&c, &ev) >= 0) {
                bool end = ev.type == YAML_STREAM_END_EVENT;
                yaml_event_delete(&ev);
                if (end)
                        break;
        }
        if (runs && (runs->mismatch || runs->pending || runs->taken != runs->n || c.yaml_err.set)) {
                hold_end(&hold, false);
                model_remove_if(&set->model, from_file, (void *) file);
                pctx_done(&c);
                *again = true;
                return 0;
        }

        struct yaml_pending top = { 0 };
        int verdict = 0;
        if (c.yaml_err.set || c.comp_err[0].set || empty)
                verdict = -EINVAL;
        else
                verdict = top_verdict(&c, hostname, true, &top);
        hold_end(&hold, verdict == 0);
        if (verdict != 0)
                model_remove_if(&set->model, from_file, (void *) file);
        if (c.yaml_err.set)
                ret = pending_report(&c, &c.yaml_err);
        else if (c.comp_err[0].set)
                ret = pending_report(&c, &c.comp_err[0]);
        else if (empty) {
                struct srcpos p = { file, 1, 1 };
                ret = diag_pos(&p, "empty manifest: missing \"version: 1\"");
        } else if (verdict < 0)
                ret = pending_report(&c, &top);
        else if (verdict > 0) {
                set->n_skipped_host++;
                diag_debug("%s: skipped: host \"%s\" does not match %s", file, c.host.text, hostname);
                ret = 0;
        }
        /* One document per file: a second one would be silently ignored otherwise. */
        if (ret >= 0 && c.doc >= 2) {
                if (c.comp_err[1].set)
                        ret = pending_report(&c, &c.comp_err[1]);
                else
                        ret = perr_at(&c, c.root2_line, c.root2_col, "a manifest holds one YAML document; found a second");
        }
        pctx_done(&c);
        return ret;
}

/* A file's runs kept across loads: given, they are the runs of the text
 * (runs_moved) and are not looked for again; after the parse, the runs it
 * used, taken (none when they did not hold). */
struct runs_keep {
        struct list_run *v;
        size_t n;
        bool given;
};

/* One file's text, its resources' srcpos naming file (which outlives them). */
static int parse_named(struct manifest_set *set, const char *file, const char *text, size_t len, const char *hostname,
                       struct runs_keep *keep) {
        struct runs runs;
        if (keep && keep->given) {
                memset(&runs, 0, sizeof(runs));
                runs.text = text;
                runs.len = len;
                runs.v = keep->v;
                runs.n = keep->n;
                runs.next = runs.n ? runs.v[0].start : len;
        } else
                runs_find(&runs, text, len);
        bool again = false;
        int r = parse_text(set, file, text, len, runs.n ? &runs : NULL, hostname, &again);
        if (again)
                r = parse_text(set, file, text, len, NULL, hostname, &again);
        if (keep && !again) {
                keep->v = runs.v;
                keep->n = runs.n;
        } else {
                free(runs.v);
                if (keep)
                        *keep = (struct runs_keep) { 0 };
        }
        return r;
}

static int parse_input(struct manifest_set *set, const char *name, const char *text, size_t len, const char *hostname) {
        const char *file = intern_file(set, name);
        digest_update(set, text, len);
        return parse_named(set, file, text, len, hostname, NULL);
}

int manifest_parse_buffer(struct manifest_set *set, const char *name, const char *buf, size_t len,
                          const char *hostname) {
        return parse_input(set, name, buf ? buf : "", len, hostname);
}

/* The file whole (its size when it was opened: a read error ends it where it
 * stands, as a short file does), so that its long lists can be found. */
static int read_whole(const char *name, int fd, size_t size, char **text, size_t *len) {
        *text = malloc(size + 1);
        if (!*text)
                return diag_plain(-ENOMEM, "%s: out of memory", name);
        size_t got = 0;
        while (got < size) {
                ssize_t n = read(fd, *text + got, size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        *len = got;
        return 0;
}

static int parse_file(struct manifest_set *set, const char *name, int fd, size_t size, const char *hostname) {
        char *text = NULL;
        size_t len = 0;
        int r = read_whole(name, fd, size, &text, &len);
        if (r < 0)
                return r;
        r = parse_input(set, name, text, len, hostname);
        free(text);
        return r;
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

/* The manifest's descriptor and size, after the checks. */
static int open_manifest(const char *dir, int dfd, const char *name, bool check_perms, int *out, size_t *size) {
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
        *out = fd;
        *size = (size_t) st.st_size;
        return 0;
}

/* The directory's descriptor and its manifests' names in lexical order, after the checks. */
static int list_manifests(const char *dir, bool check_perms, int *dfd_out, char ***names_out, size_t *n_out) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return diag_plain(-errno, "%s: cannot open manifest directory: %s", dir, strerror(errno));
        if (check_perms) {
                struct stat st;
                int r = fstat(dfd, &st) < 0 ? diag_plain(-errno, "%s: %s", dir, strerror(errno))
                                            : stat_check_private(dir, &st, false);
                if (r < 0) {
                        close(dfd);
                        return r;
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
        *dfd_out = dfd;
        *names_out = names;
        *n_out = n;
        return 0;
}

int manifests_load(const char *dir, const char *hostname, bool check_perms, struct manifest_set *set) {
        int dfd = -1;
        char **names = NULL;
        size_t n = 0;
        int ret = list_manifests(dir, check_perms, &dfd, &names, &n);
        if (ret < 0)
                return ret;
        for (size_t i = 0; i < n; i++) {
                int fd = -1;
                size_t size = 0;
                int r = open_manifest(dir, dfd, names[i], check_perms, &fd, &size);
                if (r >= 0) {
                        _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
                        r = parse_file(set, path, fd, size, hostname);
                        close(fd);
                }
                if (r < 0)
                        ret = r;
                free(names[i]);
        }
        free(names);
        close(dfd);
        if (ret >= 0)
                ret = manifests_validate(set);
        return ret;
}

/* ---- the daemon's loads: each file's parse kept while its text stays ---- */

/* One file's parse, shared by the sets that hold it and the cache; its
 * resources are its own, their srcpos name it. */
struct manifest_part {
        unsigned refs;
        char *name;
        char *text; /* as read, to know it again byte for byte */
        size_t len;
        struct resource **v;
        size_t n;
        unsigned skipped_host;
        uint64_t digest_in, digest_out; /* the revision's digest before and after this file */
        char *said;                     /* what its parse printed (a skipped host's debug line) */
        size_t said_len;
        struct list_run *runs; /* of text, which its parse used */
        size_t n_runs;
        /* Its kinds' checks read the files before it (check_declared): it
         * holds only after the same files, unchanged. */
        bool declared_read;
        /* Parsed without an error, from its text alone (no user or group
         * looked up, no kind whose check reads other files), and validate
         * wrote into none of its resources: a full parse of the same text
         * gives the same. */
        bool reusable;
        /* Patched (part_patch): its resources but v[patched] are base's, one
         * for one; base is never itself patched. */
        struct manifest_part *base;
        size_t patched;
};

static void part_unref(struct manifest_part *p) {
        if (!p || --p->refs)
                return;
        for (size_t i = 0; i < p->n; i++)
                if (!p->base || p->base->v[i] != p->v[i])
                        resource_free(p->v[i]);
        part_unref(p->base);
        free(p->v);
        free(p->name);
        free(p->text);
        free(p->said);
        free(p->runs);
        free(p);
}

static struct manifest_part *part_ref(struct manifest_part *p) {
        p->refs++;
        return p;
}

static void parts_clear(struct manifest_cache *cache) {
        for (size_t i = 0; i < cache->n; i++)
                part_unref(cache->v[i]);
        free(cache->v);
        cache->v = NULL;
        cache->n = 0;
}

void manifest_cache_done(struct manifest_cache *cache) {
        parts_clear(cache);
        free(cache->hostname);
        memset(cache, 0, sizeof(*cache));
}

/* Whether every resource of p can join the model as it stands: one declared
 * before it in another file makes the parse report a duplicate. */
static bool part_fits(const struct manifest_set *set, const struct manifest_part *p) {
        for (size_t i = 0; i < p->n; i++)
                if (model_find(&set->model, p->v[i]->kind, p->v[i]->name))
                        return false;
        return true;
}

static size_t common_prefix(const char *a, const char *b, size_t n) {
        size_t i = 0;
        while (i + 64 <= n && memcmp(a + i, b + i, 64) == 0)
                i += 64;
        while (i < n && a[i] == b[i])
                i++;
        return i;
}

static size_t common_suffix(const char *a, size_t na, const char *b, size_t nb, size_t n) {
        size_t i = 0;
        while (i + 64 <= n && memcmp(a + na - i - 64, b + nb - i - 64, 64) == 0)
                i += 64;
        while (i < n && a[na - i - 1] == b[nb - i - 1])
                i++;
        return i;
}

static size_t count_lines(const char *p, size_t n) {
        size_t lines = 0;
        for (const char *end = p + n; (p = memchr(p, '\n', (size_t) (end - p))); p++)
                lines++;
        return lines;
}

/* Where the last text of a file and its new text differ, when only inside
 * the lines of one "- WORD" run, in as many lines, each still an item of
 * that run: the run's index, and the lines [a, b_old) of the last text that
 * are [a, b_new) of the new one. Which lines are runs follows from each line
 * alone, so runs_find would find the same runs (the bytes after moved by the
 * length's change). */
static bool edit_in_run(const struct manifest_part *p, const char *text, size_t len, size_t *at, size_t *a_out,
                        size_t *b_old_out, size_t *b_new_out) {
        if (!p->n_runs || len < RUN_MIN * 4)
                return false;
        size_t n = p->len < len ? p->len : len, pre = common_prefix(p->text, text, n);
        size_t suf = common_suffix(p->text, p->len, text, len, n - pre);
        size_t a = pre, e_old = p->len - suf;
        while (a && text[a - 1] != '\n')
                a--;
        const char *nl = memchr(p->text + (e_old > a ? e_old - 1 : a), '\n', p->len - (e_old > a ? e_old - 1 : a));
        if (!nl)
                return false;
        size_t b_old = (size_t) (nl - p->text) + 1, b_new = b_old + len - p->len;
        if (b_new <= a || b_new > len || text[b_new - 1] != '\n')
                return false;
        const struct list_run *run = NULL;
        for (size_t i = 0; i < p->n_runs && !run; i++)
                if (!p->runs[i].maps && p->runs[i].start <= a && b_old <= p->runs[i].end) {
                        run = &p->runs[i];
                        *at = i;
                }
        if (!run || count_lines(p->text + a, b_old - a) != count_lines(text + a, b_new - a))
                return false;
        for (const char *line = text + a, *eol = NULL; line < text + b_new; line = eol + 1)
                if (run_line(line, text + len, &eol) != (int) run->indent)
                        return false;
        /* The marker could now be spelled across the edit's edges. */
        size_t m = sizeof(run_magic) - 1, from = a > m ? a - m : 0, to = b_new + m < len ? b_new + m : len;
        if (holds(text + from, to - from, run_magic, m))
                return false;
        *a_out = a;
        *b_old_out = b_old;
        *b_new_out = b_new;
        return true;
}

/* p's runs on a new text whose bytes from b_old on moved by len - p->len. */
static struct list_run *runs_shifted(const struct manifest_part *p, size_t b_old, size_t len) {
        struct list_run *v = xcalloc(p->n_runs, sizeof(*v));
        memcpy(v, p->runs, p->n_runs * sizeof(*v));
        for (size_t i = 0; i < p->n_runs; i++) {
                if (v[i].start >= b_old)
                        v[i].start = v[i].start + len - p->len;
                if (v[i].end >= b_old)
                        v[i].end = v[i].end + len - p->len;
        }
        return v;
}

/* The runs of the last text of a file moved onto its new text (edit_in_run);
 * NULL otherwise: the runs are looked for again. The parse says again which
 * list each run fills. */
static struct list_run *runs_moved(const struct manifest_part *p, const char *text, size_t len) {
        size_t at, a, b_old, b_new;
        if (!edit_in_run(p, text, len, &at, &a, &b_old, &b_new))
                return NULL;
        struct list_run *v = runs_shifted(p, b_old, len);
        for (size_t i = 0; i < p->n_runs; i++)
                v[i].res = NULL;
        return v;
}

/* Parse text (taken) as a new part; its resources are those it added to the
 * model. last: the file's last part, whose runs may serve. */
static struct manifest_part *part_parse(struct manifest_set *set, char *path, char *text, size_t len,
                                        const char *hostname, const struct manifest_part *last, int *result) {
        struct manifest_part *p = xcalloc(1, sizeof(*p));
        p->refs = 1;
        p->name = path;
        p->text = text;
        p->len = len;
        size_t first = set->model.n;
        unsigned skipped = set->n_skipped_host, errors = diag_error_count();
        set->declared_read = set->looked_up = false;
        struct diag_hold hold;
        hold_begin(&hold);
        struct runs_keep keep = { 0 };
        if (last && (keep.v = runs_moved(last, text, len)))
                keep = (struct runs_keep) { keep.v, last->n_runs, true };
        *result = parse_named(set, p->name, text, len, hostname, &keep);
        p->runs = keep.v;
        p->n_runs = keep.n;
        fflush(hold.mem);
        if (hold.len) {
                p->said = xcalloc(1, hold.len);
                memcpy(p->said, hold.buf, hold.len);
                p->said_len = hold.len;
        }
        hold_end(&hold, true);
        p->declared_read = set->declared_read;
        p->skipped_host = set->n_skipped_host - skipped;
        p->reusable = *result >= 0 && diag_error_count() == errors && !set->looked_up;
        p->n = set->model.n - first;
        if (p->n) {
                p->v = xcalloc(p->n, sizeof(*p->v));
                memcpy(p->v, set->model.v + first, p->n * sizeof(*p->v));
        }
        for (size_t i = 0; i < p->n; i++)
                if (kind_ops(p->v[i]->kind)->flags & KF_CHECK_READS_FILES)
                        p->reusable = false;
        return p;
}

/* At most this many changed items are patched; more are parsed again. */
#define PATCH_MAX 8

/* The new parse of a file from its last one, reusable, when the edit lies
 * inside one run of a list whose kind can patch it (kind_ops.patch_list):
 * its other resources shared, the edited one the kind's copy with the new
 * items. The lines outside the edit are the same, so are every position and
 * what the parse said. NULL for anything else: the file is parsed whole. */
static struct manifest_part *part_patch(char *path, char *text, size_t len, struct manifest_part *last) {
        size_t at, a, b_old, b_new;
        if (!edit_in_run(last, text, len, &at, &a, &b_old, &b_new))
                return NULL;
        const struct list_run *run = &last->runs[at];
        const struct kind_ops *ops = run->res ? kind_ops(run->res->kind) : NULL;
        if (!ops || !ops->patch_list || !run->bit)
                return NULL;
        size_t k = 0;
        while (k < last->n && last->v[k] != run->res)
                k++;
        /* A second edit of the same resource replaces the first; another
         * resource's is parsed, so that patches do not pile up. */
        if (k == last->n || (last->base && last->patched != k))
                return NULL;
        size_t index[PATCH_MAX], n = 0, item = run->item0 + count_lines(last->text + run->start, a - run->start);
        char words[PATCH_MAX][RUN_LINE_MAX + 1];
        const char *texts[PATCH_MAX];
        const char *po = last->text + a, *pn = text + a;
        for (; pn < text + b_new; item++) {
                const char *eo = memchr(po, '\n', (size_t) (last->text + last->len - po));
                const char *en = memchr(pn, '\n', (size_t) (text + len - pn));
                size_t lo = (size_t) (eo - po), ln = (size_t) (en - pn), indent = run->indent + 2;
                if (lo != ln || memcmp(po, pn, ln) != 0) {
                        if (n == PATCH_MAX || ln < indent || ln - indent > RUN_LINE_MAX)
                                return NULL;
                        memcpy(words[n], pn + indent, ln - indent);
                        words[n][ln - indent] = '\0';
                        texts[n] = words[n];
                        index[n++] = item;
                }
                po = eo + 1;
                pn = en + 1;
        }
        struct resource *r = NULL;
        if (!n || ops->patch_list(run->res, run->bit, index, texts, n, &r) < 0)
                return NULL;
        struct manifest_part *p = xcalloc(1, sizeof(*p));
        p->refs = 1;
        p->name = path;
        p->text = text;
        p->len = len;
        p->base = part_ref(last->base ? last->base : last);
        p->patched = k;
        p->n = last->n;
        p->v = xcalloc(p->n, sizeof(*p->v));
        memcpy(p->v, last->v, p->n * sizeof(*p->v));
        p->v[k] = r;
        p->skipped_host = last->skipped_host;
        if (last->said_len) {
                p->said = xcalloc(1, last->said_len);
                memcpy(p->said, last->said, last->said_len);
                p->said_len = last->said_len;
        }
        p->runs = runs_shifted(last, b_old, len);
        p->n_runs = last->n_runs;
        for (size_t i = 0; i < p->n_runs; i++)
                if (p->runs[i].res == last->v[k])
                        p->runs[i].res = r;
        p->declared_read = last->declared_read;
        p->reusable = true;
        return p;
}

static struct manifest_part *part_find(struct manifest_part **v, size_t n, const char *name, size_t *at) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i]->name, name) == 0) {
                        *at = i;
                        return v[i];
                }
        return NULL;
}

/* What validate may write into a resource (a bond's MTU taken from its
 * members) depends on other files: a part written into is not kept, and a
 * kept one written into now sends the load back to a full parse. */
static int validate_parts(struct manifest_set *set, const bool *kept, bool *again) {
        size_t n = set->model.n, at = 0;
        struct resource *before = xcalloc(n ? n : 1, sizeof(*before));
        size_t *part = xcalloc(n ? n : 1, sizeof(*part));
        for (size_t i = 0; i < set->n_parts; i++)
                for (size_t j = 0; j < set->parts[i]->n; j++, at++) {
                        part[at] = i;
                        before[at] = *set->model.v[at];
                }
        /* Every resource, not only those of kinds with a validate hook: a
         * kind's validate writes into others' (an OVS internal port into its
         * NIC entry's parent, a veth into its peer's made_by). */
        int ret = manifests_validate(set);
        for (size_t i = 0; i < n; i++) {
                struct resource *r = set->model.v[i];
                if (memcmp(&before[i], r, sizeof(*r)) == 0)
                        continue;
                if (kept[part[i]]) {
                        *r = before[i]; /* shared with the last set: as it was */
                        *again = true;
                } else
                        set->parts[part[i]]->reusable = false;
        }
        free(before);
        free(part);
        return ret;
}

/* One load over the cache; *again: a kept part would be written into, load afresh. */
static int load_parts(const char *dir, const char *hostname, bool check_perms, struct manifest_cache *cache,
                      struct manifest_set *set, bool *again) {
        int dfd = -1;
        char **names = NULL;
        size_t n = 0;
        int ret = list_manifests(dir, check_perms, &dfd, &names, &n);
        if (ret < 0)
                return ret;
        struct manifest_part **old = cache->v;
        size_t n_old = cache->n;
        cache->v = NULL;
        cache->n = 0;
        bool *kept = xcalloc(n ? n : 1, sizeof(*kept));
        bool same_before = true; /* every file so far is the last load's, in its place */
        uint64_t h = HASH_FNV1A_SEED;
        for (size_t i = 0; i < n; i++) {
                int fd = -1;
                size_t size = 0;
                int r = open_manifest(dir, dfd, names[i], check_perms, &fd, &size);
                char *path = NULL, *text = NULL;
                size_t len = 0;
                if (r >= 0) {
                        path = xasprintf("%s/%s", dir, names[i]);
                        r = read_whole(path, fd, size, &text, &len);
                        close(fd);
                }
                if (r < 0) {
                        free(path);
                        same_before = false;
                        ret = r;
                        free(names[i]);
                        continue;
                }
                size_t j = 0;
                bool patched = false;
                struct manifest_part *p = part_find(old, n_old, path, &j);
                bool keep = p && p->reusable && p->len == len && memcmp(p->text, text, len) == 0 &&
                            (!p->declared_read || (same_before && j == set->n_parts)) && part_fits(set, p);
                if (keep) {
                        free(path);
                        free(text);
                        part_ref(p);
                        for (size_t k = 0; k < p->n; k++)
                                model_add(&set->model, p->v[k]);
                        set->n_skipped_host += p->skipped_host;
                        if (p->said_len)
                                fwrite(p->said, 1, p->said_len, diag_stream());
                        r = 0;
                } else {
                        /* Its resources, but the patched one, are the last set's too. */
                        struct manifest_part *q = p && p->reusable && (!p->declared_read || (same_before && j == set->n_parts)) &&
                                                                  part_fits(set, p)
                                                          ? part_patch(path, text, len, p)
                                                          : NULL;
                        if (q) {
                                p = q;
                                for (size_t k = 0; k < p->n; k++)
                                        model_add(&set->model, p->v[k]);
                                set->n_skipped_host += p->skipped_host;
                                if (p->said_len)
                                        fwrite(p->said, 1, p->said_len, diag_stream());
                                r = 0;
                        } else
                                p = part_parse(set, path, text, len, hostname, p, &r);
                        patched = q != NULL;
                        j = SIZE_MAX;
                }
                same_before = same_before && keep && j == set->n_parts;
                kept[set->n_parts] = keep || patched;
                if (!keep || p->digest_in != h) {
                        p->digest_in = h;
                        p->digest_out = hash_fnv1a(h, p->text, p->len);
                }
                h = p->digest_out;
                snprintf(set->digest, sizeof(set->digest), "%016llx", (unsigned long long) h);
                *(struct manifest_part **) array_push(&set->parts, &set->n_parts, sizeof(*set->parts)) = p;
                *(struct manifest_part **) array_push(&cache->v, &cache->n, sizeof(*cache->v)) = part_ref(p);
                *(char **) array_push(&set->files, &set->n_files, sizeof(char *)) = xstrdup(p->name);
                if (r < 0)
                        ret = r;
                free(names[i]);
        }
        free(names);
        close(dfd);
        for (size_t i = 0; i < n_old; i++)
                part_unref(old[i]);
        free(old);
        if (ret >= 0)
                ret = validate_parts(set, kept, again);
        free(kept);
        return ret;
}

int manifests_load_cached(const char *dir, const char *hostname, bool check_perms, struct manifest_cache *cache,
                          struct manifest_set *set) {
        if (!cache->hostname || strcmp(cache->hostname, hostname) != 0) {
                manifest_cache_done(cache);
                cache->hostname = xstrdup(hostname);
        }
        /* Held, so that a load begun again says its errors once. */
        struct diag_hold hold;
        bool again = false;
        hold_begin(&hold);
        int r = load_parts(dir, hostname, check_perms, cache, set, &again);
        hold_end(&hold, !again);
        if (again) {
                manifests_done(set);
                parts_clear(cache);
                r = load_parts(dir, hostname, check_perms, cache, set, &again);
        }
        return r;
}

void manifests_done(struct manifest_set *set) {
        if (set->parts)
                set->model.n = 0; /* the parts' */
        model_done(&set->model);
        for (size_t i = 0; i < set->n_parts; i++)
                part_unref(set->parts[i]);
        free(set->parts);
        for (size_t i = 0; i < set->n_files; i++)
                free(set->files[i]);
        free(set->files);
        memset(set, 0, sizeof(*set));
}
