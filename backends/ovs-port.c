/* Open vSwitch ports, declared inside their bridge and named BRIDGE/PORT: one
 * interface (a NIC, a veth, or an internal port OVS makes), or a bond of
 * several. A port reconcile did not make (libvirt's vnetN) is never touched. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

static const char *const port_type_words[] = { "system", "internal" };
static const char *const vlan_mode_words[] = { "trunk", "access", "native-tagged", "native-untagged", "dot1q-tunnel" };
static const char *const bond_mode_words[] = { "active-backup", "balance-slb", "balance-tcp" };
static const char *const lacp_words[] = { "active", "passive", "off" };
const struct enum_table ovs_port_type_table = { "port type", port_type_words, _OVS_PORT_MAX };
const struct enum_table ovs_vlan_mode_table = { "vlan-mode", vlan_mode_words, _OVS_VLAN_MAX };
const struct enum_table ovs_bond_mode_table = { "bond-mode", bond_mode_words, _OVS_BOND_MAX };
const struct enum_table ovs_lacp_table = { "lacp", lacp_words, _OVS_LACP_MAX };

static const struct field ovs_port_fields[] = {
        { "type", FT_ENUM, R(ovs.type), 0, 0, OVS_F_TYPE, &ovs_port_type_table, NULL, NULL },
        { "tag", FT_U32, R(ovs.tag), 0, 4095, OVS_F_TAG, NULL, "VLAN tag", NULL },
        { "trunks", FT_STR_LIST, R(ovs.trunk_words), 0, 0, OVS_F_TRUNKS, NULL, NULL, NULL },
        { "vlan-mode", FT_ENUM, R(ovs.vlan_mode), 0, 0, OVS_F_VLAN_MODE, &ovs_vlan_mode_table, NULL, NULL },
        { "bond", FT_STR_LIST, R(ovs.bond), 1, 0, OVS_F_BOND, NULL, NULL, NULL },
        { "lacp", FT_ENUM, R(ovs.lacp), 0, 0, OVS_F_LACP, &ovs_lacp_table, NULL, NULL },
        { "bond-mode", FT_ENUM, R(ovs.bond_mode), 0, 0, OVS_F_BOND_MODE, &ovs_bond_mode_table, NULL, NULL },
        STATE_FIELD(state_table),
        { "other-config", FT_MAP, R(ovs.other_config), 0, 0, OVS_F_OTHER_CONFIG, NULL, NULL, NULL },
        { "external-ids", FT_MAP, R(ovs.external_ids), 0, 0, OVS_F_EXTERNAL_IDS, NULL, NULL, NULL },
};

static void ovs_port_defaults(struct resource *r) {
        r->ovs.type = OVS_PORT_SYSTEM;
        r->ovs.fail_mode = r->ovs.datapath = -1;
        r->ovs.vlan_mode = r->ovs.bond_mode = r->ovs.lacp = -1;
}

static void ovs_port_adopt_parent(struct resource *r, const struct resource *bridge) {
        snprintf(r->ovs.bridge, sizeof(r->ovs.bridge), "%s", bridge->name);
        const char *slash = strchr(r->name, '/');
        snprintf(r->ovs.port, sizeof(r->ovs.port), "%s", slash ? slash + 1 : r->name);
}

static bool trunk_has(const uint64_t t[64], unsigned v) {
        return t[v / 64] & (1ull << (v % 64));
}

/* trunks: VLAN numbers into the bitmap; a bond has members and the rest says what it can. */
static int ovs_port_check(struct check_ctx *c, struct resource *r) {
        struct ovs_spec *o = &r->ovs;
        for (size_t i = 0; i < o->trunk_words.n; i++) {
                char *end;
                unsigned long v = strtoul(o->trunk_words.v[i], &end, 10);
                if (!*o->trunk_words.v[i] || *end || v > 4095)
                        return check_item_error(c, OVS_F_TRUNKS, i, "trunks: expected a VLAN 0..4095, got \"%.32s\"",
                                                printable(o->trunk_words.v[i]));
                o->trunks[v / 64] |= 1ull << (v % 64);
        }
        if ((r->set & OVS_F_BOND) && o->bond.n < 2)
                return check_error(c, OVS_F_BOND, "ovs-port %s: a bond needs at least two members", r->name);
        if ((r->set & OVS_F_BOND) && o->type == OVS_PORT_INTERNAL)
                return check_error(c, OVS_F_TYPE, "ovs-port %s: an internal port cannot be a bond", r->name);
        for (size_t i = 0; i < o->bond.n; i++)
                if (!ifname_valid(o->bond.v[i]))
                        return check_item_error(c, OVS_F_BOND, i, "bad interface name \"%.64s\"", printable(o->bond.v[i]));
        if (!(r->set & OVS_F_BOND) && (r->set & (OVS_F_LACP | OVS_F_BOND_MODE)))
                return check_error(c, r->set & OVS_F_LACP ? OVS_F_LACP : OVS_F_BOND_MODE,
                                   "ovs-port %s: lacp and bond-mode need a bond", r->name);
        if (!(r->set & OVS_F_BOND))
                *(char **) array_push(&o->bond.v, &o->bond.n, sizeof(char *)) = xstrdup(o->port);
        return ovs_check_maps(c, r);
}

