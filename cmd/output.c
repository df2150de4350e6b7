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

const char *change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size) {
        const struct value *v = now ? &c->now : &c->was;
        const struct kind_ops *k = kind_ops(a->kind);
        int r = k && k->change_words ? k->change_words(a, c, now, buf, size) : -1;
        if (r >= 0)
                return r > 0 ? buf : NULL;
        switch (v->type) {
        case VAL_NUMBER:
                snprintf(buf, size, "%llu", (unsigned long long) v->number);
                return buf;
        case VAL_SIZE:
                return size_text(v->number, buf, size);
        case VAL_BOOL:
                return v->boolean ? "true" : "false";
        case VAL_ADDR:
        case VAL_PREFIX:
                return ipaddr_format(&v->addr, v->type == VAL_PREFIX, buf, size);
        case VAL_MAC: {
                char mac[18];
                snprintf(buf, size, "%s", mac_format(v->mac, mac));
                return buf;
        }
        case VAL_TEXT:
                return v->text;
        case VAL_WORD:
                return enum_to_string(v->word.table, v->word.value);
        case VAL_INDEX:
        case VAL_SPEC: /* a kind without change_words: a value that has no words of its own */
        case VAL_NONE:
                break;
        }
        return NULL;
}

static void change_text(const struct action *a, const struct change *c, char *buf, size_t size) {
        char was[512], now[512];
        const char *from = change_words(a, c, false, was, sizeof(was)), *to = change_words(a, c, true, now, sizeof(now));
        if (from && to)
                snprintf(buf, size, "%s %s -> %s", c->name, from, to);
        else if (to)
                snprintf(buf, size, "+%s %s", c->name, to);
        else
                snprintf(buf, size, "-%s %s", c->name, from ? from : "");
}

/* An add or a removal, not an edit. */
static bool one_sided(const struct change *c) {
        return (c->was.type == VAL_NONE) != (c->now.type == VAL_NONE);
}

static void detail_text(const struct action *a, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
#define APPEND(...) len += (size_t) snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__)
        switch (a->op) {
        case OP_CREATE:
                APPEND("%s:%u:%u", a->pos.file ? a->pos.file : "?", a->pos.line, a->pos.col);
                /* -v: what the create sets. */
                for (size_t i = 0; diag_verbose > 0 && i < a->n_sets; i++) {
                        char v[512];
                        const char *words = change_words(a, &a->sets[i], true, v, sizeof(v));
                        APPEND("%s%s %s", i ? ", " : ": ", a->sets[i].name, words ? words : "");
                }
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
                if (one_sided(&a->changes[i]) && strcmp(a->changes[i].name, "entry") == 0) {
                        n_same++;
                        adds += a->changes[i].now.type != VAL_NONE;
                        dels += a->changes[i].was.type != VAL_NONE;
                        many = a->changes[i].name;
                }
        bool first = true;
        for (size_t i = 0; i < a->n_changes; i++) {
                char c[256];
                if (n_same > 10 && strcmp(a->changes[i].name, many) == 0 && one_sided(&a->changes[i]))
                        continue;
                change_text(a, &a->changes[i], c, sizeof(c));
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

void plan_print_actions(FILE *f, const struct plan *p) {
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                char head[128], detail[2048];
                snprintf(head, sizeof(head), "%s %s %s", op_symbol(a->op), kind_to_string(a->kind), a->name);
                detail_text(a, detail, sizeof(detail));
                fprintf(f, "%-35s %s\n", head, detail);
                if (a->risk)
                        fprintf(f, "    risk: %s\n", a->risk);
        }
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
        plan_print_actions(f, p);
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
                        char was[512], now[512];
                        json_object_object_add(c, "field", json_object_new_string(a->changes[j].name));
                        json_object_object_add(c, "from", str_or_null(change_words(a, &a->changes[j], false, was, sizeof(was))));
                        json_object_object_add(c, "to", str_or_null(change_words(a, &a->changes[j], true, now, sizeof(now))));
                        json_object_array_add(changes, c);
                }
                json_object_object_add(o, "changes", changes);
                if (a->op == OP_CREATE) {
                        json_object *sets = json_object_new_array();
                        for (size_t j = 0; j < a->n_sets; j++) {
                                json_object *c = json_object_new_object();
                                char v[512];
                                const char *words = change_words(a, &a->sets[j], true, v, sizeof(v));
                                json_object_object_add(c, "field", json_object_new_string(a->sets[j].name));
                                json_object_object_add(c, "value", json_object_new_string(words ? words : ""));
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

