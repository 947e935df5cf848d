/*
 * keeper_wire.c - the keeper channel's frames (format in keeper_wire.h):
 * decoded with the bounds-checked cursor, encoded into a caller's buffer.
 * Both sides parse with this; the keeper trusts nothing it decodes
 * beyond the bounds checked here.
 *
 * Must never: accept a frame with bytes left over, a host with a NUL or
 * over 253 bytes, or a file that is not one of enum keeper_file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/cursor.h"
#include "base/file.h"
#include "base/parse.h"
#include "pins/feed_keys.h"
#include "shim/keeper/keeper_wire.h"

static const char *const file_names[KEEPER_FILE_N] = {
	[KEEPER_FILE_FEED] = FEED_CACHE,
	[KEEPER_FILE_FLOOR] = FEED_FLOOR,
	[KEEPER_FILE_KEYS] = FEED_KEYS,
	[KEEPER_FILE_CLOCK] = CLOCK_FILE,
};

const char *
keeper_file_name(enum keeper_file f)
{
	return f > 0 && f < KEEPER_FILE_N ? file_names[f] : NULL;
}

long
keeper_frame_len(const uint8_t *buf, size_t len)
{
	struct cursor	 c;
	uint32_t	 n;

	cursor_init(&c, buf, len);
	return cursor_u32(&c, &n) ? (long)n : -1;
}

static bool
take_host(struct cursor *c, char *host)
{
	const uint8_t	*p;
	unsigned	 n;

	if (!cursor_u8(c, &n) || n == 0 || n > HOST_MAX ||
	    !cursor_take(c, n, &p) || memchr(p, '\0', n) != NULL)
		return false;
	memcpy(host, p, n);
	host[n] = '\0';
	return true;
}

static bool
take_pin(struct cursor *c, struct pin *pin)
{
	const uint8_t	*p;

	if (!cursor_take(c, PIN_HASH_LEN, &p))
		return false;
	memset(pin, 0, sizeof(*pin));
	memcpy(pin->hash, p, PIN_HASH_LEN);
	return true;
}

int
keeper_parse(const uint8_t *buf, size_t len, struct keeper_msg *m,
    const char **why)
{
	struct cursor	 c;
	unsigned	 t, v;
	uint32_t	 hi, lo;

	memset(m, 0, sizeof(*m));
	cursor_init(&c, buf, len);
	if (!cursor_u8(&c, &t) || !cursor_u32(&c, &m->id)) {
		*why = "frame shorter than its header";
		return -1;
	}
	m->type = (enum keeper_type)t;
	switch (m->type) {
	case KEEPER_MINT:
		if (!take_host(&c, m->host) || !cursor_u8(&c, &v) ||
		    (v != TLS_LEAF_ECDSA && v != TLS_LEAF_RSA)) {
			*why = "MINT: bad name or key kind";
			return -1;
		}
		m->leaf_kind = (enum tls_leaf)v;
		m->publen = v == TLS_LEAF_ECDSA ? TLS_CA_PUB_LEN : c.left;
		if (m->publen == 0 || m->publen > TLS_CA_RSA_PUB_MAX ||
		    !cursor_take(&c, m->publen, &m->pub)) {
			*why = "MINT: bad key length";
			return -1;
		}
		break;
	case KEEPER_SAVE:
		if (!cursor_u8(&c, &v) || keeper_file_name(v) == NULL) {
			*why = "SAVE: not a file the keeper writes";
			return -1;
		}
		m->file = (enum keeper_file)v;
		m->data = c.p;
		m->len = c.left;
		(void)cursor_take(&c, c.left, NULL);
		break;
	case KEEPER_TOFU:
		if (!take_host(&c, m->host) || !take_pin(&c, &m->leaf) ||
		    !cursor_u8(&c, &v) || v > 1 || !take_pin(&c, &m->issuer) ||
		    !cursor_u32(&c, &hi) || !cursor_u32(&c, &lo)) {
			*why = "TOFU: bad host, pin or time";
			return -1;
		}
		m->has_issuer = v == 1;
		m->since = (int64_t)((uint64_t)hi << 32 | lo);
		if (!cursor_u8(&c, &v) || v > 1 || !take_pin(&c, &m->old)) {
			*why = "TOFU: bad replaced pin";
			return -1;
		}
		m->replaces = v == 1;
		break;
	case KEEPER_SIGN:
		if (!cursor_u8(&c, &v) || !cursor_u8(&c, &t)) {
			*why = "SIGN: no identity";
			return -1;
		}
		m->ident = v << 8 | t;
		if (!cursor_u8(&c, &m->scheme) || !cursor_u8(&c, &m->hash) ||
		    c.left == 0 || c.left > TLS_SIGN_IN_MAX) {
			*why = "SIGN: bad scheme or length";
			return -1;
		}
		m->data = c.p;
		m->len = c.left;
		(void)cursor_take(&c, c.left, NULL);
		break;
	case KEEPER_OK:
	case KEEPER_READY:
		m->data = c.p;
		m->len = c.left;
		(void)cursor_take(&c, c.left, NULL);
		break;
	case KEEPER_ERR:
		if (!cursor_u8(&c, &v) || c.left > KEEPER_TEXT_MAX) {
			*why = "ERR: bad code or text too long";
			return -1;
		}
		m->err = (int)v;
		m->data = c.p;
		m->len = c.left;
		(void)cursor_take(&c, c.left, NULL);
		break;
	default:
		*why = "unknown message type";
		return -1;
	}
	if (c.left != 0) {
		*why = "bytes after the message";
		return -1;
	}
	return 0;
}

/* --- encoding --------------------------------------------------------- */

