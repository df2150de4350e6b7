#!/bin/bash
# Disks from what the host has and volumes from cloud images, against a
# private libvirtd (tests/libvirt/libvirtd.sh): a qcow2 overlay on a base
# volume, a clone (grown to a declared capacity), an image uploaded once with
# its sha256 checked and its format the image's (a wrong one of either
# uploads nothing), the overlay grown with its base untouched, a base with an
# overlay on it refused at plan time, a changed origin refused; path: disks on
# a raw file, a qcow2 file (probed as qcow2) and a loop block device; a running guest whose vcpus and NIC model
# change keeps its path disk as it was. qemu-img, virsh and losetup are the
# witnesses.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
# TCG only: a /dev/kvm that cannot run a guest would hang every boot here.
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg

# img_info FILE: qemu-img's view of an image, as JSON, read without locking it.
img_info() { qemu-img info -U --output=json "$1"; }

cloud_pool() { # the pool with the volumes of $1 (YAML lines at volume depth)
        cat <<EOF2
version: 1
pools:
  images:
    type: dir
    path: $IMAGES
    volumes:
$1
EOF2
}

test_overlay_clone_upload() {
        lv_up || return
        # The "cloud image": a qcow2 file with data in it, outside the pool.
        qemu-img create -q -f qcow2 "$TMP/cloud.qcow2" 8M || { fail "qemu-img create"; lv_down; return; }
        qemu-io -f qcow2 -c 'write -P 0x5a 0 64k' "$TMP/cloud.qcow2" >/dev/null 2>&1 ||
                { fail "qemu-io could not write the image"; lv_down; return; }
        local sum; sum=$(sha256sum "$TMP/cloud.qcow2" | cut -d' ' -f1)
        local bad=0000000000000000000000000000000000000000000000000000000000000000
        # A wrong digest uploads nothing.
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $bad }")"
        rl apply; expect_rc 1 "wrong sha256"
        expect_out "volume images/base: source $TMP/cloud.qcow2 has sha256 $sum, not the declared $bad: not uploaded"
        [ -e "$IMAGES/base" ] && fail "a volume was made for an image whose sha256 is wrong"
        # A declared format must be the image's: a qcow2 file is never uploaded as raw.
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, format: raw }")"
        rl apply; expect_rc 1 "format raw for a qcow2 image"
        expect_out "volume images/base: source $TMP/cloud.qcow2 is a qcow2 image, declared format raw: not uploaded"
        [ -e "$IMAGES/base" ] && fail "a volume was made for an image of another format"
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $sum }
      web1-root: { backing: images/base, capacity: 16M }
      copy: { clone-of: images/base }
      big: { clone-of: images/base, capacity: 12M }")"
        rl plan; expect_rc 0
        expect_out '^\+ volume images/web1-root'
        rl apply; expect_rc 0
        # The upload: the same bytes, a qcow2 volume to libvirt.
        cmp -s "$TMP/cloud.qcow2" "$IMAGES/base" || fail "the uploaded volume differs from its source"
        v vol-dumpxml --pool images base | grep -q "<format type='qcow2'/>" || fail "the uploaded volume is not qcow2 to libvirt"
        # The overlay: qcow2 on the base, with its own (larger) virtual size.
        local info; info=$(img_info "$IMAGES/web1-root")
        printf '%s\n' "$info" | jq -e --arg b "$IMAGES/base" \
                '.format == "qcow2" and .["backing-filename"] == $b and .["virtual-size"] == 16777216' >/dev/null ||
                fail "the overlay is not a 16M qcow2 on $IMAGES/base: $info"
        # The clone: a copy with the base's data and no backing file.
        info=$(img_info "$IMAGES/copy")
        printf '%s\n' "$info" | jq -e '.format == "qcow2" and (has("backing-filename") | not)' >/dev/null ||
                fail "the clone is not a standalone qcow2: $info"
        qemu-img compare -q -U "$IMAGES/base" "$IMAGES/copy" || fail "the clone's content differs from the base's"
        [ "$(img_info "$IMAGES/big" | jq '.["virtual-size"]')" = 12582912 ] || fail "the clone was not grown to 12M"
        rl plan --exit-code; expect_rc 0 "second plan empty"
        expect_no_out '^[-+~!=]'
        rl apply; expect_rc 0
        # The base is never written: the overlay and the clone leave its bytes.
        [ "$(sha256sum "$IMAGES/base" | cut -d' ' -f1)" = "$sum" ] || fail "the base volume was written"
        # The overlay grows as any volume does; its base stays as it was.
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $sum }
      web1-root: { backing: images/base, capacity: 32M }
      copy: { clone-of: images/base }
      big: { clone-of: images/base, capacity: 12M }")"
        rl apply; expect_rc 0
        expect_out '^~ volume images/web1-root +capacity 16M -> 32M$'
        [ "$(img_info "$IMAGES/web1-root" | jq '.["virtual-size"]')" = 33554432 ] || fail "the overlay did not grow to 32M"
        [ "$(sha256sum "$IMAGES/base" | cut -d' ' -f1)" = "$sum" ] || fail "growing the overlay wrote the base"
        rl plan --exit-code; expect_rc 0
        # A base with an overlay on it is not deleted: the plan names the overlay
        # (the overlay and the clone left the manifests; volumes stay when they do).
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $sum, state: absent }")"
        rl apply; expect_rc 1 "a held base"
        expect_out 'error: volume images/base: it is the backing volume of the qcow2 overlay\(s\) images/web1-root; not deleting it'
        [ -e "$IMAGES/base" ] || fail "the held base volume was deleted"
        # Declared present, an overlay on a base declared absent is a manifest error.
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, state: absent }
      web1-root: { backing: images/base }")"
        rl plan; expect_rc 1
        expect_out 'error: volume images/web1-root is made from images/base, which is declared absent'
        # What a volume was made from is its data: another one is refused.
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $sum }
      web1-root: { backing: images/copy, capacity: 32M }
      copy: { clone-of: images/base }")"
        rl plan; expect_rc 1
        expect_out 'volume images/web1-root: backing images/base -> images/copy would replace its data: refused'
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $sum }
      web1-root: { backing: images/base, capacity: 32M }
      copy: { clone-of: images/web1-root }")"
        rl plan; expect_rc 1
        expect_out 'volume images/copy: clone-of images/base -> images/web1-root would replace its data: refused'
        local other=${sum%?}0
        [ "$other" = "$sum" ] && other=${sum%?}1
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, sha256: $other }")"
        rl plan; expect_rc 1
        expect_out "volume images/base: sha256 $sum -> $other would replace its data: refused"
        # The overlay gone, the base goes too.
        manifest "$(cloud_pool "      base: { source: $TMP/cloud.qcow2, state: absent }
      web1-root: { backing: images/base, state: absent }")"
        rl apply; expect_rc 1 "the overlay goes, the base is refused in the same plan"
        rl apply; expect_rc 0 "the base goes once no overlay holds it"
        [ -e "$IMAGES/base" ] && fail "the base is still there with no overlay on it"
        [ -e "$IMAGES/web1-root" ] && fail "the overlay is still there"
        lv_down
}

