/* reconcile: make this host match a directory of YAML manifests. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

#define VERSION "0.1.0"

static void usage(FILE *f) {
        fputs("Usage: reconcile [OPTIONS] [COMMAND]\n"
              "Make this host match a directory of YAML manifests.\n\n"
              "Commands:\n"
              "  apply        (default) plan, apply, verify\n"
              "  plan         same as apply --dry-run\n"
              "  validate     parse and check manifests; touch no backend\n"
              "  show         print the live state of every kind as manifest YAML\n"
              "  daemon       apply now, then watch and re-apply; for systemd\n"
              "  confirm      keep the change an `apply --confirm` is waiting on\n"
              "  release      lift the hold on a reverted manifest revision\n"
              "  status       the status file: revision, last run, conditions, resources\n"
              "  version      print the version\n\n"
              "Options:\n"
              "  -d, --manifests DIR      default /etc/reconcile/manifests.d\n"
              "      --dry-run            print the plan, change nothing\n"
              "      --exit-code          with --dry-run/plan: exit 2 when changes are pending\n"
              "  -o, --output text|json   plan and result format (default text)\n"
              "      --state-dir DIR      ownership ledger and lock (default /var/lib/reconcile)\n"
              "      --libvirt-uri URI    default qemu:///system\n"
              "      --ovsdb PATH         the ovsdb-server socket (default /run/openvswitch/db.sock)\n"
              "      --netns NAME|PATH    act inside that network namespace\n"
              "      --only KIND[,KIND]   restrict to some kinds\n"
              "      --allow-mass-delete  allow deleting more than half of the deletable resources\n"
              "      --lock-timeout SECONDS  wait this long for another run's lock (default 0)\n"
              "      --resync SECONDS     daemon: full resync period (default 300)\n"
              "      --confirm SECONDS    apply, then revert unless `reconcile confirm` (or Enter) comes in time\n"
              "      --confirm-partial    allow --confirm with changes that cannot be reverted\n"
              "      --probe PROBE        with --confirm (apply) or daemon: keep a change only when the probes\n"
              "                           that passed before it pass after it: gateway, dns:NAME,\n"
              "                           tcp:HOST:PORT, exec:COMMAND (repeatable)\n"
              "      --status-file PATH   status written by daemon (and apply, if given), read by status\n"
              "                           (default /run/reconcile/status.json; with --netns NAME, status-NAME.json)\n"
              "      --metrics-dir DIR    write DIR/reconcile.prom for node_exporter's textfile collector\n"
              "      --snapshot           show: add the scope, covered kinds and ledger, for plan --live\n"
              "      --live FILE          plan: against a `show --snapshot` file instead of this host\n"
              "  -v, --verbose / -q, --quiet\n"
              "  -h, --help\n\n"
              "Exit status: 0 success or in sync; 1 error; 2 changes pending (with --exit-code).\n",
              f);
}

static int parse_only(const char *arg, uint32_t *kinds) {
        _cleanup_free_ char *copy = xstrdup(arg);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                enum kind k = kind_from_string(t);
                if ((int) k < 0)
                        k = kind_from_section(t);
                if ((int) k < 0)
                        return diag_plain(-EINVAL, "--only: unknown kind \"%s\"", t);
                *kinds |= 1u << k;
                /* Children live in their parents (volumes in their pools). */
                for (size_t i = 0; i < kind_ops(k)->n_fields; i++)
                        if (kind_ops(k)->fields[i].type == FT_CHILDREN)
                                *kinds |= 1u << kind_of_ops(kind_ops(k)->fields[i].extra);
        }
        return 0;
}

static int parse_seconds(const char *opt, const char *arg, int *out) {
        char *end;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (*end || errno || v < 0 || v > 86400 * 365)
                return diag_plain(-EINVAL, "%s: expected seconds, got \"%s\"", opt, arg);
        *out = (int) v;
        return 0;
}

