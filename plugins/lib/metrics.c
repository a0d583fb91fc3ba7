/*
 * Evaluation metrics as JSON objects, summed in double in a fixed order.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "json.h"
#include "util.h"

static int
by_score(const void *a, const void *b, void *s)
{
	const float *sc = s;
	float x = sc[*(const size_t *)a], y = sc[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

double
kp_roc_auc(const int64_t *y, const float *score, size_t n)
{
	size_t *idx = kp_xmallocarray(n, sizeof(size_t)), i, j, pos = 0;
	double ranks = 0;

	for (i = 0; i < n; i++) {
		idx[i] = i;
		pos += y[i] == 1;
	}
	qsort_r(idx, n, sizeof(size_t), by_score, (void *)score);
	/* Mann-Whitney U: average ranks over ties. */
	for (i = 0; i < n; i = j) {
		double r;
		size_t k;

		for (j = i + 1; j < n && score[idx[j]] == score[idx[i]]; j++)
			;
		r = (double)(i + 1 + j) / 2;
		for (k = i; k < j; k++)
			if (y[idx[k]] == 1)
				ranks += r;
	}
	free(idx);
	if (pos == 0 || pos == n)
		return NAN;
	return (ranks - (double)pos * (pos + 1) / 2) / ((double)pos * (double)(n - pos));
}

static json_t *
confusion(const size_t *cm, size_t k)
{
	json_t *rows = json_array();
	size_t i, j;

	for (i = 0; i < k; i++) {
		json_t *r = json_array();

		for (j = 0; j < k; j++)
			json_array_append_new(r, json_integer((json_int_t)cm[i * k + j]));
		json_array_append_new(rows, r);
	}
	return rows;
}

/* Per-class precision, recall, F1 and support; macro means into o. */
static json_t *
per_class(const size_t *cm, size_t k, char *const *classes, json_t *o)
{
	json_t *pc = json_object();
	double mp = 0, mr = 0, mf = 0;
	size_t i, j;

	for (i = 0; i < k; i++) {
		size_t tp = cm[i * k + i], col = 0, row = 0;
		double p, r, f;

		for (j = 0; j < k; j++) {
			col += cm[j * k + i];
			row += cm[i * k + j];
		}
		p = col ? (double)tp / col : 0;
		r = row ? (double)tp / row : 0;
		f = p + r > 0 ? 2 * p * r / (p + r) : 0;
		mp += p;
		mr += r;
		mf += f;
		json_object_set_new(pc, classes[i], json_pack("{s:o, s:o, s:o, s:I}",
			"precision", kp_json_real(p), "recall", kp_json_real(r),
			"f1", kp_json_real(f), "support", (json_int_t)row));
	}
	json_object_set_new(o, "precision_macro", kp_json_real(mp / k));
	json_object_set_new(o, "recall_macro", kp_json_real(mr / k));
	json_object_set_new(o, "f1_macro", kp_json_real(mf / k));
	return pc;
}

static double
log_loss(const int64_t *y, const float *probs, size_t n, size_t k)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		double p = probs[i * k + (size_t)y[i]];

		s -= log(fmin(fmax(p, 1e-15), 1 - 1e-15));
	}
	return s / (double)n;
}

json_t *
kp_metrics_classification(const int64_t *y, const int64_t *pred,
	const float *probs, size_t n, size_t nclasses, char *const *classes)
{
	size_t *cm = kp_xcalloc(nclasses * nclasses, sizeof(size_t)), i, right = 0;
	json_t *o = json_object();

	for (i = 0; i < n; i++) {
		cm[(size_t)y[i] * nclasses + (size_t)pred[i]]++;
		right += y[i] == pred[i];
	}
	json_object_set_new(o, "rows", json_integer((json_int_t)n));
	json_object_set_new(o, "accuracy", kp_json_real(n ? (double)right / n : 0));
	json_object_set_new(o, "per_class", per_class(cm, nclasses, classes, o));
	json_object_set_new(o, "confusion", confusion(cm, nclasses));
	if (probs) {
		json_object_set_new(o, "log_loss", kp_json_real(log_loss(y, probs, n, nclasses)));
		if (nclasses == 2) {
			float *s = kp_xmallocarray(n, sizeof(float));

			for (i = 0; i < n; i++)
				s[i] = probs[i * 2 + 1];
			json_object_set_new(o, "roc_auc", kp_json_real(kp_roc_auc(y, s, n)));
			free(s);
		}
	}
	free(cm);
	return o;
}

