/* SPDX-License-Identifier: MIT */
/* proto.h: the shmbuf wire format, shared by shmbufd and libshmbuf.
 *
 * One message is one SOCK_SEQPACKET datagram: a fixed 16-byte header and a
 * payload whose layout depends on the opcode. All integers are little-endian.
 * docs/protocol.md is the normative description; keep the two in step.
 *
 * There is exactly one in-memory representation of a message, struct
 * proto_msg. proto_encode() turns it into bytes, proto_decode() validates
 * bytes and fills it. Decoders are total: any byte string either decodes or
 * yields a negative errno, never undefined behaviour.
 *
 * Each message is written down once, as a field list below (PROTO_OPS and
 * the PROTO_*_FIELDS lists); its struct here, and the tables codec.c walks
 * (layout.c), are expanded from it. Likewise PROTO_STATUS_MAP for statuses.
 * Adding a message: a line in PROTO_OPS, its field lists, a FIELD_TABLE in
 * layout.c, any check beyond layout there, golden bytes in tests/unit/test_proto.c
 * and a worked example in docs/protocol.md.
 */
#ifndef SHMBUF_PROTO_H
#define SHMBUF_PROTO_H

/* These internal functions are linked into libshmbuf.a too, where hidden
 * visibility does not keep them out of an application's namespace: give them
 * the library's prefix so they cannot clash with the application's own. */
#define proto_encode shmbuf__proto_encode
#define proto_decode shmbuf__proto_decode
#define proto_name_is_valid shmbuf__proto_name_is_valid
#define proto_name_problem shmbuf__proto_name_problem
#define proto_make_error shmbuf__proto_make_error
#define proto_status_to_errno shmbuf__proto_status_to_errno
#define proto_errno_to_status shmbuf__proto_errno_to_status
#define proto_status_name shmbuf__proto_status_name
#define proto_op_name shmbuf__proto_op_name
#define proto_status_text shmbuf__proto_status_text
#define proto_errno_text shmbuf__proto_errno_text
#define proto_default_socket_path shmbuf__proto_default_socket_path

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x424d4853u /* "SHMB" read as a little-endian u32 */
#define PROTO_VERSION 2 /* 2: kept mappings (have_segment_id, UNMAP), quiet RELEASE;
                          * generations, ACQUIRE NEWER and CANCEL (2 never shipped without them) */

#define PROTO_HEADER_SIZE 16
/* Largest datagram either side ever sends. Requests are far smaller; the
 * daemon may enforce a lower limit on what it accepts (--max-message). */
#define PROTO_MAX_MESSAGE 65536
#define PROTO_NAME_MAX 255
#define PROTO_ERRMSG_MAX 200
#define PROTO_VERSION_STR_MAX 32

/* Reply opcodes are the request opcode with this bit set. */
#define PROTO_REPLY_BIT 0x8000u

/* Every message is described once, here, as lists of X-macro entries; the
 * enums and structs below are expanded from them, and proto/layout.c expands
 * the same lists into the field tables the one encoder and one decoder walk.
 *
 * PROTO_OPS(X): X(NAME, opcode, request layout, reply layout), where a layout
 * is the name of a field list below, PROTO_EMPTY (no payload) or PROTO_NONE
 * (no such message: EVENT is never a request). */
