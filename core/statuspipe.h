/*
 * statuspipe: the lines a step sends kiln on its status pipe (fd 3), and
 * the Slurm node sends its submitter; written and read only here.
 *
 *	progress DONE TOTAL UNIT	how far the step is; UNIT a word, "-" if none
 *	metric NAME VALUE		a metric for the cache entry and the lock
 *	fail MESSAGE			why the step failed, in its own words
 *	warn MESSAGE			a limit crossed that does not fail the step (a test's warn)
 *	fail:KIND MESSAGE		a failure kiln knows by its kind
 *	slurm-job ID NODE		the step runs as Slurm job ID on NODE
 *	slurm-done			the step's outputs are in the cache
 *	same OUTPUT PATH		the output OUTPUT is the input file PATH unchanged
 *					(kiln_output_same); PATH escaped like a MESSAGE
 *
 * A MESSAGE is escaped: a newline as "\n", a backslash as "\\". NAME and
 * UNIT are words (no blanks or control characters) that the writer makes
 * so. A reader decides by the message's type and kind, never its wording.
 */
#ifndef KILN_STATUSPIPE_H
#define KILN_STATUSPIPE_H

#include <stddef.h>

struct buf;

/* Which line a message is. */
enum kiln_msg_type {
	KILN_MSG_NONE,		/* not a status line: malformed, or a word kiln does not know */
	KILN_MSG_PROGRESS,	/* progress */
	KILN_MSG_METRIC,	/* metric */
	KILN_MSG_FAIL,		/* fail, fail:KIND */
	KILN_MSG_JOB,		/* slurm-job */
	KILN_MSG_DONE,		/* slurm-done */
	KILN_MSG_WARN,		/* warn */
	KILN_MSG_SAME,		/* same */
};

/* What failed, for a reader that must act on it; the message is for people. */
enum kiln_fail_kind {
	KILN_FAIL_STEP,		/* the step failed: the plugin or its program says why */
	KILN_FAIL_START,	/* the step could not be started (spec, plugin, sandbox, node) */
	KILN_FAIL_INPUT_MISSING,	/* an input blob is not in the cache */
	KILN_FAIL_OUTPUT_MISSING,	/* the step did not write a declared output */
	KILN_FAIL_TIMEOUT,	/* the step ran past its timeout and was stopped */
	KILN_FAIL_STOPPED,	/* the step was stopped by a signal to kiln */
	KILN_FAIL_LIMIT,	/* the sandbox stopped the step at a limit (memory, disk): says more than the step's own */
};

/* One status line, parsed, or to be written. Strings point into the line read. */
struct kiln_status_msg {
	enum kiln_msg_type type;	/* which line */
	double done, total;		/* progress: how far, out of how much */
	const char *unit;		/* progress: what is counted; "" or NULL for nothing */
	const char *name;		/* metric: its name; same: the output */
	double value;			/* metric: its value */
	enum kiln_fail_kind kind;	/* fail: what failed */
	const char *text;		/* fail, warn: the message, unescaped; same: the input file */
	long job;			/* job: the batch system's job id */
	const char *node;		/* job: the node it runs on; "" or NULL if unknown */
};

/* Append m to b as one line, newline included, escaping and cleaning as the format needs. */
void kiln_statuspipe_format(struct buf *b, const struct kiln_status_msg *m);
/* Write prefix (NULL: none) and m's line to fd in one write; -1 with errno if it failed. */
int kiln_statuspipe_send(int fd, const char *prefix, const struct kiln_status_msg *m);
/*
 * Parse `line` (its newline removed) into *m, in place: a failure message is
 * unescaped within it, and m's strings point into it. 0, or -1 (and
 * m->type KILN_MSG_NONE, the line as it was) when it is not a well-formed
 * status line.
 */
int kiln_statuspipe_parse(char *line, struct kiln_status_msg *m);
/*
 * Read what a nonblocking fd holds, giving fn each complete line without its
 * newline (fn may change the line); partial keeps the unfinished one between
 * calls. 0 at the end of the pipe, 1 while it is open.
 */
int kiln_statuspipe_read(int fd, struct buf *partial, void (*fn)(void *arg, char *line), void *arg);

#endif
