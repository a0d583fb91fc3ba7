/*
 * fault: failure injection for tests, in the manner of SQLite's: the Nth
 * write, rename, fsync or allocation that kiln's own code makes fails, with
 * the errno a full disk, a failing disk or exhausted memory would give.
 *
 * Only a build with -DKILN_FAULT has it (the sanitizer build, build-san/,
 * which the tests use, and `make FAULT=1`, build-fault/); in every other
 * build the macros below are the plain calls and cost nothing.
 *
 *	KILN_FAULT=KIND:N[+][@MODULE]
 *
 * KIND is write (ENOSPC), rename (EIO; linking a finished blob into the
 * cache counts as one), fsync (EIO) or alloc (ENOMEM, which kiln dies of). Only the Nth call of KIND fails; with '+', every one from
 * the Nth on (a disk that stays full). With @MODULE (state, cache, lock,
 * remote, graphcache, outputs, …: a core/ file without ".c") only calls
 * made from that module are counted. A call into util or fs counts for the
 * module that called it. N=0 fails nothing and only counts. KILN_FAULT_LOG=FILE
 * gets a line per injected failure, "fail KIND N MODULE:LINE" (with N=0,
 * "call KIND N MODULE:LINE" per call), and "calls KIND COUNT" at exit.
 * kiln takes both out of its environment, so a step does not inherit them.
 */
#ifndef KILN_FAULT_H
#define KILN_FAULT_H

enum kiln_fault_kind {
	KILN_FAULT_WRITE,
	KILN_FAULT_RENAME,
	KILN_FAULT_FSYNC,
	KILN_FAULT_ALLOC,
};

#ifdef KILN_FAULT
/* Is this call of kind, made at file:line, the one to fail? 1 with errno set, else 0. */
int kiln_fault_fail(int kind, const char *file, int line);
/* Note file:line as the site of a call into util or fs (see util.h), which counts for its caller. */
void kiln_fault_site(const char *file, int line);
#define FAULT_FAIL(kind) kiln_fault_fail(kind, __FILE__, __LINE__)
/* call, counted for the module at this file and line. */
#define KILN_FAULT_AT(call) (kiln_fault_site(__FILE__, __LINE__), call)
#else
#define FAULT_FAIL(kind) 0
#endif

/* The calls that may be made to fail. */
#define fault_write(fd, p, n) (FAULT_FAIL(KILN_FAULT_WRITE) ? -1 : write(fd, p, n))
#define fault_rename(from, to) (FAULT_FAIL(KILN_FAULT_RENAME) ? -1 : rename(from, to))
#define fault_renameat(fd1, from, fd2, to) (FAULT_FAIL(KILN_FAULT_RENAME) ? -1 : renameat(fd1, from, fd2, to))
#define fault_fsync(fd) (FAULT_FAIL(KILN_FAULT_FSYNC) ? -1 : fsync(fd))
#define fault_alloc() FAULT_FAIL(KILN_FAULT_ALLOC)

#endif
