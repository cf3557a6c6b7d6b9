/* proto.c: encoding and total decoding of shmbuf wire messages, status/errno mapping, socket path. */
#define _GNU_SOURCE /* secure_getenv */
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Little-endian access on byte buffers; never cast a buffer to a struct. */
static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	put_u16(p, (uint16_t)v);
	put_u16(p + 2, (uint16_t)(v >> 16));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return get_u16(p) | (uint32_t)get_u16(p + 2) << 16;
}

static uint64_t get_u64(const uint8_t *p)
{
	return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Per-opcode name and decode reasons, so every *why is a static string naming the opcode. */
struct op_info {
	const char *name;
	const char *short_request, *trailing_request;
	const char *short_reply, *trailing_reply;
};

#define OP_INFO(op)                                                                                          \
	[PROTO_OP_##op] = { #op, "payload shorter than " #op " needs", "trailing bytes after " #op,      \
			    "payload shorter than " #op " reply needs", "trailing bytes after " #op " reply" }

static const struct op_info op_infos[] = {
	OP_INFO(HELLO),         OP_INFO(CREATE),      OP_INFO(DESTROY),      OP_INFO(RESIZE),
	OP_INFO(ACQUIRE),       OP_INFO(RELEASE),     OP_INFO(STAT),         OP_INFO(STATUS),
	OP_INFO(LIST_SEGMENTS), OP_INFO(LIST_LEASES), OP_INFO(LIST_CLIENTS), OP_INFO(SUBSCRIBE),
	OP_INFO(EVENT),
};

static const struct op_info *op_info(uint16_t op)
{
	op &= (uint16_t)~PROTO_REPLY_BIT;
	if (op >= sizeof(op_infos) / sizeof(op_infos[0]) || !op_infos[op].name)
		return NULL;
	return &op_infos[op];
}

/* ---- decoding ---- */

/* A cursor over the payload. It knows which message it reads so that a short
 * or overlong payload is reported with the opcode's own reason. */
struct reader {
	const uint8_t *p;
	size_t left;
	const char *short_why;
	const char *trailing_why;
};

/* A name or string field: its limit, and what to say when it is broken. */
struct string_kind {
	size_t max;
	int too_long_err;
	const char *nul_why;
	const char *too_long_why;
};

/* Names in requests: too long is a well-formed request the daemon answers. */
static const struct string_kind name_kind = {
	PROTO_NAME_MAX, -ENAMETOOLONG, "NUL byte inside name", "name longer than 255 bytes",
};
/* Names in replies and events: the daemon never sends one too long. */
static const struct string_kind reply_name_kind = {
	PROTO_NAME_MAX, -EBADMSG, "NUL byte inside name", "name longer than 255 bytes",
};
static const struct string_kind errmsg_kind = {
	PROTO_ERRMSG_MAX, -EBADMSG, "NUL byte inside error message", "error message longer than 200 bytes",
};
static const struct string_kind version_kind = {
	PROTO_VERSION_STR_MAX, -EBADMSG, "NUL byte inside server version", "server version longer than 32 bytes",
};
static const struct string_kind path_kind = {
	PROTO_NAME_MAX, -EBADMSG, "NUL byte inside socket path", "socket path longer than 255 bytes",
};
static const struct string_kind comm_kind = {
	PROTO_COMM_MAX, -EBADMSG, "NUL byte inside comm", "comm longer than 16 bytes",
};

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

static int truncated(const struct reader *r, const char **why)
{
	return fail(why, -EBADMSG, r->short_why);
}

static int finish(const struct reader *r, const char **why)
{
	return r->left ? fail(why, -EBADMSG, r->trailing_why) : 0;
}

static bool rd_u16(struct reader *r, uint16_t *v)
{
	if (r->left < 2)
		return false;
	*v = get_u16(r->p);
	r->p += 2;
	r->left -= 2;
	return true;
}

static bool rd_u32(struct reader *r, uint32_t *v)
{
	if (r->left < 4)
		return false;
	*v = get_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return true;
}

static bool rd_i32(struct reader *r, int32_t *v)
{
	uint32_t u;

	if (!rd_u32(r, &u))
		return false;
	*v = (int32_t)u; /* two's complement on every target we build for */
	return true;
}

static bool rd_u64(struct reader *r, uint64_t *v)
{
	if (r->left < 8)
		return false;
	*v = get_u64(r->p);
	r->p += 8;
	r->left -= 8;
	return true;
}

/* A u16 length and that many bytes, copied NUL-terminated into dst (which
 * holds kind->max + 1). When the field ends the payload (is_last), its length
 * must account for exactly the bytes left. Structure (truncation, trailing
 * bytes, NUL) is checked before the limit, so a request's -ENAMETOOLONG is
 * only ever returned for an otherwise well-formed message. */
static int rd_string(struct reader *r, const struct string_kind *kind, char *dst, bool is_last, const char **why)
{
	uint16_t n;

	if (!rd_u16(r, &n) || r->left < n)
		return truncated(r, why);
	if (is_last && r->left > n)
		return fail(why, -EBADMSG, r->trailing_why);
	if (memchr(r->p, '\0', n))
		return fail(why, -EBADMSG, kind->nul_why);
	if (n > kind->max)
		return fail(why, kind->too_long_err, kind->too_long_why);
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	r->left -= n;
	return 0;
}

static int decode_request(struct reader *r, uint16_t op, struct proto_msg *m, const char **why)
{
	uint32_t reserved;

	switch ((enum proto_op)op) {
	case PROTO_OP_HELLO: {
		struct proto_hello *h = &m->u.hello;
		int err;

		if (!rd_u32(r, &h->magic) || !rd_u16(r, &h->min_version) || !rd_u16(r, &h->max_version))
			return truncated(r, why);
		if ((err = finish(r, why)) < 0)
			return err;
		if (h->magic != PROTO_MAGIC)
			return fail(why, -EBADMSG, "HELLO magic is not \"SHMB\"");
		if (h->min_version == 0)
			return fail(why, -EBADMSG, "HELLO min_version is 0");
		if (h->min_version > h->max_version)
			return fail(why, -EBADMSG, "HELLO min_version above max_version");
		return 0;
	}
	case PROTO_OP_CREATE:
		if (!rd_u64(r, &m->u.segment.size) || !rd_u32(r, &m->u.segment.mode) || !rd_u32(r, &reserved))
			return truncated(r, why);
		if (reserved)
			return fail(why, -EBADMSG, "reserved CREATE field not zero");
		return rd_string(r, &name_kind, m->u.segment.name, true, why);
	case PROTO_OP_DESTROY:
	case PROTO_OP_STAT:
		return rd_string(r, &name_kind, m->u.segment.name, true, why);
	case PROTO_OP_RESIZE:
		if (!rd_u64(r, &m->u.segment.size))
			return truncated(r, why);
		return rd_string(r, &name_kind, m->u.segment.name, true, why);
	case PROTO_OP_ACQUIRE: {
		struct proto_acquire *a = &m->u.acquire;

		if (!rd_u64(r, &a->offset) || !rd_u64(r, &a->length) || !rd_u32(r, &a->flags) ||
		    !rd_i32(r, &a->timeout_ms))
			return truncated(r, why);
		return rd_string(r, &name_kind, a->name, true, why);
	}
	case PROTO_OP_RELEASE:
		if (!rd_u64(r, &m->u.release.lease_id))
			return truncated(r, why);
		return finish(r, why);
	case PROTO_OP_STATUS:
	case PROTO_OP_SUBSCRIBE:
		return finish(r, why);
	case PROTO_OP_LIST_SEGMENTS:
	case PROTO_OP_LIST_LEASES:
	case PROTO_OP_LIST_CLIENTS:
		if (!rd_u64(r, &m->u.list.cursor))
			return truncated(r, why);
		return rd_string(r, &name_kind, m->u.list.name, true, why);
	case PROTO_OP_EVENT:
		break; /* only ever sent by the daemon, as a reply */
	}
	return fail(why, -EOPNOTSUPP, "unknown opcode");
}

/* Introspection layouts (ops 8..12, and EVENT 64 which only ever travels as
 * a reply): every field of the struct in proto.h, in declaration order,
 * packed, with names and strings u16-counted like everywhere else.
 *   STATUS, SUBSCRIBE request and SUBSCRIBE reply: empty.
 *   LIST_* request: u64 cursor | name (may be empty).
 *   LIST_* reply:   u64 next_cursor | u32 count (<= 16) | count entries, by op:
 *     segment: u64 id, size, created_ns | u32 mode, uid, gid, pid, read_leases,
 *              write_leases, waiters, flags | name
 *     lease:   u64 id, client_id, offset, length, age_ns | u32 flags, pid, uid,
 *              segment_flags | string comm (<= 16) | name segment
 *     client:  u64 id, age_ns | u32 pid, uid, gid, leases, waiting, flags | string comm (<= 16)
 *   STATUS reply:   u32 server_pid | u64 started_ns, uptime_ns, bytes, max_bytes |
 *                   u32 segments, max_segments, clients, max_clients, read_leases,
 *                   write_leases, waiters | string server_version (<= 32) | string socket_path (<= 255)
 *   EVENT:          u16 type | u64 time_ns, client_id, lease_id, offset, length, size |
 *                   u32 flags, pid, uid | string comm (<= 16) | name segment (may be empty)
 * Names inside replies are never -ENAMETOOLONG: the daemon does not send one too long. */
static int decode_segment_entry(struct reader *r, struct proto_segment_entry *e, const char **why)
{
	if (!rd_u64(r, &e->id) || !rd_u64(r, &e->size) || !rd_u64(r, &e->created_ns) || !rd_u32(r, &e->mode) ||
	    !rd_u32(r, &e->uid) || !rd_u32(r, &e->gid) || !rd_u32(r, &e->pid) || !rd_u32(r, &e->read_leases) ||
	    !rd_u32(r, &e->write_leases) || !rd_u32(r, &e->waiters) || !rd_u32(r, &e->flags))
		return truncated(r, why);
	return rd_string(r, &reply_name_kind, e->name, false, why);
}

static int decode_lease_entry(struct reader *r, struct proto_lease_entry *e, const char **why)
{
	int err;

	if (!rd_u64(r, &e->id) || !rd_u64(r, &e->client_id) || !rd_u64(r, &e->offset) ||
	    !rd_u64(r, &e->length) || !rd_u64(r, &e->age_ns) || !rd_u32(r, &e->flags) || !rd_u32(r, &e->pid) ||
	    !rd_u32(r, &e->uid) || !rd_u32(r, &e->segment_flags))
		return truncated(r, why);
	if ((err = rd_string(r, &comm_kind, e->comm, false, why)) < 0)
		return err;
	return rd_string(r, &reply_name_kind, e->segment, false, why);
}

static int decode_client_entry(struct reader *r, struct proto_client_entry *e, const char **why)
{
	if (!rd_u64(r, &e->id) || !rd_u64(r, &e->age_ns) || !rd_u32(r, &e->pid) || !rd_u32(r, &e->uid) ||
	    !rd_u32(r, &e->gid) || !rd_u32(r, &e->leases) || !rd_u32(r, &e->waiting) || !rd_u32(r, &e->flags))
		return truncated(r, why);
	return rd_string(r, &comm_kind, e->comm, false, why);
}

static int decode_list_reply(struct reader *r, uint16_t op, struct proto_list_reply *l, const char **why)
{
	int err = 0;

	if (!rd_u64(r, &l->next_cursor) || !rd_u32(r, &l->count))
		return truncated(r, why);
	if (l->count > PROTO_LIST_PAGE) /* the entries array holds one page */
		return fail(why, -EBADMSG, "list reply with more than 16 entries");
	for (uint32_t i = 0; i < l->count && err == 0; i++) {
		if (op == PROTO_OP_LIST_SEGMENTS)
			err = decode_segment_entry(r, &l->e.segments[i], why);
		else if (op == PROTO_OP_LIST_LEASES)
			err = decode_lease_entry(r, &l->e.leases[i], why);
		else
			err = decode_client_entry(r, &l->e.clients[i], why);
	}
	return err < 0 ? err : finish(r, why);
}

static int decode_status_reply(struct reader *r, struct proto_status_reply *s, const char **why)
{
	int err;

	if (!rd_u32(r, &s->server_pid) || !rd_u64(r, &s->started_ns) || !rd_u64(r, &s->uptime_ns) ||
	    !rd_u64(r, &s->bytes) || !rd_u64(r, &s->max_bytes) || !rd_u32(r, &s->segments) ||
	    !rd_u32(r, &s->max_segments) || !rd_u32(r, &s->clients) || !rd_u32(r, &s->max_clients) ||
	    !rd_u32(r, &s->read_leases) || !rd_u32(r, &s->write_leases) || !rd_u32(r, &s->waiters))
		return truncated(r, why);
	if ((err = rd_string(r, &version_kind, s->server_version, false, why)) < 0)
		return err;
	return rd_string(r, &path_kind, s->socket_path, true, why);
}

static int decode_event(struct reader *r, struct proto_event *e, const char **why)
{
	int err;

	/* Unknown event types are decoded: a newer daemon may send more kinds. */
	if (!rd_u16(r, &e->type) || !rd_u64(r, &e->time_ns) || !rd_u64(r, &e->client_id) ||
	    !rd_u64(r, &e->lease_id) || !rd_u64(r, &e->offset) || !rd_u64(r, &e->length) || !rd_u64(r, &e->size) ||
	    !rd_u32(r, &e->flags) || !rd_u32(r, &e->pid) || !rd_u32(r, &e->uid))
		return truncated(r, why);
	if ((err = rd_string(r, &comm_kind, e->comm, false, why)) < 0)
		return err;
	return rd_string(r, &reply_name_kind, e->segment, true, why);
}

/* Replies with status PROTO_OK; error replies are decoded in proto_decode(). */
static int decode_reply(struct reader *r, uint16_t op, struct proto_msg *m, const char **why)
{
	uint16_t reserved16;
	uint32_t reserved;

	switch ((enum proto_op)op) {
	case PROTO_OP_HELLO: {
		struct proto_hello_reply *h = &m->u.hello_reply;

		if (!rd_u16(r, &h->version) || !rd_u16(r, &reserved16) || !rd_u32(r, &h->max_message) ||
		    !rd_u32(r, &h->server_pid))
			return truncated(r, why);
		if (reserved16)
			return fail(why, -EBADMSG, "reserved HELLO reply field not zero");
		return rd_string(r, &version_kind, h->server_version, true, why);
	}
	case PROTO_OP_CREATE:
	case PROTO_OP_DESTROY:
	case PROTO_OP_RESIZE:
	case PROTO_OP_RELEASE:
	case PROTO_OP_SUBSCRIBE:
		return finish(r, why);
	case PROTO_OP_ACQUIRE: {
		struct proto_acquire_reply *a = &m->u.acquire_reply;
		int err;

		if (!rd_u64(r, &a->lease_id) || !rd_u64(r, &a->offset) || !rd_u64(r, &a->length) ||
		    !rd_u64(r, &a->segment_size) || !rd_u32(r, &a->flags) || !rd_u32(r, &reserved))
			return truncated(r, why);
		if ((err = finish(r, why)) < 0)
			return err;
		if (reserved)
			return fail(why, -EBADMSG, "reserved ACQUIRE reply field not zero");
		return 0;
	}
	case PROTO_OP_STAT: {
		struct proto_stat_reply *s = &m->u.stat_reply;

		if (!rd_u64(r, &s->size) || !rd_u32(r, &s->mode) || !rd_u32(r, &s->uid) || !rd_u32(r, &s->gid) ||
		    !rd_u32(r, &s->read_leases) || !rd_u32(r, &s->write_leases) || !rd_u32(r, &s->waiters))
			return truncated(r, why);
		return finish(r, why);
	}
	case PROTO_OP_STATUS:
		return decode_status_reply(r, &m->u.status_reply, why);
	case PROTO_OP_LIST_SEGMENTS:
	case PROTO_OP_LIST_LEASES:
	case PROTO_OP_LIST_CLIENTS:
		return decode_list_reply(r, op, &m->u.list_reply, why);
	case PROTO_OP_EVENT:
		return decode_event(r, &m->u.event, why);
	}
	return fail(why, -EOPNOTSUPP, "unknown opcode");
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m, const char **why)
{
	const struct op_info *info;
	struct reader r;
	bool is_reply;

	memset(m, 0, sizeof(*m));
	if (len < PROTO_HEADER_SIZE)
		return fail(why, -EBADMSG, "datagram shorter than the 16-byte header");
	m->op = get_u16(buf);
	m->status = get_u16(buf + 2);
	m->seq = get_u32(buf + 4);
	if (get_u32(buf + 8) != len - PROTO_HEADER_SIZE)
		return fail(why, -EBADMSG, "header length does not match datagram size");
	if (get_u32(buf + 12) != 0)
		return fail(why, -EBADMSG, "reserved header field not zero");

	is_reply = m->op & PROTO_REPLY_BIT;
	if (!is_reply && m->status != PROTO_OK)
		return fail(why, -EBADMSG, "request with nonzero status");

	r.p = buf + PROTO_HEADER_SIZE;
	r.left = len - PROTO_HEADER_SIZE;

	/* An error reply has one layout whatever the opcode (even one this side
	 * does not know), and any status value: unknown ones map to -EPROTO. */
	if (is_reply && m->status != PROTO_OK) {
		r.short_why = "payload shorter than error reply needs";
		r.trailing_why = "trailing bytes after error reply";
		return rd_string(&r, &errmsg_kind, m->u.error.message, true, why);
	}

	info = op_info(m->op);
	if (!info)
		return fail(why, -EOPNOTSUPP, "unknown opcode");
	r.short_why = is_reply ? info->short_reply : info->short_request;
	r.trailing_why = is_reply ? info->trailing_reply : info->trailing_request;
	if (is_reply)
		return decode_reply(&r, m->op & (uint16_t)~PROTO_REPLY_BIT, m, why);
	return decode_request(&r, m->op, m, why);
}

/* ---- encoding ---- */

/* Writes only what fits but counts everything, so one check at the end
 * turns a small buffer into -EMSGSIZE. */
struct writer {
	uint8_t *p;
	size_t cap;
	size_t len;
};

static bool wr_room(const struct writer *w, size_t n)
{
	return w->len <= w->cap && n <= w->cap - w->len;
}

static void wr_u16(struct writer *w, uint16_t v)
{
	if (wr_room(w, 2))
		put_u16(w->p + w->len, v);
	w->len += 2;
}

static void wr_u32(struct writer *w, uint32_t v)
{
	if (wr_room(w, 4))
		put_u32(w->p + w->len, v);
	w->len += 4;
}

static void wr_u64(struct writer *w, uint64_t v)
{
	if (wr_room(w, 8))
		put_u64(w->p + w->len, v);
	w->len += 8;
}

static void wr_bytes(struct writer *w, const char *s, size_t n)
{
	wr_u16(w, (uint16_t)n);
	if (n && wr_room(w, n))
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* A string field from a char array of max + 1 bytes: anything but NUL, at
 * most max bytes (an array with no NUL in it is too long). */
static int wr_string(struct writer *w, const char *s, size_t max, int too_long_err)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return too_long_err;
	wr_bytes(w, s, n);
	return 0;
}

/* A name in a request: checked fully, so a client fails before sending. */
static int wr_name(struct writer *w, const char name[PROTO_NAME_MAX + 1])
{
	size_t n = strnlen(name, PROTO_NAME_MAX + 1);

	if (n > PROTO_NAME_MAX)
		return -ENAMETOOLONG;
	if (!proto_name_is_valid(name, n))
		return -EINVAL;
	wr_bytes(w, name, n);
	return 0;
}

static bool acq_flags_are_valid(uint32_t flags)
{
	return flags == PROTO_ACQ_READ || flags == PROTO_ACQ_WRITE;
}

static int encode_request(struct writer *w, const struct proto_msg *m)
{
	switch ((enum proto_op)m->op) {
	case PROTO_OP_HELLO: {
		const struct proto_hello *h = &m->u.hello;

		/* The decoder refuses these, so refuse to send them. */
		if (h->magic != PROTO_MAGIC || h->min_version == 0 || h->min_version > h->max_version)
			return -EINVAL;
		wr_u32(w, h->magic);
		wr_u16(w, h->min_version);
		wr_u16(w, h->max_version);
		return 0;
	}
	case PROTO_OP_CREATE:
		if (m->u.segment.mode > 0777)
			return -EINVAL;
		wr_u64(w, m->u.segment.size);
		wr_u32(w, m->u.segment.mode);
		wr_u32(w, 0);
		return wr_name(w, m->u.segment.name);
	case PROTO_OP_DESTROY:
	case PROTO_OP_STAT:
		return wr_name(w, m->u.segment.name);
	case PROTO_OP_RESIZE:
		wr_u64(w, m->u.segment.size);
		return wr_name(w, m->u.segment.name);
	case PROTO_OP_ACQUIRE: {
		const struct proto_acquire *a = &m->u.acquire;

		if (!acq_flags_are_valid(a->flags) || a->timeout_ms < -1)
			return -EINVAL;
		wr_u64(w, a->offset);
		wr_u64(w, a->length);
		wr_u32(w, a->flags);
		wr_u32(w, (uint32_t)a->timeout_ms);
		return wr_name(w, a->name);
	}
	case PROTO_OP_RELEASE:
		wr_u64(w, m->u.release.lease_id);
		return 0;
	case PROTO_OP_STATUS:
	case PROTO_OP_SUBSCRIBE:
		return 0;
	case PROTO_OP_LIST_SEGMENTS:
	case PROTO_OP_LIST_LEASES:
	case PROTO_OP_LIST_CLIENTS:
		wr_u64(w, m->u.list.cursor);
		/* "" lists everything; only LIST_LEASES may narrow to one segment. */
		if (m->u.list.name[0] == '\0') {
			wr_bytes(w, "", 0);
			return 0;
		}
		if (m->op != PROTO_OP_LIST_LEASES)
			return -EINVAL;
		return wr_name(w, m->u.list.name);
	case PROTO_OP_EVENT:
		break; /* the daemon sends these, as replies */
	}
	return -EINVAL;
}

static int encode_segment_entry(struct writer *w, const struct proto_segment_entry *e)
{
	wr_u64(w, e->id);
	wr_u64(w, e->size);
	wr_u64(w, e->created_ns);
	wr_u32(w, e->mode);
	wr_u32(w, e->uid);
	wr_u32(w, e->gid);
	wr_u32(w, e->pid);
	wr_u32(w, e->read_leases);
	wr_u32(w, e->write_leases);
	wr_u32(w, e->waiters);
	wr_u32(w, e->flags);
	return wr_string(w, e->name, PROTO_NAME_MAX, -ENAMETOOLONG);
}

static int encode_lease_entry(struct writer *w, const struct proto_lease_entry *e)
{
	wr_u64(w, e->id);
	wr_u64(w, e->client_id);
	wr_u64(w, e->offset);
	wr_u64(w, e->length);
	wr_u64(w, e->age_ns);
	wr_u32(w, e->flags);
	wr_u32(w, e->pid);
	wr_u32(w, e->uid);
	wr_u32(w, e->segment_flags);
	if (wr_string(w, e->comm, PROTO_COMM_MAX, -EINVAL) < 0)
		return -EINVAL;
	return wr_string(w, e->segment, PROTO_NAME_MAX, -ENAMETOOLONG);
}

static int encode_client_entry(struct writer *w, const struct proto_client_entry *e)
{
	wr_u64(w, e->id);
	wr_u64(w, e->age_ns);
	wr_u32(w, e->pid);
	wr_u32(w, e->uid);
	wr_u32(w, e->gid);
	wr_u32(w, e->leases);
	wr_u32(w, e->waiting);
	wr_u32(w, e->flags);
	return wr_string(w, e->comm, PROTO_COMM_MAX, -EINVAL);
}

static int encode_list_reply(struct writer *w, uint16_t op, const struct proto_list_reply *l)
{
	int err = 0;

	if (l->count > PROTO_LIST_PAGE)
		return -EINVAL;
	wr_u64(w, l->next_cursor);
	wr_u32(w, l->count);
	for (uint32_t i = 0; i < l->count && err == 0; i++) {
		if (op == PROTO_OP_LIST_SEGMENTS)
			err = encode_segment_entry(w, &l->e.segments[i]);
		else if (op == PROTO_OP_LIST_LEASES)
			err = encode_lease_entry(w, &l->e.leases[i]);
		else
			err = encode_client_entry(w, &l->e.clients[i]);
	}
	return err;
}

static int encode_status_reply(struct writer *w, const struct proto_status_reply *s)
{
	wr_u32(w, s->server_pid);
	wr_u64(w, s->started_ns);
	wr_u64(w, s->uptime_ns);
	wr_u64(w, s->bytes);
	wr_u64(w, s->max_bytes);
	wr_u32(w, s->segments);
	wr_u32(w, s->max_segments);
	wr_u32(w, s->clients);
	wr_u32(w, s->max_clients);
	wr_u32(w, s->read_leases);
	wr_u32(w, s->write_leases);
	wr_u32(w, s->waiters);
	if (wr_string(w, s->server_version, PROTO_VERSION_STR_MAX, -EINVAL) < 0)
		return -EINVAL;
	return wr_string(w, s->socket_path, PROTO_NAME_MAX, -ENAMETOOLONG);
}

static int encode_event(struct writer *w, const struct proto_msg *m)
{
	const struct proto_event *e = &m->u.event;

	/* Events are unasked: seq 0 says so to the client's reply matching. */
	if (m->seq != 0 || e->type == 0 || e->type > PROTO_EV_TYPE_MAX)
		return -EINVAL;
	wr_u16(w, e->type);
	wr_u64(w, e->time_ns);
	wr_u64(w, e->client_id);
	wr_u64(w, e->lease_id);
	wr_u64(w, e->offset);
	wr_u64(w, e->length);
	wr_u64(w, e->size);
	wr_u32(w, e->flags);
	wr_u32(w, e->pid);
	wr_u32(w, e->uid);
	if (wr_string(w, e->comm, PROTO_COMM_MAX, -EINVAL) < 0)
		return -EINVAL;
	return wr_string(w, e->segment, PROTO_NAME_MAX, -ENAMETOOLONG);
}

static int encode_reply(struct writer *w, const struct proto_msg *m)
{
	uint16_t op = m->op & (uint16_t)~PROTO_REPLY_BIT;

	switch ((enum proto_op)op) {
	case PROTO_OP_HELLO: {
		const struct proto_hello_reply *h = &m->u.hello_reply;

		wr_u16(w, h->version);
		wr_u16(w, 0);
		wr_u32(w, h->max_message);
		wr_u32(w, h->server_pid);
		return wr_string(w, h->server_version, PROTO_VERSION_STR_MAX, -EINVAL);
	}
	case PROTO_OP_CREATE:
	case PROTO_OP_DESTROY:
	case PROTO_OP_RESIZE:
	case PROTO_OP_RELEASE:
	case PROTO_OP_SUBSCRIBE:
		return 0;
	case PROTO_OP_ACQUIRE: {
		const struct proto_acquire_reply *a = &m->u.acquire_reply;

		if (!acq_flags_are_valid(a->flags))
			return -EINVAL;
		wr_u64(w, a->lease_id);
		wr_u64(w, a->offset);
		wr_u64(w, a->length);
		wr_u64(w, a->segment_size);
		wr_u32(w, a->flags);
		wr_u32(w, 0);
		return 0;
	}
	case PROTO_OP_STAT: {
		const struct proto_stat_reply *s = &m->u.stat_reply;

		wr_u64(w, s->size);
		wr_u32(w, s->mode);
		wr_u32(w, s->uid);
		wr_u32(w, s->gid);
		wr_u32(w, s->read_leases);
		wr_u32(w, s->write_leases);
		wr_u32(w, s->waiters);
		return 0;
	}
	case PROTO_OP_STATUS:
		return encode_status_reply(w, &m->u.status_reply);
	case PROTO_OP_LIST_SEGMENTS:
	case PROTO_OP_LIST_LEASES:
	case PROTO_OP_LIST_CLIENTS:
		return encode_list_reply(w, op, &m->u.list_reply);
	case PROTO_OP_EVENT:
		return encode_event(w, m);
	}
	return -EINVAL;
}

int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap)
{
	struct writer w = { buf, cap, 0 };
	bool is_reply = m->op & PROTO_REPLY_BIT;
	int r;

	wr_u16(&w, m->op);
	wr_u16(&w, m->status);
	wr_u32(&w, m->seq);
	wr_u32(&w, 0); /* length, filled in below */
	wr_u32(&w, 0); /* reserved */

	if (!is_reply) {
		if (m->status != PROTO_OK)
			return -EINVAL;
		r = encode_request(&w, m);
	} else if (m->status != PROTO_OK) {
		/* Error replies are valid for any opcode: the daemon must be able
		 * to answer a request whose opcode it does not know. */
		if (m->status >= PROTO_STATUS_COUNT)
			return -EINVAL;
		wr_bytes(&w, m->u.error.message, strnlen(m->u.error.message, PROTO_ERRMSG_MAX));
		r = 0;
	} else {
		r = encode_reply(&w, m);
	}
	if (r < 0)
		return r;
	if (w.len > cap)
		return -EMSGSIZE;
	put_u32(buf + 8, (uint32_t)(w.len - PROTO_HEADER_SIZE));
	return (int)w.len;
}

/* ---- names, errors, paths ---- */

bool proto_name_is_valid(const char *name, size_t len)
{
	if (len == 0 || len > PROTO_NAME_MAX || name[0] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c > 0x7e)
			return false;
	}
	return true;
}

