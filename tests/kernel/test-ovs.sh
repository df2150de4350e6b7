#!/bin/bash
# Open vSwitch bridges and ports over OVSDB. Each test starts a private
# ovsdb-server (its own database, socket, pid and log files in the test's
# directory) and ovs-vswitchd inside the test's namespace with the userspace
# datapath (datapath: netdev), since this kernel may have no openvswitch
# module; tests/vm/guest/test-ovs.sh runs the same tests with the kernel's
# (OVS_DATAPATH=system). ovs-vsctl is only the witness.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DP=${OVS_DATAPATH:-netdev}

SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
skip=
if ! command -v ovsdb-server >/dev/null || ! command -v ovs-vswitchd >/dev/null || ! command -v ovs-vsctl >/dev/null ||
        [ ! -r "$SCHEMA" ]; then
        skip="Open vSwitch (openvswitch-switch) is not installed"
fi

# ovs_start [novswitchd]: ovsdb-server, and ovs-vswitchd unless asked not to.
ovs_start() {
        export OVS_RUNDIR=$TMP/ovs OVS_LOGDIR=$TMP/ovs OVS_DBDIR=$TMP/ovs OVS_SYSCONFDIR=$TMP/ovs
        mkdir -p "$TMP/ovs"
        SOCK=$TMP/ovs/db.sock
        ovsdb-tool create "$TMP/ovs/conf.db" "$SCHEMA" &&
                ovsdb-server "$TMP/ovs/conf.db" --remote="punix:$SOCK" --pidfile="$TMP/ovs/ovsdb.pid" --detach \
                        --no-chdir --log-file="$TMP/ovs/ovsdb.log" 2>/dev/null &&
                ovs-vsctl --db="unix:$SOCK" --no-wait init &&
                { [ "${1:-}" = novswitchd ] ||
                        ip netns exec "$NS" ovs-vswitchd "unix:$SOCK" --pidfile="$TMP/ovs/vswitchd.pid" --detach \
                                --no-chdir --log-file="$TMP/ovs/vswitchd.log" 2>/dev/null; } ||
                { fail "could not start Open vSwitch"; return 1; }
}

ovs_stop() {
        local f
        for f in vswitchd ovsdb; do
                [ -f "$TMP/ovs/$f.pid" ] && kill "$(cat "$TMP/ovs/$f.pid")" 2>/dev/null
        done
        sleep 0.1
}

vsctl() { ovs-vsctl --db="unix:$SOCK" --no-wait "$@"; }
orc() { rc --ovsdb "$SOCK" "$@"; }
ports_of() { vsctl list-ports "$1" | sort | tr '\n' ' '; }
col() { vsctl get "$1" "$2" "$3" 2>/dev/null; }

full="version: 1
ovs-bridges:
  br-ovs:
    datapath: $DP
    fail-mode: secure
    ports:
      eth1: {}
      uplink: { bond: [eth2, eth3], lacp: active, bond-mode: balance-tcp }
      vm-mgmt: { type: internal, tag: 10 }
      trunk0: { type: internal, trunks: [20, 30] }"

nics() { local n; for n in "$@"; do nic "$n"; done; }

