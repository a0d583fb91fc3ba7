/*
 * util: what every part of the plugins' library (libkilnplug.a) leans on:
 * error messages, allocation, whole-file reads and writes, a growable byte
 * buffer and a seeded random number generator.
 *
 * The library is plain C on OpenBLAS, libcsv, jansson and libcrypto, and
 * includes no kiln header, so a program that is not a plugin (kiln-serve)
 * links it. Errors a user can cause (a bad file, a bad value) come back as
 * -1 with a message in `err`, a buffer of KP_ERRLEN bytes owned by the
 * caller. Running out of memory is not one of them: it aborts.
 */
#ifndef KILN_PLUGLIB_UTIL_H
#define KILN_PLUGLIB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define KP_ERRLEN 512

/* Fill err (KP_ERRLEN bytes) with a message and return -1. */
int kp_errf(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* malloc(n), aborting when out of memory. */
void *kp_xmalloc(size_t n);
/* calloc(n, size), aborting when out of memory. */
void *kp_xcalloc(size_t n, size_t size);
/* n * size bytes, aborting when the product overflows or memory is out. */
void *kp_xmallocarray(size_t n, size_t size);
/* p resized to n * size bytes, aborting on overflow or out-of-memory. */
void *kp_xrealloc(void *p, size_t n, size_t size);
/* strdup(s), aborting when out of memory. */
char *kp_xstrdup(const char *s);

/*
 * Parse a whole string as a finite number. Returns 0, or -1 when it is not a
 * number and -2 when it is NaN or infinite (so messages can say which).
 */
int kp_parse_number(const char *s, double *out);

/*
 * Offset of the first byte of s[0..n) that does not belong to a well-formed
 * UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), or n when all of it is UTF-8.
 */
size_t kp_utf8_check(const char *s, size_t n);

/* Index of the first NaN or infinity in x[0..n), or n when all are finite. */
size_t kp_first_nonfinite(const float *x, size_t n);

/* Read a whole file into *buf (NUL-terminated, owned by the caller). */
int kp_read_file(const char *path, char **buf, size_t *len, char *err);

/* Write len bytes to path through a temporary file and a rename. */
int kp_write_file(const char *path, const void *buf, size_t len, char *err);
/* Seconds on CLOCK_MONOTONIC: for deadlines and rates, never for dates. */
double kp_now(void);

/* dir + "/" + name, malloc'd. */
char *kp_join(const char *dir, const char *name);

/* A growable byte buffer; zeroed is empty. */
struct kp_buf {
	unsigned char *p;	/* the bytes, malloc'd; NULL while empty */
	size_t len;		/* bytes in use */
	size_t cap;		/* bytes allocated */
};

/* Append p[0..n) to b, growing it (aborts when out of memory). */
void kp_buf_add(struct kp_buf *b, const void *p, size_t n);
/* Free b's bytes and leave it empty. */
void kp_buf_release(struct kp_buf *b);

/* ---- random numbers: seeded, identical on every machine ---- */

struct kp_rng {
	uint64_t s[4];	/* xoshiro256** state */
};

/* Seed r from one number (through splitmix64). */
void kp_rng_seed(struct kp_rng *r, uint64_t seed);
/* The next 64 random bits. */
uint64_t kp_rng_next(struct kp_rng *r);
/* Uniform in [0, 1) with 53 bits. */
double kp_rng_uniform(struct kp_rng *r);
/* Uniform integer in [0, n), without modulo bias. */
uint64_t kp_rng_below(struct kp_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void kp_rng_shuffle(struct kp_rng *r, size_t *idx, size_t n);

#endif
