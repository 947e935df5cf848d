/*
 * test_pin.c - sha256/ pins: strict parsing, printing, pin sets, and the
 * SPKI hash checked against openssl's own figure for EC and RSA keys.
 */
#include "testutil.h"


#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "pins/pin.h"
#include "tls/tls.h"

/* sha256("") and sha256("abc"), as every HPKP tool prints them. */
#define PIN_EMPTY	"sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN_ABC		"sha256/ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define PIN_ZERO	"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static const uint8_t sha256_empty[PIN_HASH_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* Replace the character at index i (of the whole "sha256/..." text). */
static void
mutate(char *dst, const char *src, size_t i, char c)
{
	strcpy(dst, src);
	dst[i] = c;
}

static bool
parses(const char *text)
{
	struct pin	 p;

	return pin_parse(text, &p);
}

/* --- pin_parse: hostile input first ------------------------------------ */

static void
test_parse_rejects_empty(void **state)
{
	(void)state;
	assert_false(parses(""));
	assert_false(parses("sha256/"));
}

static void
test_parse_rejects_wrong_prefix(void **state)
{
	(void)state;
	assert_false(parses("sha1/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	assert_false(parses("SHA256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	assert_false(parses("sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	assert_false(parses("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	assert_false(parses(" " PIN_EMPTY));
}

static void
test_parse_rejects_43_chars(void **state)
{
	(void)state;
	/* one base64 character dropped, '=' kept */
	assert_false(parses("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF="));
}

static void
test_parse_rejects_45_chars(void **state)
{
	(void)state;
	assert_false(parses("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA="));
	assert_false(parses(PIN_EMPTY "="));
	assert_false(parses(PIN_EMPTY "\n"));
	assert_false(parses(PIN_EMPTY " "));
}

static void
test_parse_rejects_missing_padding(void **state)
{
	(void)state;
	/* 44 characters but no '=' at the end */
	assert_false(parses("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA"));
	/* 43 characters, no '=' */
	assert_false(parses("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
}

static void
test_parse_rejects_double_padding(void **state)
{
	(void)state;
	assert_false(parses("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF=="));
	assert_false(parses("sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="));
}

static void
test_parse_rejects_urlsafe_alphabet(void **state)
{
	char	 t[PIN_TEXT_LEN + 1];

	(void)state;
	/* PIN_EMPTY has '+' at index 7+12 and '/' at 7+13 */
	assert_int_equal(PIN_EMPTY[19], '+');
	assert_int_equal(PIN_EMPTY[20], '/');
	mutate(t, PIN_EMPTY, 19, '-');
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, 20, '_');
	assert_false(parses(t));
}

static void
test_parse_rejects_bad_chars(void **state)
{
	char	 t[PIN_TEXT_LEN + 1];

	(void)state;
	mutate(t, PIN_EMPTY, 10, ' ');
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, 10, '\t');
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, 10, '=');	/* padding in the middle */
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, 10, '.');
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, 10, '\xc3');	/* a UTF-8 lead byte */
	assert_false(parses(t));
}

static void
test_parse_rejects_noncanonical(void **state)
{
	char		 t[PIN_TEXT_LEN + 1];
	struct pin	 p;

	(void)state;
	/* 32 bytes leave 2 spare bits in the 43rd character: 'U' (010100)
	 * and 'V' (010101) decode to the same bytes; only 'U' is canonical. */
	assert_int_equal(PIN_EMPTY[PIN_TEXT_LEN - 2], 'U');
	assert_true(pin_parse(PIN_EMPTY, &p));
	mutate(t, PIN_EMPTY, PIN_TEXT_LEN - 2, 'V');
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, PIN_TEXT_LEN - 2, 'W');
	assert_false(parses(t));
	mutate(t, PIN_EMPTY, PIN_TEXT_LEN - 2, 'X');
	assert_false(parses(t));
	mutate(t, PIN_ZERO, PIN_TEXT_LEN - 2, 'B');
	assert_false(parses(t));
}

/* --- pin_parse / pin_format: the good path ------------------------------ */

static void
test_parse_known_hash(void **state)
{
	struct pin	 p;

	(void)state;
	memset(&p, 0xaa, sizeof(p));
	assert_true(pin_parse(PIN_EMPTY, &p));
	assert_memory_equal(p.hash, sha256_empty, PIN_HASH_LEN);
}

