/* The ip_set netlink codec's pure parts (backends/ipset-nl.c): every set
 * type's entries into the attributes the kernel takes and back into `ipset
 * save`'s spelling, including the types this machine's kernel lacks (the
 * kernel tests cover the others end to end); and the kernel's refusal codes
 * as errno values. No socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../backends/ipset-nl.h"

static char buf[8192];

/* The DATA nest entry e of a set of type t encodes to, or NULL if refused. */
static const struct nlattr *encode(int t, int af, const char *e) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        if (!ipset_nl_put_entry(nlh, t, af, e, 7))
                return NULL;
        return (const struct nlattr *) mnl_nlmsg_get_payload(nlh);
}

static void round_trip(int t, int af, const char *e) {
        const struct nlattr *data = encode(t, af, e);
        char out[160];
        assert_non_null(data);
        assert_int_equal(mnl_attr_get_type(data), IPSET_ATTR_DATA);
        assert_true(ipset_nl_entry_text(data, t, af == AF_INET6, out, sizeof(out)));
        assert_string_equal(out, e);
}

static const struct nlattr *attr_in(const struct nlattr *nest, uint16_t type) {
        const struct nlattr *a;
        mnl_attr_for_each_nested(a, nest)
                if (mnl_attr_get_type(a) == type)
                        return a;
        return NULL;
}

