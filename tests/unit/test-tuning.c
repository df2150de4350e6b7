/* Host tuning without root: modules, hugepages and the host's sysctls, parsed
 * from manifests, and the module and hugepage backends driven through their
 * ops against a temporary directory standing for /etc and /sys
 * (RECONCILE_ETC, RECONCILE_SYSFS). Loading a module needs the VM harness
 * (tests/vm/guest/test-modules.sh). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../backends/kind.h"
#include "../../parsers/parsers.h"

static struct manifest_set set;
static struct plan plan;
static struct ledger ledger;
static char *errs;
static size_t errs_len;
static FILE *errs_f;
static char root[64];

static void put_file(const char *rel, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
                *p = '\0';
                mkdir(path, 0755);
                *p = '/';
        }
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *get_file(const char *rel) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        return file_read(path);
}

static int setup(void **state) {
        (void) state;
        memset(&set, 0, sizeof(set));
        memset(&plan, 0, sizeof(plan));
        memset(&ledger, 0, sizeof(ledger));
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        snprintf(root, sizeof(root), "/tmp/test-tuning.XXXXXX");
        assert_non_null(mkdtemp(root));
        char etc[128], sys[128];
        snprintf(etc, sizeof(etc), "%s/etc", root);
        snprintf(sys, sizeof(sys), "%s/sys", root);
        mkdir(etc, 0755);
        mkdir(sys, 0755);
        setenv("RECONCILE_ETC", etc, 1);
        setenv("RECONCILE_SYSFS", sys, 1);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        plan_done(&plan);
        ledger_done(&ledger);
        manifests_done(&set);
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
        unsetenv("RECONCILE_ETC");
        unsetenv("RECONCILE_SYSFS");
        return 0;
}

static const char *errors(void) {
        fflush(errs_f);
        return errs ? errs : "";
}

static const char *parse(const char *yaml) {
        manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        manifests_validate(&set);
        return errors();
}

static void assert_first_error(const char *yaml, const char *want) {
        fflush(errs_f);
        size_t before = errs_len;
        const char *got = parse(yaml) + before;
        size_t n = strcspn(got, "\n");
        if (strlen(want) != n || strncmp(got, want, n) != 0)
                fail_msg("first error\n  got:  %.*s\n  want: %s", (int) n, got, want);
}

static struct action *new_action(enum op op, const struct resource *want, const struct resource *live) {
        struct action *a = array_push(&plan.actions, &plan.n_actions, sizeof(*a));
        const struct resource *any = want ? want : live;
        a->op = op;
        a->kind = any->kind;
        a->name = xstrdup(any->name);
        a->key = xstrdup(live ? live->name : any->name);
        a->want = want;
        a->live = live;
        return a;
}

static void *open_backend(enum kind k, const char *netns) {
        struct backend_ctx ctx = { .netns = netns };
        void *st = NULL;
        assert_int_equal(backend_for_kind(k)->open(&ctx, &st), 0);
        return st;
}

/* ---- parsing ---- */

static void test_parse_modules(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nmodules:\n  8021q: {}\n  ip_vs:\n"
                                  "  kvm_intel: { options: \"nested=1\" }\n"
                                  "  vfio-pci: { options: \"  ids=10de:1b80\\t disable_vga=1 \" }\n"),
                            "");
        struct resource *r = model_find(&set.model, KIND_MODULE, "8021q");
        assert_non_null(r);
        assert_null(r->module.options);
        assert_non_null(model_find(&set.model, KIND_MODULE, "ip_vs"));
        assert_string_equal(model_find(&set.model, KIND_MODULE, "kvm_intel")->module.options, "nested=1");
        /* White space folds as an options line reads it back. */
        assert_string_equal(model_find(&set.model, KIND_MODULE, "vfio-pci")->module.options,
                            "ids=10de:1b80 disable_vga=1");
        char buf[64];
        assert_string_equal(kind_ops(KIND_MODULE)->identity(model_find(&set.model, KIND_MODULE, "vfio-pci"), buf,
                                                            sizeof(buf)),
                            "vfio_pci");
}

