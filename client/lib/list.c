/* SPDX-License-Identifier: MIT */
/* list.c: the daemon's status and the paged listings of segments, leases, clients and users. */
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

int shmbuf_server_status_get(shmbuf_client *c, shmbuf_server_status *out, size_t size)
{
	struct proto_msg m = { .op = PROTO_OP_STATUS };
	const struct proto_status_reply *s = &m.u.status_reply;
	shmbuf_server_status st;
	int r;

	error_clear();
	if (!c || !out || size == 0)
		return -EINVAL;
	r = demux_request(c, &m);
	if (r < 0)
		return r;
	st = (shmbuf_server_status){
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
		.restarts = s->restarts,
		.grace_left_ms = s->grace_left_ms,
		.orphans = s->orphans,
		.reclaimed_leases = s->reclaimed,
		.lost_leases = s->lost,
	};
	memcpy(st.version, s->server_version, sizeof(st.version));
	memcpy(st.socket_path, s->socket_path, sizeof(st.socket_path));
	client_copy_out(out, size, &st, sizeof(st));
	return 0;
}

/* Fills public entry dst (the library's whole struct) from entry i of a LIST_* reply page. */
typedef void list_convert_fn(const struct proto_list_reply *page, uint32_t i, void *dst);

/* A listing being fetched: entries of the caller's size, converted by convert. */
struct listing {
	uint16_t op;
	size_t elem_size;       /* the caller's sizeof: the array's stride */
	size_t lib_size;        /* the library's sizeof of the same struct */
	list_convert_fn *convert;
	uint8_t *arr;           /* malloc'ed; handed to the caller or freed */
	size_t n, cap;
};

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
		.generation = e->generation,
		.flags = ((e->flags & PROTO_SEG_DESTROYED) ? SHMBUF_SEGMENT_DESTROYED : 0) |
			 ((e->flags & PROTO_SEG_SEALED) ? SHMBUF_SEGMENT_SEALED : 0),
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
		.offset = e->offset,
		.length = e->length,
		.flags = ((e->flags & PROTO_LEASE_WRITE) ? SHMBUF_LEASE_WRITE : 0) |
			 ((e->flags & PROTO_LEASE_WAITING) ? SHMBUF_LEASE_WAITING : 0) |
			 ((e->segment_flags & PROTO_SEG_DESTROYED) ? SHMBUF_LEASE_SEGMENT_DESTROYED : 0),
		.age_ns = e->age_ns,
		.pid = (pid_t)e->pid,
		.uid = (uid_t)e->uid,
		.blocked_by = e->blocked_by,
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
		.flags = ((e->flags & PROTO_CLIENT_SELF) ? SHMBUF_CLIENT_SELF : 0) |
			 ((e->flags & PROTO_CLIENT_SUBSCRIBED) ? SHMBUF_CLIENT_SUBSCRIBED : 0),
	};
	memcpy(k->comm, e->comm, sizeof(k->comm));
}

static void user_from_wire(const struct proto_list_reply *page, uint32_t i, void *dst)
{
	const struct proto_user_entry *e = &page->e.users[i];

	*(shmbuf_user_info *)dst = (shmbuf_user_info){
		.uid = (uid_t)e->uid,
		.flags = (e->flags & PROTO_USER_EXEMPT) ? SHMBUF_USER_EXEMPT : 0,
		.connections = e->connections,
		.max_connections = e->max_connections,
		.segments = e->segments,
		.max_segments = e->max_segments,
		.leases = e->leases,
		.max_leases = e->max_leases,
		.bytes = e->bytes,
		.max_bytes = e->max_bytes,
	};
}

/* Makes room for more entries in l->arr. Returns 0 or -ENOMEM. */
static int listing_reserve(struct listing *l, size_t more)
{
	size_t new_cap = l->cap ? l->cap * 2 : 64;
	uint8_t *grown;

	if (l->n + more <= l->cap)
		return 0;
	while (new_cap < l->n + more)
		new_cap *= 2;
	if (new_cap > SIZE_MAX / l->elem_size)
		return -ENOMEM;
	grown = realloc(l->arr, new_cap * l->elem_size);
	if (!grown)
		return -ENOMEM;
	l->arr = grown;
	l->cap = new_cap;
	return 0;
}

