/* Sysctls, read and written through /proc/sys: the network stack's (net.)
 * opened inside the managed namespace (the files show the namespace of
 * whoever opens them), and the host's that a virtualization host tunes (vm.,
 * kernel., fs.), which no namespace has and a run with --netns refuses.
 * The ledger keeps each key's value from before reconcile's first write, and
 * a key that leaves the manifests gets that value back. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kind.h"

struct sysctl_state {
        char netns[256];
};

/* net.ipv4.conf.eth0/20.forwarding -> /proc/sys/net/ipv4/conf/eth0.20/forwarding */
static void sysctl_path(const char *key, char *buf, size_t size) {
        size_t o = (size_t) snprintf(buf, size, "/proc/sys/");
        for (const char *p = key; *p && o + 1 < size; p++)
                buf[o++] = *p == '.' ? '/' : *p == '/' ? '.' : *p;
        buf[o] = '\0';
}

int proc_sysctl_read(const char *key, char *buf, size_t size) {
        char path[300];
        sysctl_path(key, path, sizeof(path));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int r = n < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
                return r;
        buf[n] = '\0';
        sysctl_value_fold(buf);
        return 0;
}

int proc_sysctl_write(const char *key, const char *value) {
        char path[300];
        sysctl_path(key, path, sizeof(path));
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        ssize_t n = write(fd, value, len);
        int r = n < 0 ? -errno : (size_t) n != len ? -EIO : 0;
        close(fd);
        return r;
}

static int sysctl_open(const struct backend_ctx *ctx, void **state) {
        struct sysctl_state *s = xcalloc(1, sizeof(*s));
        if (ctx->netns)
                snprintf(s->netns, sizeof(s->netns), "%s", ctx->netns);
        *state = s;
        return 0;
}

static void sysctl_close(void *state) {
        free(state);
}

/* Only the keys the manifests and the ledger name: the whole tree is thousands of files. */
static int sysctl_observe(void *state, const struct str_list *names, struct model *live) {
        struct sysctl_state *s = state;
        int saved, r = netns_enter(s->netns[0] ? s->netns : NULL, &saved);
        if (r < 0)
                return r;
        char buf[4096];
        for (size_t i = 0; i < names->n; i++) {
                if (proc_sysctl_read(names->v[i], buf, sizeof(buf)) < 0)
                        continue; /* absent: its interface or module is not there (yet) */
                struct resource *res = resource_new(KIND_SYSCTL, names->v[i]);
                res->sysctl.value = xstrdup(buf);
                res->set = SYSCTL_F_VALUE;
                if (model_add(live, res) < 0)
                        resource_free(res);
        }
        return netns_leave(&saved);
}

static void note_link_dep(void *u, enum kind k, const char *name) {
        (void) k;
        (void) name;
        *(bool *) u = true;
}

/* net.ipv4.conf.IF.*, net.ipv6.conf.IF.*, net.ipv4.neigh.IF.*: the key needs IF. */
static void sysctl_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        static const char *const prefixes[] = { "net.ipv4.conf.", "net.ipv6.conf.", "net.ipv4.neigh.", "net.ipv6.neigh." };
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t n = strlen(prefixes[i]);
                if (strncmp(r->name, prefixes[i], n) != 0)
                        continue;
                const char *start = r->name + n, *end = strchr(start, '.');
                char ifname[IFNAME_MAX];
                size_t len = end ? (size_t) (end - start) : 0;
                if (!len || len >= sizeof(ifname))
                        return;
                for (size_t j = 0; j < len; j++)
                        ifname[j] = start[j] == '/' ? '.' : start[j];
                ifname[len] = '\0';
                if (strcmp(ifname, "all") != 0 && strcmp(ifname, "default") != 0)
                        add(u, KIND_ETHERNET, ifname);
                return;
        }
}

/* A key that names no interface must exist now: a typo or a module not loaded
 * is reported at its position at plan time, not half-way through the apply. */
static int sysctl_check(void *state, const struct resource *want) {
        struct sysctl_state *s = state;
        if (s->netns[0] && strncmp(want->name, "net.", 4) != 0)
                return diag_pos(&want->pos, "sysctl %s: a host key, not a namespace's: declare it in a run without --netns",
                                want->name);
        bool needs_link = false;
        sysctl_deps(want, note_link_dep, &needs_link);
        if (needs_link)
                return 0; /* the interface may be made in this run; apply reports a missing key */
        char path[300];
        sysctl_path(want->name, path, sizeof(path));
        int saved, r = netns_enter(s->netns[0] ? s->netns : NULL, &saved);
        if (r < 0)
                return r;
        r = access(path, F_OK) < 0 ? -errno : 0;
        netns_leave(&saved);
        if (r == -ENOENT)
                return diag_pos(&want->pos, "sysctl %s: no such key in /proc/sys (a typo, or a module not loaded?)",
                                want->name);
        return 0;
}

static int sysctl_diff(void *state, const struct resource *w, const struct resource *live,
                       const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state;
        (void) owned;
        (void) p;
        a->op = OP_UPDATE;
        if (strcmp(w->sysctl.value, live->sysctl.value) != 0)
                action_add_change(a, SYSCTL_F_VALUE, "value", value_text(live->sysctl.value), value_text(w->sysctl.value));
        return 0;
}

