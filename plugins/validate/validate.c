/*
 * The validate plugin: checks a CSV data set against a schema (types,
 * enums, ranges, nulls), duplicate rows, row counts, class balance and
 * drift against a reference data set. Writes report.json and passes the
 * data on as data.csv; any violation fails the build, naming column, row
 * and rule.
 */
#include <jansson.h>
#include <kiln/plugin.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/csv.h"
#include "../lib/json.h"
#include "../lib/param.h"
#include "../lib/util.h"

/* How many violations the failure message and the report list. */
#define SHOWN 5
#define LISTED 100

static const char *const params[] = { "balance", "drift", "duplicates", "max_null_fraction",
	"rows", "schema", NULL };
static const char *const col_fields[] = { "enum", "max", "max_null_fraction", "min",
	"type", NULL };
static const char *const types[] = { "int", "float", "string", "bool", NULL };

/* The violations found so far. */
struct report {
	size_t n;
	json_t *list;		/* the first LISTED, as objects */
	char msg[2048];		/* the first SHOWN, as text */
};

static void
violation(struct report *r, const char *column, size_t row, const char *rule,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Record one violation; row 0 means the whole column or file. */
static void
violation(struct report *r, const char *column, size_t row, const char *rule,
	const char *fmt, ...)
{
	char what[512], line[700];
	size_t len = strlen(r->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->n < LISTED) {
		json_t *v = json_pack("{s:s, s:s}", "rule", rule, "message", what);

		if (column)
			json_object_set_new(v, "column", json_string(column));
		if (row)
			json_object_set_new(v, "row", json_integer((json_int_t)row));
		json_array_append_new(r->list, v);
	}
	if (r->n < SHOWN) {
		if (column && row)
			snprintf(line, sizeof(line), "column '%s' row %zu: %s (%s)", column, row, what, rule);
		else if (column)
			snprintf(line, sizeof(line), "column '%s': %s (%s)", column, what, rule);
		else
			snprintf(line, sizeof(line), "%s (%s)", what, rule);
		snprintf(r->msg + len, sizeof(r->msg) - len, "\n  %s", line);
	}
	r->n++;
}

static int
check_column_spec(kiln_ctx *ctx, const char *col, const kiln_value *spec)
{
	const kiln_value *t = kiln_value_get(spec, "type"), *e = kiln_value_get(spec, "enum");
	size_t i, j;

	if (kiln_value_type(spec) != KILN_MAP)
		return kiln_fail(ctx, "schema.%s: expected a table", col);
	for (i = 0; i < kiln_value_len(spec); i++) {
		for (j = 0; col_fields[j]; j++)
			if (strcmp(kiln_value_key(spec, i), col_fields[j]) == 0)
				break;
		if (!col_fields[j])
			return kiln_fail(ctx, "schema.%s: unknown field '%s'", col, kiln_value_key(spec, i));
	}
	if (t) {
		for (j = 0; types[j]; j++)
			if (strcmp(kiln_value_string(t, ""), types[j]) == 0)
				break;
		if (!types[j])
			return kiln_fail(ctx, "schema.%s.type: expected int, float, string or bool", col);
	}
	if (e && (kiln_value_type(e) != KILN_LIST || !kiln_value_len(e)))
		return kiln_fail(ctx, "schema.%s.enum: expected a non-empty list", col);
	for (i = 0; i < 3; i++) {
		const char *k = (const char *[]){ "min", "max", "max_null_fraction" }[i];
		const kiln_value *v = kiln_value_get(spec, k);

		if (v && !kiln_value_isnumber(v))
			return kiln_fail(ctx, "schema.%s.%s: expected a number", col, k);
	}
	return 0;
}

static int
check_table(kiln_ctx *ctx, const char *key, const char *const *fields)
{
	const kiln_value *v = kiln_param(ctx, key);
	size_t i, j;

	if (!v)
		return 0;
	if (kiln_value_type(v) != KILN_MAP)
		return kiln_fail(ctx, "param '%s': expected a table", key);
	for (i = 0; i < kiln_value_len(v); i++) {
		for (j = 0; fields[j]; j++)
			if (strcmp(kiln_value_key(v, i), fields[j]) == 0)
				break;
		if (!fields[j])
			return kiln_fail(ctx, "param '%s': unknown field '%s'", key,
				kiln_value_key(v, i));
	}
	return 0;
}

static int
check(kiln_ctx *ctx)
{
	const kiln_value *schema = kiln_param(ctx, "schema"), *d = kiln_param(ctx, "drift");
	const char *s;
	double x;
	size_t i;

	if (kp_known(ctx, params) < 0 ||
	    kp_string(ctx, "duplicates", "allow", (const char *const[]){ "allow", "error", NULL }, &s) < 0 ||
	    kp_number(ctx, "max_null_fraction", 0, 0, 1, &x) < 0 ||
	    check_table(ctx, "rows", (const char *const[]){ "min", "max", NULL }) < 0 ||
	    check_table(ctx, "balance", (const char *const[]){ "column", "min_fraction", NULL }) < 0 ||
	    check_table(ctx, "drift", (const char *const[]){ "columns", "max", "method", NULL }) < 0)
		return -1;
	if (schema && kiln_value_type(schema) != KILN_MAP)
		return kiln_fail(ctx, "param 'schema': expected a table of columns");
	for (i = 0; i < kiln_value_len(schema); i++)
		if (check_column_spec(ctx, kiln_value_key(schema, i), kiln_value_at(schema, i)) < 0)
			return -1;
	if (kiln_param(ctx, "balance") && !kiln_value_string(kiln_value_get(kiln_param(ctx, "balance"), "column"), NULL))
		return kiln_fail(ctx, "param 'balance': needs column = \"name\"");
	if (d && !kiln_input(ctx, "reference"))
		return kiln_fail(ctx, "param 'drift' needs an input named 'reference'");
	if (d && strcmp(kiln_value_string(kiln_value_get(d, "method"), "psi"), "psi") != 0 &&
	    strcmp(kiln_value_string(kiln_value_get(d, "method"), "psi"), "ks") != 0)
		return kiln_fail(ctx, "param 'drift.method': expected \"psi\" or \"ks\"");
	if (!kiln_input(ctx, "data"))
		return kiln_fail(ctx, "missing input 'data'");
	return 0;
}

static int
is_bool(const char *s)
{
	return !strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "True") ||
	       !strcmp(s, "False") || !strcmp(s, "0") || !strcmp(s, "1");
}