static void
test_format_known_hash(void **state)
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	(void)state;
	memcpy(p.hash, sha256_empty, PIN_HASH_LEN);
	memset(text, 'x', sizeof(text));
	pin_format(&p, text);
	assert_string_equal(text, PIN_EMPTY);
	assert_int_equal(strlen(text), PIN_TEXT_LEN);
}

static void
test_round_trip(void **state)
{
	static const char *const pins[] = { PIN_EMPTY, PIN_ABC, PIN_ZERO,
	    "sha256/lD1ZhJwi01CZky1ZRsO+9AT96WJgaZprPv4nPImKVjM=",
	    "sha256///////////////////////////////////////////8=" };
	char		 text[PIN_TEXT_LEN + 1];
	struct pin	 p;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		assert_true(pin_parse(pins[i], &p));
		pin_format(&p, text);
		assert_string_equal(text, pins[i]);
	}
}

static void
test_format_all_ff(void **state)
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	(void)state;
	memset(p.hash, 0xff, sizeof(p.hash));
	pin_format(&p, text);
	assert_string_equal(text,
	    "sha256///////////////////////////////////////////8=");
}

/* --- pin_of_spki -------------------------------------------------------- */

static void
test_spki_rejects_null_and_empty(void **state)
{
	struct pin	 p;
	uint8_t		 b = 0;

	(void)state;
	assert_int_equal(pin_of_spki(NULL, 10, &p), -1);
	assert_int_equal(pin_of_spki(&b, 0, &p), -1);
}

static void
test_spki_hashes_bytes(void **state)
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	(void)state;
	assert_int_equal(pin_of_spki((const uint8_t *)"abc", 3, &p), 0);
	pin_format(&p, text);
	assert_string_equal(text, PIN_ABC);
}

/* --- pinset ------------------------------------------------------------- */

static void
test_list_rejects_bad_item_and_names_it(void **state)
{
	struct pinset	 set = { 0, NULL };
	char		 bad[128] = "";

	(void)state;
	assert_false(pinset_parse_list(&set,
	    PIN_EMPTY ", sha1/abc, " PIN_ABC, bad, sizeof(bad)));
	assert_string_equal(bad, "sha1/abc");
	pinset_free(&set);
}

static void
test_list_rejects_noncanonical_item(void **state)
{
	struct pinset	 set = { 0, NULL };
	char		 bad[128] = "";
	char		 t[PIN_TEXT_LEN + 1];
	char		 list[3 * PIN_TEXT_LEN];

	(void)state;
	mutate(t, PIN_EMPTY, PIN_TEXT_LEN - 2, 'V');
	snprintf(list, sizeof(list), "%s %s", PIN_ABC, t);
	assert_false(pinset_parse_list(&set, list, bad, sizeof(bad)));
	assert_string_equal(bad, t);
	pinset_free(&set);
}

static void
test_list_reports_overlong_item(void **state)
{
	struct pinset	 set = { 0, NULL };
	char		 bad[128] = "";
	char		 list[400];

	(void)state;
	memset(list, 'A', sizeof(list) - 1);
	list[sizeof(list) - 1] = '\0';
	assert_false(pinset_parse_list(&set, list, bad, sizeof(bad)));
	assert_true(strncmp(bad, "AAAA", 4) == 0);
	assert_int_equal(set.n, 0);
	pinset_free(&set);
}

static void
test_list_separators(void **state)
{
	struct pinset	 set = { 0, NULL };
	char		 bad[128] = "";
	struct pin	 a, b, z;

	(void)state;
	assert_true(pinset_parse_list(&set,
	    " ,\t" PIN_EMPTY ",," PIN_ABC " \t, " PIN_ZERO ", ", bad, sizeof(bad)));
	assert_int_equal(set.n, 3);
	assert_true(pin_parse(PIN_EMPTY, &a));
	assert_true(pin_parse(PIN_ABC, &b));
	assert_true(pin_parse(PIN_ZERO, &z));
	assert_memory_equal(set.pins[0].hash, a.hash, PIN_HASH_LEN);
	assert_memory_equal(set.pins[1].hash, b.hash, PIN_HASH_LEN);
	assert_memory_equal(set.pins[2].hash, z.hash, PIN_HASH_LEN);
	pinset_free(&set);
	assert_int_equal(set.n, 0);
	assert_null(set.pins);
}

