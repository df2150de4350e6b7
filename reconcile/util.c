/* Allocation helpers, the error sink and the value types shared by parsers and backends. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "reconcile.h"

void freep(void *p) {
        free(*(void **) p);
}

void *xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                abort(); /* Out of memory is not a state any caller can recover from sensibly. */
        return p;
}

char *xstrdup(const char *s) {
        char *p = strdup(s ? s : "");
        if (!p)
                abort();
        return p;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();
        return s;
}

size_t array_capacity(size_t n) {
        size_t cap = 4;
        while (cap < n)
                cap *= 2;
        return cap;
}

void *array_push(void *vp, size_t *n, size_t size) {
        void **v = vp;
        /* Capacity is implied: 4, then doubled whenever n reaches a power of two. */
        if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
                size_t ncap = *n == 0 ? 4 : *n * 2;
                void *nv = realloc(*v, ncap * size);
                if (!nv)
                        abort();
                *v = nv;
        }
        void *e = (char *) *v + *n * size;
        memset(e, 0, size);
        (*n)++;
        return e;
}

/* FNV-1a 64, byte by byte as its definition says (the value is a revision's
 * digest in the status: it must not change), eight bytes a loop step: the
 * loop's own counting and branch were a third of a 1.6 MB manifest's digest. */
uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n) {
        const unsigned char *b = p;
        const uint64_t prime = 1099511628211ull;
        for (; n >= 8; b += 8, n -= 8) {
                h = (h ^ b[0]) * prime;
                h = (h ^ b[1]) * prime;
                h = (h ^ b[2]) * prime;
                h = (h ^ b[3]) * prime;
                h = (h ^ b[4]) * prime;
                h = (h ^ b[5]) * prime;
                h = (h ^ b[6]) * prime;
                h = (h ^ b[7]) * prime;
        }
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * prime;
        return h;
}

uint64_t hash_fnv1a_str(uint64_t h, const char *s) {
        return hash_fnv1a(h, s, strlen(s));
}

size_t hindex_find(const struct hindex *x, uint64_t h, bool (*eq)(size_t pos, const void *u), const void *u) {
        if (!x->n_slots)
                return HINDEX_NONE;
        for (size_t s = h & (x->n_slots - 1); x->slots[s]; s = (s + 1) & (x->n_slots - 1))
                if (eq(x->slots[s] - 1, u))
                        return x->slots[s] - 1;
        return HINDEX_NONE;
}

static void hindex_put(struct hindex *x, uint64_t h, size_t pos) {
        size_t s = h & (x->n_slots - 1);
        while (x->slots[s])
                s = (s + 1) & (x->n_slots - 1);
        x->slots[s] = pos + 1;
}

void hindex_rebuild(struct hindex *x, size_t n, uint64_t (*hash)(size_t pos, const void *u), const void *u) {
        /* At most a quarter full after a rebuild: probes stay short until the next one. */
        size_t want = 64;
        while (want < n * 4)
                want <<= 1;
        if (want != x->n_slots) {
                free(x->slots);
                x->slots = xcalloc(want, sizeof(size_t));
                x->n_slots = want;
        } else
                memset(x->slots, 0, want * sizeof(size_t));
        for (size_t i = 0; i < n; i++)
                hindex_put(x, hash(i, u), i);
}

void hindex_add(struct hindex *x, size_t n, uint64_t (*hash)(size_t pos, const void *u), const void *u) {
        if (n * 2 > x->n_slots)
                hindex_rebuild(x, n, hash, u);
        else
                hindex_put(x, hash(n - 1, u), n - 1);
}

void hindex_done(struct hindex *x) {
        free(x->slots);
        x->slots = NULL;
        x->n_slots = 0;
}

/* ---- error sink ---- */

static FILE *diag_out;
static unsigned diag_errors;
int diag_verbose;

void diag_set_stream(FILE *f) {
        diag_out = f;
}
FILE *diag_stream(void) {
        return diag_out ? diag_out : stderr;
}
unsigned diag_error_count(void) {
        return diag_errors;
}
void diag_reset(void) {
        diag_errors = 0;
}
void diag_restore_count(unsigned n) {
        diag_errors = n;
}

