/*
 * Training: correct on problems with a known answer, and the same bytes
 * run after run and whatever the number of OpenBLAS threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugins/lib/barrier.h"
#include "../../plugins/lib/fit.h"
#include "../../plugins/lib/gemm.h"
#include "../../plugins/lib/lbfgs.h"
#include "../../plugins/lib/model.h"
#include "../../plugins/lib/util.h"

#define N 3000
#define D 20

/* Gaussian-ish features and a label from a fixed linear rule with noise. */
static void
make_data(float *X, int64_t *y, float *yf, size_t k)
{
	struct kp_rng r;
	size_t i, j;

	kp_rng_seed(&r, 7);
	for (i = 0; i < N; i++) {
		double s[4] = { 0, 0, 0, 0 };

		for (j = 0; j < D; j++) {
			double v = kp_rng_uniform(&r) + kp_rng_uniform(&r) - 1;

			X[i * D + j] = (float)v;
			s[j % 4] += v * (double)(j + 1) / D;
		}
		yf[i] = (float)(2 * s[0] - s[1] + 0.5 + 0.01 * (kp_rng_uniform(&r) - 0.5));
		y[i] = 0;
		for (j = 1; j < k; j++)
			if (s[j] > s[y[i]])
				y[i] = (int64_t)j;
	}
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

/* Train and return the safetensors bytes' XOR-fold, plus the model in *m. */
static void
train(struct kp_fit_opts *o, const float *X, const int64_t *y, const float *yf,
	size_t k, struct kp_model *m)
{
	char err[KP_ERRLEN];
	struct kp_history h;

	if (kp_fit(m, o, X, N, D, y, yf, k, &h, NULL, NULL, err) != 0)
		fail_msg("train: %s", err);
	kp_history_release(&h);
}

static int
same_weights(const struct kp_model *a, const struct kp_model *b)
{
	size_t i;

	for (i = 0; i < a->nlayers; i++)
		if (memcmp(a->layers[i].w, b->layers[i].w, a->layers[i].in * a->layers[i].out * 4) ||
		    memcmp(a->layers[i].b, b->layers[i].b, a->layers[i].out * 4))
			return 0;
	return 1;
}

static void
mlp_is_deterministic(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_model a, b, c;
	struct kp_fit_opts o;

	(void)state;
	make_data(X, y, yf, 3);
	kp_fit_opts_init(&o);
	o.kind = KP_MLP;
	/* Big enough that OpenBLAS does split the products between threads. */
	o.hidden[0] = 256;
	o.hidden[1] = 64;
	o.nhidden = 2;
	o.epochs = 15;
	o.batch = 1024;
	o.validation = 0.1;
	/*
	 * Sub-batches of a 1024-row batch, their gradients summed in order:
	 * the same bytes run after run and whatever the thread count.
	 */
	o.threads = 1;
	train(&o, X, y, NULL, 3, &a);
	train(&o, X, y, NULL, 3, &b);
	assert_true(same_weights(&a, &b));
	o.threads = 2;
	kp_model_release(&b);
	train(&o, X, y, NULL, 3, &b);
	assert_true(same_weights(&a, &b));
	o.threads = 3;
	train(&o, X, y, NULL, 3, &c);
	assert_true(same_weights(&a, &c));
	assert_true(accuracy(&a, X, y) > 0.9);
	kp_model_release(&b);
	kp_model_release(&c);
	o.seed = 2;	/* a different seed must give different weights */
	train(&o, X, y, NULL, 3, &b);
	assert_false(same_weights(&a, &b));
	kp_model_release(&a);
	kp_model_release(&b);
	free(X);
	free(y);
	free(yf);
}

/*
 * kp_gemm: each element one chain of fused multiply-adds over p in order,
 * from zero, then plus the bias, then kiln's ReLU; the same bits as that
 * chain written out with fmaf, for the plain and the transposed A, with
 * rows and columns left over after whole tiles.
 */
static float
gemm_ref(const float *A, size_t ars, size_t acs, const float *B, size_t ldb,
	size_t i, size_t j, size_t k, const float *bias, int relu)
{
	float acc = 0;
	size_t p;

	for (p = 0; p < k; p++)
		acc = fmaf(A[i * ars + p * acs], B[p * ldb + j], acc);
	if (bias)
		acc += bias[j];
	if (relu && signbit(acc))
		acc = 0;
	return acc;
}

static void
gemm_matches_fma_chain(void **state)
{
	static const size_t shapes[][3] = { { 128, 64, 100 }, { 100, 64, 128 }, { 7, 24, 5 },
		{ 13, 8, 1 }, { 1, 40, 33 }, { 128, 2, 64 }, { 64, 2, 128 }, { 9, 13, 7 },
		{ 5, 1, 3 }, { 7, 29, 11 },
		/* a narrow layer's weight gradient as fit.c takes it: delta^T · a */
		{ 2, 64, 128 }, { 3, 100, 44 } };
	struct kp_rng r;
	size_t s, i, j, t;

	(void)state;
	if (!kp_gemm_available())
		skip();
	kp_rng_seed(&r, 3);
	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ldc = n + 3;
		float *A = malloc(m * k * sizeof(float)), *B = malloc(k * n * sizeof(float));
		float *C = malloc(m * ldc * sizeof(float)), *bias = malloc(n * sizeof(float));

		for (i = 0; i < m * k; i++)
			A[i] = (float)(kp_rng_uniform(&r) - 0.5);
		for (i = 0; i < k * n; i++)
			B[i] = (float)(kp_rng_uniform(&r) - 0.5);
		for (j = 0; j < n; j++)
			bias[j] = (float)(kp_rng_uniform(&r) - 0.5);
		for (t = 0; t < 4; t++) {
			/* t & 1: A transposed (as stored k x m); t & 2: bias and ReLU. */
			size_t ars = t & 1 ? 1 : k, acs = t & 1 ? m : 1;
			const float *bb = t & 2 ? bias : NULL;
			int relu = (t & 2) != 0;

			for (i = 0; i < m * ldc; i++)
				C[i] = -7.0f;
			kp_gemm(m, n, k, A, ars, acs, B, n, C, ldc, bb, relu);
			for (i = 0; i < m; i++)
				for (j = n; j < ldc; j++)
					if (C[i * ldc + j] != -7.0f)
						fail_msg("%zux%zux%zu: wrote C[%zu][%zu], past the width",
							m, n, k, i, j);
			for (i = 0; i < m; i++)
				for (j = 0; j < n; j++) {
					float want = gemm_ref(A, ars, acs, B, n, i, j, k, bb, relu);

					if (memcmp(&C[i * ldc + j], &want, sizeof(float)) != 0)
						fail_msg("%zux%zux%zu case %zu: C[%zu][%zu] = %a, want %a",
							m, n, k, t, i, j, C[i * ldc + j], want);
				}
		}
		free(A);
		free(B);
		free(C);
		free(bias);
	}
}

