/*
 * listener.h - the listening sockets: bind them, accept on them, hand each
 * client to its mode's front end, and apply a reload to them.
 */
#ifndef PINSHIM_SHIM_LISTENER_H
#define PINSHIM_SHIM_LISTENER_H

struct conf;
struct server;

/* Bind every [listen:*] of srv->conf. 0, or -1 after logging why. */
int	 listeners_open(struct server *);
void	 listeners_close(struct server *);
/* The process stops: close every listening socket (the entries stay for
 * the connections that still count against them). */
void	 listeners_stop(struct server *);
/* Point each listener at next's entry of its name (what a running
 * listener can change without a rebind: allow, ports, connect, limits);
 * say what needs a restart. Called by inforce_apply. */
void	 listeners_reload(struct server *, struct conf *next);

#endif
