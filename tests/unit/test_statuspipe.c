/* The status-pipe protocol: every message written reads back the same; malformed lines are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "statuspipe.h"
#include "util.h"

/* Format m, check the line ends in exactly one newline, and parse it back into *back; the line in *text. */
static void
round_trip(const struct kiln_status_msg *m, struct buf *text, struct kiln_status_msg *back)
{
	buf_reset(text);
	kiln_statuspipe_format(text, m);
	assert_true(text->len > 0);
	assert_int_equal(text->s[text->len - 1], '\n');
	assert_null(memchr(text->s, '\n', text->len - 1));
	text->s[--text->len] = '\0';
	assert_int_equal(kiln_statuspipe_parse(text->s, back), 0);
	assert_int_equal(back->type, m->type);
}

static void
test_progress(void **state)
{
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_PROGRESS, .done = 3, .total = 40.5, .unit = "epoch"}, r;

	(void)state;
	round_trip(&m, &b, &r);
	assert_true(r.done == 3 && r.total == 40.5);
	assert_string_equal(r.unit, "epoch");
	/* A unit is a word: blanks become '_'; none is "-". */
	m.unit = "big batch\n";
	round_trip(&m, &b, &r);
	assert_string_equal(r.unit, "big_batch_");
	m.unit = NULL;
	round_trip(&m, &b, &r);
	assert_string_equal(r.unit, "-");
	buf_release(&b);
}

static void
test_metric(void **state)
{
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_METRIC, .name = "accuracy", .value = 0.1}, r;

	(void)state;
	round_trip(&m, &b, &r);
	assert_string_equal(r.name, "accuracy");
	/* %.17g: the value comes back to the bit. */
	assert_memory_equal(&r.value, &m.value, sizeof(double));
	m.name = "f1 score\tmacro";
	m.value = -1e300;
	round_trip(&m, &b, &r);
	assert_string_equal(r.name, "f1_score_macro");
	assert_true(r.value == -1e300);
	buf_release(&b);
}

/* A warning's text is escaped as a failure's, and a warning is no failure. */
static void
test_warn(void **state)
{
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_WARN, .text = "accuracy 0.9 is below\nthe warning \\ minimum"}, r;
	char line[] = "warn";

	(void)state;
	round_trip(&m, &b, &r);
	assert_string_equal(r.text, m.text);
	assert_int_equal(r.kind, KILN_FAIL_STEP);
	m.text = "";
	round_trip(&m, &b, &r);
	assert_string_equal(r.text, "");
	/* No kind, and a message is required. */
	assert_int_equal(kiln_statuspipe_parse(line, &r), -1);
	buf_release(&b);
}

/* "same": the output is a word, the input file the escaped rest (a blank, a newline and all). */
static void
test_same(void **state)
{
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_SAME, .name = "data.csv", .text = "data/raw table\n.csv"}, r;
	char none[] = "same data.csv", nothing[] = "same data.csv ";

	(void)state;
	round_trip(&m, &b, &r);
	assert_string_equal(r.name, "data.csv");
	assert_string_equal(r.text, m.text);
	m.text = "kiln-out/raw/x\ny.csv";
	round_trip(&m, &b, &r);
	assert_string_equal(r.text, m.text);
	/* Both fields are required. */
	assert_int_equal(kiln_statuspipe_parse(none, &r), -1);
	assert_int_equal(r.type, KILN_MSG_NONE);
	assert_int_equal(kiln_statuspipe_parse(nothing, &r), -1);
	buf_release(&b);
}

static void
test_fail_escaping(void **state)
{
	static const char *const texts[] = {
		"plain", "", "two\nlines", "back\\slash", "\\n is not a newline", "trailing\\", "\n\n\\\\\n",
		"fail: a colon and fail inside", "metric x 1",
	};
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_FAIL}, r;
	size_t i;

	(void)state;
	for (i = 0; i < LEN(texts); i++) {
		m.text = texts[i];
		round_trip(&m, &b, &r);
		assert_int_equal(r.kind, KILN_FAIL_STEP);
		assert_string_equal(r.text, texts[i]);
	}
	/* What older readers understand: a plain failure is "fail MESSAGE". */
	m.text = "a\nb";
	buf_reset(&b);
	kiln_statuspipe_format(&b, &m);
	assert_string_equal(b.s, "fail a\\nb\n");
	buf_release(&b);
}

