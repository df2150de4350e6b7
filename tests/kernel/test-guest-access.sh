#!/bin/bash
# A way into a guest, against a private libvirtd (tests/libvirt/libvirtd.sh)
# with a running guest under TCG (tests/libvirt/guest.sh): the serial console
# on a pty that `virsh console` reaches, the guest agent channel, VNC
# listening on 127.0.0.1 only with its password read from a file at apply
# time and in no output of reconcile; UEFI defined with its NVRAM kept across
# a redefinition (when OVMF is installed); tpm: true refused at plan time
# naming swtpm (when swtpm is not installed). virsh and ss are the witnesses.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/libvirt-lib.sh"
# TCG only: a /dev/kvm that cannot run a guest would hang every boot here.
export LIBVIRT_NO_KVM=1 LIBVIRT_CACHE=$ROOT/$BUILD/libvirt-cache-tcg

test_console_agent_vnc() {
        lv_up || return
        printf 'Vnc-s3cr\n' >"$TMP/vncpw"
        manifest "$(guest "    graphics: { type: vnc, password-file: $TMP/vncpw }
    video: vga
    boot: [hd]")"
        rl plan; expect_rc 0
        expect_no_out 'Vnc-s3cr'
        rl apply; expect_rc 0
        expect_no_out 'Vnc-s3cr'
        [ "$(v domstate g1)" = running ] || { fail "g1 not running: $(v domstate g1)"; lv_down; return; }
        local xml; xml=$(v dumpxml g1)
        # The console: a pty in the running definition, which virsh console opens.
        printf '%s\n' "$xml" | grep -q "<serial type='pty'>" || fail "no pty serial in the live XML"
        local pty; pty=$(v ttyconsole g1)
        case $pty in /dev/pts/[0-9]*) ;; *) fail "virsh ttyconsole: '$pty'" ;; esac
        [ -c "$pty" ] || fail "the console pty $pty is not a character device"
        printf '%s\n' "$xml" | grep -q "name='org.qemu.guest_agent.0'" || fail "no guest agent channel in the live XML"
        # VNC on 127.0.0.1 only, on the port libvirt picked; the password from the file.
        local port; port=$(printf '%s\n' "$xml" | sed -n "s/.*<graphics type='vnc' port='\([0-9]*\)'.*/\1/p")
        [ -n "$port" ] && [ "$port" -ge 5900 ] || fail "no VNC port in the live XML"
        local listening; listening=$(nsenter -t "$LVPID" -n ss -Hltn "sport = :$port" | awk '{print $4}')
        [ "$listening" = "127.0.0.1:$port" ] || fail "VNC listens on '$listening', not only on 127.0.0.1:$port"
        v dumpxml --security-info g1 | grep -q "passwd='Vnc-s3cr'" || fail "the password from the file is not set"
        v dumpxml g1 | grep -q "passwd=" && fail "the password shows without --security-info"
        rl plan --exit-code; expect_rc 0 "in sync"
        expect_no_out '^[~!]'
        rl show; expect_rc 0
        expect_out '^    console: true$'
        expect_out '^    guest-agent: true$'
        expect_out '# graphics: vnc with a password'
        expect_no_out 'Vnc-s3cr'
        grep -rq 'Vnc-s3cr' "$S" && fail "the password is in the state directory"
        # Another port: a redefinition, and the running guest needs a restart for it.
        manifest "$(guest "    graphics: { type: vnc, port: 5977, password-file: $TMP/vncpw }
    video: vga
    boot: [hd]")"
        rl apply; expect_rc 0
        expect_out 'graphics vnc 127.0.0.1:auto password -> vnc 127.0.0.1:5977 password'
        v dumpxml --inactive --security-info g1 | grep -q "port='5977'.*passwd='Vnc-s3cr'" ||
                fail "the definition lacks port 5977 with the password: $(v dumpxml --inactive g1 | grep '<graphics')"
        rl plan --exit-code; expect_rc 0
        expect_out '^! domain g1 +restart needed: graphics vnc 127.0.0.1:auto password -> vnc 127.0.0.1:5977 password$'
        lv_down
}

ovmf_skip_reason() {
        ls /usr/share/OVMF/OVMF_CODE*.fd >/dev/null 2>&1 || echo "ovmf not installed (no /usr/share/OVMF/OVMF_CODE*.fd)"
}

# UEFI through libvirt's firmware auto-selection: the NVRAM libvirt makes from
# its template stays, referenced and on disk, after a redefinition.
test_uefi_nvram_kept() {
        lv_up || return
        manifest "version: 1
domains:
  u1:
    memory: 128M
    firmware: uefi
    video: vga"
        rl apply; expect_rc 0
        v dumpxml --inactive u1 | grep -q "<os firmware='efi'>" || fail "no firmware='efi' in the definition"
        local nvram; nvram=$(v dumpxml u1 | sed -n 's|.*<nvram[^>]*>\(.*\)</nvram>.*|\1|p')
        [ -n "$nvram" ] || fail "no nvram in the running definition"
        nsenter -t "$LVPID" -m test -f "$nvram" || fail "the nvram file $nvram does not exist"
        manifest "version: 1
domains:
  u1:
    memory: 128M
    firmware: uefi
    video: virtio"
        rl apply; expect_rc 0
        # libvirt picks the firmware at each start (the inactive definition names
        # no nvram): the file must survive the redefinition and be the one the
        # guest starts with again.
        nsenter -t "$LVPID" -m test -f "$nvram" || fail "the nvram file $nvram is gone after the redefinition"
        v destroy u1 >/dev/null; v start u1 >/dev/null
        [ "$(v dumpxml u1 | sed -n 's|.*<nvram[^>]*>\(.*\)</nvram>.*|\1|p')" = "$nvram" ] ||
                fail "restarted after the redefinition, u1 has another nvram than $nvram"
        manifest "version: 1
domains:
  u1:
    memory: 128M
    firmware: bios"
        rl plan; expect_rc 1 "firmware is refused, not converted"
        expect_out 'firmware uefi -> bios: a defined domain keeps its firmware'
        # Declared absent, it goes; the NVRAM file stays (it may hold enrolled keys).
        manifest "version: 1
domains:
  u1:
    memory: 128M
    state: absent"
        rl apply; expect_rc 0
        [ -z "$(v list --all --name | grep -x u1)" ] || fail "u1 is still defined"
        lv_down
}

# Without swtpm, libvirt would define the guest and fail at its start: the plan says so first.
test_tpm_needs_swtpm() {
        lv_up || return
        manifest "version: 1
domains:
  t1:
    memory: 64M
    tpm: true"
        rl plan; expect_rc 1
        expect_out 'm.yaml|host.yaml'
        expect_out 'error: domain t1: tpm: true needs swtpm, which is not installed \(apt-get install swtpm\)'
        [ -z "$(v list --all --name | grep -x t1)" ] || fail "t1 was defined"
        lv_down
}

why=$(guest_skip_reason)
t "guest access: pty console, guest agent channel, VNC on 127.0.0.1 only with the password from its file" \
        test_console_agent_vnc "$why"
uefi_why=$why
[ -z "$uefi_why" ] && uefi_why=$(ovmf_skip_reason)
t "guest access: uefi defined with its nvram, kept across a redefinition" test_uefi_nvram_kept "$uefi_why"
tpm_why=$why
[ -z "$tpm_why" ] && command -v swtpm >/dev/null && tpm_why="swtpm is installed: the missing-package error cannot show here"
t "guest access: tpm: true without swtpm is a plan-time error naming it" test_tpm_needs_swtpm "$tpm_why"
