/* SPDX-License-Identifier: MIT */
/* introspect.c: what shmbufctl asks: STATUS, LIST_SEGMENTS, LIST_LEASES, LIST_CLIENTS, LIST_USERS,
 * SUBSCRIBE.
 * Listings are private: segments (and their leases) the caller may see, its own connections
 * and usage; root and the daemon's uid see everything. */
#define _GNU_SOURCE
#include "introspect.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "grant.h"
#include "handle_segment.h"
#include "orphan.h"

/* STATUS's restart fields: the record's count of starts, the orphans and the grace. */
static void status_restarts(const struct server *srv, struct proto_status_reply *st)
{
	struct orphan_counts o;

	orphan_counts(srv, &o);
	st->restarts = srv->starts > 0 ? (uint32_t)(srv->starts - 1) : 0;
	st->grace_left_ms = (uint32_t)o.grace_left_ms;
	st->orphans = o.left;
	st->reclaimed = o.reclaimed;
	st->lost = o.lost;
}

void handle_status(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_status_reply *st = &rep.u.status_reply;
	struct server *srv = cl->srv;
	const struct segment *seg;

	st->server_pid = (uint32_t)getpid();
	st->started_ns = srv->started_ns;
	st->uptime_ns = clock_mono_ns() - srv->started_mono_ns;
	st->bytes = srv->quota.bytes;
	st->max_bytes = srv->cfg.limits.max_bytes;
	st->segments = srv->quota.n_segments;
	st->max_segments = srv->cfg.limits.max_segments;
	st->clients = srv->quota.n_conns;
	st->max_clients = srv->cfg.limits.max_connections;
	/* A walk over segments: STATUS is rare, and counters kept per request would tax every acquire. */
	TAILQ_FOREACH(seg, &srv->all_segments, order_link) {
		st->read_leases += seg->leases.n_read;
		st->write_leases += seg->leases.n_write;
		st->waiters += seg->leases.n_waiting + seg->leases.n_parked;
	}
	snprintf(st->server_version, sizeof(st->server_version), "%s", SHMBUF_VERSION_STR);
	snprintf(st->socket_path, sizeof(st->socket_path), "%s", srv->socket_path);
	status_restarts(srv, st);
	client_send_msg(cl, &rep);
}

static bool list_req_is_valid(struct client *cl, const struct proto_msg *req)
{
	if (req->u.list.name[0] && req->op != PROTO_OP_LIST_LEASES) {
		client_reply_error(cl, req, PROTO_E_INVAL, "%s takes no segment name", proto_op_name(req->op));
		return false;
	}
	return true;
}

void handle_list_segments(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	const struct segment *seg;

	if (!list_req_is_valid(cl, req))
		return;
	TAILQ_FOREACH(seg, &cl->srv->all_segments, order_link) {
		struct proto_segment_entry *e;

		if (seg->id <= req->u.list.cursor || client_may(cl, seg, ACCESS_SEE) < 0)
			continue;
		if (l->count == PROTO_LIST_PAGE) {
			l->next_cursor = l->e.segments[PROTO_LIST_PAGE - 1].id;
			break;
		}
		e = &l->e.segments[l->count++];
		e->id = seg->id;
		e->size = seg->size;
		e->created_ns = seg->created_ns;
		e->mode = seg->mode;
		e->uid = seg->uid;
		e->gid = seg->gid;
		e->pid = (uint32_t)seg->pid;
		e->read_leases = seg->leases.n_read;
		e->write_leases = seg->leases.n_write;
		e->waiters = seg->leases.n_waiting + seg->leases.n_parked;
		e->generation = seg->generation;
		e->flags = (seg->is_destroyed ? PROTO_SEG_DESTROYED : 0) | (seg->is_sealed ? PROTO_SEG_SEALED : 0);
		memcpy(e->name, seg->name, sizeof(e->name));
	}
	client_send_msg(cl, &rep);
}

static void fill_lease_entry(struct proto_lease_entry *e, const struct grant *g, uint64_t now)
{
	e->id = g->id;
	e->client_id = g->cl->id;
	e->offset = g->lease.offset;
	e->length = g->lease.length;
	e->age_ns = now - g->since_ns;
	e->flags = (g->lease.write ? PROTO_LEASE_WRITE : 0) |
		   (g->lease.state != LEASE_GRANTED ? PROTO_LEASE_WAITING : 0);
	e->pid = (uint32_t)g->cl->conn->cred.pid;
	e->uid = g->cl->conn->cred.uid;
	e->segment_flags = g->seg->is_destroyed ? PROTO_SEG_DESTROYED : 0;
	memcpy(e->comm, g->cl->conn->comm, sizeof(e->comm));
	memcpy(e->segment, g->seg->name, sizeof(e->segment));
	if (g->lease.state == LEASE_WAITING) {
		const struct grant *b = grant_blocker(g);

		e->blocked_by = b ? b->id : 0;
	}
}

