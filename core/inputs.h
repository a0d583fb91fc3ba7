/*
 * inputs: what a step reads — source files, folders and globs of the
 * workspace, and other targets' outputs — resolved to the paths the step
 * sees and the digests its key is made of.
 */
#ifndef KILN_INPUTS_H
#define KILN_INPUTS_H

struct buf;
struct kiln_digest;
struct kiln_input;
struct kiln_workspace;

/*
 * Before anything runs: load every wanted target's plugin, check its params,
 * and resolve its source inputs, so that a mistake fails in milliseconds
 * rather than after an hour of training; digest its tools (and read dpkg's
 * database once, if a target lists packages). -1 after reporting every problem.
 */
int kiln_inputs_prepare(struct kiln_workspace *ws);
/*
 * Point a ":target" input at its dependency's outputs (kiln-out/<dep>), with
 * their digest; a soft input whose target did not build gets no path, no
 * files and a fixed digest of its own.
 */
void kiln_inputs_resolve_target(struct kiln_input *in);

/*
 * What changed in a folder tool between digests `was` and `now`, from the
 * file lists kept in .kiln/tools: "numpy/version.py changed" in b; -1 when
 * a list is missing (b untouched).
 */
int kiln_tools_explain(const struct kiln_digest *was, const struct kiln_digest *now, struct buf *b);

#endif
