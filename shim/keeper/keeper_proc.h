/*
 * keeper_proc.h - the keeper process (keeper_proc.c), as the worker's
 * client (keeper_client.c) starts and reaps it.
 */
#ifndef PINSHIM_SHIM_KEEPER_PROC_H
#define PINSHIM_SHIM_KEEPER_PROC_H

#include <stddef.h>
#include <sys/types.h>

struct conf;

/* Fork the keeper for c and wait (bounded) until it is ready: 0 with the
 * worker's ends of its three socketpairs (mints, saves and TOFU,
 * handshake signatures) in fds and its pid; or -1 with err (the keeper
 * said why, or died). */
int	 keeper_spawn(const struct conf *c, int fds[3], pid_t *pid,
	    char *err, size_t errsz);
/* Wait a little for a keeper whose channel was closed to exit. */
void	 keeper_reap(pid_t);

#endif
