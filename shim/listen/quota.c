/*
 * quota.c - per-client connection counts: a hash table keyed by the
 * client (an IPv4 address, IPv4-mapped IPv6 included, or an IPv6 prefix:
 * counting single IPv6 addresses would let one host with its /64 open
 * max_conns_per_client connections from each of 2^64 addresses), with a
 * random seed so a client cannot choose keys that collide. The connection
 * keeps the key it took, so a reload that changes the prefix cannot make
 * a give miss its take.
 *
 * It also knows who holds the most: clients sit in one list per count
 * (held[n]), so the heaviest is found in O(1) when a full listener evicts
 * for a newcomer (quota_victim); only that client's own connections are
 * then compared, at most max_conns_per_client of them.
 *
 * Must never: let counts drift (every take has its give), or cost more
 * than O(1) expected per connection; entries go when their count is 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "base/mem.h"
#include "shim/listen/quota.h"

#define QUOTA_BUCKETS	1024		/* power of two */

struct slot {
	struct slot	*next;		/* owned */
	TAILQ_ENTRY(slot) by_n;		/* in held[n] */
	TAILQ_HEAD(, quota_member) members; /* borrowed: the connections */
	uint8_t		 addr[16];
	unsigned	 n;
};

TAILQ_HEAD(slots, slot);

struct quota {
	struct slot	*bucket[QUOTA_BUCKETS];	/* owned chains */
	struct slots	*held;		/* owned; held[n]: the clients
					 * holding n connections, oldest
					 * first. One array, grown by
					 * doubling: a small allocation per
					 * count, made while connections
					 * are, would pin their heap pages
					 * after a burst */
	unsigned	 nheld;		/* held's length */
	unsigned	 top;		/* the most one client holds; 0: none */
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
	free(q->held);
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

/* Move s from held[s->n] to held[n]; 0 is no list. */
static void
move(struct quota *q, struct slot *s, unsigned n)
{
	unsigned	 i;

	if (s->n > 0)
		TAILQ_REMOVE(&q->held[s->n], s, by_n);
	if (n >= q->nheld) {
		unsigned	 want = q->nheld ? q->nheld * 2 : 16;

		if (want <= n)
			want = n + 1;
		q->held = xreallocarray(q->held, want, sizeof(*q->held));
		/* the heads moved: what pointed at them follows */
		for (i = 0; i < q->nheld; i++)
			if (TAILQ_EMPTY(&q->held[i]))
				TAILQ_INIT(&q->held[i]);
			else
				TAILQ_FIRST(&q->held[i])->by_n.tqe_prev =
				    &TAILQ_FIRST(&q->held[i]);
		for (; i < want; i++)
			TAILQ_INIT(&q->held[i]);
		q->nheld = want;
	}
	if (n > 0)
		TAILQ_INSERT_TAIL(&q->held[n], s, by_n);
	s->n = n;
	/* counts move by one: the top moves by one at most */
	if (n > q->top)
		q->top = n;
	while (q->top > 0 && TAILQ_EMPTY(&q->held[q->top]))
		q->top--;
}

bool
quota_take(struct quota *q, const struct quota_key *k, unsigned max,
    struct quota_member *m)
{
	struct slot	**sp = find(q, k);

	if (*sp == NULL) {
		if (max == 0)
			return false;
		*sp = xcalloc(1, sizeof(**sp));
		memcpy((*sp)->addr, k->b, 16);
		TAILQ_INIT(&(*sp)->members);
	}
	if ((*sp)->n >= max)
		return false;
	move(q, *sp, (*sp)->n + 1);
	if (m != NULL)
		TAILQ_INSERT_TAIL(&(*sp)->members, m, entry);
	return true;
}

void
quota_give(struct quota *q, const struct quota_key *k,
    struct quota_member *m)
{
	struct slot	**sp = find(q, k), *s;

	if ((s = *sp) == NULL)
		return;
	if (m != NULL)
		TAILQ_REMOVE(&s->members, m, entry);
	move(q, s, s->n - 1);
	if (s->n == 0) {
		*sp = s->next;
		free(s);
	}
}

struct quota_member *
quota_victim(const struct quota *q,
    uint64_t (*since)(const struct quota_member *))
{
	struct quota_member	*m, *best = NULL;
	struct slot		*s;
	uint64_t		 t, oldest = 0;

	/* Of the clients tied at the top, the one there longest: a client
	 * that just caught up is not the one parked on the listener. */
	if (q->top == 0)
		return NULL;
	TAILQ_FOREACH(s, &q->held[q->top], by_n) {
		TAILQ_FOREACH(m, &s->members, entry) {
			t = since(m);
			if (best == NULL || t < oldest) {
				best = m;
				oldest = t;
			}
		}
		if (best != NULL)
			return best;
	}
	return NULL;
}

unsigned
quota_held(const struct quota *q, const struct quota_key *k)
{
	struct slot	**sp = find(q, k);

	return *sp != NULL ? (*sp)->n : 0;
}
