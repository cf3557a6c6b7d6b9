/* SPDX-License-Identifier: MIT */
/* grant.h: grants (a client's lease, held or waited for) from request to end, and the
 * settling of a segment's waiters once leases leave it. */
#ifndef SHMBUFD_GRANT_H
#define SHMBUFD_GRANT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uthash.h>
#include <uv.h>

#include "client.h"
#include "conn.h"
#include "lease.h"
#include "proto.h"
#include "segment.h"
#include "server.h"

/* A lease held or waited for by a client. Owned by its client (client->grants)
 * once grant_link()ed; also indexed by id in server->grants and linked into its
 * segment's lease_set through .lease. Freed by grant_end(), or grant_free() if
 * never linked. */
/* Held leases are what there are many of (100k and more), so the record stays
 * small (184 bytes on x86-64, a 192-byte malloc chunk): what only a wait needs
 * (its timer, the generation it waits past) is allocated apart (struct
 * grant_wait), and only while a wait has a deadline or waits for news. */
/* What only a waiting grant needs, apart so that a held lease stays small (issue 8:
 * daemon memory per lease). Owned by its grant; freed when the wait is over. */
struct grant_wait {
	uv_timer_t timer; /* first: its close callback frees the whole; data = grant */
	bool has_timer;   /* the timer was started (a deadline) */
	uint64_t after;   /* ACQUIRE NEWER: wait for a write generation past this */
};

struct grant {
	struct lease lease;
	uint64_t id;
	struct segment *seg; /* counted in seg->refs while linked */
	struct client *cl;
	uint32_t seq;        /* ACQUIRE request to answer while waiting */
	/* Held: its slot in the lease table (leasetab.c, at most 2^26), 0 when unrecorded.
	 * A bit-field beside wants_fd, so the record stays 184 bytes. */
	uint32_t slot : 31;
	uint32_t wants_fd : 1; /* the ACQUIRE did not name seg's id: the grant carries seg's fd */
	uint64_t since_ns;   /* CLOCK_MONOTONIC: requested, then granted */
	struct grant_wait *wait; /* while waiting with a deadline or for news, else NULL; owned */
	TAILQ_ENTRY(grant) client_link;
	TAILQ_ENTRY(grant) order_link;   /* server->all_grants, by id */
	STAILQ_ENTRY(grant) revoke_link; /* server->revoked, briefly */
	UT_hash_handle hh;   /* server->grants, keyed by id */
};

/* A grant of [offset, offset+length) of seg for cl's ACQUIRE seq, not yet in
 * any set or table. NULL when out of memory. */
struct grant *grant_new(struct client *cl, struct segment *seg, uint32_t seq, uint64_t offset, uint64_t length,
			bool write);
/* Free a grant (and its timer, if it has one). */
void grant_free(struct grant *g);

/* g's lease was put in its segment's set: give it an id and link it into its
 * client, the server's tables and its segment's references. */
void grant_link(struct grant *g);
/* grant_link() with a given id: a lease held before a restart (orphan.c). */
void grant_link_as(struct grant *g, uint64_t id);
/* Unlink g from everything, say so to subscribers, and free it. The caller
 * settles g's segment after (grant_settle_later()). */
void grant_end(struct grant *g);
/* grant_end(), saying why in the LEASE_CANCELLED event of a waiting g. */
void grant_end_why(struct grant *g, enum proto_cancel_reason why);

/* The grant that holds g (waiting, or refused BUSY) up now, or NULL: see
 * lease_set_blocker(). */
struct grant *grant_blocker(const struct grant *g);

/* cl's waiting (or parked) grant for its ACQUIRE seq, or NULL. */
struct grant *grant_find_waiting(struct client *cl, uint32_t seq);

/* The linked grant with this id, or NULL. */
struct grant *grant_find(struct server *srv, uint64_t id);

/* Answer g's ACQUIRE, with seg's fd when g->wants_fd (cl then becomes a
 * mapper of seg for that mode). is_owed: g waited (see client_send()).
 * Returns false when the fd could not be passed now (or no memory to record
 * it): the ACQUIRE is then answered with LIMIT (INTERNAL), and the caller
 * must end g. */
bool grant_send(struct grant *g, bool is_owed);
/* conn_ops.on_fd_refused: the fd of grant tag.id queued for cl was refused:
 * answer that ACQUIRE (tag.seq) with LIMIT and end the grant. */
void grant_fd_refused(struct client *cl, struct conn_tag tag);
/* A waiting g gives up with TIMEDOUT after ms milliseconds. 0 or -ENOMEM. */
int grant_start_timer(struct grant *g, uint64_t ms);
/* A waiting (parked) ACQUIRE NEWER g wants a write generation past after. 0 or -ENOMEM. */
int grant_wait_for_news(struct grant *g, uint64_t after);

/* Fail seg's waiters, parked ones too: all of them (NOENT, destroyed), or
 * those that reach past size (RANGE, shrunk). */
void grant_fail_waiters(struct segment *seg, uint64_t size, enum proto_status st);
/* cl is going away: end its grants (releasing held leases, cancelling waits)
 * and have whoever that unblocks reconsidered. */
void grant_drop_client(struct client *cl);

/* Leases left seg (or it was destroyed): reconsider its waiters once per loop
 * iteration. (A destroyed segment no lease refers to is freed at once, or,
 * when clients still map it, they are sent UNMAP and the last one to let go
 * frees it.) Batching matters: a client leaving with many waits, or many
 * waits timing out together, then costs one pass over the segment's queue,
 * not one pass per wait. */
void grant_settle_later(struct server *srv, struct segment *seg);
/* One request (a RELEASE) let leases go: grant whom that unblocks now, so
 * a hand-off costs no loop iteration. Falls back to grant_settle_later()
 * while a batch is pending for seg or a dead client is not yet reaped (its
 * waits must not be granted on its way out). */
void grant_settle_now(struct server *srv, struct segment *seg);
/* Run the settles queued by grant_settle_later(). */
void grant_settle_all(struct server *srv);

#endif
