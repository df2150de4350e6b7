/* Manifest parser: typed values, and every error with its exact position. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../parsers/parsers.h"

static char *errs;
static size_t errs_len;
static FILE *errs_f;
static struct manifest_set set;

static int setup(void **state) {
        (void) state;
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        memset(&set, 0, sizeof(set));
        return 0;
}

static int teardown(void **state) {
        (void) state;
        manifests_done(&set);
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        return 0;
}

/* Parse one buffer named "m.yaml"; returns the errors printed. */
static const char *parse(const char *yaml) {
        manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        manifests_validate(&set);
        fflush(errs_f);
        return errs ? errs : "";
}

static void assert_first_error(const char *yaml, const char *want) {
        fflush(errs_f);
        size_t before = errs_len;
        const char *got = parse(yaml) + before;
        size_t n = strcspn(got, "\n");
        if (strlen(want) != n || strncmp(got, want, n) != 0)
                fail_msg("first error\n  got:  %.*s\n  want: %s", (int) n, got, want);
}

static void test_full_schema(void **state) {
        (void) state;
        const char *y = "version: 1\n"
                        "host: \"kvm*\"\n"
                        "ethernets:\n  eth0: { mtu: 9000, up: true, addresses: [] }\n"
                        "bridges:\n  br0:\n    interfaces: [eth0, vlan20]\n"
                        "    addresses: [192.0.2.10/24, \"2001:db8::10/64\"]\n"
                        "    mtu: 1500\n    mac: \"52:54:00:aa:bb:cc\"\n    stp: false\n    forward-delay: 15\n"
                        "vlans:\n  vlan20: { link: eth1, id: 20, addresses: [198.51.100.2/24], mtu: 1500 }\n"
                        "networks:\n  default:\n    mode: nat\n    bridge: virbr0\n    address: 192.168.122.1/24\n"
                        "    dhcp: { start: 192.168.122.2, end: 192.168.122.254 }\n    autostart: true\n    active: true\n"
                        "  mv: { mode: macvtap, dev: eth2, macvtap-mode: vepa }\n"
                        "pools:\n  images:\n    type: dir\n    path: /var/lib/libvirt/images\n    volumes:\n"
                        "      web1-root: { capacity: 10G, format: qcow2, preallocation: metadata }\n"
                        "      web1-data: { capacity: 20G, format: raw }\n"
                        "domains:\n  web1:\n    vcpus: 2\n    max-vcpus: 8\n    memory: 2G\n    max-memory: 8G\n"
                        "    cpu: host-passthrough\n    memory-backing: hugepages\n    state: running\n    autostart: true\n"
                        "    disks:\n      - { volume: images/web1-root, bus: virtio, cache: none, discard: unmap }\n"
                        "      - { cdrom: /var/lib/libvirt/iso/debian.iso }\n"
                        "    interfaces:\n      - { bridge: br0, model: virtio, mac: \"52:54:00:12:34:56\" }\n"
                        "      - { network: default }\n"
                        "services:\n  web:\n    protocol: tcp\n    address: 192.0.2.100\n    port: 80\n    scheduler: wlc\n"
                        "    persistence: 300\n    forwarding: masq\n    drain-seconds: 0\n    reals:\n"
                        "      - { address: 10.0.0.11, port: 80, weight: 1 }\n"
                        "      - { address: 10.0.0.12, port: 80, weight: 2, forwarding: route }\n"
                        "ipsets:\n  blocklist:\n    type: hash:ip\n    family: inet\n    maxelem: 262144\n"
                        "    entries: [203.0.113.7, 203.0.113.8]\n";
        assert_string_equal(parse(y), "");
        struct resource *br = model_find(&set.model, KIND_BRIDGE, "br0");
        assert_non_null(br);
        assert_int_equal(br->kind, KIND_BRIDGE);
        assert_int_equal(br->link.interfaces.n, 2);
        assert_int_equal(br->link.addresses.n, 2);
        assert_int_equal(br->link.addresses.v[1].family, AF_INET6);
        assert_int_equal(br->link.forward_delay, 15);
        assert_true(br->set & LINK_F_MAC);
        assert_int_equal(br->pos.line, 6);
        assert_int_equal(br->pos.col, 3);
        struct resource *vl = model_find(&set.model, KIND_VLAN, "vlan20");
        assert_int_equal(vl->link.vlan_id, 20);
        assert_string_equal(vl->link.link, "eth1");
        struct resource *vol = model_find(&set.model, KIND_VOLUME, "images/web1-root");
        assert_non_null(vol);
        assert_int_equal(vol->volume.capacity, 10ull << 30);
        assert_int_equal(vol->volume.format, VOL_QCOW2);
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "web1");
        assert_int_equal(d->domain.n_disks, 2);
        assert_int_equal(d->domain.n_nics, 2);
        assert_int_equal(d->domain.memory, 2ull << 30);
        assert_int_equal(d->state, STATE_RUNNING);
        assert_string_equal(d->domain.disks[1].cdrom, "/var/lib/libvirt/iso/debian.iso");
        struct resource *n = model_find(&set.model, KIND_NETWORK, "mv");
        assert_int_equal(n->network.mode, NET_MACVTAP);
        assert_int_equal(n->network.macvtap_mode, MACVTAP_VEPA);
        struct resource *s = model_find(&set.model, KIND_SERVICE, "web");
        assert_int_equal(s->service.n_reals, 2);
        assert_int_equal(s->service.reals[1].forwarding, FWD_ROUTE);
        assert_int_equal(s->service.persistence, 300);
        struct resource *ip = model_find(&set.model, KIND_IPSET, "blocklist");
        assert_int_equal(ip->ipset.entries.n, 2);
        assert_int_equal(ip->ipset.maxelem, 262144);
}

static void test_defaults(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nbridges:\n  br0: {}\n  br1:\n"), "");
        struct resource *br = model_find(&set.model, KIND_BRIDGE, "br1");
        assert_true(br->link.up);
        assert_false(br->link.stp);
        assert_int_equal(br->link.forward_delay, 15);
        assert_false(br->set & LINK_F_ADDRESSES); /* omitted: unmanaged */
}

/* Network mode, IPVS protocol and forwarding are defaulted once, here, and a
 * real server's forwarding is its service's unless it has its own, whatever
 * the order of the keys: backends read the fields as they are. The set bits
 * still say what the manifest declared. */
