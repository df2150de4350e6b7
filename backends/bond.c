/* Bonds: members, mode, link monitoring and hashing. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "kind.h"

static const struct field bond_fields[] = {
        { "interfaces", FT_STR_LIST, R(link.interfaces), 1, 0, LINK_F_INTERFACES, NULL, NULL, NULL },
        { "mode", FT_ENUM, R(link.mode), 0, 0, LINK_F_MODE, &bond_mode_table, NULL, NULL },
        { "miimon", FT_U32, R(link.miimon), 0, INT32_MAX, LINK_F_MIIMON, NULL, NULL, NULL },
        { "lacp-rate", FT_ENUM, R(link.lacp_rate), 0, 0, LINK_F_LACP_RATE, &lacp_rate_table, NULL, NULL },
        { "xmit-hash-policy", FT_ENUM, R(link.xmit_hash), 0, 0, LINK_F_XMIT_HASH, &xmit_hash_table, NULL, NULL },
        LINK_COMMON_FIELDS,
};

static void bond_defaults(struct resource *r) {
        link_defaults(r);
        r->link.mode = BOND_BALANCE_RR;
}

static int bond_check(struct check_ctx *c, struct resource *r) {
        if ((r->set & LINK_F_LACP_RATE) && r->link.mode != BOND_8023AD)
                return check_error(c, 0, "bond %s: lacp-rate needs mode 802.3ad", r->name);
        return 0;
}

/* A bond gives its MTU to every member (when it takes one and when its own
 * changes), so a member's declared MTU holds only if the bond has it too: a
 * bond without one takes its members' MTU; one that differs is an error at the
 * member, as the kernel would undo it. */
static int bond_validate(struct resource *bond, struct model *declared, unsigned phase) {
        (void) phase;
        const struct resource *from = NULL;
        int ret = 0;
        if (bond->state == STATE_ABSENT)
                return 0;
        for (size_t i = 0; i < bond->link.interfaces.n; i++) {
                const struct resource *m = model_find(declared, KIND_ETHERNET, bond->link.interfaces.v[i]);
                if (!m || m->state == STATE_ABSENT || !(m->set & LINK_F_MTU))
                        continue;
                if (!(bond->set & LINK_F_MTU)) {
                        bond->link.mtu = m->link.mtu;
                        bond->set |= LINK_F_MTU;
                        from = m;
                } else if (m->link.mtu != bond->link.mtu)
                        ret = diag_pos(&m->pos,
                                       "%s %s: mtu %u cannot hold: bond %s gives its members its own MTU, %u%s%s",
                                       kind_to_string(m->kind), m->name, m->link.mtu, bond->name, bond->link.mtu,
                                       from ? ", taken from " : "", from ? from->name : "");
        }
        return ret;
}

static void bond_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct link_spec *l = &r->link;
        (void) s;
        link_show_begin(w, r);
        link_show_ports(w, r);
        yw_kv_word(w, "mode", enum_to_string(&bond_mode_table, l->mode));
        if (r->set & LINK_F_MIIMON)
                yw_kv_uint(w, "miimon", l->miimon);
        if ((r->set & LINK_F_LACP_RATE) && l->mode == BOND_8023AD)
                yw_kv_word(w, "lacp-rate", enum_to_string(&lacp_rate_table, l->lacp_rate));
        if (r->set & LINK_F_XMIT_HASH)
                yw_kv_word(w, "xmit-hash-policy", enum_to_string(&xmit_hash_table, l->xmit_hash));
        link_show_end(w, r, true);
}

static void bond_diff_in_place(const struct resource *w, const struct resource *live, struct action *a) {
        const struct link_spec *want = &w->link, *have = &live->link;
        if (want->mode != have->mode)
                link_change_enum(a, LINK_F_MODE, "mode", &bond_mode_table, have->mode, want->mode);
        if ((w->set & LINK_F_MIIMON) && want->miimon != have->miimon)
                link_change_u32(a, LINK_F_MIIMON, "miimon", have->miimon, want->miimon);
        if ((w->set & LINK_F_LACP_RATE) && want->lacp_rate != have->lacp_rate)
                link_change_enum(a, LINK_F_LACP_RATE, "lacp-rate", &lacp_rate_table, have->lacp_rate, want->lacp_rate);
        if ((w->set & LINK_F_XMIT_HASH) && want->xmit_hash != have->xmit_hash)
                link_change_enum(a, LINK_F_XMIT_HASH, "xmit-hash-policy", &xmit_hash_table, have->xmit_hash, want->xmit_hash);
}

static enum kind bond_observe_info(struct resource *r, struct nlattr *data) {
        struct nlattr *tb[IFLA_BOND_MAX + 1] = { 0 };
        struct link_spec *l = &r->link;
        if (!data || nla_parse_nested(tb, IFLA_BOND_MAX, data, NULL) < 0)
                return r->kind;
        if (tb[IFLA_BOND_MODE]) {
                l->mode = nla_get_u8(tb[IFLA_BOND_MODE]);
                r->set |= LINK_F_MODE;
        }
        if (tb[IFLA_BOND_MIIMON]) {
                l->miimon = nla_get_u32(tb[IFLA_BOND_MIIMON]);
                r->set |= LINK_F_MIIMON;
        }
        if (tb[IFLA_BOND_AD_LACP_RATE]) {
                l->lacp_rate = nla_get_u8(tb[IFLA_BOND_AD_LACP_RATE]);
                r->set |= LINK_F_LACP_RATE;
        }
        if (tb[IFLA_BOND_XMIT_HASH_POLICY]) {
                l->xmit_hash = nla_get_u8(tb[IFLA_BOND_XMIT_HASH_POLICY]);
                r->set |= LINK_F_XMIT_HASH;
        }
        return r->kind;
}

