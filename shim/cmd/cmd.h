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

#endif
