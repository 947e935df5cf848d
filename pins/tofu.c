/*
 * tofu.c - the trust-on-first-use store in state_dir/tofu.pins, one line
 * per host: "HOST sha256/LEAF sha256/ISSUER|- SINCE", written whole
 * (temp, fsync, rename) under an flock on tofu.pins.lock, so the daemon
 * and `pinshim tofu forget` never lose each other's change. The daemon
 * never waits for the lock: when `pinshim tofu` holds it, the change stays
 * in memory (still enforced) and is written with the next one.
 *
 * Must never: accept a damaged line (the store is refused whole: a half
 * read store would forget pins), hold more than max hosts, or block the
 * daemon on the lock.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/mem.h"
#include "base/parse.h"
#include "pins/tofu.h"

#define LINE_MAX_	(HOST_MAX + 2 * (PIN_TEXT_LEN + 1) + 32)
#define HARD_MAX	16384	/* lines read, whatever tofu_max says now */

struct slot {
	struct tofu_entry e;
	bool		 dirty;		/* not yet in the file */
	bool		 has_prev;	/* dirty: replaces prev's leaf */
	struct pin	 prev;
	bool		 sending;	/* with the writer, answer to come */
	struct pin	 sent;		/* sending: the leaf it was given */
};

struct tofu {
	char		*dir;
	size_t		 max;
	bool		 patient;	/* wait for the lock (the CLI) */
	struct slot	*s;
	size_t		 n;
	struct stat	 seen;		/* the file as last read */
	bool		 have_seen;
	tofu_writer	 writer;	/* NULL: write the file here */
	void		*writer_arg;
	const char	*writer_why;	/* its last refusal */
};

static struct slot *
find(const struct tofu *t, const char *host)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->s[i].e.host, host) == 0)
			return &t->s[i];
	return NULL;
}

static bool
parse_line(char *line, struct tofu_entry *e)
{
	char	*f[4], *save = NULL, *p;
	int	 i;

	for (i = 0, p = line; i < 4; i++, p = NULL)
		if ((f[i] = strtok_r(p, " ", &save)) == NULL)
			return false;
	if (strtok_r(NULL, " ", &save) != NULL ||
	    strlen(f[0]) > HOST_MAX || !pin_parse(f[1], &e->leaf) ||
	    !parse_rfc3339(f[3], &e->since))
		return false;
	snprintf(e->host, sizeof(e->host), "%s", f[0]);
	e->has_issuer = strcmp(f[2], "-") != 0;
	return !e->has_issuer || pin_parse(f[2], &e->issuer);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The file's entries into *out (NULL, 0 when there is no file). */
static int
read_file(const struct tofu *t, struct slot **out, size_t *nout,
    struct stat *st, FILE *errs)
{
	char		 path[4096], *buf, *line, *save = NULL;
	size_t		 len, n = 0;
	int		 lineno = 0;
	struct slot	*s = NULL;

	*out = NULL;
	*nout = 0;
	snprintf(path, sizeof(path), "%s/%s", t->dir, TOFU_FILE);
	/* the file as it was before the read, and the same after: what st
	 * says is what was read (a rename in between: read again) */
	for (int tries = 0; ; tries++) {
		struct stat	 after;

		if (stat(path, st) == -1)
			memset(st, 0, sizeof(*st));
		if ((buf = file_read(path, HARD_MAX * LINE_MAX_ + 1, &len,
		    NULL)) == NULL) {
			if (errno == ENOENT) {
				memset(st, 0, sizeof(*st));
				return 0;
			}
			if (errs != NULL)
				fprintf(errs, "%s: %s\n", path,
				    strerror(errno));
			return -1;
		}
		if (tries == 2 || (stat(path, &after) == 0 &&
		    same_file(st, &after)))
			break;
		free(buf);
	}
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (n == HARD_MAX) {
			if (errs != NULL)
				fprintf(errs, "%s:%d: more than %d hosts\n",
				    path, lineno, HARD_MAX);
			goto bad;
		}
		s = xreallocarray(s, n + 1, sizeof(*s));
		memset(&s[n], 0, sizeof(s[n]));
		if (!parse_line(line, &s[n].e)) {
			if (errs != NULL)
				fprintf(errs, "%s:%d: not \"HOST sha256/LEAF "
				    "sha256/ISSUER|- TIME\"\n", path, lineno);
			goto bad;
		}
		n++;
	}
	free(buf);
	*out = s;
	*nout = n;
	return 0;
bad:
	free(buf);
	free(s);
	return -1;
}


/* Take the file's entries, keeping the changes not yet written. */
static void
merge(struct tofu *t, struct slot *fresh, size_t nfresh)
{
	size_t	 i, j;

	for (i = 0; i < t->n; i++) {
		if (!t->s[i].dirty)
			continue;
		for (j = 0; j < nfresh; j++)
			if (strcmp(fresh[j].e.host, t->s[i].e.host) == 0)
				break;
		if (j == nfresh) {
			if (nfresh >= t->max)
				continue;	/* full meanwhile: pinned anew
						 * at its next connection */
			fresh = xreallocarray(fresh, nfresh + 1,
			    sizeof(*fresh));
			nfresh++;
		}
		fresh[j] = t->s[i];
	}
	free(t->s);
	t->s = fresh;
	t->n = nfresh;
}

