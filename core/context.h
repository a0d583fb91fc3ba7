/*
 * host: kiln's side of the plugin ABI — the context a plugin's check() and
 * run() receive, and the calls it makes through it.
 *
 * In kiln itself (check) messages go to stderr; in kiln-run (run) progress,
 * metrics and the failure message are sent to kiln as lines on a status
 * pipe, and log lines go to the step's log (stderr).
 */
#ifndef KILN_HOST_H
#define KILN_HOST_H

#include <kiln/plugin.h>

struct kiln_ctx {
	struct kiln_ctx_head head;	/* must stay first */
	const char *target;
	const kiln_value *params;	/* a KILN_MAP */
	size_t ninputs;
	const char *const *input_names;	/* sorted */
	const char *const *input_paths;
	const char *outdir;		/* NULL in check */
	size_t noutputs;
	const char *const *outputs;
	int threads;
	int status_fd;			/* -1: no status pipe (check) */
	double last_progress;		/* when progress was last sent */
	char *failure;			/* the first failure's message, malloc'd */
};

/* Fill ctx's head and defaults; the caller sets the rest. */
void kiln_ctx_init(struct kiln_ctx *ctx);
/* Free what the context owns (the failure message). */
void kiln_ctx_release(struct kiln_ctx *ctx);

/* Status lines, "WORD rest\n"; the words kiln understands. */
#define KILN_STATUS_PROGRESS "progress"	/* done total unit */
#define KILN_STATUS_METRIC "metric"	/* name value */
#define KILN_STATUS_FAIL "fail"		/* message, newlines as \n */

#endif
