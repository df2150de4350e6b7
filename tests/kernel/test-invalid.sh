#!/bin/bash
# Every manifest in testdata/invalid/ must be refused with exactly the first
# error line in its .expected file, exit 1, and no change on the host (an
# apply inside a throw-away namespace leaves it as it was, and writes no
# ledger). --update rewrites the .expected files from the current output.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CORPUS=$ROOT/testdata/invalid
update=${1:-}

first_error() { # the first "error:" line, with the directory stripped
        printf '%s\n' "$1" | grep -m1 'error: ' | sed "s|$2/||g"
}

check_one() {
        local f=$1 name expected
        name=$(basename "$f" .yaml)
        expected=$CORPUS/$name.expected
        cp "$f" "$M/m.yaml"
        chmod 600 "$M/m.yaml"
        OUT=$("$RECONCILE" -d "$M" validate 2>&1); RC=$?
        local got; got=$(first_error "$OUT" "$M")
        if [ "$update" = --update ]; then
                printf '%s\n' "$got" >"$expected"
                return
        fi
        [ "$RC" -eq 1 ] || { fail "$name: validate exit $RC"; return; }
        [ -f "$expected" ] || { fail "$name: no .expected file"; return; }
        [ "$got" = "$(cat "$expected")" ] || fail "$name: first error
   got:  $got
   want: $(cat "$expected")"
        local before; before=$(ip -n "$NS" -o link show | wc -l)
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply 2>&1); RC=$?
        [ "$RC" -eq 1 ] || fail "$name: apply exit $RC"
        [ "$(ip -n "$NS" -o link show | wc -l)" = "$before" ] || fail "$name: apply changed the namespace"
        [ -e "$S/ledger" ] && fail "$name: apply wrote a ledger"
        rm -f "$M/m.yaml"
        true
}

