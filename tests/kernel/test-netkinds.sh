#!/bin/bash
# VXLAN, macvlan, macvtap, veth, TAP, routes and sysctls against the real
# kernel, each test in its own namespace; `ip` and /proc are the witnesses.
# Bonds need the bonding module this kernel lacks: tests/vm/guest/test-bond.sh.
. "$(dirname "$0")/lib.sh"

# ip -d output of one link on one line.
details() { ip -n "$NS" -d -o link show "$1" 2>/dev/null; }
sysctl_of() { ip netns exec "$NS" cat "/proc/sys/$(echo "$1" | tr . /)"; }
routes() { ip -n "$NS" "$@" route show table all | grep -v 'proto kernel\|table local\|^local\|^broadcast\|^multicast\|fe80::/64\|ff00::/8'; }
module_missing() { ! modprobe -n -q "$1" 2>/dev/null && [ ! -d "/sys/module/$1" ]; }

overlay='version: 1
ethernets:
  eth0: {}
bridges:
  br-mgmt:
    interfaces: [eth0]
    addresses: [192.0.2.10/24, "2001:db8::10/64"]
    forward-delay: 0
  br-ov:
    interfaces: [vx100]
    forward-delay: 0
vxlans:
  vx100:
    vni: 100
    local: 192.0.2.10
    remote: 192.0.2.20
    mtu: 1450
'

test_vxlan_create_change_replace() {
        nic eth0
        manifest "$overlay"
        rc plan; expect_rc 0
        # The VXLAN binds its local address: it waits for br-mgmt, and br-ov for it.
        local order; order=$(printf '%s\n' "$OUT" | grep -E '^\+ ' | awk '{print $3}' | tr '\n' ' ')
        case "$order" in *br-mgmt*vx100*br-ov*) ;; *) fail "order: $order" ;; esac
        rc apply; expect_rc 0 "apply"
        local d; d=$(details vx100)
        case "$d" in *"vxlan id 100 remote 192.0.2.20 local 192.0.2.10"*"dstport 4789"*) ;; *) fail "vx100: $d" ;; esac
        [ "$(master_of vx100)" = br-ov ] || fail "vx100 not in br-ov"
        [ "$(mtu_of vx100)" = 1450 ] || fail "mtu $(mtu_of vx100)"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        # remote, learning and MTU change in place.
        local idx; idx=$(ifindex vx100)
        manifest "${overlay/remote: 192.0.2.20/remote: 192.0.2.30
    learning: false}"
        sed -i 's/mtu: 1450/mtu: 1400/' "$M/host.yaml"
        rc plan; expect_out '^~ vxlan vx100 +mtu 1450 -> 1400, remote 192.0.2.20 -> 192.0.2.30, learning true -> false$'
        rc apply; expect_rc 0
        [ "$(ifindex vx100)" = "$idx" ] || fail "vx100 was re-created for an in-place change"
        d=$(details vx100)
        case "$d" in *"remote 192.0.2.30"*) ;; *) fail "remote not changed: $d" ;; esac
        case "$d" in *nolearning*) ;; *) fail "learning not off: $d" ;; esac
        rc plan --exit-code; expect_rc 0 "plan after in-place change"
        # A new VNI is a new device: replaced, and back in its bridge.
        sed -i 's/vni: 100/vni: 200/' "$M/host.yaml"
        rc plan; expect_out '^-/\+ vxlan vx100 +vni 100 -> 200 cannot change in place$'
        rc apply; expect_rc 0
        case "$(details vx100)" in *"vxlan id 200 "*) ;; *) fail "vni not 200: $(details vx100)" ;; esac
        [ "$(master_of vx100)" = br-ov ] || fail "replaced vx100 not back in br-ov"
        rc plan --exit-code; expect_rc 0 "plan after replace"
}

