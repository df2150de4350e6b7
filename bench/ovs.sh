#!/bin/bash
# 300 Open vSwitch bridges and 1,000 ports from an empty database: reconcile
# (one OVSDB transaction per plan) against ovs-vsctl one command per bridge
# and port, and ovs-vsctl with every command in one call. A private
# ovsdb-server alone (no ovs-vswitchd: this measures OVSDB, and ovs-vsctl runs
# with --no-wait); the ports are veths in a throw-away namespace, so that
# reconcile finds the interfaces they name.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
NB=${1:-300}
NP=${2:-1000}
RUNS=${RUNS:-1}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
if ! command -v ovsdb-server >/dev/null || [ ! -r "$SCHEMA" ]; then
        echo "ovs-$NB-bridges-$NP-ports: skipped (openvswitch-switch is not installed)"
        exit 0
fi
TMP=$(mktemp -d /tmp/rct-bench-ovs.XXXXXX)
chmod 700 "$TMP"
NS=rct-bench-ovs-$$
SOCK=$TMP/db.sock
export OVS_RUNDIR=$TMP OVS_LOGDIR=$TMP OVS_DBDIR=$TMP OVS_SYSCONFDIR=$TMP
db_stop() { [ -f "$TMP/ovsdb.pid" ] && kill "$(cat "$TMP/ovsdb.pid")" 2>/dev/null; sleep 0.2; rm -f "$TMP/conf.db" "$TMP/ovsdb.pid"; }
db_start() {
        db_stop
        ovsdb-tool create "$TMP/conf.db" "$SCHEMA"
        ovsdb-server "$TMP/conf.db" --remote="punix:$SOCK" --pidfile="$TMP/ovsdb.pid" --detach --no-chdir \
                --log-file="$TMP/ovsdb.log" 2>/dev/null
        ovs-vsctl --db="unix:$SOCK" --no-wait init
        rm -rf "$TMP/state"
}
trap 'db_stop; ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add $NS
for i in $(seq 1 $((NP / 2))); do echo "link add p$((2 * i - 1)) type veth peer name p$((2 * i))"; done |
        ip -n $NS -batch -
bridge_of() { echo "br$(( ($1 - 1) % NB + 1 ))"; }
mkdir -m 700 "$TMP/m"
{
        echo "version: 1"; echo "ovs-bridges:"
        for b in $(seq 1 "$NB"); do
                echo "  br$b:"; echo "    datapath: system"; echo "    ports:"
                for p in $(seq "$b" "$NB" "$NP"); do echo "      p$p: {}"; done
        done
} >"$TMP/m/ovs.yaml"
chmod 600 "$TMP/m/ovs.yaml"
. bench/lib.sh
vsctl() { ovs-vsctl --db="unix:$SOCK" --no-wait "$@"; }
one=() all=() rec=() noop=()
for _ in $(seq 1 "$RUNS"); do
        db_start
        t0=$(now)
        for b in $(seq 1 "$NB"); do vsctl add-br "br$b"; done
        for p in $(seq 1 "$NP"); do vsctl add-port "$(bridge_of "$p")" "p$p"; done
        t1=$(now)
        one+=("$(echo "$t1 - $t0" | bc -l)")
        [ "$(vsctl list-ports br1 | wc -l)" -gt 0 ] || { echo "ovs-vsctl made no ports" >&2; exit 1; }

        db_start
        args=()
        for b in $(seq 1 "$NB"); do args+=(-- add-br "br$b"); done
        for p in $(seq 1 "$NP"); do args+=(-- add-port "$(bridge_of "$p")" "p$p"); done
        t0=$(now); vsctl "${args[@]}"; t1=$(now)
        all+=("$(echo "$t1 - $t0" | bc -l)")

        db_start
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS --ovsdb "$SOCK" apply; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        [ "$(vsctl list-br | wc -l)" -eq "$NB" ] && [ "$(vsctl list-ports br1 | wc -l)" -eq $(( (NP + NB - 1) / NB )) ] ||
                { echo "reconcile did not make $NB bridges and their ports" >&2; exit 1; }
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS --ovsdb "$SOCK" plan; t1=$(now)
        noop+=("$(echo "$t1 - $t0" | bc -l)")
done
r=$(printf '%s\n' "${rec[@]}" | median); o=$(printf '%s\n' "${one[@]}" | median)
a=$(printf '%s\n' "${all[@]}" | median); n=$(printf '%s\n' "${noop[@]}" | median)
printf 'ovs-%d-bridges-%d-ports reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: ovs-vsctl one command per bridge and port)\n' \
        "$NB" "$NP" "$r" "$o" "$(echo "$r / $o" | bc -l)"
printf 'ovs-%d-bridges-%d-ports-batched reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: ovs-vsctl, all commands in one call)\n' \
        "$NB" "$NP" "$r" "$a" "$(echo "$r / $a" | bc -l)"
printf 'ovs-%d-bridges-%d-ports-noop-plan reconcile=%.3f s\n' "$NB" "$NP" "$n"
