/*
 * intercept.c - modes forward and transparent: the app speaks TLS itself;
 * pinshim terminates it with a leaf minted for the requested name by the
 * local CA, and relays to a separate upstream TLS connection that has
 * passed its pin check.
 *
 * forward:     HTTP proxy. CONNECT host:port is answered 200 only after the
 *              upstream verdict passed (502 with the reason otherwise);
 *              absolute-form http:// requests go out over pinned TLS when
 *              the host's [domain:...] says upgrade = yes, else 403.
 * transparent: a firewall REDIRECT sent the app here; the destination comes
 *              from SO_ORIGINAL_DST and the name from the ClientHello's SNI,
 *              peeked without consuming it (no SNI: the address's policy).
 *
 * Must never: answer 200 or complete the app's handshake before the
 * upstream verdict passed, relay for a client outside allow, or mint for a
 * name other than the one whose upstream passed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include <netinet/in.h>

#include "clienthello.h"
#include "log.h"
#include "origdst.h"
#include "relay.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define HEAD_MAX	8192		/* request line + headers */
#define HELLO_MAX	(16384 + 5)	/* one TLS record */

enum stage { S_HEAD, S_UPSTREAM, S_HELLO, S_ACCEPT, S_RELAY };

struct icpt {
	struct conn		 conn;		/* first: server's list */
	struct server		*srv;
	struct listener		*l;
	int			 cfd;		/* owned until the relay */
	char			 client[64];
	enum stage		 stage;
	struct event		*ev;		/* owned; cfd I/O */
	struct event		*deadline;	/* owned */
	struct evbuffer		*head;		/* owned; request head */
	char			 host[HOST_MAX + 1];
	uint16_t		 port;
	bool			 connect;	/* CONNECT (else upgrade) */
	struct evbuffer		*pre;		/* owned; upgrade request */
	struct sockaddr_storage	 orig;		/* transparent */
	struct upstream		*up;		/* pending, or NULL */
	int			 ufd;		/* owned until the relay */
	WOLFSSL			*ussl;		/* owned until the relay */
	WOLFSSL			*cssl;		/* owned until the relay */
	struct relay		*relay;
	struct timeval		 start;
};

static void	icpt_hello(evutil_socket_t, short, void *);
static void	icpt_accept_tls(evutil_socket_t, short, void *);

static void
icpt_free(struct icpt *c)
{
	server_conn_del(c->srv, &c->conn);
	if (c->up != NULL)
		upstream_cancel(c->up);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->head != NULL)
		evbuffer_free(c->head);
	if (c->pre != NULL)
		evbuffer_free(c->pre);
	if (c->cssl != NULL)
		wolfSSL_free(c->cssl);
	if (c->ussl != NULL)
		wolfSSL_free(c->ussl);
	if (c->cfd != -1)
		close(c->cfd);
	if (c->ufd != -1)
		close(c->ufd);
	free(c);
}

static void
icpt_abort(struct conn *conn)
{
	struct icpt	*c = (struct icpt *)conn;

	if (c->relay != NULL)
		relay_abort(c->relay);
	else
		icpt_free(c);
}

/* A refusal decided here (not by the upstream check): one log line. */
static void
log_refuse(struct icpt *c, const char *reason, const char *detail)
{
	log_warn("verdict listener=%s client=%s host=%s:%u addr=- policy=- "
	    "rule=- verdict=refuse reason=%s detail=\"%s\" presented=- "
	    "anchor=-", c->l->lc->name, c->client, c->host[0] ? c->host : "-",
	    c->port, reason, detail);
}

/* forward: answer with a status and a one-line reason, then close. */
static void
reply_and_close(struct icpt *c, int status, const char *text,
    const char *line)
{
	char	 buf[1400];
	int	 n, body = (int)strlen(line) + 10;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
	    "pinshim: %s\n", status, text, body, line);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)!write(c->cfd, buf, (size_t)n);
	/* Send our FIN right behind the reply. XXX: unread request bytes
	 * still turn the close() into an RST, which can cut the reply short
	 * for a client that keeps sending; a lingering drain would fix it. */
	shutdown(c->cfd, SHUT_WR);
	icpt_free(c);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct icpt	*c = arg;

	(void)fd;
	(void)what;
	switch (c->stage) {
	case S_HEAD:
		log_refuse(c, "client-timeout", "no complete request head "
		    "within handshake_timeout");
		reply_and_close(c, 408, "Request Timeout", "request head "
		    "not received in time");
		return;
	case S_HELLO:
		log_refuse(c, "client-timeout", "no ClientHello in time");
		break;
	case S_ACCEPT:
		log_warn("intercept listener=%s client=%s host=%s:%u "
		    "error=\"client TLS handshake timed out\"",
		    c->l->lc->name, c->client, c->host, c->port);
		break;
	default:
		break;
	}
	icpt_free(c);
}

