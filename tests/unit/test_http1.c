/*
 * test_http1.c - HTTP/1.x heads from untrusted bytes: what the forward
 * proxy accepts as a request head and pinshim's client as a response head.
 * Hostile cases first: incomplete, bare LF, NUL and control bytes, bad
 * versions and codes; a request body whose end is not one plain
 * Content-Length.
 */
#include "testutil.h"

#include "shim/net/http1.h"

static enum http1_result
req(const char *s, struct http1_head *h, const char **why)
{
	return http1_request(s, strlen(s), h, why);
}

static enum http1_result
resp(const char *s, struct http1_head *h, const char **why)
{
	return http1_response(s, strlen(s), h, why);
}

static void
test_request_incomplete_wants_more(void **state)
{
	struct http1_head	 h;
	const char		*why;

	(void)state;
	assert_int_equal(req("", &h, &why), HTTP1_MORE);
	assert_int_equal(req("CONNECT a:443 HTTP/1.1\r\n", &h, &why),
	    HTTP1_MORE);
	assert_int_equal(req("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r",
	    &h, &why), HTTP1_MORE);
}

static void
test_request_hostile_heads_refused(void **state)
{
	static const char *const bad[] = {
		"GET\nX / HTTP/1.1\r\n\r\n",		/* bare LF in method */
		"GET / HTTP/1.1\r\nX: a\nInjected: b\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",	/* bare CR */
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1 extra\r\n\r\n",
		"GET /\r\n\r\n",
		" / HTTP/1.1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.x\r\n\r\n",
	};
	struct http1_head	 h;
	const char		*why;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (req(bad[i], &h, &why) != HTTP1_BAD)
			fail_msg("accepted: %s", bad[i]);
	/* a NUL inside the head, which strlen() would hide */
	assert_int_equal(http1_request("GET / HTTP/1.1\r\nX: \0\r\n\r\n", 24,
	    &h, &why), HTTP1_BAD);
}

static void
test_request_parts_and_fields(void **state)
{
	static const char t[] = "GET http://a.test/x?y HTTP/1.1\r\n"
	    "Host:  a.test \r\nAccept:*/*\r\n\r\nBODY";
	struct http1_head	 h;
	struct cursor		 f, name, value;
	const char		*why;

	(void)state;
	assert_int_equal(req(t, &h, &why), HTTP1_OK);
	assert_int_equal(h.len, strlen(t) - 4);		/* not the body */
	assert_true(cursor_eq(&h.method, "GET"));
	assert_true(cursor_eq(&h.target, "http://a.test/x?y"));
	f = h.fields;
	assert_true(http1_field(&f, &name, &value, &why));
	assert_true(cursor_eq(&name, "Host"));
	assert_true(cursor_eq(&value, "a.test"));	/* blanks trimmed */
	assert_true(http1_field(&f, &name, &value, &why));
	assert_true(cursor_eq(&name, "Accept"));
	assert_true(cursor_eq(&value, "*/*"));
	assert_false(http1_field(&f, &name, &value, &why));
	assert_null(why);				/* the end, no error */
}

static void
test_request_body_length_is_one_plain_content_length(void **state)
{
	static const struct {
		const char	*head;
		bool		 ok, coded;
		unsigned long	 len;
	} cases[] = {
		/* hostile first: where the body ends would be ambiguous */
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		    false, true, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", false, true, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		    "Content-Length: 6\r\n\r\n", false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		    "content-length: 5\r\n\r\n", false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
		    false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		    false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
		    false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
		    false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
		    false, false, 0 },
		{ "POST / HTTP/1.1\r\nContent-Length: "
		    "99999999999999999999999\r\n\r\n", false, false, 0 },
		/* then what is accepted */
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, false, 0 },
		{ "POST / HTTP/1.1\r\ncontent-length:  12 \r\n\r\n", true,
		    false, 12 },
		{ "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true,
		    false, 0 },
	};
	struct http1_head	 h;
	const char		*why;
	unsigned long		 len;
	bool			 coded;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(req(cases[i].head, &h, &why), HTTP1_OK);
		len = 99;
		if (http1_body_len(&h, &len, &coded, &why) != cases[i].ok)
			fail_msg("%s: %s", cases[i].head, cases[i].ok ?
			    why : "accepted");
		assert_int_equal(coded, cases[i].coded);
		if (cases[i].ok)
			assert_int_equal(len, cases[i].len);
		else
			assert_non_null(why);
	}
}

static void
test_response_status_lines(void **state)
{
	struct http1_head	 h;
	const char		*why;

	(void)state;
	assert_int_equal(resp("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n"
	    "\r\n", &h, &why), HTTP1_OK);
	assert_int_equal(h.status, 304);
	assert_int_equal(resp("HTTP/1.0 200\r\n\r\n", &h, &why), HTTP1_OK);
	assert_int_equal(h.status, 200);
	assert_int_equal(resp("HTTP/1.1 600 X\r\n\r\n", &h, &why), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 099 X\r\n\r\n", &h, &why), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 2x0 X\r\n\r\n", &h, &why), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 2000\r\n\r\n", &h, &why), HTTP1_BAD);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n", &h,
	    &why), HTTP1_BAD);
	assert_string_equal(why, "malformed or unsupported header");
	/* garbage is refused at its first line, without waiting for more */
	assert_int_equal(resp("\x16\x03garbage\r\n", &h, &why), HTTP1_BAD);
	assert_string_equal(why, "not an HTTP response");
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nX: y\r\n", &h, &why),
	    HTTP1_MORE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_incomplete_wants_more),
		cmocka_unit_test(test_request_hostile_heads_refused),
		cmocka_unit_test(test_request_parts_and_fields),
		cmocka_unit_test(
		    test_request_body_length_is_one_plain_content_length),
		cmocka_unit_test(test_response_status_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
