/*
 * Training: ridge regression in closed form, logistic and softmax models by
 * L-BFGS or mini-batch Adam, and MLPs by Adam, on OpenBLAS, but for the
 * MLP's products at sub-batch shapes (kp_gemm, gemm.h: OpenBLAS's packing
 * costs as much as the product there) and logistic regression's L-BFGS
 * pass (one loop per row, reading X once per evaluation).
 *
 * Determinism: every random choice comes from one seeded generator, and
 * every sum runs in an order that depends on the data and the params only.
 * OpenBLAS blocks a product differently for each thread count (0.3.21's
 * Zen kernels: a quarter of a 128x64x100 product's elements differ in their
 * last bits between 1 and 2 threads; bench/train.sh checks), so it runs on
 * one thread here; training runs on several by splitting each batch into
 * sub-batches of SUB rows, whose gradients are added in sub-batch order
 * whichever thread computed them. The weights are the same bytes run after
 * run and for any number of threads.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "fit.h"
#include "gemm.h"
#include "lbfgs.h"
#include "model.h"
#include "pool.h"
#include "util.h"

/* Rows per block when ridge accumulates X^T X. */
#define RIDGE_BLOCK 4096
/* Rows per block of the L-BFGS objective: fixed, as SUB is. */
#define LBFGS_BLOCK 4096
/* Rows per sub-batch: the unit of work of one thread, fixed so that the
 * order of the gradient's sums does not depend on the thread count. */
#define SUB 128
/* Rows of the result per call of the first layer's products, between which
 * rows of the thread's next sub-batch are asked for (gemm_prefetching). */
#define CHUNK 12

void
kp_fit_opts_init(struct kp_fit_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = KP_SOFTMAX;
	o->epochs = 100;
	o->lr = 0.01;
	o->l2 = 1e-4;
	o->batch = 32;
	o->patience = 10;
	o->seed = 1;
	o->trees = 100;
	o->depth = 6;
	o->min_child_weight = 1;
	o->subsample = 1;
	o->colsample = 1;
	o->bins = 256;
}

void
kp_history_release(struct kp_history *h)
{
	free(h->loss);
	free(h->val);
	memset(h, 0, sizeof(*h));
}

void
kp_history_add(struct kp_history *h, double loss, double val)
{
	h->loss = kp_xrealloc(h->loss, h->n + 1, sizeof(double));
	h->val = kp_xrealloc(h->val, h->n + 1, sizeof(double));
	h->loss[h->n] = loss;
	h->val[h->n] = val;
	h->n++;
}

/* ---- ridge ---- */

/* Targets of row i: the value, or +1 for its class and -1 for the others. */
static void
ridge_targets(const int64_t *y, const float *yf, size_t i, size_t k, double *t)
{
	size_t j;

	if (!y) {
		t[0] = yf[i];
		return;
	}
	for (j = 0; j < k; j++)
		t[j] = (size_t)y[i] == j ? 1 : -1;
}

/* Cholesky solve of G W = B in place (G d x d, B d x k); -1 if not positive. */
static int
cholesky_solve(double *G, double *B, size_t d, size_t k)
{
	size_t i, j, c, p;

	for (j = 0; j < d; j++) {
		double s = G[j * d + j];

		for (p = 0; p < j; p++)
			s -= G[j * d + p] * G[j * d + p];
		if (!(s > 1e-12))
			return -1;
		G[j * d + j] = sqrt(s);
		for (i = j + 1; i < d; i++) {
			double t = G[i * d + j];

			for (p = 0; p < j; p++)
				t -= G[i * d + p] * G[j * d + p];
			G[i * d + j] = t / G[j * d + j];
		}
	}
	for (c = 0; c < k; c++) {
		for (i = 0; i < d; i++) {
			double t = B[i * k + c];

			for (p = 0; p < i; p++)
				t -= G[i * d + p] * B[p * k + c];
			B[i * k + c] = t / G[i * d + i];
		}
		for (i = d; i-- > 0;) {
			double t = B[i * k + c];

			for (p = i + 1; p < d; p++)
				t -= G[p * d + i] * B[p * k + c];
			B[i * k + c] = t / G[i * d + i];
		}
	}
	return 0;
}

/* Column means of X and of the targets, summed in double in row order. */
static void
ridge_means(const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t k, double *mx, double *mt)
{
	double *t = kp_xmallocarray(k, sizeof(double));
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < d; j++)
			mx[j] += X[i * d + j];
		ridge_targets(y, yf, i, k, t);
		for (j = 0; j < k; j++)
			mt[j] += t[j];
	}
	for (j = 0; j < d; j++)
		mx[j] /= (double)n;
	for (j = 0; j < k; j++)
		mt[j] /= (double)n;
	free(t);
}

/*
 * G += Xc^T Xc and B += Xc^T Tc over centred blocks: float products, double
 * sums, so 200,000 rows lose no precision while ssyrk does the work.
 */
static void
ridge_gram(const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t k, const double *mx, const double *mt, double *G, double *B)
{
	float *xb = kp_xmallocarray(RIDGE_BLOCK * d, sizeof(float));
	float *tb = kp_xmallocarray(RIDGE_BLOCK * k, sizeof(float));
	float *g = kp_xmallocarray(d * d, sizeof(float));
	float *bb = kp_xmallocarray(d * k, sizeof(float));
	double *t = kp_xmallocarray(k, sizeof(double));
	size_t r, i, j;

	for (r = 0; r < n; r += RIDGE_BLOCK) {
		size_t rows = n - r < RIDGE_BLOCK ? n - r : RIDGE_BLOCK;

		for (i = 0; i < rows; i++) {
			for (j = 0; j < d; j++)
				xb[i * d + j] = (float)(X[(r + i) * d + j] - mx[j]);
			ridge_targets(y, yf, r + i, k, t);
			for (j = 0; j < k; j++)
				tb[i * k + j] = (float)(t[j] - mt[j]);
		}
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)rows,
			1.0f, xb, (int)d, 0.0f, g, (int)d);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)k,
			(int)rows, 1.0f, xb, (int)d, tb, (int)k, 0.0f, bb, (int)k);
		for (i = 0; i < d; i++)
			for (j = i; j < d; j++)
				G[i * d + j] += g[i * d + j];
		for (i = 0; i < d * k; i++)
			B[i] += bb[i];
	}
	for (i = 0; i < d; i++)
		for (j = 0; j < i; j++)
			G[i * d + j] = G[j * d + i];
	free(xb);
	free(tb);
	free(g);
	free(bb);
	free(t);
}

