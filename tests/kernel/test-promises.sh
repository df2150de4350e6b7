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

routes_of() { ip -n "$NS" route show | sort | tr '\n' ';'; }

# An address changes within its subnet; the default route (declared) and a
# route someone else added over it both stay, in one apply.
test_address_change_keeps_routes() {
        nic nic0
        manifest 'version: 1
bridges:
  br0: { interfaces: [nic0], addresses: [192.0.2.10/24] }
routes:
  default: { to: default, via: 192.0.2.1 }
'
        rc apply; expect_rc 0
        ip -n "$NS" route add 10.9.0.0/16 via 192.0.2.1
        manifest 'version: 1
bridges:
  br0: { interfaces: [nic0], addresses: [192.0.2.11/24] }
routes:
  default: { to: default, via: 192.0.2.1 }
'
        rc plan
        expect_out '~ bridge br0 .*new addresses first, then the old go'
        rc apply; expect_rc 0 "one apply"
        expect_no_out 'did not converge'
        [ "$(addrs_of br0)" = "192.0.2.11/24 " ] || fail "br0 has $(addrs_of br0)"
        ip -n "$NS" route show default | grep -q 'via 192.0.2.1' || fail "the default route went: $(routes_of)"
        ip -n "$NS" route show 10.9.0.0/16 | grep -q 'via 192.0.2.1' || fail "the unmanaged route went: $(routes_of)"
        rc plan --exit-code; expect_rc 0 "a second run"
}

# The primary of two addresses in one subnet goes: the secondary stays.
test_primary_goes_secondary_stays() {
        nic nic0
        manifest 'version: 1
ethernets:
  nic0: { addresses: [192.0.2.10/24, 192.0.2.20/24] }
routes:
  default: { to: default, via: 192.0.2.1 }
'
        rc apply; expect_rc 0
        manifest 'version: 1
ethernets:
  nic0: { addresses: [192.0.2.20/24] }
routes:
  default: { to: default, via: 192.0.2.1 }
'
        rc apply; expect_rc 0 "one apply"
        [ "$(addrs_of nic0)" = "192.0.2.20/24 " ] || fail "nic0 has $(addrs_of nic0)"
        ip -n "$NS" route show default | grep -q 'via 192.0.2.1' || fail "the default route went: $(routes_of)"
        [ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/conf/nic0/promote_secondaries)" = 0 ] ||
                fail "promote_secondaries left changed"
        rc plan --exit-code; expect_rc 0 "a second run"
}

# Same address, new prefix, IPv4 and IPv6.
test_prefix_change() {
        nic nic0
        manifest 'version: 1
ethernets:
  nic0: { addresses: [192.0.2.10/24, "2001:db8::10/64"] }
'
        rc apply; expect_rc 0
        manifest 'version: 1
ethernets:
  nic0: { addresses: [192.0.2.10/16, "2001:db8::10/56"] }
'
        rc apply; expect_rc 0 "one apply"
        addrs_of nic0 | grep -q '192.0.2.10/16' || fail "nic0 has $(addrs_of nic0)"
        addrs_of nic0 | grep -q '192.0.2.10/24' && fail "the old prefix stayed: $(addrs_of nic0)"
        addrs_of nic0 | grep -q '2001:db8::10/56' || fail "nic0 has $(addrs_of nic0)"
        rc plan --exit-code; expect_rc 0 "a second run"
}

# Deleting a veth deletes its peer: a declared peer makes it a refusal, an
# undeclared one is named in the plan.
test_veth_delete_names_its_peer() {
        manifest 'version: 1
veths:
  eth0p: { peer: eth0 }
  v0: { peer: v0p }
'
        rc apply; expect_rc 0
        manifest 'version: 1
veths:
  eth0p: { peer: eth0 }
  v0: { peer: v0p }
ethernets:
  eth0: { addresses: [192.0.2.5/24] }
'
        rc apply; expect_rc 0
        ip -n "$NS" link add brx type bridge
        ip -n "$NS" link set v0p master brx
        manifest 'version: 1
ethernets:
  eth0: { addresses: [192.0.2.5/24] }
'
        rc plan
        expect_rc 1 "a plan that deletes a declared NIC with its veth"
        expect_out "veth eth0p: deleting it deletes eth0 too, which is declared at .*host.yaml:3:3; refusing"
        expect_out '^- veth v0 +no longer in the manifests; also deletes v0p, a port of brx$'
        rc apply --allow-mass-delete; expect_rc 1
        link_exists eth0 || fail "the declared NIC went with its veth"
        link_exists v0 && fail "v0 was not deleted"
        link_exists v0p && fail "v0p outlived its pair"
        true
}

