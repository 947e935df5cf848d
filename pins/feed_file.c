/*
 * feed_file.c - the signed pin feed as a file: split it, check its
 * signature, hand the proven body to feed_body.c, and (publisher side)
 * sign a body and manage keys.
 *
 * A signed feed is the body, a readable INI text, followed by exactly one
 * last line "signature = ed25519:BASE64" holding an Ed25519 signature over
 * every byte before that line. One file, so a CDN can never pair a body
 * with another version's signature; plain text, so `cat` shows what is
 * pinned.
 *
 * Must never: parse or use any byte of a body before its signature has been
 * verified with a configured key, accept trailing bytes after the
 * signature, or write a private key file that is readable by others even
 * for an instant.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include "base/cursor.h"
#include "base/file.h"
#include "base/mem.h"
#include "pins/feed_file.h"
#include "pins/pin.h"

#define SIG_PREFIX	"signature = ed25519:"
#define SIG_B64_LEN	88			/* base64 of 64 bytes */
#define SIG_LINE_LEN	(sizeof(SIG_PREFIX) - 1 + SIG_B64_LEN + 1)

static bool
b64_exact(const char *in, size_t inlen, uint8_t *out, size_t outlen)
{
	byte	 buf[128];
	word32	 len = sizeof(buf);
	byte	 again[256];
	word32	 alen = sizeof(again);

	if (inlen > 200 || Base64_Decode((const byte *)in, (word32)inlen, buf,
	    &len) != 0 || len != outlen)
		return false;
	/* canonical only: re-encoding must give the same characters */
	if (Base64_Encode_NoNl(buf, len, again, &alen) != 0 || alen != inlen ||
	    memcmp(again, in, inlen) != 0)
		return false;
	memcpy(out, buf, outlen);
	return true;
}

bool
feed_split(const char *buf, size_t len, size_t *bodylen,
    uint8_t sig[FEED_SIG_LEN], const char **why)
{
	struct cursor	 c;
	const uint8_t	*b64;
	unsigned	 before = '\n', nl;

	*why = "no signature line at the end (truncated or unsigned)";
	if (len < SIG_LINE_LEN || buf[len - 1] != '\n')
		return false;
	cursor_init(&c, buf, len);
	/* the body, then the byte before the line (if any), then the line */
	if (!cursor_take(&c, len - SIG_LINE_LEN - (len > SIG_LINE_LEN), NULL) ||
	    (len > SIG_LINE_LEN && !cursor_u8(&c, &before)) || before != '\n')
		return false;
	if (!cursor_expect(&c, SIG_PREFIX)) {
		*why = "the last line is not \"signature = ed25519:...\"";
		return false;
	}
	if (!cursor_take(&c, SIG_B64_LEN, &b64) || !cursor_u8(&c, &nl) ||
	    nl != '\n')
		return false;
	if (!b64_exact((const char *)b64, SIG_B64_LEN, sig, FEED_SIG_LEN)) {
		*why = "the signature is not 64 bytes of base64";
		return false;
	}
	*bodylen = len - SIG_LINE_LEN;
	return true;
}

bool
feed_key_parse(const char *s, uint8_t out[FEED_KEY_LEN])
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	/* Same shape as a pin (32 bytes, canonical base64): reuse its
	 * strict parser rather than write another. */
	if (strncmp(s, "ed25519:", 8) != 0 || strlen(s + 8) != PIN_B64_LEN)
		return false;
	snprintf(text, sizeof(text), "%s%s", PIN_PREFIX, s + 8);
	if (!pin_parse(text, &p))
		return false;
	memcpy(out, p.hash, FEED_KEY_LEN);
	return true;
}

