/* ipsets through the kernel's ip_set netlink protocol (ipset-nl.c). Entry
 * changes go in batches, many per message; sets are read with one dump. A new
 * set, a replaced one and a change of hashsize, maxelem, timeout or comment
 * support are built whole in a temporary set and then renamed or swapped in:
 * no packet ever meets an empty set, and a refused entry leaves no
 * half-filled one. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipset-nl.h"
#include "kind.h"

/* The kernel's own default, too small for a large set: twice the entries wins. */
#define DEFAULT_MAXELEM 65536u

struct ipset_state {
        struct ipset_nl *nl;
};

/* ---- the entries' storage ---- */

/* Free v's entries whichever way they are held; v has none afterwards. */
static void ipset_entries_done(struct ipset_spec *v) {
        if (v->entries_borrowed) {
                v->entries = (struct str_list) { 0 };
                v->entry_block = NULL;
                v->entry_keys = NULL;
                v->n_entry_keys = 0;
                v->entries_borrowed = false;
                return;
        }
        if (v->entry_block) {
                free(v->entries.v);
                v->entries = (struct str_list) { 0 };
                free(v->entry_block);
                v->entry_block = NULL;
        } else
                str_list_done(&v->entries);
        free(v->entry_keys);
        v->entry_keys = NULL;
        v->n_entry_keys = 0;
}

/* ---- open ---- */

static int ipset_open_(const struct backend_ctx *ctx, void **state) {
        struct ipset_state *s = xcalloc(1, sizeof(*s));
        int r = ipset_nl_open(ctx->netns, &s->nl);
        if (r < 0) {
                free(s);
                return diag_plain(r, "ipset backend: cannot talk to the kernel: %s",
                                  r == -EPROTONOSUPPORT ? "no ip_set support" : strerror(-r));
        }
        *state = s;
        return 0;
}

static void ipset_close_(void *state) {
        struct ipset_state *s = state;
        if (!s)
                return;
        ipset_nl_close(s->nl);
        free(s);
}

/* ---- observe ---- */

/* Every set, its parameters, references and entries: one dump. */
static int ipset_observe_(void *state, const struct str_list *names, struct model *live) {
        struct ipset_state *s = state;
        (void) names;
        int r = ipset_nl_list(s->nl, NULL, false, live);
        if (r < 0)
                return diag_plain(r, "ipset backend: cannot list sets: %s", ipset_nl_error(s->nl));
        return 0;
}

/* Verification: only the sets the apply touched, one dump each. */
static int ipset_observe_some(void *state, const struct resource *const *objs, size_t n, struct model *live) {
        struct ipset_state *s = state;
        for (size_t i = 0; i < n; i++) {
                if (model_find(live, KIND_IPSET, objs[i]->name))
                        continue; /* listed twice in the plan */
                int r = ipset_nl_list(s->nl, objs[i]->name, false, live);
                if (r == -ENOENT)
                        continue; /* deleted, as the plan said */
                if (r < 0)
                        return diag_plain(r, "ipset backend: cannot list set %s: %s", objs[i]->name, ipset_nl_error(s->nl));
        }
        return 0;
}

struct digests {
        const struct model *want;
        uint64_t sum;
};

/* Summed, so that the order of the dump does not matter; a declared set
 * that is gone adds nothing, which changes the sum too. */
static void on_digest(void *u, const char *name, uint64_t digest) {
        struct digests *d = u;
        if (model_find(d->want, KIND_IPSET, name))
                d->sum += hash_fnv1a(hash_fnv1a_str(HASH_FNV1A_SEED, name), &digest, sizeof(digest));
}

/* to's entries are from's, borrowed, read only: from is the manifests'
 * resource, which outlives the run (100,000 entries copied twice a run were
 * 25M instructions of a daemon's edit). */
static void entries_borrow(struct ipset_spec *to, const struct ipset_spec *from) {
        ipset_entries_done(to);
        to->entries = from->entries;
        to->entry_block = from->entry_block;
        to->entry_keys = from->entry_keys;
        to->n_entry_keys = from->n_entry_keys;
        to->entries_borrowed = true;
}

/* A scoped run: the set's header (type, parameters, references, number of
 * entries) in one read, its entries taken from presumed, the set as the last
 * run made it. A number of entries that disagrees reads the set whole. */
static int ipset_observe_presumed(void *state, const struct resource *presumed, struct model *live) {
        struct ipset_state *s = state;
        struct model got = { 0 };
        uint32_t n_entries;
        int r = ipset_nl_header(s->nl, presumed->name, &got, &n_entries);
        if (r == -ENOENT) {
                model_done(&got);
                return 0;
        }
        if (r < 0) {
                model_done(&got);
                return diag_plain(r, "ipset backend: cannot list set %s: %s", presumed->name, ipset_nl_error(s->nl));
        }
        struct resource *set = got.n == 1 ? got.v[0] : NULL;
        if (!set || n_entries != presumed->ipset.entries.n) {
                model_done(&got);
                return ipset_observe_some(state, &presumed, 1, live);
        }
        entries_borrow(&set->ipset, &presumed->ipset);
        got.n = 0; /* set goes to live */
        model_done(&got);
        if (model_add(live, set) < 0)
                resource_free(set);
        return 0;
}

/* The daemon's poll: the kernel sends no notification for ipsets, so the
 * headers of all sets (type, parameters, number of entries, size) are read in
 * one dump and those of the declared sets hashed; a flush, a destroy, an add
 * or a delete changes it. */
static int ipset_poll_digest_(void *state, const struct model *want, uint64_t *digest) {
        struct ipset_state *s = state;
        struct digests d = { want, 0 };
        if (want && ipset_nl_header_digests(s->nl, on_digest, &d) < 0)
                d.sum = 1; /* the read failed: a change until it works again */
        *digest = d.sum;
        return 0;
}

/* ---- diff ---- */

static uint32_t want_maxelem(const struct resource *w) {
        if (w->set & SET_F_MAXELEM)
                return w->ipset.maxelem;
        uint32_t twice = (uint32_t) (w->ipset.entries.n * 2);
        return twice > DEFAULT_MAXELEM ? twice : DEFAULT_MAXELEM;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* An IPv4 address (a network with net: its prefix 1-31 after a '/', host
 * bits clear) in exactly the kernel's spelling: the common entry, checked
 * and compared without the general path's formatting and sorting (a
 * 100,000-entry set is checked and diffed on every run). false says only
 * "not this fast way". prefix is 32 for an address. */
