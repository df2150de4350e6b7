#!/bin/bash
# Networks redefined and restarted under running guests, and pools and guests
# re-created from the manifests, against a private libvirtd
# (tests/libvirt/libvirtd.sh) under TCG. reconcile is pointed at libvirtd's
# network namespace with --netns, as it shares the host's on a real host: the
# guests' taps are there. virsh and ip in that namespace are the witnesses.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
# TCG only: a /dev/kvm that cannot run a guest would hang every start here.
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg
LV_NETNS=1
lvip() { nsenter -t "$LVPID" -n ip "$@"; }
# The taps enslaved to a bridge in libvirtd's namespace.
ports_of() { lvip -o link show master "$1" 2>/dev/null | awk '{sub(":$", "", $2); sub("@.*", "", $2); print $2}' | sort | tr '\n' ' '; }
tap_of() { v domiflist "$1" | awk 'NR == 1 {print $1}'; }
mac_of_dom() { v domiflist "$1" | awk 'NR == 1 {print $5}'; }
net_mac() { v net-dumpxml "$1" | sed -n "s/.*<mac address='\([^']*\)'.*/\1/p"; }

# show's YAML as the only manifest: the plan must be empty.
show_round_trip() {
        rl show; expect_rc 0 "show"
        local shown=$OUT
        mkdir -p "$TMP/show"
        mv "$M"/*.yaml "$TMP/show/"
        printf '%s\n' "$shown" >"$M/show.yaml"
        rl plan --exit-code; expect_rc 0 "show's output applied to itself must be an empty plan"
        rm "$M/show.yaml"
        mv "$TMP/show"/*.yaml "$M/"
}

lab() {
        cat <<EOF
version: 1
networks:
  labiso: { mode: isolated, bridge: virbr51, address: ${ISO_ADDR:-192.168.151.1/24} }
${EXTRA_NET:-}
domains:
  d1:
    memory: 64M
    interfaces:
      - { network: labiso }
EOF
}

test_network_redefine_keeps_identity_and_taps() {
        lv_up || return
        manifest "$(lab)"
        rl apply; expect_rc 0
        [ "$(v domstate d1)" = running ] || { fail "d1 not running: $(v domstate d1)"; lv_down; return; }
        local uuid mac tap
        uuid=$(v net-uuid labiso); mac=$(net_mac labiso); tap=$(tap_of d1)
        if [ -z "$mac" ] || [ -z "$tap" ]; then fail "set-up: no bridge MAC ($mac) or tap ($tap)"; fi
        [ "$(ports_of virbr51)" = "$tap " ] || fail "set-up: $tap not on virbr51: $(ports_of virbr51)"
        # A new address is a redefine of the running network: same UUID and MAC, taps back on.
        manifest "$(ISO_ADDR=192.168.152.1/24 lab)"
        rl apply; expect_rc 0 "redefine"
        expect_out '^~ network labiso .*address 192.168.151.1/24 -> 192.168.152.1/24'
        [ "$(v net-uuid labiso)" = "$uuid" ] || fail "UUID changed: $uuid -> $(v net-uuid labiso)"
        [ "$(net_mac labiso)" = "$mac" ] || fail "bridge MAC changed: $mac -> $(net_mac labiso)"
        v net-dumpxml labiso | grep -q "address='192.168.152.1'" || fail "not redefined: $(v net-dumpxml labiso | grep ip)"
        [ "$(ports_of virbr51)" = "$tap " ] || fail "$tap not re-attached to virbr51 after the restart: '$(ports_of virbr51)'"
        rl plan --exit-code; expect_rc 0 "in sync after the redefine"
        # A tap that fell off its bridge is drift, repaired.
        lvip link set "$tap" nomaster
        rl plan --exit-code; expect_rc 2 "a tap off its bridge is drift"
        expect_out "^~ network labiso .*taps $tap off the bridge -> virbr51"
        rl apply; expect_rc 0
        [ "$(ports_of virbr51)" = "$tap " ] || fail "$tap not repaired: '$(ports_of virbr51)'"
        rl plan --exit-code; expect_rc 0 "in sync after the repair"
        show_round_trip
        lv_down
}

test_network_failed_start_fixed_by_edit() {
        lv_up || return
        manifest "$(lab)"
        rl apply; expect_rc 0
        # Its bridge's name is taken by a device that is no bridge: libvirt defines
        # the network, then cannot start it.
        nsenter --net="/proc/$LVPID/ns/net" ip link add virbr53 type veth peer name virbr53p || fail "set-up: a veth named virbr53"
        manifest "$(EXTRA_NET='  labbad: { mode: isolated, bridge: virbr53, address: 192.168.153.1/24 }' lab)"
        rl apply
        [ "$RC" -ne 0 ] || fail "a network that cannot start must fail the apply"
        v net-info labbad | grep -q 'Active:.*no' || fail "set-up: labbad should be defined, not active: $(v net-info labbad)"
        local uuid; uuid=$(v net-uuid labbad)
        # The operator edits the manifest; no virsh net-undefine.
        manifest "$(EXTRA_NET='  labbad: { mode: isolated, bridge: virbr54, address: 192.168.153.1/24 }' lab)"
        rl apply; expect_rc 0 "the edited network is redefined and started"
        v net-info labbad | grep -q 'Active:.*yes' || fail "labbad not active: $(v net-info labbad)"
        [ "$(v net-uuid labbad)" = "$uuid" ] || fail "UUID changed"
        v net-dumpxml labbad | grep -q "name='virbr54'" || fail "labbad not redefined"
        rl plan --exit-code; expect_rc 0 "in sync after the fix"
        show_round_trip
        lv_down
}

store() {
        cat <<EOF
version: 1
networks:
  lan: { mode: isolated, bridge: virbr55 }
pools:
  images:
    type: dir
    path: $IMAGES
    volumes:
      g-raw: { capacity: ${RAW_SIZE:-1M}, format: raw }
      g-q: { capacity: 2M, format: qcow2 }
domains:
  g:
    state: ${G_STATE:-shutoff}
    memory: 64M
    disks:
      - { volume: images/g-raw }
      - { volume: images/g-q }
    interfaces:
      - { network: lan }
      - { network: lan }
EOF
}

test_recreated_pool_and_guest() {
        lv_up || return
        manifest "$(store)"
        rl apply; expect_rc 0
        local macs; macs=$(v domiflist g | awk '{print $5}' | tr '\n' ' ')
        [ -n "$macs" ] || fail "set-up: no MACs"
        printf 'marker' | dd of="$IMAGES/g-raw" conv=notrunc status=none
        # Deleted, then declared again: the MACs the ledger holds, not new ones.
        manifest "$(G_STATE=absent store)"
        rl apply; expect_rc 0
        v dominfo g >/dev/null 2>&1 && fail "g not deleted"
        manifest "$(store)"
        rl apply; expect_rc 0
        [ "$(v domiflist g | awk '{print $5}' | tr '\n' ' ')" = "$macs" ] ||
                fail "MACs changed on re-create: $macs -> $(v domiflist g | awk '{print $5}' | tr '\n' ' ')"
        # The guest is deleted, and the pool goes behind reconcile's back; the files stay.
        manifest "$(G_STATE=absent store)"
        rl apply; expect_rc 0
        v dominfo g >/dev/null 2>&1 && fail "g not deleted"
        v pool-destroy images >/dev/null; v pool-undefine images >/dev/null
        [ -f "$IMAGES/g-raw" ] || fail "set-up: the volume file went with the pool"
        # Declared again: the pool adopts its files, the guest comes back with its MACs.
        manifest "$(store)"
        rl apply; expect_rc 0 "re-create over the kept files"
        expect_no_out 'exists already'
        v vol-list images | grep -q 'g-raw' || fail "g-raw not in the pool"
        [ "$(head -c 6 "$IMAGES/g-raw")" = marker ] || fail "g-raw was overwritten"
        qemu-img info -U "$IMAGES/g-q" | grep -q 'file format: qcow2' || fail "g-q no longer qcow2"
        [ "$(v domiflist g | awk '{print $5}' | tr '\n' ' ')" = "$macs" ] ||
                fail "MACs changed: $macs -> $(v domiflist g | awk '{print $5}' | tr '\n' ' ')"
        rl plan --exit-code; expect_rc 0 "in sync after the re-create"
        show_round_trip
        # A file that does not match the declaration is not taken.
        v pool-destroy images >/dev/null; v pool-undefine images >/dev/null
        manifest "$(RAW_SIZE=512K store)"
        rl apply
        [ "$RC" -ne 0 ] || fail "a larger file than declared must not be adopted"
        expect_out 'volume images/g-raw: .*capacity 1M, more than the declared 512K'
        [ "$(head -c 6 "$IMAGES/g-raw")" = marker ] || fail "g-raw was touched"
        lv_down
}

why=
if ! command -v libvirtd >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
        why="libvirtd or qemu-system-x86_64 not installed (make deps installs them)"
elif ! command -v nsenter >/dev/null; then
        why="nsenter (util-linux) not installed"
fi
t "libvirt re-create: a network redefine keeps UUID and bridge MAC, re-attaches the guests' taps; a tap off its bridge is repaired" test_network_redefine_keeps_identity_and_taps "$why"
t "libvirt re-create: a network whose start failed is fixed by editing the manifest" test_network_failed_start_fixed_by_edit "$why"
t "libvirt re-create: a re-created pool adopts its volume files, a re-created guest keeps its MACs" test_recreated_pool_and_guest "$why"