static int
train_ridge(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, struct kp_history *h, char *err)
{
	size_t k = nclasses ? nclasses : 1, sizes[2] = { d, k }, i, j;
	double *mx = kp_xcalloc(d, sizeof(double)), *mt = kp_xcalloc(k, sizeof(double));
	double *G = kp_xcalloc(d * d, sizeof(double)), *B = kp_xcalloc(d * k, sizeof(double));
	int rc = 0;

	ridge_means(X, n, d, y, yf, k, mx, mt);
	ridge_gram(X, n, d, y, yf, k, mx, mt, G, B);
	for (i = 0; i < d; i++)
		G[i * d + i] += o->l2;
	if (cholesky_solve(G, B, d, k) < 0) {
		rc = kp_errf(err, "ridge: X^T X + l2 I is singular (constant or duplicate features?); set l2 > 0");
		goto out;
	}
	kp_model_init(m, KP_RIDGE, nclasses > 0, sizes, 2);
	for (j = 0; j < k; j++) {
		double b = mt[j];

		for (i = 0; i < d; i++) {
			m->layers[0].w[i * k + j] = (float)B[i * k + j];
			b -= mx[i] * B[i * k + j];
		}
		m->layers[0].b[j] = (float)b;
	}
	h->flops = (double)n * d * d + 2.0 * n * d * k + (double)d * d * d / 3;
	h->best_epoch = 1;
	kp_history_add(h, NAN, NAN);
out:
	free(mx);
	free(mt);
	free(G);
	free(B);
	return rc;
}

/* ---- gradient training ---- */

/* Buffers of one network during training. */
struct net {
	struct kp_model *m;
	size_t batch;
	float **a;		/* a[i]: batch x width of layer i's input; a[nlayers] the output */
	float **delta;		/* delta[i]: batch x layers[i].out */
	float **gw, **gb;	/* gradients */
	float **mw, **vw, **mb, **vb;	/* Adam moments */
	float *wt;		/* a layer's weights transposed, for kp_gemm */
	/* A working net's sub-batch: its rows, labels or targets and weights. */
	float *xs, *yfs, *ws;
	int64_t *ys;
	/* The rows of its next sub-batch not yet asked for (prefetch_next). */
	const size_t *pf;
	size_t npf, pf_per;	/* pf_per: rows asked for after each chunk */
	long step;
	struct pool *pool;	/* the pool a working net belongs to */
};

static float **
alloc_per_layer(const struct kp_model *m, int weights, size_t rows)
{
	float **p = kp_xcalloc(m->nlayers + 1, sizeof(float *));
	size_t i;

	for (i = 0; i < m->nlayers; i++) {
		size_t n = weights ? m->layers[i].in * m->layers[i].out : m->layers[i].out;

		p[i] = kp_xcalloc(rows * n, sizeof(float));
	}
	return p;
}

static void
free_per_layer(float **p, size_t n)
{
	size_t i;

	for (i = 0; p && i < n; i++)
		free(p[i]);
	free(p);
}

static void
net_init(struct net *t, struct kp_model *m, size_t batch)
{
	size_t i, n;

	memset(t, 0, sizeof(*t));
	t->m = m;
	t->batch = batch;
	t->a = kp_xcalloc(m->nlayers + 1, sizeof(float *));
	for (i = 1; i <= m->nlayers; i++)
		t->a[i] = kp_xcalloc(batch * m->layers[i - 1].out, sizeof(float));
	t->delta = alloc_per_layer(m, 0, batch);
	t->gw = alloc_per_layer(m, 1, 1);
	t->mw = alloc_per_layer(m, 1, 1);
	t->vw = alloc_per_layer(m, 1, 1);
	t->gb = alloc_per_layer(m, 0, 1);
	t->mb = alloc_per_layer(m, 0, 1);
	t->vb = alloc_per_layer(m, 0, 1);
	for (i = 0, n = 0; i < m->nlayers; i++)
		n = m->layers[i].in * m->layers[i].out > n ? m->layers[i].in * m->layers[i].out : n;
	t->wt = kp_xcalloc(n, sizeof(float));
}

static void
net_release(struct net *t)
{
	size_t i, n = t->m->nlayers;

	for (i = 1; i <= n; i++)
		free(t->a[i]);
	free(t->a);
	free_per_layer(t->delta, n);
	free_per_layer(t->gw, n);
	free_per_layer(t->mw, n);
	free_per_layer(t->vw, n);
	free_per_layer(t->gb, n);
	free_per_layer(t->mb, n);
	free_per_layer(t->vb, n);
	free(t->wt);
}

/*
 * Glorot-uniform weights and biases, each layer's weights then its biases
 * from U(-b, b), b = sqrt(6 / (in + out)), as scikit-learn's MLP starts
 * (for ReLU units); zeros for linear models.
 */
static void
init_weights(struct kp_model *m, struct kp_rng *r)
{
	size_t i, j;

	if (m->nlayers == 1)
		return;
	for (i = 0; i < m->nlayers; i++) {
		struct kp_layer *l = &m->layers[i];
		double lim = sqrt(6.0 / (double)(l->in + l->out));

		for (j = 0; j < l->in * l->out; j++)
			l->w[j] = (float)((2 * kp_rng_uniform(r) - 1) * lim);
		for (j = 0; j < l->out; j++)
			l->b[j] = (float)((2 * kp_rng_uniform(r) - 1) * lim);
	}
}

static void prefetch_next(struct net *t, size_t rows);

/*
 * kp_gemm (gemm.h) for the first layer's products, which read the rows
 * gathered: CHUNK rows of the result at a time (each element is computed
 * alike either way), and after each chunk t->pf_per rows of the thread's
 * next sub-batch are asked for from memory, so that they come while it
 * computes, spread over both products, rather than while the next gather
 * waits for them.
 */
static void
gemm_prefetching(struct net *t, size_t m, size_t n, size_t k, const float *A,
	size_t ars, size_t acs, const float *B, size_t ldb, float *C, size_t ldc,
	const float *bias, int relu)
{
	size_t r, c;

	for (r = 0; r < m; r += c) {
		c = m - r < CHUNK ? m - r : CHUNK;
		kp_gemm(c, n, k, A + r * ars, ars, acs, B, ldb, C + r * ldc, ldc, bias, relu);
		prefetch_next(t, t->pf_per);
	}
}

/*
 * Forward pass of the gathered rows, keeping every layer's activations:
 * by kp_gemm where the processor has it (whether it does is the same for
 * any thread count), a ReLU layer in one pass (product, bias and ReLU).
 */