static struct str_list *diag_kept;

struct str_list *diag_capture(struct str_list *into) {
        struct str_list *was = diag_kept;
        diag_kept = into;
        return was;
}

static _Thread_local enum kind diag_kind = _KIND_INVALID;
static _Thread_local const char *diag_name;
static diag_hook_fn *diag_hook;
static void *diag_hook_u;

void diag_set_resource(enum kind k, const char *name) {
        diag_kind = name ? k : _KIND_INVALID;
        diag_name = name;
}

void diag_set_hook(diag_hook_fn *fn, void *u) {
        diag_hook = fn;
        diag_hook_u = u;
}

/* Every error line: "PREFIX" then the message, counted. A line quieted into
 * a stream of the caller's is not the hook's. */
static void diag_line(const char *prefix, const char *fmt, va_list ap) {
        FILE *f = diag_stream();
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        bool written = false;
        if (diag_hook && !diag_out) {
                _cleanup_free_ char *line = xasprintf("%s%s", prefix, msg);
                written = diag_hook(diag_hook_u, DIAG_ERROR, diag_kind, diag_name, line);
        }
        if (!written)
                fprintf(f, "%s%s\n", prefix, msg);
        if (diag_kept)
                *(char **) array_push(&diag_kept->v, &diag_kept->n, sizeof(char *)) = xasprintf("%s%s", prefix, msg);
        free(msg);
        diag_errors++;
}

int diag_pos(const struct srcpos *pos, const char *fmt, ...) {
        char prefix[1024];
        va_list ap;
        snprintf(prefix, sizeof(prefix), "%s:%u:%u: error: ", pos->file, pos->line, pos->col);
        va_start(ap, fmt);
        diag_line(prefix, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int diag_res(int r, const char *kind, const char *name, const char *fmt, ...) {
        char prefix[512];
        va_list ap;
        snprintf(prefix, sizeof(prefix), "error: %s %s: ", kind, name);
        /* Said outside a resource of the pass's (verification): the caller's kind and name are whose. */
        enum kind was_kind = diag_kind;
        const char *was_name = diag_name;
        if (!diag_name && (int) kind_from_string(kind) >= 0)
                diag_set_resource(kind_from_string(kind), name);
        va_start(ap, fmt);
        diag_line(prefix, fmt, ap);
        va_end(ap);
        diag_kind = was_kind;
        diag_name = was_name;
        return r;
}

void diag_event(enum diag_event ev, enum kind k, const char *name, const char *fmt, ...) {
        char *line = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&line, fmt, ap) < 0)
                abort();
        va_end(ap);
        if (!(diag_hook && !diag_out && diag_hook(diag_hook_u, ev, k, name, line)))
                fprintf(diag_stream(), "%s\n", line);
        free(line);
}

int diag_plain(int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_line("error: ", fmt, ap);
        va_end(ap);
        return r;
}

void diag_debug(const char *fmt, ...) {
        va_list ap;
        if (diag_verbose <= 0)
                return;
        FILE *f = diag_stream();
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
}

void diag_info(const char *fmt, ...) {
        va_list ap;
        if (diag_verbose < 0)
                return;
        FILE *f = diag_stream();
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
}

/* ---- enum tables ---- */

static const char *const state_words[_STATE_MAX] = {
        [STATE_PRESENT] = "present", [STATE_ABSENT] = "absent", [STATE_RUNNING] = "running", [STATE_SHUTOFF] = "shutoff",
};
static const char *const net_mode_words[] = { "nat", "route", "isolated", "bridge", "macvtap", "hostdev" };
static const char *const macvtap_words[] = { "bridge", "vepa", "private", "passthrough" };
static const char *const vol_format_words[] = { "raw", "qcow2" };
static const char *const prealloc_words[] = { "none", "metadata", "full" };
static const char *const bus_words[] = { "virtio", "sata", "scsi", "ide" };
static const char *const cache_words[] = { "default", "none", "writethrough", "writeback", "directsync", "unsafe" };
static const char *const discard_words[] = { "ignore", "unmap" };
static const char *const nic_words[] = { "virtio", "e1000", "e1000e", "rtl8139" };
static const char *const memback_words[] = { "default", "hugepages" };
static const char *const proto_words[] = { "tcp", "udp", "sctp" };
static const char *const fwd_words[] = { "masq", "route", "tunnel" };
static const char *const family_words[] = { "inet", "inet6" };
static const char *const macvlan_words[] = { "private", "vepa", "bridge", "passthru" };
static const char *const bond_mode_words[] = { "balance-rr", "active-backup", "balance-xor", "broadcast",
                                               "802.3ad", "balance-tlb", "balance-alb" };
