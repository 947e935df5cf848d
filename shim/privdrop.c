/*
 * privdrop.c - switch to the configured user after binding: groups, gid,
 * uid, in that order, then prove root cannot be regained. Every failure is
 * fatal; running on as root because a step failed would be worse than not
 * running. Linux/POSIX specifics live here and nowhere else.
 *
 * Must never: carry on as root when any step failed.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "shim/privdrop.h"

int
privdrop(const char *user)
{
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_err("[shim] user %s: no such user%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		log_err("[shim] user %s: must start as root to switch user",
		    user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_err("[shim] user %s: cannot drop privileges: %s", user,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		log_err("[shim] user %s: root could be regained; aborting",
		    user);
		return -1;
	}
	log_info("running as user %s (uid %ld)", user, (long)pw->pw_uid);
	return 0;
}
