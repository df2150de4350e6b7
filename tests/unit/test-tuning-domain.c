/* The tuning of a domain (backends/domain-tuning.c): the checks at parse time,
 * render and parse of every element (the XML round trip plans nothing), the
 * host checks at plan time against a fake sysfs ($RECONCILE_SYSFS), apply and
 * show against libvirt's in-process test:///default driver. */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "../../backends/domain-tuning.h"
#include "../../cmd/output.h"
#include "../../parsers/parsers.h"
#include "fake-backends.h"
#include "libvirt-harness.h"

static char sys[96];

static void write_file(const char *rel, const char *text) {
        char path[256], cmd[320];
        snprintf(path, sizeof(path), "%s/%s", sys, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname %s)\"", path);
        assert_int_equal(system(cmd), 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* A host of 2 CPUs, one NUMA node, one PCI device, one USB device, 2M pages. */
static void fake_sysfs(void) {
        snprintf(sys, sizeof(sys), "%s/sys", dir);
        write_file("devices/system/cpu/online", "0-1\n");
        write_file("devices/system/node/online", "0\n");
        write_file("bus/pci/devices/0000:01:00.0/vendor", "0x10de\n");
        write_file("bus/usb/devices/1-1/idVendor", "1234\n");
        write_file("bus/usb/devices/1-1/idProduct", "5678\n");
        write_file("kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "16\n");
        write_file("devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "4\n");
        setenv("RECONCILE_SYSFS", sys, 1);
}

/* The harness's, with the fake sysfs in its scratch directory and the direct
 * NIC's host device in the fake link backend's live model. */
static int setup(void **state) {
        lvh_setup(state);
        fake_sysfs();
        struct resource *eth1 = resource_new(KIND_ETHERNET, "eth1");
        eth1->link.mtu = 1500;
        eth1->link.up = true;
        assert_int_equal(model_add(&fake_live, eth1), 0);
        return 0;
}

static int teardown(void **state) {
        unsetenv("RECONCILE_SYSFS");
        model_done(&fake_live);
        return lvh_teardown(state);
}

static void changes_done(struct action *a) {
        for (size_t i = 0; i < a->n_changes; i++) {
                free(a->changes[i].name);
                free(a->changes[i].was.type == VAL_TEXT ? a->changes[i].was.text : NULL);
                free(a->changes[i].now.type == VAL_TEXT ? a->changes[i].now.text : NULL);
        }
        free(a->changes);
}

/* The XML writer indents: the tests look for elements without the line breaks. */
static char *squeeze(char *xml) {
        char *w = xml;
        for (const char *r = xml; *r; r++) {
                if (*r == '\n') {
                        while (r[1] == ' ')
                                r++;
                        continue;
                }
                *w++ = *r;
        }
        *w = '\0';
        return xml;
}

static int parse(const char *yaml) {
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        int r = manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        if (r >= 0)
                r = manifests_validate(&set);
        fflush(errs_f);
        return r;
}

static void expect_error(const char *yaml, const char *message) {
        fflush(errs_f);
        size_t before = errs_len;
        assert_true(parse(yaml) < 0);
        if (!strstr(errs + before, message))
                fail_msg("expected \"%s\" in: %s", message, errs + before);
}

static const char *tuned =
        "version: 1\n"
        "pools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
        "      t1-root: { capacity: 1G, format: raw }\n"
        "domains:\n  t1:\n    vcpus: 2\n    memory: 256M\n"
        "    cpu-topology: { sockets: 1, cores: 2, threads: 1 }\n"
        "    vcpu-pins: { 0: \"0\", 1: \"1\" }\n"
        "    emulator-pin: \"0-1\"\n"
        "    iothreads: 1\n"
        "    numa: [{ cpus: \"0-1\", memory: 256M }]\n"
        "    numa-tune: { mode: interleave, nodeset: \"0\" }\n"
        "    memballoon: virtio\n"
        "    rng: virtio\n"
        "    watchdog: { model: i6300esb, action: poweroff }\n"
        "    on-poweroff: destroy\n    on-reboot: restart\n    on-crash: coredump-restart\n"
        "    hostdevs: [{ pci: \"0000:01:00.0\", managed: true }, { usb: { vendor: \"0x1234\", product: \"0x5678\" } }]\n"
        "    disks:\n      - { volume: images/t1-root, cache: none, io: native, detect-zeroes: \"on\", iothread: 1,"
        " serial: ROOT1, readonly: true, iotune: { total-bytes-sec: 10M, read-iops-sec: 500, write-iops-sec: 100 } }\n"
        "    interfaces:\n      - { direct: eth1, mode: vepa, mac: \"52:54:00:00:00:09\" }\n"
        "    state: shutoff\n";

static void test_enum_tables(void **state) {
        (void) state;
        const struct enum_table *const tables[] = { &disk_io_table,         &detect_zeroes_table,   &numa_mode_table,
                                                    &lifecycle_table,       &watchdog_model_table,  &watchdog_action_table,
                                                    &balloon_model_table,   &rng_model_table };
        for (size_t t = 0; t < ELEMENTSOF(tables); t++)
                for (int i = 0; i < tables[t]->n; i++)
                        assert_int_equal(enum_from_string(tables[t], enum_to_string(tables[t], i)), i);
        assert_string_equal(enum_to_string(&disk_io_table, DISK_IO_URING), "io_uring");
        assert_string_equal(enum_to_string(&lifecycle_table, LC_COREDUMP_RESTART), "coredump-restart");
}

static void test_cpusets(void **state) {
        (void) state;
        struct cpuset c;
        char buf[64], err[200];
        assert_int_equal(cpuset_parse("2-3,6", &c, err, sizeof(err)), 0);
        assert_string_equal(cpuset_format(&c, buf, sizeof(buf)), "2-3,6");
        assert_int_equal(cpuset_parse("0,1,2,5", &c, err, sizeof(err)), 0);
        assert_string_equal(cpuset_format(&c, buf, sizeof(buf)), "0-2,5");
        assert_int_equal(cpuset_parse("1023", &c, err, sizeof(err)), 0);
        assert_string_equal(cpuset_format(&c, buf, sizeof(buf)), "1023");
        static const char *const bad[] = { "", "1024", "3-2", "1,,2", "1,", "a", "-1", "1-", "0x1" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(cpuset_parse(bad[i], &c, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "bad CPU set \"0x1\""));
}

/* Every element rendered, read back as libvirt would keep it, and compared by the diff: nothing differs. */
static void test_render_parse_round_trip(void **state) {
        (void) state;
        lvh_want(tuned);
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "t1");
        d->domain.disks[0].format = VOL_RAW;
        char *xml = domain_render_xml(d, "qemu", NULL);
        assert_non_null(xml);
        squeeze(xml);
        static const char *const expect[] = {
                "<iothreads>1</iothreads>",
                "<vcpupin vcpu=\"0\" cpuset=\"0\"/>",
                "<vcpupin vcpu=\"1\" cpuset=\"1\"/>",
                "<emulatorpin cpuset=\"0-1\"/>",
                "<memory mode=\"interleave\" nodeset=\"0\"/>",
                "<on_crash>coredump-restart</on_crash>",
                "<topology sockets=\"1\" cores=\"2\" threads=\"1\"/>",
                "<cell id=\"0\" cpus=\"0-1\" memory=\"262144\" unit=\"KiB\"/>",
                "io=\"native\" detect_zeroes=\"on\" iothread=\"1\"",
                "<readonly></readonly>",
                "<serial>ROOT1</serial>",
                "<total_bytes_sec>10485760</total_bytes_sec>",
                "<read_iops_sec>500</read_iops_sec>",
                "<interface type=\"direct\">",
                "<source dev=\"eth1\" mode=\"vepa\"/>",
                "<address domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" function=\"0x0\"/>",
                "<vendor id=\"0x1234\"/>",
                "<backend model=\"random\">/dev/urandom</backend>",
                "<watchdog model=\"i6300esb\" action=\"poweroff\"/>",
                "<memballoon model=\"virtio\"/>",
        };
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                if (!strstr(xml, expect[i]))
                        fail_msg("no %s in %s", expect[i], xml);
        struct resource *back = resource_new(KIND_DOMAIN, "t1");
        assert_int_equal(domain_parse_xml(xml, back), 0);
        const struct domain_tuning *t = &back->domain.tuning;
        assert_int_equal(t->n_pins, 2);
        assert_int_equal(t->pins[1].vcpu, 1);
        assert_int_equal(t->topology.cores, 2);
        assert_int_equal(t->n_cells, 1);
        assert_int_equal(t->cells[0].memory, 256ull << 20);
        assert_int_equal(t->numa_tune.mode, NUMA_INTERLEAVE);
        assert_int_equal(t->n_hostdevs, 2);
        assert_string_equal(t->hostdevs[0].pci, "0000:01:00.0");
        assert_string_equal(t->hostdevs[1].usb.product, "0x5678");
        assert_int_equal(t->watchdog.action, WDA_POWEROFF);
        assert_int_equal(t->on_crash, LC_COREDUMP_RESTART);
        assert_int_equal(back->domain.disks[0].tuning.io, DISK_IO_NATIVE);
        assert_int_equal(back->domain.disks[0].tuning.iotune.write_iops, 100);
        assert_true(back->domain.disks[0].tuning.readonly);
        assert_string_equal(back->domain.nics[0].direct, "eth1");
        assert_int_equal(back->domain.nics[0].direct_mode, MACVTAP_VEPA);
        assert_null(back->domain.unmodeled);
        /* The tuning diff of the two: no change. */
        struct action a = { .op = OP_UPDATE, .kind = KIND_DOMAIN, .want = d, .live = back };
        struct plan p = { 0 };
        tuning_diff(d, back, &a, &p);
        if (a.n_changes)
                fail_msg("round trip differs: %s", a.changes[0].name);
        assert_int_equal(p.n_pending, 0);
        /* A changed pin is one change, named by its key, with both sides' text. */
        back->domain.tuning.pins[1].cpus.bits[0] = 1;
        tuning_diff(d, back, &a, &p);
        assert_int_equal(a.n_changes, 1);
        assert_string_equal(a.changes[0].name, "vcpu-pins");
        assert_string_equal(a.changes[0].was.text, "0:0 1:0");
        assert_string_equal(a.changes[0].now.text, "0:0 1:1");
        changes_done(&a);
        plan_done(&p);
        resource_free(back);
        free(xml);
}

static void test_hugepage_size_rendered(void **state) {
        (void) state;
        lvh_want("version: 1\ndomains:\n  h1: { memory: 64M, memory-backing: hugepages, page-size: 2M }\n");
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "h1");
        char *xml = squeeze(domain_render_xml(d, "qemu", NULL));
        assert_non_null(strstr(xml, "<memoryBacking><hugepages><page size=\"2048\" unit=\"KiB\"/></hugepages></memoryBacking>"));
        struct resource *back = resource_new(KIND_DOMAIN, "h1");
        assert_int_equal(domain_parse_xml(xml, back), 0);
        assert_true(back->set & DOM_F_PAGE_SIZE);
        assert_int_equal(back->domain.tuning.page_size, 2u << 20);
        resource_free(back);
        free(xml);
}

/* An SR-IOV VF pool: a network of mode hostdev on a PF, and an interface on it. */
static void test_hostdev_network(void **state) {
        (void) state;
        lvh_want("version: 1\nnetworks:\n  vfs: { mode: hostdev, pf: eth1 }\n"
                 "domains:\n  v1: { memory: 64M, interfaces: [{ network: vfs }] }\n");
        struct resource *n = model_find(&set.model, KIND_NETWORK, "vfs");
        char *xml = squeeze(network_render_xml(n));
        assert_non_null(strstr(xml, "<forward mode=\"hostdev\" managed=\"yes\"><pf dev=\"eth1\"/></forward>"));
        assert_null(strstr(xml, "<bridge"));
        struct resource *back = resource_new(KIND_NETWORK, "vfs");
        assert_int_equal(network_parse_xml(xml, back), 0);
        assert_int_equal(back->network.mode, NET_HOSTDEV);
        assert_string_equal(back->network.pf, "eth1");
        resource_free(back);
        free(xml);
        expect_error("version: 1\nnetworks:\n  vfs: { mode: hostdev }\n", "network vfs: mode hostdev goes with pf");
        expect_error("version: 1\nnetworks:\n  vfs: { mode: nat, pf: eth1 }\n", "network vfs: mode hostdev goes with pf");
        /* Defined (the test driver has no VFs to start it with), then in sync. */
        lvh_want("version: 1\nnetworks:\n  vfs: { mode: hostdev, pf: eth1, active: false }\n"
                 "domains:\n  v1: { memory: 64M, state: present, interfaces: [{ network: vfs }] }\n");
        assert_int_equal(lvh_pass(0), 2);
        assert_int_equal(lvh_pass(0), 0);
}

static void test_parse_time_errors(void **state) {
        (void) state;
        const char *head = "version: 1\ndomains:\n  e1:\n    vcpus: 2\n    memory: 256M\n";
        static const struct {
                const char *keys, *message;
        } cases[] = {
                { "    cpu-topology: { sockets: 2, cores: 2, threads: 1 }\n",
                  "m.yaml:6:19: error: domain e1: cpu-topology 2 sockets x 2 cores x 1 threads is 4 vCPUs, but vcpus is 2" },
                { "    cpu-topology: { sockets: 1, cores: 2 }\n", "cpu-topology needs sockets, cores and threads" },
                { "    vcpu-pins: { 0: \"0\", 2: \"1\" }\n", "m.yaml:6:29: error: domain e1: vcpu-pins: \"2\" is no vCPU of 0..1" },
                { "    vcpu-pins: { 1: \"1-\" }\n", "m.yaml:6:21: error: domain e1: vcpu-pins 1: bad CPU set \"1-\"" },
                { "    vcpu-pins: [0]\n", "vcpu-pins: expected a mapping" },
                { "    vcpu-pins: { 0: \"0\", 0: \"1\" }\n", "m.yaml:6:26: error: duplicate key \"0\" in vcpu-pins (first at 6:18)" },
                { "    vcpu-pins: { 0: [1] }\n", "m.yaml:6:21: error: vcpu-pins: 0: expected a string" },
                { "    vcpu-pins: { [0]: \"1\" }\n", "vcpu-pins: keys must be non-empty strings" },
                { "    vcpu-pins: { 0: \"\" }\n", "m.yaml:6:21: error: domain e1: vcpu-pins 0: bad CPU set \"\"" },
                { "    emulator-pin: \"x\"\n", "m.yaml:6:19: error: emulator-pin: bad CPU set \"x\"" },
                { "    numa: [{ cpus: \"0-1\", memory: 128M }]\n", "the numa cells hold 128M, but the domain's memory is 256M" },
                { "    numa: [{ cpus: \"0-2\", memory: 256M }]\n", "numa cell cpus: vCPU 2 is above the domain's vCPUs" },
                { "    numa-tune: { mode: strict }\n", "numa-tune needs a nodeset" },
                { "    page-size: 2M\n", "page-size goes with memory-backing: hugepages" },
                { "    memory-backing: hugepages\n    page-size: 4K\n", "page-size 4K is no huge page size" },
                { "    hostdevs: [{ managed: true }]\n", "a hostdev needs exactly one of pci and usb" },
                { "    hostdevs: [{ pci: \"01:00.0\" }]\n", "hostdev pci: \"01:00.0\" is no PCI address" },
                { "    hostdevs: [{ usb: { vendor: \"0x12\" } }]\n", "is no id as 0x1234" },
                { "    watchdog: { action: reset }\n", "watchdog needs a model" },
                { "    on-crash: explode\n", "on-crash" },
                { "    depends-on: [e1]\n", "domain e1 cannot depend on itself" },
                { "    depends-on: [nowhere]\n", "depends-on nowhere, which is no declared domain" },
                { "    interfaces: [{ direct: eth1, network: n1 }]\n", "exactly one of bridge, network, ovs-bridge and direct" },
                { "    interfaces: [{ network: n1, mode: vepa }]\n", "interface mode goes with direct" },
                { "    disks: [{ cdrom: /x.iso, io: native }]\n", "disk io: native needs cache: none or directsync" },
                { "    disks: [{ cdrom: /x.iso, detect-zeroes: unmap }]\n", "detect-zeroes: unmap needs discard: unmap" },
                { "    disks: [{ cdrom: /x.iso, iothread: 1 }]\n", "disk iothread 1, but the domain has iothreads: 0" },
                { "    disks: [{ cdrom: /x.iso, iotune: { total-iops-sec: 5, read-iops-sec: 1 } }]\n",
                  "a total limit goes alone" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *yaml = xasprintf("%s%s", head, cases[i].keys);
                expect_error(yaml, cases[i].message);
                free(yaml);
        }
}

static int plan_errors(const char *yaml, const char *message) {
        lvh_want(yaml);
        fflush(errs_f);
        size_t before = errs_len;
        struct run run;
        lvh_plan_only(&run);
        fflush(errs_f);
        int n = (int) run.plan.n_errors;
        bool found = strstr(errs + before, message) != NULL;
        if (!found)
                fail_msg("expected \"%s\" in: %s", message, errs + before);
        run_done(&run);
        return n;
}

/* The host has CPUs 0-1, node 0, PCI 0000:01:00.0, USB 1234:5678 and 16 free 2M pages. */
static void test_plan_time_host_checks(void **state) {
        (void) state;
        const char *head = "version: 1\ndomains:\n  p1:\n    vcpus: 2\n    memory: 64M\n";
        static const struct {
                const char *keys, *message;
        } cases[] = {
                { "    vcpu-pins: { 0: \"0\", 1: \"5\" }\n",
                  "m.yaml:6:29: error: domain p1: vcpu-pins 1: host CPU 5 does not exist (this host has 0-1)" },
                { "    emulator-pin: \"1-2\"\n", "m.yaml:6:19: error: domain p1: emulator-pin: host CPU 2 does not exist" },
                { "    numa-tune: { nodeset: \"1\" }\n", "numa-tune nodeset: host NUMA node 1 does not exist (this host has 0)" },
                { "    hostdevs:\n      - { pci: \"0000:01:00.0\" }\n      - { pci: \"0000:02:00.0\" }\n",
                  "m.yaml:8:9: error: domain p1: hostdev pci 0000:02:00.0: no such PCI device on this host" },
                { "    hostdevs: [{ usb: { vendor: \"0x1234\", product: \"0x9999\" } }]\n",
                  "hostdev usb 0x1234:0x9999: no such USB device on this host" },
                { "    memory-backing: hugepages\n    page-size: 2M\n",
                  ("page-size 2M: it needs 32 pages for its memory, and the host has free 16 (declare hugepages: { 2M: 32 } "
                   "or more)") },
                { "    memory-backing: hugepages\n    page-size: 1G\n", "page-size 1G: this host has no 1G huge pages" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *yaml = xasprintf("%s%s", head, cases[i].keys);
                assert_int_equal(plan_errors(yaml, cases[i].message), 1);
                free(yaml);
        }
        /* 8 pages: the host has 16 free, but the node the guest is bound to only 4. */
        assert_int_equal(plan_errors("version: 1\ndomains:\n  p1:\n    memory: 16M\n    memory-backing: hugepages\n"
                                     "    page-size: 2M\n    numa-tune: { nodeset: \"0\" }\n",
                                     "m.yaml:6:16: error: domain p1: page-size 2M: it needs 8 pages for its memory, and its "
                                     "numa-tune nodes 0 have 4 free"),
                         1);
        /* Interleaved, the pages may come from any node. */
        lvh_want("version: 1\ndomains:\n  p1:\n    memory: 16M\n    memory-backing: hugepages\n"
                 "    page-size: 2M\n    numa-tune: { mode: interleave, nodeset: \"0\" }\n");
        assert_int_equal(tuning_admit(model_find(&set.model, KIND_DOMAIN, "p1"), NULL), 0);
}

/* A domain that fits: pins to CPUs the host has, its devices present, and
 * huge pages the manifests reserve (the plan makes them before the guest starts). */
static void test_plan_time_host_checks_pass(void **state) {
        (void) state;
        lvh_want("version: 1\nhugepages:\n  2M: 64\ndomains:\n  p2:\n    vcpus: 2\n    memory: 64M\n"
                 "    vcpu-pins: { 0: \"0\", 1: \"1\" }\n    memory-backing: hugepages\n    page-size: 2M\n"
                 "    hostdevs: [{ pci: \"0000:01:00.0\" }, { usb: { vendor: \"0x1234\", product: \"0x5678\" } }]\n");
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "p2");
        assert_int_equal(d->domain.tuning.declared_pages, 64);
        assert_int_equal(tuning_admit(d, NULL), 0);
}

static char *show_yaml(void) {
        struct run run;
        lvh_plan_only(&run);
        char *yaml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&yaml, &len);
        assert_int_equal(show_print_yaml(f, &run.live), 0);
        fclose(f);
        run_done(&run);
        return yaml;
}

/* Defined with all of it, then in sync; show writes it back as a manifest that plans nothing. */
static void test_apply_in_sync_and_show(void **state) {
        (void) state;
        lvh_want(tuned);
        size_t n = lvh_pass(0);
        if (n != 3)
                fail_msg("%zu actions: %s", n, errs);
        struct run second;
        lvh_plan_only(&second);
        if (second.plan.n_actions)
                fail_msg("second plan: %s %s, %zu changes, first %s", op_to_string(second.plan.actions[0].op),
                         second.plan.actions[0].name, second.plan.actions[0].n_changes,
                         second.plan.actions[0].n_changes ? second.plan.actions[0].changes[0].name : "");
        run_done(&second);
        char *yaml = show_yaml();
        static const char *const expect[] = {
                "    cpu-topology: {sockets: 1, cores: 2, threads: 1}\n",
                "    vcpu-pins: {0: \"0\", 1: \"1\"}\n",
                "    emulator-pin: \"0-1\"\n",
                "    iothreads: 1\n",
                "    numa:\n    - {cpus: \"0-1\", memory: 256M}\n",
                "    numa-tune: {mode: interleave, nodeset: \"0\"}\n",
                "    hostdevs:\n    - {pci: \"0000:01:00.0\", managed: true}\n",
                "    - {usb: {vendor: \"0x1234\", product: \"0x5678\"}, managed: true}\n",
                "    rng: virtio\n",
                "    watchdog: {model: i6300esb, action: poweroff}\n",
                "    on-crash: coredump-restart\n",
                ("io: native, detect-zeroes: on, iothread: 1, serial: \"ROOT1\", readonly: true, iotune: {total-bytes-sec: "
                 "10M, read-iops-sec: 500, write-iops-sec: 100}"),
                "{direct: eth1, mode: vepa",
        };
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                if (!strstr(yaml, expect[i]))
                        fail_msg("show has no %s:\n%s", expect[i], strstr(yaml, "  t1:") ? strstr(yaml, "  t1:") : yaml);
        /* Read back, it plans nothing. */
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        if (manifest_parse_buffer(&set, "show.yaml", yaml, strlen(yaml), "kvm1") < 0 || manifests_validate(&set) < 0) {
                fflush(errs_f);
                fail_msg("show's YAML is not a valid manifest: %s\n%s", errs, yaml);
        }
        lvh_plan_only(&second);
        /* test:///default's own domain gets ACPI and APIC, which reconcile always renders. */
        for (size_t i = 0; i < second.plan.n_actions; i++)
                if (second.plan.actions[i].n_changes && strcmp(second.plan.actions[i].name, "test") != 0)
                        fail_msg("show round trip changes %s: %s\n%s", second.plan.actions[i].name,
                                 second.plan.actions[i].changes[0].name, yaml);
        run_done(&second);
        free(yaml);
}

static char *plan_text(struct run *run) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        plan_print_text(f, &run->plan);
        fclose(f);
        return text;
}

/* Edits of a defined domain go into its definition in one update, and converge. */
static void test_edits_converge(void **state) {
        (void) state;
        lvh_want(tuned);
        lvh_pass(0);
        char *edited = xstrdup(tuned);
        char *p = strstr(edited, "1: \"1\" }");
        p[4] = '0';
        p = strstr(edited, "action: poweroff");
        memcpy(p, "action: reset   ", 16);
        p = strstr(edited, "read-iops-sec: 500");
        p[15] = '9';
        p = strstr(edited, "rng: virtio");
        memcpy(p, "rng: none  ", 11);
        lvh_want(edited);
        free(edited);
        struct run run;
        lvh_plan_only(&run);
        char *text = plan_text(&run);
        if (!strstr(text, "disk images/t1-root iotune total-bytes-sec 10M, read-iops-sec 500, write-iops-sec 100 -> "
                          "total-bytes-sec 10M, read-iops-sec 900, write-iops-sec 100") ||
            !strstr(text, "vcpu-pins 0:0 1:1 -> 0:0 1:0") || !strstr(text, "watchdog i6300esb poweroff -> i6300esb reset") ||
            !strstr(text, "rng virtio -> none"))
                fail_msg("plan:\n%s", text);
        free(text);
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        assert_int_equal(lvh_pass(0), 0);
        virDomainPtr d = virDomainLookupByName(keeper, "t1");
        assert_non_null(d);
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        assert_non_null(strstr(xml, "<vcpupin vcpu='1' cpuset='0'/>"));
        assert_non_null(strstr(xml, "<watchdog model='i6300esb' action='reset'"));
        assert_non_null(strstr(xml, "<read_iops_sec>900</read_iops_sec>"));
        assert_null(strstr(xml, "<rng"));
        free(xml);
        virDomainFree(d);
}

/* A direct NIC reconcile did not make (no MAC in the ledger) is matched by its
 * source, not detached and attached again; a new one is named by its device. */
static void test_direct_nic_matched_by_source(void **state) {
        (void) state;
        virDomainPtr d = virDomainDefineXML(keeper,
                "<domain type='test'><name>m1</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>"
                "<features><acpi/><apic/></features><devices><interface type='direct'><mac address='52:54:00:00:00:31'/>"
                "<source dev='eth1' mode='vepa'/><model type='virtio'/></interface></devices></domain>");
        assert_non_null(d);
        virDomainFree(d);
        lvh_want("version: 1\ndomains:\n  m1:\n    memory: 64M\n    state: present\n"
                 "    console: false\n    guest-agent: false\n    interfaces: [{ direct: eth1, mode: vepa }]\n");
        struct run run;
        lvh_plan_only(&run);
        assert_int_equal(run.plan.n_actions, 1);
        assert_int_equal(run.plan.actions[0].op, OP_ADOPT);
        if (run.plan.actions[0].n_changes) {
                char *text = plan_text(&run);
                fail_msg("adopting m1 changes: %s", text);
        }
        run_done(&run);
        lvh_want("version: 1\ndomains:\n  m1:\n    memory: 64M\n    state: present\n"
                 "    console: false\n    guest-agent: false\n"
                 "    interfaces: [{ direct: eth1, mode: vepa }, { direct: eth1, mode: private, mac: \"52:54:00:00:00:32\" }]\n");
        lvh_plan_only(&run);
        char *text = plan_text(&run);
        if (!strstr(text, "direct:eth1:private mac 52:54:00:00:00:32"))
                fail_msg("no new direct NIC in:\n%s", text);
        free(text);
        run_done(&run);
}

/* depends-on orders the actions: a guest starts after the ones it names. */
static void test_depends_on_orders_starts(void **state) {
        (void) state;
        lvh_want("version: 1\ndomains:\n"
                 "  app: { memory: 64M, depends-on: [db, cache] }\n"
                 "  db: { memory: 64M }\n"
                 "  cache: { memory: 64M, depends-on: [db] }\n");
        struct run run;
        lvh_plan_only(&run);
        char order[128] = "";
        for (size_t i = 0; i < run.plan.n_actions; i++) {
                strcat(order, run.plan.actions[i].name);
                strcat(order, " ");
        }
        assert_string_equal(order, "db cache app ");
        run_done(&run);
        lvh_pass(0);
        /* All three shut off: in reverse, each after the guests that depend on it. */
        lvh_want("version: 1\ndomains:\n"
                 "  app: { memory: 64M, depends-on: [db, cache], state: shutoff }\n"
                 "  db: { memory: 64M, state: shutoff }\n"
                 "  cache: { memory: 64M, depends-on: [db], state: shutoff }\n");
        lvh_plan_only(&run);
        order[0] = '\0';
        for (size_t i = 0; i < run.plan.n_actions; i++) {
                strcat(order, run.plan.actions[i].name);
                strcat(order, " ");
        }
        assert_string_equal(order, "app cache db ");
        run_done(&run);
}

/* examples/tuned/ parses whole (run from the repository root): the guests'
 * huge pages are the host's declared ones, and the pinned guest renders its
 * pins, cell, iothread and macvtap NIC. */
static void test_tuned_example(void **state) {
        (void) state;
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        static const char *const files[] = { "examples/tuned/guests.yaml", "examples/tuned/host.yaml" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *text = file_read(files[i]);
                assert_non_null(text);
                assert_true(manifest_parse_buffer(&set, files[i], text, strlen(text), "kvm1") >= 0);
        }
        if (manifests_validate(&set) < 0) {
                fflush(errs_f);
                fail_msg("examples/tuned: %s", errs);
        }
        struct resource *app = model_find(&set.model, KIND_DOMAIN, "app1");
        assert_int_equal(app->domain.tuning.declared_pages, 1024);
        struct resource *db = model_find(&set.model, KIND_DOMAIN, "db1");
        db->domain.disks[0].format = db->domain.disks[1].format = VOL_RAW;
        char *xml = squeeze(domain_render_xml(db, "kvm", NULL));
        static const char *const expect[] = { "<vcpupin vcpu=\"3\" cpuset=\"5\"/>", "<emulatorpin cpuset=\"0-1\"/>",
                                              "<iothreads>1</iothreads>", "<cell id=\"0\" cpus=\"0-3\" memory=\"8388608\"",
                                              "<memory mode=\"strict\" nodeset=\"0\"/>", "iothread=\"1\"",
                                              "<source dev=\"eth1\" mode=\"bridge\"/>", "<topology sockets=\"1\" cores=\"2\" threads=\"2\"/>" };
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                if (!strstr(xml, expect[i]))
                        fail_msg("no %s in %s", expect[i], xml);
        free(xml);
}

#define T(f) cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, "tune")
int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_enum_tables),
                T(test_cpusets),
                T(test_render_parse_round_trip),
                T(test_hugepage_size_rendered),
                T(test_hostdev_network),
                T(test_parse_time_errors),
                T(test_plan_time_host_checks),
                T(test_plan_time_host_checks_pass),
                T(test_apply_in_sync_and_show),
                T(test_edits_converge),
                T(test_depends_on_orders_starts),
                T(test_direct_nic_matched_by_source),
                T(test_tuned_example),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
