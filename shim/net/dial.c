/*
 * dial.c - race a name's addresses for one TCP connection (see dial.h),
 * without blocking the loop: every connect is non-blocking, libevent says
 * when each one is decided, one timer staggers the starts and another
 * bounds the race.
 *
 * The memory of failed addresses is a fixed table (DIAL_MEMORY_MAX
 * entries, each kept DIAL_MEMORY_TTL seconds, keyed by address and port):
 * a dead IPv6 address costs the stagger once, not every connection. An
 * attempt that was started before the winner and was still pending when
 * it won counts as failed too (it had longer and lost); one started after
 * it does not.
 *
 * Must never: hand over a socket that is not connected, leave a loser's
 * socket open, or call back twice.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/sock.h"
#include "shim/net/dial.h"

struct dial {
	struct event_base	*base;
	char			 host[256];	/* for debug lines */
	struct sockaddr_storage	 addrs[DIAL_ADDRS_MAX];
	size_t			 n, next;	/* next: the one to start */
	int			 fd[DIAL_ADDRS_MAX];	/* -1: not pending */
	struct event		*ev[DIAL_ADDRS_MAX];	/* owned, pending */
	size_t			 pending;
	struct event		*stagger;	/* owned; starts the next */
	struct event		*deadline;	/* owned; ends the race */
	unsigned long		 timeout_s;
	struct timespec		 t0;
	struct dial_result	 res;
	dial_cb			 cb;
	void			*arg;
};

/* --- the memory ---------------------------------------------------------- */

static struct {
	struct sockaddr_storage	 sa;
	time_t			 until;		/* 0: free */
} memory[DIAL_MEMORY_MAX];

static bool
same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

static size_t
sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

bool
dial_failed_lately(const struct sockaddr *sa, time_t now)
{
	size_t	 i;

	for (i = 0; i < DIAL_MEMORY_MAX; i++)
		if (memory[i].until > now && same_addr(sa, &memory[i].sa))
			return true;
	return false;
}

void
dial_note_failed(const struct sockaddr *sa, time_t now)
{
	size_t	 i, slot = 0;

	for (i = 0; i < DIAL_MEMORY_MAX; i++) {
		if (memory[i].until != 0 && same_addr(sa, &memory[i].sa)) {
			slot = i;
			break;
		}
		/* else: the free or expired slot, or the one expiring first */
		if (memory[i].until < memory[slot].until)
			slot = i;
	}
	memset(&memory[slot].sa, 0, sizeof(memory[slot].sa));
	memcpy(&memory[slot].sa, sa, sa_len(sa));
	memory[slot].until = now + DIAL_MEMORY_TTL;
}

void
dial_note_connected(const struct sockaddr *sa)
{
	size_t	 i;

	for (i = 0; i < DIAL_MEMORY_MAX; i++)
		if (memory[i].until != 0 && same_addr(sa, &memory[i].sa))
			memory[i].until = 0;
}

void
dial_memory_clear(void)
{
	memset(memory, 0, sizeof(memory));
}

/* --- the order ----------------------------------------------------------- */

/* Append the members of in[0..n) that are (lately == true) or are not
 * failed lately to out, families alternating, IPv6 first. */
static size_t
interleave(const struct sockaddr_storage *in, size_t n, bool lately,
    time_t now, struct sockaddr_storage *out)
{
	size_t	 i6 = 0, i4 = 0, k = 0;
	bool	 six = true;

	for (;;) {
		size_t	*ip = six ? &i6 : &i4;
		bool	 found = false;

		/* the next of this family in this group */
		for (; *ip < n; (*ip)++) {
			const struct sockaddr_storage *s = &in[*ip];

			if ((s->ss_family == AF_INET6) != six ||
			    dial_failed_lately((const struct sockaddr *)s,
			    now) != lately)
				continue;
			out[k++] = in[(*ip)++];
			found = true;
			break;
		}
		if (!found && i6 >= n && i4 >= n)
			return k;
		six = !six;
	}
}

