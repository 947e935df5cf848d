/*
 * keeper_client.c - the worker's end of the channel to the keeper (see
 * keeper.h): it forks the keeper (keeper_proc.c), then asks on two
 * bufferevents and never waits. Each request is queued with a callback
 * and answered in order; a mint's leaf goes to the CA cache and the
 * connections waiting for it, a save's or a TOFU entry's answer to
 * whoever asked. New names are asked for at the keeper's own rate
 * (mint_rate): over it they wait in a bounded queue, their connections
 * parked, instead of failing. A keeper slow to answer is reported, not a
 * reason to stop; its death stops the worker (keeper_died).
 *
 * Must never: block the loop on the keeper, hold the CA key, match an
 * answer to any request but the oldest on its channel, or go on after the
 * keeper died as if it had not.
 *
 * One exception to never waiting: a handshake signature with a device
 * identity (keeper_sign). wolfSSL's PK callbacks are synchronous (only
 * its async-crypt build could suspend a handshake there), so the worker
 * asks on a channel of its own and waits for that one answer, at most
 * KEEPER_SIGN_WAIT_MS; a later answer is recognised by its id and
 * dropped. The wait is the loop's stall per mTLS handshake, logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/log.h"
#include "base/mem.h"
#include "pins/tofu.h"
#include "shim/keeper/keeper.h"
#include "shim/keeper/keeper_proc.h"
#include "shim/proc/server.h"
#include "shim/proc/tofusync.h"

#define REPLY_MAX	(KEEPER_HEAD + TLS_CA_CERT_MAX + 16)
#define STOP_FLUSH_MS	2000	/* writes in flight at stop: this long */

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A request sent and not answered yet. */
struct keeper_call {
	TAILQ_ENTRY(keeper_call) entry;
	struct keeper_msg	 req;		/* without its bytes */
	double			 sent;		/* monotonic s */
	keeper_done		 done;		/* NULL: forgotten */
	void			*arg;
};

TAILQ_HEAD(keeper_calls, keeper_call);

/* One socketpair: the keeper answers each in order. Mints have their own,
 * so that a slow save never holds up a leaf. */
struct keeper_chan {
	struct keeper		*k;
	int			 fd;
	struct bufferevent	*bev;		/* owned; NULL until watched */
	struct keeper_calls	 calls;		/* sent, oldest first */
	size_t			 n;
};

enum { CHAN_MINT, CHAN_STATE, CHAN_N };

/* A leaf on its way: queued, then the key pair made here and the
 * signature asked for. */
struct keeper_mint {
	TAILQ_ENTRY(keeper_mint) entry;		/* k->queue, while queued */
	struct keeper		*k;
	char			 name[HOST_MAX + 1];
	struct tls_ca		*ca;
	enum tls_leaf		 kind;
	uint8_t			 key[TLS_CA_LEAFKEY_MAX]; /* RSA: none */
	int			 keylen;	/* 0: not made yet */
	bool			 sent;		/* asked for; else queued */
	bool			 waited;	/* counted in k->mint_waits */
	TAILQ_HEAD(, keeper_wait) waiters;
};

TAILQ_HEAD(keeper_mintq, keeper_mint);

struct keeper {
	pid_t			 pid;
	uid_t			 uid;		/* the keeper runs as */
	size_t			 feed_max;	/* its [feed] max_size */
	struct keeper_chan	 chan[CHAN_N];
	struct server		*srv;		/* NULL until watched */
	struct event		*stall;		/* owned; the stall report */
	uint32_t		 next_id;
	unsigned long		 unminted;	/* names that got no leaf */
	/* The mint queue: names not asked for yet, oldest first, sent as
	 * the keeper's bucket allows (the pace: mint_rate a second, a
	 * burst of a quarter second's worth, under the keeper's half). */
	struct keeper_mintq	 queue;		/* owned entries */
	size_t			 nqueued;
	unsigned long		 mint_waits;
	unsigned long		 mint_rate;
	double			 pace_tokens, pace_last;
	struct event		*pace;		/* owned; the next token */
	bool			 stalled;	/* reported as not answering */
	bool			 gone;
	int			 sign_fd;	/* the SIGN channel */
	uint32_t		 sign_id;
	uint8_t			 sign_buf[KEEPER_HEAD + TLS_SIGN_OUT_MAX +
				    KEEPER_TEXT_MAX + 16];
	size_t			 sign_len;	/* bytes of a reply read */
};