static void
ridge_recovers_linear_rule(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_fit_opts o;
	struct kp_model m, m1;
	size_t j;

	(void)state;
	make_data(X, y, yf, 2);
	kp_fit_opts_init(&o);
	o.kind = KP_RIDGE;
	o.l2 = 1e-6;
	o.threads = 2;
	train(&o, X, NULL, yf, 0, &m);
	o.threads = 1;
	train(&o, X, NULL, yf, 0, &m1);
	assert_true(same_weights(&m, &m1));
	kp_model_release(&m1);
	assert_false(m.classification);
	/* yf = 2 s0 - s1 + 0.5: feature j weighs (j+1)/D into s[j % 4]. */
	for (j = 0; j < D; j++) {
		double want = (j % 4 == 0 ? 2.0 : j % 4 == 1 ? -1.0 : 0.0) * (double)(j + 1) / D;

		if (fabs(m.layers[0].w[j] - want) > 0.01)
			fail_msg("weight %zu: %g, want %g", j, m.layers[0].w[j], want);
	}
	assert_true(fabs(m.layers[0].b[0] - 0.5) < 0.01);
	kp_model_release(&m);
	free(X);
	free(y);
	free(yf);
}

static void
logistic_and_softmax_learn(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_fit_opts o;
	struct kp_model m;

	(void)state;
	make_data(X, y, yf, 2);
	kp_fit_opts_init(&o);
	o.kind = KP_LOGISTIC;
	o.epochs = 20;
	train(&o, X, y, NULL, 2, &m);
	assert_int_equal(kp_model_outputs(&m), 1);
	assert_true(accuracy(&m, X, y) > 0.95);
	kp_model_release(&m);
	make_data(X, y, yf, 4);
	o.kind = KP_SOFTMAX;
	train(&o, X, y, NULL, 4, &m);
	assert_int_equal(kp_model_outputs(&m), 4);
	assert_true(accuracy(&m, X, y) > 0.9);
	kp_model_release(&m);
	free(X);
	free(y);
	free(yf);
}