test_create() {
        ovs_start || return
        nics eth1 eth2 eth3
        manifest "$full"
        orc apply
        expect_rc 0 "apply"
        [ "$(ports_of br-ovs)" = "eth1 trunk0 uplink vm-mgmt " ] || fail "ports: $(ports_of br-ovs)"
        [ "$(col bridge br-ovs fail_mode)" = secure ] || fail "fail_mode $(col bridge br-ovs fail_mode)"
        [ "$(col bridge br-ovs datapath_type)" = "$DP" ] || fail "datapath $(col bridge br-ovs datapath_type)"
        [ "$(col port vm-mgmt tag)" = 10 ] || fail "tag $(col port vm-mgmt tag)"
        [ "$(col port trunk0 trunks)" = "[20, 30]" ] || fail "trunks $(col port trunk0 trunks)"
        [ "$(col port uplink lacp)" = active ] || fail "lacp $(col port uplink lacp)"
        [ "$(col port uplink bond_mode)" = balance-tcp ] || fail "bond_mode $(col port uplink bond_mode)"
        [ "$(vsctl --columns=name find interface external_ids:reconcile=managed | grep -c name)" = 6 ] ||
                fail "not every interface carries external_ids:reconcile=managed"
        local o
        for o in "bridge br-ovs" "port eth1" "port uplink" "port vm-mgmt" "port br-ovs"; do
                [ "$(vsctl get $o external_ids:reconcile)" = managed ] || fail "$o lacks external_ids:reconcile=managed"
        done
        link_exists vm-mgmt || fail "ovs-vswitchd made no vm-mgmt device"
        orc plan --exit-code
        expect_rc 0 "a second plan is empty"
        orc show
        expect_out '^ovs-bridges:'
        expect_out 'uplink: \{bond: \[eth[23], eth[23]\], lacp: active, bond-mode: balance-tcp\}'
        expect_out 'vm-mgmt: \{type: internal, tag: 10\}'
        ovs_stop
}

test_change_in_place() {
        ovs_start || return
        nics eth1 eth2 eth3 eth4
        manifest "$full"
        orc apply
        local before_mgmt before_trunk before_up
        before_mgmt=$(col port vm-mgmt _uuid) before_trunk=$(col port trunk0 _uuid) before_up=$(col port uplink _uuid)
        manifest "${full/fail-mode: secure/fail-mode: standalone}"
        sed -i -e 's/tag: 10/tag: 20/' -e 's/trunks: \[20, 30\]/trunks: [30, 40]/' \
                -e 's/bond: \[eth2, eth3\], lacp: active/bond: [eth2, eth3, eth4], lacp: passive/' "$M/host.yaml"
        orc plan
        expect_out '~ ovs-bridge br-ovs +fail-mode secure -> standalone'
        expect_out '~ ovs-port br-ovs/vm-mgmt +tag 10 -> 20'
        expect_out '~ ovs-port br-ovs/trunk0 .*trunk 20.*'
        orc apply
        expect_rc 0 "apply of the changes"
        [ "$(col bridge br-ovs fail_mode)" = standalone ] || fail "fail_mode $(col bridge br-ovs fail_mode)"
        [ "$(col port vm-mgmt tag)" = 20 ] || fail "tag $(col port vm-mgmt tag)"
        [ "$(col port trunk0 trunks)" = "[30, 40]" ] || fail "trunks $(col port trunk0 trunks)"
        [ "$(col port uplink lacp)" = passive ] || fail "lacp $(col port uplink lacp)"
        [ "$(vsctl get port uplink interfaces | tr -cd ',' | wc -c)" = 2 ] || fail "the bond has not 3 members"
        [ "$(col port vm-mgmt _uuid)" = "$before_mgmt" ] || fail "vm-mgmt was re-created, not changed in place"
        [ "$(col port trunk0 _uuid)" = "$before_trunk" ] || fail "trunk0 was re-created, not changed in place"
        [ "$(col port uplink _uuid)" = "$before_up" ] || fail "the bond was re-created, not changed in place"
        orc plan --exit-code
        expect_rc 0 "in sync after the changes"
        ovs_stop
}

test_internal_port_address() {
        ovs_start || return
        manifest "version: 1
ovs-bridges:
  br-ovs:
    datapath: $DP
    ports:
      vm-mgmt: { type: internal, tag: 10 }
ethernets:
  vm-mgmt: { addresses: [192.0.2.5/24], mtu: 1400 }"
        orc plan
        expect_out '\+ ovs-port br-ovs/vm-mgmt'
        expect_out '~ ethernet vm-mgmt +mtu 1500 -> 1400, \+address 192.0.2.5/24, up false -> true'
        orc apply
        expect_rc 0 "bridge, internal port and its address in one plan"
        [ "$(addrs_of vm-mgmt | tr ' ' '\n' | grep -v '^fe80:' | tr -d '\n')" = "192.0.2.5/24" ] ||
                fail "vm-mgmt addresses: $(addrs_of vm-mgmt)"
        [ "$(mtu_of vm-mgmt)" = 1400 ] || fail "vm-mgmt mtu $(mtu_of vm-mgmt)"
        orc plan --exit-code
        expect_rc 0 "in sync"
        ovs_stop
}

