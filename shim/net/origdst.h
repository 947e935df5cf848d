/*
 * origdst.h - where a redirected connection was going.
 */
#ifndef PINSHIM_ORIGDST_H
#define PINSHIM_ORIGDST_H

#include <sys/socket.h>

/* The destination before an iptables/nftables REDIRECT. 0 or -1. */
int	 origdst_get(int fd, struct sockaddr_storage *out, socklen_t *len);

#endif
