/*
 * The test plugin: evaluates a trained model on the test split of its
 * features, writes metrics.json, records the metrics, and fails the build
 * when a metric or a fairness measure crosses a limit of the rule.
 */
#include <cblas.h>
#include <jansson.h>
#include <kiln/plugin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../lib/curves.h"
#include "../lib/json.h"
#include "../lib/machine.h"
#include "../lib/metrics.h"
#include "../lib/model.h"
#include "../lib/npy.h"
#include "../lib/param.h"
#include "../lib/util.h"

static const char *const params[] = { "fairness", "max", "min", "warn", NULL };
static const char *const metric_names[] = { "accuracy", "precision_macro", "recall_macro",
	"f1_macro", "roc_auc", "log_loss", "rmse", "mae", "r2", NULL };
static const char *const fairness_names[] = { "max_demographic_parity_diff",
	"max_equal_opportunity_diff", "max_gap", NULL };

static int
known(const char *const *names, const char *s)
{
	size_t i;

	for (i = 0; names[i]; i++)
		if (strcmp(names[i], s) == 0)
			return 1;
	return 0;
}

/* A table of metric = number, every metric one kiln computes. */
static int
check_limits(kiln_ctx *ctx, const kiln_value *v, const char *what,
	const char *const *names)
{
	size_t i;
	double x;
	char path[128];

	if (!v)
		return 0;
	if (kiln_value_type(v) != KILN_MAP)
		return kiln_fail(ctx, "param '%s': expected a table", what);
	for (i = 0; i < kiln_value_len(v); i++) {
		const char *k = kiln_value_key(v, i) ? kiln_value_key(v, i) : "";

		snprintf(path, sizeof(path), "%s.%s", what, k);
		if (!known(names, k))
			return kiln_fail(ctx, "param '%s': unknown metric '%s'", what, k);
		if (strcmp(k, "max_gap") == 0) {
			if (check_limits(ctx, kiln_value_at(v, i), path, (const char *const[]){
				"accuracy", "selection_rate", "true_positive_rate", NULL }) < 0)
				return -1;
		} else if (kp_number_in(ctx, kiln_value_at(v, i), path, 0, -1e300, 1e300, &x) < 0) {
			return -1;
		}
	}
	return 0;
}

/* warn = { min = {...}, max = {...} }: limits that warn instead of failing. */
static int
check_warn(kiln_ctx *ctx)
{
	const kiln_value *w = kiln_param(ctx, "warn");
	size_t i;

	if (!w)
		return 0;
	if (kiln_value_type(w) != KILN_MAP)
		return kiln_fail(ctx, "param 'warn': expected a table { min = {...}, max = {...} }");
	for (i = 0; i < kiln_value_len(w); i++)
		if (strcmp(kiln_value_key(w, i), "min") != 0 && strcmp(kiln_value_key(w, i), "max") != 0)
			return kiln_fail(ctx, "param 'warn': unknown field '%s' (min, max)", kiln_value_key(w, i));
	return check_limits(ctx, kiln_value_get(w, "min"), "warn.min", metric_names) < 0 ||
	    check_limits(ctx, kiln_value_get(w, "max"), "warn.max", metric_names) < 0 ? -1 : 0;
}

static int
check(kiln_ctx *ctx)
{
	if (kp_known(ctx, params) < 0 || check_warn(ctx) < 0 ||
	    check_limits(ctx, kiln_param(ctx, "min"), "min", metric_names) < 0 ||
	    check_limits(ctx, kiln_param(ctx, "max"), "max", metric_names) < 0 ||
	    check_limits(ctx, kiln_param(ctx, "fairness"), "fairness", fairness_names) < 0)
		return -1;
	if (!kiln_input(ctx, "model") || !kiln_input(ctx, "features"))
		return kiln_fail(ctx, "needs inputs 'model' and 'features'");
	return 0;
}

/* What the test evaluates on. */
struct eval {
	struct kp_model m;
	struct kp_array X, y, group;
	char **groups;
	size_t ngroups;
};

