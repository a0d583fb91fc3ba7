/*
 * gbdt: training gradient-boosted trees (forest.h) on binned features, as
 * XGBoost's "hist" method does: each feature's values fall into at most
 * 256 quantile bins, a node's split comes from per-bin sums of gradients
 * and hessians, and trees grow depth-wise (or leaf-wise, best split first,
 * as LightGBM's). The same bytes for any number of threads.
 */
#ifndef KILN_PLUGLIB_GBDT_H
#define KILN_PLUGLIB_GBDT_H

#include <stddef.h>
#include <stdint.h>

#include "fit.h"

struct kp_model;
struct kp_pool;

/* Most bins a feature has. */
#define KP_GBDT_BINS 256
/* Most leaves a leaf-wise tree has (those of a tree of depth 16). */
#define KP_GBDT_LEAVES 65536

/* The losses, picked by the task. */
enum kp_gbdt_loss {
	KP_LOSS_SQUARED,	/* regression: (s - y)^2 */
	KP_LOSS_LOGISTIC,	/* two classes: one raw score through a sigmoid */
	KP_LOSS_SOFTMAX,	/* k classes: k scores through a softmax */
};

/* Features binned for training. */
struct kp_bins {
	size_t n, d;		/* rows, features */
	uint8_t *code;		/* d x n, by feature: row i's bin of feature f at f * n + i */
	float *edges;		/* d x KP_GBDT_BINS: bin b of f holds values <= edges[f * KP_GBDT_BINS + b] */
	uint16_t *nbins;	/* d: bins feature f uses (1: it is constant) */
};

/*
 * Bin the n x d matrix X into at most maxbins (2..256) bins per feature at
 * the quantiles of its values (of an evenly strided sample of rows when n
 * is large); a feature with few distinct values gets one bin each, cut
 * half-way between neighbours. pool may be NULL.
 */
void kp_bins_make(struct kp_bins *b, const float *X, size_t n, size_t d,
	size_t maxbins, struct kp_pool *pool);
/* Free b's arrays. */
void kp_bins_release(struct kp_bins *b);

/* One bin of a histogram: the sums of its rows' gradients and hessians. */
struct kp_hbin {
	double g, h;
};

/* A split: rows whose bin of feature is <= bin go left. */
struct kp_split {
	int feature;		/* -1: none found */
	int bin;
	double gain;		/* of the loss, as XGBoost counts it */
	double gl, hl;		/* the left child's sums */
};

/*
 * Consider every cut of one feature's histogram (nbins bins) for a node
 * whose sums are G and H; replace *best by the first cut that gains more
 * than it, each child keeping a hessian sum >= mcw. Gain is
 * GL^2/(HL+l2) + GR^2/(HR+l2) - G^2/(H+l2).
 */
void kp_gbdt_split_feature(const struct kp_hbin *hist, size_t nbins, int feature,
	double G, double H, double l2, double mcw, struct kp_split *best);

/*
 * The summed (weighted) loss of n rows of k raw scores against y (classes)
 * or yf (values) and, when gh is not NULL, each score's gradient and
 * hessian in gh[(i * k + c) * 2 + {0, 1}]. w may be NULL.
 */
double kp_gbdt_gradients(int loss, const double *score, size_t n, size_t k,
	const int64_t *y, const float *yf, const float *w, float *gh);

/* Rows to validate on (y for classes, yf for values). */
struct kp_rows {
	const float *X;
	size_t n;
	const int64_t *y;
	const float *yf;
};

/*
 * Boost o->trees rounds of trees of depth o->depth (or, with o->leaves,
 * of that many leaves grown best-first, depth o->depth at most) on X (n x d) with y
 * (nclasses >= 2) or yf (nclasses 0), into a gbdt model m. With val (or
 * o->validation > 0, a seeded hold-out of the rows) it stops after
 * o->patience rounds without a lower validation loss and keeps the best
 * round's trees. -1 with err.
 */
int kp_gbdt_fit(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, const struct kp_rows *val, struct kp_history *h,
	kp_fit_progress_fn progress, void *arg, char *err);

#endif
