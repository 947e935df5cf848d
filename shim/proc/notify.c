/*
 * notify.c - the service manager's readiness protocol (systemd's
 * sd_notify: READY=1, RELOADING=1 with MONOTONIC_USEC, STATUS=,
 * WATCHDOG=1), written to $NOTIFY_SOCKET directly: no libsystemd.
 *
 * The socket is connected once at start, before privileges are dropped
 * (the manager's socket may not be reachable by the user pinshim becomes),
 * and the variable is removed so no child inherits it. Without
 * NOTIFY_SOCKET every call is a no-op.
 *
 * Must never: block the loop (datagrams, MSG_DONTWAIT), or fail the
 * daemon because the manager went away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "shim/proc/notify.h"

static int	 fd = -1;

void
notify_open(void)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;

	if (path == NULL || path[0] == '\0')
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path)) {
		log_warn("notify: NOTIFY_SOCKET=%s: not a socket path; the "
		    "service manager will not hear from pinshim", path);
		return;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, len) == -1) {
		log_warn("notify: %s: %s; the service manager will not hear "
		    "from pinshim", path, strerror(errno));
		if (fd != -1)
			close(fd);
		fd = -1;
	}
	unsetenv("NOTIFY_SOCKET");
}

void
notify_send(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;
	int	 n;

	if (fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		log_debug("notify: %s", strerror(errno));
}

void
notify_reloading(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

unsigned long long
notify_watchdog_usec(void)
{
	const char		*s = getenv("WATCHDOG_USEC");
	const char		*pid = getenv("WATCHDOG_PID");
	char			*end;
	unsigned long long	 v;

	if (fd == -1 || s == NULL)
		return 0;
	/* for this process only, as sd_watchdog_enabled() has it */
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return 0;
	return v;
}
