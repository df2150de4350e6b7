/* Health checks of real servers: the state machine, the HTTP answer, the
 * state file and an epoll engine the daemon polls (backends/ipvs-check.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ipvs-check.h"
#include "gnutls-dl.h"

static const char *const check_type_words[] = { [CHECK_TCP] = "tcp", [CHECK_HTTP] = "http", [CHECK_HTTPS] = "https",
                                                [CHECK_EXEC] = "exec" };
static const char *const check_failure_words[] = { [CHECK_QUIESCE] = "quiesce", [CHECK_REMOVE] = "remove" };
const struct enum_table check_type_table = { "check type", check_type_words, _CHECK_TYPE_MAX };
const struct enum_table check_failure_table = { "on-failure", check_failure_words, _CHECK_FAILURE_MAX };

/* The engine wakes this often to start checks that are due and end those past their timeout. */
#define TICK_MS 100
/* The state file is written at once on a transition, and this often when only results changed. */
#define SAVE_EVERY_MS 5000
/* `reconcile status` shows a result that changed without a transition this late at most:
 * 10,000 checks would otherwise rewrite the status file all the time. */
#define SHOWN_EVERY_MS 1000
#define RESPONSE_MAX 8192
/* At most this many exec checks run at once; the others wait for a tick with room. */
#define EXEC_MAX 32
/* The timing wheel's turn: WHEEL_SLOTS ticks (12.8 s); a check due later waits for its turn. */
#define WHEEL_SLOTS 128
/* A check with no result in interval + timeout + this is stuck: reported and started over. */
#define STUCK_SLACK_MS 2000
/* A tick this late: the daemon's loop was held up (a long run), not the checks. */
#define LAG_MS 2000

/* ---- the check and its state ---- */

bool check_expect_valid(const char *expect) {
        const char *p = expect;
        while (*p) {
                char *end;
                long lo = strtol(p, &end, 10), hi = lo;
                if (end == p || lo < 100 || lo > 999)
                        return false;
                p = end;
                if (*p == '-') {
                        hi = strtol(p + 1, &end, 10);
                        if (end == p + 1 || hi < lo || hi > 999)
                                return false;
                        p = end;
                }
                if (*p == ',')
                        p++;
                else if (*p)
                        return false;
        }
        return *expect != '\0';
}

bool check_expect_match(const char *expect, int status) {
        for (const char *p = expect; *p;) {
                char *end;
                long lo = strtol(p, &end, 10), hi = lo;
                if (end == p)
                        return false;
                p = end;
                if (*p == '-') {
                        hi = strtol(p + 1, &end, 10);
                        p = end;
                }
                if (status >= lo && status <= hi)
                        return true;
                if (*p == ',')
                        p++;
                else if (*p)
                        return false;
        }
        return false;
}

