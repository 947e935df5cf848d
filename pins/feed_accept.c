/*
 * feed_accept.c - the one copy of the feed rules: whether a device accepts
 * a signed file, and what it trusts afterwards.
 *
 * In order: the file carries the signing threshold of the trusted key set
 * (after any key-set updates it carries, feed_keys.c) and parses
 * completely; the set it ends at is not behind the last one trusted; the
 * version in force again, with no update, is "unchanged"; the version is
 * not below the highest accepted, nor below the one in force, unless the
 * updates replaced the signing role (TUF's fast-forward recovery: nothing
 * the old keys signed passes any more, so the floor starts over); it has
 * not expired at the latest known time; and, if it weakens pinning on
 * this device (judged on what it enforces before and after), the root
 * threshold signed it too. The device's own cache at start was judged on
 * expiry and weakening when it was fetched: a stale feed stays in force.
 *
 * What an accepted file attests about the time is its issued, but signed
 * by the signing role alone at most a day past a sane system clock, so a
 * stolen signing key cannot date every device into the future.
 *
 * Must never: read or write a file, the clock or any global state (the
 * device and `feed verify` must reach the same verdict from the same
 * values), accept a file without its proof, or move trust on a file it
 * rejects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/parse.h"
#include "pins/feed_accept.h"

const char *
feed_verdict_name(enum feed_verdict v)
{
	switch (v) {
	case FEED_ACCEPTED:
		return "accepted";
	case FEED_UNCHANGED:
		return "unchanged";
	case FEED_REJECTED:
		break;
	}
	return "rejected";
}

/* Prove and parse under the trusted set; false with out->why. */
static bool
accept_open(const char *name, const char *buf, size_t len,
    const struct feed_trust *t, struct feed_decision *out)
{
	char	*text = NULL;
	size_t	 tlen = 0;
	FILE	*errs = open_memstream(&text, &tlen);

	if (errs == NULL) {
		snprintf(out->why, sizeof(out->why), "%s: out of memory", name);
		return false;
	}
	out->body = feed_open(name, buf, len, &t->keys, errs, &out->proof);
	fclose(errs);
	if (out->body == NULL)
		snprintf(out->why, sizeof(out->why), "%.*s",
		    (int)strcspn(text ? text : "", "\n"), text ? text : "");
	free(text);
	return out->body != NULL;
}

/* The highest version the file must not be below: none once the signing
 * role was replaced. */
static unsigned long long
accept_highest(const struct feed_trust *t, const struct feed_proof *p)
{
	if (p->sign_rotated)
		return 0;
	return t->in_force && t->version > t->floor ? t->version : t->floor;
}

void
feed_accept(const char *name, const char *buf, size_t len,
    const struct feed_trust *t, const struct feed_device *d,
    struct feed_decision *out)
{
	const struct feed_proof	*p = &out->proof;
	const struct feed_body	*c;
	char			 when[32];

	memset(out, 0, sizeof(*out));
	out->next = *t;
	out->verdict = FEED_REJECTED;
	out->refusal = FEED_REFUSED_PROOF;
	if (!accept_open(name, buf, len, t, out))
		return;
	c = out->body;
	if (t->keyfloor.version != 0 &&
	    feed_keyset_behind(&p->keys, &t->keyfloor)) {
		out->refusal = FEED_REFUSED_KEYSET;
		snprintf(out->why, sizeof(out->why), "signed under key set "
		    "%lu, behind key set %lu, trusted before", p->keys.version,
		    t->keyfloor.version);
		return;
	}
	if (t->in_force && p->nupdates == 0 && c->version == t->version) {
		out->verdict = FEED_UNCHANGED;
		out->refusal = FEED_REFUSED_NOT;
		snprintf(out->why, sizeof(out->why), "version %llu is the one "
		    "in force", c->version);
		return;
	}
	/* Against the highest version ever accepted, not just the one in
	 * force: after a key rotation dropped it, or a corrupt cache, an
	 * older signed feed must still not get in. */
	if (c->version < accept_highest(t, p)) {
		out->refusal = FEED_REFUSED_ROLLBACK;
		snprintf(out->why, sizeof(out->why), "rollback refused: "
		    "version %llu is older than %llu, the highest accepted",
		    c->version, accept_highest(t, p));
		return;
	}
	if (!d->cached && c->expires <= d->now) {
		out->refusal = FEED_REFUSED_EXPIRED;
		format_rfc3339(c->expires, when, sizeof(when));
		snprintf(out->why, sizeof(out->why), "version %llu expired at "
		    "%s", c->version, when);
		return;
	}
	out->snap = feed_body_snapshot(d->base, c, d->device_id);
	if (!d->cached)
		out->weakens = snapshot_weaker(d->enforced, out->snap,
		    out->weakened, sizeof(out->weakened));
	if (out->weakens && !p->root_met) {
		out->refusal = FEED_REFUSED_WEAKENS;
		snprintf(out->why, sizeof(out->why), "version %llu weakens "
		    "pinning (%s) but carries %zu of the %lu root signature(s) "
		    "that needs", c->version, out->weakened, p->root_have,
		    p->keys.root.threshold);
		snapshot_unref(out->snap);
		out->snap = NULL;
		return;
	}
	out->verdict = FEED_ACCEPTED;
	out->refusal = FEED_REFUSED_NOT;
	out->next.keys = p->keys;
	if (c->version > t->floor || p->sign_rotated)
		out->next.floor = c->version;
	out->next.in_force = true;
	out->next.version = c->version;
	out->attested = c->issued;
	if (!p->root_met && clock_too_far_ahead(c->issued, (time_t)d->sys)) {
		out->clamped = true;
		out->attested = d->sys + CLOCK_SKEW;
	}
}

void
feed_accept_clear(struct feed_decision *out)
{
	feed_body_free(out->body);
	snapshot_unref(out->snap);
	out->body = NULL;
	out->snap = NULL;
}
