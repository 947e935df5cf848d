/*
 * clienthello.c - read the server_name of a ClientHello from bytes peeked
 * off the socket, so the interception leaf can be minted for the right
 * name before wolfSSL reads a byte.
 *
 * Untrusted input: every read goes through the bounds-checked cursor
 * below; nothing here walks the buffer with bare pointer arithmetic. Only
 * the first record is parsed (a ClientHello split over several records is
 * reported CH_BAD rather than reassembled).
 */
#include <stdbool.h>
#include <string.h>

#include "clienthello.h"

struct cur {
	const uint8_t	*p;
	size_t		 left;
	bool		 short_;	/* ran past the end */
};

static bool
take(struct cur *c, size_t n, const uint8_t **out)
{
	if (c->left < n) {
		c->short_ = true;
		return false;
	}
	if (out != NULL)
		*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static bool
u8(struct cur *c, unsigned *v)
{
	const uint8_t	*b;

	if (!take(c, 1, &b))
		return false;
	*v = b[0];
	return true;
}

static bool
u16(struct cur *c, unsigned *v)
{
	const uint8_t	*b;

	if (!take(c, 2, &b))
		return false;
	*v = (unsigned)b[0] << 8 | b[1];
	return true;
}

static bool
u24(struct cur *c, unsigned *v)
{
	const uint8_t	*b;

	if (!take(c, 3, &b))
		return false;
	*v = (unsigned)b[0] << 16 | (unsigned)b[1] << 8 | b[2];
	return true;
}

/* A sub-cursor over the next n bytes. */
static bool
sub(struct cur *c, size_t n, struct cur *out)
{
	const uint8_t	*b;

	if (!take(c, n, &b))
		return false;
	out->p = b;
	out->left = n;
	out->short_ = false;
	return true;
}

static enum ch_result
parse_sni_ext(struct cur *ext, char *sni, size_t snisz)
{
	struct cur	 list;
	unsigned	 listlen, type, len;
	const uint8_t	*name;

	if (!u16(ext, &listlen) || !sub(ext, listlen, &list))
		return CH_BAD;
	while (list.left > 0) {
		if (!u8(&list, &type) || !u16(&list, &len) ||
		    !take(&list, len, &name))
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
	struct cur	 c = { buf, len, false }, rec, hs, exts;
	unsigned	 type, major, minor, reclen, hstype, hslen, v, n;

	sni[0] = '\0';
	if (!u8(&c, &type) || !u8(&c, &major) || !u8(&c, &minor) ||
	    !u16(&c, &reclen))
		return len >= 1 && buf[0] != 22 ? CH_NOT_TLS : CH_MORE;
	if (type != 22 || major != 3)		/* handshake, SSL3/TLS */
		return CH_NOT_TLS;
	if (reclen == 0 || reclen > 16384 + 2048)
		return CH_BAD;
	if (!sub(&c, reclen, &rec))
		return CH_MORE;
	if (!u8(&rec, &hstype) || hstype != 1)	/* client_hello */
		return CH_BAD;
	if (!u24(&rec, &hslen))
		return CH_BAD;
	if (!sub(&rec, hslen, &hs))
		return CH_BAD;			/* spans records */
	if (!u16(&hs, &v) || !take(&hs, 32, NULL) ||	/* version, random */
	    !u8(&hs, &n) || !take(&hs, n, NULL) ||	/* session id */
	    !u16(&hs, &n) || !take(&hs, n, NULL) ||	/* cipher suites */
	    !u8(&hs, &n) || !take(&hs, n, NULL))	/* compression */
		return CH_BAD;
	if (hs.left == 0)
		return CH_OK;			/* no extensions: no SNI */
	if (!u16(&hs, &n) || !sub(&hs, n, &exts))
		return CH_BAD;
	while (exts.left > 0) {
		struct cur	 ext;
		unsigned	 etype, elen;

		if (!u16(&exts, &etype) || !u16(&exts, &elen) ||
		    !sub(&exts, elen, &ext))
			return CH_BAD;
		if (etype == 0)			/* server_name */
			return parse_sni_ext(&ext, sni, snisz);
	}
	return CH_OK;
}
