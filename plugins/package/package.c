/*
 * The package plugin: a model and kiln-serve as a reproducible OCI image.
 *
 * Outputs, in the target's folder:
 *	oci/		an OCI image layout (oci-layout, index.json, blobs/sha256/)
 *	image.tar	the same blobs plus a docker-archive manifest.json, so
 *			`docker load`, `podman load` and skopeo (docker-archive: or
 *			oci-archive:) all take it
 *	image.json	reference, manifest digest, size, layers, libraries
 *
 * Two uncompressed layers: the runtime (kiln-serve, the ELF interpreter and
 * every shared library it loads, found by walking DT_NEEDED) and the model.
 * A registry then keeps one runtime layer for every model packaged by the
 * same kiln. kiln-serve itself is linked into this plugin (serve_bin.S), so
 * the plugin's digest — part of every action key — covers the server too.
 *
 * Reproducible: tar entries sorted by path, ustar headers only (no pax
 * records, so no xattrs, no access times), owner root:root (0:0), modes
 * 0755/0644, every mtime FIXED_TIME, JSON with sorted keys and no spaces,
 * SHA-256 through OpenSSL's libcrypto. The image depends only on the bytes
 * of kiln-serve, the libraries and the model.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <kiln/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "elf.h"
#include "../lib/model.h"
#include "../lib/oci.h"
#include "../lib/util.h"

/* 1980-01-01T00:00:00Z, kiln's SOURCE_DATE_EPOCH; older dates upset some zip-minded tools. */
#define FIXED_TIME 315532800
#define FIXED_DATE "1980-01-01T00:00:00Z"
#define LIBDIR "usr/lib/kiln"

extern const unsigned char kiln_serve_bin[], kiln_serve_bin_end[];

static const char *const known_params[] = { "labels", "name", "port", "tag", NULL };

/* One file or folder of a layer. */
struct entry {
	char *path;		/* relative, no leading '/' */
	int dir;
	int mode;
	const unsigned char *data;
	size_t len;
};

struct layer {
	struct entry *e;
	size_t n;
	struct kp_buf tar;
	char digest[72];
};

struct blob {
	const char *media;
	char digest[72];
	const unsigned char *data;
	size_t len;
};

static void
layer_add(struct layer *l, const char *path, int dir, int mode, const void *data, size_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->e[i].path, path) == 0)
			return;
	l->e = kp_xrealloc(l->e, l->n + 1, sizeof(*l->e));
	l->e[l->n++] = (struct entry){kp_xstrdup(path), dir, mode, data, len};
}

/* A file and every folder above it. */
static void
layer_file(struct layer *l, const char *path, int mode, const void *data, size_t len)
{
	char *p = kp_xstrdup(path), *s;

	for (s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		layer_add(l, p, 1, 0755, NULL, 0);
		*s = '/';
	}
	free(p);
	layer_add(l, path, 0, mode, data, len);
}

static void
layer_release(struct layer *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->e[i].path);
	free(l->e);
	kp_buf_release(&l->tar);
}

static la_ssize_t
tar_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	(void)a;
	kp_buf_add(arg, buf, n);
	return (la_ssize_t)n;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

