/*
 * value: the typed param trees of include/kiln/plugin.h.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

static int
keycmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

void
kiln_value_sort_map(kiln_value *map)
{
	size_t n = map->u.seq.n, i;
	const char **keys = (const char **)map->u.seq.keys;
	kiln_value *items = (kiln_value *)map->u.seq.items;
	struct pair {
		const char *key;
		kiln_value item;
	} *p;

	if (n < 2)
		return;
	/* Sort (key, item) pairs together, then write them back. */
	p = xreallocarray(NULL, n, sizeof(*p));
	for (i = 0; i < n; i++) {
		p[i].key = keys[i];
		p[i].item = items[i];
	}
	qsort(p, n, sizeof(*p), keycmp);
	for (i = 0; i < n; i++) {
		keys[i] = p[i].key;
		items[i] = p[i].item;
	}
	free(p);
}

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24};

	buf_add(b, c, 4);
}

static void
put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

void
kiln_value_encode(struct buf *b, const kiln_value *v)
{
	size_t i;
	uint64_t bits;
	double d;

	switch (kiln_value_type(v)) {
	case KILN_NIL:
		buf_addc(b, '0');
		break;
	case KILN_BOOL:
		buf_addc(b, v->u.b ? 'T' : 'F');
		break;
	case KILN_INT:
		buf_addc(b, 'i');
		put_u64(b, (uint64_t)v->u.i);
		break;
	case KILN_NUMBER:
		/* -0.0 and 0.0 are the same param; NaN has one encoding. */
		d = v->u.n == 0 ? 0.0 : v->u.n;
		if (isnan(d))
			d = NAN;
		memcpy(&bits, &d, 8);
		buf_addc(b, 'n');
		put_u64(b, bits);
		break;
	case KILN_STRING:
		buf_addc(b, 's');
		put_u32(b, v->u.str.len);
		buf_add(b, v->u.str.s, v->u.str.len);
		break;
	case KILN_LIST:
		buf_addc(b, 'l');
		put_u32(b, v->u.seq.n);
		for (i = 0; i < v->u.seq.n; i++)
			kiln_value_encode(b, &v->u.seq.items[i]);
		break;
	case KILN_MAP:
		buf_addc(b, 'm');
		put_u32(b, v->u.seq.n);
		for (i = 0; i < v->u.seq.n; i++) {
			put_u32(b, strlen(v->u.seq.keys[i]));
			buf_adds(b, v->u.seq.keys[i]);
			kiln_value_encode(b, &v->u.seq.items[i]);
		}
		break;
	default:
		die("value of unknown type %d", v->type);
	}
}

/* A reader of kiln_value_encode's bytes: sizes what decoding needs, then fills it from mem. */
struct dec {
	const unsigned char *p, *end;
	char *mem;		/* NULL while only checking */
	size_t need;		/* bytes of nodes and strings, each 8-aligned */
	int bad;
};

static const unsigned char *
take(struct dec *d, size_t n)
{
	const unsigned char *p = d->p;

	if (d->bad || (size_t)(d->end - d->p) < n) {
		d->bad = 1;
		return NULL;
	}
	d->p += n;
	return p;
}

static uint64_t
get_le(struct dec *d, int n)
{
	const unsigned char *c = take(d, n);
	uint64_t v = 0;

	while (c && n--)
		v = v << 8 | c[n];
	return v;
}

static void *
room(struct dec *d, size_t n)
{
	char *p = d->mem ? d->mem + d->need : NULL;

	d->need += (n + 7) & ~(size_t)7;
	return p;
}

/* A string: a u32 length and its bytes, unterminated; decoded with a NUL. */
static const char *
get_str(struct dec *d, size_t *len)
{
	uint32_t n = (uint32_t)get_le(d, 4);
	const unsigned char *s = take(d, n);
	char *c = room(d, (size_t)n + 1);

	if (c && s) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	if (len)
		*len = n;
	return c;
}

static void
dec_value(struct dec *d, kiln_value *v, int depth)
{
	const unsigned char *tag = take(d, 1);
	kiln_value *items;
	const char **keys = NULL;
	size_t n, i;

	if (!tag || depth > 64) {
		d->bad = 1;
		return;
	}
	if (v)
		memset(v, 0, sizeof(*v));
	switch (*tag) {
	case '0':
		if (v)
			v->type = KILN_NIL;
		return;
	case 'T':
	case 'F':
		if (v)
			*v = (kiln_value){.type = KILN_BOOL, .u.b = *tag == 'T'};
		return;
	case 'i':
	case 'n':
		if (v) {
			uint64_t bits = get_le(d, 8);

			v->type = *tag == 'i' ? KILN_INT : KILN_NUMBER;
			memcpy(*tag == 'i' ? (void *)&v->u.i : (void *)&v->u.n, &bits, 8);
		} else
			take(d, 8);
		return;
	case 's':
		if (v) {
			v->type = KILN_STRING;
			v->u.str.s = get_str(d, &v->u.str.len);
		} else
			get_str(d, NULL);
		return;
	case 'l':
	case 'm':
		n = (size_t)get_le(d, 4);
		if (n > (size_t)(d->end - d->p)) {	/* each item takes a byte at least */
			d->bad = 1;
			return;
		}
		items = room(d, n * sizeof(*items));
		if (*tag == 'm')
			keys = room(d, n * sizeof(*keys));
		for (i = 0; i < n && !d->bad; i++) {
			const char *k = *tag == 'm' ? get_str(d, NULL) : NULL;

			if (keys)
				keys[i] = k;
			dec_value(d, items ? &items[i] : NULL, depth + 1);
		}
		if (v)
			*v = (kiln_value){.type = *tag == 'l' ? KILN_LIST : KILN_MAP, .u.seq = {n, items, keys}};
		return;
	default:
		d->bad = 1;
	}
}

