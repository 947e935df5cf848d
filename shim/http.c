/*
 * http.c - one HTTP/1.0 GET over an already connected socket, for the feed
 * fetcher. libevent's evhttp client cannot run over pinshim's own wolfSSL
 * sessions, so TLS stays in the relay (the caller hands us one end of a
 * socketpair) and this file only speaks HTTP: HTTP/1.0 so no chunked
 * encoding, conditional headers, a status line, headers, and a body read
 * until EOF or Content-Length.
 *
 * Everything from the server is untrusted: lines are read with evbuffer's
 * bounded readln, the head is capped at HTTP_HEAD_MAX, the body at the
 * caller's limit, and the whole exchange at the caller's timeout.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "http.h"
#include "util.h"

#define HTTP_HEAD_MAX	(16 * 1024)

enum { H_STATUS, H_HEADERS, H_BODY };

struct http_req {
	struct bufferevent	*bev;		/* owned, closes the fd */
	struct event		*deadline;	/* owned */
	int			 state;
	size_t			 head_bytes;
	size_t			 max_body;
	long long		 content_length; /* -1: until EOF */
	struct http_result	 res;
	http_cb			 cb;
	void			*arg;
};

static void
http_free(struct http_req *h)
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
http_done(struct http_req *h, const char *err)
{
	h->res.error = err;
	h->cb(&h->res, h->arg);
	http_free(h);
}

static bool
parse_status(struct http_req *h, const char *line)
{
	unsigned long	 code;
	char		 num[4];

	/* "HTTP/1.x NNN reason" */
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12 ||
	    line[8] != ' ' || (line[12] != ' ' && line[12] != '\0'))
		return false;
	memcpy(num, line + 9, 3);
	num[3] = '\0';
	if (!parse_uint(num, 100, 599, &code))
		return false;
	h->res.status = (int)code;
	return true;
}

static bool
parse_header(struct http_req *h, char *line)
{
	char	*colon = strchr(line, ':'), *v;

	if (colon == NULL || colon == line)
		return false;
	*colon = '\0';
	v = colon + 1 + strspn(colon + 1, " \t");
	v[strcspn(v, "\r\n")] = '\0';
	if (strcasecmp(line, "Content-Length") == 0) {
		unsigned long n;

		if (!parse_uint(v, 0, (unsigned long)h->max_body + 1, &n))
			n = (unsigned long)h->max_body + 1; /* too big: caught */
		h->content_length = (long long)n;
	} else if (strcspn(v, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b"
	    "\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"
	    "\x1a\x1b\x1c\x1d\x1e\x1f\x7f\r") != strlen(v)) {
		return true;	/* never echo control bytes back in a header */
	} else if (strcasecmp(line, "ETag") == 0) {
		free(h->res.etag);
		h->res.etag = xstrdup(v);
	} else if (strcasecmp(line, "Last-Modified") == 0) {
		free(h->res.last_modified);
		h->res.last_modified = xstrdup(v);
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		return false;	/* not for HTTP/1.0 requests */
	}
	return true;
}

/* false: finished (h freed). */
static bool
http_parse(struct http_req *h, bool eof)
{
	struct evbuffer	*in = bufferevent_get_input(h->bev);

	while (h->state != H_BODY) {
		size_t	 n;
		char	*line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

		if (line == NULL) {
			if (evbuffer_get_length(in) + h->head_bytes >
			    HTTP_HEAD_MAX) {
				http_done(h, "response head too large");
				return false;
			}
			if (eof) {
				http_done(h, "connection closed in the "
				    "response head");
				return false;
			}
			return true;
		}
		h->head_bytes += n + 2;
		if (h->head_bytes > HTTP_HEAD_MAX) {
			free(line);
			http_done(h, "response head too large");
			return false;
		}
		if (h->state == H_STATUS) {
			bool ok = parse_status(h, line);

			free(line);
			if (!ok) {
				http_done(h, "not an HTTP response");
				return false;
			}
			h->state = H_HEADERS;
		} else if (n == 0) {
			free(line);
			h->state = H_BODY;
			if (h->content_length > (long long)h->max_body) {
				http_done(h, "body larger than the size limit");
				return false;
			}
		} else {
			bool ok = parse_header(h, line);

			free(line);
			if (!ok) {
				http_done(h, "malformed or unsupported header");
				return false;
			}
		}
	}
	if (h->res.status != 200 || h->max_body == 0) {
		http_done(h, NULL);	/* 304, errors, POST acks: no body */
		return false;
	}
	evbuffer_add_buffer(h->res.body, in);
	if (evbuffer_get_length(h->res.body) > h->max_body) {
		http_done(h, "body larger than the size limit");
		return false;
	}
	if (h->content_length >= 0 &&
	    evbuffer_get_length(h->res.body) >= (size_t)h->content_length) {
		if (evbuffer_get_length(h->res.body) >
		    (size_t)h->content_length) {
			http_done(h, "more bytes than Content-Length");
			return false;
		}
		http_done(h, NULL);
		return false;
	}
	if (eof) {
		http_done(h, h->content_length >= 0 ?
		    "connection closed before Content-Length bytes" : NULL);
		return false;
	}
	return true;
}

static void
http_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_parse(arg, false);
}

static void
http_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_req	*h = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		http_parse(h, true);
	else if (what & BEV_EVENT_ERROR)
		http_done(h, "connection reset or failed");
}

static void
http_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_done(arg, "timed out");
}

struct http_req *
http_get(struct event_base *base, int fd, const char *host, const char *path,
    const char *etag, const char *last_modified, size_t max_body,
    unsigned timeout, http_cb cb, void *arg)
{
	return http_request(base, fd, "GET", host, path, etag, last_modified,
	    NULL, 0, max_body, timeout, cb, arg);
}

struct http_req *
http_request(struct event_base *base, int fd, const char *method,
    const char *host, const char *path, const char *etag,
    const char *last_modified, const char *json, size_t jsonlen,
    size_t max_body, unsigned timeout, http_cb cb, void *arg)
{
	struct http_req	*h = xcalloc(1, sizeof(*h));
	struct timeval	 tv = { (time_t)timeout, 0 };
	struct evbuffer	*out;

	h->cb = cb;
	h->arg = arg;
	h->max_body = max_body;
	h->content_length = -1;
	h->res.body = evbuffer_new();
	h->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	h->deadline = evtimer_new(base, http_timeout, h);
	if (h->res.body == NULL || h->bev == NULL || h->deadline == NULL)
		abort();
	out = bufferevent_get_output(h->bev);
	evbuffer_add_printf(out, "%s %s HTTP/1.0\r\nHost: %s\r\n"
	    "User-Agent: pinshim\r\nAccept: */*\r\n", method, path, host);
	if (json != NULL)
		evbuffer_add_printf(out, "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n", jsonlen);
	if (etag != NULL)
		evbuffer_add_printf(out, "If-None-Match: %s\r\n", etag);
	if (last_modified != NULL)
		evbuffer_add_printf(out, "If-Modified-Since: %s\r\n",
		    last_modified);
	evbuffer_add_printf(out, "Connection: close\r\n\r\n");
	if (json != NULL)
		evbuffer_add(out, json, jsonlen);
	bufferevent_setcb(h->bev, http_read, NULL, http_event, h);
	bufferevent_enable(h->bev, EV_READ | EV_WRITE);
	evtimer_add(h->deadline, &tv);
	return h;
}

void
http_cancel(struct http_req *h)
{
	if (h != NULL)
		http_free(h);
}
