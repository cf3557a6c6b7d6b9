/* SPDX-License-Identifier: MIT */
/* handle_segment.h: the segment requests: CREATE, DESTROY, RESIZE, STAT; and finding a
 * segment by the name a request gives. */
#ifndef SHMBUFD_HANDLE_SEGMENT_H
#define SHMBUFD_HANDLE_SEGMENT_H

#include <stdbool.h>

#include "client.h"
#include "proto.h"
#include "segment.h"

void handle_create(struct client *cl, const struct proto_msg *req);
void handle_destroy(struct client *cl, const struct proto_msg *req);
void handle_resize(struct client *cl, const struct proto_msg *req);
void handle_stat(struct client *cl, const struct proto_msg *req);

/* Whether name is a valid segment name; if not, req is answered with INVAL. */
bool handle_name_is_valid(struct client *cl, const struct proto_msg *req, const char *name);
/* The usable segment called name that cl may use as `want` asks, or NULL with req
 * answered (INVAL; NOENT, also for one cl may not see; ACCES; PERM). */
struct segment *handle_find_segment(struct client *cl, const struct proto_msg *req, const char *name,
				    enum access_want want);

#endif
