/*
 * quota.h - how many connections each client holds on one listener, so
 * one client at its maximum cannot take what others need. A client is an
 * IPv4 address, or an IPv6 prefix (a /64 by default: one host is handed a
 * whole /64 and picks any address in it).
 */
#ifndef PINSHIM_SHIM_QUOTA_H
#define PINSHIM_SHIM_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct quota;
struct sockaddr;

/* Who a connection counts for: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
struct quota_key {
	uint8_t		 b[16];
};

/* A connection as its client's quota knows it, embedded in it: what a
 * full listener can evict. */
struct quota_member {
	TAILQ_ENTRY(quota_member) entry;
};

struct quota	*quota_new(void);
void		 quota_free(struct quota *);
/* sa's client: an IPv4 address (IPv4-mapped IPv6 too) whole, another IPv6
 * address cut to its first v6_prefix bits (1..128). */
void		 quota_key(const struct sockaddr *, unsigned v6_prefix,
		    struct quota_key *);
/* Whether k is an IPv6 client (cut to a prefix), not an IPv4 one. */
bool		 quota_key_v6(const struct quota_key *);
/* Count one more connection for k, unless it already holds max: then
 * false and nothing counted. m, if not NULL, is that connection, and may
 * be chosen by quota_victim until its give. */
bool		 quota_take(struct quota *, const struct quota_key *,
		    unsigned max, struct quota_member *m);
/* One connection of k ended (it must have been taken with this key and
 * this m). */
void		 quota_give(struct quota *, const struct quota_key *,
		    struct quota_member *m);
/* The connection to end so a newcomer fits: of the client holding the
 * most (tied: the one that got there first), the member whose since() is
 * the smallest, i.e. idle the longest. NULL: no member. */
struct quota_member *quota_victim(const struct quota *,
		    uint64_t (*since)(const struct quota_member *));
/* Connections k holds now. */
unsigned	 quota_held(const struct quota *, const struct quota_key *);

#endif
