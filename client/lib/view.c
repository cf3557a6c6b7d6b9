/* SPDX-License-Identifier: MIT */
/* view.c: leases as views: acquire, plain or NEWER (a pointer into a kept mapping),
 * and release (quiet: validated here, not waited for). The mappings are mapcache.c's. */
#include "shmbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "demux.h"
#include "error.h"
#include "fdio.h"
#include "view.h"

_Static_assert(SHMBUF_READ == PROTO_ACQ_READ && SHMBUF_WRITE == PROTO_ACQ_WRITE, "acquire flags differ");

/* Ends a lease, without waiting for the daemon: the caller (the application
 * through shmbuf_release(), or an acquire that cannot hand the lease out) has
 * checked that we hold it. */
int view_release_lease(shmbuf_client *c, uint64_t lease_id, const struct relrec *rec)
{
	struct proto_msg m; /* not zeroed whole: only the header and u.release are encoded */

	m.op = PROTO_OP_RELEASE;
	m.u.release = (struct proto_release){ .lease_id = lease_id, .flags = PROTO_RELEASE_QUIET };
	return demux_send_quiet(c, &m, rec);
}

/* Is grant a what was asked for, and inside the segment? */
static bool grant_is_sane(const struct proto_acquire_reply *a, uint64_t offset, uint64_t length, unsigned flags)
{
	uint64_t end;

	return a->offset == offset && a->length != 0 && (!length || a->length == length) &&
	       (a->flags & ~PROTO_ACQ_FD) == flags && !__builtin_add_overflow(a->offset, a->length, &end) &&
	       end <= a->segment_size && a->length <= SIZE_MAX;
}

/* Turns grant a into a view in a kept mapping (consuming fd and claim) and
 * records it. Returns 0, or a negative errno with no view recorded. */
static int view_attach(shmbuf_client *c, struct mc_entry *claim, const char *name,
		       const struct proto_acquire_reply *a, int fd, shmbuf_view *out, size_t size)
{
	struct mc_map *map;
	int r;

	pthread_mutex_lock(&c->lock);
	r = mapcache_attach(&c->cache, claim, name, a, fd, &map);
	if (r == 0) {
		r = idtable_insert(&c->views, a->lease_id, map, (size_t)a->length);
		if (r < 0)
			mapcache_view_end(&c->cache, map);
		else
			idtable_find(&c->views, a->lease_id)->aux = a->offset; /* for a RECLAIM */
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return r;
	client_copy_out(out, size,
			&(shmbuf_view){
				.data = (uint8_t *)map->base + a->offset,
				.len = (size_t)a->length,
				.offset = a->offset,
				.lease_id = a->lease_id,
				.flags = (a->flags & PROTO_ACQ_READ) ? SHMBUF_VIEW_READONLY : 0,
				.generation = a->generation,
			},
			sizeof(shmbuf_view));
	return 0;
}

/* The grant could not become a view: never leak a lease the application
 * cannot see. Returns the error to report. */
static int acquire_undo(shmbuf_client *c, uint64_t lease_id, int err)
{
	/* The daemon reused the id of a lease we hold: releasing it would end
	 * the wrong lease. Leave both to the disconnect. */
	if (err == -EEXIST)
		return -EPROTO;
	(void)view_release_lease(c, lease_id, NULL);
	return err;
}

int view_prepare(shmbuf_client *c, struct view_req *r, struct proto_msg *m, const char *name, uint64_t offset,
		 uint64_t length, unsigned flags, bool newer, uint64_t after, int timeout_ms)
{
	int e;

	if (!c)
		return -EINVAL;
	if (flags != SHMBUF_READ && flags != SHMBUF_WRITE)
		return error_local(-EINVAL, "flags %#x: give exactly one of SHMBUF_READ and SHMBUF_WRITE", flags);
	if (timeout_ms < -1)
		return error_local(-EINVAL, "timeout %d ms: -1 waits without limit, 0 not at all", timeout_ms);
	e = client_copy_name(r->key, name);
	if (e < 0)
		return e;
	r->offset = offset;
	r->length = length;
	r->flags = flags;
	m->op = PROTO_OP_ACQUIRE;
	m->seq = 0;
	m->u.acquire = (struct proto_acquire){
		.offset = offset, .length = length, .flags = flags | (newer ? PROTO_ACQ_NEWER : 0),
		.timeout_ms = timeout_ms, .after = newer ? after : 0,
	};
	memcpy(m->u.acquire.name, r->key, strlen(r->key) + 1);
	/* Claim the fd we keep for this name and mode: the daemon sends none
	 * when it grants that segment. The claim pins it until the reply. (In
	 * a child after fork() this touches only the child's copy, and
	 * demux_call() refuses.) */
	pthread_mutex_lock(&c->lock);
	r->claim = mapcache_claim(&c->cache, r->key, flags);
	m->u.acquire.have_segment_id = r->claim ? r->claim->segment_id : 0;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void view_abandon(shmbuf_client *c, struct view_req *r)
{
	if (!r->claim)
		return;
	pthread_mutex_lock(&c->lock);
	mapcache_unclaim(&c->cache, r->claim);
	pthread_mutex_unlock(&c->lock);
	r->claim = NULL;
}

int view_finish(shmbuf_client *c, struct view_req *r, int err, const struct proto_msg *m, int fd, shmbuf_view *out,
		size_t size)
{
	struct proto_acquire_reply a;

	if (err == 0)
		err = error_from_reply(m);
	a = m->u.acquire_reply;
	if (err == 0 && !grant_is_sane(&a, r->offset, r->length, r->flags)) {
		if (fd >= 0)
			close(fd);
		err = acquire_undo(c, a.lease_id, -EPROTO);
	} else if (err == 0) {
		err = view_attach(c, r->claim, r->key, &a, fd, out, size);
		r->claim = NULL; /* consumed */
		if (err < 0)
			err = acquire_undo(c, a.lease_id, err);
	} else if (fd >= 0) {
		close(fd);
	}
	view_abandon(c, r);
	demux_flush(c);
	return err;
}

/* The blocking acquire, plain or NEWER. */
static int acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags, bool newer,
		   uint64_t after, int timeout_ms, shmbuf_view *out, size_t size)
{
	struct proto_msg m; /* not zeroed whole (over 5 KiB): the header and u.acquire are set */
	struct view_req r;
	int fd, e;

	error_clear();
	if (!out || size < SHMBUF_VIEW_SIZE_VER0)
		return -EINVAL;
	e = view_prepare(c, &r, &m, name, offset, length, flags, newer, after, timeout_ms);
	if (e < 0)
		return e;
	e = demux_call(c, &m, &fd);
	return view_finish(c, &r, e, &m, e == 0 ? fd : -1, out, size);
}

int shmbuf_acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
		   int timeout_ms, shmbuf_view *out, size_t size)
{
	return acquire(c, name, offset, length, flags, false, 0, timeout_ms, out, size);
}

