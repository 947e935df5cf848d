/*
 * test_clienthello.c - the SNI from peeked ClientHello bytes: whole,
 * split over records (legal: RFC 8446 5.1), incomplete, and hostile.
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_split_hellos_give_the_name),
		cmocka_unit_test(test_incomplete_wants_more),
		cmocka_unit_test(test_hostile_bytes_refused),
		cmocka_unit_test(test_no_sni_is_ok_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
