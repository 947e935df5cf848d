/*
 * web.c - one HTTP request to a URL, for pinshim's own traffic (the feed
 * fetch, pin-failure reports): parse the URL, open the upstream through
 * upstream.c with the caller's pins (plus, if asked, the snapshot's pins
 * for that host), carry TLS over a relay onto a socketpair, and let http.c
 * speak HTTP on the other end.
 *
 * libevent's evhttp client cannot run over pinshim's wolfSSL sessions,
 * which is why TLS stays in the relay. The relay half is registered as a
 * connection so process exit can stop it in any state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/http.h>

#include "log.h"
#include "relay.h"
#include "server.h"
#include "upstream.h"
#include "util.h"
#include "web.h"

struct web_req {
	struct server		*srv;
	char			*url;		/* owned */
	char			 host[HOST_MAX + 1];
	char			*path;		/* owned */
	uint16_t		 port;
	struct pinset		 pins;		/* owned */
	struct web_opts		 o;		/* strings copied below */
	char			*json;		/* owned */
	char			*etag, *lastmod; /* owned */
	struct upstream		*up;		/* pending, or NULL */
	struct http_req		*http;		/* pending, or NULL */
	struct event		*bad;		/* owned; deferred URL error */
	struct web_pipe		*pipe;		/* TLS half, while it runs */
	http_cb			 cb;
	void			*arg;
};

/* The TLS half: a relay between a socketpair end and the upstream. */
struct web_pipe {
	struct conn		 conn;		/* first */
	struct server		*srv;
	struct relay		*relay;
	struct web_req		*owner;		/* NULL once it let go */
};

void
web_cancel(struct web_req *w)
{
	if (w == NULL)
		return;
	/* The relay would otherwise wait for the server to close, however
	 * long a hung server takes: the exchange is over, so is it. */
	if (w->pipe != NULL) {
		w->pipe->owner = NULL;
		relay_abort(w->pipe->relay);
		w->pipe = NULL;
	}
	if (w->up != NULL)
		upstream_cancel(w->up);
	if (w->http != NULL)
		http_cancel(w->http);
	if (w->bad != NULL)
		event_free(w->bad);
	pinset_free(&w->pins);
	free(w->url);
	free(w->path);
	free(w->json);
	free(w->etag);
	free(w->lastmod);
	free(w);
}

/* Report a failure before any HTTP was spoken, then free. */
static void
web_fail(struct web_req *w, const char *why)
{
	struct http_result	 r;

	memset(&r, 0, sizeof(r));
	r.error = why;
	w->up = NULL;
	w->cb(&r, w->arg);
	web_cancel(w);
}

static void
web_http_done(struct http_result *r, void *arg)
{
	struct web_req	*w = arg;

	w->http = NULL;
	w->cb(r, w->arg);
	web_cancel(w);
}

static void
pipe_done(void *arg, const char *how, int failed, uint64_t up, uint64_t down)
{
	struct web_pipe	*p = arg;

	(void)failed;
	log_debug("web: connection %s (up=%llu down=%llu)", how,
	    (unsigned long long)up, (unsigned long long)down);
	if (p->owner != NULL)
		p->owner->pipe = NULL;
	server_conn_del(p->srv, &p->conn);
	free(p);
}

static void
pipe_abort(struct conn *c)
{
	relay_abort(((struct web_pipe *)c)->relay);
}