static void	mint_fail_queued(struct keeper *, const char *);
static void	on_pace(evutil_socket_t, short, void *);

/* The worker's burst: a quarter of the keeper's rate, half its burst, so
 * requests that bunch up on the way (the keeper busy with a save) still
 * find tokens there. */
static double
pace_burst(const struct keeper *k)
{
	return k->mint_rate / 4 > 0 ? (double)(k->mint_rate / 4) : 1;
}

struct keeper *
keeper_start(const struct conf *c, char *err, size_t errsz)
{
	struct keeper	*k;
	int		 fds[CHAN_N + 1], i;
	pid_t		 pid;

	if (keeper_spawn(c, fds, &pid, err, errsz) == -1)
		return NULL;
	k = xcalloc(1, sizeof(*k));
	k->sign_fd = fds[CHAN_N];
	(void)fcntl(k->sign_fd, F_SETFL, fcntl(k->sign_fd, F_GETFL) |
	    O_NONBLOCK);
	for (i = 0; i < CHAN_N; i++) {
		k->chan[i].k = k;
		k->chan[i].fd = fds[i];
		TAILQ_INIT(&k->chan[i].calls);
	}
	k->pid = pid;
	k->uid = geteuid();
	k->feed_max = c->feed.max_size;
	TAILQ_INIT(&k->queue);
	k->mint_rate = c->mint_rate > 0 ? c->mint_rate : 1;
	k->pace_tokens = pace_burst(k);
	k->pace_last = -1;
	return k;
}

pid_t
keeper_pid(const struct keeper *k)
{
	return k->pid;
}

unsigned long
keeper_unminted(const struct keeper *k)
{
	return k->unminted;
}

size_t
keeper_feed_max(const struct keeper *k)
{
	return k->feed_max;
}

uid_t
keeper_uid(const struct keeper *k)
{
	return k->uid;
}

bool
keeper_gone(const struct keeper *k)
{
	return k->gone;
}

/* The oldest request not answered yet, of either channel, or NULL. */
static const struct keeper_call *
oldest(const struct keeper *k)
{
	const struct keeper_call	*c, *o = NULL;
	int				 i;

	for (i = 0; i < CHAN_N; i++)
		if ((c = TAILQ_FIRST(&k->chan[i].calls)) != NULL &&
		    (o == NULL || c->sent < o->sent))
			o = c;
	return o;
}

void
keeper_stats(const struct keeper *k, struct keeper_stats *st)
{
	const struct keeper_call	*o = oldest(k);

	st->pending = k->chan[CHAN_MINT].n + k->chan[CHAN_STATE].n;
	st->waiting = o != NULL ? mono() - o->sent : 0;
	st->stalled = k->stalled;
	st->mint_queued = k->nqueued;
	st->mint_waits = k->mint_waits;
}

/* Its answer to c, to whoever asked (unless forgotten), and c freed. */
static void
call_end(struct keeper_call *c, int err, const char *why,
    const uint8_t *data, size_t len)
{
	struct keeper_answer	 a;

	a.req = &c->req;
	a.err = err;
	a.why = why;
	a.data = data;
	a.len = len;
	if (c->done != NULL)
		c->done(c->arg, &a);
	free(c);
}

/* Every request waiting on ch, answered with err (or dropped: done
 * NULL). */
static void
chan_fail(struct keeper_chan *ch, int err, const char *why, bool tell)
{
	struct keeper_call	*c;

	while ((c = TAILQ_FIRST(&ch->calls)) != NULL) {
		TAILQ_REMOVE(&ch->calls, c, entry);
		ch->n--;
		if (!tell)
			c->done = NULL;
		call_end(c, err, why, NULL, 0);
	}
}

/* The keeper died or broke the channel: the worker stops (the service
 * manager restarts both), and what waited for it fails. The one place
 * the worker reacts to losing its keeper. */
