/*
 * intercept.c - the interception steps shared by forward and transparent
 * (see intercept.h): the SNI and the ALPN list from a peeked ClientHello,
 * then the leaf for that name, from the worker's cache or minted for it
 * (a key pair here, signed by the keeper (shim/keeper/), off the loop;
 * the connection parked meanwhile), before the upstream is dialed, and
 * once its verdict passed, the app's TLS terminated with that leaf. The
 * app's ALPN list is what the upstream is offered, and the app is
 * answered with what the upstream selected, so both ends speak the same
 * protocol over a relay that stays a byte relay (HTTP/2, gRPC). On a
 * client_tls = compatible listener an app that takes no ECDSA gets an RSA
 * leaf, and TLS 1.2's CBC suites are accepted; a failed handshake is
 * logged with the reason the app and pinshim did not agree.
 *
 * Must never: complete the app's handshake before the upstream verdict
 * passed (intercept_accept runs only from a passed dial), mint for a
 * name other than the one the upstream is then dialed and checked for,
 * nor for one its policy blocks, dial an upstream before the leaf is
 * certain (a name that gets none is refused without one), or let the
 * app's side select a protocol the upstream did not.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/cursor.h"
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

static void	intercept_leaf(struct conn *);

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
	((struct icpt *)c)->app_ecdsa = h.ecdsa;
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
	intercept_leaf(c);
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

static bool
compatible(const struct conn *c)
{
	return c->lc->client_tls == CLIENT_TLS_COMPATIBLE;
}

/* The leaf this app gets: RSA only where the listener allows it (and the
 * worker made the RSA key at start) and the app takes no ECDSA. */
static enum tls_leaf
leaf_kind(const struct conn *c)
{
	return compatible(c) && !((const struct icpt *)c)->app_ecdsa &&
	    tls_ca_has_rsa(c->srv->ca) ? TLS_LEAF_RSA : TLS_LEAF_ECDSA;
}

/* Did the app end the handshake because it would not take our leaf? */
static bool
cert_alert(int code)
{
	switch (code) {
	case bad_certificate:
	case unsupported_certificate:
	case certificate_revoked:
	case certificate_expired:
	case certificate_unknown:
	case unknown_ca:
		return true;
	default:
		return false;
	}
}

/* A TLS 1.3 app that rejects our certificate may send its alert before
 * it writes under handshake keys (OpenSSL's client does), in plaintext,
 * where wolfSSL expects an encrypted record: wolfSSL ends the handshake
 * with a parse error and never records the alert. So during the handshake
 * wolfSSL reads the app's bytes through watch_recv, which follows the
 * record framing from the first byte (the ClientHello was only peeked)
 * and keeps the description of an alert record, from a cursor over what
 * was read; wolfSSL refuses such a record by its header, so the last two
 * bytes are peeked from the socket after the failure. One pass over the
 * handshake's bytes; none once it is done. */
static void
watch_bytes(struct icpt *ic, const void *buf, size_t len)
{
	struct cursor	 cur;
	unsigned	 b;

	cursor_init(&cur, buf, len);
	while (cursor_u8(&cur, &b)) {
		if (ic->rec_left == 0) {
			ic->rec_head[ic->rec_headlen++] = (uint8_t)b;
			if (ic->rec_headlen < sizeof(ic->rec_head))
				continue;
			ic->rec_headlen = 0;
			ic->rec_left = (size_t)ic->rec_head[3] << 8 |
			    ic->rec_head[4];
			ic->rec_alert = ic->rec_head[0] == 21 &&
			    ic->rec_left == 2;		/* alert(21) */
			ic->alert_got = 0;
			continue;
		}
		ic->rec_left--;
		if (ic->rec_alert && ++ic->alert_got == 2) {
			ic->app_alerted = true;	/* level, then this */
			ic->app_alert = (uint8_t)b;
		}
	}
}

