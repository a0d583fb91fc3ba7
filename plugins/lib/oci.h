/*
 * oci: what the package and deploy plugins share about OCI images: digests,
 * references, deterministic JSON, and growable byte buffers.
 */
#ifndef KILN_OCI_H
#define KILN_OCI_H

#include <stddef.h>

#include <jansson.h>

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER "application/vnd.oci.image.layer.v1.tar"

struct kp_buf {
	unsigned char *p;
	size_t len, cap;
};

void kp_buf_add(struct kp_buf *b, const void *p, size_t n);
void kp_buf_release(struct kp_buf *b);

/* "sha256:" + 64 hex digits of data, into out (72 bytes). */
void kp_oci_digest(const void *data, size_t len, char out[72]);

/*
 * Is s a valid repository name (lower-case path components joined by '/',
 * each [a-z0-9]+ with single '.', '_', '__' or runs of '-' between) or tag
 * ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})? 1 yes, 0 no.
 */
int kp_oci_valid_name(const char *s);
int kp_oci_valid_tag(const char *s);

/* Compact JSON with sorted keys: the same value always gives the same bytes. */
char *kp_oci_json(const json_t *j);

#endif