static void
web_connected(struct upstream_result *r, void *arg)
{
	struct web_req	*w = arg;
	struct server	*srv = w->srv;
	int		 sp[2], fd = r->fd;

	w->up = NULL;
	upstream_log(w->srv, r, w->o.label, "-", w->host, w->port);
	if (r->fail != UP_OK) {
		char why[600];

		snprintf(why, sizeof(why), "%s: %s", r->reason, r->detail);
		web_fail(w, why);
		return;
	}
	if (r->ssl != NULL) {
		struct web_pipe *p;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sp) == -1) {
			wolfSSL_free(r->ssl);
			close(r->fd);
			web_fail(w, strerror(errno));
			return;
		}
		p = xcalloc(1, sizeof(*p));
		p->srv = srv;
		p->owner = w;
		p->conn.abort = pipe_abort;
		server_conn_add(srv, &p->conn);
		p->relay = relay_start(srv->base, sp[0], NULL, r->fd, r->ssl,
		    pipe_done, p);
		w->pipe = p;
		fd = sp[1];
	}
	w->http = http_request(srv->base, fd, w->o.method, w->host, w->path,
	    w->etag, w->lastmod, w->json, w->o.jsonlen, w->o.max_body,
	    w->o.timeout, web_http_done, w);
}

/* Deferred so cb never runs inside web_request(). */
static void
web_bad_url(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	web_fail(arg, "unusable URL");
}

struct web_req *
web_request(struct server *srv, const char *url, const struct web_opts *o,
    http_cb cb, void *arg)
{
	struct web_req		*w = xcalloc(1, sizeof(*w));
	struct evhttp_uri	*u;
	struct upstream_opts	 uo;
	struct verdict_policy	 vp;
	const char		*why, *h, *q;
	bool			 tls;
	int			 port;
	size_t			 i;

	w->srv = srv;
	w->o = *o;
	w->cb = cb;
	w->arg = arg;
	w->url = xstrdup(url);
	if (o->json != NULL) {
		w->json = xcalloc(1, o->jsonlen + 1);
		memcpy(w->json, o->json, o->jsonlen);
	}
	w->etag = o->etag ? xstrdup(o->etag) : NULL;
	w->lastmod = o->lastmod ? xstrdup(o->lastmod) : NULL;
	if ((u = evhttp_uri_parse_with_flags(url, 0)) == NULL ||
	    evhttp_uri_get_scheme(u) == NULL ||
	    (h = evhttp_uri_get_host(u)) == NULL ||
	    (!host_is_ip(h) && !host_normalize(h, w->host, sizeof(w->host),
	    &why))) {
		if (u != NULL)
			evhttp_uri_free(u);
		if ((w->bad = event_new(srv->base, -1, 0, web_bad_url, w)) ==
		    NULL)
			abort();
		event_active(w->bad, 0, 0);
		return w;
	}
	if (host_is_ip(h))
		snprintf(w->host, sizeof(w->host), "%s", h);
	tls = strcmp(evhttp_uri_get_scheme(u), "https") == 0;
	port = evhttp_uri_get_port(u);
	w->port = (uint16_t)(port > 0 ? port : tls ? 443 : 80);
	q = evhttp_uri_get_query(u);
	w->path = xcalloc(1, strlen(evhttp_uri_get_path(u)) + 2 +
	    (q ? strlen(q) + 1 : 0));
	sprintf(w->path, "%s%s%s", *evhttp_uri_get_path(u) ?
	    evhttp_uri_get_path(u) : "/", q ? "?" : "", q ? q : "");
	evhttp_uri_free(u);

	/* The caller's pins, and the snapshot's for this host if asked:
	 * pinned when there are any, CA-checked otherwise. */
	for (i = 0; o->pins != NULL && i < o->pins->n; i++)
		pinset_add(&w->pins, &o->pins->pins[i]);
	if (o->snapshot_pins) {
		snapshot_resolve(srv->snap, w->host, time(NULL), &vp);
		if (vp.rule != NULL && (vp.policy == POLICY_PIN ||
		    vp.policy == POLICY_PIN_ONLY))
			for (i = 0; i < vp.rule->pins.n; i++)
				pinset_add(&w->pins, &vp.rule->pins.pins[i]);
	}
	memset(&uo, 0, sizeof(uo));
	uo.plain = !tls;
	uo.policy = w->pins.n > 0 ? POLICY_PIN : POLICY_CA;
	uo.pins = &w->pins;
	log_debug("web: %s %s", o->method, url);
	w->up = upstream_open(srv, w->host, w->port, &uo, web_connected, w);
	return w;
}
