/*
 * Models as stacks of dense layers or as forests: saving, loading and the
 * forward pass.
 */
#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "forest.h"
#include "json.h"
#include "npy.h"
#include "safetensors.h"
#include "util.h"

/* Rows per block of the forward pass: bounds memory, keeps sgemm efficient. */
#define BLOCK 1024

static const char *const kinds[] = { "ridge", "logistic", "softmax", "mlp", "gbdt" };
static const char *const acts[] = { "linear", "relu", "sigmoid", "softmax" };

const char *
kp_kind_name(int kind)
{
	return kinds[kind];
}

int
kp_kind_parse(const char *s)
{
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(s, kinds[i]) == 0)
			return i;
	return -1;
}

const char *
kp_act_name(int act)
{
	return acts[act];
}

static int
act_parse(const char *s, size_t n)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strlen(acts[i]) == n && strncmp(s, acts[i], n) == 0)
			return i;
	return -1;
}

/* The output activation a kind of model has. */
static int
output_act(int kind, int classification)
{
	if (kind == KP_LOGISTIC)
		return KP_SIGMOID;
	if (kind == KP_SOFTMAX || (kind == KP_MLP && classification))
		return KP_SOFTMAX_ACT;
	return KP_LINEAR;
}

void
kp_model_init(struct kp_model *m, int kind, int classification,
	const size_t *sizes, size_t nsizes)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->classification = classification;
	m->nlayers = nsizes - 1;
	m->layers = kp_xcalloc(m->nlayers, sizeof(*m->layers));
	for (i = 0; i < m->nlayers; i++) {
		struct kp_layer *l = &m->layers[i];

		l->in = sizes[i];
		l->out = sizes[i + 1];
		l->act = i + 1 == m->nlayers ? output_act(kind, classification) : KP_RELU;
		l->w = kp_xcalloc(l->in, l->out * sizeof(float));
		l->b = kp_xcalloc(l->out, sizeof(float));
	}
}

void
kp_model_init_forest(struct kp_model *m, int classification, struct kp_forest *f)
{
	memset(m, 0, sizeof(*m));
	m->kind = KP_GBDT;
	m->classification = classification;
	m->forest = kp_xmalloc(sizeof(*m->forest));
	*m->forest = *f;
	memset(f, 0, sizeof(*f));
}

void
kp_model_release(struct kp_model *m)
{
	size_t i;

	if (m->forest) {
		kp_forest_release(m->forest);
		free(m->forest);
	}

	/* A load that failed half-way may have counted layers it never allocated. */
	for (i = 0; m->layers && i < m->nlayers; i++) {
		free(m->layers[i].w);
		free(m->layers[i].b);
	}
	free(m->layers);
	kp_strings_free(m->classes, m->nclasses);
	memset(m, 0, sizeof(*m));
}

size_t
kp_model_inputs(const struct kp_model *m)
{
	return m->forest ? m->forest->inputs : m->layers[0].in;
}

size_t
kp_model_outputs(const struct kp_model *m)
{
	return m->forest ? m->forest->outputs : m->layers[m->nlayers - 1].out;
}

/* The activation on a forest's raw scores. */
static int
forest_act(const struct kp_model *m)
{
	if (!m->classification)
		return KP_LINEAR;
	return m->forest->outputs == 1 ? KP_SIGMOID : KP_SOFTMAX_ACT;
}

int
kp_model_probabilistic(const struct kp_model *m)
{
	int a;

	if (m->forest)
		return m->classification;
	a = m->layers[m->nlayers - 1].act;

	return m->classification && (a == KP_SIGMOID || a == KP_SOFTMAX_ACT);
}

/* A forest's: its rows' width, which no tensor shape gives. */
static json_t *
forest_metadata(const struct kp_model *m)
{
	char in[32], out[32];

	snprintf(in, sizeof(in), "%zu", m->forest->inputs);
	snprintf(out, sizeof(out), "%zu", m->forest->outputs);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "format", "kiln-model/1",
		"kind", kinds[m->kind], "task",
		m->classification ? "classification" : "regression",
		"inputs", in, "outputs", out);
}