static const char *const lacp_words[] = { "slow", "fast" };
static const char *const xmit_words[] = { "layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac" };
static const char *const route_type_words[] = { "unicast", "blackhole", "unreachable", "prohibit" };
static const char *const route_scope_words[] = { "global", "link", "host" };
static const char *const sched_words[_IPVS_SCHED_MAX] = {
        [IPVS_SCHED_RR] = "rr",   [IPVS_SCHED_WRR] = "wrr", [IPVS_SCHED_LC] = "lc", [IPVS_SCHED_WLC] = "wlc", [IPVS_SCHED_LBLC] = "lblc",
        [IPVS_SCHED_LBLCR] = "lblcr", [IPVS_SCHED_DH] = "dh", [IPVS_SCHED_SH] = "sh", [IPVS_SCHED_SED] = "sed", [IPVS_SCHED_NQ] = "nq",
        [IPVS_SCHED_FO] = "fo",   [IPVS_SCHED_OVF] = "ovf", [IPVS_SCHED_MH] = "mh", [IPVS_SCHED_TWOS] = "twos",
};
static const char *const set_type_words[_SETT_MAX] = {
        [SETT_BITMAP_IP] = "bitmap:ip",
        [SETT_BITMAP_IP_MAC] = "bitmap:ip,mac",
        [SETT_BITMAP_PORT] = "bitmap:port",
        [SETT_HASH_IP] = "hash:ip",
        [SETT_HASH_MAC] = "hash:mac",
        [SETT_HASH_IP_MAC] = "hash:ip,mac",
        [SETT_HASH_IP_MARK] = "hash:ip,mark",
        [SETT_HASH_NET] = "hash:net",
        [SETT_HASH_NET_NET] = "hash:net,net",
        [SETT_HASH_IP_PORT] = "hash:ip,port",
        [SETT_HASH_NET_PORT] = "hash:net,port",
        [SETT_HASH_IP_PORT_IP] = "hash:ip,port,ip",
        [SETT_HASH_IP_PORT_NET] = "hash:ip,port,net",
        [SETT_HASH_NET_PORT_NET] = "hash:net,port,net",
        [SETT_HASH_NET_IFACE] = "hash:net,iface",
        [SETT_LIST_SET] = "list:set",
};
const struct set_type_info set_types[_SETT_MAX] = {
        [SETT_BITMAP_IP] = { .has_family = true, .inet_only = true, .bitmap = true, .dims = { DIM_IP } },
        [SETT_BITMAP_IP_MAC] = { .has_family = true, .inet_only = true, .bitmap = true, .optional_last = true,
                                 .dims = { DIM_IP, DIM_MAC } },
        [SETT_BITMAP_PORT] = { .bitmap = true, .dims = { DIM_PORT } },
        [SETT_HASH_IP] = { .has_family = true, .dims = { DIM_IP } },
        [SETT_HASH_MAC] = { .dims = { DIM_MAC } },
        [SETT_HASH_IP_MAC] = { .has_family = true, .dims = { DIM_IP, DIM_MAC } },
        [SETT_HASH_IP_MARK] = { .has_family = true, .dims = { DIM_IP, DIM_MARK } },
        [SETT_HASH_NET] = { .has_family = true, .dims = { DIM_NET } },
        [SETT_HASH_NET_NET] = { .has_family = true, .dims = { DIM_NET, DIM_NET } },
        [SETT_HASH_IP_PORT] = { .has_family = true, .dims = { DIM_IP, DIM_PORT } },
        [SETT_HASH_NET_PORT] = { .has_family = true, .dims = { DIM_NET, DIM_PORT } },
        [SETT_HASH_IP_PORT_IP] = { .has_family = true, .dims = { DIM_IP, DIM_PORT, DIM_IP } },
        [SETT_HASH_IP_PORT_NET] = { .has_family = true, .dims = { DIM_IP, DIM_PORT, DIM_NET } },
        [SETT_HASH_NET_PORT_NET] = { .has_family = true, .dims = { DIM_NET, DIM_PORT, DIM_NET } },
        [SETT_HASH_NET_IFACE] = { .has_family = true, .dims = { DIM_NET, DIM_IFACE } },
        [SETT_LIST_SET] = { .dims = { DIM_SETNAME } },
};
static const char *const pool_type_words[_POOL_TYPE_MAX] = {
        [POOL_DIR] = "dir",     [POOL_FS] = "fs",       [POOL_NETFS] = "netfs",       [POOL_LOGICAL] = "logical",
        [POOL_DISK] = "disk",   [POOL_ISCSI] = "iscsi", [POOL_MPATH] = "mpath",       [POOL_RBD] = "rbd",
        [POOL_SHEEPDOG] = "sheepdog", [POOL_GLUSTER] = "gluster", [POOL_ZFS] = "zfs", [POOL_VSTORAGE] = "vstorage",
};
static const char *const op_words[_OP_MAX] = {
        [OP_CREATE] = "create", [OP_UPDATE] = "update", [OP_REPLACE] = "replace", [OP_DELETE] = "delete", [OP_ADOPT] = "adopt",
};

