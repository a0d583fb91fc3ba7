/*
 * barrier: the training threads' meeting point, two or three times in
 * every step of a few tens of microseconds. A waiter spins for a while
 * (about as long as a step's work takes) before it sleeps on a futex, so
 * threads that arrive close together, as balanced shares do, never pay a
 * sleep and a wake-up (each several microseconds, more in a VM), which
 * pthread_barrier_wait pays on every call. The spin is bounded, and it
 * shortens itself where spinning does not pay (a busy machine).
 */
#ifndef KILN_PLUGLIB_BARRIER_H
#define KILN_PLUGLIB_BARRIER_H

struct kp_barrier {
	unsigned n;		/* threads that meet */
	unsigned count;		/* arrived in this round */
	unsigned gen;		/* rounds completed; the futex word */
	unsigned sleepers;	/* waiters on the futex */
	unsigned waits, timeouts;	/* in the current window (barrier.c) */
};

void kp_barrier_init(struct kp_barrier *b, unsigned n);
/* Return once all n threads have called it in this round. */
void kp_barrier_wait(struct kp_barrier *b);

#endif
