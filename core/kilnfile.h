/*
 * kilnfile: evaluates a Kilnfile (Lua 5.4, restricted) into a graph.
 */
#ifndef KILN_KILNFILE_H
#define KILN_KILNFILE_H

#include "graph.h"

/*
 * Run `path` (and the files it includes) with the rule library loaded, adding
 * every declared target to `g`. On error prints "FILE:LINE: message" and
 * returns -1.
 */
int kiln_kilnfile_load(struct kiln_graph *g, const char *path);

#endif
