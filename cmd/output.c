/* What the user reads: the plan as text or JSON, and live state as manifest YAML. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>

#include "output.h"

static void change_text(const struct change *c, char *buf, size_t size) {
        if (c->from && c->to)
                snprintf(buf, size, "%s %s -> %s", c->name, c->from, c->to);
        else if (c->to)
                snprintf(buf, size, "+%s %s", c->name, c->to);
        else
                snprintf(buf, size, "-%s %s", c->name, c->from ? c->from : "");
}

static void detail_text(const struct action *a, char *buf, size_t size) {
        size_t len = 0;
        buf[0] = '\0';
#define APPEND(...) len += (size_t) snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__)
        switch (a->op) {
        case OP_CREATE:
                APPEND("%s:%u:%u", a->pos.file ? a->pos.file : "?", a->pos.line, a->pos.col);
                return;
        case OP_DELETE:
                APPEND("%s", a->reason ? a->reason : "");
                return;
        case OP_ADOPT:
                APPEND("adopt (exists, not yet managed)%s", a->n_changes ? ";" : "");
                break;
        default:
                break;
        }
        /* Many changes of one name (ipset entries) read as counts; JSON lists them all. */
        size_t n_same = 0, adds = 0, dels = 0;
        const char *many = NULL;
        for (size_t i = 0; i < a->n_changes; i++)
                if (!a->changes[i].from != !a->changes[i].to && strcmp(a->changes[i].name, "entry") == 0) {
                        n_same++;
                        adds += a->changes[i].to != NULL;
                        dels += a->changes[i].from != NULL;
                        many = a->changes[i].name;
                }
        bool first = true;
        for (size_t i = 0; i < a->n_changes; i++) {
                char c[256];
                if (n_same > 10 && strcmp(a->changes[i].name, many) == 0 && !a->changes[i].from != !a->changes[i].to)
                        continue;
                change_text(&a->changes[i], c, sizeof(c));
                APPEND("%s%s", first ? (a->op == OP_ADOPT ? " " : "") : ", ", c);
                first = false;
        }
        if (n_same > 10)
                APPEND("%s+%zu -%zu entries", first ? (a->op == OP_ADOPT ? " " : "") : ", ", adds, dels);
        if (a->op == OP_REPLACE && a->reason)
                APPEND(" %s", a->reason);
        else if (a->op == OP_UPDATE && a->reason && a->n_changes)
                APPEND(" (%s)", a->reason);
#undef APPEND
}

void plan_print_text(FILE *f, const struct plan *p) {
        unsigned counts[_OP_MAX];
        plan_count(p, counts);
        fprintf(f, "plan: %u to create, %u to update, %u to replace, %u to delete", counts[OP_CREATE],
                counts[OP_UPDATE], counts[OP_REPLACE], counts[OP_DELETE]);
        if (counts[OP_ADOPT])
                fprintf(f, ", %u to adopt", counts[OP_ADOPT]);
        if (p->n_pending)
                fprintf(f, ", %zu pending", p->n_pending);
        fputc('\n', f);
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                char head[128], detail[2048];
                snprintf(head, sizeof(head), "%s %s %s", op_symbol(a->op), kind_to_string(a->kind), a->name);
                detail_text(a, detail, sizeof(detail));
                fprintf(f, "%-35s %s\n", head, detail);
                if (a->risk)
                        fprintf(f, "    risk: %s\n", a->risk);
        }
        for (size_t i = 0; i < p->n_pending; i++) {
                const struct pending *q = &p->pending[i];
                char head[128];
                snprintf(head, sizeof(head), "! %s %s", kind_to_string(q->kind), q->name);
                fprintf(f, "%-35s %s%s%s\n", head, q->reason, q->until ? " until " : "", q->until ? q->until : "");
        }
}

static const char *result_word(int result) {
        return result == 0 ? "done" : result < 0 ? "failed" : "not run";
}

void apply_print_text(FILE *f, const struct plan *p) {
        unsigned done = 0, failed = 0, not_run = 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                int x = p->actions[i].result;
                done += x == 0;
                failed += x < 0;
                not_run += x > 0;
        }
        fprintf(f, "apply: %u done, %u failed, %u not run\n", done, failed, not_run);
        for (size_t i = 0; i < p->n_actions && (failed || not_run); i++) {
                const struct action *a = &p->actions[i];
                if (a->result != 0)
                        fprintf(f, "  %s %s %s: %s\n", op_to_string(a->op), kind_to_string(a->kind), a->name,
                                result_word(a->result));
        }
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

