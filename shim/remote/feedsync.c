/*
 * feedsync.c - the device side of the signed feed: load the cached feed before
 * anything is served, fetch fresh ones on a jittered timer, accept only
 * what the contract allows, persist it, and swap the pin snapshot.
 *
 * Whether a file is accepted is pins/feed_accept.c's decision (the one
 * copy of the rules, which `feed verify` asks too); this file gives it
 * what the device trusts and enforces now and carries out the verdict. An
 * accepted feed is written to state_dir (temp, fsync, rename, fsync of
 * the directory) before it is put in force, and a key set it moved to
 * after it. Anything else is rejected whole with the reason logged, and
 * the last good feed stays.
 *
 * The keeper writes state_dir, and the loop never waits for it: a feed
 * judged acceptable waits for its write's answer, then for the writes of
 * the version floor, key-set chain and clock it moved (each tried again
 * with the next feed when it failed), and goes in force after them, as
 * when they were written in line (its fetch is in flight and a reload is
 * held until then).
 *
 * Fetching never blocks relaying: web.c opens the connection through
 * net/upstream.c (pinned to [feed] pins, plus the feed's own pins for that
 * host) and speaks HTTP over it. The fallback URL may be plain HTTP: the
 * signature protects it.
 *
 * The latest known time (base/clock.c) it persists in state_dir/clock is
 * only ever what accepted feeds' issued times attest: a system clock that
 * ran ahead for a while leaves nothing behind once it is corrected.
 *
 * Must never: put a feed in force before it is persisted, accept one that
 * is unsigned, older than the highest version accepted, or expired, trust
 * a key set older than one it trusted (pins.keyset, which the keeper
 * keeps, says which it last trusted), or persist a time no signed feed
 * attests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/util.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "pins/feed_accept.h"
#include "shim/proc/inforce.h"
#include "shim/keeper/keeper.h"
#include "shim/keeper/keeper_wire.h"	/* state_clean_temps */
#include "shim/remote/feedsync.h"
#include "shim/remote/report.h"
#include "shim/remote/web.h"
#include "shim/proc/server.h"

#define BACKOFF_FIRST	15		/* seconds; doubles per failure */

struct fetch;


struct feedsync {
	struct server		*srv;
	struct feed_body	*current;	/* feed in force; owned */
	char			*raw;		/* its exact bytes; owned */
	size_t			 rawlen;
	char			*etag[2];	/* per source; owned */
	char			*lastmod[2];	/* per source; owned */
	struct event		*timer;		/* owned */
	unsigned		 failures;
	struct fetch		*fetch;		/* in flight, or NULL */
	unsigned long long	 floor;		/* highest version accepted */
	bool			 floor_dirty;	/* not yet in FEED_FLOOR */
	bool			 keys_dirty;	/* chain not yet in FEED_KEYS */
	enum keeper_file	 trust_saving;	/* sent, answer to come; 0: none */
	unsigned long long	 floor_sent;	/* the floor in that save */
	unsigned long		 chain_gen;	/* changes of the chain */
	unsigned long		 chain_sent;	/* chain_gen in that save */
	bool			 clock_saving;	/* sent, answer to come */
	time_t			 clock_sent;
	bool			 reload_held;	/* came while a feed was saved */
	struct feed_keyset	 keys;		/* trusted now */
	struct feed_keyset	 keyfloor;	/* pins.keyset; version 0: none */
	bool			 chain_lost;	/* keys from keyfloor, no chain */
	char			*chain;		/* the updates to it; owned */
	size_t			 chainlen;
	time_t			 clock_saved;	/* latest known time on disk */
	bool			 clock_vouched;	/* a feed attests the floor */
	char			*source;	/* of the feed in force; owned */
	char			*last_error;	/* owned, or NULL */
	time_t			 last_success;
	unsigned long long	 fetches[FEED_FETCH_OUTCOMES];
};

const char *const feed_outcome_names[FEED_FETCH_OUTCOMES] = {
	"accepted", "unchanged", "rejected", "failed",
};

struct fetch {
	struct feedsync	*fs;
	int			 src;		/* 0 url, 1 fallback_url */
	const char		*url;		/* borrowed from conf */
	bool			 conditional;	/* validators were sent */
	bool			 came;		/* a feed body was judged */
	struct web_req		*web;		/* pending, or NULL */
	char			*etag, *lastmod; /* the answer's; owned */
	/* accepted, its writes to state_dir sent (saving), put in force
	 * when the keeper answered them: */
	bool			 saving;
	bool			 saved;		/* pins.feed written */
	struct feed_decision	*dec;		/* owned; its verdict */
	char			*buf;		/* its bytes; owned */
	size_t			 len;
};

