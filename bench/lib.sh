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
