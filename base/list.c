/*
 * list.c - split comma/blank separated lists into items.
 *
 * Must never: write past the caller's item buffer, or hand out a
 * truncated item as if it were whole.
 */
#include <string.h>

#include "base/list.h"

#define SEPARATORS	", \t"

enum list_item
list_next(const char **s, char *item, size_t sz)
{
	size_t	 len, copy;

	*s += strspn(*s, SEPARATORS);
	if (**s == '\0' || sz == 0)
		return LIST_END;
	len = strcspn(*s, SEPARATORS);
	copy = len < sz ? len : sz - 1;
	memcpy(item, *s, copy);
	item[copy] = '\0';
	*s += len;
	return len < sz ? LIST_ITEM : LIST_TOO_LONG;
}
