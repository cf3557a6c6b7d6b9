/* SPDX-License-Identifier: MIT */
/* handle_lease.h: the lease requests: ACQUIRE, RELEASE, and UNMAP of the fds grants brought. */
#ifndef SHMBUFD_HANDLE_LEASE_H
#define SHMBUFD_HANDLE_LEASE_H

#include "client.h"
#include "proto.h"

void handle_acquire(struct client *cl, const struct proto_msg *req);
void handle_release(struct client *cl, const struct proto_msg *req);
void handle_cancel(struct client *cl, const struct proto_msg *req);
void handle_unmap(struct client *cl, const struct proto_msg *req);

#endif