static void	fetch_start(struct feedsync *, int src);
static void	fetch_judged(struct fetch *, enum feed_verdict,
		    const char *why);
static void	clock_persist(struct feedsync *);
static void	trust_persist(struct feedsync *);
static void	feed_settle(struct feedsync *);

/* Put base + feed (+ this device's override) in force for new conns:
 * snap if the acceptance already made it (a reference taken over), else
 * made here. */
static void
feed_apply(struct feedsync *fs, struct snapshot *snap)
{
	struct server		*srv = fs->srv;
	const struct feed_body	*b = fs->current;
	struct inforce_next	 next;
	char			 status[128];

	if (b != NULL)
		snprintf(status, sizeof(status), "feed version %llu in force, "
		    "%zu host rule(s)", b->version, b->snap->nrules);
	else
		snprintf(status, sizeof(status), "bootstrap pins (no feed in "
		    "force)");
	memset(&next, 0, sizeof(next));
	next.snap = snap != NULL ? snap : feed_body_snapshot(srv->conf->snap,
	    b, srv->conf->device_id);
	next.status = status;
	if (feed_body_pinning_off(b, srv->conf->device_id))
		log_warn("feed: device %s has pinning off (feed override): "
		    "pin and pin-only hosts get CA checks only",
		    srv->conf->device_id);
	inforce_apply(srv, &next);
	report_set_feed(srv->rep, b);
}

static void
log_stale(struct feedsync *fs)
{
	char	 t[32];

	if (fs->current == NULL || fs->current->expires > clock_now())
		return;
	format_rfc3339(fs->current->expires, t, sizeof(t));
	log_warn("feed: STALE: version %llu expired at %s and no fresh feed "
	    "could be fetched; its pins stay in force", fs->current->version,
	    t);
}

/* What a check writes to its FILE; the first line is the reason, the
 * rest (details of the same failure) go. */
struct reason {
	char	*text;
	size_t	 len;
	FILE	*f;
};

static FILE *
reason_open(struct reason *r)
{
	r->text = NULL;
	r->len = 0;
	return r->f = xptr(open_memstream(&r->text, &r->len));
}

/* The first line; free r->text after. */
static const char *
reason_line(struct reason *r)
{
	fclose(r->f);
	r->text[strcspn(r->text, "\n")] = '\0';
	return r->text;
}

/* The version floor, then the key-set chain, to state_dir, each written
 * once it changed and until it is written, one at a time (the answer to
 * one sends the next). After pins.feed: a crash before either is repaired
 * at start from the cached feed, which carries the updates (and, applied
 * again, resets the floor again). The floor goes first: a new key set on
 * disk with a fast-forwarded floor beside it would refuse every feed the
 * new keys sign. */
static void
trust_saved(void *arg, const struct keeper_answer *a)
{
	struct feedsync		*fs = arg;
	const char		*dir = fs->srv->conf->state_dir;
	enum keeper_file	 f = fs->trust_saving;

	fs->trust_saving = 0;
	if (a->err != 0) {
		if (f == KEEPER_FILE_FLOOR && fs->floor == fs->floor_sent)
			fs->floor_dirty = true;
		if (f == KEEPER_FILE_KEYS && fs->chain_gen == fs->chain_sent)
			fs->keys_dirty = true;
		if (f == KEEPER_FILE_FLOOR)
			log_warn("feed: cannot record version %llu in %s/%s: "
			    "%s (the cached feed still carries it; retried "
			    "with the next feed)", fs->floor_sent, dir,
			    FEED_FLOOR, a->why);
		else
			log_warn("feed: cannot record key set %lu in %s/%s: %s "
			    "(the cached feed still carries it; retried with "
			    "the next feed)", fs->keys.version, dir, FEED_KEYS,
			    a->why);
		feed_settle(fs);
		return;
	}
	if (f == KEEPER_FILE_KEYS)
		log_info("feed: key set %lu recorded in %s/%s",
		    fs->keys.version, dir, FEED_KEYS);
	trust_persist(fs);
	feed_settle(fs);
}

