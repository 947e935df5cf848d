/*
 * weaken_model.h - the property snapshot_weaker() must have, as a model
 * both the unit property test (tests/unit/test_policy.c) and the fuzz
 * harness (fuzz/fuzz_weaken.c) check: "weakens" is true exactly when
 * some host name that a rule of the old snapshot governed is protected
 * less by the new one.
 *
 * Snapshots are drawn from bytes over a small world: bases are zero to
 * two labels of {a, b, c} over the top-level label "t", rules any kind
 * and any policy, with or without an expiry, enforced or not. The oracle
 * knows nothing of how snapshot_weaker() works: it resolves every name of
 * a universe by brute force (every rule, hostpat_match, most specific,
 * first of equals) and ranks what governs it; the universe is every name
 * of up to four labels of {a, b, c, d} over "t" ("d" is a label no rule
 * names), deep enough to stand two labels below every base.
 *
 * Must never: share code with pins/policy.c beyond hostpat_match, or the
 * oracle would only repeat what it checks.
 */
#ifndef PINSHIM_WEAKEN_MODEL_H
#define PINSHIM_WEAKEN_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pins/policy.h"

#define WM_MAX_RULES	6

/* Bytes in, drawn one at a time; past the end, zeros. */
struct wm_bytes {
	const uint8_t	*p;
	size_t		 n;
};

static inline unsigned
wm_take(struct wm_bytes *b, unsigned below)
{
	unsigned	 v = 0;

	if (b->n > 0) {
		v = *b->p++;
		b->n--;
	}
	return v % below;
}

/* A base: "t", "L.t" or "L.L.t" with L in a, b, c. */
static inline void
wm_base(struct wm_bytes *b, char *out, size_t outsz)
{
	static const char *const labels[] = { "a", "b", "c" };
	unsigned	 depth = wm_take(b, 3), i;

	out[0] = '\0';
	for (i = 0; i < depth; i++) {
		strncat(out, labels[wm_take(b, 3)], outsz - strlen(out) - 1);
		strncat(out, ".", outsz - strlen(out) - 1);
	}
	strncat(out, "t", outsz - strlen(out) - 1);
}

/* A snapshot of up to WM_MAX_RULES rules, each pattern once (as the INI
 * and the feed make them). The caller unrefs it. */
static inline struct snapshot *
wm_snapshot(struct wm_bytes *b)
{
	static const enum policy policies[] = { POLICY_BLOCK, POLICY_PIN,
	    POLICY_PIN_ONLY, POLICY_CA, POLICY_TOFU };
	static const char *const kinds[] = { "", "*.", "**." };
	struct snapshot	*s = snapshot_new(policies[wm_take(b, 5)]);
	unsigned	 n = wm_take(b, WM_MAX_RULES + 1), i;
	char		 base[16], pattern[24];
	const char	*why;
	struct rule	 r;

	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		wm_base(b, base, sizeof(base));
		snprintf(pattern, sizeof(pattern), "%s%s",
		    kinds[wm_take(b, 3)], base);
		r.policy = policies[wm_take(b, 5)];
		r.observe_only = wm_take(b, 4) == 0;
		r.has_expires = wm_take(b, 2) == 0;
		r.expires = r.has_expires ? 100 + 100 * wm_take(b, 2) : 0;
		r.on_expiry = wm_take(b, 2) ? POLICY_CA : POLICY_BLOCK;
		/* a wildcard over "t" is refused; a pattern twice, skipped */
		if (!hostpat_parse(pattern, &r.pat, &why) ||
		    snapshot_rule(s, &r.pat) != NULL)
			continue;
		r.pattern = strdup(pattern);
		r.origin = strdup("model");
		if (r.pattern == NULL || r.origin == NULL)
			abort();
		snapshot_add_rule(s, &r);
	}
	return s;
}

/* The rule governing host, by brute force; NULL: the default policy. */
static inline const struct rule *
wm_resolve(const struct snapshot *s, const char *host)
{
	const struct rule	*best = NULL;
	int			 best_score = -1, score;
	size_t			 i;

	for (i = 0; i < s->nrules; i++) {
		score = hostpat_match(&s->rules[i].pat, host);
		if (score > best_score) {
			best = &s->rules[i];
			best_score = score;
		}
	}
	return best;
}

/* How much what governs a name protects it, as docs/publishing.md ranks it:
 * block 4, pinned 3, pinned but ca once expired 2, tofu 1, ca 0; pins
 * only observed (enforce = no) protect as much as ca. */
static inline int
wm_rank(const struct rule *r, enum policy def)
{
	enum policy	 p = r != NULL ? r->policy : def;

	if (r != NULL && r->observe_only)
		return 0;
	if (p == POLICY_BLOCK)
		return 4;
	if (p == POLICY_PIN || p == POLICY_PIN_ONLY)
		return r != NULL && r->has_expires &&
		    r->on_expiry == POLICY_CA ? 2 : 3;
	return p == POLICY_TOFU ? 1 : 0;
}

/* Whether one name a rule of old governs is protected less by new
 * (pins that expire to ca count as weaker when they expire sooner);
 * *name says which. */
static inline bool
wm_some_name_weaker(const struct snapshot *old, const struct snapshot *new,
    char *name, size_t namesz)
{
	static const char *const labels[] = { "a", "b", "c", "d" };
	const struct rule	*o, *n;
	char			 host[32];
	unsigned		 depth, k, code, total;
	int			 so, sn;

	for (depth = 0; depth <= 4; depth++) {
		total = 1;
		for (k = 0; k < depth; k++)
			total *= 4;
		for (code = 0; code < total; code++) {
			unsigned c = code;

			host[0] = '\0';
			for (k = 0; k < depth; k++, c /= 4) {
				strcat(host, labels[c % 4]);
				strcat(host, ".");
			}
			strcat(host, "t");
			if ((o = wm_resolve(old, host)) == NULL)
				continue;	/* no rule: nothing to weaken */
			n = wm_resolve(new, host);
			so = wm_rank(o, old->default_policy);
			sn = wm_rank(n, new->default_policy);
			if (sn < so || (sn == so && so == 2 &&
			    n->expires < o->expires)) {
				snprintf(name, namesz, "%s", host);
				return true;
			}
		}
	}
	return false;
}

#endif
