/*
 * test_policy.c - policy names and snapshot resolution: most specific rule
 * wins, ties keep the first, no match is default_policy, expired pin sets
 * fall to on_expiry; what counts as weakening pinning between two
 * snapshots.
 */
#include "testutil.h"

#include "base/mem.h"
#include "pins/policy.h"
#include "fuzz/weaken_model.h"

#define PIN_EMPTY	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

/* Add a rule for pattern with policy p; returns its index. */
static size_t
add(struct snapshot *s, const char *pattern, enum policy p, time_t expires,
    enum policy on_expiry)
{
	struct rule	 r;
	const char	*why = NULL;
	char		 bad[128];
	char		 origin[64];

	memset(&r, 0, sizeof(r));
	if (!hostpat_parse(pattern, &r.pat, &why))
		fail_msg("hostpat_parse(\"%s\"): %s", pattern, why);
	r.pattern = strdup(pattern);
	snprintf(origin, sizeof(origin), "test:%zu", s->nrules + 1);
	r.origin = strdup(origin);
	assert_non_null(r.pattern);
	assert_non_null(r.origin);
	r.policy = p;
	r.has_expires = expires != 0;	/* 0 here: no expires key */
	r.expires = expires;
	r.on_expiry = on_expiry;
	if (p == POLICY_PIN || p == POLICY_PIN_ONLY)
		assert_true(pinset_parse_list(&r.pins, PIN_EMPTY, bad,
		    sizeof(bad)));
	snapshot_add_rule(s, &r);
	/* ownership moved: the caller's copy is cleared */
	assert_null(r.pattern);
	assert_null(r.origin);
	assert_null(r.pins.pins);
	return s->nrules - 1;
}

static struct verdict_policy
resolve(const struct snapshot *s, const char *host, time_t now)
{
	struct verdict_policy	 vp;

	memset(&vp, 0xa5, sizeof(vp));
	snapshot_resolve(s, host, now, &vp);
	return vp;
}

/* --- policy names ------------------------------------------------------- */

static void
test_policy_parse_rejects(void **state)
{
	static const char *const bad[] = { "PIN", "Pin", "", "pinonly",
	    "pin_only", "pin-only ", " ca", "blocked", "none", "?" };
	enum policy	 p = POLICY_CA;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_parse(bad[i], &p))
			fail_msg("policy_parse(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(p, POLICY_CA);	/* untouched on failure */
}

static void
test_policy_round_trip(void **state)
{
	static const char *const names[] = { "pin", "pin-only", "ca", "tofu",
	    "block" };
	static const enum policy want[] = { POLICY_PIN, POLICY_PIN_ONLY,
	    POLICY_CA, POLICY_TOFU, POLICY_BLOCK };
	enum policy	 p;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_true(policy_parse(names[i], &p));
		assert_int_equal(p, want[i]);
		assert_string_equal(policy_name(p), names[i]);
	}
}

static void
test_policy_name_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(policy_name((enum policy)99), "?");
	assert_string_equal(policy_name((enum policy)-1), "?");
}

/* --- snapshot_resolve --------------------------------------------------- */

static void
test_resolve_no_rules_is_default(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;

	(void)state;
	vp = resolve(s, "api.test", 1000);
	assert_int_equal(vp.policy, POLICY_BLOCK);
	assert_null(vp.rule);
	assert_false(vp.expired);
	snapshot_unref(s);
}

