#!/bin/bash
# The health checker at 1,000 reals checked each second, in the VM (IPVS is
# here). No listener: a busybox server forks per connection, which TCG cannot
# do 1,000 times a second, so the reals are an AnyIP /16 on lo whose kernel
# refuses each connect (a SYN, a reset): the checks fail and the reals are
# drained, then the checks go on. The note prints the daemon's CPU over a
# window (user + system from /proc, a share of one vCPU; under TCG, so only
# the ratio to keepalived's checker measured the same way means something)
# and the connects the namespace's TCP counters saw. keepalived's checker on
# the same reals is the peer where the image has keepalived.
. "$(dirname "$0")/../../kernel/lib.sh"

N=1000
WINDOW=10
# Active opens of the test namespace: one per check.
active_opens() { ip netns exec "$1" awk '$1 == "Tcp:" && $6 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
anyip() {
        ip -n "$1" route add local 10.1.0.0/16 dev lo
}
until_true() {
        local end=$(($(date +%s) + $1))
        shift
        until "$@"; do
                [ "$(date +%s)" -ge "$end" ] && return 1
                sleep 0.5
        done
}
all_down() { [ "$(grep -c "	down	.*Connection refused" "$S/checks" 2>/dev/null)" = "$N" ]; }
drained() { [ "$(ip netns exec "$NS" ipvsadm -Ln | awk '$1 == "->" && $4 == 0' | wc -l)" = "$N" ]; }

test_thousand_reals() {
        anyip "$NS"
        {
                echo "version: 1"
                echo "services:"
                for s in $(seq 0 $((N / 100 - 1))); do
                        echo "  web$s: { address: 192.0.2.$((s + 1)), port: 80, check: { type: tcp, interval: 1, timeout: 1, fall: 2 }, reals: ["
                        for r in $(seq 0 99); do echo "    { address: 10.1.$s.$((r + 1)), port: 80, weight: 1 },"; done
                        echo "  ] }"
                done
        } >"$M/host.yaml"
        "$RECONCILE" daemon -d "$M" --state-dir "$S" --netns "$NS" >"$TMP/log" 2>&1 &
        local dpid=$!
        until_true 120 all_down || fail "not every real checked and down: $(grep -c . "$S/checks" 2>&1) checks; $(tail -5 "$TMP/log")"
        until_true 120 drained || fail "the reals were not drained: $(ip netns exec "$NS" ipvsadm -Ln | head; tail -5 "$TMP/log")"
        sleep 2 # the run that drained them is over
        local o0 o1 t0 t1 hz
        hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
        o0=$(active_opens "$NS") t0=$(cpu_ticks $dpid)
        sleep $WINDOW
        o1=$(active_opens "$NS") t1=$(cpu_ticks $dpid)
        kill -TERM $dpid
        wait $dpid
        local opens=$((o1 - o0))
        echo "# checker in the VM (TCG): $N reals x 1 check/s, refused: cpu=$((100 * (t1 - t0) / hz / WINDOW))% of one vCPU ($((t1 - t0)) ticks over $WINDOW s); $opens connects"
        # Each real about once a second: a tenth of slack for the emulation.
        [ "$opens" -ge $((N * WINDOW * 9 / 10)) ] && [ "$opens" -le $((N * WINDOW * 11 / 10)) ] ||
                fail "$opens connects in $WINDOW s, not about $((N * WINDOW))"
        grep -q "health check tcp 10.1.0.1:80: down (2 failures: Connection refused)" "$TMP/log" ||
                fail "the transition was not logged: $(grep -m3 'health check' "$TMP/log")"
        [ "$(grep -c 'health check tcp 10.1.0.1:80: down' "$TMP/log")" = 1 ] || fail "the transition was logged more than once"
        grep -q "stuck" "$TMP/log" && fail "a check was found stuck: $(grep -m3 stuck "$TMP/log")"
        true
}

test_keepalived_peer() {
        anyip "$NS"
        local conf=$TMP/keepalived.conf
        {
                echo "global_defs { router_id bench }"
                for s in $(seq 0 $((N / 100 - 1))); do
                        echo "virtual_server 192.0.2.$((s + 1)) 80 {"
                        echo "  delay_loop 1"
                        echo "  lb_algo wlc"
                        echo "  lb_kind DR"
                        echo "  protocol TCP"
                        for r in $(seq 0 99); do
                                echo "  real_server 10.1.$s.$((r + 1)) 80 { weight 1"
                                echo "    TCP_CHECK { connect_timeout 1"
                                echo "      retry 1 } }"
                        done
                        echo "}"
                done
        } >"$conf"
        ip netns exec "$NS" keepalived -n -C -f "$conf" -p "$TMP/k.pid" -c "$TMP/c.pid" >"$TMP/klog" 2>&1 &
        local kpid=$! cpid
        until_true 60 test -s "$TMP/c.pid" || fail "keepalived's checker did not start: $(tail -5 "$TMP/klog")"
        cpid=$(cat "$TMP/c.pid" 2>/dev/null)
        sleep 15 # its first rounds, and its removals of the refused reals
        local o0 o1 t0 t1 hz
        hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
        o0=$(active_opens "$NS") t0=$(cpu_ticks "$cpid")
        sleep $WINDOW
        o1=$(active_opens "$NS") t1=$(cpu_ticks "$cpid")
        kill -TERM $kpid
        wait $kpid
        echo "# keepalived's checker in the VM (TCG): $N reals, delay_loop 1, refused: cpu=$((100 * (t1 - t0) / hz / WINDOW))% of one vCPU ($((t1 - t0)) ticks over $WINDOW s); $((o1 - o0)) connects"
        [ $((o1 - o0)) -gt 0 ] || fail "keepalived checked nothing: $(tail -5 "$TMP/klog")"
}

modprobe ip_vs 2>/dev/null; modprobe ip_vs_wlc 2>/dev/null
t "checker: 1,000 reals checked each second, drained once, CPU in the note" test_thousand_reals
t "checker: keepalived's checker on the same reals, CPU in the note" test_keepalived_peer \
        "$(command -v keepalived >/dev/null || echo "keepalived is not in the VM image (tests/vm/build.sh copies it when the host has it)")"
