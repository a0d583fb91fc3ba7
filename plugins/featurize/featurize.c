/*
 * The featurize plugin: a CSV table to NPY matrices. Selects columns,
 * one-hot encodes categories, splits rows with a seeded (optionally
 * stratified) shuffle, and scales with statistics of the training rows only.
 *
 * With an input `transform` (another features target's outputs) it fits
 * nothing: new data gets the training features' columns, one-hot
 * vocabularies, classes and scaling, every row becomes a test row, and
 * transform.json is the training one, byte for byte (so `test` can tell a
 * model and features of the same fit from those of another).
 */
#include <jansson.h>
#include <kiln/plugin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/csv.h"
#include "../lib/json.h"
#include "../lib/npy.h"
#include "../lib/param.h"
#include "../lib/util.h"

static const char *const params[] = { "drop", "dropna", "features", "group", "label",
	"onehot", "reweigh", "scale", "split", "task", "where", NULL };
/* With a transform, what the transform does not decide: which rows, and checks against it. */
static const char *const apply_params[] = { "dropna", "group", "label", "where", NULL };
static const char *const scales[] = { "standard", "minmax", "none", NULL };
static const char *const tasks[] = { "classification", "regression", NULL };

/* One output column: a scaled numeric source or a one-hot indicator. */
struct column {
	size_t src;		/* CSV column */
	const char *value;	/* one-hot value, or NULL for numeric */
	double center, scale;
};

struct feat {
	kiln_ctx *ctx;
	const char *path;	/* the CSV, for messages */
	struct kp_csv t;
	long label, group;
	size_t *rows;		/* kept CSV rows */
	size_t nrows;
	size_t *train, *test, *val;	/* positions in rows */
	size_t ntrain, ntest, nval;
	double valfrac;		/* split.validation, 0 for none */
	int regression;
	char **classes;		/* sorted class names */
	size_t nclasses;
	int64_t *cls;		/* class of each kept row */
	double *num;		/* nrows x ncols numeric values, NAN when not numeric */
	struct column *cols;
	size_t ncols;
	char **groups;
	size_t ngroups;
};

