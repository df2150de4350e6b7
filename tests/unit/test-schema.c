/* The manifest reference (doc/manifests.md) and the man page (doc/reconcile.8)
 * against the parser's own tables, through manifest_schema_walk: a key added
 * to a field table without a row, or a row for a key the parser does not take,
 * fails here instead of reaching a reader. Run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../parsers/parsers.h"

#define TOP "(top level)" /* the walker's NULL section, the doc's "### Top level" */

struct key {
        char section[32];
        char path[64];
        bool seen;
};

struct keys {
        struct key *v;
        size_t n;
};

static void add_key(struct keys *k, const char *section, const char *path) {
        struct key *e = array_push(&k->v, &k->n, sizeof(*e));
        snprintf(e->section, sizeof(e->section), "%s", section ? section : TOP);
        snprintf(e->path, sizeof(e->path), "%s", path);
}

static void walked(void *u, const char *section, const char *path) {
        add_key(u, section, path);
}

static struct key *find_key(struct keys *k, const char *section, const char *path) {
        for (size_t i = 0; i < k->n; i++)
                if (strcmp(k->v[i].section, section) == 0 && strcmp(k->v[i].path, path) == 0)
                        return &k->v[i];
        return NULL;
}

static char *slurp(const char *path) {
        FILE *f = fopen(path, "r");
        if (!f) {
                print_error("cannot open %s (the test runs from the repository root)\n", path);
                return NULL;
        }
        size_t n = 0, cap = 1 << 16;
        char *buf = malloc(cap);
        assert_non_null(buf);
        for (size_t r; (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
                n += r;
                if (n + 1 == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
        }
        fclose(f);
        buf[n] = '\0';
        return buf;
}

/* The rows of doc/manifests.md: under "### `section`" (or "### Top level"),
 * every line "| `key` | ..." is one key of that section. */
static void doc_rows(char *md, struct keys *rows) {
        char section[32] = "";
        for (char *line = strtok(md, "\n"); line; line = strtok(NULL, "\n")) {
                if (strncmp(line, "### ", 4) == 0) {
                        if (strcmp(line + 4, "Top level") == 0)
                                snprintf(section, sizeof(section), "%s", TOP);
                        else if (sscanf(line + 4, "`%31[^`]`", section) != 1)
                                section[0] = '\0';
                        continue;
                }
                if (strncmp(line, "## ", 3) == 0)
                        section[0] = '\0';
                char path[64];
                if (section[0] && sscanf(line, "| `%63[^`]` |", path) == 1)
                        add_key(rows, section, path);
        }
}

static void test_manifests_md_matches_parser(void **state) {
        (void) state;
        struct keys walk = { 0 }, rows = { 0 };
        manifest_schema_walk(walked, &walk);
        assert_true(walk.n > 100);
        char *md = slurp("doc/manifests.md");
        assert_non_null(md);
        doc_rows(md, &rows);
        int missing = 0, extra = 0;
        for (size_t i = 0; i < rows.n; i++) {
                struct key *k = find_key(&walk, rows.v[i].section, rows.v[i].path);
                if (!k) {
                        print_error("doc/manifests.md: %s: row for `%s`, a key the parser does not take\n",
                                    rows.v[i].section, rows.v[i].path);
                        extra++;
                } else if (k->seen) {
                        print_error("doc/manifests.md: %s: `%s` has two rows\n", rows.v[i].section, rows.v[i].path);
                        extra++;
                } else
                        k->seen = true;
        }
        for (size_t i = 0; i < walk.n; i++)
                if (!walk.v[i].seen) {
                        print_error("doc/manifests.md: %s: no row for `%s`, which the parser takes\n", walk.v[i].section,
                                    walk.v[i].path);
                        missing++;
                }
        free(md);
        free(walk.v);
        free(rows.v);
        assert_int_equal(missing, 0);
        assert_int_equal(extra, 0);
}

/* word occurs in text on its own: not inside a longer key (up in "upper"). */
static bool has_word(const char *text, size_t len, const char *word) {
        size_t wl = strlen(word);
        for (const char *p = text; p + wl <= text + len; p++) {
                if (strncmp(p, word, wl) != 0)
                        continue;
                bool before = p > text && (p[-1] == '-' || p[-1] == '.' || (p[-1] >= 'a' && p[-1] <= 'z'));
                char after = p + wl < text + len ? p[wl] : ' ';
                if (!before && !(after == '-' || (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9')))
                        return true;
        }
        return false;
}

/* The man page's MANIFESTS section holds one ".TP\n.B section" paragraph per
 * section, naming each of its keys (the first part of each key path), and
 * names the top-level keys and state in the section; roff's "\-" counts as "-". */
static void test_man_page_names_every_key(void **state) {
        (void) state;
        struct keys walk = { 0 };
        manifest_schema_walk(walked, &walk);
        char *man = slurp("doc/reconcile.8");
        assert_non_null(man);
        char *w = man;
        for (char *r = man; *r; r++) {
                if (r[0] == '\\' && r[1] == '-')
                        r++;
                *w++ = *r;
        }
        *w = '\0';
        char *start = strstr(man, "\n.SH MANIFESTS\n");
        assert_non_null(start);
        char *end = strstr(start + 1, "\n.SH ");
        assert_non_null(end);
        *end = '\0';
        int missing = 0;
        for (size_t i = 0; i < walk.n; i++) {
                const struct key *k = &walk.v[i];
                char name[64];
                snprintf(name, sizeof(name), "%.*s", (int) strcspn(k->path, ".[*"), k->path);
                if (!name[0])
                        continue; /* sysctls' "*": any net. key */
                const char *para = start;
                size_t len = strlen(start);
                /* Every resource takes state: the section's introduction says so once. */
                if (strcmp(k->section, TOP) != 0 && strcmp(name, "state") != 0) {
                        char head[64];
                        snprintf(head, sizeof(head), "\n.TP\n.B %s\n", k->section);
                        para = strstr(start, head);
                        if (!para) {
                                print_error("doc/reconcile.8: MANIFESTS has no \".TP/.B %s\" paragraph\n", k->section);
                                missing++;
                                continue;
                        }
                        para += strlen(head);
                        const char *next = strstr(para, "\n.TP\n");
                        const char *pp = strstr(para, "\n.PP");
                        if (pp && (!next || pp < next))
                                next = pp;
                        len = next ? (size_t) (next - para) : strlen(para);
                }
                if (!has_word(para, len, name)) {
                        print_error("doc/reconcile.8: %s: key %s is not named\n", k->section, name);
                        missing++;
                }
        }
        free(man);
        free(walk.v);
        assert_int_equal(missing, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifests_md_matches_parser),
                cmocka_unit_test(test_man_page_names_every_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
