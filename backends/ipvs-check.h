/* Health checks of IPVS real servers, as keepalived's checker does them, in
 * the daemon's event loop: non-blocking connects and HTTP on an epoll set of
 * its own, whose fd the daemon polls, scheduled on a timing wheel; exec
 * checks in a bounded pool of children. One check runs per (type, address,
 * port, path) whoever names it. Each check's state (up or down, since when,
 * the last result) is kept in STATE_DIR/checks, which the ipvs backend's
 * diff reads; the backend's work_status puts it in `reconcile status`. A
 * check with no result for interval + timeout + 2 s is logged as stuck and
 * started over. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../reconcile/reconcile.h"

enum check_type { CHECK_TCP, CHECK_HTTP, CHECK_HTTPS, CHECK_EXEC, _CHECK_TYPE_MAX, _CHECK_TYPE_INVALID = -1 };
enum check_failure { CHECK_QUIESCE, CHECK_REMOVE, _CHECK_FAILURE_MAX, _CHECK_FAILURE_INVALID = -1 };
extern const struct enum_table check_type_table, check_failure_table;

#define CHECK_INTERVAL_DEFAULT 5
#define CHECK_TIMEOUT_DEFAULT 3
#define CHECK_RISE_DEFAULT 2
#define CHECK_FALL_DEFAULT 3
#define CHECK_EXPECT_DEFAULT "200-299"

/* The longest strings a check takes, in bytes: the request line and the exec
 * command are composed in buffers of these sizes. */
#define CHECK_PATH_MAX 127
#define CHECK_HOST_MAX 63
#define CHECK_EXPECT_MAX 31
#define CHECK_REGEX_MAX 127
#define CHECK_COMMAND_MAX 191

/* Fill the unset fields of c with the defaults; 0, or -EINVAL with the reason in err. */
int check_spec_complete(struct check_spec *c, char *err, size_t err_size);
/* A spec's strings are its own: copy, compare and hash them by content (a
 * NULL string is the empty one), and free them with check_spec_done, which
 * leaves c unset and may run twice. */
void check_spec_copy(struct check_spec *dst, const struct check_spec *src);
bool check_spec_equal(const struct check_spec *a, const struct check_spec *b);
uint64_t check_spec_hash(uint64_t h, const struct check_spec *c);
void check_spec_done(struct check_spec *c);
/* The check a real of svc runs (its own, else the service's): false when
 * none. *out borrows the spec's strings: valid while svc is. */
bool check_of_real(const struct service_spec *svc, const struct real_spec *rs, struct check_spec *out);
/* The check's identity, "http 10.0.0.1:80/health": equal keys run once. */
const char *check_key(const struct check_spec *c, const struct ipaddr *addr, uint32_t real_port, char *buf,
                      size_t size);

/* Whether an HTTP status is in an expect list: "200-299", "200,301-302". */
bool check_expect_match(const char *expect, int status);
bool check_expect_valid(const char *expect);
/* The status code of an HTTP response's first line; -EAGAIN while the line
 * is incomplete, -EPROTO when it is no HTTP status line. */
int check_http_status(const char *buf, size_t len);

/* One check's state: a pass or fail moves it by rise and fall. */
struct check_state {
        bool up;
        unsigned passes, fails; /* in a row, of the current result */
        time_t since;           /* of up or down */
        char result[96];        /* the last result: "ok", "connection refused", "HTTP 503" */
        unsigned restarts;      /* times the watchdog found it stuck and started it over */
};
/* The first state of a check: down until its first passes with alpha, else up. */
void check_state_init(struct check_state *s, const struct check_spec *c, time_t now);
/* Count one result; true when it turned the check up or down. */
bool check_state_step(struct check_state *s, const struct check_spec *c, bool pass, const char *result, time_t now);
/* The results in a row toward the other state: failures of an up check, passes of a down one. */
unsigned check_state_toward(const struct check_state *s);

/* ---- the state file: the read API for the diff and `reconcile status` ---- */

struct check_status {
        char key[200]; /* check_key */
        struct check_state state;
};
/* Every check in STATE_DIR/checks (none when the file is missing); *v is the caller's to free. */
int check_status_load(const char *state_dir, struct check_status **v, size_t *n);
const struct check_status *check_status_find(const struct check_status *v, size_t n, const char *key);
int check_status_save(const char *state_dir, const struct check_status *v, size_t n);

/* ---- the engine ---- */

struct checker;
/* Checks restore their state from state_dir's file and connect from netns
 * (a name under /run/netns or a path; NULL: the caller's namespace). */
int checker_new(const char *state_dir, const char *netns, struct checker **out);
void checker_free(struct checker *c);
/* Run the checks the services of want name, no other: new ones start, gone
 * ones stop. > 0 when a new check starts down (alpha): a run should drain it. */
int checker_sync(struct checker *c, const struct model *want);
size_t checker_count(const struct checker *c);
/* The fd the daemon polls for readability, then calls checker_dispatch. */
int checker_fd(const struct checker *c);
/* Handle what is ready; > 0 when a check turned up or down (its state saved). */
int checker_dispatch(struct checker *c);
/* True, at most once a SHOWN_EVERY_MS (1 s) of now_ms (CLOCK_MONOTONIC), when a
 * check's status row (up or down, result, check_state_toward) changed since
 * the last true: the daemon then rewrites the rows between runs. */
bool checker_status_due(struct checker *c, uint64_t now_ms);
/* The state of a check by its key, NULL when the checker runs none such. */
const struct check_state *checker_state(const struct checker *c, const char *key);
/* Each check the checker runs, by key order. */
void checker_each(const struct checker *c, void (*fn)(void *u, const char *key, const struct check_state *s), void *u);
/* Start over the checks with no result for interval + timeout + 2 s at
 * now_ms (CLOCK_MONOTONIC, ms), each logged once; how many. Each tick runs
 * it once a second; a test passes a later clock. */
size_t checker_watchdog(struct checker *c, uint64_t now_ms);
