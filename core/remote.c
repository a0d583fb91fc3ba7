/*
 * remote: the shared remote cache over HTTP, with libcurl's multi interface.
 *
 * Transfers run in batches: every blob an action needs is asked for at once,
 * PARALLEL at a time over kept-alive connections. Each transfer has its own
 * retries with backoff; after a transfer fails for good, or a few fail in a
 * row, the server is left alone for the rest of the run, so a dead remote
 * costs seconds, not a retry storm per target.
 *
 * NEEDSWORK: a batch blocks the scheduler (running steps go on, new ones
 * wait), and targets are looked up one at a time as they are decided, one
 * round trip each. Driving the multi handle from the scheduler's poll loop
 * would overlap uploads with steps and let lookups of ready targets share
 * the wire.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "fault.h"
#include "remote.h"

#define PARALLEL 16		/* transfers at once */
#define TRIES 4			/* attempts per transfer */
#define BACKOFF 0.2		/* seconds before the first retry; doubled each time */
#define FAIL_STREAK 3		/* transfers failed in a row before the server is left alone */
#define ENTRY_MAX (16 << 20)	/* an action entry larger than this is garbage */
#define XFER_BUF (512 << 10)	/* curl's buffer for blob bodies: fewer, larger writes */
#define HEAD_MIN (64 << 10)	/* blobs smaller than this are sent without asking first */
#define BAD_WARNINGS 5		/* bad blobs named one by one before the rest are only counted */

struct kiln_remote {
	char *base;		/* without the trailing slash */
	struct kiln_cache *cache;
	int read_only;
	int down;		/* given up on for this run */
	int no_upload;		/* the server refused an upload: no more tries this run */
	int streak;		/* transfers failed in a row */
	int parallel;
	long connect_ms, stall_s;
	CURLM *multi;
	struct curl_slist *headers;
	struct kiln_remote_stats st;
	char last_error[256];	/* of the last failed attempt, for messages */
	const char *verb;	/* progress line's verb, or NULL */
	double shown;		/* when the progress line was last drawn */
	int progress_on;	/* a progress line is on the terminal */
	size_t batch_done, batch_n;
	unsigned long long batch_bytes;
};

enum xkind { X_HEAD, X_GET_MEM, X_GET_BLOB, X_PUT_FILE, X_PUT_MEM };
enum xresult { XR_PENDING, XR_OK, XR_MISSING, XR_BAD, XR_FAILED };

/* One transfer: a request and its retries. */
struct xfer {
	int kind;		/* enum xkind */
	int result;		/* enum xresult */
	char *url;
	struct kiln_digest digest;	/* X_GET_BLOB: what the bytes must hash to */
	uint64_t size;		/* X_GET_BLOB: the size the entry promises; X_PUT_FILE: the file's */
	char *path;		/* X_GET_BLOB: the final cas/ path; X_PUT_FILE: the file to send */
	struct buf body;	/* X_GET_MEM: the response; X_PUT_MEM: what to send */
	size_t off;		/* X_PUT_MEM: bytes sent */
	/* One attempt's state. */
	CURL *easy;
	char *tmp;		/* X_GET_BLOB: where the bytes land first */
	int fd;
	FILE *in;
	struct kiln_hasher *hash;
	uint64_t got;
	int toolong;		/* the server sent more than was promised */
	int tries;
	double not_before;
};

const char *
kiln_remote_url(const char *opt, const char *config)
{
	const char *env = getenv("KILN_REMOTE");
	const char *url = opt ? opt : env && *env ? env : config;

	if (!url || !*url || strcmp(url, "off") == 0)
		return NULL;
	return url;
}

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

/*
 * KILN_REMOTE_HEADER is a whole header line ("Authorization: Bearer …");
 * a bare value is taken as the Authorization header's, which is what it is
 * nearly always for.
 */