void plan_print_json(FILE *f, const struct plan *p, bool with_results, const char *status) {
        unsigned counts[_OP_MAX];
        plan_count(p, counts);
        json_object *root = json_object_new_object();
        json_object_object_add(root, "version", json_object_new_int(1));
        json_object *sum = json_object_new_object();
        for (int o = 0; o < _OP_MAX; o++)
                json_object_object_add(sum, op_to_string(o), json_object_new_int((int) counts[o]));
        json_object_object_add(sum, "pending", json_object_new_int((int) p->n_pending));
        json_object_object_add(sum, "errors", json_object_new_int((int) p->n_errors));
        json_object_object_add(root, "summary", sum);
        json_object *actions = json_object_new_array();
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "op", json_object_new_string(op_to_string(a->op)));
                json_object_object_add(o, "kind", json_object_new_string(kind_to_string(a->kind)));
                json_object_object_add(o, "name", json_object_new_string(a->name));
                if (a->pos.file) {
                        char src[1024];
                        snprintf(src, sizeof(src), "%s:%u:%u", a->pos.file, a->pos.line, a->pos.col);
                        json_object_object_add(o, "source", json_object_new_string(src));
                } else
                        json_object_object_add(o, "source", NULL);
                json_object *changes = json_object_new_array();
                for (size_t j = 0; j < a->n_changes; j++) {
                        json_object *c = json_object_new_object();
                        json_object_object_add(c, "field", json_object_new_string(a->changes[j].name));
                        json_object_object_add(c, "from", str_or_null(a->changes[j].from));
                        json_object_object_add(c, "to", str_or_null(a->changes[j].to));
                        json_object_array_add(changes, c);
                }
                json_object_object_add(o, "changes", changes);
                json_object_object_add(o, "reason", str_or_null(a->reason));
                if (a->risk)
                        json_object_object_add(o, "risk", json_object_new_string(a->risk));
                if (with_results)
                        json_object_object_add(o, "result", json_object_new_string(result_word(a->result)));
                json_object_array_add(actions, o);
        }
        json_object_object_add(root, "actions", actions);
        json_object *pending = json_object_new_array();
        for (size_t i = 0; i < p->n_pending; i++) {
                const struct pending *q = &p->pending[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "kind", json_object_new_string(kind_to_string(q->kind)));
                json_object_object_add(o, "name", json_object_new_string(q->name));
                json_object_object_add(o, "reason", str_or_null(q->reason));
                json_object_object_add(o, "until", str_or_null(q->until));
                json_object_array_add(pending, o);
        }
        json_object_object_add(root, "pending", pending);
        if (status)
                json_object_object_add(root, "status", json_object_new_string(status));
        fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
}

/* ---- show: live state as a manifest that validate accepts ---- */

