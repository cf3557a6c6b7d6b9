/* view.c: leases as mapped views: acquire (and mmap), release (munmap first). */
#define _FILE_OFFSET_BITS 64 /* mmap offsets past 2 GiB on 32-bit hosts */
#include "shmbuf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "client.h"
#include "demux.h"
#include "error.h"
#include "fdio.h"

_Static_assert(sizeof(off_t) == 8, "mmap needs 64-bit offsets");
_Static_assert(SHMBUF_READ == PROTO_ACQ_READ && SHMBUF_WRITE == PROTO_ACQ_WRITE, "acquire flags differ");

/* Ends a lease this call could not hand to the application. Its outcome
 * changes nothing for the caller, who already has an error to report. */
static void release_lease(shmbuf_client *c, uint64_t lease_id)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE };

	m.u.release.lease_id = lease_id;
	(void)demux_call(c, &m, NULL);
}

/* Checks the grant a against the request, maps it and records the mapping.
 * Consumes fd. Returns 0, or a negative errno with nothing mapped. */
static int view_map(shmbuf_client *c, const struct proto_acquire_reply *a, uint64_t offset, uint64_t length,
		    unsigned flags, int fd, shmbuf_view *out, size_t size)
{
	uint64_t end, map_off, map_len;
	void *base;
	int r;

	if (fd == FDIO_FD_LOST)
		return -EMFILE; /* granted, but this process had no room for the fd */
	if (fd < 0)
		return -EIO;
	if (a->offset != offset || a->length == 0 || (length && a->length != length) ||
	    (a->flags & ~PROTO_ACQ_FD) != flags ||
	    __builtin_add_overflow(a->offset, a->length, &end) || end > a->segment_size) {
		r = -EPROTO;
		goto fail;
	}
	/* mmap wants a page-aligned file offset: map from the page holding the
	 * first byte. end did not overflow, so neither does map_len. */
	map_off = a->offset & ~(c->page_size - 1);
	map_len = end - map_off;
#if SIZE_MAX < UINT64_MAX
	if (map_len > SIZE_MAX) {
		r = -EOVERFLOW;
		goto fail;
	}
#endif
	if (map_off > (uint64_t)INT64_MAX) {
		r = -EOVERFLOW;
		goto fail;
	}
	base = mmap(NULL, (size_t)map_len, flags == SHMBUF_READ ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, (off_t)map_off);
	r = base == MAP_FAILED ? -errno : 0;
	close(fd); /* the mapping keeps the memory */
	if (r < 0)
		return r;

	pthread_mutex_lock(&c->lock);
	r = idtable_insert(&c->views, a->lease_id, base, (size_t)map_len);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		munmap(base, (size_t)map_len);
		return r;
	}
	client_copy_out(out, size,
			&(shmbuf_view){
				.data = (uint8_t *)base + (a->offset - map_off),
				.len = (size_t)a->length,
				.offset = a->offset,
				.lease_id = a->lease_id,
				.flags = flags == SHMBUF_READ ? SHMBUF_VIEW_READONLY : 0,
			},
			sizeof(shmbuf_view));
	return 0;

fail:
	close(fd);
	return r;
}

/* Bridge until the kept-mapping cache (branch perf-client) lands: this library
 * closes each fd right after mapping the lease and unmaps at release, so it
 * tells the daemon at once that it keeps no fd (UNMAP, quiet, not waited for);
 * a destroyed segment's memory then goes with its last lease, as before. */
static void unmap_at_once(shmbuf_client *c, const struct proto_acquire_reply *a, unsigned flags)
{
	struct proto_msg m = { .op = PROTO_OP_UNMAP };
	uint8_t buf[64];
	int n;

	if (!(a->flags & PROTO_ACQ_FD))
		return;
	m.u.unmap.segment_id = a->segment_id;
	m.u.unmap.modes = flags;
	pthread_mutex_lock(&c->lock);
	do
		m.seq = c->next_seq++;
	while (m.seq == 0);
	pthread_mutex_unlock(&c->lock);
	n = proto_encode(&m, buf, sizeof(buf));
	if (n < 0)
		return;
	pthread_mutex_lock(&c->send_lock);
	(void)fdio_send(c->sock, buf, (size_t)n, -1);
	pthread_mutex_unlock(&c->send_lock);
}

int shmbuf_acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length, unsigned flags,
		   int timeout_ms, shmbuf_view *out, size_t size)
{
	struct proto_msg m = { .op = PROTO_OP_ACQUIRE };
	struct proto_acquire_reply a;
	int fd, r;

	error_clear();
	if (!c || !out || size < SHMBUF_VIEW_SIZE_VER0 || (flags != SHMBUF_READ && flags != SHMBUF_WRITE) ||
	    timeout_ms < -1)
		return -EINVAL;
	r = client_copy_name(m.u.acquire.name, name);
	if (r < 0)
		return r;
	m.u.acquire.offset = offset;
	m.u.acquire.length = length;
	m.u.acquire.flags = flags;
	m.u.acquire.timeout_ms = timeout_ms;
	r = demux_call(c, &m, &fd);
	if (r < 0)
		return r;
	r = error_from_reply(&m);
	if (r < 0)
		return r;

	a = m.u.acquire_reply;
	unmap_at_once(c, &a, flags);
	r = view_map(c, &a, offset, length, flags, fd, out, size);
	if (r == -EEXIST) {
		/* The daemon reused the id of a lease we hold: releasing it would
		 * end the wrong lease. Leave both to the disconnect. */
		return -EPROTO;
	}
	if (r < 0) {
		/* Never leak a lease the application cannot see. */
		release_lease(c, a.lease_id);
		return r;
	}
	return 0;
}

int shmbuf_release(shmbuf_client *c, shmbuf_view *v, size_t size)
{
	struct proto_msg m = { .op = PROTO_OP_RELEASE };
	struct idtable_slot *s;
	void *base = NULL;
	size_t len = 0;
	int r;

	error_clear();
	if (!c || !v || size < SHMBUF_VIEW_SIZE_VER0)
		return -EINVAL;
	r = client_check_owner(c);
	if (r < 0)
		return r; /* the view stays mapped here; the parent's lease stays its own */
	/* Taking the entry out under the lock makes a second (or concurrent)
	 * release of the same view find nothing: never a double munmap. */
	pthread_mutex_lock(&c->lock);
	s = idtable_find(&c->views, v->lease_id);
	/* A view from another client (of another daemon, whose ids may collide)
	 * does not point into our mapping: it is not ours to unmap. */
	if (s && ((uintptr_t)v->data < (uintptr_t)s->ptr || (uintptr_t)v->data - (uintptr_t)s->ptr >= s->len))
		s = NULL;
	if (s) {
		base = s->ptr;
		len = s->len;
		idtable_remove(&c->views, s);
	}
	pthread_mutex_unlock(&c->lock);
	if (!s)
		return -ENOENT;

	/* Unmap first: once the daemon has the RELEASE it may grant the range
	 * to a writer, and this process must no longer reach it. */
	munmap(base, len);
	m.u.release.lease_id = v->lease_id;
	memset(v, 0, size);
	r = demux_call(c, &m, NULL);
	if (r < 0)
		return r;
	return error_from_reply(&m);
}
