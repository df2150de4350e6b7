#!/bin/bash
# The daemon against a CLI run of the same change, on the host of issue 16:
# 1,000 bridges (2 veth ports + an address each) and a 100,000-entry hash:ip
# set. One manifest edit changes one ipset entry; each side is timed from the
# rename() of the manifest to the kernel holding the new entry (a poller in
# the namespace tests the set every POLL_US microseconds, 500 unless told:
# bench/daemon-probe.c, about 4% of a core), and the netlink requests of the
# daemon's run are counted under strace (sendto/sendmsg, by message type).
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
NS=rct-daemon-$$
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
DPID=
cleanup() {
        [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
        rm -rf "$TMP"
        ip netns del $NS 2>/dev/null || true
}
trap cleanup EXIT
. bench/lib.sh
if ! command -v strace >/dev/null || ! command -v ipset >/dev/null; then
        echo "daemon: skipped (strace or ipset missing: make bench-deps)"
        exit 0
fi
RUNS=${RUNS:-5}
POLL_US=${POLL_US:-500}
PROBE=$TMP/daemon-probe
if ! cc -O2 -o "$PROBE" bench/daemon-probe.c -lmnl; then
        echo "daemon: skipped (bench/daemon-probe.c does not build: libmnl-dev missing?)"
        exit 0
fi
ip netns add $NS
veth_nics 1000 | ip -n $NS -batch -
mkdir -m 700 "$TMP/m"
bridges_manifest 1000 >"$TMP/m/host.yaml"
# set_manifest OLD NEW: the set with entry 10.0.0.0 written as NEW.
set_manifest() {
        echo "version: 1"
        echo "ipsets:"
        echo "  allow:"
        echo "    type: hash:ip"
        echo "    maxelem: 200000"
        echo "    entries:"
        echo "      - $1"
        awk 'BEGIN { for (i = 1; i < 100000; i++) printf "      - 10.%d.%d.%d\n", i / 65536, i / 256 % 256, i % 256 }'
}
set_manifest 10.0.0.0 >"$TMP/set.yaml"
mv "$TMP/set.yaml" "$TMP/m/set.yaml"
"$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply

# edit ADDRESS: write the set with ADDRESS and rename it into place; prints the
# time just before rename(2). Written beside the directory: only the rename is seen.
edit() {
        set_manifest "$1" >"$TMP/set.yaml"
        "$PROBE" rename "$TMP/set.yaml" "$TMP/m/set.yaml"
}
# poll ADDRESS: print the time the kernel first holds ADDRESS in the set (tested
# every POLL_US: one netlink datagram each way, no process per test).
poll() {
        ip netns exec $NS "$PROBE" poll allow "$1" "$POLL_US"
}
# latency ADDRESS COMMAND...: the edit to ADDRESS, then COMMAND (may be none);
# milliseconds from the rename to the kernel's change.
latency() {
        local addr=$1 t0 t1
        shift
        poll "$addr" >"$TMP/polled" &
        local poller=$!
        sleep 0.05
        t0=$(edit "$addr")
        if [ $# -gt 0 ]; then "$@"; fi
        wait $poller
        t1=$(cat "$TMP/polled")
        echo "($t1 - $t0) * 1000" | bc -l
}
# CPU milliseconds (user + system) of each side too: steadier than wall time
# on a machine shared with other work.
RQ() { /usr/bin/time -o "$TMP/cpu" -f '%U %S' "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; }
ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
n_runs() { grep -c '^run [0-9]* ' "$TMP/log"; }
hz=$(getconf CLK_TCK)

# daemon_start BINARY: a daemon over the host, after its first run and the
# checks of that run's own changes (the ipset poll every 2 s runs them in full;
# an edit that meets one would run in full too).
daemon_start() {
        "$1" daemon -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS 2>"$TMP/log" &
        DPID=$!
        for _ in $(seq 1 500); do grep -q '^run 1 ' "$TMP/log" && break; sleep 0.02; done
        sleep 2.5
}
daemon_stop() {
        kill -TERM "$DPID"
        wait "$DPID" 2>/dev/null || true
        DPID=
        # DAEMON_LOG=DIR: keep each daemon's log there.
        if [ -n "${DAEMON_LOG:-}" ]; then cp "$TMP/log" "$DAEMON_LOG/daemon-$$-$(date +%s%N).log"; fi
}
# daemon_edits BINARY FIRST: RUNS edits (addresses from 192.0.2.FIRST on), one
# "LATENCY_MS CPU_MS" line each.
daemon_edits() {
        local i before t0 lat
        daemon_start "$1"
        for i in $(seq 1 "$RUNS"); do
                before=$(n_runs) t0=$(ticks)
                lat=$(latency "192.0.2.$(($2 + i))")
                for _ in $(seq 1 500); do [ "$(n_runs)" -gt "$before" ] && break; sleep 0.01; done
                echo "$lat $(echo "($(ticks) - $t0) * 1000 / $hz" | bc -l)"
                sleep 2.5 # the poll's check of this run's change, a full run, comes and goes
        done
        daemon_stop
}

cli=() cli_cpu=()
for i in $(seq 1 "$RUNS"); do
        cli+=("$(latency "192.0.2.$i" RQ)")
        cli_cpu+=("$(awk '{ print ($1 + $2) * 1000 }' "$TMP/cpu")")
done
edit 192.0.2.99 >/dev/null
cli_requests=$(netlink_sends "$TMP/cli-requests" "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply)
daemon_edits "$R" 100 >"$TMP/daemon"
# BASELINE=path/to/reconcile: an older daemon on the same host in the same run.
[ -n "${BASELINE:-}" ] && daemon_edits "$BASELINE" 150 >"$TMP/baseline"
# daemon_requests BINARY ADDRESS: the netlink requests of one edit's run,
# strace attached around it: "COUNT (TYPE xN, ...) in: RUN LINE". The run opens
# its own sockets; the ipset poll (every 2 s) sends on one of its own, which is
# left out.
daemon_requests() {
        local before n kinds
        daemon_start "$1"
        strace -f -qq -e trace=socket,sendto,sendmsg -p "$DPID" -o "$TMP/strace" &
        local spid=$!
        sleep 0.5
        before=$(n_runs)
        latency "$2" >/dev/null
        for _ in $(seq 1 500); do [ "$(n_runs)" -gt "$before" ] && break; sleep 0.01; done
        sleep 0.1
        kill $spid
        wait $spid 2>/dev/null || true
        daemon_stop
        # The sends on sockets opened in the window, by netlink message type
        # (ipset's commands are NFNL_SUBSYS_IPSET << 8 | IPSET_CMD_*).
        awk '/ socket\(/ { fd[$NF] = 1 }
             /send(to|msg)\(/ { f = $0; sub(/.*send(to|msg)\(/, "", f); sub(/,.*/, "", f); if (f in fd) print }' \
                "$TMP/strace" >"$TMP/run-sends"
        n=$(wc -l <"$TMP/run-sends")
        kinds=$(grep -o 'nlmsg_type=0x[0-9a-f]*' "$TMP/run-sends" | sed 's/nlmsg_type=//' | awk '
                BEGIN { split("PROTOCOL CREATE DESTROY FLUSH RENAME SWAP LIST SAVE ADD DEL TEST HEADER TYPE", cmd, " ") }
                function hex(s) { return (index("0123456789abcdef", substr(s, 1, 1)) - 1) * 16 + index("0123456789abcdef", substr(s, 2, 1)) - 1 }
                /^0x6[0-9a-f][0-9a-f]$/ { n = hex(substr($0, 4)); $0 = "ipset-" (n in cmd ? cmd[n] : n) }
                { c[$0]++ } END { for (k in c) { printf "%s%s x%d", sep, k, c[k]; sep = ", " } }')
        echo "$n ($kinds) in: $(grep '^run [0-9]* ' "$TMP/log" | tail -1)"
}
requests=$(daemon_requests "$R" 192.0.2.200)
[ -n "${BASELINE:-}" ] && baseline_requests=$(daemon_requests "$BASELINE" 192.0.2.201)
c=$(printf '%s\n' "${cli[@]}" | median)
d=$(awk '{ print $1 }' "$TMP/daemon" | median)
cc=$(printf '%s\n' "${cli_cpu[@]}" | median)
dc=$(awk '{ print $2 }' "$TMP/daemon" | median)
printf 'daemon-one-ipset-entry reconcile-daemon=%.1f ms cli-apply=%.1f ms ratio=%.1fx faster (rename to kernel change, median of %d, polled every %d us; 1,000 bridges + 100,000 entries)\n' \
        "$d" "$c" "$(echo "$c / $d" | bc -l)" "$RUNS" "$POLL_US"
printf 'daemon-one-ipset-entry cpu: reconcile-daemon=%.0f ms cli-apply=%.0f ms ratio=%.1fx (user + system, median of %d; the daemon in clock ticks of %d ms)\n' \
        "$dc" "$cc" "$(echo "$cc / ($dc + 0.001)" | bc -l)" "$RUNS" "$((1000 / hz))"
echo "daemon-one-ipset-entry samples (ms): daemon $(awk '{ printf "%.1f ", $1 }' "$TMP/daemon"); cli $(printf '%.1f ' "${cli[@]}")"
echo "daemon-one-ipset-entry requests=$requests"
echo "daemon-one-ipset-entry cli-apply requests=$cli_requests (the whole run: links and addresses read, the set read whole twice)"
if [ -n "${BASELINE:-}" ]; then
        printf 'daemon-one-ipset-entry baseline %s: daemon=%.1f ms cpu=%.0f ms (median of %d; samples %s)\n' "$BASELINE" \
                "$(awk '{ print $1 }' "$TMP/baseline" | median)" "$(awk '{ print $2 }' "$TMP/baseline" | median)" "$RUNS" \
                "$(awk '{ printf "%.1f ", $1 }' "$TMP/baseline")"
        echo "daemon-one-ipset-entry baseline requests=$baseline_requests"
fi