static void
arm(struct icpt *c, short what, event_callback_fn fn, unsigned secs)
{
	struct timeval	 tv = { (time_t)secs, 0 };

	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = event_new(c->srv->base, c->cfd, what, fn, c);
	if (c->ev == NULL)
		abort();
	event_add(c->ev, NULL);
	if (secs > 0) {
		event_del(c->deadline);
		evtimer_add(c->deadline, &tv);
	}
}

static void
icpt_relay_done(void *arg, const char *how, int failed, uint64_t up,
    uint64_t down)
{
	struct icpt	*c = arg;

	relay_log_close(c->l->lc->name, c->client, c->host, c->port, how,
	    failed, up, down, &c->start);
	c->relay = NULL;
	icpt_free(c);
}

static void
start_relay(struct icpt *c)
{
	struct server	*srv = c->srv;

	event_del(c->deadline);
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	c->stage = S_RELAY;
	c->relay = relay_start(srv->base, c->cfd, c->cssl, c->ufd, c->ussl,
	    icpt_relay_done, c);
	if (c->pre != NULL)
		relay_prime(c->relay, c->pre);
	c->cfd = c->ufd = -1;
	c->cssl = c->ussl = NULL;
}

/* --- the app's TLS ------------------------------------------------------ */

static void
icpt_accept_tls(evutil_socket_t fd, short what, void *arg)
{
	struct icpt	*c = arg;
	int		 ret, err;

	(void)fd;
	(void)what;
	ret = wolfSSL_accept(c->cssl);
	if (ret == WOLFSSL_SUCCESS) {
		log_debug("intercept listener=%s client=%s host=%s "
		    "tls=%s", c->l->lc->name, c->client, c->host,
		    wolfSSL_get_version(c->cssl));
		start_relay(c);
		return;
	}
	err = wolfSSL_get_error(c->cssl, ret);
	if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
		arm(c, err == WOLFSSL_ERROR_WANT_READ ? EV_READ : EV_WRITE,
		    icpt_accept_tls, 0);
		return;
	}
	{
		char buf[WOLFSSL_MAX_ERROR_SZ];

		wolfSSL_ERR_error_string_n((unsigned long)err, buf,
		    sizeof(buf));
		log_warn("intercept listener=%s client=%s host=%s:%u "
		    "error=\"client TLS handshake failed: %s (does the app "
		    "trust the pinshim CA?)\"", c->l->lc->name, c->client,
		    c->host, c->port, buf);
	}
	icpt_free(c);
}

static void
start_accept(struct icpt *c)
{
	c->stage = S_ACCEPT;
	c->cssl = tls_ca_session(c->srv->ca, c->cfd, c->host);
	if (c->cssl == NULL) {
		log_err("intercept listener=%s client=%s host=%s: cannot mint "
		    "a certificate", c->l->lc->name, c->client, c->host);
		icpt_free(c);
		return;
	}
	arm(c, EV_READ, icpt_accept_tls, (unsigned)
	    c->srv->conf->handshake_timeout);
	icpt_accept_tls(c->cfd, 0, c);
}

/* --- the upstream --------------------------------------------------------- */

