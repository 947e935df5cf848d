/*
 * test_relay.c - the relay's buffer logic on real sockets (socketpairs on
 * one event loop, plain ends): bytes flow both ways in order, the slow
 * side pushes back instead of growing memory, a half-close is passed on
 * after the buffer drains, done reports what was delivered, and an end is
 * read only when epoll says it has something (recv is counted here), and
 * a capped client delivers its cap and nothing after it.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>

#include "shim/net/relay.h"

#define RELAY_BUF	(64 * 1024)	/* as in relay.c */

struct ends {
	struct event_base	*base;
	int			 app, server;	/* the test's sides */
	int			 rclient, rupstream; /* the relay's */
	struct relay		*r;
	int			 done;
	char			 how[64];
	int			 failed;
	uint64_t		 up, down;
};

static void
done(void *arg, const char *how, int failed, uint64_t up, uint64_t down)
{
	struct ends	*e = arg;

	e->done++;
	snprintf(e->how, sizeof(e->how), "%s", how);
	e->failed = failed;
	e->up = up;
	e->down = down;
}

/* Every recv the relay makes, by descriptor: this definition takes the
 * place of libc's in this binary. */
static unsigned	 recvs[1024];

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	if (fd >= 0 && fd < (int)(sizeof(recvs) / sizeof(recvs[0])))
		recvs[fd]++;
	return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

static void
start(struct ends *e)
{
	int	 a[2], b[2];

	memset(e, 0, sizeof(*e));
	assert_non_null(e->base = event_base_new());
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a),
	    0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b),
	    0);
	e->app = a[0];
	e->server = b[1];
	e->rclient = a[1];
	e->rupstream = b[0];
	assert_non_null(e->r = relay_start(e->base, a[1], NULL, b[0], NULL,
	    done, e));
}

static void
turn(struct ends *e, int n)
{
	while (n-- > 0)
		event_base_loop(e->base, EVLOOP_NONBLOCK);
}

/* Read what is there (after letting the relay run), up to want bytes. */
static size_t
drain(struct ends *e, int fd, uint8_t *buf, size_t want)
{
	size_t	 got = 0;
	int	 idle = 0;

	while (got < want && idle < 200) {
		ssize_t n = read(fd, buf + got, want - got);

		if (n > 0) {
			got += (size_t)n;
			idle = 0;
		} else {
			if (n == 0)
				break;
			turn(e, 1);
			idle++;
		}
	}
	return got;
}