static int parse_args(int argc, char **argv, struct options *o) {
        enum { OPT_DRY_RUN = 256, OPT_EXIT_CODE, OPT_STATE_DIR, OPT_URI, OPT_NETNS, OPT_ONLY, OPT_MASS, OPT_LOCK, OPT_RESYNC,
               OPT_CONFIRM, OPT_CONFIRM_PARTIAL, OPT_OVSDB, OPT_STATUS_FILE, OPT_METRICS_DIR, OPT_SNAPSHOT, OPT_LIVE, OPT_PROBE };
        static const struct option longopts[] = {
                { "manifests", required_argument, NULL, 'd' },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "exit-code", no_argument, NULL, OPT_EXIT_CODE },
                { "output", required_argument, NULL, 'o' },
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "libvirt-uri", required_argument, NULL, OPT_URI },
                { "netns", required_argument, NULL, OPT_NETNS },
                { "ovsdb", required_argument, NULL, OPT_OVSDB },
                { "only", required_argument, NULL, OPT_ONLY },
                { "allow-mass-delete", no_argument, NULL, OPT_MASS },
                { "lock-timeout", required_argument, NULL, OPT_LOCK },
                { "resync", required_argument, NULL, OPT_RESYNC },
                { "confirm", required_argument, NULL, OPT_CONFIRM },
                { "confirm-partial", no_argument, NULL, OPT_CONFIRM_PARTIAL },
                { "status-file", required_argument, NULL, OPT_STATUS_FILE },
                { "metrics-dir", required_argument, NULL, OPT_METRICS_DIR },
                { "snapshot", no_argument, NULL, OPT_SNAPSHOT },
                { "live", required_argument, NULL, OPT_LIVE },
                { "probe", required_argument, NULL, OPT_PROBE },
                { "verbose", no_argument, NULL, 'v' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "d:o:vqh", longopts, NULL)) >= 0) {
                int r = 0;
                switch (c) {
                case 'd':
                        o->manifests = optarg;
                        break;
                case OPT_DRY_RUN:
                        o->dry_run = true;
                        break;
                case OPT_EXIT_CODE:
                        o->exit_code = true;
                        break;
                case 'o':
                        if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
                                r = diag_plain(-EINVAL, "--output: expected text or json, got \"%s\"", optarg);
                        o->output = optarg;
                        break;
                case OPT_STATE_DIR:
                        o->run.state_dir = optarg;
                        break;
                case OPT_URI:
                        o->run.ctx.libvirt_uri = optarg;
                        break;
                case OPT_NETNS:
                        o->run.ctx.netns = optarg;
                        break;
                case OPT_OVSDB:
                        o->run.ctx.ovsdb = optarg;
                        break;
                case OPT_ONLY:
                        r = parse_only(optarg, &o->run.only_kinds);
                        break;
                case OPT_MASS:
                        o->allow_mass_delete = true;
                        break;
                case OPT_LOCK:
                        r = parse_seconds("--lock-timeout", optarg, &o->lock_timeout);
                        break;
                case OPT_RESYNC:
                        r = parse_seconds("--resync", optarg, &o->resync);
                        break;
                case OPT_CONFIRM:
                        r = parse_seconds("--confirm", optarg, &o->confirm_seconds);
                        if (r >= 0 && o->confirm_seconds == 0)
                                r = diag_plain(-EINVAL, "--confirm: give the seconds to wait (at least 1)");
                        break;
                case OPT_CONFIRM_PARTIAL:
                        o->confirm_partial = true;
                        break;
                case OPT_STATUS_FILE:
                        o->status_file = optarg;
                        o->status_file_given = true;
                        break;
                case OPT_METRICS_DIR:
                        o->metrics_dir = optarg;
                        break;
                case OPT_SNAPSHOT:
                        o->snapshot = true;
                        break;
                case OPT_LIVE:
                        o->live_file = optarg;
                        break;
                case OPT_PROBE: {
                        struct probe p;
                        r = probe_parse(optarg, &p);
                        if (r >= 0)
                                *(struct probe *) array_push(&o->probes, &o->n_probes, sizeof(p)) = p;
                        break;
                }
                case 'v':
                        diag_verbose = 1;
                        break;
                case 'q':
                        diag_verbose = -1;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_OK);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        /* Backends with state of their own (the ipvs health checks') keep it there. */
        o->run.ctx.state_dir = o->run.state_dir;
        if (optind < argc)
                o->command = argv[optind++];
        if (optind < argc)
                return diag_plain(-EINVAL, "unexpected argument \"%s\"", argv[optind]);
        return 0;
}

