#!/bin/bash
# apply --confirm: revert unless confirmed; holds; a crash while waiting is
# reverted by the next run. The namespace is compared field by field.
. "$(dirname "$0")/lib.sh"


setup_host() {
        nic eth0
        ip -n "$NS" addr add 192.0.2.5/24 dev eth0
        manifest 'version: 1
bridges:
  old: { forward-delay: 0 }
  keep: { mtu: 1500 }
  other: {}
'
        rc apply; expect_rc 0
        # The change: eth0 moves into a new bridge with its address, one bridge goes, one changes, a set appears.
        manifest 'version: 1
ethernets:
  eth0: { addresses: [], mtu: 1400 }
bridges:
  br0: { interfaces: [eth0], addresses: [192.0.2.5/24] }
  keep: { mtu: 1300 }
  other: {}
ipsets:
  allow: { type: hash:ip, entries: [10.0.0.1] }
'
}

test_revert_without_confirmation() {
        setup_host
        local before; before=$(ns_snapshot)
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 2 </dev/null 2>&1); RC=$?
        expect_rc 1 "a change that was not confirmed"
        expect_out 'no confirmation within 2 s'
        expect_out '^reverted; this manifest revision is held'
        local after; after=$(ns_snapshot)
        [ "$before" = "$after" ] || fail "not back as before:
$(diff <(echo "$before") <(echo "$after"))"
        [ ! -e "$S/checkpoint" ] || fail "the checkpoint was left behind"
        rc apply; expect_rc 1; expect_out 'held: this manifest revision was reverted at'
        [ "$(ns_snapshot)" = "$before" ] || fail "a plain run applied the held revision"
}

test_daemon_honours_hold_and_release() {
        setup_host
        local before; before=$(ns_snapshot)
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null 2>&1)
        "$RECONCILE" daemon -d "$M" --state-dir "$S" --netns "$NS" >"$TMP/log" 2>&1 &
        local dpid=$! i
        for i in $(seq 1 100); do grep -q '^run 1 ' "$TMP/log" && break; sleep 0.05; done
        grep -q '^run 1 (start): held, nothing applied' "$TMP/log" || fail "the daemon did not honour the hold: $(cat "$TMP/log")"
        [ "$(ns_snapshot)" = "$before" ] || fail "the daemon applied the held revision"
        kill -TERM $dpid; wait $dpid
        rc release; expect_rc 0; expect_out 'hold released'
        rc apply; expect_rc 0
        link_exists br0 || fail "release did not let the revision apply"
}

test_confirm_keeps() {
        setup_host
        "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 30 </dev/null >"$TMP/out" 2>&1 &
        local pid=$! i
        for i in $(seq 1 200); do [ -e "$S/checkpoint" ] && break; sleep 0.05; done
        [ -e "$S/checkpoint" ] || fail "no checkpoint while waiting"
        rc confirm; expect_rc 0
        wait $pid; local rcw=$?
        [ $rcw -eq 0 ] || fail "the confirmed apply exited $rcw: $(cat "$TMP/out")"
        grep -q 'confirmed: the change stays' "$TMP/out" || fail "no confirmation message"
        [ "$(master_of eth0)" = br0 ] || fail "the confirmed change did not stay"
        [ ! -e "$S/hold" ] || fail "a confirmed change was held"
        rc plan --exit-code; expect_rc 0
}

test_crash_while_waiting() {
        setup_host
        local before; before=$(ns_snapshot)
        "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 60 </dev/null >"$TMP/out" 2>&1 &
        local pid=$! i
        for i in $(seq 1 200); do grep -q '^applied. Keep it' "$TMP/out" && break; sleep 0.05; done
        kill -KILL $pid; wait $pid 2>/dev/null
        link_exists br0 || fail "the change was not applied before the kill"
        rc apply; expect_rc 1
        expect_out 'warning: found a change applied with --confirm that was never confirmed'
        expect_out 'held: this manifest revision'
        [ "$(ns_snapshot)" = "$before" ] || fail "the crashed change was not reverted"
}

test_unrevertible_refused() {
        manifest 'version: 1
bridges:
  br0: {}
pools:
  images: { type: dir, path: /images }
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" --libvirt-uri test:///default apply --confirm 2 </dev/null 2>&1); RC=$?
        expect_rc 1
        expect_out '^not reverted: create pool images'
        expect_out 'cannot be reverted; apply them without --confirm, or pass --confirm-partial'
        link_exists br0 && fail "applied despite the refusal"
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" --libvirt-uri test:///default apply --confirm 1 --confirm-partial </dev/null 2>&1); RC=$?
        expect_out 'reverting: not confirmed'
        link_exists br0 && fail "the bridge was not reverted"
        true
}