void
dial_order(struct sockaddr_storage *addrs, size_t n, time_t now)
{
	struct sockaddr_storage	 out[DIAL_ADDRS_MAX];
	size_t			 k;

	if (n > DIAL_ADDRS_MAX)
		n = DIAL_ADDRS_MAX;
	k = interleave(addrs, n, false, now, out);
	k += interleave(addrs, n, true, now, out + k);
	memcpy(addrs, out, k * sizeof(*out));
}

/* --- the race ------------------------------------------------------------ */

static time_t
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void	dial_next(struct dial *);

static void
dial_close(struct dial *d, size_t i)
{
	if (d->fd[i] == -1)
		return;
	event_free(d->ev[i]);
	d->ev[i] = NULL;
	close(d->fd[i]);
	d->fd[i] = -1;
	d->pending--;
}

static void
dial_free(struct dial *d)
{
	size_t	 i;

	for (i = 0; i < d->next; i++)
		dial_close(d, i);
	if (d->stagger != NULL)
		event_free(d->stagger);
	if (d->deadline != NULL)
		event_free(d->deadline);
	free(d);
}

static void
dial_finish(struct dial *d, enum dial_fail fail)
{
	struct timespec	 t;
	size_t		 off = strlen(d->res.detail);

	clock_gettime(CLOCK_MONOTONIC, &t);
	d->res.ms = (unsigned long)((t.tv_sec - d->t0.tv_sec) * 1000 +
	    (t.tv_nsec - d->t0.tv_nsec) / 1000000);
	d->res.fail = fail;
	if (off >= 2 && d->res.detail[off - 2] == ';')
		d->res.detail[off - 2] = '\0';	/* the trailing "; " */
	if (fail == DIAL_OK)
		log_debug("dial host=%s addr=%s connected attempts=%u ms=%lu",
		    d->host, d->res.addr, d->res.attempts, d->res.ms);
	d->cb(&d->res, d->arg);
	dial_free(d);
}

static void
detail_append(struct dial *d, const struct sockaddr *sa, const char *why)
{
	char	 a[64];
	size_t	 off = strlen(d->res.detail);

	sockaddr_format(sa, a, sizeof(a));
	if (off < sizeof(d->res.detail))
		snprintf(d->res.detail + off, sizeof(d->res.detail) - off,
		    "%s: %s; ", a, why);
}

/* Attempt i is decided: connected, or failed. */
static void
dial_decided(evutil_socket_t fd, short what, void *arg)
{
	struct dial	*d = arg;
	struct sockaddr	*sa;
	size_t		 i, j;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	(void)what;
	for (i = 0; i < d->next && d->fd[i] != fd; i++)
		;
	if (i == d->next)
		return;		/* unreachable: every event is a pending fd */
	sa = (struct sockaddr *)&d->addrs[i];
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		detail_append(d, sa, strerror(err));
		d->res.failed++;
		dial_note_failed(sa, mono_now());
		dial_close(d, i);
		evtimer_del(d->stagger);
		dial_next(d);		/* the next one now, not at the stagger */
		return;
	}
	/* The winner: the pending ones started before it lost the race. */
	dial_note_connected(sa);
	for (j = 0; j < d->next; j++)
		if (j != i && d->fd[j] != -1) {
			if (j < i) {
				detail_append(d, (struct sockaddr *)&d->addrs[j],
				    "slower");
				d->res.failed++;
				dial_note_failed((struct sockaddr *)&d->addrs[j],
				    mono_now());
			} else
				d->res.abandoned++;
			dial_close(d, j);
		}
	sockaddr_format(sa, d->res.addr, sizeof(d->res.addr));
	event_free(d->ev[i]);
	d->ev[i] = NULL;
	d->res.fd = d->fd[i];
	d->fd[i] = -1;
	d->pending--;
	dial_finish(d, DIAL_OK);
}

/* Start addresses until one is pending (then the stagger starts the one
 * after it), or none is left (then the race waits, or has lost). */
