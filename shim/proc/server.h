/*
 * server.h - the state of the running process that every part of the
 * daemon borrows: the event loop, the resolver, the configuration, the pin
 * snapshot and trust store in force, the listeners, and everything alive
 * that process exit must stop. Data only (plus two list helpers): the
 * process's life cycle is daemon.c, and what is in force changes only
 * through shim/proc/inforce.c, so lower modules can include this without
 * reaching up into either.
 */
#ifndef PINSHIM_SHIM_SERVER_H
#define PINSHIM_SHIM_SERVER_H

#include <sys/queue.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf/conf.h"
#include "tls/tls.h"

/* Anything that holds resources until it ends on its own (a client
 * connection, the TLS half of a web request): a stop calls stop (if set)
 * on each, exit aborts each. */
struct live {
	TAILQ_ENTRY(live)	 entry;
	void			(*abort)(struct live *);
	void			(*stop)(struct live *);	/* or NULL */
};

struct listener {
	struct server		*srv;
	struct conf		*conf;		/* one reference owned: what
						 * lc is in (srv->conf, or an
						 * older one a reload could
						 * not apply to it) */
	const struct listen_conf *lc;		/* borrowed from conf */
	const struct front	*front;		/* static: lc's mode's */
	struct evconnlistener	*evl;		/* owned */
	struct event		*retry;		/* owned; re-enable after EMFILE */
	struct quota		*quota;		/* owned; per-client counts */
	size_t			 nconns;	/* client connections held */
	unsigned long long	 accepted;	/* since start, for /metrics */
	unsigned long long	 evicted;	/* at max_conns, for a newcomer */
	unsigned long long	 bytes_up, bytes_down;	/* relayed, as they
							 * move (relay_tally) */
	unsigned		 max_conns;	/* in force (derived if unset) */
	unsigned		 max_per_client;
	bool			 fd_paused;	/* accept hit EMFILE: wait 1 s */
	bool			 accepting;	/* evl enabled */
	unsigned		 limit_logged;	/* limit lines this second */
	unsigned long		 limit_quiet;	/* limit lines not logged */
	time_t			 limit_second;
	time_t			 full_logged;	/* "at its limit", last said */
};

struct server {
	struct event_base	*base;		/* owned */
	struct evdns_base	*dns;		/* owned */
	struct conf		*conf;		/* one reference owned */
	struct tls_client	*tls;		/* one reference owned */
	struct snapshot		*snap;		/* one reference owned */
	struct feedsync		*feed;		/* owned, NULL without [feed] */
	struct tls_ca		*ca;		/* owned; NULL if only tunnels */
	struct keeper		*keeper;	/* owned; with ca, under run */
	bool			 failed;	/* the loop stopped on an error */
	struct reporter		*rep;		/* owned */
	struct status		*status;	/* owned; NULL: no [shim] status */
	struct tofu		*tofu;		/* owned; NULL without state_dir */
	struct tofusync		*tofusync;	/* owned; with tofu, under run */
	time_t			 started;	/* wall clock, for /metrics */
	struct listener		*listeners;	/* owned */
	size_t			 nlisteners;
	struct event		*sig_term, *sig_int, *sig_hup; /* owned */
	struct event		*reload;	/* owned; SIGHUPs coalesce */
	struct event		*stop;		/* owned; active: stop (a signal,
						 * the keeper's death) */
	struct event		*drain;		/* owned; stopping: runs at
						 * shutdown_timeout, or when the
						 * last connection ends */
	TAILQ_HEAD(, live)	 live;		/* each entry owns itself */
	size_t			 nlive;
	size_t			 nconns;	/* client connections, all */
	size_t			 nconns_peak;	/* since memory was trimmed */
	bool			 trim_tail;	/* a trim ran mid-burst: trim again
						 * when the count reaches 0 */
	struct event		*trim;		/* owned; gives memory back */
	struct event		*watchdog;	/* owned; NULL: none asked */
	unsigned		 max_conns;	/* fds allow this many */
	unsigned long		 nofile;	/* RLIMIT_NOFILE in force */
	unsigned long long	 accepted, passed, refused;
	unsigned long long	 would_refuse;	/* passed as enforce = no */
	/* conf->idents' certificate chains, in its order; owned,
	 * NULL-terminated (the keys are the keeper's) */
	struct tls_ident	**idents;
};


static inline void
server_live_add(struct server *srv, struct live *l)
{
	TAILQ_INSERT_TAIL(&srv->live, l, entry);
	srv->nlive++;
}

static inline void
server_live_del(struct server *srv, struct live *l)
{
	TAILQ_REMOVE(&srv->live, l, entry);
	srv->nlive--;
}

#endif