#define PROTO_OPS(X)                                                                 \
	X(HELLO, 1, PROTO_HELLO_FIELDS, PROTO_HELLO_REPLY_FIELDS)                    \
	X(CREATE, 2, PROTO_CREATE_FIELDS, PROTO_EMPTY)                               \
	X(DESTROY, 3, PROTO_NAMED_FIELDS, PROTO_EMPTY)                               \
	X(RESIZE, 4, PROTO_RESIZE_FIELDS, PROTO_EMPTY)                               \
	X(ACQUIRE, 5, PROTO_ACQUIRE_FIELDS, PROTO_ACQUIRE_REPLY_FIELDS)              \
	X(RELEASE, 6, PROTO_RELEASE_FIELDS, PROTO_EMPTY)                             \
	X(STAT, 7, PROTO_NAMED_FIELDS, PROTO_STAT_REPLY_FIELDS)                      \
	/* Introspection, for shmbufctl and monitoring. */                           \
	X(STATUS, 8, PROTO_EMPTY, PROTO_STATUS_REPLY_FIELDS)                         \
	X(LIST_SEGMENTS, 9, PROTO_LIST_FIELDS, PROTO_LIST_SEGMENTS_REPLY_FIELDS)     \
	X(LIST_LEASES, 10, PROTO_LIST_FIELDS, PROTO_LIST_LEASES_REPLY_FIELDS)        \
	X(LIST_CLIENTS, 11, PROTO_LIST_FIELDS, PROTO_LIST_CLIENTS_REPLY_FIELDS)      \
	X(SUBSCRIBE, 12, PROTO_EMPTY, PROTO_EMPTY)                                   \
	/* Kept mappings: the client says it closed a segment's fd (quiet: answered \
	 * only on error); the daemon, unasked (seq 0), asks it to. */               \
	X(UNMAP, 13, PROTO_UNMAP_FIELDS, PROTO_UNMAP_REPLY_FIELDS)                   \
	/* End a waiting ACQUIRE (named by its seq): it is answered CANCELED. */     \
	X(CANCEL, 14, PROTO_CANCEL_FIELDS, PROTO_EMPTY)                              \
	/* Ownership: the segment's owner (or root) changes its mode, group, owner. */ \
	X(CHMOD, 15, PROTO_CHMOD_FIELDS, PROTO_EMPTY)                                \
	X(CHOWN, 16, PROTO_CHOWN_FIELDS, PROTO_EMPTY)                                \
	/* Per-user usage against the quotas: all users for root, else the caller's. */ \
	X(LIST_USERS, 17, PROTO_LIST_FIELDS, PROTO_LIST_USERS_REPLY_FIELDS)          \
	/* After a daemon restart: take back a lease held before it (an orphan). */ \
	X(RECLAIM, 20, PROTO_RECLAIM_FIELDS, PROTO_EMPTY)                            \
	/* Sent by the daemon only, unasked, to subscribed clients: always with      \
	 * PROTO_REPLY_BIT set, seq 0 and status PROTO_OK. */                        \
	X(EVENT, 64, PROTO_NONE, PROTO_EVENT_FIELDS)

#define PROTO_OP_ENUM_(name, value, request, reply) PROTO_OP_##name = value,
enum proto_op { PROTO_OPS(PROTO_OP_ENUM_) };

/* Entries per LIST_* reply page. A listing is a series of requests, each
 * carrying the cursor the previous reply returned (0 to start). */
#define PROTO_LIST_PAGE 16
#define PROTO_COMM_MAX 16 /* /proc/<pid>/comm */

/* Acquire flags on the wire: exactly one of READ or WRITE. */
#define PROTO_ACQ_READ 0x1u
#define PROTO_ACQ_WRITE 0x2u
/* ACQUIRE request flag, with READ or WRITE: grant only once a write lease
 * overlapping the range has ended after generation `after` (docs/protocol.md
 * §9.7: the wait for news stands aside from the conflict queue). */
#define PROTO_ACQ_NEWER 0x4u
/* ACQUIRE reply flag: an fd is attached. Clear when the request's
 * have_segment_id named the granted segment: the client holds its fd already. */
#define PROTO_ACQ_FD 0x100u

/* RELEASE flags. QUIET: no reply on success, an error reply on failure. */
#define PROTO_RELEASE_QUIET 0x1u
#define PROTO_RELEASE_FLAGS PROTO_RELEASE_QUIET

/* The wire's own error table, mapped at the edge with proto_status_to_errno() /
 * proto_errno_to_status(); never the host's errno numbers.
 * X(NAME, status, errno, token, text): PROTO_<NAME> = status travels on the
 * wire, -errno is what a client returns, token names it in logs and JSON and
 * text says it for people (proto_status_text()). */