test_name_space_shared() {
        ovs_start || return
        manifest "version: 1
bridges:
  vm-mgmt: {}
ovs-bridges:
  br-ovs:
    datapath: $DP
    ports:
      vm-mgmt: { type: internal }"
        orc apply
        expect_rc 1 "an internal port and a Linux bridge of one name"
        expect_out 'internal port vm-mgmt and the bridge vm-mgmt at .* are the same interface'
        link_exists vm-mgmt && fail "something was applied"
        vsctl br-exists br-ovs && fail "the OVS bridge was made"
        # Not declared but there: a plan-time error for the port, the rest applies.
        ip -n "$NS" link add vm-mgmt type bridge
        manifest "version: 1
ovs-bridges:
  br-ovs:
    datapath: $DP
    ports:
      vm-mgmt: { type: internal }"
        orc apply
        expect_rc 1 "an internal port named like a live Linux bridge"
        expect_out 'host.yaml:6:7: error: ovs-port br-ovs/vm-mgmt: interface vm-mgmt exists already \(a (bridge|network) device\)'
        vsctl br-exists br-ovs || fail "the bridge was not made"
        [ -z "$(vsctl list-ports br-ovs)" ] || fail "ports: $(vsctl list-ports br-ovs)"
        ovs_stop
}

test_prune_and_unmanaged() {
        ovs_start || return
        nics eth1 eth2 eth3
        vsctl add-br other -- set bridge other datapath_type="$DP" fail_mode=secure
        manifest "$full"
        orc apply
        vsctl add-port br-ovs vnet0 -- set interface vnet0 type=internal
        manifest "$(printf '%s\n' "$full" | grep -v trunk0)"
        orc apply
        expect_rc 0 "prune of a port"
        expect_out '- ovs-port br-ovs/trunk0 +no longer in the manifests'
        expect_no_out 'vnet0'
        [ "$(ports_of br-ovs)" = "eth1 uplink vm-mgmt vnet0 " ] || fail "ports after the prune: $(ports_of br-ovs)"
        vsctl br-exists other || fail "the unmanaged bridge went"
        [ "$(col bridge other fail_mode)" = secure ] || fail "the unmanaged bridge was changed"
        # Declared, but not reconcile's: an error, and the bridge stays as it is.
        manifest "$(printf '%s\n' "$full" | grep -v trunk0)
  other: { datapath: $DP, fail-mode: standalone }"
        orc apply
        expect_rc 1 "a declared bridge reconcile did not make"
        expect_out 'ovs-bridge other exists and reconcile did not make it'
        [ "$(col bridge other fail_mode)" = secure ] || fail "the unmanaged bridge was changed"
        # Declared absent, but not reconcile's: an error in the plan, never a delete apply refuses.
        manifest "$(printf '%s\n' "$full" | grep -v trunk0)
  other: { state: absent }"
        orc plan
        expect_rc 1 "an unmanaged bridge declared absent"
        expect_out 'ovs-bridge other: reconcile did not make it .*; not deleting it'
        expect_no_out '^- ovs-bridge other'
        vsctl br-exists other || fail "the unmanaged bridge declared absent went"
        manifest 'version: 1'
        # OVSDB drops a bridge's ports with it: the plan names vnet0, which is not reconcile's.
        orc plan --allow-mass-delete
        expect_out 'risk: .*deleting br-ovs also deletes 1 port reconcile did not make: vnet0'
        orc apply --allow-mass-delete
        expect_rc 0 "prune of the bridge"
        vsctl br-exists br-ovs && fail "br-ovs is still there"
        vsctl br-exists other || fail "the unmanaged bridge went with the managed one"
        ovs_stop
}

