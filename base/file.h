/*
 * file.h - whole-file reads and crash-safe writes for state and keys.
 *
 * Every write is fsynced before it counts; replacing a file goes through a
 * temporary file and rename, so a crash leaves the old file or the new one,
 * never a mix. Returns 0 or -1 with errno.
 */
#ifndef PINSHIM_BASE_FILE_H
#define PINSHIM_BASE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Write a whole file, created with mode (never wider, even briefly) and
 * fsynced; excl: fail if it exists. */
int	 file_write(const char *path, const void *buf, size_t len,
	    unsigned mode, bool excl);
/* A new private key file: 0600 from creation, never over an existing one,
 * and no half-written file left behind on failure (errno kept). */
int	 file_write_key(const char *path, const void *buf, size_t len);
/* Replace dir/name: a new temp file (unpredictable name, O_EXCL and
 * O_NOFOLLOW, relative to the open directory), fsync, rename, fsync of
 * the directory. */
int	 file_replace(const char *dir, const char *name, const char *buf,
	    size_t len);
/* Edit dir/name in place, as file_replace() does, keeping its permission
 * bits. -1 with ELOOP when name is a symbolic link: the rename would turn
 * the link into a plain file and leave its target as it was. */
int	 file_update(const char *dir, const char *name, const char *buf,
	    size_t len);
/* Remove what an interrupted file_replace(dir, name) left behind; the
 * number removed, or -1. */
int	 file_clean_temps(const char *dir, const char *name);
/* path's directory into dir ("." for a bare name, "/" at the root); its
 * last component ("" when path ends in '/'), or NULL and ENAMETOOLONG
 * when dir is too small. */
const char *file_split(const char *path, char *dir, size_t dirsz);
/* mkdir -p: missing parents 0755, dir itself with mode; an existing
 * directory is fine. */
int	 file_mkdirs(const char *dir, unsigned mode);
/* The whole file (NUL-terminated, at most max bytes) or NULL; errors go
 * to errs when it is not NULL, errno is kept. */
char	*file_read(const char *path, size_t max, size_t *len, FILE *errs);

#endif
