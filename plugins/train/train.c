/*
 * The train plugin: fits ridge, logistic, softmax or MLP models on the NPY
 * matrices of a features target and writes model.safetensors, model.json
 * and history.json.
 */
#include <cblas.h>
#include <jansson.h>
#include <kiln/plugin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fit.h"
#include "../lib/json.h"
#include "../lib/model.h"
#include "../lib/npy.h"
#include "../lib/param.h"
#include "../lib/util.h"

static const char *const params[] = { "algorithm", "batch_size", "checkpoint_every", "epochs",
	"hidden", "l2", "lr", "patience", "seed", "validation", NULL };
static const char *const algorithms[] = { "ridge", "logistic", "softmax", "mlp", NULL };

/* Read and check the params into o; used by both check and run. */
static int
options(kiln_ctx *ctx, struct kp_fit_opts *o)
{
	const kiln_value *hidden = kiln_param(ctx, "hidden");
	const char *alg;
	long long v;
	double x = 0;
	size_t i;

	kp_fit_opts_init(o);
	if (kp_known(ctx, params) < 0 || kp_string(ctx, "algorithm", "softmax", algorithms, &alg) < 0)
		return -1;
	o->kind = kp_kind_parse(alg);
	if (kp_int(ctx, "epochs", 100, 1, 1000000, &v) < 0)
		return -1;
	o->epochs = (int)v;
	if (kp_int(ctx, "batch_size", 32, 1, 1 << 24, &v) < 0)
		return -1;
	o->batch = (size_t)v;
	if (kp_int(ctx, "patience", 10, 1, 1000000, &v) < 0)
		return -1;
	o->patience = (int)v;
	if (kp_int(ctx, "seed", 1, 0, LLONG_MAX, &v) < 0)
		return -1;
	o->seed = (uint64_t)v;
	if (kp_number(ctx, "lr", 0.01, 0, 10, &o->lr) < 0)
		return -1;
	if (!(o->lr > 0))
		return kiln_fail(ctx, "param 'lr': expected a positive number, got 0");
	if (kp_number(ctx, "l2", o->kind == KP_RIDGE ? 1.0 : 1e-4, 0, 1e6, &o->l2) < 0)
		return -1;
	if (kp_number(ctx, "validation", 0, 0, 0.9, &x) < 0)
		return -1;
	o->validation = x;
	if (kp_int(ctx, "checkpoint_every", o->epochs / 20 > 0 ? o->epochs / 20 : 1, 1, 1000000, &v) < 0)
		return -1;
	if (hidden && o->kind != KP_MLP)
		return kiln_fail(ctx, "param 'hidden': only the mlp algorithm has hidden layers");
	if (o->kind == KP_MLP && !hidden) {
		o->hidden[0] = 64;
		o->nhidden = 1;
	}
	if (hidden && (kiln_value_type(hidden) != KILN_LIST || kiln_value_len(hidden) > 8))
		return kiln_fail(ctx, "param 'hidden': expected a list of 1 to 8 layer sizes");
	for (i = 0; i < kiln_value_len(hidden); i++) {
		long long h = kiln_value_int(kiln_value_at(hidden, i), 0);

		if (h < 1 || h > 65536)
			return kiln_fail(ctx, "param 'hidden': item %zu: expected a layer size in [1, 65536]", i + 1);
		o->hidden[o->nhidden++] = (size_t)h;
	}
	return 0;
}

static int
check(kiln_ctx *ctx)
{
	struct kp_fit_opts o;

	if (options(ctx, &o) < 0)
		return -1;
	if (!kiln_input(ctx, "features"))
		return kiln_fail(ctx, "missing input 'features'");
	return 0;
}

/* The training data: X, y, class names and the features' transform. */
struct data {
	struct kp_array X, y, w;	/* w: sample weights, when the features have them */
	char **classes;
	size_t nclasses;
	json_t *transform;
};

static void
data_release(struct data *d)
{
	kp_array_release(&d->X);
	kp_array_release(&d->y);
	kp_array_release(&d->w);
	kp_strings_free(d->classes, d->nclasses);
	json_decref(d->transform);
}

