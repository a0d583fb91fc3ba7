/*
 * sandbox: confine one plugin run. See sandbox.h, and docs/sandbox.md for
 * what a step sees and why.
 *
 * kiln_sandbox_enter() leaves a tree of processes:
 *
 *	caller (kiln-run)	maps ids, compiles the filter, waits, then exits
 *				or dies as the step did
 *	  [setup]		only when the caller has threads: unshares, waits
 *	    init (pid 1)	builds the root, reaps, answers refused calls
 *	      step (pid 2)	makes its network namespace, returns 0 and runs
 *				the plugin
 *
 * A caller without threads clone()s init straight into the namespaces. One
 * with threads (OpenBLAS starts its pool when a plugin linking it is
 * loaded) cannot: a raw clone() could leave the child a lock another thread
 * held, and unshare(CLONE_NEWUSER) refuses a threaded process; so it forks
 * setup, which unshares and forks init. The step is not pid 1 because the
 * kernel drops signals like SIGXCPU that are sent to a namespace's init, and
 * because init must outlive it to report how it ended.
 *
 * Every path the step may see is resolved by the caller in the host's view
 * of the file system and opened (O_PATH) once the namespaces exist; init
 * mounts those descriptors. So symlinks resolve as the host sees them, and
 * folders on the way to an input need no permission the step itself lacks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "sandbox.h"
#include "util.h"

/* Where the workspace appears inside, so host paths do not leak into outputs. */
#define WS "/workspace"
/* The step's user and group inside; files it makes belong to the caller outside. */
#define IN_UID 1000
#define IN_GID 1000
/* Who a step runs as on the host when kiln runs as root (see plan_make). */
#define NOBODY 65534

#define MAXBPF 1024
#define MAXREFUSALS 20

/* Defaults when the target sets no limit. */
#define DEF_CPU (24UL * 3600)
#define DEF_FSIZE (16ULL << 30)
#define DEF_NPROC 1024UL

/* One thing to mount: a host object at a place inside. */
struct mnt {
	int fd;			/* O_PATH descriptor of src, opened in the namespaces */
	char *src;		/* real path outside */
	char *dst;		/* absolute path inside */
	uid_t uid;		/* owner of a writable one, given back afterwards */
	gid_t gid;
	int isdir;
	int kind;		/* enum kind */
};

/* How a thing appears inside. */
enum kind {
	RO,	/* bound read-only */
	RW,	/* bound writable (the output folder) */
	DEV,	/* a device node, bound as it is */
	COPY,	/* a small file, copied: cheaper than a mount to make and to tear down */
};

/* The seccomp filter as BPF, compiled by the caller while init builds the root. */
struct filter {
	int notify;		/* refused calls go to init (else a plain EPERM) */
	int n;
	struct sock_filter prog[MAXBPF];
};

/* What the caller works out before forking; the children only read it. */
struct plan {
	struct mnt *m;		/* sorted by dst, parents first */
	size_t nm, cap;
	char symlinks[8][2][64];	/* /bin -> usr/bin and friends */
	size_t nsym;
	int network;
	unsigned long long mem, fsize;
	unsigned long cpu, nproc;
	uid_t hostuid;		/* the step's uid outside */
	gid_t hostgid;
	int asroot;		/* kiln runs as root: the step runs as NOBODY */
	pid_t caller;
	int report;		/* write end of the report pipe */
	int sync;		/* the children's end of the caller's socket */
	struct filter filter;
};

/* What init tells the caller: a setup failure, or how the step ended. */
struct report {
	int kind;
	int status;		/* wait status of the step */
	char msg[500];
};
enum { REPORT_ERROR = 1, REPORT_STATUS };

/* The root's system folders, bound read-only when present. */
static const char *const sysdirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};

/*
 * What programs need from /etc to start and find their libraries, and no
 * secrets: ld.so reads only its cache at run time, and Debian reaches
 * OpenBLAS through /etc/alternatives. passwd, group, hosts and nsswitch.conf
 * are written afresh (make_etc). The rest are for network = true.
 */
static const struct {
	const char *name;
	int kind;
	int network;
} etcfiles[] = {
	{"ld.so.cache", COPY, 0}, {"alternatives", RO, 0},
	{"resolv.conf", COPY, 1}, {"host.conf", COPY, 1}, {"gai.conf", COPY, 1},
	{"ssl/certs", RO, 1}, {"ca-certificates", RO, 1},
};

static const char *const devices[] = {"null", "zero", "full", "random", "urandom"};

__attribute__((format(printf, 3, 4))) static int
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* snprintf that says when the result did not fit. */
__attribute__((format(printf, 3, 4))) static int
fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * In a child: tell the caller why setup failed and exit. A format ending in
 * ':' gets strerror(errno) appended.
 */
__attribute__((noreturn, format(printf, 2, 3))) static void
childfail(const struct plan *p, const char *fmt, ...)
{
	struct report r = {.kind = REPORT_ERROR};
	int saved = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	n = strlen(r.msg);
	if (n > 0 && r.msg[n - 1] == ':')
		snprintf(r.msg + n, sizeof(r.msg) - n, " %s", strerror(saved));
	if (write(p->report, &r, sizeof(r)) < 0)
		_exit(126);
	_exit(127);
}

/* Why the kernel would not make the namespaces, and what the user can do. */
static const char *
ns_message(char *buf, size_t len, int e)
{
	const char *why = e == EPERM || e == EACCES ? "user namespaces are not allowed here"
		: e == ENOSPC ? "the limit on user namespaces is reached (or 0)"
		: e == EINVAL ? "this kernel lacks user, mount, pid or network namespaces"
		: "the kernel refused";

	snprintf(buf, len, "cannot create the sandbox's namespaces: %s (unshare: %s); see "
	    "/proc/sys/user/max_user_namespaces, and kernel.unprivileged_userns_clone or "
	    "kernel.apparmor_restrict_unprivileged_userns where they exist, or the container's "
	    "seccomp profile; --sandbox=off builds without the sandbox", why, strerror(e));
	return buf;
}