static void
net_forward(struct net *t, size_t rows)
{
	size_t i;

	for (i = 0; i < t->m->nlayers; i++) {
		const struct kp_layer *l = &t->m->layers[i];

		if (!kp_gemm_available()) {
			kp_layer_forward(l, t->a[i], rows, t->a[i + 1]);
			continue;
		}
		if (i == 0)
			gemm_prefetching(t, rows, l->out, l->in, t->a[0], l->in, 1, l->w, l->out,
				t->a[1], l->out, l->b, l->act == KP_RELU);
		else
			kp_gemm(rows, l->out, l->in, t->a[i], l->in, 1, l->w, l->out,
				t->a[i + 1], l->out, l->b, l->act == KP_RELU);
		if (l->act != KP_RELU)
			kp_activate(l->act, t->a[i + 1], rows, l->out);
	}
}

/*
 * Output delta (gradient of the batch's mean loss, over denom rows, by the
 * pre-activation) for cross-entropy on sigmoid/softmax and squared error on
 * a linear output, for the rows rows gathered, whose labels (or targets) and
 * weights y, yf and wt hold in the same order. Returns their summed loss.
 */
static double
output_delta(struct net *t, size_t rows, size_t denom, const int64_t *y,
	const float *yf, const float *wt)
{
	const struct kp_layer *l = &t->m->layers[t->m->nlayers - 1];
	float *p = t->a[t->m->nlayers], *d = t->delta[t->m->nlayers - 1];
	size_t i, j, k = l->out;
	double loss = 0;

	for (i = 0; i < rows; i++) {
		float w = wt ? wt[i] : 1.0f;

		for (j = 0; j < k; j++) {
			float target;

			if (!y)
				target = yf[i];
			else if (k == 1)
				target = (float)y[i];
			else
				target = (size_t)y[i] == j;
			d[i * k + j] = w * (p[i * k + j] - target) / (float)denom;
			if (!y)
				loss += w * (double)(p[i * k + j] - target) * (p[i * k + j] - target);
			else if (target > 0)
				loss -= w * log(fmax(p[i * k + j], 1e-7));
			else if (k == 1)
				loss -= w * log(fmax(1 - p[i * k + j], 1e-7));
		}
	}
	return loss;
}

/*
 * ReLU's derivative: zero d where the layer's output a is zero. a comes out
 * of kp_relu, so it is +0 or positive; integer masks keep it
 * branch-free and vectorised.
 */
static void
relu_mask(float *d, const float *a, size_t n)
{
	const uint32_t *au = (const uint32_t *)a;
	uint32_t *du = (uint32_t *)d;
	size_t j;

	for (j = 0; j < n; j++)
		du[j] &= -(uint32_t)(au[j] != 0);
}

/*
 * The weight gradient a^T · delta of layer i (rows rows) whose outputs are
 * fewer than a vector (an output layer of a few classes): as its
 * transpose delta^T · a, whose rows are the layer's inputs, a vector's
 * worth of them at a time, then transposed. Each element is the same
 * chain of fused multiply-adds over the rows as a^T · delta's (its two
 * factors swapped, which changes no bit), a third of the time.
 */
static void
weight_gradient_narrow(struct net *t, const struct kp_layer *l, size_t i, size_t rows)
{
	size_t r, j;

	kp_gemm(l->out, l->in, rows, t->delta[i], 1, l->out, t->a[i], l->in, t->wt, l->in,
		NULL, 0);
	for (j = 0; j < l->out; j++)
		for (r = 0; r < l->in; r++)
			t->gw[i][r * l->out + j] = t->wt[j * l->in + r];
}

/* Gradients of every layer from the output delta down. */
static void
net_backward(struct net *t, size_t rows)
{
	size_t i, r, j;

	for (i = t->m->nlayers; i-- > 0;) {
		const struct kp_layer *l = &t->m->layers[i];
		float *d = t->delta[i];

		if (kp_gemm_available() && i == 0)
			gemm_prefetching(t, l->in, l->out, rows, t->a[0], 1, l->in, d, l->out,
				t->gw[0], l->out, NULL, 0);
		else if (kp_gemm_available() && l->out < 8)
			weight_gradient_narrow(t, l, i, rows);
		else if (kp_gemm_available())
			kp_gemm(l->in, l->out, rows, t->a[i], 1, l->in, d, l->out, t->gw[i],
				l->out, NULL, 0);
		else if (l->out == 1)
			cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, (int)l->in, 1.0f,
				t->a[i], (int)l->in, d, 1, 0.0f, t->gw[i], 1);
		else
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l->in,
				(int)l->out, (int)rows, 1.0f, t->a[i], (int)l->in, d,
				(int)l->out, 0.0f, t->gw[i], (int)l->out);
		memset(t->gb[i], 0, l->out * sizeof(float));
		for (r = 0; r < rows; r++)
			for (j = 0; j < l->out; j++)
				t->gb[i][j] += d[r * l->out + j];
		if (i == 0)
			break;
		if (kp_gemm_available()) {
			for (r = 0; r < l->in; r++)
				for (j = 0; j < l->out; j++)
					t->wt[j * l->in + r] = l->w[r * l->out + j];
			kp_gemm(rows, l->in, l->out, d, l->out, 1, t->wt, l->in,
				t->delta[i - 1], l->in, NULL, 0);
		} else {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
				(int)l->in, (int)l->out, 1.0f, d, (int)l->out, l->w,
				(int)l->out, 0.0f, t->delta[i - 1], (int)l->in);
		}
		relu_mask(t->delta[i - 1], t->a[i], rows * l->in);
	}
}

static void
adam(float *w, const float *g, float *mo, float *v, size_t n, float l2,
	float lr, float c1, float c2)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float gi = g[i] + l2 * w[i];

		mo[i] = 0.9f * mo[i] + 0.1f * gi;
		v[i] = 0.999f * v[i] + 0.001f * gi * gi;
		w[i] -= lr * (mo[i] / c1) / (sqrtf(v[i] / c2) + 1e-8f);
	}
}


static double
batch_flops(const struct kp_model *m, size_t rows)
{
	double f = 0;
	size_t i;

	for (i = 0; i < m->nlayers; i++)
		f += 2.0 * rows * m->layers[i].in * m->layers[i].out * (i ? 3 : 2);
	return f;
}

/* The gradient and loss of one sub-batch. */
struct grad {
	float **gw, **gb;
	double loss;
};

/* Threads that compute the sub-batches of each step, and what they share. */
struct pool {
	struct net main;	/* the model's gradient sums and Adam moments */
	struct net *nets;	/* nthreads working nets of SUB rows */
	struct grad *grads;	/* one per sub-batch of a full batch */
	size_t nthreads, ngrads;
	pthread_t *threads;
	struct kp_barrier go, done;
	int quit;
	/* The current step: the rows idx[0..rows) of X, their labels or targets,
	 * and Adam's bias corrections for it. */
	const struct kp_fit_opts *o;
	const float *X;
	const size_t *idx, *end;	/* end: past the epoch's last row */
	size_t rows, batch;
	float c1, c2;
	const int64_t *y;
	const float *yf;
};

