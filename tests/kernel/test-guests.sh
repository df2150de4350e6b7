#!/bin/bash
# Domains a guest can live in, against a private libvirtd (tests/libvirt/libvirtd.sh)
# with running guests: Debian's stock kernel booted directly (kernel, initrd,
# cmdline) with a busybox initramfs (tests/libvirt/guest.sh) under TCG.
# Live NIC and disk attach and detach on pc and q35; a graceful shutdown of a
# guest that honours the ACPI power button, and of one that ignores it
# (pending, then an error after shutdown-timeout, then forced off when
# declared). virsh is the independent witness.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
# TCG only: a /dev/kvm that cannot run a guest would hang every boot here.
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg

live_disks() { v domblklist g1 | awk '{print $1}' | sort | tr '\n' ' '; }
live_nics() { v domiflist g1 | awk '{print $3}' | sort | tr '\n' ' '; }

hotplug_on() {
        lv_up || return
        manifest "$(guest)"
        rl apply; expect_rc 0
        [ "$(v domstate g1)" = running ] || { fail "g1 not running: $(v domstate g1)"; lv_down; return; }
        v dumpxml --inactive g1 | grep -q "<acpi/>" || fail "no acpi in the definition"
        v dumpxml --inactive g1 | grep -q "<apic/>" || fail "no apic in the definition"
        v dumpxml g1 | grep -q "machine='$1" || fail "machine is not $1*: $(v dumpxml g1 | grep machine=)"
        if [ "$1" = pc-q35 ]; then
                [ "$(v dumpxml --inactive g1 | grep -c "model='pcie-root-port'")" -ge 14 ] || fail "fewer than 14 root ports"
        fi
        local id; id=$(v domid g1)
        wait_booted || { lv_down; return; }
        # Attach live: a disk and a NIC to the running guest.
        manifest "$(DISKS='      - { volume: images/g1-data }' NICS='      - { network: lan2 }' guest)"
        rl apply; expect_rc 0
        [ "$(live_disks)" = "vda vdb " ] || fail "live disks after attach: $(live_disks)"
        [ "$(live_nics)" = "lan1 lan2 " ] || fail "live interfaces after attach: $(live_nics)"
        v dumpxml --inactive g1 | grep -q "volume='g1-data'" || fail "the attached disk is not in the definition"
        rl plan --exit-code; expect_rc 0 "in sync after a live attach"
        expect_no_out '^!'
        # Detach live: the guest kernel ejects them (ACPI or PCIe hotplug).
        manifest "$(guest)"
        rl apply; expect_rc 0
        wait_for live_disks "vda " || fail "live disks after detach: $(live_disks)"
        wait_for live_nics "lan1 " || fail "live interfaces after detach: $(live_nics)"
        v dumpxml --inactive g1 | grep -q "volume='g1-data'" && fail "the detached disk is still in the definition"
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        rl plan --exit-code; expect_rc 0 "in sync after a live detach"
        expect_no_out '^!'
        lv_down
}

test_hotplug_pc() { MACHINE=pc hotplug_on pc-i440fx; }
test_hotplug_q35() { MACHINE=q35 hotplug_on pc-q35; }

test_shutdown_honoured() {
        lv_up || return
        manifest "$(guest)"
        rl apply; expect_rc 0
        wait_booted || { lv_down; return; }
        manifest "$(guest '    state: shutoff')"
        rl apply; expect_rc 0 "a shutdown on its way is not an error"
        expect_out 'state running -> shutoff'
        expect_no_out 'did not converge'
        wait_for "v domstate g1" "shut off" || fail "the guest did not power off on the ACPI button: $(v domstate g1)"
        rl plan --exit-code; expect_rc 0 "in sync once off"
        expect_no_out '^!'
        lv_down
}

