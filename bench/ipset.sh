#!/bin/bash
# A 100,000-entry hash:ip set from empty: reconcile against `ipset restore`;
# then the no-change plan of that set and one entry changed in it.
# BEFORE=build-dir also times that build in the same runs (an old commit's).
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
B=${BEFORE:+$PWD/$BEFORE/reconcile}
N=${1:-100000}
RUNS=${RUNS:-5}
TMP=$(mktemp -d /tmp/rct-bench-set.XXXXXX)
chmod 700 "$TMP"
NS=rct-bench-set-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
mkdir -m 700 "$TMP/m" "$TMP/m1"
{
        echo "version: 1"; echo "ipsets:"; echo "  big:"; echo "    type: hash:ip"; echo "    maxelem: $((N * 2))"; echo "    entries:"
        for i in $(seq 0 $((N - 1))); do echo "      - 10.$((i / 62500)).$((i / 250 % 250)).$((i % 250 + 1))"; done
} >"$TMP/m/set.yaml"
sed 's/^      - 10\.0\.0\.1$/      - 10.200.0.1/' "$TMP/m/set.yaml" >"$TMP/m1/set.yaml"
{
        echo "create big hash:ip family inet hashsize 1024 maxelem $((N * 2))"
        for i in $(seq 0 $((N - 1))); do echo "add big 10.$((i / 62500)).$((i / 250 % 250)).$((i % 250 + 1))"; done
} >"$TMP/restore"
. bench/lib.sh
declare -A t
# one BIN NAME: from empty, no-change plan (and its max RSS), one entry changed.
one() {
        local bin=$1 k=$2 t0 t1
        ip netns del $NS; ip netns add $NS; rm -rf "$TMP/state"
        t0=$(now); "$bin" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
        t[$k.apply]+="$(echo "$t1 - $t0" | bc -l) "
        t0=$(now); "$bin" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan; t1=$(now)
        t[$k.noop]+="$(echo "$t1 - $t0" | bc -l) "
        t[$k.rss]+="$(wall_rss "$bin" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan | cut -d' ' -f2) "
        t0=$(now); "$bin" -q -d "$TMP/m1" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
        t[$k.change]+="$(echo "$t1 - $t0" | bc -l) "
}
med() { printf '%s\n' ${t[$1]} | median; }
for _ in $(seq 1 "$RUNS"); do
        ip netns del $NS 2>/dev/null || true; ip netns add $NS
        t0=$(now); ip netns exec $NS ipset restore <"$TMP/restore"; t1=$(now)
        t[peer]+="$(echo "$t1 - $t0" | bc -l) "
        one "$R" now
        [ -z "$B" ] || one "$B" before
done
p=$(med peer)
for k in now ${B:+before}; do
        label=ipset-$N-entries; [ "$k" = now ] || label=$label-$k
        r=$(med $k.apply)
        printf '%s reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: ipset restore)\n' "$label" "$r" "$p" "$(echo "$r / $p" | bc -l)"
        printf '%s-noop-plan reconcile=%.3f s max-rss=%d kB\n' "$label" "$(med $k.noop)" "$(med $k.rss)"
        printf '%s-one-entry-changed reconcile=%.3f s\n' "$label" "$(med $k.change)"
done
