/*
 * conn.c - the connection object every listener mode is built on (see
 * conn.h): the accept prologue (acting on the gate's verdict: room made
 * at max_conns, a client over its quota refused), waiting on the client
 * under a deadline, the upstream dial and its verdict, the one refuse
 * path, the relay, and the ends a stop imposes.
 *
 * Must never: let an application byte move before the verdict passed
 * (the relay starts only from conn_relay, which only runs after on_pass),
 * end a connection without freeing everything it holds, write a second
 * verdict line for one connection, or end one it did not finish (stop,
 * eviction) with an orderly close: those get a reset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "base/addr.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "shim/conn/conn.h"
#include "shim/listen/gate.h"
#include "shim/net/relay.h"
#include "shim/net/upstream.h"
#include "shim/listen/quota.h"
#include "shim/remote/report.h"

#define TRIM_MIN	64	/* connections gone since the last trim */

/* Memory goes back as a burst ends, not a second later: trim once the
 * count has halved since the last trim and at least TRIM_MIN connections
 * have gone, on the next turn of the loop (never inside a teardown), and
 * once more when the last connection of a burst that was trimmed goes
 * (what its tail freed sits at the heap's top). A burst of N costs about
 * log2(N / TRIM_MIN) + 1 trims, each far cheaper than the TRIM_MIN
 * teardowns before it; connections that come and go one at a time cost
 * none. */
static const struct timeval trim_delay = { 0, 0 };

static void	conn_refuse_as(struct conn *, int, const char *, const char *,
		    bool);

#define conn_of(m)	((struct conn *)(void *)((char *)(m) - \
			    offsetof(struct conn, quota_member)))

static void
conn_free(struct conn *c)
{
	server_live_del(c->srv, &c->live);
	c->l->nconns--;
	c->srv->nconns--;
	/* stopping: the last connection drained */
	if (c->srv->drain != NULL && c->srv->nconns == 0)
		event_active(c->srv->drain, EV_TIMEOUT, 0);
	if (((c->srv->nconns_peak - c->srv->nconns >= TRIM_MIN &&
	    c->srv->nconns <= c->srv->nconns_peak / 2) ||
	    (c->srv->nconns == 0 && c->srv->trim_tail)) &&
	    c->srv->trim != NULL && !evtimer_pending(c->srv->trim, NULL))
		evtimer_add(c->srv->trim, &trim_delay);
	if (c->quota_taken)
		quota_give(c->l->quota, &c->quota_key, &c->quota_member);
	if (c->up != NULL)
		upstream_cancel(c->up);
	keeper_mint_cancel(&c->kw);
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->pre != NULL)
		evbuffer_free(c->pre);
	free(c->alpn);
	if (c->cssl != NULL)
		tls_session_free(c->cssl);	/* and its read-ahead */
	if (c->ussl != NULL)
		tls_session_free(c->ussl);
	if (c->cfd != -1)
		close(c->cfd);
	if (c->ufd != -1)
		close(c->ufd);
	gate_apply(c->srv);
	conf_free(c->conf);
	free(c);
}

/* End c now with a reset to the app (and to the upstream, if relaying):
 * whatever it was doing is not finished. how: the close line's. */
static void
conn_reset(struct conn *c, const char *how)
{
	struct linger	 l = { 1, 0 };

	if (c->relay != NULL) {
		relay_abort(c->relay, how);	/* frees c through relay_done */
		return;
	}
	if (c->cfd != -1)
		(void)setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	conn_free(c);
}

static void
conn_abort(struct live *lv)
{
	conn_reset((struct conn *)lv, "shutting down");
}

/* The process stops: a relay may finish (the daemon bounds it by
 * shutdown_timeout); anything before its relay has nothing the app could
 * lose, and is reset now instead of starting one. */
static void
conn_stop(struct live *lv)
{
	struct conn	*c = (struct conn *)lv;

	if (c->relay == NULL)
		conn_reset(c, "shutting down");
}

static void
conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->on_deadline != NULL)
		c->on_deadline(c);
	else
		conn_drop(c);
}

