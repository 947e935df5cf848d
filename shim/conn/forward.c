/*
 * forward.c - mode forward: an HTTP proxy. CONNECT host:port is refused
 * with an HTTP status when pinshim alone can tell (a bad request, a port
 * not in ports, a client outside allow, policy block); otherwise it is
 * answered 200, the app's ClientHello is read (its SNI must be the
 * CONNECT host), the leaf for the name made certain (cached, or minted
 * after a wait in the keeper's queue) and the upstream dialed with the
 * app's ALPN list, then intercepted. A refusal after the 200 (no leaf;
 * pins, DNS, connect, TLS) is a fatal handshake_failure alert to the
 * app: no application byte moves either way. An absolute-form http://
 * request goes out over pinned TLS to port 443 when the host's
 * [domain:...] says upgrade = yes, else 403. An upgraded request is one
 * exchange: its body (Content-Length bytes) follows it upstream, and
 * nothing after that does, so a request pipelined behind it never reaches
 * the upstream with the client's own Host; the upstream is asked to close
 * after its answer.
 *
 * The request head is peeked, parsed whole by net/http1.c, and consumed
 * once, exactly: the bytes after it (the ClientHello after a CONNECT, a
 * request body) stay in the socket for the next step.
 *
 * Must never: complete the app's TLS handshake before the upstream
 * verdict passed, answer 200 to a CONNECT its policy blocks, serve a
 * client outside allow, CONNECT to a port not in ports, forward a
 * header line pinshim did not parse, or forward a byte past the body of
 * the one upgraded request.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/parse.h"
#include "base/url.h"
#include "shim/conn/front.h"
#include "shim/conn/intercept.h"
#include "shim/listen/gate.h"
#include "shim/net/http1.h"

#define HEAD_MAX	8192		/* request line + headers */

/* Hop-by-hop and proxy headers an upgraded request does not carry on. */
static const char *const dropped[] = { "Host", "Proxy-Connection",
    "Connection", "Keep-Alive", "Proxy-Authorization" };

/* The ClientHello is in: dial with the app's ALPN list. */
static void
forward_dial(struct conn *c)
{
	conn_dial(c, NULL, intercept_accept);
}

/* Nothing local refuses: 200, then the app's TLS; from here a refusal
 * is a TLS alert. */
static void
forward_tunnel(struct conn *c)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	if (write(c->cfd, ok, sizeof(ok) - 1) != sizeof(ok) - 1) {
		conn_drop(c);
		return;
	}
	c->tls_answer = true;
	intercept_hello(c, forward_dial);
}

static void
forward_connect(struct conn *c, const struct cursor *target)
{
	char		 t[HOST_MAX + 16], host[HOST_MAX + 1];
	char		 canon[HOST_MAX + 1];
	const char	*why;
	struct verdict_policy vp;
	uint16_t	 port;
	size_t		 i;

	if (!cursor_str(target, t, sizeof(t)) ||
	    !parse_hostport(t, host, sizeof(host), &port)) {
		conn_refuse(c, 400, "bad-request", "CONNECT wants HOST:PORT");
		return;
	}
	if (!host_canon(host, canon, sizeof(canon), &why)) {
		conn_refuse(c, 400, "bad-request", why);
		return;
	}
	snprintf(c->host, sizeof(c->host), "%s", canon);
	c->port = port;
	for (i = 0; i < c->lc->nports; i++)
		if (c->lc->ports[i] == port)
			break;
	if (i == c->lc->nports) {
		conn_refuse(c, 403, "port-not-allowed", "CONNECT port not in "
		    "ports");
		return;
	}
	/* A policy block needs no upstream: the dial refuses it at once,
	 * logged, counted and answered (502) before any 200, as always. */
	snapshot_resolve(c->srv->snap, c->host, clock_now(), &vp);
	if (vp.policy == POLICY_BLOCK) {
		conn_dial(c, NULL, forward_tunnel);
		return;
	}
	forward_tunnel(c);
}

/* The upgraded request: origin-form, Host the name whose pins were
 * checked (never the client's: a shared front end routes on it), the
 * client's end-to-end headers, one exchange. */
