/*
 * transfer: HTTP transfers over libcurl's multi interface; see transfer.h.
 *
 * Two queues: transfers a build waits for (lookups, downloads) start before
 * background ones (uploads), so a step's upload never delays the next
 * target's lookup. At most `parallel` run at once over kept-alive
 * connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "cache.h"
#include "curl.h"
#include "fault.h"
#include "s3.h"
#include "transfer.h"

#define PARALLEL 16		/* transfers at once */
#define TRIES 4			/* attempts per transfer */
#define BACKOFF 0.2		/* seconds before the first retry; doubled each time */
#define FAIL_STREAK 3		/* transfers failed in a row before the server is left alone */
#define MEM_MAX (64 << 20)	/* a response held in memory larger than this is garbage */
#define XFER_BUF (512 << 10)	/* curl's buffer for blob bodies: fewer, larger writes */
#define RATE_SPAN 3.0		/* seconds the bytes/s figure looks back */
#define ERR_MAX (16 << 10)	/* an error response's body kept for its message */

/* One attempt's state: what is open while it runs. */
struct kiln_xfer_state {
	CURL *easy;
	char *tmp;		/* GET_BLOB: where the bytes land first */
	char *ztmp;		/* PUT_FILE with zstd: the compressed copy, kept across retries */
	int fd;
	FILE *in;
	struct kiln_hasher *hash;
	ZSTD_DStream *dz;	/* GET_BLOB of a compressed copy */
	size_t zleft;		/* the decompressor's last hint: 0 at a frame's end */
	uint64_t got;		/* bytes of the blob itself (decompressed) */
	size_t off;		/* PUT_MEM: bytes sent */
	uint64_t left;		/* PUT_FILE with range: bytes still to send */
	struct buf err;		/* a response's body that is not the transfer's (an S3 error document) */
	struct buf post;	/* POST_MEM: the request's body, kept for a retry */
	int posted;		/* POST_MEM: post holds it (x->body is the response from then on) */
	char s3why[64 + 256 + 8];	/* S3: " (Code: Message)" of the last error document */
	int toolong;		/* the server sent more than was promised */
	int broken;		/* a compressed body that does not decompress */
	struct kiln_transfer *eng;	/* while it runs: for the wire counters */
};

struct queue {
	struct kiln_xfer *head, *tail;
};

struct rate_sample {
	double when;
	unsigned long long bytes;
};

struct kiln_transfer {
	char *base;
	struct kiln_cache *cache;
	CURLM *multi;
	struct curl_slist *headers;
	int parallel, active;
	long connect_ms, stall_s;
	struct queue fg, bg, retry;
	struct kiln_xfer *running[256];	/* the transfers with an easy handle */
	int down, no_upload, streak;
	char last_error[512];
	struct kiln_transfer_stats st;
	struct rate_sample rs[8];
	size_t nrs;
	char *sigv4, *userpwd;	/* S3: libcurl's Signature V4 settings */
	char *bucket, *cred_from;	/* S3: for messages */
};


static long
env_long(const char *name, long def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	return *end || v <= 0 ? def : v;
}

struct kiln_transfer *
kiln_transfer_new(const char *base, struct kiln_cache *cache)
{
	struct kiln_transfer *t;

	kiln_curl_load();
	t = xcalloc(1, sizeof(*t));
	t->base = xstrdup(base);
	t->cache = cache;
	t->parallel = (int)env_long("KILN_REMOTE_JOBS", PARALLEL);
	if (t->parallel > (int)(sizeof(t->running) / sizeof(t->running[0])))
		t->parallel = sizeof(t->running) / sizeof(t->running[0]);
	t->connect_ms = env_long("KILN_REMOTE_CONNECT_TIMEOUT", 5) * 1000;
	t->stall_s = env_long("KILN_REMOTE_TIMEOUT", 30);
	t->multi = curl_multi_init();
	if (!t->multi)
		die("out of memory");
	curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)t->parallel);
	/* Expect: 100-continue costs a round trip per upload; WebDAV and S3 servers do not need it. */
	kiln_transfer_header(t, "Expect:");
	return t;
}

