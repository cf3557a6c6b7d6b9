/* SPDX-License-Identifier: MIT */
/* introspect.h: the requests that look at the daemon: STATUS, LIST_*, SUBSCRIBE. */
#ifndef SHMBUFD_INTROSPECT_H
#define SHMBUFD_INTROSPECT_H

#include "client.h"
#include "proto.h"

void handle_status(struct client *cl, const struct proto_msg *req);
void handle_list_segments(struct client *cl, const struct proto_msg *req);
void handle_list_leases(struct client *cl, const struct proto_msg *req);
void handle_list_clients(struct client *cl, const struct proto_msg *req);
void handle_list_users(struct client *cl, const struct proto_msg *req);
/* From now on cl receives events (event.h). */
void handle_subscribe(struct client *cl, const struct proto_msg *req);

#endif
