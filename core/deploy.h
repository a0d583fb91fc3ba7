/*
 * deploy: `kiln deploy [--rollback] TARGET` — run a deploy target, put its
 * manifests into the rule's folder and keep the history in .kiln/deployments.
 */
#ifndef KILN_DEPLOY_H
#define KILN_DEPLOY_H

/* The command: argv[0] is "deploy". Returns an exit status. */
int kiln_deploy_cmd(int argc, char **argv);

#endif
