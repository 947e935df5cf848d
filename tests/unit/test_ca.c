/*
 * test_ca.c - the local interception CA: file modes, no overwrite, and
 * minted leaves whose SAN is exactly the name, up to 253 characters.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "tls/tls.h"

static char	 dir[256];

static int
setup(void **state)
{
	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tls_init();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmrf(dir);
	return 0;
}

static void
test_init_modes_and_no_overwrite(void **state)
{
	char		 ca[300], key[400];
	struct stat	 st;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(ca, sizeof(ca), "%s/sub/ca", dir);
	assert_int_equal(tls_ca_init(ca, "test CA", null), 0);
	snprintf(key, sizeof(key), "%s/ca.key", ca);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(ca, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(tls_ca_init(ca, "again", null), -1);
	fclose(null);
}

static void
check_san(struct tls_ca *ca, const char *name)
{
	WOLFSSL		*ssl = tls_ca_session(ca, 0, name);
	WOLFSSL_X509	*x;
	char		*alt;

	assert_non_null(ssl);
	x = wolfSSL_get_certificate(ssl);
	assert_non_null(x);
	alt = wolfSSL_X509_get_next_altname(x);
	assert_non_null(alt);
	assert_string_equal(alt, name);
	assert_null(wolfSSL_X509_get_next_altname(x));	/* exactly one */
	wolfSSL_free(ssl);
}

static void
test_minted_san_is_exactly_the_name(void **state)
{
	char		 ca[400], err[256], name[HOST_MAX + 1];
	struct tls_ca	*c;
	size_t		 len, i;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(ca, sizeof(ca), "%s/ca2", dir);
	assert_int_equal(tls_ca_init(ca, "test CA", null), 0);
	fclose(null);
	c = tls_ca_load(ca, 2, err, sizeof(err));
	assert_non_null(c);
	check_san(c, "api.test");
	/* around the DER length-form boundaries, up to the longest name */
	for (len = 120; len <= HOST_MAX; len += 1) {
		if (len != 120 && len != 127 && len != 128 && len != 252 &&
		    len != 253)
			continue;
		memset(name, 'a', len);
		for (i = 60; i < len; i += 62)
			name[i] = '.';
		name[len] = '\0';
		check_san(c, name);
	}
	tls_ca_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_modes_and_no_overwrite),
		cmocka_unit_test(test_minted_san_is_exactly_the_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
