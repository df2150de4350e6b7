/* Disks from what the host has and volumes from cloud images (issue 17
 * points 4-5): each rendered XML element and its parse back, the SHA-256 and
 * the image probe, the manifest checks, and plan and apply against libvirt's
 * in-process test:///default driver (kept alive by one connection). */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../backends/backends.h"
#include "../../backends/image.h"
#include "../../parsers/parsers.h"
#include "fake-backends.h"
#include "libvirt-harness.h"

static void expect_manifest_error(const char *yaml, const char *msg) {
        lvh_errs_reset();
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        int r = manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        if (r >= 0)
                r = manifests_validate(&set);
        fflush(errs_f);
        if (r >= 0 || !errs || !strstr(errs, msg))
                fail_msg("expected \"%s\", got: %s", msg, errs ? errs : "");
}

static void write_file(const char *path, const void *data, size_t n) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

/* A qcow2 header's magic and version: what the probe reads. */
static void write_qcow2(const char *path) {
        static const unsigned char head[8] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
        write_file(path, head, sizeof(head));
}

static void test_sha256_vectors(void **state) {
        (void) state;
        static const struct { const char *in; const char *hex; } v[] = {
                { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
                { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
                { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        };
        char out[65];
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                struct sha256 c;
                sha256_init(&c);
                sha256_update(&c, v[i].in, strlen(v[i].in));
                sha256_hex(&c, out);
                assert_string_equal(out, v[i].hex);
        }
        /* A million 'a's, fed in pieces that straddle the 64-byte blocks. */
        struct sha256 c;
        sha256_init(&c);
        char a[1000];
        memset(a, 'a', sizeof(a));
        for (int i = 0; i < 1000; i++)
                sha256_update(&c, a, sizeof(a));
        sha256_hex(&c, out);
        assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        /* A file's digest is its content's. */
        char path[96];
        snprintf(path, sizeof(path), "%s/abc", dir);
        write_file(path, "abc", 3);
        assert_int_equal(image_sha256(path, out), 0);
        assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(image_sha256(path, out), -ENOENT);
}

static void test_image_probe(void **state) {
        (void) state;
        char path[96];
        int format = -1;
        snprintf(path, sizeof(path), "%s/q.qcow2", dir);
        write_qcow2(path);
        assert_int_equal(image_probe_format(path, &format), 0);
        assert_int_equal(format, VOL_QCOW2);
        snprintf(path, sizeof(path), "%s/raw.img", dir);
        write_file(path, "\0\0\0\0\0\0\0\0", 8);
        assert_int_equal(image_probe_format(path, &format), 0);
        assert_int_equal(format, VOL_RAW);
        snprintf(path, sizeof(path), "%s/short", dir);
        write_file(path, "QF", 2);
        assert_int_equal(image_probe_format(path, &format), 0);
        assert_int_equal(format, VOL_RAW);
        snprintf(path, sizeof(path), "%s/missing", dir);
        assert_int_equal(image_probe_format(path, &format), -ENOENT);
}

/* Each element a path disk renders, and its parse back. */
static void test_xml_path_disks(void **state) {
        (void) state;
        lvh_want("version: 1\ndomains:\n  p1:\n    memory: 64M\n    disks:\n"
                 "      - { path: /var/lib/img/a.qcow2, format: qcow2, cache: none }\n"
                 "      - { path: /dev/vg0/web1, shareable: true }\n"
                 "      - { path: /var/lib/img/b.img }\n");
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "p1");
        assert_non_null(d);
        assert_int_equal(d->domain.disks[0].format, VOL_QCOW2);
        assert_int_equal(d->domain.disks[1].format, -1); /* probed at plan time */
        d->domain.disks[1].block = true;                /* as the probe finds it */
        d->domain.disks[1].format = VOL_RAW;
        char *xml = domain_render_xml(d, "qemu", NULL);
        assert_non_null(xml);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[1][@type='file'][@device='disk']"
                                     "[driver/@type='qcow2'][driver/@cache='none']"
                                     "[source/@file='/var/lib/img/a.qcow2'][target/@dev='vda'][target/@bus='virtio']"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/disk[2][@type='block'][@device='disk'][driver/@type='raw']"
                                     "[source/@dev='/dev/vg0/web1'][target/@dev='vdb'][shareable]"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/disk[2]/source/@file"), 0);
        /* Never said raw while it is unknown: no type, rather than a wrong one. */
        assert_int_equal(xr_count(x, "/domain/devices/disk[3][@type='file'][source/@file='/var/lib/img/b.img']"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/disk[3]/driver/@type"), 0);
        assert_int_equal(xr_count(x, "/domain/devices/disk/readonly"), 0);
        xr_free(x);
        struct resource *back = resource_new(KIND_DOMAIN, "p1");
        assert_int_equal(domain_parse_xml(xml, back), 0);
        free(xml);
        const struct domain_spec *b = &back->domain;
        assert_int_equal(b->n_disks, 3);
        assert_string_equal(b->disks[0].path, "/var/lib/img/a.qcow2");
        assert_null(b->disks[0].volume);
        assert_null(b->disks[0].cdrom);
        assert_false(b->disks[0].block);
        assert_int_equal(b->disks[0].format, VOL_QCOW2);
        assert_true(b->disks[0].set & DISK_F_PATH);
        assert_true(b->disks[0].set & DISK_F_FORMAT);
        assert_int_equal(b->disks[0].cache, CACHE_NONE);
        assert_string_equal(b->disks[1].path, "/dev/vg0/web1");
        assert_true(b->disks[1].block);
        assert_int_equal(b->disks[1].format, VOL_RAW);
        assert_true(b->disks[1].shareable);
        assert_string_equal(b->disks[1].target, "vdb");
        /* No named format is raw to libvirt. */
        assert_string_equal(b->disks[2].path, "/var/lib/img/b.img");
        assert_int_equal(b->disks[2].format, VOL_RAW);
        resource_free(back);
}

/* A volume made from an origin: the overlay's backingStore, the plain one without. */
static void test_xml_volume_origins(void **state) {
        (void) state;
        lvh_want("version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                 "      base: { source: /srv/debian.qcow2 }\n"
                 "      web1: { backing: images/base, capacity: 20G }\n"
                 "      copy: { clone-of: images/base }\n"
                 "      plain: { capacity: 1G }\n");
        struct resource *o = model_find(&set.model, KIND_VOLUME, "images/web1");
        assert_non_null(o);
        assert_int_equal(o->volume.format, VOL_QCOW2); /* an overlay is qcow2 */
        assert_true(o->set & VOL_F_FORMAT);
        char *xml = volume_render_origin_xml(o, 20ull << 30, VOL_QCOW2, "/images/base", VOL_QCOW2);
        assert_non_null(xml);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/volume[name='web1'][capacity='21474836480'][capacity/@unit='bytes']"
                                     "[allocation='0'][target/format/@type='qcow2']"), 1);
        assert_int_equal(xr_count(x, "/volume/backingStore[path='/images/base'][format/@type='qcow2']"), 1);
        xr_free(x);
        free(xml);
        struct resource *p = model_find(&set.model, KIND_VOLUME, "images/plain");
        xml = volume_render_xml(p);
        x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/volume[name='plain'][capacity='1073741824'][target/format/@type='raw']"), 1);
        assert_int_equal(xr_count(x, "/volume/backingStore"), 0);
        xr_free(x);
        free(xml);
        /* A clone or an upload has no capacity of its own unless declared. */
        struct resource *c = model_find(&set.model, KIND_VOLUME, "images/copy");
        assert_false(c->set & VOL_F_CAPACITY);
        assert_string_equal(c->volume.clone_of, "images/base");
}

static void test_manifest_errors(void **state) {
        (void) state;
        const char *dom = "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                          "      v: { capacity: 1G }\ndomains:\n  d:\n    memory: 64M\n    disks:\n";
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "%s      - { volume: images/v, path: /srv/a.img }\n", dom);
        expect_manifest_error(yaml, "disk needs exactly one of volume, cdrom and path");
        snprintf(yaml, sizeof(yaml), "%s      - { bus: sata }\n", dom);
        expect_manifest_error(yaml, "disk needs exactly one of volume, cdrom and path");
        snprintf(yaml, sizeof(yaml), "%s      - { volume: images/v, format: qcow2 }\n", dom);
        expect_manifest_error(yaml, "disk: format goes with path");
        snprintf(yaml, sizeof(yaml), "%s      - { path: relative.img }\n", dom);
        expect_manifest_error(yaml, "m.yaml:12:");
        snprintf(yaml, sizeof(yaml), "%s      - { path: /srv/a.img, format: vmdk }\n", dom);
        expect_manifest_error(yaml, "format: expected one of raw, qcow2");
        const char *pool = "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                           "      base: { capacity: 1G, format: qcow2 }\n";
        static const struct { const char *vol; const char *msg; } cases[] = {
                { "o: { backing: images/base, clone-of: images/base }", "backing, clone-of and source exclude each other" },
                { "o: { backing: images/base, format: raw }", "an overlay on a backing volume is qcow2" },
                { "o: { backing: base }", "backing \"base\" is not POOL/VOLUME" },
                { "o: { clone-of: images/o }", "clone-of names the volume itself" },
                { "o: { capacity: 1G, sha256: abc }", "sha256 goes with source" },
                { "o: { source: /srv/i.qcow2, sha256: abc }", "sha256 \"abc\" is not 64 hex digits" },
                { "o: { format: raw }", "volume images/o needs a capacity (or backing, clone-of or source)" },
                { "o: { source: images/base }", "m.yaml:8:" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(yaml, sizeof(yaml), "%s      %s\n", pool, cases[i].vol);
                expect_manifest_error(yaml, cases[i].msg);
        }
        expect_manifest_error("version: 1\ndomains:\n  a:\n    memory: 64M\n    disks:\n      - { path: /dev/vg0/x }\n"
                              "  b:\n    memory: 64M\n    disks:\n      - { path: /dev/vg0/x }\n",
                              "domain b: path /dev/vg0/x is also a disk of domain a at m.yaml:6:9; a path two domains "
                              "write needs shareable: true on both disks");
        lvh_want("version: 1\ndomains:\n  a:\n    memory: 64M\n    disks:\n      - { path: /dev/vg0/x, shareable: true }\n"
                 "  b:\n    memory: 64M\n    disks:\n      - { path: /dev/vg0/x, shareable: true }\n");
        snprintf(yaml, sizeof(yaml), "%s      o: { backing: images/gone }\n      gone: { state: absent }\n", pool);
        expect_manifest_error(yaml, "volume images/o is made from images/gone, which is declared absent");
        /* An upper-case digest is the same digest. */
        lvh_want("version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n      u: { source: /srv/i.qcow2, "
                 "sha256: BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD }\n");
        assert_string_equal(model_find(&set.model, KIND_VOLUME, "images/u")->volume.sha256,
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* A clone through the test driver: in sync after one apply; another origin
 * declared later is refused at plan time, from what the ledger kept. */
static void test_clone_in_sync_and_origin_kept(void **state) {
        (void) state;
        const char *pool = "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                           "      base: { capacity: 1G, format: qcow2 }\n      other: { capacity: 1G, format: qcow2 }\n";
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "%s      copy: { clone-of: images/base }\n", pool);
        lvh_want(yaml);
        assert_int_equal(lvh_pass(0), 4);
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "images");
        virStorageVolPtr v = virStorageVolLookupByName(p, "copy");
        assert_non_null(v);
        virStorageVolInfo info;
        assert_int_equal(virStorageVolGetInfo(v, &info), 0);
        assert_int_equal(info.capacity, 1ull << 30);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        assert_int_equal(lvh_pass(0), 0);
        snprintf(yaml, sizeof(yaml), "%s      copy: { clone-of: images/other }\n", pool);
        lvh_want(yaml);
        lvh_plan_fails("volume images/copy: clone-of images/base -> images/other would replace its data: refused");
}

/* A disk on a clone of a qcow2 volume, its format not declared, is qcow2:
 * the clone's format is read from libvirt, never taken as raw. */
static void test_disk_on_clone_takes_its_format(void **state) {
        (void) state;
        lvh_want("version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                 "      base: { capacity: 1G, format: qcow2 }\n      copy: { clone-of: images/base }\n"
                 "domains:\n  c1:\n    memory: 64M\n    state: shutoff\n    disks:\n      - { volume: images/copy }\n");
        assert_int_equal(model_find(&set.model, KIND_DOMAIN, "c1")->domain.disks[0].format, -1);
        lvh_pass(0);
        virDomainPtr d = virDomainLookupByName(keeper, "c1");
        assert_non_null(d);
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[source/@volume='copy'][driver/@type='qcow2']"), 1);
        xr_free(x);
        free(xml);
        virDomainFree(d);
        assert_int_equal(lvh_pass(0), 0);
        /* Once defined, the disk keeps that format: the volume's as libvirt has
         * it now (here made again raw behind reconcile's back) is not read again. */
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "images");
        virStorageVolPtr v = virStorageVolLookupByName(p, "copy");
        assert_non_null(v);
        assert_int_equal(virStorageVolDelete(v, 0), 0);
        virStorageVolFree(v);
        v = virStorageVolCreateXML(p, "<volume><name>copy</name><capacity>1073741824</capacity>"
                                      "<target><format type='raw'/></target></volume>", 0);
        assert_non_null(v);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        assert_int_equal(lvh_pass(0), 0);
        /* An edit of the disk renders it again: with the format it was defined with. */
        lvh_want("version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                 "      base: { capacity: 1G, format: qcow2 }\n      copy: { clone-of: images/base }\n"
                 "domains:\n  c1:\n    memory: 64M\n    state: shutoff\n    disks:\n"
                 "      - { volume: images/copy, cache: none }\n");
        assert_int_equal(lvh_pass(0), 1);
        d = virDomainLookupByName(keeper, "c1");
        xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[source/@volume='copy'][driver/@type='qcow2'][driver/@cache='none']"), 1);
        xr_free(x);
        free(xml);
        virDomainFree(d);
}

