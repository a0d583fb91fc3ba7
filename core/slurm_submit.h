/*
 * slurm_submit: the submitter, on this machine (see slurm.h).
 */
#ifndef KILN_SLURM_SUBMIT_H
#define KILN_SLURM_SUBMIT_H

struct kiln_slurm_args;

/* Run the submitter, on this machine with the parsed `kiln slurm-step` arguments; the exit status. */
int kiln_slurm_submit(const struct kiln_slurm_args *a);

#endif
