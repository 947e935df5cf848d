/*
 * feed_keys.h - who may sign what. A key set has two roles, each a list
 * of Ed25519 keys and a threshold: root (signs key-set updates, and must
 * also sign any feed that weakens pinning) and sign (the everyday feed
 * key). What a signed file (feed_file.h) proves under a trusted key set,
 * and the proven feed body.
 */
#ifndef PINSHIM_PINS_FEED_KEYS_H
#define PINSHIM_PINS_FEED_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/ini.h"
#include "pins/feed_body.h"
#include "pins/feed_file.h"

struct feed_role {
	uint8_t		 keys[FEED_KEYS_MAX][FEED_KEY_LEN];
	size_t		 n;
	unsigned long	 threshold;		/* 1..n */
};

struct feed_keyset {
	unsigned long	 version;		/* 1: the configured one */
	struct feed_role root;
	struct feed_role sign;
};

/* NULL if usable; else why not (thresholds in 1..n, no key twice in a
 * role, no two keys with one key id). */
const char	*feed_keyset_check(const struct feed_keyset *);
/* A [keys] body: version, root, root_threshold, sign, sign_threshold. */
bool		 feed_keyset_parse(const char *name, const char *body,
		    size_t len, struct feed_keyset *, FILE *errs);
/* ks as a [keys] body, malloc'd and NUL-terminated. */
char		*feed_keyset_format(const struct feed_keyset *, size_t *len);
/* ini parser: a list of ed25519:BASE64 keys into a struct feed_role. */
bool		 feed_role_keys_value(struct ini *, const char *, void *,
		    const char **);
bool		 feed_roles_share_a_key(const struct feed_role *,
		    const struct feed_role *);
/* How many of the role's keys signed block b; their key ids, comma
 * separated, into who (may be NULL). */
size_t		 feed_role_signers(const struct feed_role *, const char *buf,
		    const struct feed_block *b, char *who, size_t whosz);

struct feed_span {
	size_t		 off, len;
};

/* What a signed file proves under a trusted key set. */
struct feed_proof {
	struct feed_keyset keys;	/* the set the file's updates end at */
	size_t		 nupdates;	/* updates newer than the trusted set */
	struct feed_span applied[FEED_BLOCKS_MAX]; /* their bytes, signed */
	bool		 sign_rotated;	/* no trusted signing key is left */
	struct feed_span body;		/* the feed block's body */
	size_t		 sign_have;	/* signers of it in each role */
	size_t		 root_have;
	bool		 root_met;	/* root threshold met on the feed */
	char		 signers[FEED_SIGS_MAX * FEED_KEYID_TEXT];
};

/* Check buf under trusted. Key-set updates not newer than trusted are
 * history and skipped; each newer one must be version + 1 of the set
 * before it and carry the root threshold of that set and of its own. With
 * feed true the last block must carry the signing threshold of the set
 * the updates end at; with feed false every block is an update (the
 * persisted chain). False with "NAME: reason" on errs. */
bool		 feed_prove(const char *name, const char *buf, size_t len,
		    const struct feed_keyset *trusted, bool feed,
		    struct feed_proof *, FILE *errs);
/* feed_prove, then parse the proven body. NULL with the reason on errs. */
struct feed_body *feed_open(const char *name, const char *buf, size_t len,
		    const struct feed_keyset *trusted, FILE *errs,
		    struct feed_proof *);

#endif
