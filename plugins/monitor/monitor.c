/*
 * The monitor plugin: a model, usually the deployed one, scored on fresh
 * labelled data that grows over time — a folder or a glob of CSV files, one
 * batch per file, in name order. Each row goes through the transform the
 * model was trained with (model.json's "transform"), as kiln-serve applies
 * it, so the score is what the served model would have got.
 *
 * metrics.json records each batch (file, rows, accuracy or rmse) and the
 * latest batch's score as the metric `accuracy` (or `rmse`), with
 * `accuracy_all` over every row and `batch_NNN_accuracy` per batch, so
 * `kiln exp show` and `kiln report` chart it. The step fails when the
 * latest batch is below min.accuracy (or above max.rmse): the model no
 * longer does what it did. With an input `beat` (another model, the one
 * deployed: the champion), both are scored on the same rows and the step
 * fails unless this one (the challenger) does better over all of them.
 * With below.accuracy the check is turned around, a trigger: the step
 * succeeds only when the latest batch fell below, so what depends on it
 * (retraining) runs only then. No batch yet: nothing to judge (a trigger
 * fails).
 */
#include <cblas.h>
#include <dirent.h>
#include <jansson.h>
#include <kiln/plugin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/csv.h"
#include "../lib/json.h"
#include "../lib/machine.h"
#include "../lib/model.h"
#include "../lib/param.h"
#include "../lib/util.h"

static const char *const params[] = { "below", "max", "min", NULL };

/* One model input: a raw column, scaled or one-hot. */
struct input {
	const char *source;
	const char *value;	/* one-hot category, or NULL */
	double center, scale;
};

/* One model and the transform it was trained with. */
struct scorer {
	const char *input;	/* its input's name, for messages */
	struct kp_model m;
	json_t *mj;		/* model.json */
	const char *label;
	struct input *in;
	size_t nin;
	double hits, err2;	/* over every row so far */
};

struct mon {
	kiln_ctx *ctx;
	struct scorer model;
	struct scorer champion;	/* with beat: the model to beat on the same rows */
	int beat;
	json_t *batches;	/* the batches' records */
	size_t all_rows;
};

static int
check_table(kiln_ctx *ctx, const char *what, const char *metric)
{
	const kiln_value *v = kiln_param(ctx, what);
	size_t i;

	if (!v)
		return 0;
	if (kiln_value_type(v) != KILN_MAP)
		return kiln_fail(ctx, "param '%s': expected a table { %s = N }", what, metric);
	for (i = 0; i < kiln_value_len(v); i++) {
		const kiln_value *x = kiln_value_at(v, i);

		if (strcmp(kiln_value_key(v, i), metric) != 0)
			return kiln_fail(ctx, "param '%s': unknown metric '%s' (a monitor checks %s.%s)", what,
				kiln_value_key(v, i), what, metric);
		if (kiln_value_type(x) != KILN_INT && kiln_value_type(x) != KILN_NUMBER)
			return kiln_fail(ctx, "param '%s.%s': expected a number", what, metric);
	}
	return 0;
}

static int
check(kiln_ctx *ctx)
{
	if (kp_known(ctx, params) < 0 || check_table(ctx, "min", "accuracy") < 0 ||
	    check_table(ctx, "max", "rmse") < 0 || check_table(ctx, "below", "accuracy") < 0)
		return -1;
	if (!kiln_input(ctx, "model") || !kiln_input(ctx, "data"))
		return kiln_fail(ctx, "inputs 'model' and 'data' are required");
	return 0;
}

/* The model of input `input`, and the transform it was trained with. */
static int
load_scorer(kiln_ctx *ctx, struct scorer *sc, const char *input)
{
	const char *dir = kiln_input(ctx, input);
	char err[KP_ERRLEN], *p = kp_join(dir, "model.json");
	const json_t *t, *cols, *c;
	size_t i;

	sc->input = input;
	sc->mj = kp_json_read(p, err);
	free(p);
	if (!sc->mj || kp_model_load_dir(&sc->m, dir, err) < 0)
		return kiln_fail(ctx, "input '%s': %s", input, err);
	t = json_object_get(sc->mj, "transform");
	cols = json_object_get(t, "columns");
	sc->label = json_string_value(json_object_get(t, "label"));
	if (!sc->label || !json_is_array(cols) || json_array_size(cols) != kp_model_inputs(&sc->m))
		return kiln_fail(ctx, "input '%s': its model.json has no transform from a features "
			"target (a label and a column per input): a monitor reads raw CSV columns", input);
	sc->nin = json_array_size(cols);
	sc->in = kp_xcalloc(sc->nin, sizeof(*sc->in));
	json_array_foreach(cols, i, c) {
		sc->in[i].source = json_string_value(json_object_get(c, "source"));
		sc->in[i].value = json_string_value(json_object_get(c, "value"));
		sc->in[i].center = json_number_value(json_object_get(c, "center"));
		sc->in[i].scale = json_number_value(json_object_get(c, "scale"));
		if (!sc->in[i].source)
			return kiln_fail(ctx, "input '%s': transform column %zu has no source", input, i + 1);
		if (!(sc->in[i].scale != 0))
			sc->in[i].scale = 1;
	}
	return 0;
}