static void
trust_persist(struct feedsync *fs)
{
	char		 v[32];
	int		 rc;

	if (fs->trust_saving != 0)
		return;		/* its answer sends what is left */
	if (fs->floor_dirty) {
		snprintf(v, sizeof(v), "%llu\n", fs->floor);
		fs->floor_sent = fs->floor;
		fs->trust_saving = KEEPER_FILE_FLOOR;
		rc = state_save(fs->srv, KEEPER_FILE_FLOOR, v, strlen(v),
		    trust_saved, fs);
	} else if (fs->keys_dirty) {
		fs->chain_sent = fs->chain_gen;
		fs->trust_saving = KEEPER_FILE_KEYS;
		rc = state_save(fs->srv, KEEPER_FILE_KEYS, fs->chain,
		    fs->chainlen, trust_saved, fs);
	} else
		return;
	if (rc == -1) {
		struct keeper_answer	 a = { NULL, errno, strerror(errno),
					    NULL, 0 };

		trust_saved(fs, &a);
		return;
	}
	/* sent: a change from now on makes it dirty again */
	if (fs->trust_saving == KEEPER_FILE_FLOOR)
		fs->floor_dirty = false;
	else
		fs->keys_dirty = false;
}

/* The latest known time an accepted feed attests (feed_accept.c bounds
 * a time only the signing role signed). What raised the floor before is
 * dropped first when no signed feed vouches for it any more: the signing
 * role that signed it was replaced, or it is a persisted time no cached
 * feed backed (a newer signed feed replaces it, lower or not). */
static void
clock_from_feed(struct feedsync *fs, const struct feed_decision *d)
{
	char	 a[32];

	if (d->proof.sign_rotated || !fs->clock_vouched)
		clock_reset();
	if (d->clamped) {
		format_rfc3339(d->body->issued, a, sizeof(a));
		log_warn("feed: version %llu says issued %s, over a day ahead of "
		    "the system clock; only the root threshold may move the "
		    "latest known time that far", d->body->version, a);
	}
	clock_raise((time_t)d->attested);
	fs->clock_vouched = true;
}

/* The updates a proof applied, on the end of the chain. */
static void
chain_append(struct feedsync *fs, const char *buf, const struct feed_proof *p)
{
	size_t	 i, len = fs->chainlen;

	for (i = 0; i < p->nupdates; i++)
		len += p->applied[i].len;
	fs->chain = xreallocarray(fs->chain, len, 1);
	for (i = 0; i < p->nupdates; i++) {
		memcpy(fs->chain + fs->chainlen, buf + p->applied[i].off,
		    p->applied[i].len);
		fs->chainlen += p->applied[i].len;
	}
	fs->chain_gen++;
	fs->keys_dirty = true;
}

/* Trust the key set a proven file moved to: the updates go on the end of
 * the chain, written by trust_persist. */
static void
keys_advance(struct feedsync *fs, const char *buf, const struct feed_proof *p)
{
	if (p->nupdates == 0)
		return;
	chain_append(fs, buf, p);
	log_warn("feed: key set %lu -> %lu: %zu root key(s), threshold %lu; "
	    "%zu signing key(s), threshold %lu%s", fs->keys.version,
	    p->keys.version, p->keys.root.n, p->keys.root.threshold,
	    p->keys.sign.n, p->keys.sign.threshold, p->sign_rotated ?
	    "; the signing role was replaced: version floor reset" : "");
	fs->keys = p->keys;
}

/* On the last set trusted without the chain to it (keys_guard): a file
 * whose updates lead from the configured set to exactly the set trusted
 * now gives pins.keys its chain back. */
static void
chain_repair(struct feedsync *fs, const char *buf, size_t len)
{
	struct feed_proof	*p;
	struct reason		 r;

	if (!fs->chain_lost)
		return;
	p = xcalloc(1, sizeof(*p));
	if (feed_prove("repair", buf, len, &fs->srv->conf->feed.keys, true, p,
	    reason_open(&r)) && p->nupdates > 0 &&
	    feed_keyset_same(&p->keys, &fs->keys)) {
		free(fs->chain);
		fs->chain = NULL;
		fs->chainlen = 0;
		chain_append(fs, buf, p);
		fs->chain_lost = false;
		log_info("feed: the chain to key set %lu is whole again (%zu "
		    "update(s)), for %s/%s", fs->keys.version, p->nupdates,
		    fs->srv->conf->state_dir, FEED_KEYS);
	}
	fclose(r.f);
	free(r.text);
	free(p);
}

/* What the device trusts now, and what it has, for pins/feed_accept.c:
 * a fetched file (cached false) or its own cache at start. */