static int
fail(struct feat *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct feat *f, const char *fmt, ...)
{
	char msg[KP_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kiln_fail(f->ctx, "%s: %s", f->path, msg);
}

static int
in_list(const kiln_value *l, const char *s)
{
	size_t i;

	for (i = 0; i < kiln_value_len(l); i++)
		if (strcmp(kiln_value_string(kiln_value_at(l, i), ""), s) == 0)
			return 1;
	return 0;
}

static int
check_split(kiln_ctx *ctx)
{
	const kiln_value *s = kiln_param(ctx, "split");
	double x, v = 0;
	size_t i;

	if (!s)
		return 0;
	if (kiln_value_type(s) != KILN_MAP)
		return kiln_fail(ctx, "param 'split': expected a table");
	for (i = 0; i < kiln_value_len(s); i++) {
		const char *k = kiln_value_key(s, i);

		if (strcmp(k, "test") && strcmp(k, "validation") && strcmp(k, "seed") && strcmp(k, "stratify"))
			return kiln_fail(ctx, "param 'split': unknown field '%s'", k);
	}
	if (kp_number_in(ctx, kiln_value_get(s, "test"), "split.test", 0.2, 0.01, 0.9, &x) < 0 ||
	    kp_number_in(ctx, kiln_value_get(s, "validation"), "split.validation", 0, 0, 0.9, &v) < 0 ||
	    kp_number_in(ctx, kiln_value_get(s, "seed"), "split.seed", 42, 0, 9.0e15, &x) < 0)
		return -1;
	if (kiln_value_get(s, "validation") && (v < 0.01 ||
	    kiln_value_number(kiln_value_get(s, "test"), 0.2) + v > 0.9))
		return kiln_fail(ctx, "param 'split.validation': expected a share from 0.01 that leaves at least 0.1 "
			"of the rows for training, got %g", v);
	if (kiln_value_get(s, "stratify") && kiln_value_type(kiln_value_get(s, "stratify")) != KILN_BOOL)
		return kiln_fail(ctx, "param 'split.stratify': expected a boolean");
	return 0;
}

static int
check(kiln_ctx *ctx)
{
	const kiln_value *l;
	const char *s;

	if (kiln_input(ctx, "transform")) {
		if (kp_known(ctx, apply_params) < 0 || kp_string(ctx, "label", NULL, NULL, &s) < 0 ||
		    kp_string(ctx, "group", NULL, NULL, &s) < 0)
			return -1;
		if (kiln_param(ctx, "dropna") && kiln_value_type(kiln_param(ctx, "dropna")) != KILN_BOOL)
			return kiln_fail(ctx, "param 'dropna': expected a boolean");
		if (kiln_param(ctx, "where") && kiln_value_type(kiln_param(ctx, "where")) != KILN_MAP)
			return kiln_fail(ctx, "param 'where': expected a table of column = value");
		return kiln_input(ctx, "data") ? 0 : kiln_fail(ctx, "missing input 'data'");
	}
	if (kp_known(ctx, params) < 0 || kp_string(ctx, "scale", "standard", scales, &s) < 0 ||
	    kp_string(ctx, "task", NULL, tasks, &s) < 0 || kp_string(ctx, "group", NULL, NULL, &s) < 0 ||
	    kp_strings(ctx, "features", &l) < 0 || kp_strings(ctx, "drop", &l) < 0 ||
	    kp_strings(ctx, "onehot", &l) < 0 || check_split(ctx) < 0)
		return -1;
	if (kp_string(ctx, "label", NULL, NULL, &s) < 0)
		return -1;
	if (!s)
		return kiln_fail(ctx, "param 'label' is required");
	if (kiln_param(ctx, "dropna") && kiln_value_type(kiln_param(ctx, "dropna")) != KILN_BOOL)
		return kiln_fail(ctx, "param 'dropna': expected a boolean");
	if (kiln_param(ctx, "reweigh") && kiln_value_type(kiln_param(ctx, "reweigh")) != KILN_BOOL)
		return kiln_fail(ctx, "param 'reweigh': expected a boolean");
	if (kiln_param_bool(ctx, "reweigh", 0) && !kiln_param(ctx, "group"))
		return kiln_fail(ctx, "param 'reweigh' needs a group column");
	if (kiln_param(ctx, "where") && kiln_value_type(kiln_param(ctx, "where")) != KILN_MAP)
		return kiln_fail(ctx, "param 'where': expected a table of column = value");
	if (!kiln_input(ctx, "data"))
		return kiln_fail(ctx, "missing input 'data'");
	return 0;
}

static long
column(struct feat *f, const char *name, const char *what)
{
	long c = kp_csv_col(&f->t, name);

	if (c < 0)
		fail(f, "missing column '%s' (the %s)", name, what);
	return c;
}

/* Does CSV row r match every `where` condition? */
static int
matches(struct feat *f, size_t r)
{
	const kiln_value *w = kiln_param(f->ctx, "where");
	size_t i;

	for (i = 0; i < kiln_value_len(w); i++) {
		long c = kp_csv_col(&f->t, kiln_value_key(w, i));
		const kiln_value *v = kiln_value_at(w, i);
		const char *cell = kp_csv_cell(&f->t, r, (size_t)c);
		double x;

		if (kiln_value_type(v) == KILN_STRING) {
			if (strcmp(cell, v->u.str.s) != 0)
				return 0;
		} else if (kp_parse_number(cell, &x) < 0 || x != kiln_value_number(v, NAN)) {
			return 0;
		}
	}
	return 1;
}

/* Is column c one the output uses (a feature, the label or the group)? */
static int
used(struct feat *f, size_t c)
{
	const kiln_value *feats = kiln_param(f->ctx, "features");
	const char *name = f->t.header[c];

	if ((long)c == f->label || (long)c == f->group)
		return 1;
	if (in_list(kiln_param(f->ctx, "drop"), name))
		return 0;
	return feats ? in_list(feats, name) || in_list(kiln_param(f->ctx, "onehot"), name) : 1;
}

static int
filter_rows(struct feat *f)
{
	const kiln_value *w = kiln_param(f->ctx, "where");
	int dropna = kiln_param_bool(f->ctx, "dropna", 0);
	size_t r, c, i;

	for (i = 0; i < kiln_value_len(w); i++)
		if (column(f, kiln_value_key(w, i), "where condition") < 0)
			return -1;
	f->rows = kp_xmallocarray(f->t.nrows, sizeof(size_t));
	for (r = 0; r < f->t.nrows; r++) {
		int keep = matches(f, r);

		for (c = 0; keep && dropna && c < f->t.ncols; c++)
			if (used(f, c) && !*kp_csv_cell(&f->t, r, c))
				keep = 0;
		if (keep)
			f->rows[f->nrows++] = r;
	}
	if (f->t.nrows == 0)
		return fail(f, "no data rows");
	if (f->nrows == 0)
		return fail(f, "no rows left after filtering (%zu read)", f->t.nrows);
	return 0;
}

/* Parse a numeric cell; true/false read as 1/0. */
static int
number(struct feat *f, size_t r, size_t c, double *out)
{
	const char *s = kp_csv_cell(&f->t, r, c);
	int rc;

	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		*out = s[0] == 't';
		return 0;
	}
	if (!*s)
		return fail(f, "column '%s' row %zu: empty value (set dropna = true to drop such rows)",
			f->t.header[c], r + 1);
	rc = kp_parse_number(s, out);
	if (rc == -2)
		return fail(f, "column '%s' row %zu: value '%s' is NaN or infinite",
			f->t.header[c], r + 1, s);
	if (rc < 0)
		return fail(f, "column '%s' row %zu: '%s' is not a number (list the column in onehot to encode it as categories)",
			f->t.header[c], r + 1, s);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_num(const void *a, const void *b)
{
	double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);

	return x < y ? -1 : x > y ? 1 : strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted distinct values of column c over the given rows (numeric order when all are numbers). */
static char **
vocabulary(struct feat *f, size_t c, const size_t *pos, size_t n, size_t *count)
{
	char **v = kp_xmallocarray(n + 1, sizeof(char *));
	size_t i, k = 0;
	int numeric = 1;
	double x;

	for (i = 0; i < n; i++) {
		v[i] = (char *)kp_csv_cell(&f->t, f->rows[pos ? pos[i] : i], c);
		numeric &= kp_parse_number(v[i], &x) == 0;
	}
	qsort(v, n, sizeof(char *), numeric ? cmp_num : cmp_str);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	for (i = 0; i < k; i++)
		v[i] = kp_xstrdup(v[i]);
	*count = k;
	return v;
}

static long
find(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return (long)i;
	return -1;
}

/* Decide the task and read the label into classes or values. */
static int
read_label(struct feat *f)
{
	const char *task = kiln_param_string(f->ctx, "task", NULL);
	size_t i, lc = (size_t)f->label;
	int integral = 1, numeric = 1;
	double x;

	for (i = 0; i < f->nrows; i++) {
		const char *s = kp_csv_cell(&f->t, f->rows[i], lc);
		int rc = kp_parse_number(s, &x);

		if (!*s)
			return fail(f, "label column '%s' row %zu: empty value", f->t.header[lc],
				f->rows[i] + 1);
		if (rc == -2)
			return fail(f, "label column '%s' row %zu: value '%s' is NaN or infinite",
				f->t.header[lc], f->rows[i] + 1, s);
		numeric &= rc == 0;
		integral &= rc == 0 && x == floor(x);
	}
	f->regression = task ? strcmp(task, "regression") == 0 : numeric && !integral;
	if (f->regression) {
		for (i = 0; !numeric && i < f->nrows; i++) {
			const char *s = kp_csv_cell(&f->t, f->rows[i], lc);

			if (kp_parse_number(s, &x) < 0)
				return fail(f, "label column '%s' row %zu: '%s' is not a number, and a regression needs numbers",
					f->t.header[lc], f->rows[i] + 1, s);
		}
		return 0;
	}
	f->classes = vocabulary(f, lc, NULL, f->nrows, &f->nclasses);
	if (f->nclasses < 2)
		return fail(f, "label column '%s' has only one class ('%s'): a classifier needs at least two",
			f->t.header[lc], f->classes[0]);
	f->cls = kp_xmallocarray(f->nrows, sizeof(int64_t));
	for (i = 0; i < f->nrows; i++)
		f->cls[i] = find(f->classes, f->nclasses,
			kp_csv_cell(&f->t, f->rows[i], lc));
	return 0;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Move round(n * frac) of the positions pos[0..n) to test, the next
 * round(n * f->valfrac) to validation, the rest to train. The test rows do
 * not depend on the validation share: a validation split is taken out of
 * what would have been training rows.
 */
static void
take(struct feat *f, size_t *pos, size_t n, double frac, struct kp_rng *r)
{
	size_t nt = (size_t)llround(frac * (double)n), nv = (size_t)llround(f->valfrac * (double)n), i;

	if (nt >= n && n > 1)
		nt = n - 1;
	if (nt + nv >= n)
		nv = n > nt + 1 ? n - nt - 1 : 0;
	kp_rng_shuffle(r, pos, n);
	for (i = 0; i < n; i++) {
		if (i < nt)
			f->test[f->ntest++] = pos[i];
		else if (i < nt + nv)
			f->val[f->nval++] = pos[i];
		else
			f->train[f->ntrain++] = pos[i];
	}
}

static int
split(struct feat *f)
{
	const kiln_value *s = kiln_param(f->ctx, "split");
	double frac = kiln_value_number(kiln_value_get(s, "test"), 0.2);
	int strat = kiln_value_bool(kiln_value_get(s, "stratify"), !f->regression);
	size_t *pos = kp_xmallocarray(f->nrows, sizeof(size_t)), c, i, n;
	struct kp_rng r;

	kp_rng_seed(&r, (uint64_t)kiln_value_int(kiln_value_get(s, "seed"), 42));
	f->train = kp_xmallocarray(f->nrows, sizeof(size_t));
	f->test = kp_xmallocarray(f->nrows, sizeof(size_t));
	f->val = kp_xmallocarray(f->nrows, sizeof(size_t));
	f->valfrac = kiln_value_number(kiln_value_get(s, "validation"), 0);
	if (strat && f->regression)
		return fail(f, "split.stratify needs a classification label");
	for (c = 0; c < (strat ? f->nclasses : 1); c++) {
		for (n = 0, i = 0; i < f->nrows; i++)
			if (!strat || f->cls[i] == (int64_t)c)
				pos[n++] = i;
		take(f, pos, n, frac, &r);
	}
	free(pos);
	if (f->ntest == 0 || f->ntrain < 2)
		return fail(f, "%zu rows are too few to split into training and test parts", f->nrows);
	if (f->valfrac > 0 && f->nval == 0)
		return fail(f, "%zu rows are too few to hold out a validation part", f->nrows);
	qsort(f->train, f->ntrain, sizeof(size_t), cmp_size);
	qsort(f->test, f->ntest, sizeof(size_t), cmp_size);
	qsort(f->val, f->nval, sizeof(size_t), cmp_size);
	return 0;
}

static void
add_column(struct feat *f, size_t src, const char *value)
{
	f->cols = kp_xrealloc(f->cols, f->ncols + 1, sizeof(*f->cols));
	f->cols[f->ncols].src = src;
	f->cols[f->ncols].value = value;
	f->cols[f->ncols].center = 0;
	f->cols[f->ncols].scale = 1;
	f->ncols++;
}

/* Fit the scaling of output column k on the training rows. */
static void
fit_scale(struct feat *f, struct column *k, const char *how)
{
	double mean = 0, var = 0, lo = INFINITY, hi = -INFINITY;
	size_t i;

	for (i = 0; i < f->ntrain; i++) {
		double x = f->num[f->train[i] * f->t.ncols + k->src];

		mean += x;
		lo = fmin(lo, x);
		hi = fmax(hi, x);
	}
	mean /= (double)f->ntrain;
	for (i = 0; i < f->ntrain; i++) {
		double x = f->num[f->train[i] * f->t.ncols + k->src] - mean;

		var += x * x;
	}
	if (strcmp(how, "standard") == 0) {
		k->center = mean;
		k->scale = var > 0 ? sqrt(var / (double)f->ntrain) : 1;
	} else if (strcmp(how, "minmax") == 0) {
		k->center = lo;
		k->scale = hi > lo ? hi - lo : 1;
	}
}

/* Parse numeric features, build the output columns and fit their scaling. */
static int
build_columns(struct feat *f, char ***vocab, size_t *nvocab)
{
	const kiln_value *onehot = kiln_param(f->ctx, "onehot");
	const char *how = kiln_param_string(f->ctx, "scale", "standard");
	size_t c, i, j;

	f->num = kp_xcalloc(f->nrows * f->t.ncols, sizeof(double));
	for (c = 0; c < f->t.ncols; c++) {
		if (!used(f, c) || (long)c == f->label ||
		    ((long)c == f->group && !in_list(onehot, f->t.header[c]) &&
		     !in_list(kiln_param(f->ctx, "features"), f->t.header[c])))
			continue;
		if (in_list(onehot, f->t.header[c])) {
			vocab[c] = vocabulary(f, c, f->train, f->ntrain, &nvocab[c]);
			for (j = 0; j < nvocab[c]; j++)
				add_column(f, c, vocab[c][j]);
			continue;
		}
		for (i = 0; i < f->nrows; i++)
			if (number(f, f->rows[i], c, &f->num[i * f->t.ncols + c]) < 0)
				return -1;
		add_column(f, c, NULL);
		fit_scale(f, &f->cols[f->ncols - 1], how);
	}
	if (f->ncols == 0)
		return fail(f, "no feature columns left besides the label");
	return 0;
}

static void
fill_x(struct feat *f, const size_t *pos, size_t n, struct kp_array *a)
{
	float *x;
	size_t i, k;

	kp_array_init(a, KP_F32, 2, n, f->ncols);
	x = a->data;
	for (i = 0; i < n; i++)
		for (k = 0; k < f->ncols; k++) {
			const struct column *col = &f->cols[k];

			if (col->value)
				x[i * f->ncols + k] = strcmp(kp_csv_cell(&f->t,
					f->rows[pos[i]], col->src), col->value) == 0;
			else
				x[i * f->ncols + k] = (float)((f->num[pos[i] * f->t.ncols +
					col->src] - col->center) / col->scale);
		}
}

static void
fill_y(struct feat *f, const size_t *pos, size_t n, struct kp_array *a)
{
	size_t i;
	double v;

	kp_array_init(a, f->regression ? KP_F32 : KP_I64, 1, n, 1);
	for (i = 0; i < n; i++) {
		if (f->regression) {
			kp_parse_number(kp_csv_cell(&f->t, f->rows[pos[i]],
				(size_t)f->label), &v);
			((float *)a->data)[i] = (float)v;
		} else {
			((int64_t *)a->data)[i] = f->cls[pos[i]];
		}
	}
}

static void
fill_group(struct feat *f, struct kp_array *a)
{
	size_t i;

	kp_array_init(a, KP_I64, 1, f->ntest, 1);
	for (i = 0; i < f->ntest; i++)
		((int64_t *)a->data)[i] = find(f->groups, f->ngroups,
			kp_csv_cell(&f->t, f->rows[f->test[i]], (size_t)f->group));
}

/*
 * Reweighing (Kamiran and Calders, 2012): weight each training row by
 * P(group) P(label) / P(group, label), so that in the weighted data the label
 * is independent of the group, and a model cannot learn the labels' bias
 * against a group from the group's correlates.
 */
static int
fill_weights(struct feat *f, struct kp_array *a)
{
	size_t *ng = kp_xcalloc(f->ngroups, sizeof(size_t));
	size_t *ny = kp_xcalloc(f->nclasses, sizeof(size_t));
	size_t *nyg = kp_xcalloc(f->ngroups * f->nclasses, sizeof(size_t)), i;
	int64_t *g = kp_xmallocarray(f->ntrain, sizeof(int64_t));

	for (i = 0; i < f->ntrain; i++) {
		g[i] = find(f->groups, f->ngroups,
			kp_csv_cell(&f->t, f->rows[f->train[i]], (size_t)f->group));
		ng[g[i]]++;
		ny[f->cls[f->train[i]]]++;
		nyg[g[i] * f->nclasses + (size_t)f->cls[f->train[i]]]++;
	}
	kp_array_init(a, KP_F32, 1, f->ntrain, 1);
	for (i = 0; i < f->ntrain; i++) {
		size_t y = (size_t)f->cls[f->train[i]];

		((float *)a->data)[i] = (float)((double)ng[g[i]] * ny[y] /
			((double)nyg[g[i] * f->nclasses + y] * f->ntrain));
	}
	free(ng);
	free(ny);
	free(nyg);
	free(g);
	return 0;
}

static json_t *
strings_json(char **s, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(s[i]));
	return a;
}

static json_t *
columns_json(struct feat *f)
{
	json_t *a = json_array();
	size_t k;

	for (k = 0; k < f->ncols; k++) {
		const struct column *c = &f->cols[k];

		if (c->value)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "source",
				f->t.header[c->src], "kind", "onehot", "value", c->value));
		else
			json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:o}", "source",
				f->t.header[c->src], "kind", "numeric", "center",
				json_real(c->center), "scale", json_real(c->scale)));
	}
	return a;
}