/* wolfSSL failed: the rest of an alert record whose header it refused
 * (TLS 1.3 takes only encrypted records then) is still in the socket. */
static void
watch_rest(struct icpt *ic)
{
	uint8_t		 b[2];
	ssize_t		 want = (ssize_t)(2 - ic->alert_got);

	if (ic->rec_alert && !ic->app_alerted && recv(ic->c.cfd, b,
	    (size_t)want, MSG_PEEK | MSG_DONTWAIT) == want)
		watch_bytes(ic, b, (size_t)want);
}

static int
watch_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct icpt	*ic = ctx;
	int		 n;

	if ((n = EmbedReceive(ssl, buf, sz, &ic->c.cfd)) > 0)
		watch_bytes(ic, buf, (size_t)n);
	return n;
}

/* Why the app's handshake failed (err: wolfSSL_get_error's), in terms
 * the user can act on: the app refused our certificate (its trust store),
 * or the two sides share no suite, signature algorithm or version (the
 * app's age, and client_tls). */
static void
accept_failure(struct conn *c, int err, char *out, size_t sz)
{
	WOLFSSL_ALERT_HISTORY	 h;
	char			 buf[WOLFSSL_MAX_ERROR_SZ];

	memset(&h, 0, sizeof(h));
	(void)wolfSSL_get_alert_history(c->cssl, &h);
	watch_rest((struct icpt *)c);
	if (h.last_rx.code < 0 && ((struct icpt *)c)->app_alerted) {
		h.last_rx.code = ((struct icpt *)c)->app_alert;
		err = FATAL_ERROR;
	}
	if (err == FATAL_ERROR && cert_alert(h.last_rx.code))
		snprintf(out, sz, "the app rejected the certificate (its "
		    "alert: %s): does the app trust the pinshim CA?",
		    wolfSSL_alert_desc_string_long(h.last_rx.code));
	else if (err == MATCH_SUITE_ERROR && leaf_kind(c) == TLS_LEAF_ECDSA &&
	    !((struct icpt *)c)->app_ecdsa)
		snprintf(out, sz, "no shared signature algorithm: the app "
		    "takes no ECDSA certificate%s", compatible(c) ? "" :
		    " (client_tls = compatible gives it an RSA one)");
	else if (err == MATCH_SUITE_ERROR)
		snprintf(out, sz, "no shared cipher suite: the app offers "
		    "none that pinshim accepts%s", compatible(c) ? "" :
		    " (TLS 1.2 CBC suites: client_tls = compatible)");
	else if (err == VERSION_ERROR)
		snprintf(out, sz, "protocol version: the app offers nothing "
		    "from TLS 1.2 on");
	else if (err == FATAL_ERROR)
		snprintf(out, sz, "the app ended the handshake (its alert: "
		    "%s)", wolfSSL_alert_desc_string_long(h.last_rx.code));
	else {
		wolfSSL_ERR_error_string_n((unsigned long)err, buf,
		    sizeof(buf));
		snprintf(out, sz, "%s", buf);
	}
}

