/*
 * feedsync.h - the device side of the signed feed: fetch, accept, persist
 * and swap in. The file format is pins/feed_file.c, the body
 * pins/feed_body.c.
 */
#ifndef PINSHIM_REMOTE_FEEDSYNC_H
#define PINSHIM_REMOTE_FEEDSYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct server;
struct feedsync;

/* NULL when the configuration has no [feed]. Loads and re-verifies the
 * cached feed and puts it in force before returning. */
struct feedsync	*feedsync_start(struct server *);
/* After a SIGHUP swapped srv->conf: re-verify, re-apply, fetch now. */
void		 feedsync_reload(struct feedsync *);
void		 feedsync_stop(struct feedsync *);
enum feed_outcome {
	FEED_FETCH_ACCEPTED,		/* a new feed is in force */
	FEED_FETCH_UNCHANGED,		/* 304, or the version in force */
	FEED_FETCH_REJECTED,		/* a feed came, and was refused */
	FEED_FETCH_FAILED,		/* no feed came (transport, HTTP) */
	FEED_FETCH_OUTCOMES
};

/* What /metrics and /status say about the feed. */
struct feedsync_stats {
	unsigned long long version;		/* 0: none in force */
	int64_t		 issued, expires;
	unsigned long	 keys_version;
	const char	*source;		/* where it came from; or NULL */
	time_t		 last_success;		/* accepted or unchanged; 0 */
	const char	*last_error;		/* the last refusal; or NULL */
	bool		 stale;			/* past its expires */
	unsigned long long fetches[FEED_FETCH_OUTCOMES];
};
void		 feedsync_stats(const struct feedsync *, struct feedsync_stats *);
extern const char *const feed_outcome_names[FEED_FETCH_OUTCOMES];

/* The version in force, or 0 (bootstrap pins only). */
unsigned long long feedsync_version(const struct feedsync *);

#endif
