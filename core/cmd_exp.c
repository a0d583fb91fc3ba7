/*
 * cmd_exp: comparing experiments — across the run history (.kiln/history)
 * and across git revisions (Kilnfile.lock); see cmd_exp.h.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <csv.h>
#include <jansson.h>

#include "cmd.h"
#include "cmd_exp.h"
#include "git.h"
#include "history.h"
#include "lock.h"
#include "map.h"
#include "paths.h"
#include "workspace.h"

#define SHOWN 28	/* the widest a value of a table is shown */

/* Shared: values and flat objects. */

/* v as a table shows it (malloc'd): a number in %g, a string as it is, anything else as JSON. */
static char *
shown(const json_t *v)
{
	if (!v)
		return xstrdup("-");
	if (json_is_number(v))
		return xasprintf("%.6g", json_number_value(v));
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
}

/* Do two values differ? (NULL: absent) */
static int
differ(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a != b;
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) != json_number_value(b);
	return !json_equal((json_t *)a, (json_t *)b);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of the objects a and b (either may be NULL), sorted and once each (malloc'd; *n their count). */
static const char **
union_keys(json_t *a, json_t *b, size_t *n)
{
	json_t *all = json_object();
	const char **keys, *k;
	json_t *v;
	size_t i = 0;

	if (a)
		json_object_update(all, a);
	if (b)
		json_object_update(all, b);
	keys = xreallocarray(NULL, json_object_size(all) + 1, sizeof(*keys));
	json_object_foreach(all, k, v)
		keys[i++] = k;
	sort(keys, i, sizeof(*keys), cmp_str);
	*n = i;
	/* The keys live in a and b too; all can go once they are copied. */
	for (i = 0; i < *n; i++)
		keys[i] = xstrdup(keys[i]);
	json_decref(all);
	return keys;
}

static void
free_keys(const char **keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)keys[i]);
	free(keys);
}

/* exp show: one row per (run, target). */

struct row {
	const struct kiln_run *run;
	const struct kiln_run_target *t;
	size_t order;
};

/* A param column: its first value, and whether any row differs from it (or lacks it). */
struct col {
	const char *name;
	const char *first;
	size_t count;
	int differs;
};

struct show {
	struct row *rows;
	size_t n;
	char **names;		/* TARGET filters */
	size_t nnames;
	const char *sort;	/* a metric, or NULL */
	int desc, all, json, csv;
};

static int
wanted(const struct show *s, const char *target)
{
	size_t i;

	for (i = 0; i < s->nnames; i++)
		if (strcmp(s->names[i], target) == 0)
			return 1;
	return s->nnames == 0;
}

static void
collect(struct show *s, const struct kiln_history *h)
{
	size_t i, k;

	for (i = 0; i < h->n; i++) {
		for (k = 0; k < h->runs[i].ntargets; k++) {
			if (!wanted(s, h->runs[i].targets[k].name))
				continue;
			if (!(s->n & (s->n + 1)))
				s->rows = xreallocarray(s->rows, 2 * s->n + 1, sizeof(*s->rows));
			s->rows[s->n] = (struct row){&h->runs[i], &h->runs[i].targets[k], s->n};
			s->n++;
		}
	}
}

static const struct kiln_metric *
metric(const struct kiln_run_target *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nmetrics; i++)
		if (strcmp(t->metrics[i].name, name) == 0)
			return &t->metrics[i];
	return NULL;
}

static const char *
param(const struct kiln_run_target *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nparams; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return t->params[i].json;
	return NULL;
}

static const char *sort_metric;
static int sort_desc;

/* By the metric (rows without it last), then in history order. */
static int
cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	const struct kiln_metric *mx = metric(x->t, sort_metric), *my = metric(y->t, sort_metric);

	if (!mx || !my) {
		if (mx || my)
			return mx ? -1 : 1;
	} else if (mx->value != my->value) {
		return (mx->value < my->value) == !sort_desc ? -1 : 1;
	}
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
cmp_col(const void *a, const void *b)
{
	return strcmp((*(struct col *const *)a)->name, (*(struct col *const *)b)->name);
}

