/*
 * pinset.c - the set of pins one host policy accepts.
 *
 * Membership is tested in constant time over the whole set so the timing of
 * a refusal says nothing about which pin came close.
 *
 * Must never: let the time of a check depend on which pin matched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "base/mem.h"
#include "pins/pin.h"

void
pinset_add(struct pinset *set, const struct pin *p)
{
	set->pins = xreallocarray(set->pins, set->n + 1, sizeof(*set->pins));
	set->pins[set->n++] = *p;
}

bool
pinset_parse_list(struct pinset *set, const char *list, char *bad,
    size_t badsz)
{
	char		 item[128];	/* longer than any pin: shown in errors */
	enum list_item	 r;
	struct pin	 p;

	while ((r = list_next(&list, item, sizeof(item))) != LIST_END) {
		if (r == LIST_TOO_LONG || !pin_parse(item, &p)) {
			snprintf(bad, badsz, "%s", item);
			return false;
		}
		pinset_add(set, &p);
	}
	return true;
}

bool
pinset_contains(const struct pinset *set, const struct pin *p)
{
	unsigned	 found = 0;
	size_t		 i, j;

	for (i = 0; set != NULL && i < set->n; i++) {
		unsigned diff = 0;

		for (j = 0; j < PIN_HASH_LEN; j++)
			diff |= set->pins[i].hash[j] ^ p->hash[j];
		found |= (diff == 0);
	}
	return found != 0;
}

void
pinset_free(struct pinset *set)
{
	if (set == NULL)
		return;
	free(set->pins);
	set->pins = NULL;
	set->n = 0;
}
