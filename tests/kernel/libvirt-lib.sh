# Helpers for the tests against a private libvirtd (tests/libvirt/libvirtd.sh),
# sourced after lib.sh. With LV_NETNS=1, reconcile acts in libvirtd's network
# namespace (where the guests' taps are), as it shares the host's on a real host.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HARNESS=$ROOT/tests/libvirt/libvirtd.sh
GUEST=$ROOT/$BUILD/guest

lv_up() {
        URI=$("$HARNESS" start "$TMP/lvd") || { fail "libvirtd did not start"; return 1; }
        LVPID=$(cat "$TMP/lvd/pid")
        IMAGES=$TMP/lvd/images
}
lv_down() { "$HARNESS" stop "$TMP/lvd"; }
v() { virsh -q -c "$URI" "$@" 2>&1; }
rl() { # reconcile against the private libvirtd
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --libvirt-uri "$URI" \
                ${LV_NETNS:+--netns "/proc/$LVPID/ns/net"} --only network,pool,volume,domain "$@" 2>&1)
        RC=$?
}

# guest [EXTRA-DOMAIN-KEYS]: g1, booted directly from Debian's kernel with a
# busybox initramfs (tests/libvirt/guest.sh), with its marker disk (vda,
# written at boot) and one NIC; MACHINE, INITRD (acpi or deaf), MARK (more keys
# of the marker disk), DISKS, NICS and NIC1 (the first NIC's keys) vary it.
guest() {
        cat <<EOF2
version: 1
networks:
  lan1: { mode: isolated, bridge: virbr41 }
  lan2: { mode: isolated, bridge: virbr42 }
pools:
  images:
    type: dir
    path: $IMAGES
    volumes:
      g1-mark: { capacity: 1M, format: raw }
      g1-data: { capacity: 2M, format: raw }
domains:
  g1:
    memory: 128M
${MACHINE:+    machine: $MACHINE}
    kernel: $GUEST/vmlinuz
    initrd: $GUEST/initrd-${INITRD:-acpi}.img
    cmdline: "console=ttyS0 quiet panic=-1"
${1:-}
    disks:
      - { volume: images/g1-mark${MARK:-} }
${DISKS:-}
    interfaces:
      - { ${NIC1:-network: lan1} }
${NICS:-}
EOF2
}

# The guest writes its first virtio disk once its init is up (acpid running).
wait_booted() {
        local i
        for i in $(seq 1 80); do
                [ "$(v domblkstat g1 vda | awk '$2 == "wr_req" {print $3}')" -gt 0 ] 2>/dev/null && return 0
                sleep 0.5
        done
        fail "g1 did not boot within 40 s"
        return 1
}

# wait_for CMD WANT: poll up to 30 s for CMD's output to be WANT.
wait_for() {
        local i
        for i in $(seq 1 60); do [ "$($1)" = "$2" ] && return 0; sleep 0.5; done
        return 1
}

# Why the running-guest tests cannot run here (empty when they can): the
# guest image (Debian's kernel, busybox initramfs) is built on the way.
guest_skip_reason() {
        if ! command -v libvirtd >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
                echo "libvirtd or qemu-system-x86_64 not installed (make deps installs them)"
        elif ! command -v busybox >/dev/null || ! command -v cpio >/dev/null; then
                echo "busybox-static or cpio not installed (make deps installs them)"
        elif [ "$(id -u)" -eq 0 ] && ! "$ROOT/tests/libvirt/guest.sh" "$GUEST" >"$ROOT/$BUILD/guest-build.log" 2>&1; then
                echo "cannot build the guest image: $(tail -1 "$ROOT/$BUILD/guest-build.log")"
        fi
}
