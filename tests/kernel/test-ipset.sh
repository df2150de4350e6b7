#!/bin/bash
# ipsets through the ip_set netlink protocol on this machine's kernel, each test in its own
# namespace; `ipset save` is the witness.
. "$(dirname "$0")/lib.sh"

SAVE() { ip netns exec "$NS" ipset save; }

sets='version: 1
ipsets:
  blocklist:
    type: hash:ip
    family: inet
    entries: [203.0.113.7, 203.0.113.8]
  nets:
    type: hash:net
    entries: [10.0.0.0/8, 192.168.0.0/16]
  ports:
    type: bitmap:port
    range: 1-1024
    entries: [22, 80]
'

has_ipset() { ip netns exec "$NS" ipset list -n >/dev/null 2>&1; }

test_create_and_idempotent() {
        manifest "$sets"
        rc apply; expect_rc 0
        SAVE | grep -q '^create blocklist hash:ip family inet .*maxelem 65536' || fail "blocklist: $(SAVE)"
        SAVE | grep -q '^add blocklist 203.0.113.7$' || fail "entry missing"
        SAVE | grep -q '^add nets 192.168.0.0/16$' || fail "nets entry missing"
        rc plan --exit-code; expect_rc 0 "second plan"
}

test_incremental() {
        manifest "$sets"
        rc apply; expect_rc 0
        local before; before=$(SAVE | grep '^create blocklist')
        manifest "${sets/203.0.113.8/203.0.113.9}"
        rc plan; expect_out '^~ ipset blocklist +-entry 203.0.113.8, \+entry 203.0.113.9$'
        rc apply; expect_rc 0
        [ "$(SAVE | grep '^create blocklist')" = "$before" ] || fail "the set was re-created for an entry change"
        SAVE | grep -q '^add blocklist 203.0.113.9$' || fail "new entry"
        SAVE | grep -q '203.0.113.8' && fail "old entry kept"
        true
}

test_swap_for_new_parameters() {
        manifest "$sets"
        rc apply; expect_rc 0
        manifest "${sets/    family: inet/    family: inet
    maxelem: 1000
    timeout: 600}"
        rc plan; expect_out '^~ ipset blocklist +maxelem 65536 -> 1000, \+timeout 600$'
        rc apply; expect_rc 0
        SAVE | grep -q '^create blocklist hash:ip family inet .*maxelem 1000 timeout 600' || fail "not swapped: $(SAVE | grep blocklist)"
        SAVE | grep -q '^add blocklist 203.0.113.7 timeout' || fail "entries lost in the swap"
        SAVE | grep -q 'rct-new' && fail "the temporary set was left"
        rc plan --exit-code; expect_rc 0
}

test_unmanaged_untouched() {
        ip netns exec "$NS" ipset create mine hash:ip
        ip netns exec "$NS" ipset add mine 1.1.1.1
        manifest "$sets"
        rc apply; expect_rc 0
        manifest "$(printf '%s\n' "$sets" | sed '/^  ports:/,$d')"
        rc plan; expect_out '^- ipset ports +no longer in the manifests$'
        expect_no_out 'mine'
        rc apply; expect_rc 0
        SAVE | grep -q '^add mine 1.1.1.1$' || fail "the unmanaged set was touched"
        SAVE | grep -q '^create ports' && fail "the owned set that left was not deleted"
        true
}

test_type_change_replace_refused_when_referenced() {
        manifest "$sets"
        rc apply; expect_rc 0
        # hash:ip holds addresses, not networks: the entries change with the type.
        manifest "$(printf '%s\n' "$sets" | sed 's/type: hash:net/type: hash:ip/; s|\[10.0.0.0/8, 192.168.0.0/16\]|[10.0.0.1]|')"
        rc plan; expect_out '^-/\+ ipset nets +type hash:net -> hash:ip cannot change in place'
        ip netns exec "$NS" ipset create holder list:set
        ip netns exec "$NS" ipset add holder nets
        rc plan; expect_rc 1
        expect_out 'ipset nets: type hash:net inet -> hash:ip inet needs the set re-created, and 1 rule\(s\) or list:set\(s\) reference it: refused'
}

