/* The parser's long-list path (parsers/manifest.c, runs): a manifest read
 * with its runs of "- WORD" lines taken straight from the text gives the
 * same model and the same errors, at the same positions, as libyaml reading
 * it all. The reference is the same text with CRLF line breaks: libyaml
 * reads it alike (same lines, columns and scalars), and no run is found in
 * it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../parsers/parsers.h"

struct outcome {
        char *errors;
        char *model; /* every ipset's and bridge's list, one line each */
        struct manifest_set set;
};

static void list_text(FILE *f, const char *what, const struct str_list *l) {
        fprintf(f, "%s:", what);
        for (size_t i = 0; i < l->n; i++)
                fprintf(f, " %s", l->v[i]);
        fputc('\n', f);
}

static struct outcome parse(const char *text) {
        struct outcome o = { 0 };
        size_t elen = 0, mlen = 0;
        FILE *e = open_memstream(&o.errors, &elen);
        diag_set_stream(e);
        diag_reset();
        struct manifest_set set = { 0 };
        manifest_parse_buffer(&set, "m.yaml", text, strlen(text), "kvm1");
        manifests_validate(&set);
        diag_set_stream(NULL);
        fclose(e);
        FILE *m = open_memstream(&o.model, &mlen);
        for (size_t i = 0; i < set.model.n; i++) {
                const struct resource *r = set.model.v[i];
                fprintf(m, "%s %s\n", kind_ops(r->kind)->word, r->name);
                if (strcmp(kind_ops(r->kind)->word, "ipset") == 0)
                        list_text(m, "entries", &r->ipset.entries);
                else if (strcmp(kind_ops(r->kind)->word, "bridge") == 0)
                        list_text(m, "interfaces", &r->link.interfaces);
        }
        fclose(m);
        o.set = set;
        return o;
}

static char *crlf(const char *text) {
        char *out = malloc(strlen(text) * 2 + 1), *p = out;
        for (; *text; text++) {
                if (*text == '\n')
                        *p++ = '\r';
                *p++ = *text;
        }
        *p = '\0';
        return out;
}

/* Parses text both ways; both outcomes must be equal. Returns the errors. */
static char *same_both_ways(const char *text) {
        char *ref_text = crlf(text);
        struct outcome fast = parse(text), ref = parse(ref_text);
        if (strcmp(fast.errors, ref.errors) != 0)
                fail_msg("errors differ:\n-- runs:\n%s-- as written:\n%s", fast.errors, ref.errors);
        if (strcmp(fast.model, ref.model) != 0)
                fail_msg("models differ:\n-- runs:\n%s-- as written:\n%s", fast.model, ref.model);
        /* Every field of every resource, through the kind tables. */
        assert_int_equal(fast.set.model.n, ref.set.model.n);
        for (size_t i = 0; i < fast.set.model.n; i++)
                if (!resource_equal(fast.set.model.v[i], ref.set.model.v[i]))
                        fail_msg("%s differs", fast.set.model.v[i]->name);
        manifests_done(&fast.set);
        manifests_done(&ref.set);
        free(ref_text);
        free(ref.errors);
        free(ref.model);
        free(fast.model);
        return fast.errors;
}

/* "      - 10.0.0.I" for I in from..to, each line with prefix before it. */
static void entries(char *buf, size_t size, const char *indent, unsigned from, unsigned to) {
        size_t n = strlen(buf);
        for (unsigned i = from; i <= to; i++)
                n += (size_t) snprintf(buf + n, size - n, "%s- 10.0.%u.%u\n", indent, i / 200, i % 200 + 1);
}

static void test_runs_read_as_written(void **state) {
        (void) state;
        char y[16384] = "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n";
        entries(y, sizeof(y), "      ", 0, 40);
        strcat(y, "      - \"10.9.9.9\"\n");
        entries(y, sizeof(y), "      ", 41, 60);
        strcat(y, "  small:\n    type: hash:ip\n    entries:\n    - 10.1.0.1\n");
        entries(y, sizeof(y), "    ", 300, 320);
        char *errors = same_both_ways(y);
        assert_string_equal(errors, "");
        free(errors);
}

/* Errors inside a run, after it (lines shifted by the collapse) and a
 * duplicate across the run and the rest of the list. */