/* The bridge may be declared in another file; an internal port is an
 * interface, which no other link kind than a NIC entry (its addresses) may name. */
static int ovs_port_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        const struct resource *b = model_find(declared, KIND_OVS_BRIDGE, r->ovs.bridge);
        if (!b)
                return diag_pos(&r->pos,
                                "ovs-port %s: ovs-bridge %s is declared nowhere (an entry with only ports adds to a "
                                "bridge declared with another key, e.g. datapath, in another file)",
                                r->name, r->ovs.bridge);
        if (r->state != STATE_ABSENT && b->state == STATE_ABSENT)
                return diag_pos(&r->pos, "ovs-port %s is on ovs-bridge %s, which is declared absent", r->name, b->name);
        const struct resource *l = model_find(declared, KIND_ETHERNET, r->ovs.port);
        if (r->ovs.type == OVS_PORT_INTERNAL && l && l->kind != KIND_ETHERNET && l->state != STATE_ABSENT)
                return diag_pos(&r->pos, "ovs-port %s: internal port %s and the %s %s at %s:%u:%u are the same "
                                "interface (OVS ports share the interface name space)", r->name, r->ovs.port,
                                kind_to_string(l->kind), l->name, l->pos.file, l->pos.line, l->pos.col);
        /* The NIC entry that configures an internal port learns its bridge (its
         * parent): it needs the port, which makes it. */
        if (r->ovs.type == OVS_PORT_INTERNAL && l && l->kind == KIND_ETHERNET && r->state != STATE_ABSENT)
                snprintf(((struct resource *) l)->link.link, sizeof(l->link.link), "%s", r->ovs.bridge);
        /* A member is a port of one switch only: a Linux bridge or bond that declares it too would fight OVS for it. */
        for (size_t i = 0; r->ovs.type != OVS_PORT_INTERNAL && r->state != STATE_ABSENT && i < declared->n; i++) {
                const struct resource *m = declared->v[i];
                if (!kind_is_link(m->kind) || m->state == STATE_ABSENT)
                        continue;
                for (size_t j = 0; j < r->ovs.bond.n; j++)
                        if (str_list_contains(&m->link.interfaces, r->ovs.bond.v[j]))
                                return diag_pos(&r->pos, "ovs-port %s: %s is a port of the %s %s at %s:%u:%u too",
                                                r->name, r->ovs.bond.v[j], kind_to_string(m->kind), m->name,
                                                m->pos.file, m->pos.line, m->pos.col);
        }
        const struct resource *ob = model_find(declared, KIND_OVS_BRIDGE, r->ovs.port);
        if (ob && ob != b)
                return diag_pos(&r->pos, "ovs-port %s: %s is an OVS bridge declared at %s:%u:%u", r->name, r->ovs.port,
                                ob->pos.file, ob->pos.line, ob->pos.col);
        return 0;
}

