/*
 * quota.c - per-client connection counts: a hash table keyed by the
 * client (an IPv4 address, IPv4-mapped IPv6 included, or an IPv6 prefix:
 * counting single IPv6 addresses would let one host with its /64 open
 * max_conns_per_client connections from each of 2^64 addresses), with a
 * random seed so a client cannot choose keys that collide. The connection
 * keeps the key it took, so a reload that changes the prefix cannot make
 * a give miss its take.
 *
 * Must never: let counts drift (every take has its give), or cost more
 * than O(1) expected per connection; entries go when their count is 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "base/mem.h"
#include "shim/quota.h"

#define QUOTA_BUCKETS	1024		/* power of two */

struct slot {
	struct slot	*next;		/* owned */
	uint8_t		 addr[16];
	unsigned	 n;
};

struct quota {
	struct slot	*bucket[QUOTA_BUCKETS];	/* owned chains */
	uint32_t	 seed;
};

struct quota *
quota_new(void)
{
	struct quota	*q = xcalloc(1, sizeof(*q));

	evutil_secure_rng_get_bytes(&q->seed, sizeof(q->seed));
	return q;
}

void
quota_free(struct quota *q)
{
	struct slot	*s, *next;
	size_t		 i;

	if (q == NULL)
		return;
	for (i = 0; i < QUOTA_BUCKETS; i++)
		for (s = q->bucket[i]; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
	free(q);
}

static const uint8_t	 v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			    0xff, 0xff };

bool
quota_key_v6(const struct quota_key *k)
{
	return memcmp(k->b, v4mapped, sizeof(v4mapped)) != 0;
}

void
quota_key(const struct sockaddr *sa, unsigned v6_prefix, struct quota_key *k)
{
	unsigned	 i;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET6) {
		memcpy(k->b, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
		if (!quota_key_v6(k) || v6_prefix >= 128)
			return;
		for (i = v6_prefix / 8; i < 16; i++)
			k->b[i] &= i == v6_prefix / 8 ?
			    (uint8_t)(0xff00 >> (v6_prefix % 8)) : 0;
	} else if (sa->sa_family == AF_INET) {
		memcpy(k->b, v4mapped, sizeof(v4mapped));
		memcpy(k->b + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	}
}

static struct slot **
find(const struct quota *q, const struct quota_key *k)
{
	uint32_t	 h = 2166136261u ^ q->seed;	/* FNV-1a, seeded */
	struct slot	**sp;
	size_t		 i;

	for (i = 0; i < 16; i++)
		h = (h ^ k->b[i]) * 16777619u;
	sp = (struct slot **)&q->bucket[h & (QUOTA_BUCKETS - 1)];
	while (*sp != NULL && memcmp((*sp)->addr, k->b, 16) != 0)
		sp = &(*sp)->next;
	return sp;
}

bool
quota_take(struct quota *q, const struct quota_key *k, unsigned max)
{
	struct slot	**sp = find(q, k);

	if (*sp == NULL) {
		if (max == 0)
			return false;
		*sp = xcalloc(1, sizeof(**sp));
		memcpy((*sp)->addr, k->b, 16);
	}
	if ((*sp)->n >= max)
		return false;
	(*sp)->n++;
	return true;
}

void
quota_give(struct quota *q, const struct quota_key *k)
{
	struct slot	**sp = find(q, k), *s;

	if ((s = *sp) == NULL)
		return;
	if (--s->n == 0) {
		*sp = s->next;
		free(s);
	}
}

unsigned
quota_held(const struct quota *q, const struct quota_key *k)
{
	struct slot	**sp = find(q, k);

	return *sp != NULL ? (*sp)->n : 0;
}
