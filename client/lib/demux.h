/* SPDX-License-Identifier: MIT */
/* demux.h: requests and their replies over the one socket, shared by threads
 * (leader/follower: one waiting thread reads for all). Private. */
#ifndef SHMBUF_DEMUX_H
#define SHMBUF_DEMUX_H

#define demux_call shmbuf__demux_call
#define demux_read_one shmbuf__demux_read_one
#define demux_reader_release shmbuf__demux_reader_release
#define demux_send_quiet shmbuf__demux_send_quiet
#define demux_drain shmbuf__demux_drain
#define demux_flush shmbuf__demux_flush
#define demux_start_async shmbuf__demux_start_async
#define demux_take_seq shmbuf__demux_take_seq

#include <pthread.h>

#include "client.h"

/* Largest request we encode: an ACQUIRE with a 255-byte name is 313 bytes. */
#define REQUEST_MAX 512

/* client->pending holds struct call (synchronous, len 0) and struct
 * demux_async (len PENDING_ASYNC), told apart by the entry's length. */
#define PENDING_ASYNC 1

/* One request waiting for its reply. Lives on the calling thread's stack. It is
 * in client->pending from just before its request is sent until it is done, and
 * on the client->waiters list while its thread is in the wait loop. */
struct call {
	struct call *prev, *next; /* client->waiters */
	bool listed;              /* on client->waiters */
	bool done;                /* reply (or err) is final */
	int err;                  /* 0: *reply holds the answer; else why none will come */
	int fd;                   /* fd of a successful ACQUIRE reply, else -1; owned */
	uint32_t seq;
	uint16_t reply_op;
	bool sent;                /* went out (on some connection): a reconnect sends it again */
	bool resent;              /* sent again after a reconnect */
	uint64_t send_no;         /* c->sent_no when it last went out */
	int64_t sent_ms;          /* CLOCK_MONOTONIC when it first went out */
	struct proto_msg *reply;  /* the caller's request, which the reply replaces */
	pthread_cond_t cond;      /* signalled when done, or when this thread should read */
};

/* Sends request m and waits for its reply, which replaces *m. Returns 0 when a
 * reply arrived (its status may still be an error), or a negative errno when
 * none will: the request was invalid, could not be sent, or the connection broke.
 * fd_out, when not NULL, receives the fd of a successful ACQUIRE reply (or -1). */
int demux_call(struct shmbuf_client *c, struct proto_msg *m, int *fd_out);

/* demux_call() for a request that carries no fd back, with an error reply turned into its
 * negative errno (and the daemon's words kept for shmbuf_last_error_detail()). */
int demux_request(struct shmbuf_client *c, struct proto_msg *m);

/* An ACQUIRE in flight that nobody waits for (client/lib/async.c). Owned by
 * async.c; while pending it is in client->pending under its seq. */
struct demux_async {
	uint32_t seq;
	int err;                 /* 0: *reply holds the answer; else why none will come */
	int fd;                  /* fd of a successful reply, else -1; owned */
	struct proto_msg *reply; /* the request, which the reply replaces */
	bool sent;               /* went out (on some connection): a reconnect sends it again */
	bool resent;             /* sent again after a reconnect */
	uint64_t send_no;        /* c->sent_no when it last went out */
	int64_t sent_ms;         /* CLOCK_MONOTONIC when it first went out */
	/* Called with c->lock held, by whichever thread read the reply (or
	 * broke the connection), once: the async op is no longer pending. */
	void (*done)(struct shmbuf_client *c, struct demux_async *a);
};

/* Sends ACQUIRE m for a and returns without waiting: a->done() runs when its
 * answer comes, read by any thread. Returns 0 (then done() runs exactly once),
 * or a negative errno with nothing pending. */
int demux_start_async(struct shmbuf_client *c, struct proto_msg *m, struct demux_async *a);

/* Sends request m (RELEASE or UNMAP with their QUIET meaning) without waiting:
 * the daemon answers only a failure, which the reader counts. Returns 0, or a
 * negative errno (-ECONNRESET once the connection broke for good). rec, when not NULL,
 * describes the lease a RELEASE ends, for a reconnect to redo it. */
int demux_send_quiet(struct shmbuf_client *c, struct proto_msg *m, const struct relrec *rec);

/* A fresh seq (takes c->lock). */
uint32_t demux_take_seq(struct shmbuf_client *c);



/* Reads, without blocking, what the daemon already sent (replies to others,
 * UNMAPs, events, failed quiet requests), unless another thread is reading. */
void demux_drain(struct shmbuf_client *c);

/* Unmaps and closes what the cache retired, and sends the UNMAPs it owes. */
void demux_flush(struct shmbuf_client *c);

/* Called with c->lock held, as the reader (c->reader_active set by the
 * caller); returns with it held. Receives one datagram (without the lock) and
 * hands it to the call it answers, or to the event queue. */
void demux_read_one(struct shmbuf_client *c);

/* Called with c->lock held by the thread giving up the reader role. */
void demux_reader_release(struct shmbuf_client *c);

#endif