test_deleted_port_restored() {
        ovs_start || return
        nics eth1 eth2 eth3
        manifest "$full"
        orc apply
        vsctl del-port br-ovs vm-mgmt
        orc apply
        expect_out '\+ ovs-port br-ovs/vm-mgmt'
        [ "$(col port vm-mgmt tag)" = 10 ] || fail "apply did not restore vm-mgmt"
        # The daemon sees the deletion through its OVSDB monitor, not its resync (300 s).
        "$RECONCILE" daemon -d "$M" --state-dir "$S" --netns "$NS" --ovsdb "$SOCK" >"$TMP/log" 2>&1 &
        local dpid=$! i
        for i in $(seq 1 250); do grep -q '^run 1 ' "$TMP/log" && break; sleep 0.02; done
        vsctl del-port br-ovs trunk0
        for i in $(seq 1 250); do vsctl list-ports br-ovs | grep -qx trunk0 && break; sleep 0.02; done
        vsctl list-ports br-ovs | grep -qx trunk0 || { OUT=$(cat "$TMP/log"); fail "the daemon did not restore trunk0 within 5 s"; }
        # ovsdb-server restarts under the daemon: its monitor comes back, and sees the next deletion.
        kill "$(cat "$TMP/ovs/ovsdb.pid")"
        for i in $(seq 1 100); do [ -S "$SOCK" ] || break; sleep 0.05; done
        ovsdb-server "$TMP/ovs/conf.db" --remote="punix:$SOCK" --pidfile="$TMP/ovs/ovsdb.pid" --detach \
                --no-chdir --log-file="$TMP/ovs/ovsdb.log" 2>/dev/null || fail "ovsdb-server did not start again"
        for i in $(seq 1 250); do grep -q 'OVSDB monitor is connected again' "$TMP/log" && break; sleep 0.02; done
        grep -q 'OVSDB monitor is connected again' "$TMP/log" || { OUT=$(cat "$TMP/log"); fail "the monitor did not come back"; }
        sleep 0.5
        vsctl del-port br-ovs vm-mgmt
        for i in $(seq 1 250); do vsctl list-ports br-ovs | grep -qx vm-mgmt && break; sleep 0.02; done
        vsctl list-ports br-ovs | grep -qx vm-mgmt ||
                { OUT=$(cat "$TMP/log"); fail "after the restart, the daemon did not restore vm-mgmt within 5 s"; }
        kill -TERM "$dpid"
        wait "$dpid"
        ovs_stop
}

# A change someone else makes between the plan and its transaction: the wait
# operation fails the one transaction of the plan's OVS actions, nothing of it
# is written (the other port's change neither), and the pass plans again once,
# from what is there now. strace holds reconcile's second send (the
# transaction after observe) for 3 s while ovs-vsctl changes the port.
test_concurrent_change_fails_cleanly() {
        ovs_start || return
        nics eth1 eth2 eth3
        manifest "$full"
        orc apply
        sed -i 's/tag: 10/tag: 20/; s/trunks: \[20, 30\]/trunks: [20, 40]/' "$M/host.yaml"
        strace -f -qq -o "$TMP/strace" -e trace=sendto -e inject=sendto:delay_enter=3000000:when=2 \
                "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" --ovsdb "$SOCK" apply >"$TMP/out" 2>&1 &
        local pid=$! i
        # Once the observe request is out (its reply follows at once), change the port.
        for i in $(seq 1 1000); do grep -q 'sendto(' "$TMP/strace" 2>/dev/null && break; sleep 0.02; done
        sleep 0.5
        vsctl set port vm-mgmt tag=99
        wait "$pid"
        RC=$?
        OUT=$(cat "$TMP/out")
        expect_rc 0 "the re-plan after a concurrent change applies"
        expect_out 'ovs-port br-ovs/vm-mgmt: changed by someone else since the plan was made .*nothing of the 2 OVS actions was written'
        expect_out 'planning again'
        # The second plan starts from tag 99 (the failed transaction wrote no 20)
        # and still has trunk0's change (nothing of the batch was written).
        expect_out '~ ovs-port br-ovs/vm-mgmt +tag 99 -> 20'
        [ "$(grep -c '^~ ovs-port br-ovs/trunk0' <<<"$OUT")" = 2 ] || fail "trunk0 is not planned twice"
        [ "$(col port vm-mgmt tag)" = 20 ] || fail "tag after the re-plan $(col port vm-mgmt tag)"
        [ "$(col port trunk0 trunks)" = "[20, 40]" ] || fail "trunks after the re-plan $(col port trunk0 trunks)"
        orc plan --exit-code
        expect_rc 0 "in sync"
        ovs_stop
}

