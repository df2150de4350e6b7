/* Kernel modules: loaded now through libkmod, and listed for boot in two
 * files reconcile owns whole, ETC/modules-load.d/reconcile.conf (the names)
 * and ETC/modprobe.d/reconcile.conf (their options). ETC is /etc, or
 * $RECONCILE_ETC for tests. A module is known by the kernel's spelling of its
 * name (vfio_pci for vfio-pci). Options of a module already loaded cannot
 * change: that is pending a reload. Nothing is ever unloaded: a module's
 * reference count does not count its devices (an unload of 8021q or dummy
 * deletes every VLAN or dummy), so a module that leaves the manifests leaves
 * the files and stays loaded. */
#include <errno.h>
#include <dirent.h>
#include <libkmod.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <unistd.h>

#include "kind.h"

struct module_state {
        struct kmod_ctx *kmod;
        char etc[PATH_MAX];
        char sys[PATH_MAX];
        bool in_netns; /* --netns: modules are the host's, refused */
};

/* The kernel's spelling: dashes become underscores. */
static const char *module_identity(const struct resource *want, char *buf, size_t size) {
        snprintf(buf, size, "%s", want->name);
        for (char *p = buf; *p; p++)
                if (*p == '-')
                        *p = '_';
        return buf;
}

static void kmod_log_quiet(void *data, int priority, const char *file, int line, const char *fn, const char *format,
                           va_list args) {
        (void) data;
        (void) priority;
        (void) file;
        (void) line;
        (void) fn;
        if (diag_verbose <= 0)
                return;
        char msg[512];
        vsnprintf(msg, sizeof(msg), format, args);
        diag_debug("libkmod: %.*s", (int) strcspn(msg, "\n"), msg);
}

/* A libkmod context that reads modprobe.d as boot will, ETC's included. */
static struct kmod_ctx *module_kmod_new(const struct module_state *s) {
        char etc_d[PATH_MAX + 16];
        snprintf(etc_d, sizeof(etc_d), "%s/modprobe.d", s->etc);
        const char *const paths[] = { etc_d, "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d", NULL };
        struct kmod_ctx *k = kmod_new(NULL, paths);
        if (k) {
                kmod_set_log_fn(k, kmod_log_quiet, NULL);
                kmod_set_log_priority(k, LOG_ERR);
        }
        return k;
}

static int module_open(const struct backend_ctx *ctx, void **state) {
        struct module_state *s = xcalloc(1, sizeof(*s));
        const char *etc = getenv("RECONCILE_ETC"), *sys = getenv("RECONCILE_SYSFS");
        snprintf(s->etc, sizeof(s->etc), "%s", etc && *etc ? etc : "/etc");
        snprintf(s->sys, sizeof(s->sys), "%s", sys && *sys ? sys : "/sys");
        s->in_netns = ctx->netns != NULL;
        s->kmod = module_kmod_new(s);
        if (!s->kmod) {
                free(s);
                return diag_plain(-ENOMEM, "modules: cannot start libkmod");
        }
        *state = s;
        return 0;
}

static void module_close(void *state) {
        struct module_state *s = state;
        if (!s)
                return;
        kmod_unref(s->kmod);
        free(s);
}

/* ---- reconcile's two files ---- */

struct conf_entry {
        char *name;
        char *options; /* NULL: no options line */
        bool at_boot;
};
struct module_conf {
        struct conf_entry *v;
        size_t n;
};

static void conf_paths(const struct module_state *s, char *load, char *opts, size_t size) {
        snprintf(load, size, "%s/modules-load.d/reconcile.conf", s->etc);
        snprintf(opts, size, "%s/modprobe.d/reconcile.conf", s->etc);
}

static struct conf_entry *conf_find(struct module_conf *c, const char *name, bool add) {
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->v[i].name, name) == 0)
                        return &c->v[i];
        if (!add)
                return NULL;
        struct conf_entry *e = array_push(&c->v, &c->n, sizeof(*c->v));
        e->name = xstrdup(name);
        return e;
}

static void conf_done(struct module_conf *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].name);
                free(c->v[i].options);
        }
        free(c->v);
        *c = (struct module_conf) { 0 };
}

