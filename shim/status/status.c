/*
 * status.c - [shim] status: the responder. GET /metrics and GET /status
 * (JSON, or with "Accept: text/plain" the summary `pinshim status`
 * prints), each answered from one view of the server gathered for that
 * request and written by status_render.c.
 *
 * Served by a small HTTP/1.1 responder on libevent's listener and
 * bufferevents, with net/http1.c's parser: libevent 2.1's evhttp can
 * neither cap its connections nor give a request an absolute deadline
 * (its timeout restarts on every byte), so a client trickling bytes
 * could hold a descriptor each until the relay ran out.
 *
 * Nothing here changes state. Limits: clients outside status_allow are
 * closed at accept, before they take a slot or count against the rate;
 * at most 16 connections at once (more are closed at accept) and 32 new
 * ones a second (then accepting pauses to the next second); 5 s for a
 * whole connection from its accept, never extended (answers after the
 * first 2 s say "Connection: close", so a client that keeps its
 * connection is told in time); one request at a time: the next one is
 * not read until the answer before it is written in full, so a client
 * that pipelines requests and never reads holds one answer here, not
 * one per request; heads over 8 KiB get 431; methods other than GET and
 * HEAD 405 (and the connection closes, a body is never read); other
 * paths 404.
 *
 * Must never: show a private key, block the loop, or let one client hold
 * more than one answer or one slot past its deadline.
 */
#include <sys/socket.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "base/addr.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/unixsock.h"
#include "conf/conf.h"
#include "shim/keeper/keeper.h"
#include "shim/status/metrics.h"
#include "shim/net/http1.h"
#include "shim/remote/feedsync.h"
#include "shim/remote/report.h"
#include "shim/proc/server.h"
#include "shim/status/status.h"
#include "shim/status/status_render.h"
#include "shim/proc/tofusync.h"

#define STATUS_DEADLINE		5	/* seconds per connection, in all */
#define STATUS_KEEPALIVE	2	/* seconds; then answers close it */
#define STATUS_HEAD_MAX		8192
#define STATUS_ACCEPTS_PER_SEC	32
#define STATUS_CONNS_MAX	16

struct sconn;

struct status {
	struct server		*srv;
	struct evconnlistener	*evl;		/* owned */
	struct event		*resume;	/* owned; re-enable accepting */
	time_t			 second;
	unsigned		 accepts;	/* in this second */
	time_t			 denied_logged;
	struct sconn		*conns;		/* live; owned */
	size_t			 nconns;
};

struct sconn {
	struct status		*st;
	struct bufferevent	*bev;		/* owned */
	struct event		*deadline;	/* owned; armed once, at accept */
	struct timespec		 born;		/* CLOCK_MONOTONIC */
	bool			 closing;	/* answer, then close */
	struct sconn		*prev, *next;
};

/* --- the view: what the daemon knows, once per request ------------------ */

static long
open_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	long		 n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;			/* the DIR's own */
}

/* The view the renderers read, filled once per request. The listener
 * array is allocated here: free(v->listeners) when done. */