static void test_defaults_at_parse_time(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nnetworks:\n  lab: {}\nservices:\n"
                                  "  web:\n    address: 192.0.2.10\n    port: 80\n    reals:\n"
                                  "      - { address: 192.0.2.11, port: 80 }\n"
                                  "      - { address: 192.0.2.12, port: 80, forwarding: tunnel }\n"
                                  "    forwarding: route\n"
                                  "  plain: { address: 192.0.2.20, port: 80, reals: [ { address: 192.0.2.21, port: 80 } ] }\n"),
                            "");
        struct resource *n = model_find(&set.model, KIND_NETWORK, "lab");
        assert_int_equal(n->network.mode, NET_NAT);
        assert_false(n->set & NET_F_MODE);
        struct resource *s = model_find(&set.model, KIND_SERVICE, "web");
        assert_int_equal(s->service.protocol, PROTO_TCP);
        assert_false(s->set & SVC_F_PROTOCOL);
        assert_int_equal(s->service.reals[0].forwarding, FWD_ROUTE); /* the service's, given after reals */
        assert_false(s->service.reals[0].set & REAL_F_FORWARDING);
        assert_int_equal(s->service.reals[1].forwarding, FWD_TUNNEL);
        s = model_find(&set.model, KIND_SERVICE, "plain");
        assert_int_equal(s->service.forwarding, FWD_MASQ);
        assert_int_equal(s->service.reals[0].forwarding, FWD_MASQ);
}

static void test_errors_positions(void **state) {
        (void) state;
        assert_first_error("version: 1\nvlans:\n  v5: { link: eth0, id: 5000 }\n",
                           "m.yaml:3:25: error: vlan id 5000 out of range 1..4094");
}

static void test_error_unknown_key(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0:\n    mtuu: 1500\n",
                           "m.yaml:4:5: error: unknown key \"mtuu\" in bridge br0");
}

static void test_error_wrong_type(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0:\n    mtu: [1500]\n",
                           "m.yaml:4:10: error: mtu: expected an integer");
        parse("version: 1\nbridges:\n  br1:\n    stp: yes\n");
        assert_non_null(strstr(errs, "m.yaml:4:10: error: stp: expected true or false"));
}

static void test_error_mtu_range(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0: { mtu: 67 }\n",
                           "m.yaml:3:15: error: mtu 67 out of range 68..65535");
}

static void test_error_prefix(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0: { addresses: [192.0.2.1/33] }\n",
                           "m.yaml:3:22: error: addresses: prefix length in \"192.0.2.1/33\" out of range 0..32");
}

static void test_error_address_needs_prefix(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0: { addresses: [192.0.2.1] }\n",
                           "m.yaml:3:22: error: addresses: \"192.0.2.1\" needs a prefix length (ADDRESS/PREFIX)");
}

static void test_error_bad_address(void **state) {
        (void) state;
        assert_first_error("version: 1\nethernets:\n  eth0: { addresses: [\"2001:db8::zz/64\"] }\n",
                           "m.yaml:3:23: error: addresses: bad address \"2001:db8::zz/64\"");
}

static void test_error_bad_mac(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0: { mac: \"52:54:00:aa:bb\" }\n",
                           "m.yaml:3:15: error: mac: bad MAC address \"52:54:00:aa:bb\": expected xx:xx:xx:xx:xx:xx");
}

static void test_error_bad_size(void **state) {
        (void) state;
        assert_first_error("version: 1\npools:\n  p:\n    type: dir\n    volumes:\n      v: { capacity: 10Q }\n",
                           "m.yaml:6:22: error: capacity: bad size \"10Q\": expected a whole number with K, M, G, T (or KiB .. "
                           "TiB), KB .. TB (powers of 1000) or B");
}

static void test_error_bad_ifname(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  this-name-is-too-long: {}\n",
                           "m.yaml:3:3: error: bad interface name \"this-name-is-too-long\": 1-15 bytes, no '/', ':' or white space");
        assert_first_error("version: 1\nbridges:\n  br0: { interfaces: [\"eth 0\"] }\n",
                           "m.yaml:3:23: error: bad interface name \"eth 0\" for interfaces: 1-15 bytes, no '/', ':' or white space");
}

static void test_error_duplicate_key(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0:\n    mtu: 1500\n    mtu: 9000\n",
                           "m.yaml:5:5: error: duplicate key \"mtu\" in bridge br0 (first at 4:5)");
}

static void test_error_duplicate_name_across_files(void **state) {
        (void) state;
        manifest_parse_buffer(&set, "a.yaml", "version: 1\nbridges:\n  br0: {}\n", 29, "kvm1");
        assert_first_error("version: 1\nvlans:\n  br0: { link: eth0, id: 3 }\n",
                           "m.yaml:3:3: error: vlan br0 is already defined as bridge at a.yaml:3:3");
}

static void test_error_yaml_syntax(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0: { mtu: 1500\n",
                           "m.yaml:4:1: error: YAML: did not find expected ',' or '}' while parsing a flow mapping");
}

static void test_error_version(void **state) {
        (void) state;
        assert_first_error("bridges:\n  br0: {}\n", "m.yaml:1:1: error: missing \"version: 1\"");
}

static void test_error_version_2(void **state) {
        (void) state;
        assert_first_error("version: 2\n", "m.yaml:1:10: error: unsupported version \"2\": this reconcile reads version 1");
}

static void test_error_empty_file(void **state) {
        (void) state;
        assert_first_error("", "m.yaml:1:1: error: empty manifest: missing \"version: 1\"");
}

static void test_error_undeclared_volume(void **state) {
        (void) state;
        assert_first_error("version: 1\ndomains:\n  web1:\n    memory: 1G\n    disks:\n      - { volume: images/nope }\n",
                           "m.yaml:6:9: error: domain web1: volume images/nope is not declared (declare it under pools)");
}

static void test_all_errors_reported(void **state) {
        (void) state;
        const char *out = parse("version: 1\nbridges:\n  br0: { mtu: 1, stp: maybe, what: 1 }\n"
                                "vlans:\n  v1: { link: eth0, id: 0 }\n");
        int lines = 0;
        for (const char *p = out; *p; p++)
                lines += *p == '\n';
        assert_int_equal(lines, 4);
        assert_non_null(strstr(out, "m.yaml:3:15: error: mtu 1 out of range"));
        assert_non_null(strstr(out, "m.yaml:3:23: error: stp: expected true or false"));
        assert_non_null(strstr(out, "m.yaml:3:30: error: unknown key \"what\""));
        assert_non_null(strstr(out, "m.yaml:5:25: error: vlan id 0 out of range 1..4094"));
}

static void test_host_glob(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nhost: \"web*\"\nbridges:\n  br0: {}\n"), "");
        assert_null(model_find(&set.model, KIND_BRIDGE, "br0"));
        assert_int_equal(set.n_skipped_host, 1);
        assert_string_equal(parse("version: 1\nhost: \"kvm?\"\nbridges:\n  br1: {}\n"), "");
        assert_non_null(model_find(&set.model, KIND_BRIDGE, "br1"));
}

static void test_anchors_and_aliases(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nbridges:\n  br0: &common { mtu: 9000, stp: true }\n  br1: *common\n"), "");
        assert_int_equal(model_find(&set.model, KIND_BRIDGE, "br1")->link.mtu, 9000);
}