/* The one-hot vocabularies, column = [values], in output order. */
static json_t *
onehot_json(struct feat *f)
{
	json_t *o = json_object();
	size_t k;

	for (k = 0; k < f->ncols; k++) {
		const char *src = f->t.header[f->cols[k].src];

		if (!f->cols[k].value)
			continue;
		if (!json_object_get(o, src))
			json_object_set_new(o, src, json_array());
		json_array_append_new(json_object_get(o, src), json_string(f->cols[k].value));
	}
	return o;
}

#define DRIFT_BINS 10

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The training rows' distribution of numeric source column src, for drift
 * (kiln-serve's PSI): DRIFT_BINS - 1 cut points at the deciles (repeats
 * removed, so a column of few values has fewer bins) and the share of the
 * training rows in each bin (x <= edge[0], edge[i-1] < x <= edge[i], above).
 */
static json_t *
numeric_distribution(struct feat *f, size_t src)
{
	double *v = kp_xmallocarray(f->ntrain, sizeof(double)), *edges = kp_xcalloc(DRIFT_BINS, sizeof(double));
	size_t *n = kp_xcalloc(DRIFT_BINS, sizeof(size_t)), ne = 0, i, b;
	json_t *je = json_array(), *jt = json_array();

	for (i = 0; i < f->ntrain; i++)
		v[i] = f->num[f->train[i] * f->t.ncols + src];
	qsort(v, f->ntrain, sizeof(double), cmp_double);
	for (b = 1; b < DRIFT_BINS; b++) {
		double e = v[(b * (f->ntrain - 1)) / DRIFT_BINS];

		if ((ne == 0 || e > edges[ne - 1]) && e < v[f->ntrain - 1])
			edges[ne++] = e;
	}
	for (i = 0; i < f->ntrain; i++) {
		for (b = 0; b < ne && v[i] > edges[b]; b++)
			;
		n[b]++;
	}
	for (b = 0; b < ne; b++)
		json_array_append_new(je, json_real(edges[b]));	/* exact: a value on an edge stays in its bin */
	for (b = 0; b <= ne; b++)
		json_array_append_new(jt, kp_json_real((double)n[b] / (double)f->ntrain));
	free(v);
	free(edges);
	free(n);
	return json_pack("{s:s, s:o, s:o}", "kind", "numeric", "edges", je, "train", jt);
}