test_ovs_absent() {
        manifest "version: 1
bridges:
  lbr0: {}
ovs-bridges:
  br-ovs: { datapath: $DP }"
        rc --ovsdb "$TMP/no-such.sock" apply
        expect_rc 1 "OVS absent"
        expect_out 'Open vSwitch is not running \(ovsdb-server socket missing\)'
        expect_out 'ovs-bridge br-ovs: the ovs backend is not available; skipping it'
        link_exists lbr0 || fail "the Linux bridge was not made while OVS is absent"
}

# The example, with the userspace datapath this kernel can run.
test_example() {
        ovs_start || return
        nics eth1 eth2 eth3
        sed "s/datapath: system/datapath: $DP/" "$(dirname "${BASH_SOURCE[0]}")/../../examples/ovs/host.yaml" >"$M/host.yaml"
        orc apply
        expect_rc 0 "examples/ovs/host.yaml"
        [ "$(ports_of br-ovs)" = "eth1 storage uplink-bond vm-mgmt " ] || fail "ports: $(ports_of br-ovs)"
        [ "$(col port eth1 trunks)" = "[10, 20, 30]" ] || fail "trunks $(col port eth1 trunks)"
        [ "$(addrs_of storage | tr ' ' '\n' | grep -v '^fe80:' | tr -d '\n')" = "198.51.100.10/24" ] ||
                fail "storage addresses: $(addrs_of storage)"
        orc plan --exit-code
        expect_rc 0 "in sync"
        ovs_stop
}

