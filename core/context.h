/*
 * context: kiln's side of the plugin ABI — the context a plugin's check()
 * and run() receive, and the calls it makes through it.
 *
 * In kiln itself (check) messages go to stderr; in kiln-run (run) progress,
 * metrics and the failure message are sent to kiln as lines on a status
 * pipe (statuspipe.h), and log lines go to the step's log (stderr).
 */
#ifndef KILN_CONTEXT_H
#define KILN_CONTEXT_H

#include <kiln/plugin.h>

/* The context behind the ABI's opaque kiln_ctx; the caller owns what it points to. */
struct kiln_ctx {
	struct kiln_ctx_head head;	/* must stay first */
	const char *target;		/* the target's name */
	const kiln_value *params;	/* a KILN_MAP; NULL: none */
	size_t ninputs;			/* how many inputs */
	const char *const *input_names;	/* their names, sorted */
	const char *const *input_paths;	/* their paths, in the same order */
	const char *outdir;		/* the output folder; NULL in check */
	size_t noutputs;		/* how many declared outputs */
	const char *const *outputs;	/* their names */
	int threads;			/* the threads the target declared */
	int status_fd;			/* -1: no status pipe (check) */
	double last_progress;		/* when progress was last sent */
	char *failure;			/* the first failure's message, malloc'd */
	const char *checkpoint;		/* the checkpoint's folder (checkpoint.h), NULL: none */
	const char *checkpoint_data;	/* its data/, what the step writes */
	int same;			/* kiln reads "same" lines (kiln_output_same) from this step */
};

/* Fill ctx's head and defaults; the caller sets the rest. */
void kiln_ctx_init(struct kiln_ctx *ctx);
/* Free what the context owns (the failure message). */
void kiln_ctx_release(struct kiln_ctx *ctx);

#endif
