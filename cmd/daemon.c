/* reconcile daemon: apply at start, then one epoll loop over manifest changes
 * (inotify), drift (backend watch fds), a periodic resync and signals. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

/* A checkout of many files arrives as a burst: wait this long after the last event. */
#define MANIFEST_QUIET_MS 200
#define MANIFEST_MAX_WAIT_MS 2000
/* A burst whose last event renamed a whole manifest into place (how editors,
 * rsync and deploy tools replace a file) is tried at once: the file is whole,
 * and the try waits out the quiet period after all when the manifests do not
 * parse or the edit removes a resource, which a file still to come may declare
 * again. A rename still to come is read by the run after, over its own scope.
 * A file written in place (git checkout) waits for the quiet period. */
#define MANIFEST_SETTLED_MS 0
/* Drift repair waits only for the kernel's burst of notifications to settle. */
#define DRIFT_QUIET_MS 20
#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
/* Kinds the kernel announces no change of (ipsets) are read this often. */
#define POLL_MS 2000

/* Watches are SRC_WATCH + their index, backends' work SRC_WORK + its index. */
enum { SRC_SIGNAL, SRC_INOTIFY, SRC_DEBOUNCE, SRC_RESYNC, SRC_POLL, SRC_WATCHDOG, SRC_WATCH, SRC_WORK = SRC_WATCH + 16 };

/* A backend's work between runs (IPVS health checks), open once the manifests parsed. */
struct work {
        const struct backend *backend;
        void *state;
};

/* A backend the daemon polls, with a connection of its own and the digest
 * of what it read after the last run. */
struct poll {
        const struct backend *backend;
        void *state;
        bool open;
        uint64_t digest;
};

struct daemon {
        struct options *o;
        int epfd, sigfd, inofd, debounce_fd, resync_fd, poll_fd, watchdog_fd;
        struct poll polls[8];
        size_t n_polls;
        int dir_wd, parent_wd;
        char dir_name[NAME_MAX + 1];
        struct watch watches[8];
        size_t n_watches;
        struct manifest_set good; /* the last manifests that parsed */
        struct manifest_cache cache; /* each file's last parse: an edit reads the file it changed */
        bool have_good;
        /* The last run over good ended in sync (no error, nothing pending): the
         * host is as good says, so an edit of it runs over its scope only. */
        bool good_in_sync;
        bool manifests_dirty, drift_dirty, resync_due;
        uint64_t first_event_ms; /* of the current manifest burst, 0 if none */
        uint64_t last_event_ms;
        bool burst_settled; /* its last event renamed a manifest into place */
        unsigned runs;
        unsigned backoff_s;
        char last_error_digest[17];
        char *revision;       /* of good */
        struct status status; /* written to the status file and the metrics after every run */
        struct work works[8];
        size_t n_works;
};

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void timer_arm(int fd, uint64_t ms, uint64_t interval_ms) {
        struct itimerspec its = { 0 };
        its.it_value.tv_sec = (time_t) (ms / 1000);
        its.it_value.tv_nsec = (long) (ms % 1000) * 1000000;
        if (ms == 0 && interval_ms == 0) {
                timerfd_settime(fd, 0, &its, NULL); /* disarm */
                return;
        }
        if (ms == 0)
                its.it_value.tv_nsec = 1;
        its.it_interval.tv_sec = (time_t) (interval_ms / 1000);
        its.it_interval.tv_nsec = (long) (interval_ms % 1000) * 1000000;
        timerfd_settime(fd, 0, &its, NULL);
}

/* Fire as soon as the loop looks (a zero time would disarm it). */
static void timer_arm_now(int fd) {
        struct itimerspec its = { .it_value.tv_nsec = 1 };
        timerfd_settime(fd, 0, &its, NULL);
}

