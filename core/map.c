/*
 * map: a string-keyed hash map. Written here because it is a few dozen
 * lines and C has no standard one; hsearch(3) cannot grow.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "map.h"
#include "util.h"

static size_t
hash(const char *key)
{
	size_t h = (size_t)XXH3_64bits(key, strlen(key));

	return h ? h : 1;
}

static struct map_slot *
find(const struct map *m, const char *key, size_t h)
{
	size_t mask = m->cap - 1, i = h & mask;

	for (;; i = (i + 1) & mask) {
		struct map_slot *s = &m->slots[i];

		if (!s->key || strcmp(s->key, key) == 0)
			return s;
	}
}

/* Rehash into a table of cap slots (a power of two, more than m holds). */
static void
rehash(struct map *m, size_t cap)
{
	struct map old = *m;
	size_t i;

	m->cap = cap;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*find(m, old.slots[i].key, hash(old.slots[i].key)) = old.slots[i];
	free(old.slots);
}

static void
grow(struct map *m)
{
	rehash(m, m->cap ? m->cap * 2 : 16);
}

void
map_reserve(struct map *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;

	while ((n + 1) * 4 > cap * 3)
		cap *= 2;
	if (cap > m->cap)
		rehash(m, cap);
}

void *
map_get(const struct map *m, const char *key)
{
	struct map_slot *s;

	if (!m->cap)
		return NULL;
	s = find(m, key, hash(key));
	return s->key ? s->value : NULL;
}

void *
map_put(struct map *m, const char *key, void *value)
{
	size_t h = hash(key);
	struct map_slot *s;
	void *old;

	if ((m->len + 1) * 4 > m->cap * 3)
		grow(m);
	s = find(m, key, h);
	if (s->key) {
		old = s->value;
		s->value = value;
		return old;
	}
	s->key = key;
	s->value = value;
	m->len++;
	return NULL;
}

void
map_release(struct map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}
