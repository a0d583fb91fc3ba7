/*
 * The safetensors format: an 8-byte little-endian header length, a JSON
 * header mapping each tensor name to its dtype, shape and byte range, then
 * the raw little-endian data.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "npy.h"
#include "util.h"

void
kp_tensors_init(struct kp_tensors *ts)
{
	memset(ts, 0, sizeof(*ts));
}

void
kp_tensors_release(struct kp_tensors *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->t[i].name);
		kp_array_release(&ts->t[i].a);
	}
	free(ts->t);
	json_decref(ts->metadata);
	kp_tensors_init(ts);
}

void
kp_tensors_add(struct kp_tensors *ts, const char *name,
	struct kp_array *a)
{
	ts->t = kp_xrealloc(ts->t, ts->n + 1, sizeof(*ts->t));
	ts->t[ts->n].name = kp_xstrdup(name);
	ts->t[ts->n].a = *a;
	ts->n++;
	a->data = NULL;
}

const struct kp_array *
kp_tensors_get(const struct kp_tensors *ts, const char *name)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].name, name) == 0)
			return &ts->t[i].a;
	return NULL;
}

static int
byname(const void *a, const void *b)
{
	return strcmp((*(const struct kp_tensor *const *)a)->name,
		(*(const struct kp_tensor *const *)b)->name);
}

/* The JSON header and the tensors in file order. */
static char *
header(const struct kp_tensors *ts, const struct kp_tensor **order)
{
	json_t *h = json_object();
	size_t i, off = 0;
	char *s;

	for (i = 0; i < ts->n; i++)
		order[i] = &ts->t[i];
	qsort(order, ts->n, sizeof(*order), byname);
	for (i = 0; i < ts->n; i++) {
		const struct kp_array *a = &order[i]->a;
		size_t bytes = kp_array_count(a) * kp_dtype_size(a->dtype);
		json_t *shape = json_array();

		json_array_append_new(shape, json_integer((json_int_t)a->shape[0]));
		if (a->ndim == 2)
			json_array_append_new(shape, json_integer((json_int_t)a->shape[1]));
		json_object_set_new(h, order[i]->name, json_pack("{s:s, s:o, s:[I,I]}",
			"dtype", a->dtype == KP_I64 ? "I64" : "F32", "shape", shape,
			"data_offsets", (json_int_t)off, (json_int_t)(off + bytes)));
		off += bytes;
	}
	if (ts->metadata)
		json_object_set(h, "__metadata__", ts->metadata);
	s = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(h);
	return s;
}

int
kp_safetensors_write(const char *path, const struct kp_tensors *ts,
	char *err)
{
	const struct kp_tensor **order = kp_xmallocarray(ts->n + 1, sizeof(*order));
	char *h = header(ts, order), *buf;
	size_t hlen = strlen(h), padded = (hlen + 7) / 8 * 8, len = 8 + padded, i, p;
	int rc, k;

	for (i = 0; i < ts->n; i++)
		len += kp_array_count(&order[i]->a) * kp_dtype_size(order[i]->a.dtype);
	buf = kp_xmalloc(len);
	for (k = 0; k < 8; k++)
		buf[k] = (char)((uint64_t)padded >> (8 * k));
	memcpy(buf + 8, h, hlen);
	/* The format pads the header with spaces to keep the data aligned. */
	memset(buf + 8 + hlen, ' ', padded - hlen);
	p = 8 + padded;
	for (i = 0; i < ts->n; i++) {
		size_t bytes = kp_array_count(&order[i]->a) *
			kp_dtype_size(order[i]->a.dtype);

		if (bytes)
			memcpy(buf + p, order[i]->a.data, bytes);
		p += bytes;
	}
	rc = kp_write_file(path, buf, len, err);
	free(buf);
	free(h);
	free(order);
	return rc;
}