int
feed_check_signature(const char *body, size_t len,
    const uint8_t sig[FEED_SIG_LEN], const uint8_t (*keys)[FEED_KEY_LEN],
    size_t nkeys)
{
	size_t	 i;

	for (i = 0; i < nkeys; i++) {
		ed25519_key	 k;
		int		 ok = 0;

		if (wc_ed25519_init(&k) != 0)
			return -1;
		if (wc_ed25519_import_public(keys[i], FEED_KEY_LEN, &k) == 0 &&
		    wc_ed25519_verify_msg(sig, FEED_SIG_LEN,
		    (const byte *)body, (word32)len, &ok, &k) == 0 && ok == 1) {
			wc_ed25519_free(&k);
			return (int)i;
		}
		wc_ed25519_free(&k);
	}
	return -1;
}

int
feed_signed_by(const char *buf, size_t len,
    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys, size_t *bodylen,
    const char **why)
{
	uint8_t		 sig[FEED_SIG_LEN];
	int		 k;

	if (!feed_split(buf, len, bodylen, sig, why))
		return -1;
	return (k = feed_check_signature(buf, *bodylen, sig, keys, nkeys)) < 0 ?
	    -2 : k;
}

struct feed_body *
feed_open(const char *name, const char *buf, size_t len,
    const uint8_t (*keys)[FEED_KEY_LEN], size_t nkeys, FILE *errs,
    int *key_used)
{
	size_t		 bodylen;
	const char	*why;
	int		 k;

	if ((k = feed_signed_by(buf, len, keys, nkeys, &bodylen, &why)) ==
	    -1) {
		fprintf(errs, "%s: %s\n", name, why);
		return NULL;
	}
	if (k < 0) {
		fprintf(errs, "%s: bad signature: made by none of the %zu "
		    "configured public key(s), or the file was altered\n",
		    name, nkeys);
		return NULL;
	}
	if (key_used != NULL)
		*key_used = k;
	/* Only now, with the bytes proven, is the body parsed. */
	return feed_body_parse(name, buf, bodylen, errs);
}

/* --- publisher side ------------------------------------------------------ */

int
feed_keygen(const char *name, FILE *errs)
{
	char		 keypath[4096], pubpath[4096];
	byte		 der[256], pem[512], pub[FEED_KEY_LEN];
	char		 publine[128];
	word32		 publen = sizeof(pub);
	int		 dersz, pemsz, status = -1;
	ed25519_key	 k;
	WC_RNG		 rng;
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	if (snprintf(keypath, sizeof(keypath), "%s.key", name) >=
	    (int)sizeof(keypath) ||
	    snprintf(pubpath, sizeof(pubpath), "%s.pub", name) >=
	    (int)sizeof(pubpath)) {
		fprintf(errs, "%s: name too long\n", name);
		return -1;
	}
	if (wc_InitRng(&rng) != 0) {
		fprintf(errs, "cannot seed the random generator\n");
		return -1;
	}
	if (wc_ed25519_init(&k) != 0) {
		wc_FreeRng(&rng);
		return -1;
	}
	if (wc_ed25519_make_key(&rng, ED25519_KEY_SIZE, &k) != 0 ||
	    (dersz = wc_Ed25519PrivateKeyToDer(&k, der, sizeof(der))) <= 0 ||
	    (pemsz = wc_DerToPem(der, (word32)dersz, pem, sizeof(pem),
	    PKCS8_PRIVATEKEY_TYPE)) <= 0 ||
	    wc_ed25519_export_public(&k, pub, &publen) != 0) {
		fprintf(errs, "key generation failed\n");
		goto out;
	}
	if (file_write_key(keypath, pem, (size_t)pemsz) == -1) {
		fprintf(errs, "%s: %s\n", keypath, strerror(errno));
		goto out;
	}
	memcpy(p.hash, pub, FEED_KEY_LEN);
	pin_format(&p, text);
	snprintf(publine, sizeof(publine), "ed25519:%s\n",
	    text + strlen(PIN_PREFIX));
	if (file_write(pubpath, publine, strlen(publine), 0644, true) == -1) {
		fprintf(errs, "%s: %s\n", pubpath, strerror(errno));
		unlink(keypath);
		goto out;
	}
	status = 0;
out:
	explicit_bzero(der, sizeof(der));
	explicit_bzero(pem, sizeof(pem));
	wc_ed25519_free(&k);
	wc_FreeRng(&rng);
	return status;
}

