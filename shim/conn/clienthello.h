/*
 * clienthello.h - find the SNI in the first bytes of a TLS connection.
 */
#ifndef PINSHIM_CLIENTHELLO_H
#define PINSHIM_CLIENTHELLO_H

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

/* buf: bytes peeked from the socket (nothing is consumed). */
enum ch_result	 clienthello_sni(const uint8_t *buf, size_t len, char *sni,
		    size_t snisz);

#endif
