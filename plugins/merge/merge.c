/*
 * The merge plugin: the join and concat rules. Both stream their CSV
 * inputs through the same parser as validate (plugins/lib/csv.c), row by
 * row, and write data.csv as they go.
 *
 * join holds one thing in memory: the right side's rows, in a hash table
 * keyed by the join column (its bytes, plus about 48 bytes a row). The
 * left side streams, so a 5 GB left table joined with a 50 MB right one
 * needs about 100 MB, whatever the left's size. A right side over
 * max_memory (default 1 GiB) fails, saying to put the larger table on the
 * left. concat holds one row at a time.
 */
#include <errno.h>
#include <kiln/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../lib/csv.h"
#include "../lib/param.h"
#include "../lib/util.h"

/* One right-side row: its key and its other fields, in one allocation. */
struct entry {
	char *key;		/* NULL: an empty slot */
	char **fields;		/* the right's fields but the key, in header order */
	size_t rowno;		/* its row, for the duplicate-key message */
};

struct join {
	kiln_ctx *ctx;
	const char *path;	/* the side being read */
	int inner;		/* how = "inner", else "left" */
	const char *on;
	long key;		/* the key's column on the side being read */
	long rkey;		/* the key's column on the right */
	struct entry *tab;	/* open addressing, a power of two slots */
	size_t cap, n;
	size_t bytes, max_bytes;
	char **rhead;		/* the right's header */
	size_t rcols;
	char **out;		/* the row being written */
	FILE *f;
	size_t rows, matched;
};

/* FNV-1a: enough for strings the table holds, with the size a power of two. */
static size_t
hash(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct entry *
slot(struct join *j, const char *key)
{
	size_t i = hash(key) & (j->cap - 1);

	while (j->tab[i].key && strcmp(j->tab[i].key, key) != 0)
		i = (i + 1) & (j->cap - 1);
	return &j->tab[i];
}

static void
grow(struct join *j)
{
	struct entry *old = j->tab;
	size_t i, n = j->cap;

	j->cap = n ? 2 * n : 1024;
	j->tab = kp_xcalloc(j->cap, sizeof(*j->tab));
	for (i = 0; i < n; i++)
		if (old[i].key)
			*slot(j, old[i].key) = old[i];
	free(old);
}

/* A copy of a row the reader hands over (it reuses its own). */
static char **
copy_row(char **fields, size_t n)
{
	char **v = kp_xmallocarray(n, sizeof(char *));
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = kp_xstrdup(fields[i]);
	return v;
}

static long
column(char **fields, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(fields[i], name) == 0)
			return (long)i;
	return -1;
}

/* "a, b, c" for a message (at most 8 names). */
static void
names(char *buf, size_t len, char **fields, size_t n)
{
	size_t i, at = 0;

	buf[0] = '\0';
	for (i = 0; i < n && i < 8 && at < len; i++)
		at += snprintf(buf + at, len - at, "%s%s", i ? ", " : "", fields[i]);
	if (n > 8 && at < len)
		snprintf(buf + at, len - at, ", …");
}

static int
no_key(struct join *j, char **fields, size_t n, char *err)
{
	char cols[256];

	names(cols, sizeof(cols), fields, n);
	return kp_errf(err, "%s: no column '%s' to join on (its columns: %s)", j->path, j->on, cols);
}

/* The right side, row by row, into the table. */
static int
right_row(void *arg, size_t rowno, char **fields, size_t n, char *err)
{
	struct join *j = arg;
	struct entry *e;
	size_t i, k = 0;

	if (rowno == 0) {
		if ((j->key = column(fields, n, j->on)) < 0)
			return no_key(j, fields, n, err);
		j->rkey = j->key;
		j->rhead = copy_row(fields, n);
		j->rcols = n;
		return 0;
	}
	if (2 * (j->n + 1) > j->cap)
		grow(j);
	e = slot(j, fields[j->key]);
	if (e->key)
		return kp_errf(err, "%s: the key '%s' = '%s' is on rows %zu and %zu; the right side of a join must "
			"have each key once", j->path, j->on, fields[j->key], e->rowno, rowno);
	for (i = 0, k = sizeof(*e) * 2 + n * sizeof(char *); i < n; i++)
		k += strlen(fields[i]) + 1 + 16;
	if (j->bytes + k > j->max_bytes)
		return kp_errf(err, "%s: the right side of the join needs more than max_memory (%zu MiB) in memory "
			"at row %zu; put the larger table on the left, which streams, or raise max_memory", j->path,
			j->max_bytes >> 20, rowno);
	j->bytes += k;
	e->key = kp_xstrdup(fields[j->key]);
	e->rowno = rowno;
	e->fields = kp_xmallocarray(n, sizeof(char *));
	for (i = 0, k = 0; i < n; i++)
		if ((long)i != j->key)
			e->fields[k++] = kp_xstrdup(fields[i]);
	j->n++;
	return 0;
}

