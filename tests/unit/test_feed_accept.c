/*
 * test_feed_accept.c - the feed rules (pins/feed_accept.c) as a case
 * table: one row per rule, hostile cases first, each a device (its trust,
 * what it enforces, the time) and a file (body, signers, chain) with the
 * verdict, the reason and the trust after that the device must reach.
 */
#include "testutil.h"
#include "feedutil.h"

#include "base/clock.h"
#include "pins/feed_accept.h"

#define PIN_A	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define NOW	1893456000		/* 2030-01-01T00:00:00Z */
#define HEAD(v, issued, expires)					\
	"[feed]\nversion = " v "\nissued = " issued "\nexpires = "	\
	expires "\n\n"
#define FRESH(v)	HEAD(v, "2029-12-31T00:00:00Z", "2099-01-01T00:00:00Z")
#define PINNED		"[domain:api.test]\npins = " PIN_A "\npolicy = pin\n"
#define CA		"[domain:api.test]\npolicy = ca\n"
#define OFF(id)		"\n[device:" id "]\npinning = off\n"

/* Who signs the feed block. */
enum { BY_SIGN = 1, BY_ROOT = 2, BY_OTHER = 4, BY_SIGN2 = 8 };

struct accept_case {
	const char	*name;
	/* the file */
	const char	*body;
	int		 by;
	bool		 chain;		/* key set 2 (signing role s2) first */
	/* the device */
	unsigned long long floor;
	unsigned long long in_force;	/* 0: no feed */
	const char	*enforced;	/* the feed body in force, or NULL */
	bool		 keyfloor2;	/* pins.keyset says key set 2 */
	const char	*device;
	bool		 cached;
	/* what it must reach */
	enum feed_verdict verdict;
	const char	*why;		/* in the reason; NULL: none */
	unsigned long long next_floor;
	unsigned long	 next_keys;
	bool		 weakens;
	bool		 clamped;
};