static void
gather(const struct status *st, struct status_view *v)
{
	const struct server	*srv = st->srv;
	struct status_listener	*ls;
	size_t			 i;

	memset(v, 0, sizeof(*v));
	v->now = clock_now();
	v->wall = time(NULL);
	v->started = srv->started;
	v->device_id = srv->conf->device_id;
	v->wolfssl_version = wolfSSL_lib_version();
	v->libevent_version = event_get_version();
	v->open_fds = open_fds();
	v->max_fds = srv->nofile;
	v->log_dropped = log_dropped();
	ls = xcalloc(srv->nlisteners ? srv->nlisteners : 1, sizeof(*ls));
	for (i = 0; i < srv->nlisteners; i++) {
		const struct listener	*l = &srv->listeners[i];

		ls[i].name = l->lc->name;
		ls[i].mode = listen_mode_name(l->lc->mode);
		ls[i].bind_host = l->lc->bind_host;
		ls[i].port = l->lc->bind_port;
		ls[i].active = l->nconns;
		ls[i].max_conns = l->max_conns;
		ls[i].accepted = l->accepted;
		ls[i].evicted = l->evicted;
		ls[i].bytes_up = l->bytes_up;
		ls[i].bytes_down = l->bytes_down;
	}
	v->listeners = ls;
	v->nlisteners = srv->nlisteners;
	v->held = srv->nconns;
	v->passed = srv->passed;
	v->refused = srv->refused;
	v->would_refuse = srv->would_refuse;
	v->series = metrics_series(&v->nseries, &v->series_dropped);
	v->handshakes = metrics_handshakes();
	v->connects = metrics_connect_counts();
	v->pinned = metrics_pinned_times();
	while (v->nrecent < METRICS_RECENT &&
	    (v->recent[v->nrecent] = metrics_recent(v->nrecent)) != NULL)
		v->nrecent++;
	v->rules = srv->snap->rules;
	v->nrules = srv->snap->nrules;
	v->feed_present = srv->conf->feed.present;
	v->feed_refresh = srv->conf->feed.refresh;
	feedsync_stats(srv->feed, &v->feed);
	v->fetch_outcomes = feed_outcome_names;
	report_stats(srv->rep, &v->reports);
	if ((v->ca = srv->ca != NULL))
		tls_ca_stats(srv->ca, &v->mints, &v->mint_hits,
		    &v->mint_cached);
	if ((v->keeper = srv->keeper != NULL)) {
		struct keeper_stats	 ks;

		v->mint_refusals = keeper_unminted(srv->keeper);
		keeper_stats(srv->keeper, &ks);
		v->keeper_pid = (long)keeper_pid(srv->keeper);
		v->keeper_pending = ks.pending;
		v->mint_waits = ks.mint_waits;
		v->mint_queued = ks.mint_queued;
		v->keeper_waiting = ks.waiting;
		v->keeper_stalled = ks.stalled;
	}
	if ((v->tofu = srv->tofu != NULL)) {
		v->tofu_pending = tofusync_pending(srv->tofusync);
		v->tofu_retries = tofusync_retries(srv->tofusync);
	}
}

/* --- serving ------------------------------------------------------------- */

static void
sconn_free(struct sconn *c)
{
	struct status	*st = c->st;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	st->nconns--;
	bufferevent_free(c->bev);
	event_free(c->deadline);
	free(c);
}

static bool
allowed(struct status *st, const struct sockaddr *sa)
{
	const struct status_conf *sc = &st->srv->conf->status;
	char			 who[64];
	size_t			 i;

	if (sc->unix_path != NULL)
		return true;		/* the socket's mode decides */
	for (i = 0; i < sc->nallow; i++)
		if (cidr_match(&sc->allow[i], sa))
			return true;
	if (st->denied_logged != time(NULL)) {
		st->denied_logged = time(NULL);
		sockaddr_format(sa, who, sizeof(who));
		log_warn("status: client %s is not in status_allow: closed",
		    who);
	}
	return false;
}

static void
answer(struct sconn *c, int code, const char *reason, const char *type,
    struct evbuffer *body, bool head_only, const char *extra)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
	    code, reason, type, body ? evbuffer_get_length(body) : 0,
	    extra ? extra : "", c->closing ? "Connection: close\r\n" : "");
	if (body != NULL && !head_only)
		evbuffer_add_buffer(out, body);
}

/* An error answer; the connection closes once it is written. */
static void
answer_error(struct sconn *c, int code, const char *reason,
    const char *extra)
{
	struct evbuffer	*b = xptr(evbuffer_new());

	evbuffer_add_printf(b, "%d %s\n", code, reason);
	c->closing = true;
	answer(c, code, reason, "text/plain; charset=utf-8", b, false, extra);
	evbuffer_free(b);
}

/* The value of header name in fields, into buf ("" if absent). */
static void
header(struct cursor fields, const char *name, char *buf, size_t sz)
{
	struct cursor	 n, v;
	const char	*why;

	buf[0] = '\0';
	while (http1_field(&fields, &n, &v, &why))
		if (cursor_eq_nocase(&n, name) && !cursor_str(&v, buf, sz))
			buf[0] = '\0';
}

