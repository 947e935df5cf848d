/*
 * report_queue.h - the pin-failure reports waiting to be POSTed: a FIFO
 * bounded in count and bytes, whose head may be in flight, and the retry
 * rules. No I/O: report.c drives it.
 */
#ifndef PINSHIM_REMOTE_REPORT_QUEUE_H
#define PINSHIM_REMOTE_REPORT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define REPORT_QUEUE	64		/* reports waiting, at most */
#define REPORT_QUEUE_BYTES (256 * 1024)	/* and their bytes */
#define REPORT_RETRY_MIN 2		/* seconds before the first retry */
#define REPORT_RETRY_MAX 900		/* backoff doubles up to this */

struct report_item {
	char		*text;		/* owned */
	size_t		 len;
	bool		 rfc7469;	/* the format it was made in */
	unsigned	 carried;	/* the "suppressed" count it says */
	struct timespec	 made;		/* CLOCK_MONOTONIC, for "age" */
};

struct report_queue {
	struct report_item v[REPORT_QUEUE];	/* oldest first */
	size_t		 n;
	size_t		 bytes;			/* of the texts queued */
	size_t		 sending;		/* v[0..sending) are in flight */
};

/* Append text (ownership taken), which says carried reports were
 * suppressed before it, dropping the oldest reports not in flight to
 * make room for it: their number in *dropped, and in *unsaid that number
 * plus the counts they carried (the next report must say them). false
 * (text freed, and counted in both) if it cannot fit beside the batch in
 * flight. */
bool		 report_queue_push(struct report_queue *, char *text,
		    size_t len, bool rfc7469, unsigned carried,
		    unsigned *dropped, unsigned *unsaid);
/* Free the n oldest (delivered, or refused for good); none is in flight
 * any more. */
void		 report_queue_pop(struct report_queue *, size_t n);
/* The wait before the next retry after one more failure, prev the last
 * (0: none yet). */
unsigned	 report_queue_backoff(unsigned prev);
/* Whether a POST that ended so may succeed later: no response (the
 * network, the collector's TLS or pins, a timeout), 408, 429 or 5xx. */
bool		 report_queue_retryable(int status, bool responded);

#endif
