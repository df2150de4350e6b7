/* Open vSwitch bridges, with their ports declared inside them (ovs-port.c).
 * A bridge reconcile makes carries external_ids:reconcile=managed, as does its
 * local port; one without the mark is never changed or removed. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

extern const struct kind_ops ovs_port_kind;

static const char *const fail_mode_words[] = { "standalone", "secure" };
static const char *const datapath_words[] = { "system", "netdev" };
const struct enum_table ovs_fail_mode_table = { "fail-mode", fail_mode_words, _OVS_FAIL_MAX };
const struct enum_table ovs_datapath_table = { "datapath", datapath_words, _OVS_DP_MAX };

static const struct field ovs_bridge_fields[] = {
        { "ports", FT_CHILDREN, 0, 0, 0, 0, &ovs_port_kind, NULL, NULL },
        { "fail-mode", FT_ENUM, R(ovs.fail_mode), 0, 0, OVS_F_FAIL_MODE, &ovs_fail_mode_table, NULL, NULL },
        { "stp", FT_BOOL, R(ovs.stp), 0, 0, OVS_F_STP, NULL, NULL, NULL },
        { "datapath", FT_ENUM, R(ovs.datapath), 0, 0, OVS_F_DATAPATH, &ovs_datapath_table, NULL, NULL },
        STATE_FIELD(state_table),
        { "other-config", FT_MAP, R(ovs.other_config), 0, 0, OVS_F_OTHER_CONFIG, NULL, NULL, NULL },
        { "external-ids", FT_MAP, R(ovs.external_ids), 0, 0, OVS_F_EXTERNAL_IDS, NULL, NULL, NULL },
};

/* fail-mode unset leaves OVS's own choice; STP is off and the kernel's datapath used unless said. */
static void ovs_bridge_defaults(struct resource *r) {
        r->ovs.fail_mode = -1;
        r->ovs.stp = false;
        r->ovs.datapath = OVS_DP_SYSTEM;
        r->ovs.type = r->ovs.vlan_mode = r->ovs.bond_mode = r->ovs.lacp = -1;
}

/* The bridge is an interface too (its local port): a link of the same name is the same device. */
static int ovs_bridge_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        const struct resource *l = model_find(declared, KIND_ETHERNET, r->name);
        if (l && l->kind != KIND_ETHERNET && r->state != STATE_ABSENT && l->state != STATE_ABSENT)
                return diag_pos(&r->pos, "ovs-bridge %s: the %s %s at %s:%u:%u is the same interface (OVS bridges "
                                "and ports share the interface name space)", r->name, kind_to_string(l->kind),
                                l->name, l->pos.file, l->pos.line, l->pos.col);
        return 0;
}

static int ovs_bridge_admit(void *state, const struct resource *w) {
        return ovs_admit_interface(state, w, w->name);
}

static int ovs_bridge_diff(void *state, const struct resource *w, const struct resource *live,
                           const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state;
        (void) owned;
        (void) p;
        if (!live->ovs.managed)
                return diag_pos(&w->pos, "ovs-bridge %s exists and reconcile did not make it (no "
                                "external_ids:reconcile=managed): it is never changed", w->name);
        a->op = OP_UPDATE;
        const struct ovs_spec *want = &w->ovs, *have = &live->ovs;
        if ((w->set & OVS_F_FAIL_MODE) && want->fail_mode != have->fail_mode)
                action_add_change(a, OVS_F_FAIL_MODE, "fail-mode",
                                  have->fail_mode >= 0 ? value_word(&ovs_fail_mode_table, have->fail_mode) : VALUE_NONE,
                                  value_word(&ovs_fail_mode_table, want->fail_mode));
        if (want->stp != have->stp)
                action_add_change(a, OVS_F_STP, "stp", value_bool(have->stp), value_bool(want->stp));
        if (want->datapath != have->datapath)
                action_add_change(a, OVS_F_DATAPATH, "datapath", value_word(&ovs_datapath_table, have->datapath),
                                  value_word(&ovs_datapath_table, want->datapath));
        ovs_diff_map(a, OVS_F_OTHER_CONFIG, "other-config", &want->other_config, &have->other_config);
        ovs_diff_map(a, OVS_F_EXTERNAL_IDS, "external-ids", &want->external_ids, &have->external_ids);
        return 0;
}

