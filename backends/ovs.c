/* Open vSwitch through OVSDB: RFC 7047 JSON-RPC over ovsdb-server's unix
 * socket. observe is one transact of selects; each action is one transact
 * whose wait operations hold what the plan saw, so that a concurrent change
 * fails cleanly instead of being overwritten; the daemon's watch is a monitor
 * on its own connection. The kinds build their operations (ovs-bridge.c,
 * ovs-port.c); this file talks and reads rows. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "kind.h"

#define OVSDB_DEFAULT "/run/openvswitch/db.sock"
#define OVSDB_TIMEOUT_MS 10000

struct ovs_conn {
        int fd;
        struct ovs_stream in;
        unsigned next_id;
        char path[108];
};

/* ---- JSON-RPC messages ---- */

struct json_object *ovs_request(const char *method, struct json_object *params, unsigned id) {
        struct json_object *m = json_object_new_object();
        json_object_object_add(m, "method", json_object_new_string(method));
        json_object_object_add(m, "params", params);
        json_object_object_add(m, "id", json_object_new_int64(id));
        return m;
}

/* Bytes go to the tokener once: a reply of megabytes that arrives in pieces
 * is parsed as it comes, not again from its start on every read. */
int ovs_stream_take(struct ovs_stream *s, struct json_object **msg) {
        *msg = NULL;
        if (s->fed == s->len)
                return 0;
        if (!s->tok && !(s->tok = json_tokener_new()))
                return -ENOMEM;
        size_t n = s->len - s->fed;
        if (n > INT32_MAX)
                return -EBADMSG;
        struct json_object *o = json_tokener_parse_ex(s->tok, s->buf + s->fed, (int) n);
        enum json_tokener_error e = json_tokener_get_error(s->tok);
        if (e == json_tokener_continue) {
                s->fed = s->len;
                return 0;
        }
        size_t end = s->fed + json_tokener_get_parse_end(s->tok);
        json_tokener_reset(s->tok);
        if (e != json_tokener_success || !o || json_object_get_type(o) != json_type_object) {
                json_object_put(o);
                return -EBADMSG;
        }
        memmove(s->buf, s->buf + end, s->len - end);
        s->len -= end;
        s->fed = 0;
        /* What follows the message up to the next one is white space at most. */
        while (s->len && strchr(" \t\r\n", s->buf[0])) {
                memmove(s->buf, s->buf + 1, s->len - 1);
                s->len--;
        }
        *msg = o;
        return 1;
}

/* Room for at least min more bytes at s->buf + s->len. */
int ovs_stream_reserve(struct ovs_stream *s, size_t min) {
        if (s->cap - s->len >= min)
                return 0;
        size_t cap = s->cap ? s->cap : 65536;
        while (cap - s->len < min)
                cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
                return -ENOMEM;
        s->buf = nb;
        s->cap = cap;
        return 0;
}

int ovs_stream_put(struct ovs_stream *s, const char *data, size_t n) {
        int r = ovs_stream_reserve(s, n);
        if (r < 0)
                return r;
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        return 0;
}

void ovs_stream_done(struct ovs_stream *s) {
        if (s->tok)
                json_tokener_free(s->tok);
        free(s->buf);
        memset(s, 0, sizeof(*s));
}

int ovs_reply_error(struct json_object *result, char *buf, size_t size) {
        buf[0] = '\0';
        size_t n = json_object_get_type(result) == json_type_array ? json_object_array_length(result) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *r = json_object_array_get_idx(result, i), *err, *det;
                if (!json_object_object_get_ex(r, "error", &err))
                        continue;
                const char *what = json_object_get_string(err);
                const char *details = json_object_object_get_ex(r, "details", &det) ? json_object_get_string(det) : NULL;
                snprintf(buf, size, "%s%s%s", what, details ? ": " : "", details ? details : "");
                /* A wait that did not hold: someone changed the row since the plan read it. */
                if (strcmp(what, "timed out") == 0)
                        return -EAGAIN;
                if (strcmp(what, "constraint violation") == 0)
                        return -EEXIST;
                return -EIO;
        }
        return 0;
}

/* ---- the connection ---- */

static int conn_open(const char *path, struct ovs_conn *c) {
        memset(c, 0, sizeof(*c));
        c->fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        snprintf(c->path, sizeof(c->path), "%s", path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(c->fd);
                c->fd = -1;
                return r;
        }
        return 0;
}

static void conn_close(struct ovs_conn *c) {
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        ovs_stream_done(&c->in);
}

static int conn_send(struct ovs_conn *c, struct json_object *msg) {
        const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
        size_t len = strlen(s), off = 0;
        while (off < len) {
                ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                off += (size_t) n;
        }
        return 0;
}

/* The next message: 1 with *msg, 0 when none came within timeout_ms (0: only
 * what is queued), or a negative errno (-ECONNRESET: the server went away). */
