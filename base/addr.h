/*
 * addr.h - socket addresses: CIDR rules for allow lists, and printing an
 * address the way the log and the verdict lines show it.
 */
#ifndef PINSHIM_BASE_ADDR_H
#define PINSHIM_BASE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	unsigned	 bits;
};

/* "10.0.0.0/8", "::1/128", or a bare address (a host). */
bool	 parse_cidr(const char *s, struct cidr *out);
/* An IPv4-mapped IPv6 address matches IPv4 rules. */
bool	 cidr_match(const struct cidr *, const struct sockaddr *);

/* "1.2.3.4:80" or "[::1]:80" */
void	 sockaddr_format(const struct sockaddr *, char *buf, size_t sz);
/* The address alone, without port or brackets ("1.2.3.4", "::1"). */
void	 sockaddr_host(const struct sockaddr *, char *buf, size_t sz);
uint16_t sockaddr_port(const struct sockaddr *);

#endif
