#!/bin/bash
# Link backend against the real kernel, each test in its own namespace;
# `ip` is the independent witness.
. "$(dirname "$0")/lib.sh"

two_bridges='version: 1
ethernets:
  eth0: { addresses: [] }
  eth1: { mtu: 9000 }
bridges:
  br0:
    interfaces: [eth0]
    addresses: [192.0.2.10/24, "2001:db8::10/64"]
    forward-delay: 0
  br1:
    interfaces: [eth1]
    mtu: 9000
'

test_create_and_idempotent() {
        nic eth0; nic eth1
        manifest "$two_bridges"
        rc plan --exit-code; expect_rc 2 "plan with changes"
        expect_out '^plan: 2 to create, 2 to update, 0 to replace, 0 to delete$'
        expect_out '^\+ bridge br0 +.*host.yaml:6:3$'
        link_exists br0 && fail "plan created br0"
        rc apply; expect_rc 0 "apply"
        link_exists br0 || fail "br0 missing"
        [ "$(master_of eth0)" = br0 ] || fail "eth0 not in br0"
        [ "$(master_of eth1)" = br1 ] || fail "eth1 not in br1"
        [ "$(mtu_of br1)" = 9000 ] || fail "br1 mtu $(mtu_of br1)"
        [ "$(mtu_of eth1)" = 9000 ] || fail "eth1 mtu $(mtu_of eth1)"
        case "$(addrs_of br0)" in *192.0.2.10/24*2001:db8::10/64*) ;; *) fail "br0 addresses: $(addrs_of br0)" ;; esac
        ip -n "$NS" -d link show br0 | grep -q 'forward_delay 0 ' || fail "forward delay not 0"
        ip -n "$NS" -d link show br0 | grep -q 'stp_state 0 ' || fail "stp not off"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        expect_out '^plan: 0 to create, 0 to update, 0 to replace, 0 to delete$'
        rc apply; expect_rc 0 "second apply"
        expect_no_out '^apply:'
}

test_mtu_and_address_in_place() {
        nic eth0; nic eth1
        manifest "$two_bridges"
        rc apply; expect_rc 0
        local before; before=$(ifindex br0)
        manifest "${two_bridges/192.0.2.10\/24/198.51.100.1/25}"
        sed -i 's/    mtu: 9000/    mtu: 4000/' "$M/host.yaml"
        rc plan
        expect_out '^~ bridge br0 +-address 192.0.2.10/24, \+address 198.51.100.1/25 \(new addresses first, then the old go'
        expect_out '^~ bridge br1 +mtu 9000 -> 4000$'
        rc apply; expect_rc 0
        [ "$(ifindex br0)" = "$before" ] || fail "br0 was re-created"
        [ "$(mtu_of br1)" = 4000 ] || fail "br1 mtu $(mtu_of br1)"
        case "$(addrs_of br0)" in *192.0.2.10*) fail "old address kept" ;; esac
        case "$(addrs_of br0)" in *198.51.100.1/25*) ;; *) fail "new address missing" ;; esac
        rc plan --exit-code; expect_rc 0
}

test_ethernet_mtu_addresses() {
        nic eth0
        ip -n "$NS" addr add 203.0.113.9/24 dev eth0
        manifest 'version: 1
ethernets:
  eth0:
    mtu: 1400
    addresses: [10.1.0.2/24]
'
        local before; before=$(ifindex eth0)
        rc apply; expect_rc 0
        [ "$(mtu_of eth0)" = 1400 ] || fail "eth0 mtu"
        [ "$(addrs_of eth0)" = "10.1.0.2/24 " ] || fail "eth0 addresses: $(addrs_of eth0)"
        [ "$(ifindex eth0)" = "$before" ] || fail "eth0 re-created"
        ip -n "$NS" -o link show eth0 | grep -q '[<,]UP[,>]' || fail "eth0 not up"
        rc plan --exit-code; expect_rc 0
}

