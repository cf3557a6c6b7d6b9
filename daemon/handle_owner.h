/* SPDX-License-Identifier: MIT */
/* handle_owner.h: CHMOD and CHOWN, the owner's requests on its segment. */
#ifndef SHMBUFD_HANDLE_OWNER_H
#define SHMBUFD_HANDLE_OWNER_H

#include "client.h"
#include "proto.h"

void handle_chmod(struct client *cl, const struct proto_msg *req);
void handle_chown(struct client *cl, const struct proto_msg *req);

#endif
