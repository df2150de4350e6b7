/* ipsets through libipset. Entries are added and deleted one by one, batched
 * through libipset's restore path. A new set, a replaced one and a change of
 * hashsize, maxelem, timeout or comment support are built whole in a
 * temporary set and then renamed or swapped in: no packet ever meets an empty
 * set, and a refused entry leaves no half-filled one. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libipset/ipset.h>
#include <libipset/session.h>
#include <libipset/types.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

/* The kernel's own default, too small for a large set: twice the entries wins. */
#define DEFAULT_MAXELEM 65536u

struct ipset_state {
        struct ipset *ipset;
        char *netns;   /* where the session's socket lives, for a fresh one */
        bool starting; /* the session's first command runs: no renewal */
        char *out;      /* what libipset printed for the last command */
        size_t out_len, out_cap;
        char err[512];
};

static int on_out(struct ipset_session *session, void *p, const char *fmt, ...) {
        struct ipset_state *s = p;
        va_list ap;
        (void) session;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return 0;
        if (s->out_len + (size_t) n + 1 > s->out_cap) {
                s->out_cap = (s->out_len + (size_t) n + 1) * 2;
                s->out = realloc(s->out, s->out_cap);
                if (!s->out)
                        abort();
        }
        va_start(ap, fmt);
        vsnprintf(s->out + s->out_len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        s->out_len += (size_t) n;
        return 0;
}

static int on_custom_error(struct ipset *ipset, void *p, int status, const char *msg, ...) {
        struct ipset_state *s = p;
        va_list ap;
        (void) ipset;
        (void) status;
        va_start(ap, msg);
        vsnprintf(s->err, sizeof(s->err), msg, ap);
        va_end(ap);
        return -1;
}

static int on_standard_error(struct ipset *ipset, void *p) {
        struct ipset_state *s = p;
        const char *m = ipset_session_report_msg(ipset_session(ipset));
        /* "Error in line N:" counts lines of reconcile's own batch: not the user's. */
        if (m && strncmp(m, "Error in line ", 14) == 0 && strstr(m, ": "))
                m = strstr(m, ": ") + 2;
        if (!s->err[0])
                snprintf(s->err, sizeof(s->err), "%s", m && *m ? m : "ipset error");
        size_t n = strlen(s->err);
        while (n && (s->err[n - 1] == '\n' || s->err[n - 1] == ' '))
                s->err[--n] = '\0';
        ipset_session_report_reset(ipset_session(ipset));
        return -1;
}

/* Run ipset commands, one per line, through libipset's restore path (batched). */
static int ipset_run(struct ipset_state *s, const char *commands) {
        s->out_len = 0;
        if (s->out)
                s->out[0] = '\0';
        s->err[0] = '\0';
        if (!s->ipset)
                return -EIO; /* a renewal failed: the caller reports it */
        FILE *f = fmemopen((void *) commands, strlen(commands), "r");
        if (!f)
                return -errno;
        int r = ipset_parse_stream(s->ipset, f);
        fclose(f);
        /* The stream goes on after a bad line and may still return 0: the report decides. */
        return r < 0 || s->err[0] ? -EINVAL : 0;
}

static int session_start(struct ipset_state *s);
static void session_renew(struct ipset_state *s);

/* One read command (save, list): the restore path takes only changes. */
static int ipset_query(struct ipset_state *s, const char *command) {
        s->out_len = 0;
        if (s->out)
                s->out[0] = '\0';
        s->err[0] = '\0';
        if (!s->ipset) {
                snprintf(s->err, sizeof(s->err), "the ipset session could not be renewed");
                return -EIO;
        }
        _cleanup_free_ char *line = xstrdup(command);
        /* The output mode sticks too (save sets it): let each command pick its own. */
        ipset_session_output(ipset_session(s->ipset), IPSET_LIST_NONE);
        int r = ipset_parse_line(s->ipset, line);
        /* -name and -terse stick to the session: clear them for the next query. */
        ipset_envopt_unset(ipset_session(s->ipset), IPSET_ENV_LIST_SETNAME);
        ipset_envopt_unset(ipset_session(s->ipset), IPSET_ENV_LIST_HEADER);
        if (r < 0 || s->err[0]) {
                /* After a failed list (a set that does not exist) libipset's session
                 * answers the next one with "Internal protocol error": start afresh. */
                if (!s->starting) {
                        char err[sizeof(s->err)];
                        memcpy(err, s->err, sizeof(err));
                        session_renew(s);
                        memcpy(s->err, err, sizeof(err));
                }
                return -EINVAL;
        }
        return 0;
}

/* ---- open ---- */

/* A libipset session whose socket is opened in the namespace: libipset opens
 * it on the first command, so one that asks only the protocol version runs there. */
static int session_start(struct ipset_state *s) {
        int saved, r = netns_enter(s->netns, &saved);
        if (r < 0)
                return r;
        s->ipset = ipset_init();
        if (s->ipset) {
                ipset_custom_printf(s->ipset, on_custom_error, on_standard_error, on_out, s);
                s->starting = true;
                r = ipset_query(s, "version");
                s->starting = false;
        } else
                r = -ENOMEM;
        int x = netns_leave(&saved);
        return r < 0 ? r : x;
}

static void session_renew(struct ipset_state *s) {
        if (s->ipset)
                ipset_fini(s->ipset);
        s->ipset = NULL;
        if (session_start(s) < 0 && s->ipset) {
                ipset_fini(s->ipset);
                s->ipset = NULL;
        }
}

static void ipset_close_(void *state);

static int ipset_open_(const struct backend_ctx *ctx, void **state) {
        struct ipset_state *s = xcalloc(1, sizeof(*s));
        s->netns = ctx->netns ? xstrdup(ctx->netns) : NULL;
        ipset_load_types();
        int r = session_start(s);
        if (r < 0) {
                r = diag_plain(r, "ipset backend: cannot talk to the kernel: %s", s->err[0] ? s->err : "no ip_set support");
                ipset_close_(s);
                return r;
        }
        *state = s;
        return 0;
}

static void ipset_close_(void *state) {
        struct ipset_state *s = state;
        if (!s)
                return;
        if (s->ipset)
                ipset_fini(s->ipset);
        free(s->netns);
        free(s->out);
        free(s);
}

/* ---- observe: parse `save` output ---- */

static const char *word_after(char **tokens, size_t n, const char *key) {
        for (size_t i = 0; i + 1 < n; i++)
                if (strcmp(tokens[i], key) == 0)
                        return tokens[i + 1];
        return NULL;
}

static bool has_word(char **tokens, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(tokens[i], key) == 0)
                        return true;
        return false;
}