/* The left side, row by row, joined and written. */
static int
left_row(void *arg, size_t rowno, char **fields, size_t n, char *err)
{
	struct join *j = arg;
	size_t i, r, k = n;
	struct entry *e = NULL;

	if (rowno == 0) {
		if ((j->key = column(fields, n, j->on)) < 0)
			return no_key(j, fields, n, err);
		for (i = 0; i < j->rcols; i++)
			if ((long)i != j->rkey && column(fields, n, j->rhead[i]) >= 0)
				return kp_errf(err, "column '%s' is on both sides of the join (%s and the right); "
					"rename one", j->rhead[i], j->path);
		j->out = kp_xmallocarray(n + j->rcols, sizeof(char *));
		e = NULL;
	} else {
		j->rows++;
		if (j->cap)
			e = slot(j, fields[j->key]);
		if (e && !e->key)
			e = NULL;
		if (!e && j->inner)
			return 0;
		j->matched += e != NULL;
	}
	memcpy(j->out, fields, n * sizeof(char *));
	for (i = 0, r = 0; i < j->rcols; i++) {
		if ((long)i == j->rkey)
			continue;
		j->out[k++] = rowno == 0 ? j->rhead[i] : e ? e->fields[r] : "";
		r++;
	}
	if (kp_csv_write_row(j->f, j->out, k, ',') < 0)
		return kp_errf(err, "data.csv: %s", strerror(errno));
	return 0;
}

/* Free the right side: the table, its strings, its header. */
static void
join_release(struct join *j)
{
	size_t i, k;

	for (i = 0; i < j->cap; i++) {
		struct entry *e = &j->tab[i];

		if (!e->key)
			continue;
		for (k = 0; k + 1 < j->rcols; k++)
			free(e->fields[k]);
		free(e->fields);
		free(e->key);
	}
	free(j->tab);
	for (i = 0; j->rhead && i < j->rcols; i++)
		free(j->rhead[i]);
	free(j->rhead);
	free(j->out);
}

static FILE *
open_out(kiln_ctx *ctx)
{
	char *path = kp_join(kiln_output_dir(ctx), "data.csv");
	FILE *f = fopen(path, "w");

	if (!f)
		kiln_fail(ctx, "%s: %s", path, strerror(errno));
	free(path);
	return f;
}

/* Peak memory, in the log: what the docs' bound is checked against. */
static void
log_memory(kiln_ctx *ctx)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		kiln_log(ctx, "peak memory: %ld KiB", ru.ru_maxrss);
}

static int
finish(kiln_ctx *ctx, FILE *f, int rc, const char *err)
{
	if (fclose(f) != 0 && rc == 0)
		return kiln_fail(ctx, "data.csv: %s", strerror(errno));
	log_memory(ctx);
	return rc < 0 ? kiln_fail(ctx, "%s", err) : 0;
}

static int
join(kiln_ctx *ctx)
{
	struct join j = { .ctx = ctx };
	char err[KP_ERRLEN], *left = kp_csv_path(kiln_input(ctx, "left")), *right = kp_csv_path(kiln_input(ctx, "right"));
	int rc;

	j.on = kiln_param_string(ctx, "on", "");
	j.inner = strcmp(kiln_param_string(ctx, "how", "inner"), "inner") == 0;
	j.max_bytes = (size_t)kiln_param_int(ctx, "max_memory", 1LL << 30);
	j.f = open_out(ctx);
	if (!j.f) {
		free(left);
		free(right);
		return -1;
	}
	j.path = right;
	rc = kp_csv_stream(right, ',', right_row, &j, err);
	if (rc == 0) {
		j.path = left;
		rc = kp_csv_stream(left, ',', left_row, &j, err);
	}
	if (rc == 0) {
		kiln_metric(ctx, "rows", (double)j.rows);
		kiln_metric(ctx, "matched", (double)j.matched);
		kiln_log(ctx, "%zu left rows, %zu matched one of %zu right rows", j.rows, j.matched, j.n);
	}
	join_release(&j);
	free(left);
	free(right);
	return finish(ctx, j.f, rc, err);
}

