#!/bin/bash
# The daemon against a CLI run of the same change, on the host of issue 16:
# 1,000 bridges (2 veth ports + an address each) and a 100,000-entry hash:ip
# set. One manifest edit changes one ipset entry; each side is timed from the
# rename() of the manifest to the kernel holding the new entry (a poller in
# the namespace runs `ipset test` in a loop), and the netlink requests of the
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
# time of the rename. Written beside the directory: only the rename is seen.
edit() {
        set_manifest "$1" >"$TMP/set.yaml"
        local t
        t=$(now)
        mv "$TMP/set.yaml" "$TMP/m/set.yaml"
        echo "$t"
}
# poll ADDRESS: print the time the kernel first holds ADDRESS in the set.
poll() {
        ip netns exec $NS bash -c 'until ipset -q test allow "$1"; do :; done; date +%s.%N' _ "$1"
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
# CPU seconds (user + system) of each side too: steadier than wall time on a
# machine shared with other work.
RQ() { /usr/bin/time -o "$TMP/cpu" -f '%U %S' "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; }
ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
n_runs() { grep -c '^run [0-9]* ' "$TMP/log"; }

cli=() dmn=() cli_cpu=() dmn_cpu=()
for i in $(seq 1 "$RUNS"); do
        cli+=("$(latency "192.0.2.$i" RQ)")
        cli_cpu+=("$(awk '{ print ($1 + $2) * 1000 }' "$TMP/cpu")")
done
"$R" daemon -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS 2>"$TMP/log" &
DPID=$!
for _ in $(seq 1 500); do grep -q '^run 1 ' "$TMP/log" && break; sleep 0.02; done
# The checks of the first run's own changes (the ipset poll every 2 s) are
# full runs; an edit that meets one would run in full too.
sleep 2.5
hz=$(getconf CLK_TCK)
for i in $(seq 1 "$RUNS"); do
        before=$(n_runs) t0=$(ticks)
        dmn+=("$(latency "192.0.2.$((100 + i))")")
        for _ in $(seq 1 500); do [ "$(n_runs)" -gt "$before" ] && break; sleep 0.01; done
        dmn_cpu+=("$(echo "($(ticks) - $t0) * 1000 / $hz" | bc -l)")
        sleep 2.5 # the poll's check of this run's change, a full run, comes and goes
done
# Requests of one scoped run: strace attached around one edit. The run opens
# its own sockets; the daemon's ipset poll (every 2 s) sends on one of its own,
# which is left out.
strace -f -qq -e trace=socket,sendto,sendmsg -p "$DPID" -o "$TMP/strace" &
SPID=$!
sleep 0.5
before=$(n_runs)
latency 192.0.2.200 >/dev/null
for _ in $(seq 1 500); do [ "$(n_runs)" -gt "$before" ] && break; sleep 0.01; done
sleep 0.1
kill $SPID
wait $SPID 2>/dev/null || true
last_run=$(grep '^run [0-9]* ' "$TMP/log" | tail -1)
# The sends on sockets opened in the window, by netlink message type (ipset's
# commands are NFNL_SUBSYS_IPSET << 8 | IPSET_CMD_*).
awk '/ socket\(/ { fd[$NF] = 1 }
     /send(to|msg)\(/ { f = $0; sub(/.*send(to|msg)\(/, "", f); sub(/,.*/, "", f); if (f in fd) print }' \
        "$TMP/strace" >"$TMP/run-sends"
n_sends=$(wc -l <"$TMP/run-sends")
kinds=$(grep -o 'nlmsg_type=0x[0-9a-f]*' "$TMP/run-sends" | sed 's/nlmsg_type=//' | awk '
        BEGIN { split("PROTOCOL CREATE DESTROY FLUSH RENAME SWAP LIST SAVE ADD DEL TEST HEADER TYPE", cmd, " ") }
        function hex(s) { return (index("0123456789abcdef", substr(s, 1, 1)) - 1) * 16 + index("0123456789abcdef", substr(s, 2, 1)) - 1 }
        /^0x6[0-9a-f][0-9a-f]$/ { n = hex(substr($0, 4)); $0 = "ipset-" (n in cmd ? cmd[n] : n) }
        { c[$0]++ } END { for (k in c) { printf "%s%s x%d", sep, k, c[k]; sep = ", " } }')
c=$(printf '%s\n' "${cli[@]}" | median)
d=$(printf '%s\n' "${dmn[@]}" | median)
cc=$(printf '%s\n' "${cli_cpu[@]}" | median)
dc=$(printf '%s\n' "${dmn_cpu[@]}" | median)
printf 'daemon-one-ipset-entry reconcile-daemon=%.1f ms cli-apply=%.1f ms ratio=%.1fx faster (rename to kernel change, median of %d; 1,000 bridges + 100,000 entries)\n' \
        "$d" "$c" "$(echo "$c / $d" | bc -l)" "$RUNS"
printf 'daemon-one-ipset-entry cpu: reconcile-daemon=%.0f ms cli-apply=%.0f ms ratio=%.1fx (user + system, median of %d; the daemon in clock ticks of %d ms)\n' \
        "$dc" "$cc" "$(echo "$cc / ($dc + 0.001)" | bc -l)" "$RUNS" "$((1000 / hz))"
printf 'daemon-one-ipset-entry requests=%d (%s) in: %s\n' "$n_sends" "$kinds" "$last_run"
