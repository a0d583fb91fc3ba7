/*
 * The select plugin: chooses the best of several candidate models by a
 * metric of their tests, and outputs the chosen model's files (so that a
 * select is a model to container, serve and test) and selection.json.
 *
 * Candidate i is the inputs model<i> and test<i> (1-based), both soft: a
 * candidate whose model or test failed comes without them, and is left
 * out. A test's metrics.json gives the value: its "validation" metrics
 * when every ranked candidate has them (features with a validation split),
 * else its "metrics", else a top-level number (any step's metrics file).
 */
#include <jansson.h>
#include <kiln/plugin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/json.h"
#include "../lib/param.h"
#include "../lib/util.h"

static const char *const params[] = { "by", "candidates", "goal", NULL };
static const char *const goals[] = { "max", "min", NULL };
/* The chosen model's files, as the train plugin writes them. */
static const char *const model_files[] = { "model.safetensors", "model.json", "history.json", NULL };

struct cand {
	const char *model, *test;	/* the targets, as ":name" */
	const char *mdir, *tdir;	/* their outputs, NULL when they did not build */
	const char *left_out;		/* why it is not ranked, or NULL */
	int has_test, has_val;		/* which values metrics.json holds */
	double test_value, val_value;
	double value;			/* the one ranked on */
};

static const kiln_value *
candidates(kiln_ctx *ctx)
{
	return kiln_param(ctx, "candidates");
}

/* The params; and, unless running (when a failed candidate's inputs are absent), the inputs. */
static int
check_all(kiln_ctx *ctx, int inputs)
{
	const kiln_value *c = candidates(ctx);
	const char *s;
	char name[32];
	size_t i;

	if (kp_known(ctx, params) < 0 || kp_string(ctx, "goal", "max", goals, &s) < 0 ||
	    kp_string(ctx, "by", NULL, NULL, &s) < 0)
		return -1;
	if (!s)
		return kiln_fail(ctx, "param 'by' is required: the metric to choose by");
	if (kiln_value_type(c) != KILN_LIST || kiln_value_len(c) == 0)
		return kiln_fail(ctx, "param 'candidates': expected a non-empty list of { model, test }");
	for (i = 0; i < kiln_value_len(c); i++) {
		const kiln_value *m = kiln_value_at(c, i);

		if (!kiln_value_string(kiln_value_get(m, "model"), NULL) ||
		    !kiln_value_string(kiln_value_get(m, "test"), NULL))
			return kiln_fail(ctx, "param 'candidates': item %zu: expected { model = \":m\", test = \":t\" }", i + 1);
		if (!inputs)
			continue;
		snprintf(name, sizeof(name), "test%zu", i + 1);
		if (!kiln_input(ctx, name))
			return kiln_fail(ctx, "candidate %zu: missing input '%s'", i + 1, name);
		snprintf(name, sizeof(name), "model%zu", i + 1);
		if (!kiln_input(ctx, name))
			return kiln_fail(ctx, "candidate %zu: missing input '%s'", i + 1, name);
	}
	return 0;
}

static int
check(kiln_ctx *ctx)
{
	return check_all(ctx, 1);
}

/* o[by] as a number into *out: 1, 0 when absent, -1 when null (undefined on the data). */
static int
number_at(const json_t *o, const char *by, double *out)
{
	const json_t *v = json_object_get(o, by);

	if (json_is_null(v))
		return -1;
	if (!json_is_number(v))
		return 0;
	*out = json_number_value(v);
	return 1;
}

/* Read candidate c's values of `by` from its test's metrics.json. */
static int
read_values(kiln_ctx *ctx, struct cand *c, const char *by)
{
	char err[KP_ERRLEN], *p = kp_join(c->tdir, "metrics.json");
	json_t *j = kp_json_read(p, err), *m;
	int r, rc = 0;

	free(p);
	if (!j)
		return kiln_fail(ctx, "test '%s': %s", c->test + 1, err);
	m = json_object_get(j, "metrics");
	r = number_at(json_is_object(m) ? m : j, by, &c->test_value);
	c->has_test = r == 1;
	if (r < 0)
		c->left_out = "its value is undefined on the data (null)";
	r = number_at(json_object_get(j, "validation"), by, &c->val_value);
	c->has_val = r == 1;
	if (!c->has_test && !c->has_val && !c->left_out)
		rc = kiln_fail(ctx, "test '%s': its metrics.json has no metric '%s' to choose by",
			c->test + 1, by);
	json_decref(j);
	return rc;
}

/* Fill every candidate; their values, or why they are left out. */
static int
gather(kiln_ctx *ctx, struct cand *cs, size_t n, const char *by)
{
	const kiln_value *list = candidates(ctx);
	char name[32];
	size_t i;

	for (i = 0; i < n; i++) {
		struct cand *c = &cs[i];
		const kiln_value *m = kiln_value_at(list, i);

		c->model = kiln_value_string(kiln_value_get(m, "model"), "");
		c->test = kiln_value_string(kiln_value_get(m, "test"), "");
		snprintf(name, sizeof(name), "model%zu", i + 1);
		c->mdir = kiln_input(ctx, name);
		snprintf(name, sizeof(name), "test%zu", i + 1);
		c->tdir = kiln_input(ctx, name);
		if (!c->mdir)
			c->left_out = "its model did not build";
		else if (!c->tdir)
			c->left_out = "its test failed or did not run";
		else if (read_values(ctx, c, by) < 0)
			return -1;
	}
	return 0;
}

/*
 * The position of the best candidate, or n when none is left. Ranks on the
 * validation values when every candidate left has one (*split says which).
 */