static void test_parse_module_errors(void **state) {
        (void) state;
        assert_first_error("version: 1\nmodules:\n  \"bad/name\": {}\n",
                           "m.yaml:3:3: error: modules: bad module name \"bad/name\": letters, digits, _ and -, at "
                           "most 55 bytes");
        assert_first_error("version: 1\nmodules:\n  kvm: { options: \"a=1 # b\" }\n",
                           "m.yaml:3:19: error: module kvm: options: \"a=1 # b\" holds a control character or '#'");
        assert_first_error("version: 1\nmodules:\n  kvm: { option: \"a=1\" }\n",
                           "m.yaml:3:10: error: unknown key \"option\" in module kvm");
}

static void test_parse_hugepages(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nhugepages:\n  2M: 1024\n  1G: 4\n  node1/2M: 512\n"), "");
        struct resource *r = model_find(&set.model, KIND_HUGEPAGE, "2M");
        assert_non_null(r);
        assert_int_equal(r->hugepage.count, 1024);
        assert_int_equal(r->hugepage.page_size, 2ull << 20);
        assert_int_equal(r->hugepage.node, -1);
        r = model_find(&set.model, KIND_HUGEPAGE, "1G");
        assert_int_equal(r->hugepage.count, 4);
        assert_int_equal(r->hugepage.page_size, 1ull << 30);
        r = model_find(&set.model, KIND_HUGEPAGE, "node1/2M");
        assert_int_equal(r->hugepage.count, 512);
        assert_int_equal(r->hugepage.node, 1);
        assert_int_equal(r->hugepage.page_size, 2ull << 20);
}

static void test_parse_hugepage_errors(void **state) {
        (void) state;
        static const char *const bad[] = { "2048K", "3M", "2MiB", "2", "node01/2M", "node/2M", "nodeX/2M", "2K", "node+1/2M", "node 1/2M" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char yaml[128], want[256];
                snprintf(yaml, sizeof(yaml), "version: 1\nhugepages:\n  \"%s\": 1\n", bad[i]);
                snprintf(want, sizeof(want),
                         "m.yaml:3:3: error: hugepages: bad page size \"%s\": a power of two of at least 4K written as "
                         "show writes it (2M, 1G), optionally after nodeN/",
                         bad[i]);
                assert_first_error(yaml, want);
        }
        assert_first_error("version: 1\nhugepages:\n  2M: many\n",
                           "m.yaml:3:7: error: huge page count: expected an integer");
}

static void test_parse_host_sysctls(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nsysctls:\n  vm.swappiness: 10\n  vm.overcommit_memory: 1\n"
                                  "  kernel.numa_balancing: 0\n  fs.aio-max-nr: 1048576\n  net.ipv4.ip_forward: 1\n"),
                            "");
        assert_string_equal(model_find(&set.model, KIND_SYSCTL, "vm.swappiness")->sysctl.value, "10");
        assert_string_equal(model_find(&set.model, KIND_SYSCTL, "fs.aio-max-nr")->sysctl.value, "1048576");
        assert_first_error("version: 1\nsysctls:\n  abi.vsyscall32: 1\n",
                           "m.yaml:3:3: error: sysctls: bad key \"abi.vsyscall32\": only net., vm., kernel. and fs. keys "
                           "of letters, digits, _ - / and single dots");
}

/* ---- --netns: the host's kinds are refused at plan time ---- */