test_100k_entries() {
        {
                echo "version: 1"
                echo "ipsets:"
                echo "  big:"
                echo "    type: hash:ip"
                echo "    entries:"
                for a in $(seq 0 99); do for b in $(seq 0 999); do echo "      - 10.$a.$((b / 250)).$((b % 250 + 1))"; done; done
        } >"$M/host.yaml"
        local t0 t1
        t0=$(date +%s%N); rc apply; t1=$(date +%s%N)
        expect_rc 0
        echo "# 100,000 entries applied in $(( (t1 - t0) / 1000000 )) ms"
        [ "$(SAVE | grep -c '^add big ')" = 100000 ] || fail "not 100,000 entries"
        SAVE | grep -q '^create big hash:ip .*maxelem 200000' || fail "maxelem is not twice the entries"
        t0=$(date +%s%N); rc plan --exit-code; t1=$(date +%s%N)
        expect_rc 0
        echo "# re-plan of 100,000 entries in $(( (t1 - t0) / 1000000 )) ms"
        sed -i 's/      - 10.0.0.1$/      - 10.200.0.1/' "$M/host.yaml"
        rc plan; expect_out '^~ ipset big +-entry 10.0.0.1, \+entry 10.200.0.1$'
}

test_many_changes_counted() {
        manifest "$sets"
        rc apply; expect_rc 0
        {
                echo "version: 1"
                echo "ipsets:"
                echo "  blocklist: { type: hash:ip, family: inet, entries: ["
                for i in $(seq 1 120); do echo "    198.51.100.$i,"; done
                echo "    203.0.113.7 ] }"
                echo "  nets: { type: hash:net, entries: [10.0.0.0/8, 192.168.0.0/16] }"
                echo "  ports: { type: bitmap:port, range: 1-1024, entries: [22, 80] }"
        } >"$M/host.yaml"
        rc plan; expect_out '^~ ipset blocklist +\+120 -1 entries$'
        rc plan -o json
        [ "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["actions"][0]["changes"]))')" = 121 ] || fail "JSON does not list every entry"
}

test_other_types_and_show() {
        manifest 'version: 1
ipsets:
  svc:
    type: hash:ip,port
    entries: ["10.0.0.1,tcp:80", "10.0.0.2,udp:53"]
  v6:
    type: hash:net
    family: inet6
    entries: ["2001:db8::/32"]
  both:
    type: list:set
    entries: [svc, v6]
'
        rc apply; expect_rc 0
        SAVE | grep -q '^add svc 10.0.0.1,tcp:80$' || fail "hash:ip,port: $(SAVE)"
        SAVE | grep -q '^add both svc$' || fail "list:set"
        rc plan --exit-code; expect_rc 0
        "$RECONCILE" --netns "$NS" --only ipset show >"$TMP/show.yaml" || fail "show"
        mkdir -m 700 "$TMP/shown"; cp "$TMP/show.yaml" "$TMP/shown/s.yaml"
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$S" --netns "$NS" --only ipset plan --exit-code 2>&1); RC=$?
        expect_rc 0 "show's output must be in sync"
}

# Issue 14.5: a create is all or nothing. maxelem 2 makes the kernel refuse the
# third entry, after the set and two entries were made.
small='version: 1
ipsets:
  small:
    type: hash:ip
    maxelem: 2
    entries: [192.0.2.1, 192.0.2.2, 192.0.2.3]
'

