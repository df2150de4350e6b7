#!/bin/bash
# Guest tuning (issue 18 points 4-7) against a private libvirtd with a running
# TCG guest (see test-guests.sh): CPU topology, vCPU and emulator pins, an
# iothread, a NUMA cell and its memory binding, disk I/O modes and limits, a
# balloon, an RNG, a watchdog and lifecycle actions, defined and started;
# pins and I/O limits then changed live on the running guest. A guest with PCI
# and USB passthrough, a macvtap NIC and an interface on an SR-IOV VF pool (a
# hostdev network, defined, not started: no VFs here) is defined only (state:
# present) against a fake sysfs that has those devices ($RECONCILE_SYSFS);
# without them the plan refuses it at the key, as it refuses a guest on 2M
# pages when too few are free. virsh is the witness; after each
# change a second plan is empty and show's output, read back, plans nothing.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg

in_sync() {
        rl plan --exit-code; expect_rc 0 "$1: a second plan is empty"
        expect_no_out '^[~+-] '
        if [ -n "${2:-}" ]; then expect_out "$2"; else expect_no_out '^!'; fi
}

show_round_trip() {
        local saved=$OUT dir=$TMP/shown-$1
        OUT=$("$RECONCILE" --state-dir "$S" --libvirt-uri "$URI" --only network,pool,volume,domain show 2>&1) ||
                fail "$1: show failed"
        mkdir -m 700 "$dir"
        printf '%s\n' "$OUT" >"$dir/show.yaml"
        chmod 600 "$dir/show.yaml"
        SHOWN=$OUT
        OUT=$("$RECONCILE" -d "$dir" validate 2>&1); RC=$?
        expect_rc 0 "$1: show's output validates"
        OUT=$("$RECONCILE" -d "$dir" --state-dir "$S" --libvirt-uri "$URI" --only network,pool,volume,domain plan --exit-code 2>&1)
        RC=$?
        expect_rc 0 "$1: show's output plans nothing"
        expect_no_out '^[~+-] '
        OUT=$saved
}

# A fake sysfs for the plan-time host checks: this host's CPUs and nodes, and
# the passthrough devices this machine does not have.
fake_sys() {
        local s=$TMP/sys
        mkdir -p "$s/devices/system/cpu" "$s/devices/system/node" "$s/bus/pci/devices/0000:01:00.0" "$s/bus/usb/devices/1-1"
        cat /sys/devices/system/cpu/online >"$s/devices/system/cpu/online"
        cat /sys/devices/system/node/online >"$s/devices/system/node/online" 2>/dev/null || echo 0 >"$s/devices/system/node/online"
        echo 1234 >"$s/bus/usb/devices/1-1/idVendor"
        echo 5678 >"$s/bus/usb/devices/1-1/idProduct"
        mkdir -p "$s/kernel/mm/hugepages/hugepages-2048kB"
        echo 10 >"$s/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
        echo "$s"
}

tuned_keys() {
        cat <<EOF2
    vcpus: 2
    cpu-topology: { sockets: 1, cores: 2, threads: 1 }
    vcpu-pins: { 0: "${PIN0:-0}", 1: "${PIN1:-1}" }
    emulator-pin: "${EPIN:-0-1}"
    iothreads: 1
    numa: [{ cpus: "0-1", memory: 128M }]
    numa-tune: { mode: strict, nodeset: "0" }
    memballoon: virtio
    rng: virtio
    watchdog: { model: i6300esb, action: reset }
    on-crash: restart
EOF2
}