void handle_list_leases(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	struct server *srv = cl->srv;
	const struct segment *only = NULL;
	uint64_t cursor = req->u.list.cursor, now = clock_mono_ns();
	struct grant *g = NULL;

	if (req->u.list.name[0]) {
		if (!handle_name_is_valid(cl, req, req->u.list.name))
			return;
		HASH_FIND_STR(srv->segments, req->u.list.name, only);
		if (!only || only->is_pending || client_may(cl, only, ACCESS_SEE) < 0) {
			client_reply_error(cl, req, PROTO_E_NOENT, "no segment named '%s'", req->u.list.name);
			return;
		}
	}
	/* Resume right after the cursor's grant when it still exists, so paging
	 * through many leases does not rescan from the start each time. */
	if (cursor)
		HASH_FIND(hh, srv->grants, &cursor, sizeof(cursor), g);
	g = g ? TAILQ_NEXT(g, order_link) : TAILQ_FIRST(&srv->all_grants);
	for (; g; g = TAILQ_NEXT(g, order_link)) {
		if (g->id <= cursor || (only && g->seg != only) || (!only && client_may(cl, g->seg, ACCESS_SEE) < 0))
			continue;
		if (l->count == PROTO_LIST_PAGE) {
			l->next_cursor = l->e.leases[PROTO_LIST_PAGE - 1].id;
			break;
		}
		fill_lease_entry(&l->e.leases[l->count++], g, now);
	}
	client_send_msg(cl, &rep);
}

void handle_list_clients(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	uint64_t now = clock_mono_ns();
	bool sees_all = client_is_privileged(cl);
	const struct client *o;

	if (!list_req_is_valid(cl, req))
		return;
	TAILQ_FOREACH(o, &cl->srv->clients, link) {
		struct proto_client_entry *e;

		/* Others see their own connections only: pids and commands are private. */
		if (o->id <= req->u.list.cursor || o->is_dead || (!sees_all && o->conn->cred.uid != cl->conn->cred.uid))
			continue;
		if (l->count == PROTO_LIST_PAGE) {
			l->next_cursor = l->e.clients[PROTO_LIST_PAGE - 1].id;
			break;
		}
		e = &l->e.clients[l->count++];
		e->id = o->id;
		e->age_ns = now - o->connected_ns;
		e->pid = (uint32_t)o->conn->cred.pid;
		e->uid = o->conn->cred.uid;
		e->gid = o->conn->cred.gid;
		e->leases = o->n_grants - o->n_waiting;
		e->waiting = o->n_waiting;
		e->flags = (o == cl ? PROTO_CLIENT_SELF : 0) | (o->is_subscribed ? PROTO_CLIENT_SUBSCRIBED : 0);
		memcpy(e->comm, o->conn->comm, sizeof(e->comm));
	}
	client_send_msg(cl, &rep);
}

static void fill_user_entry(struct proto_user_entry *e, const struct quota_user *u, const struct server *srv)
{
	const struct server_limits *lim = &srv->cfg.limits;
	bool is_exempt = u->uid == 0 || u->uid == srv->uid;

	/* An exempt user is held only by the daemon-wide limits (leases: none, 0). */
	*e = (struct proto_user_entry){
		.uid = u->uid,
		.flags = is_exempt ? PROTO_USER_EXEMPT : 0,
		.connections = u->count,
		.max_connections = is_exempt ? lim->max_connections : lim->max_user_connections,
		.segments = u->segments,
		.max_segments = is_exempt ? lim->max_segments : lim->user_max_segments,
		.leases = u->leases,
		.max_leases = is_exempt ? 0 : lim->user_max_leases,
		.bytes = u->bytes,
		.max_bytes = is_exempt ? lim->max_bytes : lim->user_max_bytes,
	};
}

/* The user of the lowest uid >= from, or NULL. A scan: LIST_USERS is rare and
 * users few; keeping them sorted would tax every connect. */
static const struct quota_user *user_from(const struct server *srv, uint64_t from)
{
	const struct quota_user *u, *best = NULL;

	for (u = srv->quota.users; u; u = u->hh.next)
		if (u->uid >= from && (!best || u->uid < best->uid))
			best = u;
	return best;
}

void handle_list_users(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	uint64_t from = req->u.list.cursor;
	const struct quota_user *u;

	if (!list_req_is_valid(cl, req))
		return;
	if (!client_is_privileged(cl)) {
		/* Others see themselves only. */
		if (from == 0 && cl->user)
			fill_user_entry(&l->e.users[l->count++], cl->user, cl->srv);
		client_send_msg(cl, &rep);
		return;
	}
	while (l->count < PROTO_LIST_PAGE && (u = user_from(cl->srv, from))) {
		fill_user_entry(&l->e.users[l->count++], u, cl->srv);
		from = (uint64_t)u->uid + 1;
	}
	if (l->count == PROTO_LIST_PAGE && user_from(cl->srv, from))
		l->next_cursor = from;
	client_send_msg(cl, &rep);
}

void handle_subscribe(struct client *cl, const struct proto_msg *req)
{
	client_subscribe(cl);
	client_reply_ok(cl, req);
}
