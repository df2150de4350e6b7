/* cloud-init seeds, per-device boot order and restart: on-change (issue 17
 * points 2, 6, 7): the ISO image read back, the instance-id digest, the XML of
 * boot orders and its parse, and plan/apply against test:///default. */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../backends/backends.h"
#include "../../backends/cloudinit.h"
#include "../../backends/isofs-dl.h"
#include "../../cmd/output.h"
#include "../../parsers/parsers.h"
#include "fake-backends.h"
#include "libvirt-harness.h"

static void expect_manifest_error(const char *yaml, const char *msg) {
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        int r = manifest_parse_buffer(&set, "m.yaml", yaml, strlen(yaml), "kvm1");
        if (r >= 0)
                r = manifests_validate(&set);
        fflush(errs_f);
        if (r >= 0 || !strstr(errs, msg))
                fail_msg("expected \"%s\", got: %s", msg, errs ? errs : "");
}

static char *domain_xml(const char *name) {
        virDomainPtr d = virDomainLookupByName(keeper, name);
        assert_non_null(d);
        char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        virDomainFree(d);
        assert_non_null(xml);
        return xml;
}

#define GUEST_HEAD                                                                                         \
        "version: 1\n"                                                                                     \
        "pools:\n  default-pool:\n    type: dir\n    path: /default-pool\n    volumes:\n"                  \
        "      c1-root: { capacity: 1G, format: qcow2 }\n"                                                 \
        "domains:\n  c1:\n    memory: 128M\n    disks:\n      - { volume: default-pool/c1-root }\n"

static const char *guest = GUEST_HEAD
        "    cloud-init:\n      user-data: |\n        #cloud-config\n        hostname: c1\n"
        "      network-config: |\n        version: 2\n";

static const char *guest_changed = GUEST_HEAD
        "    cloud-init:\n      user-data: |\n        #cloud-config\n        hostname: c1-new\n"
        "      network-config: |\n        version: 2\n";

/* A run that never builds a seed never maps libisofs. Runs first. */
static void test_isofs_not_loaded_without_cloudinit(void **state) {
        (void) state;
        lvh_want("version: 1\ndomains:\n  p1:\n    memory: 128M\n    disks: []\n");
        lvh_pass(0);
        assert_false(isofs_dl_loaded());
}

static const unsigned char *find(const unsigned char *img, size_t len, const char *s) {
        return memmem(img, len, s, strlen(s));
}

/* The image read back: the primary volume descriptor and its label, Joliet's
 * supplementary one, Rock Ridge, and each file with its content. */
static void test_seed_iso_label_and_files(void **state) {
        (void) state;
        lvh_want(guest);
        const struct resource *d = model_find(&set.model, KIND_DOMAIN, "c1");
        unsigned char *img = NULL;
        size_t len = 0;
        assert_int_equal(cloudinit_build_iso(d, &img, &len), 0);
        assert_true(isofs_dl_loaded());
        assert_true(len >= 32768 + 3 * 2048 && len % 2048 == 0);
        /* Sector 16: the primary volume descriptor (type 1, "CD001"); the volume
         * identifier at byte 40 of it (32808), 32 bytes padded with blanks. */
        assert_int_equal(img[32768], 1);
        assert_memory_equal(img + 32769, "CD001", 5);
        assert_memory_equal(img + 32808, "cidata                          ", 32);
        /* Sector 17: Joliet's supplementary descriptor (type 2, UCS-2 escape "%/E"). */
        assert_int_equal(img[34816], 2);
        assert_memory_equal(img + 34816 + 88, "%/E", 3);
        /* Rock Ridge's extension reference (RRIP 1.12) and the names as written (its NM entries). */
        assert_non_null(find(img, len, "IEEE_1282"));
        assert_non_null(find(img, len, "user-data"));
        assert_non_null(find(img, len, "meta-data"));
        assert_non_null(find(img, len, "network-config"));
        assert_non_null(find(img, len, "#cloud-config\nhostname: c1\n"));
        assert_non_null(find(img, len, "version: 2\n"));
        char meta[128];
        snprintf(meta, sizeof(meta), "%s", d->domain.cloud_init.content[SEED_META_DATA]);
        assert_non_null(find(img, len, meta));
        free(img);

        /* Without network-config, the seed has no such file. */
        lvh_want(GUEST_HEAD "    cloud-init: { user-data: \"#cloud-config\" }\n");
        d = model_find(&set.model, KIND_DOMAIN, "c1");
        assert_int_equal(cloudinit_build_iso(d, &img, &len), 0);
        assert_null(find(img, len, "network-config"));
        assert_non_null(find(img, len, "meta-data"));
        free(img);
}