/* An overlay through the test driver: its backing read back from the
 * volume's XML, in sync after one apply; its base refuses delete, naming it. */
static void test_overlay_holds_base(void **state) {
        (void) state;
        const char *pool = "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n";
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "%s      base: { capacity: 1G, format: qcow2 }\n"
                 "      web1: { backing: images/base, capacity: 2G }\n", pool);
        lvh_want(yaml);
        assert_int_equal(lvh_pass(0), 3);
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "images");
        virStorageVolPtr v = virStorageVolLookupByName(p, "web1");
        assert_non_null(v);
        char *xml = virStorageVolGetXMLDesc(v, 0);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/volume/backingStore[path='/images/base'][format/@type='qcow2']"), 1);
        assert_int_equal(xr_count(x, "/volume[capacity='2147483648']/target/format[@type='qcow2']"), 1);
        xr_free(x);
        free(xml);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        assert_int_equal(lvh_pass(0), 0);
        /* show writes the overlay's base, so its output declares the overlay as it is. */
        struct run run = { .opts = &opts, .ledger = &ledger, .want = &set.model };
        assert_int_equal(run_observe(&run), 0);
        char *shown = NULL;
        size_t shown_len = 0;
        FILE *f = open_memstream(&shown, &shown_len);
        assert_int_equal(show_print_yaml(f, &run.live), 0);
        fclose(f);
        run_done(&run);
        if (!strstr(shown, "web1: {capacity: 2G, format: qcow2, backing: \"images/base\"}") &&
            !strstr(shown, "web1: {capacity: 2G, format: qcow2, backing: images/base}"))
                fail_msg("show has no backing for the overlay:\n%s", shown);
        free(shown);
        /* An overlay smaller than its base is refused by the plan, before anything is made. */
        snprintf(yaml, sizeof(yaml), "%s      base: { capacity: 1G, format: qcow2 }\n"
                 "      web2: { backing: images/base, capacity: 512M }\n", pool);
        lvh_want(yaml);
        lvh_plan_fails("m.yaml:8:47: error: volume images/web2: capacity 512M is below the 1G of images/base, which it is made from");
        snprintf(yaml, sizeof(yaml), "%s      base: { state: absent }\n", pool);
        lvh_want(yaml);
        lvh_plan_fails("volume images/base: it is the backing volume of the qcow2 overlay(s) images/web1; not deleting it");
        snprintf(yaml, sizeof(yaml), "%s      base: { capacity: 1G, format: qcow2 }\n      other: { capacity: 1G, format: qcow2 }\n"
                 "      web1: { backing: images/other }\n", pool);
        lvh_want(yaml);
        lvh_plan_fails("volume images/web1: backing images/base -> images/other would replace its data: refused");
}

