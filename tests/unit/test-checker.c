/* Health checks: the rise/fall state machine, HTTP answers and expect lists,
 * one check per key whoever names it, the state file, and the engine against
 * real sockets on the loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../parsers/parsers.h"
#include "../../backends/ipvs-check.h"

static char *errs;
static size_t errs_len;
static FILE *errs_f;
static struct manifest_set set;
static char state_dir[64];
static pid_t tls_server; /* test_https_check's openssl s_server, stopped by teardown even after a failure */

static int setup(void **state) {
        (void) state;
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        memset(&set, 0, sizeof(set));
        snprintf(state_dir, sizeof(state_dir), "/tmp/test-checker.XXXXXX");
        assert_non_null(mkdtemp(state_dir));
        return 0;
}

static int teardown(void **state) {
        (void) state;
        manifests_done(&set);
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        if (tls_server > 0) {
                kill(tls_server, SIGTERM);
                waitpid(tls_server, NULL, 0);
                tls_server = 0;
        }
        const char *files[] = { "checks", "checks.tmp", "c.pem", "k.pem", "env-check" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char path[128];
                snprintf(path, sizeof(path), "%s/%s", state_dir, files[i]);
                unlink(path);
        }
        rmdir(state_dir);
        return 0;
}

static const char *parse(const char *yaml) {
        manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        manifests_validate(&set);
        fflush(errs_f);
        return errs ? errs : "";
}

static void test_rise_and_fall(void **state) {
        (void) state;
        struct check_spec c = { .type = CHECK_TCP };
        char err[128];
        assert_int_equal(check_spec_complete(&c, err, sizeof(err)), 0);
        assert_int_equal(c.rise, 2);
        assert_int_equal(c.fall, 3);
        struct check_state s;
        check_state_init(&s, &c, 100);
        assert_true(s.up);
        assert_false(check_state_step(&s, &c, false, "connection refused", 101));
        assert_false(check_state_step(&s, &c, false, "connection refused", 102));
        /* A pass between failures starts the count again. */
        assert_false(check_state_step(&s, &c, true, "connected", 103));
        assert_false(check_state_step(&s, &c, false, "timeout", 104));
        assert_false(check_state_step(&s, &c, false, "timeout", 105));
        assert_true(s.up);
        assert_true(check_state_step(&s, &c, false, "timeout", 106));
        assert_false(s.up);
        assert_int_equal(s.since, 106);
        assert_int_equal(s.fails, 3);
        assert_string_equal(s.result, "timeout");
        assert_false(check_state_step(&s, &c, false, "timeout", 107)); /* down stays down: no second transition */
        assert_false(check_state_step(&s, &c, true, "connected", 108));
        assert_true(check_state_step(&s, &c, true, "connected", 109));
        assert_true(s.up);
        assert_int_equal(s.since, 109);

        struct check_spec alpha = { .type = CHECK_TCP, .alpha = true, .rise = 1 };
        assert_int_equal(check_spec_complete(&alpha, err, sizeof(err)), 0);
        check_state_init(&s, &alpha, 100);
        assert_false(s.up);
        assert_true(check_state_step(&s, &alpha, true, "connected", 101));
}

static void test_tables_round_trip(void **state) {
        (void) state;
        const struct enum_table *tables[] = { &check_type_table, &check_failure_table };
        int sizes[] = { _CHECK_TYPE_MAX, _CHECK_FAILURE_MAX };
        for (size_t t = 0; t < ELEMENTSOF(tables); t++) {
                assert_int_equal(tables[t]->n, sizes[t]);
                for (int i = 0; i < tables[t]->n; i++)
                        assert_int_equal(enum_from_string(tables[t], enum_to_string(tables[t], i)), i);
        }
        assert_string_equal(enum_to_string(&check_type_table, CHECK_HTTPS), "https");
        assert_int_equal(enum_from_string(&check_failure_table, "drain"), -1);
}

static void test_http_status_and_expect(void **state) {
        (void) state;
        const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_int_equal(check_http_status(ok, strlen(ok)), 200);
        assert_int_equal(check_http_status("HTTP/1.0 503 Service Unavailable\r\n", 34), 503);
        assert_int_equal(check_http_status("HTTP/1.0 204\r\n", 14), 204);
        assert_int_equal(check_http_status("HTTP/1.1 20", 11), -EAGAIN);
        assert_int_equal(check_http_status("SSH-2.0-OpenSSH_9.2\r\n", 21), -EPROTO);
        assert_int_equal(check_http_status("HTTP/1.1 2x0 OK\r\n", 17), -EPROTO);
        assert_int_equal(check_http_status("HTTP/1.1 2000 OK\r\n", 18), -EPROTO);

        assert_true(check_expect_match("200-299", 200));
        assert_true(check_expect_match("200-299", 299));
        assert_false(check_expect_match("200-299", 300));
        assert_false(check_expect_match("200-299", 199));
        assert_true(check_expect_match("200,301-302", 302));
        assert_false(check_expect_match("200,301-302", 201));
        assert_true(check_expect_valid("200"));
        assert_true(check_expect_valid("200-299,404"));
        assert_false(check_expect_valid(""));
        assert_false(check_expect_valid("299-200"));
        assert_false(check_expect_valid("20"));
        assert_false(check_expect_valid("200-"));
        assert_false(check_expect_valid("200;301"));
}

