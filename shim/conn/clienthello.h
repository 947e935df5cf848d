/*
 * clienthello.h - find the SNI and the ALPN list in the first bytes of a
 * TLS connection.
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
#define CH_SNI_MAX	256		/* a host name and its NUL */
#define CH_ALPN_MAX	8192		/* an ALPN list; a longer one is CH_BAD */

/* What pinshim needs of a ClientHello. */
struct ch_hello {
	char		 sni[CH_SNI_MAX];	/* "" if none sent */
	/* the ALPN extension's ProtocolNameList as sent (each name a length
	 * byte then 1..255 bytes), without its 2-byte length; alpn_len 0:
	 * the app offered no ALPN */
	uint8_t		 alpn[CH_ALPN_MAX];
	size_t		 alpn_len;
	/* An ECDSA leaf can serve it: signature_algorithms has an ECDSA
	 * scheme (without the extension a TLS 1.2 client takes RSA with
	 * SHA-1, RFC 5246 7.4.1.4.1) and a suite an ECDSA key serves is
	 * offered (TLS 1.3's, or ECDHE-ECDSA). */
	bool		 ecdsa;
};

/* buf: bytes peeked from the socket (nothing is consumed). A second
 * server_name or ALPN extension, an empty list or name, or a list over
 * CH_ALPN_MAX is CH_BAD. */
enum ch_result	 clienthello_parse(const uint8_t *buf, size_t len,
		    struct ch_hello *);
/* The same, for the SNI only. */
enum ch_result	 clienthello_sni(const uint8_t *buf, size_t len, char *sni,
		    size_t snisz);

#endif
