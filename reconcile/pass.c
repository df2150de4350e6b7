/* One pass: the run of apply, plan and the daemon from the lock to the exit
 * status, with apply --confirm's checkpoint, its revert and the hold.
 *
 * STATE_DIR/checkpoint.yaml  the touched resources as they were, as a manifest
 * STATE_DIR/checkpoint       format, pid, deadline, digest, kinds, adopted keys
 * STATE_DIR/confirm          written by `reconcile confirm`
 * STATE_DIR/hold             digest and time of a reverted revision */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reconcile.h"
#include "../parsers/parsers.h"

#define CHECKPOINT_FORMAT "2"

/* Kinds whose changes can be put back from a checkpoint. */
static bool revertible(enum kind k) {
        return kind_ops(k)->flags & KF_REVERTIBLE;
}

/* One pass's own options: a revert narrows the run's and holds the lock already. */
struct pass {
        const struct pass_opts *o;
        struct run_opts run;
        bool lock_held;
        bool reverting;
        bool checkpointed; /* a checkpoint waits for confirmation */
        bool replanned;    /* this pass is the one re-plan a changed batch gets */
};

static char *state_path(const char *state_dir, const char *name) {
        return xasprintf("%s/%s", state_dir, name);
}

/* The unescaped value of key in a state file, or NULL. */
static char *meta_get(const char *meta, const char *key) {
        char *v = record_value(meta, key, NULL);
        if (v && record_unescape(v) < 0) {
                free(v);
                return NULL;
        }
        return v;
}

static void report(const struct pass *ps, enum pass_event ev, const struct plan *p, const struct action *a,
                   bool failed) {
        struct pass_report rep = { .event = ev, .plan = p, .action = a, .dry_run = ps->run.dry_run,
                                   .revert = ps->reverting, .failed = failed };
        if (ps->o->report)
                ps->o->report(ps->o->u, &rep);
}

static void pass_once(struct pass *ps, struct model *want, struct pass_result *res);

/* ---- holds ---- */

/* A held revision: an error for an apply, a note for a plan (dry). */
static int hold_check(const struct pass *ps, bool dry) {
        _cleanup_free_ char *path = state_path(ps->run.state_dir, "hold");
        _cleanup_free_ char *meta = file_read(path);
        if (!meta)
                return 0;
        _cleanup_free_ char *held = meta_get(meta, "digest");
        _cleanup_free_ char *when = meta_get(meta, "time");
        if (!held || strcmp(held, ps->o->digest) != 0)
                return 0; /* a new revision lifts the hold by itself */
        if (dry) {
                diag_info("note: this manifest revision is held (reverted at %s): apply refuses it until "
                          "`reconcile release` or a change of the manifests",
                          when ? when : "?");
                return 0;
        }
        return diag_plain(-EPERM, "held: this manifest revision was reverted at %s; run `reconcile release` or change "
                                  "the manifests",
                          when ? when : "?");
}

static int hold_write(const char *state_dir, const char *digest) {
        char when[64];
        time_t now = time(NULL);
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        _cleanup_free_ char *d = record_escape(digest ? digest : "");
        _cleanup_free_ char *hold = xasprintf("digest=%s\ntime=%s\n", d, when);
        _cleanup_free_ char *hpath = state_path(state_dir, "hold");
        return file_write_atomic(hpath, hold, strlen(hold), NULL);
}

int hold_release(const char *state_dir, int lock_timeout) {
        int lock = -1;
        if (access(state_dir, F_OK) < 0 && errno == ENOENT)
                return 0; /* and nothing is created to say so */
        int r = state_dir_check(state_dir);
        if (r < 0 || (r = lock_take(state_dir, lock_timeout, &lock)) < 0)
                return r;
        _cleanup_free_ char *path = state_path(state_dir, "hold");
        r = unlink(path) < 0 ? -errno : 1;
        lock_release(&lock);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return diag_plain(r, "%s: %s", path, strerror(-r));
        return 1;
}

/* ---- the checkpoint ---- */

char *checkpoint_adopted_line(enum kind k, const char *name) {
        _cleanup_free_ char *n = record_escape(name);
        return xasprintf("adopted=%s/%s\n", kind_to_string(k), n);
}

static void adopted_one(char *item, void (*fn)(void *u, enum kind k, const char *name), void *u) {
        char *slash = strchr(item, '/');
        if (!slash)
                return;
        *slash = '\0';
        enum kind k = kind_from_string(item);
        if ((int) k >= 0)
                fn(u, k, slash + 1);
}

