/*
 * upstream.c - originate one pinned upstream connection, without ever
 * blocking the loop: evdns resolves under the connect timeout, the
 * addresses are raced the RFC 8305 way under it too (dial.c), wolfSSL's
 * handshake is driven by WANT_READ/WANT_WRITE
 * events under a handshake timeout, and the verdict is computed the moment
 * the handshake ends, before the caller may move a single application byte.
 *
 * The policy is resolved once, from the snapshot current when the attempt
 * starts; the snapshot is held until the verdict so the pins it lends to the
 * verify step cannot go away mid-handshake.
 *
 * A device identity (client_cert, conf->idents) goes on the session right
 * after it is made; its chain is then judged in the verify callback,
 * before the client's Certificate can go out, and its CertificateVerify
 * is signed by the keeper (keeper_sign: the one bounded wait of the
 * loop). With TLS 1.3 a server that asked for a client certificate says
 * whether it took it only after the handshake: the verdict waits for its
 * next record (up_hold).
 *
 * Must never: hand over a connection whose verdict did not pass, or block
 * the loop (but for keeper_sign's bounded wait).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/util.h>

#include "base/addr.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "base/sock.h"
#include "pins/tofu.h"
#include "shim/keeper/keeper.h"
#include "shim/status/metrics.h"
#include "shim/net/dial.h"
#include "shim/net/proxy.h"
#include "shim/net/upstream.h"
#include "shim/proc/server.h"
#include "shim/proc/tofusync.h"

enum up_state { ST_BLOCKED, ST_RESOLVE, ST_CONNECT, ST_HANDSHAKE, ST_HOLD,
	ST_DONE };

/* TLS 1.3 with a client certificate asked for: how long the verdict waits
 * for the server's first record after its Finished (twice the handshake's
 * time, within these bounds). */
#define UP_HOLD_MIN_MS	100
#define UP_HOLD_MAX_MS	1000

struct upstream {
	struct server		*srv;
	struct snapshot		*snap;		/* one reference owned */
	struct tls_client	*tls;		/* one reference owned */
	char			 port[8];	/* res.port, for evdns */
	enum up_state		 state;
	struct verdict_policy	 vp;
	struct timespec		 hs_start;	/* the TLS handshake began */
	struct tls_check	 chk;
	bool			 plain;		/* connect only, no TLS */
	char			*alpn;		/* owned; to offer, or NULL */
	struct proxy_conf	 px;		/* copy; px.auth owned */
	bool			 via_proxy;	/* px is used */
	bool			 tunneled;	/* px said 200 */
	struct proxy_xchg	*pxx;		/* pending, or NULL */
	struct evdns_getaddrinfo_request *dns_req; /* pending, or NULL */
	bool			 dns_sync;	/* answered inside the call */
#define UP_ADDRS_MAX	8
	struct sockaddr_storage	 addrs[UP_ADDRS_MAX]; /* as resolved */
	size_t			 naddrs;
	struct dial		*dial;		/* owned; while connecting */
	struct event		*step;		/* owned; deferred work */
	struct event		*dns_deadline;	/* owned; while resolving */
	struct event		*io;		/* owned; connect/handshake */
	struct event		*deadline;	/* owned; handshake timeout */
	int			 fd;		/* owned until handed over */
	WOLFSSL			*ssl;		/* owned until handed over */
	struct upstream_result	 res;
	upstream_cb		 cb;
	void			*arg;
	int			 ident;		/* conf->idents' index; -1 */
};

static void	up_dialed(struct dial_result *, void *);
static void	up_tcp_ready(struct upstream *);
static void	up_handshake(evutil_socket_t, short, void *);
static void	up_deadline(evutil_socket_t, short, void *);
static void	up_tofu_early(struct tls_check *, struct tls_verdict *,
		    void *);

