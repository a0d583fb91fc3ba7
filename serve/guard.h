/*
 * guard: absolute deadlines for kiln-serve's connections.
 *
 * libmicrohttpd's own timeout is an idle timeout that every byte resets,
 * so a client sending one header line every few seconds holds a
 * connection for ever. The guard keeps a deadline per connection (the
 * headers' from the moment a request may start, the body's from the end
 * of the headers) and a thread that shuts down the socket of a
 * connection past its deadline, after a best-effort 408 in JSON;
 * libmicrohttpd then sees the end of the stream and closes it itself.
 */
#ifndef KILN_SERVE_GUARD_H
#define KILN_SERVE_GUARD_H

struct gconn;
struct guard;

/* A guard with these deadlines, in seconds, and its thread started; NULL if no thread. */
struct guard *guard_start(double header_s, double body_s);
/* Stop the thread and free the guard (after the daemon has stopped). */
void guard_stop(struct guard *g);

/* A connection was accepted (MHD_CONNECTION_NOTIFY_STARTED): its headers' deadline runs. */
struct gconn *guard_open(struct guard *g, int fd);
/* It was closed (MHD_CONNECTION_NOTIFY_CLOSED): forget it. */
void guard_close(struct guard *g, struct gconn *c);
/* Its request's headers are in: the body's deadline runs. */
void guard_body(struct guard *g, struct gconn *c);
/* An answer is queued: no 408 may be written into it. */
void guard_answer(struct guard *g, struct gconn *c);
/* Its request is done: the next request's headers' deadline runs. */
void guard_idle(struct guard *g, struct gconn *c);

#endif
