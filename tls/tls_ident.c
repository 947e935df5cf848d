/*
 * tls_ident.c - device identities (client_cert, client_key): the
 * worker's half, which presents the certificate chain and has every
 * handshake signature made elsewhere, and the keeper's half, which holds
 * the private key and makes them.
 *
 * The worker's session gets the chain and, in place of the private key,
 * the certificate's public key (wolfSSL reads the key type and size from
 * it and, with PK callbacks on the context, takes a public key there). The
 * CertificateVerify signature goes through the context's sign callbacks
 * (ECDSA; RSA PKCS#1 v1.5 for TLS 1.2; RSA-PSS for TLS 1.3 and TLS 1.2
 * when the server prefers it) to the session's tls_sign_fn: a round trip
 * to the keeper (shim/keeper/). A session that presents an identity is
 * judged in the verify callback, before its Certificate goes out
 * (tls_client.c).
 *
 * Must never: read a private key in the worker, load an encrypted key
 * (nothing could ever type its passphrase), or load a key that is not the
 * certificate's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "base/file.h"
#include "base/mem.h"
#include "tls/tls.h"

#define PEM_MAX		(64 * 1024)	/* a chain, or a key */
#define SPKI_MAX	2048

/* The worker's half. */
struct tls_ident {
	char		*pem;		/* the chain as read; owned */
	size_t		 pemlen;
	uint8_t		 spki[SPKI_MAX]; /* the leaf's public key */
	int		 spkilen;
	char		 what[32];	/* "ECDSA P-256", "RSA 2048" */
};

/* A session's signer: what its callbacks need. Freed with the session. */
struct tls_signer {
	tls_sign_fn		 fn;
	void			*arg;
	unsigned		 n;		/* the identity's number */
	struct tls_check	*chk;
};

/* The leaf of a PEM chain, parsed; NULL with err. */
static WOLFSSL_X509 *
chain_leaf(const char *pem, size_t len, const char *path, char *err,
    size_t errsz)
{
	WOLFSSL_X509	*x;

	x = wolfSSL_X509_load_certificate_buffer((const unsigned char *)pem,
	    (int)len, WOLFSSL_FILETYPE_PEM);
	if (x == NULL)
		snprintf(err, errsz, "%s: no PEM certificate", path);
	return x;
}

static void
key_what(WOLFSSL_X509 *x, char *buf, size_t sz)
{
	WOLFSSL_EVP_PKEY	*k = wolfSSL_X509_get_pubkey(x);
	int			 bits = k != NULL ? wolfSSL_EVP_PKEY_bits(k) : 0;

	if (k == NULL)
		snprintf(buf, sz, "?");
	else if (wolfSSL_EVP_PKEY_id(k) == EVP_PKEY_EC)
		snprintf(buf, sz, "ECDSA P-%d", bits);
	else
		snprintf(buf, sz, "RSA %d", bits);
	wolfSSL_EVP_PKEY_free(k);
}

struct tls_ident *
tls_ident_load(const char *cert_file, char *err, size_t errsz)
{
	struct tls_ident	*id = xcalloc(1, sizeof(*id));
	WOLFSSL_X509		*x;
	size_t			 len;

	if ((id->pem = file_read(cert_file, PEM_MAX, &len, NULL)) == NULL) {
		snprintf(err, errsz, "%s: %s", cert_file, strerror(errno));
		free(id);
		return NULL;
	}
	id->pemlen = len;
	if ((x = chain_leaf(id->pem, len, cert_file, err, errsz)) == NULL)
		goto bad;
	id->spkilen = sizeof(id->spki);
	if (wolfSSL_X509_get_pubkey_buffer(x, id->spki, &id->spkilen) !=
	    WOLFSSL_SUCCESS || id->spkilen <= 0) {
		snprintf(err, errsz, "%s: unreadable public key", cert_file);
		wolfSSL_X509_free(x);
		goto bad;
	}
	key_what(x, id->what, sizeof(id->what));
	wolfSSL_X509_free(x);
	return id;
bad:
	tls_ident_free(id);
	return NULL;
}

