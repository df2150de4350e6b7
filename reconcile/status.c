/* The host's status: the revision in force, the last run, conditions and
 * per-resource state, as JSON (`reconcile status`, the daemon's status file)
 * and as Prometheus text for node_exporter's textfile collector. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "reconcile.h"

static const char *const res_status_words[_RES_STATUS_MAX] = {
        [RES_IN_SYNC] = "in-sync", [RES_PENDING] = "pending", [RES_FAILED] = "failed",
};
static const struct enum_table res_status_table = { "resource status", res_status_words, _RES_STATUS_MAX };
const char *res_status_to_string(enum res_status s) { return enum_to_string(&res_status_table, s); }

static const char *const condition_words[_COND_MAX] = {
        [COND_READY] = "Ready", [COND_PROGRESSING] = "Progressing", [COND_DEGRADED] = "Degraded",
        [COND_DRIFTED] = "Drifted", [COND_HELD] = "Held",
};
static const struct enum_table condition_table = { "condition", condition_words, _COND_MAX };
const char *condition_to_string(enum condition c) { return enum_to_string(&condition_table, c); }

/* ---- the revision ---- */

static char *first_line(char *s) {
        if (s)
                s[strcspn(s, "\r\n")] = '\0';
        return s;
}

static bool hex_commit(const char *s) {
        size_t n = strspn(s, "0123456789abcdef");
        return (n == 40 || n == 64) && s[n] == '\0';
}

/* The commit a ref names: its loose file, else its line in packed-refs. */
static char *ref_commit(const char *gitdir, const char *ref) {
        _cleanup_free_ char *path = xasprintf("%s/%s", gitdir, ref);
        char *loose = first_line(file_read(path));
        if (loose && hex_commit(loose))
                return loose;
        free(loose);
        _cleanup_free_ char *packed_path = xasprintf("%s/packed-refs", gitdir);
        _cleanup_free_ char *packed = file_read(packed_path);
        for (char *line = packed, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *sp = strchr(line, ' ');
                if (sp && strcmp(sp + 1, ref) == 0) {
                        *sp = '\0';
                        if (hex_commit(line))
                                return xstrdup(line);
                }
        }
        return NULL;
}

/* HEAD of the checkout whose .git (a directory, or a file saying "gitdir:"
 * for worktrees and submodules) is in dir. */
static char *checkout_commit(const char *dir) {
        _cleanup_free_ char *dotgit = xasprintf("%s/.git", dir);
        _cleanup_free_ char *gitdir = NULL;
        struct stat st;
        if (stat(dotgit, &st) < 0)
                return NULL;
        if (S_ISDIR(st.st_mode))
                gitdir = xstrdup(dotgit);
        else {
                _cleanup_free_ char *text = first_line(file_read(dotgit));
                if (!text || strncmp(text, "gitdir: ", 8) != 0)
                        return NULL;
                gitdir = text[8] == '/' ? xstrdup(text + 8) : xasprintf("%s/%s", dir, text + 8);
        }
        _cleanup_free_ char *head_path = xasprintf("%s/HEAD", gitdir);
        char *head = first_line(file_read(head_path));
        if (!head)
                return NULL;
        if (hex_commit(head))
                return head; /* detached, as a deploy checks out */
        char *commit = NULL;
        if (strncmp(head, "ref: ", 5) == 0) {
                commit = ref_commit(gitdir, head + 5);
                /* A worktree's branches live in the common directory. */
                _cleanup_free_ char *common_path = xasprintf("%s/commondir", gitdir);
                _cleanup_free_ char *common = first_line(file_read(common_path));
                if (!commit && common) {
                        _cleanup_free_ char *cdir = common[0] == '/' ? xstrdup(common) : xasprintf("%s/%s", gitdir, common);
                        commit = ref_commit(cdir, head + 5);
                }
        }
        free(head);
        return commit;
}