static void test_alias_bomb(void **state) {
        (void) state;
        /* Billion laughs: 10 levels of 10 aliases each. */
        char y[4096] = "version: 1\nx0: &a0 [1,1,1,1,1,1,1,1,1,1]\n";
        for (int i = 1; i < 10; i++) {
                char line[256];
                snprintf(line, sizeof(line), "x%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n", i, i,
                         i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
                strcat(y, line);
        }
        strcat(y, "ipsets:\n  s: { type: \"hash:ip\", entries: *a9 }\n");
        const char *out = parse(y);
        assert_non_null(strstr(out, "unknown key \"x0\" at top level"));
        assert_non_null(strstr(out, "entries: expected a string") ? strstr(out, "entries: expected a string")
                                                                   : strstr(out, "alias bomb"));
}

static void test_recursive_alias(void **state) {
        (void) state;
        const char *out = parse("version: 1\nbridges:\n  br0: &x { interfaces: *x }\n");
        assert_non_null(strstr(out, "error:"));
}

static void test_nul_byte(void **state) {
        (void) state;
        static const char y[] = "version: 1\nbridges:\n  \"br\\0x\": {}\n";
        const char *out = parse(y);
        assert_non_null(strstr(out, "m.yaml:3:3: error: bad interface name"));
}

static void test_xml_hostile_names(void **state) {
        (void) state;
        assert_first_error("version: 1\nnetworks:\n  \"a<b\": { mode: nat }\n",
                           "m.yaml:3:3: error: bad network name \"a<b\": no '/', <>&'\" or control characters");
        assert_first_error("version: 1\npools:\n  p: { type: dir, path: /var/lib/../etc }\n",
                           "m.yaml:3:25: error: path: \"/var/lib/../etc\" is not an absolute path without \"..\" and <>&'\"");
}

static void test_sizes(void **state) {
        uint64_t v;
        (void) state;
        assert_int_equal(size_parse("512", &v), -EDOM); /* a bare number has no unit */
        assert_int_equal(size_parse("512B", &v), 0);
        assert_int_equal(v, 512);
        assert_int_equal(size_parse("256MiB", &v), 0);
        assert_int_equal(v, 256ull << 20);
        assert_int_equal(size_parse("2KiB", &v), 0);
        assert_int_equal(v, 2048);
        assert_int_equal(size_parse("3GiB", &v), 0);
        assert_int_equal(v, 3ull << 30);
        assert_int_equal(size_parse("1TiB", &v), 0);
        assert_int_equal(v, 1ull << 40);
        /* libvirt's KB, MB, GB, TB are powers of 1000. */
        assert_int_equal(size_parse("2KB", &v), 0);
        assert_int_equal(v, 2000);
        assert_int_equal(size_parse("5MB", &v), 0);
        assert_int_equal(v, 5000000);
        assert_int_equal(size_parse("1GB", &v), 0);
        assert_int_equal(v, 1000000000);
        assert_int_equal(size_parse("1TB", &v), 0);
        assert_int_equal(v, 1000000000000ull);
        assert_true(size_parse("1Mi", &v) < 0);
        assert_true(size_parse("1 M", &v) < 0);
        assert_true(size_parse("20000000T", &v) < 0);
        assert_int_equal(size_parse("16M", &v), 0);
        assert_int_equal(v, 16ull << 20);
        assert_int_equal(size_parse("2T", &v), 0);
        assert_int_equal(v, 2ull << 40);
        assert_true(size_parse("1.5G", &v) < 0);
        assert_true(size_parse("-1", &v) < 0);
        assert_true(size_parse("99999999999T", &v) < 0);
}

static void test_size_units_in_manifests(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\ndomains:\n  e: { memory: 256MiB, max-memory: 1GB }\n"), "");
        struct resource *r = model_find(&set.model, KIND_DOMAIN, "e");
        assert_non_null(r);
        assert_int_equal(r->domain.memory, 256ull << 20);
        assert_int_equal(r->domain.max_memory, 1000000512ull); /* 10^9 rounded up to KiB, as libvirt keeps it */
        assert_first_error("version: 1\ndomains:\n  d: { memory: 256 }\n",
                           "m.yaml:3:16: error: memory: 256 has no unit: write 256M for MiB (or K, G, T; B for bytes)");
}

static void test_max_memory_below_memory_names_both(void **state) {
        (void) state;
        assert_first_error("version: 1\ndomains:\n  d: { memory: 2G, max-memory: 1G }\n",
                           "m.yaml:3:32: error: domain d: max-memory 1G is below memory 2G");
}

static void test_domain_name_limit(void **state) {
        (void) state;
        char y[400], name[260];
        memset(name, 'a', 251);
        name[251] = '\0';
        snprintf(y, sizeof(y), "version: 1\ndomains:\n  %s: { memory: 1G }\n", name);
        assert_string_equal(parse(y), "");
        name[251] = 'b';
        name[252] = '\0';
        snprintf(y, sizeof(y), "version: 1\ndomains:\n  %s: { memory: 1G }\n", name);
        assert_first_error(y, "m.yaml:3:3: error: domain name is 252 bytes: at most 251 (libvirt stores the domain as "
                              "NAME.xml, and a file name holds 255 bytes)");
}

static void test_network_clashes(void **state) {
        (void) state;
        assert_first_error("version: 1\nnetworks:\n  a: { address: 10.0.0.1/24 }\n  b: { address: 10.0.0.129/25 }\n",
                           "m.yaml:4:17: error: network b: address 10.0.0.129/25 overlaps 10.0.0.1/24 of network a at m.yaml:3:3");
        assert_first_error("version: 1\nnetworks:\n  c: { bridge: virbr7 }\n  d: { mode: isolated, bridge: virbr7 }\n",
                           "m.yaml:4:32: error: network d: bridge virbr7 is also the bridge of network c at m.yaml:3:3");
        /* Two networks of mode bridge on one host bridge are fine: neither makes it. */
        assert_string_equal(parse("version: 1\nnetworks:\n  e: { mode: bridge, bridge: br0 }\n  f: { mode: bridge, bridge: br0 }\n"
                                  "  g: { address: 10.1.0.1/24 }\n"), errs ? errs : "");
        assert_null(strstr(errs ? errs : "", "network f"));
        assert_null(strstr(errs ? errs : "", "network g"));
}

static void test_shareable_volume(void **state) {
        (void) state;
        const char *pool = "version: 1\npools:\n  p: { type: dir, path: /x, volumes: { v: { capacity: 1G } } }\ndomains:\n";
        char y[512];
        snprintf(y, sizeof(y), "%s  d: { memory: 1G, disks: [ { volume: p/v, shareable: true } ] }\n"
                               "  e: { memory: 1G, disks: [ { volume: p/v } ] }\n", pool);
        assert_first_error(y, "m.yaml:6:29: error: domain e: volume p/v is also a disk of domain d at m.yaml:5:29; a volume "
                              "two domains write needs shareable: true on both disks");
}

static void test_shareable_volume_both(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\npools:\n  p: { type: dir, path: /x, volumes: { v: { capacity: 1G } } }\ndomains:\n"
                                  "  d: { memory: 1G, disks: [ { volume: p/v, shareable: true } ] }\n"
                                  "  e: { memory: 1G, disks: [ { volume: p/v, shareable: true } ] }\n"),
                            "");
        struct resource *r = model_find(&set.model, KIND_DOMAIN, "e");
        assert_non_null(r);
        assert_true(r->domain.disks[0].shareable);
}