static bool canonical_ipv4(const char *s, bool net, uint32_t *host, unsigned *prefix) {
        uint32_t a = 0;
        unsigned p = 32;
        for (int i = 0; i < 4; i++) {
                unsigned v = (unsigned) (unsigned char) *s++ - '0', d;
                if (v > 9)
                        return false;
                if ((d = (unsigned) (unsigned char) *s - '0') <= 9) {
                        if (!v)
                                return false; /* a leading zero */
                        v = v * 10 + d;
                        if ((d = (unsigned) (unsigned char) *++s - '0') <= 9) {
                                v = v * 10 + d;
                                if (v > 255 || (unsigned) (unsigned char) *++s - '0' <= 9)
                                        return false;
                        }
                }
                a = a << 8 | v;
                if (i < 3 && *s++ != '.')
                        return false;
        }
        if (net && *s == '/') {
                unsigned digits = 0;
                for (p = 0, s++; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
                        p = p * 10 + (unsigned) (*s - '0');
                if (!digits || (digits > 1 && s[-(int) digits] == '0') || p < 1 || p > 31 || (a & (~0u >> p)))
                        return false;
        }
        *host = a;
        *prefix = p;
        return !*s;
}

/* An IPv4 entry as a number: its address and prefix length (32 for an address). */
static uint64_t ipv4_key(uint32_t host, unsigned prefix) {
        return (uint64_t) host << 8 | prefix;
}

/* The entries of a one-part IPv4 set (hash:ip, hash:net, bitmap:ip) as
 * numbers: those the check or the dump kept beside the text, else parsed into
 * *parsed (the caller's to free). NULL when one is not in the kernel's spelling. */
static const uint64_t *ipv4_keys(const struct ipset_spec *v, bool net, uint64_t **parsed) {
        *parsed = NULL;
        if (v->entry_keys && v->n_entry_keys == v->entries.n)
                return v->entry_keys;
        uint64_t *k = xcalloc(v->entries.n + 1, sizeof(uint64_t));
        for (size_t i = 0; i < v->entries.n; i++) {
                uint32_t host;
                unsigned prefix;
                if (!canonical_ipv4(v->entries.v[i], net, &host, &prefix)) {
                        free(k);
                        return NULL;
                }
                k[i] = ipv4_key(host, prefix);
        }
        return *parsed = k;
}

/* A list's entries with their numbers (NULL: the diff compares text). */
struct keyed {
        char **v;
        const uint64_t *k;
        size_t n;
};

static size_t key_slot(uint64_t key, unsigned bits) {
        return (size_t) ((key * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

/* A slot holds an entry's number (40 bits: address and prefix) above its index
 * in of plus 1 (24 bits): a probe reads one word, not the slot and then the list. */
#define SLOT_INDEX_BITS 24
#define SLOT_INDEX_MASK ((1ull << SLOT_INDEX_BITS) - 1)

/* The differing entries of two IPv4 sets through an open-addressing table of
 * of's numbers (neither list holds duplicates): a probe per entry, where
 * sorting both lists took a pass per byte of each. false when of is too long
 * for a slot's index. */
static bool differing_ipv4(struct keyed of, struct keyed in, char ***only_of, size_t *n_of, char ***only_in,
                           size_t *n_in) {
        if (of.n >= SLOT_INDEX_MASK)
                return false;
        unsigned bits = 4;
        while (((size_t) 1 << bits) < of.n + of.n / 4)
                bits++;
        size_t mask = ((size_t) 1 << bits) - 1;
        uint64_t *slot = xcalloc(mask + 1, sizeof(uint64_t)); /* 0: empty */
        bool *matched = xcalloc(of.n + 1, sizeof(bool));
        for (size_t i = 0; i < of.n; i++) {
                size_t h = key_slot(of.k[i], bits);
                while (slot[h])
                        h = (h + 1) & mask;
                slot[h] = of.k[i] << SLOT_INDEX_BITS | (i + 1);
        }
        for (size_t j = 0; j < in.n; j++) {
                size_t h = key_slot(in.k[j], bits);
                uint64_t at;
                while ((at = slot[h]) && at >> SLOT_INDEX_BITS != in.k[j])
                        h = (h + 1) & mask;
                if (at)
                        matched[(at & SLOT_INDEX_MASK) - 1] = true;
                else
                        *(char **) array_push(only_in, n_in, sizeof(char *)) = in.v[j];
        }
        for (size_t i = 0; i < of.n; i++)
                if (!matched[i])
                        *(char **) array_push(only_of, n_of, sizeof(char *)) = of.v[i];
        free(slot);
        free(matched);
        return true;
}

static uint64_t entry_hash(size_t pos, const void *u) {
        return hash_fnv1a_str(HASH_FNV1A_SEED, ((const struct str_list *) u)->v[pos]);
}

struct entry_key {
        const struct str_list *in;
        const char *entry;
};

static bool entry_eq(size_t pos, const void *u) {
        const struct entry_key *k = u;
        return strcmp(k->in->v[pos], k->entry) == 0;
}

/* The same through a hash index of `in`, for entries of any type. */
static void differing_hashed(const struct str_list *of, const struct str_list *in, char ***only_of, size_t *n_of,
                             char ***only_in, size_t *n_in) {
        struct hindex index = { 0 };
        hindex_rebuild(&index, in->n, entry_hash, in);
        bool *matched = xcalloc(in->n + 1, sizeof(bool));
        for (size_t i = 0; i < of->n; i++) {
                struct entry_key k = { in, of->v[i] };
                size_t j = hindex_find(&index, entry_hash(i, of), entry_eq, &k);
                if (j != HINDEX_NONE)
                        matched[j] = true;
                else
                        *(char **) array_push(only_of, n_of, sizeof(char *)) = of->v[i];
        }
        for (size_t j = 0; j < in->n; j++)
                if (!matched[j])
                        *(char **) array_push(only_in, n_in, sizeof(char *)) = in->v[j];
        hindex_done(&index);
        free(matched);
}

/* The entries of `of` that `in` lacks, and those of `in` that `of` lacks,
 * each sorted, so that the diff is a merge of the few that differ. Sorting
 * 100,000 strings on every plan would cost more than reading the set: IPv4
 * entries are compared as numbers (kept beside the text by the check and the
 * dump), others through a hash index. Neither list holds duplicates (the
 * parser refuses them, the kernel has none). */
static void differing(const struct resource *w, const struct ipset_spec *of_set, const struct ipset_spec *in_set,
                      char ***only_of, size_t *n_of, char ***only_in, size_t *n_in) {
        int type = enum_from_string(&ipset_type_table, w->ipset.type);
        bool inet6 = (w->set & SET_F_FAMILY) && w->ipset.family == FAMILY_INET6;
        const struct set_type_info *t = type >= 0 ? &set_types[type] : NULL;
        bool ipv4 = t && !inet6 && (t->dims[0] == DIM_IP || t->dims[0] == DIM_NET) && t->dims[1] == DIM_NONE;
        *only_of = *only_in = NULL;
        *n_of = *n_in = 0;
        uint64_t *parsed_of = NULL, *parsed_in = NULL;
        const uint64_t *ko = ipv4 ? ipv4_keys(of_set, t->dims[0] == DIM_NET, &parsed_of) : NULL;
        const uint64_t *ki = ko ? ipv4_keys(in_set, t->dims[0] == DIM_NET, &parsed_in) : NULL;
        struct keyed of = { of_set->entries.v, ki ? ko : NULL, of_set->entries.n },
                     in = { in_set->entries.v, ki, in_set->entries.n };
        /* The lists as written line up but for an edit (a scoped run compares the
         * manifest with the last one applied, and a verification with the
         * same): the entries between their common head and tail differ alike. */
        size_t head = 0, tail = 0;
        while (head < of.n && head < in.n && (in.k ? of.k[head] == in.k[head] : strcmp(of.v[head], in.v[head]) == 0))
                head++;
        while (tail < of.n - head && tail < in.n - head &&
               (in.k ? of.k[of.n - 1 - tail] == in.k[in.n - 1 - tail]
                     : strcmp(of.v[of.n - 1 - tail], in.v[in.n - 1 - tail]) == 0))
                tail++;
        of.v += head, in.v += head;
        of.n -= head + tail, in.n -= head + tail;
        if (in.k)
                of.k += head, in.k += head;
        if (!in.k || !differing_ipv4(of, in, only_of, n_of, only_in, n_in)) {
                struct str_list mid_of = { of.v, of.n }, mid_in = { in.v, in.n };
                differing_hashed(&mid_of, &mid_in, only_of, n_of, only_in, n_in);
        }
        free(parsed_of);
        free(parsed_in);
        if (*n_of)
                qsort(*only_of, *n_of, sizeof(char *), cmp_str);
        if (*n_in)
                qsort(*only_in, *n_in, sizeof(char *), cmp_str);
}

static int ipset_diff_(void *state, const struct resource *w, const struct resource *l,
                       const struct ledger_entry *owned, struct action *a, struct plan *p) {
        const struct ipset_spec *want = &w->ipset, *have = &l->ipset;
        (void) state;
        (void) owned;
        (void) p;
        int family = w->set & SET_F_FAMILY ? want->family : FAMILY_INET;
        if (strcmp(want->type, have->type) != 0 || family != have->family) {
                if (have->references > 0)
                        return diag_pos(&w->pos,
                                        "ipset %s: type %s %s -> %s %s needs the set re-created, and %u rule(s) or "
                                        "list:set(s) reference it: refused",
                                        w->name, have->type, enum_to_string(&inet_family_table, have->family), want->type,
                                        enum_to_string(&inet_family_table, family), have->references);
                a->op = OP_REPLACE;
                a->reason = xstrdup("cannot change in place (the kernel swaps only sets of one type and family)");
                if (strcmp(want->type, have->type) != 0)
                        action_add_change(a, SET_F_TYPE, "type", value_text(have->type), value_text(want->type));
                if (family != have->family)
                        action_add_change(a, SET_F_FAMILY, "family", value_word(&inet_family_table, have->family),
                                          value_word(&inet_family_table, family));
                return 0;
        }
        if ((w->set & SET_F_RANGE) && strcmp(want->range, have->range) != 0)
                action_add_change(a, SET_C_SWAP, "range", value_text(have->range), value_text(want->range));
        uint32_t maxelem = want_maxelem(w);
        bool bitmap = strncmp(want->type, "bitmap:", 7) == 0 || strcmp(want->type, "list:set") == 0;
        bool maxelem_off = !bitmap && ((w->set & SET_F_MAXELEM) ? maxelem != have->maxelem : have->maxelem < maxelem);
        if (maxelem_off)
                action_add_change(a, SET_C_SWAP, "maxelem", value_number(have->maxelem), value_number(maxelem));
        if ((w->set & SET_F_HASHSIZE) && want->hashsize != have->hashsize)
                action_add_change(a, SET_C_SWAP, "hashsize", value_number(have->hashsize), value_number(want->hashsize));
        if ((w->set & SET_F_TIMEOUT) && want->timeout != have->timeout)
                action_add_change(a, SET_C_SWAP, "timeout", have->timeout ? value_number(have->timeout) : VALUE_NONE,
                                  want->timeout ? value_number(want->timeout) : VALUE_NONE);
        if ((w->set & SET_F_COMMENT) && want->comment != have->comment)
                action_add_change(a, SET_C_SWAP, "comment", value_bool(have->comment), value_bool(want->comment));
        if (w->set & SET_F_ENTRIES) {
                char **dv, **hv;
                size_t n_dv, n_hv, i = 0, j = 0;
                differing(w, want, have, &dv, &n_dv, &hv, &n_hv);
                while (i < n_dv || j < n_hv) {
                        int c = i == n_dv ? 1 : j == n_hv ? -1 : strcmp(dv[i], hv[j]);
                        if (c < 0)
                                action_add_change(a, SET_C_ENTRY, "entry", VALUE_NONE, value_text(dv[i++]));
                        else if (c > 0)
                                action_add_change(a, SET_C_ENTRY, "entry", value_text(hv[j++]), VALUE_NONE);
                        else
                                i++, j++;
                }
                free(dv);
                free(hv);
        }
        a->op = OP_UPDATE;
        return 0;
}

/* ---- apply ---- */

static uint32_t create_maxelem(const struct resource *w) {
        if (strncmp(w->ipset.type, "bitmap:", 7) == 0 || strcmp(w->ipset.type, "list:set") == 0)
                return 0;
        return want_maxelem(w);
}

/* The name a set is built under before it takes its own (ipset names are at most 31 bytes). */
static void aside_name(const char *name, char tmp[48]) {
        snprintf(tmp, 48, "%.22s.rct-new", name);
}

/* Build w's whole set under tmp. A refused entry (the set full, an address out
 * of a bitmap's range) would otherwise leave a half-filled set: then tmp is
 * destroyed, and the kernel holds nothing of this apply. */
static int build_aside(struct ipset_state *s, struct ipset_batch *b, const struct resource *w, const char *tmp) {
        /* Left by a run killed between build and rename; the name is reconcile's own. */
        ipset_batch_destroy(b, tmp);
        (void) ipset_batch_send(b);
        int r = ipset_batch_create(b, tmp, w, create_maxelem(w));
        if (r == 0)
                r = ipset_batch_entries(b, true, tmp, w, w->ipset.entries.v, w->ipset.entries.n);
        if (r == 0)
                r = ipset_batch_send(b);
        if (r < 0) {
                char why[512];
                snprintf(why, sizeof(why), "%s", ipset_nl_error(s->nl));
                ipset_batch_destroy(b, tmp);
                (void) ipset_batch_send(b);
                return diag_res(r, "ipset", w->name, "%s (nothing was left behind)", why);
        }
        return 0;
}

/* Put the set built aside in place with the commands in b; on failure it goes. */
static int finish_aside(struct ipset_state *s, struct ipset_batch *b, const struct resource *w, const char *tmp) {
        int r = ipset_batch_send(b);
        if (r == 0)
                return 0;
        char why[512];
        snprintf(why, sizeof(why), "%s", ipset_nl_error(s->nl));
        ipset_batch_destroy(b, tmp);
        (void) ipset_batch_send(b);
        return diag_res(r, "ipset", w->name, "%s", why);
}

static int apply_batch(struct ipset_state *s, const struct action *a, struct ipset_batch *b) {
        const struct resource *w = a->want;
        bool swap = false;
        for (size_t i = 0; i < a->n_changes; i++)
                swap = swap || a->changes[i].field == SET_C_SWAP;
        if (a->op == OP_CREATE || a->op == OP_REPLACE || (a->op != OP_DELETE && swap)) {
                /* A set appears whole or not at all: built aside, then renamed into its
                 * name (create), put in place of the old one (replace: the kernel swaps
                 * only sets of one type), or swapped in (new parameters: no packet ever
                 * meets an empty set). */
                char tmp[48];
                aside_name(w->name, tmp);
                int r = build_aside(s, b, w, tmp);
                if (r < 0)
                        return r;
                if (a->op == OP_CREATE)
                        ipset_batch_rename(b, tmp, w->name);
                else if (a->op == OP_REPLACE) {
                        ipset_batch_destroy(b, a->name);
                        ipset_batch_rename(b, tmp, w->name);
                } else {
                        ipset_batch_swap(b, tmp, w->name);
                        ipset_batch_destroy(b, tmp);
                }
                return finish_aside(s, b, w, tmp);
        }
        if (a->op == OP_DELETE)
                ipset_batch_destroy(b, a->name);
        else {
                /* Deletions first, so a set near maxelem has room for the additions. */
                size_t n_del = 0, n_add = 0;
                for (size_t i = 0; i < a->n_changes; i++)
                        if (a->changes[i].field == SET_C_ENTRY && a->changes[i].now.type == VAL_TEXT)
                                n_add++;
                        else if (a->changes[i].field == SET_C_ENTRY)
                                n_del++;
                _cleanup_free_ char **del = xcalloc(n_del + 1, sizeof(char *));
                _cleanup_free_ char **add = xcalloc(n_add + 1, sizeof(char *));
                n_del = n_add = 0;
                for (size_t i = 0; i < a->n_changes; i++)
                        if (a->changes[i].field == SET_C_ENTRY && a->changes[i].now.type == VAL_TEXT)
                                add[n_add++] = a->changes[i].now.text;
                        else if (a->changes[i].field == SET_C_ENTRY)
                                del[n_del++] = a->changes[i].was.text;
                int r = ipset_batch_entries(b, false, w->name, w, del, n_del);
                if (r == 0)
                        r = ipset_batch_entries(b, true, w->name, w, add, n_add);
                if (r == 0)
                        r = ipset_batch_send(b);
                return r < 0 ? diag_res(r, "ipset", a->name, "%s", ipset_nl_error(s->nl)) : 0;
        }
        int r = ipset_batch_send(b);
        return r < 0 ? diag_res(r, "ipset", a->name, "%s", ipset_nl_error(s->nl)) : 0;
}

static int ipset_apply_(void *state, const struct action *a, struct ledger *l, struct ledger_entry *e) {
        struct ipset_state *s = state;
        (void) l;
        (void) e;
        struct ipset_batch *b = ipset_batch_new(s->nl);
        int r = apply_batch(s, a, b);
        ipset_batch_free(b);
        return r;
}

/* A list:set holds other sets: they are made first, and go after it. */
static void ipset_deps_(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->kind != KIND_IPSET || strcmp(r->ipset.type, "list:set") != 0)
                return;
        for (size_t i = 0; i < r->ipset.entries.n; i++)
                add(u, KIND_IPSET, r->ipset.entries.v[i]);
}

const struct backend ipset_backend = {
        .name = "ipset",
        .scope = SCOPE_NETNS,
        .open = ipset_open_,
        .close = ipset_close_,
        .observe = ipset_observe_,
        .observe_some = ipset_observe_some,
        .observe_presumed = ipset_observe_presumed,
        .poll_digest = ipset_poll_digest_,
};

/* ---- ipsets: every entry is checked against its set's type and family ----
 *
 * The kernel stores entries in its own spelling, which `ipset save` prints,
 * the dump reads back (ipset-nl.c) and the diff compares as text; names are
 * never resolved. So an entry must be literal and written as save
 * prints it: addresses as inet_ntop writes them, networks with the host bits
 * clear and without /32 or /128, ports as tcp:80 (udp, sctp and udplite too;
 * bare numbers in bitmap:port), MACs in upper case, marks as 0x%08x. Anything
 * else is refused with the spelling to write. Port names, port and address
 * ranges, and icmp types are refused: the ipset tool expands or renames them. */

struct set_check {
        int family; /* AF_INET or AF_INET6 */
        const struct set_type_info *t;
        bool has_range;
        uint32_t lo, hi; /* bitmap range: host-order IPv4 addresses or ports */
        /* A one-part IPv4 set's entries as numbers, for the diff; NULL once one
         * took another way than the fast one. */
        uint64_t *keys;
};

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* One part of an entry into its canonical spelling in out, or an error text in why. */
static bool set_part(const struct set_check *k, enum set_dim dim, const char *p, char *out, size_t size,
                     const char **why) {
        struct ipaddr a;
        switch (dim) {
        case DIM_IP:
        case DIM_NET: {
                bool net = dim == DIM_NET;
                if (strchr(p, '-')) {
                        *why = "a single address (a range would become many entries)";
                        return false;
                }
                if (!net && ipaddr_parse(p, true, &a) == 0) {
                        *why = "a single address (networks need a set type with net)";
                        return false;
                }
                if (ipaddr_parse(p, net, &a) < 0 && (!net || ipaddr_parse(p, false, &a) < 0)) {
                        *why = net ? "an address or network (names are never resolved)"
                                   : "a single address (names are never resolved)";
                        return false;
                }
                if (a.family != k->family) {
                        *why = k->family == AF_INET ? "an IPv4 address (family inet)" : "an IPv6 address (family inet6)";
                        return false;
                }
                unsigned max = a.family == AF_INET ? 32 : 128;
                if (net && a.prefix == 0) {
                        *why = "a prefix length of at least 1";
                        return false;
                }
                for (unsigned i = a.prefix; i < max; i++)
                        a.a[i / 8] &= (unsigned char) ~(0x80 >> (i % 8));
                ipaddr_format(&a, a.prefix != max, out, size);
                if (k->has_range && (ipaddr_v4_host(&a) < k->lo || ipaddr_v4_host(&a) > k->hi)) {
                        *why = "an address inside the set's range";
                        return false;
                }
                return true;
        }
        case DIM_PORT: {
                static const char *const protos[] = { "tcp", "udp", "sctp", "udplite" };
                const char *colon = strchr(p, ':'), *num = colon ? colon + 1 : p;
                size_t plen = colon ? (size_t) (colon - p) : 0;
                bool proto_ok = !colon;
                for (size_t i = 0; colon && i < ELEMENTSOF(protos); i++)
                        proto_ok = proto_ok || (strlen(protos[i]) == plen && strncmp(p, protos[i], plen) == 0);
                unsigned long v = all_digits(num) && strlen(num) <= 5 ? strtoul(num, NULL, 10) : 70000;
                if (!proto_ok || v > 65535) {
                        *why = k->t->bitmap ? "a port number 0-65535" : "tcp:PORT, udp:PORT, sctp:PORT or udplite:PORT";
                        return false;
                }
                if (k->has_range && (v < k->lo || v > k->hi)) {
                        *why = "a port inside the set's range";
                        return false;
                }
                if (k->t->bitmap)
                        snprintf(out, size, "%lu", v);
                else
                        snprintf(out, size, "%.*s:%lu", colon ? (int) plen : 3, colon ? p : "tcp", v);
                return true;
        }
        case DIM_MAC: {
                unsigned char m[6];
                unsigned v[6];
                char tail;
                bool ok = strlen(p) == 17 &&
                          sscanf(p, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) == 6;
                for (int i = 0; ok && i < 6; i++) {
                        ok = isxdigit((unsigned char) p[i * 3]) && isxdigit((unsigned char) p[i * 3 + 1]);
                        m[i] = (unsigned char) v[i];
                }
                if (!ok) {
                        *why = "a MAC address XX:XX:XX:XX:XX:XX";
                        return false;
                }
                snprintf(out, size, "%02X:%02X:%02X:%02X:%02X:%02X", m[0], m[1], m[2], m[3], m[4], m[5]);
                return true;
        }
        case DIM_MARK: {
                char *end;
                errno = 0;
                unsigned long long v = *p >= '0' && *p <= '9' ? strtoull(p, &end, 0) : 0;
                if (!(*p >= '0' && *p <= '9') || *end || errno || v > UINT32_MAX) {
                        *why = "a mark 0x00000000-0xffffffff";
                        return false;
                }
                snprintf(out, size, "0x%08llx", v);
                return true;
        }
        case DIM_IFACE: {
                const char *name = strncmp(p, "physdev:", 8) == 0 ? p + 8 : p;
                if (!ifname_valid(name)) {
                        *why = "an interface name, or physdev:NAME";
                        return false;
                }
                snprintf(out, size, "%s", p);
                return true;
        }
        case DIM_SETNAME:
                if (!*p || strlen(p) > 31 || !xml_safe(p) || strchr(p, ' ')) {
                        *why = "the name of a set (1-31 bytes)";
                        return false;
                }
                snprintf(out, size, "%s", p);
                return true;
        case DIM_NONE:
                break;
        }
        *why = "nothing more";
        return false;
}

static int check_set_entry(struct check_ctx *c, size_t n, const struct resource *r, struct set_check *k) {
        const char *s = check_item_text(c, SET_F_ENTRIES, n);
        /* Not the common IPv4 form (ipset_check took those): no numbers for the diff. */
        free(k->keys);
        k->keys = NULL;
        char canon[256] = "", part[128], one[80];
        size_t dims = 0;
        while (dims < ELEMENTSOF(k->t->dims) && k->t->dims[dims] != DIM_NONE)
                dims++;
        size_t n_parts = 1;
        for (const char *q = s; *q; q++)
                n_parts += *q == ',';
        const char *type = r->ipset.type;
        if (strpbrk(s, " \t"))
                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\": an entry is one word, without options such as timeout",
                            r->name, printable(s));
        if (n_parts > dims || (n_parts < dims && !(k->t->optional_last && n_parts == dims - 1)))
                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\": a %s entry has %zu part%s separated by commas", r->name,
                            printable(s), type, dims, dims == 1 ? "" : "s");
        const char *q = s;
        for (size_t i = 0; i < n_parts; i++) {
                size_t len = strcspn(q, ",");
                const char *why = NULL;
                snprintf(part, sizeof(part), "%.*s", (int) (len < sizeof(part) - 1 ? len : sizeof(part) - 1), q);
                if (len >= sizeof(part) || !set_part(k, k->t->dims[i], part, one, sizeof(one), &why)) {
                        if (n_parts == 1)
                                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\" is not %s", r->name, printable(s),
                                            why ? why : "valid");
                        char whole[80]; /* printable() has one buffer */
                        snprintf(whole, sizeof(whole), "%s", printable(s));
                        return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\": \"%.64s\" is not %s", r->name, whole,
                                    printable(part), why ? why : "valid");
                }
                snprintf(canon + strlen(canon), sizeof(canon) - strlen(canon), "%s%s", i ? "," : "", one);
                q += len + (q[len] == ',');
        }
        if (strcmp(canon, s) != 0)
                return check_item_error(c, SET_F_ENTRIES, n, "ipset %s: entry \"%.64s\" is not in the kernel's form: write %s", r->name,
                            printable(s), canon);
        return 0;
}

