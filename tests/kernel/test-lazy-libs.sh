#!/bin/bash
# libvirt (and the libxml2 it needs) is loaded only when a run needs a libvirt
# kind, libsystemd only when the daemon notifies systemd: the binary links
# neither, a kernel-only run never maps them (the dynamic loader's own log is
# the witness), and a host without libvirt runs its kernel kinds and gets one
# error for a libvirt kind. (test-daemon.sh checks the notifications arrive.)
. "$(dirname "$0")/lib.sh"

# The shared objects the dynamic loader mapped during one run, one per line.
loaded_libs() {
        LD_DEBUG=files "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" "$@" 2>&1 >/dev/null |
                sed -n 's/.*file=\([^ ]*\) .*/\1/p' | sort -u
}

test_not_linked() {
        OUT=$(ldd "$RECONCILE" 2>&1)
        expect_out 'libmnl' # the witness reads the binary's libraries at all
        expect_no_out 'libvirt|libxml2|libsystemd'
}

test_kernel_run_maps_no_libvirt() {
        manifest 'version: 1
bridges:
  br0: { addresses: [10.9.0.1/24] }
'
        rc apply; expect_rc 0
        OUT=$(loaded_libs plan)
        expect_out '^libmnl'
        expect_no_out 'libvirt|libxml2|libsystemd'
        rc plan --exit-code; expect_rc 0 "the kernel-only run is a no-op"
        manifest 'version: 1
bridges:
  br0: { addresses: [10.9.0.1/24] }
networks:
  n1: { mode: isolated }
'
        OUT=$(loaded_libs --libvirt-uri test:///default plan)
        expect_out '^libvirt\.so\.0$'
        expect_out '^libxml2\.so\.2$'
        rc --libvirt-uri test:///default plan; expect_rc 0
        expect_out '^\+ network n1'
}

# A daemon of kernel kinds, after its first run and with its drift watches
# open, has mapped neither: its own /proc/PID/maps is the witness.
test_daemon_maps_no_libvirt() {
        manifest 'version: 1
bridges:
  br0: { addresses: [10.9.0.1/24] }
'
        "$RECONCILE" daemon -d "$M" --state-dir "$S" --netns "$NS" >"$TMP/log" 2>&1 &
        local pid=$! i
        for i in $(seq 1 250); do grep -q '^run 1 .*done' "$TMP/log" && break; sleep 0.02; done
        grep -q '^run 1 .*done' "$TMP/log" || fail "the daemon did not finish its first run: $(cat "$TMP/log")"
        link_exists br0 || fail "br0 was not made"
        OUT=$(cat "/proc/$pid/maps")
        expect_out 'libmnl'
        expect_no_out 'libvirt|libxml2|libsystemd'
        kill -TERM "$pid"
        wait "$pid" || fail "the daemon exited with $?"
}

# Run in a private mount namespace where libvirt.so.0 is an empty file.
without_libvirt() {
        local lib
        lib=$(ldconfig -p | sed -n 's/^\t*libvirt\.so\.0 (libc6,x86-64) => //p' | head -1)
        unshare -m bash -c 'mount --bind /dev/null "$1" && shift && exec "$@"' - "$lib" \
                "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" "$@" 2>&1
}

test_host_without_libvirt() {
        manifest 'version: 1
bridges:
  br0: {}
'
        OUT=$(without_libvirt apply); RC=$?
        expect_rc 0 "a kernel-only apply without libvirt"
        link_exists br0 || fail "br0 was not made"
        manifest 'version: 1
bridges:
  br0: {}
  br1: {}
networks:
  n1: { mode: isolated }
'
        OUT=$(without_libvirt --libvirt-uri test:///default plan); RC=$?
        expect_rc 1 "a libvirt kind without libvirt"
        expect_out '^error: libvirt backend: libvirt is not installed \((/.*/)?libvirt\.so\.0: '
        [ "$(printf '%s\n' "$OUT" | grep -c 'not installed')" = 1 ] || fail "not said exactly once"
        expect_out '^\+ bridge br1' # the kernel kinds are still planned
}

echo "1..4"
if ! ldconfig -p | grep -q 'libvirt\.so\.0 '; then
        t "the binary does not link libvirt, libxml2 or libsystemd" test_not_linked
        t "a kernel-only run maps no libvirt or libsystemd; a libvirt kind loads libvirt" test_kernel_run_maps_no_libvirt "libvirt is not installed"
        t "without libvirt: kernel kinds apply, a libvirt kind is one error" test_host_without_libvirt "libvirt is not installed"
        t "a daemon of kernel kinds maps no libvirt or libsystemd" test_daemon_maps_no_libvirt
        exit 0
fi
t "the binary does not link libvirt, libxml2 or libsystemd" test_not_linked
t "a kernel-only run maps no libvirt or libsystemd; a libvirt kind loads libvirt" test_kernel_run_maps_no_libvirt
t "without libvirt: kernel kinds apply, a libvirt kind is one error" test_host_without_libvirt
t "a daemon of kernel kinds maps no libvirt or libsystemd" test_daemon_maps_no_libvirt
