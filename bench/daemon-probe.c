/* bench/daemon.sh's clock: "rename FROM TO" prints the time just before
 * rename(2); "poll SET ADDRESS USEC" tests the set for the IPv4 address
 * through the ip_set netlink protocol every USEC microseconds and prints the
 * time of the first test that finds it. A test is one datagram each way, a
 * few microseconds of CPU: no process started per test, as `ipset test` in a
 * loop did (2-5 ms apart), so the resolution is USEC. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double print_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        printf("%lld.%09ld\n", (long long) ts.tv_sec, ts.tv_nsec);
        fflush(stdout);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* 1 when the set holds addr, 0 when not, -errno on any other answer. */
static int set_test(struct mnl_socket *nl, const char *set, const struct in_addr *addr, unsigned seq) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_TEST;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
        nfg->nfgen_family = AF_INET;
        nfg->version = NFNETLINK_V0;
        mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
        mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, set);
        struct nlattr *data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
        struct nlattr *ip = mnl_attr_nest_start(nlh, IPSET_ATTR_IP);
        mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, sizeof(*addr), addr);
        mnl_attr_nest_end(nlh, ip);
        mnl_attr_nest_end(nlh, data);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0)
                return -errno;
        int r = mnl_cb_run(buf, (size_t) n, seq, mnl_socket_get_portid(nl), NULL, NULL);
        if (r >= 0)
                return 1;
        return errno == IPSET_ERR_EXIST ? 0 : -errno;
}

int main(int argc, char **argv) {
        if (argc == 4 && strcmp(argv[1], "rename") == 0) {
                double t0 = print_now();
                if (rename(argv[2], argv[3]) < 0) {
                        perror("rename");
                        return 1;
                }
                /* A rename may wait for the file system's journal when the
                 * disk is busy: say so beside the sample. */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                double ms = ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9 - t0) * 1000;
                const char *said = getenv("PROBE_RENAME_MS"); /* say it from this many ms on (default 5) */
                if (ms > (said ? atof(said) : 5))
                        fprintf(stderr, "daemon-probe: the rename itself took %.1f ms\n", ms);
                return 0;
        }
        struct in_addr addr;
        if (argc != 5 || strcmp(argv[1], "poll") != 0 || inet_pton(AF_INET, argv[3], &addr) != 1) {
                fprintf(stderr, "usage: %s rename FROM TO | poll SET IPV4 USEC\n", argv[0]);
                return 2;
        }
        struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
        if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                perror("netlink");
                return 1;
        }
        struct timespec gap = { 0, strtol(argv[4], NULL, 10) * 1000 };
        for (unsigned seq = 1;; seq++) {
                int r = set_test(nl, argv[2], &addr, seq);
                if (r < 0) {
                        fprintf(stderr, "test %s %s: %s\n", argv[2], argv[3], strerror(-r));
                        return 1;
                }
                if (r > 0)
                        break;
                nanosleep(&gap, NULL);
        }
        print_now();
        mnl_socket_close(nl);
        return 0;
}
