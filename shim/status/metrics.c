/*
 * metrics.c - the process's counters: verdict series (hashed on their
 * labels, so a verdict costs one lookup), the handshake histogram, and a
 * ring of the last refusals.
 *
 * Must never: grow without bound (a peer chooses host names, never a
 * label: listener, policy, verdict and reason are pinshim's own words).
 */
#include <stdio.h>
#include <string.h>

#include "base/strmap.h"
#include "shim/status/metrics.h"

const double metrics_le[METRICS_BUCKETS] = { 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5, 5, 10 };

static struct metrics_series	 series[METRICS_SERIES_MAX];
static size_t			 nseries;
static unsigned long long	 dropped;
static struct strmap		*index_;
static struct metrics_refusal	 recent[METRICS_RECENT];
static size_t			 nrecent, next_recent;
static struct metrics_hist	 hs;
static struct metrics_connects	 connects;
static struct metrics_pinned	 pinned;

void
metrics_verdict(const char *listener, const char *policy, const char *verdict,
    const char *reason)
{
	char			 key[200];
	size_t			 i;
	struct metrics_series	*s;

	if (index_ == NULL)
		index_ = strmap_new();
	snprintf(key, sizeof(key), "%s\n%s\n%s\n%s", listener, policy,
	    verdict, reason);
	if (strmap_get(index_, key, &i)) {
		series[i].n++;
		return;
	}
	if (nseries == METRICS_SERIES_MAX) {
		dropped++;
		return;
	}
	s = &series[nseries];
	snprintf(s->listener, sizeof(s->listener), "%s", listener);
	snprintf(s->policy, sizeof(s->policy), "%s", policy);
	snprintf(s->verdict, sizeof(s->verdict), "%s", verdict);
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->n = 1;
	strmap_add(index_, key, nseries++, NULL);
}

void
metrics_refusal(const struct metrics_refusal *r)
{
	recent[next_recent] = *r;
	next_recent = (next_recent + 1) % METRICS_RECENT;
	if (nrecent < METRICS_RECENT)
		nrecent++;
}

void
metrics_handshake(double seconds)
{
	size_t	 i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		if (seconds <= metrics_le[i]) {
			hs.bucket[i]++;
			break;
		}
	hs.count++;
	hs.sum += seconds;
}

void
metrics_pinned(bool passed, time_t now)
{
	if (passed)
		pinned.last_pass = now;
	else
		pinned.last_refusal = now;
}

const struct metrics_pinned *
metrics_pinned_times(void)
{
	return &pinned;
}

void
metrics_connects(unsigned connected, unsigned failed, unsigned abandoned)
{
	connects.connected += connected;
	connects.failed += failed;
	connects.abandoned += abandoned;
}

const struct metrics_connects *
metrics_connect_counts(void)
{
	return &connects;
}

const struct metrics_series *
metrics_series(size_t *n, unsigned long long *d)
{
	*n = nseries;
	*d = dropped;
	return series;
}

const struct metrics_refusal *
metrics_recent(size_t i)
{
	if (i >= nrecent)
		return NULL;
	return &recent[(next_recent + METRICS_RECENT - 1 - i) %
	    METRICS_RECENT];
}

const struct metrics_hist *
metrics_handshakes(void)
{
	return &hs;
}