void
kiln_transfer_header(struct kiln_transfer *t, const char *line)
{
	t->headers = curl_slist_append(t->headers, line);
	if (!t->headers)
		die("out of memory");
}

void
kiln_transfer_s3(struct kiln_transfer *t, const char *sigv4, const char *userpwd, const char *token,
    const char *bucket, const char *cred_from)
{
	/*
	 * libcurl 7.88 signs an empty "Expect:" (which only removes a header)
	 * as if it were sent: the signature would not match. Without it an
	 * upload waits at most a millisecond for "100 Continue" (attempt()).
	 * The payload is not hashed: the blob's digest is checked by readers.
	 */
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	kiln_transfer_header(t, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (token)
		kiln_transfer_header(t, token);
	t->sigv4 = xstrdup(sigv4);
	t->userpwd = xstrdup(userpwd);
	t->bucket = xstrdup(bucket);
	t->cred_from = xstrdup(cred_from);
}

void
kiln_transfer_free(struct kiln_transfer *t)
{
	if (!t)
		return;
	kiln_transfer_abandon(t);
	curl_multi_cleanup(t->multi);
	curl_slist_free_all(t->headers);
	free(t->base);
	free(t->sigv4);
	if (t->userpwd)
		memset(t->userpwd, 0, strlen(t->userpwd));
	free(t->userpwd);
	free(t->bucket);
	free(t->cred_from);
	free(t);
}

struct kiln_xfer *
kiln_xfer_new(int kind, char *url, kiln_xfer_fn *done, void *arg)
{
	struct kiln_xfer *x = xcalloc(1, sizeof(*x));

	x->kind = kind;
	x->url = url;
	x->done = done;
	x->arg = arg;
	x->st = xcalloc(1, sizeof(*x->st));
	x->st->fd = -1;
	return x;
}

/* Drop the partial download and the decompressor: the next attempt starts over. */
static void
drop_partial(struct kiln_xfer *x)
{
	struct kiln_xfer_state *s = x->st;

	if (s->hash)
		kiln_hasher_free(s->hash);
	s->hash = NULL;
	if (s->dz)
		ZSTD_freeDStream(s->dz);
	s->dz = NULL;
	if (s->tmp)
		unlink(s->tmp);
}

void
kiln_xfer_free(struct kiln_xfer *x)
{
	if (!x)
		return;
	drop_partial(x);
	if (x->st->ztmp)
		unlink(x->st->ztmp);
	free(x->st->ztmp);
	free(x->st->tmp);
	buf_release(&x->st->err);
	buf_release(&x->st->post);
	free(x->st);
	free(x->url);
	free(x->path);
	buf_release(&x->body);
	free(x);
}

/* Queues. */

static void
enqueue(struct queue *q, struct kiln_xfer *x)
{
	x->next = NULL;
	if (q->tail)
		q->tail->next = x;
	else
		q->head = x;
	q->tail = x;
}

static struct kiln_xfer *
dequeue(struct queue *q)
{
	struct kiln_xfer *x = q->head;

	if (x) {
		q->head = x->next;
		if (!q->head)
			q->tail = NULL;
		x->next = NULL;
	}
	return x;
}

/* Callbacks of one attempt. */

static size_t
mem_write(char *data, size_t size, size_t n, void *arg)
{
	struct kiln_xfer *x = arg;

	(void)size;
	if (x->body.len + n > MEM_MAX)
		return 0;
	buf_add(&x->body, data, n);
	x->wire += n;
	x->st->eng->st.bytes_in += n;
	return n;
}

static size_t
mem_read(char *dest, size_t size, size_t n, void *arg)
{
	struct kiln_xfer *x = arg;
	size_t left = x->body.len - x->st->off, k = size * n < left ? size * n : left;

	memcpy(dest, x->body.s + x->st->off, k);
	x->st->off += k;
	x->wire += k;
	x->st->eng->st.bytes_out += k;
	return k;
}

/* Bytes of the blob itself: to the tmp file and through the hash, no more than promised. */
static int
blob_bytes(struct kiln_xfer *x, const void *data, size_t n)
{
	struct kiln_xfer_state *s = x->st;

	if (x->size && s->got + n > x->size) {
		s->toolong = 1;
		return -1;
	}
	if (write_all(s->fd, data, n) < 0)
		return -1;
	kiln_hasher_add(s->hash, data, n);
	s->got += n;
	return 0;
}

/* A compressed body, decompressed as it arrives: bounded memory, one pass. */
static int
blob_unzstd(struct kiln_xfer *x, const char *data, size_t n)
{
	struct kiln_xfer_state *s = x->st;
	ZSTD_inBuffer in = {data, n, 0};
	char out[64 << 10];

	while (in.pos < in.size) {
		ZSTD_outBuffer o = {out, sizeof(out), 0};
		size_t r = ZSTD_decompressStream(s->dz, &o, &in);

		if (ZSTD_isError(r)) {
			s->broken = 1;
			return -1;
		}
		s->zleft = r;
		if (o.pos && blob_bytes(x, out, o.pos) < 0)
			return -1;
	}
	return 0;
}

static size_t
blob_write(char *data, size_t size, size_t n, void *arg)
{
	struct kiln_xfer *x = arg;

	long code = 0;

	(void)size;
	x->wire += n;
	x->st->eng->st.bytes_in += n;
	/* An error page (a 404's body) is not the blob: it is kept only for its message. */
	curl_easy_getinfo(x->st->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code / 100 != 2) {
		if (x->st->err.len + n <= ERR_MAX)
			buf_add(&x->st->err, data, n);
		return n;
	}
	if (x->st->dz ? blob_unzstd(x, data, n) < 0 : blob_bytes(x, data, n) < 0)
		return 0;
	return n;
}

/* The body of a response that is not the transfer's own (a PUT's, a DELETE's): kept for an error's message. */
static size_t
err_write(char *data, size_t size, size_t n, void *arg)
{
	struct kiln_xfer *x = arg;

	(void)size;
	x->st->eng->st.bytes_in += n;
	if (x->st->err.len + n <= ERR_MAX)
		buf_add(&x->st->err, data, n);
	return n;
}

/* A response header: the ETag of an uploaded part. */
static size_t
header_line(char *data, size_t size, size_t n, void *arg)
{
	struct kiln_xfer *x = arg;
	size_t len = size * n;

	if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
		size_t i = 5, e = len;

		while (i < e && (data[i] == ' ' || data[i] == '\t'))
			i++;
		while (e > i && (data[e - 1] == '\r' || data[e - 1] == '\n' || data[e - 1] == ' '))
			e--;
		if (e - i < sizeof(x->etag))
			snprintf(x->etag, sizeof(x->etag), "%.*s", (int)(e - i), data + i);
	}
	return len;
}