/*
 * Logistic regression by L-BFGS, each block of rows in one fused pass:
 * over several blocks (the last one short) and with row weights, the same
 * bytes on 1 and 3 threads, and a rule it can learn learnt.
 */
static void
logistic_lbfgs_same_bytes_any_threads(void **state)
{
	size_t n = 3 * 4096 + 17, i, j;
	float *X = malloc(n * D * sizeof(float)), *wt = malloc(n * sizeof(float));
	int64_t *y = malloc(n * sizeof(int64_t));
	struct kp_model a, b;
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_rng r;
	char err[KP_ERRLEN];
	size_t right = 0;

	(void)state;
	kp_rng_seed(&r, 11);
	for (i = 0; i < n; i++) {
		double s = 0;

		for (j = 0; j < D; j++) {
			X[i * D + j] = (float)(kp_rng_uniform(&r) * 2 - 1);
			s += (j % 3 ? 1.0 : -2.0) * X[i * D + j];
		}
		y[i] = s + 0.2 * (kp_rng_uniform(&r) - 0.5) > 0.1;
		wt[i] = (float)(0.5 + kp_rng_uniform(&r));
	}
	kp_fit_opts_init(&o);
	o.kind = KP_LOGISTIC;
	o.solver = KP_SOLVER_LBFGS;
	o.epochs = 100;
	o.l2 = 1.0 / (double)n;
	o.weights = wt;
	o.threads = 1;
	if (kp_fit(&a, &o, X, n, D, y, NULL, 2, &h, NULL, NULL, err) != 0)
		fail_msg("train: %s", err);
	kp_history_release(&h);
	o.threads = 3;
	if (kp_fit(&b, &o, X, n, D, y, NULL, 2, &h, NULL, NULL, err) != 0)
		fail_msg("train: %s", err);
	kp_history_release(&h);
	assert_true(same_weights(&a, &b));
	for (i = 0; i < n; i++) {
		float z = a.layers[0].b[0];

		for (j = 0; j < D; j++)
			z += a.layers[0].w[j] * X[i * D + j];
		right += (z > 0) == (y[i] == 1);
	}
	assert_true((double)right / (double)n > 0.95);
	kp_model_release(&a);
	kp_model_release(&b);
	free(X);
	free(y);
	free(wt);
}

static double
rosenbrock(void *arg, const double *x, double *g)
{
	(void)arg;
	g[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] * x[0]);
	g[1] = 200 * (x[1] - x[0] * x[0]);
	return (1 - x[0]) * (1 - x[0]) + 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]);
}

static void
lbfgs_minimises(void **state)
{
	struct kp_lbfgs_opts lo;
	double x[2] = { -1.2, 1 }, f;
	int it, why;

	(void)state;
	kp_lbfgs_opts_init(&lo);
	why = kp_lbfgs(rosenbrock, NULL, NULL, x, 2, &lo, &f, &it);
	assert_true(why == KP_LBFGS_GTOL || why == KP_LBFGS_FTOL);
	if (fabs(x[0] - 1) > 1e-4 || fabs(x[1] - 1) > 1e-4 || it > 100)
		fail_msg("rosenbrock: (%g, %g) after %d iterations", x[0], x[1], it);
	lo.max_iter = 3;
	x[0] = -1.2;
	x[1] = 1;
	assert_int_equal(kp_lbfgs(rosenbrock, NULL, NULL, x, 2, &lo, &f, &it), KP_LBFGS_MAXITER);
	assert_int_equal(it, 3);
}

