/*
 * keeper.c - the privileged half of pinshim (see keeper.h): a process
 * that holds the interception CA key and writes state_dir, and does
 * nothing else; and the worker's end of the channel to it.
 *
 * The keeper is forked before the worker reads the key or the network. It
 * keeps its user (root, when pinshim starts as root), is not dumpable (the
 * worker cannot ptrace it or read its memory even as the same user), and
 * answers one frame at a time: a mint when the name is a valid host name
 * or address literal, the key a P-256 point, and the rate bucket has a
 * token; a save only to the four files of enum keeper_file, bounded, the
 * feed and the key-set chain only if they keep trust where it is or move
 * it on (keeper_trust.c); a TOFU entry only for a host it has none for (or
 * with the same issuer, where the host's rule allows a new leaf).
 * Every signature is logged. It exits when the worker's end closes.
 *
 * Must never: sign for a name or key it did not check, write outside
 * state_dir's known files, or outlive the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/tofu.h"
#include "shim/keeper.h"
#include "shim/keeper_trust.h"
#include "shim/privdrop.h"
#include "shim/sandbox.h"
#include "shim/server.h"

#define SYNC_TIMEOUT	10	/* s: a keeper this slow is broken */
#define REPLY_MAX	(KEEPER_HEAD + TLS_CA_CERT_MAX + 16)
#define KEYS_MAX	(64 * 1024)	/* as feedsync reads pins.keys */
#define SMALL_MAX	64		/* pins.version, clock */

/* --- answering requests ------------------------------------------------ */

struct keeper_state {
	struct tls_ca_key	*key;		/* owned */
	char			*state_dir;	/* owned; NULL: none */
	size_t			 tofu_max;
	struct tofu		*tofu;		/* owned; opened on first use */
	struct keeper_trust	*trust;		/* owned; NULL: no state_dir */
	size_t			 feed_max;
	double			 tokens, last;	/* the mint bucket */
	unsigned long		 signed_, refused;
	bool			 ready;
};

