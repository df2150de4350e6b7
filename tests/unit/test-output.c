/* show's YAML, independent of any backend: every kind with names that YAML
 * would otherwise read as something else, written, parsed back and written
 * again to the same text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../cmd/output.h"
#include "../../parsers/parsers.h"
#include "../../backends/kind.h"

static char *errs;
static size_t errs_len;
static FILE *errs_f;

static int setup(void **state) {
        (void) state;
        errs_f = open_memstream(&errs, &errs_len);
        diag_set_stream(errs_f);
        diag_reset();
        return 0;
}

static int teardown(void **state) {
        (void) state;
        diag_set_stream(NULL);
        fclose(errs_f);
        free(errs);
        errs = NULL;
        return 0;
}

static void parse(struct manifest_set *set, const char *yaml) {
        memset(set, 0, sizeof(*set));
        int r = manifest_parse_buffer(set, "m.yaml", yaml, strlen(yaml), "kvm1");
        if (r >= 0)
                r = manifests_validate(set);
        if (r < 0) {
                fflush(errs_f);
                fail_msg("not a valid manifest: %s\n%s", errs, yaml);
        }
}

static char *show(const struct model *m) {
        char *yaml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&yaml, &len);
        assert_int_equal(show_print_yaml(f, m), 0);
        fclose(f);
        return yaml;
}

/* Keys a YAML reader takes for an anchor, alias, comment, tag, directive,
 * sequence entry, flow collection, boolean, null or number, and values with
 * quotes, backslashes and '#' after a space. */
static const char *const every_kind =
        "version: 1\n"
        "ethernets:\n"
        "  \"&x\": { addresses: [192.0.2.1/24] }\n"
        "  \"'e\": {}\n"
        "  '\"q': {}\n"
        "  'a\\b': {}\n"
        "bonds:\n"
        "  \"*y\": { interfaces: [\"&x\", \"'e\"], mode: 802.3ad, lacp-rate: fast }\n"
        "vlans:\n"
        "  \"-d\": { link: \"*y\", id: 7 }\n"
        "vxlans:\n"
        "  \"?x\": { vni: 9, local: 192.0.2.1, dev: \"*y\" }\n"
        "macvlans:\n"
        "  \"!x\": { link: \"*y\", mode: bridge }\n"
        "taps:\n"
        "  \"%x\": { owner: \"0\" }\n"
        "veths:\n"
        "  \"@x\": { peer: \"`x\" }\n"
        "bridges:\n"
        "  \"yes\": { interfaces: [\"-d\"] }\n"
        "  \"~\": { mtu: 1400 }\n"
        "  \"null\": {}\n"
        "  \"1e3\": {}\n"
        "  \"0x10\": {}\n"
        "  \"x#y\": {}\n"
        "  \"[b]\": {}\n"
        "  \"{c}\": {}\n"
        "  \"|\": {}\n"
        "  \">\": {}\n"
        "routes:\n"
        "  \"#r: 1\": { to: 10.9.0.0/16, via: 192.0.2.254, dev: \"yes\" }\n"
        "sysctls:\n"
        "  \"net.ipv4.conf.-d.forwarding\": 1\n"
        "networks:\n"
        "  \"#n\": { mode: nat, bridge: \"-v\", address: 192.168.151.1/24 }\n"
        "pools:\n"
        "  \"*p\": { type: dir, path: \"/im ages/ #x\" }\n"
        "domains:\n"
        "  \"- d\": { memory: 512M, interfaces: [ { network: \"#n\" }, { bridge: \"yes\" } ] }\n"
        "services:\n"
        "  \"%s: y\": { address: 192.0.2.80, port: 80, scheduler: wlc,\n"
        "              reals: [ { address: 10.0.0.1, port: 80 } ] }\n"
        "ipsets:\n"
        "  \"a:b\": { type: \"hash:ip\", entries: [10.0.0.1] }\n"
        "  \"no\": { type: \"list:set\", entries: [\"a:b\"] }\n";

