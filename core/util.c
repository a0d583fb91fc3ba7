/*
 * util: memory, errors, strings, files and folders shared by all of kiln.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#define KILN_FAULT_INSIDE
#include "fault.h"
#include "util.h"

const char *kiln_argv0 = "kiln";

static void (*error_hook)(const char *msg);

void
set_error_hook(void (*hook)(const char *msg))
{
	error_hook = hook;
}

static void
vmessage(const char *prefix, const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n > 0 && fmt[n - 1] == ':') {
		size_t m = strlen(msg);

		snprintf(msg + m, sizeof(msg) - m, " %s", strerror(saved));
	}
	if (error_hook && strcmp(prefix, "error: ") == 0)
		error_hook(msg);
	fprintf(stderr, "%s: %s%s\n", kiln_argv0, prefix, msg);
	errno = saved;
}

void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	exit(2);
}

int
error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("error: ", fmt, ap);
	va_end(ap);
	return -1;
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("warning: ", fmt, ap);
	va_end(ap);
}

int
errf(char *err, size_t len, const char *fmt, ...)
{
	int saved = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (n > 0 && err[n - 1] == ':')
		snprintf(err + n, len - n, " %s", strerror(saved));
	return -1;
}

void *
xmalloc(size_t n)
{
	void *p = fault_alloc() ? NULL : malloc(n ? n : 1);

	if (!p)
		die("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = fault_alloc() ? NULL : calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory");
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		die("allocation of %zu x %zu bytes overflows", n, size);
	n *= size;
	p = fault_alloc() ? NULL : realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (fault_alloc() || vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

void
buf_grow(struct buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		die("buffer too large");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	b->cap = b->cap ? b->cap : 64;
	while (b->cap < need)
		b->cap *= 2;
	b->s = xreallocarray(b->s, b->cap, 1);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("bad format");
	buf_grow(b, n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

void
buf_release(struct buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

char *
buf_detach(struct buf *b)
{
	char *s = b->s ? b->s : xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

/* n bytes at the given alignment (a power of two); a string needs none. */
static void *
arena_take(struct arena *a, size_t n, size_t align)
{
	struct arena_block *b = a->head;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

	if (!b || at > b->size || b->size - at < n) {
		size_t size = n > 60000 ? n : 60000;

		b = xmalloc(sizeof(*b) + size);
		b->size = size;
		b->next = a->head;
		a->head = b;
		at = 0;
	}
	b->used = at + n;
	return (char *)b->data + at;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	return arena_take(a, n, sizeof(max_align_t));
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_take(a, n + 1, 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void
arena_release(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

char *
read_all(int fd, size_t *len)
{
	struct buf b = BUF_INIT;
	struct stat st;
	ssize_t n;

	/* One allocation of the right size for regular files; grow for the rest. */
	buf_grow(&b, fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096);
	for (;;) {
		if (b.cap - b.len - 1 == 0)
			buf_grow(&b, 65536);
		n = read(fd, b.s + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			buf_release(&b);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		b.len += n;
	}
	b.s[b.len] = '\0';
	if (len)
		*len = b.len;
	return b.s;
}

char *
read_regular(int fd, size_t *len)
{
	struct stat st;
	char *text = NULL;
	int saved;

	if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || (errno = EINVAL, 0)))
		text = read_all(fd, len);
	saved = errno;
	close(fd);
	errno = saved;
	return text;
}

char *
read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), saved;
	char *s;

	if (fd < 0)
		return NULL;
	s = read_all(fd, len);
	saved = errno;
	close(fd);
	errno = saved;
	return s;
}

