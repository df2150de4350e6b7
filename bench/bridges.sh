#!/bin/bash
# N bridges, each with 2 veth ports and an IPv4 address, into an empty
# namespace: reconcile against `ip -batch` doing the same, side by side.
# The veth pairs are made beforehand in both cases (they stand for NICs).
# Also: the plan alone, and a no-change run with the netlink link changes it
# causes counted by `ip monitor link` (there must be none).
# Prints: NAME reconcile=X s peer=Y s ratio=R (medians of RUNS runs).
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-100}
RUNS=${RUNS:-5}
. bench/lib.sh
NSP=rct-bench-p$$ # ip -batch works here
NSR=rct-bench-r$$ # reconcile here
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
trap 'rm -rf "$TMP"; ip netns del $NSP 2>/dev/null; ip netns del $NSR 2>/dev/null; true' EXIT

# Both namespaces of a run are made before either is deleted: the kernel tears
# a namespace of 30,000 links down for minutes, and holds new ones back meanwhile.
prepare() { # two namespaces with 2N veth "NICs" each
        local ns
        for ns in $NSP $NSR; do
                ip netns del $ns 2>/dev/null || true
                ip netns add $ns
                veth_nics "$N" | ip -n $ns -batch -
        done
}

mkdir -m 700 -p "$TMP/m"
bridges_manifest "$N" >"$TMP/m/bridges.yaml"
for i in $(seq 1 "$N"); do
        echo "link add br$i type bridge"
        echo "link set a$i master br$i"
        echo "link set b$i master br$i"
        echo "addr add 10.$((i / 250)).$((i % 250)).1/24 dev br$i"
        echo "link set br$i up"
done >"$TMP/batch"

rec=() peer=() noop=() plan=() changes=()
NS=$NSR
for run in $(seq 1 "$RUNS"); do
        prepare
        t0=$(now); ip -n $NSP -batch "$TMP/batch"; t1=$(now)
        peer+=("$(echo "$t1 - $t0" | bc -l)")
        rm -rf "$TMP/state"
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan >/dev/null; t1=$(now)
        plan+=("$(echo "$t1 - $t0" | bc -l)")
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        ip -n $NS monitor link address >"$TMP/monitor" 2>&1 &
        mon=$!
        sleep 0.2
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
        sleep 0.2
        kill $mon; wait $mon 2>/dev/null || true
        noop+=("$(echo "$t1 - $t0" | bc -l)")
        changes+=("$(grep -c . "$TMP/monitor" || true)")
done
r=$(printf '%s\n' "${rec[@]}" | median)
p=$(printf '%s\n' "${peer[@]}" | median)
n=$(printf '%s\n' "${noop[@]}" | median)
pl=$(printf '%s\n' "${plan[@]}" | median)
c=$(printf '%s\n' "${changes[@]}" | sort -n | tail -1)
printf 'bridges-%d reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: ip -batch)\n' "$N" "$r" "$p" "$(echo "$r / $p" | bc -l)"
printf 'bridges-%d-plan reconcile=%.3f s (plan alone, empty namespace)\n' "$N" "$pl"
printf 'bridges-%d-noop reconcile=%.3f s netlink-link-changes=%d (ip monitor link address, most of %d runs)\n' "$N" "$n" "$c" "$RUNS"
# For the scaling summary of bench/run.sh.
[ -n "${SCALE_LOG:-}" ] && printf '%d %s %s %s\n' "$N" "$r" "$pl" "$p" >>"$SCALE_LOG"
true