int shmbuf_acquire_newer(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
			 uint64_t after, int timeout_ms, shmbuf_view *out, size_t size)
{
	return acquire(c, name, offset, length, flags, true, after, timeout_ms, out, size);
}

int shmbuf_release(shmbuf_client *c, shmbuf_view *v, size_t size)
{
	struct idtable_slot *s, *stale = NULL;
	struct mc_map *map = NULL;
	struct relrec rec = { 0 };
	int r;

	error_clear();
	if (!c || !v || size < SHMBUF_VIEW_SIZE_VER0)
		return -EINVAL;
	r = client_check_owner(c);
	if (r < 0)
		return r; /* the view stays mapped here; the parent's lease stays its own */
	/* Taking the entry out under the lock makes a second (or concurrent)
	 * release of the same view find nothing. */
	pthread_mutex_lock(&c->lock);
	s = idtable_find(&c->views, v->lease_id);
	/* A view from another client (of another daemon, whose ids may collide)
	 * does not point into our mapping: it is not ours to end. */
	if (s) {
		map = s->ptr;
		if ((uintptr_t)v->data < (uintptr_t)map->base || (uintptr_t)v->data - (uintptr_t)map->base >= map->len)
			s = NULL;
	}
	if (s) {
		rec = (struct relrec){ v->lease_id, map->entry->segment_id, s->aux, s->len, map->entry->mode, 0 };
		idtable_remove(&c->views, s);
		mapcache_view_end(&c->cache, map);
		stale = idtable_find(&c->stale, rec.lease_id);
		if (stale)
			idtable_remove(&c->stale, stale);
	}
	pthread_mutex_unlock(&c->lock);
	if (!s)
		return -ENOENT;

	/* The mapping stays (kept for the next lease); the view goes. Once the
	 * daemon has the RELEASE it may grant the range to a writer. */
	memset(v, 0, size);
	/* Its lease did not survive a restart of the daemon (reconnect.c): nothing to end. */
	if (stale)
		return -ESTALE;
	r = view_release_lease(c, rec.lease_id, &rec);
	/* Then what the daemon sent meanwhile (an UNMAP, a failed release) is
	 * dealt with, even by an application that only ever releases; after the
	 * RELEASE is out, so that a waiter's grant is not held up by it. */
	demux_drain(c);
	demux_flush(c);
	return r;
}

uint64_t shmbuf_release_errors(shmbuf_client *c)
{
	uint64_t n;

	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->release_errors;
	pthread_mutex_unlock(&c->lock);
	return n;
}
