/*
 * proxy.c - ask an HTTP proxy for a tunnel (RFC 9110 CONNECT) on a socket
 * already connected to it, for upstream.c: the request, the answer read
 * without blocking under a deadline, and the verdict on the answer.
 *
 * The answer head is read by peeking and then consuming exactly the bytes
 * the head has: whatever the proxy sends after its 200 is already the
 * target's (its TLS ServerHello, for a server that speaks first) and must
 * stay in the socket for the TLS session. The head is parsed by the same
 * strict parser as pinshim's other HTTP heads (http1.c); libevent's
 * parser only works inside an evhttp connection, which a CONNECT tunnel
 * handed on to wolfSSL cannot be.
 *
 * Must never: read a byte past the answer head, wait for the proxy longer
 * than the deadline, or take anything but 200 as an open tunnel.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/cursor.h"
#include "base/mem.h"
#include "shim/net/proxy.h"

#define PROXY_REQ_MAX	1024

struct proxy_xchg {
	int		 fd;		/* borrowed */
	struct event	*io;		/* owned */
	struct event	*deadline;	/* owned */
	char		 name[300];	/* "HOST:PORT" of the proxy */
	char		 out[PROXY_REQ_MAX];
	size_t		 outlen, sent;
	uint8_t		 in[PROXY_HEAD_MAX]; /* the head read so far */
	size_t		 inlen;
	unsigned long	 timeout;
	proxy_cb	 cb;
	void		*arg;
};

size_t
proxy_request(char *buf, size_t sz, const char *host, uint16_t port,
    const char *auth)
{
	char	 target[300];
	int	 n;

	/* an IPv6 literal (transparent mode, no SNI) in brackets */
	n = snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%u" :
	    "%s:%u", host, port);
	if (n < 0 || (size_t)n >= sizeof(target))
		return 0;
	n = snprintf(buf, sz, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
	    target, target, auth ? "Proxy-Authorization: Basic " : "",
	    auth ? auth : "", auth ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sz)
		return 0;
	return (size_t)n;
}

enum http1_result
proxy_answer(const void *buf, size_t len, int *status, size_t *headlen,
    char *line, size_t linesz, const char **why)
{
	struct http1_head	 h;
	struct cursor		 c, first;
	enum http1_result	 r;
	size_t			 i;

	/* Not an HTTP proxy (a TLS server, say): no need to wait for a line
	 * end that will never come. */
	if (memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0) {
		*why = "not an HTTP response";
		return HTTP1_BAD;
	}
	if ((r = http1_response(buf, len, &h, why)) != HTTP1_OK)
		return r;
	cursor_init(&c, buf, h.len);
	(void)cursor_line(&c, &first);	/* http1_response read it */
	if (linesz > 0) {
		if (first.left >= linesz)
			first.left = linesz - 1;
		(void)cursor_str(&first, line, linesz);
		/* http1.c let only HTAB through; the log quotes details */
		for (i = 0; line[i] != '\0'; i++)
			if (line[i] == '"' || line[i] == '\\' ||
			    line[i] == '\t')
				line[i] = '\'';
	}
	*status = h.status;
	*headlen = h.len;
	return HTTP1_OK;
}

void
proxy_cancel(struct proxy_xchg *x)
{
	if (x == NULL)
		return;
	if (x->io != NULL)
		event_free(x->io);
	if (x->deadline != NULL)
		event_free(x->deadline);
	/* the request may hold credentials */
	explicit_bzero(x->out, sizeof(x->out));
	free(x);
}