static int bond_put_info(struct nl_msg *msg, const struct link_put *p) {
        const struct resource *r = p->r;
        const struct link_spec *l = &r->link;
        uint64_t f = p->fields;
        int e = 0;
        if (f & LINK_F_MODE)
                e = e ?: nla_put_u8(msg, IFLA_BOND_MODE, (uint8_t) l->mode);
        if ((f & LINK_F_MIIMON) && (r->set & LINK_F_MIIMON))
                e = e ?: nla_put_u32(msg, IFLA_BOND_MIIMON, l->miimon);
        if ((f & LINK_F_LACP_RATE) && (r->set & LINK_F_LACP_RATE))
                e = e ?: nla_put_u8(msg, IFLA_BOND_AD_LACP_RATE, (uint8_t) l->lacp_rate);
        if ((f & LINK_F_XMIT_HASH) && (r->set & LINK_F_XMIT_HASH))
                e = e ?: nla_put_u8(msg, IFLA_BOND_XMIT_HASH_POLICY, (uint8_t) l->xmit_hash);
        return e < 0 ? -ENOMEM : 0;
}

/* ---- apply: what only a bond needs ---- */

/* A bond takes a member only while the member is down, and brings it up
 * itself; one it lets go (or refuses) comes back up, as it was. */
static int bond_enslave(struct link_state *s, const struct action *a, const char *port, int pidx, int master) {
        (void) a;
        int flags = 0, r = 0;
        if (master) {
                flags = link_flags(s, port);
                r = link_send(s, &LINK_REQ(.ifindex = pidx, .up = UP_CLEAR));
        }
        if (r >= 0)
                r = link_send(s, &LINK_REQ(.ifindex = pidx, .set_master = true, .master = master));
        if (r >= 0 && !master)
                r = link_send(s, &LINK_REQ(.ifindex = pidx, .up = UP_SET));
        if (r < 0 && master && flags > 0 && (flags & IFF_UP))
                (void) link_send(s, &LINK_REQ(.ifindex = pidx, .up = UP_SET));
        return r;
}

/* Mode and LACP rate change only with the bond down and, for the mode,
 * without members: released, down, changed, members back (the plan's port
 * changes follow). Returns 1: it went down. */
static int bond_update(struct link_state *s, const struct action *a, int ifindex, uint64_t fields, struct ledger *l,
                       struct ledger_entry *e) {
        const struct resource *live = a->live;
        bool mode = fields & LINK_F_MODE;
        int r = 0;
        (void) l;
        (void) e;
        for (size_t i = 0; mode && i < live->link.interfaces.n && r >= 0; i++)
                if (link_ifindex(s, live->link.interfaces.v[i]) > 0)
                        r = link_set_master(s, a, live->link.interfaces.v[i], 0);
        if (r >= 0 && live->link.up)
                r = link_set_up(s, a, ifindex, false);
        if (r >= 0 && (r = link_send(s, &LINK_REQ(.ifindex = ifindex, .kind = a->kind, .data = a->want,
                                                   .data_fields = fields))) < 0)
                r = link_fail(s, a, r, "changing the mode");
        for (size_t i = 0; mode && i < live->link.interfaces.n && r >= 0; i++)
                r = link_set_master(s, a, live->link.interfaces.v[i], ifindex);
        return r < 0 ? r : 1;
}

/* A deleted bond leaves its members closed: they come back up. */
static int bond_deleted(struct link_state *s, const struct action *a) {
        int r = 0;
        for (size_t i = 0; a->live && i < a->live->link.interfaces.n && r >= 0; i++) {
                int member = link_ifindex(s, a->live->link.interfaces.v[i]);
                if (member > 0 && (r = link_send(s, &LINK_REQ(.ifindex = member, .up = UP_SET))) < 0)
                        r = link_fail(s, a, r, "setting a former member up");
        }
        return r;
}

static void bond_assess(struct action *a, const struct model *live) {
        (void) live;
        for (size_t i = 0; a->op == OP_UPDATE && i < a->n_changes; i++)
                if (a->changes[i].field & (LINK_F_MODE | LINK_F_LACP_RATE)) {
                        action_add_risk(a, "bond %s goes down and releases its members for the change: traffic over it "
                                         "stops briefly",
                                      a->name);
                        return;
                }
}

static int bond_admit(void *state, const struct resource *want) {
        (void) state;
        return module_needed(want, "bonding");
}

static const struct link_kind bond_link = { .info_kind = "bond", .has_ports = true,
                                            .own_fields = LINK_F_MODE | LINK_F_LACP_RATE, .diff_in_place = bond_diff_in_place,
                                            .observe_info = bond_observe_info, .put_info = bond_put_info,
                                            .enslave = bond_enslave, .update = bond_update, .deleted = bond_deleted,
                                            .assess = bond_assess };

const struct kind_ops bond_kind = {
        .word = "bond",
        .section = "bonds",
        LINK_KIND_COMMON,
        .dep_role = "port",
        .impl = &bond_link,
        .show_as = link_show_as,
        .defaults = bond_defaults,
        .flags = KF_REVERTIBLE,
        .show_rank = 1,
        .fields = bond_fields,
        .n_fields = ELEMENTSOF(bond_fields),
        .check = bond_check,
        .admit = bond_admit,
        .validate = bond_validate,
        .validate_phases = 1u << 0,
        .show = bond_show,
};
