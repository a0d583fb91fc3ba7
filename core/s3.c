/*
 * s3: s3:// remotes' URL, credentials and XML answers; see s3.h.
 *
 * ~/.aws/credentials is read by a few lines here, not a library: it is an
 * INI file of `[profile]` headers and `key = value` lines, which is all
 * kiln needs of it (docs/design.md says why no INI library).
 */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3.h"
#include "util.h"

#define CRED_MAX (1 << 20)	/* a credentials file larger than this is not one */

int
kiln_s3_is_url(const char *url)
{
	return strncmp(url, "s3://", 5) == 0;
}

static int
bucket_ok(const char *b)
{
	size_t i, n = strlen(b);

	if (n < 3 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' || b[i] == '.'))
			return 0;
	return 1;
}

/* A prefix of path segments of URL-safe characters: nothing to escape, nothing to normalize. */
static int
prefix_ok(const char *p)
{
	size_t i;

	for (i = 0; p[i]; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '/'))
			return 0;
		if (c == '/' && (i == 0 || p[i - 1] == '/'))
			return 0;
		if (c == '.' && (i == 0 || p[i - 1] == '/') && (p[i + 1] == '/' || !p[i + 1] ||
		    (p[i + 1] == '.' && (p[i + 2] == '/' || !p[i + 2]))))
			return 0;
	}
	return 1;
}

static const char *
env(const char *name)
{
	const char *s = getenv(name);

	return s && *s ? s : NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

/* The keys of [profile] in the credentials file's text: 1 when both keys are there. */
static int
profile_keys(char *text, const char *profile, char **id, char **secret, char **token)
{
	char *line, *save = NULL;
	int in = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *l = trim(line), *eq;

		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');

			in = end && (*end = 0, strcmp(trim(l + 1), profile) == 0);
			continue;
		}
		eq = strchr(l, '=');
		if (!in || !eq)
			continue;
		*eq = 0;
		l = trim(l);
		eq = trim(eq + 1);
		if (strcmp(l, "aws_access_key_id") == 0 && !*id)
			*id = xstrdup(eq);
		else if (strcmp(l, "aws_secret_access_key") == 0 && !*secret)
			*secret = xstrdup(eq);
		else if (strcmp(l, "aws_session_token") == 0 && !*token)
			*token = xstrdup(eq);
	}
	return *id && **id && *secret && **secret;
}

/* The credentials file's path (malloc'd): AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials. */
static char *
cred_path(void)
{
	const char *f = env("AWS_SHARED_CREDENTIALS_FILE"), *home = env("HOME");

	return f ? xstrdup(f) : xasprintf("%s/.aws/credentials", home ? home : "");
}

/* Credentials: the environment's, else the file's profile. -1 after saying where it looked. */
static int
credentials(struct kiln_s3 *s)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
	const char *profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
	char *path, *text, *fid = NULL, *fsecret = NULL, *ftoken = NULL;
	size_t len;
	int ok;

	if (id && secret) {
		s->userpwd = xasprintf("%s:%s", id, secret);
		if (env("AWS_SESSION_TOKEN"))
			s->token = xasprintf("x-amz-security-token: %s", env("AWS_SESSION_TOKEN"));
		s->cred_from = xstrdup("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		return 0;
	}
	path = cred_path();
	text = read_file(path, &len);
	ok = text && len < CRED_MAX && profile_keys(text, profile, &fid, &fsecret, &ftoken);
	if (text)
		memset(text, 0, len);
	if (ok) {
		s->userpwd = xasprintf("%s:%s", fid, fsecret);
		if (ftoken && *ftoken)
			s->token = xasprintf("x-amz-security-token: %s", ftoken);
		s->cred_from = xasprintf("%s [%s]", path, profile);
	} else {
		error("remote cache %s: no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are %s, and %s "
		    "%s [%s] with aws_access_key_id and aws_secret_access_key (the profile is AWS_PROFILE's, else "
		    "\"default\"); set them, or use --remote off", s->url, id || secret ? "not both set" : "not set", path,
		    text ? "has no" : "cannot be read for", profile);
	}
	free(text);
	free(fid);
	free(fsecret);
	free(ftoken);
	free(path);
	return ok ? 0 : -1;
}

