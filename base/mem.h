/*
 * mem.h - pinshim's one out-of-memory policy: allocation never fails
 * silently. Every allocation in the tree goes through these helpers (or
 * hands a library constructor's result to xptr), which abort loudly on
 * failure, so no caller carries a half-built object or an ignored error.
 *
 * Why abort: a daemon this size that cannot get a few hundred bytes is
 * broken beyond recovery, and limping on could mean a connection that
 * skipped a check. The service manager restarts it.
 */
#ifndef PINSHIM_BASE_MEM_H
#define PINSHIM_BASE_MEM_H

#include <stddef.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

void	*xcalloc(size_t n, size_t size);
/* realloc for n elements of size, overflow-checked; p may be NULL. */
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
void	*xmemdup(const void *p, size_t len);	/* len bytes + a NUL */
/* A library constructor's result (event_new, evbuffer_new, ...). */
void	*xptr(void *p);

#endif