int check_http_status(const char *buf, size_t len) {
        const char *eol = memchr(buf, '\n', len);
        if (!eol)
                return len >= 256 ? -EPROTO : -EAGAIN;
        /* "HTTP/1.x NNN reason" */
        if ((size_t) (eol - buf) < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
                return -EPROTO;
        int status = 0;
        for (int i = 9; i < 12; i++) {
                if (buf[i] < '0' || buf[i] > '9')
                        return -EPROTO;
                status = status * 10 + (buf[i] - '0');
        }
        if (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n')
                return -EPROTO;
        return status;
}

static bool has(const char *s) {
        return s && *s;
}

/* One string of a check within its bound: 0, or -EINVAL with the reason in err. */
static int check_length(const char *what, const char *s, size_t max, char *err, size_t err_size) {
        if (!s || strlen(s) <= max)
                return 0;
        snprintf(err, err_size, "check %s \"%.64s...\" is longer than %zu bytes", what, s, max);
        return -EINVAL;
}

int check_spec_complete(struct check_spec *c, char *err, size_t err_size) {
        const struct {
                const char *what, *s;
                size_t max;
        } bounds[] = { { "path", c->path, CHECK_PATH_MAX },       { "host", c->host, CHECK_HOST_MAX },
                       { "expect", c->expect, CHECK_EXPECT_MAX }, { "regex", c->regex, CHECK_REGEX_MAX },
                       { "command", c->command, CHECK_COMMAND_MAX } };
        for (size_t i = 0; i < ELEMENTSOF(bounds); i++)
                if (check_length(bounds[i].what, bounds[i].s, bounds[i].max, err, err_size) < 0)
                        return -EINVAL;
        if ((c->type == CHECK_EXEC) != has(c->command)) {
                snprintf(err, err_size, has(c->command) ? "check command is for exec checks" : "an exec check needs a command");
                return -EINVAL;
        }
        if (c->type == CHECK_EXEC && c->command[0] != '/') {
                snprintf(err, err_size, "check command \"%s\" does not start with an absolute path", c->command);
                return -EINVAL;
        }
        if (!c->interval)
                c->interval = CHECK_INTERVAL_DEFAULT;
        if (!c->timeout)
                c->timeout = c->interval < CHECK_TIMEOUT_DEFAULT ? c->interval : CHECK_TIMEOUT_DEFAULT;
        if (!c->rise)
                c->rise = CHECK_RISE_DEFAULT;
        if (!c->fall)
                c->fall = CHECK_FALL_DEFAULT;
        if (c->timeout > c->interval) {
                snprintf(err, err_size, "check timeout %u s is longer than its interval %u s", c->timeout, c->interval);
                return -EINVAL;
        }
        if (c->type == CHECK_HTTP || c->type == CHECK_HTTPS) {
                if (!has(c->path)) {
                        free(c->path);
                        c->path = xstrdup("/");
                }
                if (!has(c->expect)) {
                        free(c->expect);
                        c->expect = xstrdup(CHECK_EXPECT_DEFAULT);
                }
                if (c->path[0] != '/' || strpbrk(c->path, " \t")) {
                        snprintf(err, err_size, "check path \"%s\" does not start with / or has a space", c->path);
                        return -EINVAL;
                }
                if (!check_expect_valid(c->expect)) {
                        snprintf(err, err_size, "check expect \"%s\" is not a list of statuses like 200-299,301",
                                 c->expect);
                        return -EINVAL;
                }
                if (has(c->regex)) {
                        regex_t re;
                        if (regcomp(&re, c->regex, REG_EXTENDED | REG_NOSUB) != 0) {
                                snprintf(err, err_size, "check regex \"%s\" is no extended regular expression", c->regex);
                                return -EINVAL;
                        }
                        regfree(&re);
                }
        } else if (has(c->path) || has(c->host) || has(c->expect) || has(c->regex)) {
                snprintf(err, err_size, "check path, host, expect and regex are for http and https checks");
                return -EINVAL;
        }
        return 0;
}

static char *str_copy(const char *s) {
        return s ? xstrdup(s) : NULL;
}

void check_spec_copy(struct check_spec *dst, const struct check_spec *src) {
        *dst = *src;
        dst->path = str_copy(src->path);
        dst->host = str_copy(src->host);
        dst->expect = str_copy(src->expect);
        dst->regex = str_copy(src->regex);
        dst->command = str_copy(src->command);
}

static bool str_same(const char *a, const char *b) {
        return strcmp(a ? a : "", b ? b : "") == 0;
}

bool check_spec_equal(const struct check_spec *a, const struct check_spec *b) {
        return a->type == b->type && a->on_failure == b->on_failure && a->port == b->port &&
               a->interval == b->interval && a->timeout == b->timeout && a->rise == b->rise && a->fall == b->fall &&
               a->warmup == b->warmup && a->alpha == b->alpha && str_same(a->path, b->path) &&
               str_same(a->host, b->host) && str_same(a->expect, b->expect) && str_same(a->regex, b->regex) &&
               str_same(a->command, b->command);
}

static uint64_t mix_word(uint64_t h, uint64_t w) {
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        return h ^ (h >> 29);
}

/* The string's bytes and then its end, so that "ab" + "" and "a" + "b" differ. */
static uint64_t mix_str(uint64_t h, const char *s) {
        uint64_t w = 0;
        size_t k = 0;
        for (const char *p = s ? s : ""; *p; p++) {
                w = w << 8 | (unsigned char) *p;
                if (++k == 8) {
                        h = mix_word(h, w);
                        w = k = 0;
                }
        }
        return mix_word(mix_word(h, w), k | 0x100);
}

uint64_t check_spec_hash(uint64_t h, const struct check_spec *c) {
        const uint32_t words[] = { (uint32_t) c->type, (uint32_t) c->on_failure, c->port, c->interval, c->timeout,
                                   c->rise, c->fall, c->warmup, c->alpha };
        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                h = mix_word(h, words[i]);
        const char *strs[] = { c->path, c->host, c->expect, c->regex, c->command };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                h = mix_str(h, strs[i]);
        return h;
}

void check_spec_done(struct check_spec *c) {
        char **strs[] = { &c->path, &c->host, &c->expect, &c->regex, &c->command };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++) {
                free(*strs[i]);
                *strs[i] = NULL;
        }
}

/* The real's own check, else the service's (completed at parse time: set), else none. */
static const struct check_spec *real_check(const struct service_spec *svc, const struct real_spec *rs) {
        return rs->set & REAL_F_CHECK ? &rs->check : svc->check.interval ? &svc->check : NULL;
}

bool check_of_real(const struct service_spec *svc, const struct real_spec *rs, struct check_spec *out) {
        const struct check_spec *c = real_check(svc, rs);
        if (c)
                *out = *c;
        return c != NULL;
}

const char *check_key(const struct check_spec *c, const struct ipaddr *addr, uint32_t real_port, char *buf,
                      size_t size) {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(addr->family, addr->a, a, sizeof(a));
        uint32_t port = c->port ? c->port : real_port;
        const char *open = addr->family == AF_INET6 ? "[" : "", *close = addr->family == AF_INET6 ? "]" : "";
        snprintf(buf, size, "%s %s%s%s:%u%s%s", check_type_words[c->type], open, a, close, port,
                 c->type == CHECK_HTTP || c->type == CHECK_HTTPS ? (c->path ? c->path : "") : c->type == CHECK_EXEC ? " " : "",
                 c->type == CHECK_EXEC && c->command ? c->command : "");
        return buf;
}

void check_state_init(struct check_state *s, const struct check_spec *c, time_t now) {
        memset(s, 0, sizeof(*s));
        s->up = !c->alpha;
        s->since = now;
        snprintf(s->result, sizeof(s->result), "not checked yet");
}

bool check_state_step(struct check_state *s, const struct check_spec *c, bool pass, const char *result, time_t now) {
        if (strncmp(s->result, result, sizeof(s->result) - 1) != 0) /* most results repeat the last */
                snprintf(s->result, sizeof(s->result), "%s", result);
        if (pass) {
                s->fails = 0;
                s->passes++;
                if (!s->up && s->passes >= c->rise) {
                        s->up = true;
                        s->since = now;
                        return true;
                }
        } else {
                s->passes = 0;
                s->fails++;
                if (s->up && s->fails >= c->fall) {
                        s->up = false;
                        s->since = now;
                        return true;
                }
        }
        return false;
}

unsigned check_state_toward(const struct check_state *s) {
        return s->up ? s->fails : s->passes;
}

/* ---- the state file: one line per check, KEY TAB up|down TAB SINCE TAB
 * PASSES TAB FAILS TAB RESTARTS TAB RESULT (a line of six fields, without
 * RESTARTS, is what the first version wrote) ---- */

static char *status_path(const char *state_dir) {
        return xasprintf("%s/checks", state_dir);
}

static int status_cmp(const void *x, const void *y) {
        return strcmp(((const struct check_status *) x)->key, ((const struct check_status *) y)->key);
}

int check_status_load(const char *state_dir, struct check_status **v, size_t *n) {
        *v = NULL;
        *n = 0;
        if (!state_dir)
                return 0;
        _cleanup_free_ char *path = status_path(state_dir);
        _cleanup_free_ char *text = file_read(path);
        if (!text)
                return errno == ENOENT ? 0 : diag_plain(-errno, "%s: %s", path, strerror(errno));
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *f[7];
                size_t k = 0;
                for (char *p = line; p && k < ELEMENTSOF(f); k++) {
                        f[k] = p;
                        p = strchr(p, '\t');
                        if (p)
                                *p++ = '\0';
                }
                if (k < 6 || strlen(f[0]) >= sizeof((*v)->key))
                        continue; /* a line another version wrote */
                struct check_status *s = array_push(v, n, sizeof(*s));
                memset(s, 0, sizeof(*s));
                snprintf(s->key, sizeof(s->key), "%s", f[0]);
                s->state.up = strcmp(f[1], "up") == 0;
                s->state.since = (time_t) strtoll(f[2], NULL, 10);
                s->state.passes = (unsigned) strtoul(f[3], NULL, 10);
                s->state.fails = (unsigned) strtoul(f[4], NULL, 10);
                s->state.restarts = k == 7 ? (unsigned) strtoul(f[5], NULL, 10) : 0;
                snprintf(s->state.result, sizeof(s->state.result), "%s", f[k - 1]);
        }
        /* Sorted: the diff looks up each real of thousands. */
        if (*n)
                qsort(*v, *n, sizeof(**v), status_cmp);
        return 0;
}

