/*
 * test_dial.c - the RFC 8305 race of dial.c: the order it tries a name's
 * addresses in (families interleaved, IPv6 first; ones that failed lately
 * last), its bounded memory of failures (size, expiry, forgetting on
 * success), and real races on loopback: a refused IPv6 address loses to
 * a listening IPv4 one at once, and all refused is a failure naming each.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "shim/net/dial.h"

static struct sockaddr_storage
sa(const char *text, unsigned port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*v6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

/* "a b c": the addresses of list, in order, without ports */
static const char *
show(const struct sockaddr_storage *list, size_t n)
{
	static char	 out[512];
	size_t		 i, off = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		char	 a[INET6_ADDRSTRLEN];
		const void *p = list[i].ss_family == AF_INET ?
		    (const void *)&((const struct sockaddr_in *)&list[i])->sin_addr :
		    (const void *)&((const struct sockaddr_in6 *)&list[i])->sin6_addr;

		inet_ntop(list[i].ss_family, p, a, sizeof(a));
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s",
		    i ? " " : "", a);
	}
	return out;
}

static int
setup(void **state)
{
	(void)state;
	dial_memory_clear();
	return 0;
}

static void
test_order_interleaves_ipv6_first(void **state)
{
	struct sockaddr_storage	 l[6];

	(void)state;
	l[0] = sa("192.0.2.1", 443);
	l[1] = sa("192.0.2.2", 443);
	l[2] = sa("192.0.2.3", 443);
	l[3] = sa("2001:db8::1", 443);
	l[4] = sa("2001:db8::2", 443);
	l[5] = sa("192.0.2.4", 443);
	dial_order(l, 6, 1000);
	assert_string_equal(show(l, 6), "2001:db8::1 192.0.2.1 2001:db8::2 "
	    "192.0.2.2 192.0.2.3 192.0.2.4");
	/* one family: the resolver's order, untouched */
	l[0] = sa("192.0.2.9", 443);
	l[1] = sa("192.0.2.8", 443);
	dial_order(l, 2, 1000);
	assert_string_equal(show(l, 2), "192.0.2.9 192.0.2.8");
	l[0] = sa("2001:db8::9", 443);
	dial_order(l, 1, 1000);
	assert_string_equal(show(l, 1), "2001:db8::9");
}

static void
test_order_puts_failed_lately_last(void **state)
{
	struct sockaddr_storage	 l[4], dead6 = sa("2001:db8::1", 443);

	(void)state;
	l[0] = sa("2001:db8::1", 443);
	l[1] = sa("2001:db8::2", 443);
	l[2] = sa("192.0.2.1", 443);
	l[3] = sa("192.0.2.2", 443);
	dial_note_failed((struct sockaddr *)&dead6, 1000);
	dial_order(l, 4, 1001);
	assert_string_equal(show(l, 4), "2001:db8::2 192.0.2.1 192.0.2.2 "
	    "2001:db8::1");
	/* the same address on another port did not fail */
	l[0] = sa("2001:db8::1", 8443);
	l[1] = sa("192.0.2.1", 8443);
	dial_order(l, 2, 1001);
	assert_string_equal(show(l, 2), "2001:db8::1 192.0.2.1");
	/* all of one family failed: the other family goes first */
	l[0] = sa("2001:db8::1", 443);
	l[1] = sa("192.0.2.1", 443);
	dial_order(l, 2, 1001);
	assert_string_equal(show(l, 2), "192.0.2.1 2001:db8::1");
}

static void
test_memory_expires_and_forgets(void **state)
{
	struct sockaddr_storage	 a = sa("2001:db8::1", 443);
	struct sockaddr_storage	 b = sa("192.0.2.1", 443);

	(void)state;
	assert_false(dial_failed_lately((struct sockaddr *)&a, 1000));
	dial_note_failed((struct sockaddr *)&a, 1000);
	assert_true(dial_failed_lately((struct sockaddr *)&a, 1000));
	assert_false(dial_failed_lately((struct sockaddr *)&b, 1000));
	assert_true(dial_failed_lately((struct sockaddr *)&a,
	    1000 + DIAL_MEMORY_TTL - 1));
	assert_false(dial_failed_lately((struct sockaddr *)&a,
	    1000 + DIAL_MEMORY_TTL));
	/* failing again starts its time again; connecting forgets it */
	dial_note_failed((struct sockaddr *)&a, 1000);
	dial_note_failed((struct sockaddr *)&a, 1500);
	assert_true(dial_failed_lately((struct sockaddr *)&a, 1700));
	dial_note_connected((struct sockaddr *)&a);
	assert_false(dial_failed_lately((struct sockaddr *)&a, 1700));
}

