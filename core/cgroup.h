/*
 * cgroup: one control group per sandboxed step, so that its memory and
 * process limits hold for all of its processes together, not for each one.
 * kiln-run makes it before the step's first process exists, moves that
 * process in (its children follow), and removes it once the step ended.
 *
 * cgroup v2 where it is mounted with the memory and pids controllers
 * delegated to kiln; else the v1 memory (and pids) hierarchies where kiln
 * may write them (as root, usually); else none, and the sandbox falls back
 * to per-process limits. See docs/sandbox.md.
 *
 * A group is named kiln-PID-START after the kiln-run that made it (its pid
 * and start time), under kiln-run's own group, so a later run removes
 * those whose kiln-run died. A job slot's groups, kept from step to step
 * (kiln_cgroup_take), are kiln-PID-START-sSLOT/gN after kiln, which
 * removes them at its end (kiln_cgroup_remove_slots).
 */
#ifndef KILN_CGROUP_H
#define KILN_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/* Which kind of group a step got. */
enum kiln_cgroup_kind {
	KILN_CGROUP_NONE,	/* none could be made: why says so */
	KILN_CGROUP_V1,		/* v1 memory group, and a pids group where that hierarchy is */
	KILN_CGROUP_V2,		/* one v2 group with memory and pids */
};

struct kiln_cgroup {
	int kind;		/* enum kiln_cgroup_kind */
	int slot;		/* one of a job slot's groups (kiln_cgroup_take): kept for the next step */
	char mem[700];		/* the memory group's folder (v2: the group's only one) */
	char pids[700];		/* v1: the pids group's folder, "" if none */
	char why[2100];		/* KILN_CGROUP_NONE: why, for the log */
	/* A slot's group reused: what it held and counted before this step, subtracted from what it says. */
	unsigned long long base_usage, base_ooms, base_forks;
};

/*
 * Make the step's group in cg, limited to mem bytes and nproc tasks, after
 * removing the groups of kiln-runs that died. Returns cg->kind; with
 * KILN_CGROUP_NONE, cg->why says what was missing.
 */
int kiln_cgroup_make(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc);
/*
 * The same, from the groups kept for a job slot (slot: the inode of the user
 * namespace kiln lent it; mem_home and pids_home: kiln_cgroup_slot_home's,
 * from kiln): an empty one of them, its limits set for this step and its
 * counters read as differences from here on; else, as kiln_cgroup_make, a
 * group of the step's own. v1 only (v2 gets kiln_cgroup_make's).
 */
int kiln_cgroup_take(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc, unsigned long long slot,
    const char *mem_home, const char *pids_home);
/*
 * In kiln, once per build: where its job slots' groups go, as the start of
 * their folders' paths in the v1 memory and pids hierarchies
 * (".../kiln-PID-START"; pids "" without that hierarchy), which each step's
 * kiln-run is told so that it need not read the mount table and
 * /proc/self/cgroup itself. -1 where slots keep no groups: a v2 group is
 * to be had (kiln-run makes one per step), or no writable v1 memory group.
 */
int kiln_cgroup_slot_home(char *mem, size_t mlen, char *pids, size_t plen);
/* In kiln, at its end: remove the job slots' groups named after it (the sandbox's steps have ended). */
void kiln_cgroup_remove_slots(void);
/*
 * Move the calling process, which must have one thread, into the group;
 * -1 with a message in err. Its children are born there.
 */
int kiln_cgroup_enter(const struct kiln_cgroup *cg, char *err, size_t len);
/* The most memory the group used at once, in bytes; 0 if the kernel does not say. */
unsigned long long kiln_cgroup_peak(const struct kiln_cgroup *cg);
/* How many of the group's processes the kernel killed at its memory limit. */
unsigned long kiln_cgroup_oom_kills(const struct kiln_cgroup *cg);
/* How many forks the group's process limit refused; 0 without one. */
unsigned long kiln_cgroup_forks_refused(const struct kiln_cgroup *cg);
/* Does the group limit processes (pids)? */
int kiln_cgroup_has_pids(const struct kiln_cgroup *cg);
/* What limits the step as a whole, for the log: "cgroup v1: memory, pids" and the like. */
const char *kiln_cgroup_describe(const struct kiln_cgroup *cg);
/*
 * Kill what is left in the group and remove it; cg->kind becomes
 * KILN_CGROUP_NONE. A slot's group is left for the next step, which takes
 * it only once it is empty.
 */
void kiln_cgroup_remove(struct kiln_cgroup *cg);

#endif