static size_t
file_read(char *dest, size_t size, size_t n, void *arg)
{
	struct kiln_xfer *x = arg;
	size_t k;

	if (x->range && (uint64_t)n * size > x->st->left)
		n = (size_t)x->st->left / size;
	k = fread(dest, size, n, x->st->in);
	if (x->range)
		x->st->left -= k * size;

	x->wire += k * size;
	x->st->eng->st.bytes_out += k * size;
	return k;
}

/* Compress in to out as one zstd frame, a buffer at a time: bounded memory for any size. -1 on an error. */
static int
zstd_stream(FILE *in, int out, const char **why)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t inlen = ZSTD_CStreamInSize(), outlen = ZSTD_CStreamOutSize(), n, left;
	char *ib = xmalloc(inlen), *ob = xmalloc(outlen);
	int ret = 0, last;

	if (!cc)
		die("out of memory");
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	do {
		n = fread(ib, 1, inlen, in);
		last = n < inlen;
		ZSTD_inBuffer zi = {ib, n, 0};
		do {
			ZSTD_outBuffer zo = {ob, outlen, 0};

			left = ZSTD_compressStream2(cc, &zo, &zi, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left)) {
				*why = ZSTD_getErrorName(left);
				ret = -1;
			} else if (write_all(out, ob, zo.pos) < 0) {
				*why = strerror(errno);
				ret = -1;
			}
		} while (ret == 0 && (last ? left != 0 : zi.pos < zi.size));
	} while (ret == 0 && !last);
	if (ret == 0 && ferror(in)) {
		*why = strerror(errno);
		ret = -1;
	}
	ZSTD_freeCCtx(cc);
	free(ib);
	free(ob);
	return ret;
}