test_dynamic_and_link_local_ignored() {
        nic eth0
        ip -n "$NS" link set eth0 up
        ip -n "$NS" addr add 10.9.9.9/24 dev eth0 valid_lft 600 preferred_lft 600
        ip -n "$NS" addr add fe80::1234/64 dev eth0
        manifest 'version: 1
ethernets:
  eth0: { addresses: [10.1.0.2/24] }
'
        rc apply; expect_rc 0
        case "$(addrs_of eth0)" in *10.9.9.9/24*) ;; *) fail "dynamic address removed" ;; esac
        case "$(addrs_of eth0)" in *fe80::1234/64*) ;; *) fail "link-local address removed" ;; esac
        rc plan --exit-code; expect_rc 0
}

test_tentative_counts_as_present() {
        ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.dad_transmits=20 net.ipv6.conf.default.accept_dad=1
        nic eth0
        ip -n "$NS" link set peth0 up
        manifest 'version: 1
ethernets:
  eth0: { addresses: ["2001:db8::7/64"] }
'
        rc apply; expect_rc 0
        ip -n "$NS" -6 addr show dev eth0 | grep -q tentative || fail "address was not tentative (DAD too fast?)"
        rc plan --exit-code; expect_rc 0 "a tentative address counts as present"
}

test_dadfailed_is_an_error() {
        ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.accept_dad=1 net.ipv6.conf.default.dad_transmits=1
        local other=$NS-peer
        ip netns add "$other"
        nic eth0 peth0
        ip -n "$NS" link set peth0 netns "$other"
        ip -n "$other" addr add 2001:db8::5/64 dev peth0 nodad
        ip -n "$other" link set peth0 up
        manifest 'version: 1
ethernets:
  eth0: { addresses: ["2001:db8::5/64"] }
'
        rc apply
        local i
        for i in $(seq 1 50); do
                ip -n "$NS" -6 addr show dev eth0 | grep -q dadfailed && break
                sleep 0.1
        done
        rc plan
        ip netns del "$other"
        expect_rc 1 "dadfailed must fail the plan"
        expect_out 'address 2001:db8::5/64 failed duplicate address detection'
}

test_mac_stable_across_ports() {
        nic eth0; nic eth1; nic eth2
        ip -n "$NS" link set eth2 address 02:00:00:00:00:01
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
'
        rc apply; expect_rc 0
        local mac; mac=$(mac_of br0)
        [ $(( 0x${mac%%:*} & 2 )) -eq 2 ] || fail "bridge MAC $mac is not locally administered"
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0, eth2] }
'
        rc apply; expect_rc 0
        [ "$(mac_of br0)" = "$mac" ] || fail "MAC changed after adding a port: $(mac_of br0)"
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth2] }
'
        rc apply; expect_rc 0
        [ "$(mac_of br0)" = "$mac" ] || fail "MAC changed after removing a port"
        [ -z "$(master_of eth0)" ] || fail "eth0 (enslaved by reconcile) was not released"
        rc plan --exit-code; expect_rc 0
}

test_foreign_port_left_alone() {
        nic eth0; nic vnet0
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
'
        rc apply; expect_rc 0
        ip -n "$NS" link set vnet0 master br0 # as libvirt does for a guest tap
        rc plan --exit-code; expect_rc 0 "a port someone else enslaved is not a change"
        rc apply; expect_rc 0
        [ "$(master_of vnet0)" = br0 ] || fail "vnet0 was released"
}

test_missing_port_skips_only_its_bridge() {
        nic eth0
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
  br9:
    interfaces: [eth9]
'
        rc apply; expect_rc 1 "a missing port is an error"
        expect_out 'host.yaml:5:18: error: bridge br9: port eth9 is neither declared nor present; skipping br9'
        [ "$(printf '%s\n' "$OUT" | grep -c 'port eth9')" = 1 ] || fail "the error is reported more than once"
        link_exists br0 || fail "br0 was not created"
        link_exists br9 && fail "br9 was created"
        nic eth9 # the NIC appears late
        rc apply; expect_rc 0 "retry after the port appeared"
        [ "$(master_of eth9)" = br9 ] || fail "br9 missing its port"
}

