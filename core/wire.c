/*
 * wire: the binary encoding of kiln's own files.
 */
#include <string.h>
#include <xxhash.h>

#include "wire.h"

void
wire_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24};

	buf_add(b, c, 4);
}

void
wire_u64(struct buf *b, uint64_t v)
{
	wire_u32(b, (uint32_t)v);
	wire_u32(b, (uint32_t)(v >> 32));
}

void
wire_f64(struct buf *b, double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	wire_u64(b, u);
}

void
wire_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	wire_u32(b, n);
	buf_add(b, s, n + 1);
}

void
wire_digest(struct buf *b, const struct kiln_digest *d)
{
	buf_add(b, d->b, 16);
}

double
wire_get_f64(struct wire *w)
{
	uint64_t u = wire_get_u64(w);
	double v;

	memcpy(&v, &u, 8);
	return v;
}

const char *
wire_get_ref(struct wire *w)
{
	uint32_t n = wire_get_u32(w);
	const unsigned char *s = wire_take(w, (size_t)n + 1);

	if (!s || s[n] != '\0') {
		w->bad = 1;
		return "";
	}
	return (const char *)s;
}

const char *
wire_get_str(struct wire *w, struct arena *a)
{
	const char *s = wire_get_ref(w);

	return w->bad ? "" : arena_strdup(a, s);
}

void
wire_get_digest(struct wire *w, struct kiln_digest *d)
{
	const unsigned char *c = wire_take(w, 16);

	if (c)
		memcpy(d->b, c, 16);
	else
		memset(d->b, 0, 16);
}

size_t
wire_get_count(struct wire *w, size_t minsize)
{
	uint32_t n = wire_get_u32(w);

	if ((size_t)(w->end - w->p) / (minsize ? minsize : 1) < n)
		w->bad = 1;
	return w->bad ? 0 : n;
}

void
wire_frame(struct buf *out, int type, const void *payload, size_t len)
{
	XXH3_state_t *h = XXH3_createState();
	unsigned char t = type;

	if (!h)
		die("out of memory");
	wire_u32(out, len);
	buf_addc(out, type);
	buf_add(out, payload ? payload : "", len);
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, &t, 1);
	XXH3_64bits_update(h, payload ? payload : "", len);
	wire_u64(out, XXH3_64bits_digest(h));
	XXH3_freeState(h);
}

int
wire_unframe(struct wire *w, size_t max, int *type, struct wire *payload)
{
	uint32_t n = wire_get_u32(w);
	const unsigned char *t = wire_take(w, 1);
	const unsigned char *p = n <= max ? wire_take(w, n) : NULL;
	uint64_t sum = wire_get_u64(w);

	if (w->bad || !t || !p || XXH3_64bits(t, (size_t)n + 1) != sum)
		return 0;
	*type = *t;
	*payload = (struct wire){p, p + n, 0};
	return 1;
}