static struct curl_slist *
make_headers(void)
{
	const char *h = getenv("KILN_REMOTE_HEADER");
	struct curl_slist *l = NULL;

	/* Expect: 100-continue costs a round trip per upload; WebDAV servers do not need it. */
	l = curl_slist_append(l, "Expect:");
	if (h && *h) {
		if (strchr(h, ':')) {
			l = curl_slist_append(l, h);
		} else {
			char *s = xasprintf("Authorization: %s", h);

			l = curl_slist_append(l, s);
			free(s);
		}
	}
	if (!l)
		die("out of memory");
	return l;
}

#ifdef KILN_FAULT
/* With failure injection (fault.h), libcurl's allocations are counted too, as module "libcurl". */
#define CURL_FAILS() kiln_fault_fail(KILN_FAULT_ALLOC, "libcurl", 0)

static void *
curl_malloc(size_t n)
{
	return CURL_FAILS() ? NULL : malloc(n);
}

static void *
curl_calloc(size_t n, size_t size)
{
	return CURL_FAILS() ? NULL : calloc(n, size);
}

static void *
curl_realloc(void *p, size_t n)
{
	return CURL_FAILS() ? NULL : realloc(p, n);
}

static char *
curl_strdup(const char *s)
{
	return CURL_FAILS() ? NULL : strdup(s);
}

#define curl_global_init(flags) curl_global_init_mem(flags, curl_malloc, free, curl_realloc, curl_strdup, curl_calloc)
#endif

struct kiln_remote *
kiln_remote_new(const char *url, struct kiln_cache *cache, int read_only)
{
	static int curl_ready;
	struct kiln_remote *r;
	size_t n = strlen(url);

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		error("remote cache '%s': expected an http:// or https:// URL", url);
		return NULL;
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			die("cannot initialize libcurl");
		curl_ready = 1;
	}
	r = xcalloc(1, sizeof(*r));
	while (n > 0 && url[n - 1] == '/')
		n--;
	r->base = xstrndup(url, n);
	r->cache = cache;
	r->read_only = read_only;
	r->parallel = (int)env_long("KILN_REMOTE_JOBS", PARALLEL);
	r->connect_ms = env_long("KILN_REMOTE_CONNECT_TIMEOUT", 5) * 1000;
	r->stall_s = env_long("KILN_REMOTE_TIMEOUT", 30);
	r->multi = curl_multi_init();
	if (!r->multi)
		die("out of memory");
	curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)r->parallel);
	r->headers = make_headers();
	return r;
}

void
kiln_remote_free(struct kiln_remote *r)
{
	if (!r)
		return;
	curl_multi_cleanup(r->multi);
	curl_slist_free_all(r->headers);
	free(r->base);
	free(r);
}

void
kiln_remote_set_progress(struct kiln_remote *r, const char *verb)
{
	r->verb = verb;
}

const struct kiln_remote_stats *
kiln_remote_stats(const struct kiln_remote *r)
{
	return &r->st;
}

const char *
kiln_remote_base(const struct kiln_remote *r)
{
	return r->base;
}

int
kiln_remote_is_down(const struct kiln_remote *r)
{
	return r->down;
}

int
kiln_remote_can_upload(const struct kiln_remote *r)
{
	return !r->read_only && !r->down && !r->no_upload;
}

/* Transfers. */

static char *
url_of(const struct kiln_remote *r, const char *kind, const struct kiln_digest *d)
{
	char hex[KILN_DIGEST_HEX];

	return xasprintf("%s/%s/%s", r->base, kind, kiln_digest_hex(d, hex));
}

static void
xfer_init(struct xfer *x, int kind, char *url)
{
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->url = url;
	x->fd = -1;
}

static void
xfer_release(struct xfer *x)
{
	free(x->url);
	free(x->path);
	free(x->tmp);
	buf_release(&x->body);
}

static size_t
mem_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	if (x->body.len + n > ENTRY_MAX)
		return 0;
	buf_add(&x->body, data, n);
	(void)size;
	return n;
}

static size_t
mem_read(char *dest, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t left = x->body.len - x->off, k = size * n < left ? size * n : left;

	memcpy(dest, x->body.s + x->off, k);
	x->off += k;
	return k;
}

