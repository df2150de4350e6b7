#!/bin/bash
# Guest images for the libvirt tests: Debian's stock kernel (tests/vm/kernel.sh)
# and two tiny busybox initramfs that boot in seconds under TCG.
#   tests/libvirt/guest.sh OUTDIR  -> OUTDIR/vmlinuz, OUTDIR/initrd-acpi.img, OUTDIR/initrd-deaf.img
# Both guests write one sector to their first virtio disk once they are up, so
# a test sees "booted" in virsh domblkstat (wr_req > 0) without a console.
# initrd-acpi runs busybox acpid, which powers the guest off on the ACPI power
# button; initrd-deaf has no button driver and ignores it.
set -eu
OUT=$(realpath -m "$1")
VER=$("$(dirname "$(realpath "$0")")/../vm/kernel.sh" "$OUT")
cd "$OUT"

build() { # build NAME MODULES...
        local name=$1 m ko base
        shift
        rm -rf "root-$name"
        mkdir -p "root-$name"/{bin,proc,sys,dev,run,etc/acpi/PWRF,modules}
        cp /bin/busybox "root-$name/bin/busybox"
        for a in sh mount insmod dd sleep acpid poweroff sync echo cat; do ln -s busybox "root-$name/bin/$a"; done
        : >"root-$name/modules/load"
        for m in "$@"; do
                modprobe -d kernel -S "$VER" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}' |
                        while read -r ko; do
                                base=$(basename "$ko")
                                grep -qx "${base%.xz}" "root-$name/modules/load" && continue
                                cp "$ko" "root-$name/modules/"
                                case $base in *.xz) xz -d "root-$name/modules/$base"; base=${base%.xz} ;; esac
                                echo "$base" >>"root-$name/modules/load"
                        done
        done
        printf '#!/bin/sh\npoweroff -f\n' >"root-$name/etc/acpi/PWRF/00000080"
        chmod +x "root-$name/etc/acpi/PWRF/00000080"
        cat >"root-$name/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/load); do insmod /modules/$m 2>/dev/null; done
[ -e /modules/button.ko ] && acpid -c /etc/acpi -l /run/acpid.log
# Up: one write on the first virtio disk is what the host waits for.
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 0.2; done
dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null
while :; do sleep 3600; done
INIT
        chmod +x "root-$name/init"
        (cd "root-$name" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"initrd-$name.img"
        rm -rf "root-$name"
}
VIRTIO="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"
# shellcheck disable=SC2086
build acpi button evdev $VIRTIO
# shellcheck disable=SC2086
build deaf $VIRTIO
echo "$OUT/vmlinuz $OUT/initrd-acpi.img $OUT/initrd-deaf.img ($VER)"