char *status_revision(const char *dir, const char *digest, const char **source) {
        char real[PATH_MAX];
        /* The manifests may be a directory inside the checkout (hosts/web1). */
        if (dir && realpath(dir, real)) {
                for (int depth = 0; depth < 16; depth++) {
                        char *commit = checkout_commit(*real ? real : "/");
                        if (commit) {
                                *source = "git";
                                return commit;
                        }
                        char *slash = strrchr(real, '/');
                        if (!slash || !*real)
                                break;
                        *slash = '\0';
                }
        }
        *source = "digest";
        return xstrdup(digest ? digest : "");
}

/* ---- folding a pass in ---- */

static void check_row_done(struct status_check *c) {
        free(c->item);
        free(c->check);
        free(c->result);
}

static void resource_entry_done(struct status_resource *e) {
        free(e->name);
        free(e->reason);
        free(e->until);
        for (size_t i = 0; i < e->n_checks; i++)
                check_row_done(&e->checks[i]);
        free(e->checks);
}

static struct status_resource *entry_find(struct status_resource *v, size_t n, enum kind k, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (v[i].kind == k && strcmp(v[i].name, name) == 0)
                        return &v[i];
        return NULL;
}

static struct status_resource *entry_get(struct status_resource **v, size_t *n, enum kind k, const char *name) {
        struct status_resource *e = entry_find(*v, *n, k, name);
        if (e)
                return e;
        e = array_push(v, n, sizeof(**v));
        *e = (struct status_resource) { .kind = k, .name = xstrdup(name) };
        return e;
}

static void set_str(char **dst, const char *s) {
        free(*dst);
        *dst = s ? xstrdup(s) : NULL;
}

/* The error line the run reported for a resource ("error: bridge br0: ..."), without its prefix. */
static const char *error_for(const struct str_list *errors, enum kind k, const char *name) {
        if (!errors)
                return NULL;
        _cleanup_free_ char *prefix = xasprintf("error: %s %s: ", kind_to_string(k), name);
        for (size_t i = errors->n; i-- > 0;)
                if (strncmp(errors->v[i], prefix, strlen(prefix)) == 0)
                        return errors->v[i] + strlen(prefix);
        return NULL;
}

void status_observe(struct status *s, const struct pass_report *rep, const struct str_list *errors) {
        /* A revert's plan is not what the manifests ask for: the hold says it. */
        if (rep->revert || !rep->plan)
                return;
        const struct plan *p = rep->plan;
        if (rep->event == PASS_PLANNED) {
                for (size_t i = 0; i < s->n_seen; i++)
                        resource_entry_done(&s->seen[i]);
                s->n_seen = 0;
                for (size_t i = 0; i < p->n_pending; i++) {
                        const struct pending *pe = &p->pending[i];
                        struct status_resource *e = entry_get(&s->seen, &s->n_seen, pe->kind, pe->name);
                        e->state = RES_PENDING;
                        set_str(&e->reason, pe->reason);
                        set_str(&e->until, pe->until);
                }
                /* A dry run's actions are pending until applied. */
                if (rep->dry_run)
                        for (size_t i = 0; i < p->n_actions; i++) {
                                const struct action *a = &p->actions[i];
                                struct status_resource *e = entry_get(&s->seen, &s->n_seen, a->kind, a->name);
                                e->state = RES_PENDING;
                                _cleanup_free_ char *why = xasprintf("%s planned", op_to_string(a->op));
                                set_str(&e->reason, why);
                                }
                return;
        }
        if (rep->event != PASS_APPLIED)
                return;
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                struct status_resource *e = entry_get(&s->seen, &s->n_seen, a->kind, a->name);
                if (a->result == 0) {
                        /* Done: counted as a repair by status_record when the revision stayed;
                         * what the plan found pending besides (a module's options) stays pending. */
                        if (e->state != RES_PENDING)
                                e->state = RES_IN_SYNC;
                        e->repairs = 1;
                        continue;
                }
                e->state = a->result < 0 ? RES_FAILED : RES_PENDING;
                const char *err = a->result < 0 ? error_for(errors, a->kind, a->name) : NULL;
                _cleanup_free_ char *why = a->result < 0 ? xasprintf("%s failed: %s", op_to_string(a->op),
                                                                      err ? err : strerror(-a->result))
                                                          : xasprintf("%s not run: what it depends on failed",
                                                                      op_to_string(a->op));
                set_str(&e->reason, why);
        }
        /* What verification still found to do did not converge. */
        if (rep->residual)
                for (size_t i = 0; i < rep->residual->n_actions; i++) {
                        const struct action *a = &rep->residual->actions[i];
                        struct status_resource *e = entry_get(&s->seen, &s->n_seen, a->kind, a->name);
                        if (e->state == RES_FAILED)
                                continue;
                        e->state = RES_FAILED;
                        e->repairs = 0;
                        _cleanup_free_ char *why = xasprintf("did not converge: %s still planned", op_to_string(a->op));
                        set_str(&e->reason, why);
                }
}