# disk_xml DOMAIN: the definition's disks, one line each.
disk_xml() { v dumpxml --inactive "$1" | tr -d '\n' | sed 's/>[[:space:]]*</></g' | grep -o '<disk .*</disk>' | sed 's|</disk>|&\n|g'; }

test_path_disks() {
        truncate -s 4M "$TMP/raw.img"
        qemu-img create -q -f qcow2 "$TMP/q.qcow2" 8M || { fail "qemu-img create"; return; }
        truncate -s 8M "$TMP/blk.img"
        # Before libvirtd starts: its private /dev is a copy of the host's at that time.
        local loop; loop=$(losetup -f --show "$TMP/blk.img") || { fail "losetup"; return; }
        lv_up || { losetup -d "$loop"; return; }
        local dom="version: 1
networks:
  lan1: { mode: isolated, bridge: virbr41 }
domains:
  d1:
    memory: 64M
    state: shutoff
    disks:
      - { path: $TMP/raw.img }
      - { path: $TMP/q.qcow2 }
      - { path: $loop }"
        manifest "$dom
    interfaces:
      - { network: lan1, model: virtio }"
        rl apply; expect_rc 0
        local disks; disks=$(disk_xml d1)
        printf '%s\n' "$disks" | grep -q "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$TMP/raw.img'/>" ||
                fail "no raw file disk: $disks"
        printf '%s\n' "$disks" | grep -q "<driver name='qemu' type='qcow2'/><source file='$TMP/q.qcow2'/>" ||
                fail "the qcow2 file is not probed as qcow2: $disks"
        printf '%s\n' "$disks" | grep -q "<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='$loop'/>" ||
                fail "no block disk on $loop: $disks"
        rl plan --exit-code; expect_rc 0 "second plan empty"
        expect_no_out '^[-+~!=]'
        rl show; expect_rc 0
        expect_out "^    - \{path: \"$TMP/q.qcow2\", format: qcow2, bus: virtio\}$"
        expect_out "^    - \{path: \"$loop\", format: raw, bus: virtio\}$"
        # A change of other fields leaves every disk as it was (target, address).
        manifest "$dom
    vcpus: 2
    interfaces:
      - { network: lan1, model: e1000 }"
        rl apply; expect_rc 0
        expect_no_out 'disk'
        v dumpxml --inactive d1 | grep -q "<model type='e1000'/>" || fail "the NIC model did not change"
        [ "$(disk_xml d1)" = "$disks" ] || fail "the disks changed: $(disk_xml d1)"
        # A declared format that is not the file's goes into the definition (the diff shows it).
        manifest "version: 1
networks:
  lan1: { mode: isolated, bridge: virbr41 }
domains:
  d1:
    memory: 64M
    vcpus: 2
    state: shutoff
    disks:
      - { path: $TMP/raw.img }
      - { path: $TMP/q.qcow2, format: raw }
      - { path: $loop }
    interfaces:
      - { network: lan1, model: e1000 }"
        rl plan; expect_rc 0
        expect_out "disk $TMP/q.qcow2 +bus=virtio cache=default discard=ignore format=qcow2 -> bus=virtio cache=default discard=ignore format=raw"
        lv_down
        losetup -d "$loop"
}

