/*
 * front.c - the table of front ends by listener mode: what the listener
 * dispatches an accepted client through, so a new mode is a front end
 * and one row here, and listener.c names none of them.
 *
 * Must never: give a mode another mode's front end (a tunnel client
 * served as a forward proxy, or the reverse), or one when it has none:
 * front_for then returns NULL and the listener is not bound.
 */
#include <stddef.h>

#include "shim/conn/front.h"

static const struct front fronts[] = {
	{ MODE_TUNNEL,		tunnel_accept },
	{ MODE_FORWARD,		forward_accept },
	{ MODE_TRANSPARENT,	transparent_accept },
};

const struct front *
front_for(enum listen_mode mode)
{
	size_t	 i;

	for (i = 0; i < sizeof(fronts) / sizeof(fronts[0]); i++)
		if (fronts[i].mode == mode)
			return &fronts[i];
	return NULL;
}