/*
 * The params worth a column: those whose value is not the same in every
 * row (all of them with --all), sorted; *n their count. The columns live in
 * arena a.
 */
static struct col **
param_columns(const struct show *s, struct arena *a, size_t *n)
{
	struct map cols = MAP_INIT;
	struct col **list = NULL, *c;
	size_t i, k, len = 0;

	for (i = 0; i < s->n; i++) {
		const struct kiln_run_target *t = s->rows[i].t;

		for (k = 0; k < t->nparams; k++) {
			c = map_get(&cols, t->params[k].name);
			if (!c) {
				c = arena_alloc(a, sizeof(*c));
				*c = (struct col){t->params[k].name, t->params[k].json, 0, 0};
				map_put(&cols, c->name, c);
				list = xreallocarray(list, len + 1, sizeof(*list));
				list[len++] = c;
			}
			c->count++;
			c->differs |= strcmp(c->first, t->params[k].json) != 0;
		}
	}
	map_release(&cols);
	for (i = k = 0; i < len; i++)
		if (s->all || list[i]->differs || list[i]->count < s->n)
			list[k++] = list[i];
	sort(list, k, sizeof(*list), cmp_col);
	*n = k;
	return list;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every metric's name, once, sorted (the names point into the history). */
static const char **
metric_columns(const struct show *s, size_t *n)
{
	struct map seen = MAP_INIT;
	const char **list = NULL;
	size_t i, k, len = 0;

	for (i = 0; i < s->n; i++) {
		const struct kiln_run_target *t = s->rows[i].t;

		for (k = 0; k < t->nmetrics; k++) {
			if (map_get(&seen, t->metrics[k].name))
				continue;
			map_put(&seen, t->metrics[k].name, (void *)1);
			list = xreallocarray(list, len + 1, sizeof(*list));
			list[len++] = t->metrics[k].name;
		}
	}
	map_release(&seen);
	sort(list, len, sizeof(*list), cmp_name);
	*n = len;
	return list;
}

/* A param's JSON as a table shows it (malloc'd): a string without its quotes, a number in %g. */
static char *
shown_json(const char *json)
{
	char *end;
	double v;
	json_t *j;
	char *s;

	if (!json)
		return xstrdup("-");
	v = strtod(json, &end);
	if (end != json && !*end)
		return xasprintf("%.6g", v);
	if (json[0] != '"' || !(j = json_loads(json, JSON_DECODE_ANY, NULL)))
		return xstrdup(json);
	s = xstrdup(json_string_value(j) ? json_string_value(j) : json);
	json_decref(j);
	return s;
}

/* The cells of row r: run, target, commit, params, metrics (malloc'd each). */
static char **
cells(const struct row *r, struct col **pc, size_t np, const char **mc, size_t nm)
{
	char **c = xreallocarray(NULL, 3 + np + nm, sizeof(*c));
	size_t i;

	c[0] = xasprintf("%lld", r->run->id);
	c[1] = xstrdup(r->t->name);
	c[2] = *r->run->commit ? xasprintf("%.7s%s", r->run->commit, r->run->dirty ? "*" : "") : xstrdup("-");
	for (i = 0; i < np; i++)
		c[3 + i] = shown_json(param(r->t, pc[i]->name));
	for (i = 0; i < nm; i++) {
		const struct kiln_metric *m = metric(r->t, mc[i]);

		c[3 + np + i] = m ? xasprintf("%.6g", m->value) : xstrdup("-");
	}
	return c;
}

static void
csv_row(char **c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			putchar(',');
		csv_fwrite(stdout, c[i], strlen(c[i]));
	}
	putchar('\n');
}

static int
width(const char *s)
{
	size_t n = strlen(s);

	return n < SHOWN ? (int)n : SHOWN;
}