/* Where the bucket is: the endpoint's path-style URL, else AWS's virtual-hosted one. */
static void
bucket_url(struct kiln_s3 *s)
{
	const char *ep = env("AWS_ENDPOINT_URL_S3") ? env("AWS_ENDPOINT_URL_S3") : env("AWS_ENDPOINT_URL");

	if (ep) {
		size_t n = strlen(ep);

		while (n && ep[n - 1] == '/')
			n--;
		s->endpoint = xstrndup(ep, n);
		s->bucket_url = xasprintf("%s/%s", s->endpoint, s->bucket);
	} else if (strchr(s->bucket, '.')) {
		/* A dotted name does not match the *.s3 certificate as a host name. */
		s->bucket_url = xasprintf("https://s3.%s.amazonaws.com/%s", s->region, s->bucket);
	} else {
		s->bucket_url = xasprintf("https://%s.s3.%s.amazonaws.com", s->bucket, s->region);
	}
	s->base = *s->prefix ? xasprintf("%s/%s", s->bucket_url, s->prefix) : xstrdup(s->bucket_url);
}

int
kiln_s3_open(struct kiln_s3 *s, const char *url)
{
	const char *p = url + 5, *slash = strchr(p, '/');
	const char *region = env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
	size_t n;

	memset(s, 0, sizeof(*s));
	n = strlen(url);
	while (n > 5 && url[n - 1] == '/')
		n--;
	s->url = xstrndup(url, n);
	s->bucket = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(s->url + 5);
	s->prefix = xstrdup(slash && slash - url < (long)n ? s->url + (slash - url) + 1 : "");
	s->region = xstrdup(region ? region : "us-east-1");
	if (!bucket_ok(s->bucket) || !prefix_ok(s->prefix) || strspn(s->region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(s->region)) {
		error("remote cache '%s': expected s3://BUCKET/PREFIX (a bucket name of a-z, 0-9, '-' and '.'; a prefix "
		    "of A-Z, a-z, 0-9, '-', '_', '.' and '/'), and a region (AWS_REGION) of a-z, 0-9 and '-'", url);
		kiln_s3_release(s);
		return -1;
	}
	if (credentials(s) < 0) {
		kiln_s3_release(s);
		return -1;
	}
	s->sigv4 = xasprintf("aws:amz:%s:s3", s->region);
	bucket_url(s);
	return 0;
}

void
kiln_s3_release(struct kiln_s3 *s)
{
	free(s->url);
	free(s->bucket);
	free(s->prefix);
	free(s->region);
	free(s->endpoint);
	free(s->bucket_url);
	free(s->base);
	if (s->userpwd)
		memset(s->userpwd, 0, strlen(s->userpwd));
	free(s->userpwd);
	free(s->sigv4);
	free(s->token);
	free(s->cred_from);
	memset(s, 0, sizeof(*s));
}

/* XML: expat, each element's text handed to fn with its depth and name when it ends. */

typedef void xml_fn(void *arg, int depth, const char *name, const char *text);

struct xml {
	xml_fn *fn;
	void *arg;
	int depth;
	char root[64];		/* the document element's name */
	struct buf text;
};

static void XMLCALL
xml_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct xml *x = arg;

	(void)atts;
	if (x->depth++ == 0)
		snprintf(x->root, sizeof(x->root), "%s", name);
	buf_reset(&x->text);
}

static void XMLCALL
xml_end(void *arg, const XML_Char *name)
{
	struct xml *x = arg;

	buf_addc(&x->text, 0);
	x->fn(x->arg, x->depth--, name, x->text.s);
	buf_reset(&x->text);
}

static void XMLCALL
xml_chars(void *arg, const XML_Char *s, int n)
{
	struct xml *x = arg;

	if (x->text.len + (size_t)n < 1 << 20)
		buf_add(&x->text, s, (size_t)n);
}

/* Parse body; the document element's name into root. -1 when it is not XML. */
static int
xml_parse(const char *body, size_t n, xml_fn *fn, void *arg, char *root, size_t nroot)
{
	XML_Parser p = XML_ParserCreate(NULL);
	struct xml x = {fn, arg, 0, "", BUF_INIT};
	int ok;

	if (!p)
		die("out of memory");
	XML_SetUserData(p, &x);
	XML_SetElementHandler(p, xml_start, xml_end);
	XML_SetCharacterDataHandler(p, xml_chars);
	ok = n < (size_t)1 << 30 && XML_Parse(p, body ? body : "", (int)n, 1) == XML_STATUS_OK;
	XML_ParserFree(p);
	buf_release(&x.text);
	snprintf(root, nroot, "%s", ok ? x.root : "");
	return ok ? 0 : -1;
}

struct err_doc {
	char *code, *msg;
	size_t ncode, nmsg;
};

static void
err_elem(void *arg, int depth, const char *name, const char *text)
{
	struct err_doc *e = arg;

	if (depth == 2 && strcmp(name, "Code") == 0)
		snprintf(e->code, e->ncode, "%s", text);
	else if (depth == 2 && strcmp(name, "Message") == 0)
		snprintf(e->msg, e->nmsg, "%s", text);
}

