/*
 * pinset.c - the set of pins one host policy accepts.
 *
 * Membership is tested in constant time over the whole set so the timing of
 * a refusal says nothing about which pin came close.
 */
#include <stdlib.h>
#include <string.h>

#include "../shim/util.h"
#include "pin.h"

int
pinset_add(struct pinset *set, const struct pin *p)
{
	struct pin	*n;

	n = realloc(set->pins, (set->n + 1) * sizeof(*n));
	if (n == NULL)
		return -1;
	n[set->n++] = *p;
	set->pins = n;
	return 0;
}

bool
pinset_parse_list(struct pinset *set, const char *list, const char **bad)
{
	static char	 item[128];
	const char	*s = list;

	for (;;) {
		const char	*end;
		size_t		 len;
		struct pin	 p;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			return true;
		end = s + strcspn(s, ", \t");
		len = (size_t)(end - s);
		if (len >= sizeof(item))
			len = sizeof(item) - 1;
		memcpy(item, s, len);
		item[len] = '\0';
		if ((size_t)(end - s) >= sizeof(item) || !pin_parse(item, &p)) {
			*bad = item;
			return false;
		}
		if (pinset_add(set, &p) == -1) {
			*bad = "out of memory";
			return false;
		}
		s = end;
	}
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
