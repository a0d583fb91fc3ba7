/*
 * model: the models kiln trains, stacks of dense layers or boosted trees,
 * with their model.safetensors files and their forward pass (OpenBLAS
 * sgemm for layers, forest.h for trees).
 */
#ifndef KILN_PLUGLIB_MODEL_H
#define KILN_PLUGLIB_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct kp_forest;
struct kp_tensors;

/* What a model is. */
enum kp_kind {
	KP_RIDGE,	/* one linear layer, solved in closed form */
	KP_LOGISTIC,	/* one sigmoid unit: two classes */
	KP_SOFTMAX,	/* one softmax layer */
	KP_MLP,		/* ReLU hidden layers under a softmax or linear one */
	KP_GBDT,	/* gradient-boosted trees (forest.h), no layers */
};

/* A layer's activation. */
enum kp_act {
	KP_LINEAR,
	KP_RELU,
	KP_SIGMOID,
	KP_SOFTMAX_ACT,
};

/* One dense layer: out = act(in · w + b). */
struct kp_layer {
	size_t in;		/* inputs */
	size_t out;		/* outputs */
	int act;		/* enum kp_act */
	float *w;		/* in x out, row-major */
	float *b;		/* out */
};

/*
 * Every model kiln trains but one is a stack of dense layers: ridge is one
 * linear layer, logistic one sigmoid unit, softmax one softmax layer, an
 * MLP ReLU layers under a softmax (classification) or linear (regression)
 * one. A gbdt model has no layers but a forest, whose raw scores go
 * through a sigmoid (two classes), a softmax (more) or nothing (regression).
 */
struct kp_model {
	int kind;		/* enum kp_kind */
	int classification;	/* 1: outputs are classes, 0: a regression */
	size_t nlayers;		/* layers in layers */
	struct kp_layer *layers;	/* input side first */
	struct kp_forest *forest;	/* a gbdt model's trees (owned), else NULL */
	size_t nclasses;	/* 0 for regression */
	char **classes;		/* class names, index = class label */
};

/* The name of a kind ("ridge", "logistic", "softmax", "mlp", "gbdt"). */
const char *kp_kind_name(int kind);
/* The kind called s, or -1 when unknown. */
int kp_kind_parse(const char *s);
/* The name of an activation ("linear", "relu", "sigmoid", "softmax"). */
const char *kp_act_name(int act);

/* Allocate layers for sizes[0] -> sizes[1] -> ... -> sizes[n-1]. */
void kp_model_init(struct kp_model *m, int kind, int classification,
	const size_t *sizes, size_t nsizes);
/* Make m a gbdt model owning the forest *f (whose contents it takes). */
void kp_model_init_forest(struct kp_model *m, int classification, struct kp_forest *f);
/* Free m's layers or forest and class names; a zeroed m is allowed. */
void kp_model_release(struct kp_model *m);
/* The width of the model's input rows. */
size_t kp_model_inputs(const struct kp_model *m);
/* The width of its output rows. */
size_t kp_model_outputs(const struct kp_model *m);

/* Weights as layerN.weight [in, out] and layerN.bias [out] (a gbdt
 * model's as forest.h says), with metadata. */
void kp_model_tensors(const struct kp_model *m, struct kp_tensors *ts);
/* Write m's tensors to path (model.safetensors). -1 with err. */
int kp_model_save(const struct kp_model *m, const char *path, char *err);
/* Load model.safetensors, checking every shape against the metadata. */
int kp_model_load(struct kp_model *m, const char *path, char *err);
/* Load dir/model.safetensors and the class names in dir/model.json. */
int kp_model_load_dir(struct kp_model *m, const char *dir, char *err);

/* Does the model give class probabilities (sigmoid or softmax output)? */
int kp_model_probabilistic(const struct kp_model *m);

/* max(z, 0) in place, without branches. */
void kp_relu(float *z, size_t n);
/* Apply an activation to n rows of width k in place. */
void kp_activate(int act, float *z, size_t n, size_t k);
/* out (n x l->out) = act(in . w + b) through sgemm. */
void kp_layer_forward(const struct kp_layer *l, const float *in,
	size_t n, float *out);

/*
 * Forward pass of n rows of X (n x inputs) into out (n x outputs): class
 * probabilities or regression values. Works in blocks so memory stays
 * bounded whatever n is.
 */
void kp_model_forward(const struct kp_model *m, const float *X,
	size_t n, float *out);
/*
 * For a classifier: the predicted class of each row in pred and, when probs
 * is not NULL (and the model is probabilistic), the n x nclasses class
 * probabilities. For a regression: the n predicted values in probs.
 */
void kp_model_predict(const struct kp_model *m, const float *X,
	size_t n, int64_t *pred, float *probs);

#endif
