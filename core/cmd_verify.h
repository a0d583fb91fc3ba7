/*
 * cmd_verify: `kiln verify`, proof that the workspace's artifacts are
 * reproducible. The targets are rebuilt by a child kiln in a fresh copy of
 * the sources at another path, with an empty cache and no remote, another
 * umask, time zone and locale and a moved clock, and every output's digest
 * is compared with Kilnfile.lock (or the local cache).
 */
#ifndef KILN_CMD_VERIFY_H
#define KILN_CMD_VERIFY_H

/* `kiln verify [TARGET...]`: rebuild without the cache in a varied environment and compare with Kilnfile.lock; argv[0] is the command's name. The exit status. */
int kiln_cmd_verify(int argc, char **argv);

#endif