static void
test_resolve_no_match_is_default(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_CA);
	struct verdict_policy	 vp;

	(void)state;
	add(s, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(s, "*.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	vp = resolve(s, "other.test", 1000);
	assert_int_equal(vp.policy, POLICY_CA);
	assert_null(vp.rule);
	assert_false(vp.expired);
	vp = resolve(s, "a.b.api.test", 1000);	/* *. is one label only */
	assert_null(vp.rule);
	vp = resolve(s, "xapi.test", 1000);
	assert_null(vp.rule);
	snapshot_unref(s);
}

static void
test_resolve_most_specific_wins(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;
	size_t			 any, one, exact;

	(void)state;
	/* least specific first, so "first added" cannot explain a win */
	any = add(s, "**.example.com", POLICY_CA, 0, POLICY_BLOCK);
	one = add(s, "*.example.com", POLICY_PIN_ONLY, 0, POLICY_BLOCK);
	exact = add(s, "api.example.com", POLICY_PIN, 0, POLICY_BLOCK);

	vp = resolve(s, "api.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[exact]);
	assert_int_equal(vp.policy, POLICY_PIN);
	vp = resolve(s, "www.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[one]);
	assert_int_equal(vp.policy, POLICY_PIN_ONLY);
	vp = resolve(s, "example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[any]);
	assert_int_equal(vp.policy, POLICY_CA);
	vp = resolve(s, "a.b.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[any]);
	snapshot_unref(s);
}

static void
test_resolve_most_specific_wins_reversed(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;
	size_t			 exact, one;

	(void)state;
	exact = add(s, "api.example.com", POLICY_PIN, 0, POLICY_BLOCK);
	one = add(s, "*.example.com", POLICY_CA, 0, POLICY_BLOCK);
	add(s, "**.example.com", POLICY_BLOCK, 0, POLICY_BLOCK);
	vp = resolve(s, "api.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[exact]);
	vp = resolve(s, "www.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[one]);
	snapshot_unref(s);
}

static void
test_resolve_deeper_any_depth_wins(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;
	size_t			 deep;

	(void)state;
	add(s, "*.example.com", POLICY_CA, 0, POLICY_BLOCK);
	deep = add(s, "**.b.example.com", POLICY_PIN, 0, POLICY_BLOCK);
	vp = resolve(s, "b.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[deep]);
	vp = resolve(s, "a.b.example.com", 1000);
	assert_ptr_equal(vp.rule, &s->rules[deep]);
	snapshot_unref(s);
}

static void
test_resolve_tie_keeps_first(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;
	size_t			 first;

	(void)state;
	/* the same pattern spelt twice: equally specific for a.x.test */
	first = add(s, "*.x.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(s, "*.y.test", POLICY_CA, 0, POLICY_BLOCK);
	add(s, "*.X.Test.", POLICY_CA, 0, POLICY_BLOCK);
	vp = resolve(s, "a.x.test", 1000);
	assert_ptr_equal(vp.rule, &s->rules[first]);
	assert_int_equal(vp.policy, POLICY_PIN);
	assert_string_equal(vp.rule->origin, "test:1");
	snapshot_unref(s);
}

static void
test_resolve_expired_pin_falls_to_on_expiry(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;

	(void)state;
	add(s, "ca.test", POLICY_PIN, 5000, POLICY_CA);
	add(s, "block.test", POLICY_PIN_ONLY, 5000, POLICY_BLOCK);

	vp = resolve(s, "ca.test", 4999);
	assert_false(vp.expired);
	assert_int_equal(vp.policy, POLICY_PIN);
	vp = resolve(s, "ca.test", 5000);	/* now == expires: expired */
	assert_true(vp.expired);
	assert_int_equal(vp.policy, POLICY_CA);
	assert_non_null(vp.rule);
	vp = resolve(s, "block.test", 5001);
	assert_true(vp.expired);
	assert_int_equal(vp.policy, POLICY_BLOCK);
	vp = resolve(s, "block.test", 4999);
	assert_false(vp.expired);
	assert_int_equal(vp.policy, POLICY_PIN_ONLY);
	snapshot_unref(s);
}

static void
test_resolve_without_expires_never_expires(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;

	(void)state;
	add(s, "api.test", POLICY_PIN, 0, POLICY_CA);
	vp = resolve(s, "api.test", (time_t)4102444800);	/* 2100 */
	assert_false(vp.expired);
	assert_int_equal(vp.policy, POLICY_PIN);
	snapshot_unref(s);
}

static void
test_resolve_expiry_ignored_without_pins(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_BLOCK);
	struct verdict_policy	 vp;

	(void)state;
	add(s, "ca.test", POLICY_CA, 5000, POLICY_BLOCK);
	vp = resolve(s, "ca.test", 6000);
	assert_false(vp.expired);
	assert_int_equal(vp.policy, POLICY_CA);
	snapshot_unref(s);
}

static void
test_resolve_block_rule(void **state)
{
	struct snapshot		*s = snapshot_new(POLICY_CA);
	struct verdict_policy	 vp;

	(void)state;
	add(s, "**.tracker.test", POLICY_BLOCK, 0, POLICY_BLOCK);
	vp = resolve(s, "x.tracker.test", 1000);
	assert_int_equal(vp.policy, POLICY_BLOCK);
	assert_non_null(vp.rule);
	snapshot_unref(s);
}

/* --- reference counting ------------------------------------------------- */

static void
test_ref_unref(void **state)
{
	struct snapshot	*s = snapshot_new(POLICY_CA);

	(void)state;
	add(s, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	assert_int_equal(s->refs, 1);
	assert_ptr_equal(snapshot_ref(s), s);
	assert_int_equal(s->refs, 2);
	snapshot_unref(s);
	assert_int_equal(s->refs, 1);
	assert_int_equal(s->nrules, 1);		/* still alive */
	assert_string_equal(s->rules[0].pattern, "api.test");
	snapshot_unref(s);			/* freed (ASan checks) */
	snapshot_unref(NULL);
}

static void
test_new_snapshot(void **state)
{
	struct snapshot	*s = snapshot_new(POLICY_CA);

	(void)state;
	assert_int_equal(s->default_policy, POLICY_CA);
	assert_int_equal(s->nrules, 0);
	assert_int_equal(s->refs, 1);
	snapshot_unref(s);
}

/* --- weakening ------------------------------------------------------ */

static bool
weaker(const struct snapshot *a, const struct snapshot *b, char *why)
{
	return snapshot_weaker(a, b, why, 300);
}

static void
test_weaker_policy_change_and_removal(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_CA);
	struct snapshot	*ca = snapshot_new(POLICY_CA);
	struct snapshot	*gone = snapshot_new(POLICY_CA);
	struct snapshot	*blk = snapshot_new(POLICY_BLOCK);
	char		 why[300];

	(void)state;
	add(old, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(ca, "api.test", POLICY_CA, 0, POLICY_BLOCK);
	assert_true(weaker(old, ca, why));
	assert_string_equal(why, "api.test: pin -> ca");
	/* the rule gone: the default policy (ca here) applies */
	assert_true(weaker(old, gone, why));
	assert_string_equal(why, "api.test: pin -> ca (its rule is gone)");
	/* gone, but the default blocks: stronger, not weaker */
	old->default_policy = POLICY_BLOCK;
	assert_false(weaker(old, blk, why));
	/* pin to pin-only and to block are not weakening; back is */
	add(blk, "api.test", POLICY_PIN_ONLY, 0, POLICY_BLOCK);
	assert_false(weaker(old, blk, why));
	assert_true(weaker(ca, old, why) == false);
	snapshot_unref(old);
	snapshot_unref(ca);
	snapshot_unref(gone);
	snapshot_unref(blk);
}

static void
test_weaker_needs_a_rule_to_weaken(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_BLOCK);
	struct snapshot	*new = snapshot_new(POLICY_BLOCK);
	char		 why[300];

	(void)state;
	/* a new host under ca: nothing was pinned there */
	add(new, "other.test", POLICY_CA, 0, POLICY_BLOCK);
	assert_false(weaker(old, new, why));
	snapshot_unref(old);
	snapshot_unref(new);
}

static void
test_weaker_narrow_rule_under_a_pinned_wildcard(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_BLOCK);
	struct snapshot	*new = snapshot_new(POLICY_BLOCK);
	struct snapshot	*sub = snapshot_new(POLICY_BLOCK);
	char		 why[300];

	(void)state;
	add(old, "**.example.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(new, "**.example.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(new, "api.example.test", POLICY_CA, 0, POLICY_BLOCK);
	assert_true(weaker(old, new, why));
	assert_string_equal(why, "api.example.test: pin -> ca");
	add(sub, "**.example.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(sub, "*.cdn.example.test", POLICY_TOFU, 0, POLICY_BLOCK);
	assert_true(weaker(old, sub, why));
	assert_string_equal(why, "*.cdn.example.test: pin -> tofu");
	snapshot_unref(old);
	snapshot_unref(new);
	snapshot_unref(sub);
}

static void
test_weaker_long_wildcard_base_is_checked(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_BLOCK);
	struct snapshot	*new = snapshot_new(POLICY_BLOCK);
	char		 pat[400], label[64];
	char		 why[300];

	(void)state;
	/* "*." + a 245-byte base: "pinshim-probe." would not fit under it */
	memset(label, 'a', 60);
	label[60] = '\0';
	snprintf(pat, sizeof(pat), "*.%s.%s.%s.%s.x.test", label, label, label,
	    label);
	add(old, "**.x.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(new, "**.x.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(new, pat, POLICY_CA, 0, POLICY_BLOCK);
	assert_true(weaker(old, new, why));
	assert_contains(why, ": pin -> ca");
	snapshot_unref(old);
	snapshot_unref(new);
}

static void
test_weaker_expiry_to_ca(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_BLOCK);
	struct snapshot	*later = snapshot_new(POLICY_BLOCK);
	struct snapshot	*sooner = snapshot_new(POLICY_BLOCK);
	struct snapshot	*ca = snapshot_new(POLICY_BLOCK);
	char		 why[300];

	(void)state;
	add(old, "api.test", POLICY_PIN, 2000000000, POLICY_CA);
	add(later, "api.test", POLICY_PIN, 2100000000, POLICY_CA);
	add(sooner, "api.test", POLICY_PIN, 1000000000, POLICY_CA);
	assert_false(weaker(old, later, why));	/* renewed: fine */
	assert_true(weaker(old, sooner, why));
	assert_contains(why, "(its pins expire sooner)");
	/* pinned for good, then pinned until a date and ca after */
	add(ca, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	assert_true(weaker(ca, later, why));
	assert_string_equal(why, "api.test: pin -> pin (ca once its pins "
	    "expire)");
	snapshot_unref(old);
	snapshot_unref(later);
	snapshot_unref(sooner);
	snapshot_unref(ca);
}

static void
test_weaker_observe_only(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_BLOCK);
	struct snapshot	*obs = snapshot_new(POLICY_BLOCK);
	struct snapshot	*ca = snapshot_new(POLICY_BLOCK);
	char		 why[300];

	(void)state;
	add(old, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(obs, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	obs->rules[0].observe_only = true;
	add(ca, "api.test", POLICY_CA, 0, POLICY_BLOCK);
	assert_true(weaker(old, obs, why));
	assert_string_equal(why, "api.test: pin -> pin (enforce = no)");
	assert_false(weaker(obs, old, why));	/* enforcing again */
	assert_false(weaker(ca, obs, why));	/* ca to observed: alike */
	snapshot_unref(old);
	snapshot_unref(obs);
	snapshot_unref(ca);
}

/* The review's attack: a wildcard turned to ca, with exact pin rules
 * added for exactly the names a sampling check probed (the base and
 * "_.base"). Every other name under it lost its pins. */
static void
test_weaker_wildcard_dressed_with_exact_pins(void **state)
{
	static const char *const kinds[] = { "**.api.test", "*.api.test" };
	struct snapshot	*old, *new;
	char		 why[300];
	size_t		 k;

	(void)state;
	for (k = 0; k < nitems(kinds); k++) {
		old = snapshot_new(POLICY_CA);
		new = snapshot_new(POLICY_CA);
		add(old, kinds[k], POLICY_PIN, 0, POLICY_BLOCK);
		add(new, kinds[k], POLICY_CA, 0, POLICY_BLOCK);
		add(new, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
		add(new, "_.api.test", POLICY_PIN, 0, POLICY_BLOCK);
		assert_true(weaker(old, new, why));
		assert_string_equal(why, "*.api.test: pin -> ca");
		snapshot_unref(old);
		snapshot_unref(new);
	}
}

/* enforce = no under a pinned wildcard, dressed the same way; and a
 * deeper name: "**." still pinned one label down but not two. */
static void
test_weaker_observe_only_and_depth_under_a_wildcard(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_CA);
	struct snapshot	*obs = snapshot_new(POLICY_CA);
	struct snapshot	*deep = snapshot_new(POLICY_CA);
	char		 why[300];

	(void)state;
	add(old, "**.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(obs, "**.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	obs->rules[0].observe_only = true;
	add(obs, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(obs, "_.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	assert_true(weaker(old, obs, why));
	assert_string_equal(why, "*.api.test: pin -> pin (enforce = no)");
	/* "**." narrowed to "*." plus the apex: two labels down is ca now */
	add(deep, "api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(deep, "*.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	assert_true(weaker(old, deep, why));
	assert_string_equal(why, "*.*.api.test: pin -> ca (its rule is gone)");
	snapshot_unref(old);
	snapshot_unref(obs);
	snapshot_unref(deep);
}

/* Ordinary rotations and additions stay signing-role changes. */
static void
test_weaker_not_for_a_stricter_or_equal_feed(void **state)
{
	struct snapshot	*old = snapshot_new(POLICY_CA);
	struct snapshot	*new = snapshot_new(POLICY_CA);
	char		 why[300];

	(void)state;
	add(old, "**.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(new, "**.api.test", POLICY_PIN_ONLY, 0, POLICY_BLOCK);
	add(new, "*.api.test", POLICY_PIN, 0, POLICY_BLOCK);
	add(new, "x.y.api.test", POLICY_BLOCK, 0, POLICY_BLOCK);
	add(new, "other.test", POLICY_CA, 0, POLICY_BLOCK);
	assert_false(weaker(old, new, why));
	snapshot_unref(old);
	snapshot_unref(new);
}

/* The property, over random pairs of snapshots of a small world (see
 * fuzz/weaken_model.h): weaker exactly when the brute-force oracle finds
 * a name that got weaker. fuzz_weaken checks the same, guided. */
#define PROPERTY_PAIRS	20000

static void
test_weaker_property(void **state)
{
	uint8_t		 bytes[160];
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	struct wm_bytes	 b;
	struct snapshot	*old, *new, *over;
	char		 why[300], name[32];
	unsigned	 pair, weakened = 0;
	size_t		 i;
	bool		 got, want;

	(void)state;
	for (pair = 0; pair < PROPERTY_PAIRS; pair++) {
		for (i = 0; i < sizeof(bytes); i++) {	/* xorshift64 */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			bytes[i] = (uint8_t)x;
		}
		b.p = bytes;
		b.n = sizeof(bytes);
		old = wm_snapshot(&b);
		over = wm_snapshot(&b);
		/* half the pairs: new is old with over's rules put in (a
		 * feed edited, as publishers do); half, unrelated */
		new = pair % 2 ? snapshot_ref(over) :
		    snapshot_merge(old, over, false);
		snapshot_unref(over);
		got = weaker(old, new, why);
		want = wm_some_name_weaker(old, new, name, sizeof(name));
		if (got != want)
			fail_msg("pair %u: snapshot_weaker says %d (%s), a name "
			    "that got weaker: %s", pair, got, got ? why : "-",
			    want ? name : "none");
		weakened += got;
		snapshot_unref(old);
		snapshot_unref(new);
	}
	/* both outcomes are common, or the property proves little */
	assert_true(weakened > PROPERTY_PAIRS / 10);
	assert_true(weakened < PROPERTY_PAIRS - PROPERTY_PAIRS / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_parse_rejects),
		cmocka_unit_test(test_policy_round_trip),
		cmocka_unit_test(test_policy_name_out_of_range),
		cmocka_unit_test(test_resolve_no_rules_is_default),
		cmocka_unit_test(test_resolve_no_match_is_default),
		cmocka_unit_test(test_resolve_most_specific_wins),
		cmocka_unit_test(test_resolve_most_specific_wins_reversed),
		cmocka_unit_test(test_resolve_deeper_any_depth_wins),
		cmocka_unit_test(test_resolve_tie_keeps_first),
		cmocka_unit_test(test_resolve_expired_pin_falls_to_on_expiry),
		cmocka_unit_test(test_resolve_without_expires_never_expires),
		cmocka_unit_test(test_resolve_expiry_ignored_without_pins),
		cmocka_unit_test(test_resolve_block_rule),
		cmocka_unit_test(test_ref_unref),
		cmocka_unit_test(test_new_snapshot),
		cmocka_unit_test(test_weaker_policy_change_and_removal),
		cmocka_unit_test(test_weaker_needs_a_rule_to_weaken),
		cmocka_unit_test(test_weaker_narrow_rule_under_a_pinned_wildcard),
		cmocka_unit_test(test_weaker_long_wildcard_base_is_checked),
		cmocka_unit_test(test_weaker_expiry_to_ca),
		cmocka_unit_test(test_weaker_observe_only),
		cmocka_unit_test(test_weaker_wildcard_dressed_with_exact_pins),
		cmocka_unit_test(test_weaker_observe_only_and_depth_under_a_wildcard),
		cmocka_unit_test(test_weaker_not_for_a_stricter_or_equal_feed),
		cmocka_unit_test(test_weaker_property),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