static void test_every_type_round_trips(void **state) {
        (void) state;
        round_trip(SETT_BITMAP_IP, AF_INET, "10.0.0.9");
        round_trip(SETT_BITMAP_IP_MAC, AF_INET, "10.0.0.1,52:54:00:AA:BB:CC");
        round_trip(SETT_BITMAP_IP_MAC, AF_INET, "10.0.0.2");
        round_trip(SETT_BITMAP_PORT, AF_INET, "1024");
        round_trip(SETT_HASH_IP, AF_INET, "203.0.113.7");
        round_trip(SETT_HASH_IP, AF_INET6, "2001:db8::1");
        round_trip(SETT_HASH_IP, AF_INET6, "::ffff:1.2.3.4");
        round_trip(SETT_HASH_MAC, AF_INET, "52:54:00:AA:BB:CC");
        round_trip(SETT_HASH_IP_MAC, AF_INET, "10.0.0.1,52:54:00:AA:BB:CC");
        round_trip(SETT_HASH_IP_MARK, AF_INET, "10.0.0.1,0x0000002a");
        round_trip(SETT_HASH_NET, AF_INET, "10.0.0.0/8");
        round_trip(SETT_HASH_NET, AF_INET, "10.1.2.3");
        round_trip(SETT_HASH_NET, AF_INET6, "2001:db8::/32");
        round_trip(SETT_HASH_NET_NET, AF_INET, "10.0.0.0/8,192.168.0.0/16");
        round_trip(SETT_HASH_NET_NET, AF_INET6, "2001:db8::/32,2001:db9::1");
        round_trip(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,tcp:80");
        round_trip(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,udp:53");
        round_trip(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,sctp:9");
        round_trip(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,udplite:7");
        round_trip(SETT_HASH_NET_PORT, AF_INET6, "2001:db8::/32,tcp:443");
        round_trip(SETT_HASH_IP_PORT_IP, AF_INET, "10.0.0.1,tcp:80,10.0.0.2");
        round_trip(SETT_HASH_IP_PORT_NET, AF_INET, "10.0.0.1,tcp:80,10.0.0.0/24");
        round_trip(SETT_HASH_NET_PORT_NET, AF_INET, "10.0.0.0/8,udp:53,10.1.0.0/16");
        round_trip(SETT_HASH_NET_IFACE, AF_INET, "10.0.0.0/8,eth0");
        round_trip(SETT_HASH_NET_IFACE, AF_INET, "10.0.0.0/8,physdev:eth1");
        round_trip(SETT_LIST_SET, AF_INET, "web");
}

/* Addresses are written from a table of each byte's digits: every byte value
 * in every place reads as inet_ntop writes it. */
static void test_ipv4_spelling_of_every_byte(void **state) {
        (void) state;
        for (unsigned v = 0; v < 256; v++) {
                unsigned char a[4] = { (unsigned char) v, (unsigned char) (255 - v), (unsigned char) (v * 7),
                                       (unsigned char) (v / 3) };
                char want[INET_ADDRSTRLEN];
                assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
                round_trip(SETT_HASH_IP, AF_INET, want);
        }
}

/* What the kernel checks: network byte order flagged, addresses nested. */
static void test_attributes_as_the_kernel_takes_them(void **state) {
        (void) state;
        const struct nlattr *d = encode(SETT_HASH_NET_PORT, AF_INET, "10.1.0.0/16,udp:53");
        assert_non_null(d);
        const struct nlattr *ip = attr_in(d, IPSET_ATTR_IP), *port = attr_in(d, IPSET_ATTR_PORT);
        assert_non_null(ip);
        assert_true(ip->nla_type & NLA_F_NESTED);
        const struct nlattr *v4 = attr_in(ip, IPSET_ATTR_IPADDR_IPV4);
        assert_non_null(v4);
        assert_true(v4->nla_type & NLA_F_NET_BYTEORDER);
        assert_int_equal(ntohl(mnl_attr_get_u32(v4)), 0x0a010000);
        assert_int_equal(mnl_attr_get_u8(attr_in(d, IPSET_ATTR_CIDR)), 16);
        assert_non_null(port);
        assert_true(port->nla_type & NLA_F_NET_BYTEORDER);
        assert_int_equal(ntohs(mnl_attr_get_u16(port)), 53);
        assert_int_equal(mnl_attr_get_u8(attr_in(d, IPSET_ATTR_PROTO)), 17);
        assert_int_equal(mnl_attr_get_u32(attr_in(d, IPSET_ATTR_LINENO)), 7);
        /* hash:net's full-length network is its address; bitmap:port takes a bare port. */
        d = encode(SETT_HASH_NET, AF_INET, "10.1.2.3");
        assert_int_equal(mnl_attr_get_u8(attr_in(d, IPSET_ATTR_CIDR)), 32);
        d = encode(SETT_BITMAP_PORT, AF_INET, "22");
        assert_null(attr_in(d, IPSET_ATTR_PROTO));
        d = encode(SETT_HASH_NET_IFACE, AF_INET, "10.0.0.0/8,physdev:eth1");
        assert_string_equal(mnl_attr_get_str(attr_in(d, IPSET_ATTR_IFACE)), "eth1");
        assert_int_equal(ntohl(mnl_attr_get_u32(attr_in(d, IPSET_ATTR_CADT_FLAGS))), IPSET_FLAG_PHYSDEV);
}

static void test_not_canonical_refused(void **state) {
        (void) state;
        assert_null(encode(SETT_HASH_IP, AF_INET, "10.0.0.1/8"));
        assert_null(encode(SETT_HASH_IP, AF_INET, "example.com"));
        assert_null(encode(SETT_HASH_IP, AF_INET, "2001:db8::1"));
        assert_null(encode(SETT_HASH_NET, AF_INET, "10.0.0.0/33"));
        assert_null(encode(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,80"));
        assert_null(encode(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,http:80"));
        assert_null(encode(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1,tcp:65536"));
        assert_null(encode(SETT_HASH_MAC, AF_INET, "52:54:00:AA:BB"));
        assert_null(encode(SETT_HASH_IP, AF_INET, "10.0.0.1,10.0.0.2"));
        assert_null(encode(SETT_HASH_IP_PORT, AF_INET, "10.0.0.1"));
}

static void test_refusals_are_errno_values(void **state) {
        (void) state;
        const char *text;
        /* One code, three meanings: the type decides. */
        assert_int_equal(ipset_nl_errno(IPSET_ERR_TYPE_SPECIFIC, SETT_HASH_IP, &text), ENOSPC);
        assert_string_equal(text, "the set is full (maxelem reached)");
        assert_int_equal(ipset_nl_errno(IPSET_ERR_TYPE_SPECIFIC, SETT_BITMAP_PORT, &text), ERANGE);
        assert_string_equal(text, "the entry is outside the set's range");
        assert_int_equal(ipset_nl_errno(IPSET_ERR_TYPE_SPECIFIC, SETT_LIST_SET, &text), ENOENT);
        assert_int_equal(ipset_nl_errno(IPSET_ERR_BUSY, SETT_HASH_IP, &text), EBUSY);
        assert_int_equal(ipset_nl_errno(IPSET_ERR_EXIST_SETNAME2, SETT_HASH_IP, &text), EEXIST);
        assert_int_equal(ipset_nl_errno(ENOENT, SETT_HASH_IP, &text), ENOENT);
        assert_string_equal(text, "the set does not exist");
        assert_int_equal(ipset_nl_errno(EPERM, SETT_HASH_IP, &text), EPERM);
        assert_string_equal(text, strerror(EPERM));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_type_round_trips),
                cmocka_unit_test(test_ipv4_spelling_of_every_byte),
                cmocka_unit_test(test_attributes_as_the_kernel_takes_them),
                cmocka_unit_test(test_not_canonical_refused),
                cmocka_unit_test(test_refusals_are_errno_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
