/*
 * test_feed.c - the signed feed file: body parsing, block and signature
 * split, tampering, truncation, wrong and rotated keys; key sets: the
 * chain of updates, thresholds, the attacks TUF lists that apply.
 */
#include "testutil.h"
#include "feedutil.h"

#define PIN_A	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static const char body[] =
    "[feed]\n"
    "version = 7\n"
    "issued = 2026-01-01T00:00:00Z\n"
    "expires = 2099-01-01T00:00:00Z\n"
    "\n"
    "[domain:api.test]\n"
    "pins = " PIN_A "\n"
    "\n"
    "[device:pentest-1]\n"
    "pinning = off\n";

static char		 dir[256];
static struct feed_key	*k1, *k2, *k3, *k4, *k5;
static uint8_t		 keys[2][FEED_KEY_LEN];
static uint8_t		 pub3[FEED_KEY_LEN], pub4[FEED_KEY_LEN],
			 pub5[FEED_KEY_LEN];

static int
setup(void **state)
{
	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	load_key(dir, "k1", &k1, keys[0]);
	load_key(dir, "k2", &k2, keys[1]);
	load_key(dir, "k3", &k3, pub3);
	load_key(dir, "k4", &k4, pub4);
	load_key(dir, "k5", &k5, pub5);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	feed_key_free(k1);
	feed_key_free(k2);
	feed_key_free(k3);
	feed_key_free(k4);
	feed_key_free(k5);
	tu_rmrf(dir);
	return 0;
}

static char *
signed_with(struct feed_key *k, size_t *len)
{
	return sign_text("", body, &k, 1, true, len);
}

/* The configured set of today: the keys hold both roles, threshold 1. */
static struct feed_keyset
configured(size_t nkeys)
{
	struct feed_keyset	 ks;

	memset(&ks, 0, sizeof(ks));
	ks.version = 1;
	memcpy(ks.root.keys, keys, nkeys * FEED_KEY_LEN);
	memcpy(ks.sign.keys, keys, nkeys * FEED_KEY_LEN);
	ks.root.n = ks.sign.n = nkeys;
	ks.root.threshold = ks.sign.threshold = 1;
	return ks;
}

static struct feed_body *
open_under(const struct feed_keyset *ks, const char *buf, size_t len,
    char **errs, struct feed_proof *p)
{
	size_t		 elen;
	FILE		*f = open_memstream(errs, &elen);
	struct feed_body *c;

	c = feed_open("t.feed", buf, len, ks, f, p);
	fclose(f);
	return c;
}

/* Opens under ks (the body is freed at once). */
static void
assert_opens(const struct feed_keyset *ks, const char *buf, size_t len,
    char **errs, struct feed_proof *p)
{
	struct feed_body	*c = open_under(ks, buf, len, errs, p);

	if (c == NULL)
		fail_msg("refused: %s", *errs);
	feed_body_free(c);
}

static struct feed_body *
open_with(const char *buf, size_t len, size_t nkeys, char **errs)
{
	struct feed_keyset	 ks = configured(nkeys);

	return open_under(&ks, buf, len, errs, NULL);
}

static void
test_keygen_modes_and_refuses_overwrite(void **state)
{
	char		 path[400];
	struct stat	 st;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(path, sizeof(path), "%s/k1.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/k1", dir);
	assert_int_equal(feed_keygen(path, null), -1);	/* exists: no clobber */
	fclose(null);
}

static void
test_signed_feed_opens(void **state)
{
	size_t		 len;
	char		*buf = signed_with(k1, &len), *errs = NULL;
	struct feed_body *c;

	(void)state;
	assert_contains(buf, "signature = ");
	assert_not_contains(buf, "signature = ed25519:");	/* named */
	c = open_with(buf, len, 1, &errs);
	assert_non_null(c);
	assert_int_equal(c->version, 7);
	assert_int_equal(c->snap->nrules, 1);
	assert_int_equal(c->ndevices, 1);
	assert_string_equal(c->devices[0].id, "pentest-1");
	assert_true(c->devices[0].pinning_off);
	feed_body_free(c);
	free(errs);
	free(buf);
}