#define PROTO_STATUS_MAP(X)                                                                                   \
	X(OK, 0, 0, "OK", "success")                                                                          \
	/* malformed message or out-of-order request */                                                       \
	X(E_PROTO, 1, EPROTO, "EPROTO", "protocol error between libshmbuf and shmbufd")                      \
	X(E_VERSION, 2, EPROTONOSUPPORT, "EPROTONOSUPPORT", "shmbufd speaks no common protocol version")     \
	X(E_NOTSUP, 3, EOPNOTSUPP, "EOPNOTSUPP", "operation not supported by this shmbufd")                  \
	X(E_NOENT, 4, ENOENT, "ENOENT", "no such segment or lease")        \
	X(E_EXIST, 5, EEXIST, "EEXIST", "a segment with that name exists")                                   \
	X(E_BUSY, 6, EBUSY, "EBUSY", "range is leased by someone else (conflicting lease or waiters ahead)") \
	X(E_ACCES, 7, EACCES, "EACCES", "permission denied (segment mode, reserved name, or the socket's permissions)")      \
	X(E_INVAL, 8, EINVAL, "EINVAL", "invalid argument (name, size, mode, flags or timeout)")              \
	X(E_RANGE, 9, ERANGE, "ERANGE", "range lies outside the segment or overflows")                       \
	X(E_TIMEDOUT, 10, ETIMEDOUT, "ETIMEDOUT", "timed out (waiting for a lease, or for an event)")        \
	/* byte limit reached, or no memory for shm */                                                        \
	X(E_NOSPC, 11, ENOSPC, "ENOSPC", "no space: the daemon's byte limit or shared memory is exhausted")  \
	/* segment/lease/connection count limit */                                                           \
	X(E_LIMIT, 12, EDQUOT, "EDQUOT", "a daemon limit or user quota was reached (segments, bytes, leases or connections)")     \
	X(E_MSGSIZE, 13, EMSGSIZE, "EMSGSIZE", "request larger than shmbufd accepts")                        \
	/* client sent a file descriptor */                                                                   \
	X(E_BADFD, 14, EBADMSG, "EBADMSG", "malformed message (shmbufd refused what it received)")           \
	X(E_INTERNAL, 15, EIO, "EIO", "shmbufd failed internally, or granted a lease without its memory")    \
	X(E_PERM, 16, EPERM, "EPERM",                                                                        \
	  "operation not permitted (not the segment's owner, or a sealed segment's size)")                   \
	X(E_NAMETOOLONG, 17, ENAMETOOLONG, "ENAMETOOLONG",                                                    \
	  "name too long (segment names are at most 255 bytes; or the socket path is too long)")             \
	X(E_CANCELED, 18, ECANCELED, "ECANCELED", "canceled (a CANCEL ended the waiting acquire)")            \
	X(E_AGAIN, 19, EAGAIN, "EAGAIN", "nothing newer yet (no write after the given generation)")        \
	/* 20-23: issue 11's (access control) */                                                            \
	X(E_STALE, 24, ESTALE, "ESTALE", "the segment did not survive a restart of shmbufd")

#define PROTO_STATUS_ENUM_(name, value, err, token, text) PROTO_##name = value,
enum proto_status {
	PROTO_STATUS_MAP(PROTO_STATUS_ENUM_)
	PROTO_STATUS_END_ /* one past the highest status */
};
/* Statuses may leave gaps (numbers another branch holds); a gap is an unknown status. */
#define PROTO_STATUS_COUNT ((int)PROTO_STATUS_END_)

/* Payload field lists. X(kind, member, class), in wire order:
 *   U16 U32 U64 I32  a little-endian integer; member of that C type
 *   RSV16 RSV32      reserved, zero on the wire, refused when not; no member
 *   STR              u16 byte count + that many bytes, no NUL inside;
 *                    member char[PROTO_STR_MAX_<class> + 1], NUL-terminated
 *   ENTRIES          a LIST page's entries, as many as the struct's count member
 *                    (at most PROTO_LIST_PAGE), back to back, each laid out by
 *                    PROTO_<class>_ENTRY_FIELDS; the member, an array in a union,
 *                    is written out by hand (struct proto_list_reply)
 * A string's class gives its limit and, in proto/layout.c, what a decoder says
 * and returns when it is broken: NAME is a request's segment name (too long is
 * -ENAMETOOLONG, answered by the daemon; the encoder checks it fully), LISTNAME
 * a LIST request's optional name, RNAME a name in a reply or event (too long is
 * malformed). The last field of a payload must end it exactly. */
#define PROTO_STR_MAX_NAME PROTO_NAME_MAX
#define PROTO_STR_MAX_LISTNAME PROTO_NAME_MAX
#define PROTO_STR_MAX_RNAME PROTO_NAME_MAX
#define PROTO_STR_MAX_VERSION PROTO_VERSION_STR_MAX
#define PROTO_STR_MAX_PATH PROTO_NAME_MAX
#define PROTO_STR_MAX_COMM PROTO_COMM_MAX
#define PROTO_STR_MAX_ERRMSG PROTO_ERRMSG_MAX