__attribute__((noreturn)) static void
no_namespaces(const struct plan *p, int e)
{
	char msg[sizeof(((struct report *)0)->msg)];

	childfail(p, "%s", ns_message(msg, sizeof(msg), e));
}

/* Collapse "a//./b/" to "a/b"; refuse "..", which could climb out. */
static int
normalize(const char *in, char *out, size_t len)
{
	size_t o = 0;
	const char *s = in;

	while (*s) {
		const char *e = strchrnul(s, '/');
		size_t n = (size_t)(e - s);

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return -1;
		if (n > 0 && !(n == 1 && s[0] == '.')) {
			if (o + n + 2 > len)
				return -1;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, s, n);
			o += n;
		}
		s = *e ? e + 1 : e;
	}
	out[o] = '\0';
	return 0;
}

/* Is `path` `dir` or below it? */
static int
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int
addmount(struct plan *p, const char *src, const char *dst, int kind, char *err, size_t len)
{
	struct stat st;
	struct mnt *m;

	if (stat(src, &st) < 0)
		return seterr(err, len, "%s: %s", src, strerror(errno));
	if (p->nm == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 32;
		struct mnt *n = reallocarray(p->m, cap, sizeof(*n));

		if (!n)
			return seterr(err, len, "out of memory");
		p->m = n;
		p->cap = cap;
	}
	m = &p->m[p->nm];
	m->src = strdup(src);
	m->dst = strdup(dst);
	if (!m->src || !m->dst) {
		free(m->src);
		free(m->dst);
		return seterr(err, len, "out of memory");
	}
	p->nm++;
	m->fd = -1;
	m->isdir = S_ISDIR(st.st_mode);
	m->kind = kind;
	m->uid = st.st_uid;
	m->gid = st.st_gid;
	return 0;
}

/* Show host `src` at `dst` if it exists; a missing system file is not an error. */
static int
addsys(struct plan *p, const char *src, const char *dst, int kind, char *err, size_t len)
{
	char real[PATH_MAX];

	if (!realpath(src, real))
		return errno == ENOENT ? 0 : seterr(err, len, "%s: %s", src, strerror(errno));
	return addmount(p, real, dst, kind, err, len);
}

static int
plan_system(struct plan *p, char *err, size_t len)
{
	char src[64], dst[64];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(sysdirs) / sizeof(*sysdirs); i++) {
		snprintf(src, sizeof(src), "/%s", sysdirs[i]);
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(src, p->symlinks[p->nsym][1], sizeof(p->symlinks[0][1]) - 1);

			/* Only short relative links like usr/bin are copied; anything else is bound. */
			if (n > 0 && (size_t)n < sizeof(p->symlinks[0][1]) - 1 &&
			    p->symlinks[p->nsym][1][0] != '/') {
				p->symlinks[p->nsym][1][n] = '\0';
				fmt(p->symlinks[p->nsym++][0], sizeof(p->symlinks[0][0]), "%s", src);
				continue;
			}
		}
		if (addsys(p, src, src, RO, err, len) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(etcfiles) / sizeof(*etcfiles); i++) {
		if (etcfiles[i].network && !p->network)
			continue;
		snprintf(src, sizeof(src), "/etc/%s", etcfiles[i].name);
		if (addsys(p, src, src, etcfiles[i].kind, err, len) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(devices) / sizeof(*devices); i++) {
		snprintf(src, sizeof(src), "/dev/%s", devices[i]);
		snprintf(dst, sizeof(dst), "/dev/%s", devices[i]);
		if (addsys(p, src, dst, DEV, err, len) < 0)
			return -1;
	}
	return 0;
}

/* Places a declared path may not cover: the sandbox's own furniture. */
static int
reserved(const char *dst)
{
	static const char *const own[] = {"/usr", "/etc", "/dev", "/proc", "/bin", "/sbin", "/lib", "/lib64", WS};
	size_t i;

	if (strcmp(dst, "/") == 0 || strcmp(dst, "/tmp") == 0)
		return 1;
	for (i = 0; i < sizeof(own) / sizeof(*own); i++)
		if (under(dst, own[i]))
			return 1;
	return 0;
}

/*
 * One declared path. Relative paths, and absolute ones inside the workspace,
 * appear under WS; other absolute paths appear where they are on the host.
 * A relative path must stay inside the workspace once symlinks are followed,
 * or an output that is a symlink could smuggle a host file into a later step.
 */
static int
plan_bind(struct plan *p, const char *ws, const struct kiln_sandbox_bind *b, char *err, size_t len)
{
	char rel[PATH_MAX], host[PATH_MAX], real[PATH_MAX], dst[PATH_MAX];
	if (normalize(b->path, rel, sizeof(rel)) < 0)
		return seterr(err, len, "'%s': paths with '..' cannot be bound", b->path);
	if (b->path[0] == '/' && !under(b->path, ws)) {
		if (fmt(host, sizeof(host), "/%s", rel) < 0 || fmt(dst, sizeof(dst), "%s", host) < 0)
			return seterr(err, len, "'%s': path too long", b->path);
		if (reserved(dst))
			return seterr(err, len, "'%s' would cover the sandbox's %s", b->path, dst);
	} else {
		const char *r = b->path[0] == '/' ? rel + strlen(ws) - 1 : rel;

		while (*r == '/')
			r++;
		if (fmt(host, sizeof(host), "%s%s%s", ws, *r ? "/" : "", r) < 0 ||
		    fmt(dst, sizeof(dst), WS "%s%s", *r ? "/" : "", r) < 0)
			return seterr(err, len, "'%s': path too long", b->path);
	}
	if (b->writable && mkdir(host, 0755) < 0 && errno != EEXIST)
		return seterr(err, len, "cannot make output folder %s: %s", b->path, strerror(errno));
	if (!realpath(host, real))
		return seterr(err, len, "declared path '%s': %s", b->path, strerror(errno));
	if (under(dst, WS) && !under(real, ws))
		return seterr(err, len, "declared path '%s' leads outside the workspace, to %s", b->path, real);
	if (addmount(p, real, dst, b->writable ? RW : RO, err, len) < 0)
		return -1;
	if (b->writable && p->asroot && chown(real, NOBODY, NOBODY) < 0)
		return seterr(err, len, "cannot hand output folder %s to the sandbox: %s", b->path,
		    strerror(errno));
	return 0;
}

