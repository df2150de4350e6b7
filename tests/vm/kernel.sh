#!/bin/bash
# Fetch and unpack Debian's stock kernel once into OUTDIR: OUTDIR/vmlinuz,
# OUTDIR/version and the module tree OUTDIR/kernel (depmod'ed). Shared by the
# VM harness (build.sh) and the libvirt guest images (tests/libvirt/guest.sh).
#   tests/vm/kernel.sh OUTDIR   -> prints the kernel version
set -eu
OUT=$(realpath -m "$1")
mkdir -p "$OUT"
cd "$OUT"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 3; }
VER=${pkg#linux-image-}
if [ ! -f "$OUT/vmlinuz" ] || [ ! -d "$OUT/kernel" ] || [ "$(cat "$OUT/version" 2>/dev/null)" != "$VER" ]; then
        rm -rf kernel ./*.deb vmlinuz version
        # Not apt-get install: that would pull initramfs-tools, udev and a systemd upgrade.
        apt-get download "$pkg" >/dev/null
        dpkg-deb -x ./*.deb kernel
        depmod -b kernel "$VER"
        cp "kernel/boot/vmlinuz-$VER" vmlinuz
        rm -f ./*.deb
        echo "$VER" >version
fi
echo "$VER"