static int epoll_add(int epfd, int fd, uint64_t tag) {
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Watch the directory and its parent: git checkout, rsync and symlink swaps
 * replace the directory itself, which only the parent sees. */
static void watch_manifests(struct daemon *d) {
        _cleanup_free_ char *copy = xstrdup(d->o->manifests);
        _cleanup_free_ char *copy2 = xstrdup(d->o->manifests);
        snprintf(d->dir_name, sizeof(d->dir_name), "%s", basename(copy));
        int wd = inotify_add_watch(d->inofd, d->o->manifests,
                                   IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY |
                                           IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
        /* The path may name another directory now: stop watching the one it left. */
        if (d->dir_wd >= 0 && d->dir_wd != wd)
                inotify_rm_watch(d->inofd, d->dir_wd);
        d->dir_wd = wd;
        if (d->parent_wd < 0)
                d->parent_wd = inotify_add_watch(d->inofd, dirname(copy2),
                                                 IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
}

static bool stop_requested(void) {
        sigset_t pending;
        return sigpending(&pending) == 0 && (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT));
}

/* Open the drift watches that are not open yet; each is polled from then on. */
static void watch_backends(struct daemon *d) {
        size_t first = d->n_watches;
        run_watch_open(&d->o->run, d->have_good ? &d->good.model : NULL, d->watches, &d->n_watches,
                       ELEMENTSOF(d->watches));
        for (size_t i = first; i < d->n_watches; i++)
                if (epoll_add(d->epfd, d->watches[i].fd, SRC_WATCH + i) < 0)
                        diag_plain(-errno, "daemon: epoll: %s", strerror(errno));
}

/* Read each polled backend's digest; true when one differs from the last. */
static bool poll_backends(struct daemon *d) {
        bool changed = false;
        if (!d->have_good)
                return false;
        if (d->n_polls == 0)
                for (size_t i = 0; i < n_backends && d->n_polls < ELEMENTSOF(d->polls); i++)
                        if (backends[i]->poll_digest)
                                d->polls[d->n_polls++] = (struct poll) { .backend = backends[i] };
        for (size_t i = 0; i < d->n_polls; i++) {
                struct poll *p = &d->polls[i];
                bool declared = false;
                for (size_t j = 0; j < d->good.model.n && !declared; j++)
                        declared = backend_serves(p->backend, d->good.model.v[j]->kind);
                if (!declared)
                        continue;
                if (!p->open) {
                        /* Quietly: an unreachable backend is the runs' to report. */
                        FILE *saved = diag_stream(), *quiet = fopen("/dev/null", "we");
                        unsigned errors = diag_error_count();
                        if (quiet)
                                diag_set_stream(quiet);
                        p->open = p->backend->open(&d->o->run.ctx, &p->state) >= 0;
                        diag_set_stream(saved == stderr ? NULL : saved);
                        if (quiet)
                                fclose(quiet);
                        diag_restore_count(errors);
                        if (!p->open)
                                continue;
                }
                uint64_t now = 0;
                if (p->backend->poll_digest(p->state, &d->good.model, &now) < 0)
                        continue;
                changed = changed || now != p->digest;
                p->digest = now;
        }
        return changed;
}

/* load_manifests, through the cache of each file's last parse. */
static int load_cached(struct daemon *d, struct manifest_set *next) {
        char host[256];
        if (!d->o->hostname && gethostname(host, sizeof(host)) < 0)
                snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        int r = manifests_load_cached(d->o->manifests, d->o->hostname ? d->o->hostname : host, true, &d->cache, next);
        if (r < 0)
                diag_plain(r, "%s: manifests are invalid; nothing was changed", d->o->manifests);
        return r;
}

/* Parse without a word: a burst tried early may be half written, and its
 * errors are said when it has settled. */
static int load_quietly(struct daemon *d, struct manifest_set *next) {
        FILE *saved = diag_stream(), *quiet = fopen("/dev/null", "we");
        unsigned errors = diag_error_count();
        if (quiet)
                diag_set_stream(quiet);
        int r = load_cached(d, next);
        diag_set_stream(saved == stderr ? NULL : saved);
        if (quiet)
                fclose(quiet);
        diag_restore_count(errors);
        return r;
}

/* Read the manifests anew: 1 when they parsed (good is the new set; *prev the
 * one it replaced and *scope what differs, when there was one), 0 when a burst
 * tried early waits out its quiet period, -1 when they are invalid (good stays).
 * now_asked (SIGHUP, a resync): read them as they are, without waiting. */
static int reload_manifests(struct daemon *d, bool now_asked, struct manifest_set *prev, struct edit_scope *scope,
                            bool *scoped) {
        struct manifest_set next = { 0 };
        uint64_t now = now_ms();
        /* Asked (SIGHUP): every file is read and parsed anew, whatever it read besides. */
        if (now_asked)
                manifest_cache_done(&d->cache);
        bool early = !now_asked && d->have_good && d->last_event_ms && now < d->last_event_ms + MANIFEST_QUIET_MS;
        int r = early ? load_quietly(d, &next) : load_cached(d, &next);
        *scoped = r >= 0 && d->have_good && edit_scope_compute(&d->good.model, &next.model, scope) >= 0;
        if (early && (r < 0 || (*scoped && scope->n_removed))) {
                /* Half a checkout, maybe: the rest of it may declare again what this removes. */
                if (*scoped)
                        edit_scope_done(scope);
                *scoped = false;
                manifests_done(&next);
                timer_arm(d->debounce_fd, d->last_event_ms + MANIFEST_QUIET_MS - now, 0);
                return 0;
        }
        if (r < 0) {
                /* Keep the last good state; the errors above were printed once for this revision. */
                fprintf(diag_stream(), "manifests invalid: keeping the last good state%s\n",
                        d->have_good ? "" : " (none yet: nothing is applied)");
                snprintf(d->last_error_digest, sizeof(d->last_error_digest), "%s", next.digest);
                manifests_done(&next);
                return -1;
        }
        if (d->have_good)
                *prev = d->good; /* the scope points into it until the run is done */
        d->good = next;
        d->have_good = true;
        /* Read now: a checkout that moves on later is another revision, seen by inotify. */
        free(d->revision);
        d->revision = status_revision(d->o->manifests, d->good.digest, &d->o->revision_source);
        d->o->revision = d->revision;
        d->last_error_digest[0] = '\0';
        return 1;
}

static void on_drift(struct daemon *d);

/* Open each backend's work once (the health checks), then let it follow
 * the manifests after a run; > 0 from it: a run sets what it now wants. */
static void works_follow(struct daemon *d) {
        if (!d->have_good)
                return;
        for (size_t i = 0; i < n_backends; i++) {
                const struct backend *b = backends[i];
                struct work *w = NULL;
                for (size_t j = 0; j < d->n_works && !w; j++)
                        w = d->works[j].backend == b ? &d->works[j] : NULL;
                if (!w && b->work_open && d->n_works < ELEMENTSOF(d->works)) {
                        void *state = NULL;
                        int fd = b->work_open(&d->o->run.ctx, d->o->run.state_dir, &state);
                        if (fd < 0)
                                continue;
                        if (epoll_add(d->epfd, fd, SRC_WORK + (int) d->n_works) < 0) {
                                diag_plain(-errno, "daemon: epoll: %s", strerror(errno));
                                b->work_close(state);
                                continue;
                        }
                        w = &d->works[d->n_works++];
                        *w = (struct work) { b, state };
                }
                if (w && w->backend->work_follow(w->state, &d->good.model) > 0)
                        on_drift(d);
        }
}

/* The rows of what the backends' work keeps (each checked real's state, last
 * result and since when), in place of those the status has. */
static void works_status(struct daemon *d) {
        status_clear_checks(&d->status);
        for (size_t i = 0; i < d->n_works && d->have_good; i++)
                if (d->works[i].backend->work_status)
                        d->works[i].backend->work_status(d->works[i].state, &d->good.model, &d->status);
}

/* A health check turned up or down: a run sets the weight its state wants.
 * A result that changed without a turn is shown between runs. */
static void on_work(struct daemon *d, size_t i) {
        if (i >= d->n_works)
                return;
        const struct backend *b = d->works[i].backend;
        if (b->work_run(d->works[i].state) > 0)
                on_drift(d);
        else if (b->work_status_due && d->have_good && b->work_status_due(d->works[i].state)) {
                works_status(d);
                status_save(d->o, &d->status);
        }
}

/* MESSAGE_ID= per event, for `journalctl MESSAGE_ID=...` and catalogs. */
#define MID_DRIFT_REPAIRED "ac9b1c4c9be74b7c8c2de2446610f23b"
#define MID_APPLIED "cf90585ddd8746efbbb113b2d459bb56"
#define MID_APPLY_FAILED "7f1f30f72efc4fdc868efbf8b3c032e1"
#define MID_REVISION_HELD "ef11de07c0da4a6f96321c9a52292f34"
#define MID_RESOURCE_ERROR "1a3d608f8255445eb16aeadcbcac70c9" /* the backend's or the planner's own words */
#define MID_PENDING "67faf3f152324cf3a4fc4087097d61ce"
#define MID_CHECK_DOWN "d5c28dc5be164331aa5e1441658ca2ef"
#define MID_CHECK_UP "69b1f26771214ffc8b16ff609b03c5d3"

/* Under systemd stderr is a journal stream already (JOURNAL_STREAM names its
 * device and inode): an event sent with fields is not written there again. */
static bool stderr_is_journal(void) {
        const char *js = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
               (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

/* journald's native protocol, so that libsystemd is never loaded for it: one
 * datagram of "KEY=value\n" fields; a value with a newline (a libvirt name may
 * hold one) goes as "KEY\n", its length as 64-bit little-endian, the value, "\n". */
static void journal_send(char *const *fields, size_t n) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
                close(fd);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(fields[i], '=');
                if (!eq || !strchr(eq + 1, '\n')) {
                        fprintf(f, "%s\n", fields[i]);
                        continue;
                }
                uint64_t vlen = strlen(eq + 1);
                unsigned char le[8];
                for (int b = 0; b < 8; b++)
                        le[b] = (unsigned char) (vlen >> (8 * b));
                fwrite(fields[i], 1, (size_t) (eq - fields[i]), f);
                fputc('\n', f);
                fwrite(le, 1, sizeof(le), f);
                fwrite(eq + 1, 1, vlen, f);
                fputc('\n', f);
        }
        fclose(f);
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        sendto(fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof(sa));
        free(buf);
        close(fd);
}

/* One event: the line on stderr (unless that is the journal) and an entry with
 * fields; a link's (a name in the interface name space) also has INTERFACE=,
 * so that `journalctl INTERFACE=br0` shows it beside networkd's and the kernel's. */
static void log_event(const char *message_id, int priority, enum kind k, const char *name, const char *revision, int err,
                      const char *line) {
        if (!stderr_is_journal())
                fprintf(diag_stream(), "%s\n", line);
        const char *space = name ? kind_ops(k)->name_space : NULL;
        char *fields[9];
        size_t n = 0;
        fields[n++] = xasprintf("MESSAGE=%s", line);
        fields[n++] = xasprintf("MESSAGE_ID=%s", message_id);
        fields[n++] = xasprintf("PRIORITY=%d", priority);
        fields[n++] = xasprintf("SYSLOG_IDENTIFIER=reconcile");
        fields[n++] = xasprintf("RECONCILE_REVISION=%s", revision ? revision : "");
        if (err)
                fields[n++] = xasprintf("ERRNO=%d", err);
        if (name) {
                fields[n++] = xasprintf("RECONCILE_KIND=%s", kind_to_string(k));
                fields[n++] = xasprintf("RECONCILE_NAME=%s", name);
        }
        if (space && strcmp(space, "interface") == 0)
                fields[n++] = xasprintf("INTERFACE=%s", name);
        journal_send(fields, n); /* no journal (a terminal, a container): the line above is all */
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}

/* Pending under the last run already, for the same reason: said then, not again at every run. */
static bool pending_before(const struct status *s, const struct pending *pe) {
        for (size_t i = 0; s && i < s->n_res; i++)
                if (s->res[i].kind == pe->kind && strcmp(s->res[i].name, pe->name) == 0)
                        return s->res[i].state == RES_PENDING && s->res[i].reason && strcmp(s->res[i].reason, pe->reason) == 0;
        return false;
}

void daemon_log_actions(const struct options *o, const struct plan *p) {
        for (size_t i = 0; i < p->n_pending; i++) {
                const struct pending *pe = &p->pending[i];
                if (pending_before(o->status, pe))
                        continue;
                _cleanup_free_ char *line = xasprintf("pending %s %s: %s%s%s", kind_to_string(pe->kind), pe->name, pe->reason,
                                                      pe->until ? " until " : "", pe->until ? pe->until : "");
                log_event(MID_PENDING, LOG_NOTICE, pe->kind, pe->name, o->revision, 0, line);
        }
        bool drift = o->trigger && strcmp(o->trigger, "drift") == 0;
        for (size_t i = 0; i < p->n_actions; i++) {
                const struct action *a = &p->actions[i];
                if (a->result > 0)
                        continue;
                char line[512];
                snprintf(line, sizeof(line), "%s %s %s: %s%s%s", op_to_string(a->op), kind_to_string(a->kind), a->name,
                         a->result == 0 ? "done" : "failed", a->result < 0 ? ": " : "",
                         a->result < 0 ? strerror(-a->result) : "");
                const char *id = a->result < 0 ? MID_APPLY_FAILED : drift ? MID_DRIFT_REPAIRED : MID_APPLIED;
                log_event(id, a->result < 0 ? LOG_ERR : LOG_NOTICE, a->kind, a->name, o->revision,
                          a->result < 0 ? -a->result : 0, line);
        }
}

/* The error sink's lines and events about a resource, with their fields; the
 * rest goes to stderr as it is. */
static bool journal_hook(void *u, enum diag_event ev, enum kind k, const char *name, const char *line) {
        static const char *const ids[_DIAG_EVENT_MAX] = {
                [DIAG_ERROR] = MID_RESOURCE_ERROR, [DIAG_CHECK_DOWN] = MID_CHECK_DOWN, [DIAG_CHECK_UP] = MID_CHECK_UP,
        };
        const struct daemon *d = u;
        if (!name)
                return false;
        log_event(ids[ev], ev == DIAG_ERROR ? LOG_ERR : ev == DIAG_CHECK_DOWN ? LOG_WARNING : LOG_NOTICE, k, name,
                  d->revision, 0, line);
        return true;
}

/* The status file, the metrics and systemd's STATUS= after a run. Invalid
 * manifests (last_error_digest) degrade a status whose revision stays. */
static void publish_status(struct daemon *d, unsigned run, const char *trigger, const struct pass_result *res,
                           int64_t started, double seconds) {
        status_after_pass(d->o, &d->status, trigger, d->have_good ? &d->good.model : NULL, res, started, seconds);
        if (d->last_error_digest[0]) {
                char msg[128];
                snprintf(msg, sizeof(msg), "manifests %s do not parse; revision %.12s stays in force",
                         d->last_error_digest, d->status.revision ? d->status.revision : "-");
                status_mark_invalid(&d->status, msg, started);
        }
        /* The run rebuilt the per-resource list: the work's rows go back in. */
        works_status(d);
        status_save(d->o, &d->status);
        _cleanup_free_ char *line = status_summary(&d->status);
        sd_notifyf(0, "STATUS=run %u (%s): %s", run, trigger, line);
}

/* One run over the manifests. A manifest edit of a host in sync runs over its
 * scope; the start, SIGHUP, a resync, drift and retries (full) read everything. */
static void run_once(struct daemon *d, const char *why, bool full) {
        struct pass_result res;
        struct manifest_set prev = { 0 };
        struct edit_scope scope = { 0 };
        bool have_scope = false;
        char what[160];
        if (d->manifests_dirty || !d->have_good) {
                int r = reload_manifests(d, full, &prev, &scope, &have_scope);
                if (r == 0)
                        return;
                d->manifests_dirty = false;
                /* Watches come before the run, so that nothing it changes goes unseen. */
                watch_backends(d);
        }
        bool scoped = have_scope && d->good_in_sync && !full && !d->drift_dirty && !d->resync_due;
        d->drift_dirty = d->resync_due = false;
        d->first_event_ms = d->last_event_ms = 0;
        d->burst_settled = false;
        if (!d->have_good) {
                struct pass_result none = { .status = EXIT_ERROR };
                d->o->digest = d->last_error_digest;
                publish_status(d, d->runs, why, &none, (int64_t) time(NULL), 0);
                goto out;
        }
        unsigned errors = diag_error_count();
        d->o->digest = d->good.digest;
        if (scoped)
                snprintf(what, sizeof(what), "%s; %zu resource%s changed, %zu of %zu in scope", why, scope.n_changed,
                         scope.n_changed == 1 ? "" : "s", scope.want.n, d->good.model.n);
        else
                snprintf(what, sizeof(what), "%s", why);
        /* The reference is read before the run: a change that lands while it runs
         * (after its observation) differs from it and is checked at the next poll;
         * the run's own changes cost one quiet check. A scoped run keeps the
         * reference of the run before it, which that check compares against. */
        if (!scoped)
                poll_backends(d);
        d->o->run.edit = scoped ? &scope : NULL;
        struct str_list run_errors = { 0 };
        struct str_list *was_capture = diag_capture(&run_errors);
        int64_t started = (int64_t) time(NULL);
        double t0 = monotonic_seconds();
        d->o->status = &d->status;
        d->o->status_errors = &run_errors;
        d->o->trigger = why;
        /* Probes confirm a new revision's apply, not the repair of drift from one in force. */
        d->o->probe_this_run = d->o->n_probes && strcmp(why, "drift") != 0 &&
                               (!d->status.revision || strcmp(d->status.revision, d->revision) != 0);
        cmd_pass(d->o, &d->good.model, true, &res);
        d->o->probe_this_run = false;
        d->o->status = NULL;
        d->o->status_errors = NULL;
        diag_capture(was_capture);
        d->o->run.edit = NULL;
        /* A drift check that found nothing is not counted as a run. */
        bool quiet_check = strcmp(why, "drift") == 0 && res.n_actions == 0 && res.status == EXIT_OK && !res.held;
        publish_status(d, d->runs + !quiet_check, why, &res, started, monotonic_seconds() - t0);
        str_list_done(&run_errors);
        works_follow(d);
        d->good_in_sync = res.status == EXIT_OK && !res.n_pending && !res.held && !res.observe_failed;
        why = what;
        if (strcmp(why, "drift") == 0 && res.n_actions == 0 && res.status == EXIT_OK && !res.held) {
                diag_debug("check (drift): in sync");
                d->backoff_s = 0;
                diag_restore_count(errors);
                goto out;
        }
        d->runs++;
        if (res.held) {
                /* A reverted revision waits for `reconcile release` or new manifests: no retries. */
                char line[256];
                snprintf(line, sizeof(line), "run %u (%s): held, nothing applied", d->runs, why);
                log_event(MID_REVISION_HELD, LOG_WARNING, 0, NULL, d->revision, 0, line);
                diag_restore_count(errors);
                goto out;
        }
        if (d->o->reverted) {
                /* The probes put the new revision back: the event an unattended host is watched for. */
                _cleanup_free_ char *line = xasprintf("run %u (%s): revision %.12s reverted (%s) and held", d->runs, why,
                                                      d->revision, d->o->reverted);
                log_event(MID_REVISION_HELD, LOG_WARNING, 0, NULL, d->revision, 0, line);
        }
        fprintf(diag_stream(), "run %u (%s): %zu actions, %zu done, %s\n", d->runs, why, res.n_actions, res.n_done,
                res.status == EXIT_OK ? "in sync" : "errors");
        if (res.observe_failed || res.status != EXIT_OK) {
                /* Unreachable backend or failed action: retry with exponential backoff. */
                d->backoff_s = d->backoff_s ? d->backoff_s * 2 : BACKOFF_MIN_S;
                if (d->backoff_s > BACKOFF_MAX_S)
                        d->backoff_s = BACKOFF_MAX_S;
                d->resync_due = true;
                timer_arm(d->debounce_fd, (uint64_t) d->backoff_s * 1000, 0);
        } else
                d->backoff_s = 0;
        watch_backends(d); /* a namespace or a service that answers only now */
        diag_restore_count(errors); /* the daemon lives on; each run reports its own */
out:
        if (have_scope)
                edit_scope_done(&scope);
        manifests_done(&prev);
}

/* Drift during a manifest burst is repaired by the run that ends it, which
 * then runs in full. */
static void on_drift(struct daemon *d) {
        d->drift_dirty = true;
        if (!d->manifests_dirty)
                timer_arm(d->debounce_fd, DRIFT_QUIET_MS, 0);
}

static bool manifest_name(const char *name) {
        size_t n = strlen(name);
        return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".yaml") == 0) || (n > 4 && strcmp(name + n - 4, ".yml") == 0));
}

