/*
 * test_tofu.c - the TOFU store: put, get, persist and read back, replace,
 * forget, the bound, a damaged file refused whole, and a change made by
 * another process (pinshim tofu forget) seen by the daemon's copy.
 */
#include "testutil.h"

#include "pins/tofu.h"

#define PIN_A	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN_B	"sha256/YLh1dUR9y6Kja30RrAn7JKnbQG/uEtLMkBgFF2Fuihg="


static struct pin
pin(const char *text)
{
	struct pin	 p;

	assert_true(pin_parse(text, &p));
	return p;
}

static void
test_put_persist_reopen(void **state)
{
	struct tofu		*t = tofu_open(tu_tmpdir, 4, stderr), *u;
	const struct tofu_entry	*e;
	struct pin		 a = pin(PIN_A), b = pin(PIN_B);
	const char		*why = NULL;

	(void)state;
	assert_non_null(t);
	assert_null(tofu_get(t, "api.test"));
	assert_int_equal(tofu_put(t, "api.test", &a, &b, 1800000000, &why), 0);
	assert_int_equal(tofu_put(t, "www.test", &b, NULL, 1800000001, &why),
	    0);
	u = tofu_open(tu_tmpdir, 4, stderr);		/* as after a restart */
	assert_int_equal(tofu_count(u), 2);
	e = tofu_get(u, "api.test");
	assert_non_null(e);
	assert_memory_equal(e->leaf.hash, a.hash, PIN_HASH_LEN);
	assert_true(e->has_issuer);
	assert_memory_equal(e->issuer.hash, b.hash, PIN_HASH_LEN);
	assert_int_equal(e->since, 1800000000);
	assert_false(tofu_get(u, "www.test")->has_issuer);
	/* replaced, not added */
	assert_int_equal(tofu_put(u, "api.test", &b, NULL, 1800000002, &why),
	    0);
	assert_int_equal(tofu_count(u), 2);
	tofu_free(u);
	tofu_free(t);
}

static void
test_bound(void **state)
{
	struct tofu	*t = tofu_open(tu_tmpdir, 2, stderr);
	struct pin	 a = pin(PIN_A);
	const char	*why = NULL;

	(void)state;
	assert_int_equal(tofu_count(t), 2);	/* from the test before */
	assert_int_equal(tofu_put(t, "third.test", &a, NULL, 1, &why), -1);
	assert_string_equal(why, "the TOFU store is full");
	assert_null(tofu_get(t, "third.test"));
	tofu_free(t);
}

static void
test_forget_by_another_process_is_seen(void **state)
{
	struct tofu	*daemon = tofu_open(tu_tmpdir, 4, stderr);
	struct tofu	*cli = tofu_open(tu_tmpdir, 4, stderr);
	struct pin	 a = pin(PIN_A);
	const char	*why = NULL;

	(void)state;
	tofu_wait_for_lock(cli);
	assert_int_equal(tofu_forget(cli, "api.test"), 1);
	assert_int_equal(tofu_forget(cli, "api.test"), 0);
	assert_non_null(tofu_get(daemon, "api.test"));	/* not yet... */
	tofu_refresh(daemon);
	assert_null(tofu_get(daemon, "api.test"));	/* ...now */
	/* the daemon's own change is not lost to the CLI's rewrite */
	assert_int_equal(tofu_put(daemon, "new.test", &a, NULL, 2, &why), 0);
	assert_int_equal(tofu_forget(cli, "www.test"), 1);
	tofu_refresh(daemon);
	assert_non_null(tofu_get(daemon, "new.test"));
	assert_null(tofu_get(daemon, "www.test"));
	tofu_free(daemon);
	tofu_free(cli);
}

static void
test_damaged_file_refused(void **state)
{
	char	 path[400], *errs = NULL;
	size_t	 elen;
	FILE	*f;

	(void)state;
	tu_write_file(tu_tmpdir, TOFU_FILE, "ok.test " PIN_A " - "
	    "2026-01-01T00:00:00Z\nbad.test " PIN_A "\n", path, sizeof(path));
	f = open_memstream(&errs, &elen);
	assert_null(tofu_open(tu_tmpdir, 4, f));
	fclose(f);
	assert_contains(errs, "tofu.pins:2: not \"HOST sha256/LEAF");
	free(errs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_persist_reopen),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_forget_by_another_process_is_seen),
		cmocka_unit_test(test_damaged_file_refused),
	};

	return cmocka_run_group_tests(tests, tu_tmpdir_setup,
	    tu_tmpdir_teardown);
}
