/*
 * tls_ca_int.h - what the CA's two halves share (tls_ca_key.c, tls_ca.c):
 * nothing but how a self-signed certificate is made. Not for use outside
 * tls/.
 */
#ifndef PINSHIM_TLS_CA_INT_H
#define PINSHIM_TLS_CA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>

/* A self-signed certificate as DER: the CA's (CA:TRUE, pathlen 0), or
 * with ca false the worker's never-served placeholder; its length, or
 * -1. */
int	 tls_ca_selfsigned(ecc_key *key, WC_RNG *rng, const char *cn, bool ca,
	    uint8_t *der, size_t sz);

#endif
