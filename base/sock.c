/*
 * sock.c - socket options (see sock.h). Failures are ignored on purpose:
 * a socket that is not TCP (a socketpair) has none of them to set.
 *
 * Must never: fail a connection because the system lacks an option.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "base/sock.h"

void
sock_relay_options(int fd)
{
	int	 on = 1, idle = SOCK_KEEPIDLE, intvl = SOCK_KEEPINTVL;
	int	 cnt = SOCK_KEEPCNT;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
#ifdef TCP_KEEPIDLE
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
	(void)idle;
	(void)intvl;
	(void)cnt;
#endif
}
