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
t "a symlinked manifest pointing outside the directory is refused" test_symlink_outside
t "manifests writable by group/others or owned by another user are refused" test_writable_by_others