test_refused_entry_leaves_nothing() {
        manifest "$small"
        rc apply; expect_rc 1
        expect_out 'ipset small: .*(full|maxelem)'
        # The kernel names the refused entry of the batch (IPSET_ATTR_LINENO).
        expect_out 'error: ipset small: entry 192\.0\.2\.3: the set is full \(maxelem reached\) \(nothing was left behind\)'
        ip netns exec "$NS" ipset list -n | grep -q . && fail "left behind: $(ip netns exec "$NS" ipset list -n)"
        rc plan; expect_out '^\+ ipset small'
        # The next run finishes it once the manifest can be met...
        manifest "${small/maxelem: 2/maxelem: 4}"
        rc plan; expect_out '^\+ ipset small'
        rc apply; expect_rc 0
        [ "$(SAVE | grep -c '^add small ')" = 3 ] || fail "not 3 entries: $(SAVE)"
        ip netns exec "$NS" ipset list -n | grep -q rct-new && fail "temporary set left"
        rc plan --exit-code; expect_rc 0
        # ...or, failed again and then dropped from the manifests, has nothing to remove.
        ip netns exec "$NS" ipset destroy small
        manifest "${small/small:/other:}"
        rc apply; expect_rc 1
        manifest 'version: 1'
        rc plan --exit-code; expect_rc 0
        ip netns exec "$NS" ipset list -n | grep -q . && fail "left behind: $(ip netns exec "$NS" ipset list -n)"
        true
}

# A rebuild for new parameters that the kernel refuses keeps the old set whole
# and leaves no temporary set.
test_refused_rebuild_keeps_old_set() {
        manifest "${small/maxelem: 2/maxelem: 4}"
        rc apply; expect_rc 0
        local before; before=$(SAVE)
        manifest "${small/maxelem: 2/maxelem: 3}
    timeout: 60"
        sed -i 's/entries: \[/entries: [192.0.2.4, /' "$M/host.yaml"
        rc apply; expect_rc 1
        [ "$(SAVE)" = "$before" ] || fail "old set changed: $(SAVE)"
        ip netns exec "$NS" ipset list -n | grep -q rct-new && fail "temporary set left"
        rc plan; expect_out '^~ ipset small '
        true
}

# Verification reads a deleted set (it fails: gone) and then the changed one:
# the failed read must not spoil the next (libipset's session once did).
test_delete_one_change_another() {
        manifest 'version: 1
ipsets:
  a: { type: hash:ip, entries: [10.0.0.1] }
  b: { type: hash:ip, entries: [10.0.0.2] }
'
        rc apply; expect_rc 0
        manifest 'version: 1
ipsets:
  a: { state: absent }
  b: { type: hash:ip, entries: [10.0.0.2, 10.0.0.4] }
'
        rc apply; expect_rc 0 "delete one set, change another"
        ip netns exec "$NS" ipset list a >/dev/null 2>&1 && fail "a not deleted"
        ip netns exec "$NS" ipset list b | grep -q '^10\.0\.0\.4$' || fail "b not changed"
        rc plan --exit-code; expect_rc 0
}

# A list:set and the sets it holds, declared in any order, in one run.
test_list_set_after_its_members() {
        manifest 'version: 1
ipsets:
  all: { type: list:set, entries: [web, db] }
  web: { type: hash:ip, entries: [10.0.0.1] }
  db: { type: hash:ip, entries: [10.0.0.2] }
'
        rc apply; expect_rc 0 "a list:set declared before its members"
        ip netns exec "$NS" ipset list all | grep -q '^web$' || fail "web not in the list"
        rc plan --exit-code; expect_rc 0
        manifest 'version: 1
ipsets:
  web: { type: hash:ip, entries: [10.0.0.1] }
'
        rc apply --allow-mass-delete; expect_rc 0 "the list goes before the set it held"
        ip netns exec "$NS" ipset list all >/dev/null 2>&1 && fail "all not deleted"
        ip netns exec "$NS" ipset list db >/dev/null 2>&1 && fail "db not deleted"
        true
}