/* The training rows' share of each category of one-hot source column src, in vocabulary order. */
static json_t *
category_distribution(struct feat *f, size_t src, char **vocab, size_t nvocab)
{
	size_t *n = kp_xcalloc(nvocab + 1, sizeof(size_t)), i;
	json_t *jv = json_array(), *jt = json_array();

	for (i = 0; i < f->ntrain; i++) {
		long k = find(vocab, nvocab, kp_csv_cell(&f->t, f->rows[f->train[i]], src));

		n[k < 0 ? nvocab : (size_t)k]++;
	}
	for (i = 0; i < nvocab; i++) {
		json_array_append_new(jv, json_string(vocab[i]));
		json_array_append_new(jt, kp_json_real((double)n[i] / (double)f->ntrain));
	}
	free(n);
	return json_pack("{s:s, s:o, s:o}", "kind", "onehot", "values", jv, "train", jt);
}

/* Each source column's training distribution, by name: what drift is measured against. */
static json_t *
distribution_json(struct feat *f, char ***vocab, size_t *nvocab)
{
	json_t *o = json_object();
	size_t k;

	for (k = 0; k < f->ncols; k++) {
		size_t src = f->cols[k].src;

		if (json_object_get(o, f->t.header[src]))
			continue;
		json_object_set_new(o, f->t.header[src], f->cols[k].value ?
			category_distribution(f, src, vocab[src], nvocab[src]) : numeric_distribution(f, src));
	}
	return o;
}

