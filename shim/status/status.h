/*
 * status.h - [shim] status: /metrics (Prometheus text) and /status (JSON,
 * or text for `pinshim status`). Read only, bounded.
 */
#ifndef PINSHIM_SHIM_STATUS_H
#define PINSHIM_SHIM_STATUS_H

#include <stddef.h>
#include <sys/types.h>

struct conf;
struct server;
struct status;

/* What status_open() will refuse before binding: a unix socket's
 * directory that others could write (`run -t` says so too). 0, or -1
 * and err. */
int		 status_check(const struct conf *, char *err, size_t errsz);
/* Bind [shim] status (before privileges are dropped); a unix socket is
 * handed to uid:gid ((uid_t)-1, (gid_t)-1: left to this user). NULL and
 * err when it cannot. Serves once the loop runs. */
struct status	*status_open(struct server *, uid_t uid, gid_t gid, char *err,
		    size_t errsz);
void		 status_free(struct status *);

#endif
