/*
 * status.h - [shim] status: /metrics (Prometheus text) and /status (JSON,
 * or text for `pinshim status`). Read only, bounded.
 */
#ifndef PINSHIM_SHIM_STATUS_H
#define PINSHIM_SHIM_STATUS_H

#include <stddef.h>

struct server;
struct status;

/* Bind [shim] status (before privileges are dropped); NULL and err when
 * it cannot. Serves once the loop runs. */
struct status	*status_open(struct server *, char *err, size_t errsz);
void		 status_free(struct status *);

#endif
