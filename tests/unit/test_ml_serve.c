/*
 * kiln-serve's predictor without HTTP: a small softmax model with a numeric
 * and a one-hot column, written to a temporary folder, answers requests in
 * both shapes, and every malformed request gets a 400 with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../plugins/lib/json.h"
#include "../../plugins/lib/model.h"
#include "../../plugins/lib/util.h"
#include "../../serve/predict.h"

static char dir[] = "/tmp/kiln-serve-test.XXXXXX";
static struct predictor P;

/* x0 numeric (center 10, scale 2), colour one-hot red/blue; 3 classes. */
static int
setup(void **state)
{
	static const size_t sizes[] = { 3, 3 };
	struct kp_model m;
	char err[KP_ERRLEN], *p;
	json_t *j;
	int i;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	kp_model_init(&m, KP_SOFTMAX, 1, sizes, 2);
	/* Class k scores input k: x0 -> a, red -> b, blue -> c. */
	for (i = 0; i < 3; i++)
		m.layers[0].w[i * 3 + i] = 4;
	p = kp_join(dir, "model.safetensors");
	if (kp_model_save(&m, p, err) < 0)
		return fprintf(stderr, "%s\n", err), -1;
	free(p);
	kp_model_release(&m);
	j = json_pack("{s:s, s:s, s:[s,s,s], s:{s:[{s:s, s:s, s:f, s:f}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]}}",
		"kind", "softmax", "task", "classification", "classes", "a", "b", "c",
		"transform", "columns",
		"source", "x0", "kind", "numeric", "center", 10.0, "scale", 2.0,
		"source", "colour", "kind", "onehot", "value", "red",
		"source", "colour", "kind", "onehot", "value", "blue");
	p = kp_join(dir, "model.json");
	if (kp_json_write(p, j, err) < 0)
		return fprintf(stderr, "%s\n", err), -1;
	free(p);
	json_decref(j);
	if (predictor_load(&P, dir, "m", err) < 0)
		return fprintf(stderr, "%s\n", err), -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	predictor_release(&P);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run body; return the JSON text of the answer (or the error) in a static buffer. */
static const char *
ask(const char *body, int want)
{
	static char text[4096];
	char err[KP_ERRLEN];
	int status;
	json_t *r = predictor_run(&P, body, strlen(body), &status, err);

	assert_int_equal(status, want);
	if (!r) {
		snprintf(text, sizeof(text), "%s", err);
		return text;
	}
	char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(text, sizeof(text), "%s", s);
	free(s);
	json_decref(r);
	return text;
}

static void
contains(const char *got, const char *want)
{
	if (!strstr(got, want))
		fail_msg("'%s' does not contain '%s'", got, want);
}

static void
inputs_and_metadata(void **state)
{
	char *meta = json_dumps(P.meta, JSON_COMPACT | JSON_SORT_KEYS);

	(void)state;
	assert_int_equal(P.nsrc, 2);
	assert_int_equal(P.ninputs, 3);
	contains(meta, "{\"name\":\"colour\",\"type\":\"string\",\"values\":[\"red\",\"blue\"]}");
	contains(meta, "\"model_digest\":\"sha256:");
	free(meta);
}

static void
transform_applied(void **state)
{
	(void)state;
	/* x0 = 30 -> (30-10)/2 = 10 scores class a; red scores b; blue scores c. */
	contains(ask("{\"instances\": [[30, \"green\"]]}", 200), "\"class\":\"a\"");
	contains(ask("{\"instances\": [[10, \"red\"]]}", 200), "\"class\":\"b\"");
	contains(ask("{\"instances\": [{\"colour\": \"blue\", \"x0\": 10}]}", 200), "\"class\":\"c\"");
	/* Both shapes in one request, and booleans as numbers. */
	contains(ask("{\"instances\": [[10, \"red\"], {\"x0\": true, \"colour\": \"blue\"}]}", 200),
		"\"class\":\"c\"");
}

static void
bad_requests(void **state)
{
	(void)state;
	contains(ask("", 400), "malformed JSON");
	contains(ask("{\"instances\": [[1, \"red\"]]", 400), "malformed JSON");
	contains(ask("{\"instances\": [], \"instances\": []}", 400), "malformed JSON");
	contains(ask("{\"inst\": []}", 400), "expected an object {\"instances\"");
	contains(ask("{\"instances\": {}}", 400), "expected an object {\"instances\"");
	contains(ask("{\"instances\": []}", 400), "is empty");
	contains(ask("{\"instances\": [[1]]}", 400), "instance 0: expected 2 features, got 1");
	contains(ask("{\"instances\": [[1, \"red\"], [1, 2, 3]]}", 400), "instance 1: expected 2 features, got 3");
	contains(ask("{\"instances\": [[\"1\", \"red\"]]}", 400), "column 'x0' takes a number, got a string");
	contains(ask("{\"instances\": [[1, 5]]}", 400), "column 'colour' takes a string, got a number");
	contains(ask("{\"instances\": [[null, \"red\"]]}", 400), "got null");
	contains(ask("{\"instances\": [[1e39, \"red\"]]}", 400), "out of range");
	contains(ask("{\"instances\": [{\"x0\": 1}]}", 400), "missing column 'colour'");
	contains(ask("{\"instances\": [{\"x0\": 1, \"colour\": \"red\", \"x1\": 2}]}", 400), "unknown column 'x1'");
	contains(ask("{\"instances\": [7]}", 400), "expected a list of features or an object");
	contains(ask("{\"instances\": [[[[[[[[1]]]]]]]]}", 400), "expected 2 features, got 1");
	/* A server keeps working after all that. */
	contains(ask("{\"instances\": [[10, \"red\"]]}", 200), "\"class\":\"b\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(inputs_and_metadata),
		cmocka_unit_test(transform_applied),
		cmocka_unit_test(bad_requests),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