/* The Bridge columns of these fields, as r has them. */
static struct json_object *bridge_row(const struct resource *r, uint64_t fields) {
        struct json_object *row = json_object_new_object();
        if (fields & OVS_F_FAIL_MODE)
                json_object_object_add(row, "fail_mode", ovs_optional_word(&ovs_fail_mode_table, r->ovs.fail_mode));
        if (fields & OVS_F_STP)
                json_object_object_add(row, "stp_enable", json_object_new_boolean(r->ovs.stp));
        if (fields & OVS_F_DATAPATH)
                json_object_object_add(row, "datapath_type",
                                       json_object_new_string(enum_to_string(&ovs_datapath_table, r->ovs.datapath)));
        /* The maps as they are whole (what a wait compares); they change by mutate, key by key. */
        if (fields & OVS_F_OTHER_CONFIG)
                json_object_object_add(row, "other_config", ovs_map_json(&r->ovs.other_config, false));
        if (fields & OVS_F_EXTERNAL_IDS)
                json_object_object_add(row, "external_ids", ovs_map_json(&r->ovs.external_ids, false));
        return row;
}

/* Update the row, then mutate the maps' declared keys. */
static void bridge_update_ops(struct json_object *t, const struct action *a, uint64_t fields) {
        const struct resource *live = a->live;
        uint64_t maps = OVS_F_OTHER_CONFIG | OVS_F_EXTERNAL_IDS;
        if (fields & ~maps) {
                struct json_object *up = ovs_op("update", "Bridge", ovs_where("_uuid", ovs_pair("uuid", live->ovs.uuid)));
                json_object_object_add(up, "row", bridge_row(a->want, fields & ~maps));
                json_object_array_add(t, up);
        }
        struct json_object *m = ovs_op_mutate_map("Bridge", live->ovs.uuid, "other_config",
                                                  &a->want->ovs.other_config, &live->ovs.other_config);
        if (m)
                json_object_array_add(t, m);
        m = ovs_op_mutate_map("Bridge", live->ovs.uuid, "external_ids", &a->want->ovs.external_ids,
                              &live->ovs.external_ids);
        if (m)
                json_object_array_add(t, m);
}

static void add_named(struct json_object *o, const char *uuid_name) {
        json_object_object_add(o, "uuid-name", json_object_new_string(uuid_name));
}

/* Bridge, local port and its internal interface, and the root's reference, in one go. */
static void bridge_create_ops(struct json_object *t, const struct resource *w) {
        json_object_array_add(t, ovs_op_wait_no_name("Bridge", w->name));
        struct json_object *iface = ovs_op("insert", "Interface", NULL), *irow = json_object_new_object();
        json_object_object_add(irow, "name", json_object_new_string(w->name));
        json_object_object_add(irow, "type", json_object_new_string("internal"));
        json_object_object_add(irow, "external_ids", ovs_managed_ids());
        json_object_object_add(iface, "row", irow);
        add_named(iface, "local_iface");
        json_object_array_add(t, iface);
        struct json_object *port = ovs_op("insert", "Port", NULL), *prow = json_object_new_object();
        json_object_object_add(prow, "name", json_object_new_string(w->name));
        json_object_object_add(prow, "interfaces", ovs_pair("named-uuid", "local_iface"));
        json_object_object_add(prow, "external_ids", ovs_managed_ids());
        json_object_object_add(port, "row", prow);
        add_named(port, "local_port");
        json_object_array_add(t, port);
        struct json_object *br = ovs_op("insert", "Bridge", NULL);
        struct json_object *brow = bridge_row(w, OVS_F_STP | OVS_F_DATAPATH | (w->set & OVS_F_FAIL_MODE) |
                                                         (w->set & OVS_F_OTHER_CONFIG));
        json_object_object_add(brow, "name", json_object_new_string(w->name));
        json_object_object_add(brow, "ports", ovs_pair("named-uuid", "local_port"));
        json_object_object_add(brow, "external_ids", ovs_map_json(&w->ovs.external_ids, true));
        json_object_object_add(br, "row", brow);
        add_named(br, "bridge");
        json_object_array_add(t, br);
        json_object_array_add(t, ovs_op_mutate_set("Open_vSwitch", json_object_new_array(), "bridges", "insert",
                                                   ovs_pair("named-uuid", "bridge")));
}