static void
up_free(struct upstream *u)
{
	if (u->dns_req != NULL)
		evdns_getaddrinfo_cancel(u->dns_req);
	dial_cancel(u->dial);
	if (u->step != NULL)
		event_free(u->step);
	if (u->dns_deadline != NULL)
		event_free(u->dns_deadline);
	if (u->io != NULL)
		event_free(u->io);
	if (u->deadline != NULL)
		event_free(u->deadline);
	proxy_cancel(u->pxx);
	if (u->px.auth != NULL) {
		explicit_bzero(u->px.auth, strlen(u->px.auth));
		free(u->px.auth);
	}
	tls_session_free(u->ssl);
	tls_check_clear(&u->chk);
	if (u->fd != -1)
		close(u->fd);
	snapshot_unref(u->snap);
	tls_client_free(u->tls);
	free(u->alpn);
	free(u);
}

/* Report and free. Every path through an attempt ends here exactly once. */
static void
up_finish(struct upstream *u, enum upstream_fail fail, const char *reason)
{
	struct upstream_result	*r = &u->res;

	r->fail = fail;
	r->reason = reason;
	r->policy = u->vp.policy;
	r->pattern = u->vp.rule ? u->vp.rule->pattern : NULL;
	r->fd = -1;
	r->ssl = NULL;
	r->chain = u->chk.chain != NULL ? u->chk.chain : r->tv.resumed ?
	    u->chk.offered : NULL;
	r->pins = u->chk.pins;
	r->pins_from_feed = u->vp.rule != NULL && u->vp.rule->from_feed &&
	    u->chk.pins == &u->vp.rule->pins;
	if (fail == UP_OK) {
		/* chk dies with u: the session must not keep pointing at it
		 * (a later certificate callback would read freed memory). */
		if (u->ssl != NULL) {
			wolfSSL_SetCertCbCtx(u->ssl, NULL);
			tls_session_identity_done(u->ssl);
			tls_session_passed(u->tls, u->ssl, &u->chk);
		}
		r->fd = u->fd;
		r->ssl = u->ssl;
		u->fd = -1;
		u->ssl = NULL;
	}
	u->state = ST_DONE;
	/* The rule pattern lives in the snapshot: keep u alive through cb. */
	u->cb(r, u->arg);
	up_free(u);
}

static void
up_step(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*u = arg;

	(void)fd;
	(void)what;
	if (u->state == ST_RESOLVE) {
		if (u->dns_deadline != NULL) {
			event_free(u->dns_deadline);
			u->dns_deadline = NULL;
		}
		if (u->naddrs == 0) {
			up_finish(u, UP_DNS, "dns-failed");
			return;
		}
		u->state = ST_CONNECT;
		u->dial = dial_start(u->srv->base, u->via_proxy ?
		    u->px.host : u->res.host, u->addrs, u->naddrs,
		    u->srv->conf->connect_timeout, up_dialed, u);
	} else if (u->state == ST_BLOCKED) {
		up_finish(u, UP_BLOCKED, "blocked");
	}
}

/* The resolver's own retries (evdns: 3 tries of 5 s) would hold the
 * attempt for 15 s; the name gets what one address gets. */
static void
up_dns_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*u = arg;

	(void)fd;
	(void)what;
	snprintf(u->res.detail, sizeof(u->res.detail), "%s%s: no answer from "
	    "the resolver within %lus (connect_timeout)", u->via_proxy ?
	    "proxy " : "", u->via_proxy ? u->px.host : u->res.host,
	    u->srv->conf->connect_timeout);
	up_finish(u, UP_DNS, "dns-failed");
}

static void
up_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct upstream	*u = arg;

	if (err == EVUTIL_EAI_CANCEL)
		return;		/* u is being freed by up_free */
	u->dns_req = NULL;
	u->dns_sync = true;
	if (err != 0) {
		snprintf(u->res.detail, sizeof(u->res.detail), "%s%s: %s",
		    u->via_proxy ? "proxy " : "", u->via_proxy ? u->px.host :
		    u->res.host, evutil_gai_strerror(err));
	} else {
		struct evutil_addrinfo *a;

		for (a = ai; a != NULL && u->naddrs < UP_ADDRS_MAX;
		    a = a->ai_next)
			if (a->ai_addrlen <= sizeof(u->addrs[0]))
				memcpy(&u->addrs[u->naddrs++], a->ai_addr,
				    a->ai_addrlen);
		evutil_freeaddrinfo(ai);
	}
	/* Never continue from inside evdns_getaddrinfo(): defer. */
	event_active(u->step, 0, 0);
}

