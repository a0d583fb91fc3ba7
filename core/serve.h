/*
 * serve: `kiln serve TARGET`, a model target (or a container's model) served
 * locally by kiln-serve.
 */
#ifndef KILN_SERVE_H
#define KILN_SERVE_H

/* The command: argv[0] is "serve". Returns an exit status (it execs on success). */
int kiln_serve_cmd(int argc, char **argv);

/* Path of the kiln-serve beside this kiln's binary, or "kiln-serve" (malloc'd). */
char *kiln_serve_binary(void);

#endif
