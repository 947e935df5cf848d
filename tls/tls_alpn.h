/*
 * tls_alpn.h - ALPN (RFC 7301) on pinshim's sessions: the protocols a
 * client session offers, the one its server selected, and the one an
 * app-facing server session answers with.
 */
#ifndef PINSHIM_TLS_ALPN_H
#define PINSHIM_TLS_ALPN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define TLS_ALPN_NAME_MAX	255	/* one protocol name, in bytes */

/* A client session offers list ("a,b": comma-separated, wolfSSL's form),
 * in that order; a server that selects a protocol not offered fails the
 * handshake. */
bool	 tls_alpn_offer(WOLFSSL *, const char *list);
/* The protocol the handshake selected into buf (TLS_ALPN_NAME_MAX + 1
 * bytes); "" when none was. */
void	 tls_alpn_selected(WOLFSSL *, char *buf, size_t sz);
/* An app-facing server session selects exactly proto, which the app
 * offered; a ClientHello without it fails. */
bool	 tls_alpn_answer(WOLFSSL *, const char *proto);
/* A ClientHello's ProtocolNameList (len bytes, well formed) as the
 * comma-separated text tls_alpn_offer takes. A name wolfSSL cannot carry
 * (one holding ',' or NUL) is left out. out: at least len bytes. The
 * number of names written. */
size_t	 tls_alpn_text(const uint8_t *list, size_t len, char *out,
	    size_t sz);

#endif
