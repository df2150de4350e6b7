/* Disk images on the host: their format from their first bytes, their
 * SHA-256 (a cloud image's declared digest is checked before its upload). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* One SHA-256 (FIPS 180-4) in progress. */
struct sha256 {
        uint32_t h[8];
        uint64_t length; /* bytes hashed so far */
        unsigned char block[64];
        size_t used;
};
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t n);
void sha256_hex(struct sha256 *c, char out[65]); /* finishes: lower-case hex */

/* The SHA-256 of a file's content into out; a negative errno when it cannot be read. */
int image_sha256(const char *path, char out[65]);
/* The same of an open file, read with pread from offset 0 (its offset is left
 * alone): what is hashed is what that open file holds, not whatever the path
 * names by the time it is opened again. */
int image_sha256_fd(int fd, char out[65]);
/* The format (enum vol_format) of an image file or block device from its
 * header: qcow2 by its magic, raw otherwise; a negative errno when it cannot
 * be read. */
int image_probe_format(const char *path, int *format);
int image_probe_format_fd(int fd, int *format);
