/* The registry's one list: a kind is a line here (its enum value and the
 * kind_ops it names, KIND_NAME and name_kind in backends/name.c). The order
 * is the enum's; show orders sections by each kind's show_rank. */
#pragma once

#define RECONCILE_KINDS(X)      \
        X(ETHERNET, ethernet)   \
        X(BRIDGE, bridge)       \
        X(VLAN, vlan)           \
        X(BOND, bond)           \
        X(VXLAN, vxlan)         \
        X(MACVLAN, macvlan)     \
        X(MACVTAP, macvtap)     \
        X(VETH, veth)           \
        X(TAP, tap)             \
        X(ROUTE, route)         \
        X(SYSCTL, sysctl)       \
        X(NETWORK, network)     \
        X(POOL, pool)           \
        X(VOLUME, volume)       \
        X(DOMAIN, domain)       \
        X(SERVICE, service)     \
        X(IPVS_SYNC, ipvs_sync) \
        X(IPVS_TIMEOUT, ipvs_timeout) \
        X(IPSET, ipset)         \
        X(MODULE, module)       \
        X(HUGEPAGE, hugepage)   \
        X(DUMMY, dummy)         \
        X(OVS_BRIDGE, ovs_bridge) \
        X(OVS_PORT, ovs_port)
