/*
 * fit: fitting a model to data (ridge in closed form, the others by
 * mini-batch Adam), the same bytes for any number of threads.
 */
#ifndef KILN_PLUGLIB_FIT_H
#define KILN_PLUGLIB_FIT_H

#include <stddef.h>
#include <stdint.h>

struct kp_model;

/* How logistic and softmax models are fitted. */
enum kp_solver {
	KP_SOLVER_ADAM,		/* mini-batch Adam for epochs, as the MLP */
	KP_SOLVER_LBFGS,	/* full-batch L-BFGS to convergence (at most epochs iterations) */
};

/*
 * Checkpoints of an Adam training: every `every` epochs, the whole state
 * (weights, the best weights so far, Adam's moments and step, the RNG, the
 * row order, the epoch and the history) as bytes for save(); a training
 * given those bytes as `resume` goes on from there to the same result as
 * one never interrupted.
 */
struct kp_fit_ckpt {
	int every;		/* epochs between saves; 0: none */
	int (*save)(void *arg, int epoch, const void *data, size_t len);	/* nonzero: stop */
	void *arg;
	const void *resume;	/* a saved state to go on from, or NULL */
	size_t resume_len;
	int resumed_epoch;	/* set by kp_fit: the epoch resume held, 0 when none */
};

/* How to train; kp_fit_opts_init fills in the defaults. */
struct kp_fit_opts {
	int kind;		/* enum kp_kind */
	int solver;		/* enum kp_solver: logistic and softmax only */
	size_t hidden[8];	/* MLP hidden layer sizes */
	size_t nhidden;		/* of them in use */
	int epochs;		/* passes over the training rows, at most */
	double lr;		/* Adam step size */
	double l2;		/* weight decay on weights, not biases */
	size_t batch;		/* mini-batch rows */
	double validation;	/* fraction held out for early stopping; 0: none */
	int patience;		/* epochs without improvement before stopping */
	double tol;		/* Adam, no validation: least fall of the training loss that counts as one; 0: run every epoch */
	uint64_t seed;		/* of every random choice: weights, split, order */
	const float *weights;	/* per-row loss weights (n), or NULL for 1 */
	int threads;		/* threads computing sub-batches; results do not depend on it */
	/* gbdt only (gbdt.h); l2 is the leaves' L2 penalty there, lr their shrinkage. */
	int trees;		/* boosting rounds, at most */
	int depth;		/* of each tree; with leaves, at most */
	int leaves;		/* > 0: grow each tree leaf-wise to this many leaves; 0: depth-wise */
	double min_child_weight;	/* least hessian sum in a child */
	double subsample;	/* fraction of rows each tree sees */
	double colsample;	/* fraction of features each tree may split on */
	int bins;		/* per feature, 2..256 */
	struct kp_fit_ckpt *ckpt;	/* checkpoints, or NULL; ridge has none */
};

/* The defaults: softmax, 100 epochs, lr 0.01, l2 1e-4, batches of 32, tol 0;
 * for gbdt 100 trees of depth 6, min_child_weight 1, all rows and
 * features, 256 bins. */
void kp_fit_opts_init(struct kp_fit_opts *o);

/* Per-epoch record: training loss and the validation metric. */
struct kp_history {
	size_t n;		/* epochs run */
	double *loss;		/* n training losses */
	double *val;		/* n validation metrics; NaN when there is no validation split */
	int best_epoch;		/* 1-based epoch whose weights were kept */
	double flops;		/* floating-point operations of the training */
	int converged;		/* L-BFGS: 1 when the gradient or the loss stopped changing */
};

/* Free h's records. */
void kp_history_release(struct kp_history *h);
/* Append an epoch's (or a boosting round's) loss and validation metric. */
void kp_history_add(struct kp_history *h, double loss, double val);

/*
 * Check what every trainer needs: 2 rows and a feature, labels below
 * nclasses (not 1), finite weights >= 0, sane options. -1 with err.
 */
int kp_fit_check(const struct kp_fit_opts *o, size_t n, size_t d, const int64_t *y,
	size_t nclasses, char *err);

/* Called after each epoch; return nonzero to stop. */
typedef int (*kp_fit_progress_fn)(void *arg, int epoch, int epochs, double loss);

/*
 * Train a model on X (n x d). For classification y is int64 class indices
 * below nclasses (>= 2); for regression yf holds float targets and nclasses
 * is 0. The result is a function of the inputs and opts only, whatever
 * opts->threads is. Sets OpenBLAS to one thread (see fit.c). -1 with err.
 */
int kp_fit(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, struct kp_history *h, kp_fit_progress_fn progress,
	void *arg, char *err);

#endif
