#!/bin/bash
# cloud-init NoCloud seeds and the guest lifecycle (issue 17 points 6 and 7),
# against a private libvirtd (tests/libvirt/libvirtd.sh) with a guest under
# TCG: Debian's stock kernel and a busybox initramfs built here whose init
# loads the SATA cdrom and ISO 9660 drivers, mounts the volume labelled cidata
# (findfs LABEL=cidata) and prints its meta-data's instance-id on ttyS0 every
# second. The witnesses: the serial console read through libvirt's console
# stream (tests/libvirt/console-read.c, virDomainOpenConsole), the seed volume
# downloaded with virsh and probed by blkid, virsh for the guest's state.
# The seed changed: rebuilt, restart needed pending, the running guest still
# on the old instance-id; restart: on-change: shut down through ACPI (the
# guest agent channel is there but no agent answers, so that path is
# skipped), started, and the new instance-id on the console.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
# TCG only: a /dev/kvm that cannot run a guest would hang every boot here.
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg
CONSOLE_READ=$ROOT/$BUILD/console-read

# initrd-cidata.img beside the other guest images: busybox, the modules for
# an AHCI cdrom, ISO 9660 and the ACPI button, and an init that prints the seed.
build_cidata_initrd() {
        local ver root m ko base
        ver=$(cat "$GUEST/version") || return 1
        root=$GUEST/root-cidata
        rm -rf "$root"
        mkdir -p "$root"/{bin,proc,sys,dev,run,mnt,etc/acpi/PWRF,modules}
        cp /bin/busybox "$root/bin/busybox"
        for a in sh mount insmod sleep acpid poweroff findfs sed cat echo ls; do ln -s busybox "$root/bin/$a"; done
        : >"$root/modules/load"
        for m in ahci sr_mod isofs button evdev; do
                modprobe -d "$GUEST/kernel" -S "$ver" --show-depends "$m" | awk '$1 == "insmod" {print $2}' |
                        while read -r ko; do
                                base=$(basename "$ko")
                                grep -qx "${base%.xz}" "$root/modules/load" && continue
                                cp "$ko" "$root/modules/"
                                case $base in *.xz) xz -d "$root/modules/$base"; base=${base%.xz} ;; esac
                                echo "$base" >>"$root/modules/load"
                        done
        done
        grep -qx isofs.ko "$root/modules/load" || { echo "no isofs module in $ver" >&2; return 1; }
        printf '#!/bin/sh\npoweroff -f\n' >"$root/etc/acpi/PWRF/00000080"
        chmod +x "$root/etc/acpi/PWRF/00000080"
        cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/load); do insmod /modules/$m 2>/dev/null; done
acpid -c /etc/acpi -l /run/acpid.log
# The seed: the volume labelled cidata, as cloud-init's NoCloud finds it.
dev=
for i in $(seq 1 50); do dev=$(findfs LABEL=cidata 2>/dev/null) && break; sleep 0.2; done
if [ -n "$dev" ] && mount -t iso9660 -o ro "$dev" /mnt; then
        id=$(sed -n 's/^instance-id: *//p' /mnt/meta-data)
        files=$(ls /mnt | tr '\n' ' ')
else
        id="(no seed: $dev)"
fi
while :; do echo "seed-files: $files"; echo "instance-id: $id"; sleep 1; done
INIT
        chmod +x "$root/init"
        (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$GUEST/initrd-cidata.img"
        rm -rf "$root"
}

cidata_guest() { # cidata_guest USER-DATA-LINE [MORE-KEYS]
        cat <<EOF2
version: 1
pools:
  images:
    type: dir
    path: $IMAGES
domains:
  c1:
    memory: 128M
    kernel: $GUEST/vmlinuz
    initrd: $GUEST/initrd-cidata.img
    cmdline: "console=ttyS0 quiet panic=-1"
    shutdown-timeout: 60
    disks: []
    cloud-init:
      pool: images
      user-data: |
        #cloud-config
        $1
${2:-}
EOF2
}

