/* handle_reclaim.c: RECLAIM (op 20): a client back after a restart names a lease it held; the
 * daemon checks it against the orphans (orphan.c) and makes it this connection's again. */
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