static void
keeper_died(struct keeper *k, const char *why)
{
	int	 i;

	if (k->gone)
		return;
	k->gone = true;
	log_err("keeper (pid %ld) %s: stopping, so the service manager "
	    "restarts both", (long)k->pid, why);
	if (k->stall != NULL)
		event_del(k->stall);
	for (i = 0; i < CHAN_N; i++)
		chan_fail(&k->chan[i], EPIPE, "the keeper is gone", true);
	mint_fail_queued(k, "the keeper is gone");
	if (k->srv != NULL) {
		k->srv->failed = true;
		/* the stop drains relays (before the loop runs, daemon_run
		 * sees failed and does not start it) */
		event_active(k->srv->stop, 0, 0);
	}
}

/* A keeper that does not answer is reported, not a reason to stop: the
 * loop goes on relaying and only what needs the keeper waits for it. The
 * timer runs only while a request waits: at KEEPER_STALL of its age, then
 * every KEEPER_STALL_REPEAT while none is answered. */
static void
stall_arm(struct keeper *k)
{
	const struct keeper_call	*o;
	struct timeval			 tv;
	double				 d;

	if (k->stall == NULL || k->gone || evtimer_pending(k->stall, NULL) ||
	    (o = oldest(k)) == NULL)
		return;
	d = k->stalled ? KEEPER_STALL_REPEAT : KEEPER_STALL - (mono() - o->sent);
	if (d < 0)
		d = 0;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	evtimer_add(k->stall, &tv);
}

static void
on_stall(evutil_socket_t fd, short what, void *arg)
{
	struct keeper		*k = arg;
	struct keeper_stats	 st;

	(void)fd;
	(void)what;
	keeper_stats(k, &st);
	if (st.pending > 0 && st.waiting >= KEEPER_STALL - 0.01) {
		log_warn("keeper (pid %ld) has not answered for %.0f s (%zu "
		    "request(s) waiting): relaying goes on; feed, clock and "
		    "TOFU writes and new leaves wait for it", (long)k->pid,
		    st.waiting, st.pending);
		k->stalled = true;
	}
	stall_arm(k);
}

/* The head of ch answered: c's age says whether a stall ended. */
static void
stall_answered(struct keeper *k, const struct keeper_call *c)
{
	const struct keeper_call	*o;
	double				 now = mono();

	if (k->stalled && ((o = oldest(k)) == NULL ||
	    now - o->sent < KEEPER_STALL)) {
		k->stalled = false;
		log_info("keeper (pid %ld) answered again, after %.1f s",
		    (long)k->pid, now - c->sent);
	}
	if (k->stall != NULL)
		event_del(k->stall);
	stall_arm(k);
}

