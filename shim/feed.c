/*
 * feed.c - the device side of the signed feed: load the cached feed before
 * anything is served, fetch fresh ones on a jittered timer, accept only
 * what the contract allows, persist it, and swap the pin snapshot.
 *
 * A feed is used only if its signature verifies with a configured key, its
 * version is greater than the one in force, it has not expired, and it
 * parses completely; it is written to state_dir (temp, fsync, rename, fsync
 * of the directory) before it is put in force. Anything else is rejected
 * whole with the reason logged, and the last good feed stays.
 *
 * Fetching never blocks relaying: the connection is opened by upstream.c
 * (pinned to [feed] pins, plus the feed's own pins for that host), TLS is
 * carried by a relay onto a socketpair, and http.c speaks HTTP on the other
 * end. The fallback URL may be plain HTTP: the signature protects it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

#include "../pins/feed.h"
#include "feed.h"
#include "http.h"
#include "log.h"
#include "relay.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define FEED_CACHE	"pins.feed"
#define BACKOFF_FIRST	15		/* seconds; doubles per failure */

struct fetch;

struct feed_state {
	struct server		*srv;
	struct conf		*current;	/* feed in force; owned */
	char			*raw;		/* its exact bytes; owned */
	size_t			 rawlen;
	char			*etag[2];	/* per source; owned */
	char			*lastmod[2];	/* per source; owned */
	struct event		*timer;		/* owned */
	unsigned		 failures;
	struct fetch		*fetch;		/* in flight, or NULL */
};

struct fetch {
	struct feed_state	*fs;
	int			 src;		/* 0 url, 1 fallback_url */
	const char		*url;		/* borrowed from conf */
	char			 host[HOST_MAX + 1];
	char			*path;		/* owned */
	uint16_t		 port;
	bool			 tls;
	struct pinset		 pins;		/* owned */
	struct upstream		*up;		/* pending, or NULL */
	struct http_req		*http;		/* pending, or NULL */
};

/* The TLS half of a fetch: a relay between a socketpair end and the
 * pinned upstream, tracked like any connection so exit can stop it. */
struct feed_pipe {
	struct conn		 conn;		/* first */
	struct server		*srv;
	struct relay		*relay;
};

static void	fetch_start(struct feed_state *, int src);

/* Put base + feed (+ this device's override) in force for new conns. */
static void
feed_apply(struct feed_state *fs)
{
	struct server		*srv = fs->srv;
	const struct feed_meta	*m = fs->current ? &fs->current->meta : NULL;
	struct snapshot		*s;
	bool			 off = false;
	size_t			 i;

	for (i = 0; m != NULL && srv->conf->device_id != NULL &&
	    i < m->ndevices; i++)
		if (strcmp(m->devices[i].id, srv->conf->device_id) == 0)
			off = m->devices[i].pinning_off;
	s = snapshot_merge(srv->conf->snap,
	    fs->current ? fs->current->snap : NULL, off);
	snapshot_unref(srv->snap);
	srv->snap = s;
	if (off)
		log_warn("feed: device %s has pinning off (feed override): "
		    "pin and pin-only hosts get CA checks only",
		    srv->conf->device_id);
}

static void
log_stale(struct feed_state *fs)
{
	char	 t[32];

	if (fs->current == NULL || fs->current->meta.expires > time(NULL))
		return;
	format_rfc3339(fs->current->meta.expires, t, sizeof(t));
	log_warn("feed: STALE: version %llu expired at %s and no fresh feed "
	    "could be fetched; its pins stay in force", fs->current->meta.version,
	    t);
}

