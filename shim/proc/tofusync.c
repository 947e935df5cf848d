/*
 * tofusync.c - a first-use pin the store could not write (state_dir full
 * or read-only, the keeper's write failing) is enforced from memory, but a
 * restart would forget it and open the first-use window again. So it is
 * written again on a timer, 1 s after the failure and then twice as long
 * each time up to RETRY_MAX, until every entry has landed, whether or not
 * its host is used again. Each attempt is counted for /metrics. An entry
 * on its way to the keeper is not a failure: its answer says (and calls
 * tofusync_kick).
 *
 * Must never: block the loop (each attempt is one tofu_refresh, as a TOFU
 * verdict makes, and writes go to the keeper without waiting), retry
 * faster than once a second, or stop retrying while an entry is held in
 * memory only.
 */
#include <stdlib.h>

#include "base/log.h"
#include "base/mem.h"
#include "pins/tofu.h"
#include "shim/proc/tofusync.h"

#define RETRY_FIRST	1	/* s */
#define RETRY_MAX	60	/* s: the backoff's bound */

struct tofusync {
	struct tofu		*tofu;		/* borrowed */
	struct event		*timer;		/* owned */
	unsigned		 delay;		/* s; 0: not retrying */
	size_t			 held;		/* failed, this retry cycle */
	unsigned long long	 retries;
};

static void
schedule(struct tofusync *ts)
{
	struct timeval	 tv = { 0, 0 };

	ts->delay = ts->delay == 0 ? RETRY_FIRST : ts->delay * 2 > RETRY_MAX ?
	    RETRY_MAX : ts->delay * 2;
	tv.tv_sec = ts->delay;
	evtimer_add(ts->timer, &tv);
}

/* After an attempt or a writer's answer: a cycle of retries starts with
 * a failure, waits for what is on its way, and ends when all landed. */
static void
settle(struct tofusync *ts)
{
	size_t	 left = tofu_pending(ts->tofu), unsent = tofu_unsent(ts->tofu);

	if (unsent > ts->held)
		ts->held = unsent;
	if (ts->delay == 0) {
		if (unsent == 0)
			return;
		log_warn("tofu: %zu pin(s) held in memory only (not written to "
		    "state_dir); retrying in the background", unsent);
		schedule(ts);
		return;
	}
	if (left == 0) {
		log_info("tofu: %zu pin(s) held in memory now written to "
		    "state_dir", ts->held);
		event_del(ts->timer);
		ts->delay = 0;
		ts->held = 0;
		return;
	}
	if (unsent > 0 && !evtimer_pending(ts->timer, NULL)) {
		schedule(ts);
		log_warn("tofu: %zu pin(s) still not written to state_dir; "
		    "next attempt in %us", unsent, ts->delay);
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tofusync	*ts = arg;

	(void)fd;
	(void)what;
	ts->retries++;
	tofu_refresh(ts->tofu);		/* writes what is held only here */
	settle(ts);
}

struct tofusync *
tofusync_new(struct event_base *base, struct tofu *t)
{
	struct tofusync	*ts = xcalloc(1, sizeof(*ts));

	ts->tofu = t;
	ts->timer = xptr(evtimer_new(base, on_timer, ts));
	return ts;
}

void
tofusync_free(struct tofusync *ts)
{
	if (ts == NULL)
		return;
	event_free(ts->timer);
	free(ts);
}

void
tofusync_kick(struct tofusync *ts)
{
	if (ts != NULL)
		settle(ts);
}

size_t
tofusync_pending(const struct tofusync *ts)
{
	return ts != NULL ? tofu_pending(ts->tofu) : 0;
}

unsigned long long
tofusync_retries(const struct tofusync *ts)
{
	return ts != NULL ? ts->retries : 0;
}
