#!/bin/bash
# Callgrind of the daemon's run for one manifest edit on bench/daemon.sh's host
# (1,000 bridges + a 100,000-entry set): instrumentation is switched on just
# before the rename and off when the run is logged, so the start and the
# poll's checks stay out. OUT=file (callgrind.daemon.out unless told), BUILD as
# for the other benchmarks; read it with callgrind_annotate --inclusive=yes.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
R=$PWD/${BUILD:-build}/reconcile
OUT=${OUT:-$PWD/callgrind.daemon.out}
NS=rct-dprof-$$
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
DPID=
cleanup() {
        [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
        rm -rf "$TMP"
        ip netns del $NS 2>/dev/null || true
}
trap cleanup EXIT
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
        echo "daemon-profile: skipped (valgrind missing)"
        exit 0
fi
ip netns add $NS
veth_nics 1000 | ip -n $NS -batch -
mkdir -m 700 "$TMP/m"
bridges_manifest 1000 >"$TMP/m/host.yaml"
set_manifest() {
        printf 'version: 1\nipsets:\n  allow:\n    type: hash:ip\n    maxelem: 200000\n    entries:\n      - %s\n' "$1"
        awk 'BEGIN { for (i = 1; i < 100000; i++) printf "      - 10.%d.%d.%d\n", i / 65536, i / 256 % 256, i % 256 }'
}
set_manifest 10.0.0.0 >"$TMP/set.yaml"
mv "$TMP/set.yaml" "$TMP/m/set.yaml"
"$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
        "$R" daemon -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS 2>"$TMP/log" &
DPID=$!
for _ in $(seq 1 600); do grep -q '^run 1 ' "$TMP/log" && break; sleep 0.1; done
sleep 6 # the poll's check of the start comes and goes
callgrind_control -i on $DPID >/dev/null
set_manifest 192.0.2.77 >"$TMP/set.yaml"
mv "$TMP/set.yaml" "$TMP/m/set.yaml"
for _ in $(seq 1 6000); do grep -q '^run 2 ' "$TMP/log" && break; sleep 0.01; done
callgrind_control -i off $DPID >/dev/null
callgrind_control -d $DPID >/dev/null
grep '^run 2 ' "$TMP/log"
echo "daemon-profile: $OUT.1"
