/*
 * job: one running build step — its spec, its process, its status pipe,
 * and what became of it.
 *
 * A step is kiln-run SPEC (or what the executor wraps around it), spawned
 * in a process group of its own with its output in .kiln/logs/<name>.log
 * and its status lines (progress, metrics, failure; statuspipe.h) on fd 3.
 */
#ifndef KILN_JOB_H
#define KILN_JOB_H

#include <sys/types.h>

#include "executor.h"
#include "gpu.h"
#include "key.h"
#include "netns.h"
#include "util.h"

struct kiln_metric;
struct kiln_plugin_info;
struct kiln_target;
struct kiln_workspace;

struct kiln_job {
	struct kiln_target *t;		/* the target it builds */
	struct kiln_plugin_info *pi;	/* its plugin */
	struct kiln_keyinfo ki;		/* its action key and components (its own copy) */
	pid_t pid;			/* the step's process (and group) */
	int pidfd;			/* forked by the step server (stepserver.h): a pidfd for pid; else -1 */
	int exitfd;			/* and where the server says it ended; -1: pid is kiln's child */
	int statusfd;			/* the read end of its status pipe; -1 before it starts */
	int status_eof;			/* that pipe reached its end: the step's processes closed it */
	struct buf partial;		/* status bytes not yet ending in a newline */
	char *failure;			/* the step's own failure message, if it sent one */
	struct buf warnings;		/* the warnings it sent, each ending in a newline */
	struct kiln_metric *metrics;	/* the metrics it reported, in order of first report */
	size_t nmetrics;
	struct kiln_same *same;		/* outputs it said are input files unchanged (outputs.h) */
	size_t nsame;
	struct arena arena;		/* the metrics' names, the same list's paths */
	struct kiln_step step;		/* the step as the executor sees it */
	double started, deadline;	/* monotonic seconds; deadline 0: none */
	double done, total;		/* its last progress report */
	char unit[32];			/* and that report's unit */
	int timed_out;			/* kiln stopped it at its timeout */
	size_t waiting;			/* remote-only inputs still being fetched (--download=minimal) */
	struct kiln_target *input_failed;	/* one that could not be fetched, or NULL */
	char *checkpoint;		/* checkpoint = true: its folder (checkpoint.h), malloc'd */
	double ckpt_next;		/* checkpoint_upload: when its checkpoint is next sent (monotonic); 0 never */
	struct kiln_digest ckpt_sent;	/* the mark of the last one sent (ckptshare.h), zero before */
	int ckpt_asked;			/* the remote cache was asked for its checkpoint */
	int ckpt_fetched;		/* and it gave one */
	int gpus[KILN_GPU_MAX];		/* the GPUs the scheduler gave it (gpu.h) */
	size_t ngpus;
	struct kiln_netns ns;		/* the namespaces lent to its sandbox; -1: none */
	int ns_reusable;		/* it ended as a step does, leaving nothing running in them */
	int filter_fd;			/* the compiled seccomp filter lent to its sandbox (syscalls.h); -1: none */
};

/* A job for target t with (a copy of) its key ki; not started. */
struct kiln_job *kiln_job_new(struct kiln_workspace *ws, struct kiln_target *t, const struct kiln_keyinfo *ki);
void kiln_job_free(struct kiln_job *j);
/*
 * Start the step through executor ex: a fresh output folder, the spec
 * (`sandbox`: the step runs sandboxed), the log, the process. -1 after reporting.
 */
int kiln_job_start(struct kiln_job *j, struct kiln_workspace *ws, struct kiln_executor *ex, int sandbox);
/* Read what the step has said on its status pipe; 0 at the pipe's end, 1 while it is open. */
int kiln_job_read(struct kiln_job *j);
/*
 * The step's process ended with wstatus: keep its outputs (from the cache,
 * when the executor left them there). 0 kept; -1 failed, the reason in why.
 */
int kiln_job_end(struct kiln_job *j, struct kiln_workspace *ws, struct kiln_executor *ex, int wstatus,
    int sandbox, struct buf *why);
/* Has j, forked by the step server, ended? 1 with its wait status in *wstatus; 0 not (yet), or not the server's. */
int kiln_job_exited(struct kiln_job *j, int *wstatus);
/* Send sig to j's step: through the server's pidfd, else the executor's cancel. */
void kiln_job_kill(struct kiln_job *j, struct kiln_executor *ex, int sig);
/* Print the warnings j sent (a test's warn limits), one line each, on stderr. */
void kiln_job_warnings(const struct kiln_job *j);
/* Say that j failed for `why`, with the last lines of its log. */
void kiln_job_report(const struct kiln_job *j, const char *why);

#endif
