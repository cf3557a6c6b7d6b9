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
 */
#ifndef SHMBUF_PROTO_H
#define SHMBUF_PROTO_H

/* These internal functions are linked into libshmbuf.a too, where hidden
 * visibility does not keep them out of an application's namespace: give them
 * the library's prefix so they cannot clash with the application's own. */
#define proto_encode shmbuf__proto_encode
#define proto_decode shmbuf__proto_decode
#define proto_name_is_valid shmbuf__proto_name_is_valid
#define proto_make_error shmbuf__proto_make_error
#define proto_status_to_errno shmbuf__proto_status_to_errno
#define proto_errno_to_status shmbuf__proto_errno_to_status
#define proto_status_name shmbuf__proto_status_name
#define proto_op_name shmbuf__proto_op_name
#define proto_default_socket_path shmbuf__proto_default_socket_path

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC 0x424d4853u /* "SHMB" read as a little-endian u32 */
#define PROTO_VERSION 1

#define PROTO_HEADER_SIZE 16
/* Largest datagram either side ever sends. Requests are far smaller; the
 * daemon may enforce a lower limit on what it accepts (--max-message). */
#define PROTO_MAX_MESSAGE 65536
#define PROTO_NAME_MAX 255
#define PROTO_ERRMSG_MAX 200
#define PROTO_VERSION_STR_MAX 32

/* Reply opcodes are the request opcode with this bit set. */
#define PROTO_REPLY_BIT 0x8000u

enum proto_op {
	PROTO_OP_HELLO = 1,
	PROTO_OP_CREATE = 2,
	PROTO_OP_DESTROY = 3,
	PROTO_OP_RESIZE = 4,
	PROTO_OP_ACQUIRE = 5,
	PROTO_OP_RELEASE = 6,
	PROTO_OP_STAT = 7,
	/* Introspection, for shmbufctl and monitoring. */
	PROTO_OP_STATUS = 8,
	PROTO_OP_LIST_SEGMENTS = 9,
	PROTO_OP_LIST_LEASES = 10,
	PROTO_OP_LIST_CLIENTS = 11,
	PROTO_OP_SUBSCRIBE = 12,
	/* Sent by the daemon only, unasked, to subscribed clients: always with
	 * PROTO_REPLY_BIT set, seq 0 and status PROTO_OK. */
	PROTO_OP_EVENT = 64,
};

/* Entries per LIST_* reply page. A listing is a series of requests, each
 * carrying the cursor the previous reply returned (0 to start). */
#define PROTO_LIST_PAGE 16
#define PROTO_COMM_MAX 16 /* /proc/<pid>/comm */

/* Acquire flags on the wire: exactly one of READ or WRITE. */
#define PROTO_ACQ_READ 0x1u
#define PROTO_ACQ_WRITE 0x2u

/* The wire's own error table. Never the host's errno numbers; mapped at the
 * edge with proto_status_to_errno() / proto_errno_to_status(). */
enum proto_status {
	PROTO_OK = 0,
	PROTO_E_PROTO = 1,        /* malformed message or out-of-order request -> -EPROTO */
	PROTO_E_VERSION = 2,      /* no common protocol version -> -EPROTONOSUPPORT */
	PROTO_E_NOTSUP = 3,       /* unknown opcode -> -EOPNOTSUPP */
	PROTO_E_NOENT = 4,        /* no such segment or lease -> -ENOENT */
	PROTO_E_EXIST = 5,        /* segment name taken -> -EEXIST */
	PROTO_E_BUSY = 6,         /* conflicting lease, or segment leased -> -EBUSY */
	PROTO_E_ACCES = 7,        /* permission denied -> -EACCES */
	PROTO_E_INVAL = 8,        /* bad argument (name, flags, size, timeout) -> -EINVAL */
	PROTO_E_RANGE = 9,        /* offset/length outside the segment or overflowing -> -ERANGE */
	PROTO_E_TIMEDOUT = 10,    /* wait for a lease timed out -> -ETIMEDOUT */
	PROTO_E_NOSPC = 11,       /* byte limit reached or no memory for shm -> -ENOSPC */
	PROTO_E_LIMIT = 12,       /* segment/lease/connection count limit -> -EDQUOT */
	PROTO_E_MSGSIZE = 13,     /* message larger than the daemon accepts -> -EMSGSIZE */
	PROTO_E_BADFD = 14,       /* client sent a file descriptor -> -EBADMSG */
	PROTO_E_INTERNAL = 15,    /* daemon-side failure -> -EIO */
	PROTO_E_PERM = 16,        /* operation not permitted -> -EPERM */
	PROTO_E_NAMETOOLONG = 17, /* name longer than 255 bytes -> -ENAMETOOLONG */
	PROTO_STATUS_COUNT
};