/* The sets of a `save` output into live. */
static void parse_save(const char *text, struct model *live) {
        char *save = xstrdup(text ? text : "");
        struct resource *cur = NULL;
        char *saveptr = NULL;
        for (char *line = strtok_r(save, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char *tokens[32];
                size_t n = 0;
                char *tp = NULL;
                for (char *t = strtok_r(line, " ", &tp); t && n < ELEMENTSOF(tokens); t = strtok_r(NULL, " ", &tp))
                        tokens[n++] = t;
                if (n >= 3 && strcmp(tokens[0], "create") == 0) {
                        cur = resource_new(KIND_IPSET, tokens[1]);
                        struct ipset_spec *v = &cur->ipset;
                        snprintf(v->type, sizeof(v->type), "%s", tokens[2]);
                        const char *fam = word_after(tokens, n, "family");
                        v->family = fam && strcmp(fam, "inet6") == 0 ? FAMILY_INET6 : FAMILY_INET;
                        const char *x;
                        v->hashsize = (x = word_after(tokens, n, "hashsize")) ? (uint32_t) strtoul(x, NULL, 10) : 0;
                        v->maxelem = (x = word_after(tokens, n, "maxelem")) ? (uint32_t) strtoul(x, NULL, 10) : 0;
                        v->timeout = (x = word_after(tokens, n, "timeout")) ? (uint32_t) strtoul(x, NULL, 10) : 0;
                        v->comment = has_word(tokens, n, "comment");
                        if ((x = word_after(tokens, n, "range")))
                                snprintf(v->range, sizeof(v->range), "%s", x);
                        cur->set = SET_F_TYPE | SET_F_FAMILY | SET_F_MAXELEM | SET_F_HASHSIZE | SET_F_TIMEOUT |
                                   SET_F_COMMENT | SET_F_ENTRIES;
                        if (model_add(live, cur) < 0) {
                                resource_free(cur);
                                cur = NULL;
                        }
                } else if (n >= 3 && strcmp(tokens[0], "add") == 0 && cur && strcmp(tokens[1], cur->name) == 0)
                        *(char **) array_push(&cur->ipset.entries.v, &cur->ipset.entries.n, sizeof(char *)) =
                                xstrdup(tokens[2]);
        }
        free(save);
}

/* How many rules and list:sets use each set: the headers of all sets in one
 * read. A set the read misses (made or gone meanwhile) counts none. */
static void read_references(struct ipset_state *s, struct model *live) {
        if (ipset_query(s, "list -terse") < 0 || !s->out)
                return;
        struct resource *cur = NULL;
        for (const char *line = s->out; *line;) {
                size_t n = strcspn(line, "\n");
                if (n > 6 && strncmp(line, "Name: ", 6) == 0) {
                        _cleanup_free_ char *name = strndup(line + 6, n - 6);
                        cur = name ? model_find(live, KIND_IPSET, name) : NULL;
                } else if (cur && n > 12 && strncmp(line, "References: ", 12) == 0)
                        cur->ipset.references = (uint32_t) strtoul(line + 12, NULL, 10);
                line += n + (line[n] == '\n');
        }
}

static int ipset_observe_(void *state, const struct str_list *names, struct model *live) {
        struct ipset_state *s = state;
        (void) names;
        if (ipset_query(s, "save") < 0)
                return diag_plain(-EIO, "ipset backend: cannot list sets: %s", s->err);
        parse_save(s->out, live);
        read_references(s, live);
        return 0;
}

/* Verification: only the sets the apply touched. Their references are not
 * read: after the apply a set has its declared type, so no re-create is planned. */
static int ipset_observe_some(void *state, const struct resource *const *objs, size_t n, struct model *live) {
        struct ipset_state *s = state;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *cmd = xasprintf("save %s", objs[i]->name);
                if (model_find(live, KIND_IPSET, objs[i]->name))
                        continue; /* listed twice in the plan */
                if (ipset_query(s, cmd) < 0) {
                        if (strstr(s->err, "does not exist"))
                                continue; /* deleted, as the plan said */
                        return diag_plain(-EIO, "ipset backend: cannot list set %s: %s", objs[i]->name, s->err);
                }
                parse_save(s->out, live);
        }
        return 0;
}