static void
eval_release(struct eval *e)
{
	if (e->m.layers || e->m.forest)
		kp_model_release(&e->m);
	kp_array_release(&e->X);
	kp_array_release(&e->y);
	kp_array_release(&e->group);
	kp_strings_free(e->groups, e->ngroups);
}

static int
load_group(struct eval *e, const char *dir, char *err)
{
	char *gp = kp_join(dir, "group_test.npy"), *tp = kp_join(dir, "transform.json");
	json_t *t = NULL;
	int rc = 0;
	size_t i;

	if (access(gp, F_OK) != 0)
		goto out;
	rc = -1;
	if (kp_npy_read(gp, &e->group, err) < 0 || !(t = kp_json_read(tp, err)) ||
	    kp_json_strings(t, "groups", &e->groups, &e->ngroups, tp, err) < 0)
		goto out;
	if (e->group.dtype != KP_I64 || e->group.ndim != 1 || e->group.shape[0] != e->y.shape[0]) {
		kp_errf(err, "%s: expected %zu int64 group indices", gp, e->y.shape[0]);
		goto out;
	}
	for (i = 0; i < e->group.shape[0]; i++)
		if (((int64_t *)e->group.data)[i] < 0 ||
		    (size_t)((int64_t *)e->group.data)[i] >= e->ngroups) {
			kp_errf(err, "%s: row %zu: group index out of range", gp, i + 1);
			goto out;
		}
	rc = 0;
out:
	json_decref(t);
	free(gp);
	free(tp);
	return rc;
}

static int
check_labels(struct eval *e, const char *yp, const char *split, char *err)
{
	size_t i;

	if (e->y.ndim != 1 || e->y.shape[0] != e->X.shape[0])
		return kp_errf(err, "%s: expected %zu labels to match X_%s's rows", yp,
			e->X.shape[0], split);
	if (e->m.classification != (e->y.dtype == KP_I64))
		return kp_errf(err, "%s: the model is a %s but the labels are %s", yp,
			e->m.classification ? "classifier" : "regression",
			e->y.dtype == KP_I64 ? "classes" : "values");
	for (i = 0; e->m.classification && i < e->y.shape[0]; i++)
		if (((int64_t *)e->y.data)[i] < 0 ||
		    (size_t)((int64_t *)e->y.data)[i] >= e->m.nclasses)
			return kp_errf(err, "%s: row %zu: class %lld is not one of the model's %zu",
				yp, i + 1, (long long)((int64_t *)e->y.data)[i], e->m.nclasses);
	return 0;
}

/* The model and the features' split ("test" or "val": X_test.npy, y_test.npy, ...). */
static int
load(struct eval *e, const char *mdir, const char *fdir, const char *split, char *err)
{
	char name[32], *xp, *yp;
	int rc = -1;

	snprintf(name, sizeof(name), "X_%s.npy", split);
	xp = kp_join(fdir, name);
	snprintf(name, sizeof(name), "y_%s.npy", split);
	yp = kp_join(fdir, name);

	memset(e, 0, sizeof(*e));
	if (kp_model_load_dir(&e->m, mdir, err) < 0 || kp_npy_read(xp, &e->X, err) < 0 ||
	    kp_npy_read(yp, &e->y, err) < 0)
		goto out;
	if (e->X.dtype != KP_F32 || e->X.ndim != 2 ||
	    e->X.shape[1] != kp_model_inputs(&e->m) || e->X.shape[0] == 0) {
		kp_errf(err, "%s: expected a float32 matrix of %zu columns (the model's inputs), got (%zu, %zu)",
			xp, kp_model_inputs(&e->m), e->X.shape[0], e->X.shape[1]);
		goto out;
	}
	if (check_labels(e, yp, split, err) < 0 ||
	    (strcmp(split, "test") == 0 && load_group(e, fdir, err) < 0))
		goto out;
	rc = 0;
out:
	free(xp);
	free(yp);
	return rc;
}

/* A curve for curves.json, at most CURVE_POINTS points (kp_curve_json). */
#define CURVE_POINTS 2000

