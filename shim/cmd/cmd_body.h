/*
 * cmd_body.h - set one key of one section in an INI feed body, as text.
 */
#ifndef PINSHIM_CMD_BODY_H
#define PINSHIM_CMD_BODY_H

#include <stdbool.h>
#include <stddef.h>

/* body with "key = value" in [section]: replacing the key (and its
 * continuation lines) if it is there, else added at the end of the
 * section, else in a new section at the end. malloc'd. */
char	*body_set(const char *body, size_t len, const char *section,
	    const char *key, const char *value, size_t *outlen);

#endif