/* Verify a signed feed against the configured keys. NULL: *why says. */
static struct conf *
feed_check(struct feed_state *fs, const char *name, const char *buf,
    size_t len, char *why, size_t whysz, int *key)
{
	const struct feed_conf	*fc = &fs->srv->conf->feed;
	struct conf		*c;
	char			*errs = NULL;
	size_t			 elen = 0;
	FILE			*f = open_memstream(&errs, &elen);

	if (f == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	c = feed_open(name, buf, len, (const uint8_t (*)[FEED_KEY_LEN])fc->keys,
	    fc->nkeys, f, key);
	fclose(f);
	if (c == NULL) {
		/* first message is the reason; the rest go to debug */
		errs[strcspn(errs, "\n")] = '\0';
		snprintf(why, whysz, "%s", errs);
	}
	free(errs);
	return c;
}

enum verdict { FEED_ACCEPTED, FEED_UNCHANGED, FEED_REJECTED };

/* The acceptance rules, in order. On FEED_ACCEPTED the feed is persisted
 * and in force. */
static enum verdict
feed_consider(struct feed_state *fs, const char *src, const char *buf,
    size_t len, char *why, size_t whysz)
{
	struct conf	*c;
	char		 t[32];
	int		 key;

	if ((c = feed_check(fs, src, buf, len, why, whysz, &key)) == NULL)
		return FEED_REJECTED;
	if (fs->current != NULL && c->meta.version <= fs->current->meta.version) {
		enum verdict v = c->meta.version == fs->current->meta.version ?
		    FEED_UNCHANGED : FEED_REJECTED;

		snprintf(why, whysz, v == FEED_UNCHANGED ? "version %llu is "
		    "the one in force" : "rollback refused: version %llu is "
		    "older than %llu in force", c->meta.version,
		    fs->current->meta.version);
		conf_free(c);
		return v;
	}
	if (c->meta.expires <= time(NULL)) {
		format_rfc3339(c->meta.expires, t, sizeof(t));
		snprintf(why, whysz, "version %llu expired at %s",
		    c->meta.version, t);
		conf_free(c);
		return FEED_REJECTED;
	}
	/* Persist before use: a crash now leaves the old file or this one. */
	if (feed_write_atomic(fs->srv->conf->state_dir, FEED_CACHE, buf,
	    len) == -1) {
		snprintf(why, whysz, "cannot persist to %s/%s: %s",
		    fs->srv->conf->state_dir, FEED_CACHE, strerror(errno));
		conf_free(c);
		return FEED_REJECTED;
	}
	conf_free(fs->current);
	free(fs->raw);
	fs->current = c;
	fs->raw = xcalloc(1, len);
	memcpy(fs->raw, buf, len);
	fs->rawlen = len;
	feed_apply(fs);
	format_rfc3339(c->meta.expires, t, sizeof(t));
	log_info("feed: version %llu in force from %s: %zu host rule(s), "
	    "signed by key %d, expires %s", c->meta.version, src,
	    c->snap->nrules, key + 1, t);
	return FEED_ACCEPTED;
}

/* --- scheduling -------------------------------------------------------- */

static double
jitter(double lo, double hi)
{
	uint32_t	 r;

	evutil_secure_rng_get_bytes(&r, sizeof(r));
	return lo + (hi - lo) * ((double)r / 4294967295.0);
}

static void
schedule(struct feed_state *fs, bool failed)
{
	unsigned long	 refresh = fs->srv->conf->feed.refresh;
	double		 d;
	struct timeval	 tv;

	if (failed) {
		/* 15 s, 30 s, 60 s, ... never slower than refresh */
		unsigned	 shift = fs->failures < 16 ? fs->failures : 16;
		double		 b = (double)BACKOFF_FIRST * (1u << shift);

		fs->failures++;
		d = (b < (double)refresh ? b : (double)refresh) *
		    jitter(0.5, 1.0);
	} else {
		fs->failures = 0;
		d = (double)refresh * jitter(0.75, 1.25);
	}
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	evtimer_add(fs->timer, &tv);
	log_debug("feed: next fetch in %.0fs", d);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fetch_start(arg, 0);
}

/* --- one fetch --------------------------------------------------------- */

static void
fetch_free(struct fetch *f)
{
	if (f->up != NULL)
		upstream_cancel(f->up);
	if (f->http != NULL)
		http_cancel(f->http);
	pinset_free(&f->pins);
	free(f->path);
	free(f);
}

static void
fetch_end(struct fetch *f, enum verdict v, const char *why)
{
	struct feed_state	*fs = f->fs;
	int			 src = f->src;
	bool			 have_fallback = fs->srv->conf->feed.fallback_url
			    != NULL;

	if (v == FEED_REJECTED)
		log_warn("feed: %s: %s%s", f->url, why, fs->current ?
		    "; keeping the feed in force" : "; bootstrap pins stay");
	else if (v == FEED_UNCHANGED)
		log_info("feed: %s: unchanged (%s)", f->url, why);
	f->up = NULL;
	f->http = NULL;
	fetch_free(f);
	fs->fetch = NULL;
	if (v == FEED_REJECTED && src == 0 && have_fallback) {
		fetch_start(fs, 1);
		return;
	}
	if (v == FEED_REJECTED)
		log_stale(fs);
	schedule(fs, v == FEED_REJECTED);
}

static void
fetch_http_done(struct http_result *r, void *arg)
{
	struct fetch		*f = arg;
	struct feed_state	*fs = f->fs;
	char			 why[512];
	enum verdict		 v;

	f->http = NULL;
	if (r->error != NULL) {
		fetch_end(f, FEED_REJECTED, r->error);
		return;
	}
	if (r->status == 304) {
		fetch_end(f, FEED_UNCHANGED, "304 Not Modified");
		return;
	}
	if (r->status != 200) {
		snprintf(why, sizeof(why), "HTTP status %d", r->status);
		fetch_end(f, FEED_REJECTED, why);
		return;
	}
	v = feed_consider(fs, f->url, (const char *)evbuffer_pullup(r->body,
	    -1), evbuffer_get_length(r->body), why, sizeof(why));
	if (v != FEED_REJECTED) {
		/* Remember validators only for a feed we have in force. */
		free(fs->etag[f->src]);
		free(fs->lastmod[f->src]);
		fs->etag[f->src] = r->etag ? xstrdup(r->etag) : NULL;
		fs->lastmod[f->src] = r->last_modified ?
		    xstrdup(r->last_modified) : NULL;
	}
	fetch_end(f, v, why);
}

static void
pipe_done(void *arg, const char *how, int failed, uint64_t up, uint64_t down)
{
	struct feed_pipe	*p = arg;

	(void)failed;
	log_debug("feed: connection %s (up=%llu down=%llu)", how,
	    (unsigned long long)up, (unsigned long long)down);
	server_conn_del(p->srv, &p->conn);
	free(p);
}

static void
pipe_abort(struct conn *c)
{
	relay_abort(((struct feed_pipe *)c)->relay);
}

static void
fetch_connected(struct upstream_result *r, void *arg)
{
	struct fetch	*f = arg;
	struct server	*srv = f->fs->srv;
	int		 sp[2], fd = r->fd;

	f->up = NULL;
	upstream_log(r, "feed", "-", f->host, f->port);
	if (r->fail != UP_OK) {
		char why[600];

		snprintf(why, sizeof(why), "%s: %s", r->reason, r->detail);
		fetch_end(f, FEED_REJECTED, why);
		return;
	}
	if (r->ssl != NULL) {
		struct feed_pipe *p;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, sp) == -1) {
			wolfSSL_free(r->ssl);
			close(r->fd);
			fetch_end(f, FEED_REJECTED, strerror(errno));
			return;
		}
		p = xcalloc(1, sizeof(*p));
		p->srv = srv;
		p->conn.abort = pipe_abort;
		server_conn_add(srv, &p->conn);
		p->relay = relay_start(srv->base, sp[0], NULL, r->fd, r->ssl,
		    pipe_done, p);
		fd = sp[1];
	}
	f->http = http_get(srv->base, fd, f->host, f->path,
	    f->fs->etag[f->src], f->fs->lastmod[f->src],
	    srv->conf->feed.max_size, (unsigned)srv->conf->feed.timeout,
	    fetch_http_done, f);
}

