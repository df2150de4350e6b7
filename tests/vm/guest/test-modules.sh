#!/bin/bash
# Kernel modules through libkmod on the VM's stock kernel: loaded, listed for
# boot in reconcile's files, options pending a reload, never unloaded.
# Modules are the host's: these runs take no --netns (the VM is thrown away).
. "$(dirname "$0")/../../kernel/lib.sh"

# rh: reconcile for the host; loaded: the kernel's own list says so.
rh() {
        OUT=$("$RECONCILE" -d "$M" --state-dir "$S" "$@" 2>&1)
        RC=$?
}
loaded() { grep -q "^$1 " /proc/modules; }
LOAD_CONF=/etc/modules-load.d/reconcile.conf
OPTS_CONF=/etc/modprobe.d/reconcile.conf

test_modules_load_and_persist() {
        # The VM's init loaded them: unload them (nothing uses them yet) for reconcile to load.
        rmmod 8021q dummy 2>/dev/null
        loaded 8021q && fail "8021q still loaded before the test"
        manifest 'version: 1
modules:
  8021q: {}
  dummy: { options: "numdummies=0" }
'
        rh plan; expect_rc 0
        expect_out '^\+ module 8021q'
        expect_out '^\+ module dummy'
        rh apply; expect_rc 0
        loaded 8021q || fail "8021q is not loaded"
        loaded dummy || fail "dummy is not loaded"
        # numdummies=1 (the default) would have made dummy0.
        ip link show dummy0 >/dev/null 2>&1 && fail "dummy0 exists: dummy did not load with numdummies=0"
        grep -qx 8021q "$LOAD_CONF" || fail "8021q not listed in $LOAD_CONF"
        grep -qx dummy "$LOAD_CONF" || fail "dummy not listed in $LOAD_CONF"
        grep -qx 'options dummy numdummies=0' "$OPTS_CONF" || fail "no options line for dummy in $OPTS_CONF"
        rh plan --exit-code; expect_rc 0 "second plan"
        rh show; expect_out '^modules:'
        expect_out '^  "?8021q"?: \{ ?\}'
        expect_out '^  dummy: \{ ?options: "numdummies=0" ?\}'
        # A VLAN now that its module is there (in the VM's own namespace: modules take no --netns).
        manifest 'version: 1
modules:
  8021q: {}
  dummy: { options: "numdummies=0" }
dummies:
  d0: {}
vlans:
  d0.7: { link: d0, id: 7 }
'
        rh apply; expect_rc 0
        ip link show d0.7 >/dev/null 2>&1 || fail "no VLAN d0.7"

        # A changed option: the file changes, the loaded module cannot.
        manifest 'version: 1
modules:
  8021q: {}
  dummy: { options: "numdummies=2" }
dummies:
  d0: {}
vlans:
  d0.7: { link: d0, id: 7 }
'
        rh plan; expect_rc 0
        expect_out '^~ module dummy +options numdummies=0 -> numdummies=2'
        expect_out 'dummy.*loaded with options "numdummies=0", declared "numdummies=2".*reload or reboot needed'
        rh apply
        grep -qx 'options dummy numdummies=2' "$OPTS_CONF" || fail "options line not changed"
        loaded dummy || fail "dummy was unloaded"
        rh plan
        expect_no_out '^~ module'
        expect_out 'reload or reboot needed'

        # Left out of the manifests: out of the files, never unloaded (the VLAN stays).
        manifest 'version: 1
modules:
  dummy: { options: "numdummies=2" }
dummies:
  d0: {}
vlans:
  d0.7: { link: d0, id: 7 }
'
        rh plan; expect_out "^- module 8021q .*leaves reconcile's boot files; stays loaded"
        rh apply; expect_rc 0
        grep -qx 8021q "$LOAD_CONF" && fail "8021q still listed"
        loaded 8021q || fail "8021q was unloaded"
        ip link show d0.7 >/dev/null 2>&1 || fail "the VLAN went"
        true
}

# A parameter sysfs shows (kvm's ignore_msrs, Y or N): what the module runs with decides.
test_module_parameter_pending() {
        rmmod kvm 2>/dev/null
        loaded kvm && fail "kvm still loaded before the test"
        manifest 'version: 1
modules:
  kvm: { options: "ignore_msrs=1" }
'
        rh apply; expect_rc 0
        [ "$(cat /sys/module/kvm/parameters/ignore_msrs)" = Y ] || fail "kvm did not load with ignore_msrs=1"
        rh plan --exit-code; expect_rc 0 "Y is what 1 reads back as"
        manifest 'version: 1
modules:
  kvm: { options: "ignore_msrs=0" }
'
        rh plan; expect_out '^~ module kvm +options ignore_msrs=1 -> ignore_msrs=0'
        expect_out '^! module kvm +loaded with ignore_msrs=Y, declared 0 until reload or reboot needed'
        rh apply
        loaded kvm || fail "kvm was unloaded"
        # A reload by hand takes the file's options: nothing pending after it.
        rmmod kvm && modprobe kvm 2>/dev/null || insmod /modules/kvm.ko ignore_msrs=0
        rh plan --exit-code; expect_rc 0 "after the reload"
        expect_no_out 'reload or reboot'
        true
}

test_modules_refused() {
        manifest 'version: 1
modules:
  no_such_module_here: {}
'
        rh plan; expect_rc 1
        expect_out 'host.yaml:3:3: error: module no_such_module_here: not loaded, and kernel .* has no such module'
        manifest 'version: 1
modules:
  8021q: {}
'
        rc plan; expect_rc 1
        expect_out "host.yaml:3:3: error: module 8021q: kernel modules are the host's, not a namespace's"
        true
}

# The example as it is, less what TCG's CPU lacks (VMX for kvm_intel, 1G pages).
test_tuned_example() {
        echo 0 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
        grep -v -e kvm_intel -e '^  1G:' "$(dirname "$0")/../../../examples/tuned/host.yaml" >"$M/host.yaml"
        grep -q '^  8021q' "$M/host.yaml" || fail "the example was not copied"
        rh apply; expect_rc 0
        loaded 8021q && loaded ip_vs && loaded vfio_pci || fail "a module of the example is not loaded"
        grep -qx 'options vfio_pci ids=10de:1b80' "$OPTS_CONF" || fail "no options line for vfio_pci"
        [ "$(cat /proc/sys/vm/swappiness)" = 10 ] || fail "vm.swappiness"
        [ "$(cat /proc/sys/fs/aio-max-nr)" = 1048576 ] || fail "fs.aio-max-nr"
        # This VM has 768 MiB: 1024 pages of 2M is more than it can reserve.
        rh plan --exit-code; expect_rc 0 "the example converged"
        expect_out '^! hugepage 2M +the kernel reserved [0-9]+ of 1024 pages of 2M'
        true
}

t "modules: loaded through libkmod with options, listed for boot, option change pending, never unloaded" test_modules_load_and_persist
t "modules: a changed option that sysfs shows is pending until a reload" test_module_parameter_pending
t "modules: one this kernel lacks, and any under --netns, refused at plan time" test_modules_refused
t "examples/tuned/host.yaml applies (less kvm_intel and 1G pages), then plans nothing but the shortfall" test_tuned_example
