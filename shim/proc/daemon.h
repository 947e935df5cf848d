/*
 * daemon.h - the pinshim process: build everything from a valid
 * configuration, bind, drop privileges, run the loop, reload, stop.
 */
#ifndef PINSHIM_SHIM_DAEMON_H
#define PINSHIM_SHIM_DAEMON_H

struct conf;

/* Takes ownership of conf. Returns the process exit status. */
int	 daemon_run(struct conf *);
/* run -t: exactly the checks daemon_run makes before it binds; prints
 * "configuration OK" or the first problem. Takes ownership of conf.
 * Returns 0, or 2. */
int	 daemon_check(struct conf *);

#endif
