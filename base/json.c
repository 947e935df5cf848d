/*
 * json.c - JSON strings into an evbuffer. Bytes >= 0x80 pass as they are
 * (UTF-8 in, UTF-8 out); the callers' strings are pinshim's own or came
 * through parsers that refuse control bytes, and any left are escaped.
 */
#include <event2/buffer.h>

#include "base/json.h"

void
json_str(struct evbuffer *b, const char *s)
{
	evbuffer_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			evbuffer_add_printf(b, "\\u%04x", c);
		else
			evbuffer_add(b, s, 1);
	}
	evbuffer_add(b, "\"", 1);
}
