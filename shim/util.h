/*
 * util.h - the handful of guard macros and helpers every module shares.
 *
 * Kept deliberately small: return conventions are 0/-1 for actions, bool for
 * predicates and parsers, pointer-or-NULL for constructors.
 */
#ifndef PINSHIM_UTIL_H
#define PINSHIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Jump to the function's single cleanup label when a check fails. */
#define GUARD(x)	do { if ((x) < 0) goto bad; } while (0)
#define ENSURE(c)	do { if (!(c)) goto bad; } while (0)

void	*xcalloc(size_t n, size_t size);
char	*xstrdup(const char *s);

/* Strict unsigned parse of a whole string in [min, max]. */
bool	 parse_uint(const char *s, unsigned long min, unsigned long max,
	    unsigned long *out);

/* Split "host:port" or "[v6]:port"; host written into buf. */
bool	 parse_hostport(const char *s, char *host, size_t hostsz,
	    uint16_t *port);

/* "2027-01-31T12:00:00Z" (UTC only) to time_t. */
bool	 parse_rfc3339(const char *s, time_t *out);
void	 format_rfc3339(time_t, char *buf, size_t sz);	/* sz >= 21 */

/* Write a whole file, created with mode (never wider, even briefly) and
 * fsynced; excl: fail if it exists. 0 or -1 with errno. */
int	 file_write(const char *path, const void *buf, size_t len,
	    unsigned mode, bool excl);
/* A new private key file: 0600 from creation, never over an existing one,
 * and no half-written file left behind on failure (errno kept). */
int	 key_file_write(const char *path, const void *buf, size_t len);
struct sockaddr;

struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	unsigned	 bits;
};
/* "10.0.0.0/8", "::1/128", or a bare address (a host). */
bool	 parse_cidr(const char *s, struct cidr *out);
bool	 cidr_match(const struct cidr *, const struct sockaddr *);

/* "1.2.3.4:80" or "[::1]:80" */
void	 sockaddr_format(const struct sockaddr *, char *buf, size_t sz);
#endif