static void
scorer_release(struct scorer *sc)
{
	json_decref(sc->mj);
	free(sc->in);
	if (sc->m.layers || sc->m.forest)
		kp_model_release(&sc->m);
}

/* One cell as a number: true/false as 1/0, as the features were read. */
static int
cell_number(kiln_ctx *ctx, const char *file, const struct kp_csv *t, size_t r, size_t c, double *x)
{
	const char *s = kp_csv_cell(t, r, c);

	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		*x = s[0] == 't';
		return 0;
	}
	if (kp_parse_number(s, x) < 0)
		return kiln_fail(ctx, "%s: column '%s' row %zu: '%s' is not a number", file,
			t->header[c], r + 1, s);
	return 0;
}

/* The model's inputs for every row of t into x (rows x nin). */
static int
inputs(kiln_ctx *ctx, const struct scorer *sc, const char *file, const struct kp_csv *t, float *x)
{
	size_t k, r;

	for (k = 0; k < sc->nin; k++) {
		long c = kp_csv_col(t, sc->in[k].source);

		if (c < 0)
			return kiln_fail(ctx, "%s: missing column '%s', which the model takes", file,
				sc->in[k].source);
		for (r = 0; r < t->nrows; r++) {
			double v;

			if (sc->in[k].value) {
				x[r * sc->nin + k] = strcmp(kp_csv_cell(t, r, (size_t)c), sc->in[k].value) == 0;
				continue;
			}
			if (cell_number(ctx, file, t, r, (size_t)c, &v) < 0)
				return -1;
			x[r * sc->nin + k] = (float)((v - sc->in[k].center) / sc->in[k].scale);
		}
	}
	return 0;
}

/* Score one batch with sc: its accuracy (or rmse) into *score, its sums added to sc's. */
static int
score(kiln_ctx *ctx, struct scorer *sc, const char *file, const struct kp_csv *t, double *score)
{
	long lc = kp_csv_col(t, sc->label);
	float *x = kp_xcalloc(t->nrows * sc->nin + 1, sizeof(float));
	float *out = kp_xcalloc(t->nrows * (sc->m.nclasses ? sc->m.nclasses : 1) + 1, sizeof(float));
	int64_t *pred = kp_xcalloc(t->nrows + 1, sizeof(int64_t));
	double hits = 0, err2 = 0, y;
	size_t r, k;
	int rc = -1;

	if (lc < 0) {
		kiln_fail(ctx, "%s: missing the label column '%s'", file, sc->label);
		goto out;
	}
	if (inputs(ctx, sc, file, t, x) < 0)
		goto out;
	kp_model_predict(&sc->m, x, t->nrows, pred, out);
	for (r = 0; r < t->nrows; r++) {
		const char *cell = kp_csv_cell(t, r, (size_t)lc);

		if (!sc->m.classification) {
			if (cell_number(ctx, file, t, r, (size_t)lc, &y) < 0)
				goto out;
			err2 += (out[r] - y) * (out[r] - y);
			continue;
		}
		for (k = 0; k < sc->m.nclasses && strcmp(sc->m.classes[k], cell) != 0; k++)
			;
		if (k == sc->m.nclasses) {
			kiln_fail(ctx, "%s: label column '%s' row %zu: class '%s' is not one of the model's %zu",
				file, sc->label, r + 1, cell, sc->m.nclasses);
			goto out;
		}
		hits += pred[r] == (int64_t)k;
	}
	sc->hits += hits;
	sc->err2 += err2;
	*score = sc->m.classification ? hits / (double)t->nrows : sqrt(err2 / (double)t->nrows);
	rc = 0;
out:
	free(x);
	free(out);
	free(pred);
	return rc;
}

