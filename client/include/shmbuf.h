/* SPDX-License-Identifier: MIT */
/* shmbuf.h: the libshmbuf client API for shmbufd, the shared-memory buffer
 * service. Link with `pkg-config --cflags --libs shmbuf`.
 *
 * Every function that returns int returns 0 on success or a negative errno.
 * shmbuf_strerror() turns that into words.
 *
 * Threads: one shmbuf_client may be used by several threads at once. Each call
 * is one request/reply exchange; calls from different threads are pipelined on
 * the one connection, and a thread waiting in shmbuf_acquire() does not hold up
 * other threads' calls. shmbuf_disconnect() must not race with other calls on
 * the same client.
 *
 * Processes: a client belongs to the process that connected it. In a child
 * after fork() every call on an inherited client fails with -ECONNRESET
 * (so it can neither steal the parent's replies nor end its leases); the
 * child may only shmbuf_disconnect() it, and connects its own.
 *
 * Kept mappings: the library keeps, per segment name and access mode, the
 * segment's fd and a mapping of the whole object, so a view is a pointer into
 * memory already mapped (and already paged in), and an fd crosses the socket
 * once per segment and mode. When nothing uses them it keeps at most 64 such
 * (name, mode) entries, each with one open fd, dropping the least recently used
 * past that. The memory of a destroyed segment is let go at this client's next
 * call after its last lease ended, and everything at shmbuf_disconnect().
 *
 * Blocking: calls wait for the daemon's answer and are not interrupted by
 * signals (EINTR is retried). The daemon enforces acquire timeouts and always
 * answers; a daemon that dies makes every waiting call fail at once with
 * -ECONNRESET, but one that is stopped (SIGSTOP) and not dead is waited for.
 * A program built around an event loop acquires asynchronously instead
 * (shmbuf_get_fd(), shmbuf_acquire_async(), shmbuf_dispatch() below).
 *
 * Generations: each segment counts the write leases that ended on it, and a
 * view carries the generation of its range (shmbuf_acquire_newer() waits for
 * a newer one).
 *
 * Structs that grow: every struct the library fills for the caller (shmbuf_view,
 * shmbuf_stat_info, shmbuf_server_status, shmbuf_segment_info, shmbuf_lease_info,
 * shmbuf_client_info, shmbuf_event) is passed with a size argument, sizeof the
 * struct as the caller's program was compiled, like openat2()'s struct open_how:
 *  - fields are only ever added at the end of a struct, never removed, moved
 *    or retyped, so an older layout is always a prefix of a newer one;
 *  - the library writes exactly `size` bytes: the first min(size, its own
 *    sizeof) bytes of its answer, and zeroes past its own struct (fields the
 *    library does not know read 0). It never writes past `size`;
 *  - listings are arrays whose elements are `size` bytes apart, so index them
 *    with the same struct type whose size was passed;
 *  - size 0 is -EINVAL; for shmbuf_view (which the caller hands back to
 *    shmbuf_release()) size must be at least SHMBUF_VIEW_SIZE_VER0.
 * So a program built against an older shmbuf.h keeps working with a newer
 * library, and a newer program with an older library sees 0 in new fields.
 * Booleans that may grow into more states are bits of a `flags` field.
 */
#ifndef SHMBUF_H
#define SHMBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#include <shmbuf_version.h> /* SHMBUF_VERSION_MAJOR, _MINOR, _PATCH, _STRING, _HEX */

#if defined(SHMBUF_BUILDING) && defined(__GNUC__)
#define SHMBUF_EXPORT __attribute__((visibility("default")))
#else
#define SHMBUF_EXPORT
#endif

/* Longest segment name, in bytes. Names are 1 to 255 bytes of printable ASCII
 * (0x20-0x7e) not starting with '/'. They are keys, never paths: spaces and a
 * trailing '/' are allowed, and "a", "a/" and "a " are different names. A refused
 * name fails with -EINVAL (-ENAMETOOLONG) and shmbuf_last_error_detail() says why. */
#define SHMBUF_NAME_MAX 255

/* Flags for shmbuf_acquire(): exactly one of these. */
#define SHMBUF_READ 0x1u
#define SHMBUF_WRITE 0x2u

