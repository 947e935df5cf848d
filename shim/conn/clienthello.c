/*
 * clienthello.c - read the server_name of a ClientHello from bytes peeked
 * off the socket, so the interception leaf can be minted for the right
 * name before wolfSSL reads a byte.
 *
 * Untrusted input: every read goes through the shared bounds-checked
 * cursor (base/cursor.c); nothing here walks the buffer with bare pointer
 * arithmetic. Only the first record is parsed (a ClientHello split over
 * several records is reported CH_BAD rather than reassembled).
 *
 * Must never: report a name that is not exactly the bytes the client
 * sent, or CH_OK for bytes that are not a whole ClientHello record.
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

enum ch_result
clienthello_sni(const uint8_t *buf, size_t len, char *sni, size_t snisz)
{
	struct cursor	 c, rec, hs, exts;
	unsigned	 type, major, minor, reclen, hstype, hslen, v, n;

	sni[0] = '\0';
	cursor_init(&c, buf, len);
	if (!cursor_u8(&c, &type) || !cursor_u8(&c, &major) ||
	    !cursor_u8(&c, &minor) || !cursor_u16(&c, &reclen))
		return len >= 1 && buf[0] != 22 ? CH_NOT_TLS : CH_MORE;
	if (type != 22 || major != 3)		/* handshake, SSL3/TLS */
		return CH_NOT_TLS;
	if (reclen == 0 || reclen > 16384 + 2048)
		return CH_BAD;
	if (!cursor_sub(&c, reclen, &rec))
		return CH_MORE;
	if (!cursor_u8(&rec, &hstype) || hstype != 1)	/* client_hello */
		return CH_BAD;
	if (!cursor_u24(&rec, &hslen))
		return CH_BAD;
	if (!cursor_sub(&rec, hslen, &hs))
		return CH_BAD;			/* spans records */
	/* version, random, session id, cipher suites, compression */
	if (!cursor_u16(&hs, &v) || !cursor_take(&hs, 32, NULL) ||
	    !cursor_u8(&hs, &n) || !cursor_take(&hs, n, NULL) ||
	    !cursor_u16(&hs, &n) || !cursor_take(&hs, n, NULL) ||
	    !cursor_u8(&hs, &n) || !cursor_take(&hs, n, NULL))
		return CH_BAD;
	if (hs.left == 0)
		return CH_OK;			/* no extensions: no SNI */
	if (!cursor_u16(&hs, &n) || !cursor_sub(&hs, n, &exts))
		return CH_BAD;
	while (exts.left > 0) {
		struct cursor	 ext;
		unsigned	 etype, elen;

		if (!cursor_u16(&exts, &etype) || !cursor_u16(&exts, &elen) ||
		    !cursor_sub(&exts, elen, &ext))
			return CH_BAD;
		if (etype == 0)			/* server_name */
			return parse_sni_ext(&ext, sni, snisz);
	}
	return CH_OK;
}
