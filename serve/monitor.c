/*
 * monitor: drift, predictions per class and the prediction log of
 * kiln-serve; see monitor.h.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "monitor.h"
#include "predict.h"
#include "../plugins/lib/json.h"
#include "../plugins/lib/util.h"

#define LOG_MAX_DEFAULT (64LL << 20)
/* A share below this counts as this, so an empty bin does not make PSI infinite. */
#define PSI_FLOOR 1e-4

/* One input column's training distribution and the requests' counts in the same bins. */
struct feature {
	char *name;
	int onehot;
	double *edges;		/* numeric: nbins - 1 cut points */
	char **values;		/* onehot: nbins - 1 categories; the last bin is "not seen in training" */
	double *train;		/* nbins shares of the training rows */
	size_t nbins;
	atomic_ullong *counts;	/* nbins */
};

struct monitor {
	const struct predictor *p;
	struct feature *feat;
	size_t nfeat;
	atomic_ullong *per_class;	/* p->m.nclasses, when a classifier */
	char *log_path;			/* NULL: no log */
	FILE *log;
	double sample;
	long long max_bytes, written;
	pthread_mutex_t mu;
};

/* A number list of JSON into a malloc'd array; its length, or -1 when it is not one. */
static long
numbers(const json_t *a, double **out)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(a))
		return -1;
	*out = kp_xcalloc(json_array_size(a) + 1, sizeof(double));
	json_array_foreach(a, i, v) {
		if (!json_is_number(v))
			return -1;
		(*out)[i] = json_number_value(v);
	}
	return (long)json_array_size(a);
}

/* One column of transform.distribution; 0, or -1 when it does not read as one (it is then left out). */
static int
load_feature(struct feature *f, const char *name, const json_t *d)
{
	const char *kind = json_string_value(json_object_get(d, "kind"));
	long nt = numbers(json_object_get(d, "train"), &f->train), i;

	f->name = kp_xstrdup(name);
	f->onehot = kind && strcmp(kind, "onehot") == 0;
	if (nt < 1)
		return -1;
	if (f->onehot) {
		const json_t *vals = json_object_get(d, "values");

		if (!json_is_array(vals) || (long)json_array_size(vals) != nt)
			return -1;
		f->values = kp_xcalloc((size_t)nt, sizeof(char *));
		for (i = 0; i < nt; i++)
			f->values[i] = kp_xstrdup(json_string_value(json_array_get(vals, (size_t)i)) ?
				json_string_value(json_array_get(vals, (size_t)i)) : "");
		f->train = kp_xrealloc(f->train, (size_t)nt + 1, sizeof(double));
		f->train[nt] = 0;	/* categories the training rows never had */
		f->nbins = (size_t)nt + 1;
	} else {
		if (numbers(json_object_get(d, "edges"), &f->edges) != nt - 1)
			return -1;
		f->nbins = (size_t)nt;
	}
	f->counts = kp_xcalloc(f->nbins, sizeof(atomic_ullong));
	return 0;
}

static void
load_features(struct monitor *m, const char *dir)
{
	char err[KP_ERRLEN], *path = kp_join(dir, "model.json");
	json_t *mj = kp_json_read(path, err);
	const json_t *dist = json_object_get(json_object_get(mj, "transform"), "distribution"), *d;
	const char *name;

	free(path);
	m->feat = kp_xcalloc(json_object_size(dist) + 1, sizeof(*m->feat));
	json_object_foreach((json_t *)dist, name, d) {
		struct feature *f = &m->feat[m->nfeat];

		if (load_feature(f, name, d) == 0) {
			m->nfeat++;
		} else {
			free(f->name);
			free(f->edges);
			free(f->train);
			memset(f, 0, sizeof(*f));
		}
	}
	json_decref(mj);
}

static int
open_log(struct monitor *m, char *err)
{
	struct stat sb;

	m->log = fopen(m->log_path, "a");
	if (!m->log)
		return kp_errf(err, "KILN_SERVE_PREDICTION_LOG: cannot open %s: %s", m->log_path, strerror(errno));
	m->written = fstat(fileno(m->log), &sb) == 0 ? (long long)sb.st_size : 0;
	return 0;
}