/* A scoped run: the set's header (type, parameters, references, number of
 * entries) in one read, its entries taken from presumed, the set as the last
 * run made it. A number of entries that disagrees reads the set whole. */
static int ipset_observe_presumed(void *state, const struct resource *presumed, struct model *live) {
        struct ipset_state *s = state;
        _cleanup_free_ char *cmd = xasprintf("list -terse %s", presumed->name);
        if (ipset_query(s, cmd) < 0) {
                if (strstr(s->err, "does not exist"))
                        return 0;
                return diag_plain(-EIO, "ipset backend: cannot list set %s: %s", presumed->name, s->err);
        }
        const char *type = NULL, *header = NULL, *refs = NULL, *count = NULL;
        size_t type_len = 0, header_len = 0;
        for (const char *line = s->out ? s->out : ""; *line;) {
                size_t n = strcspn(line, "\n");
                if (strncmp(line, "Type: ", 6) == 0)
                        type = line + 6, type_len = n - 6;
                else if (strncmp(line, "Header: ", 8) == 0)
                        header = line + 8, header_len = n - 8;
                else if (strncmp(line, "References: ", 12) == 0)
                        refs = line + 12;
                else if (strncmp(line, "Number of entries: ", 19) == 0)
                        count = line + 19;
                line += n + (line[n] == '\n');
        }
        struct model got = { 0 };
        _cleanup_free_ char *create = xasprintf("create %s %.*s %.*s\n", presumed->name, (int) type_len, type ? type : "",
                                                (int) header_len, header ? header : "");
        parse_save(create, &got);
        struct resource *r = got.n == 1 ? got.v[0] : NULL;
        if (!r || !count || strtoul(count, NULL, 10) != presumed->ipset.entries.n) {
                model_done(&got);
                return ipset_observe_some(state, &presumed, 1, live);
        }
        r->ipset.references = refs ? (uint32_t) strtoul(refs, NULL, 10) : 0;
        r->ipset.entries.v = xcalloc(array_capacity(presumed->ipset.entries.n), sizeof(char *));
        for (size_t i = 0; i < presumed->ipset.entries.n; i++)
                r->ipset.entries.v[i] = xstrdup(presumed->ipset.entries.v[i]);
        r->ipset.entries.n = presumed->ipset.entries.n;
        got.n = 0; /* r goes to live */
        model_done(&got);
        if (model_add(live, r) < 0)
                resource_free(r);
        return 0;
}

/* The daemon's poll: the kernel sends no notification for ipsets, so the
 * header of each declared set (type, parameters, number of entries, size) is
 * read and hashed; a flush, a destroy, an add or a delete changes it. */
