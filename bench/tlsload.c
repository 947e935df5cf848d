/*
 * tlsload.c - the interception bench's load generator for what wrk cannot
 * do (bench/intercept_bench.py builds and runs it): a different SNI on
 * every connection, and HTTP CONNECT. CONC connections at once, each a new
 * TCP connection (through the proxy if given), a full TLS handshake
 * (OpenSSL, no resumption, the peer verified against CAFILE and the name),
 * then a `Connection: close` GET of PATH, the whole answer read, closed,
 * and the next; with -k, GETs on the same connection until the time is up
 * (wrk's keep-alive workloads, for forward mode). A Python client tops out
 * below the rates it must measure.
 *
 *   tlsload ADDR PORT [-x PROXYADDR:PORT] -C CAFILE -c CONC -d SECS
 *           [-k] [-p PATH] (-n NAME | -N PREFIX:COUNT)
 *
 * -N: a name never used before on every connection, PREFIX0.api.test ...
 * PREFIX<COUNT-1>.api.test (it stops when they run out). Prints one JSON
 * object: answers (200), failed connections, bytes of answers, seconds.
 * Single-threaded, one epoll loop: pin it to a CPU with taskset.
 */
#define _GNU_SOURCE                     /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAXCONC 1024
#define TIMEOUT 10.0                    /* seconds, per connection */

enum state { CONNECTING, PROXY_SEND, PROXY_READ, HANDSHAKE, SEND, READ };

struct conn {
	int fd;
	SSL *ssl;
	enum state st;
	double start;
	char name[128];
	char buf[16384];
	size_t len, off;                /* bytes in buf; sent of buf */
	long head, body, got;           /* the answer's head and body, got */
};

static SSL_CTX *ctx;
static struct sockaddr_in target, proxy;
static int use_proxy, epfd, keepalive;
static const char *fixed_name, *prefix, *path = "/0";
static long next_name, name_count;
static unsigned long ok, failed;
static unsigned long long bytes;
static double end;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(atoi(colon + 1));
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

static void
finish(struct conn *c, int good)
{
	if (!good)
		failed++;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);               /* also leaves the epoll set */
	c->fd = -1;
}

static void
want(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A new connection in c, or 0 when the names have run out. */
static int
start(struct conn *c)
{
	struct sockaddr_in *to = use_proxy ? &proxy : &target;
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	if (fixed_name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", fixed_name);
	else if (next_name < name_count)
		snprintf(c->name, sizeof(c->name), "%s%ld.api.test", prefix,
		    next_name++);
	else
		return 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		perror("socket");
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->start = now();
	c->st = CONNECTING;
	c->len = c->off = 0;
	if (connect(c->fd, (struct sockaddr *)to, sizeof(*to)) < 0 &&
	    errno != EINPROGRESS) {
		finish(c, 0);
		return start(c);
	}
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return 1;
}

static int
begin_tls(struct conn *c)
{
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd) ||
	    !SSL_set_tlsext_host_name(c->ssl, c->name) ||
	    !SSL_set1_host(c->ssl, c->name))
		return -1;
	c->st = HANDSHAKE;
	return 0;
}

/* An SSL call's outcome: 1 done, 0 waiting (events set), -1 failed. */
static int
ssl_wait(struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		want(c, EPOLLIN);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		want(c, EPOLLOUT);
		return 0;
	default:
		return -1;
	}
}

/* The request in buf, sent next. */
static void
request(struct conn *c)
{
	c->len = snprintf(c->buf, sizeof(c->buf),
	    "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, c->name,
	    keepalive ? "" : "Connection: close\r\n");
	c->head = -1;
	c->got = 0;
	c->st = SEND;
}

/* r more bytes of the answer in buf: 1 whole, 0 not yet, -1 not a 200. */
static int
answer(struct conn *c, size_t r)
{
	char *end_head, *cl;

	if (c->head >= 0) {             /* body bytes, not kept */
		c->got += r;
		return c->got >= c->body;
	}
	c->len += r;
	c->buf[c->len] = '\0';
	end_head = strstr(c->buf, "\r\n\r\n");
	if (end_head == NULL)
		return c->len >= sizeof(c->buf) - 1 ? -1 : 0;
	if (strncmp(c->buf, "HTTP/1.", 7) != 0 ||
	    strncmp(c->buf + 8, " 200", 4) != 0)
		return -1;
	c->head = end_head + 4 - c->buf;
	cl = strcasestr(c->buf, "\r\ncontent-length:");
	c->body = cl != NULL && cl < end_head ? strtol(cl + 17, NULL, 10) : 0;
	c->got = c->len - c->head;
	return c->got >= c->body;
}