static const char *hostname(char *buf, size_t size) {
        if (gethostname(buf, size) < 0)
                snprintf(buf, size, "localhost");
        buf[size - 1] = '\0';
        return buf;
}

int load_manifests(const struct options *o, struct manifest_set *set) {
        char host[256];
        int r = manifests_load(o->manifests, o->hostname ? o->hostname : hostname(host, sizeof(host)), true, set);
        if (r < 0)
                diag_plain(r, "%s: manifests are invalid; nothing was changed", o->manifests);
        return r;
}

static int cmd_validate(const struct options *o) {
        struct manifest_set set = { 0 };
        int r = load_manifests(o, &set);
        if (r >= 0)
                printf("%s: %zu resources in %zu files valid%s\n", o->manifests, set.model.n, set.n_files,
                       set.n_skipped_host ? " (some files are for other hosts)" : "");
        manifests_done(&set);
        return r < 0 ? EXIT_ERROR : EXIT_OK;
}

static int cmd_show(struct options *o) {
        struct ledger ledger = { 0 };
        struct run run = { .opts = &o->run, .ledger = &ledger };
        /* show reads everything the backends can see; libvirtd cannot look into another
         * namespace, so --netns without a test:// URI shows the kernel kinds only. */
        if (!o->run.only_kinds) {
                o->run.only_kinds = (1u << _KIND_MAX) - 1;
                const char *uri = o->run.ctx.libvirt_uri;
                if (o->run.ctx.netns && (!uri || strncmp(uri, "test:", 5) != 0))
                        for (int k = 0; k < _KIND_MAX; k++)
                                if (backend_for_kind(k) && backend_for_kind(k)->scope == SCOPE_LIBVIRT)
                                        o->run.only_kinds &= ~(1u << k);
        }
        /* Sysctls are read by name: show lists the ones the ledger manages (a
         * ledger that cannot be read is reported and leaves them out), and a
         * snapshot those the manifests name too, which plan --live plans. */
        ledger_load(&ledger, o->run.state_dir);
        struct manifest_set set = { 0 };
        if (o->snapshot && access(o->manifests, F_OK) == 0) {
                if (load_manifests(o, &set) >= 0)
                        run.want = &set.model;
                else
                        diag_info("show --snapshot: only what the ledger names is read of sysctls, modules and huge pages");
        }
        int r = run_observe(&run);
        struct show_owner owner = { &ledger, &o->run };
        int w = show_print_yaml_subset(stdout, &run.live, NULL, NULL, NULL, 0, &owner);
        /* A YAML that could not be written gets no trailer: it is no snapshot. */
        if (o->snapshot && (w == 0 || w == -EILSEQ) && snapshot_write_trailer(stdout, &run) < 0)
                r = -EIO;
        run_done(&run);
        ledger_done(&ledger);
        manifests_done(&set);
        /* An entry YAML cannot hold is a comment in the output; the rest is valid. */
        if (w == -EILSEQ)
                diag_info("show: left out what is not UTF-8 (see the comments in the output)");
        else if (w < 0)
                r = diag_plain(w, "show: cannot write the YAML: %s", strerror(-w));
        return r < 0 ? EXIT_ERROR : EXIT_OK;
}

static bool json(const struct options *o) {
        return o->output && strcmp(o->output, "json") == 0;
}

/* The core's report hook: plans and results go out as the options say. A
 * revert's pass prints its plan even in the daemon, whose own passes log
 * one line per action instead. */