/* Appends a LIST_* reply page's entries, each cut or padded to the caller's size. */
static int listing_add_page(struct listing *l, const struct proto_list_reply *page)
{
	union {
		shmbuf_segment_info segment;
		shmbuf_lease_info lease;
		shmbuf_client_info client;
		shmbuf_user_info user;
	} entry;
	int r;

	if (page->count > PROTO_LIST_PAGE)
		return -EPROTO;
	r = listing_reserve(l, page->count);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < page->count; i++) {
		l->convert(page, i, &entry);
		client_copy_out(l->arr + (l->n + i) * l->elem_size, l->elem_size, &entry, l->lib_size);
	}
	l->n += page->count;
	return 0;
}

/* Fetches a whole listing (filter name or "") page by page. */
static int listing_fetch(shmbuf_client *c, struct listing *l, const char *filter)
{
	uint64_t cursor = 0;
	struct proto_msg m;
	int r;

	for (;;) {
		const struct proto_list_reply *page = &m.u.list_reply;

		m = (struct proto_msg){ .op = l->op };
		m.u.list.cursor = cursor;
		memcpy(m.u.list.name, filter, PROTO_NAME_MAX + 1);
		r = demux_request(c, &m);
		if (r < 0)
			return r;
		r = listing_add_page(l, page);
		if (r < 0)
			return r;
		if (page->next_cursor == 0)
			return 0;
		/* Cursors only move forward; one that does not would page forever. */
		if (page->next_cursor <= cursor)
			return -EPROTO;
		cursor = page->next_cursor;
	}
}

static int list_all(shmbuf_client *c, struct listing *l, const char *name, void **out, size_t *count)
{
	char filter[PROTO_NAME_MAX + 1];
	int r;

	error_clear();
	if (!c || !out || !count || l->elem_size == 0)
		return -EINVAL;
	*out = NULL;
	*count = 0;
	r = name[0] ? client_copy_name(filter, name) : (filter[0] = '\0', 0); /* "": no filter */
	if (r < 0)
		return r;
	r = listing_fetch(c, l, filter);
	if (r < 0) {
		free(l->arr);
		return r;
	}
	*out = l->arr;
	*count = l->n;
	return 0;
}

int shmbuf_list_segments(shmbuf_client *c, shmbuf_segment_info **out, size_t *count, size_t size)
{
	struct listing l = { .op = PROTO_OP_LIST_SEGMENTS, .elem_size = size,
			     .lib_size = sizeof(shmbuf_segment_info), .convert = segment_from_wire };

	return list_all(c, &l, "", (void **)out, count);
}

int shmbuf_list_leases(shmbuf_client *c, const char *name, shmbuf_lease_info **out, size_t *count, size_t size)
{
	struct listing l = { .op = PROTO_OP_LIST_LEASES, .elem_size = size,
			     .lib_size = sizeof(shmbuf_lease_info), .convert = lease_from_wire };

	return list_all(c, &l, name ? name : "", (void **)out, count);
}

int shmbuf_list_clients(shmbuf_client *c, shmbuf_client_info **out, size_t *count, size_t size)
{
	struct listing l = { .op = PROTO_OP_LIST_CLIENTS, .elem_size = size,
			     .lib_size = sizeof(shmbuf_client_info), .convert = client_from_wire };

	return list_all(c, &l, "", (void **)out, count);
}

int shmbuf_list_users(shmbuf_client *c, shmbuf_user_info **out, size_t *count, size_t size)
{
	struct listing l = { .op = PROTO_OP_LIST_USERS, .elem_size = size,
			     .lib_size = sizeof(shmbuf_user_info), .convert = user_from_wire };

	return list_all(c, &l, "", (void **)out, count);
}

void shmbuf_free(void *p)
{
	free(p);
}
