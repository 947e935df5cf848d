/*
 * clienthello.h - find the SNI in the first bytes of a TLS connection.
 */
#ifndef PINSHIM_CLIENTHELLO_H
#define PINSHIM_CLIENTHELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ch_result {
	CH_OK,		/* a ClientHello; sni[] filled ("" if none sent) */
	CH_MORE,	/* not enough bytes yet */
	CH_NOT_TLS,	/* not a TLS handshake */
	CH_BAD,		/* TLS, but a malformed ClientHello */
};

#define CH_RECORD_MAX	(16384 + 2048)	/* a TLSPlaintext record's payload */
#define CH_MSG_MAX	(32 * 1024)	/* the whole ClientHello, at most */
#define CH_PEEK_MAX	(CH_MSG_MAX + 64 * 5)	/* with record headers */

/* What the ClientHello says about the leaf the app can take. */
struct ch_offer {
	/* An ECDSA leaf can serve it: signature_algorithms has an ECDSA
	 * scheme (without the extension a TLS 1.2 client takes RSA with
	 * SHA-1, RFC 5246 7.4.1.4.1) and a suite an ECDSA key serves is
	 * offered (TLS 1.3's, or ECDHE-ECDSA). */
	bool	 ecdsa;
};

/* buf: bytes peeked from the socket (nothing is consumed). offer, if not
 * NULL, is filled on CH_OK. */
enum ch_result	 clienthello_sni(const uint8_t *buf, size_t len, char *sni,
		    size_t snisz, struct ch_offer *offer);

#endif
