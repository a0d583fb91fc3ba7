/*
 * cmd_cache: `kiln gc`, `fsck`, `push` and `pull`. Each takes the command's
 * arguments (argv[0] its name) and returns its exit status, or
 * KILN_CMD_USAGE (cmd.h).
 */
#ifndef KILN_CMD_CACHE_H
#define KILN_CMD_CACHE_H

/* Trim the local cache to --max-size, least recently used first. */
int kiln_cmd_gc(int argc, char **argv);
/* Re-hash the local cache and quarantine what is bad. */
int kiln_cmd_fsck(int argc, char **argv);
/* Upload targets' outputs to the remote cache. */
int kiln_cmd_push(int argc, char **argv);
/* Download targets' outputs from the remote cache. */
int kiln_cmd_pull(int argc, char **argv);

#endif
