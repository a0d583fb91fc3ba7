/*
 * libFuzzer target: kiln-serve's request handling must answer 200 or 400
 * to any bytes, never crash. The model (a numeric and a one-hot column, a
 * softmax over three classes) is written once to a temporary folder.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../plugins/lib/json.h"
#include "../../plugins/lib/model.h"
#include "../../plugins/lib/util.h"
#include "../predict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct predictor P;
static int ready;

static void
setup(void)
{
	static const size_t sizes[] = { 3, 3 };
	char dir[] = "/tmp/kiln-fuzz-serve.XXXXXX", err[KP_ERRLEN], *p;
	struct kp_model m;
	json_t *j;

	if (!mkdtemp(dir))
		abort();
	kp_model_init(&m, KP_SOFTMAX, 1, sizes, 2);
	p = kp_join(dir, "model.safetensors");
	if (kp_model_save(&m, p, err) < 0)
		abort();
	free(p);
	kp_model_release(&m);
	j = json_pack("{s:[s,s,s], s:{s:[{s:s, s:s, s:f, s:f}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]}}",
		"classes", "a", "b", "c", "transform", "columns",
		"source", "x0", "kind", "numeric", "center", 1.0, "scale", 2.0,
		"source", "c", "kind", "onehot", "value", "red",
		"source", "c", "kind", "onehot", "value", "blue");
	p = kp_join(dir, "model.json");
	if (kp_json_write(p, j, err) < 0)
		abort();
	free(p);
	json_decref(j);
	if (predictor_load(&P, dir, "m", err) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	ready = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KP_ERRLEN];
	json_t *r;
	int status;

	if (!ready)
		setup();
	r = predictor_run(&P, (const char *)data, size, &status, err);
	if ((r && status != 200) || (!r && status != 400) || (!r && !err[0]))
		abort();
	json_decref(r);
	return 0;
}
