/* introspect.c: what shmbufctl asks (STATUS, LIST_*), and events for subscribed clients. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

uint64_t server_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void handle_status(struct conn *c, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_status_reply *st = &rep.u.status_reply;
	struct server *srv = c->srv;
	const struct segment *seg;

	st->server_pid = (uint32_t)getpid();
	st->started_ns = srv->started_ns;
	st->uptime_ns = server_now_ns() - srv->started_mono_ns;
	st->bytes = srv->bytes;
	st->max_bytes = srv->cfg.limits.max_bytes;
	st->segments = srv->n_segments;
	st->max_segments = srv->cfg.limits.max_segments;
	st->clients = srv->n_conns;
	st->max_clients = srv->cfg.limits.max_connections;
	/* A walk over segments: STATUS is rare, and counters kept per request would tax every acquire. */
	TAILQ_FOREACH(seg, &srv->all_segments, order_link) {
		st->read_leases += seg->leases.n_read;
		st->write_leases += seg->leases.n_write;
		st->waiters += seg->leases.n_waiting;
	}
	snprintf(st->server_version, sizeof(st->server_version), "%s", SHMBUF_VERSION_STR);
	snprintf(st->socket_path, sizeof(st->socket_path), "%s", srv->socket_path);
	conn_send(c, &rep, -1);
}

static bool list_req_is_valid(struct conn *c, const struct proto_msg *req)
{
	if (req->u.list.name[0] && req->op != PROTO_OP_LIST_LEASES) {
		reply_error(c, req, PROTO_E_INVAL, "%s takes no segment name", proto_op_name(req->op));
		return false;
	}
	return true;
}

void handle_list_segments(struct conn *c, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	const struct segment *seg;

	if (!list_req_is_valid(c, req))
		return;
	TAILQ_FOREACH(seg, &c->srv->all_segments, order_link) {
		struct proto_segment_entry *e;

		if (seg->id <= req->u.list.cursor)
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
		e->waiters = seg->leases.n_waiting;
		e->flags = seg->destroyed ? PROTO_SEG_DESTROYED : 0;
		memcpy(e->name, seg->name, sizeof(e->name));
	}
	conn_send(c, &rep, -1);
}

static void fill_lease_entry(struct proto_lease_entry *e, const struct grant *g, uint64_t now)
{
	e->id = g->id;
	e->client_id = g->conn->id;
	e->offset = g->lease.offset;
	e->length = g->lease.length;
	e->age_ns = now - g->since_ns;
	e->flags = (g->lease.write ? PROTO_LEASE_WRITE : 0) |
		   (g->lease.state == LEASE_WAITING ? PROTO_LEASE_WAITING : 0);
	e->pid = (uint32_t)g->conn->cred.pid;
	e->uid = g->conn->cred.uid;
	e->segment_flags = g->seg->destroyed ? PROTO_SEG_DESTROYED : 0;
	memcpy(e->comm, g->conn->comm, sizeof(e->comm));
	memcpy(e->segment, g->seg->name, sizeof(e->segment));
}

void handle_list_leases(struct conn *c, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	struct server *srv = c->srv;
	const struct segment *only = NULL;
	uint64_t cursor = req->u.list.cursor, now = server_now_ns();
	struct grant *g = NULL;

	if (req->u.list.name[0]) {
		if (!request_name_is_valid(c, req, req->u.list.name))
			return;
		HASH_FIND_STR(srv->segments, req->u.list.name, only);
		if (!only || only->pending) {
			reply_error(c, req, PROTO_E_NOENT, "no segment named '%s'", req->u.list.name);
			return;
		}
	}
	/* Resume right after the cursor's grant when it still exists, so paging
	 * through many leases does not rescan from the start each time. */
	if (cursor)
		HASH_FIND(hh, srv->grants, &cursor, sizeof(cursor), g);
	g = g ? TAILQ_NEXT(g, order_link) : TAILQ_FIRST(&srv->all_grants);
	for (; g; g = TAILQ_NEXT(g, order_link)) {
		if (g->id <= cursor || (only && g->seg != only))
			continue;
		if (l->count == PROTO_LIST_PAGE) {
			l->next_cursor = l->e.leases[PROTO_LIST_PAGE - 1].id;
			break;
		}
		fill_lease_entry(&l->e.leases[l->count++], g, now);
	}
	conn_send(c, &rep, -1);
}