static void
on_reply(struct bufferevent *bev, void *arg)
{
	struct keeper_chan	*ch = arg;
	struct keeper		*k = ch->k;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct keeper_call	*c;
	struct keeper_msg	 m;
	uint8_t			 hdr[4], *frame;
	char			 text[KEEPER_TEXT_MAX + 1];
	const char		*why;
	long			 len;

	while (!k->gone && evbuffer_copyout(in, hdr, 4) == 4) {
		len = keeper_frame_len(hdr, 4);
		if (len < KEEPER_HEAD - 4 || len > REPLY_MAX) {
			keeper_died(k, "sent a malformed reply");
			return;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			return;
		frame = evbuffer_pullup(in, 4 + len);
		if (keeper_parse(frame + 4, (size_t)len, &m, &why) == -1 ||
		    (c = TAILQ_FIRST(&ch->calls)) == NULL || c->req.id != m.id ||
		    (m.type != KEEPER_OK && m.type != KEEPER_ERR)) {
			keeper_died(k, "sent a reply that answers nothing");
			return;
		}
		TAILQ_REMOVE(&ch->calls, c, entry);
		ch->n--;
		stall_answered(k, c);
		if (m.type == KEEPER_ERR)
			snprintf(text, sizeof(text), "%.*s", (int)m.len,
			    (const char *)m.data);
		else
			text[0] = '\0';
		call_end(c, m.type == KEEPER_OK ? 0 : m.err != 0 ? m.err : EIO,
		    text, m.type == KEEPER_OK ? m.data : NULL,
		    m.type == KEEPER_OK ? m.len : 0);
		evbuffer_drain(in, 4 + (size_t)len);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct keeper_chan	*ch = arg;

	(void)bev;
	keeper_died(ch->k, what & BEV_EVENT_EOF ? "exited" : "channel failed");
}

void
keeper_watch(struct keeper *k, struct server *srv)
{
	struct keeper_chan	*ch;
	int			 i;

	k->srv = srv;
	k->stall = xptr(evtimer_new(srv->base, on_stall, k));
	k->pace = xptr(evtimer_new(srv->base, on_pace, k));
	for (i = 0; i < CHAN_N; i++) {
		ch = &k->chan[i];
		evutil_make_socket_nonblocking(ch->fd);
		ch->bev = xptr(bufferevent_socket_new(srv->base, ch->fd, 0));
		bufferevent_setcb(ch->bev, on_reply, NULL, on_event, ch);
		bufferevent_enable(ch->bev, EV_READ);
	}
}

/* Send m (its id set here) on channel ch; done runs with the answer. 0;
 * -1 with errno when it could not be sent (the keeper is gone, or not
 * watched yet): done never runs then. */
static int
call_send(struct keeper *k, int chan, struct keeper_msg *m, keeper_done done,
    void *arg)
{
	struct keeper_chan	*ch = &k->chan[chan];
	struct keeper_call	*c;
	uint8_t			*frame;
	size_t			 n, sz = KEEPER_HEAD + 8 + HOST_MAX + 128 +
				    TLS_CA_RSA_PUB_MAX + m->len;

	if (k->gone || ch->bev == NULL) {
		errno = k->gone ? EPIPE : ENOTCONN;
		return -1;
	}
	m->id = ++k->next_id;
	frame = xcalloc(1, sz);
	n = keeper_encode(m, frame, sz);
	if (n == 0 || bufferevent_write(ch->bev, frame, n) == -1) {
		free(frame);
		errno = n == 0 ? EMSGSIZE : ENOMEM;
		return -1;
	}
	free(frame);
	c = xcalloc(1, sizeof(*c));
	c->req = *m;
	c->req.pub = c->req.data = NULL;	/* borrowed: gone by the
						 * answer */
	c->sent = mono();
	c->done = done;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&ch->calls, c, entry);
	ch->n++;
	stall_arm(k);
	return 0;
}

/* Every state request answered to nobody (their owners are gone). */
static void
keeper_forget_all(struct keeper *k)
{
	struct keeper_call	*c;

	TAILQ_FOREACH(c, &k->chan[CHAN_STATE].calls, entry)
		c->done = NULL;
}

void
keeper_forget(struct keeper *k, void *arg)
{
	struct keeper_call	*c;
	int			 i;

	if (k == NULL)
		return;
	for (i = 0; i < CHAN_N; i++)
		TAILQ_FOREACH(c, &k->chan[i].calls, entry)
			if (c->arg == arg)
				c->done = NULL;
}

/* km is done: its waiters learn why not (reason NULL: the leaf is
 * cached), and it is freed. Off every list already. */
static void
mint_finish(struct keeper_mint *km, const char *reason, const char *why)
{
	struct keeper_wait	*w;

	explicit_bzero(km->key, sizeof(km->key));
	while ((w = TAILQ_FIRST(&km->waiters)) != NULL) {
		TAILQ_REMOVE(&km->waiters, w, entry);
		w->mint = NULL;
		w->done(w, reason, why);	/* may free w's connection */
	}
	free(km);
}

/* Every queued name fails with why (the keeper is gone, or the worker
 * stops). */
static void
mint_fail_queued(struct keeper *k, const char *why)
{
	struct keeper_mint	*km;

	while ((km = TAILQ_FIRST(&k->queue)) != NULL) {
		TAILQ_REMOVE(&k->queue, km, entry);
		k->nqueued--;
		mint_finish(km, "keeper-gone", why);
	}
}

/* A token of the worker's pace, if one is there at now. */
static bool
pace_take(struct keeper *k, double now)
{
	if (k->pace_last >= 0 && now > k->pace_last) {
		k->pace_tokens += (now - k->pace_last) * (double)k->mint_rate;
		if (k->pace_tokens > pace_burst(k))
			k->pace_tokens = pace_burst(k);
	}
	k->pace_last = now;
	if (k->pace_tokens < 1)
		return false;
	k->pace_tokens -= 1;
	return true;
}

static void	mint_done(void *, const struct keeper_answer *);

/* Ask the keeper to sign km, with a key pair made now (again, if the
 * keeper said "over the rate" to the last one). */
static void
mint_send(struct keeper *k, struct keeper_mint *km)
{
	struct keeper_msg	 m;
	uint8_t			 pub[TLS_CA_RSA_PUB_MAX];
	int			 publen;

	memset(&m, 0, sizeof(m));
	m.type = KEEPER_MINT;
	snprintf(m.host, sizeof(m.host), "%s", km->name);
	m.leaf_kind = km->kind;
	m.pub = pub;
	/* ECDSA: a fresh key pair per leaf; RSA: the worker's one key. */
	if (km->kind == TLS_LEAF_RSA) {
		km->keylen = 0;
		publen = tls_ca_rsa_pub(km->ca, pub, sizeof(pub));
	} else {
		km->keylen = tls_ca_leaf_key(km->ca, pub, km->key,
		    sizeof(km->key));
		publen = km->keylen < 0 ? -1 : TLS_CA_PUB_LEN;
	}
	m.publen = publen < 0 ? 0 : (size_t)publen;
	km->sent = true;
	if (publen < 0) {
		k->unminted++;
		mint_finish(km, "mint-failed", "no key pair for the leaf");
	} else if (call_send(k, CHAN_MINT, &m, mint_done, km) == -1) {
		k->unminted++;
		mint_finish(km, "keeper-gone", errno == EPIPE ? "the keeper "
		    "is gone" : "cannot ask the keeper");
	}
}

/* Send what the pace and KEEPER_MINTS_IN_FLIGHT allow, oldest first;
 * the rest waits for the next token (a timer) or answer. Names still
 * queued when it returns waited: counted once each. */
static void
mint_pump(struct keeper *k)
{
	struct keeper_mint	*km;
	struct timeval		 tv;
	double			 now = mono(), d;

	while (!k->gone && (km = TAILQ_FIRST(&k->queue)) != NULL &&
	    k->chan[CHAN_MINT].n < KEEPER_MINTS_IN_FLIGHT) {
		if (!pace_take(k, now)) {
			if (k->pace != NULL && !evtimer_pending(k->pace,
			    NULL)) {
				d = (1 - k->pace_tokens) /
				    (double)k->mint_rate;
				tv.tv_sec = (time_t)d;
				tv.tv_usec = (suseconds_t)((d -
				    (double)tv.tv_sec) * 1e6) + 1;
				evtimer_add(k->pace, &tv);
			}
			break;
		}
		TAILQ_REMOVE(&k->queue, km, entry);
		k->nqueued--;
		mint_send(k, km);	/* may end connections */
	}
	TAILQ_FOREACH_REVERSE(km, &k->queue, keeper_mintq, entry) {
		if (km->waited)
			break;
		km->waited = true;
		k->mint_waits++;
	}
}

static void
on_pace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mint_pump(arg);
}

