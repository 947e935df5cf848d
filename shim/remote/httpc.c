/*
 * httpc.c - one HTTP/1.0 exchange over a connected socket. libevent's
 * evhttp client cannot run over pinshim's own wolfSSL sessions, so TLS
 * stays in a relay (web.c, and the monitor's probe.c, hand us one end of
 * a socketpair) and this file only speaks HTTP: HTTP/1.0 so no chunked
 * encoding, conditional headers, a status line, headers, and a body read
 * until EOF or Content-Length.
 *
 * Everything from the server is untrusted: the head is parsed by
 * net/http1.c through the cursor and capped at HTTP_HEAD_MAX, the body at
 * the caller's limit, and the whole exchange at the caller's timeout.
 *
 * Must never: buffer more than HTTP_HEAD_MAX + max_body bytes, or keep a
 * header value that holds a control byte.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/mem.h"
#include "base/parse.h"
#include "shim/net/http1.h"
#include "shim/remote/httpc.h"

#define HTTP_HEAD_MAX	(16 * 1024)

struct httpc {
	struct bufferevent	*bev;		/* owned, closes the fd */
	struct event		*deadline;	/* owned */
	bool			 in_body;
	size_t			 max_body;
	long long		 content_length; /* -1: until EOF */
	struct http_result	 res;
	http_cb			 cb;
	void			*arg;
};

static void
httpc_free(struct httpc *h)
{
	if (h->bev != NULL)
		bufferevent_free(h->bev);
	if (h->deadline != NULL)
		event_free(h->deadline);
	if (h->res.body != NULL)
		evbuffer_free(h->res.body);
	free(h->res.etag);
	free(h->res.last_modified);
	free(h);
}

static void
httpc_done(struct httpc *h, const char *err)
{
	h->res.error = err;
	h->cb(&h->res, h->arg);
	httpc_free(h);
}

/* One response header; false: the response is refused. */
static bool
httpc_field(struct httpc *h, const struct cursor *name,
    const struct cursor *value)
{
	char		 v[1024];
	unsigned long	 n;

	if (cursor_eq_nocase(name, "Transfer-Encoding"))
		return false;	/* not for HTTP/1.0 requests */
	if (!cursor_str(value, v, sizeof(v)))
		return !cursor_eq_nocase(name, "Content-Length");
	if (cursor_eq_nocase(name, "Content-Length")) {
		if (!parse_uint(v, 0, (unsigned long)h->max_body + 1, &n))
			n = (unsigned long)h->max_body + 1; /* too big: caught */
		h->content_length = (long long)n;
	} else if (cursor_eq_nocase(name, "ETag")) {
		free(h->res.etag);
		h->res.etag = xstrdup(v);
	} else if (cursor_eq_nocase(name, "Last-Modified")) {
		free(h->res.last_modified);
		h->res.last_modified = xstrdup(v);
	}
	return true;
}

/* The head, once it is all there. NULL: keep reading; else the outcome
 * ("" when the body follows). */
static const char *
httpc_head(struct httpc *h, struct evbuffer *in, bool eof)
{
	size_t			 have = evbuffer_get_length(in);
	size_t			 n = have < HTTP_HEAD_MAX ? have : HTTP_HEAD_MAX;
	struct http1_head	 hd;
	struct cursor		 fields, name, value;
	const char		*why;

	switch (http1_response(evbuffer_pullup(in, (ev_ssize_t)n), n, &hd,
	    &why)) {
	case HTTP1_MORE:
		if (have >= HTTP_HEAD_MAX)
			return "response head too large";
		return eof ? "connection closed in the response head" : NULL;
	case HTTP1_BAD:
		return why;
	case HTTP1_OK:
		break;
	}
	h->res.status = hd.status;
	fields = hd.fields;
	while (http1_field(&fields, &name, &value, &why))
		if (!httpc_field(h, &name, &value))
			return "malformed or unsupported header";
	if (why != NULL)
		return "malformed or unsupported header";
	evbuffer_drain(in, hd.len);
	h->in_body = true;
	/* Only a body that is wanted has a limit (a report's 200 may carry
	 * one; nobody reads it). */
	if (h->max_body > 0 && h->res.status == 200 &&
	    h->content_length > (long long)h->max_body)
		return "body larger than the size limit";
	return "";
}

/* The body so far; NULL: keep reading, else the outcome. */
static const char *
httpc_body(struct httpc *h, struct evbuffer *in, bool eof)
{
	size_t	 have;

	evbuffer_add_buffer(h->res.body, in);
	have = evbuffer_get_length(h->res.body);
	if (have > h->max_body)
		return "body larger than the size limit";
	if (h->content_length >= 0 && have >= (size_t)h->content_length)
		return have > (size_t)h->content_length ?
		    "more bytes than Content-Length" : "";
	if (eof)
		return h->content_length >= 0 ?
		    "connection closed before Content-Length bytes" : "";
	return NULL;
}

static void
httpc_parse(struct httpc *h, bool eof)
{
	struct evbuffer	*in = bufferevent_get_input(h->bev);
	const char	*out;

	if (!h->in_body) {
		if ((out = httpc_head(h, in, eof)) == NULL)
			return;
		if (*out != '\0') {
			httpc_done(h, out);
			return;
		}
	}
	if (h->res.status != 200 || h->max_body == 0) {
		httpc_done(h, NULL);	/* 304, errors, POST acks: no body */
		return;
	}
	if ((out = httpc_body(h, in, eof)) != NULL)
		httpc_done(h, *out != '\0' ? out : NULL);
}

static void
httpc_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	httpc_parse(arg, false);
}

static void
httpc_event(struct bufferevent *bev, short what, void *arg)
{
	struct httpc	*h = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		httpc_parse(h, true);
	else if (what & BEV_EVENT_ERROR)
		httpc_done(h, "connection reset or failed");
}

static void
httpc_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	httpc_done(arg, "timed out");
}

struct httpc *
httpc_start(struct event_base *base, int fd, const struct httpc_req *r,
    http_cb cb, void *arg)
{
	struct httpc	*h = xcalloc(1, sizeof(*h));
	struct timeval	 tv = { (time_t)r->timeout, 0 };
	struct evbuffer	*out;

	h->cb = cb;
	h->arg = arg;
	h->max_body = r->max_body;
	h->content_length = -1;
	h->res.body = xptr(evbuffer_new());
	h->bev = xptr(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
	h->deadline = xptr(evtimer_new(base, httpc_timeout, h));
	out = bufferevent_get_output(h->bev);
	evbuffer_add_printf(out, "%s %s HTTP/1.0\r\nHost: %s\r\n"
	    "User-Agent: %s\r\nAccept: */*\r\n", r->method, r->path,
	    r->host, r->agent != NULL ? r->agent : "pinshim");
	if (r->json != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n"
		    "Content-Length: %zu\r\n", r->json_type != NULL ?
		    r->json_type : "application/json", r->jsonlen);
	if (r->etag != NULL)
		evbuffer_add_printf(out, "If-None-Match: %s\r\n", r->etag);
	if (r->last_modified != NULL)
		evbuffer_add_printf(out, "If-Modified-Since: %s\r\n",
		    r->last_modified);
	evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	if (r->json != NULL)
		evbuffer_add(out, r->json, r->jsonlen);
	bufferevent_setcb(h->bev, httpc_read, NULL, httpc_event, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
	evtimer_add(h->deadline, &tv);
	return h;
}

void
httpc_cancel(struct httpc *h)
{
	if (h != NULL)
		httpc_free(h);
}