/* The log's settings from the environment. */
static int
log_settings(struct monitor *m, char *err)
{
	const char *path = getenv("KILN_SERVE_PREDICTION_LOG"), *s = getenv("KILN_SERVE_LOG_SAMPLE");
	const char *mb = getenv("KILN_SERVE_LOG_MAX_BYTES");
	double x;

	m->sample = 1;
	m->max_bytes = LOG_MAX_DEFAULT;
	if (s && *s && (kp_parse_number(s, &x) < 0 || x < 0 || x > 1))
		return kp_errf(err, "KILN_SERVE_LOG_SAMPLE: expected a share from 0 to 1, got '%s'", s);
	if (s && *s)
		m->sample = x;
	if (mb && *mb && (kp_parse_number(mb, &x) < 0 || x < 4096 || x > 1e15))
		return kp_errf(err, "KILN_SERVE_LOG_MAX_BYTES: expected a size of at least 4096 bytes, got '%s'", mb);
	if (mb && *mb)
		m->max_bytes = (long long)x;
	if (!path || !*path)
		return 0;
	m->log_path = kp_xstrdup(path);
	return open_log(m, err);
}

struct monitor *
monitor_new(const struct predictor *p, const char *dir, char *err)
{
	struct monitor *m = kp_xcalloc(1, sizeof(*m));

	m->p = p;
	pthread_mutex_init(&m->mu, NULL);
	if (p->m.classification && p->m.nclasses)
		m->per_class = kp_xcalloc(p->m.nclasses, sizeof(atomic_ullong));
	load_features(m, dir);
	if (log_settings(m, err) < 0) {
		monitor_free(m);
		return NULL;
	}
	return m;
}

static struct feature *
feature(struct monitor *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nfeat; i++)
		if (strcmp(m->feat[i].name, name) == 0)
			return &m->feat[i];
	return NULL;
}

/* Count one raw value of a column into its bin. */
static void
count_value(struct feature *f, const json_t *v)
{
	size_t b;

	if (!f)
		return;
	if (f->onehot) {
		const char *s = json_string_value(v);

		for (b = 0; s && b + 1 < f->nbins && strcmp(f->values[b], s) != 0; b++)
			;
		if (!s)
			return;
	} else {
		double x = json_is_boolean(v) ? json_is_true(v) : json_number_value(v);

		if (!json_is_number(v) && !json_is_boolean(v))
			return;
		for (b = 0; b + 1 < f->nbins && x > f->edges[b]; b++)
			;
	}
	atomic_fetch_add(&f->counts[b], 1);
}

/* One instance: an object of column: value, or a list in the predictor's column order. */
static void
count_instance(struct monitor *m, const json_t *inst)
{
	const json_t *v;
	const char *key;
	size_t i;

	if (json_is_object(inst)) {
		json_object_foreach((json_t *)inst, key, v)
			count_value(feature(m, key), v);
	} else if (json_is_array(inst) && m->p->nsrc == json_array_size(inst)) {
		json_array_foreach(inst, i, v)
			count_value(feature(m, m->p->src[i].name), v);
	}
}

/* A pseudo-random number in [0, 1) per thread, for sampling the log. */
static double
uniform(void)
{
	static _Thread_local uint64_t s;

	if (!s)
		s = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ULL;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (double)(s >> 11) / 9007199254740992.0;
}

/* Rename the log to FILE.1 (the one before goes) and start a new one; under m->mu. */
static void
rotate(struct monitor *m)
{
	char *old = kp_xmalloc(strlen(m->log_path) + 3);

	sprintf(old, "%s.1", m->log_path);
	fclose(m->log);
	m->log = NULL;
	if (rename(m->log_path, old) < 0)
		fprintf(stderr, "kiln-serve: cannot rotate %s: %s\n", m->log_path, strerror(errno));
	free(old);
	m->log = fopen(m->log_path, "a");
	m->written = 0;
	if (!m->log)
		fprintf(stderr, "kiln-serve: cannot reopen %s: %s; predictions are no longer logged\n",
			m->log_path, strerror(errno));
}