/* Blob bytes go to the tmp file and through the hash as they arrive: one pass, bounded memory. */
static size_t
blob_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	(void)size;
	if (x->size && x->got + n > x->size) {
		x->toolong = 1;
		return 0;
	}
	if (write_all(x->fd, data, n) < 0)
		return 0;
	kiln_hasher_add(x->hash, data, n);
	x->got += n;
	return n;
}

static size_t
count_read(char *dest, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t k = fread(dest, size, n, x->in);

	x->got += k * size;
	return k;
}

/* Set up one attempt of x. -1 when it cannot even start (a local file problem). */
static int
attempt(struct kiln_remote *r, struct xfer *x)
{
	CURL *e = curl_easy_init();

	if (!e)
		die("out of memory");
	x->easy = e;
	x->got = 0;
	x->toolong = 0;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->connect_ms);
	/*
	 * A server that sends less than 1 KiB/s for stall_s is slower than
	 * building is likely to be: the transfer stops, and the server is left alone.
	 */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, r->stall_s);
	curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (getenv("KILN_REMOTE_NETRC"))
		curl_easy_setopt(e, CURLOPT_NETRC_FILE, getenv("KILN_REMOTE_NETRC"));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	switch (x->kind) {
	case X_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		break;
	case X_GET_MEM:
		buf_reset(&x->body);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, mem_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		break;
	case X_GET_BLOB:
		if (!x->tmp)
			x->tmp = kiln_cache_tmp_path(r->cache, "remote");
		x->fd = open(x->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (x->fd < 0) {
			snprintf(r->last_error, sizeof(r->last_error), "cannot create %s: %s", x->tmp, strerror(errno));
			return -1;
		}
		x->hash = kiln_hasher_new();
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, blob_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)XFER_BUF);
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		break;
	case X_PUT_FILE:
		x->in = fopen(x->path, "rbe");
		if (!x->in) {
			snprintf(r->last_error, sizeof(r->last_error), "cannot read %s: %s", x->path, strerror(errno));
			return -1;
		}
		setvbuf(x->in, NULL, _IOFBF, XFER_BUF);
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, count_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->size);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, (long)XFER_BUF);
		break;
	case X_PUT_MEM:
		x->off = 0;
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, mem_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body.len);
		break;
	}
	curl_multi_add_handle(r->multi, e);
	return 0;
}

/* Close what one attempt opened; the tmp file stays for blob_arrived or the next attempt. */
static void
attempt_end(struct kiln_remote *r, struct xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(r->multi, x->easy);
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
	}
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	if (x->in)
		fclose(x->in);
	x->in = NULL;
}

static void
drop_tmp(struct xfer *x)
{
	if (x->hash)
		kiln_hasher_free(x->hash);
	x->hash = NULL;
	if (x->tmp)
		unlink(x->tmp);
}

static void
warn_bad(struct kiln_remote *r, const char *what, const char *why)
{
	if (r->st.bad <= BAD_WARNINGS)
		warn("remote cache %s: %s %s; dropped it", r->base, what, why);
	else if (r->st.bad == BAD_WARNINGS + 1)
		warn("remote cache %s: more bad blobs; counting them without naming each", r->base);
}

/* A blob's body arrived whole: keep it only if it hashes to what was asked for. */
static void
blob_arrived(struct kiln_remote *r, struct xfer *x)
{
	struct kiln_digest got;
	char hex[KILN_DIGEST_HEX], what[64];
	char *dir;

	kiln_hasher_digest(x->hash, &got);
	snprintf(what, sizeof(what), "blob cas/%s", kiln_digest_hex(&x->digest, hex));
	if (!kiln_digest_eq(&got, &x->digest) || (x->size && x->got != x->size)) {
		drop_tmp(x);
		x->result = XR_BAD;
		r->st.bad++;
		warn_bad(r, what, "does not match its digest");
		return;
	}
	kiln_hasher_free(x->hash);
	x->hash = NULL;
	dir = xstrndup(x->path, strrchr(x->path, '/') - x->path);
	/* Read-only, like every blob of the local cache. */
	if (chmod(x->tmp, 0444) < 0 || mkdir_p(dir, 0755) < 0 || fault_rename(x->tmp, x->path) < 0) {
		snprintf(r->last_error, sizeof(r->last_error), "cannot store %s in %s: %s", what, r->cache->dir,
		    strerror(errno));
		unlink(x->tmp);
		x->result = XR_FAILED;
		r->st.failed++;
	} else {
		x->result = XR_OK;
		r->st.blobs_down++;
		r->st.bytes_down += x->got;
	}
	free(dir);
}

