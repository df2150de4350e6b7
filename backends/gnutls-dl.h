/* GnuTLS is not linked: the health checker loads it with dlopen at its first
 * https check, so that no other run maps it (and nettle, gmp, p11-kit...
 * with it). The macros let checker.c keep the library's names. */
#pragma once

#include <stddef.h>

#include <gnutls/gnutls.h>

#define GNUTLS_DL_SYMBOLS(X)                      \
        X(gnutls_certificate_allocate_credentials) \
        X(gnutls_certificate_free_credentials)     \
        X(gnutls_credentials_set)                  \
        X(gnutls_deinit)                           \
        X(gnutls_handshake)                        \
        X(gnutls_handshake_set_timeout)            \
        X(gnutls_init)                             \
        X(gnutls_record_check_pending)             \
        X(gnutls_record_get_direction)             \
        X(gnutls_record_recv)                      \
        X(gnutls_record_send)                      \
        X(gnutls_server_name_set)                  \
        X(gnutls_set_default_priority)             \
        X(gnutls_strerror)                         \
        X(gnutls_transport_set_int2)

#define GNUTLS_DL_DECLARE(sym) extern __typeof__(sym) *dl_##sym;
GNUTLS_DL_SYMBOLS(GNUTLS_DL_DECLARE)
#undef GNUTLS_DL_DECLARE

/* Load it once: 0, or -EOPNOTSUPP with why ("GnuTLS is not installed (...)"). */
int gnutls_dl_load(const char **why);

#ifndef GNUTLS_DL_NO_MACROS
#define gnutls_certificate_allocate_credentials (*dl_gnutls_certificate_allocate_credentials)
#define gnutls_certificate_free_credentials (*dl_gnutls_certificate_free_credentials)
#define gnutls_credentials_set (*dl_gnutls_credentials_set)
#define gnutls_deinit (*dl_gnutls_deinit)
#define gnutls_handshake (*dl_gnutls_handshake)
#define gnutls_handshake_set_timeout (*dl_gnutls_handshake_set_timeout)
#define gnutls_init (*dl_gnutls_init)
#define gnutls_record_check_pending (*dl_gnutls_record_check_pending)
#define gnutls_record_get_direction (*dl_gnutls_record_get_direction)
#define gnutls_record_recv (*dl_gnutls_record_recv)
#define gnutls_record_send (*dl_gnutls_record_send)
#define gnutls_server_name_set (*dl_gnutls_server_name_set)
#define gnutls_set_default_priority (*dl_gnutls_set_default_priority)
#define gnutls_strerror (*dl_gnutls_strerror)
/* gnutls_transport_set_int is a macro over gnutls_transport_set_int2 in gnutls.h. */
#define gnutls_transport_set_int2 (*dl_gnutls_transport_set_int2)
#endif
