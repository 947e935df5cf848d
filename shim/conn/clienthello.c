/*
 * clienthello.c - read the server_name and the ALPN list of a ClientHello
 * from bytes peeked off the socket, so the interception leaf can be minted
 * for the right name, and the app's protocols offered upstream, before
 * wolfSSL reads a byte; and whether the app can take an ECDSA leaf at all
 * (its signature algorithms and suites), for the RSA leaf of a
 * client_tls = compatible listener.
 *
 * Untrusted input: every read goes through the shared bounds-checked
 * cursor (base/cursor.c); nothing here walks the buffer with bare pointer
 * arithmetic. A ClientHello split over several records (legal, and what
 * a client with a small record size sends) is reassembled, up to
 * CH_MSG_MAX bytes.
 *
 * Must never: report a name or protocol list that is not exactly the
 * bytes the client sent, or CH_OK for bytes that are not a whole
 * ClientHello record.
 */
#include <stdbool.h>
#include <string.h>

#include "base/cursor.h"
#include "shim/conn/clienthello.h"

static enum ch_result
parse_sni_ext(struct cursor *ext, char *sni, size_t snisz)
{
	struct cursor	 list;
	unsigned	 listlen, type, len;
	const uint8_t	*name;

	if (!cursor_u16(ext, &listlen) || !cursor_sub(ext, listlen, &list))
		return CH_BAD;
	while (list.left > 0) {
		if (!cursor_u8(&list, &type) || !cursor_u16(&list, &len) ||
		    !cursor_take(&list, len, &name))
			return CH_BAD;
		if (type != 0)		/* host_name */
			continue;
		if (len == 0 || len >= snisz || memchr(name, '\0', len))
			return CH_BAD;
		memcpy(sni, name, len);
		sni[len] = '\0';
		return CH_OK;
	}
	return CH_OK;
}

/* A suite an ECDSA key can serve: any of TLS 1.3's, or ECDHE-ECDSA with
 * AES-CBC, AES-GCM or ChaCha20 (what the interception side offers). */
static bool
ecdsa_suite(unsigned s)
{
	return (s >> 8) == 0x13 || s == 0xc009 || s == 0xc00a ||
	    s == 0xc023 || s == 0xc024 || s == 0xc02b || s == 0xc02c ||
	    s == 0xcca9;
}

static bool
any_ecdsa_suite(struct cursor *suites)
{
	unsigned	 s;
	bool		 any = false;

	while (cursor_u16(suites, &s))
		any = any || ecdsa_suite(s);
	return any;
}

/* signature_algorithms (RFC 5246 7.4.1.4.1, RFC 8446 4.2.3): whether it
 * names an ECDSA scheme, TLS 1.2's {hash 1..6, ecdsa(3)}, whose code
 * points TLS 1.3's ecdsa_secp*r1_sha* keep. */
static enum ch_result
parse_sigalgs_ext(struct cursor *ext, bool *ecdsa)
{
	struct cursor	 list;
	unsigned	 n, scheme;

	if (!cursor_u16(ext, &n) || n % 2 != 0 || !cursor_sub(ext, n, &list))
		return CH_BAD;
	while (cursor_u16(&list, &scheme))
		if ((scheme & 0xff) == 3 && (scheme >> 8) >= 1 &&
		    (scheme >> 8) <= 6)
			*ecdsa = true;
	return CH_OK;
}

/* application_layer_protocol_negotiation (RFC 7301 3.1): a non-empty
 * list of non-empty names, kept as sent. */
static enum ch_result
parse_alpn_ext(struct cursor *ext, struct ch_hello *h)
{
	struct cursor	 list, walk;
	unsigned	 listlen, len;

	if (!cursor_u16(ext, &listlen) || !cursor_sub(ext, listlen, &list) ||
	    ext->left != 0 || listlen == 0 || listlen > sizeof(h->alpn))
		return CH_BAD;
	walk = list;
	while (walk.left > 0)
		if (!cursor_u8(&walk, &len) || len == 0 ||
		    !cursor_take(&walk, len, NULL))
			return CH_BAD;
	memcpy(h->alpn, list.p, list.left);
	h->alpn_len = list.left;
	return CH_OK;
}