/* Class names from transform.json, or "0".."k-1" when there is none. */
static int
load_classes(struct data *d, const char *dir, char *err)
{
	char *path = kp_join(dir, "transform.json");
	const int64_t *y = d->y.data;
	int64_t mx = 0;
	size_t i;
	int rc = 0;

	if (access(path, F_OK) == 0) {
		d->transform = kp_json_read(path, err);
		if (!d->transform)
			rc = -1;
		else if (json_object_get(d->transform, "classes"))
			rc = kp_json_strings(d->transform, "classes", &d->classes,
				&d->nclasses, path, err);
	}
	free(path);
	if (rc < 0 || d->classes)
		return rc;
	for (i = 0; i < d->y.shape[0]; i++)
		if (y[i] > mx)
			mx = y[i];
	d->nclasses = (size_t)mx + 1;
	d->classes = kp_xmallocarray(d->nclasses, sizeof(char *));
	for (i = 0; i < d->nclasses; i++) {
		char b[32];

		snprintf(b, sizeof(b), "%zu", i);
		d->classes[i] = kp_xstrdup(b);
	}
	return 0;
}

/* w_train.npy, when featurize reweighed the rows. */
static int
load_weights(struct data *d, const char *dir, char *err)
{
	char *wp = kp_join(dir, "w_train.npy");
	int rc = 0;

	if (access(wp, F_OK) == 0) {
		rc = kp_npy_read(wp, &d->w, err);
		if (rc == 0 && (d->w.dtype != KP_F32 || d->w.ndim != 1 ||
		    d->w.shape[0] != d->X.shape[0]))
			rc = kp_errf(err, "%s: expected %zu float32 weights", wp, d->X.shape[0]);
	}
	free(wp);
	return rc;
}

static int
load_data(struct data *d, const char *dir, char *err)
{
	char *xp = kp_join(dir, "X_train.npy"), *yp = kp_join(dir, "y_train.npy");
	int rc = -1;

	memset(d, 0, sizeof(*d));
	if (kp_npy_read(xp, &d->X, err) < 0 || kp_npy_read(yp, &d->y, err) < 0)
		goto out;
	if (d->X.dtype != KP_F32 || d->X.ndim != 2) {
		kp_errf(err, "%s: expected a 2-D float32 matrix", xp);
		goto out;
	}
	if (d->y.ndim != 1 || d->y.shape[0] != d->X.shape[0]) {
		kp_errf(err, "%s: expected %zu labels to match X_train's rows, got shape (%zu, %zu)",
			yp, d->X.shape[0], d->y.shape[0], d->y.shape[1]);
		goto out;
	}
	rc = d->y.dtype == KP_I64 ? load_classes(d, dir, err) : 0;
	if (rc == 0)
		rc = load_weights(d, dir, err);
out:
	free(xp);
	free(yp);
	return rc;
}

static int
finite_inputs(const struct data *d, char *err)
{
	const float *x = d->X.data;
	size_t n = kp_array_count(&d->X), i = kp_first_nonfinite(x, n);

	if (i < n)
		return kp_errf(err, "X_train.npy: row %zu column %zu is %g: features must be finite",
			i / d->X.shape[1] + 1, i % d->X.shape[1] + 1, x[i]);
	if (d->y.dtype == KP_F32) {
		i = kp_first_nonfinite(d->y.data, d->y.shape[0]);
		if (i < d->y.shape[0])
			return kp_errf(err, "y_train.npy: row %zu is not finite", i + 1);
	}
	return 0;
}

static json_t *
layers_json(const struct kp_model *m)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < m->nlayers; i++)
		json_array_append_new(a, json_pack("{s:I, s:I, s:s}", "in",
			(json_int_t)m->layers[i].in, "out", (json_int_t)m->layers[i].out,
			"activation", kp_act_name(m->layers[i].act)));
	return a;
}