static void
test_every_tampered_byte_is_refused(void **state)
{
	size_t	 len, i;
	char	*buf = signed_with(k1, &len);

	(void)state;
	for (i = 0; i < len; i++) {
		char		*errs = NULL;
		struct feed_body *c;
		char		 orig = buf[i];

		buf[i] = (char)(orig ^ 0x01);
		c = open_with(buf, len, 1, &errs);
		if (c != NULL)
			fail_msg("byte %zu flipped, still accepted", i);
		buf[i] = orig;
		free(errs);
	}
	free(buf);
}

static void
test_truncated_and_trailing_refused(void **state)
{
	size_t		 len;
	char		*buf = signed_with(k1, &len), *errs = NULL, *more;
	struct feed_body *c;

	(void)state;
	c = open_with(buf, len - 1, 1, &errs);
	assert_null(c);
	assert_contains(errs, "no signature line at the end");
	free(errs);
	errs = NULL;
	c = open_with(buf, len / 2, 1, &errs);
	assert_null(c);
	free(errs);
	errs = NULL;
	more = malloc(len + 8);
	memcpy(more, buf, len);
	memcpy(more + len, "x = 1\n", 6);
	c = open_with(more, len + 6, 1, &errs);
	assert_null(c);
	free(errs);
	free(more);
	free(buf);
}

static void
test_wrong_key_refused_second_key_accepted(void **state)
{
	size_t			 len;
	char			*buf = signed_with(k2, &len), *errs = NULL;
	struct feed_body	*c;
	struct feed_keyset	 two = configured(2);
	struct feed_proof	 p;

	(void)state;
	c = open_with(buf, len, 1, &errs);	/* only k1 configured */
	assert_null(c);
	assert_contains(errs, "bad signature");
	free(errs);
	c = open_under(&two, buf, len, &errs, &p);
	assert_non_null(c);			/* key rotation by the INI */
	assert_int_equal(p.sign_have, 1);
	assert_true(p.root_met);
	feed_body_free(c);
	free(errs);
	free(buf);
}

static void
test_legacy_unnamed_signature_is_read(void **state)
{
	size_t		 len;
	char		*buf = sign_text("", body, &k1, 1, false, &len);
	char		*errs = NULL, *two;
	struct feed_body *c;

	(void)state;
	assert_contains(buf, "\nsignature = ed25519:");
	c = open_with(buf, len, 2, &errs);
	assert_non_null(c);
	feed_body_free(c);
	free(errs);
	/* an unnamed signature must stand alone */
	two = malloc(len * 2);
	memcpy(two, buf, len);
	memcpy(two + len, buf + strlen(body), len - strlen(body));
	c = open_with(two, 2 * len - strlen(body), 2, &errs);
	assert_null(c);
	assert_contains(errs, "must be the only one");
	free(errs);
	free(two);
	free(buf);
}

/* Key set 2: root k3+k4 (2 of 2), sign k5; signed by old root k1 and
 * the new root keys listed. */
static char *
update2(struct feed_key **newroots, size_t n, size_t *len)
{
	uint8_t			 roots[2][FEED_KEY_LEN];
	struct feed_key		*by[3] = { k1 };
	char			*t, *out;

	memcpy(roots[0], pub3, FEED_KEY_LEN);
	memcpy(roots[1], pub4, FEED_KEY_LEN);
	t = keys_text(2, (const uint8_t (*)[FEED_KEY_LEN])roots, 2, 2,
	    (const uint8_t (*)[FEED_KEY_LEN])&pub5, 1, 1);
	memcpy(by + 1, newroots, n * sizeof(*by));
	out = sign_text("", t, by, n + 1, true, len);
	free(t);
	return out;
}

