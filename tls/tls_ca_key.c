/*
 * tls_ca.c - the local interception CA, in two halves that never share a
 * process: the keeper's (struct tls_ca_key: the CA key, which only signs)
 * and the worker's (struct tls_ca: the TLS server context and a bounded
 * LRU of minted leaves, so a repeated name costs no round trip).
 *
 * A mint: the worker makes a P-256 key pair for the name and sends the
 * public half; the keeper checks the name and the point and signs a leaf
 * whose every field it chose (7 days, serverAuth, exactly that name as
 * SAN). The leaf's private key never leaves the worker, and the CA's
 * never enters it. The CA key is written 0600 by open() itself and its
 * in-memory encodings are wiped once wolfSSL holds it.
 *
 * Must never: write the CA key with a wider mode than 0600, sign for a
 * name that is not a valid host name or address literal, or load the CA
 * key into the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

#include "pins/host.h"
#include "base/file.h"
#include "base/mem.h"
#include "tls/tls.h"

#define CA_DAYS		1826		/* five years */
#define LEAF_DAYS	7
#define LEAF_REMINT	(24 * 3600)	/* re-mint a cached leaf after a day */
#define DER_MAX		TLS_CA_CERT_MAX

struct leaf {
	char		 name[HOST_MAX + 1];
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
};

/* The keeper's half. */
struct tls_ca_key {
	ecc_key		 key;		/* the CA's; owned */
	uint8_t		 cert[DER_MAX];	/* the CA's certificate */
	int		 certlen;
	WC_RNG		 rng;
	unsigned long	 signed_;
};

/* A self-signed certificate as DER: the CA's (CA:TRUE, pathlen 0), or
 * with ca false the worker's never-served placeholder; its length, or
 * -1. */
static int
ca_cert_der(ecc_key *key, WC_RNG *rng, const char *cn, bool ca,
    uint8_t *der, size_t sz)
{
	Cert	 cert;

	wc_InitCert(&cert);
	snprintf(cert.subject.org, CTC_NAME_SIZE, "pinshim");
	snprintf(cert.subject.commonName, CTC_NAME_SIZE, "%s", cn);
	memcpy(&cert.issuer, &cert.subject, sizeof(cert.issuer));
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = ca ? CA_DAYS : 1;
	cert.isCA = ca;
	cert.pathLen = 0;
	cert.pathLenSet = ca;
	if (wc_SetKeyUsage(&cert, ca ? "keyCertSign,cRLSign" :
	    "digitalSignature") != 0 ||
	    wc_SetSubjectKeyIdFromPublicKey_ex(&cert, ECC_TYPE, key) != 0 ||
	    wc_SetAuthKeyIdFromPublicKey_ex(&cert, ECC_TYPE, key) != 0 ||
	    wc_MakeCert(&cert, der, (word32)sz, NULL, key, rng) < 0)
		return -1;
	return wc_SignCert(cert.bodySz, cert.sigType, der, (word32)sz, NULL,
	    key, rng);
}

int
tls_ca_init(const char *dir, const char *cn, FILE *errs)
{
	char		 keypath[4096], certpath[4096];
	uint8_t		 der[DER_MAX], pem[DER_MAX * 2];
	ecc_key		 key;
	WC_RNG		 rng;
	int		 n, pemlen, status = -1;
	bool		 have_key = false;

	snprintf(keypath, sizeof(keypath), "%s/ca.key", dir);
	snprintf(certpath, sizeof(certpath), "%s/ca.pem", dir);
	/* parents 0755, the CA directory itself 0700 */
	if (file_mkdirs(dir, 0700) == -1) {
		fprintf(errs, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (access(keypath, F_OK) == 0) {
		fprintf(errs, "%s: exists; refusing to replace a CA that "
		    "devices may already trust\n", keypath);
		return -1;
	}
	if (wc_InitRng(&rng) != 0)
		return -1;
	if (wc_ecc_init(&key) != 0 ||
	    wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1) != 0) {
		fprintf(errs, "CA key generation failed\n");
		goto out;
	}
	have_key = true;
	if ((n = ca_cert_der(&key, &rng, cn, true, der, sizeof(der))) < 0) {
		fprintf(errs, "CA certificate generation failed\n");
		goto out;
	}
	if ((pemlen = wc_DerToPem(der, (word32)n, pem, sizeof(pem),
	    CERT_TYPE)) <= 0) {
		fprintf(errs, "CA certificate encoding failed\n");
		goto out;
	}
	/* The certificate is public; write it first so a failure leaves no
	 * orphan private key. */
	if (file_write(certpath, pem, (size_t)pemlen, 0644, true) == -1) {
		fprintf(errs, "%s: %s\n", certpath, strerror(errno));
		goto out;
	}
	if ((n = wc_EccKeyToDer(&key, der, sizeof(der))) <= 0 ||
	    (pemlen = wc_DerToPem(der, (word32)n, pem, sizeof(pem),
	    ECC_PRIVATEKEY_TYPE)) <= 0 ||
	    file_write_key(keypath, pem, (size_t)pemlen) == -1) {
		fprintf(errs, "%s: %s\n", keypath, strerror(errno));
		unlink(certpath);
		goto out;
	}
	status = 0;
out:
	explicit_bzero(der, sizeof(der));
	explicit_bzero(pem, sizeof(pem));
	if (have_key)
		wc_ecc_free(&key);
	wc_FreeRng(&rng);
	return status;
}

static int
read_all(const char *path, uint8_t *buf, size_t sz)
{
	int	 fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t	 n;

	if (fd == -1)
		return -1;
	n = read(fd, buf, sz);
	close(fd);
	return n > 0 && (size_t)n < sz ? (int)n : -1;
}

/* DER length octets for n (< 65536) at out; returns how many. */
static size_t
der_len(uint8_t *out, size_t n)
{
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		return 1;
	}
	if (n <= 0xff) {
		out[0] = 0x81;
		out[1] = (uint8_t)n;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)n;
	return 3;
}

