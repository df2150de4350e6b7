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

/* Fields are separated by tabs; '%', tab, newline and '=' in a field are %XX-escaped
 * (record_unescape reverses it, as for the checkpoint's records). */
static void put_escaped(FILE *f, const char *s) {
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p == '%' || *p == '\t' || *p == '\n' || *p == '=' || *p < 0x20)
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
}

static uint64_t entry_hash(const char *scope, enum kind k, const char *name) {
        uint64_t h = hash_fnv1a_str(HASH_FNV1A_SEED ^ (uint64_t) k, scope);
        h = hash_fnv1a(h, "\xff", 1);
        return hash_fnv1a_str(h, name);
}

static uint64_t ledger_hash(size_t pos, const void *u) {
        const struct ledger *l = u;
        return entry_hash(l->v[pos].scope, l->v[pos].kind, l->v[pos].name);
}

struct entry_key {
        const struct ledger *l;
        const char *scope;
        enum kind k;
        const char *name;
};

static bool entry_eq(size_t pos, const void *u) {
        const struct entry_key *q = u;
        const struct ledger_entry *e = &q->l->v[pos];
        return e->kind == q->k && strcmp(e->name, q->name) == 0 && strcmp(e->scope, q->scope) == 0;
}

/* l->index finds entries by key; entries never move out. */
static struct ledger_entry *find_any(struct ledger *l, const char *scope, enum kind k, const char *name) {
        struct entry_key q = { l, scope, k, name };
        size_t pos = hindex_find(&l->index, entry_hash(scope, k, name), entry_eq, &q);
        return pos == HINDEX_NONE ? NULL : &l->v[pos];
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
        hindex_add(&l->index, l->n, ledger_hash, l);
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

/* A list is its names joined with ','; a comma or a backslash in a name gets a
 * backslash before it. Any other backslash stays as it is: a list written
 * before the escape reads back the same unless a name in it ends in a
 * backslash or holds two in a row. */
void ledger_set_list(struct ledger *l, struct ledger_entry *e, const char *key, const struct str_list *names) {
        if (!names || !names->n) {
                ledger_set(l, e, key, NULL);
                return;
        }
        size_t len = 1;
        for (size_t i = 0; i < names->n; i++)
                len += 2 * strlen(names->v[i]) + 1;
        _cleanup_free_ char *v = xcalloc(1, len);
        char *w = v;
        for (size_t i = 0; i < names->n; i++) {
                if (i)
                        *w++ = ',';
                for (const char *p = names->v[i]; *p; p++) {
                        if (*p == ',' || *p == '\\')
                                *w++ = '\\';
                        *w++ = *p;
                }
        }
        *w = '\0';
        ledger_set(l, e, key, v);
}

/* The name at *pp of a list value, unescaped; *pp moves past it and its ','. */
static char *list_next(const char **pp) {
        const char *p = *pp;
        char *name = xcalloc(1, strlen(p) + 1), *w = name;
        for (; *p && *p != ','; p++) {
                if (*p == '\\' && (p[1] == ',' || p[1] == '\\'))
                        p++;
                *w++ = *p;
        }
        *pp = *p ? p + 1 : p;
        return name;
}

void ledger_get_list(const struct ledger_entry *e, const char *key, struct str_list *out) {
        const char *p = ledger_get(e, key);
        while (p && *p)
                *(char **) array_push(&out->v, &out->n, sizeof(char *)) = list_next(&p);
}

bool ledger_list_contains(const struct ledger_entry *e, const char *key, const char *name) {
        const char *p = ledger_get(e, key);
        while (p && *p) {
                _cleanup_free_ char *n = list_next(&p);
                if (strcmp(n, name) == 0)
                        return true;
        }
        return false;
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
        hindex_done(&l->index);
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
                if (record_unescape(fields[i]) < 0)
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
                if (record_unescape(fields[i]) < 0 || record_unescape(eq + 1) < 0)
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
