/*
 * npy: dense arrays and their NPY files (version 1.0, little-endian,
 * C order), which numpy.load reads and numpy.save writes.
 */
#ifndef KILN_PLUGLIB_NPY_H
#define KILN_PLUGLIB_NPY_H

#include <stddef.h>

/* The element types an array holds. */
enum kp_dtype {
	KP_F32,	/* '<f4' / "F32" */
	KP_I64,	/* '<i8' / "I64" */
};

/* A dense, C-order array of 1 or 2 dimensions. */
struct kp_array {
	int dtype;		/* enum kp_dtype */
	int ndim;		/* 1 or 2 */
	size_t shape[2];	/* shape[1] is 1 when ndim is 1 */
	void *data;		/* owned; shape[0] * shape[1] items */
};

/* Make a a zero-filled rows x cols array (cols 1 when ndim is 1). */
void kp_array_init(struct kp_array *a, int dtype, int ndim,
	size_t rows, size_t cols);
/* Free a's data. */
void kp_array_release(struct kp_array *a);
/* The number of items in a. */
size_t kp_array_count(const struct kp_array *a);
/* Bytes per item of dtype. */
size_t kp_dtype_size(int dtype);

/* Write a as an NPY file at path. -1 with err. */
int kp_npy_write(const char *path, const struct kp_array *a, char *err);
/* Read the NPY file at path into a. -1 with err. */
int kp_npy_read(const char *path, struct kp_array *a, char *err);
/* Parse NPY bytes buf[0..len), named `name` in messages, into a. */
int kp_npy_parse(const void *buf, size_t len, const char *name,
	struct kp_array *a, char *err);
/* Parse only the header: shape and dtype into a (no data), the data's size
 * into *need; returns the data's offset or -1. */
int kp_npy_header(const void *buf, size_t len, const char *name,
	struct kp_array *a, size_t *need, char *err);
/* The NPY bytes of a, malloc'd in *buf. */
void kp_npy_encode(const struct kp_array *a, char **buf, size_t *len);

#endif