static void
mint_done(void *arg, const struct keeper_answer *a)
{
	struct keeper_mint	*km = arg;
	struct keeper		*k = km->k;
	const char		*why = NULL, *reason = "mint-refused";

	if (a->err == EAGAIN && !k->gone && TAILQ_EMPTY(&km->waiters)) {
		/* over the keeper's bucket, and nobody waits for it now */
		mint_finish(km, NULL, NULL);
		mint_pump(k);
		return;
	}
	if (a->err == EAGAIN && !k->gone) {
		/* over the keeper's bucket (it fell behind, and requests
		 * bunched up): back to the head of the queue, the pace
		 * emptied, tried again at its next token */
		log_debug("keeper: %s: over its rate; waiting", km->name);
		km->sent = false;
		if (!km->waited) {
			km->waited = true;
			k->mint_waits++;
		}
		TAILQ_INSERT_HEAD(&k->queue, km, entry);
		k->nqueued++;
		k->pace_tokens = 0;
		k->pace_last = mono();
		mint_pump(k);
		return;
	}
	if (a->err == EPIPE) {
		reason = "keeper-gone";
		why = a->why;
	} else if (a->err != 0)
		why = a->why[0] != '\0' ? a->why : "the keeper refused it";
	else if (tls_ca_leaf_put(km->ca, km->name, km->kind, a->data, a->len,
	    km->kind == TLS_LEAF_RSA ? NULL : km->key, (size_t)km->keylen) ==
	    -1)
		why = "the keeper's certificate is unusable";
	if (why != NULL && !k->gone)
		k->unminted++;
	mint_finish(km, why != NULL ? reason : NULL, why);
	mint_pump(k);
}