/* Seconds since the connection was accepted. */
static time_t
age(const struct sconn *c)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - c->born.tv_sec;
}

/* One complete request head. */
static void
request(struct sconn *c, const uint8_t *data, const struct http1_head *h)
{
	struct status_view v;
	char		 target[512], accept[256], conn[64], *q;
	struct evbuffer	*b;
	bool		 head_only, get;

	get = cursor_eq(&h->method, "GET");
	head_only = cursor_eq(&h->method, "HEAD");
	if (!get && !head_only) {
		answer_error(c, 405, "Method Not Allowed",
		    "Allow: GET, HEAD\r\n");
		return;
	}
	if (!cursor_str(&h->target, target, sizeof(target))) {
		answer_error(c, 404, "Not Found", NULL);
		return;
	}
	if ((q = strchr(target, '?')) != NULL)
		*q = '\0';
	header(h->fields, "Connection", conn, sizeof(conn));
	/* HTTP/1.0, or "close": one request, then close; and so does the
	 * answer to a connection near its deadline */
	c->closing = strcasecmp(conn, "close") == 0 || memmem(data, h->len,
	    "HTTP/1.0\r\n", 10) != NULL || age(c) >= STATUS_KEEPALIVE;
	if (strcmp(target, "/metrics") != 0 && strcmp(target, "/status") != 0) {
		answer_error(c, 404, "Not Found (try /metrics or /status)",
		    NULL);
		return;
	}
	b = xptr(evbuffer_new());
	header(h->fields, "Accept", accept, sizeof(accept));
	gather(c->st, &v);
	if (strcmp(target, "/metrics") == 0) {
		status_render_metrics(&v, b);
		answer(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
		    b, head_only, NULL);
	} else if (strstr(accept, "text/plain") != NULL) {
		status_render_text(&v, b);
		answer(c, 200, "OK", "text/plain; charset=utf-8", b, head_only,
		    NULL);
	} else {
		status_render_json(&v, b);
		answer(c, 200, "OK", "application/json", b, head_only, NULL);
	}
	free(v.listeners);
	evbuffer_free(b);
}

/* At most one request is handled per answer written: while an answer is
 * unsent, reading stops (the kernel's buffers then push back on the
 * client), and on_write() takes the next request once it is out. */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct sconn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http1_head	 h;
	const char		*why;
	size_t			 len;
	uint8_t			*data;

	if (c->closing || (len = evbuffer_get_length(in)) == 0 ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (len > STATUS_HEAD_MAX + 1)
		len = STATUS_HEAD_MAX + 1;
	data = evbuffer_pullup(in, (ev_ssize_t)len);
	switch (http1_request(data, len, &h, &why)) {
	case HTTP1_MORE:
		if (len <= STATUS_HEAD_MAX)
			return;			/* the rest is on its way */
		answer_error(c, 431, "Request Header Fields Too Large", NULL);
		break;
	case HTTP1_BAD:
		answer_error(c, 400, "Bad Request", NULL);
		break;
	case HTTP1_OK:
		request(c, data, &h);
		evbuffer_drain(in, h.len);
		break;
	}
	bufferevent_disable(bev, EV_READ);	/* until the answer is out */
}

/* The answer is written in full: close, or take the next request (one
 * may already wait in the input, pipelined behind the last). */
