/* SPDX-License-Identifier: MIT */
/* handle_lease.c: ACQUIRE (checks, then granted at once, waiting, parked for news, or BUSY),
 * CANCEL (of a waiting ACQUIRE), RELEASE, and UNMAP (a client let go of the fds its grants brought). */
#define _GNU_SOURCE
#include "handle_lease.h"

#include <inttypes.h>

#include "event.h"
#include "grant.h"
#include "handle_segment.h"
#include "mapper.h"

/* The segment and range an ACQUIRE asks for, or NULL with req answered.
 * *length becomes the range's length (0 asks for the rest of the segment). */
static struct segment *acquire_target(struct client *cl, const struct proto_msg *req, uint64_t *length)
{
	const struct proto_acquire *a = &req->u.acquire;
	const struct server_limits *lim = &cl->srv->cfg.limits;
	struct segment *seg;
	uint64_t end;

	uint32_t mode = a->flags & ~PROTO_ACQ_NEWER;

	if (mode != PROTO_ACQ_READ && mode != PROTO_ACQ_WRITE) {
		client_reply_error(cl, req, PROTO_E_INVAL, "flags must be READ (1) or WRITE (2), | NEWER (4), not %#x",
				   a->flags);
		return NULL;
	}
	if (!(a->flags & PROTO_ACQ_NEWER) && a->after != 0) {
		client_reply_error(cl, req, PROTO_E_INVAL, "after is for NEWER requests only");
		return NULL;
	}
	if (a->timeout_ms < -1) {
		client_reply_error(cl, req, PROTO_E_INVAL, "timeout must be -1, 0 or positive, not %d", a->timeout_ms);
		return NULL;
	}
	seg = handle_find_segment(cl, req, a->name, a->flags == PROTO_ACQ_WRITE ? ACCESS_WRITE : ACCESS_READ);
	if (!seg)
		return NULL;
	if (a->offset >= seg->size) {
		client_reply_error(cl, req, PROTO_E_RANGE, "offset %" PRIu64 " is not inside '%s' (%" PRIu64 " bytes)",
				   a->offset, seg->name, seg->size);
		return NULL;
	}
	*length = a->length ? a->length : seg->size - a->offset;
	if (__builtin_add_overflow(a->offset, *length, &end) || end > seg->size) {
		client_reply_error(cl, req, PROTO_E_RANGE,
				   "offset %" PRIu64 " + length %" PRIu64 " passes the end of '%s' (%" PRIu64 " bytes)",
				   a->offset, *length, seg->name, seg->size);
		return NULL;
	}
	if (!client_is_privileged(cl) && quota_user_leases_are_full(cl->user, lim)) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "uid %u holds or waits for %u leases, its quota",
				   (unsigned)cl->conn->cred.uid, lim->user_max_leases);
		return NULL;
	}
	if (cl->n_grants >= lim->max_leases) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "lease limit per connection reached (%u)", lim->max_leases);
		return NULL;
	}
	if (seg->leases.n_read + seg->leases.n_write + seg->leases.n_waiting + seg->leases.n_parked >=
	    lim->max_segment_leases) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "'%s' has %u leases held or waited for, its limit",
				   seg->name, lim->max_segment_leases);
		return NULL;
	}
	return seg;
}

/* BUSY names who holds the range up, so a user can find the holder. */
static void reply_busy(struct client *cl, const struct proto_msg *req, const struct grant *g)
{
	const struct grant *b = grant_blocker(g);

	if (!b) { /* cannot happen: the set said BUSY */
		client_reply_error(cl, req, PROTO_E_BUSY, "range %" PRIu64 "+%" PRIu64 " of '%s' is busy",
				   g->lease.offset, g->lease.length, g->seg->name);
		return;
	}
	/* The name last: a long one is what the 200-byte message may cut. */
	client_reply_error(cl, req, PROTO_E_BUSY,
			   "range %" PRIu64 "+%" PRIu64 " conflicts with %s lease %" PRIu64 " (%" PRIu64 "+%" PRIu64
			   ") %s by pid %d (%s) on '%s'",
			   g->lease.offset, g->lease.length, b->lease.write ? "write" : "read", b->id, b->lease.offset,
			   b->lease.length, b->lease.state == LEASE_WAITING ? "waited for" : "held",
			   (int)b->cl->conn->cred.pid, b->cl->conn->comm, g->seg->name);
}

/* Where g goes: granted, waiting, or (NEWER with no news over its range
 * yet) parked, where it blocks nobody until a write brings news. */
static enum lease_verdict acquire_decide(struct grant *g, const struct proto_acquire *a, bool *is_stale)
{
	struct segment *seg = g->seg;

	*is_stale = (a->flags & PROTO_ACQ_NEWER) &&
		    genmap_newest(&seg->gens, g->lease.offset, g->lease.length) <= a->after;
	if (*is_stale) {
		if (a->timeout_ms == 0)
			return LEASE_VERDICT_BUSY;
		lease_set_park(&seg->leases, &g->lease);
		return LEASE_VERDICT_WAIT;
	}
	return lease_set_request(&seg->leases, &g->lease, a->timeout_ms != 0);
}

