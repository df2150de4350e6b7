/* What main.c, daemon.c and confirm.c share: the parsed options and one pass. */
#pragma once

#include "../parsers/parsers.h"
#include "output.h"

enum { EXIT_OK = PASS_OK, EXIT_ERROR = PASS_ERROR, EXIT_PENDING = PASS_PENDING };

struct options {
        const char *manifests;
        const char *command;
        const char *output;
        bool dry_run, exit_code, allow_mass_delete;
        int lock_timeout, resync;
        int confirm_seconds;  /* apply --confirm: 0 = off */
        bool confirm_partial;
        const char *digest;   /* of the manifests, for holds */
        struct str_list *errors; /* -o json: every error line, for the document; else NULL */
        struct run_opts run;
        const char *status_file;  /* --status-file; the daemon's default /run/reconcile/status.json */
        bool status_file_given;   /* apply writes one only when asked */
        bool snapshot;            /* show --snapshot */
        const char *hostname;     /* the manifests' host: globs match this; NULL: this host's name */
        const char *live_file;    /* plan --live FILE */
        const char *metrics_dir;  /* --metrics-dir: reconcile.prom for node_exporter; NULL off */
        const char *revision, *revision_source; /* of the manifests loaded; NULL: read them from the directory */
        struct probe *probes;     /* --probe, each */
        size_t n_probes;
        bool probe_this_run;      /* the daemon: this run applies a new revision, confirmed by the probes */
        char *reverted;           /* the last pass put its change back: why (owned) */
        const char *trigger;      /* the daemon's run: "start", "drift", "manifests changed" */
        struct status *status;    /* while a pass runs that reports into a status */
        struct str_list *status_errors; /* the error lines of that pass, when errors is NULL */
};

/* What the core's hooks get back as their u. */
struct pass_ctx {
        struct options *o;
        bool log_actions;
};

/* One pass of the core over want (run.dry_run: plan only), printed as the
 * options say. log_actions prints one line per action and outcome to stderr
 * (the daemon's log) instead of the plan. */
void cmd_pass(struct options *o, struct model *want, bool log_actions, struct pass_result *res);
int load_manifests(const struct options *o, struct manifest_set *set);
int cmd_daemon(struct options *o);
/* The daemon's line per action and outcome, on stderr and, with fields, in the journal. */
void daemon_log_actions(const struct options *o, const struct plan *p);

/* reconcile status, and the status after a pass (cmd/status.c). */
int cmd_status(struct options *o);
/* Fold a pass over want (NULL: the manifests were invalid) into s. */
void status_after_pass(struct options *o, struct status *s, const char *trigger, const struct model *want,
                       const struct pass_result *res, int64_t started, double seconds);
/* Write the status file and the metrics as the options say. */
void status_save(const struct options *o, const struct status *s);
double monotonic_seconds(void);

/* apply --confirm, confirm and release (cmd/confirm.c): the waiting and the words. */
int cmd_apply_confirm(struct options *o);
int cmd_confirm(struct options *o);
int cmd_release(struct options *o);
/* Wait for `reconcile confirm` or Enter (pass_opts.wait): 0 keep, 1 revert. */
int wait_for_confirmation(void *u, int seconds);