struct keeper_state *
keeper_state_new(const struct conf *c, char *err, size_t errsz)
{
	struct keeper_state	*ks = xcalloc(1, sizeof(*ks));
	char			 why[512];

	if (c->ca_dir != NULL && (ks->key = tls_ca_key_load(c->ca_dir, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errsz, "interception CA: %s", why);
		free(ks);
		return NULL;
	}
	ks->state_dir = c->state_dir != NULL ? xstrdup(c->state_dir) : NULL;
	if (ks->state_dir != NULL && state_clean_temps(ks->state_dir) > 0)
		log_info("keeper: removed temporary files an interrupted write "
		    "left in %s", ks->state_dir);
	if (ks->state_dir != NULL)
		ks->trust = keeper_trust_new(c);
	ks->tofu_max = c->tofu_max;
	ks->feed_max = c->feed.max_size;
	ks->tokens = KEEPER_MINT_BURST;
	ks->last = -1;
	return ks;
}

void
keeper_state_free(struct keeper_state *ks)
{
	if (ks == NULL)
		return;
	tls_ca_key_free(ks->key);
	tofu_free(ks->tofu);
	keeper_trust_free(ks->trust);
	free(ks->state_dir);
	free(ks);
}

static size_t
reply(const struct keeper_msg *req, enum keeper_type type, int err,
    const void *data, size_t len, uint8_t *out, size_t sz)
{
	struct keeper_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.id = req->id;
	m.err = err;
	m.data = data;
	m.len = len;
	return keeper_encode(&m, out, sz);
}

static size_t
refuse(struct keeper_state *ks, const struct keeper_msg *req, int err,
    uint8_t *out, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static size_t
refuse(struct keeper_state *ks, const struct keeper_msg *req, int err,
    uint8_t *out, size_t sz, const char *fmt, ...)
{
	char	 text[KEEPER_TEXT_MAX + 1];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ks->refused++;
	log_warn("keeper: refused: %s", text);
	return reply(req, KEEPER_ERR, err, text, strlen(text), out, sz);
}

/* The token bucket: KEEPER_MINT_BURST, refilled KEEPER_MINT_RATE a
 * second. */
static bool
take_token(struct keeper_state *ks, double now)
{
	if (ks->last >= 0 && now > ks->last) {
		ks->tokens += (now - ks->last) * KEEPER_MINT_RATE;
		if (ks->tokens > KEEPER_MINT_BURST)
			ks->tokens = KEEPER_MINT_BURST;
	}
	ks->last = now;
	if (ks->tokens < 1)
		return false;
	ks->tokens -= 1;
	return true;
}

static size_t
answer_mint(struct keeper_state *ks, const struct keeper_msg *m, double now,
    uint8_t *out, size_t sz)
{
	uint8_t		 der[TLS_CA_CERT_MAX];
	const char	*why;
	int		 n;

	if (ks->key == NULL)
		return refuse(ks, m, EINVAL, out, sz, "mint %s: no "
		    "interception CA", m->host);
	if (!take_token(ks, now))
		return refuse(ks, m, EAGAIN, out, sz, "mint %s: over %d new "
		    "names a second", m->host, KEEPER_MINT_RATE);
	if ((n = tls_ca_key_sign(ks->key, m->host, m->pub, TLS_CA_PUB_LEN,
	    der, sizeof(der), &why)) < 0)
		return refuse(ks, m, EINVAL, out, sz, "mint %.*s: %s", 64,
		    m->host, why);
	ks->signed_++;
	log_info("keeper: signed a leaf for %s (%lu since start)", m->host,
	    ks->signed_);
	return reply(m, KEEPER_OK, 0, der, (size_t)n, out, sz);
}

/* The two one-line files are checked here; the feed and the key-set
 * chain are signed, and proven again whenever they are read. pins.version
 * must be a version number, never below the highest feed version accepted
 * (a signing-role rotation lowers it, which only the feed can prove:
 * keeper_trust.c judges that); clock an RFC 3339 time at most a day past the
 * system clock, so a worker cannot date the device into a future where
 * every certificate has expired. The bound is the system clock's, not a
 * latest known time the worker's saves raised: a day per save would add
 * up. */
static bool
small_bad(const struct keeper_msg *m, char line[SMALL_MAX + 1],
    int64_t *when, const char **why)
{
	unsigned long	 v = 0;
	int64_t		 t = 0;

	if (m->file != KEEPER_FILE_FLOOR && m->file != KEEPER_FILE_CLOCK)
		return false;
	if (m->len == 0 || m->data[m->len - 1] != '\n' ||
	    memchr(m->data, '\0', m->len) != NULL ||
	    memchr(m->data, '\n', m->len) != m->data + m->len - 1) {
		*why = "not one line";
		return true;
	}
	memcpy(line, m->data, m->len - 1);
	line[m->len - 1] = '\0';
	if (m->file == KEEPER_FILE_FLOOR && !parse_uint(line, 0,
	    4294967295UL, &v)) {
		*why = "not a version number";
		return true;
	}
	if (m->file == KEEPER_FILE_CLOCK && !parse_rfc3339(line, &t)) {
		*why = "not an RFC 3339 time";
		return true;
	}
	/* As feedsync takes a signing-key feed's issued. */
	if (m->file == KEEPER_FILE_CLOCK &&
	    clock_too_far_ahead(t, time(NULL))) {
		*why = "over a day past the system clock";
		return true;
	}
	*when = m->file == KEEPER_FILE_FLOOR ? (int64_t)v : t;
	return false;
}

static size_t
answer_save(struct keeper_state *ks, const struct keeper_msg *m,
    uint8_t *out, size_t sz)
{
	const char	*name = keeper_file_name(m->file), *why;
	char		 line[SMALL_MAX + 1], text[KEEPER_TEXT_MAX];
	int64_t		 when = 0;
	size_t		 max = m->file == KEEPER_FILE_FEED ? ks->feed_max :
			    m->file == KEEPER_FILE_KEYS ? KEYS_MAX : SMALL_MAX;

	if (ks->state_dir == NULL)
		return refuse(ks, m, EINVAL, out, sz, "save %s: no state_dir",
		    name);
	if (m->len > max)
		return refuse(ks, m, EFBIG, out, sz, "save %s: %zu bytes, over "
		    "%zu", name, m->len, max);
	if (small_bad(m, line, &when, &why))
		return refuse(ks, m, EINVAL, out, sz, "save %s: %s", name, why);
	/* the version floor only rises, but for a proven signing-role
	 * replacement (keeper_trust.c) */
	if (m->file == KEEPER_FILE_FLOOR && !keeper_trust_floor_ok(ks->trust,
	    (unsigned long long)when, text, sizeof(text)))
		return refuse(ks, m, EINVAL, out, sz, "save %s: %s", name,
		    text);
	/* the feed and the chain: only what keeps trust where it is, or
	 * moves it on (keeper_trust.c) */
	if ((m->file == KEEPER_FILE_FEED || m->file == KEEPER_FILE_KEYS) &&
	    keeper_trust_save(ks->trust, m->file, m->data, m->len, text,
	    sizeof(text)) == -1)
		return refuse(ks, m, errno, out, sz, "%s", text);
	if (m->file != KEEPER_FILE_FEED && m->file != KEEPER_FILE_KEYS &&
	    file_replace(ks->state_dir, name, (const char *)m->data,
	    m->len) == -1)
		return refuse(ks, m, errno, out, sz, "save %s/%s: %s",
		    ks->state_dir, name, strerror(errno));
	if (m->file == KEEPER_FILE_CLOCK) {
		/* the keeper's dates (minted leaves, TOFU entries) follow
		 * what the worker persists, lowered too when it dropped a bad
		 * value; its bound does not */
		clock_reset();
		clock_raise((time_t)when);
	}
	log_debug("keeper: wrote %s/%s (%zu bytes)", ks->state_dir, name,
	    m->len);
	return reply(m, KEEPER_OK, 0, NULL, 0, out, sz);
}

/* A first use is recorded; an entry already there is replaced only by a
 * request that names its leaf (compare and swap: the worker saw it),
 * carries the same issuer, and is for a host whose rule takes a new leaf
 * from it (tofu_accept_issuer, or the leaf attested by observed), so a
 * worker cannot swap a known host's pins for an attacker's, nor pass a
 * rotation off as a first use. */
static size_t
answer_tofu(struct keeper_state *ks, const struct keeper_msg *m,
    uint8_t *out, size_t sz)
{
	const struct tofu_entry	*e;
	const char		*why;
	char			 canon[HOST_MAX + 1], text[KEEPER_TEXT_MAX];

	if (ks->state_dir == NULL)
		return refuse(ks, m, EINVAL, out, sz, "tofu: no state_dir");
	if (!host_canon(m->host, canon, sizeof(canon), &why) ||
	    strcmp(canon, m->host) != 0)
		return refuse(ks, m, EINVAL, out, sz, "tofu %.64s: not a "
		    "canonical host name", m->host);
	if (ks->tofu == NULL && (ks->tofu = tofu_open(ks->state_dir,
	    ks->tofu_max, NULL)) == NULL)
		return refuse(ks, m, EIO, out, sz, "tofu: %s/%s unreadable or "
		    "damaged", ks->state_dir, TOFU_FILE);
	tofu_refresh(ks->tofu);
	e = tofu_get(ks->tofu, m->host);
	if (e != NULL && memcmp(e->leaf.hash, m->leaf.hash, PIN_HASH_LEN) == 0 &&
	    e->has_issuer == m->has_issuer && (!e->has_issuer ||
	    memcmp(e->issuer.hash, m->issuer.hash, PIN_HASH_LEN) == 0))
		e = NULL;	/* what it has: written again, if it was not */
	if (e != NULL && (!m->replaces ||
	    memcmp(e->leaf.hash, m->old.hash, PIN_HASH_LEN) != 0))
		return refuse(ks, m, EEXIST, out, sz, "tofu %s: pinned already, "
		    "to another leaf than the worker knows", m->host);
	if (e != NULL && (!e->has_issuer || !m->has_issuer ||
	    memcmp(e->issuer.hash, m->issuer.hash, PIN_HASH_LEN) != 0))
		return refuse(ks, m, EEXIST, out, sz, "tofu %s: would replace "
		    "its pins with another issuer's", m->host);
	/* the same issuer is not enough: the host's rule must say so, or
	 * the worker could rotate any known host to a leaf of its choice */
	if (e != NULL && !keeper_trust_swap_ok(ks->trust, m->host, &m->leaf,
	    text, sizeof(text)))
		return refuse(ks, m, EEXIST, out, sz, "tofu %s: would replace "
		    "its leaf, but %s", m->host, text);
	/* the time is the keeper's own: the worker's is not evidence */
	if (tofu_put(ks->tofu, m->host, &m->leaf, m->has_issuer ? &m->issuer :
	    NULL, clock_now(), &why) == -1)
		/* in the keeper's memory but not on disk yet (the lock is
		 * busy, the disk full): written with its next entry */
		return refuse(ks, m, tofu_get(ks->tofu, m->host) != NULL ?
		    EAGAIN : ENOSPC, out, sz, "tofu %s: %s", m->host, why);
	log_info("keeper: recorded the TOFU pins of %s", m->host);
	return reply(m, KEEPER_OK, 0, NULL, 0, out, sz);
}

size_t
keeper_answer(struct keeper_state *ks, const struct keeper_msg *m,
    double now, uint8_t *out, size_t sz)
{
	switch (m->type) {
	case KEEPER_MINT:
		return answer_mint(ks, m, now, out, sz);
	case KEEPER_SAVE:
		return answer_save(ks, m, out, sz);
	case KEEPER_TOFU:
		return answer_tofu(ks, m, out, sz);
	default:
		return refuse(ks, m, EINVAL, out, sz, "not a request (type "
		    "%d)", (int)m->type);
	}
}

/* --- the keeper process ------------------------------------------------ */

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
		n = refuse(ks, &m, EINVAL, out, sizeof(out), "malformed "
		    "request: %s", why);
	else
		n = keeper_answer(ks, &m, mono(), out, sizeof(out));
	if (n == 0 || write_all(fd, out, n) == -1)
		return -1;
	return 0;
}

static void __attribute__((noreturn))
keeper_main(const struct conf *c, int afd, int sfd, pid_t worker)
{
	struct keeper_state	*ks = NULL;
	struct keeper_msg	 hello;
	struct pollfd		 pfd[2];
	uint8_t			 out[REPLY_MAX], *buf;
	char			 err[600];
	size_t			 max, n;
	int			 i;

	signal(SIGINT, SIG_IGN);	/* the worker stops; EOF stops us */
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != worker)
		_exit(0);		/* it died before the line above */
	(void)prctl(PR_SET_DUMPABLE, 0);
	memset(&hello, 0, sizeof(hello));
	clock_load(c->state_dir);	/* as the worker does, for dates */
	if (tls_init() == -1)
		snprintf(err, sizeof(err), "keeper: wolfSSL initialisation "
		    "failed");
	else if ((ks = keeper_state_new(c, err, sizeof(err))) != NULL &&
	    privdrop_caps(err, sizeof(err)) == 0 &&
	    sandbox_apply(err, sizeof(err)) == 0)
		ks->ready = true;
	if (ks == NULL || !ks->ready) {
		n = reply(&hello, KEEPER_ERR, EINVAL, err, strlen(err), out,
		    sizeof(out));
		(void)write_all(sfd, out, n);
		_exit(1);
	}
	n = reply(&hello, KEEPER_READY, 0, NULL, 0, out, sizeof(out));
	if (write_all(sfd, out, n) == -1)
		_exit(1);
	if (c->ca_dir != NULL)
		log_info("keeper: holding the interception CA key of %s (pid "
		    "%ld)", c->ca_dir, (long)getpid());
	else
		log_info("keeper: writing %s for the worker (pid %ld)",
		    c->state_dir, (long)getpid());
	max = (ks->feed_max > KEYS_MAX ? ks->feed_max : KEYS_MAX) + 64;
	buf = xcalloc(1, max);
	pfd[0].fd = afd;
	pfd[1].fd = sfd;
	for (;;) {
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++)
			if (pfd[i].revents != 0 &&
			    serve_one(ks, pfd[i].fd, buf, max) == -1)
				goto out;
	}