static void
dial_next(struct dial *d)
{
	struct timeval	 stagger = { 0, DIAL_STAGGER_MS * 1000 };

	while (d->next < d->n) {
		size_t		 i = d->next++;
		struct sockaddr	*sa = (struct sockaddr *)&d->addrs[i];
		char		 a[64];
		int		 fd;

		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd == -1 && (errno == EMFILE || errno == ENFILE ||
		    errno == ENOBUFS || errno == ENOMEM)) {
			/* Not the server's fault: say what ran out. */
			snprintf(d->res.detail, sizeof(d->res.detail), "no "
			    "socket for the upstream: %s", strerror(errno));
			dial_finish(d, DIAL_RESOURCE);
			return;
		}
		if (fd == -1) {
			detail_append(d, sa, strerror(errno));
			continue;
		}
		d->res.attempts++;
		sockaddr_format(sa, a, sizeof(a));
		log_debug("dial host=%s addr=%s attempt=%u of %zu", d->host, a,
		    d->res.attempts, d->n);
		sock_relay_options(fd);
		if (connect(fd, sa, (socklen_t)sa_len(sa)) == -1 &&
		    errno != EINPROGRESS) {
			detail_append(d, sa, strerror(errno));
			d->res.failed++;
			dial_note_failed(sa, mono_now());
			close(fd);
			continue;
		}
		d->fd[i] = fd;
		d->ev[i] = xptr(event_new(d->base, fd, EV_WRITE, dial_decided,
		    d));
		event_add(d->ev[i], NULL);
		d->pending++;
		if (d->next < d->n)
			evtimer_add(d->stagger, &stagger);
		return;
	}
	if (d->pending == 0)
		dial_finish(d, DIAL_FAILED);
}

static void
dial_stagger(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dial_next(arg);
}

static void
dial_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct dial	*d = arg;
	size_t		 i;
	char		 why[64];

	(void)fd;
	(void)what;
	snprintf(why, sizeof(why), "no answer within %lus (connect_timeout)",
	    d->timeout_s);
	for (i = 0; i < d->next; i++)
		if (d->fd[i] != -1) {
			detail_append(d, (struct sockaddr *)&d->addrs[i], why);
			d->res.failed++;
			dial_note_failed((struct sockaddr *)&d->addrs[i],
			    mono_now());
			dial_close(d, i);
		}
	if (d->next < d->n) {
		size_t	 off = strlen(d->res.detail);

		if (off < sizeof(d->res.detail))
			snprintf(d->res.detail + off, sizeof(d->res.detail) -
			    off, "%zu not tried; ", d->n - d->next);
	}
	dial_finish(d, DIAL_TIMEOUT);
}

struct dial *
dial_start(struct event_base *base, const char *host,
    const struct sockaddr_storage *addrs, size_t n, unsigned long timeout_s,
    dial_cb cb, void *arg)
{
	struct dial	*d = xcalloc(1, sizeof(*d));
	struct timeval	 tv = { (time_t)timeout_s, 0 };
	size_t		 i;

	d->base = base;
	snprintf(d->host, sizeof(d->host), "%s", host);
	d->n = n < DIAL_ADDRS_MAX ? n : DIAL_ADDRS_MAX;
	memcpy(d->addrs, addrs, d->n * sizeof(*addrs));
	for (i = 0; i < DIAL_ADDRS_MAX; i++)
		d->fd[i] = -1;
	d->timeout_s = timeout_s;
	d->res.fd = -1;
	d->cb = cb;
	d->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &d->t0);
	dial_order(d->addrs, d->n, mono_now());
	d->stagger = xptr(evtimer_new(base, dial_stagger, d));
	d->deadline = xptr(evtimer_new(base, dial_deadline, d));
	evtimer_add(d->deadline, &tv);
	/* The first attempt from the loop: cb never runs inside this call. */
	event_active(d->stagger, EV_TIMEOUT, 0);
	return d;
}

void
dial_cancel(struct dial *d)
{
	if (d != NULL)
		dial_free(d);
}
