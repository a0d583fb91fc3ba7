/*
 * Gradient-boosted trees: binning, split finding and the losses against
 * cases worked by hand; training that learns what a linear model cannot,
 * the same bytes for any thread count, early stopping, leaf-wise growth
 * taking the best-gain leaf first, and a forest that
 * survives its safetensors file or is refused when it is damaged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../plugins/lib/fit.h"
#include "../../plugins/lib/forest.h"
#include "../../plugins/lib/gbdt.h"
#include "../../plugins/lib/model.h"
#include "../../plugins/lib/npy.h"
#include "../../plugins/lib/safetensors.h"
#include "../../plugins/lib/util.h"

#define N 4000
#define D 6

static void
expect_error(int rc, const char *err, const char *want)
{
	assert_int_equal(rc, -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

/* One feature column x[0..n) binned with maxbins. */
static void
bin1(struct kp_bins *b, const float *x, size_t n, size_t maxbins)
{
	kp_bins_make(b, x, n, 1, maxbins, NULL);
}

static void
binning(void **state)
{
	const float few[] = { 3, 1, 2, 2 }, cst[] = { 5, 5, 5 };
	float eight[8], close[2];
	struct kp_bins b;
	size_t i;

	(void)state;
	/* Fewer distinct values than bins: one bin each, cut half-way. */
	bin1(&b, few, 4, 256);
	assert_int_equal(b.nbins[0], 3);
	assert_true(b.edges[0] == 1.5f && b.edges[1] == 2.5f && b.edges[2] == FLT_MAX);
	assert_int_equal(b.code[0], 2);
	assert_int_equal(b.code[1], 0);
	assert_int_equal(b.code[2], 1);
	assert_int_equal(b.code[3], 1);
	kp_bins_release(&b);
	/* 1..8 into 2 bins: the median cut; into 4: the quartiles. */
	for (i = 0; i < 8; i++)
		eight[i] = (float)(8 - i);
	bin1(&b, eight, 8, 2);
	assert_int_equal(b.nbins[0], 2);
	assert_true(b.edges[0] == 4.5f);
	for (i = 0; i < 8; i++)
		assert_int_equal(b.code[i], eight[i] <= 4 ? 0 : 1);
	kp_bins_release(&b);
	bin1(&b, eight, 8, 4);
	assert_int_equal(b.nbins[0], 4);
	assert_true(b.edges[0] == 2.5f && b.edges[1] == 4.5f && b.edges[2] == 6.5f);
	assert_int_equal(b.code[0], 3);	/* 8 */
	assert_int_equal(b.code[5], 1);	/* 3 */
	kp_bins_release(&b);
	/* A constant feature has one bin: nothing to split. */
	bin1(&b, cst, 3, 256);
	assert_int_equal(b.nbins[0], 1);
	kp_bins_release(&b);
	/* Neighbouring floats: the cut is the lower one, never the upper. */
	close[0] = 1.0f;
	close[1] = nextafterf(1.0f, 2.0f);
	bin1(&b, close, 2, 256);
	assert_true(b.edges[0] == 1.0f);
	assert_int_equal(b.code[0], 0);
	assert_int_equal(b.code[1], 1);
	kp_bins_release(&b);
}

static void
split_finding(void **state)
{
	/* Bins' gradients -2, -1, 1, 2 and hessians 1: G = 0, H = 4, l2 = 1.
	 * After bin 0: 4/2 + 4/4 = 3; after bin 1: 9/3 + 9/3 = 6; after bin 2: 3. */
	const struct kp_hbin h[4] = { { -2, 1 }, { -1, 1 }, { 1, 1 }, { 2, 1 } };
	struct kp_split s = { -1, 0, 0, 0, 0 };

	(void)state;
	kp_gbdt_split_feature(h, 4, 7, 0, 4, 1, 0, &s);
	assert_int_equal(s.feature, 7);
	assert_int_equal(s.bin, 1);
	assert_true(fabs(s.gain - 6) < 1e-12);
	assert_true(s.gl == -3 && s.hl == 2);
	/* A better split found before is kept. */
	s.gain = 10;
	s.feature = 2;
	kp_gbdt_split_feature(h, 4, 7, 0, 4, 1, 0, &s);
	assert_int_equal(s.feature, 2);
	/* min_child_weight 1.5 leaves only the middle cut; 2.5 none. */
	s = (struct kp_split){ -1, 0, 0, 0, 0 };
	kp_gbdt_split_feature(h, 4, 0, 0, 4, 1, 1.5, &s);
	assert_int_equal(s.bin, 1);
	s = (struct kp_split){ -1, 0, 0, 0, 0 };
	kp_gbdt_split_feature(h, 4, 0, 0, 4, 1, 2.5, &s);
	assert_int_equal(s.feature, -1);
	/* l2 = 0, bins -1, +1: gain 1/1 + 1/1 - 0 = 2. */
	s = (struct kp_split){ -1, 0, 0, 0, 0 };
	kp_gbdt_split_feature((const struct kp_hbin[]){ { -1, 1 }, { 1, 1 } }, 2, 0, 0, 2, 0, 0, &s);
	assert_true(fabs(s.gain - 2) < 1e-12);
}

