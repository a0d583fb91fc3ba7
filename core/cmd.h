/*
 * cmd: what the command files share — opening the workspace, parsing
 * numbers, and the status that asks main to print a command's usage.
 */
#ifndef KILN_CMD_H
#define KILN_CMD_H

struct kiln_overrides;
struct kiln_workspace;

/* Returned by a command for a usage error: main prints its usage line and exits 2. */
#define KILN_CMD_USAGE (-2)

/*
 * Open the workspace in the current folder (see kiln_workspace_open_with),
 * with the -S overrides ov (or NULL); -1 after reporting, ws closed.
 */
int kiln_cmd_open(struct kiln_workspace *ws, int lock, struct kiln_overrides *ov);
/* Parse a decimal integer from min to 2^20 strictly into *out; -1 if s is not one. */
int kiln_cmd_parse_int(const char *s, int min, int *out);
/* The default for -j: the CPUs online. */
int kiln_cmd_default_jobs(void);

#endif
