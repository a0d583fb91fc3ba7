/*
 * host: the old name of context.h, kept only while plugin.c, build.c and
 * slurm.c still include it and compare status lines' first words by hand.
 *
 * NEEDSWORK: delete this file once those three include context.h and read
 * status lines with kiln_statuspipe_parse() (statuspipe.h).
 */
#ifndef KILN_HOST_H
#define KILN_HOST_H

#include "context.h"

/* The first words of status lines, as statuspipe.c writes them. */
#define KILN_STATUS_PROGRESS "progress"	/* done total unit */
#define KILN_STATUS_METRIC "metric"	/* name value */
#define KILN_STATUS_FAIL "fail"		/* message, newlines as \n */

#endif