/* Ask for the lines of row i of X and of its label or target and weight. */
static void
prefetch_row(const struct pool *p, size_t i)
{
	size_t d = p->main.m->layers[0].in;
	uintptr_t r = (uintptr_t)(p->X + i * d), end = r + d * sizeof(float);

	/*
	 * Every line the row touches, the last one too when it does not start
	 * a line; on integers, since gcc 12 dropped these prefetches written
	 * as pointer arithmetic once the function was inlined (objdump showed
	 * none).
	 */
	for (r -= r % 64; r < end; r += 64)
		__builtin_prefetch((const void *)r);
	__builtin_prefetch(p->y ? (const void *)(p->y + i) : (const void *)(p->yf + i));
	if (p->o->weights)
		__builtin_prefetch(p->o->weights + i);
}

/* Ask for the next rows (at most rows of them) of net t's next sub-batch. */
static void
prefetch_next(struct net *t, size_t rows)
{
	for (; rows && t->npf; rows--, t->npf--)
		prefetch_row(t->pool, *t->pf++);
}

/*
 * Point net t (thread w), now at sub-batch s of the step (rows rows), at
 * the rows of the one it computes next: s + nthreads in this step, or
 * sub-batch w of the next step, or none at the epoch's end; to be asked
 * for in even parts over the chunks of the first layer's two products.
 */
static void
next_sub_batch(const struct pool *p, struct net *t, size_t w, size_t s, size_t rows)
{
	size_t chunks = (rows + CHUNK - 1) / CHUNK + (t->m->layers[0].in + CHUNK - 1) / CHUNK;
	const size_t *at = p->idx + (s + p->nthreads) * SUB, *step_end = p->idx + p->rows;

	if (at >= step_end) {
		at = step_end + w * SUB;
		step_end = (size_t)(p->end - step_end) < p->batch ? p->end : step_end + p->batch;
	}
	t->pf = at;
	t->npf = at < step_end ? (size_t)(step_end - at) < SUB ? (size_t)(step_end - at) : SUB : 0;
	t->pf_per = (t->npf + chunks - 1) / chunks;
}

/*
 * Copy the rows idx[0..rows) of X, their labels or targets and weights
 * into net t's sub-batch buffers, where the products read them while
 * they are in this core's cache. The rows come from all over X: each
 * one's cache lines are asked for some rows ahead.
 */
static void
gather(const struct pool *p, struct net *t, const size_t *idx, size_t rows)
{
	size_t d = t->m->layers[0].in, i;
	const float *wt = p->o->weights;

	for (i = 0; i < rows; i++) {
		if (i + 8 < rows)
			prefetch_row(p, idx[i + 8]);
		memcpy(t->xs + i * d, p->X + idx[i] * d, d * sizeof(float));
		if (p->y)
			t->ys[i] = p->y[idx[i]];
		else
			t->yfs[i] = p->yf[idx[i]];
		if (wt)
			t->ws[i] = wt[idx[i]];
	}
}

/* Gather, forward and backward sub-batch s of the current step on net t. */
static void
sub_batch(struct pool *p, struct net *t, size_t s)
{
	size_t r = s * SUB, rows = p->rows - r < SUB ? p->rows - r : SUB;

	gather(p, t, p->idx + r, rows);
	next_sub_batch(p, t, (size_t)(t - p->nets), s, rows);
	t->a[0] = t->xs;
	t->gw = p->grads[s].gw;
	t->gb = p->grads[s].gb;
	net_forward(t, rows);
	p->grads[s].loss = output_delta(t, rows, p->rows, p->y ? t->ys : NULL,
		p->y ? NULL : t->yfs, p->o->weights ? t->ws : NULL);
	net_backward(t, rows);
}

/* Thread w's share of the step's sub-batches: w, w + n, ... */
static void
share(struct pool *p, size_t w)
{
	size_t s;

	for (s = w; s * SUB < p->rows; s += p->nthreads)
		sub_batch(p, &p->nets[w], s);
}

/*
 * Thread w's slice [lo, hi) of an array of n elements: whole multiples of
 * 16 floats (a cache line), so that two threads seldom write one line.
 */
static void
slice(size_t n, size_t w, size_t nthreads, size_t *lo, size_t *hi)
{
	size_t per = ((n + nthreads - 1) / nthreads + 15) / 16 * 16;

	*lo = w * per < n ? w * per : n;
	*hi = n - *lo < per ? n : *lo + per;
}

/*
 * Thread w's slice of one array of the model (layer's weights, or its
 * biases): each element's gradient summed over the ns sub-batches in
 * their order into the main net's, then Adam's step on it. Every element
 * sees the same operations in the same order whichever thread has it.
 */
static void
update_slice(const struct pool *p, size_t w, size_t ns, size_t layer, int weights,
	float c1, float c2)
{
	const struct net *t = &p->main;
	struct kp_layer *l = &t->m->layers[layer];
	float *x = weights ? l->w : l->b, *g = (weights ? t->gw : t->gb)[layer];
	float *mo = (weights ? t->mw : t->mb)[layer], *v = (weights ? t->vw : t->vb)[layer];
	size_t n = weights ? l->in * l->out : l->out, lo, hi, s, j;

	slice(n, w, p->nthreads, &lo, &hi);
	if (lo == hi)
		return;
	memcpy(g + lo, (weights ? p->grads[0].gw : p->grads[0].gb)[layer] + lo,
		(hi - lo) * sizeof(float));
	for (s = 1; s < ns; s++) {
		const float *part = (weights ? p->grads[s].gw : p->grads[s].gb)[layer];

		for (j = lo; j < hi; j++)
			g[j] += part[j];
	}
	adam(x + lo, g + lo, mo + lo, v + lo, hi - lo, weights ? (float)p->o->l2 : 0,
		(float)p->o->lr, c1, c2);
}

/*
 * The step's work on thread w: its sub-batches, then, once every thread's
 * are done, its slice of the update. What the update needs of the step is
 * read first: thread 0 sets up the next step as soon as its own slice is
 * done, while the others may still be at theirs.
 */
static void
step_share(struct pool *p, size_t w)
{
	size_t ns = (p->rows + SUB - 1) / SUB, i;
	float c1 = p->c1, c2 = p->c2;

	share(p, w);
	if (p->nthreads > 1)
		kp_barrier_wait(&p->done);
	for (i = 0; ns && i < p->main.m->nlayers; i++) {
		update_slice(p, w, ns, i, 1, c1, c2);
		update_slice(p, w, ns, i, 0, c1, c2);
	}
}

/*
 * Run the step p says on every thread, the caller being thread 0. A step
 * of no rows only waits for the others to finish the last one's update.
 */