/* HELLO: the first request on every connection. */
#define PROTO_HELLO_FIELDS(X) X(U32, magic, _) X(U16, min_version, _) X(U16, max_version, _)

#define PROTO_HELLO_REPLY_FIELDS(X)                                                   \
	X(U16, version, _)     /* chosen version */                                   \
	X(RSV16, reserved, _)                                                         \
	X(U32, max_message, _) /* largest request the daemon accepts */              \
	X(U32, server_pid, _)                                                         \
	X(STR, server_version, VERSION)

/* CREATE, DESTROY, RESIZE, STAT requests share struct proto_segment_req, whose
 * members are CREATE's; the others carry some of them. Unused members are zero. */
#define PROTO_CREATE_FIELDS(X)                                             \
	X(U64, size, _) /* CREATE, RESIZE */                               \
	X(U32, mode, _) /* CREATE: permission bits, <= 0777 */             \
	X(U32, flags, _) /* CREATE: PROTO_CREATE_* */                      \
	X(STR, name, NAME)
/* CREATE flags. SEALED: a fixed size, pinned by the kernel (a memfd sealed
 * against shrinking and growing); RESIZE is refused with PERM. */
#define PROTO_CREATE_SEALED 0x1u
#define PROTO_CREATE_FLAGS PROTO_CREATE_SEALED
#define PROTO_NAMED_FIELDS(X) X(STR, name, NAME) /* DESTROY, STAT */
#define PROTO_RESIZE_FIELDS(X) X(U64, size, _) X(STR, name, NAME)

/* CHMOD: the new permission bits (<= 0777). CHOWN: the new owner and group,
 * PROTO_ID_KEEP for one left as it is. */
#define PROTO_CHMOD_FIELDS(X) X(U32, mode, _) X(RSV32, reserved, _) X(STR, name, NAME)
#define PROTO_CHOWN_FIELDS(X) X(U32, uid, _) X(U32, gid, _) X(STR, name, NAME)
#define PROTO_ID_KEEP 0xffffffffu

#define PROTO_ACQUIRE_FIELDS(X)                                                  \
	X(U64, offset, _)                                                        \
	X(U64, length, _)     /* 0: to the end of the segment */                 \
	X(U32, flags, _)      /* PROTO_ACQ_READ or PROTO_ACQ_WRITE */            \
	X(I32, timeout_ms, _) /* 0: fail at once, -1: wait, >0: wait at most */  \
	X(U64, have_segment_id, _) /* 0, or the id of the segment whose fd of  \
				    * this mode the client holds for name */ \
	X(U64, after, _) /* NEWER: a generation; else 0 */                      \
	X(STR, name, NAME)

/* ACQUIRE reply: the segment's fd travels with it (SCM_RIGHTS) when flags
 * has PROTO_ACQ_FD. */
#define PROTO_ACQUIRE_REPLY_FIELDS(X)                                  \
	X(U64, lease_id, _)                                            \
	X(U64, offset, _)                                              \
	X(U64, length, _) /* resolved, never 0 */                      \
	X(U64, segment_size, _)                                        \
	X(U64, segment_id, _)                                          \
	X(U32, flags, _) /* READ or WRITE as requested, | PROTO_ACQ_FD */ \
	X(RSV32, reserved, _)                                          \
	X(U64, generation, _) /* newest write generation of the range */

#define PROTO_RELEASE_FIELDS(X) X(U64, lease_id, _) X(U32, flags, _) X(RSV32, reserved, _)

/* UNMAP request: the client closed its fd(s) of segment_id (modes: READ|WRITE
 * bits). UNMAP from the daemon (seq 0): close every fd of segment_id. */
#define PROTO_UNMAP_FIELDS(X) X(U64, segment_id, _) X(U32, modes, _) X(RSV32, reserved, _)
#define PROTO_UNMAP_REPLY_FIELDS(X) X(U64, segment_id, _)

/* CANCEL: the seq of this connection's waiting ACQUIRE. */
#define PROTO_CANCEL_FIELDS(X) X(U32, acquire_seq, _) X(RSV32, reserved, _)

/* RECLAIM: a lease this process held before the daemon restarted, as the ACQUIRE reply
 * described it; the daemon makes it this connection's again when it matches an orphan. */
#define PROTO_RECLAIM_FIELDS(X)                                          \
	X(U64, lease_id, _)                                              \
	X(U64, segment_id, _)                                            \
	X(U64, offset, _)                                                \
	X(U64, length, _)                                                \
	X(U32, flags, _) /* PROTO_ACQ_READ or PROTO_ACQ_WRITE */         \
	X(RSV32, reserved, _)

