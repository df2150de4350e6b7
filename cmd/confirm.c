/* apply --confirm SECONDS, confirm and release: the words and the waiting.
 * The checkpoint, its revert and the hold are the core's (reconcile/pass.c). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

int cmd_release(struct options *o) {
        int r = hold_release(o->run.state_dir, o->lock_timeout);
        if (r < 0)
                return EXIT_ERROR;
        printf(r == 0 ? "nothing is held\n" : "hold released: the next run applies the manifests\n");
        return EXIT_OK;
}

/* ---- waiting ---- */

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) {
        stop_signal = sig;
}

/* 0: confirmed; 1: revert (timeout, signal, lost terminal). */
int wait_for_confirmation(void *u, int seconds) {
        const struct options *o = ((const struct pass_ctx *) u)->o;
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        bool tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
        time_t deadline = time(NULL) + seconds;
        fprintf(stderr, "applied. Keep it with `reconcile confirm`%s within %d s, or it is reverted.\n",
                tty ? " or Enter" : "", seconds);
        for (;;) {
                time_t left = deadline - time(NULL);
                if (stop_signal) {
                        fprintf(stderr, "\n%s: reverting\n", strsignal(stop_signal));
                        return 1;
                }
                if (checkpoint_confirmed(o->run.state_dir))
                        return 0;
                if (left <= 0) {
                        fprintf(stderr, "%sno confirmation within %d s\n", tty ? "\n" : "", seconds);
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
        if (load_manifests(o, &set) >= 0) {
                o->digest = set.digest;
                cmd_pass(o, &set.model, false, &res);
        }
        manifests_done(&set);
        return res.status;
}

int cmd_confirm(struct options *o) {
        if (checkpoint_confirm(o->run.state_dir) < 0)
                return EXIT_ERROR;
        printf("confirmed\n");
        return EXIT_OK;
}