/*
 * The zstd-compressed copy of x->path, made once in the cache's tmp/ (so a
 * retry sends it again without compressing again); its size in *size. -1
 * with last_error set.
 */
int
kiln_transfer_compress(struct kiln_transfer *t, const char *path, char **out, uint64_t *size)
{
	const char *why = "";
	struct stat sb;
	FILE *in;
	int fd, ret = -1;

	in = fopen(path, "rbe");
	if (!in) {
		snprintf(t->last_error, sizeof(t->last_error), "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	*out = kiln_cache_tmp_path(t->cache, "zstd");
	fd = open(*out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		why = strerror(errno);
	else if (zstd_stream(in, fd, &why) == 0 && fstat(fd, &sb) == 0)
		ret = 0;
	if (ret < 0)
		snprintf(t->last_error, sizeof(t->last_error), "cannot compress %s into %s: %s", path, *out, why);
	*size = ret == 0 ? (uint64_t)sb.st_size : 0;
	if (fd >= 0)
		close(fd);
	fclose(in);
	return ret;
}

static int
compress_file(struct kiln_transfer *t, struct kiln_xfer *x, uint64_t *size)
{
	struct kiln_xfer_state *s = x->st;
	struct stat sb;

	if (s->ztmp && stat(s->ztmp, &sb) == 0) {
		*size = (uint64_t)sb.st_size;
		return 0;
	}
	free(s->ztmp);
	s->ztmp = NULL;
	return kiln_transfer_compress(t, x->path, &s->ztmp, size);
}

static void
setup_get_blob(struct kiln_transfer *t, struct kiln_xfer *x, CURL *e)
{
	struct kiln_xfer_state *s = x->st;

	s->hash = kiln_hasher_new();
	if (x->zstd) {
		s->dz = ZSTD_createDStream();
		if (!s->dz)
			die("out of memory");
		ZSTD_initDStream(s->dz);
		s->zleft = 1;
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, blob_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)XFER_BUF);
	(void)t;
}

/* What an attempt sends and where its body goes. -1 when it cannot start (a local file problem). */
static int
setup_kind(struct kiln_transfer *t, struct kiln_xfer *x, CURL *e)
{
	struct kiln_xfer_state *s = x->st;
	uint64_t size = x->size;

	buf_reset(&s->err);
	if (x->kind != KILN_X_GET_MEM && x->kind != KILN_X_GET_BLOB && x->kind != KILN_X_POST_MEM) {
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, err_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	}
	switch (x->kind) {
	case KILN_X_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case KILN_X_DELETE:
		/* A body, if any, is an S3 error document: err_write keeps it. */
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case KILN_X_POST_MEM:
		if (!s->posted) {
			s->post = x->body;
			x->body = (struct buf)BUF_INIT;
			s->posted = 1;
		}
		buf_reset(&x->body);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->post.len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->post.s ? s->post.s : "");
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mem_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
		break;
	case KILN_X_GET_MEM:
		buf_reset(&x->body);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mem_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
		break;
	case KILN_X_GET_BLOB:
		if (!s->tmp)
			s->tmp = kiln_cache_tmp_path(t->cache, "remote");
		s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->fd < 0) {
			snprintf(t->last_error, sizeof(t->last_error), "cannot create %s: %s", s->tmp, strerror(errno));
			return -1;
		}
		setup_get_blob(t, x, e);
		break;
	case KILN_X_PUT_FILE:
		if (x->zstd && compress_file(t, x, &size) < 0)
			return -1;
		s->in = fopen(x->zstd ? s->ztmp : x->path, "rbe");
		if (!s->in) {
			snprintf(t->last_error, sizeof(t->last_error), "cannot read %s: %s", x->path, strerror(errno));
			return -1;
		}
		setvbuf(s->in, NULL, _IOFBF, XFER_BUF);
		if (x->range) {
			if (fseeko(s->in, (off_t)x->offset, SEEK_SET) < 0) {
				snprintf(t->last_error, sizeof(t->last_error), "cannot read %s: %s", x->path, strerror(errno));
				return -1;
			}
			s->left = size;
		}
		x->etag[0] = 0;
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_line);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, file_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)XFER_BUF);
		break;
	case KILN_X_PUT_MEM:
		s->off = 0;
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, mem_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body.len);
		break;
	}
	return 0;
}

