/*
 * tls_ca.c - the local interception CA's worker half (struct tls_ca): the
 * TLS server context and a bounded LRU of minted leaves, so a repeated
 * name costs no round trip. The worker makes each leaf's P-256 key pair
 * here and keeps the leaf the keeper signed over its public half
 * (tls_ca_key.c, the half with the CA key, never in this process). For
 * apps that take no ECDSA (client_tls = compatible) it holds one RSA-2048
 * key, made at start, that every RSA leaf carries.
 *
 * Must never: hold or load the CA key, serve a leaf for a name other than
 * the one it was minted for, or serve one older than LEAF_REMINT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include "pins/host.h"
#include "base/mem.h"
#include "tls/tls.h"
#include "tls/tls_ca_int.h"

#define LEAF_REMINT	(24 * 3600)	/* re-mint a cached leaf after a day */
#define DER_MAX		TLS_CA_CERT_MAX

struct leaf {
	char		 name[HOST_MAX + 1];
	enum tls_leaf	 kind;		/* RSA: key is the CA's rsa_key */
	uint8_t		 cert[DER_MAX];
	int		 certlen;
	uint8_t		 key[TLS_CA_LEAFKEY_MAX];
	int		 keylen;
	time_t		 minted;
	unsigned long	 used;		/* LRU clock */
	bool		 fresh;		/* not served yet: no cache hit */
};

/* The worker's half. */
struct tls_ca {
	WOLFSSL_CTX	*ctx;		/* server side; owned */
	WC_RNG		 rng;
	struct leaf	*cache;		/* owned; ncache entries */
	size_t		 ncache, used;
	unsigned long	 clock;
	unsigned long	 mints, hits;
	uint8_t		*rsa_key;	/* owned, wiped; NULL until made */
	int		 rsa_keylen;
	uint8_t		 rsa_pub[TLS_CA_RSA_PUB_MAX];
	int		 rsa_publen;
};

/* wolfSSL (unless built with session export) refuses wolfSSL_new() on a
 * server context without a certificate and key, though every session gets
 * its own minted leaf before its handshake. The context holds a
 * self-signed certificate for the reserved name "invalid" (RFC 6761) with
 * a throwaway key, never served. */