static int ipset_poll_digest_(void *state, const struct model *want, uint64_t *digest) {
        struct ipset_state *s = state;
        uint64_t h = HASH_FNV1A_SEED;
        for (size_t i = 0; want && i < want->n; i++) {
                const struct resource *w = want->v[i];
                if (w->kind != KIND_IPSET)
                        continue;
                _cleanup_free_ char *cmd = xasprintf("list -terse %s", w->name);
                int r = ipset_query(s, cmd);
                const char *text = r < 0 ? s->err : s->out ? s->out : "";
                unsigned char failed = r < 0;
                h = hash_fnv1a(hash_fnv1a_str(h, text), &failed, 1);
        }
        *digest = h;
        return 0;
}

/* ---- diff ---- */

static uint32_t want_maxelem(const struct resource *w) {
        if (w->set & SET_F_MAXELEM)
                return w->ipset.maxelem;
        uint32_t twice = (uint32_t) (w->ipset.entries.n * 2);
        return twice > DEFAULT_MAXELEM ? twice : DEFAULT_MAXELEM;
}

/* A sorted copy of the entries, so that the diff is a merge, not a quadratic search. */
static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static char **sorted(const struct str_list *l) {
        char **v = xcalloc(l->n + 1, sizeof(char *));
        if (l->n) {
                memcpy(v, l->v, l->n * sizeof(char *));
                qsort(v, l->n, sizeof(char *), cmp_str);
        }
        return v;
}


static int ipset_diff_(void *state, const struct resource *w, const struct resource *l,
                       const struct ledger_entry *owned, struct action *a, struct plan *p) {
        const struct ipset_spec *want = &w->ipset, *have = &l->ipset;
        char f[32], t[32];
        (void) state;
        (void) owned;
        (void) p;
        int family = w->set & SET_F_FAMILY ? want->family : FAMILY_INET;
        if (strcmp(want->type, have->type) != 0 || family != have->family) {
                if (have->references > 0)
                        return diag_pos(&w->pos,
                                        "ipset %s: type %s %s -> %s %s needs the set re-created, and %u rule(s) or "
                                        "list:set(s) reference it: refused",
                                        w->name, have->type, enum_to_string(&inet_family_table, have->family), want->type,
                                        enum_to_string(&inet_family_table, family), have->references);
                a->op = OP_REPLACE;
                a->reason = xstrdup("cannot change in place (the kernel swaps only sets of one type and family)");
                if (strcmp(want->type, have->type) != 0)
                        action_add_change(a, SET_F_TYPE, "type", have->type, want->type);
                if (family != have->family)
                        action_add_change(a, SET_F_FAMILY, "family", enum_to_string(&inet_family_table, have->family),
                                          enum_to_string(&inet_family_table, family));
                return 0;
        }
        if ((w->set & SET_F_RANGE) && strcmp(want->range, have->range) != 0)
                action_add_change(a, SET_C_SWAP, "range", have->range[0] ? have->range : NULL, want->range);
        uint32_t maxelem = want_maxelem(w);
        bool bitmap = strncmp(want->type, "bitmap:", 7) == 0 || strcmp(want->type, "list:set") == 0;
        bool maxelem_off = !bitmap && ((w->set & SET_F_MAXELEM) ? maxelem != have->maxelem : have->maxelem < maxelem);
        if (maxelem_off) {
                snprintf(f, sizeof(f), "%u", have->maxelem);
                snprintf(t, sizeof(t), "%u", maxelem);
                action_add_change(a, SET_C_SWAP, "maxelem", f, t);
        }
        if ((w->set & SET_F_HASHSIZE) && want->hashsize != have->hashsize) {
                snprintf(f, sizeof(f), "%u", have->hashsize);
                snprintf(t, sizeof(t), "%u", want->hashsize);
                action_add_change(a, SET_C_SWAP, "hashsize", f, t);
        }
        if ((w->set & SET_F_TIMEOUT) && want->timeout != have->timeout) {
                snprintf(f, sizeof(f), "%u", have->timeout);
                snprintf(t, sizeof(t), "%u", want->timeout);
                action_add_change(a, SET_C_SWAP, "timeout", have->timeout ? f : NULL, want->timeout ? t : NULL);
        }
        if ((w->set & SET_F_COMMENT) && want->comment != have->comment)
                action_add_change(a, SET_C_SWAP, "comment", have->comment ? "true" : "false",
                                  want->comment ? "true" : "false");
        if (w->set & SET_F_ENTRIES) {
                char **dv = sorted(&want->entries), **hv = sorted(&have->entries);
                size_t i = 0, j = 0;
                while (i < want->entries.n || j < have->entries.n) {
                        int c = i == want->entries.n ? 1 : j == have->entries.n ? -1 : strcmp(dv[i], hv[j]);
                        if (c < 0)
                                action_add_change(a, SET_C_ENTRY, "entry", NULL, dv[i++]);
                        else if (c > 0)
                                action_add_change(a, SET_C_ENTRY, "entry", hv[j++], NULL);
                        else
                                i++, j++;
                }
                free(dv);
                free(hv);
        }
        a->op = OP_UPDATE;
        return 0;
}

