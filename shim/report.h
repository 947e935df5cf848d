/*
 * report.h - rate-limited pin-failure reports to the feed's report_url.
 */
#ifndef PINSHIM_REPORT_H
#define PINSHIM_REPORT_H

struct server;
struct reporter;
struct upstream_result;

struct reporter	*report_new(struct server *);
void		 report_free(struct reporter *);
/* Queue a report for a certificate refusal, if the feed in force names a
 * report_url and the rate limits allow; a no-op otherwise. */
void		 report_refusal(struct reporter *,
		    const struct upstream_result *, const char *listener,
		    const char *host, unsigned port);

#endif
