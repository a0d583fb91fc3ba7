/*
 * cmd_build: `kiln build`, `status`, `why`, `graph`, `clean` and `plugins`.
 * Each takes the command's arguments (argv[0] its name) and returns its exit
 * status, or KILN_CMD_USAGE (cmd.h).
 */
#ifndef KILN_CMD_BUILD_H
#define KILN_CMD_BUILD_H

/* Bring targets up to date (sched.h). */
int kiln_cmd_build(int argc, char **argv);
/* List stale targets with a reason each; --check exits 1 for CI. */
int kiln_cmd_status(int argc, char **argv);
/* Which components of a target's key changed. */
int kiln_cmd_why(int argc, char **argv);
/* The graph as Graphviz dot. */
int kiln_cmd_graph(int argc, char **argv);
/* Remove kiln-out/. */
int kiln_cmd_clean(int argc, char **argv);
/* The plugins kiln finds. */
int kiln_cmd_plugins(int argc, char **argv);

#endif