/* The mint of name and kind on its way (queued or asked for), or NULL. */
static struct keeper_mint *
mint_find(struct keeper *k, const char *name, enum tls_leaf kind)
{
	struct keeper_call	*c;
	struct keeper_mint	*km;

	TAILQ_FOREACH(c, &k->chan[CHAN_MINT].calls, entry)
		if (c->done == mint_done && c->req.leaf_kind == kind &&
		    strcmp(c->req.host, name) == 0)
			return c->arg;
	TAILQ_FOREACH(km, &k->queue, entry)
		if (km->kind == kind && strcmp(km->name, name) == 0)
			return km;
	return NULL;
}

void
keeper_mint(struct keeper *k, struct tls_ca *ca, const char *name,
    enum tls_leaf kind, unsigned wait_s, struct keeper_wait *w)
{
	struct keeper_mint	*km;
	unsigned long		 room;
	char			 why[200];

	if ((km = mint_find(k, name, kind)) != NULL) {
		w->mint = km;
		TAILQ_INSERT_TAIL(&km->waiters, w, entry);
		return;
	}
	/* Bounded: the names ahead must be signed within this one's wait,
	 * at the keeper's rate, or it is refused now rather than late. */
	room = k->mint_rate * (unsigned long)(wait_s > 0 ? wait_s : 1);
	if (room > KEEPER_MINT_QUEUE_MAX)
		room = KEEPER_MINT_QUEUE_MAX;
	if (k->gone || k->nqueued >= room) {
		k->unminted++;
		if (k->gone)
			snprintf(why, sizeof(why), "the keeper is gone");
		else
			snprintf(why, sizeof(why), "mint queue full: %zu new "
			    "names wait already, all the keeper signs within "
			    "handshake_timeout (%u s) at mint_rate %lu a second",
			    k->nqueued, wait_s, k->mint_rate);
		w->mint = NULL;
		w->done(w, k->gone ? "keeper-gone" : "mint-queue-full", why);
		return;
	}
	km = xcalloc(1, sizeof(*km));
	TAILQ_INIT(&km->waiters);
	km->k = k;
	km->ca = ca;
	km->kind = kind;
	snprintf(km->name, sizeof(km->name), "%s", name);
	w->mint = km;
	TAILQ_INSERT_TAIL(&km->waiters, w, entry);
	TAILQ_INSERT_TAIL(&k->queue, km, entry);
	k->nqueued++;
	mint_pump(k);
}

void
keeper_mint_cancel(struct keeper_wait *w)
{
	struct keeper_mint	*km = w->mint;

	if (km == NULL)
		return;
	TAILQ_REMOVE(&km->waiters, w, entry);
	w->mint = NULL;
	/* asked for: the mint goes on, its leaf will be cached; queued
	 * with nobody waiting: never asked for */
	if (!km->sent && TAILQ_EMPTY(&km->waiters)) {
		TAILQ_REMOVE(&km->k->queue, km, entry);
		km->k->nqueued--;
		explicit_bzero(km->key, sizeof(km->key));
		free(km);
	}
}

void
keeper_mint_expired(struct keeper_wait *w)
{
	if (w->mint == NULL)
		return;
	w->mint->k->unminted++;
	keeper_mint_cancel(w);
}

