/*
 * A thread pool for parallel steps: the caller and nthreads - 1 workers
 * take task indexes from one atomic counter until none is left. Tasks are
 * handed out in whatever order threads ask, which is why a task must write
 * only its own results: callers reduce them afterwards in task order.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

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
