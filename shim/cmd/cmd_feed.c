/*
 * cmd_feed.c - `pinshim feed keygen|sign|verify`: the publisher's side of
 * the signed feed (backend teams, CI pipelines).
 *
 * `sign` validates the body with the very parser the devices use before it
 * signs anything, so an unusable feed is never published; `verify` checks
 * a signed file exactly as a device would.
 *
 * Must never: sign a body the devices would refuse, or leave a half-written
 * output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/mem.h"
#include "base/parse.h"
#include "pins/feed_file.h"
#include "shim/cmd/cmd.h"

#define FEED_FILE_MAX	(64UL * 1024 * 1024)

static int
feed_cmd_keygen(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pinshim feed keygen NAME\n");
		return 2;
	}
	if (feed_keygen(argv[1], stderr) == -1)
		return 1;
	printf("wrote %s.key (private, mode 0600: keep it off the devices) "
	    "and %s.pub (paste into [feed] public_key)\n", argv[1], argv[1]);
	return 0;
}

/* To stdout, or atomically to out (a crash leaves no half-signed file). */
static int
write_signed(const char *out, const char *buf, size_t len)
{
	char		 dir[4096], *slash;
	const char	*base;

	if (out == NULL)
		return fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ?
		    0 : -1;
	snprintf(dir, sizeof(dir), "%s", out);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		base = out + (slash - dir) + 1;
		if (dir[0] == '\0')
			snprintf(dir, sizeof(dir), "/");
	} else {
		snprintf(dir, sizeof(dir), ".");
		base = out;
	}
	if (file_replace(dir, base, buf, len) == -1) {
		perror(out);
		return -1;
	}
	return 0;
}

static int
feed_cmd_sign(int argc, char **argv)
{
	const char	*key = NULL, *in = NULL, *out = NULL;
	char		*body = NULL, *signed_buf = NULL;
	size_t		 len, outlen, bodylen;
	struct feed_key	*k = NULL;
	struct feed_body *c = NULL;
	uint8_t		 sig[FEED_SIG_LEN];
	const char	*why;
	int		 i, status = 2;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (argv[i][0] != '-' && in == NULL)
			in = argv[i];
		else
			in = NULL, i = argc + 1;
	}
	if (key == NULL || in == NULL || i > argc) {
		fprintf(stderr, "usage: pinshim feed sign --key NAME.key FILE "
		    "[-o OUT]\n");
		return 2;
	}
	if ((body = file_read(in, FEED_FILE_MAX, &len, stderr)) == NULL)
		return 1;
	if (feed_split(body, len, &bodylen, sig, &why)) {
		fprintf(stderr, "%s: already signed (remove the signature "
		    "line to sign again)\n", in);
		goto out;
	}
	if ((c = feed_body_parse(in, body, len, stderr)) == NULL)
		goto out;	/* FILE:LINE errors printed */
	if (c->expires <= time(NULL)) {
		fprintf(stderr, "%s: [feed] expires: in the past; devices "
		    "would refuse this feed\n", in);
		goto out;
	}
	if ((k = feed_key_load(key, stderr)) == NULL) {
		status = 1;
		goto out;
	}
	if ((signed_buf = feed_sign(body, len, k, &outlen)) == NULL) {
		fprintf(stderr, "%s: signing failed\n", key);
		status = 1;
		goto out;
	}
	if (write_signed(out, signed_buf, outlen) == -1) {
		status = 1;
		goto out;
	}
	if (out != NULL)
		fprintf(stderr, "signed %s: version %llu, %zu host rule(s), "
		    "wrote %s\n", in, c->version, c->snap->nrules, out);
	status = 0;
out:
	feed_key_free(k);
	feed_body_free(c);
	free(signed_buf);
	free(body);
	return status;
}

static int
feed_cmd_verify(int argc, char **argv)
{
	uint8_t		 keys[FEED_KEYS_MAX][FEED_KEY_LEN];
	size_t		 nkeys = 0, len;
	const char	*file = NULL;
	char		*buf, iss[32], exp[32];
	struct feed_body *c;
	int		 i, used, status;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) {
			const char	*k = argv[++i];
			char		*text = NULL;
			size_t		 tl;
			bool		 ok;

			if (nkeys == FEED_KEYS_MAX) {
				fprintf(stderr, "too many --pubkey\n");
				return 2;
			}
			if (strncmp(k, "ed25519:", 8) != 0 &&
			    (text = file_read(k, 4096, &tl, stderr)) ==
			    NULL)
				return 2;
			if (text != NULL)
				text[strcspn(text, "\r\n")] = '\0';
			ok = feed_key_parse(text ? text : k, keys[nkeys]);
			free(text);
			if (!ok) {
				fprintf(stderr, "%s: not an ed25519:BASE64 "
				    "public key\n", k);
				return 2;
			}
			nkeys++;
		} else if (argv[i][0] != '-' && file == NULL)
			file = argv[i];
		else
			nkeys = 0, i = argc;
	}
	if (nkeys == 0 || file == NULL) {
		fprintf(stderr, "usage: pinshim feed verify --pubkey KEY "
		    "[--pubkey KEY...] FILE\n");
		return 2;
	}
	if ((buf = file_read(file, FEED_FILE_MAX, &len, stderr)) == NULL)
		return 1;
	c = feed_open(file, buf, len, (const uint8_t (*)[FEED_KEY_LEN])keys,
	    nkeys, stderr, &used);
	free(buf);
	if (c == NULL)
		return 1;
	format_rfc3339(c->issued, iss, sizeof(iss));
	format_rfc3339(c->expires, exp, sizeof(exp));
	printf("%s: signature good (key %d)\nversion %llu\nissued %s\n"
	    "expires %s\nhosts %zu\ndevice overrides %zu\n", file, used + 1,
	    c->version, iss, exp, c->snap->nrules, c->ndevices);
	status = 0;
	if (c->expires <= time(NULL)) {
		printf("%s: EXPIRED: devices will refuse it as a new feed\n",
		    file);
		status = 1;
	}
	feed_body_free(c);
	return status;
}

int
cmd_feed(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return feed_cmd_keygen(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return feed_cmd_sign(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return feed_cmd_verify(argc - 1, argv + 1);
	fprintf(stderr, "usage: pinshim feed keygen NAME\n"
	    "       pinshim feed sign --key NAME.key FILE [-o OUT]\n"
	    "       pinshim feed verify --pubkey KEY [--pubkey KEY...] FILE\n");
	return 2;
}