console_id() { # the instance-id the guest prints now
        local line
        line=$("$CONSOLE_READ" "$URI" c1 "instance-id: " "${1:-90}") || return 1
        printf '%s\n' "${line#instance-id: }"
}

# libvirtd locks a console's pty under /var/lock (/run/lock), which its private /run lacks.
cidata_lv_up() {
        lv_up || return 1
        mkdir -p "$TMP/lvd/run/lock"
}

test_seed_boot_rebuild_restart() {
        cidata_lv_up || return
        manifest "$(cidata_guest "runcmd: [echo one]")"
        rl -v plan; expect_rc 0
        expect_out '^\+ domain c1 .*cloud-init seed images/c1-cidata.iso \(user-data, meta-data; instance-id iid-[0-9a-f]{16}\)'
        local want1; want1=$(printf '%s\n' "$OUT" | sed -n 's/.*instance-id \(iid-[0-9a-f]*\)).*/\1/p')
        rl apply; expect_rc 0
        [ "$(v domstate c1)" = running ] || { fail "c1 not running: $(v domstate c1) $OUT"; lv_down; return; }
        v dumpxml c1 | grep -q "<source pool='images' volume='c1-cidata.iso'" || fail "no seed cdrom in the live XML"
        # The seed volume, read back on the host: an ISO 9660 labelled cidata.
        v vol-download --pool images c1-cidata.iso "$TMP/seed.iso" >/dev/null || fail "cannot download the seed"
        [ "$(blkid -o value -s LABEL "$TMP/seed.iso")" = cidata ] || fail "seed label: $(blkid "$TMP/seed.iso")"
        [ "$(blkid -o value -s TYPE "$TMP/seed.iso")" = iso9660 ] || fail "seed type: $(blkid "$TMP/seed.iso")"
        # The guest found it by its label, mounted it and printed its instance-id.
        local got1; got1=$(console_id 180) || fail "no instance-id on the console"
        [ -n "$got1" ] && [ "$got1" = "$want1" ] || fail "console instance-id '$got1', the plan said '$want1'"
        "$CONSOLE_READ" "$URI" c1 "seed-files: meta-data user-data" 20 >/dev/null || fail "the seed lacks user-data or meta-data"
        rl plan --exit-code; expect_rc 0 "in sync after the create"
        expect_no_out 'pending|restart needed'

        # Another user-data: the seed is rebuilt, and the running guest needs a restart for it.
        manifest "$(cidata_guest "runcmd: [echo two]")"
        rl plan; expect_rc 0
        expect_out '^~ domain c1 .*cloud-init seed [0-9a-f]{16} -> seed [0-9a-f]{16} \(built\)'
        expect_out 'restart needed: cloud-init seed'
        rl apply; expect_rc 0
        rl plan --exit-code; expect_rc 0 "rebuilt: in sync, with the restart pending"
        expect_out '^! domain c1 +restart needed: cloud-init seed [0-9a-f]{16} \(the guest reads it when it starts\)$'
        [ "$(v domstate c1)" = running ] || fail "c1 was not left running"
        local still; still=$(console_id 30)
        [ "$still" = "$got1" ] || fail "the running guest shows '$still', not its boot's '$got1'"
        v vol-download --pool images c1-cidata.iso "$TMP/seed2.iso" >/dev/null
        cmp -s "$TMP/seed.iso" "$TMP/seed2.iso" && fail "the seed volume was not rewritten"

        # restart: on-change: a graceful shutdown (no agent answers: ACPI), then a start.
        manifest "$(cidata_guest "runcmd: [echo two]" "    restart: on-change")"
        rl -v plan; expect_rc 0
        expect_out 'restart shut down gracefully and started, for cloud-init seed'
        local id_before; id_before=$(v domid c1)
        rl apply; expect_rc 0 "the restart"
        [ "$(v domstate c1)" = running ] || fail "c1 not running after the restart: $(v domstate c1)"
        [ "$(v domid c1)" != "$id_before" ] || fail "c1 was not restarted (domain id $id_before)"
        local got2; got2=$(console_id 180) || fail "no instance-id on the console after the restart"
        [ -n "$got2" ] && [ "$got2" != "$got1" ] || fail "after the restart the console shows '$got2' (before: '$got1')"
        case $got2 in iid-[0-9a-f]*) ;; *) fail "instance-id '$got2' is not a digest" ;; esac
        rl plan --exit-code; expect_rc 0 "in sync after the restart"
        expect_no_out 'pending|restart needed'
        lv_down
}