/* One batch: scored by the model (and the champion), its record into mo->batches. */
static int
batch(struct mon *mo, const char *file, const struct kp_csv *t)
{
	const char *name = mo->model.m.classification ? "accuracy" : "rmse";
	double v, c = 0;
	json_t *rec;

	if (score(mo->ctx, &mo->model, file, t, &v) < 0 ||
	    (mo->beat && score(mo->ctx, &mo->champion, file, t, &c) < 0))
		return -1;
	mo->all_rows += t->nrows;
	rec = json_pack("{s:s, s:I, s:o}", "file", file, "rows", (json_int_t)t->nrows, name, kp_json_real(v));
	if (mo->beat)
		json_object_set_new(rec, mo->model.m.classification ? "champion_accuracy" : "champion_rmse",
			kp_json_real(c));
	json_array_append_new(mo->batches, rec);
	return 0;
}

/* The score of sc over every row so far. */
static double
overall(const struct scorer *sc, size_t rows)
{
	return sc->m.classification ? sc->hits / (double)rows : sqrt(sc->err2 / (double)rows);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The batch files: a folder's *.csv, or the glob's files (kiln gives them space-separated), sorted. */
static size_t
batch_files(const char *in, char ***out)
{
	struct stat sb;
	char **v = NULL, *copy, *tok, *save = NULL;
	size_t n = 0;

	if (stat(in, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(in);
		struct dirent *e;
		size_t len;

		while (d && (e = readdir(d))) {
			len = strlen(e->d_name);
			if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".csv") != 0)
				continue;
			v = kp_xrealloc(v, n + 1, sizeof(char *));
			v[n++] = kp_join(in, e->d_name);
		}
		if (d)
			closedir(d);
	} else {
		copy = kp_xstrdup(in);
		for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			v = kp_xrealloc(v, n + 1, sizeof(char *));
			v[n++] = kp_xstrdup(tok);
		}
		free(copy);
	}
	if (n)
		qsort(v, n, sizeof(char *), cmp_str);
	*out = v;
	return n;
}

/* The latest batch against the limits; a message into msg when it fails. */
static int
judge(struct mon *mo, const json_t *last, char *msg, size_t len)
{
	const char *file = json_string_value(json_object_get(last, "file"));
	double v, lim;

	if (kiln_param(mo->ctx, "below")) {
		v = json_number_value(json_object_get(last, "accuracy"));
		lim = kiln_value_number(kiln_value_get(kiln_param(mo->ctx, "below"), "accuracy"), -INFINITY);
		if (!(v < lim))
			snprintf(msg, len, "accuracy %.4g on the latest batch (%s) is not below %g: it holds, "
				"nothing to retrain", v, file, lim);
		return *msg ? -1 : 0;
	}
	if (mo->model.m.classification) {
		v = json_number_value(json_object_get(last, "accuracy"));
		lim = kiln_value_number(kiln_value_get(kiln_param(mo->ctx, "min"), "accuracy"), -INFINITY);
		if (v < lim)
			snprintf(msg, len, "accuracy %.4g on the latest batch (%s, %lld rows) is below the minimum %g",
				v, file, (long long)json_integer_value(json_object_get(last, "rows")), lim);
	} else {
		v = json_number_value(json_object_get(last, "rmse"));
		lim = kiln_value_number(kiln_value_get(kiln_param(mo->ctx, "max"), "rmse"), INFINITY);
		if (v > lim)
			snprintf(msg, len, "rmse %.4g on the latest batch (%s, %lld rows) is above the maximum %g",
				v, file, (long long)json_integer_value(json_object_get(last, "rows")), lim);
	}
	if (!*msg && mo->beat) {
		double a = overall(&mo->model, mo->all_rows), b = overall(&mo->champion, mo->all_rows);
		int cls = mo->model.m.classification;

		if (cls ? !(a > b) : !(a < b))
			snprintf(msg, len, "the model does not beat the champion (input 'beat') on the same %zu rows: "
				"%s %.4g against the champion's %.4g", mo->all_rows, cls ? "accuracy" : "rmse", a, b);
	}
	return *msg ? -1 : 0;
}