static json_t *
transform_json(struct feat *f, char ***vocab, size_t *nvocab)
{
	const kiln_value *s = kiln_param(f->ctx, "split");
	json_t *j = json_object();

	json_object_set_new(j, "format", json_string("kiln-transform/1"));
	json_object_set_new(j, "label", json_string(f->t.header[f->label]));
	json_object_set_new(j, "task", json_string(f->regression ? "regression" : "classification"));
	json_object_set_new(j, "scale", json_string(kiln_param_string(f->ctx, "scale", "standard")));
	json_object_set_new(j, "columns", columns_json(f));
	json_object_set_new(j, "onehot", onehot_json(f));
	json_object_set_new(j, "distribution", distribution_json(f, vocab, nvocab));
	if (!f->regression)
		json_object_set_new(j, "classes", strings_json(f->classes, f->nclasses));
	if (f->group >= 0) {
		json_object_set_new(j, "group", json_string(f->t.header[f->group]));
		json_object_set_new(j, "groups", strings_json(f->groups, f->ngroups));
	}
	json_object_set_new(j, "reweigh", json_boolean(kiln_param_bool(f->ctx, "reweigh", 0)));
	json_object_set_new(j, "split", json_pack("{s:o, s:I, s:b, s:I, s:I}",
		"test", kp_json_real(kiln_value_number(kiln_value_get(s, "test"), 0.2)),
		"seed", (json_int_t)kiln_value_int(kiln_value_get(s, "seed"), 42),
		"stratify", kiln_value_bool(kiln_value_get(s, "stratify"), !f->regression),
		"train_rows", (json_int_t)f->ntrain, "test_rows", (json_int_t)f->ntest));
	/* Only with a validation split, so that a transform.json without one keeps its bytes. */
	if (f->valfrac > 0) {
		json_t *sp = json_object_get(j, "split");

		json_object_set_new(sp, "validation", kp_json_real(f->valfrac));
		json_object_set_new(sp, "validation_rows", json_integer((json_int_t)f->nval));
	}
	return j;
}

