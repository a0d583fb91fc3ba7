/*
 * cmd_slurm: `kiln slurm-step submit|node OPTIONS` (see slurm.h).
 */
#ifndef KILN_CMD_SLURM_H
#define KILN_CMD_SLURM_H

/* Parse the options and run the side named by argv[1]; the exit status. */
int kiln_cmd_slurm_step(int argc, char **argv);

#endif