/* SubjectAltName value: SEQUENCE { one dNSName, or one iPAddress for
 * literals }. Lengths in whatever DER form they need (a 253-character
 * name makes the SEQUENCE longer than 255 bytes). */
static int
san_der(const char *name, uint8_t *out, size_t sz)
{
	unsigned char	 ip[16];
	uint8_t		 inner[8 + HOST_MAX];
	size_t		 n = strlen(name), il = 0, ol = 0;
	const void	*val = name;
	uint8_t		 tag = 0x82;		/* [2] dNSName */

	if (inet_pton(AF_INET, name, ip) == 1) {
		tag = 0x87;			/* [7] iPAddress */
		val = ip;
		n = 4;
	} else if (inet_pton(AF_INET6, name, ip) == 1) {
		tag = 0x87;
		val = ip;
		n = 16;
	} else if (n > HOST_MAX)
		return -1;
	inner[il++] = tag;
	il += der_len(inner + il, n);
	memcpy(inner + il, val, n);
	il += n;
	if (il + 4 > sz)
		return -1;
	out[ol++] = 0x30;			/* SEQUENCE */
	ol += der_len(out + ol, il);
	memcpy(out + ol, inner, il);
	return (int)(ol + il);
}

/* --- the keeper's half ------------------------------------------------ */

