/*
 * slurm: the executor that runs each build step as a Slurm job.
 *
 * A step becomes three processes. In kiln, the executor's command is
 * `kiln slurm-step submit …` (the submitter, a child of kiln like kiln-run):
 * it puts every input file of the step and its spec into the cache as one
 * entry, then runs `srun … kiln slurm-step node …` and relays what comes
 * back. On the compute node, the node side materialises the inputs from the
 * cache in a scratch folder, runs kiln-run there (the same sandbox), and puts
 * the outputs and the action entry into the cache. kiln then restores the
 * outputs from the cache, so no folder but the cache (a shared folder, or
 * the remote cache) is shared.
 *
 * The node sends its status lines on stderr, prefixed with "kiln-status ";
 * the submitter passes them on to kiln's status pipe and everything else to
 * the step's log. The submitter keeps the job id and state in
 * .kiln/tmp/<target>/slurm-job, so kiln can cancel the job and count what is
 * pending and running.
 */
#ifndef KILN_SLURM_H
#define KILN_SLURM_H

struct kiln_config;

/* The slurm executor, with kiln.config's `slurm` table; NULL after reporting a bad one. */
struct kiln_executor *kiln_slurm_new(const struct kiln_config *cfg);

#endif
