/*
 * report_queue.c - the bounded queue of pin-failure reports and the
 * retry rules, apart from the I/O (report.c) so they can be tested alone.
 * The head of the queue may be in flight: a failed POST leaves it there,
 * so reports go in the order they were made, and what overflows is the
 * oldest report not yet sent (a newer refusal says more about now).
 *
 * Must never: hold more than REPORT_QUEUE reports or REPORT_QUEUE_BYTES
 * of them, or drop a report that is in flight.
 */
#include <stdlib.h>
#include <string.h>

#include "shim/remote/report_queue.h"

static void
drop_at(struct report_queue *q, size_t i, unsigned *dropped,
    unsigned *unsaid)
{
	(*dropped)++;
	*unsaid += 1 + q->v[i].carried;
	q->bytes -= q->v[i].len;
	free(q->v[i].text);
	q->n--;
	memmove(&q->v[i], &q->v[i + 1], (q->n - i) * sizeof(q->v[0]));
}

bool
report_queue_push(struct report_queue *q, char *text, size_t len,
    bool rfc7469, unsigned carried, unsigned *dropped, unsigned *unsaid)
{
	struct report_item	*it;
	size_t			 i, held = 0;

	*dropped = *unsaid = 0;
	for (i = 0; i < q->sending; i++)
		held += q->v[i].len;
	/* Never room beside the batch in flight: drop nothing else for it. */
	if (q->sending == REPORT_QUEUE || len > REPORT_QUEUE_BYTES - held) {
		free(text);
		*dropped = 1;
		*unsaid = 1 + carried;
		return false;
	}
	while (q->n == REPORT_QUEUE || q->bytes + len > REPORT_QUEUE_BYTES)
		drop_at(q, q->sending, dropped, unsaid);
	it = &q->v[q->n++];
	it->text = text;
	it->len = len;
	it->rfc7469 = rfc7469;
	it->carried = carried;
	clock_gettime(CLOCK_MONOTONIC, &it->made);
	q->bytes += len;
	return true;
}

void
report_queue_pop(struct report_queue *q, size_t n)
{
	unsigned	 dropped = 0, unsaid = 0;

	while (n-- > 0 && q->n > 0)
		drop_at(q, 0, &dropped, &unsaid);
	q->sending = 0;
}

unsigned
report_queue_backoff(unsigned prev)
{
	if (prev == 0)
		return REPORT_RETRY_MIN;
	return prev >= REPORT_RETRY_MAX / 2 ? REPORT_RETRY_MAX : prev * 2;
}

bool
report_queue_retryable(int status, bool responded)
{
	return !responded || status == 408 || status == 429 || status >= 500;
}
