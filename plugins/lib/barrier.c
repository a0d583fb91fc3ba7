/* barrier: see barrier.h. */
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "barrier.h"

/*
 * The most pauses a waiter spins before it sleeps: a pause is 10 to 140
 * cycles, so this is tens of microseconds, about a step's work.
 */
#define MAX_SPINS 1024
/* Waits in which to count how many spins ran out, and waits then spent asleep. */
#define WINDOW 64
#define SLEEP_WAITS 1024

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
	b->waits = 0;
	b->timeouts = 0;
}

/*
 * Whether this wait spins: yes, but for SLEEP_WAITS waits after a window
 * of WINDOW waits in which more than a quarter of the spins ran out.
 * Counted loosely (a lost update moves a window by one wait).
 */
static int
spinning(struct kp_barrier *b)
{
	unsigned w = __atomic_add_fetch(&b->waits, 1, __ATOMIC_RELAXED);

	if (w <= WINDOW)
		return 1;
	if (w == WINDOW + 1 && __atomic_load_n(&b->timeouts, __ATOMIC_RELAXED) * 4 <= WINDOW)
		w = 0;		/* spins paid: another window of them */
	if (w == 0 || w > WINDOW + SLEEP_WAITS) {
		__atomic_store_n(&b->waits, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&b->timeouts, 0, __ATOMIC_RELAXED);
	}
	return w == 0;
}

/*
 * The last to arrive resets the count and then moves gen on (release: the
 * others' reads after the barrier see every write before it); a waiter
 * that gave up spinning counts itself a sleeper before it checks gen
 * again and sleeps only while gen is unchanged, and the last one wakes
 * the sleepers after moving gen, so a wake-up is never missed (both sides
 * are sequentially consistent).
 *
 * Whether to spin adapts: when other work takes the CPUs, the thread
 * awaited is often not running, spinning only keeps a CPU from the work
 * that could run there, and the spins run out; after a window of waits in
 * which many did, the waits sleep for a while, then try spinning again.
 * On an idle machine they stay spins. This changes when a thread goes on,
 * never what it computes.
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
	if (spinning(b))
		for (i = 0; i < MAX_SPINS; i++) {
			if (__atomic_load_n(&b->gen, __ATOMIC_ACQUIRE) != gen)
				return;
			pause_cpu();
		}
	__atomic_add_fetch(&b->timeouts, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&b->gen, __ATOMIC_SEQ_CST) == gen)
		futex(&b->gen, FUTEX_WAIT_PRIVATE, gen);
	__atomic_sub_fetch(&b->sleepers, 1, __ATOMIC_SEQ_CST);
}
