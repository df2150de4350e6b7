#!/bin/bash
# Inside the VM: 10,000 services x 5 reals from empty, reconcile against
# `ipvsadm -R`; then a no-change plan of them against merely listing them
# with `ipvsadm -S -n` (the same services, the same VM).
set -u
cd "$(dirname "$0")/../.."
R=$PWD/${BUILD:-build}/reconcile
N=${N:-10000}
RUNS=${RUNS:-1}
TMP=$(mktemp -d /tmp/rct-bench-ipvs.XXXXXX)
chmod 700 "$TMP"
mkdir -m 700 "$TMP/m"
ip() { /usr/sbin/ip "$@"; }
{
        echo "version: 1"; echo "services:"
        for i in $(seq 1 "$N"); do
                a="10.$((i / 250 % 250)).$((i % 250 + 1))"
                echo "  s$i: { protocol: tcp, address: 172.16.$a, port: 80, scheduler: wlc, reals: ["
                for j in 1 2 3 4 5; do echo "    { address: 192.168.$j.$((i % 250 + 1)), port: 8080, weight: 1 },"; done
                echo "  ] }"
        done
} | sed 's/172.16.10./172.16./' >"$TMP/m/svc.yaml"
{
        for i in $(seq 1 "$N"); do
                a="$((i / 250 % 250)).$((i % 250 + 1))"
                echo "-A -t 172.16.$a:80 -s wlc"
                for j in 1 2 3 4 5; do echo "-a -t 172.16.$a:80 -r 192.168.$j.$((i % 250 + 1)):8080 -m -w 1"; done
        done
} >"$TMP/rules"
now() { local t=${EPOCHREALTIME/./}; echo $((t * 1000)); }
best() { sort -n | head -1; }
rec=() peer=() noop=() list=()
for _ in $(seq 1 "$RUNS"); do
        ip netns del bb 2>/dev/null; ip netns add bb; ip -n bb link set lo up
        t0=$(now); ip netns exec bb ipvsadm -R <"$TMP/rules"; t1=$(now); peer+=($(( (t1 - t0) / 1000000 )))
        ip netns del bb; ip netns add bb; ip -n bb link set lo up; rm -rf "$TMP/state"
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bb apply; t1=$(now); rec+=($(( (t1 - t0) / 1000000 )))
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bb plan; t1=$(now); noop+=($(( (t1 - t0) / 1000000 )))
        t0=$(now); ip netns exec bb ipvsadm -S -n >/dev/null; t1=$(now); list+=($(( (t1 - t0) / 1000000 )))
done
"$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bb plan --exit-code >/dev/null || echo "# ipvs: the plan after apply is not empty"
rss=$(/usr/bin/time -f '%M' "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --netns bb plan 2>&1 >/dev/null | tail -1)
n_svc=$(ip netns exec bb ipvsadm -Ln | grep -c '^TCP')
r=$(printf '%s\n' "${rec[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
p=$(printf '%s\n' "${peer[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
n=$(printf '%s\n' "${noop[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
l=$(printf '%s\n' "${list[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "ipvs-${N}x5 reconcile=$((r / 1000)).$(printf %03d $((r % 1000))) s peer=$((p / 1000)).$(printf %03d $((p % 1000))) s ratio=$(awk "BEGIN {printf \"%.2f\", $r / $p}") (peer: ipvsadm -R; VM under TCG; $n_svc services)"
echo "ipvs-${N}x5-noop-plan reconcile=$((n / 1000)).$(printf %03d $((n % 1000))) s peer=$((l / 1000)).$(printf %03d $((l % 1000))) s ratio=$(awk "BEGIN {printf \"%.2f\", $n / $l}") max-rss=${rss} kB (peer: ipvsadm -S -n of the same services)"