/* The table (or CSV): a header, then one line per row. */
static void
print_table(const struct show *s)
{
	struct arena a = {0};
	size_t np, nm, i, k, ncol;
	struct col **pc = param_columns(s, &a, &np);
	const char **mc = metric_columns(s, &nm);
	char ***rows = xreallocarray(NULL, s->n + 1, sizeof(*rows)), **head;
	int *w;

	ncol = 3 + np + nm;
	head = xreallocarray(NULL, ncol, sizeof(*head));
	head[0] = "RUN";
	head[1] = "TARGET";
	head[2] = "COMMIT";
	for (i = 0; i < np; i++)
		head[3 + i] = (char *)pc[i]->name;
	for (i = 0; i < nm; i++)
		head[3 + np + i] = (char *)mc[i];
	w = xcalloc(ncol, sizeof(*w));
	for (k = 0; k < ncol; k++)
		w[k] = width(head[k]);
	for (i = 0; i < s->n; i++) {
		rows[i] = cells(&s->rows[i], pc, np, mc, nm);
		for (k = 0; k < ncol; k++)
			if (width(rows[i][k]) > w[k])
				w[k] = width(rows[i][k]);
	}
	for (i = 0; i <= s->n; i++) {
		char **c = i ? rows[i - 1] : head;

		if (s->csv)
			csv_row(c, ncol);
		for (k = 0; !s->csv && k < ncol; k++)
			printf("%-*.*s%s", k + 1 < ncol ? w[k] : 0, SHOWN, c[k], k + 1 < ncol ? "  " : "\n");
		for (k = 0; i && k < ncol; k++)
			free(c[k]);
		if (i)
			free(c);
	}
	free(rows);
	free(head);
	free(w);
	free(pc);
	free(mc);
	arena_release(&a);
}

/* s as a JSON string. */
static void
put_str(const char *s)
{
	json_t *j = json_string(s);

	if (j)
		json_dumpf(j, stdout, JSON_ENCODE_ANY);
	else
		fputs("null", stdout);
	json_decref(j);
}

static void
put_number(double v)
{
	if (isfinite(v))
		printf("%.17g", v);
	else
		fputs("null", stdout);
}

/* One row as a JSON object, on one line: the params as they were recorded. */
static void
print_json_row(const struct row *r)
{
	size_t i;

	printf("{\"run\": %lld, \"target\": ", r->run->id);
	put_str(r->t->name);
	fputs(", \"start\": ", stdout);
	put_str(r->run->start);
	fputs(", \"status\": ", stdout);
	put_str(r->t->status);
	if (*r->run->commit) {
		fputs(", \"git\": {\"commit\": ", stdout);
		put_str(r->run->commit);
		printf(", \"dirty\": %s}", r->run->dirty ? "true" : "false");
	}
	fputs(", \"overrides\": [", stdout);
	for (i = 0; i < r->run->noverrides; i++) {
		if (i)
			fputs(", ", stdout);
		put_str(r->run->overrides[i]);
	}
	fputs("], \"key\": ", stdout);
	put_str(r->t->key);
	/* Written by kiln with jansson and checksummed: it is JSON. */
	printf(", \"params\": %s, \"metrics\": {", *r->t->params_json ? r->t->params_json : "{}");
	for (i = 0; i < r->t->nmetrics; i++) {
		if (i)
			fputs(", ", stdout);
		put_str(r->t->metrics[i].name);
		fputs(": ", stdout);
		put_number(r->t->metrics[i].value);
	}
	fputs("}}", stdout);
}

static void
print_json(const struct show *s)
{
	size_t i;

	fputs("[", stdout);
	for (i = 0; i < s->n; i++) {
		fputs(i ? ",\n  " : "\n  ", stdout);
		print_json_row(&s->rows[i]);
	}
	fputs(s->n ? "\n]\n" : "]\n", stdout);
}