static void
run_step(struct pool *p)
{
	if (p->nthreads > 1)
		kp_barrier_wait(&p->go);
	step_share(p, 0);
}

static void *
thread_main(void *arg)
{
	struct net *t = arg;
	struct pool *p = t->pool;
	size_t w = (size_t)(t - p->nets);

	for (;;) {
		kp_barrier_wait(&p->go);
		if (p->quit)
			return NULL;
		step_share(p, w);
	}
}

static void
pool_init(struct pool *p, struct kp_model *m, const struct kp_fit_opts *o,
	size_t batch)
{
	size_t i, n = o->threads > 1 ? (size_t)o->threads : 1, d = m->layers[0].in;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->ngrads = (batch + SUB - 1) / SUB;
	p->nthreads = n < p->ngrads ? n : p->ngrads;
	net_init(&p->main, m, 1);
	p->nets = kp_xcalloc(p->nthreads, sizeof(*p->nets));
	p->grads = kp_xcalloc(p->ngrads, sizeof(*p->grads));
	for (i = 0; i < p->ngrads; i++) {
		p->grads[i].gw = alloc_per_layer(m, 1, 1);
		p->grads[i].gb = alloc_per_layer(m, 0, 1);
	}
	for (i = 0; i < p->nthreads; i++) {
		net_init(&p->nets[i], m, batch < SUB ? batch : SUB);
		p->nets[i].pool = p;
		p->nets[i].xs = kp_xmallocarray(SUB * d, sizeof(float));
		p->nets[i].ys = kp_xmallocarray(SUB, sizeof(int64_t));
		p->nets[i].yfs = kp_xmallocarray(SUB, sizeof(float));
		p->nets[i].ws = kp_xmallocarray(SUB, sizeof(float));
		/* A working net writes into the gradient of its current sub-batch. */
		free_per_layer(p->nets[i].gw, m->nlayers);
		free_per_layer(p->nets[i].gb, m->nlayers);
		p->nets[i].gw = p->nets[i].gb = NULL;
	}
	if (p->nthreads < 2)
		return;
	kp_barrier_init(&p->go, (unsigned)p->nthreads);
	kp_barrier_init(&p->done, (unsigned)p->nthreads);
	p->threads = kp_xcalloc(p->nthreads, sizeof(pthread_t));
	for (i = 1; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, thread_main, &p->nets[i]) != 0)
			abort();
}

static void
pool_release(struct pool *p)
{
	size_t i, nl = p->main.m->nlayers;

	if (p->nthreads > 1) {
		p->quit = 1;
		kp_barrier_wait(&p->go);
		for (i = 1; i < p->nthreads; i++)
			pthread_join(p->threads[i], NULL);
		free(p->threads);
	}
	for (i = 0; i < p->nthreads; i++) {
		p->nets[i].gw = p->nets[i].gb = NULL;	/* borrowed from grads */
		free(p->nets[i].xs);
		free(p->nets[i].ys);
		free(p->nets[i].yfs);
		free(p->nets[i].ws);
		net_release(&p->nets[i]);
	}
	for (i = 0; i < p->ngrads; i++) {
		free_per_layer(p->grads[i].gw, nl);
		free_per_layer(p->grads[i].gb, nl);
	}
	free(p->nets);
	free(p->grads);
	net_release(&p->main);
}

/* One epoch over the rows idx[0..n); returns the mean training loss. */
static double
epoch(struct pool *p, const float *X, const size_t *idx, size_t n, const int64_t *y,
	const float *yf, size_t batch, double *flops)
{
	double loss = 0;
	size_t r, s;

	p->X = X;
	p->y = y;
	p->yf = y ? NULL : yf;
	p->end = idx + n;
	p->batch = batch;
	for (r = 0; r < n; r += batch) {
		p->idx = idx + r;
		p->rows = n - r < batch ? n - r : batch;
		p->main.step++;
		p->c1 = (float)(1 - pow(0.9, (double)p->main.step));
		p->c2 = (float)(1 - pow(0.999, (double)p->main.step));
		run_step(p);
		for (s = 0; s * SUB < p->rows; s++)
			loss += p->grads[s].loss;
		*flops += batch_flops(p->main.m, p->rows);
	}
	/* Every thread's slice of the last update is in before the weights are read. */
	p->rows = 0;
	run_step(p);
	return loss / (double)n;
}

/* Accuracy (classification) or mean squared error on the held-out rows. */
static double
validate(const struct kp_model *m, const float *X, size_t d, const size_t *idx,
	size_t n, const int64_t *y, const float *yf)
{
	float *xv = kp_xmallocarray(n * d, sizeof(float));
	float *vals = kp_xmallocarray(n, sizeof(float));
	int64_t *pred = kp_xmallocarray(n, sizeof(int64_t));
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		memcpy(xv + i * d, X + idx[i] * d, d * sizeof(float));
	kp_model_predict(m, xv, n, pred, m->classification ? NULL : vals);
	for (i = 0; i < n; i++)
		s += y ? (double)(pred[i] == y[idx[i]])
		       : (double)(vals[i] - yf[idx[i]]) * (vals[i] - yf[idx[i]]);
	free(xv);
	free(vals);
	free(pred);
	return s / (double)n;
}

static void
copy_weights(struct kp_model *dst, const struct kp_model *src)
{
	size_t i;

	for (i = 0; i < src->nlayers; i++) {
		const struct kp_layer *l = &src->layers[i];

		memcpy(dst->layers[i].w, l->w, l->in * l->out * sizeof(float));
		memcpy(dst->layers[i].b, l->b, l->out * sizeof(float));
	}
}

/* Layer sizes of the network to train; returns their number or -1. */
static int
layer_sizes(const struct kp_fit_opts *o, size_t d, size_t nclasses,
	size_t *sizes, char *err)
{
	size_t n = 0, i;

	sizes[n++] = d;
	if (o->kind == KP_LOGISTIC && nclasses != 2)
		return kp_errf(err, "logistic regression needs a label with 2 classes, this one has %zu (use softmax)",
			nclasses);
	if ((o->kind == KP_LOGISTIC || o->kind == KP_SOFTMAX) && nclasses == 0)
		return kp_errf(err, "%s needs a classification task; use ridge or mlp for regression",
			kp_kind_name(o->kind));
	if (o->kind == KP_MLP)
		for (i = 0; i < o->nhidden; i++)
			sizes[n++] = o->hidden[i];
	sizes[n++] = o->kind == KP_LOGISTIC ? 1 : nclasses ? nclasses : 1;
	return (int)n;
}

/* Split rows into training and validation parts with the seeded generator. */
static size_t
split_validation(const struct kp_fit_opts *o, size_t n, size_t *idx,
	struct kp_rng *r)
{
	size_t i, nval;

