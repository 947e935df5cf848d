/*
 * pin.h - one public-key pin: SHA-256 over a DER SubjectPublicKeyInfo, and
 * the sets of them that a host policy carries.
 */
#ifndef PINSHIM_PIN_H
#define PINSHIM_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIN_HASH_LEN	32
#define PIN_B64_LEN	44			/* base64 of 32 bytes */
#define PIN_PREFIX	"sha256/"
#define PIN_TEXT_LEN	(7 + PIN_B64_LEN)	/* without the NUL */

struct pin {
	uint8_t		 hash[PIN_HASH_LEN];
};

/* Strict: "sha256/" + exactly 44 canonical base64 characters. */
bool	 pin_parse(const char *text, struct pin *out);
void	 pin_format(const struct pin *, char out[PIN_TEXT_LEN + 1]);
int	 pin_of_spki(const uint8_t *der, size_t len, struct pin *out);

struct pinset {
	size_t		 n;
	struct pin	*pins;		/* owned; freed by pinset_free */
};

/* Parse "sha256/A, sha256/B"; appends to set. On failure bad (the
 * caller's buffer) holds the offending item, perhaps truncated. */
bool	 pinset_parse_list(struct pinset *, const char *list, char *bad,
	    size_t badsz);
void	 pinset_add(struct pinset *, const struct pin *);
/* Constant time in the contents of the set: every pin is compared. */
bool	 pinset_contains(const struct pinset *, const struct pin *);
void	 pinset_free(struct pinset *);

#endif