static void
give_up(struct kiln_remote *r)
{
	if (r->down)
		return;
	r->down = 1;
	warn("remote cache %s: giving up on it for this run (%s); building without it", r->base, r->last_error);
}

/* How an attempt ended: done, a miss, or schedule another try. Returns 1 when x is finished. */
static int
attempt_done(struct kiln_remote *r, struct xfer *x, CURLcode cc, double now)
{
	long code = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	attempt_end(r, x);
	if (cc == CURLE_OK && code / 100 == 2) {
		r->streak = 0;
		if (x->kind == X_GET_BLOB)
			blob_arrived(r, x);
		else
			x->result = XR_OK;
		if (x->kind == X_PUT_FILE)
			r->batch_bytes += x->size;
		return 1;
	}
	if (cc == CURLE_OK && code == 404 && x->kind != X_PUT_FILE && x->kind != X_PUT_MEM) {
		r->streak = 0;
		drop_tmp(x);
		x->result = XR_MISSING;
		return 1;
	}
	if (x->toolong && code / 100 == 2) {
		/* More bytes than the entry promised: whatever it is, it is not the blob. */
		drop_tmp(x);
		x->result = XR_BAD;
		r->st.bad++;
		warn_bad(r, x->url + strlen(r->base) + 1, "is longer than its entry says");
		return 1;
	}
	if (cc == CURLE_OK)
		snprintf(r->last_error, sizeof(r->last_error), "%s: HTTP %ld", x->url, code);
	else
		snprintf(r->last_error, sizeof(r->last_error), "%s: %s", x->url, curl_easy_strerror(cc));
	if (cc == CURLE_OK && code / 100 == 4 && code != 408 && code != 429) {
		/* Refused (401, 403, 405…): asking again will not help. */
		drop_tmp(x);
		x->result = XR_FAILED;
		r->st.failed++;
		if ((x->kind == X_PUT_FILE || x->kind == X_PUT_MEM) && !r->no_upload) {
			r->no_upload = 1;
			warn("remote cache %s: the server refuses uploads (%s); not uploading for the rest of this run",
			    r->base, r->last_error);
		}
		return 1;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		/* Waiting again for a server that stalls would cost stall_s per try. */
		drop_tmp(x);
		x->result = XR_FAILED;
		r->st.failed++;
		give_up(r);
		return 1;
	}
	if (++x->tries < TRIES && !r->down) {
		double wait = BACKOFF * (1 << (x->tries - 1));

		/* Jitter, so parallel retries do not arrive together. */
		x->not_before = now + wait * (0.75 + 0.5 * (rand() / (double)RAND_MAX));
		if (x->hash)
			kiln_hasher_free(x->hash);
		x->hash = NULL;
		return 0;
	}
	drop_tmp(x);
	x->result = XR_FAILED;
	r->st.failed++;
	if (++r->streak >= FAIL_STREAK || cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
		give_up(r);
	return 1;
}

static void
progress(struct kiln_remote *r, int last)
{
	char sz[32];
	double now = now_seconds();
	int width = 24, fill;

	if (!r->verb || !isatty(2) || (!last && now - r->shown < 0.1))
		return;
	r->shown = now;
	if (last) {
		if (r->progress_on)
			fputs("\r\033[K", stderr);
		r->progress_on = 0;
		return;
	}
	fill = r->batch_n ? (int)(width * r->batch_done / r->batch_n) : 0;
	fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu %s\033[K", r->verb, fill, "########################",
	    width - fill, "", r->batch_done, r->batch_n,
	    format_size(sz, sizeof(sz), r->batch_bytes + r->st.bytes_down));
	r->progress_on = 1;
}

/* Wait until a running transfer has news, or the earliest retry is due. */
static void
wait_some(struct kiln_remote *r, int active, double next_retry)
{
	double now = now_seconds();
	int ms = 200;

	if (next_retry > 0) {
		double until = next_retry - now;

		ms = until <= 0 ? 0 : until * 1000 < ms ? (int)(until * 1000) + 1 : ms;
	}
	if (active)
		curl_multi_poll(r->multi, NULL, 0, ms, NULL);
	else if (ms > 0)
		usleep(ms * 1000);
}

/* Stop every transfer of the batch at once, quietly: the caller is going away. */
static void
abandon(struct kiln_remote *r, struct xfer *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].result != XR_PENDING)
			continue;
		attempt_end(r, &v[i]);
		drop_tmp(&v[i]);
		v[i].result = XR_FAILED;
	}
	r->down = 1;
	snprintf(r->last_error, sizeof(r->last_error), "interrupted");
}