void
tls_ident_free(struct tls_ident *id)
{
	if (id == NULL)
		return;
	free(id->pem);
	free(id);
}

const char *
tls_ident_what(const struct tls_ident *id)
{
	return id->what;
}

bool
tls_ident_same_key(const struct tls_ident *a, const struct tls_ident *b)
{
	return a->spkilen == b->spkilen && memcmp(a->spki, b->spki,
	    (size_t)a->spkilen) == 0;
}

static struct tls_signer *
signer_of(WOLFSSL *ssl, void *ctx)
{
	(void)ssl;
	return ctx;
}

static int
sign_via(struct tls_signer *s, int scheme, int hash, const unsigned char *in,
    unsigned inSz, unsigned char *out, word32 *outSz)
{
	size_t	 n = *outSz;

	/* not a session of ours, or one whose verdict is in: the identity
	 * signs only inside the handshake whose server chain it judged (a
	 * resumed one presents none: no signature either) */
	if (s == NULL || s->fn == NULL || s->chk == NULL)
		return WOLFSSL_FATAL_ERROR;
	s->chk->cert_requested = true;
	if (!s->chk->judged)
		return WOLFSSL_FATAL_ERROR;
	if (s->fn(s->arg, s->n, scheme, hash, in, inSz, out, &n) == -1)
		return WOLFSSL_FATAL_ERROR;
	*outSz = (word32)n;
	s->chk->ident_sent = true;
	return 0;
}

static int
ecc_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int inSz,
    unsigned char *out, word32 *outSz, const unsigned char *keyDer,
    unsigned int keySz, void *ctx)
{
	(void)keyDer;
	(void)keySz;
	return sign_via(signer_of(ssl, ctx), TLS_SIGN_ECDSA, 0, in, inSz, out,
	    outSz);
}

static int
rsa_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int inSz,
    unsigned char *out, word32 *outSz, const unsigned char *keyDer,
    unsigned int keySz, void *ctx)
{
	(void)keyDer;
	(void)keySz;
	return sign_via(signer_of(ssl, ctx), TLS_SIGN_RSA_PKCS1, 0, in, inSz,
	    out, outSz);
}

static int
rsa_pss_sign_cb(WOLFSSL *ssl, const unsigned char *in, unsigned int inSz,
    unsigned char *out, unsigned int *outSz, int hash, int mgf,
    const unsigned char *keyDer, unsigned int keySz, void *ctx)
{
	int	 h;

	(void)keyDer;
	(void)keySz;
	(void)mgf;			/* MGF1 with the same hash */
	/* wolfSSL names the hash by its OID sum here */
	h = hash == SHA256h ? WC_HASH_TYPE_SHA256 : hash == SHA384h ?
	    WC_HASH_TYPE_SHA384 : hash == SHA512h ? WC_HASH_TYPE_SHA512 :
	    WC_HASH_TYPE_NONE;
	return sign_via(signer_of(ssl, ctx), TLS_SIGN_RSA_PSS, h, in, inSz,
	    out, outSz);
}

void
tls_ident_attach(WOLFSSL_CTX *ctx)
{
	wolfSSL_CTX_SetEccSignCb(ctx, ecc_sign_cb);
	wolfSSL_CTX_SetRsaSignCb(ctx, rsa_sign_cb);
	wolfSSL_CTX_SetRsaPssSignCb(ctx, rsa_pss_sign_cb);
}

