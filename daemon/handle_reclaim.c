/* SPDX-License-Identifier: MIT */
/* handle_reclaim.c: RECLAIM (op 20): a client back after a restart names a lease it held; the
 * daemon checks it against the orphans (orphan.c) and makes it this connection's again.
 *
 * No permission check (access.c) is made again: the lease was granted under the segment's
 * mode at the time, and RECLAIM only continues it, for the same process (pid) and uid as
 * recorded. That is what a CHMOD or CHOWN does to a held lease without a restart (it does
 * not revoke it), so a restart neither takes away nor gives anything. The charge of the
 * lease moves from the orphan's recorded uid to the connection's user: the same uid. */
#define _GNU_SOURCE
#include "handle_reclaim.h"

#include <inttypes.h>

#include "orphan.h"

void handle_reclaim(struct client *cl, const struct proto_msg *req)
{
	const struct proto_reclaim *r = &req->u.reclaim;
	const char *why = "";
	enum proto_status st = orphan_reclaim(cl, r, &why);

	if (st != PROTO_OK) {
		client_reply_error(cl, req, st, "cannot reclaim lease %" PRIu64 ": %s", r->lease_id, why);
		return;
	}
	client_reply_ok(cl, req);
}