struct json_object *ovs_bridge_txn(const struct action *a) {
        struct json_object *t = ovs_txn_begin();
        const struct resource *live = a->live;
        switch (a->op) {
        case OP_CREATE:
                bridge_create_ops(t, a->want);
                break;
        case OP_UPDATE:
        case OP_ADOPT: {
                uint64_t fields = 0;
                for (size_t i = 0; i < a->n_changes; i++)
                        fields |= a->changes[i].field;
                if (!fields)
                        break;
                /* The row as the plan saw it (datapath_type aside: OVS keeps "" for
                 * system), then the new values. */
                struct json_object *seen = bridge_row(live, fields & ~(uint64_t) OVS_F_DATAPATH);
                json_object_object_add(seen, "name", json_object_new_string(live->name));
                json_object_array_add(t, ovs_op_wait_row("Bridge", live->ovs.uuid, seen));
                bridge_update_ops(t, a, fields);
                break;
        }
        case OP_DELETE: {
                struct json_object *seen = json_object_new_object();
                json_object_object_add(seen, "name", json_object_new_string(live->name));
                json_object_array_add(t, ovs_op_wait_row("Bridge", live->ovs.uuid, seen));
                /* Ports and interfaces are not roots: OVSDB removes them with the bridge. */
                json_object_array_add(t, ovs_op_mutate_set("Open_vSwitch", json_object_new_array(), "bridges", "delete",
                                                           ovs_pair("uuid", live->ovs.uuid)));
                break;
        }
        default:
                break;
        }
        return t;
}

static int ovs_bridge_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        (void) l;
        (void) e;
        /* A new bridge is a device a guest or a link may use next in this plan. */
        return ovs_apply(state, a, ovs_bridge_txn, a->op == OP_CREATE ? OVS_WAIT_IF_USED : OVS_WAIT_NEVER);
}

static void ovs_bridge_describe(const struct resource *w, struct action *a) {
        if (w->set & OVS_F_FAIL_MODE)
                action_add_set(a, OVS_F_FAIL_MODE, "fail-mode", value_word(&ovs_fail_mode_table, w->ovs.fail_mode));
        action_add_set(a, OVS_F_STP, "stp", value_bool(w->ovs.stp));
        action_add_set(a, OVS_F_DATAPATH, "datapath", value_word(&ovs_datapath_table, w->ovs.datapath));
}

/* VLAN ranges as OVS users write them are lists of numbers: shown one by one. */
static void show_trunks(struct yw *w, const uint64_t trunks[64]) {
        bool any = false;
        for (unsigned v = 0; v < 4096; v++) {
                if (!(trunks[v / 64] & (1ull << (v % 64))))
                        continue;
                if (!any) {
                        yw_word(w, "trunks");
                        yw_seq(w, true);
                }
                any = true;
                yw_uint(w, v);
        }
        if (any)
                yw_end_seq(w);
}

static void show_port(struct yw *w, const struct resource *p) {
        const struct ovs_spec *o = &p->ovs;
        yw_name(w, o->port);
        yw_map(w, true);
        if (o->type == OVS_PORT_INTERNAL)
                yw_kv_word(w, "type", "internal");
        if (p->set & OVS_F_TAG)
                yw_kv_uint(w, "tag", o->tag);
        show_trunks(w, o->trunks);
        if (p->set & OVS_F_VLAN_MODE)
                yw_kv_word(w, "vlan-mode", enum_to_string(&ovs_vlan_mode_table, o->vlan_mode));
        if (o->bond.n > 1) {
                yw_word(w, "bond");
                yw_seq(w, true);
                for (size_t i = 0; i < o->bond.n; i++)
                        yw_name(w, o->bond.v[i]);
                yw_end_seq(w);
        }
        if (p->set & OVS_F_LACP)
                yw_kv_word(w, "lacp", enum_to_string(&ovs_lacp_table, o->lacp));
        if (p->set & OVS_F_BOND_MODE)
                yw_kv_word(w, "bond-mode", enum_to_string(&ovs_bond_mode_table, o->bond_mode));
        ovs_show_maps(w, p, true);
        yw_end_map(w);
}

