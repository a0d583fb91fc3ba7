/*
 * netns: the user and network namespaces kiln lends its sandboxed steps.
 *
 * Making a network namespace costs a millisecond of kernel time, and the
 * kernel tears them down one at a time on one worker: at -j2 and beyond it
 * was the sandbox's bottleneck. kiln instead keeps one pair per running
 * step, made once (the step's ids mapped, the loopback up) and lent step
 * after step, never to two steps at once; kiln-run joins them (sandbox.c).
 */
#ifndef KILN_NETNS_H
#define KILN_NETNS_H

/*
 * A user namespace and a network namespace it owns, and a mount namespace
 * it owns holding the job slot's shared root (rootfs.h), as descriptors;
 * -1: none (mnt alone may be missing: the steps then build their roots whole).
 */
struct kiln_netns {
	int user, net, mnt;
	int host;	/* with mnt: a copy of the host's mount tree that user owns, for setup to join; -1: none */
};

/*
 * A pair for one step: a kept one, else a new one, made by `runner
 * --netns` (kiln-run). -1 when none can be made (the step then makes its own).
 */
int kiln_netns_take(struct kiln_netns *ns, const char *runner);
/* Up to n steps will run at once: the first take() makes that many pairs together. */
void kiln_netns_expect(size_t n);
/*
 * Where the steps in lent namespaces keep their job slot's cgroups
 * (cgroup.h, kiln_cgroup_slot_home): pids 0 the memory hierarchy's, 1 the
 * pids one's ("" if none); NULL: each step makes its own.
 */
const char *kiln_netns_cgroup(int pids);
/* The step is done with ns: kept for the next when `reusable` (everything of the step is gone), else closed. */
void kiln_netns_give(struct kiln_netns *ns, int reusable);

#endif