/*
 * Softmax by L-BFGS reaches the optimum of mean cross-entropy + l2/2 |W|^2:
 * the gradient there, recomputed in double from the saved float weights,
 * is ~0. The same bytes on 1 and 3 threads (blocks summed in order).
 */
static void
lbfgs_softmax_optimum(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	double g[D * 3] = { 0 }, gmax = 0;
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_model m, b;
	char err[KP_ERRLEN];
	size_t i, j, c;

	(void)state;
	make_data(X, y, yf, 3);
	kp_fit_opts_init(&o);
	o.kind = KP_SOFTMAX;
	o.solver = KP_SOLVER_LBFGS;
	o.epochs = 1000;
	o.l2 = 1.0 / N;
	o.threads = 1;
	assert_int_equal(kp_fit(&m, &o, X, N, D, y, NULL, 3, &h, NULL, NULL, err), 0);
	assert_true(h.converged && h.n > 5 && h.n < 1000);
	kp_history_release(&h);
	for (i = 0; i < N; i++) {
		double z[3], mx, s = 0;

		for (c = 0; c < 3; c++) {
			z[c] = m.layers[0].b[c];
			for (j = 0; j < D; j++)
				z[c] += (double)X[i * D + j] * m.layers[0].w[j * 3 + c];
		}
		mx = fmax(z[0], fmax(z[1], z[2]));
		for (c = 0; c < 3; c++)
			s += exp(z[c] - mx);
		for (c = 0; c < 3; c++)
			for (j = 0; j < D; j++)
				g[j * 3 + c] += X[i * D + j] * (exp(z[c] - mx) / s - ((size_t)y[i] == c)) / N;
	}
	for (j = 0; j < D * 3; j++)
		gmax = fmax(gmax, fabs(g[j] + o.l2 * m.layers[0].w[j]));
	if (gmax > 1e-4)
		fail_msg("gradient at the solution: %g", gmax);
	assert_true(accuracy(&m, X, y) > 0.9);
	o.threads = 3;
	assert_int_equal(kp_fit(&b, &o, X, N, D, y, NULL, 3, &h, NULL, NULL, err), 0);
	assert_true(same_weights(&m, &b));
	kp_history_release(&h);
	kp_model_release(&b);
	/* Regression or an MLP: not for this solver. */
	o.kind = KP_MLP;
	o.nhidden = 1;
	o.hidden[0] = 4;
	assert_int_equal(kp_fit(&b, &o, X, N, D, y, NULL, 3, &h, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "lbfgs solver fits logistic and softmax models only"));
	kp_model_release(&m);
	free(X);
	free(y);
	free(yf);
}

static void
early_stopping_keeps_best(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	char err[KP_ERRLEN];
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_model m;
	size_t i;

	(void)state;
	make_data(X, y, yf, 3);
	kp_fit_opts_init(&o);
	o.kind = KP_SOFTMAX;
	o.epochs = 500;
	o.validation = 0.2;
	o.patience = 3;
	assert_int_equal(kp_fit(&m, &o, X, N, D, y, NULL, 3, &h, NULL, NULL, err), 0);
	assert_true(h.n < 500);
	assert_true(h.best_epoch >= 1 && (size_t)h.best_epoch + 3 == h.n);
	for (i = 0; i < h.n; i++)
		assert_true(h.val[i] <= h.val[h.best_epoch - 1]);
	assert_true(h.flops > 0);
	kp_history_release(&h);
	kp_model_release(&m);
	free(X);
	free(y);
	free(yf);
}

/*
 * An epoch gathers its shuffled rows, labels and weights a chunk (8,192
 * rows, whole batches) at a time: 9,000 rows in batches of 700 fill one
 * chunk of 7,700 and part of another, with a short last batch. The rows
 * must meet their own labels (the model learns the rule), weights of 1 must
 * give the bytes of no weights, and any thread count the same bytes.
 */