#define TABLE(v, w) const struct enum_table v = { #v, w, (int) ELEMENTSOF(w) }
TABLE(net_mode_table, net_mode_words);
TABLE(macvtap_mode_table, macvtap_words);
TABLE(vol_format_table, vol_format_words);
TABLE(prealloc_table, prealloc_words);
TABLE(disk_bus_table, bus_words);
TABLE(disk_cache_table, cache_words);
TABLE(disk_discard_table, discard_words);
TABLE(nic_model_table, nic_words);
TABLE(mem_backing_table, memback_words);
TABLE(ipvs_proto_table, proto_words);
TABLE(ipvs_fwd_table, fwd_words);
TABLE(inet_family_table, family_words);
TABLE(macvlan_mode_table, macvlan_words);
TABLE(bond_mode_table, bond_mode_words);
TABLE(lacp_rate_table, lacp_words);
TABLE(xmit_hash_table, xmit_words);
TABLE(route_type_table, route_type_words);
TABLE(route_scope_table, route_scope_words);
TABLE(ipvs_sched_table, sched_words);
TABLE(ipset_type_table, set_type_words);
TABLE(pool_type_table, pool_type_words);
/* The generic state only allows present/absent; domains allow all four. */
const struct enum_table state_table = { "state", state_words, 2 };
const struct enum_table domain_state_table = { "domain state", state_words, _STATE_MAX };
static const struct enum_table op_table = { "op", op_words, _OP_MAX };

const struct enum_table *const enum_tables[] = {
        &op_table, &domain_state_table,
        &net_mode_table, &macvtap_mode_table, &vol_format_table, &prealloc_table, &disk_bus_table,
        &disk_cache_table, &disk_discard_table, &nic_model_table, &mem_backing_table, &ipvs_proto_table,
        &ipvs_fwd_table, &inet_family_table, &macvlan_mode_table, &bond_mode_table, &lacp_rate_table,
        &xmit_hash_table, &route_type_table, &route_scope_table, &ipvs_sched_table, &ipset_type_table,
        &pool_type_table,
};
const size_t n_enum_tables = ELEMENTSOF(enum_tables);

int enum_from_string(const struct enum_table *t, const char *s) {
        if (!s)
                return -1;
        for (int i = 0; i < t->n; i++)
                if (t->words[i] && strcmp(t->words[i], s) == 0)
                        return i;
        return -1;
}

const char *enum_to_string(const struct enum_table *t, int v) {
        if (v < 0 || v >= t->n)
                return NULL;
        return t->words[v];
}