/* A volume still to upload needs its image at plan time; one that exists
 * does not (the image may be gone since it was uploaded). */
static void test_source_checked_at_plan_only_before_upload(void **state) {
        (void) state;
        const char *pool = "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n";
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "%s      up: { source: %s/gone.qcow2 }\n", pool, dir);
        lvh_want(yaml);
        lvh_plan_fails("m.yaml:7:21: error: volume images/up: source ");
        snprintf(yaml, sizeof(yaml), "%s      up: { capacity: 1G }\n", pool);
        lvh_want(yaml);
        lvh_pass(0);
        snprintf(yaml, sizeof(yaml), "%s      up: { source: %s/gone.qcow2 }\n", pool, dir);
        lvh_want(yaml);
        assert_int_equal(lvh_pass(0), 0);
}

/* A source volume through the test driver, which keeps no volume content:
 * made, not filled, and in sync after. A run killed during its upload leaves
 * the ledger marking it incomplete: the next plan makes it again (a replace),
 * never calls the half-made volume in sync. */
static void test_source_volume_incomplete_made_again(void **state) {
        (void) state;
        char img[96], yaml[1024];
        snprintf(img, sizeof(img), "%s/cloud.qcow2", dir);
        write_qcow2(img);
        snprintf(yaml, sizeof(yaml), "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                 "      up: { source: %s }\n", img);
        lvh_want(yaml);
        lvh_errs_reset();
        assert_int_equal(lvh_pass(0), 2);
        fflush(errs_f);
        assert_non_null(strstr(errs, "volume images/up: test:///default keeps no volume content: the volume is made, not filled"));
        struct ledger_entry *e = ledger_find(&ledger, "libvirt:test:///default", KIND_VOLUME, "images/up");
        assert_non_null(e);
        assert_null(ledger_get(e, "incomplete"));
        assert_int_equal(lvh_pass(0), 0);
        ledger_mark_incomplete(&ledger, e, "made, its source not fully uploaded");
        struct run run = { .opts = &opts, .ledger = &ledger, .want = &set.model };
        assert_int_equal(run_observe(&run), 0);
        assert_int_equal(run_plan(&run), 0);
        assert_int_equal(run.plan.n_actions, 1);
        assert_int_equal(run.plan.actions[0].op, OP_REPLACE);
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        e = ledger_find(&ledger, "libvirt:test:///default", KIND_VOLUME, "images/up");
        assert_non_null(e);
        assert_null(ledger_get(e, "incomplete"));
        assert_int_equal(lvh_pass(0), 0);
}

/* A volume of the declared name that reconcile did not make is not taken as
 * a clone or an upload: neither origin can be read from it. */
static void test_origin_volume_not_adopted(void **state) {
        (void) state;
        const char *pool = "version: 1\npools:\n  images:\n    type: dir\n    path: /images\n    volumes:\n"
                           "      base: { capacity: 1G, format: qcow2 }\n";
        char yaml[1024];
        lvh_want(pool);
        lvh_pass(0);
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "images");
        assert_non_null(p);
        virStorageVolPtr v = virStorageVolCreateXML(p, "<volume><name>copy</name><capacity>1073741824</capacity>"
                                                       "<target><format type='qcow2'/></target></volume>", 0);
        assert_non_null(v);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        snprintf(yaml, sizeof(yaml), "%s      copy: { clone-of: images/base }\n", pool);
        lvh_want(yaml);
        lvh_plan_fails("volume images/copy: its pool already holds a volume of that name, and whether it is a clone of "
                       "images/base cannot be read from it: not adopted");
}