/* HELLO: the first request on every connection. */
struct proto_hello {
	uint32_t magic;
	uint16_t min_version;
	uint16_t max_version;
};

struct proto_hello_reply {
	uint16_t version;     /* chosen version */
	uint32_t max_message; /* largest request the daemon accepts */
	uint32_t server_pid;
	char server_version[PROTO_VERSION_STR_MAX + 1]; /* NUL-terminated */
};

/* CREATE, DESTROY, RESIZE, STAT requests: a segment name and, where the
 * opcode uses them, a size and a mode. Unused fields are zero on the wire. */
struct proto_segment_req {
	uint64_t size; /* CREATE, RESIZE */
	uint32_t mode; /* CREATE: permission bits, <= 0777 */
	char name[PROTO_NAME_MAX + 1]; /* NUL-terminated, validated */
};

struct proto_acquire {
	uint64_t offset;
	uint64_t length; /* 0: to the end of the segment */
	uint32_t flags;  /* PROTO_ACQ_READ or PROTO_ACQ_WRITE */
	int32_t timeout_ms; /* 0: fail at once, -1: wait, >0: wait at most */
	char name[PROTO_NAME_MAX + 1];
};

/* ACQUIRE reply: one file descriptor travels with it (SCM_RIGHTS). */
struct proto_acquire_reply {
	uint64_t lease_id;
	uint64_t offset;
	uint64_t length; /* resolved, never 0 */
	uint64_t segment_size;
	uint32_t flags;
};

struct proto_release {
	uint64_t lease_id;
};

struct proto_stat_reply {
	uint64_t size;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t read_leases;
	uint32_t write_leases;
	uint32_t waiters;
};

struct proto_status_reply {
	uint32_t server_pid;
	uint64_t started_ns; /* CLOCK_REALTIME, ns since the epoch */
	uint64_t uptime_ns;
	uint64_t bytes;      /* in use, destroyed-but-leased segments included */
	uint64_t max_bytes;
	uint32_t segments;   /* likewise */
	uint32_t max_segments;
	uint32_t clients;
	uint32_t max_clients;
	uint32_t read_leases;
	uint32_t write_leases;
	uint32_t waiters;
	char server_version[PROTO_VERSION_STR_MAX + 1];
	char socket_path[PROTO_NAME_MAX + 1];
};

/* LIST_SEGMENTS, LIST_LEASES, LIST_CLIENTS request. */
struct proto_list_req {
	uint64_t cursor;                /* 0: from the start; else a reply's next_cursor */
	char name[PROTO_NAME_MAX + 1];  /* LIST_LEASES: only this segment's; "" = all. Others: "" */
};

#define PROTO_SEG_DESTROYED 0x1u /* name removed, memory kept by leases */

struct proto_segment_entry {
	uint64_t id;          /* daemon-wide, increasing with creation */
	uint64_t size;
	uint64_t created_ns;  /* CLOCK_REALTIME */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;         /* creator */
	uint32_t read_leases;
	uint32_t write_leases;
	uint32_t waiters;
	uint32_t flags;       /* PROTO_SEG_* */
	char name[PROTO_NAME_MAX + 1];
};

#define PROTO_LEASE_WRITE 0x1u   /* else read */
#define PROTO_LEASE_WAITING 0x2u /* requested, not granted yet */

struct proto_lease_entry {
	uint64_t id;
	uint64_t client_id;
	uint64_t offset;
	uint64_t length;
	uint64_t age_ns;      /* since granted, or since requested when waiting */
	uint32_t flags;       /* PROTO_LEASE_* */
	uint32_t pid;
	uint32_t uid;
	uint32_t segment_flags; /* PROTO_SEG_* of the segment */
	char comm[PROTO_COMM_MAX + 1];
	char segment[PROTO_NAME_MAX + 1];
};