static void
test_list_appends(void **state)
{
	struct pinset	 set = { 0, NULL };
	char		 bad[128] = "";

	(void)state;
	assert_true(pinset_parse_list(&set, PIN_EMPTY, bad, sizeof(bad)));
	assert_true(pinset_parse_list(&set, PIN_ABC, bad, sizeof(bad)));
	assert_int_equal(set.n, 2);
	pinset_free(&set);
}

static void
test_list_empty_is_empty_set(void **state)
{
	struct pinset	 set = { 0, NULL };
	char		 bad[128] = "";

	(void)state;
	assert_true(pinset_parse_list(&set, " , \t,", bad, sizeof(bad)));
	assert_int_equal(set.n, 0);
	pinset_free(&set);
}

static void
test_contains(void **state)
{
	struct pinset	 set = { 0, NULL };
	struct pin	 a, b, z, near;

	(void)state;
	assert_true(pin_parse(PIN_EMPTY, &a));
	assert_true(pin_parse(PIN_ABC, &b));
	assert_true(pin_parse(PIN_ZERO, &z));
	near = a;
	near.hash[PIN_HASH_LEN - 1] ^= 1;	/* differs in the last bit */

	assert_false(pinset_contains(&set, &a));	/* empty set */
	pinset_add(&set, &a);
	pinset_add(&set, &b);
	assert_true(pinset_contains(&set, &a));
	assert_true(pinset_contains(&set, &b));
	assert_false(pinset_contains(&set, &z));
	assert_false(pinset_contains(&set, &near));
	assert_false(pinset_contains(NULL, &a));
	pinset_free(&set);
	assert_false(pinset_contains(&set, &a));
	pinset_free(NULL);
}

/* --- SPKI and certificates against openssl ------------------------------ */

struct keys {
	char	 dir[256];
};

static struct keys	 keys;

static int
setup_keys(void **state)
{
	static const char *const gen[] = {
	    "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out",
	    "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out",
	    NULL
	};
	static const char *const names[] = { "ec", "rsa", NULL };
	char		 cmd[2048];
	size_t		 i;

	(void)state;
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		return -1;
	tu_mkdtemp(keys.dir, sizeof(keys.dir));
	for (i = 0; gen[i] != NULL; i++) {
		snprintf(cmd, sizeof(cmd), "openssl %s '%s/%s.key' 2>/dev/null",
		    gen[i], keys.dir, names[i]);
		if (tu_sh(cmd) != 0)
			return -1;
	}
	for (i = 0; names[i] != NULL; i++) {
		snprintf(cmd, sizeof(cmd), "openssl pkey -in '%1$s/%2$s.key' "
		    "-pubout -outform der -out '%1$s/%2$s.der' 2>/dev/null",
		    keys.dir, names[i]);
		if (tu_sh(cmd) != 0)
			return -1;
		snprintf(cmd, sizeof(cmd), "openssl req -x509 -new "
		    "-key '%1$s/%2$s.key' -subj /CN=t -days 1 "
		    "-out '%1$s/%2$s.pem' 2>/dev/null", keys.dir, names[i]);
		if (tu_sh(cmd) != 0)
			return -1;
	}
	return 0;
}

static int
teardown_keys(void **state)
{
	(void)state;
	tu_rmrf(keys.dir);
	wolfSSL_Cleanup();
	return 0;
}

/* What openssl says the pin of NAME's public key is. */
static void
openssl_pin(const char *name, char out[PIN_TEXT_LEN + 1])
{
	char	 cmd[2048], b64[128];

	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -binary "
	    "'%s/%s.der' | base64", keys.dir, name);
	tu_sh_line(cmd, b64, sizeof(b64));
	assert_int_equal(strlen(b64), PIN_B64_LEN);
	snprintf(out, PIN_TEXT_LEN + 1, "%s%s", PIN_PREFIX, b64);
}

/* The same figure from the certificate, by x509 -pubkey. */
static void
openssl_cert_pin(const char *name, char out[PIN_TEXT_LEN + 1])
{
	char	 cmd[2048], b64[128];

	snprintf(cmd, sizeof(cmd), "openssl x509 -in '%1$s/%2$s.pem' -noout "
	    "-pubkey | openssl pkey -pubin -outform der | "
	    "openssl dgst -sha256 -binary | base64", keys.dir, name);
	tu_sh_line(cmd, b64, sizeof(b64));
	snprintf(out, PIN_TEXT_LEN + 1, "%s%s", PIN_PREFIX, b64);
}

