/*
 * cgroup: a control group per sandboxed step. See cgroup.h, and
 * docs/sandbox.md for which kind applies where.
 *
 * kiln never enables a controller itself (that would change the machine's
 * setup for everyone): a v2 group is made only under a group whose
 * cgroup.subtree_control already lists memory and pids.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"

#define PREFIX "kiln-"
/* Groups kept for each job slot: a step takes an empty one; one whose last step is still ending is passed over. */
#define SLOT_GROUPS 4
/*
 * A slot's memory group still charged with more than this (the page cache
 * and tmpfs pages of the outputs its steps wrote, which stay charged to it
 * when their processes are gone) is removed and made afresh, so that a
 * step's own limit is never short by more than this.
 */
#define RETIRE_BYTES (1ULL << 20)
/* The same for the exited processes of earlier steps that no one has reaped yet. */
#define RETIRE_TASKS 32

/* Read file `name` of folder dir into buf (NUL-terminated); -1 with errno. */
static int
get(const char *dir, const char *name, char *buf, size_t len)
{
	char path[600];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Write text to file `name` of folder dir in one write; -1 with errno. */
static int
put(const char *dir, const char *name, const char *text)
{
	char path[600];
	size_t n = strlen(text);
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, text, n) == (ssize_t)n;
	if (!ok) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* The number after `key` in a "key value" file of dir (memory.events and the like); 0 if none. */
static unsigned long long
keyed(const char *dir, const char *name, const char *key)
{
	char buf[4096], *s;
	size_t n = strlen(key);

	if (get(dir, name, buf, sizeof(buf)) < 0)
		return 0;
	for (s = buf; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
		if (strncmp(s, key, n) == 0 && s[n] == ' ')
			return strtoull(s + n + 1, NULL, 10);
	return 0;
}

/* Does a space-separated list hold word? */
static int
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *s = list;

	while ((s = strstr(s, word))) {
		if ((s == list || s[-1] == ' ' || s[-1] == ',') && (s[n] == '\0' || s[n] == ' ' || s[n] == ',' ||
		    s[n] == '\n'))
			return 1;
		s += n;
	}
	return 0;
}

/*
 * The mount table, read once per process: each read of it takes the
 * kernel's namespace lock, which the sandboxes of other steps keep busy
 * (0.2 to 1.5 ms a read here), and making a group looks in it three times.
 */
static FILE *
mount_table(void)
{
	static char text[65536];
	static size_t n;
	static int read_once;

	if (!read_once) {
		int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
		ssize_t r = 0;

		while (fd >= 0 && n < sizeof(text) - 1 && (r = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
			n += (size_t)r;
		if (fd >= 0)
			close(fd);
		read_once = fd >= 0 && r >= 0;
		if (!read_once)
			n = 0;
	}
	return read_once && n > 0 ? fmemopen(text, n, "r") : NULL;
}

/* Where a hierarchy is mounted: type "cgroup2", or "cgroup" with option opt. */
static int
mounted_at(const char *type, const char *opt, char *out, size_t len)
{
	FILE *f = mount_table();
	struct mntent *m;
	int found = 0;

	while (f && !found && (m = getmntent(f)))
		if (strcmp(m->mnt_type, type) == 0 && (!opt || hasmntopt(m, opt))) {
			snprintf(out, len, "%s", m->mnt_dir);
			found = 1;
		}
	if (f)
		endmntent(f);
	return found ? 0 : -1;
}

/* This process's group in a hierarchy, from /proc/self/cgroup: v2's line when ctrl is NULL. */
static int
own_group(const char *ctrl, char *out, size_t len)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *list = strchr(line, ':'), *path = list ? strchr(list + 1, ':') : NULL;

		if (!path)
			continue;
		*path++ = '\0';
		*list++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (ctrl ? has_word(list, ctrl) : strcmp(line, "0") == 0 && *list == '\0') {
			snprintf(out, len, "%s", path);
			found = 1;
		}
	}
	if (f)
		fclose(f);
	return found ? 0 : -1;
}

/*
 * The folder of this process's group: the mount point and its path there,
 * or the mount point alone where the mount shows a part of the hierarchy
 * that does not hold that path (a container's).
 */
static int
group_folder(const char *type, const char *ctrl, char *out, size_t len, int *top)
{
	char mnt[256], own[256];
	struct stat st;

	if (mounted_at(type, ctrl, mnt, sizeof(mnt)) < 0 || own_group(ctrl, own, sizeof(own)) < 0)
		return -1;
	snprintf(out, len, "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
	if (stat(out, &st) < 0)
		snprintf(out, len, "%s", mnt);
	*top = strcmp(out, mnt) == 0;
	return 0;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

/*
 * Kill every task in the group at dir and remove it, trying `tries` times a
 * millisecond apart while they die. 0 once it is gone, -1 if it is not.
 */
static int
try_remove(const char *dir, int tries)
{
	char buf[8192];

	while (tries-- > 0) {
		if (get(dir, "cgroup.procs", buf, sizeof(buf)) == 0)
			for (char *s = buf; *s; s += strcspn(s, "\n"), s += *s == '\n') {
				long pid = strtol(s, NULL, 10);

				/* 0: a task in another pid namespace, which is not ours to kill. */
				if (pid > 0)
					kill((pid_t)pid, SIGKILL);
			}
		if (rmdir(dir) == 0 || errno != EBUSY)
			return 0;
		if (tries > 0)
			pause_ms(1);
	}
	return -1;
}

/* Remove the group at dir, waiting up to 10 s for its tasks to die. */
static void
remove_group(const char *dir)
{
	try_remove(dir, 10000);
}

/* When process pid started (clock ticks after boot, /proc/PID/stat's 22nd field); 0 if it is gone. */
static unsigned long long
started(long pid)
{
	char path[64], buf[1024], *s;
	unsigned long long t = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
	    &t) != 1)
		return 0;
	return t;
}

/* A job slot's groups (g0, g1, ...) in its folder at dir, then the folder; -1 if some could not go. */
static int
remove_slot_folder(const char *dir, int tries)
{
	char path[700];
	int left = 0;

	for (int i = 0; i < SLOT_GROUPS; i++) {
		snprintf(path, sizeof(path), "%s/g%d", dir, i);
		left |= access(path, F_OK) == 0 && try_remove(path, tries) < 0;
	}
	return left || rmdir(dir) < 0 ? -1 : 0;
}

/*
 * Remove the groups under parent that kiln-runs now gone left (killed
 * before they could remove their own), and the job slots' of a kiln now
 * gone (killed before its end): a name's pid is dead, or is another
 * process's now. Only empty ones: the sandbox's processes die with their
 * kiln-run (PR_SET_PDEATHSIG), and a group with tasks in it may be another
 * pid namespace's kiln-run's, whose pid means another process here.
 */
static void
remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char path[600];

	while (d && (e = readdir(d))) {
		unsigned long long start, slot;
		long pid;
		int n = 0, m = 0;

		if (sscanf(e->d_name, PREFIX "%ld-%llu%n-s%llu%n", &pid, &start, &n, &slot, &m) < 2 || pid <= 0 ||
		    (e->d_name[n] && (m == 0 || e->d_name[m])) || started(pid) == start)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		if (m)
			remove_slot_folder(path, 1);
		else
			rmdir(path);
	}
	if (d)
		closedir(d);
}