typedef struct shmbuf_client shmbuf_client;

/* shmbuf_view.flags */
#define SHMBUF_VIEW_READONLY 0x1u /* a SHMBUF_READ view: writes through data fault */

/* A mapped view of a byte range of a segment, filled by shmbuf_acquire(): a
 * pointer into the library's kept mapping of the segment. The memory stays
 * valid until shmbuf_release() (or shmbuf_disconnect()), even across a resize
 * or a destroy of the segment; after the release the library no longer points
 * anyone at it, and the range may be someone else's at once.
 * Grows at the end (see "Structs that grow" above). */
typedef struct shmbuf_view {
	void *data;        /* first requested byte */
	size_t len;        /* bytes from data */
	uint64_t offset;   /* offset of data within the segment */
	uint64_t lease_id; /* the daemon's id for this lease, unique per daemon */
	uint32_t flags;    /* SHMBUF_VIEW_* */
	uint64_t generation; /* the range's write generation when granted: the newest
			      * generation that wrote any of its bytes, 0 if none did */
} shmbuf_view;

/* The smallest size shmbuf_acquire() and shmbuf_release() take: shmbuf_view as in 0.1. */
#define SHMBUF_VIEW_SIZE_VER0 (offsetof(shmbuf_view, flags) + sizeof(uint32_t))

/* Filled by shmbuf_stat(). Grows at the end. */
typedef struct shmbuf_stat_info {
	uint64_t size;         /* bytes */
	unsigned mode;         /* permission bits (create, or shmbuf_chmod()) */
	uid_t uid;             /* owner: the creator, or as shmbuf_chown() set it */
	gid_t gid;             /* group: the creator's primary gid, or as set */
	uint32_t read_leases;  /* read leases held now */
	uint32_t write_leases; /* write leases held now */
	uint32_t waiters;      /* acquire requests waiting */
	uint64_t generation;   /* write leases ended on the segment so far */
} shmbuf_stat_info;

/* The system service's socket (shmbufd.socket). */
#define SHMBUF_SYSTEM_SOCKET "/run/shmbuf/shmbufd.sock"

/* Connect to shmbufd. socket_path NULL means $SHMBUF_SOCKET when set, else the
 * default: /run/shmbuf/shmbufd.sock for root, $XDG_RUNTIME_DIR/shmbuf/shmbufd.sock
 * for other users (/tmp/shmbuf-<uid>/shmbufd.sock when XDG_RUNTIME_DIR is unset);
 * when no daemon listens at a user's default, the system service's socket
 * SHMBUF_SYSTEM_SOCKET is tried next.
 * Returns 0, -ENOENT / -ECONNREFUSED when no daemon listens there, -EACCES when
 * the socket's permissions refuse us, -EDQUOT when the daemon's connection
 * limit is reached, -EPROTONOSUPPORT when the daemon speaks no common protocol
 * version, -EINVAL / -ENAMETOOLONG for an empty or too long socket_path. */
SHMBUF_EXPORT int shmbuf_connect(const char *socket_path, shmbuf_client **out);

/* Write the socket path shmbuf_connect(NULL, ...) tries first into buf (size
 * bytes): $SHMBUF_SOCKET when set, else the per-user or root default described
 * above. Returns 0, -EINVAL for a NULL buf or size 0, -ENAMETOOLONG when the
 * path does not fit. */
SHMBUF_EXPORT int shmbuf_default_socket_path(char *buf, size_t size);

/* Close the connection (NULL is ignored). The daemon releases every lease this client still
 * holds, and the library unmaps those views and every kept mapping, and closes the kept fds:
 * data pointers of views become invalid. */
SHMBUF_EXPORT void shmbuf_disconnect(shmbuf_client *c);

/* Create a segment of size bytes (> 0). mode: permission bits (<= 0777), as for files.
 * Returns 0, -EEXIST name taken, -EINVAL bad name/size/mode, -ENOSPC byte limit
 * or memory exhausted, -EDQUOT segment count limit. */
SHMBUF_EXPORT int shmbuf_create(shmbuf_client *c, const char *name, uint64_t size, unsigned mode);
/* OR'ed into shmbuf_create()'s mode: a segment of fixed size, which the kernel
 * pins (a sealed memfd): no holder of its fd can shrink or grow it, so no
 * reader takes SIGBUS; shmbuf_resize() on it fails with -EPERM. */