/* The next line of text without its comment and outer blanks, in buf. */
static const char *conf_line(const char *text, char *buf, size_t size) {
        if (!text || !*text)
                return NULL;
        size_t len = strcspn(text, "\n");
        snprintf(buf, size, "%.*s", (int) (len < size ? len : size - 1), text);
        buf[strcspn(buf, "#")] = '\0';
        size_t end = strlen(buf);
        while (end && strchr(" \t\r", buf[end - 1]))
                buf[--end] = '\0';
        return text + len + (text[len] == '\n');
}

static void conf_read(const struct module_state *s, struct module_conf *c) {
        char load[PATH_MAX + 64], opts[PATH_MAX + 64], line[1024];
        conf_paths(s, load, opts, sizeof(load));
        _cleanup_free_ char *names = file_read(load), *options = file_read(opts);
        for (const char *p = names; (p = conf_line(p, line, sizeof(line)));) {
                const char *w = line + strspn(line, " \t");
                if (*w) {
                        char key[256];
                        struct resource tmp = { .name = (char *) w };
                        conf_find(c, module_identity(&tmp, key, sizeof(key)), true)->at_boot = true;
                }
        }
        for (const char *p = options; (p = conf_line(p, line, sizeof(line)));) {
                char name[256];
                int off = 0;
                if (sscanf(line, " options %255s %n", name, &off) != 1 || !off)
                        continue;
                char key[256];
                struct resource tmp = { .name = name };
                struct conf_entry *e = conf_find(c, module_identity(&tmp, key, sizeof(key)), true);
                free(e->options);
                e->options = line[off] ? xstrdup(line + off) : NULL;
        }
}

/* Write one of the files, or remove it when it would say nothing; unchanged, untouched. */
static int conf_put(const char *path, const char *text, bool empty) {
        _cleanup_free_ char *old = file_read(path);
        if (empty) {
                if (old && unlink(path) < 0 && errno != ENOENT)
                        return diag_plain(-errno, "%s: %s", path, strerror(errno));
                return 0;
        }
        if (old && strcmp(old, text) == 0)
                return 0;
        _cleanup_free_ char *dir = xstrdup(path);
        *strrchr(dir, '/') = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return diag_plain(-errno, "%s: %s", dir, strerror(errno));
        int r = file_write_atomic(path, text, strlen(text), NULL);
        if (r == 0 && chmod(path, 0644) < 0)
                r = diag_plain(-errno, "%s: %s", path, strerror(errno));
        return r;
}

static int conf_write(const struct module_state *s, const struct module_conf *c) {
        static const char header[] = "# Written by reconcile from its manifests: edits here are overwritten.\n";
        char load[PATH_MAX + 64], opts[PATH_MAX + 64];
        conf_paths(s, load, opts, sizeof(load));
        char *names = NULL, *options = NULL;
        size_t n_len = 0, o_len = 0;
        FILE *fn = open_memstream(&names, &n_len), *fo = open_memstream(&options, &o_len);
        bool any_name = false, any_option = false;
        if (fn && fo) {
                fputs(header, fn);
                fputs(header, fo);
                for (size_t i = 0; i < c->n; i++) {
                        if (c->v[i].at_boot) {
                                fprintf(fn, "%s\n", c->v[i].name);
                                any_name = true;
                        }
                        if (c->v[i].options) {
                                fprintf(fo, "options %s %s\n", c->v[i].name, c->v[i].options);
                                any_option = true;
                        }
                }
        }
        if (fn)
                fclose(fn);
        if (fo)
                fclose(fo);
        int r = !names || !options ? -ENOMEM : conf_put(load, names, !any_name);
        if (r == 0)
                r = conf_put(opts, options, !any_option);
        free(names);
        free(options);
        return r;
}

/* ---- observe ---- */

struct kmod_view {
        bool loaded, builtin;
};

static void kmod_look(struct kmod_ctx *k, const char *name, struct kmod_view *v) {
        struct kmod_module *mod = NULL;
        *v = (struct kmod_view) { 0 };
        if (kmod_module_new_from_name(k, name, &mod) < 0)
                return;
        int st = kmod_module_get_initstate(mod);
        v->loaded = st >= 0 && st != KMOD_MODULE_GOING;
        v->builtin = st == KMOD_MODULE_BUILTIN;
        kmod_module_unref(mod);
}

