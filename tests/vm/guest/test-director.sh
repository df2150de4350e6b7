#!/bin/bash
# An LVS director: the daemon's health checks drain and restore reals, http
# expect and regex, the sorry server, a restart that keeps a drain. The reals
# are busybox httpd on addresses of the test namespace's lo; ipvsadm is the
# witness. Times are generous: the guest runs under TCG.
. "$(dirname "$0")/../../kernel/lib.sh"

L() { ip netns exec "$NS" ipvsadm -Ln | tail -n +4; }
# weight_of ADDRESS:PORT: the real's weight, empty when the kernel has no such real.
weight_of() { L | awk -v a="$1" '$1 == "->" && $2 == a { print $4 }'; }
# until_true SECONDS COMMAND...: poll every 0.2 s; false when it never held.
until_true() {
        local end=$(($(date +%s) + $1))
        shift
        until "$@"; do
                [ "$(date +%s)" -ge "$end" ] && return 1
                sleep 0.2
        done
}
weight_is() { [ "$(weight_of "$1")" = "$2" ]; }
# serve N [BODY]: busybox httpd on 10.0.0.1N:80 with /health holding BODY.
serve() {
        mkdir -p "$TMP/www$1"
        echo "${2:-ok}" >"$TMP/www$1/health"
        ip netns exec "$NS" busybox httpd -f -p "10.0.0.1$1:80" -h "$TMP/www$1" &
        eval "HTTPD$1=$!"
}
unserve() {
        local pid
        eval "pid=\${HTTPD$1:-}"
        [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        eval "HTTPD$1="
}
start_daemon() {
        "$RECONCILE" daemon -d "$M" --state-dir "$S" --netns "$NS" >>"$TMP/log" 2>&1 &
        DPID=$!
}
stop_daemon() {
        [ -n "${DPID:-}" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
        DPID=
}
cleanup_all() {
        stop_daemon
        unserve 1
        unserve 2
}
director_setup() {
        ip -n "$NS" addr add 10.0.0.11/32 dev lo
        ip -n "$NS" addr add 10.0.0.12/32 dev lo
        ip -n "$NS" addr add 10.0.0.19/32 dev lo
        : >"$TMP/log"
}

web() { # web CHECK [EXTRA]
        manifest "version: 1
services:
  web:
    address: 192.0.2.100
    port: 80
    scheduler: wlc
    check: $1
${2:-}
    reals:
      - { address: 10.0.0.11, port: 80, weight: 5 }
      - { address: 10.0.0.12, port: 80, weight: 7 }"
}

test_tcp_down_and_back() {
        director_setup
        serve 1
        serve 2
        web "{ type: tcp, interval: 1, timeout: 1, fall: 2, rise: 2 }"
        start_daemon
        until_true 30 weight_is 10.0.0.12:80 7 || fail "the service was not applied: $(L; cat "$TMP/log")"
        until_true 30 grep -qs "tcp 10.0.0.12:80	up	.*connected" "$S/checks" || fail "no passing check: $(cat "$S/checks" 2>&1)"
        unserve 2
        local t0 t1
        t0=$(date +%s)
        until_true 20 weight_is 10.0.0.12:80 0 || fail "the stopped real kept its weight: $(L; cat "$TMP/log")"
        t1=$(date +%s)
        # interval x fall + 1 s, and the guest's emulation: at most twice that.
        [ $((t1 - t0)) -le 6 ] || fail "drained after $((t1 - t0)) s"
        weight_is 10.0.0.11:80 5 || fail "the live real changed: $(L)"
        grep -q "health check tcp 10.0.0.12:80: down (2 failures: Connection refused)" "$TMP/log" ||
                fail "no transition logged: $(cat "$TMP/log")"
        # The checker's weight is wanted: a plan changes nothing and lists the real as pending.
        rc plan --exit-code
        expect_rc 0 "plan while a real is down"
        expect_out 'real 10.0.0.12:80 down since [0-9T:-]+Z \(2 failures: Connection refused\)'
        # reconcile status lists each checked real, as of the run the transition started.
        status_has_down() { tr -d ' \n' <"$RECONCILE_RUN/status-$NS.json" 2>/dev/null | grep -q '"state":"down"'; }
        until_true 10 status_has_down ||
                fail "the status file has no down real: $(cat "$RECONCILE_RUN/status-$NS.json" 2>&1 | head -40)"
        rc status
        expect_rc 0 "status"
        expect_out '^  down +service web real 10\.0\.0\.12:80: tcp 10\.0\.0\.12:80 since [0-9T:-]+Z \(Connection refused\)$'
        expect_out '^  up +service web real 10\.0\.0\.11:80: tcp 10\.0\.0\.11:80 since [0-9T:-]+Z \(connected\)$'
        rc status -o json
        printf '%s\n' "$OUT" | tr -d ' \n' | grep -q '"item":"real10.0.0.12:80","check":"tcp10.0.0.12:80","state":"down","result":"Connectionrefused","since":"[0-9T:-]*Z"' ||
                fail "status -o json lacks the down real's row"
        serve 2
        until_true 20 weight_is 10.0.0.12:80 7 || fail "the real did not come back: $(L; cat "$TMP/log")"
        grep -q "health check tcp 10.0.0.12:80: up (2 passes: connected)" "$TMP/log" || fail "no up logged with its reason"
        cleanup_all
}

test_http_expect_and_regex() {
        director_setup
        serve 1 "ok: all good"
        serve 2 "sick"
        web "{ type: http, path: /health, regex: \"^ok\", interval: 1, timeout: 1, fall: 1, rise: 1 }"
        start_daemon
        until_true 30 weight_is 10.0.0.12:80 0 || fail "the real whose body fails the regex kept its weight: $(L; cat "$TMP/log")"
        weight_is 10.0.0.11:80 5 || fail "the matching real lost its weight: $(L)"
        grep -q "http 10.0.0.12:80/health	down	.*body does not match" "$S/checks" || fail "state: $(cat "$S/checks")"
        echo "ok now" >"$TMP/www2/health"
        until_true 20 weight_is 10.0.0.12:80 7 || fail "a matching body did not bring it back: $(L)"
        stop_daemon
        # expect: busybox answers 404 for a missing path, which this check wants.
        web "{ type: http, path: /missing, expect: \"404\", interval: 1, timeout: 1, fall: 1, rise: 1 }"
        start_daemon
        until_true 30 grep -qs "http 10.0.0.11:80/missing	up	.*HTTP 404" "$S/checks" || fail "expect 404: $(cat "$S/checks")"
        weight_is 10.0.0.11:80 5 || fail "a 404 that is expected drained the real: $(L)"
        cleanup_all
}

test_sorry_server() {
        director_setup
        serve 1
        web "{ type: tcp, interval: 1, timeout: 1, fall: 1, rise: 1 }" "    sorry-server: { address: 10.0.0.19, port: 80 }"
        start_daemon
        until_true 30 weight_is 10.0.0.12:80 0 || fail "the real without a server kept its weight: $(L; cat "$TMP/log")"
        [ -z "$(weight_of 10.0.0.19:80)" ] || fail "the sorry server is in while a real is up: $(L)"
        unserve 1
        until_true 20 weight_is 10.0.0.19:80 1 || fail "no sorry server with both reals down: $(L; cat "$TMP/log")"
        serve 1
        until_true 20 weight_is 10.0.0.11:80 5 || fail "the real did not come back: $(L)"
        until_true 20 test -z "$(weight_of 10.0.0.19:80)" || fail "the sorry server stayed: $(L)"
        cleanup_all
}

test_restart_keeps_the_drain() {
        director_setup
        serve 1
        web "{ type: tcp, interval: 1, timeout: 1, fall: 2, rise: 2 }"
        start_daemon
        until_true 30 weight_is 10.0.0.12:80 0 || fail "the real without a server kept its weight: $(L; cat "$TMP/log")"
        stop_daemon
        : >"$TMP/log"
        start_daemon
        until_true 30 grep -q "^run 1 (start)" "$TMP/log" || fail "the daemon did not start: $(cat "$TMP/log")"
        # The start run neither floods the sick real nor undoes the drain.
        grep -q "^run 1 (start): 0 actions" "$TMP/log" || fail "the restart changed something: $(cat "$TMP/log")"
        weight_is 10.0.0.12:80 0 || fail "the restart restored the sick real's weight: $(L)"
        grep -q "health check tcp 10.0.0.12:80: down" "$TMP/log" && fail "the restart forgot the down state: $(cat "$TMP/log")"
        cleanup_all
}

test_alpha_starts_down() {
        director_setup
        serve 1
        web "{ type: tcp, interval: 1, timeout: 1, fall: 3, rise: 1, alpha: true }"
        start_daemon
        # Down before any check: drained at once, not after fall failures; it was never up, so no transition.
        until_true 10 weight_is 10.0.0.12:80 0 || fail "the alpha real without a server took traffic: $(L; cat "$TMP/log")"
        until_true 20 weight_is 10.0.0.11:80 5 || fail "the alpha real that passes did not come up: $(L; cat "$TMP/log")"
        grep -q "health check tcp 10.0.0.12:80: down" "$TMP/log" && fail "a down transition of a real never up: $(cat "$TMP/log")"
        grep -q "health check tcp 10.0.0.11:80: up (1 pass: connected)" "$TMP/log" || fail "no up transition: $(cat "$TMP/log")"
        cleanup_all
}

test_service_flags() {
        manifest "version: 1
services:
  hashed: { address: 192.0.2.1, port: 80, scheduler: sh, sh-fallback: true, sh-port: true,
            reals: [ { address: 10.0.0.11, port: 80, weight: 1 } ] }
  dns: { protocol: udp, address: 192.0.2.53, port: 53, scheduler: rr, one-packet: true,
         reals: [ { address: 10.0.0.11, port: 53, weight: 1 } ] }"
        rc apply; expect_rc 0
        L >"$TMP/after"
        grep -q 'TCP  192.0.2.1:80 sh (sh-fallback,sh-port)' "$TMP/after" || fail "sh flags: $(cat "$TMP/after")"
        grep -q 'UDP  192.0.2.53:53 rr ops' "$TMP/after" || fail "one-packet: $(cat "$TMP/after")"
        rc plan --exit-code; expect_rc 0 "second plan"
        sed -i 's/sh-port: true/sh-port: false/; s/one-packet: true/one-packet: false/' "$M/host.yaml"
        rc plan
        expect_out '^~ service hashed +sh-port true -> false$'
        rc apply; expect_rc 0
        L >"$TMP/after"
        grep -q 'TCP  192.0.2.1:80 sh (sh-fallback)$' "$TMP/after" || fail "sh-port not cleared: $(cat "$TMP/after")"
        grep -q 'UDP  192.0.2.53:53 rr *$' "$TMP/after" || fail "ops not cleared: $(cat "$TMP/after")"
        rc plan --exit-code; expect_rc 0 "plan after the edit"
}

test_sync_daemon() {
        ip -n "$NS" link add sync0 type veth peer name sync1
        ip -n "$NS" addr add 10.9.0.1/24 dev sync0
        ip -n "$NS" link set sync0 up
        ip -n "$NS" link set sync1 up
        manifest "version: 1
ipvs-sync:
  master: { interface: sync0, syncid: 10 }
  backup: { interface: sync1, syncid: 10 }"
        rc apply; expect_rc 0
        D() { ip netns exec "$NS" ipvsadm -L --daemon; }
        D | grep -q 'master sync daemon (mcast=sync0, syncid=10' || fail "no master: $(D)"
        D | grep -q 'backup sync daemon (mcast=sync1, syncid=10' || fail "no backup: $(D)"
        rc plan --exit-code; expect_rc 0 "second plan"
        rc show
        printf '%s\n' "$OUT" | grep -A2 '^ipvs-sync:' | tr -d ' \n' | grep -q '^ipvs-sync:master:interface:sync0' ||
                fail "show lacks the master"
        expect_out '^  backup:$'
        sed -i 's/master: { interface: sync0, syncid: 10 }/master: { interface: sync0, syncid: 11 }/' "$M/host.yaml"
        rc plan
        expect_out '^~ ipvs-sync master +syncid 10 -> 11$'
        rc apply; expect_rc 0
        D | grep -q 'master sync daemon (mcast=sync0, syncid=11' || fail "master not restarted with syncid 11: $(D)"
        # Left the manifests: reconcile started it, so it stops; the other stays.
        manifest "version: 1
ipvs-sync:
  backup: { interface: sync1, syncid: 10 }"
        rc apply; expect_rc 0
        D | grep -q 'master sync daemon' && fail "the master was not stopped: $(D)"
        D | grep -q 'backup sync daemon (mcast=sync1, syncid=10' || fail "the backup went too: $(D)"
        rc plan --exit-code; expect_rc 0 "plan after the removal"
}

test_timeouts() {
        T() { ip netns exec "$NS" ipvsadm -L --timeout; }
        T | grep -q 'Timeout (tcp tcpfin udp): 900 120 300' || fail "not the kernel's defaults: $(T)"
        manifest "version: 1
ipvs-timeouts:
  tcp: 1000
  udp: 60"
        rc plan
        expect_out 'ipvs-timeout tcp'
        rc apply; expect_rc 0
        T | grep -q 'Timeout (tcp tcpfin udp): 1000 120 60' || fail "timeouts not set: $(T)"
        rc plan --exit-code; expect_rc 0 "second plan"
        # udp leaves the manifests: its value from before comes back; tcp stays.
        manifest "version: 1
ipvs-timeouts:
  tcp: 1000"
        rc apply; expect_rc 0
        T | grep -q 'Timeout (tcp tcpfin udp): 1000 120 300' || fail "udp not restored: $(T)"
        rc plan --exit-code; expect_rc 0 "plan after the removal"
}

modprobe ip_vs 2>/dev/null; modprobe ip_vs_wlc 2>/dev/null
t "director: a stopped real goes to weight 0 within interval x fall + 1 s, back after rise; plan shows it pending" test_tcp_down_and_back
t "director: http regex and expect" test_http_expect_and_regex
t "director: the sorry server while every real is down" test_sorry_server
t "director: a restarted daemon keeps a down real drained" test_restart_keeps_the_drain
t "director: alpha reals start down, the one that passes comes up" test_alpha_starts_down
t "director: service flags sh-fallback, sh-port and one-packet, set and cleared in place" test_service_flags
t "director: IPVS sync daemons started, restarted on a change, stopped when they leave" test_sync_daemon
t "director: IPVS connection timeouts set in place, restored when they leave" test_timeouts
