/*
 * tls_ca.c - the local interception CA: create it once on the device, load
 * it at start, and mint short-lived leaves for the names apps ask for,
 * kept in a bounded LRU so a repeated name costs no key generation.
 *
 * The CA key never leaves the device: it is written 0600 by open() itself
 * and its in-memory copies are wiped once wolfSSL holds the key. Minted
 * leaves are ECDSA P-256 with exactly the requested name as SAN.
 *
 * Must never: write the CA key with a wider mode than 0600, or mint for a
 * name other than the one asked for.
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
#define DER_MAX		2048

struct leaf {
	char		 name[HOST_MAX + 1];
	uint8_t		 cert[DER_MAX];
	int		 certlen;
	uint8_t		 key[256];
	int		 keylen;
	time_t		 minted;
	unsigned long	 used;		/* LRU clock */
};

struct tls_ca {
	WOLFSSL_CTX	*ctx;		/* server side; owned */
	ecc_key		 key;		/* the CA's; owned */
	uint8_t		 cert[DER_MAX];	/* the CA's certificate */
	int		 certlen;
	WC_RNG		 rng;
	struct leaf	*cache;		/* owned; ncache entries */
	size_t		 ncache, used;
	unsigned long	 clock;
	unsigned long	 mints, hits;
};

/* The CA certificate (self-signed, CA:TRUE, pathlen 0) as DER; its
 * length, or -1. */