#define SHMBUF_SEALED 0x10000u

/* Remove the name at once; the memory goes when the last lease is released.
 * Waiting acquires fail with -ENOENT. Returns 0, -ENOENT no such segment (or
 * one this user may not see), -EPERM not its owner (nor root). */
SHMBUF_EXPORT int shmbuf_destroy(shmbuf_client *c, const char *name);

/* Change the size. Growing always works (within limits); shrinking below a
 * leased byte fails with -EBUSY. Existing views stay valid.
 * Returns 0, -ENOENT no such segment, -EBUSY, -ENOSPC / -EINVAL as for create. */
SHMBUF_EXPORT int shmbuf_resize(shmbuf_client *c, const char *name, uint64_t size);

/* Segments are checked like files: the owner's, group's or others' bits of the
 * mode for read (acquire read) and write (acquire write, resize); only the
 * owner destroys, chmods and chowns; root and the daemon's uid pass. A segment
 * this user may not see at all answers -ENOENT, as a missing one.
 *
 * Change the permission bits (<= 0777). Returns 0, -EINVAL, -ENOENT, -EPERM
 * not its owner. Leases held and mappings kept are not taken back. */
SHMBUF_EXPORT int shmbuf_chmod(shmbuf_client *c, const char *name, unsigned mode);
/* Change the owner and group; (uid_t)-1 / (gid_t)-1 leave one as it is. Only
 * root gives a segment to another user; the owner may pick a group it is in.
 * Returns 0, -EINVAL, -ENOENT, -EPERM. */
SHMBUF_EXPORT int shmbuf_chown(shmbuf_client *c, const char *name, uid_t uid, gid_t gid);

/* Lease and map [offset, offset+length) of a segment; length 0 means to the end.
 * flags: SHMBUF_READ (shared; the mapping is read-only, enforced by the kernel)
 * or SHMBUF_WRITE (exclusive over its range). Offsets need not be page-aligned.
 * timeout_ms: 0 fail at once with -EBUSY on conflict, -1 wait as long as it
 * takes, > 0 wait at most that long (-ETIMEDOUT). Waiters are served in arrival order.
 * -ENOENT no such segment (or one this user may not see), -EACCES its mode
 * refuses this user that access, -ERANGE range outside the segment or overflowing,
 * -EDQUOT lease count limit (per client or per segment), -EMFILE this process
 * has no descriptor free to receive the segment (the lease is given back; a
 * segment and mode whose fd the library already keeps needs none).
 * out receives the view; size: sizeof *out (at least SHMBUF_VIEW_SIZE_VER0, else -EINVAL).
 * Returns 0 with *out filled, or a negative errno with nothing mapped or leased. */
SHMBUF_EXPORT int shmbuf_acquire(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length,
				 unsigned flags, int timeout_ms, shmbuf_view *out, size_t size);

/* Wait for news, then lease and map: as shmbuf_acquire(), but granted only
 * once a write lease overlapping the range has ended after generation `after`
 * (the range's generation, view.generation, is above it) and the range is
 * free for flags. A consumer loops acquire_newer(..., last) -> read ->
 * release with last = the view's generation: it never sees a generation twice
 * and never misses one that came while it was not waiting. While the range has
 * no news the request blocks no one (a writer asking for the range after it
 * is granted at once); once it has, it queues in arrival order like any other.
 * timeout_ms as for shmbuf_acquire(), but with 0 and no news yet: -EAGAIN.
 * Returns 0 with *out filled, or the errors of shmbuf_acquire(). */
SHMBUF_EXPORT int shmbuf_acquire_newer(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length,
				       unsigned flags, uint64_t after, int timeout_ms, shmbuf_view *out, size_t size);

