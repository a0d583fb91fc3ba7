/*
 * Tree ensembles: building, evaluating, and their tensors in
 * model.safetensors:
 *
 *   gbdt.nodes   I64 [nodes, 3]  feature (-1: a leaf), left, right
 *   gbdt.splits  F32 [nodes, 2]  threshold, leaf value
 *   gbdt.roots   I64 [trees]     each tree's root
 *   gbdt.base    F32 [outputs]   the score before any tree
 */
#include <stdlib.h>
#include <string.h>

#include "forest.h"
#include "npy.h"
#include "safetensors.h"
#include "util.h"

void
kp_forest_init(struct kp_forest *f, size_t inputs, size_t outputs)
{
	memset(f, 0, sizeof(*f));
	f->inputs = inputs;
	f->outputs = outputs;
	f->base = kp_xcalloc(outputs, sizeof(float));
}

void
kp_forest_release(struct kp_forest *f)
{
	free(f->roots);
	free(f->nodes);
	free(f->base);
	memset(f, 0, sizeof(*f));
}

void
kp_forest_tree(struct kp_forest *f)
{
	f->roots = kp_xrealloc(f->roots, f->ntrees + 1, sizeof(size_t));
	f->roots[f->ntrees++] = f->nnodes;
}

size_t
kp_forest_add(struct kp_forest *f, const struct kp_node *n)
{
	if (f->nnodes == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->nodes = kp_xrealloc(f->nodes, f->cap, sizeof(*f->nodes));
	}
	f->nodes[f->nnodes] = *n;
	return f->nnodes++;
}

void
kp_forest_truncate(struct kp_forest *f, size_t ntrees)
{
	if (ntrees >= f->ntrees)
		return;
	f->nnodes = f->roots[ntrees];
	f->ntrees = ntrees;
}

float
kp_forest_tree_value(const struct kp_forest *f, size_t t, const float *x)
{
	const struct kp_node *nd = f->nodes, *n = nd + f->roots[t];

	while (n->feature >= 0)
		n = nd + (x[n->feature] <= n->threshold ? n->left : n->right);
	return n->value;
}

/*
 * Rows in blocks, trees outside: a block's scores stay in cache while one
 * tree's nodes are read for all its rows. Each score adds its trees in
 * tree order, in double, so every caller gets the same bytes.
 */
void
kp_forest_raw(const struct kp_forest *f, const float *X, size_t n, float *out)
{
	enum { ROWS = 64 };
	double acc[ROWS * 16], *a;
	size_t k = f->outputs, r, i, t, c;

	a = k <= 16 ? acc : kp_xmallocarray(ROWS * k, sizeof(double));
	for (r = 0; r < n; r += ROWS) {
		size_t rows = n - r < ROWS ? n - r : ROWS;

		for (i = 0; i < rows; i++)
			for (c = 0; c < k; c++)
				a[i * k + c] = f->base[c];
		for (t = 0; t < f->ntrees; t++)
			for (i = 0; i < rows; i++)
				a[i * k + t % k] += kp_forest_tree_value(f, t, X + (r + i) * f->inputs);
		for (i = 0; i < rows * k; i++)
			out[r * k + i] = (float)a[i];
	}
	if (a != acc)
		free(a);
}

void
kp_forest_tensors(const struct kp_forest *f, struct kp_tensors *ts)
{
	struct kp_array nodes, splits, roots, base;
	int64_t *nd, *rt;
	float *sp;
	size_t i;

	kp_array_init(&nodes, KP_I64, 2, f->nnodes, 3);
	kp_array_init(&splits, KP_F32, 2, f->nnodes, 2);
	kp_array_init(&roots, KP_I64, 1, f->ntrees, 1);
	kp_array_init(&base, KP_F32, 1, f->outputs, 1);
	nd = nodes.data;
	sp = splits.data;
	rt = roots.data;
	for (i = 0; i < f->nnodes; i++) {
		nd[i * 3] = f->nodes[i].feature;
		nd[i * 3 + 1] = f->nodes[i].left;
		nd[i * 3 + 2] = f->nodes[i].right;
		sp[i * 2] = f->nodes[i].threshold;
		sp[i * 2 + 1] = f->nodes[i].value;
	}
	for (i = 0; i < f->ntrees; i++)
		rt[i] = (int64_t)f->roots[i];
	memcpy(base.data, f->base, f->outputs * sizeof(float));
	kp_tensors_add(ts, "gbdt.nodes", &nodes);
	kp_tensors_add(ts, "gbdt.splits", &splits);
	kp_tensors_add(ts, "gbdt.roots", &roots);
	kp_tensors_add(ts, "gbdt.base", &base);
}

