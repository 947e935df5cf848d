/*
 * origdst.c - SO_ORIGINAL_DST (Linux netfilter), the one place pinshim
 * depends on how the firewall redirected a connection. IPv4 and IPv6.
 *
 * Must never: guess a destination: without SO_ORIGINAL_DST the connection
 * is refused.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "shim/net/origdst.h"

int
origdst_get(int fd, struct sockaddr_storage *out, socklen_t *len)
{
	struct sockaddr_storage	 local;
	socklen_t		 llen = sizeof(local);

	if (getsockname(fd, (struct sockaddr *)&local, &llen) == -1)
		return -1;
	*len = sizeof(*out);
	memset(out, 0, sizeof(*out));
	if (local.ss_family == AF_INET6)
		return getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, len);
	return getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, len);
}
