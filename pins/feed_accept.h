/*
 * feed_accept.h - would a device accept this file? The feed rules once, as
 * a decision over values: what the device trusts and enforces now, the
 * time, the bytes in; a verdict, its reason and the trust after out. The
 * device (shim/remote/feedsync.c) and `pinshim feed verify` both ask it.
 */
#ifndef PINSHIM_PINS_FEED_ACCEPT_H
#define PINSHIM_PINS_FEED_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pins/feed_keys.h"
#include "pins/policy.h"

/* What a device trusts between two files. */
struct feed_trust {
	struct feed_keyset keys;	/* trusted now */
	struct feed_keyset keyfloor;	/* last trusted (pins.keyset);
					 * version 0: none known */
	unsigned long long floor;	/* highest version accepted; 0: none */
	bool		 in_force;	/* a feed is in force */
	unsigned long long version;	/* its version */
};

/* Everything else the rules look at. All borrowed. */
struct feed_device {
	const struct snapshot *base;	/* the INI's rules */
	const struct snapshot *enforced; /* what the device enforces now */
	const char	*device_id;	/* may be NULL */
	int64_t		 now;		/* the latest known time */
	int64_t		 sys;		/* the system clock: bounds a time
					 * only the signing role attests */
	bool		 cached;	/* the device's own cache at start:
					 * expiry and weakening were judged
					 * when it was fetched */
};

enum feed_verdict {
	FEED_ACCEPTED,			/* put it in force */
	FEED_UNCHANGED,			/* the version in force, again */
	FEED_REJECTED
};

/* Which rule a rejected file broke, for callers that act on the kind
 * (`pinshim monitor`'s states); why says it in words. */
enum feed_refusal {
	FEED_REFUSED_NOT = 0,		/* not rejected */
	FEED_REFUSED_PROOF,		/* signatures, key set or parse */
	FEED_REFUSED_KEYSET,		/* behind the key set trusted */
	FEED_REFUSED_ROLLBACK,		/* older than the highest accepted */
	FEED_REFUSED_EXPIRED,
	FEED_REFUSED_WEAKENS,		/* without the root threshold */
};

struct feed_decision {
	enum feed_verdict verdict;
	enum feed_refusal refusal;	/* rejected: which rule */
	char		 why[512];	/* unchanged, rejected: the reason */
	struct feed_proof proof;	/* set if body is */
	struct feed_body *body;		/* proven and parsed, or NULL;
					 * owned */
	struct snapshot	*snap;		/* accepted: what the device then
					 * enforces; one reference owned */
	bool		 weakens;	/* judged unless cached: the file */
	char		 weakened[300];	/* weakens pinning on the device */
	struct feed_trust next;		/* the trust after: trust itself
					 * unless accepted */
	int64_t		 attested;	/* accepted: the time it vouches for
					 * (issued, clamped: below) */
	bool		 clamped;	/* issued is over CLOCK_SKEW past a
					 * sane sys and only the signing
					 * role signed: attested is sys +
					 * CLOCK_SKEW */
};

/* Judge buf (named name in reasons) as a device with trust t and d would.
 * d->now decides expiry; t, d and buf are only read. Clear *out after. */
void	 feed_accept(const char *name, const char *buf, size_t len,
	    const struct feed_trust *t, const struct feed_device *d,
	    struct feed_decision *out);
void	 feed_accept_clear(struct feed_decision *);
const char *feed_verdict_name(enum feed_verdict);

#endif