static int conn_recv(struct ovs_conn *c, struct json_object **msg, int timeout_ms) {
        for (;;) {
                int r = ovs_stream_take(&c->in, msg);
                if (r != 0)
                        return r;
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                r = poll(&p, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return 0;
                r = ovs_stream_reserve(&c->in, 65536);
                if (r < 0)
                        return r;
                ssize_t n = recv(c->fd, c->in.buf + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ECONNRESET;
                c->in.len += (size_t) n;
        }
}

/* The server's echo keeps the session alive: answered wherever it comes. */
static bool answer_echo(struct ovs_conn *c, struct json_object *msg) {
        struct json_object *method, *params, *id;
        if (!json_object_object_get_ex(msg, "method", &method) || strcmp(json_object_get_string(method), "echo") != 0)
                return false;
        struct json_object *reply = json_object_new_object();
        json_object_object_get_ex(msg, "params", &params);
        json_object_object_get_ex(msg, "id", &id);
        json_object_object_add(reply, "result", json_object_get(params));
        json_object_object_add(reply, "error", NULL);
        json_object_object_add(reply, "id", json_object_get(id));
        conn_send(c, reply);
        json_object_put(reply);
        return true;
}

/* One call: params are taken; *result is the reply's result (the caller's). */
static int conn_call(struct ovs_conn *c, const char *method, struct json_object *params, struct json_object **result,
                     char *err, size_t err_size) {
        unsigned id = ++c->next_id;
        struct json_object *req = ovs_request(method, params, id);
        int r = conn_send(c, req);
        json_object_put(req);
        *result = NULL;
        err[0] = '\0';
        if (r < 0)
                return r;
        for (;;) {
                struct json_object *msg = NULL, *rid, *e, *res;
                r = conn_recv(c, &msg, OVSDB_TIMEOUT_MS);
                if (r <= 0)
                        return r == 0 ? -ETIMEDOUT : r;
                if (answer_echo(c, msg) || !json_object_object_get_ex(msg, "id", &rid) ||
                    json_object_get_int64(rid) != (int64_t) id) {
                        json_object_put(msg); /* an update of a monitor, or a reply to another call */
                        continue;
                }
                if (json_object_object_get_ex(msg, "error", &e) && e) {
                        snprintf(err, err_size, "%s", json_object_get_string(e));
                        json_object_put(msg);
                        return -EIO;
                }
                if (json_object_object_get_ex(msg, "result", &res))
                        *result = json_object_get(res);
                json_object_put(msg);
                return 0;
        }
}

struct ovs_state {
        struct ovs_conn conn;
        /* The run's live model as the last observe filled it (links included:
         * their backend observes first), for admit at plan time. */
        const struct model *live;
        /* The namespace whose interfaces OVS's would collide with, read lazily. */
        char netns[256];
        struct rtnl nl;
        /* Between batch_begin and batch_commit: the one transaction the actions
         * queue their operations in, and which action's operations end where. */
        struct json_object *batch;
        struct batched {
                size_t end; /* one past its last operation in batch */
                enum kind kind;
                const char *name; /* the plan's, alive until the commit */
                enum ovs_wait wait; /* the commit names what it waited for */
        } *queued;
        size_t n_queued;
        bool batch_wait_applied;
        bool batch_made_bridge; /* a device other kinds may use next */
};

static struct json_object *select_op(const char *table, const char *const *cols);

static int ovs_connect(const struct backend_ctx *ctx, struct ovs_conn *c) {
        const char *path = ctx->ovsdb ? ctx->ovsdb : OVSDB_DEFAULT;
        int r = conn_open(path, c);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return diag_plain(r, "ovs: Open vSwitch is not running (ovsdb-server socket missing): %s", path);
        if (r < 0)
                return diag_plain(r, "ovs: %s: %s", path, strerror(-r));
        return 0;
}

static int ovs_open(const struct backend_ctx *ctx, void **state) {
        struct ovs_state *s = xcalloc(1, sizeof(*s));
        if (ctx->netns)
                snprintf(s->netns, sizeof(s->netns), "%s", ctx->netns);
        int r = ovs_connect(ctx, &s->conn);
        if (r < 0) {
                free(s);
                return r;
        }
        *state = s;
        return 0;
}

static void ovs_close(void *state) {
        struct ovs_state *s = state;
        if (!s)
                return;
        conn_close(&s->conn);
        rtnl_close(&s->nl);
        json_object_put(s->batch);
        free(s->queued);
        free(s);
}

/* The Open_vSwitch row's next_cfg or cur_cfg from a select's result, -1 if none. */
static int64_t cfg_of(struct json_object *op_result, const char *col) {
        struct json_object *rows = NULL;
        if (!json_object_object_get_ex(op_result, "rows", &rows) || json_object_array_length(rows) < 1)
                return -1;
        struct json_object *v = ovs_col(json_object_array_get_idx(rows, 0), col);
        return v ? json_object_get_int64(v) : -1;
}

/* How long to wait for ovs-vswitchd. RECONCILE_DEBUG_OVS_WAIT_MS shortens it
 * for the test where ovs-vswitchd is not running. */
static int wait_ms(void) {
        const char *v = getenv("RECONCILE_DEBUG_OVS_WAIT_MS");
        return v && atoi(v) > 0 ? atoi(v) : OVSDB_TIMEOUT_MS;
}

/* ovs-vswitchd has made what the transaction asked for (an internal port that
 * the link kinds configure next) once its cur_cfg reaches next_cfg. 0;
 * -ETIMEDOUT with err empty when ovs-vswitchd did not get there; or the
 * connection's error with err filled (ovsdb-server may have timed out too).
 * The caller reports it, knowing what was written. */
static int wait_vswitchd(struct ovs_state *s, int64_t next_cfg, char *err, size_t err_size) {
        static const char *const cols[] = { "cur_cfg", NULL };
        for (int tries = 0, n = wait_ms() / 20 + 1; tries < n; tries++) {
                struct json_object *p = ovs_txn_begin(), *result = NULL;
                json_object_array_add(p, select_op("Open_vSwitch", cols));
                int r = conn_call(&s->conn, "transact", p, &result, err, err_size);
                int64_t cur = r < 0 ? -1 : cfg_of(json_object_array_get_idx(result, 0), "cur_cfg");
                json_object_put(result);
                if (r < 0) {
                        if (!err[0])
                                snprintf(err, err_size, "%s", strerror(-r));
                        return r;
                }
                if (cur >= next_cfg)
                        return 0;
                if (tries + 1 < n)
                        poll(NULL, 0, 20);
        }
        err[0] = '\0';
        return -ETIMEDOUT;
}

/* Why a wait for ovs-vswitchd failed, after "written to OVSDB, but ". */
static const char *wait_failure(const char *err, char *buf, size_t size) {
        if (!err[0])
                snprintf(buf, size, "ovs-vswitchd did not apply it within %.3g s (is it running?)", wait_ms() / 1000.0);
        else
                snprintf(buf, size, "asking whether ovs-vswitchd applied it failed: ovsdb-server: %s", err);
        return buf;
}

/* Send one transaction (params taken): 0, a negative errno from the
 * connection (err says more), or ovs_reply_error's for the reply, with *bad
 * the index of the operation that failed (-1: none, or the commit itself);
 * *next_cfg is what ovs-vswitchd must reach when wait_applied. */
static int transact_raw(struct ovs_state *s, struct json_object *params, bool wait_applied, int64_t *next_cfg,
                        long *bad, char *err, size_t err_size) {
        struct json_object *result = NULL;
        *next_cfg = -1;
        *bad = -1;
        if (wait_applied) {
                static const char *const cols[] = { "next_cfg", NULL };
                struct json_object *bump = ovs_op("mutate", "Open_vSwitch", json_object_new_array()),
                                   *muts = json_object_new_array(), *m = json_object_new_array();
                json_object_array_add(m, json_object_new_string("next_cfg"));
                json_object_array_add(m, json_object_new_string("+="));
                json_object_array_add(m, json_object_new_int(1));
                json_object_array_add(muts, m);
                json_object_object_add(bump, "mutations", muts);
                json_object_array_add(params, bump);
                json_object_array_add(params, select_op("Open_vSwitch", cols));
        }
        size_t n_ops = json_object_array_length(params) - 1;
        int r = conn_call(&s->conn, "transact", params, &result, err, err_size);
        if (r < 0) {
                json_object_put(result);
                return r;
        }
        r = ovs_reply_error(result, err, err_size);
        for (size_t i = 0; r < 0 && i < json_object_array_length(result) && i < n_ops && *bad < 0; i++)
                if (json_object_object_get_ex(json_object_array_get_idx(result, i), "error", NULL))
                        *bad = (long) i;
        if (wait_applied && r >= 0)
                *next_cfg = cfg_of(json_object_array_get_idx(result, n_ops - 1), "next_cfg");
        json_object_put(result);
        return r;
}

int ovs_transact(void *state, struct json_object *params, enum kind k, const char *name, bool wait_applied) {
        struct ovs_state *s = state;
        char err[512] = "";
        int64_t next_cfg;
        long bad;
        int r = transact_raw(s, params, wait_applied, &next_cfg, &bad, err, sizeof(err));
        if (r < 0 && r != -EAGAIN && r != -EEXIST && r != -EIO)
                return diag_res(r, kind_to_string(k), name, "ovsdb-server: %s", err[0] ? err : strerror(-r));
        char why[640];
        if (r >= 0 && next_cfg >= 0 && (r = wait_vswitchd(s, next_cfg, err, sizeof(err))) < 0)
                return diag_res(r, kind_to_string(k), name, "written to OVSDB, but %s",
                                wait_failure(err, why, sizeof(why)));
        if (r == -EAGAIN)
                return diag_res(r, kind_to_string(k), name,
                                "changed by someone else since the plan was made (%s); nothing was written, run again",
                                err);
        if (r < 0)
                return diag_res(r, kind_to_string(k), name, "ovsdb-server refused the transaction: %s", err);
        return 0;
}

/* Each action names its rows "port", "iface0": in one transaction with
 * others, the names get the action's number. */
static void rename_named(struct json_object *v, unsigned tag) {
        if (json_object_get_type(v) == json_type_object) {
                struct json_object *name;
                if (json_object_object_get_ex(v, "uuid-name", &name)) {
                        char *n = xasprintf("%s_%u", json_object_get_string(name), tag);
                        json_object_object_add(v, "uuid-name", json_object_new_string(n));
                        free(n);
                }
                json_object_object_foreach(v, key, val) {
                        (void) key;
                        rename_named(val, tag);
                }
                return;
        }
        if (json_object_get_type(v) != json_type_array)
                return;
        size_t n = json_object_array_length(v);
        const char *head = n == 2 ? json_object_get_string(json_object_array_get_idx(v, 0)) : NULL;
        if (head && json_object_get_type(json_object_array_get_idx(v, 0)) == json_type_string &&
            strcmp(head, "named-uuid") == 0) {
                char *named = xasprintf("%s_%u", json_object_get_string(json_object_array_get_idx(v, 1)), tag);
                json_object_array_put_idx(v, 1, json_object_new_string(named));
                free(named);
                return;
        }
        for (size_t i = 0; i < n; i++)
                rename_named(json_object_array_get_idx(v, i), tag);
}

size_t ovs_txn_merge(struct json_object *into, struct json_object *t, unsigned tag) {
        size_t n = json_object_array_length(t);
        for (size_t i = 1; i < n; i++) {
                struct json_object *op = json_object_get(json_object_array_get_idx(t, i));
                rename_named(op, tag);
                json_object_array_add(into, op);
        }
        json_object_put(t);
        return n ? n - 1 : 0;
}

static void ovs_batch_begin(void *state) {
        struct ovs_state *s = state;
        json_object_put(s->batch);
        s->batch = ovs_txn_begin();
        s->n_queued = 0;
        s->batch_wait_applied = s->batch_made_bridge = false;
}

int ovs_apply(void *state, const struct action *a, struct json_object *(*txn)(const struct action *a),
              enum ovs_wait wait) {
        bool wait_applied = wait != OVS_WAIT_NEVER;
        struct ovs_state *s = state;
        if (a->live && !a->live->ovs.managed)
                return diag_res(-EPERM, kind_to_string(a->kind), a->name,
                                "not marked external_ids:reconcile=managed: left as it is");
        struct json_object *t = txn(a);
        if (json_object_array_length(t) <= 1) {
                json_object_put(t);
                return 0; /* adopted as it is */
        }
        if (!s->batch)
                return ovs_transact(state, t, a->kind, a->name, wait_applied);
        ovs_txn_merge(s->batch, t, (unsigned) s->n_queued);
        struct batched *q = array_push(&s->queued, &s->n_queued, sizeof(*q));
        *q = (struct batched) { json_object_array_length(s->batch) - 1, a->kind, a->name, wait };
        s->batch_wait_applied |= wait == OVS_WAIT_ALWAYS;
        s->batch_made_bridge |= wait == OVS_WAIT_IF_USED;
        return 0;
}

/* The action whose operation op is (the last one for the commit itself). */
static const struct batched *batched_at(const struct ovs_state *s, long op) {
        for (size_t i = 0; op >= 0 && i < s->n_queued; i++)
                if ((size_t) op < s->queued[i].end)
                        return &s->queued[i];
        return &s->queued[s->n_queued - 1];
}

/* The batch was written, and ovs-vswitchd did not apply it: one error that
 * names the actions it waited for (their devices are what is missing). */
static int batch_wait_failed(const struct ovs_state *s, int r, const char *err, bool others_follow) {
        char names[512] = "", more[64] = "", why[640];
        size_t listed = 0, waited = 0, len = 0;
        bool full = false; /* named while they fit; the rest are counted */
        for (size_t i = 0; i < s->n_queued; i++) {
                const struct batched *q = &s->queued[i];
                if (q->wait != OVS_WAIT_ALWAYS && !(q->wait == OVS_WAIT_IF_USED && others_follow))
                        continue;
                waited++;
                int n = full ? -1 : snprintf(names + len, sizeof(names) - len, "%s%s %s", listed ? ", " : "",
                                             kind_to_string(q->kind), q->name);
                if (n < 0 || (size_t) n >= sizeof(names) - len) {
                        names[len] = '\0';
                        full = true;
                        continue;
                }
                len += (size_t) n;
                listed++;
        }
        if (waited > listed)
                snprintf(more, sizeof(more), " and %zu more", waited - listed);
        return diag_plain(r, "ovs: written to OVSDB (%zu OVS action%s), but %s; waited for: %s%s", s->n_queued,
                          s->n_queued == 1 ? "" : "s", wait_failure(err, why, sizeof(why)), names, more);
}

static int ovs_batch_commit(void *state, bool others_follow, const char **incomplete) {
        struct ovs_state *s = state;
        struct json_object *t = s->batch;
        s->batch = NULL;
        *incomplete = NULL;
        if (!t || !s->n_queued) {
                json_object_put(t);
                return 0;
        }
        char err[512] = "";
        int64_t next_cfg;
        long bad;
        size_t n = s->n_queued;
        diag_debug("ovs: one transaction of %zu operations for %zu actions", json_object_array_length(t) - 1, n);
        bool wait = s->batch_wait_applied || (s->batch_made_bridge && others_follow);
        int r = transact_raw(s, t, wait, &next_cfg, &bad, err, sizeof(err));
        const struct batched *who = batched_at(s, bad);
        if (r >= 0 && next_cfg >= 0 && (r = wait_vswitchd(s, next_cfg, err, sizeof(err))) < 0) {
                /* Committed: every queued action is in OVSDB, and its rows are reconcile's. */
                *incomplete = !err[0] ? "written to OVSDB; ovs-vswitchd did not apply it in time"
                                      : "written to OVSDB; whether ovs-vswitchd applied it is unknown";
                return batch_wait_failed(s, r, err, others_follow);
        }
        if (r == -EAGAIN)
                return diag_res(r, kind_to_string(who->kind), who->name,
                                "changed by someone else since the plan was made (%s); nothing of the %zu OVS "
                                "action%s was written", err, n, n == 1 ? "" : "s");
        if (r == -EEXIST || r == -EIO)
                return diag_res(r, kind_to_string(who->kind), who->name,
                                "ovsdb-server refused the transaction (%zu OVS action%s, none written): %s", n,
                                n == 1 ? "" : "s", err);
        if (r < 0)
                return diag_res(r, kind_to_string(who->kind), who->name, "ovsdb-server: %s",
                                err[0] ? err : strerror(-r));
        return 0;
}

int ovs_admit_interface(void *state, const struct resource *want, const char *ifname) {
        struct ovs_state *s = state;
        if (!s || !s->live || model_find(s->live, KIND_OVS_BRIDGE, ifname))
                return 0;
        for (size_t i = 0; i < s->live->n; i++)
                if (s->live->v[i]->kind == KIND_OVS_PORT && strcmp(s->live->v[i]->ovs.port, ifname) == 0)
                        return 0; /* OVS's own device */
        /* The links are in the live model when a link kind is declared; else the kernel is asked. */
        const struct resource *l = model_find(s->live, KIND_ETHERNET, ifname);
        const char *type = l ? (l->link.type[0] ? l->link.type : "network") : NULL;
        if (!l) {
                if (!s->nl.sk && rtnl_open(&s->nl, s->netns[0] ? s->netns : NULL, "ovs") < 0)
                        return 0; /* said why; OVS reports its own failure at apply */
                int idx = rtnl_ifindex(&s->nl, ifname);
                type = idx > 0 ? "network" : NULL;
        }
        if (!type || strcmp(type, "openvswitch") == 0)
                return 0;
        return diag_pos(&want->pos, "%s %s: interface %s exists already (a %s device) and is not Open vSwitch's: "
                        "OVS could not make it", kind_to_string(want->kind), want->name, ifname, type);
}

/* ---- reading OVSDB values (RFC 7047 5.1) ---- */

/* A set is ["set", [atoms]] or one atom; a uuid is ["uuid", "..."]. */
size_t ovs_set_len(struct json_object *v) {
        if (!v)
                return 0;
        if (json_object_get_type(v) == json_type_array && json_object_array_length(v) == 2 &&
            strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), "set") == 0)
                return json_object_array_length(json_object_array_get_idx(v, 1));
        return 1;
}