/* instance-id: a digest of the content, new when the content changes, kept
 * when meta-data declares one; local-hostname: the domain's name. */
static void test_instance_id_digest(void **state) {
        (void) state;
        lvh_want(guest);
        const struct resource *d = model_find(&set.model, KIND_DOMAIN, "c1");
        char meta1[256], digest1[17];
        snprintf(meta1, sizeof(meta1), "%s", d->domain.cloud_init.content[SEED_META_DATA]);
        snprintf(digest1, sizeof(digest1), "%s", d->domain.cloud_init.digest);
        assert_int_equal(strncmp(meta1, "instance-id: iid-", 17), 0);
        assert_non_null(strstr(meta1, "\nlocal-hostname: c1\n"));
        lvh_want(guest);
        d = model_find(&set.model, KIND_DOMAIN, "c1");
        assert_string_equal(d->domain.cloud_init.content[SEED_META_DATA], meta1); /* the same content, the same id */
        lvh_want(guest_changed);
        d = model_find(&set.model, KIND_DOMAIN, "c1");
        assert_string_not_equal(d->domain.cloud_init.content[SEED_META_DATA], meta1);
        assert_string_not_equal(d->domain.cloud_init.digest, digest1);
        assert_int_equal(strlen(d->domain.cloud_init.digest), 16);
        lvh_want(GUEST_HEAD "    cloud-init:\n      meta-data: |\n        instance-id: mine-1\n        local-hostname: h\n");
        d = model_find(&set.model, KIND_DOMAIN, "c1");
        assert_string_equal(d->domain.cloud_init.content[SEED_META_DATA], "instance-id: mine-1\nlocal-hostname: h\n");
        assert_string_equal(d->domain.cloud_init.content[SEED_USER_DATA], "");
}

/* A file named by a relative path is read from the manifest's directory. */
static void test_seed_files_and_errors(void **state) {
        (void) state;
        char path[128], mdir[80];
        snprintf(mdir, sizeof(mdir), "%s/m", dir);
        assert_int_equal(mkdir(mdir, 0700), 0);
        snprintf(path, sizeof(path), "%s/user-data.cfg", mdir);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("#cloud-config\nruncmd: [true]\n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/m.yaml", mdir);
        const char *yaml = GUEST_HEAD "    cloud-init: { user-data: ./user-data.cfg }\n";
        manifests_done(&set);
        memset(&set, 0, sizeof(set));
        assert_int_equal(manifest_parse_buffer(&set, path, yaml, strlen(yaml), "kvm1"), 0);
        assert_int_equal(manifests_validate(&set), 0);
        const struct resource *d = model_find(&set.model, KIND_DOMAIN, "c1");
        assert_string_equal(d->domain.cloud_init.content[SEED_USER_DATA], "#cloud-config\nruncmd: [true]\n");
        /* The seed joins the disks: a cdrom on the first volume's pool. */
        assert_int_equal(d->domain.n_disks, 2);
        assert_true(d->domain.disks[1].seed);
        assert_string_equal(d->domain.disks[1].volume, "default-pool/c1-cidata.iso");

        expect_manifest_error(GUEST_HEAD "    cloud-init: { user-data: ./nowhere.cfg }\n", "nowhere.cfg");
        expect_manifest_error("version: 1\npools:\n  p:\n    type: dir\n    path: /p\n    volumes:\n"
                              "      c2-cidata.iso: { capacity: 1M }\n"
                              "domains:\n  c2:\n    memory: 128M\n    disks: []\n    cloud-init: { user-data: x, pool: p }\n",
                              "volume p/c2-cidata.iso is declared at m.yaml:7:7, and is where the cloud-init seed goes");
        expect_manifest_error(GUEST_HEAD "    cloud-init: { user-data: /dev/zero }\n",
                              "cloud-init user-data: /dev/zero: not a regular file");
        expect_manifest_error("version: 1\ndomains:\n  c2:\n    memory: 128M\n    disks: []\n"
                              "    cloud-init: { user-data: x }\n",
                              "cloud-init needs a pool for its seed");
        expect_manifest_error("version: 1\ndomains:\n  c2:\n    memory: 128M\n    cloud-init: { user-data: x, pool: p }\n",
                              "cloud-init needs the domain's disks declared");
        expect_manifest_error("version: 1\ndomains:\n  c2:\n    memory: 128M\n    disks: []\n"
                              "    cloud-init: { user-data: x, pool: nopool }\n",
                              "cloud-init pool nopool is not declared");
}

