/*
 * file.c - whole-file reads and crash-safe writes (state, feeds, keys).
 *
 * Must never: leave a half-written file under the final name, or create a
 * file with a wider mode than asked for, even for an instant.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <sys/random.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/mem.h"

/* Write all of buf to fd, fsync, close (fd is always closed); 0 or -1
 * with errno. */
static int
write_sync_close(int fd, const void *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 e;

	while (off < len) {
		if ((n = write(fd, (const char *)buf + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto bad;
	return close(fd);
bad:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int
file_write(const char *path, const void *buf, size_t len, unsigned mode,
    bool excl)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
	    (excl ? O_EXCL : O_TRUNC), (mode_t)mode);
	if (fd == -1)
		return -1;
	return write_sync_close(fd, buf, len);
}

int
file_write_key(const char *path, const void *buf, size_t len)
{
	int	 e;

	if (file_write(path, buf, len, 0600, true) == 0)
		return 0;
	e = errno;
	if (e != EEXIST)
		unlink(path);
	errno = e;
	return -1;
}

/* ".NAME.XXXXXXXX": hidden, unpredictable, and recognisably ours. */
static int
temp_name(const char *name, char *out, size_t sz)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	unsigned char	 r[8];
	char		 suffix[sizeof(r) + 1];
	size_t		 i;

	if (getentropy(r, sizeof(r)) == -1)
		return -1;
	for (i = 0; i < sizeof(r); i++)
		suffix[i] = digits[r[i] & 31];
	suffix[sizeof(r)] = '\0';
	if (snprintf(out, sz, ".%s.%s", name, suffix) >= (int)sz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Write + fsync a new file at dfd/tmp: O_EXCL and O_NOFOLLOW, so nothing
 * planted there (a symlink, a file) is ever written through. keep: its
 * permission bits exactly (else 0644 under the umask). */
static int
write_new_at(int dfd, const char *tmp, const char *buf, size_t len,
    const mode_t *keep)
{
	int	 fd, e;

	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, keep != NULL ? *keep & 0600 : 0644);
	if (fd == -1)
		return -1;
	if (keep != NULL && fchmod(fd, *keep) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return write_sync_close(fd, buf, len);
}

/* file_replace(), or file_update() when update. */
static int
replace(const char *dir, const char *name, const char *buf, size_t len,
    bool update)
{
	struct stat	 sb;
	mode_t		 keep = 0644;
	char		 tmp[512];
	int		 dfd, e;

	/* Everything relative to one open directory: a path component
	 * swapped mid-way cannot redirect the write. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (update) {
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
			goto bad;
		if (S_ISLNK(sb.st_mode)) {
			errno = ELOOP;
			goto bad;
		}
		keep = sb.st_mode & 0777;
	}
	if (temp_name(name, tmp, sizeof(tmp)) == -1)
		goto bad;
	/* write + fsync the temp file, rename over, fsync the directory:
	 * a crash at any point leaves the old file or the new one whole. */
	if (write_new_at(dfd, tmp, buf, len, update ? &keep : NULL) == -1 ||
	    renameat(dfd, tmp, dfd, name) == -1) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		errno = e;
		goto bad;
	}
	if (fsync(dfd) == -1)
		goto bad;
	return close(dfd);
bad:
	e = errno;
	close(dfd);
	errno = e;
	return -1;
}

int
file_replace(const char *dir, const char *name, const char *buf, size_t len)
{
	return replace(dir, name, buf, len, false);
}

int
file_update(const char *dir, const char *name, const char *buf, size_t len)
{
	return replace(dir, name, buf, len, true);
}

const char *
file_split(const char *path, char *dir, size_t dirsz)
{
	const char	*slash = strrchr(path, '/');
	int		 n;

	if (slash == NULL)
		n = snprintf(dir, dirsz, ".");
	else if (slash == path)
		n = snprintf(dir, dirsz, "/");
	else
		n = snprintf(dir, dirsz, "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= dirsz) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return slash != NULL ? slash + 1 : path;
}

int
file_clean_temps(const char *dir, const char *name)
{
	char		 prefix[512], old[512];
	struct dirent	*d;
	DIR		*dp;
	size_t		 plen;
	int		 removed = 0;

	snprintf(prefix, sizeof(prefix), ".%s.", name);
	snprintf(old, sizeof(old), "%s.tmp", name);	/* before 0.2 */
	plen = strlen(prefix);
	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL)
		if ((strncmp(d->d_name, prefix, plen) == 0 &&
		    strlen(d->d_name) == plen + 8) ||
		    strcmp(d->d_name, old) == 0)
			removed += unlinkat(dirfd(dp), d->d_name, 0) == 0;
	closedir(dp);
	return removed;
}

char *
file_read(const char *path, size_t max, size_t *len, FILE *errs)
{
	FILE	*f;
	char	*buf;
	size_t	 n;
	int	 e;

	if ((f = fopen(path, "rb")) == NULL) {
		e = errno;
		if (errs != NULL)
			fprintf(errs, "%s: %s\n", path, strerror(e));
		errno = e;
		return NULL;
	}
	buf = xcalloc(1, max + 1);
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		e = n > max ? EFBIG : errno;
		if (errs != NULL)
			fprintf(errs, "%s: %s\n", path, n > max ?
			    "larger than the size limit" : strerror(e));
		fclose(f);
		free(buf);
		errno = e;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

int
file_mkdirs(const char *dir, unsigned mode)
{
	char	 p[4096], *s;

	if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (s = p + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(dir, (mode_t)mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}