static void test_netns_refuses_host_kinds(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nmodules:\n  8021q: {}\nhugepages:\n  2M: 4\n  1G: 1\n  node2/2M: 1\n"
                                  "sysctls:\n  vm.swappiness: 10\n  net.ipv4.ip_forward: 1\n"),
                            "");
        put_file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
        static const enum kind kinds[] = { KIND_MODULE, KIND_HUGEPAGE, KIND_SYSCTL };
        static const char *const names[] = { "8021q", "2M", "vm.swappiness" };
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                void *st = open_backend(kinds[i], "ns1");
                assert_true(kind_ops(kinds[i])->admit(st, model_find(&set.model, kinds[i], names[i])) < 0);
                backend_for_kind(kinds[i])->close(st);
        }
        const char *e = errors();
        assert_non_null(strstr(e, "m.yaml:3:3: error: module 8021q: kernel modules are the host's, not a namespace's: "
                                  "declare them in a run without --netns\n"));
        assert_non_null(strstr(e, "m.yaml:5:3: error: hugepages 2M: huge pages are the host's, not a namespace's: "
                                  "declare them in a run without --netns\n"));
        assert_non_null(strstr(e, "m.yaml:9:3: error: sysctl vm.swappiness: a host key, not a namespace's: declare it "
                                  "in a run without --netns\n"));
        /* Without --netns the pool is admitted; a size the kernel lacks is not. */
        void *st = open_backend(KIND_HUGEPAGE, NULL);
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->admit(st, model_find(&set.model, KIND_HUGEPAGE, "2M")), 0);
        assert_true(kind_ops(KIND_HUGEPAGE)->admit(st, model_find(&set.model, KIND_HUGEPAGE, "1G")) < 0);
        assert_true(kind_ops(KIND_HUGEPAGE)->admit(st, model_find(&set.model, KIND_HUGEPAGE, "node2/2M")) < 0);
        backend_for_kind(KIND_HUGEPAGE)->close(st);
        assert_non_null(strstr(errors(), "m.yaml:6:3: error: hugepages 1G: this kernel has no pages of that size"));
        assert_non_null(strstr(errors(), "m.yaml:7:3: error: hugepages node2/2M: this host has no NUMA node 2\n"));
}

/* ---- hugepages: observe, diff, apply, shortfall, restore ---- */

static void test_hugepages_apply_and_restore(void **state) {
        (void) state;
        parse("version: 1\nhugepages:\n  2M: 64\n  node0/2M: 16\n");
        put_file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "8\n");
        put_file("sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
        void *st = open_backend(KIND_HUGEPAGE, NULL);
        struct model live = { 0 };
        char *n[] = { "2M", "node0/2M", "1G" };
        struct str_list names = { n, 3 };
        assert_int_equal(backend_for_kind(KIND_HUGEPAGE)->observe(st, &names, &live), 0);
        assert_int_equal(live.n, 2); /* no 1G pool in this "kernel" */
        struct resource *host = model_find(&live, KIND_HUGEPAGE, "2M");
        assert_int_equal(host->hugepage.count, 8);
        const struct resource *want = model_find(&set.model, KIND_HUGEPAGE, "2M");
        struct action *a = new_action(OP_UPDATE, want, host);
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->diff(st, want, host, NULL, a, &plan), 0);
        assert_int_equal(a->n_changes, 1);
        assert_string_equal(a->changes[0].name, "count");
        assert_int_equal(a->changes[0].was.number, 8);
        assert_int_equal(a->changes[0].now.number, 64);
        struct ledger_entry *e = ledger_add(&ledger, "netns:host", KIND_HUGEPAGE, "2M");
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->apply(st, a, &ledger, e), 0);
        _cleanup_free_ char *count = get_file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
        assert_string_equal(count, "64");
        assert_string_equal(ledger_get(e, "old"), "8");
        assert_null(ledger_get(e, "asked")); /* the kernel gave them all */

        /* Per node: the node's own file. */
        const struct resource *wn = model_find(&set.model, KIND_HUGEPAGE, "node0/2M");
        struct resource *ln = model_find(&live, KIND_HUGEPAGE, "node0/2M");
        struct action *an = new_action(OP_UPDATE, wn, ln);
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->apply(st, an, &ledger, NULL), 0);
        _cleanup_free_ char *node = get_file("sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages");
        assert_string_equal(node, "16");

        /* Removed from the manifests: the count from before reconcile comes back, and the plan says so. */
        struct action *d = new_action(OP_DELETE, NULL, host);
        d->owned = e;
        d->reason = xstrdup("no longer in the manifests");
        kind_ops(KIND_HUGEPAGE)->assess(st, d, &live);
        assert_string_equal(d->reason, "no longer in the manifests: restores 8 pages (the count before reconcile)");
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->apply(st, d, &ledger, e), 0);
        _cleanup_free_ char *back = get_file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages");
        assert_string_equal(back, "8");
        backend_for_kind(KIND_HUGEPAGE)->close(st);
        model_done(&live);
}

