/* apply --confirm SECONDS: record what the plan touches as it is, apply, wait
 * for `reconcile confirm` (or Enter), and otherwise put it back and hold the
 * manifest revision so that nothing applies it again by itself.
 *
 * STATE_DIR/checkpoint.yaml  the touched resources as they were, as a manifest
 * STATE_DIR/checkpoint       pid, deadline, digest, kinds, adopted keys
 * STATE_DIR/confirm          written by `reconcile confirm`
 * STATE_DIR/hold             digest and time of a reverted revision */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

/* Kinds whose changes can be put back from a checkpoint. */
static const uint32_t revertible = 1u << KIND_ETHERNET | 1u << KIND_BRIDGE | 1u << KIND_VLAN | 1u << KIND_BOND |
                                   1u << KIND_VXLAN | 1u << KIND_MACVLAN | 1u << KIND_MACVTAP | 1u << KIND_VETH |
                                   1u << KIND_TAP | 1u << KIND_ROUTE | 1u << KIND_SYSCTL | 1u << KIND_SERVICE |
                                   1u << KIND_IPSET | 1u << KIND_NETWORK;

static char *state_path(const struct options *o, const char *name) {
        return xasprintf("%s/%s", o->run.state_dir, name);
}

/* "key=value" lines; returns a copy of the value or NULL. */
static char *meta_get(const char *meta, const char *key) {
        size_t n = strlen(key);
        for (const char *p = meta; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, n) == 0 && p[n] == '=') {
                        const char *v = p + n + 1;
                        return strndup(v, strcspn(v, "\n"));
                }
        return NULL;
}

/* ---- holds ---- */

int hold_check(const struct options *o, const char *digest, bool dry) {
        _cleanup_free_ char *path = state_path(o, "hold");
        _cleanup_free_ char *meta = file_read(path);
        if (!meta)
                return 0;
        _cleanup_free_ char *held = meta_get(meta, "digest");
        _cleanup_free_ char *when = meta_get(meta, "time");
        if (!held || strcmp(held, digest) != 0)
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

int cmd_release(struct options *o) {
        int lock = -1;
        if (access(o->run.state_dir, F_OK) < 0 && errno == ENOENT) {
                printf("nothing is held\n"); /* and nothing is created to say so */
                return EXIT_OK;
        }
        if (state_dir_check(o->run.state_dir) < 0 || lock_take(o->run.state_dir, o->lock_timeout, &lock) < 0)
                return EXIT_ERROR;
        _cleanup_free_ char *path = state_path(o, "hold");
        int r = unlink(path);
        lock_release(&lock);
        if (r < 0 && errno != ENOENT)
                return diag_plain(EXIT_ERROR, "%s: %s", path, strerror(errno));
        printf(r < 0 ? "nothing is held\n" : "hold released: the next run applies the manifests\n");
        return EXIT_OK;
}

/* ---- checkpoint ---- */

struct pick {
        const struct plan *plan;
};

static bool touched(const struct resource *r, void *u) {
        const struct plan *p = ((struct pick *) u)->plan;
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i].live == r && (revertible & (1u << r->kind)))
                        return true;
        return false;
}

int confirm_checkpoint(struct options *o, struct run *r) {
        const struct plan *p = &r->plan;
        size_t n_absent = 0, not_reverted = 0;
        const struct resource **absent = xcalloc(p->n_actions + 1, sizeof(*absent));
        char *adopted = xstrdup("");
        uint32_t kinds = 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                if (!(revertible & (1u << a->kind))) {
                        fprintf(stdout, "not reverted: %s %s %s\n", op_to_string(a->op), kind_to_string(a->kind), a->name);
                        not_reverted++;
                        continue;
                }
                /* A NIC declared under ethernets may be observed as a veth or a bond: its live kind counts. */
                kinds |= 1u << a->kind | (a->live ? 1u << a->live->kind : 0);
                if (a->op == OP_CREATE)
                        absent[n_absent++] = a->want;
                if (a->op == OP_ADOPT) {
                        char *more = xasprintf("%s%s%s/%s", adopted, *adopted ? "," : "", kind_to_string(a->kind), a->key);
                        free(adopted);
                        adopted = more;
                }
        }
        int ret = 0;
        if (not_reverted && !o->confirm_partial)
                ret = diag_plain(-EPERM, "--confirm: %zu change(s) above cannot be reverted; apply them without --confirm, "
                                         "or pass --confirm-partial to revert only the rest",
                                 not_reverted);
        if (ret >= 0) {
                char *yaml = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&yaml, &len);
                struct pick pk = { p };
                char scope[512];
                struct show_owner owner = { r->ledger, scope_of(&o->run, KIND_VETH, scope, sizeof(scope)) };
                ret = show_print_yaml_subset(f, &r->live, touched, &pk, absent, n_absent, &owner);
                fclose(f);
                /* A checkpoint that leaves out what the change touches could not put it back. */
                if (ret == -EILSEQ)
                        ret = diag_plain(ret, "--confirm: a resource the change touches has a name or value that is "
                                              "not UTF-8, which the checkpoint cannot hold; nothing was applied");
                else if (ret < 0)
                        ret = diag_plain(ret, "--confirm: cannot write the checkpoint: %s", strerror(-ret));
                if (ret >= 0) {
                        _cleanup_free_ char *ypath = state_path(o, "checkpoint.yaml");
                        ret = file_write_atomic(ypath, yaml, len, NULL);
                }
                free(yaml);
        }
        if (ret >= 0) {
                _cleanup_free_ char *meta = xasprintf("pid=%ld\ndeadline=%lld\ndigest=%s\nkinds=%u\nadopted=%s\nend\n",
                                                      (long) getpid(), (long long) time(NULL) + o->confirm_seconds,
                                                      o->digest ? o->digest : "", kinds, adopted);
                _cleanup_free_ char *mpath = state_path(o, "checkpoint");
                ret = file_write_atomic(mpath, meta, strlen(meta), NULL);
        }
        free(absent);
        free(adopted);
        return ret;
}

