/*
 * cmd_ca.c - `pinshim ca init DIR`: create the device's interception CA.
 *
 * Must never: replace an existing CA key (devices may trust it).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim/cmd/cmd.h"
#include "tls/tls.h"

const char cmd_ca_usage[] =
    "pinshim ca init DIR [--cn NAME]\n"
    "    create the local interception CA (ECDSA P-256) in DIR\n";

int
cmd_ca(int argc, char **argv)
{
	char	 cn[64], host[40] = "device";
	int	 i;
	const char *dir = NULL;

	gethostname(host, sizeof(host) - 1);
	snprintf(cn, sizeof(cn), "pinshim interception CA (%s)", host);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--cn") == 0 && i + 1 < argc)
			snprintf(cn, sizeof(cn), "%s", argv[++i]);
		else if (argv[i][0] != '-' && dir == NULL)
			dir = argv[i];
		else {
			dir = NULL;
			break;
		}
	}
	if (argc < 3 || strcmp(argv[1], "init") != 0 || dir == NULL) {
		return cmd_usage(stderr, cmd_ca_usage);
	}
	tls_init();
	if (tls_ca_init(dir, cn, stderr) == -1)
		return 1;
	printf("wrote %s/ca.key (private, mode 0600: never copy it off this "
	    "device) and %s/ca.pem (install it in the apps' trust store)\n",
	    dir, dir);
	return 0;
}
