/*
 * cmd_status.c - `pinshim status [-c FILE]`: ask the running daemon at its
 * [shim] status address for its summary and print it, for people, cron
 * and health checks. Exit 0 when healthy, 1 when the feed is stale or
 * expired, a pin set has expired, or the daemon cannot be reached; 2 for
 * bad usage or a configuration without [shim] status.
 *
 * One HTTP/1.0 request over a blocking socket (TCP or the unix socket,
 * which libevent 2.1's evhttp client cannot dial), its answer read to the
 * end under a 5 s timeout and its head parsed by net/http1.c.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/util.h>

#include "base/mem.h"
#include "conf/conf.h"
#include "shim/cmd/cmd.h"
#include "shim/net/http1.h"

#define STATUS_WAIT	5		/* seconds per read or write */
#define STATUS_MAX	(1024 * 1024)	/* bytes of answer */

/* A connected socket to the daemon's status address, or -1 with errno. */
static int
dial(const struct status_conf *sc)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 un;
	char			 addr[HOST_MAX + 16];
	int			 len = sizeof(ss), fd;
	struct timeval		 tv = { STATUS_WAIT, 0 };

	memset(&ss, 0, sizeof(ss));
	if (sc->unix_path != NULL) {
		memset(&un, 0, sizeof(un));
		un.sun_family = AF_UNIX;
		snprintf(un.sun_path, sizeof(un.sun_path), "%s", sc->unix_path);
		memcpy(&ss, &un, sizeof(un));
		len = sizeof(un);
	} else {
		snprintf(addr, sizeof(addr), strchr(sc->host, ':') ? "[%s]:%u" :
		    "%s:%u", sc->host, sc->port);
		if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss,
		    &len) == -1) {
			errno = EINVAL;
			return -1;
		}
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, (socklen_t)len) == -1) {
		int	 e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The whole answer, NUL-terminated; NULL with errno. */
static char *
ask(int fd, size_t *len)
{
	static const char req[] = "GET /status HTTP/1.0\r\nHost: localhost\r\n"
	    "Accept: text/plain\r\n\r\n";
	char	*buf = xcalloc(1, STATUS_MAX + 1);
	ssize_t	 n;

	*len = 0;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		goto bad;
	while (*len < STATUS_MAX && (n = read(fd, buf + *len, STATUS_MAX -
	    *len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto bad;
		}
		*len += (size_t)n;
	}
	return buf;
bad:
	free(buf);
	return NULL;
}

const char cmd_status_usage[] =
    "pinshim status [-c FILE]\n"
    "    the running daemon's summary from [shim] status; exit 1 if the\n"
    "    feed is stale or expired or pins expired\n";

int
cmd_status(int argc, char **argv)
{
	const char		*path = CONF_DEFAULT_PATH, *why, *h, *p;
	struct http1_head	 head;
	struct conf		*c;
	char			*buf, where[HOST_MAX + 128];
	size_t			 len;
	int			 fd, status = 1;

	if (argc == 3 && strcmp(argv[1], "-c") == 0)
		path = argv[2];
	else if (argc != 1)
		return cmd_usage(stderr, cmd_status_usage);
	if ((c = conf_load(path, stderr)) == NULL)
		return 2;
	if (!c->status.present) {
		fprintf(stderr, "%s: no [shim] status: the daemon serves no "
		    "status to ask\n", path);
		conf_free(c);
		return 2;
	}
	if (c->status.unix_path != NULL)
		snprintf(where, sizeof(where), "unix:%s", c->status.unix_path);
	else
		snprintf(where, sizeof(where), strchr(c->status.host, ':') ?
		    "[%s]:%u" : "%s:%u", c->status.host, c->status.port);
	fd = dial(&c->status);
	conf_free(c);
	if (fd == -1 || (buf = ask(fd, &len)) == NULL) {
		fprintf(stderr, "pinshim status: cannot reach the daemon at "
		    "%s: %s\n", where, strerror(errno));
		if (fd != -1)
			close(fd);
		return 1;
	}
	close(fd);
	memset(&head, 0, sizeof(head));
	if (http1_response(buf, len, &head, &why) != HTTP1_OK ||
	    head.status != 200) {
		fprintf(stderr, "pinshim status: %s: %s\n", where,
		    head.status ? "not a 200 answer" : "not an HTTP answer");
		free(buf);
		return 1;
	}
	fputs(buf + head.len, stdout);
	/* the last line says it: detail lines above may say anything */
	for (h = NULL, p = buf + head.len; (p = strstr(p, "\nhealth: ")) !=
	    NULL; p++)
		h = p;
	if (h != NULL && (strncmp(h, "\nhealth: ok\n", 12) == 0 ||
	    strncmp(h, "\nhealth: no-feed\n", 17) == 0))
		status = 0;
	free(buf);
	return status;
}