struct tls_ca_key *
tls_ca_key_load(const char *dir, char *err, size_t errsz)
{
	struct tls_ca_key *k = xcalloc(1, sizeof(*k));
	char		 path[4096];
	uint8_t		 pem[DER_MAX * 2], der[DER_MAX];
	int		 n, dn;
	word32		 idx = 0;

	if (wc_InitRng(&k->rng) != 0 || wc_ecc_init(&k->key) != 0) {
		snprintf(err, errsz, "crypto initialisation failed");
		free(k);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((n = read_all(path, pem, sizeof(pem))) == -1 ||
	    (k->certlen = wc_CertPemToDer(pem, n, k->cert, sizeof(k->cert),
	    CERT_TYPE)) <= 0) {
		snprintf(err, errsz, "%s: cannot read the CA certificate "
		    "(create it with: pinshim ca init %s)", path, dir);
		goto bad;
	}
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	n = read_all(path, pem, sizeof(pem));
	dn = n == -1 ? -1 : wc_KeyPemToDer(pem, n, der, sizeof(der), NULL);
	explicit_bzero(pem, sizeof(pem));
	if (dn <= 0 || wc_EccPrivateKeyDecode(der, &idx, &k->key,
	    (word32)dn) != 0) {
		snprintf(err, errsz, "%s: cannot read the CA key", path);
		explicit_bzero(der, sizeof(der));
		goto bad;
	}
	explicit_bzero(der, sizeof(der));
	return k;
bad:
	tls_ca_key_free(k);
	return NULL;
}

void
tls_ca_key_free(struct tls_ca_key *k)
{
	if (k == NULL)
		return;
	wc_ecc_free(&k->key);
	wc_FreeRng(&k->rng);
	explicit_bzero(k, sizeof(*k));
	free(k);
}

int
tls_ca_key_sign(struct tls_ca_key *k, const char *name, const uint8_t *pub,
    size_t publen, uint8_t *der, size_t sz, const char **why)
{
	char		 canon[HOST_MAX + 1];
	Cert		 cert;
	ecc_key		 leaf;
	int		 n, status = -1;

	if (!host_canon(name, canon, sizeof(canon), why))
		return -1;
	if (strcmp(canon, name) != 0) {
		*why = "not in canonical form";
		return -1;
	}
	*why = "not a P-256 public key";
	if (publen != TLS_CA_PUB_LEN || wc_ecc_init(&leaf) != 0)
		return -1;
	if (wc_ecc_import_x963_ex(pub, (word32)publen, &leaf,
	    ECC_SECP256R1) != 0 || wc_ecc_check_key(&leaf) != 0)
		goto out;
	*why = "signing failed";
	wc_InitCert(&cert);
	snprintf(cert.subject.org, CTC_NAME_SIZE, "pinshim interception");
	snprintf(cert.subject.commonName, CTC_NAME_SIZE, "%.63s", name);
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = LEAF_DAYS;
	if ((n = san_der(name, cert.altNames, sizeof(cert.altNames))) < 0)
		goto out;
	cert.altNamesSz = n;
	if (wc_SetIssuerBuffer(&cert, k->cert, k->certlen) != 0 ||
	    wc_SetAuthKeyIdFromCert(&cert, k->cert, k->certlen) != 0 ||
	    wc_SetSubjectKeyIdFromPublicKey_ex(&cert, ECC_TYPE, &leaf) != 0 ||
	    wc_SetKeyUsage(&cert, "digitalSignature") != 0 ||
	    wc_SetExtKeyUsage(&cert, "serverAuth") != 0 ||
	    wc_MakeCert(&cert, der, (word32)sz, NULL, &leaf, &k->rng) < 0 ||
	    (n = wc_SignCert(cert.bodySz, cert.sigType, der, (word32)sz,
	    NULL, &k->key, &k->rng)) < 0)
		goto out;
	k->signed_++;
	status = n;
	*why = NULL;
out:
	wc_ecc_free(&leaf);
	return status;
}

/* --- the worker's half ------------------------------------------------- */

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
	    (certlen = ca_cert_der(&k, &ca->rng, "invalid", false, cert,
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

/* The cached leaf for name, or NULL; stale ones do not count. */
static struct leaf *
leaf_find(struct tls_ca *ca, const char *name, bool stale_too)
{
	time_t	 now = time(NULL);
	size_t	 i;

	for (i = 0; i < ca->used; i++) {
		struct leaf *l = &ca->cache[i];

		if (strcmp(l->name, name) == 0 && (stale_too ||
		    now - l->minted < LEAF_REMINT))
			return l;
	}
	return NULL;
}

int
tls_ca_leaf_put(struct tls_ca *ca, const char *name, const uint8_t *cert,
    size_t certlen, const uint8_t *key, size_t keylen)
{
	struct leaf	*victim;
	size_t		 i;

	if (certlen == 0 || certlen > DER_MAX || keylen == 0 ||
	    keylen > TLS_CA_LEAFKEY_MAX || strlen(name) > HOST_MAX)
		return -1;
	if ((victim = leaf_find(ca, name, true)) != NULL)
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
	memcpy(victim->cert, cert, certlen);
	victim->certlen = (int)certlen;
	memcpy(victim->key, key, keylen);
	victim->keylen = (int)keylen;
	victim->minted = time(NULL);
	victim->used = ++ca->clock;
	victim->fresh = true;
	ca->mints++;
	return 0;
}

WOLFSSL *
tls_ca_session(struct tls_ca *ca, int fd, const char *name, bool *missing)
{
	struct leaf	*l;
	WOLFSSL		*ssl;

	if ((*missing = (l = leaf_find(ca, name, false)) == NULL))
		return NULL;
	l->used = ++ca->clock;
	if (!l->fresh)
		ca->hits++;
	l->fresh = false;
	if ((ssl = wolfSSL_new(ca->ctx)) == NULL)
		return NULL;
	if (wolfSSL_use_certificate_buffer(ssl, l->cert, l->certlen,
	    WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
	    wolfSSL_use_PrivateKey_buffer(ssl, l->key, l->keylen,
	    WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS ||
	    wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS) {
		wolfSSL_free(ssl);
		return NULL;
	}
	wolfSSL_set_using_nonblock(ssl, 1);
	return ssl;
}

void
tls_ca_stats(const struct tls_ca *ca, unsigned long *mints,
    unsigned long *hits, size_t *cached)
{
	*mints = ca->mints;
	*hits = ca->hits;
	*cached = ca->used < ca->ncache ? ca->used : ca->ncache;
}