/* Is cell s one of the enum's values? Numbers compare as numbers. */
static int
in_enum(const kiln_value *e, const char *s)
{
	size_t i;
	double x;

	for (i = 0; i < kiln_value_len(e); i++) {
		const kiln_value *v = kiln_value_at(e, i);

		if (kiln_value_type(v) == KILN_STRING && strcmp(v->u.str.s, s) == 0)
			return 1;
		if (kiln_value_isnumber(v) && kp_parse_number(s, &x) == 0 &&
		    x == kiln_value_number(v, NAN))
			return 1;
		if (kiln_value_type(v) == KILN_BOOL && strcmp(s, v->u.b ? "true" : "false") == 0)
			return 1;
	}
	return 0;
}

/* Check one non-null cell against its column's spec. */
static void
check_cell(struct report *r, const char *col, size_t row, const char *s,
	const kiln_value *spec)
{
	const char *type = kiln_value_string(kiln_value_get(spec, "type"), NULL);
	const kiln_value *mn = kiln_value_get(spec, "min"), *mx = kiln_value_get(spec, "max"),
		*e = kiln_value_get(spec, "enum");
	int rc;
	double x = 0;

	if (type && strcmp(type, "bool") == 0 && !is_bool(s))
		return violation(r, col, row, "type", "'%s' is not a bool", s);
	if ((type && (!strcmp(type, "int") || !strcmp(type, "float"))) || mn || mx) {
		rc = kp_parse_number(s, &x);
		if (rc == -2)
			return violation(r, col, row, "finite", "value '%s' is NaN or infinite", s);
		if (rc < 0)
			return violation(r, col, row, "type", "'%s' is not a number", s);
		if (type && strcmp(type, "int") == 0 && x != floor(x))
			return violation(r, col, row, "type", "'%s' is not an int", s);
		if (mn && x < kiln_value_number(mn, 0))
			return violation(r, col, row, "min", "value %s is below min %g", s,
				kiln_value_number(mn, 0));
		if (mx && x > kiln_value_number(mx, 0))
			return violation(r, col, row, "max", "value %s is above max %g", s,
				kiln_value_number(mx, 0));
	}
	if (e && !in_enum(e, s))
		violation(r, col, row, "enum", "'%s' is not one of the allowed values", s);
}

