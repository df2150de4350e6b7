/* The ownership ledger: every resource reconcile created or adopted, keyed by
 * (scope, kind, name), with what it needs to undo its own changes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reconcile.h"

#define LEDGER_MAGIC "reconcile-ledger 1"
/* The attribute that marks a retired entry in the file. An older reconcile
 * reads it as an ordinary owned entry, finds no such object, and forgets it. */
#define RETIRED "retired"

/* Fields are separated by tabs; '%', tab, newline and '=' in a field are %XX-escaped. */
static void put_escaped(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '%' || *p == '\t' || *p == '\n' || *p == '=' || *p < 0x20)
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
}

static int unescape(char *s) {
        char *w = s;
        for (char *p = s; *p; p++) {
                if (*p != '%') {
                        *w++ = *p;
                        continue;
                }
                unsigned v;
                if (!p[1] || !p[2] || sscanf(p + 1, "%2x", &v) != 1 || v == 0)
                        return -EINVAL;
                *w++ = (char) v;
                p += 2;
        }
        *w = '\0';
        return 0;
}

static size_t entry_hash(const char *scope, enum kind k, const char *name) {
        size_t h = 1469598103934665603ull ^ (size_t) k;
        for (const unsigned char *p = (const unsigned char *) scope; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        return h;
}

/* l->slots indexes entries by key (index+1, 0 = empty); entries never move out. */
static void index_insert(struct ledger *l, size_t i) {
        size_t s = entry_hash(l->v[i].scope, l->v[i].kind, l->v[i].name) & (l->n_slots - 1);
        while (l->slots[s])
                s = (s + 1) & (l->n_slots - 1);
        l->slots[s] = i + 1;
}

static void index_rebuild(struct ledger *l) {
        size_t want = 64;
        while (want < l->n * 2 + 2)
                want <<= 1;
        free(l->slots);
        l->slots = xcalloc(want, sizeof(size_t));
        l->n_slots = want;
        for (size_t i = 0; i < l->n; i++)
                index_insert(l, i);
}

static struct ledger_entry *find_any(struct ledger *l, const char *scope, enum kind k, const char *name) {
        if (!l->n_slots)
                return NULL;
        size_t s = entry_hash(scope, k, name) & (l->n_slots - 1);
        while (l->slots[s]) {
                struct ledger_entry *e = &l->v[l->slots[s] - 1];
                if (e->kind == k && strcmp(e->name, name) == 0 && strcmp(e->scope, scope) == 0)
                        return e;
                s = (s + 1) & (l->n_slots - 1);
        }
        return NULL;
}

struct ledger_entry *ledger_find(struct ledger *l, const char *scope, enum kind k, const char *name) {
        struct ledger_entry *e = find_any(l, scope, k, name);
        return e && !e->gone ? e : NULL;
}

struct ledger_entry *ledger_add(struct ledger *l, const char *scope, enum kind k, const char *name) {
        struct ledger_entry *e = find_any(l, scope, k, name);
        l->dirty = true;
        if (e) {
                e->gone = false;
                return e;
        }
        e = array_push(&l->v, &l->n, sizeof(*e));
        e->scope = xstrdup(scope);
        e->kind = k;
        e->name = xstrdup(name);
        if (l->n * 2 > l->n_slots)
                index_rebuild(l);
        else
                index_insert(l, l->n - 1);
        return e;
}

/* What an object handed to the outside world outlives it: a NIC's MAC is a
 * DHCP lease and a line in someone's firewall. */
static bool outlives(const char *key) {
        return strncmp(key, "mac.", 4) == 0;
}

/* The entry goes, but what outlives() keeps stays with it as a retired entry
 * (written, never found): ledger_add of the same object brings it back. */
void ledger_remove(struct ledger *l, struct ledger_entry *e) {
        for (size_t i = 0; i < e->n_attrs;)
                if (outlives(e->attrs[i].key))
                        i++;
                else {
                        free(e->attrs[i].key);
                        free(e->attrs[i].value);
                        e->attrs[i] = e->attrs[--e->n_attrs];
                }
        e->gone = true;
        l->dirty = true;
}

const char *ledger_get(const struct ledger_entry *e, const char *key) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_attrs; i++)
                if (strcmp(e->attrs[i].key, key) == 0)
                        return e->attrs[i].value;
        return NULL;
}

void ledger_set(struct ledger *l, struct ledger_entry *e, const char *key, const char *value) {
        for (size_t i = 0; i < e->n_attrs; i++)
                if (strcmp(e->attrs[i].key, key) == 0) {
                        if (value && strcmp(e->attrs[i].value, value) == 0)
                                return;
                        free(e->attrs[i].value);
                        if (value)
                                e->attrs[i].value = xstrdup(value);
                        else {
                                free(e->attrs[i].key);
                                e->attrs[i] = e->attrs[--e->n_attrs];
                        }
                        l->dirty = true;
                        return;
                }
        if (!value)
                return;
        struct kv *kv = array_push(&e->attrs, &e->n_attrs, sizeof(*kv));
        kv->key = xstrdup(key);
        kv->value = xstrdup(value);
        l->dirty = true;
}

