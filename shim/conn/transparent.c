/*
 * transparent.c - mode transparent: a firewall REDIRECT sent the app
 * here. The destination comes from SO_ORIGINAL_DST and the name from the
 * ClientHello's SNI, peeked without consuming it (no SNI: the address's
 * policy decides); pinshim connects to that address, never to what DNS
 * says, then intercepts.
 *
 * Must never: serve a client outside allow, or follow a connection that
 * was not redirected (its "original" destination is pinshim itself).
 */
#include <errno.h>
#include <string.h>

#include "base/addr.h"
#include "shim/conn/front.h"
#include "shim/conn/intercept.h"
#include "shim/listen/gate.h"
#include "shim/net/origdst.h"

struct tproxy {
	struct icpt		 i;		/* first */
	struct sockaddr_storage	 orig;		/* where the app was going */
};

static void
transparent_dial(struct conn *c)
{
	conn_dial(c, &((struct tproxy *)c)->orig, intercept_accept);
}

/* The app connected to the listener itself: following the "original"
 * destination would loop. */
static bool
redirected(int fd, const struct sockaddr_storage *orig)
{
	struct sockaddr_storage	 self;
	socklen_t		 slen = sizeof(self);
	char			 a[64], b[64];

	if (getsockname(fd, (struct sockaddr *)&self, &slen) != 0)
		return true;
	sockaddr_format((struct sockaddr *)&self, a, sizeof(a));
	sockaddr_format((const struct sockaddr *)orig, b, sizeof(b));
	return strcmp(a, b) != 0;
}

void
transparent_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct tproxy	*t;
	struct conn	*c;
	socklen_t	 olen;

	if ((c = conn_new(l, fd, sa, sizeof(*t))) == NULL)
		return;
	t = (struct tproxy *)c;
	if (!gate_allowed(c->lc, sa)) {
		conn_refuse(c, 0, "client-not-allowed", "client address not "
		    "in allow");
		return;
	}
	if (origdst_get(fd, &t->orig, &olen) == -1) {
		conn_refuse(c, 0, "no-original-destination", strerror(errno));
		return;
	}
	if (!redirected(fd, &t->orig)) {
		conn_refuse(c, 0, "not-redirected", "connected to the "
		    "transparent listener directly; only firewall-redirected "
		    "traffic is served");
		return;
	}
	/* until the SNI says otherwise, the name is the bare address */
	sockaddr_host((struct sockaddr *)&t->orig, c->host, sizeof(c->host));
	c->port = sockaddr_port((struct sockaddr *)&t->orig);
	intercept_hello(c, transparent_dial);
}
