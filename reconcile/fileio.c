/* Small files in the state dir: one atomic writer for the ledger, the
 * checkpoint and the hold, a reader, and "key=value" records whose values
 * are escaped so that any name fits in one line. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reconcile.h"

static int write_all(int fd, const char *data, size_t len) {
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, data + off, len - off);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0)
                        off += (size_t) n;
        }
        return 0;
}

/* The rename is on disk only once its directory is. A directory that cannot
 * be synced (some file systems refuse) still holds the complete new file. */
static void sync_dir_of(const char *path) {
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = '\0';
        int dfd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
        }
}

int file_write_atomic(const char *path, const char *data, size_t len, const char *what) {
        /* A fixed temp name: every writer holds the lock (or writes a file only
         * one command writes), and a stale one is simply truncated. */
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return diag_plain(-errno, "%s: %s", tmp, strerror(errno));
        int r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                if (what)
                        return diag_plain(r, "%s: cannot write %s: %s", tmp, what, strerror(-r));
                return diag_plain(r, "%s: %s", path, strerror(-r));
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
                if (what)
                        return diag_plain(r, "%s: cannot replace %s: %s", path, what, strerror(-r));
                return diag_plain(r, "%s: %s", path, strerror(-r));
        }
        sync_dir_of(path);
        return 0;
}

char *file_read(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = NULL;
        size_t cap = 0, len = 0;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        cap = (len + 4096 + 1) * 2;
                        buf = realloc(buf, cap);
                        if (!buf)
                                abort();
                }
                size_t n = fread(buf + len, 1, 4096, f);
                len += n;
                if (n == 0)
                        break;
        }
        fclose(f);
        buf[len] = '\0';
        return buf;
}

/* '%' and the control bytes (newline above all) become %XX; everything else,
 * commas, '=', backslashes and blanks included, stays as it is. */
char *record_escape(const char *s) {
        char *out = xcalloc(strlen(s) * 3 + 1, 1), *w = out;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '%' || *p < 0x20 || *p == 0x7f)
                        w += sprintf(w, "%%%02X", *p);
                else
                        *w++ = (char) *p;
        }
        *w = '\0';
        return out;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int record_unescape(char *s) {
        char *w = s;
        for (const char *p = s; *p; p++) {
                if (*p != '%') {
                        *w++ = *p;
                        continue;
                }
                int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
                if (lo < 0 || (hi == 0 && lo == 0))
                        return -EINVAL;
                *w++ = (char) (hi * 16 + lo);
                p += 2;
        }
        *w = '\0';
        return 0;
}

char *record_value(const char *text, const char *key, const char **next) {
        size_t n = strlen(key);
        for (const char *p = text; p && *p;) {
                const char *eol = strchr(p, '\n');
                if (strncmp(p, key, n) == 0 && p[n] == '=') {
                        if (next)
                                *next = eol ? eol + 1 : p + strlen(p);
                        return xasprintf("%.*s", (int) ((eol ? eol : p + strlen(p)) - (p + n + 1)), p + n + 1);
                }
                p = eol ? eol + 1 : NULL;
        }
        if (next)
                *next = NULL;
        return NULL;
}
