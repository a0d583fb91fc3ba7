/*
 * rootfs: the step's root file system. See rootfs.h.
 *
 * Every path the step may see is resolved by the caller in the host's view
 * of the file system and opened (O_PATH) once the namespaces exist; init
 * mounts those descriptors. So symlinks resolve as the host sees them, and
 * folders on the way to an input need no permission the step itself lacks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootfs.h"
#include "sandbox.h"
#include "util.h"

#define WS KILN_SANDBOX_WS

/* How a thing appears inside. */
enum kind {
	RO,	/* bound read-only */
	RW,	/* bound writable (the output folder) */
	DEV,	/* a device node, bound as it is */
	COPY,	/* a small file, copied: cheaper than a mount to make and to tear down */
};

/* One thing to mount: a host object at a place inside. */
struct mnt {
	int fd;			/* O_PATH descriptor of src, opened in the namespaces */
	char *src;		/* real path outside */
	char *dst;		/* absolute path inside */
	uid_t uid;		/* owner of a writable one, given back afterwards */
	gid_t gid;
	int isdir;
	int kind;		/* enum kind */
	int sys;		/* part of every root (plan_system): a shared root holds it already */
};

struct kiln_rootfs {
	struct mnt *m;		/* sorted by dst, parents first */
	size_t nm, cap;
	char symlinks[8][2][64];	/* /bin -> usr/bin and friends */
	size_t nsym;
	int network;		/* the step keeps the host's network: its /etc files too */
	int asroot;		/* output folders are handed to NOBODY */
	int shared;		/* built on the job slot's shared root: the system mounts are there already */
};

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

/* Say what failed in err and return -1 (util.h). */
#define fail errf

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

/* ---- the plan, made by the caller ---- */

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
addmount(struct kiln_rootfs *r, const char *src, const char *dst, int kind, char *err, size_t len)
{
	struct stat st;
	struct mnt *m;

	if (stat(src, &st) < 0)
		return fail(err, len, "%s: %s", src, strerror(errno));
	if (r->nm == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		struct mnt *n = reallocarray(r->m, cap, sizeof(*n));

		if (!n)
			return fail(err, len, "out of memory");
		r->m = n;
		r->cap = cap;
	}
	m = &r->m[r->nm];
	m->src = strdup(src);
	m->dst = strdup(dst);
	if (!m->src || !m->dst) {
		free(m->src);
		free(m->dst);
		return fail(err, len, "out of memory");
	}
	r->nm++;
	m->fd = -1;
	m->sys = 0;
	m->isdir = S_ISDIR(st.st_mode);
	m->kind = kind;
	m->uid = st.st_uid;
	m->gid = st.st_gid;
	return 0;
}

/* Show host `src` at `dst` if it exists; a missing system file is not an error. */
static int
addsys(struct kiln_rootfs *r, const char *src, const char *dst, int kind, char *err, size_t len)
{
	char real[PATH_MAX];

	if (!realpath(src, real))
		return errno == ENOENT ? 0 : fail(err, len, "%s: %s", src, strerror(errno));
	return addmount(r, real, dst, kind, err, len);
}

static int plan_system_mounts(struct kiln_rootfs *r, char *err, size_t len);

/* The mounts every root holds, marked as such. */
static int
plan_system(struct kiln_rootfs *r, char *err, size_t len)
{
	size_t i;

	if (plan_system_mounts(r, err, len) < 0)
		return -1;
	for (i = 0; i < r->nm; i++)
		r->m[i].sys = 1;
	return 0;
}

