/*
 * httpc.h - one HTTP/1.0 request over an already connected socket, for
 * pinshim's own traffic (feed fetches, reports, the monitor's --url).
 */
#ifndef PINSHIM_REMOTE_HTTPC_H
#define PINSHIM_REMOTE_HTTPC_H

#include <stddef.h>

#include <event2/event.h>

struct httpc;
struct upstream_result;

struct http_result {
	int		 status;	/* 0 if none was read */
	const char	*error;		/* NULL: a complete response */
	char		*etag;		/* owned by the request */
	char		*last_modified;	/* owned by the request */
	struct evbuffer	*body;		/* 200 only; owned by the request */
	/* before any HTTP: the upstream refusal, if that was the cause
	 * (borrowed, valid during the callback), else NULL */
	const struct upstream_result *refusal;
};

typedef void (*http_cb)(struct http_result *, void *arg);

struct httpc_req {
	const char	*method;	/* "GET", "POST" */
	const char	*host;		/* Host: */
	const char	*path;
	const char	*agent;		/* User-Agent; NULL: "pinshim" */
	const char	*etag;		/* If-None-Match, or NULL */
	const char	*last_modified;	/* If-Modified-Since, or NULL */
	const char	*json;		/* an application/json body, or NULL */
	size_t		 jsonlen;
	const char	*json_type;	/* NULL: application/json */
	size_t		 max_body;	/* 0: the response body is not wanted */
	unsigned	 timeout;	/* seconds, the whole exchange */
};

/* Takes ownership of fd; the strings are used during the call only. cb runs
 * once, never from inside this call; the result is valid only during cb. */
struct httpc	*httpc_start(struct event_base *, int fd,
		    const struct httpc_req *, http_cb cb, void *arg);
void		 httpc_cancel(struct httpc *);

#endif
