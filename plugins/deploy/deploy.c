/*
 * The deploy plugin: push a container target's image to an OCI registry and
 * write Kubernetes manifests pinned to its digest.
 *
 * The push is the distribution API's (libcurl): for each blob, smallest
 * first, HEAD /v2/REPO/blobs/DIGEST and skip it when the registry has it,
 * else POST an upload and PUT the bytes with ?digest=; then PUT the manifest
 * under the tag and check the Docker-Content-Digest the registry answers.
 * A push cut off halfway leaves the finished blobs in the registry, and the
 * next run skips them: nothing is sent twice, and the manifest is put only
 * once every blob is there.
 *
 * Outputs: manifests/deployment.yaml and manifests/service.yaml, and
 * push.json (reference, digest, blobs sent and skipped). The plugin runs
 * sandboxed and writes only its output folder; `kiln deploy TARGET` copies
 * the manifests into the folder the rule names and records the deployment
 * (see docs/deploy.md for why).
 *
 * Credentials come from the environment, declared by the rule:
 * KILN_REGISTRY_TOKEN (a bearer token), or KILN_REGISTRY_USER and
 * KILN_REGISTRY_PASSWORD (basic authentication).
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <kiln/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/json.h"
#include "../lib/oci.h"
#include "../lib/util.h"

static const char *const known_params[] = { "app", "manifests", "registry", "replicas", "tag", NULL };

/* A registry reference parsed from "host[:port]/repo" or "http(s)://host[:port]/repo". */
struct registry {
	char scheme[8];		/* "http" or "https" */
	char host[256];		/* host[:port], as written */
	char repo[256];
};

/*
 * Parse a registry param. Without a scheme, loopback hosts get http and
 * every other host https, as docker and podman do. 0, or -1 with why.
 */
static int
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

static int
check(kiln_ctx *ctx)
{
	const char *reg = kiln_param_string(ctx, "registry", NULL), *tag = kiln_param_string(ctx, "tag", NULL);
	const kiln_value *rep = kiln_param(ctx, "replicas");
	struct registry r;
	char why[256];
	size_t i, j;

	for (i = 0; i < kiln_value_len(kiln_params(ctx)); i++) {
		const char *k = kiln_value_key(kiln_params(ctx), i);

		for (j = 0; known_params[j] && strcmp(known_params[j], k); j++)
			;
		if (!known_params[j])
			return kiln_fail(ctx, "unknown param '%s'", k);
	}
	if (!reg)
		return kiln_fail(ctx, "param 'registry' is required");
	if (parse_registry(reg, &r, why, sizeof(why)) < 0)
		return kiln_fail(ctx, "param 'registry': '%s': %s", reg, why);
	if (tag && !kp_oci_valid_tag(tag))
		return kiln_fail(ctx, "param 'tag': '%s' is not a valid tag", tag);
	if (rep && (kiln_value_type(rep) != KILN_INT || kiln_value_int(rep, 0) < 0 ||
	    kiln_value_int(rep, 0) > 1000))
		return kiln_fail(ctx, "param 'replicas': expected an integer from 0 to 1000");
	if (!kiln_input(ctx, "image"))
		return kiln_fail(ctx, "no input 'image'");
	return 0;
}

/* ---- HTTP ---- */

struct http {
	kiln_ctx *ctx;
	const struct registry *r;
	char base[600];		/* scheme://host/v2/repo */
	struct curl_slist *auth;	/* Authorization header, or NULL */
	const char *user, *password;
	long status;
	struct kp_buf body;	/* the answer */
	char location[2048];
	char digest[80];	/* Docker-Content-Digest */
};

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
	return size * n;
}

/* The registry's own words for an error answer: errors[0].message, or the status. */
static const char *
registry_says(struct http *h, char *buf, size_t len)
{
	json_t *j = json_loadb((const char *)h->body.p, h->body.len, 0, NULL);
	const char *m = json_string_value(json_object_get(json_array_get(json_object_get(j, "errors"), 0),
		"message"));
	const char *c = json_string_value(json_object_get(json_array_get(json_object_get(j, "errors"), 0),
		"code"));

	if (m)
		snprintf(buf, len, "HTTP %ld: %s%s%s", h->status, c ? c : "", c ? ": " : "", m);
	else
		snprintf(buf, len, "HTTP %ld", h->status);
	json_decref(j);
	return buf;
}

