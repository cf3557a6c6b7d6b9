/* SPDX-License-Identifier: MIT */
/* layout.c: proto.h's message lists expanded into the field tables the codec walks, and the checks beyond layout. */
#include "layout.h"

#include <errno.h>
#include <stddef.h>

/* ---- string classes ---- */

/* Names in requests: too long is a well-formed request the daemon answers. */
static const struct string_class str_NAME = {
	PROTO_NAME_MAX, STR_ENC_NAME, -ENAMETOOLONG, -ENAMETOOLONG, "NUL byte inside name", "name longer than 255 bytes",
};
static const struct string_class str_LISTNAME = {
	PROTO_NAME_MAX, STR_ENC_OPTIONAL_NAME, -ENAMETOOLONG, -ENAMETOOLONG, "NUL byte inside name",
	"name longer than 255 bytes",
};
/* Names in replies and events: the daemon never sends one too long. */
static const struct string_class str_RNAME = {
	PROTO_NAME_MAX, STR_ENC_PLAIN, -ENAMETOOLONG, -EBADMSG, "NUL byte inside name", "name longer than 255 bytes",
};
static const struct string_class str_VERSION = {
	PROTO_VERSION_STR_MAX, STR_ENC_PLAIN, -EINVAL, -EBADMSG, "NUL byte inside server version",
	"server version longer than 32 bytes",
};
static const struct string_class str_PATH = {
	PROTO_NAME_MAX, STR_ENC_PLAIN, -ENAMETOOLONG, -EBADMSG, "NUL byte inside socket path",
	"socket path longer than 255 bytes",
};
static const struct string_class str_COMM = {
	PROTO_COMM_MAX, STR_ENC_PLAIN, -EINVAL, -EBADMSG, "NUL byte inside comm", "comm longer than 16 bytes",
};
static const struct string_class str_ERRMSG = {
	PROTO_ERRMSG_MAX, STR_ENC_CUT, 0, -EBADMSG, "NUL byte inside error message",
	"error message longer than 200 bytes",
};

/* ---- field tables, one per list in proto.h ---- */

/* FIELD_STRUCT is the struct a list describes, defined around each table. */
#define FIELD(kind, member, class) FIELD_##kind(member, class),
#define FIELD_INT(k, m) { .kind = k, .offset = offsetof(FIELD_STRUCT, m) }
#define FIELD_U16(m, c) FIELD_INT(FK_U16, m)
#define FIELD_U32(m, c) FIELD_INT(FK_U32, m)
#define FIELD_U64(m, c) FIELD_INT(FK_U64, m)
#define FIELD_I32(m, c) FIELD_INT(FK_I32, m)
#define FIELD_RSV16(m, c) { .kind = FK_RSV16 }
#define FIELD_RSV32(m, c) { .kind = FK_RSV32 }
#define FIELD_STR(m, c) { .kind = FK_STR, .offset = offsetof(FIELD_STRUCT, m), .str = &str_##c }
#define FIELD_ENTRIES(m, c)                                                                                 \
	{ .kind = FK_ENTRIES, .offset = offsetof(FIELD_STRUCT, m), .entry = table_PROTO_##c##_ENTRY_FIELDS, \
	  .entry_size = sizeof(((FIELD_STRUCT *)0)->m[0]), .count_offset = offsetof(FIELD_STRUCT, count) }
/* The closing entry's offset is the struct's size: what a decoder must clear. */
#define FIELD_TABLE(list) \
	static const struct field table_##list[] = { list(FIELD){ .kind = FK_END, .offset = sizeof(FIELD_STRUCT) } }

