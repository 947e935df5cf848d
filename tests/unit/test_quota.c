/*
 * test_quota.c - who a connection counts for under max_conns_per_client:
 * an IPv4 address alone (IPv4-mapped IPv6 the same), an IPv6 client by
 * its prefix (a /64 unless configured), so one host cannot multiply its
 * share by the 2^64 addresses of its /64; every give undoes its take; and
 * a full listener evicts the longest-idle connection of the client that
 * holds the most, whatever the order connections came and went in.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "shim/listen/quota.h"

static struct sockaddr_storage	 ss;

static const struct sockaddr *
addr(const char *text)
{
	struct sockaddr_in	*v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*v6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
	}
	return (const struct sockaddr *)&ss;
}

/* Take one connection for text's client, keyed with prefix. */
static bool
take(struct quota *q, const char *text, unsigned prefix, unsigned max)
{
	struct quota_key	 k;

	quota_key(addr(text), prefix, &k);
	return quota_take(q, &k, max, NULL);
}

static unsigned
held(struct quota *q, const char *text, unsigned prefix)
{
	struct quota_key	 k;

	quota_key(addr(text), prefix, &k);
	return quota_held(q, &k);
}

static void
test_one_ipv6_64_is_one_client(void **state)
{
	struct quota	*q = quota_new();

	(void)state;
	/* two addresses of one /64 share the quota ... */
	assert_true(take(q, "2001:db8:1:2::1", 64, 2));
	assert_true(take(q, "2001:db8:1:2:ffff:ffff:ffff:ffff", 64, 2));
	assert_false(take(q, "2001:db8:1:2:abcd::9", 64, 2));
	assert_int_equal(held(q, "2001:db8:1:2::77", 64), 2);
	/* ... the next /64 has its own */
	assert_true(take(q, "2001:db8:1:3::1", 64, 2));
	assert_int_equal(held(q, "2001:db8:1:3::1", 64), 1);
	quota_free(q);
}

static void
test_the_ipv6_prefix_is_configurable(void **state)
{
	struct quota	*q = quota_new();

	(void)state;
	/* a /56: the two /64s above are one client, the next /56 is not */
	assert_true(take(q, "2001:db8:1:2::1", 56, 2));
	assert_true(take(q, "2001:db8:1:3::1", 56, 2));
	assert_false(take(q, "2001:db8:1:ff::1", 56, 2));
	assert_true(take(q, "2001:db8:1:100::1", 56, 2));
	/* a prefix off a byte boundary: /60 */
	assert_true(take(q, "2001:db8:2:10::1", 60, 1));
	assert_false(take(q, "2001:db8:2:1f::1", 60, 1));
	assert_true(take(q, "2001:db8:2:20::1", 60, 1));
	/* /128: every address alone, as before */
	assert_true(take(q, "2001:db8:3::1", 128, 1));
	assert_true(take(q, "2001:db8:3::2", 128, 1));
	assert_false(take(q, "2001:db8:3::1", 128, 1));
	quota_free(q);
}

static void
test_ipv4_is_counted_per_address_whatever_the_prefix(void **state)
{
	struct quota	*q = quota_new();

	(void)state;
	assert_true(take(q, "192.0.2.1", 64, 1));
	assert_false(take(q, "192.0.2.1", 64, 1));
	assert_true(take(q, "192.0.2.2", 64, 1));	/* its neighbour */
	/* IPv4-mapped IPv6 is the IPv4 address, never cut to a prefix */
	assert_false(take(q, "::ffff:192.0.2.1", 64, 1));
	assert_true(take(q, "::ffff:192.0.2.3", 1, 1));
	assert_false(take(q, "::ffff:192.0.2.3", 1, 1));
	assert_true(take(q, "192.0.2.4", 1, 1));
	quota_free(q);
}

static void
test_every_give_undoes_its_take(void **state)
{
	struct quota		*q = quota_new();
	struct quota_key	 a, b;

	(void)state;
	quota_key(addr("2001:db8::1"), 64, &a);
	quota_key(addr("2001:db8::2"), 64, &b);
	assert_true(quota_take(q, &a, 2, NULL));
	assert_true(quota_take(q, &b, 2, NULL));
	assert_false(quota_take(q, &a, 2, NULL));
	quota_give(q, &a, NULL);
	assert_int_equal(quota_held(q, &b), 1);
	quota_give(q, &b, NULL);
	assert_int_equal(quota_held(q, &a), 0);
	assert_true(quota_take(q, &a, 2, NULL));
	quota_give(q, &a, NULL);
	quota_free(q);
}

/* A connection for the eviction tests: its client and when it last moved
 * a byte. */
struct fake {
	struct quota_member	 m;	/* first */
	struct quota_key	 k;
	uint64_t		 since;
	bool			 held;
};

static uint64_t
since(const struct quota_member *m)
{
	return ((const struct fake *)(const void *)m)->since;
}

static void
join(struct quota *q, struct fake *f, const char *client, uint64_t when)
{
	quota_key(addr(client), 64, &f->k);
	f->since = when;
	assert_true(quota_take(q, &f->k, 100, &f->m));
	f->held = true;
}