test_vxlan_multicast_group_and_v6() {
        nic eth0
        manifest 'version: 1
ethernets:
  eth0: { addresses: ["2001:db8::1/64"] }
vxlans:
  vx1:
    vni: 5000
    group: 239.1.1.1
    dev: eth0
    port: 8472
  vx6:
    vni: 6000
    local: "2001:db8::1"
    remote: "2001:db8::2"
'
        ip -n "$NS" link set eth0 up
        rc apply; expect_rc 0
        case "$(details vx1)" in *"vxlan id 5000 group 239.1.1.1 dev eth0"*"dstport 8472"*) ;; *) fail "vx1: $(details vx1)" ;; esac
        case "$(details vx6)" in *"remote 2001:db8::2 local 2001:db8::1"*) ;; *) fail "vx6: $(details vx6)" ;; esac
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
}

macvlans='version: 1
ethernets:
  eth0: {}
macvlans:
  mv0:
    link: eth0
    mode: vepa
    mac: "02:00:00:00:00:01"
    mtu: 1400
macvtaps:
  mvt0:
    link: eth0
    mode: private
'

test_macvlan_macvtap() {
        nic eth0
        manifest "$macvlans"
        rc apply; expect_rc 0 "apply"
        case "$(details mv0)" in *"mv0@eth0"*"macvlan mode vepa"*) ;; *) fail "mv0: $(details mv0)" ;; esac
        [ "$(mac_of mv0)" = 02:00:00:00:00:01 ] || fail "mv0 mac $(mac_of mv0)"
        [ "$(mtu_of mv0)" = 1400 ] || fail "mv0 mtu"
        case "$(details mvt0)" in *"mvt0@eth0"*"macvtap mode private"*) ;; *) fail "mvt0: $(details mvt0)" ;; esac
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        # Mode in place; a new parent is a replace.
        local idx; idx=$(ifindex mv0)
        sed -i 's/mode: vepa/mode: private/' "$M/host.yaml"
        rc plan; expect_out '^~ macvlan mv0 +mode vepa -> private$'
        rc apply; expect_rc 0
        [ "$(ifindex mv0)" = "$idx" ] || fail "mv0 re-created for a mode change"
        case "$(details mv0)" in *"macvlan mode private"*) ;; *) fail "mode: $(details mv0)" ;; esac
        nic eth1
        manifest "${macvlans//link: eth0/link: eth1}"
        sed -i 's/mode: vepa/mode: private/; s/  eth0: {}/  eth0: {}\n  eth1: {}/' "$M/host.yaml"
        rc plan; expect_out '^-/\+ macvlan mv0 +link eth0 -> eth1 cannot change in place$'
        expect_out '^-/\+ macvtap mvt0 +link eth0 -> eth1'
        rc apply; expect_rc 0
        case "$(details mv0)" in *"mv0@eth1"*) ;; *) fail "mv0 parent: $(details mv0)" ;; esac
        rc plan --exit-code; expect_rc 0 "plan after replace"
        # Leaving the manifests deletes what reconcile made; eth0 stays.
        manifest 'version: 1
ethernets:
  eth1: {}
macvtaps:
  mvt0: { link: eth1, mode: private }
'
        rc apply; expect_rc 0
        link_exists mv0 && fail "mv0 not deleted"
        link_exists eth0 || fail "eth0 deleted"
        link_exists mvt0 || fail "mvt0 deleted"
}

