/*
 * tofu.h - the trust-on-first-use store: for each host under policy tofu,
 * the leaf key (and its issuer's) first seen, kept in state_dir/tofu.pins
 * across restarts; shared with `pinshim tofu list|forget` while the
 * daemon runs.
 */
#ifndef PINSHIM_PINS_TOFU_H
#define PINSHIM_PINS_TOFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pins/host.h"
#include "pins/pin.h"

#define TOFU_FILE	"tofu.pins"
#define TOFU_DEFAULT_MAX 1024

struct tofu_entry {
	char		 host[HOST_MAX + 1];
	struct pin	 leaf;
	bool		 has_issuer;
	struct pin	 issuer;
	int64_t		 since;		/* first seen (or last accepted) */
};

struct tofu;

/* The store in dir, read now; max: hosts it may hold. Errors (a damaged
 * line) go to errs with FILE:LINE, and the store is then refused. */
struct tofu	*tofu_open(const char *dir, size_t max, FILE *errs);
void		 tofu_free(struct tofu *);
/* Entries go to w instead of the file (the worker, whose keeper writes
 * the file), each with the leaf it replaces (NULL: a first use): 0
 * written; TOFU_SENT: handed over, its answer to come through
 * tofu_written (the entry is enforced from memory meanwhile, and counted
 * by tofu_pending); -1 with *why, kept to be written again at the next
 * refresh; or TOFU_REFUSED with *why: refused for good, the entry is
 * dropped and the file read again. */
#define TOFU_REFUSED	(-2)
#define TOFU_SENT	1
#define TOFU_TIME_MAX	253402300799LL	/* 9999-12-31T23:59:59Z */
typedef int	(*tofu_writer)(void *arg, const struct tofu_entry *,
		    const struct pin *replaces, const char **why);
void		 tofu_set_writer(struct tofu *, tofu_writer, void *arg);
/* The writer's answer to host's entry with leaf, sent by TOFU_SENT: 0
 * written, -1 not (kept dirty), TOFU_REFUSED (dropped, the file read
 * again). An answer for an entry put again since sends the newer one. */
void		 tofu_written(struct tofu *, const char *host,
		    const struct pin *leaf, int rc);
/* For `pinshim tofu`: wait (up to 2 s) for the daemon's write, instead
 * of giving up at once. */
void		 tofu_wait_for_lock(struct tofu *);
/* Read the file again if another process (pinshim tofu) changed it. */
void		 tofu_refresh(struct tofu *);
const struct tofu_entry *tofu_get(const struct tofu *, const char *host);
/* Add or replace host's entry (host canonical, now within years
 * 1970..9999) and write the file (temp, fsync, rename). 0 (written, or
 * sent to the writer); -1 with *why:
 * a bad host or time, full, or the file could not be written (the entry
 * is then kept in memory and written with the next change; refused by
 * the writer, it is gone: see tofu_set_writer). */
int		 tofu_put(struct tofu *, const char *host, const struct pin *leaf,
		    const struct pin *issuer, int64_t now, const char **why);
/* 1 forgotten, 0 not there, -1 the file could not be written. */
int		 tofu_forget(struct tofu *, const char *host);
size_t		 tofu_count(const struct tofu *);
/* Entries held in memory only: their write failed (the disk full or
 * read-only, the lock busy); tofu_refresh writes them again. */
size_t		 tofu_pending(const struct tofu *);
/* Of those, the ones not with the writer now: their write failed. */
size_t		 tofu_unsent(const struct tofu *);
const struct tofu_entry *tofu_at(const struct tofu *, size_t i);

#endif
