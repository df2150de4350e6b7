#!/bin/bash
# Define N volumes (16M qcow2) and N domains on a private libvirtd: reconcile
# against one virsh process reading the same commands, and a virsh shell loop.
set -eu
cd "$(dirname "$0")/.."
R=$PWD/${BUILD:-build}/reconcile
N=${1:-100}
RUNS=${RUNS:-5}
TMP=$(mktemp -d /tmp/rct-bench-lv.XXXXXX)
chmod 700 "$TMP"
export LIBVIRT_CACHE=$PWD/${BUILD:-build}/libvirt-cache
trap 'tests/libvirt/libvirtd.sh stop "$TMP/lvd" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
URI=$(tests/libvirt/libvirtd.sh start "$TMP/lvd")
V="virsh -q -c $URI"
IMAGES=$TMP/lvd/images
$V pool-define-as images dir --target "$IMAGES" >/dev/null
$V pool-start images >/dev/null

mkdir -m 700 "$TMP/m"
{
        echo "version: 1"
        echo "pools:"
        echo "  images:"
        echo "    type: dir"
        echo "    path: $IMAGES"
        echo "    autostart: false"
        echo "    volumes:"
        for i in $(seq 1 "$N"); do echo "      vm$i: { capacity: 16M, format: qcow2 }"; done
        echo "domains:"
        for i in $(seq 1 "$N"); do
                echo "  vm$i: { memory: 64M, state: present, disks: [ { volume: images/vm$i } ], interfaces: [] }"
        done
} >"$TMP/m/guests.yaml"
for i in $(seq 1 "$N"); do
        printf "<domain type='qemu'><name>vm%d</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os><devices><disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='images' volume='vm%d'/><target dev='vda' bus='virtio'/></disk></devices></domain>\n" "$i" "$i" >"$TMP/vm$i.xml"
        echo "vol-create-as images vm$i 16M --format qcow2"
        echo "define $TMP/vm$i.xml"
done >"$TMP/commands"

clean() {
        for i in $(seq 1 "$N"); do echo "undefine vm$i"; echo "vol-delete --pool images vm$i"; done | $V >/dev/null 2>&1 || true
        rm -rf "$TMP/state"
}
. bench/lib.sh
rec=() one=() loop=()
for _ in $(seq 1 "$RUNS"); do
        clean
        t0=$(now); "$R" -q -d "$TMP/m" --state-dir "$TMP/state" --libvirt-uri "$URI" apply; t1=$(now)
        rec+=("$(echo "$t1 - $t0" | bc -l)")
        clean
        t0=$(now); $V <"$TMP/commands" >/dev/null; t1=$(now)
        one+=("$(echo "$t1 - $t0" | bc -l)")
        clean
        t0=$(now)
        for i in $(seq 1 "$N"); do
                $V vol-create-as images "vm$i" 16M --format qcow2 >/dev/null
                $V define "$TMP/vm$i.xml" >/dev/null
        done
        t1=$(now)
        loop+=("$(echo "$t1 - $t0" | bc -l)")
done
r=$(printf '%s\n' "${rec[@]}" | median)
o=$(printf '%s\n' "${one[@]}" | median)
l=$(printf '%s\n' "${loop[@]}" | median)
printf 'libvirt-%d-volumes-domains reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: one virsh reading the commands)\n' "$N" "$r" "$o" "$(echo "$r / $o" | bc -l)"
printf 'libvirt-%d-volumes-domains reconcile=%.3f s peer=%.3f s ratio=%.2f (peer: virsh shell loop)\n' "$N" "$r" "$l" "$(echo "$r / $l" | bc -l)"

# Ansible community.libvirt `virt` defining the same N domains (defines alone,
# without disks: the module has no volumes), against reconcile doing the same.
if command -v ansible-playbook >/dev/null && /usr/bin/python3 -c 'import libvirt' 2>/dev/null &&
        ansible-galaxy collection list 2>/dev/null | grep -q community.libvirt; then
        mkdir -m 700 "$TMP/d"
        {
                echo "version: 1"
                echo "domains:"
                for i in $(seq 1 "$N"); do echo "  dd$i: { memory: 64M, state: present, interfaces: [] }"; done
        } >"$TMP/d/domains.yaml"
        for i in $(seq 1 "$N"); do
                printf "<domain type='qemu'><name>dd%d</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>\n" "$i" >"$TMP/dd$i.xml"
        done
        cat >"$TMP/play.yaml" <<PLAY
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - community.libvirt.virt:
        command: define
        xml: "{{ lookup('file', '$TMP/dd' ~ item ~ '.xml') }}"
        uri: "$URI"
      loop: "{{ range(1, $N + 1) | list }}"
PLAY
        dclean() { for i in $(seq 1 "$N"); do echo "undefine dd$i"; done | $V >/dev/null 2>&1 || true; rm -rf "$TMP/dstate"; }
        arec=() ans=()
        for _ in $(seq 1 "${RUNS_ANSIBLE:-3}"); do
                dclean
                t0=$(now); "$R" -q -d "$TMP/d" --state-dir "$TMP/dstate" --libvirt-uri "$URI" apply; t1=$(now)
                arec+=("$(echo "$t1 - $t0" | bc -l)")
                dclean
                t0=$(now); ANSIBLE_LOCALHOST_WARNING=False ansible-playbook -i localhost, -e ansible_python_interpreter=/usr/bin/python3 "$TMP/play.yaml" >"$TMP/ansible.log" 2>&1 ||
                        { echo "ansible: failed:"; tail -5 "$TMP/ansible.log"; }
                t1=$(now)
                ans+=("$(echo "$t1 - $t0" | bc -l)")
        done
        dclean
        r=$(printf '%s\n' "${arec[@]}" | median)
        a=$(printf '%s\n' "${ans[@]}" | median)
        printf 'libvirt-%d-domain-defines reconcile=%.3f s peer=%.3f s ratio=%.3f (%.0fx faster; peer: Ansible community.libvirt virt)\n' \
                "$N" "$r" "$a" "$(echo "$r / $a" | bc -l)" "$(echo "$a / $r" | bc -l)"
else
        echo "libvirt-$N-domain-defines: Ansible skipped (ansible, python3-libvirt or community.libvirt missing: make bench-deps)"
fi