/* What a backend fills in when it reads the live state. */
static void as_observed(struct model *m) {
        for (size_t i = 0; i < m->n; i++) {
                struct resource *r = m->v[i];
                if (kind_is_link(r->kind) && !r->link.mtu)
                        r->link.mtu = 1500;
                if (r->kind == KIND_IPSET && !r->ipset.hashsize)
                        r->ipset.hashsize = 1024;
                if (r->kind == KIND_DOMAIN) {
                        r->domain.max_vcpus = r->domain.vcpus;
                        r->domain.max_memory = r->domain.memory;
                }
        }
}

static void test_every_kind_round_trips(void **state) {
        (void) state;
        struct manifest_set a, b;
        parse(&a, every_kind);
        as_observed(&a.model);
        char *first = show(&a.model);
        parse(&b, first);
        char *second = show(&b.model);
        if (strcmp(first, second) != 0)
                fail_msg("show of show differs:\n%s\n----\n%s", first, second);
        for (size_t i = 0; i < a.model.n; i++) {
                const struct resource *r = a.model.v[i];
                if (!model_find(&b.model, r->kind, r->name))
                        fail_msg("%s %s lost:\n%s", kind_to_string(r->kind), r->name, first);
        }
        assert_int_equal(a.model.n, b.model.n);
        const struct resource *y = model_find(&b.model, KIND_BOND, "*y");
        assert_int_equal(y->link.interfaces.n, 2);
        assert_string_equal(y->link.interfaces.v[0], "&x");
        assert_string_equal(y->link.interfaces.v[1], "'e");
        assert_string_equal(model_find(&b.model, KIND_VLAN, "-d")->link.link, "*y");
        assert_string_equal(model_find(&b.model, KIND_VETH, "@x")->link.peer, "`x");
        assert_string_equal(model_find(&b.model, KIND_POOL, "*p")->pool.path, "/im ages/ #x");
        const struct resource *d = model_find(&b.model, KIND_DOMAIN, "- d");
        assert_string_equal(d->domain.nics[0].network, "#n");
        assert_string_equal(d->domain.nics[1].bridge, "yes");
        /* Plain where nothing can misread it, quoted where something could. */
        assert_non_null(strstr(first, "\n  \"yes\":\n"));
        assert_non_null(strstr(first, "\n  \"~\":\n"));
        assert_non_null(strstr(first, "\n  \"1e3\":\n"));
        assert_non_null(strstr(first, "\n  \"a\\\\b\":\n"));
        assert_non_null(strstr(first, "\n  \"\\\"q\":\n"));
        assert_non_null(strstr(first, "\n    mode: 802.3ad\n"));
        assert_non_null(strstr(first, "\n    mtu: 1400\n"));
        free(first);
        free(second);
        manifests_done(&a);
        manifests_done(&b);
}

/* A veth without its peer is a comment, even as the only entry of its section. */
static void test_comment_keeps_yaml_valid(void **state) {
        (void) state;
        struct model m = { 0 };
        struct resource *v = resource_new(KIND_VETH, "#v");
        assert_int_equal(model_add(&m, v), 0);
        char *yaml = show(&m);
        assert_non_null(strstr(yaml, "\n  # #v: a veth whose peer lives in another namespace"));
        struct manifest_set s;
        parse(&s, yaml);
        assert_int_equal(s.model.n, 0);
        manifests_done(&s);
        free(yaml);
        model_done(&m);
}

/* YAML holds Unicode text only: what is not UTF-8 is a comment and an error code. */
static void test_not_utf8_is_a_comment(void **state) {
        (void) state;
        struct model m = { 0 };
        struct resource *br = resource_new(KIND_BRIDGE, "br0");
        *(char **) array_push(&br->link.interfaces.v, &br->link.interfaces.n, sizeof(char *)) = xstrdup("p\xff");
        struct resource *br1 = resource_new(KIND_BRIDGE, "br1");
        br->link.mtu = br1->link.mtu = 1500;
        assert_int_equal(model_add(&m, br), 0);
        assert_int_equal(model_add(&m, br1), 0);
        char *yaml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&yaml, &len);
        assert_int_equal(show_print_yaml(f, &m), -EILSEQ);
        fclose(f);
        assert_non_null(strstr(yaml, "\n  # bridge br0: left out, a name or value in it is not UTF-8"));
        struct manifest_set s;
        parse(&s, yaml);
        assert_null(model_find(&s.model, KIND_BRIDGE, "br0"));
        assert_non_null(model_find(&s.model, KIND_BRIDGE, "br1"));
        manifests_done(&s);
        free(yaml);
        model_done(&m);
}