test_veth_pair_and_peer_netns() {
        local other=rct-peer-$$
        ip netns add "$other"
        manifest "version: 1
veths:
  ve0:
    peer: ve1
    mtu: 1400
    addresses: [198.51.100.1/30]
  vh0:
    peer: vg0
    peer-netns: $other
"
        rc apply; expect_rc 0 "apply"
        case "$(details ve0)" in *"ve0@ve1"*"UP"*) ;; *) fail "ve0: $(details ve0)" ;; esac
        [ "$(mtu_of ve1)" = 1400 ] || fail "peer mtu $(mtu_of ve1)"
        ip -n "$NS" -o link show ve1 | grep -q ',UP' || fail "peer not up"
        case "$(addrs_of ve0)" in *198.51.100.1/30*) ;; *) fail "ve0 address: $(addrs_of ve0)" ;; esac
        ip -n "$other" link show vg0 >/dev/null 2>&1 || fail "vg0 not in $other"
        link_exists vg0 && fail "vg0 in the managed namespace"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        # show cannot name a peer in another namespace: it says so in a comment and stays valid.
        "$RECONCILE" --netns "$NS" --state-dir "$S" --only veth show >"$TMP/show.yaml" 2>&1 || fail "show failed"
        grep -q '^  # vh0: a veth whose peer lives in another namespace' "$TMP/show.yaml" || { OUT=$(cat "$TMP/show.yaml"); fail "no comment for vh0"; }
        mkdir -m 700 "$TMP/shown"; cp "$TMP/show.yaml" "$TMP/shown/show.yaml"
        OUT=$("$RECONCILE" -d "$TMP/shown" validate 2>&1) || fail "show output does not validate"
        # A new peer name is a new pair.
        sed -i 's/peer: ve1/peer: ve2/' "$M/host.yaml"
        rc plan; expect_out '^-/\+ veth ve0 +peer ve1 -> ve2 cannot change in place; also deletes ve1$'
        rc apply; expect_rc 0
        link_exists ve1 && fail "old peer ve1 left"
        link_exists ve2 || fail "peer ve2 missing"
        rc plan --exit-code; expect_rc 0 "plan after replace"
        # Removing the pair removes both ends, in both namespaces.
        manifest 'version: 1
'
        rc apply --allow-mass-delete; expect_rc 0
        link_exists ve0 && fail "ve0 left"
        ip -n "$other" link show vg0 >/dev/null 2>&1 && fail "vg0 left in $other"
        ip netns del "$other"
}

test_tap_owner_multiqueue() {
        manifest 'version: 1
taps:
  tap0:
    owner: nobody
    group: "0"
    mtu: 9000
  tap1:
    multi-queue: true
    up: false
'
        rc apply; expect_rc 0 "apply"
        case "$(details tap0)" in *"tun type tap"*"persist on user nobody group root"*) ;; *) fail "tap0: $(details tap0)" ;; esac
        [ "$(mtu_of tap0)" = 9000 ] || fail "tap0 mtu"
        case "$(details tap1)" in *"multi_queue"*) ;; *) fail "tap1: $(details tap1)" ;; esac
        ip -n "$NS" -o link show tap1 | grep -q ',UP' && fail "tap1 up"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        local idx; idx=$(ifindex tap0)
        sed -i 's/owner: nobody/owner: "0"/' "$M/host.yaml"
        rc plan; expect_out '^~ tap tap0 +owner 65534 -> 0$'
        rc apply; expect_rc 0
        [ "$(ifindex tap0)" = "$idx" ] || fail "tap0 re-created for an owner change"
        case "$(details tap0)" in *"user root"*) ;; *) fail "owner: $(details tap0)" ;; esac
        sed -i 's/multi-queue: true/multi-queue: false/' "$M/host.yaml"
        rc plan; expect_out '^-/\+ tap tap1 +multi-queue true -> false cannot change in place$'
        rc apply; expect_rc 0
        case "$(details tap1)" in *multi_queue*) fail "tap1 still multi-queue" ;; esac
        rc plan --exit-code; expect_rc 0 "plan after replace"
        # A TAP someone else made (libvirt's vnetN) is never touched.
        ip -n "$NS" tuntap add dev vnet7 mode tap
        manifest 'version: 1
'
        rc apply --allow-mass-delete; expect_rc 0
        link_exists tap0 && fail "tap0 not deleted"
        link_exists vnet7 || fail "unmanaged vnet7 deleted"
}

routes_m='version: 1
ethernets:
  eth0: { addresses: [192.0.2.10/24, "2001:db8::10/64"] }
