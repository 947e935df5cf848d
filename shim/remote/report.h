/*
 * report.h - rate-limited pin-failure reports to the feed's report_url.
 */
#ifndef PINSHIM_REMOTE_REPORT_H
#define PINSHIM_REMOTE_REPORT_H

struct server;
struct reporter;
struct upstream_result;

struct reporter	*report_new(struct server *);
void		 report_free(struct reporter *);
/* The feed in force changed: where reports go now (NULL: nowhere) and
 * the version they name. */
void		 report_set_feed(struct reporter *, const char *url,
		    unsigned long long version);
/* Queue a report for a certificate refusal, if the feed in force names a
 * report_url and the rate limits allow; a no-op otherwise. */
void		 report_refusal(struct reporter *,
		    const struct upstream_result *, const char *listener);

struct report_stats {
	unsigned long long	 queued;	/* passed the rate limits */
	unsigned long long	 delivered;	/* a 2xx came back */
	unsigned long long	 failed;	/* not delivered, or not 2xx */
	unsigned long long	 suppressed;	/* rate-limited or dropped */
};
void		 report_stats(const struct reporter *, struct report_stats *);

#endif
