/*
 * tls_resume.c - cheaper upstream handshakes without trusting less: the
 * chain a server presented (as the verify callback saw it), a bounded
 * cache of resumable sessions per origin, and the signatures the pin check
 * already verified.
 *
 * A session is cached only from a connection whose verdict passed, and
 * always together with the chain that connection's full handshake
 * presented; a resumed connection gets its verdict again over that chain
 * (tls_verify.c), never "resumed, therefore trusted". Origins are (host,
 * port, policy): a pin-only handshake, whose CA check was waived, can
 * never seed a session for a policy that relies on that check. A change of
 * pins (tls_client_forget) drops every session, and tickets that arrive
 * afterwards on older connections are not kept.
 *
 * Must never: keep a session issued to a connection that did not pass, or
 * pair a session with a chain other than the one verified with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "base/mem.h"
#include "pins/host.h"
#include "tls/tls.h"

#ifndef WOLFSSL_ALWAYS_VERIFY_CB
#error "pinshim takes the presented chain in the verify callback: wolfSSL must call it on success too (WOLFSSL_ALWAYS_VERIFY_CB)"
#endif
#ifndef HAVE_EX_DATA
#error "pinshim needs wolfSSL's ex_data (HAVE_EX_DATA)"
#endif

/* ex_data slots of a client session: the check during the handshake, the
 * passed chain (one reference) after it; TLS_EX_IO is tls_client.c's. */
#define EX_CHECK	TLS_EX_CHECK
#define EX_CHAIN	1
/* of the client context: its tls_client */
#define EX_CLIENT	0

struct entry {
	struct tls_chain	*chain;		/* owned; key names the origin */
	WOLFSSL_SESSION		*sess;		/* owned, or NULL */
	time_t			 used;		/* last offered or refreshed */
};

struct tls_resume {
	struct entry		*v;		/* owned, max of them */
	size_t			 max, n;
	unsigned		 gen;		/* bumped by every forget */
};

/* The chain. */

struct tls_chain *
tls_chain_new(const WOLFSSL_BUFFER_INFO *certs, int n)
{
	struct tls_chain	*ch;
	unsigned char		*p;
	size_t			 total = 0;
	int			 i;

	if (certs == NULL || n <= 0)
		return NULL;
	if (n > TLS_CHAIN_MAX)
		n = TLS_CHAIN_MAX;
	for (i = 0; i < n; i++)
		total += certs[i].length;
	ch = xcalloc(1, sizeof(*ch) + total);
	ch->refs = 1;
	ch->n = n;
	p = (unsigned char *)(ch + 1);
	for (i = 0; i < n; i++) {
		memcpy(p, certs[i].buffer, certs[i].length);
		ch->der[i] = p;
		ch->len[i] = certs[i].length;
		p += certs[i].length;
		if (wc_Sha256Hash(ch->der[i], (word32)ch->len[i],
		    ch->hash[i]) != 0)
			abort();	/* only bad arguments make it fail */
	}
	return ch;
}

struct tls_chain *
tls_chain_ref(struct tls_chain *ch)
{
	if (ch != NULL)
		ch->refs++;
	return ch;
}

void
tls_chain_free(struct tls_chain *ch)
{
	if (ch == NULL || --ch->refs > 0)
		return;
	free(ch->key);
	free(ch);
}

void
tls_check_clear(struct tls_check *chk)
{
	tls_chain_free(chk->chain);
	tls_chain_free(chk->offered);
	if (chk->fresh != NULL)
		wolfSSL_SESSION_free(chk->fresh);
	chk->chain = chk->offered = NULL;
	chk->fresh = NULL;
	free(chk->early);
	chk->early = NULL;
}

/* The cache. */

struct tls_resume *
tls_resume_new(size_t max)
{
	struct tls_resume	*r = xcalloc(1, sizeof(*r));

	r->max = max > 0 ? max : 1;
	r->v = xcalloc(r->max, sizeof(*r->v));
	return r;
}

static void
entry_drop(struct tls_resume *r, size_t i)
{
	tls_chain_free(r->v[i].chain);
	if (r->v[i].sess != NULL)
		wolfSSL_SESSION_free(r->v[i].sess);
	r->v[i] = r->v[--r->n];
	memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
}

