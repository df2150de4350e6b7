#!/bin/bash
# N bridges, each with 2 veth ports and an IPv4 address, into an empty
# namespace: reconcile against `ip -batch` doing the same, side by side.
# The veth pairs are made beforehand in both cases (they stand for NICs).
# Prints: NAME reconcile=X s peer=Y s ratio=R (medians of RUNS runs).
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-100}
RUNS=${RUNS:-5}
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
trap 'rm -rf "$TMP"; ip netns del rct-bench-$$ 2>/dev/null || true' EXIT

prepare() { # namespace with 2N veth "NICs"
        ip netns del rct-bench-$$ 2>/dev/null || true
        ip netns add rct-bench-$$
        for i in $(seq 1 "$N"); do
                echo "link add a$i type veth peer name pa$i"
                echo "link add b$i type veth peer name pb$i"
        done | ip -n rct-bench-$$ -batch -
}

mkdir -m 700 -p "$TMP/m"
{
        echo "version: 1"
        echo "bridges:"
        for i in $(seq 1 "$N"); do
                echo "  br$i: { interfaces: [a$i, b$i], addresses: [10.$((i / 250)).$((i % 250)).1/24] }"
        done
} >"$TMP/m/bridges.yaml"
for i in $(seq 1 "$N"); do
        echo "link add br$i type bridge"
        echo "link set a$i master br$i"
        echo "link set b$i master br$i"
        echo "addr add 10.$((i / 250)).$((i % 250)).1/24 dev br$i"
        echo "link set br$i up"
done >"$TMP/batch"

. bench/lib.sh
rec=() peer=() noop=()
for run in $(seq 1 "$RUNS"); do
        prepare
        t0=$(now); ip -n rct-bench-$$ -batch "$TMP/batch"; t1=$(now)
        peer+=("$(echo "$t1 - $t0" | bc -l)")
        prepare
        rm -rf "$TMP/state"
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns rct-bench-$$ apply; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns rct-bench-$$ apply; t1=$(now)
        noop+=("$(echo "$t1 - $t0" | bc -l)")
done
r=$(printf '%s\n' "${rec[@]}" | median)
p=$(printf '%s\n' "${peer[@]}" | median)
n=$(printf '%s\n' "${noop[@]}" | median)
printf 'bridges-%d reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: ip -batch)\n' "$N" "$r" "$p" "$(echo "$r / $p" | bc -l)"
printf 'bridges-%d-noop reconcile=%.3f s\n' "$N" "$n"