struct feed_key {
	ed25519_key	 k;
};

struct feed_key *
feed_key_load(const char *path, FILE *errs)
{
	struct feed_key	*fk = xcalloc(1, sizeof(*fk));
	ed25519_key	*k = &fk->k;
	byte		 pem[4096], der[1024];
	ssize_t		 n;
	word32		 idx = 0;
	int		 fd, dersz;
	bool		 inited = false;
	struct stat	 st;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		goto bad;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		fprintf(errs, "%s: warning: private key readable by others "
		    "(chmod 600 it)\n", path);
	n = read(fd, pem, sizeof(pem) - 1);
	close(fd);
	if (n <= 0) {
		fprintf(errs, "%s: cannot read\n", path);
		goto bad;
	}
	if ((dersz = wc_KeyPemToDer(pem, (int)n, der, sizeof(der), NULL)) <= 0 ||
	    wc_ed25519_init(k) != 0) {
		fprintf(errs, "%s: not a PEM private key\n", path);
		goto bad;
	}
	inited = true;
	if (wc_Ed25519PrivateKeyDecode(der, &idx, k, (word32)dersz) != 0) {
		fprintf(errs, "%s: not an Ed25519 private key\n", path);
		goto bad;
	}
	/* Keys written by openssl genpkey hold no public half: derive it. */
	if (!k->pubKeySet) {
		byte	 pub[ED25519_PUB_KEY_SIZE];

		if (wc_ed25519_make_public(k, pub, sizeof(pub)) != 0 ||
		    wc_ed25519_import_private_key(k->k, ED25519_KEY_SIZE, pub,
		    sizeof(pub), k) != 0) {
			fprintf(errs, "%s: cannot derive the public key\n",
			    path);
			goto bad;
		}
	}
	explicit_bzero(pem, sizeof(pem));
	explicit_bzero(der, sizeof(der));
	return fk;
bad:
	explicit_bzero(pem, sizeof(pem));
	explicit_bzero(der, sizeof(der));
	if (inited)
		wc_ed25519_free(k);
	explicit_bzero(fk, sizeof(*fk));
	free(fk);
	return NULL;
}

void
feed_key_free(struct feed_key *fk)
{
	if (fk == NULL)
		return;
	wc_ed25519_free(&fk->k);
	explicit_bzero(fk, sizeof(*fk));
	free(fk);
}

int
feed_key_public(const struct feed_key *fk, uint8_t out[FEED_KEY_LEN])
{
	word32	 len = FEED_KEY_LEN;

	return wc_ed25519_export_public((ed25519_key *)(uintptr_t)&fk->k, out,
	    &len) == 0 && len == FEED_KEY_LEN ? 0 : -1;
}

char *
feed_sign(const char *body, size_t len, struct feed_key *fk, size_t *outlen)
{
	byte		 sig[FEED_SIG_LEN], b64[SIG_B64_LEN + 8];
	word32		 siglen = sizeof(sig), blen = sizeof(b64);
	char		*out;

	if (wc_ed25519_sign_msg((const byte *)body, (word32)len, sig, &siglen,
	    &fk->k) != 0 || siglen != FEED_SIG_LEN ||
	    Base64_Encode_NoNl(sig, siglen, b64, &blen) != 0 ||
	    blen != SIG_B64_LEN)
		return NULL;
	out = xcalloc(1, len + SIG_LINE_LEN + 1);
	memcpy(out, body, len);
	memcpy(out + len, SIG_PREFIX, sizeof(SIG_PREFIX) - 1);
	memcpy(out + len + sizeof(SIG_PREFIX) - 1, b64, SIG_B64_LEN);
	out[len + SIG_LINE_LEN - 1] = '\n';
	*outlen = len + SIG_LINE_LEN;
	return out;
}
