/*
 * inforce.c - the owner of what new connections run under (inforce.h).
 *
 * A configuration, a trust store and a snapshot are reference-counted:
 * the server holds the ones in force, each listener the configuration its
 * entry is in, each connection the configuration and snapshot it started
 * under. Applying is therefore a pointer swap: running connections keep
 * what they hold, new ones take what is in force now, and the old values
 * go when their last holder does.
 *
 * Must never: leave a resumable session that was judged by pins or a
 * trust store no longer in force, let a host go unenforced without a
 * warning, or change a value a running connection holds.
 */
#include "base/log.h"
#include "shim/proc/inforce.h"
#include "shim/listen/listener.h"
#include "shim/proc/notify.h"
#include "shim/proc/server.h"

/* Every rule in snap that only observes its pins (enforce = no): nobody
 * may miss that a host is not enforced. */
static void
inforce_log_observed(const struct snapshot *snap)
{
	size_t	 i;

	for (i = 0; i < snap->nrules; i++)
		if (snap->rules[i].observe_only)
			log_warn("pins: %s is NOT ENFORCED (enforce = no, %s): "
			    "its pin failures are logged verdict=would-refuse "
			    "and let through on the CA check",
			    snap->rules[i].pattern, snap->rules[i].origin);
}

void
inforce_apply(struct server *srv, struct inforce_next *n)
{
	if (n->conf != NULL) {
		listeners_reload(srv, n->conf);
		conf_free(srv->conf);
		srv->conf = n->conf;
	}
	if (n->tls != NULL) {
		tls_client_free(srv->tls);
		srv->tls = n->tls;
	}
	if (n->snap != NULL) {
		snapshot_unref(srv->snap);
		srv->snap = n->snap;
	}
	tls_client_forget(srv->tls);
	if (n->snap != NULL)
		inforce_log_observed(srv->snap);
	if (n->status != NULL)
		notify_send("STATUS=%s", n->status);
	n->conf = NULL;
	n->tls = NULL;
	n->snap = NULL;
}
