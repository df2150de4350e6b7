/* What main.c and daemon.c share: the parsed options and one apply pass. */
#pragma once

#include "../parsers/parsers.h"
#include "output.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_PENDING = 2 };

struct options {
        const char *manifests;
        const char *command;
        const char *output;
        bool dry_run, exit_code, allow_mass_delete;
        int lock_timeout, resync;
        int confirm_seconds;  /* apply --confirm: 0 = off */
        bool confirm_partial;
        bool lock_held;       /* the caller holds the lock (confirm, revert) */
        bool reverting;       /* this pass restores a checkpoint */
        const char *digest;   /* of the manifests, for holds */
        struct str_list *errors; /* -o json: every error line, for the document; else NULL */
        struct run_opts run;
};

struct pass_result {
        int status;          /* EXIT_* */
        size_t n_actions;    /* planned */
        size_t n_done;       /* applied */
        size_t n_pending;
        bool observe_failed; /* a backend could not be reached */
        bool held;           /* this manifest revision was reverted and is held */
};

/* Plan (and unless dry, apply and verify) want against the host. log_actions
 * prints one line per action and outcome to stderr (the daemon's log). */
void apply_pass(struct options *o, struct model *want, bool dry, bool log_actions, struct pass_result *res);
int load_manifests(const struct options *o, struct manifest_set *set);
int cmd_daemon(struct options *o);

/* apply --confirm (cmd/confirm.c): checkpoint, wait, revert; holds. */
int cmd_apply_confirm(struct options *o);
int cmd_confirm(struct options *o);
int cmd_release(struct options *o);
/* With the lock held: revert an unconfirmed checkpoint a dead run left. 0 if none. */
int checkpoint_recover(struct options *o);
/* Before apply --confirm applies: refuse what cannot be reverted, write the checkpoint. */
int confirm_checkpoint(struct options *o, struct run *r);
/* -EPERM (reported) when digest is the held revision. */
/* A held revision: an error for an apply, a note for a plan (dry). */
int hold_check(const struct options *o, const char *digest, bool dry);