static void
judge(struct feedsync *fs, const char *name, const char *buf, size_t len,
    bool cached, struct feed_decision *d)
{
	struct server		*srv = fs->srv;
	struct feed_trust	 t;
	struct feed_device	 dev;

	memset(&t, 0, sizeof(t));
	t.keys = fs->keys;
	t.keyfloor = fs->keyfloor;
	t.floor = fs->floor;
	t.in_force = fs->current != NULL;
	t.version = t.in_force ? fs->current->version : 0;
	memset(&dev, 0, sizeof(dev));
	dev.base = srv->conf->snap;
	dev.enforced = srv->snap;
	dev.device_id = srv->conf->device_id;
	dev.now = clock_now();
	dev.sys = time(NULL);
	dev.cached = cached;
	feed_accept(name, buf, len, &t, &dev, d);
}

/* Trust what an accepted file moved: the key set (the chain, written by
 * trust_persist), the time, the version floor. */
static void
trust_take(struct feedsync *fs, const char *buf, size_t len,
    const struct feed_decision *d)
{
	keys_advance(fs, buf, &d->proof);
	chain_repair(fs, buf, len);
	clock_from_feed(fs, d);
	if (d->next.floor != fs->floor || d->proof.sign_rotated) {
		fs->floor = d->next.floor;
		fs->floor_dirty = true;
	}
}

static void	feed_saved(void *arg, const struct keeper_answer *);

/* feed_accept.c's verdict on a fetched file. An accepted one is sent to
 * state_dir and kept in f->dec: put in force by feed_settle once the
 * keeper wrote it and what it moved (false: fetch_judged follows its
 * write). Otherwise true, with the verdict in *v and why. */
static bool
feed_consider(struct fetch *f, const char *buf, size_t len,
    enum feed_verdict *v, char *why, size_t whysz)
{
	struct feedsync		*fs = f->fs;
	struct feed_decision	*d = xcalloc(1, sizeof(*d));

	judge(fs, f->url, buf, len, false, d);
	if (d->verdict == FEED_UNCHANGED)
		trust_persist(fs);	/* what an earlier write left undone */
	if (d->verdict != FEED_ACCEPTED) {
		*v = d->verdict;
		snprintf(why, whysz, "%s", d->why);
		feed_accept_clear(d);
		free(d);
		return true;
	}
	/* Persist before use: a crash now leaves the old file or this one. */
	f->dec = d;
	f->buf = xmemdup(buf, len);
	f->len = len;
	if (state_save(fs->srv, KEEPER_FILE_FEED, buf, len, feed_saved, f) ==
	    -1) {
		snprintf(why, whysz, "cannot persist to %s/%s: %s",
		    fs->srv->conf->state_dir, FEED_CACHE, strerror(errno));
		*v = FEED_REJECTED;
		return true;		/* fetch_free frees f->dec */
	}
	f->saving = true;
	return false;
}

/* A feed persisted: the trust it moved to, to state_dir before it goes in
 * force (feed_settle). */
static void
feed_commit(struct feedsync *fs, const char *buf, size_t len,
    const struct feed_decision *d)
{
	trust_take(fs, buf, len, d);
	trust_persist(fs);
	clock_persist(fs);
}

/* The fetch's feed in force once its writes are all answered. */
static void
feed_settle(struct feedsync *fs)
{
	struct fetch		*f = fs->fetch;
	struct feed_decision	*d;
	struct feed_body	*c;
	char			 t[32];

	if (f == NULL || !f->saved || fs->trust_saving != 0 ||
	    fs->clock_saving)
		return;
	d = f->dec;
	f->dec = NULL;
	f->saving = f->saved = false;
	feed_body_free(fs->current);
	free(fs->raw);
	fs->current = c = d->body;
	d->body = NULL;
	fs->raw = f->buf;
	fs->rawlen = f->len;
	f->buf = NULL;
	free(fs->source);
	fs->source = xstrdup(f->url);
	feed_apply(fs, d->snap);
	d->snap = NULL;
	format_rfc3339(c->expires, t, sizeof(t));
	log_info("feed: version %llu in force from %s: %zu host rule(s), "
	    "key set %lu, signed by %s (%zu of %lu signing, %zu of %lu root), "
	    "expires %s", c->version, f->url, c->snap->nrules,
	    fs->keys.version, d->proof.signers, d->proof.sign_have,
	    fs->keys.sign.threshold, d->proof.root_have,
	    fs->keys.root.threshold, t);
	feed_accept_clear(d);
	free(d);
	fetch_judged(f, FEED_ACCEPTED, "");
}

