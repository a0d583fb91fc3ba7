/*
 * http: the deploy plugin's side of a registry conversation; see http.h.
 *
 * Authentication follows the distribution spec's token flow: a request
 * answered 401 with `WWW-Authenticate: Bearer realm="…",service="…",
 * scope="…"` is sent again with a token fetched from the realm (GET
 * realm?service=…&scope=…, with Basic credentials when there are some).
 * The token is kept until `expires_in` (60 s when the server does not say)
 * runs out, so one push asks once. Nothing here writes a credential or a
 * token into a log or a message.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../lib/oci.h"
#include "http.h"

int
parse_registry(const char *s, struct registry *r, char *why, size_t whylen)
{
	const char *p = s, *slash, *colon;
	size_t hl, i;

	memset(r, 0, sizeof(*r));
	if (strncmp(p, "http://", 7) == 0) {
		strcpy(r->scheme, "http");
		p += 7;
	} else if (strncmp(p, "https://", 8) == 0) {
		strcpy(r->scheme, "https");
		p += 8;
	} else if (strstr(p, "://")) {
		snprintf(why, whylen, "only http:// and https:// registries are supported");
		return -1;
	}
	slash = strchr(p, '/');
	if (!slash || slash == p) {
		snprintf(why, whylen, "expected HOST[:PORT]/REPOSITORY, as in 127.0.0.1:5000/iris");
		return -1;
	}
	hl = (size_t)(slash - p);
	if (hl >= sizeof(r->host)) {
		snprintf(why, whylen, "host name too long");
		return -1;
	}
	memcpy(r->host, p, hl);
	colon = strrchr(r->host, ':');
	for (i = 0; i < (colon ? (size_t)(colon - r->host) : hl); i++)
		if (!isalnum((unsigned char)r->host[i]) && r->host[i] != '.' && r->host[i] != '-') {
			snprintf(why, whylen, "'%.200s' is not a host name", r->host);
			return -1;
		}
	if (colon) {
		char *end;
		long port = strtol(colon + 1, &end, 10);

		if (end == colon + 1 || *end || port < 1 || port > 65535) {
			snprintf(why, whylen, "'%s' is not a port from 1 to 65535", colon + 1);
			return -1;
		}
	}
	if (!kp_oci_valid_name(slash + 1) || strlen(slash + 1) >= sizeof(r->repo)) {
		snprintf(why, whylen, "'%s' is not a valid repository name", slash + 1);
		return -1;
	}
	strcpy(r->repo, slash + 1);
	if (!r->scheme[0]) {
		int loop = strncmp(r->host, "localhost", 9) == 0 || strncmp(r->host, "127.", 4) == 0 ||
			strncmp(r->host, "[::1]", 5) == 0;

		strcpy(r->scheme, loop ? "http" : "https");
	}
	return 0;
}


static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http *h = arg;

	if (h->body.len < 65536)
		kp_buf_add(&h->body, p, size * n);
	return size * n;
}

static void
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	for (v = nl + 1; v < len && (line[v] == ' ' || line[v] == '\t'); v++)
		;
	while (len > v && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	if (len - v < outlen) {
		memcpy(out, line + v, len - v);
		out[len - v] = '\0';
	}
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http *h = arg;

	header_value(p, size * n, "Location", h->location, sizeof(h->location));
	header_value(p, size * n, "Docker-Content-Digest", h->digest, sizeof(h->digest));
	header_value(p, size * n, "WWW-Authenticate", h->www, sizeof(h->www));
	return size * n;
}

/* The registry's own words for an error answer: errors[0].message, or the status. */
static const char *
registry_says(struct http *h, char *buf, size_t len)
{
	json_t *j = json_loadb((const char *)h->body.p, h->body.len, 0, NULL);
	const json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *m = json_string_value(json_object_get(e, "message"));
	const char *c = json_string_value(json_object_get(e, "code"));

	/* A token server's answer: {"details": …} or {"error": …}. */
	if (!m)
		m = json_string_value(json_object_get(j, "details"));
	if (!m)
		m = json_string_value(json_object_get(j, "error"));
	if (m)
		snprintf(buf, len, "HTTP %ld: %s%s%s%s%s", h->status, c ? c : "", c ? ": " : "", m,
			h->autherr[0] ? "; " : "", h->autherr);
	else
		snprintf(buf, len, "HTTP %ld%s%s", h->status, h->autherr[0] ? ": " : "", h->autherr);
	json_decref(j);
	return buf;
}

int
http_refused(struct http *h, const char *what)
{
	char buf[768];

	return kiln_fail(h->ctx, "registry %s://%s refused %s: %s", h->r->scheme, h->r->host, what,
		registry_says(h, buf, sizeof(buf)));
}