static int
mntcmp(const void *a, const void *b)
{
	return strcmp(((const struct mnt *)a)->dst, ((const struct mnt *)b)->dst);
}

static void
plan_release(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nm; i++)
		if (p->m[i].fd >= 0) {
			close(p->m[i].fd);
			p->m[i].fd = -1;
		}
}

/* Close the descriptors and free the plan. */
static void
plan_free(struct plan *p)
{
	size_t i;

	plan_release(p);
	for (i = 0; i < p->nm; i++) {
		free(p->m[i].src);
		free(p->m[i].dst);
	}
	free(p->m);
	free(p);
}

/*
 * Root of the machine, not root of a user namespace: only that root may map
 * NOBODY, and only it escapes RLIMIT_NPROC.
 */
static int
init_userns(void)
{
	unsigned long a = 1, b = 1, n = 0;
	FILE *f = fopen("/proc/self/uid_map", "re");

	if (f) {
		if (fscanf(f, "%lu %lu %lu", &a, &b, &n) != 3)
			n = 0;
		fclose(f);
	}
	return a == 0 && b == 0 && n == 4294967295UL;
}

/*
 * A default limit, which the machine's owner may change in the environment
 * (a CI box with less room, say); a target's own resources win.
 */
static unsigned long long
envlimit(const char *name, unsigned long long def)
{
	const char *v = getenv(name);
	long long n = v && *v ? parse_size(v) : -1;

	return n > 0 ? (unsigned long long)n : def;
}

static int
plan_make(struct plan *p, const struct kiln_sandbox *sb, char *err, size_t len)
{
	char ws[PATH_MAX];
	size_t i;

	p->network = sb->network;
	/*
	 * As root, the step runs as NOBODY on the host: the kernel does not
	 * apply RLIMIT_NPROC to uid 0 (a fork bomb would not stop), and root
	 * would own every root-owned file it can see.
	 */
	p->asroot = geteuid() == 0 && init_userns();
	p->hostuid = p->asroot ? NOBODY : geteuid();
	p->hostgid = p->asroot ? NOBODY : getegid();
	p->mem = sb->mem_bytes ? sb->mem_bytes
			       : envlimit("KILN_SANDBOX_MEM", (unsigned long long)sysconf(_SC_PHYS_PAGES) *
						  (unsigned long long)sysconf(_SC_PAGESIZE));
	p->fsize = sb->fsize_bytes ? sb->fsize_bytes : envlimit("KILN_SANDBOX_FSIZE", DEF_FSIZE);
	p->cpu = sb->cpu_seconds ? sb->cpu_seconds : (unsigned long)envlimit("KILN_SANDBOX_CPU", DEF_CPU);
	p->nproc = sb->nproc ? sb->nproc : (unsigned long)envlimit("KILN_SANDBOX_NPROC", DEF_NPROC);
	p->caller = getpid();
	if (!sb->workspace || !realpath(sb->workspace, ws))
		return seterr(err, len, "workspace %s: %s", sb->workspace ? sb->workspace : "(none)",
		    strerror(sb->workspace ? errno : EINVAL));
	if (plan_system(p, err, len) < 0)
		return -1;
	for (i = 0; i < sb->nbinds; i++)
		if (plan_bind(p, ws, &sb->binds[i], err, len) < 0)
			return -1;
	/* Parents before children, so a nested bind lands on its parent's mount. */
	qsort(p->m, p->nm, sizeof(*p->m), mntcmp);
	return 0;
}

/*
 * Open what will be mounted. This happens after unshare(CLONE_NEWNS): a bind
 * mount's source must belong to the namespace it is mounted in.
 */
static void
plan_open(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->nm; i++) {
		if (p->m[i].kind == COPY)
			continue;
		p->m[i].fd = open(p->m[i].src, O_PATH | O_CLOEXEC);
		if (p->m[i].fd < 0)
			childfail(p, "cannot open %s:", p->m[i].src);
	}
}

/* ---- init: building the root ---- */

static void
mkdirs(const struct plan *p, const char *path)
{
	char buf[PATH_MAX];
	char *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				childfail(p, "mkdir %s:", buf);
			*s = '/';
		}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		childfail(p, "mkdir %s:", buf);
}

/* An empty file or folder to mount over, unless the place exists already. */
static void
mountpoint(const struct plan *p, const struct mnt *m, const char *at)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	if (access(at, F_OK) == 0)
		return;
	snprintf(parent, sizeof(parent), "%s", at);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		mkdirs(p, parent);
	}
	if (m->isdir) {
		if (mkdir(at, 0755) < 0)
			childfail(p, "mkdir %s:", m->dst);
		return;
	}
	fd = open(at, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		childfail(p, "cannot make a place for %s:", m->dst);
	close(fd);
}

/*
 * Make the mount at `at` read-only, and with `tree` everything below it.
 * mount_setattr does a whole tree in one call and keeps the flags the user
 * namespace locked; the remount fallback must name those flags itself.
 */
static void
readonly(const struct plan *p, const char *at, const char *what, int tree)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
	struct statvfs vfs;

	if (mount_setattr(AT_FDCWD, at, tree ? AT_RECURSIVE : 0, &attr, sizeof(attr)) == 0)
		return;
	if (errno != ENOSYS)
		childfail(p, "cannot make %s read-only:", what);
	if (statvfs(at, &vfs) == 0) {
		flags |= vfs.f_flag & ST_NOEXEC ? MS_NOEXEC : 0;
		flags |= vfs.f_flag & ST_NOATIME ? MS_NOATIME : 0;
		flags |= vfs.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0;
		flags |= vfs.f_flag & ST_RELATIME ? MS_RELATIME : 0;
	}
	if (mount(NULL, at, NULL, flags, NULL) < 0)
		childfail(p, "cannot make %s read-only:", what);
}

