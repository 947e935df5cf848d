/*
 * privdrop.c - switch to the configured user after binding: groups, gid,
 * uid, in that order, then prove root cannot be regained. Every failure is
 * fatal; running on as root because a step failed would be worse than not
 * running. Linux/POSIX specifics live here and nowhere else.
 *
 * The keeper stays root (it reads the CA key and writes state_dir, both
 * root's) but needs no capability after it has read the key: state_dir is
 * written through its owner's permissions, which uid 0 has without
 * CAP_DAC_OVERRIDE (daemon.c refuses a state_dir it could not write so).
 * So it drops them all, and a keeper taken over cannot bind, trace, load
 * modules, override file permissions or change its uid.
 *
 * Must never: carry on as root when any step failed, or carry on with a
 * capability the drop was meant to remove.
 */
#include <errno.h>
#include <stdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#endif

#include "base/log.h"
#include "shim/proc/privdrop.h"

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

#if defined(__linux__)

/* capget(2)/capset(2) straight from the kernel: glibc declares neither,
 * and libcap would be a dependency for these two calls. */
static int
caps_get(struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct	 h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	memset(d, 0, sizeof(*d) * _LINUX_CAPABILITY_U32S_3);
	return (int)syscall(SYS_capget, &h, d);
}

int
privdrop_caps(char *err, size_t errsz)
{
	struct __user_cap_header_struct	 h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct	 d[_LINUX_CAPABILITY_U32S_3];
	const char			*step = "capget";
	int				 cap, i;

	if (caps_get(d) == -1)
		goto bad;
	/* The bounding set caps what an execve could grant (execve is denied
	 * by the sandbox too). Changing it takes CAP_SETPCAP: without it (the
	 * systemd unit's bounding set lacks it) it stays as it was given. */
	step = "PR_CAPBSET_DROP";
	if (d[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP))
		for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1)
				goto bad;
	/* EINVAL: a kernel before ambient capabilities (4.3), none to clear */
	step = "PR_CAP_AMBIENT_CLEAR_ALL";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		goto bad;
	step = "capset";
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) == -1)
		goto bad;
	/* prove it, as privdrop() proves root is gone */
	step = "capget";
	if (caps_get(d) == -1)
		goto bad;
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective != 0 || d[i].permitted != 0 ||
		    d[i].inheritable != 0) {
			snprintf(err, errsz, "keeper: capabilities still held "
			    "after capset; not going on");
			return -1;
		}
	return 0;
bad:
	snprintf(err, errsz, "keeper: cannot drop its capabilities: %s: %s",
	    step, strerror(errno));
	return -1;
}

#else	/* no capabilities to drop */

int
privdrop_caps(char *err, size_t errsz)
{
	(void)err;
	(void)errsz;
	return 0;
}

#endif