/* The headers of one request: a bearer token, unless basic credentials go instead. */
static struct curl_slist *
headers(struct http *h, const char *ctype, const char *accept, int bearer)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
	char line[300];

	if (bearer && h->token) {
		size_t n = strlen(h->token) + 32;
		char *a = kp_xmalloc(n);

		snprintf(a, n, "Authorization: Bearer %s", h->token);
		hd = curl_slist_append(hd, a);
		free(a);
	}
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		hd = curl_slist_append(hd, line);
	}
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		hd = curl_slist_append(hd, line);
	}
	return hd;
}

/*
 * One plain request. bearer: send the token (else Basic, when there are
 * credentials). Returns 0 with h->status set, or -1 (with the failure
 * reported) when no answer came at all.
 */
static int
request(struct http *h, const char *method, const char *url, const void *body, size_t len,
	const char *ctype, const char *accept, int bearer, const char *what)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd;
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	if (!c)
		return kiln_fail(h->ctx, "libcurl could not start");
	h->body.len = 0;
	h->location[0] = h->digest[0] = h->www[0] = '\0';
	hd = headers(h, ctype, accept, bearer);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A stalled transfer: under 1 kB/s for 30 s. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-deploy/1.1");
	if (h->ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
	if (h->user && !(bearer && h->token)) {
		curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
	}
	/* Registries on object storage redirect blob reads; writes are never redirected. */
	if (strcmp(method, "HEAD") == 0 || strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		/* Credentials stay with the host they are for. */
		curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hd);
	if (rc != CURLE_OK)
		return kiln_fail(h->ctx, "registry %s://%s: %s: %s", h->r->scheme, h->r->host, what,
			ebuf[0] ? ebuf : curl_easy_strerror(rc));
	return 0;
}

/*
 * One auth-param of a challenge: name="value" or name=token, from *p.
 * Hand-written because libcurl parses challenges only for the schemes it
 * speaks itself, and Bearer is not one; the grammar is RFC 7235's
 * auth-param list. 1 with name and value filled, 0 at the end.
 */
static int
auth_param(const char **p, char *name, size_t nl, char *value, size_t vl)
{
	const char *s = *p;
	size_t n = 0, v = 0;

	while (*s == ' ' || *s == ',' || *s == '\t')
		s++;
	while (*s && *s != '=' && *s != ' ' && *s != ',')
		if (n + 1 < nl)
			name[n++] = (char)tolower((unsigned char)*s++);
		else
			s++;
	name[n] = '\0';
	if (*s != '=')
		return 0;
	s++;
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			if (v + 1 < vl)
				value[v++] = *s;
		}
		if (*s == '"')
			s++;
	} else {
		while (*s && *s != ',' && *s != ' ')
			if (v + 1 < vl)
				value[v++] = *s++;
			else
				s++;
	}
	value[v] = '\0';
	*p = s;
	return n > 0;
}

/* Copy src into dst[len], cut short if need be. */
static void
setstr(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Read a Bearer challenge from h->www into h->realm, service, scope and autherr. */
static int
parse_challenge(struct http *h)
{
	const char *p = h->www;
	char name[32], value[1024], err[128] = "", desc[128] = "";

	if (strncasecmp(p, "Bearer ", 7) != 0)
		return 0;
	p += 7;
	h->scope[0] = '\0';
	while (auth_param(&p, name, sizeof(name), value, sizeof(value))) {
		if (strcmp(name, "realm") == 0)
			setstr(h->realm, sizeof(h->realm), value);
		else if (strcmp(name, "service") == 0)
			setstr(h->service, sizeof(h->service), value);
		else if (strcmp(name, "scope") == 0)
			setstr(h->scope, sizeof(h->scope), value);
		else if (strcmp(name, "error") == 0)
			setstr(err, sizeof(err), value);
		else if (strcmp(name, "error_description") == 0)
			setstr(desc, sizeof(desc), value);
	}
	snprintf(h->autherr, sizeof(h->autherr), "%s%s%s", err, err[0] && desc[0] ? ": " : "", desc);
	return h->realm[0] != '\0';
}

/* The token server's answer: token (or access_token), and its lifetime. */
static int
take_token(struct http *h)
{
	json_t *j = json_loadb((const char *)h->body.p, h->body.len, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "token"));
	json_t *exp = json_object_get(j, "expires_in");
	double life = json_is_number(exp) ? json_number_value(exp) : 60;

	if (!t || !*t)
		t = json_string_value(json_object_get(j, "access_token"));
	if (!t || !*t) {
		json_decref(j);
		return kiln_fail(h->ctx, "token server %s (for registry %s://%s) answered without a token",
			h->realm, h->r->scheme, h->r->host);
	}
	free(h->token);
	h->token = kp_xstrdup(t);
	/* Fetched anew a little before it runs out, so no request carries a dying token. */
	h->token_until = kp_now() + (life > 10 ? life - 5 : life / 2);
	json_decref(j);
	return 0;
}