/* Copy a small host file into the new root (the host's tree is still visible). */
static void
copy_in(const struct plan *p, const struct mnt *m, const char *at)
{
	char buf[65536];
	int in = open(m->src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		childfail(p, "cannot read %s:", m->src);
	out = open(at, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		childfail(p, "cannot copy %s:", m->src);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			childfail(p, "cannot copy %s:", m->src);
	if (n < 0)
		childfail(p, "cannot read %s:", m->src);
	close(in);
	close(out);
}

static void
bind_one(const struct plan *p, const struct mnt *m)
{
	char src[64], at[PATH_MAX];

	/* The new root is the current folder until pivot_root: drop the leading '/'. */
	snprintf(at, sizeof(at), "%s", m->dst + 1);
	if (m->kind == COPY) {
		copy_in(p, m, at);
		return;
	}
	mountpoint(p, m, at);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", m->fd);
	if (mount(src, at, NULL, MS_BIND | MS_REC, NULL) < 0)
		childfail(p, "cannot bind %s:", m->dst);
	/* A device on a read-only mount still reads and writes: only RO needs the flag. */
	if (m->kind == RO)
		readonly(p, at, m->dst, 1);
	else if (m->kind == RW &&
	    mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) < 0 && errno != EPERM)
		childfail(p, "cannot bind %s:", m->dst);
}

static void
writefile(const struct plan *p, const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		childfail(p, "cannot write %s:", path);
	close(fd);
}

/* A passwd and group that name only the step's user, so no host account leaks. */
static void
make_etc(const struct plan *p)
{
	char line[256];

	mkdirs(p, "etc");
	snprintf(line, sizeof(line),
	    "root:x:0:0:root:/root:/bin/sh\nkiln:x:%d:%d:kiln:/tmp:/bin/sh\n"
	    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", IN_UID, IN_GID);
	writefile(p, "etc/passwd", line);
	snprintf(line, sizeof(line), "root:x:0:\nkiln:x:%d:\nnogroup:x:65534:\n", IN_GID);
	writefile(p, "etc/group", line);
	writefile(p, "etc/hostname", "kiln\n");
	writefile(p, "etc/hosts", "127.0.0.1\tlocalhost kiln\n::1\tlocalhost ip6-localhost\n");
	writefile(p, "etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n");
}

static void
make_dev(const struct plan *p)
{
	static const char *const links[][2] = {
		{"dev/fd", "/proc/self/fd"}, {"dev/stdin", "/proc/self/fd/0"},
		{"dev/stdout", "/proc/self/fd/1"}, {"dev/stderr", "/proc/self/fd/2"},
		/* POSIX semaphores and shared memory live in /dev/shm: give them the private /tmp. */
		{"dev/shm", "/tmp"},
	};
	size_t i;

	mkdirs(p, "dev");
	for (i = 0; i < sizeof(links) / sizeof(*links); i++)
		if (symlink(links[i][1], links[i][0]) < 0)
			childfail(p, "symlink %s:", links[i][0]);
}

/* A network namespace starts with lo down; bring it up so a step may talk to itself. */
static void
loopback_up(const struct plan *p)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		childfail(p, "socket:");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		childfail(p, "cannot read the loopback's flags:");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		childfail(p, "cannot bring up the loopback:");
	close(s);
}

/*
 * Build the new root on a tmpfs mounted over /tmp (any folder would do; the
 * bind sources are descriptors, so what it hides does not matter), then make
 * it the root and drop the host's tree.
 */
static void
make_root(const struct plan *p)
{
	char opts[64];
	size_t i;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		childfail(p, "cannot make mounts private:");
	if (mount("kiln", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m") < 0)
		childfail(p, "cannot mount the sandbox's root (tmpfs):");
	if (chdir("/tmp") < 0)
		childfail(p, "chdir to the new root:");
	for (i = 0; i < p->nsym; i++)
		if (symlink(p->symlinks[i][1], p->symlinks[i][0] + 1) < 0)
			childfail(p, "symlink %s:", p->symlinks[i][0]);
	make_etc(p);
	make_dev(p);
	mkdirs(p, "tmp");
	snprintf(opts, sizeof(opts), "mode=1777,size=%llu", p->mem);
	if (mount("tmp", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		childfail(p, "cannot mount /tmp:");
	mkdirs(p, "proc");
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		childfail(p, "cannot mount /proc:");
	mkdirs(p, &WS[1]);
	for (i = 0; i < p->nm; i++)
		bind_one(p, &p->m[i]);
	/* pivot_root(".", ".") stacks the old root on the new; detaching it leaves the new. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		childfail(p, "pivot_root:");
	if (umount2(".", MNT_DETACH) < 0)
		childfail(p, "cannot detach the host's file system:");
	if (chdir("/") < 0)
		childfail(p, "chdir /:");
	readonly(p, "/", "/", 0);
	if (chdir(WS) < 0)
		childfail(p, "chdir " WS ":");
}

/* ---- the step: last steps before the plugin runs ---- */

static void
setlimit(const struct plan *p, int res, rlim_t soft, rlim_t hard, const char *what)
{
	struct rlimit rl = {soft, hard};

	if (setrlimit(res, &rl) < 0)
		childfail(p, "cannot limit %s:", what);
}

/* Address space in use now, from /proc/self/statm; 0 if unknown. */
static unsigned long long
vmsize(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/*
 * The memory limit is address space the step may add to what kiln-run holds
 * already: an ASan-built kiln-run reserves terabytes before main(), and an
 * absolute limit would leave it none.
 */
static void
limits(const struct plan *p)
{
	unsigned long long as = vmsize() + p->mem;

	setlimit(p, RLIMIT_AS, as, as, "memory");
	/* The soft limit sends SIGXCPU, which a step may catch; the hard one kills. */
	setlimit(p, RLIMIT_CPU, p->cpu, p->cpu + 2, "CPU time");
	setlimit(p, RLIMIT_FSIZE, p->fsize, p->fsize, "file size");
	setlimit(p, RLIMIT_NPROC, p->nproc, p->nproc, "processes");
	setlimit(p, RLIMIT_CORE, 0, 0, "core dumps");
}

static void
drop_privileges(const struct plan *p)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0}};

	if (setresgid(IN_GID, IN_GID, IN_GID) < 0 || setresuid(IN_UID, IN_UID, IN_UID) < 0)
		childfail(p, "cannot become the sandbox's user:");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		childfail(p, "cannot set no_new_privs:");
	/*
	 * Capabilities in the user namespace would let the plugin remount its
	 * inputs writable; without them, and with no_new_privs and a uid that is
	 * not 0 inside, no exec can win them back.
	 */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) < 0)
		childfail(p, "cannot drop capabilities:");
}

/*
 * Close what the step must not inherit: a descriptor for a host folder or a
 * socket reaches around the namespaces, and one kiln itself inherited leads
 * who knows where. 0, 1 and 2 stay, and so do close-on-exec pipes: kiln's
 * status pipe, which kiln-run keeps from the programs a plugin runs.
 */
static void
close_inherited(const struct plan *p, int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat st;

	if (!d)
		childfail(p, "cannot list open files:");
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < 3 || fd == dirfd(d) || fd == keep)
			continue;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (fcntl(fd, F_GETFD) & FD_CLOEXEC))
			continue;
		close(fd);
	}
	closedir(d);
}