static void condition_set(struct status *s, enum condition c, bool on, const char *reason, const char *message,
                          int64_t now) {
        struct status_condition *k = &s->cond[c];
        if (k->on != on || !k->reason || strcmp(k->reason, reason) != 0 || !k->since)
                k->since = now;
        k->on = on;
        set_str(&k->reason, reason);
        set_str(&k->message, message);
}

void status_record(struct status *s, const struct status_run *run) {
        int64_t now = run->started + (int64_t) run->seconds;
        const struct pass_result *res = run->res;
        bool same_revision = s->revision && run->revision && strcmp(s->revision, run->revision) == 0;
        /* A held revision (refused, or reverted by this run) is not in force: the last one stays. */
        bool held = res->held || run->reverted;
        bool new_revision = !same_revision && !held;
        struct status_resource *old = s->res;
        size_t n_old = s->n_res;
        s->res = NULL;
        s->n_res = 0;
        set_str(&s->trigger, run->trigger);
        s->last_run = run->started;
        s->run_seconds = run->seconds;
        s->runs++;
        if (!run->want) {
                /* Invalid manifests: the last good revision stays in force, and so do its resources. */
                s->res = old;
                s->n_res = n_old;
                old = NULL;
                n_old = 0;
                status_mark_invalid(s, "the manifests do not parse; the last good revision stays in force", now);
                goto out;
        }
        if (new_revision) {
                set_str(&s->revision, run->revision);
                set_str(&s->revision_source, run->revision_source);
                condition_set(s, COND_DRIFTED, false, "NoDriftRepaired", "no drift repaired under this revision", now);
        }
        set_str(&s->digest, run->digest);
        size_t n_pending = 0, n_failed = 0, n_repaired = 0;
        /* Every declared resource, then what the pass said of others (prunes). */
        /* A model holds each kind and name once, and the last run's entries came
         * in the same order: no search per resource (1,000 bridges, 500,000 strcmp). */
        for (size_t i = 0; i < run->want->n; i++) {
                const struct resource *r = run->want->v[i];
                struct status_resource *e = array_push(&s->res, &s->n_res, sizeof(*s->res));
                *e = (struct status_resource) { .kind = r->kind, .name = xstrdup(r->name) };
                const struct status_resource *was =
                        i < n_old && old[i].kind == r->kind && strcmp(old[i].name, r->name) == 0 ? &old[i]
                                                                                              : entry_find(old, n_old, r->kind, r->name);
                if (was && !new_revision)
                        e->repairs = was->repairs;
        }
        for (size_t i = 0; i < s->n_seen; i++) {
                const struct status_resource *seen = &s->seen[i];
                struct status_resource *e = entry_get(&s->res, &s->n_res, seen->kind, seen->name);
                const struct status_resource *was = entry_find(old, n_old, seen->kind, seen->name);
                e->state = seen->state;
                set_str(&e->reason, seen->reason);
                set_str(&e->until, seen->until);
                /* A state that goes on keeps the time it began. */
                e->since = was && was->state == seen->state && was->since ? was->since : run->started;
                if (run->reverted && seen->state == RES_IN_SYNC && seen->repairs) {
                        /* Done, then put back with the revision. */
                        e->state = RES_PENDING;
                        set_str(&e->reason, "reverted with its revision, which is held");
                        e->since = run->started;
                } else if (seen->state == RES_IN_SYNC && seen->repairs && same_revision && !held) {
                        e->repairs++;
                        s->repairs_total[seen->kind]++;
                        n_repaired++;
                }
        }
        for (size_t i = 0; i < s->n_res; i++) {
                n_pending += s->res[i].state == RES_PENDING;
                n_failed += s->res[i].state == RES_FAILED;
        }
        char msg[256];
        bool ok = res->status == PASS_OK && !res->observe_failed && !n_failed;
        if (run->reverted) {
                set_str(&s->result, "held");
                snprintf(msg, sizeof(msg), "revision %s was reverted (%s) and is held: run `reconcile release` or change the manifests",
                         run->revision, run->reverted);
                condition_set(s, COND_HELD, true, "RevisionReverted", msg, now);
        } else if (res->held) {
                set_str(&s->result, "held");
                /* The reason the revert gave stays while the same revision is refused. */
                if (!s->cond[COND_HELD].on || !s->cond[COND_HELD].message) {
                        snprintf(msg, sizeof(msg), "revision %s was reverted and is held: run `reconcile release` or change the manifests",
                                 run->revision);
                        condition_set(s, COND_HELD, true, "RevisionReverted", msg, now);
                }
        } else {
                set_str(&s->result, !ok ? "errors" : res->n_done ? "applied" : "in-sync");
                condition_set(s, COND_HELD, false, "NotHeld", "the revision in force is applied", now);
        }
        if (ok && !held)
                s->last_success = now;
        if (n_repaired || (same_revision && s->cond[COND_DRIFTED].on)) {
                uint64_t total = 0;
                for (size_t i = 0; i < s->n_res; i++)
                        total += s->res[i].repairs;
                snprintf(msg, sizeof(msg), "%llu drift repair%s under this revision", (unsigned long long) total,
                         total == 1 ? "" : "s");
                condition_set(s, COND_DRIFTED, true, "DriftRepaired", msg, now);
        }
        if (res->observe_failed)
                condition_set(s, COND_DEGRADED, true, "BackendUnreachable", "a backend could not be read; see the log", now);
        else if (n_failed) {
                snprintf(msg, sizeof(msg), "%zu resource%s failed", n_failed, n_failed == 1 ? "" : "s");
                condition_set(s, COND_DEGRADED, true, "ApplyFailed", msg, now);
        } else if (res->status != PASS_OK && !held)
                condition_set(s, COND_DEGRADED, true, "RunFailed", "the run reported errors; see the log", now);
        else
                condition_set(s, COND_DEGRADED, false, "NoErrors", "the last run had no errors", now);
        if (n_pending) {
                snprintf(msg, sizeof(msg), "%zu resource%s pending", n_pending, n_pending == 1 ? "" : "s");
                condition_set(s, COND_PROGRESSING, true, "Pending", msg, now);
        } else
                condition_set(s, COND_PROGRESSING, false, "Settled", "nothing is pending", now);
        if (held)
                condition_set(s, COND_READY, false, "Held", s->cond[COND_HELD].message, now);
        else if (!ok)
                condition_set(s, COND_READY, false, s->cond[COND_DEGRADED].reason, s->cond[COND_DEGRADED].message, now);
        else if (n_pending)
                condition_set(s, COND_READY, false, "Pending", s->cond[COND_PROGRESSING].message, now);
        else
                condition_set(s, COND_READY, true, "InSync", "the host is as the manifests say", now);
out:
        for (size_t i = 0; i < n_old; i++)
                resource_entry_done(&old[i]);
        free(old);
        for (size_t i = 0; i < s->n_seen; i++)
                resource_entry_done(&s->seen[i]);
        free(s->seen);
        s->seen = NULL;
        s->n_seen = 0;
}