/* Start one attempt of x. -1 when it cannot even start. */
static int
attempt(struct kiln_transfer *t, struct kiln_xfer *x)
{
	struct kiln_xfer_state *s = x->st;
	CURL *e = curl_easy_init();

	if (!e)
		die("out of memory");
	s->easy = e;
	s->eng = t;
	s->got = 0;
	s->toolong = s->broken = 0;
	x->wire = 0;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->connect_ms);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	/*
	 * A server that sends less than 1 KiB/s for stall_s is slower than
	 * building is likely to be: the transfer stops, and the server is left alone.
	 */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, t->stall_s);
	curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (getenv("KILN_REMOTE_NETRC"))
		curl_easy_setopt(e, CURLOPT_NETRC_FILE, getenv("KILN_REMOTE_NETRC"));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	if (t->sigv4) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, t->sigv4);
		curl_easy_setopt(e, CURLOPT_USERPWD, t->userpwd);
		curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
		curl_easy_setopt(e, CURLOPT_EXPECT_100_TIMEOUT_MS, 1L);
	}
	if (setup_kind(t, x, e) < 0)
		return -1;
	t->st.requests++;
	curl_multi_add_handle(t->multi, e);
	t->running[t->active++] = x;
	return 0;
}

/* Close what one attempt opened; the tmp file stays for blob_arrived or the next attempt. */
static void
attempt_end(struct kiln_transfer *t, struct kiln_xfer *x)
{
	struct kiln_xfer_state *s = x->st;

	if (s->easy) {
		int i;

		curl_multi_remove_handle(t->multi, s->easy);
		curl_easy_cleanup(s->easy);
		s->easy = NULL;
		for (i = 0; i < t->active && t->running[i] != x; i++)
			;
		if (i < t->active)
			t->running[i] = t->running[--t->active];
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->in)
		fclose(s->in);
	s->in = NULL;
}

/* x is finished with `result`: its done function takes it over. */
static void
finish(struct kiln_transfer *t, struct kiln_xfer *x, int result)
{
	if (result != KILN_XR_OK)
		drop_partial(x);
	if (result == KILN_XR_FAILED)
		t->st.failed++;
	if (result == KILN_XR_BAD)
		t->st.bad++;
	x->result = result;
	x->done(x, x->arg);
}

/* A blob's body arrived whole: keep it only if it hashes to what was asked for. */
static int
blob_arrived(struct kiln_transfer *t, struct kiln_xfer *x)
{
	struct kiln_xfer_state *s = x->st;
	struct kiln_digest got;
	char *dir;

	kiln_hasher_digest(s->hash, &got);
	if (!kiln_digest_eq(&got, &x->digest) || (x->size && s->got != x->size) || (s->dz && s->zleft != 0))
		return KILN_XR_BAD;
	kiln_hasher_free(s->hash);
	s->hash = NULL;
	dir = xstrndup(x->path, strrchr(x->path, '/') - x->path);
	/* Read-only, like every blob of the local cache. */
	if (chmod(s->tmp, 0444) < 0 || mkdir_p(dir, 0755) < 0 || fault_rename(s->tmp, x->path) < 0) {
		snprintf(t->last_error, sizeof(t->last_error), "cannot store %s: %s", x->path, strerror(errno));
		unlink(s->tmp);
		free(dir);
		return KILN_XR_FAILED;
	}
	free(dir);
	t->st.blobs_in++;
	t->st.blob_bytes_in += s->got;
	return KILN_XR_OK;
}

