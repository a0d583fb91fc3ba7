/*
 * forest: an ensemble of binary decision trees whose leaves add up to raw
 * scores (gradient-boosted trees), with its safetensors tensors and its
 * evaluation.
 */
#ifndef KILN_PLUGLIB_FOREST_H
#define KILN_PLUGLIB_FOREST_H

#include <stddef.h>
#include <stdint.h>

struct kp_tensors;

/* One node: a split when feature >= 0, else a leaf. */
struct kp_node {
	int32_t feature;	/* the split's feature, or -1 for a leaf */
	int32_t left, right;	/* children, indexes into the forest's nodes */
	float threshold;	/* rows with x[feature] <= threshold go left */
	float value;		/* a leaf's score */
};

/*
 * The trees of a boosted model. Tree t adds to output t % outputs (one
 * tree per class per round for softmax); a tree's nodes are stored root
 * first, every child after its parent.
 */
struct kp_forest {
	size_t inputs;		/* features per row */
	size_t outputs;		/* raw scores per row: 1, or the classes */
	size_t ntrees;		/* trees in roots */
	size_t *roots;		/* ntrees: each tree's root in nodes */
	size_t nnodes, cap;	/* nodes used and allocated */
	struct kp_node *nodes;
	float *base;		/* outputs: the score before any tree */
};

/* An empty forest for rows of inputs features and outputs scores. */
void kp_forest_init(struct kp_forest *f, size_t inputs, size_t outputs);
/* Free f's trees. */
void kp_forest_release(struct kp_forest *f);
/* Start a new tree: the next node added is its root. */
void kp_forest_tree(struct kp_forest *f);
/* Append a node and return its index. */
size_t kp_forest_add(struct kp_forest *f, const struct kp_node *n);
/* Keep only the first ntrees trees (early stopping). */
void kp_forest_truncate(struct kp_forest *f, size_t ntrees);
/* The leaf value tree t gives row x. */
float kp_forest_tree_value(const struct kp_forest *f, size_t t, const float *x);
/* Raw scores (n x outputs) of the n rows of X: base plus every tree. */
void kp_forest_raw(const struct kp_forest *f, const float *X, size_t n, float *out);

/* Add f's tensors (gbdt.*) to ts. */
void kp_forest_tensors(const struct kp_forest *f, struct kp_tensors *ts);
/*
 * Read a forest for rows of inputs features from ts (named name in
 * messages), checking every index so that evaluation ends. -1 with err.
 */
int kp_forest_load(struct kp_forest *f, const struct kp_tensors *ts, size_t inputs,
	const char *name, char *err);

#endif