static void
icpt_upstream_done(struct upstream_result *r, void *arg)
{
	struct icpt	*c = arg;
	char		 line[1024];

	c->up = NULL;
	upstream_log(c->srv, r, c->l->lc->name, c->client, c->host, c->port);
	if (r->fail != UP_OK) {
		c->srv->refused++;
		if (c->l->lc->mode == MODE_FORWARD) {
			snprintf(line, sizeof(line), "upstream %s:%u refused: "
			    "%s (%s)", c->host, c->port, r->reason, r->detail);
			reply_and_close(c, 502, "Bad Gateway", line);
		} else
			icpt_free(c);
		return;
	}
	c->srv->passed++;
	c->ufd = r->fd;
	c->ussl = r->ssl;
	if (c->l->lc->mode == MODE_TRANSPARENT) {
		start_accept(c);
	} else if (c->connect) {
		static const char ok[] = "HTTP/1.1 200 Connection established"
		    "\r\n\r\n";

		if (write(c->cfd, ok, sizeof(ok) - 1) != sizeof(ok) - 1) {
			icpt_free(c);
			return;
		}
		c->stage = S_HELLO;
		arm(c, EV_READ | EV_ET | EV_PERSIST, icpt_hello,
		    (unsigned)c->srv->conf->handshake_timeout);
		icpt_hello(c->cfd, EV_READ, c);
	} else
		start_relay(c);		/* upgraded http:// request */
}

static void
open_upstream(struct icpt *c)
{
	struct upstream_opts	 opts;

	c->stage = S_UPSTREAM;
	event_del(c->deadline);
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	memset(&opts, 0, sizeof(opts));
	if (c->l->lc->mode == MODE_TRANSPARENT)
		opts.addr = &c->orig;
	c->up = upstream_open(c->srv, c->host, c->port,
	    c->l->lc->mode == MODE_TRANSPARENT ? &opts : NULL,
	    icpt_upstream_done, c);
}

/* --- ClientHello ------------------------------------------------------------ */

/* The name the app asked for; false if it is unusable or differs from the
 * name whose upstream is being (or was) checked. */
static bool
take_sni(struct icpt *c, const char *sni)
{
	char		 norm[HOST_MAX + 1];
	const char	*why;

	if (sni[0] == '\0')
		return true;	/* keep the CONNECT host / the address */
	if (!host_normalize(sni, norm, sizeof(norm), &why)) {
		log_refuse(c, "bad-sni", why);
		return false;
	}
	if (c->l->lc->mode == MODE_FORWARD && strcmp(norm, c->host) != 0) {
		char d[600];

		snprintf(d, sizeof(d), "SNI %s differs from the CONNECT host",
		    norm);
		log_refuse(c, "sni-mismatch", d);
		return false;
	}
	snprintf(c->host, sizeof(c->host), "%s", norm);
	return true;
}

static void
icpt_hello(evutil_socket_t fd, short what, void *arg)
{
	struct icpt	*c = arg;
	uint8_t		 buf[HELLO_MAX];
	char		 sni[HOST_MAX + 2];
	ssize_t		 n;

	(void)what;
	n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		icpt_free(c);		/* the app went away */
		return;
	}
	if (n < 0)
		return;
	switch (clienthello_sni(buf, (size_t)n, sni, sizeof(sni))) {
	case CH_MORE:
		if ((size_t)n == sizeof(buf)) {
			log_refuse(c, "bad-clienthello", "ClientHello larger "
			    "than one record");
			icpt_free(c);
		}
		return;		/* edge-triggered: wait for more bytes */
	case CH_NOT_TLS:
		log_refuse(c, "not-tls", "the app did not start a TLS "
		    "handshake");
		icpt_free(c);
		return;
	case CH_BAD:
		log_refuse(c, "bad-clienthello", "malformed ClientHello");
		icpt_free(c);
		return;
	case CH_OK:
		break;
	}
	if (!take_sni(c, sni)) {
		icpt_free(c);
		return;
	}
	if (c->l->lc->mode == MODE_TRANSPARENT)
		open_upstream(c);
	else
		start_accept(c);
}

/* --- forward: the request head ------------------------------------------- */