/* concat: every part's rows under the first part's header. */
struct concat {
	const char *first;	/* the first part's path */
	const char *path;	/* the part being read */
	char **head;		/* the first part's header */
	size_t ncols;
	FILE *f;
	size_t rows;
};

static int
part_row(void *arg, size_t rowno, char **fields, size_t n, char *err)
{
	struct concat *c = arg;
	size_t i;

	if (rowno == 0 && !c->head) {
		c->head = copy_row(fields, n);
		c->ncols = n;
		return kp_csv_write_row(c->f, fields, n, ',') < 0 ? kp_errf(err, "data.csv: %s", strerror(errno)) : 0;
	}
	if (rowno == 0) {
		for (i = 0; i < n && i < c->ncols; i++)
			if (strcmp(fields[i], c->head[i]) != 0)
				return kp_errf(err, "%s: column %zu is '%s' where %s has '%s'; the parts of a concat must have "
					"the same columns in the same order", c->path, i + 1, fields[i], c->first, c->head[i]);
		if (n != c->ncols)
			return kp_errf(err, "%s: %zu columns where %s has %zu; column %zu is '%s' in one and missing in the "
				"other", c->path, n, c->first, c->ncols, i + 1, n > c->ncols ? fields[i] : c->head[i]);
		return 0;
	}
	c->rows++;
	return kp_csv_write_row(c->f, fields, n, ',') < 0 ? kp_errf(err, "data.csv: %s", strerror(errno)) : 0;
}

static int
concat(kiln_ctx *ctx)
{
	struct concat c = { 0 };
	char err[KP_ERRLEN];
	size_t i;
	int rc = 0;

	c.f = open_out(ctx);
	if (!c.f)
		return -1;
	/* The inputs come sorted by name: part0001, part0002, … in the order the rule lists them. */
	for (i = 0; i < kiln_ninputs(ctx) && rc == 0; i++) {
		char *path = kp_csv_path(kiln_input_path(ctx, i));

		c.path = path;
		if (!c.first)
			c.first = kp_xstrdup(path);
		rc = kp_csv_stream(path, ',', part_row, &c, err);
		free(path);
	}
	if (rc == 0) {
		kiln_metric(ctx, "rows", (double)c.rows);
		kiln_log(ctx, "%zu rows from %zu parts", c.rows, kiln_ninputs(ctx));
	}
	for (i = 0; c.head && i < c.ncols; i++)
		free(c.head[i]);
	free(c.head);
	free((char *)c.first);
	return finish(ctx, c.f, rc, err);
}

static int
check(kiln_ctx *ctx)
{
	static const char *const known[] = { "mode", "on", "how", "max_memory", NULL };
	const char *mode = kiln_param_string(ctx, "mode", "");

	if (kp_known(ctx, known) < 0)
		return -1;
	if (strcmp(mode, "concat") == 0)
		return kiln_ninputs(ctx) ? 0 : kiln_fail(ctx, "concat needs at least one part");
	if (strcmp(mode, "join") != 0)
		return kiln_fail(ctx, "param 'mode': expected \"join\" or \"concat\"");
	if (!kiln_input(ctx, "left") || !kiln_input(ctx, "right"))
		return kiln_fail(ctx, "join needs inputs 'left' and 'right'");
	if (!*kiln_param_string(ctx, "on", ""))
		return kiln_fail(ctx, "param 'on': expected the name of the key column");
	if (strcmp(kiln_param_string(ctx, "how", "inner"), "inner") != 0 &&
	    strcmp(kiln_param_string(ctx, "how", "inner"), "left") != 0)
		return kiln_fail(ctx, "param 'how': expected \"inner\" or \"left\"");
	if (kiln_param_int(ctx, "max_memory", 1LL << 30) < (1LL << 20))
		return kiln_fail(ctx, "param 'max_memory': expected at least 1 MiB (a number of bytes)");
	return 0;
}

static int
run(kiln_ctx *ctx)
{
	if (check(ctx) < 0)
		return -1;
	return strcmp(kiln_param_string(ctx, "mode", ""), "join") == 0 ? join(ctx) : concat(ctx);
}

KILN_PLUGIN_EXPORT = {
	.abi = KILN_PLUGIN_ABI,
	.name = "merge",
	.version = "1.0",
	.summary = "joins two CSV tables on a key, or concatenates CSV tables with the same columns; streaming",
	.check = check,
	.run = run,
};
