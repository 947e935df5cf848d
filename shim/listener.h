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
/* Move allow, ports and connect of next into the live listeners (what a
 * running listener can change without a rebind); say what needs a
 * restart. The displaced values stay in next, freed with it. */
void	 listeners_reload(struct server *, struct conf *next);

#endif
