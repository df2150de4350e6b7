#!/bin/bash
# Tests that need kernel features this machine lacks (8021q, ip_vs, bonding)
# run inside a VM booting Debian's stock kernel under TCG (tests/vm/README.md).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
VMDIR=$BUILD/vm
GUEST_TESTS=$(ls tests/vm/guest/test-*.sh)

skip_all() {
        local n=0 f name
        for f in $GUEST_TESTS; do
                for name in $(grep -oE '^t "[^"]*"' "$f" | sed 's/^t "//; s/"$//; s/ /_/g'); do
                        n=$((n + 1))
                        echo "ok $n - ${name//_/ } # SKIP $1"
                done
        done
}

if [ "$(id -u)" -ne 0 ]; then skip_all "needs root"; exit 0; fi
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v busybox >/dev/null; then
        skip_all "qemu-system-x86_64 or busybox-static not installed (make deps installs them)"
        exit 0
fi
if ! tests/vm/build.sh "$VMDIR" "$BUILD/reconcile" >"$BUILD/vm-build.log" 2>&1; then
        skip_all "cannot build the VM: $(tail -1 "$BUILD/vm-build.log")"
        exit 0
fi
for f in $GUEST_TESTS; do
        echo "# vm: $f"
        BUILD=$BUILD tests/vm/run.sh "$VMDIR" "$f"
done
