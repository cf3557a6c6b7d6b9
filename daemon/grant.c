/* SPDX-License-Identifier: MIT */
/* grant.c: the life of a grant (a lease held or waited for), and settling a segment's waiters. */
#define _GNU_SOURCE
#include "grant.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "event.h"
#include "log.h"
#include "leasetab.h"
#include "mapper.h"

#define grant_of(l) ((struct grant *)((char *)(l) - offsetof(struct grant, lease)))

struct grant *grant_new(struct client *cl, struct segment *seg, uint32_t seq, uint64_t offset, uint64_t length,
			bool write)
{
	struct grant *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	lease_init(&g->lease, offset, length, write);
	g->seg = seg;
	g->cl = cl;
	g->seq = seq;
	return g;
}

static void on_wait_closed(uv_handle_t *h)
{
	free((struct grant_wait *)h); /* the timer is the wait's first member */
}

/* The wait is over (granted or ended): its timer and news mark go. */
static void drop_wait(struct grant *g)
{
	struct grant_wait *w = g->wait;

	if (!w)
		return;
	g->wait = NULL;
	if (w->has_timer)
		uv_close((uv_handle_t *)&w->timer, on_wait_closed); /* stops it; freed once libuv lets go */
	else
		free(w);
}

static struct grant_wait *wait_of(struct grant *g)
{
	if (!g->wait)
		g->wait = calloc(1, sizeof(*g->wait));
	return g->wait;
}

void grant_free(struct grant *g)
{
	drop_wait(g);
	free(g);
}

int grant_wait_for_news(struct grant *g, uint64_t after)
{
	struct grant_wait *w;

	if (after == 0)
		return 0; /* any write is news: nothing to remember */
	w = wait_of(g);
	if (!w)
		return -ENOMEM;
	w->after = after;
	return 0;
}

void grant_link(struct grant *g)
{
	struct server *srv = g->cl->srv;

	grant_link_as(g, ++srv->next_lease_id);
	leasetab_note_id(&srv->leasetab, srv->next_lease_id); /* one store: ids never repeat */
}

void grant_link_as(struct grant *g, uint64_t id)
{
	struct server *srv = g->cl->srv;

	g->id = id;
	g->since_ns = clock_mono_ns();
	g->seg->refs++;
	TAILQ_INSERT_TAIL(&g->cl->grants, g, client_link);
	TAILQ_INSERT_TAIL(&srv->all_grants, g, order_link);
	g->cl->n_grants++;
	quota_lease(g->cl->user, +1);
	if (g->lease.state != LEASE_GRANTED)
		g->cl->n_waiting++;
	/* uthash frees its table with the last item and allocates it again with
	 * the next, on every acquire+release while nothing else is held. An anchor
	 * that is never a lease (id 0: lease ids start at 1) keeps the table. */
	if (!srv->grant_anchor && (srv->grant_anchor = calloc(1, sizeof(*srv->grant_anchor))))
		HASH_ADD(hh, srv->grants, id, sizeof(srv->grant_anchor->id), srv->grant_anchor);
	HASH_ADD(hh, srv->grants, id, sizeof(g->id), g);
}

struct grant *grant_find_waiting(struct client *cl, uint32_t seq)
{
	struct grant *g;

	/* From the newest: waits are what a client asked for last, so this
	 * rarely walks past its held leases. */
	TAILQ_FOREACH_REVERSE(g, &cl->grants, grant_list, client_link) {
		if (g->seq == seq && g->lease.state != LEASE_GRANTED)
			return g;
	}
	return NULL;
}

struct grant *grant_find(struct server *srv, uint64_t id)
{
	struct grant *g = NULL;

	HASH_FIND(hh, srv->grants, &id, sizeof(id), g);
	return g;
}

static void event_grant(enum proto_event_type type, const struct grant *g)
{
	event_lease(g->cl->srv, type, g->id, &g->lease, g->seg, g->cl);
}


struct grant *grant_blocker(const struct grant *g)
{
	const struct lease *l = lease_set_blocker(&g->seg->leases, &g->lease);

