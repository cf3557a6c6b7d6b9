/* list.c: the daemon's status and the paged listings of segments, leases and clients. */
#include "shmbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "demux.h"
#include "error.h"

_Static_assert(SHMBUF_NAME_MAX == PROTO_NAME_MAX, "public and wire name limits differ");
_Static_assert(SHMBUF_COMM_MAX == PROTO_COMM_MAX, "public and wire command name limits differ");
_Static_assert(sizeof(((shmbuf_server_status *)0)->version) == PROTO_VERSION_STR_MAX + 1 &&
	       sizeof(((shmbuf_server_status *)0)->socket_path) == PROTO_NAME_MAX + 1,
	       "public and wire status string limits differ");

int shmbuf_server_status_get(shmbuf_client *c, shmbuf_server_status *out)
{
	struct proto_msg m = { .op = PROTO_OP_STATUS };
	const struct proto_status_reply *s = &m.u.status_reply;
	int r;

	error_clear();
	if (!c || !out)
		return -EINVAL;
	r = demux_call(c, &m, NULL);
	if (r < 0)
		return r;
	r = error_from_reply(&m);
	if (r < 0)
		return r;
	*out = (shmbuf_server_status){
		.pid = (pid_t)s->server_pid,
		.started_ns = s->started_ns,
		.uptime_ns = s->uptime_ns,
		.bytes = s->bytes,
		.max_bytes = s->max_bytes,
		.segments = s->segments,
		.max_segments = s->max_segments,
		.clients = s->clients,
		.max_clients = s->max_clients,
		.read_leases = s->read_leases,
		.write_leases = s->write_leases,
		.waiters = s->waiters,
	};
	memcpy(out->version, s->server_version, sizeof(out->version));
	memcpy(out->socket_path, s->socket_path, sizeof(out->socket_path));
	return 0;
}

/* Fills public entry dst from entry i of a LIST_* reply page. */
typedef void list_convert_fn(const struct proto_list_reply *page, uint32_t i, void *dst);

static void segment_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_segment_entry *e = &page->e.segments[i];
	shmbuf_segment_info *s = dst;

	*s = (shmbuf_segment_info){
		.id = e->id,
		.size = e->size,
		.created_ns = e->created_ns,
		.mode = e->mode,
		.uid = (uid_t)e->uid,
		.gid = (gid_t)e->gid,
		.pid = (pid_t)e->pid,
		.read_leases = e->read_leases,
		.write_leases = e->write_leases,
		.waiters = e->waiters,
		.destroyed = (e->flags & PROTO_SEG_DESTROYED) != 0,
	};
	memcpy(s->name, e->name, sizeof(s->name));
}

static void lease_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_lease_entry *e = &page->e.leases[i];
	shmbuf_lease_info *l = dst;

	*l = (shmbuf_lease_info){
		.lease_id = e->id,
		.client_id = e->client_id,
		.segment_destroyed = (e->segment_flags & PROTO_SEG_DESTROYED) != 0,
		.offset = e->offset,
		.length = e->length,
		.write = (e->flags & PROTO_LEASE_WRITE) != 0,
		.waiting = (e->flags & PROTO_LEASE_WAITING) != 0,
		.age_ns = e->age_ns,
		.pid = (pid_t)e->pid,
		.uid = (uid_t)e->uid,
	};
	memcpy(l->segment, e->segment, sizeof(l->segment));
	memcpy(l->comm, e->comm, sizeof(l->comm));
}

static void client_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_client_entry *e = &page->e.clients[i];
	shmbuf_client_info *k = dst;

	*k = (shmbuf_client_info){
		.client_id = e->id,
		.pid = (pid_t)e->pid,
		.uid = (uid_t)e->uid,
		.gid = (gid_t)e->gid,
		.leases = e->leases,
		.waiting = e->waiting,
		.age_ns = e->age_ns,
		.self = (e->flags & PROTO_CLIENT_SELF) != 0,
		.subscribed = (e->flags & PROTO_CLIENT_SUBSCRIBED) != 0,
	};
	memcpy(k->comm, e->comm, sizeof(k->comm));
}

/* Fetches a whole listing (LIST_* op, filter name or "") page by page into a
 * malloc'ed array of elem_size-byte entries. */
static int list_all(shmbuf_client *c, uint16_t op, const char *name, size_t elem_size, list_convert_fn *convert,
		    void **out, size_t *count)
{
	struct proto_msg m;
	char filter[PROTO_NAME_MAX + 1];
	uint8_t *arr = NULL;
	size_t n = 0, cap = 0;
	uint64_t cursor = 0;
	int r;

	error_clear();
	if (!c || !out || !count)
		return -EINVAL;
	*out = NULL;
	*count = 0;
	r = client_copy_name(filter, name);
	if (r < 0)
		return r;
	for (;;) {
		const struct proto_list_reply *page = &m.u.list_reply;

		m = (struct proto_msg){ .op = op };
		m.u.list.cursor = cursor;
		memcpy(m.u.list.name, filter, sizeof(filter));
		r = demux_call(c, &m, NULL);
		if (r < 0)
			goto fail;
		r = error_from_reply(&m);
		if (r < 0)
			goto fail;
		if (page->count > PROTO_LIST_PAGE) {
			r = -EPROTO;
			goto fail;
		}
		if (n + page->count > cap) {
			size_t new_cap = cap ? cap * 2 : 64;
			uint8_t *grown;

			if (new_cap > SIZE_MAX / elem_size) {
				r = -ENOMEM;
				goto fail;
			}
			grown = realloc(arr, new_cap * elem_size);
			if (!grown) {
				r = -ENOMEM;
				goto fail;
			}
			arr = grown;
			cap = new_cap;
		}
		for (uint32_t i = 0; i < page->count; i++)
			convert(page, i, arr + (n + i) * elem_size);
		n += page->count;
		if (page->next_cursor == 0)
			break;
		/* Cursors only move forward; one that does not would page forever. */
		if (page->next_cursor <= cursor) {
			r = -EPROTO;
			goto fail;
		}
		cursor = page->next_cursor;
	}
	*out = arr;
	*count = n;
	return 0;

fail:
	free(arr);
	return r;
}

int shmbuf_list_segments(shmbuf_client *c, shmbuf_segment_info **out, size_t *count)
{
	return list_all(c, PROTO_OP_LIST_SEGMENTS, "", sizeof(**out), segment_from_wire, (void **)out, count);
}

int shmbuf_list_leases(shmbuf_client *c, const char *name, shmbuf_lease_info **out, size_t *count)
{
	return list_all(c, PROTO_OP_LIST_LEASES, name ? name : "", sizeof(**out), lease_from_wire, (void **)out,
			count);
}

int shmbuf_list_clients(shmbuf_client *c, shmbuf_client_info **out, size_t *count)
{
	return list_all(c, PROTO_OP_LIST_CLIENTS, "", sizeof(**out), client_from_wire, (void **)out, count);
}

void shmbuf_free(void *p)
{
	free(p);
}
