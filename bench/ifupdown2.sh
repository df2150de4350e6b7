#!/bin/bash
# The host config of bridges.sh (N bridges, 2 veth ports and an address each)
# through ifupdown2, as Debian ships it: `ifup -a` from nothing, then a
# no-change `ifreload -a`, against reconcile's apply and no-change run, with
# the netlink link changes of each no-change run counted by `ip monitor link`.
# ifupdown2 runs inside the namespace: `ip netns exec` mounts
# /etc/netns/NS/network over /etc/network; its state directory (/run/network)
# gets a private mount so the host's is never touched.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-100}
RUNS=${RUNS:-5}
NS=rct-ifup-$$
TMP=$(mktemp -d /tmp/rct-bench.XXXXXX)
chmod 700 "$TMP"
mkdir -p /etc/network # the mount point ip netns exec needs
trap 'rm -rf "$TMP" "/etc/netns/$NS"; ip netns del $NS 2>/dev/null || true' EXIT
. bench/lib.sh

prepare() {
        ip netns del $NS 2>/dev/null || true
        ip netns add $NS
        ip -n $NS link set lo up
        veth_nics "$N" | ip -n $NS -batch -
        rm -rf "$TMP/run-network"
        mkdir -p "$TMP/run-network"
}

mkdir -p "/etc/netns/$NS/network"
cp -r /etc/network/ifupdown2 "/etc/netns/$NS/network/" # its own configuration lives there too
{
        echo "auto lo"
        echo "iface lo inet loopback"
        for i in $(seq 1 "$N"); do
                echo
                echo "auto br$i"
                echo "iface br$i inet static"
                echo "    address 10.$((i / 250)).$((i % 250)).1/24"
                echo "    bridge-ports a$i b$i"
                echo "    bridge-stp off"
                echo "    bridge-fd 15"
        done
} >"/etc/netns/$NS/network/interfaces"
mkdir -m 700 -p "$TMP/m"
bridges_manifest "$N" >"$TMP/m/bridges.yaml"

ifupdown2() { # ifup -a | ifreload -a, with private state directories
        ip netns exec $NS sh -c "mkdir -p /run/network && mount --bind '$TMP/run-network' /run/network && $*" \
                >"$TMP/ifupdown2.log" 2>&1
}

count_changes() { # command...: netlink link/address notifications while it runs
        ip -n $NS monitor link address >"$TMP/monitor" 2>&1 &
        local mon=$!
        sleep 0.2
        "$@"
        sleep 0.2
        kill $mon; wait $mon 2>/dev/null || true
        grep -c '^[0-9]*: \|^Deleted' "$TMP/monitor" || true
}

up=() reload=() reload_changes=() rec=() noop=() noop_changes=()
runs=$RUNS
[ "$N" -ge 1000 ] && runs=${RUNS_IFUP_1K:-1} # ifupdown2 takes about a minute per run here
for run in $(seq 1 "$runs"); do
        prepare
        t0=$(now); ifupdown2 ifup -a; t1=$(now)
        up+=("$(echo "$t1 - $t0" | bc -l)")
        ip -n $NS -o link show br1 >/dev/null 2>&1 || { echo "ifupdown2-$N: ifup -a did not make br1:"; tail -5 "$TMP/ifupdown2.log"; exit 0; }
        t0=$(now); c=$(count_changes ifupdown2 ifreload -a); t1=$(now)
        reload+=("$(echo "$t1 - $t0 - 0.4" | bc -l)")
        reload_changes+=("$c")
        prepare
        rm -rf "$TMP/state"
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        t0=$(now); c=$(count_changes "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns $NS apply); t1=$(now)
        noop+=("$(echo "$t1 - $t0 - 0.4" | bc -l)")
        noop_changes+=("$c")
done
u=$(printf '%s\n' "${up[@]}" | median)
rl=$(printf '%s\n' "${reload[@]}" | median)
r=$(printf '%s\n' "${rec[@]}" | median)
n=$(printf '%s\n' "${noop[@]}" | median)
printf 'ifupdown2-%d reconcile=%.3f s peer=%.3f s ratio=%.3f (%.0fx faster; peer: ifupdown2 ifup -a; %d runs)\n' \
        "$N" "$r" "$u" "$(echo "$r / $u" | bc -l)" "$(echo "$u / $r" | bc -l)" "$runs"
printf 'ifupdown2-%d-noop reconcile=%.3f s peer=%.3f s ratio=%.3f netlink-link-changes: reconcile=%s ifreload=%s (peer: ifreload -a)\n' \
        "$N" "$n" "$rl" "$(echo "$n / $rl" | bc -l)" "$(printf '%s\n' "${noop_changes[@]}" | sort -n | tail -1)" \
        "$(printf '%s\n' "${reload_changes[@]}" | sort -n | tail -1)"