struct json_object *ovs_set_item(struct json_object *v, size_t i) {
        if (json_object_get_type(v) == json_type_array && json_object_array_length(v) == 2 &&
            strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), "set") == 0)
                return json_object_array_get_idx(json_object_array_get_idx(v, 1), i);
        return v;
}

const char *ovs_uuid_text(struct json_object *atom) {
        if (json_object_get_type(atom) != json_type_array || json_object_array_length(atom) != 2)
                return "";
        return json_object_get_string(json_object_array_get_idx(atom, 1));
}

/* A map's value for key: ["map", [[k, v], ...]]. */
const char *ovs_map_get(struct json_object *map, const char *key) {
        if (json_object_get_type(map) != json_type_array || json_object_array_length(map) != 2)
                return NULL;
        struct json_object *pairs = json_object_array_get_idx(map, 1);
        for (size_t i = 0; i < json_object_array_length(pairs); i++) {
                struct json_object *p = json_object_array_get_idx(pairs, i);
                if (strcmp(json_object_get_string(json_object_array_get_idx(p, 0)), key) == 0)
                        return json_object_get_string(json_object_array_get_idx(p, 1));
        }
        return NULL;
}

struct json_object *ovs_col(struct json_object *row, const char *col) {
        struct json_object *v = NULL;
        json_object_object_get_ex(row, col, &v);
        return v;
}