static const struct accept_case cases[] = {
	{ .name = "signed by no trusted key", .body = FRESH("3") PINNED,
	  .by = BY_OTHER, .verdict = FEED_REJECTED,
	  .why = "bad signature: made by none of the 1 signing key(s) of key "
	  "set 1", .next_keys = 1 },
	{ .name = "the root alone is no signing role", .body = FRESH("3")
	  PINNED, .by = BY_ROOT, .verdict = FEED_REJECTED,
	  .why = "bad signature", .next_keys = 1 },
	{ .name = "signed, but the body does not parse", .body = FRESH("3")
	  "[listen:x]\n", .by = BY_SIGN, .verdict = FEED_REJECTED,
	  .why = "t.feed:6: [listen:x]: unknown section in a feed",
	  .next_keys = 1 },
	{ .name = "below the floor", .body = FRESH("3") PINNED, .by = BY_SIGN,
	  .floor = 9, .in_force = 9, .enforced = FRESH("9") PINNED,
	  .verdict = FEED_REJECTED, .why = "rollback refused: version 3 is "
	  "older than 9, the highest accepted", .next_floor = 9,
	  .next_keys = 1 },
	{ .name = "below the floor, no feed in force (cache lost)",
	  .body = FRESH("3") PINNED, .by = BY_SIGN, .floor = 9,
	  .verdict = FEED_REJECTED, .why = "older than 9", .next_floor = 9,
	  .next_keys = 1 },
	{ .name = "below the feed in force, floor behind it",
	  .body = FRESH("3") PINNED, .by = BY_SIGN, .floor = 2, .in_force = 5,
	  .enforced = FRESH("5") PINNED, .verdict = FEED_REJECTED,
	  .why = "version 3 is older than 5", .next_floor = 2,
	  .next_keys = 1 },
	{ .name = "the cache below the floor", .body = FRESH("3") PINNED,
	  .by = BY_SIGN, .floor = 4, .cached = true,
	  .verdict = FEED_REJECTED, .why = "older than 4", .next_floor = 4,
	  .next_keys = 1 },
	{ .name = "expired at the latest known time",
	  .body = HEAD("3", "2029-01-01T00:00:00Z", "2029-12-31T23:59:59Z")
	  PINNED, .by = BY_SIGN, .verdict = FEED_REJECTED,
	  .why = "version 3 expired at 2029-12-31T23:59:59Z", .next_keys = 1 },
	{ .name = "the signing role turns a pin to ca", .body = FRESH("3") CA,
	  .by = BY_SIGN, .in_force = 2, .floor = 2,
	  .enforced = FRESH("2") PINNED, .verdict = FEED_REJECTED,
	  .why = "version 3 weakens pinning (api.test: pin -> ca) but carries "
	  "0 of the 1 root signature(s) that needs", .next_floor = 2,
	  .next_keys = 1, .weakens = true },
	{ .name = "the signing role turns pinning off for this device",
	  .body = FRESH("3") PINNED OFF("gw-1"), .by = BY_SIGN, .in_force = 2,
	  .floor = 2, .enforced = FRESH("2") PINNED, .device = "gw-1",
	  .verdict = FEED_REJECTED, .why = "(api.test: pin -> ca)",
	  .next_floor = 2, .next_keys = 1, .weakens = true },
	{ .name = "the replaced signing key behind the update",
	  .body = FRESH("3") PINNED, .by = BY_SIGN, .chain = true,
	  .verdict = FEED_REJECTED, .why = "made by none of the 1 signing "
	  "key(s) of key set 2", .next_keys = 1 },
	{ .name = "signed under a key set behind the last one trusted",
	  .body = FRESH("3") PINNED, .by = BY_SIGN, .keyfloor2 = true,
	  .verdict = FEED_REJECTED, .why = "signed under key set 1, behind "
	  "key set 2, trusted before", .next_keys = 1 },
	{ .name = "the version in force again", .body = FRESH("5") PINNED,
	  .by = BY_SIGN, .floor = 5, .in_force = 5,
	  .enforced = FRESH("5") PINNED, .verdict = FEED_UNCHANGED,
	  .why = "version 5 is the one in force", .next_floor = 5,
	  .next_keys = 1 },
	{ .name = "a fresh device takes a signed feed",
	  .body = FRESH("3") PINNED, .by = BY_SIGN, .verdict = FEED_ACCEPTED,
	  .next_floor = 3, .next_keys = 1 },
	{ .name = "the next version", .body = FRESH("6") PINNED, .by = BY_SIGN,
	  .floor = 5, .in_force = 5, .enforced = FRESH("5") PINNED,
	  .verdict = FEED_ACCEPTED, .next_floor = 6, .next_keys = 1 },
	{ .name = "a weakening with the root threshold too",
	  .body = FRESH("3") CA, .by = BY_SIGN | BY_ROOT, .in_force = 2,
	  .floor = 2, .enforced = FRESH("2") PINNED, .verdict = FEED_ACCEPTED,
	  .next_floor = 3, .next_keys = 1, .weakens = true },
	{ .name = "another device's override is no weakening here",
	  .body = FRESH("3") PINNED OFF("lab-7"), .by = BY_SIGN, .in_force = 2,
	  .floor = 2, .enforced = FRESH("2") PINNED, .device = "gw-1",
	  .verdict = FEED_ACCEPTED, .next_floor = 3, .next_keys = 1 },
	{ .name = "pinning off over no rule is no weakening",
	  .body = FRESH("3") PINNED OFF("gw-1"), .by = BY_SIGN,
	  .device = "gw-1", .verdict = FEED_ACCEPTED, .next_floor = 3,
	  .next_keys = 1 },
	{ .name = "the cache: expiry and weakening were judged when fetched",
	  .body = HEAD("3", "2029-01-01T00:00:00Z", "2029-06-01T00:00:00Z")
	  CA, .by = BY_SIGN, .floor = 3, .cached = true,
	  .verdict = FEED_ACCEPTED, .next_floor = 3, .next_keys = 1 },
	{ .name = "the signing role replaced: the floor starts over",
	  .body = FRESH("2") PINNED, .by = BY_SIGN2, .chain = true,
	  .floor = 4294967295ULL, .in_force = 4294967295ULL,
	  .enforced = FRESH("4294967295") PINNED, .verdict = FEED_ACCEPTED,
	  .next_floor = 2, .next_keys = 2 },
	{ .name = "the version in force with an update is no no-op",
	  .body = FRESH("5") PINNED, .by = BY_SIGN2, .chain = true,
	  .floor = 5, .in_force = 5, .enforced = FRESH("5") PINNED,
	  .verdict = FEED_ACCEPTED, .next_floor = 5, .next_keys = 2 },
	{ .name = "the signing role alone dates the device at most a day on",
	  .body = HEAD("3", "2040-01-01T00:00:00Z", "2041-01-01T00:00:00Z")
	  PINNED, .by = BY_SIGN, .verdict = FEED_ACCEPTED, .next_floor = 3,
	  .next_keys = 1, .clamped = true },
	{ .name = "the root threshold may date it further",
	  .body = HEAD("3", "2040-01-01T00:00:00Z", "2041-01-01T00:00:00Z")
	  PINNED, .by = BY_SIGN | BY_ROOT, .verdict = FEED_ACCEPTED,
	  .next_floor = 3, .next_keys = 1 },
};

