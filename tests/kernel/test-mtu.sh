#!/bin/bash
# Bridge MTUs against the real kernel: one apply converges whatever the order
# of the bridge's MTU and its ports'. The kernel makes a bridge follow its
# ports' smallest MTU (br_mtu_auto_adjust) until an explicit change after
# creation; an MTU given at creation does not count. `ip` is the witness.
# Bonds and VLANs, which this kernel lacks, are in tests/vm/guest/test-mtu.sh.
. "$(dirname "$0")/lib.sh"

# converged: the second plan and the second apply find nothing to do.
converged() {
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        rc apply; expect_rc 0 "second apply"
        expect_no_out '^apply:'
}

test_bridge_below_port() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: {}
bridges:
  br0: { interfaces: [eth0], mtu: 1400 }
'
        rc apply; expect_rc 0 "one apply"
        expect_no_out 'did not converge'
        [ "$(mtu_of br0)" = 1400 ] || fail "br0 mtu $(mtu_of br0)"
        [ "$(mtu_of eth0)" = 1500 ] || fail "eth0 mtu $(mtu_of eth0)"
        [ "$(master_of eth0)" = br0 ] || fail "eth0 not in br0"
        converged
}

test_bridge_above_port() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 1500 }
bridges:
  br0: { interfaces: [eth0], mtu: 9000 }
'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtu_of br0)" = 9000 ] || fail "br0 mtu $(mtu_of br0)"
        [ "$(mtu_of eth0)" = 1500 ] || fail "eth0 mtu $(mtu_of eth0)"
        converged
}

# Equal at creation: nothing moves then, but the bridge must still hold its
# MTU when a port's MTU changes later.
test_bridge_equal_then_port_raised() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 1500 }
bridges:
  br0: { interfaces: [eth0], mtu: 1500 }
'
        rc apply; expect_rc 0 "first apply"
        [ "$(mtu_of br0)" = 1500 ] || fail "br0 mtu $(mtu_of br0)"
        converged
        sed -i 's/eth0: { mtu: 1500 }/eth0: { mtu: 9000 }/' "$M/host.yaml"
        rc plan; expect_out '^~ ethernet eth0 +mtu 1500 -> 9000$'
        expect_no_out 'bridge br0'
        rc apply; expect_rc 0 "one apply after the port's change"
        [ "$(mtu_of eth0)" = 9000 ] || fail "eth0 mtu $(mtu_of eth0)"
        [ "$(mtu_of br0)" = 1500 ] || fail "br0 followed its port: mtu $(mtu_of br0)"
        converged
}

test_port_lowered_below_bridge() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 9000 }
bridges:
  br0: { interfaces: [eth0], mtu: 9000 }
'
        rc apply; expect_rc 0 "first apply"
        converged
        sed -i 's/eth0: { mtu: 9000 }/eth0: { mtu: 1500 }/' "$M/host.yaml"
        rc apply; expect_rc 0 "one apply after the port's change"
        [ "$(mtu_of eth0)" = 1500 ] || fail "eth0 mtu $(mtu_of eth0)"
        [ "$(mtu_of br0)" = 9000 ] || fail "br0 followed its port: mtu $(mtu_of br0)"
        converged
}

test_port_added_later() {
        nic eth0; nic eth1
        ip -n "$NS" link set eth1 mtu 1400
        manifest 'version: 1
ethernets:
  eth0: {}
  eth1: {}
bridges:
  br0: { interfaces: [eth0], mtu: 1500 }
'
        rc apply; expect_rc 0 "first apply"
        converged
        sed -i 's/interfaces: \[eth0\]/interfaces: [eth0, eth1]/' "$M/host.yaml"
        rc plan; expect_out '^~ bridge br0 +\+port eth1$'
        rc apply; expect_rc 0 "one apply with the new port"
        [ "$(master_of eth1)" = br0 ] || fail "eth1 not in br0"
        [ "$(mtu_of eth1)" = 1400 ] || fail "eth1 mtu $(mtu_of eth1)"
        [ "$(mtu_of br0)" = 1500 ] || fail "br0 followed its new port: mtu $(mtu_of br0)"
        converged
}

# A macvlan cannot be larger than its parent (as a VLAN cannot): the bridge
# must keep its MTU through the enslaving of a smaller port before the macvlan
# on it is made.
test_macvlan_on_bridge_above_port() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: {}
bridges:
  br0: { interfaces: [eth0], mtu: 9000 }
macvlans:
  mv0: { link: br0, mode: bridge, mtu: 9000 }
'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtu_of br0)" = 9000 ] || fail "br0 mtu $(mtu_of br0)"
        [ "$(mtu_of mv0)" = 9000 ] || fail "mv0 mtu $(mtu_of mv0)"
        converged
}

# A bridge reconcile did not create may follow its ports: the plan says that
# it will hold the MTU from now on, and the port's change in the same apply
# does not move it.
test_existing_bridge_held() {
        nic eth0
        ip -n "$NS" link add br0 type bridge
        ip -n "$NS" link set eth0 master br0
        ip -n "$NS" link set eth0 up
        ip -n "$NS" link set br0 up
        [ "$(mtu_of br0)" = 1500 ] || fail "set-up: br0 mtu $(mtu_of br0)"
        manifest 'version: 1
ethernets:
  eth0: { mtu: 9000 }
bridges:
  br0: { interfaces: [eth0], mtu: 1500 }
'
        rc plan
        expect_out '^~ ethernet eth0 +mtu 1500 -> 9000$'
        expect_out '^= bridge br0 +adopt \(exists, not yet managed\); mtu 1500 -> 1500 \(held\)$'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtu_of eth0)" = 9000 ] || fail "eth0 mtu $(mtu_of eth0)"
        [ "$(mtu_of br0)" = 1500 ] || fail "br0 mtu $(mtu_of br0)"
        converged
        # Held now: the kernel no longer moves it when a port changes.
        ip -n "$NS" link set eth0 mtu 4000
        [ "$(mtu_of br0)" = 1500 ] || fail "br0 not held: mtu $(mtu_of br0)"
}

# Without an MTU in the manifest the bridge follows its ports, as the kernel does.
test_bridge_without_mtu_follows() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 9000 }
bridges:
  br0: { interfaces: [eth0] }
'
        rc apply; expect_rc 0 "one apply"
        [ "$(mtu_of br0)" = 9000 ] || fail "br0 mtu $(mtu_of br0)"
        converged
        sed -i 's/eth0: { mtu: 9000 }/eth0: { mtu: 4000 }/' "$M/host.yaml"
        rc apply; expect_rc 0
        [ "$(mtu_of br0)" = 4000 ] || fail "br0 did not follow: mtu $(mtu_of br0)"
        converged
}

t "bridge MTU below its port converges in one apply" test_bridge_below_port
t "bridge MTU above its port converges in one apply" test_bridge_above_port
t "bridge MTU equal to its port, then the port's raised: one apply" test_bridge_equal_then_port_raised
t "a port's MTU lowered below its bridge's: one apply" test_port_lowered_below_bridge
t "a smaller port added later leaves the bridge's MTU: one apply" test_port_added_later
t "a macvlan on a bridge above its port: one apply" test_macvlan_on_bridge_above_port
t "an existing bridge is held at its MTU, said in the plan" test_existing_bridge_held
t "a bridge without an MTU follows its ports" test_bridge_without_mtu_follows