static void print_pass(void *u, const struct pass_report *rep) {
        const struct pass_ctx *ctx = u;
        const struct options *o = ctx->o;
        const struct plan *p = rep->plan;
        bool log_actions = ctx->log_actions && !rep->revert;
        if (o->status)
                status_observe(o->status, rep, o->errors ? o->errors : o->status_errors);
        switch (rep->event) {
        case PASS_PLANNED:
                if (json(o) && rep->dry_run)
                        plan_print_json(stdout, p, false, NULL, o->errors);
                else if (!json(o) && diag_verbose >= 0 && !log_actions)
                        plan_print_text(stdout, p);
                /* Out before the first action's lines on stderr, into a pipe too. */
                fflush(stdout);
                break;
        case PASS_ACTED:
                if (log_actions)
                        daemon_log_actions(o, p);
                break;
        case PASS_APPLIED:
                if (json(o))
                        plan_print_json(stdout, p, true, rep->failed ? "failed" : "applied", o->errors);
                else if (p->n_actions && diag_verbose >= 0 && !log_actions)
                        apply_print_text(stdout, p);
                /* The values of what did not converge, under its error. */
                if (rep->residual && rep->residual->n_actions && !json(o))
                        plan_print_actions(diag_stream(), rep->residual);
                break;
        case PASS_STOPPED:
                /* A run that stopped before its plan was printed (refused, held, locked) still answers in JSON. */
                if (json(o) && !log_actions)
                        plan_print_json(stdout, p, !rep->dry_run, rep->dry_run ? NULL : "refused", o->errors);
                break;
        case PASS_NOT_REVERTED:
                fprintf(stdout, "not reverted: %s %s %s\n", op_to_string(rep->action->op),
                        kind_to_string(rep->action->kind), rep->action->name);
                break;
        }
}

#define PROBE_WINDOW_S 30
#define PROBE_TIMEOUT_MS 2000

/* After the change: the probes decide (0 keep, 1 revert) or, without probes, a person. */
static int wait_hook(void *u, int seconds) {
        struct options *o = ((struct pass_ctx *) u)->o;
        int r;
        if (!o->n_probes)
                r = wait_for_confirmation(u, seconds);
        else {
                fprintf(stderr, "applied. Probing within %d s\n", seconds);
                struct probe *failed = probes_confirm(o->probes, o->n_probes, o->run.ctx.netns, seconds, o->run.should_stop);
                if (failed) {
                        free(o->reverted);
                        o->reverted = xasprintf("probe %s failed: %s", failed->spec, failed->error ? failed->error : "failed");
                        fprintf(stderr, "%s: reverting\n", o->reverted);
                } else
                        fprintf(stderr, "probes pass: confirmed\n");
                return failed ? 1 : 0;
        }
        if (r == 1 && !o->reverted)
                o->reverted = xstrdup("no confirmation in time");
        return r;
}

/* Before the change: which probes pass now; only those must pass after. */
static void probe_before(struct options *o) {
        probes_before(o->probes, o->n_probes, o->run.ctx.netns, PROBE_TIMEOUT_MS);
        for (size_t i = 0; i < o->n_probes; i++) {
                const struct probe *p = &o->probes[i];
                if (p->passed_before)
                        fprintf(stderr, "probe %s: passes before the change\n", p->spec);
                else
                        fprintf(stderr, "probe %s: fails before the change (%s); not required after it\n", p->spec,
                                p->error ? p->error : "failed");
        }
}

void cmd_pass(struct options *o, struct model *want, bool log_actions, struct pass_result *res) {
        struct pass_ctx ctx = { o, log_actions };
        /* The daemon confirms only the runs that apply a new revision, and only by probes. */
        bool confirm = log_actions ? o->probe_this_run : o->confirm_seconds > 0;
        free(o->reverted);
        o->reverted = NULL;
        if (confirm && o->n_probes && !o->run.dry_run)
                probe_before(o);
        struct pass_opts po = {
                .run = o->run,
                .digest = o->digest,
                .lock_timeout = o->lock_timeout,
                .exit_code = o->exit_code,
                .confirm_seconds = !confirm ? 0 : o->confirm_seconds ? o->confirm_seconds : PROBE_WINDOW_S,
                .confirm_partial = o->confirm_partial,
                .report = print_pass,
                .wait = wait_hook,
                .u = &ctx,
        };
        pass_run(&po, want, res);
}

