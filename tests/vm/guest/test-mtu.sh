#!/bin/bash
# MTUs of bonds and their members, and of VLANs under a bridge, on the VM's
# stock kernel (bonding, 8021q): one apply converges whatever the order. A bond
# gives its MTU to every member it takes and whenever its own changes; a VLAN
# may not be larger than its parent; a bridge follows its ports unless its MTU
# was set after creation. The bridge cases alone are in tests/kernel/test-mtu.sh.
. "$(dirname "$0")/../../kernel/lib.sh"

converged() {
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        rc apply; expect_rc 0 "second apply"
        expect_no_out '^apply:'
}

mtus() {
        local n out=
        for n in "$@"; do out="$out$n=$(mtu_of "$n") "; done
        echo "${out% }"
}

bond_with() { # MEMBER-LINES BOND-MTU-LINE
        manifest "version: 1
ethernets:
$1
bonds:
  bond0:
    interfaces: [eth0, eth1]
    mode: active-backup
$2
"
}

test_bond_below_members() {
        nic eth0; nic eth1
        ip -n "$NS" link set eth0 mtu 9000
        ip -n "$NS" link set eth1 mtu 9000
        bond_with '  eth0: {}
  eth1: {}' '    mtu: 1500'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtus bond0 eth0 eth1)" = "bond0=1500 eth0=1500 eth1=1500" ] || fail "$(mtus bond0 eth0 eth1)"
        converged
}

test_bond_above_members() {
        nic eth0; nic eth1
        bond_with '  eth0: {}
  eth1: {}' '    mtu: 9000'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtus bond0 eth0 eth1)" = "bond0=9000 eth0=9000 eth1=9000" ] || fail "$(mtus bond0 eth0 eth1)"
        converged
}

test_bond_equal_then_changed() {
        nic eth0; nic eth1
        bond_with '  eth0: { mtu: 9000 }
  eth1: { mtu: 9000 }' '    mtu: 9000'
        rc apply; expect_rc 0 "first apply"
        [ "$(mtus bond0 eth0 eth1)" = "bond0=9000 eth0=9000 eth1=9000" ] || fail "$(mtus bond0 eth0 eth1)"
        converged
        sed -i 's/mtu: 9000/mtu: 4000/' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply after the change"
        [ "$(mtus bond0 eth0 eth1)" = "bond0=4000 eth0=4000 eth1=4000" ] || fail "$(mtus bond0 eth0 eth1)"
        converged
}

# The members say 9000 and the bond nothing: the bond takes their MTU, as it
# would otherwise give them its own 1500.
test_bond_takes_members_mtu() {
        nic eth0; nic eth1
        bond_with '  eth0: { mtu: 9000 }
  eth1: { mtu: 9000 }' ''
        rc plan; expect_out '^\+ bond bond0 '
        rc apply; expect_rc 0 "one apply"
        [ "$(mtus bond0 eth0 eth1)" = "bond0=9000 eth0=9000 eth1=9000" ] || fail "$(mtus bond0 eth0 eth1)"
        converged
}

test_bond_member_conflict_refused() {
        nic eth0; nic eth1
        bond_with '  eth0: { mtu: 1500 }
  eth1: {}' '    mtu: 9000'
        rc apply; expect_rc 1
        expect_out 'host.yaml:3:3: error: ethernet eth0: mtu 1500 cannot hold: bond bond0 gives its members its own MTU, 9000'
        link_exists bond0 && fail "bond0 made from a refused manifest"
        true
}

test_bond_member_added_later() {
        nic eth0; nic eth1
        manifest 'version: 1
ethernets:
  eth0: {}
  eth1: {}
bonds:
  bond0: { interfaces: [eth0], mode: active-backup, mtu: 9000 }
'
        rc apply; expect_rc 0 "first apply"
        converged
        sed -i 's/interfaces: \[eth0\]/interfaces: [eth0, eth1]/' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply with the new member"
        [ "$(master_of eth1)" = bond0 ] || fail "eth1 not in bond0"
        [ "$(mtus bond0 eth0 eth1)" = "bond0=9000 eth0=9000 eth1=9000" ] || fail "$(mtus bond0 eth0 eth1)"
        converged
}