/* Read the history; in a workspace only, so that a typo of -C says so. */
static int
open_history(struct kiln_history *h)
{
	if (access(KILN_FILE, F_OK) < 0)
		return error("no " KILN_FILE " in the current folder (use -C DIR)");
	if (kiln_history_load(h, KILN_HISTORY_PATH) < 0) {
		kiln_history_release(h);
		return -1;
	}
	if (h->dropped)
		warn(KILN_HISTORY_PATH ": %zu bytes of a torn or damaged record at its end were left out "
		    "(a build was killed while writing it); the next build cuts them off", h->dropped);
	return 0;
}

static int
exp_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"sort", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'J'},
		{"csv", no_argument, NULL, 'C'},
		{"all", no_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	struct show s = {0};
	struct kiln_history h;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			s.sort = optarg;
		else if (c == 'J')
			s.json = 1;
		else if (c == 'C')
			s.csv = 1;
		else if (c == 'a')
			s.all = 1;
		else
			return KILN_CMD_USAGE;
	}
	if (s.json && s.csv)
		return error("exp show: --json or --csv, not both"), 2;
	s.names = argv + optind;
	s.nnames = argc - optind;
	if (open_history(&h) < 0)
		return 2;
	collect(&s, &h);
	if (s.sort) {
		sort_desc = s.sort[0] == '-';
		sort_metric = s.sort + sort_desc;
		qsort(s.rows, s.n, sizeof(*s.rows), cmp_row);
	}
	if (s.json)
		print_json(&s);
	else if (s.n)
		print_table(&s);
	else
		printf("kiln: no runs recorded%s yet (a build that runs or restores a target with metrics records one)\n",
		    s.nnames ? " for these targets" : "");
	free(s.rows);
	kiln_history_release(&h);
	return 0;
}

/* exp diff A B. */

static const struct kiln_run_target *
target_entry(const struct kiln_run *run, const char *name)
{
	size_t i;

	for (i = 0; i < run->ntargets; i++)
		if (strcmp(run->targets[i].name, name) == 0)
			return &run->targets[i];
	return NULL;
}

/* A target's params and metrics as flat JSON objects, for comparing. */
static void
target_objects(const struct kiln_run_target *t, json_t **params, json_t **metrics)
{
	size_t i;

	*params = json_object();
	*metrics = json_object();
	for (i = 0; i < t->nparams; i++) {
		json_t *v = json_loads(t->params[i].json, JSON_DECODE_ANY, NULL);

		json_object_set_new(*params, t->params[i].name, v ? v : json_string(t->params[i].json));
	}
	for (i = 0; i < t->nmetrics; i++)
		json_object_set_new(*metrics, t->metrics[i].name, json_real(t->metrics[i].value));
}

/* One change: a line of text, or an object of the --json array. */
static void
change(json_t *out, const char *target, const char *kind, const char *name, json_t *a, json_t *b)
{
	char *sa, *sb;

	if (out) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "target", target, "kind", kind, "name", name);

		json_object_set(o, "a", a ? a : json_null());
		json_object_set(o, "b", b ? b : json_null());
		if (json_is_number(a) && json_is_number(b))
			json_object_set_new(o, "change", json_real(json_number_value(b) - json_number_value(a)));
		json_array_append_new(out, o);
		return;
	}
	if (!a && !b) {
		printf("  %-20s %-6s %s\n", target, kind, name);
		return;
	}
	sa = shown(a);
	sb = shown(b);
	printf("  %-20s %-6s %-24s %s -> %s", target, kind, name, sa, sb);
	if (json_is_number(a) && json_is_number(b))
		printf(" (%+.6g)", json_number_value(b) - json_number_value(a));
	putchar('\n');
	free(sa);
	free(sb);
}

/* The changes of one object (params or metrics) of a target between two runs. */
static size_t
diff_objects(json_t *out, const char *target, const char *kind, json_t *a, json_t *b)
{
	size_t n, i, changed = 0;
	const char **keys = union_keys(a, b, &n);

	for (i = 0; i < n; i++) {
		json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);

		if (differ(x, y)) {
			change(out, target, kind, keys[i], x, y);
			changed++;
		}
	}
	free_keys(keys, n);
	return changed;
}

