/* One rtnetlink socket inside a network namespace, shared by the link and
 * route backends: requests with their acknowledgement and extended ack, dumps. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends.h"

#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

int rtnl_open(struct rtnl *t, const char *netns, const char *who) {
        int saved, r;
        memset(t, 0, sizeof(*t));
        if (netns)
                snprintf(t->netns, sizeof(t->netns), "%s", netns);
        r = netns_enter(netns, &saved);
        if (r < 0)
                return r;
        t->sk = nl_socket_alloc();
        if (!t->sk || nl_connect(t->sk, NETLINK_ROUTE) < 0) {
                netns_leave(&saved);
                rtnl_close(t);
                return diag_plain(-EIO, "%s backend: cannot open a netlink socket", who);
        }
        r = netns_leave(&saved);
        if (r < 0) {
                rtnl_close(t);
                return r;
        }
        int one = 1;
        setsockopt(nl_socket_get_fd(t->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        nl_socket_set_buffer_size(t->sk, 4 << 20, 4 << 20);
        nl_socket_set_msg_buf_size(t->sk, 64 << 10);
        return 0;
}

void rtnl_close(struct rtnl *t) {
        if (t->sk)
                nl_socket_free(t->sk);
        t->sk = NULL;
}

struct talk {
        int error;
        bool done;
        char *msg;
        size_t msg_size;
};

static int talk_on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg) {
        struct talk *t = arg;
        struct nlmsghdr *nlh = (struct nlmsghdr *) ((char *) e - NLMSG_HDRLEN);
        (void) who;
        t->error = e->error;
        t->done = true;
        t->msg[0] = '\0';
        if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
                size_t off = sizeof(*e);
                if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                        off += e->msg.nlmsg_len - NLMSG_HDRLEN;
                struct nlattr *a = (struct nlattr *) ((char *) e + NLMSG_ALIGN(off));
                int rem = (int) nlh->nlmsg_len - (int) NLMSG_HDRLEN - (int) NLMSG_ALIGN(off);
                for (; nla_ok(a, rem); a = nla_next(a, &rem))
                        if (nla_type(a) == NLMSGERR_ATTR_MSG)
                                snprintf(t->msg, t->msg_size, "%s", nla_get_string(a));
        }
        return NL_STOP;
}

static int talk_on_ack(struct nl_msg *m, void *arg) {
        struct talk *t = arg;
        (void) m;
        t->error = 0;
        t->done = true;
        return NL_STOP;
}

int rtnl_talk(struct rtnl *s, struct nl_msg *msg, rtnl_reply_fn on_reply, void *arg) {
        struct talk t = { .msg = s->err, .msg_size = sizeof(s->err) };
        s->err[0] = '\0';
        int r = nl_send_auto(s->sk, msg);
        nlmsg_free(msg);
        if (r < 0)
                return -EIO;
        struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb)
                return -ENOMEM;
        if (on_reply)
                nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_reply, arg);
        nl_cb_err(cb, NL_CB_CUSTOM, talk_on_error, &t);
        nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, talk_on_ack, &t);
        while (!t.done) {
                r = nl_recvmsgs(s->sk, cb);
                if (r < 0 && !t.done) {
                        t.error = -EIO;
                        break;
                }
        }
        nl_cb_put(cb);
        return t.error;
}

const char *rtnl_says(struct rtnl *s, int r) {
        static char buf[320];
        if (s->err[0])
                snprintf(buf, sizeof(buf), "%s (%s)", s->err, strerror(-r));
        else
                snprintf(buf, sizeof(buf), "%s", strerror(-r));
        return buf;
}

int rtnl_dump(struct rtnl *s, int type, const void *hdr, size_t hdr_len, rtnl_reply_fn fn, void *arg) {
        int r = nl_send_simple(s->sk, type, NLM_F_DUMP, (void *) hdr, hdr_len);
        if (r < 0)
                return -EIO;
        struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
        if (!cb)
                return -ENOMEM;
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, fn, arg);
        r = nl_recvmsgs(s->sk, cb);
        nl_cb_put(cb);
        if (r == -NLE_DUMP_INTR)
                return -EAGAIN; /* the table changed under the dump: read it again */
        return r < 0 ? -EIO : 0;
}

