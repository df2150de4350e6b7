#!/bin/bash
# The test command: unit tests (cmocka, TAP), then kernel tests as root in
# throw-away network namespaces. Ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
what=${1:-all}
pass=0 fail=0 skip=0

# Read TAP on stdin: echo it and count. A binary that dies without reporting counts as one failure.
count() {
        local name=$1 line n=0
        while IFS= read -r line; do
                printf '%s\n' "$line"
                case "$line" in
                "not ok"*) fail=$((fail + 1)); n=$((n + 1)) ;;
                "ok"*"# SKIP"* | "ok"*"# skip"*) skip=$((skip + 1)); n=$((n + 1)) ;;
                "ok"*) pass=$((pass + 1)); n=$((n + 1)) ;;
                esac
        done
        [ "$n" -gt 0 ] || { echo "not ok - $name reported no result"; fail=$((fail + 1)); }
}

run_suite() {
        local name=$1; shift
        local out rc
        out=$(mktemp)
        "$@" >"$out" 2>&1
        rc=$?
        count "$name" <"$out"
        if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out"; then
                echo "not ok - $name exited with status $rc"
                fail=$((fail + 1))
        fi
        rm -f "$out"
}

if [ "$what" = all ] || [ "$what" = unit ]; then
        for t in "$BUILD"/tests/test-*; do
                [ -x "$t" ] || continue
                echo "# unit: $(basename "$t")"
                run_suite "$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
        done
fi
if [ "$what" = all ] || [ "$what" = kernel ]; then
        for t in tests/kernel/test-*.sh; do
                echo "# kernel: $(basename "$t")"
                run_suite "$(basename "$t")" bash "$t"
        done
fi
if [ "$what" = all ]; then
        echo "# fuzz smoke: the parser for 15 s under libFuzzer, ASan and UBSan"
        if [ -x "$BUILD/fuzz-manifest" ]; then
                corpus=$(mktemp -d)
                cp examples/*.yaml testdata/invalid/*.yaml tests/fuzz/corpus/*.yaml "$corpus/"
                if "$BUILD/fuzz-manifest" -max_total_time=15 -max_len=4096 -timeout=10 "$corpus" >"$BUILD/fuzz-smoke.log" 2>&1; then
                        echo "ok - fuzz smoke: $(grep -o 'Done [0-9]* runs' "$BUILD/fuzz-smoke.log")"; pass=$((pass + 1))
                else
                        echo "not ok - fuzz smoke: see $BUILD/fuzz-smoke.log"; tail -20 "$BUILD/fuzz-smoke.log"; fail=$((fail + 1))
                fi
                rm -rf "$corpus"
        else
                echo "ok - fuzz smoke # SKIP clang has no libFuzzer here"; skip=$((skip + 1))
        fi
fi
if [ -n "${SAN_BUILD:-}" ] && { [ "$what" = all ] || [ "$what" = san ]; }; then
        # The same unit tests and the quick kernel suites again, built with ASan and UBSan.
        for t in "$SAN_BUILD"/tests/test-*; do
                [ -x "$t" ] || continue
                echo "# asan+ubsan unit: $(basename "$t")"
                run_suite "asan $(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
        done
        for t in test-links test-netkinds test-mtu test-ipset test-invalid test-safety test-names; do
                echo "# asan+ubsan kernel: $t"
                run_suite "asan $t" env BUILD="$SAN_BUILD" SANITIZE=1 bash "tests/kernel/$t.sh"
        done
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
