/*
 * executor: where a build step runs.
 *
 * The scheduler decides what must run; an executor says how one step is
 * started. Every executor runs a step as a child process of kiln — for
 * `local` that is kiln-run itself, for a cluster a submitting command that
 * waits for the job and relays its exit status — so the scheduler's event
 * loop (status pipe, exit status, signals, timeouts) is the same for all.
 * Another executor is one more file that fills in struct kiln_executor.
 */
#ifndef KILN_EXECUTOR_H
#define KILN_EXECUTOR_H

#include <sys/types.h>

struct kiln_config;
struct kiln_digest;
struct kiln_target;

/* One step as an executor sees it. */
struct kiln_step {
	const struct kiln_target *target;
	const char *runner;	/* kiln-run's path */
	const char *spec;	/* the step's spec file, relative to the workspace */
	const char *workspace;	/* absolute */
	const struct kiln_digest *key;	/* the step's action key */
	const char *remote;	/* the remote cache's URL, or NULL */
};

/* What a step is doing, for the status line (see state below). */
enum kiln_step_state {
	KILN_STEP_RUNNING,
	KILN_STEP_PENDING,	/* waiting in a cluster's queue */
};

struct kiln_executor {
	const char *name;
	/*
	 * The command that runs the step, its output going to the step's log
	 * and its status lines to fd 3; a NULL-terminated, malloc'd argv
	 * (free with strv_free), or NULL after reporting why.
	 */
	char **(*command)(struct kiln_executor *ex, const struct kiln_step *s);
	/* Stop a started step: sig to its process group, by default. */
	void (*cancel)(struct kiln_executor *ex, const struct kiln_step *s, pid_t pid, int sig);
	void (*release)(struct kiln_executor *ex);
	/* Optional: a started step's enum kiln_step_state (running when NULL). */
	int (*state)(struct kiln_executor *ex, const struct kiln_step *s);
	/*
	 * The step leaves its outputs and action entry in the cache under its
	 * key, not in .kiln/tmp: the scheduler restores them from there.
	 */
	int outputs_in_cache;
	/* The executor stops a step at resources.timeout itself, counted from when it runs, not queues. */
	int own_timeout;
	/* kiln-run runs here as kiln's child, inheriting what kiln hands it (netns.h). */
	int local;
	void *data;
};

/* The executor called `name`, with the Kilnfile's kiln.config; NULL (reported) when there is none. */
struct kiln_executor *kiln_executor_new(const char *name, const struct kiln_config *cfg);
void kiln_executor_free(struct kiln_executor *ex);

#endif
