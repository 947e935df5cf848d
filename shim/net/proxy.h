/*
 * proxy.h - the HTTP CONNECT exchange with an upstream proxy, on a socket
 * already connected to it: ask for a tunnel to host:port, read the
 * proxy's answer head, and leave the socket at the first byte after it,
 * ready for TLS to the target end to end.
 */
#ifndef PINSHIM_NET_PROXY_H
#define PINSHIM_NET_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "shim/net/http1.h"

#define PROXY_HEAD_MAX	8192	/* the longest answer head read */

struct proxy_xchg;

/* reason NULL: the tunnel is open. Otherwise a stable token
 * ("proxy-refused": the proxy answered and was not 200; "proxy-failed":
 * no usable answer) and a printable detail naming the proxy. */
typedef void (*proxy_cb)(const char *reason, const char *detail,
    void *arg);

/* "CONNECT host:port HTTP/1.1" with Host:, and Proxy-Authorization:
 * Basic auth when auth (base64 of user:password) is not NULL. The length
 * written, or 0 if it does not fit in sz. */
size_t		 proxy_request(char *buf, size_t sz, const char *host,
		    uint16_t port, const char *auth);
/* The proxy's answer head in buf: HTTP1_OK with *status, *headlen (the
 * bytes of the head, after which the tunnel's bytes begin) and its status
 * line, made printable, in line; HTTP1_MORE; HTTP1_BAD with *why. */
enum http1_result proxy_answer(const void *buf, size_t len, int *status,
		    size_t *headlen, char *line, size_t linesz,
		    const char **why);

/* Speak CONNECT on fd (borrowed; connected to the proxy named by name,
 * "HOST:PORT", for messages) under a deadline of timeout seconds. cb
 * runs exactly once, never from inside this call; the exchange is freed
 * before it runs. */
struct proxy_xchg *proxy_start(struct event_base *, int fd, const char *name,
		    const char *host, uint16_t port, const char *auth,
		    unsigned long timeout, proxy_cb cb, void *arg);
/* Abandon an exchange in progress; cb will not run. NULL is a no-op. */
void		 proxy_cancel(struct proxy_xchg *);

#endif