void ovs_map_read(struct json_object *map, struct str_map *m) {
        if (json_object_get_type(map) != json_type_array || json_object_array_length(map) != 2)
                return;
        struct json_object *pairs = json_object_array_get_idx(map, 1);
        for (size_t i = 0; i < json_object_array_length(pairs); i++) {
                struct json_object *p = json_object_array_get_idx(pairs, i);
                const char *k = json_object_get_string(json_object_array_get_idx(p, 0));
                const char *v = json_object_get_string(json_object_array_get_idx(p, 1));
                if (k && v)
                        str_map_add(m, k, v);
        }
}

/* ---- writing OVSDB values ---- */

struct json_object *ovs_map_json(const struct str_map *m, bool mark) {
        struct json_object *pairs = json_object_new_array(), *a = json_object_new_array();
        for (size_t i = 0; i < m->n; i++)
                json_object_array_add(pairs, ovs_pair(m->v[i].key, m->v[i].value));
        if (mark)
                json_object_array_add(pairs, ovs_pair("reconcile", "managed"));
        json_object_array_add(a, json_object_new_string("map"));
        json_object_array_add(a, pairs);
        return a;
}

/* The declared keys whose values differ from live's. */
static bool map_key_differs(const struct str_map *want, const struct str_map *have, size_t i) {
        const char *h = str_map_get(have, want->v[i].key);
        return !h || strcmp(h, want->v[i].value) != 0;
}