/* One line of the log: time, model, digest, input, output. */
static void
log_line(struct monitor *m, const json_t *inst, const json_t *out)
{
	char when[40];
	struct timespec ts;
	struct tm tm;
	json_t *j;
	char *s;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	j = json_pack("{s:s, s:s, s:s, s:O, s:O}", "time", when, "model", m->p->name, "digest",
		m->p->digest ? m->p->digest : "", "input", inst, "output", out);
	s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(j);
	if (!s)
		return;
	n = strlen(s);
	pthread_mutex_lock(&m->mu);
	if (m->log && m->written > 0 && m->written + (long long)n + 1 > m->max_bytes)
		rotate(m);
	if (m->log && fprintf(m->log, "%s\n", s) > 0 && fflush(m->log) == 0)
		m->written += (long long)n + 1;
	pthread_mutex_unlock(&m->mu);
	free(s);
}

void
monitor_observe(struct monitor *m, const char *body, size_t len, const json_t *answer)
{
	const json_t *preds = json_object_get(answer, "predictions"), *inst, *pr;
	json_t *req;
	size_t i;

	if (!m)
		return;
	for (i = 0; m->per_class && i < json_array_size(preds); i++) {
		json_int_t k = json_integer_value(json_object_get(json_array_get(preds, i), "label"));

		if (k >= 0 && (size_t)k < m->p->m.nclasses)
			atomic_fetch_add(&m->per_class[k], 1);
	}
	if (!m->nfeat && !m->log_path)
		return;
	req = json_loadb(body, len, 0, NULL);
	json_array_foreach(json_object_get(req, "instances"), i, inst) {
		count_instance(m, inst);
		pr = json_array_get(preds, i);
		if (m->log_path && pr && (m->sample >= 1 || uniform() < m->sample))
			log_line(m, inst, pr);
	}
	json_decref(req);
}

/* A label value for Prometheus: backslash, quote and newline escaped. */
static void
label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static double
psi(const struct feature *f, unsigned long long *total)
{
	double sum = 0;
	size_t b;

	*total = 0;
	for (b = 0; b < f->nbins; b++)
		*total += atomic_load(&f->counts[b]);
	for (b = 0; *total && b < f->nbins; b++) {
		double q = (double)atomic_load(&f->counts[b]) / (double)*total, p = f->train[b];

		q = q < PSI_FLOOR ? PSI_FLOOR : q;
		p = p < PSI_FLOOR ? PSI_FLOOR : p;
		sum += (q - p) * log(q / p);
	}
	return sum;
}

void
monitor_metrics(struct monitor *m, FILE *f)
{
	unsigned long long n;
	size_t i;

	if (!m)
		return;
	if (m->per_class) {
		fputs("# HELP kiln_serve_predictions_by_class_total Instances predicted, by predicted class.\n"
		      "# TYPE kiln_serve_predictions_by_class_total counter\n", f);
		for (i = 0; i < m->p->m.nclasses; i++) {
			fputs("kiln_serve_predictions_by_class_total{class=\"", f);
			label_value(f, m->p->m.classes[i]);
			fprintf(f, "\"} %llu\n", atomic_load(&m->per_class[i]));
		}
	}
	if (!m->nfeat)
		return;
	fputs("# HELP kiln_serve_feature_drift_psi Population stability index of each input column: "
	      "the requests' values against the training rows' (0 until a request has it).\n"
	      "# TYPE kiln_serve_feature_drift_psi gauge\n", f);
	for (i = 0; i < m->nfeat; i++) {
		double v = psi(&m->feat[i], &n);

		fputs("kiln_serve_feature_drift_psi{feature=\"", f);
		label_value(f, m->feat[i].name);
		fprintf(f, "\"} %.6f\n", v);
	}
	fputs("# HELP kiln_serve_feature_observations_total Values of each input column counted for drift.\n"
	      "# TYPE kiln_serve_feature_observations_total counter\n", f);
	for (i = 0; i < m->nfeat; i++) {
		psi(&m->feat[i], &n);
		fputs("kiln_serve_feature_observations_total{feature=\"", f);
		label_value(f, m->feat[i].name);
		fprintf(f, "\"} %llu\n", n);
	}
}

void
monitor_free(struct monitor *m)
{
	size_t i, k;

	if (!m)
		return;
	for (i = 0; i < m->nfeat; i++) {
		for (k = 0; m->feat[i].values && k + 1 < m->feat[i].nbins; k++)
			free(m->feat[i].values[k]);
		free(m->feat[i].values);
		free(m->feat[i].name);
		free(m->feat[i].edges);
		free(m->feat[i].train);
		free(m->feat[i].counts);
	}
	free(m->feat);
	free(m->per_class);
	if (m->log)
		fclose(m->log);
	free(m->log_path);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