static json_t *
metadata(const struct kp_model *m)
{
	char buf[256] = "", n[32];
	size_t i, len = 0;

	if (m->forest)
		return forest_metadata(m);
	for (i = 0; i < m->nlayers && len < sizeof(buf) - 16; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
			i ? "," : "", acts[m->layers[i].act]);
	snprintf(n, sizeof(n), "%zu", m->nlayers);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "format", "kiln-model/1",
		"kind", kinds[m->kind], "task",
		m->classification ? "classification" : "regression",
		"layers", n, "activations", buf);
}

void
kp_model_tensors(const struct kp_model *m, struct kp_tensors *ts)
{
	struct kp_array a;
	char name[64];
	size_t i;

	kp_tensors_init(ts);
	if (m->forest)
		kp_forest_tensors(m->forest, ts);
	for (i = 0; i < m->nlayers; i++) {
		const struct kp_layer *l = &m->layers[i];

		kp_array_init(&a, KP_F32, 2, l->in, l->out);
		memcpy(a.data, l->w, l->in * l->out * sizeof(float));
		snprintf(name, sizeof(name), "layer%zu.weight", i);
		kp_tensors_add(ts, name, &a);
		kp_array_init(&a, KP_F32, 1, l->out, 1);
		memcpy(a.data, l->b, l->out * sizeof(float));
		snprintf(name, sizeof(name), "layer%zu.bias", i);
		kp_tensors_add(ts, name, &a);
	}
	ts->metadata = metadata(m);
}

int
kp_model_save(const struct kp_model *m, const char *path, char *err)
{
	struct kp_tensors ts;
	int rc;

	kp_model_tensors(m, &ts);
	rc = kp_safetensors_write(path, &ts, err);
	kp_tensors_release(&ts);
	return rc;
}

static const char *
meta(const struct kp_tensors *ts, const char *key)
{
	return json_string_value(json_object_get(ts->metadata, key));
}

/* Parse the metadata of a model file into m's kind, task and activations. */
static int
parse_meta(struct kp_model *m, const struct kp_tensors *ts, int *act,
	const char *name, char *err)
{
	const char *kind = meta(ts, "kind"), *task = meta(ts, "task"),
		*layers = meta(ts, "layers"), *a = meta(ts, "activations");
	char *end;
	size_t i;

	if (!kind || !task || !layers || !a || kp_kind_parse(kind) < 0)
		return kp_errf(err, "%s: not a kiln model: __metadata__ needs kind, task, layers, activations",
			name);
	m->kind = kp_kind_parse(kind);
	m->classification = strcmp(task, "classification") == 0;
	m->nlayers = strtoul(layers, &end, 10);
	if (*end || m->nlayers < 1 || m->nlayers > 16)
		return kp_errf(err, "%s: model metadata: bad layer count '%s'", name, layers);
	for (i = 0; i < m->nlayers; i++) {
		size_t n = strcspn(a, ",");

		act[i] = act_parse(a, n);
		if (act[i] < 0)
			return kp_errf(err, "%s: model metadata: unknown activation '%.*s'",
				name, (int)n, a);
		a += n + (a[n] == ',');
	}
	return 0;
}

