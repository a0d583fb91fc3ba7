/*
 * The report's document: one section per pipeline stage, each item a
 * target with its charts (Vega-Lite v5 specs, data inline) and tables.
 *
 * Everything read here was written by a build step, which may be
 * hostile: files are opened without following links, limited in size,
 * parsed by jansson, and a field of the wrong type is left out, never
 * trusted. The page shows strings as text, never as markup.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "git.h"
#include "graph.h"
#include "history.h"
#include "lock.h"
#include "paths.h"
#include "report.h"
#include "state.h"
#include "util.h"
#include "workspace.h"

/* An output larger than this is not charted (the report stays small). */
#define MAX_INPUT (64u << 20)
/* A data set's columns charted one by one; the rest are in its table. */
#define MAX_COLUMN_CHARTS 24

/* ---- reading what the build wrote ---- */

/*
 * The file rel in the workspace, opened without following links, whole
 * (NUL-terminated, *len its length), or NULL when absent, not a regular
 * file or larger than MAX_INPUT.
 */
static char *
read_beneath(const char *rel, size_t *len)
{
	struct stat st;
	char *text = NULL;
	size_t n = 0;
	int fd = kiln_fs_openat(AT_FDCWD, rel, O_RDONLY, 0);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= MAX_INPUT) {
		text = xmalloc((size_t)st.st_size + 1);
		while (n < (size_t)st.st_size) {
			ssize_t r = read(fd, text + n, (size_t)st.st_size - n);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		text[n] = '\0';
		*len = n;
	}
	close(fd);
	return text;
}

/* JSON text as an object, or NULL (flags: jansson's decoding flags). */
static json_t *
object_of(const char *text, size_t len, size_t flags)
{
	json_error_t e;
	json_t *j = text ? json_loadb(text, len, flags | JSON_REJECT_DUPLICATES, &e) : NULL;

	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* kiln-out/<target>/<file> as JSON, or NULL when absent or not JSON. */
static json_t *
load_output(const struct kiln_target *t, const char *file)
{
	char *rel = xasprintf("%s/%s/%s", KILN_OUT_DIR, t->name, file), *text;
	size_t len = 0;
	json_t *j;

	text = read_beneath(rel, &len);
	j = object_of(text, len, 0);
	free(text);
	free(rel);
	return j;
}

/* What the test plugin logs before it fails a gate (plugins/test: log_failed). */
#define FAILED_METRICS "its metrics.json, which is not kept as an output:\n"
#define FAILED_CURVES "its curves.json, which is not kept as an output:\n"

/*
 * A failed gate keeps no outputs, but its log holds its metrics.json and
 * curves.json: the JSON after `mark` in .kiln/logs/<target>.log, or NULL.
 */
static json_t *
load_failed(const struct kiln_target *t, const char *mark)
{
	char *rel = xasprintf("%s/%s.log", KILN_LOG_DIR, t->name), *text, *at;
	size_t len = 0;
	json_t *j = NULL;

	text = read_beneath(rel, &len);
	if (text && (at = strstr(text, mark)))
		j = object_of(at + strlen(mark), len - (size_t)(at + strlen(mark) - text), JSON_DISABLE_EOF_CHECK);
	free(text);
	free(rel);
	return j;
}

static double
num(const json_t *j, const char *key)
{
	const json_t *v = json_object_get(j, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A number for a chart: null unless finite. */
static json_t *
jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* ---- Vega-Lite ---- */

static json_t *
field(const char *name, const char *type, const char *title)
{
	return json_pack("{s:s, s:s, s:s}", "field", name, "type", type, "title", title);
}

/* A chart of `values` (stolen): one mark, or layers when mark is an array of layers. */
static json_t *
chart(const char *title, const char *subtitle, json_t *values, json_t *mark, json_t *enc)
{
	json_t *c = json_pack("{s:s, s:{s:s}, s:{s:o}, s:s, s:i}",
		"$schema", "https://vega.github.io/schema/vega-lite/v5.json",
		"title", "text", title, "data", "values", values, "width", "container", "height", 220);

	if (subtitle)
		json_object_set_new(json_object_get(c, "title"), "subtitle", json_string(subtitle));
	if (json_is_array(mark)) {
		json_object_set_new(c, "layer", mark);
		json_decref(enc);
	} else {
		json_object_set_new(c, "mark", mark);
		json_object_set_new(c, "encoding", enc);
	}
	return c;
}

static json_t *
mark(const char *type)
{
	return json_pack("{s:s, s:b}", "type", type, "tooltip", 1);
}

/* A layer of a layered chart. */
static json_t *
layer(json_t *mk, json_t *enc)
{
	return json_pack("{s:o, s:o}", "mark", mk, "encoding", enc);
}

/* A 1:1 reference line from (0, 0) to (1, 1), its own data. */
static json_t *
diagonal(void)
{
	return json_pack("{s:{s:[{s:i, s:i}, {s:i, s:i}]}, s:{s:s, s:s, s:s}, s:{s:{s:s, s:s}, s:{s:s, s:s}}}",
		"data", "values", "x", 0, "y", 0, "x", 1, "y", 1,
		"mark", "type", "line", "strokeDash", "4,4", "color", "#999",
		"encoding", "x", "field", "x", "type", "quantitative",
		"y", "field", "y", "type", "quantitative");
}

/* Green for a pass, red for a failure, in every chart the same. */
static json_t *
pass_color(const char *fieldname)
{
	return json_pack("{s:s, s:s, s:s, s:{s:[b, b], s:[s, s]}}", "field", fieldname, "type", "nominal",
		"title", "passed", "scale", "domain", 1, 0, "range", "#2e7d32", "#c62828");
}

/* ---- items and tables ---- */

/* An item of a section: a target, its status and what is shown of it. */
static json_t *
item(const struct kiln_target *t, const char *kind, const char *status)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:[], s:[], s:[]}", "target", t->name, "kind", kind,
		"status", status, "file", t->file ? t->file : "", "line", t->line,
		"charts", "tables", "notes");
}