int checkpoint_adopted_each(const char *meta, void (*fn)(void *u, enum kind k, const char *name), void *u) {
        _cleanup_free_ char *format = meta_get(meta, "format");
        const char *next = meta;
        if (format && strcmp(format, CHECKPOINT_FORMAT) != 0)
                return -EBADMSG; /* written by a newer reconcile: not guessed at */
        for (char *v; next && (v = record_value(next, "adopted", &next)); free(v)) {
                if (format) {
                        if (record_unescape(v) < 0) {
                                free(v);
                                return -EBADMSG;
                        }
                        adopted_one(v, fn, u);
                        continue;
                }
                /* Format 1: one line, names joined by commas, nothing escaped. */
                char *save = NULL;
                for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        adopted_one(t, fn, u);
        }
        return 0;
}

static void adopted_count(void *u, enum kind k, const char *name) {
        (void) k;
        (void) name;
        ++*(size_t *) u;
}

struct dep_hit {
        const struct plan *p;
        bool hit;
};

static void dep_on_touched(void *u, enum kind k, const char *name) {
        struct dep_hit *h = u;
        for (size_t i = 0; i < h->p->n_actions && !h->hit; i++) {
                const struct resource *t = h->p->actions[i].live;
                h->hit = t && revertible(t->kind) && kind_class(t->kind) == kind_class(k) && strcmp(t->name, name) == 0;
        }
}

/* What the change touches, and what depends on it: the kernel takes some of
 * that with it (the routes over a link taken down, an address moved), and a
 * revert that left it out could not put it back. Written as it is now, what
 * is still there after the change is left as it is by the revert. */
static bool touched(const struct resource *r, void *u) {
        const struct plan *p = u;
        if (!revertible(r->kind))
                return false;
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].live == r)
                        return true;
        struct dep_hit h = { p, false };
        if (kind_ops(r->kind)->deps)
                kind_ops(r->kind)->deps(r, dep_on_touched, &h);
        return h.hit;
}

/* The touched resources as they are, as a manifest. A checkpoint that leaves
 * out what the change touches could not put it back. */
static int checkpoint_write_yaml(const struct pass *ps, const struct run *r, const struct resource **absent,
                                 size_t n_absent) {
        char *yaml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&yaml, &len);
        if (!f)
                return diag_plain(-ENOMEM, "--confirm: cannot write the checkpoint: %s", strerror(ENOMEM));
        struct show_owner owner = { r->ledger, &ps->run };
        int ret = show_print_yaml_subset(f, &r->live, touched, (void *) &r->plan, absent, n_absent, &owner);
        fclose(f);
        if (ret == -EILSEQ)
                ret = diag_plain(ret, "--confirm: a resource the change touches has a name or value that is "
                                      "not UTF-8, which the checkpoint cannot hold; nothing was applied");
        else if (ret < 0)
                ret = diag_plain(ret, "--confirm: cannot write the checkpoint: %s", strerror(-ret));
        if (ret >= 0) {
                _cleanup_free_ char *ypath = state_path(ps->run.state_dir, "checkpoint.yaml");
                ret = file_write_atomic(ypath, yaml, len, NULL);
        }
        free(yaml);
        return ret;
}

/* pid, deadline, digest, kinds and one line per adopted resource; "end" last,
 * so that a torn file is seen. */
static char *checkpoint_meta(const struct pass *ps, const struct plan *p, uint32_t kinds) {
        const struct pass_opts *o = ps->o;
        _cleanup_free_ char *digest = record_escape(o->digest ? o->digest : "");
        char *meta = xasprintf("format=%s\npid=%ld\ndeadline=%lld\ndigest=%s\nkinds=%u\n", CHECKPOINT_FORMAT,
                               (long) getpid(), (long long) time(NULL) + o->confirm_seconds, digest, kinds);
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                /* A replace of what was not ours makes it ours, as an adopt does. */
                bool adopts = a->op == OP_ADOPT || (a->op == OP_REPLACE && !a->owned);
                if (!revertible(a->kind) || !adopts)
                        continue;
                _cleanup_free_ char *line = checkpoint_adopted_line(a->kind, a->key);
                char *more = xasprintf("%s%s", meta, line);
                free(meta);
                meta = more;
        }
        char *more = xasprintf("%send\n", meta);
        free(meta);
        return more;
}

