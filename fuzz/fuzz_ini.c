/*
 * fuzz_ini.c - the INI loader (and through it the engine and every key
 * parser), reading the input from a memfd as if it were the file.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "conf/conf.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 path[64];
	struct conf	*c;
	FILE		*null = fopen("/dev/null", "w");
	int		 fd = memfd_create("pinshim.ini", 0);

	if (fd == -1 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((c = conf_load(path, null)) != NULL) {
		INVARIANT(c->nlisteners > 0);
		conf_free(c);
	}
	close(fd);
	fclose(null);
	return 0;
}
