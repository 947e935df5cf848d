/*
 * cmd_status.c - `pinshim status [-c FILE | --addr ADDRESS] [--json]`:
 * ask the running daemon at its [shim] status address for its summary
 * (or its JSON) and print it, for people, cron and health checks. Exit 0
 * when healthy, 1 when the feed is stale or expired, a pin set has
 * expired, pinned hosts are being refused, or the daemon cannot be
 * reached; 2 for bad usage or no status address. Of the configuration
 * only [shim] status is read (conf_status_only()): a file half-edited
 * elsewhere must not hide a daemon that runs fine on the one it loaded.
 *
 * One HTTP/1.0 request over a blocking socket (TCP or the unix socket,
 * which libevent 2.1's evhttp client cannot dial), its answer read to the
 * end under a 5 s timeout and its head parsed by net/http1.c.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdbool.h>
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
ask(int fd, bool json, size_t *len)
{
	char	 req[128];
	char	*buf = xcalloc(1, STATUS_MAX + 1);
	ssize_t	 n;
	int	 rlen;

	rlen = snprintf(req, sizeof(req), "GET /status HTTP/1.0\r\nHost: "
	    "localhost\r\nAccept: %s\r\n\r\n", json ? "application/json" :
	    "text/plain");
	*len = 0;
	if (write(fd, req, (size_t)rlen) != rlen)
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

/* The health the answer states. The text's last line says it (detail
 * lines above may say anything); the JSON's first "health" member does,
 * as the daemon writes it before any string from the configuration or
 * a peer (status_render.c). */
static bool
healthy(const char *body, bool json)
{
	const char	*h, *p;

	if (json)
		return (h = strstr(body, "\"health\":\"")) != NULL &&
		    (strncmp(h + 10, "ok\"", 3) == 0 ||
		    strncmp(h + 10, "no-feed\"", 8) == 0);
	for (h = NULL, p = body; (p = strstr(p, "\nhealth: ")) != NULL; p++)
		h = p;
	return h != NULL && (strncmp(h, "\nhealth: ok\n", 12) == 0 ||
	    strncmp(h, "\nhealth: no-feed\n", 17) == 0);
}

const char cmd_status_usage[] =
    "pinshim status [-c FILE | --addr ADDRESS] [--json]\n"
    "    the running daemon's summary from [shim] status (only that key is\n"
    "    read from FILE; --addr: HOST:PORT or unix:/PATH instead); --json:\n"
    "    its /status JSON as served. Exit 0 healthy, 1 when the feed is\n"
    "    stale or expired, pins expired, pinned traffic is refused, or the\n"
    "    daemon cannot be reached, 2 bad usage or configuration\n";

int
cmd_status(int argc, char **argv)
{
	const char		*path = CONF_DEFAULT_PATH, *addr = NULL, *why;
	struct http1_head	 head;
	struct status_conf	 sc;
	char			*buf, where[HOST_MAX + 128];
	size_t			 len;
	bool			 json = false, have_c = false;
	int			 fd, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && !have_c) {
			path = argv[++i];
			have_c = true;
		} else if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc &&
		    addr == NULL)
			addr = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return cmd_usage(stderr, cmd_status_usage);
	}
	if (have_c && addr != NULL)
		return cmd_usage(stderr, cmd_status_usage);
	memset(&sc, 0, sizeof(sc));
	if (addr != NULL) {
		if (!conf_status_parse(addr, &sc, &why)) {
			fprintf(stderr, "pinshim status: --addr %s: %s\n", addr,
			    why);
			return 2;
		}
	} else if (conf_status_only(path, &sc, stderr) == -1)
		return 2;
	else if (!sc.present) {
		fprintf(stderr, "%s: no [shim] status: the daemon serves no "
		    "status to ask (or give --addr)\n", path);
		return 2;
	}
	if (sc.unix_path != NULL)
		snprintf(where, sizeof(where), "unix:%s", sc.unix_path);
	else
		snprintf(where, sizeof(where), strchr(sc.host, ':') ?
		    "[%s]:%u" : "%s:%u", sc.host, sc.port);
	fd = dial(&sc);
	free(sc.unix_path);
	if (fd == -1 || (buf = ask(fd, json, &len)) == NULL) {
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
	i = healthy(buf + head.len, json) ? 0 : 1;
	free(buf);
	return i;
}