/* The four tensors, of the right types and matching shapes. */
static int
check_shapes(const struct kp_array *nd, const struct kp_array *sp, const struct kp_array *rt,
	const struct kp_array *b, const char *name, char *err)
{
	if (!nd || !sp || !rt || !b || nd->dtype != KP_I64 || nd->ndim != 2 || nd->shape[1] != 3 ||
	    sp->dtype != KP_F32 || sp->ndim != 2 || sp->shape[1] != 2 || rt->dtype != KP_I64 ||
	    rt->ndim != 1 || b->dtype != KP_F32 || b->ndim != 1)
		return kp_errf(err, "%s: a gbdt model needs I64 gbdt.nodes [n, 3], F32 gbdt.splits [n, 2], I64 gbdt.roots [trees] and F32 gbdt.base [outputs]",
			name);
	if (sp->shape[0] != nd->shape[0] || nd->shape[0] == 0 || rt->shape[0] == 0 ||
	    b->shape[0] == 0 || nd->shape[0] > INT32_MAX)
		return kp_errf(err, "%s: gbdt tensors do not match (%zu nodes, %zu splits, %zu trees)",
			name, nd->shape[0], sp->shape[0], rt->shape[0]);
	return 0;
}

/* Tree t's nodes, [roots[t], end): children after their node, inside the tree. */
static int
check_tree(const struct kp_forest *f, size_t t, const char *name, char *err)
{
	size_t end = t + 1 < f->ntrees ? f->roots[t + 1] : f->nnodes, i;

	if (f->roots[t] >= end)
		return kp_errf(err, "%s: gbdt tree %zu: roots are not increasing", name, t);
	for (i = f->roots[t]; i < end; i++) {
		const struct kp_node *n = &f->nodes[i];

		if (n->feature < 0)
			continue;
		if ((size_t)n->feature >= f->inputs)
			return kp_errf(err, "%s: gbdt node %zu: feature %d of %zu", name, i,
				(int)n->feature, f->inputs);
		if (n->left <= (int32_t)i || n->right <= (int32_t)i || (size_t)n->left >= end ||
		    (size_t)n->right >= end)
			return kp_errf(err, "%s: gbdt node %zu: children %d, %d outside its tree",
				name, i, (int)n->left, (int)n->right);
	}
	return 0;
}

int
kp_forest_load(struct kp_forest *f, const struct kp_tensors *ts, size_t inputs,
	const char *name, char *err)
{
	const struct kp_array *nd = kp_tensors_get(ts, "gbdt.nodes"),
		*sp = kp_tensors_get(ts, "gbdt.splits"), *rt = kp_tensors_get(ts, "gbdt.roots"),
		*b = kp_tensors_get(ts, "gbdt.base");
	const int64_t *ni, *ri;
	const float *sf;
	size_t i;

	memset(f, 0, sizeof(*f));
	if (check_shapes(nd, sp, rt, b, name, err) < 0)
		return -1;
	kp_forest_init(f, inputs, b->shape[0]);
	memcpy(f->base, b->data, f->outputs * sizeof(float));
	ni = nd->data;
	sf = sp->data;
	ri = rt->data;
	f->nnodes = f->cap = nd->shape[0];
	f->nodes = kp_xmallocarray(f->nnodes, sizeof(*f->nodes));
	for (i = 0; i < f->nnodes; i++) {
		int64_t a = ni[i * 3], l = ni[i * 3 + 1], r = ni[i * 3 + 2];

		if (a < -1 || a > INT32_MAX || l < 0 || l > INT32_MAX || r < 0 || r > INT32_MAX)
			goto bad;
		f->nodes[i] = (struct kp_node){ (int32_t)a, (int32_t)l, (int32_t)r, sf[i * 2], sf[i * 2 + 1] };
	}
	f->ntrees = rt->shape[0];
	f->roots = kp_xmallocarray(f->ntrees, sizeof(size_t));
	for (i = 0; i < f->ntrees; i++) {
		if (ri[i] < 0 || (uint64_t)ri[i] >= f->nnodes)
			goto bad;
		f->roots[i] = (size_t)ri[i];
	}
	for (i = 0; i < f->ntrees; i++)
		if (check_tree(f, i, name, err) < 0) {
			kp_forest_release(f);
			return -1;
		}
	return 0;
bad:
	kp_forest_release(f);
	return kp_errf(err, "%s: gbdt node or root index out of range", name);
}