/* bitmap:ip takes FROM-TO (save's form; a network is refused with it) of at
 * most 65536 addresses; bitmap:port takes FROM-TO ports. */
static int check_set_range(struct check_ctx *c, const struct resource *r, struct set_check *k) {
        const char *s = r->ipset.range, *dash = strchr(s, '-');
        if (k->t->dims[0] == DIM_PORT) {
                char lo[8] = "", hi[8] = "";
                if (dash && dash - s < 6 && strlen(dash + 1) < 6) {
                        snprintf(lo, sizeof(lo), "%.*s", (int) (dash - s), s);
                        snprintf(hi, sizeof(hi), "%s", dash + 1);
                }
                unsigned long a = all_digits(lo) ? strtoul(lo, NULL, 10) : 70000, b = all_digits(hi) ? strtoul(hi, NULL, 10) : 0;
                if (a > b || b > 65535)
                        return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\": expected FROM-TO, ports 0-65535", r->name,
                                    printable(s));
                k->lo = (uint32_t) a;
                k->hi = (uint32_t) b;
                k->has_range = true;
                return 0;
        }
        struct ipaddr a, b;
        char want[40], fa[INET6_ADDRSTRLEN], fb[INET6_ADDRSTRLEN];
        if (!dash && ipaddr_parse(s, true, &a) == 0 && a.family == AF_INET && a.prefix >= 16) {
                uint32_t lo = ipaddr_v4_host(&a) & (a.prefix ? ~0u << (32 - a.prefix) : 0);
                uint32_t hi = lo | (a.prefix == 32 ? 0 : ~0u >> a.prefix);
                struct in_addr x = { htonl(lo) }, y = { htonl(hi) };
                inet_ntop(AF_INET, &x, fa, sizeof(fa));
                inet_ntop(AF_INET, &y, fb, sizeof(fb));
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\" is not in the kernel's form: write %s-%s", r->name, s, fa, fb);
        }
        char left[40] = "";
        if (dash && dash - s < 40)
                snprintf(left, sizeof(left), "%.*s", (int) (dash - s), s);
        if (!dash || ipaddr_parse(left, false, &a) < 0 || ipaddr_parse(dash + 1, false, &b) < 0 ||
            a.family != AF_INET || b.family != AF_INET || ipaddr_v4_host(&a) > ipaddr_v4_host(&b))
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\": expected FROM-TO, IPv4 addresses", r->name, printable(s));
        if (ipaddr_v4_host(&b) - ipaddr_v4_host(&a) > 65535)
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\" holds more than 65536 addresses, the most a bitmap takes",
                            r->name, s);
        snprintf(want, sizeof(want), "%s-%s", ipaddr_format(&a, false, fa, sizeof(fa)),
                 ipaddr_format(&b, false, fb, sizeof(fb)));
        if (strcmp(want, s) != 0)
                return check_error(c, SET_F_RANGE, "ipset %s: range \"%.64s\" is not in the kernel's form: write %s", r->name, s, want);
        k->lo = ipaddr_v4_host(&a);
        k->hi = ipaddr_v4_host(&b);
        k->has_range = true;
        return 0;
}