test_unmanaged_untouched_and_prune() {
        nic eth0
        ip -n "$NS" link add mine type bridge
        ip -n "$NS" link set mine mtu 1400
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
  br1: {}
  br2: {}
'
        rc apply; expect_rc 0
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
  br1: {}
'
        rc plan
        expect_out '^- bridge br2 +no longer in the manifests$'
        expect_no_out 'mine'
        rc apply; expect_rc 0
        link_exists br2 && fail "br2 not deleted"
        link_exists mine || fail "the unmanaged bridge was deleted"
        [ "$(mtu_of mine)" = 1400 ] || fail "the unmanaged bridge was changed"
        rc plan --exit-code; expect_rc 0
}

test_mass_delete_guard() {
        manifest 'version: 1
bridges:
  br0: {}
  br1: {}
  br2: {}
'
        rc apply; expect_rc 0
        rm "$M/host.yaml"
        rc apply; expect_rc 1 "emptying the directory must be refused"
        expect_out 'refusing to delete 3 of 3 deletable resources'
        link_exists br0 || fail "br0 deleted despite the guard"
        rc apply --allow-mass-delete; expect_rc 0
        link_exists br0 && fail "br0 not deleted with --allow-mass-delete"
        true
}

test_bad_manifest_changes_nothing() {
        nic eth0
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
'
        manifest 'version: 1
vlans:
  vlan5: { link: eth0, id: 5000 }
bridges:
  br1: { mtu: 9000, colour: blue }
' bad
        rc apply; expect_rc 1
        expect_out 'bad.yaml:3:28: error: vlan id 5000 out of range 1..4094'
        expect_out 'bad.yaml:5:21: error: unknown key "colour" in bridge br1'
        expect_out 'nothing was changed'
        link_exists br0 && fail "br0 created despite a bad manifest"
        [ ! -e "$S/ledger" ] || fail "the ledger was written"
        true
}

test_stp_forward_delay_in_place() {
        manifest 'version: 1
bridges:
  br0: { stp: false, forward-delay: 4 }
'
        rc apply; expect_rc 0
        local before; before=$(ifindex br0)
        ip -n "$NS" -d link show br0 | grep -q 'forward_delay 400 ' || fail "forward_delay not 400 cs"
        manifest 'version: 1
bridges:
  br0: { stp: true, forward-delay: 6 }
'
        rc plan
        expect_out '^~ bridge br0 +stp false -> true, forward-delay 4 -> 6$'
        rc apply; expect_rc 0
        ip -n "$NS" -d link show br0 | grep -q 'stp_state 1 ' || fail "stp not on"
        ip -n "$NS" -d link show br0 | grep -q 'forward_delay 600 ' || fail "forward_delay not 600"
        [ "$(ifindex br0)" = "$before" ] || fail "br0 re-created"
}

test_state_absent_and_adopt() {
        ip -n "$NS" link add old type bridge
        ip -n "$NS" link add keep type bridge
        manifest 'version: 1
bridges:
  old: { state: absent }
  keep: { mtu: 1400 }
'
        rc plan
        expect_out '^- bridge old +state: absent$'
        expect_out '^= bridge keep +adopt \(exists, not yet managed\); mtu 1500 -> 1400, up false -> true$'
        rc apply; expect_rc 0
        link_exists old && fail "old not deleted"
        [ "$(mtu_of keep)" = 1400 ] || fail "keep not updated"
        grep -q "bridge	keep" "$S/ledger" || fail "keep not in the ledger"
        rc plan --exit-code; expect_rc 0
}

test_connectivity_risk_flagged() {
        nic eth0
        ip -n "$NS" addr add 192.0.2.50/24 dev eth0
        manifest 'version: 1
bridges:
  br0: { interfaces: [eth0] }
'
        rc plan
        expect_out 'risk: enslaving eth0, which carries 192.0.2.50/24'
}