static void
test_rotation_moves_trust_to_the_new_set(void **state)
{
	struct feed_key		*both[2] = { k3, k4 };
	struct feed_keyset	 ks = configured(1), v2;
	struct feed_proof	 p;
	struct feed_body	*c;
	size_t			 ulen, len, olen;
	char			*upd = update2(both, 2, &ulen), *errs = NULL;
	char			*feed, *old;

	(void)state;
	/* the everyday feed, by the new signing key, after the update */
	feed = sign_text(upd, body, &k5, 1, true, &len);
	c = open_under(&ks, feed, len, &errs, &p);
	assert_non_null(c);
	assert_int_equal(p.keys.version, 2);
	assert_int_equal(p.nupdates, 1);
	assert_true(p.sign_rotated);		/* k1 signs no feed now */
	assert_int_equal(p.applied[0].off, 0);
	assert_int_equal(p.applied[0].len, ulen);
	assert_int_equal(p.root_have, 0);
	assert_false(p.root_met);
	v2 = p.keys;
	feed_body_free(c);
	free(errs);
	/* the old key alone no longer signs a feed behind that update */
	old = sign_text(upd, body, &k1, 1, true, &olen);
	assert_null(open_under(&ks, old, olen, &errs, &p));
	assert_contains(errs, "bad signature: made by none of the 1 signing "
	    "key(s) of key set 2");
	free(errs);
	free(old);
	/* trusting set 2 already, the update is history: skipped */
	c = open_under(&v2, feed, len, &errs, &p);
	assert_non_null(c);
	assert_int_equal(p.nupdates, 0);
	assert_false(p.sign_rotated);
	feed_body_free(c);
	free(errs);
	free(feed);
	free(upd);
}

static void
test_update_needs_both_root_thresholds(void **state)
{
	struct feed_key		*one[1] = { k3 };
	struct feed_keyset	 ks = configured(1);
	struct feed_proof	 p;
	size_t			 ulen, len;
	char			*upd, *feed, *errs = NULL, *t;

	(void)state;
	/* one of the two new root keys: threshold not met */
	upd = update2(one, 1, &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_null(open_under(&ks, feed, len, &errs, &p));
	assert_contains(errs, "key set 2 refused: signed by 1 of the 1 root "
	    "key(s) of key set 1 and 1 of the 2 of its own");
	free(errs);
	free(feed);
	free(upd);
	/* the new keys alone, without the old root: a set from nowhere */
	t = keys_text(2, (const uint8_t (*)[FEED_KEY_LEN])&pub3, 1, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])&pub5, 1, 1);
	upd = sign_text("", t, &k3, 1, true, &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_null(open_under(&ks, feed, len, &errs, &p));
	assert_contains(errs, "signed by 0 of the 1 root key(s) of key set 1");
	free(errs);
	free(feed);
	free(upd);
	free(t);
}

