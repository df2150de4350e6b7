/* IPVS virtual services and real servers through generic netlink with libmnl.
 * The kernel knows a service by (protocol, address, port) or fwmark, so that
 * is its identity in the live model and the ledger. Each service field and
 * each real server is its own change: one weight is one message. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "kind.h"
#include "ipvs-check.h"

/* Datagrams taken per receive call, and the size of each. The kernel sizes a
 * dump's datagrams to the largest buffer the socket reads with: 32 KiB made
 * every service's small GET_DEST dump allocate 32 KiB, and measured slower. */
#define RECV_BATCH 8
#define RECV_SIZE ((size_t) MNL_SOCKET_BUFFER_SIZE)

struct ipvs_state {
        struct mnl_socket *nl;
        uint16_t family;  /* the IPVS genl family id */
        unsigned seq, portid;
        char err[256];
        unsigned char *rbuf; /* RECV_BATCH buffers of RECV_SIZE */
        /* The health checks' state as the daemon's checker last wrote it. */
        struct check_status *checks;
        size_t n_checks;
};

static const int proto_numbers[] = { [PROTO_TCP] = IPPROTO_TCP, [PROTO_UDP] = IPPROTO_UDP, [PROTO_SCTP] = IPPROTO_SCTP };
static const uint32_t fwd_bits[] = { [FWD_MASQ] = IP_VS_CONN_F_MASQ, [FWD_ROUTE] = IP_VS_CONN_F_DROUTE,
                                     [FWD_TUNNEL] = IP_VS_CONN_F_TUNNEL };

/* ---- talking to the kernel ---- */

static struct nlmsghdr *msg_start(struct ipvs_state *s, char *buf, uint16_t type, uint8_t cmd, uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = ++s->seq;
        struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->cmd = cmd;
        g->version = IPVS_GENL_VERSION;
        return nlh;
}

struct reply {
        struct ipvs_state *s;
        mnl_cb_t cb;
        void *data;
};

/* Send nlh, run cb on every answer until the kernel's ack or the dump's end.
 * A socket runs one dump at a time (a second request is refused with EBUSY
 * until the first has ended), and the kernel fills a dump's next datagram
 * while the one before is read: one recvmmsg takes a service's reals and
 * the dump's end, and up to RECV_BATCH datagrams of a long dump. */
static int talk(struct ipvs_state *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data) {
        struct mmsghdr msgs[RECV_BATCH];
        struct iovec iov[RECV_BATCH];
        s->err[0] = '\0';
        if (!(nlh->nlmsg_flags & NLM_F_DUMP))
                nlh->nlmsg_flags |= NLM_F_ACK;
        if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        unsigned seq = nlh->nlmsg_seq;
        for (;;) {
                memset(msgs, 0, sizeof(msgs));
                for (size_t i = 0; i < RECV_BATCH; i++) {
                        iov[i] = (struct iovec) { s->rbuf + i * RECV_SIZE, RECV_SIZE };
                        msgs[i].msg_hdr.msg_iov = &iov[i];
                        msgs[i].msg_hdr.msg_iovlen = 1;
                }
                int n = recvmmsg(mnl_socket_get_fd(s->nl), msgs, RECV_BATCH, MSG_WAITFORONE, NULL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (int i = 0; i < n; i++) {
                        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                                return -EMSGSIZE;
                        int r = mnl_cb_run(iov[i].iov_base, msgs[i].msg_len, seq, s->portid, cb, data);
                        if (r == MNL_CB_STOP)
                                return 0; /* nothing follows: the next request is not sent yet */
                        if (r < 0)
                                return -errno;
                }
        }
}

static int on_family(const struct nlmsghdr *nlh, void *data) {
        struct nlattr *a;
        mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
                if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
                        *(uint16_t *) data = mnl_attr_get_u16(a);
        return MNL_CB_OK;
}

/* ---- services and reals in messages ---- */

static void put_addr(struct nlmsghdr *nlh, uint16_t type, const struct ipaddr *a) {
        unsigned char raw[16] = { 0 };
        memcpy(raw, a->a, a->family == AF_INET ? 4 : 16);
        mnl_attr_put(nlh, type, sizeof(raw), raw); /* union nf_inet_addr: always 16 bytes */
}

static int family_of(const struct resource *r) {
        const struct service_spec *v = &r->service;
        if (r->set & SVC_F_FWMARK)
                return r->set & SVC_F_FAMILY && v->family == FAMILY_INET6 ? AF_INET6 : AF_INET;
        return v->address.family;
}

/* The service's identity attributes; with full, every field NEW/SET_SERVICE needs. */
static void put_service(struct nlmsghdr *nlh, const struct resource *r, bool full) {
        const struct service_spec *v = &r->service;
        int af = family_of(r);
        struct nlattr *nest = mnl_attr_nest_start(nlh, IPVS_CMD_ATTR_SERVICE);
        mnl_attr_put_u16(nlh, IPVS_SVC_ATTR_AF, (uint16_t) af);
        if (r->set & SVC_F_FWMARK)
                mnl_attr_put_u32(nlh, IPVS_SVC_ATTR_FWMARK, v->fwmark);
        else {
                mnl_attr_put_u16(nlh, IPVS_SVC_ATTR_PROTOCOL, (uint16_t) proto_numbers[v->protocol]);
                put_addr(nlh, IPVS_SVC_ATTR_ADDR, &v->address);
                mnl_attr_put_u16(nlh, IPVS_SVC_ATTR_PORT, htons((uint16_t) v->port));
        }
        if (full) {
                struct ip_vs_flags flags = { .flags = (v->persistence ? IP_VS_SVC_F_PERSISTENT : 0) |
                                                      (v->sh_fallback ? IP_VS_SVC_F_SCHED_SH_FALLBACK : 0) |
                                                      (v->sh_port ? IP_VS_SVC_F_SCHED_SH_PORT : 0) |
                                                      (v->one_packet ? IP_VS_SVC_F_ONEPACKET : 0),
                                             .mask = ~0u };
                mnl_attr_put_strz(nlh, IPVS_SVC_ATTR_SCHED_NAME, v->scheduler);
                mnl_attr_put(nlh, IPVS_SVC_ATTR_FLAGS, sizeof(flags), &flags);
                mnl_attr_put_u32(nlh, IPVS_SVC_ATTR_TIMEOUT, v->persistence);
                uint32_t mask = af == AF_INET ? 0xffffffffu : 128;
                if (r->set & SVC_F_NETMASK) {
                        if (af == AF_INET)
                                memcpy(&mask, v->netmask.a, 4);
                        else
                                mask = v->netmask.prefix;
                }
                mnl_attr_put_u32(nlh, IPVS_SVC_ATTR_NETMASK, mask);
        }
        mnl_attr_nest_end(nlh, nest);
}

static void put_real(struct nlmsghdr *nlh, const struct real_spec *rs, bool full) {
        struct nlattr *nest = mnl_attr_nest_start(nlh, IPVS_CMD_ATTR_DEST);
        put_addr(nlh, IPVS_DEST_ATTR_ADDR, &rs->address);
        mnl_attr_put_u16(nlh, IPVS_DEST_ATTR_PORT, htons((uint16_t) rs->port));
        mnl_attr_put_u16(nlh, IPVS_DEST_ATTR_ADDR_FAMILY, (uint16_t) rs->address.family);
        if (full) {
                mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_FWD_METHOD, fwd_bits[rs->forwarding]);
                mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_WEIGHT, rs->weight);
                mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_U_THRESH, rs->upper);
                mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_L_THRESH, rs->lower);
        }
        mnl_attr_nest_end(nlh, nest);
}

/* ---- identity ---- */

