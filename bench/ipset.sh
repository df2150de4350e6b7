#!/bin/bash
# A 100,000-entry hash:ip set from empty: reconcile against `ipset restore`.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-100000}
RUNS=${RUNS:-5}
TMP=$(mktemp -d /tmp/rct-bench-set.XXXXXX)
chmod 700 "$TMP"
NS=rct-bench-set-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -m 700 "$TMP/m"
{
        echo "version: 1"; echo "ipsets:"; echo "  big:"; echo "    type: hash:ip"; echo "    maxelem: $((N * 2))"; echo "    entries:"
        for i in $(seq 0 $((N - 1))); do echo "      - 10.$((i / 62500)).$((i / 250 % 250)).$((i % 250 + 1))"; done
} >"$TMP/m/set.yaml"
{
        echo "create big hash:ip family inet hashsize 1024 maxelem $((N * 2))"
        for i in $(seq 0 $((N - 1))); do echo "add big 10.$((i / 62500)).$((i / 250 % 250)).$((i % 250 + 1))"; done
} >"$TMP/restore"
. bench/lib.sh
rec=() peer=() noop=()
for _ in $(seq 1 "$RUNS"); do
        ip netns del $NS 2>/dev/null || true; ip netns add $NS
        t0=$(now); ip netns exec $NS ipset restore <"$TMP/restore"; t1=$(now)
        peer+=("$(echo "$t1 - $t0" | bc -l)")
        ip netns del $NS; ip netns add $NS; rm -rf "$TMP/state"
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan; t1=$(now)
        noop+=("$(echo "$t1 - $t0" | bc -l)")
done
r=$(printf '%s\n' "${rec[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median); n=$(printf '%s\n' "${noop[@]}" | median)
printf 'ipset-%d-entries reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: ipset restore)\n' "$N" "$r" "$p" "$(echo "$r / $p" | bc -l)"
printf 'ipset-%d-entries-noop-plan reconcile=%.3f s\n' "$N" "$n"