routes:
  default:
    to: default
    via: 192.0.2.1
    metric: 100
  six:
    to: "2001:db8:100::/48"
    via: "2001:db8::1"
  hole:
    to: 198.51.100.0/24
    type: blackhole
    table: 100
  onlink:
    to: 203.0.113.0/24
    dev: eth0
'

test_routes_create_replace_metric() {
        nic eth0
        ip -n "$NS" link set eth0 up
        manifest "$routes_m"
        rc apply; expect_rc 0 "apply"
        local r4; r4=$(routes -4)
        case "$r4" in *"default via 192.0.2.1 dev eth0 proto static metric 100"*) ;; *) fail "default: $r4" ;; esac
        case "$r4" in *"blackhole 198.51.100.0/24 table 100 proto static"*) ;; *) fail "blackhole: $r4" ;; esac
        case "$r4" in *"203.0.113.0/24 dev eth0 proto static scope link"*) ;; *) fail "onlink: $r4" ;; esac
        case "$(routes -6)" in *"2001:db8:100::/48 via 2001:db8::1 dev eth0 proto static metric 1024"*) ;; *) fail "v6: $(routes -6)" ;; esac
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        # A new gateway: one NLM_F_REPLACE, watched by `ip monitor`: no deletion in between.
        ip -n "$NS" monitor route >"$TMP/monitor" 2>&1 &
        local mon=$!
        sleep 0.3
        sed -i 's/via: 192.0.2.1$/via: 192.0.2.254/' "$M/host.yaml"
        rc plan; expect_out '^~ route default +via 192.0.2.1 -> 192.0.2.254 \(in one NLM_F_REPLACE'
        rc apply; expect_rc 0
        sleep 0.3
        kill "$mon"; wait "$mon" 2>/dev/null
        grep -q '^Deleted' "$TMP/monitor" && { OUT=$(cat "$TMP/monitor"); fail "a route was deleted during the replace"; }
        grep -q 'default via 192.0.2.254' "$TMP/monitor" || fail "the replace was not seen by ip monitor"
        case "$(routes -4)" in *"default via 192.0.2.254 dev eth0 proto static metric 100"*) ;; *) fail "new gw: $(routes -4)" ;; esac
        # A new metric is a new key: the new route comes before the old one goes.
        sed -i 's/metric: 100/metric: 50/' "$M/host.yaml"
        rc plan
        local plan_lines; plan_lines=$(printf '%s\n' "$OUT" | grep -E '^[-+] route' | awk '{print $1}' | tr '\n' ' ')
        [ "$plan_lines" = "+ - " ] || fail "metric change order: $plan_lines"
        rc apply; expect_rc 0
        r4=$(routes -4)
        case "$r4" in *"metric 50"*) ;; *) fail "metric 50 missing: $r4" ;; esac
        case "$r4" in *"metric 100"*) fail "old metric 100 left: $r4" ;; esac
        rc plan --exit-code; expect_rc 0 "plan after metric change"
}

test_routes_unmanaged_untouched() {
        nic eth0
        ip -n "$NS" link set eth0 up
        ip -n "$NS" addr add 192.0.2.10/24 dev eth0
        ip -n "$NS" route add 10.9.0.0/16 via 192.0.2.2
        manifest 'version: 1
routes:
  net:
    to: 10.8.0.0/16
    via: 192.0.2.3
  connected:
    to: 192.0.2.0/24
    dev: eth0
    metric: 0
'
        rc plan; expect_out '^= route connected +adopt'
        rc apply; expect_rc 0
        routes -4 | grep -q '10.8.0.0/16 via 192.0.2.3' || fail "managed route missing"
        # Leaving the manifests removes only what reconcile made: the operator's
        # route and the kernel's connected route (adopted above) stay.
        manifest 'version: 1
'
        rc apply --allow-mass-delete; expect_rc 0
        routes -4 | grep -q '10.8.0.0/16' && fail "managed route left"
        routes -4 | grep -q '10.9.0.0/16 via 192.0.2.2' || fail "unmanaged route removed"
        ip -n "$NS" route show 192.0.2.0/24 | grep -q 'dev eth0' || fail "the kernel's connected route was removed"
        # state: absent removes a route by its key, whoever made it.
        manifest 'version: 1
routes:
  old:
    to: 10.9.0.0/16
    state: absent
'
        rc apply; expect_rc 0
        routes -4 | grep -q '10.9.0.0/16' && fail "absent route still there"
        true
}

