/*
 * test_ca.c - the local interception CA: file modes, no overwrite; the
 * keeper's half signs leaves whose SAN is exactly the name, up to 253
 * characters, and only for valid names over valid keys; the worker's half
 * serves them from its cache.
 */
#include "testutil.h"

#include <sys/stat.h>

#include "tls/tls.h"

#include <wolfssl/wolfcrypt/rsa.h>


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
	n = tls_ca_key_sign(key, name, TLS_LEAF_ECDSA, pub, sizeof(pub), der,
	    sizeof(der), &why);
	assert_true(n > 0);
	assert_int_equal(tls_ca_leaf_put(ca, name, TLS_LEAF_ECDSA, der,
	    (size_t)n, priv, (size_t)kl), 0);
}

static void
check_san(struct tls_ca *ca, struct tls_ca_key *key, const char *name)
{
	WOLFSSL		*ssl;
	WOLFSSL_X509	*x;
	char		*alt;
	bool		 missing;

	assert_null(tls_ca_session(ca, 0, name, TLS_LEAF_ECDSA, false,
	    &missing));
	assert_true(missing);
	mint(ca, key, name);
	ssl = tls_ca_session(ca, 0, name, TLS_LEAF_ECDSA, false, &missing);
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
		assert_int_equal(tls_ca_key_sign(k, bad[i], TLS_LEAF_ECDSA,
		    pub, sizeof(pub),
		    der, sizeof(der), &why), -1);
		assert_non_null(why);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tls_ca_key_sign(k, big, TLS_LEAF_ECDSA, pub,
	    sizeof(pub), der,
	    sizeof(der), &why), -1);
	pub[40] ^= 1;				/* off the curve */
	assert_int_equal(tls_ca_key_sign(k, "api.test", TLS_LEAF_ECDSA, pub,
	    sizeof(pub), der,
	    sizeof(der), &why), -1);
	assert_string_equal(why, "not a P-256 public key");
	pub[40] ^= 1;
	assert_int_equal(tls_ca_key_sign(k, "api.test", TLS_LEAF_ECDSA, pub,
	    64, der,
	    sizeof(der), &why), -1);
	assert_true(tls_ca_key_sign(k, "api.test", TLS_LEAF_ECDSA, pub,
	    sizeof(pub), der,
	    sizeof(der), &why) > 0);
	tls_ca_key_free(k);
	tls_ca_free(c);
}

/* An RSA public key of bits and exponent e, as SubjectPublicKeyInfo. */
static int
rsa_pub(int bits, long e, uint8_t *out, size_t sz)
{
	RsaKey		 k;
	WC_RNG		 rng;
	int		 n;

	assert_int_equal(wc_InitRng(&rng), 0);
	assert_int_equal(wc_InitRsaKey(&k, NULL), 0);
	assert_int_equal(wc_MakeRsaKey(&k, bits, e, &rng), 0);
	n = wc_RsaKeyToPublicDer(&k, out, (word32)sz);
	wc_FreeRsaKey(&k);
	wc_FreeRng(&rng);
	assert_true(n > 0);
	return n;
}

/* client_tls = compatible: the worker's one RSA key; an RSA leaf for a
 * name is cached beside its ECDSA leaf, each served for its own kind with
 * its own key; the keeper signs only RSA-2048 with e = 65537. */
static void
test_rsa_leaf_beside_the_ecdsa_one(void **state)
{
	char		 ca[400], err[256];
	uint8_t		 pub[TLS_CA_RSA_PUB_MAX + 64], der[TLS_CA_CERT_MAX];
	struct tls_ca	*c;
	struct tls_ca_key *k;
	WOLFSSL		*ssl;
	WOLFSSL_X509	*x;
	const char	*why;
	bool		 missing;
	int		 pl, n;
	FILE		*null = fopen("/dev/null", "w");

	(void)state;
	snprintf(ca, sizeof(ca), "%s/ca4", tu_tmpdir);
	assert_int_equal(tls_ca_init(ca, "test CA", null), 0);
	fclose(null);
	c = tls_ca_new(4, err, sizeof(err));
	k = tls_ca_key_load(ca, err, sizeof(err));
	assert_non_null(k);
	assert_false(tls_ca_has_rsa(c));
	assert_int_equal(tls_ca_rsa_init(c), 0);
	assert_true(tls_ca_has_rsa(c));
	pl = tls_ca_rsa_pub(c, pub, sizeof(pub));
	assert_true(pl > 0);
	mint(c, k, "api.test");
	assert_null(tls_ca_session(c, 0, "api.test", TLS_LEAF_RSA, true,
	    &missing));
	assert_true(missing);
	/* the worker's key called P-256 */
	assert_int_equal(tls_ca_key_sign(k, "api.test", TLS_LEAF_ECDSA, pub,
	    (size_t)pl, der, sizeof(der), &why), -1);
	n = tls_ca_key_sign(k, "api.test", TLS_LEAF_RSA, pub, (size_t)pl, der,
	    sizeof(der), &why);
	assert_true(n > 0);
	/* an RSA leaf comes with no private key: the worker's own is used */
	assert_int_equal(tls_ca_leaf_put(c, "api.test", TLS_LEAF_RSA, der,
	    (size_t)n, pub, 1), -1);
	assert_int_equal(tls_ca_leaf_put(c, "api.test", TLS_LEAF_RSA, der,
	    (size_t)n, NULL, 0), 0);
	ssl = tls_ca_session(c, 0, "api.test", TLS_LEAF_RSA, true, &missing);
	assert_non_null(ssl);
	x = wolfSSL_get_certificate(ssl);
	assert_non_null(x);
	assert_int_equal(wolfSSL_X509_get_pubkey_type(x), RSAk);
	assert_string_equal(wolfSSL_X509_get_next_altname(x), "api.test");
	wolfSSL_free(ssl);
	ssl = tls_ca_session(c, 0, "api.test", TLS_LEAF_ECDSA, false,
	    &missing);
	assert_non_null(ssl);
	assert_int_equal(wolfSSL_X509_get_pubkey_type(
	    wolfSSL_get_certificate(ssl)), ECDSAk);
	wolfSSL_free(ssl);
	/* RSA-1024, and RSA-2048 with e = 3: refused */
	pl = rsa_pub(1024, 65537, pub, sizeof(pub));
	assert_int_equal(tls_ca_key_sign(k, "api.test", TLS_LEAF_RSA, pub,
	    (size_t)pl, der, sizeof(der), &why), -1);
	assert_string_equal(why, "not an RSA-2048 public key with e = 65537");
	pl = rsa_pub(2048, 3, pub, sizeof(pub));
	assert_int_equal(tls_ca_key_sign(k, "api.test", TLS_LEAF_RSA, pub,
	    (size_t)pl, der, sizeof(der), &why), -1);
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
		cmocka_unit_test(test_rsa_leaf_beside_the_ecdsa_one),
	};

	return cmocka_run_group_tests(tests, setup, tu_tmpdir_teardown);
}