/* The targets of two runs, by name, once each, sorted (malloc'd). */
static const char **
target_names(const struct kiln_run *a, const struct kiln_run *b, size_t *n)
{
	const char **names = xreallocarray(NULL, a->ntargets + b->ntargets + 1, sizeof(*names));
	size_t i, k = 0;

	for (i = 0; i < a->ntargets; i++)
		names[k++] = a->targets[i].name;
	for (i = 0; i < b->ntargets; i++)
		if (!target_entry(a, b->targets[i].name))
			names[k++] = b->targets[i].name;
	sort(names, k, sizeof(*names), cmp_name);
	*n = k;
	return names;
}

static size_t
diff_runs(json_t *out, const struct kiln_run *ra, const struct kiln_run *rb)
{
	size_t n, i, changed = 0;
	const char **names = target_names(ra, rb, &n);

	for (i = 0; i < n; i++) {
		const struct kiln_run_target *a = target_entry(ra, names[i]), *b = target_entry(rb, names[i]);
		json_t *pa, *pb, *ma, *mb;

		if (!a || !b) {
			/* A run records only what it ran or restored: the other side is not known. */
			change(out, names[i], "target", a ? "only in the first run" : "only in the second run", NULL, NULL);
			continue;
		}
		target_objects(a, &pa, &ma);
		target_objects(b, &pb, &mb);
		changed += diff_objects(out, names[i], "param", pa, pb);
		changed += diff_objects(out, names[i], "metric", ma, mb);
		json_decref(pa);
		json_decref(pb);
		json_decref(ma);
		json_decref(mb);
	}
	free(names);
	return changed;
}

/* A run id as the user wrote it: a number. */
static const struct kiln_run *
find_run(const struct kiln_history *h, const char *s)
{
	const struct kiln_run *r;
	char *end;
	long long id;

	errno = 0;
	id = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return error("exp diff: '%s' is not a run id (see kiln exp show)", s), NULL;
	r = kiln_history_find(h, id);
	if (!r)
		error("exp diff: no run %lld in " KILN_HISTORY_PATH " (see kiln exp show)", id);
	return r;
}

static int
exp_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},
		{NULL, 0, NULL, 0},
	};
	const struct kiln_run *a, *b;
	struct kiln_history h;
	json_t *out = NULL;
	int c, json = 0;
	size_t n;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'J')
			return KILN_CMD_USAGE;
		json = 1;
	}
	if (argc - optind != 2)
		return KILN_CMD_USAGE;
	if (open_history(&h) < 0)
		return 2;
	a = find_run(&h, argv[optind]);
	b = a ? find_run(&h, argv[optind + 1]) : NULL;
	if (!a || !b) {
		kiln_history_release(&h);
		return 2;
	}
	if (json)
		out = json_array();
	else
		printf("run %lld -> run %lld\n", a->id, b->id);
	n = diff_runs(out, a, b);
	if (json) {
		json_t *doc = json_pack("{s:I, s:I, s:o}", "a", (json_int_t)a->id, "b", (json_int_t)b->id, "changes", out);

		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		putchar('\n');
		json_decref(doc);
	} else if (!n) {
		printf("  no param or metric changed\n");
	}
	kiln_history_release(&h);
	return 0;
}

static int
exp_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"keep", required_argument, NULL, 'k'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_workspace ws;
	long long removed;
	int c, keep = 100;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'k')
			return KILN_CMD_USAGE;
		if (kiln_cmd_parse_int(optarg, 0, &keep) < 0)
			return error("--keep: expected a number of runs, got '%s'", optarg), 2;
	}
	if (optind != argc)
		return KILN_CMD_USAGE;
	/* The workspace lock: no build appends while the file is rewritten. */
	if (kiln_cmd_open(&ws, 1, NULL) < 0)
		return 2;
	removed = kiln_history_keep(KILN_HISTORY_PATH, keep);
	kiln_workspace_close(&ws);
	if (removed < 0)
		return 1;
	printf("kiln: removed %lld run%s from the history, kept the last %d at most\n", removed,
	    removed == 1 ? "" : "s", keep);
	return 0;
}