/* When c last moved a byte; before its relay, when it came. */
static uint64_t
conn_since(const struct quota_member *m)
{
	const struct conn	*c = conn_of(m);
	struct timeval		 tv = c->start;

	if (c->relay != NULL)
		relay_last_active(c->relay, &tv);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* l is at max_conns and a newcomer from client may have a place: end the
 * longest-idle connection of the client that holds the most, so idle
 * clients cannot keep a listener from serving. */
static void
conn_evict(struct listener *l, const char *client)
{
	struct quota_member	*m;
	struct conn		*v;
	struct timeval		 now;
	uint64_t		 since, usec;

	if ((m = quota_victim(l->quota, conn_since)) == NULL)
		return;
	v = conn_of(m);
	since = conn_since(m);
	gettimeofday(&now, NULL);	/* the clock of c->start */
	usec = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_usec;
	l->evicted++;
	if (gate_log_ok(l, time(NULL)))
		log_warn("listener=%s: at max_conns %u: evicted client=%s "
		    "host=%s:%u (its client holds %u, idle %llus) for "
		    "client=%s", l->lc->name, l->max_conns, v->client,
		    v->host, v->port, quota_held(l->quota, &v->quota_key),
		    (unsigned long long)(usec > since ? (usec - since) /
		    1000000 : 0), client);
	conn_reset(v, "evicted");
}

struct conn *
conn_new(struct listener *l, int fd, const struct sockaddr *sa, size_t size)
{
	struct conn	*c = xcalloc(1, size);
	struct gate_ask	 ask;
	enum gate_verdict v;
	char		 d[160];

	c->srv = l->srv;
	c->l = l;
	c->conf = conf_ref(l->conf);
	c->lc = l->lc;
	c->cfd = fd;
	c->ufd = -1;
	c->live.abort = conn_abort;
	gettimeofday(&c->start, NULL);
	sockaddr_format(sa, c->client, sizeof(c->client));
	memcpy(&c->peer, sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	c->live.stop = conn_stop;
	c->deadline = xptr(evtimer_new(c->srv->base, conn_deadline, c));
	quota_key(sa, (unsigned)l->lc->v6_prefix, &c->quota_key);
	ask.nconns = l->nconns;
	ask.max_conns = l->max_conns;
	ask.held = quota_held(l->quota, &c->quota_key);
	ask.max_per_client = l->max_per_client;
	ask.allowed = l->lc->nallow == 0 || gate_allowed(l->lc, sa);
	if ((v = gate_admit(&ask)) == GATE_EVICT)
		conn_evict(l, c->client);
	server_live_add(c->srv, &c->live);
	l->nconns++;
	l->accepted++;
	if (++c->srv->nconns > c->srv->nconns_peak)
		c->srv->nconns_peak = c->srv->nconns;
	sock_relay_options(fd);
	/* quota_take cannot fail after GATE_ADMIT or GATE_EVICT; if it ever
	 * did, the newcomer is refused, not served uncounted. */
	if (v == GATE_REFUSE || !(c->quota_taken = quota_take(l->quota,
	    &c->quota_key, l->max_per_client, &c->quota_member))) {
		snprintf(d, sizeof(d), "this client%s holds %u connection(s), "
		    "max_conns_per_client", quota_key_v6(&c->quota_key) ?
		    "'s IPv6 prefix" : "", quota_held(l->quota, &c->quota_key));
		conn_refuse_as(c, 503, "limit", d, gate_log_ok(l,
		    time(NULL)));
		return NULL;
	}
	gate_apply(c->srv);
	return c;
}

unsigned
conn_timeout(const struct conn *c)
{
	return (unsigned)c->conf->handshake_timeout;
}

void
conn_wait(struct conn *c, short what, event_callback_fn fn, unsigned secs)
{
	struct timeval	 tv = { (time_t)secs, 0 };

	if (c->ev != NULL)
		event_free(c->ev);
	c->ev = xptr(event_new(c->srv->base, c->cfd, what, fn, c));
	event_add(c->ev, NULL);
	if (secs > 0) {
		event_del(c->deadline);
		evtimer_add(c->deadline, &tv);
	}
}

ssize_t
conn_peek(struct conn *c, void *buf, size_t sz)
{
	ssize_t	 n = recv(c->cfd, buf, sz, MSG_PEEK);

	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	conn_drop(c);		/* EOF or an error: the app went away */
	return -1;
}

void
conn_idle(struct conn *c)
{
	event_del(c->deadline);
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
}

void
conn_drop(struct conn *c)
{
	conn_free(c);
}

static const char *
status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Bad Gateway";
	}
}

/* forward: a status and a one-line reason, then our FIN. */
static void
conn_reply(struct conn *c, int status, const char *line)
{
	char	 buf[1400];
	int	 n, body = (int)strlen(line) + 10;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
	    "pinshim: %s\n", status, status_text(status), body, line);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)!write(c->cfd, buf, (size_t)n);
	/* XXX: no lingering drain, so unread request bytes still turn the
	 * close() into an RST, which can cut the reply short for a client
	 * that keeps sending. */
	shutdown(c->cfd, SHUT_WR);
}