/* ---- the seccomp filter ---- */

/* Calls a build step has no business making. Names unknown to libseccomp are skipped. */
static const char *const refused[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	"mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"setns", "init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "bpf", "keyctl", "add_key", "request_key", "perf_event_open",
	"userfaultfd", "swapon", "swapoff", "reboot", "syslog", "acct", "quotactl",
	"quotactl_fd", "lookup_dcookie", "open_by_handle_at", "name_to_handle_at",
	"iopl", "ioperm", "uselib", "vhangup", "settimeofday", "clock_settime",
	"clock_adjtime", "adjtimex", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "fanotify_init", "nfsservctl", "_sysctl",
};

static const unsigned long nsflags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, 0x80 /* CLONE_NEWTIME */,
};

static int
add_rules(scmp_filter_ctx ctx, uint32_t act)
{
	size_t i;
	int r = 0;

	for (i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		int nr = seccomp_syscall_resolve_name(refused[i]);

		if (nr != __NR_SCMP_ERROR)
			r |= seccomp_rule_add(ctx, act, nr, 0);
	}
	for (i = 0; i < sizeof(nsflags) / sizeof(*nsflags); i++) {
		r |= seccomp_rule_add(ctx, act, SCMP_SYS(unshare), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, nsflags[i], nsflags[i]));
		/* In clone's flags 0x80 is part of the exit signal, not CLONE_NEWTIME. */
		if (nsflags[i] != 0x80)
			r |= seccomp_rule_add(ctx, act, SCMP_SYS(clone), 1,
			    SCMP_A0(SCMP_CMP_MASKED_EQ, nsflags[i], nsflags[i]));
	}
	/*
	 * personality() may only ask (0xffffffff), as sanitizer runtimes do at
	 * start. libseccomp cannot test one argument twice in a rule, so setting
	 * the default, PER_LINUX, is refused too; it is the default already.
	 */
	r |= seccomp_rule_add(ctx, act, SCMP_SYS(personality), 1, SCMP_A0(SCMP_CMP_NE, 0xffffffffUL, 0));
	r |= seccomp_rule_add(ctx, act, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_EQ, TIOCSTI, 0));
	/* vsock is not in the network namespace: in a VM it reaches the host. */
	r |= seccomp_rule_add(ctx, act, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, AF_VSOCK, 0));
	/* clone3 hides its flags in memory: ENOSYS makes libc fall back to clone. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return r;
}

static void
sendfd(const struct plan *p, int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte = 'n';
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		childfail(p, "cannot hand the seccomp listener to init:");
}

/* The listener the step sent, or -1 if it sent none. */
static int
recvfd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = {&byte, 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		.msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Compile the filter into p->filter. Refused calls become user
 * notifications that init answers with EPERM after logging which call it
 * was: unlike a SIGSYS handler this survives the plugin exec'ing a program,
 * and unlike SECCOMP_RET_LOG it needs no access to the kernel's audit log.
 * Where the kernel has no notifications (API level < 5) the calls get a
 * plain EPERM, unlogged. The caller does this while setup waits for the
 * kernel to make the namespaces, so libseccomp's compiling costs no time.
 */
static int
compile_filter(struct plan *p, char *err, size_t len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int pfd[2] = {-1, -1}, r = -1;
	ssize_t n = -1;

	p->filter.notify = seccomp_api_get() >= 5;
	if (ctx && add_rules(ctx, p->filter.notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM)) == 0 &&
	    pipe2(pfd, O_CLOEXEC) == 0 && seccomp_export_bpf(ctx, pfd[1]) == 0)
		n = read(pfd[0], p->filter.prog, sizeof(p->filter.prog));
	if (n > 0 && (size_t)n < sizeof(p->filter.prog) && n % sizeof(struct sock_filter) == 0) {
		p->filter.n = (int)(n / (ssize_t)sizeof(struct sock_filter));
		r = 0;
	} else {
		seterr(err, len, "cannot compile the seccomp filter");
	}
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	if (ctx)
		seccomp_release(ctx);
	return r;
}

