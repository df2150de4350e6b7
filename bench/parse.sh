#!/bin/bash
# Parsing alone (`reconcile validate` reads the manifests and touches no
# backend): a 100,000-entry hash:ip manifest against PyYAML's libyaml loader
# reading the same file into Python objects (no checks), and a 10 MB manifest
# of 100,000-deep nesting, which must be refused within a second (no peer:
# libyaml's own loader takes about a minute on it). Wall time median of RUNS,
# max RSS the largest. RECONCILE=path measures another binary (a before).
set -eu
cd "$(dirname "$0")/.."
R=${RECONCILE:-$PWD/${BUILD:-build}/reconcile}
N=${1:-100000}
RUNS=${RUNS:-5}
. bench/lib.sh
if [ ! -x /usr/bin/time ]; then echo "parse: skipped (GNU time missing: make bench-deps)"; exit 0; fi
TMP=$(mktemp -d /tmp/rct-bench-parse.XXXXXX)
chmod 700 "$TMP"
trap 'rm -rf "$TMP"' EXIT
mkdir -m 700 "$TMP/set" "$TMP/deep"
{
        echo "version: 1"; echo "ipsets:"; echo "  big:"; echo "    type: hash:ip"; echo "    maxelem: $((N * 2))"; echo "    entries:"
        awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "      - 10.%d.%d.%d\n", int(i / 62500), int(i / 250) % 250, i % 250 + 1 }'
} >"$TMP/set/set.yaml"
# 50 list items of 100,000 nested brackets each: 10 MB.
python3 -c "import sys; sys.stdout.write('version: 1\nbridges:\n  br0:\n' + ('    - ' + '[' * 100000 + ']' * 100000 + '\n') * 50)" \
        >"$TMP/deep/m.yaml"
chmod 600 "$TMP/set/set.yaml" "$TMP/deep/m.yaml"

# timed command...: one run; "SECONDS MAX_RSS_KB CPU_SECONDS" (the exit status is ignored).
timed() {
        local t0 t1
        t0=$(now)
        /usr/bin/time -f '%M %U %S' -o "$TMP/rss" "$@" >/dev/null 2>"$TMP/err" || true
        t1=$(now)
        echo "$(echo "$t1 - $t0" | bc -l) $(tail -1 "$TMP/rss" | awk '{ print $1, $2 + $3 }')"
}
peer_cmd=(python3 -c 'import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)' "$TMP/set/set.yaml")
has_peer=0
python3 -c 'import yaml; yaml.CSafeLoader' 2>/dev/null && has_peer=1
rec=() rss=() cpu=() peer=() peer_rss=() deep=() deep_rss=()
for _ in $(seq 1 "$RUNS"); do
        read -r t m u < <(timed "$R" -q -d "$TMP/set" validate)
        rec+=("$t"); rss+=("$m"); cpu+=("$u")
        if [ "$has_peer" = 1 ]; then
                read -r t m _ < <(timed "${peer_cmd[@]}")
                peer+=("$t"); peer_rss+=("$m")
        fi
        read -r t m _ < <(timed "$R" -q -d "$TMP/deep" validate)
        grep -q 'nested deeper than 64 levels' "$TMP/err" || echo "# parse: the deep manifest was not refused for its nesting: $(head -c 200 "$TMP/err")"
        deep+=("$t"); deep_rss+=("$m")
done
maxof() { sort -n | tail -1; }
r=$(printf '%s\n' "${rec[@]}" | median); rm=$(printf '%s\n' "${rss[@]}" | maxof); ru=$(printf '%s\n' "${cpu[@]}" | median)
if [ "$has_peer" = 1 ]; then
        p=$(printf '%s\n' "${peer[@]}" | median); pm=$(printf '%s\n' "${peer_rss[@]}" | maxof)
        printf 'parse-ipset-%d-entries reconcile=%.3f s peer=%.3f s ratio=%.2f (reconcile validate, CPU %.2f s, max RSS %d kB; peer: PyYAML CSafeLoader, max RSS %d kB)\n' \
                "$N" "$r" "$p" "$(echo "$r / $p" | bc -l)" "$ru" "$rm" "$pm"
else
        printf 'parse-ipset-%d-entries reconcile=%.3f s (reconcile validate, CPU %.2f s, max RSS %d kB; peer skipped: no python3-yaml)\n' "$N" "$r" "$ru" "$rm"
fi
printf 'parse-deep-nesting-10MB reconcile=%.3f s (refused at depth 64, max RSS %d kB; target < 1 s)\n' \
        "$(printf '%s\n' "${deep[@]}" | median)" "$(printf '%s\n' "${deep_rss[@]}" | maxof)"
