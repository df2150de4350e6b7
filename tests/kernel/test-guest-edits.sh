#!/bin/bash
# Edits an operator makes to a defined guest, against a private libvirtd with a
# running guest (TCG, direct kernel boot; see test-guests.sh): a NIC moved to
# another network and its model changed, disk attributes and a cdrom's ISO
# swapped, and device changes together with a state change. virsh is the
# witness; after each change a second plan is empty and show's output, read
# back as manifests, validates and plans nothing.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg

# A second plan has nothing to do and nothing pending unless PENDING (a regex) is given.
in_sync() {
        rl plan --exit-code; expect_rc 0 "$1: a second plan is empty"
        expect_no_out '^[~+-] '
        if [ -n "${2:-}" ]; then expect_out "$2"; else expect_no_out '^!'; fi
}

# show's output, read back as the manifests: valid, and nothing to do.
show_round_trip() {
        local saved=$OUT dir=$TMP/shown-$1
        OUT=$("$RECONCILE" --state-dir "$S" --libvirt-uri "$URI" --only network,pool,volume,domain show 2>&1) ||
                fail "$1: show failed"
        mkdir -m 700 "$dir"
        printf '%s\n' "$OUT" >"$dir/show.yaml"
        chmod 600 "$dir/show.yaml"
        OUT=$("$RECONCILE" -d "$dir" validate 2>&1); RC=$?
        expect_rc 0 "$1: show's output validates"
        OUT=$("$RECONCILE" -d "$dir" --state-dir "$S" --libvirt-uri "$URI" --only network,pool,volume,domain plan --exit-code 2>&1)
        RC=$?
        expect_rc 0 "$1: show's output plans nothing"
        expect_no_out '^[~+-] '
        OUT=$saved
}

nic_of() { v domiflist g1 "$@" | awk '{print $3, $4, $5}' | tr '\n' ' '; }

# Point 1: a NIC moved to another network goes live (same MAC, same guest);
# a model change is written to the definition, pending for the running guest.
test_nic_edits() {
        lv_up || return
        manifest "$(guest)"
        rl apply; expect_rc 0
        wait_booted || { lv_down; return; }
        local id mac; id=$(v domid g1)
        mac=$(v domiflist g1 | awk '{print $5}')
        manifest "$(NIC1='network: lan2' guest)"
        rl plan; expect_out "^~ domain g1 .*interface $mac .*lan1 -> .*lan2"
        rl apply; expect_rc 0
        [ "$(nic_of)" = "lan2 virtio $mac " ] || fail "live interface after the move: $(nic_of)"
        [ "$(nic_of --inactive)" = "lan2 virtio $mac " ] || fail "defined interface after the move: $(nic_of --inactive)"
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        in_sync "network moved"
        show_round_trip moved
        manifest "$(NIC1='network: lan2, model: e1000' guest)"
        rl plan; expect_out "^~ domain g1 .*interface $mac .*virtio -> e1000"
        rl apply; expect_rc 0
        [ "$(nic_of --inactive)" = "lan2 e1000 $mac " ] || fail "defined interface after the model change: $(nic_of --inactive)"
        [ "$(nic_of)" = "lan2 virtio $mac " ] || fail "live interface after the model change: $(nic_of)"
        in_sync "model changed" "^! domain g1 +restart needed: .*interface $mac model virtio -> e1000"
        show_round_trip model
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        v destroy g1 >/dev/null; v start g1 >/dev/null
        [ "$(nic_of)" = "lan2 e1000 $mac " ] || fail "live interface after a restart: $(nic_of)"
        in_sync "restarted"
        lv_down
}