/* The keeper's answer to an accepted feed's write. */
static void
feed_saved(void *arg, const struct keeper_answer *a)
{
	struct fetch	*f = arg;
	struct feedsync	*fs = f->fs;
	char		 why[512];

	if (a->err != 0) {
		f->saving = false;
		snprintf(why, sizeof(why), "cannot persist to %s/%s: %s",
		    fs->srv->conf->state_dir, FEED_CACHE, a->why);
		fetch_judged(f, FEED_REJECTED, why);
		return;
	}
	feed_commit(fs, f->buf, f->len, f->dec);
	f->saved = true;	/* now: its writes are all sent */
	feed_settle(fs);
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
schedule(struct feedsync *fs, bool failed)
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
	if (f->saving)		/* the feed is written; not put in force */
		state_forget(f->fs->srv, f);
	web_cancel(f->web);
	if (f->dec != NULL) {
		feed_accept_clear(f->dec);
		free(f->dec);
	}
	free(f->buf);
	free(f->etag);
	free(f->lastmod);
	free(f);
}

static void
fetch_end(struct fetch *f, enum feed_verdict v, const char *why)
{
	struct feedsync	*fs = f->fs;
	int			 src = f->src;
	bool			 have_fallback = fs->srv->conf->feed.fallback_url
			    != NULL, failed;

	fs->fetches[v == FEED_ACCEPTED ? FEED_FETCH_ACCEPTED :
	    v == FEED_UNCHANGED ? FEED_FETCH_UNCHANGED : f->came ?
	    FEED_FETCH_REJECTED : FEED_FETCH_FAILED]++;
	if (v != FEED_REJECTED)
		fs->last_success = time(NULL);
	else {
		char	 e[1024];

		snprintf(e, sizeof(e), "%s: %s", f->url, why);
		str_printable(e);
		free(fs->last_error);
		fs->last_error = xstrdup(e);
	}
	if (v == FEED_REJECTED)
		log_warn("feed: %s: %s%s", f->url, why, fs->current ?
		    "; keeping the feed in force" : "; bootstrap pins stay");
	else if (v == FEED_UNCHANGED)
		log_info("feed: %s: unchanged (%s)", f->url, why);
	f->web = NULL;
	fetch_free(f);
	fs->fetch = NULL;
	if (v == FEED_REJECTED && src == 0 && have_fallback) {
		fetch_start(fs, 1);
		return;
	}
	/* The fallback is unauthenticated transport: when the primary
	 * failed, its "unchanged" must not stop the backoff or hide a stale
	 * feed, or anyone on that path could freeze rotation quietly. */
	failed = v == FEED_REJECTED || (src == 1 && v == FEED_UNCHANGED);
	if (failed)
		log_stale(fs);
	schedule(fs, failed);
}

static void
forget_validators(struct feedsync *fs)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		free(fs->etag[i]);
		free(fs->lastmod[i]);
		fs->etag[i] = fs->lastmod[i] = NULL;
	}
}

static void
fetch_http_done(struct http_result *r, void *arg)
{
	struct fetch		*f = arg;
	struct feedsync	*fs = f->fs;
	char			 why[512];
	enum feed_verdict	 v;

	f->web = NULL;
	if (r->refusal != NULL)	/* the feed server failed its pin check */
		report_refusal(fs->srv->rep, r->refusal, "feed");
	if (r->error != NULL) {
		fetch_end(f, FEED_REJECTED, r->error);
		return;
	}
	if (r->status == 304) {
		/* Only an answer to our conditional request for the feed in
		 * force means "unchanged"; any other 304 proves nothing. */
		fetch_end(f, f->conditional ? FEED_UNCHANGED : FEED_REJECTED,
		    f->conditional ? "304 Not Modified" : "304 Not Modified "
		    "to a request that was not conditional");
		return;
	}
	if (r->status != 200) {
		snprintf(why, sizeof(why), "HTTP status %d", r->status);
		fetch_end(f, FEED_REJECTED, why);
		return;
	}
	f->came = true;
	f->etag = r->etag ? xstrdup(r->etag) : NULL;
	f->lastmod = r->last_modified ? xstrdup(r->last_modified) : NULL;
	if (feed_consider(f, (const char *)evbuffer_pullup(r->body, -1),
	    evbuffer_get_length(r->body), &v, why, sizeof(why)))
		fetch_judged(f, v, why);
}

/* A fetched feed's verdict, final (after its write, if it was
 * accepted). */