static int
write_array(struct feat *f, const char *name, struct kp_array *a)
{
	char err[KP_ERRLEN], *p = kp_join(kiln_output_dir(f->ctx), name);
	int rc = kp_npy_write(p, a, err);

	free(p);
	kp_array_release(a);
	return rc < 0 ? kiln_fail(f->ctx, "%s", err) : 0;
}

static int
write_outputs(struct feat *f, char ***vocab, size_t *nvocab)
{
	char err[KP_ERRLEN], *p;
	struct kp_array a;
	json_t *t;
	int rc;

	fill_x(f, f->train, f->ntrain, &a);
	if (write_array(f, "X_train.npy", &a) < 0)
		return -1;
	fill_x(f, f->test, f->ntest, &a);
	if (write_array(f, "X_test.npy", &a) < 0)
		return -1;
	fill_y(f, f->train, f->ntrain, &a);
	if (write_array(f, "y_train.npy", &a) < 0)
		return -1;
	fill_y(f, f->test, f->ntest, &a);
	if (write_array(f, "y_test.npy", &a) < 0)
		return -1;
	if (f->valfrac > 0) {
		fill_x(f, f->val, f->nval, &a);
		if (write_array(f, "X_val.npy", &a) < 0)
			return -1;
		fill_y(f, f->val, f->nval, &a);
		if (write_array(f, "y_val.npy", &a) < 0)
			return -1;
	}
	if (f->group >= 0) {
		fill_group(f, &a);
		if (write_array(f, "group_test.npy", &a) < 0)
			return -1;
	}
	if (kiln_param_bool(f->ctx, "reweigh", 0)) {
		fill_weights(f, &a);
		if (write_array(f, "w_train.npy", &a) < 0)
			return -1;
	}
	p = kp_join(kiln_output_dir(f->ctx), "transform.json");
	t = transform_json(f, vocab, nvocab);
	rc = kp_json_write(p, t, err);
	json_decref(t);
	free(p);
	return rc < 0 ? kiln_fail(f->ctx, "%s", err) : 0;
}

static void
feat_release(struct feat *f, char ***vocab, size_t *nvocab)
{
	size_t c;

	for (c = 0; vocab && c < f->t.ncols; c++)
		kp_strings_free(vocab[c], nvocab[c]);
	free(vocab);
	free(nvocab);
	kp_strings_free(f->classes, f->nclasses);
	kp_strings_free(f->groups, f->ngroups);
	kp_csv_release(&f->t);
	free(f->rows);
	free(f->train);
	free(f->test);
	free(f->val);
	free(f->cls);
	free(f->num);
	free(f->cols);
}