/* End the view's lease; size: sizeof *v, as given to shmbuf_acquire().
 * The view is checked locally, forgotten by the library and zeroed (size
 * bytes), and the RELEASE goes out without waiting for the daemon's answer
 * (a refusal, which only a bug can cause, is counted by
 * shmbuf_release_errors()). The memory stays mapped in the library's cache
 * for the next lease, but the range may be granted to a writer at once:
 * never touch v->data after calling this.
 * Ordering: the daemon handles this client's requests in order, so its later
 * calls see the lease ended. Another process told by other means (a pipe) that
 * it ended may still find it held for a moment: it should acquire with a
 * timeout, or this client makes a call that waits (such as shmbuf_stat())
 * before telling it.
 * Returns 0, -ENOENT when the view was already released or never acquired on
 * this client, -EINVAL for a NULL argument or a size below
 * SHMBUF_VIEW_SIZE_VER0, -ECONNRESET when the connection is lost (the view is
 * forgotten all the same; the daemon ends the lease with the connection) or
 * in a child after fork() (then the view stays, and the lease the parent's). */
SHMBUF_EXPORT int shmbuf_release(shmbuf_client *c, shmbuf_view *v, size_t size);

/* ---- Asynchronous acquires (for event loops) ------------------------------
 * Start an acquire, return at once, and learn its outcome from a callback run
 * by shmbuf_dispatch(), in the style of libseat: poll shmbuf_get_fd() for
 * readability, then call shmbuf_dispatch(). Callbacks run only from
 * shmbuf_dispatch(), in the order the operations completed, on the thread
 * that calls it. The other calls stay blocking (release does not wait) and may
 * be made from any thread, the callbacks included; an asynchronous acquire's
 * answer read by another thread's blocking call is queued for dispatch all
 * the same. Operations still pending at shmbuf_disconnect() are dropped
 * without their callbacks. */

/* Called from shmbuf_dispatch() once per started operation. result: 0 with
 * view filled (valid during the call: copy it to keep it, release it with
 * shmbuf_release(c, view, sizeof(shmbuf_view)) or a copy), else a negative
 * errno as shmbuf_acquire() returns, -ECANCELED after shmbuf_cancel(), or
 * -ECONNRESET when the connection was lost; view is then NULL. */
typedef void shmbuf_acquire_cb(shmbuf_client *c, int result, shmbuf_view *view, void *userdata);

/* A descriptor that is readable whenever shmbuf_dispatch() has something to
 * do (an answer arrived, or data waits on the connection). Owned by the
 * client: do not close it; it stays the same until shmbuf_disconnect().
 * Returns the fd (>= 0), or -ENOMEM / -EMFILE, -EINVAL for NULL. */
SHMBUF_EXPORT int shmbuf_get_fd(shmbuf_client *c);

/* Start shmbuf_acquire() (arguments as there) without waiting; *ticket (when
 * not NULL) names it for shmbuf_cancel(). cb runs later from shmbuf_dispatch()
 * with the outcome, exactly once unless the client is disconnected first.
 * Returns 0 (started), or -EINVAL (bad arguments, NULL cb), -ENOMEM,
 * -ECONNRESET: then cb never runs. */
SHMBUF_EXPORT int shmbuf_acquire_async(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length,
				       unsigned flags, int timeout_ms, shmbuf_acquire_cb *cb, void *userdata,
				       uint64_t *ticket);
/* The same for shmbuf_acquire_newer(). */
SHMBUF_EXPORT int shmbuf_acquire_newer_async(shmbuf_client *c, const char *name, uint64_t offset, uint64_t length,
					     unsigned flags, uint64_t after, int timeout_ms, shmbuf_acquire_cb *cb,
					     void *userdata, uint64_t *ticket);

/* Cancel a started operation whose callback has not run yet: the daemon ends
 * its wait (a later release does not grant it), and its callback reports
 * -ECANCELED (a grant that crossed the cancel is given back first). Blocks for
 * one round trip at most. Returns 0, -ENOENT unknown ticket (or its callback
 * ran already), -ECONNRESET. */
SHMBUF_EXPORT int shmbuf_cancel(shmbuf_client *c, uint64_t ticket);

/* Read what has arrived, without blocking, and run the callbacks of the
 * operations completed so far. Returns how many callbacks ran (>= 0), or
 * -ECONNRESET once the connection is lost (after running the callbacks of the
 * operations that lost it), -EINVAL for NULL. */
SHMBUF_EXPORT int shmbuf_dispatch(shmbuf_client *c);