int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = fault_write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Write all of v[0..n) to fd, in writev calls of at most IOV_MAX pieces; v is used up. */
static int
writev_all(int fd, struct iovec *v, size_t n)
{
	while (n > 0) {
		ssize_t w = FAULT_FAIL(KILN_FAULT_WRITE) ? -1 : writev(fd, v, n < IOV_MAX ? (int)n : IOV_MAX);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		for (; n > 0 && (size_t)w >= v->iov_len; v++, n--)
			w -= (ssize_t)v->iov_len;
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
write_file_atomic(const char *path, const void *data, size_t len, int mode, int sync)
{
	struct iovec v = {(void *)data, len};

	return write_file_atomic_iov(path, &v, 1, mode, sync);
}

int
write_file_atomic_iov(const char *path, struct iovec *v, size_t n, int mode, int sync)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd, saved;

	/* The temporary name is guessable: a link planted there is removed, not followed. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		goto fail;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	if (writev_all(fd, v, n) < 0 || (sync && fault_fsync(fd) < 0)) {
		saved = errno;
		close(fd);
		errno = saved;
		goto fail;
	}
	if (close(fd) < 0 || fault_rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	saved = errno;
	unlink(tmp);
	free(tmp);
	errno = saved;
	return -1;
}

int
mkdir_p(const char *path, int mode)
{
	char *p = xstrdup(path), *s;
	struct stat st;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		free(p);
		return -1;
	}
	free(p);
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

int
remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	if (!(st.st_mode & S_IWUSR))
		chmod(path, st.st_mode | S_IRWXU);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char *child;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = path_join(path, e->d_name);
		if (remove_tree(child) < 0)
			r = -1;
		free(child);
	}
	closedir(d);
	if (rmdir(path) < 0)
		r = -1;
	return r;
}

int
copy_fd_fd(int in, int out)
{
	char buf[1 << 16];
	ssize_t n;

	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		if (write_all(out, buf, n) < 0)
			return -1;
	}
}

/* Copy in's bytes to a new file `to` (a reflink if it can); only a reflink when clone_only. */
static int
copy_or_clone(int in, const char *to, int mode, int clone_only)
{
	int out, saved;

	/* A file or link left at `to` is replaced, never written through. */
	if (unlink(to) < 0 && errno != ENOENT)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	if (clone_only ? ioctl(out, FICLONE, in) < 0 : copy_fd_fd(in, out) < 0)
		goto fail;
	if (fchmod(out, mode) < 0 || close(out) < 0) {
		out = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (out >= 0)
		close(out);
	unlink(to);
	errno = saved;
	return -1;
}

int
copy_fd(int in, const char *to, int mode)
{
	return copy_or_clone(in, to, mode, 0);
}

int
clone_file(const char *from, const char *to, int mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), r, saved;

	if (in < 0)
		return -1;
	r = copy_or_clone(in, to, mode, 1);
	saved = errno;
	close(in);
	errno = saved;
	return r;
}

int
copy_file(const char *from, const char *to, int mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), r, saved;

	if (in < 0)
		return -1;
	r = copy_fd(in, to, mode);
	saved = errno;
	close(in);
	errno = saved;
	return r;
}

char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	size_t slash, m = strlen(name);
	char *p;

	if (n == 0 || strcmp(dir, ".") == 0)
		return xstrdup(name);
	/* By hand: a folder walk joins once per file, and xasprintf cost a third of a no-op status. */
	slash = dir[n - 1] != '/';
	p = xmalloc(n + slash + m + 1);
	memcpy(p, dir, n);
	p[n] = '/';
	memcpy(p + n + slash, name, m + 1);
	return p;
}

int
path_is_safe_relative(const char *path)
{
	const char *p = path;

	if (!*path || *path == '/')
		return 0;
	for (p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (p = path;;) {
		const char *end = strchrnul(p, '/');

		if (end == p || (end - p == 1 && p[0] == '.') || (end - p == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!*end)
			return 1;
		p = end + 1;
	}
}

void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

int64_t
ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

long long
parse_size(const char *s)
{
	char *end;
	double v;
	long long mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || isinf(v))
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1LL << 10; end++; break;
	case 'm': case 'M': mul = 1LL << 20; end++; break;
	case 'g': case 'G': mul = 1LL << 30; end++; break;
	case 't': case 'T': mul = 1LL << 40; end++; break;
	}
	if (*end == 'i' && mul > 1)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * mul > 9e18)
		return -1;
	return (long long)(v * mul);
}

double
parse_duration(const char *s)
{
	char *end;
	double v, mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || isinf(v))
		return -1;
	switch (*end) {
	case 's': end++; break;
	case 'm': mul = 60; end++; break;
	case 'h': mul = 3600; end++; break;
	case 'd': mul = 86400; end++; break;
	}
	return *end ? -1 : v * mul;
}

const char *
format_size(char *buf, size_t len, unsigned long long n)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < LEN(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

int
pending_signal(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	sigset_t p;
	size_t i;

	if (sigpending(&p) < 0)
		return 0;
	for (i = 0; i < LEN(sigs); i++)
		if (sigismember(&p, sigs[i]))
			return sigs[i];
	return 0;
}

void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

struct pfor {
	size_t n, next;		/* next: taken atomically */
	void (*fn)(void *, size_t);
	void *arg;
};

static void *
pfor_worker(void *v)
{
	struct pfor *p = v;
	size_t i;

	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n)
		p->fn(p->arg, i);
	return NULL;
}

void
parallel_for(size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
	struct pfor p = {n, 0, fn, arg};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	const char *cap = getenv("KILN_THREADS");
	pthread_t th[64];
	size_t nt, i, started = 0;

	if (cap && atol(cap) > 0 && atol(cap) < cpus)
		cpus = atol(cap);
	/* Below a few dozen calls a thread costs more than it saves. */
	nt = cpus < 1 ? 1 : (size_t)cpus;
	if (nt > LEN(th))
		nt = LEN(th);
	if (nt > n / 32)
		nt = n / 32;
	for (i = 1; i < nt; i++)
		started += pthread_create(&th[started], NULL, pfor_worker, &p) == 0;
	pfor_worker(&p);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}
