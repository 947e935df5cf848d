/*
 * keeper_answer.c - what the keeper answers, and how it judges each
 * request (runs in the keeper, with the CA key): a table of {type,
 * handler}, one handler per request. A mint when the name is a valid host
 * name or address literal, the key a P-256 point, and the rate bucket
 * ([shim] mint_rate, as the keeper started) has a token; a save only to
 * the four files of enum keeper_file, bounded, the feed and the key-set
 * chain only if they keep trust where it is or move it on
 * (keeper_trust.c); a TOFU entry only for a host it has none for (or
 * with the same issuer, where the host's rule allows a new leaf).
 * A handshake signature (SIGN) only with a configured device identity,
 * named by its number (never a path from the worker), over a digest of
 * the size TLS signs, within its own rate bucket.
 * Every signature is logged. No I/O but state_dir's files: the process
 * around it is keeper_proc.c.
 *
 * Must never: sign for a name or key it did not check, or write outside
 * state_dir's known files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/tofu.h"
#include "shim/keeper/keeper_answer.h"
#include "shim/keeper/keeper_trust.h"
#include "tls/tls.h"

#define KEYS_MAX	(64 * 1024)	/* as feedsync reads pins.keys */
#define SMALL_MAX	64		/* pins.version, clock */

struct keeper_state {
	struct tls_ca_key	*key;		/* owned */
	char			*state_dir;	/* owned; NULL: none */
	size_t			 tofu_max;
	struct tofu		*tofu;		/* owned; opened on first use */
	struct keeper_trust	*trust;		/* owned; NULL: no state_dir */
	size_t			 feed_max;
	double			 tokens, last;	/* the mint bucket */
	unsigned long		 mint_rate;	/* its refill, a second */
	unsigned long		 signed_, refused;
	struct tls_ident_key	**idents;	/* owned; conf->idents' keys */
	char			**ident_names;	/* owned; for the log */
	size_t			 nidents;
	double			 sign_tokens, sign_last; /* the SIGN bucket */
	unsigned long		 handshakes;	/* signed since start */
};

/* Each device identity's private key, checked against its certificate:
 * -1 with err naming the INI line that gave it. */
static int
load_idents(struct keeper_state *ks, const struct conf *c, char *err,
    size_t errsz)
{
	char	 why[512], name[300];
	size_t	 i;

	ks->idents = xcalloc(c->nidents + 1, sizeof(*ks->idents));
	ks->ident_names = xcalloc(c->nidents + 1, sizeof(*ks->ident_names));
	for (i = 0; i < c->nidents; i++) {
		const struct ident_conf	*id = &c->idents[i];

		snprintf(name, sizeof(name), "%s:%s", id->pattern != NULL ?
		    "domain" : "listen", id->pattern != NULL ? id->pattern :
		    id->listener);
		if ((ks->idents[i] = tls_ident_key_load(id->cert.path,
		    id->key.path, why, sizeof(why))) == NULL) {
			snprintf(err, errsz, "%s:%d: [%s] client_key: %s",
			    id->path, id->key.line, name, why);
			return -1;
		}
		ks->ident_names[i] = xstrdup(name);
		ks->nidents = i + 1;
	}
	return 0;
}

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
	ks->mint_rate = c->mint_rate > 0 ? c->mint_rate : 1;
	ks->tokens = KEEPER_MINT_BURST(ks->mint_rate);
	ks->last = -1;
	ks->sign_tokens = KEEPER_SIGN_BURST;
	ks->sign_last = -1;
	if (load_idents(ks, c, err, errsz) == -1) {
		keeper_state_free(ks);
		return NULL;
	}
	return ks;
}

