/*
 * strmap.c - open addressing with linear probing, grown at half load,
 * seeded FNV-1a so the layout cannot be chosen from outside.
 *
 * Must never: lose or duplicate a key across a resize.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/mem.h"
#include "base/strmap.h"

struct entry {
	char		*key;		/* owned; NULL: empty */
	size_t		 value;
};

struct strmap {
	struct entry	*v;		/* owned */
	size_t		 cap;		/* a power of two */
	size_t		 n;
	uint32_t	 seed;
};

static uint32_t
hash(const struct strmap *m, const char *s)
{
	uint32_t	 h = 2166136261u ^ m->seed;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct entry *
slot(const struct strmap *m, const char *key)
{
	size_t	 i = hash(m, key) & (m->cap - 1);

	while (m->v[i].key != NULL && strcmp(m->v[i].key, key) != 0)
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

struct strmap *
strmap_new(void)
{
	struct strmap	*m = xcalloc(1, sizeof(*m));

	m->cap = 16;
	m->v = xcalloc(m->cap, sizeof(*m->v));
	if (getentropy(&m->seed, sizeof(m->seed)) == -1)
		m->seed = (uint32_t)(uintptr_t)m;
	return m;
}

void
strmap_free(struct strmap *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++)
		free(m->v[i].key);
	free(m->v);
	free(m);
}

static void
grow(struct strmap *m)
{
	struct entry	*old = m->v;
	size_t		 oldcap = m->cap, i;

	m->cap *= 2;
	m->v = xcalloc(m->cap, sizeof(*m->v));
	for (i = 0; i < oldcap; i++)
		if (old[i].key != NULL)
			*slot(m, old[i].key) = old[i];
	free(old);
}

bool
strmap_add(struct strmap *m, const char *key, size_t value, size_t *old)
{
	struct entry	*e;

	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	e = slot(m, key);
	if (e->key != NULL) {
		if (old != NULL)
			*old = e->value;
		return false;
	}
	e->key = xstrdup(key);
	e->value = value;
	m->n++;
	return true;
}

bool
strmap_get(const struct strmap *m, const char *key, size_t *value)
{
	const struct entry *e = slot(m, key);

	if (e->key == NULL)
		return false;
	*value = e->value;
	return true;
}