/* Check one header entry against the data and copy its bytes out. */
static int
entry(struct kp_tensors *ts, const char *key, json_t *v,
	const unsigned char *data, size_t dlen, const char *name, char *err)
{
	json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
		*offs = json_object_get(v, "data_offsets");
	struct kp_array a;
	json_int_t b, e;
	size_t i, need = 1;

	memset(&a, 0, sizeof(a));
	if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
	    json_array_size(offs) != 2)
		return kp_errf(err, "%s: tensor '%s': header needs dtype, shape and data_offsets",
			name, key);
	if (strcmp(json_string_value(dt), "F32") == 0)
		a.dtype = KP_F32;
	else if (strcmp(json_string_value(dt), "I64") == 0)
		a.dtype = KP_I64;
	else
		return kp_errf(err, "%s: tensor '%s': dtype %s not supported (F32, I64)",
			name, key, json_string_value(dt));
	a.ndim = (int)json_array_size(shape);
	if (a.ndim < 1 || a.ndim > 2)
		return kp_errf(err, "%s: tensor '%s': expected 1 or 2 dimensions, got %d",
			name, key, a.ndim);
	a.shape[1] = 1;
	for (i = 0; i < (size_t)a.ndim; i++) {
		json_t *d = json_array_get(shape, i);

		if (!json_is_integer(d) || json_integer_value(d) < 0 ||
		    json_integer_value(d) > (json_int_t)(dlen / kp_dtype_size(a.dtype)))
			return kp_errf(err, "%s: tensor '%s': shape does not fit in the file",
				name, key);
		a.shape[i] = (size_t)json_integer_value(d);
		need *= a.shape[i];
		if (need > dlen)
			return kp_errf(err, "%s: tensor '%s': shape does not fit in the file",
				name, key);
	}
	need *= kp_dtype_size(a.dtype);
	b = json_integer_value(json_array_get(offs, 0));
	e = json_integer_value(json_array_get(offs, 1));
	if (!json_is_integer(json_array_get(offs, 0)) || !json_is_integer(json_array_get(offs, 1)) ||
	    b < 0 || e < b || (size_t)e > dlen)
		return kp_errf(err, "%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu data bytes",
			name, key, (long long)b, (long long)e, dlen);
	if ((size_t)(e - b) != need)
		return kp_errf(err, "%s: tensor '%s': shape needs %zu bytes, data_offsets give %lld",
			name, key, need, (long long)(e - b));
	a.data = kp_xmalloc(need);
	if (need)
		memcpy(a.data, data + b, need);
	kp_tensors_add(ts, key, &a);
	return 0;
}

static int
parse_entries(struct kp_tensors *ts, json_t *h, const unsigned char *data,
	size_t dlen, const char *name, char *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(h, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			if (!json_is_object(v))
				return kp_errf(err, "%s: __metadata__ is not an object", name);
			ts->metadata = json_incref(v);
			continue;
		}
		if (!json_is_object(v))
			return kp_errf(err, "%s: tensor '%s': header entry is not an object",
				name, key);
		if (entry(ts, key, v, data, dlen, name, err) < 0)
			return -1;
	}
	return 0;
}

int
kp_safetensors_parse(const void *buf, size_t len, const char *name,
	struct kp_tensors *ts, char *err)
{
	const unsigned char *b = buf;
	json_error_t je;
	uint64_t hlen = 0;
	json_t *h;
	int k, rc;

	kp_tensors_init(ts);
	if (len < 8)
		return kp_errf(err, "%s: truncated safetensors file (%zu bytes)", name, len);
	for (k = 7; k >= 0; k--)
		hlen = hlen << 8 | b[k];
	if (hlen > len - 8)
		return kp_errf(err, "%s: safetensors header length %llu exceeds the file (%zu bytes)",
			name, (unsigned long long)hlen, len);
	h = json_loadb((const char *)b + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
	if (!h)
		return kp_errf(err, "%s: safetensors header is not JSON: %s", name, je.text);
	if (!json_is_object(h)) {
		json_decref(h);
		return kp_errf(err, "%s: safetensors header is not a JSON object", name);
	}
	rc = parse_entries(ts, h, b + 8 + hlen, len - 8 - (size_t)hlen, name, err);
	json_decref(h);
	if (rc < 0)
		kp_tensors_release(ts);
	return rc;
}

int
kp_safetensors_read(const char *path, struct kp_tensors *ts, char *err)
{
	size_t len;
	char *buf;
	int rc;

	kp_tensors_init(ts);
	if (kp_read_file(path, &buf, &len, err) < 0)
		return -1;
	rc = kp_safetensors_parse(buf, len, path, ts, err);
	free(buf);
	return rc;
}
