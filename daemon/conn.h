/* conn.h: one client connection: non-blocking datagram I/O with fds, a bounded
 * outgoing queue, and the peer's credentials. Knows nothing of requests. */
#ifndef SHMBUFD_CONN_H
#define SHMBUFD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <uv.h>

#include "proto.h"

struct server;
struct grant;
struct outmsg;

TAILQ_HEAD(grant_list, grant);

/* Owned by the server (server->conns) from accept until conn_close()'s
 * handle-close callback frees it. */
struct conn {
	struct server *srv;
	uint64_t id;
	int fd;
	uv_poll_t poll;
	struct ucred cred; /* SO_PEERCRED at accept */
	char comm[17];     /* /proc/<pid>/comm at accept, "?" when unreadable */
	uint64_t connected_ns;
	bool hello_done;
	bool subscribed;  /* sent SUBSCRIBE: receives events */
	bool announced;   /* its CLIENT_CONNECTED event went out (a refused one's never does) */
	bool dead;        /* failed: will be closed at the next safe point */
	bool closing;     /* uv_close() called, waiting for the callback */
	struct grant_list grants; /* held and waiting, in request order */
	uint32_t n_grants;
	uint32_t n_waiting;
	TAILQ_HEAD(, outmsg) outq; /* replies the socket could not take yet */
	uint32_t outq_len;
	TAILQ_ENTRY(conn) link;      /* server->conns */
	TAILQ_ENTRY(conn) dead_link; /* server->dead_conns while dead */
};

/* Take ownership of an accepted non-blocking socket. Returns 0 or a negative errno
 * (the socket is closed on failure). */
int conn_new(struct server *srv, int fd, struct conn **out);

/* Encode m and send it with fd (>= 0: passed with SCM_RIGHTS; the caller keeps
 * its own fd). If the socket is full the message waits in the queue (with a
 * dup of fd); if the queue is over its limit, or the daemon-wide budget of
 * queued fds is spent, the client is too slow and the connection fails.
 * Never blocks and never closes synchronously. Returns 0 (sent, queued, or the
 * connection failed), or -ETOOMANYREFS when the kernel refuses to pass fd
 * because too many of our fds are unread in clients' sockets: nothing was sent
 * and the connection is fine; the caller answers otherwise. */
int conn_send(struct conn *c, const struct proto_msg *m, int fd);

/* Mark the connection failed; server_reap() closes it from a safe point. */
void conn_fail(struct conn *c, const char *why);

/* Stop I/O, close the socket and drop queued messages; frees c once libuv
 * has let go of the handle. The caller must have released c's grants. */
void conn_close(struct conn *c);

#endif