/* How many releases of this client the daemon refused so far. shmbuf_release()
 * does not wait for the daemon; its refusal (which means a bug in the library
 * or the daemon) arrives later and is counted here. 0 for NULL. */
SHMBUF_EXPORT uint64_t shmbuf_release_errors(shmbuf_client *c);

/* How many times this client reconnected by itself (0.2). When the daemon goes away
 * (a crash, a restart) the library connects again (backoff, at most 30 s, or
 * $SHMBUF_RECONNECT_TIMEOUT seconds), RECLAIMs the views it holds, and sends
 * again the acquires that were waiting: calls see latency, not an error. Views
 * stay mapped. A view whose lease did not survive (the daemon came back without
 * its segment, --fresh, or the grace period ended first) is released with
 * -ESTALE, and an acquire waiting across the restart for a segment that is gone
 * fails with -ESTALE. SHMBUF_RECONNECT=0 in the environment at connect turns
 * this off: a broken connection then fails every call with -ECONNRESET. */
SHMBUF_EXPORT uint64_t shmbuf_reconnects(shmbuf_client *c);

/* Size, mode, owner and lease counts of a segment, into *out (size: sizeof *out).
 * Returns 0, -ENOENT no such segment, -EINVAL NULL out or size 0. */
SHMBUF_EXPORT int shmbuf_stat(shmbuf_client *c, const char *name, shmbuf_stat_info *out, size_t size);

/* A static English description of err (a negative errno from this API); never NULL. */
SHMBUF_EXPORT const char *shmbuf_strerror(int err);

/* The daemon's own words for the last failed call made by this thread (for
 * example "offset 4096 + length 8192 exceeds segment size 8192"; a BUSY names
 * the lease, pid and command that holds the range), the library's words for a
 * segment name it refused itself, or "" for other local failures. Valid until
 * this thread's next call. */
SHMBUF_EXPORT const char *shmbuf_last_error_detail(void);

/* The library's version string, e.g. "0.2.0" (the version macros above are the header's). */
SHMBUF_EXPORT const char *shmbuf_version(void);


/* ---- Introspection (what shmbufctl shows) ------------------------------- */

/* Longest process name (comm) in a listing or event, in bytes. */
#define SHMBUF_COMM_MAX 16
/* Longest daemon version string in shmbuf_server_status, in bytes. */
#define SHMBUF_VERSION_STR_MAX 32
/* Longest socket path in shmbuf_server_status, in bytes. */
#define SHMBUF_SOCKET_PATH_MAX 255

/* Filled by shmbuf_server_status_get(). Grows at the end. */
typedef struct shmbuf_server_status {
	char version[SHMBUF_VERSION_STR_MAX + 1];      /* shmbufd's version */
	char socket_path[SHMBUF_SOCKET_PATH_MAX + 1];  /* where it listens */
	pid_t pid;
	uint64_t started_ns;    /* CLOCK_REALTIME, ns since the epoch */
	uint64_t uptime_ns;
	uint64_t bytes, max_bytes;          /* segment bytes in use (destroyed-but-leased included) */
	uint32_t segments, max_segments;
	uint32_t clients, max_clients;
	uint32_t read_leases, write_leases, waiters;
	/* Restarts (0.2): daemons that ran on this state record before this one; while
	 * grace_left_ms > 0, leases held before the restart (orphans) still wait for
	 * their holders, and nothing conflicting with one is granted. reclaimed and
	 * lost: what became of those leases since this start (lost: their segment is
	 * gone, their holder died, or the grace ended). */
	uint32_t restarts;
	uint32_t grace_left_ms;
	uint32_t orphans, reclaimed_leases, lost_leases;
} shmbuf_server_status;

/* shmbuf_segment_info.flags */
#define SHMBUF_SEGMENT_DESTROYED 0x1u /* name removed, memory kept alive by leases */
#define SHMBUF_SEGMENT_SEALED 0x2u    /* created with SHMBUF_SEALED: its size is fixed */

