/*
 * feed.h - the signed pin feed file: body + "signature = ed25519:..." line.
 */
#ifndef PINSHIM_FEED_H
#define PINSHIM_FEED_H

#include <stdio.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include "../conf/conf.h"

#define FEED_SIG_LEN	64

/* Find the signature line; *bodylen: the bytes it signs. */
int	 feed_split(const char *buf, size_t len, size_t *bodylen,
	    uint8_t sig[FEED_SIG_LEN], const char **why);
/* Index of the key that made sig over body, or -1. */
int	 feed_check_signature(const char *body, size_t len,
	    const uint8_t sig[FEED_SIG_LEN],
	    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys);
/* Verify, then parse. NULL with the reason on errs. */
struct conf *feed_open(const char *name, const char *buf, size_t len,
	    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys, FILE *errs,
	    int *key_used);

/* Publisher side. */
int	 feed_keygen(const char *name, FILE *errs);
int	 feed_key_load(const char *path, ed25519_key *, FILE *errs);
char	*feed_sign(const char *body, size_t len, ed25519_key *,
	    size_t *outlen);

/* Files. */
int	 feed_write_atomic(const char *dir, const char *name, const char *buf,
	    size_t len);
char	*feed_read_file(const char *path, size_t max, size_t *len,
	    FILE *errs);

#endif