/* Duplicates among a manifest's entries, all of them numbers: one table of
 * 32-bit places (index + 1), a probe each, each reported at its second place
 * as the parser would (its string index was 20M instructions of 100,000). */
static int unique_keys(struct check_ctx *c, const struct resource *r, const uint64_t *keys, size_t n) {
        if (n > UINT32_MAX - 1)
                return 0; /* the parser's own index looks, after the check */
        unsigned bits = 2;
        while (((size_t) 1 << bits) < n * 2)
                bits++;
        size_t mask = ((size_t) 1 << bits) - 1;
        uint32_t *slots = xcalloc(mask + 1, sizeof(*slots));
        int ret = 0;
        for (size_t i = 0; i < n; i++) {
                size_t s = (size_t) ((keys[i] * 0x9e3779b97f4a7c15ull) >> (64 - bits));
                while (slots[s] && keys[slots[s] - 1] != keys[i])
                        s = (s + 1) & mask;
                if (slots[s])
                        ret = check_item_error(c, SET_F_ENTRIES, i, "entries: %s listed twice", r->ipset.entries.v[i]);
                else
                        slots[s] = (uint32_t) (i + 1);
        }
        free(slots);
        check_items_unique(c, SET_F_ENTRIES);
        return ret;
}

static int ipset_check(struct check_ctx *c, struct resource *r) {
        if (!(r->set & SET_F_TYPE))
                return check_error(c, 0, "ipset %s needs a type", r->name);
        int type = enum_from_string(&ipset_type_table, r->ipset.type);
        struct set_check k = { .t = &set_types[type] };
        const char *t = r->ipset.type;
        if (strlen(r->name) > 31)
                return check_error(c, 0, "ipset %s: a set name is at most 31 bytes", r->name);
        if ((r->set & SET_F_FAMILY) && !k.t->has_family)
                return check_error(c, SET_F_FAMILY, "ipset %s: type %s has no family", r->name, t);
        if ((r->set & SET_F_FAMILY) && k.t->inet_only && r->ipset.family != FAMILY_INET)
                return check_error(c, SET_F_FAMILY, "ipset %s: type %s is IPv4 only", r->name, t);
        k.family = (r->set & SET_F_FAMILY) && r->ipset.family == FAMILY_INET6 ? AF_INET6 : AF_INET;
        bool hash = !k.t->bitmap && type != SETT_LIST_SET;
        if ((r->set & SET_F_HASHSIZE) && !hash)
                return check_error(c, SET_F_HASHSIZE, "ipset %s: hashsize belongs to hash types, not %s", r->name, t);
        uint32_t hs = r->ipset.hashsize;
        if ((r->set & SET_F_HASHSIZE) && (hs & (hs - 1))) {
                uint64_t up = 64;
                while (up < hs)
                        up <<= 1;
                if (up > (1u << 31))
                        return check_error(c, SET_F_HASHSIZE, "ipset %s: hashsize %u out of range 64..2147483648", r->name, hs);
                return check_error(c, SET_F_HASHSIZE, "ipset %s: the kernel rounds hashsize up to a power of two: write %llu",
                            r->name, (unsigned long long) up);
        }
        if ((r->set & SET_F_MAXELEM) && !hash)
                return check_error(c, SET_F_MAXELEM, "ipset %s: maxelem belongs to hash types, not %s", r->name, t);
        if ((r->set & SET_F_RANGE) && !k.t->bitmap)
                return check_error(c, SET_F_RANGE, "ipset %s: range belongs to bitmap types, not %s", r->name, t);
        if (k.t->bitmap && !(r->set & SET_F_RANGE))
                return check_error(c, 0, "ipset %s: type %s needs a range", r->name, t);
        int ret = 0;
        if (r->set & SET_F_RANGE)
                ret = check_set_range(c, r, &k);
        if (ret < 0 || !(r->set & SET_F_ENTRIES))
                return ret;
        size_t n = check_items(c, SET_F_ENTRIES);
        /* The items are the entries as the list holds them, one for one: the
         * common one, an IPv4 address or network in the kernel's spelling, is
         * checked here and kept as a number; any other takes the general way. */
        bool net = k.t->dims[0] == DIM_NET;
        bool ipv4 = k.family == AF_INET && (k.t->dims[0] == DIM_IP || net) && k.t->dims[1] == DIM_NONE &&
                    n == r->ipset.entries.n;
        if (ipv4)
                k.keys = xcalloc(n + 1, sizeof(uint64_t));
        for (size_t i = 0; i < n; i++) {
                uint32_t host;
                unsigned prefix;
                if (ipv4 && canonical_ipv4(r->ipset.entries.v[i], net, &host, &prefix) &&
                    (!k.has_range || (host >= k.lo && host <= k.hi))) {
                        if (k.keys)
                                k.keys[i] = ipv4_key(host, prefix);
                        continue;
                }
                int x = check_set_entry(c, i, r, &k);
                if (x < 0)
                        ret = x;
        }
        if (ret >= 0 && k.keys && unique_keys(c, r, k.keys, n) < 0)
                ret = -EINVAL;
        free(r->ipset.entry_keys);
        r->ipset.entry_keys = ret < 0 ? NULL : k.keys;
        r->ipset.n_entry_keys = ret < 0 || !k.keys ? 0 : n;
        if (ret < 0)
                free(k.keys);
        return ret;
}