void
tls_resume_free(struct tls_resume *r)
{
	if (r == NULL)
		return;
	while (r->n > 0)
		entry_drop(r, r->n - 1);
	free(r->v);
	free(r);
}

void
tls_client_forget(struct tls_client *c)
{
	struct tls_resume	*r = c->resume;

	if (r == NULL)
		return;
	while (r->n > 0)
		entry_drop(r, r->n - 1);
	r->gen++;
}

static struct entry *
lookup(struct tls_resume *r, const char *key)
{
	size_t	 i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].chain->key, key) == 0)
			return &r->v[i];
	return NULL;
}

/* The entry for chain's origin, made (evicting the least recently used)
 * if there is none. */
static struct entry *
entry_for(struct tls_resume *r, struct tls_chain *ch)
{
	struct entry	*e = lookup(r, ch->key);
	size_t		 i, old = 0;

	if (e != NULL)
		return e;
	if (r->n == r->max) {
		for (i = 1; i < r->n; i++)
			if (r->v[i].used < r->v[old].used)
				old = i;
		entry_drop(r, old);
	}
	e = &r->v[r->n++];
	e->chain = tls_chain_ref(ch);
	e->used = time(NULL);
	return e;
}

/* Keep sess (a reference the caller gives) for ch's origin. */
static void
keep(struct tls_resume *r, struct tls_chain *ch, WOLFSSL_SESSION *sess)
{
	struct entry	*e;

	if (ch->gen != r->gen || !wolfSSL_SESSION_is_resumable(sess)) {
		wolfSSL_SESSION_free(sess);
		return;
	}
	e = entry_for(r, ch);
	if (e->chain != ch) {		/* a newer verified chain wins */
		tls_chain_free(e->chain);
		e->chain = tls_chain_ref(ch);
	}
	if (e->sess != NULL)
		wolfSSL_SESSION_free(e->sess);
	e->sess = sess;
	e->used = time(NULL);
}

static void
origin_key(const struct tls_check *chk, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s:%u/%s", chk->host, chk->port,
	    policy_name(chk->policy));
}

/* wolfSSL issued a session (a TLS 1.2 handshake's end, or a TLS 1.3
 * ticket, which may come at any time while relaying). Returns 1: the
 * reference given to us is taken. */
static int
new_session(WOLFSSL *ssl, WOLFSSL_SESSION *sess)
{
	struct tls_client	*c = wolfSSL_CTX_get_ex_data(
	    wolfSSL_get_SSL_CTX(ssl), EX_CLIENT);
	struct tls_check	*chk = wolfSSL_get_ex_data(ssl, EX_CHECK);
	struct tls_chain	*ch = wolfSSL_get_ex_data(ssl, EX_CHAIN);

	if (chk != NULL)
		chk->tickets++;		/* the server took the client */
	if (c == NULL || c->resume == NULL) {
		wolfSSL_SESSION_free(sess);
	} else if (ch != NULL) {
		keep(c->resume, ch, sess);
	} else if (chk != NULL && chk->resume) {
		/* before the verdict: held until it passes */
		if (chk->fresh != NULL)
			wolfSSL_SESSION_free(chk->fresh);
		chk->fresh = sess;
	} else {
		wolfSSL_SESSION_free(sess);
	}
	return 1;
}

void
tls_resume_attach(struct tls_client *c)
{
	wolfSSL_CTX_set_ex_data(c->ctx, EX_CLIENT, c);
	wolfSSL_CTX_sess_set_new_cb(c->ctx, new_session);
}

void
tls_resume_detach(struct tls_client *c)
{
	wolfSSL_CTX_set_ex_data(c->ctx, EX_CLIENT, NULL);
}

void
tls_resume_offer(struct tls_client *c, WOLFSSL *ssl, struct tls_check *chk)
{
	struct tls_resume	*r = c->resume;
	struct entry		*e;
	char			 key[HOST_MAX + 32];

	wolfSSL_set_ex_data(ssl, EX_CHECK, chk);
	if (r == NULL || !chk->resume)
		return;
	(void)wolfSSL_UseSessionTicket(ssl);	/* TLS 1.2 tickets */
	origin_key(chk, key, sizeof(key));
	if ((e = lookup(r, key)) == NULL || e->sess == NULL)
		return;
	if (wolfSSL_set_session(ssl, e->sess) != WOLFSSL_SUCCESS) {
		/* expired, or no longer usable: a full handshake */
		wolfSSL_SESSION_free(e->sess);
		e->sess = NULL;
		return;
	}
	chk->offered = tls_chain_ref(e->chain);
	e->used = time(NULL);
}

