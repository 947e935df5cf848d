/*
 * dial.h - connect to one of a name's addresses the RFC 8305 way ("Happy
 * Eyeballs"): families interleaved, IPv6 first; the next attempt starts
 * DIAL_STAGGER_MS after the previous one while that one is still pending,
 * or at once when it fails; the first to connect wins and the others are
 * closed; one timeout bounds the whole race. Addresses that failed lately
 * (a small bounded memory, one per process) are tried last.
 */
#ifndef PINSHIM_NET_DIAL_H
#define PINSHIM_NET_DIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#define DIAL_ADDRS_MAX		16	/* addresses one race takes */
#define DIAL_STAGGER_MS		250	/* RFC 8305 Connection Attempt Delay */
#define DIAL_MEMORY_MAX		256	/* failed addresses remembered */
#define DIAL_MEMORY_TTL		600	/* seconds one is remembered */

enum dial_fail {
	DIAL_OK = 0,
	DIAL_FAILED,		/* every address refused or unreachable */
	DIAL_TIMEOUT,		/* none connected within the timeout */
	DIAL_RESOURCE,		/* no socket here: descriptors, memory */
};

struct dial_result {
	enum dial_fail	 fail;
	int		 fd;		/* DIAL_OK: connected, non-blocking,
					 * sock_relay_options set; the
					 * callback's to keep or close */
	char		 addr[64];	/* the winner ("[::1]:443"), or "" */
	char		 detail[512];	/* "ADDR: why; ADDR: why" */
	unsigned	 attempts;	/* connects started: */
	unsigned	 failed;	/* of them, failed (or slower) */
	unsigned	 abandoned;	/* started after the winner */
	unsigned long	 ms;		/* from dial_start to the result */
};

struct dial;
typedef void (*dial_cb)(struct dial_result *, void *arg);

/* Race addrs[0..n) (at most DIAL_ADDRS_MAX are used) for timeout_s
 * seconds; host names the race in debug lines. cb runs exactly once,
 * never from inside this call, unless dial_cancel() comes first. */
struct dial	*dial_start(struct event_base *, const char *host,
		    const struct sockaddr_storage *addrs, size_t n,
		    unsigned long timeout_s, dial_cb cb, void *arg);
/* Abandon a race: its sockets are closed, cb will not run. */
void		 dial_cancel(struct dial *);

/* The order a race tries addrs in (rewritten in place): the ones not
 * failed lately first, then the others; each group's families
 * interleaved, IPv6 first. */
void		 dial_order(struct sockaddr_storage *addrs, size_t n,
		    time_t now);
/* The memory: an address (and port) that failed, or connected. Times
 * are CLOCK_MONOTONIC seconds. Full, the entry that expires first goes. */
void		 dial_note_failed(const struct sockaddr *, time_t now);
void		 dial_note_connected(const struct sockaddr *);
bool		 dial_failed_lately(const struct sockaddr *, time_t now);
void		 dial_memory_clear(void);

#endif