/* The device identity of this attempt on its session. 0; -1 when it
 * cannot be presented (the attempt fails: never without it). */
static int
up_identity(struct upstream *u)
{
	const struct ident_conf	*id = &u->srv->conf->idents[u->ident];

	snprintf(u->res.ident, sizeof(u->res.ident), "%s:%s",
	    id->pattern != NULL ? "domain" : "listen", id->pattern != NULL ?
	    id->pattern : id->listener);
	if (u->srv->keeper == NULL || u->srv->idents == NULL ||
	    tls_session_identity(u->ssl, u->srv->idents[u->ident],
	    (unsigned)u->ident, keeper_sign, u->srv->keeper, &u->chk) == -1)
		return -1;
	u->chk.client = u->tls;
	u->chk.early_check = up_tofu_early;
	u->chk.early_arg = u;
	return 0;
}

/* The proxy's answer to CONNECT: on 200, the socket is the target's. */
static void
up_proxied(const char *reason, const char *detail, void *arg)
{
	struct upstream	*u = arg;

	u->pxx = NULL;
	if (reason != NULL) {
		snprintf(u->res.detail, sizeof(u->res.detail), "%s", detail);
		up_finish(u, UP_PROXY, reason);
		return;
	}
	u->tunneled = true;
	up_tcp_ready(u);
}

/* TCP is connected (u->fd), to the target or to the proxy: the CONNECT
 * exchange first when there is a proxy, then TLS, or hand over a plain
 * one. */
static void
up_tcp_ready(struct upstream *u)
{
	struct timeval	 tv = { 0, 0 };

	if (u->via_proxy && !u->tunneled) {
		u->pxx = proxy_start(u->srv->base, u->fd, u->px.name,
		    u->res.host, u->res.port, u->px.auth,
		    u->srv->conf->connect_timeout, up_proxied, u);
		return;
	}
	if (u->plain) {
		snprintf(u->res.detail, sizeof(u->res.detail), "plain TCP, "
		    "no TLS (caller authenticates the content)");
		up_finish(u, UP_OK, "ok");
		return;
	}

	/* Connected: start TLS under the handshake deadline. */
	u->state = ST_HANDSHAKE;
	u->ssl = tls_session_new(u->tls, u->fd, &u->chk);
	if (u->ssl == NULL) {
		snprintf(u->res.detail, sizeof(u->res.detail),
		    "cannot create TLS session");
		up_finish(u, UP_TLS, "internal-error");
		return;
	}
	if (!tls_alpn_offer(u->ssl, u->alpn)) {
		snprintf(u->res.detail, sizeof(u->res.detail),
		    "cannot offer the ALPN list");	/* the app's bytes */
		up_finish(u, UP_TLS, "internal-error");
		return;
	}
	if (u->ident >= 0 && up_identity(u) == -1) {
		snprintf(u->res.detail, sizeof(u->res.detail), "cannot present "
		    "the device identity [%s]", u->res.ident);
		up_finish(u, UP_TLS, "internal-error");
		return;
	}
	u->deadline = xptr(evtimer_new(u->srv->base, up_deadline, u));
	clock_gettime(CLOCK_MONOTONIC, &u->hs_start);
	u->io = xptr(event_new(u->srv->base, u->fd, EV_READ, up_handshake, u));
	tv.tv_sec = (time_t)u->srv->conf->handshake_timeout;
	evtimer_add(u->deadline, &tv);
	up_handshake(u->fd, 0, u);
}

