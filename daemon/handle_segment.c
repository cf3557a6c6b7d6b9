/* SPDX-License-Identifier: MIT */
/* handle_segment.c: CREATE, DESTROY, RESIZE and STAT. */
#define _GNU_SOURCE
#include "handle_segment.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "grant.h"
#include "job.h"
#include "log.h"
#include "persist.h"
#include "size.h"

bool handle_name_is_valid(struct client *cl, const struct proto_msg *req, const char *name)
{
	char why[96];

	if (proto_name_is_valid(name, strlen(name)))
		return true;
	client_reply_error(cl, req, PROTO_E_INVAL,
			   "invalid segment name: %s (use 1-255 printable ASCII bytes, not starting with '/')",
			   proto_name_problem(name, strlen(name), why, sizeof(why)));
	return false;
}

/* NOSPC: the kernel has no room for size bytes of shared memory. */
static void reply_no_shm(struct client *cl, const struct proto_msg *req, uint64_t size)
{
	char want[64];

	size_human(size, want, sizeof(want));
	client_reply_error(cl, req, PROTO_E_NOSPC, "no memory for %s in /dev/shm", want);
}

/* NOSPC for `more` bytes past --max-bytes, in sizes a person reads. */
static void reply_over_byte_limit(struct client *cl, const struct proto_msg *req, uint64_t more)
{
	char want[64], used[64], max[64];

	size_human(more, want, sizeof(want));
	size_human(cl->srv->quota.bytes, used, sizeof(used));
	size_human(cl->srv->cfg.limits.max_bytes, max, sizeof(max));
	client_reply_error(cl, req, PROTO_E_NOSPC, "%s more would pass the byte limit of %s (%s in use)", want, max,
			   used);
}

struct segment *handle_find_segment(struct client *cl, const struct proto_msg *req, const char *name,
				    enum access_want want)
{
	struct segment *seg = NULL;
	int r;

	if (!handle_name_is_valid(cl, req, name))
		return NULL;
	HASH_FIND_STR(cl->srv->segments, name, seg);
	r = seg ? client_may(cl, seg, want) : -ENOENT;
	/* One the client may not see is answered word for word as a missing one. */
	if (r == -ENOENT)
		client_reply_error(cl, req, PROTO_E_NOENT, "no segment named '%s'", name);
	else if (seg->is_pending)
		client_reply_error(cl, req, PROTO_E_NOENT, "segment '%s' is still being created", name);
	else if (r == -EACCES)
		client_reply_error(cl, req, PROTO_E_ACCES, "permission denied: %s of '%s' (mode %03o, uid %u, gid %u)",
				   want == ACCESS_READ ? "read" : "write", name, seg->mode, (unsigned)seg->uid,
				   (unsigned)seg->gid);
	else if (r == -EPERM)
		client_reply_error(cl, req, PROTO_E_PERM, "only the owner of '%s' (uid %u) or root may %s it", name,
				   (unsigned)seg->uid, proto_op_name(req->op));
	return r == 0 && !seg->is_pending ? seg : NULL;
}

/* ---- CREATE --------------------------------------------------------------- */

/* Answer a CREATE (cl may be NULL: the client left meanwhile) and, on success,
 * make the segment exist. Takes seg. Also job_create()'s completion. */
static void finish_create(struct server *srv, struct client *cl, const struct proto_msg *req, struct segment *seg,
			  int err)
{
	if (err < 0) {
		bool is_out_of_memory = err == -ENOSPC || err == -ENOMEM || err == -EFBIG;

		if (!is_out_of_memory)
			log_err("cannot create a shared-memory object for '%s': %s", seg->name, strerror(-err));
		if (cl && is_out_of_memory)
			reply_no_shm(cl, req, seg->size);
		else if (cl && (err == -EMFILE || err == -ENFILE))
			client_reply_error(cl, req, PROTO_E_LIMIT, "shmbufd is out of file descriptors");
		else if (cl)
			client_reply_error(cl, req, PROTO_E_INTERNAL, "cannot create the shared-memory object: %s",
					   strerror(-err));
		segment_free(seg);
		return;
	}
	seg->id = ++srv->next_segment_id;
	HASH_ADD_STR(srv->segments, name, seg);
	TAILQ_INSERT_TAIL(&srv->all_segments, seg, order_link);
	quota_segment(&srv->quota, seg->uid, seg->size, +1);
	sizewatch_add(&srv->sizewatch, seg);
	persist_segment_created(srv, seg);
	event_segment(srv, PROTO_EV_SEGMENT_CREATED, seg, cl);
	log_info("client %d (uid %d) created segment '%s' (%" PRIu64 " bytes, mode %03o) as %s", (int)seg->pid,
		 (int)seg->uid, seg->name, seg->size, seg->mode, seg->is_sealed ? "a sealed memfd" : seg->shm_name);
	if (cl)
		client_reply_ok(cl, req);
}