static const char *ipvs_identity(const struct resource *r, char *buf, size_t size) {
        char a[64];
        if (r->set & SVC_F_FWMARK)
                snprintf(buf, size, "fwmark:%s:%u", family_of(r) == AF_INET6 ? "inet6" : "inet", r->service.fwmark);
        else if (r->service.address.family == AF_INET6)
                snprintf(buf, size, "%s:[%s]:%u", enum_to_string(&ipvs_proto_table, r->service.protocol),
                         ipaddr_format(&r->service.address, false, a, sizeof(a)), r->service.port);
        else
                snprintf(buf, size, "%s:%s:%u", enum_to_string(&ipvs_proto_table, r->service.protocol),
                         ipaddr_format(&r->service.address, false, a, sizeof(a)), r->service.port);
        return buf;
}

static char *put_decimal(char *p, uint32_t v) {
        char digits[10];
        int n = 0;
        do
                digits[n++] = (char) ('0' + v % 10);
        while (v /= 10);
        while (n)
                *p++ = digits[--n];
        return p;
}

/* "192.0.2.1:80" or "[2001:db8::1]:80". An IPv4 key is written by hand: the
 * diff makes one per real, and snprintf with inet_ntop was a tenth of a
 * no-op plan of 10,000 services. */
static char *real_key(const struct real_spec *rs, char *buf, size_t size) {
        char a[64];
        if (rs->address.family == AF_INET6)
                snprintf(buf, size, "[%s]:%u", ipaddr_format(&rs->address, false, a, sizeof(a)), rs->port);
        else if (size < sizeof("255.255.255.255:4294967295"))
                snprintf(buf, size, "%s:%u", ipaddr_format(&rs->address, false, a, sizeof(a)), rs->port);
        else {
                char *p = buf;
                for (int i = 0; i < 4; i++) {
                        p = put_decimal(p, rs->address.a[i]);
                        *p++ = i < 3 ? '.' : ':';
                }
                *put_decimal(p, rs->port) = '\0';
        }
        return buf;
}

/* ---- observe ---- */

static void read_addr(const struct nlattr *a, int af, struct ipaddr *out) {
        memset(out, 0, sizeof(*out));
        out->family = af;
        memcpy(out->a, mnl_attr_get_payload(a), af == AF_INET ? 4 : 16);
        out->prefix = af == AF_INET ? 32 : 128;
}

struct svc_dump {
        struct model *live;
        struct resource **found;
        size_t n;
};

static int on_service(const struct nlmsghdr *nlh, void *data) {
        struct svc_dump *d = data;
        struct nlattr *tb[IPVS_SVC_ATTR_MAX + 1] = { 0 }, *a, *svc = NULL;
        mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
                if (mnl_attr_get_type(a) == IPVS_CMD_ATTR_SERVICE)
                        svc = a;
        if (!svc)
                return MNL_CB_OK;
        mnl_attr_for_each_nested(a, svc)
                if (mnl_attr_get_type(a) <= IPVS_SVC_ATTR_MAX)
                        tb[mnl_attr_get_type(a)] = a;
        if (!tb[IPVS_SVC_ATTR_AF])
                return MNL_CB_OK;
        struct resource *r = resource_new(KIND_SERVICE, "");
        struct service_spec *v = &r->service;
        int af = mnl_attr_get_u16(tb[IPVS_SVC_ATTR_AF]);
        if (tb[IPVS_SVC_ATTR_FWMARK] && mnl_attr_get_u32(tb[IPVS_SVC_ATTR_FWMARK])) {
                v->fwmark = mnl_attr_get_u32(tb[IPVS_SVC_ATTR_FWMARK]);
                v->family = af == AF_INET6 ? FAMILY_INET6 : FAMILY_INET;
                r->set |= SVC_F_FWMARK | SVC_F_FAMILY;
        } else {
                int proto = tb[IPVS_SVC_ATTR_PROTOCOL] ? mnl_attr_get_u16(tb[IPVS_SVC_ATTR_PROTOCOL]) : 0;
                v->protocol = proto == IPPROTO_UDP ? PROTO_UDP : proto == IPPROTO_SCTP ? PROTO_SCTP : PROTO_TCP;
                if (tb[IPVS_SVC_ATTR_ADDR])
                        read_addr(tb[IPVS_SVC_ATTR_ADDR], af, &v->address);
                v->port = tb[IPVS_SVC_ATTR_PORT] ? ntohs(mnl_attr_get_u16(tb[IPVS_SVC_ATTR_PORT])) : 0;
                r->set |= SVC_F_PROTOCOL | SVC_F_ADDRESS | SVC_F_PORT;
        }
        if (tb[IPVS_SVC_ATTR_SCHED_NAME])
                snprintf(v->scheduler, sizeof(v->scheduler), "%s", mnl_attr_get_str(tb[IPVS_SVC_ATTR_SCHED_NAME]));
        if (tb[IPVS_SVC_ATTR_FLAGS]) {
                const struct ip_vs_flags *f = mnl_attr_get_payload(tb[IPVS_SVC_ATTR_FLAGS]);
                if ((f->flags & IP_VS_SVC_F_PERSISTENT) && tb[IPVS_SVC_ATTR_TIMEOUT])
                        v->persistence = mnl_attr_get_u32(tb[IPVS_SVC_ATTR_TIMEOUT]);
                v->sh_fallback = f->flags & IP_VS_SVC_F_SCHED_SH_FALLBACK;
                v->sh_port = f->flags & IP_VS_SVC_F_SCHED_SH_PORT;
                v->one_packet = f->flags & IP_VS_SVC_F_ONEPACKET;
        }
        if (tb[IPVS_SVC_ATTR_NETMASK]) {
                uint32_t m = mnl_attr_get_u32(tb[IPVS_SVC_ATTR_NETMASK]);
                v->netmask.family = af;
                if (af == AF_INET) {
                        memcpy(v->netmask.a, &m, 4);
                        v->netmask.prefix = 32;
                } else
                        v->netmask.prefix = m;
                r->set |= SVC_F_NETMASK;
        }
        r->set |= SVC_F_SCHEDULER | SVC_F_PERSISTENCE | SVC_F_REALS | SVC_F_SH_FALLBACK | SVC_F_SH_PORT | SVC_F_ONE_PACKET;
        char key[256];
        free(r->name);
        r->name = xstrdup(ipvs_identity(r, key, sizeof(key)));
        if (model_add(d->live, r) < 0) {
                resource_free(r);
                return MNL_CB_OK;
        }
        *(struct resource **) array_push(&d->found, &d->n, sizeof(r)) = r;
        return MNL_CB_OK;
}

