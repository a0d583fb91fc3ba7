/*
 * digest: XXH3-128 content digests of bytes, files and folders.
 */
#ifndef KILN_DIGEST_H
#define KILN_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct kiln_digest {
	uint8_t b[16];
};

#define KILN_DIGEST_HEX 33	/* 32 hex digits and a NUL */

/* XXH3-128 of a buffer. */
void kiln_digest_buf(const void *data, size_t len, struct kiln_digest *out);
/* XXH3-128 of a file's bytes; -1 with errno set if it cannot be read. */
int kiln_digest_file(const char *path, struct kiln_digest *out);
/* XXH3-128 of the bytes read from fd until its end. */
int kiln_digest_fd(int fd, struct kiln_digest *out);

/* Lower-case hex; buf holds KILN_DIGEST_HEX bytes. Returns buf. */
char *kiln_digest_hex(const struct kiln_digest *d, char *buf);
/* Parse 32 hex digits; -1 if s is not that. */
int kiln_digest_parse(const char *s, struct kiln_digest *out);
int kiln_digest_eq(const struct kiln_digest *a, const struct kiln_digest *b);
int kiln_digest_iszero(const struct kiln_digest *d);

/* Streaming digests over a canonical encoding (action keys, folder digests). */
struct kiln_hasher;
struct kiln_hasher *kiln_hasher_new(void);
void kiln_hasher_add(struct kiln_hasher *h, const void *data, size_t len);
/* A length-prefixed string, so that ("ab","c") and ("a","bc") differ. */
void kiln_hasher_adds(struct kiln_hasher *h, const char *s);
void kiln_hasher_add_u64(struct kiln_hasher *h, uint64_t v);
void kiln_hasher_add_digest(struct kiln_hasher *h, const struct kiln_digest *d);
/* The digest so far; the hasher may be used on. */
void kiln_hasher_digest(struct kiln_hasher *h, struct kiln_digest *out);
void kiln_hasher_free(struct kiln_hasher *h);

#endif
