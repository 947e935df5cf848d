/*
 * status_render.h - the answers of [shim] status, written from one
 * gathered view: /metrics (Prometheus text 0.0.4), /status (JSON) and
 * the summary `pinshim status` prints. The responder (status.c) fills a
 * struct status_view from the server once per request; the renderers
 * read nothing else, so they are pure and unit-tested.
 */
#ifndef PINSHIM_SHIM_STATUS_RENDER_H
#define PINSHIM_SHIM_STATUS_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "pins/policy.h"
#include "shim/status/metrics.h"
#include "shim/remote/feedsync.h"
#include "shim/remote/report.h"

struct evbuffer;

struct status_listener {
	const char		*name;		/* borrowed, like every string */
	const char		*mode;
	const char		*bind_host;
	unsigned		 port;
	size_t			 active;
	unsigned		 max_conns;
	unsigned long long	 accepted;
	unsigned long long	 evicted;	/* at max_conns, for a newcomer */
	unsigned long long	 bytes_up, bytes_down;	/* relayed so far */
};

/* Everything the renderers show, taken at one instant. Pointers are
 * borrowed from the server (or a test) for the length of one render. */
struct status_view {
	time_t			 now;		/* clock_now(): expiry, health */
	time_t			 wall;		/* time(NULL): uptime, ages */
	time_t			 started;
	const char		*device_id;	/* or NULL */
	const char		*wolfssl_version;	/* or NULL: unknown */
	const char		*libevent_version;	/* or NULL: unknown */
	long			 open_fds;	/* -1: unknown */
	unsigned long		 max_fds;
	unsigned long long	 log_dropped;
	struct status_listener	*listeners;	/* gather()'s, or a test's */
	size_t			 nlisteners;
	size_t			 held;		/* client connections, all */
	unsigned long long	 passed, refused, would_refuse;
	const struct metrics_series *series;
	size_t			 nseries;
	unsigned long long	 series_dropped;
	const struct metrics_hist *handshakes;
	const struct metrics_refusal *recent[METRICS_RECENT]; /* newest first */
	size_t			 nrecent;
	const struct rule	*rules;		/* the snapshot in force */
	size_t			 nrules;
	bool			 feed_present;	/* [feed] configured */
	unsigned long		 feed_refresh;	/* seconds */
	struct feedsync_stats	 feed;
	const char *const	*fetch_outcomes; /* FEED_FETCH_OUTCOMES names */
	struct report_stats	 reports;
	bool			 ca;		/* the mint_* counts are valid */
	unsigned long		 mints, mint_hits;
	size_t			 mint_cached;
	bool			 keeper;	/* mint_refusals, keeper_* valid */
	unsigned long		 mint_refusals;
	unsigned long		 mint_waits;	/* names that queued */
	size_t			 mint_queued;	/* names queued now */
	long			 keeper_pid;
	size_t			 keeper_pending;	/* requests unanswered */
	double			 keeper_waiting;	/* s, the oldest; 0: none */
	bool			 keeper_stalled;
	bool			 tofu;		/* the tofu_* counts are valid */
	size_t			 tofu_pending;
	unsigned long long	 tofu_retries;
	const struct metrics_connects *connects; /* or NULL: not shown */
	const struct metrics_pinned *pinned;	/* or NULL: none yet */
};

/* Health is "refusing" while pinned hosts were refused in this many
 * seconds and none passed in them. */
#define STATUS_REFUSING_WINDOW	300

void	 status_render_metrics(const struct status_view *, struct evbuffer *);
void	 status_render_json(const struct status_view *, struct evbuffer *);
/* The summary `pinshim status` prints; its last line is the health. */
void	 status_render_text(const struct status_view *, struct evbuffer *);

#endif
