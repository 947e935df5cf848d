/*
 * test_clienthello.c - the SNI from peeked ClientHello bytes: whole,
 * split over records (legal: RFC 8446 5.1), incomplete, and hostile; and
 * whether the app can take an ECDSA leaf (signature algorithms, suites).
 */
#include "testutil.h"

#include "shim/conn/clienthello.h"

/* A minimal ClientHello naming host (or none) in one handshake message. */
static size_t
hello(const char *host, uint8_t *out)
{
	size_t	 n = 0, hl = host ? strlen(host) : 0, ext = 0, start;

	out[n++] = 1;				/* client_hello */
	n += 3;					/* length, below */
	start = n;
	out[n++] = 3; out[n++] = 3;		/* legacy_version */
	memset(out + n, 0, 32); n += 32;	/* random */
	out[n++] = 0;				/* session id */
	out[n++] = 0; out[n++] = 2;		/* cipher suites */
	out[n++] = 0x13; out[n++] = 0x01;
	out[n++] = 1; out[n++] = 0;		/* compression */
	if (host != NULL) {
		ext = 4 + 2 + 3 + hl;
		out[n++] = (uint8_t)(ext >> 8); out[n++] = (uint8_t)ext;
		out[n++] = 0; out[n++] = 0;	/* server_name */
		out[n++] = (uint8_t)((hl + 5) >> 8);
		out[n++] = (uint8_t)(hl + 5);
		out[n++] = (uint8_t)((hl + 3) >> 8);
		out[n++] = (uint8_t)(hl + 3);
		out[n++] = 0;			/* host_name */
		out[n++] = (uint8_t)(hl >> 8); out[n++] = (uint8_t)hl;
		memcpy(out + n, host, hl); n += hl;
	}
	out[1] = (uint8_t)((n - start) >> 16);
	out[2] = (uint8_t)((n - start) >> 8);
	out[3] = (uint8_t)(n - start);
	return n;
}

/* msg wrapped in records of at most frag bytes each. */
static size_t
records(const uint8_t *msg, size_t len, size_t frag, uint8_t *out)
{
	size_t	 n = 0, off, k;

	for (off = 0; off < len; off += k) {
		k = len - off < frag ? len - off : frag;
		out[n++] = 22; out[n++] = 3; out[n++] = 1;
		out[n++] = (uint8_t)(k >> 8); out[n++] = (uint8_t)k;
		memcpy(out + n, msg + off, k);
		n += k;
	}
	return n;
}

static void
test_whole_and_split_hellos_give_the_name(void **state)
{
	uint8_t	 msg[512], buf[1024];
	char	 sni[256];
	size_t	 len = hello("api.test", msg), n, frag;

	(void)state;
	for (frag = 1; frag <= len; frag++) {
		n = records(msg, len, frag, buf);
		assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), NULL),
		    CH_OK);
		assert_string_equal(sni, "api.test");
	}
}

static void
test_incomplete_wants_more(void **state)
{
	uint8_t	 msg[512], buf[1024];
	char	 sni[256];
	size_t	 len = hello("api.test", msg), n, cut;

	(void)state;
	n = records(msg, len, 20, buf);
	for (cut = 0; cut < n; cut++)
		assert_int_equal(clienthello_sni(buf, cut, sni, sizeof(sni), NULL),
		    CH_MORE);
}

static void
test_hostile_bytes_refused(void **state)
{
	uint8_t	 msg[512], buf[1024];
	char	 sni[256];
	size_t	 len = hello("api.test", msg), n;

	(void)state;
	assert_int_equal(clienthello_sni((const uint8_t *)"GET / HTTP/1.1", 14,
	    sni, sizeof(sni), NULL), CH_NOT_TLS);
	n = records(msg, len, 30, buf);
	buf[35] = 23;			/* the second record is not handshake */
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), NULL), CH_BAD);
	n = records(msg, len, 1000, buf);
	buf[5] = 2;			/* server_hello, not client_hello */
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), NULL), CH_BAD);
	n = records(msg, len, 1000, buf);
	buf[4] = 0;			/* zero-length record */
	buf[3] = 0;
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), NULL), CH_BAD);
	/* a name longer than the caller's buffer */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, 4, NULL), CH_BAD);
}

static void
test_no_sni_is_ok_and_empty(void **state)
{
	uint8_t	 msg[512], buf[1024];
	char	 sni[256] = "x";
	size_t	 len = hello(NULL, msg), n;

	(void)state;
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), NULL), CH_OK);
	assert_string_equal(sni, "");
}

/* A ClientHello with the given suites and, unless nsig is negative, a
 * signature_algorithms extension of those schemes, after an SNI for
 * api.test. */