static void
losses(void **state)
{
	const double s0[2] = { 0, 3 }, s3[3] = { 0, 0, 0 };
	const int64_t y1[1] = { 1 }, y2[1] = { 2 };
	const float yf[2] = { 1, 1 }, w[1] = { 2 };
	float gh[6];
	double l;

	(void)state;
	/* Squared error at 0 and 3 against 1: loss 1 + 4; g = s - y, h = 1. */
	l = kp_gbdt_gradients(KP_LOSS_SQUARED, s0, 2, 1, NULL, yf, NULL, gh);
	assert_true(fabs(l - 5) < 1e-12);
	assert_true(gh[0] == -1 && gh[1] == 1 && gh[2] == 2 && gh[3] == 1);
	/* Logistic at 0, y = 1: p = 1/2, loss log 2, g = -1/2, h = 1/4; weight 2 doubles all. */
	l = kp_gbdt_gradients(KP_LOSS_LOGISTIC, s0, 1, 1, y1, NULL, w, gh);
	assert_true(fabs(l - 2 * log(2)) < 1e-12);
	assert_true(gh[0] == -1.0f && gh[1] == 0.5f);
	/* Logistic far out stays finite: at 3, y = 1: log(1 + e^-3). */
	l = kp_gbdt_gradients(KP_LOSS_LOGISTIC, s0 + 1, 1, 1, y1, NULL, NULL, NULL);
	assert_true(fabs(l - log1p(exp(-3))) < 1e-12);
	/* Softmax of three zeros, y = 2: p = 1/3; loss log 3; g = 1/3, 1/3, -2/3;
	 * h = 2p(1 - p) = 4/9, as XGBoost takes it. */
	l = kp_gbdt_gradients(KP_LOSS_SOFTMAX, s3, 1, 3, y2, NULL, NULL, gh);
	assert_true(fabs(l - log(3)) < 1e-12);
	assert_true(fabsf(gh[0] - 1.0f / 3) < 1e-7f && fabsf(gh[2] - 1.0f / 3) < 1e-7f);
	assert_true(fabsf(gh[4] + 2.0f / 3) < 1e-7f);
	assert_true(fabsf(gh[1] - 4.0f / 9) < 1e-7f && fabsf(gh[5] - 4.0f / 9) < 1e-7f);
}

/* Uniform features; classes by XOR of the first two's signs (no linear
 * model separates them), or 3 classes by a ring; a step for regression. */
static void
make_data(float *X, int64_t *y, float *yf, size_t k, double noise)
{
	struct kp_rng r;
	size_t i, j;

	kp_rng_seed(&r, 11);
	for (i = 0; i < N; i++) {
		for (j = 0; j < D; j++)
			X[i * D + j] = (float)(2 * kp_rng_uniform(&r) - 1);
		if (k == 2)
			y[i] = (X[i * D] > 0) != (X[i * D + 1] > 0);
		else
			y[i] = (int64_t)(fmin(2, 3 * sqrt(X[i * D] * X[i * D] + X[i * D + 1] * X[i * D + 1])));
		if (kp_rng_uniform(&r) < noise)
			y[i] = (y[i] + 1) % (int64_t)k;
		yf[i] = (float)((X[i * D + 2] > 0.25 ? 3 : -1) + X[i * D + 3]);
	}
}

static void
fit(struct kp_fit_opts *o, const float *X, const int64_t *y, const float *yf,
	size_t k, struct kp_model *m, struct kp_history *h)
{
	char err[KP_ERRLEN];

	if (kp_gbdt_fit(m, o, X, N, D, y, yf, k, NULL, h, NULL, NULL, err) != 0)
		fail_msg("fit: %s", err);
}

