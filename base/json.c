/*
 * json.c - JSON strings into an evbuffer. Well-formed UTF-8 passes as it
 * is; quotes, backslashes and control bytes are escaped, and a byte that
 * does not start a well-formed UTF-8 sequence (a stray continuation, an
 * overlong form, a surrogate, past U+10FFFF, cut short) becomes U+FFFD:
 * parse.c's str_json_char, the rule the log's JSON lines use too.
 * Some callers' strings come from the configuration as the file spelled
 * them (device_id), so the output is valid JSON whatever the input.
 *
 * Must never: write anything but a valid JSON string, or read past the
 * terminating NUL.
 */
#include <stddef.h>
#include <string.h>

#include <event2/buffer.h>

#include "base/json.h"
#include "base/parse.h"

void
json_str(struct evbuffer *b, const char *str)
{
	char	 out[STR_JSON_MAX];
	size_t	 n = strlen(str), k, len;

	evbuffer_add(b, "\"", 1);
	for (; n > 0; str += k, n -= k) {
		k = str_json_char(str, n, out, &len);
		evbuffer_add(b, out, len);
	}
	evbuffer_add(b, "\"", 1);
}