/* Per-device boot order: rendered, parsed back, and exclusive with boot: [...]. */
static void test_device_boot_xml_and_errors(void **state) {
        (void) state;
        lvh_want("version: 1\npools:\n  p:\n    type: dir\n    path: /p\n    volumes:\n      v1: { capacity: 1G }\n"
                 "domains:\n  b1:\n    memory: 128M\n    disks:\n      - { volume: p/v1, boot: 2 }\n"
                 "      - { cdrom: /dev/null, boot: 1 }\n    interfaces:\n      - { network: default, boot: 3 }\n"
                 "      - { network: default }\n");
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "b1");
        char *xml = domain_render_xml(d, "qemu", NULL);
        assert_non_null(xml);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[source/@volume='v1']/boot[@order='2']"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/disk[@device='cdrom']/boot[@order='1']"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/interface[1]/boot[@order='3']"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/interface[2]/boot"), 0);
        assert_int_equal(xr_count(x, "/domain/os/boot"), 0);
        xr_free(x);
        struct resource *back = resource_new(KIND_DOMAIN, "b1");
        assert_int_equal(domain_parse_xml(xml, back), 0);
        free(xml);
        assert_int_equal(back->domain.disks[0].boot_order, 2);
        assert_true(back->domain.disks[0].set & DISK_F_BOOT);
        assert_int_equal(back->domain.disks[1].boot_order, 1);
        assert_int_equal(back->domain.nics[0].boot_order, 3);
        assert_true(back->domain.nics[0].set & NIC_F_BOOT);
        assert_int_equal(back->domain.nics[1].boot_order, 0);
        assert_false(back->domain.nics[1].set & NIC_F_BOOT);
        resource_free(back);

        expect_manifest_error("version: 1\ndomains:\n  b2:\n    memory: 128M\n    boot: [hd]\n"
                              "    interfaces:\n      - { network: default, boot: 1 }\n",
                              "boot: [...] and a device's boot: 1 exclude each other");
        expect_manifest_error("version: 1\ndomains:\n  b3:\n    memory: 128M\n    disks:\n      - { cdrom: /dev/null, boot: 1 }\n"
                              "    interfaces:\n      - { network: default, boot: 1 }\n",
                              "boot order 1 is given to two devices");
}

