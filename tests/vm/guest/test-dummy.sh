#!/bin/bash
# Dummy interfaces on the VM's stock kernel (dummy.ko), each test in its own namespace.
. "$(dirname "$0")/../../kernel/lib.sh"

# A direct-routing LVS real server: the virtual IP on a dummy, ARP for it off.
test_dummy_lifecycle() {
        manifest 'version: 1
dummies:
  vip0: { addresses: [192.0.2.10/32], mtu: 1400 }
sysctls:
  net.ipv4.conf.all.arp_ignore: 1
  net.ipv4.conf.all.arp_announce: 2
'
        rc apply; expect_rc 0
        ip -n "$NS" -d link show vip0 | grep -q 'dummy' || fail "vip0 is not a dummy"
        ip -n "$NS" addr show vip0 | grep -q '192.0.2.10/32' || fail "no virtual IP on vip0"
        [ "$(mtu_of vip0)" = 1400 ] || fail "mtu"
        rc plan --exit-code; expect_rc 0 "second plan"
        rc show; expect_out '^dummies:'
        printf '%s\n' "$OUT" | grep -q '^  vip0:' || fail "show does not write vip0 under dummies"
        local before; before=$(ifindex vip0)
        sed -i 's/mtu: 1400/mtu: 1300/; s/192.0.2.10/192.0.2.11/' "$M/host.yaml"
        rc plan; expect_out '^~ dummy vip0 +mtu 1400 -> 1300'
        rc apply; expect_rc 0
        [ "$(ifindex vip0)" = "$before" ] || fail "an MTU or address change re-created the dummy"
        ip -n "$NS" addr show vip0 | grep -q '192.0.2.11/32' || fail "address not changed"
        manifest 'version: 1
dummies:
  vip0: { state: absent }
sysctls:
  net.ipv4.conf.all.arp_ignore: 1
  net.ipv4.conf.all.arp_announce: 2
'
        rc apply; expect_rc 0
        link_exists vip0 && fail "vip0 left"
        true
}

# A dummy reconcile did not make is adopted, never deleted for being undeclared.
test_dummy_adopted_not_pruned() {
        ip -n "$NS" link add dum7 type dummy
        manifest 'version: 1
dummies:
  dum7: { mtu: 1450 }
'
        rc plan; expect_out '^= dummy dum7'
        rc apply; expect_rc 0
        [ "$(mtu_of dum7)" = 1450 ] || fail "mtu of the adopted dummy"
        ip -n "$NS" link add dum8 type dummy
        manifest 'version: 1
'
        rc apply --allow-mass-delete; expect_rc 0
        link_exists dum8 || fail "a dummy reconcile never owned was deleted"
        true
}

t "dummy: create with a virtual IP, in-place MTU and address change, show, delete" test_dummy_lifecycle
t "dummy: an existing one is adopted; one never declared is left alone" test_dummy_adopted_not_pruned