# Point 3: disk attributes land in the definition at once and are pending for
# the running guest; a cdrom's ISO is swapped in place, live and defined.
test_disk_edits() {
        lv_up || return
        mkdir -p "$TMP/iso"
        printf 'one' >"$TMP/iso/a.iso"; truncate -s 1M "$TMP/iso/a.iso"
        printf 'two' >"$TMP/iso/b.iso"; truncate -s 1M "$TMP/iso/b.iso"
        export MACHINE=q35
        manifest "$(DISKS="      - { cdrom: $TMP/iso/a.iso }" guest)"
        rl apply; expect_rc 0
        wait_booted || { lv_down; unset MACHINE; return; }
        local id; id=$(v domid g1)
        local cd; cd=$(v domblklist g1 | awk -v f="$TMP/iso/a.iso" '$2 == f {print $1}')
        [ -n "$cd" ] || fail "no cdrom with a.iso: $(v domblklist g1)"
        manifest "$(MARK=', cache: writeback, discard: unmap' DISKS="      - { cdrom: $TMP/iso/a.iso }" guest)"
        rl plan; expect_out '^~ domain g1 .*disk images/g1-mark .*cache=default discard=ignore -> .*cache=writeback discard=unmap'
        rl apply; expect_rc 0
        v dumpxml --inactive g1 | grep -q "cache='writeback' discard='unmap'" || fail "the attributes are not in the definition"
        v dumpxml g1 | grep -q "cache='writeback'" && fail "the running guest changed its cache mode without a restart"
        in_sync "cache and discard" "^! domain g1 +restart needed: disk images/g1-mark .*cache=default discard=ignore -> .*cache=writeback discard=unmap"
        show_round_trip attributes
        manifest "$(MARK=', cache: writeback, discard: unmap' DISKS="      - { cdrom: $TMP/iso/b.iso }" guest)"
        rl plan; expect_out "^~ domain g1 .*cdrom $cd .*a.iso -> .*b.iso"
        rl apply; expect_rc 0
        [ "$(v domblklist g1 | awk -v t="$cd" '$1 == t {print $2}')" = "$TMP/iso/b.iso" ] ||
                fail "live cdrom after the swap: $(v domblklist g1)"
        [ "$(v domblklist --inactive g1 | awk -v t="$cd" '$1 == t {print $2}')" = "$TMP/iso/b.iso" ] ||
                fail "defined cdrom after the swap: $(v domblklist --inactive g1)"
        [ "$(v domblklist g1 | wc -l)" = 2 ] || fail "disks after the swap: $(v domblklist g1)"
        [ "$(v domid g1)" = "$id" ] || fail "the guest was restarted"
        in_sync "iso swapped" "^! domain g1 +restart needed: disk images/g1-mark"
        show_round_trip iso
        v destroy g1 >/dev/null; v start g1 >/dev/null
        v dumpxml g1 | grep -q "cache='writeback' discard='unmap'" || fail "the restarted guest lacks the attributes"
        in_sync "restarted"
        unset MACHINE
        lv_down
}

# Point 5: state shutoff and a new disk in one run: the power button first, then
# the definition edited (no live attach); state running and new devices: the
# definition edited, then started with them.
test_order_with_state() {
        lv_up || return
        export INITRD=deaf
        manifest "$(guest)"
        rl apply; expect_rc 0
        wait_booted || { lv_down; unset INITRD; return; }
        manifest "$(DISKS='      - { volume: images/g1-data }' guest '    state: shutoff
    shutdown-timeout: 4
    force-off: true')"
        rl apply; expect_rc 0 "shutdown asked and the definition edited"
        expect_out 'state running -> shutoff'
        v dumpxml --inactive g1 | grep -q "volume='g1-data'" || fail "the new disk is not in the definition"
        [ "$(v domstate g1)" = running ] || fail "g1 not running while it ignores the button: $(v domstate g1)"
        v dumpxml g1 | grep -q "volume='g1-data'" && fail "the disk was attached live to a guest going down"
        in_sync "going down" '^! domain g1 +shutting down'
        sleep 5
        rl apply; expect_rc 0 "forced off"
        [ "$(v domstate g1)" = "shut off" ] || fail "not off: $(v domstate g1)"
        in_sync "off"
        show_round_trip off
        manifest "$(DISKS='      - { volume: images/g1-data }' NICS='      - { network: lan2 }' guest)"
        rl apply; expect_rc 0 "edited, then started"
        [ "$(v domstate g1)" = running ] || fail "not started: $(v domstate g1)"
        [ "$(v domblklist g1 | awk '{print $1}' | tr '\n' ' ')" = "vda vdb " ] || fail "live disks: $(v domblklist g1)"
        [ "$(v domiflist g1 | awk '{print $3}' | tr '\n' ' ')" = "lan1 lan2 " ] || fail "live NICs: $(v domiflist g1)"
        in_sync "started"
        show_round_trip started
        unset INITRD
        lv_down
}

why=$(guest_skip_reason)
t "guest edits: a NIC moved to another network goes live; a model change is defined and pending (issue 23.1)" test_nic_edits "$why"
t "guest edits: disk attributes defined at once and pending; a cdrom's ISO swapped in place (issue 23.3)" test_disk_edits "$why"
t "guest edits: shutoff first, then the definition; the definition, then start (issue 23.5)" test_order_with_state "$why"
