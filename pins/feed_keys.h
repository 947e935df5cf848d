/*
 * feed_keys.h - who may sign what. A key set has two roles, each a list
 * of Ed25519 keys and a threshold: root (signs key-set updates, and must
 * also sign any feed that weakens pinning) and sign (the everyday feed
 * key). What a signed file (feed_file.h) proves under a trusted key set,
 * the proven feed body, and the rules that keep a device from ever
 * trusting an older key set again.
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

/* In state_dir: the key-set updates trusted (written for the worker by the
 * keeper, shim/keeper.h), and the last key set trusted, which only the
 * keeper writes, and only ever raises. */
#define FEED_KEYS	"pins.keys"
#define FEED_KEYSET	"pins.keyset"
#define FEED_CHAIN_MAX	(64 * 1024)	/* 32 updates of 8+8 keys */

/* NULL if usable; else why not (thresholds in 1..n, no key twice in a
 * role, no two keys with one key id). */
const char	*feed_keyset_check(const struct feed_keyset *);
/* A [keys] body: version, root, root_threshold, sign, sign_threshold. */
bool		 feed_keyset_parse(const char *name, const char *body,
		    size_t len, struct feed_keyset *, FILE *errs);
/* ks as a [keys] body, malloc'd and NUL-terminated. */
char		*feed_keyset_format(const struct feed_keyset *, size_t *len);
bool		 feed_keyset_same(const struct feed_keyset *,
		    const struct feed_keyset *);
/* Whether a device that trusted floor would go back by trusting ks: ks is
 * older, or as old and another set (a branch). */
bool		 feed_keyset_behind(const struct feed_keyset *ks,
		    const struct feed_keyset *floor);
/* dir/pins.keyset into *ks: 1, 0 when there is none, -1 when it cannot be
 * read or is not a key set (the reason on errs). */
int		 feed_keyset_load(const char *dir, struct feed_keyset *ks,
		    FILE *errs);
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
	struct feed_keyset end;		/* the file's last update as written
					 * (history too); version 0: none */
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
/* Whether buf may be persisted as the chain (pins.keys) of a device that
 * trusts `trusted`: it proves under it (feed false) and its last update is
 * the set it proves to, so it ends at trusted or after it, never before,
 * never on a branch. The set it ends at into *to. False with "NAME:
 * reason" on errs. */
bool		 feed_chain_forward(const char *name, const char *buf,
		    size_t len, const struct feed_keyset *trusted,
		    struct feed_keyset *to, FILE *errs);
/* dir/pins.keys proven under configured: 1 with the set it ends at in
 * *keys and the file in *chain (malloc'd, *len bytes); 0 when there is
 * none; -1 when it cannot be read or does not prove (the reason on errs).
 * Unless 1, *keys is configured and *chain NULL. */
int		 feed_chain_load(const char *dir,
		    const struct feed_keyset *configured,
		    struct feed_keyset *keys, char **chain, size_t *len,
		    FILE *errs);
/* feed_prove, then parse the proven body. NULL with the reason on errs. */
struct feed_body *feed_open(const char *name, const char *buf, size_t len,
		    const struct feed_keyset *trusted, FILE *errs,
		    struct feed_proof *);

#endif
