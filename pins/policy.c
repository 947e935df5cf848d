/*
 * policy.c - resolve which rule governs a host.
 *
 * Resolution never falls back to something more permissive by accident:
 * no match means default_policy, an expired pin set means on_expiry, and a
 * tie between equally specific patterns keeps the first one written.
 *
 * Must never: resolve a host to anything but its most specific rule, or
 * change a snapshot once it is shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/strmap.h"
#include "pins/policy.h"

static const char *const policy_names[] = {
	[POLICY_BLOCK] = "block",
	[POLICY_PIN] = "pin",
	[POLICY_PIN_ONLY] = "pin-only",
	[POLICY_CA] = "ca",
	[POLICY_TOFU] = "tofu",
};

const char *
policy_name(enum policy p)
{
	if ((size_t)p < nitems(policy_names))
		return policy_names[p];
	return "?";
}

bool
policy_parse(const char *s, enum policy *out)
{
	size_t	 i;

	for (i = 0; i < nitems(policy_names); i++)
		if (strcmp(s, policy_names[i]) == 0) {
			*out = (enum policy)i;
			return true;
		}
	return false;
}

struct snapshot *
snapshot_new(enum policy default_policy)
{
	struct snapshot	*s = xcalloc(1, sizeof(*s));

	s->refs = 1;
	s->default_policy = default_policy;
	s->index = strmap_new();
	return s;
}

void
snapshot_add_rule(struct snapshot *s, struct rule *r)
{
	char	 key[HOSTPAT_KEY_LEN];

	/* Doubling: a 12,000-rule feed is a dozen reallocations, not
	 * 12,000 copies of a growing array. */
	if (s->nrules == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->rules = xreallocarray(s->rules, s->cap, sizeof(*s->rules));
	}
	hostpat_key(&r->pat, key);
	strmap_add(s->index, key, s->nrules, NULL);	/* the first wins */
	s->rules[s->nrules++] = *r;
	memset(r, 0, sizeof(*r));
}

const struct rule *
snapshot_rule(const struct snapshot *s, const struct hostpat *pat)
{
	char	 key[HOSTPAT_KEY_LEN];
	size_t	 i;

	hostpat_key(pat, key);
	return strmap_get(s->index, key, &i) ? &s->rules[i] : NULL;
}

void
rule_clear(struct rule *r)
{
	free(r->pattern);
	free(r->origin);
	pinset_free(&r->pins);
	pinset_free(&r->observed);
	memset(r, 0, sizeof(*r));
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	s->refs++;
	return s;
}

void
snapshot_unref(struct snapshot *s)
{
	size_t	 i;

	if (s == NULL || --s->refs > 0)
		return;
	for (i = 0; i < s->nrules; i++)
		rule_clear(&s->rules[i]);
	free(s->rules);
	strmap_free(s->index);
	free(s);
}

/* The rule with this key, if it matches host better than *best. */
static void
consider(const struct snapshot *s, enum hostpat_kind kind, const char *base,
    const char *host, size_t *best, int *best_score)
{
	char	 key[HOSTPAT_KEY_LEN];
	size_t	 i;
	int	 score;

	hostpat_key_of(kind, base, key);
	if (!strmap_get(s->index, key, &i))
		return;
	score = hostpat_match(&s->rules[i].pat, host);
	if (score > *best_score || (score == *best_score && score >= 0 &&
	    i < *best)) {
		*best = i;
		*best_score = score;
	}
}

/* Only the patterns that can match are looked at: the exact name, "*."
 * over its parent, "**." over each of its suffixes; O(labels), not
 * O(rules), per connection. The most specific wins, the first written
 * of equals. */
void
snapshot_resolve(const struct snapshot *s, const char *host, int64_t now,
    struct verdict_policy *out)
{
	const struct rule	*best = NULL;
	const char		*p, *dot;
	size_t			 at = 0;
	int			 best_score = -1;

	consider(s, HOSTPAT_EXACT, host, host, &at, &best_score);
	if ((dot = strchr(host, '.')) != NULL)
		consider(s, HOSTPAT_ONE_LABEL, dot + 1, host, &at, &best_score);
	for (p = host; p != NULL; p = (dot = strchr(p, '.')) ? dot + 1 : NULL)
		consider(s, HOSTPAT_ANY_DEPTH, p, host, &at, &best_score);
	if (best_score >= 0)
		best = &s->rules[at];
	out->rule = best;
	out->expired = false;
	if (best == NULL) {
		out->policy = s->default_policy;
		return;
	}
	out->policy = best->policy;
	if (best->has_expires && now >= best->expires &&
	    (best->policy == POLICY_PIN || best->policy == POLICY_PIN_ONLY)) {
		out->expired = true;
		out->policy = best->on_expiry;
	}
}