# An apply --confirm that adopts an existing bridge; BLOCK (a path under the
# state dir) is made a directory once the change is applied, so that the
# revert's write of that file fails.
revert_with_blocked_write() {
        ip -n "$NS" link add foreign type bridge
        manifest 'version: 1
bridges:
  foreign: { mtu: 1400 }
'
        "$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null >"$TMP/out" 2>&1 &
        local pid=$! i
        for i in $(seq 1 200); do grep -q '^applied. Keep it' "$TMP/out" && break; sleep 0.05; done
        mkdir "$S/$1"
        wait $pid; RC=$?; OUT=$(cat "$TMP/out")
        [ "$(mtu_of foreign)" = 1500 ] || fail "the MTU was not put back"
}

test_revert_failed_ledger_save() {
        revert_with_blocked_write ledger.tmp
        expect_rc 1 "a revert whose ledger save failed"
        expect_out 'could not release what the change adopted; the checkpoint stays'
        expect_no_out '^reverted; this manifest revision is held'
        [ -e "$S/checkpoint" ] || fail "the checkpoint was removed though the ledger still owns the bridge"
        [ ! -e "$S/hold" ] || fail "held though the revert did not finish"
        rmdir "$S/ledger.tmp"
        rc apply; expect_rc 1; expect_out 'reverting: unconfirmed change'; expect_out 'held: this manifest revision'
        grep -q foreign "$S/ledger" && fail "the ledger owns the bridge the revert put back: $(cat "$S/ledger")"
        [ ! -e "$S/checkpoint" ] || fail "the checkpoint outlived a completed revert"
        true
}

test_revert_failed_hold_write() {
        revert_with_blocked_write hold.tmp
        expect_rc 1 "a revert whose hold could not be written"
        expect_out 'the revision could not be held; the checkpoint stays'
        [ -e "$S/checkpoint" ] || fail "the checkpoint was removed though nothing holds the revision"
        rmdir "$S/hold.tmp"
        rc apply; expect_rc 1; expect_out 'held: this manifest revision'
        [ "$(mtu_of foreign)" = 1500 ] || fail "the held revision was applied"
}

# A revert puts back what it names without owning it: a NIC (a veth here)
# declared under ethernets never becomes something a later run deletes.
test_revert_owns_nothing_new() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 1500 }
'
        rc apply; expect_rc 0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 1400 }
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null 2>&1); RC=$?
        expect_out '^reverted'
        [ "$(mtu_of eth0)" = 1500 ] || fail "eth0 not reverted"
        grep -q 'eth0' "$S/ledger" 2>/dev/null && fail "the revert made eth0 owned: $(cat "$S/ledger")"
        rc release
        manifest 'version: 1
bridges:
  other: {}
'
        rc plan
        expect_no_out 'eth0'
        true
}

# A daemon's run has nobody to confirm it: the next run would revert it.
test_daemon_confirm_refused() {
        manifest 'version: 1
bridges:
  br0: {}
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" daemon --confirm 30 </dev/null 2>&1); RC=$?
        expect_rc 1
        expect_out '^error: --confirm goes with apply; a daemon.s runs have nobody to confirm them'
        link_exists br0 && fail "the daemon applied"
        true
}