void ovs_diff_map(struct action *a, uint64_t bit, const char *word, const struct str_map *want,
                  const struct str_map *have) {
        for (size_t i = 0; i < want->n; i++) {
                if (!map_key_differs(want, have, i))
                        continue;
                char *name = xasprintf("%s:%s", word, want->v[i].key);
                action_add_change(a, bit, name, value_text(str_map_get(have, want->v[i].key)),
                                  value_text(want->v[i].value));
                free(name);
        }
}

/* Set the declared keys that differ, and only those: a mutate deletes their
 * old pairs and inserts the new ones (an insert alone keeps a key's old
 * value); the keys others set stay. NULL when none differs. */
struct json_object *ovs_op_mutate_map(const char *table, const char *uuid, const char *column,
                                      const struct str_map *want, const struct str_map *have) {
        struct json_object *keys = json_object_new_array(), *pairs = json_object_new_array();
        for (size_t i = 0; i < want->n; i++) {
                if (!map_key_differs(want, have, i))
                        continue;
                json_object_array_add(keys, json_object_new_string(want->v[i].key));
                json_object_array_add(pairs, ovs_pair(want->v[i].key, want->v[i].value));
        }
        if (!json_object_array_length(keys)) {
                json_object_put(keys);
                json_object_put(pairs);
                return NULL;
        }
        struct json_object *o = ovs_op("mutate", table, ovs_where("_uuid", ovs_pair("uuid", uuid)));
        struct json_object *muts = json_object_new_array(), *del = json_object_new_array(),
                           *ins = json_object_new_array(), *map = json_object_new_array();
        json_object_array_add(del, json_object_new_string(column));
        json_object_array_add(del, json_object_new_string("delete"));
        json_object_array_add(del, ovs_set(keys));
        json_object_array_add(map, json_object_new_string("map"));
        json_object_array_add(map, pairs);
        json_object_array_add(ins, json_object_new_string(column));
        json_object_array_add(ins, json_object_new_string("insert"));
        json_object_array_add(ins, map);
        json_object_array_add(muts, del);
        json_object_array_add(muts, ins);
        json_object_object_add(o, "mutations", muts);
        return o;
}

/* reconcile's own mark is reconcile's to set. */
int ovs_check_maps(struct check_ctx *c, struct resource *r) {
        if (str_map_get(&r->ovs.external_ids, "reconcile"))
                return check_error(c, OVS_F_EXTERNAL_IDS,
                                   "%s %s: external-ids: the key reconcile is reconcile's own (reconcile=managed)",
                                   kind_to_string(r->kind), r->name);
        return 0;
}

/* Its maps as show writes them: other-config whole, external-ids without reconcile's mark. */
void ovs_show_maps(struct yw *w, const struct resource *r, bool flow) {
        static const struct { const char *word; size_t off; } maps[] = {
                { "other-config", offsetof(struct ovs_spec, other_config) },
                { "external-ids", offsetof(struct ovs_spec, external_ids) },
        };
        for (size_t k = 0; k < ELEMENTSOF(maps); k++) {
                const struct str_map *m = (const void *) ((const char *) &r->ovs + maps[k].off);
                bool any = false;
                for (size_t i = 0; i < m->n; i++) {
                        if (strcmp(m->v[i].key, "reconcile") == 0)
                                continue;
                        if (!any) {
                                yw_word(w, maps[k].word);
                                yw_map(w, flow);
                        }
                        any = true;
                        yw_kv_str(w, m->v[i].key, m->v[i].value);
                }
                if (any)
                        yw_end_map(w);
        }
}

struct json_object *ovs_pair(const char *tag, const char *value) {
        struct json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(tag));
        json_object_array_add(a, json_object_new_string(value));
        return a;
}

struct json_object *ovs_set(struct json_object *items) {
        struct json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string("set"));
        json_object_array_add(a, items);
        return a;
}

struct json_object *ovs_managed_ids(void) {
        struct json_object *pairs = json_object_new_array(), *a = json_object_new_array();
        json_object_array_add(pairs, ovs_pair("reconcile", "managed"));
        json_object_array_add(a, json_object_new_string("map"));
        json_object_array_add(a, pairs);
        return a;
}

