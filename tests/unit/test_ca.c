/*
 * test_ca.c - the local interception CA: file modes, no overwrite; the
 * keeper's half signs leaves whose SAN is exactly the name, up to 253
 * characters, and only for valid names over valid keys; the worker's half
 * serves them from its cache.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "tls/tls.h"


static int
setup(void **state)
{
	tls_init();
	return tu_tmpdir_setup(state);
}

static void
test_init_modes_and_no_overwrite(void **state)
{
	char		 ca[300], key[400];
	struct stat	 st;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(ca, sizeof(ca), "%s/sub/ca", tu_tmpdir);
	assert_int_equal(tls_ca_init(ca, "test CA", null), 0);
	snprintf(key, sizeof(key), "%s/ca.key", ca);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(ca, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(tls_ca_init(ca, "again", null), -1);
	fclose(null);
}

/* What the worker and the keeper do for one name: a key pair here, the
 * public half signed there, the leaf cached here. */
static void
mint(struct tls_ca *ca, struct tls_ca_key *key, const char *name)
{
	uint8_t		 pub[TLS_CA_PUB_LEN], priv[TLS_CA_LEAFKEY_MAX];
	uint8_t		 der[TLS_CA_CERT_MAX];
	const char	*why;
	int		 kl, n;

	kl = tls_ca_leaf_key(ca, pub, priv, sizeof(priv));
	assert_true(kl > 0);
	n = tls_ca_key_sign(key, name, pub, sizeof(pub), der, sizeof(der),
	    &why);
	assert_true(n > 0);
	assert_int_equal(tls_ca_leaf_put(ca, name, der, (size_t)n, priv,
	    (size_t)kl), 0);
}

static void
check_san(struct tls_ca *ca, struct tls_ca_key *key, const char *name)
{
	WOLFSSL		*ssl;
	WOLFSSL_X509	*x;
	char		*alt;
	bool		 missing;

	assert_null(tls_ca_session(ca, 0, name, &missing));
	assert_true(missing);
	mint(ca, key, name);
	ssl = tls_ca_session(ca, 0, name, &missing);
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
	struct tls_ca_key *k;
	size_t		 len, i;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(ca, sizeof(ca), "%s/ca2", tu_tmpdir);
	assert_int_equal(tls_ca_init(ca, "test CA", null), 0);
	fclose(null);
	c = tls_ca_new(2, err, sizeof(err));
	assert_non_null(c);
	k = tls_ca_key_load(ca, err, sizeof(err));
	assert_non_null(k);
	check_san(c, k, "api.test");
	check_san(c, k, "192.0.2.7");
	/* around the DER length-form boundaries, up to the longest name */
	for (len = 120; len <= HOST_MAX; len += 1) {
		if (len != 120 && len != 127 && len != 128 && len != 252 &&
		    len != 253)
			continue;
		memset(name, 'a', len);
		for (i = 60; i < len; i += 62)
			name[i] = '.';
		name[len] = '\0';
		check_san(c, k, name);
	}
	tls_ca_key_free(k);
	tls_ca_free(c);
}

/* The keeper signs only what a worker should ask for: a canonical host
 * name or address literal, over a point on P-256. */
static void
test_keeper_half_refuses_bad_names_and_keys(void **state)
{
	char		 ca[400], err[256], big[HOST_MAX + 2];
	uint8_t		 pub[TLS_CA_PUB_LEN], priv[TLS_CA_LEAFKEY_MAX];
	uint8_t		 der[TLS_CA_CERT_MAX];
	const char	*bad[] = { "", "UPPER.test", "a..b", "-x.test",
			    "api.test.", "sp ace", "a/b", "*.test" };
	struct tls_ca	*c;
	struct tls_ca_key *k;
	const char	*why;
	size_t		 i;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(ca, sizeof(ca), "%s/ca3", tu_tmpdir);
	assert_int_equal(tls_ca_init(ca, "test CA", null), 0);
	fclose(null);
	c = tls_ca_new(2, err, sizeof(err));
	k = tls_ca_key_load(ca, err, sizeof(err));
	assert_non_null(k);
	assert_true(tls_ca_leaf_key(c, pub, priv, sizeof(priv)) > 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(tls_ca_key_sign(k, bad[i], pub, sizeof(pub),
		    der, sizeof(der), &why), -1);
		assert_non_null(why);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tls_ca_key_sign(k, big, pub, sizeof(pub), der,
	    sizeof(der), &why), -1);
	pub[40] ^= 1;				/* off the curve */
	assert_int_equal(tls_ca_key_sign(k, "api.test", pub, sizeof(pub), der,
	    sizeof(der), &why), -1);
	assert_string_equal(why, "not a P-256 public key");
	pub[40] ^= 1;
	assert_int_equal(tls_ca_key_sign(k, "api.test", pub, 64, der,
	    sizeof(der), &why), -1);
	assert_true(tls_ca_key_sign(k, "api.test", pub, sizeof(pub), der,
	    sizeof(der), &why) > 0);
	tls_ca_key_free(k);
	tls_ca_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_modes_and_no_overwrite),
		cmocka_unit_test(test_minted_san_is_exactly_the_name),
		cmocka_unit_test(test_keeper_half_refuses_bad_names_and_keys),
	};

	return cmocka_run_group_tests(tests, setup, tu_tmpdir_teardown);
}