/* Before apply --confirm applies: refuse what cannot be reverted, write the checkpoint. */
static int checkpoint_write(struct pass *ps, const struct run *r) {
        const struct plan *p = &r->plan;
        size_t n_absent = 0, not_reverted = 0;
        const struct resource **absent = xcalloc(p->n_actions + 1, sizeof(*absent));
        uint32_t kinds = 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                if (!revertible(a->kind)) {
                        report(ps, PASS_NOT_REVERTED, p, a, false);
                        not_reverted++;
                        continue;
                }
                /* A NIC declared under ethernets may be observed as a veth or a bond: its live kind counts. */
                kinds |= 1u << a->kind | (a->live ? 1u << a->live->kind : 0);
                if (a->op == OP_CREATE)
                        absent[n_absent++] = a->want;
        }
        /* The kinds of what depends on it, which the checkpoint holds too. */
        for (size_t i = 0; i < r->live.n; i++)
                if (touched(r->live.v[i], (void *) p))
                        kinds |= 1u << r->live.v[i]->kind;
        int ret = 0;
        if (not_reverted && !ps->o->confirm_partial)
                ret = diag_plain(-EPERM, "--confirm: %zu change(s) above cannot be reverted; apply them without --confirm, "
                                         "or pass --confirm-partial to revert only the rest",
                                 not_reverted);
        if (ret >= 0)
                ret = checkpoint_write_yaml(ps, r, absent, n_absent);
        if (ret >= 0) {
                _cleanup_free_ char *meta = checkpoint_meta(ps, p, kinds);
                _cleanup_free_ char *mpath = state_path(ps->run.state_dir, "checkpoint");
                ret = file_write_atomic(mpath, meta, strlen(meta), NULL);
        }
        free(absent);
        return ret;
}

static void checkpoint_remove(const char *state_dir) {
        static const char *const names[] = { "checkpoint", "checkpoint.yaml", "confirm" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *path = state_path(state_dir, names[i]);
                unlink(path);
        }
}

struct release {
        const struct run_opts *run;
        struct ledger *ledger;
};

static void release_one(void *u, enum kind k, const char *name) {
        struct release *rl = u;
        char scope[512];
        struct ledger_entry *e = ledger_find(rl->ledger, scope_of(rl->run, k, scope, sizeof(scope)), k, name);
        if (e)
                ledger_remove(rl->ledger, e);
}

/* What the change adopted was not ours before it: it is not ours after the revert. */
static int release_adopted(const struct run_opts *run, const char *meta) {
        struct ledger l;
        int r = ledger_load(&l, run->state_dir);
        if (r >= 0) {
                struct release rl = { run, &l };
                r = checkpoint_adopted_each(meta, release_one, &rl);
        }
        if (r >= 0 && l.dirty)
                r = ledger_save(&l);
        ledger_done(&l);
        return r;
}

/* Apply the checkpoint back, the yaml parsed as a manifest. */
static int revert_apply(const struct pass *outer, const char *ypath, const char *yaml, const char *meta) {
        struct manifest_set cp = { 0 };
        struct pass_result res = { .status = PASS_ERROR };
        _cleanup_free_ char *kinds = meta_get(meta, "kinds");
        int r = manifest_parse_buffer(&cp, ypath, yaml, strlen(yaml), "");
        if (r >= 0) {
                struct pass rp = { .o = outer->o, .run = outer->o->run, .lock_held = true, .reverting = true };
                rp.run.only_kinds = kinds ? (uint32_t) strtoul(kinds, NULL, 10) : 0;
                rp.run.no_prune = true;
                rp.run.no_adopt = true;
                rp.run.edit = NULL; /* the checkpoint names what it puts back */
                rp.run.allow_mass_delete = true; /* it deletes exactly what the change created */
                rp.run.dry_run = false;
                if (rp.run.only_kinds)
                        pass_once(&rp, &cp.model, &res);
                else
                        res.status = PASS_OK;
        }
        manifests_done(&cp);
        return r < 0 || res.status != PASS_OK ? -EIO : 0;
}

