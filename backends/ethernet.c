/* Ethernets: NICs that exist already (or that a veth makes with itself),
 * configured, never created or deleted. */
#include "kind.h"

/* The keys of every link; its state is present only (KF_NOT_ABSENT says why). */
static const struct field ethernet_fields[] = {
        LINK_COMMON_FIELDS,
};

static void ethernet_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        link_show_begin(w, r);
        /* Its MAC is the hardware's: nothing a manifest sets. */
        link_show_end(w, r, false);
}

/* A veth's peer declared as a NIC is made with its veth; an OVS internal port by its port. */
static void ethernet_deps(const struct resource *r, void (*add)(void *u, enum kind k, const char *name), void *u) {
        if (r->link.made_by[0])
                add(u, KIND_VETH, r->link.made_by);
        ovs_internal_deps(r, add, u);
}

static struct resource *ethernet_made_with(const struct resource *w, const struct model *wanted) {
        struct resource *made = veth_peer_made_with(w, wanted);
        return made ? made : ovs_internal_made_with(w, wanted);
}

static const struct link_kind ethernet_link = { .info_kind = NULL, .deps = ethernet_deps };

const struct kind_ops ethernet_kind = {
        .word = "ethernet",
        .section = "ethernets",
        LINK_KIND_COMMON,
        .impl = &ethernet_link,
        .made_with = ethernet_made_with, /* a veth's peer or an OVS internal port declared as a NIC */
        .defaults = link_defaults,
        .show_as = link_show_as,
        .flags = KF_REVERTIBLE | KF_NEVER_PRUNED | KF_NEVER_ADOPTED | KF_NOT_ABSENT | KF_EXISTING,
        .never_created = "NICs are configured, never created",
        .never_absent = "existing NICs are never deleted",
        .show_rank = 0,
        .fields = ethernet_fields,
        .n_fields = ELEMENTSOF(ethernet_fields),
        .show = ethernet_show,
};
