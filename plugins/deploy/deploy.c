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
#include "http.h"

static const char *const known_params[] = { "app", "gitops", "manifests", "registry", "replicas", "tag", NULL };

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
	if (tag && !strchr(tag, '{') && !kp_oci_valid_tag(tag))
		return kiln_fail(ctx, "param 'tag': '%s' is not a valid tag", tag);
	if (rep && (kiln_value_type(rep) != KILN_INT || kiln_value_int(rep, 0) < 0 ||
	    kiln_value_int(rep, 0) > 1000))
		return kiln_fail(ctx, "param 'replicas': expected an integer from 0 to 1000");
	if (!kiln_input(ctx, "image"))
		return kiln_fail(ctx, "no input 'image'");
	return 0;
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
	if (http_call(h, "HEAD", url, NULL, 0, NULL, NULL, what) < 0)
		return -1;
	if (h->status == 200)
		return 0;
	if (h->status != 404)
		return http_refused(h, what);
	snprintf(url, sizeof(url), "%s/blobs/uploads/", h->base);
	snprintf(what, sizeof(what), "starting the upload of blob %.19s…", b->digest);
	if (http_call(h, "POST", url, "", 0, NULL, NULL, what) < 0)
		return -1;
	if (h->status != 202 || !h->location[0])
		return http_refused(h, what);
	if (h->location[0] == '/')
		snprintf(url, sizeof(url), "%s://%s%s%cdigest=%s", h->r->scheme, h->r->host, h->location,
			strchr(h->location, '?') ? '&' : '?', b->digest);
	else
		snprintf(url, sizeof(url), "%s%cdigest=%s", h->location,
			strchr(h->location, '?') ? '&' : '?', b->digest);
	snprintf(what, sizeof(what), "blob %.19s… (%zu bytes)", b->digest, b->size);
	if (http_call(h, "PUT", url, b->data, b->size, "application/octet-stream", NULL, what) < 0)
		return -1;
	if (h->status != 201)
		return http_refused(h, what);
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
	char tag[200];		/* what to push under: the param (expanded), or the image's tag */
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

/*
 * The tag from a template: {version} is the image's own tag, {digest12}
 * and {digest} the manifest digest's first 12 and all 64 hex digits, so a
 * new image gets a new tag and no tag ever has to move.
 */
static int
expand_tag(kiln_ctx *ctx, const char *tmpl, const char *version, const char *digest, char *out, size_t len)
{
	static const char *const names[] = { "{version}", "{digest12}", "{digest}", NULL };
	size_t n = 0, i, k;

	for (i = 0; tmpl[i] && n + 1 < len;) {
		for (k = 0; names[k] && strncmp(tmpl + i, names[k], strlen(names[k])) != 0; k++)
			;
		if (!names[k] && tmpl[i] == '{')
			return kiln_fail(ctx, "param 'tag': '%s': unknown placeholder (known: {version}, {digest12}, "
				"{digest})", tmpl);
		if (!names[k]) {
			out[n++] = tmpl[i++];
			continue;
		}
		n += (size_t)snprintf(out + n, len - n, "%.*s", k == 0 ? (int)strlen(version) : k == 1 ? 12 : 64,
			k == 0 ? version : digest + 7);
		i += strlen(names[k]);
	}
	out[n < len ? n : len - 1] = '\0';
	if (!kp_oci_valid_tag(out))
		return kiln_fail(ctx, "param 'tag': '%s' gives '%s', which is not a valid tag", tmpl, out);
	return 0;
}

/* image.json of the image input: the manifest's digest and the tag. */
static int
read_info(kiln_ctx *ctx, const char *imgdir, struct push *ps)
{
	char err[KP_ERRLEN], *p = kp_join(imgdir, "image.json");
	const char *version, *tmpl;

	ps->info = kp_json_read(p, err);
	free(p);
	if (!ps->info || !json_is_string(json_object_get(ps->info, "digest")))
		return kiln_fail(ctx, "input 'image' is not a container target's output (no image.json "
			"with a digest): %s", ps->info ? "no digest" : err);
	ps->mdigest = json_string_value(json_object_get(ps->info, "digest"));
	version = json_string_value(json_object_get(ps->info, "tag"));
	tmpl = kiln_param_string(ctx, "tag", version);
	if (!tmpl || strlen(ps->mdigest) != 71)
		return kiln_fail(ctx, "no valid tag to push under");
	return expand_tag(ctx, tmpl, version ? version : "", ps->mdigest, ps->tag, sizeof(ps->tag));
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

/*
 * A tag that already names another image is not moved without --force
 * (KILN_DEPLOY_FORCE=1, which kiln deploy sets): a tag someone pulls by
 * would change under them.
 */
static int
check_tag(struct http *h, const struct push *ps)
{
	const char *force = getenv("KILN_DEPLOY_FORCE");
	char url[4096], what[300];

	snprintf(url, sizeof(url), "%s/manifests/%s", h->base, ps->tag);
	snprintf(what, sizeof(what), "HEAD manifest %s", ps->tag);
	if (http_call(h, "HEAD", url, NULL, 0, NULL, OCI_MANIFEST ", application/vnd.oci.image.index.v1+json, "
	    "application/vnd.docker.distribution.manifest.v2+json", what) < 0)
		return -1;
	if (h->status == 404)
		return 0;
	if (h->status != 200)
		return http_refused(h, what);
	if (!h->digest[0] || strcmp(h->digest, ps->mdigest) == 0)
		return 0;
	if (force && strcmp(force, "1") == 0) {
		kiln_log(h->ctx, "moving tag %s from %s to %s (--force)", ps->tag, h->digest, ps->mdigest);
		return 0;
	}
	return kiln_fail(h->ctx, "registry %s://%s: tag '%s' of %s already points at %s, not at this "
		"image (%s); nothing was moved (kiln deploy --force moves it, or derive the tag from the "
		"content: tag = \"{version}-{digest12}\")", h->r->scheme, h->r->host, ps->tag, h->r->repo,
		h->digest, ps->mdigest);
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
	if (check_tag(h, ps) < 0)
		return -1;
	snprintf(url, sizeof(url), "%s/manifests/%s", h->base, ps->tag);
	if (http_call(h, "PUT", url, ps->mtext, ps->mlen, OCI_MANIFEST, NULL, "manifest PUT") < 0)
		return -1;
	if (h->status != 201)
		return http_refused(h, "the manifest");
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
	char app[64], ref[800], err[KP_ERRLEN], *p;
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
	h.ca = kiln_input(ctx, "ca");
	if (http_connect(&h) < 0 || push_image(&h, &ps) < 0 || write_outputs(ctx, &r, &ps) < 0)
		goto out;
	kiln_metric(ctx, "blobs_sent", (double)ps.sent);
	kiln_metric(ctx, "blobs_skipped", (double)ps.skipped);
	kiln_log(ctx, "pushed %s: %zu blobs sent (%zu bytes), %zu the registry had", ps.image, ps.sent,
		ps.bytes, ps.skipped);
	rc = 0;
out:
	http_release(&h);
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
