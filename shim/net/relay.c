/*
 * relay.c - move bytes both ways between two ends, each plain TCP or a
 * wolfSSL session, once a verdict has passed.
 *
 * One bounded evbuffer per direction (RELAY_BUF): an end is read only while
 * the buffer towards its partner has room, so a slow reader pushes back on
 * a fast writer instead of growing memory. Reads and writes are level
 * triggered and non-blocking; wolfSSL's WANT_READ/WANT_WRITE map onto the
 * same events. EOF is propagated as a half-close (close_notify plus
 * SHUT_WR towards TLS, SHUT_WR towards TCP) after the buffer drains; an
 * error or reset on one end resets the other. So does an upstream that
 * closes without close_notify (unless relay_keep_fin): a FIN the network
 * could have forged must not reach the app as a clean end. An abort
 * (stop, eviction) resets both. There is exactly one teardown path,
 * relay_end_all().
 *
 * A capped relay (relay_cap_up) delivers a fixed number of the client's
 * bytes, a request body, and drops what follows: an upgraded HTTP request
 * is one exchange, so a request pipelined behind it never reaches the
 * upstream. The dropped bytes are still read, so the client's close is
 * seen and its socket is not reset with the answer still queued.
 *
 * Must never: read from an end whose partner buffer is full, drop buffered
 * bytes on a clean close, keep running after either end failed, or end
 * an unfinished stream with an orderly close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>

#include "base/log.h"
#include "base/mem.h"
#include "shim/net/relay.h"
#include "tls/tls.h"

#define RELAY_BUF	(64 * 1024)	/* per direction; bounds memory */
#define TLS_CHUNK	(16 * 1024)	/* one TLS record */
#define PUMP_BUDGET	(4 * RELAY_BUF)	/* per event and direction, then
					 * back to epoll: fairness */

enum io { IO_DATA, IO_AGAIN, IO_EOF, IO_ERROR };

struct end {
	int		 fd;		/* owned */
	WOLFSSL		*ssl;		/* owned, NULL for plain TCP */
	struct event	*rev, *wev;	/* owned */
	bool		 rd_eof;	/* the peer finished sending */
	bool		 rd_drained;	/* nothing left to read until epoll
					 * reports the end readable */
	bool		 wr_shut;	/* we finished sending */
	bool		 shut_pending;	/* close_notify waits for room */
	bool		 rd_wants_write; /* wolfSSL_read said WANT_WRITE */
	bool		 wr_wants_read;	/* wolfSSL_write said WANT_READ */
	int		 tls_wr_len;	/* size to retry wolfSSL_write with */
	int		 err;		/* errno or wolfSSL error, for logs */
	bool		 truncated;	/* TLS EOF came without close_notify */
};

struct relay {
	struct end	 e[2];		/* RELAY_CLIENT, RELAY_UPSTREAM */
	struct evbuffer	*buf[2];	/* owned; buf[i]: read from e[i] */
	uint64_t	 bytes[2];	/* read from e[i] and delivered */
	unsigned long long *tally[2];	/* borrowed, or NULL: bytes[i] is
					 * added there too, as it moves */
	relay_done_cb	 done;
	void		*arg;
	bool		 dead;
	struct event	*again;		/* owned; wolfSSL holds input */
	struct event	*idle;		/* owned, NULL: no idle timeout */
	const struct timeval *idle_tv;	/* libevent's common timeout */
	struct evbuffer	*sink;		/* owned; NULL: the client's bytes
					 * are not capped */
	uint64_t	 cap_left;	/* capped: still for the upstream */
	bool		 keep_fin;	/* an upstream's FIN without
					 * close_notify reaches the app as a
					 * FIN, not a reset */
	struct timeval	 last;		/* a byte last moved */
};

static const char *const end_names[] = { "client", "upstream" };
static const struct timeval zero = { 0, 0 };

/* Read into b. A read shorter than asked, or one that found nothing, means
 * the socket (or wolfSSL) has no more for now: the end is marked drained,
 * and it is not read again until epoll reports it (relay_pump), instead of
 * costing a syscall that says EAGAIN. */
