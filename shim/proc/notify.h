/*
 * notify.h - tell the service manager (systemd's $NOTIFY_SOCKET) when
 * pinshim is ready, reloading, and alive.
 */
#ifndef PINSHIM_SHIM_NOTIFY_H
#define PINSHIM_SHIM_NOTIFY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Connect to $NOTIFY_SOCKET if set (call before dropping privileges). */
void		 notify_open(void);
/* One datagram, e.g. "READY=1\nSTATUS=..." (silently nothing if off). */
void		 notify_send(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload wants. */
void		 notify_reloading(void);
/* $WATCHDOG_USEC for this process, or 0: no watchdog. */
unsigned long long notify_watchdog_usec(void);

#endif