/* Its bridge first; a NIC or veth member must exist or be declared. */
static void ovs_port_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        add(u, KIND_OVS_BRIDGE, r->ovs.bridge);
        if (r->ovs.type == OVS_PORT_INTERNAL)
                return;
        for (size_t i = 0; i < r->ovs.bond.n; i++)
                add(u, KIND_ETHERNET, r->ovs.bond.v[i]);
}

void ovs_internal_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->kind != KIND_ETHERNET || !r->link.link[0])
                return;
        char id[2 * IFNAME_MAX];
        snprintf(id, sizeof(id), "%s/%s", r->link.link, r->name);
        add(u, KIND_OVS_PORT, id);
}

/* Right after OVS makes an internal port it is down, with the default MTU and no address. */
struct resource *ovs_internal_made_with(const struct resource *w, const struct model *wanted) {
        if (!w->link.link[0])
                return NULL;
        char id[2 * IFNAME_MAX];
        snprintf(id, sizeof(id), "%s/%s", w->link.link, w->name);
        const struct resource *p = model_find(wanted, KIND_OVS_PORT, id);
        if (!p || p->state == STATE_ABSENT || p->ovs.type != OVS_PORT_INTERNAL)
                return NULL;
        struct resource *made = resource_new(KIND_ETHERNET, w->name);
        made->link.mtu = 1500;
        made->link.up = false;
        made->set = LINK_F_MTU | LINK_F_UP;
        return made;
}

static int ovs_port_admit(void *state, const struct resource *w) {
        return w->ovs.type == OVS_PORT_INTERNAL ? ovs_admit_interface(state, w, w->ovs.port) : 0;
}

static void change_word(struct action *a, uint64_t bit, const char *name, const struct enum_table *t,
                        const struct resource *w, int want, const struct resource *live, int have) {
        bool w_has = (w->set & bit) && want >= 0, l_has = (live->set & bit) && have >= 0;
        if (w_has == l_has && (!w_has || want == have))
                return;
        action_add_change(a, bit, name, l_has ? value_word(t, have) : VALUE_NONE, w_has ? value_word(t, want) : VALUE_NONE);
}

static int ovs_port_diff(void *state, const struct resource *w, const struct resource *live,
                         const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state;
        (void) owned;
        (void) p;
        const struct ovs_spec *want = &w->ovs, *have = &live->ovs;
        if (!have->managed)
                return diag_pos(&w->pos, "ovs-port %s exists and reconcile did not make it (no "
                                "external_ids:reconcile=managed): it is never changed", w->name);
        a->op = OP_UPDATE;
        if (want->type != have->type) {
                /* An interface's type is what OVS made it as: a new port. */
                a->op = OP_REPLACE;
                action_add_change(a, OVS_F_TYPE, "type", value_word(&ovs_port_type_table, have->type),
                                  value_word(&ovs_port_type_table, want->type));
                return 0;
        }
        for (size_t i = 0; i < have->bond.n; i++)
                if (!str_list_contains(&want->bond, have->bond.v[i]))
                        action_add_change(a, OVS_F_BOND, "member", value_text(have->bond.v[i]), VALUE_NONE);
        for (size_t i = 0; i < want->bond.n; i++)
                if (!str_list_contains(&have->bond, want->bond.v[i]))
                        action_add_change(a, OVS_F_BOND, "member", VALUE_NONE, value_text(want->bond.v[i]));
        bool wt = w->set & OVS_F_TAG, lt = live->set & OVS_F_TAG;
        if (wt != lt || (wt && want->tag != have->tag))
                action_add_change(a, OVS_F_TAG, "tag", lt ? value_number(have->tag) : VALUE_NONE,
                                  wt ? value_number(want->tag) : VALUE_NONE);
        /* The differing VLANs a word at a time: most ports' bitmaps are equal (empty). */
        for (unsigned word = 0; word < 64; word++)
                for (uint64_t d = want->trunks[word] ^ have->trunks[word]; d; d &= d - 1) {
                        unsigned v = word * 64 + (unsigned) __builtin_ctzll(d);
                        action_add_change(a, OVS_C_TRUNK, "trunk", trunk_has(have->trunks, v) ? value_number(v) : VALUE_NONE,
                                          trunk_has(want->trunks, v) ? value_number(v) : VALUE_NONE);
                }
        change_word(a, OVS_F_VLAN_MODE, "vlan-mode", &ovs_vlan_mode_table, w, want->vlan_mode, live, have->vlan_mode);
        change_word(a, OVS_F_LACP, "lacp", &ovs_lacp_table, w, want->lacp, live, have->lacp);
        change_word(a, OVS_F_BOND_MODE, "bond-mode", &ovs_bond_mode_table, w, want->bond_mode, live, have->bond_mode);
        ovs_diff_map(a, OVS_F_OTHER_CONFIG, "other-config", &want->other_config, &have->other_config);
        ovs_diff_map(a, OVS_F_EXTERNAL_IDS, "external-ids", &want->external_ids, &have->external_ids);
        return 0;
}

