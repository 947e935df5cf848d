/*
 * probe.c - `pinshim monitor`'s probes on one libevent loop: names
 * resolved by evdns, every address connected without blocking, the TLS
 * handshake driven by WANT_READ/WANT_WRITE, the verdict the device's own
 * (tls_verdict over a tls_session_new session), then, if asked, one
 * HTTP/1.0 GET by remote/httpc.c, the TLS session carried onto a
 * socketpair by a relay as remote/web.c does. At most `parallel`
 * resolutions and connections run at once; each has `timeout` seconds,
 * so a hung endpoint costs one slot for that long and no more.
 *
 * Must never: send a request before the verdict passed, judge a host by
 * any rule but tls_verdict's, or call back from inside probe_pool_add.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/util.h>

#include "base/addr.h"
#include "base/mem.h"
#include "shim/cmd/probe.h"
#include "shim/net/relay.h"
#include "shim/remote/httpc.h"

#define PROBE_ADDRS	16	/* addresses probed per name */

enum probe_phase {
	PH_CONNECT,
	PH_HANDSHAKE,
	PH_RESPONSE,		/* the GET, by httpc.c: a request this
				 * small is sent at once, so its time is
				 * the response's */
};

struct probe_pool;

/* A queued task: its name resolved, then one probe per address. */
struct ptask {
	TAILQ_ENTRY(ptask)	 entry;
	struct probe_pool	*pool;
	struct probe_task	 t;		/* host, path: owned copies */
	probe_cb		 cb;
	void			*arg;
	unsigned		 refs;		/* resolving + probes alive */
	struct evdns_getaddrinfo_request *req;	/* pending, or NULL */
	bool			 answered;	/* task_dns ran */
	struct event		*deadline;	/* owned */
};

/* One address of a task. */
struct pprobe {
	TAILQ_ENTRY(pprobe)	 entry;
	struct ptask		*task;		/* one reference held */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 name[64];
	int			 fd;		/* owned, or -1 */
	WOLFSSL			*ssl;		/* owned, or NULL */
	struct tls_check	 chk;		/* backs ssl */
	struct tls_verdict	 v;
	enum probe_phase	 phase;
	struct event		*io;		/* owned */
	struct event		*deadline;	/* owned */
	struct relay		*relay;		/* the TLS half of the GET,
						 * while it runs, or NULL */
	struct httpc		*http;		/* pending, or NULL */
};

TAILQ_HEAD(ptasks, ptask);
TAILQ_HEAD(pprobes, pprobe);

struct probe_pool {
	struct event_base	*base;		/* borrowed */
	struct evdns_base	*dns;		/* borrowed */
	struct tls_client	*tls;		/* one reference owned */
	unsigned		 parallel, timeout;
	unsigned		 active;	/* resolving + probing */
	size_t			 pending;	/* tasks and probes not ended */
	bool			 pumping;
	struct ptasks		 queued, resolving;
	struct pprobes		 waiting, running;
	struct event		*kick;		/* owned */
};

static void	pool_pump(struct probe_pool *);
static void	probe_step(evutil_socket_t, short, void *);

static void
task_unref(struct ptask *k)
{
	if (--k->refs > 0)
		return;
	if (k->deadline != NULL)
		event_free(k->deadline);
	free((char *)k->t.host);
	free((char *)k->t.path);
	free(k);
}

/* An ended task or probe: the count, and the loop's end when it was the
 * last. */
static void
pool_ended(struct probe_pool *p)
{
	p->pending--;
	if (p->pending == 0)
		event_base_loopbreak(p->base);
}

static void
probe_free(struct pprobe *pr)
{
	if (pr->io != NULL)
		event_free(pr->io);
	if (pr->deadline != NULL)
		event_free(pr->deadline);
	httpc_cancel(pr->http);
	/* the exchange is over, so is the relay; its session goes before
	 * the chk it points at */
	if (pr->relay != NULL)
		relay_abort(pr->relay, "cancelled");
	tls_session_free(pr->ssl);
	tls_check_clear(&pr->chk);
	if (pr->fd != -1)
		close(pr->fd);
	task_unref(pr->task);
	free(pr);
}