void status_mark_invalid(struct status *s, const char *message, int64_t now) {
        set_str(&s->result, "invalid");
        condition_set(s, COND_READY, false, "ManifestsInvalid", message, now);
        condition_set(s, COND_DEGRADED, true, "ManifestsInvalid", message, now);
}

void status_add_pending(struct status *s, enum kind k, const char *name, const char *reason, int64_t since) {
        struct status_resource *e = entry_get(&s->res, &s->n_res, k, name);
        e->state = RES_PENDING;
        set_str(&e->reason, reason);
        set_str(&e->until, NULL);
        e->since = since;
        if (!s->cond[COND_PROGRESSING].on)
                condition_set(s, COND_PROGRESSING, true, "Pending", reason, since);
}

void status_add_check(struct status *s, enum kind k, const char *name, const struct status_check *row) {
        struct status_resource *e = entry_get(&s->res, &s->n_res, k, name);
        struct status_check *c = array_push(&e->checks, &e->n_checks, sizeof(*c));
        *c = (struct status_check) {
                .item = xstrdup(row->item),
                .check = xstrdup(row->check),
                .result = xstrdup(row->result),
                .up = row->up,
                .since = row->since,
                .restarts = row->restarts,
                .toward = row->toward,
        };
}

void status_clear_checks(struct status *s) {
        for (size_t i = 0; i < s->n_res; i++) {
                struct status_resource *e = &s->res[i];
                for (size_t j = 0; j < e->n_checks; j++)
                        check_row_done(&e->checks[j]);
                free(e->checks);
                e->checks = NULL;
                e->n_checks = 0;
        }
}