/* Every parameter of a loaded module that sysfs lets root read, "key=value\n" each: what
 * the options it was loaded with became (a y/n one reads Y or N). */
static char *read_params(const struct module_state *s, const char *name) {
        _cleanup_free_ char *dir = xasprintf("%s/module/%s/parameters", s->sys, name);
        DIR *d = opendir(dir);
        if (!d)
                return NULL;
        char *params = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&params, &len);
        for (struct dirent *de; f && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                _cleanup_free_ char *value = file_read(path);
                if (value)
                        fprintf(f, "%s=%.*s\n", de->d_name, (int) strcspn(value, "\n"), value);
        }
        closedir(d);
        if (f)
                fclose(f);
        if (params && !*params) {
                free(params);
                params = NULL;
        }
        return params;
}

static void observe_one(struct module_state *s, const struct module_conf *c, const char *name, struct model *live) {
        struct kmod_view v;
        kmod_look(s->kmod, name, &v);
        const struct conf_entry *e = conf_find((struct module_conf *) c, name, false);
        if (!v.loaded && !e)
                return;
        struct resource *res = resource_new(KIND_MODULE, name);
        res->module.loaded = v.loaded;
        res->module.builtin = v.builtin;
        res->module.at_boot = e && e->at_boot;
        res->module.options = e && e->options ? xstrdup(e->options) : NULL;
        res->module.params = v.loaded ? read_params(s, name) : NULL;
        res->set = MODULE_F_LOADED | MODULE_F_AT_BOOT | (res->module.options ? MODULE_F_OPTIONS : 0);
        if (model_add(live, res) < 0)
                resource_free(res);
}

/* The modules named, and every one reconcile's files list (show exports
 * those); of the hundreds loaded, no other. */
static int module_observe(void *state, const struct str_list *names, struct model *live) {
        struct module_state *s = state;
        if (s->in_netns)
                return 0; /* the host's, not the namespace's: show under --netns leaves them out */
        struct module_conf c = { 0 };
        conf_read(s, &c);
        for (size_t i = 0; i < names->n; i++)
                observe_one(s, &c, names->v[i], live);
        for (size_t i = 0; i < c.n; i++)
                if (!model_find(live, KIND_MODULE, c.v[i].name))
                        observe_one(s, &c, c.v[i].name, live);
        conf_done(&c);
        return 0;
}

/* ---- plan ---- */

/* Modules are the host's: a run inside a namespace cannot declare them; and
 * one that this kernel has no file for is an error here, not at apply. */
static int module_admit(void *state, const struct resource *want) {
        struct module_state *s = state;
        if (s->in_netns)
                return diag_pos(&want->pos, "module %s: kernel modules are the host's, not a namespace's: declare them "
                                "in a run without --netns", want->name);
        char key[256];
        struct kmod_view v;
        kmod_look(s->kmod, module_identity(want, key, sizeof(key)), &v);
        if (v.loaded)
                return 0;
        struct kmod_list *list = NULL;
        int r = kmod_module_new_from_lookup(s->kmod, want->name, &list);
        kmod_module_unref_list(list);
        if (r >= 0 && list)
                return 0;
        struct utsname u;
        uname(&u);
        return diag_pos(&want->pos, "module %s: not loaded, and kernel %s has no such module (/lib/modules/%s)",
                        want->name, u.release, u.release);
}

/* A y/n parameter reads back as Y or N; numbers and words as written. */
static bool param_same(const char *have, const char *want) {
        static const char *const yes[] = { "1", "y", "Y", "yes", "on", "true" }, *const no[] = { "0", "n", "N", "no", "off", "false" };
        if (strcmp(have, want) == 0)
                return true;
        bool hy = false, hn = false, wy = false, wn = false;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                hy = hy || strcmp(have, yes[i]) == 0;
                hn = hn || strcmp(have, no[i]) == 0;
                wy = wy || strcmp(want, yes[i]) == 0;
                wn = wn || strcmp(want, no[i]) == 0;
        }
        return (hy && wy) || (hn && wn);
}