static bool
parse_connect(struct icpt *c, const char *target)
{
	char		 host[HOST_MAX + 1];
	const char	*why;
	size_t		 i;

	if (!parse_hostport(target, host, sizeof(host), &c->port)) {
		reply_and_close(c, 400, "Bad Request", "CONNECT wants "
		    "HOST:PORT");
		return false;
	}
	if (host_is_ip(host))
		snprintf(c->host, sizeof(c->host), "%s", host);
	else if (!host_normalize(host, c->host, sizeof(c->host), &why)) {
		reply_and_close(c, 400, "Bad Request", why);
		return false;
	}
	for (i = 0; i < c->l->lc->nports; i++)
		if (c->l->lc->ports[i] == c->port)
			break;
	if (i == c->l->lc->nports) {
		log_refuse(c, "port-not-allowed", "CONNECT port not in ports");
		reply_and_close(c, 403, "Forbidden", "CONNECT to this port is "
		    "not allowed");
		return false;
	}
	c->connect = true;
	return true;
}

/* Absolute-form http://host/path: rewrite to origin-form for an upgrade to
 * https, if the host's rule allows it. */
static bool
parse_upgrade(struct icpt *c, const char *method, const char *target,
    const char *headers)
{
	struct evhttp_uri	*u;
	struct verdict_policy	 vp;
	const char		*why, *h, *q, *path;
	char			 d[600];

	if ((u = evhttp_uri_parse_with_flags(target, 0)) == NULL ||
	    evhttp_uri_get_scheme(u) == NULL ||
	    strcasecmp(evhttp_uri_get_scheme(u), "http") != 0 ||
	    (h = evhttp_uri_get_host(u)) == NULL ||
	    (!host_is_ip(h) && !host_normalize(h, c->host, sizeof(c->host),
	    &why))) {
		if (u != NULL)
			evhttp_uri_free(u);
		reply_and_close(c, 400, "Bad Request", "want CONNECT "
		    "host:port or an absolute http:// URL");
		return false;
	}
	if (host_is_ip(h))
		snprintf(c->host, sizeof(c->host), "%s", h);
	c->port = 443;
	snapshot_resolve(c->srv->snap, c->host, time(NULL), &vp);
	if (vp.rule == NULL || !vp.rule->upgrade || vp.policy == POLICY_BLOCK) {
		evhttp_uri_free(u);
		snprintf(d, sizeof(d), "http://%s is not upgraded to https "
		    "(needs upgrade = yes in its [domain:...])", c->host);
		log_refuse(c, "no-upgrade", d);
		reply_and_close(c, 403, "Forbidden", d);
		return false;
	}
	path = evhttp_uri_get_path(u);
	q = evhttp_uri_get_query(u);
	c->pre = evbuffer_new();
	/* Host is the name whose pins were checked, never the client's
	 * (a shared front end routes on it). */
	evbuffer_add_printf(c->pre, "%s %s%s%s HTTP/1.1\r\nHost: %s\r\n",
	    method, path && *path ? path : "/", q ? "?" : "", q ? q : "",
	    c->host);
	/* Hop-by-hop headers go; the upstream closes after one exchange. */
	for (h = headers; *h != '\0'; ) {
		size_t len = strcspn(h, "\r\n");

		if (len > 0 && strncasecmp(h, "Host:", 5) != 0 &&
		    strncasecmp(h, "Proxy-Connection:", 17) != 0 &&
		    strncasecmp(h, "Connection:", 11) != 0 &&
		    strncasecmp(h, "Keep-Alive:", 11) != 0 &&
		    strncasecmp(h, "Proxy-Authorization:", 20) != 0) {
			evbuffer_add(c->pre, h, len);
			evbuffer_add(c->pre, "\r\n", 2);
		}
		h += len;
		h += strspn(h, "\r\n");
	}
	evbuffer_add_printf(c->pre, "Connection: close\r\n\r\n");
	evhttp_uri_free(u);
	c->connect = false;
	return true;
}