/* Take layer i's tensors from ts, checking they chain with layer i-1. */
static int
take_layer(struct kp_model *m, size_t i, const struct kp_tensors *ts,
	const char *name, char *err)
{
	const struct kp_array *w, *b;
	struct kp_layer *l = &m->layers[i];
	char key[64];

	snprintf(key, sizeof(key), "layer%zu.weight", i);
	w = kp_tensors_get(ts, key);
	snprintf(key, sizeof(key), "layer%zu.bias", i);
	b = kp_tensors_get(ts, key);
	if (!w || !b || w->dtype != KP_F32 || b->dtype != KP_F32 ||
	    w->ndim != 2 || b->ndim != 1)
		return kp_errf(err, "%s: layer %zu: needs F32 layer%zu.weight [in, out] and layer%zu.bias [out]",
			name, i, i, i);
	if (b->shape[0] != w->shape[1] || w->shape[0] == 0 || w->shape[1] == 0 ||
	    (i > 0 && w->shape[0] != m->layers[i - 1].out))
		return kp_errf(err, "%s: layer %zu: shapes do not chain (weight [%zu, %zu], bias [%zu])",
			name, i, w->shape[0], w->shape[1], b->shape[0]);
	l->in = w->shape[0];
	l->out = w->shape[1];
	l->w = kp_xmallocarray(l->in * l->out, sizeof(float));
	memcpy(l->w, w->data, l->in * l->out * sizeof(float));
	l->b = kp_xmallocarray(l->out, sizeof(float));
	memcpy(l->b, b->data, l->out * sizeof(float));
	return 0;
}

/* A gbdt model's forest from ts, for the rows' width in the metadata. */
static int
load_forest(struct kp_model *m, const struct kp_tensors *ts, const char *name, char *err)
{
	const char *task = meta(ts, "task"), *in = meta(ts, "inputs");
	struct kp_forest f;
	char *end = NULL;
	unsigned long long d = in ? strtoull(in, &end, 10) : 0;

	if (!task || !in || *end || d < 1 || d > (1u << 24))
		return kp_errf(err, "%s: gbdt model metadata: needs task and inputs (a row width)", name);
	if (kp_forest_load(&f, ts, (size_t)d, name, err) < 0)
		return -1;
	kp_model_init_forest(m, strcmp(task, "classification") == 0, &f);
	if (!m->classification && m->forest->outputs != 1) {
		kp_model_release(m);
		return kp_errf(err, "%s: a gbdt regression has 1 output", name);
	}
	return 0;
}

int
kp_model_load(struct kp_model *m, const char *path, char *err)
{
	struct kp_tensors ts;
	int act[16];
	size_t i;

	memset(m, 0, sizeof(*m));
	if (kp_safetensors_read(path, &ts, err) < 0)
		return -1;
	if (meta(&ts, "kind") && strcmp(meta(&ts, "kind"), "gbdt") == 0) {
		int rc = load_forest(m, &ts, path, err);

		kp_tensors_release(&ts);
		return rc;
	}
	if (parse_meta(m, &ts, act, path, err) < 0)
		goto fail;
	m->layers = kp_xcalloc(m->nlayers, sizeof(*m->layers));
	for (i = 0; i < m->nlayers; i++) {
		m->layers[i].act = act[i];
		if (take_layer(m, i, &ts, path, err) < 0)
			goto fail;
	}
	kp_tensors_release(&ts);
	return 0;
fail:
	kp_tensors_release(&ts);
	kp_model_release(m);
	return -1;
}

