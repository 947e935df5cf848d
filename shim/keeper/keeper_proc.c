/*
 * keeper_proc.c - the keeper process (see keeper.h): forked by the worker
 * before it reads the key or the network, it keeps its user (root, when
 * pinshim starts as root) without a capability, is not dumpable (the
 * worker cannot ptrace it or read its memory even as the same user),
 * frees the configuration it does not need, and answers one frame at a
 * time on three socketpairs: mints, state writes, and handshake
 * signatures (keeper_answer.c decides each). It exits when
 * the worker's end closes.
 *
 * Must never: outlive the worker, skip a frame it cannot parse (framing
 * cannot be recovered: it stops), or read anything but the worker's
 * frames.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "shim/keeper/keeper_answer.h"
#include "shim/keeper/keeper_proc.h"
#include "shim/proc/privdrop.h"
#include "shim/proc/sandbox.h"
#include "tls/tls.h"

#define READY_TIMEOUT	10	/* s: a keeper this slow to start is broken */
#define REPLY_MAX	(KEEPER_HEAD + TLS_CA_CERT_MAX + 16)

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				errno = ETIMEDOUT;	/* SO_SNDTIMEO */
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Exactly n bytes; 0, or -1 at EOF, error or timeout (errno). */
static int
read_all(int fd, uint8_t *p, size_t n)
{
	ssize_t	 r;

	while (n > 0) {
		if ((r = read(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				errno = ETIMEDOUT;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One whole frame of at most sz bytes into buf, decoded into m (which
 * borrows buf). 0, or -1 with errno: EOF and timeouts as read_all says,
 * EPROTO for a frame that is too long or does not parse. */
static int
read_frame(int fd, uint8_t *buf, size_t sz, struct keeper_msg *m)
{
	const char	*why;
	long		 len;

	if (read_all(fd, buf, 4) == -1)
		return -1;
	len = keeper_frame_len(buf, 4);
	errno = EPROTO;
	if (len < KEEPER_HEAD - 4 || (size_t)len > sz)
		return -1;
	if (read_all(fd, buf, (size_t)len) == -1)
		return -1;
	errno = EPROTO;
	return keeper_parse(buf, (size_t)len, m, &why);
}

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One request from fd, answered. 0, or -1: the worker is gone or broke
 * the framing (a frame cannot be skipped safely: stop). */
static int
serve_one(struct keeper_state *ks, int fd, uint8_t *buf, size_t max)
{
	struct keeper_msg	 m;
	uint8_t			 out[REPLY_MAX];
	const char		*why;
	long			 len;
	size_t			 n;

	if (read_all(fd, buf, 4) == -1)
		return -1;
	len = keeper_frame_len(buf, 4);
	if (len < KEEPER_HEAD - 4 || (size_t)len > max) {
		log_err("keeper: a %ld-byte frame (at most %zu): the worker is "
		    "broken or compromised; stopping", len, max);
		return -1;
	}
	if (read_all(fd, buf, (size_t)len) == -1)
		return -1;
	if (keeper_parse(buf, (size_t)len, &m, &why) == -1)
		n = keeper_refuse(ks, &m, why, out, sizeof(out));
	else
		n = keeper_answer(ks, &m, mono(), out, sizeof(out));
	if (n == 0 || write_all(fd, out, n) == -1)
		return -1;
	return 0;
}

/* READY (err NULL) or ERR with err, on the state channel. */
static int
hello(int fd, const char *err)
{
	struct keeper_msg	 m;
	uint8_t			 out[KEEPER_HEAD + KEEPER_TEXT_MAX + 8];
	size_t			 n;

	memset(&m, 0, sizeof(m));
	m.type = err == NULL ? KEEPER_READY : KEEPER_ERR;
	m.err = err == NULL ? 0 : EINVAL;
	m.data = (const uint8_t *)err;
	m.len = err == NULL ? 0 : strnlen(err, KEEPER_TEXT_MAX);
	n = keeper_encode(&m, out, sizeof(out));
	return n == 0 ? -1 : write_all(fd, out, n);
}

/* The keeper: c is its copy of the worker's configuration, freed once
 * the state it serves from is built (it keeps only what it needs). */
static void __attribute__((noreturn))
keeper_main(struct conf *c, int afd, int sfd, int gfd, pid_t worker)
{
	struct keeper_state	*ks = NULL;
	struct pollfd		 pfd[3];
	uint8_t			*buf;
	char			 err[600], what[300];
	size_t			 max;
	int			 i;

	signal(SIGINT, SIG_IGN);	/* the worker stops; EOF stops us */
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != worker)
		_exit(0);		/* it died before the line above */
	(void)prctl(PR_SET_DUMPABLE, 0);
	clock_load(c->state_dir);	/* as the worker does, for dates */
	if (c->ca_dir != NULL)
		snprintf(what, sizeof(what), "holding the interception CA key "
		    "of %s", c->ca_dir);
	else if (c->state_dir != NULL)
		snprintf(what, sizeof(what), "writing %s for the worker",
		    c->state_dir);
	else
		snprintf(what, sizeof(what), "holding the device identity "
		    "keys");
	if (c->nidents > 0 && (c->ca_dir != NULL || c->state_dir != NULL)) {
		size_t	 off = strlen(what);

		snprintf(what + off, sizeof(what) - off, " and %zu device "
		    "identity key%s", c->nidents, c->nidents == 1 ? "" : "s");
	}
	if (tls_init() == -1)
		snprintf(err, sizeof(err), "keeper: wolfSSL initialisation "
		    "failed");
	else
		ks = keeper_state_new(c, err, sizeof(err));
	conf_free(c);			/* listeners, rules: the worker's */
	if (ks == NULL || privdrop_caps(err, sizeof(err)) == -1 ||
	    sandbox_apply(err, sizeof(err)) == -1) {
		(void)hello(sfd, err);
		_exit(1);
	}
	if (hello(sfd, NULL) == -1)
		_exit(1);
	log_info("keeper: %s (pid %ld)", what, (long)getpid());
	max = keeper_state_frame_max(ks);
	buf = xcalloc(1, max);
	pfd[0].fd = afd;
	pfd[1].fd = sfd;
	pfd[2].fd = gfd;
	for (;;) {
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 3; i++)
			if (pfd[i].revents != 0 &&
			    serve_one(ks, pfd[i].fd, buf, max) == -1)
				goto out;
	}
out:
	log_debug("keeper: the worker closed its end; exiting");
	_exit(0);
}

int
keeper_spawn(const struct conf *c, int fds[3], pid_t *pid, char *err,
    size_t errsz)
{
	struct keeper_msg	 m;
	struct timeval		 tv = { READY_TIMEOUT, 0 };
	uint8_t			 buf[KEEPER_HEAD + KEEPER_TEXT_MAX + 8];
	int			 a[2], s[2], g[2];
	pid_t			 self = getpid();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == -1)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == -1) {
		close(a[0]);
		close(a[1]);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g) == -1) {
		close(a[0]);
		close(a[1]);
		close(s[0]);
		close(s[1]);
		goto fail;
	}
	fflush(NULL);
	if ((*pid = fork()) == -1) {
		snprintf(err, errsz, "keeper: fork: %s", strerror(errno));
		close(a[0]);
		close(a[1]);
		close(s[0]);
		close(s[1]);
		close(g[0]);
		close(g[1]);
		return -1;
	}
	if (*pid == 0) {
		close(a[0]);
		close(s[0]);
		close(g[0]);
		/* the child's own copy of the configuration */
		keeper_main((struct conf *)(uintptr_t)c, a[1], s[1], g[1],
		    self);
	}
	close(a[1]);
	close(s[1]);
	close(g[1]);
	fds[0] = a[0];
	fds[1] = s[0];
	fds[2] = g[0];
	/* READY, or ERR with why the key could not be loaded: before the
	 * loop runs, so a blocking read, bounded */
	(void)setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_frame(s[0], buf, sizeof(buf), &m) == -1)
		snprintf(err, errsz, "keeper: exited before it was ready");
	else if (m.type != KEEPER_READY)
		snprintf(err, errsz, "%.*s", (int)m.len, (const char *)m.data);
	else
		return 0;
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
	keeper_reap(*pid);
	return -1;
fail:
	snprintf(err, errsz, "keeper: socketpair: %s", strerror(errno));
	return -1;
}

void
keeper_reap(pid_t pid)
{
	int	 i, st;

	/* It exits on EOF; a keeper stuck past that is left to its death
	 * signal. */
	for (i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(5000);
}