static void on_inotify(struct daemon *d) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool relevant = false, rewatch = false;
        for (;;) {
                ssize_t len = read(d->inofd, buf, sizeof(buf));
                if (len <= 0)
                        break;
                for (char *p = buf; p < buf + len;) {
                        struct inotify_event *ev = (struct inotify_event *) p;
                        if (ev->wd == d->parent_wd) {
                                if (ev->len && strcmp(ev->name, d->dir_name) == 0)
                                        relevant = rewatch = true;
                        } else if (ev->wd != d->dir_wd)
                                ; /* a directory the path no longer names */
                        else if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
                                relevant = rewatch = true;
                        else {
                                relevant = true;
                                d->burst_settled = (ev->mask & IN_MOVED_TO) && ev->len && manifest_name(ev->name);
                        }
                        p += sizeof(*ev) + ev->len;
                }
        }
        if (rewatch) {
                watch_manifests(d);
                d->burst_settled = false;
        }
        if (!relevant)
                return;
        d->manifests_dirty = true;
        uint64_t now = now_ms();
        if (!d->first_event_ms)
                d->first_event_ms = now;
        d->last_event_ms = now;
        uint64_t wait = d->burst_settled ? MANIFEST_SETTLED_MS : MANIFEST_QUIET_MS;
        if (now + wait > d->first_event_ms + MANIFEST_MAX_WAIT_MS)
                wait = d->first_event_ms + MANIFEST_MAX_WAIT_MS > now ? d->first_event_ms + MANIFEST_MAX_WAIT_MS - now : 1;
        if (wait == 0)
                timer_arm_now(d->debounce_fd);
        else
                timer_arm(d->debounce_fd, wait, 0);
}