static void checkpoint_remove(const struct options *o) {
        static const char *const names[] = { "checkpoint", "checkpoint.yaml", "confirm" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *path = state_path(o, names[i]);
                unlink(path);
        }
}

/* Apply the checkpoint back, with the lock held; then hold the revision. */
static int revert(struct options *o, const char *why) {
        _cleanup_free_ char *mpath = state_path(o, "checkpoint");
        _cleanup_free_ char *ypath = state_path(o, "checkpoint.yaml");
        _cleanup_free_ char *meta = file_read(mpath);
        _cleanup_free_ char *yaml = file_read(ypath);
        if (!meta || !yaml || !strstr(meta, "\nend\n"))
                return diag_plain(-EBADMSG, "%s: the checkpoint is damaged; nothing was reverted (inspect it by hand)",
                                  mpath);
        _cleanup_free_ char *kinds = meta_get(meta, "kinds");
        _cleanup_free_ char *digest = meta_get(meta, "digest");
        _cleanup_free_ char *adopted = meta_get(meta, "adopted");
        fprintf(stderr, "reverting: %s\n", why);

        struct manifest_set cp = { 0 };
        struct pass_result res = { .status = EXIT_ERROR };
        int r = manifest_parse_buffer(&cp, ypath, yaml, strlen(yaml), "");
        if (r >= 0) {
                struct options ro = *o;
                ro.run.only_kinds = kinds ? (uint32_t) strtoul(kinds, NULL, 10) : 0;
                ro.run.no_prune = true;
                ro.run.no_adopt = true;
                ro.run.allow_mass_delete = true; /* it deletes exactly what the change created */
                ro.lock_held = true;
                ro.reverting = true;
                ro.confirm_seconds = 0;
                if (ro.run.only_kinds)
                        apply_pass(&ro, &cp.model, false, false, &res);
                else
                        res.status = EXIT_OK;
        }
        manifests_done(&cp);
        if (r < 0 || res.status != EXIT_OK)
                return diag_plain(-EIO, "the revert did not complete; the checkpoint stays in %s for the next run", mpath);

        /* What the change adopted was not ours before it: it is not ours after the revert.
         * Until that and the hold are on disk the checkpoint stays, so that the next
         * run reverts again rather than owning (or applying) what was put back. */
        struct ledger l;
        if (adopted && *adopted) {
                if (ledger_load(&l, o->run.state_dir) < 0) {
                        ledger_done(&l);
                        return diag_plain(-EIO, "the revert could not release what the change adopted; the "
                                                "checkpoint stays in %s for the next run", mpath);
                }
                char *save = NULL;
                for (char *t = strtok_r(adopted, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        char *slash = strchr(t, '/');
                        if (!slash)
                                continue;
                        *slash = '\0';
                        char scope[512];
                        enum kind k = kind_from_string(t);
                        struct ledger_entry *e = (int) k >= 0 ? ledger_find(&l, scope_of(&o->run, k, scope, sizeof(scope)), k, slash + 1) : NULL;
                        if (e)
                                ledger_remove(&l, e);
                }
                int x = l.dirty ? ledger_save(&l) : 0;
                ledger_done(&l);
                if (x < 0)
                        return diag_plain(x, "the revert could not release what the change adopted; the "
                                             "checkpoint stays in %s for the next run", mpath);
        }
        char when[64];
        time_t now = time(NULL);
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        _cleanup_free_ char *hold = xasprintf("digest=%s\ntime=%s\n", digest ? digest : "", when);
        _cleanup_free_ char *hpath = state_path(o, "hold");
        if ((r = file_write_atomic(hpath, hold, strlen(hold), NULL)) < 0)
                return diag_plain(r, "the revision could not be held; the checkpoint stays in %s for the next run",
                                  mpath);
        checkpoint_remove(o);
        fprintf(stderr, "reverted; this manifest revision is held: run `reconcile release` or change the manifests\n");
        return 0;
}

int checkpoint_recover(struct options *o) {
        _cleanup_free_ char *mpath = state_path(o, "checkpoint");
        if (access(mpath, F_OK) < 0)
                return 0;
        /* We hold the lock, so the run that wrote it is gone: it died while waiting. */
        fprintf(stderr, "warning: found a change applied with --confirm that was never confirmed (its run died): "
                        "reverting it before anything else\n");
        return revert(o, "unconfirmed change from a run that died");
}

/* ---- waiting ---- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
        stop_signal = sig;
}

/* 0: confirmed; 1: revert (timeout, signal, lost terminal). */
static int wait_for_confirmation(struct options *o) {
        _cleanup_free_ char *cpath = state_path(o, "confirm");
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        bool tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
        time_t deadline = time(NULL) + o->confirm_seconds;
        fprintf(stderr, "applied. Keep it with `reconcile confirm`%s within %d s, or it is reverted.\n",
                tty ? " or Enter" : "", o->confirm_seconds);
        for (;;) {
                time_t left = deadline - time(NULL);
                if (stop_signal) {
                        fprintf(stderr, "\n%s: reverting\n", strsignal(stop_signal));
                        return 1;
                }
                if (access(cpath, F_OK) == 0)
                        return 0;
                if (left <= 0) {
                        fprintf(stderr, "%sno confirmation within %d s\n", tty ? "\n" : "", o->confirm_seconds);
                        return 1;
                }
                if (tty)
                        fprintf(stderr, "\rconfirm within %3lld s: press Enter or run `reconcile confirm` ", (long long) left);
                struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
                int n = poll(&pfd, tty ? 1 : 0, 200);
                if (n > 0 && (pfd.revents & (POLLHUP | POLLERR))) {
                        fprintf(stderr, "\nthe terminal went away: reverting\n");
                        return 1;
                }
                if (n > 0 && (pfd.revents & POLLIN)) {
                        char buf[64];
                        ssize_t len = read(STDIN_FILENO, buf, sizeof(buf));
                        if (len <= 0) {
                                fprintf(stderr, "\nthe terminal went away: reverting\n");
                                return 1;
                        }
                        if (memchr(buf, '\n', (size_t) len)) {
                                fputc('\n', stderr);
                                return 0;
                        }
                }
        }
}

int cmd_apply_confirm(struct options *o) {
        struct manifest_set set = { 0 };
        struct pass_result res = { .status = EXIT_ERROR };
        int lock = -1, ret = EXIT_ERROR;
        if (load_manifests(o, &set) < 0)
                goto out;
        o->digest = set.digest;
        if (state_dir_check(o->run.state_dir) < 0 || lock_take(o->run.state_dir, o->lock_timeout, &lock) < 0)
                goto out;
        o->lock_held = true;
        if (checkpoint_recover(o) < 0)
                goto out;
        {
                _cleanup_free_ char *mpath = state_path(o, "checkpoint");
                _cleanup_free_ char *cpath = state_path(o, "confirm");
                unlink(cpath);
                apply_pass(o, &set.model, false, false, &res);
                if (access(mpath, F_OK) < 0) {
                        ret = res.status; /* nothing was applied: nothing to confirm */
                        goto out;
                }
                if (wait_for_confirmation(o) == 0) {
                        checkpoint_remove(o);
                        fprintf(stderr, "confirmed: the change stays\n");
                        ret = res.status;
                } else {
                        revert(o, "not confirmed");
                        ret = EXIT_ERROR; /* the change was not kept */
                }
        }
out:
        lock_release(&lock);
        manifests_done(&set);
        return ret;
}

int cmd_confirm(struct options *o) {
        if (state_dir_check(o->run.state_dir) < 0)
                return EXIT_ERROR;
        _cleanup_free_ char *mpath = state_path(o, "checkpoint");
        if (access(mpath, F_OK) < 0)
                return diag_plain(EXIT_ERROR, "nothing is waiting for confirmation in %s", o->run.state_dir);
        _cleanup_free_ char *cpath = state_path(o, "confirm");
        if (file_write_atomic(cpath, "confirmed\n", 10, NULL) < 0)
                return EXIT_ERROR;
        printf("confirmed\n");
        return EXIT_OK;
}
