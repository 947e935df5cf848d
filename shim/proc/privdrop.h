/*
 * privdrop.h - give up root for good once the privileged work is done:
 * the worker its user, the keeper (which stays root) its capabilities.
 */
#ifndef PINSHIM_PRIVDROP_H
#define PINSHIM_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

/* Who pinshim will run as after privdrop(). */
struct runas {
	const char	*name;		/* borrowed; NULL: no [shim] user */
	uid_t		 uid;
	gid_t		 gid;		/* its only group after the drop */
};

/* Before binding: whether this process can become user (NULL: stays as
 * it is), filling who. 0, or -1 with the reason in err, so `run -t`
 * refuses exactly what privdrop() would. */
int	 privdrop_check(const char *user, struct runas *who, char *err,
	    size_t errsz);
/* After binding: become who for good (nothing to do when already who).
 * 0, or -1 after logging why. */
int	 privdrop(const struct runas *who);
/* The keeper, once it holds the CA key: give up every capability, for
 * good - the effective, permitted, inheritable and ambient sets, and the
 * bounding set when this process may change it (CAP_SETPCAP). 0, or -1
 * with the reason in err: the caller must not go on. */
int	 privdrop_caps(char *err, size_t errsz);

#endif