const struct check_status *check_status_find(const struct check_status *v, size_t n, const char *key) {
        struct check_status probe;
        if (!v || snprintf(probe.key, sizeof(probe.key), "%s", key) >= (int) sizeof(probe.key))
                return NULL;
        return bsearch(&probe, v, n, sizeof(*v), status_cmp);
}

static void status_line(FILE *f, const char *key, const struct check_state *s) {
        fprintf(f, "%s\t%s\t%lld\t%u\t%u\t%u\t", key, s->up ? "up" : "down", (long long) s->since, s->passes, s->fails,
                s->restarts);
        for (const char *p = s->result; *p; p++)
                fputc(*p == '\t' || *p == '\n' ? ' ' : *p, f);
        fputc('\n', f);
}

/* Close the memory stream f (which moves its buffer) and write what it holds. */
static int write_status(const char *state_dir, FILE *f, char **buf, size_t *len) {
        fclose(f);
        _cleanup_free_ char *path = status_path(state_dir);
        int r = file_write_atomic(path, *buf, *len, "the health checks' state");
        free(*buf);
        *buf = NULL;
        return r;
}

int check_status_save(const char *state_dir, const struct check_status *v, size_t n) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                status_line(f, v[i].key, &v[i].state);
        return write_status(state_dir, f, &buf, &len);
}

/* ---- the engine ---- */

enum phase { PHASE_IDLE, PHASE_CONNECTING, PHASE_HANDSHAKE, PHASE_SENDING, PHASE_READING, PHASE_RUNNING };
static const char *const phase_words[] = { [PHASE_IDLE] = "waiting to start", [PHASE_CONNECTING] = "connecting",
                                           [PHASE_HANDSHAKE] = "in the TLS handshake", [PHASE_SENDING] = "sending",
                                           [PHASE_READING] = "reading the answer", [PHASE_RUNNING] = "running" };

struct check_run {
        char key[200];
        char *service; /* the first service that declares it, whose name its transitions carry */
        struct check_spec spec;
        struct sockaddr_storage to;
        socklen_t to_len;
        bool has_regex;
        regex_t regex;
        struct check_state state;
        enum phase phase;
        int fd; /* the socket, or an exec check's pidfd (-1 without pidfd_open) */
        pid_t pid;
        gnutls_session_t tls; /* https: the session over fd */
        uint64_t next_ms, deadline_ms;
        uint64_t done_ms; /* the last result (or the first start): the watchdog's reference */
        /* Its place in the wheel: the slot of wake_ms, the next time it has something to do. */
        uint64_t wake_ms;
        struct check_run *wheel_next, **wheel_prev;
        char *response;
        size_t response_len;
};

struct checker {
        char *state_dir;
        int epfd, tick_fd;
        /* --netns: the reals' namespace, where sockets are made, and the daemon's own. */
        int netns_fd, self_fd;
        struct check_run **runs; /* sorted by key */
        size_t n_runs;
        struct check_status *saved; /* the file as the engine found it: restores states */
        size_t n_saved;
        bool dirty, transition;
        /* A timing wheel of TICK_MS slots: a tick visits only the checks due in
         * it, not all of them; wheel_tick is the last tick number visited. */
        struct check_run *wheel[WHEEL_SLOTS];
        uint64_t wheel_tick, tick_ms, watch_ms;
        /* The checks due in this tick, whose sockets are made in one visit to the netns. */
        struct check_run **due;
        size_t n_due, due_size;
        /* The exec checks running, and children killed but not reaped yet. */
        struct check_run *execs[EXEC_MAX];
        size_t n_exec;
        pid_t *reap;
        size_t n_reap;
        bool no_pidfd; /* pidfd_open is ENOSYS (old kernels, valgrind): children are polled each tick */
        /* The checks of the last checker_sync, digested: the same again changes nothing. */
        uint64_t digest;
        bool synced;
        /* https: no certificate is verified (keepalived's SSL_GET neither): a check asks whether the
         * server answers, and a real's certificate is often for the VIP's name. */
        gnutls_certificate_credentials_t tls_creds;
        uint64_t saved_ms;
        /* A result the status rows show changed since they were last asked for, and when that was. */
        bool shown_dirty;
        uint64_t shown_ms;
};

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void unschedule(struct check_run *run) {
        if (!run->wheel_prev)
                return;
        *run->wheel_prev = run->wheel_next;
        if (run->wheel_next)
                run->wheel_next->wheel_prev = run->wheel_prev;
        run->wheel_next = NULL;
        run->wheel_prev = NULL;
}

/* Put run in the slot of at_ms; a time the wheel has passed goes to the next tick. */
static void schedule(struct checker *c, struct check_run *run, uint64_t at_ms) {
        unschedule(run);
        run->wake_ms = at_ms;
        uint64_t t = at_ms / TICK_MS;
        if (t <= c->wheel_tick)
                t = c->wheel_tick + 1;
        struct check_run **slot = &c->wheel[t % WHEEL_SLOTS];
        run->wheel_next = *slot;
        if (*slot)
                (*slot)->wheel_prev = &run->wheel_next;
        *slot = run;
        run->wheel_prev = slot;
}