/* The value of one parameter in params ("key=value\n" lines), or NULL. */
static char *param_get(const char *params, const char *key) {
        size_t n = strlen(key);
        for (const char *p = params; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, n) == 0 && p[n] == '=')
                        return xasprintf("%.*s", (int) strcspn(p + n + 1, "\n"), p + n + 1);
        return NULL;
}

/* The first option the loaded module has another value of, as its
 * parameters were observed ("nested=0, declared 1"); NULL when all agree,
 * or cannot be read (*unknown: a parameter of mode 0). */
static char *options_differ(const struct resource *live, const char *options, bool *unknown) {
        _cleanup_free_ char *copy = xstrdup(options ? options : "");
        char *save = NULL;
        for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                char *eq = strchr(tok, '=');
                const char *want = eq ? eq + 1 : "1";
                if (eq)
                        *eq = '\0';
                _cleanup_free_ char *have = param_get(live->module.params, tok);
                if (!have) {
                        *unknown = true; /* not shown (mode 0) or not a parameter */
                        continue;
                }
                if (!param_same(have, want))
                        return xasprintf("%s=%s, declared %s", tok, have, want);
        }
        return NULL;
}

static bool text_equal(const char *a, const char *b) {
        return strcmp(a ? a : "", b ? b : "") == 0;
}

static int module_diff(void *state, const struct resource *w, const struct resource *live,
                       const struct ledger_entry *owned, struct action *a, struct plan *p) {
        (void) state;
        a->op = OP_UPDATE;
        if (!live->module.loaded)
                action_add_change(a, MODULE_F_LOADED, "loaded", value_bool(false), value_bool(true));
        if (!live->module.at_boot)
                action_add_change(a, MODULE_F_AT_BOOT, "at-boot", value_bool(false), value_bool(true));
        if (!text_equal(w->module.options, live->module.options))
                action_add_change(a, MODULE_F_OPTIONS, "options", value_text(live->module.options),
                                  value_text(w->module.options));
        if (!live->module.loaded)
                return 0;
        bool unknown = false;
        _cleanup_free_ char *differ = options_differ(live, w->module.options, &unknown);
        /* Parameters sysfs does not show: the options reconcile last knew it loaded with. */
        const char *with = ledger_get(owned, "loaded-with");
        if (!differ && (unknown || !w->module.options) && with && !text_equal(with, w->module.options))
                differ = xasprintf("options \"%s\", declared \"%s\"", with, w->module.options ? w->module.options : "");
        if (differ && live->module.builtin) {
                _cleanup_free_ char *why = xasprintf("built into the kernel with %s", differ);
                plan_add_pending(p, KIND_MODULE, w->name, why, "its options are on the kernel command line (module.option=value)");
        } else if (differ) {
                _cleanup_free_ char *why = xasprintf("loaded with %s", differ);
                plan_add_pending(p, KIND_MODULE, w->name, why, "reload or reboot needed");
        }
        return 0;
}

static void module_describe(const struct resource *w, struct action *a) {
        action_add_set(a, MODULE_F_LOADED, "loaded", value_bool(true));
        action_add_set(a, MODULE_F_AT_BOOT, "at-boot", value_bool(true));
        if (w->module.options)
                action_add_set(a, MODULE_F_OPTIONS, "options", value_text(w->module.options));
}

static void module_assess(void *state, struct action *a, const struct model *live) {
        (void) state;
        (void) live;
        if (a->op != OP_DELETE || !a->live)
                return;
        const char *what = a->live->module.loaded ? "stays loaded (reconcile never unloads a module)" : "not loaded";
        char *reason = xasprintf("%s: leaves reconcile's boot files; %s", a->reason ? a->reason : "removed", what);
        free(a->reason);
        a->reason = reason;
}

/* ---- apply ---- */

static int module_load(struct module_state *s, const char *name) {
        /* A fresh context: it reads the options file just written, as boot will. */
        struct kmod_ctx *k = module_kmod_new(s);
        if (!k)
                return diag_res(-ENOMEM, "module", name, "cannot start libkmod");
        struct kmod_list *list = NULL, *it;
        int r = kmod_module_new_from_lookup(k, name, &list);
        if (r >= 0 && !list)
                r = -ENOENT;
        kmod_list_foreach(it, list) {
                struct kmod_module *mod = kmod_module_get_module(it);
                /* No install commands: reconcile runs no other program. */
                int x = kmod_module_probe_insert_module(mod, KMOD_PROBE_IGNORE_COMMAND, NULL, NULL, NULL, NULL);
                kmod_module_unref(mod);
                if (x < 0 && r >= 0)
                        r = x;
        }
        kmod_module_unref_list(list);
        kmod_unref(k);
        if (r == -ENOENT)
                return diag_res(r, "module", name, "no such module for this kernel");
        if (r < 0)
                return diag_res(r, "module", name, "loading: %s", strerror(-r));
        return 0;
}