/* Full, the entry that expires first makes room; the table never grows. */
static void
test_memory_is_bounded(void **state)
{
	struct sockaddr_storage	 x;
	char			 text[64];
	unsigned		 i;

	(void)state;
	for (i = 0; i < DIAL_MEMORY_MAX + 10; i++) {
		snprintf(text, sizeof(text), "10.0.%u.%u", i / 256, i % 256);
		x = sa(text, 443);
		dial_note_failed((struct sockaddr *)&x, 1000 + i);
	}
	/* the 10 oldest went, the newest 256 are remembered */
	for (i = 0; i < DIAL_MEMORY_MAX + 10; i++) {
		snprintf(text, sizeof(text), "10.0.%u.%u", i / 256, i % 256);
		x = sa(text, 443);
		if (i < 10)
			assert_false(dial_failed_lately((struct sockaddr *)&x,
			    1000 + DIAL_MEMORY_MAX + 10));
		else
			assert_true(dial_failed_lately((struct sockaddr *)&x,
			    1000 + DIAL_MEMORY_MAX + 10));
	}
}

/* --- real races on loopback ---------------------------------------------- */

static time_t
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct got {
	bool			 called;
	struct dial_result	 r;
	struct event_base	*base;
};

static void
on_result(struct dial_result *r, void *arg)
{
	struct got	*g = arg;

	g->called = true;
	g->r = *r;
	r->fd = -1;		/* ours now */
	event_base_loopbreak(g->base);
}

/* A port nothing listens on (bound, then closed), on loopback. */
static unsigned
closed_port(int family)
{
	struct sockaddr_storage	 ss = sa(family == AF_INET ? "127.0.0.1" :
				    "::1", 0);
	socklen_t		 len = sizeof(ss);
	int			 fd = socket(family, SOCK_STREAM, 0);
	unsigned		 port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

static void
race(struct sockaddr_storage *l, size_t n, struct got *g)
{
	struct dial	*d;

	memset(g, 0, sizeof(*g));
	g->base = event_base_new();
	d = dial_start(g->base, "test", l, n, 5, on_result, g);
	assert_non_null(d);
	assert_false(g->called);	/* never from inside dial_start */
	event_base_dispatch(g->base);
	assert_true(g->called);
	event_base_free(g->base);
}

static void
test_race_refused_ipv6_loses_to_ipv4_at_once(void **state)
{
	struct sockaddr_storage	 l[2], ss = sa("127.0.0.1", 0);
	socklen_t		 len = sizeof(ss);
	struct got		 g;
	int			 lfd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned		 port;
	char			 want[64];

	(void)state;
	assert_int_equal(bind(lfd, (struct sockaddr *)&ss,
	    sizeof(struct sockaddr_in)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	/* ::1 on the same port number: nothing listens there */
	l[0] = sa("127.0.0.1", port);
	l[1] = sa("::1", port);
	race(l, 2, &g);
	assert_int_equal(g.r.fail, DIAL_OK);
	assert_true(g.r.fd >= 0);
	close(g.r.fd);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	assert_string_equal(g.r.addr, want);
	assert_int_equal(g.r.attempts, 2);	/* IPv6 first, refused */
	assert_int_equal(g.r.failed, 1);
	assert_int_equal(g.r.abandoned, 0);
	assert_true(g.r.ms < DIAL_STAGGER_MS);	/* no stagger: it failed */
	/* remembered: the refused one (dial's clock is CLOCK_MONOTONIC) */
	assert_true(dial_failed_lately((struct sockaddr *)&l[1], mono()));
	assert_false(dial_failed_lately((struct sockaddr *)&l[0], mono()));
	/* the next race goes straight to the live one */
	l[0] = sa("::1", port);
	l[1] = sa("127.0.0.1", port);
	race(l, 2, &g);
	assert_int_equal(g.r.fail, DIAL_OK);
	assert_int_equal(g.r.attempts, 1);
	close(g.r.fd);
	close(lfd);
}

static void
test_race_all_refused_names_each(void **state)
{
	struct sockaddr_storage	 l[2];
	struct got		 g;
	unsigned		 p4 = closed_port(AF_INET), p6 = closed_port(AF_INET6);
	char			 want[128];

	(void)state;
	l[0] = sa("127.0.0.1", p4);
	l[1] = sa("::1", p6);
	race(l, 2, &g);
	assert_int_equal(g.r.fail, DIAL_FAILED);
	assert_int_equal(g.r.fd, -1);
	assert_int_equal(g.r.attempts, 2);
	assert_int_equal(g.r.failed, 2);
	assert_string_equal(g.r.addr, "");
	snprintf(want, sizeof(want), "[::1]:%u: Connection refused; "
	    "127.0.0.1:%u: Connection refused", p6, p4);
	assert_string_equal(g.r.detail, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_order_interleaves_ipv6_first, setup),
		cmocka_unit_test_setup(test_order_puts_failed_lately_last, setup),
		cmocka_unit_test_setup(test_memory_expires_and_forgets, setup),
		cmocka_unit_test_setup(test_memory_is_bounded, setup),
		cmocka_unit_test_setup(test_race_refused_ipv6_loses_to_ipv4_at_once,
		    setup),
		cmocka_unit_test_setup(test_race_all_refused_names_each, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