/* Report and free: every running probe ends here exactly once. */
static void
probe_end(struct pprobe *pr, const char *error, int status,
    const char *body, size_t bodylen)
{
	struct probe_pool	*p = pr->task->pool;
	struct probe_result	 r;

	memset(&r, 0, sizeof(r));
	r.host = pr->task->t.host;
	r.addr = pr->name;
	r.error = error;
	r.v = error == NULL && !pr->task->t.plain ? &pr->v : NULL;
	r.chk = &pr->chk;
	r.status = status;
	r.body = body;
	r.bodylen = bodylen;
	TAILQ_REMOVE(&p->running, pr, entry);
	p->active--;
	pr->task->cb(&r, pr->task->arg);
	probe_free(pr);
	pool_ended(p);
	pool_pump(p);
}

static void
probe_wait(struct pprobe *pr, short what)
{
	event_del(pr->io);
	event_assign(pr->io, pr->task->pool->base, pr->fd, what, probe_step,
	    pr);
	event_add(pr->io, NULL);
}

static void
probe_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pprobe	*pr = arg;
	char		 err[64];
	static const char *const phase[] = { "connect", "handshake",
	    "response" };

	(void)fd;
	(void)what;
	snprintf(err, sizeof(err), "%s: timed out after %us",
	    phase[pr->phase], pr->task->pool->timeout);
	probe_end(pr, err, 0, NULL, 0);
}

/* httpc.c's answer: a status, and the body of a 200. */
static void
probe_http_done(struct http_result *r, void *arg)
{
	struct pprobe	*pr = arg;
	char		 err[160];

	pr->http = NULL;		/* it frees itself after this */
	if (r->error != NULL) {
		snprintf(err, sizeof(err), "response: %s", r->error);
		probe_end(pr, err, 0, NULL, 0);
		return;
	}
	probe_end(pr, NULL, r->status, (const char *)evbuffer_pullup(r->body,
	    -1), evbuffer_get_length(r->body));
}

static void
probe_relay_done(void *arg, const char *how, int failed, uint64_t up,
    uint64_t down)
{
	struct pprobe	*pr = arg;

	(void)how;
	(void)failed;
	(void)up;
	(void)down;
	pr->relay = NULL;
}

/* The verdict passed (or a plain connection is up): one GET by httpc.c,
 * a relay carrying the TLS session to it over a socketpair. The probe's
 * deadline bounds it; httpc's own timeout comes later. */
static void
probe_http(struct pprobe *pr)
{
	struct probe_pool	*p = pr->task->pool;
	struct httpc_req	 hr;
	char			 err[160];
	int			 fd = pr->fd;

	pr->phase = PH_RESPONSE;
	event_del(pr->io);
	if (pr->ssl != NULL) {
		if ((fd = relay_socketpair(p->base, pr->fd, pr->ssl,
		    probe_relay_done, pr, &pr->relay)) == -1) {
			snprintf(err, sizeof(err), "request: %s",
			    strerror(errno));
			probe_end(pr, err, 0, NULL, 0);
			return;
		}
		/* A close without close_notify ends the body, as a plain
		 * one's close does: Content-Length, when sent, and the
		 * feed's signature judge what came. */
		relay_keep_fin(pr->relay);
		pr->ssl = NULL;
	}
	pr->fd = -1;			/* the relay's, or httpc's */
	memset(&hr, 0, sizeof(hr));
	hr.method = "GET";
	hr.host = pr->task->t.host;
	hr.path = pr->task->t.path;
	hr.agent = "pinshim-monitor";
	hr.max_body = pr->task->t.max_body;
	hr.timeout = p->timeout;
	pr->http = httpc_start(p->base, fd, &hr, probe_http_done, pr);
}

static void
probe_handshake(struct pprobe *pr)
{
	int	 ret, err = 0;

	ret = wolfSSL_connect(pr->ssl);
	if (ret != WOLFSSL_SUCCESS) {
		err = wolfSSL_get_error(pr->ssl, ret);
		if (err == WOLFSSL_ERROR_WANT_READ ||
		    err == WOLFSSL_ERROR_WANT_WRITE) {
			probe_wait(pr, err == WOLFSSL_ERROR_WANT_READ ?
			    EV_READ : EV_WRITE);
			return;
		}
	}
	tls_verdict(pr->ssl, pr->task->pool->tls, &pr->chk, ret, err, &pr->v);
	if (pr->task->t.path == NULL || !pr->v.pass) {
		probe_end(pr, NULL, 0, NULL, 0);
		return;
	}
	probe_http(pr);
}

