/*
 * The fetch plugin: the fetch rule. Downloads one URL (http://, https://
 * or a file the rule binds) with libcurl into the output folder, resuming
 * with a Range request when the connection drops, and keeps it only when
 * its bytes have the digest the Kilnfile pins (sha256 or xxh3, the
 * 128-bit XXH3 that xxh128sum prints). The rule gives the step network =
 * true; nothing else of the repository's runs in it. Once built, the file
 * is in kiln's cache under the target's key, so neither a second
 * workspace nor an offline machine downloads it again.
 */
#include <curl/curl.h>
#include <errno.h>
#include <kiln/plugin.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "../lib/util.h"

/* How many times a dropped transfer is resumed before the step fails. */
#define ATTEMPTS 6

struct dl {
	kiln_ctx *ctx;
	FILE *f;
	curl_off_t have;	/* bytes in the file before this attempt */
	double last;		/* when progress was last reported */
};


static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct dl *d = arg;

	return fwrite(data, size, n, d->f) == n ? n * size : 0;
}

/* Bytes and KiB in the status line, a few times a second. */
static int
progress_cb(void *arg, curl_off_t total, curl_off_t now_bytes, curl_off_t ut, curl_off_t un)
{
	struct dl *d = arg;
	double t = kp_now();

	(void)ut;
	(void)un;
	if (t - d->last >= 0.25 && total > 0) {
		d->last = t;
		kiln_progress(d->ctx, (double)(d->have + now_bytes) / 1024, (double)(d->have + total) / 1024, "KiB");
	}
	return 0;
}

/*
 * One attempt, from the bytes already in d->f. 0 done; 1 worth resuming
 * (a dropped or cut-short transfer, a 5xx); -1 not (a 4xx, a bad URL),
 * with the message in err.
 */
static int
attempt(struct dl *d, const char *url, char *err)
{
	CURL *c = curl_easy_init();
	char cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode cc;

	if (!c)
		return kp_errf(err, "cannot start libcurl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A server that stops sending for 60 s has dropped us: resume. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-fetch/1");
	if (d->have)
		curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, d->have);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (fflush(d->f) != 0)
		return kp_errf(err, "cannot write the download: %s", strerror(errno));
	if (cc == CURLE_OK)
		return 0;
	if (cc == CURLE_HTTP_RETURNED_ERROR) {
		kp_errf(err, "the server answered HTTP %ld", code);
		return code >= 500 || code == 408 || code == 429 ? 1 : -1;
	}
	if (cc == CURLE_RANGE_ERROR) {
		/* The server ignores ranges: start again from the first byte. */
		kp_errf(err, "the server does not resume (no range support)");
		return ftruncate(fileno(d->f), 0) == 0 && fseek(d->f, 0, SEEK_SET) == 0 ? 1 : -1;
	}
	kp_errf(err, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
	return cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT || cc == CURLE_FILE_COULDNT_READ_FILE ||
	    cc == CURLE_TOO_MANY_REDIRECTS || cc == CURLE_REMOTE_FILE_NOT_FOUND ? -1 : 1;
}

/* Download url into path, resuming a dropped transfer. 0, or -1 with err. */
static int
download(kiln_ctx *ctx, const char *url, const char *path, char *err)
{
	struct dl d = { ctx, fopen(path, "wb"), 0, 0 };
	int i, r = 1, resumed = 0;
	struct stat st;

	if (!d.f)
		return kp_errf(err, "%s: %s", path, strerror(errno));
	for (i = 0; i < ATTEMPTS && r == 1; i++) {
		curl_off_t before = d.have;

		d.have = fstat(fileno(d.f), &st) == 0 ? st.st_size : 0;
		if (i && d.have > before) {
			kiln_log(ctx, "%s: %s after %lld bytes; resuming with a range request", url, err,
			    (long long)d.have);
			resumed++;
		} else if (i) {
			kiln_log(ctx, "%s: %s; trying again", url, err);
			sleep(1);
		}
		r = attempt(&d, url, err);
	}
	if (fclose(d.f) != 0 && r == 0)
		r = kp_errf(err, "cannot write the download: %s", strerror(errno));
	if (r == 0 && resumed)
		kiln_log(ctx, "resumed %d time%s", resumed, resumed == 1 ? "" : "s");
	return r == 0 ? 0 : -1;
}

