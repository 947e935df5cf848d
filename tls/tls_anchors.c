/*
 * tls_anchors.c - the trust anchors of ca_file, kept so the pin check can
 * name the root a chain ended at (a root pin must match even when the
 * server does not send its root).
 *
 * wolfSSL's certificate manager holds the same certificates for the
 * handshake itself; this copy only serves path reconstruction and never
 * decides trust on its own.
 *
 * Must never: count a certificate it could not read as an anchor.
 */
#include <stdio.h>
#include <stdlib.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/mem.h"
#include "tls/tls.h"

struct anchor {
	WOLFSSL_X509	*cert;		/* owned */
	struct pin	 pin;
	unsigned char	 hash[PIN_HASH_LEN];	/* of the DER */
};

struct tls_anchors {
	struct anchor	*v;		/* owned */
	size_t		 n;
};

struct tls_anchors *
tls_anchors_load(const char *file, char *err, size_t errsz)
{
	struct tls_anchors	*a = xcalloc(1, sizeof(*a));
	WOLFSSL_BIO		*bio;
	WOLFSSL_X509		*x;
	const unsigned char	*der;
	int			 len;

	if ((bio = wolfSSL_BIO_new_file(file, "r")) == NULL) {
		snprintf(err, errsz, "%s: cannot open", file);
		free(a);
		return NULL;
	}
	while ((x = wolfSSL_PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		a->v = xreallocarray(a->v, a->n + 1, sizeof(*a->v));
		if (tls_cert_pin(x, &a->v[a->n].pin) == -1 ||
		    (der = wolfSSL_X509_get_der(x, &len)) == NULL ||
		    wc_Sha256Hash(der, (word32)len, a->v[a->n].hash) != 0) {
			wolfSSL_X509_free(x);
			continue;
		}
		a->v[a->n++].cert = x;
	}
	wolfSSL_BIO_free(bio);
	if (a->n == 0) {
		snprintf(err, errsz, "%s: no PEM certificate in it", file);
		tls_anchors_free(a);
		return NULL;
	}
	return a;
}

size_t
tls_anchors_trust(const struct tls_anchors *a, WOLFSSL_CTX *ctx)
{
	const unsigned char	*der;
	size_t			 i, taken = 0;
	int			 len;

	for (i = 0; i < a->n; i++)
		if ((der = wolfSSL_X509_get_der(a->v[i].cert, &len)) != NULL &&
		    wolfSSL_CTX_load_verify_buffer(ctx, der, len,
		    WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
			taken++;
	return taken;
}

void
tls_anchors_free(struct tls_anchors *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		wolfSSL_X509_free(a->v[i].cert);
	free(a->v);
	free(a);
}

size_t
tls_anchors_count(const struct tls_anchors *a)
{
	return a->n;
}

WOLFSSL_X509 *
tls_anchors_get(const struct tls_anchors *a, size_t i, const struct pin **pin,
    const unsigned char **hash)
{
	*pin = &a->v[i].pin;
	*hash = a->v[i].hash;
	return a->v[i].cert;
}
