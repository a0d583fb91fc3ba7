/*
 * A thread pool for parallel steps: the caller and nthreads - 1 workers
 * take task indexes from one atomic counter until none is left. Tasks are
 * handed out in whatever order threads ask, which is why a task must write
 * only its own results: callers reduce them afterwards in task order.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"
#include "util.h"

struct kp_pool {
	size_t nthreads;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t start, finish;
	unsigned long generation;	/* bumped by each step */
	size_t running;			/* workers still in the current step */
	int quit;
	/* The current step. */
	kp_pool_fn fn;
	void *arg;
	size_t ntasks;
	atomic_size_t next;
};

static void
work(struct kp_pool *p)
{
	size_t t;

	while ((t = atomic_fetch_add(&p->next, 1)) < p->ntasks)
		p->fn(p->arg, t);
}

static void *
worker(void *arg)
{
	struct kp_pool *p = arg;
	unsigned long seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->generation == seen && !p->quit)
			pthread_cond_wait(&p->start, &p->mu);
		if (p->quit)
			break;
		seen = p->generation;
		pthread_mutex_unlock(&p->mu);
		work(p);
		pthread_mutex_lock(&p->mu);
		if (--p->running == 0)
			pthread_cond_signal(&p->finish);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct kp_pool *
kp_pool_new(int nthreads)
{
	struct kp_pool *p = kp_xcalloc(1, sizeof(*p));
	size_t i;

	p->nthreads = nthreads > 1 ? (size_t)nthreads : 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->finish, NULL);
	p->threads = kp_xcalloc(p->nthreads, sizeof(pthread_t));
	for (i = 1; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			abort();
	return p;
}

void
kp_pool_run(struct kp_pool *p, kp_pool_fn fn, void *arg, size_t ntasks)
{
	size_t i;

	if (p->nthreads == 1 || ntasks < 2) {
		for (i = 0; i < ntasks; i++)
			fn(arg, i);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->ntasks = ntasks;
	atomic_store(&p->next, 0);
	p->running = p->nthreads - 1;
	p->generation++;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	work(p);
	pthread_mutex_lock(&p->mu);
	while (p->running > 0)
		pthread_cond_wait(&p->finish, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
kp_pool_free(struct kp_pool *p)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	for (i = 1; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->finish);
	free(p->threads);
	free(p);
}

/* How long a thread at a barrier spins before it sleeps. */
#define KP_BARRIER_SPIN_NS 3000

void
kp_barrier_init(struct kp_barrier *b, unsigned n)
{
	atomic_init(&b->count, 0);
	atomic_init(&b->gen, 0);
	atomic_init(&b->sleepers, 0);
	b->n = n;
}

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Whether generation g has passed, spinning up to KP_BARRIER_SPIN_NS for it. */
static int
spin_past(struct kp_barrier *b, unsigned g)
{
	int64_t end = now_ns() + KP_BARRIER_SPIN_NS;
	int i;

	do {
		for (i = 0; i < 64; i++) {
			if (atomic_load(&b->gen) != g)
				return 1;
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
		}
	} while (now_ns() < end);
	return 0;
}

void
kp_barrier_wait(struct kp_barrier *b)
{
	unsigned g = atomic_load(&b->gen);

	if (atomic_fetch_add(&b->count, 1) + 1 == b->n) {
		atomic_store(&b->count, 0);
		atomic_fetch_add(&b->gen, 1);
		if (atomic_load(&b->sleepers))
			syscall(SYS_futex, &b->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
		return;
	}
	if (spin_past(b, g))
		return;
	atomic_fetch_add(&b->sleepers, 1);
	while (atomic_load(&b->gen) == g)
		syscall(SYS_futex, &b->gen, FUTEX_WAIT_PRIVATE, g, NULL, NULL, 0);
	atomic_fetch_sub(&b->sleepers, 1);
}
