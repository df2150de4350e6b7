#!/bin/bash
# The health checker's cost: N reals (default 10,000), each with a tcp check
# every second, against one listener (127.0.0.0/8 is all local) in a throw-away
# namespace. Prints the daemon's CPU (user + system) over a window after the
# first round, as a share of one core, and the checks the listener accepted.
# This kernel has no IPVS: the daemon's runs fail and retry with a backoff
# (at most one in the window); the checks run all the same. Then the floor
# (bench/checker-floor.c: the same connects from a bare loop) and the peer,
# keepalived's checker, each measured the same way.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-10000}
WINDOW=${WINDOW:-20}
NS=rct-checker-$$
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
DPID= SPID=
cleanup() {
        [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
        [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
        rm -rf "$TMP"
        ip netns del $NS 2>/dev/null || true
}
trap cleanup EXIT
ip netns add $NS
ip -n $NS link set lo up
mkdir -m 700 "$TMP/m"
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
                        echo "      - { address: 127.$((i / 62500 + 1)).$((i / 250 % 250)).$((i % 250 + 1)), port: 8080, weight: 1 }"
                done
        done
} >"$TMP/m/director.yaml"
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
ip netns exec $NS python3 "$TMP/serve.py" "$TMP/accepted" &
SPID=$!
sleep 0.5
ip netns exec $NS "$R" -d "$TMP/m" --state-dir "$TMP/state" daemon >"$TMP/daemon.log" 2>&1 &
DPID=$!
# cpu_ticks PID: user + system clock ticks of the process so far.
cpu_ticks() { awk "{ print \$14 + \$15 }" "/proc/$1/stat"; }
user_ticks() { awk "{ print \$14 }" "/proc/$1/stat"; }
# The first round is spread over one interval; measure after two.
sleep 3
t0=$(cpu_ticks $DPID) u0=$(user_ticks $DPID)
if [ -n "${STRACE:-}" ]; then
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
        done >"$TMP/seconds"
fi
t1=$(cpu_ticks $DPID) u1=$(user_ticks $DPID)
hz=$(getconf CLK_TCK)
kill -TERM $DPID && wait $DPID 2>/dev/null || true
[ -n "${LOG:-}" ] && cp "$TMP/daemon.log" "$LOG"
DPID=
# The floor: the same connects from a bare loop (bench/checker-floor.c), against the same listener.
if [ -z "${STRACE:-}" ] && cc -O2 -o "$TMP/floor" bench/checker-floor.c; then
        ip netns exec $NS "$TMP/floor" "$N" "$WINDOW"
        ip netns exec $NS "$TMP/floor" "$N" "$WINDOW" nested
fi
# The peer: keepalived's checker (TCP_CHECK, delay_loop 1) over the same reals.
# It needs IPVS to start; where the kernel has none it exits, and the row says so
# (tests/vm/guest/test-checker-load.sh measures both in the VM).
if [ -z "${STRACE:-}" ] && command -v keepalived >/dev/null; then
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
                                echo "  real_server 127.$((i / 62500 + 1)).$((i / 250 % 250)).$((i % 250 + 1)) 8080 { weight 1"
                                echo "    TCP_CHECK { connect_timeout 1"
                                echo "    } }"
                        done
                        echo "}"
                done
        } >"$TMP/keepalived.conf"
        ip netns exec $NS keepalived -n -l -C -f "$TMP/keepalived.conf" -p "$TMP/k.pid" -c "$TMP/c.pid" >"$TMP/klog" 2>&1 &
        KPID=$!
        # Its configuration read (slow with thousands of reals), IPVS set up, two rounds.
        for _ in $(seq 120); do grep -qs "Initializing ipvs" "$TMP/klog" && break; sleep 0.5; done
        sleep 3
        cpid=$(cat "$TMP/c.pid" 2>/dev/null || true)
        k0= k1=
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
        kill -TERM $KPID 2>/dev/null && wait $KPID 2>/dev/null || true
else
        echo "keepalived checker: not installed (make bench-deps)"
fi
kill -TERM $SPID && wait $SPID 2>/dev/null || true
SPID=
accepted=$(cat "$TMP/accepted" 2>/dev/null || echo 0)
down=$(awk -F'\t' '$2 == "down"' "$TMP/state/checks" 2>/dev/null | wc -l)
checks=$(wc -l <"$TMP/state/checks" 2>/dev/null || echo 0)
median=$(sort -n "$TMP/seconds" 2>/dev/null | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }')
awk -v n="$N" -v t="$((t1 - t0))" -v m="$median" -v hz="$hz" -v w="$WINDOW" -v a="$accepted" -v c="$checks" -v d="$down" -v u="$((u1 - u0))" 'BEGIN {
        printf "checker %d reals x 1 check/s: cpu=%.1f%% of one core (%.2f s over %d s, user %.2f s; median second %.0f%%); %d checks in the state file, %d down; listener accepted %d\n",
                n, 100 * t / hz / w, t / hz, w, u / hz, 100 * m / hz, c, d, a
}'