test_corpus() {
        local n=0 f
        for f in "$CORPUS"/*.yaml; do
                check_one "$f"
                n=$((n + 1))
        done
        echo "# $n invalid manifests checked"
        [ "$n" -ge 100 ] || fail "the corpus has only $n manifests"
}

test_huge_scalar() {
        { printf 'version: 1\nbridges:\n  br0: { mtu: "'; head -c 10485760 /dev/zero | tr '\0' a; printf '" }\n'; } >"$M/m.yaml"
        OUT=$("$RECONCILE" -d "$M" validate 2>&1); RC=$?
        expect_rc 1
        [ "$(first_error "$OUT" "$M")" = 'm.yaml:3:15: error: mtu: expected an integer' ] ||
                fail "10 MB scalar: $(first_error "$OUT" "$M" | cut -c1-200)"
}

# Refused within a CPU second and with bounded memory, at the first collection
# deeper than 64 (parsers/manifest.c MAX_NESTING). The loader alone took 52 s
# and 42 MB for the 200 KB case. Valgrind multiplies the time: only the
# errors are checked under it.
refused_fast() { # LABEL EXPECTED-ERROR
        local label=$1 want=$2 cpu kb
        chmod 600 "$M/m.yaml"
        if [ -x /usr/bin/time ]; then
                OUT=$( { /usr/bin/time -f 'cpu %U %S maxrss %M' "$RECONCILE" -d "$M" validate; } 2>&1); RC=$?
        else # GNU time is not in make deps: CPU from bash, memory not measured
                OUT=$( { TIMEFORMAT='cpu %U %S maxrss 0'; time "$RECONCILE" -d "$M" validate; } 2>&1); RC=$?
        fi
        expect_rc 1 "$label"
        [ "$(first_error "$OUT" "$M")" = "$want" ] || fail "$label: $(first_error "$OUT" "$M" | cut -c1-200)"
        [ "${VALGRIND:-}" = 1 ] && return
        cpu=$(printf '%s\n' "$OUT" | awk '/^cpu /{printf "%d", ($2 + $3) * 1000}')
        kb=$(printf '%s\n' "$OUT" | awk '/^cpu /{print $5}')
        echo "# $label: ${cpu} ms CPU, ${kb} KB max RSS"
        [ "${cpu:-9999}" -lt 1000 ] || fail "$label: ${cpu} ms of CPU to refuse"
        # The file itself is read whole (10 MB); ASan adds its shadow memory.
        [ "${kb:-999999}" -lt 200000 ] || fail "$label: ${kb} KB of memory to refuse"
}

test_deep_nesting() {
        python3 -c "import sys; sys.stdout.write('version: 1\nbridges:\n  br0: ' + '[' * 100000 + ']' * 100000 + '\n')" >"$M/m.yaml"
        refused_fast "200 KB of flow sequences" 'm.yaml:3:70: error: YAML: nested deeper than 64 levels'
        python3 -c "import sys; n = 5 << 20; sys.stdout.write('version: 1\nbridges:\n  br0: ' + '[' * n + ']' * n + '\n')" >"$M/m.yaml"
        refused_fast "10 MB of flow sequences" 'm.yaml:3:70: error: YAML: nested deeper than 64 levels'
        python3 -c "import sys; sys.stdout.write('version: 1\nbridges:\n  br0: ' + '{a: ' * (5 << 19) + '\n')" >"$M/m.yaml"
        refused_fast "10 MB of flow mappings" 'm.yaml:3:256: error: YAML: nested deeper than 64 levels'
        python3 -c "import sys; sys.stdout.write('version: 1\nbridges:\n  br0:\n    ' + '- ' * (5 << 20) + 'x\n')" >"$M/m.yaml"
        refused_fast "10 MB of block sequences" 'm.yaml:4:129: error: YAML: nested deeper than 64 levels'
        python3 -c "import sys; sys.stdout.write('version: 1\nbridges:\n' + ''.join('  ' * (i + 1) + 'a:\n' for i in range(3200)))" >"$M/m.yaml"
        refused_fast "10 MB of block mappings" 'm.yaml:66:129: error: YAML: nested deeper than 64 levels'
        python3 -c "import sys; sys.stdout.write('version: 1\nbridges:\n  br0: [' + ', '.join(['[' * 60 + ']' * 60] * 85000) + ']\n')" >"$M/m.yaml"
        refused_fast "10 MB of shallow empty lists" 'm.yaml:3:4066648: error: YAML: more than 2000000 nodes'
}

test_symlink_outside() {
        printf 'version: 1\nbridges:\n  br0: {}\n' >"$TMP/outside.yaml"
        ln -s "$TMP/outside.yaml" "$M/m.yaml"
        OUT=$("$RECONCILE" -d "$M" validate 2>&1); RC=$?
        expect_rc 1
        expect_out "error: $M/m.yaml: manifests must be regular files, not symlinks"
}

test_writable_by_others() {
        printf 'version: 1\nbridges:\n  br0: {}\n' >"$M/m.yaml"
        chmod 0620 "$M/m.yaml"
        OUT=$("$RECONCILE" -d "$M" validate 2>&1); RC=$?
        expect_rc 1; expect_out "error: $M/m.yaml: writable by group or others \\(mode 0620\\): refusing it"
        chmod 0600 "$M/m.yaml"; chmod 0702 "$M"
        OUT=$("$RECONCILE" -d "$M" validate 2>&1); RC=$?
        expect_rc 1; expect_out "error: $M: writable by group or others \\(mode 0702\\): refusing it"
        chmod 0700 "$M"
        chown 65534 "$M/m.yaml"
        OUT=$("$RECONCILE" -d "$M" validate 2>&1); RC=$?
        expect_rc 1; expect_out "owned by uid 65534, not by the runner"
}

if [ "$update" = --update ]; then
        t_setup; for f in "$CORPUS"/*.yaml; do check_one "$f"; done; t_teardown; exit 0
fi
t "every manifest in testdata/invalid/ refused with its exact first error, nothing changed" test_corpus
t "a 10 MB scalar is refused cleanly" test_huge_scalar
t "deep nesting (200 KB, and 10 MB flow and block) refused at depth 64 within 1 s of CPU" test_deep_nesting
t "a symlinked manifest pointing outside the directory is refused" test_symlink_outside
t "manifests writable by group/others or owned by another user are refused" test_writable_by_others