# One entry changed: one datagram holding a DEL and an ADD message, and one
# dump of all sets to plan plus one of the changed set to verify; no type
# look-ups, no header reads. strace is the witness of what goes to the kernel.
test_one_entry_change_requests() {
        manifest "$sets"
        rc apply; expect_rc 0
        manifest "${sets/203.0.113.8/203.0.113.9}"
        # LeakSanitizer cannot run under ptrace: the sanitized build checks leaks elsewhere.
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=sendto,sendmsg -o "$TMP/trace" "$RECONCILE" -q -d "$M" --state-dir "$S" --netns "$NS" apply \
                >"$TMP/out" 2>&1 || fail "apply: $(cat "$TMP/out")"
        # nlmsg_type is NFNL_SUBSYS_IPSET (6) << 8 | the ip_set command.
        local n
        n() { grep -o "nlmsg_type=0x60$1 " "$TMP/trace" | wc -l; }
        [ "$(n 9)" = 1 ] || fail "ADD messages: $(n 9)"
        [ "$(n a)" = 1 ] || fail "DEL messages: $(n a)"
        [ "$(n 7)" = 2 ] || fail "LIST dumps: $(n 7) (one to plan, one to verify)"
        [ "$(n 8)" = 0 ] || fail "SAVE dumps: $(n 8)"
        [ "$(n c)" = 0 ] || fail "HEADER requests: $(n c)"
        [ "$(n d)" = 0 ] || fail "TYPE requests: $(n d)"
        grep 'nlmsg_type=0x60a ' "$TMP/trace" | grep -q 'nlmsg_type=0x609 ' || fail "DEL and ADD not in one datagram"
        SAVE | grep -q '^add blocklist 203.0.113.9$' || fail "new entry"
        SAVE | grep -q '203.0.113.8' && fail "old entry kept"
        true
}

# Every set type this kernel has, with its options, in `ipset save`'s words:
# the entries reconcile writes and reads back through netlink are the ones
# the ipset tool prints, and a second plan is empty.
test_kernel_types_round_trip() {
        manifest 'version: 1
ipsets:
  bip: { type: bitmap:ip, range: 10.0.0.0-10.0.0.255, entries: [10.0.0.9] }
  bmac: { type: "bitmap:ip,mac", range: 10.0.0.0-10.0.0.255, entries: ["10.0.0.1,00:11:22:33:44:55", 10.0.0.2] }
  bport: { type: bitmap:port, range: 1-1024, entries: ["22", "1024"] }
  ipi: { type: "hash:ip,port,ip", entries: ["10.0.0.1,sctp:53,10.0.0.2"] }
  ipn: { type: "hash:ip,port,net", entries: ["10.0.0.1,udplite:9,10.0.0.0/24", "10.0.0.1,tcp:0,10.0.0.128/25"] }
  ifc: { type: "hash:net,iface", entries: ["10.0.0.0/8,physdev:eth0", "10.1.0.0/16,eth1"] }
  np6: { type: "hash:net,port", family: inet6, entries: ["2001:db8::/32,tcp:443", "2001:db8:1::1,udp:53"] }
  opt: { type: hash:ip, comment: true, timeout: 100, hashsize: 4096, maxelem: 7, entries: [1.2.3.4] }
'
        rc apply; expect_rc 0
        local want got
        want='add bip 10.0.0.9
add bmac 10.0.0.1,00:11:22:33:44:55
add bmac 10.0.0.2
add bport 1024
add bport 22
add ifc 10.0.0.0/8,physdev:eth0
add ifc 10.1.0.0/16,eth1
add ipi 10.0.0.1,sctp:53,10.0.0.2
add ipn 10.0.0.1,tcp:0,10.0.0.128/25
add ipn 10.0.0.1,udplite:9,10.0.0.0/24
add np6 2001:db8:1::1,udp:53
add np6 2001:db8::/32,tcp:443
add opt 1.2.3.4'
        got=$(SAVE | grep '^add ' | sed 's/ timeout [0-9]*//' | LC_ALL=C sort)
        [ "$got" = "$(printf '%s\n' "$want" | LC_ALL=C sort)" ] || fail "entries: $got"
        SAVE | grep -q '^create bip bitmap:ip range 10.0.0.0-10.0.0.255$' || fail "bip: $(SAVE | grep 'create bip')"
        SAVE | grep -q '^create bport bitmap:port range 1-1024$' || fail "bport: $(SAVE | grep 'create bport')"
        SAVE | grep -q '^create np6 hash:net,port family inet6 ' || fail "np6: $(SAVE | grep 'create np6')"
        SAVE | grep -q '^create opt hash:ip family inet hashsize 4096 maxelem 7 timeout 100 comment' || fail "opt: $(SAVE | grep 'create opt')"
        rc plan --exit-code; expect_rc 0 "second plan"
        "$RECONCILE" --netns "$NS" --only ipset show >"$TMP/show.yaml" || fail "show"
        grep -q '"10.0.0.0/8,physdev:eth0"\|10.0.0.0/8,physdev:eth0' "$TMP/show.yaml" || fail "show: $(cat "$TMP/show.yaml")"
}

