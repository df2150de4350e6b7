#!/bin/bash
# IPVS on the VM's stock kernel (ip_vs and its schedulers); ipvsadm is the witness.
. "$(dirname "$0")/../../kernel/lib.sh"

L() { ip netns exec "$NS" ipvsadm -Ln | tail -n +4; }

web='version: 1
services:
  web:
    protocol: tcp
    address: 192.0.2.100
    port: 80
    scheduler: wlc
    reals:
      - { address: 10.0.0.11, port: 80, weight: 1 }
      - { address: 10.0.0.12, port: 80, weight: 2, forwarding: route }
      - { address: 10.0.0.13, port: 80, weight: 3, forwarding: tunnel }
  dns:
    protocol: udp
    address: 192.0.2.53
    port: 53
    scheduler: rr
    reals:
      - { address: 10.0.0.21, port: 53 }
  v6:
    protocol: tcp
    address: "2001:db8::100"
    port: 443
    scheduler: sh
    persistence: 300
    reals:
      - { address: "2001:db8::11", port: 443, weight: 1 }
  marked:
    fwmark: 7
    scheduler: lc
    reals:
      - { address: 10.0.0.31, port: 0, weight: 1, forwarding: route }
'

test_services_each_kind() {
        manifest "$web"
        rc apply; expect_rc 0
        L >"$TMP/after"
        grep -q 'TCP  192.0.2.100:80 wlc' "$TMP/after" || fail "web missing: $(cat "$TMP/after")"
        grep -q -- '-> 10.0.0.11:80 *Masq *1' "$TMP/after" || fail "masq real"
        grep -q -- '-> 10.0.0.12:80 *Route *2' "$TMP/after" || fail "route real"
        grep -q -- '-> 10.0.0.13:80 *Tunnel *3' "$TMP/after" || fail "tunnel real"
        grep -q 'UDP  192.0.2.53:53 rr' "$TMP/after" || fail "udp service"
        grep -q 'TCP  \[2001:db8::100\]:443 sh persistent 300' "$TMP/after" || fail "IPv6 persistent service"
        grep -q 'FWM  7 lc' "$TMP/after" || fail "fwmark service"
        rc plan --exit-code; expect_rc 0 "second plan"
}

test_every_scheduler() {
        local s i=0
        {
                echo "version: 1"
                echo "services:"
                for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
                        i=$((i + 1))
                        echo "  s-$s: { protocol: tcp, address: 192.0.2.$i, port: 80, scheduler: $s, reals: [ { address: 10.0.1.$i, port: 80 } ] }"
                done
        } >"$M/host.yaml"
        rc apply; expect_rc 0
        for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
                L | grep -q " $s\$\| $s " || fail "scheduler $s missing"
        done
        rc plan --exit-code; expect_rc 0
}

test_weight_one_message_in_place() {
        manifest "$web"
        rc apply; expect_rc 0
        L >"$TMP/before"
        sed -i 's/10.0.0.11, port: 80, weight: 1/10.0.0.11, port: 80, weight: 5/' "$M/host.yaml"
        rc plan
        expect_out '^~ service web +real 10.0.0.11:80 weight 1 masq -> weight 5 masq$'
        rc apply -o json; expect_rc 0
        L >"$TMP/after"
        [ "$(diff "$TMP/before" "$TMP/after" | grep -c '^[-+] ')" = 2 ] || fail "more than the weight changed: $(diff "$TMP/before" "$TMP/after")"
        local edited=${web/weight: 1 \}/weight: 5 \}}
        manifest "${edited/    scheduler: wlc/    scheduler: rr
    persistence: 60}"
        rc plan
        expect_out '^~ service web +scheduler wlc -> rr, \+persistence 60$'
        rc apply; expect_rc 0
        L | grep -q 'TCP  192.0.2.100:80 rr persistent 60' || fail "not edited in place: $(L)"
        L | grep -q -- '-> 10.0.0.11:80 *Masq *5' || fail "reals lost in the edit"
        rc plan --exit-code; expect_rc 0
}

