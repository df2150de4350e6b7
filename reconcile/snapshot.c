/* Snapshots for plans without the host: `reconcile show --snapshot` writes
 * the live state as manifest YAML and, in comment lines YAML skips, the
 * scope it was read in, the kinds it covers and the ledger; `plan --live`
 * reads that back as the live model and the ledger and plans against it
 * with no backend open. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../parsers/parsers.h"

#define TAG_SNAPSHOT "#@snapshot "
#define TAG_LEDGER "#@ledger "

#define TAG_FACT "#@fact "

/* Every kind of the backends show read. One that reads by name (sysctls,
 * modules, huge pages) read what the manifests and the ledger name: the
 * snapshot lists those names, and a name it did not ask is not planned. */
static uint32_t covered_kinds(const struct run *run) {
        uint32_t kinds = 0;
        for (size_t i = 0; i < n_backends; i++) {
                if (!run->bopen[i])
                        continue;
                for (int k = 0; k < _KIND_MAX; k++)
                        if (backend_serves(backends[i], k) && (!run->opts->only_kinds || (run->opts->only_kinds & (1u << k))))
                                kinds |= 1u << k;
        }
        return kinds;
}

static void write_field(FILE *f, const char *key, const char *value) {
        _cleanup_free_ char *v = record_escape(value);
        fprintf(f, TAG_SNAPSHOT "%s=%s\n", key, v);
}

/* "#@fact KIND NAME KEY VALUE": tab-separated, the name and the value
 * escaped (so no tab is theirs), then the line escaped as a whole. */
struct fact_writer {
        FILE *f;
        const struct resource *r;
};

static void put_fact(void *u, const char *key, const char *value) {
        struct fact_writer *fw = u;
        _cleanup_free_ char *name = record_escape(fw->r->name);
        _cleanup_free_ char *val = record_escape(value);
        _cleanup_free_ char *raw = xasprintf("%s\t%s\t%s\t%s", kind_to_string(fw->r->kind), name, key, val);
        _cleanup_free_ char *line = record_escape(raw);
        fprintf(fw->f, TAG_FACT "%s\n", line);
}

/* One fact line, unescaped in place, given back to its resource. */
static int take_fact(struct snapshot *s, char *line) {
        char *part[4];
        if (record_unescape(line) < 0)
                return -EBADMSG;
        for (int i = 0; i < 4; i++) {
                part[i] = line;
                line = i < 3 ? strchr(line, '\t') : NULL;
                if (i < 3 && !line)
                        return -EBADMSG;
                if (line)
                        *line++ = '\0';
        }
        enum kind k = kind_from_string(part[0]);
        if ((int) k < 0 || record_unescape(part[1]) < 0 || record_unescape(part[3]) < 0)
                return -EBADMSG;
        struct resource *r = model_find(&s->live, k, part[1]);
        if (!r || !kind_ops(k)->snapshot_fact)
                return -EBADMSG;
        return kind_ops(k)->snapshot_fact(r, part[2], part[3]);
}

/* What the host refuses of the manifests' resources of backend bi (a module
 * under --netns, a sysctl key it lacks), asked as a plan on it would ask,
 * quietly: "BACKEND/NAME<TAB>its words" each. */
static void write_refusals(FILE *f, const struct run *run, size_t bi) {
        for (size_t j = 0; run->want && j < run->want->n; j++) {
                const struct resource *w = run->want->v[j];
                const struct kind_ops *k = kind_ops(w->kind);
                if (!backend_serves(backends[bi], w->kind) || !k->admit ||
                    (run->opts->only_kinds && !(run->opts->only_kinds & (1u << w->kind))))
                        continue;
                char *said = NULL;
                size_t len = 0;
                FILE *m = open_memstream(&said, &len);
                if (!m)
                        continue;
                FILE *saved = diag_stream();
                unsigned errors = diag_error_count();
                struct str_list *kept = diag_capture(NULL);
                diag_set_stream(m);
                int r = k->admit(run->bstate[bi], w);
                diag_set_stream(saved == stderr ? NULL : saved);
                diag_capture(kept);
                diag_restore_count(errors);
                fclose(m);
                if (r < 0 && said && *said) {
                        /* Its words without the host's position: plan --live gives the manifests' own. */
                        const char *why = strstr(said, "error: ");
                        why = why ? why + strlen("error: ") : said;
                        char idbuf[256];
                        const char *id = k->identity ? k->identity(w, idbuf, sizeof(idbuf)) : w->name;
                        _cleanup_free_ char *v = xasprintf("%s/%s\t%.*s", backends[bi]->name, id, (int) strcspn(why, "\n"), why);
                        write_field(f, "refused", v);
                }
                free(said);
        }
}