static void
fetch_start(struct feed_state *fs, int src)
{
	const struct feed_conf	*fc = &fs->srv->conf->feed;
	struct fetch		*f = xcalloc(1, sizeof(*f));
	struct evhttp_uri	*u;
	struct upstream_opts	 opts;
	struct verdict_policy	 vp;
	const char		*why, *q;
	int			 port;
	size_t			 i;

	f->fs = fs;
	f->src = src;
	f->url = src == 0 ? fc->url : fc->fallback_url;
	fs->fetch = f;
	/* conf checked the URL; re-parse for its parts */
	if ((u = evhttp_uri_parse_with_flags(f->url, 0)) == NULL) {
		fetch_end(f, FEED_REJECTED, "unparsable URL");
		return;
	}
	f->tls = strcmp(evhttp_uri_get_scheme(u), "https") == 0;
	port = evhttp_uri_get_port(u);
	f->port = (uint16_t)(port > 0 ? port : f->tls ? 443 : 80);
	q = evhttp_uri_get_query(u);
	f->path = xcalloc(1, strlen(evhttp_uri_get_path(u)) + 2 +
	    (q ? strlen(q) + 1 : 0));
	sprintf(f->path, "%s%s%s", *evhttp_uri_get_path(u) ?
	    evhttp_uri_get_path(u) : "/", q ? "?" : "", q ? q : "");
	if (!host_normalize(evhttp_uri_get_host(u), f->host, sizeof(f->host),
	    &why) && !host_is_ip(evhttp_uri_get_host(u))) {
		evhttp_uri_free(u);
		fetch_end(f, FEED_REJECTED, why);
		return;
	}
	if (host_is_ip(evhttp_uri_get_host(u)))
		snprintf(f->host, sizeof(f->host), "%s",
		    evhttp_uri_get_host(u));
	evhttp_uri_free(u);

	/* url: pinned to [feed] pins and the feed's own pins for the host;
	 * fallback_url: CA-checked only (the signature protects it). */
	memset(&opts, 0, sizeof(opts));
	opts.plain = !f->tls;
	opts.policy = POLICY_CA;
	if (src == 0) {
		for (i = 0; i < fc->pins.n; i++)
			pinset_add(&f->pins, &fc->pins.pins[i]);
		snapshot_resolve(fs->srv->snap, f->host, time(NULL), &vp);
		if (fs->current != NULL && vp.rule != NULL &&
		    (vp.policy == POLICY_PIN || vp.policy == POLICY_PIN_ONLY))
			for (i = 0; i < vp.rule->pins.n; i++)
				pinset_add(&f->pins, &vp.rule->pins.pins[i]);
		if (f->pins.n > 0)
			opts.policy = POLICY_PIN;
	}
	opts.pins = &f->pins;
	log_debug("feed: fetching %s", f->url);
	f->up = upstream_open(fs->srv, f->host, f->port, &opts,
	    fetch_connected, f);
}