# A route's metric is part of its key: the plan says the declaration changed
# its key, not that the route left the manifests.
test_route_metric_change_said() {
        manifest 'version: 1
bridges:
  br0: { addresses: [192.0.2.10/24] }
routes:
  default: { to: default, via: 192.0.2.1 }
'
        rc apply; expect_rc 0
        manifest 'version: 1
bridges:
  br0: { addresses: [192.0.2.10/24] }
routes:
  default: { to: default, via: 192.0.2.1, metric: 100 }
'
        rc plan
        expect_out '^- route 0.0.0.0/0 table main metric 0 +route default changed its key: .* -> 0.0.0.0/0 table main metric 100 \(the new one is made first, this one removed after\)'
        expect_no_out 'no longer in the manifests'
        rc apply; expect_rc 0
        ip -n "$NS" route show default | grep -q 'metric 100' || fail "no route at metric 100"
        [ "$(ip -n "$NS" route show default | wc -l)" = 1 ] || fail "the old route stayed"
        rc plan --exit-code; expect_rc 0
}

# A bridge renamed in the manifests is deleted and made anew: the default
# route over it goes in between, and the plan says so.
test_rename_says_route_goes() {
        manifest 'version: 1
bridges:
  br0: { addresses: [192.0.2.10/24] }
routes:
  default: { to: default, via: 192.0.2.1, dev: br0 }
'
        rc apply; expect_rc 0
        manifest 'version: 1
bridges:
  br1: { addresses: [192.0.2.10/24] }
routes:
  default: { to: default, via: 192.0.2.1, dev: br1 }
'
        rc plan
        expect_out 'risk: br0 carries the default route via 192.0.2.1: the host has none until a route is made again'
        expect_no_out 'keeps a route throughout'
        rc apply --allow-mass-delete; expect_rc 0
        ip -n "$NS" route show default | grep -q 'dev br1' || fail "no default route over br1"
        rc plan --exit-code; expect_rc 0
}

# show writes what applies: a veth pair once, a TAP's owner by name; its
# output applied to an empty namespace makes the same links.
test_show_applies_to_empty_namespace() {
        ip -n "$NS" link add vb type veth peer name va
        ip -n "$NS" link add brs type bridge
        ip -n "$NS" link set va master brs
        ip -n "$NS" tuntap add mode tap user 0 name tp0
        ip netns exec "$NS" ipset create sorted hash:ip
        local e; for e in 10.0.0.9 10.0.0.1 10.0.0.5 10.0.0.3; do ip netns exec "$NS" ipset add sorted $e; done
        OUT=$("$RECONCILE" --netns "$NS" --state-dir "$S" --only ipset show 2>&1) || fail "show failed"
        [ "$(printf '%s\n' "$OUT" | grep -o '10\.0\.0\.[0-9]' | tr '\n' ' ')" = "10.0.0.1 10.0.0.3 10.0.0.5 10.0.0.9 " ] ||
                fail "entries not sorted"
        OUT=$("$RECONCILE" --netns "$NS" --state-dir "$S" --only veth,bridge,tap show 2>&1) || fail "show failed"
        # Once, under the end that sorts first; the other end is configured as a NIC.
        local sections; sections=$(printf '%s\n' "$OUT" | awk '/^[a-z]/ {sec = $1} /^  v[ab]:/ {print sec, $1}' | tr '\n' ' ')
        [ "$sections" = "ethernets: vb: veths: va: " ] || fail "the pair is written as: $sections"
        expect_out 'owner: "?root"?'
        mkdir -m 700 "$TMP/shown"
        printf '%s\n' "$OUT" >"$TMP/shown/show.yaml"
        chmod 600 "$TMP/shown/show.yaml"
        local other=rct-empty-$$
        ip netns add "$other"
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$TMP/s2" --netns "$other" --only veth,bridge,tap apply 2>&1); RC=$?
        expect_rc 0 "show's output applied to an empty namespace"
        expect_no_out 'File exists'
        ip -n "$other" link show vb >/dev/null 2>&1 || fail "vb not made"
        ip -n "$other" -o link show va | grep -q 'master brs' || fail "va not in brs"
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$TMP/s2" --netns "$other" --only veth,bridge,tap plan --exit-code 2>&1); RC=$?
        expect_rc 0 "a second run"
        ip netns del "$other"
}

# A create says what it will set: with -v in text, always in JSON.
test_create_says_what_it_sets() {
        nic e0
        manifest 'version: 1
bridges:
  br0: { interfaces: [e0], addresses: [192.0.2.1/24], mtu: 1400 }
'
        rc -v plan
        expect_out '^\+ bridge br0 .*host.yaml:3:3: mtu 1400, port e0, address 192.0.2.1/24, up true$'
        rc plan
        expect_out '^\+ bridge br0 +[^ ]*host.yaml:3:3$'
        rc -o json plan
        printf '%s\n' "$OUT" | python3 -c 'import json,sys; a=json.load(sys.stdin)["actions"][0]; assert [(s["field"], s["value"]) for s in a["sets"]] == [("mtu", "1400"), ("port", "e0"), ("address", "192.0.2.1/24"), ("up", "true")], a' ||
                fail "JSON lacks what the create sets"
}

