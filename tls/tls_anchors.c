/*
 * tls_anchors.c - the trust anchors of ca_file, kept so the pin check can
 * name the root a chain ended at (a root pin must match even when the
 * server does not send its root).
 *
 * Each anchor is kept as its DER, its pin and its subject's name hash; it
 * is parsed only when a chain names it as an issuer, and stays parsed
 * (a device talks to a handful of roots out of ca-certificates' 140-odd,
 * and a parsed certificate costs several times its DER). Lookup is by the
 * name hash, so a verdict looks at the anchors that could matter, not at
 * all of them.
 *
 * wolfSSL's certificate manager holds the same certificates for the
 * handshake itself; this copy only serves path reconstruction and never
 * decides trust on its own.
 *
 * Must never: count a certificate it could not read as an anchor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/mem.h"
#include "tls/tls.h"

struct anchor {
	unsigned char	*der;		/* owned */
	int		 len;
	unsigned long	 name;		/* subject name hash */
	struct pin	 pin;
	unsigned char	 hash[PIN_HASH_LEN];	/* of the DER */
	WOLFSSL_X509	*cert;		/* owned; parsed on first use */
};

struct tls_anchors {
	struct anchor	*v;		/* owned, sorted by name */
	size_t		 n;
};

static int
by_name(const void *a, const void *b)
{
	const struct anchor	*x = a, *y = b;

	return x->name < y->name ? -1 : x->name > y->name;
}

static bool
anchor_take(struct anchor *an, WOLFSSL_X509 *x)
{
	const unsigned char	*der;

	if (tls_cert_pin(x, &an->pin) == -1 ||
	    (der = wolfSSL_X509_get_der(x, &an->len)) == NULL ||
	    an->len <= 0 ||
	    wc_Sha256Hash(der, (word32)an->len, an->hash) != 0)
		return false;
	an->der = xmemdup(der, (size_t)an->len);
	an->name = wolfSSL_X509_subject_name_hash(x);
	return true;
}

struct tls_anchors *
tls_anchors_load(const char *file, char *err, size_t errsz)
{
	struct tls_anchors	*a = xcalloc(1, sizeof(*a));
	WOLFSSL_BIO		*bio;
	WOLFSSL_X509		*x;

	if ((bio = wolfSSL_BIO_new_file(file, "r")) == NULL) {
		snprintf(err, errsz, "%s: cannot open", file);
		free(a);
		return NULL;
	}
	while ((x = wolfSSL_PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		a->v = xreallocarray(a->v, a->n + 1, sizeof(*a->v));
		memset(&a->v[a->n], 0, sizeof(a->v[a->n]));
		if (anchor_take(&a->v[a->n], x))
			a->n++;
		wolfSSL_X509_free(x);
	}
	wolfSSL_BIO_free(bio);
	if (a->n == 0) {
		snprintf(err, errsz, "%s: no PEM certificate in it", file);
		tls_anchors_free(a);
		return NULL;
	}
	qsort(a->v, a->n, sizeof(*a->v), by_name);
	return a;
}

size_t
tls_anchors_trust(const struct tls_anchors *a, WOLFSSL_CTX *ctx)
{
	size_t	 i, taken = 0;

	for (i = 0; i < a->n; i++)
		if (wolfSSL_CTX_load_verify_buffer(ctx, a->v[i].der,
		    a->v[i].len, WOLFSSL_FILETYPE_ASN1) == WOLFSSL_SUCCESS)
			taken++;
	return taken;
}

void
tls_anchors_free(struct tls_anchors *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++) {
		wolfSSL_X509_free(a->v[i].cert);
		free(a->v[i].der);
	}
	free(a->v);
	free(a);
}

size_t
tls_anchors_named(const struct tls_anchors *a, unsigned long name,
    size_t *first)
{
	size_t	 lo = 0, hi = a->n, end;

	while (lo < hi) {
		size_t	 mid = lo + (hi - lo) / 2;

		if (a->v[mid].name < name)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < a->n && a->v[end].name == name; end++)
		;
	*first = lo;
	return end - lo;
}

WOLFSSL_X509 *
tls_anchors_get(struct tls_anchors *a, size_t i, const struct pin **pin,
    const unsigned char **hash)
{
	struct anchor	*an = &a->v[i];

	*pin = &an->pin;
	*hash = an->hash;
	if (an->cert == NULL) {
		const unsigned char	*der = an->der;

		an->cert = wolfSSL_d2i_X509(NULL, &der, an->len);
	}
	return an->cert;
}
