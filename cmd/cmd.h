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
        struct run_opts run;
};

struct pass_result {
        int status;          /* EXIT_* */
        size_t n_actions;    /* planned */
        size_t n_done;       /* applied */
        size_t n_pending;
        bool observe_failed; /* a backend could not be reached */
};

/* Plan (and unless dry, apply and verify) want against the host. log_actions
 * prints one line per action and outcome to stderr (the daemon's log). */
void apply_pass(struct options *o, struct model *want, bool dry, bool log_actions, struct pass_result *res);
int load_manifests(const struct options *o, struct manifest_set *set);
int cmd_daemon(struct options *o);