static struct feed_key	*kroot, *ksign, *kother, *ksign2;
static struct feed_keyset ks1, ks2;
static char		*upd2;		/* key set 2, signed by the root */
static size_t		 upd2len;

static int
setup(void **state)
{
	uint8_t	 root[1][FEED_KEY_LEN], sign[1][FEED_KEY_LEN],
		 other[FEED_KEY_LEN], sign2[1][FEED_KEY_LEN];
	char	*text;
	FILE	*null = fopen("/dev/null", "w");

	tu_tmpdir_setup(state);
	load_key(tu_tmpdir, "root", &kroot, root[0]);
	load_key(tu_tmpdir, "sign", &ksign, sign[0]);
	load_key(tu_tmpdir, "other", &kother, other);
	load_key(tu_tmpdir, "sign2", &ksign2, sign2[0]);
	memset(&ks1, 0, sizeof(ks1));
	ks1.version = 1;
	memcpy(ks1.root.keys[0], root[0], FEED_KEY_LEN);
	ks1.root.n = ks1.root.threshold = 1;
	memcpy(ks1.sign.keys[0], sign[0], FEED_KEY_LEN);
	ks1.sign.n = ks1.sign.threshold = 1;
	/* key set 2: the same root, the signing role replaced by sign2 */
	text = keys_text(2, (const uint8_t (*)[FEED_KEY_LEN])root, 1, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])sign2, 1, 1);
	upd2 = sign_text("", text, &kroot, 1, true, &upd2len);
	assert_true(feed_keyset_parse("ks2", text, strlen(text), &ks2, null));
	free(text);
	fclose(null);
	return 0;
}

static int
teardown(void **state)
{
	feed_key_free(kroot);
	feed_key_free(ksign);
	feed_key_free(kother);
	feed_key_free(ksign2);
	free(upd2);
	return tu_tmpdir_teardown(state);
}

/* The case's file: [key set 2 update] body, signed as .by says. */
static char *
case_file(const struct accept_case *k, size_t *len)
{
	struct feed_key	*by[4];
	size_t		 n = 0;

	if (k->by & BY_SIGN)
		by[n++] = ksign;
	if (k->by & BY_SIGN2)
		by[n++] = ksign2;
	if (k->by & BY_ROOT)
		by[n++] = kroot;
	if (k->by & BY_OTHER)
		by[n++] = kother;
	return sign_text(k->chain ? upd2 : "", k->body, by, n, true, len);
}

static struct snapshot *
case_enforced(const struct accept_case *k, const struct snapshot *base)
{
	struct feed_body	*b = NULL;
	struct snapshot		*s;
	FILE			*null = fopen("/dev/null", "w");

	if (k->enforced != NULL)
		assert_non_null(b = feed_body_parse("in-force", k->enforced,
		    strlen(k->enforced), null));
	s = feed_body_snapshot(base, b, k->device);
	feed_body_free(b);
	fclose(null);
	return s;
}

/* The rule a rejection's reason states, for checking that refusal names
 * the same one (`pinshim monitor` acts on it). */