static void
mlp_rows_across_chunks(void **state)
{
	size_t n = 9000, d = 8, i, j, right = 0;
	float *X = malloc(n * d * sizeof(float)), *w = malloc(n * sizeof(float));
	int64_t *y = malloc(n * sizeof(int64_t)), *p = malloc(n * sizeof(int64_t));
	struct kp_model a, b;
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_rng r;
	char err[KP_ERRLEN];
	int th;

	(void)state;
	kp_rng_seed(&r, 3);
	for (i = 0; i < n; i++) {
		double s = 0;

		for (j = 0; j < d; j++) {
			X[i * d + j] = (float)(2 * kp_rng_uniform(&r) - 1);
			s += (j % 2 ? -1.0 : 1.0) * X[i * d + j];
		}
		y[i] = s > 0;
		w[i] = 1;
	}
	kp_fit_opts_init(&o);
	o.kind = KP_MLP;
	o.hidden[0] = 16;
	o.nhidden = 1;
	o.epochs = 5;
	o.batch = 700;
	o.lr = 0.01;
	o.threads = 1;
	assert_int_equal(kp_fit(&a, &o, X, n, d, y, NULL, 2, &h, NULL, NULL, err), 0);
	kp_history_release(&h);
	kp_model_predict(&a, X, n, p, NULL);
	for (i = 0; i < n; i++)
		right += p[i] == y[i];
	assert_true((double)right / (double)n > 0.95);
	o.weights = w;
	for (th = 1; th <= 3; th++) {
		o.threads = th;
		assert_int_equal(kp_fit(&b, &o, X, n, d, y, NULL, 2, &h, NULL, NULL, err), 0);
		kp_history_release(&h);
		assert_true(same_weights(&a, &b));
		kp_model_release(&b);
	}
	kp_model_release(&a);
	free(X);
	free(w);
	free(y);
	free(p);
}

/*
 * Each training thread asks for the rows of its next sub-batch while it
 * computes the current one: the next in the step, or one of the next
 * step, or none after the epoch's last. With a validation split (the
 * epoch's rows start past the held-out ones), batches of 300 (sub-batches
 * of 128, 128 and 44), a short last batch and more threads than
 * sub-batches, 1 to 4 threads give the same bytes; ASan sees any index
 * read past the epoch's rows.
 */
static void
mlp_next_sub_batch_any_threads(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_model a, b;
	struct kp_fit_opts o;
	int th;

	(void)state;
	make_data(X, y, yf, 2);
	kp_fit_opts_init(&o);
	o.kind = KP_MLP;
	o.hidden[0] = 24;
	o.nhidden = 1;
	o.epochs = 3;
	o.batch = 300;
	o.validation = 0.25;
	o.threads = 1;
	train(&o, X, y, NULL, 2, &a);
	assert_true(accuracy(&a, X, y) > 0.8);
	for (th = 2; th <= 4; th++) {
		o.threads = th;
		train(&o, X, y, NULL, 2, &b);
		assert_true(same_weights(&a, &b));
		kp_model_release(&b);
	}
	/* regression: a linear output of one column */
	kp_model_release(&a);
	o.threads = 1;
	train(&o, X, NULL, yf, 0, &a);
	o.threads = 3;
	train(&o, X, NULL, yf, 0, &b);
	assert_true(same_weights(&a, &b));
	kp_model_release(&a);
	kp_model_release(&b);
	free(X);
	free(y);
	free(yf);
}

/*
 * Without validation, the MLP stops as scikit-learn's does: when more than
 * patience epochs in a row have not brought the training loss tol below its
 * best. With a tol no epoch can meet, that is after 1 + patience + 1 epochs.
 */
static void
mlp_tol_stop_after_patience(void **state)
{
	float *X = malloc(N * D * sizeof(float)), *yf = malloc(N * sizeof(float));
	int64_t *y = malloc(N * sizeof(int64_t));
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_model m;
	char err[KP_ERRLEN];

	(void)state;
	make_data(X, y, yf, 3);
	kp_fit_opts_init(&o);
	o.kind = KP_MLP;
	o.hidden[0] = 8;
	o.nhidden = 1;
	o.epochs = 50;
	o.batch = 200;
	o.lr = 1e-3;
	o.tol = 1e3;
	o.patience = 3;
	assert_int_equal(kp_fit(&m, &o, X, N, D, y, NULL, 3, &h, NULL, NULL, err), 0);
	assert_int_equal(h.n, 5);
	assert_int_equal(h.best_epoch, 5);
	kp_history_release(&h);
	kp_model_release(&m);
	free(X);
	free(y);
	free(yf);
}

