/*
 * digest: XXH3-128 content digests.
 *
 * Small files are read; large ones are mapped, which saves copying every
 * byte out of the page cache (about 5 GB/s instead of 4 here). A mapped
 * file that shrinks under us raises SIGBUS; that is caught and reported as
 * a read error instead of killing kiln.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <xxh_x86dispatch.h>

#include "digest.h"
#include "util.h"

#define READ_SIZE (1 << 19)
#define MAP_MIN (8 << 20)

static void
from_xxh(XXH128_hash_t h, struct kiln_digest *out)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out->b, c.digest, 16);
}

void
kiln_digest_buf(const void *data, size_t len, struct kiln_digest *out)
{
	from_xxh(XXH3_128bits(data, len), out);
}

int
kiln_digest_fd(int fd, struct kiln_digest *out)
{
	static char *buf;
	XXH3_state_t *st;
	ssize_t n;
	int saved;

	/* One read buffer for the process: kiln hashes one file at a time. */
	if (!buf)
		buf = aligned_alloc(64, READ_SIZE);
	if (!buf)
		die("out of memory");
	st = XXH3_createState();
	if (!st)
		die("out of memory");
	XXH3_128bits_reset(st);
	for (;;) {
		n = read(fd, buf, READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			XXH3_freeState(st);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		XXH3_128bits_update_dispatch(st, buf, n);
	}
	from_xxh(XXH3_128bits_digest(st), out);
	XXH3_freeState(st);
	return 0;
}

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t mapping;

static void
on_bus(int sig)
{
	if (mapping)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Hash a whole file through a mapping; -1 (errno EIO) if it shrank meanwhile. */
static int
digest_mapped(int fd, size_t len, struct kiln_digest *out)
{
	static int handler;
	void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	int r = 0;

	if (m == MAP_FAILED)
		return kiln_digest_fd(fd, out);
	if (!handler) {
		struct sigaction sa = {0};

		sa.sa_handler = on_bus;
		sa.sa_flags = SA_NODEFER;
		sigaction(SIGBUS, &sa, NULL);
		handler = 1;
	}
	madvise(m, len, MADV_SEQUENTIAL);
	madvise(m, len, MADV_WILLNEED);
	if (sigsetjmp(bus_jmp, 1) == 0) {
		mapping = 1;
		/* The library picks AVX2 or AVX-512 at run time: same digest, about 7 GB/s here. */
		from_xxh(XXH3_128bits_dispatch(m, len), out);
	} else {
		errno = EIO;
		r = -1;
	}
	mapping = 0;
	munmap(m, len);
	return r;
}

int
kiln_digest_file(const char *path, struct kiln_digest *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), r, saved;
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= MAP_MIN) {
		r = digest_mapped(fd, st.st_size, out);
	} else {
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		r = kiln_digest_fd(fd, out);
	}
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

char *
kiln_digest_hex(const struct kiln_digest *d, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 16; i++) {
		buf[2 * i] = hex[d->b[i] >> 4];
		buf[2 * i + 1] = hex[d->b[i] & 15];
	}
	buf[32] = '\0';
	return buf;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
kiln_digest_parse(const char *s, struct kiln_digest *out)
{
	int i;

	for (i = 0; i < 16; i++) {
		int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out->b[i] = hi << 4 | lo;
	}
	return s[32] == '\0' ? 0 : -1;
}

int
kiln_digest_eq(const struct kiln_digest *a, const struct kiln_digest *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

int
kiln_digest_iszero(const struct kiln_digest *d)
{
	static const struct kiln_digest zero;

	return kiln_digest_eq(d, &zero);
}

/*
 * Small updates (a folder's names, a key's fields) are gathered in `pend`
 * and given to XXH3 a block at a time: one update call per few bytes cost
 * more than the hashing. The digest is the same, XXH3 streams.
 */
struct kiln_hasher {
	XXH3_state_t *st;
	size_t npend;
	unsigned char pend[4096];
};

struct kiln_hasher *
kiln_hasher_new(void)
{
	struct kiln_hasher *h = xmalloc(sizeof(*h));

	h->st = XXH3_createState();
	if (!h->st)
		die("out of memory");
	XXH3_128bits_reset(h->st);
	h->npend = 0;
	return h;
}

static void
flush(struct kiln_hasher *h)
{
	if (h->npend)
		XXH3_128bits_update(h->st, h->pend, h->npend);
	h->npend = 0;
}

void
kiln_hasher_add(struct kiln_hasher *h, const void *data, size_t len)
{
	if (h->npend + len > sizeof(h->pend))
		flush(h);
	if (len >= sizeof(h->pend)) {
		XXH3_128bits_update(h->st, data, len);
		return;
	}
	memcpy(h->pend + h->npend, data, len);
	h->npend += len;
}

void
kiln_hasher_add_u64(struct kiln_hasher *h, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = v >> (8 * i);
	kiln_hasher_add(h, b, 8);
}

void
kiln_hasher_adds(struct kiln_hasher *h, const char *s)
{
	size_t n = strlen(s);

	kiln_hasher_add_u64(h, n);
	kiln_hasher_add(h, s, n);
}

void
kiln_hasher_add_digest(struct kiln_hasher *h, const struct kiln_digest *d)
{
	kiln_hasher_add(h, d->b, 16);
}

void
kiln_hasher_digest(struct kiln_hasher *h, struct kiln_digest *out)
{
	flush(h);
	from_xxh(XXH3_128bits_digest(h->st), out);
}

void
kiln_hasher_free(struct kiln_hasher *h)
{
	if (!h)
		return;
	XXH3_freeState(h->st);
	free(h);
}
