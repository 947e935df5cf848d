/*
 * test_proxy.c - the upstream proxy's CONNECT exchange: the request
 * pinshim sends, the parser of the proxy's answer (hostile cases first:
 * incomplete, oversized, control bytes, not HTTP), and the exchange over
 * a socketpair, which must leave every byte after the answer head in the
 * socket for TLS.
 */
#include "testutil.h"

#include <sys/socket.h>

#include <event2/event.h>

#include "base/mem.h"
#include "shim/net/proxy.h"

static enum http1_result
answer(const char *s, int *status, size_t *headlen, char *line, size_t sz,
    const char **why)
{
	return proxy_answer(s, strlen(s), status, headlen, line, sz, why);
}

static void
test_answer_incomplete_wants_more(void **state)
{
	char		 line[64];
	const char	*why;
	size_t		 hl;
	int		 st;

	(void)state;
	assert_int_equal(answer("", &st, &hl, line, sizeof(line), &why),
	    HTTP1_MORE);
	assert_int_equal(answer("HTTP/1.1 200 Connection established\r\n",
	    &st, &hl, line, sizeof(line), &why), HTTP1_MORE);
	assert_int_equal(answer("HTTP/1.1 200 OK\r\n\r", &st, &hl, line,
	    sizeof(line), &why), HTTP1_MORE);
}

static void
test_answer_hostile_refused(void **state)
{
	static const char *const bad[] = {
		"SSH-2.0-OpenSSH_9.2\r\n",		/* not HTTP at all */
		"\x16\x03\x01",			/* TLS, not a proxy */
		"HTTP/2",
		"HTTP/1.1 200 OK\nX: y\r\n\r\n",	/* bare LF */
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",	/* bare CR */
		"HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n",	/* control byte */
		"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 999 What\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
	};
	char		 line[64];
	const char	*why;
	size_t		 i, hl;
	int		 st;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		why = NULL;
		if (answer(bad[i], &st, &hl, line, sizeof(line), &why) !=
		    HTTP1_BAD)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
	}
}

static void
test_answer_status_line_and_head_length(void **state)
{
	const char	*ok = "HTTP/1.1 200 Connection established\r\n\r\n"
			    "\x16\x03\x03";	/* the target's bytes */
	const char	*deny = "HTTP/1.1 403 Forbidden\r\nServer: squid\r\n"
			    "Content-Length: 5\r\n\r\nbody!";
	char		 line[64], tiny[8];
	const char	*why;
	size_t		 hl;
	int		 st;

	(void)state;
	assert_int_equal(answer(ok, &st, &hl, line, sizeof(line), &why),
	    HTTP1_OK);
	assert_int_equal(st, 200);
	assert_int_equal(hl, strlen(ok) - 3);	/* not one byte of TLS */
	assert_string_equal(line, "HTTP/1.1 200 Connection established");
	assert_int_equal(answer(deny, &st, &hl, line, sizeof(line), &why),
	    HTTP1_OK);
	assert_int_equal(st, 403);
	assert_int_equal(hl, strlen(deny) - 5);
	assert_string_equal(line, "HTTP/1.1 403 Forbidden");
	/* a long status line is cut, never overflows */
	assert_int_equal(answer(deny, &st, &hl, tiny, sizeof(tiny), &why),
	    HTTP1_OK);
	assert_string_equal(tiny, "HTTP/1.");
	/* a quote in the reason cannot break the log's detail="..." */
	assert_int_equal(answer("HTTP/1.1 407 \"Auth\"\\\r\n\r\n", &st, &hl,
	    line, sizeof(line), &why), HTTP1_OK);
	assert_string_equal(line, "HTTP/1.1 407 'Auth''");
}

static void
test_request_shapes(void **state)
{
	char	 buf[256];
	size_t	 n;

	(void)state;
	n = proxy_request(buf, sizeof(buf), "api.test", 443, NULL);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "CONNECT api.test:443 HTTP/1.1\r\n"
	    "Host: api.test:443\r\n\r\n");
	proxy_request(buf, sizeof(buf), "2001:db8::1", 8883, "dTpw");
	assert_string_equal(buf, "CONNECT [2001:db8::1]:8883 HTTP/1.1\r\n"
	    "Host: [2001:db8::1]:8883\r\nProxy-Authorization: Basic dTpw"
	    "\r\n\r\n");
	/* does not fit: nothing, not a truncated request */
	assert_int_equal(proxy_request(buf, 20, "api.test", 443, NULL), 0);
}

/* --- the exchange, over a socketpair ---------------------------------- */

struct got {
	const char	*reason;
	char		 detail[512];
	int		 calls;
};

static void
got_cb(const char *reason, const char *detail, void *arg)
{
	struct got	*g = arg;

	g->reason = reason;
	snprintf(g->detail, sizeof(g->detail), "%s", detail);
	g->calls++;
}

/* Run one exchange where the proxy end sends what; returns what the
 * proxy received, and leaves in rest what is left in pinshim's end. */