static enum io
end_read(struct end *e, struct evbuffer *b, size_t want, size_t *got)
{
	struct evbuffer_iovec	 v;

	if (want > TLS_CHUNK)
		want = TLS_CHUNK;
	if (evbuffer_reserve_space(b, (ev_ssize_t)want, &v, 1) < 1)
		return IO_ERROR;
	if (e->ssl == NULL) {
		/* recv into reserved space: evbuffer_read would ask the kernel
		 * for FIONREAD first, a syscall per read */
		ssize_t n = recv(e->fd, v.iov_base, want, 0);

		if (n > 0) {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(b, &v, 1);
			*got = (size_t)n;
			e->rd_drained = (size_t)n < want;
			return IO_DATA;
		}
		if (n == 0)
			return IO_EOF;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			e->rd_drained = true;
			return IO_AGAIN;
		}
		e->err = errno;
		return IO_ERROR;
	} else {
		int			 n, err;

		errno = 0;	/* tells a FIN from an RST below */
		n = wolfSSL_read(e->ssl, v.iov_base, (int)want);
		if (n > 0) {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(b, &v, 1);
			*got = (size_t)n;
			e->rd_wants_write = false;
			/* a record at a time: shorter than asked and nothing
			 * decrypted left is as far as this read goes */
			e->rd_drained = (size_t)n < want &&
			    !tls_session_pending(e->ssl);
			return IO_DATA;
		}
		err = wolfSSL_get_error(e->ssl, n);
		if (err == WOLFSSL_ERROR_WANT_READ) {
			/* what it wanted to write went out: it waits for the
			 * peer now, and the write event must not stay armed */
			e->rd_wants_write = false;
			e->rd_drained = true;
			return IO_AGAIN;
		}
		if (err == WOLFSSL_ERROR_WANT_WRITE) {
			e->rd_wants_write = true;
			e->rd_drained = true;	/* until the write event */
			return IO_AGAIN;
		}
		if (err == WOLFSSL_ERROR_ZERO_RETURN)
			return IO_EOF;	/* close_notify */
		/* A FIN without close_notify: many servers close that way.
		 * Deliver what arrived and pass the FIN on (the app's own
		 * framing tells a cut message), but say so in the log.
		 * wolfSSL reports FIN and RST alike; recv's errno differs.
		 * With the OpenSSL layer, 5.7 names it as OpenSSL does
		 * (WOLFSSL_ERROR_SYSCALL); 5.5 gave its own code. */
		if ((err == SOCKET_PEER_CLOSED_E ||
		    err == WOLFSSL_ERROR_SYSCALL) && errno != ECONNRESET) {
			e->truncated = true;
			return IO_EOF;
		}
		log_debug("relay: wolfSSL_read error %d", err);
		e->err = err;
		return IO_ERROR;
	}
}

static enum io
end_write(struct end *e, struct evbuffer *b)
{
	size_t	 len = evbuffer_get_length(b);

	if (e->ssl == NULL) {
		int n = evbuffer_write_atmost(b, e->fd, (ev_ssize_t)len);

		if (n > 0)
			return IO_DATA;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return IO_AGAIN;
		e->err = n < 0 ? errno : EPIPE;
		return IO_ERROR;
	} else {
		/* A retried write must repeat the same length (wolfSSL keeps
		 * the record it already sealed). */
		int	 n = e->tls_wr_len ? e->tls_wr_len :
		    (int)(len < TLS_CHUNK ? len : TLS_CHUNK);
		int	 r, err;

		r = wolfSSL_write(e->ssl, evbuffer_pullup(b, n), n);
		if (r > 0) {
			evbuffer_drain(b, (size_t)r);
			e->tls_wr_len = 0;
			e->wr_wants_read = false;
			return IO_DATA;
		}
		err = wolfSSL_get_error(e->ssl, r);
		if (err == WOLFSSL_ERROR_WANT_WRITE ||
		    err == WOLFSSL_ERROR_WANT_READ) {
			e->tls_wr_len = n;
			e->wr_wants_read = (err == WOLFSSL_ERROR_WANT_READ);
			return IO_AGAIN;
		}
		e->err = err;
		return IO_ERROR;
	}
}

