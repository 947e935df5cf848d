/*
 * unixsock.c - a listening unix socket made by root for another user
 * (see unixsock.h): [shim] status = unix:/PATH.
 *
 * Everything after the directory check is relative to that directory's
 * descriptor, and nothing follows a link at the socket's name: the node
 * gets its mode from the umask around bind() (fchmod() on a socket
 * descriptor does not reach the node on Linux), and its owner from
 * fchownat(AT_SYMLINK_NOFOLLOW), so a link planted in its place between
 * bind() and the chown is changed itself, never its target, and is then
 * refused. The check keeps anyone but root and this user from planting
 * one at all.
 *
 * Must never: chmod or chown by name, follow a link at the socket's name,
 * or remove anything there but a socket.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/unixsock.h"

/* Where a unit test plays the attacker: between bind() and the chown. */
#ifndef UNIXSOCK_AFTER_BIND
#define UNIXSOCK_AFTER_BIND(dfd, name)	do { } while (0)
#endif

/* The descriptor of path's directory once it passes the check, name
 * pointing into path; -1 and err. */
static int
dir_open(const char *path, const char **name, char *err, size_t errsz)
{
	char		 dir[PATH_MAX];
	struct stat	 sb;
	int		 dfd = -1;

	if (path[0] != '/' || (*name = file_split(path, dir, sizeof(dir))) ==
	    NULL || **name == '\0') {
		snprintf(err, errsz, "unix:%s: not an absolute path to a file",
		    path);
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(dfd, &sb) == -1) {
		snprintf(err, errsz, "unix:%s: directory %s: %s", path, dir,
		    strerror(errno));
		goto bad;
	}
	if (sb.st_uid != 0 && sb.st_uid != geteuid()) {
		snprintf(err, errsz, "unix:%s: directory %s belongs to uid %ld, "
		    "neither root nor the user pinshim starts as: its owner "
		    "could swap the socket for a link; use a directory root "
		    "owns", path, dir, (long)sb.st_uid);
		goto bad;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb.st_mode & S_ISVTX) == 0) {
		snprintf(err, errsz, "unix:%s: directory %s is writable by %s "
		    "(mode %04o, no sticky bit): whoever can write it could "
		    "swap the socket for a link; chmod go-w it", path, dir,
		    sb.st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(sb.st_mode & 07777));
		goto bad;
	}
	return dfd;
bad:
	if (dfd != -1)
		close(dfd);
	return -1;
}

int
unixsock_check(const char *path, char *err, size_t errsz)
{
	const char	*name;
	int		 dfd;

	if ((dfd = dir_open(path, &name, err, errsz)) == -1)
		return -1;
	close(dfd);
	return 0;
}

int
unixsock_listen(const char *path, unsigned mode, uid_t uid, gid_t gid,
    int backlog, char *err, size_t errsz)
{
	struct sockaddr_un	 un;
	struct stat		 sb;
	const char		*name;
	mode_t			 old;
	int			 dfd, fd = -1, rc, e;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(un.sun_path)) {
		snprintf(err, errsz, "unix:%.*s...: longer than %zu bytes",
		    (int)sizeof(un.sun_path) - 1, path,
		    sizeof(un.sun_path) - 1);
		return -1;
	}
	memcpy(un.sun_path, path, strlen(path));
	if ((dfd = dir_open(path, &name, err, errsz)) == -1)
		return -1;
	/* a socket left by a previous run goes; nothing else does */
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISSOCK(sb.st_mode) && unlinkat(dfd, name, 0) == -1)
		goto fail;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	/* the node is born with mode: never wider, never a chmod later */
	old = umask(~(mode_t)mode & 0777);
	rc = bind(fd, (struct sockaddr *)&un, sizeof(un));
	e = errno;
	umask(old);
	errno = e;
	if (rc == -1)
		goto fail;
	UNIXSOCK_AFTER_BIND(dfd, name);
	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == -1 ||
	    fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		goto fail;
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errsz, "unix:%s: replaced by something else right "
		    "after it was created: refusing to serve it", path);
		goto bad;
	}
	if (listen(fd, backlog) == -1)
		goto fail;
	close(dfd);
	return fd;
fail:
	snprintf(err, errsz, "unix:%s: %s", path, strerror(errno));
bad:
	if (fd != -1)
		close(fd);
	close(dfd);
	return -1;
}
