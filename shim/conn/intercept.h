/*
 * intercept.h - the steps forward and transparent share once the app
 * speaks TLS itself: read the name from its ClientHello (peeked, nothing
 * consumed), get the leaf for that name, dial the upstream, and once it
 * passed terminate the app's TLS with that leaf, and relay.
 */
#ifndef PINSHIM_CONN_INTERCEPT_H
#define PINSHIM_CONN_INTERCEPT_H

#include "shim/conn/conn.h"

/* A connection that intercepts: forward's and transparent's start so. */
struct icpt {
	struct conn	 c;		/* first */
	conn_step	 after_hello;	/* the SNI taken, the leaf loaded */
	bool		 app_ecdsa;	/* the app can take an ECDSA leaf */
	/* the app's records as wolfSSL reads them in the handshake, watched
	 * for a plaintext alert (intercept.c, watch_recv) */
	uint8_t		 rec_head[5];
	size_t		 rec_headlen, rec_left;
	bool		 rec_alert;	/* the record being read is one */
	size_t		 alert_got;	/* of its 2 bytes */
	bool		 app_alerted;	/* the app sent a whole alert: */
	uint8_t		 app_alert;	/* its description */
};

/* Wait for the ClientHello under the handshake timeout; its SNI becomes
 * c->host (forward: it must equal the CONNECT host), its ALPN list
 * c->alpn, offered upstream as it is. Then the leaf for c->host, cached
 * or minted (parked under the handshake timeout while the keeper's queue
 * and rate allow), loaded into c->cssl; a name that gets none is
 * refused (reason no-leaf). Then next(c), the dial; a name its policy
 * blocks goes to next(c) without a leaf, to be refused there. */
void	 intercept_hello(struct conn *, conn_step next);
/* Complete the app's handshake with c->cssl's leaf, selecting the ALPN
 * protocol the upstream selected (none if it selected none), then relay
 * to the upstream that passed. */
void	 intercept_accept(struct conn *);

#endif
