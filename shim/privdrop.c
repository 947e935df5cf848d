/*
 * privdrop.c - switch to the configured user after binding: groups, gid,
 * uid, in that order, then prove root cannot be regained. Every failure is
 * fatal; running on as root because a step failed would be worse than not
 * running. Linux/POSIX specifics live here and nowhere else.
 *
 * Must never: carry on as root when any step failed.
 */
#include <errno.h>
#include <stdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "shim/privdrop.h"

/* A static build has no NSS modules to load (and glibc warns that
 * getpwnam would need them at run time): read /etc/passwd itself. */
static struct passwd *
lookup(const char *user)
{
#ifdef PINSHIM_STATIC
	struct passwd	*pw;
	FILE		*f = fopen("/etc/passwd", "re");

	if (f == NULL)
		return NULL;
	while ((pw = fgetpwent(f)) != NULL && strcmp(pw->pw_name, user) != 0)
		;
	fclose(f);	/* pw points into static storage, not into f */
	errno = 0;
	return pw;
#else
	return getpwnam(user);
#endif
}

int
privdrop_check(const char *user, struct runas *who, char *err, size_t errsz)
{
	struct passwd	*pw;

	memset(who, 0, sizeof(*who));
	if (user == NULL)
		return 0;
	errno = 0;
	if ((pw = lookup(user)) == NULL) {
		snprintf(err, errsz, "[shim] user %s: no such user%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errsz, "[shim] user %s: is root; root could be "
		    "regained, which is no drop at all", user);
		return -1;
	}
	if (geteuid() != 0 && geteuid() != pw->pw_uid) {
		snprintf(err, errsz, "[shim] user %s: must start as root to "
		    "switch user", user);
		return -1;
	}
	who->name = user;
	who->uid = pw->pw_uid;
	who->gid = pw->pw_gid;
	return 0;
}

int
privdrop(const struct runas *who)
{
	if (who->name == NULL || geteuid() == who->uid)
		return 0;
	if (setgroups(1, &who->gid) == -1 ||
	    setresgid(who->gid, who->gid, who->gid) == -1 ||
	    setresuid(who->uid, who->uid, who->uid) == -1) {
		log_err("[shim] user %s: cannot drop privileges: %s",
		    who->name, strerror(errno));
		return -1;
	}
	if (setuid(0) != -1 || seteuid(0) != -1) {
		log_err("[shim] user %s: root could be regained; aborting",
		    who->name);
		return -1;
	}
	log_info("running as user %s (uid %ld)", who->name, (long)who->uid);
	return 0;
}
