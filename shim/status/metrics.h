/*
 * metrics.h - what pinshim counts for /metrics and /status (status.c):
 * every verdict line by listener, policy, verdict and reason; upstream
 * handshake times; the last refusals with their evidence. One registry
 * per process (the loop is single-threaded), every table bounded.
 */
#ifndef PINSHIM_SHIM_METRICS_H
#define PINSHIM_SHIM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "pins/host.h"
#include "tls/tls.h"

#define METRICS_SERIES_MAX	512	/* listener x policy x verdict x reason */
#define METRICS_RECENT		16	/* refusals kept for /status */
#define METRICS_BUCKETS		11

/* Upper bounds (seconds) of the handshake histogram's buckets. */
extern const double metrics_le[METRICS_BUCKETS];

struct metrics_series {
	char			 listener[64];
	char			 policy[16];
	char			 verdict[16];
	char			 reason[32];
	unsigned long long	 n;
};

struct metrics_refusal {
	time_t		 when;
	char		 listener[64];
	char		 client[64];
	char		 host[HOST_MAX + 1];
	unsigned	 port;
	char		 policy[16];
	char		 verdict[16];		/* refuse, would-refuse */
	char		 reason[32];
	char		 detail[256];
	char		 presented[TLS_PRESENTED_LEN];
};

struct metrics_hist {
	unsigned long long	 bucket[METRICS_BUCKETS];	/* not cumulative */
	unsigned long long	 count;
	double			 sum;
};

/* One verdict line; past METRICS_SERIES_MAX series, counted as dropped. */
void	 metrics_verdict(const char *listener, const char *policy,
	    const char *verdict, const char *reason);
/* A refusal (or would-refuse) for /status; the oldest goes. */
void	 metrics_refusal(const struct metrics_refusal *);
/* A TLS handshake with an upstream, from its first byte to the verdict. */
void	 metrics_handshake(double seconds);

/* A verdict on a pinned host (policy pin, pin-only, tofu) at wall time
 * now: its pin check passed, or refused it. Health says "refusing" while
 * refusals came and no pass did (status_render.c). */
void	 metrics_pinned(bool passed, time_t now);
/* When each last happened (wall clock), 0: never. */
struct metrics_pinned {
	time_t	 last_pass, last_refusal;
};
const struct metrics_pinned *metrics_pinned_times(void);

/* Connects to upstream addresses (dial.c's races), by how each ended:
 * connected (a race's winner), failed (refused, unreachable, timed out,
 * or slower than one started after it), abandoned (started after the
 * winner and closed unneeded). */
struct metrics_connects {
	unsigned long long	 connected, failed, abandoned;
};
void	 metrics_connects(unsigned connected, unsigned failed,
	    unsigned abandoned);
const struct metrics_connects *metrics_connect_counts(void);

const struct metrics_series *metrics_series(size_t *n,
	    unsigned long long *dropped);
/* i-th most recent refusal (0: newest), or NULL. */
const struct metrics_refusal *metrics_recent(size_t i);
const struct metrics_hist *metrics_handshakes(void);

#endif