static int module_apply(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct module_state *s = state;
        const char *key = a->key ? a->key : a->name;
        struct module_conf c = { 0 };
        conf_read(s, &c);
        struct conf_entry *ce = conf_find(&c, key, a->op != OP_DELETE);
        if (a->op == OP_DELETE) {
                if (ce) {
                        free(ce->name);
                        free(ce->options);
                        *ce = c.v[--c.n];
                }
        } else {
                ce->at_boot = true;
                free(ce->options);
                ce->options = a->want->module.options ? xstrdup(a->want->module.options) : NULL;
        }
        int r = conf_write(s, &c);
        conf_done(&c);
        if (r < 0)
                return r;
        if (a->op == OP_DELETE)
                return 0;
        const char *opts = a->want->module.options ? a->want->module.options : "";
        /* Loaded as the plan said: a create, or an update that loads it. */
        bool load = a->op == OP_CREATE;
        for (size_t i = 0; i < a->n_changes; i++)
                load = load || a->changes[i].field == MODULE_F_LOADED;
        if (!load) {
                /* Loaded already: with the options of reconcile's file, if it was listed there. */
                if (e && a->live && (a->live->module.at_boot || a->live->module.options) && !ledger_get(e, "loaded-with"))
                        ledger_set(l, e, "loaded-with", a->live->module.options ? a->live->module.options : "");
                return 0;
        }
        r = module_load(s, key);
        if (r == 0 && e)
                ledger_set(l, e, "loaded-with", opts);
        return r;
}

/* ---- for the kinds that need a module (VLANs, bonds, IPVS schedulers) ---- */

/* The module tree libkmod reads: /lib/modules/RELEASE, or $RECONCILE_MODULES for tests. */
static void module_dir(char *buf, size_t size) {
        const char *dir = getenv("RECONCILE_MODULES");
        struct utsname u;
        if (dir && *dir)
                snprintf(buf, size, "%s", dir);
        else if (uname(&u) == 0)
                snprintf(buf, size, "/lib/modules/%s", u.release);
        else
                snprintf(buf, size, "/lib/modules");
}

int module_available(const char *name) {
        /* Found once, it stays found for the process (the daemon asks on every pass). */
        static char found[8][64];
        for (size_t i = 0; i < ELEMENTSOF(found); i++)
                if (strcmp(found[i], name) == 0)
                        return 0;
        char dir[PATH_MAX], index[PATH_MAX + 32];
        module_dir(dir, sizeof(dir));
        snprintf(index, sizeof(index), "%s/modules.dep.bin", dir);
        if (access(index, R_OK) < 0)
                return 0; /* no index to tell: the kernel's own error will say */
        struct kmod_ctx *k = kmod_new(dir, NULL);
        if (!k)
                return 0;
        kmod_set_log_fn(k, kmod_log_quiet, NULL);
        struct kmod_view v;
        kmod_look(k, name, &v);
        struct kmod_list *list = NULL;
        bool have = v.loaded || (kmod_module_new_from_lookup(k, name, &list) >= 0 && list);
        kmod_module_unref_list(list);
        kmod_unref(k);
        if (!have)
                return -ENOENT;
        for (size_t i = 0; i < ELEMENTSOF(found); i++)
                if (!found[i][0]) {
                        snprintf(found[i], sizeof(found[i]), "%s", name);
                        break;
                }
        return 0;
}

int module_needed(const struct resource *want, const char *module) {
        if (module_available(module) == 0)
                return 0;
        char dir[PATH_MAX];
        module_dir(dir, sizeof(dir));
        return diag_pos(&want->pos, "%s %s: needs the kernel module %s, which this kernel lacks (not loaded, not built "
                        "in, not in %s)", kind_to_string(want->kind), want->name, module, dir);
}