json_t *
kp_metrics_regression(const float *y, const float *pred, size_t n)
{
	double mean = 0, sse = 0, sae = 0, sst = 0;
	size_t i;

	for (i = 0; i < n; i++)
		mean += y[i];
	mean /= (double)(n ? n : 1);
	for (i = 0; i < n; i++) {
		double e = (double)pred[i] - y[i];

		sse += e * e;
		sae += fabs(e);
		sst += ((double)y[i] - mean) * ((double)y[i] - mean);
	}
	return json_pack("{s:I, s:o, s:o, s:o}", "rows", (json_int_t)n,
		"rmse", kp_json_real(sqrt(sse / (double)(n ? n : 1))),
		"mae", kp_json_real(sae / (double)(n ? n : 1)),
		"r2", kp_json_real(sst > 0 ? 1 - sse / sst : NAN));
}

/* Counts of one group: rows, right, predicted positive, positives, true positives. */
struct group_counts {
	size_t n, right, pp, pos, tp;
};

/* Largest minus smallest of v over groups with a defined value. */
static double
gap(const double *v, size_t n)
{
	double lo = INFINITY, hi = -INFINITY;
	size_t i;

	for (i = 0; i < n; i++)
		if (!isnan(v[i])) {
			lo = fmin(lo, v[i]);
			hi = fmax(hi, v[i]);
		}
	return hi >= lo ? hi - lo : NAN;
}

json_t *
kp_metrics_fairness(const int64_t *y, const int64_t *pred,
	const int64_t *group, size_t n, size_t nclasses, char *const *groups,
	size_t ngroups)
{
	struct group_counts *c = kp_xcalloc(ngroups, sizeof(*c));
	double *acc = kp_xcalloc(ngroups, sizeof(double) * 3), *sel = acc + ngroups,
		*tpr = sel + ngroups;
	json_t *o = json_object(), *pg = json_object();
	size_t i;

	for (i = 0; i < n; i++) {
		struct group_counts *g = &c[group[i]];

		g->n++;
		g->right += y[i] == pred[i];
		g->pp += pred[i] == 1;
		g->pos += y[i] == 1;
		g->tp += y[i] == 1 && pred[i] == 1;
	}
	for (i = 0; i < ngroups; i++) {
		json_t *gj = json_object();

		acc[i] = c[i].n ? (double)c[i].right / c[i].n : NAN;
		sel[i] = c[i].n ? (double)c[i].pp / c[i].n : NAN;
		tpr[i] = c[i].pos ? (double)c[i].tp / c[i].pos : NAN;
		json_object_set_new(gj, "rows", json_integer((json_int_t)c[i].n));
		json_object_set_new(gj, "accuracy", kp_json_real(acc[i]));
		if (nclasses == 2) {
			json_object_set_new(gj, "selection_rate", kp_json_real(sel[i]));
			json_object_set_new(gj, "true_positive_rate", kp_json_real(tpr[i]));
		}
		json_object_set_new(pg, groups[i], gj);
	}
	json_object_set_new(o, "per_group", pg);
	json_object_set_new(o, "max_gap", json_pack("{s:o}", "accuracy",
		kp_json_real(gap(acc, ngroups))));
	if (nclasses == 2) {
		json_object_set_new(o, "demographic_parity_diff", kp_json_real(gap(sel, ngroups)));
		json_object_set_new(o, "equal_opportunity_diff", kp_json_real(gap(tpr, ngroups)));
	}
	free(c);
	free(acc);
	return o;
}
