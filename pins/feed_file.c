/*
 * feed_file.c - the signed pin feed as a file: split it into blocks, check
 * one signature, and (publisher side) sign and manage keys.
 *
 * A signed file is one or more blocks. A block is a readable INI body
 * followed by one or more lines "signature = KEYID ed25519:BASE64", each
 * an Ed25519 signature over exactly that body's bytes by the key whose
 * SHA-256 starts with KEYID. Signatures sign the body, not each other, so
 * several holders can add theirs one by one. The last block is the feed;
 * any before it are key-set updates, oldest first (feed_keys.c says what
 * they mean). A body signed the way pinshim did before key roles, with one
 * line "signature = ed25519:BASE64" and no key id, is one block with one
 * signature. One file, so a CDN can never pair a body with another
 * version's signature; plain text, so `cat` shows what is pinned.
 *
 * Must never: let any line after the last signature line pass, accept a
 * malformed signature line, or write a private key file that is readable
 * by others even for an instant.
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
#include <wolfssl/wolfcrypt/hash.h>

#include "base/cursor.h"
#include "base/file.h"
#include "base/mem.h"
#include "pins/feed_file.h"
#include "pins/pin.h"

#define SIG_KEY		"signature"
#define SIG_PREFIX	"signature = "
#define SIG_ALG		"ed25519:"
#define SIG_B64_LEN	88			/* base64 of 64 bytes */

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

static int
hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	return -1;			/* upper case too: one spelling only */
}

/* "signature = [KEYID ]ed25519:BASE64", the line without its newline. */
static bool
sig_parse(struct cursor *line, struct feed_sig *s)
{
	const uint8_t	*p;
	size_t		 i;

	if (!cursor_expect(line, SIG_PREFIX))
		return false;
	s->named = !cursor_expect(line, SIG_ALG);
	if (s->named) {
		if (!cursor_take(line, 2 * FEED_KEYID_LEN, &p) ||
		    !cursor_expect(line, " " SIG_ALG))
			return false;
		for (i = 0; i < FEED_KEYID_LEN; i++) {
			int	 hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return false;
			s->keyid[i] = (uint8_t)(hi << 4 | lo);
		}
	}
	return cursor_take(line, SIG_B64_LEN, &p) && line->left == 0 &&
	    b64_exact((const char *)p, SIG_B64_LEN, s->sig, FEED_SIG_LEN);
}

static bool
is_sig_line(const struct cursor *line)
{
	size_t	 n = sizeof(SIG_KEY) - 1;

	return line->left > n && memcmp(line->p, SIG_KEY, n) == 0 &&
	    (line->p[n] == ' ' || line->p[n] == '=' || line->p[n] == '\t');
}

bool
feed_split(const char *buf, size_t len, struct feed_blocks *out,
    const char **why)
{
	struct cursor		 c, line;
	struct feed_block	*b = NULL;
	size_t			 start = 0, pos = 0;

	out->n = 0;
	cursor_init(&c, buf, len);
	while (c.left > 0) {
		if (!cursor_until(&c, '\n', &line)) {
			*why = "no signature line at the end (truncated or "
			    "unsigned)";
			return false;
		}
		if (!is_sig_line(&line)) {
			if (b != NULL) {	/* the next block's body */
				out->n++;
				b = NULL;
				start = pos;
			}
		} else {
			if (b == NULL) {
				if (out->n == FEED_BLOCKS_MAX) {
					*why = "more than 32 key-set updates";
					return false;
				}
				b = &out->b[out->n];
				b->off = start;
				b->len = pos - start;
				b->nsigs = 0;
				if (b->len == 0) {
					*why = "a signature line with no body "
					    "before it";
					return false;
				}
			}
			if (b->nsigs == FEED_SIGS_MAX) {
				*why = "more than 16 signatures on one block";
				return false;
			}
			if (!sig_parse(&line, &b->sigs[b->nsigs])) {
				*why = "malformed signature line (want "
				    "\"signature = KEYID ed25519:BASE64\")";
				return false;
			}
			if (b->nsigs > 0 && (!b->sigs[0].named ||
			    !b->sigs[b->nsigs].named)) {
				*why = "a signature without a key id must be "
				    "the only one on its block";
				return false;
			}
			b->nsigs++;
		}
		pos = len - c.left;
		if (b != NULL)
			b->end = pos;
	}
	if (b == NULL) {
		*why = "no signature line at the end (truncated or unsigned)";
		return false;
	}
	out->n++;
	return true;
}

size_t
feed_signed_prefix(const char *buf, size_t len)
{
	struct cursor	 c, line;
	size_t		 end = 0;

	cursor_init(&c, buf, len);
	while (cursor_until(&c, '\n', &line))
		if (is_sig_line(&line))
			end = len - c.left;
	return end;
}

bool
feed_key_parse(const char *s, uint8_t out[FEED_KEY_LEN])
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	/* Same shape as a pin (32 bytes, canonical base64): reuse its
	 * strict parser rather than write another. */
	if (strncmp(s, SIG_ALG, 8) != 0 || strlen(s + 8) != PIN_B64_LEN)
		return false;
	snprintf(text, sizeof(text), "%s%s", PIN_PREFIX, s + 8);
	if (!pin_parse(text, &p))
		return false;
	memcpy(out, p.hash, FEED_KEY_LEN);
	return true;
}

