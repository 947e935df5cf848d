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

/* A writer that answers later (the keeper's, over its socket): what it
 * was handed, in order. */
struct later {
	int		 n;
	struct pin	 leaf[4];
	bool		 replaces[4];
};

static int
later_writer(void *arg, const struct tofu_entry *e, const struct pin *was,
    const char **why)
{
	struct later	*l = arg;

	(void)why;
	assert_true(l->n < 4);
	l->leaf[l->n] = e->leaf;
	l->replaces[l->n++] = was != NULL;
	return TOFU_SENT;
}

static void
test_an_async_writer_is_answered_in_order(void **state)
{
	struct tofu	*t;
	struct pin	 a = pin(PIN_A), b = pin(PIN_B);
	struct later	 l = { 0 };
	const char	*why = NULL;
	char		 path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/tofu.pins", tu_tmpdir);
	(void)unlink(path);	/* the damaged one of the test before */
	t = tofu_open(tu_tmpdir, 4, stderr);
	assert_non_null(t);
	tofu_set_writer(t, later_writer, &l);
	/* handed over: enforced from memory, pending until answered */
	assert_int_equal(tofu_put(t, "api.test", &a, NULL, 1800000000, &why),
	    0);
	assert_int_equal(l.n, 1);
	assert_int_equal(tofu_pending(t), 1);
	assert_non_null(tofu_get(t, "api.test"));
	/* a refresh does not send it twice while it is out */
	tofu_refresh(t);
	assert_int_equal(l.n, 1);
	/* put again meanwhile: sent once the first is answered, as the
	 * replacement of what that one wrote */
	assert_int_equal(tofu_put(t, "api.test", &b, NULL, 1800000001, &why),
	    0);
	assert_int_equal(l.n, 1);
	tofu_written(t, "api.test", &a, 0);
	assert_int_equal(l.n, 2);
	assert_memory_equal(l.leaf[1].hash, b.hash, PIN_HASH_LEN);
	assert_true(l.replaces[1]);
	assert_int_equal(tofu_pending(t), 1);
	tofu_written(t, "api.test", &b, 0);
	assert_int_equal(tofu_pending(t), 0);
	/* an answer for nothing sent changes nothing */
	tofu_written(t, "api.test", &b, TOFU_REFUSED);
	assert_non_null(tofu_get(t, "api.test"));
	/* a failure keeps it for the next refresh; a refusal drops it */
	assert_int_equal(tofu_put(t, "www.test", &a, NULL, 1800000002, &why),
	    0);
	tofu_written(t, "www.test", &a, -1);
	assert_int_equal(tofu_pending(t), 1);
	tofu_refresh(t);
	assert_int_equal(l.n, 4);
	tofu_written(t, "www.test", &a, TOFU_REFUSED);
	assert_int_equal(tofu_pending(t), 0);
	assert_null(tofu_get(t, "www.test"));
	tofu_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_persist_reopen),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_forget_by_another_process_is_seen),
		cmocka_unit_test(test_damaged_file_refused),
		cmocka_unit_test(test_an_async_writer_is_answered_in_order),
	};

	return cmocka_run_group_tests(tests, tu_tmpdir_setup,
	    tu_tmpdir_teardown);
}