# A set that a list:set (or a rule) holds is never destroyed: the kernel
# refuses, the error says why, the set stays whole.
test_destroy_refused_while_in_use() {
        manifest "$sets"
        rc apply; expect_rc 0
        ip netns exec "$NS" ipset create holder list:set
        ip netns exec "$NS" ipset add holder nets
        manifest "$(printf '%s\n' "$sets" | sed '/^  nets:/,/^  ports:/{/^  ports:/!d}')"
        rc plan; expect_out '^- ipset nets'
        rc apply; expect_rc 1
        expect_out 'error: ipset nets: destroy nets: the set is in use by a rule or a list:set'
        SAVE | grep -q '^add nets 10.0.0.0/8$' || fail "nets changed: $(SAVE)"
}

# The same for a set an iptables rule matches on: its reference count comes
# with the header in the one dump, so a re-create is refused at plan time, and
# a destroy is refused by the kernel.
test_iptables_reference() {
        manifest "$sets"
        rc apply; expect_rc 0
        ip netns exec "$NS" iptables -A INPUT -m set --match-set blocklist src -j DROP || { fail "iptables -m set"; return; }
        manifest "$(printf '%s\n' "$sets" | sed 's/type: hash:ip$/type: hash:net/')"
        rc plan; expect_rc 1
        expect_out 'ipset blocklist: type hash:ip inet -> hash:net inet needs the set re-created, and 1 rule\(s\) or list:set\(s\) reference it: refused'
        manifest "$(printf '%s\n' "$sets" | sed '/^  blocklist:/,/^  nets:/{/^  nets:/!d}')"
        rc apply; expect_rc 1
        expect_out 'error: ipset blocklist: destroy blocklist: the set is in use by a rule or a list:set'
        SAVE | grep -q '^add blocklist 203.0.113.7$' || fail "blocklist changed: $(SAVE)"
        ip netns exec "$NS" iptables -D INPUT -m set --match-set blocklist src -j DROP
        rc apply; expect_rc 0 "once the rule is gone"
        SAVE | grep -q '^create blocklist' && fail "blocklist not deleted"
        true
}

# The plan lists entry changes in one order, text order, whichever way the
# diff found them (IPv4 sets as numbers, others through a hash index), and the
# apply makes exactly them.
test_entry_changes_in_text_order() {
        manifest 'version: 1
ipsets:
  n: { type: hash:net, entries: [9.0.0.0/8, 10.0.0.0/8, 192.168.0.0/16] }
  svc: { type: "hash:ip,port", entries: ["10.0.0.1,tcp:80", "10.0.0.2,udp:53"] }
'
        rc apply; expect_rc 0
        manifest 'version: 1
ipsets:
  n: { type: hash:net, entries: [192.168.0.0/16, 11.0.0.0/8, 8.0.0.0/8] }
  svc: { type: "hash:ip,port", entries: ["10.0.0.2,udp:53", "10.0.0.3,tcp:80", "10.0.0.10,tcp:80"] }
'
        rc plan
        expect_out '^~ ipset n +-entry 10\.0\.0\.0/8, \+entry 11\.0\.0\.0/8, \+entry 8\.0\.0\.0/8, -entry 9\.0\.0\.0/8$'
        expect_out '^~ ipset svc +-entry 10\.0\.0\.1,tcp:80, \+entry 10\.0\.0\.10,tcp:80, \+entry 10\.0\.0\.3,tcp:80$'
        rc apply; expect_rc 0
        [ "$(SAVE | grep '^add n ' | LC_ALL=C sort | tr '\n' ' ')" = "add n 11.0.0.0/8 add n 192.168.0.0/16 add n 8.0.0.0/8 " ] ||
                fail "n: $(SAVE | grep '^add n ')"
        [ "$(SAVE | grep -c '^add svc ')" = 3 ] || fail "svc: $(SAVE | grep '^add svc ')"
        rc plan --exit-code; expect_rc 0
}

