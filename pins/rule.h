/*
 * rule.h - the [domain:PATTERN] section, the one place host rules are
 * read, for the INI (bootstrap pins) and the feed body alike: its keys,
 * their strict parsers, and the checks across them.
 */
#ifndef PINSHIM_PINS_RULE_H
#define PINSHIM_PINS_RULE_H

#include "base/ini.h"
#include "pins/policy.h"

/* The section's context: each rule goes into snap as its section closes. */
struct rule_loader {
	struct snapshot	*snap;		/* borrowed */
	struct rule	 rule;		/* the one being read; owned */
};

/* The table entry for [domain:PATTERN] sections feeding this loader. */
struct ini_section rule_section(struct rule_loader *);

/* Shared with [upstream] default_policy and [feed] pins. */
bool	 rule_policy_value(struct ini *, const char *, void *, const char **);
bool	 rule_pins_value(struct ini *, const char *, void *, const char **);

#endif