	for (i = 0; i < n; i++)
		idx[i] = i;
	if (o->validation <= 0)
		return 0;
	kp_rng_shuffle(r, idx, n);
	nval = (size_t)llround(o->validation * (double)n);
	if (nval < 1)
		nval = 1;
	if (nval >= n)
		nval = n - 1;
	return nval;
}

/* ---- checkpoints: the state of train_adam between epochs ---- */

#define CKPT_MAGIC "kiln-fit-state 1"

/* What train_adam carries from one epoch to the next, besides the model. */
struct adam_state {
	int epoch, since;
	double best_val;
	struct kp_rng *rng;
	size_t *idx, n;
	struct kp_model *best;
	struct net *main;
	struct kp_history *h;
};

/* Every float array of the state, in a fixed order: weights, best weights, moments. */
static void
each_array(struct adam_state *s, void (*fn)(void *arg, float *p, size_t n), void *arg)
{
	size_t i;

	for (i = 0; i < s->main->m->nlayers; i++) {
		struct kp_layer *l = &s->main->m->layers[i], *b = &s->best->layers[i];
		size_t nw = l->in * l->out;

		fn(arg, l->w, nw);
		fn(arg, l->b, l->out);
		fn(arg, b->w, nw);
		fn(arg, b->b, l->out);
		fn(arg, s->main->mw[i], nw);
		fn(arg, s->main->vw[i], nw);
		fn(arg, s->main->mb[i], l->out);
		fn(arg, s->main->vb[i], l->out);
	}
}

struct bytes {
	unsigned char *p;
	size_t len, cap, at;
	int bad;
};

