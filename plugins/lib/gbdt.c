/*
 * Gradient boosting on binned features.
 *
 * Determinism: every sum runs in an order fixed by the data and the params.
 * The parallel steps split work into tasks that each write their own
 * results -- one feature's bins, one feature's histogram of one node, one
 * block of rows' gradients -- and whatever is summed across tasks is summed
 * afterwards in task order. So the trees are the same bytes for any number
 * of threads.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gbdt.h"
#include "forest.h"
#include "model.h"
#include "pool.h"
#include "util.h"

/* Rows binned per feature to place its quantiles (strided when more). */
#define BIN_SAMPLE (1 << 17)
/* Rows per task of the gradient step. */
#define GRAD_BLOCK 8192
/* Least gain a split needs (XGBoost's kRtEps). */
#define MIN_GAIN 1e-6

/* ---- binning ---- */

/* Floats as unsigned keys in the same order (-0 just below +0). */
static uint32_t
float_key(float x)
{
	uint32_t u;

	memcpy(&u, &x, 4);
	return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* Sort v[0..n) with an LSD radix sort on float_key; tmp holds n floats. */
static void
radix_sort(float *v, float *tmp, size_t n)
{
	size_t count[256], i, pass;

	for (pass = 0; pass < 4; pass++) {
		size_t sum = 0;
		int shift = (int)pass * 8;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(float_key(v[i]) >> shift) & 255]++;
		for (i = 0; i < 256; i++) {
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			tmp[count[(float_key(v[i]) >> shift) & 255]++] = v[i];
		memcpy(v, tmp, n * sizeof(float));
	}
}

/* A cut between neighbours a < b: half-way, or a where that rounds to b. */
static float
cut(float a, float b)
{
	float m = (float)((double)a + ((double)b - (double)a) * 0.5);

	return m < b ? m : a;
}

/* Upper edges of the bins of the sorted values v[0..m); returns the bins. */
static size_t
edges_of(const float *v, size_t m, size_t maxbins, float *edges)
{
	double step = (double)m / (double)maxbins, next = step;
	size_t nd = 1, nb = 0, i;

	for (i = 1; i < m; i++)
		nd += v[i] != v[i - 1];
	for (i = 0; i + 1 < m; i++) {
		if (v[i + 1] == v[i])
			continue;
		/* Few distinct values: cut between each; else at the quantiles. */
		if (nd <= maxbins || (double)(i + 1) >= next) {
			edges[nb++] = cut(v[i], v[i + 1]);
			while (next <= (double)(i + 1))
				next += step;
			if (nb == maxbins - 1)
				break;
		}
	}
	edges[nb++] = FLT_MAX;
	return nb;
}

/*
 * The first bin whose upper edge is >= x, x finite: a branch-free binary
 * search over all KP_GBDT_BINS edges, those past the feature's last bin
 * being FLT_MAX like the last.
 */
static uint8_t
bin_of(const float *edges, float x)
{
	size_t lo = 0, step;

	for (step = KP_GBDT_BINS / 2; step; step /= 2)
		lo += edges[lo + step - 1] < x ? step : 0;
	return (uint8_t)lo;
}

/* Rows per task when binning. */
#define BIN_BLOCK 4096

struct binning {
	struct kp_bins *b;
	const float *X;
	size_t maxbins;
	float *sample;		/* d x m: the sampled rows, by feature */
	size_t m;
};

/* The sampled row j: every row when there are few, else evenly strided. */
static size_t
sampled(const struct binning *t, size_t j)
{
	return t->m == t->b->n ? j : (size_t)((double)j * (double)t->b->n / (double)t->m);
}

/* Task: one block of sampled rows into the by-feature sample (reading rows whole). */
static void
sample_task(void *arg, size_t blk)
{
	struct binning *t = arg;
	size_t d = t->b->d, j, f, end = (blk + 1) * BIN_BLOCK < t->m ? (blk + 1) * BIN_BLOCK : t->m;

	for (j = blk * BIN_BLOCK; j < end; j++) {
		const float *row = t->X + sampled(t, j) * d;

		for (f = 0; f < d; f++)
			t->sample[f * t->m + j] = row[f];
	}
}

/* Task f: feature f's edges from its sorted sample. */
static void
edges_task(void *arg, size_t f)
{
	struct binning *t = arg;
	float *v = t->sample + f * t->m, *tmp = kp_xmallocarray(t->m, sizeof(float));
	float *e = t->b->edges + f * KP_GBDT_BINS;
	size_t nb;

	radix_sort(v, tmp, t->m);
	nb = edges_of(v, t->m, t->maxbins, e);
	t->b->nbins[f] = (uint16_t)nb;
	while (nb < KP_GBDT_BINS)
		e[nb++] = FLT_MAX;
	free(tmp);
}

/* Task: one block of rows' bins, every feature. */
static void
code_task(void *arg, size_t blk)
{
	struct binning *t = arg;
	struct kp_bins *b = t->b;
	size_t n = b->n, d = b->d, i, f, end = (blk + 1) * BIN_BLOCK < n ? (blk + 1) * BIN_BLOCK : n;

	/* Feature by feature, so that one feature's edges stay in L1. */
	for (f = 0; f < d; f++)
		for (i = blk * BIN_BLOCK; i < end; i++)
			b->code[f * n + i] = bin_of(b->edges + f * KP_GBDT_BINS, t->X[i * d + f]);
}

/* Run fn on 0..ntasks-1, on the pool when there is one. */
static void
run(struct kp_pool *pool, kp_pool_fn fn, void *arg, size_t ntasks)
{
	size_t i;

	if (pool)
		kp_pool_run(pool, fn, arg, ntasks);
	else
		for (i = 0; i < ntasks; i++)
			fn(arg, i);
}

void
kp_bins_make(struct kp_bins *b, const float *X, size_t n, size_t d,
	size_t maxbins, struct kp_pool *pool)
{
	struct binning t = { b, X, maxbins < 2 ? 2 : maxbins > KP_GBDT_BINS ? KP_GBDT_BINS : maxbins,
		NULL, n < BIN_SAMPLE ? n : BIN_SAMPLE };

	b->n = n;
	b->d = d;
	b->code = kp_xmallocarray(n * d, 1);
	b->edges = kp_xcalloc(d * KP_GBDT_BINS, sizeof(float));
	b->nbins = kp_xcalloc(d, sizeof(uint16_t));
	t.sample = kp_xmallocarray(t.m * d, sizeof(float));
	run(pool, sample_task, &t, (t.m + BIN_BLOCK - 1) / BIN_BLOCK);
	run(pool, edges_task, &t, d);
	run(pool, code_task, &t, (n + BIN_BLOCK - 1) / BIN_BLOCK);
	free(t.sample);
}

void
kp_bins_release(struct kp_bins *b)
{
	free(b->code);
	free(b->edges);
	free(b->nbins);
	memset(b, 0, sizeof(*b));
}

/* ---- split finding ---- */

void
kp_gbdt_split_feature(const struct kp_hbin *hist, size_t nbins, int feature,
	double G, double H, double l2, double mcw, struct kp_split *best)
{
	double gl = 0, hl = 0, parent = G * G / (H + l2);
	size_t b;

	for (b = 0; b + 1 < nbins; b++) {
		double gr, hr, gain;

		gl += hist[b].g;
		hl += hist[b].h;
		gr = G - gl;
		hr = H - hl;
		if (hl < mcw)
			continue;
		if (hr < mcw)
			break;
		gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent;
		if (gain > best->gain) {
			best->feature = feature;
			best->bin = (int)b;
			best->gain = gain;
			best->gl = gl;
			best->hl = hl;
		}
	}
}

/* ---- losses ---- */

/* Softmax of row s[0..k) into p; returns log p[y]. */
static double
softmax_row(const double *s, size_t k, int64_t y, double *p)
{
	double mx = s[0], sum = 0;
	size_t c;

	for (c = 1; c < k; c++)
		mx = s[c] > mx ? s[c] : mx;
	for (c = 0; c < k; c++)
		sum += p[c] = exp(s[c] - mx);
	for (c = 0; c < k; c++)
		p[c] /= sum;
	return s[y] - mx - log(sum);
}

/* A weighted gradient and hessian, the hessian kept above 0. */
static void
put(float *gh, double g, double h, double w)
{
	gh[0] = (float)(w * g);
	gh[1] = (float)(w * (h > 1e-16 ? h : 1e-16));
}

double
kp_gbdt_gradients(int loss, const double *score, size_t n, size_t k,
	const int64_t *y, const float *yf, const float *w, float *gh)
{
	double total = 0, p[4096];
	size_t i, c;

	for (i = 0; i < n; i++) {
		const double *s = score + i * k;
		double wi = w ? w[i] : 1;

		if (loss == KP_LOSS_SQUARED) {
			double e = s[0] - yf[i];

			total += wi * e * e;
			if (gh)
				put(gh + i * 2, e, 1, wi);
		} else if (loss == KP_LOSS_LOGISTIC) {
			double q = 1 / (1 + exp(-s[0])), t = (double)y[i];

			/* log(1 + e^-|s|) keeps the loss finite at any score. */
			total += wi * (log1p(exp(-fabs(s[0]))) + (s[0] > 0 ? s[0] * (1 - t) : -s[0] * t));
			if (gh)
				put(gh + i * 2, q - t, q * (1 - q), wi);
		} else {
			total -= wi * softmax_row(s, k, y[i], p);
			/* 2p(1 - p), as XGBoost takes the softmax's hessian. */
			for (c = 0; gh && c < k; c++)
				put(gh + (i * k + c) * 2, p[c] - ((size_t)y[i] == c), 2 * p[c] * (1 - p[c]), wi);
		}
	}
	return total;
}

/* ---- one tree ---- */

/* A node of the tree being grown. */
struct tnode {
	size_t begin, end;	/* its rows: idx[begin..end) */
	double G, H;		/* their sums */
	int depth;
	struct kp_hbin *hist;	/* d x KP_GBDT_BINS, while it may split */
	struct kp_split split;	/* feature -1: a leaf */
	size_t left, right;	/* children in the tree's nodes */
};

/* What growing one tree needs; kept across trees to reuse buffers. */
struct grower {
	const struct kp_fit_opts *o;
	const struct kp_bins *bins;
	struct kp_pool *pool;
	size_t n, d;
	size_t *idx, *tmp;	/* row indexes, grouped by node */
	float *ord, *otmp;	/* their (g, h) pairs in the same order */
	int *feats;		/* features this tree may split on, ascending */
	size_t nfeats;
	struct tnode *nodes;
	size_t nnodes, cap;
	struct kp_hbin **spare;	/* histograms to reuse */
	size_t nspare, nhists;	/* in spare; made in all */
	struct kp_split *cand;	/* per (node, feature) of a level */
	size_t *level, nlevel;	/* nodes whose histograms are built */
	size_t *pairs, npairs;	/* per split: parent, small child, large child */
	size_t width;		/* the room in level, pairs (x 3) and cand (x d) */
};

static struct kp_hbin *
hist_get(struct grower *g)
{
	if (g->nspare)
		return g->spare[--g->nspare];
	g->spare = kp_xrealloc(g->spare, ++g->nhists, sizeof(*g->spare));
	return kp_xmallocarray(g->d * KP_GBDT_BINS, sizeof(struct kp_hbin));
}

static void
hist_put(struct grower *g, struct kp_hbin *h)
{
	if (h)
		g->spare[g->nspare++] = h;
}

static size_t
node_add(struct grower *g, size_t begin, size_t end, double G, double H, int depth)
{
	struct tnode *t;

	if (g->nnodes == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->nodes = kp_xrealloc(g->nodes, g->cap, sizeof(*g->nodes));
	}
	t = &g->nodes[g->nnodes];
	memset(t, 0, sizeof(*t));
	t->begin = begin;
	t->end = end;
	t->G = G;
	t->H = H;
	t->depth = depth;
	t->split.feature = -1;
	return g->nnodes++;
}

/* Can this node split at all (and so need a histogram)? */
static int
may_split(const struct grower *g, const struct tnode *t)
{
	return t->depth < g->o->depth && t->end - t->begin >= 2 &&
		t->H >= 2 * g->o->min_child_weight;
}

/* One feature's histogram of node t's rows into hb. */
static void
hist_feature(const struct grower *g, const struct tnode *t, int f, struct kp_hbin *hb)
{
	const uint8_t *code = g->bins->code + (size_t)f * g->n;
	const float *ord = g->ord;
	const size_t *idx = g->idx;
	size_t i;

	memset(hb, 0, g->bins->nbins[f] * sizeof(*hb));
	for (i = t->begin; i < t->end; i++) {
		struct kp_hbin *b = &hb[code[idx[i]]];

		b->g += ord[i * 2];
		b->h += ord[i * 2 + 1];
	}
}

/* Task (pair, feature): the small child's histogram, the large one's by subtraction. */
static void
hist_task(void *arg, size_t task)
{
	struct grower *g = arg;
	size_t p = task / g->nfeats, b, off;
	int f = g->feats[task % g->nfeats];
	const size_t *pr = g->pairs + p * 3;
	struct tnode *small = &g->nodes[pr[1]], *large = &g->nodes[pr[2]];
	const struct kp_hbin *ph;

	off = (size_t)f * KP_GBDT_BINS;
	hist_feature(g, small, f, small->hist + off);
	if (!large->hist)
		return;
	ph = g->nodes[pr[0]].hist + off;
	for (b = 0; b < g->bins->nbins[f]; b++) {
		large->hist[off + b].g = ph[b].g - small->hist[off + b].g;
		large->hist[off + b].h = ph[b].h - small->hist[off + b].h;
	}
}

/* Task (node of the level, feature): that feature's best split. */
static void
split_task(void *arg, size_t task)
{
	struct grower *g = arg;
	const struct tnode *t = &g->nodes[g->level[task / g->nfeats]];
	int f = g->feats[task % g->nfeats];
	struct kp_split *c = &g->cand[task];

	c->feature = -1;
	c->gain = MIN_GAIN;
	kp_gbdt_split_feature(t->hist + (size_t)f * KP_GBDT_BINS, g->bins->nbins[f], f,
		t->G, t->H, g->o->l2, g->o->min_child_weight, c);
}

/* Stable partition of node t's rows by its split, into two children. */
static void
partition(struct grower *g, size_t ti)
{
	struct tnode *t = &g->nodes[ti];
	const uint8_t *code = g->bins->code + (size_t)t->split.feature * g->n;
	size_t i, l = t->begin, r = 0, bin = (size_t)t->split.bin;
	double G = t->G, H = t->H, gl = t->split.gl, hl = t->split.hl;
	int depth = t->depth + 1;

	for (i = t->begin; i < t->end; i++) {
		if (code[g->idx[i]] <= bin) {
			g->idx[l] = g->idx[i];
			g->ord[l * 2] = g->ord[i * 2];
			g->ord[l * 2 + 1] = g->ord[i * 2 + 1];
			l++;
		} else {
			g->tmp[r] = g->idx[i];
			g->otmp[r * 2] = g->ord[i * 2];
			g->otmp[r * 2 + 1] = g->ord[i * 2 + 1];
			r++;
		}
	}
	memcpy(g->idx + l, g->tmp, r * sizeof(size_t));
	memcpy(g->ord + l * 2, g->otmp, r * 2 * sizeof(float));
	i = node_add(g, t->begin, l, gl, hl, depth);
	g->nodes[ti].left = i;
	i = node_add(g, l, l + r, G - gl, H - hl, depth);
	g->nodes[ti].right = i;
}

/* The best split of each node in the level, in feature order. */
static void
find_splits(struct grower *g)
{
	size_t i, j;

	kp_pool_run(g->pool, split_task, g, g->nlevel * g->nfeats);
	for (i = 0; i < g->nlevel; i++) {
		struct tnode *t = &g->nodes[g->level[i]];

		for (j = 0; j < g->nfeats; j++) {
			const struct kp_split *c = &g->cand[i * g->nfeats + j];

			if (c->feature >= 0 && (t->split.feature < 0 || c->gain > t->split.gain))
				t->split = *c;
		}
	}
}

/*
 * Split the level's nodes, then build their children's histograms: the
 * smaller child's from its rows, the larger's as its parent's minus it.
 * The children that may split become the next level.
 */
static void
grow_level(struct grower *g)
{
	size_t i, nl = g->nlevel, next = 0;

	/* The next level has at most two nodes per node of this one. */
	if (2 * nl > g->width) {
		g->width = 2 * nl;
		g->level = kp_xrealloc(g->level, g->width, sizeof(size_t));
		g->pairs = kp_xrealloc(g->pairs, g->width * 3, sizeof(size_t));
		g->cand = kp_xrealloc(g->cand, g->width * g->d, sizeof(*g->cand));
	}
	g->npairs = 0;
	for (i = 0; i < nl; i++) {
		size_t ti = g->level[i], *pr;
		struct tnode *l, *r;

		if (g->nodes[ti].split.feature < 0)
			continue;
		partition(g, ti);
		l = &g->nodes[g->nodes[ti].left];
		r = &g->nodes[g->nodes[ti].right];
		if (!may_split(g, l) && !may_split(g, r))
			continue;
		pr = g->pairs + g->npairs++ * 3;
		pr[0] = ti;
		pr[1] = l->end - l->begin <= r->end - r->begin ? g->nodes[ti].left : g->nodes[ti].right;
		pr[2] = pr[1] == g->nodes[ti].left ? g->nodes[ti].right : g->nodes[ti].left;
		g->nodes[pr[1]].hist = hist_get(g);
		if (may_split(g, &g->nodes[pr[2]]))
			g->nodes[pr[2]].hist = hist_get(g);
	}
	kp_pool_run(g->pool, hist_task, g, g->npairs * g->nfeats);
	for (i = 0; i < nl; i++) {
		hist_put(g, g->nodes[g->level[i]].hist);
		g->nodes[g->level[i]].hist = NULL;
	}
	for (i = 0; i < g->npairs; i++) {
		size_t c;

		for (c = 1; c < 3; c++) {
			struct tnode *t = &g->nodes[g->pairs[i * 3 + c]];

			if (t->hist && may_split(g, t))
				g->level[next++] = g->pairs[i * 3 + c];
			else if (t->hist) {
				hist_put(g, t->hist);
				t->hist = NULL;
			}
		}
	}
	g->nlevel = next;
}

static void
grower_init(struct grower *g, const struct kp_fit_opts *o, const struct kp_bins *b,
	struct kp_pool *pool)
{
	memset(g, 0, sizeof(*g));
	g->o = o;
	g->bins = b;
	g->pool = pool;
	g->n = b->n;
	g->d = b->d;
	g->idx = kp_xmallocarray(b->n, sizeof(size_t));
	g->tmp = kp_xmallocarray(b->n, sizeof(size_t));
	g->ord = kp_xmallocarray(b->n, 2 * sizeof(float));
	g->otmp = kp_xmallocarray(b->n, 2 * sizeof(float));
	g->feats = kp_xmallocarray(b->d, sizeof(int));
	g->width = 1;
	g->cand = kp_xmallocarray(b->d, sizeof(*g->cand));
	g->level = kp_xmallocarray(1, sizeof(size_t));
	g->pairs = kp_xmallocarray(3, sizeof(size_t));
}

static void
grower_release(struct grower *g)
{
	size_t i;

	for (i = 0; i < g->nspare; i++)
		free(g->spare[i]);
	free(g->spare);
	free(g->idx);
	free(g->tmp);
	free(g->ord);
	free(g->otmp);
	free(g->feats);
	free(g->nodes);
	free(g->cand);
	free(g->level);
	free(g->pairs);
}

/* Task f of the root: its histogram over all the tree's rows. */
static void
root_task(void *arg, size_t fi)
{
	struct grower *g = arg;
	int f = g->feats[fi];

	hist_feature(g, &g->nodes[0], f, g->nodes[0].hist + (size_t)f * KP_GBDT_BINS);
}

/*
 * The open leaf (a node with a split found and not taken) of the largest
 * gain, the lowest node index among equals; -1 when none is left. open
 * holds nopen node indexes; the one returned is taken out.
 */
static long
best_leaf(const struct grower *g, size_t *open, size_t *nopen)
{
	size_t i, at = 0;
	long best = -1;

	for (i = 0; i < *nopen; i++) {
		const struct tnode *t = &g->nodes[open[i]];

		if (best < 0 || t->split.gain > g->nodes[best].split.gain ||
		    (t->split.gain == g->nodes[best].split.gain && open[i] < (size_t)best)) {
			best = (long)open[i];
			at = i;
		}
	}
	if (best >= 0)
		open[at] = open[--*nopen];
	return best;
}

/*
 * Leaf-wise (best-first) growth, as LightGBM's: split the open leaf whose
 * split gains most, find its children's best splits, and go on until the
 * tree has o->leaves leaves or no leaf has a split left (the depth cap
 * and min_child_weight still apply through may_split). The root's
 * histogram is in the level on entry.
 */
static void
grow_leaves(struct grower *g)
{
	size_t *open = kp_xmallocarray(2 * (size_t)g->o->leaves, sizeof(size_t));
	size_t nopen = 0, nleaves = 1, i;
	long best;

	for (;;) {
		/* The level: the nodes just made that may split, histograms built. */
		if (g->nlevel)
			find_splits(g);
		for (i = 0; i < g->nlevel; i++)
			if (g->nodes[g->level[i]].split.feature >= 0)
				open[nopen++] = g->level[i];
			else {
				hist_put(g, g->nodes[g->level[i]].hist);
				g->nodes[g->level[i]].hist = NULL;
			}
		g->nlevel = 0;
		if (nleaves >= (size_t)g->o->leaves || (best = best_leaf(g, open, &nopen)) < 0)
			break;
		g->level[0] = (size_t)best;
		g->nlevel = 1;
		grow_level(g);
		nleaves++;
	}
	/* The leaves left open stay leaves. */
	for (i = 0; i < nopen; i++) {
		struct tnode *t = &g->nodes[open[i]];

		t->split.feature = -1;
		hist_put(g, t->hist);
		t->hist = NULL;
	}
	free(open);
}

/*
 * Grow one tree on the rows idx[0..m) (already in g->idx, their gradient
 * pairs in g->ord) and append it to the forest, leaves scaled by lr.
 */
static void
grow_tree(struct grower *g, size_t m, struct kp_forest *f)
{
	double G = 0, H = 0;
	size_t i, base;

	for (i = 0; i < m; i++) {
		G += g->ord[i * 2];
		H += g->ord[i * 2 + 1];
	}
	g->nnodes = 0;
	node_add(g, 0, m, G, H, 0);
	g->nlevel = 0;
	if (may_split(g, &g->nodes[0])) {
		g->nodes[0].hist = hist_get(g);
		kp_pool_run(g->pool, root_task, g, g->nfeats);
		g->level[g->nlevel++] = 0;
	}
	if (g->o->leaves > 0)
		grow_leaves(g);
	else
		while (g->nlevel) {
			find_splits(g);
			grow_level(g);
		}
	kp_forest_tree(f);
	base = f->nnodes;
	for (i = 0; i < g->nnodes; i++) {
		const struct tnode *t = &g->nodes[i];
		struct kp_node n = { -1, 0, 0, 0, 0 };

		if (t->split.feature >= 0) {
			n.feature = t->split.feature;
			n.left = (int32_t)(base + t->left);
			n.right = (int32_t)(base + t->right);
			n.threshold = g->bins->edges[(size_t)n.feature * KP_GBDT_BINS + (size_t)t->split.bin];
		} else {
			n.value = (float)(-g->o->lr * t->G / (t->H + g->o->l2));
		}
		kp_forest_add(f, &n);
	}
}

/* The leaf of the last grown tree that binned row i falls in. */
static const struct tnode *
leaf_of(const struct grower *g, size_t i)
{
	const struct tnode *t = g->nodes;

	while (t->split.feature >= 0)
		t = &g->nodes[g->bins->code[(size_t)t->split.feature * g->n + i] <= (size_t)t->split.bin ?
			t->left : t->right];
	return t;
}

/* ---- boosting ---- */

/* The state of one training. */
struct boost {
	const struct kp_fit_opts *o;
	int loss;
	size_t n, k;		/* rows, scores per row */
	const int64_t *y;
	const float *yf;
	double *score;		/* n x k */
	float *gh;		/* n x k x 2 */
	double *partial;	/* per GRAD_BLOCK of rows: its loss */
	struct grower g;
	struct kp_forest *f;
	size_t tree_class;	/* the class of the tree whose leaves are being added */
	struct kp_rng rng;
};

static void
grad_task(void *arg, size_t blk)
{
	struct boost *b = arg;
	size_t r = blk * GRAD_BLOCK, rows = b->n - r < GRAD_BLOCK ? b->n - r : GRAD_BLOCK;

	b->partial[blk] = kp_gbdt_gradients(b->loss, b->score + r * b->k, rows, b->k,
		b->y ? b->y + r : NULL, b->yf ? b->yf + r : NULL,
		b->o->weights ? b->o->weights + r : NULL, b->gh + r * b->k * 2);
}

/* Gradients at the current scores; returns the mean loss. */
static double
gradients(struct boost *b)
{
	size_t nb = (b->n + GRAD_BLOCK - 1) / GRAD_BLOCK, i;
	double s = 0;

	kp_pool_run(b->g.pool, grad_task, b, nb);
	for (i = 0; i < nb; i++)
		s += b->partial[i];
	return s / (double)b->n;
}

/* Task: add the last tree's leaves to one block of rows' scores. */
static void
score_task(void *arg, size_t blk)
{
	struct boost *b = arg;
	size_t r = blk * GRAD_BLOCK, end = b->n - r < GRAD_BLOCK ? b->n : r + GRAD_BLOCK, i;
	const struct kp_node *nodes = b->f->nodes + b->f->roots[b->f->ntrees - 1];

	for (i = r; i < end; i++)
		b->score[i * b->k + b->tree_class] += nodes[leaf_of(&b->g, i) - b->g.nodes].value;
}

/* This tree's rows (a seeded sample) and features, with class c's gradients. */
static size_t
pick(struct boost *b, size_t c)
{
	struct grower *g = &b->g;
	size_t i, m = 0, nf, *perm;

	for (i = 0; i < b->n; i++)
		if (b->o->subsample >= 1 || kp_rng_uniform(&b->rng) < b->o->subsample)
			g->idx[m++] = i;
	if (m < 2)
		for (m = 0; m < b->n; m++)
			g->idx[m] = m;
	for (i = 0; i < m; i++) {
		g->ord[i * 2] = b->gh[(g->idx[i] * b->k + c) * 2];
		g->ord[i * 2 + 1] = b->gh[(g->idx[i] * b->k + c) * 2 + 1];
	}
	nf = (size_t)llround(b->o->colsample * (double)g->d);
	nf = nf < 1 ? 1 : nf > g->d ? g->d : nf;
	perm = kp_xmallocarray(g->d, sizeof(size_t));
	for (i = 0; i < g->d; i++)
		perm[i] = i;
	if (nf < g->d)
		kp_rng_shuffle(&b->rng, perm, g->d);
	memset(g->feats, 0, g->d * sizeof(int));
	for (i = 0; i < nf; i++)
		g->feats[perm[i]] = 1;
	for (i = 0, g->nfeats = 0; i < g->d; i++)
		if (g->feats[i])
			g->feats[g->nfeats++] = (int)i;
	free(perm);
	return m;
}

/* The starting score: the mean, the log-odds or the log class frequencies. */
static void
base_score(struct boost *b, float *base)
{
	double cnt[4096] = { 0 }, tot = 0, s = 0;
	size_t i, c;

	for (i = 0; i < b->n; i++) {
		double w = b->o->weights ? b->o->weights[i] : 1;

		tot += w;
		if (b->loss == KP_LOSS_SQUARED)
			s += w * b->yf[i];
		else
			cnt[b->y[i]] += w;
	}
	tot = tot > 0 ? tot : 1;
	if (b->loss == KP_LOSS_SQUARED) {
		base[0] = (float)(s / tot);
	} else if (b->loss == KP_LOSS_LOGISTIC) {
		double p = fmin(fmax(cnt[1] / tot, 1e-6), 1 - 1e-6);

		base[0] = (float)log(p / (1 - p));
	} else {
		for (c = 0; c < b->k; c++)
			base[c] = (float)log(fmax(cnt[c] / tot, 1e-6));
	}
}

/* Validation: the rows, their scores so far, the best round. */
struct valid {
	const struct kp_rows *rows;
	double *score;
	double best;
	int best_round, since;
};

/* Add the trees of the last round to the validation scores; their mean loss. */
static double
validate(struct boost *b, struct valid *v)
{
	size_t i, c, t0 = b->f->ntrees - b->k;

	for (i = 0; i < v->rows->n; i++)
		for (c = 0; c < b->k; c++)
			v->score[i * b->k + c] += kp_forest_tree_value(b->f, t0 + c,
				v->rows->X + i * b->f->inputs);
	return kp_gbdt_gradients(b->loss, v->score, v->rows->n, b->k, v->rows->y,
		v->rows->yf, NULL, NULL) / (double)v->rows->n;
}

/* Rounds of k trees each, until o->trees or early stopping. */
static void
boost_rounds(struct boost *b, struct valid *v, struct kp_history *h,
	kp_fit_progress_fn progress, void *arg)
{
	double loss = gradients(b);
	size_t c;
	int r;

	for (r = 1; r <= b->o->trees; r++) {
		double vl = NAN;

		for (c = 0; c < b->k; c++) {
			size_t m = pick(b, c);

			grow_tree(&b->g, m, b->f);
			b->tree_class = c;
			kp_pool_run(b->g.pool, score_task, b, (b->n + GRAD_BLOCK - 1) / GRAD_BLOCK);
		}
		loss = gradients(b);
		if (v->rows) {
			vl = validate(b, v);
			if (v->best_round == 0 || vl < v->best) {
				v->best = vl;
				v->best_round = r;
				v->since = 0;
			} else {
				v->since++;
			}
		}
		kp_history_add(h, loss, vl);
		if ((progress && progress(arg, r, b->o->trees, loss)) ||
		    (v->rows && v->since >= b->o->patience) || !isfinite(loss))
			break;
	}
	h->best_epoch = v->rows ? v->best_round : (int)h->n;
	if (v->rows)
		kp_forest_truncate(b->f, (size_t)v->best_round * b->k);
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* A seeded hold-out of fraction o->validation, gathered into new arrays. */
struct holdout {
	float *X, *Xv, *yf, *yfv, *w;
	int64_t *y, *yv;
	size_t n, nv;
	struct kp_rows rows;
};

static void
holdout_make(struct holdout *ho, const struct kp_fit_opts *o, const float *X, size_t n,
	size_t d, const int64_t *y, const float *yf)
{
	size_t *idx = kp_xmallocarray(n, sizeof(size_t)), i;
	struct kp_rng r;

	memset(ho, 0, sizeof(*ho));
	for (i = 0; i < n; i++)
		idx[i] = i;
	kp_rng_seed(&r, o->seed ^ 0x9e3779b97f4a7c15ull);
	kp_rng_shuffle(&r, idx, n);
	ho->nv = (size_t)llround(o->validation * (double)n);
	ho->nv = ho->nv < 1 ? 1 : ho->nv >= n ? n - 1 : ho->nv;
	ho->n = n - ho->nv;
	/* Training rows in their original order, so binning sees the same rows. */
	qsort(idx + ho->nv, ho->n, sizeof(size_t), cmp_size);
	ho->X = kp_xmallocarray(ho->n * d, sizeof(float));
	ho->Xv = kp_xmallocarray(ho->nv * d, sizeof(float));
	if (y) {
		ho->y = kp_xmallocarray(ho->n, sizeof(int64_t));
		ho->yv = kp_xmallocarray(ho->nv, sizeof(int64_t));
	} else {
		ho->yf = kp_xmallocarray(ho->n, sizeof(float));
		ho->yfv = kp_xmallocarray(ho->nv, sizeof(float));
	}
	if (o->weights)
		ho->w = kp_xmallocarray(ho->n, sizeof(float));
	for (i = 0; i < n; i++) {
		size_t src = idx[i], val = i < ho->nv, j = val ? i : i - ho->nv;

		memcpy((val ? ho->Xv : ho->X) + j * d, X + src * d, d * sizeof(float));
		if (y)
			(val ? ho->yv : ho->y)[j] = y[src];
		else
			(val ? ho->yfv : ho->yf)[j] = yf[src];
		if (o->weights && !val)
			ho->w[j] = o->weights[src];
	}
	ho->rows = (struct kp_rows){ ho->Xv, ho->nv, ho->yv, ho->yfv };
	free(idx);
}

static void
holdout_release(struct holdout *ho)
{
	free(ho->X);
	free(ho->Xv);
	free(ho->yf);
	free(ho->yfv);
	free(ho->y);
	free(ho->yv);
	free(ho->w);
}

/* The options' ranges, which the plugin checks too. */
static int
check_opts(const struct kp_fit_opts *o, size_t nclasses, char *err)
{
	if (o->trees < 1)
		return kp_errf(err, "gbdt: trees must be >= 1, got %d", o->trees);
	if (o->depth < 1 || o->depth > 16)
		return kp_errf(err, "gbdt: depth must be in [1, 16], got %d", o->depth);
	if (o->leaves != 0 && (o->leaves < 2 || o->leaves > KP_GBDT_LEAVES))
		return kp_errf(err, "gbdt: leaves must be in [2, %d], got %d", KP_GBDT_LEAVES, o->leaves);
	if (!(o->min_child_weight >= 0) || !(o->l2 >= 0))
		return kp_errf(err, "gbdt: min_child_weight and l2 must be >= 0");
	if (!(o->subsample > 0 && o->subsample <= 1) || !(o->colsample > 0 && o->colsample <= 1))
		return kp_errf(err, "gbdt: subsample and colsample must be in (0, 1]");
	if (o->bins < 2 || o->bins > KP_GBDT_BINS)
		return kp_errf(err, "gbdt: bins must be in [2, %d]", KP_GBDT_BINS);
	if (nclasses > 4096)
		return kp_errf(err, "gbdt: at most 4096 classes, got %zu", nclasses);
	return 0;
}

static void
boost_run(struct boost *b, const struct kp_fit_opts *o, const float *X, size_t n, size_t d,
	const struct kp_rows *val, struct kp_history *h, kp_fit_progress_fn progress, void *arg)
{
	struct kp_pool *pool = kp_pool_new(o->threads);
	struct kp_bins bins;
	struct valid v;
	size_t i;

	kp_bins_make(&bins, X, n, d, (size_t)o->bins, pool);
	b->n = n;
	b->score = kp_xmallocarray(n * b->k, sizeof(double));
	b->gh = kp_xmallocarray(n * b->k * 2, sizeof(float));
	b->partial = kp_xmallocarray((n + GRAD_BLOCK - 1) / GRAD_BLOCK, sizeof(double));
	base_score(b, b->f->base);
	for (i = 0; i < n * b->k; i++)
		b->score[i] = b->f->base[i % b->k];
	memset(&v, 0, sizeof(v));
	if (val) {
		v.rows = val;
		v.score = kp_xmallocarray(val->n * b->k, sizeof(double));
		for (i = 0; i < val->n * b->k; i++)
			v.score[i] = b->f->base[i % b->k];
	}
	grower_init(&b->g, o, &bins, pool);
	kp_rng_seed(&b->rng, o->seed);
	boost_rounds(b, &v, h, progress, arg);
	grower_release(&b->g);
	kp_pool_free(pool);
	kp_bins_release(&bins);
	free(v.score);
	free(b->score);
	free(b->gh);
	free(b->partial);
}

int
kp_gbdt_fit(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, const struct kp_rows *val, struct kp_history *h,
	kp_fit_progress_fn progress, void *arg, char *err)
{
	struct kp_fit_opts oo = *o;
	struct holdout ho;
	struct kp_forest f;
	struct boost b;

	memset(h, 0, sizeof(*h));
	memset(m, 0, sizeof(*m));
	memset(&ho, 0, sizeof(ho));
	if (kp_fit_check(o, n, d, y, nclasses, err) < 0 || check_opts(o, nclasses, err) < 0)
		return -1;
	if (!val && o->validation > 0) {
		holdout_make(&ho, o, X, n, d, y, yf);
		X = ho.X;
		n = ho.n;
		y = ho.y;
		yf = ho.yf;
		oo.weights = ho.w;
		val = &ho.rows;
	}
	memset(&b, 0, sizeof(b));
	b.o = &oo;
	b.loss = nclasses == 0 ? KP_LOSS_SQUARED : nclasses == 2 ? KP_LOSS_LOGISTIC : KP_LOSS_SOFTMAX;
	b.k = nclasses > 2 ? nclasses : 1;
	b.y = y;
	b.yf = yf;
	kp_forest_init(&f, d, b.k);
	b.f = &f;
	boost_run(&b, &oo, X, n, d, val, h, progress, arg);
	holdout_release(&ho);
	if (h->n && !isfinite(h->loss[h->n - 1])) {
		kp_forest_release(&f);
		return kp_errf(err, "gbdt: training diverged at round %zu (loss %g): lower lr",
			h->n, h->loss[h->n - 1]);
	}
	kp_model_init_forest(m, nclasses > 0, &f);
	return 0;
}