	return l ? grant_of(l) : NULL;
}

void grant_end(struct grant *g)
{
	grant_end_why(g, PROTO_CANCEL_NONE);
}

void grant_end_why(struct grant *g, enum proto_cancel_reason why)
{
	struct server *srv = g->cl->srv;
	struct client *cl = g->cl;
	bool held_write = g->lease.state == LEASE_GRANTED && g->lease.write;

	if (g->lease.state == LEASE_GRANTED)
		event_grant(PROTO_EV_LEASE_RELEASED, g);
	else
		event_lease_cancelled(srv, g->id, &g->lease, g->seg, g->cl, why);
	if (g->lease.state != LEASE_GRANTED)
		cl->n_waiting--;
	/* A write lease ending is news for its range (whether or not it wrote). */
	if (held_write)
		genmap_record(&g->seg->gens, g->lease.offset, g->lease.length, ++g->seg->generation);
	lease_set_remove(&g->seg->leases, &g->lease);
	/* Stopping: held leases stay recorded, for their holders to reclaim after the restart. */
	if (g->slot && !srv->is_stopping)
		leasetab_clear(&srv->leasetab, g->slot);
	TAILQ_REMOVE(&cl->grants, g, client_link);
	TAILQ_REMOVE(&srv->all_grants, g, order_link);
	cl->n_grants--;
	quota_lease(cl->user, -1);
	HASH_DEL(srv->grants, g);
	/* While growing, our own reservation lies past the end: check next time. */
	if (held_write && !g->seg->is_destroyed && !g->seg->is_growing)
		sizewatch_check(&srv->sizewatch, g->seg); /* a backstop: changes are seen at once (inotify) */
	g->seg->refs--;
	grant_free(g);
}

/* The kernel would not pass a grant's fd (ETOOMANYREFS: too many of our fds
 * sit unread in other clients' sockets): answer LIMIT instead. Logged at most
 * once a second, since it comes in waves. */
static void answer_fd_refused(struct client *cl, uint32_t seq)
{
	uint64_t now = clock_mono_ns();

	if (now - cl->srv->fd_refused_logged_ns > 1000000000u) {
		log_warn("cannot pass a descriptor to client %d (%s): too many are unread by other clients",
			 (int)cl->conn->cred.pid, cl->conn->comm);
		cl->srv->fd_refused_logged_ns = now;
	}
	client_fail_wait(cl, seq, PROTO_E_LIMIT,
			 "shmbufd has too many descriptors in flight to clients that do not read them; try again");
}

void grant_fd_refused(struct client *cl, struct conn_tag tag)
{
	struct grant *g = grant_find(cl->srv, tag.id);
	struct segment *seg;

	answer_fd_refused(cl, tag.seq);
	if (!g || g->cl != cl)
		return;
	seg = g->seg;
	grant_end(g);
	grant_settle_later(cl->srv, seg);
}

/* A held lease goes into the lease table before its holder hears of it: a restart
 * from then on knows it. A few stores. */
static void grant_record(struct grant *g)
{
	struct leasetab_rec r = {
		.lease_id = g->id,
		.segment_id = g->seg->id,
		.offset = g->lease.offset,
		.length = g->lease.length,
		.pid = (uint32_t)g->cl->conn->cred.pid,
		.uid = g->cl->conn->cred.uid,
		.write = g->lease.write,
	};

	/* A sealed segment is a memfd, not recorded (persist.h): it cannot come back, and
	 * neither can a lease on it. */
	if (!g->slot && !g->seg->is_sealed)
		g->slot = leasetab_put(&g->cl->srv->leasetab, &r) & 0x7fffffffu;
}