static int on_dest(const struct nlmsghdr *nlh, void *data) {
        struct resource *svc = data;
        struct nlattr *tb[IPVS_DEST_ATTR_MAX + 1] = { 0 }, *a, *dest = NULL;
        mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
                if (mnl_attr_get_type(a) == IPVS_CMD_ATTR_DEST)
                        dest = a;
        if (!dest)
                return MNL_CB_OK;
        mnl_attr_for_each_nested(a, dest)
                if (mnl_attr_get_type(a) <= IPVS_DEST_ATTR_MAX)
                        tb[mnl_attr_get_type(a)] = a;
        if (!tb[IPVS_DEST_ATTR_ADDR])
                return MNL_CB_OK;
        struct real_spec *rs = array_push(&svc->service.reals, &svc->service.n_reals, sizeof(*rs));
        int af = tb[IPVS_DEST_ATTR_ADDR_FAMILY] ? mnl_attr_get_u16(tb[IPVS_DEST_ATTR_ADDR_FAMILY]) : family_of(svc);
        read_addr(tb[IPVS_DEST_ATTR_ADDR], af, &rs->address);
        rs->port = tb[IPVS_DEST_ATTR_PORT] ? ntohs(mnl_attr_get_u16(tb[IPVS_DEST_ATTR_PORT])) : 0;
        rs->weight = tb[IPVS_DEST_ATTR_WEIGHT] ? mnl_attr_get_u32(tb[IPVS_DEST_ATTR_WEIGHT]) : 0;
        rs->upper = tb[IPVS_DEST_ATTR_U_THRESH] ? mnl_attr_get_u32(tb[IPVS_DEST_ATTR_U_THRESH]) : 0;
        rs->lower = tb[IPVS_DEST_ATTR_L_THRESH] ? mnl_attr_get_u32(tb[IPVS_DEST_ATTR_L_THRESH]) : 0;
        uint32_t fwd = tb[IPVS_DEST_ATTR_FWD_METHOD] ? mnl_attr_get_u32(tb[IPVS_DEST_ATTR_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK : 0;
        rs->forwarding = fwd == IP_VS_CONN_F_DROUTE ? FWD_ROUTE : fwd == IP_VS_CONN_F_TUNNEL ? FWD_TUNNEL : FWD_MASQ;
        rs->set = REAL_F_ADDRESS | REAL_F_PORT | REAL_F_WEIGHT | REAL_F_FORWARDING | REAL_F_UPPER | REAL_F_LOWER;
        return MNL_CB_OK;
}

/* The real servers of every service found (one GET_DEST dump each: the kernel
 * lists destinations per service only), after r, the services' own read. */
static int read_dests(struct ipvs_state *s, struct svc_dump *d, int r) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        for (size_t i = 0; r >= 0 && i < d->n; i++) {
                struct nlmsghdr *nlh = msg_start(s, buf, s->family, IPVS_CMD_GET_DEST, NLM_F_DUMP);
                put_service(nlh, d->found[i], false);
                r = talk(s, nlh, on_dest, d->found[i]);
        }
        free(d->found);
        if (r < 0)
                return diag_plain(r, "ipvs backend: cannot read the virtual services: %s", strerror(-r));
        return 0;
}

/* A running sync daemon, as a resource named by its role. */
static int on_daemon(const struct nlmsghdr *nlh, void *data) {
        struct model *live = data;
        struct nlattr *tb[IPVS_DAEMON_ATTR_MAX + 1] = { 0 }, *a, *daemon = NULL;
        mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
                if (mnl_attr_get_type(a) == IPVS_CMD_ATTR_DAEMON)
                        daemon = a;
        if (!daemon)
                return MNL_CB_OK;
        mnl_attr_for_each_nested(a, daemon)
                if (mnl_attr_get_type(a) <= IPVS_DAEMON_ATTR_MAX)
                        tb[mnl_attr_get_type(a)] = a;
        if (!tb[IPVS_DAEMON_ATTR_STATE])
                return MNL_CB_OK;
        uint32_t role = mnl_attr_get_u32(tb[IPVS_DAEMON_ATTR_STATE]);
        if (role != IP_VS_STATE_MASTER && role != IP_VS_STATE_BACKUP)
                return MNL_CB_OK;
        struct resource *r = resource_new(KIND_IPVS_SYNC, role == IP_VS_STATE_MASTER ? "master" : "backup");
        if (tb[IPVS_DAEMON_ATTR_MCAST_IFN])
                snprintf(r->ipvs_sync.interface, sizeof(r->ipvs_sync.interface), "%s",
                         mnl_attr_get_str(tb[IPVS_DAEMON_ATTR_MCAST_IFN]));
        if (tb[IPVS_DAEMON_ATTR_SYNC_ID])
                r->ipvs_sync.syncid = mnl_attr_get_u32(tb[IPVS_DAEMON_ATTR_SYNC_ID]);
        r->set |= SYNC_F_INTERFACE | SYNC_F_SYNCID;
        if (model_add(live, r) < 0)
                resource_free(r);
        return MNL_CB_OK;
}

static int read_daemons(struct ipvs_state *s, struct model *live) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = msg_start(s, buf, s->family, IPVS_CMD_GET_DAEMON, NLM_F_DUMP);
        int r = talk(s, nlh, on_daemon, live);
        if (r < 0)
                return diag_plain(r, "ipvs backend: cannot read the sync daemons: %s", strerror(-r));
        return 0;
}

/* The connection timeouts' attributes, in the order of timeout_names. */
static const char *const timeout_names[] = { "tcp", "tcpfin", "udp" };
static const uint16_t timeout_attrs[] = { IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
                                          IPVS_CMD_ATTR_TIMEOUT_UDP };

static int on_config(const struct nlmsghdr *nlh, void *data) {
        struct model *live = data;
        struct nlattr *a;
        mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
                for (size_t i = 0; i < ELEMENTSOF(timeout_attrs); i++)
                        if (mnl_attr_get_type(a) == timeout_attrs[i]) {
                                struct resource *r = resource_new(KIND_IPVS_TIMEOUT, timeout_names[i]);
                                r->ipvs_timeout.seconds = mnl_attr_get_u32(a);
                                r->set |= TMO_F_SECONDS;
                                if (model_add(live, r) < 0)
                                        resource_free(r);
                        }
        return MNL_CB_OK;
}

static int read_timeouts(struct ipvs_state *s, struct model *live) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = msg_start(s, buf, s->family, IPVS_CMD_GET_CONFIG, 0);
        int r = talk(s, nlh, on_config, live);
        if (r < 0)
                return diag_plain(r, "ipvs backend: cannot read the connection timeouts: %s", strerror(-r));
        return 0;
}

static int ipvs_observe(void *state, const struct str_list *names, struct model *live) {
        (void) names;
        struct ipvs_state *s = state;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct svc_dump d = { .live = live };
        struct nlmsghdr *nlh = msg_start(s, buf, s->family, IPVS_CMD_GET_SERVICE, NLM_F_DUMP);
        int r = read_dests(s, &d, talk(s, nlh, on_service, &d));
        if (r >= 0)
                r = read_daemons(s, live);
        return r < 0 ? r : read_timeouts(s, live);
}

/* Verification after an apply: the services it touched, one GET_SERVICE and
 * one GET_DEST dump each, instead of every service of the host. */
static int ipvs_observe_some(void *state, const struct resource *const *objs, size_t n, struct model *live) {
        struct ipvs_state *s = state;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct svc_dump d = { .live = live };
        int r = 0;
        bool daemons = false, timeouts = false;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (objs[i]->kind == KIND_IPVS_SYNC || objs[i]->kind == KIND_IPVS_TIMEOUT) {
                        daemons = daemons || objs[i]->kind == KIND_IPVS_SYNC;
                        timeouts = timeouts || objs[i]->kind == KIND_IPVS_TIMEOUT;
                        continue;
                }
                struct nlmsghdr *nlh = msg_start(s, buf, s->family, IPVS_CMD_GET_SERVICE, 0);
                put_service(nlh, objs[i], false);
                r = talk(s, nlh, on_service, &d);
                if (r == -ESRCH || r == -ENOENT)
                        r = 0; /* gone, as a delete wants it */
        }
        r = read_dests(s, &d, r);
        if (r >= 0 && daemons)
                r = read_daemons(s, live);
        return r < 0 || !timeouts ? r : read_timeouts(s, live);
}

/* ---- open / close ---- */

static void ipvs_close(void *state) {
        struct ipvs_state *s = state;
        if (!s)
                return;
        mnl_socket_close(s->nl);
        free(s->rbuf);
        free(s->checks);
        free(s);
}

