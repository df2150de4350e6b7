/* Probes for confirmed applies: the default gateway answers a ping, a name
 * resolves, a TCP port accepts, a command exits 0. Each runs in a child
 * process inside the run's network namespace, so that a probe that hangs (a
 * resolver, a connect) is killed at its timeout and the caller never blocks
 * past it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reconcile.h"

static const char *const probe_type_words[_PROBE_TYPE_MAX] = {
        [PROBE_GATEWAY] = "gateway", [PROBE_DNS] = "dns", [PROBE_TCP] = "tcp", [PROBE_EXEC] = "exec",
};
const struct enum_table probe_type_table = { "probe", probe_type_words, _PROBE_TYPE_MAX };

int probe_parse(const char *spec, struct probe *p) {
        *p = (struct probe) { .spec = xstrdup(spec) };
        const char *colon = strchr(spec, ':');
        _cleanup_free_ char *word = colon ? strndup(spec, (size_t) (colon - spec)) : xstrdup(spec);
        int t = enum_from_string(&probe_type_table, word);
        const char *arg = colon ? colon + 1 : NULL;
        int r = 0;
        if (t < 0)
                r = diag_plain(-EINVAL, "--probe %s: expected gateway, dns:NAME, tcp:HOST:PORT or exec:COMMAND", spec);
        else if (t == PROBE_GATEWAY && arg)
                r = diag_plain(-EINVAL, "--probe %s: gateway takes no argument (it pings the default route's gateway)", spec);
        else if (t != PROBE_GATEWAY && (!arg || !*arg))
                r = diag_plain(-EINVAL, "--probe %s: %s needs %s", spec, word,
                               t == PROBE_DNS ? "a name" : t == PROBE_TCP ? "HOST:PORT" : "a command");
        else if (t == PROBE_TCP) {
                /* The port is after the last colon: an IPv6 host is written [2001:db8::1]:443. */
                const char *last = strrchr(arg, ':');
                if (!last || last == arg || !last[1] || strspn(last + 1, "0123456789") != strlen(last + 1))
                        r = diag_plain(-EINVAL, "--probe %s: expected tcp:HOST:PORT", spec);
                else {
                        const char *h = arg, *end = last;
                        if (*h == '[' && end[-1] == ']') {
                                h++;
                                end--;
                        }
                        p->host = strndup(h, (size_t) (end - h));
                        p->port = xstrdup(last + 1);
                }
        }
        if (r < 0) {
                probe_done(p);
                return r;
        }
        p->type = t;
        p->arg = arg ? xstrdup(arg) : NULL;
        return 0;
}

void probe_done(struct probe *p) {
        if (!p)
                return;
        free(p->spec);
        free(p->arg);
        free(p->host);
        free(p->port);
        free(p->error);
        memset(p, 0, sizeof(*p));
}

/* ---- in the child ---- */

static void child_fail(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void child_fail(int fd, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > 0 && write(fd, buf, (size_t) n < sizeof(buf) ? (size_t) n : sizeof(buf) - 1) < 0)
                _exit(2);
        _exit(1);
}

static uint16_t icmp_checksum(const void *data, size_t len) {
        const uint8_t *b = data;
        uint32_t sum = 0;
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t) (b[i] << 8 | b[i + 1]);
        if (len & 1)
                sum += (uint32_t) b[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return htons((uint16_t) ~sum);
}

/* The IPv4 default route's gateway, from the namespace's /proc/net/route. */
static int default_gateway(struct in_addr *gw) {
        FILE *f = fopen("/proc/self/net/route", "re");
        if (!f)
                return -errno;
        char line[256];
        int r = -ENOENT;
        while (fgets(line, sizeof(line), f)) {
                char dev[64];
                unsigned dest, gateway, flags, mask;
                if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", dev, &dest, &gateway, &flags, &mask) == 5 && dest == 0 &&
                    mask == 0 && (flags & 0x2 /* RTF_GATEWAY */)) {
                        gw->s_addr = gateway;
                        r = 0;
                        break;
                }
        }
        fclose(f);
        return r;
}

