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
#include "base/parse.h"

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
		} else if ((n = str_utf8_len((const char *)s)) != 0)
			evbuffer_add(b, s, n);
		else {
			evbuffer_add(b, "\\ufffd", 6);
			n = 1;
		}
		s += n;
	}
	evbuffer_add(b, "\"", 1);
}
