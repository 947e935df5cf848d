/*
 * front.h - the front ends, one per listener mode: each takes a freshly
 * accepted client socket (ownership included) and sees it to the end.
 */
#ifndef PINSHIM_CONN_FRONT_H
#define PINSHIM_CONN_FRONT_H

#include <sys/socket.h>

struct listener;

void	 tunnel_accept(struct listener *, int fd, const struct sockaddr *);
void	 forward_accept(struct listener *, int fd, const struct sockaddr *);
void	 transparent_accept(struct listener *, int fd,
	    const struct sockaddr *);

#endif
