/*
 * test_report_queue.c - the pin-failure report queue: bounded in count
 * and bytes whatever arrives, the oldest report not in flight makes way,
 * a batch in flight is never dropped, a report that cannot fit drops
 * nothing else, every drop is counted with what it carried; and the
 * retry rules (which failures retry, how the wait grows).
 */
#include "testutil.h"

#include "shim/remote/report_queue.h"

static char *
text(size_t len, int tag)
{
	char	*t = malloc(len + 1);

	assert_non_null(t);
	memset(t, 'x', len);
	snprintf(t, len + 1, "%d", tag);
	t[strlen(t)] = len > strlen(t) ? 'x' : '\0';
	t[len] = '\0';
	return t;
}

static int
tag(const struct report_queue *q, size_t i)
{
	return atoi(q->v[i].text);
}

static void
push_ok(struct report_queue *q, size_t len, int t, unsigned want_dropped)
{
	unsigned	 dropped, unsaid;

	assert_true(report_queue_push(q, text(len, t), len, false, 0,
	    &dropped, &unsaid));
	assert_int_equal(dropped, want_dropped);
}

static void
test_count_bound_drops_the_oldest(void **state)
{
	struct report_queue	 q;
	int			 i;

	(void)state;
	memset(&q, 0, sizeof(q));
	for (i = 0; i < REPORT_QUEUE; i++)
		push_ok(&q, 10, i, 0);
	push_ok(&q, 10, 1000, 1);
	push_ok(&q, 10, 1001, 1);
	assert_int_equal(q.n, REPORT_QUEUE);
	assert_int_equal(tag(&q, 0), 2);
	assert_int_equal(tag(&q, REPORT_QUEUE - 1), 1001);
	assert_int_equal(q.bytes, 10 * REPORT_QUEUE);
	report_queue_pop(&q, q.n);
	assert_int_equal(q.n, 0);
	assert_int_equal(q.bytes, 0);
}

static void
test_byte_bound_holds(void **state)
{
	struct report_queue	 q;
	const size_t		 big = REPORT_QUEUE_BYTES / 3 + 1;

	(void)state;
	memset(&q, 0, sizeof(q));
	push_ok(&q, big, 1, 0);
	push_ok(&q, big, 2, 0);
	push_ok(&q, big, 3, 1);		/* three do not fit: 1 makes way */
	assert_int_equal(q.n, 2);
	assert_int_equal(tag(&q, 0), 2);
	assert_true(q.bytes <= REPORT_QUEUE_BYTES);
	push_ok(&q, REPORT_QUEUE_BYTES, 4, 2);	/* exactly the bound */
	assert_int_equal(q.n, 1);
	assert_int_equal(q.bytes, REPORT_QUEUE_BYTES);
	report_queue_pop(&q, q.n);
}

static void
test_the_batch_in_flight_is_never_dropped(void **state)
{
	struct report_queue	 q;
	int			 i;

	(void)state;
	memset(&q, 0, sizeof(q));
	for (i = 0; i < REPORT_QUEUE; i++)
		push_ok(&q, 10, i, 0);
	q.sending = 3;
	push_ok(&q, 10, 100, 1);
	assert_int_equal(tag(&q, 0), 0);
	assert_int_equal(tag(&q, 2), 2);
	assert_int_equal(tag(&q, 3), 4);	/* 3: the oldest waiting */
	report_queue_pop(&q, 3);		/* delivered */
	assert_int_equal(q.sending, 0);
	assert_int_equal(tag(&q, 0), 4);
	assert_int_equal(q.n, REPORT_QUEUE - 3);
	report_queue_pop(&q, q.n);
}

static void
test_what_cannot_fit_drops_nothing_else(void **state)
{
	struct report_queue	 q;
	unsigned		 dropped, unsaid;

	(void)state;
	memset(&q, 0, sizeof(q));
	push_ok(&q, 1000, 1, 0);
	push_ok(&q, 1000, 2, 0);
	/* over the bound on its own */
	assert_false(report_queue_push(&q, text(REPORT_QUEUE_BYTES + 1, 3),
	    REPORT_QUEUE_BYTES + 1, false, 4, &dropped, &unsaid));
	assert_int_equal(dropped, 1);
	assert_int_equal(unsaid, 5);
	assert_int_equal(q.n, 2);
	/* over the room beside the batch in flight */
	q.sending = 1;
	assert_false(report_queue_push(&q, text(REPORT_QUEUE_BYTES - 999, 4),
	    REPORT_QUEUE_BYTES - 999, false, 0, &dropped, &unsaid));
	assert_int_equal(q.n, 2);
	assert_int_equal(tag(&q, 1), 2);
	/* fits beside it: the waiting one makes way */
	assert_true(report_queue_push(&q, text(REPORT_QUEUE_BYTES - 1000, 5),
	    REPORT_QUEUE_BYTES - 1000, false, 0, &dropped, &unsaid));
	assert_int_equal(dropped, 1);
	assert_int_equal(tag(&q, 0), 1);
	assert_int_equal(tag(&q, 1), 5);
	report_queue_pop(&q, q.n);
}

static void
test_a_drop_passes_on_what_it_carried(void **state)
{
	struct report_queue	 q;
	unsigned		 dropped, unsaid;
	int			 i;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_true(report_queue_push(&q, text(10, 0), 10, false, 7,
	    &dropped, &unsaid));
	for (i = 1; i < REPORT_QUEUE; i++)
		push_ok(&q, 10, i, 0);
	assert_true(report_queue_push(&q, text(10, 99), 10, false, 0,
	    &dropped, &unsaid));
	assert_int_equal(dropped, 1);
	assert_int_equal(unsaid, 8);		/* itself and its 7 */
	report_queue_pop(&q, q.n);
}

static void
test_retry_rules(void **state)
{
	unsigned	 b = 0, waits[12];
	int		 i;

	(void)state;
	assert_true(report_queue_retryable(0, false));	/* no response */
	assert_true(report_queue_retryable(503, true));
	assert_true(report_queue_retryable(500, true));
	assert_true(report_queue_retryable(408, true));
	assert_true(report_queue_retryable(429, true));
	assert_false(report_queue_retryable(400, true));
	assert_false(report_queue_retryable(404, true));
	assert_false(report_queue_retryable(413, true));
	for (i = 0; i < 12; i++)
		waits[i] = b = report_queue_backoff(b);
	assert_int_equal(waits[0], REPORT_RETRY_MIN);
	assert_int_equal(waits[1], 2 * REPORT_RETRY_MIN);
	for (i = 1; i < 12; i++)
		assert_true(waits[i] >= waits[i - 1] &&
		    waits[i] <= REPORT_RETRY_MAX);
	assert_int_equal(waits[11], REPORT_RETRY_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_bound_drops_the_oldest),
		cmocka_unit_test(test_byte_bound_holds),
		cmocka_unit_test(test_the_batch_in_flight_is_never_dropped),
		cmocka_unit_test(test_what_cannot_fit_drops_nothing_else),
		cmocka_unit_test(test_a_drop_passes_on_what_it_carried),
		cmocka_unit_test(test_retry_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