out:
	log_debug("keeper: the worker closed its end; exiting");
	_exit(0);
}

/* --- the worker's end ------------------------------------------------- */

struct keeper_mint {
	TAILQ_ENTRY(keeper_mint) entry;
	uint32_t		 id;
	char			 name[HOST_MAX + 1];
	struct tls_ca		*ca;
	uint8_t			 key[TLS_CA_LEAFKEY_MAX];
	int			 keylen;
	TAILQ_HEAD(, keeper_wait) waiters;
};

struct keeper {
	pid_t			 pid;
	uid_t			 uid;		/* the keeper runs as */
	size_t			 feed_max;	/* its [feed] max_size */
	int			 afd, sfd;
	struct bufferevent	*bev;		/* owned; on afd */
	struct server		*srv;		/* NULL until watched */
	uint32_t		 next_id;
	TAILQ_HEAD(, keeper_mint) mints;	/* in flight, oldest first */
	size_t			 nmints;
	unsigned long		 unminted;	/* names that got no leaf */
	bool			 gone;
};

struct keeper *
keeper_start(const struct conf *c, char *err, size_t errsz)
{
	struct keeper		*k;
	struct keeper_msg	 m;
	struct timeval		 tv = { SYNC_TIMEOUT, 0 };
	uint8_t			 buf[KEEPER_HEAD + KEEPER_TEXT_MAX + 8];
	int			 a[2], s[2];
	pid_t			 self = getpid();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == -1) {
		snprintf(err, errsz, "keeper: socketpair: %s", strerror(errno));
		return NULL;
	}
	fflush(NULL);
	k = xcalloc(1, sizeof(*k));
	TAILQ_INIT(&k->mints);
	k->uid = geteuid();
	k->feed_max = c->feed.max_size;
	if ((k->pid = fork()) == -1) {
		snprintf(err, errsz, "keeper: fork: %s", strerror(errno));
		goto bad;
	}
	if (k->pid == 0) {
		close(a[0]);
		close(s[0]);
		keeper_main(c, a[1], s[1], self);
	}
	close(a[1]);
	close(s[1]);
	k->afd = a[0];
	k->sfd = s[0];
	a[0] = s[0] = -1;
	(void)setsockopt(k->sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(k->sfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* READY, or ERR with why the key could not be loaded */
	if (read_frame(k->sfd, buf, sizeof(buf), &m) == -1) {
		snprintf(err, errsz, "keeper: exited before it was ready");
		keeper_stop(k);
		return NULL;
	}
	if (m.type != KEEPER_READY) {
		snprintf(err, errsz, "%.*s", (int)m.len, (const char *)m.data);
		keeper_stop(k);
		return NULL;
	}
	return k;
bad:
	close(a[0]);
	close(a[1]);
	close(s[0]);
	close(s[1]);
	free(k);
	return NULL;
}

pid_t
keeper_pid(const struct keeper *k)
{
	return k->pid;
}

unsigned long
keeper_unminted(const struct keeper *k)
{
	return k->unminted;
}

size_t
keeper_feed_max(const struct keeper *k)
{
	return k->feed_max;
}

uid_t
keeper_uid(const struct keeper *k)
{
	return k->uid;
}

bool
keeper_gone(const struct keeper *k)
{
	return k->gone;
}

static void
lost(struct keeper *k, const char *why)
{
	if (k->gone)
		return;
	k->gone = true;
	log_err("keeper (pid %ld) %s: stopping, so the service manager "
	    "restarts both", (long)k->pid, why);
	if (k->srv != NULL) {
		k->srv->failed = true;
		/* the stop drains relays (before the loop runs, daemon_run
		 * sees failed and does not start it) */
		event_active(k->srv->stop, 0, 0);
	}
}

static void
mint_finish(struct keeper_mint *km, bool ok)
{
	struct keeper_wait	*w;

	explicit_bzero(km->key, sizeof(km->key));
	while ((w = TAILQ_FIRST(&km->waiters)) != NULL) {
		TAILQ_REMOVE(&km->waiters, w, entry);
		w->mint = NULL;
		w->done(w, ok);		/* may free w's connection */
	}
	free(km);
}

static void
on_reply(struct bufferevent *bev, void *arg)
{
	struct keeper		*k = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct keeper_mint	*km;
	struct keeper_msg	 m;
	uint8_t			 hdr[4], *frame;
	const char		*why;
	long			 len;
	bool			 ok;

	while (!k->gone && evbuffer_copyout(in, hdr, 4) == 4) {
		len = keeper_frame_len(hdr, 4);
		if (len < KEEPER_HEAD - 4 || len > REPLY_MAX) {
			lost(k, "sent a malformed reply");
			return;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			return;
		frame = evbuffer_pullup(in, 4 + len);
		if (keeper_parse(frame + 4, (size_t)len, &m, &why) == -1 ||
		    (km = TAILQ_FIRST(&k->mints)) == NULL || km->id != m.id ||
		    (m.type != KEEPER_OK && m.type != KEEPER_ERR)) {
			lost(k, "sent a reply that answers nothing");
			return;
		}
		TAILQ_REMOVE(&k->mints, km, entry);
		k->nmints--;
		ok = m.type == KEEPER_OK && tls_ca_leaf_put(km->ca, km->name,
		    m.data, m.len, km->key, (size_t)km->keylen) == 0;
		if (!ok) {
			k->unminted++;
			log_warn("intercept host=%s: no leaf: %.*s", km->name,
			    m.type == KEEPER_ERR ? (int)m.len : 22,
			    m.type == KEEPER_ERR ? (const char *)m.data :
			    "an unusable certificate");
		}
		evbuffer_drain(in, 4 + (size_t)len);
		mint_finish(km, ok);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	lost(arg, what & BEV_EVENT_EOF ? "exited" : "channel failed");
}

void
keeper_watch(struct keeper *k, struct server *srv)
{
	k->srv = srv;
	evutil_make_socket_nonblocking(k->afd);
	k->bev = xptr(bufferevent_socket_new(srv->base, k->afd, 0));
	bufferevent_setcb(k->bev, on_reply, NULL, on_event, k);
	bufferevent_enable(k->bev, EV_READ);
}

void
keeper_mint(struct keeper *k, struct tls_ca *ca, const char *name,
    struct keeper_wait *w)
{
	struct keeper_mint	*km;
	struct keeper_msg	 m;
	uint8_t			 pub[TLS_CA_PUB_LEN], frame[KEEPER_HEAD + 8 +
				    HOST_MAX + TLS_CA_PUB_LEN];
	size_t			 n;

	TAILQ_FOREACH(km, &k->mints, entry)
		if (strcmp(km->name, name) == 0)
			break;
	if (km != NULL) {
		w->mint = km;
		TAILQ_INSERT_TAIL(&km->waiters, w, entry);
		return;
	}
	km = xcalloc(1, sizeof(*km));
	TAILQ_INIT(&km->waiters);
	km->ca = ca;
	km->id = ++k->next_id;
	snprintf(km->name, sizeof(km->name), "%s", name);
	memset(&m, 0, sizeof(m));
	m.type = KEEPER_MINT;
	m.id = km->id;
	snprintf(m.host, sizeof(m.host), "%s", name);
	m.pub = pub;
	w->mint = km;
	TAILQ_INSERT_TAIL(&km->waiters, w, entry);
	/* Bounded, so the keeper's answers (~700 bytes each) always fit
	 * the socket's buffer while a save waits for its own: the keeper,
	 * which writes them blocking, never stalls on a full one. */
	if (k->nmints >= KEEPER_MINTS_IN_FLIGHT) {
		k->unminted++;
		log_warn("intercept host=%s: no leaf: %zu names already wait "
		    "for the keeper", name, k->nmints);
		mint_finish(km, false);
		return;
	}
	if (k->gone || k->bev == NULL ||
	    (km->keylen = tls_ca_leaf_key(ca, pub, km->key,
	    sizeof(km->key))) < 0 ||
	    (n = keeper_encode(&m, frame, sizeof(frame))) == 0 ||
	    bufferevent_write(k->bev, frame, n) == -1) {
		mint_finish(km, false);
		return;
	}
	TAILQ_INSERT_TAIL(&k->mints, km, entry);
	k->nmints++;
}

void
keeper_mint_cancel(struct keeper_wait *w)
{
	if (w->mint == NULL)
		return;
	TAILQ_REMOVE(&w->mint->waiters, w, entry);
	w->mint = NULL;	/* the mint goes on: its leaf will be cached */
}

/* One request on the sync channel and its answer (older answers to
 * requests that timed out are skipped). 0, or -1 with errno and, for an
 * ERR, its text in why. */
static int
sync_call(struct keeper *k, struct keeper_msg *req, char *why, size_t whysz)
{
	struct keeper_msg	 m;
	uint8_t			*frame, buf[KEEPER_HEAD + KEEPER_TEXT_MAX + 8];
	size_t			 n, sz = KEEPER_HEAD + 8 + HOST_MAX + 128 +
				    req->len;

	snprintf(why, whysz, "the keeper is gone");
	if (k->gone) {
		errno = EPIPE;
		return -1;
	}
	req->id = ++k->next_id;
	frame = xcalloc(1, sz);
	n = keeper_encode(req, frame, sz);
	errno = EPROTO;		/* unless a read or write says better */
	if (n == 0 || write_all(k->sfd, frame, n) == -1) {
		free(frame);
		goto broken;
	}
	free(frame);
	do {
		if (read_frame(k->sfd, buf, sizeof(buf), &m) == -1)
			goto broken;
	} while (m.id != req->id);	/* answers to requests timed out */
	if (m.type == KEEPER_OK)
		return 0;
	snprintf(why, whysz, "%.*s", (int)m.len, (const char *)m.data);
	errno = m.err != 0 ? m.err : EIO;
	return -1;
broken:
	n = (size_t)errno;
	lost(k, n == ETIMEDOUT ? "did not answer in 10 s" : n == EPROTO ?
	    "broke the channel's framing" : "exited");
	errno = (int)n;
	return -1;
}

int
keeper_save(struct keeper *k, enum keeper_file f, const void *buf,
    size_t len)
{
	struct keeper_msg	 m;
	char			 why[KEEPER_TEXT_MAX + 1];

	memset(&m, 0, sizeof(m));
	m.type = KEEPER_SAVE;
	m.file = f;
	m.data = buf;
	m.len = len;
	return sync_call(k, &m, why, sizeof(why));
}

int
keeper_tofu(void *arg, const struct tofu_entry *e, const struct pin *replaces,
    const char **why)
{
	static char		 text[KEEPER_TEXT_MAX + 1];
	struct keeper		*k = arg;
	struct keeper_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = KEEPER_TOFU;
	snprintf(m.host, sizeof(m.host), "%s", e->host);
	m.leaf = e->leaf;
	if ((m.has_issuer = e->has_issuer))
		m.issuer = e->issuer;
	m.since = e->since;
	if ((m.replaces = replaces != NULL))
		m.old = *replaces;
	if (sync_call(k, &m, text, sizeof(text)) == -1) {
		*why = text;
		/* the keeper said no (bad host, another issuer's pins, full):
		 * asking again would not change that */
		return errno == EEXIST || errno == EINVAL || errno == ENOSPC ?
		    TOFU_REFUSED : -1;
	}
	return 0;
}

int
state_save(struct server *srv, enum keeper_file f, const void *buf,
    size_t len)
{
	if (srv->keeper != NULL)
		return keeper_save(srv->keeper, f, buf, len);
	return file_replace(srv->conf->state_dir, keeper_file_name(f), buf,
	    len);
}

int
state_clean_temps(const char *dir)
{
	int	 n = 0, f;

	for (f = 1; f < KEEPER_FILE_N; f++)
		n += file_clean_temps(dir, keeper_file_name(f));
	return n + file_clean_temps(dir, FEED_KEYSET);
}

void
keeper_stop(struct keeper *k)
{
	struct keeper_mint	*km;
	int			 i, st;

	if (k == NULL)
		return;
	k->gone = true;
	while ((km = TAILQ_FIRST(&k->mints)) != NULL) {
		TAILQ_REMOVE(&k->mints, km, entry);
		k->nmints--;
		mint_finish(km, false);
	}
	if (k->bev != NULL)
		bufferevent_free(k->bev);
	close(k->afd);
	close(k->sfd);
	/* It exits on EOF; a keeper stuck past that is left to its
	 * death signal. */
	for (i = 0; i < 200 && waitpid(k->pid, &st, WNOHANG) == 0; i++)
		usleep(5000);
	free(k);
}