# A bridge over a bond, the bridge's MTU below the bond's.
test_bridge_below_bond() {
        nic eth0; nic eth1
        manifest 'version: 1
ethernets:
  eth0: {}
  eth1: {}
bonds:
  bond0: { interfaces: [eth0, eth1], mode: active-backup, mtu: 9000 }
bridges:
  br0: { interfaces: [bond0], mtu: 1500 }
'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtus br0 bond0 eth0)" = "br0=1500 bond0=9000 eth0=9000" ] || fail "$(mtus br0 bond0 eth0)"
        converged
        # The bond's MTU changes: the bridge keeps its own.
        sed -i 's/mtu: 9000/mtu: 4000/' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply after the bond's change"
        [ "$(mtus br0 bond0 eth0)" = "br0=1500 bond0=4000 eth0=4000" ] || fail "$(mtus br0 bond0 eth0)"
        converged
}

# A VLAN on a bridge above its port: the bridge must not fall to its port's
# MTU before the VLAN is made (the kernel refuses a VLAN above its parent).
test_vlan_on_bridge_above_port() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: {}
bridges:
  br0: { interfaces: [eth0], mtu: 9000 }
vlans:
  vlan10: { link: br0, id: 10, mtu: 9000 }
'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtus br0 vlan10 eth0)" = "br0=9000 vlan10=9000 eth0=1500" ] || fail "$(mtus br0 vlan10 eth0)"
        converged
}

# The bridge's port shrinks: a bridge that followed it would shrink the VLAN too.
test_vlan_on_bridge_port_lowered() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 9000 }
bridges:
  br0: { interfaces: [eth0], mtu: 9000 }
vlans:
  vlan10: { link: br0, id: 10, mtu: 9000 }
'
        rc apply; expect_rc 0 "first apply"
        converged
        sed -i 's/eth0: { mtu: 9000 }/eth0: { mtu: 1500 }/' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply after the port's change"
        [ "$(mtus br0 vlan10 eth0)" = "br0=9000 vlan10=9000 eth0=1500" ] || fail "$(mtus br0 vlan10 eth0)"
        converged
}

# Bridge and VLAN up together, then down together, in one apply each.
test_vlan_and_bridge_move_together() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 1500 }
bridges:
  br0: { interfaces: [eth0], mtu: 1500 }
vlans:
  vlan10: { link: br0, id: 10, mtu: 1500 }
'
        rc apply; expect_rc 0 "first apply"
        sed -i 's/mtu: 1500/mtu: 9000/g' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply up"
        [ "$(mtus br0 vlan10 eth0)" = "br0=9000 vlan10=9000 eth0=9000" ] || fail "$(mtus br0 vlan10 eth0)"
        converged
        sed -i 's/mtu: 9000/mtu: 1400/g' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply down"
        [ "$(mtus br0 vlan10 eth0)" = "br0=1400 vlan10=1400 eth0=1400" ] || fail "$(mtus br0 vlan10 eth0)"
        converged
}

test_vlan_above_bridge_refused() {
        manifest 'version: 1
bridges:
  br0: { mtu: 1500 }
vlans:
  vlan10: { link: br0, id: 10, mtu: 9000 }
'
        rc apply; expect_rc 1
        expect_out 'host.yaml:5:3: error: vlan vlan10: mtu 9000 is above the mtu of its parent br0, 1500'
}

t "bond MTU below its members' converges in one apply" test_bond_below_members
t "bond MTU above its members' converges in one apply" test_bond_above_members
t "bond MTU equal to its members', then both changed: one apply" test_bond_equal_then_changed
t "members' MTU without one on the bond: the bond takes it, one apply" test_bond_takes_members_mtu
t "a member MTU the bond would undo is refused at the member" test_bond_member_conflict_refused
t "a member added later takes the bond's MTU: one apply" test_bond_member_added_later
t "a bridge below its bond, then the bond changed: one apply each" test_bridge_below_bond
t "a VLAN on a bridge above its port: one apply" test_vlan_on_bridge_above_port
t "a VLAN on a bridge whose port shrinks: one apply" test_vlan_on_bridge_port_lowered
t "a bridge and its VLAN up and down together: one apply each" test_vlan_and_bridge_move_together
t "a VLAN above its bridge's MTU is refused at the VLAN" test_vlan_above_bridge_refused