static void
add_chart(json_t *it, json_t *c)
{
	json_array_append_new(json_object_get(it, "charts"), c);
}

static void
note(json_t *it, const char *msg)
{
	json_array_append_new(json_object_get(it, "notes"), json_string(msg));
}

/* A table: columns (a NULL-ended list) and rows appended with table_row. */
static json_t *
table(json_t *it, const char *title, const char *const *cols)
{
	json_t *c = json_array(), *tb;

	for (; *cols; cols++)
		json_array_append_new(c, json_string(*cols));
	tb = json_pack("{s:s, s:o, s:[]}", "title", title, "columns", c, "rows");
	json_array_append_new(json_object_get(it, "tables"), tb);
	return tb;
}

static void
table_row(json_t *tb, json_t *row)
{
	json_array_append_new(json_object_get(tb, "rows"), row);
}

/* ---- data: a dataset's report.json ---- */

static json_t *
column_chart(const char *col, const json_t *p)
{
	const json_t *h = json_object_get(p, "histogram"), *cnt = json_object_get(p, "counts");
	json_t *rows = json_array(), *v;
	char title[300];
	size_t i;

	snprintf(title, sizeof(title), "%s", col);
	if (json_is_object(h)) {
		const json_t *e = json_object_get(h, "edges"), *c = json_object_get(h, "counts");

		for (i = 0; i + 1 < json_array_size(e) && i < json_array_size(c); i++)
			json_array_append_new(rows, json_pack("{s:o, s:o, s:o}",
				"from", jnum(json_number_value(json_array_get(e, i))),
				"to", jnum(json_number_value(json_array_get(e, i + 1))),
				"rows", json_integer(json_integer_value(json_array_get(c, i)))));
		return chart(title, "histogram of the non-null values", rows, mark("bar"),
			json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s}, s:o}",
				"x", "field", "from", "type", "quantitative", "bin", "binned", "title", col,
				"x2", "field", "to", "y", field("rows", "quantitative", "rows")));
	}
	json_array_foreach(cnt, i, v)
		if (json_is_string(json_object_get(v, "value")))
			json_array_append_new(rows, json_pack("{s:O, s:O}", "value",
				json_object_get(v, "value"), "rows", json_object_get(v, "count")));
	return chart(title, "rows per value", rows, mark("bar"),
		json_pack("{s:{s:s, s:s, s:s, s:n}, s:o}",
			"x", "field", "value", "type", "nominal", "title", col, "sort",
			"y", field("rows", "quantitative", "rows")));
}

static void
data_item(json_t *it, json_t *rep)
{
	const json_t *cols = json_object_get(rep, "columns"), *drift = json_object_get(rep, "drift"),
		*lim = json_object_get(rep, "drift_limit"), *p, *v;
	double dmax = num(lim, "max");
	json_t *tb, *drows = json_array();
	const char *col;
	size_t i, shown = 0;

	tb = table(it, "Summary", (const char *const[]){ "rows", "violations", "duplicate rows", NULL });
	table_row(tb, json_pack("[o, o, o]", jnum(num(rep, "rows")), jnum(num(rep, "violation_count")),
		jnum(num(rep, "duplicate_rows"))));
	tb = table(it, "Columns", (const char *const[]){ "column", "nulls", "min", "max", "mean",
		"std", "drift", "drift limit", NULL });
	json_object_foreach((json_t *)cols, col, p) {
		double d = num(drift, col);

		table_row(tb, json_pack("[s, o, o, o, o, o, o, o]", col, jnum(num(p, "nulls")),
			jnum(num(p, "min")), jnum(num(p, "max")), jnum(num(p, "mean")),
			jnum(num(p, "std")), jnum(d), jnum(isfinite(d) ? dmax : NAN)));
		if (isfinite(d))
			json_array_append_new(drows, json_pack("{s:s, s:f, s:b}", "column", col,
				"drift", d, "passed", !(isfinite(dmax) && d > dmax)));
		if (json_is_object(p) && shown++ < MAX_COLUMN_CHARTS)
			add_chart(it, column_chart(col, p));
	}
	if (shown > MAX_COLUMN_CHARTS) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%zu more columns are in the table, not charted", shown - MAX_COLUMN_CHARTS);
		note(it, msg);
	}
	if (json_array_size(drows)) {
		char sub[160];
		json_t *layers = json_pack("[o]", layer(mark("bar"),
			json_pack("{s:o, s:o, s:o}", "x", field("column", "nominal", "column"),
				"y", field("drift", "quantitative", "drift"), "color", pass_color("passed"))));

		if (isfinite(dmax))
			json_array_append_new(layers, json_pack("{s:{s:[{s:f}]}, s:{s:s, s:s}, s:{s:{s:s, s:s}}}",
				"data", "values", "limit", dmax, "mark", "type", "rule", "color", "#c62828",
				"encoding", "y", "field", "limit", "type", "quantitative"));
		snprintf(sub, sizeof(sub), "%s against the reference; the line is the limit",
			json_string_value(json_object_get(lim, "method")) ?
			json_string_value(json_object_get(lim, "method")) : "drift");
		add_chart(it, chart("Drift per column", sub, drows, layers, NULL));
	} else {
		json_decref(drows);
	}
	v = json_object_get(rep, "violations");
	if (json_array_size(v)) {
		tb = table(it, "Violations", (const char *const[]){ "column", "row", "rule", "message", NULL });
		for (i = 0; i < json_array_size(v); i++) {
			json_t *x = json_array_get(v, i);

			table_row(tb, json_pack("[O, O, O, O]",
				json_object_get(x, "column") ? json_object_get(x, "column") : json_null(),
				json_object_get(x, "row") ? json_object_get(x, "row") : json_null(),
				json_object_get(x, "rule") ? json_object_get(x, "rule") : json_null(),
				json_object_get(x, "message") ? json_object_get(x, "message") : json_null()));
		}
	}
}