static json_t *
hyper_json(const struct kp_fit_opts *o)
{
	json_t *h = json_array();
	size_t i;

	for (i = 0; i < o->nhidden; i++)
		json_array_append_new(h, json_integer((json_int_t)o->hidden[i]));
	return json_pack("{s:s, s:I, s:o, s:o, s:I, s:o, s:I, s:o, s:I}",
		"algorithm", kp_kind_name(o->kind), "epochs", (json_int_t)o->epochs,
		"lr", kp_json_real(o->lr), "l2", kp_json_real(o->l2),
		"batch_size", (json_int_t)o->batch, "validation", kp_json_real(o->validation),
		"patience", (json_int_t)o->patience, "hidden", h, "seed", (json_int_t)o->seed);
}

static json_t *
model_json(const struct kp_model *m, const struct kp_fit_opts *o,
	const struct data *d, const struct kp_history *h)
{
	json_t *j = json_object(), *cl = json_array();
	size_t i;

	for (i = 0; m->classification && i < d->nclasses; i++)
		json_array_append_new(cl, json_string(d->classes[i]));
	json_object_set_new(j, "format", json_string("kiln-model/1"));
	json_object_set_new(j, "kind", json_string(kp_kind_name(m->kind)));
	json_object_set_new(j, "task", json_string(m->classification ? "classification" : "regression"));
	json_object_set_new(j, "inputs", json_integer((json_int_t)kp_model_inputs(m)));
	json_object_set_new(j, "outputs", json_integer((json_int_t)kp_model_outputs(m)));
	json_object_set_new(j, "layers", layers_json(m));
	json_object_set_new(j, "classes", cl);
	json_object_set_new(j, "hyperparameters", hyper_json(o));
	json_object_set_new(j, "weighted", json_boolean(d->w.data != NULL));
	json_object_set_new(j, "train_rows", json_integer((json_int_t)d->X.shape[0]));
	json_object_set_new(j, "best_epoch", json_integer(h->best_epoch));
	json_object_set_new(j, "transform", d->transform ? json_incref(d->transform) : json_null());
	return j;
}

static json_t *
history_json(const struct kp_history *h, int classification)
{
	json_t *j = json_object(), *ep = json_array();
	size_t i;

	for (i = 0; i < h->n; i++)
		json_array_append_new(ep, json_pack("{s:I, s:o, s:o}", "epoch", (json_int_t)(i + 1),
			"loss", kp_json_real(h->loss[i]), "val", kp_json_real(h->val[i])));
	json_object_set_new(j, "epochs", ep);
	json_object_set_new(j, "best_epoch", json_integer(h->best_epoch));
	json_object_set_new(j, "val_metric", json_string(classification ? "accuracy" : "mse"));
	json_object_set_new(j, "flops", json_real(h->flops));
	return j;
}

static int
progress(void *arg, int epoch, int epochs, double loss)
{
	(void)loss;
	kiln_progress(arg, epoch, epochs, "epoch");
	return 0;
}

static int
write_outputs(kiln_ctx *ctx, const struct kp_model *m, const struct kp_fit_opts *o,
	const struct data *d, const struct kp_history *h, char *err)
{
	const char *out = kiln_output_dir(ctx);
	char *mp = kp_join(out, "model.safetensors"), *jp = kp_join(out, "model.json"),
		*hp = kp_join(out, "history.json");
	json_t *mj = model_json(m, o, d, h), *hj = history_json(h, m->classification);
	int rc = 0;

	if (kp_model_save(m, mp, err) < 0 || kp_json_write(jp, mj, err) < 0 ||
	    kp_json_write(hp, hj, err) < 0)
		rc = -1;
	json_decref(mj);
	json_decref(hj);
	free(mp);
	free(jp);
	free(hp);
	return rc;
}

static double
seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The training's state file in the checkpoint folder. */
#define STATE_FILE "train.state"

struct resume {
	kiln_ctx *ctx;
	char *path;		/* the state file, or NULL: no checkpoints */
	char *data;		/* what it held when the step started */
	struct kp_fit_ckpt ck;
};

