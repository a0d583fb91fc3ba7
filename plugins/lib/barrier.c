/* barrier: see barrier.h. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "barrier.h"

/* Spins before sleeping: a pause is 10 to 140 cycles, so this is tens of microseconds. */
#define SPINS 1024

static void
futex(unsigned *word, int op, unsigned val)
{
	syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static void
pause_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

void
kp_barrier_init(struct kp_barrier *b, unsigned n)
{
	b->n = n;
	b->count = 0;
	b->gen = 0;
	b->sleepers = 0;
}

/*
 * The last to arrive resets the count and then moves gen on (release: the
 * others' reads after the barrier see every write before it); a waiter
 * that gave up spinning counts itself a sleeper before it checks gen
 * again and sleeps only while gen is unchanged, and the last one wakes
 * the sleepers after moving gen, so a wake-up is never missed (both sides
 * are sequentially consistent).
 */
void
kp_barrier_wait(struct kp_barrier *b)
{
	unsigned gen = __atomic_load_n(&b->gen, __ATOMIC_ACQUIRE), i;

	if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n) {
		__atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&b->gen, gen + 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&b->sleepers, __ATOMIC_SEQ_CST))
			futex(&b->gen, FUTEX_WAKE_PRIVATE, (unsigned)-1 >> 1);
		return;
	}
	for (i = 0; i < SPINS; i++) {
		if (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) != gen)
			return;
		pause_cpu();
	}
	__atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&b->gen, __ATOMIC_SEQ_CST) == gen)
		futex(&b->gen, FUTEX_WAIT_PRIVATE, gen);
	__atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
}