/* Path disks through the test driver: the format probed from the file, the
 * disks untouched by a change of vCPUs and of a NIC model. */
static void test_path_disk_probed_and_kept(void **state) {
        (void) state;
        char qcow[96], raw[96], yaml[1024];
        snprintf(qcow, sizeof(qcow), "%s/q.qcow2", dir);
        snprintf(raw, sizeof(raw), "%s/r.img", dir);
        write_qcow2(qcow);
        write_file(raw, "\0\0\0\0", 4);
        const char *fmt = "version: 1\nnetworks:\n  n1: { mode: isolated, bridge: virbr77 }\n"
                          "domains:\n  p1:\n    memory: 64M\n    vcpus: %d\n    state: shutoff\n"
                          "    disks:\n      - { path: %s }\n      - { path: %s }\n"
                          "    interfaces:\n      - { network: n1, model: %s }\n";
        snprintf(yaml, sizeof(yaml), fmt, 1, qcow, raw, "virtio");
        lvh_want(yaml);
        lvh_pass(0);
        virDomainPtr d = virDomainLookupByName(keeper, "p1");
        assert_non_null(d);
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[source/@file='%s'][driver/@type='qcow2']", qcow), 1);
        assert_int_equal(xr_count(x, "/domain/devices/disk[source/@file='%s'][driver/@type='raw']", raw), 1);
        char *before = xr_str(x, "/domain/devices/disk[source/@file='%s']/target/@dev", qcow);
        xr_free(x);
        free(xml);
        assert_int_equal(lvh_pass(0), 0);
        snprintf(yaml, sizeof(yaml), fmt, 2, qcow, raw, "e1000");
        lvh_want(yaml);
        struct run run = { .opts = &opts, .ledger = &ledger, .want = &set.model };
        assert_int_equal(run_observe(&run), 0);
        assert_int_equal(run_plan(&run), 0);
        assert_int_equal(run.plan.n_actions, 1);
        for (size_t i = 0; i < run.plan.actions[0].n_changes; i++)
                assert_null(strstr(run.plan.actions[0].changes[i].name, "disk"));
        run_done(&run);
        lvh_pass(0);
        xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/vcpu[.='2']"), 1);
        char *after = xr_str(x, "/domain/devices/disk[source/@file='%s']/target/@dev", qcow);
        assert_string_equal(after, before);
        assert_int_equal(xr_count(x, "/domain/devices/disk"), 2);
        xr_free(x);
        free(xml);
        free(before);
        free(after);
        /* A missing file with no declared format cannot be probed: a plan error
         * at a disk not yet defined (a defined one keeps its format). */
        unlink(qcow);
        assert_int_equal(lvh_pass(0), 0);
        snprintf(yaml, sizeof(yaml), "version: 1\ndomains:\n  p2:\n    memory: 64M\n    state: shutoff\n"
                 "    disks:\n      - { path: %s }\n", qcow);
        lvh_want(yaml);
        lvh_plan_fails("disk path ");
        virDomainFree(d);
}