/* Install the filter, last; hand init the listener for refused calls. */
static void
install_filter(const struct plan *p, int sock)
{
	struct sock_fprog prog = {(unsigned short)p->filter.n, (struct sock_filter *)p->filter.prog};
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    p->filter.notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);

	if (fd < 0)
		childfail(p, "cannot install the seccomp filter:");
	/* Only init may hold the listener: with it the plugin could let its own calls through. */
	if (p->filter.notify) {
		sendfd(p, sock, (int)fd);
		close((int)fd);
	}
}

/* LeakSanitizer checks at exit by ptrace, which the filter refuses: check now. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

/*
 * In the step (pid 2): its network namespace, made while init builds the
 * root, then, once init says the root is ready, the last confinement before
 * returning to the plugin.
 */
static void
run_step(struct plan *p, int sock)
{
	char c;

	if (!p->network && unshare(CLONE_NEWNET) < 0)
		no_namespaces(p, errno);
	if (!p->network)
		loopback_up(p);
	if (recv(sock, &c, 1, 0) != 1)
		_exit(1);
	/* The caller compiled the filter meanwhile. */
	if (recv(p->sync, &p->filter, sizeof(p->filter), 0) <= 0)
		childfail(p, "kiln-run sent no seccomp filter");
	close(p->sync);
	/* pivot_root moved our root along with init's; the working folder is ours to set. */
	if (chdir(WS) < 0)
		childfail(p, "chdir " WS ":");
	/* A new session has no terminal, so no TIOCSTI into the user's shell. */
	setsid();
	plan_release(p);
	drop_privileges(p);
	limits(p);
	close_inherited(p, sock);
	if (__lsan_do_leak_check)
		__lsan_do_leak_check();
	install_filter(p, sock);
	close(sock);
	/* Last: a plugin holding it could forge its own exit status. */
	close(p->report);
}

/* ---- init: waiting, answering, reporting ---- */

static void
log_refusal(const struct seccomp_notif *req)
{
	char path[64], comm[32] = "?";
	char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/comm", req->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, comm, sizeof(comm) - 1);

		comm[n > 0 ? n - 1 : 0] = '\0';
		close(fd);
	}
	fprintf(stderr, "kiln: sandbox: refused %s() by '%s' (pid %u)\n", name ? name : "?", comm, req->pid);
	free(name);
}

static void
answer(int nfd, struct seccomp_notif *req, struct seccomp_notif_resp *resp, int *count)
{
	memset(req, 0, sizeof(*req));
	if (seccomp_notify_receive(nfd, req) < 0)
		return;
	if (*count < MAXREFUSALS)
		log_refusal(req);
	else if (*count == MAXREFUSALS)
		fprintf(stderr, "kiln: sandbox: more calls refused; not logging them\n");
	(*count)++;
	memset(resp, 0, sizeof(*resp));
	resp->id = req->id;
	resp->error = -EPERM;
	seccomp_notify_respond(nfd, resp);
}

/* Tasks (threads included) alive in the namespace, as RLIMIT_NPROC counts them. */
static unsigned long
tasks_alive(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned long n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[1024], *s;
		unsigned long threads;
		ssize_t len;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* num_threads is the 18th field after the ')' that ends the name. */
		s = strrchr(buf, ')');
		if (s && sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %lu",
		    &threads) == 1)
			n += threads;
	}
	if (d)
		closedir(d);
	return n;
}

static int
big_file(const char *dir, unsigned long long limit, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[PATH_MAX];
	int found = 0;

	while (!found && d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size >= limit)
			found = 1;
		else if (S_ISDIR(st.st_mode) && depth < 8)
			found = big_file(path, limit, depth + 1);
	}
	if (d)
		closedir(d);
	return found;
}

static const char *
size_text(char *buf, size_t len, unsigned long long n)
{
	if (n >= 1ULL << 30 && n % (1ULL << 30) == 0)
		snprintf(buf, len, "%llu GiB", n >> 30);
	else if (n >= 1ULL << 20)
		snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
	else
		snprintf(buf, len, "%llu bytes", n);
	return buf;
}

/*
 * Say which limit stopped a failed step, where that can be known: the
 * signal the kernel sent, a file that reached the size limit, processes
 * still crowding the namespace, or a peak near the memory limit (an
 * allocation past RLIMIT_AS just fails, so the program's own message
 * comes first).
 */