static void
leave(struct quota *q, struct fake *f)
{
	quota_give(q, &f->k, &f->m);
	f->held = false;
}

static struct fake *
victim(struct quota *q)
{
	return (struct fake *)(void *)quota_victim(q, since);
}

static void
test_nothing_to_evict_when_empty(void **state)
{
	struct quota	*q = quota_new();
	struct fake	 a;

	(void)state;
	assert_null(victim(q));
	join(q, &a, "192.0.2.1", 5);
	leave(q, &a);
	assert_null(victim(q));
	/* counted without a member: counted, never chosen */
	assert_true(take(q, "192.0.2.1", 64, 5));
	assert_null(victim(q));
	quota_free(q);
}

static void
test_evicts_the_longest_idle_of_the_heaviest_client(void **state)
{
	struct quota	*q = quota_new();
	struct fake	 a[3], b[2], c;

	(void)state;
	/* c idles longest of all, but holds one: a holds the most */
	join(q, &c, "192.0.2.3", 1);
	join(q, &a[0], "192.0.2.1", 30);
	join(q, &a[1], "192.0.2.1", 10);	/* a's longest idle */
	join(q, &a[2], "192.0.2.1", 20);
	join(q, &b[0], "2001:db8::1", 2);
	join(q, &b[1], "2001:db8::2", 3);	/* the same /64: 2 */
	assert_ptr_equal(victim(q), &a[1]);
	leave(q, &a[1]);
	/* a and b hold 2 each now: b got there first */
	assert_ptr_equal(victim(q), &b[0]);
	leave(q, &b[0]);
	assert_ptr_equal(victim(q), &a[2]);	/* a holds the most */
	leave(q, &a[2]);
	/* 1 each: c, b, a, in the order they got to 1 */
	assert_ptr_equal(victim(q), &c);
	leave(q, &c);
	assert_ptr_equal(victim(q), &b[1]);
	leave(q, &b[1]);
	assert_ptr_equal(victim(q), &a[0]);
	leave(q, &a[0]);
	assert_null(victim(q));
	quota_free(q);
}

static void
test_the_heaviest_follows_takes_and_gives(void **state)
{
	struct quota	*q = quota_new();
	struct fake	 a[4], b[3];
	int		 i;

	(void)state;
	for (i = 0; i < 3; i++)
		join(q, &b[i], "198.51.100.7", 100 + (uint64_t)i);
	for (i = 0; i < 4; i++)
		join(q, &a[i], "192.0.2.1", 200 + (uint64_t)i);
	assert_ptr_equal(victim(q), &a[0]);	/* a: 4 */
	leave(q, &a[0]);
	leave(q, &a[1]);
	assert_ptr_equal(victim(q), &b[0]);	/* b: 3, a: 2 */
	b[0].since = 500;			/* b[0] moved a byte */
	assert_ptr_equal(victim(q), &b[1]);
	join(q, &a[0], "192.0.2.1", 50);
	join(q, &a[1], "192.0.2.1", 60);	/* a: 4 again */
	assert_ptr_equal(victim(q), &a[0]);
	for (i = 0; i < 4; i++)
		leave(q, &a[i]);
	for (i = 0; i < 3; i++)
		leave(q, &b[i]);
	assert_null(victim(q));
	quota_free(q);
}

/* The per-count lists live in one array that grows by doubling: lists
 * that hold clients when it moves must still be whole after (40 clients
 * 1..40 each take it past 16 and 32 with every list in use). */
static void
test_lists_survive_the_array_growing(void **state)
{
	static struct fake	 f[40][40];
	struct quota		*q = quota_new();
	char			 client[32];
	int			 i, j;

	(void)state;
	for (j = 0; j < 40; j++)
		for (i = 0; i <= j; i++) {
			snprintf(client, sizeof(client), "192.0.2.%d", i + 1);
			join(q, &f[i][j], client, (uint64_t)(1000 * i + j));
		}
	/* 192.0.2.1 joined at every step: it holds 40, and its longest
	 * idle goes first; then every list is walked as the counts fall */
	assert_ptr_equal(victim(q), &f[0][0]);
	for (i = 0; i < 40; i++)
		for (j = i; j < 40; j++) {
			assert_non_null(victim(q));
			leave(q, &f[i][j]);
		}
	assert_null(victim(q));
	quota_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_ipv6_64_is_one_client),
		cmocka_unit_test(test_the_ipv6_prefix_is_configurable),
		cmocka_unit_test(
		    test_ipv4_is_counted_per_address_whatever_the_prefix),
		cmocka_unit_test(test_every_give_undoes_its_take),
		cmocka_unit_test(test_nothing_to_evict_when_empty),
		cmocka_unit_test(
		    test_evicts_the_longest_idle_of_the_heaviest_client),
		cmocka_unit_test(test_the_heaviest_follows_takes_and_gives),
		cmocka_unit_test(test_lists_survive_the_array_growing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