/* metrics.json and the metrics: per batch, the latest, over all (and the champion's). */
static json_t *
report(struct mon *mo)
{
	const char *name = mo->model.m.classification ? "accuracy" : "rmse";
	const json_t *b, *last = json_array_get(mo->batches, json_array_size(mo->batches) - 1);
	double all = overall(&mo->model, mo->all_rows);
	char metric[64], champ[64];
	json_t *j;
	size_t i;

	json_array_foreach(mo->batches, i, b) {
		snprintf(metric, sizeof(metric), "batch_%03zu_%s", i + 1, name);
		kiln_metric(mo->ctx, metric, json_number_value(json_object_get(b, name)));
	}
	kiln_metric(mo->ctx, name, json_number_value(json_object_get(last, name)));
	snprintf(metric, sizeof(metric), "%s_all", name);
	kiln_metric(mo->ctx, metric, all);
	kiln_metric(mo->ctx, "rows", (double)mo->all_rows);
	kiln_metric(mo->ctx, "batches", (double)json_array_size(mo->batches));
	j = json_pack("{s:s, s:O, s:O, s:o, s:I}", "format", "kiln-monitor/1", "batches", mo->batches,
		name, json_object_get(last, name), metric, kp_json_real(all), "rows", (json_int_t)mo->all_rows);
	if (mo->beat) {
		snprintf(champ, sizeof(champ), "champion_%s_all", name);
		kiln_metric(mo->ctx, champ, overall(&mo->champion, mo->all_rows));
		json_object_set_new(j, champ, kp_json_real(overall(&mo->champion, mo->all_rows)));
	}
	return j;
}

static int
batches(struct mon *mo)
{
	char **files, err[KP_ERRLEN];
	size_t n = batch_files(kiln_input(mo->ctx, "data"), &files), i;
	int rc = 0;

	/* No batch yet: nothing to judge, except for a trigger, which has nothing to go on. */
	if (n == 0 && kiln_param(mo->ctx, "below"))
		rc = kiln_fail(mo->ctx, "input 'data': no CSV files in %s: no feedback to retrain on",
			kiln_input(mo->ctx, "data"));
	for (i = 0; rc == 0 && i < n; i++) {
		struct kp_csv t = {0};

		if (kp_csv_read(&t, files[i], err) < 0)
			rc = kiln_fail(mo->ctx, "%s", err);
		else if (t.nrows == 0)
			rc = kiln_fail(mo->ctx, "%s: no data rows", files[i]);
		else
			rc = batch(mo, files[i], &t);
		kp_csv_release(&t);
	}
	kp_strings_free(files, n);
	return rc;
}

static int
run(kiln_ctx *ctx)
{
	struct mon mo = {.ctx = ctx};
	char err[KP_ERRLEN], msg[512] = "", *p, *s;
	json_t *j = NULL;
	int rc = -1;

	/* One thread: the last bits of a product would change with the count. */
	openblas_set_num_threads(1);
	mo.batches = json_array();
	mo.beat = kiln_input(ctx, "beat") != NULL;
	if (check(ctx) < 0 || load_scorer(ctx, &mo.model, "model") < 0 ||
	    (mo.beat && load_scorer(ctx, &mo.champion, "beat") < 0) || batches(&mo) < 0)
		goto out;
	if (json_array_size(mo.batches) == 0) {
		kiln_metric(ctx, "batches", 0);
		j = json_pack("{s:s, s:O, s:i}", "format", "kiln-monitor/1", "batches", mo.batches, "rows", 0);
	} else {
		j = report(&mo);
		judge(&mo, json_array_get(mo.batches, json_array_size(mo.batches) - 1), msg, sizeof(msg));
	}
	json_object_set_new(j, "passed", json_boolean(!*msg));
	if (*msg) {
		s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
		kiln_log(ctx, "the monitor failed; its metrics.json, which is not kept as an output:\n%s", s ? s : "?");
		free(s);
		kiln_fail(ctx, "%s", msg);
		goto out;
	}
	p = kp_join(kiln_output_dir(ctx), "metrics.json");
	rc = kp_json_write(p, j, err) < 0 ? kiln_fail(ctx, "%s", err) : 0;
	free(p);
out:
	json_decref(j);
	json_decref(mo.batches);
	scorer_release(&mo.model);
	scorer_release(&mo.champion);
	return rc;
}

/* The product kernels and OpenBLAS's choose the last bits: part of the key. */
KILN_PLUGIN_MACHINE_EXPORT(void)
{
	return kp_machine();
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "monitor",
	.version = "1.0",
	.summary = "a model scored on fresh labelled CSV batches through its own transform; fails below a limit",
	.check = check,
	.run = run,
};
