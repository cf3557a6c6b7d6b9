/* SPDX-License-Identifier: MIT */
/* client.h: struct shmbuf_client, the one object every part of libshmbuf works on,
 * and what client.c offers the others (the fork check, request names). Private. */
#ifndef SHMBUF_CLIENT_H
#define SHMBUF_CLIENT_H

#define client_check_owner shmbuf__client_check_owner
#define client_copy_name shmbuf__client_copy_name
#define client_copy_out shmbuf__client_copy_out

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "idtable.h"
#include "mapcache.h"
#include "proto.h"
#include "shmbuf.h"

/* Events held for shmbuf_next_event() at most; past this the oldest go. A
 * subscriber that reads this far behind has lost track anyway, and the
 * library must not grow without bound for it. */
#define EVENT_QUEUE_MAX SHMBUF_EVENT_QUEUE_MAX

struct call;
struct async_state;

/* A RELEASE sent but not known to be done (reconnect.c): redone after a reconnect. */
struct relrec {
	uint64_t lease_id, segment_id, offset, length;
	uint32_t mode;
	uint64_t send_no; /* c->sent_no when it went out */
};

/* Those records, oldest first: a ring of cap slots holding count from head on. */
struct relog {
	struct relrec *recs;
	size_t head, count, cap;
};

/* Owned by the application from shmbuf_connect() to shmbuf_disconnect(). */
struct shmbuf_client {
	int sock;
	pid_t owner;               /* the process that connected: only it may make calls */
	uint64_t page_size;
	uint32_t max_message;      /* largest request the daemon takes; 0: unknown */
	pthread_mutex_t send_lock; /* one fdio_send at a time */
	pthread_mutex_t lock;      /* every field below except the reader's buffers */
	bool dead;                 /* the connection broke for good: every call fails with -ECONNRESET */
	/* Reconnecting (reconnect.c): where we connected, whether and how long to try. */
	struct sockaddr_un addr;
	bool reconnect;            /* on unless SHMBUF_RECONNECT=0 */
	uint32_t reconnect_ms;     /* a reconnect gives up after this long (SHMBUF_RECONNECT_TIMEOUT) */
	uint64_t reconnects;       /* shmbuf_reconnects() */
	uint64_t sent_no;          /* datagrams sent so far; under send_lock and lock */
	struct relog relog;        /* releases sent, not yet known done */
	struct idtable stale;      /* lease ids of views whose lease did not survive a restart */
	bool reader_active;        /* some waiting thread is (about to be) in fdio_recv */
	uint32_t next_seq;
	struct idtable pending;    /* seq -> struct call */
	struct call *waiters;      /* calls whose threads are in the wait loop, oldest first */
	struct call *waiters_tail;
	struct idtable views;      /* lease id -> (struct mc_map *, view length): live views */
	struct mapcache cache;     /* kept fds and mappings, by (segment name, mode) */
	struct async_state *async; /* shmbuf_get_fd() and async acquires (async.c); NULL until used */
	uint64_t release_errors;   /* error replies to quiet RELEASEs: shmbuf_release_errors() */
	uint64_t unmap_errors;     /* error replies to quiet UNMAPs (kept for a debugger) */
	/* Events, oldest first: a ring of ev_cap slots (grown by doubling up to
	 * EVENT_QUEUE_MAX) holding ev_count events from ev_head on. Owned. */
	bool subscribed;
	shmbuf_event *events;
	size_t ev_cap, ev_head, ev_count;
	uint64_t ev_dropped;       /* events lost to a full queue: shmbuf_events_dropped() */
	unsigned ev_waiters;       /* threads asleep on ev_cond */
	pthread_cond_t ev_cond;    /* an event arrived, the reader role is free, or the connection broke */
	/* Owned by whichever thread is the reader. */
	uint8_t *rbuf;             /* PROTO_MAX_MESSAGE bytes */
	struct proto_msg rmsg;
};

/* A client inherited across fork() shares its socket and its seq numbers with
 * the parent: any request from the child would steal or confuse the parent's
 * replies, or end the parent's leases. Such a client may only be disconnected.
 * Returns 0 in the connecting process, else -ECONNRESET (with a detail). */
int client_check_owner(const struct shmbuf_client *c);

/* Copies a valid segment name into a wire name field. Returns 0, -EINVAL for
 * NULL or an invalid name, -ENAMETOOLONG; an invalid name's fault is put in
 * words for shmbuf_last_error_detail(). */
int client_copy_name(char dst[PROTO_NAME_MAX + 1], const char *name);

/* Hands a filled struct (src, the library's own src_size bytes) to a caller
 * whose struct is dst_size bytes, as shmbuf.h's "Structs that grow" says: the
 * common prefix is copied, the caller's bytes past src_size are zeroed. */
void client_copy_out(void *dst, size_t dst_size, const void *src, size_t src_size);

#endif