/* Room every byte of which is written at once (a large calloc clears 2.8 MB first). */
static void *room(size_t n) {
        void *p = malloc(n ? n : 1);
        if (!p)
                abort(); /* as xcalloc */
        return p;
}

/* A kept set with a few entries replaced (the daemon's cached load, an edit
 * inside its list): only a set whose entries are all IPv4 numbers, each new
 * one in the kernel's spelling and not another's: what ipset_check would
 * accept. The block is copied in order with the new texts in place, so it
 * is laid out as a parse of the whole list would lay it out. */
static int ipset_patch_list(const struct resource *kept, uint64_t bit, const size_t *index, const char *const *text,
                            size_t n, struct resource **out) {
        const struct ipset_spec *v = &kept->ipset;
        size_t count = v->entries.n;
        int type = enum_from_string(&ipset_type_table, v->type);
        if (bit != SET_F_ENTRIES || !n || type < 0 || !count || !v->entry_block || !v->entry_keys ||
            v->n_entry_keys != count || v->entries_borrowed || v->entries.v[0] != v->entry_block ||
            (kept->set & SET_F_RANGE) || ((kept->set & SET_F_FAMILY) && v->family == FAMILY_INET6))
                return -EAGAIN;
        const struct set_type_info *t = &set_types[type];
        bool net = t->dims[0] == DIM_NET;
        if (t->bitmap || (t->dims[0] != DIM_IP && !net) || t->dims[1] != DIM_NONE)
                return -EAGAIN;
        uint64_t *keys = xcalloc(n, sizeof(*keys));
        size_t grow = 0, shrink = 0;
        for (size_t i = 0; i < n; i++) {
                uint32_t host;
                unsigned prefix;
                const char *old = v->entries.v[index[i]];
                size_t old_len = strlen(old);
                /* In order, one after another: the block as the parser wrote it. */
                bool in_order = index[i] < count && (i == 0 || index[i] > index[i - 1]) &&
                                (index[i] + 1 == count || v->entries.v[index[i] + 1] == old + old_len + 1);
                if (!in_order || !canonical_ipv4(text[i], net, &host, &prefix)) {
                        free(keys);
                        return -EAGAIN;
                }
                keys[i] = ipv4_key(host, prefix);
                grow += strlen(text[i]);
                shrink += old_len;
        }
        /* Not another entry's, old or new: linear, n is a few. */
        for (size_t i = 0, c = 0; i < count; i++) {
                bool changed = c < n && index[c] == i;
                uint64_t key = changed ? keys[c] : v->entry_keys[i];
                for (size_t k = 0; k < n; k++)
                        if (key == keys[k] && index[k] != i) {
                                free(keys);
                                return -EAGAIN;
                        }
                c += changed;
        }
        const char *last = v->entries.v[count - 1];
        size_t used = (size_t) (last - v->entry_block) + strlen(last) + 1;
        struct resource *r = xcalloc(1, sizeof(*r));
        *r = *kept;
        r->name = xstrdup(kept->name);
        r->refs = NULL;
        r->keys = NULL;
        if (kept->n_refs) {
                r->refs = xcalloc(kept->n_refs, sizeof(*r->refs));
                for (size_t i = 0; i < kept->n_refs; i++)
                        r->refs[i] = (struct name_ref) { xstrdup(kept->refs[i].name), kept->refs[i].pos };
        }
        if (kept->n_keys) {
                r->keys = xcalloc(kept->n_keys, sizeof(*r->keys));
                memcpy(r->keys, kept->keys, kept->n_keys * sizeof(*r->keys));
        }
        struct ipset_spec *w = &r->ipset;
        w->entry_block = room(used + grow - shrink);
        size_t cap = 4; /* array_push's implied capacity */
        while (cap < count)
                cap *= 2;
        w->entries.v = room(cap * sizeof(char *));
        w->entry_keys = room((count + 1) * sizeof(uint64_t));
        w->entry_keys[count] = 0;
        memcpy(w->entry_keys, v->entry_keys, count * sizeof(uint64_t));
        /* Each stretch of unchanged entries moves by what the texts before it gained. */
        size_t from = 0, to = 0, next = 0;
        for (size_t c = 0; c <= n; c++) {
                size_t end = c < n ? index[c] : count;
                size_t stop = end < count ? (size_t) (v->entries.v[end] - v->entry_block) : used;
                memcpy(w->entry_block + to, v->entry_block + from, stop - from);
                for (; next < end; next++)
                        w->entries.v[next] = w->entry_block + to + (size_t) (v->entries.v[next] - v->entry_block) - from;
                to += stop - from;
                if (c == n)
                        break;
                size_t len = strlen(text[c]) + 1;
                w->entries.v[next++] = memcpy(w->entry_block + to, text[c], len);
                w->entry_keys[end] = keys[c];
                to += len;
                from = stop + strlen(v->entries.v[end]) + 1;
        }
        free(keys);
        *out = r;
        return 0;
}

