/*
 * cmd_serve: `kiln serve TARGET`, a model target (or a container's model) served
 * locally by kiln-serve.
 */
#ifndef KILN_CMD_SERVE_H
#define KILN_CMD_SERVE_H

/* `kiln serve TARGET`: build a model target and serve it with kiln-serve; argv[0] is the command's name. The exit status. */
int kiln_cmd_serve(int argc, char **argv);

#endif