# A guest NIC on an OVS bridge, against the private libvirtd (tests/libvirt/):
# defined (state: shutoff) with <virtualport type='openvswitch'/> and its VLAN,
# read back in sync, its tag changed in place, and an undeclared, absent OVS
# bridge refused at plan time. The guest is not started here
# (test_running_guest_on_ovs starts one).
ovs_guest() {
        cat <<EOF2
version: 1
ovs-bridges:
  br-ovs: { datapath: $DP }
networks:
  ovsnet:
    mode: bridge
    ovs-bridge: br-ovs
    portgroups: [{ name: vlan20, tag: 20 }, { name: vlan${3:-30}, tag: ${3:-30} }]
    active: false
    autostart: false
domains:
  g1:
    memory: 128M
    state: shutoff
    interfaces:
      - { ovs-bridge: ${1:-br-ovs}, tag: ${2:-20} }
      - { ovs-bridge: br-ovs }
      - { network: ovsnet, portgroup: vlan20 }
EOF2
}
orl() { # reconcile against the private libvirtd and the private ovsdb-server
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" --ovsdb "$SOCK" --libvirt-uri "$URI" "$@" 2>&1)
        RC=$?
}
test_guest_nic_on_ovs() {
        ovs_start || return
        . "$(dirname "${BASH_SOURCE[0]}")/libvirt-lib.sh"
        lv_up || { ovs_stop; return; }
        manifest "$(ovs_guest)"
        orl apply
        expect_rc 0 "a guest with NICs on br-ovs"
        local xml
        xml=$(v dumpxml --inactive g1)
        [ "$(grep -c "<virtualport type='openvswitch'>" <<<"$xml")" = 2 ] || { OUT=$xml; fail "no openvswitch virtualports"; }
        [ "$(grep -c "<source bridge='br-ovs'/>" <<<"$xml")" = 2 ] || { OUT=$xml; fail "not on br-ovs"; }
        grep -q "<tag id='20'/>" <<<"$xml" || { OUT=$xml; fail "no VLAN tag 20"; }
        grep -q "<source network='ovsnet' portgroup='vlan20'/>" <<<"$xml" || { OUT=$xml; fail "no portgroup NIC"; }
        xml=$(v net-dumpxml ovsnet)
        grep -q "<virtualport type='openvswitch'/>" <<<"$xml" || { OUT=$xml; fail "network not over OVS"; }
        grep -q "<bridge name='br-ovs'/>" <<<"$xml" || { OUT=$xml; fail "network not on br-ovs"; }
        tr -d ' \n' <<<"$xml" | grep -q "<portgroupname='vlan30'><vlan><tagid='30'/></vlan></portgroup>" ||
                { OUT=$xml; fail "no portgroup vlan30 with tag 30"; }
        orl plan --exit-code
        expect_rc 0 "in sync after the define (libvirt's interfaceid read back)"
        orl --only ovs-bridge,domain show
        expect_out '\{ovs-bridge: br-ovs, tag: 20, model: virtio, mac: '
        manifest "$(ovs_guest br-ovs 30)"
        orl plan --exit-code
        expect_rc 2 "a tag change is planned"
        expect_out 'interface 52:54:00:[0-9a-f:]+ +ovs-bridge:br-ovs tag 20 -> ovs-bridge:br-ovs tag 30'
        orl apply
        expect_rc 0 "the tag changed in place"
        v dumpxml --inactive g1 | grep -q "<tag id='30'/>" || fail "tag 30 not defined"
        orl plan --exit-code
        expect_rc 0 "in sync after the tag change"
        # A portgroup's VLAN changes: the network is redefined.
        manifest "$(ovs_guest br-ovs 30 40)"
        orl apply
        expect_rc 0 "portgroups changed"
        expect_out '~ network ovsnet +\+portgroup vlan40 tag 40, -portgroup vlan30'
        v net-dumpxml ovsnet | tr -d ' \n' | grep -q "<portgroupname='vlan40'><vlan><tagid='40'/></vlan></portgroup>" ||
                fail "no portgroup vlan40"
        v net-dumpxml ovsnet | grep -q "vlan30" && fail "portgroup vlan30 is still there"
        orl plan --exit-code
        expect_rc 0 "in sync after the portgroup change"
        # Neither declared nor in OVSDB: refused at plan time, nothing defined for it.
        manifest "$(ovs_guest br-none)"
        orl plan
        expect_rc 1 "an OVS bridge that is nowhere"
        expect_out 'domain g1: parent br-none is neither declared nor present'
        lv_down
        ovs_stop
}

# other-config and external-ids: reconcile sets the keys it declares, in place;
# the keys others set, and its own reconcile=managed, stay.
maps_manifest() {
        cat <<EOF2
version: 1
ovs-bridges:
  br-ovs:
    datapath: $DP
    other-config: { mac-aging-time: $1 }
    external-ids: { site: $2 }
    ports:
      eth1: { tag: 10, other-config: { priority-tags: "true" }, external-ids: { role: uplink } }
EOF2
}
test_maps() {
        ovs_start || return
        nics eth1
        manifest "$(maps_manifest 300 rack1)"
        orc apply
        expect_rc 0 "bridge and port with maps"
        [ "$(col bridge br-ovs other_config:mac-aging-time)" = '"300"' ] || fail "mac-aging-time $(col bridge br-ovs other_config)"
        [ "$(col bridge br-ovs external_ids:site)" = rack1 ] || fail "site $(col bridge br-ovs external_ids)"
        [ "$(col port eth1 other_config:priority-tags)" = '"true"' ] || fail "priority-tags $(col port eth1 other_config)"
        [ "$(col port eth1 external_ids:role)" = uplink ] || fail "role $(col port eth1 external_ids)"
        # Keys someone else sets are theirs.
        vsctl set bridge br-ovs other_config:mcast-snooping-aging-time=120 external_ids:owner=ops
        vsctl set port eth1 external_ids:theirs=1
        orc plan --exit-code
        expect_rc 0 "others' keys are not drift"
        manifest "$(maps_manifest 600 rack2)"
        orc apply
        expect_rc 0 "values changed"
        expect_out 'other-config:mac-aging-time 300 -> 600'
        expect_out 'external-ids:site rack1 -> rack2'
        [ "$(col bridge br-ovs other_config:mac-aging-time)" = '"600"' ] || fail "mac-aging-time $(col bridge br-ovs other_config)"
        [ "$(col bridge br-ovs external_ids:site)" = rack2 ] || fail "site $(col bridge br-ovs external_ids)"
        [ "$(col bridge br-ovs other_config:mcast-snooping-aging-time)" = '"120"' ] || fail "others' other_config key went"
        [ "$(col bridge br-ovs external_ids:owner)" = ops ] || fail "others' external_ids key went"
        [ "$(col bridge br-ovs external_ids:reconcile)" = managed ] || fail "reconcile's mark went"
        [ "$(col port eth1 external_ids:theirs)" = '"1"' ] || fail "others' port key went: $(col port eth1 external_ids)"
        orc plan --exit-code
        expect_rc 0 "in sync"
        orc show
        expect_out 'other-config: \{mac-aging-time: "?600"?, mcast-snooping-aging-time: "?120"?\}'
        expect_out 'eth1: \{tag: 10, other-config: \{priority-tags: "?true"?\}, external-ids: \{role: "?uplink"?, theirs: "?1"?\}\}'
        ovs_stop
}

