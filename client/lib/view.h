/* SPDX-License-Identifier: MIT */
/* view.h: the two halves of an acquire (request, then view), shared by the
 * blocking calls in view.c and the asynchronous ones in async.c. Private. */
#ifndef SHMBUF_VIEW_H
#define SHMBUF_VIEW_H

#define view_prepare shmbuf__view_prepare
#define view_finish shmbuf__view_finish
#define view_abandon shmbuf__view_abandon
#define view_release_lease shmbuf__view_release_lease

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

/* What an acquire asked for, kept until its answer: the answer overwrites
 * the request message. */
struct view_req {
	char key[PROTO_NAME_MAX + 1]; /* the segment name: the kept-mapping cache's key */
	uint64_t offset, length;
	unsigned flags;               /* SHMBUF_READ or SHMBUF_WRITE */
	struct mc_entry *claim;       /* the kept fd the request names, pinned until the answer */
};

/* Checks the arguments, fills m as the ACQUIRE (NEWER with after when newer)
 * and claims the kept fd it names. Returns 0 (then view_finish() or
 * view_abandon() must follow), or a negative errno. */
int view_prepare(shmbuf_client *c, struct view_req *r, struct proto_msg *m, const char *name, uint64_t offset,
		 uint64_t length, unsigned flags, bool newer, uint64_t after, int timeout_ms);

/* The request's outcome: err (no answer came) or the reply m with fd (or -1)
 * becomes *out (size bytes), consuming the claim and the fd; a grant that
 * cannot become a view is released. Returns 0 or a negative errno. */
int view_finish(shmbuf_client *c, struct view_req *r, int err, const struct proto_msg *m, int fd, shmbuf_view *out,
		size_t size);

/* The request was never sent: let go of its claim. */
void view_abandon(shmbuf_client *c, struct view_req *r);

/* Ends a lease we hold without waiting (a quiet RELEASE). */
int view_release_lease(shmbuf_client *c, uint64_t lease_id, const struct relrec *rec);

#endif
