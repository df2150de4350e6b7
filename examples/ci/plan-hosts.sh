#!/bin/sh
# plan-hosts.sh: a CI step that plans every host of the fleet without the
# hosts. The repository holds one manifest directory per host (hosts/NAME/)
# and, next to it, the snapshot each host last wrote with
# `reconcile show --snapshot` (snapshots/NAME.yaml: pushed by the host's
# timer, or gathered by examples/ansible/snapshot.yml). Each host's plan is
# printed (and written to $PLAN_DIR/NAME.txt and .json for the pull
# request's comment); the step fails when any host's manifests are invalid or
# its plan has errors. Pending changes are what a pull request is for: they
# do not fail it.
#
# Usage: plan-hosts.sh [REPO_ROOT]   (RECONCILE=path/to/reconcile, PLAN_DIR=plans)
set -u
root=${1:-.}
reconcile=${RECONCILE:-reconcile}
out=${PLAN_DIR:-plans}
mkdir -p "$out"
failed=0 planned=0 changed=0
for dir in "$root"/hosts/*/; do
        host=$(basename "$dir")
        snap=$root/snapshots/$host.yaml
        if [ ! -f "$snap" ]; then
                echo "== $host: no snapshot ($snap): not planned"
                failed=1
                continue
        fi
        planned=$((planned + 1))
        "$reconcile" -d "$dir" plan --live "$snap" --exit-code -o json >"$out/$host.json" 2>"$out/$host.err"
        rc=$?
        "$reconcile" -d "$dir" plan --live "$snap" >"$out/$host.txt" 2>>"$out/$host.err"
        case $rc in
        0) echo "== $host: in sync" ;;
        2) echo "== $host: changes"; changed=$((changed + 1)) ;;
        *) echo "== $host: ERRORS"; failed=1 ;;
        esac
        sed 's/^/   /' "$out/$host.txt" "$out/$host.err"
done
echo "$planned hosts planned, $changed with changes$([ $failed = 1 ] && echo ', some failed')"
exit $failed
