# Helpers the host-side benchmarks share (sourced from the tree's top).
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# netlink_sends FILE command...: run it under strace, print how many netlink
# requests (sendto/sendmsg calls) it made; its output goes to FILE.
netlink_sends() {
        local out=$1
        shift
        strace -f -qq -e trace=sendto,sendmsg -o "$out.strace" "$@" >"$out" 2>&1
        grep -c 'send\(to\|msg\)(' "$out.strace" || true
}
# wall_rss command...: "SECONDS MAX_RSS_KB" of one run.
wall_rss() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
# The host config of the bridge benchmarks: N bridges, ports aI and bI, an address each.
bridges_manifest() {
        echo "version: 1"
        echo "bridges:"
        for i in $(seq 1 "$1"); do
                echo "  br$i: { interfaces: [a$i, b$i], addresses: [10.$((i / 250)).$((i % 250)).1/24] }"
        done
}
# `ip -batch` lines for the 2N veth pairs that stand for NICs.
veth_nics() {
        for i in $(seq 1 "$1"); do
                echo "link add a$i type veth peer name pa$i"
                echo "link add b$i type veth peer name pb$i"
        done
}
