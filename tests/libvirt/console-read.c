/* Read a domain's serial console through libvirt's console stream
 * (virDomainOpenConsole), as `virsh console` does but without a tty, until a
 * line matches a prefix: the test witness of what a guest prints on ttyS0.
 *   console-read URI DOMAIN PREFIX SECONDS
 * Prints the first line that starts with PREFIX and exits 0; exits 1 after
 * SECONDS without one, 2 when the console cannot be opened. */
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static void quiet(void *u, virErrorPtr e) {
        (void) u, (void) e;
}

/* The stream blocks until the guest prints: the deadline is an alarm. */
static void timed_out(int sig) {
        (void) sig;
        static const char msg[] = "console-read: no such line before the deadline\n";
        if (write(2, msg, sizeof(msg) - 1) < 0)
                _exit(1);
        _exit(1);
}

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: %s URI DOMAIN PREFIX SECONDS\n", argv[0]);
                return 2;
        }
        virSetErrorFunc(NULL, quiet);
        virConnectPtr c = virConnectOpen(argv[1]);
        virDomainPtr d = c ? virDomainLookupByName(c, argv[2]) : NULL;
        virStreamPtr st = d ? virStreamNew(c, 0) : NULL;
        if (!st || virDomainOpenConsole(d, NULL, st, VIR_DOMAIN_CONSOLE_FORCE) < 0) {
                const char *m = virGetLastErrorMessage();
                fprintf(stderr, "console-read: cannot open the console of %s: %s\n", argv[2], m ? m : "?");
                return 2;
        }
        const char *prefix = argv[3];
        signal(SIGALRM, timed_out);
        alarm((unsigned) atoi(argv[4]));
        char line[4096];
        size_t len = 0;
        int rc = 1;
        while (rc == 1) {
                char buf[1024];
                int n = virStreamRecv(st, buf, sizeof(buf));
                if (n <= 0)
                        break; /* closed: the guest went away */
                for (int i = 0; i < n && rc == 1; i++) {
                        if (buf[i] == '\r')
                                continue;
                        if (buf[i] != '\n' && len < sizeof(line) - 1) {
                                line[len++] = buf[i];
                                continue;
                        }
                        line[len] = '\0';
                        len = 0;
                        if (strncmp(line, prefix, strlen(prefix)) == 0) {
                                printf("%s\n", line);
                                rc = 0;
                        }
                }
        }
        virStreamAbort(st);
        virStreamFree(st);
        virDomainFree(d);
        virConnectClose(c);
        return rc;
}
