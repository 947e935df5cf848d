/*
 * web.h - pinshim's own HTTP requests (feed fetches, reports).
 */
#ifndef PINSHIM_REMOTE_WEB_H
#define PINSHIM_REMOTE_WEB_H

#include "pins/pin.h"
#include "shim/remote/httpc.h"

struct server;
struct web_req;

struct web_opts {
	const char		*method;	/* "GET", "POST" */
	const char		*label;		/* listener= in the verdict */
	const struct pinset	*pins;		/* may be NULL */
	bool			 snapshot_pins;	/* add the host's own pins */
	const char		*json;		/* POST body, or NULL */
	size_t			 jsonlen;
	const char		*json_type;	/* its Content-Type, a literal;
						 * NULL: application/json */
	const char		*etag, *lastmod; /* conditional GET */
	size_t			 max_body;	/* 0: body not wanted */
	unsigned		 timeout;	/* seconds, whole exchange */
};

/* cb runs once, never inside this call; status 0 and error set when no
 * HTTP response was read (connect, TLS or pin failure: then refusal is
 * the upstream's verdict, already logged). */
struct web_req	*web_request(struct server *, const char *url,
		    const struct web_opts *, http_cb cb, void *arg);
void		 web_cancel(struct web_req *);

#endif