test_drain_then_delete() {
        manifest "${web/    scheduler: wlc/    scheduler: wlc
    drain-seconds: 2}"
        rc apply; expect_rc 0
        sed -i '/10.0.0.13/d' "$M/host.yaml"
        rc apply; expect_rc 0
        L | grep -q -- '-> 10.0.0.13:80 *Tunnel *0' || fail "draining real not at weight 0: $(L)"
        rc plan --exit-code; expect_rc 0 "a drain is pending, not a change"
        expect_out '^! service web +real 10.0.0.13:80 draining until '
        sleep 2.2
        rc plan; expect_out '^~ service web +-real 10.0.0.13:80 weight 0 tunnel$'
        rc apply; expect_rc 0
        L | grep -q '10.0.0.13' && fail "drained real not deleted"
        sed -i '/10.0.0.12/d' "$M/host.yaml"
        sed -i 's/drain-seconds: 2/drain-seconds: 0/' "$M/host.yaml"
        rc apply; expect_rc 0
        L | grep -q '10.0.0.12' && fail "drain-seconds 0 did not delete at once"
        true
}

test_unmanaged_untouched() {
        ip netns exec "$NS" ipvsadm -A -t 198.51.100.1:22 -s rr
        ip netns exec "$NS" ipvsadm -a -t 198.51.100.1:22 -r 10.9.9.9:22 -m
        manifest "$web"
        rc apply; expect_rc 0
        manifest "$(printf '%s\n' "$web" | sed '/^  marked:/,$d')"
        rc plan; expect_out '^- service fwmark:inet:7 +no longer in the manifests$'
        expect_no_out '198.51.100.1'
        rc apply; expect_rc 0
        L | grep -q 'TCP  198.51.100.1:22 rr' || fail "the unmanaged service was touched"
        L | grep -q -- '-> 10.9.9.9:22' || fail "the unmanaged real was touched"
        L | grep -q 'FWM  7' && fail "the owned service that left was not deleted"
        true
}

test_show_round_trip() {
        manifest "$web"
        rc apply; expect_rc 0
        "$RECONCILE" --netns "$NS" --only service show >"$TMP/show.yaml" || fail "show"
        mkdir -m 700 "$TMP/shown"; cp "$TMP/show.yaml" "$TMP/shown/s.yaml"
        OUT=$("$RECONCILE" -d "$TMP/shown" --state-dir "$S" --netns "$NS" --only service plan --exit-code 2>&1); RC=$?
        expect_rc 0 "show's output must be in sync"
}

test_confirm_reverts_bridge_and_service() {
        manifest "$web"
        rc apply; expect_rc 0
        local before; before=$(L; ip -n "$NS" -o link show | awk '{print $2}' | sort)
        local edited=${web/weight: 1 \}/weight: 7 \}}
        edited=${edited/services:/services:
  extra: \{ protocol: tcp, address: 192.0.2.200, port: 443, reals: [ \{ address: 10.0.0.99, port: 443 \} ] \}}
        manifest "$edited
bridges:
  br9: {}
"
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null 2>&1); RC=$?
        expect_rc 1
        expect_out 'reverting: not confirmed'
        local after; after=$(L; ip -n "$NS" -o link show | awk '{print $2}' | sort)
        [ "$before" = "$after" ] || fail "bridge and services not both reverted: $(diff <(echo "$before") <(echo "$after"))"
}

