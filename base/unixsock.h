/*
 * unixsock.h - a listening unix socket that root creates and hands to
 * another user without ever following a name someone else could swap.
 */
#ifndef PINSHIM_BASE_UNIXSOCK_H
#define PINSHIM_BASE_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Whether the directory of path may hold such a socket: owned by root or
 * by this process's user, and writable by nobody else (group- or
 * other-writable only with the sticky bit, where others cannot rename or
 * remove what is not theirs). 0, or -1 with the reason in err. */
int	 unixsock_check(const char *path, char *err, size_t errsz);
/* Bind and listen on path (non-blocking, close-on-exec) after that
 * check. The node is created with mode (the umask is set around bind(),
 * so there is no chmod by name afterwards), then given to uid:gid with
 * fchownat(AT_SYMLINK_NOFOLLOW) relative to the directory checked
 * ((uid_t)-1 and (gid_t)-1: left as created), then checked to still be
 * a socket. A socket left there by an earlier run is removed first;
 * anything else at path is an error. The descriptor, or -1 with the
 * reason in err. */
int	 unixsock_listen(const char *path, unsigned mode, uid_t uid,
	    gid_t gid, int backlog, char *err, size_t errsz);

#endif