# A pair reconcile made is written under the end it owns, even when the other
# end's name sorts first: that end, a NIC, never becomes a veth to adopt.
test_show_writes_pair_under_owned_end() {
        manifest 'version: 1
veths:
  eth0p: { peer: eth0 }
'
        rc apply; expect_rc 0
        OUT=$("$RECONCILE" --netns "$NS" --state-dir "$S" --only veth,ethernet show 2>&1) || fail "show failed"
        local sections; sections=$(printf '%s\n' "$OUT" | awk '/^[a-z]/ {sec = $1} /^  eth0p?:/ {print sec, $1}' | tr '\n' ' ')
        [ "$sections" = "ethernets: eth0: veths: eth0p: " ] || fail "the pair is written as: $sections"
}

# A veth's peer configured as a NIC, with a route over its address: one apply,
# in order (the veth, then its peer's address, then the route).
test_veth_peer_nic_and_route_in_one_apply() {
        manifest 'version: 1
veths:
  v0: { peer: v1 }
ethernets:
  v1: { addresses: [192.0.2.10/24] }
routes:
  r1: { to: 10.9.0.0/16, via: 192.0.2.1 }
'
        rc apply; expect_rc 0 "one apply"
        addrs_of v1 | grep -q '192.0.2.10/24' || fail "v1 has $(addrs_of v1)"
        ip -n "$NS" route show 10.9.0.0/16 | grep -q 'via 192.0.2.1' || fail "no route"
        rc plan --exit-code; expect_rc 0 "a second run"
        # Both ends declared as veths would make the pair twice: refused at parse time.
        manifest 'version: 1
veths:
  v0: { peer: v1 }
  v1: { peer: v0 }
'
        rc plan; expect_rc 1
        expect_out 'veth v1: its peer v0 is declared as a veth too, at .*: declare the pair once'
}

echo "1..13"
t "a port moves between bridges in one apply (the gaining bridge written first)" test_port_moves_a_first
t "a port moves between bridges in one apply (the losing bridge written first)" test_port_moves_b_first
t "a port below the MTU of a bridge that declares none: the plan says the bridge follows" test_port_below_bridge_mtu_flagged
t "an address change in its subnet keeps the declared default route and an unmanaged route, in one apply" test_address_change_keeps_routes
t "the primary of two addresses goes, the secondary and the route stay" test_primary_goes_secondary_stays
t "a prefix change of the same address, IPv4 and IPv6, in one apply" test_prefix_change
t "deleting a veth: a declared peer refuses it, an undeclared one is named in the plan" test_veth_delete_names_its_peer
t "a route whose metric changes: the plan says its key changed" test_route_metric_change_said
t "a renamed bridge: the plan flags the default route going with the old one" test_rename_says_route_goes
t "show writes a veth pair once, owners by name, entries sorted; applied to an empty namespace it makes the same links" test_show_applies_to_empty_namespace
t "a create says what it sets: -v and JSON" test_create_says_what_it_sets
t "show writes a pair reconcile made under the end it owns; the other end is a NIC" test_show_writes_pair_under_owned_end
t "a veth's peer as a NIC with a route over it converges in one apply; a pair declared twice is refused" test_veth_peer_nic_and_route_in_one_apply

# A declared veth that exists, not ours, with another peer cannot become what
# is declared in place: the plan says replace, and one apply converges (it said
# adopt, applied an update that changed nothing and failed verification).
test_unowned_replace_converges() {
        ip -n "$NS" link add v0 type veth peer name p0
        manifest 'version: 1
veths:
  v0: { peer: p1 }
'
        rc plan; expect_out '^-/\+ veth v0 +peer p0 -> p1 cannot change in place; also deletes p0'
        rc apply; expect_rc 0
        [ "$(ip -n "$NS" -o link show v0 | sed -n 's/^[0-9]*: v0@\([^:]*\):.*/\1/p')" = p1 ] || fail "v0's peer is not p1"
        rc plan --exit-code; expect_rc 0 "second plan"
}

t "an unowned object that must be replaced is planned as a replace and converges in one apply" test_unowned_replace_converges

# The same replace under apply --confirm, not confirmed: the revert puts the
# old pair back and owns nothing, so a run that drops it deletes nothing.
test_unowned_replace_reverted_owns_nothing() {
        ip -n "$NS" link add v0 type veth peer name p0
        manifest 'version: 1
veths:
  v0: { peer: p1 }
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null 2>&1); RC=$?
        expect_out 'reverting: not confirmed'
        [ "$(ip -n "$NS" -o link show v0 | sed -n 's/^[0-9]*: v0@\([^:]*\):.*/\1/p')" = p0 ] || fail "v0 not back with its peer p0"
        manifest 'version: 1
'
        rc release
        rc plan; expect_out '^plan: 0 to create, 0 to update, 0 to replace, 0 to delete'
}

t "an unowned object replaced and then reverted is not owned after" test_unowned_replace_reverted_owns_nothing
