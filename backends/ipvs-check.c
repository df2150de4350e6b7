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
#define RESPONSE_MAX 8192
/* At most this many exec checks run at once; the others wait for a tick with room. */
#define EXEC_MAX 32

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

int check_spec_complete(struct check_spec *c, char *err, size_t err_size) {
        if ((c->type == CHECK_EXEC) != (c->command[0] != '\0')) {
                snprintf(err, err_size, c->command[0] ? "check command is for exec checks" : "an exec check needs a command");
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
                if (!c->path[0])
                        strcpy(c->path, "/");
                if (!c->expect[0])
                        strcpy(c->expect, CHECK_EXPECT_DEFAULT);
                if (c->path[0] != '/' || strpbrk(c->path, " \t")) {
                        snprintf(err, err_size, "check path \"%s\" does not start with / or has a space", c->path);
                        return -EINVAL;
                }
                if (!check_expect_valid(c->expect)) {
                        snprintf(err, err_size, "check expect \"%s\" is not a list of statuses like 200-299,301",
                                 c->expect);
                        return -EINVAL;
                }
                if (c->regex[0]) {
                        regex_t re;
                        if (regcomp(&re, c->regex, REG_EXTENDED | REG_NOSUB) != 0) {
                                snprintf(err, err_size, "check regex \"%s\" is no extended regular expression", c->regex);
                                return -EINVAL;
                        }
                        regfree(&re);
                }
        } else if (c->path[0] || c->host[0] || c->expect[0] || c->regex[0]) {
                snprintf(err, err_size, "check path, host, expect and regex are for http and https checks");
                return -EINVAL;
        }
        return 0;
}

bool check_of_real(const struct service_spec *svc, const struct real_spec *rs, struct check_spec *out) {
        if (rs->set & REAL_F_CHECK)
                *out = rs->check;
        else if (svc->check.interval) /* completed at parse time: set */
                *out = svc->check;
        else
                return false;
        return true;
}

const char *check_key(const struct check_spec *c, const struct ipaddr *addr, uint32_t real_port, char *buf,
                      size_t size) {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(addr->family, addr->a, a, sizeof(a));
        uint32_t port = c->port ? c->port : real_port;
        const char *open = addr->family == AF_INET6 ? "[" : "", *close = addr->family == AF_INET6 ? "]" : "";
        snprintf(buf, size, "%s %s%s%s:%u%s%s", check_type_words[c->type], open, a, close, port,
                 c->type == CHECK_HTTP || c->type == CHECK_HTTPS ? c->path : c->type == CHECK_EXEC ? " " : "",
                 c->type == CHECK_EXEC ? c->command : "");
        return buf;
}

void check_state_init(struct check_state *s, const struct check_spec *c, time_t now) {
        memset(s, 0, sizeof(*s));
        s->up = !c->alpha;
        s->since = now;
        snprintf(s->result, sizeof(s->result), "not checked yet");
}

bool check_state_step(struct check_state *s, const struct check_spec *c, bool pass, const char *result, time_t now) {
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

/* ---- the state file: one line per check, KEY TAB up|down TAB SINCE TAB PASSES TAB FAILS TAB RESULT ---- */

static char *status_path(const char *state_dir) {
        return xasprintf("%s/checks", state_dir);
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
                char *f[6];
                size_t k = 0;
                for (char *p = line; k < 6; k++) {
                        f[k] = p;
                        p = k < 5 ? strchr(p, '\t') : NULL;
                        if (!p)
                                break;
                        *p++ = '\0';
                }
                if (k != 5 || strlen(f[0]) >= sizeof((*v)->key))
                        continue; /* a line another version wrote */
                struct check_status *s = array_push(v, n, sizeof(*s));
                memset(s, 0, sizeof(*s));
                snprintf(s->key, sizeof(s->key), "%s", f[0]);
                s->state.up = strcmp(f[1], "up") == 0;
                s->state.since = (time_t) strtoll(f[2], NULL, 10);
                s->state.passes = (unsigned) strtoul(f[3], NULL, 10);
                s->state.fails = (unsigned) strtoul(f[4], NULL, 10);
                snprintf(s->state.result, sizeof(s->state.result), "%s", f[5]);
        }
        return 0;
}

const struct check_status *check_status_find(const struct check_status *v, size_t n, const char *key) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].key, key) == 0)
                        return &v[i];
        return NULL;
}