/* --- life cycle -------------------------------------------------------- */

static const struct timeval now = { 0, 0 };

struct feed_state *
feed_start(struct server *srv)
{
	struct feed_state	*fs;
	char			 path[4096], why[512], t[32];
	char			*buf;
	size_t			 len;
	int			 key;

	if (!srv->conf->feed.present)
		return NULL;
	fs = xcalloc(1, sizeof(*fs));
	fs->srv = srv;
	if ((fs->timer = evtimer_new(srv->base, on_timer, fs)) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/%s", srv->conf->state_dir,
	    FEED_CACHE);
	buf = feed_read_file(path, srv->conf->feed.max_size, &len, NULL);
	if (buf == NULL) {
		log_info("feed: no cached feed at %s (%s); bootstrap pins "
		    "apply until the first fetch", path, strerror(errno));
	} else if ((fs->current = feed_check(fs, path, buf, len, why,
	    sizeof(why), &key)) == NULL) {
		log_err("feed: cached feed rejected: %s; bootstrap pins "
		    "apply until a good feed is fetched", why);
		free(buf);
	} else {
		fs->raw = buf;
		fs->rawlen = len;
		format_rfc3339(fs->current->meta.expires, t, sizeof(t));
		log_info("feed: cached version %llu in force: %zu host "
		    "rule(s), expires %s", fs->current->meta.version,
		    fs->current->snap->nrules, t);
		log_stale(fs);
	}
	feed_apply(fs);
	/* First fetch at once: the cache may be old or missing. */
	evtimer_add(fs->timer, &now);
	return fs;
}

void
feed_reload(struct feed_state *fs)
{
	char	 why[512];
	int	 key;

	if (fs == NULL)
		return;
	/* The keys may have changed: what is in force must still verify. */
	if (fs->current != NULL) {
		struct conf *c = feed_check(fs, "feed in force", fs->raw,
		    fs->rawlen, why, sizeof(why), &key);

		if (c == NULL) {
			log_err("feed: after reload the feed in force no "
			    "longer verifies (%s); dropped, bootstrap pins "
			    "apply", why);
			conf_free(fs->current);
			fs->current = NULL;
		} else
			conf_free(c);
	}
	feed_apply(fs);
	if (fs->fetch != NULL) {
		fetch_free(fs->fetch);
		fs->fetch = NULL;
	}
	event_del(fs->timer);
	fs->failures = 0;
	evtimer_add(fs->timer, &now);
}

void
feed_stop(struct feed_state *fs)
{
	int	 i;

	if (fs == NULL)
		return;
	if (fs->fetch != NULL)
		fetch_free(fs->fetch);
	if (fs->timer != NULL)
		event_free(fs->timer);
	conf_free(fs->current);
	free(fs->raw);
	for (i = 0; i < 2; i++) {
		free(fs->etag[i]);
		free(fs->lastmod[i]);
	}
	free(fs);
}