#define PROTO_STAT_REPLY_FIELDS(X)                                                                  \
	X(U64, size, _) X(U32, mode, _) X(U32, uid, _) X(U32, gid, _) X(U32, read_leases, _)      \
	X(U32, write_leases, _) X(U32, waiters, _)                                                \
	X(U64, generation, _) /* write leases ended on it so far */

#define PROTO_STATUS_REPLY_FIELDS(X)                                                     \
	X(U32, server_pid, _)                                                            \
	X(U64, started_ns, _) /* CLOCK_REALTIME, ns since the epoch */                   \
	X(U64, uptime_ns, _)                                                             \
	X(U64, bytes, _)      /* in use, destroyed-but-leased segments included */       \
	X(U64, max_bytes, _)                                                             \
	X(U32, segments, _)   /* likewise */                                             \
	X(U32, max_segments, _)                                                          \
	X(U32, clients, _)                                                               \
	X(U32, max_clients, _)                                                           \
	X(U32, read_leases, _)                                                           \
	X(U32, write_leases, _)                                                          \
	X(U32, waiters, _)                                                               \
	X(STR, server_version, VERSION)                                                  \
	X(STR, socket_path, PATH)                                                        \
	/* Restarts (issue 10): what the state record counts, and the lease grace. */    \
	X(U32, restarts, _)      /* daemons started on this record before this one */   \
	X(U32, grace_left_ms, _) /* > 0: leases held before the restart still wait */   \
	X(U32, orphans, _)       /* such leases not yet reclaimed */                     \
	X(U32, reclaimed, _)     /* taken back by their holders since this start */     \
	X(U32, lost, _)          /* freed unreclaimed: segment gone, holder dead, grace over */

/* LIST_SEGMENTS, LIST_LEASES, LIST_CLIENTS, LIST_USERS request. */
#define PROTO_LIST_FIELDS(X)                                                   \
	X(U64, cursor, _) /* 0: from the start; else a reply's next_cursor */  \
	X(STR, name, LISTNAME) /* LIST_LEASES: only this segment's; "" = all. Others: "" */

#define PROTO_SEG_DESTROYED 0x1u /* name removed, memory kept by leases */
#define PROTO_SEG_SEALED 0x2u    /* created with PROTO_CREATE_SEALED: its size is fixed */

#define PROTO_SEGMENT_ENTRY_FIELDS(X)                                              \
	X(U64, id, _)         /* daemon-wide, increasing with creation */          \
	X(U64, size, _)                                                            \
	X(U64, created_ns, _) /* CLOCK_REALTIME */                                 \
	X(U64, generation, _) /* write leases ended on it so far */               \
	X(U32, mode, _)                                                            \
	X(U32, uid, _)                                                             \
	X(U32, gid, _)                                                             \
	X(U32, pid, _)        /* creator */                                        \
	X(U32, read_leases, _)                                                     \
	X(U32, write_leases, _)                                                    \
	X(U32, waiters, _)                                                         \
	X(U32, flags, _)      /* PROTO_SEG_* */                                    \
	X(STR, name, RNAME)

#define PROTO_LEASE_WRITE 0x1u   /* else read */
#define PROTO_LEASE_WAITING 0x2u /* requested, not granted yet */

#define PROTO_LEASE_ENTRY_FIELDS(X)                                                   \
	X(U64, id, _)                                                                 \
	X(U64, client_id, _)                                                          \
	X(U64, offset, _)                                                             \
	X(U64, length, _)                                                             \
	X(U64, age_ns, _)        /* since granted, or since requested when waiting */ \
	X(U32, flags, _)         /* PROTO_LEASE_* */                                  \
	X(U32, pid, _)                                                                \
	X(U32, uid, _)                                                                \
	X(U32, segment_flags, _) /* PROTO_SEG_* of the segment */                     \
	X(STR, comm, COMM)                                                            \
	X(STR, segment, RNAME)                                                        \
	X(U64, blocked_by, _) /* WAITING: the lease id that holds it up now, else 0 */

