/* libvirt storage pools of every type a path, source and host describe;
 * their volumes are declared inside them (backends/volume.c). */
#include <stdlib.h>
#include <string.h>

#include "kind.h"

extern const struct kind_ops volume_kind;

static const struct field pool_fields[] = {
        { "type", FT_ENUM_STR, R(pool.type), 0, 0, POOL_F_TYPE, &pool_type_table, NULL, NULL },
        { "path", FT_STR, R(pool.path), STR_PATH, 0, POOL_F_PATH, NULL, NULL, NULL },
        { "source", FT_STR, R(pool.source), STR_WORD, 0, POOL_F_SOURCE, NULL, NULL, NULL },
        { "host", FT_STR, R(pool.host), STR_WORD, 0, POOL_F_HOST, NULL, NULL, NULL },
        { "autostart", FT_BOOL, R(pool.autostart), 0, 0, POOL_F_AUTOSTART, NULL, NULL, NULL },
        { "active", FT_BOOL, R(pool.active), 0, 0, POOL_F_ACTIVE, NULL, NULL, NULL },
        { "volumes", FT_CHILDREN, 0, 0, 0, 0, &volume_kind, NULL, NULL },
        STATE_FIELD(state_table),
};

static void pool_defaults(struct resource *r) {
        r->pool.autostart = r->pool.active = true;
}

static int pool_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & POOL_F_TYPE))
                return check_error(c, 0, "pool %s needs a type", r->name);
        return 0;
}

/* What libvirt's pool XML parser demands of each type, found before the pool
 * is defined. Checked after the volumes and domains that use the pool, whose
 * own errors say more. */
static int pool_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        (void) declared;
        static const uint64_t needs[_POOL_TYPE_MAX] = {
                [POOL_DIR] = POOL_F_PATH,
                [POOL_FS] = POOL_F_SOURCE | POOL_F_PATH,
                [POOL_NETFS] = POOL_F_HOST | POOL_F_SOURCE | POOL_F_PATH,
                [POOL_DISK] = POOL_F_SOURCE | POOL_F_PATH,
                [POOL_ISCSI] = POOL_F_HOST | POOL_F_PATH,
                [POOL_MPATH] = POOL_F_PATH,
                [POOL_RBD] = POOL_F_HOST | POOL_F_SOURCE,
                [POOL_SHEEPDOG] = POOL_F_HOST | POOL_F_SOURCE,
                [POOL_GLUSTER] = POOL_F_HOST,
                [POOL_VSTORAGE] = POOL_F_PATH,
        };
        if (r->state == STATE_ABSENT)
                return 0;
        int type = enum_from_string(&pool_type_table, r->pool.type);
        if (type < 0)
                return 0;
        static const struct { uint64_t bit; const char *key; } keys[] = {
                { POOL_F_HOST, "host" }, { POOL_F_SOURCE, "source" }, { POOL_F_PATH, "path" } };
        uint64_t missing = needs[type] & ~r->set;
        char words[40] = "";
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (missing & keys[i].bit)
                        snprintf(words + strlen(words), sizeof(words) - strlen(words), "%s%s", words[0] ? ", " : "",
                                 keys[i].key);
        if (missing)
                return diag_pos(&r->pos, "pool %s: type %s needs %s", r->name, r->pool.type, words);
        return 0;
}

static void pool_free(struct resource *r) {
        free(r->pool.type);
        free(r->pool.path);
        free(r->pool.source);
        free(r->pool.host);
}

/* A domain's cloud-init seed is made from the domain's manifest: declared as a
 * volume too, it would be a manifest error. */
static bool volume_is_seed(const struct model *live, const char *name) {
        for (size_t i = 0; i < live->n; i++) {
                const struct resource *d = live->v[i];
                for (size_t j = 0; d->kind == KIND_DOMAIN && j < d->domain.n_disks; j++)
                        if (d->domain.disks[j].seed && d->domain.disks[j].volume &&
                            strcmp(d->domain.disks[j].volume, name) == 0)
                                return true;
        }
        return false;
}

static void pool_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct pool_spec *p = &r->pool;
        const struct model *live = s->live;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        yw_kv_name(w, "type", p->type ? p->type : "dir");
        if (p->path)
                yw_kv_str(w, "path", p->path);
        if (p->source)
                yw_kv_str(w, "source", p->source);
        if (p->host)
                yw_kv_name(w, "host", p->host);
        yw_kv_bool(w, "autostart", p->autostart);
        yw_kv_bool(w, "active", p->active);
        size_t len = strlen(r->name);
        bool header = false;
        for (size_t i = 0; i < live->n; i++) {
                const struct resource *v = live->v[i];
                if (v->kind != KIND_VOLUME || strncmp(v->name, r->name, len) != 0 || v->name[len] != '/' ||
                    volume_is_seed(live, v->name))
                        continue;
                if (!header) {
                        yw_word(w, "volumes");
                        yw_map(w, false);
                }
                header = true;
                yw_name(w, v->name + len + 1);
                yw_map(w, true);
                char cap[32];
                yw_kv_word(w, "capacity", size_text(v->volume.capacity, cap, sizeof(cap)));
                yw_kv_word(w, "format", enum_to_string(&vol_format_table, v->volume.format));
                if (v->volume.backing)
                        yw_kv_str(w, "backing", v->volume.backing); /* a qcow2 overlay on a volume libvirt knows */
                yw_end_map(w);
        }
        if (header)
                yw_end_map(w);
        yw_end_map(w);
        yw_entry_end(w, r);
}

const struct kind_ops pool_kind = {
        .word = "pool",
        .section = "pools",
        .backend = &libvirt_backend, .diff = lv_pool_diff, .apply = lv_pool_apply,
        .show_rank = 12,
        .fields = pool_fields,
        .n_fields = ELEMENTSOF(pool_fields),
        .defaults = pool_defaults,
        .name_max = 199,
        .name_error = "bad pool name \"%.64s\": no '/', <>&'\" or control characters",
        .check = pool_check,
        /* Checked after the volumes and domains that use the pool, whose own errors say more. */
        .validate = pool_validate,
        .validate_phases = 1u << 7,
        .free = pool_free,
        .show = pool_show,
};
