/*
 * s3put: S3 multipart uploads over the transfer engine (transfer.h), for
 * blobs too large to send in one PUT with retries that start over:
 * CreateMultipartUpload (POST ?uploads), an UploadPart (PUT ?partNumber=N
 * &uploadId=ID) of each part side by side, each retried on its own, then
 * CompleteMultipartUpload (POST ?uploadId=ID) naming the parts' ETags. An
 * upload that fails is aborted (DELETE ?uploadId=ID), so the bucket keeps
 * no parts; the object appears only when it is whole.
 */
#ifndef KILN_S3PUT_H
#define KILN_S3PUT_H

#include <stdint.h>

struct kiln_transfer;

#define KILN_S3_MULTIPART_MIN (64ULL << 20)	/* blobs of this size or more go in parts */
#define KILN_S3_PART_SIZE (16ULL << 20)	/* a part's size (S3: at least 5 MiB but the last) */
#define KILN_S3_PARTS_MAX 10000		/* S3's limit: larger blobs get larger parts */

/* The size from which blobs go in parts: $KILN_S3_MULTIPART_MIN, else KILN_S3_MULTIPART_MIN. */
uint64_t kiln_s3_multipart_min(void);

/* The end of an upload: ok or not, and `size` as it was given. */
typedef void kiln_s3_parts_fn(void *arg, int ok, uint64_t size);

/*
 * Upload the file `path` (of `size` bytes) to the object at `url` in parts
 * ($KILN_S3_PART_SIZE bytes each, else KILN_S3_PART_SIZE), zstd-compressed
 * first with `zstd`, in the background. url and path are taken over. done
 * is called once, from kiln_transfer_perform (or at once, when it cannot start).
 */
void kiln_s3_put_parts(struct kiln_transfer *t, char *url, char *path, int zstd, uint64_t size,
    kiln_s3_parts_fn *done, void *arg);

#endif