static enum feed_refusal
refusal_of(const struct feed_decision *out)
{
	if (out->verdict != FEED_REJECTED)
		return FEED_REFUSED_NOT;
	if (strstr(out->why, "rollback refused") != NULL)
		return FEED_REFUSED_ROLLBACK;
	if (strstr(out->why, " expired at ") != NULL)
		return FEED_REFUSED_EXPIRED;
	if (strstr(out->why, " weakens pinning ") != NULL)
		return FEED_REFUSED_WEAKENS;
	if (strstr(out->why, "trusted before") != NULL)
		return FEED_REFUSED_KEYSET;
	return FEED_REFUSED_PROOF;
}

static void
test_every_case(void **state)
{
	size_t			 i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct accept_case *k = &cases[i];
		struct snapshot		*base = snapshot_new(POLICY_BLOCK);
		struct snapshot		*enforced = case_enforced(k, base);
		struct feed_trust	 t;
		struct feed_device	 d;
		struct feed_decision	 out;
		char			*file = case_file(k, &len);

		memset(&t, 0, sizeof(t));
		t.keys = ks1;
		if (k->keyfloor2)
			t.keyfloor = ks2;
		t.floor = k->floor;
		t.in_force = k->in_force != 0;
		t.version = k->in_force;
		memset(&d, 0, sizeof(d));
		d.base = base;
		d.enforced = enforced;
		d.device_id = k->device;
		d.now = d.sys = NOW;
		d.cached = k->cached;
		feed_accept("t.feed", file, len, &t, &d, &out);
		print_message("case: %s: %s%s%s\n", k->name,
		    feed_verdict_name(out.verdict), out.why[0] ? ": " : "",
		    out.why);
		assert_int_equal(out.verdict, k->verdict);
		assert_int_equal(out.refusal, refusal_of(&out));
		if (k->why != NULL)
			assert_contains(out.why, k->why);
		else
			assert_string_equal(out.why, "");
		assert_int_equal(out.next.floor, k->next_floor);
		assert_int_equal(out.next.keys.version, k->next_keys);
		assert_int_equal(out.weakens, k->weakens);
		assert_int_equal(out.clamped, k->clamped);
		if (k->verdict == FEED_ACCEPTED) {
			assert_non_null(out.snap);
			assert_true(out.next.in_force);
			assert_int_equal(out.next.version, out.body->version);
			assert_int_equal(out.attested, k->clamped ?
			    NOW + CLOCK_SKEW : out.body->issued);
		} else {
			/* nothing moves on a file that is not taken */
			assert_null(out.snap);
			assert_int_equal(out.next.floor, t.floor);
			assert_true(feed_keyset_same(&out.next.keys, &t.keys));
			assert_int_equal(out.next.in_force, t.in_force);
			assert_int_equal(out.next.version, t.version);
		}
		feed_accept_clear(&out);
		free(file);
		snapshot_unref(enforced);
		snapshot_unref(base);
	}
}

/* Every prefix of a good file is judged, none accepted, nothing leaks. */
static void
test_truncated_files_never_accepted(void **state)
{
	const struct accept_case *k = cases;
	struct snapshot		*base = snapshot_new(POLICY_BLOCK);
	struct feed_trust	 t;
	struct feed_device	 d;
	struct feed_decision	 out;
	size_t			 len, n;
	char			*file;

	(void)state;
	while (strcmp(k->name, "a fresh device takes a signed feed") != 0)
		k++;
	file = case_file(k, &len);
	memset(&t, 0, sizeof(t));
	t.keys = ks1;
	memset(&d, 0, sizeof(d));
	d.base = d.enforced = base;
	d.now = d.sys = NOW;
	for (n = 0; n < len; n++) {
		feed_accept("t.feed", file, n, &t, &d, &out);
		assert_int_equal(out.verdict, FEED_REJECTED);
		assert_int_equal(out.refusal, FEED_REFUSED_PROOF);
		assert_true(out.why[0] != '\0');
		feed_accept_clear(&out);
	}
	feed_accept("t.feed", file, len, &t, &d, &out);
	assert_int_equal(out.verdict, FEED_ACCEPTED);
	feed_accept_clear(&out);
	free(file);
	snapshot_unref(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_case),
		cmocka_unit_test(test_truncated_files_never_accepted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
