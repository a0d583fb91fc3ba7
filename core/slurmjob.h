/*
 * slurmjob: what the two sides of a Slurm job share — kiln's side (the
 * executor and `kiln slurm-step submit`) and the node's (`kiln slurm-step
 * node`): where the spec and the plugin travel, the marked status lines the
 * node sends on stderr, and the loop that runs a child and relays its lines.
 * See slurm.h for how a step becomes a job.
 */
#ifndef KILN_SLURMJOB_H
#define KILN_SLURMJOB_H

#include <stddef.h>
#include <sys/types.h>

struct arena;
struct kiln_cache;
struct kiln_remote;

#define KILN_SLURM_MARK "kiln-status "		/* a status line from the node, on stderr */
#define KILN_SLURM_JOB_FILE "slurm-job"		/* in .kiln/tmp/<target>/: "JOBID STATE SRUN-PID [NODE]" */
#define KILN_SLURM_SPEC ".kiln/spec.json"	/* where the spec travels among the inputs */
#define KILN_SLURM_PLUGIN_DIR ".kiln/plugin"	/* and the plugin, so a node needs only kiln and kiln-run */
#define KILN_SLURM_ORPHANS ".kiln/slurm-orphans"	/* jobs whose end slurmctld may not know */
#define KILN_SLURM_STATUS_FD 3			/* the step's status pipe, as in kiln-run */

/* The options of `kiln slurm-step submit|node`, as parsed. */
struct kiln_slurm_args {
	const char *key;	/* the step's action key, hex */
	const char *runner;	/* kiln-run's path (the same on the nodes) */
	const char *remote;	/* the remote cache's URL, or NULL */
	const char *inputs;	/* node: the key of the inputs' cache entry */
	const char *cache;	/* the cache folder on the nodes (node: required; submit: NULL is ours) */
	const char *partition, *account;	/* submit: srun's */
	const char **extra;	/* submit: more srun options, verbatim */
	size_t nextra;
	const char *spec;	/* submit: the step's spec file */
	int cpus, gpus;		/* submit: the step's resources */
	long long mem;		/* submit: bytes, 0 none */
	double timeout;		/* seconds, 0 none */
};

/* Append arg (taken) to the NULL-terminated *argv of *n entries. */
void kiln_slurmjob_arg(char ***argv, size_t *n, char *arg);
/* Run a command and wait for it, its output to /dev/null; its exit status, or -1. */
int kiln_slurmjob_run_quiet(char **argv);
/* scancel the job `id` (quietly: it may have ended). */
void kiln_slurmjob_scancel(long id);
/* Where a plugin travels among a step's inputs: .kiln/plugin/<its file name> (allocated in a). */
const char *kiln_slurmjob_plugin_path(struct arena *a, const char *plugin);
/* Write a failure status line (enum kiln_fail_kind `kind`) for msg on fd, `prefix` first, in one write. */
void kiln_slurmjob_fail(int fd, const char *prefix, int kind, const char *msg);
/* The remote at url for cache c (read-only under KILN_REMOTE_READ_ONLY), or NULL when url is. */
struct kiln_remote *kiln_slurmjob_remote(const char *url, struct kiln_cache *c);

/*
 * Spawn argv in a process group of its own, its fd `to_fd` a pipe (and, with
 * log_on_stderr, its stderr its stdout); the pipe's read end, nonblocking,
 * or -1 with errno.
 */
int kiln_slurmjob_spawn(char **argv, int to_fd, int log_on_stderr, pid_t *pid);

/* What kiln_slurmjob_watch calls. */
struct kiln_slurmjob_watcher {
	void (*line)(void *arg, char *line);	/* each line the child wrote, without its newline */
	void (*tick)(void *arg, int sig);	/* after each wait (200 ms at most), with a stop signal or 0 */
	void (*ended)(void *arg);		/* optional: the child has ended, before its last lines */
	void *arg;
};

/*
 * Relay the child pid's lines from rfd (closed here) until it ends, with
 * SIGCHLD, SIGTERM, SIGINT and SIGHUP blocked and read; its wait status in
 * *wstatus.
 */
void kiln_slurmjob_watch(pid_t pid, int rfd, const struct kiln_slurmjob_watcher *w, int *wstatus);

#endif
