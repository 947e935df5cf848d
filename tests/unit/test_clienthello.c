/*
 * test_clienthello.c - the SNI and the ALPN list from peeked ClientHello
 * bytes: whole, split over records (legal: RFC 8446 5.1), incomplete,
 * and hostile (truncated, oversized, duplicated extensions); and whether
 * the app can take an ECDSA leaf (signature algorithms, suites).
 */
#include "testutil.h"

#include "shim/conn/clienthello.h"
#include "tls/tls_alpn.h"

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
		assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni)),
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
		assert_int_equal(clienthello_sni(buf, cut, sni, sizeof(sni)),
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
	    sni, sizeof(sni)), CH_NOT_TLS);
	n = records(msg, len, 30, buf);
	buf[35] = 23;			/* the second record is not handshake */
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni)), CH_BAD);
	n = records(msg, len, 1000, buf);
	buf[5] = 2;			/* server_hello, not client_hello */
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni)), CH_BAD);
	n = records(msg, len, 1000, buf);
	buf[4] = 0;			/* zero-length record */
	buf[3] = 0;
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni)), CH_BAD);
	/* a name longer than the caller's buffer */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, 4), CH_BAD);
}

static void
test_no_sni_is_ok_and_empty(void **state)
{
	uint8_t	 msg[512], buf[1024];
	char	 sni[256] = "x";
	size_t	 len = hello(NULL, msg), n;

	(void)state;
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_sni(buf, n, sni, sizeof(sni)), CH_OK);
	assert_string_equal(sni, "");
}

/* A ClientHello whose extensions block is exts (elen bytes). */
static size_t
hello_exts(const uint8_t *exts, size_t elen, uint8_t *out)
{
	size_t	 n = 0, start;

	out[n++] = 1;				/* client_hello */
	n += 3;
	start = n;
	out[n++] = 3; out[n++] = 3;
	memset(out + n, 0, 32); n += 32;
	out[n++] = 0;
	out[n++] = 0; out[n++] = 2;
	out[n++] = 0x13; out[n++] = 0x01;
	out[n++] = 1; out[n++] = 0;
	out[n++] = (uint8_t)(elen >> 8); out[n++] = (uint8_t)elen;
	memcpy(out + n, exts, elen); n += elen;
	out[1] = (uint8_t)((n - start) >> 16);
	out[2] = (uint8_t)((n - start) >> 8);
	out[3] = (uint8_t)(n - start);
	return n;
}

/* One extension: type, then body (blen bytes), appended at out + n. */
static size_t
ext(uint8_t *out, size_t n, unsigned type, const uint8_t *body, size_t blen)
{
	out[n++] = (uint8_t)(type >> 8); out[n++] = (uint8_t)type;
	out[n++] = (uint8_t)(blen >> 8); out[n++] = (uint8_t)blen;
	memcpy(out + n, body, blen);
	return n + blen;
}

/* An ALPN extension body: the 2-byte list length, then list. */
static size_t
alpn_body(const uint8_t *list, size_t len, uint8_t *out)
{
	out[0] = (uint8_t)(len >> 8); out[1] = (uint8_t)len;
	memcpy(out + 2, list, len);
	return len + 2;
}

static const uint8_t h2_h1[] = "\x02h2\x08http/1.1";
static const uint8_t sni_body[] = "\x00\x0b\x00\x00\x08" "api.test";

static enum ch_result
parse_exts(const uint8_t *exts, size_t elen, struct ch_hello *h)
{
	static uint8_t	 msg[2 * CH_ALPN_MAX], buf[3 * CH_ALPN_MAX];
	size_t		 len = hello_exts(exts, elen, msg);

	return clienthello_parse(buf, records(msg, len, 5000, buf), h);
}

static void
test_alpn_list_is_taken_as_sent(void **state)
{
	uint8_t		 exts[256], body[64], msg[512], buf[2048];
	struct ch_hello	 h;
	size_t		 n = 0, len, frag, cut, rn;

	(void)state;
	/* ALPN before SNI: both found, whatever the order */
	n = ext(exts, n, 16, body, alpn_body(h2_h1, sizeof(h2_h1) - 1, body));
	n = ext(exts, n, 0, sni_body, sizeof(sni_body) - 1);
	len = hello_exts(exts, n, msg);
	for (frag = 1; frag <= len; frag += 7) {
		rn = records(msg, len, frag, buf);
		assert_int_equal(clienthello_parse(buf, rn, &h), CH_OK);
		assert_string_equal(h.sni, "api.test");
		assert_int_equal(h.alpn_len, sizeof(h2_h1) - 1);
		assert_memory_equal(h.alpn, h2_h1, sizeof(h2_h1) - 1);
	}
	/* truncated anywhere: wait for more, never a partial list */
	rn = records(msg, len, 40, buf);
	for (cut = 0; cut < rn; cut++)
		assert_int_equal(clienthello_parse(buf, cut, &h), CH_MORE);
	/* no ALPN extension: none */
	n = ext(exts, 0, 0, sni_body, sizeof(sni_body) - 1);
	assert_int_equal(parse_exts(exts, n, &h), CH_OK);
	assert_int_equal(h.alpn_len, 0);
	/* a name with any byte value (GREASE-like) is kept as is */
	n = ext(exts, 0, 16, body, alpn_body((const uint8_t *)"\x02\x0a\x0a"
	    "\x02h2", 6, body));
	assert_int_equal(parse_exts(exts, n, &h), CH_OK);
	assert_int_equal(h.alpn_len, 6);
	assert_memory_equal(h.alpn, "\x02\x0a\x0a\x02h2", 6);
}

