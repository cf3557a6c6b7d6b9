/* quota.h: accounting: the configured limits, what is in use against them (bytes,
 * segments, connections, connections per uid), and the budget of fds in flight. */
#ifndef SHMBUFD_QUOTA_H
#define SHMBUFD_QUOTA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uthash.h>

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

/* Connections of one uid. Owned by quota->users while count > 0. */
struct quota_user {
	uid_t uid;
	uint32_t count;
	UT_hash_handle hh;
};

/* Embedded in the server. */
struct quota {
	const struct server_limits *limits;
	uint64_t bytes;      /* sum of sizes of all segments still in memory, and reservations */
	uint32_t n_segments; /* likewise */
	uint32_t n_conns;
	struct quota_user *users; /* connections by uid */
};

void quota_init(struct quota *q, const struct server_limits *limits);
void quota_deinit(struct quota *q);

/* Count a connection of uid in (+1) or out (-1), in all and for its uid. */
void quota_conn(struct quota *q, uid_t uid, int delta);
/* Whether the connection limit is reached: the next one is refused. */
bool quota_conns_are_full(const struct quota *q);
/* Count a connection of uid in (+1), out (-1), or neither (0); returns the
 * count after (UINT32_MAX, over any limit, when it cannot be counted). */
uint32_t quota_user_conns(struct quota *q, uid_t uid, int delta);
/* Whether the connection of uid, already counted, is one too many (root never is). */
bool quota_user_is_over(struct quota *q, uid_t uid);

/* Whether the segment limit is reached. */
bool quota_segments_are_full(const struct quota *q);
/* Whether n more bytes would pass max_bytes. */
bool quota_bytes_would_exceed(const struct quota *q, uint64_t n);
/* A segment's bytes (or a reservation for it) went from `from` to `to`. */
void quota_bytes_change(struct quota *q, uint64_t from, uint64_t to);
/* Account a segment coming (+1) or going (-1) with size bytes. */
void quota_segment(struct quota *q, uint64_t size, int delta);

/* How many fd duplicates the outgoing queues may hold together: a share of RLIMIT_NOFILE. */
uint32_t quota_fd_budget(const struct server_limits *limits);

#endif