/* ---- apply ---- */

static void buf_add(char **b, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void buf_add(char **b, size_t *len, size_t *cap, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (*len + (size_t) n + 1 > *cap) {
                *cap = (*len + (size_t) n + 1) * 2;
                *b = realloc(*b, *cap);
                if (!*b)
                        abort();
        }
        va_start(ap, fmt);
        vsnprintf(*b + *len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        *len += (size_t) n;
}

static void create_line(char **b, size_t *len, size_t *cap, const char *name, const struct resource *w) {
        const struct ipset_spec *v = &w->ipset;
        int type = enum_from_string(&ipset_type_table, v->type);
        buf_add(b, len, cap, "create %s %s", name, v->type);
        /* hash:mac takes no family: libipset refuses the argument. */
        if (strncmp(v->type, "hash:", 5) == 0) {
                if (type >= 0 && set_types[type].has_family)
                        buf_add(b, len, cap, " family %s", enum_to_string(&inet_family_table, w->set & SET_F_FAMILY ? v->family : FAMILY_INET));
                if (w->set & SET_F_HASHSIZE)
                        buf_add(b, len, cap, " hashsize %u", v->hashsize);
        }
        if (w->set & SET_F_RANGE)
                buf_add(b, len, cap, " range %s", v->range);
        if (strncmp(v->type, "bitmap:", 7) != 0 && strcmp(v->type, "list:set") != 0)
                buf_add(b, len, cap, " maxelem %u", want_maxelem(w));
        if ((w->set & SET_F_TIMEOUT) && v->timeout)
                buf_add(b, len, cap, " timeout %u", v->timeout);
        if ((w->set & SET_F_COMMENT) && v->comment)
                buf_add(b, len, cap, " comment");
        buf_add(b, len, cap, "\n");
}

/* The name a set is built under before it takes its own (ipset names are at most 31 bytes). */
static void aside_name(const char *name, char tmp[48]) {
        snprintf(tmp, 48, "%.22s.rct-new", name);
}

/* Build w's whole set under tmp. A refused entry (the set full, an address out
 * of a bitmap's range) would otherwise leave a half-filled set: then tmp is
 * destroyed, and the kernel holds nothing of this apply. */
static int build_aside(struct ipset_state *s, const struct resource *w, const char *tmp) {
        char *b = NULL;
        size_t len = 0, cap = 0;
        /* Left by a run killed between build and rename; the name is reconcile's own. */
        _cleanup_free_ char *stale = xasprintf("destroy %s\n", tmp);
        (void) ipset_run(s, stale);
        create_line(&b, &len, &cap, tmp, w);
        for (size_t i = 0; i < w->ipset.entries.n; i++)
                buf_add(&b, &len, &cap, "add %s %s\n", tmp, w->ipset.entries.v[i]);
        int r = ipset_run(s, b);
        free(b);
        if (r < 0) {
                char why[sizeof(s->err)];
                snprintf(why, sizeof(why), "%s", s->err[0] ? s->err : "the kernel refused the set");
                (void) ipset_run(s, stale);
                return diag_res(-EIO, "ipset", w->name, "%s (nothing was left behind)", why);
        }
        return 0;
}

/* Put the set built aside in place with commands (one batch); on failure it goes. */
static int finish_aside(struct ipset_state *s, const struct resource *w, const char *tmp, const char *commands) {
        if (ipset_run(s, commands) >= 0)
                return 0;
        char why[sizeof(s->err)];
        snprintf(why, sizeof(why), "%s", s->err[0] ? s->err : "the kernel refused the change");
        _cleanup_free_ char *drop = xasprintf("destroy %s\n", tmp);
        (void) ipset_run(s, drop);
        return diag_res(-EIO, "ipset", w->name, "%s", why);
}

static int ipset_apply_(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct ipset_state *s = state;
        const struct resource *w = a->want;
        char tmp[48];
        (void) l;
        (void) e;
        bool swap = false;
        for (size_t i = 0; i < a->n_changes; i++)
                swap = swap || a->changes[i].field == SET_C_SWAP;
        if (a->op == OP_CREATE || a->op == OP_REPLACE || (a->op != OP_DELETE && swap)) {
                /* A set appears whole or not at all: built aside, then renamed into its
                 * name (create), put in place of the old one (replace: the kernel swaps
                 * only sets of one type), or swapped in (new parameters: no packet ever
                 * meets an empty set). */
                aside_name(w->name, tmp);
                int r = build_aside(s, w, tmp);
                if (r < 0)
                        return r;
                _cleanup_free_ char *commands =
                        a->op == OP_CREATE    ? xasprintf("rename %s %s\n", tmp, w->name)
                        : a->op == OP_REPLACE ? xasprintf("destroy %s\nrename %s %s\n", a->name, tmp, w->name)
                                              : xasprintf("swap %s %s\ndestroy %s\n", tmp, w->name, tmp);
                return finish_aside(s, w, tmp, commands);
        }
        char *b = NULL;
        size_t len = 0, cap = 0;
        if (a->op == OP_DELETE)
                buf_add(&b, &len, &cap, "destroy %s\n", a->name);
        else {
                /* Deletions first, so a set near maxelem has room for the additions. */
                for (size_t i = 0; i < a->n_changes; i++)
                        if (a->changes[i].field == SET_C_ENTRY && !a->changes[i].to)
                                buf_add(&b, &len, &cap, "del -exist %s %s\n", w->name, a->changes[i].from);
                for (size_t i = 0; i < a->n_changes; i++)
                        if (a->changes[i].field == SET_C_ENTRY && a->changes[i].to)
                                buf_add(&b, &len, &cap, "add -exist %s %s\n", w->name, a->changes[i].to);
        }
        int r = 0;
        if (len && ipset_run(s, b) < 0)
                r = diag_res(-EIO, "ipset", a->name, "%s", s->err[0] ? s->err : "the kernel refused the change");
        free(b);
        return r;
}

/* A list:set holds other sets: they are made first, and go after it. */
static void ipset_deps_(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->kind != KIND_IPSET || strcmp(r->ipset.type, "list:set") != 0)
                return;
        for (size_t i = 0; i < r->ipset.entries.n; i++)
                add(u, KIND_IPSET, r->ipset.entries.v[i]);
}

const struct backend ipset_backend = {
        .name = "ipset",
        .scope = SCOPE_NETNS,
        .open = ipset_open_,
        .close = ipset_close_,
        .observe = ipset_observe_,
        .observe_some = ipset_observe_some,
        .observe_presumed = ipset_observe_presumed,
        .poll_digest = ipset_poll_digest_,
};

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
                if (k->has_range && (ipaddr_v4_host(&a) < k->lo || ipaddr_v4_host(&a) > k->hi)) {
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

static int check_set_entry(struct check_ctx *c, size_t n, const struct resource *r, const struct set_check *k) {
        const char *s = check_item_text(c, SET_F_ENTRIES, n);
        char canon[256] = "", part[128], one[80];
        size_t dims = 0;
        while (dims < ELEMENTSOF(k->t->dims) && k->t->dims[dims] != DIM_NONE)
                dims++;
        size_t n_parts = 1;
        for (const char *q = s; *q; q++)
                n_parts += *q == ',';
        const char *type = r->ipset.type;
        if (strpbrk(s, " \t"))
                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\": an entry is one word, without options such as timeout",
                            r->name, printable(s));
        if (n_parts > dims || (n_parts < dims && !(k->t->optional_last && n_parts == dims - 1)))
                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\": a %s entry has %zu part%s separated by commas", r->name,
                            printable(s), type, dims, dims == 1 ? "" : "s");
        const char *q = s;
        for (size_t i = 0; i < n_parts; i++) {
                size_t len = strcspn(q, ",");
                const char *why = NULL;
                snprintf(part, sizeof(part), "%.*s", (int) (len < sizeof(part) - 1 ? len : sizeof(part) - 1), q);
                if (len >= sizeof(part) || !set_part(k, k->t->dims[i], part, one, sizeof(one), &why)) {
                        if (n_parts == 1)
                                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\" is not %s", r->name, printable(s),
                                            why ? why : "valid");
                        char whole[80]; /* printable() has one buffer */
                        snprintf(whole, sizeof(whole), "%s", printable(s));
                        return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\": \"%.64s\" is not %s", r->name, whole,
                                    printable(part), why ? why : "valid");
                }
                snprintf(canon + strlen(canon), sizeof(canon) - strlen(canon), "%s%s", i ? "," : "", one);
                q += len + (q[len] == ',');
        }
        if (strcmp(canon, s) != 0)
                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\" is not in the kernel's form: write %s", r->name,
                            printable(s), canon);
        return 0;
}