static void
fetch_judged(struct fetch *f, enum feed_verdict v, const char *why)
{
	struct feedsync	*fs = f->fs;

	if (v == FEED_ACCEPTED)		/* the other source's describe */
		forget_validators(fs);	/* an older feed now */
	if (v != FEED_REJECTED) {
		/* Remember validators only for a feed we have in force. */
		free(fs->etag[f->src]);
		free(fs->lastmod[f->src]);
		fs->etag[f->src] = f->etag;
		fs->lastmod[f->src] = f->lastmod;
		f->etag = f->lastmod = NULL;
	}
	fetch_end(f, v, why);
	if (fs->reload_held && fs->fetch == NULL) {
		fs->reload_held = false;
		feedsync_reload(fs);
	}
}

static void
fetch_start(struct feedsync *fs, int src)
{
	const struct feed_conf	*fc = &fs->srv->conf->feed;
	struct fetch		*f = xcalloc(1, sizeof(*f));
	struct web_opts		 o;

	f->fs = fs;
	f->src = src;
	f->url = src == 0 ? fc->url : fc->fallback_url;
	fs->fetch = f;
	/* url: pinned to [feed] pins and to the feed's own pins for that
	 * host once a feed is in force; fallback_url: CA-checked only (the
	 * signature protects it). */
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.label = "feed";
	o.pins = src == 0 ? &fc->pins : NULL;
	o.snapshot_pins = src == 0 && fs->current != NULL;
	if (fs->current != NULL) {	/* validators of the feed in force */
		o.etag = fs->etag[src];
		o.lastmod = fs->lastmod[src];
	}
	f->conditional = o.etag != NULL || o.lastmod != NULL;
	o.max_body = fc->max_size;
	o.timeout = (unsigned)fc->timeout;
	f->web = web_request(fs->srv, f->url, &o, fetch_http_done, f);
}

/* --- life cycle -------------------------------------------------------- */

static const struct timeval now = { 0, 0 };

/* The highest version ever accepted. A missing file means none yet; a
 * file that is not a version number is damage, said loudly: the cached
 * feed's own version is then the best floor there is. */
static void
read_floor(struct feedsync *fs)
{
	if (state_floor_load(fs->srv->conf->state_dir, &fs->floor) == -1)
		log_err("feed: %s/%s: %s; the cached feed's version is the "
		    "rollback floor", fs->srv->conf->state_dir, FEED_FLOOR,
		    errno == EINVAL ? "not a version number" :
		    strerror(errno));
}

/* Persist the latest known time once a feed moved it: the floor, which
 * only the build date and signed feeds' issued times make up while a feed
 * vouches for it. Never the system clock: one that ran ahead for a while
 * would outlive its correction and refuse valid certificates as expired.
 * Written lower too (a replaced signing role, a dropped bad value). */
static void
clock_saved(void *arg, const struct keeper_answer *a)
{
	struct feedsync	*fs = arg;

	fs->clock_saving = false;
	if (a->err != 0) {
		log_warn("clock: cannot record the latest known time in "
		    "%s/%s: %s", fs->srv->conf->state_dir, CLOCK_FILE, a->why);
		feed_settle(fs);
		return;
	}
	fs->clock_saved = fs->clock_sent;
	clock_persist(fs);	/* moved again while it was written */
	feed_settle(fs);
}

static void
clock_persist(struct feedsync *fs)
{
	time_t	 v = clock_floor();
	char	 line[CLOCK_LINE_MAX];

	if (!fs->clock_vouched || v == fs->clock_saved || fs->clock_saving)
		return;
	fs->clock_saving = true;
	fs->clock_sent = v;
	if (state_save(fs->srv, KEEPER_FILE_CLOCK, line, clock_line(v, line),
	    clock_saved, fs) == -1) {
		struct keeper_answer	 a = { NULL, errno, strerror(errno),
					    NULL, 0 };

		clock_saved(fs, &a);
	}
}

/* The key set trusted: the configured one, moved on by the persisted
 * updates. Updates that do not follow from the configured set (pins.keys
 * damaged, or its keys changed in the INI) are dropped loudly; what
 * keys_guard then allows decides. */