bool grant_send(struct grant *g, bool is_owed)
{
	struct proto_msg rep; /* 5.4 KiB: only the header and u.acquire_reply are encoded */
	struct segment *seg = g->seg;
	struct conn_tag tag = { .id = g->id, .seq = g->seq };
	uint32_t mode = g->lease.write ? PROTO_ACQ_WRITE : PROTO_ACQ_READ;
	int fd = -1, is_new = 0;

	memset(&rep, 0, offsetof(struct proto_msg, u) + sizeof(rep.u.acquire_reply));
	rep.op = PROTO_OP_ACQUIRE | PROTO_REPLY_BIT;
	rep.seq = g->seq;
	rep.u.acquire_reply.lease_id = g->id;
	rep.u.acquire_reply.offset = g->lease.offset;
	rep.u.acquire_reply.length = g->lease.length;
	rep.u.acquire_reply.segment_size = seg->size;
	rep.u.acquire_reply.segment_id = seg->id;
	rep.u.acquire_reply.flags = mode;
	rep.u.acquire_reply.generation = genmap_newest(&seg->gens, g->lease.offset, g->lease.length);
	grant_record(g);
	if (g->wants_fd) {
		/* Recorded before sending: an fd we sent and did not count would
		 * let a destroyed segment's memory live on unaccounted. */
		is_new = mapper_add(g->cl, seg, mode);
		if (is_new < 0) {
			client_fail_wait(g->cl, g->seq, PROTO_E_INTERNAL, "out of memory");
			return false;
		}
		fd = mode == PROTO_ACQ_WRITE ? seg->fd_rw : seg->fd_ro;
		rep.u.acquire_reply.flags |= PROTO_ACQ_FD;
	}
	if (client_send(g->cl, &rep, fd, tag, is_owed) != -ETOOMANYREFS)
		return true;
	if (is_new)
		mapper_drop(mapper_find(g->cl, seg->id), mode); /* g holds seg: it cannot go here */
	answer_fd_refused(g->cl, g->seq);
	return false;
}

static void on_wait_timeout(uv_timer_t *t)
{
	struct grant *g = t->data;
	struct segment *seg = g->seg;
	struct server *srv = g->cl->srv;

	client_fail_wait(g->cl, g->seq, PROTO_E_TIMEDOUT, "timed out waiting for a lease on '%s'", seg->name);
	grant_end_why(g, PROTO_CANCEL_TIMEOUT);
	grant_settle_later(srv, seg); /* a waiter leaving can unblock those behind it */
}

int grant_start_timer(struct grant *g, uint64_t ms)
{
	struct grant_wait *w = wait_of(g);

	if (!w)
		return -ENOMEM;
	uv_timer_init(g->cl->srv->loop, &w->timer);
	w->timer.data = g;
	w->has_timer = true;
	uv_timer_start(&w->timer, on_wait_timeout, ms, 0);
	return 0;
}

static void fail_list(struct segment *seg, struct lease_list *list, uint64_t size, enum proto_status st)
{
	struct lease *l, *next;

	for (l = TAILQ_FIRST(list); l; l = next) {
		struct grant *g = grant_of(l);

		next = TAILQ_NEXT(l, link);
		if (st == PROTO_E_RANGE && l->offset + l->length <= size)
			continue;
		if (st == PROTO_E_NOENT)
			client_fail_wait(g->cl, g->seq, st, "segment '%s' was destroyed while waiting", seg->name);
		else
			client_fail_wait(g->cl, g->seq, st, "segment '%s' shrank to %" PRIu64 " bytes while waiting",
					 seg->name, size);
		grant_end_why(g, st == PROTO_E_NOENT ? PROTO_CANCEL_DESTROY : PROTO_CANCEL_SHRINK);
	}
}

void grant_fail_waiters(struct segment *seg, uint64_t size, enum proto_status st)
{
	fail_list(seg, &seg->leases.waiting, size, st);
	fail_list(seg, &seg->leases.parked, size, st);
}

void grant_drop_client(struct client *cl)
{
	struct grant *g;

	/* Every grant goes before any waiter is reconsidered, so none of this
	 * client's own waits is granted by the release of its own leases. */
	while ((g = TAILQ_FIRST(&cl->grants))) {
		struct segment *seg = g->seg;

		grant_end_why(g, PROTO_CANCEL_DISCONNECT);
		grant_settle_later(cl->srv, seg);
	}
}

/* ---- settling ------------------------------------------------------------- */