/* ROC, precision-recall and calibration of class c against the rest. */
static json_t *
class_curves(const struct eval *e, const float *probs, size_t c)
{
	size_t n = e->X.shape[0], k = e->m.nclasses, i;
	unsigned char *pos = kp_xmalloc(n);
	float *score = kp_xmallocarray(n, sizeof(float));
	json_t *j = json_object();
	struct kp_curve cv;

	for (i = 0; i < n; i++) {
		pos[i] = ((const int64_t *)e->y.data)[i] == (int64_t)c;
		score[i] = probs[i * k + c];
	}
	if (kp_roc_curve(pos, score, n, &cv) == 0) {
		json_object_set_new(j, "roc", kp_curve_json(&cv, "fpr", "tpr", "thresholds", CURVE_POINTS));
		kp_curve_release(&cv);
	}
	if (kp_pr_curve(pos, score, n, &cv) == 0) {
		json_object_set_new(j, "pr", kp_curve_json(&cv, "recall", "precision", "thresholds", CURVE_POINTS));
		kp_curve_release(&cv);
	}
	if (kp_calibration_curve(pos, score, n, 10, &cv) == 0) {
		json_object_set_new(j, "calibration", kp_curve_json(&cv, "prob_pred", "prob_true", "rows", CURVE_POINTS));
		kp_curve_release(&cv);
	}
	free(pos);
	free(score);
	return j;
}

/*
 * curves.json: for a probabilistic classifier the curves of class 1
 * (two classes) or of each class against the rest; for a regression the
 * true and predicted values (at most CURVE_POINTS, evenly spaced rows).
 */
static json_t *
curves(const struct eval *e, const float *probs)
{
	size_t n = e->X.shape[0], c, i, keep = n > CURVE_POINTS ? CURVE_POINTS : n;
	json_t *j = json_object(), *per;

	json_object_set_new(j, "task", json_string(e->m.classification ? "classification" : "regression"));
	if (!e->m.classification) {
		json_t *yt = json_array(), *yp = json_array();

		for (i = 0; i < keep; i++) {
			size_t r = keep == n ? i : i * (n - 1) / (keep - 1);

			json_array_append_new(yt, kp_json_real(((const float *)e->y.data)[r]));
			json_array_append_new(yp, kp_json_real(probs[r]));
		}
		json_object_set_new(j, "y_true", yt);
		json_object_set_new(j, "y_pred", yp);
		json_object_set_new(j, "rows", json_integer((json_int_t)n));
		return j;
	}
	per = json_object();
	for (c = e->m.nclasses == 2 ? 1 : 0; kp_model_probabilistic(&e->m) && c < e->m.nclasses; c++)
		json_object_set_new(per, e->m.classes[c], class_curves(e, probs, c));
	json_object_set_new(j, "classes", per);
	return j;
}

/* Evaluate; returns the metrics.json object and sets *cv to curves.json's. */
static json_t *
evaluate(struct eval *e, json_t **cv)
{
	size_t n = e->X.shape[0], k = e->m.nclasses ? e->m.nclasses : 1;
	int64_t *pred = kp_xcalloc(n, sizeof(int64_t));
	float *probs = kp_xcalloc(n, k * sizeof(float));
	json_t *j = json_object(), *m;

	kp_model_predict(&e->m, e->X.data, n, pred, probs);
	if (e->m.classification)
		m = kp_metrics_classification(e->y.data, pred,
			kp_model_probabilistic(&e->m) ? probs : NULL, n, e->m.nclasses,
			e->m.classes);
	else
		m = kp_metrics_regression(e->y.data, probs, n);
	json_object_set_new(j, "task", json_string(e->m.classification ? "classification" : "regression"));
	json_object_set_new(j, "metrics", m);
	if (e->groups && e->m.classification)
		json_object_set_new(j, "fairness", kp_metrics_fairness(e->y.data, pred,
			e->group.data, n, e->m.nclasses, e->groups, e->ngroups));
	*cv = curves(e, probs);
	free(pred);
	free(probs);
	return j;
}

/*
 * Compare one value with its limit; append a violation to msg. A warning
 * limit (warn set) is checked and listed the same way, as kind "warn_min"
 * or "warn_max"; its caller warns instead of failing.
 */