static int
ca_cert_der(ecc_key *key, WC_RNG *rng, const char *cn, uint8_t *der,
    size_t sz)
{
	Cert	 cert;

	wc_InitCert(&cert);
	snprintf(cert.subject.org, CTC_NAME_SIZE, "pinshim");
	snprintf(cert.subject.commonName, CTC_NAME_SIZE, "%s", cn);
	memcpy(&cert.issuer, &cert.subject, sizeof(cert.issuer));
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = CA_DAYS;
	cert.isCA = 1;
	cert.pathLen = 0;
	cert.pathLenSet = 1;
	if (wc_SetKeyUsage(&cert, "keyCertSign,cRLSign") != 0 ||
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
	if ((n = ca_cert_der(&key, &rng, cn, der, sizeof(der))) < 0) {
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

static int	mint(struct tls_ca *, const char *, struct leaf *);

/* wolfSSL (unless built with session export) refuses wolfSSL_new() on a
 * server context without a certificate and key, though every session gets
 * its own minted leaf before its handshake. The context holds a leaf for
 * the reserved name "invalid" (RFC 6761), never served: never the CA's
 * own key. */
static int
ctx_placeholder(struct tls_ca *ca)
{
	struct leaf	*l = xcalloc(1, sizeof(*l));
	int		 status = -1;

	if (mint(ca, "invalid", l) == 0 &&
	    wolfSSL_CTX_use_certificate_buffer(ca->ctx, l->cert, l->certlen,
	    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS &&
	    wolfSSL_CTX_use_PrivateKey_buffer(ca->ctx, l->key, l->keylen,
	    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
		status = 0;
	ca->mints = 0;		/* not one an app asked for */
	explicit_bzero(l, sizeof(*l));
	free(l);
	return status;
}

struct tls_ca *
tls_ca_load(const char *dir, size_t cache, char *err, size_t errsz)
{
	struct tls_ca	*ca = xcalloc(1, sizeof(*ca));
	char		 path[4096];
	uint8_t		 pem[DER_MAX * 2], der[DER_MAX];
	int		 n, dn;
	word32		 idx = 0;

	if (wc_InitRng(&ca->rng) != 0 || wc_ecc_init(&ca->key) != 0) {
		snprintf(err, errsz, "crypto initialisation failed");
		free(ca);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	if ((n = read_all(path, pem, sizeof(pem))) == -1 ||
	    (ca->certlen = wc_CertPemToDer(pem, n, ca->cert, sizeof(ca->cert),
	    CERT_TYPE)) <= 0) {
		snprintf(err, errsz, "%s: cannot read the CA certificate "
		    "(create it with: pinshim ca init %s)", path, dir);
		goto bad;
	}
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	if ((n = read_all(path, pem, sizeof(pem))) == -1 ||
	    (dn = wc_KeyPemToDer(pem, n, der, sizeof(der), NULL)) <= 0 ||
	    wc_EccPrivateKeyDecode(der, &idx, &ca->key, (word32)dn) != 0) {
		snprintf(err, errsz, "%s: cannot read the CA key", path);
		explicit_bzero(pem, sizeof(pem));
		explicit_bzero(der, sizeof(der));
		goto bad;
	}
	explicit_bzero(pem, sizeof(pem));
	explicit_bzero(der, sizeof(der));

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
		snprintf(err, errsz, "cannot mint the context's placeholder "
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
	wc_ecc_free(&ca->key);
	wc_FreeRng(&ca->rng);
	free(ca);
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

static int
mint(struct tls_ca *ca, const char *name, struct leaf *l)
{
	Cert		 cert;
	ecc_key		 key;
	int		 n, status = -1;

	if (wc_ecc_init(&key) != 0)
		return -1;
	if (wc_ecc_make_key_ex(&ca->rng, 32, &key, ECC_SECP256R1) != 0)
		goto out;
	wc_InitCert(&cert);
	snprintf(cert.subject.org, CTC_NAME_SIZE, "pinshim interception");
	snprintf(cert.subject.commonName, CTC_NAME_SIZE, "%.63s", name);
	cert.sigType = CTC_SHA256wECDSA;
	cert.daysValid = LEAF_DAYS;
	if ((n = san_der(name, cert.altNames, sizeof(cert.altNames))) < 0)
		goto out;
	cert.altNamesSz = n;
	if (wc_SetIssuerBuffer(&cert, ca->cert, ca->certlen) != 0 ||
	    wc_SetAuthKeyIdFromCert(&cert, ca->cert, ca->certlen) != 0 ||
	    wc_SetSubjectKeyIdFromPublicKey_ex(&cert, ECC_TYPE, &key) != 0 ||
	    wc_SetKeyUsage(&cert, "digitalSignature") != 0 ||
	    wc_SetExtKeyUsage(&cert, "serverAuth") != 0 ||
	    wc_MakeCert(&cert, l->cert, sizeof(l->cert), NULL, &key,
	    &ca->rng) < 0 ||
	    (n = wc_SignCert(cert.bodySz, cert.sigType, l->cert,
	    sizeof(l->cert), NULL, &ca->key, &ca->rng)) < 0)
		goto out;
	l->certlen = n;
	if ((n = wc_EccKeyToDer(&key, l->key, sizeof(l->key))) <= 0)
		goto out;
	l->keylen = n;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->minted = time(NULL);
	ca->mints++;
	status = 0;
out:
	wc_ecc_free(&key);
	return status;
}

/* The cached leaf for name, minted if missing or old. */
static struct leaf *
leaf_for(struct tls_ca *ca, const char *name)
{
	struct leaf	*victim = NULL;
	size_t		 i;
	time_t		 now = time(NULL);

	for (i = 0; i < ca->used; i++) {
		struct leaf *l = &ca->cache[i];

		if (strcmp(l->name, name) == 0 && now - l->minted < LEAF_REMINT) {
			l->used = ++ca->clock;
			ca->hits++;
			return l;
		}
		if (strcmp(l->name, name) == 0)
			victim = l;	/* stale: re-mint in place */
	}
	if (victim == NULL && ca->used < ca->ncache)
		victim = &ca->cache[ca->used++];
	else if (victim == NULL) {	/* full: evict the least recent */
		victim = &ca->cache[0];
		for (i = 1; i < ca->used; i++)
			if (ca->cache[i].used < victim->used)
				victim = &ca->cache[i];
	}
	if (mint(ca, name, victim) == -1) {
		victim->name[0] = '\0';
		return NULL;
	}
	victim->used = ++ca->clock;
	return victim;
}

WOLFSSL *
tls_ca_session(struct tls_ca *ca, int fd, const char *name)
{
	struct leaf	*l;
	WOLFSSL		*ssl;

	if ((l = leaf_for(ca, name)) == NULL)
		return NULL;
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
