/* SPDX-License-Identifier: MIT */
/* lease.h: range leases over one segment and their FIFO wait queue.
 *
 * Pure decision logic: no sockets, no libuv, no allocation. The daemon embeds
 * a struct lease_set in each segment and a struct lease in each lease or
 * pending acquire; this module only links and unlinks them and decides who
 * may hold what.
 *
 * Rules:
 *  - Two leases conflict when their ranges overlap and at least one writes.
 *  - A request is granted at once only if it conflicts with no granted lease
 *    and with no request already waiting (arrival order: a stream of readers
 *    cannot starve a waiting writer).
 *  - When leases leave, waiters are granted in arrival order; a waiter is
 *    granted if it conflicts with no granted lease and no earlier waiter that
 *    is still waiting. Non-conflicting later waiters may pass a blocked one.
 *  - A parked request (an ACQUIRE NEWER whose range has no news yet) is in
 *    no conflict ordering at all: it blocks nobody and is granted by nobody
 *    until lease_set_unpark() puts it at the tail of the wait queue.
 */
#ifndef SHMBUF_LEASE_H
#define SHMBUF_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct lease;
TAILQ_HEAD(lease_list, lease);

enum lease_state {
	LEASE_UNLINKED = 0, /* not in any set */
	LEASE_GRANTED,
	LEASE_WAITING,
	LEASE_PARKED, /* waiting for news, outside the conflict ordering */
};

/* Owned by whoever embeds it (the daemon's struct grant). */
struct lease {
	uint64_t offset;
	uint64_t length; /* > 0; offset + length does not overflow */
	bool write;
	enum lease_state state;
	TAILQ_ENTRY(lease) link; /* in set->granted, set->waiting or set->parked */
};

/* Embedded in a segment. */
struct lease_set {
	struct lease_list granted; /* unordered */
	struct lease_list waiting; /* arrival order */
	struct lease_list parked;  /* arrival order */
	uint32_t n_read;    /* granted read leases */
	uint32_t n_write;   /* granted write leases */
	uint32_t n_waiting;
	uint32_t n_waiting_write; /* of which write requests */
	uint32_t n_parked;
};

enum lease_verdict {
	LEASE_VERDICT_GRANTED, /* linked as granted */
	LEASE_VERDICT_WAIT,    /* linked at the tail of the wait queue */
	LEASE_VERDICT_BUSY,    /* conflict and may_wait false: not linked */
};

void lease_set_init(struct lease_set *s);
/* The set must be empty (no granted and no waiting leases). */
void lease_set_deinit(struct lease_set *s);

/* Fill a lease before lease_set_request(). */
void lease_init(struct lease *l, uint64_t offset, uint64_t length, bool write);

bool lease_overlaps(const struct lease *a, const struct lease *b);
bool lease_conflicts(const struct lease *a, const struct lease *b);

/* Decide on l (LEASE_UNLINKED) and link it accordingly. */
enum lease_verdict lease_set_request(struct lease_set *s, struct lease *l, bool may_wait);

/* Link l (LEASE_UNLINKED) as parked: it waits without blocking anyone. */
void lease_set_park(struct lease_set *s, struct lease *l);
/* Move parked l to the tail of the wait queue; lease_set_promote() decides. */
void lease_set_unpark(struct lease_set *s, struct lease *l);

/* Unlink l, granted, waiting or parked. Afterwards call lease_set_promote(), since
 * removing either kind may unblock waiters. */
void lease_set_remove(struct lease_set *s, struct lease *l);

/* Grant every waiter that may now proceed, in arrival order, moving it to the
 * granted list, and call granted(l, ctx) for each. The callback may not touch
 * the set. Returns how many were granted. */
size_t lease_set_promote(struct lease_set *s, void (*granted)(struct lease *l, void *ctx), void *ctx);

/* One past the highest byte covered by a granted lease, 0 when none: a resize
 * to a size below this would cut a leased range. */
uint64_t lease_set_granted_end(const struct lease_set *s);

bool lease_set_is_empty(const struct lease_set *s);

/* Who holds l up (for the words of a BUSY and for listings): the first granted
 * lease it conflicts with, else the first waiter queued before it (any waiter,
 * when l is not linked) it conflicts with; NULL when none, or l is granted.
 * A linear walk: not for per-message paths that succeed. */
const struct lease *lease_set_blocker(const struct lease_set *s, const struct lease *l);

#endif
