/* The floor under the checker's budget: the least a TCP check can cost on
 * this kernel. N connects a second, in batches every 100 ms, to the reals
 * bench/checker.sh declares: a non-blocking socket, connect, one epoll
 * registration, the answer batched by epoll_wait, a reset close (SO_LINGER 0).
 * No state, no schedule, no file. Prints the CPU (user, system) it used over
 * the window, from getrusage.
 * With "nested", the set is polled through an outer epoll set, as the
 * daemon polls the checker's. BASE is the first real's network (127.1.0.0
 * by default; bench/checker.sh's veth mode uses 10.128.0.0): real i is
 * BASE + (i / 62500) << 16 + (i / 250 % 250) << 8 + i % 250 + 1.
 * Usage: checker-floor N SECONDS [nested] [BASE] */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double cpu_s(const struct timeval *tv) {
        return (double) tv->tv_sec + (double) tv->tv_usec / 1e6;
}

int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 10000, seconds = argc > 2 ? atoi(argv[2]) : 10;
        int ep = epoll_create1(0), outer = -1, done = 0, failed = 0;
        bool nested = false, reuse = false;
        struct in_addr base = { htonl(127u << 24 | 1u << 16) };
        for (int i = 3; i < argc; i++)
                if (strcmp(argv[i], "nested") == 0)
                        nested = true;
                else if (strcmp(argv[i], "reuse") == 0)
                        reuse = true;
                else if (inet_pton(AF_INET, argv[i], &base) != 1)
                        return 2;
        if (ep < 0 || n <= 0)
                return 1;
        int *fds = malloc(sizeof(int) * (size_t) n);
        bool *connecting = calloc((size_t) n, sizeof(bool));
        if (!fds || !connecting)
                return 1;
        for (int i = 0; i < n; i++)
                fds[i] = -1;
        if (nested) {
                struct epoll_event ev = { .events = EPOLLIN };
                outer = epoll_create1(0);
                if (outer < 0 || epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev) < 0)
                        return 1;
        }
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        double start = now_s();
        for (int tick = 0; tick < seconds * 10; tick++) {
                for (int k = 0; k < n / 10; k++) {
                        int i = (tick % 10) * (n / 10) + k;
                        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(8080) };
                        sa.sin_addr.s_addr = htonl(ntohl(base.s_addr) + ((unsigned) (i / 62500) << 16) +
                                                   ((unsigned) (i / 250 % 250) << 8) + (unsigned) (i % 250 + 1));
                        if (reuse) {
                                /* One socket per real for good, registered once, edge-triggered:
                                 * a connect, its answer, a disconnect (AF_UNSPEC: the reset). */
                                if (fds[i] < 0) {
                                        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                                        struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.u64 = (uint64_t) i };
                                        if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
                                                return 1;
                                }
                                connecting[i] = true;
                                if (connect(fds[i], (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                                        failed++;
                                        connecting[i] = false;
                                }
                                continue;
                        }
                        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                        if (fd < 0)
                                return 1;
                        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                                failed++;
                                close(fd);
                                continue;
                        }
                        struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = (uint64_t) fd };
                        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                /* Collect the answers until the next batch is due. */
                double next = start + (tick + 1) / 10.0;
                for (double t; (t = now_s()) < next;) {
                        struct epoll_event evs[256];
                        if (outer >= 0 && epoll_wait(outer, evs, 1, (int) ((next - t) * 1000) + 1) <= 0)
                                continue;
                        int m = epoll_wait(ep, evs, 256, outer >= 0 ? 0 : (int) ((next - t) * 1000) + 1);
                        for (int j = 0; j < m; j++) {
                                if (reuse) {
                                        int i = (int) evs[j].data.u64;
                                        if (!connecting[i])
                                                continue; /* the disconnect's own wake-up */
                                        connecting[i] = false;
                                        struct sockaddr unspec = { .sa_family = AF_UNSPEC };
                                        connect(fds[i], &unspec, sizeof(unspec));
                                        if (evs[j].events & EPOLLERR)
                                                failed++;
                                        else
                                                done++;
                                        continue;
                                }
                                struct linger lg = { .l_onoff = 1, .l_linger = 0 };
                                setsockopt((int) evs[j].data.u64, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                                close((int) evs[j].data.u64);
                                if (evs[j].events & EPOLLERR)
                                        failed++;
                                else
                                        done++;
                        }
                }
        }
        getrusage(RUSAGE_SELF, &r1);
        double user = cpu_s(&r1.ru_utime) - cpu_s(&r0.ru_utime), sys = cpu_s(&r1.ru_stime) - cpu_s(&r0.ru_stime);
        printf("floor%s%s %d connects/s: cpu=%.1f%% of one core (%.2f s over %d s, user %.2f s); %d connected, %d failed\n", outer >= 0 ? " (nested epoll)" : "", reuse ? " (a socket per real, reused)" : "", n,
               100 * (user + sys) / seconds, user + sys, seconds, user, done, failed);
        return 0;
}
