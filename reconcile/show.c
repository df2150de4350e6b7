/* Live state as manifest YAML: the writer every kind's show uses, and the
 * document of sections in the registry's show order. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "reconcile.h"

/* ---- show: live state as a manifest that validate accepts ----
 *
 * Every scalar goes through libyaml's emitter, so that quoting is the
 * emitter's job and any name the kernel or libvirt allows comes back as the
 * same string. libyaml has no comment events: comments are written between
 * lines, only when the emitter has written every event it was given and
 * stands after a complete node of a block collection, where a line of its
 * own that starts with '#' cannot change what the YAML says. */

/* An event, or a comment line at that point, of the entry being written. */
struct held {
        yaml_event_t ev;
        char *comment;
};

struct yw {
        yaml_emitter_t emitter;
        FILE *f;
        int error;         /* the first failure of the emitter, a negative errno */
        bool bad_entry;    /* a string of the entry being held is not UTF-8 */
        bool holding;      /* events go to held until the entry is complete */
        struct held *held; /* an entry is written whole or replaced by a comment */
        size_t n_held;
        char *here;  /* comment lines of the entry just written, not yet safe to write */
        char *later; /* comments on what a section leaves out: written after the section */
        unsigned skipped;
};

/* The emitter has written all it was given and the next node of a block
 * collection starts on a line of its own: a comment line here is between
 * two nodes. At column 0 the emitter has just ended a line and writes no
 * other break before its next node, which would then follow the comment on
 * its line. The queue and state are fields libyaml declares in yaml.h. */
static bool comment_safe(const struct yw *w) {
        const yaml_emitter_t *e = &w->emitter;
        if (e->events.head != e->events.tail || e->column == 0)
                return false;
        return e->state == YAML_EMIT_BLOCK_MAPPING_KEY_STATE || e->state == YAML_EMIT_BLOCK_MAPPING_FIRST_KEY_STATE ||
               e->state == YAML_EMIT_BLOCK_SEQUENCE_ITEM_STATE || e->state == YAML_EMIT_DOCUMENT_END_STATE;
}

static void comments_flush(struct yw *w, char **lines) {
        if (!*lines || w->holding || !comment_safe(w))
                return;
        if (!yaml_emitter_flush(&w->emitter) && !w->error)
                w->error = -EIO;
        /* No line break after it: the emitter writes one before its next node,
         * as its column is past the indentation of anything that follows. */
        fputs(*lines, w->f);
        free(*lines);
        *lines = NULL;
}

static void append(char **lines, const char *line) {
        char *all = xasprintf("%s%s", *lines ? *lines : "", line);
        free(*lines);
        *lines = all;
}

static void emit_now(struct yw *w, yaml_event_t *ev) {
        if (w->error) {
                yaml_event_delete(ev);
                return;
        }
        if (!yaml_emitter_emit(&w->emitter, ev))
                w->error = w->emitter.error == YAML_MEMORY_ERROR ? -ENOMEM : -EIO;
}

static void put(struct yw *w, yaml_event_t *ev, bool ok) {
        if (!ok) {
                /* A scalar that is not UTF-8 fails to initialize (so does one without
                 * memory): YAML cannot hold it, the entry becomes a comment. */
                if (w->holding)
                        w->bad_entry = true;
                else if (!w->error)
                        w->error = -EILSEQ;
                return;
        }
        if (!w->holding) {
                emit_now(w, ev);
                return;
        }
        struct held *h = array_push(&w->held, &w->n_held, sizeof(*w->held));
        h->ev = *ev;
}

/* A comment line: inside an entry, at this point of it (or, when the emitter
 * still holds events there, at its end); outside, after the current section,
 * so that it never lands inside the next entry. Bytes that are not printable
 * ASCII are written as \xNN: a comment is text. */
void yw_comment(struct yw *w, int indent, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *text = NULL;
        if (vasprintf(&text, fmt, ap) < 0)
                abort();
        va_end(ap);
        size_t len = strlen(text);
        char *line = xcalloc((size_t) indent + 4 * len + 4, 1);
        size_t n = 0;
        line[n++] = '\n';
        for (int i = 0; i < indent; i++)
                line[n++] = ' ';
        line[n++] = '#';
        line[n++] = ' ';
        for (const unsigned char *p = (const unsigned char *) text; *p; p++)
                n += (size_t) (*p >= 0x20 && *p < 0x7f ? sprintf(line + n, "%c", *p) : sprintf(line + n, "\\x%02x", *p));
        free(text);
        if (w->holding) {
                struct held *h = array_push(&w->held, &w->n_held, sizeof(*w->held));
                h->comment = line;
                return;
        }
        append(&w->later, line);
        free(line);
}