static size_t
hello_offer(const unsigned *suites, size_t ns, const unsigned *sig,
    int nsig, uint8_t *out)
{
	size_t	 n = 0, i, extlen, start;

	out[n++] = 1;
	n += 3;
	start = n;
	out[n++] = 3; out[n++] = 3;
	memset(out + n, 0, 32); n += 32;
	out[n++] = 0;
	out[n++] = (uint8_t)(2 * ns >> 8); out[n++] = (uint8_t)(2 * ns);
	for (i = 0; i < ns; i++) {
		out[n++] = (uint8_t)(suites[i] >> 8);
		out[n++] = (uint8_t)suites[i];
	}
	out[n++] = 1; out[n++] = 0;
	extlen = 4 + 2 + 3 + 8 + (nsig < 0 ? 0 : 4 + 2 + 2 * (size_t)nsig);
	out[n++] = (uint8_t)(extlen >> 8); out[n++] = (uint8_t)extlen;
	memcpy(out + n, "\0\0\0\x0d\0\x0b\0\0\x08" "api.test", 17);
	n += 17;
	if (nsig >= 0) {
		out[n++] = 0; out[n++] = 13;
		out[n++] = 0; out[n++] = (uint8_t)(2 + 2 * nsig);
		out[n++] = 0; out[n++] = (uint8_t)(2 * nsig);
		for (i = 0; i < (size_t)nsig; i++) {
			out[n++] = (uint8_t)(sig[i] >> 8);
			out[n++] = (uint8_t)sig[i];
		}
	}
	out[1] = (uint8_t)((n - start) >> 16);
	out[2] = (uint8_t)((n - start) >> 8);
	out[3] = (uint8_t)(n - start);
	return n;
}

static bool
offers_ecdsa(const unsigned *suites, size_t ns, const unsigned *sig,
    int nsig)
{
	uint8_t		 msg[512], buf[1024];
	char		 sni[256];
	struct ch_offer	 o = { .ecdsa = true };
	size_t		 n;

	n = records(msg, hello_offer(suites, ns, sig, nsig, msg), 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), &o), CH_OK);
	assert_string_equal(sni, "api.test");
	return o.ecdsa;
}

static void
test_offer_says_whether_an_ecdsa_leaf_fits(void **state)
{
	const unsigned	 tls13[] = { 0x1301 }, rsa_cbc[] = { 0xc013 },
			 ecdsa_cbc[] = { 0xc013, 0xc009 };
	const unsigned	 modern[] = { 0x0804, 0x0403, 0x0401 },
			 rsa[] = { 0x0401, 0x0201, 0x0804 },
			 ecdsa_sha1[] = { 0x0203 }, ed25519[] = { 0x0807 };

	(void)state;
	assert_true(offers_ecdsa(tls13, 1, modern, 3));
	assert_true(offers_ecdsa(ecdsa_cbc, 2, modern, 3));
	assert_true(offers_ecdsa(ecdsa_cbc, 2, ecdsa_sha1, 1));
	/* no ECDSA scheme, or none at all (TLS 1.2's default: RSA) */
	assert_false(offers_ecdsa(tls13, 1, rsa, 3));
	assert_false(offers_ecdsa(ecdsa_cbc, 2, ed25519, 1));
	assert_false(offers_ecdsa(ecdsa_cbc, 2, NULL, 0));
	assert_false(offers_ecdsa(ecdsa_cbc, 2, NULL, -1));
	/* ECDSA signatures, but only RSA suites */
	assert_false(offers_ecdsa(rsa_cbc, 1, modern, 3));
}

static void
test_bad_sigalgs_refused_with_no_name(void **state)
{
	const unsigned	 suites[] = { 0x1301 }, sig[] = { 0x0403, 0x0804 };
	uint8_t		 msg[512], buf[1024];
	char		 sni[256];
	struct ch_offer	 o;
	size_t		 len, n;

	(void)state;
	len = hello_offer(suites, 1, sig, 2, msg);
	msg[len - 5] = 3;		/* an odd list length */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), &o),
	    CH_BAD);
	assert_string_equal(sni, "");	/* the SNI before it is not kept */
	len = hello_offer(suites, 1, sig, 2, msg);
	msg[len - 5] = 6;		/* longer than the extension */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), &o),
	    CH_BAD);
	len = hello_offer(suites, 1, sig, 2, msg);
	msg[40] = 3;			/* an odd suites length */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni), &o),
	    CH_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_split_hellos_give_the_name),
		cmocka_unit_test(test_incomplete_wants_more),
		cmocka_unit_test(test_hostile_bytes_refused),
		cmocka_unit_test(test_no_sni_is_ok_and_empty),
		cmocka_unit_test(test_offer_says_whether_an_ecdsa_leaf_fits),
		cmocka_unit_test(test_bad_sigalgs_refused_with_no_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
