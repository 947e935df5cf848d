/*
 * front.h - the front ends, one per listener mode: each takes a freshly
 * accepted client socket (ownership included) and sees it to the end.
 * The listener finds its mode's in one table (front.c), never by naming
 * each front end.
 */
#ifndef PINSHIM_CONN_FRONT_H
#define PINSHIM_CONN_FRONT_H

#include <sys/socket.h>

#include "conf/conf.h"

struct listener;

typedef void (*front_accept_fn)(struct listener *, int fd,
		    const struct sockaddr *);

/* A listener mode and the front end that serves it. */
struct front {
	enum listen_mode	 mode;
	front_accept_fn		 accept;
};

/* mode's front end; NULL: none (the listener then refuses to bind). */
const struct front *front_for(enum listen_mode mode);

void	 tunnel_accept(struct listener *, int fd, const struct sockaddr *);
void	 forward_accept(struct listener *, int fd, const struct sockaddr *);
void	 transparent_accept(struct listener *, int fd,
	    const struct sockaddr *);

#endif
