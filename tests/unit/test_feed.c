/*
 * test_feed.c - the signed feed file: body parsing, signature split and
 * check, tampering, truncation, wrong and rotated keys.
 */
#include "testutil.h"

#include "pins/feed_file.h"

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
static struct feed_key	*k1, *k2;
static uint8_t		 keys[2][FEED_KEY_LEN];

static void
load_key(const char *name, struct feed_key **k, uint8_t pub[FEED_KEY_LEN])
{
	char	 path[400];
	FILE	*null = fopen("/dev/null", "w");

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(feed_keygen(path, null), 0);
	strcat(path, ".key");
	assert_non_null(*k = feed_key_load(path, null));
	assert_int_equal(feed_key_public(*k, pub), 0);
	fclose(null);
}

static int
setup(void **state)
{
	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	load_key("k1", &k1, keys[0]);
	load_key("k2", &k2, keys[1]);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	feed_key_free(k1);
	feed_key_free(k2);
	tu_rmrf(dir);
	return 0;
}

static char *
signed_with(struct feed_key *k, size_t *len)
{
	char	*out = feed_sign(body, strlen(body), k, len);

	assert_non_null(out);
	return out;
}

static struct feed_body *
open_with(const char *buf, size_t len, size_t nkeys, char **errs)
{
	size_t		 elen;
	FILE		*f = open_memstream(errs, &elen);
	struct feed_body *c;

	c = feed_open("t.feed", buf, len,
	    (const uint8_t (*)[FEED_KEY_LEN])keys, nkeys, f, NULL);
	fclose(f);
	return c;
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
	assert_contains(buf, "signature = ed25519:");
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
	size_t		 len;
	char		*buf = signed_with(k2, &len), *errs = NULL;
	struct feed_body *c;
	int		 used = -1;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	c = open_with(buf, len, 1, &errs);	/* only k1 configured */
	assert_null(c);
	assert_contains(errs, "bad signature");
	free(errs);
	c = feed_open("t.feed", buf, len,
	    (const uint8_t (*)[FEED_KEY_LEN])keys, 2, null, &used);
	assert_non_null(c);
	assert_int_equal(used, 1);		/* key rotation */
	feed_body_free(c);
	fclose(null);
	free(buf);
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
		cmocka_unit_test(test_body_errors_name_lines),
		cmocka_unit_test(test_body_needs_meta_and_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