void proto_make_error(struct proto_msg *m, const struct proto_msg *req, enum proto_status status,
		      const char *message)
{
	/* Read req first: callers may answer in place (m == req). */
	uint16_t op = req->op | PROTO_REPLY_BIT;
	uint32_t seq = req->seq;

	memset(m, 0, sizeof(*m));
	m->op = op;
	m->seq = seq;
	m->status = (uint16_t)status;
	snprintf(m->u.error.message, sizeof(m->u.error.message), "%s", message ? message : "");
}

static const struct {
	int err;
	const char *name;
} statuses[PROTO_STATUS_COUNT] = {
	[PROTO_OK] = { 0, "OK" },
	[PROTO_E_PROTO] = { -EPROTO, "EPROTO" },
	[PROTO_E_VERSION] = { -EPROTONOSUPPORT, "EPROTONOSUPPORT" },
	[PROTO_E_NOTSUP] = { -EOPNOTSUPP, "EOPNOTSUPP" },
	[PROTO_E_NOENT] = { -ENOENT, "ENOENT" },
	[PROTO_E_EXIST] = { -EEXIST, "EEXIST" },
	[PROTO_E_BUSY] = { -EBUSY, "EBUSY" },
	[PROTO_E_ACCES] = { -EACCES, "EACCES" },
	[PROTO_E_INVAL] = { -EINVAL, "EINVAL" },
	[PROTO_E_RANGE] = { -ERANGE, "ERANGE" },
	[PROTO_E_TIMEDOUT] = { -ETIMEDOUT, "ETIMEDOUT" },
	[PROTO_E_NOSPC] = { -ENOSPC, "ENOSPC" },
	[PROTO_E_LIMIT] = { -EDQUOT, "EDQUOT" },
	[PROTO_E_MSGSIZE] = { -EMSGSIZE, "EMSGSIZE" },
	[PROTO_E_BADFD] = { -EBADMSG, "EBADMSG" },
	[PROTO_E_INTERNAL] = { -EIO, "EIO" },
	[PROTO_E_PERM] = { -EPERM, "EPERM" },
	[PROTO_E_NAMETOOLONG] = { -ENAMETOOLONG, "ENAMETOOLONG" },
};

