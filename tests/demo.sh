#!/bin/bash
# make demo: apply examples/ inside a throw-away network namespace whose veth
# pairs stand in for NICs. Nothing outside that namespace is touched.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
R=$PWD/$BUILD/reconcile
if [ "$(id -u)" -ne 0 ]; then
        echo "make demo needs root (it creates a network namespace)" >&2
        exit 1
fi
NS=reconcile-demo-$$
TMP=$(mktemp -d /tmp/reconcile-demo.XXXXXX)
chmod 700 "$TMP"
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -m 700 "$TMP/manifests"
cp examples/*.yaml "$TMP/manifests/"
chmod 600 "$TMP/manifests/"*.yaml

ip netns add "$NS"
ip -n "$NS" link set lo up
# Two "NICs": veth pairs whose far ends play the switch.
ip -n "$NS" link add eth0 type veth peer name switch0
ip -n "$NS" link add eth1 type veth peer name switch1
ip -n "$NS" link set switch0 up
ip -n "$NS" link set switch1 up
ip -n "$NS" addr add 192.0.2.10/24 dev eth0 # as the installer left it

run() { echo; echo "\$ reconcile $*"; "$R" -d "$TMP/manifests" --state-dir "$TMP/state" --netns "$NS" --only ethernet,bridge,vlan,vxlan,route,sysctl "$@"; }
echo "== network namespace $NS, manifests from examples/"
echo; echo "\$ reconcile validate"
"$R" -d "$TMP/manifests" validate
run plan
run apply
echo; echo "== the kernel's view (ip -br):"
ip -n "$NS" -br link
ip -n "$NS" -br addr
ip -n "$NS" -d link show vx42 | sed -n 3p
ip -n "$NS" route
echo "net.ipv4.ip_forward = $(ip netns exec "$NS" cat /proc/sys/net/ipv4/ip_forward)"
run plan --exit-code
echo "(exit $?: nothing left to do)"
echo; echo "== drift: someone sets br1's MTU to 1500 behind our back"
ip -n "$NS" link set br1 mtu 1500
run plan
run apply
run plan --exit-code
echo; echo "== libvirt kinds on libvirt's in-process test:///default driver"
echo "   (its state lives only inside one process: plan, apply and verify happen in one run)"
echo "   (-v: the plan names what each create sets: web1's serial console and its cloud-init seed,"
echo "    an ISO labelled cidata built with libisofs into the pool; the test driver keeps no volume content)"
echo; echo "\$ reconcile -v --libvirt-uri test:///default --only network,pool,volume,domain apply"
"$R" -d "$TMP/manifests" --state-dir "$TMP/state" --netns "$NS" --libvirt-uri test:///default \
        --only network,pool,volume,domain -v apply
echo; echo "== demo done; namespace $NS removed"
