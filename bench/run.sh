#!/bin/bash
# make bench: every benchmark prints NAME reconcile=X s peer=Y s ratio=R.
# Benchmarks are not tests: no time fails anything.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "make bench needs root (network namespaces)" >&2; exit 1; fi
for n in 10 100 1000; do bash bench/bridges.sh "$n"; done
if command -v libvirtd >/dev/null; then bash bench/libvirt.sh 100; fi
bash bench/ipset.sh 100000
if command -v qemu-system-x86_64 >/dev/null && tests/vm/build.sh "${BUILD:-build}/vm" "${BUILD:-build}/reconcile" >/dev/null 2>&1; then
        tests/vm/run.sh "${BUILD:-build}/vm" bench/guest/ipvs.sh
fi