/* forward after its 200: the app's ClientHello is read (so the close
 * is not a reset that could overtake the alert), then a fatal
 * handshake_failure alert (RFC 8446 6.2) and our FIN. */
static void
conn_alert(struct conn *c)
{
	static const uint8_t alert[] = { 21, 3, 3, 0, 2, 2, 40 };
	uint8_t		 buf[4096];
	int		 i;

	for (i = 0; i < 16 && recv(c->cfd, buf, sizeof(buf),
	    MSG_DONTWAIT) > 0; i++)
		;
	(void)!write(c->cfd, alert, sizeof(alert));
	shutdown(c->cfd, SHUT_WR);
}

/* The mode's answer to a refusal, then free. */
static void
conn_answer(struct conn *c, int status, const char *line)
{
	if (status != 0 && c->lc->mode == MODE_FORWARD) {
		if (c->tls_answer)
			conn_alert(c);
		else
			conn_reply(c, status, line);
	}
	conn_free(c);
}

static void
conn_refuse_as(struct conn *c, int status, const char *reason,
    const char *detail, bool logged)
{
	struct upstream_result	 r;

	memset(&r, 0, sizeof(r));
	r.fail = UP_BLOCKED;
	r.local = true;
	r.reason = reason;
	snprintf(r.detail, sizeof(r.detail), "%s", detail);
	if (logged)
		upstream_log(&r, c->lc->name, c->client, c->host, c->port,
		    true);
	c->srv->refused++;
	conn_answer(c, status, detail);
}

void
conn_refuse(struct conn *c, int status, const char *reason,
    const char *detail)
{
	conn_refuse_as(c, status, reason, detail, true);
}

static void
conn_upstream_done(struct upstream_result *r, void *arg)
{
	struct conn	*c = arg;
	char		 line[1024];

	c->up = NULL;
	upstream_log(r, c->lc->name, c->client, c->host, c->port,
	    !c->srv->conf->log_refusals_only);
	if (r->fail != UP_OK) {
		c->srv->refused++;
		report_refusal(c->srv->rep, r, c->lc->name);
		snprintf(line, sizeof(line), "upstream %s:%u refused: %s (%s)",
		    c->host, c->port, r->reason, r->detail);
		conn_answer(c, 502, line);
		return;
	}
	c->srv->passed++;
	if (r->would_refuse) {
		c->srv->would_refuse++;
		report_refusal(c->srv->rep, r, c->lc->name);
	}
	c->ufd = r->fd;
	c->ussl = r->ssl;
	c->on_pass(c);
}

void
conn_dial(struct conn *c, const struct sockaddr_storage *addr,
    conn_step on_pass)
{
	struct upstream_opts	 opts;

	conn_idle(c);
	c->on_pass = on_pass;
	memset(&opts, 0, sizeof(opts));
	opts.addr = addr;
	opts.alpn = c->alpn;
	opts.proxy = conf_proxy(c->conf, &c->lc->proxy, c->host);
	opts.ident = c->lc->ident;
	c->up = upstream_open(c->srv, c->host, c->port, &opts,
	    conn_upstream_done, c);
}

/* The one close line of a relayed connection. */
static void
conn_relay_done(void *arg, const char *how, int failed, uint64_t up,
    uint64_t down)
{
	struct conn	*c = arg;
	struct timeval	 now, d;

	gettimeofday(&now, NULL);
	timersub(&now, &c->start, &d);
	if (!c->srv->conf->log_refusals_only)
		log_info("close listener=%s client=%s host=%s:%u how=\"%s%s"
		    "%s\" up=%llu down=%llu duration=%ld.%03lds",
		    c->lc->name, c->client, c->host, c->port, how,
		    failed >= 0 ? " by " : "",
		    failed >= 0 ? relay_end_name(failed) : "",
		    (unsigned long long)up, (unsigned long long)down,
		    (long)d.tv_sec, (long)d.tv_usec / 1000);
	c->relay = NULL;
	conn_free(c);
}

void
conn_relay(struct conn *c)
{
	conn_idle(c);
	c->relay = relay_start(c->srv->base, c->cfd, c->cssl, c->ufd,
	    c->ussl, conn_relay_done, c);
	relay_idle(c->relay, c->srv->base, (unsigned)c->lc->idle_timeout);
	relay_tally(c->relay, &c->l->bytes_up, &c->l->bytes_down);
	if (c->conf->truncation == TRUNCATION_CLOSE)
		relay_keep_fin(c->relay);
	if (c->pre != NULL)
		relay_prime(c->relay, c->pre);
	if (c->up_capped)
		relay_cap_up(c->relay, c->up_max);
	c->cfd = c->ufd = -1;
	c->cssl = c->ussl = NULL;
}
