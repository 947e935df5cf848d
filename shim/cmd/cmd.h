/*
 * cmd.h - subcommands that live outside main.c.
 */
#ifndef PINSHIM_CMD_H
#define PINSHIM_CMD_H

#include <stdbool.h>
#include <stdio.h>

int	 cmd_pin(int argc, char **argv);
int	 cmd_feed(int argc, char **argv);
int	 cmd_ca(int argc, char **argv);
int	 cmd_status(int argc, char **argv);
int	 cmd_tofu(int argc, char **argv);
int	 cmd_monitor(int argc, char **argv);

/* Each command's usage, kept beside its implementation: lines that start
 * "pinshim COMMAND", each followed by indented lines that say what it
 * does. pinshim help is built from them. */
extern const char cmd_pin_usage[];
extern const char cmd_feed_usage[];
extern const char cmd_ca_usage[];
extern const char cmd_status_usage[];
extern const char cmd_tofu_usage[];
extern const char cmd_monitor_usage[];
/* feed SUB's usage, or all of feed's when sub names none. */
const char	*cmd_feed_usage_of(const char *sub);

/* Whether an argument after argv[0] is -h or --help. */
bool	 cmd_help_asked(int argc, char **argv);
/* "usage: TEXT" to f; returns the exit status: 0 on stdout (asked for
 * with --help), 2 on stderr (a usage error). */
int	 cmd_usage(FILE *f, const char *text);

/* Shared by the subcommands (cmd_feed.c). */
#include <stddef.h>
#include <stdint.h>
/* An ed25519:BASE64 key, or a file holding one (NAME.pub). */
bool	 cmd_read_pubkey(const char *arg, uint8_t out[32]);
/* A TCP connection to host:port (each address in turn, 10 s timeouts),
 * addr: the one connected to; -1 after saying why, prefixed with who. */
int	 cmd_dial(const char *who, const char *host, uint16_t port,
	    char *addr, size_t addrsz);
struct pin;
struct tls_verdict;
/* Whether p is a key of the chain served now: presented, or the anchor
 * its verified path ends at. A backup pin is one that is not. */
bool	 cmd_pin_in_use(const struct tls_verdict *, const struct pin *);
/* To stdout (out NULL), or atomically to out. 0, or -1 after saying why. */
int	 cmd_write_file(const char *out, const char *buf, size_t len);
/* Atomically over path, an existing body edited in place, keeping its
 * mode; a symbolic link is refused, not replaced by a plain file. 0, or
 * -1 after saying why. */
int	 cmd_edit_file(const char *path, const char *buf, size_t len);

#endif
