/*
 * conn.h - one client connection, of any listener mode, from accept to
 * close: the fields every front end shares, the accept prologue, the
 * upstream dial with its verdict, the one refuse path, and the hand-off
 * to the relay.
 *
 * A front end (tunnel.c, forward.c, transparent.c) only adds the steps of
 * its mode. Every connection ends in exactly one of conn_refuse (a
 * verdict line with verdict=refuse, the mode's answer), conn_drop (the
 * app went away, or failed after its verdict), or the relay's end (a close
 * line) - so "one verdict line per connection" holds by structure.
 */
#ifndef PINSHIM_CONN_CONN_H
#define PINSHIM_CONN_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <event2/event.h>

#include "shim/keeper/keeper.h"
#include "shim/listen/quota.h"
#include "shim/proc/server.h"

struct conn;
typedef void (*conn_step)(struct conn *);

struct conn {
	struct live		 live;		/* first: the server's list */
	struct server		*srv;		/* borrowed */
	struct listener		*l;		/* borrowed */
	struct conf		*conf;		/* one reference owned: the
						 * configuration it started
						 * under (l's) */
	const struct listen_conf *lc;		/* borrowed from conf */
	int			 cfd;		/* owned until the relay */
	WOLFSSL			*cssl;		/* owned until the relay */
	char			 client[64];
	char			 host[HOST_MAX + 1];	/* the name checked */
	uint16_t		 port;
	struct event		*ev;		/* owned; client I/O, or NULL */
	struct event		*deadline;	/* owned; client-side timeout */
	conn_step		 on_deadline;	/* the front end's, or NULL */
	struct upstream		*up;		/* pending, or NULL */
	conn_step		 on_pass;	/* after the verdict passed */
	int			 ufd;		/* owned until the relay */
	WOLFSSL			*ussl;		/* owned until the relay */
	struct evbuffer		*pre;		/* owned; upstream-first bytes */
	bool			 up_capped;	/* after pre, the upstream gets */
	uint64_t		 up_max;	/* only up_max client bytes */
	struct relay		*relay;		/* running, or NULL */
	struct timeval		 start;
	struct sockaddr_storage	 peer;		/* the client's address */
	struct quota_key	 quota_key;	/* who it counts for */
	bool			 quota_taken;	/* counted for quota_key */
	struct quota_member	 quota_member;	/* in l->quota, when taken */
	struct keeper_wait	 kw;		/* intercept: for a leaf */
	/* owned; ALPN to offer upstream, comma-separated (the tunnel's
	 * alpn, the app's list when intercepting), or NULL */
	char			*alpn;
	/* forward: 200 sent, the app's TLS handshake waits; a refusal is
	 * then a fatal TLS alert, not an HTTP status */
	bool			 tls_answer;
};

/* The accept prologue: size bytes (a front end's struct that starts with
 * a struct conn), the common fields filled, registered with the server
 * and counted against the listener's limits as the gate (shim/listen/gate.h)
 * rules: at max_conns, the longest-idle connection of the client holding
 * the most is reset to make room. NULL: the client is at its
 * max_conns_per_client, and was refused (reason=limit). */
struct conn	*conn_new(struct listener *, int fd, const struct sockaddr *,
		    size_t size);
/* Wait for what on the client socket with fn; secs > 0 also (re)starts
 * the deadline, whose expiry calls on_deadline. */
void		 conn_wait(struct conn *, short what, event_callback_fn fn,
		    unsigned secs);
/* Peek at what the client sent, consuming nothing: the byte count; 0 for
 * nothing yet; -1 when the app went away (c is freed then). */
ssize_t		 conn_peek(struct conn *, void *buf, size_t sz);
/* Stop waiting on the client (no event, no deadline). */
void		 conn_idle(struct conn *);
/* Open the pinned upstream to host:port (at addr, if not NULL); on a pass
 * the upstream is in ufd/ussl and on_pass runs; a refusal is logged,
 * counted, reported and answered here. */
void		 conn_dial(struct conn *, const struct sockaddr_storage *addr,
		    conn_step on_pass);
/* The one refuse path: the verdict line, the answer (forward: HTTP status
 * with detail as the reason line, or a handshake_failure alert once the
 * app speaks TLS (tls_answer); 0: just close), free. */
void		 conn_refuse(struct conn *, int status, const char *reason,
		    const char *detail);
/* Free without a verdict line. */
void		 conn_drop(struct conn *);
/* Hand both ends (and pre, and up_max) to the relay; its end logs the
 * close line. */
void		 conn_relay(struct conn *);
/* The handshake_timeout of the configuration it started under. */
unsigned	 conn_timeout(const struct conn *);

#endif