static void test_manifest_checks(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nservices:\n"
                                  "  web:\n    address: 192.0.2.10\n    port: 80\n"
                                  "    check: { type: http, path: /health, expect: \"200,204\", interval: 2 }\n"
                                  "    sorry-server: { address: 192.0.2.99, port: 80 }\n"
                                  "    reals:\n"
                                  "      - { address: 192.0.2.11, port: 80 }\n"
                                  "      - { address: 192.0.2.12, port: 80, check: { type: tcp, port: 22, fall: 1 } }\n"),
                            "");
        struct resource *r = model_find(&set.model, KIND_SERVICE, "web");
        assert_non_null(r);
        struct check_spec c;
        char key[200];
        assert_true(check_of_real(&r->service, &r->service.reals[0], &c));
        assert_string_equal(check_key(&c, &r->service.reals[0].address, 80, key, sizeof(key)),
                            "http 192.0.2.11:80/health");
        assert_int_equal(c.interval, 2);
        assert_int_equal(c.timeout, 2); /* at most the interval */
        assert_string_equal(c.expect, "200,204");
        assert_true(check_of_real(&r->service, &r->service.reals[1], &c));
        assert_string_equal(check_key(&c, &r->service.reals[1].address, 80, key, sizeof(key)), "tcp 192.0.2.12:22");
        assert_int_equal(c.fall, 1);
        assert_int_equal(c.rise, 2);
        assert_int_equal(r->service.sorry.weight, 1);
}

static void test_manifest_check_errors(void **state) {
        (void) state;
        const char *bad[] = {
                "    check: { type: http, expect: \"2xx\" }\n",
                "    check: { type: tcp, path: /x }\n",
                "    check: { interval: 2, timeout: 3 }\n",
                "    check: { type: http, regex: \"(\" }\n",
                "    check: { type: https, expect: \"2\" }\n",
                "    check: { type: exec }\n",
                "    check: { type: exec, command: true }\n",
                "    check: { type: tcp, command: /bin/true }\n",
                "    check: { type: ping }\n",
                "    check: { type: http, path: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa }\n",
                "    check: { type: http, host: \"\" }\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                manifests_done(&set);
                memset(&set, 0, sizeof(set));
                fflush(errs_f);
                size_t before = errs_len;
                char *y = xasprintf("version: 1\nservices:\n  web:\n    address: 192.0.2.10\n    port: 80\n%s"
                                    "    reals: [ { address: 192.0.2.11, port: 80 } ]\n",
                                    bad[i]);
                const char *got = parse(y) + before;
                free(y);
                if (!strstr(got, "error"))
                        fail_msg("no error for %s", bad[i]);
        }
}

/* Two services naming the same real with the same check run it once. */
static void test_identical_checks_run_once(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nservices:\n"
                                  "  a: { address: 192.0.2.10, port: 80, check: { type: tcp },\n"
                                  "       reals: [ { address: 127.0.0.1, port: 9 }, { address: 127.0.0.2, port: 9 } ] }\n"
                                  "  b: { address: 192.0.2.10, port: 81, check: { type: tcp, interval: 1 },\n"
                                  "       reals: [ { address: 127.0.0.1, port: 9 } ] }\n"
                                  "  c: { address: 192.0.2.10, port: 82, check: { type: http, port: 9 },\n"
                                  "       reals: [ { address: 127.0.0.1, port: 9 } ] }\n"
                                  "  d: { address: 192.0.2.10, port: 83, reals: [ { address: 127.0.0.3, port: 9 } ] }\n"),
                            "");
        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        /* tcp 127.0.0.1:9 (a and b), tcp 127.0.0.2:9, http 127.0.0.1:9/; d has no check */
        assert_int_equal(checker_count(c), 3);
        assert_non_null(checker_state(c, "tcp 127.0.0.1:9"));
        assert_non_null(checker_state(c, "http 127.0.0.1:9/"));
        assert_null(checker_state(c, "tcp 127.0.0.3:9"));
        /* The same manifests again change nothing; another port is another check, the old one goes. */
        const struct check_state *kept = checker_state(c, "tcp 127.0.0.1:9");
        assert_int_equal(checker_sync(c, &set.model), 0);
        assert_ptr_equal(checker_state(c, "tcp 127.0.0.1:9"), kept);
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        assert_string_equal(parse("version: 1\nservices:\n"
                                  "  a: { address: 192.0.2.10, port: 80, check: { type: tcp },\n"
                                  "       reals: [ { address: 127.0.0.1, port: 9 }, { address: 127.0.0.2, port: 10 } ] }\n"),
                            "");
        assert_int_equal(checker_sync(c, &set.model), 0);
        assert_int_equal(checker_count(c), 2);
        assert_non_null(checker_state(c, "tcp 127.0.0.2:10"));
        assert_null(checker_state(c, "tcp 127.0.0.2:9"));
        assert_null(checker_state(c, "http 127.0.0.1:9/"));
        checker_free(c);
}

