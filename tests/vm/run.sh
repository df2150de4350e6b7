#!/bin/bash
# Boot the test VM under TCG with the build tree shared over 9p, run one test
# script (a path relative to the tree) inside it, print what it printed.
#   tests/vm/run.sh VMDIR SCRIPT
# VM_QEMU_OPTS replaces "-smp 2" (the benchmarks pass "-icount shift=0 -smp 1");
# VM_TIMEOUT (s) replaces 300; VM_APPEND adds NAME=VALUE words, the guest script's environment.
set -u
VMDIR=$1
SCRIPT=$2
TREE=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp)
timeout "${VM_TIMEOUT:-300}" qemu-system-x86_64 -accel tcg ${VM_QEMU_OPTS:--smp 2} -m 768 -nographic -no-reboot \
        -kernel "$VMDIR/vmlinuz" -initrd "$VMDIR/initrd.img" \
        -virtfs "local,path=$TREE,mount_tag=host,security_model=none" \
        -append "console=ttyS0 quiet panic=-1 reconcile_test=$SCRIPT reconcile_build=${BUILD:-build} ${VM_APPEND:-}" >"$out" 2>&1
rc=$?
tr -d '\r' <"$out" | sed -n '/@@VM-BEGIN@@/,/@@VM-END@@/p' | sed '1d;$d'
if ! grep -q '@@VM-END@@' "$out"; then
        echo "not ok - the VM did not finish $SCRIPT (qemu exit $rc)"
        tail -20 "$out" | sed 's/^/# vm: /'
fi
rm -f "$out"