struct out {
	uint8_t		*p;
	size_t		 len, sz;
	bool		 full;
};

static void
put(struct out *o, const void *b, size_t n)
{
	if (n == 0)
		return;		/* b may be NULL then */
	if (o->full || o->sz - o->len < n) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, b, n);
	o->len += n;
}

static void
put_u8(struct out *o, unsigned v)
{
	uint8_t	 b = (uint8_t)v;

	put(o, &b, 1);
}

static void
put_u32(struct out *o, uint32_t v)
{
	uint8_t	 b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
		    (uint8_t)(v >> 8), (uint8_t)v };

	put(o, b, 4);
}

size_t
keeper_encode(const struct keeper_msg *m, uint8_t *buf, size_t sz)
{
	struct out	 o = { buf, 0, sz, false };
	size_t		 hl = strlen(m->host);
	uint64_t	 since = (uint64_t)m->since;

	put_u32(&o, 0);			/* the length, once known */
	put_u8(&o, m->type);
	put_u32(&o, m->id);
	switch (m->type) {
	case KEEPER_MINT:
	case KEEPER_TOFU:
		if (hl == 0 || hl > HOST_MAX)
			return 0;
		put_u8(&o, (unsigned)hl);
		put(&o, m->host, hl);
		if (m->type == KEEPER_MINT) {
			if (m->publen == 0 || m->publen > TLS_CA_RSA_PUB_MAX ||
			    (m->leaf_kind == TLS_LEAF_ECDSA ?
			    m->publen != TLS_CA_PUB_LEN :
			    m->leaf_kind != TLS_LEAF_RSA))
				return 0;
			put_u8(&o, m->leaf_kind);
			put(&o, m->pub, m->publen);
			break;
		}
		put(&o, m->leaf.hash, PIN_HASH_LEN);
		put_u8(&o, m->has_issuer);
		put(&o, m->issuer.hash, PIN_HASH_LEN);
		put_u32(&o, (uint32_t)(since >> 32));
		put_u32(&o, (uint32_t)since);
		put_u8(&o, m->replaces);
		put(&o, m->old.hash, PIN_HASH_LEN);
		break;
	case KEEPER_SAVE:
		put_u8(&o, m->file);
		put(&o, m->data, m->len);
		break;
	case KEEPER_SIGN:
		if (m->ident > 0xffff || m->len == 0 ||
		    m->len > TLS_SIGN_IN_MAX)
			return 0;
		put_u8(&o, m->ident >> 8);
		put_u8(&o, m->ident & 0xff);
		put_u8(&o, m->scheme);
		put_u8(&o, m->hash);
		put(&o, m->data, m->len);
		break;
	case KEEPER_ERR:
		put_u8(&o, (unsigned)m->err & 0xff);
		put(&o, m->data, m->len > KEEPER_TEXT_MAX ? KEEPER_TEXT_MAX :
		    m->len);
		break;
	default:
		put(&o, m->data, m->len);
		break;
	}
	if (o.full || o.len - 4 > UINT32_MAX)
		return 0;
	buf[0] = (uint8_t)((o.len - 4) >> 24);
	buf[1] = (uint8_t)((o.len - 4) >> 16);
	buf[2] = (uint8_t)((o.len - 4) >> 8);
	buf[3] = (uint8_t)(o.len - 4);
	return o.len;
}

int
state_clean_temps(const char *dir)
{
	int	 n = 0, f;

	for (f = 1; f < KEEPER_FILE_N; f++)
		n += file_clean_temps(dir, keeper_file_name(f));
	return n + file_clean_temps(dir, FEED_KEYSET);
}

int
state_floor_load(const char *dir, unsigned long long *v)
{
	char		 path[4096], *buf;
	size_t		 len;
	unsigned long	 n;
	bool		 ok;

	snprintf(path, sizeof(path), "%s/%s", dir, FEED_FLOOR);
	if ((buf = file_read(path, 64, &len, NULL)) == NULL)
		return errno == ENOENT ? 0 : -1;
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	if ((ok = parse_uint(buf, 0, 4294967295UL, &n)))
		*v = n;
	free(buf);
	if (!ok) {
		errno = EINVAL;
		return -1;
	}
	return 1;
}