/* A spec's strings are its own: specs are equal and hash alike by what the
 * strings say, never by where they are. */
static void test_check_specs_by_content(void **state) {
        (void) state;
        struct check_spec a = { .type = CHECK_HTTP, .interval = 2, .path = xstrdup("/health"),
                                .host = xstrdup("web.example"), .expect = xstrdup("200") };
        struct check_spec b;
        check_spec_copy(&b, &a);
        assert_ptr_not_equal(a.path, b.path);
        assert_true(check_spec_equal(&a, &b));
        assert_true(check_spec_hash(1, &a) == check_spec_hash(1, &b));
        free(b.host);
        b.host = xstrdup("web.example.");
        assert_false(check_spec_equal(&a, &b));
        assert_true(check_spec_hash(1, &a) != check_spec_hash(1, &b));
        /* The same bytes split otherwise between two strings are another check. */
        check_spec_done(&b);
        check_spec_copy(&b, &a);
        free(b.path);
        free(b.host);
        b.path = xstrdup("/healthweb.example");
        b.host = NULL;
        assert_false(check_spec_equal(&a, &b));
        assert_true(check_spec_hash(1, &a) != check_spec_hash(1, &b));
        /* Unset is empty. */
        struct check_spec none = { .type = CHECK_TCP }, empty = { .type = CHECK_TCP, .regex = xstrdup("") };
        assert_true(check_spec_equal(&none, &empty));
        assert_true(check_spec_hash(1, &none) == check_spec_hash(1, &empty));
        check_spec_done(&a);
        check_spec_done(&b);
        check_spec_done(&empty);
        check_spec_done(&empty); /* twice is harmless */
        assert_null(empty.regex);
}

/* The checker keeps a run whose check reads the same in manifests read
 * again (other storage, both alive), and starts it over when a string of it
 * changes without changing its key (the host header). */
static void test_checks_compared_by_content(void **state) {
        (void) state;
        const char *fmt = "version: 1\nservices:\n"
                          "  a: { address: 192.0.2.10, port: 80,\n"
                          "       check: { type: http, path: /health, host: %s, regex: \"^ok\" },\n"
                          "       reals: [ { address: 127.0.0.1, port: 9 } ] }\n";
        char *y = xasprintf(fmt, "web.example");
        assert_string_equal(parse(y), "");
        struct manifest_set again = { 0 }, other = { 0 };
        assert_int_equal(manifest_parse_buffer(&again, "m.yaml", y, strlen(y), "kvm1"), 0);
        assert_int_equal(manifests_validate(&again), 0);
        free(y);
        y = xasprintf(fmt, "web2.example");
        assert_int_equal(manifest_parse_buffer(&other, "m.yaml", y, strlen(y), "kvm1"), 0);
        assert_int_equal(manifests_validate(&other), 0);
        free(y);
        const struct resource *r1 = model_find(&set.model, KIND_SERVICE, "a"),
                              *r2 = model_find(&again.model, KIND_SERVICE, "a");
        assert_non_null(r1);
        assert_non_null(r2);
        assert_ptr_not_equal(r1->service.check.host, r2->service.check.host);

        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        const struct check_state *first = checker_state(c, "http 127.0.0.1:9/health");
        assert_non_null(first);
        assert_int_equal(checker_sync(c, &again.model), 0);
        assert_ptr_equal(checker_state(c, "http 127.0.0.1:9/health"), first);
        assert_int_equal(checker_sync(c, &other.model), 0);
        const struct check_state *changed = checker_state(c, "http 127.0.0.1:9/health");
        assert_non_null(changed);
        assert_ptr_not_equal(changed, first);
        assert_int_equal(checker_count(c), 1);
        checker_free(c);
        manifests_done(&again);
        manifests_done(&other);
}