int
kiln_s3_error(const char *body, size_t n, char *code, size_t ncode, char *msg, size_t nmsg)
{
	struct err_doc e = {code, msg, ncode, nmsg};
	char root[64];

	*code = *msg = 0;
	if (!n || xml_parse(body, n, err_elem, &e, root, sizeof(root)) < 0 || strcmp(root, "Error") != 0) {
		*code = *msg = 0;
		return 0;
	}
	return 1;
}

int
kiln_s3_error_is_fatal(const char *code)
{
	static const char *const fatal[] = {
		"SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
		"AuthorizationHeaderMalformed", "NoSuchBucket", "PermanentRedirect", "InvalidBucketName",
		"AllAccessDisabled", "AccountProblem", "InvalidSecurity", "RequestTimeTooSkewed", NULL,
	};
	size_t i;

	for (i = 0; fatal[i]; i++)
		if (strcmp(code, fatal[i]) == 0)
			return 1;
	return 0;
}

struct list_doc {
	kiln_s3_object_fn *fn;
	void *arg;
	char *key, *next;
	double mtime;
	uint64_t size;
	int truncated;
};

/* An ISO 8601 time as S3 writes it ("2026-12-01T10:22:03.000Z"), or 0. */
static double
iso_time(const char *s)
{
	struct tm tm = {0};

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm);
}

static void
list_elem(void *arg, int depth, const char *name, const char *text)
{
	struct list_doc *l = arg;

	if (depth == 3 && strcmp(name, "Key") == 0) {
		free(l->key);
		l->key = xstrdup(text);
	} else if (depth == 3 && strcmp(name, "LastModified") == 0) {
		l->mtime = iso_time(text);
	} else if (depth == 3 && strcmp(name, "Size") == 0) {
		l->size = strtoull(text, NULL, 10);
	} else if (depth == 2 && strcmp(name, "Contents") == 0) {
		if (l->key)
			l->fn(l->arg, l->key, l->mtime, l->size);
		free(l->key);
		l->key = NULL;
		l->mtime = 0;
		l->size = 0;
	} else if (depth == 2 && strcmp(name, "IsTruncated") == 0) {
		l->truncated = strcmp(text, "true") == 0;
	} else if (depth == 2 && strcmp(name, "NextContinuationToken") == 0) {
		free(l->next);
		l->next = xstrdup(text);
	}
}

int
kiln_s3_list_page(const char *body, size_t n, kiln_s3_object_fn *fn, void *arg, char **next)
{
	struct list_doc l = {fn, arg, NULL, NULL, 0, 0, 0};
	char root[64];
	int ok = xml_parse(body, n, list_elem, &l, root, sizeof(root)) == 0 && strcmp(root, "ListBucketResult") == 0;

	free(l.key);
	if (!ok || !l.truncated || !l.next || !*l.next) {
		free(l.next);
		l.next = NULL;
	}
	/* Truncated without a token would list the same page again forever. */
	*next = l.next;
	return ok && (!l.truncated || l.next) ? 0 : -1;
}

char *
kiln_s3_query_escape(const char *s)
{
	struct buf b = BUF_INIT;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			buf_addc(&b, (char)c);
		} else {
			char hex[4];

			snprintf(hex, sizeof(hex), "%%%02X", c);
			buf_adds(&b, hex);
		}
	}
	buf_addc(&b, 0);
	return buf_detach(&b);
}

char *
kiln_s3_list_url(const struct kiln_s3 *s, const char *prefix, const char *token)
{
	/* The parameters in the order Signature V4 sorts them: libcurl signs the query as it is given. */
	char *p = kiln_s3_query_escape(prefix), *t = token ? kiln_s3_query_escape(token) : NULL, *url;
	/* The bucket's own path: "/BUCKET" path-style (no slash after it: servers sign the path as sent), else "/". */
	const char *slash = strchr(strstr(s->bucket_url, "://") + 3, '/') ? "" : "/";

	if (t)
		url = xasprintf("%s%s?continuation-token=%s&list-type=2&prefix=%s", s->bucket_url, slash, t, p);
	else
		url = xasprintf("%s%s?list-type=2&prefix=%s", s->bucket_url, slash, p);
	free(p);
	free(t);
	return url;
}

struct id_doc {
	char *id;
};

static void
id_elem(void *arg, int depth, const char *name, const char *text)
{
	struct id_doc *d = arg;

	if (depth == 2 && strcmp(name, "UploadId") == 0 && !d->id)
		d->id = xstrdup(text);
}

char *
kiln_s3_upload_id(const char *body, size_t n)
{
	struct id_doc d = {NULL};
	char root[64];

	if (xml_parse(body, n, id_elem, &d, root, sizeof(root)) < 0 || strcmp(root, "InitiateMultipartUploadResult") != 0 ||
	    !d.id || !*d.id) {
		free(d.id);
		return NULL;
	}
	return d.id;
}
