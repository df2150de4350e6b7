/* The ip_set netlink protocol with libmnl (see ipset-nl.h). Entries travel
 * in the canonical spelling the manifest checks enforce (`ipset save`'s), so
 * encoding is inet_pton and a few strtoul, and decoding writes inet_ntop's
 * spelling: no resolver, no text front end. Ports of protocols other than
 * tcp, udp, sctp and udplite (which no manifest can declare) read as icmp:T/C
 * or PROTO:0, in numbers. */
#include "ipset-nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/ipset/ip_set_bitmap.h>
#include <linux/netfilter/ipset/ip_set_hash.h>
#include <linux/netfilter/ipset/ip_set_list.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* An ADD or DEL message ends well before the 16-bit length of its ADT nest. */
#define MSG_ROOM 60000u
/* A datagram of several messages, at most this and below the socket's send
 * buffer (the kernel refuses a longer one). */
#define DGRAM_ROOM 180000u
#define RECV_SIZE (128u * 1024u)

struct ipset_nl {
        struct mnl_socket *sock;
        unsigned portid, seq;
        size_t msg_room, dgram_room;
        uint8_t protocol;
        uint8_t revision[_SETT_MAX]; /* 0: not asked yet; else max revision + 1 */
        char *rbuf;
        char err[512];
};

const char *ipset_nl_error(const struct ipset_nl *nl) {
        return nl->err;
}

/* ---- errors: the kernel's codes, errno values and words for people ---- */

enum type_class { CLASS_HASH, CLASS_BITMAP, CLASS_LIST };

struct ipset_error {
        int code, err;
        const char *text;
};

static const struct ipset_error generic_errors[] = {
        { IPSET_ERR_PROTOCOL, EPROTO, "the kernel does not understand the request (protocol error)" },
        { IPSET_ERR_FIND_TYPE, EOPNOTSUPP, "the kernel has no such set type or revision" },
        { IPSET_ERR_MAX_SETS, ENOSPC, "the kernel holds as many sets as it can" },
        { IPSET_ERR_BUSY, EBUSY, "the set is in use by a rule or a list:set" },
        { IPSET_ERR_EXIST_SETNAME2, EEXIST, "a set of the new name exists already" },
        { IPSET_ERR_TYPE_MISMATCH, EINVAL, "the sets are not of the same type and family" },
        { IPSET_ERR_EXIST, EEXIST, "the set exists already with other parameters" },
        { IPSET_ERR_INVALID_CIDR, EINVAL, "the prefix length is out of range" },
        { IPSET_ERR_INVALID_NETMASK, EINVAL, "the netmask is out of range" },
        { IPSET_ERR_INVALID_FAMILY, EAFNOSUPPORT, "the set type does not take that family" },
        { IPSET_ERR_TIMEOUT, EINVAL, "the set has no timeout support" },
        { IPSET_ERR_REFERENCED, EBUSY, "the set is referenced and cannot be renamed or destroyed" },
        { IPSET_ERR_IPADDR_IPV4, EAFNOSUPPORT, "an IPv4 address in an IPv6 set" },
        { IPSET_ERR_IPADDR_IPV6, EAFNOSUPPORT, "an IPv6 address in an IPv4 set" },
        { IPSET_ERR_COUNTER, EINVAL, "the set has no counter support" },
        { IPSET_ERR_COMMENT, EINVAL, "the set has no comment support" },
        { IPSET_ERR_INVALID_MARKMASK, EINVAL, "the markmask is invalid" },
        { IPSET_ERR_SKBINFO, EINVAL, "the set has no skbinfo support" },
};
static const struct ipset_error hash_errors[] = {
        { IPSET_ERR_HASH_FULL, ENOSPC, "the set is full (maxelem reached)" },
        { IPSET_ERR_HASH_ELEM, EINVAL, "a null-valued entry" },
        { IPSET_ERR_INVALID_PROTO, EPROTONOSUPPORT, "the protocol is not valid" },
        { IPSET_ERR_MISSING_PROTO, EINVAL, "the entry needs a protocol" },
        { IPSET_ERR_HASH_RANGE_UNSUPPORTED, EOPNOTSUPP, "the set type takes no range" },
        { IPSET_ERR_HASH_RANGE, ERANGE, "the range is invalid" },
};
static const struct ipset_error bitmap_errors[] = {
        { IPSET_ERR_BITMAP_RANGE, ERANGE, "the entry is outside the set's range" },
        { IPSET_ERR_BITMAP_RANGE_SIZE, E2BIG, "the range is larger than a bitmap takes" },
};
static const struct ipset_error list_errors[] = {
        { IPSET_ERR_NAME, ENOENT, "the member set does not exist" },
        { IPSET_ERR_LOOP, ELOOP, "a list:set cannot hold a list:set" },
        { IPSET_ERR_BEFORE, EINVAL, "the set to insert before or after is missing" },
        { IPSET_ERR_NAMEREF, ENOENT, "the set to insert before or after does not exist" },
        { IPSET_ERR_LIST_FULL, ENOSPC, "the list is full (size reached)" },
        { IPSET_ERR_REF_EXIST, ENOENT, "the set to insert before or after is not in the list" },
};
static const struct ipset_error errno_texts[] = {
        { ENOENT, ENOENT, "the set does not exist" },
        { EEXIST, EEXIST, "a set of that name exists already" },
        { ENOMEM, ENOMEM, "the kernel is out of memory" },
        { ENOSPC, ENOSPC, "no room left" },
};

/* The kernel's code (a positive errno or IPSET_ERR_*) as an errno and words. */
static int error_of(int code, enum type_class c, const char **text) {
        const struct ipset_error *t = generic_errors;
        size_t n = ELEMENTSOF(generic_errors);
        if (code >= IPSET_ERR_TYPE_SPECIFIC) {
                t = c == CLASS_BITMAP ? bitmap_errors : c == CLASS_LIST ? list_errors : hash_errors;
                n = c == CLASS_BITMAP ? ELEMENTSOF(bitmap_errors) : c == CLASS_LIST ? ELEMENTSOF(list_errors)
                                                                                  : ELEMENTSOF(hash_errors);
        } else if (code < IPSET_ERR_PRIVATE) {
                t = errno_texts;
                n = ELEMENTSOF(errno_texts);
        }
        for (size_t i = 0; i < n; i++)
                if (t[i].code == code) {
                        *text = t[i].text;
                        return t[i].err;
                }
        *text = code < IPSET_ERR_PRIVATE ? strerror(code) : "the kernel refused it";
        return code < IPSET_ERR_PRIVATE ? code : EINVAL;
}