static void
give_up(struct kiln_transfer *t)
{
	if (t->down)
		return;
	t->down = 1;
	warn("remote cache %s: giving up on it for this run (%s); building without it", t->base, t->last_error);
}

static int
is_put(const struct kiln_xfer *x)
{
	return x->kind == KILN_X_PUT_FILE || x->kind == KILN_X_PUT_MEM || x->kind == KILN_X_POST_MEM;
}

/*
 * S3: read a failed attempt's error document. 1 when it decides x's result
 * (into *res): the credentials or the bucket are wrong (the server is left
 * alone at once, said once, naming the bucket), or a 403 on a read, which
 * S3 answers for a missing key to a client without s3:ListBucket (a HEAD
 * has no body to tell why: a miss too; a wrong secret is then found by the
 * GETs and PUTs around it).
 */
static int
s3_answer(struct kiln_transfer *t, struct kiln_xfer *x, int *res)
{
	const struct buf *b = x->kind == KILN_X_GET_MEM || x->kind == KILN_X_POST_MEM ? &x->body : &x->st->err;
	char code[64], msg[256];

	x->st->s3why[0] = 0;
	if (!t->sigv4)
		return 0;
	kiln_s3_error(b->s, b->len, code, sizeof(code), msg, sizeof(msg));
	if (*code)
		snprintf(x->st->s3why, sizeof(x->st->s3why), " (%s: %s)", code, msg);
	if (kiln_s3_error_is_fatal(code)) {
		snprintf(t->last_error, sizeof(t->last_error), "S3 bucket '%s' refuses the request: %s: %s (credentials from %s)",
		    t->bucket, code, msg, t->cred_from);
		give_up(t);
		*res = KILN_XR_FAILED;
		return 1;
	}
	if (x->code == 403 && !is_put(x) && x->kind != KILN_X_DELETE &&
	    (x->kind == KILN_X_HEAD || strcmp(code, "AccessDenied") == 0)) {
		*res = KILN_XR_MISSING;
		return 1;
	}
	return 0;
}

