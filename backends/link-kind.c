/* What every link kind has: defaults, names, the common keys of its show
 * entry, and the checks across links a field table cannot express. */
#include <linux/if_addr.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kind.h"

bool kind_is_link(enum kind k) {
        return kind_class(k) == kind_class(KIND_ETHERNET);
}

void link_defaults(struct resource *r) {
        r->link.up = true;
        r->link.forward_delay = 15;
        r->link.learning = true;
        r->link.port = 4789; /* IANA's VXLAN port; the kernel's own default is Linux's old 8472 */
        r->link.mode = MVLAN_BRIDGE;
}

void link_free(struct resource *r) {
        free(r->link.addresses.v);
        str_list_done(&r->link.interfaces);
}

/* ---- changes as the link kinds record them ---- */

void link_change_u32(struct action *a, uint64_t field, const char *name, uint32_t from, uint32_t to) {
        action_add_change(a, field, name, value_number(from), value_number(to));
}

void link_change_bool(struct action *a, uint64_t field, const char *name, bool from, bool to) {
        action_add_change(a, field, name, value_bool(from), value_bool(to));
}

void link_change_enum(struct action *a, uint64_t field, const char *name, const struct enum_table *t, int from, int to) {
        action_add_change(a, field, name, value_word(t, from), value_word(t, to));
}

/* An address field (VXLAN remote, local, group): declared or not, and which. */
void link_change_ip(struct action *a, const struct resource *w, const struct resource *live, uint64_t bit, const char *name,
                    const struct ipaddr *want, const struct ipaddr *have) {
        bool differs = !(w->set & bit) != !(live->set & bit) || ((w->set & bit) && !ipaddr_equal(want, have));
        if (differs)
                action_add_change(a, bit, name, live->set & bit ? value_addr(have) : VALUE_NONE,
                                  w->set & bit ? value_addr(want) : VALUE_NONE);
}

/* A user or group id the manifest declares, where the live one differs or is unset. */
void link_change_id(struct action *a, const struct resource *w, const struct resource *live, uint64_t bit,
                    const char *name, uint32_t want, uint32_t have) {
        if (!(w->set & bit) || ((live->set & bit) && want == have))
                return;
        action_add_change(a, bit, name, live->set & bit ? value_number(have) : VALUE_NONE, value_number(want));
}

const char *link_device_type(const struct resource *live) {
        return live->link.type[0] ? live->link.type : NULL;
}

const char *link_master_of(const struct resource *live) {
        return live->link.master[0] ? live->link.master : NULL;
}

enum kind link_show_as(const struct resource *r, const struct show_ctx *s) {
        (void) s;
        return strcmp(r->name, "lo") == 0 ? _KIND_INVALID : r->kind;
}

void link_show_begin(struct yw *w, const struct resource *r) {
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
}

void link_show_ports(struct yw *w, const struct resource *r) {
        yw_word(w, "interfaces");
        yw_seq(w, true);
        for (size_t i = 0; i < r->link.interfaces.n; i++)
                yw_name(w, r->link.interfaces.v[i]);
        yw_end_seq(w);
}

static void show_addresses(struct yw *w, const struct link_spec *l) {
        char buf[64];
        yw_word(w, "addresses");
        yw_seq(w, true);
        for (size_t i = 0; i < l->addresses.n; i++) {
                const struct ipaddr *ip = &l->addresses.v[i];
                bool ll = ip->family == AF_INET6 && ip->a[0] == 0xfe && (ip->a[1] & 0xc0) == 0x80;
                if (!(ip->flags & IFA_F_PERMANENT) || ll)
                        continue;
                yw_str(w, ipaddr_format(ip, true, buf, sizeof(buf)));
        }
        yw_end_seq(w);
}

/* Show wrote the static addresses only: read back, they are static. */
void link_from_snapshot(struct resource *r) {
        for (size_t i = 0; i < r->link.addresses.n; i++)
                r->link.addresses.v[i].flags |= IFA_F_PERMANENT;
}

void link_show_end(struct yw *w, const struct resource *r, bool with_mac) {
        const struct link_spec *l = &r->link;
        char mac[18];
        yw_kv_uint(w, "mtu", l->mtu);
        /* A link without a hardware address (or none read) has nothing a manifest could set. */
        static const unsigned char no_mac[6];
        if (with_mac && memcmp(l->mac, no_mac, sizeof(no_mac)) != 0)
                yw_kv_str(w, "mac", mac_format(l->mac, mac));
        yw_kv_bool(w, "up", l->up);
        show_addresses(w, l);
        yw_end_map(w);
        yw_entry_end(w, r);
}

/* A VLAN, macvlan or macvtap may not be larger than its parent. */
int link_validate_child_mtu(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        if (r->state == STATE_ABSENT || !(r->set & LINK_F_MTU))
                return 0;
        const struct resource *p = model_find(declared, KIND_ETHERNET, r->link.link);
        if (!p || p->state == STATE_ABSENT || !(p->set & LINK_F_MTU) || r->link.mtu <= p->link.mtu)
                return 0;
        return diag_pos(&r->pos, "%s %s: mtu %u is above the mtu of its parent %s, %u (the kernel refuses it)",
                        kind_to_string(r->kind), r->name, r->link.mtu, p->name, p->link.mtu);
}

static bool same_host(const struct ipaddr *a, const struct ipaddr *b) {
        return a->family == b->family && memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

const char *link_address_owner(const struct model *m, const struct ipaddr *a, bool exact) {
        for (size_t i = 0; i < m->n; i++) {
                const struct resource *r = m->v[i];
                if (!kind_is_link(r->kind) || r->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->link.addresses.n; j++)
                        if (exact ? same_host(&r->link.addresses.v[j], a) : ipaddr_in_subnet(&r->link.addresses.v[j], a))
                                return r->name;
        }
        return NULL;
}
