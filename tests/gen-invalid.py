#!/usr/bin/env python3
"""Writes testdata/invalid/NNN-slug.yaml: manifests that must be refused.
The expected first error line of each is kept beside it in NNN-slug.expected
(written by tests/kernel/test-invalid.sh --update, then reviewed by hand)."""
import os, sys

V = "version: 1\n"
cases = []
def case(slug, text):
    cases.append((slug, text))

# YAML itself
case("unclosed-flow-map", V + "bridges:\n  br0: { mtu: 1500\n")
case("tab-indent", V + "bridges:\n\tbr0: {}\n")
case("unclosed-quote", V + 'bridges:\n  "br0: {}\n')
case("bad-escape", V + 'bridges:\n  "br\\q": {}\n')
case("undefined-alias", V + "bridges:\n  br0: *nothing\n")
case("stray-colon", V + "bridges: : x\n")
case("two-documents", V + "---\n" + V)
case("billion-laughs", V + "ipsets:\n  s:\n    type: hash:ip\n    entries:\n      - &a0 [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    "      - &a%d [%s]\n" % (i, ",".join(["*a%d" % (i - 1)] * 10)) for i in range(1, 9)))
case("deep-nesting", V + "bridges:\n  br0: " + "[" * 5000 + "]" * 5000 + "\n")
case("non-utf8", V.encode() + b"bridges:\n  br\xff\xfe: {}\n")
case("nul-byte", V.encode() + b"bridges:\n  \"br\\0x\": {}\n")
case("raw-nul-byte", V.encode() + b"bridges:\n  br\x000: {}\n")
# top level
case("missing-version", "bridges:\n  br0: {}\n")
case("version-2", "version: 2\n")
case("version-list", "version: [1]\n")
case("unknown-top-key", V + "bridgez:\n  br0: {}\n")
case("top-level-list", "- version: 1\n")
case("top-level-scalar", "hello\n")
case("empty-file", "")
case("only-comment", "# nothing here\n")
case("host-list", V + "host: [a]\n")
case("host-empty", V + 'host: ""\n')
case("section-list", V + "bridges: [br0]\n")
case("section-scalar", V + "bridges: br0\n")
case("key-not-string", V + "bridges:\n  [br0]: {}\n")
case("duplicate-top-key", V + "bridges: {}\nbridges: {}\n")
# unknown keys, each kind
for kind, body in [("ethernets", "eth0: { speed: 10 }"), ("bridges", "br0: { colour: blue }"),
                   ("vlans", "v1: { link: eth0, id: 2, tag: 3 }"), ("networks", "n: { mode: nat, ipv6: true }"),
                   ("pools", "p: { type: dir, size: 1G }"), ("domains", "d: { memory: 1G, gpu: true }"),
                   ("services", "s: { address: 192.0.2.1, port: 80, algo: rr }"),
                   ("ipsets", "s: { type: hash:ip, members: [] }")]:
    case("unknown-key-" + kind, V + kind + ":\n  " + body + "\n")
case("unknown-key-volume", V + "pools:\n  p:\n    type: dir\n    volumes:\n      v: { capacity: 1G, thin: true }\n")
case("unknown-key-disk", V + "pools:\n  p: { type: dir, volumes: { v: { capacity: 1G } } }\ndomains:\n  d: { memory: 1G, disks: [ { volume: p/v, wwn: 1 } ] }\n")
case("unknown-key-nic", V + "domains:\n  d: { memory: 1G, interfaces: [ { network: default, vlan: 3 } ] }\n")
case("unknown-key-real", V + "services:\n  s: { address: 192.0.2.1, port: 80, reals: [ { address: 10.0.0.1, prio: 1 } ] }\n")
case("unknown-key-dhcp", V + "networks:\n  n: { address: 10.0.0.1/24, dhcp: { start: 10.0.0.2, end: 10.0.0.9, lease: 1h } }\n")
# wrong types
case("mtu-string", V + 'bridges:\n  br0: { mtu: "1500" }\n')
case("mtu-list", V + "bridges:\n  br0: { mtu: [1500] }\n")
case("up-yes", V + "bridges:\n  br0: { up: yes }\n")
case("stp-1", V + "bridges:\n  br0: { stp: 1 }\n")
case("addresses-scalar", V + "bridges:\n  br0: { addresses: 192.0.2.1/24 }\n")
case("interfaces-scalar", V + "bridges:\n  br0: { interfaces: eth0 }\n")
case("interfaces-map", V + "bridges:\n  br0: { interfaces: { eth0: 1 } }\n")
case("interface-not-string", V + "bridges:\n  br0: { interfaces: [[eth0]] }\n")
case("resource-list", V + "bridges:\n  br0: [mtu]\n")
case("disks-map", V + "domains:\n  d: { memory: 1G, disks: { a: 1 } }\n")
case("entries-scalar", V + "ipsets:\n  s: { type: hash:ip, entries: 10.0.0.1 }\n")
case("mtu-float", V + "bridges:\n  br0: { mtu: 1500.0 }\n")
case("mtu-hex", V + "bridges:\n  br0: { mtu: 0x5dc }\n")
# ranges
for slug, body in [("mtu-67", "bridges:\n  br0: { mtu: 67 }"), ("mtu-65536", "bridges:\n  br0: { mtu: 65536 }"),
                   ("vlan-id-0", "vlans:\n  v: { link: eth0, id: 0 }"), ("vlan-id-4095", "vlans:\n  v: { link: eth0, id: 4095 }"),
                   ("vlan-id-5000", "vlans:\n  v: { link: eth0, id: 5000 }"),
                   ("forward-delay-31", "bridges:\n  br0: { forward-delay: 31 }"),
                   ("vcpus-0", "domains:\n  d: { vcpus: 0, memory: 1G }"), ("vcpus-4097", "domains:\n  d: { vcpus: 4097, memory: 1G }"),
                   ("port-65536", "services:\n  s: { address: 192.0.2.1, port: 65536 }"),
                   ("weight-negative", "services:\n  s: { address: 192.0.2.1, port: 80, reals: [ { address: 10.0.0.1, weight: -1 } ] }"),
                   ("drain-8-days", "services:\n  s: { address: 192.0.2.1, port: 80, drain-seconds: 691200 }"),
                   ("maxelem-0", "ipsets:\n  s: { type: hash:ip, maxelem: 0 }"),
                   ("hashsize-63", "ipsets:\n  s: { type: hash:ip, hashsize: 63 }"),
                   ("timeout-huge", "ipsets:\n  s: { type: hash:ip, timeout: 99999999 }"),
                   ("persistence-0", "services:\n  s: { address: 192.0.2.1, port: 80, persistence: 0 }"),
                   ("fwmark-0", "services:\n  s: { fwmark: 0 }"),
                   ("memory-too-small", "domains:\n  d: { memory: 512K }"),
                   ("mtu-huge-number", "bridges:\n  br0: { mtu: 99999999999999999999999 }")]:
    case(slug, V + body + "\n")
# addresses, MACs, sizes, names
for slug, body in [("address-garbage", "bridges:\n  br0: { addresses: [not-an-ip/24] }"),
                   ("address-no-prefix", "bridges:\n  br0: { addresses: [192.0.2.1] }"),
                   ("address-prefix-33", "bridges:\n  br0: { addresses: [192.0.2.1/33] }"),
                   ("address-v6-prefix-129", 'bridges:\n  br0: { addresses: ["2001:db8::1/129"] }'),
                   ("address-prefix-empty", "bridges:\n  br0: { addresses: [192.0.2.1/] }"),
                   ("address-duplicate", "bridges:\n  br0: { addresses: [192.0.2.1/24, 192.0.2.1/24] }"),
                   ("address-octet-300", "bridges:\n  br0: { addresses: [192.0.2.300/24] }"),
                   ("network-address-prefixless", "networks:\n  n: { address: 10.0.0.1 }"),
                   ("dhcp-start-prefix", "networks:\n  n: { address: 10.0.0.1/24, dhcp: { start: 10.0.0.2/24, end: 10.0.0.9 } }"),
                   ("real-address-bad", "services:\n  s: { address: 192.0.2.1, port: 80, reals: [ { address: 10.0.0 } ] }"),
                   ("service-address-bad", "services:\n  s: { address: 192.0.2, port: 80 }"),
                   ("mac-short", 'bridges:\n  br0: { mac: "52:54:00:aa:bb" }'),
                   ("mac-multicast", 'bridges:\n  br0: { mac: "01:00:5e:00:00:01" }'),
                   ("mac-bad-hex", 'bridges:\n  br0: { mac: "52:54:00:aa:bb:zz" }'),
                   ("mac-dashes", 'bridges:\n  br0: { mac: "52-54-00-aa-bb-cc" }'),
                   ("size-unit-q", "pools:\n  p: { type: dir, volumes: { v: { capacity: 10Q } } }"),
                   ("size-negative", "pools:\n  p: { type: dir, volumes: { v: { capacity: -1G } } }"),
                   ("size-fraction", "pools:\n  p: { type: dir, volumes: { v: { capacity: 1.5G } } }"),
                   ("size-overflow", "pools:\n  p: { type: dir, volumes: { v: { capacity: 99999999999T } } }"),
                   ("size-lowercase", "domains:\n  d: { memory: 1g }"),
                   ("ifname-16-bytes", "bridges:\n  abcdefghijklmnop: {}"),
                   ("ifname-slash", 'bridges:\n  "br/0": {}'),
                   ("ifname-colon", 'bridges:\n  "br:0": {}'),
                   ("ifname-space", 'bridges:\n  "br 0": {}'),
                   ("ifname-dotdot", 'bridges:\n  "..": {}'),
                   ("ifname-empty", 'bridges:\n  "": {}'),
                   ("port-name-bad", 'bridges:\n  br0: { interfaces: ["eth/0"] }'),
                   ("vlan-link-bad", 'vlans:\n  v: { link: "eth 0", id: 3 }')]:
    case(slug, V + body + "\n")
# hostile names and paths
for slug, body in [("name-lt", 'networks:\n  "a<b": { mode: nat }'), ("name-amp", 'pools:\n  "a&b": { type: dir }'),
                   ("name-quote", "domains:\n  \"a'b\": { memory: 1G }"), ("name-dquote", 'ipsets:\n  "a\\"b": { type: hash:ip }'),
                   ("name-gt", 'services:\n  "a>b": { address: 192.0.2.1, port: 80 }'),
                   ("name-slash", 'domains:\n  "a/b": { memory: 1G }'),
                   ("name-newline", 'domains:\n  "a\\nb": { memory: 1G }'),
                   ("volume-name-lt", 'pools:\n  p: { type: dir, volumes: { "v<1": { capacity: 1G } } }'),
                   ("path-relative", "pools:\n  p: { type: dir, path: var/lib/images }"),
                   ("path-dotdot", "pools:\n  p: { type: dir, path: /var/lib/../../etc }"),
                   ("path-trailing-dotdot", "pools:\n  p: { type: dir, path: /var/lib/.. }"),
                   ("path-markup", "pools:\n  p: { type: dir, path: \"/x'/><y\" }"),
                   ("cdrom-relative", "domains:\n  d: { memory: 1G, disks: [ { cdrom: iso/debian.iso } ] }"),
                   ("cdrom-dotdot", "domains:\n  d: { memory: 1G, disks: [ { cdrom: /iso/../etc/shadow } ] }"),
                   ("cpu-markup", "domains:\n  d: { memory: 1G, cpu: \"<evil/>\" }"),
                   ("pool-type-markup", "pools:\n  p: { type: \"dir'/>\" }"),
                   ("entry-markup", "ipsets:\n  s: { type: hash:ip, entries: [\"<x>\"] }"),
                   ("scheduler-markup", "services:\n  s: { address: 192.0.2.1, port: 80, scheduler: \"r<r\" }")]:
    case(slug, V + body + "\n")
# duplicates and references
case("duplicate-key", V + "bridges:\n  br0:\n    mtu: 1500\n    mtu: 9000\n")
case("duplicate-name-bridge-vlan", V + "bridges:\n  x0: {}\nvlans:\n  x0: { link: eth0, id: 3 }\n")
case("duplicate-name-ethernet-bridge", V + "ethernets:\n  eth0: {}\nbridges:\n  eth0: {}\n")
case("duplicate-port", V + "bridges:\n  br0: { interfaces: [eth0, eth0] }\n")
case("duplicate-entry", V + "ipsets:\n  s: { type: hash:ip, entries: [10.0.0.1, 10.0.0.1] }\n")
case("bridge-contains-itself", V + "bridges:\n  br0: { interfaces: [br0] }\n")
case("vlan-on-itself", V + "vlans:\n  v: { link: v, id: 3 }\n")
case("vlan-missing-id", V + "vlans:\n  v: { link: eth0 }\n")
case("vlan-missing-link", V + "vlans:\n  v: { id: 3 }\n")
case("undeclared-volume", V + "domains:\n  d: { memory: 1G, disks: [ { volume: images/nope } ] }\n")
case("absent-volume-used", V + "pools:\n  p: { type: dir, volumes: { v: { state: absent } } }\ndomains:\n  d: { memory: 1G, disks: [ { volume: p/v } ] }\n")
case("volume-in-absent-pool", V + "pools:\n  p: { type: dir, state: absent, volumes: { v: { capacity: 1G } } }\n")
# semantic checks
case("network-bridge-mode-no-bridge", V + "networks:\n  n: { mode: bridge }\n")
case("network-macvtap-no-dev", V + "networks:\n  n: { mode: macvtap }\n")
case("network-bridge-mode-address", V + "networks:\n  n: { mode: bridge, bridge: br0, address: 10.0.0.1/24 }\n")
case("network-nat-dev", V + "networks:\n  n: { mode: nat, dev: eth0 }\n")
case("pool-no-type", V + "pools:\n  p: { path: /x }\n")
case("volume-no-capacity", V + "pools:\n  p: { type: dir, volumes: { v: { format: raw } } }\n")
case("volume-full-qcow2", V + "pools:\n  p: { type: dir, volumes: { v: { capacity: 1G, format: qcow2, preallocation: full } } }\n")
case("domain-no-memory", V + "domains:\n  d: { vcpus: 2 }\n")
case("domain-max-vcpus-below", V + "domains:\n  d: { vcpus: 4, max-vcpus: 2, memory: 1G }\n")
case("domain-max-memory-below", V + "domains:\n  d: { memory: 2G, max-memory: 1G }\n")
case("disk-neither", V + "domains:\n  d: { memory: 1G, disks: [ { bus: virtio } ] }\n")
case("disk-both", V + "pools:\n  p: { type: dir, volumes: { v: { capacity: 1G } } }\ndomains:\n  d: { memory: 1G, disks: [ { volume: p/v, cdrom: /x.iso } ] }\n")
case("nic-both", V + "domains:\n  d: { memory: 1G, interfaces: [ { bridge: br0, network: default } ] }\n")
case("nic-neither", V + "domains:\n  d: { memory: 1G, interfaces: [ { model: virtio } ] }\n")
case("service-no-port", V + "services:\n  s: { address: 192.0.2.1 }\n")
case("service-fwmark-and-address", V + "services:\n  s: { fwmark: 3, address: 192.0.2.1 }\n")
case("real-no-address", V + "services:\n  s: { address: 192.0.2.1, port: 80, reals: [ { port: 80 } ] }\n")
case("ipset-no-type", V + "ipsets:\n  s: { entries: [] }\n")
case("ipset-bitmap-no-range", V + "ipsets:\n  s: { type: bitmap:port }\n")
case("ethernet-absent", V + "ethernets:\n  eth0: { state: absent }\n")
case("state-bogus", V + "bridges:\n  br0: { state: gone }\n")
case("bridge-state-running", V + "bridges:\n  br0: { state: running }\n")
case("domain-state-bogus", V + "domains:\n  d: { memory: 1G, state: paused }\n")
# enums
for slug, body in [("mode-bogus", "networks:\n  n: { mode: open }"), ("bus-floppy", "domains:\n  d: { memory: 1G, disks: [ { cdrom: /x.iso, bus: floppy } ] }"),
                   ("cache-fast", "domains:\n  d: { memory: 1G, disks: [ { cdrom: /x.iso, cache: fast } ] }"),
                   ("format-vmdk", "pools:\n  p: { type: dir, volumes: { v: { capacity: 1G, format: vmdk } } }"),
                   ("protocol-icmp", "services:\n  s: { protocol: icmp, address: 192.0.2.1, port: 80 }"),
                   ("forwarding-nat", "services:\n  s: { address: 192.0.2.1, port: 80, forwarding: nat }"),
                   ("family-ipx", "ipsets:\n  s: { type: hash:ip, family: ipx }"),
                   ("macvtap-mode-bogus", "networks:\n  n: { mode: macvtap, dev: eth0, macvtap-mode: hub }"),
                   ("memory-backing-bogus", "domains:\n  d: { memory: 1G, memory-backing: thp }"),
                   ("nic-model-bogus", "domains:\n  d: { memory: 1G, interfaces: [ { network: default, model: ne2k } ] }"),
                   ("discard-bogus", "domains:\n  d: { memory: 1G, disks: [ { cdrom: /x.iso, discard: trim } ] }"),
                   ("prealloc-bogus", "pools:\n  p: { type: dir, volumes: { v: { capacity: 1G, preallocation: some } } }")]:
    case(slug, V + body + "\n")

# the host network kinds of issue 7
case("vxlan-no-vni", V + "vxlans:\n  vx0: { remote: 192.0.2.1 }\n")
case("vxlan-vni-range", V + "vxlans:\n  vx0: { vni: 16777216 }\n")
case("vxlan-remote-and-group", V + "vxlans:\n  vx0: { vni: 1, remote: 192.0.2.1, group: 239.1.1.1, dev: eth0 }\n")
case("vxlan-group-unicast", V + "vxlans:\n  vx0: { vni: 1, group: 192.0.2.1, dev: eth0 }\n")
case("vxlan-group-no-dev", V + "vxlans:\n  vx0: { vni: 1, group: 239.1.1.1 }\n")
case("vxlan-family-mix", V + 'vxlans:\n  vx0: { vni: 1, local: 192.0.2.1, remote: "2001:db8::1" }\n')
case("vxlan-port-zero", V + "vxlans:\n  vx0: { vni: 1, port: 0 }\n")
case("macvlan-no-link", V + "macvlans:\n  mv0: { mode: bridge }\n")
case("macvlan-mode-bogus", V + "macvlans:\n  mv0: { link: eth0, mode: hub }\n")
case("macvtap-on-itself", V + "macvtaps:\n  mvt0: { link: mvt0 }\n")
case("veth-no-peer", V + "veths:\n  ve0: { mtu: 1500 }\n")
case("veth-own-peer", V + "veths:\n  ve0: { peer: ve0 }\n")
case("veth-peer-netns-slash", V + "veths:\n  ve0: { peer: ve1, peer-netns: a/b }\n")
case("tap-owner-unknown", V + "taps:\n  tap0: { owner: no-such-user-here }\n")
case("tap-multiqueue-string", V + "taps:\n  tap0: { multi-queue: yes }\n")
case("bond-mode-bogus", V + "bonds:\n  bond0: { mode: 802.1q }\n")
case("bond-lacp-without-8023ad", V + "bonds:\n  bond0: { mode: active-backup, lacp-rate: fast }\n")
case("bond-hash-bogus", V + "bonds:\n  bond0: { xmit-hash-policy: layer9 }\n")
case("bond-member-twice", V + "bonds:\n  bond0: { interfaces: [eth0, eth0] }\n")
case("route-no-to", V + "routes:\n  r: { via: 192.0.2.1 }\n")
case("route-host-bits", V + "routes:\n  r: { to: 10.0.0.1/8, via: 192.0.2.1 }\n")
case("route-family-mix", V + 'routes:\n  r: { to: 10.0.0.0/8, via: "2001:db8::1" }\n')
case("route-no-via-no-dev", V + "routes:\n  r: { to: 10.0.0.0/8 }\n")
case("route-blackhole-via", V + "routes:\n  r: { to: 10.0.0.0/8, type: blackhole, via: 192.0.2.1 }\n")
case("route-table-local", V + "routes:\n  r: { to: 10.0.0.0/8, dev: eth0, table: local }\n")
case("route-table-zero", V + "routes:\n  r: { to: 10.0.0.0/8, dev: eth0, table: 0 }\n")
case("route-type-bogus", V + "routes:\n  r: { to: 10.0.0.0/8, type: nat }\n")
case("route-scope-bogus", V + "routes:\n  r: { to: 10.0.0.0/8, dev: eth0, scope: site }\n")
case("sysctl-other-tree", V + "sysctls:\n  dev.tty.ldisc_autoload: 1\n")
case("sysctl-dotdot", V + "sysctls:\n  net..ipv4: 1\n")
case("sysctl-value-list", V + "sysctls:\n  net.ipv4.ip_forward: [1]\n")
case("sysctl-value-empty", V + 'sysctls:\n  net.ipv4.ip_forward: ""\n')
case("sysctl-list", V + "sysctls: [net.ipv4.ip_forward]\n")
case("sysctl-twice", V + "sysctls:\n  net.ipv4.ip_forward: 1\nroutes: {}\nsysctls:\n  net.ipv4.ip_forward: 0\n")
case("link-name-clash-new-kinds", V + "bonds:\n  x0: {}\nvxlans:\n  x0: { vni: 1 }\n")

# issue 14 point 4: every enum and range found at parse time, at the key that is
# wrong; ipset entries literal and in the kernel's form (as `ipset save` prints)
case("scheduler-bogus", V + "services:\n  s: { address: 192.0.2.1, port: 80, scheduler: roundrobin }\n")
case("scheduler-uppercase", V + "services:\n  s: { address: 192.0.2.1, port: 80, scheduler: WLC }\n")
case("ipset-type-bogus", V + "ipsets:\n  s: { type: hash:ipx }\n")
case("ipset-type-case", V + "ipsets:\n  s: { type: HASH:IP }\n")
case("ipset-entry-hostname", V + "ipsets:\n  s:\n    type: hash:ip\n    entries: [10.0.0.1, example.com]\n")
case("ipset-entry-host-bits", V + "ipsets:\n  s: { type: hash:net, entries: [10.0.0.1/8] }\n")
case("ipset-entry-net-32", V + "ipsets:\n  s: { type: hash:net, entries: [10.0.0.1/32] }\n")
case("ipset-entry-v6-long", V + 'ipsets:\n  s: { type: hash:ip, family: inet6, entries: ["2001:DB8:0:0::1"] }\n')
case("ipset-entry-v6-in-inet", V + 'ipsets:\n  s: { type: hash:ip, entries: ["2001:db8::1"] }\n')
case("ipset-entry-mac-lowercase", V + 'ipsets:\n  s: { type: hash:mac, entries: ["52:54:00:aa:bb:cc"] }\n')
case("ipset-entry-mac-bad", V + 'ipsets:\n  s: { type: hash:mac, entries: ["52:54:00:AA:BB"] }\n')
case("ipset-entry-port-no-proto", V + 'ipsets:\n  s: { type: "hash:ip,port", entries: ["10.0.0.1,80"] }\n')
case("ipset-entry-port-name", V + 'ipsets:\n  s: { type: "hash:ip,port", entries: ["10.0.0.1,tcp:http"] }\n')
case("ipset-entry-port-range", V + 'ipsets:\n  s: { type: "hash:ip,port", entries: ["10.0.0.1,tcp:80-90"] }\n')
case("ipset-entry-icmp", V + 'ipsets:\n  s: { type: "hash:ip,port", entries: ["10.0.0.1,icmp:echo-request"] }\n')
case("ipset-entry-too-many-parts", V + 'ipsets:\n  s: { type: hash:ip, entries: ["10.0.0.1,tcp:80"] }\n')
case("ipset-entry-net-in-hash-ip", V + "ipsets:\n  s: { type: hash:ip, entries: [10.0.0.0/24] }\n")
case("ipset-entry-ip-range", V + "ipsets:\n  s: { type: hash:ip, entries: [10.0.0.1-10.0.0.5] }\n")
case("ipset-entry-options", V + 'ipsets:\n  s: { type: hash:ip, timeout: 60, entries: ["10.0.0.1 timeout 5"] }\n')
case("ipset-entry-port-outside-range", V + "ipsets:\n  s: { type: bitmap:port, range: 1-1024, entries: [22, 2000] }\n")
case("ipset-entry-bitmap-port-proto", V + 'ipsets:\n  s: { type: bitmap:port, range: 1-1024, entries: ["tcp:80"] }\n')
case("ipset-entry-ip-outside-range", V + "ipsets:\n  s: { type: bitmap:ip, range: 10.0.0.0-10.0.0.255, entries: [10.0.1.1] }\n")
case("ipset-entry-iface-bad", V + 'ipsets:\n  s: { type: "hash:net,iface", entries: ["10.0.0.0/8,eth/0"] }\n')
case("ipset-entry-mark-decimal", V + 'ipsets:\n  s: { type: "hash:ip,mark", entries: ["10.0.0.1,5"] }\n')
case("ipset-entry-setname-long", V + "ipsets:\n  s: { type: list:set, entries: [abcdefghijabcdefghijabcdefghijab] }\n")
case("ipset-range-cidr", V + "ipsets:\n  s: { type: bitmap:ip, range: 10.0.0.0/24 }\n")
case("ipset-range-too-big", V + "ipsets:\n  s: { type: bitmap:ip, range: 10.0.0.0-10.2.0.0 }\n")
case("ipset-range-ports-reversed", V + "ipsets:\n  s: { type: bitmap:port, range: 1024-1 }\n")
case("ipset-range-on-hash", V + "ipsets:\n  s: { type: hash:ip, range: 1-2 }\n")
case("ipset-family-on-mac", V + "ipsets:\n  s: { type: hash:mac, family: inet }\n")
case("ipset-bitmap-inet6", V + "ipsets:\n  s: { type: bitmap:ip, family: inet6, range: 10.0.0.0-10.0.0.255 }\n")
case("ipset-hashsize-not-power-of-2", V + "ipsets:\n  s: { type: hash:ip, hashsize: 100 }\n")
case("ipset-maxelem-on-bitmap", V + "ipsets:\n  s: { type: bitmap:port, range: 1-10, maxelem: 5 }\n")
case("ipset-name-32-bytes", V + "ipsets:\n  abcdefghijabcdefghijabcdefghijab: { type: hash:ip }\n")
case("pool-type-bogus", V + "pools:\n  p: { type: directory }\n")
case("pool-dir-no-path", V + "pools:\n  p: { type: dir }\n")
case("pool-netfs-no-host", V + "pools:\n  p: { type: netfs, source: /export, path: /mnt/p }\n")
case("pool-scsi", V + "pools:\n  p: { type: scsi, path: /dev/disk/by-path }\n")
case("dhcp-outside-network", V + "networks:\n  n: { address: 10.0.0.1/24, dhcp: { start: 10.0.1.2, end: 10.0.1.9 } }\n")
case("dhcp-reversed", V + "networks:\n  n: { address: 10.0.0.1/24, dhcp: { start: 10.0.0.20, end: 10.0.0.9 } }\n")
case("dhcp-without-address", V + "networks:\n  n: { mode: isolated, dhcp: { start: 10.0.0.2, end: 10.0.0.9 } }\n")
case("netmask-not-contiguous", V + "services:\n  s: { address: 192.0.2.1, port: 80, persistence: 60, netmask: 255.0.255.0 }\n")
case("netmask-family", V + 'services:\n  s: { address: 192.0.2.1, port: 80, persistence: 60, netmask: "ffff::" }\n')
case("real-family-mix", V + 'services:\n  s:\n    address: 192.0.2.1\n    port: 80\n    reals:\n      - { address: "2001:db8::1" }\n')
case("real-lower-above-upper", V + "services:\n  s:\n    address: 192.0.2.1\n    port: 80\n    reals:\n      - { address: 10.0.0.1, lower: 10, upper: 5 }\n")
case("service-port-0-not-persistent", V + "services:\n  s: { address: 192.0.2.1, port: 0 }\n")
case("mac-zero", V + 'bridges:\n  br0: { mac: "00:00:00:00:00:00" }\n')
case("bridge-stp-forward-delay-1", V + "bridges:\n  br0: { stp: true, forward-delay: 1 }\n")
case("veth-peer-is-bridge", V + "bridges:\n  br0: {}\nveths:\n  ve0: { peer: br0 }\n")
case("veth-peer-shared", V + "veths:\n  ve0: { peer: x1 }\n  ve1: { peer: x1 }\n")
# issue 23: units, and what libvirt would refuse only when it defines or starts
case("size-bare-number", V + "domains:\n  d: { memory: 256 }\n")
case("size-unit-kib-lowercase", V + "domains:\n  d: { memory: 256mib }\n")
case("network-address-overlap", V + "networks:\n  a: { address: 10.0.0.1/16 }\n  b: { address: 10.0.5.1/24 }\n")
case("network-bridge-shared", V + "networks:\n  a: { bridge: virbr7 }\n  b: { mode: route, bridge: virbr7 }\n")
case("volume-two-domains-not-shareable", V + "pools:\n  p: { type: dir, path: /x, volumes: { v: { capacity: 1G } } }\ndomains:\n  d: { memory: 1G, disks: [ { volume: p/v, shareable: true } ] }\n  e: { memory: 1G, disks: [ { volume: p/v } ] }\n")
case("disk-shareable-yes", V + "pools:\n  p: { type: dir, path: /x, volumes: { v: { capacity: 1G } } }\ndomains:\n  d: { memory: 1G, disks: [ { volume: p/v, shareable: yes } ] }\n")
case("domain-name-252-bytes", V + "domains:\n  " + "a" * 252 + ": { memory: 1G }\n")
case("pool-volumes-without-pool", V + "pools:\n  p: { volumes: { v: { capacity: 1G } } }\n")
case("module-name-slash", V + "modules:\n  \"net/8021q\": {}\n")
case("module-options-comment", V + "modules:\n  kvm_intel: { options: \"nested=1 # on\" }\n")
case("module-options-list", V + "modules:\n  kvm_intel: { options: [nested=1] }\n")
case("hugepage-size-2048K", V + "hugepages:\n  2048K: 16\n")
case("hugepage-count-quoted", V + "hugepages:\n  2M: \"16\"\n")
case("hugepage-node-leading-zero", V + "hugepages:\n  node01/2M: 16\n")

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "testdata", "invalid")
os.makedirs(out, exist_ok=True)
for i, (slug, text) in enumerate(cases, 1):
    data = text if isinstance(text, bytes) else text.encode()
    with open(os.path.join(out, "%03d-%s.yaml" % (i, slug)), "wb") as f:
        f.write(data)
print(len(cases), "cases")