/* ---- training: a model's history.json ---- */

static void
model_item(json_t *it, json_t *hist)
{
	const json_t *ep = json_object_get(hist, "epochs"), *e;
	json_t *rows = json_array();
	size_t i;

	json_array_foreach(ep, i, e) {
		double n = num(e, "epoch"), loss = num(e, "loss"), val = num(e, "val");

		if (isfinite(loss))
			json_array_append_new(rows, json_pack("{s:f, s:s, s:f}", "epoch", n, "series",
				"training loss", "loss", loss));
		if (isfinite(val))
			json_array_append_new(rows, json_pack("{s:f, s:s, s:f}", "epoch", n, "series",
				"validation loss", "loss", val));
	}
	if (!json_array_size(rows)) {
		json_decref(rows);
		note(it, "history.json has no epochs to chart");
		return;
	}
	add_chart(it, chart("Loss per epoch", "training (and validation) loss, by epoch", rows,
		json_pack("{s:s, s:b, s:b}", "type", "line", "point", 0, "tooltip", 1),
		json_pack("{s:o, s:o, s:o}", "x", field("epoch", "quantitative", "epoch"),
			"y", field("loss", "quantitative", "loss"),
			"color", field("series", "nominal", "series"))));
}

/* ---- tests: metrics.json and curves.json ---- */

static void
gates(json_t *it, const json_t *checks)
{
	json_t *rows = json_array(), *c, *tb;
	size_t i;

	if (!json_array_size(checks)) {
		json_decref(rows);
		return;
	}
	tb = table(it, "Gates", (const char *const[]){ "check", "kind", "limit", "value", "passed", NULL });
	json_array_foreach((json_t *)checks, i, c) {
		const char *name = json_string_value(json_object_get(c, "metric"));
		int ok = json_is_true(json_object_get(c, "passed"));

		if (!name)
			continue;
		json_array_append_new(rows, json_pack("{s:s, s:o, s:o, s:b}", "check", name,
			"value", jnum(num(c, "value")), "limit", jnum(num(c, "limit")), "passed", ok));
		table_row(tb, json_pack("[s, O, o, o, b]", name, json_object_get(c, "kind") ?
			json_object_get(c, "kind") : json_null(), jnum(num(c, "limit")),
			jnum(num(c, "value")), ok));
	}
	add_chart(it, chart("Gates", "each value (bar) against its limit (black tick); red when it failed",
		rows, json_pack("[o, o]",
			layer(mark("bar"), json_pack("{s:o, s:o, s:o}", "y", field("check", "nominal", "check"),
				"x", field("value", "quantitative", "value"), "color", pass_color("passed"))),
			layer(json_pack("{s:s, s:s, s:i, s:i}", "type", "tick", "color", "black",
				"thickness", 3, "size", 18),
				json_pack("{s:o, s:o}", "y", field("check", "nominal", "check"),
					"x", field("limit", "quantitative", "limit")))), NULL));
}

static void
confusion(json_t *it, const json_t *m, const json_t *classes)
{
	const json_t *cm = json_object_get(m, "confusion");
	json_t *rows = json_array();
	size_t i, j;
	char a[32], b[32];

	for (i = 0; i < json_array_size(cm); i++)
		for (j = 0; j < json_array_size(json_array_get(cm, i)); j++) {
			const char *ti = json_string_value(json_array_get(classes, i)),
				*pj = json_string_value(json_array_get(classes, j));

			snprintf(a, sizeof(a), "%zu", i);
			snprintf(b, sizeof(b), "%zu", j);
			json_array_append_new(rows, json_pack("{s:s, s:s, s:O}", "true", ti ? ti : a,
				"predicted", pj ? pj : b, "rows", json_array_get(json_array_get(cm, i), j)));
		}
	if (!json_array_size(rows)) {
		json_decref(rows);
		return;
	}
	add_chart(it, chart("Confusion matrix", "rows of the test split, by true and predicted class", rows,
		json_pack("[o, o]",
			layer(mark("rect"), json_pack("{s:o, s:o, s:{s:s, s:s, s:s, s:{s:s}}}",
				"x", field("predicted", "nominal", "predicted class"),
				"y", field("true", "nominal", "true class"),
				"color", "field", "rows", "type", "quantitative", "title", "rows",
				"scale", "scheme", "blues")),
			layer(json_pack("{s:s, s:s}", "type", "text", "color", "black"),
				json_pack("{s:o, s:o, s:o}", "x", field("predicted", "nominal", "predicted class"),
					"y", field("true", "nominal", "true class"),
					"text", field("rows", "quantitative", "rows")))), NULL));
}

/* One chart of a curve per class: curves.json's classes.<c>.<key>.{x, y}. */
static void
curve_chart(json_t *it, const json_t *per, const char *key, const char *xk, const char *yk,
	const char *title, const char *sub, const char *xt, const char *yt, int diag)
{
	json_t *rows = json_array(), *layers;
	const json_t *cv;
	const char *cls;
	size_t i;

	json_object_foreach((json_t *)per, cls, cv) {
		const json_t *c = json_object_get(cv, key), *x = json_object_get(c, xk),
			*y = json_object_get(c, yk);

		for (i = 0; i < json_array_size(x) && i < json_array_size(y); i++)
			json_array_append_new(rows, json_pack("{s:s, s:o, s:o, s:I}", "class", cls,
				xk, jnum(json_number_value(json_array_get(x, i))),
				yk, jnum(json_number_value(json_array_get(y, i))), "order", (json_int_t)i));
	}
	if (!json_array_size(rows)) {
		json_decref(rows);
		return;
	}
	layers = json_pack("[o]", layer(json_pack("{s:s, s:b, s:b}", "type", "line", "point", 1, "tooltip", 1),
		json_pack("{s:o, s:o, s:o, s:{s:s}}", "x", field(xk, "quantitative", xt),
			"y", field(yk, "quantitative", yt), "color", field("class", "nominal", "class"),
			"order", "field", "order")));
	if (diag)
		json_array_insert_new(layers, 0, diagonal());
	add_chart(it, chart(title, sub, rows, layers, NULL));
}