static int
featurize(struct feat *f, char ****vocab, size_t **nvocab)
{
	const char *g = kiln_param_string(f->ctx, "group", NULL);
	char err[KP_ERRLEN];

	if (kp_csv_read(&f->t, f->path, err) < 0)
		return kiln_fail(f->ctx, "%s", err);
	*vocab = kp_xcalloc(f->t.ncols, sizeof(char **));
	*nvocab = kp_xcalloc(f->t.ncols, sizeof(size_t));
	f->label = column(f, kiln_param_string(f->ctx, "label", ""), "label");
	f->group = g ? column(f, g, "group") : -1;
	if (f->label < 0 || (g && f->group < 0) || filter_rows(f) < 0 || read_label(f) < 0 ||
	    split(f) < 0 || build_columns(f, *vocab, *nvocab) < 0)
		return -1;
	if (g)
		f->groups = vocabulary(f, (size_t)f->group, NULL, f->nrows, &f->ngroups);
	if (f->regression && kiln_param_bool(f->ctx, "reweigh", 0))
		return fail(f, "reweigh needs a classification label");
	kiln_metric(f->ctx, "train_rows", (double)f->ntrain);
	kiln_metric(f->ctx, "test_rows", (double)f->ntest);
	if (f->valfrac > 0)
		kiln_metric(f->ctx, "validation_rows", (double)f->nval);
	kiln_metric(f->ctx, "features", (double)f->ncols);
	return write_outputs(f, *vocab, *nvocab);
}

/* ---- applying a fitted transform to new data ---- */

/* The training features' name, for messages: the transform input's folder name. */
static const char *
fitted_by(struct feat *f)
{
	const char *d = kiln_input(f->ctx, "transform"), *slash = strrchr(d, '/');

	return slash ? slash + 1 : d;
}

/* The output columns from transform.json's "columns", each found in the new CSV. */
static int
apply_columns(struct feat *f, const json_t *cols)
{
	const json_t *c;
	size_t k, r;

	if (!json_is_array(cols) || json_array_size(cols) == 0)
		return fail(f, "the transform of '%s' has no columns", fitted_by(f));
	f->num = kp_xcalloc(f->nrows * f->t.ncols, sizeof(double));
	json_array_foreach(cols, k, c) {
		const char *src = json_string_value(json_object_get(c, "source"));
		const char *kind = json_string_value(json_object_get(c, "kind"));
		long col = src ? kp_csv_col(&f->t, src) : -1;

		if (!src || !kind)
			return fail(f, "the transform of '%s': column %zu has no source or kind", fitted_by(f), k + 1);
		if (col < 0)
			return fail(f, "missing column '%s', which the transform of '%s' needs", src, fitted_by(f));
		if (strcmp(kind, "onehot") == 0) {
			add_column(f, (size_t)col, json_string_value(json_object_get(c, "value")));
			continue;
		}
		add_column(f, (size_t)col, NULL);
		f->cols[f->ncols - 1].center = json_number_value(json_object_get(c, "center"));
		f->cols[f->ncols - 1].scale = json_number_value(json_object_get(c, "scale"));
		if (!(f->cols[f->ncols - 1].scale != 0))
			f->cols[f->ncols - 1].scale = 1;
		for (r = 0; r < f->nrows; r++)
			if (number(f, f->rows[r], (size_t)col, &f->num[r * f->t.ncols + (size_t)col]) < 0)
				return -1;
	}
	return 0;
}

/* Every one-hot column's values must be in the training vocabulary: a new category is an error. */
static int
apply_vocabularies(struct feat *f, const json_t *onehot)
{
	const char *src;
	const json_t *vals;
	size_t r, i;

	json_object_foreach((json_t *)onehot, src, vals) {
		long c = kp_csv_col(&f->t, src);

		for (r = 0; c >= 0 && r < f->nrows; r++) {
			const char *cell = kp_csv_cell(&f->t, f->rows[r], (size_t)c);
			const json_t *v;

			json_array_foreach(vals, i, v)
				if (strcmp(json_string_value(v) ? json_string_value(v) : "", cell) == 0)
					break;
			if (i == json_array_size(vals))
				return fail(f, "column '%s' row %zu: category '%s' was not seen when '%s' was "
					"fitted (it knows %zu: the model has no input for a new one)", src,
					f->rows[r] + 1, cell, fitted_by(f), json_array_size(vals));
		}
	}
	return 0;
}

/* The label: its classes are the transform's; a class it does not know is an error. */
static int
apply_label(struct feat *f, const json_t *t)
{
	const char *label = json_string_value(json_object_get(t, "label"));
	const char *want = kiln_param_string(f->ctx, "label", label);
	char err[KP_ERRLEN];
	size_t r;

	if (!label)
		return fail(f, "the transform of '%s' names no label", fitted_by(f));
	if (strcmp(want, label) != 0)
		return fail(f, "label '%s' is not the label '%s' that '%s' was fitted for", want, label, fitted_by(f));
	if ((f->label = column(f, label, "label")) < 0)
		return -1;
	f->regression = strcmp(json_string_value(json_object_get(t, "task")) ?
		json_string_value(json_object_get(t, "task")) : "", "regression") == 0;
	if (f->regression)
		return 0;
	if (kp_json_strings(t, "classes", &f->classes, &f->nclasses, "transform.json", err) < 0)
		return kiln_fail(f->ctx, "%s", err);
	f->cls = kp_xmallocarray(f->nrows, sizeof(int64_t));
	for (r = 0; r < f->nrows; r++) {
		const char *cell = kp_csv_cell(&f->t, f->rows[r], (size_t)f->label);

		if ((f->cls[r] = find(f->classes, f->nclasses, cell)) < 0)
			return fail(f, "label column '%s' row %zu: class '%s' is not one of the %zu that '%s' "
				"was fitted on", label, f->rows[r] + 1, cell, f->nclasses, fitted_by(f));
	}
	return 0;
}

