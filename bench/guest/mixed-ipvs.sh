#!/bin/bash
# Inside the VM (ip_vs): 1,000 services x 10 reals. A no-op plan (wall time,
# max RSS), then one real server's weight changed: wall time and the netlink
# requests it takes beyond a no-op run (strace). Times are under TCG.
set -u
cd "$(dirname "$0")/../.."
R=$PWD/${BUILD:-build}/reconcile
N=${N:-1000}
TMP=$(mktemp -d /tmp/rct-bench-mixed.XXXXXX)
chmod 700 "$TMP"
mkdir -m 700 "$TMP/m"
ip() { /usr/sbin/ip "$@"; }
{
        echo "version: 1"; echo "services:"
        for i in $(seq 1 "$N"); do
                echo "  s$i: { protocol: tcp, address: 172.16.$((i / 250)).$((i % 250 + 1)), port: 80, reals: ["
                for j in $(seq 1 10); do
                        w=1
                        [ "$i$j" = 11 ] && w=2 # the one real whose weight changes below
                        echo "    { address: 192.168.$j.$((i % 250 + 1)), port: 8080, weight: $w },"
                done
                echo "  ] }"
        done
} >"$TMP/m/svc.yaml"
ip netns add bm; ip -n bm link set lo up
RQ() { "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bm "$@"; }
RQ apply
now() { local t=${EPOCHREALTIME/./}; echo $((t * 1000)); }
secs() { echo "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }
t0=$(now); RQ plan >/dev/null; t1=$(now)
rss=$(/usr/bin/time -f '%M' "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bm plan 2>&1 >/dev/null | tail -1)
echo "mixed-ipvs-${N}x10-noop-plan reconcile=$(secs $(( (t1 - t0) / 1000000 ))) s max-rss=${rss} kB (VM under TCG)"
sends() { strace -f -qq -e trace=sendto,sendmsg -o "$TMP/strace" "$@" >/dev/null 2>&1; grep -c 'send\(to\|msg\)(' "$TMP/strace"; }
base=$(sends "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bm apply)
sed -i 's/weight: 2 }/weight: 5 }/' "$TMP/m/svc.yaml"
one=$(sends "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bm apply)
sed -i 's/weight: 5 }/weight: 7 }/' "$TMP/m/svc.yaml"
t0=$(now); RQ apply; t1=$(now)
ip netns exec bm ipvsadm -Ln | grep -q '192.168.1.2:8080 *Masq *7' || echo "# mixed-ipvs: the weight did not change"
echo "mixed-ipvs-one-weight reconcile=$(secs $(( (t1 - t0) / 1000000 ))) s netlink-requests=$((one - base)) beyond the no-op run ($one in all, $base for the no-op; VM under TCG)"
