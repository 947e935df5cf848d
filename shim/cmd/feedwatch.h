/*
 * feedwatch.h - `pinshim monitor`'s view of a published feed: each copy
 * it reads (the file, the URL) judged by the device's own rules, round
 * after round, into one state.
 */
#ifndef PINSHIM_CMD_FEEDWATCH_H
#define PINSHIM_CMD_FEEDWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pins/feed_accept.h"

#define FEEDWATCH_SOON_DAYS	7	/* feed-expiring below this */

/* One source of the feed, as a device that fetched each copy would hold
 * it: its trust moves with what it accepted. */
struct feedwatch {
	const char		*name;		/* file or URL; borrowed */
	struct feed_trust	 t;
	const struct snapshot	*base;		/* borrowed: the INI's rules */
	struct snapshot		*enforced;	/* one reference owned: base,
						 * then the last accepted */
	const char		*device_id;	/* borrowed, may be NULL */
};

struct feedwatch_state {
	const char		*state;		/* "feed-ok", "feed-expiring",
						 * "feed-expired", "feed-rollback",
						 * "feed-bad-signature",
						 * "feed-rejected" */
	bool			 bad;		/* devices refuse this copy */
	char			 detail[600];
	struct feed_body	*body;		/* accepted: owned by the
						 * caller; else NULL */
};

void	 feedwatch_init(struct feedwatch *, const char *name,
	    const struct feed_keyset *, const struct snapshot *base,
	    const char *device_id);
void	 feedwatch_clear(struct feedwatch *);
/* Judge one copy at now, as the device with w's trust would, and move
 * that trust on if it accepts it. */
void	 feedwatch_judge(struct feedwatch *, const char *buf, size_t len,
	    int64_t now, struct feedwatch_state *out);

#endif