static int
limit(kiln_ctx *ctx, json_t *value, const char *name, double lim, int is_min, int warn,
	json_t *checks, char *msg, size_t cap)
{
	static const char *const kinds[2][2] = { { "max", "min" }, { "warn_max", "warn_min" } };
	size_t len = strlen(msg);
	double v;
	int ok;

	if (!json_is_number(value))
		return kiln_fail(ctx, "metric '%s' is not computed for this model%s", name, json_is_null(value) ? " (undefined on this data)" :
			" (ROC-AUC and log loss need a probabilistic classifier; roc_auc needs 2 classes; fairness needs a group)");
	v = json_number_value(value);
	ok = is_min ? v >= lim : v <= lim;
	json_array_append_new(checks, json_pack("{s:s, s:s, s:o, s:o, s:b}", "metric", name,
		"kind", kinds[warn][is_min], "limit", kp_json_real(lim),
		"value", kp_json_real(v), "passed", ok));
	if (!ok)
		snprintf(msg + len, cap - len, "%s%s %.4f is %s the %s%s %g", len ? "; " : "",
			name, v, is_min ? "below" : "above", warn ? "warning " : "",
			is_min ? "minimum" : "maximum", lim);
	return 0;
}

/* Check a table of metric = limit (lowest when is_min) against metrics m. */
static int
bounds(kiln_ctx *ctx, json_t *m, const kiln_value *t, int is_min, int warn, json_t *checks,
	char *msg, size_t cap)
{
	size_t i;

	for (i = 0; i < kiln_value_len(t); i++)
		if (limit(ctx, json_object_get(m, kiln_value_key(t, i)), kiln_value_key(t, i),
		    kiln_value_number(kiln_value_at(t, i), 0), is_min, warn, checks, msg, cap) < 0)
			return -1;
	return 0;
}

/*
 * Check every min/max limit against metrics m, fairness limits against f,
 * and the warn limits, whose crossings go to wmsg (cap bytes too).
 */
static int
limits(kiln_ctx *ctx, json_t *j, json_t *checks, char *msg, char *wmsg, size_t cap)
{
	json_t *m = json_object_get(j, "metrics"), *f = json_object_get(j, "fairness");
	const kiln_value *fa = kiln_param(ctx, "fairness"), *gap = kiln_value_get(fa, "max_gap"),
		*w = kiln_param(ctx, "warn");
	char name[128];
	size_t i;

	if (bounds(ctx, m, kiln_param(ctx, "min"), 1, 0, checks, msg, cap) < 0 ||
	    bounds(ctx, m, kiln_param(ctx, "max"), 0, 0, checks, msg, cap) < 0 ||
	    bounds(ctx, m, kiln_value_get(w, "min"), 1, 1, checks, wmsg, cap) < 0 ||
	    bounds(ctx, m, kiln_value_get(w, "max"), 0, 1, checks, wmsg, cap) < 0)
		return -1;
	if (fa && !f)
		return kiln_fail(ctx, "fairness limits need a group: declare group = \"column\" in the features");
	for (i = 0; i < kiln_value_len(gap); i++) {
		snprintf(name, sizeof(name), "gap in %s between groups", kiln_value_key(gap, i));
		if (limit(ctx, json_object_get(json_object_get(f, "max_gap"), kiln_value_key(gap, i)),
		    name, kiln_value_number(kiln_value_at(gap, i), 0), 0, 0, checks, msg, cap) < 0)
			return -1;
	}
	if (kiln_value_get(fa, "max_demographic_parity_diff") &&
	    limit(ctx, json_object_get(f, "demographic_parity_diff"), "demographic parity difference",
		kiln_value_number(kiln_value_get(fa, "max_demographic_parity_diff"), 0), 0, 0, checks,
		msg, cap) < 0)
		return -1;
	if (kiln_value_get(fa, "max_equal_opportunity_diff") &&
	    limit(ctx, json_object_get(f, "equal_opportunity_diff"), "equal opportunity difference",
		kiln_value_number(kiln_value_get(fa, "max_equal_opportunity_diff"), 0), 0, 0, checks,
		msg, cap) < 0)
		return -1;
	return 0;
}

