/*
 * s3: what an s3://BUCKET/PREFIX remote needs beyond plain HTTP — the
 * URL's parts, the credentials (environment, then ~/.aws/credentials), the
 * region and endpoint, libcurl's Signature V4 settings, and reading the XML
 * S3 answers with (errors, ListObjectsV2 pages, multipart upload ids) with
 * expat.
 */
#ifndef KILN_S3_H
#define KILN_S3_H

#include <stddef.h>
#include <stdint.h>

struct kiln_s3 {
	char *url;		/* s3://BUCKET/PREFIX as given, without a trailing slash */
	char *bucket;
	char *prefix;		/* "" or "a/b" (no leading or trailing slash) */
	char *region;
	char *endpoint;		/* AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, or NULL for AWS */
	char *bucket_url;	/* the bucket's HTTP URL, without a trailing slash */
	char *base;		/* bucket_url/PREFIX: where ac/ and cas/ are */
	char *userpwd;		/* ACCESS_KEY:SECRET, for CURLOPT_USERPWD */
	char *sigv4;		/* "aws:amz:REGION:s3", for CURLOPT_AWS_SIGV4 */
	char *token;		/* "x-amz-security-token: …" or NULL */
	char *cred_from;	/* where the credentials came from, for messages */
};

/* Is url an s3:// one? */
int kiln_s3_is_url(const char *url);
/* Parse url and find the credentials; -1 after reporting (a bad URL, no credentials: what was looked at). */
int kiln_s3_open(struct kiln_s3 *s, const char *url);
void kiln_s3_release(struct kiln_s3 *s);

/*
 * S3's error document (<Error><Code>…</Code><Message>…</Message></Error>):
 * its code and message into the buffers ("" when the body is not one). 1 when
 * it was an error document, 0 not.
 */
int kiln_s3_error(const char *body, size_t n, char *code, size_t ncode, char *msg, size_t nmsg);
/* Does an error code mean the credentials or the bucket are wrong, for every request (not this one key)? */
int kiln_s3_error_is_fatal(const char *code);

/* One object of a ListObjectsV2 page. */
typedef void kiln_s3_object_fn(void *arg, const char *key, double mtime, uint64_t size);
/*
 * A ListObjectsV2 page: fn for each <Contents>; *next is the continuation
 * token (malloc'd) when the listing is truncated, else NULL. -1 when it is
 * not a listing.
 */
int kiln_s3_list_page(const char *body, size_t n, kiln_s3_object_fn *fn, void *arg, char **next);
/* The ListObjectsV2 URL of the objects under `prefix` (within the bucket), after the page `token` (or NULL). */
char *kiln_s3_list_url(const struct kiln_s3 *s, const char *prefix, const char *token);
/* The UploadId of an InitiateMultipartUploadResult (malloc'd), or NULL. */
char *kiln_s3_upload_id(const char *body, size_t n);
/* s percent-encoded as a query value (everything but A-Za-z0-9-_.~). */
char *kiln_s3_query_escape(const char *s);

#endif
