/*
 * oci: what the package and deploy plugins share about OCI images: media
 * types, digests, repository names and tags, and deterministic JSON.
 */
#ifndef KILN_PLUGLIB_OCI_H
#define KILN_PLUGLIB_OCI_H

#include <stddef.h>

struct json_t;

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_LAYER "application/vnd.oci.image.layer.v1.tar"

/* "sha256:" + 64 hex digits of data, into out (72 bytes). */
void kp_oci_digest(const void *data, size_t len, char out[72]);

/*
 * Is s a valid repository name: lower-case path components joined by '/',
 * each [a-z0-9]+ with single '.', '_', '__' or runs of '-' between, 255
 * characters at most? 1 yes, 0 no. rules/_args.lua's check.repository is
 * the same test, made when the Kilnfile runs.
 */
int kp_oci_valid_name(const char *s);
/* Is s a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})? 1 yes, 0 no. */
int kp_oci_valid_tag(const char *s);

/* Compact JSON with sorted keys: the same value always gives the same
 * bytes. malloc'd. */
char *kp_oci_json(const struct json_t *j);

#endif