test_json_plan() {
        nic eth0
        manifest 'version: 1
bridges:
  br0:
    interfaces: [eth0]
    addresses: [192.0.2.10/24]
'
        rc plan -o json; expect_rc 0
        printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["version"] == 1, d
assert d["summary"]["create"] == 1, d["summary"]
a = [x for x in d["actions"] if x["name"] == "br0"][0]
assert a["op"] == "create" and a["kind"] == "bridge", a
assert a["source"].endswith("host.yaml:3:3"), a["source"]
assert isinstance(d["pending"], list)
' || fail "JSON plan does not match the contract"
        rc apply -o json; expect_rc 0
        printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert all(a["result"] == "done" for a in d["actions"]), d
assert d["status"] == "applied", d
' || fail "JSON apply result"
}

test_lock_and_state_dir() {
        manifest 'version: 1
bridges:
  br0: {}
'
        rc apply; expect_rc 0
        exec 9>"$S/lock"
        flock -x 9
        rc apply; expect_rc 1 "a held lock must stop a second run"
        expect_out 'another reconcile run holds the lock'
        ( sleep 1; flock -u 9 ) &
        rc apply --lock-timeout 5; expect_rc 0 "waits for the lock"
        exec 9>&-
        wait
        chmod 0755 "$S"
        rc apply; expect_rc 1; expect_out 'must be 0700'
        chmod 0700 "$S"
        chmod g+w "$M"
        rc apply; expect_rc 1; expect_out 'writable by group or others'
        chmod g-w "$M"
        chmod o+w "$M/host.yaml"
        rc validate; expect_rc 1; expect_out 'writable by group or others'
        chmod o-w "$M/host.yaml"
}

test_torn_ledger_refused() {
        manifest 'version: 1
bridges:
  br0: {}
'
        rc apply; expect_rc 0
        head -c 20 "$S/ledger" >"$S/l2" && mv "$S/l2" "$S/ledger"
        rc apply; expect_rc 1; expect_out 'the ledger is damaged'
        : >"$S/ledger"
        rc apply; expect_rc 1; expect_out 'the ledger is damaged'
        link_exists br0 || fail "br0 touched with a damaged ledger"
}

test_show_round_trip() {
        nic eth0; nic eth1
        manifest "$two_bridges"
        rc apply; expect_rc 0
        "$RECONCILE" --netns "$NS" --only ethernet,bridge,vlan show >"$TMP/show.yaml" || fail "show failed"
        mkdir -m 700 "$TMP/shown"
        cp "$TMP/show.yaml" "$TMP/shown/host.yaml"
        OUT=$("$RECONCILE" -d "$TMP/shown" validate 2>&1); RC=$?
        expect_rc 0 "validate must accept show's output"
        # The test NICs are veths: show lists them as such, and applying show's
        # output adopts them; nothing else may differ.
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$S" --netns "$NS" plan 2>&1); RC=$?
        expect_rc 0 "plan of show's output"
        expect_out '^plan: 0 to create, 0 to update, 0 to replace, 0 to delete(, [0-9]+ to adopt)?$'
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$S" --netns "$NS" apply 2>&1); RC=$?
        expect_rc 0 "apply of show's output"
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$S" --netns "$NS" plan --exit-code 2>&1); RC=$?
        expect_rc 0 "show's output must be in sync"
}

test_only_kinds() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { mtu: 1400 }
bridges:
  br0: {}
'
        rc apply --only bridge; expect_rc 0
        link_exists br0 || fail "br0 missing"
        [ "$(mtu_of eth0)" = 1500 ] || fail "--only bridge changed an ethernet"
}

test_netns_by_path() {
        manifest 'version: 1
bridges:
  br0: {}
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "/run/netns/$NS" apply 2>&1); RC=$?
        expect_rc 0
        link_exists br0 || fail "br0 not created through the namespace path"
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns /nonexistent/ns plan 2>&1); RC=$?
        expect_rc 1; expect_out '/nonexistent/ns'
}