/* Put the change back, with the lock held; then hold the revision. */
static int revert(const struct pass *outer, const char *why) {
        const char *dir = outer->o->run.state_dir;
        _cleanup_free_ char *mpath = state_path(dir, "checkpoint");
        _cleanup_free_ char *ypath = state_path(dir, "checkpoint.yaml");
        _cleanup_free_ char *meta = file_read(mpath);
        _cleanup_free_ char *yaml = file_read(ypath);
        size_t n_adopted = 0;
        if (!meta || !yaml || !strstr(meta, "\nend\n") || checkpoint_adopted_each(meta, adopted_count, &n_adopted) < 0)
                return diag_plain(-EBADMSG, "%s: the checkpoint is damaged; nothing was reverted (inspect it by hand)",
                                  mpath);
        _cleanup_free_ char *digest = meta_get(meta, "digest");
        fprintf(diag_stream(), "reverting: %s\n", why);
        if (revert_apply(outer, ypath, yaml, meta) < 0)
                return diag_plain(-EIO, "the revert did not complete; the checkpoint stays in %s for the next run", mpath);
        /* Until what was adopted is released and the hold is on disk the checkpoint
         * stays, so that the next run reverts again rather than owning (or applying)
         * what was put back. */
        int r = n_adopted ? release_adopted(&outer->o->run, meta) : 0;
        if (r < 0)
                return diag_plain(r, "the revert could not release what the change adopted; the checkpoint stays in "
                                     "%s for the next run",
                                  mpath);
        if ((r = hold_write(dir, digest)) < 0)
                return diag_plain(r, "the revision could not be held; the checkpoint stays in %s for the next run",
                                  mpath);
        checkpoint_remove(dir);
        fprintf(diag_stream(), "reverted; this manifest revision is held: run `reconcile release` or change the manifests\n");
        return 0;
}

/* With the lock held: revert an unconfirmed checkpoint a dead run left. 0 if
 * none, 1 when it was reverted. */
static int checkpoint_recover(const struct pass *ps) {
        _cleanup_free_ char *mpath = state_path(ps->o->run.state_dir, "checkpoint");
        if (access(mpath, F_OK) < 0)
                return 0;
        /* We hold the lock, so the run that wrote it is gone: it died while waiting. */
        fprintf(diag_stream(), "warning: found a change applied with --confirm that was never confirmed (its run died): "
                               "reverting it before anything else\n");
        int r = revert(ps, "unconfirmed change from a run that died");
        return r < 0 ? r : 1;
}

int checkpoint_confirm(const char *state_dir) {
        int r = state_dir_check(state_dir);
        if (r < 0)
                return r;
        _cleanup_free_ char *mpath = state_path(state_dir, "checkpoint");
        if (access(mpath, F_OK) < 0)
                return diag_plain(-ENOENT, "nothing is waiting for confirmation in %s", state_dir);
        _cleanup_free_ char *cpath = state_path(state_dir, "confirm");
        return file_write_atomic(cpath, "confirmed\n", 10, NULL);
}

bool checkpoint_confirmed(const char *state_dir) {
        _cleanup_free_ char *cpath = state_path(state_dir, "confirm");
        return access(cpath, F_OK) == 0;
}

/* ---- one pass ---- */

/* State dir, lock, an unconfirmed change put back, the hold, the ledger. */
static int pass_prepare(struct pass *ps, struct ledger *ledger, int *lock, struct pass_result *res) {
        const struct run_opts *ro = &ps->run;
        bool dry = ro->dry_run;
        int r;
        if (dry && access(ro->state_dir, F_OK) < 0) {
                /* A preview on a fresh host: nothing is owned yet, and nothing is created. */
                ledger->path = xasprintf("%s/ledger", ro->state_dir);
                return 0;
        }
        if ((r = state_dir_check(ro->state_dir)) < 0)
                return r;
        if (!dry && !ps->lock_held && (r = lock_take(ro->state_dir, ps->o->lock_timeout, lock)) < 0)
                return r;
        /* An unconfirmed change whose run died is reverted before anything else. */
        if (!dry && !ps->reverting) {
                if ((r = checkpoint_recover(ps)) < 0)
                        return r;
                if (r > 0)
                        ps->run.edit = NULL; /* the revert changed the host: what the last run left is not presumed */
        }
        if (!ps->reverting && ps->o->digest && (r = hold_check(ps, dry)) < 0) {
                res->held = true;
                return r;
        }
        return ledger_load(ledger, ro->state_dir);
}

/* The guard, the checkpoint, the apply and its verification. false when it
 * stopped before applying anything. */
static bool pass_apply(struct pass *ps, struct run *run, unsigned errors_before, struct pass_result *res) {
        struct plan residual = { 0 };
        if (run_check_mass_delete(run) < 0)
                return false;
        if (ps->o->confirm_seconds && !ps->reverting && run->plan.n_actions) {
                if (checkpoint_write(ps, run) < 0)
                        return false;
                ps->checkpointed = true;
        }
        int r = run_apply(run);
        for (size_t i = 0; i < run->plan.n_actions; i++)
                res->n_done += run->plan.actions[i].result == 0;
        report(ps, PASS_ACTED, &run->plan, NULL, false);
        /* With nothing applied, the observation just made is the verification. */
        if (r >= 0 && run->plan.n_actions)
                r = run_verify(run, &residual);
        bool failed = r < 0 || diag_error_count() > errors_before;
        struct pass_report rep = { .event = PASS_APPLIED, .plan = &run->plan, .dry_run = ps->run.dry_run,
                                   .revert = ps->reverting, .failed = failed, .residual = &residual };
        if (ps->o->report)
                ps->o->report(ps->o->u, &rep);
        res->status = failed || res->observe_failed ? PASS_ERROR : PASS_OK;
        plan_done(&residual);
        return true;
}

