/*
 * cmd_pin.c - `pinshim pin`: the pins an operator pastes into the INI or
 * the feed, from certificate files or from what a live server presents.
 *
 * A command-line tool, so plain blocking I/O with timeouts; it shares the
 * pin computation and the chain verdict with the daemon so the pins it
 * prints are exactly the ones the daemon will compare.
 *
 * Must never: call a chain verified when it is not.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/parse.h"
#include "conf/conf.h"
#include "pins/host.h"
#include "shim/cmd/cmd.h"
#include "tls/tls.h"

static void
print_cert(WOLFSSL_X509 *x, const char *prefix)
{
	struct pin	 p;
	char		 text[PIN_TEXT_LEN + 1], subject[512];

	tls_cert_subject(x, subject, sizeof(subject));
	if (tls_cert_pin(x, &p) == -1) {
		printf("%s(no readable public key)  %s\n", prefix, subject);
		return;
	}
	pin_format(&p, text);
	printf("%s%s  %s\n", prefix, text, subject);
}

static int
pin_file(const char *path)
{
	WOLFSSL_BIO	*bio;
	WOLFSSL_X509	*x;
	int		 n = 0;
	FILE		*f;
	char		 head[64] = "";
	size_t		 got;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "pinshim pin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	got = fread(head, 1, sizeof(head) - 1, f);
	fclose(f);
	head[got] = '\0';

	if (strstr(head, "-----BEGIN") != NULL || got == 0) {
		if ((bio = wolfSSL_BIO_new_file(path, "r")) == NULL) {
			fprintf(stderr, "pinshim pin: %s: cannot open\n", path);
			return -1;
		}
		while ((x = wolfSSL_PEM_read_bio_X509(bio, NULL, NULL, NULL)) !=
		    NULL) {
			print_cert(x, "");
			wolfSSL_X509_free(x);
			n++;
		}
		wolfSSL_BIO_free(bio);
	} else if ((x = wolfSSL_X509_load_certificate_file(path,
	    WOLFSSL_FILETYPE_ASN1)) != NULL) {
		print_cert(x, "");
		wolfSSL_X509_free(x);
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "pinshim pin: %s: no PEM or DER certificate "
		    "in it\n", path);
		return -1;
	}
	return 0;
}

int
cmd_dial(const char *who, const char *host, uint16_t port, char *addr,
    size_t addrsz)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { 10, 0 };
	char		 portstr[8];
	int		 fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		fprintf(stderr, "%s: %s: %s\n", who, host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		sockaddr_format(ai->ai_addr, addr, addrsz);
		if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1) {
			fprintf(stderr, "%s: %s: socket: %s\n", who, addr,
			    strerror(errno));
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		/* SO_SNDTIMEO ends a connect with EINPROGRESS */
		fprintf(stderr, "%s: %s: connect: %s\n", who, addr,
		    errno == EINPROGRESS ? "timed out" : strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
print_chain(const struct tls_chain *ch)
{
	int	 i;

	for (i = 0; ch != NULL && i < ch->n; i++) {
		const unsigned char	*der = ch->der[i];
		WOLFSSL_X509		*x = wolfSSL_d2i_X509(NULL, &der,
		    (int)ch->len[i]);
		char			 prefix[16];

		if (x == NULL)
			continue;
		snprintf(prefix, sizeof(prefix), "  %d ", i);
		print_cert(x, prefix);
		wolfSSL_X509_free(x);
	}
}

static int
pin_connect(const char *target, const char *servername, const char *ca_file)
{
	char			 host[HOST_MAX + 1], name[HOST_MAX + 1];
	char			 addr[64], err[256];
	uint16_t		 port = 443;
	struct tls_client	*tls = NULL;
	struct tls_check	 chk;
	struct tls_verdict	 v;
	WOLFSSL			*ssl = NULL;
	const char		*why;
	int			 fd = -1, ret, status = 1;

	if (!parse_hostport(target, host, sizeof(host), &port)) {
		if (strlen(target) >= sizeof(host)) {
			fprintf(stderr, "pinshim pin: %s: too long\n", target);
			return 2;
		}
		snprintf(host, sizeof(host), "%s", target);
	}
	memset(&chk, 0, sizeof(chk));
	chk.policy = POLICY_CA;
	chk.observe = true;
	if (servername == NULL)
		servername = host;
	if (!host_canon(servername, name, sizeof(name), &why)) {
		fprintf(stderr, "pinshim pin: %s: %s\n", servername, why);
		return 2;
	}
	snprintf(chk.host, sizeof(chk.host), "%s", name);

	tls_init();
	if ((tls = tls_client_new(ca_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pinshim pin: %s\n", err);
		goto out;
	}
	if ((fd = cmd_dial("pinshim pin", host, port, addr, sizeof(addr))) ==
	    -1)
		goto out;
	if ((ssl = tls_session_new(tls, fd, &chk)) == NULL) {
		fprintf(stderr, "pinshim pin: cannot create a TLS session\n");
		goto out;
	}
	wolfSSL_set_using_nonblock(ssl, 0);
	ret = wolfSSL_connect(ssl);
	tls_verdict(ssl, tls, &chk, ret,
	    ret == WOLFSSL_SUCCESS ? 0 : wolfSSL_get_error(ssl, ret), &v);
	if (ret != WOLFSSL_SUCCESS && chk.err == 0) {
		fprintf(stderr, "pinshim pin: %s: %s\n", addr, v.detail);
		goto out;
	}
	printf("%s (%s) presents:\n", addr, name);
	print_chain(chk.chain);
	if (v.anchor[0] != '\0')
		printf("  trust anchor from %s: %s\n", ca_file, v.anchor);
	if (v.pass) {
		printf("chain verifies against %s for %s\n", ca_file, name);
		status = 0;
	} else
		printf("chain does NOT verify against %s for %s: %s: %s\n",
		    ca_file, name, tls_reason_name(v.reason), v.detail);
out:
	tls_session_free(ssl);
	tls_check_clear(&chk);
	if (fd != -1)
		close(fd);
	tls_client_free(tls);
	return status;
}

const char cmd_pin_usage[] =
    "pinshim pin FILE...\n"
    "    print the sha256/ pin of every certificate (PEM/DER)\n"
    "pinshim pin --connect HOST[:PORT] [--servername NAME] "
    "[--ca-file FILE]\n"
    "    print the chain a live endpoint presents, with pins\n";

int
cmd_pin(int argc, char **argv)
{
	const char	*connect = NULL, *servername = NULL;
	const char	*ca_file = CONF_DEFAULT_CA_FILE;
	int		 i, status = 0, files = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc)
			connect = argv[++i];
		else if (strcmp(argv[i], "--servername") == 0 && i + 1 < argc)
			servername = argv[++i];
		else if (strcmp(argv[i], "--ca-file") == 0 && i + 1 < argc)
			ca_file = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "pinshim pin: unknown option %s\n",
			    argv[i]);
			return cmd_usage(stderr, cmd_pin_usage);
		} else
			files++;
	}
	if ((connect == NULL) == (files == 0)) {
		return cmd_usage(stderr, cmd_pin_usage);
	}
	if (connect != NULL)
		return pin_connect(connect, servername, ca_file);
	tls_init();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ca-file") == 0 ||
		    strcmp(argv[i], "--servername") == 0) {
			i++;
			continue;
		}
		if (pin_file(argv[i]) == -1)
			status = 1;
	}
	return status;
}
