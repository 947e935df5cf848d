/*
 * quota.h - how many connections each client address holds on one
 * listener, so one client at its maximum cannot take what others need.
 */
#ifndef PINSHIM_SHIM_QUOTA_H
#define PINSHIM_SHIM_QUOTA_H

#include <stdbool.h>
#include <stddef.h>

struct quota;
struct sockaddr;

struct quota	*quota_new(void);
void		 quota_free(struct quota *);
/* Count one more connection for sa's address, unless it already holds
 * max: then false and nothing counted. */
bool		 quota_take(struct quota *, const struct sockaddr *,
		    unsigned max);
/* One connection of sa's address ended (it must have been taken). */
void		 quota_give(struct quota *, const struct sockaddr *);
/* Connections sa's address holds now. */
unsigned	 quota_held(const struct quota *, const struct sockaddr *);

#endif