static enum type_class class_of(int type) {
        if (type >= 0 && set_types[type].bitmap)
                return CLASS_BITMAP;
        return type == SETT_LIST_SET ? CLASS_LIST : CLASS_HASH;
}

/* ---- messages ---- */

static struct nlmsghdr *msg_put(struct ipset_nl *nl, char *buf, uint8_t cmd, uint16_t flags, uint8_t family) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | cmd;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = ++nl->seq;
        struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = family;
        g->version = NFNETLINK_V0;
        g->res_id = 0;
        mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, nl->protocol);
        return nlh;
}

static void put_net32(struct nlmsghdr *nlh, uint16_t type, uint32_t v) {
        mnl_attr_put_u32(nlh, type | NLA_F_NET_BYTEORDER, htonl(v));
}

static void put_net16(struct nlmsghdr *nlh, uint16_t type, uint16_t v) {
        mnl_attr_put_u16(nlh, type | NLA_F_NET_BYTEORDER, htons(v));
}

static void put_addr(struct nlmsghdr *nlh, uint16_t type, int af, const void *addr) {
        struct nlattr *nest = mnl_attr_nest_start(nlh, type);
        if (af == AF_INET)
                mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, 4, addr);
        else
                mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER, 16, addr);
        mnl_attr_nest_end(nlh, nest);
}

/* The top-level attributes of a message after its nfgenmsg, by type. */
static void top_attrs(const struct nlmsghdr *nlh, size_t len, const struct nlattr **tb, size_t max) {
        const char *p = (const char *) nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
        const char *end = (const char *) nlh + (len < nlh->nlmsg_len ? len : nlh->nlmsg_len);
        memset(tb, 0, (max + 1) * sizeof(*tb));
        while (p + sizeof(struct nlattr) <= end) {
                const struct nlattr *a = (const struct nlattr *) p;
                if (a->nla_len < sizeof(struct nlattr) || p + a->nla_len > end)
                        break;
                uint16_t t = mnl_attr_get_type(a);
                if (t <= max)
                        tb[t] = a;
                p += MNL_ALIGN(a->nla_len);
        }
}

static void nested_attrs(const struct nlattr *nest, const struct nlattr **tb, size_t max) {
        const struct nlattr *a;
        memset(tb, 0, (max + 1) * sizeof(*tb));
        mnl_attr_for_each_nested(a, nest) {
                uint16_t t = mnl_attr_get_type(a);
                if (t <= max)
                        tb[t] = a;
        }
}

/* What the answers to a run of requests said. */
struct answers {
        unsigned acks_left;
        int code;        /* the first refusal's code (positive), 0: none */
        unsigned seq;    /* the refused request */
        uint32_t lineno; /* the refused entry's number, 0: not known */
        bool done;       /* a dump's end */
        int (*on_data)(const struct nlmsghdr *nlh, void *u);
        void *u;
};

/* Read until every ack (or the dump's end) has arrived. */
static int receive(struct ipset_nl *nl, struct answers *ans, bool dump) {
        while (dump ? !ans->done : ans->acks_left > 0) {
                ssize_t n = mnl_socket_recvfrom(nl->sock, nl->rbuf, RECV_SIZE);
                if (n < 0)
                        return -errno;
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) nl->rbuf;
                int len = (int) n;
                for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                        if (nlh->nlmsg_pid != nl->portid && nlh->nlmsg_pid != 0)
                                continue;
                        if (nlh->nlmsg_type == NLMSG_DONE) {
                                ans->done = true;
                                continue;
                        }
                        if (nlh->nlmsg_type != NLMSG_ERROR) {
                                if (ans->on_data) {
                                        int r = ans->on_data(nlh, ans->u);
                                        if (r < 0)
                                                return r;
                                }
                                continue;
                        }
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                        if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e))
                                return -EPROTO;
                        if (ans->acks_left)
                                ans->acks_left--;
                        ans->done = true;
                        if (e->error == 0 || ans->code)
                                continue;
                        ans->code = -e->error;
                        ans->seq = nlh->nlmsg_seq;
                        /* A refused entry of a batch: the kernel sends the request back
                         * with its IPSET_ATTR_LINENO set to the entry's number. */
                        size_t room = nlh->nlmsg_len - MNL_NLMSG_HDRLEN - offsetof(struct nlmsgerr, msg);
                        const struct nlattr *tb[IPSET_ATTR_CMD_MAX + 1];
                        if (room >= e->msg.nlmsg_len && e->msg.nlmsg_len > MNL_NLMSG_HDRLEN + sizeof(struct nfgenmsg)) {
                                top_attrs(&e->msg, room, tb, IPSET_ATTR_CMD_MAX);
                                if (tb[IPSET_ATTR_LINENO] && mnl_attr_get_payload_len(tb[IPSET_ATTR_LINENO]) == 4)
                                        ans->lineno = mnl_attr_get_u32(tb[IPSET_ATTR_LINENO]);
                        }
                }
        }
        return 0;
}

/* One request and its answer (an ack, or a dump). */
static int talk(struct ipset_nl *nl, struct nlmsghdr *nlh, int (*on_data)(const struct nlmsghdr *, void *), void *u) {
        struct answers ans = { .acks_left = 1, .on_data = on_data, .u = u };
        bool dump = nlh->nlmsg_flags & NLM_F_DUMP;
        if (!dump)
                nlh->nlmsg_flags |= NLM_F_ACK;
        if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        int r = receive(nl, &ans, dump);
        if (r < 0)
                return r;
        return ans.code ? -ans.code : 0;
}

/* ---- open ---- */

static int on_protocol(const struct nlmsghdr *nlh, void *u) {
        const struct nlattr *tb[IPSET_ATTR_CMD_MAX + 1];
        top_attrs(nlh, nlh->nlmsg_len, tb, IPSET_ATTR_CMD_MAX);
        if (tb[IPSET_ATTR_PROTOCOL])
                *(uint8_t *) u = mnl_attr_get_u8(tb[IPSET_ATTR_PROTOCOL]);
        return 0;
}

