/*
 * slurm_node: the node side, in the job (see slurm.h).
 */
#ifndef KILN_SLURM_NODE_H
#define KILN_SLURM_NODE_H

struct kiln_slurm_args;

/* Run the node side, in the job with the parsed `kiln slurm-step` arguments; the exit status. */
int kiln_slurm_node(const struct kiln_slurm_args *a);

#endif
