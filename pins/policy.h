/*
 * policy.h - host rules and the immutable snapshot that holds them.
 *
 * A snapshot is built whole (from the INI, from the signed feed), never
 * changed afterwards, and reference counted: a connection takes a
 * reference when it starts, so swapping in a new snapshot affects new
 * connections at once and running ones not at all.
 */
#ifndef PINSHIM_POLICY_H
#define PINSHIM_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pins/host.h"
#include "pins/pin.h"

enum policy {
	POLICY_BLOCK,
	POLICY_PIN,
	POLICY_PIN_ONLY,
	POLICY_CA,
	POLICY_TOFU,
};

struct rule {
	struct hostpat	 pat;
	char		*pattern;	/* as written; owned */
	enum policy	 policy;
	struct pinset	 pins;		/* owned */
	bool		 has_expires;
	int64_t		 expires;	/* valid if has_expires */
	enum policy	 on_expiry;	/* POLICY_CA or POLICY_BLOCK */
	bool		 upgrade;	/* forward: http:// may go out as https */
	bool		 observe_only;	/* enforce = no: a pin failure is
					 * logged would-refuse, let through */
	/* policy tofu: */
	struct pinset	 observed;	/* leaf pins a vantage point saw */
	bool		 accept_issuer;	/* a new leaf from the pinned issuer */
	char		*origin;	/* "file:line"; owned */
	bool		 from_feed;	/* read from a feed body, not the INI */
};

struct snapshot {
	int		 refs;
	enum policy	 default_policy;
	struct rule	*rules;		/* owned */
	size_t		 nrules;
	size_t		 cap;		/* rules allocated */
	struct strmap	*index;		/* owned; pattern key -> rule */
};

/* What applies to one host, resolved once per connection. */
struct verdict_policy {
	enum policy		 policy;
	const struct rule	*rule;	/* NULL: default_policy */
	bool			 expired; /* rule's pins past expires */
};

const char	*policy_name(enum policy);
bool		 policy_parse(const char *s, enum policy *out);

struct snapshot	*snapshot_new(enum policy default_policy);
/* Takes ownership of the rule's members (and clears it). */
void		 snapshot_add_rule(struct snapshot *, struct rule *);
/* The rule with exactly this pattern, or NULL (hashed). */
const struct rule *snapshot_rule(const struct snapshot *,
		    const struct hostpat *);
/* Free a rule's members (one not added to a snapshot). */
void		 rule_clear(struct rule *);
struct snapshot	*snapshot_ref(struct snapshot *);
void		 snapshot_unref(struct snapshot *);

/* A new snapshot: base's rules, with over's rules replacing those of the
 * same pattern and added otherwise; base's default_policy. pinning_off
 * turns pin and pin-only into ca (a feed's per-device override). */
struct snapshot	*snapshot_merge(const struct snapshot *base,
		    const struct snapshot *over, bool pinning_off);

/* Whether some host that old has a rule for is protected less by new
 * (block > pinned > pinned but ca once expired > tofu > ca); *why names
 * the first such host and the change ("*" in it: any label no rule
 * names). Every such host is judged, not a sample: O(rules). Hosts old
 * leaves to the default policy are not counted: there was no rule to
 * weaken. The one rule for the device and feed verify alike. */
bool		 snapshot_weaker(const struct snapshot *old,
		    const struct snapshot *new, char *why, size_t whysz);

/* The most specific rule for a normalised host, with expiry applied. */
void		 snapshot_resolve(const struct snapshot *, const char *host,
		    int64_t now, struct verdict_policy *out);

#endif