# state: shutoff after running: down through ACPI (the agent path answers
# nothing); state: running again starts it.
test_shutoff_then_running() {
        cidata_lv_up || return
        manifest "$(cidata_guest "runcmd: [echo one]")"
        rl apply; expect_rc 0
        console_id 180 >/dev/null || fail "c1 did not come up (no instance-id on its console)"
        manifest "$(cidata_guest "runcmd: [echo one]" "    state: shutoff")"
        rl apply; expect_rc 0
        wait_for "v domstate c1" "shut off" || fail "c1 did not shut down on the ACPI button: $(v domstate c1)"
        manifest "$(cidata_guest "runcmd: [echo one]")"
        rl plan; expect_rc 0
        expect_out 'state shutoff -> running'
        rl apply; expect_rc 0
        [ "$(v domstate c1)" = running ] || fail "c1 not started: $(v domstate c1)"
        rl plan --exit-code; expect_rc 0
        lv_down
}

# libisofs is loaded only when a seed is built: the binary does not link it,
# a libvirt run without cloud-init does not map it, one that builds a seed does
# (the dynamic loader's own log is the witness), on test:///default.
test_libisofs_lazy() {
        OUT=$(ldd "$RECONCILE" 2>&1)
        expect_out 'libmnl'
        expect_no_out 'libisofs'
        local seed="    cloud-init: { pool: default-pool, user-data: \"#cloud-config\" }"
        for with in no yes; do
                manifest "version: 1
pools:
  default-pool: { type: dir, path: /default-pool }
domains:
  l1:
    memory: 64M
    disks: []
$([ $with = yes ] && echo "$seed")"
                rm -rf "$S"
                OUT=$(LD_DEBUG=files "$RECONCILE" -d "$M" --state-dir "$S" --libvirt-uri test:///default \
                        --only pool,volume,domain apply 2>&1 | grep -E 'file=[^ ]* \[0\];  dynamically loaded|error')
                expect_out 'file=libvirt.so.0 '
                if [ $with = yes ]; then expect_out 'file=libisofs.so.6 '; else expect_no_out 'libisofs'; fi
        done
}
t "cloud-init: libisofs is not linked, and loaded only by a run that builds a seed" test_libisofs_lazy \
        "$(ldconfig -p | grep -q 'libisofs.so.6 ' || echo 'libisofs6 not installed (libisofs-dev, from make deps)')"

why=$(guest_skip_reason)
if [ -z "$why" ] && ! cc -std=c11 -o "$CONSOLE_READ" "$ROOT/tests/libvirt/console-read.c" \
        $(pkg-config --cflags --libs libvirt 2>/dev/null) 2>"$ROOT/$BUILD/console-read.log"; then
        why="cannot build tests/libvirt/console-read.c (libvirt-dev, from make deps)"
fi
if [ -z "$why" ] && ! build_cidata_initrd >"$ROOT/$BUILD/guest-cidata.log" 2>&1; then
        why="cannot build the cidata initramfs: $(tail -1 "$ROOT/$BUILD/guest-cidata.log")"
fi
if [ -z "$why" ] && ! command -v blkid >/dev/null; then
        why="blkid not installed (util-linux, from make deps)"
fi
t "cloud-init: the guest reads its cidata seed and prints its instance-id; a changed seed is rebuilt, pending, and read after restart: on-change (ACPI)" \
        test_seed_boot_rebuild_restart "$why"
t "lifecycle: state shutoff through ACPI, then running starts the guest" test_shutoff_then_running "$why"
