/*
 * predict: a model, its transform, and the JSON of prediction requests.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <float.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "predict.h"
#include "../plugins/lib/json.h"
#include "../plugins/lib/model.h"
#include "../plugins/lib/util.h"

/* "sha256:<hex>" of a file's bytes. */
static char *
file_digest(const char *path, char *err)
{
	unsigned char md[32];
	char *buf, *s;
	size_t len, i;

	if (kp_read_file(path, &buf, &len, err) < 0)
		return NULL;
	EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
	free(buf);
	s = kp_xmalloc(7 + 64 + 1);
	memcpy(s, "sha256:", 7);
	for (i = 0; i < 32; i++)
		sprintf(s + 7 + 2 * i, "%02x", md[i]);
	return s;
}

static long
find_src(const struct predictor *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nsrc; i++)
		if (strcmp(p->src[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Read model.json's "transform": its columns, in the model's input order. */
static int
load_transform(struct predictor *p, const json_t *t, const char *name, char *err)
{
	const json_t *cols = json_object_get(t, "columns"), *c;
	size_t i;

	if (!json_is_array(cols) || json_array_size(cols) != p->ninputs)
		return kp_errf(err, "%s: transform.columns must list the model's %zu inputs",
			name, p->ninputs);
	p->cols = kp_xcalloc(p->ninputs, sizeof(*p->cols));
	p->src = kp_xcalloc(p->ninputs, sizeof(*p->src));
	p->ncols = p->ninputs;
	json_array_foreach(cols, i, c) {
		const char *src = json_string_value(json_object_get(c, "source"));
		const char *kind = json_string_value(json_object_get(c, "kind"));
		struct pcol *col = &p->cols[i];
		int onehot;
		long s;

		if (!src || !kind || (strcmp(kind, "numeric") && strcmp(kind, "onehot")))
			return kp_errf(err, "%s: transform column %zu needs a source and a kind "
				"(numeric or onehot)", name, i);
		onehot = strcmp(kind, "onehot") == 0;
		s = find_src(p, src);
		if (s < 0) {
			s = (long)p->nsrc++;
			p->src[s].name = kp_xstrdup(src);
			p->src[s].onehot = onehot;
		} else if (p->src[s].onehot != onehot) {
			return kp_errf(err, "%s: column '%s' is both numeric and one-hot", name, src);
		}
		col->src = (size_t)s;
		if (onehot) {
			const char *v = json_string_value(json_object_get(c, "value"));

			if (!v)
				return kp_errf(err, "%s: one-hot column '%s' has no value", name, src);
			col->value = kp_xstrdup(v);
		} else {
			const json_t *ce = json_object_get(c, "center"), *sc = json_object_get(c, "scale");

			if (!json_is_number(ce) || !json_is_number(sc) || json_number_value(sc) == 0)
				return kp_errf(err, "%s: numeric column '%s' needs a center and a "
					"non-zero scale", name, src);
			col->center = json_number_value(ce);
			col->scale = json_number_value(sc);
		}
	}
	return 0;
}

/* The metadata GET /v1/models/<name> answers. */
static json_t *
make_meta(const struct predictor *p, const json_t *mj)
{
	json_t *j = json_object(), *in = json_array();
	size_t i, k;

	json_object_set_new(j, "name", json_string(p->name));
	json_object_set_new(j, "kind", json_string(kp_kind_name(p->m.kind)));
	json_object_set_new(j, "task", json_string(p->m.classification ? "classification" : "regression"));
	json_object_set_new(j, "model_digest", json_string(p->digest));
	json_object_set_new(j, "features", json_integer((json_int_t)p->ninputs));
	for (i = 0; i < p->nsrc; i++) {
		json_t *c = json_pack("{s:s, s:s}", "name", p->src[i].name,
			"type", p->src[i].onehot ? "string" : "number");

		if (p->src[i].onehot) {
			json_t *vals = json_array();

			for (k = 0; k < p->ncols; k++)
				if (p->cols[k].src == i)
					json_array_append_new(vals, json_string(p->cols[k].value));
			json_object_set_new(c, "values", vals);
		}
		json_array_append_new(in, c);
	}
	json_object_set_new(j, "inputs", in);
	if (p->m.classification) {
		json_t *cl = json_array();

		for (i = 0; i < p->m.nclasses; i++)
			json_array_append_new(cl, json_string(p->m.classes[i]));
		json_object_set_new(j, "classes", cl);
	}
	if (json_object_get(mj, "label"))
		json_object_set(j, "label", json_object_get(mj, "label"));
	return j;
}

int
predictor_load(struct predictor *p, const char *dir, const char *name, char *err)
{
	char *js = kp_join(dir, "model.json"), *st = kp_join(dir, "model.safetensors");
	json_t *mj = NULL, *t;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	p->name = kp_xstrdup(name);
	if (kp_model_load_dir(&p->m, dir, err) < 0)
		goto out;
	p->ninputs = kp_model_inputs(&p->m);
	if (!(mj = kp_json_read(js, err)))
		goto out;
	/* A model trained without a transform (the train plugin writes null) takes model inputs. */
	t = json_object_get(mj, "transform");
	if (!json_is_object(t))
		t = NULL;
	if (t && load_transform(p, t, js, err) < 0)
		goto out;
	if (t && json_object_get(t, "label"))
		json_object_set(mj, "label", json_object_get(t, "label"));
	if (!(p->digest = file_digest(st, err)))
		goto out;
	p->meta = make_meta(p, mj);
	rc = 0;
out:
	json_decref(mj);
	free(js);
	free(st);
	if (rc < 0)
		predictor_release(p);
	return rc;
}

void
predictor_release(struct predictor *p)
{
	size_t i;

	if (p->m.layers || p->m.forest)
		kp_model_release(&p->m);
	for (i = 0; i < p->nsrc; i++)
		free(p->src[i].name);
	for (i = 0; i < p->ncols; i++)
		free(p->cols[i].value);
	free(p->src);
	free(p->cols);
	free(p->digest);
	free(p->name);
	json_decref(p->meta);
	memset(p, 0, sizeof(*p));
}

/* A JSON number as a float the model can take; -1 when it is out of range. */
static int
to_float(const json_t *v, double *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) && fabs(*out) <= FLT_MAX ? 0 : -1;
}

static const char *
json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* Raw value v of source column s into the row's model inputs x. */
static int
put_value(const struct predictor *p, size_t s, const json_t *v, float *x, size_t row, char *err)
{
	size_t k;
	double d;

	if (p->src[s].onehot) {
		const char *str = json_string_value(v);

		if (!str)
			return kp_errf(err, "instance %zu: column '%s' takes a string, got %s",
				row, p->src[s].name, json_type_name(v));
		for (k = 0; k < p->ncols; k++)
			if (p->cols[k].src == s)
				x[k] = strcmp(p->cols[k].value, str) == 0;
		/* An unseen category is all zeros, as in training's test split. */
		return 0;
	}
	if (to_float(v, &d) < 0)
		return kp_errf(err, "instance %zu: column '%s' takes a number, got %s",
			row, p->src[s].name, json_is_number(v) ? "a number out of range" : json_type_name(v));
	for (k = 0; k < p->ncols; k++)
		if (p->cols[k].src == s)
			x[k] = (float)((d - p->cols[k].center) / p->cols[k].scale);
	return 0;
}

/* One instance (a list of raw values or an object of column: value) into x. */
static int
put_row(const struct predictor *p, const json_t *inst, float *x, size_t row, char *err)
{
	const char *key;
	const json_t *v;
	size_t i;
	double d;

	if (json_is_array(inst)) {
		size_t want = p->nsrc ? p->nsrc : p->ninputs;

		if (json_array_size(inst) != want)
			return kp_errf(err, "instance %zu: expected %zu features, got %zu",
				row, want, json_array_size(inst));
		json_array_foreach(inst, i, v) {
			if (p->nsrc) {
				if (put_value(p, i, v, x, row, err) < 0)
					return -1;
			} else if (to_float(v, &d) < 0) {
				return kp_errf(err, "instance %zu: feature %zu: expected a number, got %s",
					row, i, json_type_name(v));
			} else {
				x[i] = (float)d;
			}
		}
		return 0;
	}
	if (!json_is_object(inst))
		return kp_errf(err, "instance %zu: expected a list of features or an object "
			"of column: value, got %s", row, json_type_name(inst));
	if (!p->nsrc)
		return kp_errf(err, "instance %zu: this model has no column names; "
			"send a list of %zu numbers", row, p->ninputs);
	json_object_foreach((json_t *)inst, key, v)
		if (find_src(p, key) < 0)
			return kp_errf(err, "instance %zu: unknown column '%s'", row, key);
	for (i = 0; i < p->nsrc; i++) {
		v = json_object_get(inst, p->src[i].name);
		if (!v)
			return kp_errf(err, "instance %zu: missing column '%s'", row, p->src[i].name);
		if (put_value(p, i, v, x, row, err) < 0)
			return -1;
	}
	return 0;
}

/* Round to float precision so the JSON shows what the model computed. */
static json_t *
real(float v)
{
	return kp_json_real(v);
}

static json_t *
answer(const struct predictor *p, size_t n, const int64_t *pred, const float *probs)
{
	json_t *out = json_array();
	size_t i, k;

	for (i = 0; i < n; i++) {
		json_t *o;

		if (!p->m.classification) {
			json_array_append_new(out, real(probs[i]));
			continue;
		}
		o = json_pack("{s:s, s:I}", "class", p->m.classes[pred[i]], "label", (json_int_t)pred[i]);
		if (kp_model_probabilistic(&p->m)) {
			json_t *pr = json_object();

			for (k = 0; k < p->m.nclasses; k++)
				json_object_set_new(pr, p->m.classes[k], real(probs[i * p->m.nclasses + k]));
			json_object_set_new(o, "probabilities", pr);
		}
		json_array_append_new(out, o);
	}
	return json_pack("{s:o}", "predictions", out);
}

json_t *
predictor_run(const struct predictor *p, const char *body, size_t len, int *status, char *err)
{
	json_error_t je;
	json_t *req, *inst, *res = NULL;
	const json_t *v;
	float *x = NULL, *probs = NULL;
	int64_t *pred = NULL;
	size_t n, i, k;

	*status = 400;
	req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!req) {
		kp_errf(err, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	inst = json_object_get(req, "instances");
	if (!json_is_object(req) || !json_is_array(inst)) {
		kp_errf(err, "expected an object {\"instances\": [...]}");
		goto out;
	}
	n = json_array_size(inst);
	if (n == 0) {
		kp_errf(err, "\"instances\" is empty");
		goto out;
	}
	x = kp_xcalloc(n, p->ninputs * sizeof(float));
	json_array_foreach(inst, i, v)
		if (put_row(p, v, x + i * p->ninputs, i, err) < 0)
			goto out;
	pred = kp_xcalloc(n, sizeof(*pred));
	probs = kp_xcalloc(n, (p->m.nclasses ? p->m.nclasses : 1) * sizeof(float));
	kp_model_predict(&p->m, x, n, pred, probs);
	k = n * (p->m.nclasses ? p->m.nclasses : 1);
	if ((i = kp_first_nonfinite(probs, k)) < k) {
		/* JSON has no infinity: the answer would be nulls, or a class picked from NaNs. */
		kp_errf(err, "instance %zu: the model's output is not a finite number for these "
			"inputs (a value far outside the training data's range?)",
			i / (p->m.nclasses ? p->m.nclasses : 1));
		goto out;
	}
	res = answer(p, n, pred, probs);
	*status = 200;
out:
	json_decref(req);
	free(x);
	free(pred);
	free(probs);
	return res;
}
