/* SPDX-License-Identifier: MIT */
/* event.c: building events and sending them to the subscribers that may see them (listings' rules). */
#define _GNU_SOURCE
#include "event.h"

#include <string.h>

#include "clock.h"

/* Whether subscriber o may be told of an event about seg (NULL: about a
 * client of uid): the listings' rules. */
static bool may_see(const struct client *o, const struct segment *seg, uid_t uid)
{
	if (seg)
		return client_may(o, seg, ACCESS_SEE) == 0;
	return o->conn->cred.uid == uid || client_is_privileged(o);
}

static void broadcast(struct server *srv, struct proto_msg *m, const struct segment *seg, uid_t uid)
{
	struct client *o;

	m->op = PROTO_OP_EVENT | PROTO_REPLY_BIT;
	m->seq = 0;
	m->status = PROTO_OK;
	m->u.event.time_ns = clock_real_ns();
	/* A watcher that stops reading fills its queue and is dropped by conn_send,
	 * like any slow client: events never hold up the daemon. */
	TAILQ_FOREACH(o, &srv->clients, link)
		if (o->is_subscribed && !o->is_dead && may_see(o, seg, uid))
			client_send_msg(o, m);
}

static void fill_by(struct proto_event *ev, const struct client *by)
{
	if (!by)
		return;
	ev->client_id = by->id;
	ev->pid = (uint32_t)by->conn->cred.pid;
	ev->uid = by->conn->cred.uid;
	memcpy(ev->comm, by->conn->comm, sizeof(ev->comm));
}

/* These run on every change (event_lease twice per acquire and release): with
 * nobody subscribed they cost one branch, so the 5.4 KiB struct proto_msg is
 * zeroed only past that test. */
void event_segment(struct server *srv, enum proto_event_type type, const struct segment *seg,
		   const struct client *by)
{
	struct proto_msg m;

	if (!srv->n_subscribers)
		return;
	memset(&m, 0, sizeof(m));
	m.u.event.type = (uint16_t)type;
	m.u.event.size = seg->size;
	memcpy(m.u.event.segment, seg->name, sizeof(m.u.event.segment));
	fill_by(&m.u.event, by);
	broadcast(srv, &m, seg, 0);
}

static void send_lease_event(struct server *srv, enum proto_event_type type, uint64_t id, const struct lease *l,
			     const struct segment *seg, const struct client *by, enum proto_cancel_reason why)
{
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.u.event.type = (uint16_t)type;
	m.u.event.reason = why;
	m.u.event.lease_id = id;
	m.u.event.offset = l->offset;
	m.u.event.length = l->length;
	m.u.event.size = seg->size;
	m.u.event.flags = l->write ? PROTO_LEASE_WRITE : 0;
	memcpy(m.u.event.segment, seg->name, sizeof(m.u.event.segment));
	fill_by(&m.u.event, by);
	broadcast(srv, &m, seg, 0);
}

void event_lease(struct server *srv, enum proto_event_type type, uint64_t id, const struct lease *l,
		 const struct segment *seg, const struct client *by)
{
	if (srv->n_subscribers)
		send_lease_event(srv, type, id, l, seg, by, PROTO_CANCEL_NONE);
}

void event_lease_cancelled(struct server *srv, uint64_t id, const struct lease *l, const struct segment *seg,
			   const struct client *by, enum proto_cancel_reason why)
{
	if (srv->n_subscribers)
		send_lease_event(srv, PROTO_EV_LEASE_CANCELLED, id, l, seg, by, why);
}

void event_client(struct server *srv, enum proto_event_type type, const struct client *cl)
{
	struct proto_msg m;

	if (!srv->n_subscribers)
		return;
	memset(&m, 0, sizeof(m));
	m.u.event.type = (uint16_t)type;
	fill_by(&m.u.event, cl);
	broadcast(srv, &m, NULL, cl->conn->cred.uid);
}