int ipset_nl_open(const char *netns, struct ipset_nl **out) {
        int saved, r = netns_enter(netns, &saved);
        if (r < 0)
                return r;
        struct ipset_nl *nl = xcalloc(1, sizeof(*nl));
        nl->sock = mnl_socket_open(NETLINK_NETFILTER);
        r = nl->sock && mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) == 0 ? 0 : -errno;
        int x = netns_leave(&saved);
        if (r < 0 || x < 0) {
                ipset_nl_close(nl);
                return r < 0 ? r : x;
        }
        /* Acks of refused requests without the request's copy: batches are large. */
        int one = 1;
        (void) setsockopt(mnl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
        int sndbuf = 0;
        socklen_t len = sizeof(sndbuf);
        if (getsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || sndbuf < 8192)
                sndbuf = 8192;
        nl->dgram_room = (size_t) sndbuf - 1024 < DGRAM_ROOM ? (size_t) sndbuf - 1024 : DGRAM_ROOM;
        nl->msg_room = nl->dgram_room < MSG_ROOM ? nl->dgram_room : MSG_ROOM;
        nl->portid = mnl_socket_get_portid(nl->sock);
        nl->rbuf = malloc(RECV_SIZE);
        if (!nl->rbuf)
                abort();
        nl->protocol = IPSET_PROTOCOL;
        char buf[256] = { 0 }; /* attribute padding is sent too */
        uint8_t kernel = 0;
        struct nlmsghdr *nlh = msg_put(nl, buf, IPSET_CMD_PROTOCOL, 0, NFPROTO_IPV4);
        r = talk(nl, nlh, on_protocol, &kernel);
        if (r == 0 && kernel < IPSET_PROTOCOL_MIN)
                r = -EPROTONOSUPPORT;
        if (r < 0) {
                ipset_nl_close(nl);
                return r == -EINVAL || r == -ENOENT || r == -EOPNOTSUPP ? -EPROTONOSUPPORT : r;
        }
        nl->protocol = kernel < IPSET_PROTOCOL ? kernel : IPSET_PROTOCOL;
        *out = nl;
        return 0;
}

void ipset_nl_close(struct ipset_nl *nl) {
        if (!nl)
                return;
        if (nl->sock)
                mnl_socket_close(nl->sock);
        free(nl->rbuf);
        free(nl);
}

/* ---- entries: canonical text <-> attributes ---- */

static const struct {
        uint8_t number;
        const char *name;
} protos[] = { { IPPROTO_TCP, "tcp" }, { IPPROTO_UDP, "udp" }, { IPPROTO_SCTP, "sctp" }, { IPPROTO_UDPLITE, "udplite" } };

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One entry's attributes into a DATA nest of nlh; false when the text is not
 * of the type's canonical form. */
bool ipset_nl_put_entry(struct nlmsghdr *nlh, int type, int af, const char *entry, uint32_t lineno) {
        const struct set_type_info *t = &set_types[type];
        struct nlattr *data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
        const char *p = entry;
        unsigned ips = 0;
        uint32_t cadt = 0;
        for (size_t d = 0; d < ELEMENTSOF(t->dims) && t->dims[d] != DIM_NONE; d++) {
                size_t len = strcspn(p, ",");
                char part[64];
                if (!len && t->optional_last && !*p)
                        break;
                if (len >= sizeof(part) || !len)
                        return false;
                memcpy(part, p, len);
                part[len] = '\0';
                p += len + (p[len] == ',');
                switch (t->dims[d]) {
                case DIM_IP:
                case DIM_NET: {
                        unsigned char a[16];
                        char *slash = strchr(part, '/');
                        unsigned max = af == AF_INET ? 32 : 128, cidr = max;
                        if (slash) {
                                char *end;
                                *slash = '\0';
                                cidr = (unsigned) strtoul(slash + 1, &end, 10);
                                if (*end || !cidr || cidr > max || t->dims[d] != DIM_NET)
                                        return false;
                        }
                        if (inet_pton(af, part, a) != 1)
                                return false;
                        put_addr(nlh, ips ? IPSET_ATTR_IP2 : IPSET_ATTR_IP, af, a);
                        if (t->dims[d] == DIM_NET)
                                mnl_attr_put_u8(nlh, ips ? IPSET_ATTR_CIDR2 : IPSET_ATTR_CIDR, (uint8_t) cidr);
                        ips++;
                        break;
                }
                case DIM_PORT: {
                        char *colon = strchr(part, ':'), *num = colon ? colon + 1 : part, *end;
                        unsigned long port = strtoul(num, &end, 10);
                        if (*end || end == num || port > 65535)
                                return false;
                        if (colon) {
                                *colon = '\0';
                                size_t i = 0;
                                while (i < ELEMENTSOF(protos) && strcmp(protos[i].name, part) != 0)
                                        i++;
                                if (i == ELEMENTSOF(protos))
                                        return false;
                                mnl_attr_put_u8(nlh, IPSET_ATTR_PROTO, protos[i].number);
                        } else if (!t->bitmap)
                                return false;
                        put_net16(nlh, IPSET_ATTR_PORT, (uint16_t) port);
                        break;
                }
                case DIM_MAC: {
                        unsigned char m[6];
                        if (len != 17)
                                return false;
                        for (int i = 0; i < 6; i++) {
                                int hi = hexval(part[i * 3]), lo = hexval(part[i * 3 + 1]);
                                if (hi < 0 || lo < 0 || (i < 5 && part[i * 3 + 2] != ':'))
                                        return false;
                                m[i] = (unsigned char) (hi << 4 | lo);
                        }
                        mnl_attr_put(nlh, IPSET_ATTR_ETHER, sizeof(m), m);
                        break;
                }
                case DIM_MARK: {
                        char *end;
                        unsigned long long v = strtoull(part, &end, 0);
                        if (*end || v > UINT32_MAX)
                                return false;
                        put_net32(nlh, IPSET_ATTR_MARK, (uint32_t) v);
                        break;
                }
                case DIM_IFACE: {
                        const char *name = part;
                        if (strncmp(part, "physdev:", 8) == 0) {
                                name = part + 8;
                                cadt |= IPSET_FLAG_PHYSDEV;
                        }
                        mnl_attr_put_strz(nlh, IPSET_ATTR_IFACE, name);
                        break;
                }
                case DIM_SETNAME:
                        mnl_attr_put_strz(nlh, IPSET_ATTR_NAME, part);
                        break;
                case DIM_NONE:
                        break;
                }
        }
        if (*p)
                return false;
        if (cadt)
                put_net32(nlh, IPSET_ATTR_CADT_FLAGS, cadt);
        mnl_attr_put_u32(nlh, IPSET_ATTR_LINENO, lineno);
        mnl_attr_nest_end(nlh, data);
        return true;
}

