/* SPDX-License-Identifier: MIT */
/* event.h: events for subscribed clients (segments, leases, clients coming and going). */
#ifndef SHMBUFD_EVENT_H
#define SHMBUFD_EVENT_H

#include <stdint.h>

#include "client.h"
#include "lease.h"
#include "proto.h"
#include "segment.h"
#include "server.h"

/* Each costs one branch when nobody subscribed. by: the client that caused
 * it, or NULL. */
void event_segment(struct server *srv, enum proto_event_type type, const struct segment *seg,
		   const struct client *by);
/* A lease (id, its range l on seg) of client by. */
void event_lease(struct server *srv, enum proto_event_type type, uint64_t id, const struct lease *l,
		 const struct segment *seg, const struct client *by);
/* A LEASE_CANCELLED of waiter by, saying why the wait ended. */
void event_lease_cancelled(struct server *srv, uint64_t id, const struct lease *l, const struct segment *seg,
			   const struct client *by, enum proto_cancel_reason why);
void event_client(struct server *srv, enum proto_event_type type, const struct client *cl);

#endif
