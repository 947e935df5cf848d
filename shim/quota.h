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

struct quota;
struct sockaddr;

/* Who a connection counts for: 16 bytes, IPv4 as ::ffff:a.b.c.d. */
struct quota_key {
	uint8_t		 b[16];
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
 * false and nothing counted. */
bool		 quota_take(struct quota *, const struct quota_key *,
		    unsigned max);
/* One connection of k ended (it must have been taken with this key). */
void		 quota_give(struct quota *, const struct quota_key *);
/* Connections k holds now. */
unsigned	 quota_held(const struct quota *, const struct quota_key *);

#endif