void
keeper_state_free(struct keeper_state *ks)
{
	if (ks == NULL)
		return;
	tls_ca_key_free(ks->key);
	for (size_t i = 0; i < ks->nidents; i++) {
		tls_ident_key_free(ks->idents[i]);
		free(ks->ident_names[i]);
	}
	free(ks->idents);
	free(ks->ident_names);
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

/* A token bucket: burst tokens, refilled rate a second. */
static bool
bucket_take(double *tokens, double *last, double now, double burst,
    double rate)
{
	if (*last >= 0 && now > *last) {
		*tokens += (now - *last) * rate;
		if (*tokens > burst)
			*tokens = burst;
	}
	*last = now;
	if (*tokens < 1)
		return false;
	*tokens -= 1;
	return true;
}

/* The mint bucket: KEEPER_MINT_BURST, refilled mint_rate a second. */
static bool
take_token(struct keeper_state *ks, double now)
{
	return bucket_take(&ks->tokens, &ks->last, now,
	    KEEPER_MINT_BURST(ks->mint_rate), (double)ks->mint_rate);
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
		return refuse(ks, m, EAGAIN, out, sz, "mint %s: over %lu new "
		    "names a second", m->host, ks->mint_rate);
	if ((n = tls_ca_key_sign(ks->key, m->host, m->leaf_kind, m->pub,
	    m->publen, der, sizeof(der), &why)) < 0)
		return refuse(ks, m, EINVAL, out, sz, "mint %.*s: %s", 64,
		    m->host, why);
	ks->signed_++;
	log_info("keeper: signed a%s leaf for %s (%lu since start)",
	    m->leaf_kind == TLS_LEAF_RSA ? "n RSA" : "", m->host,
	    ks->signed_);
	return reply(m, KEEPER_OK, 0, der, (size_t)n, out, sz);
}

/* A handshake's CertificateVerify, signed with device identity m->ident:
 * only a configured one, only a digest (or an RSA DigestInfo) of the size
 * TLS signs (tls_ident_key_sign checks), within the SIGN bucket. */
static size_t
answer_sign(struct keeper_state *ks, const struct keeper_msg *m,
    double now, uint8_t *out, size_t sz)
{
	uint8_t		 sig[TLS_SIGN_OUT_MAX];
	size_t		 n = sizeof(sig);
	const char	*why;

	if (m->ident >= ks->nidents)
		return refuse(ks, m, EINVAL, out, sz, "sign: no device "
		    "identity %u", m->ident);
	if (!bucket_take(&ks->sign_tokens, &ks->sign_last, now,
	    KEEPER_SIGN_BURST, KEEPER_SIGN_RATE))
		return refuse(ks, m, EAGAIN, out, sz, "sign [%s]: over %d "
		    "handshakes a second", ks->ident_names[m->ident],
		    KEEPER_SIGN_RATE);
	if (tls_ident_key_sign(ks->idents[m->ident], (int)m->scheme,
	    (int)m->hash, m->data, m->len, sig, &n, &why) == -1)
		return refuse(ks, m, EINVAL, out, sz, "sign [%s] (%s): %s",
		    ks->ident_names[m->ident],
		    tls_ident_key_what(ks->idents[m->ident]), why);
	ks->handshakes++;
	log_info("keeper: signed a handshake as [%s] (%s, %s; %lu since "
	    "start)", ks->ident_names[m->ident],
	    tls_ident_key_what(ks->idents[m->ident]),
	    m->scheme == TLS_SIGN_ECDSA ? "ECDSA" : m->scheme ==
	    TLS_SIGN_RSA_PSS ? "RSA-PSS" : "RSA PKCS#1", ks->handshakes);
	return reply(m, KEEPER_OK, 0, sig, n, out, sz);
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
answer_save(struct keeper_state *ks, const struct keeper_msg *m, double now,
    uint8_t *out, size_t sz)
{
	const char	*name = keeper_file_name(m->file), *why;
	char		 line[SMALL_MAX + 1], text[KEEPER_TEXT_MAX];
	int64_t		 when = 0;
	size_t		 max = m->file == KEEPER_FILE_FEED ? ks->feed_max :
			    m->file == KEEPER_FILE_KEYS ? KEYS_MAX : SMALL_MAX;

	(void)now;

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
answer_tofu(struct keeper_state *ks, const struct keeper_msg *m, double now,
    uint8_t *out, size_t sz)
{
	const struct tofu_entry	*e;
	const char		*why;
	char			 canon[HOST_MAX + 1], text[KEEPER_TEXT_MAX];

	(void)now;

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

/* What the keeper answers: one handler per request type, and nothing
 * else. */
static const struct {
	enum keeper_type	 type;
	size_t			(*answer)(struct keeper_state *,
				    const struct keeper_msg *, double now,
				    uint8_t *out, size_t sz);
} handlers[] = {
	{ KEEPER_MINT,	answer_mint },
	{ KEEPER_SAVE,	answer_save },
	{ KEEPER_TOFU,	answer_tofu },
	{ KEEPER_SIGN,	answer_sign },
};

size_t
keeper_answer(struct keeper_state *ks, const struct keeper_msg *m,
    double now, uint8_t *out, size_t sz)
{
	size_t	 i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == m->type)
			return handlers[i].answer(ks, m, now, out, sz);
	return refuse(ks, m, EINVAL, out, sz, "not a request (type %d)",
	    (int)m->type);
}

size_t
keeper_refuse(struct keeper_state *ks, const struct keeper_msg *m,
    const char *why, uint8_t *out, size_t sz)
{
	return refuse(ks, m, EINVAL, out, sz, "malformed request: %s", why);
}

size_t
keeper_state_frame_max(const struct keeper_state *ks)
{
	return (ks->feed_max > KEYS_MAX ? ks->feed_max : KEYS_MAX) + 64;
}