static void
upgrade_request(struct conn *c, const struct http1_head *h,
    const struct url *u)
{
	struct cursor	 fields = h->fields, name, value;
	const char	*why;
	size_t		 i;

	c->pre = xptr(evbuffer_new());
	evbuffer_add(c->pre, h->method.p, h->method.left);
	evbuffer_add_printf(c->pre, " %s HTTP/1.1\r\nHost: %s\r\n", u->path,
	    c->host);
	while (http1_field(&fields, &name, &value, &why)) {
		for (i = 0; i < nitems(dropped); i++)
			if (cursor_eq_nocase(&name, dropped[i]))
				break;
		if (i < nitems(dropped))
			continue;
		evbuffer_add(c->pre, name.p, name.left);
		evbuffer_add(c->pre, ": ", 2);
		evbuffer_add(c->pre, value.p, value.left);
		evbuffer_add(c->pre, "\r\n", 2);
	}
	evbuffer_add_printf(c->pre, "Connection: close\r\n\r\n");
}

static void
forward_upgrade(struct conn *c, const struct http1_head *h)
{
	char			 target[HEAD_MAX], d[600], canon[HOST_MAX + 1];
	struct verdict_policy	 vp;
	struct url		 u;
	const char		*why;
	unsigned long		 body;
	bool			 coded;

	memset(&u, 0, sizeof(u));
	if (!cursor_str(&h->target, target, sizeof(target)) ||
	    !url_parse(target, &u, &why) || u.tls ||
	    !host_canon(u.host, canon, sizeof(canon), &why)) {
		url_free(&u);
		conn_refuse(c, 400, "bad-request", "want CONNECT host:port or "
		    "an absolute http:// URL");
		return;
	}
	snprintf(c->host, sizeof(c->host), "%s", canon);
	c->port = 443;
	snapshot_resolve(c->srv->snap, c->host, clock_now(), &vp);
	if (vp.rule == NULL || !vp.rule->upgrade || vp.policy == POLICY_BLOCK) {
		url_free(&u);
		snprintf(d, sizeof(d), "http://%s is not upgraded to https "
		    "(needs upgrade = yes in its [domain:...])", c->host);
		conn_refuse(c, 403, "no-upgrade", d);
		return;
	}
	/* the body's end is where the upstream stops hearing the client */
	if (!http1_body_len(h, &body, &coded, &why)) {
		url_free(&u);
		conn_refuse(c, coded ? 411 : 400, "bad-request", why);
		return;
	}
	upgrade_request(c, h, &u);
	url_free(&u);
	c->up_capped = true;
	c->up_max = body;
	conn_dial(c, NULL, conn_relay);
}

static void
head_timeout(struct conn *c)
{
	conn_refuse(c, 408, "client-timeout", "no complete request head "
	    "within handshake_timeout");
}

static void
forward_head(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	uint8_t			 buf[HEAD_MAX];
	struct http1_head	 h;
	const char		*why;
	ssize_t			 n;

	(void)what;
	if ((n = conn_peek(c, buf, sizeof(buf))) <= 0)
		return;
	switch (http1_request(buf, (size_t)n, &h, &why)) {
	case HTTP1_MORE:
		if ((size_t)n == sizeof(buf))
			conn_refuse(c, 431, "bad-request", "request head over "
			    "8 KiB");
		return;		/* edge-triggered: wait for more bytes */
	case HTTP1_BAD:
		conn_refuse(c, 400, "bad-request", why);
		return;
	case HTTP1_OK:
		break;
	}
	/* Consume the head, and only it: the same bytes land in buf again,
	 * so h's cursors stay valid. */
	if (recv(fd, buf, h.len, 0) != (ssize_t)h.len) {
		conn_drop(c);
		return;
	}
	if (cursor_eq(&h.method, "CONNECT"))
		forward_connect(c, &h.target);
	else
		forward_upgrade(c, &h);
}

void
forward_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct conn	*c;

	if ((c = conn_new(l, fd, sa, sizeof(struct icpt))) == NULL)
		return;
	if (!gate_allowed(c->lc, sa)) {
		conn_refuse(c, 403, "client-not-allowed", "client address not "
		    "in allow");
		return;
	}
	c->on_deadline = head_timeout;
	conn_wait(c, EV_READ | EV_ET | EV_PERSIST, forward_head,
	    conn_timeout(c));
}
