/* Generated MACs: derived per host and name, and random ones that stay per
 * host and name where getrandom fails (an old kernel, a sandbox). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include "../../reconcile/reconcile.h"

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static void assert_local_unicast(const unsigned char mac[6]) {
        assert_int_equal(mac[0] & 0x03, 0x02);
}

static void test_derived_per_name(void **state) {
        (void) state;
        unsigned char a[6], b[6], again[6];
        if (mac_derive("bridge", "br0", a) < 0)
                skip(); /* no /etc/machine-id here */
        assert_int_equal(mac_derive("bridge", "br1", b), 0);
        assert_int_equal(mac_derive("bridge", "br0", again), 0);
        assert_memory_equal(a, again, 6);
        assert_memory_not_equal(a, b, 6);
        assert_local_unicast(a);
        assert_local_unicast(b);
}

/* A bridge's MAC is a DHCP lease and a firewall rule: the derivation must not
 * change. This recomputes it as it was first written, FNV-1a from the seed
 * 1469598103934665603 over the machine id, "reconcile-bridge:" and the name. */
static void test_derived_unchanged(void **state) {
        (void) state;
        unsigned char got[6], want[6];
        char id[33] = "";
        FILE *f = fopen("/etc/machine-id", "r");
        if (!f || fread(id, 1, 32, f) != 32 || mac_derive("bridge", "br0", got) < 0) {
                if (f)
                        fclose(f);
                skip();
        }
        fclose(f);
        char text[128];
        snprintf(text, sizeof(text), "%sreconcile-bridge:br0", id);
        uint64_t h = 1469598103934665603ull;
        for (const unsigned char *p = (const unsigned char *) text; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        for (int i = 0; i < 6; i++)
                want[i] = (unsigned char) (h >> (8 * i));
        want[0] = (unsigned char) ((want[0] & 0xfe) | 0x02);
        assert_memory_equal(got, want, 6);
        assert_int_equal(hash_fnv1a(HASH_FNV1A_SEED, text, strlen(text)), h);
        assert_int_equal(hash_fnv1a_str(hash_fnv1a(HASH_FNV1A_SEED, text, 10), text + 10), h);
}

#ifdef TEST_AUDIT_ARCH
/* From here on getrandom(2) fails with ENOSYS in this process, as on a kernel
 * without it or in a sandbox that forbids it. */
static int forbid_getrandom(void) {
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getrandom, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return -errno;
        return 0;
}

/* From here on this process sees an empty /etc/machine-id, as a host without
 * one (a fresh image) would. */
static int hide_machine_id(void) {
        if (unshare(getuid() == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("/dev/null", "/etc/machine-id", NULL, MS_BIND, NULL) < 0)
                return -errno;
        return 0;
}

/* The MACs of three names, made in a child where getrandom fails (and, with
 * no_id, /etc/machine-id is empty); 1 if that could not be arranged here. */
static int fallback_macs(unsigned char out[3][6], bool no_id) {
        int fds[2];
        if (pipe(fds) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                unsigned char m[3][6], probe[1];
                char status = 0;
                close(fds[0]);
                if ((no_id && hide_machine_id() < 0) || forbid_getrandom() < 0 || getrandom(probe, 1, 0) == 1)
                        status = 1; /* no seccomp here, or the C library answers without the system call */
                mac_random("bridge", "br0", m[0]);
                mac_random("bridge", "br1", m[1]);
                mac_random("domain-nic", "web1/0", m[2]);
                if (write(fds[1], &status, 1) != 1 || write(fds[1], m, sizeof(m)) != (ssize_t) sizeof(m))
                        _exit(2);
                _exit(0);
        }
        close(fds[1]);
        char status = 2;
        ssize_t n = read(fds[0], &status, 1);
        ssize_t got = n == 1 ? read(fds[0], out, 18) : -1;
        close(fds[0]);
        int ws;
        waitpid(pid, &ws, 0);
        if (got != 18 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
                return -EIO;
        return status;
}

/* Before, every host and every name got 42:42:42:42:42:42 (as 42:42:... with
 * the local bit) here: two bridges on one host, or one on each of two hosts
 * of a network, collided. */
static void test_fallback_without_getrandom(void **state) {
        (void) state;
        unsigned char m[3][6], derived[6];
        int r = fallback_macs(m, false);
        if (r == 1)
                skip();
        assert_int_equal(r, 0);
        assert_memory_not_equal(m[0], m[1], 6);
        assert_memory_not_equal(m[0], m[2], 6);
        assert_memory_not_equal(m[1], m[2], 6);
        for (int i = 0; i < 3; i++)
                assert_local_unicast(m[i]);
        /* With a machine id, derived as the bridge MACs are: per host and name. */
        if (mac_derive("bridge", "br1", derived) == 0)
                assert_memory_equal(m[1], derived, 6);
}

/* Without a machine id either: from the host name and boot id, still per name. */
static void test_fallback_without_getrandom_or_machine_id(void **state) {
        (void) state;
        unsigned char m[3][6];
        int r = fallback_macs(m, true);
        if (r == 1)
                skip(); /* no mount namespace for this user */
        assert_int_equal(r, 0);
        assert_memory_not_equal(m[0], m[1], 6);
        assert_memory_not_equal(m[0], m[2], 6);
        for (int i = 0; i < 3; i++)
                assert_local_unicast(m[i]);
}
#else
static void test_fallback_without_getrandom_or_machine_id(void **state) {
        (void) state;
        skip();
}

static void test_fallback_without_getrandom(void **state) {
        (void) state;
        skip(); /* the seccomp filter names the architecture */
}
#endif

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_derived_per_name),
                cmocka_unit_test(test_derived_unchanged),
                cmocka_unit_test(test_fallback_without_getrandom),
                cmocka_unit_test(test_fallback_without_getrandom_or_machine_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