/* The race over the addresses is over (dial.c). */
static void
up_dialed(struct dial_result *d, void *arg)
{
	struct upstream	*u = arg;

	u->dial = NULL;		/* it frees itself after this */
	metrics_connects(d->fail == DIAL_OK, d->failed, d->abandoned);
	snprintf(u->res.addr, sizeof(u->res.addr), "%s", d->addr);
	snprintf(u->res.detail, sizeof(u->res.detail), "%s", d->detail);
	if (d->fail == DIAL_RESOURCE) {
		up_finish(u, UP_RESOURCE, "out-of-resources");
		return;
	}
	if (d->fail != DIAL_OK) {
		if (u->via_proxy) {
			char	 why[sizeof(u->res.detail)];

			snprintf(why, sizeof(why), "%s", u->res.detail);
			if (snprintf(u->res.detail, sizeof(u->res.detail),
			    "proxy %s unreachable: %s", u->px.name, why) < 0)
				u->res.detail[0] = '\0';
		}
		up_finish(u, UP_CONNECT, "connect-failed");
		return;
	}
	u->fd = d->fd;
	d->fd = -1;
	up_tcp_ready(u);
}

static void
up_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*u = arg;

	(void)fd;
	(void)what;
	snprintf(u->res.detail, sizeof(u->res.detail), "no TLS handshake "
	    "from %s within %lus", u->res.addr,
	    u->srv->conf->handshake_timeout);
	up_finish(u, UP_TIMEOUT, "handshake-timeout");
}

/* policy tofu: the chain verified; now the leaf key against the one first
 * seen for this host, and against what a vantage point attested (the
 * feed's observed =). A contradiction is never persisted. */
static void
tofu_decide(struct upstream *u, struct tls_verdict *v)
{
	const struct rule	*r = u->vp.rule;
	const struct tofu_entry	*e;
	struct tofu		*t = u->srv->tofu;
	char			 now_pin[PIN_TEXT_LEN + 1], was[PIN_TEXT_LEN + 1];
	char			 seen[32];
	const char		*why;
	bool			 attested, same_issuer;

	pin_format(&v->tofu_leaf, now_pin);
	v->pass = false;
	if (t == NULL) {		/* conf refuses this; fail closed */
		v->reason = TLS_TOFU_FULL;
		snprintf(v->detail, sizeof(v->detail), "policy tofu without a "
		    "store ([shim] state_dir)");
		return;
	}
	tofu_refresh(t);		/* pinshim tofu forget may have run */
	attested = r != NULL && r->observed.n > 0 &&
	    pinset_contains(&r->observed, &v->tofu_leaf);
	if (r != NULL && r->observed.n > 0 && !attested) {
		v->reason = TLS_TOFU_CONTRADICTED;
		snprintf(v->detail, sizeof(v->detail), "MitM evidence: leaf "
		    "key %s is none of the %zu observed by the trusted vantage "
		    "point (feed observed =); not pinned", now_pin,
		    r->observed.n);
		return;
	}
	if ((e = tofu_get(t, u->res.host)) == NULL) {
		if (tofu_put(t, u->res.host, &v->tofu_leaf, v->tofu_has_issuer ?
		    &v->tofu_issuer : NULL, clock_now(), &why) == -1) {
			/* the keeper refused it: the store, read again,
			 * knows this host after all; judge against that */
			if ((e = tofu_get(t, u->res.host)) != NULL &&
			    memcmp(e->leaf.hash, v->tofu_leaf.hash,
			    PIN_HASH_LEN) != 0)
				goto known;
			if (e == NULL) {
				v->reason = TLS_TOFU_FULL;
				snprintf(v->detail, sizeof(v->detail), "%s (%zu "
				    "hosts, [shim] tofu_max): pinshim tofu "
				    "list, pinshim tofu forget HOST", why,
				    tofu_count(t));
				return;
			}
			log_warn("tofu: %s: first-use pin %s %s", u->res.host,
			    now_pin, why);
		}
		v->pass = true;
		snprintf(v->detail, sizeof(v->detail), "tofu: first use, leaf "
		    "key %s pinned%s", now_pin, attested ? " (as observed)" :
		    "");
		return;
	}
known:
	pin_format(&e->leaf, was);
	format_rfc3339(e->since, seen, sizeof(seen));
	if (memcmp(e->leaf.hash, v->tofu_leaf.hash, PIN_HASH_LEN) == 0) {
		v->pass = true;
		snprintf(v->detail, sizeof(v->detail), "tofu: leaf key matches "
		    "the one pinned %s", seen);
		return;
	}
	same_issuer = e->has_issuer && v->tofu_has_issuer &&
	    memcmp(e->issuer.hash, v->tofu_issuer.hash, PIN_HASH_LEN) == 0;
	if (attested || (r != NULL && r->accept_issuer && same_issuer)) {
		/* The store takes a new leaf only under the pinned issuer:
		 * its keeper cannot tell an attested one from a worker's
		 * wish. Attested under another issuer, it passes on the
		 * feed's word, while the feed says so, unrecorded. */
		v->pass = true;
		snprintf(v->detail, sizeof(v->detail), "tofu: new leaf key %s "
		    "accepted (%s), was %s%s", now_pin, attested ? "observed by "
		    "the vantage point" : "same pinned issuer", was,
		    same_issuer ? "" : "; not recorded: another issuer");
		if (!same_issuer)
			return;
		why = NULL;
		(void)tofu_put(t, u->res.host, &v->tofu_leaf, &v->tofu_issuer,
		    clock_now(), &why);
		log_warn("tofu: %s: leaf key rotated %s -> %s (%s)",
		    u->res.host, was, now_pin, attested ? "observed" :
		    "tofu_accept_issuer");
		return;
	}
	v->reason = TLS_TOFU_CHANGED;
	snprintf(v->detail, sizeof(v->detail), "leaf key changed: pinned %s "
	    "at first use %s, now %s", was, seen, now_pin);
}