# Entries in another spelling than the kernel's are refused at plan time
# (the fast IPv4 check lets through only the canonical form).
test_noncanonical_ipv4_refused() {
        manifest 'version: 1
ipsets:
  a: { type: hash:ip, entries: [010.0.0.1, 10.0.0.256, 10.0.0, 10.0.0.1.2, 10.0.0.1/32] }
  n: { type: hash:net, entries: [10.0.0.1/8, 10.0.0.0/32, 10.0.0.0/0, 10.0.0.0/08, 10.0.0.0/] }
  b: { type: bitmap:ip, range: 10.0.0.0-10.0.0.255, entries: [10.0.1.1] }
'
        rc plan; expect_rc 1
        local e
        for e in 010.0.0.1 10.0.0.256 10.0.0 10.0.0.1.2 10.0.0.1/32 10.0.0.1/8 10.0.0.0/32 10.0.0.0/0 10.0.0.0/08 10.0.0.0/ 10.0.1.1; do
                expect_out "entry \"$e\""
        done
        manifest 'version: 1
ipsets:
  a: { type: hash:ip, entries: [1.0.0.0, 255.255.255.255, 10.20.0.1] }
  n: { type: hash:net, entries: [10.0.0.0/8, 10.0.0.1, 10.0.0.128/25] }
'
        rc apply; expect_rc 0
        rc plan --exit-code; expect_rc 0
}

t "ipset: create, entries, second plan empty" test_create_and_idempotent
t "ipset: hash:ip,port, inet6 hash:net, list:set; show round-trips" test_other_types_and_show
t "ipset: one entry changed = one add and one del, set kept" test_incremental
t "ipset: new maxelem/timeout built aside and swapped in, entries kept" test_swap_for_new_parameters
t "ipset: an unmanaged set is untouched, an owned one that left is deleted" test_unmanaged_untouched
t "ipset: a type change is a replace, refused while referenced" test_type_change_replace_refused_when_referenced
t "ipset: 100,000 entries apply and re-plan" test_100k_entries
t "ipset: many entry changes print as counts, JSON lists them all" test_many_changes_counted
t "ipset: an entry refused halfway through a create leaves nothing; the next run creates it" test_refused_entry_leaves_nothing
t "ipset: a refused rebuild keeps the old set and no temporary one" test_refused_rebuild_keeps_old_set
t "one run deletes a set and changes another; verification reads both" test_delete_one_change_another
t "a list:set and its member sets in one run, created and deleted in order" test_list_set_after_its_members
t "ipset: one entry changed = one datagram (DEL + ADD), one dump to plan, one to verify" test_one_entry_change_requests \
        "$(command -v strace >/dev/null || echo "needs strace (make bench-deps)")"
t "ipset: every set type of this kernel and its options round-trip in ipset save's words" test_kernel_types_round_trip
t "ipset: a set held by a list:set is not destroyed; the error says why" test_destroy_refused_while_in_use
t "ipset: a set an iptables rule matches on is neither re-created nor destroyed" test_iptables_reference \
        "$(command -v iptables >/dev/null || echo "needs iptables")"
t "ipset: entry changes are planned in text order by either diff, and applied" test_entry_changes_in_text_order
t "ipset: IPv4 entries not in the kernel's spelling are refused" test_noncanonical_ipv4_refused
