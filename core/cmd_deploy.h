/*
 * cmd_deploy: `kiln deploy [--rollback] TARGET` — run a deploy target, put its
 * manifests into the rule's folder and keep the history in .kiln/deployments.
 */
#ifndef KILN_CMD_DEPLOY_H
#define KILN_CMD_DEPLOY_H

/* `kiln deploy [--rollback] TARGET`: push an image and install its digest-pinned manifests; argv[0] is the command's name. The exit status. */
int kiln_cmd_deploy(int argc, char **argv);

#endif