/* The seed's drive renders as a read-only cdrom on a pool volume and parses back as the seed. */
static void test_seed_disk_xml(void **state) {
        (void) state;
        lvh_want(guest);
        struct resource *d = model_find(&set.model, KIND_DOMAIN, "c1");
        char *xml = domain_render_xml(d, "qemu", NULL);
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/devices/disk[@type='volume'][@device='cdrom']"
                                     "[source/@pool='default-pool'][source/@volume='c1-cidata.iso']"
                                     "[target/@bus='sata']/readonly"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/disk[@device='disk']"), 1);
        xr_free(x);
        struct resource *back = resource_new(KIND_DOMAIN, "c1");
        assert_int_equal(domain_parse_xml(xml, back), 0);
        free(xml);
        assert_true(back->domain.disks[1].seed);
        assert_false(back->domain.disks[0].seed);
        resource_free(back);
}

/* Created with its seed; converges; a changed seed is rebuilt, its digest
 * kept, and the running guest has a restart pending until it restarts. */
static void test_seed_rebuilt_restart_pending(void **state) {
        (void) state;
        lvh_want(guest);
        assert_true(lvh_pass(0) >= 2);
        struct ledger_entry *e = ledger_find(&ledger, "libvirt:test:///default", KIND_DOMAIN, "c1");
        assert_non_null(e);
        const struct resource *d = model_find(&set.model, KIND_DOMAIN, "c1");
        assert_string_equal(ledger_get(e, "cloud-init"), d->domain.cloud_init.digest);
        char *xml = domain_xml("c1");
        assert_non_null(strstr(xml, "c1-cidata.iso"));
        free(xml);
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "default-pool");
        assert_non_null(p);
        virStorageVolPtr v = virStorageVolLookupByName(p, "c1-cidata.iso");
        assert_non_null(v); /* the seed's volume, in the pool */
        virStorageVolFree(v);
        virStoragePoolFree(p);
        assert_int_equal(lvh_pass(0), 0); /* applying twice changes nothing */

        lvh_want(guest_changed);
        struct run run;
        lvh_plan_only(&run);
        const struct change *c = lvh_find_change(&run, DOM_C_SEED);
        assert_non_null(c);
        char was[256], now[256];
        assert_non_null(change_words(&run.plan.actions[0], c, false, was, sizeof(was)));
        assert_non_null(change_words(&run.plan.actions[0], c, true, now, sizeof(now)));
        assert_non_null(strstr(now, "(built)"));
        assert_int_equal(run.plan.n_pending, 1);
        assert_non_null(strstr(run.plan.pending[0].reason, "restart needed: cloud-init seed"));
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        d = model_find(&set.model, KIND_DOMAIN, "c1");
        e = ledger_find(&ledger, "libvirt:test:///default", KIND_DOMAIN, "c1");
        assert_string_equal(ledger_get(e, "cloud-init"), d->domain.cloud_init.digest);
        /* Rebuilt: no action, but the running guest still has the old one. */
        lvh_plan_only(&run);
        assert_int_equal(run.plan.n_actions, 0);
        assert_int_equal(run.plan.n_pending, 1);
        assert_non_null(strstr(run.plan.pending[0].reason, "cloud-init seed"));
        run_done(&run);
        /* Restarted (by hand): nothing pending. */
        virDomainPtr dp = virDomainLookupByName(keeper, "c1");
        assert_int_equal(virDomainDestroy(dp), 0);
        assert_int_equal(virDomainCreate(dp), 0);
        virDomainFree(dp);
        lvh_plan_only(&run);
        assert_int_equal(run.plan.n_actions, 0);
        assert_int_equal(run.plan.n_pending, 0);
        run_done(&run);
}

/* A seed's volume deleted behind reconcile's back is drift: rebuilt by the
 * next run, though the ledger's digest still matches the manifest. */