struct proto_client_entry {
	uint64_t id;          /* daemon-wide, increasing with connection */
	uint64_t age_ns;      /* since connected */
	uint32_t pid;
	uint32_t uid;
	uint32_t gid;
	uint32_t leases;      /* held */
	uint32_t waiting;
	uint32_t flags;       /* PROTO_CLIENT_* */
	char comm[PROTO_COMM_MAX + 1];
};

#define PROTO_CLIENT_SELF 0x1u       /* the connection that asked */
#define PROTO_CLIENT_SUBSCRIBED 0x2u

/* One page of a listing. next_cursor 0: this was the last page. */
struct proto_list_reply {
	uint64_t next_cursor;
	uint32_t count; /* <= PROTO_LIST_PAGE */
	union {
		struct proto_segment_entry segments[PROTO_LIST_PAGE];
		struct proto_lease_entry leases[PROTO_LIST_PAGE];
		struct proto_client_entry clients[PROTO_LIST_PAGE];
	} e;
};

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

struct proto_event {
	uint16_t type;        /* enum proto_event_type; unknown types are decoded, not rejected */
	uint64_t time_ns;     /* CLOCK_REALTIME */
	uint64_t client_id;   /* LEASE_*: the holder or waiter; SEGMENT_*: the caller (0 for FREED); CLIENT_*: that client */
	uint64_t lease_id;    /* LEASE_* events */
	uint64_t offset;      /* LEASE_* events */
	uint64_t length;      /* LEASE_* events */
	uint64_t size;        /* SEGMENT_* and LEASE_* events: the segment's size */
	uint32_t flags;       /* LEASE_*: PROTO_LEASE_WRITE */
	uint32_t pid;
	uint32_t uid;
	char comm[PROTO_COMM_MAX + 1];
	char segment[PROTO_NAME_MAX + 1]; /* "" for CLIENT_* events */
};

/* Any reply with status != PROTO_OK carries only this. */
struct proto_error {
	char message[PROTO_ERRMSG_MAX + 1];
};

struct proto_msg {
	uint16_t op;     /* enum proto_op, | PROTO_REPLY_BIT for replies */
	uint16_t status; /* enum proto_status; always PROTO_OK in requests */
	uint32_t seq;    /* chosen by the client, echoed in the reply */
	union {
		struct proto_hello hello;
		struct proto_hello_reply hello_reply;
		struct proto_segment_req segment; /* CREATE DESTROY RESIZE STAT */
		struct proto_acquire acquire;
		struct proto_acquire_reply acquire_reply;
		struct proto_release release;
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
 * When why is not NULL, *why is set to a static one-line reason on error. */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *m, const char **why);

/* Names: 1..255 bytes of printable ASCII (0x20..0x7e), not starting with '/'. */
bool proto_name_is_valid(const char *name, size_t len);

/* Convenience constructors: fill m as an error reply to request req. */
void proto_make_error(struct proto_msg *m, const struct proto_msg *req,
		      enum proto_status status, const char *message);

int proto_status_to_errno(uint16_t status);       /* PROTO_OK -> 0, unknown -> -EPROTO */
enum proto_status proto_errno_to_status(int err); /* err is a negative errno */
const char *proto_status_name(uint16_t status);   /* "EBUSY"-style token, for logs and JSON */
const char *proto_op_name(uint16_t op);           /* "ACQUIRE", reply bit ignored; "?" if unknown */

/* Resolve the default socket path exactly as shmbufd and libshmbuf do:
 * root -> /run/shmbuf/shmbufd.sock; others -> $XDG_RUNTIME_DIR/shmbuf/shmbufd.sock,
 * or /tmp/shmbuf-<uid>/shmbufd.sock when XDG_RUNTIME_DIR is unset or empty.
 * $SHMBUF_SOCKET, when set and non-empty, overrides all of these.
 * Returns 0, or -ENAMETOOLONG if it does not fit in cap bytes. */
int proto_default_socket_path(char *buf, size_t cap);

#endif