/* The plan's words come from typed values, the same for text and JSON: every
 * value type, an add, a removal, a kind's own words (a held MTU), and the
 * count that replaces many entries. */
static void test_change_words_from_values(void **state) {
        (void) state;
        struct resource *br = resource_new(KIND_BRIDGE, "br0");
        struct plan p = { 0 };
        struct action *a = array_push(&p.actions, &p.n_actions, sizeof(*a));
        a->op = OP_UPDATE;
        a->kind = KIND_BRIDGE;
        a->name = xstrdup("br0");
        a->want = a->live = br;
        struct ipaddr ip;
        unsigned char mac[6] = { 0x02, 0, 0, 0, 0, 0x01 }, mac2[6] = { 0x02, 0, 0, 0, 0, 0x02 };
        assert_int_equal(ipaddr_parse("10.0.0.1/24", true, &ip), 0);
        action_add_change(a, LINK_F_MTU, "mtu", value_number(1500), value_number(9000));
        action_add_change(a, LINK_F_MTU, "mtu", value_number(9000), value_number(9000)); /* the hold */
        action_add_change(a, LINK_F_UP, "up", value_bool(false), value_bool(true));
        action_add_change(a, LINK_F_ADDRESSES, "address", VALUE_NONE, value_prefix(&ip));
        action_add_change(a, LINK_F_ADDRESSES, "via", value_addr(&ip), VALUE_NONE);
        action_add_change(a, LINK_F_MAC, "mac", value_mac(mac), value_mac(mac2));
        action_add_change(a, LINK_F_INTERFACES, "port", VALUE_NONE, value_text("veth,1"));
        action_add_change(a, LINK_F_MODE, "mode", value_word(&bond_mode_table, 0), value_word(&bond_mode_table, 1));
        action_add_change(a, LINK_F_MTU, "size", value_size(1ull << 30), value_size(3ull << 20));
        char *text = NULL, *json = NULL;
        size_t n;
        FILE *f = open_memstream(&text, &n);
        plan_print_text(f, &p);
        fclose(f);
        char want[512];
        snprintf(want, sizeof(want),
                 "mtu 1500 -> 9000, mtu 9000 -> 9000 (held), up false -> true, +address 10.0.0.1/24, -via 10.0.0.1, "
                 "mac 02:00:00:00:00:01 -> 02:00:00:00:00:02, +port veth,1, mode %s -> %s, size 1G -> 3M\n",
                 enum_to_string(&bond_mode_table, 0), enum_to_string(&bond_mode_table, 1));
        assert_non_null(strstr(text, want));
        f = open_memstream(&json, &n);
        plan_print_json(f, &p, false, NULL, NULL);
        fclose(f);
        assert_non_null(strstr(json, "{\"field\":\"mtu\",\"from\":\"9000\",\"to\":\"9000 (held)\"}"));
        assert_non_null(strstr(json, "{\"field\":\"address\",\"from\":null,\"to\":\"10.0.0.1/24\"}"));
        free(text);
        free(json);
        /* Many entries read as counts in the text; JSON lists each. */
        for (int i = 0; i < 12; i++) {
                char e[16];
                snprintf(e, sizeof(e), "10.0.1.%d", i);
                action_add_change(a, 0, "entry", i < 9 ? VALUE_NONE : value_text(e), i < 9 ? value_text(e) : VALUE_NONE);
        }
        f = open_memstream(&text, &n);
        plan_print_text(f, &p);
        fclose(f);
        assert_non_null(strstr(text, "+9 -3 entries"));
        assert_null(strstr(text, "10.0.1.11"));
        free(text);
        plan_done(&p);
        resource_free(br);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_every_kind_round_trips),
                T(test_comment_keeps_yaml_valid),
                T(test_not_utf8_is_a_comment),
                T(test_change_words_from_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