static void test_seed_deleted_rebuilt(void **state) {
        (void) state;
        lvh_want(guest);
        lvh_pass(0);
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "default-pool");
        assert_non_null(p);
        virStorageVolPtr v = virStorageVolLookupByName(p, "c1-cidata.iso");
        assert_non_null(v);
        assert_int_equal(virStorageVolDelete(v, 0), 0);
        virStorageVolFree(v);
        struct run run;
        lvh_plan_only(&run);
        assert_non_null(lvh_find_change(&run, DOM_C_SEED));
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        v = virStorageVolLookupByName(p, "c1-cidata.iso");
        assert_non_null(v); /* made again */
        lvh_plan_only(&run);
        assert_int_equal(run.plan.n_pending, 0); /* the same content: no restart needed */
        run_done(&run);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        assert_int_equal(lvh_pass(0), 0);
}

/* A volume the test makes by hand in the seed's pool, of capacity bytes. */
static void make_volume(const char *name, unsigned long long capacity) {
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "default-pool");
        assert_non_null(p);
        char xml[256];
        snprintf(xml, sizeof(xml), "<volume><name>%s</name><capacity unit='bytes'>%llu</capacity>"
                 "<target><format type='raw'/></target></volume>", name, capacity);
        virStorageVolPtr v = virStorageVolCreateXML(p, xml, 0);
        assert_non_null(v);
        virStorageVolFree(v);
        virStoragePoolFree(p);
}

static unsigned long long volume_capacity(const char *name) {
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "default-pool");
        assert_non_null(p);
        virStorageVolPtr v = virStorageVolLookupByName(p, name);
        assert_non_null(v);
        virStorageVolInfo info;
        assert_int_equal(virStorageVolGetInfo(v, &info), 0);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        return info.capacity;
}

/* A hand-made c1-cidata.iso is not reconcile's: a domain that gains a seed
 * is refused at plan time, and a new domain at apply time before anything of
 * it is made; the volume is neither overwritten nor deleted. */
static void test_foreign_seed_volume_refused(void **state) {
        (void) state;
        const char *msg = "domain c1: pool default-pool already holds a volume c1-cidata.iso that reconcile did not make";
        lvh_want(GUEST_HEAD "    state: shutoff\n");
        lvh_pass(0);
        make_volume("c1-cidata.iso", 3ull << 20);
        lvh_want(guest);
        lvh_errs_reset();
        struct run run;
        memset(&run, 0, sizeof(run));
        run.opts = &opts, run.ledger = &ledger, run.want = &set.model;
        assert_int_equal(run_observe(&run), 0);
        run_plan(&run);
        fflush(errs_f);
        if (!run.plan.n_errors || !errs || !strstr(errs, msg))
                fail_msg("expected a plan error \"%s\", got: %s", msg, errs ? errs : "");
        run_done(&run);
        assert_int_equal(volume_capacity("c1-cidata.iso"), 3ull << 20);

        /* A domain not defined yet: the check is the apply's, whose ledger entry says. */
        virDomainPtr d = virDomainLookupByName(keeper, "c1");
        assert_non_null(d);
        assert_int_equal(virDomainUndefine(d), 0);
        virDomainFree(d);
        struct ledger_entry *e = ledger_find(&ledger, "libvirt:test:///default", KIND_DOMAIN, "c1");
        if (e)
                ledger_remove(&ledger, e);
        lvh_errs_reset();
        memset(&run, 0, sizeof(run));
        run.opts = &opts, run.ledger = &ledger, run.want = &set.model;
        assert_int_equal(run_observe(&run), 0);
        assert_int_equal(run_plan(&run), 0);
        assert_true(run_apply(&run) < 0);
        run_done(&run);
        fflush(errs_f);
        if (!errs || !strstr(errs, msg))
                fail_msg("expected an apply error \"%s\", got: %s", msg, errs ? errs : "");
        assert_int_equal(volume_capacity("c1-cidata.iso"), 3ull << 20);
        assert_null(virDomainLookupByName(keeper, "c1"));
}

/* reconcile's own seed volume grown large is made again at the seed's
 * size, not written in full. The test driver cannot resize: the volume is
 * made again large under the same name, the ledger's digest kept. */