static void
accept_tls(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[300];
	int		 ret, err;

	(void)fd;
	(void)what;
	ret = wolfSSL_accept(c->cssl);
	if (ret == WOLFSSL_SUCCESS) {
		/* the relay's reads, as the upstream session's: through the
		 * read-ahead (one recv per small record), not c (the relay
		 * outlives it) */
		wolfSSL_set_read_fd(c->cssl, c->cfd);
		tls_session_readahead(c->cssl, c->cfd);
		tls_ca_session_done(c->cssl);
		log_debug("intercept listener=%s client=%s host=%s tls=%s "
		    "cipher=%s leaf=%s resumed=%s", c->lc->name, c->client,
		    c->host, wolfSSL_get_version(c->cssl),
		    wolfSSL_get_cipher_name(c->cssl),
		    leaf_kind(c) == TLS_LEAF_RSA ? "rsa" : "ecdsa",
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
	accept_failure(c, err, why, sizeof(why));
	log_warn("intercept listener=%s client=%s host=%s:%u error=\"client "
	    "TLS handshake failed: %s\"", c->lc->name, c->client, c->host,
	    c->port, why);
	conn_drop(c);
}

/* c->cssl presents the leaf: the app's handshake, answering ALPN with
 * exactly the upstream's choice. */
void
intercept_accept(struct conn *c)
{
	char	 proto[TLS_ALPN_NAME_MAX + 1];

	tls_alpn_selected(c->ussl, proto, sizeof(proto));
	if (proto[0] != '\0' && !tls_alpn_answer(c->cssl, proto)) {
		log_err("intercept listener=%s client=%s host=%s: cannot "
		    "select the upstream's ALPN protocol", c->lc->name,
		    c->client, c->host);
		conn_drop(c);
		return;
	}
	wolfSSL_SSLSetIORecv(c->cssl, watch_recv);
	wolfSSL_SetIOReadCtx(c->cssl, c);
	c->on_deadline = accept_timeout;
	conn_wait(c, EV_READ, accept_tls, conn_timeout(c));
	accept_tls(c->cfd, 0, c);
}

/* --- the leaf, before the dial ------------------------------------------ */

/* The leaf is in the cache: c->cssl presents it, then the dial. Before
 * any upstream, a name without a leaf is a refusal (logged, counted,
 * answered: forward's alert). */
static void
leaf_ready(struct conn *c)
{
	bool	 missing;

	if ((c->cssl = tls_ca_session(c->srv->ca, c->cfd, c->host,
	    leaf_kind(c), compatible(c), &missing)) == NULL) {
		conn_refuse(c, 502, "no-leaf", "cannot present a minted "
		    "certificate");
		return;
	}
	((struct icpt *)c)->after_hello(c);
}

static void
leaf_minted(struct keeper_wait *w, const char *reason, const char *why)
{
	struct conn	*c = (struct conn *)((char *)w -
			    offsetof(struct conn, kw));

	event_del(c->deadline);
	if (reason != NULL)
		conn_refuse(c, 503, reason, why);
	else
		leaf_ready(c);
}

static void
mint_timeout(struct conn *c)
{
	char	 d[200];

	keeper_mint_expired(&c->kw);
	snprintf(d, sizeof(d), "no leaf within handshake_timeout (%u s): "
	    "the keeper is slow, or the names ahead were many",
	    conn_timeout(c));
	conn_refuse(c, 503, "mint-timeout", d);
}

/* The leaf for c->host, then after_hello (the dial). */
static void
intercept_leaf(struct conn *c)
{
	struct timeval		 tv = { (time_t)conn_timeout(c), 0 };
	struct verdict_policy	 vp;
	bool			 missing;

	/* a blocked name gets no leaf: the dial refuses it at once */
	snapshot_resolve(c->srv->snap, c->host, clock_now(), &vp);
	if (vp.policy == POLICY_BLOCK || (c->cssl = tls_ca_session(c->srv->ca,
	    c->cfd, c->host, leaf_kind(c), compatible(c), &missing)) != NULL) {
		((struct icpt *)c)->after_hello(c);
		return;
	}
	if (!missing || c->srv->keeper == NULL) {
		conn_refuse(c, 502, "no-leaf", missing ? "no keeper to mint "
		    "a certificate" : "cannot present a minted certificate");
		return;
	}
	/* Off the loop: the keeper signs while other connections run; the
	 * app's bytes wait in the kernel, the deadline bounds the wait (in
	 * the keeper's queue, too). */
	conn_idle(c);
	c->on_deadline = mint_timeout;
	evtimer_add(c->deadline, &tv);
	c->kw.done = leaf_minted;
	keeper_mint(c->srv->keeper, c->srv->ca, c->host, leaf_kind(c),
	    conn_timeout(c), &c->kw);
}