int checker_new(const char *state_dir, const char *netns, struct checker **out) {
        struct checker *c = xcalloc(1, sizeof(*c));
        c->state_dir = xstrdup(state_dir);
        c->netns_fd = c->self_fd = -1;
        c->tick_ms = c->watch_ms = mono_ms();
        c->wheel_tick = c->tick_ms / TICK_MS;
        if (netns) {
                _cleanup_free_ char *path = strchr(netns, '/') ? xstrdup(netns) : xasprintf("/run/netns/%s", netns);
                c->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
                c->self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        }
        c->epfd = epoll_create1(EPOLL_CLOEXEC);
        c->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        int r = c->epfd < 0 || c->tick_fd < 0 || (netns && (c->netns_fd < 0 || c->self_fd < 0)) ||
                                epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->tick_fd, &ev) < 0
                        ? -errno
                        : 0;
        if (r == 0)
                r = check_status_load(state_dir, &c->saved, &c->n_saved);
        if (r < 0) {
                checker_free(c);
                return diag_plain(r, "health checks: cannot start: %s", strerror(-r));
        }
        *out = c;
        return 0;
}

/* A child killed: reaped now if it is gone already, else at a later tick (never a zombie, never a wait). */
static void reap_later(struct checker *c, pid_t pid) {
        if (waitpid(pid, NULL, WNOHANG) == 0)
                *(pid_t *) array_push(&c->reap, &c->n_reap, sizeof(pid_t)) = pid;
}

static void reap_some(struct checker *c) {
        for (size_t i = 0; i < c->n_reap;)
                if (waitpid(c->reap[i], NULL, WNOHANG) != 0)
                        c->reap[i] = c->reap[--c->n_reap];
                else
                        i++;
}

static void run_stop(struct checker *c, struct check_run *run) {
        if (run->pid > 0) {
                /* Past its timeout or no longer named: its group killed (the script and what it
                 * started), the child itself too should it have left the group. Not reaped
                 * yet, its pid is not reused. */
                kill(-run->pid, SIGKILL);
                kill(run->pid, SIGKILL);
                reap_later(c, run->pid);
                run->pid = 0;
        }
        if (run->phase == PHASE_RUNNING)
                for (size_t i = 0; i < c->n_exec; i++)
                        if (c->execs[i] == run) {
                                c->execs[i] = c->execs[--c->n_exec];
                                break;
                        }
        if (run->tls) {
                gnutls_deinit(run->tls);
                run->tls = NULL;
        }
        if (run->fd >= 0)
                close(run->fd); /* leaves the epoll set with it */
        run->fd = -1;
        run->phase = PHASE_IDLE;
        free(run->response);
        run->response = NULL;
        run->response_len = 0;
}

static void run_free(struct checker *c, struct check_run *run) {
        if (!run)
                return;
        run_stop(c, run);
        unschedule(run);
        if (run->has_regex)
                regfree(&run->regex);
        check_spec_done(&run->spec);
        free(run->service);
        free(run);
}

void checker_free(struct checker *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_runs; i++)
                run_free(c, c->runs[i]);
        free(c->runs);
        free(c->due);
        /* The daemon ends: what was killed is waited for. */
        for (size_t i = 0; i < c->n_reap; i++)
                waitpid(c->reap[i], NULL, 0);
        free(c->reap);
        free(c->saved);
        if (c->epfd >= 0)
                close(c->epfd);
        if (c->tick_fd >= 0)
                close(c->tick_fd);
        if (c->tls_creds)
                gnutls_certificate_free_credentials(c->tls_creds);
        if (c->netns_fd >= 0)
                close(c->netns_fd);
        if (c->self_fd >= 0)
                close(c->self_fd);
        free(c->state_dir);
        free(c);
}

size_t checker_count(const struct checker *c) {
        return c->n_runs;
}

int checker_fd(const struct checker *c) {
        return c->epfd;
}

static int save(struct checker *c);

static int run_cmp(const void *x, const void *y) {
        return strcmp((*(struct check_run *const *) x)->key, (*(struct check_run *const *) y)->key);
}

