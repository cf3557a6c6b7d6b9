/* SPDX-License-Identifier: MIT */
/* handle_reclaim.h: RECLAIM, taking back a lease held before a restart. */
#ifndef SHMBUFD_HANDLE_RECLAIM_H
#define SHMBUFD_HANDLE_RECLAIM_H

#include "client.h"

void handle_reclaim(struct client *cl, const struct proto_msg *req);

#endif