static int
plan_system_mounts(struct kiln_rootfs *r, char *err, size_t len)
{
	char src[64], dst[64];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(sysdirs) / sizeof(*sysdirs); i++) {
		snprintf(src, sizeof(src), "/%s", sysdirs[i]);
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(src, r->symlinks[r->nsym][1], sizeof(r->symlinks[0][1]) - 1);

			/* Only short relative links like usr/bin are copied; anything else is bound. */
			if (n > 0 && (size_t)n < sizeof(r->symlinks[0][1]) - 1 &&
			    r->symlinks[r->nsym][1][0] != '/') {
				r->symlinks[r->nsym][1][n] = '\0';
				fmt(r->symlinks[r->nsym++][0], sizeof(r->symlinks[0][0]), "%s", src);
				continue;
			}
		}
		if (addsys(r, src, src, RO, err, len) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(etcfiles) / sizeof(*etcfiles); i++) {
		if (etcfiles[i].network && !r->network)
			continue;
		snprintf(src, sizeof(src), "/etc/%s", etcfiles[i].name);
		if (addsys(r, src, src, etcfiles[i].kind, err, len) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(devices) / sizeof(*devices); i++) {
		snprintf(src, sizeof(src), "/dev/%s", devices[i]);
		snprintf(dst, sizeof(dst), "/dev/%s", devices[i]);
		if (addsys(r, src, dst, DEV, err, len) < 0)
			return -1;
	}
	return 0;
}

