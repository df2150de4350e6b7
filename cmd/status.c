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
        if (o->status_file)
                make_parent(o->status_file);
        status_write(s, o->status_file, o->metrics_dir);
}

static const char *jget(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null) ? json_object_get_string(v)
                                                                                                  : NULL;
}

static void print_text(json_object *root) {
        json_object *last, *conds, *list, *counts;
        printf("revision:  %s (%s)\n", jget(root, "revision") ?: "-", jget(root, "revision_source") ?: "-");
        if (json_object_object_get_ex(root, "last_run", &last))
                printf("last run:  %s (%s): %s in %s s\n", jget(last, "time") ?: "never", jget(last, "trigger") ?: "-",
                       jget(last, "result") ?: "-", jget(last, "seconds") ?: "0");
        printf("last success: %s\n", jget(root, "last_success") ?: "never");
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
        if (o->output && strcmp(o->output, "json") == 0)
                fputs(text, stdout);
        else
                print_text(root);
        json_object_put(root);
        return EXIT_OK;
}
