/*
 * tunnel.c - mode tunnel: plain TCP in, pinned TLS out to one fixed
 * connect = host:port (stunnel-style, any protocol on top).
 *
 * The client is not read from until the upstream verdict has passed, so a
 * refused upstream gets no application byte and sends none back; the client
 * just sees its connection closed. One verdict line per connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

struct tunnel {
	struct conn		 conn;		/* first: server's list */
	struct server		*srv;
	struct listener		*l;
	int			 cfd;		/* owned until the relay */
	char			 client[64];
	char			 host[HOST_MAX + 1];	/* as at accept: a */
	uint16_t		 port;			/* reload may change lc */
	struct upstream		*up;		/* pending, or NULL */
	struct relay		*relay;		/* running, or NULL */
	struct timeval		 start;
};

static void
tunnel_free(struct tunnel *t)
{
	server_conn_del(t->srv, &t->conn);
	if (t->cfd != -1)
		close(t->cfd);
	free(t);
}

static void
tunnel_relay_done(void *arg, const char *how, int failed, uint64_t up,
    uint64_t down)
{
	struct tunnel	*t = arg;

	relay_log_close(t->l->lc->name, t->client, t->host, t->port, how,
	    failed, up, down, &t->start);
	t->relay = NULL;
	t->cfd = -1;		/* the relay closed it */
	tunnel_free(t);
}

static void
tunnel_upstream_done(struct upstream_result *r, void *arg)
{
	struct tunnel	*t = arg;
	struct listen_conf *lc = t->l->lc;

	t->up = NULL;
	upstream_log(t->srv, r, lc->name, t->client, t->host, t->port);
	if (r->fail != UP_OK) {
		t->srv->refused++;
		tunnel_free(t);
		return;
	}
	t->srv->passed++;
	t->relay = relay_start(t->srv->base, t->cfd, NULL, r->fd, r->ssl,
	    tunnel_relay_done, t);
	t->cfd = -1;
}

static void
tunnel_abort(struct conn *c)
{
	struct tunnel	*t = (struct tunnel *)c;

	if (t->up != NULL) {
		upstream_cancel(t->up);
		t->up = NULL;
	}
	if (t->relay != NULL)
		relay_abort(t->relay);	/* frees t through the callback */
	else
		tunnel_free(t);
}

void
tunnel_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct tunnel	*t = xcalloc(1, sizeof(*t));

	t->srv = l->srv;
	t->l = l;
	t->cfd = fd;
	t->conn.abort = tunnel_abort;
	gettimeofday(&t->start, NULL);
	sockaddr_format(sa, t->client, sizeof(t->client));
	server_conn_add(t->srv, &t->conn);
	snprintf(t->host, sizeof(t->host), "%s", l->lc->connect_host);
	t->port = l->lc->connect_port;
	t->up = upstream_open(t->srv, t->host, t->port, NULL,
	    tunnel_upstream_done, t);
}
