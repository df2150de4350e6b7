#!/bin/bash
# VLANs on the VM's stock kernel (8021q), each test in its own namespace.
. "$(dirname "$0")/../../kernel/lib.sh"

test_vlan_lifecycle() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: {}
vlans:
  vlan20: { link: eth0, id: 20, mtu: 1400, addresses: [198.51.100.2/24] }
  vlan21: { link: eth0, id: 21 }
bridges:
  br21: { interfaces: [vlan21], forward-delay: 0 }
'
        rc apply; expect_rc 0
        ip -n "$NS" -d link show vlan20 | grep -q 'vlan protocol 802.1Q id 20' || fail "vlan20 wrong"
        [ "$(master_of vlan21)" = br21 ] || fail "bridge over VLAN"
        rc plan --exit-code; expect_rc 0 "second plan"
        local before; before=$(ifindex vlan20)
        sed -i 's/mtu: 1400/mtu: 1300/; s/198.51.100.2/198.51.100.3/' "$M/host.yaml"
        rc plan; expect_out '^~ vlan vlan20 +mtu 1400 -> 1300, -address 198.51.100.2/24, \+address 198.51.100.3/24 \(new addresses first'
        rc apply; expect_rc 0
        [ "$(ifindex vlan20)" = "$before" ] || fail "MTU or address change re-created the VLAN"
        [ "$(mtu_of vlan20)" = 1300 ] || fail "mtu"
        sed -i 's/id: 21/id: 31/' "$M/host.yaml"
        rc plan; expect_out '^-/\+ vlan vlan21 +id 21 -> 31 cannot change in place$'
        rc apply; expect_rc 0
        ip -n "$NS" -d link show vlan21 | grep -q 'id 31' || fail "id not changed"
        [ "$(master_of vlan21)" = br21 ] || fail "the replaced VLAN is not back in its bridge"
        rc plan --exit-code; expect_rc 0
}

test_vlan_missing_parent() {
        manifest 'version: 1
vlans:
  vlan5: { link: eth9, id: 5 }
  vlan6: { link: dummy6, id: 6 }
'
        ip -n "$NS" link add dummy6 type dummy
        rc apply; expect_rc 1
        expect_out 'host.yaml:3:18: error: vlan vlan5: parent eth9 is neither declared nor present; skipping vlan5'
        link_exists vlan6 || fail "vlan6 not created"
}

test_vlan_deleted_with_parent_order() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: {}
vlans:
  vlan7: { link: eth0, id: 7 }
  vlan8: { link: vlan7, id: 8 }
bridges:
  b1: {}
  b2: {}
  b3: {}
'
        rc apply; expect_rc 0
        manifest 'version: 1
ethernets:
  eth0: {}
bridges:
  b1: {}
  b2: {}
  b3: {}
'
        rc plan
        printf '%s\n' "$OUT" | grep -n '^-' | tr '\n' ' ' | grep -q '2:- vlan vlan8.*3:- vlan vlan7' || fail "inner VLAN must go first"
        rc apply; expect_rc 0
        link_exists vlan7 && fail "vlan7 left"
        true
}

t "VLAN create, bridge over it, MTU/address in place, id change is a replace" test_vlan_lifecycle
t "VLAN with a missing parent is skipped, the rest applies" test_vlan_missing_parent
t "VLAN over VLAN deleted dependents first" test_vlan_deleted_with_parent_order

test_vlan_parent_down_is_explained() {
        nic eth0
        manifest 'version: 1
vlans:
  vlan9: { link: eth0, id: 9 }
'
        rc apply; expect_rc 1
        expect_out 'error: vlan vlan9: setting up: Network is down.*parent eth0 is down'
}
t "a VLAN whose parent is down gets an error that says so" test_vlan_parent_down_is_explained