static struct check_run *find_run(const struct checker *c, const char *key) {
        size_t lo = 0, hi = c->n_runs;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int d = strcmp(c->runs[mid]->key, key);
                if (d == 0)
                        return c->runs[mid];
                if (d < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

const struct check_state *checker_state(const struct checker *c, const char *key) {
        const struct check_run *run = find_run(c, key);
        return run ? &run->state : NULL;
}

/* A spread start: checks named at once do not all connect in the same tick. */
static uint64_t first_delay_ms(const struct check_run *run) {
        uint64_t h = 1469598103934665603ull;
        for (const char *p = run->key; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ull;
        uint64_t span = (uint64_t) (run->spec.warmup ? run->spec.warmup : run->spec.interval) * 1000;
        return span ? h % span : 0;
}

static struct check_run *run_new(const char *service, const struct check_spec *spec, const struct ipaddr *addr,
                                 uint32_t real_port) {
        struct check_run *run = xcalloc(1, sizeof(*run));
        run->service = xstrdup(service);
        check_key(spec, addr, real_port, run->key, sizeof(run->key));
        check_spec_copy(&run->spec, spec);
        run->fd = -1;
        uint16_t port = htons((uint16_t) (spec->port ? spec->port : real_port));
        if (addr->family == AF_INET6) {
                struct sockaddr_in6 *sa = (struct sockaddr_in6 *) &run->to;
                sa->sin6_family = AF_INET6;
                sa->sin6_port = port;
                memcpy(&sa->sin6_addr, addr->a, 16);
                run->to_len = sizeof(*sa);
        } else {
                struct sockaddr_in *sa = (struct sockaddr_in *) &run->to;
                sa->sin_family = AF_INET;
                sa->sin_port = port;
                memcpy(&sa->sin_addr, addr->a, 4);
                run->to_len = sizeof(*sa);
        }
        if ((spec->type == CHECK_HTTP || spec->type == CHECK_HTTPS) && has(spec->regex))
                run->has_regex = regcomp(&run->regex, spec->regex, REG_EXTENDED | REG_NOSUB) == 0;
        return run;
}

/* Mix n bytes into h, eight at a time. */
static uint64_t mix(uint64_t h, const void *p, size_t n) {
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i += 8) {
                uint64_t w = 0;
                memcpy(&w, b + i, n - i < 8 ? n - i : 8);
                h = mix_word(h, w);
        }
        return h;
}

/* A digest of the checks want names: the daemon follows every run, and most
 * runs (drift, retries, transitions) change no check. */
static uint64_t checks_digest(const struct model *want) {
        uint64_t h = 1;
        for (size_t i = 0; i < want->n; i++) {
                const struct resource *r = want->v[i];
                if (r->kind != KIND_SERVICE || r->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->service.n_reals; j++) {
                        const struct real_spec *rs = &r->service.reals[j];
                        const struct check_spec *spec = real_check(&r->service, rs);
                        if (!spec)
                                continue;
                        h = check_spec_hash(h, spec);
                        h = mix(h, &rs->address.family, sizeof(rs->address.family));
                        h = mix(h, rs->address.a, sizeof(rs->address.a));
                        h = mix(h, &rs->port, sizeof(rs->port));
                }
        }
        return h;
}

int checker_sync(struct checker *c, const struct model *want) {
        uint64_t digest = checks_digest(want);
        if (c->synced && digest == c->digest)
                return 0;
        c->synced = true;
        c->digest = digest;
        struct check_run **next = NULL;
        size_t n_next = 0, n_new_down = 0;
        time_t now = time(NULL);
        uint64_t now_ms = mono_ms();
        if (!c->n_runs) {
                /* The ticks stopped with the last check (an empty wheel): no lag to report, no slot to catch up. */
                c->tick_ms = now_ms;
                c->wheel_tick = now_ms / TICK_MS;
        }
        for (size_t i = 0; i < want->n; i++) {
                const struct resource *r = want->v[i];
                if (r->kind != KIND_SERVICE || r->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->service.n_reals; j++) {
                        const struct real_spec *rs = &r->service.reals[j];
                        struct check_spec spec;
                        if (!check_of_real(&r->service, rs, &spec))
                                continue;
                        *(struct check_run **) array_push(&next, &n_next, sizeof(*next)) =
                                run_new(r->name, &spec, &rs->address, rs->port);
                }
        }
        if (n_next)
                qsort(next, n_next, sizeof(*next), run_cmp);
        /* One run per key: the first named keeps its parameters, the shortest interval wins. */
        size_t kept = 0;
        for (size_t i = 0; i < n_next; i++) {
                if (kept && strcmp(next[kept - 1]->key, next[i]->key) == 0) {
                        if (next[i]->spec.interval < next[kept - 1]->spec.interval) {
                                next[kept - 1]->spec.interval = next[i]->spec.interval;
                                next[kept - 1]->spec.timeout = next[i]->spec.timeout;
                        }
                        run_free(c, next[i]);
                        continue;
                }
                next[kept++] = next[i];
        }
        n_next = kept;
        /* Merge with the running checks: a check kept keeps its state, its socket and its place in the wheel. */
        size_t o = 0;
        for (size_t i = 0; i < n_next; i++) {
                while (o < c->n_runs && strcmp(c->runs[o]->key, next[i]->key) < 0)
                        run_free(c, c->runs[o++]);
                if (o < c->n_runs && strcmp(c->runs[o]->key, next[i]->key) == 0) {
                        struct check_run *old = c->runs[o++];
                        bool same = check_spec_equal(&old->spec, &next[i]->spec);
                        if (same) {
                                char *service = old->service; /* the name that declares it now */
                                old->service = next[i]->service;
                                next[i]->service = service;
                                run_free(c, next[i]);
                                next[i] = old;
                                continue;
                        }
                        next[i]->state = old->state; /* new parameters, the same real */
                        next[i]->next_ms = next[i]->done_ms = now_ms;
                        run_free(c, old);
                        schedule(c, next[i], now_ms);
                        continue;
                }
                const struct check_status *s = check_status_find(c->saved, c->n_saved, next[i]->key);
                if (s)
                        next[i]->state = s->state; /* a restart neither floods a sick real nor forgets it */
                else {
                        check_state_init(&next[i]->state, &next[i]->spec, now);
                        n_new_down += !next[i]->state.up; /* alpha: down before any check */
                }
                next[i]->next_ms = next[i]->done_ms = now_ms + first_delay_ms(next[i]);
                schedule(c, next[i], next[i]->next_ms);
                c->dirty = true;
        }
        while (o < c->n_runs)
                run_free(c, c->runs[o++]);
        free(c->runs);
        c->runs = next;
        c->n_runs = n_next;
        struct itimerspec its = { 0 };
        if (c->n_runs) {
                its.it_value.tv_nsec = its.it_interval.tv_nsec = TICK_MS * 1000000L;
        }
        timerfd_settime(c->tick_fd, 0, &its, NULL);
        if (n_new_down)
                save(c); /* the diff reads the file: an alpha real is down from now on */
        return n_new_down ? 1 : 0;
}

static void run_finish(struct checker *c, struct check_run *run, bool pass, const char *result) {
        run_stop(c, run);
        uint64_t now_ms = mono_ms();
        run->done_ms = now_ms;
        schedule(c, run, run->next_ms > now_ms ? run->next_ms : now_ms);
        bool was_up = run->state.up;
        bool same_result = strncmp(run->state.result, result, sizeof(run->state.result) - 1) == 0;
        unsigned was_toward = check_state_toward(&run->state);
        if (check_state_step(&run->state, &run->spec, pass, result, time(NULL))) {
                c->transition = true;
                /* Logged once, at the transition, with the reason. */
                if (was_up)
                        diag_event(DIAG_CHECK_DOWN, KIND_SERVICE, run->service, "health check %s: down (%u failure%s: %s)",
                                   run->key, run->state.fails, run->state.fails == 1 ? "" : "s", result);
                else
                        diag_event(DIAG_CHECK_UP, KIND_SERVICE, run->service, "health check %s: up (%u pass%s: %s)",
                                   run->key, run->state.passes, run->state.passes == 1 ? "" : "es", result);
        }
        /* The file changes when something a restart needs does: a result of
         * another text, or a count still below rise or fall. 10,000 checks that
         * keep passing write nothing. */
        if (!same_result || (pass ? run->state.passes <= run->spec.rise : run->state.fails <= run->spec.fall))
                c->dirty = true;
        /* What a status row shows: up or down, the result, the count toward the other state. */
        if (!same_result || was_up != run->state.up || was_toward != check_state_toward(&run->state))
                c->shown_dirty = true;
}

/* Connect run's socket (made in the reals' namespace). */
static void run_start(struct checker *c, struct check_run *run, int socket_errno, uint64_t now_ms) {
        run->next_ms = now_ms + (uint64_t) run->spec.interval * 1000;
        run->deadline_ms = now_ms + (uint64_t) run->spec.timeout * 1000;
        if (run->fd < 0) {
                run_finish(c, run, false, strerror(socket_errno));
                return;
        }
        if (connect(run->fd, (struct sockaddr *) &run->to, run->to_len) < 0 && errno != EINPROGRESS) {
                run_finish(c, run, false, strerror(errno));
                return;
        }
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = run };
        if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, run->fd, &ev) < 0) {
                run_finish(c, run, false, strerror(errno));
                return;
        }
        run->phase = PHASE_CONNECTING;
        schedule(c, run, run->deadline_ms);
}