static int
same_forest(const struct kp_model *a, const struct kp_model *b)
{
	const struct kp_forest *x = a->forest, *z = b->forest;

	return x->ntrees == z->ntrees && x->nnodes == z->nnodes &&
		memcmp(x->nodes, z->nodes, x->nnodes * sizeof(*x->nodes)) == 0 &&
		memcmp(x->roots, z->roots, x->ntrees * sizeof(size_t)) == 0 &&
		memcmp(x->base, z->base, x->outputs * sizeof(float)) == 0;
}

static double
accuracy(const struct kp_model *m, const float *X, const int64_t *y)
{
	int64_t *p = malloc(N * sizeof(int64_t));
	size_t i, right = 0;

	kp_model_predict(m, X, N, p, NULL);
	for (i = 0; i < N; i++)
		right += p[i] == y[i];
	free(p);
	return (double)right / N;
}

static void
learns_and_is_deterministic(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_model a, b;
	struct kp_history h;
	struct kp_fit_opts o;
	size_t k;

	(void)state;
	kp_fit_opts_init(&o);
	o.kind = KP_GBDT;
	o.lr = 0.3;
	o.l2 = 1;
	o.trees = 30;
	o.subsample = 0.8;
	o.colsample = 0.7;
	for (k = 2; k <= 3; k++) {
		make_data(X, y, yf, k, 0);
		o.threads = 1;
		fit(&o, X, y, NULL, k, &a, &h);
		assert_int_equal(a.forest->ntrees, 30 * (k == 2 ? 1 : 3));
		assert_int_equal(kp_model_outputs(&a), k == 2 ? 1 : 3);
		if (accuracy(&a, X, y) < 0.97)
			fail_msg("%zu classes: accuracy %g", k, accuracy(&a, X, y));
		assert_true(h.loss[h.n - 1] < h.loss[0] / 3);
		kp_history_release(&h);
		/* 2, 3 and 4 threads: the same trees, node for node. */
		for (o.threads = 2; o.threads <= 4; o.threads++) {
			fit(&o, X, y, NULL, k, &b, &h);
			assert_true(same_forest(&a, &b));
			kp_model_release(&b);
			kp_history_release(&h);
		}
		o.seed = 5;
		fit(&o, X, y, NULL, k, &b, &h);
		assert_false(same_forest(&a, &b));
		o.seed = 1;
		kp_model_release(&a);
		kp_model_release(&b);
		kp_history_release(&h);
	}
	free(X);
	free(y);
	free(yf);
}

static void
regression_and_early_stopping(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float)),
		*p = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_model m;
	struct kp_history h;
	struct kp_fit_opts o;
	double se = 0;
	size_t i;

	(void)state;
	make_data(X, y, yf, 2, 0.3);
	kp_fit_opts_init(&o);
	o.kind = KP_GBDT;
	o.lr = 0.3;
	o.l2 = 1;
	o.trees = 60;
	o.depth = 3;
	fit(&o, X, NULL, yf, 0, &m, &h);
	kp_model_predict(&m, X, N, NULL, p);
	for (i = 0; i < N; i++)
		se += (p[i] - yf[i]) * (p[i] - yf[i]);
	if (se / N > 0.01)
		fail_msg("regression mse %g", se / N);
	assert_int_equal(h.best_epoch, 60);
	kp_model_release(&m);
	kp_history_release(&h);
	/* 30% flipped labels and deep trees: the hold-out's loss turns up,
	 * training stops patience rounds later and keeps the best round. */
	o.depth = 8;
	o.trees = 300;
	o.validation = 0.25;
	o.patience = 5;
	o.min_child_weight = 0;
	fit(&o, X, y, NULL, 2, &m, &h);
	assert_true(h.n < 300);
	assert_int_equal((size_t)h.best_epoch + 5, h.n);
	assert_int_equal(m.forest->ntrees, (size_t)h.best_epoch);
	for (i = 0; i < h.n; i++)
		assert_true(h.val[i] >= h.val[h.best_epoch - 1]);
	kp_model_release(&m);
	kp_history_release(&h);
	free(X);
	free(y);
	free(yf);
	free(p);
}

