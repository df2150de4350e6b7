/* Dummy interfaces: a link of no device that carries addresses, such as the
 * virtual IP of a direct-routing LVS real server (with arp_ignore and
 * arp_announce set through sysctls so that it answers no ARP for it). */
#include "kind.h"

static const struct field dummy_fields[] = {
        LINK_COMMON_FIELDS,
};

static void dummy_show(struct yw *w, const struct resource *r, const struct show_ctx *s) {
        (void) s;
        link_show_begin(w, r);
        link_show_end(w, r, true);
}

static const struct link_kind dummy_link = { .info_kind = "dummy" };

const struct kind_ops dummy_kind = {
        .word = "dummy",
        .section = "dummies",
        LINK_KIND_COMMON,
        .impl = &dummy_link,
        .defaults = link_defaults,
        .show_as = link_show_as,
        .flags = KF_REVERTIBLE,
        .show_rank = 7, /* with the other links a bridge may take as a port */
        .fields = dummy_fields,
        .n_fields = ELEMENTSOF(dummy_fields),
        .show = dummy_show,
};
