/*
 * feedwatch.c - each copy of the feed `pinshim monitor` reads, judged by
 * pins/feed_accept.c (the devices' one copy of the rules) from the trust
 * a device that saw every earlier copy would have: the key set, the
 * highest version accepted (so a re-publish of an older version is a
 * rollback), what it enforces (so a weakening needs the root role). The
 * verdict's refusal becomes the state a publisher is alerted on; an
 * accepted copy expiring within FEEDWATCH_SOON_DAYS is feed-expiring.
 *
 * Must never: judge a copy by any rule of its own, or move trust on a
 * copy devices would refuse.
 */
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "pins/feed_body.h"
#include "shim/cmd/feedwatch.h"

void
feedwatch_init(struct feedwatch *w, const char *name,
    const struct feed_keyset *keys, const struct snapshot *base,
    const char *device_id)
{
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->t.keys = *keys;
	w->base = base;
	w->device_id = device_id;
	w->enforced = feed_body_snapshot(base, NULL, device_id);
}

void
feedwatch_clear(struct feedwatch *w)
{
	snapshot_unref(w->enforced);
	w->enforced = NULL;
}

static const char *
feedwatch_state_name(enum feed_refusal r)
{
	switch (r) {
	case FEED_REFUSED_NOT:
		break;
	case FEED_REFUSED_PROOF:
		return "feed-bad-signature";
	case FEED_REFUSED_ROLLBACK:
		return "feed-rollback";
	case FEED_REFUSED_EXPIRED:
		return "feed-expired";
	case FEED_REFUSED_KEYSET:
	case FEED_REFUSED_WEAKENS:
		return "feed-rejected";
	}
	return "feed-ok";
}

void
feedwatch_judge(struct feedwatch *w, const char *buf, size_t len,
    int64_t now, struct feedwatch_state *out)
{
	struct feed_device	 dev;
	struct feed_decision	 d;
	char			 when[32];
	long long		 days;

	memset(out, 0, sizeof(*out));
	memset(&dev, 0, sizeof(dev));
	dev.base = w->base;
	dev.enforced = w->enforced;
	dev.device_id = w->device_id;
	dev.now = dev.sys = now;
	feed_accept(w->name, buf, len, &w->t, &dev, &d);
	if (d.verdict == FEED_REJECTED) {
		out->state = feedwatch_state_name(d.refusal);
		out->bad = true;
		snprintf(out->detail, sizeof(out->detail), "%s", d.why);
		feed_accept_clear(&d);
		return;
	}
	/* accepted (never "unchanged": nothing is held in force between
	 * copies, the version floor is) */
	w->t = d.next;
	w->t.in_force = false;
	snapshot_unref(w->enforced);
	w->enforced = d.snap;
	d.snap = NULL;
	out->body = d.body;
	d.body = NULL;
	format_rfc3339(out->body->expires, when, sizeof(when));
	days = (long long)((out->body->expires - now) / 86400);
	out->state = out->body->expires - now < FEEDWATCH_SOON_DAYS * 86400 ?
	    "feed-expiring" : "feed-ok";
	snprintf(out->detail, sizeof(out->detail), "version %llu, expires %s "
	    "(in %lld days)", out->body->version, when, days);
	feed_accept_clear(&d);
}
