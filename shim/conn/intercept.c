/*
 * intercept.c - the interception steps shared by forward and transparent
 * (see intercept.h): the SNI and the ALPN list from a peeked ClientHello,
 * then the app's TLS terminated with a leaf from the worker's cache, or
 * minted for it: a key pair here, signed by the keeper (shim/keeper/), off
 * the loop. The app's ALPN list is what the upstream is offered, and the
 * app is answered with what the upstream selected, so both ends speak the
 * same protocol over a relay that stays a byte relay (HTTP/2, gRPC).
 *
 * Must never: complete the app's handshake before the upstream verdict
 * passed (intercept_accept runs only from a passed dial), mint for a
 * name other than the one whose upstream passed, or let the app's side
 * select a protocol the upstream did not.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/mem.h"
#include "tls/tls_alpn.h"
#include "shim/conn/clienthello.h"
#include "shim/conn/intercept.h"
#include "shim/net/relay.h"


/* --- the ClientHello ------------------------------------------------------ */

static void
hello_timeout(struct conn *c)
{
	conn_refuse(c, 0, "client-timeout", "no ClientHello in time");
}

/* The name the app asked for; false (refused) if it is unusable or
 * differs from the name whose upstream is being (or was) checked. */
static bool
take_sni(struct conn *c, const char *sni)
{
	char		 norm[HOST_MAX + 1], d[600];
	const char	*why;

	if (sni[0] == '\0')
		return true;	/* keep the CONNECT host / the address */
	if (!host_normalize(sni, norm, sizeof(norm), &why)) {
		conn_refuse(c, 0, "bad-sni", why);
		return false;
	}
	if (c->lc->mode == MODE_FORWARD && strcmp(norm, c->host) != 0) {
		snprintf(d, sizeof(d), "SNI %s differs from the CONNECT host",
		    norm);
		conn_refuse(c, 0, "sni-mismatch", d);
		return false;
	}
	snprintf(c->host, sizeof(c->host), "%s", norm);
	return true;
}

static void
hello_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	uint8_t		 buf[CH_PEEK_MAX];
	struct ch_hello	 h;
	ssize_t		 n;

	(void)fd;
	(void)what;
	if ((n = conn_peek(c, buf, sizeof(buf))) <= 0)
		return;
	switch (clienthello_parse(buf, (size_t)n, &h)) {
	case CH_MORE:
		if ((size_t)n == sizeof(buf))
			conn_refuse(c, 0, "bad-clienthello", "ClientHello "
			    "larger than 32 KiB, or in more than 64 records");
		return;		/* edge-triggered: wait for more bytes */
	case CH_NOT_TLS:
		conn_refuse(c, 0, "not-tls", "the app did not start a TLS "
		    "handshake");
		return;
	case CH_BAD:
		conn_refuse(c, 0, "bad-clienthello", "malformed ClientHello");
		return;
	case CH_OK:
		break;
	}
	if (!take_sni(c, h.sni))
		return;
	/* the app's protocols, offered upstream as they are; none: none */
	if (h.alpn_len > 0) {
		c->alpn = xcalloc(1, h.alpn_len);
		if (tls_alpn_text(h.alpn, h.alpn_len, c->alpn,
		    h.alpn_len) == 0) {
			free(c->alpn);
			c->alpn = NULL;
		}
	}
	((struct icpt *)c)->after_hello(c);
}

void
intercept_hello(struct conn *c, conn_step next)
{
	((struct icpt *)c)->after_hello = next;
	c->on_deadline = hello_timeout;
	conn_wait(c, EV_READ | EV_ET | EV_PERSIST, hello_read,
	    conn_timeout(c));
	hello_read(c->cfd, EV_READ, c);	/* the hello may be there already */
}

/* --- the app's TLS ------------------------------------------------------ */

static void
accept_timeout(struct conn *c)
{
	log_warn("intercept listener=%s client=%s host=%s:%u "
	    "error=\"client TLS handshake timed out\"", c->lc->name,
	    c->client, c->host, c->port);
	conn_drop(c);
}

static void
accept_tls(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	char		 buf[WOLFSSL_MAX_ERROR_SZ];
	int		 ret, err;

	(void)fd;
	(void)what;
	ret = wolfSSL_accept(c->cssl);
	if (ret == WOLFSSL_SUCCESS) {
		log_debug("intercept listener=%s client=%s host=%s tls=%s "
		    "resumed=%s", c->lc->name, c->client, c->host,
		    wolfSSL_get_version(c->cssl),
		    wolfSSL_session_reused(c->cssl) ? "yes" : "no");
		conn_relay(c);
		return;
	}
	err = wolfSSL_get_error(c->cssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
		conn_wait(c, err == WOLFSSL_ERROR_WANT_READ ? EV_READ :
		    EV_WRITE, accept_tls, 0);
		return;
	}
	wolfSSL_ERR_error_string_n((unsigned long)err, buf, sizeof(buf));
	log_warn("intercept listener=%s client=%s host=%s:%u error=\"client "
	    "TLS handshake failed: %s (does the app trust the pinshim CA?)\"",
	    c->lc->name, c->client, c->host, c->port, buf);
	conn_drop(c);
}

static void	no_leaf(struct conn *, const char *);

/* c->cssl presents the leaf: the app's handshake, answering ALPN with
 * exactly the upstream's choice. */
static void
accept_start(struct conn *c)
{
	char	 proto[TLS_ALPN_NAME_MAX + 1];

	tls_alpn_selected(c->ussl, proto, sizeof(proto));
	if (proto[0] != '\0' && !tls_alpn_answer(c->cssl, proto)) {
		no_leaf(c, "select the upstream's ALPN protocol");
		return;
	}
	c->on_deadline = accept_timeout;
	conn_wait(c, EV_READ, accept_tls, conn_timeout(c));
	accept_tls(c->cfd, 0, c);
}

static void
no_leaf(struct conn *c, const char *why)
{
	log_err("intercept listener=%s client=%s host=%s: cannot %s",
	    c->lc->name, c->client, c->host, why);
	conn_drop(c);
}

static void
leaf_minted(struct keeper_wait *w, bool ok)
{
	struct conn	*c = (struct conn *)((char *)w -
			    offsetof(struct conn, kw));
	bool		 missing;

	if (!ok)
		no_leaf(c, "mint a certificate (the keeper said why)");
	else if ((c->cssl = tls_ca_session(c->srv->ca, c->cfd, c->host,
	    &missing)) == NULL)
		no_leaf(c, "present a certificate");
	else
		accept_start(c);
}

static void
mint_timeout(struct conn *c)
{
	no_leaf(c, "mint a certificate in time (the keeper is slow)");
}

void
intercept_accept(struct conn *c)
{
	struct timeval	 tv = { (time_t)conn_timeout(c), 0 };
	bool		 missing;

	if ((c->cssl = tls_ca_session(c->srv->ca, c->cfd, c->host,
	    &missing)) != NULL) {
		accept_start(c);
		return;
	}
	if (!missing || c->srv->keeper == NULL) {
		no_leaf(c, "present a certificate");
		return;
	}
	/* Off the loop: the keeper signs while other connections run; the
	 * app's bytes wait in the kernel, the deadline keeps running. */
	conn_idle(c);
	c->on_deadline = mint_timeout;
	evtimer_add(c->deadline, &tv);
	c->kw.done = leaf_minted;
	keeper_mint(c->srv->keeper, c->srv->ca, c->host, &c->kw);
}
