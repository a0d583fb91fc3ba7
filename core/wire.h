/*
 * wire: the little-endian binary encoding of kiln's own files (.kiln/state,
 * .kiln/graph): writers append to a buf, readers are bounds-checked and
 * latch an error instead of reading past the end.
 */
#ifndef KILN_WIRE_H
#define KILN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "util.h"

void wire_u32(struct buf *b, uint32_t v);
void wire_u64(struct buf *b, uint64_t v);
void wire_f64(struct buf *b, double v);
/* A length-prefixed, NUL-terminated string (so a reader can point into the buffer). */
void wire_str(struct buf *b, const char *s);
void wire_digest(struct buf *b, const struct kiln_digest *d);

struct wire {
	const unsigned char *p, *end;
	int bad;		/* set once anything was short or out of range */
};

/*
 * The readers every record field goes through: inline, because a no-op
 * build decodes the whole state and graph cache with them.
 */
static inline const unsigned char *
wire_take(struct wire *w, size_t n)
{
	const unsigned char *p = w->p;

	if (w->bad || (size_t)(w->end - w->p) < n) {
		w->bad = 1;
		return NULL;
	}
	w->p += n;
	return p;
}

static inline uint32_t
wire_get_u32(struct wire *w)
{
	const unsigned char *c = wire_take(w, 4);

	return c ? (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24 : 0;
}

static inline uint64_t
wire_get_u64(struct wire *w)
{
	uint64_t lo = wire_get_u32(w);

	return lo | (uint64_t)wire_get_u32(w) << 32;
}

double wire_get_f64(struct wire *w);
/* A string copied into the arena ("" when bad). */
const char *wire_get_str(struct wire *w, struct arena *a);
/* A string pointing into the buffer being read, which must outlive it ("" when bad). */
const char *wire_get_ref(struct wire *w);
void wire_get_digest(struct wire *w, struct kiln_digest *d);
/* A count of items of at least `minsize` bytes each: never more than could fit in what is left. */
size_t wire_get_count(struct wire *w, size_t minsize);

/*
 * The records of kiln's logs (.kiln/state, .kiln/history): a u32 length, a
 * type byte, the payload and an XXH3-64 of type and payload. Append one.
 */
void wire_frame(struct buf *out, int type, const void *payload, size_t len);
/*
 * Read the record at w (of at most max bytes), moving w past it: 1, with
 * its type and payload; 0 when what is there is short (torn) or its
 * checksum is wrong.
 */
int wire_unframe(struct wire *w, size_t max, int *type, struct wire *payload);

#endif
