/*
 * report: what the build recorded, as one document of Vega-Lite charts
 * and tables — the data checks, the training curves, the test gates, the
 * fairness slices and the metrics across git revisions — for `kiln
 * report`. It reads the outputs in kiln-out/, the state and Kilnfile.lock
 * at earlier revisions; it never runs a step.
 */
#ifndef KILN_REPORT_H
#define KILN_REPORT_H

#include <stddef.h>

struct json_t;
struct kiln_workspace;

struct kiln_report_opts {
	char **targets;			/* report these (and what they need); none: every target */
	size_t ntargets;
	int revisions;			/* Kilnfile.lock at the last N git commits; 0: none */
};

/*
 * The report of workspace ws: {"kiln_report": 1, "sections": [...],
 * "not_built": [...]}, each section's items holding "charts" (Vega-Lite
 * specs with their data inline) and "tables". NULL after reporting.
 */
struct json_t *kiln_report_collect(struct kiln_workspace *ws, const struct kiln_report_opts *o);

/*
 * The report as one self-contained HTML page (vega, vega-lite and
 * vega-embed inside it, no request to any address), malloc'd; *len is its length.
 */
char *kiln_report_html(const struct json_t *report, size_t *len);

#endif
