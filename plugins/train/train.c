/*
 * The train plugin: fits ridge, logistic, softmax, MLP or gradient-boosted
 * tree models on the NPY matrices of a features target and writes
 * model.safetensors, model.json and history.json.
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
#include "../lib/forest.h"
#include "../lib/gbdt.h"
#include "../lib/gemm.h"
#include "../lib/json.h"
#include "../lib/machine.h"
#include "../lib/model.h"
#include "../lib/npy.h"
#include "../lib/param.h"
#include "../lib/util.h"

static const char *const params[] = { "algorithm", "batch_size", "checkpoint_every", "colsample",
	"depth", "epochs", "hidden", "l2", "leaves", "lr", "min_child_weight", "patience", "seed", "solver",
	"subsample", "tol", "trees", "validation", NULL };
static const char *const solvers[] = { "adam", "lbfgs", NULL };
/* Params only the Adam solver takes. */
static const char *const adam_params[] = { "batch_size", "lr", "patience", "tol", "validation", NULL };
static const char *const algorithms[] = { "ridge", "logistic", "softmax", "mlp", "gbdt", NULL };
/* Params of one family only: the trees', and the gradient-trained networks'. */
static const char *const tree_params[] = { "colsample", "depth", "leaves", "min_child_weight",
	"subsample", "trees", NULL };
static const char *const net_params[] = { "batch_size", "epochs", "hidden", "tol", NULL };

/* A param of the other family than the algorithm's is a mistake: say so. */
static int
family(kiln_ctx *ctx, int gbdt)
{
	const char *const *other = gbdt ? net_params : tree_params;
	size_t i;

	for (i = 0; other[i]; i++)
		if (kiln_param(ctx, other[i]))
			return kiln_fail(ctx, gbdt ? "param '%s': the gbdt algorithm has no %s (it grows trees)"
				: "param '%s': only the gbdt algorithm grows trees", other[i], other[i]);
	return 0;
}

/*
 * Logistic and softmax: the solver, lbfgs unless said or unless a param
 * only Adam takes is given (so a Kilnfile that tunes lr means Adam).
 */
static int
solver_option(kiln_ctx *ctx, struct kp_fit_opts *o)
{
	const char *s;
	size_t i;
	int adam = 0;

	if (o->kind != KP_LOGISTIC && o->kind != KP_SOFTMAX)
		return kiln_param(ctx, "solver") ?
			kiln_fail(ctx, "param 'solver': only logistic and softmax have a choice of solver") : 0;
	for (i = 0; adam_params[i]; i++)
		adam |= kiln_param(ctx, adam_params[i]) != NULL;
	if (kp_string(ctx, "solver", adam ? "adam" : "lbfgs", solvers, &s) < 0)
		return -1;
	o->solver = strcmp(s, "lbfgs") == 0 ? KP_SOLVER_LBFGS : KP_SOLVER_ADAM;
	for (i = 0; o->solver == KP_SOLVER_LBFGS && adam_params[i]; i++)
		if (kiln_param(ctx, adam_params[i]))
			return kiln_fail(ctx, "param '%s': the lbfgs solver runs on all rows to convergence; %s is Adam's",
				adam_params[i], adam_params[i]);
	return 0;
}

/* The gbdt params into o: lr, l2 and the trees'. */
static int
tree_options(kiln_ctx *ctx, struct kp_fit_opts *o)
{
	long long v;

	if (kp_int(ctx, "trees", 100, 1, 1000000, &v) < 0)
		return -1;
	o->trees = (int)v;
	if (kp_int(ctx, "leaves", 0, 2, KP_GBDT_LEAVES, &v) < 0)
		return -1;
	o->leaves = (int)v;
	/* Leaf-wise trees are bounded by their leaves; depth caps them only when given. */
	if (kp_int(ctx, "depth", o->leaves ? 16 : 6, 1, 16, &v) < 0)
		return -1;
	o->depth = (int)v;
	if (kp_number(ctx, "lr", 0.1, 0, 10, &o->lr) < 0 ||
	    kp_number(ctx, "l2", 1.0, 0, 1e6, &o->l2) < 0 ||
	    kp_number(ctx, "min_child_weight", 1.0, 0, 1e9, &o->min_child_weight) < 0 ||
	    kp_number(ctx, "subsample", 1.0, 0, 1, &o->subsample) < 0 ||
	    kp_number(ctx, "colsample", 1.0, 0, 1, &o->colsample) < 0)
		return -1;
	if (!(o->subsample > 0))
		return kiln_fail(ctx, "param 'subsample': expected a fraction in (0, 1], got 0");
	if (!(o->colsample > 0))
		return kiln_fail(ctx, "param 'colsample': expected a fraction in (0, 1], got 0");
	return 0;
}

