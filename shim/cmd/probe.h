/*
 * probe.h - `pinshim monitor`'s probes: many hosts at once, each
 * resolved, connected and handshaken (and, asked, one HTTP GET) on one
 * event loop, bounded in number and in time.
 */
#ifndef PINSHIM_CMD_PROBE_H
#define PINSHIM_CMD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "pins/policy.h"
#include "tls/tls.h"

/* What to probe. Strings and pins are borrowed until its last result. */
struct probe_task {
	const char		*host;
	uint16_t		 port;
	const struct sockaddr_storage *addr; /* connect here, no DNS; or
					 * NULL: every address host has */
	bool			 plain;		/* no TLS (http://) */
	enum policy		 policy;	/* the check, as a device's */
	const struct pinset	*pins;
	const char		*path;		/* after a pass: GET path over
						 * HTTP/1.0; NULL: none */
	size_t			 max_body;
};

/* One address probed, or the name that gave none. Valid during the
 * callback only. */
struct probe_result {
	const char		*host;
	const char		*addr;		/* "ADDR:PORT", or "-" */
	const char		*error;		/* not reached: why (resolve,
						 * connect, timeout); or NULL */
	struct tls_verdict	*v;		/* reached: the verdict (the
						 * callback may amend it); NULL
						 * for plain */
	const struct tls_check	*chk;		/* its chain */
	int			 status;	/* with path: the HTTP status */
	const char		*body;		/* status 200: the body */
	size_t			 bodylen;
};

typedef void	(*probe_cb)(struct probe_result *, void *arg);

struct probe_pool;

/* At most parallel resolutions and connections at a time; each one at
 * most timeout seconds (a name's resolution; an address's connect,
 * handshake and request together). */
struct probe_pool *probe_pool_new(struct event_base *, struct evdns_base *,
		    struct tls_client *, unsigned parallel, unsigned timeout);
/* Queue a task: cb runs once per address (or once for a name that has
 * none), never from inside this call. */
void		 probe_pool_add(struct probe_pool *, const struct probe_task *,
		    probe_cb cb, void *arg);
/* Run the loop until every task queued has ended, or it is broken (a
 * signal). true if all ended. */
bool		 probe_pool_run(struct probe_pool *);
/* Abandons whatever still runs; no callback after it. */
void		 probe_pool_free(struct probe_pool *);

#endif
