/*
 * pool: a few threads that run the tasks of one parallel step, for work
 * whose tasks write disjoint results (so the result does not depend on
 * which thread ran which task, nor on how many threads there are).
 */
#ifndef KILN_PLUGLIB_POOL_H
#define KILN_PLUGLIB_POOL_H

#include <stddef.h>

struct kp_pool;

/* One task: fn(arg, task) for a task index below the step's count. */
typedef void (*kp_pool_fn)(void *arg, size_t task);

/* A pool of nthreads threads, the caller's included (1: no thread made). */
struct kp_pool *kp_pool_new(int nthreads);
/* Run fn(arg, 0..ntasks-1) on the pool and return when all have run. */
void kp_pool_run(struct kp_pool *p, kp_pool_fn fn, void *arg, size_t ntasks);
/* Stop and free the pool's threads; NULL is allowed. */
void kp_pool_free(struct kp_pool *p);

#endif
