/*
 * util: memory, errors, strings, files and folders shared by all of kiln.
 */
#ifndef KILN_UTIL_H
#define KILN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Program name used in messages ("kiln"). */
extern const char *kiln_argv0;

/*
 * Print "kiln: message" and exit 2. A format that ends in ':' gets
 * ": strerror(errno)" appended. For what cannot continue: out of memory,
 * broken invariants.
 */
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
/* Print "kiln: error: message" and return -1, for the caller to pass up. */
__attribute__((format(printf, 1, 2))) int error(const char *fmt, ...);
/*
 * Have hook(message) called with each error()'s text as well (NULL: none):
 * for a command that also reports errors elsewhere, such as verify --json.
 */
void set_error_hook(void (*hook)(const char *msg));
/* Print "kiln: warning: message". */
__attribute__((format(printf, 1, 2))) void warn(const char *fmt, ...);

/*
 * Say what failed into err (len bytes) and return -1, for code that reports
 * to its caller rather than to stderr. A format ending in ':' gets
 * ": strerror(errno)" appended.
 */
__attribute__((format(printf, 3, 4))) int errf(char *err, size_t len, const char *fmt, ...);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* realloc to n*size bytes, dying on overflow. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);

/* A growable byte buffer; always NUL-terminated. */
struct buf {
	char *s;
	size_t len, cap;
};
#define BUF_INIT {NULL, 0, 0}
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
/* Take the buffer's string; the buffer is left empty. */
char *buf_detach(struct buf *b);

/*
 * An arena: many small allocations freed together. Used where lifetimes
 * are the build graph's.
 */
struct arena {
	struct arena_block *head;
};
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_release(struct arena *a);

/* Files. These return -1 and leave errno set on failure. */

/* Read a whole file; *len gets its size. The result is NUL-terminated. */
char *read_file(const char *path, size_t *len);
/* Read fd to its end, as read_file does; fd stays open. */
char *read_all(int fd, size_t *len);
/* Read fd, which must be a regular file (EINVAL if not), to its end, and close it. */
char *read_regular(int fd, size_t *len);
/*
 * Write a file atomically: a temporary file in the same folder, fsync'd if
 * `sync`, then renamed over `path`. A reader sees the old or the new bytes.
 */
int write_file_atomic(const char *path, const void *data, size_t len, int mode, int sync);
/* The same from n pieces, written in order (v is used up: its entries are advanced). */
struct iovec;
int write_file_atomic_iov(const char *path, struct iovec *v, size_t n, int mode, int sync);
/* Write all of a buffer to fd, retrying on short writes and EINTR. */
int write_all(int fd, const void *data, size_t len);
/* mkdir -p. */
int mkdir_p(const char *path, int mode);
/* rm -rf; making read-only folders writable as needed. */
int remove_tree(const char *path);
/*
 * Copy a file's bytes (with FICLONE when the file system can) to a new file
 * `to`, giving it `mode`; what was at `to`, a link included, is replaced.
 */
int copy_file(const char *from, const char *to, int mode);
/* The same from an open file, read from its current offset. */
int copy_fd(int in, const char *to, int mode);
/* in's bytes from its offset appended to the open file out (a reflink when both are whole files and it can). */
int copy_fd_fd(int in, int out);
/* Like copy_file, but only by reflink (FICLONE): -1 (nothing left at `to`) where the file system cannot. */
int clone_file(const char *from, const char *to, int mode);
/* path joined with name; a new string. */
char *path_join(const char *dir, const char *name);
/*
 * Is `path` a safe relative path: not empty nor absolute, no "", "." or ".."
 * component (so no "//" and no trailing "/"), no control character?
 */
int path_is_safe_relative(const char *path);

/* qsort that accepts an empty (even NULL) array, which qsort itself must not be given. */
void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* Nanoseconds of a timespec. */
int64_t ns_of(const struct timespec *ts);
/* Monotonic time in seconds. */
double now_seconds(void);