long
kiln_value_check(const void *p, size_t len)
{
	struct dec d = {p, (const unsigned char *)p + len, NULL, sizeof(kiln_value), 0};

	dec_value(&d, NULL, 0);
	return d.bad || d.p != d.end || d.need > LONG_MAX ? -1 : (long)d.need;
}

kiln_value *
kiln_value_decode(const void *p, size_t len, void *mem)
{
	struct dec d = {p, (const unsigned char *)p + len, mem, sizeof(kiln_value), 0};

	dec_value(&d, mem, 0);
	if (d.bad)
		die("kiln_value_decode: bytes kiln_value_check did not pass");
	return mem;
}

static void
format_string(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			buf_printf(b, "\\%03d", (unsigned char)*s);
		else
			buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

void
kiln_value_format(struct buf *b, const kiln_value *v)
{
	size_t i;

	switch (kiln_value_type(v)) {
	case KILN_NIL:
		buf_adds(b, "nil");
		break;
	case KILN_BOOL:
		buf_adds(b, v->u.b ? "true" : "false");
		break;
	case KILN_INT:
		buf_printf(b, "%lld", v->u.i);
		break;
	case KILN_NUMBER:
		buf_printf(b, "%.17g", v->u.n);
		break;
	case KILN_STRING:
		format_string(b, v->u.str.s);
		break;
	case KILN_LIST:
	case KILN_MAP:
		buf_addc(b, '{');
		for (i = 0; i < v->u.seq.n; i++) {
			if (i)
				buf_adds(b, ", ");
			if (v->type == KILN_MAP)
				buf_printf(b, "%s = ", v->u.seq.keys[i]);
			kiln_value_format(b, &v->u.seq.items[i]);
		}
		buf_addc(b, '}');
		break;
	}
}

json_t *
kiln_value_to_json(const kiln_value *v)
{
	json_t *j;
	size_t i;

	switch (kiln_value_type(v)) {
	case KILN_BOOL:
		return json_boolean(v->u.b);
	case KILN_INT:
		return json_integer(v->u.i);
	case KILN_NUMBER:
		return json_real(v->u.n);
	case KILN_STRING:
		return json_stringn(v->u.str.s, v->u.str.len);
	case KILN_LIST:
		j = json_array();
		for (i = 0; i < v->u.seq.n; i++)
			json_array_append_new(j, kiln_value_to_json(&v->u.seq.items[i]));
		return j;
	case KILN_MAP:
		j = json_object();
		for (i = 0; i < v->u.seq.n; i++)
			json_object_set_new(j, v->u.seq.keys[i], kiln_value_to_json(&v->u.seq.items[i]));
		return j;
	default:
		return json_null();
	}
}

static int
fill(struct arena *a, kiln_value *v, const json_t *j, char *err, size_t errlen)
{
	size_t i, n;
	const char *key;
	json_t *item;
	kiln_value *items;
	const char **keys;

	switch (json_typeof(j)) {
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = KILN_BOOL;
		v->u.b = json_is_true(j);
		return 0;
	case JSON_INTEGER:
		v->type = KILN_INT;
		v->u.i = json_integer_value(j);
		return 0;
	case JSON_REAL:
		v->type = KILN_NUMBER;
		v->u.n = json_real_value(j);
		return 0;
	case JSON_STRING:
		v->type = KILN_STRING;
		v->u.str.len = json_string_length(j);
		v->u.str.s = arena_strndup(a, json_string_value(j), v->u.str.len);
		return 0;
	case JSON_ARRAY:
		n = json_array_size(j);
		items = arena_alloc(a, n * sizeof(*items));
		json_array_foreach(j, i, item)
			if (fill(a, &items[i], item, err, errlen) < 0)
				return -1;
		v->type = KILN_LIST;
		v->u.seq.n = n;
		v->u.seq.items = items;
		v->u.seq.keys = NULL;
		return 0;
	case JSON_OBJECT:
		n = json_object_size(j);
		items = arena_alloc(a, n * sizeof(*items));
		keys = arena_alloc(a, n * sizeof(*keys));
		i = 0;
		json_object_foreach((json_t *)j, key, item) {
			keys[i] = arena_strdup(a, key);
			if (fill(a, &items[i], item, err, errlen) < 0)
				return -1;
			i++;
		}
		v->type = KILN_MAP;
		v->u.seq.n = n;
		v->u.seq.items = items;
		v->u.seq.keys = keys;
		kiln_value_sort_map(v);
		return 0;
	default:
		snprintf(err, errlen, "null has no value form");
		return -1;
	}
}

kiln_value *
kiln_value_from_json(struct arena *a, const json_t *j, char *err, size_t errlen)
{
	kiln_value *v = arena_alloc(a, sizeof(*v));

	return fill(a, v, j, err, errlen) < 0 ? NULL : v;
}