/* Free x, then tell its owner. */
static void
proxy_done(struct proxy_xchg *x, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
proxy_done(struct proxy_xchg *x, const char *reason, const char *fmt, ...)
{
	proxy_cb	 cb = x->cb;
	void		*arg = x->arg;
	char		 detail[512];
	va_list		 ap;

	detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	proxy_cancel(x);
	cb(reason, detail, arg);
}

/* The answer, up to the end of its head and not a byte further. */
static void
proxy_read(struct proxy_xchg *x)
{
	char		 line[256];
	const char	*why;
	size_t		 headlen = 0;
	ssize_t		 n;
	int		 status = 0;

	n = recv(x->fd, x->in + x->inlen, sizeof(x->in) - x->inlen, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proxy_done(x, "proxy-failed", "proxy %s %s before its answer "
		    "to CONNECT", x->name, n == 0 ? "closed the connection" :
		    strerror(errno));
		return;
	}
	switch (proxy_answer(x->in, x->inlen + (size_t)n, &status, &headlen,
	    line, sizeof(line), &why)) {
	case HTTP1_MORE:
		if (x->inlen + (size_t)n == sizeof(x->in)) {
			proxy_done(x, "proxy-failed", "proxy %s: answer head "
			    "longer than %d bytes", x->name, PROXY_HEAD_MAX);
			return;
		}
		/* all of it is head: take it out of the socket */
		headlen = x->inlen + (size_t)n;
		break;
	case HTTP1_BAD:
		proxy_done(x, "proxy-failed", "proxy %s: %s in its answer to "
		    "CONNECT", x->name, why);
		return;
	case HTTP1_OK:
		break;
	}
	/* Consume exactly what was peeked and belongs to the head. */
	n = recv(x->fd, x->in + x->inlen, headlen - x->inlen, 0);
	if (n != (ssize_t)(headlen - x->inlen)) {
		proxy_done(x, "proxy-failed", "proxy %s: %s", x->name, n == -1 ?
		    strerror(errno) : "answer shorter than peeked");
		return;
	}
	x->inlen = headlen;
	if (status == 0)
		return;			/* the head goes on */
	if (status == 200)
		proxy_done(x, NULL, NULL);
	else
		proxy_done(x, "proxy-refused", "proxy %s answered: %s",
		    x->name, line);
}

static void
proxy_io(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_xchg	*x = arg;
	ssize_t			 n;

	(void)fd;
	if (what & EV_READ) {
		proxy_read(x);
		return;
	}
	n = send(x->fd, x->out + x->sent, x->outlen - x->sent, MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		proxy_done(x, "proxy-failed", "proxy %s: sending CONNECT: %s",
		    x->name, strerror(errno));
		return;
	}
	x->sent += (size_t)n;
	if (x->sent < x->outlen)
		return;
	explicit_bzero(x->out, sizeof(x->out));
	event_del(x->io);
	event_assign(x->io, event_get_base(x->io), x->fd, EV_READ | EV_PERSIST,
	    proxy_io, x);
	event_add(x->io, NULL);
}

static void
proxy_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_xchg	*x = arg;

	(void)fd;
	(void)what;
	if (x->outlen == 0)
		proxy_done(x, "proxy-failed", "CONNECT request for proxy %s "
		    "too long", x->name);
	else
		proxy_done(x, "proxy-failed", "no answer to CONNECT from "
		    "proxy %s within %lus (connect_timeout)", x->name,
		    x->timeout);
}

struct proxy_xchg *
proxy_start(struct event_base *base, int fd, const char *name,
    const char *host, uint16_t port, const char *auth, unsigned long timeout,
    proxy_cb cb, void *arg)
{
	struct proxy_xchg	*x = xcalloc(1, sizeof(*x));
	struct timeval		 tv = { (time_t)timeout, 0 };

	x->fd = fd;
	x->cb = cb;
	x->arg = arg;
	x->timeout = timeout;
	snprintf(x->name, sizeof(x->name), "%s", name);
	/* fits: host is at most HOST_MAX, auth bounded by conf.c */
	x->outlen = proxy_request(x->out, sizeof(x->out), host, port, auth);
	x->io = xptr(event_new(base, fd, EV_WRITE | EV_PERSIST, proxy_io, x));
	x->deadline = xptr(evtimer_new(base, proxy_deadline, x));
	evtimer_add(x->deadline, &tv);
	if (x->outlen == 0) {
		/* unreachable; fail closed, from the loop, not from here */
		tv.tv_sec = 0;
		evtimer_add(x->deadline, &tv);
		return x;
	}
	event_add(x->io, NULL);
	return x;
}
