#!/bin/bash
# Bonds on the VM's stock kernel (bonding), each test in its own namespace:
# members enslaved while down, VLANs and bridges stacked on the bond.
. "$(dirname "$0")/../../kernel/lib.sh"

details() { ip -n "$NS" -d -o link show "$1" 2>/dev/null; }

host='version: 1
ethernets:
  eth0: { mtu: 9000 }
  eth1: { mtu: 9000 }
bonds:
  bond0:
    interfaces: [eth0, eth1]
    mode: 802.3ad
    miimon: 100
    lacp-rate: fast
    xmit-hash-policy: layer3+4
    mtu: 9000
vlans:
  vlan10: { link: bond0, id: 10 }
  vlan20: { link: bond0, id: 20 }
bridges:
  br10: { interfaces: [vlan10], addresses: [192.0.2.2/24], forward-delay: 0 }
  br20: { interfaces: [vlan20], addresses: [198.51.100.2/24], forward-delay: 0 }
'

test_bond_stack() {
        nic eth0; nic eth1
        ip -n "$NS" link set eth0 up
        ip -n "$NS" link set eth1 up
        manifest "$host"
        rc plan; expect_rc 0
        local order; order=$(printf '%s\n' "$OUT" | grep -E '^\+ ' | awk '{print $3}' | tr '\n' ' ')
        case "$order" in bond0*vlan10*br10*) ;; *) fail "order: $order" ;; esac
        rc apply; expect_rc 0 "apply"
        local d; d=$(details bond0)
        case "$d" in *"bond mode 802.3ad"*"miimon 100"*) ;; *) fail "bond0: $d" ;; esac
        case "$d" in *"lacp_rate fast"*) ;; *) fail "lacp rate: $d" ;; esac
        case "$d" in *"xmit_hash_policy layer3+4"*) ;; *) fail "hash: $d" ;; esac
        [ "$(master_of eth0)" = bond0 ] || fail "eth0 not in bond0"
        [ "$(master_of eth1)" = bond0 ] || fail "eth1 not in bond0"
        [ "$(master_of vlan10)" = br10 ] || fail "vlan10 not in br10"
        ip -n "$NS" -d link show vlan20 | grep -q 'vlan protocol 802.1Q id 20' || fail "vlan20 wrong"
        ip -n "$NS" -o link show bond0 | grep -q ',UP' || fail "bond0 not up"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
}

test_bond_changes() {
        nic eth0; nic eth1; nic eth2
        manifest "$host"
        rc apply; expect_rc 0
        local idx; idx=$(ifindex bond0)
        # miimon and the hash policy change in place, up.
        sed -i 's/miimon: 100/miimon: 200/; s/layer3+4/layer2+3/' "$M/host.yaml"
        rc plan; expect_out '^~ bond bond0 +miimon 100 -> 200, xmit-hash-policy layer3\+4 -> layer2\+3$'
        expect_no_out 'risk:'
        rc apply; expect_rc 0
        case "$(details bond0)" in *"miimon 200"*"xmit_hash_policy layer2+3"*) ;; *) fail "in place: $(details bond0)" ;; esac
        # A mode change needs the bond down and empty: flagged, done, members back.
        sed -i 's/mode: 802.3ad/mode: active-backup/; /lacp-rate/d' "$M/host.yaml"
        rc plan; expect_out '^~ bond bond0 +mode 802.3ad -> active-backup$'
        expect_out 'risk: bond bond0 goes down and releases its members'
        rc apply; expect_rc 0
        [ "$(ifindex bond0)" = "$idx" ] || fail "bond0 re-created"
        case "$(details bond0)" in *"bond mode active-backup"*) ;; *) fail "mode: $(details bond0)" ;; esac
        [ "$(master_of eth0)" = bond0 ] || fail "eth0 not back in bond0"
        [ "$(master_of vlan10)" = br10 ] || fail "vlan10 lost its bridge"
        link_exists vlan10 || fail "vlan10 gone"
        ip -n "$NS" -o link show bond0 | grep -q ',UP' || fail "bond0 not up again"
        rc plan --exit-code; expect_rc 0 "plan after mode change"
        # Members: one added (up beforehand), one released.
        ip -n "$NS" link set eth2 up
        sed -i 's/interfaces: \[eth0, eth1\]/interfaces: [eth0, eth2]/; s/  eth1: { mtu: 9000 }/  eth1: { mtu: 9000 }\n  eth2: { mtu: 9000 }/' "$M/host.yaml"
        rc plan; expect_out '^~ bond bond0 +\+port eth2, -port eth1$'
        rc apply; expect_rc 0
        [ "$(master_of eth2)" = bond0 ] || fail "eth2 not enslaved"
        [ -z "$(master_of eth1)" ] || fail "eth1 not released"
        rc plan --exit-code; expect_rc 0 "plan after member change"
        # Removed from the manifests: the stack goes top down, the NICs stay.
        manifest 'version: 1
ethernets:
  eth0: {}
'
        rc apply --allow-mass-delete; expect_rc 0
        link_exists bond0 && fail "bond0 left"
        link_exists br10 && fail "br10 left"
        link_exists eth0 || fail "eth0 deleted"
        true
}

