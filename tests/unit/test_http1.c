/*
 * test_http1.c - HTTP/1.x heads from untrusted bytes: what the forward
 * proxy accepts as a request head and pinshim's client as a response head.
 * Hostile cases first: incomplete, bare LF, NUL and control bytes, bad
 * versions and codes.
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
		cmocka_unit_test(test_response_status_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