test_tuned_guest_live_pins() {
        lv_up || return
        MARK=", io: threads, iothread: 1, serial: MARK1, detect-zeroes: \"on\", iotune: { total-bytes-sec: ${BPS:-10M}, total-iops-sec: 500 }"
        export MARK
        manifest "$(guest "$(tuned_keys)")"
        rl apply; expect_rc 0 "defined and started"
        [ "$(v domstate g1)" = running ] || { fail "g1 not running: $(v domstate g1) $OUT"; lv_down; unset MARK; return; }
        local x; x=$(v dumpxml --inactive g1)
        for want in "<iothreads>1</iothreads>" "<vcpupin vcpu='0' cpuset='0'/>" "<emulatorpin cpuset='0-1'/>" \
                "<memory mode='strict' nodeset='0'/>" "<topology sockets='1' dies='1' cores='2' threads='1'/>" \
                "cpus='0-1' memory='131072' unit='KiB'" "io='threads'" "iothread='1'" "detect_zeroes='on'" \
                "<serial>MARK1</serial>" "<total_bytes_sec>10485760</total_bytes_sec>" "<rng model='virtio'>" \
                "<watchdog model='i6300esb' action='reset'" "<on_crash>restart</on_crash>" "<memballoon model='virtio'"; do
                grep -qF "$want" <<<"$x" || fail "the definition lacks $want"
        done
        wait_booted || { lv_down; unset MARK; return; }
        in_sync "tuned"
        show_round_trip tuned
        grep -qF 'vcpu-pins: {0: "0", 1: "1"}' <<<"$SHOWN" || fail "show lacks the pins"
        grep -qF 'iotune: {total-bytes-sec: 10M, total-iops-sec: 500}' <<<"$SHOWN" || fail "show lacks the disk's iotune"
        # Live: the pins swapped and the limit raised on the running guest, no restart.
        local id; id=$(v domid g1)
        PIN0=1 PIN1=0 BPS=20M EPIN=1
        MARK=", io: threads, iothread: 1, serial: MARK1, detect-zeroes: \"on\", iotune: { total-bytes-sec: 20M, total-iops-sec: 500 }"
        manifest "$(guest "$(tuned_keys)")"
        rl plan; expect_out 'vcpu-pins'
        expect_out 'emulator-pin 0-1 -> 1'
        expect_out 'iotune'
        rl apply; expect_rc 0 "pinned live"
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        v vcpupin g1 | grep -qE '^ *0 +1$' || fail "vCPU 0 is not on CPU 1 live: $(v vcpupin g1)"
        v vcpupin g1 | grep -qE '^ *1 +0$' || fail "vCPU 1 is not on CPU 0 live: $(v vcpupin g1)"
        v vcpupin g1 --config | grep -qE '^ *0 +1$' || fail "vCPU 0 is not on CPU 1 in the definition"
        [ "$(v emulatorpin g1 | awk 'NF {print $NF}')" = 1 ] || fail "the emulator is not on CPU 1 live: $(v emulatorpin g1)"
        [ "$(v emulatorpin g1 --config | awk 'NF {print $NF}')" = 1 ] || fail "the emulator is not on CPU 1 in the definition: $(v emulatorpin g1 --config)"
        v blkdeviotune g1 vda | grep -qE '^total_bytes_sec *: *20971520$' || fail "live iotune: $(v blkdeviotune g1 vda)"
        v blkdeviotune g1 vda --config | grep -qE '^total_bytes_sec *: *20971520$' || fail "defined iotune"
        in_sync "pinned live"
        # Pins dropped (an empty mapping): the definition loses them, the running guest is unpinned.
        manifest "$(guest "$(tuned_keys | sed 's/^    vcpu-pins: .*/    vcpu-pins: {}/')")"
        rl apply; expect_rc 0 "unpinned live"
        v vcpupin g1 --config | grep -qE '^ *0 +0-1$' || fail "vCPU 0 still pinned in the definition: $(v vcpupin g1 --config)"
        v vcpupin g1 | grep -qE '^ *0 +0-1$' || fail "vCPU 0 still pinned live: $(v vcpupin g1)"
        in_sync "unpinned"
        # Restart-only tuning is pending for the running guest, never a restart.
        manifest "$(guest "$(tuned_keys | sed 's/on-crash: restart/on-crash: preserve/')")"
        rl apply; expect_rc 0
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted for on-crash"
        in_sync "on-crash" '^! domain g1 +restart needed: on-crash restart -> preserve'
        # A pin to a CPU this host lacks: an error at the key, and nothing done.
        PIN0=1023
        manifest "$(guest "$(tuned_keys)")"
        rl apply; expect_rc 1 "a pin to a CPU the host lacks"
        expect_out "host.yaml:[0-9]+:[0-9]+: error: domain g1: vcpu-pins 0: host CPU 1023 does not exist"
        unset MARK PIN0 PIN1 BPS EPIN
        lv_down
}