/* Read and check the params into o; used by both check and run. */
static int
options(kiln_ctx *ctx, struct kp_fit_opts *o)
{
	const kiln_value *hidden = kiln_param(ctx, "hidden");
	const char *alg;
	long long v;
	double x = 0;
	size_t i;
	int mlp;

	kp_fit_opts_init(o);
	if (kp_known(ctx, params) < 0 || kp_string(ctx, "algorithm", "softmax", algorithms, &alg) < 0)
		return -1;
	o->kind = kp_kind_parse(alg);
	mlp = o->kind == KP_MLP;
	if (family(ctx, o->kind == KP_GBDT) < 0)
		return -1;
	if (o->kind == KP_GBDT && tree_options(ctx, o) < 0)
		return -1;
	if (solver_option(ctx, o) < 0)
		return -1;
	/* Epochs, or for lbfgs iterations at most: it stops when converged. The
	 * MLP's defaults are scikit-learn's MLPClassifier's (docs/rules.md). */
	if (kp_int(ctx, "epochs", o->solver == KP_SOLVER_LBFGS ? 1000 : mlp ? 200 : 100, 1,
	    1000000, &v) < 0)
		return -1;
	o->epochs = (int)v;
	if (kp_int(ctx, "batch_size", mlp ? 200 : 32, 1, 1 << 24, &v) < 0)
		return -1;
	o->batch = (size_t)v;
	if (kp_int(ctx, "patience", 10, 1, 1000000, &v) < 0)
		return -1;
	o->patience = (int)v;
	/* The MLP stops as scikit-learn's does; Adam's logistic and softmax run every epoch. */
	if (kp_number(ctx, "tol", mlp ? 1e-4 : 0, 0, 1e6, &o->tol) < 0)
		return -1;
	if (kp_int(ctx, "seed", 1, 0, LLONG_MAX, &v) < 0)
		return -1;
	o->seed = (uint64_t)v;
	if (o->kind != KP_GBDT && kp_number(ctx, "lr", mlp ? 1e-3 : 0.01, 0, 10, &o->lr) < 0)
		return -1;
	if (!(o->lr > 0))
		return kiln_fail(ctx, "param 'lr': expected a positive number, got 0");
	/* NaN: 1/n, n the training rows (scikit-learn's C = 1), set by run. The
	 * MLP's 1e-3 was chosen on the examples over seeds (docs/rules.md). */
	if (o->kind != KP_GBDT && kp_number(ctx, "l2", o->kind == KP_RIDGE ? 1.0 :
	    o->solver == KP_SOLVER_LBFGS ? NAN : mlp ? 1e-3 : 1e-4, 0, 1e6, &o->l2) < 0)
		return -1;
	if (kp_number(ctx, "validation", 0, 0, 0.9, &x) < 0)
		return -1;
	o->validation = x;
	if (kp_int(ctx, "checkpoint_every", o->epochs / 20 > 0 ? o->epochs / 20 : 1, 1, 1000000, &v) < 0)
		return -1;
	if (hidden && o->kind != KP_MLP)
		return kiln_fail(ctx, "param 'hidden': only the mlp algorithm has hidden layers");
	if (o->kind == KP_MLP && !hidden) {
		o->hidden[0] = 100;
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
	struct kp_array Xv, yv;		/* the validation split, when the features have one */
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
	kp_array_release(&d->Xv);
	kp_array_release(&d->yv);
	kp_strings_free(d->classes, d->nclasses);
	json_decref(d->transform);
}

/*
 * Without class names, the labels are class indices 0..k-1 and k is their
 * largest plus one: a label the rows cannot hold (negative, or k more
 * classes than rows) would size the model's last layer by it.
 */
static int
class_count(const struct data *d, const char *yp, size_t *k, char *err)
{
	const int64_t *y = d->y.data;
	size_t i, n = d->y.shape[0], at = 0;
	int64_t mx = 0;

	for (i = 0; i < n; i++) {
		if (y[i] < 0)
			return kp_errf(err, "%s: row %zu: label %lld is negative: labels are class "
				"indices 0, 1, …", yp, i + 1, (long long)y[i]);
		if (y[i] > mx)
			mx = y[i], at = i;
	}
	if ((uint64_t)mx >= n)
		return kp_errf(err, "%s: row %zu: label %lld makes %llu classes, more than the %zu "
			"rows: labels are class indices 0 to k-1, each seen in training",
			yp, at + 1, (long long)mx, (unsigned long long)mx + 1, n);
	*k = (size_t)mx + 1;
	return 0;
}

/* Class names from transform.json, or "0".."k-1" when there is none. */
static int
load_classes(struct data *d, const char *dir, const char *yp, char *err)
{
	char *path = kp_join(dir, "transform.json");
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
	if (class_count(d, yp, &d->nclasses, err) < 0)
		return -1;
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

/* X_val.npy and y_val.npy, when the features have a validation split. */
static int
load_validation(struct data *d, const char *dir, char *err)
{
	char *xp = kp_join(dir, "X_val.npy"), *yp = kp_join(dir, "y_val.npy");
	const int64_t *y;
	size_t i, n;
	int rc = 0;

	if (access(xp, F_OK) != 0)
		goto out;
	rc = -1;
	if (kp_npy_read(xp, &d->Xv, err) < 0 || kp_npy_read(yp, &d->yv, err) < 0)
		goto out;
	n = d->Xv.shape[0];
	if (d->Xv.dtype != KP_F32 || d->Xv.ndim != 2 || d->Xv.shape[1] != d->X.shape[1] || n == 0) {
		kp_errf(err, "%s: expected a float32 matrix of %zu columns", xp, d->X.shape[1]);
		goto out;
	}
	if (d->yv.ndim != 1 || d->yv.shape[0] != n || d->yv.dtype != d->y.dtype) {
		kp_errf(err, "%s: expected %zu labels of y_train.npy's type", yp, n);
		goto out;
	}
	if (kp_first_nonfinite(d->Xv.data, n * d->Xv.shape[1]) < n * d->Xv.shape[1]) {
		kp_errf(err, "%s: features must be finite", xp);
		goto out;
	}
	y = d->yv.data;
	for (i = 0; d->yv.dtype == KP_I64 && i < n; i++)
		if (y[i] < 0 || (size_t)y[i] >= d->nclasses) {
			kp_errf(err, "%s: label %lld of row %zu is not a class index below %zu", yp,
				(long long)y[i], i + 1, d->nclasses);
			goto out;
		}
	rc = 0;
out:
	free(xp);
	free(yp);
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
	rc = d->y.dtype == KP_I64 ? load_classes(d, dir, yp, err) : 0;
	if (rc == 0)
		rc = load_weights(d, dir, err);
	if (rc == 0)
		rc = load_validation(d, dir, err);
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

	for (i = 0; m->layers && i < m->nlayers; i++)
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

	if (o->kind == KP_GBDT) {
		json_decref(h);
		return json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:I, s:I}",
			"algorithm", "gbdt", "trees", (json_int_t)o->trees, "depth", (json_int_t)o->depth,
			"leaves", (json_int_t)o->leaves,
			"lr", kp_json_real(o->lr), "l2", kp_json_real(o->l2),
			"min_child_weight", kp_json_real(o->min_child_weight),
			"subsample", kp_json_real(o->subsample), "colsample", kp_json_real(o->colsample),
			"bins", (json_int_t)o->bins, "validation", kp_json_real(o->validation),
			"patience", (json_int_t)o->patience, "seed", (json_int_t)o->seed);
	}
	for (i = 0; i < o->nhidden; i++)
		json_array_append_new(h, json_integer((json_int_t)o->hidden[i]));
	if (o->kind == KP_LOGISTIC || o->kind == KP_SOFTMAX) {
		json_decref(h);
		if (o->solver == KP_SOLVER_LBFGS)
			return json_pack("{s:s, s:s, s:I, s:o}", "algorithm", kp_kind_name(o->kind),
				"solver", "lbfgs", "max_iterations", (json_int_t)o->epochs,
				"l2", kp_json_real(o->l2));
		h = NULL;
	}
	return json_pack("{s:s, s:I, s:o, s:o, s:I, s:o, s:I, s:o, s:o, s:I}",
		"algorithm", kp_kind_name(o->kind), "epochs", (json_int_t)o->epochs,
		"lr", kp_json_real(o->lr), "l2", kp_json_real(o->l2),
		"batch_size", (json_int_t)o->batch, "validation", kp_json_real(o->validation),
		"patience", (json_int_t)o->patience, "tol", kp_json_real(o->tol), "hidden", h ? h : json_array(), "seed", (json_int_t)o->seed);
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
	if (m->forest)
		json_object_set_new(j, "trees", json_integer((json_int_t)m->forest->ntrees));
	json_object_set_new(j, "classes", cl);
	json_object_set_new(j, "hyperparameters", hyper_json(o));
	json_object_set_new(j, "weighted", json_boolean(d->w.data != NULL));
	json_object_set_new(j, "train_rows", json_integer((json_int_t)d->X.shape[0]));
	json_object_set_new(j, "best_epoch", json_integer(h->best_epoch));
	json_object_set_new(j, "transform", d->transform ? json_incref(d->transform) : json_null());
	return j;
}