const struct backend module_backend = {
        .name = "module",
        .scope = SCOPE_NETNS,
        .open = module_open,
        .close = module_close,
        .observe = module_observe,
        .reads_by_name = true,
};

/* ---- the module kind: names to their options ---- */

/* What modprobe takes: letters, digits, _ and -, at most 55 bytes (MODULE_NAME_LEN). */
static bool module_name_valid(const char *n) {
        size_t len = strlen(n);
        if (!len || len > 55)
                return false;
        for (const char *p = n; *p; p++)
                if (!(*p == '_' || *p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z')))
                        return false;
        return true;
}

/* "key=value key2": what an options line takes, one line without comments. */
static int parse_module_options(const char *val, void *base, const struct field *f, char *err, size_t err_size) {
        struct resource *r = base;
        (void) f;
        if (!val || strlen(val) > 1000) {
                snprintf(err, err_size, "module %s: options: expected a string of key=value words", r->name);
                return -EINVAL;
        }
        for (const char *q = val; *q; q++)
                if (((unsigned char) *q < 0x20 && *q != '\t') || *q == 0x7f || *q == '#') {
                        snprintf(err, err_size, "module %s: options: \"%.64s\" holds a control character or '#'",
                                 r->name, printable(val));
                        return -EINVAL;
                }
        char norm[1004];
        snprintf(norm, sizeof(norm), "%s", val);
        sysctl_value_fold(norm);
        free(r->module.options);
        r->module.options = norm[0] ? xstrdup(norm) : NULL;
        return 0;
}

static const struct field module_fields[] = {
        { "options", FT_CUSTOM, 0, 0, 0, MODULE_F_OPTIONS, NULL, NULL, parse_module_options },
};

static void module_free(struct resource *r) {
        free(r->module.options);
        free(r->module.params);
}

/* A module shown is one the manifests or the ledger name, loaded or listed for boot. */
static void module_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, true);
        if (r->module.options)
                yw_kv_str(w, "options", r->module.options);
        yw_end_map(w);
        yw_entry_end(w, r);
}

/* What the YAML of show cannot say, for a snapshot: loaded, built in, listed
 * for boot, and the parameters sysfs showed. */
static void module_snapshot_facts(const struct resource *r, void (*put)(void *u, const char *key, const char *value),
                                  void *u) {
        put(u, "loaded", r->module.loaded ? "1" : "0");
        put(u, "builtin", r->module.builtin ? "1" : "0");
        put(u, "at-boot", r->module.at_boot ? "1" : "0");
        if (r->module.params)
                put(u, "params", r->module.params);
}

static int module_snapshot_fact(struct resource *r, const char *key, const char *value) {
        bool on = strcmp(value, "1") == 0;
        if (strcmp(key, "params") == 0) {
                free(r->module.params);
                r->module.params = xstrdup(value);
                return 0;
        }
        if (!on && strcmp(value, "0") != 0)
                return -EBADMSG;
        if (strcmp(key, "loaded") == 0)
                r->module.loaded = on;
        else if (strcmp(key, "builtin") == 0)
                r->module.builtin = on;
        else if (strcmp(key, "at-boot") == 0)
                r->module.at_boot = on;
        else
                return -EBADMSG;
        r->set |= MODULE_F_LOADED | MODULE_F_AT_BOOT;
        return 0;
}

const struct kind_ops module_kind = {
        .word = "module",
        .section = "modules",
        .backend = &module_backend,
        .identity = module_identity,
        .admit = module_admit,
        .diff = module_diff,
        .describe = module_describe,
        .assess = module_assess,
        .apply = module_apply,
        .flags = 0, /* a module loaded cannot be taken back by apply --confirm */
        .show_rank = 0, /* first: a VLAN or a bond needs its module loaded before it */
        .fields = module_fields,
        .n_fields = ELEMENTSOF(module_fields),
        .name_valid = module_name_valid,
        .name_error = "modules: bad module name \"%.64s\": letters, digits, _ and -, at most 55 bytes",
        .free = module_free,
        .show = module_show,
        .snapshot_facts = module_snapshot_facts,
        .snapshot_fact = module_snapshot_fact,
};