/* A pool declared whole in one file, its volumes extended from another, in either order. */
static void test_pool_volumes_across_files(void **state) {
        (void) state;
        const char *ext = "version: 1\npools:\n  images: { volumes: { extra: { capacity: 2G } } }\n"
                          "domains:\n  d: { memory: 1G, disks: [ { volume: images/extra } ] }\n";
        const char *full = "version: 1\npools:\n  images: { type: dir, path: /var/x, volumes: { base: { capacity: 1G } } }\n";
        assert_int_equal(manifest_parse_buffer(&set, "a.yaml", ext, strlen(ext), "kvm1"), 0);
        assert_int_equal(manifest_parse_buffer(&set, "b.yaml", full, strlen(full), "kvm1"), 0);
        assert_int_equal(manifests_validate(&set), 0);
        assert_non_null(model_find(&set.model, KIND_POOL, "images"));
        assert_non_null(model_find(&set.model, KIND_VOLUME, "images/extra"));
        assert_non_null(model_find(&set.model, KIND_VOLUME, "images/base"));
        /* A volume declared twice is still an error, naming the first. */
        const char *again = "version: 1\npools:\n  images: { volumes: { base: { capacity: 2G } } }\n";
        assert_true(manifest_parse_buffer(&set, "c.yaml", again, strlen(again), "kvm1") < 0);
        fflush(errs_f);
        assert_non_null(strstr(errs, "c.yaml:3:24: error: volume images/base is already defined as volume at b.yaml:3:49"));
}

static void test_pool_volumes_without_pool(void **state) {
        (void) state;
        assert_first_error("version: 1\npools:\n  p: { volumes: { v: { capacity: 1G } } }\n",
                           "m.yaml:3:19: error: volume p/v: pool p is declared nowhere (an entry with only volumes adds "
                           "to a pool declared with its type in another file)");
}