/* Parse "512M", "2G", "10k" or a plain byte count; -1 if bad. */
long long parse_size(const char *s);
/* Parse "30m", "2h", "90s", "1.5h" or plain seconds; -1 if bad. */
double parse_duration(const char *s);
/* Human-readable size: "1.5 MiB". Writes into buf. */
const char *format_size(char *buf, size_t len, unsigned long long n);

/*
 * The signal asking kiln to stop (SIGINT, SIGTERM, SIGHUP) if one is
 * pending, else 0. Where kiln blocks them (a build reads them from a
 * signalfd; push and pull block them too), they wait as pending, and a long
 * transfer looks here rather than making them wait for its end.
 */
int pending_signal(void);

/*
 * Call fn(arg, i) for every i in [0, n), on up to one thread per CPU
 * ($KILN_THREADS caps it; 1 runs them here, in order). fn must be safe to
 * run on several threads at once. Returns when every call has.
 */
void parallel_for(size_t n, void (*fn)(void *arg, size_t i), void *arg);
/* Free a NULL-terminated array of malloc'd strings, and the array. */
void strv_free(char **v);

/*
 * With failure injection built in (fault.h), a call into util counts for
 * the module that makes it: each notes its file and line first. util.c and
 * fs.c, which define these and call each other, set KILN_FAULT_INSIDE.
 */
#if defined(KILN_FAULT) && !defined(KILN_FAULT_INSIDE)
#include "fault.h"
#define xmalloc(n) KILN_FAULT_AT(xmalloc(n))
#define xcalloc(n, size) KILN_FAULT_AT(xcalloc(n, size))
#define xreallocarray(p, n, size) KILN_FAULT_AT(xreallocarray(p, n, size))
#define xstrdup(s) KILN_FAULT_AT(xstrdup(s))
#define xstrndup(s, n) KILN_FAULT_AT(xstrndup(s, n))
#define xasprintf(...) KILN_FAULT_AT(xasprintf(__VA_ARGS__))
#define buf_grow(b, extra) KILN_FAULT_AT(buf_grow(b, extra))
#define buf_add(b, p, n) KILN_FAULT_AT(buf_add(b, p, n))
#define buf_adds(b, s) KILN_FAULT_AT(buf_adds(b, s))
#define buf_addc(b, c) KILN_FAULT_AT(buf_addc(b, c))
#define buf_printf(...) KILN_FAULT_AT(buf_printf(__VA_ARGS__))
#define buf_detach(b) KILN_FAULT_AT(buf_detach(b))
#define arena_alloc(a, n) KILN_FAULT_AT(arena_alloc(a, n))
#define arena_strdup(a, s) KILN_FAULT_AT(arena_strdup(a, s))
#define arena_strndup(a, s, n) KILN_FAULT_AT(arena_strndup(a, s, n))
#define read_file(path, len) KILN_FAULT_AT(read_file(path, len))
#define read_all(fd, len) KILN_FAULT_AT(read_all(fd, len))
#define read_regular(fd, len) KILN_FAULT_AT(read_regular(fd, len))
#define write_file_atomic(path, data, len, mode, sync) KILN_FAULT_AT(write_file_atomic(path, data, len, mode, sync))
#define write_file_atomic_iov(path, v, n, mode, sync) KILN_FAULT_AT(write_file_atomic_iov(path, v, n, mode, sync))
#define write_all(fd, data, len) KILN_FAULT_AT(write_all(fd, data, len))
#define mkdir_p(path, mode) KILN_FAULT_AT(mkdir_p(path, mode))
#define remove_tree(path) KILN_FAULT_AT(remove_tree(path))
#define copy_file(from, to, mode) KILN_FAULT_AT(copy_file(from, to, mode))
#define copy_fd(in, to, mode) KILN_FAULT_AT(copy_fd(in, to, mode))
#define copy_fd_fd(in, out) KILN_FAULT_AT(copy_fd_fd(in, out))
#define path_join(dir, name) KILN_FAULT_AT(path_join(dir, name))
#endif

#endif