static void
bad_training_input(void **state)
{
	float X[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }, w[4] = { 1, 1, NAN, 1 };
	int64_t one[4] = { 0, 0, 0, 0 }, three[4] = { 0, 1, 2, 1 }, bad[4] = { 0, 5, 1, 0 };
	char err[KP_ERRLEN];
	struct kp_fit_opts o;
	struct kp_history h;
	struct kp_model m;

	(void)state;
	kp_fit_opts_init(&o);
	assert_int_equal(kp_fit(&m, &o, X, 4, 2, one, NULL, 1, &h, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "only one class"));
	assert_int_equal(kp_fit(&m, &o, X, 4, 2, bad, NULL, 3, &h, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "label 5 of row 2"));
	o.kind = KP_LOGISTIC;
	assert_int_equal(kp_fit(&m, &o, X, 4, 2, three, NULL, 3, &h, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "needs a label with 2 classes"));
	o.kind = KP_SOFTMAX;
	o.weights = w;
	assert_int_equal(kp_fit(&m, &o, X, 4, 2, three, NULL, 3, &h, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "weight of row 3"));
	o.weights = NULL;
	o.kind = KP_RIDGE;
	o.l2 = 0;	/* two identical columns: singular without l2 */
	X[1] = 0, X[3] = 2, X[5] = 4, X[7] = 6;
	assert_int_equal(kp_fit(&m, &o, X, 4, 2, NULL, X, 0, &h, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "singular"));
}

/*
 * kp_barrier: in every round each thread writes its slot, meets the others,
 * and must then see every slot at this round; then meets them again before
 * the next round's writes. Enough rounds, and more threads than this
 * machine has CPUs, that waits both spin and sleep.
 */
#define BARRIER_THREADS 4
#define BARRIER_ROUNDS 20000

struct barrier_test {
	struct kp_barrier b;
	unsigned slot[BARRIER_THREADS];
	int bad;
};

struct barrier_arg {
	struct barrier_test *t;
	size_t w;
};

static void *
barrier_thread(void *arg)
{
	struct barrier_test *t = ((struct barrier_arg *)arg)->t;
	size_t w = ((struct barrier_arg *)arg)->w, i;
	unsigned r;

	for (r = 1; r <= BARRIER_ROUNDS; r++) {
		__atomic_store_n(&t->slot[w], r, __ATOMIC_RELAXED);
		kp_barrier_wait(&t->b);
		for (i = 0; i < BARRIER_THREADS; i++)
			if (__atomic_load_n(&t->slot[i], __ATOMIC_RELAXED) != r)
				__atomic_store_n(&t->bad, 1, __ATOMIC_RELAXED);
		kp_barrier_wait(&t->b);
	}
	return NULL;
}

static void
barrier_holds_every_thread(void **state)
{
	struct barrier_test t = { .bad = 0 };
	struct barrier_arg args[BARRIER_THREADS];
	pthread_t th[BARRIER_THREADS];
	size_t i;

	(void)state;
	kp_barrier_init(&t.b, BARRIER_THREADS);
	for (i = 0; i < BARRIER_THREADS; i++) {
		args[i] = (struct barrier_arg){ &t, i };
		assert_int_equal(pthread_create(&th[i], NULL, barrier_thread, &args[i]), 0);
	}
	for (i = 0; i < BARRIER_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(t.bad, 0);
	assert_int_equal(t.b.gen, 2 * BARRIER_ROUNDS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mlp_is_deterministic),
		cmocka_unit_test(gemm_matches_fma_chain),
		cmocka_unit_test(ridge_recovers_linear_rule),
		cmocka_unit_test(logistic_and_softmax_learn),
		cmocka_unit_test(early_stopping_keeps_best),
		cmocka_unit_test(logistic_lbfgs_same_bytes_any_threads),
		cmocka_unit_test(lbfgs_minimises),
		cmocka_unit_test(lbfgs_softmax_optimum),
		cmocka_unit_test(mlp_rows_across_chunks),
		cmocka_unit_test(mlp_tol_stop_after_patience),
		cmocka_unit_test(mlp_next_sub_batch_any_threads),
		cmocka_unit_test(bad_training_input),
		cmocka_unit_test(barrier_holds_every_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
