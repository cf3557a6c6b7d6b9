/* SPDX-License-Identifier: MIT */
/* handle_owner.c: CHMOD and CHOWN. A changed mode or owner applies to what is
 * asked from then on: leases held are not taken back, and clients that keep an
 * fd of a mode they lost are asked (UNMAP) to close it, which only a
 * cooperating client does; docs/design.md says why. */
#define _GNU_SOURCE
#include "handle_owner.h"

#include <errno.h>

#include "handle_segment.h"
#include "log.h"
#include "mapper.h"
#include "persist.h"

void handle_chmod(struct client *cl, const struct proto_msg *req)
{
	const struct proto_chmod *r = &req->u.chmod;
	struct segment *seg;

	if (r->mode > 0777) {
		client_reply_error(cl, req, PROTO_E_INVAL, "mode %#o has bits outside 0777", r->mode);
		return;
	}
	seg = handle_find_segment(cl, req, r->name, ACCESS_OWN);
	if (!seg)
		return;
	log_info("client %d (%s) changed the mode of '%s' from %03o to %03o", (int)cl->conn->cred.pid,
		 cl->conn->comm, seg->name, seg->mode, r->mode);
	seg->mode = r->mode;
	persist_segment_owner_changed(cl->srv, seg);
	client_reply_ok(cl, req);
	mapper_ask_unmap_lost(seg);
}

void handle_chown(struct client *cl, const struct proto_msg *req)
{
	const struct proto_chown *r = &req->u.chown;
	struct access_cred c = client_cred(cl);
	struct access_obj o;
	struct segment *seg = handle_find_segment(cl, req, r->name, ACCESS_SEE);
	uid_t uid;
	int err;

	if (!seg)
		return;
	o = (struct access_obj){ .uid = seg->uid, .gid = seg->gid, .mode = seg->mode };
	err = access_check_chown(&c, &o, r->uid, r->gid);
	if (err < 0) {
		client_reply_error(cl, req, PROTO_E_PERM,
				   c.uid != seg->uid ? "only the owner of '%s' or root may change its owner or group"
				   : r->uid != PROTO_ID_KEEP && r->uid != seg->uid
					   ? "only root may give '%s' to another user"
					   : "the group of '%s' must be one of its owner's groups",
				   seg->name);
		return;
	}
	if (seg->is_growing) {
		client_reply_error(cl, req, PROTO_E_BUSY, "'%s' is being resized", seg->name);
		return;
	}
	uid = r->uid == PROTO_ID_KEEP ? seg->uid : r->uid;
	quota_segment_moves(&cl->srv->quota, seg->uid, uid, seg->size); /* its charge follows the owner */
	log_info("client %d (%s) gave '%s' to uid %u gid %u", (int)cl->conn->cred.pid, cl->conn->comm, seg->name,
		 (unsigned)uid, (unsigned)(r->gid == PROTO_ID_KEEP ? seg->gid : r->gid));
	seg->uid = uid;
	if (r->gid != PROTO_ID_KEEP)
		seg->gid = r->gid;
	persist_segment_owner_changed(cl->srv, seg);
	client_reply_ok(cl, req);
	mapper_ask_unmap_lost(seg);
}
