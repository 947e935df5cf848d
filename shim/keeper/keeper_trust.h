/*
 * keeper_trust.h - what the keeper knows of trust (keeper_trust.c), so
 * that what a worker asks it to write cannot roll trust back: the feed key
 * set the device trusts, and the rules of the feed it last wrote, by which
 * a TOFU rotation is judged. Used by the keeper only (keeper_answer.c).
 */
#ifndef PINSHIM_SHIM_KEEPER_TRUST_H
#define PINSHIM_SHIM_KEEPER_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "pins/pin.h"
#include "shim/keeper/keeper_wire.h"

struct conf;
struct keeper_trust;

/* The trust of conf's state_dir (which must be set): the configured key
 * set moved on by pins.keys, never behind pins.keyset (raised here when
 * pins.keys is ahead of it), and the rules of pins.feed if that is signed
 * by it. */
struct keeper_trust *keeper_trust_new(const struct conf *);
void	 keeper_trust_free(struct keeper_trust *);
/* Replace state_dir/pins.keys or pins.feed with buf if trust allows:
 * a chain that goes forward from the trusted set (pins.keyset raised
 * first), a feed that set signed, not older than the version floor unless
 * it replaced the signing role. 0; -1 with errno and why, which names
 * the file (EINVAL: refused). */
int	 keeper_trust_save(struct keeper_trust *, enum keeper_file,
	    const uint8_t *buf, size_t len, char *why, size_t whysz);
/* Whether pins.version may become v: not below the highest feed version
 * the device accepted (a feed written here that replaced the signing role
 * reset that to its own); if so, v is that floor from now on. Else false
 * with why. */
bool	 keeper_trust_floor_ok(struct keeper_trust *, unsigned long long v,
	    char *why, size_t whysz);
/* Whether host's TOFU leaf may be replaced by leaf (the caller has checked
 * the issuer is the pinned one): its rule is tofu with
 * tofu_accept_issuer, or lists leaf in observed. Else false with why. */
bool	 keeper_trust_swap_ok(const struct keeper_trust *, const char *host,
	    const struct pin *leaf, char *why, size_t whysz);

#endif
