/*
 * syscalls: the step's seccomp filter and its listener. See syscalls.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "syscalls.h"
#include "util.h"

/* Refused calls logged; after that only a count. */
#define MAXREFUSALS 20

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

/* Say what failed in err and return -1 (util.h). */
#define fail errf

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

/*
 * Refused calls become user notifications that init answers with EPERM
 * after logging which call it was: unlike a SIGSYS handler this survives
 * the plugin exec'ing a program, and unlike SECCOMP_RET_LOG it needs no
 * access to the kernel's audit log. Where the kernel has no notifications
 * (API level < 5) the calls get a plain EPERM, unlogged.
 */
int
kiln_syscalls_compile(struct kiln_syscall_filter *f, char *err, size_t len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int pfd[2] = {-1, -1}, r = -1;
	ssize_t n = -1;

	f->notify = seccomp_api_get() >= 5;
	if (ctx && add_rules(ctx, f->notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM)) == 0 &&
	    pipe2(pfd, O_CLOEXEC) == 0 && seccomp_export_bpf(ctx, pfd[1]) == 0)
		n = read(pfd[0], f->prog, sizeof(f->prog));
	if (n > 0 && (size_t)n < sizeof(f->prog) && n % sizeof(struct sock_filter) == 0) {
		f->n = (int)(n / (ssize_t)sizeof(struct sock_filter));
		r = 0;
	} else {
		fail(err, len, "cannot compile the seccomp filter");
	}
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	if (ctx)
		seccomp_release(ctx);
	return r;
}

/* The seals that make the memfd unchangeable, by kiln as much as by anyone. */
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

int
kiln_syscalls_memfd(char *err, size_t len)
{
	static struct kiln_syscall_filter f;
	size_t n;
	int fd;

	if (kiln_syscalls_compile(&f, err, len) < 0)
		return -1;
	n = offsetof(struct kiln_syscall_filter, prog) + (size_t)f.n * sizeof(struct sock_filter);
	fd = memfd_create("kiln-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return fail(err, len, "memfd_create:");
	if (write(fd, &f, n) != (ssize_t)n || fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		close(fd);
		return fail(err, len, "cannot write the seccomp filter:");
	}
	return fd;
}

int
kiln_syscalls_from_fd(struct kiln_syscall_filter *f, int fd, char *err, size_t len)
{
	size_t head = offsetof(struct kiln_syscall_filter, prog);
	struct stat st;
	ssize_t n;

	/* Sealed: what kiln wrote is what is read, whoever else holds it. */
	if (fstat(fd, &st) < 0 || fcntl(fd, F_GET_SEALS) != SEALS || (size_t)st.st_size < head ||
	    (size_t)st.st_size > sizeof(*f))
		return fail(err, len, "fd %d holds no seccomp filter of kiln's", fd);
	n = pread(fd, f, (size_t)st.st_size, 0);
	if (n != st.st_size || f->n <= 0 || f->n > KILN_SYSCALLS_MAXBPF ||
	    head + (size_t)f->n * sizeof(struct sock_filter) != (size_t)n)
		return fail(err, len, "fd %d holds no seccomp filter of kiln's", fd);
	return 0;
}

static int
sendfd(int sock, int fd, char *err, size_t len)
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
		return fail(err, len, "cannot hand the seccomp listener to init:");
	return 0;
}

int
kiln_syscalls_install(const struct kiln_syscall_filter *f, int sock, char *err, size_t len)
{
	struct sock_fprog prog = {(unsigned short)f->n, (struct sock_filter *)f->prog};
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    f->notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
	int r;

	if (fd < 0)
		return fail(err, len, "cannot install the seccomp filter:");
	if (!f->notify)
		return 0;
	/* Only init may hold the listener: with it the plugin could let its own calls through. */
	r = sendfd(sock, (int)fd, err, len);
	close((int)fd);
	return r;
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

void
kiln_syscalls_listen(struct kiln_syscall_listener *l, int sock)
{
	memset(l, 0, sizeof(*l));
	l->fd = recvfd(sock);
	/* Without buffers nothing can be answered: refused calls then wait, as the kernel holds them. */
	if (l->fd >= 0 && seccomp_notify_alloc(&l->req, &l->resp) < 0) {
		l->req = NULL;
		l->resp = NULL;
		l->fd = -1;
	}
}

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

void
kiln_syscalls_answer(struct kiln_syscall_listener *l)
{
	memset(l->req, 0, sizeof(*l->req));
	if (seccomp_notify_receive(l->fd, l->req) < 0)
		return;
	if (l->count < MAXREFUSALS)
		log_refusal(l->req);
	else if (l->count == MAXREFUSALS)
		fprintf(stderr, "kiln: sandbox: more calls refused; not logging them\n");
	l->count++;
	memset(l->resp, 0, sizeof(*l->resp));
	l->resp->id = l->req->id;
	l->resp->error = -EPERM;
	seccomp_notify_respond(l->fd, l->resp);
}

void
kiln_syscalls_listener_release(struct kiln_syscall_listener *l)
{
	if (l->req)
		seccomp_notify_free(l->req, l->resp);
	l->req = NULL;
	l->resp = NULL;
}
