#!/bin/bash
# What a run costs before any work: a no-op plan of a small kernel-only host
# (N bridges with 2 veth ports and an address each; no libvirt kind, so
# libvirt is never loaded), wall time and max RSS, against merely reading the
# same state with `ip -d -j link show` and `ip -j addr show`.
# R=path/to/reconcile measures another binary (an older build, side by side).
set -eu
cd "$(dirname "$0")/.."
R=${R:-$PWD/${BUILD:-build}/reconcile}
N=${1:-10}
RUNS=${RUNS:-21}
. bench/lib.sh
NS=rct-startup-$$
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
trap 'rm -rf "$TMP"; ip netns del $NS 2>/dev/null || true' EXIT
if [ ! -x /usr/bin/time ]; then echo "startup: skipped (/usr/bin/time missing: make bench-deps)"; exit 0; fi
ip netns add $NS
veth_nics "$N" | ip -n $NS -batch -
mkdir -m 700 "$TMP/m"
bridges_manifest "$N" >"$TMP/m/bridges.yaml"
"$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply
"$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan --exit-code >/dev/null ||
        echo "# startup: the second run is not a no-op"
rec=() rss=() peer=()
for _ in $(seq 1 "$RUNS"); do
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan >/dev/null; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        rss+=("$(/usr/bin/time -f '%M' "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan 2>&1 >/dev/null | tail -1)")
        t0=$(now); { ip -n $NS -d -j link show; ip -n $NS -j addr show; } >/dev/null; t1=$(now)
        peer+=("$(echo "$t1 - $t0" | bc -l)")
done
r=$(printf '%s\n' "${rec[@]}" | median)
p=$(printf '%s\n' "${peer[@]}" | median)
printf 'startup-noop-%d reconcile=%.4f s peer=%.4f s ratio=%.2f max-rss=%d kB (peer: ip -d -j link show + ip -j addr show; median of %d)\n' \
        "$N" "$r" "$p" "$(echo "$r / $p" | bc -l)" "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)" "$RUNS"