int
keeper_save(struct keeper *k, enum keeper_file f, const void *buf,
    size_t len, keeper_done done, void *arg)
{
	struct keeper_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = KEEPER_SAVE;
	m.file = f;
	m.data = buf;
	m.len = len;
	return call_send(k, CHAN_STATE, &m, done, arg);
}

/* The keeper's answer to a TOFU entry, to the store that sent it. */
static void
tofu_done(void *arg, const struct keeper_answer *a)
{
	struct server	*srv = arg;

	if (a->err != 0)
		log_warn("tofu: %s: the keeper did not record its pins: %s",
		    a->req->host, a->why);
	/* the keeper said no (bad host, another issuer's pins, full):
	 * asking again would not change that */
	tofu_written(srv->tofu, a->req->host, &a->req->leaf, a->err == 0 ? 0 :
	    a->err == EEXIST || a->err == EINVAL || a->err == ENOSPC ?
	    TOFU_REFUSED : -1);
	tofusync_kick(srv->tofusync);	/* what failed, written again */
}

int
state_tofu(void *arg, const struct tofu_entry *e, const struct pin *replaces,
    const char **why)
{
	struct server		*srv = arg;
	struct keeper_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = KEEPER_TOFU;
	snprintf(m.host, sizeof(m.host), "%s", e->host);
	m.leaf = e->leaf;
	if ((m.has_issuer = e->has_issuer))
		m.issuer = e->issuer;
	m.since = e->since;
	if ((m.replaces = replaces != NULL))
		m.old = *replaces;
	if (call_send(srv->keeper, CHAN_STATE, &m, tofu_done, srv) == -1) {
		*why = "not sent: the keeper is gone";
		return -1;
	}
	return TOFU_SENT;
}

int
state_save(struct server *srv, enum keeper_file f, const void *buf,
    size_t len, keeper_done done, void *arg)
{
	if (srv->keeper == NULL) {
		errno = ENOTCONN;	/* conf.c and daemon.c rule it out */
		return -1;
	}
	return keeper_save(srv->keeper, f, buf, len, done, arg);
}

void
state_forget(struct server *srv, void *arg)
{
	keeper_forget(srv->keeper, arg);
}

