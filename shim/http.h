/*
 * http.h - a minimal HTTP/1.0 GET client for the feed fetcher.
 */
#ifndef PINSHIM_HTTP_H
#define PINSHIM_HTTP_H

#include <event2/event.h>

struct http_req;

struct http_result {
	int		 status;	/* 0 if none was read */
	const char	*error;		/* NULL: a complete response */
	char		*etag;		/* owned by the request */
	char		*last_modified;	/* owned by the request */
	struct evbuffer	*body;		/* 200 only; owned by the request */
};

typedef void (*http_cb)(struct http_result *, void *arg);

/* Takes ownership of fd. cb runs once, never from inside http_get; the
 * result is valid only during cb. */
struct http_req	*http_get(struct event_base *, int fd, const char *host,
		    const char *path, const char *etag,
		    const char *last_modified, size_t max_body,
		    unsigned timeout, http_cb cb, void *arg);
/* Any method; json (may be NULL) is sent as an application/json body.
 * max_body 0: the response body is not wanted. */
struct http_req	*http_request(struct event_base *, int fd, const char *method,
		    const char *host, const char *path, const char *etag,
		    const char *last_modified, const char *json,
		    size_t jsonlen, size_t max_body, unsigned timeout,
		    http_cb cb, void *arg);
void		 http_cancel(struct http_req *);

#endif
