/* libisofs is not linked: the cloud-init seed builder loads it with dlopen the
 * first time a domain's seed is built, so that a run without cloud-init never
 * maps it. The macros let cloudinit.c keep the library's names. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* The image is read from libisofs's struct burn_source, declared there for
 * programs that do not use libburn. */
#define LIBISOFS_WITHOUT_LIBBURN
#include <sys/types.h>
#include <libisofs/libisofs.h>

#define ISOFS_DL_SYMBOLS(X)                  \
        X(iso_image_create_burn_source)      \
        X(iso_image_get_root)                \
        X(iso_image_new)                     \
        X(iso_image_unref)                   \
        X(iso_init_with_flag)                \
        X(iso_memory_stream_new)             \
        X(iso_stream_unref)                  \
        X(iso_tree_add_new_file)             \
        X(iso_write_opts_free)               \
        X(iso_write_opts_new)                \
        X(iso_write_opts_set_joliet)         \
        X(iso_write_opts_set_relaxed_vol_atts) \
        X(iso_write_opts_set_rockridge)

#define ISOFS_DL_DECLARE(sym) extern __typeof__(sym) *dl_##sym;
ISOFS_DL_SYMBOLS(ISOFS_DL_DECLARE)
#undef ISOFS_DL_DECLARE

/* Load it and initialize it once: 0, or -EOPNOTSUPP with why
 * ("libisofs is not installed (...)"). */
int isofs_dl_load(const char **why);
/* Whether it is loaded, without trying (tests check a run did not). */
int isofs_dl_loaded(void);

#ifndef ISOFS_DL_NO_MACROS
#define iso_image_create_burn_source (*dl_iso_image_create_burn_source)
#define iso_image_get_root (*dl_iso_image_get_root)
#define iso_image_new (*dl_iso_image_new)
#define iso_image_unref (*dl_iso_image_unref)
#define iso_init_with_flag (*dl_iso_init_with_flag)
#define iso_memory_stream_new (*dl_iso_memory_stream_new)
#define iso_stream_unref (*dl_iso_stream_unref)
#define iso_tree_add_new_file (*dl_iso_tree_add_new_file)
#define iso_write_opts_free (*dl_iso_write_opts_free)
#define iso_write_opts_new (*dl_iso_write_opts_new)
#define iso_write_opts_set_joliet (*dl_iso_write_opts_set_joliet)
#define iso_write_opts_set_relaxed_vol_atts (*dl_iso_write_opts_set_relaxed_vol_atts)
#define iso_write_opts_set_rockridge (*dl_iso_write_opts_set_rockridge)
#endif