static void
regression(json_t *it, const json_t *cv)
{
	const json_t *yt = json_object_get(cv, "y_true"), *yp = json_object_get(cv, "y_pred");
	json_t *rows = json_array();
	size_t i;

	for (i = 0; i < json_array_size(yt) && i < json_array_size(yp); i++) {
		double t = json_number_value(json_array_get(yt, i)), p = json_number_value(json_array_get(yp, i));

		json_array_append_new(rows, json_pack("{s:o, s:o, s:o}", "true", jnum(t),
			"predicted", jnum(p), "residual", jnum(t - p)));
	}
	if (!json_array_size(rows)) {
		json_decref(rows);
		return;
	}
	add_chart(it, chart("Predicted against true", "each point a row of the test split", json_deep_copy(rows),
		mark("point"), json_pack("{s:o, s:o}", "x", field("true", "quantitative", "true value"),
			"y", field("predicted", "quantitative", "predicted value"))));
	add_chart(it, chart("Residuals", "true minus predicted, binned", rows, mark("bar"),
		json_pack("{s:{s:s, s:s, s:{s:i}, s:s}, s:{s:s, s:s}}",
			"x", "field", "residual", "type", "quantitative", "bin", "maxbins", 30, "title", "residual",
			"y", "aggregate", "count", "title", "rows")));
}

static void
test_item(json_t *it, json_t *met, json_t *cv, const json_t *classes)
{
	const json_t *m = json_object_get(met, "metrics"), *v;
	const char *k;
	json_t *tb;

	gates(it, json_object_get(met, "checks"));
	tb = table(it, "Metrics", (const char *const[]){ "metric", "value", NULL });
	json_object_foreach((json_t *)m, k, v)
		if (json_is_number(v))
			table_row(tb, json_pack("[s, f]", k, json_number_value(v)));
	if (json_is_object(json_object_get(m, "confusion")) || json_is_array(json_object_get(m, "confusion")))
		confusion(it, m, classes);
	if (!cv) {
		note(it, "no curves.json: built by an older test plugin, or not a probabilistic model");
		return;
	}
	if (json_is_array(json_object_get(cv, "y_true"))) {
		regression(it, cv);
		return;
	}
	v = json_object_get(cv, "classes");
	curve_chart(it, v, "roc", "fpr", "tpr", "ROC curve", "true against false positive rate, per class (one against the rest)",
		"false positive rate", "true positive rate", 1);
	curve_chart(it, v, "pr", "recall", "precision", "Precision-recall curve", "per class (one against the rest)",
		"recall", "precision", 0);
	curve_chart(it, v, "calibration", "prob_pred", "prob_true", "Calibration",
		"fraction of positives against the mean predicted probability, 10 bins", "mean predicted probability",
		"fraction of positives", 1);
}

/* The class names of a model: its model.json's "classes", if any. */
static json_t *
model_classes(const struct kiln_graph *g, const struct kiln_target *t)
{
	size_t i;

	for (i = 0; i < t->ninputs; i++) {
		const struct kiln_target *d = t->inputs[i].dep;

		if (d && strcmp(t->inputs[i].name, "model") == 0) {
			json_t *mj = load_output(d, "model.json"), *c;

			c = json_incref(json_object_get(mj, "classes"));
			json_decref(mj);
			return c;
		}
	}
	(void)g;
	return NULL;
}

/* ---- fairness ---- */

static void
fairness_item(json_t *it, const json_t *f, const json_t *checks)
{
	const json_t *pg = json_object_get(f, "per_group"), *g, *c;
	json_t *rows = json_array(), *diffs = json_array(), *tb;
	const char *gn, *mk;
	size_t i;

	tb = table(it, "Per group", (const char *const[]){ "group", "rows", "accuracy", "selection rate",
		"true positive rate", NULL });
	json_object_foreach((json_t *)pg, gn, g) {
		table_row(tb, json_pack("[s, o, o, o, o]", gn, jnum(num(g, "rows")), jnum(num(g, "accuracy")),
			jnum(num(g, "selection_rate")), jnum(num(g, "true_positive_rate"))));
		for (i = 0; i < 3; i++) {
			mk = (const char *[]){ "accuracy", "selection_rate", "true_positive_rate" }[i];
			if (isfinite(num(g, mk)))
				json_array_append_new(rows, json_pack("{s:s, s:s, s:f}", "group", gn, "metric", mk,
					"value", num(g, mk)));
		}
	}
	add_chart(it, chart("Metrics per group", "accuracy, selection rate and true positive rate of each group",
		rows, mark("bar"), json_pack("{s:o, s:o, s:o, s:o}", "x", field("metric", "nominal", "metric"),
			"xOffset", field("group", "nominal", "group"), "y", field("value", "quantitative", "value"),
			"color", field("group", "nominal", "group"))));
	/* The differences with their limits, from the gate's checks. */
	for (i = 0; i < 2; i++) {
		const char *key = i ? "equal_opportunity_diff" : "demographic_parity_diff",
			*label = i ? "equal opportunity difference" : "demographic parity difference";
		double lim = NAN;
		int ok = 1;
		size_t k;

		if (!isfinite(num(f, key)))
			continue;
		json_array_foreach((json_t *)checks, k, c)
			if (json_is_string(json_object_get(c, "metric")) &&
			    strcmp(json_string_value(json_object_get(c, "metric")), label) == 0) {
				lim = num(c, "limit");
				ok = json_is_true(json_object_get(c, "passed"));
			}
		json_array_append_new(diffs, json_pack("{s:s, s:f, s:o, s:b}", "measure", label, "value",
			num(f, key), "limit", jnum(lim), "passed", ok));
	}
	json_object_foreach(json_object_get(f, "max_gap"), mk, g) {
		char label[160];
		double lim = NAN;
		int ok = 1;
		size_t k;

		snprintf(label, sizeof(label), "gap in %s between groups", mk);
		json_array_foreach((json_t *)checks, k, c)
			if (json_is_string(json_object_get(c, "metric")) &&
			    strcmp(json_string_value(json_object_get(c, "metric")), label) == 0) {
				lim = num(c, "limit");
				ok = json_is_true(json_object_get(c, "passed"));
			}
		if (json_is_number(g))
			json_array_append_new(diffs, json_pack("{s:s, s:f, s:o, s:b}", "measure", label,
				"value", json_number_value(g), "limit", jnum(lim), "passed", ok));
	}
	if (!json_array_size(diffs)) {
		json_decref(diffs);
		return;
	}
	add_chart(it, chart("Differences between groups", "each difference (bar) against its limit (black tick); red when it failed",
		diffs, json_pack("[o, o]",
			layer(mark("bar"), json_pack("{s:o, s:o, s:o}", "y", field("measure", "nominal", "measure"),
				"x", field("value", "quantitative", "difference"), "color", pass_color("passed"))),
			layer(json_pack("{s:s, s:s, s:i, s:i}", "type", "tick", "color", "black", "thickness", 3, "size", 18),
				json_pack("{s:o, s:o}", "y", field("measure", "nominal", "measure"),
					"x", field("limit", "quantitative", "limit")))), NULL));
}

