/*
 * cmd_data: `kiln add` and `kiln fetch --update`, for data that does not
 * live in git. Each takes the command's arguments (argv[0] its name) and
 * returns its exit status, or KILN_CMD_USAGE (cmd.h).
 */
#ifndef KILN_CMD_DATA_H
#define KILN_CMD_DATA_H

/* Track files and folders in the cache with a PATH.kiln pointer; --remove stops it. */
int kiln_cmd_add(int argc, char **argv);
/* Download each fetch target's URL afresh and print the digest it serves now. */
int kiln_cmd_fetch(int argc, char **argv);

struct kiln_workspace;
/*
 * kiln status --remote-sources: for each wanted fetch target, HEAD its URL
 * and, when the ETag or Last-Modified differ from what kiln saw last
 * (.kiln/remote-sources), download and hash it; print a line each. The
 * number that serve other bytes than pinned, or -1 after reporting.
 */
int kiln_fetch_check_remote(struct kiln_workspace *ws);

#endif