static void test_large_seed_volume_made_again(void **state) {
        (void) state;
        lvh_want(guest);
        lvh_pass(0);
        virStoragePoolPtr p = virStoragePoolLookupByName(keeper, "default-pool");
        virStorageVolPtr v = virStorageVolLookupByName(p, "c1-cidata.iso");
        assert_non_null(v);
        assert_int_equal(virStorageVolDelete(v, 0), 0);
        virStorageVolFree(v);
        virStoragePoolFree(p);
        make_volume("c1-cidata.iso", 64ull << 20);
        lvh_want(guest_changed);
        assert_int_equal(lvh_pass(0), 1);
        assert_true(volume_capacity("c1-cidata.iso") <= CLOUDINIT_REUSE_MAX);
}

/* restart: on-change: the restart is an action, and after it nothing is pending. */
static void test_restart_on_change(void **state) {
        (void) state;
        lvh_want(guest);
        lvh_pass(0);
        char *edited = xasprintf("%s    restart: on-change\n", guest_changed);
        lvh_want(edited);
        free(edited);
        virDomainPtr dp = virDomainLookupByName(keeper, "c1");
        unsigned before = virDomainGetID(dp);
        struct run run;
        lvh_plan_only(&run);
        assert_non_null(lvh_find_change(&run, DOM_C_SEED));
        const struct change *c = lvh_find_change(&run, DOM_C_RESTART);
        assert_non_null(c);
        char now[512];
        assert_non_null(strstr(change_words(&run.plan.actions[0], c, true, now, sizeof(now)), "cloud-init seed"));
        assert_int_equal(run.plan.n_pending, 0);
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        virDomainFree(dp);
        dp = virDomainLookupByName(keeper, "c1"); /* a handle keeps the id it was looked up with */
        assert_int_equal(virDomainIsActive(dp), 1);
        assert_int_not_equal(virDomainGetID(dp), before); /* started again */
        virDomainFree(dp);
        assert_int_equal(lvh_pass(0), 0);
}

/* Boot orders changed on a defined domain: one redefinition, then in sync;
 * a running guest has the change pending until it restarts. */
static void test_device_boot_applied(void **state) {
        (void) state;
        const char *head = "version: 1\npools:\n  p:\n    type: dir\n    path: /p\n    volumes:\n      v1: { capacity: 1G }\n"
                           "domains:\n  b1:\n    memory: 128M\n    state: shutoff\n";
        char *y1 = xasprintf("%s    boot: [network, hd]\n    disks:\n      - { volume: p/v1 }\n"
                             "    interfaces:\n      - { network: default }\n", head);
        lvh_want(y1);
        lvh_pass(0);
        char *y2 = xasprintf("%s    disks:\n      - { volume: p/v1, boot: 1 }\n"
                             "    interfaces:\n      - { network: default, boot: 2 }\n", head);
        lvh_want(y2);
        struct run run;
        lvh_plan_only(&run);
        const struct change *c = lvh_find_change(&run, DOM_C_DEVICE_BOOT);
        assert_non_null(c);
        assert_string_equal(c->was.text, "(none)");
        assert_non_null(strstr(c->now.text, "1 disk p/v1, 2 interface 52:54:00:"));
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        char *xml = domain_xml("b1");
        struct xr *x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/os/boot"), 0);
        assert_int_equal(xr_count(x, "/domain/devices/disk/boot[@order='1']"), 1);
        assert_int_equal(xr_count(x, "/domain/devices/interface/boot[@order='2']"), 1);
        xr_free(x);
        free(xml);
        assert_int_equal(lvh_pass(0), 0);
        /* Back to the list: the devices' orders go in the same redefinition. */
        lvh_want(y1);
        assert_int_equal(lvh_pass(0), 1);
        xml = domain_xml("b1");
        x = xr_parse(xml);
        assert_int_equal(xr_count(x, "/domain/os/boot"), 2);
        assert_int_equal(xr_count(x, "/domain/devices/*/boot"), 0);
        xr_free(x);
        free(xml);
        assert_int_equal(lvh_pass(0), 0);
        free(y1);
        free(y2);
}