/* Is dst inside one of the system folders, which every sandbox shows read-only? */
static int
in_system(const char *dst)
{
	char dir[64];
	size_t i;

	for (i = 0; i < sizeof(sysdirs) / sizeof(*sysdirs); i++) {
		snprintf(dir, sizeof(dir), "/%s", sysdirs[i]);
		if (under(dst, dir))
			return 1;
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
static void give_back(const char *dir, uid_t uid, gid_t gid, int depth);

static int
plan_bind(struct kiln_rootfs *r, const char *ws, const struct kiln_sandbox_bind *b, char *err, size_t len)
{
	char rel[PATH_MAX], host[PATH_MAX], real[PATH_MAX], dst[PATH_MAX];
	if (normalize(b->path, rel, sizeof(rel)) < 0)
		return fail(err, len, "'%s': paths with '..' cannot be bound", b->path);
	if (b->path[0] == '/' && !under(b->path, ws)) {
		if (fmt(host, sizeof(host), "/%s", rel) < 0 || fmt(dst, sizeof(dst), "%s", host) < 0)
			return fail(err, len, "'%s': path too long", b->path);
		/* A tool under /usr, /lib, … is in the sandbox already, read-only. */
		if (!b->writable && in_system(dst))
			return 0;
		if (reserved(dst))
			return fail(err, len, "'%s' would cover the sandbox's %s", b->path, dst);
	} else {
		const char *rp = b->path[0] == '/' ? rel + strlen(ws) - 1 : rel;

		while (*rp == '/')
			rp++;
		if (fmt(host, sizeof(host), "%s%s%s", ws, *rp ? "/" : "", rp) < 0 ||
		    fmt(dst, sizeof(dst), WS "%s%s", *rp ? "/" : "", rp) < 0)
			return fail(err, len, "'%s': path too long", b->path);
	}
	if (b->writable && mkdir(host, 0755) < 0 && errno != EEXIST)
		return fail(err, len, "cannot make output folder %s: %s", b->path, strerror(errno));
	if (!realpath(host, real))
		return fail(err, len, "declared path '%s': %s", b->path, strerror(errno));
	if (under(dst, WS) && !under(real, ws))
		return fail(err, len, "declared path '%s' leads outside the workspace, to %s", b->path, real);
	if (addmount(r, real, dst, b->writable ? RW : RO, err, len) < 0)
		return -1;
	if (b->writable && r->asroot && chown(real, KILN_SANDBOX_NOBODY, KILN_SANDBOX_NOBODY) < 0)
		return fail(err, len, "cannot hand output folder %s to the sandbox: %s", b->path,
		    strerror(errno));
	/* A checkpoint folder holds the files of an earlier run: they are handed over too. */
	if (b->writable && r->asroot)
		give_back(real, KILN_SANDBOX_NOBODY, KILN_SANDBOX_NOBODY, 0);
	return 0;
}

/* A device node (a GPU's) or a folder of them, shown as /dev/<its name>. */
static int
plan_device(struct kiln_rootfs *r, const char *src, char *err, size_t len)
{
	const char *name = strrchr(src, '/');
	char dst[PATH_MAX];

	if (!name || !name[1] || fmt(dst, sizeof(dst), "/dev/%s", name + 1) < 0)
		return fail(err, len, "device '%s': expected an absolute path", src);
	return addmount(r, src, dst, DEV, err, len);
}

static int
mntcmp(const void *a, const void *b)
{
	return strcmp(((const struct mnt *)a)->dst, ((const struct mnt *)b)->dst);
}

struct kiln_rootfs *
kiln_rootfs_plan(const struct kiln_sandbox *sb, int asroot, char *err, size_t len)
{
	struct kiln_rootfs *r = calloc(1, sizeof(*r));
	char ws[PATH_MAX];
	size_t i;

	if (!r) {
		fail(err, len, "out of memory");
		return NULL;
	}
	r->network = sb->network;
	r->asroot = asroot;
	if (!sb->workspace || !realpath(sb->workspace, ws)) {
		fail(err, len, "workspace %s: %s", sb->workspace ? sb->workspace : "(none)",
		    strerror(sb->workspace ? errno : EINVAL));
		goto bad;
	}
	if (plan_system(r, err, len) < 0)
		goto bad;
	for (i = 0; i < sb->nbinds; i++)
		if (plan_bind(r, ws, &sb->binds[i], err, len) < 0)
			goto bad;
	for (i = 0; sb->devices && sb->devices[i]; i++)
		if (plan_device(r, sb->devices[i], err, len) < 0)
			goto bad;
	/* Parents before children, so a nested bind lands on its parent's mount. */
	qsort(r->m, r->nm, sizeof(*r->m), mntcmp);
	return r;
bad:
	kiln_rootfs_free(r);
	return NULL;
}

/*
 * This happens after unshare(CLONE_NEWNS): a bind mount's source must belong
 * to the namespace it is mounted in.
 */
int
kiln_rootfs_open(struct kiln_rootfs *r, char *err, size_t len)
{
	size_t i;

	for (i = 0; i < r->nm; i++) {
		if (r->m[i].kind == COPY || (r->shared && r->m[i].sys))
			continue;
		r->m[i].fd = open(r->m[i].src, O_PATH | O_CLOEXEC);
		if (r->m[i].fd < 0)
			return fail(err, len, "cannot open %s:", r->m[i].src);
	}
	return 0;
}

void
kiln_rootfs_close(struct kiln_rootfs *r)
{
	size_t i;

	for (i = 0; i < r->nm; i++)
		if (r->m[i].fd >= 0) {
			close(r->m[i].fd);
			r->m[i].fd = -1;
		}
}

void
kiln_rootfs_free(struct kiln_rootfs *r)
{
	size_t i;

	if (!r)
		return;
	kiln_rootfs_close(r);
	for (i = 0; i < r->nm; i++) {
		free(r->m[i].src);
		free(r->m[i].dst);
	}
	free(r->m);
	free(r);
}

/* ---- init: building the root ---- */

static int
mkdirs(const char *path, char *err, size_t len)
{
	char buf[PATH_MAX];
	char *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return fail(err, len, "mkdir %s:", buf);
			*s = '/';
		}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return fail(err, len, "mkdir %s:", buf);
	return 0;
}

/* An empty file or folder to mount over, unless the place exists already. */
static int
mountpoint(const struct mnt *m, const char *at, char *err, size_t len)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	if (access(at, F_OK) == 0)
		return 0;
	snprintf(parent, sizeof(parent), "%s", at);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdirs(parent, err, len) < 0)
			return -1;
	}
	if (m->isdir)
		return mkdir(at, 0755) < 0 ? fail(err, len, "mkdir %s:", m->dst) : 0;
	fd = open(at, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, len, "cannot make a place for %s:", m->dst);
	close(fd);
	return 0;
}

