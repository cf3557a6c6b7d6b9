/* server.h: the one server object: listening socket, segments, leases, connections, limits. */
#ifndef SHMBUFD_SERVER_H
#define SHMBUFD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/un.h>
#include <uthash.h>
#include <uv.h>

#include "conn.h"
#include "lease.h"
#include "segment.h"

struct server_limits {
	uint64_t max_bytes;          /* sum of segment sizes, destroyed-but-leased included */
	uint32_t max_segments;       /* live and destroyed-but-leased */
	uint32_t max_connections;
	uint32_t max_user_connections; /* per uid: one user cannot lock everyone else out */
	uint32_t max_leases;         /* per connection, held plus waiting */
	uint32_t max_segment_leases; /* per segment, held plus waiting: bounds every per-segment scan */
	uint32_t max_message;        /* largest request accepted, bytes */
	uint32_t max_queue;          /* replies queued for a slow client before it is dropped */
	uint32_t handshake_timeout_s; /* a connection that has not said HELLO by then is dropped */
};

struct server_config {
	const char *socket_path;     /* NULL: proto_default_socket_path() */
	unsigned socket_mode;        /* permission bits of a socket we create */
	bool prealloc;               /* reserve segment memory at create/grow */
	struct server_limits limits;
};

/* A lease held or waited for by a connection. Owned by its connection
 * (conn->grants); also indexed by id in server->grants and linked into its
 * segment's lease_set through .lease. */
struct grant {
	struct lease lease;
	uint64_t id;
	struct segment *seg; /* counted in seg->refs */
	struct conn *conn;
	uint32_t seq;        /* ACQUIRE request to answer while waiting */
	uint64_t since_ns;   /* CLOCK_MONOTONIC: requested, then granted */
	bool has_timer;
	uv_timer_t timer;    /* wait deadline; data = grant */
	TAILQ_ENTRY(grant) conn_link;
	TAILQ_ENTRY(grant) order_link; /* server->all_grants, by id */
	TAILQ_ENTRY(grant) revoke_link; /* server->revoked, briefly */
	UT_hash_handle hh;   /* server->grants, keyed by id */
};

/* Connections per uid. Owned by server->users while count > 0. */
struct user_conns {
	uid_t uid;
	uint32_t count;
	UT_hash_handle hh;
};

struct create_job;

struct server {
	uv_loop_t *loop;
	struct server_config cfg;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool socket_is_ours; /* created by us (unlink at exit), not passed by systemd */
	int listen_fd;
	uv_poll_t listen_poll;
	uv_timer_t accept_retry; /* out of fds: accepting pauses briefly */
	uv_timer_t handshakes;   /* drops connections that never said HELLO */
	uv_signal_t sig_term, sig_int;
	uv_idle_t reaper; /* once per loop iteration: closes dead connections, settles segments */
	bool stopping;    /* shutting down: grant nothing more */
	char shm_prefix[32];  /* "/shmbuf.<socket tag>.", the same for every run on a socket */
	uint64_t instance;    /* random, per run: part of every shm object name */
	uint64_t next_object; /* suffix of the next shm object name */
	uint64_t next_lease_id;
	uint64_t next_conn_id;
	uint64_t next_segment_id;
	uint64_t started_mono_ns; /* CLOCK_MONOTONIC, for uptime */
	uint64_t started_ns;  /* CLOCK_REALTIME */
	struct segment *segments; /* live segments by name */
	struct grant *grants;     /* all grants by id */
	TAILQ_HEAD(, segment) all_segments; /* every segment still in memory, by id */
	TAILQ_HEAD(, grant) all_grants;     /* every grant, by id */
	TAILQ_HEAD(, segment) unsettled;    /* segments whose leases changed this iteration */
	TAILQ_HEAD(, grant) revoked;        /* promoted, but the grant could not be sent */
	TAILQ_HEAD(, create_job) creates;   /* CREATEs under way on the thread pool */
	uint32_t queued_fds;      /* fd duplicates held in connections' outgoing queues */
	uint32_t fd_budget;       /* at most this many: a share of RLIMIT_NOFILE */
	uint64_t fd_refused_logged_ns; /* last "cannot pass a descriptor" warning */
	uint32_t n_subscribers;   /* connections that asked for events */
	uint64_t bytes;           /* sum of sizes of all segments still in memory */
	uint32_t n_segments;      /* likewise */
	uint32_t n_conns;
	struct user_conns *users;     /* connections by uid */
	TAILQ_HEAD(, conn) conns;
	TAILQ_HEAD(, conn) dead_conns;
	uint8_t *rxbuf;           /* one receive buffer: the loop handles one message at a time */
};

int server_init(struct server *srv, uv_loop_t *loop, const struct server_config *cfg);
/* Release everything: leases, connections, segments (unlinked), the socket. */
void server_deinit(struct server *srv);

/* Count a connection of uid in (+1) or out (-1); returns the count after. */
uint32_t server_user_conns(struct server *srv, uid_t uid, int delta);

/* Called by conn_fail() to get a connection closed at the next loop iteration. */
void server_schedule_reap(struct server *srv);

/* Leases left seg (or it was destroyed): reconsider its waiters once per loop
 * iteration. (A destroyed segment nothing refers to is freed at once instead.) Batching matters:
 * a client leaving with many waits, or many waits timing out together, then
 * costs one pass over the segment's queue, not one pass per wait. */
void segment_settle_later(struct server *srv, struct segment *seg);
/* Run the settles queued by segment_settle_later(). */
void server_settle_segments(struct server *srv);

/* A connection is going away: end its grants (releasing held leases, cancelling
 * waits) and wake whoever that unblocks. */
void server_drop_conn_grants(struct server *srv, struct conn *c);

/* Handle one received datagram (len bytes in srv->rxbuf; fd >= 0 if one came with it). */
void request_handle(struct conn *c, const uint8_t *buf, size_t len, int fd);

uint64_t server_now_ns(void); /* CLOCK_MONOTONIC */
uint64_t server_realtime_ns(void); /* CLOCK_REALTIME */

/* Answer req with an error (logged at debug level) or with an empty success. */
void reply_error(struct conn *c, const struct proto_msg *req, enum proto_status st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void reply_ok(struct conn *c, const struct proto_msg *req);
/* Shutting down: CREATEs not yet started on the thread pool are not started. */
void request_cancel_creates(struct server *srv);

/* The grant lease_id of c could not be passed (ETOOMANYREFS) from c's queue:
 * answer its ACQUIRE (seq) with LIMIT and end the grant. */
void request_fd_refused(struct conn *c, uint64_t lease_id, uint32_t seq);
/* True if name is a valid segment name; else answers req with INVAL. */
bool request_name_is_valid(struct conn *c, const struct proto_msg *req, const char *name);

/* introspect.c: STATUS, LIST_*, SUBSCRIBE, and events for subscribers. */
void handle_status(struct conn *c, const struct proto_msg *req);
void handle_list_segments(struct conn *c, const struct proto_msg *req);
void handle_list_leases(struct conn *c, const struct proto_msg *req);
void handle_list_clients(struct conn *c, const struct proto_msg *req);
void handle_subscribe(struct conn *c, const struct proto_msg *req);
/* Events cost one branch when nobody subscribed. by: the client that caused it. */
void event_segment(struct server *srv, enum proto_event_type type, const struct segment *seg,
		   const struct conn *by);
void event_lease(struct server *srv, enum proto_event_type type, const struct grant *g);
void event_client(struct server *srv, enum proto_event_type type, const struct conn *c);

#endif
