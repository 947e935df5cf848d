/*
 * test_unixsock.c - the status socket root hands to another user: a link
 * planted at its name between bind() and the chown is never followed,
 * and a directory others could write is refused (hostile cases first).
 *
 * It includes base/unixsock.c with UNIXSOCK_AFTER_BIND defined, so the
 * test plays the attacker inside the very window it closes.
 */
#include "testutil.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>

static const char	*plant_target;	/* set: swap the node for a link */

static void
plant(int dfd, const char *name)
{
	if (plant_target == NULL)
		return;
	if (unlinkat(dfd, name, 0) == -1 ||
	    symlinkat(plant_target, dfd, name) == -1)
		fail_msg("cannot plant the link: %s", strerror(errno));
}

#define UNIXSOCK_AFTER_BIND(dfd, name)	plant(dfd, name)
#include "base/unixsock.c"

/* Someone else's uid and gid, when root can hand a file to them. */
#define OTHER_ID	4242

static void
test_link_planted_after_bind_is_not_followed(void **state)
{
	char		 dir[256], sock[300], key[300], err[512];
	struct stat	 before, after, lnk;
	uid_t		 uid = geteuid() == 0 ? OTHER_ID : geteuid();
	gid_t		 gid = geteuid() == 0 ? OTHER_ID : getegid();

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_write_file(dir, "ca.key", "secret\n", key, sizeof(key));
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(stat(key, &before), 0);
	snprintf(sock, sizeof(sock), "%s/status", dir);
	plant_target = key;
	assert_int_equal(unixsock_listen(sock, 0660, uid, gid, 4, err,
	    sizeof(err)), -1);
	plant_target = NULL;
	assert_contains(err, "replaced by something else");
	/* the key: owner, group and mode as they were */
	assert_int_equal(stat(key, &after), 0);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(after.st_gid, before.st_gid);
	assert_int_equal(after.st_mode, before.st_mode);
	/* what changed hands, if anything, is the link itself */
	assert_int_equal(lstat(sock, &lnk), 0);
	assert_true(S_ISLNK(lnk.st_mode));
	assert_int_equal(lnk.st_uid, uid);
	tu_rmrf(dir);
}

static void
test_directory_others_can_write_is_refused(void **state)
{
	static const struct {
		mode_t		 mode;
		const char	*why;		/* NULL: accepted */
	} cases[] = {
		{ 0777, "is writable by others (mode 0777, no sticky bit)" },
		{ 0757, "is writable by others (mode 0757, no sticky bit)" },
		{ 0775, "is writable by its group (mode 0775, no sticky bit)" },
		{ 01777, NULL },		/* /tmp's: others cannot swap */
		{ 0755, NULL },
		{ 0700, NULL },
	};
	char		 dir[256], sock[300], err[512];
	size_t		 i;
	int		 fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tu_mkdtemp(dir, sizeof(dir));
		assert_int_equal(chmod(dir, cases[i].mode), 0);
		snprintf(sock, sizeof(sock), "%s/status", dir);
		err[0] = '\0';
		fd = unixsock_listen(sock, 0660, (uid_t)-1, (gid_t)-1, 4, err,
		    sizeof(err));
		if (cases[i].why != NULL) {
			assert_int_equal(fd, -1);
			assert_contains(err, cases[i].why);
			assert_contains(err, dir);
			assert_int_equal(unixsock_check(sock, err,
			    sizeof(err)), -1);
			assert_int_equal(access(sock, F_OK), -1);
		} else {
			assert_true(fd >= 0);
			assert_int_equal(unixsock_check(sock, err,
			    sizeof(err)), 0);
			close(fd);
		}
		tu_rmrf(dir);
	}
}

static void
test_directory_of_another_user_is_refused(void **state)
{
	char	 dir[256], sock[300], err[512];

	(void)state;
	if (geteuid() != 0)	/* only root can make one to test with */
		return;
	tu_mkdtemp(dir, sizeof(dir));
	assert_int_equal(chown(dir, OTHER_ID, OTHER_ID), 0);
	snprintf(sock, sizeof(sock), "%s/status", dir);
	assert_int_equal(unixsock_listen(sock, 0660, (uid_t)-1, (gid_t)-1, 4,
	    err, sizeof(err)), -1);
	assert_contains(err, "belongs to uid 4242, neither root nor");
	tu_rmrf(dir);
}

static void
test_only_a_stale_socket_is_removed(void **state)
{
	char		 dir[256], sock[300], err[512];
	size_t		 len;
	unsigned char	*text;
	int		 fd;

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	tu_write_file(dir, "status", "not a socket\n", sock, sizeof(sock));
	assert_int_equal(unixsock_listen(sock, 0660, (uid_t)-1, (gid_t)-1, 4,
	    err, sizeof(err)), -1);
	assert_contains(err, "Address already in use");
	text = tu_read_file(sock, &len);
	assert_memory_equal(text, "not a socket\n", len);
	free(text);
	unlink(sock);
	/* a socket an earlier run left: replaced */
	assert_true((fd = unixsock_listen(sock, 0660, (uid_t)-1, (gid_t)-1,
	    4, err, sizeof(err))) >= 0);
	close(fd);
	assert_true((fd = unixsock_listen(sock, 0660, (uid_t)-1, (gid_t)-1,
	    4, err, sizeof(err))) >= 0);
	close(fd);
	tu_rmrf(dir);
}

static void
test_node_is_born_with_its_mode_and_owner(void **state)
{
	char		 dir[256], sock[300], err[512];
	struct stat	 sb;
	uid_t		 uid = geteuid() == 0 ? OTHER_ID : geteuid();
	gid_t		 gid = geteuid() == 0 ? OTHER_ID : getegid();
	mode_t		 old = umask(0);	/* the umask of a careless start */
	int		 fd;

	(void)state;
	tu_mkdtemp(dir, sizeof(dir));
	snprintf(sock, sizeof(sock), "%s/status", dir);
	fd = unixsock_listen(sock, 0660, uid, gid, 4, err, sizeof(err));
	assert_int_equal(umask(old), 0);	/* put back as it was */
	assert_true(fd >= 0);
	assert_int_equal(lstat(sock, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0660);
	assert_int_equal(sb.st_uid, uid);
	assert_int_equal(sb.st_gid, gid);
	close(fd);
	tu_rmrf(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_planted_after_bind_is_not_followed),
		cmocka_unit_test(test_directory_others_can_write_is_refused),
		cmocka_unit_test(test_directory_of_another_user_is_refused),
		cmocka_unit_test(test_only_a_stale_socket_is_removed),
		cmocka_unit_test(test_node_is_born_with_its_mode_and_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