static void status_line(FILE *f, const char *key, const struct check_state *s) {
        fprintf(f, "%s\t%s\t%lld\t%u\t%u\t", key, s->up ? "up" : "down", (long long) s->since, s->passes, s->fails);
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
        int fd; /* the socket, or an exec check's pidfd */
        pid_t pid;
        gnutls_session_t tls; /* https: the session over fd */
        uint64_t next_ms, deadline_ms;
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
        size_t n_exec; /* exec checks running */
        /* https: no certificate is verified (keepalived's SSL_GET neither): a check asks whether the
         * server answers, and a real's certificate is often for the VIP's name. */
        gnutls_certificate_credentials_t tls_creds;
        uint64_t saved_ms;
};

static uint64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int checker_new(const char *state_dir, const char *netns, struct checker **out) {
        struct checker *c = xcalloc(1, sizeof(*c));
        c->state_dir = xstrdup(state_dir);
        c->netns_fd = c->self_fd = -1;
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

static void run_stop(struct check_run *run) {
        if (run->pid > 0) {
                /* Past its timeout or no longer named: killed and reaped, never a zombie. */
                siginfo_t info;
                kill(-run->pid, SIGKILL); /* its group: what the script started too (not reaped yet: no reuse) */
                pidfd_send_signal(run->fd, SIGKILL, NULL, 0);
                waitid((idtype_t) P_PIDFD, (id_t) run->fd, &info, WEXITED);
                run->pid = 0;
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

static void run_free(struct check_run *run) {
        if (!run)
                return;
        run_stop(run);
        if (run->has_regex)
                regfree(&run->regex);
        free(run->service);
        free(run);
}

void checker_free(struct checker *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_runs; i++)
                run_free(c->runs[i]);
        free(c->runs);
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

/* Free a run the checks no longer name; a running exec check frees its place in the pool. */
static void drop_run(struct checker *c, struct check_run *run) {
        if (run->phase == PHASE_RUNNING)
                c->n_exec--;
        run_free(run);
}

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
        run->spec = *spec;
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
        if ((spec->type == CHECK_HTTP || spec->type == CHECK_HTTPS) && spec->regex[0])
                run->has_regex = regcomp(&run->regex, spec->regex, REG_EXTENDED | REG_NOSUB) == 0;
        return run;
}

int checker_sync(struct checker *c, const struct model *want) {
        struct check_run **next = NULL;
        size_t n_next = 0, n_new_down = 0;
        time_t now = time(NULL);
        uint64_t now_ms = mono_ms();
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
        qsort(next, n_next, sizeof(*next), run_cmp);
        /* One run per key: the first named keeps its parameters, the shortest interval wins. */
        size_t kept = 0;
        for (size_t i = 0; i < n_next; i++) {
                if (kept && strcmp(next[kept - 1]->key, next[i]->key) == 0) {
                        if (next[i]->spec.interval < next[kept - 1]->spec.interval) {
                                next[kept - 1]->spec.interval = next[i]->spec.interval;
                                next[kept - 1]->spec.timeout = next[i]->spec.timeout;
                        }
                        run_free(next[i]);
                        continue;
                }
                next[kept++] = next[i];
        }
        n_next = kept;
        /* Merge with the running checks: a check kept keeps its state and its socket. */
        size_t o = 0;
        for (size_t i = 0; i < n_next; i++) {
                while (o < c->n_runs && strcmp(c->runs[o]->key, next[i]->key) < 0)
                        drop_run(c, c->runs[o++]);
                if (o < c->n_runs && strcmp(c->runs[o]->key, next[i]->key) == 0) {
                        struct check_run *old = c->runs[o++];
                        bool same = memcmp(&old->spec, &next[i]->spec, sizeof(old->spec)) == 0;
                        if (same) {
                                char *service = old->service; /* the name that declares it now */
                                old->service = next[i]->service;
                                next[i]->service = service;
                                run_free(next[i]);
                                next[i] = old;
                                continue;
                        }
                        next[i]->state = old->state; /* new parameters, the same real */
                        next[i]->next_ms = now_ms;
                        drop_run(c, old);
                        continue;
                }
                const struct check_status *s = check_status_find(c->saved, c->n_saved, next[i]->key);
                if (s)
                        next[i]->state = s->state; /* a restart neither floods a sick real nor forgets it */
                else {
                        check_state_init(&next[i]->state, &next[i]->spec, now);
                        n_new_down += !next[i]->state.up; /* alpha: down before any check */
                }
                next[i]->next_ms = now_ms + first_delay_ms(next[i]);
                c->dirty = true;
        }
        while (o < c->n_runs)
                drop_run(c, c->runs[o++]);
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
        if (run->phase == PHASE_RUNNING)
                c->n_exec--;
        run_stop(run);
        bool was_up = run->state.up;
        if (check_state_step(&run->state, &run->spec, pass, result, time(NULL))) {
                c->transition = true;
                if (was_up)
                        diag_event(DIAG_CHECK_DOWN, KIND_SERVICE, run->service, "health check %s: down (%u failures: %s)",
                                   run->key, run->state.fails, result);
                else
                        diag_event(DIAG_CHECK_UP, KIND_SERVICE, run->service, "health check %s: up (%u passes)", run->key,
                                   run->state.passes);
        }
        c->dirty = true;
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
}

/* Start an exec check: the program with its arguments, stdio on /dev/null, the
 * real in the environment; its exit status (0: pass) comes through a pidfd. */
static void exec_start(struct checker *c, struct check_run *run, uint64_t now_ms) {
        run->next_ms = now_ms + (uint64_t) run->spec.interval * 1000;
        run->deadline_ms = now_ms + (uint64_t) run->spec.timeout * 1000;
        char command[sizeof(run->spec.command)], *argv[32], *save = NULL;
        size_t argc = 0;
        snprintf(command, sizeof(command), "%s", run->spec.command);
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
        run->fd = pidfd_open(pid, 0);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = run };
        run->phase = PHASE_RUNNING;
        c->n_exec++;
        if (run->fd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, run->fd, &ev) < 0) {
                err = errno;
                if (run->fd < 0) {
                        kill(-pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        run->pid = 0;
                }
                run_finish(c, run, false, strerror(err));
        }
}

static void exec_done(struct checker *c, struct check_run *run) {
        siginfo_t info = { 0 };
        if (waitid((idtype_t) P_PIDFD, (id_t) run->fd, &info, WEXITED | WNOHANG) < 0 || info.si_pid == 0)
                return;
        run->pid = 0;
        char result[64];
        if (info.si_code == CLD_EXITED)
                snprintf(result, sizeof(result), "exit %d", info.si_status);
        else
                snprintf(result, sizeof(result), "killed by signal %d", info.si_status);
        run_finish(c, run, info.si_code == CLD_EXITED && info.si_status == 0, result);
}

static void tls_wait(struct checker *c, struct check_run *run);

static void http_send(struct checker *c, struct check_run *run) {
        char host[96], req[512];
        if (run->spec.host[0])
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
                           run->spec.path, host);
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
        if (run->spec.host[0])
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
        if (!check_expect_match(run->spec.expect, status)) {
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

static void run_io(struct checker *c, struct check_run *run) {
        if (run->phase == PHASE_RUNNING) {
                exec_done(c, run);
                return;
        }
        if (run->phase == PHASE_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(run->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                        run_finish(c, run, false, strerror(err));
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

static bool due(const struct check_run *run, uint64_t now) {
        return run->phase == PHASE_IDLE && run->fd < 0 && now >= run->next_ms && run->spec.type != CHECK_EXEC;
}

static void tick(struct checker *c) {
        uint64_t now = mono_ms();
        size_t n_due = 0;
        for (size_t i = 0; i < c->n_runs; i++) {
                struct check_run *run = c->runs[i];
                if (run->phase != PHASE_IDLE && now >= run->deadline_ms)
                        run_finish(c, run, false, "timeout");
                n_due += due(run, now);
        }
        for (size_t i = 0; i < c->n_runs && c->n_exec < EXEC_MAX; i++) {
                struct check_run *run = c->runs[i];
                if (run->spec.type == CHECK_EXEC && run->phase == PHASE_IDLE && now >= run->next_ms)
                        exec_start(c, run, now);
        }
        if (!n_due)
                return;
        /* The sockets of a tick are made in one visit to the reals' namespace. */
        bool entered = c->netns_fd >= 0 && setns(c->netns_fd, CLONE_NEWNET) == 0;
        int socket_errno = c->netns_fd >= 0 && !entered ? errno : 0;
        for (size_t i = 0; i < c->n_runs; i++) {
                struct check_run *run = c->runs[i];
                if (!due(run, now) || socket_errno)
                        continue;
                run->fd = socket(run->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (run->fd < 0)
                        socket_errno = errno;
        }
        if (entered && setns(c->self_fd, CLONE_NEWNET) < 0)
                diag_plain(-errno, "health checks: cannot leave the namespace: %s", strerror(errno));
        for (size_t i = 0; i < c->n_runs; i++)
                if (due(c->runs[i], now) || (c->runs[i]->phase == PHASE_IDLE && c->runs[i]->fd >= 0))
                        run_start(c, c->runs[i], socket_errno ? socket_errno : EMFILE, now);
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
                                run_io(c, evs[i].data.ptr);
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