/* A guest writes a qcow2 header onto its raw path disk: the disk keeps the
 * format it was defined with, and the next plan has nothing to do (a probe
 * on every plan would redefine it as qcow2, whose backing file the guest
 * names). */
static void test_path_disk_format_not_reprobed(void **state) {
        (void) state;
        char raw[96], yaml[512];
        snprintf(raw, sizeof(raw), "%s/r.img", dir);
        write_file(raw, "\0\0\0\0", 4);
        snprintf(yaml, sizeof(yaml), "version: 1\ndomains:\n  g1:\n    memory: 64M\n    state: shutoff\n"
                 "    disks:\n      - { path: %s }\n", raw);
        lvh_want(yaml);
        lvh_pass(0);
        write_qcow2(raw);
        assert_int_equal(lvh_pass(0), 0);
        virDomainPtr d = virDomainLookupByName(keeper, "g1");
        assert_non_null(d);
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[source/@file='%s'][driver/@type='raw']", raw), 1);
        xr_free(x);
        free(xml);
        virDomainFree(d);
}

/* One action of plan, diffed as run_plan does without a connection. */
static struct action *snapshot_diff(struct plan *plan, const struct resource *w, const struct resource *live) {
        struct action *a = array_push(&plan->actions, &plan->n_actions, sizeof(*a));
        a->op = OP_UPDATE;
        a->kind = w->kind;
        a->name = xstrdup(w->name);
        a->key = xstrdup(w->name);
        a->want = w;
        a->live = live;
        a->backend = backend_for_kind(w->kind);
        assert_int_equal(kind_ops(w->kind)->diff(NULL, w, live, NULL, a, plan), 0);
        return a;
}

