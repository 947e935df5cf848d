/*
 * http1.c - parse HTTP/1.x heads (see http1.h), strictly: lines end in
 * CRLF, the method and field names are tokens, and no control byte but
 * HTAB may appear anywhere in the head, so nothing pinshim forwards or
 * logs from a head can smuggle a line break or a NUL.
 *
 * Must never: read past the buffer, or accept a head whose bytes would
 * mean something else to the next parser (a bare CR or LF, a NUL).
 */
#include <limits.h>
#include <string.h>

#include "base/cursor.h"
#include "base/parse.h"
#include "shim/net/http1.h"

#define HEAD_END	"\r\n\r\n"

/* RFC 9110 tchar */
static bool
is_tchar(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~",
	    (int)c) != NULL);
}

static bool
is_token(const struct cursor *t)
{
	size_t	 i;

	if (t->left == 0)
		return false;
	for (i = 0; i < t->left; i++)
		if (!is_tchar(t->p[i]))
			return false;
	return true;
}

/* No control bytes but HTAB (CR and LF only as the CRLFs themselves). */
static bool
clean_line(const struct cursor *l)
{
	size_t	 i;

	for (i = 0; i < l->left; i++)
		if ((l->p[i] < 0x20 && l->p[i] != '\t') || l->p[i] == 0x7f)
			return false;
	return true;
}

/* Split off the head and its first line. */
static enum http1_result
split_head(const void *buf, size_t len, struct http1_head *h,
    struct cursor *first)
{
	struct cursor	 c, head;
	long		 end;

	memset(h, 0, sizeof(*h));
	cursor_init(&c, buf, len);
	if ((end = cursor_find(&c, HEAD_END, 4)) < 0)
		return HTTP1_MORE;
	h->len = (size_t)end + 4;
	cursor_sub(&c, (size_t)end + 2, &head);	/* keep the last CRLF */
	cursor_line(&head, first);
	h->fields = head;
	return HTTP1_OK;
}

/* Every field line clean and of the form "token: value". */
static bool
fields_clean(const struct http1_head *h)
{
	struct cursor	 rest = h->fields, line, name;

	while (rest.left > 0)
		if (!cursor_line(&rest, &line) || !clean_line(&line) ||
		    !cursor_until(&line, ':', &name) || !is_token(&name))
			return false;
	return true;
}

enum http1_result
http1_request(const void *buf, size_t len, struct http1_head *h,
    const char **why)
{
	struct cursor	 line, version;

	if (split_head(buf, len, h, &line) == HTTP1_MORE)
		return HTTP1_MORE;
	*why = "malformed request line";
	if (!clean_line(&line) || !cursor_until(&line, ' ', &h->method) ||
	    !is_token(&h->method) || !cursor_until(&line, ' ', &h->target) ||
	    h->target.left == 0)
		return HTTP1_BAD;
	version = line;
	if (!cursor_expect(&version, "HTTP/1.") || version.left != 1 ||
	    version.p[0] < '0' || version.p[0] > '9')
		return HTTP1_BAD;
	if (!fields_clean(h)) {
		*why = "control byte or bare CR/LF in a header";
		return HTTP1_BAD;
	}
	return HTTP1_OK;
}

static bool
status_line(struct cursor *line, struct http1_head *h)
{
	const uint8_t	*d;
	unsigned	 v, sp;
	int		 i;

	if (!clean_line(line) || !cursor_expect(line, "HTTP/1.") ||
	    !cursor_u8(line, &v) || v < '0' || v > '9' ||
	    !cursor_u8(line, &sp) || sp != ' ' || !cursor_take(line, 3, &d))
		return false;
	for (i = 0; i < 3; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	h->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	/* the code ends the line, or a space and a reason phrase follow */
	return h->status >= 100 && h->status <= 599 && (line->left == 0 ||
	    (cursor_u8(line, &sp) && sp == ' '));
}

enum http1_result
http1_response(const void *buf, size_t len, struct http1_head *h,
    const char **why)
{
	struct cursor	 line, all;

	if (split_head(buf, len, h, &line) == HTTP1_MORE) {
		/* Refuse a bad status line without waiting for the rest. */
		cursor_init(&all, buf, len);
		if (!cursor_line(&all, &line) || status_line(&line, h))
			return HTTP1_MORE;
		*why = "not an HTTP response";
		return HTTP1_BAD;
	}
	if (!status_line(&line, h)) {
		*why = "not an HTTP response";
		return HTTP1_BAD;
	}
	if (!fields_clean(h)) {
		*why = "malformed or unsupported header";
		return HTTP1_BAD;
	}
	return HTTP1_OK;
}

static void
trim(struct cursor *v)
{
	while (v->left > 0 && (v->p[0] == ' ' || v->p[0] == '\t'))
		cursor_take(v, 1, NULL);
	while (v->left > 0 && (v->p[v->left - 1] == ' ' ||
	    v->p[v->left - 1] == '\t'))
		v->left--;
}

bool
http1_field(struct cursor *fields, struct cursor *name, struct cursor *value,
    const char **why)
{
	struct cursor	 line;

	*why = NULL;
	if (fields->left == 0 || !cursor_line(fields, &line))
		return false;
	if (!cursor_until(&line, ':', name) || !is_token(name)) {
		*why = "malformed header line";
		return false;
	}
	*value = line;
	trim(value);
	return true;
}

bool
http1_body_len(const struct http1_head *h, unsigned long *len, bool *coded,
    const char **why)
{
	struct cursor	 fields = h->fields, name, value;
	char		 v[24];
	bool		 seen = false;

	*len = 0;
	*coded = false;
	while (http1_field(&fields, &name, &value, why)) {
		if (cursor_eq_nocase(&name, "Transfer-Encoding")) {
			*coded = true;
			*why = "Transfer-Encoding in a request (send "
			    "Content-Length)";
			return false;
		}
		if (!cursor_eq_nocase(&name, "Content-Length"))
			continue;
		/* one, plain: two that differ are a smuggling attempt, and
		 * two that agree are not worth the difference */
		if (seen || !cursor_str(&value, v, sizeof(v)) ||
		    !parse_uint(v, 0, ULONG_MAX, len)) {
			*why = seen ? "more than one Content-Length" :
			    "Content-Length is not a byte count";
			return false;
		}
		seen = true;
	}
	return *why == NULL;
}