static int ipvs_open(const struct backend_ctx *ctx, void **state) {
        int saved, r = netns_enter(ctx->netns, &saved);
        if (r < 0)
                return r;
        struct ipvs_state *s = xcalloc(1, sizeof(*s));
        s->rbuf = xcalloc(RECV_BATCH, RECV_SIZE);
        s->nl = mnl_socket_open(NETLINK_GENERIC);
        r = s->nl && mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) == 0 ? 0 : -errno;
        int x = netns_leave(&saved);
        if (r < 0 || x < 0) {
                if (s->nl)
                        mnl_socket_close(s->nl);
                free(s->rbuf);
                free(s);
                return r < 0 ? diag_plain(r, "ipvs backend: cannot open a generic netlink socket: %s", strerror(-r)) : x;
        }
        s->portid = mnl_socket_get_portid(s->nl);
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = GENL_ID_CTRL;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        nlh->nlmsg_seq = ++s->seq;
        struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->cmd = CTRL_CMD_GETFAMILY;
        g->version = 1;
        mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME);
        r = talk(s, nlh, on_family, &s->family);
        if (r < 0 || !s->family) {
                mnl_socket_close(s->nl);
                free(s->rbuf);
                free(s);
                return diag_plain(r < 0 ? r : -ENOENT,
                                  "ipvs backend: the kernel has no IPVS (load ip_vs and the scheduler modules): %s",
                                  strerror(r < 0 ? -r : ENOENT));
        }
        r = check_status_load(ctx->state_dir, &s->checks, &s->n_checks);
        if (r < 0) {
                ipvs_close(s);
                return r;
        }
        *state = s;
        return 0;
}


/* ---- diff ---- */


/* The real of v whose real_key is key. The key is read back once and compared
 * as bytes: formatting every real's key for every lookup was a fifth of a
 * no-op plan of 10,000 services. */
static const struct real_spec *find_real(const struct service_spec *v, const char *key) {
        char addr[64];
        const char *colon = strrchr(key, ':');
        size_t len = colon ? (size_t) (colon - key) : 0;
        bool v6 = key[0] == '[';
        if (!colon || (v6 && (len < 2 || key[len - 1] != ']')) || len >= sizeof(addr))
                return NULL;
        memcpy(addr, key + v6, len - 2 * v6);
        addr[len - 2 * v6] = '\0';
        unsigned char a[16];
        int af = v6 ? AF_INET6 : AF_INET;
        if (inet_pton(af, addr, a) != 1)
                return NULL;
        unsigned long port = strtoul(colon + 1, NULL, 10);
        for (size_t i = 0; i < v->n_reals; i++) {
                const struct real_spec *rs = &v->reals[i];
                if (rs->address.family == af && rs->port == port && memcmp(rs->address.a, a, af == AF_INET ? 4 : 16) == 0)
                        return rs;
        }
        return NULL;
}

static bool real_differs(const struct real_spec *x, const struct real_spec *y) {
        return x->weight != y->weight || x->forwarding != y->forwarding || x->upper != y->upper || x->lower != y->lower;
}

static const char *utc_time(time_t t, char *buf, size_t size) {
        struct tm tm;
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        return buf;
}

/* Whether the checker found rs down (an alpha check: until its first passes),
 * with its on-failure and, in why, since when and the last result. A weight
 * the checker set is what is wanted for now: not drift, never undone. */
static bool real_down(const struct ipvs_state *s, const struct service_spec *v, const struct real_spec *rs,
                      int *on_failure, char *why, size_t size) {
        struct check_spec spec;
        char key[200], when[64];
        if (!check_of_real(v, rs, &spec))
                return false;
        *on_failure = spec.on_failure;
        const struct check_status *st =
                s ? check_status_find(s->checks, s->n_checks, check_key(&spec, &rs->address, rs->port, key, sizeof(key)))
                  : NULL;
        if (!st) {
                snprintf(why, size, "down until its first check passes (alpha)");
                return spec.alpha;
        }
        if (st->state.up)
                return false;
        snprintf(why, size, "down since %s (%u failure%s: %s)", utc_time(st->state.since, when, sizeof(when)),
                 st->state.fails, st->state.fails == 1 ? "" : "s", st->state.result);
        return true;
}

/* A down real the checker quiesces: at weight 0, the rest as the manifest says. */
static bool real_quiesced(const struct real_spec *have, const struct real_spec *want) {
        struct real_spec zero = *want;
        zero.weight = 0;
        return have && !real_differs(have, &zero);
}

static int ipvs_diff(void *state, const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                     struct action *a, struct plan *p) {
        const struct service_spec *want = &w->service, *have = &l->service;
        char buf[96];
        size_t n_up = 0, n_checked_down = 0;
        static const struct {
                uint64_t bit;
                const char *key;
                size_t offset;
        } flag_fields[] = {
                { SVC_F_SH_FALLBACK, "sh-fallback", offsetof(struct service_spec, sh_fallback) },
                { SVC_F_SH_PORT, "sh-port", offsetof(struct service_spec, sh_port) },
                { SVC_F_ONE_PACKET, "one-packet", offsetof(struct service_spec, one_packet) },
        };
        for (size_t i = 0; i < ELEMENTSOF(flag_fields); i++) {
                bool was = *(const bool *) ((const char *) have + flag_fields[i].offset);
                bool now = *(const bool *) ((const char *) want + flag_fields[i].offset);
                if (was != now)
                        action_add_change(a, flag_fields[i].bit, flag_fields[i].key, value_bool(was), value_bool(now));
        }
        if (strcmp(want->scheduler, have->scheduler) != 0)
                action_add_change(a, SVC_F_SCHEDULER, "scheduler", value_text(have->scheduler), value_text(want->scheduler));
        if (want->persistence != have->persistence)
                action_add_change(a, SVC_F_PERSISTENCE, "persistence",
                                  have->persistence ? value_number(have->persistence) : VALUE_NONE,
                                  want->persistence ? value_number(want->persistence) : VALUE_NONE);
        if ((w->set & SVC_F_NETMASK) && !ipaddr_equal(&want->netmask, &have->netmask) &&
            memcmp(want->netmask.a, have->netmask.a, 4) != 0)
                action_add_change(a, SVC_F_NETMASK, "netmask", value_addr(&have->netmask), value_addr(&want->netmask));
        for (size_t i = 0; i < want->n_reals; i++) {
                const struct real_spec *rs = &want->reals[i];
                real_key(rs, buf, sizeof(buf));
                const struct real_spec *h = find_real(have, buf);
                _cleanup_free_ char *name = xasprintf("real %s", buf);
                char why[256];
                int on_failure;
                if (real_down(state, want, rs, &on_failure, why, sizeof(why))) {
                        n_checked_down++;
                        _cleanup_free_ char *pending = xasprintf("%s %s", name, why);
                        plan_add_pending(p, KIND_SERVICE, w->name, pending, NULL);
                        if (on_failure == CHECK_REMOVE && h)
                                action_add_change(a, SVC_C_REAL, name, value_index((size_t) (h - have->reals)),
                                                  VALUE_NONE);
                        else if (on_failure == CHECK_QUIESCE && !real_quiesced(h, rs))
                                action_add_change(a, SVC_C_REAL_DOWN, name,
                                                  h ? value_index((size_t) (h - have->reals)) : VALUE_NONE, value_index(i));
                        continue;
                }
                n_up++;
                if (!h)
                        action_add_change(a, SVC_C_REAL, name, VALUE_NONE, value_index(i));
                else if (real_differs(h, rs))
                        action_add_change(a, SVC_C_REAL, name, value_index((size_t) (h - have->reals)), value_index(i));
        }
        /* keepalived's sorry server: in while every real is down, out (as any real not declared) after. */
        char sorry[96] = "";
        if ((w->set & SVC_F_SORRY) && n_checked_down && !n_up) {
                real_key(&want->sorry, sorry, sizeof(sorry));
                _cleanup_free_ char *name = xasprintf("sorry-server %s", sorry);
                if (!find_real(have, sorry))
                        action_add_change(a, SVC_C_SORRY, name, VALUE_NONE, value_spec());
                plan_add_pending(p, KIND_SERVICE, w->name, "no real is up: the sorry server takes the traffic", NULL);
        }
        time_t now = time(NULL);
        for (size_t i = 0; i < have->n_reals; i++) {
                const struct real_spec *h = &have->reals[i];
                real_key(h, buf, sizeof(buf));
                if (find_real(want, buf) || strcmp(buf, sorry) == 0)
                        continue;
                _cleanup_free_ char *name = xasprintf("real %s", buf);
                _cleanup_free_ char *dkey = xasprintf("drain.%s", buf);
                const char *started = ledger_get(owned, dkey);
                if (!want->drain_seconds || (started && now - atol(started) >= (long) want->drain_seconds)) {
                        action_add_change(a, SVC_C_REAL, name, value_index(i), VALUE_NONE); /* gone now, or drained */
                        continue;
                }
                time_t until = (started ? atol(started) : now) + want->drain_seconds;
                char when[64];
                struct tm tm;
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&until, &tm));
                /* Weight 0 now: no new connections; the real goes once its drain has passed. */
                if (h->weight != 0)
                        action_add_change(a, SVC_C_REAL, name, value_index(i), value_number(0)); /* its weight */
                _cleanup_free_ char *why = xasprintf("real %s draining", buf);
                plan_add_pending(p, KIND_SERVICE, w->name, why, when);
        }
        a->op = OP_UPDATE;
        return 0;
}

