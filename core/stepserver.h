/*
 * stepserver: a kiln-run that stays, and forks each sandboxed step's
 * kiln-run rather than kiln spawning (exec'ing) one per step.
 *
 * kiln starts `kiln-run --serve` once per build, on a socket as fd 3. For
 * each step it sends the spec's path and the descriptors the step starts
 * with (its log, its status pipe, the namespaces and filter its job slot
 * lends: job.c), and a socket of the step's own. The server forks; the
 * child puts the descriptors where kiln-run SPEC would find them, closes
 * every descriptor of the server's, and runs the step as kiln-run SPEC
 * does. The server answers on the step's socket with the child's pid and a
 * pidfd for it (kiln signals the step through that), and, once it has
 * reaped the child, with its wait status. It is the subreaper of what the
 * steps leave behind (the sandbox's setup process, which kiln-run does not
 * wait for), so no step leaves a zombie for the machine's pid 1.
 *
 * What a step sees, its limits, messages and status are the same as with
 * kiln-run SPEC: the child runs the same code. Only the exec of kiln-run
 * and its dynamic loader are saved. A step holds no descriptor of the
 * server's; its sandbox's pid namespace hides the server.
 */
#ifndef KILN_STEPSERVER_H
#define KILN_STEPSERVER_H

#include <stddef.h>
#include <sys/types.h>

/* The most descriptors one step is started with. */
#define KILN_STEPSERVER_MAXFD 8

/*
 * In kiln: start the step `spec` through the server (started on first use
 * from `runner`), its descriptors fds[i] placed at targets[i] (n of them).
 * On 0: *pid the step's process, *pidfd a pidfd for it, *exitfd where its
 * end comes (kiln_stepserver_ended). -1: no server (none could be started,
 * or KILN_SANDBOX_NO_SERVER is set); start the step as before.
 */
int kiln_stepserver_start(const char *runner, const char *spec, const int *fds, const int *targets, size_t n,
    pid_t *pid, int *pidfd, int *exitfd);
/*
 * In kiln: has the step whose end comes on exitfd ended? 1 with *wstatus
 * (SIGKILL's when the server was lost), 0 not yet.
 */
int kiln_stepserver_ended(int exitfd, int *wstatus);
/* In kiln: send sig to the step through its pidfd. */
void kiln_stepserver_kill(int pidfd, int sig);
/*
 * In kiln-run --serve: serve kiln on sock until it closes it, running each
 * step in a child with run(spec), whose value the child exits with.
 */
int kiln_stepserver_serve(int sock, int (*run)(const char *spec));

#endif