int snapshot_write_trailer(FILE *f, const struct run *run) {
        const struct run_opts *o = run->opts;
        fputs("# reconcile snapshot: for `reconcile plan --live FILE`; the lines below are its scope and ledger\n", f);
        /* 2: the kinds read by name are covered (read= and fact lines); a reader of
         * format 1 would plan them from what it cannot see, so it refuses this. */
        write_field(f, "format", "2");
        /* Manifests for some hosts only (host: globs) are read as for this one. */
        char host[256];
        if (gethostname(host, sizeof(host)) == 0) {
                host[sizeof(host) - 1] = '\0';
                write_field(f, "hostname", host);
        }
        if (o->ctx.netns)
                write_field(f, "netns", o->ctx.netns);
        if (o->ctx.libvirt_uri)
                write_field(f, "libvirt-uri", o->ctx.libvirt_uri);
        uint32_t kinds = covered_kinds(run);
        char list[1024] = "";
        for (int k = 0; k < _KIND_MAX; k++)
                if (kinds & (1u << k))
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", *list ? "," : "",
                                 kind_to_string(k));
        write_field(f, "kinds", list);
        for (size_t i = 0; i < n_backends; i++) {
                if (!run->bopen[i] || !backends[i]->reads_by_name)
                        continue;
                struct str_list names = { 0 };
                run_names_for(run, backends[i], &names);
                for (size_t j = 0; j < names.n; j++) {
                        _cleanup_free_ char *key = xasprintf("%s/%s", backends[i]->name, names.v[j]);
                        write_field(f, "read", key);
                }
                str_list_done(&names);
                write_refusals(f, run, i);
        }
        for (size_t i = 0; i < run->live.n; i++) {
                const struct resource *r = run->live.v[i];
                if (kind_ops(r->kind)->snapshot_facts && (kinds & (1u << r->kind))) {
                        struct fact_writer fw = { f, r };
                        kind_ops(r->kind)->snapshot_facts(r, put_fact, &fw);
                }
        }
        /* The ledger as the file holds it: its lines are escaped, one record each. */
        _cleanup_free_ char *path = xasprintf("%s/ledger", o->state_dir);
        _cleanup_free_ char *ledger = file_read(path);
        if (!ledger && errno != ENOENT)
                return diag_plain(-errno, "%s: cannot read the ledger: %s", path, strerror(errno));
        for (char *line = ledger, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                fprintf(f, TAG_LEDGER "%s\n", line);
        }
        return ferror(f) ? -EIO : 0;
}

void snapshot_done(struct snapshot *s) {
        model_done(&s->live);
        for (size_t i = 0; i < s->n_files; i++)
                free(s->files[i]);
        free(s->files);
        ledger_done(&s->ledger);
        free(s->netns);
        free(s->hostname);
        free(s->libvirt_uri);
        free(s->path);
        strset_done(&s->read);
        str_list_done(&s->read_names);
        str_list_done(&s->refused);
        str_list_done(&s->refused_why);
        for (size_t i = 0; i < s->n_unread; i++)
                resource_free(s->unread[i]);
        free(s->unread);
        memset(s, 0, sizeof(*s));
}