# Many services read back whole: reals from none to 300 (a dump of several
# datagrams), 1,500 services (a service dump of many), IPv6 and a fwmark.
# ipvsadm -S -n is the witness; then two edits behind reconcile's back are
# exactly the two changes its next plan finds.
test_many_services_read_whole() {
        local i j n_svc=0 n_real=0
        {
                echo "version: 1"
                echo "services:"
                for i in $(seq 1 1500); do
                        echo "  s$i: { protocol: tcp, address: 172.16.$((i / 250)).$((i % 250 + 1)), port: 80, reals: ["
                        for j in $(seq 1 $((i % 7))); do echo "    { address: 10.$j.$((i / 250)).$((i % 250 + 1)), port: 8080, weight: $j },"; done
                        echo "  ] }"
                        n_svc=$((n_svc + 1)) n_real=$((n_real + i % 7))
                done
                echo "  big: { protocol: udp, address: 192.0.2.1, port: 53, reals: ["
                for j in $(seq 1 300); do echo "    { address: 10.200.$((j / 250)).$((j % 250 + 1)), port: 53, weight: 1 },"; done
                echo "  ] }"
                echo '  v6: { protocol: tcp, address: "2001:db8::1", port: 443, reals: ['
                echo '    { address: "2001:db8::11", port: 443 }, { address: "2001:db8::11", port: 444, weight: 2 } ] }'
                echo '  mark: { fwmark: 9, reals: [ { address: 10.9.9.1, port: 0, forwarding: route } ] }'
                echo '  ports: { protocol: tcp, address: 192.0.2.2, port: 80, reals: ['
                echo '    { address: 10.7.7.7, port: 8080 }, { address: 10.7.7.7, port: 8081, weight: 2 } ] }'
                n_svc=$((n_svc + 4)) n_real=$((n_real + 305))
        } >"$M/host.yaml"
        rc apply; expect_rc 0
        ip netns exec "$NS" ipvsadm -S -n >"$TMP/saved"
        [ "$(grep -c '^-A' "$TMP/saved")" = $n_svc ] || fail "ipvsadm lists $(grep -c '^-A' "$TMP/saved") services, not $n_svc"
        [ "$(grep -c '^-a' "$TMP/saved")" = $n_real ] || fail "ipvsadm lists $(grep -c '^-a' "$TMP/saved") reals, not $n_real"
        rc plan --exit-code; expect_rc 0 "everything read back as declared"
        OUT=$("$RECONCILE" --netns "$NS" --only service show 2>&1)
        [ "$(printf '%s\n' "$OUT" | grep -c 'weight:')" = $n_real ] || fail "show lists $(printf '%s\n' "$OUT" | grep -c 'weight:') reals, not $n_real"
        ip netns exec "$NS" ipvsadm -d -u 192.0.2.1:53 -r 10.200.1.51:53
        ip netns exec "$NS" ipvsadm -e -t 172.16.0.7:80 -r 10.6.0.7:8080 -m -w 9
        ip netns exec "$NS" ipvsadm -e -t 192.0.2.2:80 -r 10.7.7.7:8081 -m -w 5
        ip netns exec "$NS" ipvsadm -e -t '[2001:db8::1]:443' -r '[2001:db8::11]:444' -m -w 6
        rc plan
        expect_out '^~ service big +\+real 10.200.1.51:53 weight 1 masq$'
        expect_out '^~ service s6 +real 10.6.0.7:8080 weight 9 masq -> weight 6 masq$'
        expect_out '^~ service ports +real 10.7.7.7:8081 weight 5 masq -> weight 2 masq$'
        expect_out '^~ service v6 +real \[2001:db8::11\]:444 weight 6 masq -> weight 2 masq$'
        expect_out '^plan: 0 to create, 4 to update, 0 to replace, 0 to delete'
}

t "IPVS: apply --confirm without confirmation reverts a bridge and services together" test_confirm_reverts_bridge_and_service
t "IPVS: show exports services that plan finds in sync" test_show_round_trip
t "IPVS: tcp/udp/IPv6/fwmark services, masq/route/tunnel reals; second plan empty" test_services_each_kind
t "IPVS: every scheduler the kernel has" test_every_scheduler
t "IPVS: one weight is one change; scheduler and persistence edited in place" test_weight_one_message_in_place
t "IPVS: a real leaving drains at weight 0, then goes; drain-seconds 0 deletes at once" test_drain_then_delete
t "IPVS: an unmanaged service is untouched, an owned one that left is deleted" test_unmanaged_untouched
t "IPVS: 1,504 services with 0 to 300 reals read back whole, as ipvsadm lists them" test_many_services_read_whole