struct text {
        char s[160];
        size_t n;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s + t->n, sizeof(t->s) - t->n, fmt, ap);
        va_end(ap);
        if (n > 0)
                t->n = t->n + (size_t) n < sizeof(t->s) ? t->n + (size_t) n : sizeof(t->s) - 1;
}

/* Each byte's decimal digits, left-aligned in three chars, and their count. */
#define DEC(n)                                                                                              \
        { (char) ((n) >= 100 ? '0' + (n) / 100 : (n) >= 10 ? '0' + (n) / 10 : '0' + (n)),                  \
          (char) ((n) >= 100 ? '0' + (n) / 10 % 10 : (n) >= 10 ? '0' + (n) % 10 : 0),                      \
          (char) ((n) >= 100 ? '0' + (n) % 10 : 0), (char) ((n) >= 100 ? 3 : (n) >= 10 ? 2 : 1) }
#define DEC4(n) DEC(n), DEC((n) + 1), DEC((n) + 2), DEC((n) + 3)
#define DEC16(n) DEC4(n), DEC4((n) + 4), DEC4((n) + 8), DEC4((n) + 12)
#define DEC64(n) DEC16(n), DEC16((n) + 16), DEC16((n) + 32), DEC16((n) + 48)
static const char decimal[256][4] = { DEC64(0), DEC64(64), DEC64(128), DEC64(192) };

/* inet_ntop's spelling of an IPv4 address without its printf: a dump of a
 * large set formats one per entry. out has room for 16 bytes and 3 more
 * (each byte's digits are copied four at a time). */
static size_t format_ipv4(const unsigned char *a, char *out) {
        char *p = out;
        for (int i = 0; i < 4; i++) {
                memcpy(p, decimal[a[i]], 4);
                p += decimal[a[i]][3];
                *p++ = '.';
        }
        *--p = '\0';
        return (size_t) (p - out);
}

static bool text_addr(struct text *t, const struct nlattr *nest) {
        const struct nlattr *tb[IPSET_ATTR_IPADDR_MAX + 1];
        char buf[INET6_ADDRSTRLEN + 4];
        nested_attrs(nest, tb, IPSET_ATTR_IPADDR_MAX);
        size_t n;
        if (tb[IPSET_ATTR_IPADDR_IPV4] && mnl_attr_get_payload_len(tb[IPSET_ATTR_IPADDR_IPV4]) == 4)
                n = format_ipv4(mnl_attr_get_payload(tb[IPSET_ATTR_IPADDR_IPV4]), buf);
        else if (tb[IPSET_ATTR_IPADDR_IPV6] && mnl_attr_get_payload_len(tb[IPSET_ATTR_IPADDR_IPV6]) == 16 &&
                 inet_ntop(AF_INET6, mnl_attr_get_payload(tb[IPSET_ATTR_IPADDR_IPV6]), buf, sizeof(buf)))
                n = strlen(buf);
        else
                return false;
        if (t->n + n + 1 > sizeof(t->s))
                return false;
        memcpy(t->s + t->n, buf, n + 1);
        t->n += n;
        return true;
}

static uint32_t get_net32(const struct nlattr *a) {
        return mnl_attr_get_payload_len(a) >= 4 ? ntohl(mnl_attr_get_u32(a)) : 0;
}

static uint16_t get_net16(const struct nlattr *a) {
        return mnl_attr_get_payload_len(a) >= 2 ? ntohs(mnl_attr_get_u16(a)) : 0;
}

/* One DATA nest of a dump into `ipset save`'s spelling; false if the kernel
 * sent what the type does not have. */
static bool entry_text(const struct nlattr *data, int type, bool inet6, struct text *t) {
        const struct set_type_info *ti = &set_types[type];
        const struct nlattr *tb[IPSET_ATTR_ADT_MAX + 1];
        nested_attrs(data, tb, IPSET_ATTR_ADT_MAX);
        unsigned ips = 0;
        t->n = 0;
        t->s[0] = '\0';
        for (size_t d = 0; d < ELEMENTSOF(ti->dims) && ti->dims[d] != DIM_NONE; d++) {
                const char *sep = d ? "," : "";
                switch (ti->dims[d]) {
                case DIM_IP:
                case DIM_NET: {
                        const struct nlattr *ip = tb[ips ? IPSET_ATTR_IP2 : IPSET_ATTR_IP];
                        const struct nlattr *cidr = tb[ips ? IPSET_ATTR_CIDR2 : IPSET_ATTR_CIDR];
                        ips++;
                        if (d)
                                text_add(t, ",");
                        if (!ip || !text_addr(t, ip))
                                return false;
                        unsigned max = inet6 ? 128 : 32;
                        if (ti->dims[d] == DIM_NET && cidr && mnl_attr_get_u8(cidr) != max)
                                text_add(t, "/%u", mnl_attr_get_u8(cidr));
                        break;
                }
                case DIM_PORT: {
                        if (!tb[IPSET_ATTR_PORT])
                                return false;
                        unsigned port = get_net16(tb[IPSET_ATTR_PORT]);
                        if (ti->bitmap) {
                                text_add(t, "%s%u", sep, port);
                                break;
                        }
                        unsigned proto = tb[IPSET_ATTR_PROTO] ? mnl_attr_get_u8(tb[IPSET_ATTR_PROTO]) : 0;
                        const char *name = NULL;
                        for (size_t i = 0; i < ELEMENTSOF(protos); i++)
                                if (protos[i].number == proto)
                                        name = protos[i].name;
                        if (name)
                                text_add(t, "%s%s:%u", sep, name, port);
                        else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
                                text_add(t, "%s%s:%u/%u", sep, proto == IPPROTO_ICMP ? "icmp" : "icmpv6", port >> 8,
                                         port & 0xff);
                        else /* other protocols have no port: ipset names them by number here */
                                text_add(t, "%s%u:0", sep, proto);
                        break;
                }
                case DIM_MAC: {
                        const struct nlattr *m = tb[IPSET_ATTR_ETHER];
                        if (!m && ti->optional_last)
                                return true;
                        if (!m || mnl_attr_get_payload_len(m) != 6)
                                return false;
                        const unsigned char *b = mnl_attr_get_payload(m);
                        text_add(t, "%s%02X:%02X:%02X:%02X:%02X:%02X", sep, b[0], b[1], b[2], b[3], b[4], b[5]);
                        break;
                }
                case DIM_MARK:
                        if (!tb[IPSET_ATTR_MARK])
                                return false;
                        text_add(t, "%s0x%08x", sep, get_net32(tb[IPSET_ATTR_MARK]));
                        break;
                case DIM_IFACE: {
                        bool physdev = tb[IPSET_ATTR_CADT_FLAGS] && (get_net32(tb[IPSET_ATTR_CADT_FLAGS]) & IPSET_FLAG_PHYSDEV);
                        if (!tb[IPSET_ATTR_IFACE])
                                return false;
                        text_add(t, "%s%s%.*s", sep, physdev ? "physdev:" : "", (int) mnl_attr_get_payload_len(tb[IPSET_ATTR_IFACE]),
                                 mnl_attr_get_str(tb[IPSET_ATTR_IFACE]));
                        break;
                }
                case DIM_SETNAME:
                        if (!tb[IPSET_ATTR_NAME])
                                return false;
                        text_add(t, "%s%.*s", sep, (int) mnl_attr_get_payload_len(tb[IPSET_ATTR_NAME]),
                                 mnl_attr_get_str(tb[IPSET_ATTR_NAME]));
                        break;
                case DIM_NONE:
                        break;
                }
        }
        return true;
}