static void test_errors_at_their_lines(void **state) {
        (void) state;
        char y[16384] = "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n";
        entries(y, sizeof(y), "      ", 0, 20);                      /* lines 6-26 */
        strcat(y, "      - 10.0.0.010\n");                        /* line 27: not canonical */
        entries(y, sizeof(y), "      ", 21, 40);                     /* lines 28-47 */
        char *errors = same_both_ways(y); /* the kind's check, after the parse */
        if (!strstr(errors, "m.yaml:27:9:"))
                fail_msg("positions:\n%s", errors);
        free(errors);
        strcat(y, "      - 10.0.0.5\n");                          /* line 48: listed twice */
        strcat(y, "    colour: blue\n");                          /* line 49 */
        errors = same_both_ways(y);
        if (!strstr(errors, "m.yaml:48:9:") || !strstr(errors, "m.yaml:49:5:"))
                fail_msg("positions:\n%s", errors);
        free(errors);
        /* Bridge ports: an interface name too long inside a run, and the bridge itself. */
        char b[8192] = "version: 1\nbridges:\n  br0:\n    interfaces:\n";
        for (int i = 0; i < 12; i++)
                snprintf(b + strlen(b), sizeof(b) - strlen(b), "      - %s\n", i == 5 ? "averyveryverylongname0" : i == 7 ? "br0" : "eth1x");
        for (int i = 0; i < 12; i++)
                snprintf(b + strlen(b), sizeof(b) - strlen(b), "      - p%d\n", i);
        errors = same_both_ways(b);
        if (!strstr(errors, "m.yaml:10:9:") || !strstr(errors, "m.yaml:12:9:"))
                fail_msg("positions:\n%s", errors);
        free(errors);
}

/* libyaml counts a lone CR, NEL, LS and PS as line breaks too, in comments
 * and quoted scalars: the runs' line numbers would fall behind by one each. */
static void test_other_line_breaks(void **state) {
        (void) state;
        static const char *const breaks[] = { "\r", "\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9" };
        for (size_t k = 0; k < sizeof(breaks) / sizeof(*breaks); k++) {
                char y[16384];
                snprintf(y, sizeof(y), "version: 1\nipsets:\n  big:\n    type: \"hash:ip%sx\"\n    entries:\n", breaks[k]);
                entries(y, sizeof(y), "      ", 0, 20);
                strcat(y, "      - 10.0.0.5\n"); /* listed twice */
                char *errors = same_both_ways(y);
                if (!strstr(errors, "m.yaml:28:9: error: entries: 10.0.0.5 listed twice"))
                        fail_msg("break %zu: %s", k, errors);
                free(errors);
        }
}

/* Where the lines are not list items: a block scalar, a plain scalar's
 * continuation, a flow collection, an anchored list and its alias, a deeper
 * line that continues the last item, a list under another host. */
static void test_not_items(void **state) {
        (void) state;
        static const char *heads[] = {
                "version: 1\nipsets:\n  big:\n    type: |\n",
                "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries: first\n",
                "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries: [\n",
                "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries: &all\n",
                "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n",
                "version: 1\nhost: other\nipsets:\n  big:\n    type: hash:ip\n    entries:\n",
                "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n      - 10.0.0.1\n      - 10.0.0.1\n",
        };
        static const char *tails[] = {
                "    entries: []\n",
                "",
                "    ]\n",
                "  copy:\n    type: hash:ip\n    entries: *all\n",
                "        more\n",
                "",
                "",
        };
        for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
                char y[16384];
                snprintf(y, sizeof(y), "%s", heads[i]);
                entries(y, sizeof(y), "      ", 10, 40);
                strcat(y, tails[i]);
                free(same_both_ways(y));
        }
        /* An item that ends in ':' is a mapping (found by a differential fuzzer). */
        char y[16384] = "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n";
        entries(y, sizeof(y), "      ", 10, 20);
        strcat(y, "      - 10.0.0,.:\n");
        entries(y, sizeof(y), "      ", 21, 40);
        char *errors = same_both_ways(y);
        assert_non_null(strstr(errors, "m.yaml:17:9: error: entries: expected a string"));
        free(errors);
}

/* A text that holds the placeholder's own words is read as written. */
static void test_magic_in_text(void **state) {
        (void) state;
        char y[16384] = "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n      - rct-collapsed-list-0\n";
        entries(y, sizeof(y), "      ", 0, 30);
        char *errors = same_both_ways(y);
        assert_non_null(strstr(errors, "m.yaml:6:9:"));
        free(errors);
}