static void
exchange(const char *what, size_t whatlen, struct got *g, char *req,
    size_t reqsz, char *rest, size_t restsz)
{
	struct event_base	*base = event_base_new();
	struct proxy_xchg	*x;
	int			 sp[2];
	ssize_t			 n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sp), 0);
	memset(g, 0, sizeof(*g));
	x = proxy_start(base, sp[0], "proxy.test:3128", "api.test", 443,
	    NULL, 5, got_cb, g);
	assert_non_null(x);
	assert_int_equal(g->calls, 0);		/* never from inside */
	event_base_loop(base, EVLOOP_ONCE);	/* the request goes out */
	n = recv(sp[1], req, reqsz - 1, 0);
	assert_true(n > 0);
	req[n] = '\0';
	assert_int_equal(send(sp[1], what, whatlen, 0), (ssize_t)whatlen);
	while (g->calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	n = recv(sp[0], rest, restsz - 1, 0);
	rest[n > 0 ? n : 0] = '\0';
	close(sp[0]);
	close(sp[1]);
	event_base_free(base);
}

static void
test_exchange_leaves_the_tunnel_bytes(void **state)
{
	static const char	 ans[] = "HTTP/1.1 200 Connection established"
				    "\r\n\r\nSERVER-FIRST";
	struct got		 g;
	char			 req[256], rest[64];

	(void)state;
	exchange(ans, strlen(ans), &g, req, sizeof(req), rest, sizeof(rest));
	assert_string_equal(req, "CONNECT api.test:443 HTTP/1.1\r\n"
	    "Host: api.test:443\r\n\r\n");
	assert_int_equal(g.calls, 1);
	assert_null(g.reason);
	assert_string_equal(rest, "SERVER-FIRST");
}

static void
test_exchange_refusal_names_the_status_line(void **state)
{
	static const char	 ans[] = "HTTP/1.1 407 Proxy Authentication "
				    "Required\r\nProxy-Authenticate: Basic "
				    "realm=x\r\n\r\n";
	struct got		 g;
	char			 req[256], rest[64];

	(void)state;
	exchange(ans, strlen(ans), &g, req, sizeof(req), rest, sizeof(rest));
	assert_int_equal(g.calls, 1);
	assert_string_equal(g.reason, "proxy-refused");
	assert_string_equal(g.detail, "proxy proxy.test:3128 answered: "
	    "HTTP/1.1 407 Proxy Authentication Required");
}

static void
test_exchange_oversized_or_bad_answer_fails(void **state)
{
	static char	 big[PROXY_HEAD_MAX + 100];
	struct got	 g;
	char		 req[256], rest[64];

	(void)state;
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', sizeof(big) - 20);
	exchange(big, sizeof(big), &g, req, sizeof(req), rest, sizeof(rest));
	assert_string_equal(g.reason, "proxy-failed");
	assert_contains(g.detail, "answer head longer than 8192 bytes");
	exchange("SSH-2.0-x\r\n", 11, &g, req, sizeof(req), rest,
	    sizeof(rest));
	assert_string_equal(g.reason, "proxy-failed");
	assert_contains(g.detail, "not an HTTP response");
}

static void
test_exchange_head_in_pieces(void **state)
{
	struct event_base	*base = event_base_new();
	static const char	*parts[] = { "HTTP/1.1 2", "00 OK\r\n",
				    "Via: 1.1 sq\r\n\r", "\nTLS" };
	struct got		 g;
	char			 buf[256];
	int			 sp[2];
	size_t			 i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sp), 0);
	memset(&g, 0, sizeof(g));
	(void)proxy_start(base, sp[0], "p:1", "h", 1, NULL, 5, got_cb, &g);
	event_base_loop(base, EVLOOP_ONCE);
	assert_true(recv(sp[1], buf, sizeof(buf), 0) > 0);
	for (i = 0; i < nitems(parts); i++) {
		assert_int_equal(g.calls, 0);
		send(sp[1], parts[i], strlen(parts[i]), 0);
		event_base_loop(base, EVLOOP_ONCE);
	}
	assert_int_equal(g.calls, 1);
	assert_null(g.reason);
	assert_int_equal(recv(sp[0], buf, sizeof(buf), 0), 3);
	close(sp[0]);
	close(sp[1]);
	event_base_free(base);
}

static void
test_exchange_closed_or_cancelled(void **state)
{
	struct event_base	*base = event_base_new();
	struct proxy_xchg	*x;
	struct got		 g;
	char			 buf[256];
	int			 sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sp), 0);
	memset(&g, 0, sizeof(g));
	(void)proxy_start(base, sp[0], "p:1", "h", 1, NULL, 5, got_cb, &g);
	event_base_loop(base, EVLOOP_ONCE);
	assert_true(recv(sp[1], buf, sizeof(buf), 0) > 0);
	send(sp[1], "HTTP/1.1 200", 12, 0);
	shutdown(sp[1], SHUT_WR);
	while (g.calls == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_string_equal(g.reason, "proxy-failed");
	assert_contains(g.detail, "closed the connection");
	/* cancelled: the callback never runs */
	memset(&g, 0, sizeof(g));
	x = proxy_start(base, sp[0], "p:1", "h", 1, NULL, 5, got_cb, &g);
	proxy_cancel(x);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(g.calls, 0);
	close(sp[0]);
	close(sp[1]);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_incomplete_wants_more),
		cmocka_unit_test(test_answer_hostile_refused),
		cmocka_unit_test(test_answer_status_line_and_head_length),
		cmocka_unit_test(test_request_shapes),
		cmocka_unit_test(test_exchange_leaves_the_tunnel_bytes),
		cmocka_unit_test(test_exchange_refusal_names_the_status_line),
		cmocka_unit_test(test_exchange_oversized_or_bad_answer_fails),
		cmocka_unit_test(test_exchange_head_in_pieces),
		cmocka_unit_test(test_exchange_closed_or_cancelled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