test_route_via_waits_for_its_link() {
        nic eth0
        manifest 'version: 1
routes:
  default:
    to: default
    via: 192.0.2.1
bridges:
  br0:
    interfaces: [eth0]
    addresses: [192.0.2.10/24]
'
        rc plan
        local order; order=$(printf '%s\n' "$OUT" | grep -E '^\+ ' | awk '{print $3}' | tr '\n' ' ')
        [ "$order" = "br0 default " ] || fail "order: $order"
        rc apply; expect_rc 0
        routes -4 | grep -q 'default via 192.0.2.1 dev br0' || fail "default route: $(routes -4)"
}

test_sysctls_set_and_restore() {
        nic eth0
        local before; before=$(sysctl_of net.ipv4.conf.eth0.rp_filter)
        manifest 'version: 1
ethernets:
  eth0: {}
bridges:
  br0: { interfaces: [eth0] }
sysctls:
  net.ipv4.ip_forward: 1
  net.ipv6.conf.br0.forwarding: 1
  net.ipv4.conf.eth0.rp_filter: 2
  net.ipv4.ip_local_port_range: "20000   40000"
'
        rc plan
        expect_out '^= sysctl net.ipv4.ip_forward +adopt \(exists, not yet managed\); value 0 -> 1$'
        expect_out '^\+ sysctl net.ipv6.conf.br0.forwarding'
        rc apply; expect_rc 0 "apply"
        [ "$(sysctl_of net.ipv4.ip_forward)" = 1 ] || fail "ip_forward"
        [ "$(sysctl_of net.ipv6.conf.br0.forwarding)" = 1 ] || fail "br0 forwarding"
        [ "$(sysctl_of net.ipv4.conf.eth0.rp_filter)" = 2 ] || fail "rp_filter"
        [ "$(sysctl_of net.ipv4.ip_local_port_range)" = "$(printf '20000\t40000')" ] || fail "port range"
        # The host's own namespace is not touched.
        [ "$(cat /proc/sys/net/ipv4/ip_local_port_range)" = "$(printf '20000\t40000')" ] && fail "host sysctl changed"
        rc plan --exit-code; expect_rc 0 "second plan must be empty"
        # A key that leaves the manifests gets its old value back; the plan says which.
        manifest 'version: 1
ethernets:
  eth0: {}
bridges:
  br0: { interfaces: [eth0] }
sysctls:
  net.ipv4.ip_forward: 1
  net.ipv6.conf.br0.forwarding: 1
  net.ipv4.ip_local_port_range: "20000 40000"
'
        rc plan; expect_out "^- sysctl net.ipv4.conf.eth0.rp_filter +no longer in the manifests: restores $before"
        rc apply; expect_rc 0
        [ "$(sysctl_of net.ipv4.conf.eth0.rp_filter)" = "$before" ] || fail "rp_filter not restored to $before"
        rc plan --exit-code; expect_rc 0 "plan after restore"
        # A key that does not exist (a typo, a module not loaded) is a positioned
        # plan-time error; the rest still applies.
        manifest 'version: 1
sysctls:
  net.ipv4.ip_forward: 0
  net.ipv4.no_such_key: 1
'
        rc apply --allow-mass-delete; expect_rc 1
        expect_out 'host.yaml:4:3: error: sysctl net.ipv4.no_such_key: no such key in /proc/sys'
        [ "$(sysctl_of net.ipv4.ip_forward)" = 0 ] || fail "the valid key was not applied"
        # A host key (outside net.) is no namespace's: refused in a run with --netns.
        manifest 'version: 1
sysctls:
  kernel.panic: 1
'
        rc plan; expect_rc 1
        expect_out "host.yaml:3:3: error: sysctl kernel.panic: a host key, not a namespace's"
        # A key of no known tree is refused at parse time.
        manifest 'version: 1
sysctls:
  dev.tty.ldisc_autoload: 1
'
        rc plan; expect_rc 1
        expect_out 'host.yaml:3:3: error: sysctls: bad key "dev.tty.ldisc_autoload": only net., vm., kernel. and fs. keys'
}