int proto_status_to_errno(uint16_t status)
{
	return status < PROTO_STATUS_COUNT ? statuses[status].err : -EPROTO;
}

enum proto_status proto_errno_to_status(int err)
{
	/* Out of memory for a shm object looks the same to a client as the byte limit. */
	if (err == -ENOMEM)
		return PROTO_E_NOSPC;
	for (int s = 0; s < PROTO_STATUS_COUNT; s++)
		if (statuses[s].err == err)
			return (enum proto_status)s;
	return PROTO_E_INTERNAL;
}

const char *proto_status_name(uint16_t status)
{
	return status < PROTO_STATUS_COUNT ? statuses[status].name : "EUNKNOWN";
}

const char *proto_op_name(uint16_t op)
{
	const struct op_info *info = op_info(op);

	return info ? info->name : "?";
}

int proto_default_socket_path(char *buf, size_t cap)
{
	/* secure_getenv: a setuid program linked with libshmbuf must not be
	 * pointed at another daemon by whoever runs it. */
	const char *env = secure_getenv("SHMBUF_SOCKET");
	int n;

	if (env && *env)
		n = snprintf(buf, cap, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/run/shmbuf/shmbufd.sock");
	else if ((env = secure_getenv("XDG_RUNTIME_DIR")) && *env)
		n = snprintf(buf, cap, "%s/shmbuf/shmbufd.sock", env);
	else
		n = snprintf(buf, cap, "/tmp/shmbuf-%u/shmbufd.sock", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}
