/*
 * mem.c - allocation that cannot silently fail (see mem.h for why).
 *
 * Must never: return NULL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static void
oom(void)
{
	static const char msg[] = "pinshim: out of memory\n";

	fputs(msg, stderr);
	abort();
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	size_t	 bytes;

	if (size != 0 && n > SIZE_MAX / size)
		oom();
	bytes = n * size;
	if ((p = realloc(p, bytes != 0 ? bytes : 1)) == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

void *
xmemdup(const void *p, size_t len)
{
	char	*d = xcalloc(1, len + 1);

	memcpy(d, p, len);
	return d;
}

void *
xptr(void *p)
{
	if (p == NULL)
		oom();
	return p;
}
