#!/bin/bash
# A mixed host, the kernel kinds this machine has: 1,000 bridges with two
# veth ports and an address each, and a 100,000-entry hash:ip set. No-op run
# (apply): wall time and max RSS, against merely reading the same state with
# `ip -d -j link show`, `ip -j addr show` and `ipset save`; no-op plan; then one
# ipset entry changed: wall time and the netlink requests it takes beyond the
# no-op's (strace). IPVS is measured in the VM
# (bench/guest/mixed-ipvs.sh): this kernel has no ip_vs.
# BEFORE=build-dir also runs that build's no-op run in the same rounds.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
B=${BEFORE:+$PWD/$BEFORE/reconcile}
NS=rct-mixed-$$
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
trap 'rm -rf "$TMP"; ip netns del $NS 2>/dev/null || true' EXIT
. bench/lib.sh
if ! command -v strace >/dev/null || [ ! -x /usr/bin/time ]; then echo "mixed: skipped (strace or time missing: make bench-deps)"; exit 0; fi
ip netns add $NS
veth_nics 1000 | ip -n $NS -batch -
mkdir -m 700 "$TMP/m"
{
        bridges_manifest 1000
        echo "ipsets:"
        echo "  allow:"
        echo "    type: hash:ip"
        echo "    entries:"
        awk 'BEGIN { for (i = 0; i < 100000; i++) printf "      - 10.%d.%d.%d\n", i / 65536, i / 256 % 256, i % 256 }'
} >"$TMP/m/host.yaml"
n_entries=$(grep -c '^      - ' "$TMP/m/host.yaml")
RQ() { "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS "$@"; }
RQ apply
# The peer: reading the same state with the standard tools, nothing planned.
read_state() {
        ip -n $NS -d -j link show >/dev/null
        ip -n $NS -j addr show >/dev/null
        ip netns exec $NS ipset save >/dev/null
}
runs=() peers=() rss=() bruns=() brss=()
for _ in 1 2 3 4 5; do
        t0=$(now); read_state; t1=$(now)
        peers+=("$(echo "$t1 - $t0" | bc -l)")
        t0=$(now); RQ apply; t1=$(now)
        runs+=("$(echo "$t1 - $t0" | bc -l)")
        read -r _ m < <(wall_rss "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply)
        rss+=("$m")
        if [ -n "$B" ]; then
                t0=$(now); "$B" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
                bruns+=("$(echo "$t1 - $t0" | bc -l)")
                read -r _ m < <(wall_rss "$B" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply)
                brss+=("$m")
        fi
done
tr=$(printf '%s\n' "${runs[@]}" | median) tp=$(printf '%s\n' "${peers[@]}" | median)
printf 'mixed-noop-run reconcile=%.3f s peer=%.3f s ratio=%.2f max-rss=%d kB (peer: ip -d -j link show + ip -j addr show + ipset save; median of 5)\n' \
        "$tr" "$tp" "$(echo "$tr / $tp" | bc -l)" "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)"
if [ -n "$B" ]; then
        tb=$(printf '%s\n' "${bruns[@]}" | median)
        printf 'mixed-noop-run-before reconcile=%.3f s ratio=%.2f max-rss=%d kB (%s, same rounds)\n' \
                "$tb" "$(echo "$tb / $tp" | bc -l)" "$(printf '%s\n' "${brss[@]}" | sort -n | tail -1)" "$BEFORE"
fi
runs=() rss=()
for _ in 1 2 3 4 5; do
        read -r t m < <(wall_rss "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS plan)
        runs+=("$t"); rss+=("$m")
done
printf 'mixed-noop-plan reconcile=%.3f s max-rss=%d kB (1,000 bridges + %d ipset entries; median of 5)\n' \
        "$(printf '%s\n' "${runs[@]}" | median)" "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)" "$n_entries"
base=$(netlink_sends "$TMP/noop" "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply)
sed -i 's/^      - 10\.0\.0\.0$/      - 192.0.2.77/' "$TMP/m/host.yaml"
t0=$(now)
sends=$(netlink_sends "$TMP/one" "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply)
t1=$(now)
sed -i 's/^      - 192\.0\.2\.77$/      - 192.0.2.78/' "$TMP/m/host.yaml"
read -r t m < <(wall_rss "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply)
ip netns exec $NS ipset list allow | grep -q '^192.0.2.78' || echo "# mixed: the changed entry is not in the set"
printf 'mixed-one-ipset-entry reconcile=%.3f s netlink-requests=%d beyond the no-op run (%d in all, %d for the no-op; under strace %.3f s)\n' \
        "$t" "$((sends - base))" "$sends" "$base" "$(echo "$t1 - $t0" | bc -l)"