/* Advance c as far as it goes; -1: failed, 1: answered. */
static int
step(struct conn *c)
{
	int r, err;
	socklen_t len = sizeof(err);

	for (;;) {
		switch (c->st) {
		case CONNECTING:
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
			    &len) < 0 || err != 0)
				return -1;
			if (use_proxy) {
				c->len = snprintf(c->buf, sizeof(c->buf),
				    "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n"
				    "\r\n", c->name, ntohs(target.sin_port),
				    c->name, ntohs(target.sin_port));
				c->off = 0;
				c->st = PROXY_SEND;
			} else if (begin_tls(c) < 0)
				return -1;
			break;
		case PROXY_SEND:
			r = write(c->fd, c->buf + c->off, c->len - c->off);
			if (r < 0 && errno == EAGAIN) {
				want(c, EPOLLOUT);
				return 0;
			}
			if (r <= 0)
				return -1;
			c->off += r;
			if (c->off == c->len) {
				c->len = 0;
				c->st = PROXY_READ;
			}
			break;
		case PROXY_READ:
			/* nothing follows the answer before our ClientHello */
			r = read(c->fd, c->buf + c->len,
			    sizeof(c->buf) - 1 - c->len);
			if (r < 0 && errno == EAGAIN) {
				want(c, EPOLLIN);
				return 0;
			}
			if (r <= 0)
				return -1;
			c->len += r;
			c->buf[c->len] = '\0';
			if (strstr(c->buf, "\r\n\r\n") == NULL)
				break;
			if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0 ||
			    begin_tls(c) < 0)
				return -1;
			break;
		case HANDSHAKE:
			r = SSL_connect(c->ssl);
			if (r != 1)
				return ssl_wait(c, r);
			request(c);
			break;
		case SEND:
			r = SSL_write(c->ssl, c->buf, c->len);
			if (r <= 0)
				return ssl_wait(c, r);
			c->len = 0;
			c->st = READ;
			break;
		case READ:
			r = SSL_read(c->ssl, c->buf + (c->head < 0 ? c->len : 0),
			    c->head < 0 ? sizeof(c->buf) - 1 - c->len :
			    sizeof(c->buf));
			if (r <= 0)
				return ssl_wait(c, r);
			switch (answer(c, r)) {
			case -1:
				return -1;
			case 0:
				break;
			default:
				ok++;
				bytes += c->head + c->body;
				if (!keepalive || now() >= end)
					return 1;
				request(c);
			}
			break;
		}
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: tlsload ADDR PORT [-x PROXYADDR:PORT] "
	    "-C CAFILE -c CONC -d SECS [-k] [-p PATH] "
	    "(-n NAME | -N PREFIX:COUNT)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct conn conns[MAXCONC];
	struct epoll_event evs[256];
	const char *cafile = NULL;
	double secs = 5, t0, last_scan;
	int conc = 32, live = 0, opt, i, n;
	char addr[80];

	if (argc < 3)
		usage();
	snprintf(addr, sizeof(addr), "%s:%s", argv[1], argv[2]);
	if (parse_addr(addr, &target) < 0)
		usage();
	optind = 3;
	while ((opt = getopt(argc, argv, "x:C:c:d:kp:n:N:")) != -1) {
		switch (opt) {
		case 'x':
			if (parse_addr(optarg, &proxy) < 0)
				usage();
			use_proxy = 1;
			break;
		case 'C':
			cafile = optarg;
			break;
		case 'c':
			conc = atoi(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 'k':
			keepalive = 1;
			break;
		case 'p':
			path = optarg;
			break;
		case 'n':
			fixed_name = optarg;
			break;
		case 'N': {
			char *colon = strchr(optarg, ':');

			if (colon == NULL)
				usage();
			*colon = '\0';
			prefix = optarg;
			name_count = atol(colon + 1);
			break;
		}
		default:
			usage();
		}
	}
	if (cafile == NULL || conc < 1 || conc > MAXCONC ||
	    (fixed_name == NULL) == (prefix == NULL))
		usage();

	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || !SSL_CTX_load_verify_locations(ctx, cafile, NULL)) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* every handshake full, as a new app connection's is */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	epfd = epoll_create1(0);

	for (i = 0; i < conc; i++)
		conns[i].fd = -1;
	t0 = last_scan = now();
	end = t0 + secs;
	for (i = 0; i < conc; i++)
		live += start(&conns[i]);
	while (live > 0) {
		n = epoll_wait(epfd, evs, 256, 100);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int r = step(c);

			if (r == 0)
				continue;
			finish(c, r > 0);
			if (now() >= end || !start(c))
				live--;
		}
		if (now() - last_scan < 0.1)
			continue;
		last_scan = now();
		for (i = 0; i < conc; i++) {
			struct conn *c = &conns[i];

			if (c->fd >= 0 && last_scan - c->start > TIMEOUT) {
				finish(c, 0);
				if (last_scan >= end || !start(c))
					live--;
			}
		}
	}
	printf("{\"ok\": %lu, \"err\": %lu, \"bytes\": %llu, "
	    "\"secs\": %.3f}\n", ok, failed, bytes, now() - t0);
	return 0;
}
