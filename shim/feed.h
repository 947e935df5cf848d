/*
 * feed.h - the device side of the signed feed (fetch, accept, persist,
 * swap). The file format lives in pins/feed.c.
 */
#ifndef PINSHIM_SHIM_FEED_H
#define PINSHIM_SHIM_FEED_H

struct server;
struct feed_state;

/* NULL when the configuration has no [feed]. Loads and re-verifies the
 * cached feed and puts it in force before returning. */
struct feed_state *feed_start(struct server *);
/* After a SIGHUP swapped srv->conf: re-verify, re-apply, fetch now. */
void	 feed_reload(struct feed_state *);
void	 feed_stop(struct feed_state *);
/* Of the feed in force; NULL / 0 without one. */
const char *feed_report_url(const struct feed_state *);
unsigned long long feed_version(const struct feed_state *);

#endif