passthrough_guest() {
        cat <<EOF2
version: 1
networks:
  vfs: { mode: hostdev, pf: lo, active: false, autostart: false }
domains:
  g2:
    memory: 64M
    state: present
    hostdevs:
      - { pci: "0000:01:00.0", managed: true }
      - { usb: { vendor: "0x1234", product: "0x5678" } }
    interfaces:
      - { direct: ${DIRECT:-lo}, mode: ${MODE:-vepa} }
      - { network: vfs, mac: "52:54:00:00:00:22" }
EOF2
}

test_passthrough_defined() {
        lv_up || return
        local sys; sys=$(fake_sys)
        manifest "$(passthrough_guest)"
        RECONCILE_SYSFS=$sys rl apply; expect_rc 0 "defined"
        local x; x=$(v dumpxml --inactive g2)
        for want in "<hostdev mode='subsystem' type='pci' managed='yes'>" \
                "<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>" \
                "<hostdev mode='subsystem' type='usb' managed='yes'>" "<vendor id='0x1234'/>" "<product id='0x5678'/>" \
                "<interface type='direct'>" "<source dev='lo' mode='vepa'/>" "<source network='vfs'/>"; do
                grep -qF "$want" <<<"$x" || fail "the definition lacks $want"
        done
        v net-dumpxml --inactive vfs | grep -qF "<pf dev='lo'/>" || fail "the VF pool has no pf: $(v net-dumpxml --inactive vfs)"
        v net-dumpxml --inactive vfs | grep -qF "<forward mode='hostdev' managed='yes'>" || fail "the VF pool is no hostdev network"
        [ "$(v domstate g2)" = "shut off" ] || fail "state: present started g2"
        export RECONCILE_SYSFS=$sys
        in_sync "defined"
        show_round_trip defined
        grep -qF '{direct: lo, mode: vepa' <<<"$SHOWN" || fail "show lacks the direct NIC"
        grep -qF '{pci: "0000:01:00.0", managed: true}' <<<"$SHOWN" || fail "show lacks the PCI hostdev"
        MODE=private manifest "$(MODE=private passthrough_guest)"
        rl apply; expect_rc 0 "macvtap mode changed"
        v dumpxml --inactive g2 | grep -qF "<source dev='lo' mode='private'/>" || fail "the mode is not private"
        in_sync "mode changed"
        # A guest on 2M pages to start, and 10 free: refused at page-size, the rest goes on.
        manifest "$(passthrough_guest)
  g3: { memory: 64M, memory-backing: hugepages, page-size: 2M }"
        rl apply; expect_rc 1 "too few huge pages"
        expect_out "host.yaml:14:60: error: domain g3: page-size 2M: it needs 32 pages for its memory, and the host has free 10"
        v dominfo g3 >/dev/null 2>&1 && fail "g3 was defined"
        manifest "$(passthrough_guest)"
        unset RECONCILE_SYSFS
        # The host as it is: no such devices, an error at each hostdev.
        rl plan; expect_rc 1 "devices this host lacks"
        expect_out "host.yaml:9:9: error: domain g2: hostdev pci 0000:01:00.0: no such PCI device on this host"
        lv_down
}

why=$(guest_skip_reason)
t "guest tuning: topology, pins, iothread, NUMA, disk I/O, devices defined and started; pins and iotune live (issue 18.4-7)" \
        test_tuned_guest_live_pins "$why"
t "guest tuning: PCI and USB passthrough, a macvtap NIC and one from an SR-IOV VF pool defined and read back; refused without the devices (issue 18.6)" \
        test_passthrough_defined "$(command -v libvirtd >/dev/null || echo "libvirtd not installed (make deps installs it)")"
