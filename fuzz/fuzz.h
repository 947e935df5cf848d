/*
 * fuzz.h - what every libFuzzer harness shares: a NUL-terminated copy of
 * the input (most parsers take C strings), and an invariant check that
 * aborts, so a broken property is a crash libFuzzer keeps.
 */
#ifndef PINSHIM_FUZZ_H
#define PINSHIM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVARIANT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c,	\
		    __FILE__, __LINE__);				\
		abort();						\
	}								\
} while (0)

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The input as a string, cut at its first NUL; free() it. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char	*s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
