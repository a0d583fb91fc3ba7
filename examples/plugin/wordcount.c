/*
 * wordcount: a complete small kiln plugin. It counts the words of its text
 * inputs and writes the most frequent ones as CSV.
 *
 *	kiln.target {
 *	  name = "counts", plugin = "wordcount",
 *	  inputs = { text = "data/poem.txt" },
 *	  params = { top = 5, lowercase = true },
 *	  outputs = { "top.csv" },
 *	}
 *
 * It shows each part of the ABI: a descriptor, a check() that refuses bad
 * params before the build starts, and a run() that reads typed params and
 * inputs, writes into the output folder, and reports progress, a metric, a
 * log line and failures. It includes nothing of kiln's but <kiln/plugin.h>.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/plugin.h>

struct word {
	char *text;
	long count;
};

struct counts {
	struct word *w;
	size_t n, cap;
	long total;
};

/* Runs in kiln itself, before anything builds: fail fast, naming the param. */
static int
check(kiln_ctx *ctx)
{
	const kiln_value *top = kiln_param(ctx, "top");

	if (top && (kiln_value_type(top) != KILN_INT || kiln_value_int(top, 0) < 1))
		return kiln_fail(ctx, "param 'top' must be a whole number of at least 1");
	if (kiln_value_type(kiln_param(ctx, "lowercase")) > KILN_BOOL)
		return kiln_fail(ctx, "param 'lowercase' must be true or false");
	if (kiln_ninputs(ctx) == 0)
		return kiln_fail(ctx, "declare at least one text input");
	return 0;
}

static int
add(struct counts *c, const char *word)
{
	size_t i;

	c->total++;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->w[i].text, word) == 0) {
			c->w[i].count++;
			return 0;
		}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct word *w = realloc(c->w, cap * sizeof(*w));

		if (!w)
			return -1;
		c->w = w;
		c->cap = cap;
	}
	c->w[c->n].text = strdup(word);
	if (!c->w[c->n].text)
		return -1;
	c->w[c->n++].count = 1;
	return 0;
}

static int
count_file(kiln_ctx *ctx, struct counts *c, const char *path, int lower)
{
	char word[256];
	size_t len = 0;
	FILE *f = fopen(path, "r");
	int ch;

	if (!f)
		return kiln_fail(ctx, "cannot read %s: %s", path, strerror(errno));
	do {
		ch = getc(f);
		if (ch != EOF && (isalnum(ch) || ch == '\'')) {
			if (len < sizeof(word) - 1)
				word[len++] = (char)(lower ? tolower(ch) : ch);
			continue;
		}
		if (len > 0) {
			word[len] = '\0';
			len = 0;
			if (add(c, word) < 0) {
				fclose(f);
				return kiln_fail(ctx, "out of memory");
			}
		}
	} while (ch != EOF);
	fclose(f);
	return 0;
}

/* Most frequent first; ties in byte order, so the output is deterministic. */
static int
bycount(const void *a, const void *b)
{
	const struct word *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->text, y->text);
}

static int
write_top(kiln_ctx *ctx, const struct counts *c, long top)
{
	char path[4096];
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/top.csv", kiln_output_dir(ctx));
	f = fopen(path, "w");
	if (!f)
		return kiln_fail(ctx, "cannot write %s: %s", path, strerror(errno));
	fprintf(f, "word,count\n");
	for (i = 0; i < c->n && (long)i < top; i++)
		fprintf(f, "%s,%ld\n", c->w[i].text, c->w[i].count);
	if (fclose(f) != 0)
		return kiln_fail(ctx, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* Runs in kiln-run, in the sandbox: the inputs are there, the output folder is empty. */
static int
run(kiln_ctx *ctx)
{
	struct counts c = {0};
	long top = (long)kiln_param_int(ctx, "top", 10);
	int lower = kiln_param_bool(ctx, "lowercase", 1), r = 0;
	size_t i, n = kiln_ninputs(ctx);

	for (i = 0; i < n && r == 0; i++) {
		r = count_file(ctx, &c, kiln_input_path(ctx, i), lower);
		kiln_progress(ctx, (double)(i + 1), (double)n, "file");
	}
	if (r == 0) {
		qsort(c.w, c.n, sizeof(*c.w), bycount);
		kiln_log(ctx, "%ld words, %zu distinct, in %zu files", c.total, c.n, n);
		kiln_metric(ctx, "distinct_words", (double)c.n);
		r = write_top(ctx, &c, top);
	}
	for (i = 0; i < c.n; i++)
		free(c.w[i].text);
	free(c.w);
	return r;
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "wordcount",
	.version = "1.0",
	.summary = "counts the words of text inputs; writes the most frequent as CSV",
	.check = check,
	.run = run,
};