/* Start an exec check: the program with its arguments, stdio on /dev/null, the
 * real in the environment; its end comes through a pidfd, or, where
 * pidfd_open is not (ENOSYS: kernels before 5.3, valgrind), from a waitpid
 * each tick. */
static void exec_start(struct checker *c, struct check_run *run, uint64_t now_ms) {
        run->next_ms = now_ms + (uint64_t) run->spec.interval * 1000;
        run->deadline_ms = now_ms + (uint64_t) run->spec.timeout * 1000;
        char command[CHECK_COMMAND_MAX + 1], *argv[32], *save = NULL;
        size_t argc = 0;
        snprintf(command, sizeof(command), "%s", run->spec.command ? run->spec.command : "");
        for (char *w = strtok_r(command, " \t", &save); w && argc < ELEMENTSOF(argv) - 1; w = strtok_r(NULL, " \t", &save))
                argv[argc++] = w;
        argv[argc] = NULL;
        char address[INET6_ADDRSTRLEN + 32], port[32];
        const void *raw = run->to.ss_family == AF_INET6 ? (const void *) &((struct sockaddr_in6 *) &run->to)->sin6_addr
                                                        : (const void *) &((struct sockaddr_in *) &run->to)->sin_addr;
        char a[INET6_ADDRSTRLEN];
        inet_ntop(run->to.ss_family, raw, a, sizeof(a));
        snprintf(address, sizeof(address), "RECONCILE_REAL_ADDRESS=%s", a);
        snprintf(port, sizeof(port), "RECONCILE_REAL_PORT=%u", ntohs(((struct sockaddr_in *) &run->to)->sin_port));
        char *envp[] = { address, port, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        /* posix_spawn: no copy of a daemon with thousands of checks, and the
         * child unblocks the signals the daemon blocks for its signalfd. */
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none;
        sigemptyset(&none);
        posix_spawn_file_actions_init(&fa);
        for (int fd = 0; fd < 3; fd++)
                posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        /* Its own process group (0: its pid): a timeout kills the script and what it started. */
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
        pid_t pid;
        int err = argc ? posix_spawn(&pid, argv[0], &fa, &attr, argv, envp) : EINVAL;
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (err) {
                char result[96];
                snprintf(result, sizeof(result), "cannot run the command: %s", strerror(err));
                run_finish(c, run, false, result);
                return;
        }
        run->pid = pid;
        run->phase = PHASE_RUNNING;
        c->execs[c->n_exec++] = run;
        schedule(c, run, run->deadline_ms);
        run->fd = c->no_pidfd ? -1 : pidfd_open(pid, 0);
        if (run->fd < 0 && !c->no_pidfd && errno == ENOSYS) {
                c->no_pidfd = true;
                fprintf(diag_stream(), "health checks: no pidfd_open here: exec checks are polled every %d ms\n", TICK_MS);
        }
        if (c->no_pidfd)
                return;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = run };
        if (run->fd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, run->fd, &ev) < 0)
                run_finish(c, run, false, strerror(errno)); /* kills and reaps the child */
}

/* An exec check's child, if it ended: its result. */
static void exec_done(struct checker *c, struct check_run *run) {
        int status;
        if (run->pid <= 0 || waitpid(run->pid, &status, WNOHANG) != run->pid)
                return;
        run->pid = 0;
        char result[64];
        if (WIFEXITED(status))
                snprintf(result, sizeof(result), "exit %d", WEXITSTATUS(status));
        else
                snprintf(result, sizeof(result), "killed by signal %d", WTERMSIG(status));
        run_finish(c, run, WIFEXITED(status) && WEXITSTATUS(status) == 0, result);
}
static void tls_wait(struct checker *c, struct check_run *run);

static void http_send(struct checker *c, struct check_run *run) {
        char host[96], req[512];
        if (has(run->spec.host))
                snprintf(host, sizeof(host), "%s", run->spec.host);
        else {
                char a[INET6_ADDRSTRLEN];
                const void *raw = run->to.ss_family == AF_INET6 ? (const void *) &((struct sockaddr_in6 *) &run->to)->sin6_addr
                                                                : (const void *) &((struct sockaddr_in *) &run->to)->sin_addr;
                inet_ntop(run->to.ss_family, raw, a, sizeof(a));
                snprintf(host, sizeof(host), run->to.ss_family == AF_INET6 ? "[%s]" : "%s", a);
        }
        int len = snprintf(req, sizeof(req),
                           "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: reconcile-check\r\nConnection: close\r\n\r\n",
                           has(run->spec.path) ? run->spec.path : "/", host);
        /* A request this small fits a new socket's send buffer whole; TLS may ask to be called again. */
        ssize_t sent = run->tls ? gnutls_record_send(run->tls, req, (size_t) len)
                                : send(run->fd, req, (size_t) len, MSG_NOSIGNAL);
        if (run->tls && (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED)) {
                run->phase = PHASE_SENDING;
                tls_wait(c, run);
                return;
        }
        if (sent != len) {
                run_finish(c, run, false, "cannot send the request");
                return;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = run };
        epoll_ctl(c->epfd, EPOLL_CTL_MOD, run->fd, &ev);
        run->phase = PHASE_READING;
}

