/*
 * lbfgs: minimising a smooth function of n doubles by limited-memory BFGS
 * with a backtracking (Armijo) line search.
 */
#ifndef KILN_PLUGLIB_LBFGS_H
#define KILN_PLUGLIB_LBFGS_H

#include <stddef.h>

/* f(x) and its gradient into g. */
typedef double (*kp_lbfgs_fn)(void *arg, const double *x, double *g);
/* Called after each iteration with f; nonzero stops. */
typedef int (*kp_lbfgs_step_fn)(void *arg, int iter, double f);

/* Why the minimisation stopped. */
enum kp_lbfgs_stop {
	KP_LBFGS_GTOL,		/* the gradient's largest component is <= gtol: converged */
	KP_LBFGS_FTOL,		/* f stopped decreasing (relative change <= ftol): converged */
	KP_LBFGS_MAXITER,	/* max_iter iterations */
	KP_LBFGS_STALLED,	/* no step along the search direction decreased f */
	KP_LBFGS_STOPPED,	/* the step callback asked to stop */
};

struct kp_lbfgs_opts {
	int max_iter;		/* iterations, at most */
	double gtol;		/* stop when max |g_i| <= gtol */
	double ftol;		/* stop when (f_prev - f) / max(|f_prev|, |f|, 1) <= ftol */
	int memory;		/* correction pairs kept (1..64) */
};

/* The defaults: 1000 iterations, gtol 1e-5, ftol 1e-10, 10 pairs. */
void kp_lbfgs_opts_init(struct kp_lbfgs_opts *o);

/*
 * Minimise f from x (n values, overwritten by the minimiser found). Sets
 * *fx to f there and *iters to the iterations run; returns enum
 * kp_lbfgs_stop. Every operation runs in a fixed order, so the same f
 * gives the same bytes.
 */
int kp_lbfgs(kp_lbfgs_fn f, kp_lbfgs_step_fn step, void *arg, double *x, size_t n,
	const struct kp_lbfgs_opts *o, double *fx, int *iters);

#endif