static struct json_object *int_set(const uint64_t trunks[64]) {
        struct json_object *items = json_object_new_array();
        for (unsigned v = 0; v < 4096; v++)
                if (trunk_has(trunks, v))
                        json_object_array_add(items, json_object_new_int(v));
        return ovs_set(items);
}

/* The Port columns of these fields as r has them (its members aside). */
static struct json_object *port_row(const struct resource *r, uint64_t fields) {
        struct json_object *row = json_object_new_object();
        const struct ovs_spec *o = &r->ovs;
        if (fields & OVS_F_TAG)
                json_object_object_add(row, "tag", (r->set & OVS_F_TAG) ? json_object_new_int64(o->tag)
                                                                         : ovs_set(json_object_new_array()));
        if (fields & OVS_C_TRUNK)
                json_object_object_add(row, "trunks", int_set(o->trunks));
        if (fields & OVS_F_VLAN_MODE)
                json_object_object_add(row, "vlan_mode", ovs_optional_word(&ovs_vlan_mode_table,
                                                                           r->set & OVS_F_VLAN_MODE ? o->vlan_mode : -1));
        if (fields & OVS_F_LACP)
                json_object_object_add(row, "lacp", ovs_optional_word(&ovs_lacp_table, r->set & OVS_F_LACP ? o->lacp : -1));
        if (fields & OVS_F_BOND_MODE)
                json_object_object_add(row, "bond_mode", ovs_optional_word(&ovs_bond_mode_table,
                                                                           r->set & OVS_F_BOND_MODE ? o->bond_mode : -1));
        /* The maps whole, as a wait compares them; they change by mutate. */
        if (fields & OVS_F_OTHER_CONFIG)
                json_object_object_add(row, "other_config", ovs_map_json(&o->other_config, false));
        if (fields & OVS_F_EXTERNAL_IDS)
                json_object_object_add(row, "external_ids", ovs_map_json(&o->external_ids, false));
        return row;
}

/* Insert an Interface row for member i of w, named "iface<i>" in the transaction. */
static struct json_object *insert_iface(struct json_object *t, const struct resource *w, size_t i) {
        char uuid_name[32];
        snprintf(uuid_name, sizeof(uuid_name), "iface%zu", i);
        struct json_object *op = ovs_op("insert", "Interface", NULL), *row = json_object_new_object();
        json_object_object_add(row, "name", json_object_new_string(w->ovs.bond.v[i]));
        if (w->ovs.type == OVS_PORT_INTERNAL)
                json_object_object_add(row, "type", json_object_new_string("internal"));
        json_object_object_add(row, "external_ids", ovs_managed_ids());
        json_object_object_add(op, "row", row);
        json_object_object_add(op, "uuid-name", json_object_new_string(uuid_name));
        json_object_array_add(t, op);
        return ovs_pair("named-uuid", uuid_name);
}

