/*
 * Limited-memory BFGS (Nocedal and Wright, Numerical Optimization,
 * algorithm 7.4: the two-loop recursion) with a backtracking line search
 * on the Armijo condition. A pair whose curvature s.y is not positive is
 * not kept, so the implied Hessian stays positive definite without a Wolfe
 * line search.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lbfgs.h"
#include "util.h"

void
kp_lbfgs_opts_init(struct kp_lbfgs_opts *o)
{
	o->max_iter = 1000;
	o->gtol = 1e-5;
	o->ftol = 1e-10;
	o->memory = 10;
}

static double
dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double
max_abs(const double *a, size_t n)
{
	double m = 0;
	size_t i;

	for (i = 0; i < n; i++)
		m = fabs(a[i]) > m ? fabs(a[i]) : m;
	return m;
}

/* The correction pairs: s = x' - x, y = g' - g, newest at (head - 1) mod m. */
struct pairs {
	size_t m, count, head, n;
	double *s, *y, *rho, *alpha;
};

/* d = -H g by the two-loop recursion. */
static void
direction(const struct pairs *p, const double *g, double *d)
{
	size_t i, j, k, n = p->n;
	double gamma = 1;

	for (i = 0; i < n; i++)
		d[i] = -g[i];
	for (k = 0; k < p->count; k++) {
		j = (p->head + p->m - 1 - k) % p->m;
		p->alpha[j] = p->rho[j] * dot(p->s + j * n, d, n);
		for (i = 0; i < n; i++)
			d[i] -= p->alpha[j] * p->y[j * n + i];
	}
	if (p->count) {
		j = (p->head + p->m - 1) % p->m;
		gamma = dot(p->s + j * n, p->y + j * n, n) / dot(p->y + j * n, p->y + j * n, n);
	}
	for (i = 0; i < n; i++)
		d[i] *= gamma;
	for (k = p->count; k-- > 0;) {
		double beta;

		j = (p->head + p->m - 1 - k) % p->m;
		beta = p->rho[j] * dot(p->y + j * n, d, n);
		for (i = 0; i < n; i++)
			d[i] += (p->alpha[j] - beta) * p->s[j * n + i];
	}
}

/* Keep the pair (x1 - x0, g1 - g0) when its curvature is positive. */
static void
remember(struct pairs *p, const double *x0, const double *x1, const double *g0,
	const double *g1)
{
	double *s = p->s + p->head * p->n, *y = p->y + p->head * p->n, sy;
	size_t i;

	for (i = 0; i < p->n; i++) {
		s[i] = x1[i] - x0[i];
		y[i] = g1[i] - g0[i];
	}
	sy = dot(s, y, p->n);
	if (!(sy > 1e-12 * dot(y, y, p->n)))
		return;
	p->rho[p->head] = 1 / sy;
	p->head = (p->head + 1) % p->m;
	p->count += p->count < p->m;
}

/*
 * Step from x along d until f decreases by the Armijo rule; x1, g1 and
 * *f1 get the new point. -1 when no step of 40 halvings does.
 */
static int
line_search(kp_lbfgs_fn f, void *arg, const double *x, double fx, const double *g,
	const double *d, double t, size_t n, double *x1, double *g1, double *f1)
{
	double slope = dot(g, d, n);
	size_t i;
	int k;

	if (!(slope < 0))
		return -1;
	for (k = 0; k < 40; k++, t *= 0.5) {
		for (i = 0; i < n; i++)
			x1[i] = x[i] + t * d[i];
		*f1 = f(arg, x1, g1);
		if (isfinite(*f1) && *f1 <= fx + 1e-4 * t * slope)
			return 0;
	}
	return -1;
}

int
kp_lbfgs(kp_lbfgs_fn f, kp_lbfgs_step_fn step, void *arg, double *x, size_t n,
	const struct kp_lbfgs_opts *o, double *fx, int *iters)
{
	struct pairs p = { (size_t)(o->memory < 1 ? 1 : o->memory > 64 ? 64 : o->memory), 0, 0, n,
		NULL, NULL, NULL, NULL };
	double *g = kp_xcalloc(n, sizeof(double)), *d = kp_xcalloc(n, sizeof(double));
	double *x1 = kp_xcalloc(n, sizeof(double)), *g1 = kp_xcalloc(n, sizeof(double));
	double f0 = f(arg, x, g), f1;
	int it = 0, why = KP_LBFGS_MAXITER;

	p.s = kp_xcalloc(p.m * n, sizeof(double));
	p.y = kp_xcalloc(p.m * n, sizeof(double));
	p.rho = kp_xcalloc(p.m, sizeof(double));
	p.alpha = kp_xcalloc(p.m, sizeof(double));
	while (it < o->max_iter) {
		double t;

		if (max_abs(g, n) <= o->gtol) {
			why = KP_LBFGS_GTOL;
			break;
		}
		direction(&p, g, d);
		/* The first step has no curvature to scale it: make it short. */
		t = p.count ? 1 : fmin(1, 1 / sqrt(dot(g, g, n)));
		if (line_search(f, arg, x, f0, g, d, t, n, x1, g1, &f1) < 0) {
			why = KP_LBFGS_STALLED;
			break;
		}
		remember(&p, x, x1, g, g1);
		memcpy(x, x1, n * sizeof(double));
		memcpy(g, g1, n * sizeof(double));
		it++;
		if ((f0 - f1) / fmax(fmax(fabs(f0), fabs(f1)), 1) <= o->ftol) {
			f0 = f1;
			why = KP_LBFGS_FTOL;
			break;
		}
		f0 = f1;
		if (step && step(arg, it, f0)) {
			why = KP_LBFGS_STOPPED;
			break;
		}
	}
	*fx = f0;
	*iters = it;
	free(g);
	free(d);
	free(x1);
	free(g1);
	free(p.s);
	free(p.y);
	free(p.rho);
	free(p.alpha);
	return why;
}