/* Summary statistics of column c. */
static json_t *
profile(const struct kp_csv *t, size_t c, size_t *nulls)
{
	double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY, x;
	size_t i, numeric = 0;
	json_t *p = json_object();

	*nulls = 0;
	for (i = 0; i < t->nrows; i++) {
		const char *s = kp_csv_cell(t, i, c);

		if (!*s) {
			(*nulls)++;
			continue;
		}
		if (kp_parse_number(s, &x) == 0) {
			numeric++;
			sum += x;
			sq += x * x;
			lo = fmin(lo, x);
			hi = fmax(hi, x);
		}
	}
	json_object_set_new(p, "nulls", json_integer((json_int_t)*nulls));
	if (numeric && numeric == t->nrows - *nulls) {
		double mean = sum / (double)numeric;

		json_object_set_new(p, "min", kp_json_real(lo));
		json_object_set_new(p, "max", kp_json_real(hi));
		json_object_set_new(p, "mean", kp_json_real(mean));
		json_object_set_new(p, "std", kp_json_real(sqrt(fmax(sq / (double)numeric - mean * mean, 0))));
	}
	return p;
}

static void
check_columns(kiln_ctx *ctx, const struct kp_csv *t, struct report *r, json_t *cols)
{
	const kiln_value *schema = kiln_param(ctx, "schema");
	double maxnull = kiln_param_number(ctx, "max_null_fraction", 0);
	size_t i, c, nulls;

	for (i = 0; i < kiln_value_len(schema); i++)
		if (kp_csv_col(t, kiln_value_key(schema, i)) < 0)
			violation(r, kiln_value_key(schema, i), 0, "column", "missing column");
	for (c = 0; c < t->ncols; c++) {
		const kiln_value *spec = kiln_value_get(schema, t->header[c]);
		double lim = kiln_value_number(kiln_value_get(spec, "max_null_fraction"), maxnull);
		size_t first = 0;

		json_object_set_new(cols, t->header[c], profile(t, c, &nulls));
		for (i = 0; i < t->nrows; i++) {
			const char *s = kp_csv_cell(t, i, c);

			if (!*s)
				first = first ? first : i + 1;
			else if (spec)
				check_cell(r, t->header[c], i + 1, s, spec);
		}
		if (t->nrows && (double)nulls / (double)t->nrows > lim)
			violation(r, t->header[c], 0, "max_null_fraction",
				"%zu null%s in %zu rows (first at row %zu), above max_null_fraction %g",
				nulls, nulls == 1 ? "" : "s", t->nrows, first, lim);
	}
}

/* The table qsort compares rows of (qsort has no context argument). */
static const struct kp_csv *sort_table;

static int
same_cells(const struct kp_csv *t, size_t x, size_t y)
{
	size_t c;

	for (c = 0; c < t->ncols; c++)
		if (strcmp(kp_csv_cell(t, x, c), kp_csv_cell(t, y, c)) != 0)
			return 0;
	return 1;
}

/* Rows by their cells, then by position, so duplicates end up adjacent. */
static int
cmp_rows(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b, c;
	int d;

	for (c = 0; c < sort_table->ncols; c++) {
		d = strcmp(kp_csv_cell(sort_table, x, c), kp_csv_cell(sort_table, y, c));
		if (d)
			return d;
	}
	return x < y ? -1 : x > y;
}

/* Count rows equal to an earlier row; with duplicates = "error", each is a violation. */
static size_t
duplicates(kiln_ctx *ctx, const struct kp_csv *t, struct report *r)
{
	size_t *idx = kp_xmallocarray(t->nrows, sizeof(size_t)), i, first = 0, n = 0;
	int error = strcmp(kiln_param_string(ctx, "duplicates", "allow"), "error") == 0;

	for (i = 0; i < t->nrows; i++)
		idx[i] = i;
	sort_table = t;
	qsort(idx, t->nrows, sizeof(size_t), cmp_rows);
	for (i = 1; i < t->nrows; i++) {
		if (!same_cells(t, idx[first], idx[i])) {
			first = i;
			continue;
		}
		n++;
		if (error)
			violation(r, NULL, idx[i] + 1, "duplicates", "row %zu duplicates row %zu",
				idx[i] + 1, idx[first] + 1);
	}
	free(idx);
	return n;
}