static void
icpt_head(evutil_socket_t fd, short what, void *arg)
{
	struct icpt	*c = arg;
	char		 ch, *head, *sp1, *sp2, *eol;
	size_t		 len;
	ssize_t		 n;

	(void)what;
	/* Byte by byte, so nothing past the head is consumed: the
	 * ClientHello after a CONNECT stays in the socket for wolfSSL. */
	for (;;) {
		n = recv(fd, &ch, 1, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			icpt_free(c);
			return;
		}
		if (n < 0)
			return;
		evbuffer_add(c->head, &ch, 1);
		len = evbuffer_get_length(c->head);
		if (len > HEAD_MAX) {
			log_refuse(c, "bad-request", "request head over 8 KiB");
			reply_and_close(c, 431, "Request Header Fields Too "
			    "Large", "request head over 8 KiB");
			return;
		}
		if (ch == '\n' && len >= 4 && evbuffer_search(c->head,
		    "\r\n\r\n", 4, NULL).pos == (ev_ssize_t)len - 4)
			break;
		if (ch == '\0') {
			reply_and_close(c, 400, "Bad Request", "NUL byte");
			return;
		}
	}
	evbuffer_add(c->head, "", 1);
	head = (char *)evbuffer_pullup(c->head, -1);
	eol = strstr(head, "\r\n");
	*eol = '\0';
	/* METHOD SP TARGET SP HTTP/1.x */
	if ((sp1 = strchr(head, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL ||
	    strchr(sp2 + 1, ' ') != NULL ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		log_refuse(c, "bad-request", "malformed request line");
		reply_and_close(c, 400, "Bad Request", "malformed request "
		    "line");
		return;
	}
	*sp1 = *sp2 = '\0';
	if (strcmp(head, "CONNECT") == 0) {
		if (!parse_connect(c, sp1 + 1))
			return;
	} else if (!parse_upgrade(c, head, sp1 + 1, eol + 2))
		return;
	open_upstream(c);
}

/* --- accept ------------------------------------------------------------------ */

void
intercept_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct icpt	*c = xcalloc(1, sizeof(*c));
	socklen_t	 olen;
	size_t		 i;

	c->srv = l->srv;
	c->l = l;
	c->cfd = fd;
	c->ufd = -1;
	c->conn.abort = icpt_abort;
	gettimeofday(&c->start, NULL);
	sockaddr_format(sa, c->client, sizeof(c->client));
	server_conn_add(c->srv, &c->conn);
	c->deadline = evtimer_new(c->srv->base, on_deadline, c);
	if (c->deadline == NULL)
		abort();

	for (i = 0; i < l->lc->nallow; i++)
		if (cidr_match(&l->lc->allow[i], sa))
			break;
	if (i == l->lc->nallow) {
		log_refuse(c, "client-not-allowed", "client address not in "
		    "allow");
		if (l->lc->mode == MODE_FORWARD)
			reply_and_close(c, 403, "Forbidden", "client not "
			    "allowed");
		else
			icpt_free(c);
		return;
	}
	if (l->lc->mode == MODE_FORWARD) {
		c->head = evbuffer_new();
		c->stage = S_HEAD;
		arm(c, EV_READ | EV_PERSIST, icpt_head,
		    (unsigned)c->srv->conf->handshake_timeout);
		return;
	}
	/* transparent */
	if (origdst_get(fd, &c->orig, &olen) == -1) {
		log_refuse(c, "no-original-destination", strerror(errno));
		icpt_free(c);
		return;
	}
	/* Not redirected (the app connected to the listener itself): the
	 * "original" destination is pinshim, and following it would loop. */
	{
		struct sockaddr_storage	 self;
		socklen_t		 slen = sizeof(self);
		char			 a[64], b[64];

		if (getsockname(fd, (struct sockaddr *)&self, &slen) == 0) {
			sockaddr_format((struct sockaddr *)&self, a, sizeof(a));
			sockaddr_format((struct sockaddr *)&c->orig, b,
			    sizeof(b));
			if (strcmp(a, b) == 0) {
				log_refuse(c, "not-redirected", "connected to "
				    "the transparent listener directly; only "
				    "firewall-redirected traffic is served");
				icpt_free(c);
				return;
			}
		}
	}
	sockaddr_format((struct sockaddr *)&c->orig, c->host, sizeof(c->host));
	c->port = ntohs(c->orig.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&c->orig)->sin6_port :
	    ((struct sockaddr_in *)&c->orig)->sin_port);
	/* until the SNI says otherwise, the name is the bare address */
	*strrchr(c->host, ':') = '\0';
	if (c->host[0] == '[') {
		memmove(c->host, c->host + 1, strlen(c->host));
		c->host[strlen(c->host) - 1] = '\0';
	}
	c->stage = S_HELLO;
	arm(c, EV_READ | EV_ET | EV_PERSIST, icpt_hello,
	    (unsigned)c->srv->conf->handshake_timeout);
}