const char *res_state_to_string(enum res_state s) { return enum_to_string(&domain_state_table, s); }
enum res_state res_state_from_string(const char *s) { return enum_from_string(&domain_state_table, s); }
const char *op_to_string(enum op o) { return enum_to_string(&op_table, o); }

const char *op_symbol(enum op o) {
        static const char *const sym[_OP_MAX] = {
                [OP_CREATE] = "+", [OP_UPDATE] = "~", [OP_REPLACE] = "-/+", [OP_DELETE] = "-", [OP_ADOPT] = "=",
        };
        return o >= 0 && o < _OP_MAX ? sym[o] : "?";
}


/* ---- values ---- */

int ipaddr_parse(const char *s, bool want_prefix, struct ipaddr *out) {
        char buf[INET6_ADDRSTRLEN + 8];
        if (!s || strlen(s) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, s);
        char *slash = strchr(buf, '/');
        if (slash)
                *slash++ = '\0';
        if (slash && !want_prefix)
                return -EINVAL;
        memset(out, 0, sizeof(*out));
        unsigned max;
        if (inet_pton(AF_INET, buf, out->a) == 1) {
                out->family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, buf, out->a) == 1) {
                out->family = AF_INET6;
                max = 128;
        } else
                return -EINVAL;
        out->prefix = max;
        if (slash) {
                char *end;
                if (!*slash || !isdigit((unsigned char) *slash))
                        return -ERANGE;
                errno = 0;
                unsigned long p = strtoul(slash, &end, 10);
                if (*end || errno || p > max)
                        return -ERANGE;
                out->prefix = (unsigned) p;
        } else if (want_prefix)
                return -EDOM; /* an address on a link needs its prefix length */
        return 0;
}

char *ipaddr_format(const struct ipaddr *a, bool with_prefix, char *buf, size_t size) {
        char tmp[INET6_ADDRSTRLEN];
        if (!inet_ntop(a->family, a->a, tmp, sizeof(tmp)))
                snprintf(tmp, sizeof(tmp), "?");
        if (with_prefix)
                snprintf(buf, size, "%s/%u", tmp, a->prefix);
        else
                snprintf(buf, size, "%s", tmp);
        return buf;
}

bool ipaddr_equal(const struct ipaddr *a, const struct ipaddr *b) {
        size_t len = a->family == AF_INET ? 4 : 16;
        return a->family == b->family && a->prefix == b->prefix && memcmp(a->a, b->a, len) == 0;
}

bool ipaddr_in_subnet(const struct ipaddr *net, const struct ipaddr *a) {
        if (net->family != a->family)
                return false;
        for (unsigned i = 0; i < net->prefix; i++)
                if ((net->a[i / 8] ^ a->a[i / 8]) & (0x80 >> (i % 8)))
                        return false;
        return true;
}

int ssh_client_address(struct ipaddr *out) {
        /* "CLIENT-ADDRESS CLIENT-PORT SERVER-ADDRESS SERVER-PORT" */
        const char *conn = getenv("SSH_CONNECTION");
        char client[64];
        memset(out, 0, sizeof(*out));
        if (!conn || sscanf(conn, "%63s", client) != 1)
                return -ENOENT;
        if (ipaddr_parse(client, false, out) < 0) {
                memset(out, 0, sizeof(*out));
                return -EINVAL;
        }
        return 0;
}

void str_list_done(struct str_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

bool str_list_contains(const struct str_list *l, const char *s) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i], s) == 0)
                        return true;
        return false;
}

static uint64_t strset_hash(size_t pos, const void *u) {
        const struct strset *s = u;
        return hash_fnv1a_str(HASH_FNV1A_SEED, s->v[pos]);
}

struct strset_key {
        const struct strset *s;
        const char *str;
};

static bool strset_eq(size_t pos, const void *u) {
        const struct strset_key *k = u;
        return strcmp(k->s->v[pos], k->str) == 0;
}

