/* Huge pages reserved per page size, for the host (SYS/kernel/mm/hugepages)
 * or one NUMA node (SYS/devices/system/node/nodeN/hugepages); SYS is /sys, or
 * $RECONCILE_SYSFS for tests. The kernel may reserve fewer pages than asked
 * (memory fragmented or short): apply keeps what it asked and got in the
 * ledger, and the plan then says so as pending instead of asking again. A
 * size that leaves the manifests gets its count from before reconcile back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kind.h"

struct hugepage_state {
        char sys[PATH_MAX];
        bool in_netns; /* --netns: huge pages are the host's, refused */
};

/* "2M" -> 2 MiB, -1; "node1/1G" -> 1 GiB, 1. Only the form show writes back
 * (the largest unit that holds the size), so one pool has one name. */
static bool hugepage_name_parse(const char *name, uint64_t *size, int *node) {
        *node = -1;
        if (strncmp(name, "node", 4) == 0) {
                char *end;
                errno = 0;
                unsigned long n = strtoul(name + 4, &end, 10);
                if (errno || !(name[4] >= '0' && name[4] <= '9') || *end != '/' || n > 4095 || (name[4] == '0' && end != name + 5))
                        return false;
                *node = (int) n;
                name = end + 1;
        }
        char canon[32];
        if (size_parse(name, size) < 0 || *size < 4096 || (*size & (*size - 1)))
                return false;
        return strcmp(size_text(*size, canon, sizeof(canon)), name) == 0 && strchr("KMGT", name[strlen(name) - 1]);
}

static bool hugepage_name_valid(const char *name) {
        uint64_t size;
        int node;
        return hugepage_name_parse(name, &size, &node);
}

static void hugepage_defaults(struct resource *r) {
        if (!hugepage_name_parse(r->name, &r->hugepage.page_size, &r->hugepage.node))
                r->hugepage.node = -1;
}

/* The sysfs directory of one pool. */
static char *pool_dir(const struct hugepage_state *s, uint64_t size, int node) {
        if (node < 0)
                return xasprintf("%s/kernel/mm/hugepages/hugepages-%" PRIu64 "kB", s->sys, size / 1024);
        return xasprintf("%s/devices/system/node/node%d/hugepages/hugepages-%" PRIu64 "kB", s->sys, node, size / 1024);
}

static int read_count(const char *dir, const char *file, uint32_t *out) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
        _cleanup_free_ char *text = file_read(path);
        if (!text)
                return -errno;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || end == text || v > UINT32_MAX)
                return -EBADMSG;
        *out = (uint32_t) v;
        return 0;
}

/* Sysfs attributes take one write in place, never a rename (O_TRUNC, as a
 * shell's redirection: sysfs ignores it, a test's plain file needs it). */
static int sysfs_write(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        ssize_t n = write(fd, value, len);
        int r = n < 0 ? -errno : (size_t) n != len ? -EIO : 0;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        return r;
}

static int hugepage_open(const struct backend_ctx *ctx, void **state) {
        struct hugepage_state *s = xcalloc(1, sizeof(*s));
        const char *sys = getenv("RECONCILE_SYSFS");
        snprintf(s->sys, sizeof(s->sys), "%s", sys && *sys ? sys : "/sys");
        s->in_netns = ctx->netns != NULL;
        *state = s;
        return 0;
}

static void hugepage_close(void *state) {
        free(state);
}

/* One pool, if this kernel has it; all_zero: also when it holds no pages. */
static void observe_pool(struct hugepage_state *s, const char *name, bool all_zero, struct model *live) {
        uint64_t size;
        int node;
        if (!hugepage_name_parse(name, &size, &node) || model_find(live, KIND_HUGEPAGE, name))
                return;
        _cleanup_free_ char *dir = pool_dir(s, size, node);
        uint32_t count;
        if (read_count(dir, "nr_hugepages", &count) < 0 || (!count && !all_zero))
                return;
        struct resource *res = resource_new(KIND_HUGEPAGE, name);
        res->hugepage.page_size = size;
        res->hugepage.node = node;
        res->hugepage.count = count;
        res->set = HUGEPAGE_F_COUNT;
        if (model_add(live, res) < 0)
                resource_free(res);
}

/* The pools the manifests and the ledger name, and the host's that hold
 * pages (show exports those; a node's are in the host's count). */
static int hugepage_observe(void *state, const struct str_list *names, struct model *live) {
        struct hugepage_state *s = state;
        if (s->in_netns)
                return 0; /* the host's, not the namespace's: show under --netns leaves them out */
        for (size_t i = 0; i < names->n; i++)
                observe_pool(s, names->v[i], true, live);
        _cleanup_free_ char *top = xasprintf("%s/kernel/mm/hugepages", s->sys);
        DIR *d = opendir(top);
        for (struct dirent *de; d && (de = readdir(d));) {
                unsigned long long kb;
                char name[32];
                if (sscanf(de->d_name, "hugepages-%llukB", &kb) == 1 && kb)
                        observe_pool(s, size_text(kb * 1024, name, sizeof(name)), false, live);
        }
        if (d)
                closedir(d);
        return 0;
}

static int hugepage_admit(void *state, const struct resource *want) {
        struct hugepage_state *s = state;
        if (s->in_netns)
                return diag_pos(&want->pos, "hugepages %s: huge pages are the host's, not a namespace's: declare them "
                                "in a run without --netns", want->name);
        _cleanup_free_ char *dir = pool_dir(s, want->hugepage.page_size, want->hugepage.node);
        if (access(dir, F_OK) == 0)
                return 0;
        if (want->hugepage.node >= 0) {
                _cleanup_free_ char *node = xasprintf("%s/devices/system/node/node%d", s->sys, want->hugepage.node);
                if (access(node, F_OK) < 0)
                        return diag_pos(&want->pos, "hugepages %s: this host has no NUMA node %d", want->name,
                                        want->hugepage.node);
        }
        return diag_pos(&want->pos, "hugepages %s: this kernel has no pages of that size (no %s)", want->name, dir);
}

