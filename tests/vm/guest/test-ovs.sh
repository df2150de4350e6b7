#!/bin/bash
# Open vSwitch with the kernel datapath (datapath: system): the VM's stock
# kernel has the openvswitch module, loaded at boot. The tests are those of
# tests/kernel/test-ovs.sh (which runs them with the userspace datapath on the
# host), each with a private ovsdb-server and an ovs-vswitchd in the test's
# namespace; ovs-vsctl is the witness.
OVS_DATAPATH=system OVS_TESTS_ONLY_DEFINE=1 . "$(dirname "$0")/../../kernel/test-ovs.sh"

# The kernel datapath is there: a bridge made over it is a device of type openvswitch.
test_kernel_datapath() {
        ovs_start || return
        manifest "version: 1
ovs-bridges:
  br-ovs: { datapath: system, ports: { vm-mgmt: { type: internal, tag: 10 } } }"
        orc apply
        expect_rc 0 "a bridge on the kernel datapath"
        [ "$(col bridge br-ovs datapath_type)" = system ] || fail "datapath $(col bridge br-ovs datapath_type)"
        ip -n "$NS" -d link show br-ovs | grep -q openvswitch || fail "br-ovs is no kernel openvswitch device"
        ip -n "$NS" -d link show ovs-system >/dev/null 2>&1 || fail "no ovs-system datapath device"
        ip -n "$NS" -d link show vm-mgmt | grep -q openvswitch || fail "vm-mgmt is no kernel openvswitch device"
        orc plan --exit-code
        expect_rc 0 "in sync"
        ovs_stop
}

vm_skip=
[ -d /sys/module/openvswitch ] || vm_skip="the openvswitch module is not loaded"
[ -z "$vm_skip" ] && [ -n "$skip" ] && vm_skip=$skip
t "ovs (kernel datapath): bridge, internal port and the kernel's openvswitch devices" test_kernel_datapath "$vm_skip"
t "ovs (kernel datapath): bridge, ports, bond, internal and trunk ports created, marked managed; second plan empty; show" test_create "$vm_skip"
t "ovs (kernel datapath): tag, trunks, fail-mode, bond members and lacp changed in place" test_change_in_place "$vm_skip"
t "ovs (kernel datapath): internal port and its address and MTU (link kinds) in one plan" test_internal_port_address "$vm_skip"
t "ovs (kernel datapath): prune what the ledger owns; unmanaged bridge and vnet port untouched" test_prune_and_unmanaged "$vm_skip"
t "ovs (kernel datapath): a port deleted behind the daemon's back restored, also after ovsdb-server restarts" test_deleted_port_restored "$vm_skip"
t "ovs (kernel datapath): other-config and external-ids, others' keys kept" test_maps "$vm_skip"
t "ovs (kernel datapath): examples/ovs applies and is then in sync" test_example "$vm_skip"