/* Fetch a token for scope from the last challenge's realm. */
static int
fetch_token(struct http *h, const char *scope)
{
	CURL *c = curl_easy_init();
	char *svc = c ? curl_easy_escape(c, h->service, 0) : NULL;
	char *sc = c ? curl_easy_escape(c, scope, 0) : NULL;
	char url[2600], what[1200], buf[768];
	int rc;

	if (!c || !svc || !sc) {
		curl_free(svc);
		curl_free(sc);
		curl_easy_cleanup(c);
		return kiln_fail(h->ctx, "libcurl could not start");
	}
	snprintf(url, sizeof(url), "%s%cservice=%s&scope=%s", h->realm, strchr(h->realm, '?') ? '&' : '?',
		svc, sc);
	curl_free(svc);
	curl_free(sc);
	curl_easy_cleanup(c);
	snprintf(what, sizeof(what), "token server %s", h->realm);
	h->autherr[0] = '\0';
	rc = request(h, "GET", url, NULL, 0, NULL, "application/json", 0, what);
	if (rc < 0)
		return -1;
	if (h->status == 401)
		return kiln_fail(h->ctx, "token server %s (for registry %s://%s) refused the credentials%s%s: %s",
			h->realm, h->r->scheme, h->r->host, h->source ? " in " : " (none were given)",
			h->source ? h->source : "", registry_says(h, buf, sizeof(buf)));
	if (h->status != 200)
		return kiln_fail(h->ctx, "token server %s (for registry %s://%s) refused scope '%s': %s",
			h->realm, h->r->scheme, h->r->host, scope, registry_says(h, buf, sizeof(buf)));
	return take_token(h);
}

/* The scope a push needs, when the challenge names none (GET /v2/'s does not). */
static void
push_scope(const struct http *h, char *out, size_t len)
{
	snprintf(out, len, "repository:%s:pull,push", h->r->repo);
}

int
http_call(struct http *h, const char *method, const char *url, const void *body, size_t len,
	const char *ctype, const char *accept, const char *what)
{
	char scope[512], buf[768];

	if (h->token && !h->fixed_token && kp_now() >= h->token_until) {
		push_scope(h, scope, sizeof(scope));
		if (fetch_token(h, scope) < 0)
			return -1;
	}
	h->challenged = 0;
	h->autherr[0] = '\0';
	if (request(h, method, url, body, len, ctype, accept, 1, what) < 0)
		return -1;
	if (h->status != 401 || h->fixed_token || !parse_challenge(h))
		return 0;
	/* The token we hold (if any) is refused or too narrow: one fresh one, for the scope asked. */
	if (!h->scope[0] || strstr(h->scope, h->r->repo))
		push_scope(h, scope, sizeof(scope));
	else
		snprintf(scope, sizeof(scope), "%s", h->scope);
	if (fetch_token(h, scope) < 0)
		return -1;
	if (request(h, method, url, body, len, ctype, accept, 1, what) < 0)
		return -1;
	if (h->status == 401 || h->status == 403) {
		h->challenged = 1;
		parse_challenge(h);
		return kiln_fail(h->ctx, "registry %s://%s refused the token from %s for scope '%s' (%s): %s",
			h->r->scheme, h->r->host, h->realm, scope, what, registry_says(h, buf, sizeof(buf)));
	}
	return 0;
}

int
http_connect(struct http *h)
{
	const struct registry *r = h->r;
	const char *token = getenv("KILN_REGISTRY_TOKEN"), *user = getenv("KILN_REGISTRY_USER");
	const char *src = getenv("KILN_REGISTRY_SOURCE");
	char url[4096];

	snprintf(h->base, sizeof(h->base), "%s://%s/v2/%s", r->scheme, r->host, r->repo);
	if (token && *token) {
		h->token = kp_xstrdup(token);
		h->fixed_token = 1;
		h->source = src && *src ? src : "KILN_REGISTRY_TOKEN";
	} else if (user && *user) {
		h->user = user;
		h->password = getenv("KILN_REGISTRY_PASSWORD");
		h->source = src && *src ? src : "KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD";
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(url, sizeof(url), "%s://%s/v2/", r->scheme, r->host);
	if (http_call(h, "GET", url, NULL, 0, NULL, NULL, "API check (GET /v2/)") < 0)
		return -1;
	if (h->status == 401 && h->source)
		return kiln_fail(h->ctx, "registry %s://%s refused the credentials in %s (HTTP 401)",
			r->scheme, r->host, h->source);
	if (h->status == 401)
		return kiln_fail(h->ctx, "registry %s://%s wants credentials: set KILN_REGISTRY_TOKEN, or "
			"KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD, or log in with podman, skopeo or docker",
			r->scheme, r->host);
	if (h->status != 200)
		return http_refused(h, "the API check (GET /v2/)");
	return 0;
}

void
http_release(struct http *h)
{
	free(h->token);
	h->token = NULL;
	kp_buf_release(&h->body);
}
