#!/bin/bash
# Inside the VM (the stock kernel's openvswitch module): 300 Open vSwitch
# bridges and 1,000 ports from an empty database, with ovs-vswitchd running
# and making the kernel datapath's ports. reconcile (one OVSDB transaction)
# against ovs-vsctl one command per bridge and per port, and ovs-vsctl with
# every command in one call; then a no-change plan of them against
# `ovs-vsctl show`. The ports are veths, made before each side's clock starts.
#
# Waiting: reconcile commits and returns without waiting for ovs-vswitchd (it
# waits only when an internal port follows that link kinds configure), so every
# ovs-vsctl runs with --no-wait too, and each side's time ends with the same
# barrier: one ovs-vsctl that bumps next_cfg and waits until ovs-vswitchd has
# reconfigured from a database holding everything before it (all datapath
# ports made). Each side gets a fresh namespace, database and ovs-vswitchd.
#   NB= NP= the bridges and ports; ONE_LIMIT= seconds of the guest's clock after
#   which the per-command peer stops and its time is extrapolated (said in its
#   row). From the host: VM_APPEND="NB=30 NP=100" tests/vm/run.sh ...
set -u
cd "$(dirname "$0")/../.."
R=$PWD/${BUILD:-build}/reconcile
NB=${NB:-300}
NP=${NP:-1000}
ONE_LIMIT=${ONE_LIMIT:-1200}
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
ip() { /usr/sbin/ip "$@"; }
if [ ! -d /sys/module/openvswitch ] || ! command -v ovs-vswitchd >/dev/null || [ ! -r "$SCHEMA" ]; then
        echo "ovs-vm-$NB-bridges-$NP-ports: skipped (no openvswitch module or Open vSwitch binaries in the VM)"
        exit 0
fi
TMP=$(mktemp -d /tmp/rct-bench-ovs.XXXXXX)
chmod 700 "$TMP"
NS=bo
SOCK=$TMP/db.sock
export OVS_RUNDIR=$TMP OVS_LOGDIR=$TMP OVS_DBDIR=$TMP OVS_SYSCONFDIR=$TMP
now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); } # ms
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
vsctl() { ovs-vsctl --db="unix:$SOCK" --no-wait "$@"; }
# The barrier that ends each side's time: returns once ovs-vswitchd applied everything before it.
barrier() { ovs-vsctl --db="unix:$SOCK" --timeout=1200 set Open_vSwitch . external_ids:bench-barrier="$1"; }
bridge_of() { echo "br$(( ($1 - 1) % NB + 1 ))"; }

