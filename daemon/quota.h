/* SPDX-License-Identifier: MIT */
/* quota.h: accounting: the configured limits, what is in use against them daemon-wide
 * (bytes, segments, connections) and per user (connections, segments and bytes charged
 * to their owner, leases), and the budget of fds in flight. Root and the daemon's uid
 * are exempt from the per-user quotas and keep a reserve of connections. */
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
	uint64_t user_max_bytes;     /* per uid: bytes of the segments it owns */
	uint32_t user_max_segments;  /* per uid: segments it owns, destroyed-but-mapped included */
	uint32_t user_max_leases;    /* per uid: held plus waiting, over all its connections */
	uint32_t max_leases;         /* per connection, held plus waiting */
	uint32_t max_segment_leases; /* per segment, held plus waiting: bounds every per-segment scan */
	uint32_t max_message;        /* largest request accepted, bytes */
	uint32_t max_queue;          /* replies queued for a slow client before it is dropped */
	uint32_t handshake_timeout_s; /* a connection that has not said HELLO by then is dropped */
};

/* What one uid uses. Owned by quota->users while it uses anything; a
 * client points at its uid's (its connection keeps it alive). */
struct quota_user {
	uid_t uid;
	uint32_t count;    /* connections */
	uint32_t segments; /* owned: charged to the owner, connected or not */
	uint32_t leases;   /* held and waiting, by its connections */
	uint64_t bytes;    /* of the segments it owns, and reservations for them */
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
/* Whether the connection limit is reached for the next one: exempt (root, the
 * daemon's uid) ones may use a reserve that others may not. */
bool quota_conns_are_full(const struct quota *q, bool is_exempt);
/* Connections only root and the daemon's uid may use: a sixteenth, 1 to 16. */
uint32_t quota_conn_reserve(const struct server_limits *limits);
/* Count a connection of uid in (+1), out (-1), or neither (0); returns the
 * count after (UINT32_MAX, over any limit, when it cannot be counted). */
uint32_t quota_user_conns(struct quota *q, uid_t uid, int delta);
/* Whether the connection of uid, already counted, is one too many (an exempt one never is). */
bool quota_user_is_over(struct quota *q, uid_t uid, bool is_exempt);
/* uid's record, or NULL when it uses nothing. */
struct quota_user *quota_user_find(const struct quota *q, uid_t uid);
/* uid's record for a holder that is not a connection (orphan.c: the leases held before a
 * restart are charged to their recorded uid), made when missing (NULL: out of memory);
 * quota_user_put() once that holder holds nothing, so a record unused is forgotten. */
struct quota_user *quota_user_get(struct quota *q, uid_t uid);
void quota_user_put(struct quota *q, uid_t uid);

/* The per-user quotas: whether uid may own one more segment of n bytes, grow
 * by n bytes, hold one more lease. Exempt users are not asked. */
bool quota_user_segments_are_full(const struct quota *q, uid_t uid);
bool quota_user_bytes_would_exceed(const struct quota *q, uid_t uid, uint64_t n);
bool quota_user_leases_are_full(const struct quota_user *u, const struct server_limits *limits);
/* Whether users other than root and the daemon's uid, together, would pass the
 * daemon-wide limits less what is kept for those two: a sixteenth of the bytes
 * and of the segments, so other users' usage never refuses the administrator. */
bool quota_others_would_exceed(const struct quota *q, int segments, uint64_t n);
/* A lease of u's came (+1) or went (-1). */
void quota_lease(struct quota_user *u, int delta);
/* A segment of size bytes changes owner: its charge moves from one uid to the other. */
void quota_segment_moves(struct quota *q, uid_t from, uid_t to, uint64_t size);

/* Whether the segment limit is reached. */
bool quota_segments_are_full(const struct quota *q);
/* Whether n more bytes would pass max_bytes. */
bool quota_bytes_would_exceed(const struct quota *q, uint64_t n);
/* A segment's bytes (or a reservation for it) went from `from` to `to`; owner uid is charged. */
void quota_bytes_change(struct quota *q, uid_t uid, uint64_t from, uint64_t to);
/* Account a segment of owner uid coming (+1) or going (-1) with size bytes. */
void quota_segment(struct quota *q, uid_t uid, uint64_t size, int delta);

/* How many fd duplicates the outgoing queues may hold together: a share of RLIMIT_NOFILE. */
uint32_t quota_fd_budget(const struct server_limits *limits);

#endif