static void
explain_end(const struct plan *p, int status, const struct rusage *ru)
{
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	double cpu = (double)ru->ru_utime.tv_sec + (double)ru->ru_stime.tv_sec +
		     (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
	unsigned long long peak = (unsigned long long)ru->ru_maxrss * 1024;
	char a[32], b[32];
	size_t i;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	/*
	 * The step may have run the command that got SIGXCPU and exited 1
	 * itself. rusage undercounts against the scheduler's clock the limit
	 * uses (by a quarter in a VM here), so half the limit counts.
	 */
	if (sig == SIGXCPU || cpu * 2 >= (double)p->cpu)
		fprintf(stderr, "kiln: sandbox: the step reached its CPU time limit (%lu s)\n", p->cpu);
	for (i = 0; i < p->nm; i++)
		if (p->m[i].kind == RW && (sig == SIGXFSZ || big_file(p->m[i].dst, p->fsize, 0))) {
			fprintf(stderr, "kiln: sandbox: the step reached its file size limit (%s)\n",
			    size_text(a, sizeof(a), p->fsize));
			break;
		}
	/*
	 * The kernel counts no refused forks, so judge by what is left: a step
	 * that ended with most of its process quota still alive ran into it.
	 */
	if (tasks_alive() * 4 >= p->nproc * 3)
		fprintf(stderr, "kiln: sandbox: the step reached its process limit (%lu)\n", p->nproc);
	if (peak >= p->mem / 2)
		fprintf(stderr, "kiln: sandbox: the step used %s of its memory limit (%s)\n",
		    size_text(a, sizeof(a), peak), size_text(b, sizeof(b), p->mem));
}

/*
 * Wait for the step, reaping whatever else ends (init inherits orphans) and
 * answering refused calls, then report how the step ended. When init exits
 * the kernel kills everything left in the namespace.
 */
static void
serve(const struct plan *p, pid_t step, int sfd, int nfd)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct report r = {.kind = REPORT_STATUS};
	struct pollfd fds[2] = {{sfd, POLLIN, 0}, {nfd, POLLIN, 0}};
	struct rusage ru, stepru = {0};
	int count = 0, done = 0, st;
	pid_t pid;

	if (nfd >= 0 && seccomp_notify_alloc(&req, &resp) < 0)
		fds[1].fd = -1;
	while (!done) {
		struct signalfd_siginfo si;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN)
			answer(nfd, req, resp, &count);
		else if (fds[1].revents)
			fds[1].fd = -1;
		if (!(fds[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
			break;
		while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0)
			if (pid == step) {
				r.status = st;
				stepru = ru;
				done = 1;
			}
	}
	if (req)
		seccomp_notify_free(req, resp);
	if (!done)
		childfail(p, "init lost sight of the step:");
	explain_end(p, r.status, &stepru);
	/* What the step left running dies now, so the caller need not wait for our exit. */
	kill(-1, SIGKILL);
	while (wait4(-1, NULL, 0, NULL) > 0 || errno == EINTR)
		;
	if (write(p->report, &r, sizeof(r)) < 0)
		_exit(126);
	_exit(0);
}

/*
 * Init (pid 1 of the new namespaces). It forks the step first, so the
 * kernel makes the step's network namespace (the costliest part) on one
 * CPU while init builds the root on the other. Returns only in the step.
 */
static void
run_init(struct plan *p, int life)
{
	struct pollfd pf = {life, POLLIN, 0};
	sigset_t chld, old;
	int sv[2], sfd, nfd;
	pid_t step;

	/* If our parent dies, so does init, and with it the namespace. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (life >= 0 && poll(&pf, 1, 0) != 0)
		_exit(1);
	if (life >= 0)
		close(life);
	if (sethostname("kiln", 4) < 0)
		childfail(p, "sethostname:");
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		childfail(p, "cannot set up init:");
	step = fork();
	if (step < 0)
		childfail(p, "fork:");
	if (step == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(sv[0]);
		close(sfd);
		run_step(p, sv[1]);
		return;
	}
	close(sv[1]);
	close(p->sync);
	make_root(p);
	plan_release(p);
	/* The root is ready: the step may go on. */
	if (send(sv[0], "r", 1, MSG_NOSIGNAL) != 1)
		childfail(p, "the step is gone:");
	nfd = recvfd(sv[0]);
	close(sv[0]);
	serve(p, step, sfd, nfd);
}

static int
write_map(pid_t pid, const char *file, const char *text, char *err, size_t len)
{
	char path[64];
	size_t n = strlen(text);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		seterr(err, len, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * The caller maps the step's ids into setup's new user namespace: an
 * ordinary user may map only itself, which it is; root maps NOBODY, which
 * only a process outside the namespace may do.
 */
static int
write_maps(const struct plan *p, pid_t setup, char *err, size_t len)
{
	char map[64];

	if (write_map(setup, "setgroups", "deny", err, len) < 0)
		return -1;
	snprintf(map, sizeof(map), "%d %d 1\n", IN_UID, (int)p->hostuid);
	if (write_map(setup, "uid_map", map, err, len) < 0)
		return -1;
	snprintf(map, sizeof(map), "%d %d 1\n", IN_GID, (int)p->hostgid);
	return write_map(setup, "gid_map", map, err, len);
}

/* The network namespace is made by the step itself: see run_init. */
static int
ns_flags(void)
{
	return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
}

/*
 * Once the id maps are written: open what will be mounted (a bind mount's
 * source must belong to the mount namespace it is mounted in), then become
 * the step's user, since only mapped ids may make files in the new root.
 * For root that moves us to NOBODY outside, so the opening comes first.
 */
static void
become(struct plan *p)
{
	plan_open(p);
	if (setresgid(IN_GID, IN_GID, IN_GID) < 0 || setresuid(IN_UID, IN_UID, IN_UID) < 0)
		childfail(p, "cannot become the sandbox's user:");
	/* Changing ids cleared it; without it /proc/self is root's. */
	prctl(PR_SET_DUMPABLE, 1);
}


/*
 * Setup: the first child. Makes the namespaces and waits for init. Returns
 * only in the step.
 */
static void
run_setup(struct plan *p, int sync)
{
	char c = 'u';
	int life[2], st;
	pid_t init;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != p->caller)
		_exit(1);
	/* Root's other groups would still open group-readable files; drop them. */
	if (p->asroot && setgroups(0, NULL) < 0)
		childfail(p, "setgroups:");
	if (unshare(ns_flags()) < 0)
		no_namespaces(p, errno);
	/* The caller writes our id maps; wait for it. */
	if (write(sync, &c, 1) != 1 || recv(sync, &c, 1, 0) != 1)
		_exit(1);
	p->sync = sync;
	become(p);
	if (pipe2(life, O_CLOEXEC) < 0)
		childfail(p, "pipe:");
	init = fork();
	if (init < 0)
		childfail(p, "fork:");
	if (init == 0) {
		close(life[1]);
		run_init(p, life[0]);
		return;
	}
	close(life[0]);
	close(p->report);
	close(p->sync);
	plan_release(p);
	while (waitpid(init, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 125);
}

/*
 * Init made directly by the caller's clone(), already in the namespaces.
 * The caller has no other threads, so nothing it holds can be left locked
 * here. Returns only in the step.
 */
static void
run_direct(struct plan *p, int sync)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The caller writes our id maps; if it died, we see EOF. */
	if (recv(sync, &c, 1, 0) != 1)
		_exit(1);
	p->sync = sync;
	become(p);
	run_init(p, -1);
}

/* Has this process one thread? (A task folder links "." and ".." besides.) */
static int
single_threaded(void)
{
	struct stat st;

	return stat("/proc/self/task", &st) == 0 && st.st_nlink == 3;
}

/* As root, the outputs were nobody's while the step ran: give them back. */
static void
give_back(const char *dir, uid_t uid, gid_t gid, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[PATH_MAX];

	if (lchown(dir, uid, gid) < 0 || !d) {
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 64)
			give_back(path, uid, gid, depth + 1);
		else
			lchown(path, uid, gid);
	}
	closedir(d);
}

/* End the caller as the step ended: the same exit code, or the same signal. */
__attribute__((noreturn)) static void
end_like(int status)
{
	struct rlimit nocore = {0, 0};
	sigset_t set;
	int sig;

	if (WIFEXITED(status))
		exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	/* No core file from kiln-run: the step's crash is not kiln-run's. */
	setrlimit(RLIMIT_CORE, &nocore);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	exit(128 + sig);
}

/*
 * The caller's part of setting up: once setup has unshared (init made
 * directly has), write the id maps, let the children go on, and compile and
 * send the filter while they build the sandbox. On failure, kill the child,
 * and with it the namespaces, and say why in `why` unless the child has
 * already reported it.
 */
static void
handshake(struct plan *p, pid_t setup, int sync, int direct, char *why, size_t len)
{
	char c = 'm';
	size_t n;

	if (!direct && read(sync, &c, 1) != 1)
		return;	/* setup failed; its report says why */
	if (write_maps(p, setup, why, len) < 0 || send(sync, &c, 1, MSG_NOSIGNAL) != 1 ||
	    compile_filter(p, why, len) < 0) {
		kill(setup, SIGKILL);
		return;
	}
	n = offsetof(struct filter, prog) + (size_t)p->filter.n * sizeof(struct sock_filter);
	if (send(sync, &p->filter, n, MSG_NOSIGNAL) < 0)
		why[0] = '\0';	/* the step is gone; the report says why */
}

/*
 * The caller: set up, wait for init's report, then end as the step did.
 * Returns only when the sandbox could not be made.
 */
static int
supervise(struct plan *p, pid_t setup, int rfd, int sync, int direct, char *err, size_t len)
{
	struct report r = {0};
	char why[sizeof(r.msg)] = "";
	ssize_t n;
	size_t i;
	int st = 0;

	handshake(p, setup, sync, direct, why, sizeof(why));
	close(sync);
	while ((n = read(rfd, &r, sizeof(r))) < 0 && errno == EINTR)
		;
	close(rfd);
	/*
	 * With a report, init has killed and reaped everything in the
	 * namespace: no need to wait while the kernel tears the namespaces down.
	 */
	while (waitpid(setup, &st, n == (ssize_t)sizeof(r) ? WNOHANG : 0) < 0 && errno == EINTR)
		;
	for (i = 0; p->asroot && i < p->nm; i++)
		if (p->m[i].kind == RW)
			give_back(p->m[i].src, p->m[i].uid, p->m[i].gid, 0);
	if (n == (ssize_t)sizeof(r) && r.kind == REPORT_ERROR)
		n = seterr(err, len, "%s", r.msg);
	else if (why[0])
		n = seterr(err, len, "%s", why);
	else if (n != (ssize_t)sizeof(r) || r.kind != REPORT_STATUS)
		n = seterr(err, len, "the sandbox ended before the step did (setup: %s %d)",
		    WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	plan_free(p);
	if (n < 0)
		return -1;
	end_like(r.status);
}

/*
 * A caller without threads clones init straight into the namespaces, which
 * saves the setup process. glibc's fork() cannot take namespace flags, and
 * its atfork handlers only matter with threads.
 */
static int
enter_direct(struct plan *p, int rep[2], int sync[2], char *err, size_t len)
{
	long pid;

	/* Root's other groups would still open group-readable files; drop them. */
	if (p->asroot && setgroups(0, NULL) < 0) {
		close(rep[0]);
		close(rep[1]);
		close(sync[0]);
		close(sync[1]);
		plan_free(p);
		return seterr(err, len, "setgroups: %s", strerror(errno));
	}
	pid = syscall(SYS_clone, ns_flags() | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(rep[0]);
		close(sync[0]);
		p->report = rep[1];
		run_direct(p, sync[1]);
		plan_free(p);
		return 0;
	}
	close(rep[1]);
	close(sync[1]);
	if (pid < 0) {
		int e = errno;

		close(rep[0]);
		close(sync[0]);
		plan_free(p);
		ns_message(err, len, e);
		return -1;
	}
	return supervise(p, (pid_t)pid, rep[0], sync[0], 1, err, len);
}

int
kiln_sandbox_enter(const struct kiln_sandbox *sb, char *err, size_t errlen)
{
	struct plan *p = calloc(1, sizeof(*p));
	int rep[2], sync[2];
	pid_t setup;

	if (!p)
		return seterr(err, errlen, "out of memory");
	if (plan_make(p, sb, err, errlen) < 0) {
		plan_free(p);
		return -1;
	}
	if (pipe2(rep, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0) {
		plan_free(p);
		return seterr(err, errlen, "pipe: %s", strerror(errno));
	}
	/* Buffered output would be written twice, once by each process. */
	fflush(NULL);
	if (single_threaded())
		return enter_direct(p, rep, sync, err, errlen);
	setup = fork();
	if (setup < 0) {
		close(rep[0]);
		close(rep[1]);
		close(sync[0]);
		close(sync[1]);
		plan_free(p);
		return seterr(err, errlen, "fork: %s", strerror(errno));
	}
	if (setup == 0) {
		close(rep[0]);
		close(sync[0]);
		p->report = rep[1];
		run_setup(p, sync[1]);
		plan_free(p);
		return 0;
	}
	close(rep[1]);
	close(sync[1]);
	return supervise(p, setup, rep[0], sync[0], 0, err, errlen);
}
