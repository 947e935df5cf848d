/*
 * fuzz_weaken.c - the weakening check over snapshots drawn from the
 * input: snapshot_weaker() says "weaker" exactly when the brute-force
 * oracle of fuzz/weaken_model.h finds a name that got weaker, and then
 * names what it found.
 */
#include "fuzz/fuzz.h"
#include "fuzz/weaken_model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wm_bytes	 b = { data, size };
	struct snapshot	*old = wm_snapshot(&b), *new = wm_snapshot(&b);
	char		 why[300], name[32];
	bool		 weaker, oracle;

	why[0] = '\0';
	weaker = snapshot_weaker(old, new, why, sizeof(why));
	oracle = wm_some_name_weaker(old, new, name, sizeof(name));
	if (weaker != oracle)
		fprintf(stderr, "snapshot_weaker %d (%s), oracle %d (%s)\n",
		    weaker, why, oracle, oracle ? name : "-");
	INVARIANT(weaker == oracle);
	INVARIANT(!weaker || why[0] != '\0');
	snapshot_unref(old);
	snapshot_unref(new);
	return 0;
}