/* Run every transfer of v to its end: parallel at a time, retries as they fall due. */
static void
run_batch(struct kiln_remote *r, struct xfer *v, size_t n)
{
	size_t first = 0, done = 0, i, nretry = 0;
	size_t *retry = xreallocarray(NULL, n + 1, sizeof(*retry));
	int active = 0, running, ended;

	r->batch_done = 0;
	r->batch_n = n;
	while (done < n) {
		double now = now_seconds(), next_retry = 0;
		CURLMsg *m;
		int left;

		/* Due retries first, then new transfers, up to the limit. */
		for (i = 0; i < nretry;) {
			struct xfer *x = &v[retry[i]];

			if (r->down || (active < r->parallel && x->not_before <= now)) {
				retry[i] = retry[--nretry];
				if (r->down) {
					drop_tmp(x);
					x->result = XR_FAILED;
					done++;
				} else if (attempt(r, x) < 0) {
					attempt_end(r, x);
					x->result = XR_FAILED;
					done++;
				} else {
					active++;
				}
				continue;
			}
			if (!next_retry || x->not_before < next_retry)
				next_retry = x->not_before;
			i++;
		}
		while (first < n && (r->down || active < r->parallel)) {
			struct xfer *x = &v[first++];

			if (r->down || attempt(r, x) < 0) {
				attempt_end(r, x);
				x->result = XR_FAILED;
				done++;
			} else {
				active++;
			}
		}
		if (done == n)
			break;
		curl_multi_perform(r->multi, &running);
		ended = 0;
		while ((m = curl_multi_info_read(r->multi, &left))) {
			struct xfer *x;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			active--;
			ended++;
			if (attempt_done(r, x, m->data.result, now_seconds())) {
				done++;
				r->batch_done++;
			} else {
				retry[nretry++] = x - v;
			}
		}
		progress(r, 0);
		if (done < n && pending_signal()) {
			abandon(r, v, n);
			break;
		}
		/* Slots just came free: fill them before waiting. */
		if (done < n && !(ended && first < n))
			wait_some(r, active, next_retry);
	}
	progress(r, 1);
	free(retry);
}

/* Fetching. */

static int
cmp_digestp(const void *a, const void *b)
{
	return memcmp((*(const struct kiln_file *const *)a)->digest.b,
	    (*(const struct kiln_file *const *)b)->digest.b, 16);
}

/* The files of act whose blobs the local cache lacks, each digest once. */
static size_t
blobs_needed(struct kiln_remote *r, const struct kiln_action *act, const struct kiln_file ***out)
{
	const struct kiln_file **v = xreallocarray(NULL, act->nfiles + 1, sizeof(*v));
	size_t i, n = 0, k = 0;

	for (i = 0; i < act->nfiles; i++)
		v[n++] = &act->files[i];
	qsort(v, n, sizeof(*v), cmp_digestp);
	for (i = 0; i < n; i++) {
		if (k && kiln_digest_eq(&v[k - 1]->digest, &v[i]->digest))
			continue;
		if (!kiln_cache_has_blob(r->cache, &v[i]->digest))
			v[k++] = v[i];
	}
	*out = v;
	return k;
}

