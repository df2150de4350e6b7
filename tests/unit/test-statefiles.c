/* The state dir's small files: the atomic writer, escaped records, and the
 * checkpoint's list of adopted resources with names that hold any character. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../reconcile/reconcile.h"

static char dir[64];
static FILE *null_f;

/* Names an interface (no '/', ':' or white space) or an ipset (no white
 * space or '"') may have, and that a comma- or '='-joined format would split. */
static const char *const odd_names[] = {
        "a,b",      "50%",  "%41",   "back\\slash", "k=v",  "=",      ",",  "%",
        "a,b%2C=c", "\\,%", "x;y|z", "[v]{w}",      "é,ü",  "tab\tx", "nl\nx", "del\x7fx",
};

static int setup(void **state) {
        (void) state;
        snprintf(dir, sizeof(dir), "/tmp/rct-state-XXXXXX");
        assert_non_null(mkdtemp(dir));
        null_f = fopen("/dev/null", "w");
        diag_set_stream(null_f);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
        diag_set_stream(NULL);
        fclose(null_f);
        return 0;
}

static void test_escape_round_trip(void **state) {
        (void) state;
        for (size_t i = 0; i < ELEMENTSOF(odd_names); i++) {
                char *e = record_escape(odd_names[i]);
                assert_null(strchr(e, '\n'));
                assert_int_equal(record_unescape(e), 0);
                assert_string_equal(e, odd_names[i]);
                free(e);
        }
        char bad1[] = "50%", bad2[] = "%zz", bad3[] = "%00", plain[] = "a,b=c\\d";
        assert_int_equal(record_unescape(bad1), -EINVAL);
        assert_int_equal(record_unescape(bad2), -EINVAL);
        assert_int_equal(record_unescape(bad3), -EINVAL);
        assert_int_equal(record_unescape(plain), 0);
        assert_string_equal(plain, "a,b=c\\d");
}

struct seen {
        enum kind kinds[64];
        char *names[64];
        size_t n;
};

static void collect(void *u, enum kind k, const char *name) {
        struct seen *s = u;
        assert_true(s->n < ELEMENTSOF(s->names));
        s->kinds[s->n] = k;
        s->names[s->n++] = xstrdup(name);
}

static void seen_done(struct seen *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->names[i]);
        s->n = 0;
}

/* The checkpoint's metadata as written: every odd name comes back as it was, in order. */
static void test_adopted_round_trip(void **state) {
        (void) state;
        char *meta = xstrdup("format=2\npid=1\ndeadline=2\ndigest=0123456789abcdef\nkinds=3\n");
        for (size_t i = 0; i < ELEMENTSOF(odd_names); i++) {
                char *line = checkpoint_adopted_line(i % 2 ? KIND_IPSET : KIND_BRIDGE, odd_names[i]);
                char *more = xasprintf("%s%s", meta, line);
                free(line);
                free(meta);
                meta = more;
        }
        char *more = xasprintf("%send\n", meta);
        free(meta);
        meta = more;

        char path[128];
        snprintf(path, sizeof(path), "%s/checkpoint", dir);
        assert_int_equal(file_write_atomic(path, meta, strlen(meta), NULL), 0);
        char *back = file_read(path);
        assert_non_null(back);
        assert_string_equal(back, meta);

        struct seen s = { .n = 0 };
        assert_int_equal(checkpoint_adopted_each(back, collect, &s), 0);
        assert_int_equal(s.n, ELEMENTSOF(odd_names));
        for (size_t i = 0; i < s.n; i++) {
                assert_int_equal(s.kinds[i], i % 2 ? KIND_IPSET : KIND_BRIDGE);
                assert_string_equal(s.names[i], odd_names[i]);
        }
        seen_done(&s);
        char *digest = record_value(back, "digest", NULL);
        assert_string_equal(digest, "0123456789abcdef");
        free(digest);
        free(back);
        free(meta);
}

/* A checkpoint from before the escaping: one line, names joined by commas. */
static void test_adopted_format_1(void **state) {
        (void) state;
        const char *old = "pid=1\ndeadline=2\ndigest=ab\nkinds=3\nadopted=bridge/br0,ipset/50%,nonsense,nokind/x\nend\n";
        struct seen s = { .n = 0 };
        assert_int_equal(checkpoint_adopted_each(old, collect, &s), 0);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.kinds[0], KIND_BRIDGE);
        assert_string_equal(s.names[0], "br0");
        assert_int_equal(s.kinds[1], KIND_IPSET);
        assert_string_equal(s.names[1], "50%");
        seen_done(&s);
        assert_int_equal(checkpoint_adopted_each("pid=1\nadopted=\nend\n", collect, &s), 0);
        assert_int_equal(s.n, 0);
        /* Format 2 refuses what it did not write. */
        assert_int_equal(checkpoint_adopted_each("format=2\nadopted=bridge/50%\nend\n", collect, &s), -EBADMSG);
        assert_int_equal(checkpoint_adopted_each("format=3\nadopted=bridge/br0\nend\n", collect, &s), -EBADMSG);
        seen_done(&s);
}

/* The writer replaces the file whole, private, and leaves no temp file; a
 * failed write leaves the old file as it was. */
static void test_write_atomic(void **state) {
        (void) state;
        char path[128], tmp[140];
        snprintf(path, sizeof(path), "%s/hold", dir);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        assert_int_equal(file_write_atomic(path, "one\n", 4, NULL), 0);
        assert_int_equal(file_write_atomic(path, "two\n", 4, NULL), 0);
        char *back = file_read(path);
        assert_string_equal(back, "two\n");
        free(back);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_not_equal(access(tmp, F_OK), 0);

        assert_int_equal(mkdir(tmp, 0700), 0);
        assert_true(file_write_atomic(path, "three\n", 6, "the hold") < 0);
        back = file_read(path);
        assert_string_equal(back, "two\n");
        free(back);
        assert_int_equal(rmdir(tmp), 0);
        assert_null(file_read(tmp));
}

static void test_record_value_repeats(void **state) {
        (void) state;
        const char *text = "a=1\nb=2\nkey=x\nkeyx=no\nkey=y\nkey=";
        const char *next = text;
        char *v = record_value(next, "key", &next);
        assert_string_equal(v, "x");
        free(v);
        v = record_value(next, "key", &next);
        assert_string_equal(v, "y");
        free(v);
        v = record_value(next, "key", &next);
        assert_string_equal(v, "");
        free(v);
        assert_null(record_value(next, "key", &next));
        assert_null(next);
}

static void test_release_without_state_dir(void **state) {
        (void) state;
        char missing[128];
        snprintf(missing, sizeof(missing), "%s/none", dir);
        assert_int_equal(hold_release(missing, 0), 0);
        assert_int_not_equal(access(missing, F_OK), 0); /* nothing is created to say so */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_escape_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_adopted_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_adopted_format_1, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_record_value_repeats, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_without_state_dir, setup, teardown),
        };
        return cmocka_run_group_tests_name("statefiles", tests, NULL, NULL);
}
