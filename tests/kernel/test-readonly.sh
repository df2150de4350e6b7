#!/bin/bash
# Read-only commands stay read-only and quiet: plan of a held revision, a
# backend nobody declared that this kernel lacks, a missing --netns, no state
# directory made by plan or release, an emptied manifest directory.
. "$(dirname "$0")/lib.sh"

test_plan_of_held_revision() {
        manifest 'version: 1
bridges:
  br0: { mtu: 1400 }
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" apply --confirm 1 </dev/null 2>&1)
        link_exists br0 && fail "the unconfirmed change was not reverted"
        rc plan; expect_rc 0 "plan of a held revision"
        expect_out '^\+ bridge br0'
        expect_out '^note: this manifest revision is held \(reverted at .*\): apply refuses it'
        rc apply; expect_rc 1; expect_out 'held: this manifest revision was reverted'
}

test_undeclared_backend_missing_is_a_note() {
        manifest 'version: 1
bridges:
  br0: {}
'
        rc apply; expect_rc 0
        rc show; expect_rc 0 "show with IPVS missing from the kernel"
        expect_out '^  br0:'
        [ "$(printf '%s\n' "$OUT" | grep -c 'IPVS')" = 1 ] || fail "not said exactly once"
        expect_out '^note: ipvs backend: .*nothing declares or owns its kinds'
        expect_no_out '^error:'
        rc --only bridge,service plan; expect_rc 0 "plan --only with an undeclared kind the kernel lacks"
        expect_no_out '^error:'
}

test_missing_netns_one_error() {
        manifest 'version: 1
bridges:
  br0: {}
'
        local cmd
        for cmd in plan apply show; do
                OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "nosuch-$NS" $cmd 2>&1); RC=$?
                expect_rc 1 "$cmd with a missing --netns"
                [ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] || fail "$cmd: more than one line"
                expect_out "^error: --netns nosuch-$NS: "
        done
        [ ! -e "$S" ] || fail "a failed --netns made the state directory"
        true
}

test_plan_and_release_make_no_state_dir() {
        manifest 'version: 1
bridges:
  br0: {}
'
        rc plan; expect_rc 0
        [ ! -e "$S" ] || fail "plan made the state directory"
        rc release; expect_rc 0; expect_out 'nothing is held'
        [ ! -e "$S" ] || fail "release made the state directory"
        rc plan --exit-code; expect_rc 2
        [ ! -e "$S" ] || fail "plan --exit-code made the state directory"
        true
}

test_emptied_directory_plan_says_refuse() {
        manifest 'version: 1
bridges:
  br0: {}
  br1: {}
'
        rc apply; expect_rc 0
        rm -f "$M"/*.yaml
        rc plan; expect_rc 0
        expect_out '^apply will refuse: 2 of 2 deletable resources; --allow-mass-delete'
        rc plan --exit-code; expect_rc 1
        rc apply; expect_rc 1
        link_exists br0 || fail "an emptied directory deleted br0"
        true
}

# JSON carries the error messages: an invalid manifest, a refused apply.
test_json_carries_errors() {
        manifest 'version: 1
bridges:
  br0: { mtu: 99999 }
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" -o json plan 2>/dev/null); RC=$?
        expect_rc 1
        printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"] == "invalid", d; assert any("mtu 99999 out of range 68..65535" in e for e in d["errors"]), d' ||
                fail "no JSON document with the parse error"
        manifest 'version: 1
bridges:
  br0: {}
  br1: {}
'
        rc apply; expect_rc 0
        manifest 'version: 1
'
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" -o json apply 2>/dev/null); RC=$?
        expect_rc 1
        printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"] == "refused", d; assert any("refusing to delete 2 of 2 deletable" in e for e in d["errors"]), d' ||
                fail "no JSON document for the refused apply"
        link_exists br0 || fail "br0 deleted"
}

echo "1..6"
t "plan of a held revision prints the plan and a note" test_plan_of_held_revision
if [ -e /proc/net/ip_vs ]; then
        t "show and plan: a backend nobody declared that the kernel lacks is one note, exit 0" test_undeclared_backend_missing_is_a_note "this kernel has IPVS; the case needs a kernel without it"
else
        t "show and plan: a backend nobody declared that the kernel lacks is one note, exit 0" test_undeclared_backend_missing_is_a_note
fi
t "a missing --netns is one error and an immediate exit" test_missing_netns_one_error
t "plan and release never make the state directory" test_plan_and_release_make_no_state_dir
t "an emptied manifest directory: plan says apply will refuse" test_emptied_directory_plan_says_refuse
t "JSON carries the errors: invalid manifests, a refused apply" test_json_carries_errors