static void
test_bytes_flow_both_ways(void **state)
{
	struct ends	 e;
	uint8_t		 buf[64];

	(void)state;
	start(&e);
	assert_int_equal(write(e.app, "hello", 5), 5);
	assert_int_equal(drain(&e, e.server, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(write(e.server, "world!", 6), 6);
	assert_int_equal(drain(&e, e.app, buf, 6), 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(e.done, 0);
	close(e.app);
	close(e.server);
	turn(&e, 10);
	assert_int_equal(e.done, 1);
	assert_string_equal(e.how, "closed");
	assert_int_equal(e.failed, -1);
	assert_int_equal(e.up, 5);
	assert_int_equal(e.down, 6);
	event_base_free(e.base);
}

static void
test_slow_reader_pushes_back(void **state)
{
	static uint8_t	 out[4 << 20], in[4 << 20];
	struct ends	 e;
	size_t		 sent = 0, i, got;
	int		 sndbuf = 0, stalled = 0;
	socklen_t	 len = sizeof(sndbuf);

	(void)state;
	start(&e);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(getsockopt(e.app, SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    &len), 0);
	/* The server reads nothing: the app can only fill the buffers. */
	while (stalled < 50 && sent < sizeof(out)) {
		ssize_t n = write(e.app, out + sent, sizeof(out) - sent);

		if (n > 0) {
			sent += (size_t)n;
			stalled = 0;
		} else {
			assert_int_equal(errno, EAGAIN);
			stalled++;
		}
		turn(&e, 1);
	}
	/* More than the kernel alone holds (the relay read some), but no
	 * more than its one bounded buffer plus the socket buffers. */
	assert_true(sent > RELAY_BUF);
	assert_true(sent <= RELAY_BUF + 4 * (size_t)sndbuf);
	assert_true(sent < sizeof(out));
	got = drain(&e, e.server, in, sent);
	assert_int_equal(got, sent);
	assert_memory_equal(in, out, sent);
	close(e.app);
	close(e.server);
	turn(&e, 10);
	assert_int_equal(e.done, 1);
	event_base_free(e.base);
}

static void
test_half_close_passes_after_the_data(void **state)
{
	struct ends	 e;
	uint8_t		 buf[16];

	(void)state;
	start(&e);
	assert_int_equal(write(e.app, "last", 4), 4);
	assert_int_equal(shutdown(e.app, SHUT_WR), 0);
	assert_int_equal(drain(&e, e.server, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "last", 4);
	assert_int_equal(read(e.server, buf, 1), 0);	/* EOF passed on */
	/* the other direction still works */
	assert_int_equal(write(e.server, "reply", 5), 5);
	assert_int_equal(drain(&e, e.app, buf, 5), 5);
	assert_int_equal(e.done, 0);
	assert_int_equal(shutdown(e.server, SHUT_WR), 0);
	turn(&e, 10);
	assert_int_equal(read(e.app, buf, 1), 0);
	assert_int_equal(e.done, 1);
	assert_string_equal(e.how, "closed");
	close(e.app);
	close(e.server);
	event_base_free(e.base);
}

/* A keep-alive exchange: each direction wakes for its own end only. A recv
 * on the quiet end could only say EAGAIN, a syscall per wake-up. */
static void
test_only_the_ready_end_is_read(void **state)
{
	struct ends	 e;
	uint8_t		 buf[16];
	int		 i;

	(void)state;
	start(&e);
	for (i = 0; i < 3; i++) {
		memset(recvs, 0, sizeof(recvs));
		assert_int_equal(write(e.app, "ping", 4), 4);
		assert_int_equal(drain(&e, e.server, buf, 4), 4);
		/* the first turn may look at the upstream once: the relay
		 * cannot know what arrived before it started */
		assert_true(recvs[e.rupstream] <= (i == 0 ? 1u : 0u));
		assert_true(recvs[e.rclient] >= 1);
		memset(recvs, 0, sizeof(recvs));
		assert_int_equal(write(e.server, "pong", 4), 4);
		assert_int_equal(drain(&e, e.app, buf, 4), 4);
		assert_memory_equal(buf, "pong", 4);
		assert_int_equal(recvs[e.rclient], 0);
		assert_true(recvs[e.rupstream] >= 1);
	}
	close(e.app);
	close(e.server);
	turn(&e, 10);
	assert_int_equal(e.done, 1);
	assert_string_equal(e.how, "closed");
	event_base_free(e.base);
}

/* An upgraded request: its 4-byte body goes upstream, the request
 * pipelined behind it does not, and the answer still comes back. */
static void
test_capped_client_delivers_its_cap_and_nothing_after(void **state)
{
	static const char sent[] = "BODYGET /admin HTTP/1.1\r\n"
	    "Host: internal.test\r\n\r\n";
	struct ends	 e;
	uint8_t		 buf[256];

	(void)state;
	start(&e);
	relay_cap_up(e.r, 4);
	assert_int_equal(write(e.app, sent, sizeof(sent) - 1),
	    sizeof(sent) - 1);
	assert_int_equal(drain(&e, e.server, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "BODY", 4);
	turn(&e, 10);
	assert_int_equal(read(e.server, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);	/* nothing more, not EOF */
	assert_int_equal(write(e.server, "reply", 5), 5);
	assert_int_equal(shutdown(e.server, SHUT_WR), 0);
	assert_int_equal(drain(&e, e.app, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "reply", 5);
	/* what the client sends after the cap is read and dropped */
	assert_int_equal(write(e.app, "more", 4), 4);
	turn(&e, 10);
	assert_int_equal(read(e.server, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	close(e.app);
	turn(&e, 10);
	assert_int_equal(read(e.server, buf, 1), 0);	/* its EOF passed on */
	close(e.server);
	turn(&e, 10);
	assert_int_equal(e.done, 1);
	assert_string_equal(e.how, "closed");
	assert_int_equal(e.up, 4);
	event_base_free(e.base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_flow_both_ways),
		cmocka_unit_test(test_slow_reader_pushes_back),
		cmocka_unit_test(test_half_close_passes_after_the_data),
		cmocka_unit_test(test_only_the_ready_end_is_read),
		cmocka_unit_test(
		    test_capped_client_delivers_its_cap_and_nothing_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
