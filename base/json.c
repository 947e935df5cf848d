/*
 * json.c - JSON strings into an evbuffer. Well-formed UTF-8 passes as it
 * is; quotes, backslashes and control bytes are escaped, and a byte that
 * does not start a well-formed UTF-8 sequence (a stray continuation, an
 * overlong form, a surrogate, past U+10FFFF, cut short) becomes U+FFFD.
 * Some callers' strings come from the configuration as the file spelled
 * them (device_id), so the output is valid JSON whatever the input.
 *
 * Must never: write anything but a valid JSON string, or read past the
 * terminating NUL.
 */
#include <stddef.h>

#include <event2/buffer.h>

#include "base/json.h"

/* The length of the well-formed UTF-8 sequence at s (RFC 3629's table),
 * or 0. A NUL ends the string, so it never counts as a continuation. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* past U+10FFFF */
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

void
json_str(struct evbuffer *b, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	evbuffer_add(b, "\"", 1);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			evbuffer_add_printf(b, "\\%c", *s);
			n = 1;
		} else if (*s < 0x20 || *s == 0x7f) {
			evbuffer_add_printf(b, "\\u%04x", *s);
			n = 1;
		} else if ((n = utf8_len(s)) != 0)
			evbuffer_add(b, s, n);
		else {
			evbuffer_add(b, "\\ufffd", 6);
			n = 1;
		}
		s += n;
	}
	evbuffer_add(b, "\"", 1);
}