__attribute__((noreturn)) static void probe_gateway(int fd, int timeout_ms) {
        struct in_addr gw;
        if (default_gateway(&gw) < 0)
                child_fail(fd, "no IPv4 default route with a gateway");
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &gw, addr, sizeof(addr));
        int s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (s < 0)
                child_fail(fd, "gateway %s: cannot open an ICMP socket: %s", addr, strerror(errno));
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = gw };
        uint16_t id = (uint16_t) getpid();
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        /* One echo request every 200 ms until a reply or the timeout. */
        for (uint16_t seq = 1;; seq++) {
                struct icmphdr req = { .type = ICMP_ECHO, .un.echo = { htons(id), htons(seq) } };
                req.checksum = icmp_checksum(&req, sizeof(req));
                if (sendto(s, &req, sizeof(req), 0, (struct sockaddr *) &to, sizeof(to)) < 0 && errno != EHOSTUNREACH &&
                    errno != ENETUNREACH)
                        child_fail(fd, "gateway %s: %s", addr, strerror(errno));
                for (;;) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                        if (elapsed >= timeout_ms)
                                child_fail(fd, "gateway %s: no reply to ping within %d ms", addr, timeout_ms);
                        long wait = 200 - elapsed % 200;
                        struct pollfd pfd = { .fd = s, .events = POLLIN };
                        if (poll(&pfd, 1, (int) wait) <= 0)
                                break; /* the next request */
                        unsigned char buf[1500];
                        struct sockaddr_in from;
                        socklen_t fl = sizeof(from);
                        ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);
                        if (n < (ssize_t) sizeof(struct iphdr))
                                continue;
                        size_t ihl = (size_t) (buf[0] & 0x0f) * 4;
                        if ((size_t) n < ihl + sizeof(struct icmphdr))
                                continue;
                        const struct icmphdr *rep = (const struct icmphdr *) (buf + ihl);
                        if (rep->type == ICMP_ECHOREPLY && ntohs(rep->un.echo.id) == id && from.sin_addr.s_addr == gw.s_addr)
                                _exit(0);
                }
        }
}

__attribute__((noreturn)) static void probe_dns(int fd, const char *name) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
        int r = getaddrinfo(name, NULL, &hints, &res);
        if (r != 0)
                child_fail(fd, "%s: %s", name, gai_strerror(r));
        freeaddrinfo(res);
        _exit(0);
}

__attribute__((noreturn)) static void probe_tcp(int fd, const char *host, const char *port) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
        int r = getaddrinfo(host, port, &hints, &res);
        if (r != 0)
                child_fail(fd, "%s: %s", host, gai_strerror(r));
        int err = 0;
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
                if (s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
                        _exit(0);
                err = errno;
                if (s >= 0)
                        close(s);
        }
        child_fail(fd, "%s port %s: %s", host, port, strerror(err));
}

/* The command's output (the pipe) is its error when it fails. */
__attribute__((noreturn)) static void probe_exec(int fd, const char *cmd) {
        pid_t pid = fork();
        if (pid < 0)
                child_fail(fd, "cannot fork: %s", strerror(errno));
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                _exit(0);
        /* After what the command wrote, if anything: the caller joins the lines. */
        if (WIFEXITED(status))
                child_fail(fd, "\nexit status %d", WEXITSTATUS(status));
        child_fail(fd, "\nkilled by signal %d", WTERMSIG(status));
}

static int enter_netns(const char *netns) {
        _cleanup_free_ char *path = strchr(netns, '/') ? xstrdup(netns) : xasprintf("/run/netns/%s", netns);
        int nfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nfd < 0)
                return -errno;
        int r = setns(nfd, CLONE_NEWNET) < 0 ? -errno : 0;
        close(nfd);
        return r;
}

/* ---- in the caller ---- */