static void y_scalar(struct yw *w, const char *s, yaml_scalar_style_t style) {
        yaml_event_t ev;
        int ok = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, -1, 1, 1, style);
        put(w, &ev, ok);
}

/* A word that a YAML 1.1 or 1.2 reader takes as a string when it is plain:
 * letters, digits and "_.+-", starting with a letter or '_', and not one of
 * the words that such a reader turns into a boolean or null. Numbers start
 * with a digit, a sign or a dot, so nothing here reads as one. */
static bool plain_word(const char *s) {
        static const char *const typed[] = { "y", "n", "yes", "no", "true", "false", "on", "off", "null" };
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_.+-", *p)))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(typed); i++)
                if (strcasecmp(s, typed[i]) == 0)
                        return false;
        return true;
}

/* A name or other string from the host or the user: plain when nothing can
 * read it otherwise, else double-quoted (which can hold any character). */
void yw_name(struct yw *w, const char *s) {
        y_scalar(w, s, plain_word(s) ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* An address, MAC, path or value: always quoted, as show has written them. */
void yw_str(struct yw *w, const char *s) {
        y_scalar(w, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* A key, enum word, number or boolean of our own: the emitter writes it plain. */
void yw_word(struct yw *w, const char *s) {
        y_scalar(w, s, YAML_ANY_SCALAR_STYLE);
}

void yw_uint(struct yw *w, unsigned long long v) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%llu", v);
        yw_word(w, buf);
}

void yw_bool(struct yw *w, bool v) {
        yw_word(w, v ? "true" : "false");
}

void yw_map(struct yw *w, bool flow) {
        yaml_event_t ev;
        int ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                     flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
        put(w, &ev, ok);
}

void yw_seq(struct yw *w, bool flow) {
        yaml_event_t ev;
        int ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                      flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        put(w, &ev, ok);
}

void yw_end_map(struct yw *w) {
        yaml_event_t ev;
        put(w, &ev, yaml_mapping_end_event_initialize(&ev));
}

void yw_end_seq(struct yw *w) {
        yaml_event_t ev;
        put(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* key: word, key: number, key: boolean, key: quoted string, key: name. */
void yw_kv_word(struct yw *w, const char *k, const char *v) {
        yw_word(w, k);
        yw_word(w, v);
}

void yw_kv_uint(struct yw *w, const char *k, unsigned long long v) {
        yw_word(w, k);
        yw_uint(w, v);
}

void yw_kv_bool(struct yw *w, const char *k, bool v) {
        yw_word(w, k);
        yw_bool(w, v);
}

void yw_kv_str(struct yw *w, const char *k, const char *v) {
        yw_word(w, k);
        yw_str(w, v);
}

void yw_kv_name(struct yw *w, const char *k, const char *v) {
        yw_word(w, k);
        yw_name(w, v);
}

void yw_entry_begin(struct yw *w) {
        w->holding = true;
        w->bad_entry = false;
}

/* Write the held entry, or, when one of its strings cannot be YAML, a comment
 * in its place: the rest of the document stays valid either way. */
void yw_entry_end(struct yw *w, const struct resource *r) {
        w->holding = false;
        for (size_t i = 0; i < w->n_held; i++) {
                struct held *h = &w->held[i];
                if (h->comment && !w->bad_entry) {
                        append(&w->here, h->comment);
                        comments_flush(w, &w->here);
                } else if (!h->comment && !w->bad_entry)
                        emit_now(w, &h->ev);
                else if (!h->comment)
                        yaml_event_delete(&h->ev);
                free(h->comment);
        }
        free(w->held);
        w->held = NULL;
        w->n_held = 0;
        comments_flush(w, &w->here);
        if (w->bad_entry) {
                w->skipped++;
                yw_comment(w, 2, "%s %s: left out, a name or value in it is not UTF-8, which YAML cannot hold",
                          kind_to_string(r->kind), r->name);
        }
        w->bad_entry = false;
}


/* A size as an operator writes it: the largest unit that holds it exactly. */
const char *size_text(uint64_t bytes, char *buf, size_t size) {
        static const char units[] = "TGMK";
        for (int i = 0; i < 4; i++) {
                uint64_t unit = 1ull << (10 * (4 - i));
                if (bytes && bytes % unit == 0) {
                        snprintf(buf, size, "%llu%c", (unsigned long long) (bytes / unit), units[i]);
                        return buf;
                }
        }
        /* A bare number is refused by the parser: sizes say their unit. */
        snprintf(buf, size, "%lluB", (unsigned long long) bytes);
        return buf;
}
static void yw_event(struct yw *w, int (*init)(yaml_event_t *)) {
        yaml_event_t ev;
        put(w, &ev, init(&ev));
}

static int stream_start(yaml_event_t *ev) {
        return yaml_stream_start_event_initialize(ev, YAML_UTF8_ENCODING);
}

static int document_start(yaml_event_t *ev) {
        return yaml_document_start_event_initialize(ev, NULL, NULL, NULL, 1);
}

static int document_end(yaml_event_t *ev) {
        return yaml_document_end_event_initialize(ev, 1);
}

/* The kinds in show order: a section's entries can only name those before it. */
static void show_order(enum kind order[_KIND_MAX]) {
        for (int k = 0; k < _KIND_MAX; k++)
                order[k] = (enum kind) k;
        for (int i = 1; i < _KIND_MAX; i++)
                for (int j = i; j > 0 && kind_ops(order[j])->show_rank < kind_ops(order[j - 1])->show_rank; j--) {
                        enum kind t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
}

static void show_absent(struct yw *w, const struct resource *r) {
        yw_entry_begin(w);
        if (kind_ops(r->kind)->show_key)
                kind_ops(r->kind)->show_key(w, r);
        else {
                yw_name(w, r->name);
                yw_map(w, true);
        }
        yw_kv_word(w, "state", "absent");
        yw_end_map(w);
        yw_entry_end(w, r);
}

static void section_begin(struct yw *w, bool *header, enum kind k) {
        if (!*header) {
                yw_word(w, kind_to_section(k));
                yw_map(w, false);
        }
        *header = true;
}

static void show_section(struct yw *w, enum kind k, const struct show_ctx *s, const struct resource *const *absent,
                         size_t n_absent) {
        bool header = false;
        if (!kind_ops(k)->show) /* written inside another's entry (volumes in their pool) */
                return;
        for (size_t i = 0; i < s->live->n; i++) {
                const struct resource *r = s->live->v[i];
                const struct kind_ops *ops = kind_ops(r->kind);
                enum kind as = ops->show_as ? ops->show_as(r, s) : r->kind;
                if (as != k || !kind_ops(as)->show || (s->pick && !s->pick(r, s->u)))
                        continue;
                section_begin(w, &header, k);
                /* Written as the kind it shows as (a veth's second end as a NIC). */
                struct resource as_kind = *r;
                as_kind.kind = as;
                kind_ops(as)->show(w, as == r->kind ? r : &as_kind, s);
        }
        for (size_t i = 0; i < n_absent; i++) {
                /* A kind without a show (sysctls) has nothing to write for what went. */
                if (absent[i]->kind != k || (kind_ops(k)->flags & KF_NO_ABSENT_ENTRY))
                        continue;
                section_begin(w, &header, k);
                show_absent(w, absent[i]);
        }
        if (header)
                yw_end_map(w);
        comments_flush(w, &w->here);
        comments_flush(w, &w->later);
}

int show_print_yaml_subset(FILE *f, const struct model *live, bool (*pick)(const struct resource *, void *), void *u,
                           const struct resource *const *absent, size_t n_absent, const struct show_owner *owner) {
        struct yw w = { .f = f };
        if (!yaml_emitter_initialize(&w.emitter))
                return -ENOMEM;
        yaml_emitter_set_output_file(&w.emitter, f);
        yaml_emitter_set_unicode(&w.emitter, 1);
        yaml_emitter_set_width(&w.emitter, -1); /* long names and lists stay on one line */
        fputs("# live state, as reconcile sees it\n", f);
        yw_event(&w, stream_start);
        yw_event(&w, document_start);
        yw_map(&w, false);
        yw_kv_uint(&w, "version", 1);
        enum kind order[_KIND_MAX];
        show_order(order);
        struct show_ctx s = { live, pick, u, owner };
        for (size_t k = 0; k < _KIND_MAX; k++)
                show_section(&w, order[k], &s, absent, n_absent);
        yw_end_map(&w);
        yw_event(&w, document_end);
        yaml_event_t ev;
        put(&w, &ev, yaml_stream_end_event_initialize(&ev));
        /* Only a comment that never found its place: after the document is safe. */
        if (w.here && !w.error)
                fprintf(f, "%s\n", w.here);
        if (w.later && !w.error)
                fprintf(f, "%s\n", w.later);
        free(w.here);
        free(w.later);
        yaml_emitter_delete(&w.emitter);
        if (w.error)
                return w.error;
        return w.skipped ? -EILSEQ : 0;
}

int show_print_yaml(FILE *f, const struct model *live) {
        return show_print_yaml_subset(f, live, NULL, NULL, NULL, 0, NULL);
}