#define PROTO_CLIENT_ENTRY_FIELDS(X)                                 \
	X(U64, id, _)     /* daemon-wide, increasing with connection */  \
	X(U64, age_ns, _) /* since connected */                          \
	X(U32, pid, _)                                                   \
	X(U32, uid, _)                                                   \
	X(U32, gid, _)                                                   \
	X(U32, leases, _) /* held */                                     \
	X(U32, waiting, _)                                               \
	X(U32, flags, _)  /* PROTO_CLIENT_* */                           \
	X(STR, comm, COMM)

#define PROTO_USER_EXEMPT 0x1u /* root or the daemon's uid: no per-user quota; max_* are the daemon's */

#define PROTO_USER_ENTRY_FIELDS(X)                                                     \
	X(U32, uid, _)                                                                 \
	X(U32, flags, _) /* PROTO_USER_* */                                            \
	X(U32, connections, _)                                                         \
	X(U32, max_connections, _)                                                     \
	X(U32, segments, _) /* owned, destroyed-but-mapped included */                 \
	X(U32, max_segments, _)                                                        \
	X(U32, leases, _)   /* held and waiting, over all its connections */           \
	X(U32, max_leases, _)                                                          \
	X(U64, bytes, _)    /* of the segments it owns */                              \
	X(U64, max_bytes, _)

#define PROTO_CLIENT_SELF 0x1u       /* the connection that asked */
#define PROTO_CLIENT_SUBSCRIBED 0x2u

/* One page of a listing. next_cursor 0: this was the last page. */
#define PROTO_LIST_PAGE_FIELDS(X) X(U64, next_cursor, _) X(U32, count, _) /* count <= PROTO_LIST_PAGE */
#define PROTO_LIST_SEGMENTS_REPLY_FIELDS(X) PROTO_LIST_PAGE_FIELDS(X) X(ENTRIES, e.segments, SEGMENT)
#define PROTO_LIST_LEASES_REPLY_FIELDS(X) PROTO_LIST_PAGE_FIELDS(X) X(ENTRIES, e.leases, LEASE)
#define PROTO_LIST_CLIENTS_REPLY_FIELDS(X) PROTO_LIST_PAGE_FIELDS(X) X(ENTRIES, e.clients, CLIENT)
/* LIST_USERS: by uid; a cursor is the uid after the last one listed. */
#define PROTO_LIST_USERS_REPLY_FIELDS(X) PROTO_LIST_PAGE_FIELDS(X) X(ENTRIES, e.users, USER)

enum proto_event_type {
	PROTO_EV_SEGMENT_CREATED = 1,
	PROTO_EV_SEGMENT_RESIZED = 2,   /* size: the new size */
	PROTO_EV_SEGMENT_DESTROYED = 3, /* name removed */
	PROTO_EV_SEGMENT_FREED = 4,     /* memory released (last lease of a destroyed segment gone) */
	PROTO_EV_LEASE_ACQUIRED = 5,
	PROTO_EV_LEASE_RELEASED = 6,    /* also when the holder disconnected */
	PROTO_EV_LEASE_WAITING = 7,
	PROTO_EV_LEASE_CANCELLED = 8,   /* a wait ended without a lease: timeout, destroy, shrink, disconnect */
	PROTO_EV_CLIENT_CONNECTED = 9,
	PROTO_EV_CLIENT_DISCONNECTED = 10,
	PROTO_EV_TYPE_MAX = 10
};

/* EVENT reason of a LEASE_CANCELLED: why the wait ended. Unknown values are decoded. */
enum proto_cancel_reason {
	PROTO_CANCEL_NONE = 0,       /* not a LEASE_CANCELLED */
	PROTO_CANCEL_TIMEOUT = 1,    /* its timeout_ms passed */
	PROTO_CANCEL_DESTROY = 2,    /* its segment was destroyed */
	PROTO_CANCEL_SHRINK = 3,     /* a resize cut its range */
	PROTO_CANCEL_DISCONNECT = 4, /* its connection closed */
	PROTO_CANCEL_CANCEL = 5,     /* given up on request (reserved for a CANCEL request) */
};