static void
record(kiln_ctx *ctx, json_t *j)
{
	json_t *m = json_object_get(j, "metrics"), *f = json_object_get(j, "fairness"), *v;
	const char *k;
	char name[300];

	json_object_foreach(m, k, v)
		if (json_is_real(v))
			kiln_metric(ctx, k, json_real_value(v));
	if ((v = json_object_get(json_object_get(f, "max_gap"), "accuracy")) && json_is_real(v))
		kiln_metric(ctx, "accuracy_gap", json_real_value(v));
	if ((v = json_object_get(f, "demographic_parity_diff")) && json_is_real(v))
		kiln_metric(ctx, "demographic_parity_diff", json_real_value(v));
	if ((v = json_object_get(f, "equal_opportunity_diff")) && json_is_real(v))
		kiln_metric(ctx, "equal_opportunity_diff", json_real_value(v));
	json_object_foreach(json_object_get(j, "validation"), k, v)
		if (json_is_real(v)) {
			snprintf(name, sizeof(name), "validation.%s", k);
			kiln_metric(ctx, name, json_real_value(v));
		}
}

/*
 * The metrics.json object: the test split's metrics, and with features
 * that hold a validation split (X_val.npy), its metrics as "validation".
 * NULL with err.
 */
static json_t *
measure(kiln_ctx *ctx, json_t **cv, char *err)
{
	const char *mdir = kiln_input(ctx, "model"), *fdir = kiln_input(ctx, "features");
	char *xv = kp_join(fdir, "X_val.npy");
	int has_val = access(xv, F_OK) == 0;
	struct eval e;
	json_t *j = NULL, *v, *vcv;

	free(xv);
	if (load(&e, mdir, fdir, "test", err) == 0)
		j = evaluate(&e, cv);
	eval_release(&e);
	if (!j || !has_val)
		return j;
	if (load(&e, mdir, fdir, "val", err) < 0) {
		eval_release(&e);
		json_decref(j);
		return NULL;
	}
	v = evaluate(&e, &vcv);
	eval_release(&e);
	json_object_set(j, "validation", json_object_get(v, "metrics"));
	json_decref(v);
	json_decref(vcv);
	return j;
}

/* A failed gate's outputs are not kept: its metrics.json goes to the log, to compare. */
static void
log_failed(kiln_ctx *ctx, json_t *j, json_t *cv)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9)),
		*c = json_dumps(cv, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));

	kiln_log(ctx, "the test failed; its metrics.json, which is not kept as an output:\n%s", s ? s : "?");
	/* For kiln report, which draws a failed gate's curves from here. */
	kiln_log(ctx, "its curves.json, which is not kept as an output:\n%s", c ? c : "?");
	free(s);
	free(c);
}

/* The target behind input dir, for messages: the folder's name. */
static const char *
input_name(const char *dir)
{
	const char *slash = strrchr(dir, '/');

	return slash ? slash + 1 : dir;
}

/* json_equal, but a key absent from both (NULL, NULL) is the same. */
static int
same_json(const json_t *a, const json_t *b)
{
	return (!a && !b) || json_equal(a, b);
}

/* What differs between two transforms, first difference only, into buf. */
static void
transform_diff(const json_t *a, const json_t *b, char *buf, size_t len)
{
	static const char *const keys[] = { "label", "task", "classes", NULL };
	const json_t *ca = json_object_get(a, "columns"), *cb = json_object_get(b, "columns");
	size_t i;

	for (i = 0; keys[i]; i++)
		if (!same_json(json_object_get(a, keys[i]), json_object_get(b, keys[i]))) {
			snprintf(buf, len, "their %s differ", keys[i]);
			return;
		}
	if (json_array_size(ca) != json_array_size(cb)) {
		snprintf(buf, len, "%zu input columns against %zu", json_array_size(ca), json_array_size(cb));
		return;
	}
	for (i = 0; i < json_array_size(ca); i++) {
		const json_t *x = json_array_get(ca, i), *y = json_array_get(cb, i);

		if (json_equal(x, y))
			continue;
		snprintf(buf, len, "input column %zu ('%s'): center %.6g, scale %.6g in the model's; center %.6g, "
			"scale %.6g in the features'", i + 1, json_string_value(json_object_get(x, "source")),
			json_number_value(json_object_get(x, "center")), json_number_value(json_object_get(x, "scale")),
			json_number_value(json_object_get(y, "center")), json_number_value(json_object_get(y, "scale")));
		return;
	}
	snprintf(buf, len, "they differ");
}

