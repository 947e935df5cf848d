/*
 * feed_file.h - the signed feed as a file: a body (feed_body.h) followed
 * by one last line "signature = ed25519:BASE64" over every byte before it.
 * Verifying, signing, and the publisher's keys.
 */
#ifndef PINSHIM_PINS_FEED_FILE_H
#define PINSHIM_PINS_FEED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pins/feed_body.h"

#define FEED_KEYS_MAX	8
#define FEED_KEY_LEN	32	/* Ed25519 public key */
#define FEED_SIG_LEN	64

/* "ed25519:" + base64 of the 32-byte public key. */
bool	 feed_key_parse(const char *s, uint8_t out[FEED_KEY_LEN]);

/* Find the signature line; *bodylen: the bytes it signs. */
bool	 feed_split(const char *buf, size_t len, size_t *bodylen,
	    uint8_t sig[FEED_SIG_LEN], const char **why);
/* Index of the key that made sig over body, or -1. */
int	 feed_check_signature(const char *body, size_t len,
	    const uint8_t sig[FEED_SIG_LEN],
	    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys);
/* The index of the key that signed buf (*bodylen: the bytes it signs);
 * -1 with *why when there is no well-formed signature line, -2 when none
 * of keys made it. */
int	 feed_signed_by(const char *buf, size_t len,
	    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys,
	    size_t *bodylen, const char **why);
/* Verify, then parse. NULL with the reason on errs. */
struct feed_body *feed_open(const char *name, const char *buf, size_t len,
	    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys, FILE *errs,
	    int *key_used);

/* Publisher side: a private signing key, held only while signing. */
struct feed_key;

/* NAME.key (PKCS#8 PEM, 0600, never over an existing file) and NAME.pub. */
int	 feed_keygen(const char *name, FILE *errs);
struct feed_key *feed_key_load(const char *path, FILE *errs);
void	 feed_key_free(struct feed_key *);	/* wipes it */
int	 feed_key_public(const struct feed_key *, uint8_t out[FEED_KEY_LEN]);
/* body + its signature line, malloc'd; NULL if signing failed. */
char	*feed_sign(const char *body, size_t len, struct feed_key *,
	    size_t *outlen);

#endif