bool
feed_key_decode(const char *text, size_t len, uint8_t out[FEED_KEY_LEN],
    const char **why)
{
	char		 line[128];
	DerBuffer	*der = NULL;
	ed25519_key	 k;
	word32		 idx = 0, n = FEED_KEY_LEN;
	bool		 ok = false;

	if (len >= 8 && strncmp(text, "ed25519:", 8) == 0) {
		/* NAME.pub: the one line, its newline (and a CR) dropped */
		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ?
		    len : sizeof(line) - 1), text);
		line[strcspn(line, "\r\n")] = '\0';
		if (!feed_key_parse(line, out)) {
			*why = "not an ed25519:BASE64 public key";
			return false;
		}
		return true;
	}
	/* wolfSSL's PEM and SubjectPublicKeyInfo readers, which also check
	 * the algorithm is Ed25519 */
	if (wc_PemToDer((const unsigned char *)text, (long)len,
	    PUBLICKEY_TYPE, &der, NULL, NULL, NULL) != 0) {
		*why = "neither ed25519:BASE64 nor a PEM public key (BEGIN "
		    "PUBLIC KEY)";
		return false;
	}
	if (wc_ed25519_init(&k) != 0) {
		*why = "out of memory";
		wc_FreeDer(&der);
		return false;
	}
	if (wc_Ed25519PublicKeyDecode(der->buffer, &idx, &k, der->length) != 0 ||
	    wc_ed25519_export_public(&k, out, &n) != 0 || n != FEED_KEY_LEN)
		*why = "a PEM public key, but not an Ed25519 one";
	else
		ok = true;
	wc_ed25519_free(&k);
	wc_FreeDer(&der);
	return ok;
}

void
feed_key_format(const uint8_t key[FEED_KEY_LEN], char *out, size_t outsz)
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1];

	memcpy(p.hash, key, FEED_KEY_LEN);
	pin_format(&p, text);
	snprintf(out, outsz, SIG_ALG "%s", text + strlen(PIN_PREFIX));
}

void
feed_keyid(const uint8_t key[FEED_KEY_LEN], uint8_t id[FEED_KEYID_LEN])
{
	byte	 h[WC_SHA256_DIGEST_SIZE];

	if (wc_Sha256Hash(key, FEED_KEY_LEN, h) != 0)
		abort();		/* no failure mode for a fixed input */
	memcpy(id, h, FEED_KEYID_LEN);
}

void
feed_keyid_text(const uint8_t key[FEED_KEY_LEN], char out[FEED_KEYID_TEXT])
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 id[FEED_KEYID_LEN];
	size_t			 i;

	feed_keyid(key, id);
	for (i = 0; i < FEED_KEYID_LEN; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * FEED_KEYID_LEN] = '\0';
}

static bool
verify(const char *msg, size_t len, const uint8_t sig[FEED_SIG_LEN],
    const uint8_t key[FEED_KEY_LEN])
{
	ed25519_key	 k;
	int		 ok = 0;

	if (wc_ed25519_init(&k) != 0)
		return false;
	if (wc_ed25519_import_public(key, FEED_KEY_LEN, &k) != 0 ||
	    wc_ed25519_verify_msg(sig, FEED_SIG_LEN, (const byte *)msg,
	    (word32)len, &ok, &k) != 0)
		ok = 0;
	wc_ed25519_free(&k);
	return ok == 1;
}

/* A named signature is checked only against the key it names: cost is
 * one verification per line, whatever the number of keys. */
bool
feed_block_signed_by(const char *buf, const struct feed_block *b,
    const uint8_t key[FEED_KEY_LEN])
{
	uint8_t	 id[FEED_KEYID_LEN];
	size_t	 i;

	feed_keyid(key, id);
	for (i = 0; i < b->nsigs; i++)
		if ((!b->sigs[i].named ||
		    memcmp(b->sigs[i].keyid, id, FEED_KEYID_LEN) == 0) &&
		    verify(buf + b->off, b->len, b->sigs[i].sig, key))
			return true;
	return false;
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
	feed_key_format(pub, publine, sizeof(publine) - 1);
	strcat(publine, "\n");
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

size_t
feed_sig_line(const char *body, size_t len, struct feed_key *fk, bool named,
    char out[FEED_SIG_LINE_MAX])
{
	byte		 sig[FEED_SIG_LEN], b64[SIG_B64_LEN + 8];
	word32		 siglen = sizeof(sig), blen = sizeof(b64);
	uint8_t		 pub[FEED_KEY_LEN];
	char		 id[FEED_KEYID_TEXT];
	int		 n;

	if (wc_ed25519_sign_msg((const byte *)body, (word32)len, sig, &siglen,
	    &fk->k) != 0 || siglen != FEED_SIG_LEN ||
	    Base64_Encode_NoNl(sig, siglen, b64, &blen) != 0 ||
	    blen != SIG_B64_LEN || feed_key_public(fk, pub) == -1)
		return 0;
	feed_keyid_text(pub, id);
	n = snprintf(out, FEED_SIG_LINE_MAX, SIG_PREFIX "%s%s" SIG_ALG "%.*s\n",
	    named ? id : "", named ? " " : "", SIG_B64_LEN, (char *)b64);
	return n > 0 && n < FEED_SIG_LINE_MAX ? (size_t)n : 0;
}