/* A removal restores the value from before reconcile; the plan says which. */
static void sysctl_assess(void *state, struct action *a, const struct model *live) {
        const char *old = a->op == OP_DELETE ? ledger_get(a->owned, "old") : NULL;
        (void) state;
        (void) live;
        if (!old)
                return;
        char *reason = xasprintf("%s: restores %s (its value before reconcile)", a->reason ? a->reason : "removed", old);
        free(a->reason);
        a->reason = reason;
}

static int sysctl_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct sysctl_state *s = state;
        int saved, r = netns_enter(s->netns[0] ? s->netns : NULL, &saved);
        if (r < 0)
                return r;
        char now[4096];
        const char *value = a->want ? a->want->sysctl.value : ledger_get(e, "old");
        r = proc_sysctl_read(a->name, now, sizeof(now));
        if (r >= 0 && a->op != OP_DELETE && e && !ledger_get(e, "old"))
                ledger_set(l, e, "old", now);
        if (r >= 0 && value && strcmp(now, value) != 0)
                r = proc_sysctl_write(a->name, value);
        netns_leave(&saved);
        if (r == -ENOENT && a->op == OP_DELETE)
                return 0; /* went with its interface */
        if (r == -ENOENT)
                return diag_res(r, "sysctl", a->name, "no such key in /proc/sys (a module not loaded, an interface missing?)");
        if (r < 0)
                return diag_res(r, "sysctl", a->name, "writing %s: %s", value ? value : "", strerror(-r));
        return 0;
}

const struct backend sysctl_backend = {
        .name = "sysctl",
        .scope = SCOPE_NETNS,
        .open = sysctl_open,
        .close = sysctl_close,
        .observe = sysctl_observe,
        .reads_by_name = true,
};

/* ---- the sysctl kind: a flat mapping of keys to values ---- */

/* net.ipv4.ip_forward, net.ipv6.conf.eth0/20.forwarding, vm.swappiness,
 * kernel.numa_balancing, fs.aio-max-nr: the network stack and the host's
 * memory, scheduler and file limits; not dev., user., debug. or abi. */
static bool sysctl_key_valid(const char *k) {
        static const char *const roots[] = { "net.", "vm.", "kernel.", "fs." };
        bool known = false;
        for (size_t i = 0; i < ELEMENTSOF(roots); i++)
                known = known || strncmp(k, roots[i], strlen(roots[i])) == 0;
        if (!known || strlen(k) > 200)
                return false;
        for (const char *p = k; *p; p++)
                if (!(*p == '.' || *p == '/' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
                      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                        return false;
        return !strstr(k, "..") && k[strlen(k) - 1] != '.' && !strstr(k, "./") && !strstr(k, "/.");
}

/* White space runs fold to one blank, as /proc prints them back. */
static int parse_sysctl_value(const char *val, void *base, const struct field *f, char *err, size_t err_size) {
        struct resource *r = base;
        (void) f;
        if (!val || !*val || strlen(val) > 256) {
                snprintf(err, err_size, "sysctl %s: expected a value", r->name);
                return -EINVAL;
        }
        char norm[260];
        bool bad = false;
        for (const char *q = val; *q; q++)
                bad = bad || (((unsigned char) *q < 0x20 && *q != '\t') || *q == 0x7f);
        snprintf(norm, sizeof(norm), "%s", val);
        sysctl_value_fold(norm);
        if (bad || !norm[0]) {
                snprintf(err, err_size, "sysctl %s: bad value \"%.64s\"", r->name, printable(val));
                return -EINVAL;
        }
        free(r->sysctl.value);
        r->sysctl.value = xstrdup(norm);
        return 0;
}

static const struct field sysctl_fields[] = {
        { "value", FT_CUSTOM, 0, 0, 0, SYSCTL_F_VALUE, NULL, NULL, parse_sysctl_value },
};

static void sysctl_free(struct resource *r) {
        free(r->sysctl.value);
}

static void sysctl_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_str(w, r->sysctl.value);
        yw_entry_end(w, r);
}

const struct kind_ops sysctl_kind = {
        .word = "sysctl",
        .section = "sysctls",
        .backend = &sysctl_backend,
        .deps = sysctl_deps,
        .admit = sysctl_check,
        .diff = sysctl_diff,
        .assess = sysctl_assess,
        .apply = sysctl_apply,
        .dep_role = "interface",
        /* A sysctl that appeared in the run goes with its interface: no absent entry. */
        .flags = KF_REVERTIBLE | KF_NAME_VALUE | KF_NO_ABSENT_ENTRY,
        .show_rank = 10,
        .fields = sysctl_fields,
        .n_fields = ELEMENTSOF(sysctl_fields),
        .name_valid = sysctl_key_valid,
        .name_error = "sysctls: bad key \"%.64s\": only net., vm., kernel. and fs. keys of letters, digits, _ - / and "
                      "single dots",
        .free = sysctl_free,
        .show = sysctl_show,
};