/* One entry of shmbuf_list_segments(). Grows at the end. */
typedef struct shmbuf_segment_info {
	char name[SHMBUF_NAME_MAX + 1];
	uint64_t id;            /* increases with creation */
	uint64_t size;
	uint64_t created_ns;    /* CLOCK_REALTIME */
	unsigned mode;
	uid_t uid;              /* owner */
	gid_t gid;              /* group */
	pid_t pid;              /* creator */
	uint32_t read_leases, write_leases, waiters;
	uint32_t flags;         /* SHMBUF_SEGMENT_* */
	uint64_t generation;    /* write leases ended on it so far */
} shmbuf_segment_info;

/* shmbuf_lease_info.flags and shmbuf_event.flags */
#define SHMBUF_LEASE_WRITE 0x1u             /* a write lease (else a read lease) */
#define SHMBUF_LEASE_WAITING 0x2u           /* requested, not granted yet (listings only) */
#define SHMBUF_LEASE_SEGMENT_DESTROYED 0x4u /* its segment's name is removed (listings only) */

/* One entry of shmbuf_list_leases(). Grows at the end. */
typedef struct shmbuf_lease_info {
	uint64_t lease_id;
	uint64_t client_id;
	char segment[SHMBUF_NAME_MAX + 1];
	uint64_t offset, length;
	uint32_t flags;         /* SHMBUF_LEASE_* */
	uint64_t age_ns;        /* since granted (or requested, while waiting) */
	pid_t pid;              /* holder's credentials at connect time */
	uid_t uid;
	char comm[SHMBUF_COMM_MAX + 1];
	uint64_t blocked_by;    /* SHMBUF_LEASE_WAITING: the lease (held or waited for ahead
				 * of it) that holds this request up now; else 0 */
} shmbuf_lease_info;

/* shmbuf_client_info.flags */
#define SHMBUF_CLIENT_SELF 0x1u       /* this connection */
#define SHMBUF_CLIENT_SUBSCRIBED 0x2u /* receives events */

/* One entry of shmbuf_list_clients(). Grows at the end. */
typedef struct shmbuf_client_info {
	uint64_t client_id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[SHMBUF_COMM_MAX + 1];
	uint32_t leases;        /* held */
	uint32_t waiting;       /* acquires waiting */
	uint64_t age_ns;        /* since connected */
	uint32_t flags;         /* SHMBUF_CLIENT_* */
} shmbuf_client_info;

/* shmbuf_user_info.flags */
#define SHMBUF_USER_EXEMPT 0x1u /* root or the daemon's uid: no per-user quota; the max_* are the daemon's */

/* One entry of shmbuf_list_users(): what one uid uses against its quotas.
 * Grows at the end. */
typedef struct shmbuf_user_info {
	uid_t uid;
	uint32_t flags;                         /* SHMBUF_USER_* */
	uint32_t connections, max_connections;
	uint32_t segments, max_segments;        /* owned (charged to the owner, connected or not) */
	uint32_t leases, max_leases;            /* held and waiting; max_leases 0: no per-user limit */
	uint64_t bytes, max_bytes;              /* of the segments it owns */
} shmbuf_user_info;

/* Daemon-wide figures into *out (size: sizeof *out). Returns 0, -EINVAL for
 * NULL out or size 0, or the connection's errors. */
SHMBUF_EXPORT int shmbuf_server_status_get(shmbuf_client *c, shmbuf_server_status *out, size_t size);

/* Listings: *out is an array of *count entries of `size` bytes each (size:
 * sizeof **out, the array's stride), allocated by the library, to be freed
 * with shmbuf_free() (NULL and 0 entries when empty). Large listings are
 * fetched page by page, so they are not one atomic snapshot. Return 0,
 * -EINVAL for NULL out or count or size 0, -ENOMEM when out of memory. */
SHMBUF_EXPORT int shmbuf_list_segments(shmbuf_client *c, shmbuf_segment_info **out, size_t *count, size_t size);
/* name NULL: every lease; else only that segment's (-ENOENT if there is no such segment). */
SHMBUF_EXPORT int shmbuf_list_leases(shmbuf_client *c, const char *name, shmbuf_lease_info **out, size_t *count,
				     size_t size);
SHMBUF_EXPORT int shmbuf_list_clients(shmbuf_client *c, shmbuf_client_info **out, size_t *count, size_t size);
/* Users by uid: every user that uses anything for root (and the daemon's uid), the
 * caller's own entry for others. Listings of segments and leases show only the
 * segments the caller may see; of clients, the caller's own uid's connections. */
