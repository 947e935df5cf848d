/*
 * list.h - the one iterator for the comma lists of the configuration and
 * the feed ("sha256/A, sha256/B", "127.0.0.1/32 ::1/128", "443, 8443"):
 * items are separated by commas and blanks, empty items are skipped.
 */
#ifndef PINSHIM_BASE_LIST_H
#define PINSHIM_BASE_LIST_H

#include <stddef.h>

enum list_item {
	LIST_END,		/* no more items */
	LIST_ITEM,		/* item[] holds the next one */
	LIST_TOO_LONG,		/* the next item does not fit item[]; it is
				 * there truncated, for the error message */
};

/* *s advances past the item. item is the caller's buffer (no statics). */
enum list_item	 list_next(const char **s, char *item, size_t sz);

#endif
