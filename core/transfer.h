/*
 * transfer: HTTP transfers over libcurl's multi interface, driven from the
 * caller's event loop.
 *
 * A transfer is queued with kiln_transfer_add and finishes with a call of
 * its done function, from inside kiln_transfer_perform; the caller's loop
 * waits in kiln_transfer_wait, which also watches the caller's own fds, so
 * that running steps and transfers share one poll. Each transfer has its
 * own retries with backoff; after one fails for good, or a few fail in a
 * row, the server is left alone for the rest of the run and every transfer
 * still queued ends as failed, so a dead server costs seconds.
 *
 * Blob downloads are written to the local cache's tmp/, hashed (after
 * zstd decompression, for a compressed copy) as they arrive, and renamed
 * into cas/ only when the bytes hash to the digest asked for.
 */
#ifndef KILN_TRANSFER_H
#define KILN_TRANSFER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "util.h"

struct kiln_cache;
struct kiln_transfer;

enum kiln_xfer_kind {
	KILN_X_HEAD,
	KILN_X_GET_MEM,		/* the body into x->body */
	KILN_X_GET_BLOB,	/* the body, checked against x->digest, into x->path */
	KILN_X_PUT_FILE,	/* x->path's bytes (zstd-compressed first, with x->zstd) */
	KILN_X_PUT_MEM,		/* x->body */
	KILN_X_DELETE,
	KILN_X_POST_MEM,	/* x->body sent, the response into x->body */
};

enum kiln_xfer_result { KILN_XR_PENDING, KILN_XR_OK, KILN_XR_MISSING, KILN_XR_BAD, KILN_XR_FAILED };

struct kiln_xfer;
/* Called once when x is finished; it owns x then (kiln_xfer_free). */
typedef void kiln_xfer_fn(struct kiln_xfer *x, void *arg);

struct kiln_xfer {
	int kind;		/* enum kiln_xfer_kind */
	int result;		/* enum kiln_xfer_result */
	int background;		/* started only when nothing else waits (uploads) */
	int zstd;		/* GET_BLOB: the body is zstd-compressed; PUT_FILE: compress it */
	char *url;		/* malloc'd */
	struct kiln_digest digest;	/* GET_BLOB: what the bytes must hash to */
	uint64_t size;		/* GET_BLOB: the size promised (0: any); PUT_FILE: the file's, or the range's */
	uint64_t offset;	/* PUT_FILE with range: where its bytes start in the file */
	int range;		/* PUT_FILE: only size bytes from offset (an S3 multipart part; no zstd) */
	char etag[128];		/* PUT_FILE: the response's ETag header (S3 names a part by it) */
	uint64_t wire;		/* bytes that crossed the wire, either way */
	char *path;		/* GET_BLOB: the final cas/ path; PUT_FILE: the file (malloc'd) */
	struct buf body;	/* GET_MEM: the response; PUT_MEM: what to send */
	long code;		/* the last HTTP status */
	kiln_xfer_fn *done;
	void *arg;
	struct kiln_xfer_state *st;	/* one attempt's state, the engine's */
	struct kiln_xfer *next;	/* the engine's queues */
	int tries;
	double not_before;
};

/* Counters of a run's transfers. */
struct kiln_transfer_stats {
	unsigned long long bytes_in, bytes_out;	/* on the wire */
	unsigned long long blobs_in;		/* blobs stored in the local cache */
	unsigned long long blob_bytes_in;	/* their uncompressed size */
	unsigned long long bad;		/* blobs that failed their check: dropped */
	unsigned long long failed;	/* transfers that failed after their retries */
	unsigned long long requests;	/* attempts started */
};

/* An engine for the server at `base` (for messages), storing blobs in `cache` (borrowed). */
struct kiln_transfer *kiln_transfer_new(const char *base, struct kiln_cache *cache);
void kiln_transfer_free(struct kiln_transfer *t);
/* Extra request headers for every transfer ("Name: value"); not kept. */
void kiln_transfer_header(struct kiln_transfer *t, const char *line);
/*
 * Sign every request with AWS Signature V4 (libcurl's CURLOPT_AWS_SIGV4:
 * `sigv4` is "aws:amz:REGION:s3", userpwd "KEY:SECRET"; token, a session
 * token's header line, or NULL) and read S3's XML error documents: a code
 * that says the credentials or the bucket are wrong gives up on the server
 * at once, naming `bucket` and where the credentials came from; a 403
 * AccessDenied on a read is a miss (what S3 answers for a missing key to a
 * client without s3:ListBucket). Before any other header.
 */
void kiln_transfer_s3(struct kiln_transfer *t, const char *sigv4, const char *userpwd, const char *token,
    const char *bucket, const char *cred_from);
/* Compress path as one zstd frame into a new file of the cache's tmp/ (*out, malloc'd; its size in *size). -1 with last_error set. */
int kiln_transfer_compress(struct kiln_transfer *t, const char *path, char **out, uint64_t *size);

/* A new transfer of `kind` for url (taken over). */
struct kiln_xfer *kiln_xfer_new(int kind, char *url, kiln_xfer_fn *done, void *arg);
void kiln_xfer_free(struct kiln_xfer *x);
/* Queue x; it starts when a connection is free. A transfer added to an engine that gave up fails at once. */
void kiln_transfer_add(struct kiln_transfer *t, struct kiln_xfer *x);
/*
 * Move every transfer on: read what arrived, finish what ended (their done
 * functions run here), start what is due. The number still queued or running.
 */
size_t kiln_transfer_perform(struct kiln_transfer *t);
/*
 * Wait at most ms for a transfer's news or one of fds (poll(2)'s revents are
 * set), whichever is first. With nothing to transfer, it is poll(2).
 */
void kiln_transfer_wait(struct kiln_transfer *t, struct pollfd *fds, size_t n, int ms);
/* Run every transfer to its end; on a pending signal, stop them all (failed). */
void kiln_transfer_run(struct kiln_transfer *t);
/* Transfers queued or running. */
size_t kiln_transfer_busy(const struct kiln_transfer *t);
/* Bytes a second on the wire over the last few seconds. */
double kiln_transfer_rate(struct kiln_transfer *t);
const struct kiln_transfer_stats *kiln_transfer_stats(const struct kiln_transfer *t);
/* Given up on the server for this run? Its reason then, or the last error: the text of the last failed attempt. */
int kiln_transfer_is_down(const struct kiln_transfer *t);
const char *kiln_transfer_last_error(const struct kiln_transfer *t);
/* Has the server refused an upload (4xx on PUT)? Then uploads stop for the run. */
int kiln_transfer_refuses_uploads(const struct kiln_transfer *t);
/* Set the last error's text: a caller's protocol failed on an answer the engine took for a success. */
void kiln_transfer_note(struct kiln_transfer *t, const char *msg);
/* Stop every transfer at once (failed, their done functions called): the caller is going away. */
void kiln_transfer_abandon(struct kiln_transfer *t);

#endif