/*
 * The model is scored only on features made with the transform it was
 * trained with (the same columns, vocabularies, scaling and classes):
 * features refitted on other data would score it, silently, on inputs it
 * never saw. A model trained without a transform is not checked.
 */
static int
same_transform(kiln_ctx *ctx)
{
	const char *mdir = kiln_input(ctx, "model"), *fdir = kiln_input(ctx, "features");
	char err[KP_ERRLEN], why[512], *mp = kp_join(mdir, "model.json"), *fp = kp_join(fdir, "transform.json");
	json_t *mj = kp_json_read(mp, err), *ft = access(fp, F_OK) == 0 ? kp_json_read(fp, err) : NULL;
	const json_t *mt = json_object_get(mj, "transform");
	int rc = 0;

	if (json_is_object(mt) && json_is_object(ft) && (!same_json(json_object_get(mt, "columns"),
	    json_object_get(ft, "columns")) || !same_json(json_object_get(mt, "classes"),
	    json_object_get(ft, "classes")) || !same_json(json_object_get(mt, "label"), json_object_get(ft, "label")))) {
		transform_diff(mt, ft, why, sizeof(why));
		rc = kiln_fail(ctx, "the model '%s' and the features '%s' were made with different transforms (%s): "
			"score new data with the transform the model was trained with, "
			"features { data = ..., transform = \":TRAINING_FEATURES\" }", input_name(mdir),
			input_name(fdir), why);
	}
	json_decref(mj);
	json_decref(ft);
	free(mp);
	free(fp);
	return rc;
}

static int
run(kiln_ctx *ctx)
{
	char err[KP_ERRLEN], msg[2048] = "", wmsg[2048] = "", *path, *cpath;
	json_t *j, *cv = NULL, *checks;
	int rc;

	if (check(ctx) < 0 || same_transform(ctx) < 0)
		return -1;
	/* One thread: OpenBLAS's threads would change the last bits of the
	 * probabilities, and so metrics.json, with the thread count. */
	openblas_set_num_threads(1);
	if (!(j = measure(ctx, &cv, err)))
		return kiln_fail(ctx, "%s", err);
	checks = json_array();
	rc = limits(ctx, j, checks, msg, wmsg, sizeof(msg));
	json_object_set_new(j, "checks", checks);
	json_object_set_new(j, "passed", json_boolean(rc == 0 && !*msg));
	if (*wmsg)
		json_object_set_new(j, "warnings", json_string(wmsg));
	path = kp_join(kiln_output_dir(ctx), "metrics.json");
	cpath = kp_join(kiln_output_dir(ctx), "curves.json");
	if (rc == 0 && (kp_json_write(path, j, err) < 0 || kp_json_write(cpath, cv, err) < 0))
		rc = kiln_fail(ctx, "%s", err);
	if (rc == 0)
		record(ctx, j);
	if (rc == 0 && *wmsg)
		kiln_warn(ctx, "%s", wmsg);
	if (rc == 0 && *msg) {
		log_failed(ctx, j, cv);
		rc = kiln_fail(ctx, "test failed: %s", msg);
	}
	free(path);
	free(cpath);
	json_decref(j);
	json_decref(cv);
	return rc;
}

/* The product kernels and OpenBLAS's choose the last bits: part of the key. */
KILN_PLUGIN_MACHINE_EXPORT(void)
{
	return kp_machine();
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "test",
	.version = "1.0",
	.summary = "evaluates a model: metrics, thresholds and fairness gates",
	.check = check,
	.run = run,
};