#define PROTO_EVENT_FIELDS(X)                                                                                     \
	X(U16, type, _)      /* enum proto_event_type; unknown types are decoded, not rejected */                 \
	X(U64, time_ns, _)   /* CLOCK_REALTIME */                                                                 \
	X(U64, client_id, _) /* LEASE_*: the holder or waiter; SEGMENT_*: the caller (0 for FREED); CLIENT_*: that client */ \
	X(U64, lease_id, _)  /* LEASE_* events */                                                                 \
	X(U64, offset, _)    /* LEASE_* events */                                                                 \
	X(U64, length, _)    /* LEASE_* events */                                                                 \
	X(U64, size, _)      /* SEGMENT_* and LEASE_* events: the segment's size */                               \
	X(U32, flags, _)     /* LEASE_*: PROTO_LEASE_WRITE */                                                     \
	X(U32, pid, _)                                                                                            \
	X(U32, uid, _)                                                                                            \
	X(STR, comm, COMM)                                                                                        \
	X(STR, segment, RNAME) /* "" for CLIENT_* events */                                                       \
	X(U32, reason, _)    /* LEASE_CANCELLED: enum proto_cancel_reason; else 0 */

/* Any reply with status != PROTO_OK carries only this, whatever its opcode.
 * The encoder cuts a longer message short rather than refuse it. */
#define PROTO_ERROR_FIELDS(X) X(STR, message, ERRMSG)

/* Struct members from field lists: reserved fields and ENTRIES have none. */
#define PROTO_MEMBER_(kind, member, class) PROTO_MEMBER_##kind##_(member, class)
#define PROTO_MEMBER_U16_(member, class) uint16_t member;
#define PROTO_MEMBER_U32_(member, class) uint32_t member;
#define PROTO_MEMBER_U64_(member, class) uint64_t member;
#define PROTO_MEMBER_I32_(member, class) int32_t member;
#define PROTO_MEMBER_STR_(member, class) char member[PROTO_STR_MAX_##class + 1];
#define PROTO_MEMBER_RSV16_(member, class)
#define PROTO_MEMBER_RSV32_(member, class)
#define PROTO_MEMBER_ENTRIES_(member, class)

struct proto_hello { PROTO_HELLO_FIELDS(PROTO_MEMBER_) };
struct proto_hello_reply { PROTO_HELLO_REPLY_FIELDS(PROTO_MEMBER_) };
struct proto_segment_req { PROTO_CREATE_FIELDS(PROTO_MEMBER_) };
struct proto_chmod { PROTO_CHMOD_FIELDS(PROTO_MEMBER_) };
struct proto_chown { PROTO_CHOWN_FIELDS(PROTO_MEMBER_) };
struct proto_acquire { PROTO_ACQUIRE_FIELDS(PROTO_MEMBER_) };
struct proto_acquire_reply { PROTO_ACQUIRE_REPLY_FIELDS(PROTO_MEMBER_) };
struct proto_release { PROTO_RELEASE_FIELDS(PROTO_MEMBER_) };
struct proto_unmap { PROTO_UNMAP_FIELDS(PROTO_MEMBER_) };
struct proto_unmap_reply { PROTO_UNMAP_REPLY_FIELDS(PROTO_MEMBER_) };
struct proto_cancel { PROTO_CANCEL_FIELDS(PROTO_MEMBER_) };
struct proto_reclaim { PROTO_RECLAIM_FIELDS(PROTO_MEMBER_) };
struct proto_stat_reply { PROTO_STAT_REPLY_FIELDS(PROTO_MEMBER_) };
struct proto_status_reply { PROTO_STATUS_REPLY_FIELDS(PROTO_MEMBER_) };
struct proto_list_req { PROTO_LIST_FIELDS(PROTO_MEMBER_) };
struct proto_segment_entry { PROTO_SEGMENT_ENTRY_FIELDS(PROTO_MEMBER_) };
struct proto_lease_entry { PROTO_LEASE_ENTRY_FIELDS(PROTO_MEMBER_) };
struct proto_client_entry { PROTO_CLIENT_ENTRY_FIELDS(PROTO_MEMBER_) };
struct proto_user_entry { PROTO_USER_ENTRY_FIELDS(PROTO_MEMBER_) };
struct proto_event { PROTO_EVENT_FIELDS(PROTO_MEMBER_) };
struct proto_error { PROTO_ERROR_FIELDS(PROTO_MEMBER_) };

struct proto_list_reply {
	PROTO_LIST_PAGE_FIELDS(PROTO_MEMBER_)
	union {
		struct proto_segment_entry segments[PROTO_LIST_PAGE];
		struct proto_lease_entry leases[PROTO_LIST_PAGE];
		struct proto_client_entry clients[PROTO_LIST_PAGE];
		struct proto_user_entry users[PROTO_LIST_PAGE];
	} e;
};

