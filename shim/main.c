/*
 * main.c - pinshim's command table: every subcommand in one place.
 *
 * Exit status everywhere: 0 success, 1 runtime failure or a check that
 * found a problem, 2 bad usage or bad configuration. `pinshim COMMAND
 * --help` prints that command's usage on stdout and exits 0; a usage
 * error prints it on stderr and exits 2. Each command's usage text lives
 * once, beside its implementation; `pinshim help` is built from them.
 *
 * Must never: exit 0 on a usage error.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <wolfssl/options.h>
#include <wolfssl/version.h>

#include "conf/conf.h"
#include "shim/cmd/cmd.h"
#include "shim/proc/daemon.h"
#include "shim/version.h"


static int	cmd_run(int, char **);
static int	cmd_version(int, char **);
static int	cmd_help(int, char **);

static const char cmd_run_usage[] =
    "pinshim run [-c FILE] [-t]\n"
    "    run the proxy on FILE (default " CONF_DEFAULT_PATH ");\n"
    "    -t: check the configuration, print \"configuration OK\", exit\n";
static const char cmd_version_usage[] =
    "pinshim version | --version | -V\n"
    "    print pinshim's, wolfSSL's and libevent's versions on one line\n";
static const char cmd_help_usage[] =
    "pinshim help [COMMAND] | --help | -h\n"
    "    this text, or COMMAND's; pinshim COMMAND --help says the same\n";

/* Every command, its implementation and its usage (kept beside it). */
static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} cmds[] = {
	{ "run", cmd_run, cmd_run_usage },
	{ "pin", cmd_pin, cmd_pin_usage },
	{ "feed", cmd_feed, cmd_feed_usage },
	{ "status", cmd_status, cmd_status_usage },
	{ "tofu", cmd_tofu, cmd_tofu_usage },
	{ "monitor", cmd_monitor, cmd_monitor_usage },
	{ "ca", cmd_ca, cmd_ca_usage },
	{ "version", cmd_version, cmd_version_usage },
	{ "help", cmd_help, cmd_help_usage },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: pinshim COMMAND [ARGS]\n\n");
	for (i = 0; i < NCMDS; i++)
		fputs(cmds[i].usage, f);
}

/* The usage of the command argv[0] names (and of its subcommand argv[1],
 * for feed), or NULL. */
static const char *
usage_of(int argc, char **argv)
{
	size_t	 i;

	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[0], cmds[i].name) != 0)
			continue;
		if (cmds[i].fn == cmd_feed && argc > 1)
			return cmd_feed_usage_of(argv[1]);
		return cmds[i].usage;
	}
	return NULL;
}

static int
cmd_help(int argc, char **argv)
{
	const char	*u;

	if (argc == 1) {
		usage(stdout);
		return 0;
	}
	if ((u = usage_of(argc - 1, argv + 1)) == NULL) {
		fprintf(stderr, "pinshim: unknown command \"%s\"\n", argv[1]);
		return cmd_usage(stderr, cmd_help_usage);
	}
	return cmd_usage(stdout, u);
}

static int
cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cmd_usage(stderr, cmd_version_usage);
	printf("pinshim %s (wolfSSL %s, libevent %s)\n", PINSHIM_VERSION,
	    LIBWOLFSSL_VERSION_STRING, event_get_version());
	return 0;
}

static int
cmd_run(int argc, char **argv)
{
	const char	*path = CONF_DEFAULT_PATH;
	struct conf	*conf;
	bool		 test = false;
	int		 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:t")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = true;
			break;
		default:
			return cmd_usage(stderr, cmd_run_usage);
		}
	}
	if (optind != argc)
		return cmd_usage(stderr, cmd_run_usage);
	if ((conf = conf_load(path, stderr)) == NULL)
		return 2;
	return test ? daemon_check(conf) : daemon_run(conf);
}

int
main(int argc, char **argv)
{
	const char	*u;
	size_t		 i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(1, argv + 1);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	/* COMMAND [SUBCOMMAND] ... --help: that usage, on stdout, exit 0 */
	if (cmd_help_asked(argc - 1, argv + 1) &&
	    (u = usage_of(argc - 1, argv + 1)) != NULL)
		return cmd_usage(stdout, u);
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pinshim: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
