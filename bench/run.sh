#!/bin/bash
# make bench: every benchmark prints NAME reconcile=X s peer=Y s ratio=R.
# Benchmarks are not tests: no time fails anything.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "make bench needs root (network namespaces)" >&2; exit 1; fi
for n in 10 100 1000; do bash bench/bridges.sh "$n"; done
if command -v libvirtd >/dev/null; then bash bench/libvirt.sh 100; fi