static void ovs_bridge_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        if (r->set & OVS_F_FAIL_MODE)
                yw_kv_word(w, "fail-mode", enum_to_string(&ovs_fail_mode_table, r->ovs.fail_mode));
        yw_kv_bool(w, "stp", r->ovs.stp);
        yw_kv_word(w, "datapath", enum_to_string(&ovs_datapath_table, r->ovs.datapath));
        ovs_show_maps(w, r, true);
        bool header = false;
        for (size_t i = 0; i < s->live->n; i++) {
                const struct resource *p = s->live->v[i];
                if (p->kind != KIND_OVS_PORT || strcmp(p->ovs.bridge, r->name) != 0)
                        continue;
                if (!header) {
                        yw_word(w, "ports");
                        yw_map(w, false);
                }
                header = true;
                show_port(w, p);
        }
        if (header)
                yw_end_map(w);
        yw_end_map(w);
        yw_entry_end(w, r);
}

void ovs_free(struct resource *r) {
        str_list_done(&r->ovs.trunk_words);
        str_list_done(&r->ovs.bond);
        str_list_done(&r->ovs.member_uuids);
        str_map_done(&r->ovs.other_config);
        str_map_done(&r->ovs.external_ids);
}

/* Rows without external_ids:reconcile=managed are someone else's: never
 * deleted, even declared absent (apply would refuse what the plan showed). */
const char *ovs_refuses_delete(const struct resource *live) {
        return live->ovs.managed ? NULL : "reconcile did not make it (no external_ids:reconcile=managed)";
}

/* OVSDB drops a bridge's ports with it: the plan names those that are not
 * reconcile's (a guest's vnet port), which no action of their own deletes. */
static void ovs_bridge_assess(void *state, struct action *a, const struct model *live) {
        (void) state;
        if (!a->live || (a->op != OP_DELETE && a->op != OP_REPLACE))
                return;
        char ports[512] = "";
        size_t len = 0, n = 0;
        for (size_t i = 0; i < live->n; i++) {
                const struct resource *p = live->v[i];
                if (p->kind != KIND_OVS_PORT || p->ovs.managed || strcmp(p->ovs.bridge, a->live->name) != 0)
                        continue;
                len += (size_t) snprintf(ports + len, len < sizeof(ports) ? sizeof(ports) - len : 0, "%s%s",
                                         n++ ? ", " : "", p->ovs.port);
        }
        if (!n)
                return;
        action_add_risk(a, "deleting %s also deletes %zu port%s reconcile did not make: %s", a->live->name, n,
                        n == 1 ? "" : "s", ports);
}

const struct kind_ops ovs_bridge_kind = {
        .word = "ovs-bridge",
        .section = "ovs-bridges",
        .backend = &ovs_backend,
        .diff = ovs_bridge_diff,
        .admit = ovs_bridge_admit,
        .apply = ovs_bridge_apply,
        .assess = ovs_bridge_assess,
        .refuses_delete = ovs_refuses_delete,
        .describe = ovs_bridge_describe,
        .show_rank = 8, /* with the Linux bridges, after every kind a port can be */
        .fields = ovs_bridge_fields,
        .n_fields = ELEMENTSOF(ovs_bridge_fields),
        .defaults = ovs_bridge_defaults,
        .name_valid = ifname_valid,
        .name_error = "bad OVS bridge name \"%.64s\": 1-15 bytes, no '/', ':' or white space",
        .validate = ovs_bridge_validate,
        .check = ovs_check_maps,
        .validate_phases = 1u << 6,
        .free = ovs_free,
        .show = ovs_bridge_show,
};