static void
test_fail_kinds(void **state)
{
	static const enum kiln_fail_kind all[] = {
		KILN_FAIL_STEP, KILN_FAIL_START, KILN_FAIL_INPUT_MISSING, KILN_FAIL_OUTPUT_MISSING,
		KILN_FAIL_TIMEOUT, KILN_FAIL_STOPPED,
	};
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_FAIL, .text = "'model.bin' is missing"}, r;
	char line[64];
	size_t i;

	(void)state;
	for (i = 0; i < LEN(all); i++) {
		m.kind = all[i];
		round_trip(&m, &b, &r);
		assert_int_equal(r.kind, all[i]);
		assert_string_equal(r.text, m.text);
	}
	/* A kind from a newer kiln is still a failure, with its message. */
	snprintf(line, sizeof(line), "fail:disk-on-fire it burns");
	assert_int_equal(kiln_statuspipe_parse(line, &r), 0);
	assert_int_equal(r.type, KILN_MSG_FAIL);
	assert_int_equal(r.kind, KILN_FAIL_STEP);
	assert_string_equal(r.text, "it burns");
	buf_release(&b);
}

static void
test_job_and_done(void **state)
{
	struct buf b = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_JOB, .job = 4711, .node = "gpu-03"}, r;

	(void)state;
	round_trip(&m, &b, &r);
	assert_int_equal(r.job, 4711);
	assert_string_equal(r.node, "gpu-03");
	m.node = NULL;
	round_trip(&m, &b, &r);
	assert_string_equal(r.node, "?");
	m = (struct kiln_status_msg){.type = KILN_MSG_DONE};
	round_trip(&m, &b, &r);
	buf_release(&b);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"", " ", "fail", "progress", "progress 1 2", "progress one 2 x", "progress 1 2 x y",
		"progress  1 2 x", "metric", "metric name", "metric name 1 2", "metric name x",
		"metric name 1x", "slurm-job", "slurm-job x node", "slurm-job 1", "slurm-job 1 a b",
		"slurm-done now", "metric:start x 1", "progress:x 1 2 u", "bogus words", "FAIL x",
		"failure x",
	};
	struct kiln_status_msg r;
	char line[64];
	size_t i;

	(void)state;
	for (i = 0; i < LEN(bad); i++) {
		snprintf(line, sizeof(line), "%s", bad[i]);
		r.type = KILN_MSG_METRIC;
		/* Refused, and left as it was for a reader that passes it on. */
		if (kiln_statuspipe_parse(line, &r) != 0 && r.type == KILN_MSG_NONE && strcmp(line, bad[i]) == 0)
			continue;
		fail_msg("'%s' parsed as a status line", bad[i]);
	}
}

static void
collect(void *arg, char *line)
{
	struct buf *b = arg;
	struct kiln_status_msg m;

	if (kiln_statuspipe_parse(line, &m) == 0 && m.type == KILN_MSG_FAIL)
		buf_printf(b, "[%s]", m.text);
	else
		buf_printf(b, "<%s>", line);
}

/* Lines split across reads come out whole; the last one, unfinished, waits. */
static void
test_read(void **state)
{
	struct buf got = BUF_INIT, partial = BUF_INIT;
	struct kiln_status_msg m = {.type = KILN_MSG_FAIL, .text = "x\ny"};
	int fd[2];

	(void)state;
	assert_int_equal(pipe(fd), 0);
	assert_int_equal(kiln_statuspipe_send(fd[1], "kiln-status ", &m), 0);
	assert_int_equal(write(fd[1], "fail a", 6), 6);
	assert_int_equal(close(fd[1]), 0);
	assert_int_equal(kiln_statuspipe_read(fd[0], &partial, collect, &got), 0);
	assert_string_equal(got.s, "<kiln-status fail x\\ny>");
	assert_string_equal(partial.s, "fail a");
	close(fd[0]);
	assert_int_equal(pipe(fd), 0);
	assert_int_equal(write(fd[1], "\nfail b\n", 8), 8);
	close(fd[1]);
	buf_reset(&got);
	assert_int_equal(kiln_statuspipe_read(fd[0], &partial, collect, &got), 0);
	assert_string_equal(got.s, "[a][b]");
	assert_int_equal(partial.len, 0);
	close(fd[0]);
	buf_release(&got);
	buf_release(&partial);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_metric),
		cmocka_unit_test(test_warn),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_fail_escaping),
		cmocka_unit_test(test_fail_kinds),
		cmocka_unit_test(test_job_and_done),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
