#!/bin/bash
# A private libvirtd for tests: its own mount and network namespaces, config,
# state and socket under DIR; QEMU domains run under TCG as root.
#   libvirtd.sh start DIR   prints the URI to use, once libvirtd answers
#   libvirtd.sh stop DIR
# With LIBVIRT_NO_KVM=1 its /dev has no kvm node, so libvirt offers only TCG
# ("qemu") domains: a /dev/kvm that exists but cannot run a guest (nested
# sandboxes) would otherwise be picked and hang every boot. Give such a daemon
# its own LIBVIRT_CACHE: the capabilities differ from a daemon that sees KVM.
# Stopping its last process removes both namespaces, with every bridge,
# dnsmasq and NAT rule libvirt made in them.
set -eu
cmd=$1
D=$(realpath -m "$2")

proc_gone() { # a zombie counts as gone
        [ ! -e "/proc/$1/stat" ] && return 0
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

case $cmd in
start)
        command -v libvirtd >/dev/null || { echo "libvirtd not installed" >&2; exit 3; }
        mkdir -p "$D"/etc "$D"/lib "$D"/log "$D"/run "$D"/sock "$D"/images "$D"/dev
        # The capability cache survives between runs: start-up drops from ~9 s to under 1 s.
        CACHE=$(realpath -m "${LIBVIRT_CACHE:-$D/../libvirt-cache}")
        mkdir -p "$CACHE"
        for g in libvirt-qemu kvm libvirt; do getent group "$g" >/dev/null || groupadd -r "$g"; done
        getent passwd libvirt-qemu >/dev/null ||
                useradd -r -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
        cp -a /etc/libvirt/. "$D/etc/" 2>/dev/null || true
        cat >"$D/etc/qemu.conf" <<EOC
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
namespaces = [ ]
EOC
        cat >"$D/etc/libvirtd.conf" <<EOC
unix_sock_dir = "$D/sock"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$D/log/libvirtd.log"
EOC
        for m in /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do mkdir -p "$m"; done
        rm -f "$D/sock/libvirt-sock"
        unshare -m -n --propagation private bash -c "
                mount --bind '$D/etc' /etc/libvirt
                mount --bind '$D/lib' /var/lib/libvirt
                mount --bind '$D/log' /var/log/libvirt
                mount --bind '$CACHE' /var/cache/libvirt
                mount --bind '$D/run' /run
                mount -t sysfs sysfs /sys
                if [ '${LIBVIRT_NO_KVM:-}' = 1 ] && [ -e /dev/kvm ]; then
                        mount -t tmpfs -o mode=0755 nokvm '$D/dev'
                        for f in /dev/* /dev/.[!.]*; do
                                [ -e \"\$f\" ] || [ -L \"\$f\" ] || continue
                                n=\${f#/dev/}
                                [ \"\$n\" = kvm ] && continue
                                # A bind-mounted ptmx finds no pts beside it (QEMU's pty console fails): link it.
                                if [ \"\$n\" = ptmx ]; then ln -s pts/ptmx '$D/dev/ptmx'; continue; fi
                                if [ -L \"\$f\" ]; then cp -a \"\$f\" '$D/dev/'
                                elif [ -d \"\$f\" ]; then mkdir '$D/dev/'\"\$n\" && mount --rbind \"\$f\" '$D/dev/'\"\$n\"
                                else touch '$D/dev/'\"\$n\" && mount --bind \"\$f\" '$D/dev/'\"\$n\"
                                fi
                        done
                        mount --move '$D/dev' /dev
                fi
                ip link set lo up
                exec libvirtd --config '$D/etc/libvirtd.conf'
        " >"$D/libvirtd.out" 2>&1 &
        echo $! >"$D/pid"
        for _ in $(seq 1 600); do
                if [ -S "$D/sock/libvirt-sock" ] &&
                        virsh -q -c "qemu:///system?socket=$D/sock/libvirt-sock" version >/dev/null 2>&1; then
                        echo "qemu:///system?socket=$D/sock/libvirt-sock"
                        exit 0
                fi
                proc_gone "$(cat "$D/pid")" && break
                sleep 0.05
        done
        echo "libvirtd did not start; see $D/libvirtd.out and $D/log/libvirtd.log" >&2
        tail -5 "$D/libvirtd.out" >&2
        exit 1
        ;;
stop)
        [ -f "$D/pid" ] || exit 0
        pid=$(cat "$D/pid")
        # dnsmasq and qemu daemonize inside libvirtd's namespaces and would outlive it
        # (keeping the namespaces alive): everything in its network namespace goes.
        netns=$(readlink "/proc/$pid/ns/net" 2>/dev/null || true)
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 200); do proc_gone "$pid" && break; sleep 0.05; done
        proc_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
        if [ -n "$netns" ]; then
                for p in /proc/[0-9]*; do
                        if [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$netns" ]; then kill -KILL "${p#/proc/}" 2>/dev/null || true; fi
                done
        fi
        rm -f "$D/pid"
        ;;
esac
