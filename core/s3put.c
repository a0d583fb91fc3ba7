/*
 * s3put: S3 multipart uploads, a state machine over the transfer engine's
 * completion callbacks; see s3put.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3.h"
#include "s3put.h"
#include "transfer.h"

struct parts {
	struct kiln_transfer *t;
	char *url, *path;	/* the object; the blob's file */
	char *ztmp;		/* its compressed copy, sent instead, or NULL */
	char *id;		/* the upload's id, query-escaped */
	uint64_t size;		/* as given, for done */
	uint64_t sent, part;	/* the size of what is sent; a part's */
	size_t nparts, pending, failed;
	char (*etag)[128];
	char *why;		/* what failed, before the abort's own answer */
	kiln_s3_parts_fn *done;
	void *arg;
};

static uint64_t
env_size(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	long long v;

	if (!s || !*s)
		return def;
	v = parse_size(s);
	return v > 0 ? (uint64_t)v : def;
}

uint64_t
kiln_s3_multipart_min(void)
{
	return env_size("KILN_S3_MULTIPART_MIN", KILN_S3_MULTIPART_MIN);
}

static void
parts_end(struct parts *p, int ok)
{
	p->done(p->arg, ok, p->size);
	if (p->ztmp)
		unlink(p->ztmp);
	free(p->ztmp);
	free(p->url);
	free(p->path);
	free(p->id);
	free(p->etag);
	free(p->why);
	free(p);
}

static struct kiln_xfer *
request(struct parts *p, int kind, char *url, kiln_xfer_fn *fn)
{
	struct kiln_xfer *x = kiln_xfer_new(kind, url, fn, p);

	x->background = 1;
	return x;
}

static void
aborted(struct kiln_xfer *x, void *arg)
{
	struct parts *p = arg;
	char *why;

	/* The upload's failure is what the caller reports; a failed abort is said beside it. */
	if (x->result == KILN_XR_OK)
		why = xstrdup(p->why);
	else
		why = xasprintf("%s; AbortMultipartUpload failed too: %s", p->why, kiln_transfer_last_error(p->t));
	kiln_transfer_note(p->t, why);
	free(why);
	kiln_xfer_free(x);
	parts_end(p, 0);
}

/* Something failed: drop the parts already on the server. */
static void
abort_upload(struct parts *p)
{
	p->why = xstrdup(kiln_transfer_last_error(p->t));
	kiln_transfer_add(p->t, request(p, KILN_X_DELETE, xasprintf("%s?uploadId=%s", p->url, p->id), aborted));
}

static void
completed(struct kiln_xfer *x, void *arg)
{
	struct parts *p = arg;
	char code[64], msg[256];
	int ok = x->result == KILN_XR_OK;

	/* S3 may answer 200 and then an error document, when the parts cannot be put together. */
	if (ok && kiln_s3_error(x->body.s, x->body.len, code, sizeof(code), msg, sizeof(msg))) {
		char *why = xasprintf("%s: CompleteMultipartUpload: %s: %s", p->url, code, msg);

		kiln_transfer_note(p->t, why);
		free(why);
		ok = 0;
	}
	kiln_xfer_free(x);
	if (ok)
		parts_end(p, 1);
	else
		abort_upload(p);
}

/* Every part is there: name them, in order, to put the object together. */
static void
complete(struct parts *p)
{
	struct kiln_xfer *x = request(p, KILN_X_POST_MEM, xasprintf("%s?uploadId=%s", p->url, p->id), completed);
	size_t i;
	char line[256];

	buf_adds(&x->body, "<CompleteMultipartUpload>");
	for (i = 0; i < p->nparts; i++) {
		/* An ETag is a quoted hex digest: nothing in it needs escaping in XML. */
		snprintf(line, sizeof(line), "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>", i + 1, p->etag[i]);
		buf_adds(&x->body, line);
	}
	buf_adds(&x->body, "</CompleteMultipartUpload>");
	kiln_transfer_add(p->t, x);
}

static void
part_done(struct kiln_xfer *x, void *arg)
{
	struct parts *p = arg;
	size_t i = (size_t)(x->offset / p->part);

	if (x->result != KILN_XR_OK || !x->etag[0] || strpbrk(x->etag, "<>&")) {
		if (x->result == KILN_XR_OK)
			kiln_transfer_note(p->t, "S3 answered an UploadPart without a usable ETag header");
		p->failed++;
	} else {
		snprintf(p->etag[i], sizeof(p->etag[i]), "%s", x->etag);
	}
	kiln_xfer_free(x);
	if (--p->pending)
		return;
	if (p->failed)
		abort_upload(p);
	else
		complete(p);
}

static void
send_parts(struct parts *p)
{
	size_t i;

	p->etag = xcalloc(p->nparts, sizeof(*p->etag));
	p->pending = p->nparts;
	for (i = 0; i < p->nparts; i++) {
		struct kiln_xfer *x = request(p, KILN_X_PUT_FILE,
		    xasprintf("%s?partNumber=%zu&uploadId=%s", p->url, i + 1, p->id), part_done);
		uint64_t off = (uint64_t)i * p->part;

		x->path = xstrdup(p->ztmp ? p->ztmp : p->path);
		x->range = 1;
		x->offset = off;
		x->size = p->sent - off < p->part ? p->sent - off : p->part;
		kiln_transfer_add(p->t, x);
	}
}

static void
created(struct kiln_xfer *x, void *arg)
{
	struct parts *p = arg;
	char *id = x->result == KILN_XR_OK ? kiln_s3_upload_id(x->body.s, x->body.len) : NULL;

	if (x->result == KILN_XR_OK && !id)
		kiln_transfer_note(p->t, "S3 answered CreateMultipartUpload without an UploadId");
	kiln_xfer_free(x);
	if (!id) {
		parts_end(p, 0);
		return;
	}
	p->id = kiln_s3_query_escape(id);
	free(id);
	send_parts(p);
}

void
kiln_s3_put_parts(struct kiln_transfer *t, char *url, char *path, int zstd, uint64_t size,
    kiln_s3_parts_fn *done, void *arg)
{
	struct parts *p = xcalloc(1, sizeof(*p));

	p->t = t;
	p->url = url;
	p->path = path;
	p->size = p->sent = size;
	p->done = done;
	p->arg = arg;
	if (zstd && kiln_transfer_compress(t, path, &p->ztmp, &p->sent) < 0) {
		parts_end(p, 0);
		return;
	}
	p->part = env_size("KILN_S3_PART_SIZE", KILN_S3_PART_SIZE);
	if (p->sent / p->part >= KILN_S3_PARTS_MAX)
		p->part = p->sent / KILN_S3_PARTS_MAX + 1;
	p->nparts = p->sent ? (size_t)((p->sent + p->part - 1) / p->part) : 1;
	/* "uploads=": libcurl signs the query as given, and V4 writes an empty value so. */
	kiln_transfer_add(t, request(p, KILN_X_POST_MEM, xasprintf("%s?uploads=", url), created));
}
