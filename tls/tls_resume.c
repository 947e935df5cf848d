/*
 * tls_resume.c - upstream TLS session resumption: the sessions of
 * connections that passed their verdict, kept per (host, port) and per pin
 * snapshot generation, in the trust store's client.
 *
 * A resumed connection is not trusted for being resumed: wolfSSL restores
 * the chain recorded at the full handshake, and tls_verdict() re-runs the
 * whole pin check over it. A session is offered only under the snapshot
 * generation it was made under: a reload or a feed swap makes every cached
 * session unusable, and the trust store owns its cache, so a new ca_file
 * starts empty.
 *
 * Must never: offer a session under another snapshot generation, or keep
 * the session of a connection that did not pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "tls/tls.h"

#define RESUME_SLOTS	256

struct slot {
	char		 key[HOST_MAX + 8];	/* "host:port"; "" free */
	uint64_t	 gen;			/* snapshot generation */
	WOLFSSL_SESSION	*sess;			/* owned */
	uint64_t	 used;			/* LRU clock */
};

struct tls_resume {
	struct slot	 s[RESUME_SLOTS];
	uint64_t	 clock;
	unsigned long	 offered, kept;
};

struct tls_resume *
tls_resume_new(void)
{
	return xcalloc(1, sizeof(struct tls_resume));
}

static void
slot_clear(struct slot *s)
{
	if (s->sess != NULL)
		wolfSSL_SESSION_free(s->sess);
	memset(s, 0, sizeof(*s));
}

void
tls_resume_free(struct tls_resume *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < RESUME_SLOTS; i++)
		slot_clear(&r->s[i]);
	free(r);
}

/* The slot holding key; if there is none, NULL, or (make) the least
 * recently used slot, emptied and named for key. */
static struct slot *
slot_for(struct tls_resume *r, const char *key, bool make)
{
	struct slot	*victim = &r->s[0];
	size_t		 i;

	for (i = 0; i < RESUME_SLOTS; i++) {
		if (strcmp(r->s[i].key, key) == 0)
			return &r->s[i];
		if (r->s[i].used < victim->used)
			victim = &r->s[i];
	}
	if (!make)
		return NULL;
	slot_clear(victim);
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

void
tls_resume_offer(struct tls_client *c, WOLFSSL *ssl, const char *host,
    unsigned port, uint64_t gen)
{
	char		 key[HOST_MAX + 8];
	struct slot	*s;

	snprintf(key, sizeof(key), "%s:%u", host, port);
	if ((s = slot_for(c->resume, key, false)) == NULL || s->sess == NULL)
		return;
	if (s->gen != gen) {		/* pins changed since: never resume */
		slot_clear(s);
		return;
	}
	if (wolfSSL_set_session(ssl, s->sess) == WOLFSSL_SUCCESS) {
		s->used = ++c->resume->clock;
		c->resume->offered++;
	}
}

void
tls_resume_keep(struct tls_client *c, WOLFSSL *ssl, const char *host,
    unsigned port, uint64_t gen)
{
	char		 key[HOST_MAX + 8];
	WOLFSSL_SESSION	*sess;
	struct slot	*s;

	if ((sess = wolfSSL_get1_session(ssl)) == NULL)
		return;
	snprintf(key, sizeof(key), "%s:%u", host, port);
	s = slot_for(c->resume, key, true);
	if (s->sess != NULL)
		wolfSSL_SESSION_free(s->sess);
	s->sess = sess;
	s->gen = gen;
	s->used = ++c->resume->clock;
	c->resume->kept++;
}
