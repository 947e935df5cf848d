/*
 * gate.c - the listener gate (see gate.h): the admission rules of a
 * listener, apart from the connections they admit. conn.c asks it about
 * each newcomer and acts on the verdict (the eviction itself is a
 * connection's reset, chosen by quota_victim); listener.c asks it whether
 * to accept.
 *
 * Must never: let a newcomer that will be refused (over its quota) end
 * another client's connection, raise a limit above what the descriptors
 * allow, or keep a listener accepting while the process is out of
 * descriptors.
 */
#include "base/addr.h"
#include "base/log.h"
#include "shim/listen/gate.h"
#include "shim/proc/server.h"

#define LISTEN_MAX_DEFAULT	4096	/* max_conns, if fds allow */
#define CLIENT_MAX_DEFAULT	256	/* max_conns_per_client at most */
#define LIMIT_LINES		10	/* limit lines logged per second */

void
gate_limits(const struct listen_conf *lc, unsigned cap, unsigned *max_conns,
    unsigned *max_per_client)
{
	unsigned	 m, per;

	if (lc->max_conns != 0)
		m = lc->max_conns < cap ? (unsigned)lc->max_conns : cap;
	else
		m = cap < LISTEN_MAX_DEFAULT ? cap : LISTEN_MAX_DEFAULT;
	if (lc->max_per_client != 0)
		per = (unsigned)lc->max_per_client;
	else {
		per = m / 8;
		if (per < 1)
			per = 1;
		if (per > CLIENT_MAX_DEFAULT)
			per = CLIENT_MAX_DEFAULT;
	}
	*max_conns = m;
	*max_per_client = per;
}

bool
gate_allowed(const struct listen_conf *lc, const struct sockaddr *sa)
{
	size_t	 i;

	for (i = 0; i < lc->nallow; i++)
		if (cidr_match(&lc->allow[i], sa))
			return true;
	return false;
}

enum gate_verdict
gate_admit(const struct gate_ask *a)
{
	/* Over its quota: refused, so it makes no room. Outside allow: its
	 * front end refuses it, so it makes none either. */
	if (a->held >= a->max_per_client)
		return GATE_REFUSE;
	if (a->nconns >= a->max_conns && a->allowed)
		return GATE_EVICT;
	return GATE_ADMIT;
}

bool
gate_open(bool fd_paused, size_t nconns, unsigned max_conns)
{
	return !fd_paused && nconns < max_conns;
}

void
gate_apply(struct server *srv)
{
	struct listener	*l;
	bool		 want;
	size_t		 i;
	time_t		 now;

	for (i = 0; i < srv->nlisteners; i++) {
		l = &srv->listeners[i];
		want = gate_open(l->fd_paused, srv->nconns, srv->max_conns);
		if (l->evl == NULL || want == l->accepting)
			continue;
		l->accepting = want;
		if (want) {
			evconnlistener_enable(l->evl);
			continue;
		}
		evconnlistener_disable(l->evl);
		if (!l->fd_paused && (now = time(NULL)) != l->full_logged) {
			l->full_logged = now;
			log_warn("listener=%s: the process is at its limit "
			    "(%zu of %u connections, from RLIMIT_NOFILE); new "
			    "connections wait in the backlog", l->lc->name,
			    srv->nconns, srv->max_conns);
		}
	}
}

bool
gate_log_ok(struct listener *l, time_t now)
{
	if (now != l->limit_second) {
		if (l->limit_quiet > 0)
			log_warn("listener=%s: %lu more limit refusal(s) not "
			    "logged", l->lc->name, l->limit_quiet);
		l->limit_second = now;
		l->limit_logged = 0;
		l->limit_quiet = 0;
	}
	if (l->limit_logged < LIMIT_LINES) {
		l->limit_logged++;
		return true;
	}
	l->limit_quiet++;
	return false;
}
