/*
 * parse.h - strict parsers for the small values the configuration, the
 * feed and the command line share: numbers, RFC 3339 times, host:port.
 * Parsers return bool and write their output only on success.
 */
#ifndef PINSHIM_BASE_PARSE_H
#define PINSHIM_BASE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A whole decimal string in [min, max]: no sign, blank or trailing byte. */
bool	 parse_uint(const char *s, unsigned long min, unsigned long max,
	    unsigned long *out);

/* "host:port" or "[v6]:port"; host (without brackets) written into buf. */
bool	 parse_hostport(const char *s, char *host, size_t hostsz,
	    uint16_t *port);

/* "2027-01-31T12:00:00Z" (UTC only) to seconds since the epoch, in 64
 * bits whatever time_t is (2038 is near for a feed's expires). */
bool	 parse_rfc3339(const char *s, int64_t *out);
/* Control bytes (below 0x20, and 0x7f) in s become '?': text that came
 * from a peer is printed, never interpreted by a terminal. */
void	 str_printable(char *s);
/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0 for a
 * byte that does not start one (stray continuation, overlong form,
 * surrogate, past U+10FFFF, cut short). A NUL ends the string, so it
 * never counts as a continuation. */
size_t	 str_utf8_len(const char *s);
/* One character of a JSON string: of the n bytes at s (n > 0), the first
 * character (the input bytes used, returned) becomes the *outlen bytes
 * written to out: itself when well-formed UTF-8 (within n), \" or \\
 * for a quote or backslash, \u00XX for a control byte or DEL, and
 * \ufffd for a byte that does not start a well-formed sequence. */
#define STR_JSON_MAX	6	/* the most one character becomes */
size_t	 str_json_char(const char *s, size_t n, char out[STR_JSON_MAX],
	    size_t *outlen);
/* s is well-formed UTF-8 without control characters (C0, DEL, C1). */
bool	 str_utf8_printable(const char *s);
void	 format_rfc3339(int64_t, char *buf, size_t sz);	/* sz >= 21 */

#endif