static void
rule_copy(struct snapshot *dst, const struct rule *r, bool pinning_off)
{
	struct rule	 c = *r;
	size_t		 i;

	c.pattern = xstrdup(r->pattern);
	c.origin = xstrdup(r->origin);
	memset(&c.pins, 0, sizeof(c.pins));
	for (i = 0; i < r->pins.n; i++)
		pinset_add(&c.pins, &r->pins.pins[i]);
	memset(&c.observed, 0, sizeof(c.observed));
	for (i = 0; i < r->observed.n; i++)
		pinset_add(&c.observed, &r->observed.pins[i]);
	if (pinning_off &&
	    (c.policy == POLICY_PIN || c.policy == POLICY_PIN_ONLY))
		c.policy = POLICY_CA;
	snapshot_add_rule(dst, &c);
}

struct snapshot *
snapshot_merge(const struct snapshot *base, const struct snapshot *over,
    bool pinning_off)
{
	struct snapshot	*s = snapshot_new(base->default_policy);
	size_t		 i;

	/* over's index is hashed: merging a 20,000-rule feed stays linear */
	for (i = 0; i < base->nrules; i++)
		if (over == NULL || snapshot_rule(over, &base->rules[i].pat) ==
		    NULL)
			rule_copy(s, &base->rules[i], pinning_off);
	for (i = 0; over != NULL && i < over->nrules; i++)
		rule_copy(s, &over->rules[i], pinning_off);
	return s;
}

/* How much a rule (or, rule NULL, the default policy) protects a host:
 * block, then pinned, then pinned but ca once its pins expire, tofu, ca.
 * pin and pin-only rank alike: both refuse a chain without a pin. Pins
 * only observed (enforce = no) protect as much as ca. */
static int
strength(const struct rule *r, enum policy def)
{
	if (r != NULL && r->observe_only)
		return 0;
	switch (r != NULL ? r->policy : def) {
	case POLICY_BLOCK:
		return 4;
	case POLICY_PIN:
	case POLICY_PIN_ONLY:
		return r != NULL && r->has_expires &&
		    r->on_expiry == POLICY_CA ? 2 : 3;
	case POLICY_TOFU:
		return 1;
	case POLICY_CA:
	default:
		return 0;
	}
}

static const char *
strength_name(const struct rule *r, enum policy def)
{
	if (r != NULL && r->observe_only)
		return "pin (enforce = no)";
	if (r != NULL && strength(r, def) == 2)
		return r->policy == POLICY_PIN ? "pin (ca once its pins "
		    "expire)" : "pin-only (ca once its pins expire)";
	return policy_name(r != NULL ? r->policy : def);
}

/* Whether host is protected less by new than by old; old must have said
 * something about it (a rule), or there is nothing to weaken. */
static bool
weaker_at(const struct snapshot *old, const struct snapshot *new,
    const char *host, char *why, size_t whysz)
{
	struct verdict_policy	 o, n;
	int			 so, sn;

	snapshot_resolve(old, host, 0, &o);
	if (o.rule == NULL)
		return false;
	snapshot_resolve(new, host, 0, &n);
	so = strength(o.rule, old->default_policy);
	sn = strength(n.rule, new->default_policy);
	if (sn > so || (sn == so && (sn != 2 ||
	    n.rule->expires >= o.rule->expires)))
		return false;
	snprintf(why, whysz, "%s: %s -> %s%s", host,
	    strength_name(o.rule, old->default_policy),
	    strength_name(n.rule, new->default_policy),
	    sn == so ? " (its pins expire sooner)" : n.rule == NULL ?
	    " (its rule is gone)" : "");
	return true;
}

/*
 * Every name a pattern's base can stand over, in three classes: the base
 * itself, one label below it, two or more below. Which rules match a
 * name depends only on which bases it equals or lies under, and how
 * deep: so, with B the longest base (of either snapshot) that a name
 * equals or lies under, the name resolves in both snapshots exactly as
 * B, "*.B" or "*.*.B" does, where "*" is a label no base has (a base
 * never holds '*'). Probing those three for every base judges every name
 * there is, the labels neither snapshot mentions included, in O(rules).
 * A class whose names would be over HOST_MAX is empty and not probed.
 */
static bool
weaker_under(const struct snapshot *old, const struct snapshot *new,
    const struct rule *r, char *why, size_t whysz)
{
	char	 probe[HOST_MAX + 1];

	if (weaker_at(old, new, r->pat.base, why, whysz))
		return true;
	if (snprintf(probe, sizeof(probe), "*.%s", r->pat.base) >=
	    (int)sizeof(probe))
		return false;
	if (weaker_at(old, new, probe, why, whysz))
		return true;
	if (snprintf(probe, sizeof(probe), "*.*.%s", r->pat.base) >=
	    (int)sizeof(probe))
		return false;
	return weaker_at(old, new, probe, why, whysz);
}

bool
snapshot_weaker(const struct snapshot *old, const struct snapshot *new,
    char *why, size_t whysz)
{
	size_t	 i;

	/* The bases either side names: an old rule changed or gone, a
	 * new one carving a weaker scope out of an old one (a ca name
	 * under a pinned wildcard), or a new wildcard taking over names an
	 * old, stricter rule governed. */
	for (i = 0; i < old->nrules; i++)
		if (weaker_under(old, new, &old->rules[i], why, whysz))
			return true;
	for (i = 0; i < new->nrules; i++)
		if (weaker_under(old, new, &new->rules[i], why, whysz))
			return true;
	return false;
}
