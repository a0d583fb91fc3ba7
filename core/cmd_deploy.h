/*
 * cmd_deploy: `kiln deploy [--rollback] TARGET` — run a deploy target, put its
 * manifests into the rule's folder and keep the history in .kiln/deployments.
 */
#ifndef KILN_CMD_DEPLOY_H
#define KILN_CMD_DEPLOY_H

struct kiln_target;
struct kiln_graph;

/*
 * Before deploy target t's step runs: its registry's credentials (from the
 * KILN_REGISTRY_* variables or the podman, skopeo and docker auth files)
 * and --force, handed to the step through its declared variables. -1
 * (reported) when an auth file cannot be read.
 */
int kiln_deploy_prepare(const struct kiln_target *t, int force);
/* kiln_deploy_prepare, without force, for every wanted deploy target of g (kiln build NAME). */
int kiln_deploy_prepare_wanted(const struct kiln_graph *g);
/* `kiln deploy [--force] [--rollback] TARGET`: push an image and install its digest-pinned manifests; argv[0] is the command's name. The exit status. */
int kiln_cmd_deploy(int argc, char **argv);

#endif