static int dry_status(const struct pass *ps, const struct plan *p, unsigned errors_before,
                      const struct pass_result *res) {
        if (diag_error_count() > errors_before || res->observe_failed)
                return PASS_ERROR;
        if (ps->o->exit_code && p->mass_delete_refused)
                return PASS_ERROR; /* apply would refuse this plan */
        return ps->o->exit_code && p->n_actions ? PASS_PENDING : PASS_OK;
}

static void pass_once(struct pass *ps, struct model *want, struct pass_result *res) {
        struct ledger ledger = { 0 };
        struct run run = { .opts = &ps->run, .ledger = &ledger, .want = want };
        unsigned errors_before = diag_error_count();
        int lock = -1;
        bool shown = false;

        memset(res, 0, sizeof(*res));
        res->status = PASS_ERROR;
        if (pass_prepare(ps, &ledger, &lock, res) < 0)
                goto out;
        if (ps->run.edit)
                run.want = &ps->run.edit->want; /* a scoped pass plans the edit's scope */
        res->observe_failed = run_observe(&run) < 0;
        if (run_plan(&run) == -ELOOP)
                goto out;
        if (ps->run.edit)
                edit_scope_mass_delete(ps->run.edit, &run);
        res->n_actions = run.plan.n_actions;
        res->n_pending = run.plan.n_pending;
        report(ps, PASS_PLANNED, &run.plan, NULL, false);
        if (ps->run.dry_run) {
                res->status = dry_status(ps, &run.plan, errors_before, res);
                shown = true;
                goto out;
        }
        shown = pass_apply(ps, &run, errors_before, res);
out:
        /* A pass that stopped before it applied (refused, held, locked) still answers. */
        if (!shown)
                report(ps, PASS_STOPPED, &run.plan, NULL, false);
        bool again = run.replan && !ps->replanned;
        run_done(&run);
        ledger_done(&ledger);
        lock_release(&lock);
        /* A batch found what its plan read changed, and wrote nothing: plan once more from what is there now. */
        if (again) {
                diag_info("note: what the plan read changed before it was applied: planning again");
                ps->replanned = true;
                pass_once(ps, want, res);
                ps->replanned = false;
        }
}

/* apply --confirm: the lock for the whole wait, the pass, then keep or revert. */
static void pass_confirm(struct pass *ps, struct model *want, struct pass_result *res) {
        const char *dir = ps->run.state_dir;
        int lock = -1;
        memset(res, 0, sizeof(*res));
        res->status = PASS_ERROR;
        if (state_dir_check(dir) < 0 || lock_take(dir, ps->o->lock_timeout, &lock) < 0)
                goto out;
        ps->lock_held = true;
        if (checkpoint_recover(ps) < 0)
                goto out;
        {
                _cleanup_free_ char *cpath = state_path(dir, "confirm");
                unlink(cpath);
        }
        pass_once(ps, want, res);
        if (!ps->checkpointed)
                goto out; /* nothing was applied: nothing to confirm */
        if (ps->o->wait(ps->o->u, ps->o->confirm_seconds) == 0) {
                checkpoint_remove(dir);
                fprintf(diag_stream(), "confirmed: the change stays\n");
        } else {
                revert(ps, "not confirmed");
                res->status = PASS_ERROR; /* the change was not kept */
        }
out:
        lock_release(&lock);
}

void pass_run(const struct pass_opts *o, struct model *want, struct pass_result *res) {
        struct pass ps = { .o = o, .run = o->run };
        if (o->confirm_seconds && !o->wait) {
                /* A caller's mistake, not the host's: nothing is touched. */
                memset(res, 0, sizeof(*res));
                res->status = PASS_ERROR;
                diag_plain(-EINVAL, "--confirm: this caller cannot wait for a confirmation");
                return;
        }
        if (o->confirm_seconds && !o->run.dry_run)
                pass_confirm(&ps, want, res);
        else
                pass_once(&ps, want, res);
}