static size_t
choose(struct cand *cs, size_t n, int maximise, const char **split)
{
	size_t i, best = n;
	int val = 1, any = 0;

	for (i = 0; i < n; i++)
		if (!cs[i].left_out) {
			any = 1;
			val = val && cs[i].has_val;
		}
	*split = any && val ? "validation" : "test";
	for (i = 0; i < n; i++) {
		struct cand *c = &cs[i];

		if (c->left_out)
			continue;
		if (!(val ? c->has_val : c->has_test)) {
			c->left_out = val ? "it has no validation value" : "it has no test value";
			continue;
		}
		c->value = val ? c->val_value : c->test_value;
		/* Strictly better only: a tie goes to the earlier candidate. */
		if (best == n || (maximise ? c->value > cs[best].value : c->value < cs[best].value))
			best = i;
	}
	return best;
}

static json_t *
candidate_json(const struct cand *c, size_t i)
{
	json_t *o = json_pack("{s:I, s:s, s:s}", "position", (json_int_t)(i + 1), "model", c->model,
		"test", c->test);

	json_object_set_new(o, "value", c->left_out ? json_null() : kp_json_real(c->value));
	if (c->left_out)
		json_object_set_new(o, "left_out", json_string(c->left_out));
	if (c->has_test)
		json_object_set_new(o, "test_value", kp_json_real(c->test_value));
	if (c->has_val)
		json_object_set_new(o, "validation_value", kp_json_real(c->val_value));
	return o;
}

static int
write_selection(kiln_ctx *ctx, const struct cand *cs, size_t n, size_t best, const char *by,
	const char *goal, const char *split)
{
	json_t *j = json_object(), *list = json_array();
	char err[KP_ERRLEN], *p = kp_join(kiln_output_dir(ctx), "selection.json");
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		json_array_append_new(list, candidate_json(&cs[i], i));
	json_object_set_new(j, "by", json_string(by));
	json_object_set_new(j, "goal", json_string(goal));
	json_object_set_new(j, "ranked_on", json_string(split));
	json_object_set_new(j, "winner", candidate_json(&cs[best], best));
	json_object_set_new(j, "candidates", list);
	rc = kp_json_write(p, j, err);
	free(p);
	json_decref(j);
	return rc < 0 ? kiln_fail(ctx, "%s", err) : 0;
}

/* Copy the winner's model files into the output folder. */
static int
copy_model(kiln_ctx *ctx, const struct cand *c)
{
	char err[KP_ERRLEN], *buf, *src, *dst;
	size_t i, len;
	int rc = 0;

	for (i = 0; model_files[i] && rc == 0; i++) {
		src = kp_join(c->mdir, model_files[i]);
		dst = kp_join(kiln_output_dir(ctx), model_files[i]);
		if (kp_read_file(src, &buf, &len, err) < 0) {
			rc = kiln_fail(ctx, "model '%s': %s (a candidate must be a model target)", c->model + 1, err);
		} else {
			if (kp_write_file(dst, buf, len, err) < 0)
				rc = kiln_fail(ctx, "%s", err);
			free(buf);
		}
		free(src);
		free(dst);
	}
	return rc;
}

/* The failure when no candidate is left: each one and why. */
static int
none_left(kiln_ctx *ctx, const struct cand *cs, size_t n)
{
	char msg[2048] = "";
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, "%s%zu (%s, %s): %s", i ? "; " : "", i + 1,
			cs[i].model + 1, cs[i].test + 1, cs[i].left_out);
	}
	return kiln_fail(ctx, "no candidate passed, nothing to choose: %s", msg);
}

static void
log_table(kiln_ctx *ctx, const struct cand *cs, size_t n, size_t best, const char *by, const char *split)
{
	size_t i;

	kiln_log(ctx, "choosing by %s on the %s data", by, split);
	for (i = 0; i < n; i++) {
		if (cs[i].left_out)
			kiln_log(ctx, "  %zu %s (%s): left out: %s", i + 1, cs[i].model + 1, cs[i].test + 1,
				cs[i].left_out);
		else
			kiln_log(ctx, "%s %zu %s (%s): %s %.6g", i == best ? "*" : " ", i + 1, cs[i].model + 1,
				cs[i].test + 1, by, cs[i].value);
	}
}

static int
run(kiln_ctx *ctx)
{
	const char *by = kiln_param_string(ctx, "by", ""), *goal = kiln_param_string(ctx, "goal", "max");
	const char *split;
	size_t n = kiln_value_len(candidates(ctx)), best;
	struct cand *cs;
	int rc;

	if (check_all(ctx, 0) < 0)
		return -1;
	cs = kp_xcalloc(n, sizeof(*cs));
	if (gather(ctx, cs, n, by) < 0) {
		free(cs);
		return -1;
	}
	best = choose(cs, n, strcmp(goal, "max") == 0, &split);
	if (best == n) {
		rc = none_left(ctx, cs, n);
		free(cs);
		return rc;
	}
	log_table(ctx, cs, n, best, by, split);
	rc = copy_model(ctx, &cs[best]);
	if (rc == 0)
		rc = write_selection(ctx, cs, n, best, by, goal, split);
	if (rc == 0) {
		kiln_metric(ctx, by, cs[best].value);
		kiln_metric(ctx, "candidate", (double)(best + 1));
	}
	free(cs);
	return rc;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "select",
	.version = "1.0",
	.summary = "chooses the best candidate model by a metric of its test; outputs it and selection.json",
	.check = check,
	.run = run,
};