/* bitmap:ip takes FROM-TO (save's form; a network is refused with it) of at
 * most 65536 addresses; bitmap:port takes FROM-TO ports. */
static int check_set_range(struct check_ctx *c, const struct resource *r, struct set_check *k) {
        const char *s = r->ipset.range, *dash = strchr(s, '-');
        if (k->t->dims[0] == DIM_PORT) {
                char lo[8] = "", hi[8] = "";
                if (dash && dash - s < 6 && strlen(dash + 1) < 6) {
                        snprintf(lo, sizeof(lo), "%.*s", (int) (dash - s), s);
                        snprintf(hi, sizeof(hi), "%s", dash + 1);
                }
                unsigned long a = all_digits(lo) ? strtoul(lo, NULL, 10) : 70000, b = all_digits(hi) ? strtoul(hi, NULL, 10) : 0;
                if (a > b || b > 65535)
                        return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\": expected FROM-TO, ports 0-65535", r->name,
                                    printable(s));
                k->lo = (uint32_t) a;
                k->hi = (uint32_t) b;
                k->has_range = true;
                return 0;
        }
        struct ipaddr a, b;
        char want[40], fa[INET6_ADDRSTRLEN], fb[INET6_ADDRSTRLEN];
        if (!dash && ipaddr_parse(s, true, &a) == 0 && a.family == AF_INET && a.prefix >= 16) {
                uint32_t lo = ipaddr_v4_host(&a) & (a.prefix ? ~0u << (32 - a.prefix) : 0);
                uint32_t hi = lo | (a.prefix == 32 ? 0 : ~0u >> a.prefix);
                struct in_addr x = { htonl(lo) }, y = { htonl(hi) };
                inet_ntop(AF_INET, &x, fa, sizeof(fa));
                inet_ntop(AF_INET, &y, fb, sizeof(fb));
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\" is not in the kernel's form: write %s-%s", r->name, s, fa, fb);
        }
        char left[40] = "";
        if (dash && dash - s < 40)
                snprintf(left, sizeof(left), "%.*s", (int) (dash - s), s);
        if (!dash || ipaddr_parse(left, false, &a) < 0 || ipaddr_parse(dash + 1, false, &b) < 0 ||
            a.family != AF_INET || b.family != AF_INET || ipaddr_v4_host(&a) > ipaddr_v4_host(&b))
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\": expected FROM-TO, IPv4 addresses", r->name, printable(s));
        if (ipaddr_v4_host(&b) - ipaddr_v4_host(&a) > 65535)
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\" holds more than 65536 addresses, the most a bitmap takes",
                            r->name, s);
        snprintf(want, sizeof(want), "%s-%s", ipaddr_format(&a, false, fa, sizeof(fa)),
                 ipaddr_format(&b, false, fb, sizeof(fb)));
        if (strcmp(want, s) != 0)
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\" is not in the kernel's form: write %s", r->name, s, want);
        k->lo = ipaddr_v4_host(&a);
        k->hi = ipaddr_v4_host(&b);
        k->has_range = true;
        return 0;
}