static void on_promoted(struct lease *l, void *ctx)
{
	struct grant *g = grant_of(l);
	struct server *srv = ctx;

	drop_wait(g);
	g->cl->n_waiting--;
	g->since_ns = clock_mono_ns();
	event_grant(PROTO_EV_LEASE_ACQUIRED, g);
	/* The set may not change during the walk: end the grant right after it. */
	if (!grant_send(g, true))
		STAILQ_INSERT_TAIL(&srv->revoked, g, revoke_link);
}

/* The memory of a destroyed segment goes when nothing refers to it any more:
 * no grant, no job, and no client that maps it. */
static void free_destroyed(struct server *srv, struct segment *seg)
{
	log_debug("segment '%s' (%s): last lease and mapping gone, memory freed", seg->name, seg->shm_name);
	event_segment(srv, PROTO_EV_SEGMENT_FREED, seg, NULL);
	if (seg->is_unsettled)
		TAILQ_REMOVE(&srv->unsettled, seg, unsettled_link);
	quota_segment(&srv->quota, seg->uid, seg->size, -1);
	sizewatch_remove(&srv->sizewatch, seg);
	TAILQ_REMOVE(&srv->all_segments, seg, order_link);
	segment_free(seg);
}

void grant_settle_later(struct server *srv, struct segment *seg)
{
	/* A destroyed segment has no waiters to reconsider: its memory goes now,
	 * so the next request already sees the bytes and the slot free; or, if
	 * clients still map it, they are asked to let go, and the last one's
	 * UNMAP (or close) comes back here. */
	if (seg->is_destroyed && seg->refs == 0) {
		if (seg->n_mappers == 0)
			free_destroyed(srv, seg);
		else
			mapper_send_unmap(seg);
		return;
	}
	if (seg->is_unsettled)
		return;
	seg->is_unsettled = true;
	TAILQ_INSERT_TAIL(&srv->unsettled, seg, unsettled_link);
	server_schedule_reap(srv);
}

/* Parked waits (ACQUIRE NEWER) whose range has news since their `after` join
 * the wait queue, at its tail, as if requested now: only from here on do
 * they block (or get blocked by) conflicting requests. */
static void unpark_news(struct segment *seg)
{
	struct lease *l, *next;

	if (seg->news_checked == seg->generation)
		return; /* no write ended since the last look */
	seg->news_checked = seg->generation;
	for (l = TAILQ_FIRST(&seg->leases.parked); l; l = next) {
		next = TAILQ_NEXT(l, link);
		const struct grant_wait *w = grant_of(l)->wait;

		if (genmap_newest(&seg->gens, l->offset, l->length) > (w ? w->after : 0))
			lease_set_unpark(&seg->leases, l);
	}
}

/* One walk over seg's waiters, granting whom it can. */
static void settle(struct server *srv, struct segment *seg)
{
	bool was_revoked = false;
	struct grant *g;

	if (!srv->is_stopping) {
		unpark_news(seg);
		lease_set_promote(&seg->leases, on_promoted, srv);
	}
	while ((g = STAILQ_FIRST(&srv->revoked))) {
		STAILQ_REMOVE_HEAD(&srv->revoked, revoke_link);
		grant_end(g);
		was_revoked = true;
	}
	/* A revoked grant's range is free again: walk once more (each walk
	 * ends at least one wait, so this stops). */
	if (was_revoked || (seg->is_destroyed && seg->refs == 0))
		grant_settle_later(srv, seg);
}

void grant_settle_now(struct server *srv, struct segment *seg)
{
	if (seg->is_destroyed || seg->is_unsettled || !TAILQ_EMPTY(&srv->dead_clients)) {
		grant_settle_later(srv, seg);
		return;
	}
	settle(srv, seg);
}

void grant_settle_all(struct server *srv)
{
	struct segment *seg;

	while ((seg = TAILQ_FIRST(&srv->unsettled))) {
		TAILQ_REMOVE(&srv->unsettled, seg, unsettled_link);
		seg->is_unsettled = false;
		settle(srv, seg);
	}
}