/* ---- JSON ---- */

static json_object *jstr(const char *s) { return s ? json_object_new_string(s) : NULL; }

/* RFC 3339 in UTC, what people and jq read; the numbers are beside it. */
static json_object *jtime(int64_t t) {
        if (!t)
                return NULL;
        char buf[32];
        time_t tt = (time_t) t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_object_new_string(buf);
}

char *status_json(const struct status *s) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "format", json_object_new_int(1));
        json_object_object_add(root, "revision", jstr(s->revision));
        json_object_object_add(root, "revision_source", jstr(s->revision_source));
        json_object_object_add(root, "digest", jstr(s->digest));
        json_object *last = json_object_new_object();
        json_object_object_add(last, "time", jtime(s->last_run));
        json_object_object_add(last, "timestamp", json_object_new_int64(s->last_run));
        json_object_object_add(last, "trigger", jstr(s->trigger));
        json_object_object_add(last, "result", jstr(s->result));
        char secs[32];
        snprintf(secs, sizeof(secs), "%.6f", s->run_seconds);
        json_object_object_add(last, "seconds", json_object_new_double_s(s->run_seconds, secs));
        json_object_object_add(root, "last_run", last);
        json_object_object_add(root, "last_success", jtime(s->last_success));
        json_object_object_add(root, "last_success_timestamp", json_object_new_int64(s->last_success));
        json_object_object_add(root, "runs", json_object_new_int64((int64_t) s->runs));
        json_object *conds = json_object_new_array();
        for (int c = 0; c < _COND_MAX; c++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "type", json_object_new_string(condition_to_string(c)));
                json_object_object_add(o, "status", json_object_new_string(s->cond[c].on ? "True" : "False"));
                json_object_object_add(o, "reason", jstr(s->cond[c].reason));
                json_object_object_add(o, "message", jstr(s->cond[c].message));
                json_object_object_add(o, "since", jtime(s->cond[c].since));
                json_object_object_add(o, "since_timestamp", json_object_new_int64(s->cond[c].since));
                json_object_array_add(conds, o);
        }
        json_object_object_add(root, "conditions", conds);
        json_object *counts = json_object_new_object();
        size_t n[_RES_STATUS_MAX] = { 0 };
        for (size_t i = 0; i < s->n_res; i++)
                n[s->res[i].state]++;
        for (int st = 0; st < _RES_STATUS_MAX; st++)
                json_object_object_add(counts, res_status_to_string(st), json_object_new_int64((int64_t) n[st]));
        json_object_object_add(root, "counts", counts);
        json_object *list = json_object_new_array();
        for (size_t i = 0; i < s->n_res; i++) {
                const struct status_resource *e = &s->res[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "kind", json_object_new_string(kind_to_string(e->kind)));
                json_object_object_add(o, "name", json_object_new_string(e->name));
                json_object_object_add(o, "status", json_object_new_string(res_status_to_string(e->state)));
                if (e->reason)
                        json_object_object_add(o, e->state == RES_FAILED ? "error" : "reason", jstr(e->reason));
                if (e->until)
                        json_object_object_add(o, "until", jstr(e->until));
                if (e->state != RES_IN_SYNC && e->since) {
                        json_object_object_add(o, "since", jtime(e->since));
                        json_object_object_add(o, "since_timestamp", json_object_new_int64(e->since));
                }
                json_object_object_add(o, "repairs", json_object_new_int64((int64_t) e->repairs));
                if (e->n_checks) {
                        json_object *checks = json_object_new_array();
                        for (size_t j = 0; j < e->n_checks; j++) {
                                const struct status_check *c = &e->checks[j];
                                json_object *r = json_object_new_object();
                                json_object_object_add(r, "item", jstr(c->item));
                                json_object_object_add(r, "check", jstr(c->check));
                                json_object_object_add(r, "state", json_object_new_string(c->up ? "up" : "down"));
                                json_object_object_add(r, "result", jstr(c->result));
                                json_object_object_add(r, "since", jtime(c->since));
                                json_object_object_add(r, "since_timestamp", json_object_new_int64(c->since));
                                json_object_object_add(r, "restarts", json_object_new_int64(c->restarts));
                                /* The results in a row toward the other state: rise's passes, fall's failures. */
                                json_object_object_add(r, c->up ? "failures" : "passes", json_object_new_int64(c->toward));
                                json_object_array_add(checks, r);
                        }
                        json_object_object_add(o, "checks", checks);
                }
                json_object_array_add(list, o);
        }
        json_object_object_add(root, "resources", list);
        json_object *rep = json_object_new_object();
        for (int k = 0; k < _KIND_MAX; k++)
                if (s->repairs_total[k])
                        json_object_object_add(rep, kind_to_string(k), json_object_new_int64((int64_t) s->repairs_total[k]));
        json_object_object_add(root, "repairs_total", rep);
        char *out = xasprintf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return out;
}