/* ---- experiments: metrics across git revisions ---- */

/* The metrics of a Kilnfile.lock's text, as rows of the revisions chart. */
static void
lock_metrics(const char *text, size_t len, const char *rev, const char *label, size_t order, json_t *rows)
{
	struct kiln_lockfile lf = { 0 };
	size_t i;

	if (kiln_lock_parse(&lf, text, len) < 0)
		return;
	for (i = 0; i < lf.n; i++)
		if (lf.v[i].kind == KILN_LOCK_METRIC && isfinite(lf.v[i].value))
			json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:f}", "target",
				lf.v[i].target, "metric", lf.v[i].name, "revision", rev, "label", label,
				"order", (json_int_t)order, "value", lf.v[i].value));
	kiln_lockfile_release(&lf);
}

/* One chart per metric name: its value at each revision, a line per target. */
static void
revision_charts(json_t *it, json_t *rows)
{
	json_t *names = json_object(), *r, *v;
	const char *name;
	size_t i, charts = 0;

	json_array_foreach(rows, i, r) {
		const char *m = json_string_value(json_object_get(r, "metric"));

		if (!json_object_get(names, m))
			json_object_set_new(names, m, json_array());
		json_array_append(json_object_get(names, m), r);
	}
	json_object_foreach(names, name, v) {
		char title[300];

		if (charts++ == MAX_COLUMN_CHARTS) {
			note(it, "more metrics were recorded than are charted here");
			break;
		}
		snprintf(title, sizeof(title), "%s across revisions", name);
		add_chart(it, chart(title, "one line per target; the oldest commit on the left", json_incref(v),
			json_pack("{s:s, s:b, s:b}", "type", "line", "point", 1, "tooltip", 1),
			json_pack("{s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:o, s:o}",
				"x", "field", "label", "type", "ordinal", "title", "commit (date, hash)",
				"sort", "field", "order", "order", "ascending",
				"y", field("value", "quantitative", name),
				"color", field("target", "nominal", "target"))));
	}
	json_decref(names);
	json_decref(rows);
}