int
kp_model_load_dir(struct kp_model *m, const char *dir, char *err)
{
	char *st = kp_join(dir, "model.safetensors"), *js = kp_join(dir, "model.json");
	json_t *j = NULL;
	int rc = -1;

	if (kp_model_load(m, st, err) < 0)
		goto out;
	j = kp_json_read(js, err);
	if (!j)
		goto out;
	if (m->classification) {
		if (kp_json_strings(j, "classes", &m->classes, &m->nclasses, js, err) < 0)
			goto out;
		if (m->nclasses < 2 || (kp_model_outputs(m) != m->nclasses &&
		    !(m->nclasses == 2 && kp_model_outputs(m) == 1))) {
			kp_errf(err, "%s: %zu classes do not match the model's %zu outputs",
				js, m->nclasses, kp_model_outputs(m));
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		kp_model_release(m);
	json_decref(j);
	free(st);
	free(js);
	return rc;
}

/*
 * max(x, 0) by clearing every value whose sign bit is set: the signs are
 * random, so a compare and branch would mispredict half the time, and the
 * integer form vectorises.
 */
void
kp_relu(float *z, size_t n)
{
	uint32_t *u = (uint32_t *)z;
	size_t i;

	for (i = 0; i < n; i++)
		u[i] &= (uint32_t)((int32_t)u[i] >> 31) ^ 0xffffffffu;
}

/* Apply an activation to n rows of width k in place. */
void
kp_activate(int act, float *z, size_t n, size_t k)
{
	size_t i, j;

	if (act == KP_RELU) {
		kp_relu(z, n * k);
	} else if (act == KP_SIGMOID) {
		for (i = 0; i < n * k; i++)
			z[i] = 1.0f / (1.0f + expf(-z[i]));
	} else if (act == KP_SOFTMAX_ACT) {
		for (i = 0; i < n; i++) {
			float *r = z + i * k, mx = r[0], s = 0;

			for (j = 1; j < k; j++)
				mx = r[j] > mx ? r[j] : mx;
			for (j = 0; j < k; j++)
				s += r[j] = expf(r[j] - mx);
			for (j = 0; j < k; j++)
				r[j] /= s;
		}
	}
}

/* out (n x l->out) = act(in · w + b). */
void
kp_layer_forward(const struct kp_layer *l, const float *in, size_t n,
	float *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		memcpy(out + i * l->out, l->b, l->out * sizeof(float));
	/* One output (logistic, a regression): sgemv packs nothing. */
	if (l->out == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)l->in, 1.0f, in,
			(int)l->in, l->w, 1, 1.0f, out, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)l->out,
			(int)l->in, 1.0f, in, (int)l->in, l->w, (int)l->out, 1.0f, out, (int)l->out);
	kp_activate(l->act, out, n, l->out);
}

static size_t
widest(const struct kp_model *m)
{
	size_t i, w = 0;

	for (i = 0; i < m->nlayers; i++)
		w = m->layers[i].out > w ? m->layers[i].out : w;
	return w;
}

void
kp_model_forward(const struct kp_model *m, const float *X, size_t n,
	float *out)
{
	size_t w, in = kp_model_inputs(m), k = kp_model_outputs(m);
	float *a, *b;
	size_t r, i;

	if (m->forest) {
		kp_forest_raw(m->forest, X, n, out);
		kp_activate(forest_act(m), out, n, k);
		return;
	}
	w = widest(m);
	a = kp_xmallocarray(BLOCK * w, sizeof(float));
	b = kp_xmallocarray(BLOCK * w, sizeof(float));

	for (r = 0; r < n; r += BLOCK) {
		size_t rows = n - r < BLOCK ? n - r : BLOCK;
		const float *cur = X + r * in;

		for (i = 0; i < m->nlayers; i++) {
			float *dst = i + 1 == m->nlayers ? out + r * k : (i % 2 ? b : a);

			kp_layer_forward(&m->layers[i], cur, rows, dst);
			cur = dst;
		}
	}
	free(a);
	free(b);
}

void
kp_model_predict(const struct kp_model *m, const float *X, size_t n,
	int64_t *pred, float *probs)
{
	size_t k = kp_model_outputs(m), i, j;
	float *out = kp_xmallocarray(n * k, sizeof(float));

	kp_model_forward(m, X, n, out);
	if (!m->classification) {
		memcpy(probs, out, n * sizeof(float));
		free(out);
		return;
	}
	for (i = 0; i < n; i++) {
		const float *r = out + i * k;

		if (k == 1) {
			pred[i] = r[0] >= 0.5f;
			if (probs) {
				probs[i * 2] = 1 - r[0];
				probs[i * 2 + 1] = r[0];
			}
			continue;
		}
		pred[i] = 0;
		for (j = 1; j < k; j++)
			if (r[j] > r[pred[i]])
				pred[i] = (int64_t)j;
		/* k, not m->nclasses: a model just trained has no class names. */
		if (probs)
			memcpy(probs + i * k, r, k * sizeof(float));
	}
	free(out);
}