/* [[column, "==", value]] */
struct json_object *ovs_where(const char *column, struct json_object *value) {
        struct json_object *w = json_object_new_array(), *c = json_object_new_array();
        json_object_array_add(c, json_object_new_string(column));
        json_object_array_add(c, json_object_new_string("=="));
        json_object_array_add(c, value);
        json_object_array_add(w, c);
        return w;
}

struct json_object *ovs_op(const char *op, const char *table, struct json_object *where) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "op", json_object_new_string(op));
        json_object_object_add(o, "table", json_object_new_string(table));
        if (where)
                json_object_object_add(o, "where", where);
        return o;
}

/* A wait that the rows matching where are exactly rows (in these columns),
 * now: timeout 0, so it fails at once when they are not. */
struct json_object *ovs_op_wait(const char *table, struct json_object *where, struct json_object *columns,
                                struct json_object *rows) {
        struct json_object *o = ovs_op("wait", table, where);
        json_object_object_add(o, "timeout", json_object_new_int(0));
        json_object_object_add(o, "columns", columns);
        json_object_object_add(o, "until", json_object_new_string("=="));
        json_object_object_add(o, "rows", rows);
        return o;
}

/* That no row of table has this name: nobody made it since the plan. */
struct json_object *ovs_op_wait_no_name(const char *table, const char *name) {
        struct json_object *cols = json_object_new_array();
        json_object_array_add(cols, json_object_new_string("name"));
        return ovs_op_wait(table, ovs_where("name", json_object_new_string(name)), cols, json_object_new_array());
}

/* That the row of that UUID still has the columns of row (taken) as the plan saw them. */
struct json_object *ovs_op_wait_row(const char *table, const char *uuid, struct json_object *row) {
        struct json_object *cols = json_object_new_array(), *rows = json_object_new_array();
        json_object_object_foreach(row, key, val) {
                (void) val;
                json_object_array_add(cols, json_object_new_string(key));
        }
        json_object_array_add(rows, row);
        return ovs_op_wait(table, ovs_where("_uuid", ovs_pair("uuid", uuid)), cols, rows);
}

/* One mutation of a set column: insert or delete these atoms. */
struct json_object *ovs_op_mutate_set(const char *table, struct json_object *where, const char *column,
                                      const char *mutator, struct json_object *atom) {
        struct json_object *o = ovs_op("mutate", table, where), *muts = json_object_new_array(),
                           *m = json_object_new_array(), *items = json_object_new_array();
        json_object_array_add(items, atom);
        json_object_array_add(m, json_object_new_string(column));
        json_object_array_add(m, json_object_new_string(mutator));
        json_object_array_add(m, ovs_set(items));
        json_object_array_add(muts, m);
        json_object_object_add(o, "mutations", muts);
        return o;
}

struct json_object *ovs_txn_begin(void) {
        struct json_object *p = json_object_new_array();
        json_object_array_add(p, json_object_new_string("Open_vSwitch"));
        return p;
}

/* ---- observe ---- */

static struct json_object *select_op(const char *table, const char *const *cols) {
        struct json_object *o = ovs_op("select", table, json_object_new_array()), *c = json_object_new_array();
        for (; *cols; cols++)
                json_object_array_add(c, json_object_new_string(*cols));
        json_object_object_add(o, "columns", c);
        return o;
}

static const char *const bridge_cols[] = { "_uuid", "name", "ports", "fail_mode", "stp_enable", "datapath_type",
                                           "external_ids", "other_config", NULL };
static const char *const port_cols[] = { "_uuid", "name", "interfaces", "tag", "trunks", "vlan_mode", "bond_mode",
                                         "lacp", "external_ids", "other_config", NULL };
static const char *const iface_cols[] = { "_uuid", "name", "type", NULL };

struct json_object *ovs_observe_params(void) {
        struct json_object *p = ovs_txn_begin();
        json_object_array_add(p, select_op("Bridge", bridge_cols));
        json_object_array_add(p, select_op("Port", port_cols));
        json_object_array_add(p, select_op("Interface", iface_cols));
        return p;
}

static struct json_object *rows_of(struct json_object *result, size_t i) {
        struct json_object *rows = NULL;
        json_object_object_get_ex(json_object_array_get_idx(result, i), "rows", &rows);
        return rows;
}

/* The row of a table whose _uuid is uuid: by an index of rows (uuid -> position). */
struct row_index {
        struct json_object *rows;
        struct hindex index;
};
static uint64_t row_hash(size_t pos, const void *u) {
        const struct row_index *x = u;
        return hash_fnv1a_str(HASH_FNV1A_SEED, ovs_uuid_text(ovs_col(json_object_array_get_idx(x->rows, pos), "_uuid")));
}
struct row_key {
        const struct row_index *x;
        const char *uuid;
};
static bool row_eq(size_t pos, const void *u) {
        const struct row_key *k = u;
        return strcmp(ovs_uuid_text(ovs_col(json_object_array_get_idx(k->x->rows, pos), "_uuid")), k->uuid) == 0;
}
static void row_index_build(struct row_index *x, struct json_object *rows) {
        x->rows = rows;
        memset(&x->index, 0, sizeof(x->index));
        hindex_rebuild(&x->index, rows ? json_object_array_length(rows) : 0, row_hash, x);
}
static struct json_object *row_find(const struct row_index *x, const char *uuid) {
        struct row_key k = { x, uuid };
        size_t pos = hindex_find(&x->index, hash_fnv1a_str(HASH_FNV1A_SEED, uuid), row_eq, &k);
        return pos == HINDEX_NONE ? NULL : json_object_array_get_idx(x->rows, pos);
}

static int word_of(const struct enum_table *t, struct json_object *v) {
        return ovs_set_len(v) == 1 ? enum_from_string(t, json_object_get_string(ovs_set_item(v, 0))) : -1;
}

/* other_config and external_ids, whole, into the live spec. */
static uint64_t read_maps(struct json_object *row, struct ovs_spec *o) {
        ovs_map_read(ovs_col(row, "other_config"), &o->other_config);
        ovs_map_read(ovs_col(row, "external_ids"), &o->external_ids);
        return OVS_F_OTHER_CONFIG | OVS_F_EXTERNAL_IDS;
}