static const struct str_list_block entries_block = { R(ipset.entry_block), true };

static const struct field ipset_fields[] = {
        { "type", FT_ENUM_WORD, R(ipset.type), 0, 32, SET_F_TYPE, &ipset_type_table, NULL, NULL },
        { "family", FT_ENUM, R(ipset.family), 0, 0, SET_F_FAMILY, &inet_family_table, NULL, NULL },
        { "maxelem", FT_U32, R(ipset.maxelem), 1, UINT32_MAX, SET_F_MAXELEM, NULL, NULL, NULL },
        { "hashsize", FT_U32, R(ipset.hashsize), 64, UINT32_MAX, SET_F_HASHSIZE, NULL, NULL, NULL },
        { "timeout", FT_U32, R(ipset.timeout), 0, 2147483, SET_F_TIMEOUT, NULL, NULL, NULL },
        { "comment", FT_BOOL, R(ipset.comment), 0, 0, SET_F_COMMENT, NULL, NULL, NULL },
        { "entries", FT_STR_LIST, R(ipset.entries), 0, 0, SET_F_ENTRIES, &entries_block, NULL, NULL },
        { "range", FT_WORD, R(ipset.range), 0, 64, SET_F_RANGE, NULL, NULL, NULL },
        STATE_FIELD(state_table),
};