bool strset_add(struct strset *s, const char *str) {
        if (strset_has(s, str))
                return false;
        *(const char **) array_push(&s->v, &s->n, sizeof(*s->v)) = str;
        hindex_add(&s->index, s->n, strset_hash, s);
        return true;
}

void sysctl_value_fold(char *v) {
        size_t o = 0;
        for (char *p = v; *p; p++) {
                if (*p == ' ' || *p == '\t' || *p == '\n') {
                        if (o && v[o - 1] != ' ')
                                v[o++] = ' ';
                } else
                        v[o++] = *p;
        }
        while (o && v[o - 1] == ' ')
                o--;
        v[o] = '\0';
}

bool strset_has(const struct strset *s, const char *str) {
        struct strset_key k = { s, str };
        return hindex_find(&s->index, hash_fnv1a_str(HASH_FNV1A_SEED, str), strset_eq, &k) != HINDEX_NONE;
}

void strset_done(struct strset *s) {
        free(s->v);
        hindex_done(&s->index);
        memset(s, 0, sizeof(*s));
}

int mac_parse(const char *s, unsigned char mac[6]) {
        unsigned v[6];
        char tail;
        if (!s || strlen(s) != 17)
                return -EINVAL;
        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                if (!isxdigit((unsigned char) s[i * 3]) || !isxdigit((unsigned char) s[i * 3 + 1]))
                        return -EINVAL;
                mac[i] = (unsigned char) v[i];
        }
        if (mac[0] & 1)
                return -EDOM; /* multicast: no interface can carry it */
        return 0;
}

char *mac_format(const unsigned char mac[6], char buf[18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
        return buf;
}

/* Unicast (bit 0 clear), locally administered (bit 1 set). */
static void mac_local(unsigned char mac[6]) {
        mac[0] = (unsigned char) ((mac[0] & 0xfe) | 0x02);
}

/* The hash of identity, "reconcile-PURPOSE:" and name, as MAC bytes. */
static void mac_hash(const char *id, size_t id_len, const char *purpose, const char *name, unsigned char mac[6]) {
        uint64_t h = hash_fnv1a(HASH_FNV1A_SEED, id, id_len);
        h = hash_fnv1a_str(h, "reconcile-");
        h = hash_fnv1a_str(h, purpose);
        h = hash_fnv1a_str(h, ":");
        h = hash_fnv1a_str(h, name);
        for (int i = 0; i < 6; i++)
                mac[i] = (unsigned char) (h >> (8 * i));
        mac_local(mac);
}

/* The 32 hex digits of /etc/machine-id; false where there is none. */
static bool machine_id(char id[33]) {
        memset(id, 0, 33);
        int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, id, 32) : -1;
        if (fd >= 0)
                close(fd);
        return n == 32;
}

int mac_derive(const char *purpose, const char *name, unsigned char mac[6]) {
        char id[33];
        if (!machine_id(id))
                return -ENOENT;
        mac_hash(id, 32, purpose, name, mac);
        return 0;
}

/* Where getrandom fails (a kernel without it, a sandbox that forbids it) the
 * MAC is derived as the bridge MACs are, so that it still differs per host
 * and per name: from the machine id, or without one from the host name and
 * the boot id. The caller keeps it, so a new boot id does not change it. */
void mac_random(const char *purpose, const char *name, unsigned char mac[6]) {
        if (getrandom(mac, 6, 0) == 6) {
                mac_local(mac);
                return;
        }
        if (mac_derive(purpose, name, mac) == 0)
                return;
        char id[HOST_NAME_MAX + 1 + 40] = "";
        if (gethostname(id, HOST_NAME_MAX + 1) < 0)
                id[0] = '\0';
        id[HOST_NAME_MAX] = '\0';
        size_t len = strlen(id);
        id[len++] = '/';
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, id + len, 36) : -1;
        if (fd >= 0)
                close(fd);
        mac_hash(id, len + (n > 0 ? (size_t) n : 0), purpose, name, mac);
}

bool ifname_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n >= IFNAME_MAX)
                return false;
        if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p == ':' || isspace((unsigned char) *p) || (unsigned char) *p < 0x20 ||
                    (unsigned char) *p == 0x7f)
                        return false;
        return true;
}