/* The file's digest in the kind the Kilnfile pins: sha256 or xxh3 (128 bits), in hex. */
static int
digest(const char *path, int sha, char *hex, char *err)
{
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *m = sha ? EVP_MD_CTX_new() : NULL;
	XXH3_state_t *x = sha ? NULL : XXH3_createState();
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return kp_errf(err, "%s: %s", path, strerror(errno));
	if (sha)
		EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	else
		XXH3_128bits_reset(x);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (sha)
			EVP_DigestUpdate(m, buf, n);
		else
			XXH3_128bits_update(x, buf, n);
	}
	fclose(f);
	if (sha) {
		EVP_DigestFinal_ex(m, md, &mdlen);
		EVP_MD_CTX_free(m);
	} else {
		XXH128_canonical_t c;

		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(x));
		XXH3_freeState(x);
		memcpy(md, c.digest, 16);
		mdlen = 16;
	}
	for (i = 0; i < mdlen; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	return 0;
}

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

static int
check(kiln_ctx *ctx)
{
	const char *url = kiln_param_string(ctx, "url", ""), *sha = kiln_param_string(ctx, "sha256", NULL),
		*xxh = kiln_param_string(ctx, "xxh3", NULL);

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 && strncmp(url, "file://", 7) != 0)
		return kiln_fail(ctx, "param 'url': expected an http://, https:// or file:// URL, got '%s'", url);
	if (!sha == !xxh)
		return kiln_fail(ctx, "give one digest: sha256 = \"64 hex digits\" or xxh3 = \"32 hex digits\"");
	if (sha && !is_hex(sha, 64))
		return kiln_fail(ctx, "param 'sha256': expected 64 lower-case hex digits, got '%s'", sha);
	if (xxh && !is_hex(xxh, 32))
		return kiln_fail(ctx, "param 'xxh3': expected 32 lower-case hex digits (xxh128sum), got '%s'", xxh);
	if (kiln_noutputs(ctx) != 1)
		return kiln_fail(ctx, "a fetch has one output");
	return 0;
}

/* For a file:// URL the rule binds the file as input 'src'; the step reads it there. */
static char *
source_url(kiln_ctx *ctx)
{
	const char *src = kiln_input(ctx, "src");
	char *cwd, *u;

	if (!src)
		return kp_xstrdup(kiln_param_string(ctx, "url", ""));
	if (src[0] == '/')
		return kp_join("file://", src);
	cwd = getcwd(NULL, 0);
	u = kp_xmalloc(strlen(cwd) + strlen(src) + 16);
	sprintf(u, "file://%s/%s", cwd, src);
	free(cwd);
	return u;
}

static int
run(kiln_ctx *ctx)
{
	const char *sha = kiln_param_string(ctx, "sha256", NULL), *want = sha ? sha : kiln_param_string(ctx, "xxh3", "");
	const char *url = kiln_param_string(ctx, "url", "");
	char err[KP_ERRLEN], got[129] = "", *path = kp_join(kiln_output_dir(ctx), kiln_output(ctx, 0));
	char *from = source_url(ctx);
	double start = kp_now();
	struct stat st;
	int rc;

	if (check(ctx) < 0) {
		free(path);
		free(from);
		return -1;
	}
	rc = download(ctx, from, path, err);
	if (rc == 0)
		rc = digest(path, sha != NULL, got, err);
	if (rc < 0) {
		unlink(path);
		rc = kiln_fail(ctx, "%s: %s", url, err);
	} else if (strcmp(got, want) != 0) {
		unlink(path);
		rc = kiln_fail(ctx, "%s: the download has %s %s, but the Kilnfile pins %s; nothing was kept (if the new "
		    "bytes are the right ones, `kiln fetch --update %s` prints the line to change)", url,
		    sha ? "sha256" : "xxh3", got, want, kiln_target(ctx));
	} else if (stat(path, &st) == 0) {
		double secs = kp_now() - start;

		kiln_log(ctx, "%s: %lld bytes in %.2fs (%.1f MB/s), %s %s", url, (long long)st.st_size, secs,
		    secs > 0 ? st.st_size / secs / 1e6 : 0.0, sha ? "sha256" : "xxh3", got);
		kiln_metric(ctx, "bytes", (double)st.st_size);
	}
	free(path);
	free(from);
	return rc;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "fetch",
	.version = "1.0",
	.summary = "downloads one pinned URL, resuming, and keeps it only when its digest is the pinned one",
	.check = check,
	.run = run,
};