/* Download the blobs of act that the local cache lacks. 1 all there now, 0 not. */
static int
fetch_blobs(struct kiln_remote *r, const struct kiln_action *act, const char *target)
{
	const struct kiln_file **need;
	size_t n = blobs_needed(r, act, &need), i, ok = 0, bad = 0;
	struct xfer *v = xreallocarray(NULL, n + 1, sizeof(*v));

	for (i = 0; i < n; i++) {
		xfer_init(&v[i], X_GET_BLOB, url_of(r, "cas", &need[i]->digest));
		v[i].digest = need[i]->digest;
		v[i].size = need[i]->size;
		v[i].path = kiln_cache_blob_path(r->cache, &need[i]->digest);
	}
	run_batch(r, v, n);
	for (i = 0; i < n; i++) {
		ok += v[i].result == XR_OK;
		bad += v[i].result == XR_BAD;
		xfer_release(&v[i]);
	}
	free(v);
	free(need);
	if (ok == n)
		return 1;
	if (bad)
		warn("remote cache %s: %zu bad blob%s for '%s'; building it here", r->base, bad, bad > 1 ? "s" : "",
		    target);
	else if (!r->down)
		warn("remote cache %s: could not fetch the outputs of '%s' (%s); building it here", r->base, target,
		    r->last_error);
	return 0;
}

int
kiln_remote_fetch(struct kiln_remote *r, const struct kiln_digest *key, const char *target)
{
	struct xfer x;
	struct kiln_action act;
	struct arena a = {0};
	char hex[KILN_DIGEST_HEX];
	int ret = 0;

	if (!r || r->down)
		return 0;
	xfer_init(&x, X_GET_MEM, url_of(r, "ac", key));
	run_batch(r, &x, 1);
	if (x.result == XR_MISSING) {
		r->st.misses++;
	} else if (x.result != XR_OK) {
		if (!r->down)
			warn("remote cache %s: cannot look up '%s' (%s); building it here", r->base, target, r->last_error);
	} else if (kiln_action_parse(x.body.s ? x.body.s : "", x.body.len, &act, &a) < 0) {
		r->st.bad++;
		warn("remote cache %s: the entry ac/%s for '%s' is damaged; building it here", r->base,
		    kiln_digest_hex(key, hex), target);
	} else if (fetch_blobs(r, &act, target) == 1 && kiln_cache_put_action(r->cache, key, &act) == 0) {
		r->st.entries_down++;
		ret = 1;
	}
	arena_release(&a);
	xfer_release(&x);
	return ret;
}

int
kiln_remote_peek(struct kiln_remote *r, const struct kiln_digest *key, struct kiln_action *act,
    struct arena *a)
{
	struct xfer x;
	int ret;

	if (!r || r->down)
		return 0;
	xfer_init(&x, X_GET_MEM, url_of(r, "ac", key));
	run_batch(r, &x, 1);
	ret = x.result == XR_OK && kiln_action_parse(x.body.s ? x.body.s : "", x.body.len, act, a) == 0;
	xfer_release(&x);
	return ret;
}

/* Storing. */

/* HEAD: 1 the server has it, 0 it does not, -1 failed. */
static int
remote_has(struct kiln_remote *r, const char *kind, const struct kiln_digest *d)
{
	struct xfer x;
	int ret;

	xfer_init(&x, X_HEAD, url_of(r, kind, d));
	run_batch(r, &x, 1);
	ret = x.result == XR_OK ? 1 : x.result == XR_MISSING ? 0 : -1;
	xfer_release(&x);
	return ret;
}

static void
put_init(struct kiln_remote *r, struct xfer *x, const struct kiln_file *f)
{
	struct stat sb;

	xfer_init(x, X_PUT_FILE, url_of(r, "cas", &f->digest));
	x->path = kiln_cache_blob_path(r->cache, &f->digest);
	x->size = stat(x->path, &sb) == 0 ? (uint64_t)sb.st_size : f->size;
}

/*
 * Ask with HEAD for every blob of at least HEAD_MIN bytes, then PUT those
 * the server lacks and every smaller one: below HEAD_MIN a HEAD's round trip
 * costs about what sending the bytes again does. 0 all on the server, -1 not.
 */
