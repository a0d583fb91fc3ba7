/*
 * The ML plugins end to end through a stand-in host: featurize the
 * example data sets, train with the default settings, test against the
 * accuracy floors of the examples, and feed them bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ml_host.h"
#include "../../plugins/lib/util.h"

/* Folders of one pipeline run. */
struct run {
	char *root, feat[4200], model[4200], test[4200];
};

static void
run_init(struct run *r)
{
	r->root = mlh_tmpdir();
	snprintf(r->feat, sizeof(r->feat), "%s/feat", r->root);
	snprintf(r->model, sizeof(r->model), "%s/model", r->root);
	snprintf(r->test, sizeof(r->test), "%s/test", r->root);
	mkdir(r->feat, 0755);
	mkdir(r->model, 0755);
	mkdir(r->test, 0755);
}

static void
run_release(struct run *r)
{
	mlh_rmtree(r->root);
	free(r->root);
}

static int
featurize(struct run *r, const char *csv, const char *params, struct mlh *h)
{
	char path[4096];
	const char *in[] = { "data", path, NULL };

	snprintf(path, sizeof(path), "%s", mlh_top(csv));
	return mlh_run(h, "featurize", "feat", params, in, r->feat, 1);
}

static int
train(struct run *r, const char *params, int threads, struct mlh *h)
{
	const char *in[] = { "features", r->feat, NULL };

	return mlh_run(h, "train", "model", params, in, r->model, threads);
}

static int
evaluate(struct run *r, const char *params, struct mlh *h)
{
	const char *in[] = { "features", r->feat, "model", r->model, NULL };

	return mlh_run(h, "test", "gate", params, in, r->test, 1);
}

/* Featurize, train and test; returns the test accuracy. */
static double
pipeline(const char *csv, const char *fparams, const char *mparams)
{
	struct run r;
	struct mlh h;
	double acc;

	run_init(&r);
	assert_int_equal(featurize(&r, csv, fparams, &h), 0);
	mlh_release(&h);
	if (train(&r, mparams, 1, &h) != 0)
		fail_msg("train: %s", h.fail);
	mlh_release(&h);
	if (evaluate(&r, "{}", &h) != 0)
		fail_msg("test: %s", h.fail);
	acc = mlh_metric(&h, "accuracy");
	print_message("%s %s: accuracy %.4f\n", csv, mparams, acc);
	mlh_release(&h);
	run_release(&r);
	return acc;
}

#define SPLIT "\"scale\": \"standard\", \"split\": {\"test\": 0.2, \"seed\": 42, \"stratify\": true}"

static void
iris_softmax(void **state)
{
	(void)state;
	assert_true(pipeline("examples/iris/data/iris.csv",
		"{\"label\": \"species\", " SPLIT "}",
		"{\"algorithm\": \"softmax\"}") >= 0.93);
}

static void
breast_cancer_logistic(void **state)
{
	(void)state;
	assert_true(pipeline("examples/breast_cancer/data/breast_cancer.csv",
		"{\"label\": \"diagnosis\", " SPLIT "}",
		"{\"algorithm\": \"logistic\"}") >= 0.95);
}

static void
digits_mlp(void **state)
{
	(void)state;
	assert_true(pipeline("examples/digits/data/digits.csv",
		"{\"label\": \"digit\", " SPLIT "}",
		"{\"algorithm\": \"mlp\", \"hidden\": [64]}") >= 0.96);
}

/* A regression end to end: y = 2a - b + 0.5 + noise, from a CSV written here. */
static void
regression_ridge_and_mlp(void **state)
{
	const char *algs[] = { "{\"algorithm\": \"ridge\"}",
		"{\"algorithm\": \"mlp\", \"hidden\": [16], \"epochs\": 60, \"lr\": 0.01, \"batch_size\": 32}" };
	struct kp_rng r;
	char csv[4200], line[128];
	struct run run;
	struct mlh h;
	size_t i;
	FILE *f;

	(void)state;
	run_init(&run);
	snprintf(csv, sizeof(csv), "%s/r.csv", run.root);
	f = fopen(csv, "w");
	assert_non_null(f);
	fputs("a,b,y\n", f);
	kp_rng_seed(&r, 3);
	for (i = 0; i < 500; i++) {
		double a = kp_rng_uniform(&r), b = kp_rng_uniform(&r);

		snprintf(line, sizeof(line), "%.4f,%.4f,%.5f\n", a, b,
			2 * a - b + 0.5 + 0.01 * (kp_rng_uniform(&r) - 0.5));
		fputs(line, f);
	}
	fclose(f);
	for (i = 0; i < 2; i++) {
		const char *fin[] = { "data", csv, NULL };

		assert_int_equal(mlh_run(&h, "featurize", "feat", "{\"label\": \"y\"}", fin,
			run.feat, 1), 0);
		mlh_release(&h);
		if (train(&run, algs[i], 1, &h) != 0)
			fail_msg("train: %s", h.fail);
		mlh_release(&h);
		if (evaluate(&run, "{\"min\": {\"r2\": 0.99}, \"max\": {\"rmse\": 0.1}}", &h) != 0)
			fail_msg("%s: %s", algs[i], h.fail);
		print_message("%s: r2 %.5f rmse %.5f\n", algs[i], mlh_metric(&h, "r2"),
			mlh_metric(&h, "rmse"));
		mlh_release(&h);
	}
	/* A classification limit on a regression is an error, not a pass. */
	assert_int_equal(evaluate(&run, "{\"min\": {\"accuracy\": 0.5}}", &h), -1);
	assert_non_null(strstr(h.fail, "metric 'accuracy' is not computed for this model"));
	mlh_release(&h);
	run_release(&run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(iris_softmax),
		cmocka_unit_test(breast_cancer_logistic),
		cmocka_unit_test(digits_mlp),
		cmocka_unit_test(regression_ridge_and_mlp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
