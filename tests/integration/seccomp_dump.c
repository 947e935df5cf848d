/*
 * seccomp_dump.c - print the worker's seccomp filter as a target's
 * compiler builds it (its audit arch, then one "code jt jf k" line per
 * instruction), for test_sandbox_arch.py to run on chosen system calls.
 * It includes shim/proc/sandbox.c itself, so the filter is the daemon's,
 * with the target's own system call numbers; it runs under qemu-user,
 * which cannot load a seccomp filter but can print one.
 *
 * Must never: apply the filter (it only prints it).
 */
#include <stdarg.h>
#include <stdio.h>

#include "base/log.h"

void
log_msg(enum log_level level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

#include "shim/proc/sandbox.c"

int	main(void);

int
main(void)
{
#ifdef ARCH
	size_t	 i;

	printf("arch %u %s\n", (unsigned)ARCH,
	    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? "big" : "little");
	for (i = 0; i < sizeof(filter) / sizeof(filter[0]); i++)
		printf("%u %u %u %u\n", filter[i].code, filter[i].jt,
		    filter[i].jf, filter[i].k);
#else
	printf("arch none\n");
#endif
	return 0;
}
