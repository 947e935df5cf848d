/*
 * test_gate.c - the listener gate's rules, as values: who takes a place
 * (a newcomer over its quota is refused and evicts nobody; one outside
 * allow makes no room; a full listener makes room for one it will
 * serve), the limits derived from the INI and the descriptors, the
 * allow list, when a listener accepts at all, and the rate of limit
 * lines. Enabling a real listener (gate_apply) is left to the
 * integration tests (test_limits.py): no fake event loop here.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base/addr.h"
#include "shim/listen/gate.h"
#include "shim/proc/server.h"

static const struct {
	const char		*what;
	struct gate_ask		 ask;
	enum gate_verdict	 want;
} admit_cases[] = {
	/* hostile first: what must never make room */
	{ "at its quota on a full listener: refused, evicts nobody",
	    { 8, 8, 2, 2, true }, GATE_REFUSE },
	{ "over its quota (a reload lowered it): refused",
	    { 3, 8, 5, 2, true }, GATE_REFUSE },
	{ "at its quota with room left: refused",
	    { 1, 8, 2, 2, true }, GATE_REFUSE },
	{ "outside allow on a full listener: no room made",
	    { 8, 8, 0, 2, false }, GATE_ADMIT },
	{ "over max_conns (a reload lowered it), outside allow",
	    { 9, 4, 0, 2, false }, GATE_ADMIT },
	{ "max_conns_per_client 0 takes nobody",
	    { 0, 8, 0, 0, true }, GATE_REFUSE },
	/* then the ordinary ones */
	{ "room left", { 0, 8, 0, 2, true }, GATE_ADMIT },
	{ "room left, outside allow (its front end refuses it)",
	    { 3, 8, 1, 2, false }, GATE_ADMIT },
	{ "last place", { 7, 8, 1, 2, true }, GATE_ADMIT },
	{ "full: room made for a client under its quota",
	    { 8, 8, 1, 2, true }, GATE_EVICT },
	{ "over max_conns (a reload lowered it): room made",
	    { 9, 4, 0, 2, true }, GATE_EVICT },
	{ "full, max_conns 1, per client 1", { 1, 1, 0, 1, true },
	    GATE_EVICT },
};

static void
test_admission(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(admit_cases) / sizeof(admit_cases[0]); i++)
		if (gate_admit(&admit_cases[i].ask) != admit_cases[i].want)
			fail_msg("%s: verdict %d, want %d", admit_cases[i].what,
			    gate_admit(&admit_cases[i].ask),
			    admit_cases[i].want);
}

static const struct {
	const char	*what;
	unsigned long	 max_conns, max_per_client;	/* the INI's; 0 unset */
	unsigned	 cap;				/* fds allow */
	unsigned	 want_max, want_per;
} limit_cases[] = {
	{ "configured over what the fds allow: the fds' cap",
	    5000, 0, 1000, 1000, 125 },
	{ "a cap of 1 still lets one client in", 0, 0, 1, 1, 1 },
	{ "a cap under 8: one per client", 0, 0, 7, 7, 1 },
	{ "unset, many fds: the default, per client at most 256",
	    0, 0, 100000, 4096, 256 },
	{ "unset, few fds: all of them, an eighth per client",
	    0, 0, 1000, 1000, 125 },
	{ "configured: as said, an eighth per client", 80, 0, 1000, 80, 10 },
	{ "per client configured: as said", 80, 3, 1000, 80, 3 },
	{ "per client derived from the capped max_conns",
	    100000, 0, 2048, 2048, 256 },
};

static void
test_limits(void **state)
{
	struct listen_conf	 lc;
	unsigned		 m, per;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		memset(&lc, 0, sizeof(lc));
		lc.max_conns = limit_cases[i].max_conns;
		lc.max_per_client = limit_cases[i].max_per_client;
		gate_limits(&lc, limit_cases[i].cap, &m, &per);
		if (m != limit_cases[i].want_max ||
		    per != limit_cases[i].want_per)
			fail_msg("%s: max_conns %u per_client %u, want %u %u",
			    limit_cases[i].what, m, per,
			    limit_cases[i].want_max, limit_cases[i].want_per);
	}
}

static const struct sockaddr *
addr(struct sockaddr_storage *ss, const char *text)
{
	struct sockaddr_in	*v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1)
		v4->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
		v6->sin6_family = AF_INET6;
	}
	return (const struct sockaddr *)ss;
}

static void
test_allow(void **state)
{
	static const struct {
		const char	*client;
		bool		 in;
	} cases[] = {
		{ "11.0.0.1", false },		/* next to 10/8 */
		{ "9.255.255.255", false },
		{ "::2", false },
		{ "fe80::1", false },
		{ "::ffff:11.0.0.1", false },
		{ "10.0.0.0", true },
		{ "10.255.255.255", true },
		{ "::1", true },
		{ "::ffff:10.1.2.3", true },	/* IPv4-mapped: the IPv4 rule */
	};
	struct sockaddr_storage	 ss;
	struct cidr		 allow[2];
	struct listen_conf	 lc;
	size_t			 i;

	(void)state;
	memset(&lc, 0, sizeof(lc));
	assert_true(parse_cidr("10.0.0.0/8", &allow[0]));
	assert_true(parse_cidr("::1/128", &allow[1]));
	lc.allow = allow;
	/* an empty allow holds nobody: a mode that has one fails closed */
	assert_false(gate_allowed(&lc, addr(&ss, "10.1.2.3")));
	lc.nallow = 2;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gate_allowed(&lc, addr(&ss, cases[i].client)) !=
		    cases[i].in)
			fail_msg("%s: allowed %d, want %d", cases[i].client,
			    !cases[i].in, cases[i].in);
}

static void
test_accepting(void **state)
{
	(void)state;
	assert_false(gate_open(true, 0, 100));		/* EMFILE pause */
	assert_false(gate_open(true, 100, 100));
	assert_false(gate_open(false, 100, 100));	/* the process's cap */
	assert_false(gate_open(false, 101, 100));
	assert_false(gate_open(false, 0, 0));
	assert_true(gate_open(false, 99, 100));
	assert_true(gate_open(false, 0, 1));
}

static void
test_limit_lines_are_rate_limited(void **state)
{
	struct listen_conf	 lc;
	struct listener		 l;
	int			 i, n = 0;

	(void)state;
	memset(&lc, 0, sizeof(lc));
	memset(&l, 0, sizeof(l));
	lc.name = "t";
	l.lc = &lc;
	for (i = 0; i < 25; i++)
		n += gate_log_ok(&l, 1000);
	assert_int_equal(n, 10);
	assert_int_equal(l.limit_quiet, 15);
	/* a new second: the count of the quiet ones is said, and reset */
	assert_true(gate_log_ok(&l, 1001));
	assert_int_equal(l.limit_quiet, 0);
	assert_int_equal(l.limit_logged, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admission),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_allow),
		cmocka_unit_test(test_accepting),
		cmocka_unit_test(test_limit_lines_are_rate_limited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