static void
check_rows(kiln_ctx *ctx, const struct kp_csv *t, struct report *r)
{
	const kiln_value *rows = kiln_param(ctx, "rows");
	double mn = kiln_value_number(kiln_value_get(rows, "min"), 1),
		mx = kiln_value_number(kiln_value_get(rows, "max"), INFINITY);

	if ((double)t->nrows < mn)
		violation(r, NULL, 0, "rows.min", "%zu rows, fewer than the minimum %g", t->nrows, mn);
	if ((double)t->nrows > mx)
		violation(r, NULL, 0, "rows.max", "%zu rows, more than the maximum %g", t->nrows, mx);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every class of the balance column must hold at least min_fraction of the rows. */
static json_t *
balance(kiln_ctx *ctx, const struct kp_csv *t, struct report *r)
{
	const kiln_value *b = kiln_param(ctx, "balance");
	const char *col = kiln_value_string(kiln_value_get(b, "column"), "");
	double minf = kiln_value_number(kiln_value_get(b, "min_fraction"), 0);
	long c = kp_csv_col(t, col);
	const char **v;
	json_t *counts = json_object();
	size_t i, j;

	if (c < 0) {
		violation(r, col, 0, "balance", "missing column");
		return counts;
	}
	v = kp_xmallocarray(t->nrows + 1, sizeof(char *));
	for (i = 0; i < t->nrows; i++)
		v[i] = kp_csv_cell(t, i, (size_t)c);
	qsort(v, t->nrows, sizeof(char *), cmp_str);
	for (i = 0; i < t->nrows; i = j) {
		for (j = i + 1; j < t->nrows && !strcmp(v[i], v[j]); j++)
			;
		json_object_set_new(counts, v[i], json_integer((json_int_t)(j - i)));
		if ((double)(j - i) / (double)t->nrows < minf)
			violation(r, col, 0, "balance.min_fraction",
				"class '%s' has %zu of %zu rows (%.1f%%), below min_fraction %g",
				v[i], j - i, t->nrows, 100.0 * (double)(j - i) / (double)t->nrows, minf);
	}
	free(v);
	return counts;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The finite numbers of column c, sorted; NULL when any non-null cell is not one. */
static double *
numbers(const struct kp_csv *t, size_t c, size_t *n)
{
	double *v = kp_xmallocarray(t->nrows + 1, sizeof(double));
	size_t i;

	*n = 0;
	for (i = 0; i < t->nrows; i++) {
		const char *s = kp_csv_cell(t, i, c);

		if (!*s)
			continue;
		if (kp_parse_number(s, &v[*n]) < 0) {
			free(v);
			return NULL;
		}
		(*n)++;
	}
	qsort(v, *n, sizeof(double), cmp_double);
	return v;
}

/* The report's charts: bins of a numeric column, counts of a categorical one. */
#define HIST_BINS 20
#define MAX_CATEGORIES 20

static json_t *
histogram(const double *v, size_t n)
{
	json_t *edges = json_array(), *counts = json_array();
	double lo = v[0], hi = v[n - 1], w = (hi - lo) / HIST_BINS;
	size_t bins = hi > lo ? HIST_BINS : 1, b, i, c[HIST_BINS] = { 0 };

	for (i = 0; i < n; i++) {
		b = bins == 1 ? 0 : (size_t)((v[i] - lo) / w);
		c[b < bins ? b : bins - 1]++;
	}
	for (b = 0; b <= bins; b++)
		json_array_append_new(edges, kp_json_real(b == bins ? hi : lo + w * (double)b));
	for (b = 0; b < bins; b++)
		json_array_append_new(counts, json_integer((json_int_t)c[b]));
	return json_pack("{s:o, s:o}", "edges", edges, "counts", counts);
}

struct category {
	const char *value;
	size_t n;
};

static int
by_count(const void *a, const void *b)
{
	const struct category *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->value, y->value);
}

static int
by_value(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The most frequent MAX_CATEGORIES values of column c with their counts, the rest as one. */
static json_t *
categories(const struct kp_csv *t, size_t c)
{
	const char **v = kp_xmallocarray(t->nrows + 1, sizeof(char *));
	struct category *cat = kp_xmallocarray(t->nrows + 1, sizeof(*cat));
	size_t i, n = 0, k = 0, other = 0;
	json_t *out = json_array();

	for (i = 0; i < t->nrows; i++)
		if (*kp_csv_cell(t, i, c))
			v[n++] = kp_csv_cell(t, i, c);
	qsort(v, n, sizeof(*v), by_value);
	for (i = 0; i < n; i++) {
		if (k && strcmp(cat[k - 1].value, v[i]) == 0)
			cat[k - 1].n++;
		else
			cat[k++] = (struct category){ v[i], 1 };
	}
	qsort(cat, k, sizeof(*cat), by_count);
	for (i = 0; i < k; i++) {
		if (i < MAX_CATEGORIES)
			json_array_append_new(out, json_pack("{s:s, s:I}", "value", cat[i].value,
				"count", (json_int_t)cat[i].n));
		else
			other += cat[i].n;
	}
	if (other)
		json_array_append_new(out, json_pack("{s:s, s:I, s:b}", "value", "(other)",
			"count", (json_int_t)other, "other", 1));
	free(v);
	free(cat);
	return out;
}

/* Numbers with at most this many distinct values are counted, not binned. */
#define FEW_VALUES 12

static size_t
distinct(const double *v, size_t n)
{
	size_t i, d = n > 0;

	for (i = 1; i < n; i++)
		d += v[i] != v[i - 1];
	return d;
}

/* Add each column's histogram or counts to its profile in cols. */
static void
describe(const struct kp_csv *t, json_t *cols)
{
	size_t c, n;

	for (c = 0; c < t->ncols; c++) {
		json_t *p = json_object_get(cols, t->header[c]);
		double *v = numbers(t, c, &n);

		if (!p)
			continue;
		if (v && n && distinct(v, n) > FEW_VALUES)
			json_object_set_new(p, "histogram", histogram(v, n));
		else
			json_object_set_new(p, "counts", categories(t, c));
		free(v);
	}
}

/* Fraction of sorted v[0..n) at or below x. */
static double
cdf(const double *v, size_t n, double x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (double)lo / (double)n;
}

/* Kolmogorov-Smirnov statistic: the largest gap between the two CDFs. */
static double
ks(const double *a, size_t na, const double *b, size_t nb)
{
	double d = 0;
	size_t i;

	for (i = 0; i < na; i++)
		d = fmax(d, fabs(cdf(a, na, a[i]) - cdf(b, nb, a[i])));
	for (i = 0; i < nb; i++)
		d = fmax(d, fabs(cdf(a, na, b[i]) - cdf(b, nb, b[i])));
	return d;
}

/* Population stability index over the reference's deciles. */
static double
psi(const double *ref, size_t nr, const double *cur, size_t nc)
{
	double s = 0, prev_r = 0, prev_c = 0;
	int k;

	for (k = 1; k <= 10; k++) {
		double edge = k == 10 ? INFINITY : ref[(size_t)((double)k / 10 * (double)(nr - 1))];
		double fr = (k == 10 ? 1 : cdf(ref, nr, edge)) - prev_r;
		double fc = (k == 10 ? 1 : cdf(cur, nc, edge)) - prev_c;

		prev_r += fr;
		prev_c += fc;
		fr = fmax(fr, 1e-4);
		fc = fmax(fc, 1e-4);
		s += (fc - fr) * log(fc / fr);
	}
	return s;
}

static int
drift(kiln_ctx *ctx, const struct kp_csv *t, struct report *r, json_t *out, json_t *rep)
{
	const kiln_value *d = kiln_param(ctx, "drift"), *cols = kiln_value_get(d, "columns");
	const char *method = kiln_value_string(kiln_value_get(d, "method"), "psi");
	double mx = kiln_value_number(kiln_value_get(d, "max"), strcmp(method, "ks") ? 0.2 : 0.1);
	char err[KP_ERRLEN], *path = kp_csv_path(kiln_input(ctx, "reference"));
	struct kp_csv ref;
	size_t c;

	if (kp_csv_read(&ref, path, err) < 0) {
		free(path);
		return kiln_fail(ctx, "reference: %s", err);
	}
	json_object_set_new(rep, "drift_limit", json_pack("{s:s, s:o}", "method", method,
		"max", kp_json_real(mx)));
	for (c = 0; c < t->ncols; c++) {
		long rc = kp_csv_col(&ref, t->header[c]);
		size_t na, nb, i;
		double *a, *b, v;
		int listed = !cols;

		for (i = 0; i < kiln_value_len(cols); i++)
			listed |= !strcmp(kiln_value_string(kiln_value_at(cols, i), ""), t->header[c]);
		if (!listed || rc < 0)
			continue;
		a = numbers(&ref, (size_t)rc, &na);
		b = numbers(t, c, &nb);
		if (a && b && na && nb) {
			v = strcmp(method, "ks") == 0 ? ks(a, na, b, nb) : psi(a, na, b, nb);
			json_object_set_new(out, t->header[c], kp_json_real(v));
			if (v > mx)
				violation(r, t->header[c], 0, "drift", "%s %.4f against %s, above max %g",
					method, v, path, mx);
		}
		free(a);
		free(b);
	}
	kp_csv_release(&ref);
	free(path);
	return 0;
}

static int
write_outputs(kiln_ctx *ctx, const char *path, json_t *rep)
{
	char err[KP_ERRLEN], *data = NULL, *rp = kp_join(kiln_output_dir(ctx), "report.json"),
		*dp = kp_join(kiln_output_dir(ctx), "data.csv");
	size_t len;
	int rc = kp_json_write(rp, rep, err);

	/* The table is the input unchanged: kiln links its blob rather than this step writing a copy. */
	if (rc == 0 && kiln_output_same(ctx, "data.csv", path) == 0)
		;
	else if (rc == 0 && (rc = kp_read_file(path, &data, &len, err)) == 0)
		rc = kp_write_file(dp, data, len, err);
	free(data);
	free(rp);
	free(dp);
	return rc < 0 ? kiln_fail(ctx, "%s", err) : 0;
}

static int
validate(kiln_ctx *ctx, const char *path, struct kp_csv *t)
{
	struct report r = { 0, json_array(), "" };
	json_t *rep = json_object(), *cols = json_object(), *dr = json_object();
	int rc = 0;

	check_rows(ctx, t, &r);
	check_columns(ctx, t, &r, cols);
	describe(t, cols);
	json_object_set_new(rep, "duplicate_rows", json_integer((json_int_t)duplicates(ctx, t, &r)));
	if (kiln_param(ctx, "balance"))
		json_object_set_new(rep, "classes", balance(ctx, t, &r));
	if (kiln_param(ctx, "drift"))
		rc = drift(ctx, t, &r, dr, rep);
	json_object_set_new(rep, "rows", json_integer((json_int_t)t->nrows));
	json_object_set_new(rep, "columns", cols);
	json_object_set_new(rep, "drift", dr);
	json_object_set_new(rep, "violations", r.list);
	json_object_set_new(rep, "violation_count", json_integer((json_int_t)r.n));
	kiln_metric(ctx, "rows", (double)t->nrows);
	kiln_metric(ctx, "violations", (double)r.n);
	if (rc == 0)
		rc = write_outputs(ctx, path, rep);
	json_decref(rep);
	if (rc == 0 && r.n)
		rc = kiln_fail(ctx, "%s: %zu violation%s%s%s", path, r.n,
			r.n == 1 ? "" : "s", r.msg, r.n > SHOWN ? "\n  …" : "");
	return rc;
}

static int
run(kiln_ctx *ctx)
{
	char err[KP_ERRLEN], *path;
	struct kp_csv t;
	int rc;

	if (check(ctx) < 0)
		return -1;
	path = kp_csv_path(kiln_input(ctx, "data"));
	if (kp_csv_read(&t, path, err) < 0) {
		free(path);
		return kiln_fail(ctx, "%s", err);
	}
	rc = validate(ctx, path, &t);
	kp_csv_release(&t);
	free(path);
	return rc;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "validate",
	.version = "1.0",
	.summary = "checks a CSV data set: schema, nulls, duplicates, rows, balance, drift",
	.check = check,
	.run = run,
};