test_shutdown_ignored() {
        lv_up || return
        INITRD=deaf manifest "$(INITRD=deaf guest)"
        rl apply; expect_rc 0
        wait_booted || { lv_down; return; }
        local id; id=$(v domid g1)
        manifest "$(INITRD=deaf guest '    state: shutoff
    shutdown-timeout: 8')"
        rl apply; expect_rc 0 "the first run asks and waits"
        expect_no_out 'did not converge'
        # A later run (another process) knows since when: pending, nothing asked again.
        rl plan --exit-code; expect_rc 0 "a shutdown in progress is pending, not a change"
        expect_out '^! domain g1 +shutting down, [0-9]+ s of 8$'
        [ "$(v domstate g1)" = running ] || fail "g1 is not running any more: $(v domstate g1)"
        # The press is recorded with the host's boot: after a reboot (domain ids and
        # boot time start again) an old record never counts for a new guest.
        local boot; boot=$(cat /proc/sys/kernel/random/boot_id)
        grep -q "shutdown=[0-9]*@[0-9]*@$boot" "$S/ledger" || fail "the press is not recorded with the host's boot: $(grep shutdown "$S/ledger")"
        cp "$S/ledger" "$TMP/ledger.kept"
        sed -i "s/@$boot/@00000000-0000-0000-0000-000000000000/" "$S/ledger"
        rl plan; expect_out '^~ domain g1 +state running -> shutoff'
        cp "$TMP/ledger.kept" "$S/ledger"
        sleep 9
        rl apply; expect_rc 1
        expect_out 'still running [0-9]+ s after the ACPI power button \(shutdown-timeout 8\); declare force-off: true'
        [ "$(v domstate g1)" = running ] || fail "powered off without force-off: $(v domstate g1)"
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        # Wanted up again: the old press is forgotten, so a later shutoff presses anew.
        manifest "$(INITRD=deaf guest)"
        rl plan; expect_out '^~ domain g1 +shutdown requested [0-9]+ s ago -> forgotten$'
        rl apply; expect_rc 0
        rl plan --exit-code; expect_rc 0
        manifest "$(INITRD=deaf guest '    state: shutoff
    shutdown-timeout: 8
    force-off: true')"
        rl apply; expect_rc 0 "a fresh press, not a power-off"
        expect_out 'state running -> shutoff$'
        [ "$(v domstate g1)" = running ] || fail "powered off before its timeout: $(v domstate g1)"
        sleep 9
        rl plan; expect_out 'state running \(no shutdown after [0-9]+ s\) -> shutoff \(forced off\)'
        rl apply; expect_rc 0
        [ "$(v domstate g1)" = "shut off" ] || fail "not forced off: $(v domstate g1)"
        rl plan --exit-code; expect_rc 0
        expect_no_out '^!'
        lv_down
}

test_existing_domain_gets_acpi() {
        lv_up || return
        manifest "$(guest '    state: shutoff')"
        rl apply; expect_rc 0
        # A definition from before reconcile rendered the features.
        v dumpxml --inactive g1 | sed '/<features>/,/<\/features>/d' >"$TMP/old.xml"
        v define "$TMP/old.xml" >/dev/null || fail "virsh define"
        v dumpxml --inactive g1 | grep -q '<acpi/>' && fail "set-up: acpi still there"
        manifest "$(guest)"
        rl plan; expect_out '^~ domain g1 .*features \(none\) -> acpi apic'
        rl apply; expect_rc 0
        v dumpxml --inactive g1 | grep -q '<acpi/>' || fail "acpi not added to the definition"
        v dumpxml g1 | grep -q '<acpi/>' || fail "the guest was started without acpi"
        rl plan --exit-code; expect_rc 0
        lv_down
}

# Issue 23.4: a vCPU the guest cannot unplug (vCPUs present at boot are not
# hotpluggable) is refused live after the definition took it: the apply fails,
# and every later plan shows the running value as pending, not in sync.
test_vcpu_shrink_refused() {
        lv_up || return
        manifest "$(guest '    vcpus: 2
    max-vcpus: 2')"
        rl apply; expect_rc 0
        [ "$(v domstate g1)" = running ] || { fail "g1 not running: $(v domstate g1)"; lv_down; return; }
        wait_booted || { lv_down; return; }
        local id; id=$(v domid g1)
        manifest "$(guest '    vcpus: 1
    max-vcpus: 2')"
        rl plan; expect_out '^~ domain g1 .*vcpus 2 -> 1'
        rl apply; expect_rc 1 "a live change the guest refused is not a success"
        expect_out 'vcpus 1 is in the definition, but the running guest refused it \(.*\): it keeps 2 until it restarts'
        [ "$(v vcpucount g1 --config --active)" = 1 ] || fail "definition vcpus: $(v vcpucount g1 --config --active)"
        [ "$(v vcpucount g1 --live --active)" = 2 ] || fail "running vcpus: $(v vcpucount g1 --live --active)"
        local n
        for n in 1 2; do
                rl plan --exit-code; expect_rc 0 "plan $n: pending, neither a change nor an error"
                expect_out '^! domain g1 +restart needed: vcpus 2 -> 1 \(the running guest has 2\)$'
                expect_no_out '^~ domain g1'
        done
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        lv_down
}

why=$(guest_skip_reason)
t "guests: live disk and NIC attach and detach on a running pc guest" test_hotplug_pc "$why"
t "guests: live disk and NIC attach and detach on a running q35 guest" test_hotplug_q35 "$why"
t "guests: state shutoff powers off a guest that honours ACPI, no error while it goes down" test_shutdown_honoured "$why"
t "guests: a guest ignoring ACPI is pending, then an error after shutdown-timeout, then forced off when declared" test_shutdown_ignored "$why"
t "guests: a definition without acpi and apic gets them" test_existing_domain_gets_acpi "$why"
t "guests: a vcpu shrink the guest refuses live fails the apply and stays pending with the running value" test_vcpu_shrink_refused "$why"
