/*
 * predict: a loaded model with its feature transform, answering prediction
 * requests given as JSON. No HTTP here, so it can be tested on its own.
 *
 * A model folder is what the train plugin writes: model.safetensors and
 * model.json, whose "transform" member (copied from the features target)
 * says how raw columns become the model's inputs: a numeric column is
 * centred and scaled, a one-hot column becomes one 0/1 input per category.
 */
#ifndef KILN_SERVE_PREDICT_H
#define KILN_SERVE_PREDICT_H

#include <stddef.h>

#include "../plugins/lib/model.h"

struct json_t;

/* One output column of the transform. */
struct pcol {
	size_t src;		/* index into the predictor's src[] */
	char *value;		/* one-hot category, or NULL for a numeric column */
	double center, scale;	/* numeric: (x - center) / scale */
};

/* A raw column the client sends. */
struct psrc {
	char *name;		/* its name in a request's instances */
	int onehot;		/* 1: a string category, 0: a number */
};

/* A model being served. */
struct predictor {
	char *name;		/* the model's name in URLs */
	struct kp_model m;	/* its layers and class names */
	size_t ninputs;		/* the model's input width */
	size_t nsrc;		/* raw columns; 0 when model.json has no transform */
	struct psrc *src;	/* nsrc raw columns, in model.json's order */
	size_t ncols;		/* == ninputs when there is a transform */
	struct pcol *cols;	/* ncols model inputs, each from one raw column */
	char *digest;		/* "sha256:<hex>" of model.safetensors */
	struct json_t *meta;	/* GET /v1/models/<name>, built once */
};

/* Load dir/model.safetensors and dir/model.json. -1 with err on bad files. */
int predictor_load(struct predictor *p, const char *dir, const char *name, char *err);
/* Free everything p holds. */
void predictor_release(struct predictor *p);

/*
 * Answer a request body: on success a {"predictions": [...]} object and
 * *status 200; on a client error NULL with *status 400 and err filled.
 */
struct json_t *predictor_run(const struct predictor *p, const char *body, size_t len,
	int *status, char *err);

#endif