static void yaml_quoted(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void show_addresses(FILE *f, const struct link_spec *l) {
        char buf[64];
        bool any = false;
        for (size_t i = 0; i < l->addresses.n; i++) {
                const struct ipaddr *ip = &l->addresses.v[i];
                bool ll = ip->family == AF_INET6 && ip->a[0] == 0xfe && (ip->a[1] & 0xc0) == 0x80;
                if (!(ip->flags & IFA_F_PERMANENT) || ll)
                        continue;
                fputs(any ? ", " : "    addresses: [", f);
                yaml_quoted(f, ipaddr_format(ip, true, buf, sizeof(buf)));
                any = true;
        }
        fputs(any ? "]\n" : "    addresses: []\n", f);
}

static bool show_link(FILE *f, const struct resource *r) {
        const struct link_spec *l = &r->link;
        char mac[18];
        if (strcmp(r->name, "lo") == 0)
                return false;
        /* A veth whose peer is in another namespace cannot be written as a manifest here. */
        if (r->kind == KIND_VETH && !l->peer[0]) {
                fprintf(f, "  # %s: a veth whose peer lives in another namespace\n", r->name);
                return false;
        }
        fprintf(f, "  %s:\n", r->name);
        char buf[64];
        if ((r->kind == KIND_VLAN || r->kind == KIND_MACVLAN || r->kind == KIND_MACVTAP) && l->link[0])
                fprintf(f, "    link: %s\n", l->link);
        if (r->kind == KIND_VLAN)
                fprintf(f, "    id: %u\n", l->vlan_id);
        if (r->kind == KIND_MACVLAN || r->kind == KIND_MACVTAP)
                fprintf(f, "    mode: %s\n", enum_to_string(&macvlan_mode_table, l->mode));
        if (r->kind == KIND_BRIDGE || r->kind == KIND_BOND) {
                fputs("    interfaces: [", f);
                for (size_t i = 0; i < l->interfaces.n; i++)
                        fprintf(f, "%s%s", i ? ", " : "", l->interfaces.v[i]);
                fputs("]\n", f);
        }
        if (r->kind == KIND_BRIDGE)
                fprintf(f, "    stp: %s\n    forward-delay: %u\n", l->stp ? "true" : "false", l->forward_delay);
        if (r->kind == KIND_BOND) {
                fprintf(f, "    mode: %s\n", enum_to_string(&bond_mode_table, l->mode));
                if (r->set & LINK_F_MIIMON)
                        fprintf(f, "    miimon: %u\n", l->miimon);
                if ((r->set & LINK_F_LACP_RATE) && l->mode == BOND_8023AD)
                        fprintf(f, "    lacp-rate: %s\n", enum_to_string(&lacp_rate_table, l->lacp_rate));
                if (r->set & LINK_F_XMIT_HASH)
                        fprintf(f, "    xmit-hash-policy: %s\n", enum_to_string(&xmit_hash_table, l->xmit_hash));
        }
        if (r->kind == KIND_VXLAN) {
                fprintf(f, "    vni: %u\n", l->vni);
                if (r->set & LINK_F_LOCAL)
                        fprintf(f, "    local: \"%s\"\n", ipaddr_format(&l->local, false, buf, sizeof(buf)));
                if (r->set & LINK_F_REMOTE)
                        fprintf(f, "    remote: \"%s\"\n", ipaddr_format(&l->remote, false, buf, sizeof(buf)));
                if (r->set & LINK_F_GROUP)
                        fprintf(f, "    group: \"%s\"\n", ipaddr_format(&l->group, false, buf, sizeof(buf)));
                if (l->link[0])
                        fprintf(f, "    dev: %s\n", l->link);
                fprintf(f, "    port: %u\n    learning: %s\n", l->port, l->learning ? "true" : "false");
        }
        if (r->kind == KIND_VETH)
                fprintf(f, "    peer: %s\n", l->peer);
        if (r->kind == KIND_TAP) {
                if (r->set & LINK_F_OWNER)
                        fprintf(f, "    owner: \"%u\"\n", l->owner);
                if (r->set & LINK_F_GROUP_ID)
                        fprintf(f, "    group: \"%u\"\n", l->group_id);
                fprintf(f, "    multi-queue: %s\n", l->multi_queue ? "true" : "false");
        }
        fprintf(f, "    mtu: %u\n", l->mtu);
        if (r->kind != KIND_ETHERNET)
                fprintf(f, "    mac: \"%s\"\n", mac_format(l->mac, mac));
        fprintf(f, "    up: %s\n", l->up ? "true" : "false");
        show_addresses(f, l);
        return true;
}

static void show_network(FILE *f, const struct resource *r) {
        const struct network_spec *n = &r->network;
        char buf[64];
        fprintf(f, "  %s:\n    mode: %s\n", r->name, enum_to_string(&net_mode_table, n->mode));
        if (n->mode == NET_MACVTAP)
                fprintf(f, "    dev: %s\n    macvtap-mode: %s\n", n->dev, enum_to_string(&macvtap_mode_table, n->macvtap_mode));
        else if (r->set & NET_F_BRIDGE)
                fprintf(f, "    bridge: %s\n", n->bridge);
        if (r->set & NET_F_ADDRESS)
                fprintf(f, "    address: \"%s\"\n", ipaddr_format(&n->address, true, buf, sizeof(buf)));
        if (r->set & NET_F_DHCP) {
                fprintf(f, "    dhcp: { start: \"%s\", ", ipaddr_format(&n->dhcp.start, false, buf, sizeof(buf)));
                fprintf(f, "end: \"%s\" }\n", ipaddr_format(&n->dhcp.end, false, buf, sizeof(buf)));
        }
        fprintf(f, "    autostart: %s\n    active: %s\n", n->autostart ? "true" : "false", n->active ? "true" : "false");
}

static void show_pool(FILE *f, const struct resource *r, const struct model *live) {
        const struct pool_spec *p = &r->pool;
        fprintf(f, "  %s:\n    type: %s\n", r->name, p->type ? p->type : "dir");
        if (p->path) {
                fputs("    path: ", f);
                yaml_quoted(f, p->path);
                fputc('\n', f);
        }
        if (p->source) {
                fputs("    source: ", f);
                yaml_quoted(f, p->source);
                fputc('\n', f);
        }
        if (p->host)
                fprintf(f, "    host: %s\n", p->host);
        fprintf(f, "    autostart: %s\n    active: %s\n", p->autostart ? "true" : "false", p->active ? "true" : "false");
        size_t len = strlen(r->name);
        bool header = false;
        for (size_t i = 0; i < live->n; i++) {
                const struct resource *v = live->v[i];
                if (v->kind != KIND_VOLUME || strncmp(v->name, r->name, len) != 0 || v->name[len] != '/')
                        continue;
                if (!header)
                        fputs("    volumes:\n", f);
                header = true;
                fprintf(f, "      %s: { capacity: %llu, format: %s }\n", v->name + len + 1,
                        (unsigned long long) v->volume.capacity, enum_to_string(&vol_format_table, v->volume.format));
        }
}

static void show_domain(FILE *f, const struct resource *r) {
        const struct domain_spec *d = &r->domain;
        fprintf(f, "  %s:\n    vcpus: %u\n    max-vcpus: %u\n", r->name, d->vcpus, d->max_vcpus);
        fprintf(f, "    memory: %lluK\n    max-memory: %lluK\n", (unsigned long long) (d->memory >> 10),
                (unsigned long long) (d->max_memory >> 10));
        if (d->cpu)
                fprintf(f, "    cpu: %s\n", d->cpu);
        if (d->memory_backing == MEMBACK_HUGEPAGES)
                fputs("    memory-backing: hugepages\n", f);
        const char *const os_keys[] = { "machine", "kernel", "initrd", "cmdline" };
        const char *const os_vals[] = { d->machine, d->kernel, d->initrd, d->cmdline };
        for (size_t i = 0; i < ELEMENTSOF(os_keys); i++)
                if (os_vals[i]) {
                        fprintf(f, "    %s: ", os_keys[i]);
                        yaml_quoted(f, os_vals[i]);
                        fputc('\n', f);
                }
        if (!d->acpi || !d->apic)
                fputs("    # features: acpi and apic missing; an apply adds them (no graceful shutdown or hotplug without)\n", f);
        fprintf(f, "    state: %s\n    autostart: %s\n", res_state_to_string(r->state), d->autostart ? "true" : "false");
        /* A disk that is neither a pool volume nor a cdrom cannot be declared: then
         * the list is left out, which leaves the disks unmanaged rather than detached. */
        bool representable = true;
        for (size_t i = 0; i < d->n_disks; i++)
                representable = representable && (d->disks[i].cdrom || (d->disks[i].volume && d->disks[i].volume[0] != '/'));
        if (!representable) {
                fputs("    # disks: left unmanaged, this domain has file disks outside any pool\n", f);
        } else
                fputs(d->n_disks ? "    disks:\n" : "    disks: []\n", f);
        for (size_t i = 0; i < d->n_disks && representable; i++) {
                const struct disk_spec *k = &d->disks[i];
                if (k->cdrom) {
                        fputs("      - { cdrom: ", f);
                        yaml_quoted(f, k->cdrom);
                } else {
                        fputs("      - { volume: ", f);
                        yaml_quoted(f, k->volume);
                }
                if (k->bus >= 0)
                        fprintf(f, ", bus: %s", enum_to_string(&disk_bus_table, k->bus));
                if (k->cache > 0)
                        fprintf(f, ", cache: %s", enum_to_string(&disk_cache_table, k->cache));
                if (k->set & DISK_F_DISCARD)
                        fprintf(f, ", discard: %s", enum_to_string(&disk_discard_table, k->discard));
                fputs(" }\n", f);
        }
        fputs(d->n_nics ? "    interfaces:\n" : "    interfaces: []\n", f);
        for (size_t i = 0; i < d->n_nics; i++) {
                const struct nic_spec *n = &d->nics[i];
                char mac[18];
                if (n->set & NIC_F_BRIDGE)
                        fprintf(f, "      - { bridge: %s", n->bridge);
                else
                        fprintf(f, "      - { network: %s", n->network ? n->network : "");
                if (n->model >= 0)
                        fprintf(f, ", model: %s", enum_to_string(&nic_model_table, n->model));
                fprintf(f, ", mac: \"%s\" }\n", mac_format(n->mac, mac));
        }
        if (d->active && (d->active->domain.max_vcpus != d->max_vcpus || d->active->domain.max_memory != d->max_memory ||
                          d->active->domain.memory_backing != d->memory_backing || d->active->domain.acpi != d->acpi ||
                          d->active->domain.apic != d->apic))
                fputs("    # pending: restart needed (the running guest differs from its definition)\n", f);
}

static void show_service(FILE *f, const struct resource *r) {
        const struct service_spec *v = &r->service;
        char buf[64];
        fputs("  ", f);
        yaml_quoted(f, r->name);
        fputs(":\n", f);
        if (r->set & SVC_F_FWMARK)
                fprintf(f, "    fwmark: %u\n    family: %s\n", v->fwmark, enum_to_string(&inet_family_table, v->family));
        else
                fprintf(f, "    protocol: %s\n    address: \"%s\"\n    port: %u\n", enum_to_string(&ipvs_proto_table, v->protocol),
                        ipaddr_format(&v->address, false, buf, sizeof(buf)), v->port);
        fprintf(f, "    scheduler: %s\n", v->scheduler);
        if (v->persistence)
                fprintf(f, "    persistence: %u\n", v->persistence);
        fputs(v->n_reals ? "    reals:\n" : "    reals: []\n", f);
        for (size_t i = 0; i < v->n_reals; i++) {
                const struct real_spec *rs = &v->reals[i];
                fprintf(f, "      - { address: \"%s\", port: %u, weight: %u, forwarding: %s", ipaddr_format(&rs->address, false, buf, sizeof(buf)),
                        rs->port, rs->weight, enum_to_string(&ipvs_fwd_table, rs->forwarding));
                if (rs->upper)
                        fprintf(f, ", upper: %u", rs->upper);
                if (rs->lower)
                        fprintf(f, ", lower: %u", rs->lower);
                fputs(" }\n", f);
        }
}

static void show_ipset(FILE *f, const struct resource *r) {
        const struct ipset_spec *v = &r->ipset;
        fprintf(f, "  %s:\n    type: \"%s\"\n", r->name, v->type);
        if (strncmp(v->type, "hash:", 5) == 0)
                fprintf(f, "    family: %s\n    hashsize: %u\n", enum_to_string(&inet_family_table, v->family), v->hashsize);
        if (v->maxelem)
                fprintf(f, "    maxelem: %u\n", v->maxelem);
        if (v->range[0])
                fprintf(f, "    range: \"%s\"\n", v->range);
        if (v->timeout)
                fprintf(f, "    timeout: %u\n", v->timeout);
        if (v->comment)
                fputs("    comment: true\n", f);
        fputs(v->entries.n ? "    entries:\n" : "    entries: []\n", f);
        for (size_t i = 0; i < v->entries.n; i++) {
                fputs("      - ", f);
                yaml_quoted(f, v->entries.v[i]);
                fputc('\n', f);
        }
}

/* The kernel's connected and router-advertised routes are its own: not shown. */
static bool route_shown(const struct resource *r) {
        return r->route.protocol != RTPROT_KERNEL && r->route.protocol != RTPROT_RA;
}

static void show_route_key(FILE *f, const struct resource *r) {
        const struct route_spec *rt = &r->route;
        char buf[64];
        fputs("  ", f);
        yaml_quoted(f, r->name);
        fputs(":\n    to: ", f);
        if (rt->to.prefix == 0 && rt->to.family == AF_INET)
                fputs("default", f);
        else
                yaml_quoted(f, ipaddr_format(&rt->to, true, buf, sizeof(buf)));
        fprintf(f, "\n    metric: %u\n    table: %u\n", rt->metric, rt->table);
}

static void show_route(FILE *f, const struct resource *r) {
        const struct route_spec *rt = &r->route;
        char buf[64];
        show_route_key(f, r);
        if (r->set & ROUTE_F_VIA)
                fprintf(f, "    via: \"%s\"\n", ipaddr_format(&rt->via, false, buf, sizeof(buf)));
        if (r->set & ROUTE_F_DEV)
                fprintf(f, "    dev: %s\n", rt->dev);
        if (rt->to.family == AF_INET)
                fprintf(f, "    scope: %s\n", enum_to_string(&route_scope_table, rt->scope));
        fprintf(f, "    type: %s\n", enum_to_string(&route_type_table, rt->type));
}

static void show_sysctl(FILE *f, const struct resource *r) {
        fprintf(f, "  %s: ", r->name);
        yaml_quoted(f, r->sysctl.value);
        fputc('\n', f);
}

static void show_absent(FILE *f, const struct resource *r) {
        if (r->kind == KIND_ROUTE) {
                show_route_key(f, r);
                fputs("    state: absent\n", f);
                return;
        }
        char buf[64];
        if (r->kind == KIND_SERVICE) {
                fputs("  ", f);
                yaml_quoted(f, r->name);
                fputs(":\n", f);
                if (r->set & SVC_F_FWMARK)
                        fprintf(f, "    fwmark: %u\n", r->service.fwmark);
                else
                        fprintf(f, "    protocol: %s\n    address: \"%s\"\n    port: %u\n",
                                enum_to_string(&ipvs_proto_table, r->set & SVC_F_PROTOCOL ? r->service.protocol : PROTO_TCP),
                                ipaddr_format(&r->service.address, false, buf, sizeof(buf)), r->service.port);
                fputs("    state: absent\n", f);
                return;
        }
        fprintf(f, "  %s: { state: absent }\n", r->name);
}

void show_print_yaml_subset(FILE *f, const struct model *live, bool (*pick)(const struct resource *, void *), void *u,
                            const struct resource *const *absent, size_t n_absent) {
        static const enum kind order[] = { KIND_ETHERNET, KIND_BOND,   KIND_VLAN,    KIND_VXLAN,  KIND_MACVLAN,
                                           KIND_MACVTAP,  KIND_VETH,   KIND_TAP,     KIND_BRIDGE, KIND_ROUTE,
                                           KIND_SYSCTL,   KIND_NETWORK, KIND_POOL,   KIND_DOMAIN, KIND_SERVICE,
                                           KIND_IPSET };
        fputs("# live state, as reconcile sees it\nversion: 1\n", f);
        for (size_t k = 0; k < ELEMENTSOF(order); k++) {
                bool header = false;
                for (size_t i = 0; i < live->n; i++) {
                        const struct resource *r = live->v[i];
                        if (r->kind != order[k] || (r->kind == KIND_ETHERNET && strcmp(r->name, "lo") == 0) ||
                            (r->kind == KIND_ROUTE && !route_shown(r)) || (pick && !pick(r, u)))
                                continue;
                        if (!header)
                                fprintf(f, "%s:\n", kind_to_section(order[k]));
                        header = true;
                        if (kind_is_link(r->kind))
                                show_link(f, r);
                        else if (r->kind == KIND_ROUTE)
                                show_route(f, r);
                        else if (r->kind == KIND_SYSCTL)
                                show_sysctl(f, r);
                        else if (r->kind == KIND_NETWORK)
                                show_network(f, r);
                        else if (r->kind == KIND_POOL)
                                show_pool(f, r, live);
                        else if (r->kind == KIND_DOMAIN)
                                show_domain(f, r);
                        else if (r->kind == KIND_SERVICE)
                                show_service(f, r);
                        else
                                show_ipset(f, r);
                }
                for (size_t i = 0; i < n_absent; i++) {
                        /* A sysctl that appeared in the run goes with its interface: nothing to write. */
                        if (absent[i]->kind != order[k] || absent[i]->kind == KIND_SYSCTL)
                                continue;
                        if (!header)
                                fprintf(f, "%s:\n", kind_to_section(order[k]));
                        header = true;
                        show_absent(f, absent[i]);
                }
        }
}

void show_print_yaml(FILE *f, const struct model *live) {
        show_print_yaml_subset(f, live, NULL, NULL, NULL, 0);
}