static void test_load_directory(void **state) {
        char dir[] = "/tmp/rct-unit-XXXXXX";
        (void) state;
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/b.yaml", dir);
        FILE *f = fopen(path, "w");
        fputs("version: 1\nbridges:\n  br1: {}\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/a.yml", dir);
        f = fopen(path, "w");
        fputs("version: 1\nbridges:\n  br0: {}\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/notes.txt", dir);
        f = fopen(path, "w");
        fputs("not yaml: [", f);
        fclose(f);
        assert_int_equal(manifests_load(dir, "kvm1", false, &set), 0);
        assert_int_equal(set.model.n, 2);
        assert_string_equal(set.model.v[0]->name, "br0"); /* a.yml is read first */
        assert_int_equal(strlen(set.digest), 16);
        /* A symlinked manifest is refused: it could point outside the reviewed directory. */
        snprintf(path, sizeof(path), "%s/c.yaml", dir);
        assert_int_equal(symlink("/etc/hostname", path), 0);
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        assert_true(manifests_load(dir, "kvm1", false, &set) < 0);
        fflush(errs_f);
        assert_non_null(strstr(errs, "c.yaml: manifests must be regular files, not symlinks"));
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_host_network_kinds(void **state) {
        (void) state;
        const char *y = "version: 1\n"
                        "ethernets:\n  eth0: {}\n  eth1: {}\n"
                        "bonds:\n  bond0: { interfaces: [eth0, eth1], mode: 802.3ad, miimon: 100, lacp-rate: fast,"
                        " xmit-hash-policy: layer3+4 }\n"
                        "bridges:\n  br-mgmt: { interfaces: [bond0], addresses: [192.0.2.10/24, \"2001:db8::10/64\"] }\n"
                        "  br-ov: { interfaces: [vx100] }\n"
                        "vxlans:\n  vx100: { vni: 100, local: 192.0.2.10, remote: 192.0.2.20 }\n"
                        "macvtaps:\n  mvt0: { link: eth1, mode: passthru }\n"
                        "veths:\n  ve0: { peer: ve1, peer-netns: guest }\n"
                        "taps:\n  tap0: { owner: \"107\", group: \"0\", multi-queue: true }\n"
                        "routes:\n  default: { to: default, via: 192.0.2.1 }\n"
                        "  six: { to: default, via: \"2001:db8::1\" }\n"
                        "  hole: { to: 10.0.0.0/8, type: blackhole, table: 100, metric: 5 }\n"
                        "sysctls:\n  net.ipv4.ip_forward: 1\n  net.ipv4.ip_local_port_range: \"20000 \\t 40000\"\n";
        assert_string_equal(parse(y), "");
        struct resource *b = model_find(&set.model, KIND_BOND, "bond0");
        assert_int_equal(b->kind, KIND_BOND);
        assert_int_equal(b->link.mode, BOND_8023AD);
        assert_int_equal(b->link.lacp_rate, LACP_FAST);
        assert_int_equal(b->link.xmit_hash, XMIT_LAYER34);
        assert_int_equal(b->link.interfaces.n, 2);
        struct resource *vx = model_find(&set.model, KIND_VXLAN, "vx100");
        assert_int_equal(vx->link.vni, 100);
        assert_int_equal(vx->link.port, 4789); /* IANA's, not the kernel's 8472 */
        assert_true(vx->link.learning);
        /* Its local address lives on br-mgmt: an implied order. */
        assert_string_equal(vx->link.local_dev, "br-mgmt");
        struct resource *mvt = model_find(&set.model, KIND_MACVTAP, "mvt0");
        assert_int_equal(mvt->link.mode, MVLAN_PASSTHRU);
        struct resource *ve = model_find(&set.model, KIND_VETH, "ve0");
        assert_string_equal(ve->link.peer, "ve1");
        assert_string_equal(ve->link.peer_netns, "guest");
        struct resource *tap = model_find(&set.model, KIND_TAP, "tap0");
        assert_int_equal(tap->link.owner, 107);
        assert_true(tap->set & LINK_F_GROUP_ID);
        assert_true(tap->link.multi_queue);
        struct resource *r4 = model_find(&set.model, KIND_ROUTE, "default");
        assert_int_equal(r4->route.to.family, AF_INET);
        assert_int_equal(r4->route.table, 254);
        assert_int_equal(r4->route.metric, 0);
        assert_string_equal(r4->route.via_dev, "br-mgmt"); /* the gateway's subnet is on br-mgmt */
        struct resource *r6 = model_find(&set.model, KIND_ROUTE, "six");
        assert_int_equal(r6->route.to.family, AF_INET6); /* "default" follows via */
        assert_int_equal(r6->route.metric, 1024);       /* the kernel's IPv6 default */
        struct resource *hole = model_find(&set.model, KIND_ROUTE, "hole");
        assert_int_equal(hole->route.type, ROUTE_BLACKHOLE);
        assert_int_equal(hole->route.table, 100);
        assert_int_equal(hole->route.to.prefix, 8);
        struct resource *fw = model_find(&set.model, KIND_SYSCTL, "net.ipv4.ip_forward");
        assert_string_equal(fw->sysctl.value, "1");
        struct resource *range = model_find(&set.model, KIND_SYSCTL, "net.ipv4.ip_local_port_range");
        assert_string_equal(range->sysctl.value, "20000 40000");
        /* Links share one name space across their sections. */
        assert_ptr_equal(model_find(&set.model, KIND_ETHERNET, "vx100"), vx);
}

static void test_host_network_errors(void **state) {
        (void) state;
        assert_first_error("version: 1\nvxlans:\n  vx0: { vni: 1, group: 192.0.2.1, dev: eth0 }\n",
                           "m.yaml:3:3: error: vxlan vx0: group must be a multicast address");
        assert_first_error("version: 1\nroutes:\n  r: { to: 10.0.0.1/8, via: 192.0.2.1 }\n",
                           "m.yaml:3:12: error: to: \"10.0.0.1/8\" has host bits set beyond /8");
        assert_first_error("version: 1\nsysctls:\n  dev.tty.ldisc_autoload: 1\n",
                           "m.yaml:3:3: error: sysctls: bad key \"dev.tty.ldisc_autoload\": only net., vm., kernel. and fs. "
                           "keys of letters, digits, _ - / and single dots");
        assert_first_error("version: 1\nbonds:\n  b0: { mode: balance-rr, lacp-rate: slow }\n",
                           "m.yaml:3:3: error: bond b0: lacp-rate needs mode 802.3ad");
}

/* A bond gives its MTU to its members: without one it takes theirs, against theirs it is an error. */
static void test_bond_member_mtu(void **state) {
        (void) state;
        const char *out = parse("version: 1\nethernets:\n  eth0: { mtu: 9000 }\n  eth1: {}\n"
                                "bonds:\n  bond0: { interfaces: [eth0, eth1] }\n");
        assert_string_equal(out, "");
        const struct resource *b = model_find(&set.model, KIND_BOND, "bond0");
        assert_non_null(b);
        assert_true(b->set & LINK_F_MTU);
        assert_int_equal(b->link.mtu, 9000);
}

static void test_error_bond_member_mtu(void **state) {
        (void) state;
        assert_first_error("version: 1\nethernets:\n  eth0: { mtu: 1500 }\n"
                           "bonds:\n  bond0: { interfaces: [eth0], mtu: 9000 }\n",
                           "m.yaml:3:3: error: ethernet eth0: mtu 1500 cannot hold: bond bond0 gives its members its "
                           "own MTU, 9000");
}

static void test_error_bond_members_disagree(void **state) {
        (void) state;
        assert_first_error("version: 1\nethernets:\n  eth0: { mtu: 9000 }\n  eth1: { mtu: 1500 }\n"
                           "bonds:\n  bond0: { interfaces: [eth0, eth1] }\n",
                           "m.yaml:4:3: error: ethernet eth1: mtu 1500 cannot hold: bond bond0 gives its members its "
                           "own MTU, 9000, taken from eth0");
}

static void test_error_vlan_above_parent(void **state) {
        (void) state;
        assert_first_error("version: 1\nbridges:\n  br0: { mtu: 1500 }\n"
                           "vlans:\n  v10: { link: br0, id: 10, mtu: 9000 }\n",
                           "m.yaml:5:3: error: vlan v10: mtu 9000 is above the mtu of its parent br0, 1500 (the kernel "
                           "refuses it)");
}

/* Every set type takes entries in the spelling `ipset save` prints, and only those. */
static void test_ipset_entries_every_type(void **state) {
        (void) state;
        const char *y = "version: 1\nipsets:\n"
                        "  a: { type: bitmap:ip, range: 10.0.0.0-10.0.0.255, entries: [10.0.0.1] }\n"
                        "  b: { type: \"bitmap:ip,mac\", range: 10.0.0.0-10.0.0.255, entries: [\"10.0.0.1,52:54:00:AA:BB:CC\", 10.0.0.2] }\n"
                        "  c: { type: bitmap:port, range: 1-1024, entries: [22, 80] }\n"
                        "  d: { type: hash:ip, family: inet6, entries: [\"2001:db8::1\", \"::ffff:1.2.3.4\"] }\n"
                        "  e: { type: hash:mac, entries: [\"52:54:00:AA:BB:CC\"] }\n"
                        "  f: { type: \"hash:ip,mac\", entries: [\"10.0.0.1,52:54:00:AA:BB:CC\"] }\n"
                        "  g: { type: \"hash:ip,mark\", entries: [\"10.0.0.1,0x0000002a\"] }\n"
                        "  h: { type: hash:net, hashsize: 1024, entries: [10.0.0.0/8, 10.1.2.3] }\n"
                        "  i: { type: \"hash:net,net\", entries: [\"10.0.0.0/8,192.168.0.0/16\"] }\n"
                        "  j: { type: \"hash:ip,port\", entries: [\"10.0.0.1,tcp:80\", \"10.0.0.1,udp:53\", \"10.0.0.1,sctp:9\", \"10.0.0.1,udplite:7\"] }\n"
                        "  k: { type: \"hash:net,port\", family: inet6, entries: [\"2001:db8::/32,tcp:443\"] }\n"
                        "  l: { type: \"hash:ip,port,ip\", entries: [\"10.0.0.1,tcp:80,10.0.0.2\"] }\n"
                        "  m: { type: \"hash:ip,port,net\", entries: [\"10.0.0.1,tcp:80,10.0.0.0/24\"] }\n"
                        "  n: { type: \"hash:net,port,net\", entries: [\"10.0.0.0/8,udp:53,10.1.0.0/16\"] }\n"
                        "  o: { type: \"hash:net,iface\", entries: [\"10.0.0.0/8,eth0\", \"10.0.0.0/8,physdev:eth1\"] }\n"
                        "  p: { type: list:set, entries: [a, h] }\n";
        assert_string_equal(parse(y), "");
        assert_int_equal(set.model.n, 16);
        struct resource *b = model_find(&set.model, KIND_IPSET, "b");
        assert_non_null(b);
        assert_int_equal(b->ipset.entries.n, 2);
        assert_string_equal(b->ipset.type, "bitmap:ip,mac");
}

static void test_ipset_entry_errors(void **state) {
        (void) state;
        assert_first_error("version: 1\nipsets:\n  s1: { type: hash:ip, entries: [10.0.0.1, example.com] }\n",
                           "m.yaml:3:44: error: ipset s1: entry \"example.com\" is not a single address (names are never resolved)");
        assert_first_error("version: 1\nipsets:\n  s2: { type: hash:net, entries: [10.0.0.1/8] }\n",
                           "m.yaml:3:35: error: ipset s2: entry \"10.0.0.1/8\" is not in the kernel's form: write 10.0.0.0/8");
        assert_first_error("version: 1\nipsets:\n  s3: { type: hash:ip, family: inet6, entries: [\"2001:DB8::0:1\"] }\n",
                           "m.yaml:3:49: error: ipset s3: entry \"2001:DB8::0:1\" is not in the kernel's form: write 2001:db8::1");
        assert_first_error("version: 1\nipsets:\n  s4: { type: \"hash:ip,port\", entries: [\"10.0.0.1,80\"] }\n",
                           "m.yaml:3:41: error: ipset s4: entry \"10.0.0.1,80\" is not in the kernel's form: write 10.0.0.1,tcp:80");
        assert_first_error("version: 1\nipsets:\n  s5: { type: hash:mac, entries: [\"52:54:00:aa:bb:cc\"] }\n",
                           "m.yaml:3:35: error: ipset s5: entry \"52:54:00:aa:bb:cc\" is not in the kernel's form: write "
                           "52:54:00:AA:BB:CC");
        assert_first_error("version: 1\nipsets:\n  s6: { type: hash:ipv4 }\n",
                           "m.yaml:3:15: error: type: expected one of bitmap:ip, bitmap:ip,mac, bitmap:port, hash:ip, hash:mac, "
                           "hash:ip,mac, hash:ip,mark, hash:net, hash:net,net, hash:ip,port, hash:net,port, hash:ip,port,ip, "
                           "hash:ip,port,net, hash:net,port,net, hash:net,iface, list:set");
        assert_first_error("version: 1\nipsets:\n  s7: { type: hash:mac, family: inet6 }\n",
                           "m.yaml:3:33: error: ipset s7: type hash:mac has no family");
        assert_first_error("version: 1\nipsets:\n  s8: { type: bitmap:ip, range: 192.168.0.0/24 }\n",
                           "m.yaml:3:33: error: ipset s8: range \"192.168.0.0/24\" is not in the kernel's form: write "
                           "192.168.0.0-192.168.0.255");
        assert_first_error("version: 1\nipsets:\n  s9: { type: hash:ip, hashsize: 1000 }\n",
                           "m.yaml:3:34: error: ipset s9: the kernel rounds hashsize up to a power of two: write 1024");
}

/* Every bad entry is reported, each at its own list element. */
static void test_ipset_every_bad_entry_reported(void **state) {
        (void) state;
        const char *e = parse("version: 1\nipsets:\n  s:\n    type: hash:ip\n    entries:\n      - 10.0.0.1\n"
                              "      - host.example\n      - 10.0.0.0/8\n");
        assert_non_null(strstr(e, "m.yaml:7:9: error: ipset s: entry \"host.example\""));
        assert_non_null(strstr(e, "m.yaml:8:9: error: ipset s: entry \"10.0.0.0/8\""));
        assert_null(model_find(&set.model, KIND_IPSET, "s"));
}

static void test_enum_words_checked_at_parse(void **state) {
        (void) state;
        for (int i = 0; i < ipvs_sched_table.n; i++) {
                char y[200];
                snprintf(y, sizeof(y), "version: 1\nservices:\n  s%d: { address: 192.0.2.1, port: %d, scheduler: %s }\n", i,
                         80 + i, enum_to_string(&ipvs_sched_table, i));
                assert_string_equal(parse(y), "");
        }
        assert_first_error("version: 1\nservices:\n  x: { address: 192.0.2.1, port: 80, scheduler: round-robin }\n",
                           "m.yaml:3:49: error: scheduler: expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, "
                           "ovf, mh, twos");
        assert_first_error("version: 1\npools:\n  p: { type: nfs }\n",
                           "m.yaml:3:14: error: type: expected one of dir, fs, netfs, logical, disk, iscsi, mpath, rbd, sheepdog, "
                           "gluster, zfs, vstorage");
        assert_first_error("version: 1\npools:\n  q: { type: netfs, path: /mnt/q }\n",
                           "m.yaml:3:3: error: pool q: type netfs needs host, source");
        assert_first_error("version: 1\nnetworks:\n  n: { address: 10.0.0.1/24, dhcp: { start: 10.0.1.2, end: 10.0.1.9 } }\n",
                           "m.yaml:3:36: error: network n: dhcp start and end must lie in 10.0.0.1/24");
        assert_first_error("version: 1\nservices:\n  y: { address: 192.0.2.1, port: 81, persistence: 9, netmask: 255.0.255.0 }\n",
                           "m.yaml:3:63: error: service y: netmask 255.0.255.0 is not contiguous");
}

/* A port or parent is known by where the manifest names it, for errors about it. */
static void test_reference_positions(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nbridges:\n  br0:\n    interfaces: [eth0,\n      eth1]\n"
                                  "vlans:\n  v5: { link: eth2, id: 5 }\n"),
                            "");
        struct resource *br = model_find(&set.model, KIND_BRIDGE, "br0");
        struct resource *v = model_find(&set.model, KIND_VLAN, "v5");
        const struct srcpos *p = resource_ref_pos(br, "eth1");
        assert_int_equal(p->line, 5);
        assert_int_equal(p->col, 7);
        p = resource_ref_pos(br, "eth0");
        assert_int_equal(p->line, 4);
        assert_int_equal(p->col, 18);
        p = resource_ref_pos(v, "eth2");
        assert_int_equal(p->line, 7);
        assert_int_equal(p->col, 15);
        p = resource_ref_pos(v, "nothing");
        assert_int_equal(p->line, 7);
        assert_int_equal(p->col, 3);
}