/* The ledger lines, through ledger_load (the one reader of the format), from a private temporary directory. */
static int load_ledger(struct snapshot *s, const char *path, const char *text) {
        char dir[] = "/tmp/reconcile-snapshot-XXXXXX";
        if (!mkdtemp(dir))
                return diag_plain(-errno, "%s: cannot make a temporary directory: %s", path, strerror(errno));
        _cleanup_free_ char *file = xasprintf("%s/ledger", dir);
        /* A scratch copy, gone when read: written plainly, without the fsyncs of a state file. */
        int r = 0;
        if (text) {
                FILE *f = fopen(file, "we");
                if (!f || fwrite(text, 1, strlen(text), f) != strlen(text))
                        r = errno ? -errno : -EIO;
                if (f && fclose(f) != 0 && r >= 0)
                        r = -errno;
                if (r < 0) {
                        unlink(file);
                        rmdir(dir);
                        return diag_plain(r, "%s: cannot write %s: %s", path, file, strerror(-r));
                }
        }
        r = ledger_load(&s->ledger, dir);
        unlink(file);
        rmdir(dir);
        if (r < 0)
                return diag_plain(r, "%s: the snapshot's ledger is damaged", path);
        return 0;
}

int snapshot_load(const char *path, struct snapshot *s) {
        memset(s, 0, sizeof(*s));
        s->path = xstrdup(path);
        _cleanup_free_ char *text = file_read(path);
        if (!text)
                return diag_plain(-errno, "%s: %s", path, strerror(errno));
        struct manifest_set set = { 0 };
        int r = manifest_parse_buffer(&set, path, text, strlen(text), "");
        if (r < 0) {
                manifests_done(&set);
                return diag_plain(r, "%s: not a snapshot that `reconcile show` wrote", path);
        }
        for (size_t i = 0; i < set.model.n; i++)
                if (kind_ops(set.model.v[i]->kind)->from_snapshot)
                        kind_ops(set.model.v[i]->kind)->from_snapshot(set.model.v[i]);
        /* The model is the live one now: it outlives the file names its positions point to. */
        s->live = set.model;
        set.model = (struct model) { 0 };
        s->files = set.files;
        s->n_files = set.n_files;
        set.files = NULL;
        set.n_files = 0;
        manifests_done(&set);

        char *ledger = NULL;
        size_t ledger_len = 0;
        bool format = false, kinds = false;
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strncmp(line, TAG_LEDGER, strlen(TAG_LEDGER)) == 0) {
                        const char *l = line + strlen(TAG_LEDGER);
                        ledger = realloc(ledger, ledger_len + strlen(l) + 2);
                        if (!ledger)
                                abort();
                        memcpy(ledger + ledger_len, l, strlen(l));
                        ledger_len += strlen(l);
                        ledger[ledger_len++] = '\n';
                        ledger[ledger_len] = '\0';
                        continue;
                }
                if (strncmp(line, TAG_FACT, strlen(TAG_FACT)) == 0) {
                        if (take_fact(s, line + strlen(TAG_FACT)) < 0) {
                                r = diag_plain(-EBADMSG, "%s: a garbled snapshot fact", path);
                                break;
                        }
                        continue;
                }
                if (strncmp(line, TAG_SNAPSHOT, strlen(TAG_SNAPSHOT)) != 0)
                        continue;
                char *key = line + strlen(TAG_SNAPSHOT), *eq = strchr(key, '=');
                if (!eq || record_unescape(eq + 1) < 0) {
                        r = diag_plain(-EBADMSG, "%s: a garbled snapshot line \"%s\"", path, key);
                        break;
                }
                *eq = '\0';
                const char *value = eq + 1;
                if (strcmp(key, "format") == 0) {
                        if (strcmp(value, "1") != 0 && strcmp(value, "2") != 0) {
                                r = diag_plain(-EBADMSG, "%s: snapshot format %s is not one this reconcile reads", path, value);
                                break;
                        }
                        format = true;
                } else if (strcmp(key, "netns") == 0)
                        s->netns = xstrdup(value);
                else if (strcmp(key, "hostname") == 0)
                        s->hostname = xstrdup(value);
                else if (strcmp(key, "libvirt-uri") == 0)
                        s->libvirt_uri = xstrdup(value);
                else if (strcmp(key, "refused") == 0) {
                        char *tab = strchr(value, '\t');
                        if (!tab) {
                                r = diag_plain(-EBADMSG, "%s: a garbled snapshot line \"%s\"", path, key);
                                break;
                        }
                        *(char **) array_push(&s->refused.v, &s->refused.n, sizeof(char *)) =
                                xasprintf("%.*s", (int) (tab - value), value);
                        *(char **) array_push(&s->refused_why.v, &s->refused_why.n, sizeof(char *)) = xstrdup(tab + 1);
                } else if (strcmp(key, "read") == 0) {
                        char *name = xstrdup(value);
                        *(char **) array_push(&s->read_names.v, &s->read_names.n, sizeof(char *)) = name;
                        strset_add(&s->read, name);
                }
                else if (strcmp(key, "kinds") == 0) {
                        kinds = true;
                        _cleanup_free_ char *copy = xstrdup(value);
                        char *save = NULL;
                        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                                enum kind k = kind_from_string(t);
                                if ((int) k < 0) {
                                        r = diag_plain(-EBADMSG, "%s: the snapshot covers a kind this reconcile does not know: %s", path, t);
                                        break;
                                }
                                s->kinds |= 1u << k;
                        }
                }
        }
        if (r >= 0 && (!format || !kinds))
                r = diag_plain(-EBADMSG, "%s: no snapshot lines: write it with `reconcile show --snapshot`", path);
        if (r >= 0)
                r = load_ledger(s, path, ledger);
        free(ledger);
        if (r < 0)
                snapshot_done(s);
        return r;
}