#define FIELD_STRUCT struct proto_hello
FIELD_TABLE(PROTO_HELLO_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_hello_reply
FIELD_TABLE(PROTO_HELLO_REPLY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_segment_req
FIELD_TABLE(PROTO_CREATE_FIELDS);
FIELD_TABLE(PROTO_NAMED_FIELDS);
FIELD_TABLE(PROTO_RESIZE_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_chmod
FIELD_TABLE(PROTO_CHMOD_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_chown
FIELD_TABLE(PROTO_CHOWN_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_acquire
FIELD_TABLE(PROTO_ACQUIRE_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_acquire_reply
FIELD_TABLE(PROTO_ACQUIRE_REPLY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_release
FIELD_TABLE(PROTO_RELEASE_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_unmap
FIELD_TABLE(PROTO_UNMAP_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_unmap_reply
FIELD_TABLE(PROTO_UNMAP_REPLY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_cancel
FIELD_TABLE(PROTO_CANCEL_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_reclaim
FIELD_TABLE(PROTO_RECLAIM_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_stat_reply
FIELD_TABLE(PROTO_STAT_REPLY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_status_reply
FIELD_TABLE(PROTO_STATUS_REPLY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_list_req
FIELD_TABLE(PROTO_LIST_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_segment_entry
FIELD_TABLE(PROTO_SEGMENT_ENTRY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_lease_entry
FIELD_TABLE(PROTO_LEASE_ENTRY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_client_entry
FIELD_TABLE(PROTO_CLIENT_ENTRY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_user_entry
FIELD_TABLE(PROTO_USER_ENTRY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_list_reply
FIELD_TABLE(PROTO_LIST_SEGMENTS_REPLY_FIELDS);
FIELD_TABLE(PROTO_LIST_LEASES_REPLY_FIELDS);
FIELD_TABLE(PROTO_LIST_CLIENTS_REPLY_FIELDS);
FIELD_TABLE(PROTO_LIST_USERS_REPLY_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_event
FIELD_TABLE(PROTO_EVENT_FIELDS);
#undef FIELD_STRUCT
#define FIELD_STRUCT struct proto_error
FIELD_TABLE(PROTO_ERROR_FIELDS);
#undef FIELD_STRUCT

static const struct field table_PROTO_EMPTY[] = { { .kind = FK_END } };
#define table_PROTO_NONE NULL

/* ---- opcodes ---- */

#define LAYOUT(name, list, dir)                                                                        \
	{ table_##list, "payload shorter than " #name dir " needs", "trailing bytes after " #name dir, \
	  "reserved " #name dir " field not zero" }
#define OP_LAYOUTS(name, value, request, reply) \
	[PROTO_OP_##name] = { #name, LAYOUT(name, request, ""), LAYOUT(name, reply, " reply") },

static const struct op_layouts op_layouts[] = { PROTO_OPS(OP_LAYOUTS) };

const struct layout proto_error_layout = {
	table_PROTO_ERROR_FIELDS, "payload shorter than error reply needs", "trailing bytes after error reply", NULL,
};

const struct op_layouts *proto_op_layouts(uint16_t op)
{
	op &= (uint16_t)~PROTO_REPLY_BIT;
	if (op >= sizeof(op_layouts) / sizeof(op_layouts[0]) || !op_layouts[op].name)
		return NULL;
	return &op_layouts[op];
}

const char *proto_op_name(uint16_t op)
{
	const struct op_layouts *l = proto_op_layouts(op);

	return l ? l->name : "?";
}

/* ---- checks beyond layout ---- */

static bool hello_is_valid(const struct proto_hello *h)
{
	return h->magic == PROTO_MAGIC && h->min_version != 0 && h->min_version <= h->max_version;
}

static bool acq_flags_are_valid(uint32_t flags)
{
	return flags == PROTO_ACQ_READ || flags == PROTO_ACQ_WRITE;
}

/* READ or WRITE, optionally NEWER; `after` only with NEWER. */
static bool acquire_is_valid(const struct proto_acquire *a)
{
	if (!(a->flags & PROTO_ACQ_NEWER) && a->after != 0)
		return false;
	return acq_flags_are_valid(a->flags & ~PROTO_ACQ_NEWER) && a->timeout_ms >= -1;
}

static int check_request(const struct proto_msg *m)
{
	switch ((enum proto_op)m->op) {
	case PROTO_OP_RELEASE:
		return m->u.release.flags & ~PROTO_RELEASE_FLAGS ? -EINVAL : 0;
	case PROTO_OP_UNMAP:
		return m->u.unmap.modes == 0 || m->u.unmap.modes & ~(PROTO_ACQ_READ | PROTO_ACQ_WRITE) ? -EINVAL : 0;
	case PROTO_OP_HELLO: /* the decoder refuses these, so refuse to send them */
		return hello_is_valid(&m->u.hello) ? 0 : -EINVAL;
	case PROTO_OP_CREATE:
		return m->u.segment.mode > 0777 || (m->u.segment.flags & ~PROTO_CREATE_FLAGS) ? -EINVAL : 0;
	case PROTO_OP_CHMOD:
		return m->u.chmod.mode > 0777 ? -EINVAL : 0;
	case PROTO_OP_ACQUIRE:
		return acquire_is_valid(&m->u.acquire) ? 0 : -EINVAL;
	case PROTO_OP_CANCEL:
		return m->u.cancel.acquire_seq == 0 ? -EINVAL : 0;
	case PROTO_OP_RECLAIM:
		return acq_flags_are_valid(m->u.reclaim.flags) ? 0 : -EINVAL;
	case PROTO_OP_LIST_SEGMENTS:
	case PROTO_OP_LIST_CLIENTS: /* "" lists everything; only LIST_LEASES may narrow to one segment */
	case PROTO_OP_LIST_USERS:
		return m->u.list.name[0] == '\0' ? 0 : -EINVAL;
	case PROTO_OP_DESTROY:
	case PROTO_OP_RESIZE:
	case PROTO_OP_STAT:
	case PROTO_OP_STATUS:
	case PROTO_OP_LIST_LEASES:
	case PROTO_OP_SUBSCRIBE:
	case PROTO_OP_CHOWN:
	case PROTO_OP_EVENT:
		break;
	}
	return 0;
}

static int check_reply(const struct proto_msg *m)
{
	switch ((enum proto_op)(m->op & (uint16_t)~PROTO_REPLY_BIT)) {
	case PROTO_OP_ACQUIRE:
		return acq_flags_are_valid(m->u.acquire_reply.flags & ~PROTO_ACQ_FD) ? 0 : -EINVAL;
	case PROTO_OP_UNMAP: /* only ever sent unasked */
		return m->seq != 0 ? -EINVAL : 0;
	case PROTO_OP_EVENT: /* events are unasked: seq 0 says so to the client's reply matching */
		return m->seq != 0 || m->u.event.type == 0 || m->u.event.type > PROTO_EV_TYPE_MAX ? -EINVAL : 0;
	case PROTO_OP_HELLO:
	case PROTO_OP_CREATE:
	case PROTO_OP_DESTROY:
	case PROTO_OP_RESIZE:
	case PROTO_OP_RELEASE:
	case PROTO_OP_STAT:
	case PROTO_OP_STATUS:
	case PROTO_OP_LIST_SEGMENTS:
	case PROTO_OP_LIST_LEASES:
	case PROTO_OP_LIST_CLIENTS:
	case PROTO_OP_SUBSCRIBE:
	case PROTO_OP_CHMOD:
	case PROTO_OP_CHOWN:
	case PROTO_OP_LIST_USERS:
	case PROTO_OP_CANCEL:
	case PROTO_OP_RECLAIM:
		break;
	}
	return 0;
}

int proto_check_encode(const struct proto_msg *m)
{
	return m->op & PROTO_REPLY_BIT ? check_reply(m) : check_request(m);
}

int proto_check_decoded(const struct proto_msg *m, const char **why)
{
	const char *reason = NULL;

	if (m->op == PROTO_OP_HELLO) {
		if (m->u.hello.magic != PROTO_MAGIC)
			reason = "HELLO magic is not \"SHMB\"";
		else if (m->u.hello.min_version == 0)
			reason = "HELLO min_version is 0";
		else if (m->u.hello.min_version > m->u.hello.max_version)
			reason = "HELLO min_version above max_version";
	}
	if (!reason)
		return 0;
	if (why)
		*why = reason;
	return -EBADMSG;
}
