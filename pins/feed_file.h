/*
 * feed_file.h - the signed feed as a file: one or more blocks, each a
 * readable INI body followed by its signature lines. The last block is the
 * feed (feed_body.h); any before it are key-set updates (feed_keys.h).
 * Splitting, checking one signature, signing, and the publisher's keys.
 */
#ifndef PINSHIM_PINS_FEED_FILE_H
#define PINSHIM_PINS_FEED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FEED_KEYS_MAX	8	/* per role */
#define FEED_KEY_LEN	32	/* Ed25519 public key */
#define FEED_SIG_LEN	64
#define FEED_KEYID_LEN	8	/* first bytes of SHA-256(public key) */
#define FEED_KEYID_TEXT	(2 * FEED_KEYID_LEN + 1)
#define FEED_SIGS_MAX	16	/* signature lines per block */
#define FEED_BLOCKS_MAX	33	/* 32 key-set updates, then the feed */
/* "signature = " KEYID " ed25519:" BASE64 "\n" */
#define FEED_SIG_LINE_MAX 128

struct feed_sig {
	bool		 named;			/* carries a key id */
	uint8_t		 keyid[FEED_KEYID_LEN];
	uint8_t		 sig[FEED_SIG_LEN];
};

struct feed_block {
	size_t		 off, len;		/* the body: the signed bytes */
	size_t		 end;			/* past its last signature */
	struct feed_sig	 sigs[FEED_SIGS_MAX];
	size_t		 nsigs;
};

struct feed_blocks {
	struct feed_block b[FEED_BLOCKS_MAX];
	size_t		 n;
};

/* "ed25519:" + base64 of the 32-byte public key. */
bool	 feed_key_parse(const char *s, uint8_t out[FEED_KEY_LEN]);
/* A public key as people have it: a NAME.pub file's text
 * ("ed25519:BASE64" and a newline), or a PEM SubjectPublicKeyInfo (what
 * `openssl pkey -pubout` writes). False with *why. */
bool	 feed_key_decode(const char *text, size_t len,
	    uint8_t out[FEED_KEY_LEN], const char **why);
void	 feed_key_format(const uint8_t key[FEED_KEY_LEN], char *out,
	    size_t outsz);
void	 feed_keyid(const uint8_t key[FEED_KEY_LEN],
	    uint8_t id[FEED_KEYID_LEN]);
void	 feed_keyid_text(const uint8_t key[FEED_KEY_LEN],
	    char out[FEED_KEYID_TEXT]);

/* Split a signed file into its blocks. False with *why when it does not
 * end in a signature line, a block has no body or too many signatures,
 * or a signature line is malformed. */
bool	 feed_split(const char *buf, size_t len, struct feed_blocks *,
	    const char **why);
/* Bytes up to the end of the last signature line (0 if there is none):
 * what `feed sign` keeps in front of the body it signs. */
size_t	 feed_signed_prefix(const char *buf, size_t len);
/* Whether key made one of the block's signatures. */
bool	 feed_block_signed_by(const char *buf, const struct feed_block *,
	    const uint8_t key[FEED_KEY_LEN]);

/* Publisher side: a private signing key, held only while signing. */
struct feed_key;

/* NAME.key (PKCS#8 PEM, 0600, never over an existing file) and NAME.pub. */
int	 feed_keygen(const char *name, FILE *errs);
struct feed_key *feed_key_load(const char *path, FILE *errs);
void	 feed_key_free(struct feed_key *);	/* wipes it */
int	 feed_key_public(const struct feed_key *, uint8_t out[FEED_KEY_LEN]);
/* One signature line over body into out (FEED_SIG_LINE_MAX); named: with
 * the key id (legacy, unnamed: what pinshim before key roles reads).
 * Its length, or 0 if signing failed. */
size_t	 feed_sig_line(const char *body, size_t len, struct feed_key *,
	    bool named, char out[FEED_SIG_LINE_MAX]);

#endif
