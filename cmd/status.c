/* reconcile status: the status file the daemon (or apply --status-file)
 * wrote, as text or JSON; and the writing of it after a pass. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"

double monotonic_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* /run/reconcile is gone after a reboot: make the one directory the default path needs. */
static void make_parent(const char *path) {
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                mkdir(dir, 0755);
        }
}

void status_after_pass(struct options *o, struct status *s, const char *trigger, const struct model *want,
                       const struct pass_result *res, int64_t started, double seconds) {
        const char *source = o->revision_source;
        _cleanup_free_ char *computed = o->revision ? NULL : status_revision(o->manifests, o->digest, &source);
        const char *revision = o->revision ? o->revision : computed;
        struct status_run run = {
                .revision = revision,
                .revision_source = source,
                .digest = o->digest,
                .trigger = trigger,
                .want = want,
                .res = res,
                .started = started,
                .seconds = seconds,
                .reverted = o->reverted,
        };
        status_record(s, &run);
}

void status_save(const struct options *o, const struct status *s) {
        if (o->status_file)
                make_parent(o->status_file);
        status_write(s, o->status_file, o->metrics_dir);
}

static const char *jget(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null) ? json_object_get_string(v)
                                                                                                  : NULL;
}

/* Each health-checked real, whatever its service's state: up or down, since when, the last result. */
static void print_checks(json_object *list) {
        for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *checks;
                if (!json_object_object_get_ex(e, "checks", &checks))
                        continue;
                for (size_t j = 0; j < json_object_array_length(checks); j++) {
                        json_object *c = json_object_array_get_idx(checks, j);
                        const char *restarts = jget(c, "restarts"), *passes = jget(c, "passes"), *failures = jget(c, "failures");
                        printf("  %-8s %s %s %s: %s since %s (%s", jget(c, "state") ?: "?", jget(e, "kind") ?: "?",
                               jget(e, "name") ?: "?", jget(c, "item") ?: "?", jget(c, "check") ?: "?",
                               jget(c, "since") ?: "?", jget(c, "result") ?: "");
                        /* The way back or down under way: passes of a down real, failures of an up one. */
                        if (passes && strcmp(passes, "0") != 0)
                                printf("; %s pass%s in a row", passes, strcmp(passes, "1") == 0 ? "" : "es");
                        if (failures && strcmp(failures, "0") != 0)
                                printf("; %s failure%s in a row", failures, strcmp(failures, "1") == 0 ? "" : "s");
                        putchar(')');
                        if (restarts && strcmp(restarts, "0") != 0)
                                printf(" [stuck, restarted %s]", restarts);
                        putchar('\n');
                }
        }
}

static void print_text(json_object *root) {
        json_object *last, *conds, *list = NULL, *counts;
        printf("revision:  %s (%s)\n", jget(root, "revision") ?: "-", jget(root, "revision_source") ?: "-");
        if (json_object_object_get_ex(root, "last_run", &last))
                printf("last run:  %s (%s): %s in %s s\n", jget(last, "time") ?: "never", jget(last, "trigger") ?: "-",
                       jget(last, "result") ?: "-", jget(last, "seconds") ?: "0");
        printf("last success: %s\n", jget(root, "last_success") ?: "never");
        json_object *pull;
        if (json_object_object_get_ex(root, "pull", &pull)) {
                const char *commit = jget(pull, "commit");
                printf("pull:      %s%s%.12s at %s: %s\n", jget(pull, "result") ?: "?", commit && *commit ? " commit " : "",
                       commit ? commit : "", jget(pull, "time") ?: "?", jget(pull, "reason") ?: "");
        }
        if (json_object_object_get_ex(root, "conditions", &conds))
                for (size_t i = 0; i < json_object_array_length(conds); i++) {
                        json_object *c = json_object_array_get_idx(conds, i);
                        printf("  %-12s %-5s %-20s %s\n", jget(c, "type") ?: "?", jget(c, "status") ?: "?",
                               jget(c, "reason") ?: "", jget(c, "message") ?: "");
                }
        if (json_object_object_get_ex(root, "counts", &counts))
                printf("resources: %s in sync, %s pending, %s failed\n", jget(counts, "in-sync") ?: "0",
                       jget(counts, "pending") ?: "0", jget(counts, "failed") ?: "0");
        if (json_object_object_get_ex(root, "resources", &list))
                for (size_t i = 0; i < json_object_array_length(list); i++) {
                        json_object *e = json_object_array_get_idx(list, i);
                        const char *st = jget(e, "status") ?: "?";
                        const char *repairs = jget(e, "repairs");
                        bool repaired = repairs && strcmp(repairs, "0") != 0;
                        if (strcmp(st, "in-sync") == 0 && !repaired && diag_verbose <= 0)
                                continue;
                        printf("  %-8s %s %s", st, jget(e, "kind") ?: "?", jget(e, "name") ?: "?");
                        if (jget(e, "error"))
                                printf(": %s", jget(e, "error"));
                        if (jget(e, "reason"))
                                printf(": %s", jget(e, "reason"));
                        if (jget(e, "since"))
                                printf(" (since %s)", jget(e, "since"));
                        if (repaired)
                                printf(" [%s repair%s]", repairs, strcmp(repairs, "1") == 0 ? "" : "s");
                        putchar('\n');
                }
        print_checks(list);
}

/* examples/gitops/reconcile-pull's last outcome, beside the status file: key=value lines. */
static json_object *pull_status(const char *status_file) {
        const char *slash = strrchr(status_file, '/');
        int dir_len = slash ? (int) (slash - status_file) : 0;
        _cleanup_free_ char *path = slash ? xasprintf("%.*s/pull.status", dir_len, status_file) : xstrdup("pull.status");
        _cleanup_free_ char *text = file_read(path);
        if (!text)
                return NULL;
        json_object *o = json_object_new_object();
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                char *eq = strchr(line, '=');
                if (eq && eq != line) {
                        *eq = '\0';
                        json_object_object_add(o, line, json_object_new_string(eq + 1));
                }
        }
        return o;
}

int cmd_status(struct options *o) {
        _cleanup_free_ char *text = file_read(o->status_file);
        if (!text) {
                diag_plain(-errno, "%s: %s (the daemon writes it after each run; apply with --status-file)",
                           o->status_file, strerror(errno));
                return EXIT_ERROR;
        }
        json_object *root = json_tokener_parse(text);
        if (!root || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                diag_plain(-EBADMSG, "%s: not a status file", o->status_file);
                return EXIT_ERROR;
        }
        json_object *pull = pull_status(o->status_file);
        if (pull)
                json_object_object_add(root, "pull", pull);
        if (o->output && strcmp(o->output, "json") == 0)
                fputs(pull ? json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) : text,
                      stdout);
        else
                print_text(root);
        if (pull && o->output && strcmp(o->output, "json") == 0)
                fputc('\n', stdout);
        json_object_put(root);
        return EXIT_OK;
}
