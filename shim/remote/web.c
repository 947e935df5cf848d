/*
 * web.c - one HTTP request to a URL, for pinshim's own traffic (the feed
 * fetch, pin-failure reports): parse the URL, open the upstream through
 * net/upstream.c with the caller's pins (plus, if asked, the snapshot's
 * pins for that host), carry TLS over a relay onto a socketpair, and let
 * httpc.c speak HTTP on the other end.
 *
 * libevent's evhttp client cannot run over pinshim's wolfSSL sessions,
 * which is why TLS stays in the relay. The relay half is registered as
 * live so process exit can stop it in any state.
 *
 * Must never: send a request before the upstream verdict passed, or fall
 * back to weaker checking than the caller asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/url.h"
#include "shim/net/relay.h"
#include "shim/net/upstream.h"
#include "shim/remote/web.h"
#include "shim/proc/server.h"

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
	struct httpc		*http;		/* pending, or NULL */
	struct event		*bad;		/* owned; deferred URL error */
	struct web_pipe		*pipe;		/* TLS half, while it runs */
	http_cb			 cb;
	void			*arg;
};

/* The TLS half: a relay between a socketpair end and the upstream. */
struct web_pipe {
	struct live		 live;		/* first */
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
		relay_abort(w->pipe->relay, "cancelled");
		w->pipe = NULL;
	}
	if (w->up != NULL)
		upstream_cancel(w->up);
	if (w->http != NULL)
		httpc_cancel(w->http);
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
web_fail(struct web_req *w, const char *why,
    const struct upstream_result *refusal)
{
	struct http_result	 r;

	memset(&r, 0, sizeof(r));
	r.error = why;
	r.refusal = refusal;
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
	server_live_del(p->srv, &p->live);
	free(p);
}

static void
pipe_abort(struct live *lv)
{
	relay_abort(((struct web_pipe *)lv)->relay, "shutting down");
}

/* The TLS half: a relay from the upstream onto a socketpair. The end
 * for httpc.c, or -1 with errno (r's fd and session still the caller's). */
static int
web_pipe_start(struct web_req *w, struct upstream_result *r)
{
	struct web_pipe	*p = xcalloc(1, sizeof(*p));
	int		 fd, err;

	if ((fd = relay_socketpair(w->srv->base, r->fd, r->ssl, pipe_done, p,
	    &p->relay)) == -1) {
		err = errno;
		free(p);
		errno = err;
		return -1;
	}
	p->srv = w->srv;
	p->owner = w;
	p->live.abort = pipe_abort;
	server_live_add(w->srv, &p->live);	/* done runs later, not yet */
	w->pipe = p;
	return fd;
}

static void
web_connected(struct upstream_result *r, void *arg)
{
	struct web_req	*w = arg;
	struct httpc_req hr;
	int		 fd = r->fd;

	w->up = NULL;
	upstream_log(r, w->o.label, "-", w->host, w->port,
	    !w->srv->conf->log_refusals_only);
	if (r->fail != UP_OK) {
		char why[600];

		snprintf(why, sizeof(why), "%s: %s", r->reason, r->detail);
		web_fail(w, why, r);
		return;
	}
	if (r->ssl != NULL && (fd = web_pipe_start(w, r)) == -1) {
		const char *why = strerror(errno);

		tls_session_free(r->ssl);
		close(r->fd);
		web_fail(w, why, NULL);
		return;
	}
	memset(&hr, 0, sizeof(hr));
	hr.method = w->o.method;
	hr.host = w->host;
	hr.path = w->path;
	hr.etag = w->etag;
	hr.last_modified = w->lastmod;
	hr.json = w->json;
	hr.jsonlen = w->o.jsonlen;
	hr.json_type = w->o.json_type;
	hr.max_body = w->o.max_body;
	hr.timeout = w->o.timeout;
	w->http = httpc_start(w->srv->base, fd, &hr, web_http_done, w);
}

/* Deferred so cb never runs inside web_request(). */
static void
web_bad_url(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	web_fail(arg, "unusable URL", NULL);
}

/* The caller's pins, and the snapshot's for this host if asked: pinned
 * when there are any, CA-checked otherwise. */
static void
web_pins(struct web_req *w, const struct web_opts *o)
{
	struct verdict_policy	 vp;
	size_t			 i;

	for (i = 0; o->pins != NULL && i < o->pins->n; i++)
		pinset_add(&w->pins, &o->pins->pins[i]);
	if (!o->snapshot_pins)
		return;
	snapshot_resolve(w->srv->snap, w->host, clock_now(), &vp);
	if (vp.rule != NULL && (vp.policy == POLICY_PIN ||
	    vp.policy == POLICY_PIN_ONLY))
		for (i = 0; i < vp.rule->pins.n; i++)
			pinset_add(&w->pins, &vp.rule->pins.pins[i]);
}

struct web_req *
web_request(struct server *srv, const char *url, const struct web_opts *o,
    http_cb cb, void *arg)
{
	struct web_req		*w = xcalloc(1, sizeof(*w));
	struct upstream_opts	 uo;
	struct url		 u;
	const char		*why;

	w->srv = srv;
	w->o = *o;
	w->cb = cb;
	w->arg = arg;
	w->url = xstrdup(url);
	if (o->json != NULL)
		w->json = xmemdup(o->json, o->jsonlen);
	w->etag = o->etag ? xstrdup(o->etag) : NULL;
	w->lastmod = o->lastmod ? xstrdup(o->lastmod) : NULL;
	if (!url_parse(url, &u, &why) ||
	    !host_canon(u.host, w->host, sizeof(w->host), &why)) {
		url_free(&u);
		w->bad = xptr(event_new(srv->base, -1, 0, web_bad_url, w));
		event_active(w->bad, 0, 0);
		return w;
	}
	w->port = u.port;
	w->path = u.path;		/* taken over */
	web_pins(w, o);
	memset(&uo, 0, sizeof(uo));
	uo.plain = !u.tls;
	uo.policy = w->pins.n > 0 ? POLICY_PIN : POLICY_CA;
	uo.pins = &w->pins;
	/* [feed] proxy governs pinshim's own requests, else [upstream]'s */
	uo.proxy = conf_proxy(srv->conf, &srv->conf->feed.proxy, w->host);
	log_debug("web: %s %s", o->method, url);
	w->up = upstream_open(srv, w->host, w->port, &uo, web_connected, w);
	return w;
}