static int
ctx_placeholder(struct tls_ca *ca)
{
	uint8_t		 cert[DER_MAX], key[TLS_CA_LEAFKEY_MAX];
	ecc_key		 k;
	int		 certlen, keylen, status = -1;

	if (wc_ecc_init(&k) != 0)
		return -1;
	if (wc_ecc_make_key_ex(&ca->rng, 32, &k, ECC_SECP256R1) == 0 &&
	    (certlen = tls_ca_selfsigned(&k, &ca->rng, "invalid", false, cert,
	    sizeof(cert))) > 0 &&
	    (keylen = wc_EccKeyToDer(&k, key, sizeof(key))) > 0 &&
	    wolfSSL_CTX_use_certificate_buffer(ca->ctx, cert, certlen,
	    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
	    wolfSSL_CTX_use_PrivateKey_buffer(ca->ctx, key, keylen,
	    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
		status = 0;
	explicit_bzero(key, sizeof(key));
	wc_ecc_free(&k);
	return status;
}

struct tls_ca *
tls_ca_new(size_t cache, char *err, size_t errsz)
{
	struct tls_ca	*ca = xcalloc(1, sizeof(*ca));

	if (wc_InitRng(&ca->rng) != 0) {
		snprintf(err, errsz, "crypto initialisation failed");
		free(ca);
		return NULL;
	}
	ca->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (ca->ctx == NULL ||
	    wolfSSL_CTX_SetMinVersion(ca->ctx, WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_cipher_list(ca->ctx, TLS_CIPHERS) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errsz, "cannot create the TLS server context");
		goto bad;
	}
	if (ctx_placeholder(ca) == -1) {
		snprintf(err, errsz, "cannot make the context's placeholder "
		    "certificate");
		goto bad;
	}
	ca->ncache = cache ? cache : 1;
	ca->cache = xcalloc(ca->ncache, sizeof(*ca->cache));
	return ca;
bad:
	tls_ca_free(ca);
	return NULL;
}

void
tls_ca_free(struct tls_ca *ca)
{
	if (ca == NULL)
		return;
	if (ca->ctx != NULL)
		wolfSSL_CTX_free(ca->ctx);
	if (ca->cache != NULL) {
		explicit_bzero(ca->cache, ca->ncache * sizeof(*ca->cache));
		free(ca->cache);
	}
	if (ca->rsa_key != NULL) {
		explicit_bzero(ca->rsa_key, TLS_CA_RSA_KEY_MAX);
		free(ca->rsa_key);
	}
	wc_FreeRng(&ca->rng);
	free(ca);
}

int
tls_ca_leaf_key(struct tls_ca *ca, uint8_t pub[TLS_CA_PUB_LEN],
    uint8_t *key, size_t keysz)
{
	ecc_key		 k;
	word32		 publen = TLS_CA_PUB_LEN;
	int		 n = -1;

	if (wc_ecc_init(&k) != 0)
		return -1;
	if (wc_ecc_make_key_ex(&ca->rng, 32, &k, ECC_SECP256R1) == 0 &&
	    wc_ecc_export_x963(&k, pub, &publen) == 0 &&
	    publen == TLS_CA_PUB_LEN)
		n = wc_EccKeyToDer(&k, key, (word32)keysz);
	wc_ecc_free(&k);
	return n > 0 ? n : -1;
}

int
tls_ca_rsa_init(struct tls_ca *ca)
{
	RsaKey		 k;
	uint8_t		*der;
	int		 n = -1, pn = -1;

	if (ca->rsa_key != NULL)
		return 0;
	if (wc_InitRsaKey(&k, NULL) != 0)
		return -1;
	der = xcalloc(1, TLS_CA_RSA_KEY_MAX);
	if (wc_MakeRsaKey(&k, TLS_CA_RSA_BITS, WC_RSA_EXPONENT, &ca->rng) ==
	    0 && (n = wc_RsaKeyToDer(&k, der, TLS_CA_RSA_KEY_MAX)) > 0)
		pn = wc_RsaKeyToPublicDer(&k, ca->rsa_pub,
		    sizeof(ca->rsa_pub));
	wc_FreeRsaKey(&k);
	if (n <= 0 || pn <= 0) {
		explicit_bzero(der, TLS_CA_RSA_KEY_MAX);
		free(der);
		return -1;
	}
	ca->rsa_key = der;
	ca->rsa_keylen = n;
	ca->rsa_publen = pn;
	return 0;
}

bool
tls_ca_has_rsa(const struct tls_ca *ca)
{
	return ca->rsa_key != NULL;
}

int
tls_ca_rsa_pub(const struct tls_ca *ca, uint8_t *pub, size_t sz)
{
	if (ca->rsa_key == NULL || (size_t)ca->rsa_publen > sz)
		return -1;
	memcpy(pub, ca->rsa_pub, (size_t)ca->rsa_publen);
	return ca->rsa_publen;
}

/* The cached leaf of that kind for name, or NULL; stale ones do not
 * count. */
static struct leaf *
leaf_find(struct tls_ca *ca, const char *name, enum tls_leaf kind,
    bool stale_too)
{
	time_t	 now = time(NULL);
	size_t	 i;

	for (i = 0; i < ca->used; i++) {
		struct leaf *l = &ca->cache[i];

		if (l->kind == kind && strcmp(l->name, name) == 0 &&
		    (stale_too ||
		    now - l->minted < LEAF_REMINT))
			return l;
	}
	return NULL;
}

int
tls_ca_leaf_put(struct tls_ca *ca, const char *name, enum tls_leaf kind,
    const uint8_t *cert, size_t certlen, const uint8_t *key, size_t keylen)
{
	struct leaf	*victim;
	size_t		 i;

	if (certlen == 0 || certlen > DER_MAX || strlen(name) > HOST_MAX)
		return -1;
	if (kind == TLS_LEAF_RSA ? ca->rsa_key == NULL || keylen != 0 :
	    kind != TLS_LEAF_ECDSA || keylen == 0 ||
	    keylen > TLS_CA_LEAFKEY_MAX)
		return -1;
	if ((victim = leaf_find(ca, name, kind, true)) != NULL)
		;			/* stale: re-mint in place */
	else if (ca->used < ca->ncache)
		victim = &ca->cache[ca->used++];
	else {				/* full: evict the least recent */
		victim = &ca->cache[0];
		for (i = 1; i < ca->used; i++)
			if (ca->cache[i].used < victim->used)
				victim = &ca->cache[i];
	}
	explicit_bzero(victim, sizeof(*victim));
	snprintf(victim->name, sizeof(victim->name), "%s", name);
	victim->kind = kind;
	memcpy(victim->cert, cert, certlen);
	victim->certlen = (int)certlen;
	if (keylen > 0)
		memcpy(victim->key, key, keylen);
	victim->keylen = (int)keylen;
	victim->minted = time(NULL);
	victim->used = ++ca->clock;
	victim->fresh = true;
	ca->mints++;
	return 0;
}

WOLFSSL *
tls_ca_session(struct tls_ca *ca, int fd, const char *name,
    enum tls_leaf kind, bool compat, bool *missing)
{
	struct leaf	*l;
	WOLFSSL		*ssl;
	const uint8_t	*key;
	int		 keylen;

	if ((*missing = (l = leaf_find(ca, name, kind, false)) == NULL))
		return NULL;
	l->used = ++ca->clock;
	if (!l->fresh)
		ca->hits++;
	l->fresh = false;
	key = l->kind == TLS_LEAF_RSA ? ca->rsa_key : l->key;
	keylen = l->kind == TLS_LEAF_RSA ? ca->rsa_keylen : l->keylen;
	if ((ssl = wolfSSL_new(ca->ctx)) == NULL)
		return NULL;
	/* The suites after the key: wolfSSL picks the ones this key can
	 * sign for when the list is set. */
	if (wolfSSL_use_certificate_buffer(ssl, l->cert, l->certlen,
	    WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
	    wolfSSL_use_PrivateKey_buffer(ssl, key, keylen,
	    WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
	    (compat && wolfSSL_set_cipher_list(ssl, TLS_CIPHERS_COMPAT) !=
	    WOLFSSL_SUCCESS) ||
	    wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS) {
		wolfSSL_free(ssl);
		return NULL;
	}
	wolfSSL_set_using_nonblock(ssl, 1);
	return ssl;
}

/* An idle intercepted connection should hold its record keys and little
 * else: the session's copy of the leaf's private key goes (wiped by
 * wolfSSL), as nothing after the handshake signs (TLS 1.3 has no
 * renegotiation, and wolfSSL's TLS 1.2 server here takes none). The leaf
 * itself stays: the build's KEEP_OUR_CERT holds it for the session's
 * life. */
void
tls_ca_session_done(WOLFSSL *ssl)
{
	(void)wolfSSL_UnloadCertsKeys(ssl);
}

void
tls_ca_stats(const struct tls_ca *ca, unsigned long *mints,
    unsigned long *hits, size_t *cached)
{
	*mints = ca->mints;
	*hits = ca->hits;
	*cached = ca->used < ca->ncache ? ca->used : ca->ncache;
}