int rtnl_observe(struct model *live, int (*once)(void *u, struct model *m), void *u) {
        for (int attempt = 1;; attempt++) {
                struct model m = { 0 };
                int r = once(u, &m);
                if (r == -EAGAIN && attempt < 10) {
                        model_done(&m);
                        continue;
                }
                if (r < 0) {
                        model_done(&m);
                        return r;
                }
                for (size_t i = 0; i < m.n; i++)
                        if (model_add(live, m.v[i]) < 0)
                                resource_free(m.v[i]);
                m.n = 0; /* moved into live */
                model_done(&m);
                return 0;
        }
}

struct one_link { int ifindex; unsigned flags; int master; };
static int on_one_link(struct nl_msg *m, void *arg) {
        struct one_link *o = arg;
        struct nlmsghdr *nlh = nlmsg_hdr(m);
        struct ifinfomsg *ifi = nlmsg_data(nlh);
        if (nlh->nlmsg_type == RTM_NEWLINK) {
                o->ifindex = ifi->ifi_index;
                o->flags = ifi->ifi_flags;
                struct nlattr *master = nlmsg_find_attr(nlh, sizeof(*ifi), IFLA_MASTER);
                o->master = master ? (int) nla_get_u32(master) : 0;
        }
        return NL_OK;
}

static int get_link(struct rtnl *t, const char *name, struct one_link *o) {
        struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        if (!msg || nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
            nla_put_string(msg, IFLA_IFNAME, name) < 0 || nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0) {
                nlmsg_free(msg);
                return -ENOMEM;
        }
        return rtnl_talk(t, msg, on_one_link, o);
}

int rtnl_ifindex(struct rtnl *t, const char *name) {
        struct one_link o = { 0 };
        int r = get_link(t, name, &o);
        if (r < 0 && r != -ENODEV)
                return r;
        return o.ifindex;
}

int rtnl_link_master(struct rtnl *t, const char *name) {
        struct one_link o = { 0 };
        int r = get_link(t, name, &o);
        return r < 0 ? r : o.master;
}

int rtnl_link_flags(struct rtnl *t, const char *name) {
        struct one_link o = { 0 };
        int r = get_link(t, name, &o);
        return r < 0 ? r : (int) (o.flags & 0xffff);
}

int rtnl_watch_open(const char *netns, unsigned groups, const char *who) {
        int saved, r = netns_enter(netns, &saved);
        if (r < 0)
                return r;
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
        r = fd < 0 ? -errno : 0;
        netns_leave(&saved);
        if (r < 0)
                return diag_plain(r, "%s backend: cannot open a netlink monitor: %s", who, strerror(-r));
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
                                  .nl_groups = groups };
        int size = 1 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return diag_plain(r, "%s backend: cannot join its netlink groups: %s", who, strerror(-r));
        }
        return fd;
}

int rtnl_watch_drain(void *watch, int fd) {
        (void) watch;
        char buf[16384];
        int n = 0;
        for (;;) {
                ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (len < 0 && errno == EINTR)
                        continue;
                if (len < 0 && errno == ENOBUFS) {
                        n++; /* events were lost: that alone calls for a run */
                        continue;
                }
                if (len <= 0)
                        break;
                /* Count messages, not bytes: each one may be a change to react to. */
                for (char *p = buf; p + NLMSG_HDRLEN <= buf + len;) {
                        const struct nlmsghdr *h = (const struct nlmsghdr *) p;
                        if (h->nlmsg_len < NLMSG_HDRLEN || p + h->nlmsg_len > buf + len)
                                break;
                        n++;
                        p += NLMSG_ALIGN(h->nlmsg_len);
                }
        }
        return n;
}

