/*
 * cursor.c - bounds-checked reads over untrusted bytes (see cursor.h).
 *
 * Must never: read past left, or move the cursor on a failed read.
 */
#include <ctype.h>
#include <string.h>

#include "base/cursor.h"

void
cursor_init(struct cursor *c, const void *buf, size_t len)
{
	c->p = buf;
	c->left = buf != NULL ? len : 0;
	c->short_ = false;
}

bool
cursor_take(struct cursor *c, size_t n, const uint8_t **out)
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

/* n big-endian bytes, n <= 3 */
static bool
cursor_be(struct cursor *c, size_t n, unsigned *v)
{
	const uint8_t	*b;
	size_t		 i;

	if (!cursor_take(c, n, &b))
		return false;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return true;
}

bool
cursor_u8(struct cursor *c, unsigned *v)
{
	return cursor_be(c, 1, v);
}

bool
cursor_u16(struct cursor *c, unsigned *v)
{
	return cursor_be(c, 2, v);
}

bool
cursor_u24(struct cursor *c, unsigned *v)
{
	return cursor_be(c, 3, v);
}

bool
cursor_u32(struct cursor *c, uint32_t *v)
{
	unsigned	 hi, lo;

	if (c->left < 4) {
		c->short_ = true;
		return false;
	}
	(void)cursor_u16(c, &hi);
	(void)cursor_u16(c, &lo);
	*v = (uint32_t)hi << 16 | lo;
	return true;
}

bool
cursor_sub(struct cursor *c, size_t n, struct cursor *out)
{
	const uint8_t	*b;

	if (!cursor_take(c, n, &b))
		return false;
	cursor_init(out, b, n);
	return true;
}

bool
cursor_expect(struct cursor *c, const char *s)
{
	size_t	 n = strlen(s);

	if (c->left < n) {
		c->short_ = true;
		return false;
	}
	if (memcmp(c->p, s, n) != 0)
		return false;
	return cursor_take(c, n, NULL);
}

long
cursor_find(const struct cursor *c, const void *s, size_t n)
{
	size_t	 i;

	if (n == 0 || c->left < n)
		return -1;
	for (i = 0; i + n <= c->left; i++)
		if (c->p[i] == *(const uint8_t *)s && memcmp(c->p + i, s, n) ==
		    0)
			return (long)i;
	return -1;
}

bool
cursor_until(struct cursor *c, uint8_t delim, struct cursor *out)
{
	const uint8_t	*d = c->left ? memchr(c->p, delim, c->left) : NULL;

	if (d == NULL) {
		c->short_ = true;
		return false;
	}
	cursor_sub(c, (size_t)(d - c->p), out);
	return cursor_take(c, 1, NULL);
}

bool
cursor_line(struct cursor *c, struct cursor *out)
{
	long	 at = cursor_find(c, "\r\n", 2);

	if (at < 0) {
		c->short_ = true;
		return false;
	}
	cursor_sub(c, (size_t)at, out);
	return cursor_take(c, 2, NULL);
}

bool
cursor_str(const struct cursor *c, char *buf, size_t sz)
{
	if (c->left >= sz || (c->left > 0 && memchr(c->p, '\0', c->left)))
		return false;
	if (c->left > 0)
		memcpy(buf, c->p, c->left);
	buf[c->left] = '\0';
	return true;
}

bool
cursor_eq(const struct cursor *c, const char *s)
{
	size_t	 n = strlen(s);

	return c->left == n && (n == 0 || memcmp(c->p, s, n) == 0);
}

bool
cursor_eq_nocase(const struct cursor *c, const char *s)
{
	size_t	 n = strlen(s), i;

	if (c->left != n)
		return false;
	for (i = 0; i < n; i++)
		if (tolower(c->p[i]) != tolower((unsigned char)s[i]))
			return false;
	return true;
}