static void
test_bad_alpn_refused(void **state)
{
	static uint8_t	 big[CH_ALPN_MAX + 300], body[CH_ALPN_MAX + 400];
	static uint8_t	 exts[CH_ALPN_MAX + 600];
	struct ch_hello	 h;
	size_t		 n, i, bl;

	(void)state;
	/* an empty list */
	n = ext(exts, 0, 16, (const uint8_t *)"\x00\x00", 2);
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* an empty name */
	n = ext(exts, 0, 16, body, alpn_body((const uint8_t *)"\x02h2\x00",
	    4, body));
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* a name running past the list */
	n = ext(exts, 0, 16, body, alpn_body((const uint8_t *)"\x05h2", 3,
	    body));
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* the list running past the extension */
	bl = alpn_body(h2_h1, sizeof(h2_h1) - 1, body);
	body[1] += 1;
	n = ext(exts, 0, 16, body, bl);
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* bytes after the list inside the extension */
	bl = alpn_body(h2_h1, sizeof(h2_h1) - 1, body);
	body[bl++] = 0;
	n = ext(exts, 0, 16, body, bl);
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* an extension too short for its list length */
	n = ext(exts, 0, 16, (const uint8_t *)"\x00", 1);
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* a list over CH_ALPN_MAX: refused, not cut */
	for (i = 0; i + 101 <= sizeof(big); i += 101) {
		big[i] = 100;
		memset(big + i + 1, 'a', 100);
	}
	assert_true(i > CH_ALPN_MAX);
	n = ext(exts, 0, 16, body, alpn_body(big, i, body));
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	assert_int_equal(h.alpn_len, 0);
	/* exactly CH_ALPN_MAX is fine: names of 255 bytes that fill it */
	assert_int_equal(CH_ALPN_MAX % 256, 0);
	for (i = 0; i < CH_ALPN_MAX; i += 256) {
		big[i] = 255;
		memset(big + i + 1, 'b', 255);
	}
	n = ext(exts, 0, 16, body, alpn_body(big, CH_ALPN_MAX, body));
	assert_int_equal(parse_exts(exts, n, &h), CH_OK);
	assert_int_equal(h.alpn_len, CH_ALPN_MAX);
	/* a duplicated ALPN or server_name extension */
	bl = alpn_body(h2_h1, sizeof(h2_h1) - 1, body);
	n = ext(exts, 0, 16, body, bl);
	n = ext(exts, n, 16, body, bl);
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	n = ext(exts, 0, 0, sni_body, sizeof(sni_body) - 1);
	n = ext(exts, n, 0, sni_body, sizeof(sni_body) - 1);
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	/* a malformed extension after a good ALPN one */
	n = ext(exts, 0, 16, body, bl);
	exts[n++] = 0; exts[n++] = 5; exts[n++] = 0; exts[n++] = 9;
	assert_int_equal(parse_exts(exts, n, &h), CH_BAD);
	assert_int_equal(h.alpn_len, 0);
}

/* The app's list as wolfSSL takes it: names in order, comma-separated;
 * one wolfSSL cannot carry (a ',' or a NUL in it) left out, never cut. */
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
	struct ch_hello	 h = { .ecdsa = true };
	size_t		 n;

	n = records(msg, hello_offer(suites, ns, sig, nsig, msg), 1000, buf);
	assert_int_equal(clienthello_parse(buf, n, &h), CH_OK);
	assert_string_equal(h.sni, "api.test");
	return h.ecdsa;
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
	struct ch_hello	 h;
	size_t		 len, n;

	(void)state;
	len = hello_offer(suites, 1, sig, 2, msg);
	msg[len - 5] = 3;		/* an odd list length */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_parse(buf, n, &h),
	    CH_BAD);
	assert_string_equal(h.sni, "");	/* the SNI before it is not kept */
	len = hello_offer(suites, 1, sig, 2, msg);
	msg[len - 5] = 6;		/* longer than the extension */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_parse(buf, n, &h),
	    CH_BAD);
	len = hello_offer(suites, 1, sig, 2, msg);
	msg[40] = 3;			/* an odd suites length */
	n = records(msg, len, 1000, buf);
	assert_int_equal(clienthello_parse(buf, n, &h),
	    CH_BAD);
}

static void
test_alpn_list_as_text(void **state)
{
	char	 out[64];

	(void)state;
	assert_int_equal(tls_alpn_text(h2_h1, sizeof(h2_h1) - 1, out,
	    sizeof(h2_h1) - 1), 2);
	assert_string_equal(out, "h2,http/1.1");
	assert_int_equal(tls_alpn_text((const uint8_t *)"\x03" "a,b" "\x02h2"
	    "\x03x\0y", 11, out, sizeof(out)), 1);
	assert_string_equal(out, "h2");
	assert_int_equal(tls_alpn_text((const uint8_t *)"\x03" "a,b", 4, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "");
	/* a buffer too small ends the list at the last whole name */
	assert_int_equal(tls_alpn_text(h2_h1, sizeof(h2_h1) - 1, out, 5), 1);
	assert_string_equal(out, "h2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_split_hellos_give_the_name),
		cmocka_unit_test(test_incomplete_wants_more),
		cmocka_unit_test(test_hostile_bytes_refused),
		cmocka_unit_test(test_no_sni_is_ok_and_empty),
		cmocka_unit_test(test_alpn_list_is_taken_as_sent),
		cmocka_unit_test(test_bad_alpn_refused),
		cmocka_unit_test(test_alpn_list_as_text),
		cmocka_unit_test(test_offer_says_whether_an_ecdsa_leaf_fits),
		cmocka_unit_test(test_bad_sigalgs_refused_with_no_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