static void
test_one_key_twice_counts_once(void **state)
{
	struct feed_key		*twice[3] = { k1, k3, k3 };
	uint8_t			 roots[2][FEED_KEY_LEN];
	struct feed_keyset	 ks = configured(1);
	struct feed_proof	 p;
	size_t			 ulen, len;
	char			*t, *upd, *feed, *errs = NULL;

	(void)state;
	memcpy(roots[0], pub3, FEED_KEY_LEN);
	memcpy(roots[1], pub4, FEED_KEY_LEN);
	t = keys_text(2, (const uint8_t (*)[FEED_KEY_LEN])roots, 2, 2,
	    (const uint8_t (*)[FEED_KEY_LEN])&pub5, 1, 1);
	upd = sign_text("", t, twice, 3, true, &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_null(open_under(&ks, feed, len, &errs, &p));
	assert_contains(errs, "1 of the 2 of its own");
	free(errs);
	free(feed);
	free(upd);
	free(t);
}

static void
test_skipped_version_and_foreign_chain_refused(void **state)
{
	struct feed_key		*both[2] = { k3, k4 }, *by[2] = { k3, k4 };
	uint8_t			 roots[2][FEED_KEY_LEN];
	struct feed_keyset	 ks = configured(1);
	struct feed_proof	 p;
	size_t			 ulen, len;
	char			*t, *upd, *feed, *errs = NULL;

	(void)state;
	memcpy(roots[0], pub3, FEED_KEY_LEN);
	memcpy(roots[1], pub4, FEED_KEY_LEN);
	/* version 3 straight after 1 */
	t = keys_text(3, (const uint8_t (*)[FEED_KEY_LEN])roots, 2, 2,
	    (const uint8_t (*)[FEED_KEY_LEN])&pub5, 1, 1);
	upd = sign_text("", t, (struct feed_key *[]){ k1, k3, k4 }, 3, true,
	    &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_null(open_under(&ks, feed, len, &errs, &p));
	assert_contains(errs, "key set 3 follows key set 1");
	free(errs);
	free(feed);
	free(upd);
	free(t);
	/* mix and match: trusting set 2, an update 3 from another chain
	 * (signed by its own root, k2, not by set 2's k3+k4) */
	upd = update2(both, 2, &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_opens(&ks, feed, len, &errs, &p);
	free(errs);
	ks = p.keys;
	free(feed);
	free(upd);
	t = keys_text(3, (const uint8_t (*)[FEED_KEY_LEN])&keys[1], 1, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])&keys[1], 1, 1);
	upd = sign_text("", t, &k2, 1, true, &ulen);
	feed = sign_text(upd, body, &k2, 1, true, &len);
	assert_null(open_under(&ks, feed, len, &errs, &p));
	assert_contains(errs, "signed by 0 of the 2 root key(s) of key set 2");
	free(errs);
	free(feed);
	free(upd);
	free(t);
	/* and a proper update 3 by set 2's root threshold passes */
	t = keys_text(3, (const uint8_t (*)[FEED_KEY_LEN])roots, 2, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])&pub5, 1, 1);
	upd = sign_text("", t, by, 2, true, &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_opens(&ks, feed, len, &errs, &p);
	assert_int_equal(p.keys.version, 3);
	assert_false(p.sign_rotated);		/* k5 signs on */
	free(errs);
	free(feed);
	free(upd);
	free(t);
}

static void
test_leaked_old_root_cannot_branch(void **state)
{
	struct feed_key		*both[2] = { k3, k4 };
	struct feed_keyset	 ks = configured(1), v2;
	struct feed_proof	 p;
	size_t			 ulen, len;
	char			*upd, *t, *feed, *errs = NULL;

	(void)state;
	upd = update2(both, 2, &ulen);
	feed = sign_text(upd, body, &k5, 1, true, &len);
	assert_opens(&ks, feed, len, &errs, &p);
	free(errs);
	v2 = p.keys;
	free(feed);
	free(upd);
	/* k1 leaked: its thief makes an update 2 of his own (k2 for all).
	 * Against set 1 it would pass; the device trusts set 2, so it is
	 * history, and the feed his key signs is refused. */
	t = keys_text(2, (const uint8_t (*)[FEED_KEY_LEN])&keys[1], 1, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])&keys[1], 1, 1);
	upd = sign_text("", t, (struct feed_key *[]){ k1, k2 }, 2, true,
	    &ulen);
	feed = sign_text(upd, body, &k2, 1, true, &len);
	assert_opens(&ks, feed, len, &errs, &p); /* set 1 */
	free(errs);
	assert_null(open_under(&v2, feed, len, &errs, &p));
	assert_contains(errs, "bad signature");
	free(errs);
	free(feed);
	free(upd);
	free(t);
	/* nor can k1 sign an update 3 */
	t = keys_text(3, (const uint8_t (*)[FEED_KEY_LEN])&keys[1], 1, 1,
	    (const uint8_t (*)[FEED_KEY_LEN])&keys[1], 1, 1);
	upd = sign_text("", t, (struct feed_key *[]){ k1, k2 }, 2, true,
	    &ulen);
	feed = sign_text(upd, body, &k2, 1, true, &len);
	assert_null(open_under(&v2, feed, len, &errs, &p));
	assert_contains(errs, "key set 3 refused");
	free(errs);
	free(feed);
	free(upd);
	free(t);
}