/* A real server's words: an index is a real of the live (was) or desired
 * (now) service; a number is the weight of one draining. */
static int ipvs_change_words(const struct action *a, const struct change *c, bool now, char *buf, size_t size) {
        const struct value *v = now ? &c->now : &c->was;
        if (!(c->field & (SVC_C_REAL | SVC_C_REAL_DOWN | SVC_C_SORRY)) || v->type == VAL_NONE)
                return -1;
        if (c->field == SVC_C_SORRY) {
                const struct real_spec *rs = &a->want->service.sorry;
                snprintf(buf, size, "weight %u %s (no real is up)", rs->weight, enum_to_string(&ipvs_fwd_table, rs->forwarding));
                return 1;
        }
        if (v->type == VAL_NUMBER) {
                snprintf(buf, size, "weight %llu (draining %u s)", (unsigned long long) v->number,
                         a->want->service.drain_seconds);
                return 1;
        }
        const struct real_spec *rs = &(now ? a->want : a->live)->service.reals[v->index];
        char thresholds[64] = "";
        if (rs->upper || rs->lower)
                snprintf(thresholds, sizeof(thresholds), " upper %u lower %u", rs->upper, rs->lower);
        bool down = now && c->field == SVC_C_REAL_DOWN;
        snprintf(buf, size, "weight %u %s%s%s", down ? 0 : rs->weight, enum_to_string(&ipvs_fwd_table, rs->forwarding),
                 thresholds, down ? " (health check down)" : "");
        return 1;
}

/* ---- apply ---- */

static int ipvs_send(struct ipvs_state *s, uint8_t cmd, const struct resource *svc, const struct real_spec *rs,
                     bool full_real) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = msg_start(s, buf, s->family, cmd, 0);
        put_service(nlh, svc, cmd == IPVS_CMD_NEW_SERVICE || cmd == IPVS_CMD_SET_SERVICE);
        if (rs)
                put_real(nlh, rs, full_real);
        int r = talk(s, nlh, NULL, NULL);
        /* keepalived's rule: an existing entry on add and a missing one on delete are done. */
        if ((r == -EEXIST && (cmd == IPVS_CMD_NEW_SERVICE || cmd == IPVS_CMD_NEW_DEST)) ||
            (r == -ESRCH && (cmd == IPVS_CMD_DEL_SERVICE || cmd == IPVS_CMD_DEL_DEST)) ||
            (r == -ENOENT && (cmd == IPVS_CMD_DEL_SERVICE || cmd == IPVS_CMD_DEL_DEST)))
                r = 0;
        return r;
}

static int fail(const struct action *a, int r, const char *what) {
        return diag_res(r, "service", a->name, "%s: %s", what, strerror(-r));
}

/* What the checker wants: a down real at weight 0, or the sorry server in. */
static int apply_checked(struct ipvs_state *s, const struct action *a, const struct change *c) {
        const struct resource *w = a->want;
        char key[96];
        struct real_spec rs = c->field == SVC_C_SORRY ? w->service.sorry : w->service.reals[c->now.index];
        if (c->field == SVC_C_REAL_DOWN)
                rs.weight = 0;
        int r = ipvs_send(s, c->was.type == VAL_INDEX ? IPVS_CMD_SET_DEST : IPVS_CMD_NEW_DEST, w, &rs, true);
        return r < 0 ? fail(a, r, real_key(&rs, key, sizeof(key))) : 0;
}

static int ipvs_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct ipvs_state *s = state;
        const struct resource *w = a->want;
        int r;
        if (a->op == OP_DELETE) {
                r = ipvs_send(s, IPVS_CMD_DEL_SERVICE, a->live, NULL, false);
                return r < 0 ? fail(a, r, "deleting") : 0;
        }
        if (a->op == OP_CREATE) {
                r = ipvs_send(s, IPVS_CMD_NEW_SERVICE, w, NULL, false);
                if (r < 0)
                        return fail(a, r, r == -ENOENT ? "creating (is the scheduler's module loaded?)" : "creating");
                for (size_t i = 0; i < w->service.n_reals; i++) {
                        r = ipvs_send(s, IPVS_CMD_NEW_DEST, w, &w->service.reals[i], true);
                        if (r < 0)
                                return fail(a, r, "adding a real server");
                }
                if (e)
                        ledger_set(l, e, "name", w->name);
                return 0;
        }
        /* Update or adopt: one SET_SERVICE for all service fields, one message per real. */
        bool svc_fields = false;
        for (size_t i = 0; i < a->n_changes; i++)
                svc_fields = svc_fields || !(a->changes[i].field & (SVC_C_REAL | SVC_C_REAL_DOWN | SVC_C_SORRY));
        if (svc_fields && (r = ipvs_send(s, IPVS_CMD_SET_SERVICE, w, NULL, false)) < 0)
                return fail(a, r, "changing");
        char key[96];
        for (size_t i = 0; i < a->n_changes; i++) {
                const struct change *c = &a->changes[i];
                if (c->field == SVC_C_REAL_DOWN || c->field == SVC_C_SORRY) {
                        r = apply_checked(s, a, c);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (c->field != SVC_C_REAL)
                        continue;
                const struct real_spec *want_rs = c->now.type == VAL_INDEX ? &w->service.reals[c->now.index] : NULL;
                const struct real_spec *have_rs = c->was.type == VAL_INDEX ? &a->live->service.reals[c->was.index] : NULL;
                _cleanup_free_ char *dkey = xasprintf("drain.%s", real_key(want_rs ? want_rs : have_rs, key, sizeof(key)));
                if (want_rs) {
                        r = ipvs_send(s, have_rs ? IPVS_CMD_SET_DEST : IPVS_CMD_NEW_DEST, w, want_rs, true);
                        if (e)
                                ledger_set(l, e, dkey, NULL);
                } else if (have_rs && c->now.type == VAL_NUMBER) { /* draining: weight 0 */
                        struct real_spec zero = *have_rs;
                        zero.weight = 0;
                        r = ipvs_send(s, IPVS_CMD_SET_DEST, w, &zero, true);
                        if (r >= 0 && e && !ledger_get(e, dkey)) {
                                char now[32];
                                snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
                                ledger_set(l, e, dkey, now); /* survives restarts: the drain keeps its start */
                        }
                } else if (have_rs) {
                        r = ipvs_send(s, IPVS_CMD_DEL_DEST, w, have_rs, false);
                        if (e)
                                ledger_set(l, e, dkey, NULL);
                } else
                        r = 0;
                if (r < 0)
                        return fail(a, r, real_key(want_rs ? want_rs : have_rs, key, sizeof(key)));
        }
        if (e)
                ledger_set(l, e, "name", w->name);
        return 0;
}

