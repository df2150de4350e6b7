/* Volumes in a pool, declared inside the pool's entry and named POOL/VOLUME. */
#include <stdlib.h>
#include <string.h>

#include "kind.h"

static const struct field volume_fields[] = {
        { "capacity", FT_SIZE, R(volume.capacity), 1, 0, VOL_F_CAPACITY, NULL, NULL, NULL },
        { "format", FT_ENUM, R(volume.format), 0, 0, VOL_F_FORMAT, &vol_format_table, NULL, NULL },
        { "preallocation", FT_ENUM, R(volume.prealloc), 0, 0, VOL_F_PREALLOC, &prealloc_table, NULL, NULL },
        STATE_FIELD(state_table),
};

/* As other libvirt names, with the length in it: a long one is a bad name, as the parser always said. */
static bool volume_name_valid(const char *s) {
        return *s && strlen(s) <= 199 && !strchr(s, '/') && xml_safe(s) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static void volume_adopt_parent(struct resource *r, const struct resource *pool) {
        snprintf(r->volume.pool, sizeof(r->volume.pool), "%s", pool->name);
}

static int volume_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & VOL_F_CAPACITY))
                return check_error(c, 0, "volume %s needs a capacity", r->name);
        if (r->volume.prealloc == PREALLOC_FULL && r->volume.format != VOL_RAW)
                return check_error(c, 0, "volume %s: preallocation full needs format raw", r->name);
        return 0;
}

/* The pool may be declared whole in another file: found once every file is read. */
static int volume_validate(struct resource *r, struct model *declared, unsigned phase) {
        (void) phase;
        struct resource *p = model_find(declared, KIND_POOL, r->volume.pool);
        if (!p || p->kind != KIND_POOL)
                return diag_pos(&r->pos,
                                "volume %s: pool %s is declared nowhere (an entry with only volumes adds "
                                "to a pool declared with its type in another file)",
                                r->name, r->volume.pool);
        if (r->state != STATE_ABSENT && p->state == STATE_ABSENT)
                return diag_pos(&r->pos, "volume %s lives in pool %s, which is declared absent", r->name, p->name);
        return 0;
}

static void volume_free(struct resource *r) {
        free(r->volume.path);
}

const struct kind_ops volume_kind = {
        .word = "volume",
        .section = "volumes",
        .backend = &libvirt_backend, .diff = lv_volume_diff, .apply = lv_volume_apply,
        .deps = lv_volume_deps,
        /* Never pruned on its own: a volume goes with its pool, or when declared absent. */
        .flags = KF_CHILD | KF_NEVER_PRUNED,
        .show_rank = 12,
        .fields = volume_fields,
        .n_fields = ELEMENTSOF(volume_fields),
        .name_valid = volume_name_valid,
        .name_error = "bad volume name \"%.64s\": no '/', <>&'\" or control characters",
        .adopt_parent = volume_adopt_parent,
        .check = volume_check,
        .validate = volume_validate,
        .validate_phases = 1u << 4,
        .free = volume_free,
};