SHMBUF_EXPORT int shmbuf_list_users(shmbuf_client *c, shmbuf_user_info **out, size_t *count, size_t size);
/* Frees a listing; NULL is ignored. */
SHMBUF_EXPORT void shmbuf_free(void *p);

typedef enum shmbuf_event_type {
	SHMBUF_EVENT_SEGMENT_CREATED = 1,
	SHMBUF_EVENT_SEGMENT_RESIZED = 2,
	SHMBUF_EVENT_SEGMENT_DESTROYED = 3,
	SHMBUF_EVENT_SEGMENT_FREED = 4,
	SHMBUF_EVENT_LEASE_ACQUIRED = 5,
	SHMBUF_EVENT_LEASE_RELEASED = 6,
	SHMBUF_EVENT_LEASE_WAITING = 7,
	SHMBUF_EVENT_LEASE_CANCELLED = 8,
	SHMBUF_EVENT_CLIENT_CONNECTED = 9,
	SHMBUF_EVENT_CLIENT_DISCONNECTED = 10
} shmbuf_event_type;

/* What shmbuf_next_event() fills. Grows at the end. */
typedef struct shmbuf_event {
	int type;               /* shmbuf_event_type; newer daemons may send types not listed */
	uint64_t time_ns;       /* CLOCK_REALTIME */
	uint64_t client_id;     /* lease events: the holder or waiter; segment events: the caller
				 * (0 for SEGMENT_FREED); client events: that client. pid, uid
				 * and comm describe the same client. */
	pid_t pid;
	uid_t uid;
	char comm[SHMBUF_COMM_MAX + 1];
	char segment[SHMBUF_NAME_MAX + 1]; /* "" for client events */
	uint64_t size;          /* segment and lease events: the segment's size */
	uint64_t lease_id, offset, length; /* lease events */
	uint32_t flags;         /* lease events: SHMBUF_LEASE_WRITE */
	uint32_t reason;        /* SHMBUF_EVENT_LEASE_CANCELLED: SHMBUF_CANCEL_*; else 0 */
} shmbuf_event;

/* shmbuf_event.reason: why a wait ended without a lease. Newer daemons may send
 * values not listed; 0 from a daemon that does not say. */
#define SHMBUF_CANCEL_TIMEOUT 1    /* its timeout_ms passed */
#define SHMBUF_CANCEL_DESTROY 2    /* its segment was destroyed */
#define SHMBUF_CANCEL_SHRINK 3     /* a resize cut its range */
#define SHMBUF_CANCEL_DISCONNECT 4 /* its client disconnected */
#define SHMBUF_CANCEL_CANCEL 5     /* its client gave up on it */

/* Ask the daemon to send this client an event for every change from now on.
 * Events queue in the library until read with shmbuf_next_event(); a client
 * that does not read them is eventually disconnected by the daemon.
 * Returns 0, or the daemon's or the connection's errors. */
SHMBUF_EXPORT int shmbuf_subscribe(shmbuf_client *c);

/* Wait up to timeout_ms (-1: forever, 0: poll) for the next event, into *out
 * (size: sizeof *out). Returns 0, -ETIMEDOUT none came, -ECONNRESET connection
 * lost, -EINVAL not subscribed (or NULL out, size 0, timeout_ms < -1). */
SHMBUF_EXPORT int shmbuf_next_event(shmbuf_client *c, shmbuf_event *out, size_t size, int timeout_ms);

/* Events the library holds for shmbuf_next_event() at most; past this the oldest go. */
#define SHMBUF_EVENT_QUEUE_MAX 4096

/* How many events this client has lost so far because more than SHMBUF_EVENT_QUEUE_MAX were
 * waiting unread in the library (the oldest go first). 0 for NULL. */
SHMBUF_EXPORT uint64_t shmbuf_events_dropped(shmbuf_client *c);

/* A short name for an event type ("lease-acquired"), "unknown" if not known. */
SHMBUF_EXPORT const char *shmbuf_event_name(int type);

#ifdef __cplusplus
}
#endif

#endif