static void
put(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = kp_xrealloc(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
get(struct bytes *b, void *p, size_t n)
{
	if (b->bad || b->at + n > b->len) {
		b->bad = 1;
		memset(p, 0, n);
		return;
	}
	memcpy(p, b->p + b->at, n);
	b->at += n;
}

static void
put_array(void *arg, float *p, size_t n)
{
	put(arg, p, n * sizeof(float));
}

static void
get_array(void *arg, float *p, size_t n)
{
	get(arg, p, n * sizeof(float));
}

/* The layer shapes, so that a state is never loaded into another network. */
static uint64_t
shape_sum(const struct kp_model *m, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ n;
	size_t i;

	for (i = 0; i < m->nlayers; i++)
		h = (h ^ m->layers[i].in ^ (m->layers[i].out << 24)) * 1099511628211ULL;
	return h;
}

static void
state_save(struct adam_state *s, struct bytes *b)
{
	uint64_t shape = shape_sum(s->main->m, s->n), hn = s->h->n;

	put(b, CKPT_MAGIC, sizeof(CKPT_MAGIC));
	put(b, &shape, sizeof(shape));
	put(b, &s->epoch, sizeof(s->epoch));
	put(b, &s->since, sizeof(s->since));
	put(b, &s->best_val, sizeof(s->best_val));
	put(b, &s->main->step, sizeof(s->main->step));
	put(b, s->rng->s, sizeof(s->rng->s));
	put(b, s->idx, s->n * sizeof(*s->idx));
	put(b, &s->h->best_epoch, sizeof(s->h->best_epoch));
	put(b, &s->h->flops, sizeof(s->h->flops));
	put(b, &hn, sizeof(hn));
	put(b, s->h->loss, hn * sizeof(double));
	put(b, s->h->val, hn * sizeof(double));
	each_array(s, put_array, b);
}

/* Load a saved state into s; -1 if it is not one of this training. */
static int
state_load(struct adam_state *s, const void *data, size_t len)
{
	struct bytes b = {(unsigned char *)data, len, len, 0, 0};
	char magic[sizeof(CKPT_MAGIC)];
	uint64_t shape, hn, i;
	double *loss, *val;

	get(&b, magic, sizeof(magic));
	get(&b, &shape, sizeof(shape));
	if (b.bad || memcmp(magic, CKPT_MAGIC, sizeof(magic)) != 0 || shape != shape_sum(s->main->m, s->n))
		return -1;
	get(&b, &s->epoch, sizeof(s->epoch));
	get(&b, &s->since, sizeof(s->since));
	get(&b, &s->best_val, sizeof(s->best_val));
	get(&b, &s->main->step, sizeof(s->main->step));
	get(&b, s->rng->s, sizeof(s->rng->s));
	get(&b, s->idx, s->n * sizeof(*s->idx));
	get(&b, &s->h->best_epoch, sizeof(s->h->best_epoch));
	get(&b, &s->h->flops, sizeof(s->h->flops));
	get(&b, &hn, sizeof(hn));
	if (b.bad || hn > (uint64_t)s->epoch || hn > len)
		return -1;
	loss = kp_xmallocarray(hn ? hn : 1, sizeof(double));
	val = kp_xmallocarray(hn ? hn : 1, sizeof(double));
	get(&b, loss, hn * sizeof(double));
	get(&b, val, hn * sizeof(double));
	for (i = 0; i < hn && !b.bad; i++)
		kp_history_add(s->h, loss[i], val[i]);
	free(loss);
	free(val);
	each_array(s, get_array, &b);
	for (i = 0; i < s->n && !b.bad; i++)
		if (s->idx[i] >= s->n)
			b.bad = 1;
	return b.bad || b.at != len ? -1 : 0;
}

/* Save a checkpoint after epoch e, every `every` epochs but not after the last; nonzero: stop. */
static int
checkpoint(const struct kp_fit_opts *o, struct adam_state *s)
{
	struct bytes b = {0};
	int r;

	if (!o->ckpt || o->ckpt->every <= 0 || s->epoch % o->ckpt->every != 0 || s->epoch >= o->epochs)
		return 0;
	state_save(s, &b);
	r = o->ckpt->save(o->ckpt->arg, s->epoch, b.p, b.len);
	free(b.p);
	return r;
}

/*
 * Early stopping on the training loss, as scikit-learn's MLP without a
 * validation split: an epoch whose loss is not below the best by more than
 * tol adds one to since (returned), any other sets it to 0; *best (NaN at
 * first) follows the lowest loss. The training stops when since exceeds
 * patience (scikit-learn's n_iter_no_change).
 */
static int
loss_stalled(double loss, double tol, double *best, int since)
{
	int stalled = !isnan(*best) && !(loss < *best - tol);

	if (isnan(*best) || loss < *best)
		*best = loss;
	return stalled ? since + 1 : 0;
}

static int
train_adam(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, struct kp_history *h, kp_fit_progress_fn progress,
	void *arg, char *err)
{
	size_t sizes[10], *idx = kp_xmallocarray(n, sizeof(size_t)), nval, ntrain;
	struct kp_model best;
	struct kp_rng rng;
	struct pool pool;
	struct adam_state st;
	double best_val = NAN;
	int ns = layer_sizes(o, d, nclasses, sizes, err), e, since = 0;

	if (ns < 0) {
		free(idx);
		return -1;
	}
	kp_rng_seed(&rng, o->seed);
	kp_model_init(m, o->kind, nclasses > 0, sizes, (size_t)ns);
	kp_model_init(&best, o->kind, nclasses > 0, sizes, (size_t)ns);
	init_weights(m, &rng);
	nval = split_validation(o, n, idx, &rng);
	ntrain = n - nval;
	pool_init(&pool, m, o, o->batch < ntrain ? o->batch : ntrain);
	h->best_epoch = o->epochs;
	st = (struct adam_state){0, 0, best_val, &rng, idx, n, &best, &pool.main, h};
	if (o->ckpt && o->ckpt->resume) {
		if (state_load(&st, o->ckpt->resume, o->ckpt->resume_len) < 0) {
			pool_release(&pool);
			kp_model_release(&best);
			kp_model_release(m);
			free(idx);
			return kp_errf(err, "the checkpoint is not one of this training (another model or data)");
		}
		since = st.since;
		best_val = st.best_val;
		o->ckpt->resumed_epoch = st.epoch;
	}
	for (e = st.epoch + 1; e <= o->epochs; e++) {
		double loss, val = NAN;

		kp_rng_shuffle(&rng, idx + nval, ntrain);
		loss = epoch(&pool, X, idx + nval, ntrain, y, yf,
			o->batch < ntrain ? o->batch : ntrain, &h->flops);
		if (nval) {
			val = validate(m, X, d, idx, nval, y, yf);
			h->flops += batch_flops(m, nval) / 3;
			if (isnan(best_val) || (y ? val > best_val : val < best_val)) {
				best_val = val;
				h->best_epoch = e;
				copy_weights(&best, m);
				since = 0;
			} else {
				since++;
			}
		}
		else if (o->tol > 0)
			since = loss_stalled(loss, o->tol, &best_val, since);
		kp_history_add(h, loss, val);
		if (!isfinite(loss)) {
			pool_release(&pool);
			kp_model_release(&best);
			kp_model_release(m);
			free(idx);
			return kp_errf(err, "training diverged at epoch %d (loss %g): lower lr", e, loss);
		}
		if ((progress && progress(arg, e, o->epochs, loss)) ||
		    (nval && since >= o->patience) || (!nval && o->tol > 0 && since > o->patience))
			break;
		st.epoch = e;
		st.since = since;
		st.best_val = best_val;
		if (checkpoint(o, &st))
			break;
	}
	if (nval)
		copy_weights(m, &best);
	else
		h->best_epoch = (int)h->n;
	pool_release(&pool);
	kp_model_release(&best);
	free(idx);
	return 0;
}

/* ---- L-BFGS for the convex models ---- */

/*
 * The objective of logistic and softmax regression, as scikit-learn's
 * LogisticRegression states it: the weighted mean cross-entropy plus
 * l2/2 |W|^2 (biases not penalised). theta is W (d x k, row-major) then
 * the k biases.
 */
struct convex {
	const float *X, *w;
	const int64_t *y;
	size_t n, d, k, nblocks;
	double wsum, l2, flops;
	float *W;		/* theta as floats for sgemm */
	float *z;		/* n x k: logits, then the loss's derivative */
	float *part;		/* per block: its gradient, d x k then k */
	double *loss;		/* per block: its summed loss */
	struct kp_pool *pool;
	struct kp_history *h;
	int max_iter;
	kp_fit_progress_fn progress;
	void *arg;
};

/* x · w over d elements: eight partial sums (j mod 8), then added in order. */
static float
dot8(const float *x, const float *w, size_t d)
{
	float acc[8] = { 0, 0, 0, 0, 0, 0, 0, 0 }, s = 0;
	size_t j, l;

	for (j = 0; j + 8 <= d; j += 8)
		for (l = 0; l < 8; l++)
			acc[l] += x[j + l] * w[j + l];
	for (l = 0; j + l < d; l++)
		acc[l] += x[j + l] * w[j + l];
	for (l = 0; l < 8; l++)
		s += acc[l];
	return s;
}

/*
 * Logistic regression's block in one pass over its rows: each row's logit,
 * loss and derivative, and the derivative times the row added into the
 * gradient gw (d weights, then the bias) while the row is in cache — the
 * pass is bound by reading X (bench/train.sh measures the memory's read
 * rate beside it).
 */
static double
logistic_block(const struct convex *c, size_t r0, size_t rows, float *gw)
{
	size_t d = c->d, i, j;
	double loss = 0, gb = 0;

	memset(gw, 0, d * sizeof(float));
	for (i = 0; i < rows; i++) {
		const float *x = c->X + (r0 + i) * d;
		float z = c->W[d] + dot8(x, c->W, d), dz;
		double w = c->w ? c->w[r0 + i] : 1, y = (double)c->y[r0 + i];
		double e = exp(-fabs((double)z)), q = z >= 0 ? 1 / (1 + e) : e / (1 + e);

		/* One exp: the loss's log1p(e^-|z|) and the sigmoid q from the same e. */
		loss += w * (log1p(e) + (z > 0 ? z * (1.0 - y) : -z * y));
		dz = (float)(w * (q - y));
		for (j = 0; j < d; j++)
			gw[j] += dz * x[j];
		gb += dz;
	}
	gw[d] = (float)gb;
	return loss;
}

/* Block b's loss and gradient at c->W (softmax; logistic_block for one output). */
static void
convex_block(void *arg, size_t b)
{
	struct convex *c = arg;
	size_t r0 = b * LBFGS_BLOCK, rows = c->n - r0 < LBFGS_BLOCK ? c->n - r0 : LBFGS_BLOCK;
	size_t d = c->d, k = c->k, i, j;
	const float *X = c->X + r0 * d, *bias = c->W + d * k;
	float *z = c->z + r0 * k, *gw = c->part + b * (d * k + k);
	double loss = 0;

	if (k == 1) {
		c->loss[b] = logistic_block(c, r0, rows, gw);
		return;
	}

	for (i = 0; i < rows; i++)
		memcpy(z + i * k, bias, k * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)k, (int)d,
		1.0f, X, (int)d, c->W, (int)k, 1.0f, z, (int)k);
	for (i = 0; i < rows; i++) {
		float *zi = z + i * k;
		double w = c->w ? c->w[r0 + i] : 1, mx = zi[0], s = 0;
		size_t y = (size_t)c->y[r0 + i];

		for (j = 1; j < k; j++)
			mx = zi[j] > mx ? zi[j] : mx;
		for (j = 0; j < k; j++)
			s += exp(zi[j] - mx);
		loss += w * (mx + log(s) - zi[y]);
		for (j = 0; j < k; j++)
			zi[j] = (float)(w * (exp(zi[j] - mx) / s - (j == y)));
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)k, (int)rows,
		1.0f, X, (int)d, z, (int)k, 0.0f, gw, (int)k);
	for (j = 0; j < k; j++) {
		double s = 0;

		for (i = 0; i < rows; i++)
			s += z[i * k + j];
		gw[d * k + j] = (float)s;
	}
	c->loss[b] = loss;
}