/* Kilnfile.lock's metrics at the last n commits that changed it. */
static json_t *
revisions(int n)
{
	char *log = kiln_git_log(KILN_LOCKFILE, n), *line, *save = NULL, **revs = NULL;
	json_t *rows = json_array(), *sec, *it;
	size_t nrev = 0, i;

	sec = json_pack("{s:s, s:s, s:[]}", "id", "revisions", "title", "Metrics across git revisions", "items");
	for (line = log ? strtok_r(log, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		revs = xreallocarray(revs, nrev + 1, sizeof(*revs));
		revs[nrev++] = line;
	}
	/* git log lists the newest first; the charts read left to right. */
	for (i = 0; i < nrev; i++) {
		char full[64], shortrev[64], date[32], label[100], *lock;
		size_t len;

		if (sscanf(revs[i], "%63s %63s %31s", full, shortrev, date) != 3)
			continue;
		snprintf(label, sizeof(label), "%s %s", date, shortrev);
		if ((lock = kiln_git_show(full, KILN_LOCKFILE, &len)))
			lock_metrics(lock, len, shortrev, label, nrev - 1 - i, rows);
		free(lock);
	}
	free(revs);
	free(log);
	if (!json_array_size(rows)) {
		json_decref(rows);
		return sec;
	}
	it = json_pack("{s:s, s:s, s:s, s:[], s:[], s:[]}", "target", KILN_LOCKFILE, "kind", "revisions",
		"status", "recorded", "charts", "tables", "notes");
	revision_charts(it, rows);
	json_array_append_new(json_object_get(sec, "items"), it);
	return sec;
}

/* ---- experiments: sweeps and the run history ---- */

/* Most (run, target) rows of the history in the runs table: the newest. */
#define MAX_RUN_ROWS 500

/* A variant's value as a number if it reads as one, else as a string. */
static json_t *
variant_value(const char *v, size_t len)
{
	char *s = xstrndup(v, len), *end;
	double x = strtod(s, &end);
	json_t *j = *s && !*end && isfinite(x) ? json_real(x) : json_string(s);

	free(s);
	return j ? j : json_null();
}

/*
 * The variant part of a name made by kiln.grid ("base@k=v,k2=v2") as an
 * object {k: v, ...} (numbers as numbers), the base in *base; NULL when
 * the name has none.
 */
static json_t *
variant_of(const char *name, char **base)
{
	const char *at = strchr(name, '@'), *p;
	json_t *o;

	if (!at || !at[1])
		return NULL;
	o = json_object();
	for (p = at + 1; *p;) {
		const char *end = p + strcspn(p, ","), *eq = memchr(p, '=', (size_t)(end - p));
		char *k;

		if (!eq || eq == p) {
			json_decref(o);
			return NULL;
		}
		k = xstrndup(p, (size_t)(eq - p));
		json_object_set_new(o, k, variant_value(eq + 1, (size_t)(end - eq - 1)));
		free(k);
		p = *end ? end + 1 : end;
	}
	*base = xstrndup(name, (size_t)(at - name));
	return o;
}

/* Do the rows' "value"s differ? A metric the same for every variant is not charted. */
static int
varies(const json_t *rows)
{
	size_t i;

	for (i = 1; i < json_array_size(rows); i++)
		if (num(json_array_get(rows, i), "value") != num(json_array_get(rows, 0), "value"))
			return 1;
	return 0;
}

/*
 * For each family of variants (targets named base@...) with metrics: each
 * metric against each varied param, from what the state recorded.
 */
static void
sweep_items(struct kiln_workspace *ws, json_t *sec)
{
	json_t *families = json_object(), *fam, *r;
	const char *base;
	size_t i;

	for (i = 0; i < ws->graph.ntargets; i++) {
		const struct kiln_target *t = ws->graph.targets[i];
		struct kiln_record *rec = t->wanted ? kiln_state_get(&ws->state, t->name) : NULL;
		char *b = NULL;
		json_t *v;
		size_t k;

		if (!rec || !rec->nmetrics || !(v = variant_of(t->name, &b)))
			continue;
		for (k = 0; k < rec->nmetrics; k++)
			if (isfinite(rec->metrics[k].value)) {
				json_t *row = json_deep_copy(v);

				json_object_set_new(row, "target", json_string(t->name));
				json_object_set_new(row, "metric", json_string(rec->metrics[k].name));
				json_object_set_new(row, "value", json_real(rec->metrics[k].value));
				if (!json_object_get(families, b))
					json_object_set_new(families, b, json_pack("{s:[], s:O}", "rows", "keys", v));
				json_array_append_new(json_object_get(json_object_get(families, b), "rows"), row);
			}
		json_decref(v);
		free(b);
	}
	json_object_foreach(families, base, fam) {
		const json_t *keys = json_object_get(fam, "keys"), *kv, *mv;
		json_t *rows = json_object_get(fam, "rows"), *metrics = json_object(), *it;
		const char *key, *m;
		size_t charts = 0;

		it = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[], s:[], s:[]}", "target", base, "kind", "sweep",
			"status", "recorded", "file", "", "line", 0, "charts", "tables", "notes");
		json_array_foreach(rows, i, r)
			json_object_set_new(metrics, json_string_value(json_object_get(r, "metric")), json_true());
		json_object_foreach(metrics, m, mv)
			json_object_foreach((json_t *)keys, key, kv) {
				json_t *mine = json_array(), *enc;
				const char *other = NULL, *k2;
				const json_t *x;
				char title[400];

				json_array_foreach(rows, i, r)
					if (strcmp(json_string_value(json_object_get(r, "metric")), m) == 0)
						json_array_append(mine, r);
				if (!varies(mine)) {
					json_decref(mine);
					continue;
				}
				json_object_foreach((json_t *)keys, k2, x)
					if (strcmp(k2, key) != 0)
						other = other ? "" : k2;
				if (charts++ == MAX_COLUMN_CHARTS) {
					json_decref(mine);
					note(it, "more metric and param pairs than are charted here");
					break;
				}
				snprintf(title, sizeof(title), "%s against %s", m, key);
				/* A grid's values are few and chosen: one place each on the axis. */
				enc = json_pack("{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:{s:b}}}",
					"x", "field", key, "type", "ordinal", "title", key,
					"y", "field", "value", "type", "quantitative", "title", m, "scale", "zero", 0);
				if (other && *other)
					json_object_set_new(enc, "color", field(other, "nominal", other));
				add_chart(it, chart(title, "each variant of the sweep, as last built", mine,
					json_pack("{s:s, s:b, s:b}", "type", "line", "point", 1, "tooltip", 1), enc));
			}
		json_decref(metrics);
		json_array_append_new(json_object_get(sec, "items"), it);
	}
	json_decref(families);
}

/* A select's choice: every candidate's value, the winner marked. */
static void
select_item(json_t *it, const json_t *sel)
{
	const json_t *cands = json_object_get(sel, "candidates"), *c;
	const char *by = json_string_value(json_object_get(sel, "by")),
		*on = json_string_value(json_object_get(sel, "ranked_on"));
	json_int_t win = json_integer_value(json_object_get(json_object_get(sel, "winner"), "position"));
	json_t *rows = json_array(), *tb;
	char title[300], sub[300];
	size_t i;

	tb = table(it, "Candidates", (const char *const[]){ "position", "model", "value", "validation",
		"test", "chosen", "left out", NULL });
	json_array_foreach((json_t *)cands, i, c) {
		const char *model = json_string_value(json_object_get(c, "model"));
		json_int_t pos = json_integer_value(json_object_get(c, "position"));
		const json_t *why = json_object_get(c, "left_out");

		if (!model)
			continue;
		table_row(tb, json_pack("[I, s, o, o, o, b, o]", pos, model, jnum(num(c, "value")),
			jnum(num(c, "validation_value")), jnum(num(c, "test_value")), pos == win,
			json_is_string(why) ? json_copy((json_t *)why) : json_null()));
		if (isfinite(num(c, "value")))
			json_array_append_new(rows, json_pack("{s:s, s:f, s:s}", "model", model, "value",
				num(c, "value"), "choice", pos == win ? "chosen" : "candidate"));
	}
	snprintf(title, sizeof(title), "Candidates by %s", by ? by : "metric");
	snprintf(sub, sizeof(sub), "ranked on the %s rows; goal %s", on ? on : "test",
		json_string_value(json_object_get(sel, "goal")) ? json_string_value(json_object_get(sel, "goal")) : "max");
	add_chart(it, chart(title, sub, rows, mark("bar"), json_pack("{s:{s:s, s:s, s:s, s:n}, s:o, s:o}",
		"y", "field", "model", "type", "nominal", "title", "candidate", "sort",
		"x", field("value", "quantitative", by ? by : "value"), "color", field("choice", "nominal", "choice"))));
}