static void	up_decide(struct upstream *, int, int, bool);
static void	up_hold(evutil_socket_t, short, void *);

/* The server said nothing within the bound: it kept the client. */
static void
up_hold_over(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*u = arg;

	(void)fd;
	(void)what;
	up_decide(u, WOLFSSL_SUCCESS, 0, false);
}

/* TLS 1.3 and the server asked for a client certificate: it judges it
 * after the client's Finished, so the handshake's end says nothing yet.
 * Its first record after that decides: a NewSessionTicket (OpenSSL-based
 * servers send them at once) or application data keep the client, an
 * alert or a close refuse it; silence until the bound keeps it. No
 * application byte goes upstream meanwhile (the caller has nothing). */
static void
up_hold(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*u = arg;
	unsigned char	 b;
	int		 n, err;

	(void)fd;
	(void)what;
	n = wolfSSL_peek(u->ssl, &b, 1);
	if (n > 0 || u->chk.tickets > 0) {
		up_decide(u, WOLFSSL_SUCCESS, 0, false);
		return;
	}
	err = wolfSSL_get_error(u->ssl, n);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
		event_del(u->io);
		event_assign(u->io, u->srv->base, u->fd,
		    err == WOLFSSL_ERROR_WANT_READ ? EV_READ : EV_WRITE,
		    up_hold, u);
		event_add(u->io, NULL);
		return;
	}
	up_decide(u, WOLFSSL_SUCCESS, err, true);
}

/* With a device identity, policy tofu's part of the verdict taken before
 * the identity goes out: a host whose pinned leaf this is not gets no
 * identity (read only: the pin is recorded at the verdict, as ever). */
static void
up_tofu_early(struct tls_check *chk, struct tls_verdict *v, void *arg)
{
	struct upstream		*u = arg;
	const struct tofu_entry	*e;
	const struct rule	*r = u->vp.rule;

	if (chk->policy != POLICY_TOFU || u->srv->tofu == NULL)
		return;
	tofu_refresh(u->srv->tofu);
	if ((e = tofu_get(u->srv->tofu, u->res.host)) == NULL ||
	    memcmp(e->leaf.hash, v->tofu_leaf.hash, PIN_HASH_LEN) == 0)
		return;
	if (r != NULL && r->observed.n > 0 &&
	    pinset_contains(&r->observed, &v->tofu_leaf))
		return;
	if (r != NULL && r->accept_issuer && e->has_issuer &&
	    v->tofu_has_issuer && memcmp(e->issuer.hash,
	    v->tofu_issuer.hash, PIN_HASH_LEN) == 0)
		return;
	v->pass = false;
	v->reason = TLS_TOFU_CHANGED;
	snprintf(v->detail, sizeof(v->detail), "leaf key changed since first "
	    "use; the device identity was not sent");
}

