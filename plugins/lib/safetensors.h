/*
 * safetensors: sets of named tensors with string metadata, and their
 * .safetensors files (a JSON header, then the raw little-endian data).
 */
#ifndef KILN_PLUGLIB_SAFETENSORS_H
#define KILN_PLUGLIB_SAFETENSORS_H

#include <stddef.h>

#include "npy.h"

struct json_t;

/* One named tensor. */
struct kp_tensor {
	char *name;		/* malloc'd */
	struct kp_array a;	/* its shape and data (owned) */
};

/* A set of named tensors plus string metadata, as in a .safetensors file. */
struct kp_tensors {
	size_t n;		/* tensors in t */
	struct kp_tensor *t;	/* in the order added */
	struct json_t *metadata;	/* an object of strings (a reference owned), or NULL */
};

/* Make ts an empty set. */
void kp_tensors_init(struct kp_tensors *ts);
/* Free every tensor and the metadata. */
void kp_tensors_release(struct kp_tensors *ts);
/* Add a tensor; the set takes ownership of a's data. */
void kp_tensors_add(struct kp_tensors *ts, const char *name,
	struct kp_array *a);
/* The tensor called name, or NULL. */
const struct kp_array *kp_tensors_get(const struct kp_tensors *ts,
	const char *name);
/* Write ts to path. Tensors are written sorted by name, so the bytes depend
 * only on content. -1 with err. */
int kp_safetensors_write(const char *path, const struct kp_tensors *ts,
	char *err);
/* Read the .safetensors file at path into ts. -1 with err. */
int kp_safetensors_read(const char *path, struct kp_tensors *ts, char *err);
/* Parse buf[0..len), named `name` in messages, into ts. -1 with err. */
int kp_safetensors_parse(const void *buf, size_t len, const char *name,
	struct kp_tensors *ts, char *err);

#endif