/* A JSON value of the history, parsed (NULL when it is not JSON). */
static json_t *
parse_value(const char *text)
{
	json_error_t e;

	return json_loads(text, JSON_DECODE_ANY, &e);
}

/* The runs of `kiln exp show` as one sortable table, newest first. */
static void
runs_item(json_t *sec, const json_t *wanted)
{
	struct kiln_history h;
	json_t *params = json_object(), *metrics = json_object(), *cols, *tb, *it, *v;
	const char *k;
	size_t i, j, n = 0, shown = 0;

	if (kiln_history_load(&h, KILN_HISTORY_PATH) < 0) {
		json_decref(params);
		json_decref(metrics);
		return;
	}
	if (h.n == 0) {
		kiln_history_release(&h);
		json_decref(params);
		json_decref(metrics);
		return;
	}
	/* The params that differ across the rows, and every metric. */
	for (i = h.n; i-- > 0 && n < MAX_RUN_ROWS;)
		for (j = 0; j < h.runs[i].ntargets && n < MAX_RUN_ROWS; j++) {
			const struct kiln_run_target *t = &h.runs[i].targets[j];
			size_t p;

			if (!json_object_get(wanted, t->name))
				continue;
			n++;

			for (p = 0; p < t->nparams; p++) {
				json_t *seen = json_object_get(params, t->params[p].name);

				if (!seen)
					json_object_set_new(params, t->params[p].name, json_pack("{s:s, s:b}",
						"first", t->params[p].json, "varies", 0));
				else if (strcmp(json_string_value(json_object_get(seen, "first")), t->params[p].json))
					json_object_set_new(seen, "varies", json_true());
			}
			for (p = 0; p < t->nmetrics; p++)
				json_object_set_new(metrics, t->metrics[p].name, json_true());
		}
	if (n == 0) {
		json_decref(params);
		json_decref(metrics);
		kiln_history_release(&h);
		return;
	}
	cols = json_pack("[s, s, s, s, s]", "run", "start", "commit", "target", "status");
	json_object_foreach(params, k, v)
		if (json_is_true(json_object_get(v, "varies")))
			json_array_append_new(cols, json_string(k));
	json_object_foreach(metrics, k, v)
		json_array_append_new(cols, json_string(k));
	it = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[], s:[], s:[]}", "target", "kiln exp show", "kind", "runs",
		"status", "recorded", "file", KILN_HISTORY_PATH, "line", 0, "charts", "tables", "notes");
	tb = json_pack("{s:s, s:o, s:[]}", "title", "Runs (newest first; a click on a column sorts by it)",
		"columns", cols, "rows");
	for (i = h.n; i-- > 0 && shown < MAX_RUN_ROWS;)
		for (j = 0; j < h.runs[i].ntargets && shown < MAX_RUN_ROWS; j++) {
			const struct kiln_run *run = &h.runs[i];
			const struct kiln_run_target *t = &run->targets[j];
			json_t *row;
			size_t c, p;

			if (!json_object_get(wanted, t->name))
				continue;
			shown++;
			row = json_pack("[I, s, s, s, s]", (json_int_t)run->id, run->start,
				*run->commit ? run->commit : "", t->name, t->status);

			if (*run->commit)
				json_array_set_new(row, 2, json_sprintf("%.10s%s", run->commit, run->dirty ? "+" : ""));
			for (c = 5; c < json_array_size(cols); c++) {
				const char *name = json_string_value(json_array_get(cols, c));
				json_t *cell = NULL;

				for (p = 0; !cell && p < t->nparams; p++)
					if (strcmp(t->params[p].name, name) == 0)
						cell = parse_value(t->params[p].json);
				for (p = 0; !cell && p < t->nmetrics; p++)
					if (strcmp(t->metrics[p].name, name) == 0)
						cell = jnum(t->metrics[p].value);
				json_array_append_new(row, cell ? cell : json_null());
			}
			table_row(tb, row);
		}
	json_array_append_new(json_object_get(it, "tables"), tb);
	if (shown == MAX_RUN_ROWS)
		note(it, "the newest 500 rows of the history only: kiln exp show lists all");
	json_array_append_new(json_object_get(sec, "items"), it);
	json_decref(params);
	json_decref(metrics);
	kiln_history_release(&h);
}

/* ---- the document ---- */

struct sections {
	json_t *data, *training, *tests, *fairness, *experiments;
	json_t *not_built;
};

static json_t *
section(const char *id, const char *title)
{
	return json_pack("{s:s, s:s, s:[]}", "id", id, "title", title, "items");
}

static void
add_item(json_t *sec, json_t *it)
{
	json_array_append_new(json_object_get(sec, "items"), it);
}

/* The plugins whose outputs the report charts. */
static int
charted(const char *plugin)
{
	return !strcmp(plugin, "validate") || !strcmp(plugin, "train") || !strcmp(plugin, "test") ||
		!strcmp(plugin, "select");
}