static int
save_state(void *arg, int epoch, const void *data, size_t len)
{
	struct resume *r = arg;
	char err[KP_ERRLEN];

	/* A checkpoint that cannot be written costs a resume, not the training. */
	if (kp_write_file(r->path, data, len, err) < 0)
		kiln_warn(r->ctx, "cannot write the checkpoint: %s", err);
	else
		kiln_checkpoint_saved(r->ctx, epoch);
	return 0;
}

/* checkpoint = true: save every checkpoint_every epochs (default a twentieth), and resume what is there. */
static int
open_checkpoint(kiln_ctx *ctx, struct kp_fit_opts *o, struct resume *r)
{
	const char *dir = kiln_checkpoint_dir(ctx);
	long long every;
	char err[KP_ERRLEN];

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	if (kp_int(ctx, "checkpoint_every", o->epochs / 20 > 0 ? o->epochs / 20 : 1, 1, 1000000, &every) < 0)
		return -1;
	if (!dir || o->kind == KP_RIDGE)
		return 0;
	r->path = kp_join(dir, STATE_FILE);
	r->ck = (struct kp_fit_ckpt){(int)every, save_state, r, NULL, 0, 0};
	if (access(r->path, F_OK) == 0) {
		if (kp_read_file(r->path, &r->data, &r->ck.resume_len, err) < 0)
			return kiln_fail(ctx, "checkpoint: %s", err);
		r->ck.resume = r->data;
	}
	o->ckpt = &r->ck;
	return 0;
}

static int
run(kiln_ctx *ctx)
{
	struct resume res;
	char err[KP_ERRLEN];
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_model m;
	struct data d;
	const char *dir;
	double t0;
	int cls, rc;

	if (options(ctx, &o) < 0 || kp_input(ctx, "features", &dir) < 0 || open_checkpoint(ctx, &o, &res) < 0)
		return -1;
	o.threads = kiln_threads(ctx) > 0 ? kiln_threads(ctx) : 1;
	kiln_log(ctx, "OpenBLAS %s kernels, %d training thread(s)", openblas_get_corename(),
		o.threads);
	t0 = seconds();
	if (load_data(&d, dir, err) < 0 || finite_inputs(&d, err) < 0) {
		data_release(&d);
		return kiln_fail(ctx, "%s", err);
	}
	kiln_log(ctx, "loaded and checked the features in %.3f s", seconds() - t0);
	cls = d.y.dtype == KP_I64;
	o.weights = d.w.data;
	t0 = seconds();
	rc = kp_fit(&m, &o, d.X.data, d.X.shape[0], d.X.shape[1], cls ? d.y.data : NULL,
		cls ? NULL : d.y.data, cls ? d.nclasses : 0, &h, progress, ctx, err);
	t0 = seconds() - t0;
	if (res.ck.resumed_epoch)
		kiln_log(ctx, "resumed from the checkpoint at epoch %d of %d", res.ck.resumed_epoch, o.epochs);
	free(res.path);
	free(res.data);
	/* The log is not an output, so the clock may appear in it. */
	if (rc == 0)
		kiln_log(ctx, "trained %zu x %zu in %.3f s: %.3g GFLOP, %.2f GFLOP/s", d.X.shape[0],
			d.X.shape[1], t0, h.flops / 1e9, h.flops / 1e9 / (t0 > 0 ? t0 : 1e-9));
	if (rc == 0)
		rc = write_outputs(ctx, &m, &o, &d, &h, err);
	if (rc == 0) {
		if (h.n && isfinite(h.loss[h.n - 1]))
			kiln_metric(ctx, "train_loss", h.loss[h.n - 1]);
		kiln_metric(ctx, "epochs_run", (double)h.n);
		kp_model_release(&m);
	}
	kp_history_release(&h);
	data_release(&d);
	return rc < 0 ? kiln_fail(ctx, "%s", err) : 0;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "train",
	.version = "1.0",
	.summary = "trains ridge, logistic, softmax and MLP models on OpenBLAS",
	.check = check,
	.run = run,
};