static int
store_blobs(struct kiln_remote *r, const struct kiln_action *act)
{
	const struct kiln_file **v = xreallocarray(NULL, act->nfiles + 1, sizeof(*v));
	struct xfer *x = xreallocarray(NULL, act->nfiles + 1, sizeof(*x));
	const struct kiln_file **big = xreallocarray(NULL, act->nfiles + 1, sizeof(*big));
	size_t i, n = 0, k = 0, nbig = 0, ok = 0;

	for (i = 0; i < act->nfiles; i++)
		v[n++] = &act->files[i];
	qsort(v, n, sizeof(*v), cmp_digestp);
	for (i = 0; i < n; i++)
		if (!k || !kiln_digest_eq(&v[k - 1]->digest, &v[i]->digest))
			v[k++] = v[i];
	n = k;
	for (i = 0; i < n; i++)
		if (v[i]->size >= HEAD_MIN) {
			xfer_init(&x[nbig], X_HEAD, url_of(r, "cas", &v[i]->digest));
			big[nbig++] = v[i];
		}
	run_batch(r, x, nbig);
	for (i = 0, k = 0; i < nbig; i++) {
		int res = x[i].result;

		xfer_release(&x[i]);
		if (res == XR_OK) {
			r->st.present++;
			ok++;
		} else if (res == XR_MISSING) {
			big[k++] = big[i];
		}
	}
	nbig = k;
	for (i = 0, k = 0; i < nbig; i++)
		put_init(r, &x[k++], big[i]);
	for (i = 0; i < n; i++)
		if (v[i]->size < HEAD_MIN)
			put_init(r, &x[k++], v[i]);
	run_batch(r, x, k);
	for (i = 0; i < k; i++) {
		if (x[i].result == XR_OK) {
			r->st.blobs_up++;
			r->st.bytes_up += x[i].size;
			ok++;
		}
		xfer_release(&x[i]);
	}
	free(big);
	free(x);
	free(v);
	return ok == n ? 0 : -1;
}

int
kiln_remote_store(struct kiln_remote *r, const struct kiln_digest *key, const struct kiln_action *act,
    const char *target)
{
	struct xfer x;
	int ret;

	if (!r || r->read_only || r->down || r->no_upload)
		return 0;
	/* First writer wins: an entry already there is not replaced, nor are its blobs sent again. */
	ret = remote_has(r, "ac", key);
	if (ret == 1)
		return 0;
	if (ret < 0 || store_blobs(r, act) < 0) {
		if (!r->down && !r->no_upload)
			warn("remote cache %s: could not upload the outputs of '%s' (%s)", r->base, target, r->last_error);
		return r->no_upload ? 0 : -1;
	}
	xfer_init(&x, X_PUT_MEM, url_of(r, "ac", key));
	kiln_action_format(&x.body, act);
	run_batch(r, &x, 1);
	ret = x.result == XR_OK ? 0 : -1;
	if (ret == 0)
		r->st.entries_up++;
	else if (!r->down && !r->no_upload)
		warn("remote cache %s: could not upload the entry for '%s' (%s)", r->base, target, r->last_error);
	xfer_release(&x);
	return r->no_upload ? 0 : ret;
}

void
kiln_remote_report(const struct kiln_remote *r)
{
	const struct kiln_remote_stats *s;
	char a[32], b[32];

	if (!r)
		return;
	s = &r->st;
	if (!s->entries_down && !s->entries_up && !s->bad && !s->failed && !s->blobs_up && !s->blobs_down)
		return;
	printf("kiln: remote cache %s: fetched %llu targets (%llu blobs, %s), uploaded %llu targets (%llu blobs, %s)",
	    r->base, s->entries_down, s->blobs_down, format_size(a, sizeof(a), s->bytes_down), s->entries_up,
	    s->blobs_up, format_size(b, sizeof(b), s->bytes_up));
	if (s->bad)
		printf(", %llu bad blobs dropped", s->bad);
	if (s->failed)
		printf(", %llu transfers failed", s->failed);
	if (r->down)
		printf(" (gave up on it)");
	printf("\n");
}