static int
lock(const struct tofu *t)
{
	char	 path[4096];
	int	 fd, tries = t->patient ? 200 : 1;

	snprintf(path, sizeof(path), "%s/%s.lock", t->dir, TOFU_FILE);
	/* read-only is enough for flock, and 0644 lets the daemon's user
	 * lock a file that root's `pinshim tofu` created first */
	if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) == -1)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK || --tries == 0) {
			close(fd);
			return -1;
		}
		usleep(10000);		/* the CLI only: up to 2 s */
	}
	return fd;
}

/* The whole store to the file; the caller holds the lock. */
static int
write_locked(struct tofu *t)
{
	char	*buf, a[PIN_TEXT_LEN + 1], b[PIN_TEXT_LEN + 1], when[32];
	char	 path[4096];
	size_t	 i, len = 0;
	int	 rc = -1;

	buf = xcalloc(t->n + 1, LINE_MAX_);
	for (i = 0; i < t->n; i++) {
		pin_format(&t->s[i].e.leaf, a);
		if (t->s[i].e.has_issuer)
			pin_format(&t->s[i].e.issuer, b);
		format_rfc3339(t->s[i].e.since, when, sizeof(when));
		len += (size_t)snprintf(buf + len, LINE_MAX_, "%s %s %s %s\n",
		    t->s[i].e.host, a, t->s[i].e.has_issuer ? b : "-", when);
	}
	if (file_replace(t->dir, TOFU_FILE, buf, len) == 0) {
		for (i = 0; i < t->n; i++)
			t->s[i].dirty = false;
		snprintf(path, sizeof(path), "%s/%s", t->dir, TOFU_FILE);
		t->have_seen = stat(path, &t->seen) == 0;
		rc = 0;
	}
	free(buf);
	return rc;
}

/* Under the lock, from the read to the write: the file again (another
 * process may have changed it), what is not in it yet kept, host (if not
 * NULL) forgotten, all written. 1 written, 0 host was not there (nothing
 * written), -1 locked or unwritable. */
static int
update(struct tofu *t, const char *forget)
{
	struct slot	*fresh, *s;
	size_t		 nfresh;
	struct stat	 st;
	int		 fd, rc = -1;

	if ((fd = lock(t)) == -1)
		return -1;
	if (read_file(t, &fresh, &nfresh, &st, NULL) == 0) {
		merge(t, fresh, nfresh);
		if (forget != NULL && (s = find(t, forget)) == NULL)
			rc = 0;
		else {
			if (forget != NULL)
				*s = t->s[--t->n];
			rc = write_locked(t) == 0 ? 1 : -1;
		}
	}
	close(fd);
	return rc;
}

/* The file again, whatever its stat says; its entries win over what is
 * not dirty here. */
static void
reread(struct tofu *t)
{
	struct slot	*fresh;
	size_t		 nfresh;
	struct stat	 st;

	if (read_file(t, &fresh, &nfresh, &st, NULL) == -1)
		return;		/* damaged by hand: keep what we know */
	merge(t, fresh, nfresh);
	t->seen = st;
	t->have_seen = true;
}

/* Slot i through the writer (the keeper, which owns the file under
 * privilege separation), saying which leaf it replaces, if any: 0 written
 * or handed over (TOFU_SENT: its answer comes through tofu_written; one
 * per host at a time, so answers apply in order); -1 kept dirty; or
 * TOFU_REFUSED: the slot is dropped and the file read again, so what it
 * holds is what applies (and were it unreadable, the writer would still
 * refuse a first use of a host it knows). */
static int
write_one(struct tofu *t, size_t i, bool *dropped)
{
	struct slot	*s = &t->s[i];
	int		 w;

	*dropped = false;
	if (s->sending)
		return 0;	/* sent again once the writer answered */
	w = t->writer(t->writer_arg, &s->e, s->has_prev ? &s->prev : NULL,
	    &t->writer_why);
	if (w == TOFU_SENT) {
		s->sending = true;
		s->sent = s->e.leaf;
		return 0;
	}
	if (w == 0) {
		s->dirty = false;
		s->has_prev = false;
		return 0;
	}
	if (w == TOFU_REFUSED) {
		t->s[i] = t->s[--t->n];
		*dropped = true;
		reread(t);
	}
	return w;
}

void
tofu_written(struct tofu *t, const char *host, const struct pin *leaf,
    int rc)
{
	struct slot	*s = find(t, host);
	bool		 same, dropped;

	if (s == NULL || !s->sending)
		return;		/* forgotten meanwhile */
	s->sending = false;
	same = memcmp(s->sent.hash, leaf->hash, PIN_HASH_LEN) == 0 &&
	    memcmp(s->e.leaf.hash, leaf->hash, PIN_HASH_LEN) == 0;
	if (same && rc == 0) {
		s->dirty = false;
		s->has_prev = false;
	} else if (same && rc == TOFU_REFUSED) {
		*s = t->s[--t->n];
		reread(t);
	} else if (!same) {	/* put again while it was sent: this one */
		if (rc == 0) {
			s->prev = s->sent;
			s->has_prev = true;
		}
		(void)write_one(t, (size_t)(s - t->s), &dropped);
	}
	/* else -1: dirty, written again by the next tofu_refresh */
}

