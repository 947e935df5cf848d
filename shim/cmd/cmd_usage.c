/*
 * cmd_usage.c - how every command prints its usage: on stdout when asked
 * (-h, --help: exit 0), on stderr after a usage error (exit 2). The texts
 * themselves live beside each command (cmd_*.c, main.c's run).
 *
 * Must never: print a usage error on stdout or call it success.
 */
#include <string.h>

#include "shim/cmd/cmd.h"

bool
cmd_help_asked(int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

int
cmd_usage(FILE *f, const char *text)
{
	const char	*p, *nl;

	/* "usage: " before the first form, aligned spaces before the others */
	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		fprintf(f, "%s%.*s\n", p == text ? "usage: " :
		    strncmp(p, "pinshim ", 8) == 0 ? "       " : "",
		    (int)(nl - p), p);
	}
	return f == stdout ? 0 : 2;
}