/* The kernel reserved fewer than asked: pending with the figures, not asked
 * again, until the declared count or what the kernel has changes. */
static void test_hugepages_shortfall_pending(void **state) {
        (void) state;
        parse("version: 1\nhugepages:\n  2M: 1024\n");
        const struct resource *want = model_find(&set.model, KIND_HUGEPAGE, "2M");
        struct resource *live = resource_new(KIND_HUGEPAGE, "2M");
        live->hugepage.count = 300;
        live->hugepage.page_size = 2u << 20;
        struct ledger_entry *e = ledger_add(&ledger, "netns:host", KIND_HUGEPAGE, "2M");
        ledger_set(&ledger, e, "asked", "1024");
        ledger_set(&ledger, e, "got", "300");
        struct action *a = new_action(OP_UPDATE, want, live);
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->diff(NULL, want, live, e, a, &plan), 0);
        assert_int_equal(a->n_changes, 0);
        assert_int_equal(plan.n_pending, 1);
        assert_int_equal(plan.pending[0].kind, KIND_HUGEPAGE);
        assert_string_equal(plan.pending[0].name, "2M");
        assert_string_equal(plan.pending[0].reason, "the kernel reserved 300 of 1024 pages of 2M (724 short)");
        assert_non_null(strstr(plan.pending[0].until, "reboot"));
        /* The kernel has more now (memory freed): asked again. */
        live->hugepage.count = 500;
        a = new_action(OP_UPDATE, want, live);
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->diff(NULL, want, live, e, a, &plan), 0);
        assert_int_equal(a->n_changes, 1);
        assert_int_equal(plan.n_pending, 1);
        /* Without the ledger's record, a difference is a change. */
        live->hugepage.count = 300;
        a = new_action(OP_UPDATE, want, live);
        assert_int_equal(kind_ops(KIND_HUGEPAGE)->diff(NULL, want, live, NULL, a, &plan), 0);
        assert_int_equal(a->n_changes, 1);
        resource_free(live);
}

/* ---- modules: the files, options in effect, removal ---- */

