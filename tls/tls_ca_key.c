/*
 * tls_ca_key.c - the local interception CA's key half, the keeper's
 * (struct tls_ca_key: the CA key, which only signs), and `pinshim ca
 * init`, which makes it. The worker's half, which never sees the key, is
 * tls_ca.c (struct tls_ca: the TLS server context and a bounded LRU of
 * minted leaves, so a repeated name costs no round trip).
 *
 * A mint: the worker makes a P-256 key pair for the name and sends the
 * public half; the keeper checks the name and the point and signs a leaf
 * whose every field it chose (7 days, serverAuth, exactly that name as
 * SAN). For an app that takes no ECDSA the worker sends its RSA-2048
 * public key instead (2048 bits, e = 65537, nothing else). The leaf's
 * private key never leaves the worker, and the CA's
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
#include <wolfssl/wolfcrypt/rsa.h>

#include "pins/host.h"
#include "base/file.h"
#include "base/mem.h"
#include "tls/tls.h"
#include "tls/tls_ca_int.h"

#define CA_DAYS		1826		/* five years */
#define LEAF_DAYS	7
#define DER_MAX		TLS_CA_CERT_MAX

/* The keeper's half. */
struct tls_ca_key {
	ecc_key		 key;		/* the CA's; owned */
	uint8_t		 cert[DER_MAX];	/* the CA's certificate */
	int		 certlen;
	WC_RNG		 rng;
	unsigned long	 signed_;
};

int
tls_ca_selfsigned(ecc_key *key, WC_RNG *rng, const char *cn, bool ca,
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
	if ((n = tls_ca_selfsigned(&key, &rng, cn, true, der, sizeof(der))) < 0) {
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

/* The leaf's public key, checked: a P-256 point on the curve, or an
 * RSA key of exactly TLS_CA_RSA_BITS with e = 65537. */
static bool
leaf_pub(enum tls_leaf kind, const uint8_t *pub, size_t publen,
    ecc_key *ec, RsaKey *rsa)
{
	uint8_t		 e[8], n[TLS_CA_RSA_BITS / 8 + 1];
	word32		 el = sizeof(e), nl = sizeof(n), idx = 0;

	if (kind == TLS_LEAF_ECDSA)
		return publen == TLS_CA_PUB_LEN &&
		    wc_ecc_import_x963_ex(pub, (word32)publen, ec,
		    ECC_SECP256R1) == 0 && wc_ecc_check_key(ec) == 0;
	return kind == TLS_LEAF_RSA && publen <= TLS_CA_RSA_PUB_MAX &&
	    wc_RsaPublicKeyDecode(pub, &idx, rsa, (word32)publen) == 0 &&
	    idx == publen &&
	    wc_RsaFlattenPublicKey(rsa, e, &el, n, &nl) == 0 &&
	    wc_RsaEncryptSize(rsa) == TLS_CA_RSA_BITS / 8 &&
	    el == 3 && e[0] == 0x01 && e[1] == 0x00 && e[2] == 0x01;
}

int
tls_ca_key_sign(struct tls_ca_key *k, const char *name, enum tls_leaf kind,
    const uint8_t *pub, size_t publen, uint8_t *der, size_t sz,
    const char **why)
{
	char		 canon[HOST_MAX + 1];
	Cert		 cert;
	ecc_key		 ec;
	RsaKey		 rsa;
	void		*leaf;
	int		 n, type, status = -1;

	if (!host_canon(name, canon, sizeof(canon), why))
		return -1;
	if (strcmp(canon, name) != 0) {
		*why = "not in canonical form";
		return -1;
	}
	if (wc_ecc_init(&ec) != 0)
		return -1;
	if (wc_InitRsaKey(&rsa, NULL) != 0) {
		wc_ecc_free(&ec);
		return -1;
	}
	type = kind == TLS_LEAF_RSA ? RSA_TYPE : ECC_TYPE;
	leaf = kind == TLS_LEAF_RSA ? (void *)&rsa : (void *)&ec;
	if (!leaf_pub(kind, pub, publen, &ec, &rsa)) {
		*why = kind == TLS_LEAF_RSA ? "not an RSA-2048 public key "
		    "with e = 65537" : "not a P-256 public key";
		goto out;
	}
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
	    wc_SetSubjectKeyIdFromPublicKey_ex(&cert, type, leaf) != 0 ||
	    wc_SetKeyUsage(&cert, "digitalSignature") != 0 ||
	    wc_SetExtKeyUsage(&cert, "serverAuth") != 0 ||
	    wc_MakeCert(&cert, der, (word32)sz, kind == TLS_LEAF_RSA ? &rsa :
	    NULL, kind == TLS_LEAF_RSA ? NULL : &ec, &k->rng) < 0 ||
	    (n = wc_SignCert(cert.bodySz, cert.sigType, der, (word32)sz,
	    NULL, &k->key, &k->rng)) < 0)
		goto out;
	k->signed_++;
	status = n;
	*why = NULL;
out:
	wc_FreeRsaKey(&rsa);
	wc_ecc_free(&ec);
	return status;
}