int status_load(struct status *s, const char *path) {
        _cleanup_free_ char *text = file_read(path);
        if (!text)
                return -errno;
        json_object *root = json_tokener_parse(text);
        if (!root || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                return -EBADMSG;
        }
        json_object *v, *rep, *conds, *list;
        if (json_object_object_get_ex(root, "revision", &v) && json_object_is_type(v, json_type_string))
                set_str(&s->revision, json_object_get_string(v));
        if (json_object_object_get_ex(root, "revision_source", &v) && json_object_is_type(v, json_type_string))
                set_str(&s->revision_source, json_object_get_string(v));
        if (json_object_object_get_ex(root, "runs", &v))
                s->runs = (uint64_t) json_object_get_int64(v);
        if (json_object_object_get_ex(root, "last_success_timestamp", &v))
                s->last_success = json_object_get_int64(v);
        if (json_object_object_get_ex(root, "repairs_total", &rep) && json_object_is_type(rep, json_type_object))
                for (int k = 0; k < _KIND_MAX; k++)
                        if (json_object_object_get_ex(rep, kind_to_string(k), &v))
                                s->repairs_total[k] = (uint64_t) json_object_get_int64(v);
        if (json_object_object_get_ex(root, "conditions", &conds) && json_object_is_type(conds, json_type_array))
                for (size_t i = 0; i < json_object_array_length(conds); i++) {
                        json_object *c = json_object_array_get_idx(conds, i), *type, *st, *reason, *since;
                        if (!json_object_object_get_ex(c, "type", &type))
                                continue;
                        int which = enum_from_string(&condition_table, json_object_get_string(type));
                        if (which < 0)
                                continue;
                        struct status_condition *k = &s->cond[which];
                        k->on = json_object_object_get_ex(c, "status", &st) && strcmp(json_object_get_string(st), "True") == 0;
                        if (json_object_object_get_ex(c, "reason", &reason))
                                set_str(&k->reason, json_object_get_string(reason));
                        if (json_object_object_get_ex(c, "since_timestamp", &since))
                                k->since = json_object_get_int64(since);
                }
        /* Per-resource repair counts and since-times carry over under the same revision. */
        if (json_object_object_get_ex(root, "resources", &list) && json_object_is_type(list, json_type_array))
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        json_object *o = json_object_array_get_idx(list, i), *kind, *name, *st, *rp, *since;
                        if (!json_object_object_get_ex(o, "kind", &kind) || !json_object_object_get_ex(o, "name", &name))
                                continue;
                        int k = kind_from_string(json_object_get_string(kind));
                        if (k < 0)
                                continue;
                        struct status_resource *e = entry_get(&s->res, &s->n_res, k, json_object_get_string(name));
                        if (json_object_object_get_ex(o, "status", &st)) {
                                int state = enum_from_string(&res_status_table, json_object_get_string(st));
                                e->state = state < 0 ? RES_IN_SYNC : state;
                        }
                        if (json_object_object_get_ex(o, "since_timestamp", &since))
                                e->since = json_object_get_int64(since);
                        if (json_object_object_get_ex(o, "repairs", &rp))
                                e->repairs = (uint64_t) json_object_get_int64(rp);
                }
        json_object_put(root);
        return 0;
}