test_show_round_trip_new_kinds() {
        nic eth0
        ip -n "$NS" link set eth0 up
        manifest "version: 1
ethernets:
  eth0: { addresses: [192.0.2.10/24] }
vxlans:
  vx9: { vni: 9, remote: 192.0.2.9 }
macvlans:
  mv9: { link: eth0, mode: bridge }
taps:
  tap9: { owner: \"0\" }
routes:
  default: { to: default, via: 192.0.2.1 }
"
        rc apply; expect_rc 0
        "$RECONCILE" --netns "$NS" --state-dir "$S" --only ethernet,vxlan,macvlan,tap,route,veth show >"$TMP/show.yaml" 2>"$TMP/err" ||
                { OUT=$(cat "$TMP/err"); fail "show failed"; }
        rm -f "$M"/*.yaml
        cp "$TMP/show.yaml" "$M/show.yaml"
        rc validate; expect_rc 0 "show output does not validate"
        rc plan --exit-code --only ethernet,vxlan,macvlan,tap,route; expect_rc 0 "show output not in sync"
}

t "vxlan: create after its local address, in-place change, replace" test_vxlan_create_change_replace
t "vxlan: multicast group with dev, IPv6 endpoints" test_vxlan_multicast_group_and_v6
t "macvlan and macvtap: mode in place, new parent replaces, prune" test_macvlan_macvtap
t "veth: pair, peer in a named namespace, replace, delete" test_veth_pair_and_peer_netns
t "tap: owner, group, multi-queue, unmanaged TAP untouched" test_tap_owner_multiqueue
t "routes: v4/v6/blackhole/table, NLM_F_REPLACE, metric change" test_routes_create_replace_metric
t "routes: unmanaged and kernel routes never removed" test_routes_unmanaged_untouched
t "route via a declared link waits for it" test_route_via_waits_for_its_link
test_route_ssh_risk_flagged() {
        nic eth0
        ip -n "$NS" link set eth0 up
        ip -n "$NS" addr add 192.0.2.10/24 dev eth0
        manifest 'version: 1
routes:
  default: { to: default, via: 192.0.2.1 }
  lab: { to: 10.8.0.0/16, via: 192.0.2.3 }
'
        rc apply; expect_rc 0
        sed -i 's/via: 192.0.2.1 /via: 192.0.2.254 /; s/via: 192.0.2.3 /via: 192.0.2.4 /' "$M/host.yaml"
        # Run inside the namespace as an SSH session from 203.0.113.5 would.
        OUT=$(SSH_CONNECTION="203.0.113.5 50000 192.0.2.10 22" ip netns exec "$NS" "$RECONCILE" -d "$M" --state-dir "$S" plan 2>&1)
        # (run without --netns, its ledger scope is another: the routes are adopted, with their change)
        expect_out '^= route default +adopt \(exists, not yet managed\); via 192.0.2.1 -> 192.0.2.254'
        expect_out '^    risk: route 0.0.0.0/0 table main metric 0 carries the replies to this SSH session \(client 203.0.113.5\)$'
        [ "$(printf '%s\n' "$OUT" | grep -c 'risk:')" = 1 ] || fail "the lab route must not be flagged"
}

t "routes: rerouting the SSH session's route is flagged" test_route_ssh_risk_flagged
t "sysctls: set in the namespace, restored when removed" test_sysctls_set_and_restore
t "show of the new kinds validates and is in sync" test_show_round_trip_new_kinds