t "create bridges, configure NICs, second plan empty" test_create_and_idempotent
t "MTU and address change in place (ifindex kept)" test_mtu_and_address_in_place
t "ethernets: MTU, exact static addresses, up" test_ethernet_mtu_addresses
t "dynamic and link-local addresses ignored" test_dynamic_and_link_local_ignored
t "tentative IPv6 address counts as present" test_tentative_counts_as_present
t "dadfailed address is an error naming it" test_dadfailed_is_an_error
t "bridge MAC stable when ports come and go" test_mac_stable_across_ports
t "port enslaved by someone else left in place" test_foreign_port_left_alone
t "missing port skips only its bridge, retried later" test_missing_port_skips_only_its_bridge
t "unmanaged bridge untouched, managed one pruned" test_unmanaged_untouched_and_prune
t "emptied directory refused without --allow-mass-delete" test_mass_delete_guard
t "bad manifest changes nothing, all errors positioned" test_bad_manifest_changes_nothing
t "stp and forward-delay changed in place" test_stp_forward_delay_in_place
t "state: absent deletes, existing bridge adopted" test_state_absent_and_adopt
t "enslaving an addressed port flagged as a risk" test_connectivity_risk_flagged
t "JSON plan and apply result" test_json_plan
t "lock, lock timeout, state dir and manifest permissions" test_lock_and_state_dir
t "torn or empty ledger refused" test_torn_ledger_refused
# Issue 14.5: a create is all or nothing. eth1 carries a macvlan, so no bridge
# can take it (its receive hook is taken): the kernel refuses the second port
# after br0 was made and took eth0.
half_bridge='version: 1
bridges:
  br0: { interfaces: [eth0, eth1], addresses: [192.0.2.1/24] }
'
bridge_refused_halfway() {
        nic eth0; nic eth1
        ip -n "$NS" link add mv0 link eth1 type macvlan
        manifest "$half_bridge"
        rc apply; expect_rc 1
        expect_out 'bridge br0: enslaving a port'
        [ "$(master_of eth0)" = br0 ] || fail "eth0 not in br0"
        rc plan
        expect_out '^~ bridge br0 +\+port eth1, up false -> true \(finishes a create that failed: created, not all'
}

test_half_made_bridge_finished() {
        bridge_refused_halfway
        ip -n "$NS" link del mv0
        rc apply; expect_rc 0
        [ "$(master_of eth1)" = br0 ] || fail "eth1 not in br0"
        rc plan --exit-code; expect_rc 0
        grep -q incomplete "$S/ledger" && fail "still marked incomplete: $(cat "$S/ledger")"
        true
}

test_half_made_bridge_removed() {
        bridge_refused_halfway
        manifest 'version: 1'
        rc plan; expect_out '^- bridge br0 +no longer in the manifests \(its create failed'
        rc apply --allow-mass-delete; expect_rc 0
        link_exists br0 && fail "br0 left behind"
        [ -z "$(master_of eth0)" ] || fail "eth0 still in $(master_of eth0)"
        rc plan --exit-code; expect_rc 0
}

t "show output validates and is in sync" test_show_round_trip
t "--only restricts kinds" test_only_kinds
t "--netns takes a path" test_netns_by_path
# VLANs, IPVS and bonds need modules this kernel lacks: tests/vm/guest/ runs them in a VM.
t "a bridge whose second port is refused is owned; the next run finishes it" test_half_made_bridge_finished
t "a bridge whose second port is refused is owned; dropped from the manifests, it goes" test_half_made_bridge_removed

# The plan goes out before the first action runs, also into a pipe or a log
# (stdout was flushed only at exit, so `-v apply 2>&1 | tee` showed the
# actions' lines above the plan that announced them).
test_plan_before_actions() {
        manifest 'version: 1
bridges:
  br9: {}'
        rc -v apply; expect_rc 0
        first=$(printf '%s\n' "$OUT" | grep -n -m1 '^plan: ' | cut -d: -f1)
        done_at=$(printf '%s\n' "$OUT" | grep -n -m1 'create bridge br9: done' | cut -d: -f1)
        [ -n "$first" ] && [ -n "$done_at" ] || fail "no plan or no done line: $OUT"
        [ "${first:-0}" -lt "${done_at:-0}" ] || fail "plan printed after its actions: $OUT"
}
t "the plan is printed before its actions run, into a pipe too" test_plan_before_actions
