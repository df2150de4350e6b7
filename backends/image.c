/* Disk images on the host (backends/image.h). The SHA-256 is written here
 * from FIPS 180-4: the libraries already linked (json-c, libmnl) have none,
 * and GnuTLS is loaded only for health checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "kind.h"

static const uint32_t sha256_k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n) {
        return x >> n | x << (32 - n);
}

static void sha256_block(struct sha256 *c, const unsigned char *p) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
                h = g, g = f, f = e, e = d + t1;
                d = cc, cc = b, b = a, a = t1 + t2;
        }
        c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d;
        c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
}

void sha256_init(struct sha256 *c) {
        static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        memcpy(c->h, h0, sizeof(h0));
        c->length = 0;
        c->used = 0;
}

void sha256_update(struct sha256 *c, const void *data, size_t n) {
        const unsigned char *p = data;
        c->length += n;
        while (n) {
                if (c->used == 0 && n >= 64) {
                        sha256_block(c, p);
                        p += 64, n -= 64;
                        continue;
                }
                size_t take = 64 - c->used < n ? 64 - c->used : n;
                memcpy(c->block + c->used, p, take);
                c->used += take, p += take, n -= take;
                if (c->used == 64) {
                        sha256_block(c, c->block);
                        c->used = 0;
                }
        }
}

void sha256_hex(struct sha256 *c, char out[65]) {
        uint64_t bits = c->length * 8;
        unsigned char pad[72] = { 0x80 };
        size_t n = (c->used < 56 ? 56 : 120) - c->used;
        for (int i = 0; i < 8; i++)
                pad[n + (size_t) i] = (unsigned char) (bits >> (56 - 8 * i));
        sha256_update(c, pad, n + 8);
        for (int i = 0; i < 8; i++)
                snprintf(out + 8 * i, 9, "%08x", c->h[i]);
}

int image_sha256_fd(int fd, char out[65]) {
        struct sha256 c;
        sha256_init(&c);
        unsigned char buf[65536];
        ssize_t n;
        while ((n = pread(fd, buf, sizeof(buf), (off_t) c.length)) > 0 || (n < 0 && errno == EINTR))
                if (n > 0)
                        sha256_update(&c, buf, (size_t) n);
        if (n < 0)
                return -errno;
        sha256_hex(&c, out);
        return 0;
}

int image_sha256(const char *path, char out[65]) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = image_sha256_fd(fd, out);
        close(fd);
        return r;
}

int image_probe_format_fd(int fd, int *format) {
        static const unsigned char qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };
        unsigned char head[4];
        ssize_t n;
        while ((n = pread(fd, head, sizeof(head), 0)) < 0 && errno == EINTR)
                ;
        if (n < 0)
                return -errno;
        *format = n == (ssize_t) sizeof(head) && memcmp(head, qcow2_magic, sizeof(head)) == 0 ? VOL_QCOW2 : VOL_RAW;
        return 0;
}

int image_probe_format(const char *path, int *format) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = image_probe_format_fd(fd, format);
        close(fd);
        return r;
}