test_unmanaged_bond_untouched() {
        nic eth0
        ip -n "$NS" link add bond9 type bond mode balance-rr
        ip -n "$NS" link set eth0 master bond9
        manifest 'version: 1
bridges:
  br0: {}
'
        rc apply; expect_rc 0
        link_exists bond9 || fail "unmanaged bond deleted"
        [ "$(master_of eth0)" = bond9 ] || fail "unmanaged member released"
        true
}

# examples/bonded/host.yaml as it is, on two fresh NICs.
test_bonded_host_example() {
        nic eth0; nic eth1
        cp "$(dirname "$0")/../../../examples/bonded/host.yaml" "$M/host.yaml"
        rc apply; expect_rc 0 "apply"
        [ "$(master_of eth1)" = bond0 ] || fail "eth1 not in bond0"
        [ "$(master_of vlan20)" = br-guests ] || fail "vlan20 not in br-guests"
        [ "$(master_of vx5000)" = br-overlay ] || fail "vx5000 not in br-overlay"
        ip -n "$NS" route show default | grep -q 'via 192.0.2.1 dev br-mgmt' || fail "no default route"
        ip -n "$NS" -6 route show default | grep -q 'via 2001:db8:10::1 dev br-mgmt' || fail "no IPv6 default route"
        ip -n "$NS" route show 10.50.0.0/16 | grep -q 'via 192.0.2.11 dev br-mgmt.*metric 100' || fail "no overlay route"
        [ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || fail "ip_forward"
        [ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/conf/br-guests/rp_filter)" = 2 ] || fail "rp_filter"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
}

test_bond_under_bridge() {
        nic eth0; nic eth1
        manifest 'version: 1
ethernets:
  eth0: {}
  eth1: {}
bridges:
  br0: { interfaces: [bond1], addresses: [192.0.2.2/24], forward-delay: 0 }
bonds:
  bond1: { interfaces: [eth0, eth1], mode: active-backup, miimon: 100 }
'
        rc plan; expect_rc 0
        local order; order=$(printf '%s\n' "$OUT" | grep -E '^\+ ' | awk '{print $3}' | tr '\n' ' ')
        [ "$order" = "bond1 br0 " ] || fail "order: $order"
        rc apply; expect_rc 0
        [ "$(master_of bond1)" = br0 ] || fail "bond1 not in br0"
        [ "$(master_of eth0)" = bond1 ] || fail "eth0 not in bond1"
        case "$(ip -n "$NS" -d -o link show bond1)" in *"bond mode active-backup"*) ;; *) fail "bond1 mode" ;; esac
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
}

# Issue 14.5: a create is all or nothing. eth1 carries a macvlan, so the bond
# refuses it ("Device is in use") after bond0 was made and took eth0.
half_bond='version: 1
bonds:
  bond0: { interfaces: [eth0, eth1], mode: active-backup, miimon: 100 }
'
bond_refused_halfway() {
        nic eth0; nic eth1
        ip -n "$NS" link set eth0 up
        ip -n "$NS" link set eth1 up
        ip -n "$NS" link add mv0 link eth1 type macvlan
        manifest "$half_bond"
        rc apply; expect_rc 1
        expect_out 'bond bond0: enslaving a port'
        link_exists bond0 || fail "no bond0"
        [ "$(master_of eth0)" = bond0 ] || fail "eth0 not in bond0"
        [ -z "$(master_of eth1)" ] || fail "eth1 in $(master_of eth1)"
        ip -n "$NS" -o link show eth1 | grep -q '[<,]UP[,>]' || fail "the refused member was left down"
        rc plan
        expect_out '^~ bond bond0 +\+port eth1, up false -> true \(finishes a create that failed: created, not all'
}

test_half_made_bond_finished() {
        bond_refused_halfway
        ip -n "$NS" link del mv0
        rc apply; expect_rc 0
        [ "$(master_of eth1)" = bond0 ] || fail "eth1 not in bond0"
        rc plan --exit-code; expect_rc 0
}

test_half_made_bond_removed() {
        bond_refused_halfway
        manifest 'version: 1'
        rc plan; expect_out '^- bond bond0 +no longer in the manifests \(its create failed'
        rc apply --allow-mass-delete; expect_rc 0
        link_exists bond0 && fail "bond0 left behind"
        [ -z "$(master_of eth0)" ] || fail "eth0 still in $(master_of eth0)"
        ip -n "$NS" -o link show eth0 | grep -q '[<,]UP[,>]' || fail "the former member is down"
        rc plan --exit-code; expect_rc 0
}

t "examples/bonded/host.yaml applies as it is, then plans nothing" test_bonded_host_example
t "bond under a bridge, created first" test_bond_under_bridge
t "bond with 802.3ad options, VLANs and bridges on it, idempotent" test_bond_stack
t "bond: options in place, mode change flagged and done, members, prune" test_bond_changes
t "unmanaged bond untouched" test_unmanaged_bond_untouched
t "a bond whose second member is refused is owned, the member kept up; the next run finishes it" test_half_made_bond_finished
t "a bond whose second member is refused is owned; dropped from the manifests, it goes" test_half_made_bond_removed
