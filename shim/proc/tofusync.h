/*
 * tofusync.h - TOFU pins whose write to state_dir failed, written again
 * in the background until they land (tofusync.c).
 */
#ifndef PINSHIM_SHIM_TOFUSYNC_H
#define PINSHIM_SHIM_TOFUSYNC_H

#include <stddef.h>

#include <event2/event.h>

struct tofu;
struct tofusync;

/* Retries for store t (borrowed: it outlives the tofusync) on base. */
struct tofusync	*tofusync_new(struct event_base *, struct tofu *t);
void		 tofusync_free(struct tofusync *);
/* After a TOFU verdict or the writer's answer: if an entry is held in
 * memory only (its write failed), its retry is scheduled (unless one
 * already is); once all landed, that is said. */
void		 tofusync_kick(struct tofusync *);
/* Entries not written yet; background attempts since start. */
size_t		 tofusync_pending(const struct tofusync *);
unsigned long long tofusync_retries(const struct tofusync *);

#endif
