/*
 * tunnel.c - mode tunnel: plain TCP in, pinned TLS out to one fixed
 * connect = host:port (stunnel-style, any protocol on top), offering the
 * listener's alpn = protocols, if any (AWS IoT's x-amzn-mqtt-ca).
 *
 * Must never: read from the client before the upstream verdict passed. A
 * refused upstream gets no application byte and sends none back; the
 * client just sees its connection closed.
 */
#include <stdio.h>

#include "base/mem.h"
#include "shim/conn/conn.h"
#include "shim/conn/front.h"

void
tunnel_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct conn	*c;

	if ((c = conn_new(l, fd, sa, sizeof(*c))) == NULL)
		return;
	/* As at accept: a reload may change the listener's connect. */
	snprintf(c->host, sizeof(c->host), "%s", l->lc->connect_host);
	c->port = l->lc->connect_port;
	if (l->lc->alpn != NULL)
		c->alpn = xstrdup(l->lc->alpn);
	conn_dial(c, NULL, conn_relay);
}