/* The interfaces column for w: members live already has keep their rows. */
static struct json_object *members(struct json_object *t, const struct resource *w, const struct resource *live) {
        struct json_object *items = json_object_new_array();
        for (size_t i = 0; i < w->ovs.bond.n; i++) {
                size_t j = live ? live->ovs.bond.n : 0;
                while (j-- > 0)
                        if (strcmp(live->ovs.bond.v[j], w->ovs.bond.v[i]) == 0)
                                break;
                json_object_array_add(items, live && j < live->ovs.bond.n && j < live->ovs.member_uuids.n
                                                     ? ovs_pair("uuid", live->ovs.member_uuids.v[j])
                                                     : insert_iface(t, w, i));
        }
        return ovs_set(items);
}

static struct json_object *bridge_where(const char *bridge) {
        return ovs_where("name", json_object_new_string(bridge));
}

static void port_delete_ops(struct json_object *t, const struct resource *live) {
        struct json_object *seen = json_object_new_object();
        json_object_object_add(seen, "name", json_object_new_string(live->ovs.port));
        json_object_array_add(t, ovs_op_wait_row("Port", live->ovs.uuid, seen));
        json_object_array_add(t, ovs_op_mutate_set("Bridge", bridge_where(live->ovs.bridge), "ports", "delete",
                                                   ovs_pair("uuid", live->ovs.uuid)));
}

static void port_create_ops(struct json_object *t, const struct resource *w, bool replacing) {
        if (!replacing)
                json_object_array_add(t, ovs_op_wait_no_name("Port", w->ovs.port));
        /* The bridge is there (made earlier in this plan, or before). */
        struct json_object *cols = json_object_new_array(), *rows = json_object_new_array(),
                           *brow = json_object_new_object();
        json_object_array_add(cols, json_object_new_string("name"));
        json_object_object_add(brow, "name", json_object_new_string(w->ovs.bridge));
        json_object_array_add(rows, brow);
        json_object_array_add(t, ovs_op_wait("Bridge", bridge_where(w->ovs.bridge), cols, rows));
        struct json_object *op = ovs_op("insert", "Port", NULL);
        struct json_object *row = port_row(w, OVS_F_TAG | OVS_C_TRUNK | OVS_F_VLAN_MODE | OVS_F_LACP | OVS_F_BOND_MODE |
                                                      (w->set & OVS_F_OTHER_CONFIG));
        json_object_object_add(row, "name", json_object_new_string(w->ovs.port));
        json_object_object_add(row, "interfaces", members(t, w, NULL));
        json_object_object_add(row, "external_ids", ovs_map_json(&w->ovs.external_ids, true));
        json_object_object_add(op, "row", row);
        json_object_object_add(op, "uuid-name", json_object_new_string("port"));
        json_object_array_add(t, op);
        json_object_array_add(t, ovs_op_mutate_set("Bridge", bridge_where(w->ovs.bridge), "ports", "insert",
                                                   ovs_pair("named-uuid", "port")));
}

/* Update the row with now (taken) unless it has nothing, then mutate the maps' declared keys. */
static void port_update_ops(struct json_object *t, const struct action *a, struct json_object *now) {
        const struct resource *live = a->live;
        json_object_object_del(now, "other_config");
        json_object_object_del(now, "external_ids");
        if (json_object_object_length(now)) {
                struct json_object *up = ovs_op("update", "Port", ovs_where("_uuid", ovs_pair("uuid", live->ovs.uuid)));
                json_object_object_add(up, "row", now);
                json_object_array_add(t, up);
        } else
                json_object_put(now);
        struct json_object *m = ovs_op_mutate_map("Port", live->ovs.uuid, "other_config", &a->want->ovs.other_config,
                                                  &live->ovs.other_config);
        if (m)
                json_object_array_add(t, m);
        m = ovs_op_mutate_map("Port", live->ovs.uuid, "external_ids", &a->want->ovs.external_ids,
                              &live->ovs.external_ids);
        if (m)
                json_object_array_add(t, m);
}

