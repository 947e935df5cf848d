/*
 * testutil.h - shared bits of the cmocka unit tests: the cmocka include
 * dance, the temp-dir fixture, and a few file helpers (writing and
 * reading files, running a shell command and reading its one line of
 * output).
 *
 * Everything is static inline so a test that does not use a helper does
 * not get an unused-function warning.
 */
#ifndef PINSHIM_TESTUTIL_H
#define PINSHIM_TESTUTIL_H

/* cmocka.h needs these first, in this order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fail unless needle occurs in hay; shows hay on failure. */
#define assert_contains(hay, needle) do {				\
	const char *h_ = (hay), *n_ = (needle);				\
	if (h_ == NULL || strstr(h_, n_) == NULL)			\
		fail_msg("expected \"%s\" in:\n%s", n_,			\
		    h_ ? h_ : "(null)");				\
} while (0)

#define assert_not_contains(hay, needle) do {				\
	const char *h_ = (hay), *n_ = (needle);				\
	if (h_ != NULL && strstr(h_, n_) != NULL)			\
		fail_msg("did not expect \"%s\" in:\n%s", n_, h_);	\
} while (0)

/* A fresh private directory under $TMPDIR (or /tmp); path into buf. */
static inline void
tu_mkdtemp(char *buf, size_t sz)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(buf, sz, "%s/pinshim-unit.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(buf) == NULL)
		fail_msg("mkdtemp %s failed", buf);
}

static inline int
tu_rm_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf dir */
static inline void
tu_rmrf(const char *dir)
{
	if (dir != NULL && *dir != '\0')
		nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The shared fixture of a test group that keeps files: one private
 * directory, made before the group's first test and removed with all it
 * holds after its last. Pass tu_tmpdir_setup/teardown to
 * cmocka_run_group_tests (or call them from a group's own). */
__attribute__((unused)) static char tu_tmpdir[256];

static inline int
tu_tmpdir_setup(void **state)
{
	(void)state;
	tu_mkdtemp(tu_tmpdir, sizeof(tu_tmpdir));
	return 0;
}

static inline int
tu_tmpdir_teardown(void **state)
{
	(void)state;
	tu_rmrf(tu_tmpdir);
	tu_tmpdir[0] = '\0';
	return 0;
}

/* Write text to dir/name; the full path goes into out. */
static inline void
tu_write_file(const char *dir, const char *name, const char *text,
    char *out, size_t outsz)
{
	FILE	*f;

	snprintf(out, outsz, "%s/%s", dir, name);
	if ((f = fopen(out, "w")) == NULL)
		fail_msg("cannot create %s", out);
	fputs(text, f);
	if (fclose(f) != 0)
		fail_msg("cannot write %s", out);
}

/* The whole file, malloc'd, NUL-terminated; its length in *len. */
static inline unsigned char *
tu_read_file(const char *path, size_t *len)
{
	FILE		*f = fopen(path, "rb");
	unsigned char	*buf = NULL;
	size_t		 n = 0, cap = 0, got;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap + 1)) == NULL)
				fail_msg("out of memory");
		}
		if ((got = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';		/* a text file reads as a string */
	*len = n;
	return buf;
}

/* Run a shell command; 0 if it exited 0. */
static inline int
tu_sh(const char *cmd)
{
	int	 rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

/* First line of a shell command's output, newline stripped. */
static inline void
tu_sh_line(const char *cmd, char *out, size_t sz)
{
	FILE	*p = popen(cmd, "r");

	out[0] = '\0';
	if (p == NULL)
		fail_msg("popen %s failed", cmd);
	if (fgets(out, (int)sz, p) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (pclose(p) != 0)
		fail_msg("command failed: %s", cmd);
}

#endif