static void
test_keyset_rules(void **state)
{
	static const char over[] = "[keys]\nversion = 2\nroot = %s\n"
	    "root_threshold = 2\nsign = %s\nsign_threshold = 1\n";
	static const char nothr[] = "[keys]\nversion = 2\nroot = %s\n"
	    "sign = %s\n";
	char			 k[64], text[400], *errs = NULL;
	size_t			 elen;
	FILE			*f = open_memstream(&errs, &elen);
	struct feed_keyset	 ks;

	(void)state;
	feed_key_format(pub3, k, sizeof(k));
	snprintf(text, sizeof(text), over, k, k);
	assert_false(feed_keyset_parse("a", text, strlen(text), &ks, f));
	snprintf(text, sizeof(text), nothr, k, k);
	assert_false(feed_keyset_parse("b", text, strlen(text), &ks, f));
	assert_false(feed_keyset_parse("c", body, strlen(body), &ks, f));
	fclose(f);
	assert_contains(errs, "a:1: [keys]: root_threshold: 2, but the root "
	    "role has 1 key(s)");
	assert_contains(errs, "b:1: [keys] root_threshold: missing required "
	    "key");
	assert_contains(errs, "c:1: [feed]: unknown section in a key-set "
	    "update");
	free(errs);
}

static void
test_body_errors_name_lines(void **state)
{
	static const char bad[] =
	    "[feed]\nversion = 0\nissued = 2026-01-01T00:00:00Z\n"
	    "expires = 2099-01-01T00:00:00Z\n[listen:x]\nmode = tunnel\n";
	char	*errs = NULL;
	size_t	 elen;
	FILE	*f = open_memstream(&errs, &elen);

	(void)state;
	assert_null(feed_body_parse("b.feed", bad, strlen(bad), f));
	fclose(f);
	assert_contains(errs, "b.feed:2: [feed] version: not a whole number");
	assert_contains(errs, "b.feed:5: [listen:x]: unknown section in a "
	    "feed");
	free(errs);
}

static void
test_body_needs_meta_and_order(void **state)
{
	static const char nometa[] = "[domain:a.test]\npolicy = ca\n";
	static const char order[] =
	    "[feed]\nversion = 1\nissued = 2026-01-02T00:00:00Z\n"
	    "expires = 2026-01-01T00:00:00Z\n";
	char	*errs = NULL;
	size_t	 elen;
	FILE	*f = open_memstream(&errs, &elen);

	(void)state;
	assert_null(feed_body_parse("m.feed", nometa, strlen(nometa), f));
	assert_null(feed_body_parse("o.feed", order, strlen(order), f));
	assert_null(feed_body_parse("n.feed", "[feed]\0\n", 8, f));
	fclose(f);
	assert_contains(errs, "m.feed:1: [feed]: missing");
	assert_contains(errs, "o.feed:1: [feed] expires: not after issued");
	assert_contains(errs, "n.feed: NUL byte at offset 6");
	free(errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_modes_and_refuses_overwrite),
		cmocka_unit_test(test_signed_feed_opens),
		cmocka_unit_test(test_every_tampered_byte_is_refused),
		cmocka_unit_test(test_truncated_and_trailing_refused),
		cmocka_unit_test(test_wrong_key_refused_second_key_accepted),
		cmocka_unit_test(test_legacy_unnamed_signature_is_read),
		cmocka_unit_test(test_rotation_moves_trust_to_the_new_set),
		cmocka_unit_test(test_update_needs_both_root_thresholds),
		cmocka_unit_test(test_one_key_twice_counts_once),
		cmocka_unit_test(test_skipped_version_and_foreign_chain_refused),
		cmocka_unit_test(test_leaked_old_root_cannot_branch),
		cmocka_unit_test(test_keyset_rules),
		cmocka_unit_test(test_body_errors_name_lines),
		cmocka_unit_test(test_body_needs_meta_and_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