/* Whether owner uid's quota takes `segments` more segments (0 or 1) and n more
 * bytes, and users together leave root's reserve alone: answers req (LIMIT, i.e.
 * EDQUOT; NOSPC for bytes past the reserve) and returns false if not. Root and the
 * daemon's uid, as caller or owner, are never refused for a user's quota. */
static bool user_quota_allows(struct client *cl, const struct proto_msg *req, uid_t uid, int segments, uint64_t n)
{
	const struct server_limits *lim = &cl->srv->cfg.limits;
	const struct quota_user *u = quota_user_find(&cl->srv->quota, uid);

	if (client_is_privileged(cl) || uid == 0 || uid == cl->srv->uid)
		return true;
	if (segments && quota_user_segments_are_full(&cl->srv->quota, uid)) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "uid %u owns %u segments, its quota", (unsigned)uid,
				   lim->user_max_segments);
		return false;
	}
	if (quota_user_bytes_would_exceed(&cl->srv->quota, uid, n)) {
		client_reply_error(cl, req, PROTO_E_LIMIT,
				   "%" PRIu64 " more bytes would pass uid %u's quota (%" PRIu64 " of %" PRIu64 " in use)",
				   n, (unsigned)uid, u ? u->bytes : 0, lim->user_max_bytes);
		return false;
	}
	if (segments && quota_others_would_exceed(&cl->srv->quota, segments, 0)) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "segment limit reached, but for those kept for root");
		return false;
	}
	if (quota_others_would_exceed(&cl->srv->quota, 0, n)) {
		client_reply_error(cl, req, PROTO_E_NOSPC, "byte limit reached, but for a sixteenth kept for root");
		return false;
	}
	return true;
}

/* Names under "uid/<n>/" are uid n's (squatting policy, access.h): answers req if not. */
static bool create_name_is_allowed(struct client *cl, const struct proto_msg *req, const char *name)
{
	struct access_cred c = client_cred(cl);

	if (access_check_create_name(&c, name) == 0)
		return true;
	client_reply_error(cl, req, PROTO_E_ACCES, "names under '%s' are reserved: uid %u may create under '%s%u/'",
			   ACCESS_RESERVED_PREFIX, (unsigned)c.uid, ACCESS_RESERVED_PREFIX, (unsigned)c.uid);
	return false;
}

/* Whether a CREATE may go ahead: answers req and returns false if not. */
static bool create_is_allowed(struct client *cl, const struct proto_msg *req)
{
	const struct proto_segment_req *r = &req->u.segment;
	struct server *srv = cl->srv;
	struct segment *seg = NULL;

	if (!handle_name_is_valid(cl, req, r->name))
		return false;
	if (!create_name_is_allowed(cl, req, r->name))
		return false;
	if (r->size == 0) {
		client_reply_error(cl, req, PROTO_E_INVAL, "segment size must be at least 1 byte");
		return false;
	}
	if (r->mode > 0777) {
		client_reply_error(cl, req, PROTO_E_INVAL, "mode %#o has bits outside 0777", r->mode);
		return false;
	}
	if (r->flags & ~PROTO_CREATE_FLAGS) {
		client_reply_error(cl, req, PROTO_E_INVAL, "unknown CREATE flags %#x", r->flags & ~PROTO_CREATE_FLAGS);
		return false;
	}
	HASH_FIND_STR(srv->segments, r->name, seg);
	if (seg) {
		client_reply_error(cl, req, PROTO_E_EXIST, "segment '%s' already exists", r->name);
		return false;
	}
	if (quota_segments_are_full(&srv->quota)) {
		client_reply_error(cl, req, PROTO_E_LIMIT, "segment limit reached (%u)", srv->cfg.limits.max_segments);
		return false;
	}
	if (quota_bytes_would_exceed(&srv->quota, r->size)) {
		reply_over_byte_limit(cl, req, r->size);
		return false;
	}
	return user_quota_allows(cl, req, cl->conn->cred.uid, 1, r->size);
}