void handle_list_clients(struct conn *c, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = req->op | PROTO_REPLY_BIT, .seq = req->seq };
	struct proto_list_reply *l = &rep.u.list_reply;
	uint64_t now = server_now_ns();
	const struct conn *o;

	if (!list_req_is_valid(c, req))
		return;
	TAILQ_FOREACH(o, &c->srv->conns, link) {
		struct proto_client_entry *e;

		if (o->id <= req->u.list.cursor || o->dead)
			continue;
		if (l->count == PROTO_LIST_PAGE) {
			l->next_cursor = l->e.clients[PROTO_LIST_PAGE - 1].id;
			break;
		}
		e = &l->e.clients[l->count++];
		e->id = o->id;
		e->age_ns = now - o->connected_ns;
		e->pid = (uint32_t)o->cred.pid;
		e->uid = o->cred.uid;
		e->gid = o->cred.gid;
		e->leases = o->n_grants - o->n_waiting;
		e->waiting = o->n_waiting;
		e->flags = (o == c ? PROTO_CLIENT_SELF : 0) | (o->subscribed ? PROTO_CLIENT_SUBSCRIBED : 0);
		memcpy(e->comm, o->comm, sizeof(e->comm));
	}
	conn_send(c, &rep, -1);
}

void handle_subscribe(struct conn *c, const struct proto_msg *req)
{
	if (!c->subscribed) {
		c->subscribed = true;
		c->srv->n_subscribers++;
	}
	reply_ok(c, req);
}

static void broadcast(struct server *srv, struct proto_msg *m)
{
	struct conn *o;

	m->op = PROTO_OP_EVENT | PROTO_REPLY_BIT;
	m->seq = 0;
	m->status = PROTO_OK;
	m->u.event.time_ns = server_realtime_ns();
	/* A watcher that stops reading fills its queue and is dropped by conn_send,
	 * like any slow client: events never hold up the daemon. */
	TAILQ_FOREACH(o, &srv->conns, link)
		if (o->subscribed && !o->dead)
			conn_send(o, m, -1);
}

static void fill_by(struct proto_event *ev, const struct conn *by)
{
	if (!by)
		return;
	ev->client_id = by->id;
	ev->pid = (uint32_t)by->cred.pid;
	ev->uid = by->cred.uid;
	memcpy(ev->comm, by->comm, sizeof(ev->comm));
}

void event_segment(struct server *srv, enum proto_event_type type, const struct segment *seg, const struct conn *by)
{
	struct proto_msg m = { 0 };

	if (!srv->n_subscribers)
		return;
	m.u.event.type = (uint16_t)type;
	m.u.event.size = seg->size;
	memcpy(m.u.event.segment, seg->name, sizeof(m.u.event.segment));
	fill_by(&m.u.event, by);
	broadcast(srv, &m);
}

void event_lease(struct server *srv, enum proto_event_type type, const struct grant *g)
{
	struct proto_msg m = { 0 };

	if (!srv->n_subscribers)
		return;
	m.u.event.type = (uint16_t)type;
	m.u.event.lease_id = g->id;
	m.u.event.offset = g->lease.offset;
	m.u.event.length = g->lease.length;
	m.u.event.size = g->seg->size;
	m.u.event.flags = g->lease.write ? PROTO_LEASE_WRITE : 0;
	memcpy(m.u.event.segment, g->seg->name, sizeof(m.u.event.segment));
	fill_by(&m.u.event, g->conn);
	broadcast(srv, &m);
}

void event_client(struct server *srv, enum proto_event_type type, const struct conn *c)
{
	struct proto_msg m = { 0 };

	if (!srv->n_subscribers)
		return;
	m.u.event.type = (uint16_t)type;
	fill_by(&m.u.event, c);
	broadcast(srv, &m);
}