/* What the target's plugin wrote, charted in its section. */
static void
report_target(struct kiln_workspace *ws, struct kiln_target *t, struct sections *s)
{
	int built = kiln_state_get(&ws->state, t->name) != NULL;
	json_t *a = NULL, *b = NULL, *it;

	if (strcmp(t->plugin, "validate") == 0 && (a = load_output(t, "report.json"))) {
		it = item(t, "dataset", json_integer_value(json_object_get(a, "violation_count")) ? "failed" : "passed");
		data_item(it, a);
		add_item(s->data, it);
	} else if (strcmp(t->plugin, "train") == 0 && (a = load_output(t, "history.json"))) {
		it = item(t, "model", "trained");
		model_item(it, a);
		add_item(s->training, it);
	} else if (strcmp(t->plugin, "test") == 0 &&
		   ((a = load_output(t, "metrics.json")) || (a = load_failed(t, FAILED_METRICS)))) {
		json_t *classes = model_classes(&ws->graph, t);
		int failed = json_is_false(json_object_get(a, "passed"));

		b = failed ? load_failed(t, FAILED_CURVES) : load_output(t, "curves.json");
		it = item(t, "test", failed ? "failed" : "passed");
		if (failed)
			note(it, "the gate failed, so its outputs were not kept: these numbers are from its log in " KILN_LOG_DIR "/");
		test_item(it, a, b, classes);
		add_item(s->tests, it);
		if (json_is_object(json_object_get(a, "fairness"))) {
			it = item(t, "fairness", failed ? "failed" : "passed");
			fairness_item(it, json_object_get(a, "fairness"), json_object_get(a, "checks"));
			add_item(s->fairness, it);
		}
		json_decref(classes);
	} else if (strcmp(t->plugin, "select") == 0 && (a = load_output(t, "selection.json"))) {
		it = item(t, "select", "chosen");
		select_item(it, a);
		add_item(s->experiments, it);
	} else if (!built || charted(t->plugin)) {
		/* Never built, or its outputs are not in kiln-out/ (its last build failed, or kiln clean). */
		json_array_append_new(s->not_built, json_pack("{s:s, s:s, s:s, s:i, s:s}", "target", t->name,
			"plugin", t->plugin, "file", t->file ? t->file : "", "line", t->line,
			"why", built ? "its outputs are not in kiln-out/" : "never built"));
	}
	json_decref(a);
	json_decref(b);
}

json_t *
kiln_report_collect(struct kiln_workspace *ws, const struct kiln_report_opts *o)
{
	struct kiln_graph *g = &ws->graph;
	struct sections s;
	json_t *doc, *wanted;
	size_t i;

	if (kiln_graph_want(g, o->targets, o->ntargets) < 0)
		return NULL;
	s = (struct sections){ section("data", "Data"), section("training", "Training"),
		section("tests", "Tests"), section("fairness", "Fairness"),
		section("experiments", "Experiments"), json_array() };
	for (i = 0; i < g->ntargets; i++)
		if (g->targets[i]->wanted)
			report_target(ws, g->targets[i], &s);
	sweep_items(ws, s.experiments);
	wanted = json_object();
	for (i = 0; i < g->ntargets; i++)
		if (g->targets[i]->wanted)
			json_object_set_new(wanted, g->targets[i]->name, json_true());
	runs_item(s.experiments, wanted);
	json_decref(wanted);
	doc = json_pack("{s:i, s:s, s:[o, o, o, o, o], s:o}", "kiln_report", 1, "workspace", ws->root,
		"sections", s.data, s.training, s.tests, s.fairness, s.experiments, "not_built", s.not_built);
	if (o->revisions > 0)
		json_array_append_new(json_object_get(doc, "sections"), revisions(o->revisions));
	return doc;
}

/* ---- the page ---- */

/* The page's parts, built into kiln from report/ (core/report_assets.S). */
#define ASSET(name) extern const char kiln_asset_##name[], kiln_asset_##name##_end[]
ASSET(vega);
ASSET(vega_lite);
ASSET(vega_embed);
ASSET(page_js);
ASSET(page_css);

static void
add_asset(struct buf *b, const char *start, const char *end)
{
	buf_add(b, start, (size_t)(end - start));
}

/*
 * The document as the page's data: every '<' written as \u003c, so no
 * string in it can close the <script> element it sits in.
 */
static void
add_json(struct buf *b, const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS), *p;

	if (!s)
		die("out of memory");
	for (p = s; *p; p++) {
		if (*p == '<')
			buf_adds(b, "\\u003c");
		else
			buf_addc(b, *p);
	}
	free(s);
}

char *
kiln_report_html(const json_t *doc, size_t *len)
{
	struct buf b = { 0 };

	buf_adds(&b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		/* Nothing leaves the page: no fetch, no image, no font from anywhere. */
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:\">\n"
		"<meta name=\"generator\" content=\"kiln " KILN_VERSION "\">\n"
		"<title>kiln report</title>\n<style>\n");
	add_asset(&b, kiln_asset_page_css, kiln_asset_page_css_end);
	buf_adds(&b, "</style>\n<script>\n");
	add_asset(&b, kiln_asset_vega, kiln_asset_vega_end);
	buf_adds(&b, "\n</script>\n<script>\n");
	add_asset(&b, kiln_asset_vega_lite, kiln_asset_vega_lite_end);
	buf_adds(&b, "\n</script>\n<script>\n");
	add_asset(&b, kiln_asset_vega_embed, kiln_asset_vega_embed_end);
	buf_adds(&b, "\n</script>\n</head>\n<body>\n<main id=\"main\"></main>\n"
		"<script type=\"application/json\" id=\"kiln-report\">");
	add_json(&b, doc);
	buf_adds(&b, "</script>\n<script>\n");
	add_asset(&b, kiln_asset_page_js, kiln_asset_page_js_end);
	buf_adds(&b, "\n</script>\n</body>\n</html>\n");
	*len = b.len;
	return buf_detach(&b);
}