static int ipset_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & SET_F_TYPE))
                return check_error(c, 0, "ipset %s needs a type", r->name);
        int type = enum_from_string(&ipset_type_table, r->ipset.type);
        struct set_check k = { .t = &set_types[type] };
        const char *t = r->ipset.type;
        if (strlen(r->name) > 31)
                return check_error(c, 0, "ipset %s: a set name is at most 31 bytes", r->name);
        if ((r->set & SET_F_FAMILY) && !k.t->has_family)
                return check_error(c, SET_F_FAMILY, "ipset %s: type %s has no family", r->name, t);
        if ((r->set & SET_F_FAMILY) && k.t->inet_only && r->ipset.family != FAMILY_INET)
                return check_error(c, SET_F_FAMILY, "ipset %s: type %s is IPv4 only", r->name, t);
        k.family = (r->set & SET_F_FAMILY) && r->ipset.family == FAMILY_INET6 ? AF_INET6 : AF_INET;
        bool hash = !k.t->bitmap && type != SETT_LIST_SET;
        if ((r->set & SET_F_HASHSIZE) && !hash)
                return check_error(c, SET_F_HASHSIZE, "ipset %s: hashsize belongs to hash types, not %s", r->name, t);
        uint32_t hs = r->ipset.hashsize;
        if ((r->set & SET_F_HASHSIZE) && (hs & (hs - 1))) {
                uint64_t up = 64;
                while (up < hs)
                        up <<= 1;
                if (up > (1u << 31))
                        return check_error(c, SET_F_HASHSIZE, "ipset %s: hashsize %u out of range 64..2147483648", r->name, hs);
                return check_error(c, SET_F_HASHSIZE, "ipset %s: the kernel rounds hashsize up to a power of two: write %llu",
                            r->name, (unsigned long long) up);
        }
        if ((r->set & SET_F_MAXELEM) && !hash)
                return check_error(c, SET_F_MAXELEM, "ipset %s: maxelem belongs to hash types, not %s", r->name, t);
        if ((r->set & SET_F_RANGE) && !k.t->bitmap)
                return check_error(c, SET_F_RANGE, "ipset %s: range belongs to bitmap types, not %s", r->name, t);
        if (k.t->bitmap && !(r->set & SET_F_RANGE))
                return check_error(c, 0, "ipset %s: type %s needs a range", r->name, t);
        int ret = 0;
        if (r->set & SET_F_RANGE)
                ret = check_set_range(c, r, &k);
        if (ret < 0 || !(r->set & SET_F_ENTRIES))
                return ret;
        for (size_t i = 0; i < check_items(c, SET_F_ENTRIES); i++) {
                int x = check_set_entry(c, i, r, &k);
                if (x < 0)
                        ret = x;
        }
        return ret;
}

