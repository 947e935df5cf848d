/*
 * sandbox.h - what a pinshim process gives up for good once it is set up:
 * new privileges (PR_SET_NO_NEW_PRIVS) and, on Linux, the system calls no
 * part of the daemon makes (a seccomp filter).
 */
#ifndef PINSHIM_SANDBOX_H
#define PINSHIM_SANDBOX_H

#include <stddef.h>

/* Lock this process down (and every thread and child it makes later).
 * 0, or -1 with the reason in err: the caller must not go on. */
int	 sandbox_apply(char *err, size_t errsz);

#endif
