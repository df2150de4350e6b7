/* What the user reads: the plan as text or JSON, and live state as manifest YAML. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "output.h"

static void change_text(const struct change *c, char *buf, size_t size) {
        if (c->from && c->to)
                snprintf(buf, size, "%s %s -> %s", c->name, c->from, c->to);
        else if (c->to)
                snprintf(buf, size, "+%s %s", c->name, c->to);
        else
                snprintf(buf, size, "-%s %s", c->name, c->from ? c->from : "");
}

static void detail_text(const struct action *a, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
#define APPEND(...) len += (size_t) snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__)
        switch (a->op) {
        case OP_CREATE:
                APPEND("%s:%u:%u", a->pos.file ? a->pos.file : "?", a->pos.line, a->pos.col);
                /* -v: what the create sets. */
                for (size_t i = 0; diag_verbose > 0 && i < a->n_sets; i++)
                        APPEND("%s%s %s", i ? ", " : ": ", a->sets[i].name, a->sets[i].to);
                return;
        case OP_DELETE:
                APPEND("%s", a->reason ? a->reason : "");
                return;
        case OP_ADOPT:
                APPEND("adopt (exists, not yet managed)%s", a->n_changes ? ";" : "");
                break;
        default:
                break;
        }
        /* Many changes of one name (ipset entries) read as counts; JSON lists them all. */
        size_t n_same = 0, adds = 0, dels = 0;
        const char *many = NULL;
        for (size_t i = 0; i < a->n_changes; i++)
                if (!a->changes[i].from != !a->changes[i].to && strcmp(a->changes[i].name, "entry") == 0) {
                        n_same++;
                        adds += a->changes[i].to != NULL;
                        dels += a->changes[i].from != NULL;
                        many = a->changes[i].name;
                }
        bool first = true;
        for (size_t i = 0; i < a->n_changes; i++) {
                char c[256];
                if (n_same > 10 && strcmp(a->changes[i].name, many) == 0 && !a->changes[i].from != !a->changes[i].to)
                        continue;
                change_text(&a->changes[i], c, sizeof(c));
                APPEND("%s%s", first ? (a->op == OP_ADOPT ? " " : "") : ", ", c);
                first = false;
        }
        if (n_same > 10)
                APPEND("%s+%zu -%zu entries", first ? (a->op == OP_ADOPT ? " " : "") : ", ", adds, dels);
        if (a->op == OP_REPLACE && a->reason)
                APPEND(" %s", a->reason);
        else if (a->op == OP_UPDATE && a->reason && a->n_changes)
                APPEND(" (%s)", a->reason);
#undef APPEND
}

void plan_print_text(FILE *f, const struct plan *p) {
        unsigned counts[_OP_MAX];
        plan_count(p, counts);
        fprintf(f, "plan: %u to create, %u to update, %u to replace, %u to delete", counts[OP_CREATE],
                counts[OP_UPDATE], counts[OP_REPLACE], counts[OP_DELETE]);
        if (counts[OP_ADOPT])
                fprintf(f, ", %u to adopt", counts[OP_ADOPT]);
        if (p->n_pending)
                fprintf(f, ", %zu pending", p->n_pending);
        fputc('\n', f);
        if (p->mass_delete_refused)
                fprintf(f, "apply will refuse: %zu of %zu deletable resources; --allow-mass-delete\n", p->n_deletes,
                        p->n_managed_in_scope);
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                char head[128], detail[2048];
                snprintf(head, sizeof(head), "%s %s %s", op_symbol(a->op), kind_to_string(a->kind), a->name);
                detail_text(a, detail, sizeof(detail));
                fprintf(f, "%-35s %s\n", head, detail);
                if (a->risk)
                        fprintf(f, "    risk: %s\n", a->risk);
        }
        for (size_t i = 0; i < p->n_pending; i++) {
                const struct pending *q = &p->pending[i];
                char head[128];
                snprintf(head, sizeof(head), "! %s %s", kind_to_string(q->kind), q->name);
                fprintf(f, "%-35s %s%s%s\n", head, q->reason, q->until ? " until " : "", q->until ? q->until : "");
        }
}

