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

#include "graph.h"

/* One step as an executor sees it. */
struct kiln_step {
	const struct kiln_target *target;
	const char *runner;	/* kiln-run's path */
	const char *spec;	/* the step's spec file, relative to the workspace */
	const char *workspace;	/* absolute */
};

struct kiln_executor {
	const char *name;
	/*
	 * The command that runs the step, its output going to the step's log
	 * and its status lines to fd 3; a NULL-terminated, malloc'd argv
	 * (free with kiln_executor_free_argv), or NULL after reporting why.
	 */
	char **(*command)(struct kiln_executor *ex, const struct kiln_step *s);
	/* Stop a started step: sig to its process group, by default. */
	void (*cancel)(struct kiln_executor *ex, const struct kiln_step *s, pid_t pid, int sig);
	void (*release)(struct kiln_executor *ex);
	void *data;
};

/* The executor called `name`; NULL (reported) when there is none. */
struct kiln_executor *kiln_executor_new(const char *name);
void kiln_executor_free(struct kiln_executor *ex);
void kiln_executor_free_argv(char **argv);

#endif