struct unread_check {
        const struct snapshot *s;
        uint32_t kinds;
};

/* "BACKEND/NAME" of a resource of a kind read by name, or NULL. */
static char *read_key(const struct resource *w) {
        const struct kind_ops *k = kind_ops(w->kind);
        if (!k->backend || !k->backend->reads_by_name)
                return NULL;
        char idbuf[256];
        return xasprintf("%s/%s", k->backend->name, k->identity ? k->identity(w, idbuf, sizeof(idbuf)) : w->name);
}

/* Why the host refused it when show ran, or NULL. */
static const char *refused_why(const struct snapshot *s, const char *key) {
        for (size_t i = 0; key && i < s->refused.n; i++)
                if (strcmp(s->refused.v[i], key) == 0)
                        return s->refused_why.v[i];
        return NULL;
}

/* A declared name of a kind read by name that the host refused, or that show
 * neither found nor asked for. */
static bool unread(const struct resource *w, void *u) {
        const struct unread_check *c = u;
        _cleanup_free_ char *key = c->kinds & (1u << w->kind) ? read_key(w) : NULL;
        if (!key)
                return false;
        if (refused_why(c->s, key))
                return true;
        char idbuf[256];
        const char *id = kind_ops(w->kind)->identity ? kind_ops(w->kind)->identity(w, idbuf, sizeof(idbuf)) : w->name;
        return !model_find(&c->s->live, w->kind, id) && !strset_has(&c->s->read, key);
}

void snapshot_run(struct snapshot *s, const struct run_opts *base, struct run_opts *opts, struct model *want,
                  struct run *run) {
        *opts = *base;
        opts->ctx.netns = s->netns;
        opts->ctx.libvirt_uri = s->libvirt_uri;
        opts->only_kinds = (base->only_kinds ? base->only_kinds : (1u << _KIND_MAX) - 1) & s->kinds;
        opts->dry_run = true;
        opts->offline = true;
        opts->edit = NULL;
        /* What show did not ask for is unknown, not absent: said, and left out. */
        struct unread_check c = { s, opts->only_kinds };
        size_t first = s->n_unread;
        model_take_if(want, unread, &c, &s->unread, &s->n_unread);
        for (size_t i = first; i < s->n_unread; i++) {
                const struct resource *w = s->unread[i];
                _cleanup_free_ char *key = read_key(w);
                const char *why = refused_why(s, key);
                if (why)
                        diag_pos(&w->pos, "%s", why); /* as the host said it */
                else
                        diag_info("%s: the snapshot did not read %s %s (show --snapshot reads what its manifests and "
                                  "ledger name): not planned",
                                  s->path, kind_to_string(w->kind), w->name);
        }
        *run = (struct run) { .opts = opts, .want = want, .ledger = &s->ledger };
        run->live = s->live;
        s->live = (struct model) { 0 };
        /* No backend is opened: the planner asks only whether one serves a kind. */
        for (size_t i = 0; i < n_backends; i++)
                for (int k = 0; k < _KIND_MAX; k++)
                        if ((opts->only_kinds & (1u << k)) && backend_serves(backends[i], k))
                                run->bopen[i] = true;
}