/* The ClientHello body (after its 4-byte header). */
static enum ch_result
parse_hello(struct cursor *hs, struct ch_hello *h)
{
	struct cursor	 exts, ext, suites;
	unsigned	 v, n, etype, elen;
	bool		 seen_sni = false, seen_alpn = false;
	bool		 sig_ecdsa = false, suite_ecdsa;
	enum ch_result	 r;

	/* version, random, session id, cipher suites, compression */
	if (!cursor_u16(hs, &v) || !cursor_take(hs, 32, NULL) ||
	    !cursor_u8(hs, &n) || !cursor_take(hs, n, NULL) ||
	    !cursor_u16(hs, &n) || n % 2 != 0 ||
	    !cursor_sub(hs, n, &suites) ||
	    !cursor_u8(hs, &n) || !cursor_take(hs, n, NULL))
		return CH_BAD;
	suite_ecdsa = any_ecdsa_suite(&suites);
	cursor_init(&exts, NULL, 0);		/* none: no SNI */
	if (hs->left > 0 && (!cursor_u16(hs, &n) || !cursor_sub(hs, n, &exts)))
		return CH_BAD;
	/* RFC 8446 4.2: at most one extension of a type */
	while (exts.left > 0) {
		if (!cursor_u16(&exts, &etype) || !cursor_u16(&exts, &elen) ||
		    !cursor_sub(&exts, elen, &ext))
			return CH_BAD;
		r = CH_OK;
		if (etype == 0) {		/* server_name */
			if (seen_sni)
				return CH_BAD;
			seen_sni = true;
			r = parse_sni_ext(&ext, h->sni, sizeof(h->sni));
		} else if (etype == 13) {	/* signature_algorithms */
			r = parse_sigalgs_ext(&ext, &sig_ecdsa);
		} else if (etype == 16) {	/* ALPN */
			if (seen_alpn)
				return CH_BAD;
			seen_alpn = true;
			r = parse_alpn_ext(&ext, h);
		}
		if (r != CH_OK)
			return r;
	}
	h->ecdsa = sig_ecdsa && suite_ecdsa;
	return CH_OK;
}

/* The next record's payload appended to msg; CH_OK when one was. */
static enum ch_result
next_record(struct cursor *c, uint8_t *msg, size_t *msglen, bool first)
{
	struct cursor	 rec;
	unsigned	 type, major, minor, reclen;

	if (!cursor_u8(c, &type) || !cursor_u8(c, &major) ||
	    !cursor_u8(c, &minor) || !cursor_u16(c, &reclen))
		return CH_MORE;			/* the header is not all here */
	if (type != 22 || major != 3)		/* handshake, SSL3/TLS */
		return first ? CH_NOT_TLS : CH_BAD;
	if (reclen == 0 || reclen > CH_RECORD_MAX)
		return CH_BAD;
	if (!cursor_sub(c, reclen, &rec))
		return CH_MORE;
	if (*msglen + reclen > CH_MSG_MAX)
		return CH_BAD;
	memcpy(msg + *msglen, rec.p, reclen);
	*msglen += reclen;
	return CH_OK;
}

enum ch_result
clienthello_parse(const uint8_t *buf, size_t len, struct ch_hello *h)
{
	uint8_t		 msg[CH_MSG_MAX];
	struct cursor	 c, m, hs;
	size_t		 msglen = 0;
	unsigned	 hstype, hslen;
	enum ch_result	 r;

	h->sni[0] = '\0';
	h->alpn_len = 0;
	h->ecdsa = false;
	if (len >= 1 && buf[0] != 22)
		return CH_NOT_TLS;
	cursor_init(&c, buf, len);
	/* A ClientHello may span records (RFC 8446 5.1): gather their
	 * payloads until the handshake message is whole. */
	for (;;) {
		if ((r = next_record(&c, msg, &msglen, msglen == 0)) != CH_OK)
			return r;
		cursor_init(&m, msg, msglen);
		if (!cursor_u8(&m, &hstype) || !cursor_u24(&m, &hslen))
			continue;		/* the header spans records */
		if (hstype != 1)		/* client_hello */
			return CH_BAD;
		if (hslen > CH_MSG_MAX - 4)
			return CH_BAD;
		if (!cursor_sub(&m, hslen, &hs))
			continue;
		if ((r = parse_hello(&hs, h)) != CH_OK) {
			h->sni[0] = '\0';	/* nothing from a bad hello */
			h->alpn_len = 0;
			h->ecdsa = false;
		}
		return r;
	}
}

enum ch_result
clienthello_sni(const uint8_t *buf, size_t len, char *sni, size_t snisz)
{
	struct ch_hello	 h;
	enum ch_result	 r;

	sni[0] = '\0';
	if ((r = clienthello_parse(buf, len, &h)) != CH_OK)
		return r;
	if (strlen(h.sni) >= snisz)
		return CH_BAD;
	memcpy(sni, h.sni, strlen(h.sni) + 1);
	return CH_OK;
}
