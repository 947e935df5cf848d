/*
 * strmap.h - a string-keyed hash map (to a size_t), for the duplicate
 * checks that would otherwise make loading a large feed quadratic.
 */
#ifndef PINSHIM_BASE_STRMAP_H
#define PINSHIM_BASE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;

struct strmap	*strmap_new(void);
void		 strmap_free(struct strmap *);
/* Map key (copied) to value unless key is there: then false, and *old
 * (if not NULL) is its value. Expected O(1). */
bool		 strmap_add(struct strmap *, const char *key, size_t value,
		    size_t *old);
/* The value of key in *value; false if it is not there. */
bool		 strmap_get(const struct strmap *, const char *key,
		    size_t *value);

#endif