static void
on_write(struct bufferevent *bev, void *arg)
{
	struct sconn	*c = arg;

	if (c->closing) {
		sconn_free(c);
		return;
	}
	bufferevent_enable(bev, EV_READ);
	on_read(bev, c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	sconn_free(arg);	/* EOF, error */
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sconn_free(arg);
}

static void
resume(evutil_socket_t fd, short what, void *arg)
{
	struct status	*st = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(st->evl);
}

/* Each accepted connection: outside status_allow, closed before it
 * counts for anything; over the cap, closed; over the rate, accepting
 * pauses to the next second (the backlog waits in the kernel). The
 * deadline is the connection's whole life: nothing re-arms it. */
static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct status	*st = arg;
	struct sconn	*c;
	struct timeval	 tv = { STATUS_DEADLINE, 0 };
	time_t		 now = time(NULL);

	(void)l;
	(void)salen;
	if (!allowed(st, sa)) {
		evutil_closesocket(fd);
		return;
	}
	if (now != st->second) {
		st->second = now;
		st->accepts = 0;
	}
	if (++st->accepts >= STATUS_ACCEPTS_PER_SEC) {
		struct timeval	 sec = { 1, 0 };

		evconnlistener_disable(st->evl);
		evtimer_add(st->resume, &sec);
	}
	if (st->nconns >= STATUS_CONNS_MAX) {
		evutil_closesocket(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->st = st;
	clock_gettime(CLOCK_MONOTONIC, &c->born);
	c->bev = xptr(bufferevent_socket_new(st->srv->base, fd,
	    BEV_OPT_CLOSE_ON_FREE));
	c->deadline = xptr(evtimer_new(st->srv->base, on_deadline, c));
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->deadline, &tv);
	if ((c->next = st->conns) != NULL)
		c->next->prev = c;
	st->conns = c;
	st->nconns++;
}

/* The unix socket: mode 0660, its owner the user the worker becomes, so
 * that user's group reads it; created race-free (base/unixsock.c). */
static int
bind_unix(const struct status_conf *sc, uid_t uid, gid_t gid, char *err,
    size_t errsz)
{
	char	 why[400];
	int	 fd;

	if ((fd = unixsock_listen(sc->unix_path, 0660, uid, gid,
	    STATUS_CONNS_MAX, why, sizeof(why))) == -1)
		snprintf(err, errsz, "[shim] status: %s", why);
	return fd;
}

static int
bind_tcp(const struct status_conf *sc, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	char			 addr[HOST_MAX + 16];
	int			 fd, one = 1, sslen = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	snprintf(addr, sizeof(addr), strchr(sc->host, ':') ? "[%s]:%u" :
	    "%s:%u", sc->host, sc->port);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		snprintf(err, errsz, "[shim] status: bad address %s", addr);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1 ||
	    listen(fd, STATUS_CONNS_MAX) == -1) {
		close(fd);
		goto fail;
	}
	return fd;
fail:
	snprintf(err, errsz, "[shim] status: %s:%u: %s", sc->host, sc->port,
	    strerror(errno));
	return -1;
}

int
status_check(const struct conf *conf, char *err, size_t errsz)
{
	char	 why[400];

	if (conf->status.unix_path == NULL)
		return 0;
	if (unixsock_check(conf->status.unix_path, why, sizeof(why)) == -1) {
		snprintf(err, errsz, "[shim] status: %s", why);
		return -1;
	}
	return 0;
}

struct status *
status_open(struct server *srv, uid_t uid, gid_t gid, char *err,
    size_t errsz)
{
	const struct status_conf *sc = &srv->conf->status;
	struct status	*st;
	int		 fd;

	if (!sc->present)
		return NULL;
	fd = sc->unix_path != NULL ? bind_unix(sc, uid, gid, err, errsz) :
	    bind_tcp(sc, err, errsz);
	if (fd == -1)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->srv = srv;
	st->resume = xptr(evtimer_new(srv->base, resume, st));
	if ((st->evl = evconnlistener_new(srv->base, on_accept, st,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		snprintf(err, errsz, "[shim] status: cannot listen on it");
		close(fd);
		status_free(st);
		return NULL;
	}
	if (sc->unix_path != NULL)
		log_info("status: serving /metrics and /status on unix:%s",
		    sc->unix_path);
	else
		log_info("status: serving /metrics and /status on %s:%u",
		    sc->host, sc->port);
	return st;
}

void
status_free(struct status *st)
{
	if (st == NULL)
		return;
	while (st->conns != NULL)
		sconn_free(st->conns);
	if (st->resume != NULL)
		event_free(st->resume);
	if (st->evl != NULL)
		evconnlistener_free(st->evl);
	free(st);
}
