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
#include <unistd.h>

#include <sys/stat.h>

#include "base/file.h"
#include "base/mem.h"

int
file_write(const char *path, const void *buf, size_t len, unsigned mode,
    bool excl)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (excl ? O_EXCL : O_TRUNC), (mode_t)mode);
	if (fd == -1)
		return -1;
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
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return -1;
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

int
file_replace(const char *dir, const char *name, const char *buf, size_t len)
{
	char	 tmp[4096], dst[4096];
	int	 dfd, e;

	if (snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >=
	    (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* write + fsync the temp file, rename over, fsync the directory:
	 * a crash at any point leaves the old file or the new one whole. */
	if (file_write(tmp, buf, len, 0644, false) == -1 ||
	    rename(tmp, dst) == -1) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(dfd) == -1) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	return close(dfd);
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
