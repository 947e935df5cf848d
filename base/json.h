/*
 * json.h - writing JSON text into a libevent buffer (reports, /status):
 * strings escaped the one way JSON allows.
 */
#ifndef PINSHIM_BASE_JSON_H
#define PINSHIM_BASE_JSON_H

struct evbuffer;

/* s as a JSON string: quotes, backslashes and control bytes escaped,
 * bytes that are not well-formed UTF-8 written as U+FFFD. */
void	 json_str(struct evbuffer *, const char *s);

#endif
