/*
 * verify: `kiln verify`, proof that the workspace's artifacts are
 * reproducible. The targets are rebuilt by a child kiln in a fresh copy of
 * the sources at another path, with an empty cache and no remote, another
 * umask, time zone and locale and a moved clock, and every output's digest
 * is compared with Kilnfile.lock (or the local cache).
 */
#ifndef KILN_VERIFY_H
#define KILN_VERIFY_H

/* `kiln verify [--deep] [--against lock|cache] [--json] [TARGET…]`; argv[0] is "verify". Exit 0, 1 or 2. */
int kiln_verify_main(int argc, char **argv);

#endif