static void
up_handshake(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*u = arg;
	struct timespec	 end;
	int		 ret, err = 0;

	(void)fd;
	(void)what;
	ret = wolfSSL_connect(u->ssl);
	if (ret != WOLFSSL_SUCCESS) {
		err = wolfSSL_get_error(u->ssl, ret);
		if (err == WOLFSSL_ERROR_WANT_READ ||
		    err == WOLFSSL_ERROR_WANT_WRITE) {
			event_del(u->io);
			event_assign(u->io, u->srv->base, u->fd,
			    err == WOLFSSL_ERROR_WANT_READ ? EV_READ : EV_WRITE,
			    up_handshake, u);
			event_add(u->io, NULL);
			return;
		}
	}
	if (ret == WOLFSSL_SUCCESS)
		tls_alpn_selected(u->ssl, u->res.alpn, sizeof(u->res.alpn));
	if (ret == WOLFSSL_SUCCESS)
		log_debug("upstream host=%s addr=%s tls=%s cipher=%s group=%s "
		    "resumed=%s", u->res.host, u->res.addr,
		    wolfSSL_get_version(u->ssl), wolfSSL_get_cipher(u->ssl),
		    wolfSSL_get_curve_name(u->ssl) ?
		    wolfSSL_get_curve_name(u->ssl) : "-",
		    wolfSSL_session_reused(u->ssl) ? "yes" : "no");
	clock_gettime(CLOCK_MONOTONIC, &end);
	metrics_handshake((double)(end.tv_sec - u->hs_start.tv_sec) +
	    (double)(end.tv_nsec - u->hs_start.tv_nsec) / 1e9);
	if (ret == WOLFSSL_SUCCESS && u->chk.cert_requested &&
	    wolfSSL_version(u->ssl) == TLS1_3_VERSION) {
		long	 ms = ((end.tv_sec - u->hs_start.tv_sec) * 1000 +
			    (end.tv_nsec - u->hs_start.tv_nsec) / 1000000) * 2;
		struct timeval	 tv;

		ms = ms < UP_HOLD_MIN_MS ? UP_HOLD_MIN_MS : ms >
		    UP_HOLD_MAX_MS ? UP_HOLD_MAX_MS : ms;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		u->state = ST_HOLD;
		evtimer_del(u->deadline);
		evtimer_assign(u->deadline, u->srv->base, up_hold_over, u);
		evtimer_add(u->deadline, &tv);
		up_hold(u->fd, 0, u);
		return;
	}
	up_decide(u, ret, err, false);
}

/* The verdict, once the handshake (and, held, the server's answer to the
 * client's certificate) is in. */
static void
up_decide(struct upstream *u, int ret, int err, bool client_refused)
{
	tls_verdict(u->ssl, u->tls, &u->chk, ret, err, &u->res.tv);
	if (client_refused && u->res.tv.pass)
		tls_verdict_client_refused(u->ssl, &u->chk, err, &u->res.tv);
	u->res.ident_sent = u->chk.ident_sent;
	if (u->res.tv.pass && u->chk.policy == POLICY_TOFU) {
		tofu_decide(u, &u->res.tv);
		tofusync_kick(u->srv->tofusync);  /* a pin it could not write */
	}
	snprintf(u->res.detail, sizeof(u->res.detail), "%s", u->res.tv.detail);
	if (u->res.tv.pass) {
		u->res.would_refuse = u->res.tv.would_refuse;
		up_finish(u, UP_OK, u->res.would_refuse ?
		    tls_reason_name(u->res.tv.reason) : "ok");
	} else {
		tls_session_refused(u->tls, &u->chk);
		up_finish(u, UP_TLS, tls_reason_name(u->res.tv.reason));
	}
}