/* plan --live FILE: the plan against a snapshot, printed as a plan on the host would be. */
static int cmd_plan_live(struct options *o) {
        struct manifest_set set = { 0 };
        struct snapshot snap = { 0 };
        int status = EXIT_ERROR;
        unsigned errors_before = diag_error_count();
        int r = snapshot_load(o->live_file, &snap);
        o->hostname = r >= 0 ? snap.hostname : NULL;
        int loaded = r < 0 ? r : load_manifests(o, &set);
        o->hostname = NULL; /* the snapshot's, freed with it */
        if (loaded < 0) {
                snapshot_done(&snap);
                if (json(o)) {
                        struct plan none = { 0 };
                        plan_print_json(stdout, &none, false, "invalid", o->errors);
                }
                manifests_done(&set);
                return EXIT_ERROR;
        }
        struct run_opts opts;
        struct run run;
        snapshot_run(&snap, &o->run, &opts, &set.model, &run);
        /* What the snapshot does not cover is not planned: said, not hidden. */
        size_t uncovered[_KIND_MAX] = { 0 };
        for (size_t i = 0; i < set.model.n; i++)
                if (!(opts.only_kinds & (1u << set.model.v[i]->kind)) &&
                    (!o->run.only_kinds || (o->run.only_kinds & (1u << set.model.v[i]->kind))))
                        uncovered[set.model.v[i]->kind]++;
        for (int k = 0; k < _KIND_MAX; k++)
                if (uncovered[k])
                        diag_info("%s: the snapshot does not cover %s: %zu declared, not planned", o->live_file,
                                  kind_to_section(k), uncovered[k]);
        r = run_plan(&run);
        if (r == -ELOOP)
                diag_plain(r, "the manifests' dependencies form a cycle; nothing was planned");
        if (json(o))
                plan_print_json(stdout, &run.plan, false, NULL, o->errors);
        else if (diag_verbose >= 0)
                plan_print_text(stdout, &run.plan);
        if (r < 0 || diag_error_count() > errors_before || run.plan.n_errors)
                status = EXIT_ERROR;
        else if (o->exit_code && (run.plan.n_actions || run.plan.n_pending))
                status = EXIT_PENDING;
        else
                status = EXIT_OK;
        run_done(&run);
        snapshot_done(&snap);
        manifests_done(&set);
        return status;
}

static int cmd_apply(struct options *o) {
        struct manifest_set set = { 0 };
        struct pass_result res = { .status = EXIT_ERROR };
        /* An apply keeps a status only when asked: the default file is the daemon's. */
        struct status status = { 0 };
        bool keep_status = !o->dry_run && (o->status_file_given || o->metrics_dir);
        struct str_list errors = { 0 }, *was_capture = NULL;
        if (keep_status) {
                if (!o->status_file_given)
                        o->status_file = NULL;
                else
                        status_load(&status, o->status_file);
                o->status = &status;
                if (!o->errors) {
                        o->status_errors = &errors;
                        was_capture = diag_capture(&errors);
                }
        }
        int64_t started = (int64_t) time(NULL);
        double t0 = monotonic_seconds();
        bool valid = load_manifests(o, &set) >= 0;
        if (valid) {
                o->digest = set.digest;
                cmd_pass(o, &set.model, false, &res);
        }
        if (keep_status) {
                if (!valid)
                        o->digest = set.digest;
                status_after_pass(o, &status, "apply", valid ? &set.model : NULL, &res, started, monotonic_seconds() - t0);
                status_save(o, &status);
                if (!o->errors)
                        diag_capture(was_capture);
                o->status = NULL;
                o->status_errors = NULL;
                status_done(&status);
                str_list_done(&errors);
        }
        if (!valid && json(o)) {
                struct plan none = { 0 };
                plan_print_json(stdout, &none, false, "invalid", o->errors);
        }
        manifests_done(&set);
        return res.status;
}