/* WatchdogSec= in the unit: WATCHDOG=1 at half the interval, from the event
 * loop, so that a run that hangs (a backend that never answers) is restarted. */
static int watchdog_setup(struct daemon *d) {
        /* What sd_watchdog_enabled reads: WATCHDOG_USEC, for this process if WATCHDOG_PID says whom. */
        const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
        char *end = NULL;
        unsigned long long usec = us ? strtoull(us, &end, 10) : 0;
        if (!us || *end || usec == 0 || (pid && strtol(pid, NULL, 10) != (long) getpid()))
                return 0;
        d->watchdog_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (d->watchdog_fd < 0)
                return diag_plain(-errno, "daemon: watchdog timer: %s", strerror(errno));
        uint64_t ms = usec / 2000 ? usec / 2000 : 1;
        timer_arm(d->watchdog_fd, ms, ms);
        return epoll_add(d->epfd, d->watchdog_fd, SRC_WATCHDOG);
}

static int setup(struct daemon *d) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return diag_plain(-errno, "daemon: sigprocmask: %s", strerror(errno));
        d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        d->inofd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        d->debounce_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        d->resync_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        d->poll_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (d->sigfd < 0 || d->epfd < 0 || d->inofd < 0 || d->debounce_fd < 0 || d->resync_fd < 0 || d->poll_fd < 0)
                return diag_plain(-errno, "daemon: cannot set up its event sources: %s", strerror(errno));
        d->dir_wd = d->parent_wd = -1;
        watch_manifests(d);
        if (epoll_add(d->epfd, d->sigfd, SRC_SIGNAL) < 0 || epoll_add(d->epfd, d->inofd, SRC_INOTIFY) < 0 ||
            epoll_add(d->epfd, d->debounce_fd, SRC_DEBOUNCE) < 0 || epoll_add(d->epfd, d->resync_fd, SRC_RESYNC) < 0 ||
            epoll_add(d->epfd, d->poll_fd, SRC_POLL) < 0)
                return diag_plain(-errno, "daemon: epoll: %s", strerror(errno));
        timer_arm(d->resync_fd, (uint64_t) d->o->resync * 1000, (uint64_t) d->o->resync * 1000);
        timer_arm(d->poll_fd, POLL_MS, POLL_MS);
        /* Counters and since-times go on from the last daemon's file; a missing one starts afresh. */
        status_load(&d->status, d->o->status_file);
        return watchdog_setup(d);
}

