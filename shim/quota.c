/*
 * quota.c - per-address connection counts: a hash table keyed by the
 * client address (IPv4-mapped IPv6 counts as the IPv4 address), with a
 * random seed so a client cannot choose addresses that collide.
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

/* The address as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static void
key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	}
}

static struct slot **
find(const struct quota *q, const uint8_t key[16])
{
	uint32_t	 h = 2166136261u ^ q->seed;	/* FNV-1a, seeded */
	struct slot	**sp;
	size_t		 i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	sp = (struct slot **)&q->bucket[h & (QUOTA_BUCKETS - 1)];
	while (*sp != NULL && memcmp((*sp)->addr, key, 16) != 0)
		sp = &(*sp)->next;
	return sp;
}

bool
quota_take(struct quota *q, const struct sockaddr *sa, unsigned max)
{
	uint8_t		 key[16];
	struct slot	**sp;

	key_of(sa, key);
	sp = find(q, key);
	if (*sp == NULL) {
		if (max == 0)
			return false;
		*sp = xcalloc(1, sizeof(**sp));
		memcpy((*sp)->addr, key, 16);
	}
	if ((*sp)->n >= max)
		return false;
	(*sp)->n++;
	return true;
}

void
quota_give(struct quota *q, const struct sockaddr *sa)
{
	uint8_t		 key[16];
	struct slot	**sp, *s;

	key_of(sa, key);
	sp = find(q, key);
	if ((s = *sp) == NULL)
		return;
	if (--s->n == 0) {
		*sp = s->next;
		free(s);
	}
}

unsigned
quota_held(const struct quota *q, const struct sockaddr *sa)
{
	uint8_t		 key[16];
	struct slot	**sp;

	key_of(sa, key);
	sp = find(q, key);
	return *sp != NULL ? (*sp)->n : 0;
}