/* Without a connection (a plan against a snapshot) a path disk's undeclared
 * format is the live disk's: no change is made up; a declared one is compared. */
static void test_snapshot_diff_takes_live_format(void **state) {
        (void) state;
        lvh_want("version: 1\ndomains:\n  p1:\n    memory: 64M\n    disks:\n      - { path: /srv/a.qcow2 }\n");
        const struct resource *w = model_find(&set.model, KIND_DOMAIN, "p1");
        struct resource *live = resource_new(KIND_DOMAIN, "p1");
        assert_int_equal(domain_parse_xml("<domain type='kvm'><name>p1</name><memory unit='KiB'>65536</memory>"
                                          "<vcpu>1</vcpu><os><type>hvm</type></os><features><acpi/><apic/></features>"
                                          "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
                                          "<source file='/srv/a.qcow2'/><target dev='vda' bus='virtio'/></disk>"
                                          "<serial type='pty'/><channel type='unix'><target type='virtio' "
                                          "name='org.qemu.guest_agent.0'/></channel></devices></domain>",
                                          live),
                         0);
        live->state = STATE_SHUTOFF;
        struct plan plan = { 0 };
        struct action *a = snapshot_diff(&plan, w, live);
        for (size_t i = 0; i < a->n_changes; i++)
                assert_null(strstr(a->changes[i].name, "disk"));
        lvh_want("version: 1\ndomains:\n  p1:\n    memory: 64M\n    disks:\n      - { path: /srv/a.qcow2, format: raw }\n");
        w = model_find(&set.model, KIND_DOMAIN, "p1");
        a = snapshot_diff(&plan, w, live);
        bool edit = false;
        for (size_t i = 0; i < a->n_changes; i++)
                edit = edit || strcmp(a->changes[i].name, "disk /srv/a.qcow2") == 0;
        assert_true(edit);
        plan_done(&plan);
        resource_free(live);
}

#define T(f) cmocka_unit_test_prestate_setup_teardown(f, lvh_setup, lvh_teardown, "disks")

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_sha256_vectors),
                T(test_image_probe),
                T(test_xml_path_disks),
                T(test_xml_volume_origins),
                T(test_manifest_errors),
                T(test_clone_in_sync_and_origin_kept),
                T(test_overlay_holds_base),
                T(test_disk_on_clone_takes_its_format),
                T(test_source_checked_at_plan_only_before_upload),
                T(test_source_volume_incomplete_made_again),
                T(test_origin_volume_not_adopted),
                T(test_path_disk_probed_and_kept),
                T(test_path_disk_format_not_reprobed),
                T(test_snapshot_diff_takes_live_format),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
