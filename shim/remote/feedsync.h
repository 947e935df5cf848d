/*
 * feedsync.h - the device side of the signed feed: fetch, accept, persist
 * and swap in. The file format is pins/feed_file.c, the body
 * pins/feed_body.c.
 */
#ifndef PINSHIM_REMOTE_FEEDSYNC_H
#define PINSHIM_REMOTE_FEEDSYNC_H

struct server;
struct feedsync;

/* NULL when the configuration has no [feed]. Loads and re-verifies the
 * cached feed and puts it in force before returning. */
struct feedsync	*feedsync_start(struct server *);
/* After a SIGHUP swapped srv->conf: re-verify, re-apply, fetch now. */
void		 feedsync_reload(struct feedsync *);
void		 feedsync_stop(struct feedsync *);
/* The version in force, or 0 (bootstrap pins only). */
unsigned long long feedsync_version(const struct feedsync *);

#endif
