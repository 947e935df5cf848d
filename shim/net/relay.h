/*
 * relay.h - bidirectional, back-pressured byte relay between two ends.
 */
#ifndef PINSHIM_NET_RELAY_H
#define PINSHIM_NET_RELAY_H

#include <stdint.h>
#include <sys/time.h>

#include <event2/event.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define RELAY_CLIENT	0
#define RELAY_UPSTREAM	1

struct relay;
struct evbuffer;

/* how: "closed" or what failed; failed: the end that failed, or -1.
 * up/down: bytes delivered client->upstream and upstream->client. */
typedef void (*relay_done_cb)(void *arg, const char *how, int failed,
    uint64_t up, uint64_t down);

/* Takes ownership of both fds and sessions (either ssl may be NULL).
 * done runs exactly once, never from inside relay_start. */
struct relay	*relay_start(struct event_base *, int cfd, WOLFSSL *cssl,
		    int ufd, WOLFSSL *ussl, relay_done_cb done, void *arg);
/* A relay between the TLS session ssl on fd and one end of a new
 * socketpair, so code that speaks plain bytes (remote/httpc.c) can use
 * the other end: that end (the caller's), or -1 with errno, fd and ssl
 * left to the caller then. *rp is the relay, owning fd and ssl. */
int		 relay_socketpair(struct event_base *, int fd, WOLFSSL *ssl,
		    relay_done_cb done, void *arg, struct relay **rp);
/* End now with a reset on both ends (how: for done), never an orderly
 * close: the streams were not finished. */
void		 relay_abort(struct relay *, const char *how);
/* Pass an upstream's FIN without close_notify on to the client as a FIN
 * (HTTP/1.0-style servers that end a body by closing), instead of the
 * default reset. */
void		 relay_keep_fin(struct relay *);
/* When a byte last moved either way (gettimeofday), or the relay
 * started. */
void		 relay_last_active(const struct relay *, struct timeval *);
/* End the relay ("idle timeout") after secs without a byte either way;
 * 0: never. */
void		 relay_idle(struct relay *, struct event_base *, unsigned secs);
/* Add the bytes relayed each way to *up and *down as they move (a
 * listener's counters, so a scrape sees a long transfer advance); both
 * must outlive the relay. done's up and down are counted in them too. */
void		 relay_tally(struct relay *, unsigned long long *up,
		    unsigned long long *down);
/* Queue bytes for the upstream before anything the client sends. */
void		 relay_prime(struct relay *, struct evbuffer *);
/* Of what the client sends from now on, deliver only the first n bytes
 * to the upstream; read and drop the rest until the client closes. */
void		 relay_cap_up(struct relay *, uint64_t n);
const char	*relay_end_name(int);

#endif