bool ipset_nl_entry_text(const struct nlattr *data, int type, bool inet6, char *out, size_t size) {
        struct text t;
        if (type < 0 || type >= _SETT_MAX || !entry_text(data, type, inet6, &t))
                return false;
        snprintf(out, size, "%s", t.s);
        return true;
}

int ipset_nl_errno(int code, int type, const char **text) {
        return error_of(code, class_of(type), text);
}

/* ---- reading sets ---- */

struct dump {
        struct model *live;
        struct resource *cur; /* the set the last message was about */
        int type;             /* its set_type, -1: unknown to reconcile */
        void (*each)(void *u, const char *name, uint64_t digest);
        void *u;
        uint32_t *n_entries; /* a header dump: the number of entries the kernel says, if asked */
        /* cur's entries as they come: their text end to end in one block (each
         * with its NUL) and, a one-part IPv4 set's (keyed), their numbers. */
        char *text;
        size_t text_len, text_cap;
        uint64_t *keys;
        size_t n, cap;
        bool keyed;
        bool headers_only; /* the dump asked for no entries */
};

/* realloc, or abort as xcalloc does when memory is out. */
static void *resize(void *p, size_t size) {
        void *q = realloc(p, size ? size : 1);
        if (!q)
                abort();
        return q;
}

/* cur takes the entries read for it: one block of text, one array of
 * pointers into it, found by walking the block (no array of offsets). */
static void entries_finish(struct dump *d) {
        if (d->cur && d->n) {
                struct ipset_spec *v = &d->cur->ipset;
                v->entry_block = resize(d->text, d->text_len);
                v->entries.v = xcalloc(d->n + 1, sizeof(char *));
                char *p = v->entry_block;
                for (size_t i = 0; i < d->n; i++) {
                        v->entries.v[i] = p;
                        p += strlen(p) + 1;
                }
                v->entries.n = d->n;
                if (d->keyed) {
                        v->entry_keys = d->keys;
                        v->n_entry_keys = d->n;
                        d->keys = NULL;
                }
                d->text = NULL;
        }
        free(d->text);
        free(d->keys);
        d->text = NULL;
        d->keys = NULL;
        d->text_len = d->text_cap = d->n = d->cap = 0;
        d->keyed = true;
}

/* Room for n entries of about len bytes each, the number the set's header
 * gave: a large set's arrays then grow by no copy. */
static void entries_reserve(struct dump *d, size_t n, size_t len) {
        d->cap = n;
        d->keys = resize(d->keys, n * sizeof(*d->keys));
        d->text_cap = n * len;
        d->text = resize(d->text, d->text_cap);
}

/* One entry of cur, len bytes and its NUL; key when it has one. */
static void entry_add(struct dump *d, const char *s, size_t len, const uint64_t *key) {
        if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 256;
                d->keys = resize(d->keys, d->cap * sizeof(*d->keys));
        }
        if (d->text_len + len + 1 > d->text_cap) {
                d->text_cap = d->text_cap ? d->text_cap * 2 : 4096;
                if (d->text_cap < d->text_len + len + 1)
                        d->text_cap = d->text_len + len + 1;
                d->text = resize(d->text, d->text_cap);
        }
        memcpy(d->text + d->text_len, s, len + 1);
        d->text_len += len + 1;
        if (key)
                d->keys[d->n] = *key;
        else
                d->keyed = false;
        d->n++;
}

static void read_header(struct resource *r, int type, const struct nlattr *data) {
        struct ipset_spec *v = &r->ipset;
        const struct nlattr *tb[IPSET_ATTR_CREATE_MAX + 1];
        nested_attrs(data, tb, IPSET_ATTR_CREATE_MAX);
        v->hashsize = tb[IPSET_ATTR_HASHSIZE] ? get_net32(tb[IPSET_ATTR_HASHSIZE]) : 0;
        v->maxelem = tb[IPSET_ATTR_MAXELEM] ? get_net32(tb[IPSET_ATTR_MAXELEM]) : 0;
        v->timeout = tb[IPSET_ATTR_TIMEOUT] ? get_net32(tb[IPSET_ATTR_TIMEOUT]) : 0;
        v->references = tb[IPSET_ATTR_REFERENCES] ? get_net32(tb[IPSET_ATTR_REFERENCES]) : 0;
        v->comment = tb[IPSET_ATTR_CADT_FLAGS] && (get_net32(tb[IPSET_ATTR_CADT_FLAGS]) & IPSET_FLAG_WITH_COMMENT);
        struct text t = { .n = 0 };
        if (type >= 0 && set_types[type].bitmap && set_types[type].dims[0] == DIM_PORT && tb[IPSET_ATTR_PORT] &&
            tb[IPSET_ATTR_PORT_TO])
                text_add(&t, "%u-%u", get_net16(tb[IPSET_ATTR_PORT]), get_net16(tb[IPSET_ATTR_PORT_TO]));
        else if (type >= 0 && set_types[type].bitmap && tb[IPSET_ATTR_IP] && tb[IPSET_ATTR_IP_TO]) {
                if (text_addr(&t, tb[IPSET_ATTR_IP]))
                        text_add(&t, "-");
                if (!text_addr(&t, tb[IPSET_ATTR_IP_TO]))
                        t.n = 0;
        }
        snprintf(v->range, sizeof(v->range), "%.*s", (int) t.n, t.s);
}