static const struct field ipset_fields[] = {
        { "type", FT_ENUM_WORD, R(ipset.type), 0, 32, SET_F_TYPE, &ipset_type_table, NULL, NULL },
        { "family", FT_ENUM, R(ipset.family), 0, 0, SET_F_FAMILY, &inet_family_table, NULL, NULL },
        { "maxelem", FT_U32, R(ipset.maxelem), 1, UINT32_MAX, SET_F_MAXELEM, NULL, NULL, NULL },
        { "hashsize", FT_U32, R(ipset.hashsize), 64, UINT32_MAX, SET_F_HASHSIZE, NULL, NULL, NULL },
        { "timeout", FT_U32, R(ipset.timeout), 0, 2147483, SET_F_TIMEOUT, NULL, NULL, NULL },
        { "comment", FT_BOOL, R(ipset.comment), 0, 0, SET_F_COMMENT, NULL, NULL, NULL },
        { "entries", FT_STR_LIST, R(ipset.entries), 0, 0, SET_F_ENTRIES, NULL, NULL, NULL },
        { "range", FT_WORD, R(ipset.range), 0, 64, SET_F_RANGE, NULL, NULL, NULL },
        STATE_FIELD(state_table),
};

/* libipset's text commands split at blanks and '"'; the length (31 bytes) has
 * its own message, in the check. */
static bool ipset_name_valid(const char *s) {
        if (!*s)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= ' ' || *p == '"' || *p == 0x7f)
                        return false;
        return true;
}

static void ipset_free(struct resource *r) {
        str_list_done(&r->ipset.entries);
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void ipset_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct ipset_spec *v = &r->ipset;
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        yw_kv_str(w, "type", v->type);
        if (strncmp(v->type, "hash:", 5) == 0) {
                yw_kv_word(w, "family", enum_to_string(&inet_family_table, v->family));
                yw_kv_uint(w, "hashsize", v->hashsize);
        }
        if (v->maxelem)
                yw_kv_uint(w, "maxelem", v->maxelem);
        if (v->range[0])
                yw_kv_str(w, "range", v->range);
        if (v->timeout)
                yw_kv_uint(w, "timeout", v->timeout);
        if (v->comment)
                yw_kv_bool(w, "comment", true);
        yw_word(w, "entries");
        yw_seq(w, false);
        /* Sorted: the kernel lists a hash set in bucket order, which says nothing. */
        const char **sorted = xcalloc(v->entries.n + 1, sizeof(*sorted));
        if (v->entries.n) {
                memcpy(sorted, v->entries.v, v->entries.n * sizeof(*sorted));
                qsort(sorted, v->entries.n, sizeof(*sorted), cmp_entry);
        }
        for (size_t i = 0; i < v->entries.n; i++)
                yw_str(w, sorted[i]);
        free(sorted);
        yw_end_seq(w);
        yw_end_map(w);
        yw_entry_end(w, r);
}

const struct kind_ops ipset_kind = {
        .word = "ipset",
        .section = "ipsets",
        .backend = &ipset_backend,
        .deps = ipset_deps_,
        .diff = ipset_diff_,
        .apply = ipset_apply_,
        .flags = KF_REVERTIBLE,
        .show_rank = 15,
        .fields = ipset_fields,
        .n_fields = ELEMENTSOF(ipset_fields),
        .name_valid = ipset_name_valid,
        .name_error = "bad ipset name \"%.64s\": no white space, '\"' or control characters",
        .check = ipset_check,
        .free = ipset_free,
        .show = ipset_show,
};