/* An attempt that got no 2xx and no 404: the result, or PENDING to try again. */
static int
attempt_failed(struct kiln_transfer *t, struct kiln_xfer *x, CURLcode cc, double now)
{
	if (cc == CURLE_OK)
		snprintf(t->last_error, sizeof(t->last_error), "%s: HTTP %ld%s", x->url, x->code, x->st->s3why);
	else
		snprintf(t->last_error, sizeof(t->last_error), "%s: %s", x->url, curl_easy_strerror(cc));
	if (cc == CURLE_OK && x->code / 100 == 4 && x->code != 408 && x->code != 429) {
		/* Refused (401, 403, 405…): asking again will not help. */
		if (is_put(x) && !t->no_upload) {
			t->no_upload = 1;
			warn("remote cache %s: the server refuses uploads (%s); not uploading for the rest of this run",
			    t->base, t->last_error);
		}
		return KILN_XR_FAILED;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		/* Waiting again for a server that stalls would cost stall_s per try. */
		give_up(t);
		return KILN_XR_FAILED;
	}
	if (++x->tries < TRIES && !t->down) {
		double wait = BACKOFF * (1 << (x->tries - 1));

		/* Jitter, so parallel retries do not arrive together. */
		x->not_before = now + wait * (0.75 + 0.5 * (rand() / (double)RAND_MAX));
		drop_partial(x);
		return KILN_XR_PENDING;
	}
	if (++t->streak >= FAIL_STREAK || cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
		give_up(t);
	return KILN_XR_FAILED;
}

/* How an attempt ended. */
static void
attempt_done(struct kiln_transfer *t, struct kiln_xfer *x, CURLcode cc)
{
	int res;

	x->code = 0;
	curl_easy_getinfo(x->st->easy, CURLINFO_RESPONSE_CODE, &x->code);
	attempt_end(t, x);
	if (cc == CURLE_OK && x->code / 100 == 2) {
		t->streak = 0;
		finish(t, x, x->kind == KILN_X_GET_BLOB ? blob_arrived(t, x) : KILN_XR_OK);
		return;
	}
	if (cc == CURLE_OK && x->code == 404 && !is_put(x)) {
		t->streak = 0;
		finish(t, x, KILN_XR_MISSING);
		return;
	}
	if (x->st->toolong || x->st->broken) {
		/* More bytes than the entry promised, or a copy that does not decompress: not the blob. */
		finish(t, x, KILN_XR_BAD);
		return;
	}
	if (cc == CURLE_OK && s3_answer(t, x, &res)) {
		finish(t, x, res);
		return;
	}
	res = attempt_failed(t, x, cc, now_seconds());
	if (res == KILN_XR_PENDING)
		enqueue(&t->retry, x);
	else
		finish(t, x, res);
}

/* The engine's loop. */

void
kiln_transfer_add(struct kiln_transfer *t, struct kiln_xfer *x)
{
	x->result = KILN_XR_PENDING;
	enqueue(x->background ? &t->bg : &t->fg, x);
}

/* Fail every queued transfer: the server is down. */
static void
fail_queued(struct kiln_transfer *t)
{
	struct kiln_xfer *x;

	while ((x = dequeue(&t->retry)) || (x = dequeue(&t->fg)) || (x = dequeue(&t->bg)))
		finish(t, x, KILN_XR_FAILED);
}

/* Start due retries, then the waiting transfers, up to the limit. 1 if any started or ended. */
static int
start_due(struct kiln_transfer *t)
{
	struct queue later = {0};
	struct kiln_xfer *x;
	double now = now_seconds();
	int moved = 0;

	if (t->down) {
		moved = t->fg.head || t->bg.head || t->retry.head;
		fail_queued(t);
		return moved;
	}
	while ((x = dequeue(&t->retry))) {
		if (t->active < t->parallel && x->not_before <= now) {
			moved = 1;
			if (attempt(t, x) < 0) {
				attempt_end(t, x);
				finish(t, x, KILN_XR_FAILED);
			}
		} else {
			enqueue(&later, x);
		}
	}
	t->retry = later;
	while (t->active < t->parallel && ((x = dequeue(&t->fg)) || (x = dequeue(&t->bg)))) {
		moved = 1;
		if (attempt(t, x) < 0) {
			attempt_end(t, x);
			finish(t, x, KILN_XR_FAILED);
		}
	}
	return moved;
}

static void
sample_rate(struct kiln_transfer *t)
{
	double now = now_seconds();
	size_t cap = sizeof(t->rs) / sizeof(t->rs[0]);

	if (t->nrs && now - t->rs[t->nrs - 1].when < RATE_SPAN / cap)
		return;
	if (t->nrs == cap) {
		memmove(t->rs, t->rs + 1, (cap - 1) * sizeof(t->rs[0]));
		t->nrs--;
	}
	t->rs[t->nrs++] = (struct rate_sample){now, t->st.bytes_in + t->st.bytes_out};
}

size_t
kiln_transfer_perform(struct kiln_transfer *t)
{
	int running, left;
	CURLMsg *m;

	do {
		curl_multi_perform(t->multi, &running);
		while ((m = curl_multi_info_read(t->multi, &left))) {
			struct kiln_xfer *x;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			attempt_done(t, x, m->data.result);
		}
	} while (start_due(t));
	sample_rate(t);
	return kiln_transfer_busy(t);
}

size_t
kiln_transfer_busy(const struct kiln_transfer *t)
{
	size_t n = (size_t)t->active;
	const struct kiln_xfer *x;

	for (x = t->fg.head; x; x = x->next)
		n++;
	for (x = t->bg.head; x; x = x->next)
		n++;
	for (x = t->retry.head; x; x = x->next)
		n++;
	return n;
}

/* The milliseconds until the earliest retry is due, or -1. */
static long
retry_ms(const struct kiln_transfer *t)
{
	const struct kiln_xfer *x;
	double now = now_seconds(), next = 0;

	for (x = t->retry.head; x; x = x->next)
		if (!next || x->not_before < next)
			next = x->not_before;
	if (!next)
		return -1;
	return next <= now ? 0 : (long)((next - now) * 1000) + 1;
}

void
kiln_transfer_wait(struct kiln_transfer *t, struct pollfd *fds, size_t n, int ms)
{
	struct curl_waitfd *w = xreallocarray(NULL, n + 1, sizeof(*w));
	long cms = -1, rms = retry_ms(t);
	size_t i;

	if (t->active) {
		curl_multi_timeout(t->multi, &cms);
		if (cms >= 0 && cms < ms)
			ms = (int)cms;
	}
	if (rms >= 0 && rms < ms)
		ms = (int)rms;
	for (i = 0; i < n; i++)
		w[i] = (struct curl_waitfd){fds[i].fd, 0, 0};
	for (i = 0; i < n; i++) {
		w[i].events = (fds[i].events & POLLIN ? CURL_WAIT_POLLIN : 0) |
		    (fds[i].events & POLLOUT ? CURL_WAIT_POLLOUT : 0) | (fds[i].events & POLLPRI ? CURL_WAIT_POLLPRI : 0);
	}
	if (t->active)
		curl_multi_poll(t->multi, w, (unsigned)n, ms, NULL);
	else if (n || ms > 0)
		poll(fds, n, ms);
	for (i = 0; t->active && i < n; i++)
		fds[i].revents = (w[i].revents & CURL_WAIT_POLLIN ? POLLIN : 0) |
		    (w[i].revents & CURL_WAIT_POLLOUT ? POLLOUT : 0) | (w[i].revents & CURL_WAIT_POLLPRI ? POLLPRI : 0);
	free(w);
}

void
kiln_transfer_run(struct kiln_transfer *t)
{
	while (kiln_transfer_perform(t)) {
		if (pending_signal()) {
			snprintf(t->last_error, sizeof(t->last_error), "interrupted");
			kiln_transfer_abandon(t);
			break;
		}
		kiln_transfer_wait(t, NULL, 0, 200);
	}
}

void
kiln_transfer_abandon(struct kiln_transfer *t)
{
	t->down = 1;
	fail_queued(t);
	while (t->active) {
		struct kiln_xfer *x = t->running[t->active - 1];

		attempt_end(t, x);
		finish(t, x, KILN_XR_FAILED);
	}
	fail_queued(t);
}

double
kiln_transfer_rate(struct kiln_transfer *t)
{
	double dt;

	sample_rate(t);
	if (t->nrs < 2)
		return 0;
	dt = t->rs[t->nrs - 1].when - t->rs[0].when;
	return dt > 0 ? (t->rs[t->nrs - 1].bytes - t->rs[0].bytes) / dt : 0;
}

const struct kiln_transfer_stats *
kiln_transfer_stats(const struct kiln_transfer *t)
{
	return &t->st;
}

int
kiln_transfer_is_down(const struct kiln_transfer *t)
{
	return t->down;
}

const char *
kiln_transfer_last_error(const struct kiln_transfer *t)
{
	return t->last_error;
}

int
kiln_transfer_refuses_uploads(const struct kiln_transfer *t)
{
	return t->no_upload;
}

void
kiln_transfer_note(struct kiln_transfer *t, const char *msg)
{
	snprintf(t->last_error, sizeof(t->last_error), "%s", msg);
}