/* Wait for what the TLS session needs next: to read or to write. */
static void tls_wait(struct checker *c, struct check_run *run) {
        struct epoll_event ev = { .events = gnutls_record_get_direction(run->tls) ? EPOLLOUT : EPOLLIN,
                                  .data.ptr = run };
        epoll_ctl(c->epfd, EPOLL_CTL_MOD, run->fd, &ev);
}

static void tls_start(struct checker *c, struct check_run *run) {
        /* GnuTLS is loaded at the first https check: no other run maps it. */
        const char *why;
        if (!c->tls_creds && gnutls_dl_load(&why) < 0) {
                run_finish(c, run, false, why);
                return;
        }
        if (!c->tls_creds && gnutls_certificate_allocate_credentials(&c->tls_creds) < 0) {
                c->tls_creds = NULL;
                run_finish(c, run, false, "cannot set up TLS");
                return;
        }
        if (gnutls_init(&run->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0 || gnutls_set_default_priority(run->tls) < 0 ||
            gnutls_credentials_set(run->tls, GNUTLS_CRD_CERTIFICATE, c->tls_creds) < 0) {
                run_finish(c, run, false, "cannot set up TLS");
                return;
        }
        if (has(run->spec.host))
                gnutls_server_name_set(run->tls, GNUTLS_NAME_DNS, run->spec.host, strlen(run->spec.host));
        gnutls_transport_set_int(run->tls, run->fd);
        gnutls_handshake_set_timeout(run->tls, 0); /* the check's own timeout ends it */
        run->phase = PHASE_HANDSHAKE;
}

static void tls_handshake(struct checker *c, struct check_run *run) {
        int r = gnutls_handshake(run->tls);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                tls_wait(c, run);
                return;
        }
        if (r < 0) {
                char result[96];
                snprintf(result, sizeof(result), "TLS: %s", gnutls_strerror(r));
                run_finish(c, run, false, result);
                return;
        }
        http_send(c, run);
}

/* Judge the response read so far; at_end: the server closed or the buffer is full. */
static void http_judge(struct checker *c, struct check_run *run, bool at_end) {
        int status = check_http_status(run->response, run->response_len);
        if (status == -EAGAIN && !at_end)
                return;
        if (status < 0) {
                run_finish(c, run, false, "no HTTP status line");
                return;
        }
        char result[96];
        snprintf(result, sizeof(result), "HTTP %d", status);
        if (!check_expect_match(run->spec.expect ? run->spec.expect : CHECK_EXPECT_DEFAULT, status)) {
                run_finish(c, run, false, result);
                return;
        }
        if (!run->has_regex) {
                run_finish(c, run, true, result);
                return;
        }
        if (!at_end)
                return; /* the body is read whole first */
        run->response[run->response_len] = '\0';
        const char *body = strstr(run->response, "\r\n\r\n");
        body = body ? body + 4 : run->response;
        if (regexec(&run->regex, body, 0, NULL, 0) != 0) {
                snprintf(result, sizeof(result), "HTTP %d, the body does not match the regex", status);
                run_finish(c, run, false, result);
                return;
        }
        run_finish(c, run, true, result);
}