/* Half-close our sending side. -1 on failure, 0 when done or pending. */
static int
end_shutdown(struct end *e)
{
	if (e->ssl != NULL) {
		int r = wolfSSL_shutdown(e->ssl);

		if (r != WOLFSSL_SUCCESS && r != WOLFSSL_SHUTDOWN_NOT_DONE) {
			int err = wolfSSL_get_error(e->ssl, r);

			if (err == WOLFSSL_ERROR_WANT_WRITE) {
				e->shut_pending = true;
				return 0;
			}
		}
	}
	e->shut_pending = false;
	e->wr_shut = true;
	if (shutdown(e->fd, SHUT_WR) == -1 && errno != ENOTCONN) {
		e->err = errno;
		return -1;
	}
	return 0;
}

static void
end_reset(struct end *e)
{
	struct linger	 l = { 1, 0 };

	if (e->fd != -1)
		(void)setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* failed: the end that failed (the other is reset), -1 for none, or
 * RELAY_BOTH: reset both. */
#define RELAY_BOTH	2

static void
relay_end_all(struct relay *r, const char *how, int failed)
{
	int	 i;

	if (r->dead)
		return;
	r->dead = true;
	/* A failure on one end resets the other, so the app sees an error
	 * instead of a clean, possibly truncated, stream. */
	if (failed == RELAY_BOTH) {
		end_reset(&r->e[RELAY_CLIENT]);
		end_reset(&r->e[RELAY_UPSTREAM]);
		failed = -1;
	} else if (failed >= 0)
		end_reset(&r->e[!failed]);
	for (i = 0; i < 2; i++) {
		struct end *e = &r->e[i];

		if (e->rev != NULL)
			event_free(e->rev);
		if (e->wev != NULL)
			event_free(e->wev);
		if (e->ssl != NULL)
			tls_session_free(e->ssl);
		if (e->fd != -1)
			close(e->fd);
		evbuffer_free(r->buf[i]);
	}
	if (r->sink != NULL)
		evbuffer_free(r->sink);
	if (r->idle != NULL)
		event_free(r->idle);
	event_free(r->again);
	r->done(r->arg, how, failed, r->bytes[RELAY_CLIENT],
	    r->bytes[RELAY_UPSTREAM]);
	free(r);
}

/* Move what can be moved from e[s] to e[!s]. false: tear down. */
static bool
relay_move(struct relay *r, int s, size_t *budget, bool *more)
{
	struct end	*src = &r->e[s], *dst = &r->e[!s];
	struct evbuffer	*b = r->buf[s], *into;
	size_t		 got, want;
	bool		 touched = false;	/* b read into or written */

	for (;;) {
		size_t	 len = evbuffer_get_length(b);
		bool	 moved = false;

		/* capped, the client's bytes past the cap go to the sink */
		into = b;
		want = RELAY_BUF - len;
		if (s == RELAY_CLIENT && r->sink != NULL) {
			if (r->cap_left == 0)
				into = r->sink;
			else if (want > r->cap_left)
				want = (size_t)r->cap_left;
		}
		if (!src->rd_eof && !src->rd_drained && len < RELAY_BUF &&
		    *budget > 0 && !dst->wr_shut) {
			touched = true;
			switch (end_read(src, into, want, &got)) {
			case IO_DATA:
				*budget -= got < *budget ? got : *budget;
				moved = true;
				if (into != b) {
					evbuffer_drain(into, got);
					log_debug("relay: dropped %zu byte(s) "
					    "the client sent after its "
					    "request", got);
					break;
				}
				r->bytes[s] += got;
				if (r->tally[s] != NULL)
					*r->tally[s] += got;
				if (s == RELAY_CLIENT && r->sink != NULL)
					r->cap_left -= got;
				/* Towards plain TCP, while the source has more at
				 * hand (a full read, or records wolfSSL holds),
				 * read on to fill the buffer, then write it with
				 * one writev: one push through the kernel and one
				 * wakeup of the reader, not one a record. It adds
				 * no wait: reading stops when nothing more is
				 * there. (Towards TLS, each record is a send of
				 * its own whatever the batch, and MSG_MORE on
				 * all but the last made interception's bulk
				 * slower: see docs/performance.md.) */
				if (dst->ssl == NULL && !src->rd_drained &&
				    *budget > 0 && evbuffer_get_length(b) <
				    RELAY_BUF)
					continue;
				break;
			case IO_EOF:
				src->rd_eof = true;
				break;
			case IO_AGAIN:
				break;
			case IO_ERROR:
				relay_end_all(r, s == RELAY_CLIENT ?
				    "client reset" : "upstream reset", s);
				return false;
			}
		}
		if (evbuffer_get_length(b) > 0 && !dst->wr_shut) {
			touched = true;
			switch (end_write(dst, b)) {
			case IO_DATA:
				moved = true;
				break;
			case IO_AGAIN:
				break;
			default:
				relay_end_all(r, s == RELAY_CLIENT ?
				    "upstream write failed" :
				    "client write failed", !s);
				return false;
			}
		}
		if (!moved)
			break;
	}
	/* An upstream that stopped without close_notify may have been cut
	 * (by the network, or by an attacker's FIN): what it sent is
	 * delivered, then the app gets a reset, not a clean end. */
	if (src->rd_eof && src->truncated && s == RELAY_UPSTREAM &&
	    !r->keep_fin && evbuffer_get_length(b) == 0) {
		relay_end_all(r, "closed without close_notify", s);
		return false;
	}
	if ((src->rd_eof && evbuffer_get_length(b) == 0 && !dst->wr_shut) ||
	    dst->shut_pending) {
		if (end_shutdown(dst) == -1) {
			relay_end_all(r, "shutdown failed", !s);
			return false;
		}
	}
	/* An empty buffer gives its memory back: a read that found nothing
	 * leaves reserved space behind (16 KiB, 32 KiB of heap), and an idle
	 * connection must not hold it. malloc is the pool. A buffer this
	 * pass did not touch is still the fresh one of an earlier pass: the
	 * direction epoll did not report costs no free and new. */
	if (touched && evbuffer_get_length(b) == 0) {
		evbuffer_free(b);
		r->buf[s] = xptr(evbuffer_new());
	}
	/* Input left in the kernel (the budget ran out) needs nothing: the
	 * read event is level-triggered, epoll reports it again. Only bytes
	 * the TLS session already holds (decrypted, or in its read-ahead) are
	 * invisible to epoll: come back for them after the next poll (see
	 * relay_pump), never before it. */
	if (src->ssl != NULL && !src->rd_eof &&
	    evbuffer_get_length(r->buf[s]) < RELAY_BUF &&
	    tls_session_pending(src->ssl))
		*more = true;
	return true;
}

static void
set_event(struct event *ev, bool want)
{
	if (want && !event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_add(ev, NULL);
	else if (!want && event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_del(ev);
}

static void
relay_pump(evutil_socket_t fd, short what, void *arg)
{
	struct relay	*r = arg;
	size_t		 budget = PUMP_BUDGET;
	bool		 more = false;
	int		 i;

	uint64_t	 before = r->bytes[0] + r->bytes[1];

	/* Only an end that epoll reported (or that holds bytes epoll cannot
	 * see) is read: waking for one end must not cost a recv on the other
	 * that can only say EAGAIN, two per keep-alive request. */
	for (i = 0; i < 2; i++) {
		struct end *e = &r->e[i];

		if (fd == e->fd && ((what & EV_READ) ||
		    ((what & EV_WRITE) && e->rd_wants_write)))
			e->rd_drained = false;
		else if (fd == -1 && e->ssl != NULL &&
		    tls_session_pending(e->ssl))
			e->rd_drained = false;	/* r->again */
	}
	if (!relay_move(r, RELAY_CLIENT, &budget, &more))
		return;
	budget = PUMP_BUDGET;
	if (!relay_move(r, RELAY_UPSTREAM, &budget, &more))
		return;
	if (r->bytes[0] + r->bytes[1] != before) {
		/* not the loop's cached time: libevent's coarse clock
		 * gives relays that moved within a few ms the same one */
		gettimeofday(&r->last, NULL);
		if (r->idle != NULL)	/* activity: start again */
			event_add(r->idle, r->idle_tv);
	}

	if (r->e[0].rd_eof && r->e[1].rd_eof &&
	    r->e[0].wr_shut && r->e[1].wr_shut) {
		relay_end_all(r, r->e[RELAY_UPSTREAM].truncated ?
		    "closed, upstream without close_notify" :
		    r->e[RELAY_CLIENT].truncated ?
		    "closed, client without close_notify" : "closed", -1);
		return;
	}
	for (i = 0; i < 2; i++) {
		struct end	*e = &r->e[i];
		bool		 rd, wr;

		rd = (!e->rd_eof && !r->e[!i].wr_shut &&
		    evbuffer_get_length(r->buf[i]) < RELAY_BUF &&
		    !e->rd_wants_write) || e->wr_wants_read;
		/* A read that wanted to write is retried only when there is
		 * room to read into; waking for it otherwise would spin. */
		wr = (evbuffer_get_length(r->buf[!i]) > 0 && !e->wr_shut &&
		    !e->wr_wants_read) || e->shut_pending ||
		    (e->rd_wants_write &&
		    evbuffer_get_length(r->buf[i]) < RELAY_BUF);
		set_event(e->rev, rd);
		set_event(e->wev, wr);
	}
	/* A zero timeout runs after the next epoll_wait, so a busy relay
	 * cannot keep the loop from polling (event_active would run it again
	 * before any other connection, timer or signal). */
	if (more && !evtimer_pending(r->again, NULL))
		evtimer_add(r->again, &zero);
}

struct relay *
relay_start(struct event_base *base, int cfd, WOLFSSL *cssl, int ufd,
    WOLFSSL *ussl, relay_done_cb done, void *arg)
{
	struct relay	*r = xcalloc(1, sizeof(*r));
	int		 i;

	r->done = done;
	r->arg = arg;
	gettimeofday(&r->last, NULL);
	r->e[RELAY_CLIENT].fd = cfd;
	r->e[RELAY_CLIENT].ssl = cssl;
	r->e[RELAY_UPSTREAM].fd = ufd;
	r->e[RELAY_UPSTREAM].ssl = ussl;
	for (i = 0; i < 2; i++) {
		struct end *e = &r->e[i];

		r->buf[i] = xptr(evbuffer_new());
		e->rev = xptr(event_new(base, e->fd, EV_READ | EV_PERSIST,
		    relay_pump, r));
		e->wev = xptr(event_new(base, e->fd, EV_WRITE | EV_PERSIST,
		    relay_pump, r));
	}
	r->again = xptr(evtimer_new(base, relay_pump, r));
	/* Start on the next loop turn, so done cannot run inside this call
	 * (data may already be waiting on either end). */
	event_active(r->e[RELAY_CLIENT].rev, EV_READ, 0);
	return r;
}

int
relay_socketpair(struct event_base *base, int fd, WOLFSSL *ssl,
    relay_done_cb done, void *arg, struct relay **rp)
{
	int	 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		return -1;
	*rp = relay_start(base, sp[0], NULL, fd, ssl, done, arg);
	return sp[1];
}

static void
relay_idle_expired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	relay_end_all(arg, "idle timeout", -1);
}

void
relay_idle(struct relay *r, struct event_base *base, unsigned secs)
{
	struct timeval	 tv = { (time_t)secs, 0 };

	if (secs == 0)
		return;
	/* One common timeout for all relays: O(1) re-arming per pump. */
	r->idle_tv = event_base_init_common_timeout(base, &tv);
	r->idle = xptr(evtimer_new(base, relay_idle_expired, r));
	event_add(r->idle, r->idle_tv);
}

void
relay_abort(struct relay *r, const char *how)
{
	relay_end_all(r, how, RELAY_BOTH);
}

void
relay_keep_fin(struct relay *r)
{
	r->keep_fin = true;
}

void
relay_last_active(const struct relay *r, struct timeval *tv)
{
	*tv = r->last;
}

const char *
relay_end_name(int i)
{
	return end_names[i != 0];
}

void
relay_tally(struct relay *r, unsigned long long *up,
    unsigned long long *down)
{
	r->tally[RELAY_CLIENT] = up;
	r->tally[RELAY_UPSTREAM] = down;
}

void
relay_prime(struct relay *r, struct evbuffer *data)
{
	/* Queued ahead of anything the client sends; the first pump (on the
	 * next loop turn) writes it upstream. */
	evbuffer_add_buffer(r->buf[RELAY_CLIENT], data);
}

void
relay_cap_up(struct relay *r, uint64_t n)
{
	if (r->sink == NULL)
		r->sink = xptr(evbuffer_new());
	r->cap_left = n;
}
