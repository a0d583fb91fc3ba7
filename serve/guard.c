/*
 * guard: absolute deadlines for kiln-serve's connections (see guard.h).
 *
 * One list of the open connections under one mutex; the thread scans it
 * a few times a second. The scan is linear in the connections open, which
 * --max-connections bounds, and costs microseconds at that bound.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"
#include "../plugins/lib/util.h"

enum phase { HEADERS, BODY, ANSWER };

struct gconn {
	struct gconn *prev, *next;
	int fd;
	enum phase phase;
	double deadline;	/* CLOCK_MONOTONIC seconds */
	int shut;		/* shut down once; libmicrohttpd closes it */
};

struct guard {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t thread;
	struct gconn *head;
	double header_s, body_s;
	int stop;
};


/* Tell the client why, if nothing else is being written, then end the stream. */
static void
expire(struct guard *g, struct gconn *c)
{
	char body[160], msg[320];
	int n;

	if (c->phase != ANSWER) {
		n = snprintf(body, sizeof(body), "{\"error\":\"request %s not received within %g s\",\"code\":408}",
			c->phase == HEADERS ? "headers" : "body", c->phase == HEADERS ? g->header_s : g->body_s);
		n = snprintf(msg, sizeof(msg), "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", n, body);
		if (send(c->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			/* the client is gone or not reading: the shutdown is what matters */
		}
	}
	shutdown(c->fd, SHUT_RDWR);
	c->shut = 1;
}

static void *
watch(void *arg)
{
	struct guard *g = arg;
	double tick = (g->header_s < g->body_s ? g->header_s : g->body_s) / 4;
	struct gconn *c;
	struct timespec ts;
	double t;

	if (tick > 0.25)
		tick = 0.25;
	if (tick < 0.01)
		tick = 0.01;
	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		t = kp_now();
		for (c = g->head; c; c = c->next)
			if (!c->shut && t >= c->deadline)
				expire(g, c);
		t += tick;
		ts.tv_sec = (time_t)t;
		ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&g->wake, &g->mu, &ts);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

struct guard *
guard_start(double header_s, double body_s)
{
	struct guard *g = kp_xcalloc(1, sizeof(*g));
	pthread_condattr_t ca;

	g->header_s = header_s;
	g->body_s = body_s;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->thread, NULL, watch, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return NULL;
	}
	return g;
}

void
guard_stop(struct guard *g)
{
	struct gconn *c, *next;

	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	for (c = g->head; c; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Set c's phase and deadline, under the lock. */
static void
set(struct guard *g, struct gconn *c, enum phase p, double limit)
{
	pthread_mutex_lock(&g->mu);
	c->phase = p;
	if (limit > 0)
		c->deadline = kp_now() + limit;
	pthread_mutex_unlock(&g->mu);
}

struct gconn *
guard_open(struct guard *g, int fd)
{
	struct gconn *c = kp_xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->phase = HEADERS;
	pthread_mutex_lock(&g->mu);
	c->deadline = kp_now() + g->header_s;
	c->next = g->head;
	if (g->head)
		g->head->prev = c;
	g->head = c;
	pthread_mutex_unlock(&g->mu);
	return c;
}

/* libmicrohttpd calls this before it closes the socket, so c->fd is still c's. */
void
guard_close(struct guard *g, struct gconn *c)
{
	pthread_mutex_lock(&g->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&g->mu);
	free(c);
}

void
guard_body(struct guard *g, struct gconn *c)
{
	set(g, c, BODY, g->body_s);
}

void
guard_answer(struct guard *g, struct gconn *c)
{
	set(g, c, ANSWER, 0);
}

void
guard_idle(struct guard *g, struct gconn *c)
{
	set(g, c, HEADERS, g->header_s);
}