# A running TCG guest on an OVS bridge: the private libvirtd inherits
# OVS_RUNDIR, so libvirt's own ovs-vsctl adds its port to the private
# ovsdb-server, and ovs-vswitchd (userspace datapath) runs in libvirtd's network
# namespace, where the bridge and the guest's tap are. The port libvirt made
# carries the tag and is left alone; a new tag reaches the running guest's port
# (libvirt retags it live) and the definition.
test_running_guest_on_ovs() {
        . "$(dirname "${BASH_SOURCE[0]}")/libvirt-lib.sh"
        export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg
        export OVS_RUNDIR=$TMP/ovs
        lv_up || return
        local own_ns=$NS
        NS=rct-lvd-$$-$T_N
        ip netns attach "$NS" "$LVPID" || { fail "cannot name libvirtd's namespace"; NS=$own_ns; lv_down; return; }
        ovs_start || { ip netns del "$NS"; NS=$own_ns; lv_down; return; }
        local m
        m() { NIC1="ovs-bridge: br-ovs, tag: $1" guest; printf 'ovs-bridges:\n  br-ovs: { datapath: %s }\n' "$DP"; }
        manifest "$(m 20)"
        orl apply
        expect_rc 0 "a running guest on br-ovs"
        wait_booted || { ovs_stop; ip netns del "$NS"; NS=$own_ns; lv_down; return; }
        local tap
        tap=$(v domiflist g1 | awk '$3 == "br-ovs" {print $1}')
        [ -n "$tap" ] || fail "no interface of g1 on br-ovs: $(v domiflist g1)"
        [ "$(col port "$tap" tag)" = 20 ] || fail "port $tap tag $(col port "$tap" tag)"
        orl plan --exit-code
        expect_rc 0 "in sync with the guest running (its port is libvirt's)"
        expect_no_out "$tap"
        manifest "$(m 30)"
        orl apply
        expect_rc 0 "a new tag for the running guest"
        expect_no_out 'takes .* at its next start'
        [ "$(col port "$tap" tag)" = 30 ] || fail "the running guest's port was not retagged: $(col port "$tap" tag)"
        v dumpxml --inactive g1 | grep -q "<tag id='30'/>" || fail "tag 30 not defined"
        v dumpxml g1 | grep -q "<tag id='30'/>" || fail "tag 30 not in the running definition"
        orl plan --exit-code
        expect_rc 0 "in sync after the live retag"
        ovs_stop
        ip netns del "$NS"
        NS=$own_ns
        lv_down
}