/* The daemon's health checks (ipvs-check.c), as the backend's work between runs. */
static int ipvs_work_open(const struct backend_ctx *ctx, const char *state_dir, void **work) {
        struct checker *c;
        int r = checker_new(state_dir, ctx->netns, &c);
        if (r < 0)
                return r;
        *work = c;
        return checker_fd(c);
}

static int ipvs_work_follow(void *work, const struct model *want) {
        return checker_sync(work, want);
}

static int ipvs_work_run(void *work) {
        return checker_dispatch(work);
}

/* Each checked real of want's services: its check's state, last result and since when. */
static void ipvs_work_status(void *work, const struct model *want, struct status *st) {
        for (size_t i = 0; i < want->n; i++) {
                const struct resource *r = want->v[i];
                if (r->kind != KIND_SERVICE || r->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->service.n_reals; j++) {
                        const struct real_spec *rs = &r->service.reals[j];
                        struct check_spec spec;
                        char key[200], real[96], item[112];
                        if (!check_of_real(&r->service, rs, &spec))
                                continue;
                        const struct check_state *cs = checker_state(work, check_key(&spec, &rs->address, rs->port, key, sizeof(key)));
                        if (!cs)
                                continue;
                        snprintf(item, sizeof(item), "real %s", real_key(rs, real, sizeof(real)));
                        struct status_check row = { .item = item, .check = key, .result = (char *) cs->result,
                                                    .up = cs->up, .since = cs->since, .restarts = cs->restarts,
                                                    .toward = check_state_toward(cs) };
                        status_add_check(st, KIND_SERVICE, r->name, &row);
                }
        }
}

static bool ipvs_work_status_due(void *work) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return checker_status_due(work, (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000);
}

static void ipvs_work_close(void *work) {
        checker_free(work);
}

const struct backend ipvs_backend = {
        .name = "ipvs",
        .scope = SCOPE_NETNS,
        .open = ipvs_open,
        .close = ipvs_close,
        .observe = ipvs_observe,
        .observe_some = ipvs_observe_some,
        .work_open = ipvs_work_open,
        .work_follow = ipvs_work_follow,
        .work_run = ipvs_work_run,
        .work_status = ipvs_work_status,
        .work_status_due = ipvs_work_status_due,
        .work_close = ipvs_work_close,
};

/* ---- the service kind: virtual services and their real servers ---- */

#define CK(member) offsetof(struct check_spec, member)
static const struct field check_fields[] = {
        { "type", FT_ENUM, CK(type), 0, 0, 0, &check_type_table, "check type", NULL },
        { "port", FT_U32, CK(port), 1, 65535, 0, NULL, "check port", NULL },
        { "path", FT_STR, CK(path), STR_WORD, CHECK_PATH_MAX, 0, NULL, "check path", NULL },
        { "host", FT_STR, CK(host), STR_WORD, CHECK_HOST_MAX, 0, NULL, "check host", NULL },
        { "expect", FT_STR, CK(expect), STR_WORD, CHECK_EXPECT_MAX, 0, NULL, "check expect", NULL },
        { "regex", FT_STR, CK(regex), STR_WORD, CHECK_REGEX_MAX, 0, NULL, "check regex", NULL },
        { "command", FT_STR, CK(command), STR_WORD, CHECK_COMMAND_MAX, 0, NULL, "check command", NULL },
        { "interval", FT_U32, CK(interval), 1, 3600, 0, NULL, "check interval", NULL },
        { "timeout", FT_U32, CK(timeout), 1, 3600, 0, NULL, "check timeout", NULL },
        { "rise", FT_U32, CK(rise), 1, 100, 0, NULL, "check rise", NULL },
        { "fall", FT_U32, CK(fall), 1, 100, 0, NULL, "check fall", NULL },
        { "warmup", FT_U32, CK(warmup), 1, 3600, 0, NULL, "check warmup", NULL },
        { "on-failure", FT_ENUM, CK(on_failure), 0, 0, 0, &check_failure_table, NULL, NULL },
        { "alpha", FT_BOOL, CK(alpha), 0, 0, 0, NULL, "check alpha", NULL },
};
static const struct sub_table check_sub = { check_fields, ELEMENTSOF(check_fields), 0, 0, 0, 0, "check" };

#define RS(member) offsetof(struct real_spec, member)
static const struct field real_fields[] = {
        { "address", FT_IPADDR, RS(address), 0, 0, REAL_F_ADDRESS, NULL, NULL, NULL },
        { "port", FT_U32, RS(port), 0, 65535, REAL_F_PORT, NULL, NULL, NULL },
        { "weight", FT_U32, RS(weight), 0, INT32_MAX, REAL_F_WEIGHT, NULL, NULL, NULL },
        { "forwarding", FT_ENUM, RS(forwarding), 0, 0, REAL_F_FORWARDING, &ipvs_fwd_table, NULL, NULL },
        { "upper", FT_U32, RS(upper), 0, UINT32_MAX, REAL_F_UPPER, NULL, NULL, NULL },
        { "lower", FT_U32, RS(lower), 0, UINT32_MAX, REAL_F_LOWER, NULL, NULL, NULL },
        { "check", FT_OBJ, RS(check), 0, 0, REAL_F_CHECK, &check_sub, NULL, NULL },
};
/* The sorry server: a real of its own, outside the list the checks drain. */
static const struct field sorry_fields[] = {
        { "address", FT_IPADDR, RS(address), 0, 0, 0, NULL, "sorry-server address", NULL },
        { "port", FT_U32, RS(port), 0, 65535, 0, NULL, "sorry-server port", NULL },
        { "weight", FT_U32, RS(weight), 1, INT32_MAX, 0, NULL, "sorry-server weight", NULL },
};
static const struct sub_table sorry_sub = { sorry_fields, ELEMENTSOF(sorry_fields), 0, 0, 0, 0, "sorry-server" };
static const struct sub_table real_sub = { real_fields, ELEMENTSOF(real_fields), sizeof(struct real_spec), RS(pos),
                                           RS(set),
                                           offsetof(struct service_spec, n_reals) - offsetof(struct service_spec, reals),
                                           "real" };

static const struct field service_fields[] = {
        { "protocol", FT_ENUM, R(service.protocol), 0, 0, SVC_F_PROTOCOL, &ipvs_proto_table, NULL, NULL },
        { "address", FT_IPADDR, R(service.address), 0, 0, SVC_F_ADDRESS, NULL, NULL, NULL },
        { "port", FT_U32, R(service.port), 0, 65535, SVC_F_PORT, NULL, NULL, NULL },
        { "fwmark", FT_U32, R(service.fwmark), 1, UINT32_MAX, SVC_F_FWMARK, NULL, NULL, NULL },
        { "family", FT_ENUM, R(service.family), 0, 0, SVC_F_FAMILY, &inet_family_table, NULL, NULL },
        { "scheduler", FT_ENUM_WORD, R(service.scheduler), 0, 16, SVC_F_SCHEDULER, &ipvs_sched_table, NULL, NULL },
        { "persistence", FT_U32, R(service.persistence), 1, UINT32_MAX, SVC_F_PERSISTENCE, NULL, NULL, NULL },
        { "netmask", FT_IPADDR, R(service.netmask), 0, 0, SVC_F_NETMASK, NULL, NULL, NULL },
        { "forwarding", FT_ENUM, R(service.forwarding), 0, 0, SVC_F_FORWARDING, &ipvs_fwd_table, NULL, NULL },
        { "drain-seconds", FT_U32, R(service.drain_seconds), 0, 86400 * 7, SVC_F_DRAIN, NULL, NULL, NULL },
        { "reals", FT_OBJ_LIST, R(service.reals), 0, 0, SVC_F_REALS, &real_sub, NULL, NULL },
        { "check", FT_OBJ, R(service.check), 0, 0, SVC_F_CHECK, &check_sub, NULL, NULL },
        { "sorry-server", FT_OBJ, R(service.sorry), 0, 0, SVC_F_SORRY, &sorry_sub, NULL, NULL },
        { "sh-fallback", FT_BOOL, R(service.sh_fallback), 0, 0, SVC_F_SH_FALLBACK, NULL, NULL, NULL },
        { "sh-port", FT_BOOL, R(service.sh_port), 0, 0, SVC_F_SH_PORT, NULL, NULL, NULL },
        { "one-packet", FT_BOOL, R(service.one_packet), 0, 0, SVC_F_ONE_PACKET, NULL, NULL, NULL },
        STATE_FIELD(state_table),
};