/*
 * Make the mount at `at` read-only, and with `tree` everything below it.
 * mount_setattr does a whole tree in one call and keeps the flags the user
 * namespace locked; the remount fallback must name those flags itself.
 */
static int
readonly(const char *at, const char *what, int tree, char *err, size_t len)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;
	struct statvfs vfs;

	if (mount_setattr(AT_FDCWD, at, tree ? AT_RECURSIVE : 0, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return fail(err, len, "cannot make %s read-only:", what);
	if (statvfs(at, &vfs) == 0) {
		flags |= vfs.f_flag & ST_NOEXEC ? MS_NOEXEC : 0;
		flags |= vfs.f_flag & ST_NOATIME ? MS_NOATIME : 0;
		flags |= vfs.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0;
		flags |= vfs.f_flag & ST_RELATIME ? MS_RELATIME : 0;
	}
	if (mount(NULL, at, NULL, flags, NULL) < 0)
		return fail(err, len, "cannot make %s read-only:", what);
	return 0;
}

/* Copy a small host file into the new root (the host's tree is still visible). */
static int
copy_in(const struct mnt *m, const char *at, char *err, size_t len)
{
	char buf[65536];
	int in = open(m->src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return fail(err, len, "cannot read %s:", m->src);
	out = open(at, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return fail(err, len, "cannot copy %s:", m->src);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return fail(err, len, "cannot copy %s:", m->src);
	if (n < 0)
		return fail(err, len, "cannot read %s:", m->src);
	close(in);
	close(out);
	return 0;
}

static int
bind_one(const struct mnt *m, char *err, size_t len)
{
	char src[64], at[PATH_MAX];

	/* The new root is the current folder until pivot_root: drop the leading '/'. */
	snprintf(at, sizeof(at), "%s", m->dst + 1);
	if (m->kind == COPY)
		return copy_in(m, at, err, len);
	if (mountpoint(m, at, err, len) < 0)
		return -1;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", m->fd);
	if (mount(src, at, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(err, len, "cannot bind %s:", m->dst);
	/* A device on a read-only mount still reads and writes: only RO needs the flag. */
	if (m->kind == RO)
		return readonly(at, m->dst, 1, err, len);
	if (m->kind == RW &&
	    mount(NULL, at, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) < 0 && errno != EPERM)
		return fail(err, len, "cannot bind %s:", m->dst);
	return 0;
}

static int
writefile(const char *path, const char *text, char *err, size_t len)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		return fail(err, len, "cannot write %s:", path);
	close(fd);
	return 0;
}

/* A passwd and group that name only the step's user, so no host account leaks. */
static int
make_etc(char *err, size_t len)
{
	char passwd[256], group[128];

	snprintf(passwd, sizeof(passwd),
	    "root:x:0:0:root:/root:/bin/sh\nkiln:x:%d:%d:kiln:/tmp:/bin/sh\n"
	    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", KILN_SANDBOX_UID, KILN_SANDBOX_GID);
	snprintf(group, sizeof(group), "root:x:0:\nkiln:x:%d:\nnogroup:x:65534:\n", KILN_SANDBOX_GID);
	if (mkdirs("etc", err, len) < 0 || writefile("etc/passwd", passwd, err, len) < 0 ||
	    writefile("etc/group", group, err, len) < 0 || writefile("etc/hostname", "kiln\n", err, len) < 0 ||
	    writefile("etc/hosts", "127.0.0.1\tlocalhost kiln\n::1\tlocalhost ip6-localhost\n", err, len) < 0)
		return -1;
	return writefile("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n", err, len);
}

static int
make_dev(char *err, size_t len)
{
	static const char *const links[][2] = {
		{"dev/fd", "/proc/self/fd"}, {"dev/stdin", "/proc/self/fd/0"},
		{"dev/stdout", "/proc/self/fd/1"}, {"dev/stderr", "/proc/self/fd/2"},
		/* POSIX semaphores and shared memory live in /dev/shm: give them the private /tmp. */
		{"dev/shm", "/tmp"},
	};
	size_t i;

	if (mkdirs("dev", err, len) < 0)
		return -1;
	for (i = 0; i < sizeof(links) / sizeof(*links); i++)
		if (symlink(links[i][1], links[i][0]) < 0)
			return fail(err, len, "symlink %s:", links[i][0]);
	return 0;
}

/*
 * A root's own mounts, relative to the current folder (the new root): a
 * private /tmp of tmp_bytes (0: none, for a shared root, whose steps mount
 * their own) and a new /proc.
 */
static int
mount_own(unsigned long long tmp_bytes, char *err, size_t len)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "mode=1777,size=%llu", tmp_bytes);
	if (tmp_bytes && mount("tmp", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return fail(err, len, "cannot mount /tmp:");
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return fail(err, len, "cannot mount /proc:");
	return 0;
}

/* The new root's own folders: the system symlinks, /etc, /dev, /tmp, /proc and WS. */
static int
make_skeleton(const struct kiln_rootfs *r, unsigned long long tmp_bytes, char *err, size_t len)
{
	size_t i;

	for (i = 0; i < r->nsym; i++)
		if (symlink(r->symlinks[i][1], r->symlinks[i][0] + 1) < 0)
			return fail(err, len, "symlink %s:", r->symlinks[i][0]);
	if (make_etc(err, len) < 0 || make_dev(err, len) < 0 || mkdirs("tmp", err, len) < 0 ||
	    mkdirs("proc", err, len) < 0 || mount_own(tmp_bytes, err, len) < 0)
		return -1;
	return mkdirs(&WS[1], err, len);
}

/*
 * Build the new root on a tmpfs mounted over /tmp (any folder would do; the
 * bind sources are descriptors, so what it hides does not matter), then make
 * it the root and drop the host's tree.
 */
int
kiln_rootfs_build(const struct kiln_rootfs *r, unsigned long long tmp_bytes, char *err, size_t len)
{
	size_t i;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, len, "cannot make mounts private:");
	if (mount("kiln", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m") < 0)
		return fail(err, len, "cannot mount the sandbox's root (tmpfs):");
	if (chdir("/tmp") < 0)
		return fail(err, len, "chdir to the new root:");
	if (make_skeleton(r, tmp_bytes, err, len) < 0)
		return -1;
	for (i = 0; i < r->nm; i++)
		if (bind_one(&r->m[i], err, len) < 0)
			return -1;
	/* pivot_root(".", ".") stacks the old root on the new; detaching it leaves the new. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, len, "pivot_root:");
	if (umount2(".", MNT_DETACH) < 0)
		return fail(err, len, "cannot detach the host's file system:");
	if (chdir("/") < 0)
		return fail(err, len, "chdir /:");
	if (readonly("/", "/", 0, err, len) < 0)
		return -1;
	if (chdir(WS) < 0)
		return fail(err, len, "chdir " WS ":");
	return 0;
}

/* ---- a job slot's shared root ---- */

/*
 * In a child of `kiln-run --netns`, pid 1 of new pid and mount namespaces
 * inside the job slot's user namespace:
 * build what every root holds (the skeleton, /etc, /dev, the system
 * folders), make it the root, detach the host's tree and make the root
 * read-only down to its tmpfs. Its /proc is this pid namespace's, empty
 * once the child has gone; a step mounts its own over it, which the kernel
 * allows only where a /proc is fully visible already.
 */
static int
build_base(char *err, size_t len)
{
	struct kiln_sandbox sb = {.workspace = "/"};
	struct kiln_rootfs *r;
	int rc = -1;

	if (setresgid(KILN_SANDBOX_GID, KILN_SANDBOX_GID, KILN_SANDBOX_GID) < 0 ||
	    setresuid(KILN_SANDBOX_UID, KILN_SANDBOX_UID, KILN_SANDBOX_UID) < 0)
		return fail(err, len, "cannot become the sandbox's user:");
	r = kiln_rootfs_plan(&sb, 0, err, len);
	if (r && kiln_rootfs_open(r, err, len) == 0 && kiln_rootfs_build(r, 0, err, len) == 0) {
		/* The superblock too: not even kiln's init, which holds capabilities over it, can write it. */
		rc = mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
		if (rc < 0)
			fail(err, len, "cannot make the shared root read-only:");
	}
	kiln_rootfs_free(r);
	return rc;
}

/* The child of kiln_rootfs_make_base: build the root, say so on `ready`, and stay until `hold` ends. */
__attribute__((noreturn)) static void
hold_base(int ready, int hold)
{
	char err[256], c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (build_base(err, sizeof(err)) < 0) {
		fprintf(stderr, "kiln-run: the job slot's shared root: %s\n", err);
		_exit(1);
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	close(ready);
	while (read(hold, &c, 1) > 0)
		;
	_exit(0);
}

int
kiln_rootfs_make_base(pid_t *holder, int *release, char *err, size_t len)
{
	int ready[2], hold[2], st;
	char c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return fail(err, len, "pipe:");
	if (pipe2(hold, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return fail(err, len, "pipe:");
	}
	/*
	 * The root is the child's alone: the caller keeps the host's tree and
	 * pid namespace (LeakSanitizer, at its exit, reads /proc and forks).
	 * The caller has one thread, so a raw clone leaves the child no lock.
	 */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		hold_base(ready[1], hold[0]);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid > 0 && read(ready[0], &c, 1) == 1) {
		close(ready[0]);
		*holder = pid;
		*release = hold[1];
		return 0;
	}
	close(ready[0]);
	close(hold[1]);
	if (pid < 0)
		return fail(err, len, "clone:");
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return fail(err, len, "see above");
}

int
kiln_rootfs_share(struct kiln_rootfs *r)
{
	size_t i;

	for (i = 0; i < r->nm; i++)
		if (!r->m[i].sys && (r->m[i].kind == DEV || !under(r->m[i].dst, WS) || strcmp(r->m[i].dst, WS) == 0))
			return 0;
	r->shared = !r->network;
	return r->shared;
}

/* Clone one of the step's own mounts from the host's tree, detached, with the flags it will have. */
static int
clone_one(struct mnt *m, char *err, size_t len)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	int tree = open_tree(m->fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);

	if (tree < 0)
		return fail(err, len, "cannot clone %s:", m->dst);
	close(m->fd);
	m->fd = tree;
	if (m->kind == RO)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	/* As bind_one does: an input read-only all the way down, the output folder as it is if that is refused. */
	if (mount_setattr(tree, "", AT_EMPTY_PATH | (m->kind == RO ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0 &&
	    (m->kind == RO || errno != EPERM))
		return fail(err, len, "cannot make %s %s:", m->dst, m->kind == RO ? "read-only" : "nosuid");
	return 0;
}

static int
attach_one(const struct mnt *m, char *err, size_t len)
{
	char at[PATH_MAX];

	snprintf(at, sizeof(at), "%s", m->dst + 1);
	if (mountpoint(m, at, err, len) < 0)
		return -1;
	if (move_mount(m->fd, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail(err, len, "cannot attach %s:", m->dst);
	return 0;
}

/* WS: a tmpfs for the mount points, read-only once they are made. */
static int
attach_workspace(const struct kiln_rootfs *r, char *err, size_t len)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	size_t i;
	int ws, rc = 0;

	if (mount("kiln", &WS[1], "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return fail(err, len, "cannot mount " WS ":");
	ws = open(&WS[1], O_PATH | O_CLOEXEC);
	if (ws < 0)
		return fail(err, len, "cannot open " WS ":");
	for (i = 0; i < r->nm && rc == 0; i++)
		if (!r->m[i].sys)
			rc = attach_one(&r->m[i], err, len);
	/* Through the descriptor: the tmpfs itself, whatever is mounted on it. */
	if (rc == 0 && mount_setattr(ws, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		rc = fail(err, len, "cannot make " WS " read-only:");
	close(ws);
	return rc;
}

int
kiln_rootfs_join(struct kiln_rootfs *r, int mntns, unsigned long long tmp_bytes, char *err, size_t len)
{
	size_t i;

	for (i = 0; i < r->nm; i++)
		if (!r->m[i].sys && clone_one(&r->m[i], err, len) < 0)
			return -1;
	if (setns(mntns, CLONE_NEWNS) < 0)
		return fail(err, len, "cannot join the job slot's root:");
	/* A copy of our own: what the step mounts goes when it does, and nothing needs detaching. */
	if (unshare(CLONE_NEWNS) < 0)
		return fail(err, len, "cannot copy the job slot's root:");
	if (chdir("/") < 0)
		return fail(err, len, "chdir /:");
	if (mount_own(tmp_bytes, err, len) < 0 || attach_workspace(r, err, len) < 0)
		return -1;
	kiln_rootfs_close(r);
	if (chdir(WS) < 0)
		return fail(err, len, "chdir " WS ":");
	return 0;
}

/* ---- while and once the step runs ---- */

/* Deepest folder a measure looks into; each level holds a descriptor. */
#define MAXDEPTH 64

/* What a walk of the output folders found. */
struct usage {
	unsigned long long bytes;	/* blocks in use, as du counts them */
	unsigned long long largest;	/* the largest file's size */
};

/*
 * Add what folder dfd holds to u, following no link; closes dfd. Init,
 * which measures, keeps its capabilities in the step's user namespace (the
 * step drops them), so a folder the step made unreadable (chmod 000)
 * hides nothing; should opening one fail all the same, the folder is the
 * step's own (only its uid is mapped), and its owner's bits are set again.
 */
static void
walk(int dfd, struct usage *u, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	struct stat st;

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		int fd;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		u->bytes += (unsigned long long)st.st_blocks * 512;
		if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > u->largest)
			u->largest = (unsigned long long)st.st_size;
		if (!S_ISDIR(st.st_mode) || depth >= MAXDEPTH)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == EACCES && fchmodat(dirfd(d), e->d_name, (st.st_mode & 07777) | S_IRWXU, 0) == 0)
			fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			walk(fd, u, depth + 1);
	}
	closedir(d);
}

void
kiln_rootfs_usage(const struct kiln_rootfs *r, unsigned long long *used, unsigned long long *largest,
    unsigned long long *tmp_free)
{
	struct usage u = {0, 0};
	struct statvfs vfs;
	size_t i;

	for (i = 0; i < r->nm; i++)
		if (r->m[i].kind == RW)
			walk(open(r->m[i].dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), &u, 0);
	/* /tmp is the sandbox's own tmpfs: what it holds is what the file system says is used. */
	if (tmp_free)
		*tmp_free = ULLONG_MAX;
	if (statvfs("/tmp", &vfs) == 0) {
		u.bytes += (unsigned long long)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
		if (tmp_free)
			*tmp_free = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	}
	*used = u.bytes;
	*largest = u.largest;
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

void
kiln_rootfs_give_back(const struct kiln_rootfs *r)
{
	size_t i;

	for (i = 0; r->asroot && i < r->nm; i++)
		if (r->m[i].kind == RW)
			give_back(r->m[i].src, r->m[i].uid, r->m[i].gid, 0);
}
