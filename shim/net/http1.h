/*
 * http1.h - HTTP/1.x message heads from untrusted bytes: the forward
 * proxy's request head and the response head of pinshim's own requests.
 * Read through the bounds-checked cursor; nothing is copied, the results
 * are cursors into the caller's buffer.
 */
#ifndef PINSHIM_NET_HTTP1_H
#define PINSHIM_NET_HTTP1_H

#include <stdbool.h>
#include <stddef.h>

#include "base/cursor.h"

enum http1_result {
	HTTP1_OK,
	HTTP1_MORE,		/* no end of head yet: read more */
	HTTP1_BAD,		/* *why says what is wrong */
};

struct http1_head {
	size_t		 len;		/* bytes of the head, final CRLF too */
	struct cursor	 method;	/* request: a token */
	struct cursor	 target;	/* request: the request-target */
	int		 status;	/* response: 100..599 */
	struct cursor	 fields;	/* the header lines, each with CRLF */
};

/* "METHOD SP TARGET SP HTTP/1.x CRLF *(field CRLF) CRLF" */
enum http1_result http1_request(const void *buf, size_t len,
		    struct http1_head *, const char **why);
/* "HTTP/1.x SP NNN [SP reason] CRLF *(field CRLF) CRLF" */
enum http1_result http1_response(const void *buf, size_t len,
		    struct http1_head *, const char **why);
/* The next "Name: value" of fields (value without surrounding blanks);
 * false at the end, or with *why set for a malformed line. */
bool		 http1_field(struct cursor *fields, struct cursor *name,
		    struct cursor *value, const char **why);
/* Where a request's body ends: *len bytes after the head, from its one
 * Content-Length (digits only), or 0 without one. false, with *why, for a
 * malformed header line, a repeated or malformed Content-Length, or any
 * Transfer-Encoding (*coded set: a coded body's end is not found here). */
bool		 http1_body_len(const struct http1_head *, unsigned long *len,
		    bool *coded, const char **why);

#endif