/* What the last apply asked and got, when the kernel gave fewer pages. */
static bool shortfall_known(const struct ledger_entry *owned, uint32_t want, uint32_t have) {
        const char *asked = ledger_get(owned, "asked"), *got = ledger_get(owned, "got");
        return asked && got && strtoul(asked, NULL, 10) == want && strtoul(got, NULL, 10) == have;
}

static int hugepage_diff(void *state, const struct resource *w, const struct resource *live,
                         const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state;
        a->op = OP_UPDATE;
        uint32_t want = w->hugepage.count, have = live->hugepage.count;
        if (want == have)
                return 0;
        if (have < want && shortfall_known(owned, want, have)) {
                char size[32];
                _cleanup_free_ char *why = xasprintf("the kernel reserved %" PRIu32 " of %" PRIu32 " pages of %s (%" PRIu32
                                                     " short)",
                                                     have, want, size_text(w->hugepage.page_size, size, sizeof(size)),
                                                     want - have);
                plan_add_pending(p, KIND_HUGEPAGE, w->name, why,
                                 "memory is freed, or a reboot reserves them early (hugepages= on the kernel command line)");
                return 0;
        }
        action_add_change(a, HUGEPAGE_F_COUNT, "count", value_number(have), value_number(want));
        return 0;
}

/* A removal gives the pool its count from before reconcile; the plan says which. */
static void hugepage_assess(void *state, struct action *a, const struct model *live) {
        const char *old = a->op == OP_DELETE ? ledger_get(a->owned, "old") : NULL;
        (void) state;
        (void) live;
        if (!old)
                return;
        char *reason = xasprintf("%s: restores %s pages (the count before reconcile)", a->reason ? a->reason : "removed",
                                 old);
        free(a->reason);
        a->reason = reason;
}

static int hugepage_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct hugepage_state *s = state;
        const struct resource *r = a->want ? a->want : a->live;
        _cleanup_free_ char *dir = pool_dir(s, r->hugepage.page_size, r->hugepage.node);
        uint32_t now;
        int x = read_count(dir, "nr_hugepages", &now);
        if (x < 0 && a->op == OP_DELETE)
                return 0; /* the node or size went away: nothing to give back */
        if (x < 0)
                return diag_res(x, "hugepages", a->name, "reading %s/nr_hugepages: %s", dir, strerror(-x));
        const char *old = ledger_get(e, "old");
        uint32_t want;
        if (a->want)
                want = a->want->hugepage.count;
        else if (old)
                want = (uint32_t) strtoul(old, NULL, 10);
        else
                return 0;
        char num[16];
        if (a->op != OP_DELETE && e && !old) {
                snprintf(num, sizeof(num), "%" PRIu32, now);
                ledger_set(l, e, "old", num);
        }
        if (now == want)
                return 0;
        _cleanup_free_ char *path = xasprintf("%s/nr_hugepages", dir);
        snprintf(num, sizeof(num), "%" PRIu32, want);
        x = sysfs_write(path, num);
        if (x < 0)
                return diag_res(x, "hugepages", a->name, "writing %s to %s: %s", num, path, strerror(-x));
        uint32_t got = want;
        read_count(dir, "nr_hugepages", &got);
        if (got < want && a->op != OP_DELETE) {
                /* Not an error: the plan shows it pending with the figures until the kernel can. */
                diag_info("hugepages %s: the kernel reserved %" PRIu32 " of %" PRIu32 " pages", a->name, got, want);
                if (e) {
                        ledger_set(l, e, "asked", num);
                        snprintf(num, sizeof(num), "%" PRIu32, got);
                        ledger_set(l, e, "got", num);
                }
        } else if (e) {
                ledger_set(l, e, "asked", NULL);
                ledger_set(l, e, "got", NULL);
        }
        return 0;
}

const struct backend hugepage_backend = {
        .name = "hugepage",
        .scope = SCOPE_NETNS,
        .open = hugepage_open,
        .close = hugepage_close,
        .observe = hugepage_observe,
        .reads_by_name = true,
};

/* ---- the hugepage kind: page sizes (per node) to counts ---- */

static const struct field hugepage_fields[] = {
        { "count", FT_U32, R(hugepage.count), 0, UINT32_MAX, HUGEPAGE_F_COUNT, NULL, "huge page count", NULL },
};

static void hugepage_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_uint(w, r->hugepage.count);
        yw_entry_end(w, r);
}

const struct kind_ops hugepage_kind = {
        .word = "hugepage",
        .section = "hugepages",
        .backend = &hugepage_backend,
        .defaults = hugepage_defaults,
        .admit = hugepage_admit,
        .diff = hugepage_diff,
        .assess = hugepage_assess,
        .apply = hugepage_apply,
        .flags = KF_REVERTIBLE | KF_NAME_VALUE,
        .show_rank = 10, /* with the sysctls, before the guests that use them */
        .fields = hugepage_fields,
        .n_fields = ELEMENTSOF(hugepage_fields),
        .name_valid = hugepage_name_valid,
        .name_error = "hugepages: bad page size \"%.64s\": a power of two of at least 4K written as show writes it "
                      "(2M, 1G), optionally after nodeN/",
        .free = NULL,
        .show = hugepage_show,
};