/* The objective at theta, its gradient into g: blocks summed in block order. */
static double
convex_eval(void *arg, const double *theta, double *g)
{
	struct convex *c = arg;
	size_t nt = c->d * c->k + c->k, nw = c->d * c->k, b, i;
	double f = 0, pen = 0;

	for (i = 0; i < nt; i++)
		c->W[i] = (float)theta[i];
	kp_pool_run(c->pool, convex_block, c, c->nblocks);
	memset(g, 0, nt * sizeof(double));
	for (b = 0; b < c->nblocks; b++) {
		const float *p = c->part + b * nt;

		f += c->loss[b];
		for (i = 0; i < nt; i++)
			g[i] += p[i];
	}
	for (i = 0; i < nt; i++)
		g[i] /= c->wsum;
	for (i = 0; i < nw; i++) {
		pen += theta[i] * theta[i];
		g[i] += c->l2 * theta[i];
	}
	c->flops += 4.0 * (double)c->n * (double)nw;
	return f / c->wsum + 0.5 * c->l2 * pen;
}

static int
convex_step(void *arg, int iter, double f)
{
	struct convex *c = arg;

	kp_history_add(c->h, f, NAN);
	return c->progress ? c->progress(c->arg, iter, c->max_iter, f) : 0;
}

static int
train_lbfgs(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, size_t nclasses,
	struct kp_history *h, kp_fit_progress_fn progress, void *arg, char *err)
{
	size_t sizes[10], nt, i;
	struct kp_lbfgs_opts lo;
	struct convex c;
	double *theta, fx;
	int ns = layer_sizes(o, d, nclasses, sizes, err), iters, why;

	if (ns < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.X = X;
	c.w = o->weights;
	c.y = y;
	c.n = n;
	c.d = d;
	c.k = sizes[1];
	c.l2 = o->l2;
	c.h = h;
	c.max_iter = o->epochs;
	c.progress = progress;
	c.arg = arg;
	c.nblocks = (n + LBFGS_BLOCK - 1) / LBFGS_BLOCK;
	for (i = 0; i < n; i++)
		c.wsum += o->weights ? o->weights[i] : 1;
	if (!(c.wsum > 0))
		return kp_errf(err, "every row's weight is 0: nothing to learn");
	nt = d * c.k + c.k;
	theta = kp_xcalloc(nt, sizeof(double));
	c.W = kp_xcalloc(nt, sizeof(float));
	c.z = kp_xmallocarray(n * c.k, sizeof(float));
	c.part = kp_xmallocarray(c.nblocks * nt, sizeof(float));
	c.loss = kp_xmallocarray(c.nblocks, sizeof(double));
	c.pool = kp_pool_new(o->threads);
	kp_lbfgs_opts_init(&lo);
	lo.max_iter = o->epochs;
	why = kp_lbfgs(convex_eval, convex_step, &c, theta, nt, &lo, &fx, &iters);
	kp_model_init(m, o->kind, 1, sizes, (size_t)ns);
	for (i = 0; i < d * c.k; i++)
		m->layers[0].w[i] = (float)theta[i];
	for (i = 0; i < c.k; i++)
		m->layers[0].b[i] = (float)theta[d * c.k + i];
	if (h->n == 0)
		kp_history_add(h, fx, NAN);
	h->best_epoch = (int)h->n;
	h->flops = c.flops;
	h->converged = why == KP_LBFGS_GTOL || why == KP_LBFGS_FTOL || why == KP_LBFGS_STALLED;
	kp_pool_free(c.pool);
	free(theta);
	free(c.W);
	free(c.z);
	free(c.part);
	free(c.loss);
	if (!isfinite(fx)) {
		kp_model_release(m);
		return kp_errf(err, "L-BFGS diverged (loss %g)", fx);
	}
	return 0;
}

int
kp_fit(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, struct kp_history *h, kp_fit_progress_fn progress,
	void *arg, char *err)
{
	memset(h, 0, sizeof(*h));
	memset(m, 0, sizeof(*m));
	if (kp_fit_check(o, n, d, y, nclasses, err) < 0)
		return -1;
	if (o->nhidden > 8 || o->epochs < 1 || o->batch < 1)
		return kp_errf(err, "bad training options");
	if (o->kind == KP_RIDGE && o->weights)
		return kp_errf(err, "ridge does not take sample weights; use logistic, softmax or mlp");
	/* See the comment at the top: products on one thread, for determinism. */
	openblas_set_num_threads(1);
	if (o->kind == KP_RIDGE)
		return train_ridge(m, o, X, n, d, y, yf, nclasses, h, err);
	if (o->solver == KP_SOLVER_LBFGS) {
		if (o->kind != KP_LOGISTIC && o->kind != KP_SOFTMAX)
			return kp_errf(err, "the lbfgs solver fits logistic and softmax models only");
		if (!y)
			return kp_errf(err, "%s needs a classification task; use ridge or mlp for regression",
				kp_kind_name(o->kind));
		return train_lbfgs(m, o, X, n, d, y, nclasses, h, progress, arg, err);
	}
	return train_adam(m, o, X, n, d, y, yf, nclasses, h, progress, arg, err);
}

int
kp_fit_check(const struct kp_fit_opts *o, size_t n, size_t d, const int64_t *y,
	size_t nclasses, char *err)
{
	size_t i;

	if (n < 2 || d < 1)
		return kp_errf(err, "need at least 2 training rows and 1 feature, got %zu x %zu", n, d);
	if (nclasses == 1)
		return kp_errf(err, "the label has only one class: nothing to learn");
	for (i = 0; y && i < n; i++)
		if (y[i] < 0 || (size_t)y[i] >= nclasses)
			return kp_errf(err, "label %lld of row %zu is not a class index below %zu",
				(long long)y[i], i + 1, nclasses);
	if (!(o->lr > 0))
		return kp_errf(err, "bad training options: lr must be > 0");
	for (i = 0; o->weights && i < n; i++)
		if (!(o->weights[i] >= 0) || !isfinite(o->weights[i]))
			return kp_errf(err, "weight of row %zu is %g: weights must be finite and >= 0",
				i + 1, o->weights[i]);
	return 0;
}