int
kiln_cmd_exp(int argc, char **argv)
{
	if (argc < 2)
		return KILN_CMD_USAGE;
	if (strcmp(argv[1], "show") == 0)
		return exp_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "diff") == 0)
		return exp_diff(argc - 1, argv + 1);
	if (strcmp(argv[1], "gc") == 0)
		return exp_gc(argc - 1, argv + 1);
	return KILN_CMD_USAGE;
}

/* Across git revisions: the workspace's Kilnfile.lock against one at REV. */

/* The lock's entries of one kind as an object: target -> {name -> value}. */
static json_t *
by_target(const struct kiln_lockfile *lf, int kind)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < lf->n; i++) {
		const struct kiln_lock_entry *e = &lf->v[i];
		json_t *t, *v;

		if (e->kind != kind)
			continue;
		t = json_object_get(o, e->target);
		if (!t) {
			t = json_object();
			json_object_set_new(o, e->target, t);
		}
		v = e->number ? json_real(e->value) : json_loads(e->text ? e->text : "null", JSON_DECODE_ANY, NULL);
		json_object_set_new(t, e->name, v ? v : json_string(e->text ? e->text : ""));
	}
	return o;
}

/* Both sides: the lock at rev (old) and the workspace's as the state says it now (new). */
static int
load_sides(const char *rev, int kind, json_t **old, json_t **new)
{
	struct kiln_lockfile a, b;
	struct kiln_workspace ws;
	struct buf text = BUF_INIT;
	size_t len;
	char *at;

	if (kiln_cmd_open(&ws, 0, NULL) < 0)
		return -1;
	kiln_lock_text(&ws.graph, &ws.state, &text);
	kiln_workspace_close(&ws);
	at = kiln_git_show(rev, KILN_LOCKFILE, &len);
	if (!at) {
		buf_release(&text);
		return -1;
	}
	if (kiln_lock_parse(&a, at, len) < 0) {
		free(at);
		buf_release(&text);
		return error("%s:" KILN_LOCKFILE " is not a Kilnfile.lock", rev);
	}
	free(at);
	kiln_lock_parse(&b, text.s ? text.s : "", text.len);
	buf_release(&text);
	*old = by_target(&a, kind);
	*new = by_target(&b, kind);
	kiln_lockfile_release(&a);
	kiln_lockfile_release(&b);
	return 0;
}

/* One line of a revision diff, or an object of its --json array. */
static void
rev_line(json_t *out, const char *target, const char *name, json_t *a, json_t *b)
{
	char *sa, *sb, ch[40] = "";

	if (json_is_number(a) && json_is_number(b))
		snprintf(ch, sizeof(ch), "%+.6g", json_number_value(b) - json_number_value(a));
	else
		snprintf(ch, sizeof(ch), "%s", !a ? "added" : !b ? "removed" : differ(a, b) ? "changed" : "");
	if (out) {
		json_t *o = json_pack("{s:s, s:s}", "target", target, "name", name);

		json_object_set(o, "old", a ? a : json_null());
		json_object_set(o, "new", b ? b : json_null());
		if (json_is_number(a) && json_is_number(b))
			json_object_set_new(o, "change", json_real(json_number_value(b) - json_number_value(a)));
		json_array_append_new(out, o);
		return;
	}
	sa = shown(a);
	sb = shown(b);
	printf("%-24s %-24s %-14.*s %-14.*s %s\n", target, name, SHOWN, sa, SHOWN, sb, ch);
	free(sa);
	free(sb);
}

