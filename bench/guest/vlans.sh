#!/bin/bash
# Inside the VM (8021q): 1,000 VLANs on one NIC and a bridge over each, from
# empty: reconcile against `ip -batch` doing the same in the same VM. The
# published nmstate figure for this work is 10 min 29 s (nmstate PR 1470).
set -u
cd "$(dirname "$0")/../.."
R=$PWD/${BUILD:-build}/reconcile
N=${N:-1000}
RUNS=${RUNS:-3}
TMP=$(mktemp -d /tmp/rct-bench-vlan.XXXXXX)
chmod 700 "$TMP"
mkdir -m 700 "$TMP/m"
ip() { /usr/sbin/ip "$@"; }
{
        echo "version: 1"
        echo "ethernets:"
        echo "  eth0: {}"
        echo "vlans:"
        for i in $(seq 1 "$N"); do echo "  v$i: { link: eth0, id: $i }"; done
        echo "bridges:"
        for i in $(seq 1 "$N"); do echo "  br$i: { interfaces: [v$i], forward-delay: 0 }"; done
} >"$TMP/m/vlans.yaml"
{
        echo "link set eth0 up"
        for i in $(seq 1 "$N"); do
                echo "link add v$i link eth0 type vlan id $i"
                echo "link add br$i type bridge forward_delay 0"
                echo "link set v$i master br$i"
                echo "link set v$i up"
                echo "link set br$i up"
        done
} >"$TMP/batch"
now() { local t=${EPOCHREALTIME/./}; echo $((t * 1000)); }
fresh() { ip netns del bv 2>/dev/null; ip netns add bv; ip -n bv link add eth0 type veth peer name sw0; ip -n bv link set sw0 up; }
rec=() peer=() noop=()
for _ in $(seq 1 "$RUNS"); do
        fresh
        t0=$(now); ip -n bv -batch "$TMP/batch"; t1=$(now); peer+=($(( (t1 - t0) / 1000000 )))
        fresh; rm -rf "$TMP/state"
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bv apply; t1=$(now); rec+=($(( (t1 - t0) / 1000000 )))
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bv apply; t1=$(now); noop+=($(( (t1 - t0) / 1000000 )))
done
n_br=$(ip -n bv -o link show type bridge | wc -l)
mid() { sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"; }
secs() { echo "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
r=$(printf '%s\n' "${rec[@]}" | mid); p=$(printf '%s\n' "${peer[@]}" | mid); n=$(printf '%s\n' "${noop[@]}" | mid)
echo "vlans-bridges-$N reconcile=$(secs "$r") s peer=$(secs "$p") s ratio=$(awk "BEGIN {printf \"%.2f\", $r / $p}") (peer: ip -batch in the same VM under TCG; $n_br bridges; nmstate published 629 s: $(awk "BEGIN {printf \"%.0f\", 629000 / $r}")x faster)"
echo "vlans-bridges-$N-noop reconcile=$(secs "$n") s"
