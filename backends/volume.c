/* Volumes in a pool, declared inside the pool's entry and named POOL/VOLUME. */
#include <stdlib.h>
#include <string.h>

#include "kind.h"

static const struct field volume_fields[] = {
        { "capacity", FT_SIZE, R(volume.capacity), 1, 0, VOL_F_CAPACITY, NULL, NULL, NULL },
        { "format", FT_ENUM, R(volume.format), 0, 0, VOL_F_FORMAT, &vol_format_table, NULL, NULL },
        { "preallocation", FT_ENUM, R(volume.prealloc), 0, 0, VOL_F_PREALLOC, &prealloc_table, NULL, NULL },
        STATE_FIELD(state_table),
        { "backing", FT_STR, R(volume.backing), STR_WORD, 0, VOL_F_BACKING, NULL, NULL, NULL },
        { "clone-of", FT_STR, R(volume.clone_of), STR_WORD, 0, VOL_F_CLONE_OF, NULL, NULL, NULL },
        { "source", FT_STR, R(volume.source), STR_PATH, 0, VOL_F_SOURCE, NULL, NULL, NULL },
        { "sha256", FT_STR, R(volume.sha256), STR_WORD, 0, VOL_F_SHA256, NULL, NULL, NULL },
};

/* As other libvirt names, with the length in it: a long one is a bad name, as the parser always said. */
static bool volume_name_valid(const char *s) {
        return *s && strlen(s) <= 199 && !strchr(s, '/') && xml_safe(s) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static void volume_adopt_parent(struct resource *r, const struct resource *pool) {
        snprintf(r->volume.pool, sizeof(r->volume.pool), "%s", pool->name);
}

/* A volume made from another (an overlay, a clone) or from an image file:
 * one origin at most, its capacity the origin's unless declared larger. */
static int volume_check_origin(struct check_ctx *c, struct resource *r) {
        const struct volume_spec *v = &r->volume;
        int origins = !!(r->set & VOL_F_BACKING) + !!(r->set & VOL_F_CLONE_OF) + !!(r->set & VOL_F_SOURCE);
        if (origins > 1)
                return check_error(c, 0, "volume %s: backing, clone-of and source exclude each other", r->name);
        static const struct { uint64_t bit; const char *key; } refs[] = { { VOL_F_BACKING, "backing" },
                                                                         { VOL_F_CLONE_OF, "clone-of" } };
        for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
                const char *ref = refs[i].bit == VOL_F_BACKING ? v->backing : v->clone_of;
                const char *slash = (r->set & refs[i].bit) ? strchr(ref, '/') : NULL;
                if ((r->set & refs[i].bit) && (!slash || slash == ref || !slash[1] || strchr(slash + 1, '/')))
                        return check_error(c, refs[i].bit, "volume %s: %s \"%s\" is not POOL/VOLUME", r->name,
                                           refs[i].key, printable(ref));
                if ((r->set & refs[i].bit) && strcmp(ref, r->name) == 0)
                        return check_error(c, refs[i].bit, "volume %s: %s names the volume itself", r->name, refs[i].key);
        }
        /* Only a qcow2 overlay can name its backing file. */
        if ((r->set & VOL_F_BACKING) && (r->set & VOL_F_FORMAT) && v->format != VOL_QCOW2)
                return check_error(c, VOL_F_FORMAT, "volume %s: an overlay on a backing volume is qcow2", r->name);
        if (r->set & VOL_F_BACKING) {
                r->volume.format = VOL_QCOW2;
                r->set |= VOL_F_FORMAT;
        }
        if ((r->set & VOL_F_SHA256) && !(r->set & VOL_F_SOURCE))
                return check_error(c, VOL_F_SHA256, "volume %s: sha256 goes with source", r->name);
        if (r->set & VOL_F_SHA256) {
                size_t n = strlen(v->sha256);
                for (char *p = v->sha256; *p; p++)
                        *p = (char) (*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
                if (n != 64 || strspn(v->sha256, "0123456789abcdef") != 64)
                        return check_error(c, VOL_F_SHA256, "volume %s: sha256 \"%s\" is not 64 hex digits", r->name,
                                           printable(v->sha256));
        }
        if (!(r->set & VOL_F_CAPACITY) && !origins && r->state != STATE_ABSENT)
                return check_error(c, 0, "volume %s needs a capacity (or backing, clone-of or source)", r->name);
        return 0;
}

static int volume_check(struct check_ctx *c, struct resource *r) {
        int e = volume_check_origin(c, r);
        if (e < 0)
                return e;
        if (r->volume.prealloc == PREALLOC_FULL && r->volume.format != VOL_RAW)
                return check_error(c, 0, "volume %s: preallocation full needs format raw", r->name);
        return 0;
}

/* The volume an overlay or a clone is made from: absent, it cannot be (a base
 * neither declared nor in the live pool is found at plan time). */
static int volume_validate_origin(struct resource *r, struct model *declared) {
        const char *ref = r->set & VOL_F_BACKING ? r->volume.backing : r->set & VOL_F_CLONE_OF ? r->volume.clone_of : NULL;
        struct resource *o = ref && r->state != STATE_ABSENT ? model_find(declared, KIND_VOLUME, ref) : NULL;
        if (o && o->kind == KIND_VOLUME && o->state == STATE_ABSENT)
                return diag_pos(&r->pos, "volume %s is made from %s, which is declared absent", r->name, ref);
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
        return volume_validate_origin(r, declared);
}

/* A create says what the volume is made from: the plan names the base, the
 * copied volume or the file and whether its digest is checked first. */
static void volume_describe(const struct resource *w, struct action *a) {
        if (w->set & VOL_F_BACKING)
                action_add_set(a, VOL_F_BACKING, "backing", value_text(w->volume.backing));
        if (w->set & VOL_F_CLONE_OF)
                action_add_set(a, VOL_F_CLONE_OF, "clone-of", value_text(w->volume.clone_of));
        if (w->set & VOL_F_SOURCE)
                action_add_set(a, VOL_F_SOURCE, "source", value_text(w->volume.source));
        if (w->set & VOL_F_SHA256)
                action_add_set(a, VOL_F_SHA256, "sha256", value_text(w->volume.sha256));
}

static void volume_free(struct resource *r) {
        free(r->volume.path);
        free(r->volume.backing);
        free(r->volume.clone_of);
        free(r->volume.source);
        free(r->volume.sha256);
        free(r->volume.backing_path);
        free(r->volume.held_by);
}

/* A base image with overlays on it is their data: deleting it breaks them all. */
static const char *volume_refuses_delete(const struct resource *live) {
        return live->volume.held_by;
}

const struct kind_ops volume_kind = {
        .word = "volume",
        .section = "volumes",
        .backend = &libvirt_backend, .diff = lv_volume_diff, .apply = lv_volume_apply,
        .deps = lv_volume_deps,
        .admit = lv_volume_admit,
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
        .describe = volume_describe,
        .free = volume_free,
        .refuses_delete = volume_refuses_delete,
};