static bool is_managed(struct json_object *row) {
        const char *m = ovs_map_get(ovs_col(row, "external_ids"), "reconcile");
        return m && strcmp(m, "managed") == 0;
}

static void add_port(struct model *live, const char *bridge, struct json_object *row, const struct row_index *ifaces) {
        const char *name = json_object_get_string(ovs_col(row, "name"));
        if (!name || strlen(name) >= IFNAME_MAX || strcmp(name, bridge) == 0)
                return; /* the bridge's own local port goes with the bridge */
        _cleanup_free_ char *id = xasprintf("%s/%s", bridge, name);
        struct resource *p = resource_new(KIND_OVS_PORT, id);
        struct ovs_spec *o = &p->ovs;
        snprintf(o->bridge, sizeof(o->bridge), "%s", bridge);
        snprintf(o->port, sizeof(o->port), "%s", name);
        snprintf(o->uuid, sizeof(o->uuid), "%s", ovs_uuid_text(ovs_col(row, "_uuid")));
        o->managed = is_managed(row);
        o->type = OVS_PORT_SYSTEM;
        struct json_object *members = ovs_col(row, "interfaces");
        for (size_t i = 0; i < ovs_set_len(members); i++) {
                const char *u = ovs_uuid_text(ovs_set_item(members, i));
                struct json_object *ir = row_find(ifaces, u);
                const char *iname = ir ? json_object_get_string(ovs_col(ir, "name")) : "";
                const char *itype = ir ? json_object_get_string(ovs_col(ir, "type")) : "";
                if (itype && strcmp(itype, "internal") == 0)
                        o->type = OVS_PORT_INTERNAL;
                *(char **) array_push(&o->bond.v, &o->bond.n, sizeof(char *)) = xstrdup(iname ? iname : "");
                *(char **) array_push(&o->member_uuids.v, &o->member_uuids.n, sizeof(char *)) = xstrdup(u);
        }
        p->set = OVS_F_TYPE | read_maps(row, o);
        if (o->bond.n > 1)
                p->set |= OVS_F_BOND;
        struct json_object *tag = ovs_col(row, "tag");
        if (ovs_set_len(tag) == 1) {
                o->tag = (uint32_t) json_object_get_int64(ovs_set_item(tag, 0));
                p->set |= OVS_F_TAG;
        }
        struct json_object *trunks = ovs_col(row, "trunks");
        for (size_t i = 0; i < ovs_set_len(trunks); i++) {
                int64_t v = json_object_get_int64(ovs_set_item(trunks, i));
                if (v >= 0 && v < 4096)
                        o->trunks[v / 64] |= 1ull << (v % 64);
                p->set |= OVS_F_TRUNKS;
        }
        static const struct { const char *col; size_t off; const struct enum_table *t; uint64_t bit; } words[] = {
                { "vlan_mode", offsetof(struct ovs_spec, vlan_mode), &ovs_vlan_mode_table, OVS_F_VLAN_MODE },
                { "bond_mode", offsetof(struct ovs_spec, bond_mode), &ovs_bond_mode_table, OVS_F_BOND_MODE },
                { "lacp", offsetof(struct ovs_spec, lacp), &ovs_lacp_table, OVS_F_LACP },
        };
        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                int v = word_of(words[i].t, ovs_col(row, words[i].col));
                *(int *) ((char *) o + words[i].off) = v;
                if (v >= 0)
                        p->set |= words[i].bit;
        }
        if (model_add(live, p) < 0)
                resource_free(p);
}

int ovs_rows_to_model(struct json_object *result, struct model *live) {
        if (json_object_get_type(result) != json_type_array || json_object_array_length(result) < 3)
                return -EBADMSG;
        struct json_object *bridges = rows_of(result, 0);
        struct row_index ports, ifaces;
        row_index_build(&ports, rows_of(result, 1));
        row_index_build(&ifaces, rows_of(result, 2));
        for (size_t i = 0; bridges && i < json_object_array_length(bridges); i++) {
                struct json_object *row = json_object_array_get_idx(bridges, i);
                const char *name = json_object_get_string(ovs_col(row, "name"));
                if (!name || strlen(name) >= IFNAME_MAX)
                        continue;
                struct resource *b = resource_new(KIND_OVS_BRIDGE, name);
                struct ovs_spec *o = &b->ovs;
                snprintf(o->uuid, sizeof(o->uuid), "%s", ovs_uuid_text(ovs_col(row, "_uuid")));
                o->managed = is_managed(row);
                o->fail_mode = word_of(&ovs_fail_mode_table, ovs_col(row, "fail_mode"));
                o->stp = json_object_get_boolean(ovs_col(row, "stp_enable"));
                const char *dp = json_object_get_string(ovs_col(row, "datapath_type"));
                /* OVS reads an empty datapath_type as system. */
                o->datapath = dp && *dp ? enum_from_string(&ovs_datapath_table, dp) : OVS_DP_SYSTEM;
                b->set = OVS_F_STP | OVS_F_DATAPATH | (o->fail_mode >= 0 ? OVS_F_FAIL_MODE : 0) | read_maps(row, o);
                struct json_object *bp = ovs_col(row, "ports");
                for (size_t j = 0; j < ovs_set_len(bp); j++) {
                        struct json_object *pr = row_find(&ports, ovs_uuid_text(ovs_set_item(bp, j)));
                        if (pr)
                                add_port(live, name, pr, &ifaces);
                }
                if (model_add(live, b) < 0)
                        resource_free(b);
        }
        hindex_done(&ports.index);
        hindex_done(&ifaces.index);
        return 0;
}

static int ovs_observe(void *state, const struct str_list *names, struct model *live) {
        struct ovs_state *s = state;
        (void) names;
        struct json_object *result = NULL;
        char err[512];
        int r = conn_call(&s->conn, "transact", ovs_observe_params(), &result, err, sizeof(err));
        if (r < 0) {
                json_object_put(result);
                return diag_plain(r, "ovs: reading OVSDB at %s: %s", s->conn.path, err[0] ? err : strerror(-r));
        }
        r = ovs_reply_error(result, err, sizeof(err));
        if (r >= 0)
                r = ovs_rows_to_model(result, live);
        s->live = live;
        json_object_put(result);
        if (r < 0)
                return diag_plain(r, "ovs: reading OVSDB at %s: %s", s->conn.path, err[0] ? err : strerror(-r));
        return 0;
}