void handle_create(struct client *cl, const struct proto_msg *req)
{
	const struct proto_segment_req *r = &req->u.segment;
	struct server *srv = cl->srv;
	struct segment *seg = NULL;
	int err;

	if (!create_is_allowed(cl, req))
		return;
	err = segment_alloc(r->name, r->size, &seg);
	if (err < 0) {
		client_reply_error(cl, req, err == -EFBIG ? PROTO_E_NOSPC : PROTO_E_INTERNAL, "cannot create '%s': %s",
				   r->name, strerror(-err));
		return;
	}
	seg->mode = r->mode;
	seg->is_sealed = r->flags & PROTO_CREATE_SEALED;
	seg->uid = cl->conn->cred.uid;
	seg->gid = cl->conn->cred.gid;
	seg->pid = cl->conn->cred.pid;
	if (srv->cfg.prealloc && r->size >= JOB_BACKGROUND_BYTES && job_create(cl, req, seg, finish_create) == 0)
		return;
	err = segment_open_fresh(seg, srv->shm_prefix, srv->instance, srv->next_object, srv->cfg.prealloc);
	srv->next_object += SEGMENT_NAME_TRIES;
	finish_create(srv, cl, req, seg, err);
}

/* ---- DESTROY -------------------------------------------------------------- */

void handle_destroy(struct client *cl, const struct proto_msg *req)
{
	struct server *srv = cl->srv;
	struct segment *seg = handle_find_segment(cl, req, req->u.segment.name, ACCESS_OWN);

	if (!seg)
		return;
	HASH_DEL(srv->segments, seg);
	segment_unlink(seg);
	persist_segment_destroyed(srv, seg);
	log_info("client %d (%s) destroyed segment '%s'%s", (int)cl->conn->cred.pid, cl->conn->comm, seg->name,
		 segment_is_leased(seg) ? "; memory stays until its leases end and its mappers let go" :
		 seg->n_mappers ? "; memory stays until the clients that map it let go" : "");
	client_reply_ok(cl, req);
	event_segment(srv, PROTO_EV_SEGMENT_DESTROYED, seg, cl);
	grant_fail_waiters(seg, 0, PROTO_E_NOENT);
	grant_settle_later(srv, seg); /* frees it now when nothing holds it */
}

/* ---- RESIZE --------------------------------------------------------------- */

static void reply_resize_failed(struct client *cl, const struct proto_msg *req, uint64_t size, int err)
{
	if (err == -ENOSPC || err == -ENOMEM || err == -EFBIG)
		reply_no_shm(cl, req, size);
	else
		client_reply_error(cl, req, PROTO_E_INTERNAL, "cannot resize the shared-memory object: %s",
				   strerror(-err));
}

/* job_grow()'s completion: set the size, or give back what was reserved. */
static void finish_grow(struct server *srv, struct client *cl, const struct proto_msg *req, struct segment *seg,
			uint64_t from, uint64_t to, int err)
{
	if (srv->is_stopping || seg->is_destroyed) {
		if (cl && !srv->is_stopping)
			client_reply_error(cl, req, PROTO_E_NOENT, "segment '%s' was destroyed while growing", seg->name);
		grant_settle_later(srv, seg); /* frees it if nothing else holds it */
	} else if (err == 0 && (err = segment_resize(seg, to, false)) == 0) {
		log_info("segment '%s' grown from %" PRIu64 " to %" PRIu64 " bytes", seg->name, from, to);
		quota_bytes_change(&srv->quota, seg->uid, from, to);
		persist_segment_changed(srv, seg);
		if (cl)
			client_reply_ok(cl, req);
		event_segment(srv, PROTO_EV_SEGMENT_RESIZED, seg, cl);
	} else {
		/* Give back whatever was reserved past the end. */
		if (ftruncate(seg->fd_rw, (off_t)seg->size) < 0)
			log_err("cannot trim segment '%s': %s", seg->name, strerror(errno));
		if (cl && (err == -ENOSPC || err == -ENOMEM))
			reply_no_shm(cl, req, to);
		else if (cl)
			client_reply_error(cl, req, PROTO_E_INTERNAL, "cannot grow the shared-memory object: %s",
					   strerror(-err));
	}
}