struct json_object *ovs_port_txn(const struct action *a) {
        struct json_object *t = ovs_txn_begin();
        const struct resource *live = a->live, *w = a->want;
        switch (a->op) {
        case OP_CREATE:
                port_create_ops(t, w, false);
                break;
        case OP_REPLACE:
                port_delete_ops(t, live);
                port_create_ops(t, w, true);
                break;
        case OP_UPDATE:
        case OP_ADOPT: {
                uint64_t fields = 0;
                for (size_t i = 0; i < a->n_changes; i++)
                        fields |= a->changes[i].field;
                if (!fields)
                        break;
                struct json_object *seen = port_row(live, fields);
                json_object_object_add(seen, "name", json_object_new_string(live->ovs.port));
                struct json_object *now = port_row(w, fields);
                if (fields & OVS_F_BOND) {
                        struct json_object *had = json_object_new_array();
                        for (size_t i = 0; i < live->ovs.member_uuids.n; i++)
                                json_object_array_add(had, ovs_pair("uuid", live->ovs.member_uuids.v[i]));
                        json_object_object_add(seen, "interfaces", ovs_set(had));
                }
                json_object_array_add(t, ovs_op_wait_row("Port", live->ovs.uuid, seen));
                if (fields & OVS_F_BOND)
                        json_object_object_add(now, "interfaces", members(t, w, live));
                port_update_ops(t, a, now);
                break;
        }
        case OP_DELETE:
                port_delete_ops(t, live);
                break;
        default:
                break;
        }
        return t;
}

static int ovs_port_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        (void) l;
        (void) e;
        /* An internal port is a device the link kinds may configure next in this plan. */
        bool makes_device = a->want && a->want->ovs.type == OVS_PORT_INTERNAL && a->op != OP_UPDATE;
        return ovs_apply(state, a, ovs_port_txn, makes_device ? OVS_WAIT_ALWAYS : OVS_WAIT_NEVER);
}

static void ovs_port_describe(const struct resource *w, struct action *a) {
        if (w->ovs.type == OVS_PORT_INTERNAL)
                action_add_set(a, OVS_F_TYPE, "type", value_word(&ovs_port_type_table, w->ovs.type));
        if (w->set & OVS_F_BOND)
                for (size_t i = 0; i < w->ovs.bond.n; i++)
                        action_add_set(a, OVS_F_BOND, "member", value_text(w->ovs.bond.v[i]));
        if (w->set & OVS_F_TAG)
                action_add_set(a, OVS_F_TAG, "tag", value_number(w->ovs.tag));
        for (unsigned v = 0; v < 4096; v++)
                if (trunk_has(w->ovs.trunks, v))
                        action_add_set(a, OVS_C_TRUNK, "trunk", value_number(v));
}

const struct kind_ops ovs_port_kind = {
        .word = "ovs-port",
        .section = "ovs-ports",
        .backend = &ovs_backend,
        .deps = ovs_port_deps,
        .diff = ovs_port_diff,
        .admit = ovs_port_admit,
        .apply = ovs_port_apply,
        .describe = ovs_port_describe,
        .refuses_delete = ovs_refuses_delete,
        .dep_role = "member",
        .flags = KF_CHILD,
        .show_rank = 8,
        .fields = ovs_port_fields,
        .n_fields = ELEMENTSOF(ovs_port_fields),
        .defaults = ovs_port_defaults,
        .adopt_parent = ovs_port_adopt_parent,
        .name_valid = ifname_valid,
        .name_error = "bad OVS port name \"%.64s\": 1-15 bytes, no '/', ':' or white space",
        .check = ovs_port_check,
        .validate = ovs_port_validate,
        .validate_phases = 1u << 6,
        .free = ovs_free,
};
