/*
 * feedutil.h - signing for the unit tests that need real signed feeds and
 * key-set updates (test_feed.c, test_keeper.c): a fresh Ed25519 key, a
 * text with signature lines, a [keys] text. Include after testutil.h.
 */
#ifndef PINSHIM_FEEDUTIL_H
#define PINSHIM_FEEDUTIL_H

#include "pins/feed_keys.h"

/* A new key pair dir/name.{key,pub}, loaded; its public key into pub. */
static inline void
load_key(const char *dir, const char *name, struct feed_key **k,
    uint8_t pub[FEED_KEY_LEN])
{
	char	 path[400];
	FILE	*null = fopen("/dev/null", "w");

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(feed_keygen(path, null), 0);
	strcat(path, ".key");
	assert_non_null(*k = feed_key_load(path, null));
	assert_int_equal(feed_key_public(*k, pub), 0);
	fclose(null);
}

/* prefix + text + one signature line per key (named unless legacy);
 * malloc'd. */
static inline char *
sign_text(const char *prefix, const char *text, struct feed_key **ks,
    size_t n, bool named, size_t *len)
{
	size_t	 plen = strlen(prefix), tlen = strlen(text), i, l;
	char	*out = malloc(plen + tlen + n * FEED_SIG_LINE_MAX + 1);

	memcpy(out, prefix, plen);
	memcpy(out + plen, text, tlen);
	*len = plen + tlen;
	for (i = 0; i < n; i++) {
		l = feed_sig_line(text, tlen, ks[i], named, out + *len);
		assert_true(l > 0);
		*len += l;
	}
	out[*len] = '\0';
	return out;
}

/* [keys] text for version v; malloc'd. */
static inline char *
keys_text(unsigned long v, const uint8_t (*root)[FEED_KEY_LEN], size_t nroot,
    unsigned long rt, const uint8_t (*sign)[FEED_KEY_LEN], size_t nsign,
    unsigned long st)
{
	struct feed_keyset	 ks;
	size_t			 len;

	memset(&ks, 0, sizeof(ks));
	ks.version = v;
	memcpy(ks.root.keys, root, nroot * FEED_KEY_LEN);
	ks.root.n = nroot;
	ks.root.threshold = rt;
	memcpy(ks.sign.keys, sign, nsign * FEED_KEY_LEN);
	ks.sign.n = nsign;
	ks.sign.threshold = st;
	return feed_keyset_format(&ks, &len);
}

#endif
