/*
 * gate: kiln-serve's listening socket, and the first look at each request.
 *
 * libmicrohttpd answers a request it cannot parse (a malformed request
 * line, a negative Content-Length, an unknown HTTP version) with an HTML
 * page of its own, which no option replaces. The gate accepts each
 * connection itself, reads its first request's head without taking it
 * from the socket (MSG_PEEK), answers a malformed one with the JSON error
 * every other route gives, and hands a well-formed one to libmicrohttpd
 * (MHD_add_connection), which then reads it as if it had accepted it.
 * While a head is incomplete the gate holds the connection under the
 * same limits as libmicrohttpd's: connections in all and per address,
 * and the headers' deadline.
 */
#ifndef KILN_SERVE_GATE_H
#define KILN_SERVE_GATE_H

#include <stddef.h>

struct MHD_Daemon;
struct gate;

/* The longest request head the gate reads, bytes; a longer one gets a 431. */
#define GATE_MAX_HEAD 16384

/*
 * Accept on listen_fd (listening, any blocking mode) and pass the
 * connections to d; the gate's thread owns listen_fd from now on. NULL
 * when the thread cannot start.
 */
struct gate *gate_start(int listen_fd, struct MHD_Daemon *d, long max_conns, long per_addr,
	double header_s);
/* Stop accepting, close what the gate still holds, free it. Before MHD_stop_daemon. */
void gate_stop(struct gate *g);

/*
 * Check a request head (request line and header lines, up to and with the
 * blank line): 0 when libmicrohttpd may have it, else the HTTP status to
 * answer with a message in msg (size bytes).
 */
int gate_check_head(const char *head, size_t len, char *msg, size_t size);

#endif
