#!/bin/bash
# The health checker's cost: N reals (default 10,000), each with a tcp check
# every second, against one listener that accepts and closes. Prints the
# daemon's CPU (user + system) over a window after the first round, as a
# share of one core, and the checks the listener accepted; then the floor
# (bench/checker-floor.c: the same connects from a bare loop) measured the
# same way, and the peer, keepalived's checker.
# Two setups (MODES, default "loopback veth"):
# - loopback: reals and checker in one namespace, the reals on 127.1.0.0/16
#   (all local). The kernel runs both ends of each handshake (the listener's
#   SYN-ACK and new socket, the reset) in the softirq of the checker's own
#   system calls, so they are charged to the checker.
# - veth: the reals on 10.128.0.0/16 (a local route) in a namespace of their
#   own, behind a veth pair whose receive runs in NAPI kthreads (GRO on and
#   TSO off: bench/veth-napi.c; /sys/class/net/DEV/threaded = 1), as a NIC's
#   softirq runs it for servers on another host. A pfifo qdisc on both ends
#   queues a tick's burst instead of dropping it (veth stops its queue when
#   the peer's 256-frame ring is full only under a qdisc). The kthreads' CPU
#   is printed beside, each side apart: the reals' (the listener's work, which
#   another host would do) and the director's receive (its kernel's softirq
#   work, not the checker's system calls): moved there, not saved.
# STRACE=1 counts the daemon's system calls instead, PERF=FILE profiles it.
# This kernel has no IPVS: the daemon's runs fail and retry with a backoff
# (two fall in the window; the median second leaves them out); the checks
# run all the same.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-10000}
WINDOW=${WINDOW:-20}
MODES=${MODES:-loopback veth}
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
DPID= SPID= NSES=
cleanup() {
        [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
        [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
        rm -rf "$TMP"
        for ns in $NSES; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
# cpu_ticks PID...: user + system clock ticks of the processes so far (0 for none).
cpu_ticks() {
        local t=0 p v
        for p in "$@"; do
                v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0 # gone: keepalived's checker exits without IPVS
                t=$((t + ${v:-0}))
        done
        echo $t
}
user_ticks() { awk '{ print $14 }' "/proc/$1/stat"; }
# napi_threads DEV...: the pids of their NAPI kthreads (comm napi/DEV-ID).
napi_threads() {
        local p c d
        for p in /proc/[0-9]*; do
                c=$(cat "$p/comm" 2>/dev/null) || continue
                for d in "$@"; do
                        case $c in "napi/$d-"*) echo "${p#/proc/}" ;; esac
                done
        done
}
# pct TICKS: a share of one core over the window.
pct() { awk -v t="$1" -v hz="$hz" -v w="$WINDOW" 'BEGIN { printf "%.1f%% of one core", 100 * t / hz / w }'; }
cc -O2 -o "$TMP/floor" bench/checker-floor.c
cc -O2 -o "$TMP/veth-napi" bench/veth-napi.c

# The listener: accepts and closes, counting; prints the count on SIGTERM.
cat >"$TMP/serve.py" <<'EOF'
import select, signal, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(4096); s.setblocking(False)
n = 0
def done(*_):
    open(sys.argv[1], "w").write("%d\n" % n); sys.exit(0)
signal.signal(signal.SIGTERM, done)
ep = select.epoll(); ep.register(s.fileno(), select.EPOLLIN)
while True:
    for _ in ep.poll():
        while True:
            try:
                c, _a = s.accept()
            except BlockingIOError:
                break
            c.close(); n += 1
EOF

# peer NS A B: keepalived's checker (TCP_CHECK, delay_loop 1) over the same
# reals (A.B+...). It needs IPVS to start; where the kernel has none it exits,
# and the row says so (tests/vm/guest/test-checker-load.sh measures both in the VM).
peer() {
        [ -z "${STRACE:-}" ] || return 0
        if ! command -v keepalived >/dev/null; then
                echo "keepalived checker: not installed (make bench-deps)"
                return 0
        fi
        {
                echo "global_defs { router_id bench }"
                for s in $(seq 0 $((N / 100 - 1))); do
                        echo "virtual_server 192.0.2.$((s % 250 + 1)) 8080 {"
                        echo "  delay_loop 1"
                        echo "  lb_algo rr"
                        echo "  lb_kind DR"
                        echo "  protocol TCP"
                        for r in $(seq 0 99); do
                                i=$((s * 100 + r))
                                echo "  real_server $2.$((i / 62500 + $3)).$((i / 250 % 250)).$((i % 250 + 1)) 8080 { weight 1"
                                echo "    TCP_CHECK { connect_timeout 1"
                                echo "    } }"
                        done
                        echo "}"
                done
        } >"$TMP/keepalived.conf"
        ip netns exec "$1" keepalived -n -l -C -f "$TMP/keepalived.conf" -p "$TMP/k.pid" -c "$TMP/c.pid" >"$TMP/klog" 2>&1 &
        local kpid=$! cpid k0= k1=
        # Its configuration read (slow with thousands of reals), IPVS set up, two rounds.
        for _ in $(seq 120); do grep -qs "Initializing ipvs" "$TMP/klog" && break; sleep 0.5; done
        sleep 3
        cpid=$(cat "$TMP/c.pid" 2>/dev/null || true)
        if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
                k0=$(cpu_ticks "$cpid")
                sleep "$WINDOW"
                k1=$(cpu_ticks "$cpid" 2>/dev/null || true)
        fi
        if [ -n "$k1" ] && ! grep -q "Can't initialize ipvs" "$TMP/klog"; then
                awk -v n="$N" -v t="$((k1 - k0))" -v hz="$hz" -v w="$WINDOW" 'BEGIN {
                        printf "keepalived checker %d reals x 1 check/s: cpu=%.1f%% of one core (%.2f s over %d s)\n", n, 100 * t / hz / w, t / hz, w }'
        else
                echo "keepalived checker: not measured here: $(grep -m1 -iE "can't|error|fatal" "$TMP/klog" || tail -1 "$TMP/klog")"
        fi
        kill -TERM $kpid 2>/dev/null && wait $kpid 2>/dev/null || true
}

# measure MODE: the checker, then the floor, in that setup.
measure() {
        local mode=$1 cns rns a b base napi= napi_c= napi_r= dc dr x
        if [ "$mode" = veth ]; then
                cns=rct-chkc-$$ rns=rct-chkr-$$ dc=chkc$(($$ % 10000)) dr=chkr$(($$ % 10000)) a=10 b=128 base=10.128.0.0
                ip netns add "$cns"
                NSES="$NSES $cns"
                ip netns add "$rns"
                NSES="$NSES $rns"
                ip link add "$dc" netns "$cns" type veth peer name "$dr" netns "$rns"
                ip -n "$cns" addr add 10.127.0.1/30 dev "$dc"
                ip -n "$rns" addr add 10.127.0.2/30 dev "$dr"
                for x in "$cns $dc" "$rns $dr"; do
                        set -- $x
                        ip -n "$1" link set lo up
                        ip netns exec "$1" "$TMP/veth-napi" "$2"
                        ip -n "$1" link set "$2" up
                        ip netns exec "$1" tc qdisc replace dev "$2" root pfifo limit 10000
                        ip netns exec "$1" sh -c "echo 1 >/sys/class/net/$2/threaded"
                done
                ip -n "$cns" route add 10.128.0.0/16 via 10.127.0.2
                ip -n "$rns" route add local 10.128.0.0/16 dev lo
                # The reals' side (dr: another host's work) and the director's receive (dc: its
                # kernel's, not the checker's), each counted apart.
                napi_c=$(napi_threads "$dc" | paste -sd " ") napi_r=$(napi_threads "$dr" | paste -sd " ")
                napi="$napi_c $napi_r"
                if [ -z "$napi_c" ] || [ -z "$napi_r" ]; then
                        echo "checker (veth): not measured: no NAPI kthreads for $dc, $dr"
                        return 0
                fi
        else
                cns=rct-checker-$$ rns=rct-checker-$$ a=127 b=1 base=127.1.0.0
                ip netns add "$cns"
                NSES="$NSES $cns"
                ip -n "$cns" link set lo up
        fi
        mkdir -m 700 "$TMP/m-$mode"
        {
                echo "version: 1"
                echo "services:"
                for s in $(seq 0 $((N / 100 - 1))); do
                        echo "  web$s:"
                        echo "    address: 192.0.2.$((s % 250 + 1))"
                        echo "    port: $((1000 + s))"
                        echo "    check: { type: tcp, interval: 1, timeout: 1 }"
                        echo "    reals:"
                        for r in $(seq 0 99); do
                                i=$((s * 100 + r))
                                echo "      - { address: $a.$((i / 62500 + b)).$((i / 250 % 250)).$((i % 250 + 1)), port: 8080, weight: 1 }"
                        done
                done
        } >"$TMP/m-$mode/director.yaml"
        ip netns exec "$rns" python3 "$TMP/serve.py" "$TMP/accepted-$mode" &
        SPID=$!
        sleep 0.5
        ip netns exec "$cns" "$R" -d "$TMP/m-$mode" --state-dir "$TMP/state-$mode" daemon >"$TMP/daemon-$mode.log" 2>&1 &
        DPID=$!
        # The first round is spread over one interval; measure after two.
        sleep 3
        local t0 u0 k0 r0 t1 u1 k1 r1 prev cur
        t0=$(cpu_ticks $DPID) u0=$(user_ticks $DPID) k0=$(cpu_ticks $napi_c) r0=$(cpu_ticks $napi_r)
        if [ -n "${PERF:-}" ]; then
                # A profile of the window, to PERF.MODE (perf's own cost is in the CPU figure).
                perf record -q -g -p "$DPID" -o "$PERF.$mode" -- sleep "$WINDOW" 2>/dev/null || true
        elif [ -n "${STRACE:-}" ]; then
                # The syscalls of the window, counted (strace slows the daemon: the CPU figure is then not the budget's).
                timeout -s INT "$WINDOW" strace -c -p "$DPID" -o "$TMP/strace" || true
                cat "$TMP/strace" >&2
        else
                # One sample a second: the median second is the checks alone, without
                # the daemon's retried runs (no IPVS here) that fall in some seconds.
                prev=$t0
                for _ in $(seq "$WINDOW"); do
                        sleep 1
                        cur=$(cpu_ticks $DPID)
                        echo $((cur - prev))
                        prev=$cur
                done >"$TMP/seconds-$mode"
        fi
        t1=$(cpu_ticks $DPID) u1=$(user_ticks $DPID) k1=$(cpu_ticks $napi_c) r1=$(cpu_ticks $napi_r)
        kill -TERM $DPID && wait $DPID 2>/dev/null || true
        DPID=
        [ -n "${LOG:-}" ] && cp "$TMP/daemon-$mode.log" "$LOG.$mode"
        local f0 f1 g0 g1 floor= more=
        if [ -z "${STRACE:-}" ]; then
                # The floor: the same connects from a bare loop, against the same listener.
                f0=$(cpu_ticks $napi_c) g0=$(cpu_ticks $napi_r)
                floor=$(ip netns exec "$cns" "$TMP/floor" "$N" "$WINDOW" $base)
                f1=$(cpu_ticks $napi_c) g1=$(cpu_ticks $napi_r)
                [ -z "${NESTED:-}" ] || more=$(ip netns exec "$cns" "$TMP/floor" "$N" "$WINDOW" nested $base)
                [ -z "${REUSE:-}" ] || more="$more${more:+
}$(ip netns exec "$cns" "$TMP/floor" "$N" "$WINDOW" reuse $base)"
        fi
        kill -TERM $SPID && wait $SPID 2>/dev/null || true
        SPID=
        local accepted down checks median
        accepted=$(cat "$TMP/accepted-$mode" 2>/dev/null || echo 0)
        down=$(awk -F'\t' '$2 == "down"' "$TMP/state-$mode/checks" 2>/dev/null | wc -l)
        checks=$(wc -l <"$TMP/state-$mode/checks" 2>/dev/null || echo 0)
        median=$(sort -n "$TMP/seconds-$mode" 2>/dev/null | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }')
        awk -v mode="$mode" -v n="$N" -v t="$((t1 - t0))" -v m="$median" -v hz="$hz" -v w="$WINDOW" -v a="$accepted" -v c="$checks" -v d="$down" -v u="$((u1 - u0))" 'BEGIN {
                printf "checker (%s) %d reals x 1 check/s: cpu=%.1f%% of one core (%.2f s over %d s, user %.2f s; median second %.0f%%); %d checks in the state file, %d down; listener accepted %d\n",
                        mode, n, 100 * t / hz / w, t / hz, w, u / hz, 100 * m / hz, c, d, a
        }'
        # Checks down in a bench of answering reals: say why (the last results, counted).
        [ "$down" = 0 ] || awk -F'\t' '$2 == "down" { n[$NF]++ } END { for (r in n) printf "  down: %d x %s\n", n[r], r }' "$TMP/state-$mode/checks"
        [ -z "$napi" ] || echo "  NAPI kthreads meanwhile: the director's receive (napi/$dc) $(pct $((k1 - k0))), the reals' (napi/$dr) $(pct $((r1 - r0)))"
        if [ -n "$floor" ]; then
                echo "${floor/#floor/floor ($mode)}"
                [ -z "$napi" ] || echo "  NAPI kthreads meanwhile: the director's receive $(pct $((f1 - f0))), the reals' $(pct $((g1 - g0)))"
                [ -z "$more" ] || echo "$more" | sed "s/^floor/floor ($mode)/"
        fi
        [ "$mode" != loopback ] || peer "$cns" $a $b
}

for mode in $MODES; do
        measure "$mode"
done