/* The entries as a ustar archive in out, sorted, with fixed owners and times. */
static int
write_tar(kiln_ctx *ctx, struct entry *e, size_t n, struct kp_buf *out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	size_t i;
	int rc = -1;

	qsort(e, n, sizeof(*e), cmp_entry);
	if (archive_write_set_format_ustar(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_open(a, out, NULL, tar_write, NULL) != ARCHIVE_OK) {
		kiln_fail(ctx, "libarchive: %s", archive_error_string(a));
		goto out;
	}
	for (i = 0; i < n; i++) {
		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_filetype(ae, e[i].dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(ae, (mode_t)e[i].mode);
		archive_entry_set_size(ae, e[i].dir ? 0 : (la_int64_t)e[i].len);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		archive_entry_set_uname(ae, "root");
		archive_entry_set_gname(ae, "root");
		archive_entry_set_mtime(ae, FIXED_TIME, 0);
		if (archive_write_header(a, ae) != ARCHIVE_OK ||
		    (!e[i].dir && e[i].len && archive_write_data(a, e[i].data, e[i].len) !=
		     (la_ssize_t)e[i].len)) {
			kiln_fail(ctx, "libarchive: %s: %s", e[i].path, archive_error_string(a));
			goto out;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		kiln_fail(ctx, "libarchive: %s", archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	archive_entry_free(ae);
	archive_write_free(a);
	return rc;
}

static int
check(kiln_ctx *ctx)
{
	const char *name = kiln_param_string(ctx, "name", NULL), *tag = kiln_param_string(ctx, "tag", NULL);
	const kiln_value *labels = kiln_param(ctx, "labels");
	long long port = kiln_param_int(ctx, "port", 8080);
	size_t i, j;

	for (i = 0; i < kiln_value_len(kiln_params(ctx)); i++) {
		const char *k = kiln_value_key(kiln_params(ctx), i);

		for (j = 0; known_params[j] && strcmp(known_params[j], k); j++)
			;
		if (!known_params[j])
			return kiln_fail(ctx, "unknown param '%s'", k);
	}
	if (!name || !kp_oci_valid_name(name))
		return kiln_fail(ctx, "param 'name': '%s' is not a valid image name (lower-case letters "
			"and digits, separated by '.', '_', '__' or '-', components joined by '/')",
			name ? name : "");
	if (!tag || !kp_oci_valid_tag(tag))
		return kiln_fail(ctx, "param 'tag': '%s' is not a valid tag (up to 128 of A-Z a-z 0-9 _ . -, "
			"not starting with '.' or '-')", tag ? tag : "");
	if (kiln_param(ctx, "port") && (kiln_value_type(kiln_param(ctx, "port")) != KILN_INT ||
	    port < 1 || port > 65535))
		return kiln_fail(ctx, "param 'port': expected an integer from 1 to 65535");
	if (labels && kiln_value_type(labels) != KILN_MAP)
		return kiln_fail(ctx, "param 'labels': expected a table of name = \"value\"");
	for (i = 0; i < kiln_value_len(labels); i++)
		if (kiln_value_type(kiln_value_at(labels, i)) != KILN_STRING)
			return kiln_fail(ctx, "param 'labels.%s': expected a string", kiln_value_key(labels, i));
	if (!kiln_input(ctx, "model"))
		return kiln_fail(ctx, "no input 'model'");
	return 0;
}

/* The model's files, checked by loading the model as kiln-serve will. */
static int
read_model(kiln_ctx *ctx, const char *dir, char **st, size_t *stlen, char **js, size_t *jslen)
{
	char err[KP_ERRLEN], *p;
	struct kp_model m;

	if (kp_model_load_dir(&m, dir, err) < 0)
		return kiln_fail(ctx, "input 'model' (%s) is not a model kiln-serve can load: %s", dir, err);
	kp_model_release(&m);
	p = kp_join(dir, "model.safetensors");
	if (kp_read_file(p, st, stlen, err) < 0) {
		free(p);
		return kiln_fail(ctx, "%s", err);
	}
	free(p);
	p = kp_join(dir, "model.json");
	if (kp_read_file(p, js, jslen, err) < 0) {
		free(p);
		return kiln_fail(ctx, "%s", err);
	}
	free(p);
	return 0;
}

/* Labels: the rule's own, the model's digest and kind, and the metrics input's numbers. */
/* A label dev.kiln.metric.NAME for a number v, if it is one. */
static void
metric_label(json_t *l, const char *name, const json_t *v)
{
	char key[256], buf[64];

	if (!json_is_number(v))
		return;
	snprintf(key, sizeof(key), "dev.kiln.metric.%s", name);
	snprintf(buf, sizeof(buf), "%.6g", json_number_value(v));
	json_object_set_new(l, key, json_string(buf));
}

static json_t *
make_labels(kiln_ctx *ctx, const char *model_digest, const char *model_json, size_t jslen,
	const char *name, const char *tag, long long port, json_t *metrics)
{
	const kiln_value *user = kiln_param(ctx, "labels");
	json_t *l = json_object(), *mj = json_loadb(model_json, jslen, 0, NULL), *v;
	const char *k;
	char buf[64];
	size_t i;

	json_object_set_new(l, "org.opencontainers.image.title", json_string(name));
	json_object_set_new(l, "org.opencontainers.image.version", json_string(tag));
	json_object_set_new(l, "org.opencontainers.image.created", json_string(FIXED_DATE));
	json_object_set_new(l, "dev.kiln.model.digest", json_string(model_digest));
	json_object_set_new(l, "dev.kiln.target", json_string(kiln_target(ctx)));
	if (json_is_string(json_object_get(mj, "kind")))
		json_object_set(l, "dev.kiln.model.kind", json_object_get(mj, "kind"));
	if (json_is_string(json_object_get(mj, "task")))
		json_object_set(l, "dev.kiln.model.task", json_object_get(mj, "task"));
	snprintf(buf, sizeof(buf), "%lld", port);
	json_object_set_new(l, "dev.kiln.serve.port", json_string(buf));
	json_object_foreach(json_object_get(metrics, "metrics"), k, v)
		metric_label(l, k, v);
	/* The fairness measures, under the names the test records them by (kiln metrics). */
	v = json_object_get(metrics, "fairness");
	metric_label(l, "accuracy_gap", json_object_get(json_object_get(v, "max_gap"), "accuracy"));
	metric_label(l, "demographic_parity_diff", json_object_get(v, "demographic_parity_diff"));
	metric_label(l, "equal_opportunity_diff", json_object_get(v, "equal_opportunity_diff"));
	for (i = 0; i < kiln_value_len(user); i++)
		json_object_set_new(l, kiln_value_key(user, i),
			json_string(kiln_value_string(kiln_value_at(user, i), "")));
	json_decref(mj);
	return l;
}

static json_t *
descriptor(const char *media, const char *digest, size_t len)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", media, "digest", digest, "size", (json_int_t)len);
}

/* Write a blob under dir/blobs/sha256/. */
static int
put_blob(kiln_ctx *ctx, const char *dir, const struct blob *b)
{
	char *sub = kp_join(dir, "blobs/sha256"), *path = kp_join(sub, b->digest + 7);
	char err[KP_ERRLEN];
	int rc = kp_write_file(path, b->data, b->len, err);

	free(sub);
	free(path);
	return rc < 0 ? kiln_fail(ctx, "%s", err) : 0;
}

static int
write_text(kiln_ctx *ctx, const char *dir, const char *name, const char *text)
{
	char *p = kp_join(dir, name), err[KP_ERRLEN];
	int rc = kp_write_file(p, text, strlen(text), err);

	free(p);
	return rc < 0 ? kiln_fail(ctx, "%s", err) : 0;
}

static int
mkdirs(kiln_ctx *ctx, const char *out)
{
	const char *sub[] = { "oci", "oci/blobs", "oci/blobs/sha256" };
	char path[4200];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", out, sub[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return kiln_fail(ctx, "mkdir %s: %s", path, strerror(errno));
	}
	return 0;
}

/* What one run builds, in the order it builds it; image_release frees it. */
struct image {
	const char *name;	/* the repository name, as in the params */
	const char *tag;	/* the tag */
	long long port;		/* where the server listens */
	char ref[512];		/* name:tag */
	char *st;		/* model.safetensors */
	size_t stlen;
	char *js;		/* model.json */
	size_t jslen;
	char *mettext;		/* metrics.json, or NULL without a metrics input */
	size_t metlen;
	json_t *metrics;	/* mettext parsed, or NULL */
	char mdigest[72];	/* of model.safetensors */
	struct elf_closure ec;	/* kiln-serve's loader and libraries */
	struct layer rt;	/* layer 1: the runtime */
	struct layer model;	/* layer 2: the model */
	struct blob blobs[4];	/* the config, the two layers, the manifest */
	char *cfg;		/* the config's JSON (blobs[0]) */
	char *man;		/* the manifest's JSON (blobs[3]) */
	char *idx;		/* oci/index.json */
	char *dman;		/* image.tar's docker-archive manifest.json */
	struct kp_buf tar;	/* image.tar */
};

static void
image_release(struct image *im)
{
	free(im->st);
	free(im->js);
	free(im->mettext);
	free(im->cfg);
	free(im->man);
	free(im->idx);
	free(im->dman);
	json_decref(im->metrics);
	kp_buf_release(&im->tar);
	layer_release(&im->rt);
	layer_release(&im->model);
	elf_closure_release(&im->ec);
}

/* The metrics input's metrics.json, when there is one, text and parsed. */
static int
read_metrics(kiln_ctx *ctx, struct image *im)
{
	const char *metdir = kiln_input(ctx, "metrics");
	char err[KP_ERRLEN], *p;
	json_error_t je;
	int rc = 0;

	if (!metdir)
		return 0;
	p = kp_join(metdir, "metrics.json");
	if (kp_read_file(p, &im->mettext, &im->metlen, err) < 0) {
		rc = kiln_fail(ctx, "input 'metrics': %s", err);
	} else {
		im->metrics = json_loadb(im->mettext, im->metlen, 0, &je);
		if (!json_is_object(im->metrics))
			rc = kiln_fail(ctx, "input 'metrics': %s: not a JSON object: %s", p, je.text);
	}
	free(p);
	return rc;
}

/* The two layers as tar archives, and their digests and the model's. */
static int
make_layers(kiln_ctx *ctx, struct image *im)
{
	struct layer *rt = &im->rt, *model = &im->model;
	size_t serve_len = (size_t)(kiln_serve_bin_end - kiln_serve_bin), i;
	char path[4200];

	/* Layer 1: the runtime. */
	layer_file(rt, "bin/kiln-serve", 0755, kiln_serve_bin, serve_len);
	layer_file(rt, im->ec.interp + 1, 0755, im->ec.interp_data, im->ec.interp_len);
	for (i = 0; i < im->ec.nlibs; i++) {
		snprintf(path, sizeof(path), LIBDIR "/%s", im->ec.libs[i].soname);
		layer_file(rt, path, 0755, im->ec.libs[i].data, im->ec.libs[i].len);
	}
	layer_add(rt, "tmp", 1, 01777, NULL, 0);
	/* Layer 2: the model. */
	layer_file(model, "model/model.safetensors", 0644, im->st, im->stlen);
	layer_file(model, "model/model.json", 0644, im->js, im->jslen);
	if (im->mettext)
		layer_file(model, "model/metrics.json", 0644, im->mettext, im->metlen);
	if (write_tar(ctx, rt->e, rt->n, &rt->tar) < 0 || write_tar(ctx, model->e, model->n, &model->tar) < 0)
		return -1;
	kp_oci_digest(rt->tar.p, rt->tar.len, rt->digest);
	kp_oci_digest(model->tar.p, model->tar.len, model->digest);
	kp_oci_digest(im->st, im->stlen, im->mdigest);
	return 0;
}

/* The image config: entrypoint, port, labels, the layers' diff ids; it and
 * the layers become blobs[0..2]. */
static void
make_config(kiln_ctx *ctx, struct image *im)
{
	const char *short_name = strrchr(im->name, '/');
	char portarg[16], exposed[32];
	json_t *j;

	short_name = short_name ? short_name + 1 : im->name;
	snprintf(portarg, sizeof(portarg), "%lld", im->port);
	snprintf(exposed, sizeof(exposed), "%lld/tcp", im->port);
	/* The server needs no privilege: it runs as nobody (numeric, so no /etc/passwd is needed). */
	/* --host 0.0.0.0: in a container the server must take connections from outside it. */
	j = json_pack("{s:s, s:s, s:s, s:{s:[s,s,s,s,s,s,s,s,s], s:[s,s], s:{s:{}}, s:o, s:s, s:s},"
		" s:{s:s, s:[s,s]}, s:[{s:s, s:s}, {s:s, s:s}]}",
		"architecture", im->ec.arch, "os", "linux", "created", FIXED_DATE,
		"config",
		"Entrypoint", "/bin/kiln-serve", "--model", "/model", "--name", short_name, "--host", "0.0.0.0",
		"--port", portarg,
		"Env", "LD_LIBRARY_PATH=/" LIBDIR, "PATH=/bin",
		"ExposedPorts", exposed,
		"Labels", make_labels(ctx, im->mdigest, im->js, im->jslen, im->name, im->tag, im->port,
			im->metrics),
		"WorkingDir", "/", "User", "65534:65534",
		"rootfs", "type", "layers", "diff_ids", im->rt.digest, im->model.digest,
		"history", "created", FIXED_DATE, "created_by", "kiln package: kiln-serve and its libraries",
		"created", FIXED_DATE, "created_by", "kiln package: the model");
	im->cfg = kp_oci_json(j);
	json_decref(j);
	im->blobs[0] = (struct blob){OCI_CONFIG, "", (unsigned char *)im->cfg, strlen(im->cfg)};
	im->blobs[1] = (struct blob){OCI_LAYER, "", im->rt.tar.p, im->rt.tar.len};
	im->blobs[2] = (struct blob){OCI_LAYER, "", im->model.tar.p, im->model.tar.len};
	kp_oci_digest(im->cfg, strlen(im->cfg), im->blobs[0].digest);
	memcpy(im->blobs[1].digest, im->rt.digest, 72);
	memcpy(im->blobs[2].digest, im->model.digest, 72);
}

/* The manifest (blobs[3]), the layout's index.json naming it, and
 * docker-archive's manifest.json for image.tar. */
static void
make_manifests(struct image *im)
{
	struct blob *b = im->blobs;
	char b0[512], b1[512], b2[512];
	json_t *j, *o;

	j = json_pack("{s:i, s:s, s:o, s:[o,o]}", "schemaVersion", 2, "mediaType", OCI_MANIFEST,
		"config", descriptor(OCI_CONFIG, b[0].digest, b[0].len),
		"layers", descriptor(OCI_LAYER, im->rt.digest, im->rt.tar.len),
		descriptor(OCI_LAYER, im->model.digest, im->model.tar.len));
	im->man = kp_oci_json(j);
	json_decref(j);
	b[3] = (struct blob){OCI_MANIFEST, "", (unsigned char *)im->man, strlen(im->man)};
	kp_oci_digest(im->man, strlen(im->man), b[3].digest);
	snprintf(im->ref, sizeof(im->ref), "%s:%s", im->name, im->tag);

	j = descriptor(OCI_MANIFEST, b[3].digest, b[3].len);
	json_object_set_new(j, "annotations", json_pack("{s:s, s:s}",
		"org.opencontainers.image.ref.name", im->tag, "io.containerd.image.name", im->ref));
	j = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType", OCI_INDEX, "manifests", j);
	im->idx = kp_oci_json(j);
	json_decref(j);

	j = json_pack("[{s:s, s:[s], s:[s,s]}]", "Config", "", "RepoTags", im->ref, "Layers", "", "");
	o = json_array_get(j, 0);
	snprintf(b0, sizeof(b0), "blobs/sha256/%s", b[0].digest + 7);
	snprintf(b1, sizeof(b1), "blobs/sha256/%s", im->rt.digest + 7);
	snprintf(b2, sizeof(b2), "blobs/sha256/%s", im->model.digest + 7);
	json_object_set_new(o, "Config", json_string(b0));
	json_object_set_new(o, "Layers", json_pack("[s,s]", b1, b2));
	im->dman = kp_oci_json(j);
	json_decref(j);
}

/* oci/: the image layout. */
static int
write_layout(kiln_ctx *ctx, const char *out, const struct image *im)
{
	char path[4200];
	size_t i;

	if (mkdirs(ctx, out) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/oci", out);
	for (i = 0; i < 4; i++)
		if (put_blob(ctx, path, &im->blobs[i]) < 0)
			return -1;
	if (write_text(ctx, path, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}") < 0 ||
	    write_text(ctx, path, "index.json", im->idx) < 0)
		return -1;
	return 0;
}

/* image.tar: the layout plus docker-archive's manifest.json. */
static int
write_image_tar(kiln_ctx *ctx, const char *out, struct image *im)
{
	struct layer t = {0};
	char bp[512], path[4200], err[KP_ERRLEN];
	size_t i;
	int rc;

	for (i = 0; i < 4; i++) {
		snprintf(bp, sizeof(bp), "blobs/sha256/%s", im->blobs[i].digest + 7);
		layer_file(&t, bp, 0644, im->blobs[i].data, im->blobs[i].len);
	}
	layer_file(&t, "oci-layout", 0644, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	layer_file(&t, "index.json", 0644, im->idx, strlen(im->idx));
	layer_file(&t, "manifest.json", 0644, im->dman, strlen(im->dman));
	rc = write_tar(ctx, t.e, t.n, &im->tar);
	layer_release(&t);
	if (rc < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/image.tar", out);
	if (kp_write_file(path, im->tar.p, im->tar.len, err) < 0)
		return kiln_fail(ctx, "%s", err);
	return 0;
}

/* The bytes of the image's blobs. */
static size_t
image_size(const struct image *im)
{
	return im->blobs[0].len + im->blobs[1].len + im->blobs[2].len + im->blobs[3].len;
}

/* image.json: the reference, digests, layers and libraries, for people and tools. */
static int
write_info(kiln_ctx *ctx, const char *out, const struct image *im)
{
	const struct elf_closure *ec = &im->ec;
	char *info, *nl;
	json_t *j, *a, *libs;
	size_t i;
	int rc;

	libs = json_array();
	for (i = 0; i < ec->nlibs; i++)
		json_array_append_new(libs, json_pack("{s:s, s:s, s:I}", "soname", ec->libs[i].soname,
			"found", ec->libs[i].path, "size", (json_int_t)ec->libs[i].len));
	a = json_pack("[{s:s, s:s, s:I, s:I}, {s:s, s:s, s:I, s:I}]",
		"content", "kiln-serve and its libraries", "digest", im->rt.digest,
		"size", (json_int_t)im->rt.tar.len, "files", (json_int_t)im->rt.n,
		"content", "model", "digest", im->model.digest,
		"size", (json_int_t)im->model.tar.len, "files", (json_int_t)im->model.n);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:s, s:s, s:s, s:I}",
		"format", "kiln-image/1", "name", im->name, "tag", im->tag, "reference", im->ref,
		"digest", im->blobs[3].digest, "size", (json_int_t)image_size(im),
		"port", (json_int_t)im->port,
		"config", im->blobs[0].digest, "layers", a, "libraries", libs,
		"interpreter", ec->interp, "architecture", ec->arch, "model_digest", im->mdigest,
		"tar_size", (json_int_t)im->tar.len);
	info = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	nl = kp_xmalloc(strlen(info) + 2);
	sprintf(nl, "%s\n", info);
	free(info);
	rc = write_text(ctx, out, "image.json", nl);
	free(nl);
	return rc;
}

static int
run(kiln_ctx *ctx)
{
	const char *out = kiln_output_dir(ctx);
	size_t serve_len = (size_t)(kiln_serve_bin_end - kiln_serve_bin);
	struct image im = {0};
	char err[KP_ERRLEN];
	int rc = -1;

	im.name = kiln_param_string(ctx, "name", "");
	im.tag = kiln_param_string(ctx, "tag", "");
	im.port = kiln_param_int(ctx, "port", 8080);
	if (read_model(ctx, kiln_input(ctx, "model"), &im.st, &im.stlen, &im.js, &im.jslen) < 0 ||
	    read_metrics(ctx, &im) < 0)
		goto out;
	if (elf_closure(&im.ec, kiln_serve_bin, serve_len, err) < 0) {
		kiln_fail(ctx, "%s", err);
		goto out;
	}
	if (make_layers(ctx, &im) < 0)
		goto out;
	make_config(ctx, &im);
	make_manifests(&im);
	if (write_layout(ctx, out, &im) < 0 || write_image_tar(ctx, out, &im) < 0 ||
	    write_info(ctx, out, &im) < 0)
		goto out;
	kiln_metric(ctx, "image_bytes", (double)image_size(&im));
	kiln_metric(ctx, "libraries", (double)im.ec.nlibs);
	kiln_log(ctx, "%s@%s: %zu bytes, %zu libraries", im.ref, im.blobs[3].digest, image_size(&im),
		im.ec.nlibs);
	rc = 0;
out:
	image_release(&im);
	return rc;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "package",
	.version = "1.0",
	.summary = "a model and kiln-serve as a reproducible OCI image (oci/, image.tar)",
	.check = check,
	.run = run,
};