/* 100,000 nested flow sequences took 41 s of CPU in libyaml's loader. */
static void test_deep_nesting_refused_fast(void **state) {
        (void) state;
        size_t n = 100000;
        char *y = malloc(2 * n + 64);
        assert_non_null(y);
        int h = sprintf(y, "version: 1\nbridges:\n  br0: ");
        memset(y + h, '[', n);
        memset(y + h + n, ']', n);
        strcpy(y + h + 2 * n, "\n");
        clock_t t0 = clock();
        assert_first_error(y, "m.yaml:3:70: error: YAML: nested deeper than 64 levels");
        assert_true(clock() - t0 < CLOCKS_PER_SEC / 2);
        free(y);
        assert_first_error("version: 1\nbridges:\n  br0:\n    - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - "
                           "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x\n",
                           "m.yaml:4:129: error: YAML: nested deeper than 64 levels");
}

/* The digest names a revision in holds and logs: the same bytes keep the same
 * digest across versions of reconcile. */
static void test_digest_pinned(void **state) {
        (void) state;
        const char *a = "version: 1\nbridges:\n  br0: {}\n", *b = "version: 1\nbridges:\n  br1: {}\n";
        assert_int_equal(manifest_parse_buffer(&set, "a.yaml", a, strlen(a), "kvm1"), 0);
        assert_string_equal(set.digest, "bec462f1a945039e");
        assert_int_equal(manifest_parse_buffer(&set, "b.yaml", b, strlen(b), "kvm1"), 0);
        assert_string_equal(set.digest, "5229430acc740d16");
}

/* The manifest is read as a stream of events: what decides whether the
 * sections count (version:, host:, the YAML as a whole) may come after them,
 * and then their errors and resources are dropped as if they had never been
 * walked. */