/* What is not in the file yet, to it: here, under the lock, or each entry
 * through the writer. */
static int
save(struct tofu *t)
{
	size_t	 i;
	int	 rc = 0;
	bool	 dropped;

	if (t->writer == NULL)
		return update(t, NULL) == 1 ? 0 : -1;
	for (i = 0; i < t->n; i++) {
		if (!t->s[i].dirty || t->s[i].sending)
			continue;
		if (write_one(t, i, &dropped) != 0)
			rc = -1;
		if (dropped)
			i = (size_t)-1;	/* the file was read again: restart */
	}
	return rc;
}

void
tofu_set_writer(struct tofu *t, tofu_writer w, void *arg)
{
	t->writer = w;
	t->writer_arg = arg;
}

struct tofu *
tofu_open(const char *dir, size_t max, FILE *errs)
{
	struct tofu	*t = xcalloc(1, sizeof(*t));

	t->dir = xstrdup(dir);
	t->max = max;
	if (read_file(t, &t->s, &t->n, &t->seen, errs) == -1) {
		tofu_free(t);
		return NULL;
	}
	t->have_seen = true;
	return t;
}

void
tofu_wait_for_lock(struct tofu *t)
{
	t->patient = true;
}

void
tofu_free(struct tofu *t)
{
	if (t == NULL)
		return;
	free(t->s);
	free(t->dir);
	free(t);
}

void
tofu_refresh(struct tofu *t)
{
	char		 path[4096];
	struct stat	 st;
	size_t		 i;
	bool		 dirty = false;

	snprintf(path, sizeof(path), "%s/%s", t->dir, TOFU_FILE);
	if (stat(path, &st) == -1)
		memset(&st, 0, sizeof(st));
	for (i = 0; i < t->n; i++)
		dirty |= t->s[i].dirty;
	if (!t->have_seen || !same_file(&st, &t->seen))
		reread(t);
	if (dirty)
		(void)save(t);	/* the lock was busy last time */
}

const struct tofu_entry *
tofu_get(const struct tofu *t, const char *host)
{
	const struct slot	*s = find(t, host);

	return s != NULL ? &s->e : NULL;
}

int
tofu_put(struct tofu *t, const char *host, const struct pin *leaf,
    const struct pin *issuer, int64_t now, const char **why)
{
	struct slot	*s = find(t, host);
	char		 canon[HOST_MAX + 1];

	/* one line per entry: nothing but a host name, and a time that
	 * prints as one */
	if (!host_canon(host, canon, sizeof(canon), why) ||
	    strcmp(canon, host) != 0 || now < 0 || now > TOFU_TIME_MAX) {
		*why = "not a canonical host name, or a time out of range";
		return -1;
	}
	if (s == NULL) {
		if (t->n >= t->max) {
			*why = "the TOFU store is full";
			return -1;
		}
		t->s = xreallocarray(t->s, t->n + 1, sizeof(*t->s));
		s = &t->s[t->n++];
		memset(s, 0, sizeof(*s));
	} else if (!s->has_prev) {	/* the pinned leaf this replaces */
		s->prev = s->e.leaf;
		s->has_prev = true;
	}
	snprintf(s->e.host, sizeof(s->e.host), "%s", host);
	s->e.leaf = *leaf;
	if ((s->e.has_issuer = issuer != NULL))
		s->e.issuer = *issuer;
	else
		memset(&s->e.issuer, 0, sizeof(s->e.issuer));
	s->e.since = now;
	s->dirty = true;
	if (t->writer != NULL) {	/* this entry only: tofu_refresh
					 * retries the others */
		bool	 dropped;

		if (write_one(t, (size_t)(s - t->s), &dropped) == 0)
			return 0;
		*why = t->writer_why;
		return -1;
	}
	if (save(t) == -1) {
		*why = "not written yet (the store is locked or cannot be "
		    "written); kept in memory";
		return -1;
	}
	return 0;
}

int
tofu_forget(struct tofu *t, const char *host)
{
	return update(t, host);
}

size_t
tofu_count(const struct tofu *t)
{
	return t->n;
}

size_t
tofu_pending(const struct tofu *t)
{
	size_t	 i, n = 0;

	for (i = 0; i < t->n; i++)
		n += t->s[i].dirty;
	return n;
}

size_t
tofu_unsent(const struct tofu *t)
{
	size_t	 i, n = 0;

	for (i = 0; i < t->n; i++)
		n += t->s[i].dirty && !t->s[i].sending;
	return n;
}

const struct tofu_entry *
tofu_at(const struct tofu *t, size_t i)
{
	return i < t->n ? &t->s[i].e : NULL;
}
