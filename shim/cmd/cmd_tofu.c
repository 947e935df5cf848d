/*
 * cmd_tofu.c - `pinshim tofu list|forget HOST [-c FILE]`: the TOFU store
 * in state_dir, offline and safe while the daemon runs (the same lock;
 * the daemon reads the file again before its next TOFU verdict).
 */
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "conf/conf.h"
#include "pins/host.h"
#include "pins/tofu.h"
#include "shim/cmd/cmd.h"

const char cmd_tofu_usage[] =
    "pinshim tofu list [-c FILE]\n"
    "pinshim tofu forget HOST [-c FILE]\n"
    "    the TOFU pins in state_dir (safe while pinshim runs)\n";

int
cmd_tofu(int argc, char **argv)
{
	const char		*path = CONF_DEFAULT_PATH, *host = NULL, *why;
	const char		*word[2];
	char			 canon[HOST_MAX + 1], a[PIN_TEXT_LEN + 1];
	char			 b[PIN_TEXT_LEN + 1], when[32];
	const struct tofu_entry	*e;
	struct conf		*c;
	struct tofu		*t;
	bool			 list;
	int			 i, rc, nword = 0;
	size_t			 k;

	/* -c FILE anywhere, as every command that reads the INI takes it */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (argv[i][0] != '-' && nword < 2)
			word[nword++] = argv[i];
		else
			return cmd_usage(stderr, cmd_tofu_usage);
	}
	list = nword == 1 && strcmp(word[0], "list") == 0;
	if (nword == 2 && strcmp(word[0], "forget") == 0)
		host = word[1];
	if (!list && host == NULL)
		return cmd_usage(stderr, cmd_tofu_usage);
	if (host != NULL && !host_canon(host, canon, sizeof(canon), &why)) {
		fprintf(stderr, "%s: %s\n", host, why);
		return 2;
	}
	if ((c = conf_load(path, stderr)) == NULL)
		return 2;
	if (c->state_dir == NULL) {
		fprintf(stderr, "%s: no [shim] state_dir: no TOFU store\n", path);
		conf_free(c);
		return 2;
	}
	if ((t = tofu_open(c->state_dir, c->tofu_max, stderr)) == NULL) {
		conf_free(c);
		return 1;
	}
	tofu_wait_for_lock(t);
	if (list) {
		for (k = 0; (e = tofu_at(t, k)) != NULL; k++) {
			pin_format(&e->leaf, a);
			if (e->has_issuer)
				pin_format(&e->issuer, b);
			format_rfc3339(e->since, when, sizeof(when));
			printf("%s leaf %s issuer %s since %s\n", e->host, a,
			    e->has_issuer ? b : "-", when);
		}
		fprintf(stderr, "%zu of at most %lu host(s) in %s/%s\n",
		    tofu_count(t), c->tofu_max, c->state_dir, TOFU_FILE);
		rc = 0;
	} else if ((rc = tofu_forget(t, canon)) == 1) {
		printf("%s forgotten: its next connection pins what it "
		    "presents\n", canon);
		rc = 0;
	} else if (rc == 0) {
		fprintf(stderr, "%s: not in the TOFU store\n", canon);
		rc = 1;
	} else {
		fprintf(stderr, "%s/%s: cannot write it\n", c->state_dir,
		    TOFU_FILE);
		rc = 1;
	}
	tofu_free(t);
	conf_free(c);
	return rc;
}