static void
keys_load(struct feedsync *fs)
{
	const struct feed_keyset *conf = &fs->srv->conf->feed.keys;
	struct reason		 r;
	const char		*why;
	int			 rc;

	free(fs->chain);
	fs->chain_gen++;
	fs->chain_lost = false;
	rc = feed_chain_load(fs->srv->conf->state_dir, conf, &fs->keys,
	    &fs->chain, &fs->chainlen, reason_open(&r));
	why = reason_line(&r);
	if (rc == -1)
		log_err("feed: %s; starting from the configured key set %lu",
		    why, conf->version);
	free(r.text);
	rc = feed_keyset_load(fs->srv->conf->state_dir, &fs->keyfloor,
	    reason_open(&r));
	why = reason_line(&r);
	if (rc == -1)
		log_err("feed: %s: the last key set trusted is not known",
		    why);
	free(r.text);
	if (rc != 1)
		fs->keyfloor.version = 0;
	if (fs->keys.version != conf->version)
		log_info("feed: key set %lu trusted (configured: %lu)",
		    fs->keys.version, conf->version);
}

/* What state_dir/clock says (daemon.c loads it before anything checks a
 * date, bounded by a day past a sane system clock) is evidence only as far
 * as the cached feed's issued time vouches for it: each run persists
 * nothing else. Up to there it counts whole, so a clock set back after
 * the build date does not pull the floor down with it. Past that, an
 * older pinshim wrote the system clock there, or a compromised worker
 * did: a value ahead of every signed time held is dropped, else it would
 * refuse valid certificates (and newer feeds) as expired until deleted. */
static void
clock_vouch(struct feedsync *fs)
{
	int64_t	 f = clock_loaded();
	char	 a[32], b[32];

	if (f <= fs->current->issued || f <= (int64_t)clock_build_time()) {
		clock_raise((time_t)f);
		fs->clock_vouched = true;
		return;
	}
	format_rfc3339(f, a, sizeof(a));
	format_rfc3339(fs->current->issued, b, sizeof(b));
	log_warn("clock: %s/%s says %s, past the cached feed's issued time "
	    "(%s), the latest time a signed feed attests: dropped",
	    fs->srv->conf->state_dir, CLOCK_FILE, a, b);
}

/* Never behind the last key set trusted (pins.keyset, which the keeper
 * raises): a lost or damaged pins.keys, or an INI key set whose
 * keys_version is not above it, leaves the device on that set, not on the
 * INI's, where a retired root key would count again. Whether it moved. */
static bool
keys_guard(struct feedsync *fs)
{
	if (fs->keyfloor.version == 0 || !feed_keyset_behind(&fs->keys,
	    &fs->keyfloor))
		return false;
	log_err("feed: key set %lu is behind key set %lu, trusted before "
	    "(%s/%s): keeping key set %lu, an older one is never trusted "
	    "again (to start over from the INI's, raise its keys_version "
	    "above %lu)", fs->keys.version, fs->keyfloor.version,
	    fs->srv->conf->state_dir, FEED_KEYSET, fs->keyfloor.version,
	    fs->keyfloor.version);
	fs->keys = fs->keyfloor;
	free(fs->chain);
	fs->chain_gen++;
	fs->chain = NULL;
	fs->chainlen = 0;
	fs->keys_dirty = false;
	fs->chain_lost = true;
	return true;
}

/* The cached feed, proven as a fetched one is (a crash between writing it
 * and writing the key set it moved to is repaired here), and not older
 * than the floor. */
static void
load_cache(struct feedsync *fs)
{
	struct feed_decision d;
	char		 path[4096], t[32], *buf;
	size_t		 len;

	snprintf(path, sizeof(path), "%s/%s", fs->srv->conf->state_dir,
	    FEED_CACHE);
	if ((buf = file_read(path, fs->srv->conf->feed.max_size, &len,
	    NULL)) == NULL) {
		if (errno == ENOENT)
			log_info("feed: no cached feed at %s; bootstrap pins "
			    "apply until the first fetch", path);
		else
			log_err("feed: cached feed %s unusable: %s%s; bootstrap "
			    "pins apply until a good feed is fetched", path,
			    strerror(errno), errno == EFBIG ? " (over [feed] "
			    "max_size)" : "");
		return;
	}
	judge(fs, path, buf, len, true, &d);
	if (d.verdict != FEED_ACCEPTED) {
		log_err("feed: cached feed rejected: %s; bootstrap pins "
		    "apply until a good feed is fetched", d.why);
		feed_accept_clear(&d);
		free(buf);
		return;
	}
	fs->current = d.body;
	d.body = NULL;
	fs->raw = buf;
	fs->rawlen = len;
	fs->source = xstrdup(path);
	clock_vouch(fs);
	trust_take(fs, buf, len, &d);
	/* the cache carries the floor it raised; a reset is written */
	fs->floor_dirty = d.proof.sign_rotated;
	feed_accept_clear(&d);
	trust_persist(fs);
	clock_persist(fs);
	format_rfc3339(fs->current->expires, t, sizeof(t));
	log_info("feed: cached version %llu in force: %zu host rule(s), "
	    "key set %lu, expires %s", fs->current->version,
	    fs->current->snap->nrules, fs->keys.version, t);
	log_stale(fs);
}

