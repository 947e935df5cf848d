/*
 * inforce.h - the one step that changes what new connections run under:
 * the configuration, the trust store and the pin snapshot in struct
 * server. daemon.c (start, SIGHUP) and remote/feedsync.c (a feed) both
 * apply through it; nothing else assigns those fields.
 */
#ifndef PINSHIM_SHIM_INFORCE_H
#define PINSHIM_SHIM_INFORCE_H

struct conf;
struct server;
struct snapshot;
struct tls_client;

/* What changes; NULL: stays. Each reference given is taken over. */
struct inforce_next {
	struct conf		*conf;
	struct tls_client	*tls;
	struct snapshot		*snap;
	const char		*status;	/* for the service manager */
};

/* Swap in what next gives, forget resumable sessions (they were judged
 * by what is no longer in force), warn about every rule the snapshot
 * only observes, and tell the service manager. */
void	 inforce_apply(struct server *, struct inforce_next *);

#endif
