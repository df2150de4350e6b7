#!/bin/bash
# Build the test VM: Debian's stock kernel (which has 8021q, ip_vs and bonding,
# unlike this machine's) and an initramfs with busybox, the modules the tests
# need and the dynamic closure of the tools they run. The build tree itself is
# shared over 9p at boot, so rebuilding reconcile needs no new initramfs.
#   tests/vm/build.sh OUTDIR [BINARY...]  -> OUTDIR/vmlinuz, OUTDIR/initrd.img
# Each BINARY's shared libraries go into the initramfs.
set -eu
HERE=$(dirname "$(realpath "$0")")
OUT=$(realpath -m "$1")
shift
BINS=()
for b in "$@"; do BINS+=("$(realpath "$b")"); done
mkdir -p "$OUT"
cd "$OUT"

VER=$("$HERE/kernel.sh" "$OUT")

MODULES="llc mrp stp garp 8021q bridge veth dummy bonding macvlan udp_tunnel ip6_udp_tunnel vxlan crc32c_generic libcrc32c nf_defrag_ipv4 nf_defrag_ipv6
nf_conntrack ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh ip_vs_sed ip_vs_nq
ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_twos ip_set ip_set_hash_ip ip_set_hash_net ip_set_hash_ipport ip_set_bitmap_port
ip_set_list_set irqbypass kvm vfio_pci virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p
openvswitch"
TOOLS="/bin/bash /usr/sbin/ip /sbin/ip /usr/sbin/ipvsadm /usr/sbin/ipset /usr/bin/flock /usr/bin/env /usr/bin/strace /usr/bin/time
/usr/sbin/ovsdb-server /usr/sbin/ovs-vswitchd /usr/bin/ovs-vsctl /usr/bin/ovsdb-tool /usr/share/openvswitch/vswitch.ovsschema /usr/sbin/keepalived"

rm -rf root
mkdir -p root/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,run,tmp,mnt/host,etc,var,modules}
ln -s ../run root/var/run
cp /bin/busybox root/bin/busybox
for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] && continue # a link named busybox would loop
        [ -e "root/bin/$applet" ] || ln -s busybox "root/bin/$applet"
done
# The tools, their libraries and the loader; iproute2's ip replaces busybox's (which lacks vlan).
copy_with_libs() {
        local f=$1 lib
        [ -e "$f" ] || return 0
        mkdir -p "root$(dirname "$f")"
        rm -f "root$f"
        cp -L "$f" "root$f"
        for lib in $(ldd "$f" 2>/dev/null | awk '/=>/ {print $3} /^\t\/lib/ {print $1}'); do
                [ -e "root$lib" ] && continue
                mkdir -p "root$(dirname "$lib")"
                cp -L "$lib" "root$lib"
        done
}
for f in $TOOLS; do copy_with_libs "$f"; done
# The libraries reconcile links (its binary comes over the share, fresh each boot).
for bin in "${BINS[@]}"; do copy_with_libs "$bin"; done
rm -f root/bin/ip && ln -s /usr/sbin/ip root/bin/ip
: >root/modules/load
for m in $MODULES; do
        modprobe -d kernel -S "$VER" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}' |
                while read -r ko; do
                        base=$(basename "$ko")
                        grep -qx "$base" root/modules/load && continue
                        cp "$ko" root/modules/
                        case $base in *.xz) xz -d "root/modules/$base"; base=${base%.xz} ;; esac
                        echo "$base" >>root/modules/load
                done
done
# The same modules as libkmod finds them (reconcile's modules kind): a module
# tree for this kernel whose kernel/ is the flat /modules, indexed by depmod.
mkdir -p "root/lib/modules/$VER"
ln -sfn ../../../modules "root/lib/modules/$VER/kernel"
for f in modules.builtin modules.builtin.modinfo modules.order; do
        [ -f "kernel/lib/modules/$VER/$f" ] && cp "kernel/lib/modules/$VER/$f" "root/lib/modules/$VER/"
done
depmod -b root "$VER"
cat >root/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
for m in $(cat /modules/load); do
        case $m in dummy.ko) insmod /modules/$m numdummies=0 ;; *) insmod /modules/$m 2>/dev/null ;; esac
done
ip link set lo up
mount -t 9p -o trans=virtio,version=9p2000.L host /mnt/host
cmd=$(sed -n 's/.*reconcile_test=\([^ ]*\).*/\1/p' /proc/cmdline)
export BUILD=$(sed -n 's/.*reconcile_build=\([^ ]*\).*/\1/p' /proc/cmdline)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "@@VM-BEGIN@@"
cd /mnt/host && /bin/bash "$cmd" 2>&1
echo "@@VM-END@@ $?"
poweroff -f
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip -1) >initrd.img
echo "$OUT/vmlinuz $OUT/initrd.img ($VER)"
