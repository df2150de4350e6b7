#!/bin/bash
# The plan says exactly what happens, applying twice changes nothing, nothing
# is destroyed unasked: ports moving between bridges, addresses the kernel
# takes routes and secondaries with, veth pairs.
. "$(dirname "$0")/lib.sh"

# move_port FIRST SECOND: nic1 moves from brb to bra, with the bridges written
# in the given order; one apply, and nic1 ends in bra.
move_port() {
        nic nic0; nic nic1
        local a="bra: { interfaces: [nic0] }" b="brb: { interfaces: [nic1] }"
        manifest "version: 1
bridges:
  $([ "$1" = a ] && echo "$a" || echo "$b")
  $([ "$1" = a ] && echo "$b" || echo "$a")
"
        rc apply; expect_rc 0
        a="bra: { interfaces: [nic0, nic1] }" b="brb: { interfaces: [] }"
        manifest "version: 1
bridges:
  $([ "$1" = a ] && echo "$a" || echo "$b")
  $([ "$1" = a ] && echo "$b" || echo "$a")
"
        rc apply; expect_rc 0 "moving nic1"
        [ "$(master_of nic1)" = bra ] || fail "nic1 ended in '$(master_of nic1)', not bra"
        rc plan --exit-code; expect_rc 0 "a second run"
        # And back, the other way round.
        a="bra: { interfaces: [nic0] }" b="brb: { interfaces: [nic1] }"
        manifest "version: 1
bridges:
  $([ "$1" = a ] && echo "$a" || echo "$b")
  $([ "$1" = a ] && echo "$b" || echo "$a")
"
        rc apply; expect_rc 0 "moving nic1 back"
        [ "$(master_of nic1)" = brb ] || fail "nic1 ended in '$(master_of nic1)', not brb"
        rc plan --exit-code; expect_rc 0 "a second run"
}
test_port_moves_a_first() { move_port a; }
test_port_moves_b_first() { move_port b; }

# A port below the bridge's MTU lowers a bridge that declares none: the plan says so.
test_port_below_bridge_mtu_flagged() {
        nic nic0; nic nic1
        ip -n "$NS" link set nic1 mtu 1400
        manifest 'version: 1
bridges:
  bra: { interfaces: [nic0] }
'
        rc apply; expect_rc 0
        manifest 'version: 1
bridges:
  bra: { interfaces: [nic0, nic1] }
'
        rc plan
        expect_out 'risk: nic1 has mtu 1400: the kernel lowers bra from 1500 to 1400'
        rc apply; expect_rc 0
        [ "$(mtu_of bra)" = 1400 ] || fail "bra at $(mtu_of bra)"
        rc plan --exit-code; expect_rc 0 "a second run"
}

echo "1..3"
t "a port moves between bridges in one apply (the gaining bridge written first)" test_port_moves_a_first
t "a port moves between bridges in one apply (the losing bridge written first)" test_port_moves_b_first
t "a port below the MTU of a bridge that declares none: the plan says the bridge follows" test_port_below_bridge_mtu_flagged