static void
file_round_trip_and_damage(void **state)
{
	float X[N * D], yf[N], *p1 = malloc(N * 3 * sizeof(float)), *p2 = malloc(N * 3 * sizeof(float));
	int64_t y[N], *c1 = malloc(N * sizeof(int64_t)), *c2 = malloc(N * sizeof(int64_t));
	char path[] = "/tmp/kiln-gbdt-XXXXXX", err[KP_ERRLEN];
	struct kp_model m, back;
	struct kp_history h;
	struct kp_fit_opts o;
	struct kp_tensors ts;
	struct kp_array *nodes;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	make_data(X, y, yf, 3, 0);
	kp_fit_opts_init(&o);
	o.kind = KP_GBDT;
	o.trees = 10;
	fit(&o, X, y, NULL, 3, &m, &h);
	kp_history_release(&h);
	assert_int_equal(kp_model_save(&m, path, err), 0);
	assert_int_equal(kp_model_load(&back, path, err), 0);
	assert_int_equal(back.kind, KP_GBDT);
	assert_int_equal(kp_model_inputs(&back), D);
	assert_true(same_forest(&m, &back));
	kp_model_predict(&m, X, N, c1, p1);
	kp_model_predict(&back, X, N, c2, p2);
	assert_memory_equal(p1, p2, N * 3 * sizeof(float));
	assert_memory_equal(c1, c2, N * sizeof(int64_t));
	kp_model_release(&back);
	/* A child that points back at its parent would loop: refused. */
	kp_model_tensors(&m, &ts);
	nodes = (struct kp_array *)kp_tensors_get(&ts, "gbdt.nodes");
	((int64_t *)nodes->data)[1] = 0;
	assert_int_equal(kp_safetensors_write(path, &ts, err), 0);
	expect_error(kp_model_load(&back, path, err), err, "gbdt node 0: children 0,");
	/* A feature past the row's width: refused. */
	((int64_t *)nodes->data)[1] = 1;
	((int64_t *)nodes->data)[0] = D;
	assert_int_equal(kp_safetensors_write(path, &ts, err), 0);
	expect_error(kp_model_load(&back, path, err), err, "gbdt node 0: feature 6 of 6");
	kp_tensors_release(&ts);
	unlink(path);
	kp_model_release(&m);
	free(p1);
	free(p2);
	free(c1);
	free(c2);
}

/*
 * Leaf-wise growth on 8 rows worked by hand (squared error, so g = s - y
 * and h = 1; lr 1, l2 0). x0 parts the rows {0, 0, 1, 1} | {10, 10, 20,
 * 20}, x1 parts each half in two. From the base 7.75 the root's gain on
 * x0 is 29^2/4 + 29^2/4 = 420.5 (on x1: 60.5); then the left half's best
 * split (x1) gains 15.5^2/2 + 13.5^2/2 - 29^2/4 = 1 and the right half's
 * 4.5^2/2 + 24.5^2/2 - 29^2/4 = 100. With 3 leaves the right one, made
 * after the left, is split, and the left stays a leaf of -29/4.
 */
static void
leafwise_best_gain_first(void **state)
{
	const float X[] = { 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1 };
	const float yf[] = { 0, 0, 1, 1, 10, 10, 20, 20 };
	const float row[][2] = { { 0, 1 }, { 1, 0 }, { 1, 1 } };
	const float want[] = { 0.5f, 10, 20 };
	const struct kp_node *nd;
	struct kp_model m;
	struct kp_history h;
	struct kp_fit_opts o;
	char err[KP_ERRLEN];
	size_t i;

	(void)state;
	kp_fit_opts_init(&o);
	o.kind = KP_GBDT;
	o.trees = 1;
	o.lr = 1;
	o.l2 = 0;
	o.min_child_weight = 0;
	o.leaves = 3;
	if (kp_gbdt_fit(&m, &o, X, 8, 2, NULL, yf, 0, NULL, &h, NULL, NULL, err) != 0)
		fail_msg("fit: %s", err);
	nd = m.forest->nodes;
	assert_true(m.forest->base[0] == 7.75f);
	assert_int_equal(m.forest->nnodes, 5);
	assert_int_equal(nd[0].feature, 0);
	assert_true(nd[0].threshold == 0.5f);
	assert_int_equal(nd[nd[0].left].feature, -1);
	assert_true(nd[nd[0].left].value == -7.25f);
	assert_int_equal(nd[nd[0].right].feature, 1);
	assert_true(nd[nd[nd[0].right].left].value == 2.25f);
	assert_true(nd[nd[nd[0].right].right].value == 12.25f);
	for (i = 0; i < 3; i++)
		assert_true(kp_forest_tree_value(m.forest, 0, row[i]) + 7.75f == want[i]);
	kp_model_release(&m);
	kp_history_release(&h);
	/* 2 leaves: the root's split only; 4: both halves split. */
	for (o.leaves = 2; o.leaves <= 4; o.leaves += 2) {
		if (kp_gbdt_fit(&m, &o, X, 8, 2, NULL, yf, 0, NULL, &h, NULL, NULL, err) != 0)
			fail_msg("fit: %s", err);
		assert_int_equal(m.forest->nnodes, o.leaves == 2 ? 3 : 7);
		kp_model_release(&m);
		kp_history_release(&h);
	}
	/* A depth cap of 1 stops it at the root's split whatever the leaves. */
	o.leaves = 4;
	o.depth = 1;
	if (kp_gbdt_fit(&m, &o, X, 8, 2, NULL, yf, 0, NULL, &h, NULL, NULL, err) != 0)
		fail_msg("fit: %s", err);
	assert_int_equal(m.forest->nnodes, 3);
	kp_model_release(&m);
	kp_history_release(&h);
}

