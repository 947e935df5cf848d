/*
 * main.c - pinshim's command table: every subcommand in one place.
 *
 * Exit status everywhere: 0 success, 1 runtime failure or a check that
 * found a problem, 2 bad usage or bad configuration.
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

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} cmds[] = {
	{ "run", cmd_run, "run [-c FILE] [-t]         run the proxy "
	    "(default " CONF_DEFAULT_PATH "); -t: check, exit" },
	{ "pin", cmd_pin, "pin FILE...                print the sha256/ pin "
	    "of every certificate (PEM/DER)" },
	{ NULL, NULL, "pin --connect HOST[:PORT] [--servername NAME] "
	    "[--ca-file FILE]\n                             print the chain "
	    "a live endpoint presents, with pins" },
	{ "feed", cmd_feed, "feed keygen NAME [--role root|sign]\n"
	    "                             write NAME.key (Ed25519, mode 0600) "
	    "and NAME.pub" },
	{ NULL, NULL, "feed sign --key NAME.key [--key ...] [--chain FILE] "
	    "[--legacy] FILE [-o OUT]\n"
	    "                             validate and sign a feed body or a "
	    "key-set update" },
	{ NULL, NULL, "feed cosign --key NAME.key [--key ...] FILE [-o OUT]\n"
	    "                             add signatures to a signed file's "
	    "last block" },
	{ NULL, NULL, "feed rotate (--after FILE | --version N) --root KEY... "
	    "--root-threshold N\n"
	    "             --sign KEY... --sign-threshold N [-o OUT]\n"
	    "                             write the next key-set update, "
	    "unsigned" },
	{ NULL, NULL, "feed verify (--pubkey KEY... [--root-threshold N] "
	    "[--sign-key KEY...]\n"
	    "             [--sign-threshold N] [--keys-version N] | -c INI) "
	    "[--previous FEED]\n"
	    "             [--device ID] FILE\n"
	    "                             judge a signed file as a device "
	    "would: roles, thresholds,\n"
	    "                             weakening, expiry; exit 0 only if "
	    "devices accept it" },
	{ "status", cmd_status, "status [-c FILE]           the running "
	    "daemon's summary from [shim] status;\n"
	    "                             exit 1 if the feed is stale or "
	    "expired or pins expired" },
	{ "tofu", cmd_tofu, "tofu list|forget HOST [-c FILE]\n"
	    "                             the TOFU pins in state_dir (safe "
	    "while pinshim runs)" },
	{ "monitor", cmd_monitor, "monitor FEED (--pubkey KEY... | -c INI) "
	    "[--every SECONDS] [--alert CMD] [--json]\n"
	    "                             probe every pinned host of a "
	    "verified feed; exit 1 on a mismatch" },
	{ "ca", cmd_ca, "ca init DIR [--cn NAME]    create the local "
	    "interception CA (ECDSA P-256)" },
	{ "version", cmd_version, "version                    print the "
	    "version" },
	{ "help", cmd_help, "help                       this text" },
};

static void
usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: pinshim COMMAND [ARGS]\n\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  pinshim %s\n", cmds[i].usage);
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
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
			fprintf(stderr, "usage: pinshim %s\n", cmds[0].usage);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: pinshim %s\n", cmds[0].usage);
		return 2;
	}
	if ((conf = conf_load(path, stderr)) == NULL)
		return 2;
	return test ? daemon_check(conf) : daemon_run(conf);
}

int
main(int argc, char **argv)
{
	size_t	 i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].name != NULL && strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(0, NULL);
	fprintf(stderr, "pinshim: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