# ovs-vswitchd is not running: the transaction is written, the wait for it to
# make the internal port times out (shortened by RECONCILE_DEBUG_OVS_WAIT_MS).
# The run fails and names what it waited for, but what was written is
# reconcile's: the bridge and its ports stay in the ledger, marked incomplete,
# so the next plan is empty (no adopt) and emptying the manifests deletes them
# (the prune says why they were incomplete).
test_vswitchd_wait_times_out() {
        ovs_start novswitchd || return
        nics eth1
        manifest "version: 1
ovs-bridges:
  br-ovs:
    datapath: $DP
    ports:
      eth1: {}
      vm-mgmt: { type: internal, tag: 10 }"
        OUT=$(RECONCILE_DEBUG_OVS_WAIT_MS=300 "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" --ovsdb "$SOCK" apply 2>&1)
        RC=$?
        expect_rc 1 "ovs-vswitchd never applies the transaction"
        # One error for the one transaction, naming the port whose device it waited for.
        expect_out '^error: ovs: written to OVSDB \(3 OVS actions\), but ovs-vswitchd did not apply it within 0.3 s \(is it running\?\); waited for: ovs-port br-ovs/vm-mgmt$'
        expect_no_out 'none written'
        vsctl br-exists br-ovs || fail "the bridge was not written"
        [ "$(ports_of br-ovs)" = "eth1 vm-mgmt " ] || fail "ports: $(ports_of br-ovs)"
        orc plan --exit-code
        expect_rc 0 "in OVSDB and owned: nothing to create or adopt"
        expect_no_out '^= '
        manifest 'version: 1'
        orc apply --allow-mass-delete
        expect_rc 0 "prune of what the timed-out run made"
        expect_out '^- ovs-bridge br-ovs +no longer in the manifests \(its create failed: written to OVSDB; ovs-vswitchd did not apply it in time\)'
        expect_out '^- ovs-port br-ovs/vm-mgmt '
        vsctl br-exists br-ovs && fail "br-ovs was not reconcile's after the timed-out run"
        ovs_stop
}

# tests/vm/guest/test-ovs.sh takes the tests above and runs its own list.
[ -n "${OVS_TESTS_ONLY_DEFINE:-}" ] && return 0

concurrent_skip=$skip
[ -z "$concurrent_skip" ] && ! command -v strace >/dev/null && concurrent_skip="strace is not installed"
t "ovs: bridge, ports, bond, internal and trunk ports created, marked managed; second plan empty; show" test_create "$skip"
t "ovs: tag, trunks, fail-mode, bond members and lacp changed in place" test_change_in_place "$skip"
t "ovs: internal port and its address and MTU (link kinds) in one plan" test_internal_port_address "$skip"
t "ovs: an internal port and a Linux bridge of one name is an error (declared: validate; live: plan)" test_name_space_shared "$skip"
t "ovs: prune what the ledger owns; unmanaged bridge and vnet port untouched, an unmanaged bridge declared absent refused, a managed bridge's delete names the vnet port it takes" test_prune_and_unmanaged "$skip"
t "ovs: a port deleted behind reconcile's back is restored (apply, daemon's monitor, and its monitor again after ovsdb-server restarts)" test_deleted_port_restored "$skip"
t "ovs: a concurrent change fails the one transaction cleanly (nothing of it written) and the pass re-plans once" test_concurrent_change_fails_cleanly "$concurrent_skip"
t "ovs: ovs-vswitchd does not apply a written transaction in time: an error naming what it waited for, and what was written stays reconcile's (incomplete)" test_vswitchd_wait_times_out "$skip"
t "ovs: other-config and external-ids: the declared keys set and changed in place, others' keys and reconcile=managed kept" test_maps "$skip"
t "ovs: absent OVS is an error for the OVS kinds only" test_ovs_absent
t "ovs: a guest NIC on an OVS bridge with a VLAN tag and a network over OVS with portgroups: defined, read back, tag and portgroups changed, an absent bridge refused (private libvirtd)" test_guest_nic_on_ovs "${skip:-$(command -v libvirtd >/dev/null || echo "libvirtd is not installed")}"
t "ovs: a running guest on an OVS bridge: libvirt's port tagged, left alone, retagged live (private libvirtd, TCG)" test_running_guest_on_ovs "${skip:-$(. "$(dirname "${BASH_SOURCE[0]}")/libvirt-lib.sh"; guest_skip_reason)}"
t "ovs: examples/ovs applies (userspace datapath) and is then in sync" test_example "$skip"