/* Leaves of tree t (its nodes run from its root to the next tree's). */
static size_t
tree_leaves(const struct kp_forest *f, size_t t)
{
	size_t end = t + 1 < f->ntrees ? f->roots[t + 1] : f->nnodes, i, n = 0;

	for (i = f->roots[t]; i < end; i++)
		n += f->nodes[i].feature < 0;
	return n;
}

/* Leaf-wise trees on the XOR data: at most `leaves` leaves, some deeper
 * than a depth-wise tree of as many leaves, the same for any thread count. */
static void
leafwise_learns_and_is_deterministic(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_model a, b;
	struct kp_history h;
	struct kp_fit_opts o;
	size_t t, full = 0;

	(void)state;
	make_data(X, y, yf, 2, 0.05);
	kp_fit_opts_init(&o);
	o.kind = KP_GBDT;
	o.lr = 0.3;
	o.trees = 20;
	o.leaves = 7;
	o.depth = 16;
	o.subsample = 0.8;
	o.threads = 1;
	fit(&o, X, y, NULL, 2, &a, &h);
	for (t = 0; t < a.forest->ntrees; t++) {
		assert_true(tree_leaves(a.forest, t) <= 7);
		full += tree_leaves(a.forest, t) == 7;
	}
	assert_true(full > 0);
	if (accuracy(&a, X, y) < 0.9)
		fail_msg("leaf-wise accuracy %g", accuracy(&a, X, y));
	kp_history_release(&h);
	for (o.threads = 2; o.threads <= 4; o.threads++) {
		fit(&o, X, y, NULL, 2, &b, &h);
		assert_true(same_forest(&a, &b));
		kp_model_release(&b);
		kp_history_release(&h);
	}
	kp_model_release(&a);
	free(X);
	free(y);
	free(yf);
}

static void
bad_options(void **state)
{
	float X[N * D], yf[N];
	int64_t y[N];
	struct kp_model m;
	struct kp_history h;
	struct kp_fit_opts o;
	char err[KP_ERRLEN];

	(void)state;
	make_data(X, y, yf, 2, 0);
	kp_fit_opts_init(&o);
	o.kind = KP_GBDT;
	o.trees = 0;
	expect_error(kp_gbdt_fit(&m, &o, X, N, D, y, NULL, 2, NULL, &h, NULL, NULL, err), err,
		"trees must be >= 1, got 0");
	o.trees = 5;
	o.depth = 0;
	expect_error(kp_gbdt_fit(&m, &o, X, N, D, y, NULL, 2, NULL, &h, NULL, NULL, err), err,
		"depth must be in [1, 16], got 0");
	o.depth = 3;
	o.lr = 0;
	expect_error(kp_gbdt_fit(&m, &o, X, N, D, y, NULL, 2, NULL, &h, NULL, NULL, err), err,
		"lr must be > 0");
	o.lr = 0.1;
	o.leaves = 1;
	expect_error(kp_gbdt_fit(&m, &o, X, N, D, y, NULL, 2, NULL, &h, NULL, NULL, err), err,
		"leaves must be in [2, 65536], got 1");
	o.leaves = 0;
	y[3] = 2;
	expect_error(kp_gbdt_fit(&m, &o, X, N, D, y, NULL, 2, NULL, &h, NULL, NULL, err), err,
		"label 2 of row 4 is not a class index below 2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(binning),
		cmocka_unit_test(split_finding),
		cmocka_unit_test(losses),
		cmocka_unit_test(learns_and_is_deterministic),
		cmocka_unit_test(regression_and_early_stopping),
		cmocka_unit_test(file_round_trip_and_damage),
		cmocka_unit_test(leafwise_best_gain_first),
		cmocka_unit_test(leafwise_learns_and_is_deterministic),
		cmocka_unit_test(bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