/* The ipset tool's save and restore split at blanks and '"': a set so named
 * could not be saved and restored. The length (31 bytes) has its own message,
 * in the check. */
static bool ipset_name_valid(const char *s) {
        if (!*s)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= ' ' || *p == '"' || *p == 0x7f)
                        return false;
        return true;
}

static void ipset_free(struct resource *r) {
        ipset_entries_done(&r->ipset);
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void ipset_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        const struct ipset_spec *v = &r->ipset;
        (void) s;
        yw_entry_begin(w);
        yw_name(w, r->name);
        yw_map(w, false);
        yw_kv_str(w, "type", v->type);
        if (strncmp(v->type, "hash:", 5) == 0) {
                yw_kv_word(w, "family", enum_to_string(&inet_family_table, v->family));
                yw_kv_uint(w, "hashsize", v->hashsize);
        }
        if (v->maxelem)
                yw_kv_uint(w, "maxelem", v->maxelem);
        if (v->range[0])
                yw_kv_str(w, "range", v->range);
        if (v->timeout)
                yw_kv_uint(w, "timeout", v->timeout);
        if (v->comment)
                yw_kv_bool(w, "comment", true);
        yw_word(w, "entries");
        yw_seq(w, false);
        /* Sorted: the kernel lists a hash set in bucket order, which says nothing. */
        const char **sorted = xcalloc(v->entries.n + 1, sizeof(*sorted));
        if (v->entries.n) {
                memcpy(sorted, v->entries.v, v->entries.n * sizeof(*sorted));
                qsort(sorted, v->entries.n, sizeof(*sorted), cmp_entry);
        }
        for (size_t i = 0; i < v->entries.n; i++)
                yw_str(w, sorted[i]);
        free(sorted);
        yw_end_seq(w);
        yw_end_map(w);
        yw_entry_end(w, r);
}

const struct kind_ops ipset_kind = {
        .word = "ipset",
        .section = "ipsets",
        .backend = &ipset_backend,
        .deps = ipset_deps_,
        .diff = ipset_diff_,
        .apply = ipset_apply_,
        .flags = KF_REVERTIBLE,
        .show_rank = 15,
        .fields = ipset_fields,
        .n_fields = ELEMENTSOF(ipset_fields),
        .name_valid = ipset_name_valid,
        .name_error = "bad ipset name \"%.64s\": no white space, '\"' or control characters",
        .check = ipset_check,
        .patch_list = ipset_patch_list,
        .free = ipset_free,
        .show = ipset_show,
};