int
tls_session_identity(WOLFSSL *ssl, const struct tls_ident *id, unsigned n,
    tls_sign_fn fn, void *arg, struct tls_check *chk)
{
	struct tls_signer	*s;

	if (wolfSSL_use_certificate_chain_buffer(ssl,
	    (const unsigned char *)id->pem, (long)id->pemlen) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_use_PrivateKey_buffer(ssl, id->spki, id->spkilen,
	    WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS)
		return -1;
	s = xcalloc(1, sizeof(*s));
	s->fn = fn;
	s->arg = arg;
	s->n = n;
	s->chk = chk;
	wolfSSL_SetEccSignCtx(ssl, s);
	wolfSSL_SetRsaSignCtx(ssl, s);
	wolfSSL_SetRsaPssSignCtx(ssl, s);
	chk->ident = true;
	return 0;
}

void
tls_session_identity_free(WOLFSSL *ssl)
{
	free(wolfSSL_GetEccSignCtx(ssl));
	wolfSSL_SetEccSignCtx(ssl, NULL);
	wolfSSL_SetRsaSignCtx(ssl, NULL);
	wolfSSL_SetRsaPssSignCtx(ssl, NULL);
}

void
tls_session_identity_done(WOLFSSL *ssl)
{
	struct tls_signer	*s = wolfSSL_GetEccSignCtx(ssl);

	if (s != NULL)
		s->chk = NULL;		/* the check dies with the attempt */
}

/* --- the keeper's half ---------------------------------------------- */

struct tls_ident_key {
	int		 type;		/* RSAk or ECDSAk */
	RsaKey		 rsa;
	ecc_key		 ecc;
	WC_RNG		 rng;
	char		 what[32];
};

/* "ENCRYPTED" in the PEM's header: PKCS#8 EncryptedPrivateKeyInfo or a
 * traditional key with Proc-Type 4,ENCRYPTED. */
static bool
pem_encrypted(const char *pem, size_t len)
{
	const char	*p = pem, *end = pem + len;

	while (p < end && (p = memchr(p, 'E', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) >= 9 && memcmp(p, "ENCRYPTED", 9) == 0)
			return true;
		p++;
	}
	return false;
}

struct tls_ident_key *
tls_ident_key_load(const char *cert_file, const char *key_file, char *err,
    size_t errsz)
{
	struct tls_ident_key	*k = xcalloc(1, sizeof(*k));
	struct tls_ident	*id;
	char			*pem = NULL;
	uint8_t			*der = NULL, spki[SPKI_MAX];
	size_t			 len = 0;
	word32			 idx = 0;
	int			 derlen = -1, n = -1;
	bool			 rsa_init = false, ecc_init = false;

	if ((id = tls_ident_load(cert_file, err, errsz)) == NULL) {
		free(k);
		return NULL;
	}
	snprintf(k->what, sizeof(k->what), "%s", id->what);
	if (wc_InitRng(&k->rng) != 0) {
		snprintf(err, errsz, "no random number generator");
		tls_ident_free(id);
		free(k);
		return NULL;
	}
	if ((pem = file_read(key_file, PEM_MAX, &len, NULL)) == NULL) {
		snprintf(err, errsz, "%s: %s", key_file, strerror(errno));
		goto bad;
	}
	if (pem_encrypted(pem, len)) {
		snprintf(err, errsz, "%s: an encrypted private key (pinshim "
		    "runs unattended and cannot ask for its passphrase): "
		    "store it decrypted, readable by root only (openssl pkey "
		    "-in KEY -out KEY.plain; chmod 600)", key_file);
		goto bad;
	}
	der = xcalloc(1, len);
	if ((derlen = wc_KeyPemToDer((const unsigned char *)pem, (int)len,
	    der, (int)len, NULL)) <= 0) {
		snprintf(err, errsz, "%s: not a PEM private key", key_file);
		goto bad;
	}
	if (wc_GetPkcs8TraditionalOffset(der, &idx, (word32)derlen) < 0)
		idx = 0;		/* a traditional (PKCS#1, SEC1) key */
	if (wc_InitRsaKey(&k->rsa, NULL) == 0)
		rsa_init = true;
	{
		word32	 i = idx;

		if (rsa_init && wc_RsaPrivateKeyDecode(der, &i, &k->rsa,
		    (word32)derlen) == 0) {
			k->type = RSAk;
			n = wc_RsaKeyToPublicDer(&k->rsa, spki, sizeof(spki));
			(void)wc_RsaSetRNG(&k->rsa, &k->rng);
		}
	}
	if (k->type == 0) {
		word32	 i = idx;

		if (wc_ecc_init(&k->ecc) == 0)
			ecc_init = true;
		if (ecc_init && wc_EccPrivateKeyDecode(der, &i, &k->ecc,
		    (word32)derlen) == 0) {
			k->type = ECDSAk;
			n = wc_EccPublicKeyToDer(&k->ecc, spki, sizeof(spki), 1);
		}
	}
	if (k->type == 0) {
		snprintf(err, errsz, "%s: neither an RSA nor an EC private key",
		    key_file);
		goto bad;
	}
	if (n <= 0 || n != id->spkilen || memcmp(spki, id->spki,
	    (size_t)n) != 0) {
		snprintf(err, errsz, "%s: not the private key of %s", key_file,
		    cert_file);
		goto bad;
	}
	if (k->type == RSAk && ecc_init)
		wc_ecc_free(&k->ecc);
	if (k->type == ECDSAk && rsa_init) {
		wc_FreeRsaKey(&k->rsa);
		rsa_init = false;
	}
	explicit_bzero(pem, len);
	explicit_bzero(der, len);
	free(pem);
	free(der);
	tls_ident_free(id);
	return k;
bad:
	if (pem != NULL)
		explicit_bzero(pem, len);
	if (der != NULL)
		explicit_bzero(der, len);
	free(pem);
	free(der);
	if (rsa_init)
		wc_FreeRsaKey(&k->rsa);
	if (ecc_init)
		wc_ecc_free(&k->ecc);
	wc_FreeRng(&k->rng);
	tls_ident_free(id);
	free(k);
	return NULL;
}

void
tls_ident_key_free(struct tls_ident_key *k)
{
	if (k == NULL)
		return;
	if (k->type == RSAk)
		wc_FreeRsaKey(&k->rsa);
	else
		wc_ecc_free(&k->ecc);
	wc_FreeRng(&k->rng);
	explicit_bzero(k, sizeof(*k));
	free(k);
}

const char *
tls_ident_key_what(const struct tls_ident_key *k)
{
	return k->what;
}

/* A digest of one of the hashes TLS 1.2 and 1.3 sign with. */
static bool
digest_size_ok(size_t n)
{
	return n == 32 || n == 48 || n == 64;
}

int
tls_ident_key_sign(struct tls_ident_key *k, int scheme, int hash,
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen,
    const char **why)
{
	word32	 n = (word32)*outlen;
	int	 ret;

	*why = "the key cannot sign that way";
	switch (scheme) {
	case TLS_SIGN_ECDSA:
		if (k->type != ECDSAk || !digest_size_ok(inlen))
			return -1;
		if (wc_ecc_sign_hash(in, (word32)inlen, out, &n, &k->rng,
		    &k->ecc) != 0) {
			*why = "ECDSA signing failed";
			return -1;
		}
		*outlen = n;
		return 0;
	case TLS_SIGN_RSA_PKCS1:
		/* a DigestInfo: SHA-256/384/512's is 19 bytes + the digest */
		if (k->type != RSAk || inlen < 19 ||
		    !digest_size_ok(inlen - 19))
			return -1;
		ret = wc_RsaSSL_Sign(in, (word32)inlen, out, n, &k->rsa,
		    &k->rng);
		break;
	case TLS_SIGN_RSA_PSS:
		if (k->type != RSAk || !digest_size_ok(inlen))
			return -1;
		if ((hash != WC_HASH_TYPE_SHA256 || inlen != 32) &&
		    (hash != WC_HASH_TYPE_SHA384 || inlen != 48) &&
		    (hash != WC_HASH_TYPE_SHA512 || inlen != 64))
			return -1;
		ret = wc_RsaPSS_Sign(in, (word32)inlen, out, n,
		    (enum wc_HashType)hash, hash == WC_HASH_TYPE_SHA256 ?
		    WC_MGF1SHA256 : hash == WC_HASH_TYPE_SHA384 ?
		    WC_MGF1SHA384 : WC_MGF1SHA512, &k->rsa, &k->rng);
		break;
	default:
		return -1;
	}
	if (ret <= 0) {
		*why = "RSA signing failed";
		return -1;
	}
	*outlen = (size_t)ret;
	return 0;
}
