/*
 * syscalls: the seccomp filter that refuses a step the calls it has no
 * business making, and init's side of it, which logs each refused call and
 * answers it with EPERM.
 *
 * The caller compiles the filter while init builds the root; the step
 * installs it last and hands the listener to init.
 */
#ifndef KILN_SYSCALLS_H
#define KILN_SYSCALLS_H

#include <stddef.h>
#include <linux/filter.h>

struct seccomp_notif;
struct seccomp_notif_resp;

/* Most BPF instructions a filter may have. */
#define KILN_SYSCALLS_MAXBPF 1024

/* The filter as BPF, sent as it is from the caller to the step. */
struct kiln_syscall_filter {
	int notify;		/* refused calls go to init (else a plain EPERM) */
	int n;			/* instructions in prog */
	struct sock_filter prog[KILN_SYSCALLS_MAXBPF];	/* the program */
};

/* Init's end of the filter: the listener and what answering needs. */
struct kiln_syscall_listener {
	int fd;				/* the listener; -1: none, nothing to answer */
	struct seccomp_notif *req;	/* one refused call, as the kernel tells it */
	struct seccomp_notif_resp *resp;	/* the answer to it */
	int count;			/* calls refused so far */
};

/* Compile the filter into *f; -1 with a message in err. */
int kiln_syscalls_compile(struct kiln_syscall_filter *f, char *err, size_t len);
/*
 * In kiln, once per build: the compiled filter in a sealed memfd, which its
 * kiln-runs read rather than compile it each (libseccomp: 0.2 ms of CPU a step).
 * -1 with a message in err.
 */
int kiln_syscalls_memfd(char *err, size_t len);
/* In kiln-run: read the filter kiln compiled from fd into *f; -1 with a message in err. */
int kiln_syscalls_from_fd(struct kiln_syscall_filter *f, int fd, char *err, size_t len);
/* In the step, last: install f and send the listener to init over sock. -1 with a message in err. */
int kiln_syscalls_install(const struct kiln_syscall_filter *f, int sock, char *err, size_t len);
/* In init: receive the step's listener from sock; l->fd is -1 if it sent none. */
void kiln_syscalls_listen(struct kiln_syscall_listener *l, int sock);
/* In init, when l->fd is readable: log one refused call (the first few) and answer EPERM. */
void kiln_syscalls_answer(struct kiln_syscall_listener *l);
/* Free what l holds (not the listener, which dies with init). */
void kiln_syscalls_listener_release(struct kiln_syscall_listener *l);

#endif