/*
 * Make this kiln-run's group under parent, in out, named by its pid and
 * start time (a pid alone could be another pid namespace's too); -1 with a
 * reason in why.
 */
static int
make_group(const char *parent, char *out, size_t len, char *why, size_t wlen)
{
	remove_stale(parent);
	snprintf(out, len, "%s/" PREFIX "%d-%llu", parent, (int)getpid(), started(getpid()));
	if (mkdir(out, 0755) < 0) {
		snprintf(why, wlen, "cannot make %s: %s", out, strerror(errno));
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Write a limit; on failure remove the group and say why. */
static int
limit(char *dir, const char *file, unsigned long long n, char *why, size_t wlen)
{
	char text[32];

	snprintf(text, sizeof(text), "%llu", n);
	if (put(dir, file, text) == 0)
		return 0;
	snprintf(why, wlen, "cannot write %s/%s: %s", dir, file, strerror(errno));
	remove_group(dir);
	dir[0] = '\0';
	return -1;
}

/* Does dir's cgroup.subtree_control give its children memory and pids? */
static int
delegates(const char *dir)
{
	char buf[512];

	return get(dir, "cgroup.subtree_control", buf, sizeof(buf)) == 0 && has_word(buf, "memory") &&
	       has_word(buf, "pids");
}

/*
 * v2: the step's group goes under this process's own group when that gives
 * its children the controllers (only the root can, holding processes), else
 * beside it, under a parent that does (a delegated subtree).
 */
static int
v2_parent(char *dir, size_t len, char *why, size_t wlen)
{
	int top;

	if (group_folder("cgroup2", NULL, dir, len, &top) < 0)
		return snprintf(why, wlen, "no cgroup v2 hierarchy is mounted"), -1;
	if (!delegates(dir) && !top)
		*strrchr(dir, '/') = '\0';
	if (!delegates(dir))
		return snprintf(why, wlen, "cgroup v2 at %s gives kiln no memory and pids controllers "
				"(cgroup.subtree_control)", dir), -1;
	return 0;
}

static int
make_v2(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc, char *why, size_t wlen)
{
	char dir[512];

	if (v2_parent(dir, sizeof(dir), why, wlen) < 0)
		return -1;
	if (make_group(dir, cg->mem, sizeof(cg->mem), why, wlen) < 0 ||
	    limit(cg->mem, "memory.max", mem, why, wlen) < 0 || limit(cg->mem, "pids.max", nproc, why, wlen) < 0)
		return -1;
	/* No swapping past the limit, and one OOM kill ends the whole step. Older kernels lack them. */
	put(cg->mem, "memory.swap.max", "0");
	put(cg->mem, "memory.oom.group", "1");
	return 0;
}

/* v1: a memory group, and a pids group where that hierarchy is mounted and writable. */
static int
make_v1(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc, char *why, size_t wlen)
{
	char dir[512], ignored[256], text[32];
	int top;

	if (group_folder("cgroup", "memory", dir, sizeof(dir), &top) < 0)
		return snprintf(why, wlen, "no cgroup v1 memory hierarchy is mounted"), -1;
	if (make_group(dir, cg->mem, sizeof(cg->mem), why, wlen) < 0 ||
	    limit(cg->mem, "memory.limit_in_bytes", mem, why, wlen) < 0)
		return -1;
	/* Memory and swap together, where swap is accounted. */
	snprintf(text, sizeof(text), "%llu", mem);
	put(cg->mem, "memory.memsw.limit_in_bytes", text);
	if (group_folder("cgroup", "pids", dir, sizeof(dir), &top) < 0 ||
	    make_group(dir, cg->pids, sizeof(cg->pids), ignored, sizeof(ignored)) < 0 ||
	    limit(cg->pids, "pids.max", nproc, ignored, sizeof(ignored)) < 0)
		cg->pids[0] = '\0';
	return 0;
}

int
kiln_cgroup_make(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc)
{
	char v2[1024], v1[1024];

	memset(cg, 0, sizeof(*cg));
	if (make_v2(cg, mem, nproc, v2, sizeof(v2)) == 0)
		return cg->kind = KILN_CGROUP_V2;
	if (make_v1(cg, mem, nproc, v1, sizeof(v1)) == 0)
		return cg->kind = KILN_CGROUP_V1;
	snprintf(cg->why, sizeof(cg->why), "%s; %s", v2, v1);
	return cg->kind = KILN_CGROUP_NONE;
}

/*
 * Kill what the group at dir holds and say whether it is empty now. A step
 * takes a slot's group only when nothing of an earlier step (or of anyone
 * who moved a process in) is left in it; one whose last step's init is
 * still ending (the kernel tears its namespaces down first) is passed over
 * rather than waited for.
 */
static int
emptied(const char *dir)
{
	char buf[8192];
	int any = 0;

	/* v1's `tasks` lists every thread, a process whose first thread has exited included. */
	if (get(dir, "tasks", buf, sizeof(buf)) < 0)
		return 0;
	for (char *s = buf; *s; s += strcspn(s, "\n"), s += *s == '\n') {
		long tid = strtol(s, NULL, 10);

		any = 1;
		/* 0: a task in another pid namespace, which is not ours to kill (the group stays unused). */
		if (tid > 0)
			kill((pid_t)tid, SIGKILL);
	}
	if (!any)
		return 1;
	return get(dir, "tasks", buf, sizeof(buf)) == 0 && buf[0] == '\0';
}

/*
 * Is the slot's group at dir, which exists, ready for a step: empty,
 * holding no more than `most` of what file `held` counts (the memory its
 * outputs' pages keep charged to it; the processes of earlier steps that
 * have exited but that no one has reaped yet, which pids still counts), in
 * *left? One holding more is removed, and with it what it held, and made
 * afresh (*fresh).
 */
static int
ready(const char *dir, const char *held, unsigned long long most, unsigned long long *left, int *fresh)
{
	char buf[64];

	*left = 0;
	*fresh = 0;
	if (!emptied(dir) || get(dir, held, buf, sizeof(buf)) < 0)
		return 0;
	*left = strtoull(buf, NULL, 10);
	if (*left <= most)
		return 1;
	*left = 0;
	*fresh = rmdir(dir) == 0 && mkdir(dir, 0755) == 0;
	return *fresh;
}

/*
 * The step's limits on a slot's v1 groups, and what they counted before it.
 * Exited processes not yet reaped (zombies: setup's, whose kiln-run does not
 * wait for it, until whoever adopted it reaps it) still count in pids.current
 * though they can do nothing; the limit is raised by as many (`zombies`), so
 * the step gets its own nproc.
 */
static int
set_slot_limits(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc, unsigned long long zombies,
    int fresh)
{
	char text[32];
	int ok;

	snprintf(text, sizeof(text), "%llu", mem);
	/* memsw may not be below the limit: raising, the limit fails until memsw has risen. */
	ok = put(cg->mem, "memory.limit_in_bytes", text) == 0;
	put(cg->mem, "memory.memsw.limit_in_bytes", text);
	if (!ok && put(cg->mem, "memory.limit_in_bytes", text) < 0)
		return -1;
	snprintf(text, sizeof(text), "%llu", nproc + zombies);
	if (cg->pids[0] && put(cg->pids, "pids.max", text) < 0)
		return -1;
	if (fresh)
		return 0;
	/* The peak from here (what the group holds now), and the counts so far, to subtract. */
	if (put(cg->mem, "memory.max_usage_in_bytes", "0") < 0)
		return -1;
	cg->base_ooms = keyed(cg->mem, "memory.oom_control", "oom_kill");
	cg->base_forks = cg->pids[0] ? keyed(cg->pids, "pids.events", "max") : 0;
	return 0;
}

/*
 * Group n of the slot whose folder is dir, made by the first step to need
 * it (and the folder with it); ready() then says whether a step may take it.
 */
static int
slot_group(char *out, size_t len, const char *dir, int n, const char *held, unsigned long long most,
    unsigned long long *left, int *fresh)
{
	snprintf(out, len, "%s/g%d", dir, n);
	*left = 0;
	*fresh = 1;
	if (mkdir(out, 0755) == 0)
		return 1;
	if (errno == ENOENT && mkdir(dir, 0755) == 0) {
		/* Once per slot and build: the groups of kilns and kiln-runs gone, beside it. */
		char parent[700];

		snprintf(parent, sizeof(parent), "%s", dir);
		*strrchr(parent, '/') = '\0';
		remove_stale(parent);
		if (mkdir(out, 0755) == 0)
			return 1;
	}
	return ready(out, held, most, left, fresh);
}

/* v1: the first of the slot's groups that is ready in the memory hierarchy, and in pids where it is. */
static int
take_v1(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc, unsigned long long slot,
    const char *mem_home, const char *pids_home)
{
	char mslot[650], pslot[650];
	unsigned long long usage = 0, zombies = 0;
	int pids = pids_home && pids_home[0], freshm = 0, freshp = 1, i;

	snprintf(mslot, sizeof(mslot), "%s-s%llu", mem_home, slot);
	snprintf(pslot, sizeof(pslot), "%s-s%llu", pids ? pids_home : "", slot);
	for (i = 0; i < SLOT_GROUPS; i++) {
		cg->pids[0] = '\0';
		freshp = 1;
		zombies = 0;
		if (slot_group(cg->mem, sizeof(cg->mem), mslot, i, "memory.usage_in_bytes", RETIRE_BYTES, &usage,
		    &freshm) && (!pids || slot_group(cg->pids, sizeof(cg->pids), pslot, i, "pids.current",
		    RETIRE_TASKS, &zombies, &freshp)))
			break;
	}
	if (i == SLOT_GROUPS)
		return -1;
	cg->slot = 1;
	cg->base_usage = usage;
	if (set_slot_limits(cg, mem, nproc, zombies, freshm && freshp) < 0) {
		cg->slot = 0;
		return -1;
	}
	return 0;
}

int
kiln_cgroup_take(struct kiln_cgroup *cg, unsigned long long mem, unsigned long nproc, unsigned long long slot,
    const char *mem_home, const char *pids_home)
{
	memset(cg, 0, sizeof(*cg));
	if (mem_home && mem_home[0] && take_v1(cg, mem, nproc, slot, mem_home, pids_home) == 0)
		return cg->kind = KILN_CGROUP_V1;
	return kiln_cgroup_make(cg, mem, nproc);
}

int
kiln_cgroup_slot_home(char *mem, size_t mlen, char *pids, size_t plen)
{
	char dir[512], why[1024], name[64];
	int top;

	snprintf(name, sizeof(name), PREFIX "%d-%llu", (int)getpid(), started(getpid()));
	/* Where a step would get a v2 group, it still gets one of its own. */
	if (v2_parent(dir, sizeof(dir), why, sizeof(why)) == 0 ||
	    group_folder("cgroup", "memory", dir, sizeof(dir), &top) < 0 || access(dir, W_OK) < 0)
		return -1;
	snprintf(mem, mlen, "%s/%s", dir, name);
	pids[0] = '\0';
	if (group_folder("cgroup", "pids", dir, sizeof(dir), &top) == 0 && access(dir, W_OK) == 0)
		snprintf(pids, plen, "%s/%s", dir, name);
	return 0;
}

/* The slots' folders under the v1 hierarchy with option ctrl that are named after this process. */
static void
remove_own_slots(const char *ctrl)
{
	char dir[512], own[64], path[800];
	struct dirent *e;
	size_t n;
	int top;
	DIR *d;

	if (group_folder("cgroup", ctrl, dir, sizeof(dir), &top) < 0 || !(d = opendir(dir)))
		return;
	n = (size_t)snprintf(own, sizeof(own), PREFIX "%d-%llu-s", (int)getpid(), started(getpid()));
	while ((e = readdir(d)))
		if (strncmp(e->d_name, own, n) == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			/* The last steps' inits may still be ending: up to a second. */
			remove_slot_folder(path, 1000);
		}
	closedir(d);
}

void
kiln_cgroup_remove_slots(void)
{
	remove_own_slots("memory");
	remove_own_slots("pids");
}

/*
 * A process moved by its pid (cgroup.procs) makes the kernel wait for an
 * RCU grace period (15 ms on a loaded machine, a third of a trivial step);
 * a thread that moves itself by writing "0" to v1's `tasks` does not. v2
 * moves only whole processes, so there the wait stays. NEEDSWORK: v2
 * could spare it with clone3(CLONE_INTO_CGROUP).
 */
int
kiln_cgroup_enter(const struct kiln_cgroup *cg, char *err, size_t len)
{
	const char *dirs[2] = {cg->mem, cg->pids};
	const char *file = cg->kind == KILN_CGROUP_V1 ? "tasks" : "cgroup.procs";

	for (int i = 0; i < 2; i++)
		if (cg->kind != KILN_CGROUP_NONE && dirs[i][0] && put(dirs[i], file, "0") < 0) {
			snprintf(err, len, "cannot move the step into %s: %s", dirs[i], strerror(errno));
			return -1;
		}
	return 0;
}

unsigned long long
kiln_cgroup_peak(const struct kiln_cgroup *cg)
{
	char buf[64];
	const char *file = cg->kind == KILN_CGROUP_V2 ? "memory.peak" : "memory.max_usage_in_bytes";

	unsigned long long n;

	if (cg->kind == KILN_CGROUP_NONE || get(cg->mem, file, buf, sizeof(buf)) < 0)
		return 0;
	n = strtoull(buf, NULL, 10);
	return n > cg->base_usage ? n - cg->base_usage : 0;
}

unsigned long
kiln_cgroup_oom_kills(const struct kiln_cgroup *cg)
{
	if (cg->kind == KILN_CGROUP_NONE)
		return 0;
	return (unsigned long)(keyed(cg->mem, cg->kind == KILN_CGROUP_V2 ? "memory.events" : "memory.oom_control",
	    "oom_kill") - cg->base_ooms);
}

unsigned long
kiln_cgroup_forks_refused(const struct kiln_cgroup *cg)
{
	if (!kiln_cgroup_has_pids(cg))
		return 0;
	return (unsigned long)(keyed(cg->kind == KILN_CGROUP_V2 ? cg->mem : cg->pids, "pids.events", "max") -
	    cg->base_forks);
}

int
kiln_cgroup_has_pids(const struct kiln_cgroup *cg)
{
	return cg->kind == KILN_CGROUP_V2 || (cg->kind == KILN_CGROUP_V1 && cg->pids[0]);
}

const char *
kiln_cgroup_describe(const struct kiln_cgroup *cg)
{
	switch (cg->kind) {
	case KILN_CGROUP_V2:
		return "cgroup v2: memory.max, pids.max";
	case KILN_CGROUP_V1:
		return cg->pids[0] ? "cgroup v1: memory, pids" : "cgroup v1: memory; processes by RLIMIT_NPROC";
	default:
		return "none";
	}
}

/*
 * A killed task leaves its group only at the end of its exit, after the
 * kernel has torn down the namespaces it held; for the sandbox's init that
 * takes milliseconds that kiln-run need not wait. So when the group is not
 * empty at once, a child of its own removes it, holding none of kiln-run's
 * descriptors (kiln reads the step's pipes until every writer is gone).
 */
void
kiln_cgroup_remove(struct kiln_cgroup *cg)
{
	const char *dirs[2] = {cg->pids, cg->mem};
	int left = 0, i;

	if (cg->kind == KILN_CGROUP_NONE || cg->slot) {
		cg->kind = KILN_CGROUP_NONE;
		return;
	}
	cg->kind = KILN_CGROUP_NONE;
	for (i = 0; i < 2; i++)
		left |= dirs[i][0] && try_remove(dirs[i], 1) < 0;
	if (!left || fork() != 0)
		return;
	closefrom(0);
	for (i = 0; i < 2; i++)
		if (dirs[i][0])
			remove_group(dirs[i]);
	_exit(0);
}