static const char *result_word(int result) {
        return result == 0 ? "done" : result < 0 ? "failed" : "not run";
}

void apply_print_text(FILE *f, const struct plan *p) {
        unsigned done = 0, failed = 0, not_run = 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                int x = p->actions[i].result;
                done += x == 0;
                failed += x < 0;
                not_run += x > 0;
        }
        fprintf(f, "apply: %u done, %u failed, %u not run\n", done, failed, not_run);
        for (size_t i = 0; i < p->n_actions && (failed || not_run); i++) {
                const struct action *a = &p->actions[i];
                if (a->result != 0)
                        fprintf(f, "  %s %s %s: %s\n", op_to_string(a->op), kind_to_string(a->kind), a->name,
                                result_word(a->result));
        }
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

void plan_print_json(FILE *f, const struct plan *p, bool with_results, const char *status,
                     const struct str_list *errors) {
        unsigned counts[_OP_MAX];
        plan_count(p, counts);
        json_object *root = json_object_new_object();
        json_object_object_add(root, "version", json_object_new_int(1));
        json_object *sum = json_object_new_object();
        for (int o = 0; o < _OP_MAX; o++)
                json_object_object_add(sum, op_to_string(o), json_object_new_int((int) counts[o]));
        json_object_object_add(sum, "pending", json_object_new_int((int) p->n_pending));
        json_object_object_add(sum, "errors", json_object_new_int((int) p->n_errors));
        json_object_object_add(root, "summary", sum);
        if (p->mass_delete_refused) {
                json_object *g = json_object_new_object();
                json_object_object_add(g, "deletes", json_object_new_int64((int64_t) p->n_deletes));
                json_object_object_add(g, "deletable", json_object_new_int64((int64_t) p->n_managed_in_scope));
                json_object_object_add(g, "message", json_object_new_string("apply will refuse; --allow-mass-delete"));
                json_object_object_add(root, "mass-delete-refused", g);
        }
        json_object *actions = json_object_new_array();
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "op", json_object_new_string(op_to_string(a->op)));
                json_object_object_add(o, "kind", json_object_new_string(kind_to_string(a->kind)));
                json_object_object_add(o, "name", json_object_new_string(a->name));
                if (a->pos.file) {
                        char src[1024];
                        snprintf(src, sizeof(src), "%s:%u:%u", a->pos.file, a->pos.line, a->pos.col);
                        json_object_object_add(o, "source", json_object_new_string(src));
                } else
                        json_object_object_add(o, "source", NULL);
                json_object *changes = json_object_new_array();
                for (size_t j = 0; j < a->n_changes; j++) {
                        json_object *c = json_object_new_object();
                        json_object_object_add(c, "field", json_object_new_string(a->changes[j].name));
                        json_object_object_add(c, "from", str_or_null(a->changes[j].from));
                        json_object_object_add(c, "to", str_or_null(a->changes[j].to));
                        json_object_array_add(changes, c);
                }
                json_object_object_add(o, "changes", changes);
                if (a->op == OP_CREATE) {
                        json_object *sets = json_object_new_array();
                        for (size_t j = 0; j < a->n_sets; j++) {
                                json_object *c = json_object_new_object();
                                json_object_object_add(c, "field", json_object_new_string(a->sets[j].name));
                                json_object_object_add(c, "value", json_object_new_string(a->sets[j].to));
                                json_object_array_add(sets, c);
                        }
                        json_object_object_add(o, "sets", sets);
                }
                json_object_object_add(o, "reason", str_or_null(a->reason));
                if (a->risk)
                        json_object_object_add(o, "risk", json_object_new_string(a->risk));
                if (with_results)
                        json_object_object_add(o, "result", json_object_new_string(result_word(a->result)));
                json_object_array_add(actions, o);
        }
        json_object_object_add(root, "actions", actions);
        json_object *errs = json_object_new_array();
        for (size_t i = 0; errors && i < errors->n; i++)
                json_object_array_add(errs, json_object_new_string(errors->v[i]));
        json_object_object_add(root, "errors", errs);
        json_object *pending = json_object_new_array();
        for (size_t i = 0; i < p->n_pending; i++) {
                const struct pending *q = &p->pending[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "kind", json_object_new_string(kind_to_string(q->kind)));
                json_object_object_add(o, "name", json_object_new_string(q->name));
                json_object_object_add(o, "reason", str_or_null(q->reason));
                json_object_object_add(o, "until", str_or_null(q->until));
                json_object_array_add(pending, o);
        }
        json_object_object_add(root, "pending", pending);
        if (status)
                json_object_object_add(root, "status", json_object_new_string(status));
        fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
}

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
static void y_comment(struct yw *w, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void y_comment(struct yw *w, int indent, const char *fmt, ...) {
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
static void y_name(struct yw *w, const char *s) {
        y_scalar(w, s, plain_word(s) ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* An address, MAC, path or value: always quoted, as show has written them. */
static void y_str(struct yw *w, const char *s) {
        y_scalar(w, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* A key, enum word, number or boolean of our own: the emitter writes it plain. */
static void y_word(struct yw *w, const char *s) {
        y_scalar(w, s, YAML_ANY_SCALAR_STYLE);
}

static void y_uint(struct yw *w, unsigned long long v) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%llu", v);
        y_word(w, buf);
}

static void y_bool(struct yw *w, bool v) {
        y_word(w, v ? "true" : "false");
}

static void y_map(struct yw *w, bool flow) {
        yaml_event_t ev;
        int ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                     flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
        put(w, &ev, ok);
}

static void y_seq(struct yw *w, bool flow) {
        yaml_event_t ev;
        int ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                      flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
        put(w, &ev, ok);
}

static void y_end_map(struct yw *w) {
        yaml_event_t ev;
        put(w, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void y_end_seq(struct yw *w) {
        yaml_event_t ev;
        put(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* key: word, key: number, key: boolean, key: quoted string, key: name. */
static void kv_word(struct yw *w, const char *k, const char *v) {
        y_word(w, k);
        y_word(w, v);
}

static void kv_uint(struct yw *w, const char *k, unsigned long long v) {
        y_word(w, k);
        y_uint(w, v);
}

static void kv_bool(struct yw *w, const char *k, bool v) {
        y_word(w, k);
        y_bool(w, v);
}

static void kv_str(struct yw *w, const char *k, const char *v) {
        y_word(w, k);
        y_str(w, v);
}

static void kv_name(struct yw *w, const char *k, const char *v) {
        y_word(w, k);
        y_name(w, v);
}

static void entry_begin(struct yw *w) {
        w->holding = true;
        w->bad_entry = false;
}

/* Write the held entry, or, when one of its strings cannot be YAML, a comment
 * in its place: the rest of the document stays valid either way. */
static void entry_end(struct yw *w, const struct resource *r) {
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
                y_comment(w, 2, "%s %s: left out, a name or value in it is not UTF-8, which YAML cannot hold",
                          kind_to_string(r->kind), r->name);
        }
        w->bad_entry = false;
}

static void show_addresses(struct yw *w, const struct link_spec *l) {
        char buf[64];
        y_word(w, "addresses");
        y_seq(w, true);
        for (size_t i = 0; i < l->addresses.n; i++) {
                const struct ipaddr *ip = &l->addresses.v[i];
                bool ll = ip->family == AF_INET6 && ip->a[0] == 0xfe && (ip->a[1] & 0xc0) == 0x80;
                if (!(ip->flags & IFA_F_PERMANENT) || ll)
                        continue;
                y_str(w, ipaddr_format(ip, true, buf, sizeof(buf)));
        }
        y_end_seq(w);
}

/* A TAP's owner or group as an operator writes it: the name this host has for
 * the id, else the number. */
static const char *user_name(uint32_t id, bool group, char *buf, size_t size) {
        char pwbuf[1024];
        const char *name = NULL;
        if (group) {
                struct group g, *gp = NULL;
                if (getgrgid_r((gid_t) id, &g, pwbuf, sizeof(pwbuf), &gp) == 0 && gp)
                        name = gp->gr_name;
        } else {
                struct passwd pw, *pp = NULL;
                if (getpwuid_r((uid_t) id, &pw, pwbuf, sizeof(pwbuf), &pp) == 0 && pp)
                        name = pp->pw_name;
        }
        if (name)
                snprintf(buf, size, "%s", name);
        else
                snprintf(buf, size, "%u", id);
        return buf;
}

static bool owned_veth(const struct show_owner *o, const struct resource *r) {
        return o && o->ledger && ledger_find((struct ledger *) o->ledger, o->scope, KIND_VETH, r->name);
}

/* A veth pair in this namespace is written once: applied, that one entry
 * makes both ends. It goes under the end reconcile owns (so that a NIC at the
 * other end stays a NIC), else under the end whose name sorts first. */
static bool written_by_peer(const struct resource *r, const struct model *live,
                            bool (*pick)(const struct resource *, void *), void *u, const struct show_owner *owner) {
        if (r->kind != KIND_VETH || !r->link.peer[0] || r->link.peer_netns[0])
                return false;
        const struct resource *p = model_find(live, KIND_VETH, r->link.peer);
        if (!p || p->kind != KIND_VETH || strcmp(p->link.peer, r->name) != 0 || (pick && !pick(p, u)))
                return false;
        bool mine = owned_veth(owner, r), theirs = owned_veth(owner, p);
        if (mine != theirs)
                return theirs;
        return strcmp(p->name, r->name) < 0;
}

static void show_link(struct yw *w, const struct resource *r) {
        const struct link_spec *l = &r->link;
        char mac[18], buf[64];
        /* A veth whose peer is in another namespace cannot be written as a manifest here. */
        if (r->kind == KIND_VETH && !l->peer[0]) {
                y_comment(w, 2, "%s: a veth whose peer lives in another namespace", r->name);
                return;
        }
        entry_begin(w);
        y_name(w, r->name);
        y_map(w, false);
        if ((r->kind == KIND_VLAN || r->kind == KIND_MACVLAN || r->kind == KIND_MACVTAP) && l->link[0])
                kv_name(w, "link", l->link);
        if (r->kind == KIND_VLAN)
                kv_uint(w, "id", l->vlan_id);
        if (r->kind == KIND_MACVLAN || r->kind == KIND_MACVTAP)
                kv_word(w, "mode", enum_to_string(&macvlan_mode_table, l->mode));
        if (r->kind == KIND_BRIDGE || r->kind == KIND_BOND) {
                y_word(w, "interfaces");
                y_seq(w, true);
                for (size_t i = 0; i < l->interfaces.n; i++)
                        y_name(w, l->interfaces.v[i]);
                y_end_seq(w);
        }
        if (r->kind == KIND_BRIDGE) {
                kv_bool(w, "stp", l->stp);
                kv_uint(w, "forward-delay", l->forward_delay);
        }
        if (r->kind == KIND_BOND) {
                kv_word(w, "mode", enum_to_string(&bond_mode_table, l->mode));
                if (r->set & LINK_F_MIIMON)
                        kv_uint(w, "miimon", l->miimon);
                if ((r->set & LINK_F_LACP_RATE) && l->mode == BOND_8023AD)
                        kv_word(w, "lacp-rate", enum_to_string(&lacp_rate_table, l->lacp_rate));
                if (r->set & LINK_F_XMIT_HASH)
                        kv_word(w, "xmit-hash-policy", enum_to_string(&xmit_hash_table, l->xmit_hash));
        }
        if (r->kind == KIND_VXLAN) {
                kv_uint(w, "vni", l->vni);
                if (r->set & LINK_F_LOCAL)
                        kv_str(w, "local", ipaddr_format(&l->local, false, buf, sizeof(buf)));
                if (r->set & LINK_F_REMOTE)
                        kv_str(w, "remote", ipaddr_format(&l->remote, false, buf, sizeof(buf)));
                if (r->set & LINK_F_GROUP)
                        kv_str(w, "group", ipaddr_format(&l->group, false, buf, sizeof(buf)));
                if (l->link[0])
                        kv_name(w, "dev", l->link);
                kv_uint(w, "port", l->port);
                kv_bool(w, "learning", l->learning);
        }
        if (r->kind == KIND_VETH)
                kv_name(w, "peer", l->peer);
        if (r->kind == KIND_TAP) {
                /* Quoted: the manifest takes a user or group name or number as a string. */
                if (r->set & LINK_F_OWNER)
                        kv_str(w, "owner", user_name(l->owner, false, buf, sizeof(buf)));
                if (r->set & LINK_F_GROUP_ID)
                        kv_str(w, "group", user_name(l->group_id, true, buf, sizeof(buf)));
                kv_bool(w, "multi-queue", l->multi_queue);
        }
        kv_uint(w, "mtu", l->mtu);
        /* A link without a hardware address (or none read) has nothing a manifest could set. */
        static const unsigned char no_mac[6];
        if (r->kind != KIND_ETHERNET && memcmp(l->mac, no_mac, sizeof(no_mac)) != 0)
                kv_str(w, "mac", mac_format(l->mac, mac));
        kv_bool(w, "up", l->up);
        show_addresses(w, l);
        y_end_map(w);
        entry_end(w, r);
}

static void show_network(struct yw *w, const struct resource *r) {
        const struct network_spec *n = &r->network;
        char buf[64];
        entry_begin(w);
        y_name(w, r->name);
        y_map(w, false);
        kv_word(w, "mode", enum_to_string(&net_mode_table, n->mode));
        if (n->mode == NET_MACVTAP) {
                kv_name(w, "dev", n->dev);
                kv_word(w, "macvtap-mode", enum_to_string(&macvtap_mode_table, n->macvtap_mode));
        } else if (r->set & NET_F_BRIDGE)
                kv_name(w, "bridge", n->bridge);
        if (r->set & NET_F_ADDRESS)
                kv_str(w, "address", ipaddr_format(&n->address, true, buf, sizeof(buf)));
        if (r->set & NET_F_DHCP) {
                y_word(w, "dhcp");
                y_map(w, true);
                kv_str(w, "start", ipaddr_format(&n->dhcp.start, false, buf, sizeof(buf)));
                kv_str(w, "end", ipaddr_format(&n->dhcp.end, false, buf, sizeof(buf)));
                y_end_map(w);
        }
        kv_bool(w, "autostart", n->autostart);
        kv_bool(w, "active", n->active);
        y_end_map(w);
        entry_end(w, r);
}

/* A size as an operator writes it: the largest unit that holds it exactly. */
static const char *size_text(uint64_t bytes, char *buf, size_t size) {
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

static int cmp_entry(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void show_pool(struct yw *w, const struct resource *r, const struct model *live) {
        const struct pool_spec *p = &r->pool;
        entry_begin(w);
        y_name(w, r->name);
        y_map(w, false);
        kv_name(w, "type", p->type ? p->type : "dir");
        if (p->path)
                kv_str(w, "path", p->path);
        if (p->source)
                kv_str(w, "source", p->source);
        if (p->host)
                kv_name(w, "host", p->host);
        kv_bool(w, "autostart", p->autostart);
        kv_bool(w, "active", p->active);
        size_t len = strlen(r->name);
        bool header = false;
        for (size_t i = 0; i < live->n; i++) {
                const struct resource *v = live->v[i];
                if (v->kind != KIND_VOLUME || strncmp(v->name, r->name, len) != 0 || v->name[len] != '/')
                        continue;
                if (!header) {
                        y_word(w, "volumes");
                        y_map(w, false);
                }
                header = true;
                y_name(w, v->name + len + 1);
                y_map(w, true);
                char cap[32];
                kv_word(w, "capacity", size_text(v->volume.capacity, cap, sizeof(cap)));
                kv_word(w, "format", enum_to_string(&vol_format_table, v->volume.format));
                y_end_map(w);
        }
        if (header)
                y_end_map(w);
        y_end_map(w);
        entry_end(w, r);
}

static void show_domain(struct yw *w, const struct resource *r) {
        const struct domain_spec *d = &r->domain;
        char buf[32];
        entry_begin(w);
        y_name(w, r->name);
        y_map(w, false);
        kv_uint(w, "vcpus", d->vcpus);
        kv_uint(w, "max-vcpus", d->max_vcpus);
        kv_word(w, "memory", size_text(d->memory, buf, sizeof(buf)));
        kv_word(w, "max-memory", size_text(d->max_memory, buf, sizeof(buf)));
        if (d->cpu)
                kv_name(w, "cpu", d->cpu);
        if (d->memory_backing == MEMBACK_HUGEPAGES)
                kv_word(w, "memory-backing", "hugepages");
        const char *const os_keys[] = { "machine", "kernel", "initrd", "cmdline" };
        const char *const os_vals[] = { d->machine, d->kernel, d->initrd, d->cmdline };
        for (size_t i = 0; i < ELEMENTSOF(os_keys); i++)
                if (os_vals[i])
                        kv_str(w, os_keys[i], os_vals[i]);
        if (d->unmodeled)
                y_comment(w, 4, "not in the schema yet, left as they are: %s", d->unmodeled);
        if (!d->acpi || !d->apic)
                y_comment(w, 4, "features: acpi and apic missing; an apply adds them (no graceful shutdown or hotplug without)");
        kv_word(w, "state", res_state_to_string(r->state));
        kv_bool(w, "autostart", d->autostart);
        /* A disk that is neither a pool volume nor a cdrom cannot be declared: then
         * the list is left out, which leaves the disks unmanaged rather than detached. */
        bool representable = true;
        for (size_t i = 0; i < d->n_disks; i++)
                representable = representable && (d->disks[i].cdrom || (d->disks[i].volume && d->disks[i].volume[0] != '/'));
        if (!representable)
                y_comment(w, 4, "disks: left unmanaged, this domain has file disks outside any pool");
        else {
                y_word(w, "disks");
                y_seq(w, false);
        }
        for (size_t i = 0; i < d->n_disks && representable; i++) {
                const struct disk_spec *k = &d->disks[i];
                y_map(w, true);
                if (k->cdrom)
                        kv_str(w, "cdrom", k->cdrom);
                else
                        kv_str(w, "volume", k->volume);
                if (k->bus >= 0)
                        kv_word(w, "bus", enum_to_string(&disk_bus_table, k->bus));
                if (k->cache > 0)
                        kv_word(w, "cache", enum_to_string(&disk_cache_table, k->cache));
                if (k->set & DISK_F_DISCARD)
                        kv_word(w, "discard", enum_to_string(&disk_discard_table, k->discard));
                if (k->shareable)
                        kv_bool(w, "shareable", true);
                y_end_map(w);
        }
        if (representable)
                y_end_seq(w);
        y_word(w, "interfaces");
        y_seq(w, false);
        for (size_t i = 0; i < d->n_nics; i++) {
                const struct nic_spec *n = &d->nics[i];
                char mac[18];
                y_map(w, true);
                if (n->set & NIC_F_BRIDGE)
                        kv_name(w, "bridge", n->bridge);
                else
                        kv_name(w, "network", n->network ? n->network : "");
                if (n->model >= 0)
                        kv_word(w, "model", enum_to_string(&nic_model_table, n->model));
                static const unsigned char no_mac[6];
                if (memcmp(n->mac, no_mac, sizeof(no_mac)) != 0)
                        kv_str(w, "mac", mac_format(n->mac, mac));
                y_end_map(w);
        }
        y_end_seq(w);
        if (d->active && (d->active->domain.max_vcpus != d->max_vcpus || d->active->domain.max_memory != d->max_memory ||
                          d->active->domain.memory_backing != d->memory_backing || d->active->domain.acpi != d->acpi ||
                          d->active->domain.apic != d->apic))
                y_comment(w, 4, "pending: restart needed (the running guest differs from its definition)");
        y_end_map(w);
        entry_end(w, r);
}

/* The fields that name a service: its key in a manifest. */
static void show_service_key(struct yw *w, const struct resource *r, bool with_family) {
        const struct service_spec *v = &r->service;
        char buf[64];
        if (r->set & SVC_F_FWMARK) {
                kv_uint(w, "fwmark", v->fwmark);
                if (with_family)
                        kv_word(w, "family", enum_to_string(&inet_family_table, v->family));
                return;
        }
        kv_word(w, "protocol", enum_to_string(&ipvs_proto_table, r->set & SVC_F_PROTOCOL ? v->protocol : PROTO_TCP));
        kv_str(w, "address", ipaddr_format(&v->address, false, buf, sizeof(buf)));
        kv_uint(w, "port", v->port);
}

static void show_service(struct yw *w, const struct resource *r) {
        const struct service_spec *v = &r->service;
        char buf[64];
        entry_begin(w);
        y_str(w, r->name);
        y_map(w, false);
        show_service_key(w, r, true);
        kv_name(w, "scheduler", v->scheduler);
        if (v->persistence)
                kv_uint(w, "persistence", v->persistence);
        y_word(w, "reals");
        y_seq(w, false);
        for (size_t i = 0; i < v->n_reals; i++) {
                const struct real_spec *rs = &v->reals[i];
                y_map(w, true);
                kv_str(w, "address", ipaddr_format(&rs->address, false, buf, sizeof(buf)));
                kv_uint(w, "port", rs->port);
                kv_uint(w, "weight", rs->weight);
                kv_word(w, "forwarding", enum_to_string(&ipvs_fwd_table, rs->forwarding));
                if (rs->upper)
                        kv_uint(w, "upper", rs->upper);
                if (rs->lower)
                        kv_uint(w, "lower", rs->lower);
                y_end_map(w);
        }
        y_end_seq(w);
        y_end_map(w);
        entry_end(w, r);
}

static void show_ipset(struct yw *w, const struct resource *r) {
        const struct ipset_spec *v = &r->ipset;
        entry_begin(w);
        y_name(w, r->name);
        y_map(w, false);
        kv_str(w, "type", v->type);
        if (strncmp(v->type, "hash:", 5) == 0) {
                kv_word(w, "family", enum_to_string(&inet_family_table, v->family));
                kv_uint(w, "hashsize", v->hashsize);
        }
        if (v->maxelem)
                kv_uint(w, "maxelem", v->maxelem);
        if (v->range[0])
                kv_str(w, "range", v->range);
        if (v->timeout)
                kv_uint(w, "timeout", v->timeout);
        if (v->comment)
                kv_bool(w, "comment", true);
        y_word(w, "entries");
        y_seq(w, false);
        /* Sorted: the kernel lists a hash set in bucket order, which says nothing. */
        const char **sorted = xcalloc(v->entries.n + 1, sizeof(*sorted));
        if (v->entries.n) {
                memcpy(sorted, v->entries.v, v->entries.n * sizeof(*sorted));
                qsort(sorted, v->entries.n, sizeof(*sorted), cmp_entry);
        }
        for (size_t i = 0; i < v->entries.n; i++)
                y_str(w, sorted[i]);
        free(sorted);
        y_end_seq(w);
        y_end_map(w);
        entry_end(w, r);
}

/* The kernel's connected and router-advertised routes are its own: not shown. */
static bool route_shown(const struct resource *r) {
        return r->route.protocol != RTPROT_KERNEL && r->route.protocol != RTPROT_RA;
}

static void show_route_key(struct yw *w, const struct resource *r) {
        const struct route_spec *rt = &r->route;
        char buf[64];
        y_str(w, r->name);
        y_map(w, false);
        if (rt->to.prefix == 0 && rt->to.family == AF_INET)
                kv_word(w, "to", "default");
        else
                kv_str(w, "to", ipaddr_format(&rt->to, true, buf, sizeof(buf)));
        kv_uint(w, "metric", rt->metric);
        kv_uint(w, "table", rt->table);
}

static void show_route(struct yw *w, const struct resource *r) {
        const struct route_spec *rt = &r->route;
        char buf[64];
        entry_begin(w);
        show_route_key(w, r);
        if (r->set & ROUTE_F_VIA)
                kv_str(w, "via", ipaddr_format(&rt->via, false, buf, sizeof(buf)));
        if (r->set & ROUTE_F_DEV)
                kv_name(w, "dev", rt->dev);
        if (rt->to.family == AF_INET)
                kv_word(w, "scope", enum_to_string(&route_scope_table, rt->scope));
        kv_word(w, "type", enum_to_string(&route_type_table, rt->type));
        y_end_map(w);
        entry_end(w, r);
}

static void show_sysctl(struct yw *w, const struct resource *r) {
        entry_begin(w);
        y_name(w, r->name);
        y_str(w, r->sysctl.value);
        entry_end(w, r);
}

static void show_absent(struct yw *w, const struct resource *r) {
        entry_begin(w);
        if (r->kind == KIND_ROUTE)
                show_route_key(w, r);
        else if (r->kind == KIND_SERVICE) {
                y_str(w, r->name);
                y_map(w, false);
                show_service_key(w, r, false);
        } else {
                y_name(w, r->name);
                y_map(w, true);
        }
        kv_word(w, "state", "absent");
        y_end_map(w);
        entry_end(w, r);
}

static void show_resource(struct yw *w, const struct resource *r, const struct model *live) {
        if (kind_is_link(r->kind))
                show_link(w, r);
        else if (r->kind == KIND_ROUTE)
                show_route(w, r);
        else if (r->kind == KIND_SYSCTL)
                show_sysctl(w, r);
        else if (r->kind == KIND_NETWORK)
                show_network(w, r);
        else if (r->kind == KIND_POOL)
                show_pool(w, r, live);
        else if (r->kind == KIND_DOMAIN)
                show_domain(w, r);
        else if (r->kind == KIND_SERVICE)
                show_service(w, r);
        else
                show_ipset(w, r);
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

int show_print_yaml_subset(FILE *f, const struct model *live, bool (*pick)(const struct resource *, void *), void *u,
                           const struct resource *const *absent, size_t n_absent, const struct show_owner *owner) {
        static const enum kind order[] = { KIND_ETHERNET, KIND_BOND,   KIND_VLAN,    KIND_VXLAN,  KIND_MACVLAN,
                                           KIND_MACVTAP,  KIND_VETH,   KIND_TAP,     KIND_BRIDGE, KIND_ROUTE,
                                           KIND_SYSCTL,   KIND_NETWORK, KIND_POOL,   KIND_DOMAIN, KIND_SERVICE,
                                           KIND_IPSET };
        struct yw w = { .f = f };
        if (!yaml_emitter_initialize(&w.emitter))
                return -ENOMEM;
        yaml_emitter_set_output_file(&w.emitter, f);
        yaml_emitter_set_unicode(&w.emitter, 1);
        yaml_emitter_set_width(&w.emitter, -1); /* long names and lists stay on one line */
        fputs("# live state, as reconcile sees it\n", f);
        yw_event(&w, stream_start);
        yw_event(&w, document_start);
        y_map(&w, false);
        kv_uint(&w, "version", 1);
        for (size_t k = 0; k < ELEMENTSOF(order); k++) {
                bool header = false;
                for (size_t i = 0; i < live->n; i++) {
                        const struct resource *r = live->v[i];
                        /* The second end of a veth pair is configured as a NIC: the pair's
                         * one entry makes it, its own entry sets its MTU and addresses. */
                        bool second_end = written_by_peer(r, live, pick, u, owner);
                        struct resource as_nic;
                        if (second_end && order[k] == KIND_ETHERNET) {
                                as_nic = *r;
                                as_nic.kind = KIND_ETHERNET;
                                r = &as_nic;
                        } else if (second_end)
                                continue;
                        if (r->kind != order[k] || (kind_is_link(r->kind) && strcmp(r->name, "lo") == 0) ||
                            (r->kind == KIND_ROUTE && !route_shown(r)) || (pick && !pick(live->v[i], u)))
                                continue;
                        if (!header) {
                                y_word(&w, kind_to_section(order[k]));
                                y_map(&w, false);
                        }
                        header = true;
                        show_resource(&w, r, live);
                }
                for (size_t i = 0; i < n_absent; i++) {
                        /* A sysctl that appeared in the run goes with its interface: nothing to write. */
                        if (absent[i]->kind != order[k] || absent[i]->kind == KIND_SYSCTL)
                                continue;
                        if (!header) {
                                y_word(&w, kind_to_section(order[k]));
                                y_map(&w, false);
                        }
                        header = true;
                        show_absent(&w, absent[i]);
                }
                if (header)
                        y_end_map(&w);
                comments_flush(&w, &w.here);
                comments_flush(&w, &w.later);
        }
        y_end_map(&w);
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