static void
probe_step(evutil_socket_t fd, short what, void *arg)
{
	struct pprobe	*pr = arg;
	char		 err[160];
	int		 soerr = 0;
	socklen_t	 len = sizeof(soerr);

	(void)fd;
	(void)what;
	switch (pr->phase) {
	case PH_CONNECT:
		if (getsockopt(pr->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) ==
		    -1)
			soerr = errno;
		if (soerr != 0) {
			snprintf(err, sizeof(err), "connect: %s",
			    strerror(soerr));
			probe_end(pr, err, 0, NULL, 0);
			return;
		}
		if (pr->task->t.plain) {
			probe_http(pr);
			return;
		}
		pr->phase = PH_HANDSHAKE;
		if ((pr->ssl = tls_session_new(pr->task->pool->tls, pr->fd,
		    &pr->chk)) == NULL) {
			probe_end(pr, "handshake: cannot start a TLS session",
			    0, NULL, 0);
			return;
		}
		probe_handshake(pr);
		return;
	case PH_HANDSHAKE:
		probe_handshake(pr);
		return;
	case PH_RESPONSE:
		return;			/* not armed: httpc.c reads */
	}
}

/* Take a slot: open the socket and start connecting. */
static void
probe_start(struct pprobe *pr)
{
	struct probe_pool	*p = pr->task->pool;
	struct timeval		 tv = { (time_t)p->timeout, 0 };
	char			 err[160];

	TAILQ_INSERT_TAIL(&p->running, pr, entry);
	p->active++;
	pr->io = xptr(event_new(p->base, -1, 0, probe_step, pr));
	pr->deadline = xptr(evtimer_new(p->base, probe_deadline, pr));
	evtimer_add(pr->deadline, &tv);
	if ((pr->fd = socket(pr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || (connect(pr->fd,
	    (struct sockaddr *)&pr->ss, pr->sslen) == -1 &&
	    errno != EINPROGRESS)) {
		snprintf(err, sizeof(err), "connect: %s", strerror(errno));
		probe_end(pr, err, 0, NULL, 0);
		return;
	}
	probe_wait(pr, EV_WRITE);
}

static void
probe_queue(struct ptask *k, const struct sockaddr *sa, socklen_t len)
{
	struct pprobe	*pr = xcalloc(1, sizeof(*pr));

	pr->task = k;
	k->refs++;
	pr->fd = -1;
	memcpy(&pr->ss, sa, len);
	pr->sslen = len;
	sockaddr_format(sa, pr->name, sizeof(pr->name));
	pr->chk.policy = k->t.policy;
	pr->chk.pins = k->t.pins;
	pr->chk.port = k->t.port;
	snprintf(pr->chk.host, sizeof(pr->chk.host), "%s", k->t.host);
	TAILQ_INSERT_TAIL(&k->pool->waiting, pr, entry);
	k->pool->pending++;
}

/* A name's resolution ended: its probes queued, or its one result. */
static void
task_resolved(struct ptask *k, const char *error)
{
	struct probe_pool	*p = k->pool;
	struct probe_result	 r;

	TAILQ_REMOVE(&p->resolving, k, entry);
	p->active--;
	evtimer_del(k->deadline);
	if (error != NULL) {
		memset(&r, 0, sizeof(r));
		r.host = k->t.host;
		r.addr = "-";
		r.error = error;
		k->cb(&r, k->arg);
	}
	task_unref(k);
	pool_ended(p);
	pool_pump(p);
}

static void
task_dns(int err, struct evutil_addrinfo *ai, void *arg)
{
	struct ptask		*k = arg;
	struct evutil_addrinfo	*a;
	char			 why[HOST_MAX + 80], names[PROBE_ADDRS][64];
	size_t			 n = 0, i;

	if (err == EVUTIL_EAI_CANCEL)
		return;		/* the deadline, or the pool's end */
	k->req = NULL;
	k->answered = true;
	if (err != 0) {
		snprintf(why, sizeof(why), "resolve: %s",
		    evutil_gai_strerror(err));
		task_resolved(k, why);
		return;
	}
	for (a = ai; a != NULL && n < PROBE_ADDRS; a = a->ai_next) {
		if (a->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		sockaddr_format(a->ai_addr, names[n], sizeof(names[n]));
		for (i = 0; i < n && strcmp(names[i], names[n]) != 0; i++)
			;
		if (i < n)
			continue;	/* the same address twice */
		probe_queue(k, a->ai_addr, (socklen_t)a->ai_addrlen);
		n++;
	}
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	task_resolved(k, n == 0 ? "resolve: no address" : NULL);
}

/* The resolver's own retries would hold a slot for longer than an
 * address gets: a name gets the same. */
static void
task_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ptask	*k = arg;
	char		 why[64];

	(void)fd;
	(void)what;
	if (k->req != NULL) {
		struct evdns_getaddrinfo_request *req = k->req;

		k->req = NULL;
		evdns_getaddrinfo_cancel(req);
	}
	snprintf(why, sizeof(why), "resolve: timed out after %us",
	    k->pool->timeout);
	task_resolved(k, why);
}

static void
task_start(struct ptask *k)
{
	struct probe_pool		*p = k->pool;
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *req;
	struct timeval			 tv = { (time_t)p->timeout, 0 };
	char				 port[8];

	TAILQ_INSERT_TAIL(&p->resolving, k, entry);
	p->active++;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", k->t.port);
	k->deadline = xptr(evtimer_new(p->base, task_deadline, k));
	evtimer_add(k->deadline, &tv);
	/* it may answer from inside (a literal, the hosts file): the
	 * reference keeps k while it returns; the pump is reentrant */
	k->refs++;
	req = evdns_getaddrinfo(p->dns, k->t.host, port, &hints, task_dns, k);
	if (!k->answered)
		k->req = req;
	task_unref(k);
}

/* Start what waits while slots are free: probes before names, so a
 * round finishes hosts it started. */
static void
pool_pump(struct probe_pool *p)
{
	struct pprobe	*pr;
	struct ptask	*k;

	if (p->pumping)
		return;
	p->pumping = true;
	while (p->active < p->parallel) {
		if ((pr = TAILQ_FIRST(&p->waiting)) != NULL) {
			TAILQ_REMOVE(&p->waiting, pr, entry);
			probe_start(pr);
		} else if ((k = TAILQ_FIRST(&p->queued)) != NULL) {
			TAILQ_REMOVE(&p->queued, k, entry);
			task_start(k);
		} else
			break;
	}
	p->pumping = false;
}

static void
pool_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pool_pump(arg);
}

struct probe_pool *
probe_pool_new(struct event_base *base, struct evdns_base *dns,
    struct tls_client *tls, unsigned parallel, unsigned timeout)
{
	struct probe_pool	*p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->dns = dns;
	p->tls = tls_client_ref(tls);
	p->parallel = parallel;
	p->timeout = timeout;
	TAILQ_INIT(&p->queued);
	TAILQ_INIT(&p->resolving);
	TAILQ_INIT(&p->waiting);
	TAILQ_INIT(&p->running);
	p->kick = xptr(event_new(base, -1, 0, pool_kick, p));
	return p;
}

void
probe_pool_add(struct probe_pool *p, const struct probe_task *t,
    probe_cb cb, void *arg)
{
	struct ptask	*k = xcalloc(1, sizeof(*k));

	k->pool = p;
	k->t = *t;
	k->t.host = xstrdup(t->host);
	k->t.path = t->path != NULL ? xstrdup(t->path) : NULL;
	k->t.addr = NULL;
	k->cb = cb;
	k->arg = arg;
	k->refs = 1;
	if (t->addr != NULL) {
		probe_queue(k, (const struct sockaddr *)t->addr,
		    t->addr->ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		task_unref(k);
	} else {
		TAILQ_INSERT_TAIL(&p->queued, k, entry);
		p->pending++;
	}
	event_active(p->kick, 0, 0);
}

bool
probe_pool_run(struct probe_pool *p)
{
	if (p->pending > 0)
		event_base_dispatch(p->base);
	return p->pending == 0;
}

void
probe_pool_free(struct probe_pool *p)
{
	struct pprobe	*pr;
	struct ptask	*k;

	if (p == NULL)
		return;
	while ((pr = TAILQ_FIRST(&p->running)) != NULL) {
		TAILQ_REMOVE(&p->running, pr, entry);
		probe_free(pr);
	}
	while ((pr = TAILQ_FIRST(&p->waiting)) != NULL) {
		TAILQ_REMOVE(&p->waiting, pr, entry);
		probe_free(pr);
	}
	while ((k = TAILQ_FIRST(&p->resolving)) != NULL) {
		TAILQ_REMOVE(&p->resolving, k, entry);
		if (k->req != NULL)
			evdns_getaddrinfo_cancel(k->req);
		task_unref(k);
	}
	while ((k = TAILQ_FIRST(&p->queued)) != NULL) {
		TAILQ_REMOVE(&p->queued, k, entry);
		task_unref(k);
	}
	event_free(p->kick);
	tls_client_free(p->tls);
	free(p);
}