/* The entry of a one-address IPv4 set (hash:ip, bitmap:ip) when its DATA nest
 * holds the address first, as the kernel lists them: the common large set,
 * formatted without the general path's attribute table per entry. */
static bool one_ipv4_text(const struct nlattr *data, char *out, size_t *len, uint64_t *key) {
        /* The headers read in place: libmnl's accessors are calls, and this runs per entry. */
        const struct nlattr *ip = (const struct nlattr *) ((const char *) data + MNL_ATTR_HDRLEN);
        if (data->nla_len < MNL_ATTR_HDRLEN * 3 + 4 || (ip->nla_type & NLA_TYPE_MASK) != IPSET_ATTR_IP ||
            ip->nla_len < MNL_ATTR_HDRLEN * 2 + 4 || ip->nla_len > data->nla_len - MNL_ATTR_HDRLEN)
                return false;
        const struct nlattr *v4 = (const struct nlattr *) ((const char *) ip + MNL_ATTR_HDRLEN);
        if ((v4->nla_type & NLA_TYPE_MASK) != IPSET_ATTR_IPADDR_IPV4 || v4->nla_len != MNL_ATTR_HDRLEN + 4)
                return false;
        const unsigned char *a = (const unsigned char *) v4 + MNL_ATTR_HDRLEN;
        *len = format_ipv4(a, out);
        *key = ((uint64_t) a[0] << 24 | (uint64_t) a[1] << 16 | (uint64_t) a[2] << 8 | a[3]) << 8 | 32;
        return true;
}

static int on_set(const struct nlmsghdr *nlh, void *u) {
        struct dump *d = u;
        const struct nlattr *tb[IPSET_ATTR_CMD_MAX + 1];
        top_attrs(nlh, nlh->nlmsg_len, tb, IPSET_ATTR_CMD_MAX);
        if (!tb[IPSET_ATTR_SETNAME])
                return 0;
        const char *name = mnl_attr_get_str(tb[IPSET_ATTR_SETNAME]);
        if (d->each) {
                uint64_t h = HASH_FNV1A_SEED;
                for (int a = IPSET_ATTR_TYPENAME; a <= IPSET_ATTR_DATA; a++)
                        if (tb[a])
                                h = hash_fnv1a(h, tb[a], tb[a]->nla_len);
                d->each(d->u, name, h);
                return 0;
        }
        if (tb[IPSET_ATTR_TYPENAME]) {
                /* The first message of a set: its header. */
                entries_finish(d);
                struct resource *r = resource_new(KIND_IPSET, name);
                struct ipset_spec *v = &r->ipset;
                snprintf(v->type, sizeof(v->type), "%s", mnl_attr_get_str(tb[IPSET_ATTR_TYPENAME]));
                d->type = enum_from_string(&ipset_type_table, v->type);
                v->family = tb[IPSET_ATTR_FAMILY] && mnl_attr_get_u8(tb[IPSET_ATTR_FAMILY]) == NFPROTO_IPV6 ? FAMILY_INET6
                                                                                                          : FAMILY_INET;
                if (tb[IPSET_ATTR_DATA])
                        read_header(r, d->type, tb[IPSET_ATTR_DATA]);
                if (tb[IPSET_ATTR_DATA]) {
                        const struct nlattr *hb[IPSET_ATTR_CREATE_MAX + 1];
                        nested_attrs(tb[IPSET_ATTR_DATA], hb, IPSET_ATTR_CREATE_MAX);
                        uint32_t elements = hb[IPSET_ATTR_ELEMENTS] ? get_net32(hb[IPSET_ATTR_ELEMENTS]) : 0;
                        if (hb[IPSET_ATTR_ELEMENTS] && d->n_entries)
                                *d->n_entries = elements;
                        /* An IPv4 address takes at most 16 bytes with its NUL; others grow
                         * as they come, and so does a set past 2^24 entries (a count
                         * that large is not taken on trust). */
                        if (elements > 256 && elements < (1u << 24) && !d->headers_only)
                                entries_reserve(d, elements, 16);
                }
                r->set = SET_F_TYPE | SET_F_FAMILY | SET_F_MAXELEM | SET_F_HASHSIZE | SET_F_TIMEOUT | SET_F_COMMENT |
                         SET_F_ENTRIES;
                if (model_add(d->live, r) < 0) {
                        resource_free(r);
                        r = NULL;
                }
                d->cur = r;
        } else if (!d->cur || strcmp(d->cur->name, name) != 0)
                return 0; /* entries of a set whose header this dump did not see */
        if (!tb[IPSET_ATTR_ADT] || !d->cur || d->type < 0)
                return 0;
        bool inet6 = d->cur->ipset.family == FAMILY_INET6;
        bool one_ipv4 = !inet6 && set_types[d->type].dims[0] == DIM_IP && set_types[d->type].dims[1] == DIM_NONE;
        const struct nlattr *a;
        struct text t;
        mnl_attr_for_each_nested(a, tb[IPSET_ATTR_ADT]) {
                if (mnl_attr_get_type(a) != IPSET_ATTR_DATA)
                        continue;
                uint64_t key;
                if (one_ipv4 && one_ipv4_text(a, t.s, &t.n, &key))
                        entry_add(d, t.s, t.n, &key);
                else if (entry_text(a, d->type, inet6, &t))
                        entry_add(d, t.s, strlen(t.s), NULL);
        }
        return 0;
}