static void test_module_files_and_options(void **state) {
        (void) state;
        parse("version: 1\nmodules:\n  kvm_intel: { options: \"nested=1\" }\n  vfio-pci: { options: \"ids=10de:1b80\" }\n"
              "  8021q: {}\n");
        /* What a person or an older run left: a comment, a module listed, its options. */
        put_file("etc/modules-load.d/reconcile.conf", "# old\nvfio_pci\n");
        put_file("etc/modprobe.d/reconcile.conf", "options vfio-pci ids=8086:1234\n");
        void *st = open_backend(KIND_MODULE, NULL);
        struct model live = { 0 };
        char *n[] = { "vfio_pci", "kvm_intel", "zz_never_heard_of" };
        struct str_list names = { n, 3 };
        assert_int_equal(backend_for_kind(KIND_MODULE)->observe(st, &names, &live), 0);
        /* Only what is loaded or listed is there (nothing is loaded under a made-up name). */
        struct resource *vfio = model_find(&live, KIND_MODULE, "vfio_pci");
        assert_non_null(vfio);
        assert_null(model_find(&live, KIND_MODULE, "zz_never_heard_of"));
        assert_true(vfio->module.at_boot);
        assert_string_equal(vfio->module.options, "ids=8086:1234");

        /* The options differ: the file changes. */
        const struct resource *wv = model_find(&set.model, KIND_MODULE, "vfio-pci");
        struct action *a = new_action(OP_UPDATE, wv, vfio);
        vfio->module.loaded = true; /* as if loaded: the files are written, nothing is loaded again */
        assert_int_equal(kind_ops(KIND_MODULE)->diff(st, wv, vfio, NULL, a, &plan), 0);
        assert_int_equal(a->n_changes, 1);
        assert_string_equal(a->changes[0].name, "options");
        assert_string_equal(a->changes[0].was.text, "ids=8086:1234");
        assert_string_equal(a->changes[0].now.text, "ids=10de:1b80");
        assert_int_equal(plan.n_pending, 0); /* no parameters shown: cannot tell, nothing pending */

        /* A loaded module whose parameter shows another value (observed from sysfs): pending a reload. */
        const struct resource *wk = model_find(&set.model, KIND_MODULE, "kvm_intel");
        struct resource *kvm = resource_new(KIND_MODULE, "kvm_intel");
        kvm->module.params = xstrdup("nested=N\n");
        kvm->module.loaded = true;
        kvm->module.at_boot = true;
        kvm->module.options = xstrdup("nested=1");
        struct action *ak = new_action(OP_UPDATE, wk, kvm);
        assert_int_equal(kind_ops(KIND_MODULE)->diff(st, wk, kvm, NULL, ak, &plan), 0);
        assert_int_equal(ak->n_changes, 0);
        assert_int_equal(plan.n_pending, 1);
        assert_string_equal(plan.pending[0].name, "kvm_intel");
        assert_string_equal(plan.pending[0].reason, "loaded with nested=N, declared 1");
        assert_string_equal(plan.pending[0].until, "reload or reboot needed");
        /* Y is what a bool parameter set to 1 reads back as: in effect, nothing pending. */
        free(kvm->module.params);
        kvm->module.params = xstrdup("enable_apicv=Y\nnested=Y\n");
        ak = new_action(OP_UPDATE, wk, kvm);
        assert_int_equal(kind_ops(KIND_MODULE)->diff(st, wk, kvm, NULL, ak, &plan), 0);
        assert_int_equal(plan.n_pending, 1);

        /* Apply writes both files whole, in the kernel's spelling. */
        assert_string_equal(a->key, "vfio_pci");
        assert_int_equal(kind_ops(KIND_MODULE)->apply(st, a, &ledger, NULL), 0);
        ak = new_action(OP_UPDATE, wk, kvm);
        assert_int_equal(kind_ops(KIND_MODULE)->apply(st, ak, &ledger, NULL), 0);
        _cleanup_free_ char *load = get_file("etc/modules-load.d/reconcile.conf");
        _cleanup_free_ char *opts = get_file("etc/modprobe.d/reconcile.conf");
        assert_string_equal(load, "# Written by reconcile from its manifests: edits here are overwritten.\n"
                                  "vfio_pci\nkvm_intel\n");
        assert_string_equal(opts, "# Written by reconcile from its manifests: edits here are overwritten.\n"
                                  "options vfio_pci ids=10de:1b80\noptions kvm_intel nested=1\n");
        char path[512];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/etc/modprobe.d/reconcile.conf", root);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0644);

        /* Removed: out of the files, never unloaded (an unload of 8021q would delete every VLAN). */
        struct action *d = new_action(OP_DELETE, NULL, vfio);
        d->reason = xstrdup("no longer in the manifests");
        kind_ops(KIND_MODULE)->assess(st, d, &live);
        assert_string_equal(d->reason, "no longer in the manifests: leaves reconcile's boot files; stays loaded "
                                       "(reconcile never unloads a module)");
        vfio->module.loaded = false;
        assert_int_equal(kind_ops(KIND_MODULE)->apply(st, d, &ledger, NULL), 0);
        _cleanup_free_ char *load2 = get_file("etc/modules-load.d/reconcile.conf");
        _cleanup_free_ char *opts2 = get_file("etc/modprobe.d/reconcile.conf");
        assert_string_equal(load2, "# Written by reconcile from its manifests: edits here are overwritten.\nkvm_intel\n");
        assert_string_equal(opts2, "# Written by reconcile from its manifests: edits here are overwritten.\n"
                                   "options kvm_intel nested=1\n");
        /* The last one out removes the files. */
        struct action *d3 = new_action(OP_DELETE, NULL, kvm);
        kvm->module.loaded = false;
        assert_int_equal(kind_ops(KIND_MODULE)->apply(st, d3, &ledger, NULL), 0);
        snprintf(path, sizeof(path), "%s/etc/modprobe.d/reconcile.conf", root);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/etc/modules-load.d/reconcile.conf", root);
        assert_int_equal(access(path, F_OK), -1);
        resource_free(kvm);
        backend_for_kind(KIND_MODULE)->close(st);
        model_done(&live);
}