static void teardown(struct daemon *d) {
        for (size_t i = 0; i < d->n_works; i++)
                d->works[i].backend->work_close(d->works[i].state);
        run_watch_close(d->watches, d->n_watches);
        for (size_t i = 0; i < d->n_polls; i++)
                if (d->polls[i].open)
                        d->polls[i].backend->close(d->polls[i].state);
        int fds[] = { d->sigfd, d->epfd, d->inofd, d->debounce_fd, d->resync_fd, d->poll_fd, d->watchdog_fd };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (d->have_good)
                manifests_done(&d->good);
        manifest_cache_done(&d->cache);
        status_done(&d->status);
        free(d->revision);
}

int cmd_daemon(struct options *o) {
        struct daemon d = { .o = o, .sigfd = -1, .epfd = -1, .inofd = -1, .debounce_fd = -1, .resync_fd = -1,
                            .poll_fd = -1, .watchdog_fd = -1 };
        int ret = EXIT_OK;
        if (o->resync <= 0)
                o->resync = 300;
        o->run.should_stop = stop_requested;
        /* A lock held by a manual run is waited for, not fought: runs never interleave. */
        if (o->lock_timeout < 30)
                o->lock_timeout = 30;
        if (setup(&d) < 0) {
                teardown(&d);
                return EXIT_ERROR;
        }
        diag_set_hook(journal_hook, &d);
        fprintf(diag_stream(), "reconcile daemon: watching %s (resync every %d s)\n", o->manifests, o->resync);
        run_once(&d, "start", true);
        sd_notify(0, "READY=1");
        for (bool running = true; running;) {
                struct epoll_event evs[16];
                int n = epoll_wait(d.epfd, evs, ELEMENTSOF(evs), -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        ret = diag_plain(EXIT_ERROR, "daemon: epoll_wait: %s", strerror(errno));
                        break;
                }
                for (int i = 0; i < n && running; i++) {
                        uint64_t tag = evs[i].data.u64, ticks;
                        switch (tag) {
                        case SRC_SIGNAL: {
                                struct signalfd_siginfo si;
                                while (read(d.sigfd, &si, sizeof(si)) == sizeof(si)) {
                                        if (si.ssi_signo == SIGHUP) {
                                                sd_notify(0, "RELOADING=1");
                                                fprintf(diag_stream(), "SIGHUP: re-reading the manifests\n");
                                                d.manifests_dirty = true;
                                                run_once(&d, "SIGHUP", true);
                                                sd_notify(0, "READY=1");
                                        } else {
                                                fprintf(diag_stream(), "%s: exiting\n", strsignal((int) si.ssi_signo));
                                                sd_notify(0, "STOPPING=1");
                                                running = false;
                                        }
                                }
                                break;
                        }
                        case SRC_INOTIFY:
                                on_inotify(&d);
                                break;
                        case SRC_DEBOUNCE:
                                if (read(d.debounce_fd, &ticks, sizeof(ticks)) > 0)
                                        run_once(&d, d.manifests_dirty ? "manifests changed"
                                                                       : d.drift_dirty ? "drift" : "retry",
                                                 !d.manifests_dirty);
                                break;
                        case SRC_RESYNC:
                                if (read(d.resync_fd, &ticks, sizeof(ticks)) > 0)
                                        run_once(&d, "resync", true);
                                break;
                        case SRC_WATCHDOG:
                                if (read(d.watchdog_fd, &ticks, sizeof(ticks)) > 0)
                                        sd_notify(0, "WATCHDOG=1");
                                break;
                        case SRC_POLL:
                                if (read(d.poll_fd, &ticks, sizeof(ticks)) > 0 && poll_backends(&d))
                                        on_drift(&d);
                                break;
                        default: {
                                if (tag >= SRC_WORK) {
                                        on_work(&d, (size_t) (tag - SRC_WORK));
                                        break;
                                }
                                size_t w = tag - SRC_WATCH;
                                if (w < d.n_watches && run_watch_drain(&d.watches[w]) > 0)
                                        on_drift(&d);
                                break;
                        }
                        }
                }
        }
        diag_set_hook(NULL, NULL);
        teardown(&d);
        return ret;
}