static int dump(struct ipset_nl *nl, const char *name, bool headers_only, struct dump *d) {
        char buf[256] = { 0 };
        struct nlmsghdr *nlh = msg_put(nl, buf, IPSET_CMD_LIST, NLM_F_DUMP, NFPROTO_IPV4);
        if (name)
                mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
        if (headers_only)
                put_net32(nlh, IPSET_ATTR_FLAGS, IPSET_FLAG_LIST_HEADER);
        nl->err[0] = '\0';
        d->keyed = true;
        d->headers_only = headers_only;
        int r = talk(nl, nlh, on_set, d);
        entries_finish(d);
        if (r < 0) {
                const char *text;
                r = -error_of(-r, CLASS_HASH, &text);
                snprintf(nl->err, sizeof(nl->err), "%s", text);
        }
        return r;
}

int ipset_nl_list(struct ipset_nl *nl, const char *name, bool headers_only, struct model *live) {
        struct dump d = { .live = live, .type = -1 };
        return dump(nl, name, headers_only, &d);
}

int ipset_nl_header(struct ipset_nl *nl, const char *name, struct model *live, uint32_t *n_entries) {
        struct dump d = { .live = live, .type = -1, .n_entries = n_entries };
        *n_entries = UINT32_MAX;
        return dump(nl, name, true, &d);
}

int ipset_nl_header_digests(struct ipset_nl *nl, void (*each)(void *u, const char *name, uint64_t digest), void *u) {
        struct dump d = { .type = -1, .each = each, .u = u };
        return dump(nl, NULL, true, &d);
}

/* ---- batches ---- */

/* What a message was, to say which one the kernel refused. */
struct sent {
        unsigned seq;
        enum type_class cls;
        char what[80];           /* "create x", "add to x", ... */
        char *const *entries;    /* an ADD or DEL: its entries, numbered from 1 */
        size_t n_entries;
};

struct ipset_batch {
        struct ipset_nl *nl;
        char *buf;
        size_t len, cap;
        struct sent *sent;
        size_t n_sent;
};

struct ipset_batch *ipset_batch_new(struct ipset_nl *nl) {
        struct ipset_batch *b = xcalloc(1, sizeof(*b));
        b->nl = nl;
        return b;
}

void ipset_batch_free(struct ipset_batch *b) {
        if (!b)
                return;
        free(b->buf);
        free(b->sent);
        free(b);
}

/* Room for one more message of up to msg_room bytes; messages stay contiguous. */
static struct nlmsghdr *batch_msg(struct ipset_batch *b, uint8_t cmd, uint16_t flags, uint8_t family, enum type_class cls,
                                  const char *what) {
        size_t need = b->len + b->nl->msg_room + 4096;
        if (need > b->cap) {
                size_t had = b->cap;
                b->cap = need * 2;
                b->buf = realloc(b->buf, b->cap);
                if (!b->buf)
                        abort();
                /* libmnl leaves a u8 attribute's padding as it finds it: no heap bytes to the kernel. */
                memset(b->buf + had, 0, b->cap - had);
        }
        struct nlmsghdr *nlh = msg_put(b->nl, b->buf + b->len, cmd, flags | NLM_F_ACK, family);
        struct sent *s = array_push(&b->sent, &b->n_sent, sizeof(*s));
        memset(s, 0, sizeof(*s));
        s->seq = nlh->nlmsg_seq;
        s->cls = cls;
        snprintf(s->what, sizeof(s->what), "%s", what);
        return nlh;
}

static void batch_reset(struct ipset_batch *b) {
        b->len = 0;
        b->n_sent = 0;
}

static void batch_end(struct ipset_batch *b, struct nlmsghdr *nlh) {
        b->len += MNL_ALIGN(nlh->nlmsg_len);
}

static uint8_t nfproto_of(const struct resource *w, int type) {
        if (type < 0 || !set_types[type].has_family)
                return NFPROTO_UNSPEC;
        return (w->set & SET_F_FAMILY) && w->ipset.family == FAMILY_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
}

static int on_type(const struct nlmsghdr *nlh, void *u) {
        const struct nlattr *tb[IPSET_ATTR_CMD_MAX + 1];
        top_attrs(nlh, nlh->nlmsg_len, tb, IPSET_ATTR_CMD_MAX);
        if (tb[IPSET_ATTR_REVISION])
                *(uint8_t *) u = mnl_attr_get_u8(tb[IPSET_ATTR_REVISION]);
        return 0;
}

/* The newest revision of the type the kernel has, asked once per type. */
static int type_revision(struct ipset_nl *nl, const char *typename, int type, uint8_t family, uint8_t *rev) {
        if (nl->revision[type]) {
                *rev = (uint8_t) (nl->revision[type] - 1);
                return 0;
        }
        char buf[256] = { 0 };
        uint8_t got = 0;
        struct nlmsghdr *nlh = msg_put(nl, buf, IPSET_CMD_TYPE, 0, family);
        mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, typename);
        mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, family);
        int r = talk(nl, nlh, on_type, &got);
        if (r < 0) {
                const char *text;
                r = -error_of(-r, CLASS_HASH, &text);
                snprintf(nl->err, sizeof(nl->err), "type %s: %s", typename, text);
                return r;
        }
        nl->revision[type] = (uint8_t) (got + 1);
        *rev = got;
        return 0;
}

static bool put_range_addr(struct nlmsghdr *nlh, uint16_t type, const char *s, size_t len) {
        char a[INET_ADDRSTRLEN];
        unsigned char raw[4];
        if (len >= sizeof(a))
                return false;
        memcpy(a, s, len);
        a[len] = '\0';
        if (inet_pton(AF_INET, a, raw) != 1)
                return false;
        put_addr(nlh, type, AF_INET, raw);
        return true;
}