/* A parameter sysfs does not show (dummy's numdummies): the options reconcile
 * last knew the module loaded with decide, from the ledger. */
static void test_module_options_unseen(void **state) {
        (void) state;
        parse("version: 1\nmodules:\n  dummy: { options: \"numdummies=2\" }\n");
        void *st = open_backend(KIND_MODULE, NULL);
        const struct resource *want = model_find(&set.model, KIND_MODULE, "dummy");
        struct resource *live = resource_new(KIND_MODULE, "dummy");
        live->module.loaded = true;
        live->module.at_boot = true;
        live->module.options = xstrdup("numdummies=0");
        struct ledger_entry *e = ledger_add(&ledger, "netns:host", KIND_MODULE, "dummy");
        /* The options change in the file; loaded already, it is not loaded again,
         * and the ledger learns what it runs with: the file's options before. */
        struct action *a = new_action(OP_UPDATE, want, live);
        assert_int_equal(kind_ops(KIND_MODULE)->diff(st, want, live, e, a, &plan), 0);
        assert_int_equal(a->n_changes, 1);
        assert_int_equal(plan.n_pending, 0); /* nothing known yet of what it loaded with */
        assert_int_equal(kind_ops(KIND_MODULE)->apply(st, a, &ledger, e), 0);
        assert_string_equal(ledger_get(e, "loaded-with"), "numdummies=0");
        /* The next plan: the file agrees, the module does not. */
        free(live->module.options);
        live->module.options = xstrdup("numdummies=2");
        a = new_action(OP_UPDATE, want, live);
        assert_int_equal(kind_ops(KIND_MODULE)->diff(st, want, live, e, a, &plan), 0);
        assert_int_equal(a->n_changes, 0);
        assert_int_equal(plan.n_pending, 1);
        assert_string_equal(plan.pending[0].reason, "loaded with options \"numdummies=0\", declared \"numdummies=2\"");
        assert_string_equal(plan.pending[0].until, "reload or reboot needed");
        /* Declared back as loaded: nothing pending. */
        ledger_set(&ledger, e, "loaded-with", "numdummies=2");
        a = new_action(OP_UPDATE, want, live);
        assert_int_equal(kind_ops(KIND_MODULE)->diff(st, want, live, e, a, &plan), 0);
        assert_int_equal(plan.n_pending, 1);
        resource_free(live);
        backend_for_kind(KIND_MODULE)->close(st);
}

/* show exports what reconcile's files list and the host's pools that hold
 * pages, even with no manifest or ledger naming them. */
static void test_observe_unnamed_for_show(void **state) {
        (void) state;
        put_file("etc/modules-load.d/reconcile.conf", "zz_listed_mod\n");
        put_file("etc/modprobe.d/reconcile.conf", "options zz_listed_mod a=1\n");
        put_file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "12\n");
        put_file("sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0\n");
        struct str_list none = { 0 };
        struct model live = { 0 };
        void *ms = open_backend(KIND_MODULE, NULL), *hs = open_backend(KIND_HUGEPAGE, NULL);
        assert_int_equal(backend_for_kind(KIND_MODULE)->observe(ms, &none, &live), 0);
        assert_int_equal(backend_for_kind(KIND_HUGEPAGE)->observe(hs, &none, &live), 0);
        const struct resource *m = model_find(&live, KIND_MODULE, "zz_listed_mod");
        assert_non_null(m);
        assert_string_equal(m->module.options, "a=1");
        assert_true(m->module.at_boot);
        assert_int_equal(model_find(&live, KIND_HUGEPAGE, "2M")->hugepage.count, 12);
        assert_null(model_find(&live, KIND_HUGEPAGE, "1G")); /* none reserved: not exported */
        assert_int_equal(live.n, 2);
        /* Under --netns they are the host's, not the namespace's: nothing to show. */
        struct model in_ns = { 0 };
        void *ms_ns = open_backend(KIND_MODULE, "ns1"), *hs_ns = open_backend(KIND_HUGEPAGE, "ns1");
        assert_int_equal(backend_for_kind(KIND_MODULE)->observe(ms_ns, &none, &in_ns), 0);
        assert_int_equal(backend_for_kind(KIND_HUGEPAGE)->observe(hs_ns, &none, &in_ns), 0);
        assert_int_equal(in_ns.n, 0);
        backend_for_kind(KIND_MODULE)->close(ms_ns);
        backend_for_kind(KIND_HUGEPAGE)->close(hs_ns);
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        assert_int_equal(show_print_yaml(f, &live), 0);
        fclose(f);
        assert_non_null(strstr(out, "\nmodules:\n  zz_listed_mod: {options: \"a=1\"}\n"));
        assert_non_null(strstr(out, "\nhugepages:\n  \"2M\": 12\n"));
        free(out);
        backend_for_kind(KIND_MODULE)->close(ms);
        backend_for_kind(KIND_HUGEPAGE)->close(hs);
        model_done(&live);
}

