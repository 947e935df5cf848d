/*
 * rule.c - read [domain:PATTERN] sections into host rules: pins, policy,
 * expires, on_expiry, upgrade; then check what spans keys (a policy that
 * needs pins has them, one that never uses pins has none, only pin sets
 * expire, no two sections share a pattern).
 *
 * Must never: add a rule that failed any check, or default a rule to
 * anything weaker than policy pin.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "pins/rule.h"

#define RULE(f)		offsetof(struct rule, f)

bool
rule_policy_value(struct ini *in, const char *v, void *field,
    const char **why)
{
	enum policy	*dst = field;

	(void)in;
	if (!policy_parse(v, dst)) {
		*why = "not one of pin, pin-only, ca, tofu, block";
		return false;
	}
	return true;
}

bool
rule_pins_value(struct ini *in, const char *v, void *field, const char **why)
{
	char	 bad[PIN_TEXT_LEN + 40];

	if (!pinset_parse_list(field, v, bad, sizeof(bad))) {
		*why = ini_why(in, "not a sha256/ pin: \"%.80s\" (want sha256/ "
		    "+ 44 base64 characters)", bad);
		return false;
	}
	return true;
}

static bool
on_expiry_value(struct ini *in, const char *v, void *field, const char **why)
{
	enum policy	*dst = field;

	(void)in;
	if (strcmp(v, "ca") == 0)
		*dst = POLICY_CA;
	else if (strcmp(v, "block") == 0)
		*dst = POLICY_BLOCK;
	else {
		*why = "not one of ca, block";
		return false;
	}
	return true;
}

/* enforce = yes | no: no is observe only (pin failures let through). */
static bool
enforce_value(struct ini *in, const char *v, void *field, const char **why)
{
	(void)in;
	if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
		*why = "not one of yes, no";
		return false;
	}
	*(bool *)field = strcmp(v, "no") == 0;
	return true;
}

static const struct ini_key rule_keys[] = {
	INI_KEY("pins", rule_pins_value, RULE(pins), INI_LIST),
	INI_KEY("policy", rule_policy_value, RULE(policy), 0),
	INI_KEY("expires", ini_time, RULE(expires), 0),
	INI_KEY("on_expiry", on_expiry_value, RULE(on_expiry), 0),
	INI_KEY("upgrade", ini_yesno, RULE(upgrade), 0),
	INI_KEY("enforce", enforce_value, RULE(observe_only), 0),
	INI_KEY("observed", rule_pins_value, RULE(observed), INI_LIST),
	INI_KEY("tofu_accept_issuer", ini_yesno, RULE(accept_issuer), 0),
};

static void *
rule_section_open(struct ini *in, void *ctx, const char *pattern)
{
	struct rule_loader	*rl = ctx;
	struct rule		*r = &rl->rule;
	const char		*why;
	char			 origin[512];

	memset(r, 0, sizeof(*r));
	if (!hostpat_parse(pattern, &r->pat, &why)) {
		ini_error(in, in->section_line, "[%s]: bad host pattern: %s",
		    in->section, why);
		return NULL;
	}
	r->pattern = xstrdup(pattern);
	snprintf(origin, sizeof(origin), "%s:%d", in->path, in->section_line);
	r->origin = xstrdup(origin);
	r->policy = POLICY_PIN;
	r->on_expiry = POLICY_BLOCK;
	return r;
}

/* The first rule check that fails, or NULL. */
static const char *
rule_problem(struct ini *in, const struct rule *r)
{
	if ((r->policy == POLICY_PIN || r->policy == POLICY_PIN_ONLY) &&
	    r->pins.n == 0)
		return ini_why(in, "[%s] pins: required for policy %s",
		    in->section, policy_name(r->policy));
	if ((r->policy == POLICY_CA || r->policy == POLICY_BLOCK) &&
	    r->pins.n > 0)
		return ini_why(in, "[%s] pins: policy %s never uses pins; "
		    "remove them or use policy pin", in->section,
		    policy_name(r->policy));
	if ((ini_seen(in, "expires") || ini_seen(in, "on_expiry")) &&
	    r->pins.n == 0)
		return ini_why(in, "[%s] expires: only pin sets expire",
		    in->section);
	if (r->policy == POLICY_TOFU && r->pins.n > 0)
		return ini_why(in, "[%s] pins: policy tofu learns its pin at "
		    "first use; attested pins go in observed =", in->section);
	if (r->policy != POLICY_TOFU && (ini_seen(in, "observed") ||
	    ini_seen(in, "tofu_accept_issuer")))
		return ini_why(in, "[%s] %s: only with policy tofu", in->section,
		    ini_seen(in, "observed") ? "observed" :
		    "tofu_accept_issuer");
	/* pin-only has no CA check to fall back on when a pin fails */
	if (r->observe_only && r->policy != POLICY_PIN)
		return ini_why(in, "[%s] enforce = no: only with policy pin "
		    "(the CA check still applies while pins are observed)",
		    in->section);
	return NULL;
}

static void
rule_section_close(struct ini *in, void *ctx, void *obj)
{
	struct rule_loader	*rl = ctx;
	struct rule		*r = obj;
	const struct rule	*same;
	const char		*problem;

	r->has_expires = ini_seen(in, "expires");
	if ((problem = rule_problem(in, r)) != NULL)
		ini_error(in, in->section_line, "%s", problem);
	else if ((same = snapshot_rule(rl->snap, &r->pat)) != NULL) {
		ini_error(in, in->section_line, "[%s]: same pattern as "
		    "[domain:%s] at %s", in->section, same->pattern,
		    same->origin);
	} else {
		snapshot_add_rule(rl->snap, r);	/* takes the members */
		return;
	}
	rule_clear(r);
}

struct ini_section
rule_section(struct rule_loader *rl)
{
	struct ini_section s = {
		.name = "domain:",
		.prefix = true,
		.keys = rule_keys,
		.nkeys = nitems(rule_keys),
		.open = rule_section_open,
		.close = rule_section_close,
		.ctx = rl,
	};

	return s;
}
