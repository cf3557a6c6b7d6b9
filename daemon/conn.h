/* SPDX-License-Identifier: MIT */
/* conn.h: the transport: one connection's non-blocking datagram I/O with fds, its bounded
 * outgoing queue, back-pressure and peer credentials. Knows no message type: received
 * datagrams go up through struct conn_ops, and what is sent is bytes. */
#ifndef SHMBUFD_CONN_H
#define SHMBUFD_CONN_H

/* struct ucred needs _GNU_SOURCE, defined before the first system header. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <uv.h>

struct conn;
struct outmsg;

/* What the owner attaches to a message it sends with an fd, handed back by
 * on_fd_refused should the kernel refuse that fd. Opaque to conn. */
struct conn_tag {
	uint64_t id;
	uint32_t seq;
};

/* The owner's callbacks (a static table it keeps); each gets the conn, whose
 * ->data is the owner's. */
struct conn_ops {
	/* One datagram arrived: len (> 0) bytes at buf, valid during the call;
	 * fd >= 0 if one came with it (the callee owns it). */
	void (*on_datagram)(struct conn *c, const uint8_t *buf, size_t len, int fd);
	/* A datagram that could not be taken: -EMSGSIZE (longer than
	 * max_message) or -EBADMSG (it carried more than one fd or other
	 * control data; those are closed). It is gone; reading goes on unless
	 * the owner fails the connection. */
	void (*on_bad_datagram)(struct conn *c, int err);
	/* The kernel refused the fd of a queued message (ETOOMANYREFS: too many
	 * of our fds sit unread in peers' sockets); the message was not sent. */
	void (*on_fd_refused)(struct conn *c, struct conn_tag tag);
	/* conn_fail() was called (by anyone, once): the owner must call
	 * conn_close() later, from a safe point. */
	void (*on_fail)(struct conn *c);
};

/* What every connection of one owner shares. Owned by that owner (the
 * server, or a test), which must outlive its connections. */
struct conn_env {
	uv_loop_t *loop;
	const struct conn_ops *ops;
	uint8_t *rxbuf;       /* max_message bytes: one datagram is handled at a time */
	uint32_t max_message; /* larger datagrams are refused with on_bad_datagram(-EMSGSIZE) */
	uint32_t max_queue;   /* messages queued for a slow peer before the connection fails,
			       * not counting those sent with conn_send_owed() */
	uint32_t queued_fds;  /* fd duplicates held in all the connections' queues */
	uint32_t fd_budget;   /* at most this many; past it the connection fails */
};

/* Owned by whoever called conn_new() until conn_close(), which frees it once
 * libuv has let go of the handle. */
struct conn {
	struct conn_env *env;
	void *data;         /* the owner's */
	int fd;
	uv_poll_t poll;
	struct ucred cred;  /* SO_PEERCRED at conn_new() */
	gid_t *groups;      /* SO_PEERGROUPS at conn_new(): supplementary groups (owned) */
	uint32_t n_groups;
	char comm[17];      /* /proc/<pid>/comm at conn_new(), "?" when unreadable */
	bool is_dead;       /* failed: will be closed at the next safe point */
	bool is_closing;    /* uv_close() called, waiting for the callback */
	TAILQ_HEAD(, outmsg) outq; /* messages the socket could not take yet */
	uint32_t outq_len;
	uint32_t outq_owed; /* of which sent with conn_send_owed() */
};

/* Take ownership of an accepted non-blocking socket and start reading; data
 * is the owner's, kept in c->data. Returns 0 or a negative errno (the socket
 * is closed on failure and *out is NULL). */
int conn_new(struct conn_env *env, int fd, void *data, struct conn **out);

/* Send len bytes as one datagram with fd (>= 0: passed with SCM_RIGHTS; the
 * caller keeps its own fd). If the socket is full the message waits in the
 * queue (with a dup of fd, and tag); if the queue is over its limit, or the
 * budget of queued fds is spent, the peer is too slow and the connection
 * fails. Never blocks and never closes synchronously. Returns 0 (sent, queued,
 * or the connection failed), or -ETOOMANYREFS when the kernel refuses to pass
 * fd now: nothing was sent and the connection is fine. */
int conn_send(struct conn *c, const uint8_t *buf, size_t len, int fd, struct conn_tag tag);
/* conn_send() for a message the peer is owed: the owner promised it earlier
 * (an answer to a request it holds) and bounds how many it can owe, so it is
 * not counted against max_queue; the fd budget still applies. A peer that
 * reads promptly is then never dropped for being owed many at once. */
int conn_send_owed(struct conn *c, const uint8_t *buf, size_t len, int fd, struct conn_tag tag);

/* Mark the connection failed (why: logged; NULL for an orderly close) and
 * tell the owner through on_fail. */
void conn_fail(struct conn *c, const char *why);

/* Stop I/O, close the socket and drop queued messages; frees c once libuv
 * has let go of the handle. */
void conn_close(struct conn *c);

#endif