static size_t
rev_diff(json_t *out, json_t *old, json_t *new, int all, const char *rev)
{
	size_t nt, nk, i, k, lines = 0;
	const char **targets = union_keys(old, new, &nt);

	for (i = 0; i < nt; i++) {
		json_t *a = json_object_get(old, targets[i]), *b = json_object_get(new, targets[i]);
		const char **keys = union_keys(a, b, &nk);

		for (k = 0; k < nk; k++) {
			json_t *x = json_object_get(a, keys[k]), *y = json_object_get(b, keys[k]);

			if (!all && !differ(x, y))
				continue;
			if (!out && !lines)
				printf("%-24s %-24s %-14s %-14s %s\n", "TARGET", "NAME", rev, "WORKSPACE", "CHANGE");
			rev_line(out, targets[i], keys[k], x, y);
			lines++;
		}
		free_keys(keys, nk);
	}
	free_keys(targets, nt);
	return lines;
}

/* metrics diff / params diff [REV] [--all] [--json]. */
static int
rev_command(int argc, char **argv, int kind, const char *what)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},
		{"all", no_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *rev = "HEAD";
	json_t *old, *new, *out = NULL;
	int c, json = 0, all = 0;
	size_t n;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'J')
			json = 1;
		else if (c == 'a')
			all = 1;
		else
			return KILN_CMD_USAGE;
	}
	if (argc - optind > 1)
		return KILN_CMD_USAGE;
	if (optind < argc)
		rev = argv[optind];
	if (load_sides(rev, kind, &old, &new) < 0)
		return 2;
	if (json)
		out = json_array();
	n = rev_diff(out, old, new, all, rev);
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		putchar('\n');
		json_decref(out);
	} else if (!n) {
		printf("kiln: no %s changed since %s\n", what, rev);
	}
	json_decref(old);
	json_decref(new);
	return 0;
}

int
kiln_cmd_params(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "diff") != 0)
		return KILN_CMD_USAGE;
	return rev_command(argc - 1, argv + 1, KILN_LOCK_PARAM, "param");
}

/* metrics [TARGET...] [--json]: what the targets recorded when last built. */

static int
metrics_list(struct kiln_workspace *ws, char **names, size_t n, int json)
{
	json_t *out = json_object();
	size_t i, k, shown_ = 0;

	for (i = 0; i < n; i++)
		if (!kiln_graph_find(&ws->graph, names[i]))
			return json_decref(out), error("no target named '%s' in the Kilnfile", names[i]);
	for (i = 0; i < ws->graph.ntargets; i++) {
		const char *name = ws->graph.targets[i]->name;
		struct kiln_record *rec = kiln_state_get(&ws->state, name);
		json_t *m;

		for (k = 0; k < n && strcmp(names[k], name) != 0; k++)
			;
		if (!rec || !rec->nmetrics || (n && k == n))
			continue;
		m = json_object();
		for (k = 0; k < rec->nmetrics; k++) {
			json_object_set_new(m, rec->metrics[k].name, json_real(rec->metrics[k].value));
			if (!json && !shown_++)
				printf("%-24s %-32s %s\n", "TARGET", "METRIC", "VALUE");
			if (!json)
				printf("%-24s %-32s %.6g\n", rec->name, rec->metrics[k].name, rec->metrics[k].value);
		}
		json_object_set_new(out, name, m);
	}
	if (json) {
		json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		putchar('\n');
	} else if (!shown_) {
		printf("kiln: no target has recorded metrics yet (test targets do, once built)\n");
	}
	json_decref(out);
	return 0;
}

int
kiln_cmd_metrics(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},
		{NULL, 0, NULL, 0},
	};
	struct kiln_workspace ws;
	int c, json = 0, r;

	if (argc >= 2 && strcmp(argv[1], "diff") == 0)
		return rev_command(argc - 1, argv + 1, KILN_LOCK_METRIC, "metric");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'J')
			return KILN_CMD_USAGE;
		json = 1;
	}
	if (kiln_cmd_open(&ws, 0, NULL) < 0)
		return 2;
	r = metrics_list(&ws, argv + optind, argc - optind, json);
	kiln_workspace_close(&ws);
	return r < 0 ? 2 : 0;
}
