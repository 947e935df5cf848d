/*
 * cmd.h - subcommands that live outside main.c.
 */
#ifndef PINSHIM_CMD_H
#define PINSHIM_CMD_H

int	 cmd_pin(int argc, char **argv);
int	 cmd_feed(int argc, char **argv);
int	 cmd_ca(int argc, char **argv);
int	 cmd_status(int argc, char **argv);
int	 cmd_tofu(int argc, char **argv);
int	 cmd_monitor(int argc, char **argv);

/* Shared by the subcommands (cmd_feed.c). */
#include <stdbool.h>
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
