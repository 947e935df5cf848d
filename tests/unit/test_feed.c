/*
 * test_feed.c - the signed feed file: body parsing, block and signature
 * split, tampering, truncation, wrong and rotated keys; key sets: the
 * chain of updates, thresholds, the attacks TUF lists that apply. Lists
 * of hostile inputs are case tables (one row each, hostile first); the
 * keys are made once per run in the shared temp dir (testutil.h).
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

/* key[1..5]: k1..k5, made once for the group in the shared temp dir;
 * pub[n] their public keys (pub[1], pub[2] side by side: configured()). */
static struct feed_key	*key[6];
static uint8_t		 pub[6][FEED_KEY_LEN];

static int
setup(void **state)
{
	char	 name[8];
	int	 i;

	tu_tmpdir_setup(state);
	for (i = 1; i <= 5; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		load_key(tu_tmpdir, name, &key[i], pub[i]);
	}
	return 0;
}

static int
teardown(void **state)
{
	int	 i;

	for (i = 1; i <= 5; i++)
		feed_key_free(key[i]);
	return tu_tmpdir_teardown(state);
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
	memcpy(ks.root.keys, pub[1], nkeys * FEED_KEY_LEN);
	memcpy(ks.sign.keys, pub[1], nkeys * FEED_KEY_LEN);
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
	snprintf(path, sizeof(path), "%s/k1.key", tu_tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/k1", tu_tmpdir);
	assert_int_equal(feed_keygen(path, null), -1);	/* exists: no clobber */
	fclose(null);
}

static void
test_signed_feed_opens(void **state)
{
	size_t		 len;
	char		*buf = signed_with(key[1], &len), *errs = NULL;
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
	char	*buf = signed_with(key[1], &len);

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
	char		*buf = signed_with(key[1], &len), *errs = NULL, *more;
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
	char			*buf = signed_with(key[2], &len), *errs = NULL;
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
	char		*buf = sign_text("", body, &key[1], 1, false, &len);
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

/* A key-set update: its [keys] (root and sign roles by key number, a 0
 * ends a list; thresholds) and the keys that sign it. */
struct update {
	unsigned long	 version;
	int		 roots[3];
	unsigned long	 root_thr;
	int		 sign[2];
	int		 by[4];
};

/* What a device trusts: key set 1 (k1 for both roles, as configured) or
 * key set 2 (root k3+k4, 2 of 2; sign k5), which the rotation below
 * proves is what set 1 moves to. */
static struct feed_keyset
trusted(unsigned version)
{
	struct feed_keyset	 ks = configured(1);

	if (version == 2) {
		ks.version = 2;
		memcpy(ks.root.keys[0], pub[3], FEED_KEY_LEN);
		memcpy(ks.root.keys[1], pub[4], FEED_KEY_LEN);
		ks.root.n = ks.root.threshold = 2;
		memcpy(ks.sign.keys[0], pub[5], FEED_KEY_LEN);
	}
	return ks;
}

static char *
update_text(const struct update *u, size_t *len)
{
	uint8_t			 roots[3][FEED_KEY_LEN], sign[2][FEED_KEY_LEN];
	struct feed_key		*by[4];
	size_t			 nroots = 0, nsign = 0, nby = 0;
	char			*t, *out;

	for (; nroots < 3 && u->roots[nroots] != 0; nroots++)
		memcpy(roots[nroots], pub[u->roots[nroots]], FEED_KEY_LEN);
	for (; nsign < 2 && u->sign[nsign] != 0; nsign++)
		memcpy(sign[nsign], pub[u->sign[nsign]], FEED_KEY_LEN);
	for (; nby < 4 && u->by[nby] != 0; nby++)
		by[nby] = key[u->by[nby]];
	t = keys_text(u->version, (const uint8_t (*)[FEED_KEY_LEN])roots,
	    nroots, u->root_thr, (const uint8_t (*)[FEED_KEY_LEN])sign, nsign,
	    1);
	out = sign_text("", t, by, nby, true, len);
	free(t);
	return out;
}

/* Set 1 to set 2, signed by the old root and both new ones. */
static const struct update rotation = { 2, { 3, 4 }, 2, { 5 }, { 1, 3, 4 } };

static void
test_rotation_moves_trust_to_the_new_set(void **state)
{
	struct feed_keyset	 ks = trusted(1), set2 = trusted(2), v2;
	struct feed_proof	 p;
	struct feed_body	*c;
	size_t			 ulen, len;
	char			*upd = update_text(&rotation, &ulen);
	char			*feed, *errs = NULL;

	(void)state;
	/* the everyday feed, by the new signing key, after the update */
	feed = sign_text(upd, body, &key[5], 1, true, &len);
	c = open_under(&ks, feed, len, &errs, &p);
	assert_non_null(c);
	assert_int_equal(p.keys.version, 2);
	assert_true(feed_keyset_same(&p.keys, &set2));
	assert_int_equal(p.nupdates, 1);
	assert_true(p.sign_rotated);		/* k1 signs no feed now */
	assert_int_equal(p.applied[0].off, 0);
	assert_int_equal(p.applied[0].len, ulen);
	assert_int_equal(p.root_have, 0);
	assert_false(p.root_met);
	v2 = p.keys;
	feed_body_free(c);
	free(errs);
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

/* The attacks on the chain of key sets that TUF lists and that apply,
 * then the updates a device does take. Each: a device trusting key set
 * `trusts` opens a feed signed by feed_by behind update u; want is the
 * error (NULL: it opens, and then trusts key set want_set). */
static const struct {
	const char	*what;
	unsigned	 trusts;
	struct update	 u;
	int		 feed_by;
	const char	*want;
	unsigned long	 want_set;
} chain_cases[] = {
	{ "the new root threshold not met (1 of its 2)", 1,
	    { 2, { 3, 4 }, 2, { 5 }, { 1, 3 } }, 5,
	    "key set 2 refused: signed by 1 of the 1 root key(s) of key set 1 "
	    "and 1 of the 2 of its own", 0 },
	{ "a set from nowhere: the new keys alone, not the old root", 1,
	    { 2, { 3 }, 1, { 5 }, { 3 } }, 5,
	    "signed by 0 of the 1 root key(s) of key set 1", 0 },
	{ "one new root key signing twice counts once", 1,
	    { 2, { 3, 4 }, 2, { 5 }, { 1, 3, 3 } }, 5,
	    "1 of the 2 of its own", 0 },
	{ "a skipped version: 3 straight after 1", 1,
	    { 3, { 3, 4 }, 2, { 5 }, { 1, 3, 4 } }, 5,
	    "key set 3 follows key set 1", 0 },
	{ "the old signing key behind a rotation", 1, rotation, 1,
	    "bad signature: made by none of the 1 signing key(s) of key set 2",
	    0 },
	{ "mix and match: another chain's update 3, by its own root", 2,
	    { 3, { 2 }, 1, { 2 }, { 2 } }, 2,
	    "signed by 0 of the 2 root key(s) of key set 2", 0 },
	{ "a leaked old root's own update 2: history, its feed refused", 2,
	    { 2, { 2 }, 1, { 2 }, { 1, 2 } }, 2, "bad signature", 0 },
	{ "a leaked old root signing an update 3", 2,
	    { 3, { 2 }, 1, { 2 }, { 1, 2 } }, 2, "key set 3 refused", 0 },
	/* taken */
	{ "the rotation, by the new signing key", 1, rotation, 5, NULL, 2 },
	{ "the leaked root's update 2, to a device still on set 1", 1,
	    { 2, { 2 }, 1, { 2 }, { 1, 2 } }, 2, NULL, 2 },
	{ "update 3 by set 2's root threshold; k5 signs on", 2,
	    { 3, { 3, 4 }, 1, { 5 }, { 3, 4 } }, 5, NULL, 3 },
	{ "set 2's own update again: history, skipped", 2, rotation, 5,
	    NULL, 2 },
};

static void
test_key_chain_cases(void **state)
{
	struct feed_keyset	 ks;
	struct feed_proof	 p;
	struct feed_body	*c;
	size_t			 i, ulen, len;
	char			*upd, *feed, *errs;

	(void)state;
	for (i = 0; i < sizeof(chain_cases) / sizeof(chain_cases[0]); i++) {
		ks = trusted(chain_cases[i].trusts);
		upd = update_text(&chain_cases[i].u, &ulen);
		feed = sign_text(upd, body, &key[chain_cases[i].feed_by], 1,
		    true, &len);
		errs = NULL;
		c = open_under(&ks, feed, len, &errs, &p);
		if (chain_cases[i].want == NULL && c == NULL)
			fail_msg("%s: refused: %s", chain_cases[i].what, errs);
		if (chain_cases[i].want == NULL &&
		    p.keys.version != chain_cases[i].want_set)
			fail_msg("%s: trusts key set %lu, want %lu",
			    chain_cases[i].what, p.keys.version,
			    chain_cases[i].want_set);
		if (chain_cases[i].want != NULL && c != NULL)
			fail_msg("%s: accepted", chain_cases[i].what);
		if (chain_cases[i].want != NULL &&
		    strstr(errs, chain_cases[i].want) == NULL)
			fail_msg("%s: said \"%s\", want \"%s\"",
			    chain_cases[i].what, errs, chain_cases[i].want);
		feed_body_free(c);
		free(errs);
		free(feed);
		free(upd);
	}
}

/* A [keys] text that is not a key set: each names the file, the line
 * and what is wrong. @: a key (every @ the same one). */
static const struct {
	const char	*name, *text, *want;
} keyset_cases[] = {
	{ "a", "[keys]\nversion = 2\nroot = @\nroot_threshold = 2\n"
	    "sign = @\nsign_threshold = 1\n",
	    "a:1: [keys]: root_threshold: 2, but the root role has 1 key(s)" },
	{ "b", "[keys]\nversion = 2\nroot = @\nsign = @\n",
	    "b:1: [keys] root_threshold: missing required key" },
	{ "c", body, "c:1: [feed]: unknown section in a key-set update" },
};

static void
test_keyset_errors(void **state)
{
	char			 k[64], text[400], *errs;
	const char		*t;
	size_t			 i, n, elen;
	FILE			*f;
	struct feed_keyset	 ks;

	(void)state;
	feed_key_format(pub[3], k, sizeof(k));
	for (i = 0; i < sizeof(keyset_cases) / sizeof(keyset_cases[0]); i++) {
		errs = NULL;
		f = open_memstream(&errs, &elen);
		for (t = keyset_cases[i].text, n = 0; *t != '\0'; t++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
			    *t == '@' ? k : (char []){ *t, '\0' });
		assert_true(n < sizeof(text));
		if (feed_keyset_parse(keyset_cases[i].name, text, strlen(text),
		    &ks, f))
			fail_msg("%s: parsed", keyset_cases[i].name);
		fclose(f);
		assert_contains(errs, keyset_cases[i].want);
		free(errs);
	}
}

/* A feed body that is not one: each error names the file, the line and
 * what is wrong (len 0: strlen). */
static const struct {
	const char	*name, *text;
	size_t		 len;
	const char	*want[2];
} body_cases[] = {
	{ "t.feed", "[feed]\nversion = 1\nissued = 2026-01-01T00:00:00Z\n"
	    "expires = 2099-01-01T00:0", 0,
	    { "t.feed: does not end with a newline (truncated?)" } },
	{ "v.feed", "[feed]\nversion = 99999999999999999999999\n"
	    "issued = 2026-01-01T00:00:00Z\nexpires = 2099-01-01T00:00:00Z\n",
	    0, { "v.feed:2: [feed] version: not a whole number in "
	    "1..4294967295" } },
	{ "d.feed", "[feed]\nversion = 1\nversion = 2\n"
	    "issued = 2026-01-01T00:00:00Z\nexpires = 2099-01-01T00:00:00Z\n",
	    0, { "d.feed:3: [feed] version: key given twice" } },
	{ "b.feed", "[feed]\nversion = 0\nissued = 2026-01-01T00:00:00Z\n"
	    "expires = 2099-01-01T00:00:00Z\n[listen:x]\nmode = tunnel\n", 0,
	    { "b.feed:2: [feed] version: not a whole number",
	      "b.feed:5: [listen:x]: unknown section in a feed" } },
	{ "m.feed", "[domain:a.test]\npolicy = ca\n", 0,
	    { "m.feed:1: [feed]: missing" } },
	{ "o.feed", "[feed]\nversion = 1\nissued = 2026-01-02T00:00:00Z\n"
	    "expires = 2026-01-01T00:00:00Z\n", 0,
	    { "o.feed:1: [feed] expires: not after issued" } },
	{ "n.feed", "[feed]\0\n", 8, { "n.feed: NUL byte at offset 6" } },
};

static void
test_body_errors(void **state)
{
	char		*errs;
	size_t		 i, j, len, elen;
	FILE		*f;

	(void)state;
	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		errs = NULL;
		f = open_memstream(&errs, &elen);
		len = body_cases[i].len != 0 ? body_cases[i].len :
		    strlen(body_cases[i].text);
		if (feed_body_parse(body_cases[i].name, body_cases[i].text,
		    len, f) != NULL)
			fail_msg("%s: parsed", body_cases[i].name);
		fclose(f);
		for (j = 0; j < 2 && body_cases[i].want[j] != NULL; j++)
			assert_contains(errs, body_cases[i].want[j]);
		free(errs);
	}
}

/* The output of a shell command, whole (at most sz - 1 bytes). */
static size_t
sh_out(const char *cmd, char *out, size_t sz)
{
	FILE	*p = popen(cmd, "r");
	size_t	 n;

	if (p == NULL)
		fail_msg("popen %s", cmd);
	n = fread(out, 1, sz - 1, p);
	out[n] = '\0';
	if (pclose(p) != 0)
		fail_msg("failed: %s", cmd);
	return n;
}

/* Keys as people have them: NAME.pub's line (CRLF too) and openssl's PEM
 * public key decode to the same 32 bytes; hostile first: empty, cut
 * short, a PEM that is not a public key, an EC key, a body after the
 * key line. */
static void
test_key_decode(void **state)
{
	static const char *const bad[] = { "", "ed25519:", "ed25519:AAAA\n",
	    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	    "-----BEGIN PUBLIC KEY-----\n", "sha256/AAAA\n" };
	char		 pem[2048], b64[128], line[160], ec[2048], path[512];
	uint8_t		 a[FEED_KEY_LEN], b[FEED_KEY_LEN];
	const char	*why;
	size_t		 n, i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (feed_key_decode(bad[i], strlen(bad[i]), a, &why))
			fail_msg("accepted bad[%zu]", i);
		assert_non_null(why);
	}
	n = sh_out("openssl genpkey -algorithm ed25519 2>/dev/null | "
	    "openssl pkey -pubout", pem, sizeof(pem));
	assert_true(feed_key_decode(pem, n, a, &why));
	tu_write_file(tu_tmpdir, "k.pub.pem", pem, path, sizeof(path));
	snprintf(ec, sizeof(ec), "openssl pkey -pubin -in %s -outform DER | "
	    "tail -c 32 | base64", path);
	sh_out(ec, b64, sizeof(b64));
	b64[strcspn(b64, "\n")] = '\0';
	snprintf(line, sizeof(line), "ed25519:%s\r\n", b64);
	assert_true(feed_key_decode(line, strlen(line), b, &why));
	assert_memory_equal(a, b, FEED_KEY_LEN);
	n = sh_out("openssl genpkey -algorithm EC -pkeyopt "
	    "ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout", ec,
	    sizeof(ec));
	assert_false(feed_key_decode(ec, n, a, &why));
	assert_string_equal(why, "a PEM public key, but not an Ed25519 one");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_modes_and_refuses_overwrite),
		cmocka_unit_test(test_key_decode),
		cmocka_unit_test(test_signed_feed_opens),
		cmocka_unit_test(test_every_tampered_byte_is_refused),
		cmocka_unit_test(test_truncated_and_trailing_refused),
		cmocka_unit_test(test_wrong_key_refused_second_key_accepted),
		cmocka_unit_test(test_legacy_unnamed_signature_is_read),
		cmocka_unit_test(test_rotation_moves_trust_to_the_new_set),
		cmocka_unit_test(test_key_chain_cases),
		cmocka_unit_test(test_keyset_errors),
		cmocka_unit_test(test_body_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
