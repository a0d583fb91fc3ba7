/*
 * monitor: what kiln-serve keeps of the predictions it makes.
 *
 * - Drift: each input column's requests counted into the bins of the
 *   training rows' distribution that transform.json records (model.json's
 *   "transform".distribution), published on /metrics as a population
 *   stability index, PSI = sum over bins of (q - p) ln(q / p), q the
 *   requests' share and p the training rows'.
 * - Predictions per class, on /metrics.
 * - A prediction log, off by default: one JSON line per instance (time,
 *   model, digest, input, output), a sampled share of them, the file
 *   renamed to FILE.1 when it would pass its size limit. Set by
 *   KILN_SERVE_PREDICTION_LOG=FILE, KILN_SERVE_LOG_SAMPLE (0 to 1, default
 *   1) and KILN_SERVE_LOG_MAX_BYTES (default 64 MiB).
 *
 * Counters are atomics and the log has a lock: requests on every worker
 * thread call monitor_observe.
 */
#ifndef KILN_SERVE_MONITOR_H
#define KILN_SERVE_MONITOR_H

#include <stdio.h>

struct json_t;
struct predictor;
struct monitor;

/*
 * A monitor for predictor p, loaded from dir (its model.json), with the log
 * settings from the environment. NULL with err on a bad setting or a log
 * that cannot be opened.
 */
struct monitor *monitor_new(const struct predictor *p, const char *dir, char *err);
/* Count and log one answered request: its body and the predictor's answer. */
void monitor_observe(struct monitor *m, const char *body, size_t len, const struct json_t *answer);
/* Append the drift and per-class metrics, Prometheus text, to f. */
void monitor_metrics(struct monitor *m, FILE *f);
/* Close the log and free m (NULL is fine). */
void monitor_free(struct monitor *m);

#endif