struct feedsync *
feedsync_start(struct server *srv)
{
	struct feedsync	*fs;

	if (!srv->conf->feed.present)
		return NULL;
	fs = xcalloc(1, sizeof(*fs));
	fs->srv = srv;
	fs->timer = xptr(evtimer_new(srv->base, on_timer, fs));
	if (srv->keeper == NULL && state_clean_temps(srv->conf->state_dir) > 0)
		log_info("feed: removed temporary files an interrupted write "
		    "left in %s", srv->conf->state_dir);
	read_floor(fs);
	keys_load(fs);
	fs->clock_saved = (time_t)clock_loaded();	/* what is on disk */
	load_cache(fs);
	/* the cache may have repaired the chain; if not, the floor's set,
	 * and the cache once more under it */
	if (keys_guard(fs))
		load_cache(fs);
	feed_apply(fs, NULL);
	/* What the cache repaired (floor, chain, clock) is on disk before
	 * the loop runs, as it was before it serves */
	if (srv->keeper != NULL)
		keeper_flush(srv->keeper, 10000);
	/* First fetch at once: the cache may be old or missing. */
	evtimer_add(fs->timer, &now);
	return fs;
}

void
feedsync_reload(struct feedsync *fs)
{
	struct feed_proof p;
	struct reason	 r;
	const char	*why;
	bool		 ok;

	if (fs == NULL)
		return;
	/* A feed on its way to state_dir was judged under the running keys:
	 * it goes in force (or not) first, then the reload follows. Until
	 * then the feed in force stays, on the new bootstrap pins. */
	if (fs->fetch != NULL && fs->fetch->saving) {
		fs->reload_held = true;
		feed_apply(fs, NULL);
		return;
	}
	/* The configured keys may have changed: trust follows them, and
	 * what is in force must still be signed under it. The body was
	 * parsed when it was accepted; only the signatures need checking
	 * again (a 1 MiB feed: ~1 ms each, not ~25). */
	keys_load(fs);
	(void)keys_guard(fs);
	if (fs->current != NULL) {
		ok = feed_prove("the feed in force", fs->raw, fs->rawlen,
		    &fs->keys, true, &p, reason_open(&r));
		why = reason_line(&r);
		if (ok) {
			keys_advance(fs, fs->raw, &p);
			trust_persist(fs);
		} else {
			log_err("feed: after reload, %s; dropped, bootstrap "
			    "pins apply", why);
			feed_body_free(fs->current);
			fs->current = NULL;
			fs->clock_vouched = false;	/* the next replaces */
		}
		free(r.text);
	}
	feed_apply(fs, NULL);
	if (fs->fetch != NULL) {
		fetch_free(fs->fetch);
		fs->fetch = NULL;
	}
	event_del(fs->timer);
	fs->failures = 0;
	evtimer_add(fs->timer, &now);
}

void
feedsync_stats(const struct feedsync *fs, struct feedsync_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (fs == NULL)
		return;
	if (fs->current != NULL) {
		st->version = fs->current->version;
		st->issued = fs->current->issued;
		st->expires = fs->current->expires;
		st->source = fs->source;
		st->stale = fs->current->expires <= clock_now();
	}
	st->keys_version = fs->keys.version;
	st->last_success = fs->last_success;
	st->last_error = fs->last_error;
	memcpy(st->fetches, fs->fetches, sizeof(st->fetches));
}

unsigned long long
feedsync_version(const struct feedsync *fs)
{
	return fs != NULL && fs->current != NULL ? fs->current->version : 0;
}

void
feedsync_stop(struct feedsync *fs)
{
	int	 i;

	if (fs == NULL)
		return;
	state_forget(fs->srv, fs);	/* the floor's, chain's, clock's */
	if (fs->fetch != NULL)
		fetch_free(fs->fetch);
	if (fs->timer != NULL)
		event_free(fs->timer);
	feed_body_free(fs->current);
	free(fs->raw);
	free(fs->chain);
	free(fs->source);
	free(fs->last_error);
	for (i = 0; i < 2; i++) {
		free(fs->etag[i]);
		free(fs->lastmod[i]);
	}
	free(fs);
}
