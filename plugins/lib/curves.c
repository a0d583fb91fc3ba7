/*
 * ROC, precision-recall and calibration curves, in double, in
 * scikit-learn's order of operations (sklearn/metrics/_ranking.py and
 * sklearn/calibration.py, version 1.2), so the points agree to rounding.
 */
#include <jansson.h>
#include <stdlib.h>

#include "curves.h"
#include "json.h"
#include "util.h"

/* Rows by decreasing score (ties in any order: they are merged below). */
static int
by_score_desc(const void *a, const void *b, void *s)
{
	const float *sc = s;
	float x = sc[*(const size_t *)a], y = sc[*(const size_t *)b];

	return x > y ? -1 : x < y;
}

/*
 * scikit-learn's _binary_clf_curve: at each distinct score, from the
 * highest, the false and true positives of "score >= threshold".
 * Returns the number of thresholds; fps, tps and thr are allocated.
 */
static size_t
binary_clf_curve(const unsigned char *pos, const float *score, size_t rows,
	double **fps, double **tps, double **thr)
{
	size_t *idx = kp_xmallocarray(rows, sizeof(size_t)), i, m = 0;
	double tp = 0;

	for (i = 0; i < rows; i++)
		idx[i] = i;
	qsort_r(idx, rows, sizeof(size_t), by_score_desc, (void *)score);
	*fps = kp_xmallocarray(rows, sizeof(double));
	*tps = kp_xmallocarray(rows, sizeof(double));
	*thr = kp_xmallocarray(rows, sizeof(double));
	for (i = 0; i < rows; i++) {
		tp += pos[idx[i]] != 0;
		if (i + 1 < rows && score[idx[i + 1]] == score[idx[i]])
			continue;
		(*tps)[m] = tp;
		(*fps)[m] = (double)(i + 1) - tp;
		(*thr)[m] = score[idx[i]];
		m++;
	}
	free(idx);
	return m;
}

static void
curve_alloc(struct kp_curve *c, size_t n, size_t nt)
{
	c->n = n;
	c->nt = nt;
	c->x = kp_xmallocarray(n ? n : 1, sizeof(double));
	c->y = kp_xmallocarray(n ? n : 1, sizeof(double));
	c->t = kp_xmallocarray(nt ? nt : 1, sizeof(double));
}

int
kp_roc_curve(const unsigned char *pos, const float *score, size_t rows, struct kp_curve *c)
{
	double *fps, *tps, *thr;
	size_t m, i, k = 0;

	if (!rows)
		return -1;
	m = binary_clf_curve(pos, score, rows, &fps, &tps, &thr);
	if (tps[m - 1] <= 0 || fps[m - 1] <= 0) {
		free(fps);
		free(tps);
		free(thr);
		return -1;
	}
	curve_alloc(c, m + 1, m + 1);
	c->x[0] = c->y[0] = 0;
	c->t[0] = thr[0] + 1;
	k = 1;
	for (i = 0; i < m; i++) {
		/* drop_intermediate: keep the ends and every corner (a nonzero
		 * second difference of fps or tps). */
		if (m > 2 && i > 0 && i + 1 < m &&
		    fps[i + 1] - 2 * fps[i] + fps[i - 1] == 0 &&
		    tps[i + 1] - 2 * tps[i] + tps[i - 1] == 0)
			continue;
		c->x[k] = fps[i] / fps[m - 1];
		c->y[k] = tps[i] / tps[m - 1];
		c->t[k] = thr[i];
		k++;
	}
	c->n = c->nt = k;
	free(fps);
	free(tps);
	free(thr);
	return 0;
}

int
kp_pr_curve(const unsigned char *pos, const float *score, size_t rows, struct kp_curve *c)
{
	double *fps, *tps, *thr;
	size_t m, i;

	if (!rows)
		return -1;
	m = binary_clf_curve(pos, score, rows, &fps, &tps, &thr);
	if (tps[m - 1] <= 0) {
		free(fps);
		free(tps);
		free(thr);
		return -1;
	}
	curve_alloc(c, m + 1, m);
	/* Reversed, so recall decreases, then the point (0, 1). */
	for (i = 0; i < m; i++) {
		size_t j = m - 1 - i;
		double ps = tps[j] + fps[j];

		c->y[i] = ps != 0 ? tps[j] / ps : 0;
		c->x[i] = tps[j] / tps[m - 1];
		c->t[i] = thr[j];
	}
	c->y[m] = 1;
	c->x[m] = 0;
	free(fps);
	free(tps);
	free(thr);
	return 0;
}

int
kp_calibration_curve(const unsigned char *pos, const float *prob, size_t rows, size_t bins,
	struct kp_curve *c)
{
	double *sum, *hits, *count, step;
	size_t i, b, k = 0;

	if (!rows || !bins)
		return -1;
	sum = kp_xcalloc(bins, sizeof(double));
	hits = kp_xcalloc(bins, sizeof(double));
	count = kp_xcalloc(bins, sizeof(double));
	/* numpy's linspace(0, 1, bins + 1): edge e is e * (1 / bins); a
	 * probability goes to the bin of the inner edges strictly below it
	 * (searchsorted, side left). */
	step = 1.0 / (double)bins;
	for (i = 0; i < rows; i++) {
		double p = prob[i];

		for (b = 0; b + 1 < bins && (double)(b + 1) * step < p; b++)
			;
		sum[b] += p;
		hits[b] += pos[i] != 0;
		count[b] += 1;
	}
	curve_alloc(c, bins, bins);
	for (b = 0; b < bins; b++) {
		if (count[b] == 0)
			continue;
		c->x[k] = sum[b] / count[b];
		c->y[k] = hits[b] / count[b];
		c->t[k] = count[b];
		k++;
	}
	c->n = c->nt = k;
	free(sum);
	free(hits);
	free(count);
	return 0;
}

void
kp_curve_release(struct kp_curve *c)
{
	free(c->x);
	free(c->y);
	free(c->t);
	c->x = c->y = c->t = NULL;
	c->n = c->nt = 0;
}

/* Index of the i-th of `keep` evenly spaced points among n (both ends kept). */
static size_t
spaced(size_t i, size_t keep, size_t n)
{
	return keep < 2 ? 0 : (size_t)(((double)i * (double)(n - 1)) / (double)(keep - 1) + 0.5);
}

static json_t *
column(const double *v, size_t n, size_t keep)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < keep; i++)
		json_array_append_new(a, kp_json_real(v[keep == n ? i : spaced(i, keep, n)]));
	return a;
}

json_t *
kp_curve_json(const struct kp_curve *c, const char *xname, const char *yname,
	const char *tname, size_t max)
{
	json_t *j = json_object();
	size_t keep = c->n > max ? max : c->n, tkeep = c->nt > max ? max : c->nt;

	json_object_set_new(j, xname, column(c->x, c->n, keep));
	json_object_set_new(j, yname, column(c->y, c->n, keep));
	if (tname)
		json_object_set_new(j, tname, column(c->t, c->nt, tkeep));
	if (keep < c->n)
		json_object_set_new(j, "points", json_integer((json_int_t)c->n));
	return j;
}