# A running guest (booted from the harness's kernel) with a path disk and a
# disk on an overlay of an uploaded image keeps both through a live vcpus
# change and a NIC model change, and takes a new path disk live.
test_running_guest_keeps_path_disk() {
        qemu-img create -q -f qcow2 "$TMP/extra.qcow2" 8M || { fail "qemu-img create"; return; }
        qemu-img create -q -f qcow2 "$TMP/cloud.qcow2" 8M || { fail "qemu-img create"; return; }
        lv_up || return
        # Volumes added to the guest's pool from a file of their own.
        manifest "version: 1
pools:
  images:
    volumes:
      g1-base: { source: $TMP/cloud.qcow2 }
      g1-over: { backing: images/g1-base }" volumes
        local disks="      - { path: $TMP/extra.qcow2 }
      - { volume: images/g1-over }"
        manifest "$(DISKS=$disks guest "    max-vcpus: 2")"
        rl apply; expect_rc 0
        wait_booted || { lv_down; return; }
        local before; before=$(v domblklist g1 --details)
        printf '%s\n' "$before" | grep -q "file *disk *vdb *$TMP/extra.qcow2" || fail "no vdb on extra.qcow2: $before"
        printf '%s\n' "$before" | grep -q "volume *disk *vdc *g1-over" || fail "no vdc on the overlay: $before"
        v dumpxml g1 | tr -d '\n' | sed 's/>[[:space:]]*</></g' | grep -q "<driver name='qemu' type='qcow2'/><source pool='images' volume='g1-over'" ||
                fail "the overlay disk is not qcow2 in the running guest"
        local live; live=$(v dumpxml g1 | tr -d '\n' | sed 's/>[[:space:]]*</></g' | grep -o "<disk .*</disk>")
        manifest "$(DISKS=$disks NIC1="network: lan1, model: e1000" guest "    max-vcpus: 2
    vcpus: 2")"
        rl apply; expect_rc 0
        expect_no_out 'disk'
        [ "$(v domstate g1)" = running ] || fail "g1 is not running after the change"
        [ "$(v vcpucount g1 --live --active)" = 2 ] || fail "the running guest has not 2 vcpus"
        [ "$(v domblklist g1 --details)" = "$before" ] || fail "the disks changed: $(v domblklist g1 --details)"
        local after; after=$(v dumpxml g1 | tr -d '\n' | sed 's/>[[:space:]]*</></g' | grep -o "<disk .*</disk>")
        [ "$after" = "$live" ] || fail "the running guest's disks changed"
        # A new path disk goes into the running guest (live and defined); the others stay.
        truncate -s 4M "$TMP/more.img"
        manifest "$(DISKS="$disks
      - { path: $TMP/more.img }" NIC1="network: lan1, model: e1000" guest "    max-vcpus: 2
    vcpus: 2")"
        rl apply; expect_rc 0
        expect_out "^~ domain g1 +\\+disk $TMP/more.img$"
        v domblklist g1 --details | grep -q "file *disk *vdd *$TMP/more.img" || fail "more.img is not vdd in the running guest"
        v dumpxml --inactive g1 | grep -q "<source file='$TMP/more.img'" || fail "more.img is not in the definition"
        [ "$(v domblklist g1 --details | grep -v more.img)" = "$before" ] || fail "attaching a disk changed the others"
        rl plan --exit-code; expect_rc 0
        lv_down
}

why=$(guest_skip_reason)
tool_why=
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null || tool_why="qemu-img/qemu-io not installed (make deps: qemu-utils)"
command -v jq >/dev/null || tool_why="jq not installed (make deps installs it)"
lv_why=$why
[ -z "$lv_why" ] && lv_why=$tool_why
t "guest disks: a qcow2 overlay, a clone, an upload with its sha256; a held base is not deleted" \
        test_overlay_clone_upload "$lv_why"
t "guest disks: path disks on a raw file, a qcow2 file probed as qcow2 and a loop device; other changes leave them" \
        test_path_disks "$lv_why"
t "guest disks: a running guest keeps its path and overlay disks through a vcpus and a NIC model change, takes a new path disk live" \
        test_running_guest_keeps_path_disk "$lv_why"