static void service_defaults(struct resource *r) {
        strcpy(r->service.scheduler, "wlc");
        r->service.protocol = PROTO_TCP;
        r->service.forwarding = FWD_MASQ;
}

static int service_check(struct check_ctx *c, struct resource *r) {
        if (r->set & SVC_F_FWMARK) {
                if (r->set & (SVC_F_ADDRESS | SVC_F_PORT | SVC_F_PROTOCOL))
                        return check_error(c, 0, "service %s: fwmark excludes protocol, address and port", r->name);
        } else if (!(r->set & SVC_F_ADDRESS) || !(r->set & SVC_F_PORT))
                return check_error(c, 0, "service %s needs address and port, or fwmark", r->name);
        /* ipvsadm's rule: port 0 matches every port, which only persistence makes sense of. */
        else if (r->service.port == 0 && !r->service.persistence)
                return check_error(c, SVC_F_PORT, "service %s: port 0 (every port) needs persistence", r->name);
        int fam = r->set & SVC_F_FWMARK ? (r->service.family == FAMILY_INET6 ? AF_INET6 : AF_INET)
                                        : r->service.address.family;
        /* ipvsadm's rule: the scheduler flags are the hashing schedulers'. */
        if ((r->service.sh_fallback || r->service.sh_port) && strcmp(r->service.scheduler, "sh") != 0 &&
            strcmp(r->service.scheduler, "mh") != 0)
                return check_error(c, r->service.sh_fallback ? SVC_F_SH_FALLBACK : SVC_F_SH_PORT,
                                   "service %s: sh-fallback and sh-port need scheduler sh or mh", r->name);
        if (r->service.one_packet && r->service.protocol != PROTO_UDP && !(r->set & SVC_F_FWMARK))
                return check_error(c, SVC_F_ONE_PACKET, "service %s: one-packet is for udp services", r->name);
        char err[256];
        if ((r->set & SVC_F_CHECK) && check_spec_complete(&r->service.check, err, sizeof(err)) < 0)
                return check_error(c, SVC_F_CHECK, "service %s: %s", r->name, err);
        if (r->set & SVC_F_SORRY) {
                struct real_spec *sorry = &r->service.sorry;
                sorry->forwarding = r->service.forwarding;
                if (!sorry->weight)
                        sorry->weight = 1;
                if (sorry->address.family != fam)
                        return check_error(c, SVC_F_SORRY, "service %s: sorry-server needs an address of the service's family",
                                           r->name);
        }
        for (size_t i = 0; i < r->service.n_reals; i++) {
                struct real_spec *rs = &r->service.reals[i];
                /* A real without its own forwarding takes its service's, whichever key came first. */
                if (!(rs->set & REAL_F_FORWARDING))
                        rs->forwarding = r->service.forwarding;
                int fwd = rs->forwarding;
                if ((rs->set & REAL_F_CHECK) && check_spec_complete(&rs->check, err, sizeof(err)) < 0)
                        return diag_pos(&rs->pos, "real server: %s", err);
                if (!(rs->set & REAL_F_ADDRESS))
                        return diag_pos(&rs->pos, "real server needs an address");
                /* The kernel refuses this with ERANGE, even with upper 0 (no limit). */
                if (rs->lower > rs->upper)
                        return diag_pos(&rs->pos, "real server: lower %u is above upper %u", rs->lower, rs->upper);
                /* The kernel mixes families only through a tunnel. */
                if (rs->address.family != fam && fwd != FWD_TUNNEL)
                        return diag_pos(&rs->pos, "real server: an %s address behind an %s service needs forwarding tunnel",
                                        rs->address.family == AF_INET ? "IPv4" : "IPv6", fam == AF_INET ? "IPv4" : "IPv6");
        }
        if (r->set & SVC_F_NETMASK) {
                const struct ipaddr *nm = &r->service.netmask;
                uint32_t v = ipaddr_v4_host(nm);
                if (nm->family != fam)
                        return check_error(c, SVC_F_NETMASK, "service %s: netmask and address are of different families",
                                           r->name);
                if (fam == AF_INET && (v & (~v >> 1)) != 0 && v != 0)
                        return check_error(c, SVC_F_NETMASK, "service %s: netmask %s is not contiguous", r->name,
                                           check_text(c, SVC_F_NETMASK));
        }
        return 0;
}

static void service_free(struct resource *r) {
        for (size_t i = 0; i < r->service.n_reals; i++)
                check_spec_done(&r->service.reals[i].check);
        free(r->service.reals);
        r->service.reals = NULL;
        r->service.n_reals = 0;
        check_spec_done(&r->service.check);
        check_spec_done(&r->service.sorry.check);
}

/* The fields that name a service: its key in a manifest. */
static void show_service_key(struct yw *w, const struct resource *r, bool with_family) {
        const struct service_spec *v = &r->service;
        char buf[64];
        if (r->set & SVC_F_FWMARK) {
                yw_kv_uint(w, "fwmark", v->fwmark);
                if (with_family)
                        yw_kv_word(w, "family", enum_to_string(&inet_family_table, v->family));
                return;
        }
        yw_kv_word(w, "protocol", enum_to_string(&ipvs_proto_table, v->protocol));
        yw_kv_str(w, "address", ipaddr_format(&v->address, false, buf, sizeof(buf)));
        yw_kv_uint(w, "port", v->port);
}

static void service_show_key(struct yw *w, const struct resource *r) {
        yw_str(w, r->name);
        yw_map(w, false);
        show_service_key(w, r, false);
}

static void service_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct service_spec *v = &r->service;
        char buf[64];
        (void) s;
        yw_entry_begin(w);
        yw_str(w, r->name);
        yw_map(w, false);
        show_service_key(w, r, true);
        yw_kv_name(w, "scheduler", v->scheduler);
        if (v->persistence)
                yw_kv_uint(w, "persistence", v->persistence);
        if (v->sh_fallback)
                yw_kv_bool(w, "sh-fallback", true);
        if (v->sh_port)
                yw_kv_bool(w, "sh-port", true);
        if (v->one_packet)
                yw_kv_bool(w, "one-packet", true);
        yw_word(w, "reals");
        yw_seq(w, false);
        for (size_t i = 0; i < v->n_reals; i++) {
                const struct real_spec *rs = &v->reals[i];
                yw_map(w, true);
                yw_kv_str(w, "address", ipaddr_format(&rs->address, false, buf, sizeof(buf)));
                yw_kv_uint(w, "port", rs->port);
                yw_kv_uint(w, "weight", rs->weight);
                yw_kv_word(w, "forwarding", enum_to_string(&ipvs_fwd_table, rs->forwarding));
                if (rs->upper)
                        yw_kv_uint(w, "upper", rs->upper);
                if (rs->lower)
                        yw_kv_uint(w, "lower", rs->lower);
                yw_end_map(w);
        }
        yw_end_seq(w);
        yw_end_map(w);
        yw_entry_end(w, r);
}

/* Each scheduler is a module of its own (ip_vs_wrr): named at plan time, not an ENOENT at apply. */
static int service_admit(void *state, const struct resource *want) {
        (void) state;
        char module[32];
        snprintf(module, sizeof(module), "ip_vs_%s", want->service.scheduler);
        return module_needed(want, module);
}

