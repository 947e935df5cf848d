/*
 * server.h - the process: one event loop, the resolver, the current
 * configuration and pin snapshot, the listeners and the live connections.
 */
#ifndef PINSHIM_SERVER_H
#define PINSHIM_SERVER_H

#include <sys/queue.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "../conf/conf.h"
#include "../tls/tls.h"

/* Every live connection, whatever its mode, starts with this so the
 * server can count it and stop it at exit. */
struct conn {
	TAILQ_ENTRY(conn)	 entry;
	void			(*abort)(struct conn *);
};

struct listener {
	struct server		*srv;
	struct listen_conf	*lc;		/* borrowed from srv->conf */
	struct evconnlistener	*evl;		/* owned */
	struct event		*retry;		/* owned; re-enable after EMFILE */
};

struct server {
	struct event_base	*base;		/* owned */
	struct evdns_base	*dns;		/* owned */
	struct conf		*conf;		/* owned */
	struct tls_client	*tls;		/* owned; replaced on reload */
	struct snapshot		*snap;		/* one reference owned */
	struct feed_state	*feed;		/* owned, NULL without [feed] */
	struct tls_ca		*ca;		/* owned; NULL if only tunnels */
	struct reporter		*rep;		/* owned */
	struct listener		*listeners;	/* owned */
	size_t			 nlisteners;
	struct event		*sig_term, *sig_int, *sig_hup; /* owned */
	TAILQ_HEAD(, conn)	 conns;		/* each conn owns itself */
	size_t			 nconns;
	unsigned long long	 accepted, passed, refused;
};

/* Takes ownership of conf. Returns the process exit status. */
int	 server_run(struct conf *);
void	 server_conn_add(struct server *, struct conn *);
void	 server_conn_del(struct server *, struct conn *);

/* tunnel.c, intercept.c */
void	 tunnel_accept(struct listener *, int fd, const struct sockaddr *);
void	 intercept_accept(struct listener *, int fd, const struct sockaddr *);

#endif