struct proto_msg {
	uint16_t op;     /* enum proto_op, | PROTO_REPLY_BIT for replies */
	uint16_t status; /* enum proto_status; always PROTO_OK in requests */
	uint32_t seq;    /* chosen by the client, echoed in the reply */
	union {
		struct proto_hello hello;
		struct proto_hello_reply hello_reply;
		struct proto_segment_req segment; /* CREATE DESTROY RESIZE STAT */
		struct proto_chmod chmod;
		struct proto_chown chown;
		struct proto_acquire acquire;
		struct proto_acquire_reply acquire_reply;
		struct proto_release release;
		struct proto_unmap unmap;             /* UNMAP request */
		struct proto_unmap_reply unmap_reply; /* UNMAP from the daemon */
		struct proto_cancel cancel;
		struct proto_reclaim reclaim;
		struct proto_stat_reply stat_reply;
		struct proto_status_reply status_reply;
		struct proto_list_req list;          /* LIST_* requests */
		struct proto_list_reply list_reply;  /* LIST_* replies; entries by op */
		struct proto_event event;
		struct proto_error error;
	} u;
};

/* Encode m into buf (capacity cap). Returns the encoded length (> 0), or
 * -EINVAL if m is not a valid message (unknown op, invalid name, ...),
 * -ENAMETOOLONG for a name over PROTO_NAME_MAX bytes, or -EMSGSIZE if cap is
 * too small. Encoding is strict so a client fails locally, before sending. */
int proto_encode(const struct proto_msg *m, uint8_t *buf, size_t cap);

/* Decode len bytes at buf into m. Decoding checks structure only; the daemon
 * checks meaning (name charset, flags, sizes, ranges) and answers with an
 * error reply. Returns 0, or:
 *   -EBADMSG       malformed: short header, length mismatch, nonzero reserved
 *                  bytes, truncated or trailing payload, NUL inside a string.
 *                  The daemon answers PROTO_E_PROTO and closes the connection.
 *   -EOPNOTSUPP    header well-formed but opcode unknown (m->op, m->seq set)
 *   -ENAMETOOLONG  well-formed but the name is longer than PROTO_NAME_MAX
 *                  (m->op, m->seq set)
 * When why is not NULL, *why is set to a static one-line reason on error.
 * Only the header and the payload struct of m's opcode (m->u's member for it)
 * are written, zeros first: the rest of m->u keeps what it held. */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m, const char **why);

/* Names: 1..255 bytes of printable ASCII (0x20..0x7e), not starting with '/'. */
bool proto_name_is_valid(const char *name, size_t len);
/* What is wrong with a name proto_name_is_valid() refuses, in words, into buf
 * (cap bytes): "the name is empty", "the name starts with '/'", "byte 0x1f at
 * position 3 is not printable ASCII", "the name is longer than 255 bytes".
 * Returns buf, or NULL when the name is valid. Not for hot paths. */
const char *proto_name_problem(const char *name, size_t len, char *buf, size_t cap);

/* Convenience constructors: fill m as an error reply to request req. */
void proto_make_error(struct proto_msg *m, const struct proto_msg *req,
		      enum proto_status status, const char *message);

int proto_status_to_errno(uint16_t status);       /* PROTO_OK -> 0, unknown -> -EPROTO */
enum proto_status proto_errno_to_status(int err); /* err is a negative errno */
const char *proto_status_name(uint16_t status);   /* "EBUSY"-style token, for logs and JSON */
const char *proto_op_name(uint16_t op);           /* "ACQUIRE", reply bit ignored; "?" if unknown */
/* What a status means, in words: the text shmbuf_strerror() gives for its
 * errno ("unknown status" when status is not in the table); and the same
 * text looked up by a negative errno, NULL if the wire has no status for it. */
const char *proto_status_text(uint16_t status);
const char *proto_errno_text(int err);

/* Resolve the default socket path exactly as shmbufd and libshmbuf do:
 * root -> /run/shmbuf/shmbufd.sock; others -> $XDG_RUNTIME_DIR/shmbuf/shmbufd.sock,
 * or /tmp/shmbuf-<uid>/shmbufd.sock when XDG_RUNTIME_DIR is unset or empty.
 * $SHMBUF_SOCKET, when set and non-empty, overrides all of these.
 * Returns 0, or -ENAMETOOLONG if it does not fit in cap bytes. */
int proto_default_socket_path(char *buf, size_t cap);

#endif