void
tls_session_passed(struct tls_client *c, WOLFSSL *ssl, struct tls_check *chk)
{
	struct tls_resume	*r = c->resume;
	struct tls_chain	*ch;
	struct entry		*e;
	char			 key[HOST_MAX + 32];

	wolfSSL_set_ex_data(ssl, EX_CHECK, NULL);
	if (r == NULL || !chk->resume)
		return;
	if (chk->chain != NULL) {
		ch = chk->chain;
		origin_key(chk, key, sizeof(key));
		/* Share the cached chain if it is this one. */
		if ((e = lookup(r, key)) != NULL && e->chain->gen == r->gen &&
		    e->chain->n == ch->n && memcmp(e->chain->hash, ch->hash,
		    (size_t)ch->n * PIN_HASH_LEN) == 0) {
			ch = e->chain;
		} else {
			free(ch->key);
			ch->key = xstrdup(key);
			ch->gen = r->gen;
		}
	} else if (chk->offered != NULL && wolfSSL_session_reused(ssl)) {
		ch = chk->offered;
	} else {
		return;
	}
	if (ch->gen != r->gen)
		return;		/* the pins changed during the handshake */
	wolfSSL_set_ex_data(ssl, EX_CHAIN, tls_chain_ref(ch));
	if (chk->fresh != NULL) {
		keep(r, ch, chk->fresh);
		chk->fresh = NULL;
	}
}

void
tls_session_refused(struct tls_client *c, const struct tls_check *chk)
{
	struct tls_resume	*r = c->resume;
	struct entry		*e;
	char			 key[HOST_MAX + 32];

	if (r == NULL || chk->offered == NULL)
		return;
	/* A connection that offered a session was refused: the recorded
	 * chain no longer passes (its leaf expired while the server still
	 * takes the ticket), or the offer itself broke the handshake (seen:
	 * a server with a new certificate but its old ticket key, "out of
	 * order message"). Either way the next connection makes a full
	 * handshake, instead of offering the same session into the same
	 * refusal until the ticket expires. */
	origin_key(chk, key, sizeof(key));
	if ((e = lookup(r, key)) != NULL && e->chain == chk->offered)
		entry_drop(r, (size_t)(e - r->v));
}

void
tls_resume_release(WOLFSSL *ssl)
{
	tls_chain_free(wolfSSL_get_ex_data(ssl, EX_CHAIN));
	wolfSSL_set_ex_data(ssl, EX_CHAIN, NULL);
}

/* Verified pairs: a direct-mapped table of (child, issuer) certificate
 * hashes whose signature checked out. Only successes are kept, so an
 * entry lost to a collision costs one verification, never a pass. */

#define PAIRS	256

struct tls_pairs {
	unsigned char	 child[PAIRS][PIN_HASH_LEN];
	unsigned char	 parent[PAIRS][PIN_HASH_LEN];
};

struct tls_pairs *
tls_pairs_new(void)
{
	return xcalloc(1, sizeof(struct tls_pairs));
}

void
tls_pairs_free(struct tls_pairs *p)
{
	free(p);
}

static size_t
pair_slot(const unsigned char *child, const unsigned char *parent)
{
	return ((size_t)child[0] << 8 | child[1]) ^ parent[0];
}

bool
tls_pairs_known(const struct tls_pairs *p, const unsigned char *child,
    const unsigned char *parent)
{
	size_t	 s = pair_slot(child, parent) % PAIRS;

	return p != NULL &&
	    memcmp(p->child[s], child, PIN_HASH_LEN) == 0 &&
	    memcmp(p->parent[s], parent, PIN_HASH_LEN) == 0;
}

void
tls_pairs_add(struct tls_pairs *p, const unsigned char *child,
    const unsigned char *parent)
{
	size_t	 s = pair_slot(child, parent) % PAIRS;

	if (p == NULL)
		return;
	memcpy(p->child[s], child, PIN_HASH_LEN);
	memcpy(p->parent[s], parent, PIN_HASH_LEN);
}
