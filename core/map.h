/*
 * map: a hash map from strings to pointers (open addressing, linear probing).
 * Keys are not copied: they must outlive the map (arena strings, usually).
 */
#ifndef KILN_MAP_H
#define KILN_MAP_H

#include <stddef.h>

/* No hash kept: 16 bytes a slot, which at 100,000 targets is megabytes (a rehash hashes again). */
struct map_slot {
	const char *key;
	void *value;
};

struct map {
	struct map_slot *slots;
	size_t cap, len;
};

#define MAP_INIT {NULL, 0, 0}

/* The value for key, or NULL. */
void *map_get(const struct map *m, const char *key);
/* Set key's value; returns the old value or NULL. */
void *map_put(struct map *m, const char *key, void *value);
/* Make room for n keys in all, so that putting them does not rehash. */
void map_reserve(struct map *m, size_t n);
void map_release(struct map *m);

#endif