struct upstream *
upstream_open(struct server *srv, const char *host, uint16_t port,
    const struct upstream_opts *opts, upstream_cb cb, void *arg)
{
	struct upstream			*u = xcalloc(1, sizeof(*u));
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *req;
	struct timeval			 tv = { 0, 0 };

	u->srv = srv;
	u->fd = -1;
	u->cb = cb;
	u->arg = arg;
	u->snap = snapshot_ref(srv->snap);
	u->tls = tls_client_ref(srv->tls);
	snprintf(u->res.host, sizeof(u->res.host), "%s", host);
	u->res.port = port;
	snprintf(u->port, sizeof(u->port), "%u", port);
	snapshot_resolve(u->snap, host, clock_now(), &u->vp);
	u->chk.policy = u->vp.policy;
	u->chk.pins = u->vp.rule ? &u->vp.rule->pins : NULL;
	u->chk.observe_only = u->vp.rule != NULL && u->vp.rule->observe_only &&
	    !u->vp.expired;
	if (opts != NULL && opts->pins != NULL) {
		u->vp.policy = u->chk.policy = opts->policy;
		u->vp.rule = NULL;
		u->chk.pins = opts->pins;
		u->chk.observe_only = false;
	}
	if (opts != NULL)
		u->plain = opts->plain;
	if (opts != NULL && opts->alpn != NULL && opts->alpn[0] != '\0')
		u->alpn = xstrdup(opts->alpn);
	if (opts != NULL && opts->proxy != NULL) {
		u->px = *opts->proxy;
		u->px.auth = opts->proxy->auth ? xstrdup(opts->proxy->auth) :
		    NULL;
		u->via_proxy = true;
		snprintf(u->res.proxy, sizeof(u->res.proxy), "%s", u->px.name);
		/* the name pinshim resolves is the proxy's */
		snprintf(u->port, sizeof(u->port), "%u", u->px.port);
	}
	/* the listener's identity, else the host's [domain:] one */
	u->ident = opts != NULL && opts->ident > 0 ? (int)opts->ident - 1 :
	    conf_ident(srv->conf, NULL, host);
	if (u->ident >= (int)srv->conf->nidents)
		u->ident = -1;
	snprintf(u->chk.host, sizeof(u->chk.host), "%s", host);
	u->chk.port = port;
	u->chk.resume = true;
	u->step = xptr(event_new(srv->base, -1, 0, up_step, u));

	if (u->vp.policy == POLICY_BLOCK) {
		snprintf(u->res.detail, sizeof(u->res.detail), "%s",
		    u->vp.rule == NULL ? "no [domain:...] matches and "
		    "default_policy is block" : u->vp.expired ?
		    "pins expired and on_expiry is block" :
		    "policy block");
		u->state = ST_BLOCKED;
		event_active(u->step, 0, 0);
		return u;
	}

	if (opts != NULL && opts->addr != NULL && !u->via_proxy) {
		/* The app already chose the address (transparent mode). */
		u->addrs[0] = *opts->addr;
		u->naddrs = 1;
		u->state = ST_RESOLVE;
		event_active(u->step, 0, 0);
		return u;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	u->state = ST_RESOLVE;
	u->dns_deadline = xptr(evtimer_new(srv->base, up_dns_deadline, u));
	tv.tv_sec = (time_t)srv->conf->connect_timeout;
	evtimer_add(u->dns_deadline, &tv);
	req = evdns_getaddrinfo(srv->dns, u->via_proxy ? u->px.host :
	    u->res.host, u->port, &hints, up_resolved, u);
	if (!u->dns_sync)
		u->dns_req = req;
	return u;
}

void
upstream_cancel(struct upstream *u)
{
	if (u != NULL)
		up_free(u);
}

/* Counted for /metrics; a refusal kept, with its evidence, for /status. */
static void
count(const struct upstream_result *r, const char *listener,
    const char *client, const char *host, unsigned port, const char *policy)
{
	const char		*verdict = r->fail != UP_OK ? "refuse" :
				    r->would_refuse ? "would-refuse" : "pass";
	struct metrics_refusal	 m;

	metrics_verdict(listener, policy, verdict, r->reason);
	/* a pin check's own outcomes: not a dead server, not a block */
	if (!r->local && (r->policy == POLICY_PIN ||
	    r->policy == POLICY_PIN_ONLY || r->policy == POLICY_TOFU) &&
	    (r->fail == UP_OK || r->fail == UP_TLS) && !r->would_refuse)
		metrics_pinned(r->fail == UP_OK, time(NULL));
	if (r->fail == UP_OK && !r->would_refuse)
		return;
	memset(&m, 0, sizeof(m));
	m.when = time(NULL);
	snprintf(m.listener, sizeof(m.listener), "%s", listener);
	snprintf(m.client, sizeof(m.client), "%s", client);
	snprintf(m.host, sizeof(m.host), "%s", host);
	m.port = port;
	snprintf(m.policy, sizeof(m.policy), "%s", policy);
	snprintf(m.verdict, sizeof(m.verdict), "%s", verdict);
	snprintf(m.reason, sizeof(m.reason), "%s", r->reason);
	snprintf(m.detail, sizeof(m.detail), "%.*s", (int)sizeof(m.detail) - 1,
	    r->detail);
	snprintf(m.presented, sizeof(m.presented), "%s", r->tv.presented);
	str_printable(m.detail);
	metrics_refusal(&m);
}

/* The one verdict line of a connection. */
void
upstream_log(const struct upstream_result *r, const char *listener,
    const char *client, const char *host, unsigned port, bool passes)
{
	const char	*policy = r->local ? "-" : policy_name(r->policy);
	char		 alpn[sizeof(r->alpn)];
	char		 via[HOST_MAX + 16];

	/* addr= is then the proxy's address */
	snprintf(via, sizeof(via), "%s%s", r->proxy[0] ? " proxy=" : "",
	    r->proxy);
	count(r, listener, client, host, port, policy);
	snprintf(alpn, sizeof(alpn), "%s", r->alpn[0] ? r->alpn : "-");
	str_printable(alpn);	/* the server's bytes */
	if (r->fail == UP_OK && r->would_refuse) {
		log_warn("verdict listener=%s client=%s host=%s:%u addr=%s%s "
		    "policy=%s rule=%s verdict=would-refuse reason=%s "
		    "detail=\"%s\" presented=%s anchor=%s alpn=%s", listener,
		    client, host, port, r->addr, via, policy, r->pattern ?
		    r->pattern : "-", r->reason, r->detail, r->tv.presented[0] ?
		    r->tv.presented : "-", r->tv.anchor[0] ? r->tv.anchor : "-",
		    alpn);
		return;
	}
	if (r->fail == UP_OK) {
		if (passes)
			log_info("verdict listener=%s client=%s host=%s:%u "
			    "addr=%s%s policy=%s rule=%s verdict=pass "
			    "reason=%s detail=\"%s\" alpn=%s%s%s", listener,
			    client, host, port, r->addr, via, policy,
			    r->pattern ? r->pattern : "-", r->reason,
			    r->detail, alpn, r->ident_sent ? " client_cert=" :
			    "", r->ident_sent ? r->ident : "");
		return;
	}
	log_warn("verdict listener=%s client=%s host=%s:%u addr=%s%s "
	    "policy=%s rule=%s verdict=refuse reason=%s detail=\"%s\" "
	    "presented=%s anchor=%s", listener, client, host[0] ? host : "-",
	    port, r->addr[0] ? r->addr : "-", via, policy,
	    r->pattern ? r->pattern : "-", r->reason, r->detail,
	    r->tv.presented[0] ? r->tv.presented : "-",
	    r->tv.anchor[0] ? r->tv.anchor : "-");
}
