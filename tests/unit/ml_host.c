/*
 * The test host of ml_host.h.
 */
#include <dlfcn.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml_host.h"

/* Nodes of a value tree, freed together. */
struct arena {
	size_t n;
	void *p[4096];
};

static void *
arena_alloc(struct arena *a, size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p || a->n == 4096)
		abort();
	a->p[a->n++] = p;
	return p;
}

static int
cmp_key(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void convert(struct arena *a, json_t *j, kiln_value *v);

static void
convert_object(struct arena *a, json_t *j, kiln_value *v)
{
	size_t n = json_object_size(j), i = 0;
	const char **keys = arena_alloc(a, n * sizeof(char *)), *k;
	kiln_value *items = arena_alloc(a, n * sizeof(kiln_value));
	json_t *x;

	json_object_foreach(j, k, x)
		keys[i++] = k;
	qsort(keys, n, sizeof(char *), cmp_key);
	for (i = 0; i < n; i++)
		convert(a, json_object_get(j, keys[i]), &items[i]);
	v->type = KILN_MAP;
	v->u.seq.n = n;
	v->u.seq.items = items;
	v->u.seq.keys = keys;
}

static void
convert(struct arena *a, json_t *j, kiln_value *v)
{
	size_t i;

	if (json_is_object(j)) {
		convert_object(a, j, v);
	} else if (json_is_array(j)) {
		kiln_value *items = arena_alloc(a, json_array_size(j) * sizeof(kiln_value));

		for (i = 0; i < json_array_size(j); i++)
			convert(a, json_array_get(j, i), &items[i]);
		v->type = KILN_LIST;
		v->u.seq.n = json_array_size(j);
		v->u.seq.items = items;
	} else if (json_is_string(j)) {
		v->type = KILN_STRING;
		v->u.str.s = json_string_value(j);
		v->u.str.len = json_string_length(j);
	} else if (json_is_integer(j)) {
		v->type = KILN_INT;
		v->u.i = json_integer_value(j);
	} else if (json_is_real(j)) {
		v->type = KILN_NUMBER;
		v->u.n = json_real_value(j);
	} else if (json_is_boolean(j)) {
		v->type = KILN_BOOL;
		v->u.b = json_is_true(j);
	} else {
		v->type = KILN_NIL;
	}
}

#define H(ctx) ((struct mlh *)(ctx))

static const kiln_value *
params(kiln_ctx *ctx)
{
	return H(ctx)->params;
}

static size_t
ninputs(kiln_ctx *ctx)
{
	return H(ctx)->nin;
}

static const char *
input_name(kiln_ctx *ctx, size_t i)
{
	return H(ctx)->in_name[i];
}

static const char *
input_path(kiln_ctx *ctx, size_t i)
{
	return H(ctx)->in_path[i];
}

static const char *
output_dir(kiln_ctx *ctx)
{
	return H(ctx)->outdir;
}

static size_t
noutputs(kiln_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static const char *
output(kiln_ctx *ctx, size_t i)
{
	(void)ctx;
	(void)i;
	return NULL;
}

static const char *
target(kiln_ctx *ctx)
{
	return H(ctx)->target;
}

static int
threads(kiln_ctx *ctx)
{
	return H(ctx)->threads;
}

static void
progress(kiln_ctx *ctx, double done, double total, const char *unit)
{
	(void)unit;
	H(ctx)->done = done;
	H(ctx)->total = total;
}

static void
metric(kiln_ctx *ctx, const char *name, double value)
{
	struct mlh *h = H(ctx);

	if (h->nmetric == 64)
		return;
	snprintf(h->metric_name[h->nmetric], 64, "%s", name);
	h->metric[h->nmetric++] = value;
}

static void
vlog(kiln_ctx *ctx, const char *fmt, va_list ap)
{
	(void)ctx;
	(void)fmt;
	(void)ap;
}

static int
vfail(kiln_ctx *ctx, const char *fmt, va_list ap)
{
	if (!H(ctx)->fail[0])
		vsnprintf(H(ctx)->fail, sizeof(H(ctx)->fail), fmt, ap);
	return -1;
}

static const struct kiln_host host = {
	sizeof(struct kiln_host), params, ninputs, input_name, input_path, output_dir,
	noutputs, output, target, threads, progress, metric, vlog, vfail, NULL,
};

static const struct kiln_plugin *
load(const char *name)
{
	const char *b = getenv("KILN_BUILD");
	char path[4096];
	void *dl;

	snprintf(path, sizeof(path), "%s/plugins/%s.so", b ? b : "build", name);
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "%s\n", dlerror());
		return NULL;
	}
	return dlsym(dl, "kiln_plugin");
}

int
mlh_run(struct mlh *h, const char *plugin, const char *tgt, const char *params_json,
	const char *const *inputs, const char *outdir, int nthreads)
{
	const struct kiln_plugin *p = load(plugin);
	struct arena *a = calloc(1, sizeof(*a));
	kiln_value *root;
	json_t *j;
	int rc;

	memset(h, 0, sizeof(*h));
	h->head.host = &host;
	h->target = tgt;
	h->threads = nthreads;
	h->arena = a;
	j = json_loads(params_json, 0, NULL);
	if (!p || !j || !json_is_object(j))
		abort();
	a->p[a->n++] = j;	/* strings point into it; freed as json in release */
	root = arena_alloc(a, sizeof(*root));
	convert(a, j, root);
	h->params = root;
	for (; inputs && inputs[0]; inputs += 2) {
		h->in_name[h->nin] = inputs[0];
		h->in_path[h->nin++] = inputs[1];
	}
	rc = p->check ? p->check((kiln_ctx *)h) : 0;
	if (rc == 0 && outdir) {
		h->outdir = outdir;
		rc = p->run((kiln_ctx *)h);
	}
	return rc;
}

double
mlh_metric(const struct mlh *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->nmetric; i++)
		if (strcmp(h->metric_name[i], name) == 0)
			return h->metric[i];
	return NAN;
}

void
mlh_release(struct mlh *h)
{
	struct arena *a = h->arena;
	size_t i;

	if (!a)
		return;
	json_decref(a->p[0]);
	for (i = 1; i < a->n; i++)
		free(a->p[i]);
	free(a);
	h->arena = NULL;
}

const char *
mlh_top(const char *path)
{
	static char buf[4096];
	const char *t = getenv("KILN_TOP");

	snprintf(buf, sizeof(buf), "%s/%s", t ? t : ".", path);
	return buf;
}

char *
mlh_tmpdir(void)
{
	char tmpl[] = "/tmp/kiln-ml-test.XXXXXX", *d = mkdtemp(tmpl);

	if (!d)
		abort();
	return strdup(d);
}

void
mlh_rmtree(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}