static void run_io(struct checker *c, struct check_run *run, uint32_t events) {
        if (run->phase == PHASE_RUNNING) {
                exec_done(c, run);
                return;
        }
        if (run->phase == PHASE_CONNECTING) {
                /* Writable and no error: connected. SO_ERROR is read only for the reason of a failure. */
                if (events & (EPOLLERR | EPOLLHUP)) {
                        int err = 0;
                        socklen_t len = sizeof(err);
                        getsockopt(run->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                        run_finish(c, run, false, strerror(err ? err : ECONNRESET));
                        return;
                }
                if (run->spec.type == CHECK_TCP) {
                        /* A reset, not a FIN: a check leaves no TIME_WAIT behind on either side. */
                        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                        setsockopt(run->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                        run_finish(c, run, true, "connected");
                        return;
                }
                if (run->spec.type == CHECK_HTTPS) {
                        tls_start(c, run);
                        if (run->phase == PHASE_HANDSHAKE)
                                tls_handshake(c, run);
                } else
                        http_send(c, run);
                return;
        }
        if (run->phase == PHASE_HANDSHAKE) {
                tls_handshake(c, run);
                return;
        }
        if (run->phase == PHASE_SENDING) {
                http_send(c, run);
                return;
        }
        if (run->phase != PHASE_READING)
                return;
        if (!run->response)
                run->response = xcalloc(1, RESPONSE_MAX + 1);
        /* TLS may hold decrypted data beyond one record: read until it asks to wait. */
        do {
                char *at = run->response + run->response_len;
                size_t room = RESPONSE_MAX - run->response_len;
                ssize_t n;
                if (run->tls) {
                        n = gnutls_record_recv(run->tls, at, room);
                        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                                tls_wait(c, run);
                                return;
                        }
                        if (n == GNUTLS_E_PREMATURE_TERMINATION)
                                n = 0; /* a close without close_notify, as most servers do it */
                        if (n < 0) {
                                char result[96];
                                snprintf(result, sizeof(result), "TLS: %s", gnutls_strerror((int) n));
                                run_finish(c, run, false, result);
                                return;
                        }
                } else {
                        n = read(run->fd, at, room);
                        if (n < 0) {
                                if (errno != EAGAIN && errno != EINTR)
                                        run_finish(c, run, false, strerror(errno));
                                return;
                        }
                }
                run->response_len += (size_t) n;
                http_judge(c, run, n == 0 || run->response_len == RESPONSE_MAX);
        } while (run->phase == PHASE_READING && run->tls && gnutls_record_check_pending(run->tls));
}

/* run's time in the wheel came: its timeout, its start, or a later time to wait for. */
static void wake(struct checker *c, struct check_run *run, uint64_t now) {
        if (run->phase != PHASE_IDLE) {
                if (now < run->deadline_ms) {
                        schedule(c, run, run->deadline_ms);
                        return;
                }
                run_finish(c, run, false, "timeout");
        }
        if (now < run->next_ms) {
                schedule(c, run, run->next_ms);
                return;
        }
        if (run->spec.type == CHECK_EXEC) {
                if (c->n_exec < EXEC_MAX)
                        exec_start(c, run, now);
                else
                        schedule(c, run, now + TICK_MS); /* the pool is full: the next tick */
                return;
        }
        if (c->n_due == c->due_size) {
                c->due_size = c->due_size ? 2 * c->due_size : 256;
                struct check_run **grown = realloc(c->due, c->due_size * sizeof(*grown));
                if (!grown)
                        abort();
                c->due = grown; /* kept from tick to tick: no allocation per check */
        }
        c->due[c->n_due++] = run;
}

size_t checker_watchdog(struct checker *c, uint64_t now_ms) {
        size_t restarted = 0;
        for (size_t i = 0; i < c->n_runs; i++) {
                struct check_run *run = c->runs[i];
                uint64_t limit = (uint64_t) (run->spec.interval + run->spec.timeout) * 1000 + STUCK_SLACK_MS;
                if (now_ms <= run->done_ms + limit)
                        continue;
                /* keepalived#2523: a checker that stops checking says nothing. This one says so, once, and starts it over. */
                fprintf(diag_stream(), "health check %s: stuck: no result for %llu s (%s); restarted\n", run->key,
                        (unsigned long long) ((now_ms - run->done_ms) / 1000), phase_words[run->phase]);
                run_stop(c, run);
                run->state.restarts++;
                run->done_ms = run->next_ms = now_ms;
                schedule(c, run, now_ms);
                c->dirty = c->shown_dirty = true;
                restarted++;
        }
        return restarted;
}

static void tick(struct checker *c) {
        uint64_t now = mono_ms();
        /* The daemon's loop held the checker up (a long run): the checks were not stuck, the loop was. */
        if (now > c->tick_ms + LAG_MS) {
                fprintf(diag_stream(), "health checks: held up %llu ms by the daemon's loop; their watch starts over\n",
                        (unsigned long long) (now - c->tick_ms));
                for (size_t i = 0; i < c->n_runs; i++)
                        c->runs[i]->done_ms = now;
        }
        c->tick_ms = now;
        if (c->no_pidfd)
                for (size_t i = c->n_exec; i-- > 0;)
                        exec_done(c, c->execs[i]);
        if (c->n_reap)
                reap_some(c);
        uint64_t to = now / TICK_MS, from = c->wheel_tick + 1;
        if (to >= from + WHEEL_SLOTS)
                from = to - WHEEL_SLOTS + 1; /* every slot once */
        c->n_due = 0;
        for (uint64_t t = from; t <= to; t++) {
                /* The slot's list is taken whole: a check put back lands in a later slot, or this one's next turn. */
                struct check_run *list = c->wheel[t % WHEEL_SLOTS];
                c->wheel[t % WHEEL_SLOTS] = NULL;
                if (list)
                        list->wheel_prev = &list;
                c->wheel_tick = t;
                while (list) {
                        struct check_run *run = list;
                        unschedule(run);
                        if (run->wake_ms / TICK_MS > to)
                                schedule(c, run, run->wake_ms); /* a later turn of the wheel */
                        else
                                wake(c, run, now);
                }
        }
        c->wheel_tick = to;
        if (now >= c->watch_ms + 1000) {
                c->watch_ms = now;
                checker_watchdog(c, now);
        }
        if (!c->n_due)
                return;
        /* The sockets of a tick are made in one visit to the reals' namespace. */
        bool entered = c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) == 0;
        int socket_errno = c->netns_fd >= 0 && !entered ? errno : 0;
        for (size_t i = 0; i < c->n_due; i++) {
                struct check_run *run = c->due[i];
                if (socket_errno)
                        break;
                run->fd = socket(run->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (run->fd < 0)
                        socket_errno = errno;
        }
        if (entered && setns(c->self_fd, CLONE_NEWNET) < 0)
                diag_plain(-errno, "health checks: cannot leave the namespace: %s", strerror(errno));
        for (size_t i = 0; i < c->n_due; i++)
                run_start(c, c->due[i], socket_errno ? socket_errno : EMFILE, now);
        c->n_due = 0;
}

static int save(struct checker *c) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_runs; i++)
                status_line(f, c->runs[i]->key, &c->runs[i]->state);
        c->dirty = false;
        c->saved_ms = mono_ms();
        return write_status(c->state_dir, f, &buf, &len);
}

int checker_dispatch(struct checker *c) {
        struct epoll_event evs[256];
        bool ticked = false;
        int n;
        do {
                n = epoll_wait(c->epfd, evs, (int) ELEMENTSOF(evs), 0);
                for (int i = 0; i < n; i++) {
                        uint64_t ticks;
                        if (!evs[i].data.ptr)
                                ticked = ticked || read(c->tick_fd, &ticks, sizeof(ticks)) > 0;
                        else
                                run_io(c, evs[i].data.ptr, evs[i].events);
                }
        } while (n == (int) ELEMENTSOF(evs));
        /* After the batch: a check the tick starts anew gets no event of its last socket. */
        if (ticked)
                tick(c);
        bool transition = c->transition;
        c->transition = false;
        if (transition || (c->dirty && mono_ms() >= c->saved_ms + SAVE_EVERY_MS))
                save(c);
        return transition ? 1 : 0;
}

bool checker_status_due(struct checker *c, uint64_t now_ms) {
        if (!c->shown_dirty || now_ms < c->shown_ms + SHOWN_EVERY_MS)
                return false;
        c->shown_dirty = false;
        c->shown_ms = now_ms;
        return true;
}

void checker_each(const struct checker *c, void (*fn)(void *u, const char *key, const struct check_state *s), void *u) {
        for (size_t i = 0; i < c->n_runs; i++)
                fn(u, c->runs[i]->key, &c->runs[i]->state);
}