static void test_stream_version_and_host_after_sections(void **state) {
        (void) state;
        assert_string_equal(parse("bridges:\n  br0: { mtu: 1 }\nversion: 2\n"),
                            "m.yaml:3:10: error: unsupported version \"2\": this reconcile reads version 1\n");
        assert_int_equal(diag_error_count(), 1);
        assert_null(model_find(&set.model, KIND_BRIDGE, "br0"));
        fflush(errs_f);
        size_t before = errs_len;
        assert_string_equal(parse("bridges:\n  br1: { mtu: 1 }\n  br2: {}\n") + before, "m.yaml:1:1: error: missing \"version: 1\"\n");
        assert_int_equal(diag_error_count(), 2);
        assert_null(model_find(&set.model, KIND_BRIDGE, "br2"));
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br3: { mtu: 1 }\n  br4: {}\nhost: \"web*\"\n") + before, "");
        assert_int_equal(set.n_skipped_host, 1);
        assert_null(model_find(&set.model, KIND_BRIDGE, "br4"));
        assert_int_equal(diag_error_count(), 2);
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br5: {}\nhost: \"kvm*\"\n") + before, "");
        assert_non_null(model_find(&set.model, KIND_BRIDGE, "br5"));
}

static void test_stream_yaml_error_after_sections(void **state) {
        (void) state;
        /* A syntax error anywhere in the file is its one error. */
        assert_string_equal(parse("version: 1\nbridges:\n  br0: { mtu: 1 }\n  br1: {}\n  br2: { mtu: 1500\n"),
                            "m.yaml:6:1: error: YAML: did not find expected ',' or '}' while parsing a flow mapping\n");
        assert_null(model_find(&set.model, KIND_BRIDGE, "br1"));
        assert_int_equal(diag_error_count(), 1);
        fflush(errs_f);
        size_t before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br3: { mtu: 1 }\n  br4: *nope\n") + before,
                            "m.yaml:4:8: error: YAML: found undefined alias\n");
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br5: &a { mtu: 1500 }\n  br6: &a { mtu: 9000 }\n") + before,
                            "m.yaml:4:8: error: YAML: second occurrence found duplicate anchor; first occurrence\n");
        /* The limits too, even past a second document. */
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br7: { mtu: 1 }\n---\nx: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                                  "[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n") +
                                    before,
                            "m.yaml:5:67: error: YAML: nested deeper than 64 levels\n");
        assert_null(model_find(&set.model, KIND_BRIDGE, "br3"));
        assert_null(model_find(&set.model, KIND_BRIDGE, "br5"));
        assert_null(model_find(&set.model, KIND_BRIDGE, "br7"));
        assert_int_equal(diag_error_count(), 4);
}

/* A second document is an error once the first has none; its own alias
 * errors are libyaml's loader's, in its words. */
static void test_stream_second_document(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\n---\nx: 1\n"),
                            "m.yaml:3:1: error: a manifest holds one YAML document; found a second\n");
        fflush(errs_f);
        size_t before = errs_len;
        assert_string_equal(parse("version: 1\n---\nx: *nope\n") + before, "m.yaml:3:4: error: YAML: found undefined alias\n");
        before = errs_len;
        assert_string_equal(parse("version: 1\n---\nx: &a 1\ny: &a 2\n") + before, "m.yaml:4:4: error: YAML: second occurrence\n");
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br0: { mtu: 1 }\n---\nx: *nope\n") + before,
                            "m.yaml:3:15: error: mtu 1 out of range 68..65535\n");
}

/* An alias reads as the value it names, errors at that value's place; a key
 * may be an alias; an alias to a value that holds it is refused. */
static void test_stream_alias_values(void **state) {
        (void) state;
        assert_string_equal(parse("version: 1\nbridges:\n  br0: &c { mtu: 1 }\n  br1: *c\n"),
                            "m.yaml:3:18: error: mtu 1 out of range 68..65535\n"
                            "m.yaml:3:18: error: mtu 1 out of range 68..65535\n");
        fflush(errs_f);
        size_t before = errs_len;
        assert_string_equal(parse("version: 1\nx: &k bridges\n*k :\n  br2: {}\n") + before,
                            "m.yaml:2:1: error: unknown key \"x\" at top level\n");
        assert_non_null(model_find(&set.model, KIND_BRIDGE, "br2"));
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br3: &o { interfaces: &i [a0, a1] }\n  br4: { interfaces: *i }\n"
                                  "  br5: *o\n") + before,
                            "");
        assert_int_equal(model_find(&set.model, KIND_BRIDGE, "br4")->link.interfaces.n, 2);
        assert_string_equal(model_find(&set.model, KIND_BRIDGE, "br5")->link.interfaces.v[1], "a1");
        before = errs_len;
        assert_string_equal(parse("version: 1\nbridges:\n  br6: &x { interfaces: *x }\n  br7: { mtu: 1 }\n") + before,
                            "m.yaml:3:25: error: alias *x names a value that contains it\n"
                            "m.yaml:4:15: error: mtu 1 out of range 68..65535\n");
        /* ... an error of the walk: a missing version still says all. */
        before = errs_len;
        assert_string_equal(parse("bridges: &r\n  br8: *r\n") + before, "m.yaml:1:1: error: missing \"version: 1\"\n");
        /* Not walked into (an unknown key's value): only the unknown key. */
        before = errs_len;
        assert_string_equal(parse("version: 1\nbogus: &r [ *r ]\n") + before, "m.yaml:2:1: error: unknown key \"bogus\" at top level\n");
}

/* A long list goes straight into its array, and each item keeps its own
 * place: an error in entry 99,999 of 100,000 is reported at its line. */
static char *long_set(size_t n, size_t bad, const char *bad_entry) {
        char *y = malloc(n * 32 + 128), *p = y;
        assert_non_null(y);
        p += sprintf(p, "version: 1\nipsets:\n  s:\n    type: hash:ip\n    maxelem: 262144\n    entries:\n");
        for (size_t i = 0; i < n; i++) {
                if (i + 1 == bad)
                        p += sprintf(p, "      - %s\n", bad_entry);
                else
                        p += sprintf(p, "      - 10.%zu.%zu.%zu\n", i / 62500, i / 250 % 250, i % 250 + 1);
        }
        return y;
}

static void test_long_list_positions(void **state) {
        (void) state;
        char *y = long_set(100000, 0, NULL);
        assert_string_equal(parse(y), "");
        free(y);
        struct resource *s = model_find(&set.model, KIND_IPSET, "s");
        assert_non_null(s);
        assert_int_equal(s->ipset.entries.n, 100000);
        assert_string_equal(s->ipset.entries.v[99998], "10.1.149.249");
        manifests_done(&set);
        /* The kind's check, after the whole entry */
        y = long_set(100000, 99999, "host.example");
        assert_first_error(y, "m.yaml:100005:9: error: ipset s: entry \"host.example\" is not a single address (names are never resolved)");
        free(y);
        /* The parser's own */
        y = long_set(100000, 99999, "[10.9.9.9]");
        assert_first_error(y, "m.yaml:100005:9: error: entries: expected a string");
        free(y);
        y = long_set(100000, 99999, "10.0.0.1");
        assert_first_error(y, "m.yaml:100005:9: error: entries: 10.0.0.1 listed twice");
        free(y);
        /* Addresses: duplicates found through a hash, reported at the second */
        size_t n = 50000;
        char *a = malloc(n * 24 + 128), *p = a;
        assert_non_null(a);
        p += sprintf(p, "version: 1\nbridges:\n  br0:\n    addresses:\n");
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "      - 10.%zu.%zu.1/32\n", i / 250, i % 250);
        sprintf(p, "      - 10.0.7.1/32\n");
        assert_first_error(a, "m.yaml:50005:9: error: addresses: address 10.0.7.1/32 listed twice");
        free(a);
}