/*
 * One request. body/len is sent for PUT and POST; ctype is its
 * Content-Type. Returns 0 with h->status set, or -1 (with the failure
 * reported) when no answer came at all.
 */
static int
request(struct http *h, const char *method, const char *url, const void *body, size_t len,
	const char *ctype, const char *what)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hd = NULL, *a;
	char ebuf[CURL_ERROR_SIZE] = "", ct[256];
	CURLcode rc;

	if (!c)
		return kiln_fail(h->ctx, "libcurl could not start");
	h->body.len = 0;
	h->location[0] = h->digest[0] = '\0';
	for (a = h->auth; a; a = a->next)
		hd = curl_slist_append(hd, a->data);
	hd = curl_slist_append(hd, "Expect:");
	if (ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		hd = curl_slist_append(hd, ct);
	}
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
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kiln-deploy/1.0");
	if (h->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
	}
	/* Registries on object storage redirect blob reads; writes are never redirected. */
	if (strcmp(method, "HEAD") == 0 || strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
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

/* Refused: say what the registry said. */
static int
refused(struct http *h, const char *what)
{
	char buf[512];

	return kiln_fail(h->ctx, "registry %s://%s refused %s: %s", h->r->scheme, h->r->host, what,
		registry_says(h, buf, sizeof(buf)));
}

/* ---- the push ---- */

struct blob {
	char digest[80];
	size_t size;
	unsigned char *data;
};

/* Read and check one blob of the image's layout. */
static int
read_blob(kiln_ctx *ctx, const char *oci, const char *digest, size_t size, struct blob *b)
{
	char *dir = kp_join(oci, "blobs/sha256"), *path, err[KP_ERRLEN], got[72];
	size_t len;
	int rc;

	path = kp_join(dir, digest + 7);
	free(dir);
	rc = kp_read_file(path, (char **)&b->data, &len, err);
	free(path);
	if (rc < 0)
		return kiln_fail(ctx, "input 'image': %s", err);
	kp_oci_digest(b->data, len, got);
	if (len != size || strcmp(got, digest) != 0)
		return kiln_fail(ctx, "input 'image': blob %s does not match its digest (got %s, %zu bytes)",
			digest, got, len);
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->size = size;
	return 0;
}

/* Upload one blob unless the registry has it. *sent is 1 when it was sent. */
static int
push_blob(struct http *h, const struct blob *b, int *sent)
{
	char url[4096], what[160];

	*sent = 0;
	snprintf(url, sizeof(url), "%s/blobs/%s", h->base, b->digest);
	snprintf(what, sizeof(what), "HEAD blob %.19s…", b->digest);
	if (request(h, "HEAD", url, NULL, 0, NULL, what) < 0)
		return -1;
	if (h->status == 200)
		return 0;
	if (h->status != 404)
		return refused(h, what);
	snprintf(url, sizeof(url), "%s/blobs/uploads/", h->base);
	snprintf(what, sizeof(what), "starting the upload of blob %.19s…", b->digest);
	if (request(h, "POST", url, "", 0, NULL, what) < 0)
		return -1;
	if (h->status != 202 || !h->location[0])
		return refused(h, what);
	if (h->location[0] == '/')
		snprintf(url, sizeof(url), "%s://%s%s%cdigest=%s", h->r->scheme, h->r->host, h->location,
			strchr(h->location, '?') ? '&' : '?', b->digest);
	else
		snprintf(url, sizeof(url), "%s%cdigest=%s", h->location,
			strchr(h->location, '?') ? '&' : '?', b->digest);
	snprintf(what, sizeof(what), "blob %.19s… (%zu bytes)", b->digest, b->size);
	if (request(h, "PUT", url, b->data, b->size, "application/octet-stream", what) < 0)
		return -1;
	if (h->status != 201)
		return refused(h, what);
	*sent = 1;
	return 0;
}

static int
cmp_blob(const void *a, const void *b)
{
	const struct blob *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return strcmp(x->digest, y->digest);
}

/* ---- manifests ---- */

/* A DNS-1123 label from the repository's last component: a-z 0-9 '-'. */
static void
app_name(const char *repo, char *out, size_t len)
{
	const char *last = strrchr(repo, '/');
	size_t i, n = 0;

	for (last = last ? last + 1 : repo, i = 0; last[i] && n + 1 < len && n < 63; i++)
		out[n++] = isalnum((unsigned char)last[i]) ? last[i] : '-';
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

static int
write_manifests(kiln_ctx *ctx, const char *app, const char *image, long long replicas, long long port,
	const char *ref)
{
	char *dir = kp_join(kiln_output_dir(ctx), "manifests"), *p, err[KP_ERRLEN];
	char *dep = NULL, *svc = NULL;
	size_t len;
	FILE *f;
	int rc = -1;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		kiln_fail(ctx, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	f = open_memstream(&dep, &len);
	fprintf(f,
		"# Written by kiln (deploy target %s) for %s. Do not edit: kiln deploy rewrites it.\n"
		"apiVersion: apps/v1\n"
		"kind: Deployment\n"
		"metadata:\n"
		"  name: %s\n"
		"  labels:\n"
		"    app.kubernetes.io/name: %s\n"
		"    app.kubernetes.io/managed-by: kiln\n"
		"spec:\n"
		"  replicas: %lld\n"
		"  selector:\n"
		"    matchLabels:\n"
		"      app.kubernetes.io/name: %s\n"
		"  template:\n"
		"    metadata:\n"
		"      labels:\n"
		"        app.kubernetes.io/name: %s\n"
		"    spec:\n"
		"      containers:\n"
		"        - name: kiln-serve\n"
		"          image: %s\n"
		"          ports:\n"
		"            - name: http\n"
		"              containerPort: %lld\n"
		"          readinessProbe:\n"
		"            httpGet:\n"
		"              path: /healthz\n"
		"              port: http\n"
		"          livenessProbe:\n"
		"            httpGet:\n"
		"              path: /healthz\n"
		"              port: http\n",
		kiln_target(ctx), ref, app, app, replicas, app, app, image, port);
	fclose(f);
	f = open_memstream(&svc, &len);
	fprintf(f,
		"# Written by kiln (deploy target %s) for %s. Do not edit: kiln deploy rewrites it.\n"
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata:\n"
		"  name: %s\n"
		"  labels:\n"
		"    app.kubernetes.io/name: %s\n"
		"    app.kubernetes.io/managed-by: kiln\n"
		"spec:\n"
		"  selector:\n"
		"    app.kubernetes.io/name: %s\n"
		"  ports:\n"
		"    - name: http\n"
		"      port: 80\n"
		"      targetPort: http\n",
		kiln_target(ctx), ref, app, app, app);
	fclose(f);
	p = kp_join(dir, "deployment.yaml");
	rc = kp_write_file(p, dep, strlen(dep), err);
	free(p);
	if (rc == 0) {
		p = kp_join(dir, "service.yaml");
		rc = kp_write_file(p, svc, strlen(svc), err);
		free(p);
	}
	if (rc < 0)
		kiln_fail(ctx, "%s", err);
out:
	free(dir);
	free(dep);
	free(svc);
	return rc;
}

/* What one push reads and counts; push_release frees it. */
struct push {
	json_t *info;		/* the image input's image.json */
	const char *mdigest;	/* the manifest's digest, from info */
	const char *tag;	/* what to push under: the param, or the image's tag */
	char *oci;		/* the image input's oci/ layout */
	char *mtext;		/* the manifest's bytes */
	size_t mlen;
	json_t *man;		/* and parsed */
	struct blob blobs[16];	/* the config and the layers, smallest first */
	size_t nblobs;
	size_t sent;		/* blobs sent */
	size_t skipped;		/* blobs the registry had */
	size_t bytes;		/* bytes sent */
	char image[1024];	/* host/repo@digest, what the manifests run */
};

static void
push_release(struct push *ps)
{
	size_t i;

	for (i = 0; i < ps->nblobs; i++)
		free(ps->blobs[i].data);
	json_decref(ps->info);
	json_decref(ps->man);
	free(ps->mtext);
	free(ps->oci);
}

/* image.json of the image input: the manifest's digest and the tag. */
static int
read_info(kiln_ctx *ctx, const char *imgdir, struct push *ps)
{
	char err[KP_ERRLEN], *p = kp_join(imgdir, "image.json");

	ps->info = kp_json_read(p, err);
	free(p);
	if (!ps->info || !json_is_string(json_object_get(ps->info, "digest")))
		return kiln_fail(ctx, "input 'image' is not a container target's output (no image.json "
			"with a digest): %s", ps->info ? "no digest" : err);
	ps->mdigest = json_string_value(json_object_get(ps->info, "digest"));
	ps->tag = kiln_param_string(ctx, "tag", NULL);
	if (!ps->tag)
		ps->tag = json_string_value(json_object_get(ps->info, "tag"));
	if (!ps->tag || !kp_oci_valid_tag(ps->tag))
		return kiln_fail(ctx, "no valid tag to push under");
	return 0;
}

/* The manifest, checked against image.json's digest. */
static int
read_manifest(kiln_ctx *ctx, struct push *ps)
{
	char err[KP_ERRLEN], digest[72], *p, *path;
	json_error_t je;
	int rc;

	p = kp_join(ps->oci, "blobs/sha256");
	path = kp_join(p, ps->mdigest + 7);
	free(p);
	rc = kp_read_file(path, &ps->mtext, &ps->mlen, err);
	free(path);
	if (rc < 0)
		return kiln_fail(ctx, "input 'image': %s", err);
	kp_oci_digest(ps->mtext, ps->mlen, digest);
	if (strcmp(digest, ps->mdigest) != 0)
		return kiln_fail(ctx, "input 'image': the manifest does not match image.json's digest");
	ps->man = json_loadb(ps->mtext, ps->mlen, 0, &je);
	if (!ps->man)
		return kiln_fail(ctx, "input 'image': manifest: %s", je.text);
	return 0;
}

/* Every blob the manifest names, smallest first: a push cut off in the big
 * runtime layer keeps the rest. */
static int
read_blobs(kiln_ctx *ctx, struct push *ps)
{
	const json_t *v = json_object_get(ps->man, "config");
	size_t i;

	if (read_blob(ctx, ps->oci, json_string_value(json_object_get(v, "digest")),
	    (size_t)json_integer_value(json_object_get(v, "size")), &ps->blobs[ps->nblobs++]) < 0)
		return -1;
	json_array_foreach(json_object_get(ps->man, "layers"), i, v) {
		if (ps->nblobs == 16)
			return kiln_fail(ctx, "input 'image': more than 15 layers");
		if (read_blob(ctx, ps->oci, json_string_value(json_object_get(v, "digest")),
		    (size_t)json_integer_value(json_object_get(v, "size")), &ps->blobs[ps->nblobs++]) < 0)
			return -1;
	}
	qsort(ps->blobs, ps->nblobs, sizeof(*ps->blobs), cmp_blob);
	return 0;
}

/* The credentials from the environment, and the registry's API check. */
static int
connect_registry(struct http *h)
{
	const struct registry *r = h->r;
	const char *token = getenv("KILN_REGISTRY_TOKEN");
	char url[4096], auth[4200];

	snprintf(h->base, sizeof(h->base), "%s://%s/v2/%s", r->scheme, r->host, r->repo);
	if (token && *token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h->auth = curl_slist_append(NULL, auth);
	} else if (getenv("KILN_REGISTRY_USER") && *getenv("KILN_REGISTRY_USER")) {
		h->user = getenv("KILN_REGISTRY_USER");
		h->password = getenv("KILN_REGISTRY_PASSWORD");
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(url, sizeof(url), "%s://%s/v2/", r->scheme, r->host);
	if (request(h, "GET", url, NULL, 0, NULL, "API check (GET /v2/)") < 0)
		return -1;
	if (h->status == 401 && (h->user || h->auth))
		return kiln_fail(h->ctx, "registry %s://%s refused the credentials in %s (HTTP 401)",
			r->scheme, r->host,
			h->auth ? "KILN_REGISTRY_TOKEN" : "KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD");
	if (h->status == 401)
		return kiln_fail(h->ctx, "registry %s://%s wants credentials: set KILN_REGISTRY_TOKEN, or "
			"KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD", r->scheme, r->host);
	if (h->status != 200) {
		refused(h, "the API check (GET /v2/)");
		return -1;
	}
	return 0;
}

/* Each blob the registry lacks, then the manifest under the tag. */
static int
push_image(struct http *h, struct push *ps)
{
	kiln_ctx *ctx = h->ctx;
	char url[4096];
	size_t i;
	int s;

	for (i = 0; i < ps->nblobs; i++) {
		kiln_progress(ctx, (double)i, (double)ps->nblobs + 1, "blob");
		if (push_blob(h, &ps->blobs[i], &s) < 0)
			return -1;
		if (s) {
			ps->sent++;
			ps->bytes += ps->blobs[i].size;
			kiln_log(ctx, "sent %s (%zu bytes)", ps->blobs[i].digest, ps->blobs[i].size);
		} else {
			ps->skipped++;
			kiln_log(ctx, "registry has %s already", ps->blobs[i].digest);
		}
	}
	snprintf(url, sizeof(url), "%s/manifests/%s", h->base, ps->tag);
	if (request(h, "PUT", url, ps->mtext, ps->mlen, OCI_MANIFEST, "manifest PUT") < 0)
		return -1;
	if (h->status != 201) {
		refused(h, "the manifest");
		return -1;
	}
	if (h->digest[0] && strcmp(h->digest, ps->mdigest) != 0)
		return kiln_fail(ctx, "registry stored the manifest as %s, not %s", h->digest, ps->mdigest);
	kiln_progress(ctx, (double)ps->nblobs + 1, (double)ps->nblobs + 1, "blob");
	return 0;
}

/* manifests/, pinned to the pushed digest, and push.json. */
static int
write_outputs(kiln_ctx *ctx, const struct registry *r, struct push *ps)
{
	json_int_t port = json_integer_value(json_object_get(ps->info, "port"));
	char app[64], ref[700], err[KP_ERRLEN], *p;
	json_t *j;
	int rc;

	snprintf(ps->image, sizeof(ps->image), "%s/%s@%s", r->host, r->repo, ps->mdigest);
	if (kiln_param_string(ctx, "app", NULL))
		snprintf(app, sizeof(app), "%s", kiln_param_string(ctx, "app", ""));
	else
		app_name(r->repo, app, sizeof(app));
	snprintf(ref, sizeof(ref), "%s/%s:%s", r->host, r->repo, ps->tag);
	if (write_manifests(ctx, app, ps->image, kiln_param_int(ctx, "replicas", 1),
	    port ? port : 8080, ref) < 0)
		return -1;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}",
		"format", "kiln-push/1", "registry", r->host, "repository", r->repo, "tag", ps->tag,
		"digest", ps->mdigest, "image", ps->image, "reference", ref,
		"blobs_sent", (json_int_t)ps->sent, "blobs_skipped", (json_int_t)ps->skipped,
		"bytes_sent", (json_int_t)ps->bytes);
	p = kp_join(kiln_output_dir(ctx), "push.json");
	rc = kp_json_write(p, j, err);
	free(p);
	json_decref(j);
	if (rc < 0)
		return kiln_fail(ctx, "%s", err);
	return 0;
}

static int
run(kiln_ctx *ctx)
{
	const char *imgdir = kiln_input(ctx, "image");
	struct http h = {.ctx = ctx};
	struct push ps = {0};
	struct registry r;
	char why[256];
	int rc = -1;

	ps.oci = kp_join(imgdir, "oci");
	if (parse_registry(kiln_param_string(ctx, "registry", ""), &r, why, sizeof(why)) < 0) {
		kiln_fail(ctx, "param 'registry': %s", why);
		goto out;
	}
	h.r = &r;
	if (read_info(ctx, imgdir, &ps) < 0 || read_manifest(ctx, &ps) < 0 || read_blobs(ctx, &ps) < 0)
		goto out;
	if (connect_registry(&h) < 0 || push_image(&h, &ps) < 0 || write_outputs(ctx, &r, &ps) < 0)
		goto out;
	kiln_metric(ctx, "blobs_sent", (double)ps.sent);
	kiln_metric(ctx, "blobs_skipped", (double)ps.skipped);
	kiln_log(ctx, "pushed %s: %zu blobs sent (%zu bytes), %zu the registry had", ps.image, ps.sent,
		ps.bytes, ps.skipped);
	rc = 0;
out:
	curl_slist_free_all(h.auth);
	kp_buf_release(&h.body);
	push_release(&ps);
	return rc;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "deploy",
	.version = "1.0",
	.summary = "pushes an image to an OCI registry; Kubernetes manifests pinned to its digest",
	.check = check,
	.run = run,
};
