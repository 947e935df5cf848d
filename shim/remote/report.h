/*
 * report.h - rate-limited, batched pin-failure reports to the feed's
 * report_url.
 */
#ifndef PINSHIM_REMOTE_REPORT_H
#define PINSHIM_REMOTE_REPORT_H

struct feed_body;
struct server;
struct reporter;
struct upstream_result;

/* The schema version of a report's body (docs/report.schema.json). */
#define REPORT_SCHEMA	1

struct reporter	*report_new(struct server *);
void		 report_free(struct reporter *);
/* The feed in force changed (NULL: none): where reports go now, in which
 * format, and the version they name. Reports already queued go there. */
void		 report_set_feed(struct reporter *, const struct feed_body *);
/* Queue a report for a certificate refusal, if the feed in force names a
 * report_url and the rate limits allow; a no-op otherwise. Reads res's
 * borrowed chain and pins now: nothing of res is kept. */
void		 report_refusal(struct reporter *,
		    const struct upstream_result *, const char *listener);

struct report_stats {
	unsigned long long	 queued;	/* passed the rate limits */
	unsigned long long	 delivered;	/* a 2xx came back (reports) */
	unsigned long long	 failed;	/* POSTs not delivered or not
						 * 2xx (retried if they may
						 * succeed later) */
	unsigned long long	 suppressed;	/* rate-limited, or dropped
						 * from a full queue */
};
void		 report_stats(const struct reporter *, struct report_stats *);

#endif