# An address moves to another subnet and the routes over it follow: the revert
# must put the address back before the routes, whose old gateways only it
# reaches. eth0 is declared under ethernets; uplink_eth0 makes it a device
# reconcile observes as a NIC (ifb; a veth where the kernel has no ifb), or a
# veth whose peer is in another namespace, as a container's or a test's
# uplink is (the checkpoint once left such a link out: only the routes were
# reverted, which failed "Network is unreachable", and the checkpoint stayed).
nic_eth0() { ip -n "$NS" link add eth0 type ifb 2>/dev/null || nic eth0; }
uplink_eth0() {
        UPLINK=$NS-up
        ip netns add "$UPLINK" && ip link add eth0 netns "$NS" type veth peer name up0 netns "$UPLINK"
}
test_revert_address_and_routes() {
        "${ETH0_SETUP:-nic_eth0}" || { fail "eth0"; return; }
        ip -n "$NS" link set eth0 up
        manifest 'version: 1
ethernets:
  eth0: { addresses: [192.0.2.5/24, "2001:db8::5/64"] }
routes:
  r4: { to: 10.1.0.0/16, via: 192.0.2.1 }
  r6: { to: "2001:db8:99::/48", via: "2001:db8::1" }
  default: { to: default, via: 192.0.2.1 }
'
        rc apply; expect_rc 0
        local before; before=$(ns_snapshot; ip -n "$NS" route show; ip -n "$NS" -6 route show | grep -v '^fe80')
        manifest 'version: 1
ethernets:
  eth0: { addresses: [198.51.100.5/24, "2001:db8:1::5/64"] }
routes:
  r4: { to: 10.1.0.0/16, via: 198.51.100.1 }
  r6: { to: "2001:db8:99::/48", via: "2001:db8:1::1" }
  default: { to: default, via: 198.51.100.1 }
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null 2>&1); RC=$?
        expect_rc 1 "a change that was not confirmed"
        expect_out '^reverted; this manifest revision is held'
        expect_no_out 'unreachable|the revert did not complete'
        local after; after=$(ns_snapshot; ip -n "$NS" route show; ip -n "$NS" -6 route show | grep -v '^fe80')
        [ "$before" = "$after" ] || fail "not back as before:
$(diff <(echo "$before") <(echo "$after"))"
        [ ! -e "$S/checkpoint" ] || fail "the checkpoint was left behind"
        [ -n "${UPLINK:-}" ] && ip netns del "$UPLINK"
        UPLINK=
}
test_revert_uplink_address_and_routes() { ETH0_SETUP=uplink_eth0 test_revert_address_and_routes; }

# A change takes the uplink down and the kernel takes the routes over it: the
# revert brings the link up and the routes back, though the change did not
# touch them.
test_revert_link_down_restores_routes() {
        uplink_eth0 || { fail "eth0"; return; }
        ip -n "$UPLINK" link set up0 up
        ip -n "$UPLINK" addr add 192.0.2.1/24 dev up0
        manifest 'version: 1
ethernets:
  eth0: { addresses: [192.0.2.5/24] }
routes:
  default: { to: default, via: 192.0.2.1 }
  r4: { to: 10.1.0.0/16, via: 192.0.2.1 }
'
        rc apply; expect_rc 0
        local before; before=$(ns_snapshot; ip -n "$NS" route show)
        sed -i 's/eth0: { addresses: \[192.0.2.5\/24\] }/eth0: { addresses: [192.0.2.5\/24], up: false }/' "$M/host.yaml"
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 3 --probe gateway </dev/null 2>&1); RC=$?
        expect_rc 1 "a change whose probe failed"
        expect_out '^probe gateway failed: no IPv4 default route with a gateway: reverting$'
        expect_out '^reverted; this manifest revision is held'
        local after; after=$(ns_snapshot; ip -n "$NS" route show)
        [ "$before" = "$after" ] || fail "not back as before:
$(diff <(echo "$before") <(echo "$after"))"
        [ ! -e "$S/checkpoint" ] || fail "the checkpoint was left behind"
        ip netns del "$UPLINK"
        UPLINK=
}

t "daemon --confirm is refused: nobody confirms a daemon's runs" test_daemon_confirm_refused
t "apply --confirm, no confirmation: links, addresses, MTU, masters and sets back as before; held" test_revert_without_confirmation
t "the daemon does not apply a held revision; release lifts the hold" test_daemon_honours_hold_and_release
t "reconcile confirm keeps the change" test_confirm_keeps
t "SIGKILL while waiting: the next plain run reverts first, loudly" test_crash_while_waiting
t "--confirm refuses changes it cannot revert unless --confirm-partial" test_unrevertible_refused
t "a revert whose ledger save fails says so and keeps the checkpoint; the next run finishes it" test_revert_failed_ledger_save
t "a revert whose hold write fails says so and keeps the checkpoint" test_revert_failed_hold_write
t "a revert owns nothing it did not own before: a NIC stays a NIC" test_revert_owns_nothing_new
t "a revert puts a NIC's addresses back before the routes over them" test_revert_address_and_routes
t "a revert puts an uplink's addresses (a veth whose peer is elsewhere) back before the routes over them" test_revert_uplink_address_and_routes
t "a revert brings back the routes the kernel took with a link the change took down" test_revert_link_down_restores_routes