/* Whether seg may be resized to size: answers req and returns false if not
 * (or if there is nothing to do). */
static bool resize_is_allowed(struct client *cl, const struct proto_msg *req, struct segment *seg, uint64_t size)
{
	struct server *srv = cl->srv;
	uint64_t end;

	if (size == 0) {
		client_reply_error(cl, req, PROTO_E_INVAL, "segment size must be at least 1 byte");
		return false;
	}
	if (size == seg->size) {
		client_reply_ok(cl, req);
		return false;
	}
	if (seg->is_sealed) {
		client_reply_error(cl, req, PROTO_E_PERM, "'%s' is sealed: its size is fixed", seg->name);
		return false;
	}
	end = lease_set_granted_end(&seg->leases);
	if (size < end) {
		client_reply_error(cl, req, PROTO_E_BUSY,
				   "cannot shrink '%s' to %" PRIu64 " bytes: bytes up to %" PRIu64 " are leased",
				   seg->name, size, end);
		return false;
	}
	if (size > seg->size && quota_bytes_would_exceed(&srv->quota, size - seg->size)) {
		reply_over_byte_limit(cl, req, size - seg->size);
		return false;
	}
	if (seg->is_growing) {
		client_reply_error(cl, req, PROTO_E_BUSY, "another resize of '%s' is under way", seg->name);
		return false;
	}
	return size < seg->size || user_quota_allows(cl, req, seg->uid, 0, size - seg->size);
}

void handle_resize(struct client *cl, const struct proto_msg *req)
{
	struct server *srv = cl->srv;
	uint64_t size = req->u.segment.size, old;
	struct segment *seg = handle_find_segment(cl, req, req->u.segment.name, ACCESS_WRITE);
	int err;

	if (!seg || !resize_is_allowed(cl, req, seg, size))
		return;
	if (size > seg->size && srv->cfg.prealloc && size - seg->size >= JOB_BACKGROUND_BYTES &&
	    job_grow(cl, req, seg, size, finish_grow) == 0)
		return;
	old = seg->size;
	err = segment_resize(seg, size, srv->cfg.prealloc);
	if (err < 0) {
		reply_resize_failed(cl, req, size, err);
		return;
	}
	log_info("client %d (%s) resized segment '%s' from %" PRIu64 " to %" PRIu64 " bytes",
		 (int)cl->conn->cred.pid, cl->conn->comm, seg->name, old, size);
	quota_bytes_change(&srv->quota, seg->uid, old, size);
	persist_segment_changed(srv, seg);
	client_reply_ok(cl, req);
	event_segment(srv, PROTO_EV_SEGMENT_RESIZED, seg, cl);
	if (size < old)
		genmap_truncate(&seg->gens, size);
	if (size < old && (!TAILQ_EMPTY(&seg->leases.waiting) || !TAILQ_EMPTY(&seg->leases.parked))) {
		grant_fail_waiters(seg, size, PROTO_E_RANGE);
		grant_settle_later(srv, seg);
	}
}

/* ---- STAT ----------------------------------------------------------------- */

void handle_stat(struct client *cl, const struct proto_msg *req)
{
	struct proto_msg rep = { .op = PROTO_OP_STAT | PROTO_REPLY_BIT, .seq = req->seq };
	struct segment *seg = handle_find_segment(cl, req, req->u.segment.name, ACCESS_SEE);

	if (!seg)
		return;
	rep.u.stat_reply.size = seg->size;
	rep.u.stat_reply.mode = seg->mode;
	rep.u.stat_reply.uid = seg->uid;
	rep.u.stat_reply.gid = seg->gid;
	rep.u.stat_reply.read_leases = seg->leases.n_read;
	rep.u.stat_reply.write_leases = seg->leases.n_write;
	rep.u.stat_reply.waiters = seg->leases.n_waiting + seg->leases.n_parked;
	rep.u.stat_reply.generation = seg->generation;
	client_send_msg(cl, &rep);
}