int ipset_batch_create(struct ipset_batch *b, const char *name, const struct resource *w, uint32_t maxelem) {
        const struct ipset_spec *v = &w->ipset;
        int type = enum_from_string(&ipset_type_table, v->type);
        if (type < 0) {
                batch_reset(b);
                snprintf(b->nl->err, sizeof(b->nl->err), "unknown set type %s", v->type);
                return -EINVAL;
        }
        uint8_t family = nfproto_of(w, type), rev = 0;
        int r = type_revision(b->nl, v->type, type, family, &rev);
        if (r < 0) {
                batch_reset(b);
                return r;
        }
        char what[80];
        snprintf(what, sizeof(what), "create %s", name);
        /* NLM_F_EXCL: a set of that name already there is an error, not a success. */
        struct nlmsghdr *nlh = batch_msg(b, IPSET_CMD_CREATE, NLM_F_CREATE | NLM_F_EXCL, family, class_of(type), what);
        mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
        mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, v->type);
        mnl_attr_put_u8(nlh, IPSET_ATTR_REVISION, rev);
        mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, family);
        struct nlattr *data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
        if ((w->set & SET_F_HASHSIZE) && !set_types[type].bitmap && type != SETT_LIST_SET)
                put_net32(nlh, IPSET_ATTR_HASHSIZE, v->hashsize);
        if (maxelem)
                put_net32(nlh, IPSET_ATTR_MAXELEM, maxelem);
        if ((w->set & SET_F_TIMEOUT) && v->timeout)
                put_net32(nlh, IPSET_ATTR_TIMEOUT, v->timeout);
        if ((w->set & SET_F_COMMENT) && v->comment)
                put_net32(nlh, IPSET_ATTR_CADT_FLAGS, IPSET_FLAG_WITH_COMMENT);
        if ((w->set & SET_F_RANGE) && set_types[type].bitmap) {
                const char *dash = strchr(v->range, '-');
                bool ok = dash != NULL;
                if (ok && set_types[type].dims[0] == DIM_PORT) {
                        put_net16(nlh, IPSET_ATTR_PORT, (uint16_t) strtoul(v->range, NULL, 10));
                        put_net16(nlh, IPSET_ATTR_PORT_TO, (uint16_t) strtoul(dash + 1, NULL, 10));
                } else if (ok)
                        ok = put_range_addr(nlh, IPSET_ATTR_IP, v->range, (size_t) (dash - v->range)) &&
                             put_range_addr(nlh, IPSET_ATTR_IP_TO, dash + 1, strlen(dash + 1));
                if (!ok) {
                        batch_reset(b);
                        snprintf(b->nl->err, sizeof(b->nl->err), "range %s is not FROM-TO", v->range);
                        return -EINVAL;
                }
        }
        mnl_attr_nest_end(nlh, data);
        batch_end(b, nlh);
        return 0;
}

static void batch_names(struct ipset_batch *b, uint8_t cmd, const char *verb, const char *name, const char *name2) {
        char what[80];
        snprintf(what, sizeof(what), "%s %s%s%s", verb, name, name2 ? " " : "", name2 ? name2 : "");
        struct nlmsghdr *nlh = batch_msg(b, cmd, 0, NFPROTO_IPV4, CLASS_HASH, what);
        mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
        if (name2)
                mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME2, name2);
        batch_end(b, nlh);
}

void ipset_batch_destroy(struct ipset_batch *b, const char *name) {
        batch_names(b, IPSET_CMD_DESTROY, "destroy", name, NULL);
}

void ipset_batch_rename(struct ipset_batch *b, const char *from, const char *to) {
        batch_names(b, IPSET_CMD_RENAME, "rename", from, to);
}

void ipset_batch_swap(struct ipset_batch *b, const char *a, const char *c) {
        batch_names(b, IPSET_CMD_SWAP, "swap", a, c);
}

int ipset_batch_entries(struct ipset_batch *b, bool add, const char *name, const struct resource *w,
                        char *const *entries, size_t n) {
        int type = enum_from_string(&ipset_type_table, w->ipset.type);
        if (type < 0) {
                batch_reset(b);
                snprintf(b->nl->err, sizeof(b->nl->err), "unknown set type %s", w->ipset.type);
                return -EINVAL;
        }
        uint8_t family = nfproto_of(w, type);
        int af = family == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
        char what[80];
        snprintf(what, sizeof(what), "%s %s", add ? "add to" : "delete from", name);
        for (size_t i = 0; i < n;) {
                struct nlmsghdr *nlh = batch_msg(b, add ? IPSET_CMD_ADD : IPSET_CMD_DEL, 0, family, class_of(type), what);
                struct sent *s = &b->sent[b->n_sent - 1];
                s->entries = entries + i;
                mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
                /* Asks the kernel to name a refused entry by its number in this message. */
                mnl_attr_put_u32(nlh, IPSET_ATTR_LINENO, 0);
                struct nlattr *adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
                size_t first = i;
                for (; i < n && nlh->nlmsg_len < b->nl->msg_room - 512; i++)
                        if (!ipset_nl_put_entry(nlh, type, af, entries[i], (uint32_t) (i - first + 1))) {
                                batch_reset(b);
                                snprintf(b->nl->err, sizeof(b->nl->err), "entry %.64s is not a %s entry in the kernel's form",
                                         entries[i], w->ipset.type);
                                return -EINVAL;
                        }
                s->n_entries = i - first;
                mnl_attr_nest_end(nlh, adt);
                batch_end(b, nlh);
        }
        return 0;
}

int ipset_batch_send(struct ipset_batch *b) {
        struct ipset_nl *nl = b->nl;
        int r = 0;
        nl->err[0] = '\0';
        size_t off = 0, k = 0;
        while (off < b->len && r == 0) {
                /* As many whole messages as fit in one datagram. */
                size_t end = off, first = k;
                while (end < b->len) {
                        const struct nlmsghdr *nlh = (const struct nlmsghdr *) (b->buf + end);
                        if (end > off && end - off + nlh->nlmsg_len > nl->dgram_room)
                                break;
                        end += MNL_ALIGN(nlh->nlmsg_len);
                        k++;
                }
                struct answers ans = { .acks_left = (unsigned) (k - first) };
                if (mnl_socket_sendto(nl->sock, b->buf + off, end - off) < 0)
                        r = -errno;
                else
                        r = receive(nl, &ans, false);
                if (r == 0 && ans.code) {
                        const struct sent *s = NULL;
                        for (size_t i = first; i < k; i++)
                                if (b->sent[i].seq == ans.seq)
                                        s = &b->sent[i];
                        const char *text;
                        r = -error_of(ans.code, s ? s->cls : CLASS_HASH, &text);
                        if (s && s->entries && ans.lineno >= 1 && ans.lineno <= s->n_entries)
                                snprintf(nl->err, sizeof(nl->err), "entry %s: %s", s->entries[ans.lineno - 1], text);
                        else
                                snprintf(nl->err, sizeof(nl->err), "%s: %s", s ? s->what : "ipset", text);
                } else if (r < 0)
                        snprintf(nl->err, sizeof(nl->err), "cannot talk to the kernel: %s", strerror(-r));
                off = end;
        }
        batch_reset(b);
        return r;
}
