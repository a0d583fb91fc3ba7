/*
 * context: kiln's side of the plugin ABI. See context.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "context.h"
#include "statuspipe.h"
#include "util.h"

static const kiln_value empty_map = {.type = KILN_MAP};

static const kiln_value *
h_params(kiln_ctx *ctx)
{
	return ctx->params ? ctx->params : &empty_map;
}

static size_t
h_ninputs(kiln_ctx *ctx)
{
	return ctx->ninputs;
}

static const char *
h_input_name(kiln_ctx *ctx, size_t i)
{
	return i < ctx->ninputs ? ctx->input_names[i] : NULL;
}

static const char *
h_input_path(kiln_ctx *ctx, size_t i)
{
	return i < ctx->ninputs ? ctx->input_paths[i] : NULL;
}

static const char *
h_output_dir(kiln_ctx *ctx)
{
	return ctx->outdir;
}

static size_t
h_noutputs(kiln_ctx *ctx)
{
	return ctx->noutputs;
}

static const char *
h_output(kiln_ctx *ctx, size_t i)
{
	return i < ctx->noutputs ? ctx->outputs[i] : NULL;
}

static const char *
h_target(kiln_ctx *ctx)
{
	return ctx->target;
}

static int
h_threads(kiln_ctx *ctx)
{
	return ctx->threads > 0 ? ctx->threads : 1;
}

/* Send one status line; a status pipe that is gone is not the plugin's problem. */
static void
status(kiln_ctx *ctx, const struct kiln_status_msg *m)
{
	if (ctx->status_fd >= 0)
		(void)kiln_statuspipe_send(ctx->status_fd, NULL, m);
}

static void
h_progress(kiln_ctx *ctx, double done, double total, const char *unit)
{
	double now = now_seconds();

	/* At most ten updates a second, but always the last one. */
	if (done < total && now - ctx->last_progress < 0.1)
		return;
	ctx->last_progress = now;
	status(ctx, &(struct kiln_status_msg){.type = KILN_MSG_PROGRESS, .done = done, .total = total,
	    .unit = unit});
}

static void
h_metric(kiln_ctx *ctx, const char *name, double value)
{
	status(ctx, &(struct kiln_status_msg){.type = KILN_MSG_METRIC, .name = name, .value = value});
}

static void
h_vlog(kiln_ctx *ctx, const char *fmt, va_list ap)
{
	if (ctx->status_fd < 0)
		fprintf(stderr, "%s: ", ctx->target);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static int
h_vfail(kiln_ctx *ctx, const char *fmt, va_list ap)
{
	char *msg;

	if (ctx->failure)
		return -1;
	if (vasprintf(&msg, fmt, ap) < 0)
		die("out of memory");
	ctx->failure = msg;
	status(ctx, &(struct kiln_status_msg){.type = KILN_MSG_FAIL, .kind = KILN_FAIL_STEP, .text = msg});
	return -1;
}

static void
h_vwarn(kiln_ctx *ctx, const char *fmt, va_list ap)
{
	va_list copy;
	char *msg;

	va_copy(copy, ap);
	h_vlog(ctx, fmt, copy);
	va_end(copy);
	if (vasprintf(&msg, fmt, ap) < 0)
		die("out of memory");
	status(ctx, &(struct kiln_status_msg){.type = KILN_MSG_WARN, .text = msg});
	free(msg);
}

static const char *
h_checkpoint_dir(kiln_ctx *ctx)
{
	return ctx->checkpoint_data;
}

static int
h_checkpoint_saved(kiln_ctx *ctx, double epoch)
{
	if (!ctx->checkpoint)
		return -1;
	if (kiln_checkpoint_seal(ctx->checkpoint, epoch) < 0) {
		fprintf(stderr, "kiln: cannot seal the checkpoint in %s: %s\n", ctx->checkpoint, strerror(errno));
		return -1;
	}
	return 0;
}

/* Ask kiln to put the input file `path` at `output`; only a kiln that reads the line says so in the spec. */
static int
h_output_same(kiln_ctx *ctx, const char *output, const char *path)
{
	const char *p;

	if (!ctx->same || ctx->status_fd < 0 || !output || !path || !*output || !*path || strlen(output) > 255)
		return -1;
	for (p = output; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -1;
	status(ctx, &(struct kiln_status_msg){.type = KILN_MSG_SAME, .name = output, .text = path});
	return 0;
}

static const struct kiln_host host = {
	.size = sizeof(struct kiln_host),
	.params = h_params,
	.ninputs = h_ninputs,
	.input_name = h_input_name,
	.input_path = h_input_path,
	.output_dir = h_output_dir,
	.noutputs = h_noutputs,
	.output = h_output,
	.target = h_target,
	.threads = h_threads,
	.progress = h_progress,
	.metric = h_metric,
	.vlog = h_vlog,
	.vfail = h_vfail,
	.vwarn = h_vwarn,
	.checkpoint_dir = h_checkpoint_dir,
	.checkpoint_saved = h_checkpoint_saved,
	.output_same = h_output_same,
};

void
kiln_ctx_init(struct kiln_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->head.host = &host;
	ctx->status_fd = -1;
	ctx->threads = 1;
}

void
kiln_ctx_release(struct kiln_ctx *ctx)
{
	free(ctx->failure);
	ctx->failure = NULL;
}
