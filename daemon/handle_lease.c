/* handle_lease.c: ACQUIRE (checks, then granted at once, waiting, or BUSY) and RELEASE. */
#define _GNU_SOURCE
#include "handle_lease.h"

#include <inttypes.h>

#include "event.h"
#include "grant.h"
#include "handle_segment.h"

/* The segment and range an ACQUIRE asks for, or NULL with req answered.
 * *length becomes the range's length (0 asks for the rest of the segment). */
static struct segment *acquire_target(struct client *cl, const struct proto_msg *req, uint64_t *length)
{
	const struct proto_acquire *a = &req->u.acquire;
	const struct server_limits *lim = &cl->srv->cfg.limits;
	struct segment *seg;
	uint64_t end;

	if (a->flags != PROTO_ACQ_READ && a->flags != PROTO_ACQ_WRITE) {
		client_reply_error(cl, req, PROTO_E_INVAL, "flags must be READ (1) or WRITE (2), not %#x", a->flags);
		return NULL;
	}
	if (a->timeout_ms < -1) {
		client_reply_error(cl, req, PROTO_E_INVAL, "timeout must be -1, 0 or positive, not %d", a->timeout_ms);
		return NULL;
	}
	seg = handle_find_segment(cl, req, a->name);
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
	if (cl->n_grants >= lim->max_leases) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "lease limit per connection reached (%u)", lim->max_leases);
		return NULL;
	}
	if (seg->leases.n_read + seg->leases.n_write + seg->leases.n_waiting >= lim->max_segment_leases) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "'%s' has %u leases held or waited for, its limit",
				   seg->name, lim->max_segment_leases);
		return NULL;
	}
	return seg;
}

void handle_acquire(struct client *cl, const struct proto_msg *req)
{
	const struct proto_acquire *a = &req->u.acquire;
	struct server *srv = cl->srv;
	struct segment *seg;
	struct grant *g;
	uint64_t length = 0;
	enum lease_verdict v;

	seg = acquire_target(cl, req, &length);
	if (!seg)
		return;
	g = grant_new(cl, seg, req->seq, a->offset, length, a->flags == PROTO_ACQ_WRITE);
	if (!g) {
		client_reply_error(cl, req, PROTO_E_INTERNAL, "out of memory");
		return;
	}
	v = lease_set_request(&seg->leases, &g->lease, a->timeout_ms != 0);
	if (v == LEASE_VERDICT_BUSY) {
		grant_free(g);
		client_reply_error(cl, req, PROTO_E_BUSY,
				   "range %" PRIu64 "+%" PRIu64 " of '%s' conflicts with a lease held or waited for",
				   a->offset, length, seg->name);
		return;
	}
	grant_link(g);
	if (v == LEASE_VERDICT_GRANTED) {
		event_lease(srv, PROTO_EV_LEASE_ACQUIRED, g->id, &g->lease, seg, cl);
		if (!grant_send(g)) {
			grant_end(g);
			grant_settle_later(srv, seg);
		}
		return;
	}
	event_lease(srv, PROTO_EV_LEASE_WAITING, g->id, &g->lease, seg, cl);
	if (a->timeout_ms > 0)
		grant_start_timer(g, (uint64_t)a->timeout_ms);
}

void handle_release(struct client *cl, const struct proto_msg *req)
{
	struct server *srv = cl->srv;
	uint64_t id = req->u.release.lease_id;
	struct grant *g = grant_find(srv, id);
	struct segment *seg;

	/* Another client's lease is reported as absent: ids reveal nothing. */
	if (!g || g->cl != cl || g->lease.state != LEASE_GRANTED) {
		client_reply_error(cl, req, PROTO_E_NOENT, "no lease %" PRIu64 " is held by this connection", id);
		return;
	}
	seg = g->seg;
	grant_end(g);
	client_reply_ok(cl, req);
	grant_settle_later(srv, seg);
}