void
keeper_flush(struct keeper *k, int ms)
{
	struct keeper_chan	*ch = &k->chan[CHAN_STATE];
	struct evbuffer		*out;
	struct pollfd		 pfd;
	struct timespec		 t0, t;
	int			 left;

	if (k->gone || ch->bev == NULL)
		return;
	out = bufferevent_get_output(ch->bev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd.fd = ch->fd;
	while (!k->gone && (ch->n > 0 || evbuffer_get_length(out) > 0)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			break;
		pfd.events = POLLIN | (evbuffer_get_length(out) > 0 ?
		    POLLOUT : 0);
		if (poll(&pfd, 1, left) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && evbuffer_write(out, ch->fd) ==
		    -1 && errno != EAGAIN && errno != EINTR)
			break;
		if (pfd.revents & (POLLIN | POLLHUP)) {
			if (evbuffer_read(bufferevent_get_input(ch->bev), ch->fd,
			    -1) <= 0 && errno != EAGAIN && errno != EINTR)
				break;
			on_reply(ch->bev, ch);
		}
	}
}

void
keeper_stop(struct keeper *k)
{
	int	 i;

	if (k == NULL)
		return;
	/* the connections that waited for leaves are gone by now; the
	 * rest had their owners stopped first: what they sent (a first-use
	 * pin) still goes out, unanswered */
	keeper_forget_all(k);
	keeper_flush(k, STOP_FLUSH_MS);
	k->gone = true;
	chan_fail(&k->chan[CHAN_MINT], EPIPE, "the worker is stopping", true);
	chan_fail(&k->chan[CHAN_STATE], EPIPE, "the worker is stopping", false);
	mint_fail_queued(k, "the worker is stopping");
	if (k->stall != NULL)
		event_free(k->stall);
	if (k->pace != NULL)
		event_free(k->pace);
	for (i = 0; i < CHAN_N; i++) {
		if (k->chan[i].bev != NULL)
			bufferevent_free(k->chan[i].bev);
		close(k->chan[i].fd);
	}
	close(k->sign_fd);
	keeper_reap(k->pid);
	free(k);
}

/* --- handshake signatures: the one synchronous request --------------- */

static int
ms_left(double deadline)
{
	double	 left = deadline - mono();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* The reply to id from the SIGN channel into *m (borrowing k->sign_buf),
 * dropping replies to requests that timed out. 0; -1 with errno
 * (ETIMEDOUT, EPIPE, EPROTO). */
static int
sign_reply(struct keeper *k, uint32_t id, double deadline,
    struct keeper_msg *m)
{
	struct pollfd	 pfd = { .fd = k->sign_fd, .events = POLLIN };
	const char	*why;
	long		 flen;
	ssize_t		 r;

	for (;;) {
		while ((flen = keeper_frame_len(k->sign_buf, k->sign_len)) >= 0 &&
		    k->sign_len >= (size_t)flen + 4) {
			size_t	 whole = (size_t)flen + 4;

			if (flen < KEEPER_HEAD - 4 || keeper_parse(k->sign_buf +
			    4, (size_t)flen, m, &why) == -1) {
				errno = EPROTO;
				return -1;
			}
			if (m->id == id) {
				/* m borrows the buffer: the caller copies
				 * before the next request */
				k->sign_len = 0;
				return 0;
			}
			memmove(k->sign_buf, k->sign_buf + whole,
			    k->sign_len - whole);
			k->sign_len -= whole;
		}
		if (flen > (long)sizeof(k->sign_buf) - 4) {
			errno = EPROTO;
			return -1;
		}
		if (poll(&pfd, 1, ms_left(deadline)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = read(k->sign_fd, k->sign_buf + k->sign_len,
		    sizeof(k->sign_buf) - k->sign_len);
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		if (r == -1 && errno != EINTR && errno != EAGAIN)
			return -1;
		if (r > 0)
			k->sign_len += (size_t)r;
	}
}

int
keeper_sign(void *arg, unsigned ident, int scheme, int hash,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	struct keeper		*k = arg;
	struct keeper_msg	 m, a;
	uint8_t			 frame[KEEPER_HEAD + TLS_SIGN_IN_MAX + 8];
	struct pollfd		 pfd;
	double			 start = mono();
	double			 deadline = start + KEEPER_SIGN_WAIT_MS / 1000.0;
	size_t			 n, off = 0;
	ssize_t			 w;

	if (k == NULL || k->gone)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = KEEPER_SIGN;
	m.id = ++k->sign_id;
	m.ident = ident;
	m.scheme = (unsigned)scheme;
	m.hash = (unsigned)hash;
	m.data = in;
	m.len = inlen;
	if ((n = keeper_encode(&m, frame, sizeof(frame))) == 0) {
		log_warn("keeper: a signature request it cannot encode "
		    "(%zu bytes)", inlen);
		return -1;
	}
	pfd.fd = k->sign_fd;
	pfd.events = POLLOUT;
	while (off < n) {
		w = send(k->sign_fd, frame + off, n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			goto fail;
		if (poll(&pfd, 1, ms_left(deadline)) == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
	}
	if (sign_reply(k, m.id, deadline, &a) == -1)
		goto fail;
	if (a.type != KEEPER_OK) {
		log_warn("keeper: no signature for device identity %u: %.*s",
		    ident, (int)a.len, (const char *)a.data);
		return -1;
	}
	if (a.len > *outlen) {
		log_warn("keeper: a %zu-byte signature, over %zu", a.len,
		    *outlen);
		return -1;
	}
	memcpy(out, a.data, a.len);
	*outlen = a.len;
	log_debug("keeper: device identity %u signed in %ld us (the loop "
	    "waited)", ident, (long)((mono() - start) * 1e6));
	return 0;
fail:
	log_warn("keeper: no signature for device identity %u within %d ms: "
	    "%s; this handshake fails", ident, KEEPER_SIGN_WAIT_MS,
	    strerror(errno));
	return -1;
}