ovs_stop() {
        local f
        for f in vswitchd ovsdb; do
                [ -f "$TMP/$f.pid" ] && kill "$(cat "$TMP/$f.pid")" 2>/dev/null
        done
        sleep 0.5
        rm -f "$TMP/conf.db" "$TMP"/*.pid
        ip netns del $NS 2>/dev/null
}
# A fresh namespace with the veths, an empty database and ovs-vswitchd in the namespace.
ovs_start() {
        ovs_stop
        ip netns add $NS
        for i in $(seq 1 $((NP / 2))); do echo "link add p$((2 * i - 1)) type veth peer name p$((2 * i))"; done |
                ip -n $NS -batch -
        ovsdb-tool create "$TMP/conf.db" "$SCHEMA" &&
                ovsdb-server "$TMP/conf.db" --remote="punix:$SOCK" --pidfile="$TMP/ovsdb.pid" --detach --no-chdir \
                        --log-file="$TMP/ovsdb.log" 2>/dev/null &&
                vsctl init &&
                ip netns exec $NS ovs-vswitchd "unix:$SOCK" --pidfile="$TMP/vswitchd.pid" --detach --no-chdir \
                        --log-file="$TMP/vswitchd.log" 2>/dev/null || { echo "# could not start Open vSwitch"; exit 1; }
        barrier 0 # ovs-vswitchd is up and has read the empty database
        rm -rf "$TMP/state"
}
# What ovs-vswitchd made: the bridges and ports in OVSDB and the kernel devices in the datapath.
check() {
        local nb np ndp
        nb=$(vsctl list-br | wc -l)
        np=$(vsctl --columns=name find port | grep -c name)
        ndp=$(ip -n $NS -o link show master ovs-system | wc -l)
        nint=$(ip -n $NS -o link show type openvswitch | grep -c ': br[0-9]*:')
        echo "# $1: $nb bridges, $np ports in OVSDB (bridges' own included); in the kernel: $ndp veths in the datapath, $nint bridge devices"
        [ "$nb" -eq "$2" ] && [ "$np" -eq $(($2 + $3)) ] && [ "$ndp" -eq "$3" ] && [ "$nint" -eq "$2" ] ||
                echo "# $1: NOT DONE: expected $2 bridges, $(($2 + $3)) ports, $3 veths in the datapath, $2 bridge devices"
}
trap 'ovs_stop; rm -rf "$TMP"' EXIT

mkdir -m 700 "$TMP/m"
{
        echo "version: 1"; echo "ovs-bridges:"
        for b in $(seq 1 "$NB"); do
                echo "  br$b:"; echo "    datapath: system"; echo "    ports:"
                for p in $(seq "$b" "$NB" "$NP"); do echo "      p$p: {}"; done
        done
} >"$TMP/m/ovs.yaml"
chmod 600 "$TMP/m/ovs.yaml"
rc() { "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS --ovsdb "$SOCK" "$@"; }

# reconcile from empty.
ovs_start
t0=$(now); rc apply; tr=$(now); barrier 1; t1=$(now)
rec=$((t1 - t0))
echo "# reconcile apply: $(secs $rec) s (reconcile itself returned after $(secs $((tr - t0))) s)"
check reconcile "$NB" "$NP"
t0=$(now); rc plan >/dev/null; t1=$(now)
noop=$((t1 - t0))
rc plan --exit-code >/dev/null || echo "# ovs: the plan after apply is not empty"
t0=$(now); vsctl show >/dev/null; t1=$(now)
show=$((t1 - t0))
rss=$(/usr/bin/time -f '%M' "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS --ovsdb "$SOCK" plan 2>&1 >/dev/null | tail -1)
echo "# no-change plan $(secs $noop) s, ovs-vsctl show $(secs $show) s"

# ovs-vsctl, all commands in one call.
ovs_start
args=()
for b in $(seq 1 "$NB"); do args+=(-- add-br "br$b"); done
for p in $(seq 1 "$NP"); do args+=(-- add-port "$(bridge_of "$p")" "p$p"); done
t0=$(now); vsctl "${args[@]}"; tr=$(now); barrier 1; t1=$(now)
all=$((t1 - t0))
echo "# ovs-vsctl batched: $(secs $all) s (ovs-vsctl itself returned after $(secs $((tr - t0))) s)"
check ovs-vsctl-batched "$NB" "$NP"

# ovs-vsctl, one command per bridge and per port; stops after ONE_LIMIT s.
ovs_start
n_cmd=$((NB + NP)) done_cmd=0 done_b=0 done_p=0
t0=$(now)
for b in $(seq 1 "$NB"); do
        vsctl add-br "br$b"
        done_cmd=$((done_cmd + 1)) done_b=$b
        [ $((done_cmd % 100)) -eq 0 ] && echo "# ovs-vsctl one by one: $done_cmd of $n_cmd commands, $(secs $(($(now) - t0))) s"
        [ $(($(now) - t0)) -ge $((ONE_LIMIT * 1000)) ] && break
done
if [ "$done_b" -eq "$NB" ]; then
        for p in $(seq 1 "$NP"); do
                vsctl add-port "$(bridge_of "$p")" "p$p"
                done_cmd=$((done_cmd + 1)) done_p=$p
                [ $((done_cmd % 100)) -eq 0 ] && echo "# ovs-vsctl one by one: $done_cmd of $n_cmd commands, $(secs $(($(now) - t0))) s"
                [ $(($(now) - t0)) -ge $((ONE_LIMIT * 1000)) ] && break
        done
fi
barrier 1; t1=$(now)
one=$((t1 - t0))
echo "# ovs-vsctl one by one: $done_cmd of $n_cmd commands in $(secs $one) s"
one_note="peer: ovs-vsctl --no-wait one command per bridge and port"
if [ "$done_cmd" -lt "$n_cmd" ]; then
        echo "# ovs-vsctl one by one: stopped at ${ONE_LIMIT} s ($done_b bridges, $done_p ports)"
        one_note="$one_note; STOPPED after $done_cmd of $n_cmd commands ($(secs $one) s) and EXTRAPOLATED linearly to all $n_cmd, a lower bound: each command reads the whole database"
        one=$((one * n_cmd / done_cmd))
else
        check ovs-vsctl-one-by-one "$NB" "$NP"
fi
ovs_stop

ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
faster() { awk "BEGIN {printf \"%.0fx faster\", $2 / $1}"; }
wait_note="all three end at one waiting ovs-vsctl (ovs-vswitchd has made the datapath ports); VM under TCG"
echo "ovs-vm-$NB-bridges-$NP-ports reconcile=$(secs $rec) s peer=$(secs $one) s ratio=$(ratio $rec $one) ($(faster $rec $one); $one_note; $wait_note)"
echo "ovs-vm-$NB-bridges-$NP-ports-batched reconcile=$(secs $rec) s peer=$(secs $all) s ratio=$(ratio $rec $all) (peer: ovs-vsctl --no-wait, all commands in one call; $wait_note)"
echo "ovs-vm-$NB-bridges-$NP-ports-noop-plan reconcile=$(secs $noop) s peer=$(secs $show) s ratio=$(ratio $noop $show) max-rss=${rss} kB (peer: ovs-vsctl show of the same database)"