/* ---- Prometheus text ---- */

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', f);
                if (*s == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*s, f);
        }
}

static void metric_head(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *status_metrics(const struct status *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        size_t managed[_KIND_MAX] = { 0 }, pending[_KIND_MAX] = { 0 }, failed[_KIND_MAX] = { 0 };
        bool any[_KIND_MAX] = { false };
        for (size_t i = 0; i < s->n_res; i++) {
                const struct status_resource *e = &s->res[i];
                any[e->kind] = true;
                managed[e->kind]++;
                pending[e->kind] += e->state == RES_PENDING;
                failed[e->kind] += e->state == RES_FAILED;
        }
        for (int k = 0; k < _KIND_MAX; k++)
                any[k] = any[k] || s->repairs_total[k];
        struct {
                const char *name, *type, *help;
                const size_t *v;
        } per_kind[] = {
                { "reconcile_resources", "gauge", "Resources reconcile manages, per kind.", managed },
                { "reconcile_resources_pending", "gauge", "Resources waiting for something, per kind.", pending },
                { "reconcile_resources_failed", "gauge", "Resources whose last apply failed, per kind.", failed },
        };
        for (size_t m = 0; m < ELEMENTSOF(per_kind); m++) {
                metric_head(f, per_kind[m].name, per_kind[m].type, per_kind[m].help);
                for (int k = 0; k < _KIND_MAX; k++)
                        if (any[k])
                                fprintf(f, "%s{kind=\"%s\"} %zu\n", per_kind[m].name, kind_to_string(k), per_kind[m].v[k]);
        }
        metric_head(f, "reconcile_drift_repairs_total", "counter", "Drift repaired, per kind.");
        for (int k = 0; k < _KIND_MAX; k++)
                if (any[k])
                        fprintf(f, "reconcile_drift_repairs_total{kind=\"%s\"} %llu\n", kind_to_string(k),
                                (unsigned long long) s->repairs_total[k]);
        metric_head(f, "reconcile_runs_total", "counter", "Runs since the status file was started.");
        fprintf(f, "reconcile_runs_total %llu\n", (unsigned long long) s->runs);
        metric_head(f, "reconcile_run_duration_seconds", "gauge", "How long the last run took.");
        fprintf(f, "reconcile_run_duration_seconds %.6f\n", s->run_seconds);
        metric_head(f, "reconcile_last_run_timestamp_seconds", "gauge", "When the last run started, Unix time.");
        fprintf(f, "reconcile_last_run_timestamp_seconds %lld\n", (long long) s->last_run);
        metric_head(f, "reconcile_last_success_timestamp_seconds", "gauge",
                    "When a run last ended without errors, Unix time (0: never).");
        fprintf(f, "reconcile_last_success_timestamp_seconds %lld\n", (long long) s->last_success);
        metric_head(f, "reconcile_held", "gauge", "1 when the manifest revision was reverted and is held.");
        fprintf(f, "reconcile_held %d\n", s->cond[COND_HELD].on ? 1 : 0);
        metric_head(f, "reconcile_condition", "gauge", "The status conditions, 1 when true.");
        for (int c = 0; c < _COND_MAX; c++)
                fprintf(f, "reconcile_condition{condition=\"%s\"} %d\n", condition_to_string(c), s->cond[c].on ? 1 : 0);
        metric_head(f, "reconcile_revision_info", "gauge", "The manifest revision in force.");
        fputs("reconcile_revision_info{revision=\"", f);
        label_value(f, s->revision ? s->revision : "");
        fputs("\",source=\"", f);
        label_value(f, s->revision_source ? s->revision_source : "");
        fputs("\"} 1\n", f);
        fclose(f);
        return buf;
}

char *status_summary(const struct status *s) {
        size_t n[_RES_STATUS_MAX] = { 0 };
        for (size_t i = 0; i < s->n_res; i++)
                n[s->res[i].state]++;
        const char *rev = s->revision ? s->revision : "-";
        return xasprintf("%s: revision %.12s, %zu in sync, %zu pending, %zu failed%s%s", s->result ? s->result : "-", rev,
                         n[RES_IN_SYNC], n[RES_PENDING], n[RES_FAILED], s->cond[COND_DRIFTED].on ? ", drift repaired" : "",
                         s->cond[COND_HELD].on ? ", held" : "");
}

int status_write(const struct status *s, const char *path, const char *metrics_dir) {
        int r = 0;
        if (path) {
                _cleanup_free_ char *json = status_json(s);
                r = file_write_atomic(path, json, strlen(json), "the status file");
        }
        if (metrics_dir) {
                /* node_exporter reads *.prom only: the temp file is never half read. */
                _cleanup_free_ char *text = status_metrics(s);
                _cleanup_free_ char *prom = xasprintf("%s/reconcile.prom", metrics_dir);
                int w = file_write_atomic(prom, text, strlen(text), "the metrics");
                if (r == 0)
                        r = w;
        }
        return r;
}

void status_done(struct status *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_res; i++)
                resource_entry_done(&s->res[i]);
        free(s->res);
        for (size_t i = 0; i < s->n_seen; i++)
                resource_entry_done(&s->seen[i]);
        free(s->seen);
        for (int c = 0; c < _COND_MAX; c++) {
                free(s->cond[c].reason);
                free(s->cond[c].message);
        }
        free(s->revision);
        free(s->revision_source);
        free(s->digest);
        free(s->trigger);
        free(s->result);
        *s = (struct status) { 0 };
}
