/*
 * cmd_exp: the experiment commands — `kiln exp show|diff|gc` over the run
 * history, `kiln metrics [diff]` and `kiln params diff` over Kilnfile.lock.
 * Each takes the command's arguments (argv[0] its name) and returns its
 * exit status, or KILN_CMD_USAGE (cmd.h).
 */
#ifndef KILN_CMD_EXP_H
#define KILN_CMD_EXP_H

/* exp show [TARGET...] [--sort [-]METRIC] [--all] [--json|--csv]; exp diff A B; exp gc [--keep N]. */
int kiln_cmd_exp(int argc, char **argv);
/* metrics [TARGET...] [--json]; metrics diff [REV] [--all] [--json]. */
int kiln_cmd_metrics(int argc, char **argv);
/* params diff [REV] [--all] [--json]. */
int kiln_cmd_params(int argc, char **argv);

#endif