/* The group, when asked for: the transform's groups, so indices mean the same. */
static int
apply_group(struct feat *f, const json_t *t)
{
	const char *g = kiln_param_string(f->ctx, "group", NULL), *tg = json_string_value(json_object_get(t, "group"));
	char err[KP_ERRLEN];
	size_t r;

	if (!g)
		return 0;
	if (!tg || strcmp(g, tg) != 0)
		return fail(f, "group '%s' is not the group '%s' was fitted with (%s)", g, fitted_by(f),
			tg ? tg : "none");
	if ((f->group = column(f, g, "group")) < 0 ||
	    kp_json_strings(t, "groups", &f->groups, &f->ngroups, "transform.json", err) < 0)
		return f->group < 0 ? -1 : kiln_fail(f->ctx, "%s", err);
	for (r = 0; r < f->nrows; r++)
		if (find(f->groups, f->ngroups, kp_csv_cell(&f->t, f->rows[r], (size_t)f->group)) < 0)
			return fail(f, "group column '%s' row %zu: group '%s' was not seen when '%s' was fitted",
				g, f->rows[r] + 1, kp_csv_cell(&f->t, f->rows[r], (size_t)f->group), fitted_by(f));
	return 0;
}

/* X_test, y_test (and group_test) of every row, and the training transform.json as it is. */
static int
apply_outputs(struct feat *f, const char *tpath)
{
	char err[KP_ERRLEN], *text, *p;
	struct kp_array a;
	size_t len, r;
	int rc;

	f->test = kp_xmallocarray(f->nrows, sizeof(size_t));
	for (r = 0; r < f->nrows; r++)
		f->test[r] = r;
	f->ntest = f->nrows;
	fill_x(f, f->test, f->ntest, &a);
	if (write_array(f, "X_test.npy", &a) < 0)
		return -1;
	fill_y(f, f->test, f->ntest, &a);
	if (write_array(f, "y_test.npy", &a) < 0)
		return -1;
	if (f->group >= 0) {
		fill_group(f, &a);
		if (write_array(f, "group_test.npy", &a) < 0)
			return -1;
	}
	if (kp_read_file(tpath, &text, &len, err) < 0)
		return kiln_fail(f->ctx, "%s", err);
	p = kp_join(kiln_output_dir(f->ctx), "transform.json");
	rc = kp_write_file(p, text, len, err);
	free(p);
	free(text);
	return rc < 0 ? kiln_fail(f->ctx, "%s", err) : 0;
}

static int
apply(struct feat *f)
{
	char err[KP_ERRLEN], *tpath = kp_join(kiln_input(f->ctx, "transform"), "transform.json");
	json_t *t = NULL;
	int rc = -1;

	f->label = f->group = -1;
	if (!(t = kp_json_read(tpath, err))) {
		kiln_fail(f->ctx, "input 'transform' is not a features target's output: %s", err);
		goto out;
	}
	if (kp_csv_read(&f->t, f->path, err) < 0) {
		kiln_fail(f->ctx, "%s", err);
		goto out;
	}
	if (filter_rows(f) < 0 || apply_label(f, t) < 0 || apply_group(f, t) < 0 ||
	    apply_columns(f, json_object_get(t, "columns")) < 0 ||
	    apply_vocabularies(f, json_object_get(t, "onehot")) < 0)
		goto out;
	kiln_metric(f->ctx, "test_rows", (double)f->nrows);
	kiln_metric(f->ctx, "features", (double)f->ncols);
	rc = apply_outputs(f, tpath);
out:
	json_decref(t);
	free(tpath);
	return rc;
}

static int
run(kiln_ctx *ctx)
{
	struct feat f;
	char ***vocab = NULL;
	size_t *nvocab = NULL;
	char *path;
	int rc;

	if (check(ctx) < 0)
		return -1;
	memset(&f, 0, sizeof(f));
	f.ctx = ctx;
	path = kp_csv_path(kiln_input(ctx, "data"));
	f.path = path;
	rc = kiln_input(ctx, "transform") ? apply(&f) : featurize(&f, &vocab, &nvocab);
	feat_release(&f, vocab, nvocab);
	free(path);
	return rc;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "featurize",
	.version = "1.0",
	.summary = "CSV to NPY features: selection, one-hot, seeded split, scaling fitted on train",
	.check = check,
	.run = run,
};