/* IPVS services with their reals as flow mappings, one a line, as written
 * by bench/guest/ipvs.sh; errors inside them; lines that only look alike. */
static void test_mapping_lines(void **state) {
        (void) state;
        char y[32768] = "version: 1\nservices:\n";
        for (int i = 1; i <= 12; i++) {
                snprintf(y + strlen(y), sizeof(y) - strlen(y),
                         "  s%d: { protocol: tcp, address: 172.16.0.%d, port: 80, scheduler: wlc, reals: [\n", i, i);
                for (int j = 1; j <= 5; j++)
                        snprintf(y + strlen(y), sizeof(y) - strlen(y), "    { address: 192.168.%d.%d, port: 8080, weight: %d },\n",
                                 j, i, j);
                strcat(y, "  ] }\n");
        }
        char *errors = same_both_ways(y);
        assert_string_equal(errors, "");
        free(errors);
        /* An unknown key, a bad weight and a duplicate real inside the lines. */
        char e[4096] = "version: 1\nservices:\n  web: { protocol: tcp, address: 172.16.0.1, port: 80, reals: [\n"
                       "    { address: 192.168.1.1, port: 8080, weight: 1 },\n"
                       "    { address: 192.168.1.2, port: 8080, colour: 1 },\n"
                       "    { address: 192.168.1.3, port: 8080, weight: heavy },\n"
                       "    { address: 192.168.1.1, port: 8080, weight: 1 },\n"
                       "    { address: 192.168.1.4, port: 8080, weight: 1, weight: 2 },\n"
                       "  ] }\n";
        errors = same_both_ways(e);
        if (!strstr(errors, "m.yaml:5:") || !strstr(errors, "m.yaml:6:") || !strstr(errors, "m.yaml:8:"))
                fail_msg("positions:\n%s", errors);
        free(errors);
        /* The same lines where they are not items of a flow list: a block
         * list, a flow mapping's keys, a block scalar, deeper than allowed. */
        static const char *texts[] = {
                "version: 1\nservices:\n  web:\n    protocol: tcp\n    reals:\n    { address: 192.168.1.1, port: 8080 },\n",
                "version: 1\nservices:\n  web: { protocol: tcp, reals:\n    { address: 192.168.1.1, port: 8080 },\n  }\n",
                "version: 1\nservices:\n  web:\n    protocol: |\n    { address: 192.168.1.1, port: 8080 },\n",
                "version: 1\nx: &a [\n    { address: 192.168.1.1, port: 8080 },\n  ]\nservices: *a\n",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
                free(same_both_ways(texts[i]));
}

/* Duplicate keys, in a short mapping (compared in a row) and in a long one
 * (hashed past 16 keys), reported with both places. */
static void test_duplicate_keys(void **state) {
        (void) state;
        char y[8192] = "version: 1\nbridges:\n";
        for (int i = 0; i < 20; i++)
                snprintf(y + strlen(y), sizeof(y) - strlen(y), "  br%d: { mtu: 1500, stp: false, mtu: 9000 }\n", i);
        char *errors = same_both_ways(y);
        if (!strstr(errors, "m.yaml:3:33: error: duplicate key \"mtu\"") || !strstr(errors, "(first at 3:10)"))
                fail_msg("duplicates:\n%s", errors);
        free(errors);
        char t[4096] = "version: 1\n";
        for (int i = 0; i < 20; i++)
                snprintf(t + strlen(t), sizeof(t) - strlen(t), "x%d: 1\n", i);
        strcat(t, "x3: 2\n");
        errors = same_both_ways(t);
        if (!strstr(errors, "m.yaml:22:1: error: duplicate key \"x3\" (first at 5:1)"))
                fail_msg("duplicates:\n%s", errors);
        free(errors);
}

/* Every parsed entry of a set lies in its one block (entry_block), one after
 * another in the list's order, whether a run or libyaml gave it (the CRLF
 * text: no runs, the block grown item by item and moved as it grows). */
static void assert_in_one_block(const struct resource *r) {
        const struct ipset_spec *v = &r->ipset;
        assert_non_null(v->entry_block);
        const char *at = v->entry_block;
        for (size_t i = 0; i < v->entries.n; i++) {
                if (v->entries.v[i] != at)
                        fail_msg("%s: entry %zu (%s) is not where the one before it ends", r->name, i, v->entries.v[i]);
                at += strlen(at) + 1;
        }
}

static void test_entries_in_one_block(void **state) {
        (void) state;
        char y[32768] = "version: 1\nipsets:\n  big:\n    type: hash:ip\n    entries:\n";
        entries(y, sizeof(y), "      ", 0, 300);
        strcat(y, "      - \"10.9.9.9\"\n");
        entries(y, sizeof(y), "      ", 301, 600);
        strcat(y, "  flow:\n    type: hash:ip\n    entries: [10.1.0.1, \"10.1.0.2\", 10.1.0.3]\n");
        char *as_written = crlf(y);
        const char *texts[] = { y, as_written };
        for (size_t t = 0; t < 2; t++) {
                struct outcome o = parse(texts[t]);
                assert_string_equal(o.errors, "");
                const struct resource *big = model_find(&o.set.model, KIND_IPSET, "big");
                const struct resource *flow = model_find(&o.set.model, KIND_IPSET, "flow");
                assert_non_null(big);
                assert_non_null(flow);
                assert_int_equal(big->ipset.entries.n, 602);
                assert_string_equal(big->ipset.entries.v[0], "10.0.0.1");
                assert_string_equal(big->ipset.entries.v[301], "10.9.9.9");
                assert_string_equal(big->ipset.entries.v[601], "10.0.3.1");
                assert_in_one_block(big);
                assert_int_equal(flow->ipset.entries.n, 3);
                assert_string_equal(flow->ipset.entries.v[1], "10.1.0.2");
                assert_in_one_block(flow);
                manifests_done(&o.set);
                free(o.errors);
                free(o.model);
        }
        free(as_written);
}

/* A set's duplicates: found by the ipset check among its numbers, or, where
 * the check does not look (an error before it, an entry that is not one
 * address, a set to be absent), by the parser after it; each reported once,
 * at its second place, in the parser's words. */
static void test_duplicates_found_once(void **state) {
        (void) state;
        static const struct {
                const char *head, *dup, *want;
        } cases[] = {
                /* the check's numbers */
                { "    type: hash:ip\n", "      - 10.0.0.7\n", "m.yaml:27:9: error: entries: 10.0.0.7 listed twice\n" },
                { "    type: hash:net\n", "      - 10.0.0.7\n", "m.yaml:27:9: error: entries: 10.0.0.7 listed twice\n" },
                /* the check stops before the entries: the parser looks */
                { "    type: hash:ip\n    hashsize: 100\n", "      - 10.0.0.7\n",
                  "m.yaml:5:15: error: ipset big: the kernel rounds hashsize up to a power of two: write 128\n"
                  "m.yaml:28:9: error: entries: 10.0.0.7 listed twice\n" },
                /* not numbers: the check gives up its table, the parser looks (after
                 * the check's errors: the one order that differs from a parser
                 * that found them while it read the list) */
                { "    type: hash:ip\n", "      - 10.0.0.7\n      - 10.0.0.07\n",
                  "m.yaml:28:9: error: ipset big: entry \"10.0.0.07\" is not a single address (names are never resolved)\n"
                  "m.yaml:27:9: error: entries: 10.0.0.7 listed twice\n" },
                /* no check for an absent set */
                { "    type: hash:ip\n    state: absent\n", "      - 10.0.0.7\n", "m.yaml:28:9: error: entries: 10.0.0.7 listed twice\n" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                char y[16384];
                snprintf(y, sizeof(y), "version: 1\nipsets:\n  big:\n%s    entries:\n", cases[i].head);
                entries(y, sizeof(y), "      ", 0, 20); /* 10.0.0.7 is the 7th */
                strcat(y, cases[i].dup);
                entries(y, sizeof(y), "      ", 21, 30);
                char *errors = same_both_ways(y);
                if (strcmp(errors, cases[i].want) != 0)
                        fail_msg("case %zu:\n%s-- wanted:\n%s", i, errors, cases[i].want);
                free(errors);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_runs_read_as_written),
                cmocka_unit_test(test_errors_at_their_lines),
                cmocka_unit_test(test_other_line_breaks),
                cmocka_unit_test(test_not_items),
                cmocka_unit_test(test_magic_in_text),
                cmocka_unit_test(test_mapping_lines),
                cmocka_unit_test(test_duplicate_keys),
                cmocka_unit_test(test_entries_in_one_block),
                cmocka_unit_test(test_duplicates_found_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
