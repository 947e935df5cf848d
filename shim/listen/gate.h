/*
 * gate.h - the listener gate: who may take a place on a listener (its
 * allow, max_conns with room made for a newcomer, the per-client quota)
 * and whether a listener accepts at all (the process's descriptor budget,
 * an EMFILE pause). The rules are pure functions over values, so they
 * are unit-tested without a loop; gate_apply turns them into enabled and
 * disabled listeners.
 */
#ifndef PINSHIM_SHIM_GATE_H
#define PINSHIM_SHIM_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct listen_conf;
struct listener;
struct server;
struct sockaddr;

/* What a newcomer gets. */
enum gate_verdict {
	GATE_ADMIT,		/* take a place (a client outside allow is
				 * then refused by its front end) */
	GATE_EVICT,		/* first end the longest-idle connection of
				 * the client holding the most, then admit */
	GATE_REFUSE,		/* at max_conns_per_client: refuse, evict
				 * nobody (reason=limit) */
};

/* A newcomer, as the gate sees it. */
struct gate_ask {
	size_t		 nconns;	/* connections the listener holds */
	unsigned	 max_conns;	/* the listener's, in force */
	unsigned	 held;		/* the newcomer's client holds */
	unsigned	 max_per_client;
	bool		 allowed;	/* in allow, or the mode has none */
};

/* The limits in force for lc when the descriptors allow cap connections:
 * what the INI says, within cap; max_conns unset is cap up to a default,
 * max_conns_per_client unset is max_conns / 8 within [1, a default]. */
void		 gate_limits(const struct listen_conf *, unsigned cap,
		    unsigned *max_conns, unsigned *max_per_client);
/* Whether sa is in lc's allow (an empty allow holds nobody). */
bool		 gate_allowed(const struct listen_conf *,
		    const struct sockaddr *);
/* The verdict on a newcomer: only one that will be served makes room. */
enum gate_verdict gate_admit(const struct gate_ask *);
/* Whether a listener should accept: not in an EMFILE pause, and the
 * process below the connections its descriptors allow. A listener at its
 * own max_conns keeps accepting (GATE_EVICT makes room). */
bool		 gate_open(bool fd_paused, size_t nconns, unsigned max_conns);
/* Enable or disable every listener of srv by gate_open (never spins: a
 * disabled listener is off the loop, its backlog waits in the kernel);
 * says once a second when the process's limit closes one. */
void		 gate_apply(struct server *);
/* Whether a limit refusal or eviction on l may be logged at now: at most
 * a few lines a second per listener, the rest counted and said once the
 * second is over, so a flood is not a flood of log lines. */
bool		 gate_log_ok(struct listener *, time_t now);

#endif
