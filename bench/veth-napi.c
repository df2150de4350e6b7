/* Put a veth's receive into NAPI, as `ethtool -K DEV gro on tso off` would
 * (ethtool is not installed here): veth queues a frame to its peer's NAPI
 * only when the peer has GRO on and the sender has TSO off
 * (veth_skb_is_eligible_for_gro, kernel >= 5.13); otherwise the receive runs
 * in the sender's own softirq. Writing 1 to /sys/class/net/DEV/threaded
 * (bench/checker.sh does) then moves that NAPI into a kthread napi/DEV-N.
 * Uses the legacy SIOCETHTOOL commands ETHTOOL_SGRO and ETHTOOL_STSO, then
 * reads both back. Usage: veth-napi DEV (in DEV's namespace). */
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int ethtool_value(int fd, const char *dev, unsigned cmd, unsigned *data) {
        struct ethtool_value v = { .cmd = cmd, .data = *data };
        struct ifreq ifr = { 0 };
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
        ifr.ifr_data = (char *) &v;
        if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
                return -1;
        *data = v.data;
        return 0;
}

int main(int argc, char **argv) {
        if (argc != 2 || strlen(argv[1]) >= IFNAMSIZ) {
                fprintf(stderr, "usage: veth-napi DEV\n");
                return 2;
        }
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        unsigned gro = 1, tso = 0, gro_now = 0, tso_now = 1;
        if (fd < 0 || ethtool_value(fd, argv[1], ETHTOOL_SGRO, &gro) < 0 || ethtool_value(fd, argv[1], ETHTOOL_STSO, &tso) < 0 ||
            ethtool_value(fd, argv[1], ETHTOOL_GGRO, &gro_now) < 0 || ethtool_value(fd, argv[1], ETHTOOL_GTSO, &tso_now) < 0) {
                perror(argv[1]);
                return 1;
        }
        close(fd);
        if (!gro_now || tso_now) {
                fprintf(stderr, "%s: gro %s, tso %s after setting them\n", argv[1], gro_now ? "on" : "off", tso_now ? "on" : "off");
                return 1;
        }
        return 0;
}
