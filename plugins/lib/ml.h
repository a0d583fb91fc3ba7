/*
 * kiln's machine-learning library: the file formats and numerics shared by
 * the validate, featurize, train and test plugins and by kiln-serve.
 *
 * Nothing here includes kiln's headers: the library is plain C on OpenBLAS,
 * libcsv and jansson, so a program that is not a plugin can link it.
 *
 * Errors a user can cause (a bad file, a bad value) come back as -1 with a
 * message in `err`, a buffer of KP_ERRLEN bytes owned by the caller.
 * Running out of memory is not one of them: it aborts.
 */
#ifndef KILN_PLUGLIB_ML_H
#define KILN_PLUGLIB_ML_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define KP_ERRLEN 512

/* Fill err with a message and return -1. */
int kp_errf(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Allocation that aborts on overflow or out-of-memory. */
void *kp_xmalloc(size_t n);
void *kp_xcalloc(size_t n, size_t size);
void *kp_xmallocarray(size_t n, size_t size);
void *kp_xrealloc(void *p, size_t n, size_t size);
char *kp_xstrdup(const char *s);

/*
 * Parse a whole string as a finite number. Returns 0, or -1 when it is not a
 * number and -2 when it is NaN or infinite (so messages can say which).
 */
int kp_parse_number(const char *s, double *out);

/* Index of the first NaN or infinity in x[0..n), or n when all are finite. */
size_t kp_first_nonfinite(const float *x, size_t n);

/* Read a whole file into *buf (NUL-terminated, owned by the caller). */
int kp_read_file(const char *path, char **buf, size_t *len, char *err);

/* Write len bytes to path through a temporary file and a rename. */
int kp_write_file(const char *path, const void *buf, size_t len, char *err);

/* path + "/" + name, malloc'd. */
char *kp_join(const char *dir, const char *name);

/* ---- random numbers: seeded, identical on every machine ---- */

struct kp_rng {
	uint64_t s[4];	/* xoshiro256** state */
};

void kp_rng_seed(struct kp_rng *r, uint64_t seed);
uint64_t kp_rng_next(struct kp_rng *r);
/* Uniform in [0, 1) with 53 bits. */
double kp_rng_uniform(struct kp_rng *r);
/* Uniform integer in [0, n), without modulo bias. */
uint64_t kp_rng_below(struct kp_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void kp_rng_shuffle(struct kp_rng *r, size_t *idx, size_t n);

/* ---- CSV ---- */

/* A CSV file with a header row; every cell is a NUL-terminated string. */
struct kp_csv {
	size_t ncols;
	size_t nrows;		/* data rows, not counting the header */
	char **header;		/* ncols names */
	char **cells;		/* nrows * ncols, row-major; "" when empty */
};

/*
 * Read a CSV file (RFC 4180: quoted fields, CRLF, UTF-8 with or without a
 * byte-order mark). A row with a different number of fields than the
 * header, an empty file or a duplicate column name is an error naming
 * `name` (the path for messages) and the row.
 */
int kp_csv_read(struct kp_csv *t, const char *path, char *err);
int kp_csv_parse(struct kp_csv *t, const char *buf, size_t len,
	const char *name, char *err);
void kp_csv_release(struct kp_csv *t);
/* Index of the column called name, or -1. */
long kp_csv_col(const struct kp_csv *t, const char *name);

static inline const char *
kp_csv_cell(const struct kp_csv *t, size_t row, size_t col)
{
	return t->cells[row * t->ncols + col];
}

/* ---- arrays and NPY ---- */

enum kp_dtype {
	KP_F32,	/* '<f4' / "F32" */
	KP_I64,	/* '<i8' / "I64" */
};

/* A dense, C-order array of 1 or 2 dimensions. */
struct kp_array {
	int dtype;		/* enum kp_dtype */
	int ndim;		/* 1 or 2 */
	size_t shape[2];	/* shape[1] is 1 when ndim is 1 */
	void *data;		/* owned; shape[0] * shape[1] items */
};

void kp_array_init(struct kp_array *a, int dtype, int ndim,
	size_t rows, size_t cols);
void kp_array_release(struct kp_array *a);
size_t kp_array_count(const struct kp_array *a);
size_t kp_dtype_size(int dtype);

/* NPY version 1.0, little-endian, C order: numpy.load reads what we write. */
int kp_npy_write(const char *path, const struct kp_array *a, char *err);
int kp_npy_read(const char *path, struct kp_array *a, char *err);
int kp_npy_parse(const void *buf, size_t len, const char *name,
	struct kp_array *a, char *err);
/* Parse only the header: shape and dtype into a (no data), the data's size
 * into *need; returns the data's offset or -1. */
int kp_npy_header(const void *buf, size_t len, const char *name,
	struct kp_array *a, size_t *need, char *err);
/* The NPY bytes of a, malloc'd in *buf. */
void kp_npy_encode(const struct kp_array *a, char **buf, size_t *len);

/* ---- safetensors ---- */

struct kp_tensor {
	char *name;
	struct kp_array a;
};

/* A set of named tensors plus string metadata, as in a .safetensors file. */
struct kp_tensors {
	size_t n;
	struct kp_tensor *t;
	json_t *metadata;	/* an object of strings, or NULL */
};

void kp_tensors_init(struct kp_tensors *ts);
void kp_tensors_release(struct kp_tensors *ts);
/* Add a tensor; the set takes ownership of a's data. */
void kp_tensors_add(struct kp_tensors *ts, const char *name,
	struct kp_array *a);
const struct kp_array *kp_tensors_get(const struct kp_tensors *ts,
	const char *name);
/* Tensors are written sorted by name, so the bytes depend only on content. */
int kp_safetensors_write(const char *path, const struct kp_tensors *ts,
	char *err);
int kp_safetensors_read(const char *path, struct kp_tensors *ts, char *err);
int kp_safetensors_parse(const void *buf, size_t len, const char *name,
	struct kp_tensors *ts, char *err);

/* ---- JSON ---- */

/* Write j with sorted keys, two-space indent and %.9g reals. */
int kp_json_write(const char *path, const json_t *j, char *err);
json_t *kp_json_read(const char *path, char *err);
/* A real rounded to float precision so the text is stable. */
json_t *kp_json_real(double v);
/* Typed getters; on a missing or mistyped member they return -1 with err. */
int kp_json_size(const json_t *o, const char *key, size_t *out,
	const char *name, char *err);
int kp_json_strings(const json_t *o, const char *key, char ***out,
	size_t *n, const char *name, char *err);
void kp_strings_free(char **s, size_t n);

/* ---- models ---- */

enum kp_kind {
	KP_RIDGE,
	KP_LOGISTIC,
	KP_SOFTMAX,
	KP_MLP,
};

enum kp_act {
	KP_LINEAR,
	KP_RELU,
	KP_SIGMOID,
	KP_SOFTMAX_ACT,
};

/* One dense layer: out = act(in · w + b). */
struct kp_layer {
	size_t in, out;
	int act;		/* enum kp_act */
	float *w;		/* in x out, row-major */
	float *b;		/* out */
};

/*
 * Every model kiln trains is a stack of dense layers: ridge is one linear
 * layer, logistic one sigmoid unit, softmax one softmax layer, an MLP ReLU
 * layers under a softmax (classification) or linear (regression) one.
 */
struct kp_model {
	int kind;		/* enum kp_kind */
	int classification;	/* 1: outputs are classes, 0: a regression */
	size_t nlayers;
	struct kp_layer *layers;
	size_t nclasses;	/* 0 for regression */
	char **classes;		/* class names, index = class label */
};

const char *kp_kind_name(int kind);
int kp_kind_parse(const char *s);	/* -1 when unknown */
const char *kp_act_name(int act);

/* Allocate layers for sizes[0] -> sizes[1] -> ... -> sizes[n-1]. */
void kp_model_init(struct kp_model *m, int kind, int classification,
	const size_t *sizes, size_t nsizes);
void kp_model_release(struct kp_model *m);
size_t kp_model_inputs(const struct kp_model *m);
size_t kp_model_outputs(const struct kp_model *m);

/* Weights as layerN.weight [in, out] and layerN.bias [out], with metadata. */
void kp_model_tensors(const struct kp_model *m, struct kp_tensors *ts);
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

/* ---- training ---- */

struct kp_fit_opts {
	int kind;		/* enum kp_kind */
	size_t hidden[8];	/* MLP hidden layer sizes */
	size_t nhidden;
	int epochs;
	double lr;		/* Adam step size */
	double l2;		/* weight decay on weights, not biases */
	size_t batch;		/* mini-batch rows */
	double validation;	/* fraction held out for early stopping; 0: none */
	int patience;		/* epochs without improvement before stopping */
	uint64_t seed;
	const float *weights;	/* per-row loss weights (n), or NULL for 1 */
	int threads;		/* threads computing sub-batches; results do not depend on it */
};

void kp_fit_opts_init(struct kp_fit_opts *o);

/* Per-epoch record: training loss and the validation metric. */
struct kp_history {
	size_t n;
	double *loss;
	double *val;		/* NaN when there is no validation split */
	int best_epoch;		/* 1-based epoch whose weights were kept */
	double flops;		/* floating-point operations of the training */
};

void kp_history_release(struct kp_history *h);

/* Called after each epoch; return nonzero to stop. */
typedef int (*kp_fit_progress_fn)(void *arg, int epoch, int epochs, double loss);

/*
 * Train a model on X (n x d). For classification y is int64 class indices
 * below nclasses (>= 2); for regression yf holds float targets and nclasses
 * is 0. The result is a function of the inputs and opts only, whatever
 * opts->threads is. Sets OpenBLAS to one thread (see fit.c).
 */
int kp_fit(struct kp_model *m, const struct kp_fit_opts *o,
	const float *X, size_t n, size_t d, const int64_t *y, const float *yf,
	size_t nclasses, struct kp_history *h, kp_fit_progress_fn progress,
	void *arg, char *err);

/* ---- metrics ---- */

/*
 * Classification metrics of pred against y (n labels below nclasses):
 * accuracy, macro and per-class precision/recall/F1, the confusion matrix,
 * and with probs (n x nclasses, may be NULL) log loss and, for two classes,
 * ROC-AUC.
 */
json_t *kp_metrics_classification(const int64_t *y, const int64_t *pred,
	const float *probs, size_t n, size_t nclasses, char *const *classes);
/* RMSE, MAE and R^2. */
json_t *kp_metrics_regression(const float *y, const float *pred, size_t n);
/*
 * Per-group accuracy (and for two classes selection rate and true positive
 * rate, class 1 being the positive one), with the largest gap between
 * groups, the demographic parity and equal opportunity differences.
 */
json_t *kp_metrics_fairness(const int64_t *y, const int64_t *pred,
	const int64_t *group, size_t n, size_t nclasses, char *const *groups,
	size_t ngroups);
/* Area under the ROC curve of score for y == 1 (ties count half). */
double kp_roc_auc(const int64_t *y, const float *score, size_t n);

#endif