const struct kind_ops service_kind = {
        .word = "service",
        .section = "services",
        .backend = &ipvs_backend,
        .identity = ipvs_identity,
        .admit = service_admit,
        .diff = ipvs_diff,
        .change_words = ipvs_change_words,
        .apply = ipvs_apply,
        .flags = KF_REVERTIBLE,
        .show_rank = 14,
        .fields = service_fields,
        .n_fields = ELEMENTSOF(service_fields),
        .defaults = service_defaults,
        .name_max = 199,
        .name_error = "bad service name \"%.64s\": no '/', <>&'\" or control characters",
        .check = service_check,
        .free = service_free,
        .show = service_show,
        .show_key = service_show_key,
};

/* ---- the sync daemon: connection state multicast to the backup directors ---- */

static bool sync_name_valid(const char *name) {
        return strcmp(name, "master") == 0 || strcmp(name, "backup") == 0;
}

static int sync_check(struct check_ctx *c, struct resource *r) {
        if (r->state != STATE_ABSENT && !(r->set & SYNC_F_INTERFACE))
                return check_error(c, 0, "ipvs-sync %s needs an interface", r->name);
        return 0;
}

static int sync_diff(void *state, const struct resource *w, const struct resource *l, const struct ledger_entry *owned,
                     struct action *a, struct plan *p) {
        (void) state, (void) owned, (void) p;
        if (strcmp(w->ipvs_sync.interface, l->ipvs_sync.interface) != 0)
                action_add_change(a, SYNC_F_INTERFACE, "interface", value_text(l->ipvs_sync.interface),
                                  value_text(w->ipvs_sync.interface));
        if (w->ipvs_sync.syncid != l->ipvs_sync.syncid)
                action_add_change(a, SYNC_F_SYNCID, "syncid", value_number(l->ipvs_sync.syncid),
                                  value_number(w->ipvs_sync.syncid));
        a->op = OP_UPDATE;
        return 0;
}

static int sync_send(struct ipvs_state *s, uint8_t cmd, const struct resource *r) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = msg_start(s, buf, s->family, cmd, 0);
        struct nlattr *nest = mnl_attr_nest_start(nlh, IPVS_CMD_ATTR_DAEMON);
        mnl_attr_put_u32(nlh, IPVS_DAEMON_ATTR_STATE,
                         strcmp(r->name, "master") == 0 ? IP_VS_STATE_MASTER : IP_VS_STATE_BACKUP);
        if (cmd == IPVS_CMD_NEW_DAEMON) {
                mnl_attr_put_strz(nlh, IPVS_DAEMON_ATTR_MCAST_IFN, r->ipvs_sync.interface);
                mnl_attr_put_u32(nlh, IPVS_DAEMON_ATTR_SYNC_ID, r->ipvs_sync.syncid);
        }
        mnl_attr_nest_end(nlh, nest);
        int x = talk(s, nlh, NULL, NULL);
        if ((x == -EEXIST && cmd == IPVS_CMD_NEW_DAEMON) || (x == -ESRCH && cmd == IPVS_CMD_DEL_DAEMON))
                x = 0;
        return x;
}

/* The kernel changes no running daemon: a change stops it and starts it anew. */
static int sync_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct ipvs_state *s = state;
        int r = 0;
        if (a->op != OP_CREATE)
                r = sync_send(s, IPVS_CMD_DEL_DAEMON, a->live ? a->live : a->want);
        if (r >= 0 && a->op != OP_DELETE)
                r = sync_send(s, IPVS_CMD_NEW_DAEMON, a->want);
        if (r < 0)
                return diag_res(r, "ipvs-sync", a->name, "%s: %s", a->op == OP_DELETE ? "stopping" : "starting",
                                strerror(-r));
        if (e && a->want)
                ledger_set(l, e, "name", a->want->name);
        return 0;
}

static void sync_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        yw_kv_name(w, "interface", r->ipvs_sync.interface);
        yw_kv_uint(w, "syncid", r->ipvs_sync.syncid);
        yw_end_map(w);
        yw_entry_end(w, r);
}

static const struct field sync_fields[] = {
        { "interface", FT_IFNAME, R(ipvs_sync.interface), 0, 0, SYNC_F_INTERFACE, NULL, NULL, NULL },
        { "syncid", FT_U32, R(ipvs_sync.syncid), 0, 255, SYNC_F_SYNCID, NULL, NULL, NULL },
        STATE_FIELD(state_table),
};

const struct kind_ops ipvs_sync_kind = {
        .word = "ipvs-sync",
        .section = "ipvs-sync",
        .backend = &ipvs_backend,
        .diff = sync_diff,
        .apply = sync_apply,
        .show_rank = 16,
        .fields = sync_fields,
        .n_fields = ELEMENTSOF(sync_fields),
        .name_valid = sync_name_valid,
        .name_max = 6,
        .name_error = "bad ipvs-sync name \"%.64s\": master or backup",
        .check = sync_check,
        .show = sync_show,
};

/* ---- the connection timeouts: tcp, tcpfin, udp ---- */

static bool timeout_name_valid(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(timeout_names); i++)
                if (strcmp(name, timeout_names[i]) == 0)
                        return true;
        return false;
}

static int timeout_diff(void *state, const struct resource *w, const struct resource *l,
                        const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state, (void) owned, (void) p;
        if (w->ipvs_timeout.seconds != l->ipvs_timeout.seconds)
                action_add_change(a, TMO_F_SECONDS, "value", value_number(l->ipvs_timeout.seconds),
                                  value_number(w->ipvs_timeout.seconds));
        a->op = OP_UPDATE;
        return 0;
}

/* A timeout is never deleted: one that leaves the manifests gets its value from before reconcile back. */
static int timeout_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct ipvs_state *s = state;
        const char *name = a->want ? a->want->name : a->live->name;
        uint32_t seconds;
        if (a->want)
                seconds = a->want->ipvs_timeout.seconds;
        else {
                const char *old = ledger_get(e, "old");
                if (!old)
                        return 0;
                seconds = (uint32_t) strtoul(old, NULL, 10);
        }
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = msg_start(s, buf, s->family, IPVS_CMD_SET_CONFIG, 0);
        for (size_t i = 0; i < ELEMENTSOF(timeout_names); i++)
                if (strcmp(name, timeout_names[i]) == 0)
                        mnl_attr_put_u32(nlh, timeout_attrs[i], seconds);
        int r = talk(s, nlh, NULL, NULL);
        if (r < 0)
                return diag_res(r, "ipvs-timeout", a->name, "setting: %s", strerror(-r));
        if (e && a->want && a->live && !ledger_get(e, "old")) {
                char old[16];
                snprintf(old, sizeof(old), "%u", a->live->ipvs_timeout.seconds);
                ledger_set(l, e, "old", old);
        }
        return 0;
}

static const struct field timeout_fields[] = {
        { "value", FT_U32, R(ipvs_timeout.seconds), 1, 2147483, TMO_F_SECONDS, NULL, "ipvs timeout", NULL },
};

const struct kind_ops ipvs_timeout_kind = {
        .word = "ipvs-timeout",
        .section = "ipvs-timeouts",
        .backend = &ipvs_backend,
        .diff = timeout_diff,
        .apply = timeout_apply,
        /* Every namespace has all three: never created, never deleted, shown by ipvsadm -L --timeout. */
        .flags = KF_NAME_VALUE | KF_NO_ABSENT_ENTRY | KF_NOT_ABSENT,
        .never_absent = "a timeout cannot be absent; leave it out to restore its value from before reconcile",
        .show_rank = 17,
        .fields = timeout_fields,
        .n_fields = ELEMENTSOF(timeout_fields),
        .name_valid = timeout_name_valid,
        .name_max = 6,
        .name_error = "ipvs-timeouts: bad key \"%.64s\": tcp, tcpfin or udp",
};