/* ---- the daemon's watch: a monitor of the columns reconcile manages ---- */

static struct json_object *monitor_cols(const char *const *cols) {
        struct json_object *o = json_object_new_object(), *c = json_object_new_array();
        for (; *cols; cols++)
                if (strcmp(*cols, "_uuid") != 0)
                        json_object_array_add(c, json_object_new_string(*cols));
        json_object_object_add(o, "columns", c);
        return o;
}

struct json_object *ovs_monitor_params(void) {
        struct json_object *p = json_object_new_array(), *req = json_object_new_object();
        json_object_array_add(p, json_object_new_string("Open_vSwitch"));
        json_object_array_add(p, json_object_new_string("reconcile"));
        json_object_object_add(req, "Bridge", monitor_cols(bridge_cols));
        json_object_object_add(req, "Port", monitor_cols(port_cols));
        json_object_object_add(req, "Interface", monitor_cols(iface_cols));
        json_object_array_add(p, req);
        return p;
}

/* The daemon polls one fd of ours, an epoll set: it holds the monitor's
 * socket, or, while ovsdb-server is away (restarted), a timer that retries
 * the connection every second, so that the monitor comes back by itself. */
struct ovs_watch {
        struct ovs_conn conn; /* fd -1 while away */
        int ep, timer;
};

#define OVS_REARM_MS 1000

/* Ask for the monitor on the connection w has (or, with path, opens first). */
static int watch_connect(struct ovs_watch *w, const char *path) {
        struct json_object *initial = NULL;
        char err[512], where[sizeof(w->conn.path)];
        snprintf(where, sizeof(where), "%s", w->conn.path);
        int r = path ? conn_open(where, &w->conn) : 0;
        if (r >= 0)
                r = conn_call(&w->conn, "monitor", ovs_monitor_params(), &initial, err, sizeof(err));
        json_object_put(initial); /* what observe reads anyway */
        struct epoll_event ev = { .events = EPOLLIN };
        if (r >= 0 && epoll_ctl(w->ep, EPOLL_CTL_ADD, w->conn.fd, &ev) < 0)
                r = -errno;
        if (r < 0)
                conn_close(&w->conn);
        return r;
}

static void watch_free(struct ovs_watch *w) {
        conn_close(&w->conn);
        if (w->timer >= 0)
                close(w->timer);
        if (w->ep >= 0)
                close(w->ep);
        free(w);
}

static int ovs_watch_open(const struct backend_ctx *ctx, void **watch) {
        struct ovs_watch *w = xcalloc(1, sizeof(*w));
        w->timer = w->conn.fd = -1;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        int r = w->ep < 0 ? -errno : ovs_connect(ctx, &w->conn);
        if (r >= 0)
                r = watch_connect(w, NULL);
        if (r < 0) {
                watch_free(w);
                return r;
        }
        *watch = w;
        return w->ep;
}

/* The connection is gone: retry it on a timer in the epoll set. */
static void watch_lost(struct ovs_watch *w, int why) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->conn.fd, NULL);
        conn_close(&w->conn);
        w->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        struct itimerspec every = { .it_interval = { OVS_REARM_MS / 1000, 0 }, .it_value = { OVS_REARM_MS / 1000, 0 } };
        struct epoll_event ev = { .events = EPOLLIN };
        if (w->timer < 0 || timerfd_settime(w->timer, 0, &every, NULL) < 0 ||
            epoll_ctl(w->ep, EPOLL_CTL_ADD, w->timer, &ev) < 0) {
                diag_info("ovs: the OVSDB monitor connection closed (%s) and cannot be retried (%s); drift is "
                          "found by the resync", strerror(-why), strerror(errno));
                return;
        }
        diag_info("ovs: the OVSDB monitor connection closed (%s); reconnecting every %d s", strerror(-why),
                  OVS_REARM_MS / 1000);
}

static int watch_retry(struct ovs_watch *w) {
        uint64_t ticks;
        if (read(w->timer, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
                return 0;
        if (watch_connect(w, w->conn.path) < 0)
                return 0;
        epoll_ctl(w->ep, EPOLL_CTL_DEL, w->timer, NULL);
        close(w->timer);
        w->timer = -1;
        diag_info("ovs: the OVSDB monitor is connected again");
        return 1; /* what changed while it was away is drift to look for */
}

static int ovs_watch_drain(void *watch, int fd) {
        struct ovs_watch *w = watch;
        (void) fd;
        if (w->conn.fd < 0)
                return w->timer >= 0 ? watch_retry(w) : 0;
        int n = 0;
        for (;;) {
                struct json_object *msg = NULL, *method;
                int r = conn_recv(&w->conn, &msg, 0);
                if (r == 0)
                        break;
                if (r < 0) {
                        watch_lost(w, r);
                        return n + 1;
                }
                if (!answer_echo(&w->conn, msg) && json_object_object_get_ex(msg, "method", &method) &&
                    strcmp(json_object_get_string(method), "update") == 0)
                        n++;
                json_object_put(msg);
        }
        return n;
}

static void ovs_watch_close(void *watch, int fd) {
        (void) fd;
        if (watch)
                watch_free(watch);
}

const struct backend ovs_backend = {
        .name = "ovs",
        .scope = SCOPE_NETNS,
        .open = ovs_open,
        .close = ovs_close,
        .observe = ovs_observe,
        .watch_open = ovs_watch_open,
        .watch_drain = ovs_watch_drain,
        .watch_close = ovs_watch_close,
        .batch_begin = ovs_batch_begin,
        .batch_commit = ovs_batch_commit,
};

struct json_object *ovs_optional_word(const struct enum_table *t, int v) {
        const char *w = enum_to_string(t, v);
        return w ? json_object_new_string(w) : ovs_set(json_object_new_array());
}