/* cloud-init added to a running guest: the seed's cdrom goes into the
 * definition only (a SATA drive cannot be hotplugged), and the restart it
 * needs is pending until the guest starts again. */
static void test_seed_added_to_running_guest(void **state) {
        (void) state;
        lvh_want(GUEST_HEAD);
        lvh_pass(0);
        lvh_want(guest);
        struct run run;
        lvh_plan_only(&run);
        assert_non_null(lvh_find_change(&run, DOM_C_SEED));
        assert_non_null(lvh_find_change(&run, DOM_C_DISK));
        run_done(&run);
        assert_int_equal(lvh_pass(0), 1);
        char *xml = domain_xml("c1");
        assert_non_null(strstr(xml, "c1-cidata.iso"));
        free(xml);
        virDomainPtr dp = virDomainLookupByName(keeper, "c1");
        xml = virDomainGetXMLDesc(dp, 0);
        assert_null(strstr(xml, "c1-cidata.iso")); /* not in the running guest */
        free(xml);
        lvh_plan_only(&run);
        assert_int_equal(run.plan.n_actions, 0);
        assert_int_equal(run.plan.n_pending, 1);
        assert_non_null(strstr(run.plan.pending[0].reason, "restart needed: cloud-init seed"));
        run_done(&run);
        assert_int_equal(virDomainDestroy(dp), 0);
        assert_int_equal(virDomainCreate(dp), 0);
        virDomainFree(dp);
        lvh_plan_only(&run);
        assert_int_equal(run.plan.n_actions, 0);
        assert_int_equal(run.plan.n_pending, 0);
        run_done(&run);
}

/* show: the boot orders as keys, the seed named in a comment (its content is
 * not read back) and not listed as a disk a manifest would declare. */
static void test_show_boot_and_seed(void **state) {
        (void) state;
        char *edited = xstrdup(guest);
        char *at = strstr(edited, "default-pool/c1-root }");
        assert_non_null(at);
        char *y = xasprintf("%.*sdefault-pool/c1-root, boot: 1 }%s", (int) (at - edited), edited,
                            at + strlen("default-pool/c1-root }"));
        lvh_want(y);
        lvh_pass(0);
        struct run run;
        lvh_plan_only(&run);
        char *yaml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&yaml, &len);
        assert_int_equal(show_print_yaml(f, &run.live), 0);
        fclose(f);
        run_done(&run);
        assert_non_null(strstr(yaml, "# cloud-init: seed default-pool/c1-cidata.iso on a cdrom, left as it is"));
        if (!strstr(yaml, "- {volume: \"default-pool/c1-root\", bus: virtio, boot: 1}"))
                fail_msg("no boot order on the disk:\n%s", yaml);
        assert_null(strstr(yaml, "volume: default-pool/c1-cidata.iso"));
        /* Nor as a pool's volume: declared, it would clash with the seed reconcile makes. */
        if (strstr(yaml, "c1-cidata.iso:") || strstr(yaml, "\"c1-cidata.iso\":"))
                fail_msg("the seed's volume is shown as a declared volume:\n%s", yaml);
        free(yaml);
        free(y);
        free(edited);
}

#define T(f) cmocka_unit_test_prestate_setup_teardown(f, lvh_setup, lvh_teardown, "ci")
int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_isofs_not_loaded_without_cloudinit),
                T(test_seed_iso_label_and_files),
                T(test_instance_id_digest),
                T(test_seed_files_and_errors),
                T(test_device_boot_xml_and_errors),
                T(test_seed_disk_xml),
                T(test_seed_rebuilt_restart_pending),
                T(test_seed_deleted_rebuilt),
                T(test_foreign_seed_volume_refused),
                T(test_large_seed_volume_made_again),
                T(test_restart_on_change),
                T(test_device_boot_applied),
                T(test_seed_added_to_running_guest),
                T(test_show_boot_and_seed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