int probe_run(struct probe *p, const char *netns, int timeout_ms) {
        free(p->error);
        p->error = NULL;
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                p->error = xasprintf("cannot make a pipe: %s", strerror(errno));
                return -errno;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                p->error = xasprintf("cannot fork: %s", strerror(-r));
                return r;
        }
        if (pid == 0) {
                /* Its own process group: a timeout kills the command and all it started. */
                setpgid(0, 0);
                close(pipefd[0]);
                signal(SIGPIPE, SIG_DFL);
                if (netns && enter_netns(netns) < 0)
                        child_fail(pipefd[1], "cannot enter network namespace %s: %s", netns, strerror(errno));
                switch (p->type) {
                case PROBE_GATEWAY:
                        /* Its own verdict before the parent's: the wait for a reply is up to 200 ms past it. */
                        probe_gateway(pipefd[1], timeout_ms > 500 ? timeout_ms - 300 : timeout_ms / 2);
                case PROBE_DNS:
                        probe_dns(pipefd[1], p->arg);
                case PROBE_TCP:
                        probe_tcp(pipefd[1], p->host, p->port);
                case PROBE_EXEC:
                        probe_exec(pipefd[1], p->arg);
                default:
                        _exit(3);
                }
        }
        close(pipefd[1]);
        char out[512];
        size_t len = 0;
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        bool timed_out = false;
        for (;;) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
                int n = poll(&pfd, 1, (int) left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        timed_out = n == 0;
                        break;
                }
                ssize_t got = read(pipefd[0], out + len, sizeof(out) - 1 - len);
                if (got <= 0)
                        break; /* EOF: the child is done */
                len += (size_t) got;
                if (len == sizeof(out) - 1)
                        break;
        }
        close(pipefd[0]);
        if (timed_out && kill(-pid, SIGKILL) < 0)
                kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        out[len] = '\0';
        while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
                out[--len] = '\0';
        /* One line for the status and the log: "its output; exit status 3". */
        char line[sizeof(out) * 2];
        size_t l = 0;
        for (const char *c = out + strspn(out, "\n "); *c; c++) {
                if (*c != '\n')
                        line[l++] = *c;
                else if (l && line[l - 1] != ' ' && c[1] && c[1] != '\n') {
                        line[l++] = ';';
                        line[l++] = ' ';
                }
        }
        line[l] = '\0';
        if (timed_out) {
                p->error = xasprintf("no answer within %d ms", timeout_ms);
                return -ETIMEDOUT;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        p->error = xstrdup(l ? line : "failed");
        return -EIO;
}

/* Each attempt after the change, and the least one worth making. */
#define PROBE_ATTEMPT_MS 2000
#define PROBE_ATTEMPT_MIN_MS 1000

static long ms_since(const struct timespec *start) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* A probe that fails before the change is not required after it: it gets a few
 * tries first, so that a slow moment (a loaded host) does not waive it. */
#define PROBE_TRIES_BEFORE 3

void probes_before(struct probe *v, size_t n, const char *netns, int timeout_ms) {
        for (size_t i = 0; i < n; i++) {
                v[i].passed_before = false;
                for (int t = 0; t < PROBE_TRIES_BEFORE && !v[i].passed_before; t++)
                        v[i].passed_before = probe_run(&v[i], netns, timeout_ms) == 0;
                v[i].passed_after = false;
        }
}

struct probe *probes_confirm(struct probe *v, size_t n, const char *netns, int seconds, bool (*stop)(void)) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        long window = (long) seconds * 1000;
        for (;;) {
                bool all = true;
                struct probe *failing = NULL;
                for (size_t i = 0; i < n; i++) {
                        if (!v[i].passed_before || v[i].passed_after)
                                continue;
                        long left = window - ms_since(&start);
                        int timeout = left < PROBE_ATTEMPT_MS ? (int) left : PROBE_ATTEMPT_MS;
                        /* A last attempt too short to be fair would only say it had no time. */
                        if (timeout < PROBE_ATTEMPT_MIN_MS && v[i].error) {
                                all = false;
                                failing = failing ? failing : &v[i];
                                continue;
                        }
                        if (timeout < PROBE_ATTEMPT_MIN_MS)
                                timeout = PROBE_ATTEMPT_MIN_MS;
                        v[i].passed_after = probe_run(&v[i], netns, timeout) == 0;
                        if (!v[i].passed_after) {
                                all = false;
                                failing = failing ? failing : &v[i];
                        }
                }
                if (all)
                        return NULL;
                if (ms_since(&start) >= window || (stop && stop()))
                        return failing;
                struct timespec pause = { 0, 200 * 1000000 };
                nanosleep(&pause, NULL);
        }
}