/* history.json; for gbdt each "epoch" is a boosting round, validated by its loss. */
static json_t *
history_json(const struct kp_history *h, int classification, int gbdt)
{
	json_t *j = json_object(), *ep = json_array();
	size_t i;

	for (i = 0; i < h->n; i++)
		json_array_append_new(ep, json_pack("{s:I, s:o, s:o}", "epoch", (json_int_t)(i + 1),
			"loss", kp_json_real(h->loss[i]), "val", kp_json_real(h->val[i])));
	json_object_set_new(j, "epochs", ep);
	json_object_set_new(j, "best_epoch", json_integer(h->best_epoch));
	json_object_set_new(j, "val_metric", json_string(gbdt && classification ? "log_loss" :
		classification ? "accuracy" : "mse"));
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
	json_t *mj = model_json(m, o, d, h), *hj = history_json(h, m->classification, m->forest != NULL);
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

/* Train the algorithm o names on d. */
static int
fit(struct kp_model *m, const struct kp_fit_opts *o, const struct data *d,
	struct kp_history *h, kiln_ctx *ctx, char *err)
{
	int cls = d->y.dtype == KP_I64;
	struct kp_rows val = { d->Xv.data, d->Xv.shape[0], cls ? d->yv.data : NULL,
		cls ? NULL : d->yv.data };

	if (o->kind == KP_GBDT)
		return kp_gbdt_fit(m, o, d->X.data, d->X.shape[0], d->X.shape[1],
			cls ? d->y.data : NULL, cls ? NULL : d->y.data, cls ? d->nclasses : 0,
			d->Xv.data ? &val : NULL, h, progress, ctx, err);
	return kp_fit(m, o, d->X.data, d->X.shape[0], d->X.shape[1], cls ? d->y.data : NULL,
		cls ? NULL : d->y.data, cls ? d->nclasses : 0, h, progress, ctx, err);
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
	int rc;

	if (options(ctx, &o) < 0 || kp_input(ctx, "features", &dir) < 0 || open_checkpoint(ctx, &o, &res) < 0)
		return -1;
	o.threads = kiln_threads(ctx) > 0 ? kiln_threads(ctx) : 1;
	kiln_log(ctx, "OpenBLAS %s kernels, %s, %d training thread(s)", openblas_get_corename(),
		kp_gemm_available() ? "the MLP's and Adam's products by kiln's AVX2/FMA kernel" :
		"no AVX2/FMA: every product by OpenBLAS", o.threads);
	t0 = seconds();
	if (load_data(&d, dir, err) < 0 || finite_inputs(&d, err) < 0) {
		data_release(&d);
		return kiln_fail(ctx, "%s", err);
	}
	kiln_log(ctx, "loaded and checked the features in %.3f s", seconds() - t0);
	o.weights = d.w.data;
	if (isnan(o.l2))
		o.l2 = 1.0 / (double)d.X.shape[0];
	t0 = seconds();
	rc = fit(&m, &o, &d, &h, ctx, err);
	t0 = seconds() - t0;
	if (res.ck.resumed_epoch)
		kiln_log(ctx, "resumed from the checkpoint at epoch %d of %d", res.ck.resumed_epoch, o.epochs);
	free(res.path);
	free(res.data);
	/* The log is not an output, so the clock may appear in it. */
	if (rc == 0 && m.forest)
		kiln_log(ctx, "trained %zu x %zu in %.3f s: %zu trees (best round %d of %zu)%s",
			d.X.shape[0], d.X.shape[1], t0, m.forest->ntrees, h.best_epoch, h.n,
			d.Xv.data ? ", early stopping on X_val.npy" : o.validation > 0 ?
			", early stopping on a hold-out of the training rows" : "");
	else if (rc == 0 && o.solver == KP_SOLVER_LBFGS)
		kiln_log(ctx, "L-BFGS: %zu iterations, %s (l2 %g)", h.n,
			h.converged ? "converged" : "stopped at the iteration limit (epochs)", o.l2);
	if (rc == 0 && !m.forest)
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

/* The product kernels and OpenBLAS's choose the last bits: part of the key. */
KILN_PLUGIN_MACHINE_EXPORT(void)
{
	return kp_machine();
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "train",
	.version = "1.0",
	.summary = "trains ridge, logistic, softmax and MLP models on OpenBLAS, and gradient-boosted trees",
	.check = check,
	.run = run,
};
