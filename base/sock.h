/*
 * sock.h - the socket options pinshim sets on every connection it holds,
 * in one place (the values are Linux's names; other systems get what
 * they support).
 */
#ifndef PINSHIM_BASE_SOCK_H
#define PINSHIM_BASE_SOCK_H

#define SOCK_KEEPIDLE	60	/* seconds of silence before probing */
#define SOCK_KEEPINTVL	10	/* seconds between probes */
#define SOCK_KEEPCNT	6	/* unanswered probes before the reset */

/* Both ends of every relayed connection get:
 * - TCP keepalive, so a peer that vanished without a FIN is noticed
 *   within SOCK_KEEPIDLE + SOCK_KEEPINTVL * SOCK_KEEPCNT seconds (2 min);
 * - TCP_NODELAY: a relay forwards what it has at once; Nagle's wait for
 *   the delayed ACK cost 40 ms per small request-response exchange. */
void	 sock_relay_options(int fd);

#endif
