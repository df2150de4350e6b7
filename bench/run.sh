#!/bin/bash
# make bench: every benchmark prints NAME reconcile=X s peer=Y s ratio=R.
# Benchmarks are not tests: no time fails anything. `make bench-deps` first
# installs the peers (ifupdown2, Ansible with python3-libvirt, ...).
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "make bench needs root (network namespaces)" >&2; exit 1; fi
BUILD=${BUILD:-build}
export BUILD

# How cost grows: plan and apply at 10, 100, 1,000 and (last, below) 10,000 bridges.
SCALE_LOG=$(mktemp)
export SCALE_LOG
for n in 10 100 1000; do bash bench/bridges.sh "$n"; done

if command -v ifup >/dev/null && command -v ifreload >/dev/null; then
        bash bench/ifupdown2.sh 100
        bash bench/ifupdown2.sh 1000
else
        echo "ifupdown2: skipped (not installed: make bench-deps)"
fi
if command -v libvirtd >/dev/null; then bash bench/libvirt.sh 100; fi
bash bench/startup.sh 10
bash bench/ipset.sh 100000
bash bench/parse.sh
bash bench/mixed.sh
bash bench/daemon.sh
bash bench/checker.sh 10000
bash bench/ovs.sh 300 1000
if command -v qemu-system-x86_64 >/dev/null && tests/vm/build.sh "$BUILD/vm" "$BUILD/reconcile" >/dev/null 2>&1; then
        tests/vm/run.sh "$BUILD/vm" bench/guest/vlans.sh
        VM_QEMU_OPTS="-icount shift=0 -smp 1" tests/vm/run.sh "$BUILD/vm" bench/guest/ipvs.sh # time counts instructions: no host noise
        tests/vm/run.sh "$BUILD/vm" bench/guest/mixed-ipvs.sh
        VM_TIMEOUT=3600 VM_QEMU_OPTS="-icount shift=0 -smp 1" tests/vm/run.sh "$BUILD/vm" bench/guest/ovs.sh # ovs-vswitchd, kernel datapath; ~30 min
fi
# Last: the kernel takes minutes to tear down namespaces of 30,000 links, and
# holds every other namespace operation back meanwhile.
RUNS=${RUNS_10K:-1} bash bench/bridges.sh 10000
bash bench/scaling.sh "$SCALE_LOG"
rm -f "$SCALE_LOG"