static void
check_spki(const char *name)
{
	char		 path[512], want[PIN_TEXT_LEN + 1];
	char		 got[PIN_TEXT_LEN + 1];
	unsigned char	*der;
	size_t		 len;
	struct pin	 p;

	openssl_pin(name, want);
	snprintf(path, sizeof(path), "%s/%s.der", keys.dir, name);
	der = tu_read_file(path, &len);
	assert_true(len > 0);
	assert_int_equal(pin_of_spki(der, len, &p), 0);
	free(der);
	pin_format(&p, got);
	assert_string_equal(got, want);
	/* and what we print we can read back */
	assert_true(pin_parse(got, &p));
}

static void
check_cert(const char *name)
{
	char		 path[512], want[PIN_TEXT_LEN + 1];
	char		 want2[PIN_TEXT_LEN + 1], got[PIN_TEXT_LEN + 1];
	WOLFSSL_X509	*x;
	struct pin	 p;

	openssl_pin(name, want);
	openssl_cert_pin(name, want2);
	assert_string_equal(want, want2);	/* the cert holds that key */
	snprintf(path, sizeof(path), "%s/%s.pem", keys.dir, name);
	x = wolfSSL_X509_load_certificate_file(path, WOLFSSL_FILETYPE_PEM);
	assert_non_null(x);
	assert_int_equal(tls_cert_pin(x, &p), 0);
	wolfSSL_X509_free(x);
	pin_format(&p, got);
	assert_string_equal(got, want);
}

static void
test_spki_ec_p256_matches_openssl(void **state)
{
	(void)state;
	check_spki("ec");
}

static void
test_spki_rsa2048_matches_openssl(void **state)
{
	(void)state;
	check_spki("rsa");
}

static void
test_cert_pin_ec_p256_matches_openssl(void **state)
{
	(void)state;
	check_cert("ec");
}

static void
test_cert_pin_rsa2048_matches_openssl(void **state)
{
	(void)state;
	check_cert("rsa");
}

static void
test_cert_pins_differ_per_key(void **state)
{
	char	 ec[PIN_TEXT_LEN + 1], rsa[PIN_TEXT_LEN + 1];

	(void)state;
	openssl_pin("ec", ec);
	openssl_pin("rsa", rsa);
	assert_string_not_equal(ec, rsa);
}

int
main(void)
{
	const struct CMUnitTest parse[] = {
		cmocka_unit_test(test_parse_rejects_empty),
		cmocka_unit_test(test_parse_rejects_wrong_prefix),
		cmocka_unit_test(test_parse_rejects_43_chars),
		cmocka_unit_test(test_parse_rejects_45_chars),
		cmocka_unit_test(test_parse_rejects_missing_padding),
		cmocka_unit_test(test_parse_rejects_double_padding),
		cmocka_unit_test(test_parse_rejects_urlsafe_alphabet),
		cmocka_unit_test(test_parse_rejects_bad_chars),
		cmocka_unit_test(test_parse_rejects_noncanonical),
		cmocka_unit_test(test_parse_known_hash),
		cmocka_unit_test(test_format_known_hash),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_all_ff),
		cmocka_unit_test(test_spki_rejects_null_and_empty),
		cmocka_unit_test(test_spki_hashes_bytes),
		cmocka_unit_test(test_list_rejects_bad_item_and_names_it),
		cmocka_unit_test(test_list_rejects_noncanonical_item),
		cmocka_unit_test(test_list_reports_overlong_item),
		cmocka_unit_test(test_list_separators),
		cmocka_unit_test(test_list_appends),
		cmocka_unit_test(test_list_empty_is_empty_set),
		cmocka_unit_test(test_contains),
	};
	const struct CMUnitTest openssl[] = {
		cmocka_unit_test(test_spki_ec_p256_matches_openssl),
		cmocka_unit_test(test_spki_rsa2048_matches_openssl),
		cmocka_unit_test(test_cert_pin_ec_p256_matches_openssl),
		cmocka_unit_test(test_cert_pin_rsa2048_matches_openssl),
		cmocka_unit_test(test_cert_pins_differ_per_key),
	};
	int	 failed;

	failed = cmocka_run_group_tests_name("pin", parse, NULL, NULL);
	failed += cmocka_run_group_tests_name("pin-openssl", openssl,
	    setup_keys, teardown_keys);
	return failed != 0;
}
