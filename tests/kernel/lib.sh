# Helpers for kernel tests: each test runs in its own throw-away network
# namespace with its own manifest and state directories, and prints TAP.
set -u
BUILD=${BUILD:-build}
RECONCILE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/$BUILD/reconcile
# make valgrind: every reconcile run under valgrind; an error or a definite leak fails it (exit 9).
if [ "${VALGRIND:-}" = 1 ]; then
        vg_wrap=$(mktemp /tmp/rct-vg.XXXXXX)
        printf '#!/bin/sh\nexec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 "%s" "$@"\n' \
                "$RECONCILE" >"$vg_wrap"
        chmod +x "$vg_wrap"
        RECONCILE=$vg_wrap
fi
T_N=0
T_FAILED=0

# Set up: NS (namespace name), M (manifest dir), S (state dir).
t_setup() {
        NS=rct-$$-$T_N
        TMP=$(mktemp -d /tmp/rct-test.XXXXXX)
        chmod 700 "$TMP"
        M=$TMP/manifests
        S=$TMP/state
        mkdir -m 700 "$M"
        # The daemon's default status file (/run/reconcile/status-NS.json) goes with the test.
        export RECONCILE_RUN=$TMP/run
        ip netns add "$NS" || return 1
        ip -n "$NS" link set lo up
}

t_teardown() {
        ip netns del "$NS" 2>/dev/null
        rm -rf "$TMP"
}

# rc: run reconcile in the test namespace; output in $OUT, status in $RC.
rc() {
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" --netns "$NS" "$@" 2>&1)
        RC=$?
}

fail() {
        echo "#   FAIL: $*"
        [ -n "${OUT:-}" ] && printf '%s\n' "$OUT" | sed 's/^/#   | /'
        T_FAILED=1
}

expect_rc() { [ "$RC" -eq "$1" ] || fail "expected exit $1, got $RC (${2:-})"; }
expect_out() { printf '%s\n' "$OUT" | grep -qE -- "$1" || fail "output lacks /$1/"; }
expect_no_out() { printf '%s\n' "$OUT" | grep -qE -- "$1" && fail "output has /$1/"; true; }
link_exists() { ip -n "$NS" link show "$1" >/dev/null 2>&1; }
ifindex() { ip -n "$NS" -o link show "$1" | cut -d: -f1; }
mtu_of() { ip -n "$NS" -o link show "$1" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
mac_of() { ip -n "$NS" -o link show "$1" | sed -n 's/.*link\/ether \([0-9a-f:]*\) .*/\1/p'; }
master_of() { ip -n "$NS" -o link show "$1" | sed -n 's/.* master \([^ ]*\) .*/\1/p'; }
addrs_of() { ip -n "$NS" -o addr show dev "$1" | awk '{print $4}' | sort | tr '\n' ' '; }
nic() { ip -n "$NS" link add "$1" type veth peer name "${2:-p$1}"; }
manifest() { cat >"$M/${2:-host}.yaml" <<<"$1"; }

# The namespace as a revert must leave it: links (name, kind, MTU, master, up),
# static addresses (not link-local), and ipsets with their entries (hashsize,
# which a rebuild may change, left out).
ns_snapshot() {
        ip -n "$NS" -d -o link show | awk '{
                name = $2; sub(":$", "", name); sub("@.*", "", name)
                mtu = ""; master = "-"; kind = "dev"; up = ($3 ~ /[<,]UP[,>]/) ? "up" : "down"
                for (i = 1; i <= NF; i++) {
                        if ($i == "mtu") mtu = $(i + 1)
                        if ($i == "master") master = $(i + 1)
                        if ($i == "bridge" || $i == "veth" || $i == "vlan") kind = $i
                }
                print name, kind, mtu, master, up }' | sort
        ip -n "$NS" -o addr show | awk '$0 !~ /fe80::/ && $0 !~ / lo / {print $2, $4}' | sort
        ip netns exec "$NS" ipset save 2>/dev/null | sed 's/ hashsize.*//' | sort
}

# t NAME FUNCTION [SKIP-REASON]: run FUNCTION in a fresh namespace, print one TAP line.
t() {
        T_N=$((T_N + 1))
        if [ -n "${3:-}" ]; then
                echo "ok $T_N - $1 # SKIP $3"
                return
        fi
        if [ "$(id -u)" -ne 0 ]; then
                echo "ok $T_N - $1 # SKIP needs root for network namespaces"
                return
        fi
        T_FAILED=0
        OUT=
        if ! t_setup; then
                echo "not ok $T_N - $1 (namespace set-up failed)"
                return
        fi
        "$2"
        t_teardown
        if [ "$T_FAILED" -eq 0 ]; then echo "ok $T_N - $1"; else echo "not ok $T_N - $1"; fi
}