static int listen_on(uint16_t *port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        *port = ntohs(sa.sin_port);
        return fd;
}

/* A port nothing listens on: bound, never listened, closed. */
static uint16_t closed_port(void) {
        uint16_t port;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
        port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

/* Connections the HTTP listener accepted, answered once their request is in. */
static int clients[16];
static size_t n_clients;

/* Accept and drop on the TCP listener; answer each HTTP request, never blocking the engine. */
static void serve(int tcp_fd, int http_fd, const char *answer) {
        int fd;
        while ((fd = accept4(tcp_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
                close(fd);
        while (n_clients < ELEMENTSOF(clients) && (fd = accept4(http_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
                clients[n_clients++] = fd;
        for (size_t i = 0; i < n_clients;) {
                char req[1024];
                ssize_t n = read(clients[i], req, sizeof(req));
                if (n < 0 && errno == EAGAIN) {
                        i++;
                        continue;
                }
                if (n > 0)
                        assert_int_equal(write(clients[i], answer, strlen(answer)), (ssize_t) strlen(answer));
                close(clients[i]);
                clients[i] = clients[--n_clients];
        }
}

/* Drive the engine and the servers for ms; the number of transitions seen. */
static int drive(struct checker *c, int tcp_fd, int http_fd, const char *answer, int ms) {
        int transitions = 0;
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &t);
                long elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
                if (elapsed >= ms)
                        return transitions;
                struct pollfd p[3 + ELEMENTSOF(clients)] = { { .fd = checker_fd(c), .events = POLLIN },
                                                            { .fd = tcp_fd, .events = POLLIN },
                                                            { .fd = http_fd, .events = POLLIN } };
                for (size_t i = 0; i < n_clients; i++)
                        p[3 + i] = (struct pollfd) { .fd = clients[i], .events = POLLIN };
                poll(p, 3 + n_clients, 50);
                serve(tcp_fd, http_fd, answer);
                transitions += checker_dispatch(c) > 0;
        }
}

static void test_engine_on_loopback(void **state) {
        (void) state;
        uint16_t up_port, http_port;
        int tcp_fd = listen_on(&up_port), http_fd = listen_on(&http_port);
        uint16_t down_port = closed_port(); /* after the listeners: never one of their ports */
        assert_int_equal(fcntl(tcp_fd, F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(fcntl(http_fd, F_SETFL, O_NONBLOCK), 0);
        char *y = xasprintf("version: 1\nservices:\n"
                            "  a: { address: 192.0.2.10, port: 80, check: { type: tcp, interval: 1, fall: 2, rise: 1, warmup: 1 },\n"
                            "       reals: [ { address: 127.0.0.1, port: %u }, { address: 127.0.0.1, port: %u } ] }\n"
                            "  h: { address: 192.0.2.10, port: 81,\n"
                            "       check: { type: http, path: /ok, regex: \"^alive\", interval: 1, fall: 1, rise: 1, warmup: 1 },\n"
                            "       reals: [ { address: 127.0.0.1, port: %u } ] }\n",
                            up_port, down_port, http_port);
        assert_string_equal(parse(y), "");
        free(y);
        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        char up_key[64], down_key[64], http_key[64];
        snprintf(up_key, sizeof(up_key), "tcp 127.0.0.1:%u", up_port);
        snprintf(down_key, sizeof(down_key), "tcp 127.0.0.1:%u", down_port);
        snprintf(http_key, sizeof(http_key), "http 127.0.0.1:%u/ok", http_port);
        /* Warmup 1 s, then two failures 1 s apart: down within 3 s. */
        assert_true(drive(c, tcp_fd, http_fd, "HTTP/1.0 200 OK\r\n\r\nalive and well\n", 3200) >= 1);
        const struct check_state *s = checker_state(c, down_key);
        assert_false(s->up);
        assert_string_equal(s->result, "Connection refused");
        assert_true(checker_state(c, up_key)->up);
        assert_string_equal(checker_state(c, up_key)->result, "connected");
        assert_true(checker_state(c, http_key)->up);
        assert_string_equal(checker_state(c, http_key)->result, "HTTP 200");

        /* The body stops matching: the http check goes down at its next check. */
        drive(c, tcp_fd, http_fd, "HTTP/1.0 200 OK\r\n\r\nbusy\n", 1300);
        assert_false(checker_state(c, http_key)->up);
        assert_string_equal(checker_state(c, http_key)->result, "HTTP 200, the body does not match the regex");
        /* A status outside expect. */
        drive(c, tcp_fd, http_fd, "HTTP/1.0 503 Service Unavailable\r\n\r\nalive\n", 1300);
        assert_string_equal(checker_state(c, http_key)->result, "HTTP 503");
        assert_false(checker_state(c, http_key)->up);
        drive(c, tcp_fd, http_fd, "HTTP/1.0 200 OK\r\n\r\nalive\n", 1300);
        assert_true(checker_state(c, http_key)->up);

        /* The state file names each check: the restarted engine keeps the down real down. */
        struct check_status *v;
        size_t n;
        assert_int_equal(check_status_load(state_dir, &v, &n), 0);
        assert_int_equal(n, 3);
        const struct check_status *saved = check_status_find(v, n, down_key);
        assert_non_null(saved);
        assert_false(saved->state.up);
        assert_string_equal(saved->state.result, "Connection refused");
        free(v);
        checker_free(c);
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        assert_false(checker_state(c, down_key)->up);
        assert_true(checker_state(c, up_key)->up);
        checker_free(c);
        close(tcp_fd);
        close(http_fd);
}

/* `reconcile status` lists each checked real: its check, up or down, since when, the last result. */
static void test_status_rows(void **state) {
        (void) state;
        uint16_t up_port, http_port;
        int tcp_fd = listen_on(&up_port), http_fd = listen_on(&http_port);
        uint16_t down_port = closed_port();
        assert_int_equal(fcntl(tcp_fd, F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(fcntl(http_fd, F_SETFL, O_NONBLOCK), 0);
        char *y = xasprintf("version: 1\nservices:\n"
                            "  web: { address: 192.0.2.10, port: 80, check: { type: tcp, interval: 1, fall: 1, warmup: 1 },\n"
                            "       reals: [ { address: 127.0.0.1, port: %u }, { address: 127.0.0.1, port: %u } ] }\n"
                            "  plain: { address: 192.0.2.10, port: 81, reals: [ { address: 127.0.0.1, port: %u } ] }\n",
                            up_port, down_port, up_port);
        assert_string_equal(parse(y), "");
        free(y);
        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        drive(c, tcp_fd, http_fd, "", 1500);
        const struct backend *b = backend_for_kind(KIND_SERVICE);
        assert_non_null(b->work_status);
        struct status st = { 0 };
        b->work_status(c, &set.model, &st);
        checker_free(c);
        char *json = status_json(&st);
        char *want = xasprintf("\"name\":\"web\",\"status\":\"in-sync\",\"repairs\":0,\"checks\":["
                               "{\"item\":\"real127.0.0.1:%u\",\"check\":\"tcp127.0.0.1:%u\",\"state\":\"up\",\"result\":\"connected\",",
                               up_port, up_port);
        char *flat = xcalloc(1, strlen(json) + 1);
        for (size_t i = 0, k = 0; json[i]; i++) /* spaces and newlines out (the pretty printing's, and the texts') */
                if (json[i] != ' ' && json[i] != '\n')
                        flat[k++] = json[i];
        if (!strstr(flat, want))
                print_message("%s\nnot in\n%s\n", want, flat);
        assert_non_null(strstr(flat, want));
        free(want);
        want = xasprintf("{\"item\":\"real127.0.0.1:%u\",\"check\":\"tcp127.0.0.1:%u\",\"state\":\"down\","
                         "\"result\":\"Connectionrefused\",\"since\":\"",
                         down_port, down_port);
        assert_non_null(strstr(flat, want));
        free(want);
        assert_null(strstr(flat, "\"name\":\"plain\"")); /* no check, no rows */
        free(flat);
        free(json);
        status_done(&st);
        close(tcp_fd);
        close(http_fd);
}

static uint64_t now_ms(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t) t.tv_sec * 1000 + (uint64_t) t.tv_nsec / 1000000;
}

/* A checker over one service with one real listening on loopback, the
 * service's tcp check given by check_keys, after its first pass: the
 * listener, the idle http listener drive() polls, and the check's key. */
static struct checker *one_real_connected(const char *check_keys, int *tcp_fd, int *http_fd, char *key, size_t key_size) {
        uint16_t tcp_port, http_port;
        *tcp_fd = listen_on(&tcp_port);
        *http_fd = listen_on(&http_port);
        assert_int_equal(fcntl(*tcp_fd, F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(fcntl(*http_fd, F_SETFL, O_NONBLOCK), 0);
        char *y = xasprintf("version: 1\nservices:\n"
                            "  web: { address: 192.0.2.10, port: 80, check: { type: tcp, %s },\n"
                            "       reals: [ { address: 127.0.0.1, port: %u } ] }\n",
                            check_keys, tcp_port);
        assert_string_equal(parse(y), "");
        free(y);
        snprintf(key, key_size, "tcp 127.0.0.1:%u", tcp_port);
        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        drive(c, *tcp_fd, *http_fd, "", 1500);
        assert_string_equal(checker_state(c, key)->result, "connected");
        return c;
}

/* keepalived#2523: a check with no result for interval + timeout + 2 s is
 * reported once and started over; a loop held up is said as such, and is no
 * check's fault. */
static void test_stuck_checks(void **state) {
        (void) state;
        int tcp_fd, http_fd;
        char key[64];
        struct checker *c = one_real_connected("interval: 1, timeout: 1, warmup: 1", &tcp_fd, &http_fd, key, sizeof(key));
        uint64_t t = now_ms();
        assert_int_equal(checker_watchdog(c, t), 0);
        assert_int_equal(checker_watchdog(c, t + 2500), 0); /* within 1 + 1 + 2 s of its last result (at most 1.1 s ago) */
        assert_int_equal(checker_watchdog(c, t + 10000), 1);
        assert_int_equal(checker_state(c, key)->restarts, 1);
        fflush(errs_f);
        char *line = xasprintf("health check %s: stuck: no result for", key);
        assert_non_null(strstr(errs, line));
        free(line);
        assert_int_equal(checker_watchdog(c, t + 10000), 0); /* reported once: it starts over from then */
        drive(c, tcp_fd, http_fd, "", 1200);
        assert_string_equal(checker_state(c, key)->result, "connected");
        assert_true(checker_state(c, key)->up);

        /* The daemon's loop held up 2.5 s: said once, and no check is stuck for it. */
        struct timespec pause = { 2, 500000000 };
        nanosleep(&pause, NULL);
        drive(c, tcp_fd, http_fd, "", 300);
        fflush(errs_f);
        assert_non_null(strstr(errs, "health checks: held up"));
        assert_int_equal(checker_watchdog(c, now_ms()), 0);
        assert_int_equal(checker_state(c, key)->restarts, 1);
        checker_free(c);
        close(tcp_fd);
        close(http_fd);
}

/* Issue 19: a result that changes without a transition (a refused connect of
 * a real still up, fall 5) is due for the status rows, at most once a second;
 * a check that keeps passing is never due; the rows are replaced, not added. */
static void test_status_due(void **state) {
        (void) state;
        int tcp_fd, http_fd;
        char key[64];
        struct checker *c = one_real_connected("interval: 1, fall: 5, warmup: 1", &tcp_fd, &http_fd, key, sizeof(key));
        uint64_t t = now_ms();
        assert_true(checker_status_due(c, t));         /* "not checked yet" became "connected" */
        assert_false(checker_status_due(c, t + 5000)); /* nothing new since */
        drive(c, tcp_fd, http_fd, "", 1200);           /* another pass: the row stays as it was */
        assert_false(checker_status_due(c, t + 10000));

        /* The real refuses: still up (fall 5), a new result and a failure toward fall. */
        close(tcp_fd);
        tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); /* drive polls one */
        drive(c, tcp_fd, http_fd, "", 1200);
        const struct check_state *cs = checker_state(c, key);
        assert_true(cs->up);
        assert_string_equal(cs->result, "Connection refused");
        unsigned fails = check_state_toward(cs);
        assert_true(fails >= 1);
        assert_true(checker_status_due(c, t + 20000));
        /* One more failure in a row: due again, not within a second of the last rows. */
        drive(c, tcp_fd, http_fd, "", 1200);
        assert_true(check_state_toward(cs) > fails);
        assert_false(checker_status_due(c, t + 20500));
        assert_true(checker_status_due(c, t + 21000));
        assert_false(checker_status_due(c, t + 30000));

        /* Rows written twice (a run, then a refresh) are one row each. */
        const struct backend *b = backend_for_kind(KIND_SERVICE);
        struct status st = { 0 };
        for (int i = 0; i < 2; i++) {
                status_clear_checks(&st);
                b->work_status(c, &set.model, &st);
        }
        assert_int_equal(st.n_res, 1);
        assert_int_equal(st.res[0].n_checks, 1);
        assert_string_equal(st.res[0].checks[0].result, "Connection refused");
        assert_int_equal(st.res[0].checks[0].toward, check_state_toward(cs));
        char *json = status_json(&st);
        char *want = xasprintf("\"failures\":%u", check_state_toward(cs));
        if (!strstr(json, want))
                print_message("%s\nnot in\n%s\n", want, json);
        assert_non_null(strstr(json, want));
        free(want);
        free(json);
        status_done(&st);
        checker_free(c);
        close(tcp_fd);
        close(http_fd);
}

/* Exec checks: exit 0 passes, anything else fails, past the timeout the child is killed; the real is in the environment. */
static void exec_checks(void) {
        uint16_t tcp_port, http_port;
        int tcp_fd = listen_on(&tcp_port), http_fd = listen_on(&http_port);
        assert_int_equal(fcntl(tcp_fd, F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(fcntl(http_fd, F_SETFL, O_NONBLOCK), 0);
        char script[128];
        snprintf(script, sizeof(script), "%s/env-check", state_dir);
        FILE *f = fopen(script, "w");
        assert_non_null(f);
        fprintf(f, "#!/bin/sh\n[ \"$RECONCILE_REAL_ADDRESS\" = 127.0.0.4 ] && [ \"$RECONCILE_REAL_PORT\" = 84 ]\n");
        fclose(f);
        assert_int_equal(chmod(script, 0700), 0);
        char *y = xasprintf("version: 1\nservices:\n"
                            "  e: { address: 192.0.2.10, port: 80, reals: [\n"
                            "    { address: 127.0.0.1, port: 81, check: { type: exec, command: /bin/true, interval: 1, fall: 1, rise: 1, warmup: 1 } },\n"
                            "    { address: 127.0.0.2, port: 82, check: { type: exec, command: /bin/false, interval: 1, fall: 1, rise: 1, warmup: 1 } },\n"
                            "    { address: 127.0.0.3, port: 83, check: { type: exec, command: /bin/sleep 30, interval: 1, timeout: 1, fall: 1, warmup: 1 } },\n"
                            "    { address: 127.0.0.4, port: 84, check: { type: exec, command: %s, interval: 1, fall: 1, rise: 1, alpha: true, warmup: 1 } },\n"
                            "    { address: 127.0.0.5, port: 85, check: { type: exec, command: %s, interval: 1, fall: 1, rise: 1, warmup: 1 } } ] }\n",
                            script, script);
        assert_string_equal(parse(y), "");
        free(y);
        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 1); /* the alpha check starts down */
        char key[256];
        drive(c, tcp_fd, http_fd, "", 5500); /* rounds to spare on a loaded machine */
        assert_true(checker_state(c, "exec 127.0.0.1:81 /bin/true")->up);
        assert_string_equal(checker_state(c, "exec 127.0.0.1:81 /bin/true")->result, "exit 0");
        assert_false(checker_state(c, "exec 127.0.0.2:82 /bin/false")->up);
        assert_string_equal(checker_state(c, "exec 127.0.0.2:82 /bin/false")->result, "exit 1");
        assert_false(checker_state(c, "exec 127.0.0.3:83 /bin/sleep 30")->up);
        assert_string_equal(checker_state(c, "exec 127.0.0.3:83 /bin/sleep 30")->result, "timeout");
        snprintf(key, sizeof(key), "exec 127.0.0.4:84 %s", script);
        assert_true(checker_state(c, key)->up); /* alpha, then its first pass */
        snprintf(key, sizeof(key), "exec 127.0.0.5:85 %s", script);
        assert_false(checker_state(c, key)->up); /* the other real's environment fails the script */
        checker_free(c);
        /* Every child was reaped: no zombie is left for the daemon. */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        unlink(script);
        close(tcp_fd);
        close(http_fd);
}

static void test_exec_checks(void **state) {
        (void) state;
        exec_checks();
        /* With pidfd_open (not under valgrind 3.19), the pool waits on pidfds, not the polling fallback. */
        int pidfd = (int) syscall(__NR_pidfd_open, getpid(), 0);
        fflush(errs_f);
        if (pidfd >= 0) {
                close(pidfd);
                assert_null(strstr(errs ? errs : "", "no pidfd_open"));
        }
}

/* Where pidfd_open is ENOSYS (kernels before 5.3, valgrind 3.19) the pool
 * polls its children: a seccomp filter makes it so for this process, the
 * last test, since a filter cannot be taken back. */
static void test_exec_checks_without_pidfd(void **state) {
        (void) state;
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pidfd_open, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(filter), .filter = filter };
        assert_int_equal(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_int_equal(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
        assert_int_equal(syscall(__NR_pidfd_open, getpid(), 0), -1);
        assert_int_equal(errno, ENOSYS);
        exec_checks();
        fflush(errs_f);
        assert_non_null(strstr(errs ? errs : "", "no pidfd_open here: exec checks are polled"));
}

/* https against `openssl s_server -www` (a self-signed certificate: checks
 * verify none), and against a listener that speaks no TLS. */
static void test_https_check(void **state) {
        (void) state;
        if (system("command -v openssl >/dev/null") != 0)
                skip();
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 2 -subj /CN=real "
                 ">/dev/null 2>&1",
                 state_dir);
        assert_int_equal(system(cmd), 0);
        uint16_t tcp_port, http_port;
        int tcp_fd = listen_on(&tcp_port), http_fd = listen_on(&http_port);
        uint16_t tls_port = closed_port(); /* after the listeners: never one of their ports */
        assert_int_equal(fcntl(tcp_fd, F_SETFL, O_NONBLOCK), 0);
        assert_int_equal(fcntl(http_fd, F_SETFL, O_NONBLOCK), 0);
        pid_t server = fork();
        assert_true(server >= 0);
        if (server > 0)
                tls_server = server;
        if (server == 0) {
                char accept_at[64], cert[128], key[128];
                snprintf(accept_at, sizeof(accept_at), "127.0.0.1:%u", tls_port);
                snprintf(cert, sizeof(cert), "%s/c.pem", state_dir);
                snprintf(key, sizeof(key), "%s/k.pem", state_dir);
                int null = open("/dev/null", O_RDWR);
                dup2(null, 0), dup2(null, 1), dup2(null, 2);
                execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept_at, "-cert", cert, "-key", key,
                       "-www", (char *) NULL);
                _exit(127);
        }
        /* Until it listens. */
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(tls_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        for (int i = 0; i < 100; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                int r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
                close(fd);
                if (r == 0)
                        break;
                usleep(50000);
        }
        char *y = xasprintf("version: 1\nservices:\n"
                            "  s: { address: 192.0.2.10, port: 443,\n"
                            "       check: { type: https, host: real, regex: \"s_server\", interval: 2, timeout: 2, fall: 1, rise: 1, warmup: 1 },\n"
                            "       reals: [ { address: 127.0.0.1, port: %u }, { address: 127.0.0.1, port: %u } ] }\n",
                            tls_port, tcp_port);
        assert_string_equal(parse(y), "");
        free(y);
        struct checker *c;
        assert_int_equal(checker_new(state_dir, NULL, &c), 0);
        assert_int_equal(checker_sync(c, &set.model), 0);
        /* Two rounds: a handshake slowed by a busy machine gets a second chance. */
        drive(c, tcp_fd, http_fd, "", 4500);
        char key[96];
        snprintf(key, sizeof(key), "https 127.0.0.1:%u/", tls_port);
        const struct check_state *st = checker_state(c, key);
        assert_non_null(st);
        if (!st->up || strcmp(st->result, "HTTP 200") != 0)
                fail_msg("https: %s, %s", st->up ? "up" : "down", st->result);
        snprintf(key, sizeof(key), "https 127.0.0.1:%u/", tcp_port);
        st = checker_state(c, key);
        assert_false(st->up);
        if (strncmp(st->result, "TLS: ", 5) != 0)
                fail_msg("a listener without TLS: %s", st->result);
        checker_free(c);
        close(tcp_fd);
        close(http_fd);
}

/* examples/director: the director's file on a director, the reals' on a real (run from the repository root). */
static void test_director_example_parses(void **state) {
        (void) state;
        const char *files[] = { "examples/director/director.yaml", "examples/director/real.yaml" };
        const char *hosts[] = { "lvs1", "web1" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *text = file_read(files[i]);
                assert_non_null(text);
                manifests_done(&set);
                memset(&set, 0, sizeof(set));
                assert_int_equal(manifest_parse_buffer(&set, files[i], text, strlen(text), hosts[i]), 0);
                manifests_validate(&set);
                fflush(errs_f);
                assert_string_equal(errs ? errs : "", "");
                assert_true(set.model.n > 0);
        }
        struct resource *web = NULL;
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        _cleanup_free_ char *text = file_read(files[0]);
        assert_int_equal(manifest_parse_buffer(&set, files[0], text, strlen(text), "lvs1"), 0);
        web = model_find(&set.model, KIND_SERVICE, "web");
        assert_non_null(web);
        struct check_spec c;
        assert_true(check_of_real(&web->service, &web->service.reals[2], &c));
        assert_true(c.alpha);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rise_and_fall, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tables_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_http_status_and_expect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manifest_checks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manifest_check_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_identical_checks_run_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_check_specs_by_content, setup, teardown),
                cmocka_unit_test_setup_teardown(test_checks_compared_by_content, setup, teardown),
                cmocka_unit_test_setup_teardown(test_engine_on_loopback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_checks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stuck_checks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_rows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_due, setup, teardown),
                cmocka_unit_test_setup_teardown(test_https_check, setup, teardown),
                cmocka_unit_test_setup_teardown(test_director_example_parses, setup, teardown),
                /* Last: it leaves a seccomp filter on the process. */
                cmocka_unit_test_setup_teardown(test_exec_checks_without_pidfd, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