/* Nesting is bounded at 64 levels, counted from the root mapping: the limit
 * is named in the error, at the collection that crosses it. */
static void test_nesting_bound(void **state) {
        (void) state;
        char y[400];
        int h = sprintf(y, "version: 1\nbridges:\n  br0: ");
        memset(y + h, '[', 62);
        memset(y + h + 62, ']', 62);
        strcpy(y + h + 124, "\n");
        assert_first_error(y, "m.yaml:3:8: error: bridge br0: expected a mapping");
        h = sprintf(y, "version: 1\nbridges:\n  br0: ");
        memset(y + h, '[', 63);
        memset(y + h + 63, ']', 63);
        strcpy(y + h + 126, "\n");
        assert_first_error(y, "m.yaml:3:70: error: YAML: nested deeper than 64 levels");
        /* 10 MB of 100,000-deep nesting: refused at the first crossing, in well under a second. */
        size_t deep = 100000, reps = 50;
        char *big = malloc(reps * (2 * deep + 8) + 64), *p = big;
        assert_non_null(big);
        p += sprintf(p, "version: 1\nbridges:\n  br0:\n");
        for (size_t i = 0; i < reps; i++) {
                p += sprintf(p, "    - ");
                memset(p, '[', deep);
                memset(p + deep, ']', deep);
                p += 2 * deep;
                *p++ = '\n';
        }
        *p = '\0';
        assert_true(strlen(big) > 10000000);
        clock_t t0 = clock();
        assert_first_error(big, "m.yaml:4:68: error: YAML: nested deeper than 64 levels");
        assert_true(clock() - t0 < CLOCKS_PER_SEC / 2);
        free(big);
}

/* A manifest file is read in pieces as the parser asks, never whole: the
 * digest and the positions are those of the same bytes parsed as one buffer,
 * also when an error stops the parser early in the file. */
static void test_file_read_in_pieces(void **state) {
        (void) state;
        char *y = long_set(20000, 19999, "host.example"), *bad = malloc(strlen(y) + 16);
        assert_non_null(bad);
        sprintf(bad, "version: 1\n[\n%s", y + 11); /* a syntax error on line 2 of 600 KB */
        const char *texts[] = { y, bad };
        const char *errors[] = { "m.yaml:20005:9: error: ipset s: entry \"host.example\" is not a single address",
                                 "m.yaml:3:1: error: YAML: could not find expected ':' while scanning a simple key" };
        for (size_t i = 0; i < 2; i++) {
                char dir[] = "/tmp/rct-unit-XXXXXX", path[300];
                assert_non_null(mkdtemp(dir));
                snprintf(path, sizeof(path), "%s/m.yaml", dir);
                FILE *f = fopen(path, "w");
                assert_non_null(f);
                fputs(texts[i], f);
                fclose(f);
                fflush(errs_f);
                size_t before = errs_len;
                assert_true(manifests_load(dir, "kvm1", false, &set) < 0);
                fflush(errs_f);
                char want[300];
                snprintf(want, sizeof(want), "%s/%s", dir, errors[i]);
                if (strncmp(errs + before, want, strlen(want)) != 0)
                        fail_msg("got %.300s\nwant %s", errs + before, want);
                char digest[17];
                memcpy(digest, set.digest, sizeof(digest));
                manifests_done(&set);
                manifest_parse_buffer(&set, "m.yaml", texts[i], strlen(texts[i]), "kvm1");
                assert_string_equal(digest, set.digest);
                manifests_done(&set);
                unlink(path);
                rmdir(dir);
        }
        free(y);
        free(bad);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* The manifests' digest (a revision in the status and the ledger) is FNV-1a
 * 64 as first written, byte by byte: the faster loop must give the same
 * value at every length and alignment, and when continued from a digest. */
static uint64_t fnv1a_reference(uint64_t h, const unsigned char *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 1099511628211ull;
        return h;
}

static void test_digest_every_length(void **state) {
        (void) state;
        unsigned char text[96];
        for (size_t i = 0; i < sizeof(text); i++)
                text[i] = (unsigned char) (i * 37 + 11); /* bytes past 0x7f too */
        for (size_t at = 0; at < 8; at++)
                for (size_t n = 0; at + n <= sizeof(text); n++) {
                        assert_int_equal(hash_fnv1a(HASH_FNV1A_SEED, text + at, n), fnv1a_reference(HASH_FNV1A_SEED, text + at, n));
                        assert_int_equal(hash_fnv1a(n, text + at, n), fnv1a_reference(n, text + at, n));
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_full_schema),
                T(test_defaults),
                T(test_defaults_at_parse_time),
                T(test_errors_positions),
                T(test_error_unknown_key),
                T(test_error_wrong_type),
                T(test_error_mtu_range),
                T(test_error_prefix),
                T(test_error_address_needs_prefix),
                T(test_error_bad_address),
                T(test_error_bad_mac),
                T(test_error_bad_size),
                T(test_size_units_in_manifests),
                T(test_max_memory_below_memory_names_both),
                T(test_domain_name_limit),
                T(test_network_clashes),
                T(test_shareable_volume),
                T(test_shareable_volume_both),
                T(test_pool_volumes_across_files),
                T(test_pool_volumes_without_pool),
                T(test_error_bad_ifname),
                T(test_error_duplicate_key),
                T(test_error_duplicate_name_across_files),
                T(test_error_yaml_syntax),
                T(test_error_version),
                T(test_error_version_2),
                T(test_error_empty_file),
                T(test_error_undeclared_volume),
                T(test_all_errors_reported),
                T(test_host_glob),
                T(test_anchors_and_aliases),
                T(test_alias_bomb),
                T(test_recursive_alias),
                T(test_nul_byte),
                T(test_xml_hostile_names),
                T(test_sizes),
                T(test_load_directory),
                T(test_host_network_kinds),
                T(test_host_network_errors),
                T(test_bond_member_mtu),
                T(test_error_bond_member_mtu),
                T(test_error_bond_members_disagree),
                T(test_error_vlan_above_parent),
                T(test_ipset_entries_every_type),
                T(test_ipset_entry_errors),
                T(test_ipset_every_bad_entry_reported),
                T(test_enum_words_checked_at_parse),
                T(test_reference_positions),
                T(test_deep_nesting_refused_fast),
                T(test_digest_pinned),
                T(test_digest_every_length),
                T(test_stream_version_and_host_after_sections),
                T(test_stream_yaml_error_after_sections),
                T(test_stream_second_document),
                T(test_stream_alias_values),
                T(test_long_list_positions),
                T(test_nesting_bound),
                T(test_file_read_in_pieces),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
