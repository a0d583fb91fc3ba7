/*
 * value: the typed param trees of include/kiln/plugin.h — built from Lua,
 * encoded canonically for action keys, and carried to kiln-run as JSON.
 */
#ifndef KILN_VALUE_H
#define KILN_VALUE_H

#include <jansson.h>
#include <kiln/plugin.h>

#include "util.h"

/*
 * Sort a map's keys (and items with them) bytewise, as the ABI promises.
 * keys and items must be arena memory the map may permute.
 */
void kiln_value_sort_map(kiln_value *map);

/* Append the canonical, versioned byte encoding of v (for action keys). */
void kiln_value_encode(struct buf *b, const kiln_value *v);

/*
 * Check that the len bytes at p are one whole kiln_value_encode'd value:
 * the bytes its decoded form takes (nodes and strings, in one block), or -1.
 */
long kiln_value_check(const void *p, size_t len);
/*
 * Decode such bytes, which kiln_value_check passed, into mem (of the size
 * it returned): the value is at mem's start, everything it points to after.
 */
kiln_value *kiln_value_decode(const void *p, size_t len, void *mem);

/* Append a short human-readable rendering of v, Lua-like, for messages. */
void kiln_value_format(struct buf *b, const kiln_value *v);

/* v as JSON (a new reference). Integers stay integers, numbers reals. */
json_t *kiln_value_to_json(const kiln_value *v);

/* A value from JSON, allocated in `a`; NULL (with a message) for what has no value form. */
kiln_value *kiln_value_from_json(struct arena *a, const json_t *j, char *err, size_t errlen);

#endif