void handle_acquire(struct client *cl, const struct proto_msg *req)
{
	const struct proto_acquire *a = &req->u.acquire;
	struct server *srv = cl->srv;
	struct segment *seg;
	struct grant *g;
	uint64_t length = 0;
	enum lease_verdict v;
	bool is_stale;

	seg = acquire_target(cl, req, &length);
	if (!seg)
		return;
	g = grant_new(cl, seg, req->seq, a->offset, length, (a->flags & PROTO_ACQ_WRITE) != 0);
	if (!g) {
		client_reply_error(cl, req, PROTO_E_INTERNAL, "out of memory");
		return;
	}
	/* Trusted as claimed: a client that claims an fd it lacks only hurts itself. */
	g->wants_fd = a->have_segment_id != seg->id;
	v = acquire_decide(g, a, &is_stale);
	if (v == LEASE_VERDICT_BUSY && is_stale) {
		grant_free(g);
		client_reply_error(cl, req, PROTO_E_AGAIN, "nothing in range %" PRIu64 "+%" PRIu64
				   " of '%s' newer than generation %" PRIu64 " yet", a->offset, length, seg->name, a->after);
		return;
	}
	if (v == LEASE_VERDICT_BUSY) {
		reply_busy(cl, req, g);
		grant_free(g);
		return;
	}
	grant_link(g);
	if (v == LEASE_VERDICT_GRANTED) {
		event_lease(srv, PROTO_EV_LEASE_ACQUIRED, g->id, &g->lease, seg, cl);
		if (!grant_send(g, false)) {
			grant_end(g);
			grant_settle_later(srv, seg);
		}
		return;
	}
	event_lease(srv, PROTO_EV_LEASE_WAITING, g->id, &g->lease, seg, cl);
	if (grant_wait_for_news(g, a->after) < 0 ||
	    (a->timeout_ms > 0 && grant_start_timer(g, (uint64_t)a->timeout_ms) < 0)) {
		client_fail_wait(cl, g->seq, PROTO_E_INTERNAL, "out of memory");
		grant_end(g);
		grant_settle_later(srv, seg);
	}
}

void handle_cancel(struct client *cl, const struct proto_msg *req)
{
	uint32_t seq = req->u.cancel.acquire_seq;
	struct grant *g = seq ? grant_find_waiting(cl, seq) : NULL;
	struct segment *seg;

	if (seq == 0) {
		client_reply_error(cl, req, PROTO_E_INVAL, "CANCEL names no ACQUIRE (seq 0)");
		return;
	}
	if (!g) {
		client_reply_error(cl, req, PROTO_E_NOENT, "no ACQUIRE with seq %u is waiting on this connection", seq);
		return;
	}
	seg = g->seg;
	/* The ACQUIRE's answer first, then the CANCEL's: the client reads both in order. */
	client_fail_wait(cl, g->seq, PROTO_E_CANCELED, "canceled while waiting for a lease on '%s'", seg->name);
	grant_end(g);
	client_reply_ok(cl, req);
	grant_settle_later(cl->srv, seg); /* a waiter leaving can unblock those behind it */
}

void handle_release(struct client *cl, const struct proto_msg *req)
{
	struct server *srv = cl->srv;
	uint64_t id = req->u.release.lease_id;
	uint32_t flags = req->u.release.flags;
	struct grant *g = grant_find(srv, id);
	struct segment *seg;

	if (flags & ~PROTO_RELEASE_FLAGS) {
		client_reply_error(cl, req, PROTO_E_INVAL, "unknown RELEASE flags %#x", flags & ~PROTO_RELEASE_FLAGS);
		return;
	}
	/* Another client's lease is reported as absent: ids reveal nothing. */
	if (!g || g->cl != cl || g->lease.state != LEASE_GRANTED) {
		client_reply_error(cl, req, PROTO_E_NOENT, "no lease %" PRIu64 " is held by this connection", id);
		return;
	}
	seg = g->seg;
	grant_end(g);
	/* QUIET: the client does not wait; only a failure is answered. */
	if (!(flags & PROTO_RELEASE_QUIET))
		client_reply_ok(cl, req);
	/* After the reply: a request's own reply comes before what it causes. */
	grant_settle_now(srv, seg);
}

void handle_unmap(struct client *cl, const struct proto_msg *req)
{
	const struct proto_unmap *u = &req->u.unmap;
	const uint32_t all = PROTO_ACQ_READ | PROTO_ACQ_WRITE;
	struct mapper *m;
	struct segment *seg;

	if (u->modes == 0 || (u->modes & ~all)) {
		client_reply_error(cl, req, PROTO_E_INVAL, "modes must be READ (1), WRITE (2) or both, not %#x",
				   u->modes);
		return;
	}
	/* Modes it was not sent are ignored: a client may answer UNMAP with all
	 * it might hold. Only when none is left to drop is it an error. */
	m = mapper_find(cl, u->segment_id);
	if (!m || !(m->modes & u->modes)) {
		client_reply_error(cl, req, PROTO_E_NOENT,
				   "this connection holds no fd of segment %" PRIu64 " in modes %#x",
				   u->segment_id, u->modes);
		return;
	}
	/* Quiet on success. A destroyed segment may now be free of everyone. */
	seg = mapper_drop(m, u->modes);
	if (seg && seg->is_destroyed)
		grant_settle_later(cl->srv, seg);
}