/* examples/tuned/host.yaml parses whole (run from the repository root). */
static void test_tuned_example_parses(void **state) {
        (void) state;
        _cleanup_free_ char *text = file_read("examples/tuned/host.yaml");
        assert_non_null(text);
        assert_string_equal(parse(text), "");
        assert_string_equal(model_find(&set.model, KIND_MODULE, "kvm_intel")->module.options, "nested=1");
        assert_string_equal(model_find(&set.model, KIND_MODULE, "vfio-pci")->module.options, "ids=10de:1b80");
        assert_int_equal(model_find(&set.model, KIND_HUGEPAGE, "2M")->hugepage.count, 1024);
        assert_int_equal(model_find(&set.model, KIND_HUGEPAGE, "1G")->hugepage.count, 4);
        assert_string_equal(model_find(&set.model, KIND_SYSCTL, "kernel.numa_balancing")->sysctl.value, "0");
}

/* A kind that needs a module names it at plan time: against a module index
 * made here by depmod (8021q and bonding built in, nothing else). */
static void test_kinds_name_missing_modules(void **state) {
        (void) state;
        char dir[256], cmd[600];
        snprintf(dir, sizeof(dir), "%s/lib/modules/9.9.9", root);
        put_file("lib/modules/9.9.9/modules.builtin", "kernel/net/8021q/8021q.ko\nkernel/drivers/net/bonding/bonding.ko\n");
        snprintf(cmd, sizeof(cmd), "depmod -b '%s' 9.9.9 2>/dev/null", root);
        assert_int_equal(system(cmd), 0);
        setenv("RECONCILE_MODULES", dir, 1);
        assert_int_equal(module_available("zz_made_up_mod"), -ENOENT);
        assert_int_equal(module_available("8021q"), 0);
        parse("version: 1\nethernets:\n  eth0: {}\nvlans:\n  v7: { link: eth0, id: 7 }\nbonds:\n  b0: {}\n");
        const struct resource *v7 = model_find(&set.model, KIND_VLAN, "v7");
        assert_int_equal(kind_ops(KIND_VLAN)->admit(NULL, v7), 0);
        assert_int_equal(kind_ops(KIND_BOND)->admit(NULL, model_find(&set.model, KIND_BOND, "b0")), 0);
        assert_true(module_needed(v7, "zz_made_up_mod") < 0);
        char want[512];
        snprintf(want, sizeof(want), "m.yaml:5:3: error: vlan v7: needs the kernel module zz_made_up_mod, which this "
                 "kernel lacks (not loaded, not built in, not in %s)\n", dir);
        assert_non_null(strstr(errors(), want));
        /* No index to tell (a kernel without modules): no error, the kernel's own will say. */
        setenv("RECONCILE_MODULES", "/nonexistent/lib/modules/9.9.9", 1);
        assert_int_equal(module_available("zz_made_up_mod"), 0);
        unsetenv("RECONCILE_MODULES");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_parse_modules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_module_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_hugepages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_hugepage_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_host_sysctls, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netns_refuses_host_kinds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hugepages_apply_and_restore, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hugepages_shortfall_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_module_files_and_options, setup, teardown),
                cmocka_unit_test_setup_teardown(test_module_options_unseen, setup, teardown),
                cmocka_unit_test_setup_teardown(test_observe_unnamed_for_show, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tuned_example_parses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kinds_name_missing_modules, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