void ledger_mark_incomplete(struct ledger *l, struct ledger_entry *e, const char *what) {
        if (!e)
                return;
        ledger_set(l, e, "pending", NULL);
        ledger_set(l, e, "incomplete", what);
}

static void entry_done(struct ledger_entry *e) {
        for (size_t i = 0; i < e->n_attrs; i++) {
                free(e->attrs[i].key);
                free(e->attrs[i].value);
        }
        free(e->attrs);
        free(e->scope);
        free(e->name);
}

void ledger_done(struct ledger *l) {
        for (size_t i = 0; i < l->n; i++)
                entry_done(&l->v[i]);
        free(l->v);
        free(l->path);
        free(l->slots);
        memset(l, 0, sizeof(*l));
}

static int parse_line(struct ledger *l, char *line) {
        char *fields[64];
        size_t nf = 0;
        for (char *save = NULL, *t = strtok_r(line, "\t", &save); t && nf < ELEMENTSOF(fields);
             t = strtok_r(NULL, "\t", &save))
                fields[nf++] = t;
        if (nf < 4 || strcmp(fields[0], "E") != 0)
                return -EBADMSG;
        for (size_t i = 1; i < 4; i++)
                if (unescape(fields[i]) < 0)
                        return -EBADMSG;
        enum kind k = kind_from_string(fields[2]);
        if ((int) k < 0)
                return -EBADMSG;
        struct ledger_entry *e = ledger_add(l, fields[1], k, fields[3]);
        for (size_t i = 4; i < nf; i++) {
                char *eq = strchr(fields[i], '=');
                if (!eq)
                        return -EBADMSG;
                *eq = '\0';
                if (unescape(fields[i]) < 0 || unescape(eq + 1) < 0)
                        return -EBADMSG;
                if (strcmp(fields[i], RETIRED) == 0)
                        e->gone = true;
                else
                        ledger_set(l, e, fields[i], eq + 1);
        }
        return 0;
}

int ledger_load(struct ledger *l, const char *state_dir) {
        memset(l, 0, sizeof(*l));
        l->path = xasprintf("%s/ledger", state_dir);
        FILE *f = fopen(l->path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0; /* a first run: nothing owned yet */
                return diag_plain(-errno, "%s: cannot read the ledger: %s", l->path, strerror(errno));
        }
        char *line = NULL;
        size_t cap = 0, count = 0, lineno = 0;
        ssize_t len;
        int r = 0;
        bool ended = false;
        while ((len = getline(&line, &cap, f)) >= 0) {
                lineno++;
                if (len == 0 || line[len - 1] != '\n') {
                        r = -EBADMSG; /* torn write: the last line has no end */
                        break;
                }
                line[len - 1] = '\0';
                if (lineno == 1) {
                        if (strcmp(line, LEDGER_MAGIC) != 0) {
                                r = -EBADMSG;
                                break;
                        }
                        continue;
                }
                if (ended) {
                        r = -EBADMSG;
                        break;
                }
                unsigned long n;
                char tail;
                if (sscanf(line, "end %lu%c", &n, &tail) == 1) {
                        if (n != count) {
                                r = -EBADMSG;
                                break;
                        }
                        ended = true;
                        continue;
                }
                r = parse_line(l, line);
                if (r < 0)
                        break;
                count++;
        }
        free(line);
        fclose(f);
        if (r >= 0 && !ended)
                r = -EBADMSG; /* empty or truncated: never read that as "owns nothing" */
        if (r < 0) {
                char *path = xstrdup(l->path);
                ledger_done(l);
                l->path = path;
                return diag_plain(r, "%s: the ledger is damaged (line %zu); refusing to guess what reconcile owns. "
                                     "Restore it from a backup, or move it aside to start over (reconcile then "
                                     "adopts what the manifests name)",
                                  path, lineno);
        }
        l->dirty = false;
        return 0;
}

int ledger_save(struct ledger *l) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return diag_plain(-errno, "%s: cannot write the ledger: %s", l->path, strerror(errno));
        size_t count = 0;
        fprintf(f, "%s\n", LEDGER_MAGIC);
        for (size_t i = 0; i < l->n; i++) {
                struct ledger_entry *e = &l->v[i];
                if (e->gone && !e->n_attrs)
                        continue;
                fputs("E\t", f);
                put_escaped(f, e->scope);
                fputc('\t', f);
                put_escaped(f, kind_to_string(e->kind));
                fputc('\t', f);
                put_escaped(f, e->name);
                if (e->gone)
                        fputs("\t" RETIRED "=1", f);
                for (size_t j = 0; j < e->n_attrs; j++) {
                        fputc('\t', f);
                        put_escaped(f, e->attrs[j].key);
                        fputc('=', f);
                        put_escaped(f, e->attrs[j].value);
                }
                fputc('\n', f);
                count++;
        }
        fprintf(f, "end %zu\n", count);
        int r = fclose(f) != 0 ? -errno : 0;
        if (r == 0)
                r = file_write_atomic(l->path, buf, len, "the ledger");
        else
                diag_plain(r, "%s: cannot write the ledger: %s", l->path, strerror(-r));
        free(buf);
        if (r < 0)
                return r;
        l->dirty = false;
        return 0;
}