int main(int argc, char **argv) {
        /* Static: what it comes to hold (probes, a revert's reason) lives until exit, reachable. */
        static struct options o = {
                .manifests = "/etc/reconcile/manifests.d",
                .command = "apply",
                .output = "text",
                .lock_timeout = 0,
                .resync = 300,
                .run = { .state_dir = "/var/lib/reconcile" },
        };
        if (parse_args(argc, argv, &o) < 0)
                return EXIT_ERROR;
        /* Static: what it holds lives until exit, reachable. */
        static struct str_list json_errors;
        if (json(&o) && strcmp(o.command, "daemon") != 0) {
                o.errors = &json_errors;
                diag_capture(o.errors);
        }
        o.run.allow_mass_delete = o.allow_mass_delete;
        if (strcmp(o.command, "version") == 0) {
                printf("reconcile %s\n", VERSION);
                return EXIT_OK;
        }
        if (strcmp(o.command, "validate") == 0)
                return cmd_validate(&o);
        /* One daemon per namespace: each has a file of its own by default.
         * RECONCILE_RUN stands for /run/reconcile in tests. */
        static char default_status[PATH_MAX];
        const char *run_dir = getenv("RECONCILE_RUN") ? getenv("RECONCILE_RUN") : "/run/reconcile";
        if (!o.status_file && o.run.ctx.netns) {
                const char *slash = strrchr(o.run.ctx.netns, '/');
                snprintf(default_status, sizeof(default_status), "%s/status-%s.json", run_dir,
                         slash ? slash + 1 : o.run.ctx.netns);
                o.status_file = default_status;
        } else if (!o.status_file) {
                snprintf(default_status, sizeof(default_status), "%s/status.json", run_dir);
                o.status_file = default_status;
        }
        if (strcmp(o.command, "status") == 0)
                return cmd_status(&o);
        /* A snapshot is planned anywhere (a CI runner): no namespace, no backend. */
        if (o.live_file) {
                if (strcmp(o.command, "plan") != 0 && !(o.dry_run && strcmp(o.command, "apply") == 0)) {
                        diag_plain(-EINVAL, "--live goes with plan: nothing is applied to a snapshot");
                        return EXIT_ERROR;
                }
                return cmd_plan_live(&o);
        }
        /* Nobody confirms a daemon's runs: each would be reverted at the next. */
        if (o.confirm_seconds && strcmp(o.command, "daemon") == 0 && !o.n_probes) {
                diag_plain(-EINVAL, "--confirm goes with apply; a daemon's runs have nobody to confirm them");
                return EXIT_ERROR;
        }
        /* The daemon waits for a namespace that is not there yet (its runs retry). */
        if (strcmp(o.command, "daemon") == 0)
                return cmd_daemon(&o);
        if (netns_check(o.run.ctx.netns) < 0)
                return EXIT_ERROR;
        if (strcmp(o.command, "show") == 0)
                return cmd_show(&o);
        if (strcmp(o.command, "confirm") == 0)
                return cmd_confirm(&o);
        if (strcmp(o.command, "release") == 0)
                return cmd_release(&o);
        if (o.confirm_seconds && (o.dry_run || strcmp(o.command, "apply") != 0)) {
                diag_plain(-EINVAL, "--confirm goes with apply, not with a plan");
                return EXIT_ERROR;
        }
        if (o.n_probes && !o.confirm_seconds) {
                diag_plain(-EINVAL, "--probe goes with apply --confirm SECONDS (the probes' window) or daemon");
                return EXIT_ERROR;
        }
        /* A status file is written by cmd_apply, which confirms as well. */
        if (o.confirm_seconds && !o.status_file_given && !o.metrics_dir)
                return cmd_apply_confirm(&o);
        if (strcmp(o.command, "plan") == 0)
                o.dry_run = true;
        else if (strcmp(o.command, "apply") != 0) {
                diag_plain(-EINVAL, "unknown command \"%s\" (see --help)", o.command);
                return EXIT_ERROR;
        }
        o.run.dry_run = o.dry_run;
        return cmd_apply(&o);
}
